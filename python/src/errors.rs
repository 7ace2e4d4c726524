//! The exceptions of the module: one base class, [`XyzError`], and a subclass per kind of
//! failure, each carrying the message the command line prints for the same error.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;

create_exception!(
    xyz,
    XyzError,
    PyException,
    "Base class of every error xyz raises."
);
create_exception!(
    xyz,
    SpecError,
    XyzError,
    "The sweep cannot be made: a combo, case, constant, sample or limit that is wrong, or that \
     the function's signature does not take."
);
create_exception!(
    xyz,
    FunctionError,
    XyzError,
    "The function cannot be loaded or run: not a module or library, another SHA-256, workers \
     that fail to start."
);
create_exception!(
    xyz,
    DatasetError,
    XyzError,
    "A dataset on disk cannot be read, written or merged into."
);
create_exception!(
    xyz,
    CropError,
    XyzError,
    "A crop cannot be sown, grown or reaped as asked."
);
create_exception!(
    xyz,
    SchedulerError,
    XyzError,
    "A batch scheduler refused a submission, or is not there."
);
create_exception!(
    xyz,
    ExecutorError,
    XyzError,
    "An executor failed a task again and again, or does not look like one."
);

/// The message of `e` with its causes, as the command line prints it: `what: why: because`.
pub fn message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        // Transparent wrappers repeat their source's text.
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

/// The kind of exception an error of the library is raised as.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// [`SpecError`].
    Spec,
    /// [`FunctionError`].
    Function,
    /// [`DatasetError`].
    Dataset,
    /// [`CropError`].
    Crop,
    /// [`SchedulerError`].
    Scheduler,
    /// [`ExecutorError`].
    Executor,
}

/// `e` as a Python exception of `kind`, with the command line's message.
pub fn raise(kind: Kind, e: &(dyn std::error::Error + 'static)) -> PyErr {
    raise_text(kind, message(e))
}

/// A Python exception of `kind` with `text`.
pub fn raise_text(kind: Kind, text: String) -> PyErr {
    match kind {
        Kind::Spec => SpecError::new_err(text),
        Kind::Function => FunctionError::new_err(text),
        Kind::Dataset => DatasetError::new_err(text),
        Kind::Crop => CropError::new_err(text),
        Kind::Scheduler => SchedulerError::new_err(text),
        Kind::Executor => ExecutorError::new_err(text),
    }
}

/// What a run that was cancelled raises: the interrupt that cancelled it.
pub fn interrupted() -> PyErr {
    PyKeyboardInterrupt::new_err("the sweep was interrupted; nothing was kept")
}

/// Adds the exceptions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("XyzError", py.get_type::<XyzError>())?;
    m.add("SpecError", py.get_type::<SpecError>())?;
    m.add("FunctionError", py.get_type::<FunctionError>())?;
    m.add("DatasetError", py.get_type::<DatasetError>())?;
    m.add("CropError", py.get_type::<CropError>())?;
    m.add("SchedulerError", py.get_type::<SchedulerError>())?;
    m.add("ExecutorError", py.get_type::<ExecutorError>())?;
    Ok(())
}
