//! The native part of the `xyz` Python module, `xyz._xyz`: the engine of the `xyz` library
//! crate behind the functions the Python classes (`xyz.Runner`, `xyz.Harvester`, `xyz.Crop`)
//! call. It decides nothing the library does not: it turns Python values into a spec, hands
//! datasets to numpy without copying their values, releases the GIL while cases run, and
//! raises the library's errors as the module's exceptions.

#![deny(missing_docs)]

use pyo3::prelude::*;

mod control;
mod crop;
mod drive;
mod errors;
mod frame;
mod function;
mod remote;
mod run;
mod spec;

/// The module `xyz._xyz`.
#[pymodule]
fn _xyz(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<function::Function>()?;
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(run::harvest, m)?)?;
    m.add_function(wrap_pyfunction!(run::read, m)?)?;
    m.add_function(wrap_pyfunction!(remote::evaluate, m)?)?;
    crop::register(m)?;
    Ok(())
}
