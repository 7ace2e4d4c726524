//! Verifying a dataset: evaluating cells of it again with the function it records, and
//! comparing the values bit for bit with those on record.
//!
//! A dataset names the function that made it by SHA-256 (`xyz_function_sha256`) and signature
//! (`xyz_function`); the function given must have both. Each cell's arguments are read back
//! from the dataset: its coordinate along each swept dim, its sampled arguments along theirs,
//! and the constants among its attributes. The cells are evaluated as a sweep of explicit
//! cases, so deadlines, memory limits, worker processes and launchers apply as they do to a
//! run. A cell on record as a value must give the same value, bit for bit (every element of
//! every output; any NaN matches any NaN); a cell on record as a failure must fail again;
//! cells never evaluated are passed over.

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use crate::dataset::{CellState, Dataset};
use crate::executor::Executor;
use crate::function::Function;
use crate::runner::{RunError, Runner};
use crate::space::{ParamSpace, SpaceError};
use crate::value::Value;

/// Which cells to evaluate again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// `n` cells drawn without replacement from the evaluated ones (values and failures),
    /// the same for the same `seed`.
    Sample {
        /// How many.
        n: usize,
        /// The seed of the draw.
        seed: u64,
    },
    /// Every failed cell.
    Failed,
    /// Every evaluated cell.
    All,
}

/// A dataset that cannot be verified with the function given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The dataset does not record the function that made it.
    #[error(
        "the dataset does not record the SHA-256 of the function that made it \
         (`xyz_function_sha256`), so no function can be checked against it"
    )]
    NoFunction,
    /// The function given is not the one the dataset records.
    #[error(
        "the function given has sha256 {given}, but the dataset was made by one with sha256 \
         {recorded}"
    )]
    OtherFunction {
        /// The SHA-256 the dataset records.
        recorded: String,
        /// The function's.
        given: String,
    },
    /// An argument of the function is neither a dim, a sampled coordinate nor a constant.
    #[error(
        "argument `{0}` of the function is not in the dataset: neither a dim, a sampled \
         coordinate nor a constant among its attributes"
    )]
    MissingArgument(String),
    /// The cells' arguments do not make a space the function takes.
    #[error("the cells' arguments: {0}")]
    Space(#[from] SpaceError),
    /// The evaluation failed as a whole.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A cell whose value now differs from the one on record.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The cell, in the dataset's grid (row-major).
    pub cell: usize,
    /// Where it is: each dim and its coordinate, as `name=value`.
    pub place: Vec<String>,
    /// What differs: the first output that does, with its value on record and now, or the
    /// state (a value on record and a failure now, or the reverse).
    pub what: String,
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq)]
pub struct Verification {
    /// The cells evaluated again.
    pub checked: usize,
    /// Of those, the ones on record as failures (which failed again unless they differ).
    pub failed: usize,
    /// The cells that differ, in grid order.
    pub differ: Vec<Difference>,
}

/// The cells of `ds` that `cells` asks for, ascending.
pub fn choose(ds: &Dataset, cells: Cells) -> Vec<usize> {
    let evaluated = |s: &CellState| matches!(s, CellState::Ok | CellState::Failed);
    let mut chosen: Vec<usize> = match cells {
        Cells::All => (0..ds.cells.len())
            .filter(|k| evaluated(&ds.cells[*k]))
            .collect(),
        Cells::Failed => (0..ds.cells.len())
            .filter(|k| ds.cells[*k] == CellState::Failed)
            .collect(),
        Cells::Sample { n, seed } => {
            let pool: Vec<usize> = (0..ds.cells.len())
                .filter(|k| evaluated(&ds.cells[*k]))
                .collect();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            crate::sample::permutation(&mut rng, pool.len())
                .into_iter()
                .take(n)
                .map(|i| pool[i])
                .collect()
        }
    };
    chosen.sort_unstable();
    chosen
}

/// Whether a value now is the one on record: bit for bit, but any NaN matches any NaN (what a
/// NaN's payload is differs between architectures, and between NaN-canonicalizing and other
/// runs).
fn matches(was: &Value, is: &Value) -> bool {
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    match (was, is) {
        (Value::F64(a), Value::F64(b)) => same(*a, *b),
        (Value::C128(a), Value::C128(b)) => same(a.re, b.re) && same(a.im, b.im),
        (a, b) => a == b,
    }
}

/// The arguments of cell `cell` of `ds` for the arguments `names`, as the dataset holds them.
fn arguments(
    ds: &Dataset,
    cell: usize,
    names: &[String],
) -> Result<Vec<(String, Value)>, VerifyError> {
    let shape = ds.shape();
    let mut index = vec![0; shape.len()];
    let mut rest = cell;
    for d in (0..shape.len()).rev() {
        index[d] = rest % shape[d];
        rest /= shape[d];
    }
    names
        .iter()
        .map(|name| {
            let value = if let Some(d) = ds.dims.iter().position(|d| d.name == *name) {
                ds.dims[d].coords.get(index[d])
            } else if let Some(a) = ds.aux_coords.iter().find(|a| a.name == *name) {
                let d = ds.dims.iter().position(|d| d.name == a.dim);
                a.values.get(d.map_or(0, |d| index[d]))
            } else if let Some((_, v)) = ds.attrs.iter().find(|(k, _)| k == name) {
                v.clone()
            } else {
                return Err(VerifyError::MissingArgument(name.clone()));
            };
            Ok((name.clone(), value))
        })
        .collect()
}

/// Evaluates `cells` of `ds` (see [`choose`]) again with `function` on `executor`, and
/// compares. `function` must be the one the dataset records.
pub fn verify(
    ds: &Dataset,
    function: &dyn Function,
    executor: &dyn Executor,
    cells: &[usize],
) -> Result<Verification, VerifyError> {
    let recorded = ds
        .attrs
        .iter()
        .find_map(|(k, v)| match (k.as_str(), v) {
            ("xyz_function_sha256", Value::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .ok_or(VerifyError::NoFunction)?;
    let given = function.sha256().unwrap_or_default();
    if given != recorded {
        return Err(VerifyError::OtherFunction {
            recorded,
            given: given.to_string(),
        });
    }
    let sig = function.signature();
    let names: Vec<String> = sig.args.iter().map(|a| a.name.clone()).collect();
    let mut space = ParamSpace::new();
    for &cell in cells {
        space.case(arguments(ds, cell, &names)?);
    }
    if cells.is_empty() {
        return Ok(Verification {
            checked: 0,
            failed: 0,
            differ: Vec::new(),
        });
    }
    let bound = space.bind(sig)?;
    let again = Runner::new(function, executor).run(&bound)?.dataset;
    let shape = ds.shape();
    let mut differ = Vec::new();
    let mut failed = 0;
    for (case, &cell) in cells.iter().enumerate() {
        let now = bound.cell_of(case as u64) as usize;
        let what = match (ds.cells[cell], again.cells[now]) {
            (CellState::Failed, CellState::Failed) => {
                failed += 1;
                None
            }
            (CellState::Failed, _) => {
                failed += 1;
                Some("a failure on record, a value now".to_string())
            }
            (CellState::Ok, CellState::Ok) => ds.vars.iter().find_map(|var| {
                let new = again.vars.iter().find(|v| v.name == var.name)?;
                let e = var.elements();
                (0..e).find_map(|x| {
                    let (was, is) = (var.data.get(cell * e + x), new.data.get(now * e + x));
                    (!matches(&was, &is)).then(|| {
                        let element = if var.extra_dims.is_empty() {
                            String::new()
                        } else {
                            format!("[{x}]")
                        };
                        format!("{}{element}: {was} on record, {is} now", var.name)
                    })
                })
            }),
            (CellState::Ok, _) => Some(format!(
                "a value on record, a failure now: {}",
                again.errors.get(&now).map_or("", String::as_str)
            )),
            _ => None,
        };
        if let Some(what) = what {
            differ.push(Difference {
                cell,
                place: ds
                    .dims
                    .iter()
                    .enumerate()
                    .map(|(d, dim)| {
                        let i = cell / shape[d + 1..].iter().product::<usize>() % shape[d];
                        format!("{}={}", dim.name, dim.coords.get(i))
                    })
                    .collect(),
                what,
            });
        }
    }
    Ok(Verification {
        checked: cells.len(),
        failed,
        differ,
    })
}
