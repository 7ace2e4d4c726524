//! Sizes and durations as a spec and the command line write them: `256MiB`, `90s`, `1.5h`.

use std::time::Duration;

/// What a size or a duration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A number of bytes.
    Size,
    /// A span of time.
    Duration,
}

/// A size or duration that could not be read, naming the text and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// No number where one was expected.
    #[error("expected {} not `{text}`", match quantity {
        Quantity::Size => "a size such as 256MiB,",
        Quantity::Duration => "a duration such as 60s,",
    })]
    NotANumber {
        /// The text given.
        text: String,
        /// What it should have been.
        quantity: Quantity,
    },
    /// A unit that is not one of those taken.
    #[error("unknown {} unit in `{text}`: use {}", match quantity {
        Quantity::Size => "size",
        Quantity::Duration => "duration",
    }, match quantity {
        Quantity::Size => "B, KiB, MiB or GiB",
        Quantity::Duration => "ms, s, m or h",
    })]
    UnknownUnit {
        /// The text given.
        text: String,
        /// What it should have been.
        quantity: Quantity,
    },
    /// A number no size or deadline can be: zero, negative, or too large.
    #[error("`{text}` is not a usable {}", match quantity {
        Quantity::Size => "size",
        Quantity::Duration => "duration",
    })]
    Unusable {
        /// The text given.
        text: String,
        /// What it should have been.
        quantity: Quantity,
    },
}

/// The number at the start of `text` and the unit after it.
fn split(text: &str, quantity: Quantity) -> Result<(f64, String), UnitError> {
    let t = text.trim();
    let at = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(at);
    let num = num.parse().map_err(|_| UnitError::NotANumber {
        text: text.to_string(),
        quantity,
    })?;
    Ok((num, unit.trim().to_string()))
}

/// Parses a size: a number of bytes with an optional unit (`B`, `KiB`, `MiB`, `GiB`, `KB`,
/// `MB`, `GB`), as in `256MiB`.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let quantity = Quantity::Size;
    let (num, unit) = split(text, quantity)?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(UnitError::UnknownUnit {
                text: text.to_string(),
                quantity,
            });
        }
    };
    let bytes = num * mult as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(UnitError::Unusable {
            text: text.to_string(),
            quantity,
        });
    }
    Ok(bytes as u64)
}

/// Parses a duration: a number with a unit (`ms`, `s`, `m`, `h`), as in `90s` or `1.5h`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let quantity = Quantity::Duration;
    let (num, unit) = split(text, quantity)?;
    let secs = match unit.as_str() {
        "ms" => num / 1000.0,
        "s" | "" => num,
        "m" | "min" => num * 60.0,
        "h" => num * 3600.0,
        _ => {
            return Err(UnitError::UnknownUnit {
                text: text.to_string(),
                quantity,
            });
        }
    };
    if !(secs > 0.0 && secs < 1e9) {
        return Err(UnitError::Unusable {
            text: text.to_string(),
            quantity,
        });
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_was_expected() {
        assert_eq!(
            parse_size("big").unwrap_err().to_string(),
            "expected a size such as 256MiB, not `big`"
        );
        assert_eq!(
            parse_size("12 parsecs").unwrap_err().to_string(),
            "unknown size unit in `12 parsecs`: use B, KiB, MiB or GiB"
        );
        assert_eq!(
            parse_size("0.1B").unwrap_err().to_string(),
            "`0.1B` is not a usable size"
        );
        assert_eq!(
            parse_duration("soon").unwrap_err().to_string(),
            "expected a duration such as 60s, not `soon`"
        );
        assert_eq!(
            parse_duration("3 days").unwrap_err().to_string(),
            "unknown duration unit in `3 days`: use ms, s, m or h"
        );
        assert_eq!(
            parse_duration("0s").unwrap_err().to_string(),
            "`0s` is not a usable duration"
        );
    }
}
