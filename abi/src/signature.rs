//! The textual signature a function declares itself with.
//!
//! Grammar (white space is free between tokens):
//!
//! ```text
//! signature := ident '(' [ arg { ',' arg } ] ')' '->' '(' output { ',' output } ')'
//! arg       := ident ':' type
//! output    := ident ':' type [ '[' dim { ',' dim } ']' ]
//! dim       := ident '=' size
//! type      := 'i64' | 'f64' | 'c128' | 'bool' | 'str'
//! ident     := [A-Za-z_][A-Za-z0-9_]*
//! size      := a decimal integer from 1 to 2^32 - 1
//! ```
//!
//! Only numeric (`i64`, `f64` and `c128`) outputs may have extra dims. Argument, output and dim names must all
//! differ from one another.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

/// The most values one output may have per case: the product of its extra dims' sizes.
pub const MAX_ELEMENTS: u64 = 1 << 24;

/// The type of an argument, an output or an output's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ScalarType {
    /// A 64-bit signed integer, 8 bytes little endian in a column.
    I64,
    /// A 64-bit IEEE float, 8 bytes little endian in a column.
    F64,
    /// A complex number of two 64-bit IEEE floats (numpy's `complex128`, C's
    /// `double _Complex`): 16 bytes in a column, the real part then the imaginary part, each
    /// little endian.
    C128,
    /// A boolean, one byte (0 or 1) in a column.
    Bool,
    /// A UTF-8 string, bytes plus offsets in a column.
    Str,
}

impl ScalarType {
    /// The name used in signatures: `i64`, `f64`, `c128`, `bool` or `str`.
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::I64 => "i64",
            ScalarType::F64 => "f64",
            ScalarType::C128 => "c128",
            ScalarType::Bool => "bool",
            ScalarType::Str => "str",
        }
    }

    /// Bytes one value takes in a column, or `None` for strings.
    pub fn fixed_size(self) -> Option<usize> {
        match self {
            ScalarType::I64 | ScalarType::F64 => Some(8),
            ScalarType::C128 => Some(16),
            ScalarType::Bool => Some(1),
            ScalarType::Str => None,
        }
    }

    fn from_name(name: &str) -> Option<ScalarType> {
        Some(match name {
            "i64" => ScalarType::I64,
            "f64" => ScalarType::F64,
            "c128" => ScalarType::C128,
            "bool" => ScalarType::Bool,
            "str" => ScalarType::Str,
            _ => return None,
        })
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A named extra dimension of an array output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExtraDim {
    /// The dimension's name, which becomes a dimension of the dataset.
    pub name: String,
    /// Its length.
    pub size: u32,
}

/// An argument of the function.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Arg {
    /// The argument's name, as the spec names it.
    pub name: String,
    /// Its type.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: ScalarType,
}

/// An output of the function.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Output {
    /// The output's name, which becomes a data variable of the dataset.
    pub name: String,
    /// The type of the output (of each element, for an array output).
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: ScalarType,
    /// Extra dims of an array output, outermost first; empty for a scalar output.
    pub dims: Vec<ExtraDim>,
}

impl Output {
    /// Values per case: the product of the extra dims' sizes (1 for a scalar output).
    pub fn elements(&self) -> usize {
        self.dims.iter().map(|d| d.size as usize).product()
    }
}

/// What a function declares about itself: its name, arguments and outputs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Signature {
    /// The function's name.
    pub name: String,
    /// Its arguments, in call order.
    pub args: Vec<Arg>,
    /// Its outputs, in order; at least one.
    pub outputs: Vec<Output>,
}

impl Signature {
    /// The argument called `name`, with its position.
    pub fn arg(&self, name: &str) -> Option<(usize, &Arg)> {
        self.args.iter().enumerate().find(|(_, a)| a.name == name)
    }

    /// Checks the rules the grammar cannot express: at least one output, extra dims only on
    /// numeric outputs, sizes above zero, and distinct names none of which starts with `xyz_`.
    pub fn validate(&self) -> Result<(), SignatureError> {
        if !is_ident(&self.name) {
            return Err(SignatureError::new(
                0,
                "the function name is not an identifier",
            ));
        }
        if self.outputs.is_empty() {
            return Err(SignatureError::new(
                0,
                "a function needs at least one output",
            ));
        }
        let mut names: Vec<&str> = Vec::new();
        let all = self
            .args
            .iter()
            .map(|a| a.name.as_str())
            .chain(self.outputs.iter().map(|o| o.name.as_str()))
            .chain(
                self.outputs
                    .iter()
                    .flat_map(|o| o.dims.iter().map(|d| d.name.as_str())),
            );
        for name in all {
            if !is_ident(name) {
                return Err(SignatureError::with_name(0, "is not an identifier", name));
            }
            if name.starts_with("xyz_") {
                return Err(SignatureError::with_name(
                    0,
                    "starts with xyz_, which names xyz's own variables and attributes",
                    name,
                ));
            }
            // The same dim may be shared by several outputs, if its size agrees.
            if names.contains(&name) && !self.is_shared_dim(name) {
                return Err(SignatureError::with_name(0, "is named twice", name));
            }
            names.push(name);
        }
        for output in &self.outputs {
            if !output.dims.is_empty()
                && !matches!(
                    output.ty,
                    ScalarType::I64 | ScalarType::F64 | ScalarType::C128
                )
            {
                return Err(SignatureError::with_name(
                    0,
                    "has extra dims, which only i64, f64 and c128 outputs may have",
                    &output.name,
                ));
            }
            if let Some(dim) = output.dims.iter().find(|d| d.size == 0) {
                return Err(SignatureError::with_name(0, "has size 0", &dim.name));
            }
            let elements = output
                .dims
                .iter()
                .try_fold(1u64, |n, d| n.checked_mul(u64::from(d.size)))
                .filter(|n| *n <= MAX_ELEMENTS);
            if elements.is_none() {
                return Err(SignatureError::with_name(
                    0,
                    &alloc::format!(
                        "has more values per case than the {MAX_ELEMENTS} an output may have \
                         (the product of its extra dims' sizes)"
                    ),
                    &output.name,
                ));
            }
        }
        Ok(())
    }

    /// Whether `name` is only ever an extra dim, always of the same size.
    fn is_shared_dim(&self, name: &str) -> bool {
        if self.args.iter().any(|a| a.name == name) || self.outputs.iter().any(|o| o.name == name) {
            return false;
        }
        let mut sizes = self
            .outputs
            .iter()
            .flat_map(|o| o.dims.iter())
            .filter(|d| d.name == name)
            .map(|d| d.size);
        let first = sizes.next();
        sizes.all(|s| Some(s) == first)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {}", arg.name, arg.ty)?;
        }
        f.write_str(") -> (")?;
        for (i, out) in self.outputs.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {}", out.name, out.ty)?;
            if !out.dims.is_empty() {
                f.write_str("[")?;
                for (j, dim) in out.dims.iter().enumerate() {
                    if j > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}={}", dim.name, dim.size)?;
                }
                f.write_str("]")?;
            }
        }
        f.write_str(")")
    }
}

impl FromStr for Signature {
    type Err = SignatureError;

    fn from_str(s: &str) -> Result<Signature, SignatureError> {
        let mut p = Parser { s, pos: 0 };
        let name = p.ident("a function name")?;
        p.expect('(')?;
        let mut args = Vec::new();
        if !p.eat(')') {
            loop {
                let name = p.ident("an argument name")?;
                p.expect(':')?;
                let ty = p.ty()?;
                args.push(Arg { name, ty });
                if p.eat(')') {
                    break;
                }
                p.expect(',')?;
            }
        }
        p.expect_str("->")?;
        p.expect('(')?;
        let mut outputs = Vec::new();
        loop {
            let name = p.ident("an output name")?;
            p.expect(':')?;
            let ty = p.ty()?;
            let mut dims = Vec::new();
            if p.eat('[') {
                loop {
                    let name = p.ident("a dimension name")?;
                    p.expect('=')?;
                    let size = p.size()?;
                    dims.push(ExtraDim { name, size });
                    if p.eat(']') {
                        break;
                    }
                    p.expect(',')?;
                }
            }
            outputs.push(Output { name, ty, dims });
            if p.eat(')') {
                break;
            }
            p.expect(',')?;
        }
        p.skip_ws();
        if p.pos != s.len() {
            return Err(SignatureError::new(
                p.pos,
                "unexpected text after the outputs",
            ));
        }
        let sig = Signature {
            name,
            args,
            outputs,
        };
        sig.validate()?;
        Ok(sig)
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SignatureError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(SignatureError::expected(
                self.pos,
                c.encode_utf8(&mut [0; 4]),
            ))
        }
    }

    fn expect_str(&mut self, t: &str) -> Result<(), SignatureError> {
        self.skip_ws();
        if self.rest().starts_with(t) {
            self.pos += t.len();
            Ok(())
        } else {
            Err(SignatureError::expected(self.pos, t))
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.s[start..self.pos]
    }

    fn ident(&mut self, what: &str) -> Result<String, SignatureError> {
        let start = self.pos;
        let word = self.word();
        if is_ident(word) {
            Ok(word.to_string())
        } else {
            self.pos = start;
            self.skip_ws();
            Err(SignatureError::expected(self.pos, what))
        }
    }

    fn ty(&mut self) -> Result<ScalarType, SignatureError> {
        let start = self.pos;
        let word = self.word();
        ScalarType::from_name(word).ok_or_else(|| {
            self.pos = start;
            self.skip_ws();
            SignatureError::expected(self.pos, "a type (i64, f64, c128, bool or str)")
        })
    }

    fn size(&mut self) -> Result<u32, SignatureError> {
        let start = self.pos;
        let word = self.word();
        match word.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => {
                self.pos = start;
                self.skip_ws();
                Err(SignatureError::expected(
                    self.pos,
                    "a size from 1 to 4294967295",
                ))
            }
        }
    }
}

/// A signature that does not follow the grammar or its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureError {
    at: usize,
    message: String,
}

impl SignatureError {
    fn new(at: usize, message: &str) -> SignatureError {
        SignatureError {
            at,
            message: message.to_string(),
        }
    }

    fn expected(at: usize, what: &str) -> SignatureError {
        let mut message = String::from("expected ");
        message.push_str(what);
        SignatureError { at, message }
    }

    fn with_name(at: usize, message: &str, name: &str) -> SignatureError {
        let mut m = String::from("`");
        m.push_str(name);
        m.push_str("` ");
        m.push_str(message);
        SignatureError { at, message: m }
    }

    /// Byte offset in the text where the problem was found (0 for rule violations).
    pub fn offset(&self) -> usize {
        self.at
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.at)
    }
}

impl core::error::Error for SignatureError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Signature, SignatureError> {
        s.parse()
    }

    #[test]
    fn names_of_xyz_own_are_refused() {
        for sig in [
            "f(xyz_a: f64) -> (y: f64)",
            "f(a: f64) -> (xyz_status: i64)",
            "f(a: f64) -> (y: f64[xyz_t=2])",
        ] {
            let err = sig.parse::<Signature>().unwrap_err().to_string();
            assert!(err.contains("starts with xyz_"), "{sig}: {err}");
        }
    }

    #[test]
    fn outputs_too_large_to_hold_are_refused() {
        assert!(parse("f(a: i64) -> (y: f64[t=4096, k=4096])").is_ok());
        for text in [
            "f(a: i64) -> (y: f64[t=4294967295])",
            "f(a: i64) -> (y: f64[t=4294967295, k=4294967295, j=4294967295])",
            "f(a: i64) -> (y: f64[t=4096, k=4097])",
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.contains("`y` has more values per case"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn round_trips_canonical_text() {
        for text in [
            "add(a: f64, b: f64, c: f64) -> (sum: f64)",
            "mandel(x: f64, y: f64, maxiter: i64) -> (n: i64)",
            "f() -> (s: str, ok: bool)",
            "g(a: i64) -> (y: f64[t=5, k=2], z: i64[t=5])",
            "spectrum(z: c128, w: f64) -> (amp: c128, psi: c128[k=4])",
        ] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn white_space_is_free() {
        let sig = parse(" add ( a:f64 ,b : i64)->( s : f64 [ t = 3 ] ) ").unwrap();
        assert_eq!(sig.to_string(), "add(a: f64, b: i64) -> (s: f64[t=3])");
    }

    #[test]
    fn errors_say_what_was_expected_and_where() {
        let err = parse("add(a: float) -> (s: f64)").unwrap_err();
        assert_eq!(
            err.message(),
            "expected a type (i64, f64, c128, bool or str)"
        );
        assert_eq!(err.offset(), 7);
        assert_eq!(parse("add(a: f64)").unwrap_err().message(), "expected ->");
        assert_eq!(
            parse("add(a: f64) -> (s: f64) x").unwrap_err().message(),
            "unexpected text after the outputs"
        );
        assert_eq!(
            parse("f(a: f64) -> (y: f64[t=0])").unwrap_err().message(),
            "expected a size from 1 to 4294967295"
        );
    }

    #[test]
    fn rules_are_checked() {
        assert_eq!(
            parse("f(a: f64, a: i64) -> (s: f64)")
                .unwrap_err()
                .message(),
            "`a` is named twice"
        );
        assert_eq!(
            parse("f(a: f64) -> (a: f64)").unwrap_err().message(),
            "`a` is named twice"
        );
        assert_eq!(
            parse("f(a: f64) -> (s: str[t=2])").unwrap_err().message(),
            "`s` has extra dims, which only i64, f64 and c128 outputs may have"
        );
        assert!(parse("f(a: f64) -> (y: f64[t=2], z: f64[t=2])").is_ok());
        assert_eq!(
            parse("f(a: f64) -> (y: f64[t=2], z: f64[t=3])")
                .unwrap_err()
                .message(),
            "`t` is named twice"
        );
    }

    #[test]
    fn elements_multiply_dims() {
        let sig = parse("f() -> (y: f64[t=5, k=3], s: f64)").unwrap();
        assert_eq!(sig.outputs[0].elements(), 15);
        assert_eq!(sig.outputs[1].elements(), 1);
    }
}
