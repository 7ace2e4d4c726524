//! The values one swept argument takes: a list, or a range, linspace or logspace.
//!
//! In a spec these are written as TOML values:
//!
//! ```toml
//! [combos]
//! n = [1, 2, 4, 8]                      # a list (ints, floats, bools or strings)
//! k = { range = [0, 10, 2] }            # 0, 2, 4, 6, 8: start, stop (excluded), step
//! x = { linspace = [0.0, 1.0, 11] }     # 11 values from 0 to 1, both included
//! h = { logspace = [-3, 0, 4] }         # 0.001, 0.01, 0.1, 1: powers of ten
//! ```

use std::fmt;

use crate::value::{Value, ValueKey, parse_complex};

/// How a swept argument's values are given.
#[derive(Debug, Clone, PartialEq)]
pub enum ComboValues {
    /// The values themselves, in order.
    List(Vec<Value>),
    /// `start, start + step, …` up to but excluding `stop`, like Python's `range` (integers if
    /// all three are integers, floats otherwise).
    Range {
        /// The first value.
        start: Value,
        /// The bound, excluded.
        stop: Value,
        /// The step, not zero.
        step: Value,
    },
    /// `num` evenly spaced values from `start` to `stop`, both included.
    Linspace {
        /// The first value.
        start: f64,
        /// The last value.
        stop: f64,
        /// How many values.
        num: u64,
    },
    /// `num` values whose base-10 logarithms are evenly spaced from `start` to `stop`.
    Logspace {
        /// The exponent of the first value.
        start: f64,
        /// The exponent of the last value.
        stop: f64,
        /// How many values.
        num: u64,
    },
}

/// Combo values that cannot be used, with what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ComboError(String);

impl ComboError {
    fn new(message: impl Into<String>) -> ComboError {
        ComboError(message.into())
    }
}

/// Longest list a range, linspace or logspace may produce.
pub const MAX_GENERATED: u64 = 1 << 32;

impl ComboValues {
    /// Reads combo values from a TOML value.
    pub fn from_toml(value: &toml::Value) -> Result<ComboValues, ComboError> {
        match value {
            toml::Value::Array(items) => Ok(ComboValues::List(
                items
                    .iter()
                    .map(scalar_from_toml)
                    .collect::<Result<_, _>>()?,
            )),
            toml::Value::Table(table) => {
                let mut keys = table.iter();
                let (Some((key, v)), None) = (keys.next(), keys.next()) else {
                    return Err(ComboError::new(
                        "expected a table with exactly one of `range`, `linspace` or `logspace`",
                    ));
                };
                let toml::Value::Array(parts) = v else {
                    return Err(ComboError::new(format!(
                        "`{key}` takes an array, for example {key} = {}",
                        example(key)
                    )));
                };
                let parts: Vec<Value> = parts
                    .iter()
                    .map(scalar_from_toml)
                    .collect::<Result<_, _>>()?;
                match key.as_str() {
                    "range" => {
                        let (start, stop, step) = match parts.as_slice() {
                            [a, b] => (a.clone(), b.clone(), Value::I64(1)),
                            [a, b, c] => (a.clone(), b.clone(), c.clone()),
                            _ => {
                                return Err(ComboError::new(
                                    "`range` takes [start, stop] or [start, stop, step]",
                                ));
                            }
                        };
                        for v in [&start, &stop, &step] {
                            number(v, "range")?;
                        }
                        Ok(ComboValues::Range { start, stop, step })
                    }
                    "linspace" | "logspace" => {
                        let [a, b, n] = parts.as_slice() else {
                            return Err(ComboError::new(format!(
                                "`{key}` takes [start, stop, num], for example {key} = {}",
                                example(key)
                            )));
                        };
                        let (start, stop) = (number(a, key)?, number(b, key)?);
                        let num = match n {
                            Value::I64(n) if *n >= 1 => *n as u64,
                            _ => {
                                return Err(ComboError::new(format!(
                                    "`{key}`'s num must be an integer of at least 1, not {n}"
                                )));
                            }
                        };
                        Ok(if key == "linspace" {
                            ComboValues::Linspace { start, stop, num }
                        } else {
                            ComboValues::Logspace { start, stop, num }
                        })
                    }
                    other => Err(ComboError::new(format!(
                        "unknown generator `{other}`: expected `range`, `linspace` or `logspace`"
                    ))),
                }
            }
            other => Err(ComboError::new(format!(
                "expected a list of values or a {{ range | linspace | logspace = [..] }} table, \
                 not the {} {other}; a single value is a constant",
                other.type_str()
            ))),
        }
    }

    /// How many values [`ComboValues::values`] gives, checked against [`MAX_GENERATED`],
    /// without making them: what a space checks its size with before it holds any.
    pub fn count(&self) -> Result<u64, ComboError> {
        match self {
            ComboValues::List(values) => Ok(values.len() as u64),
            ComboValues::Range { start, stop, step } => range_len(start, stop, step),
            ComboValues::Linspace { num, .. } | ComboValues::Logspace { num, .. } => {
                check_len(*num)?;
                Ok(*num)
            }
        }
    }

    /// The values, checked: at least one, all of one type (integers mixed with floats become
    /// floats), none twice.
    pub fn values_cow(&self) -> Result<std::borrow::Cow<'_, [Value]>, ComboError> {
        // A list of numbers of one type is its own values: no copy of a long one.
        if let ComboValues::List(list) = self {
            let one_type = |f: fn(&Value) -> bool| list.iter().all(f);
            if !list.is_empty()
                && (one_type(|v| matches!(v, Value::F64(_)))
                    || one_type(|v| matches!(v, Value::I64(_))))
            {
                check_unique(list)?;
                return Ok(std::borrow::Cow::Borrowed(list));
            }
        }
        self.values().map(std::borrow::Cow::Owned)
    }

    /// The values, expanded and checked: what [`ComboValues::values_cow`] gives, owned.
    pub fn values(&self) -> Result<Vec<Value>, ComboError> {
        let values = match self {
            ComboValues::List(values) => unify(values.clone())?,
            ComboValues::Range { start, stop, step } => range(start, stop, step)?,
            ComboValues::Linspace { start, stop, num } => {
                check_len(*num)?;
                let values: Vec<Value> = linspace(*start, *stop, *num).map(Value::F64).collect();
                if values
                    .iter()
                    .any(|v| matches!(v, Value::F64(x) if !x.is_finite()))
                {
                    return Err(ComboError::new(format!(
                        "`linspace` = [{start:?}, {stop:?}, {num}] spans more than a float \
                         holds, so its step is not a number"
                    )));
                }
                values
            }
            ComboValues::Logspace { start, stop, num } => {
                check_len(*num)?;
                let values: Vec<Value> = linspace(*start, *stop, *num)
                    .map(|e| Value::F64(10f64.powf(e)))
                    .collect();
                if values
                    .iter()
                    .any(|v| matches!(v, Value::F64(x) if !x.is_finite()))
                {
                    return Err(ComboError::new(format!(
                        "`logspace` reaches 10^{}, more than a float holds (at most about \
                         10^308)",
                        start.max(*stop)
                    )));
                }
                values
            }
        };
        if values.is_empty() {
            return Err(ComboError::new("the list of values is empty"));
        }
        check_unique(&values)?;
        Ok(values)
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "range" => "[0, 10, 2]",
        "linspace" => "[0.0, 1.0, 11]",
        "logspace" => "[-3, 0, 4]",
        _ => "[..]",
    }
}

fn number(v: &Value, what: &str) -> Result<f64, ComboError> {
    match v {
        Value::I64(i) => Ok(*i as f64),
        Value::F64(f) if f.is_finite() => Ok(*f),
        other => Err(ComboError::new(format!(
            "`{what}` takes finite numbers, not {other}"
        ))),
    }
}

fn check_len(n: u64) -> Result<(), ComboError> {
    if n > MAX_GENERATED {
        Err(ComboError::new(format!(
            "{n} values is more than the {MAX_GENERATED} one combo may have"
        )))
    } else {
        Ok(())
    }
}

/// Reads one scalar from TOML.
pub fn scalar_from_toml(value: &toml::Value) -> Result<Value, ComboError> {
    Ok(match value {
        toml::Value::Integer(i) => Value::I64(*i),
        toml::Value::Float(f) => Value::F64(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::String(s) => Value::Str(s.clone()),
        toml::Value::Table(t) if t.contains_key("re") || t.contains_key("im") => {
            Value::C128(complex_from_toml(t)?)
        }
        other => {
            return Err(ComboError::new(format!(
                "expected an integer, float, bool, string or complex {{ re = .., im = .. }}, not \
                 the {} {other}",
                other.type_str()
            )));
        }
    })
}

/// A complex number written as a table, `{ re = 1.5, im = -2.0 }`, both parts given.
fn complex_from_toml(t: &toml::Table) -> Result<crate::value::Complex64, ComboError> {
    if let Some(key) = t.keys().find(|k| !matches!(k.as_str(), "re" | "im")) {
        return Err(ComboError::new(format!(
            "a complex number is {{ re = .., im = .. }}; `{key}` is not one of its parts"
        )));
    }
    let part = |key: &str| match t.get(key) {
        None => Err(ComboError::new(format!(
            "a complex number is {{ re = .., im = .. }}, both parts given: `{key}` is missing"
        ))),
        Some(toml::Value::Float(f)) => Ok(*f),
        Some(toml::Value::Integer(i)) => exact_float(*i)
            .ok_or_else(|| ComboError::new(format!("`{key}` = {i} has no exact float"))),
        Some(other) => Err(ComboError::new(format!(
            "a complex number's `{key}` is a number, not the {} {other}",
            other.type_str()
        ))),
    };
    Ok(crate::value::Complex64::new(part("re")?, part("im")?))
}

/// `i` as a float, if the float is exactly `i` (every integer up to 2^53 is; 2^53 + 1 is not).
pub(crate) fn exact_float(i: i64) -> Option<f64> {
    let f = i as f64;
    (f.abs() < 9.223_372_036_854_776e18 && f as i64 == i).then_some(f)
}

fn unify(values: Vec<Value>) -> Result<Vec<Value>, ComboError> {
    // In a list of complex numbers, real numbers are complex numbers with no imaginary part,
    // and text is a complex number written as Python writes one (`"1.5-2j"`).
    let complex_text = |v: &Value| matches!(v, Value::Str(t) if parse_complex(t).is_some());
    let number = |v: &Value| matches!(v, Value::F64(_) | Value::I64(_));
    let any_complex = values.iter().any(|v| matches!(v, Value::C128(_)))
        || values.iter().any(complex_text) && values.iter().any(number);
    if any_complex
        && values
            .iter()
            .all(|v| matches!(v, Value::F64(_) | Value::I64(_) | Value::C128(_)) || complex_text(v))
    {
        return values
            .into_iter()
            .map(|v| match v {
                Value::I64(i) => exact_float(i)
                    .map(|re| Value::C128(crate::value::Complex64::new(re, 0.0)))
                    .ok_or_else(|| ComboError::new(format!("{i} has no exact float"))),
                Value::F64(re) => Ok(Value::C128(crate::value::Complex64::new(re, 0.0))),
                Value::Str(t) => Ok(Value::C128(parse_complex(&t).expect("checked above"))),
                v => Ok(v),
            })
            .collect();
    }
    let has_float = values.iter().any(|v| matches!(v, Value::F64(_)));
    let numeric = values
        .iter()
        .all(|v| matches!(v, Value::F64(_) | Value::I64(_)));
    if has_float && numeric {
        return values
            .into_iter()
            .map(|v| match v {
                Value::I64(i) => exact_float(i).map(Value::F64).ok_or_else(|| {
                    ComboError::new(format!(
                        "{i} has no exact float, and the list holds floats: write it as a float \
                         ({:?}) if that is meant",
                        i as f64
                    ))
                }),
                v => Ok(v),
            })
            .collect();
    }
    if let Some(first) = values.first()
        && let Some(other) = values.iter().find(|v| v.ty() != first.ty())
    {
        return Err(ComboError::new(format!(
            "values of mixed types: {first} is {} but {other} is {}",
            first.ty(),
            other.ty()
        )));
    }
    Ok(values)
}

pub(crate) fn check_unique(values: &[Value]) -> Result<(), ComboError> {
    let twice = |i: usize, j: usize| {
        let (i, j) = (i.min(j), i.max(j));
        Err(ComboError::new(format!(
            "the value {} appears twice (at positions {i} and {j}); each value must be unique",
            values[i]
        )))
    };
    // Numbers of one type (as long generated or packed lists are) sort as 8-byte keys, found
    // again only when two are equal: no copy of the values is made.
    let number = |v: &Value| match v {
        Value::I64(i) => Some((0u8, *i as u64)),
        Value::F64(f) => Some((1, crate::value::float_key(*f))),
        _ => None,
    };
    if let Some(kind) = values.first().and_then(number).map(|(k, _)| k)
        && values
            .iter()
            .all(|v| number(v).is_some_and(|(k, _)| k == kind))
    {
        let key = |v: &Value| number(v).map_or(0, |(_, key)| key);
        let mut keys: Vec<u64> = values.iter().map(key).collect();
        keys.sort_unstable();
        if let Some(pair) = keys.windows(2).find(|p| p[0] == p[1]) {
            let mut at = values.iter().enumerate().filter(|(_, v)| key(v) == pair[0]);
            let (i, j) = (at.next().map_or(0, |p| p.0), at.next().map_or(0, |p| p.0));
            return twice(i, j);
        }
        return Ok(());
    }
    // Sorting keys finds duplicates in O(n log n) for large generated lists.
    let mut keys: Vec<(ValueKey, usize)> = values.iter().map(ValueKey::of).zip(0..).collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for pair in keys.windows(2) {
        if pair[0].0 == pair[1].0 {
            return twice(pair[0].1, pair[1].1);
        }
    }
    Ok(())
}

/// How many values `range` = [start, stop, step] gives, checked against [`MAX_GENERATED`],
/// without making them.
fn range_len(start: &Value, stop: &Value, step: &Value) -> Result<u64, ComboError> {
    if let (Value::I64(a), Value::I64(b), Value::I64(s)) = (start, stop, step) {
        let (a, b, s) = (*a as i128, *b as i128, *s as i128);
        if s == 0 {
            return Err(ComboError::new("`range` step must not be zero"));
        }
        let n = ((b - a) + s - s.signum()) / s;
        if n <= 0 {
            return Err(ComboError::new(format!(
                "`range` = [{a}, {b}, {s}] produces no values"
            )));
        }
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        check_len(n)?;
        return Ok(n);
    }
    let (a, b, s) = (
        number(start, "range")?,
        number(stop, "range")?,
        number(step, "range")?,
    );
    if s == 0.0 {
        return Err(ComboError::new("`range` step must not be zero"));
    }
    let n = ((b - a) / s).ceil();
    if n.is_nan() || n < 1.0 {
        return Err(ComboError::new(format!(
            "`range` = [{a:?}, {b:?}, {s:?}] produces no values"
        )));
    }
    // A float past u64's range saturates, and is refused as too many.
    check_len(n as u64)?;
    Ok(n as u64)
}

fn range(start: &Value, stop: &Value, step: &Value) -> Result<Vec<Value>, ComboError> {
    let n = range_len(start, stop, step)?;
    if let (Value::I64(a), Value::I64(_), Value::I64(s)) = (start, stop, step) {
        let (a, s) = (i128::from(*a), i128::from(*s));
        return Ok((0..i128::from(n))
            .map(|k| Value::I64((a + k * s) as i64))
            .collect());
    }
    let (a, s) = (number(start, "range")?, number(step, "range")?);
    Ok((0..n).map(|k| Value::F64(a + k as f64 * s)).collect())
}

/// `num` evenly spaced values from `start` to `stop` inclusive, computed as numpy does.
pub fn linspace(start: f64, stop: f64, num: u64) -> impl Iterator<Item = f64> {
    let div = num.saturating_sub(1).max(1) as f64;
    let step = (stop - start) / div;
    (0..num).map(move |k| {
        if num > 1 && k == num - 1 {
            stop
        } else {
            start + k as f64 * step
        }
    })
}

impl fmt::Display for ComboValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComboValues::List(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            ComboValues::Range { start, stop, step } => {
                write!(f, "{{ range = [{start}, {stop}, {step}] }}")
            }
            ComboValues::Linspace { start, stop, num } => {
                write!(f, "{{ linspace = [{start:?}, {stop:?}, {num}] }}")
            }
            ComboValues::Logspace { start, stop, num } => {
                write!(f, "{{ logspace = [{start:?}, {stop:?}, {num}] }}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Value>, ComboError> {
        let doc: toml::Table = toml::from_str(&format!("v = {text}")).unwrap();
        ComboValues::from_toml(&doc["v"])?.values()
    }

    proptest::proptest! {
        #[test]
        fn a_combo_counts_its_values_without_making_them(
            a in -50i64..50, b in -50i64..50, s in -7i64..7,
            fa in -5.0f64..5.0, fb in -5.0f64..5.0,
            // Steps of at least 0.01 (or none): a few thousand values at most, all apart.
            fs in proptest::prop_oneof![
                -1.0f64..-0.01, 0.01f64..1.0, proptest::strategy::Just(0.0)
            ],
        ) {
            let ranges = [
                ComboValues::Range {
                    start: Value::I64(a), stop: Value::I64(b), step: Value::I64(s),
                },
                ComboValues::Range {
                    start: Value::F64(fa), stop: Value::F64(fb), step: Value::F64(fs),
                },
                ComboValues::Range {
                    start: Value::I64(a), stop: Value::F64(fb), step: Value::I64(s),
                },
            ];
            for combo in ranges {
                match (combo.count(), combo.values()) {
                    (Ok(n), Ok(values)) => {
                        proptest::prop_assert_eq!(n, values.len() as u64);
                        // Integers only when all three are.
                        let ints = matches!(
                            &combo,
                            ComboValues::Range { stop: Value::I64(_), start: Value::I64(_), .. }
                        );
                        proptest::prop_assert!(
                            values.iter().all(|v| matches!(v, Value::I64(_)) == ints)
                        );
                    }
                    (Err(a), Err(b)) => proptest::prop_assert_eq!(a.to_string(), b.to_string()),
                    (len, values) => proptest::prop_assert!(false, "{len:?} vs {values:?}"),
                }
            }
        }
    }

    #[test]
    fn counting_a_combo_past_its_bound_is_refused_at_once() {
        let combo = ComboValues::Range {
            start: Value::I64(i64::MIN),
            stop: Value::I64(i64::MAX),
            step: Value::I64(1),
        };
        assert!(combo.count().unwrap_err().to_string().contains("more than"));
        let combo = ComboValues::Linspace {
            start: 0.0,
            stop: 1.0,
            num: u64::MAX,
        };
        assert!(combo.count().is_err());
    }

    fn floats(v: &[Value]) -> Vec<f64> {
        v.iter()
            .map(|x| match x {
                Value::F64(f) => *f,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn lists_keep_order_and_promote_ints_among_floats() {
        assert_eq!(
            parse("[3, 1, 2]").unwrap(),
            vec![Value::I64(3), Value::I64(1), Value::I64(2)]
        );
        assert_eq!(floats(&parse("[1, 2.5]").unwrap()), vec![1.0, 2.5]);
        assert_eq!(
            parse(r#"["a", "b"]"#).unwrap(),
            vec![Value::Str("a".into()), Value::Str("b".into())]
        );
    }

    #[test]
    fn complex_lists_take_tables_text_and_real_numbers() {
        let c = crate::value::Complex64::new;
        assert_eq!(
            parse(r#"[{ re = 1.5, im = -2 }, "0.5+1j", 3, 0.25, { re = 0, im = 1.0 }]"#).unwrap(),
            vec![
                Value::C128(c(1.5, -2.0)),
                Value::C128(c(0.5, 1.0)),
                Value::C128(c(3.0, 0.0)),
                Value::C128(c(0.25, 0.0)),
                Value::C128(c(0.0, 1.0)),
            ]
        );
        assert_eq!(
            parse(r#"["2j", 1]"#).unwrap(),
            vec![Value::C128(c(0.0, 2.0)), Value::C128(c(1.0, 0.0))]
        );
        // A table of one part is refused: both are given.
        let err = parse(r#"[{ re = 1 }]"#).unwrap_err().to_string();
        assert!(err.contains("both parts given: `im` is missing"), "{err}");
        // Text alone stays text: the argument's type decides (a str argument keeps it).
        assert_eq!(parse(r#"["1j"]"#).unwrap(), vec![Value::Str("1j".into())]);
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert!(
            err(r#"[{ re = 1.0, imag = 2.0 }]"#).contains("`imag` is not one of its parts"),
            "{}",
            err(r#"[{ re = 1.0, imag = 2.0 }]"#)
        );
        assert!(err(r#"[{ re = "1" }]"#).contains("`re` is a number"));
        assert!(err(r#"[{ re = 1.0, im = 0.0 }, "abc"]"#).contains("mixed types"));
    }

    #[test]
    fn ranges_follow_python() {
        assert_eq!(
            parse("{ range = [0, 10, 3] }").unwrap(),
            [0, 3, 6, 9].map(Value::I64).to_vec()
        );
        assert_eq!(
            parse("{ range = [5, 0, -2] }").unwrap(),
            [5, 3, 1].map(Value::I64).to_vec()
        );
        assert_eq!(parse("{ range = [0, 3] }").unwrap().len(), 3);
        assert_eq!(
            floats(&parse("{ range = [0.0, 1.0, 0.25] }").unwrap()),
            vec![0.0, 0.25, 0.5, 0.75]
        );
    }

    #[test]
    fn linspace_and_logspace_follow_numpy() {
        assert_eq!(
            floats(&parse("{ linspace = [0, 1, 5] }").unwrap()),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(
            floats(&parse("{ linspace = [2, 3, 1] }").unwrap()),
            vec![2.0]
        );
        let v = floats(&parse("{ logspace = [-2, 1, 4] }").unwrap());
        assert_eq!(v, vec![0.01, 0.1, 1.0, 10.0]);
    }

    #[test]
    fn bad_values_say_why() {
        let err = |t: &str| parse(t).unwrap_err().to_string();
        assert_eq!(err("[]"), "the list of values is empty");
        assert_eq!(
            err("[1, 2, 1]"),
            "the value 1 appears twice (at positions 0 and 2); each value must be unique"
        );
        assert_eq!(
            err("{ range = [0, 10, 0] }"),
            "`range` step must not be zero"
        );
        assert_eq!(
            err("{ range = [10, 0, 1] }"),
            "`range` = [10, 0, 1] produces no values"
        );
        assert_eq!(
            err("{ linspace = [0, 1, 0] }"),
            "`linspace`'s num must be an integer of at least 1, not 0"
        );
        assert!(err("{ linspace = [0, 0, 3] }").contains("appears twice"));
        assert!(err("{ steps = [1] }").starts_with("unknown generator `steps`"));
        assert!(err("[1, \"a\"]").starts_with("values of mixed types"));
        assert!(err("3").contains("a single value is a constant"));
        assert!(err("{ range = 3 }").starts_with("`range` takes an array"));
    }
}
