//! Values and typed columns: what crosses between the space, a function and the dataset.

use std::fmt;

use xyz_abi::ScalarType;

pub use num_complex::Complex64;

/// One argument or output value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A 64-bit signed integer.
    I64(i64),
    /// A 64-bit float.
    F64(f64),
    /// A complex number of two 64-bit floats.
    C128(Complex64),
    /// A boolean.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
}

impl Value {
    /// The value's type.
    pub fn ty(&self) -> ScalarType {
        match self {
            Value::I64(_) => ScalarType::I64,
            Value::F64(_) => ScalarType::F64,
            Value::C128(_) => ScalarType::C128,
            Value::Bool(_) => ScalarType::Bool,
            Value::Str(_) => ScalarType::Str,
        }
    }

    /// Whether two values are the same, with floats compared bit for bit (so NaN equals NaN).
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits() || a == b,
            (Value::C128(a), Value::C128(b)) => {
                Value::F64(a.re).same(&Value::F64(b.re)) && Value::F64(a.im).same(&Value::F64(b.im))
            }
            (a, b) => a == b,
        }
    }

    /// Whether two values are identical: floats bit for bit, so -0.0 is not 0.0.
    pub fn identical(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::F64(a), Value::F64(b)) => a.to_bits() == b.to_bits(),
            (Value::C128(a), Value::C128(b)) => {
                a.re.to_bits() == b.re.to_bits() && a.im.to_bits() == b.im.to_bits()
            }
            (a, b) => a == b,
        }
    }

    /// The value as TOML: a complex number as its text, `"(1.5-2j)"` (see [`parse_complex`]),
    /// which a `c128` argument reads back exactly. Not as a table, which TOML would move after
    /// the plain keys of its table, out of the order of the dims.
    pub fn to_toml(&self) -> toml::Value {
        match self {
            Value::I64(i) => toml::Value::Integer(*i),
            Value::F64(f) => toml::Value::Float(*f),
            Value::C128(_) => toml::Value::String(self.to_string()),
            Value::Bool(b) => toml::Value::Boolean(*b),
            Value::Str(s) => toml::Value::String(s.clone()),
        }
    }

    /// The value as JSON: a complex number as `{"re": .., "im": ..}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::I64(v) => (*v).into(),
            Value::F64(v) => serde_json::Number::from_f64(*v)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::C128(v) => serde_json::json!({
                "re": Value::F64(v.re).to_json(),
                "im": Value::F64(v.im).to_json(),
            }),
            Value::Bool(v) => (*v).into(),
            Value::Str(v) => v.clone().into(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v:?}"),
            Value::C128(v) => fmt_complex(f, *v),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(v) => write!(f, "{v:?}"),
        }
    }
}

/// Writes `z` as Python writes a complex number, `(1.5-2j)`: the parts as Rust's `{:?}`
/// writes floats, without a trailing `.0`, which [`parse_complex`] reads back.
fn fmt_complex(f: &mut fmt::Formatter<'_>, z: Complex64) -> fmt::Result {
    fn part(x: f64) -> String {
        let s = format!("{x:?}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
    let im = part(z.im);
    let sign = if im.starts_with('-') { "" } else { "+" };
    write!(f, "({}{sign}{im}j)", part(z.re))
}

/// Reads a complex number written as Python and numpy write them: `1.5-2j`, `(1.5-2j)`,
/// `2j`, `-0.5`, `1e-3+4.5e2j`, `nan+infj`. `None` if `text` is not one (`1+2i` is not: Python
/// writes `j`).
pub fn parse_complex(text: &str) -> Option<Complex64> {
    let t = text.trim();
    let t = t
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or(t)
        .trim();
    let real = |s: &str| -> Option<f64> {
        match s.to_ascii_lowercase().trim_start_matches('+') {
            "" => None,
            "nan" => Some(f64::NAN),
            "-nan" => Some(-f64::NAN),
            "inf" | "infinity" => Some(f64::INFINITY),
            "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
            v if v
                .bytes()
                .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b)) =>
            {
                v.parse().ok()
            }
            _ => None,
        }
    };
    let Some(body) = t.strip_suffix(['j', 'J']) else {
        return real(t).map(|re| Complex64::new(re, 0.0));
    };
    // The imaginary part starts at the last sign that is not the first character nor follows
    // an exponent's `e`.
    let bytes = body.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&k| matches!(bytes[k], b'+' | b'-') && !matches!(bytes[k - 1], b'e' | b'E'));
    let (re, im) = match split {
        Some(k) => (real(&body[..k])?, &body[k..]),
        None => (0.0, body),
    };
    let im = match im {
        "" | "+" => 1.0,
        "-" => -1.0,
        im => real(im)?,
    };
    Some(Complex64::new(re, im))
}

/// The missing value stored for integers.
pub const MISSING_I64: i64 = i64::MIN;

/// The missing value stored for complex numbers: both parts NaN.
pub const MISSING_C128: Complex64 = Complex64::new(f64::NAN, f64::NAN);

/// A column of values of one type.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// 64-bit integers.
    I64(Vec<i64>),
    /// 64-bit floats.
    F64(Vec<f64>),
    /// Complex numbers of two 64-bit floats.
    C128(Vec<Complex64>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Strings.
    Str(Vec<String>),
}

impl Column {
    /// An empty column of type `ty`.
    pub fn new(ty: ScalarType) -> Column {
        match ty {
            ScalarType::I64 => Column::I64(Vec::new()),
            ScalarType::F64 => Column::F64(Vec::new()),
            ScalarType::C128 => Column::C128(Vec::new()),
            ScalarType::Bool => Column::Bool(Vec::new()),
            ScalarType::Str => Column::Str(Vec::new()),
        }
    }

    /// The column's type.
    pub fn ty(&self) -> ScalarType {
        match self {
            Column::I64(_) => ScalarType::I64,
            Column::F64(_) => ScalarType::F64,
            Column::C128(_) => ScalarType::C128,
            Column::Bool(_) => ScalarType::Bool,
            Column::Str(_) => ScalarType::Str,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::I64(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::C128(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Str(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every value, keeping the allocation.
    pub fn clear(&mut self) {
        match self {
            Column::I64(v) => v.clear(),
            Column::F64(v) => v.clear(),
            Column::C128(v) => v.clear(),
            Column::Bool(v) => v.clear(),
            Column::Str(v) => v.clear(),
        }
    }

    /// Sets the length to `n`, filling new places with zero, false or empty strings.
    pub fn resize(&mut self, n: usize) {
        match self {
            Column::I64(v) => v.resize(n, 0),
            Column::F64(v) => v.resize(n, 0.0),
            Column::C128(v) => v.resize(n, Complex64::new(0.0, 0.0)),
            Column::Bool(v) => v.resize(n, false),
            Column::Str(v) => v.resize(n, String::new()),
        }
    }

    /// Appends `value`, which must be of the column's type.
    ///
    /// # Panics
    /// If the type differs.
    pub fn push(&mut self, value: &Value) {
        match (self, value) {
            (Column::I64(c), Value::I64(v)) => c.push(*v),
            (Column::F64(c), Value::F64(v)) => c.push(*v),
            (Column::C128(c), Value::C128(v)) => c.push(*v),
            (Column::Bool(c), Value::Bool(v)) => c.push(*v),
            (Column::Str(c), Value::Str(v)) => c.push(v.clone()),
            (c, v) => panic!("a {} value pushed to a {} column", v.ty(), c.ty()),
        }
    }

    /// Appends `n` copies of `value`, which must have the column's type.
    pub fn push_n(&mut self, value: &Value, n: usize) {
        match (self, value) {
            (Column::I64(c), Value::I64(v)) => c.resize(c.len() + n, *v),
            (Column::F64(c), Value::F64(v)) => c.resize(c.len() + n, *v),
            (Column::C128(c), Value::C128(v)) => c.resize(c.len() + n, *v),
            (Column::Bool(c), Value::Bool(v)) => c.resize(c.len() + n, *v),
            (Column::Str(c), Value::Str(v)) => c.extend(std::iter::repeat_n(v.clone(), n)),
            (c, v) => panic!("a {} value pushed to a {} column", v.ty(), c.ty()),
        }
    }

    /// Reserves room for `n` more values.
    pub fn reserve(&mut self, n: usize) {
        match self {
            Column::I64(v) => v.reserve(n),
            Column::F64(v) => v.reserve(n),
            Column::C128(v) => v.reserve(n),
            Column::Bool(v) => v.reserve(n),
            Column::Str(v) => v.reserve(n),
        }
    }

    /// Appends `other[i]`, which must have the same type.
    pub fn push_from(&mut self, other: &Column, i: usize) {
        match (self, other) {
            (Column::I64(a), Column::I64(b)) => a.push(b[i]),
            (Column::F64(a), Column::F64(b)) => a.push(b[i]),
            (Column::C128(a), Column::C128(b)) => a.push(b[i]),
            (Column::Bool(a), Column::Bool(b)) => a.push(b[i]),
            (Column::Str(a), Column::Str(b)) => a.push(b[i].clone()),
            (a, b) => panic!("a {} value pushed to a {} column", b.ty(), a.ty()),
        }
    }

    /// `len` missing values of type `ty`: NaN (both parts NaN for a complex value),
    /// `i64::MIN`, `false` or `""` (see [`crate::output`] for how each is stored).
    pub fn missing(ty: ScalarType, len: usize) -> Column {
        match ty {
            ScalarType::F64 => Column::F64(vec![f64::NAN; len]),
            ScalarType::C128 => Column::C128(vec![MISSING_C128; len]),
            ScalarType::I64 => Column::I64(vec![MISSING_I64; len]),
            ScalarType::Bool => Column::Bool(vec![false; len]),
            ScalarType::Str => Column::Str(vec![String::new(); len]),
        }
    }

    /// Grows or shrinks the column to `n` values, new ones missing.
    pub(crate) fn resize_missing(&mut self, n: usize) {
        match self {
            Column::F64(c) => c.resize(n, f64::NAN),
            Column::C128(c) => c.resize(n, MISSING_C128),
            Column::I64(c) => c.resize(n, MISSING_I64),
            Column::Bool(c) => c.resize(n, false),
            Column::Str(c) => c.resize(n, String::new()),
        }
    }

    /// Moves `len` values from `from` to `to`, leaving missing values at `from`.
    pub(crate) fn move_run(&mut self, from: usize, to: usize, len: usize) {
        match self {
            Column::F64(c) => {
                c.copy_within(from..from + len, to);
                c[from..from + len].fill(f64::NAN);
            }
            Column::C128(c) => {
                c.copy_within(from..from + len, to);
                c[from..from + len].fill(MISSING_C128);
            }
            Column::I64(c) => {
                c.copy_within(from..from + len, to);
                c[from..from + len].fill(MISSING_I64);
            }
            Column::Bool(c) => {
                c.copy_within(from..from + len, to);
                c[from..from + len].fill(false);
            }
            Column::Str(c) => {
                for k in 0..len {
                    c[to + k] = std::mem::take(&mut c[from + k]);
                }
            }
        }
    }

    /// Overwrites the value at `i` with `v`, which must have the column's type.
    pub(crate) fn set(&mut self, i: usize, v: &Value) {
        match (self, v) {
            (Column::F64(c), Value::F64(x)) => c[i] = *x,
            (Column::C128(c), Value::C128(x)) => c[i] = *x,
            (Column::I64(c), Value::I64(x)) => c[i] = *x,
            (Column::Bool(c), Value::Bool(x)) => c[i] = *x,
            (Column::Str(c), Value::Str(x)) => c[i].clone_from(x),
            (c, v) => unreachable!("a {} value in a {} column", v.ty(), c.ty()),
        }
    }

    /// Overwrites `len` values from `at` with those of `src` from `from`; `src` must have the
    /// same type.
    pub fn copy_run(&mut self, at: usize, src: &Column, from: usize, len: usize) {
        match (self, src) {
            (Column::F64(d), Column::F64(s)) => {
                d[at..at + len].copy_from_slice(&s[from..from + len])
            }
            (Column::C128(d), Column::C128(s)) => {
                d[at..at + len].copy_from_slice(&s[from..from + len])
            }
            (Column::I64(d), Column::I64(s)) => {
                d[at..at + len].copy_from_slice(&s[from..from + len])
            }
            (Column::Bool(d), Column::Bool(s)) => {
                d[at..at + len].copy_from_slice(&s[from..from + len])
            }
            (Column::Str(d), Column::Str(s)) => {
                d[at..at + len].clone_from_slice(&s[from..from + len])
            }
            (d, s) => unreachable!("column types agree: {} vs {}", d.ty(), s.ty()),
        }
    }

    /// Appends the values of `other`, which must have the same type.
    pub fn extend_from(&mut self, other: &Column) {
        match (self, other) {
            (Column::I64(a), Column::I64(b)) => a.extend_from_slice(b),
            (Column::F64(a), Column::F64(b)) => a.extend_from_slice(b),
            (Column::C128(a), Column::C128(b)) => a.extend_from_slice(b),
            (Column::Bool(a), Column::Bool(b)) => a.extend_from_slice(b),
            (Column::Str(a), Column::Str(b)) => a.extend_from_slice(b),
            (a, b) => panic!("a {} column extended with a {} column", a.ty(), b.ty()),
        }
    }

    /// The value at `i`.
    pub fn get(&self, i: usize) -> Value {
        match self {
            Column::I64(v) => Value::I64(v[i]),
            Column::F64(v) => Value::F64(v[i]),
            Column::C128(v) => Value::C128(v[i]),
            Column::Bool(v) => Value::Bool(v[i]),
            Column::Str(v) => Value::Str(v[i].clone()),
        }
    }
}

/// A value as a key for hashing, sorting and comparing coordinates: floats by their bits,
/// with -0.0 the same as 0.0 (they are one coordinate).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ValueKey {
    Int(i64),
    Float(u64),
    Complex(u64, u64),
    Bool(bool),
    Str(String),
}

impl ValueKey {
    pub(crate) fn of(v: &Value) -> ValueKey {
        match v {
            Value::I64(i) => ValueKey::Int(*i),
            Value::F64(f) => ValueKey::Float(float_key(*f)),
            Value::C128(z) => ValueKey::Complex(float_key(z.re), float_key(z.im)),
            Value::Bool(b) => ValueKey::Bool(*b),
            Value::Str(s) => ValueKey::Str(s.clone()),
        }
    }
}

/// The key of a float among others: its bits, both zeros one key.
pub(crate) fn float_key(f: f64) -> u64 {
    if f == 0.0 { 0 } else { f.to_bits() }
}

/// The argument columns of one chunk of cases, one per argument of the signature.
#[derive(Debug, Clone, Default)]
pub struct Columns {
    /// Number of cases.
    pub n: usize,
    /// One column of `n` values per argument.
    pub cols: Vec<Column>,
}

/// Why a case failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// The function returned an error for this case.
    Error,
    /// The function panicked.
    Panic,
    /// The case ran past its deadline.
    Deadline,
    /// The case hit the memory limit.
    Memory,
    /// The function trapped for another reason (an out-of-bounds access, a crash).
    Trap,
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureKind::Error => "error",
            FailureKind::Panic => "panic",
            FailureKind::Deadline => "deadline",
            FailureKind::Memory => "memory",
            FailureKind::Trap => "trap",
        })
    }
}

/// What one evaluation of a chunk produced.
#[derive(Debug, Clone, Default)]
pub struct EvalOutput {
    /// Number of cases.
    pub n: usize,
    /// One column per output: `n * elements` values, case-major.
    pub cols: Vec<Column>,
    /// For each failed case, its index in the chunk and its message.
    pub errors: Vec<(usize, String)>,
}

impl EvalOutput {
    /// Clears the output and shapes it for `n` cases of a function with outputs `outputs`.
    pub fn reset(&mut self, outputs: &[xyz_abi::Output], n: usize) {
        self.n = n;
        self.errors.clear();
        if self.cols.len() != outputs.len() {
            self.cols = outputs.iter().map(|o| Column::new(o.ty)).collect();
        }
        for (col, out) in self.cols.iter_mut().zip(outputs) {
            col.clear();
            col.resize(n * out.elements());
        }
    }

    /// Fails the cases `invalid` of string output `output` for not being UTF-8, unless they
    /// failed already.
    pub fn fail_invalid_utf8(&mut self, output: &str, invalid: &[usize]) {
        for &i in invalid {
            if !self.errors.iter().any(|(e, _)| *e == i) {
                self.errors
                    .push((i, format!("output `{output}` is not valid UTF-8")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complex_text_round_trips() {
        for z in [
            Complex64::new(1.5, -2.0),
            Complex64::new(0.0, 1.0),
            Complex64::new(-0.5, 0.0),
            Complex64::new(1e-300, 4.5e200),
            Complex64::new(f64::INFINITY, f64::NEG_INFINITY),
        ] {
            let text = Value::C128(z).to_string();
            assert_eq!(parse_complex(&text), Some(z), "{text}");
        }
        assert_eq!(
            Value::C128(Complex64::new(1.5, -2.0)).to_string(),
            "(1.5-2j)"
        );
        let nan = parse_complex(&Value::C128(MISSING_C128).to_string()).unwrap();
        assert!(nan.re.is_nan() && nan.im.is_nan());
    }

    #[test]
    fn complex_text_in_python_forms() {
        let c = Complex64::new;
        assert_eq!(parse_complex("1+2j"), Some(c(1.0, 2.0)));
        assert_eq!(parse_complex(" (1-2J) "), Some(c(1.0, -2.0)));
        assert_eq!(parse_complex("2j"), Some(c(0.0, 2.0)));
        assert_eq!(parse_complex("-j"), Some(c(0.0, -1.0)));
        assert_eq!(parse_complex("3"), Some(c(3.0, 0.0)));
        assert_eq!(parse_complex("1e-3+4.5e+2j"), Some(c(1e-3, 450.0)));
        assert_eq!(parse_complex("-1e-3-4j"), Some(c(-1e-3, -4.0)));
        // Python writes `j`, never `i`.
        for bad in [
            "", "j2", "1+", "abc", "1+2k", "1++2j", "(1+2j", "0x10", "1+2i", "-4i",
        ] {
            assert_eq!(parse_complex(bad), None, "{bad}");
        }
    }
}
