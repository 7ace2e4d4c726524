//! What is wrong with a space, naming the argument and where in the spec it was given.

use std::fmt;

use xyz_abi::ScalarType;

use crate::combo::ComboError;
use crate::value::Value;

use super::bind::expected_text;
use super::{MAX_CELLS, SAMPLE_DIM};

/// Where in a spec a name was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Under `[combos]` (or `--combo`).
    Combos,
    /// In `[[cases]]`.
    Cases,
    /// Under `[constants]` (or `--constant`).
    Constants,
    /// Under `[samples]`.
    Samples,
    /// Under `[adaptive]`.
    Adaptive,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Combos => "combos",
            Place::Cases => "cases",
            Place::Constants => "constants",
            Place::Samples => "samples",
            Place::Adaptive => "adaptive",
        })
    }
}

/// `argument `a` (f64)`, or `arguments `a` (f64), `b` (i64)`.
pub(super) fn missing_list(args: &[(String, ScalarType)]) -> String {
    let list: Vec<String> = args.iter().map(|(n, t)| format!("`{n}` ({t})")).collect();
    format!(
        "argument{} {}",
        if args.len() == 1 { "" } else { "s" },
        list.join(", ")
    )
}

/// A space that does not fit the function's signature, naming the argument at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// A name that is not an argument of the function.
    #[error("`{name}` in {place} is not an argument of {function}; its arguments are: {known}")]
    UnknownArg {
        /// The name given.
        name: String,
        /// Where it was given.
        place: Place,
        /// The function's name.
        function: String,
        /// The function's argument names, comma-separated.
        known: String,
    },
    /// Arguments given no value, all of them.
    #[error(
        "{} of {function} {} no value: give {} in combos, cases or constants",
        missing_list(args),
        if args.len() == 1 { "has" } else { "have" },
        if args.len() == 1 { "it" } else { "them" }
    )]
    MissingArg {
        /// The arguments, with their types, in the signature's order.
        args: Vec<(String, ScalarType)>,
        /// The function's name.
        function: String,
    },
    /// A sampled argument whose distribution gives values of another type.
    #[error("`{name}` in samples: its distribution draws {found} values, but it is {expected}")]
    WrongSampleType {
        /// The argument.
        name: String,
        /// The argument's type.
        expected: ScalarType,
        /// The type the distribution draws.
        found: ScalarType,
    },
    /// An argument given values twice.
    #[error("`{name}` is given twice, in {first} and in {second}")]
    Duplicate {
        /// The argument.
        name: String,
        /// Where it was first given.
        first: Place,
        /// Where it was given again.
        second: Place,
    },
    /// A value of the wrong type.
    #[error(
        "`{name}` in {place}: expected {}, found {found} ({found_ty})",
        expected_text(*expected)
    )]
    WrongType {
        /// The argument.
        name: String,
        /// Where the value was given.
        place: Place,
        /// The argument's type.
        expected: ScalarType,
        /// The value.
        found: Value,
        /// The value's type.
        found_ty: ScalarType,
    },
    /// Combo values that cannot be used.
    #[error("combo `{name}`: {source}")]
    BadCombo {
        /// The argument.
        name: String,
        /// What is wrong with its values.
        source: ComboError,
    },
    /// Samples and explicit cases together.
    #[error(
        "[samples] and [[cases]] cannot be combined: samples are drawn at every combo, cases \
         are listed; use one of them"
    )]
    SamplesWithCases,
    /// Points and explicit cases or samples together.
    #[error(
        "points along a dim of their own (an [adaptive] study's) go with [combos] and \
         [constants], not with [[cases]] or [samples]"
    )]
    PointsWithCases,
    /// A name taken by the dim of samples or points.
    #[error("`{dim}` names the dim of the {}, so no {what} may be called so", if dim == SAMPLE_DIM { "samples" } else { "points" })]
    SampleDimTaken {
        /// The dim.
        dim: String,
        /// What has that name: a combo, an output or an output's extra dim.
        what: &'static str,
    },
    /// A grid too large to hold: more cells than [`MAX_CELLS`].
    #[error(
        "the grid has {cells} cells ({shape}), more than the {MAX_CELLS} one dataset may have: \
         split the sweep into several (each `--into` one dataset), or sweep fewer values"
    )]
    TooLarge {
        /// The number of cells, or `more than 2^64`.
        cells: String,
        /// The dims and their sizes, as `x=1000 × y=1000`.
        shape: String,
    },
    /// A coordinate that is not a finite number (NaN, an infinity, or a complex number with
    /// such a part): no cell could be found by it.
    #[error("`{name}` in {place}: {value} is not a finite number, and a coordinate must be one")]
    NotFinite {
        /// The argument.
        name: String,
        /// Where the value was given.
        place: Place,
        /// The value.
        value: Value,
    },
    /// Cases that do not all give the same arguments, or repeat one another.
    #[error("case {index}: {message}")]
    BadCase {
        /// The case's position, from 1.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

impl SpaceError {
    /// The argument the error is about, if it is about one.
    pub fn name(&self) -> Option<&str> {
        match self {
            SpaceError::UnknownArg { name, .. }
            | SpaceError::Duplicate { name, .. }
            | SpaceError::WrongType { name, .. }
            | SpaceError::WrongSampleType { name, .. }
            | SpaceError::BadCombo { name, .. } => Some(name),
            _ => None,
        }
    }
}
