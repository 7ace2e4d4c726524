//! A function loaded for Python: a WebAssembly module or native library, from a path or from
//! bytes, under the limits a `Runner` was given, with the bytes kept for executors to carry.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use xyz::load::{FunctionLoader, Loaded, WorkerCommand};

use crate::errors::{Kind, raise, raise_text};

/// A loaded function.
#[pyclass(frozen, module = "xyz._xyz")]
pub struct Function {
    pub(crate) loaded: Loaded,
    pub(crate) path: PathBuf,
    pub(crate) bytes: Py<PyBytes>,
    pub(crate) settings: Settings,
    /// Where a function given as bytes was written, removed with the function.
    _dir: Option<tempfile::TempDir>,
}

/// How a function is loaded, in this process or in another (an executor's).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The `xyz` executable the wheel carries: every function is first loaded in one of its
    /// worker processes (bounded in time), and isolated ones are served by them.
    pub worker: PathBuf,
    /// The memory limit of an instance, in bytes.
    pub memory: Option<u64>,
    /// The deadline of a call; `None` for the default.
    pub deadline: Option<Duration>,
    /// Whether the function runs in worker processes (killed at the deadline).
    pub isolate: bool,
}

impl Settings {
    /// The loader these settings make.
    pub fn loader(&self) -> FunctionLoader {
        let mut loader = FunctionLoader::new();
        loader.memory(self.memory).isolate(self.isolate);
        if let Some(d) = self.deadline {
            loader.deadline(Some(d));
        }
        // A missing executable is reported when workers start, naming it.
        if let Ok(command) = WorkerCommand::of(self.worker.clone()) {
            loader.worker_command(command);
        }
        loader
    }
}

/// A size in bytes: an int, or text such as `"256MiB"`.
pub fn size_of(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<u64>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(n) = v.extract::<u64>() {
        return Ok(Some(n));
    }
    let text: String = v.extract().map_err(|_| {
        raise_text(
            Kind::Spec,
            format!("{what}: expected bytes as an int or text such as \"256MiB\""),
        )
    })?;
    xyz::spec::parse_size(&text)
        .map(Some)
        .map_err(|e| raise_text(Kind::Spec, format!("{what}: {e}")))
}

/// A duration: seconds as a number, or text such as `"60s"`.
pub fn duration_of(value: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Duration>> {
    let Some(v) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(s) = v.extract::<f64>() {
        return Duration::try_from_secs_f64(s).map(Some).map_err(|_| {
            raise_text(
                Kind::Spec,
                format!("{what}: {s} is not a number of seconds"),
            )
        });
    }
    let text: String = v.extract().map_err(|_| {
        raise_text(
            Kind::Spec,
            format!("{what}: expected seconds as a number or text such as \"60s\""),
        )
    })?;
    xyz::spec::parse_duration(&text)
        .map(Some)
        .map_err(|e| raise_text(Kind::Spec, format!("{what}: {e}")))
}

#[pymethods]
impl Function {
    /// Loads `source` (a path, or the bytes of a module or library).
    #[new]
    #[pyo3(signature = (source, worker, memory=None, deadline=None, isolate=true))]
    fn new(
        py: Python<'_>,
        source: &Bound<'_, PyAny>,
        worker: PathBuf,
        memory: Option<&Bound<'_, PyAny>>,
        deadline: Option<&Bound<'_, PyAny>>,
        isolate: bool,
    ) -> PyResult<Function> {
        let settings = Settings {
            worker,
            memory: size_of(memory, "memory")?,
            deadline: duration_of(deadline, "deadline")?,
            isolate,
        };
        let (path, dir, bytes) = if let Ok(b) = source.cast::<PyBytes>() {
            let bytes = b.as_bytes().to_vec();
            let (dir, path) = write_bytes(&bytes).map_err(|e| {
                raise_text(Kind::Function, format!("writing the function's bytes: {e}"))
            })?;
            (path, Some(dir), bytes)
        } else {
            let path: PathBuf = source.extract().map_err(|_| {
                raise_text(
                    Kind::Function,
                    "fn: expected the path of a module or library, or its bytes".into(),
                )
            })?;
            let bytes = xyz::read_function_file(&path).map_err(|e| raise(Kind::Function, &e))?;
            (path, None, bytes)
        };
        let loader = settings.loader();
        let loaded = py
            .detach(|| loader.load(&path, &xyz::Limits::default()))
            .map_err(|e| raise(Kind::Function, &e))?;
        Ok(Function {
            loaded,
            path,
            bytes: PyBytes::new(py, &bytes).unbind(),
            settings,
            _dir: dir,
        })
    }

    /// The signature, as `xyz inspect` prints it.
    #[getter]
    fn signature(&self) -> String {
        self.loaded.function.signature().to_string()
    }

    /// The function's name.
    #[getter]
    fn name(&self) -> String {
        self.loaded.function.signature().name.clone()
    }

    /// The names of its arguments, in order.
    #[getter]
    fn args(&self) -> Vec<String> {
        let sig = self.loaded.function.signature();
        sig.args.iter().map(|a| a.name.clone()).collect()
    }

    /// The names of its outputs, in order.
    #[getter]
    fn outputs(&self) -> Vec<String> {
        let sig = self.loaded.function.signature();
        sig.outputs.iter().map(|o| o.name.clone()).collect()
    }

    /// The SHA-256 of its file.
    #[getter]
    fn sha256(&self) -> String {
        self.loaded.sha256.clone()
    }

    /// The file it was loaded from.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The bytes of its file.
    #[getter]
    fn bytes(&self, py: Python<'_>) -> Py<PyBytes> {
        self.bytes.clone_ref(py)
    }

    /// The memory limit of an instance, in bytes, if one was given.
    #[getter]
    fn memory(&self) -> Option<u64> {
        self.settings.memory
    }

    /// The deadline of a call, in seconds, if one was given.
    #[getter]
    fn deadline(&self) -> Option<f64> {
        self.settings.deadline.map(|d| d.as_secs_f64())
    }

    /// Whether the function runs in worker processes.
    #[getter]
    fn isolate(&self) -> bool {
        self.settings.isolate
    }

    fn __repr__(&self) -> String {
        format!("<xyz function {}>", self.signature())
    }
}

/// Writes a function's bytes to a private directory, as a file named by its SHA-256.
pub fn write_bytes(bytes: &[u8]) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::TempDir::with_prefix("xyz-function-")?;
    let path = dir
        .path()
        .join(format!("{}.function", xyz::sha256_hex(bytes)));
    std::fs::write(&path, bytes)?;
    Ok((dir, path))
}
