//! Running the engine from Python: the work goes on in a thread of its own while the calling
//! thread, the GIL released, wakes ten times a second to pass on progress and to notice a
//! Ctrl-C (or a notebook's interrupt), which cancels the work and raises once it stopped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// How often the calling thread looks for signals and reports progress.
const TICK: Duration = Duration::from_millis(100);

/// What a piece of work shares with the thread that drives it.
#[derive(Debug, Default)]
pub struct Control {
    /// Set to cancel the work (a run checks it before each chunk).
    pub cancel: AtomicBool,
    /// Cases done so far.
    pub done: AtomicU64,
    /// Cases the work evaluates in all.
    pub total: AtomicU64,
}

impl Control {
    /// Counts `n` more cases done.
    pub fn tick(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

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
