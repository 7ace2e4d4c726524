//! The parameter space: what a sweep evaluates, and where each case lands in the dataset.
//!
//! A [`ParamSpace`] is what the user declared: combos (every combination of their values is
//! evaluated), cases (explicit argument sets) or samples (cases drawn with a seed, along a
//! `sample` dim, each sampled argument a coordinate along it), and constants.
//! [`ParamSpace::bind`] checks it against a function's [`Signature`] and gives a
//! [`BoundSpace`], which numbers the cases `0..len`, fills argument columns for any range of
//! them, and maps each case to its cell of the dataset's grid.
//!
//! Cases are outer and combos inner: case `i` takes case row `i / C` and combination `i % C`,
//! where `C` is the number of combinations, and the last combo varies fastest. The grid's dims
//! are the case arguments (coordinates: their distinct values, in order of first appearance),
//! then the combos, in the user's order.

use std::collections::HashMap;
use std::fmt;

use xyz_abi::{ScalarType, Signature};

use crate::combo::{ComboError, ComboValues};
use crate::value::{Column, Columns, Value, ValueKey};

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
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Combos => "combos",
            Place::Cases => "cases",
            Place::Constants => "constants",
            Place::Samples => "samples",
        })
    }
}

/// `argument `a` (f64)`, or `arguments `a` (f64), `b` (i64)`.
fn missing_list(args: &[(String, ScalarType)]) -> String {
    let list: Vec<String> = args.iter().map(|(n, t)| format!("`{n}` ({t})")).collect();
    format!(
        "argument{} {}",
        if args.len() == 1 { "" } else { "s" },
        list.join(", ")
    )
}

/// The dim along which a sampled space's cases lie, numbered from 0.
pub const SAMPLE_DIM: &str = "sample";

/// The most cells one dataset may have: 2^32, some 34 GB for each f64 output.
pub const MAX_CELLS: u64 = 1 << 32;

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
    /// A name taken by the dim of samples.
    #[error("`{SAMPLE_DIM}` names the dim of the samples, so no {what} may be called so")]
    SampleDimTaken {
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

/// The space as declared: combos, cases and constants, in the user's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamSpace {
    /// Swept arguments and their values, in order; the last varies fastest.
    pub combos: Vec<(String, ComboValues)>,
    /// Explicit cases, each a list of (argument, value); empty for none.
    pub cases: Vec<Vec<(String, Value)>>,
    /// Arguments with one value for every case.
    pub constants: Vec<(String, Value)>,
    /// Cases drawn from distributions, each at every combo; `None` for none.
    pub samples: Option<crate::sample::Samples>,
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

impl ParamSpace {
    /// An empty space.
    pub fn new() -> ParamSpace {
        ParamSpace::default()
    }

    /// Sweeps `name` over `values`, replacing any combo or constant of that name (a replaced
    /// combo keeps its position).
    pub fn combo(&mut self, name: impl Into<String>, values: ComboValues) -> &mut Self {
        let name = name.into();
        self.constants.retain(|(n, _)| *n != name);
        match self.combos.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = values,
            None => self.combos.push((name, values)),
        }
        self
    }

    /// Fixes `name` to `value`, replacing any combo or constant of that name.
    pub fn constant(&mut self, name: impl Into<String>, value: Value) -> &mut Self {
        let name = name.into();
        self.combos.retain(|(n, _)| *n != name);
        match self.constants.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.constants.push((name, value)),
        }
        self
    }

    /// Adds an explicit case.
    pub fn case(&mut self, args: Vec<(String, Value)>) -> &mut Self {
        self.cases.push(args);
        self
    }

    /// Checks the space against `sig` and numbers its cases.
    pub fn bind(&self, sig: &Signature) -> Result<BoundSpace, SpaceError> {
        let function = sig.name.clone();
        let known = || {
            sig.args
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut given: HashMap<&str, Place> = HashMap::new();
        if self.samples.is_some() && !self.cases.is_empty() {
            return Err(SpaceError::SamplesWithCases);
        }
        if self.samples.is_some() {
            let sampled = |s: &crate::sample::Samples| s.args.iter().any(|(n, _)| n == SAMPLE_DIM);
            let taken = if self.combos.iter().any(|(n, _)| n == SAMPLE_DIM) {
                Some("combo")
            } else if self.samples.as_ref().is_some_and(sampled) {
                Some("sampled argument")
            } else if sig.outputs.iter().any(|o| o.name == SAMPLE_DIM) {
                Some("output")
            } else if sig
                .outputs
                .iter()
                .any(|o| o.dims.iter().any(|d| d.name == SAMPLE_DIM))
            {
                Some("extra dim of an output")
            } else {
                None
            };
            if let Some(what) = taken {
                return Err(SpaceError::SampleDimTaken { what });
            }
        }
        let sampled: Vec<&str> = self
            .samples
            .iter()
            .flat_map(|s| s.args.iter().map(|(n, _)| n.as_str()))
            .collect();
        let case_names: Vec<&str> = self
            .cases
            .first()
            .map(|c| c.iter().map(|(n, _)| n.as_str()).collect())
            .unwrap_or_default();
        let names = self
            .combos
            .iter()
            .map(|(n, _)| (n.as_str(), Place::Combos))
            .chain(case_names.iter().map(|n| (*n, Place::Cases)))
            .chain(sampled.iter().map(|n| (*n, Place::Samples)))
            .chain(
                self.constants
                    .iter()
                    .map(|(n, _)| (n.as_str(), Place::Constants)),
            );
        for (name, place) in names {
            if sig.arg(name).is_none() {
                return Err(SpaceError::UnknownArg {
                    name: name.to_string(),
                    place,
                    function,
                    known: known(),
                });
            }
            if let Some(first) = given.insert(name, place) {
                return Err(SpaceError::Duplicate {
                    name: name.to_string(),
                    first,
                    second: place,
                });
            }
        }
        let missing: Vec<(String, ScalarType)> = sig
            .args
            .iter()
            .filter(|a| !given.contains_key(a.name.as_str()))
            .map(|a| (a.name.clone(), a.ty))
            .collect();
        if !missing.is_empty() {
            return Err(SpaceError::MissingArg {
                args: missing,
                function,
            });
        }
        let ty_of = |name: &str| sig.arg(name).map(|(_, a)| a.ty).unwrap_or(ScalarType::Str);

        // Cases: every case gives the same names; values typed; coords in first-seen order.
        let mut case_dims: Vec<(String, Column)> = case_names
            .iter()
            .map(|n| (n.to_string(), Column::new(ty_of(n))))
            .collect();
        let mut case_rows: Vec<Vec<Value>> = Vec::with_capacity(self.cases.len());
        let mut case_cells: Vec<u64> = Vec::with_capacity(self.cases.len());
        let mut indices: Vec<HashMap<ValueKey, usize>> = vec![HashMap::new(); case_names.len()];
        let mut row_indices: Vec<Vec<usize>> = Vec::with_capacity(self.cases.len());
        for (ci, case) in self.cases.iter().enumerate() {
            let mut row = Vec::with_capacity(case_names.len());
            let mut idx = Vec::with_capacity(case_names.len());
            if case.len() != case_names.len()
                || case.iter().zip(&case_names).any(|((n, _), m)| n != m)
            {
                let these: Vec<&str> = case.iter().map(|(n, _)| n.as_str()).collect();
                return Err(SpaceError::BadCase {
                    index: ci + 1,
                    message: format!(
                        "gives [{}] but the first case gives [{}]; every case must give the same \
                         arguments, in the same order",
                        these.join(", "),
                        case_names.join(", ")
                    ),
                });
            }
            for (k, (name, value)) in case.iter().enumerate() {
                let v = coerce(value, ty_of(name)).ok_or_else(|| SpaceError::WrongType {
                    name: name.clone(),
                    place: Place::Cases,
                    expected: ty_of(name),
                    found: value.clone(),
                    found_ty: value.ty(),
                })?;
                check_finite(name, Place::Cases, &v)?;
                let key = ValueKey::of(&v);
                let next = indices[k].len();
                let at = *indices[k].entry(key).or_insert_with(|| {
                    case_dims[k].1.push(&v);
                    next
                });
                idx.push(at);
                row.push(v);
            }
            row_indices.push(idx);
            case_rows.push(row);
        }
        let case_sizes: Vec<u64> = case_dims.iter().map(|(_, c)| c.len() as u64).collect();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for (ci, idx) in row_indices.iter().enumerate() {
            let cell = idx
                .iter()
                .zip(&case_sizes)
                .fold(0u64, |acc, (i, s)| acc * s + *i as u64);
            if let Some(first) = seen.insert(cell, ci) {
                return Err(SpaceError::BadCase {
                    index: ci + 1,
                    message: format!("repeats case {}", first + 1),
                });
            }
            case_cells.push(cell);
        }
        // Samples: the rows drawn, along one dim numbered from 0.
        let mut aux_coords = Vec::new();
        let case_names = match &self.samples {
            None => case_names,
            Some(samples) => {
                // A choice of values that convert to the argument's type (complex numbers as
                // text) is drawn, then converted.
                let mut convert = Vec::new();
                for (j, (name, dist)) in samples.args.iter().enumerate() {
                    let expected = ty_of(name);
                    let converts = match dist {
                        crate::sample::Distribution::Choice(values) => {
                            values.iter().all(|v| coerce(v, expected).is_some())
                        }
                        _ => false,
                    };
                    if dist.ty() != expected && !converts {
                        return Err(SpaceError::WrongSampleType {
                            name: name.clone(),
                            expected,
                            found: dist.ty(),
                        });
                    }
                    if dist.ty() != expected {
                        convert.push((j, expected));
                    }
                }
                case_rows = samples.draw();
                for row in &mut case_rows {
                    for &(j, ty) in &convert {
                        row[j] = coerce(&row[j], ty).expect("checked to convert");
                    }
                    for (v, (name, _)) in row.iter().zip(&samples.args) {
                        check_finite(name, Place::Samples, v)?;
                    }
                }
                case_cells = (0..samples.n).collect();
                case_dims = vec![(
                    SAMPLE_DIM.to_string(),
                    Column::I64((0..samples.n as i64).collect()),
                )];
                for (j, (name, _)) in samples.args.iter().enumerate() {
                    let mut values = Column::new(ty_of(name));
                    values.reserve(case_rows.len());
                    for row in &case_rows {
                        values.push(&row[j]);
                    }
                    aux_coords.push(AuxCoord {
                        name: name.clone(),
                        dim: SAMPLE_DIM.to_string(),
                        values,
                    });
                }
                sampled
            }
        };
        if case_rows.is_empty() {
            case_rows.push(Vec::new());
            case_cells.push(0);
        }

        // The grid's size, from the combos' lengths, before any of their values is made: a
        // product past what a dataset may hold is refused here, not by running out of memory.
        let mut shape: Vec<(String, u64)> = case_dims
            .iter()
            .map(|(name, coords)| (name.clone(), coords.len() as u64))
            .collect();
        for (name, spec) in &self.combos {
            let len = spec.count().map_err(|source| SpaceError::BadCombo {
                name: name.clone(),
                source,
            })?;
            shape.push((name.clone(), len));
        }
        check_cells(&shape)?;

        // Combos.
        let mut combo_dims = Vec::with_capacity(self.combos.len());
        for (name, spec) in &self.combos {
            let values = spec.values().map_err(|source| SpaceError::BadCombo {
                name: name.clone(),
                source,
            })?;
            let ty = ty_of(name);
            let mut col = Column::new(ty);
            let mut coerced = Vec::with_capacity(values.len());
            for v in &values {
                let c = coerce(v, ty).ok_or_else(|| SpaceError::WrongType {
                    name: name.clone(),
                    place: Place::Combos,
                    expected: ty,
                    found: v.clone(),
                    found_ty: v.ty(),
                })?;
                check_finite(name, Place::Combos, &c)?;
                col.push(&c);
                coerced.push(c);
            }
            // Values unique as given may be one coordinate as the argument's type: "0j" and
            // "-0j" as complex numbers.
            if values.iter().zip(&coerced).any(|(v, c)| v.ty() != c.ty()) {
                crate::combo::check_unique(&coerced).map_err(|source| SpaceError::BadCombo {
                    name: name.clone(),
                    source,
                })?;
            }
            combo_dims.push((name.clone(), col));
        }

        let mut constants = Vec::with_capacity(self.constants.len());
        for (name, value) in &self.constants {
            let ty = ty_of(name);
            let v = coerce(value, ty).ok_or_else(|| SpaceError::WrongType {
                name: name.clone(),
                place: Place::Constants,
                expected: ty,
                found: value.clone(),
                found_ty: value.ty(),
            })?;
            constants.push((name.clone(), v));
        }

        let n_case_dims = case_dims.len();
        let dims: Vec<SweptDim> = case_dims
            .into_iter()
            .chain(combo_dims)
            .map(|(name, coords)| SweptDim { name, coords })
            .collect();
        let combo_sizes: Vec<u64> = dims[n_case_dims..]
            .iter()
            .map(|d| d.coords.len() as u64)
            .collect();
        let shape: Vec<(String, u64)> = dims
            .iter()
            .map(|d| (d.name.clone(), d.coords.len() as u64))
            .collect();
        check_cells(&shape)?;
        let n_combos: u64 = combo_sizes.iter().product();
        let mut strides = vec![1u64; combo_sizes.len()];
        for d in (0..combo_sizes.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * combo_sizes[d + 1];
        }
        let sources = sig
            .args
            .iter()
            .map(|arg| {
                if let Some(d) = self.combos.iter().position(|(n, _)| *n == arg.name) {
                    Source::Combo(n_case_dims + d)
                } else if let Some(c) = case_names.iter().position(|n| *n == arg.name) {
                    Source::Case(c)
                } else {
                    let v = constants
                        .iter()
                        .find(|(n, _)| *n == arg.name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::I64(0));
                    Source::Constant(v)
                }
            })
            .collect();
        let len = case_rows.len() as u64 * n_combos;
        Ok(BoundSpace {
            dims,
            aux_coords,
            n_case_dims,
            case_rows,
            case_cells,
            n_combos,
            strides,
            sources,
            constants,
            len,
        })
    }
}

/// A type as a message names what a value of it may be written as.
/// Refuses a coordinate `v` of `name`, given in `place`, that is not a finite number.
fn check_finite(name: &str, place: Place, v: &Value) -> Result<(), SpaceError> {
    let finite = match v {
        Value::F64(x) => x.is_finite(),
        Value::C128(z) => z.re.is_finite() && z.im.is_finite(),
        _ => true,
    };
    if finite {
        Ok(())
    } else {
        Err(SpaceError::NotFinite {
            name: name.to_string(),
            place,
            value: v.clone(),
        })
    }
}

/// Refuses a grid of `shape` (each dim's name and length) with more than [`MAX_CELLS`] cells.
fn check_cells(shape: &[(String, u64)]) -> Result<(), SpaceError> {
    let cells = shape
        .iter()
        .try_fold(1u64, |n, (_, len)| n.checked_mul(*len));
    if cells.is_none_or(|c| c > MAX_CELLS) {
        let shape: Vec<String> = shape
            .iter()
            .map(|(name, len)| format!("{name}={len}"))
            .collect();
        return Err(SpaceError::TooLarge {
            cells: cells.map_or_else(|| "more than 2^64".to_string(), |c| c.to_string()),
            shape: shape.join(" × "),
        });
    }
    Ok(())
}

fn expected_text(ty: ScalarType) -> String {
    match ty {
        ScalarType::C128 => {
            "c128 (a number, a string such as \"1.5-2j\", or { re = 1.5, im = -2.0 })".into()
        }
        ty => ty.to_string(),
    }
}

/// Converts `v` to type `ty` where that loses nothing: an integer where a float is expected,
/// a real number or the text of a complex one (`"1.5-2j"`) where a complex one is.
fn coerce(v: &Value, ty: ScalarType) -> Option<Value> {
    match (v, ty) {
        (Value::I64(i), ScalarType::F64) => crate::combo::exact_float(*i).map(Value::F64),
        (Value::I64(i), ScalarType::C128) => crate::combo::exact_float(*i)
            .map(|re| Value::C128(crate::value::Complex64::new(re, 0.0))),
        (Value::F64(re), ScalarType::C128) => {
            Some(Value::C128(crate::value::Complex64::new(*re, 0.0)))
        }
        (Value::Str(text), ScalarType::C128) => crate::value::parse_complex(text).map(Value::C128),
        (v, ty) if v.ty() == ty => Some(v.clone()),
        _ => None,
    }
}

/// Some cases of a space, in an order: a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseSet<'a> {
    /// Cases `start..end`, in order.
    Range(u64, u64),
    /// These cases, in this order.
    List(&'a [u64]),
}

impl CaseSet<'_> {
    /// Number of cases.
    pub fn len(&self) -> usize {
        match self {
            CaseSet::Range(a, b) => (b - a) as usize,
            CaseSet::List(l) => l.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The case at position `at`.
    pub fn case(&self, at: usize) -> u64 {
        match self {
            CaseSet::Range(a, _) => a + at as u64,
            CaseSet::List(l) => l[at],
        }
    }
}

/// A coordinate along a dim that is not its index: each sampled argument's values along the
/// dim of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct AuxCoord {
    /// The argument's name.
    pub name: String,
    /// The dim it lies along.
    pub dim: String,
    /// Its value at each index of the dim.
    pub values: Column,
}

/// A dimension of the dataset that comes from a swept argument.
#[derive(Debug, Clone, PartialEq)]
pub struct SweptDim {
    /// The argument's name.
    pub name: String,
    /// Its coordinates: the distinct values it takes, in order.
    pub coords: Column,
}

#[derive(Debug, Clone)]
enum Source {
    /// Index into `dims`.
    Combo(usize),
    /// Index into a case row.
    Case(usize),
    Constant(Value),
}

/// A space checked against a signature, with its cases numbered. Cheap to share between
/// threads; filling columns allocates nothing once the columns have grown.
#[derive(Debug, Clone)]
pub struct BoundSpace {
    dims: Vec<SweptDim>,
    aux_coords: Vec<AuxCoord>,
    n_case_dims: usize,
    case_rows: Vec<Vec<Value>>,
    /// Per case row, its flat index in the grid of case dims.
    case_cells: Vec<u64>,
    n_combos: u64,
    /// Per combo dim, how many consecutive cases share one of its values.
    strides: Vec<u64>,
    sources: Vec<Source>,
    constants: Vec<(String, Value)>,
    len: u64,
}

impl BoundSpace {
    /// Number of cases.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no cases (never, for a bound space).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The swept dims of the grid: case arguments, then combos.
    pub fn dims(&self) -> &[SweptDim] {
        &self.dims
    }

    /// The coordinates along dims that are not their index: the sampled arguments.
    pub fn aux_coords(&self) -> &[AuxCoord] {
        &self.aux_coords
    }

    /// The constants, typed as the signature says.
    pub fn constants(&self) -> &[(String, Value)] {
        &self.constants
    }

    /// Number of cells of the grid (at least the number of cases).
    pub fn cells(&self) -> u64 {
        self.dims.iter().map(|d| d.coords.len() as u64).product()
    }

    /// The grid cell of case `case`.
    #[inline]
    pub fn cell_of(&self, case: u64) -> u64 {
        let row = (case / self.n_combos) as usize;
        self.case_cells[row] * self.n_combos + case % self.n_combos
    }

    /// Fills `out` with the argument columns of cases `start..start + n`.
    pub fn fill(&self, start: u64, n: usize, out: &mut Columns) {
        debug_assert!(start + n as u64 <= self.len);
        out.n = n;
        if out.cols.len() != self.sources.len() {
            out.cols = self
                .sources
                .iter()
                .map(|s| match s {
                    Source::Combo(d) => Column::new(self.dims[*d].coords.ty()),
                    Source::Case(c) => Column::new(self.case_rows[0][*c].ty()),
                    Source::Constant(v) => Column::new(v.ty()),
                })
                .collect();
        }
        for (col, source) in out.cols.iter_mut().zip(&self.sources) {
            col.clear();
            match source {
                Source::Constant(v) => col.push_n(v, n),
                Source::Combo(d) => {
                    let k = d - self.n_case_dims;
                    let stride = self.strides[k];
                    let pos = start % self.n_combos;
                    fill_repeating(col, &self.dims[*d].coords, stride, pos, n);
                }
                Source::Case(c) => {
                    let mut row = (start / self.n_combos) as usize;
                    let mut left = self.n_combos - start % self.n_combos;
                    for _ in 0..n {
                        col.push(&self.case_rows[row][*c]);
                        left -= 1;
                        if left == 0 {
                            left = self.n_combos;
                            row += 1;
                        }
                    }
                }
            }
        }
    }

    /// Fills `out` with the argument columns of positions `at..at + n` of `cases`.
    pub fn fill_set(&self, cases: CaseSet<'_>, at: usize, n: usize, out: &mut Columns) {
        match cases {
            CaseSet::Range(a, _) => self.fill(a + at as u64, n, out),
            CaseSet::List(l) => self.fill_cases(&l[at..at + n], out),
        }
    }

    /// Fills `out` with the argument columns of `cases`, in that order.
    pub fn fill_cases(&self, cases: &[u64], out: &mut Columns) {
        self.fill(0, 0, out);
        out.n = cases.len();
        for (col, source) in out.cols.iter_mut().zip(&self.sources) {
            col.reserve(cases.len());
            for &case in cases {
                debug_assert!(case < self.len);
                match source {
                    Source::Constant(v) => col.push(v),
                    Source::Combo(d) => {
                        let k = d - self.n_case_dims;
                        let coords = &self.dims[*d].coords;
                        let idx = (case % self.n_combos / self.strides[k]) % coords.len() as u64;
                        col.push_from(coords, idx as usize);
                    }
                    Source::Case(c) => {
                        col.push(&self.case_rows[(case / self.n_combos) as usize][*c]);
                    }
                }
            }
        }
    }

    /// The arguments of case `case`, by name, in signature order.
    pub fn case_args(&self, case: u64, sig: &Signature) -> Vec<(String, Value)> {
        let mut cols = Columns::default();
        self.fill(case, 1, &mut cols);
        sig.args
            .iter()
            .zip(&cols.cols)
            .map(|(a, c)| (a.name.clone(), c.get(0)))
            .collect()
    }
}

/// Pushes `n` values of `values`, each repeated `stride` times in turn, starting at position
/// `pos` of that pattern (which wraps around after `values.len() * stride`).
fn fill_repeating(col: &mut Column, values: &Column, stride: u64, pos: u64, n: usize) {
    fn go<T: Clone>(dst: &mut Vec<T>, vals: &[T], stride: u64, pos: u64, n: usize) {
        let mut idx = ((pos / stride) % vals.len() as u64) as usize;
        let mut left = stride - pos % stride;
        let mut done = 0;
        while done < n {
            let take = (left as usize).min(n - done);
            dst.extend(std::iter::repeat_n(vals[idx].clone(), take));
            done += take;
            left = stride;
            idx += 1;
            if idx == vals.len() {
                idx = 0;
            }
        }
    }
    match (col, values) {
        (Column::I64(d), Column::I64(v)) => go(d, v, stride, pos, n),
        (Column::F64(d), Column::F64(v)) => go(d, v, stride, pos, n),
        (Column::C128(d), Column::C128(v)) => go(d, v, stride, pos, n),
        (Column::Bool(d), Column::Bool(v)) => go(d, v, stride, pos, n),
        (Column::Str(d), Column::Str(v)) => go(d, v, stride, pos, n),
        (d, v) => unreachable!(
            "column types agree by construction: {} vs {}",
            d.ty(),
            v.ty()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(s: &str) -> Signature {
        s.parse().unwrap()
    }

    fn list(v: &[i64]) -> ComboValues {
        ComboValues::List(v.iter().map(|x| Value::I64(*x)).collect())
    }

    #[test]
    fn samples_lie_along_their_dim_with_each_argument_a_coordinate() {
        use crate::sample::{Distribution, Method, Samples};
        let s = sig("f(x: f64, k: i64, m: i64) -> (y: f64)");
        let samples = Samples {
            n: 5,
            seed: 1,
            method: Method::Lhs,
            args: vec![
                ("x".into(), Distribution::Uniform(0.0, 1.0)),
                ("k".into(), Distribution::Integers(1, 3)),
            ],
        };
        let mut space = ParamSpace::new();
        space.combo("m", list(&[10, 20]));
        space.samples = Some(samples.clone());
        let bound = space.bind(&s).unwrap();
        assert_eq!((bound.len(), bound.cells()), (10, 10));
        let names: Vec<&str> = bound.dims().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, [SAMPLE_DIM, "m"]);
        assert_eq!(bound.dims()[0].coords, Column::I64(vec![0, 1, 2, 3, 4]));
        let rows = samples.draw();
        let aux = bound.aux_coords();
        assert_eq!(aux.len(), 2);
        assert_eq!(
            (aux[0].name.as_str(), aux[0].dim.as_str()),
            ("x", SAMPLE_DIM)
        );
        // Case 2k + j is sample k at combo j, with the sample's values as arguments.
        let mut cols = Columns::default();
        bound.fill(0, 10, &mut cols);
        for case in 0..10 {
            let (k, j) = (case / 2, case % 2);
            assert_eq!(cols.cols[0].get(case), rows[k][0]);
            assert_eq!(aux[0].values.get(k), rows[k][0]);
            assert_eq!(cols.cols[1].get(case), rows[k][1]);
            assert_eq!(cols.cols[2].get(case), Value::I64([10, 20][j]));
        }
        // What cannot be.
        let mut with_cases = space.clone();
        with_cases.case(vec![("m".into(), Value::I64(1))]);
        assert_eq!(
            with_cases.bind(&s).unwrap_err(),
            SpaceError::SamplesWithCases
        );
        let mut taken = space.clone();
        taken.combo(SAMPLE_DIM, list(&[1]));
        assert!(matches!(
            taken.bind(&sig("f(x: f64, k: i64, m: i64, sample: i64) -> (y: f64)")),
            Err(SpaceError::SampleDimTaken { what: "combo" })
        ));
        let out = sig("f(x: f64, k: i64, m: i64) -> (sample: f64)");
        assert!(matches!(
            space.bind(&out),
            Err(SpaceError::SampleDimTaken { what: "output" })
        ));
        let mut wrong = space.clone();
        if let Some(s) = &mut wrong.samples {
            s.args[1].1 = Distribution::Uniform(1.0, 3.0);
        }
        assert!(matches!(
            wrong.bind(&s),
            Err(SpaceError::WrongSampleType { ref name, .. }) if name == "k"
        ));
    }

    #[test]
    fn combos_vary_last_fastest_and_fill_any_range() {
        let s = sig("f(a: i64, b: i64, c: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space
            .combo("a", list(&[1, 2, 3]))
            .combo("b", list(&[10, 20]))
            .constant("c", Value::I64(7));
        let bound = space.bind(&s).unwrap();
        assert_eq!(bound.len(), 6);
        let mut cols = Columns::default();
        for start in 0..6 {
            for n in 0..=(6 - start as usize) {
                bound.fill(start, n, &mut cols);
                let a: Vec<i64> = (start..start + n as u64)
                    .map(|i| [1, 2, 3][i as usize / 2])
                    .collect();
                let b: Vec<i64> = (start..start + n as u64)
                    .map(|i| [10, 20][i as usize % 2])
                    .collect();
                assert_eq!(cols.cols[0], Column::I64(a));
                assert_eq!(cols.cols[1], Column::I64(b));
                assert_eq!(cols.cols[2], Column::F64(vec![7.0; n]));
            }
        }
        assert_eq!(bound.cell_of(5), 5);
    }

    #[test]
    fn cases_are_outer_dims_with_first_seen_coords() {
        let s = sig("f(a: i64, b: str, x: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space.combo(
            "x",
            ComboValues::List(vec![Value::F64(0.5), Value::F64(1.5)]),
        );
        space.case(vec![
            ("a".into(), Value::I64(2)),
            ("b".into(), Value::Str("u".into())),
        ]);
        space.case(vec![
            ("a".into(), Value::I64(1)),
            ("b".into(), Value::Str("v".into())),
        ]);
        let bound = space.bind(&s).unwrap();
        let names: Vec<&str> = bound.dims().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "x"]);
        assert_eq!(bound.dims()[0].coords, Column::I64(vec![2, 1]));
        assert_eq!(bound.len(), 4);
        assert_eq!(bound.cells(), 8);
        // Case 2 is row 1 (a=1 -> index 1, b="v" -> index 1), combination 0.
        assert_eq!(bound.cell_of(2), (2 + 1) * 2);
        let mut cols = Columns::default();
        bound.fill(1, 3, &mut cols);
        assert_eq!(cols.cols[0], Column::I64(vec![2, 1, 1]));
        assert_eq!(cols.cols[2], Column::F64(vec![1.5, 0.5, 1.5]));
    }

    #[test]
    fn errors_name_the_argument() {
        let s = sig("f(a: i64, b: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1])).combo("z", list(&[1]));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`z` in combos is not an argument of f; its arguments are: a, b"
        );
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1]));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "argument `b` (f64) of f has no value: give it in combos, cases or constants"
        );
        let mut space = ParamSpace::new();
        space.combo("a", ComboValues::List(vec![Value::F64(1.5)]));
        space.constant("b", Value::I64(1));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`a` in combos: expected i64, found 1.5 (f64)"
        );
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1])).constant("b", Value::F64(1.0));
        space.case(vec![("b".into(), Value::F64(2.0))]);
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`b` is given twice, in cases and in constants"
        );
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1])).combo("b", list(&[]));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "combo `b`: the list of values is empty"
        );
    }

    #[test]
    fn complex_arguments_take_numbers_and_complex_text() {
        use crate::value::Complex64;
        let s = sig("f(z: c128, w: c128) -> (y: c128)");
        let mut space = ParamSpace::new();
        space
            .combo(
                "z",
                ComboValues::List(vec![
                    Value::Str("1-2j".into()),
                    Value::Str("(0.5+0j)".into()),
                ]),
            )
            .constant("w", Value::I64(3));
        let bound = space.bind(&s).unwrap();
        assert_eq!(
            bound.dims()[0].coords,
            Column::C128(vec![Complex64::new(1.0, -2.0), Complex64::new(0.5, 0.0)])
        );
        let mut cols = Columns::default();
        bound.fill(0, 2, &mut cols);
        assert_eq!(
            cols.cols[1],
            Column::C128(vec![Complex64::new(3.0, 0.0); 2])
        );
        let mut space = ParamSpace::new();
        space
            .combo("z", ComboValues::List(vec![Value::Str("1+k".into())]))
            .constant("w", Value::F64(0.0));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`z` in combos: expected c128 (a number, a string such as \"1.5-2j\", or \
             { re = 1.5, im = -2.0 }), found \"1+k\" (str)"
        );
    }

    #[test]
    fn repeated_and_ragged_cases_are_refused() {
        let s = sig("f(a: i64, b: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space.constant("b", Value::F64(0.0));
        space.case(vec![("a".into(), Value::I64(1))]);
        space.case(vec![("a".into(), Value::I64(1))]);
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "case 2: repeats case 1"
        );
        let mut space = ParamSpace::new();
        space.case(vec![
            ("a".into(), Value::I64(1)),
            ("b".into(), Value::F64(1.0)),
        ]);
        space.case(vec![("a".into(), Value::I64(2))]);
        assert!(
            space
                .bind(&s)
                .unwrap_err()
                .to_string()
                .starts_with("case 2: gives [a]")
        );
    }

    #[test]
    fn overrides_replace_in_place() {
        let mut space = ParamSpace::new();
        space
            .combo("a", list(&[1]))
            .combo("b", list(&[2]))
            .constant("c", Value::I64(3));
        space
            .combo("a", list(&[5]))
            .combo("c", list(&[6]))
            .constant("b", Value::I64(0));
        let names: Vec<&str> = space.combos.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(space.constants, vec![("b".to_string(), Value::I64(0))]);
    }
}
