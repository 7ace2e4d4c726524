//! The xyz engine: evaluate a function over every combination of named parameters and gather
//! the results into one labelled N-dimensional dataset.
//!
//! This crate holds everything but the function runtimes and the command line: parameter
//! spaces, executors, the runner, datasets and their writers. `xyz-wasm` provides functions
//! backed by WebAssembly modules; [`ClosureFunction`] wraps a plain Rust closure.
//!
//! ```
//! use xyz_core::{ClosureFunction, ComboValues, Format, ParamSpace, Runner, Value, executor};
//!
//! let hypot = ClosureFunction::new("hypot(x: f64, y: f64) -> (r: f64)".parse()?, |args| {
//!     let [Value::F64(x), Value::F64(y)] = args else { unreachable!() };
//!     Ok(vec![Value::F64(x.hypot(*y))])
//! });
//! let mut space = ParamSpace::new();
//! space
//!     .combo("x", ComboValues::Linspace { start: 0.0, stop: 1.0, num: 11 })
//!     .combo("y", ComboValues::Linspace { start: 0.0, stop: 1.0, num: 11 });
//! let bound = space.bind(xyz_core::Function::signature(&hypot))?;
//! let pool = executor::with_threads(2)?;
//! let outcome = Runner::new(&hypot, &*pool).run(&bound)?;
//! assert_eq!(outcome.dataset.shape(), vec![11, 11]);
//!
//! let dir = tempfile::tempdir()?;
//! xyz_core::output::write(&outcome.dataset, &dir.path().join("hypot.zarr"), Format::Zarr, false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Core concepts
//!
//! - [`ParamSpace`]: combos, cases and constants as declared (from a [`Spec`] or code). Cheap.
//! - [`BoundSpace`]: a space checked against a [`Signature`](xyz_abi::Signature); numbers the
//!   cases, fills argument columns for any range of them and maps cases to grid cells. Holds
//!   the coordinate values; shared read-only by all workers.
//! - [`Function`] and [`Instance`]: a function makes one instance per worker; an instance
//!   evaluates a chunk of cases per call. An instance that traps is thrown away.
//! - [`Executor`]: runs tasks over workers: [`Sequential`], [`RayonPool`], or your own.
//! - [`Runner`]: evaluates a bound space with a function on an executor and returns a
//!   [`Dataset`] (held in memory: one value per cell and output element) and the failures.
//! - [`output`]: writes a dataset as Zarr, netCDF, Parquet, CSV or JSON, atomically, and
//!   reads each back.

#![deny(missing_docs)]

pub mod adaptive;
pub mod combo;
pub mod crop;
pub mod dataset;
mod encoding;
pub mod executor;
pub mod function;
pub mod function_file;
pub mod harvest;
pub mod keys;
pub mod memfile;
pub mod memory;
pub mod output;
pub mod process;
pub mod runner;
pub mod sample;
pub mod shared_fs;
pub mod space;
pub mod spec;
pub mod value;
pub mod verify;

pub use combo::ComboValues;
pub use crop::{Crop, CropError};
pub use dataset::{CellState, DataVar, Dataset, Store};
pub use executor::{Executor, Flow, RayonPool, Sequential, TaskWorker};
pub use function::{ClosureFunction, Function, Instance, InstantiateError, Trap};
pub use function_file::{FunctionFileError, read_function_file};
pub use output::Format;
pub use process::{
    DEFAULT_LOAD_TIMEOUT, Launch, ProcessFunction, SlotReport, WorkerSpec, receive_module, serve,
};
pub use runner::{BatchOutput, BatchRunError, CaseFailure, RunError, RunOutcome, Runner};
pub use space::{BoundSpace, CaseSet, ParamSpace, SpaceError};
pub use spec::{Limits, Spec, SpecError};
pub use value::{Column, Columns, Complex64, EvalOutput, FailureKind, Value};

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
