//! Evaluating a sweep's chunks through a Python executor (a `concurrent.futures` pool, a
//! `dask.distributed` client, an `mpi4py` pool, a `multiprocessing` pool, an ipyparallel view).
//!
//! On this side, an [`ExecutorFunction`] stands for the function in the runner: each call of
//! a chunk of cases becomes one task, handed to `xyz._executor.call` with the function's
//! bytes and their SHA-256, which submits it, waits for it and submits it again if it was
//! lost. On the far side, [`evaluate`] loads the function once per process (checking its
//! SHA-256 first), evaluates the chunk with xyz's engine and answers in the worker protocol's
//! bytes.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use xyz::abi::Signature;
use xyz::process::task;
use xyz::{Columns, EvalOutput, FailureKind, Instance, InstantiateError, Trap};

use crate::control::Control;
use crate::errors::{Kind, raise_text};
use crate::function::Settings;

/// The function of a run whose calls an executor evaluates.
pub struct ExecutorFunction {
    pub(crate) signature: Signature,
    pub(crate) sha256: String,
    /// `(executor, bytes, sha256, settings)` as `xyz._executor.call` takes them, after the
    /// call's bytes.
    pub(crate) task: Py<PyAny>,
    /// `xyz._executor.call`.
    pub(crate) call: Py<PyAny>,
    pub(crate) control: Arc<Control>,
    /// The first error that made the run stop: an executor that failed a task every time.
    pub(crate) error: Arc<Mutex<Option<PyErr>>>,
}

impl xyz::Function for ExecutorFunction {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn sha256(&self) -> Option<&str> {
        Some(&self.sha256)
    }

    fn instantiate(&self) -> Result<Box<dyn Instance>, InstantiateError> {
        Ok(Box::new(ExecutorInstance {
            signature: self.signature.clone(),
            task: Python::attach(|py| self.task.clone_ref(py)),
            call: Python::attach(|py| self.call.clone_ref(py)),
            control: self.control.clone(),
            error: self.error.clone(),
        }))
    }
}

struct ExecutorInstance {
    signature: Signature,
    task: Py<PyAny>,
    call: Py<PyAny>,
    control: Arc<Control>,
    error: Arc<Mutex<Option<PyErr>>>,
}

impl ExecutorInstance {
    /// Stops the run with `e`, keeping the first error.
    fn stop(&self, e: PyErr) -> Trap {
        self.error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
        self.control.cancel.store(true, Ordering::SeqCst);
        Trap {
            kind: FailureKind::Trap,
            message: "the executor failed".into(),
        }
    }
}

impl Instance for ExecutorInstance {
    fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
        let call = task::encode_call(args).map_err(|e| Trap {
            kind: FailureKind::Trap,
            message: format!("encoding the call: {e}"),
        })?;
        let reply: Result<Vec<u8>, PyErr> = Python::attach(|py| {
            let bytes = PyBytes::new(py, &call);
            let reply = self.call.bind(py).call1((bytes, self.task.bind(py)))?;
            Ok(reply.cast::<PyBytes>()?.as_bytes().to_vec())
        });
        let reply = reply.map_err(|e| self.stop(e))?;
        match task::decode_reply(&reply, &self.signature, out) {
            Ok(result) => result,
            Err(e) => Err(self.stop(raise_text(
                Kind::Executor,
                format!("the executor's answer to a task is damaged: {e}"),
            ))),
        }
    }
}

/// The functions this process loaded for tasks, by SHA-256 and settings.
struct Loaded {
    /// The process that loaded them: a child made by `fork` must not use (nor drop) what its
    /// parent loaded, whose worker processes are the parent's.
    pid: u32,
    functions: HashMap<String, Arc<Held>>,
}

/// A function loaded for tasks, and the file it was loaded from, which its worker processes
/// read each time one starts.
struct Held {
    loaded: xyz::load::Loaded,
    _file: tempfile::TempDir,
}

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

thread_local! {
    /// Each thread's instance of each function, by the same key.
    static INSTANCES: std::cell::RefCell<HashMap<String, Option<Box<dyn Instance>>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// The function with these bytes, loaded once per process.
fn load(bytes: &[u8], sha256: &str, settings: &Settings) -> PyResult<(String, Arc<Held>)> {
    let actual = xyz::sha256_hex(bytes);
    if actual != sha256 {
        return Err(raise_text(
            Kind::Function,
            format!("a task's function has sha256 {actual}, not the {sha256} it was sent with"),
        ));
    }
    let pid = std::process::id();
    let key = format!(
        "{pid}/{sha256}/{:?}/{:?}/{}",
        settings.memory, settings.deadline, settings.isolate
    );
    let mut slot = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().is_some_and(|l| l.pid != pid) {
        // Inherited through fork: forgotten, never dropped (dropping would stop the parent's
        // workers).
        std::mem::forget(slot.take());
    }
    let held = slot.get_or_insert_with(|| Loaded {
        pid,
        functions: HashMap::new(),
    });
    if let Some(f) = held.functions.get(&key) {
        return Ok((key, f.clone()));
    }
    let (dir, path) = crate::function::write_bytes(bytes)
        .map_err(|e| raise_text(Kind::Function, format!("writing a task's function: {e}")))?;
    let loaded = settings
        .loader()
        .load(&path, &xyz::Limits::default())
        .map_err(|e| crate::errors::raise(Kind::Function, &e))?;
    let function = Arc::new(Held { loaded, _file: dir });
    held.functions.insert(key.clone(), function.clone());
    Ok((key, function))
}

/// Evaluates a task on the far side of an executor: the call `call` of the function with
/// `bytes` (whose SHA-256 must be `sha256`), loaded once in this process under the settings
/// given. Returns the reply's bytes.
#[pyfunction]
#[pyo3(signature = (call, bytes, sha256, worker, memory=None, deadline=None, isolate=true))]
#[allow(
    clippy::too_many_arguments,
    reason = "the fields of a task, as Python passes them"
)]
pub fn evaluate<'py>(
    py: Python<'py>,
    call: &[u8],
    bytes: &[u8],
    sha256: &str,
    worker: std::path::PathBuf,
    memory: Option<u64>,
    deadline: Option<f64>,
    isolate: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    let deadline = deadline
        .map(std::time::Duration::try_from_secs_f64)
        .transpose()
        .map_err(|e| raise_text(Kind::Executor, format!("a task's deadline: {e}")))?;
    let settings = Settings {
        worker,
        memory,
        deadline,
        isolate,
    };
    let (key, function) = py.detach(|| load(bytes, sha256, &settings))?;
    let reply = py.detach(|| {
        INSTANCES.with(|cell| {
            let mut map = cell.borrow_mut();
            let ours = format!("{}/", std::process::id());
            if map.keys().any(|k| !k.starts_with(&ours)) {
                // A thread's instances copied by fork belong to the parent: forgotten.
                std::mem::forget(std::mem::take(&mut *map));
            }
            let instance = map.entry(key).or_insert(None);
            task::evaluate(&*function.loaded.function, instance, call)
        })
    });
    let reply = reply.map_err(|e| raise_text(Kind::Executor, format!("a damaged task: {e}")))?;
    Ok(PyBytes::new(py, &reply))
}
