//! How outputs are encoded: compression (Zarr chunks and Parquet pages alike) and Zarr's
//! sharding.

/// The zstd level of compressed chunks unless asked otherwise: zarr-python's default.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How a Zarr store's chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not at all.
    None,
    /// With zstd at this level (1 fastest to 22 smallest; 3 is the default).
    Zstd(i32),
}

impl Default for Compression {
    fn default() -> Self {
        Compression::Zstd(DEFAULT_ZSTD_LEVEL)
    }
}

impl std::str::FromStr for Compression {
    type Err = String;

    /// `none`, `zstd`, `zstd:LEVEL` or a bare level.
    fn from_str(s: &str) -> Result<Compression, String> {
        let level = |t: &str| {
            t.parse::<i32>()
                .ok()
                .filter(|l| (1..=22).contains(l))
                .map(Compression::Zstd)
                .ok_or_else(|| format!("`{t}` is not a zstd level from 1 to 22"))
        };
        match s.trim() {
            "none" | "0" => Ok(Compression::None),
            "zstd" => Ok(Compression::default()),
            t => match t.strip_prefix("zstd:") {
                Some(l) => level(l),
                None => level(t).map_err(|_| {
                    format!("`{t}` is not a compression: use none, zstd, zstd:LEVEL or a level")
                }),
            },
        }
    }
}

/// How a dataset is encoded on disk, where its format leaves a choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encoding {
    /// How Zarr chunks and Parquet pages are compressed.
    pub compression: Compression,
    /// Whether a Zarr array of many chunks stores them in shards: chunks of at most 1 MiB,
    /// up to 64 of them a file, so a large store is few files that still read in small pieces.
    pub shards: bool,
}

impl From<Compression> for Encoding {
    fn from(compression: Compression) -> Encoding {
        Encoding {
            compression,
            shards: false,
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Zstd(level) => write!(f, "zstd:{level}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressions_parse_and_print() {
        assert_eq!("none".parse(), Ok(Compression::None));
        assert_eq!("zstd".parse(), Ok(Compression::Zstd(3)));
        assert_eq!("zstd:9".parse(), Ok(Compression::Zstd(9)));
        assert_eq!("5".parse(), Ok(Compression::Zstd(5)));
        assert!(
            "zstd:30"
                .parse::<Compression>()
                .unwrap_err()
                .contains("1 to 22")
        );
        assert!(
            "lz4"
                .parse::<Compression>()
                .unwrap_err()
                .contains("not a compression")
        );
        assert_eq!(Compression::Zstd(9).to_string(), "zstd:9");
    }
}
