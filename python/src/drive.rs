//! Running the engine from Python: the work goes on in a thread of its own while the calling
//! thread, the GIL released, wakes ten times a second to pass on progress and to notice a
//! Ctrl-C (or a notebook's interrupt), which cancels the work and raises once it stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::control::Control;
use crate::errors::{Kind, raise_text};
use crate::remote::ExecutorFunction;

/// How often the calling thread looks for signals and reports progress.
const TICK: Duration = Duration::from_millis(100);

/// Runs `work` in a thread of its own, the GIL released, calling `progress(done, total)` when the
/// count of cases done moves and `on_cancel()` once if a signal handler raises (Ctrl-C): then
/// `control.cancel` is set, the work is waited for, and the handler's exception raised.
pub fn drive<T: Send>(
    py: Python<'_>,
    control: &Control,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let finished = &AtomicBool::new(false);
    std::thread::scope(|s| {
        let driver = std::thread::current();
        let handle = s.spawn(move || {
            let out = work();
            finished.store(true, Ordering::Release);
            driver.unpark();
            out
        });
        let mut reported = 0;
        let mut interrupt = None;
        loop {
            py.detach(|| {
                let until = Instant::now() + TICK;
                while !finished.load(Ordering::Acquire) {
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    std::thread::park_timeout(until - now);
                }
            });
            let done = control.done.load(Ordering::Relaxed);
            if let Some(p) = progress
                && done != reported
                && interrupt.is_none()
            {
                reported = done;
                let total = control.total.load(Ordering::Relaxed);
                if let Err(e) = p.call1((done, total)) {
                    control.cancel.store(true, Ordering::SeqCst);
                    interrupt = Some(e);
                }
            }
            if finished.load(Ordering::Acquire) {
                break;
            }
            if interrupt.is_none()
                && let Err(e) = py.check_signals()
            {
                control.cancel.store(true, Ordering::SeqCst);
                if let Some(f) = on_cancel {
                    // The work stops by the flag alone if the callback fails.
                    let _ = f.call0();
                }
                interrupt = Some(e);
            }
        }
        let out = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match interrupt {
            Some(e) => Err(e),
            None => Ok(out),
        }
    })
}

/// Where the cases of a piece of work are evaluated: a loaded function on this process's
/// threads, or an executor standing for it (`(xyz._executor.call, task)`).
pub struct Engine<'a> {
    /// The function, loaded here.
    pub function: &'a dyn xyz::Function,
    /// The executor's call and task, when an executor evaluates the cases.
    pub executor: Option<(Py<PyAny>, Py<PyAny>)>,
    /// Threads here: each evaluates a chunk at a time, or waits for one an executor evaluates.
    pub threads: usize,
}

impl Engine<'_> {
    /// Runs `job` with the function to evaluate (the loaded one, or the executor's stand-in),
    /// a pool of threads and the work's [`Control`] (`total` cases in all), driven from Python
    /// by [`drive`]. An executor that failed a task for good raises its error, a Ctrl-C its
    /// interrupt; otherwise `job`'s own result is given.
    pub fn drive<T: Send, E: Send>(
        &self,
        py: Python<'_>,
        total: u64,
        progress: Option<&Bound<'_, PyAny>>,
        on_cancel: Option<&Bound<'_, PyAny>>,
        job: impl FnOnce(&dyn xyz::Function, &dyn xyz::Executor, &Control) -> Result<T, E> + Send,
    ) -> PyResult<Result<T, E>> {
        let control = Arc::new(Control::default());
        control.total.store(total, Ordering::Relaxed);
        let error = Arc::new(Mutex::new(None));
        let remote = self.executor.as_ref().map(|(call, task)| ExecutorFunction {
            signature: self.function.signature().clone(),
            sha256: self.function.sha256().unwrap_or_default().to_string(),
            task: task.clone_ref(py),
            call: call.clone_ref(py),
            control: control.clone(),
            error: error.clone(),
        });
        let function: &dyn xyz::Function = match &remote {
            Some(r) => r,
            None => self.function,
        };
        let pool = xyz::executor::with_threads(self.threads)
            .map_err(|e| raise_text(Kind::Spec, format!("num_workers: {e}")))?;
        let result = drive(py, &control, progress, on_cancel, || {
            job(function, &*pool, &control)
        });
        if let Some(e) = error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        result
    }
}
