//! The deadline clock: the engine's epoch, incremented every [`TICK`] by a thread of its own
//! while a function lives; a store's epoch deadline is a number of ticks.

use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

/// How often the deadline clock ticks.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// The ticks a call may run for to honour `deadline`: a tick more than it spans, as the first
/// may be a fraction of one.
pub(crate) fn ticks(deadline: Duration) -> u64 {
    deadline.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1
}

/// Increments the engine's epoch every [`TICK`] while a function lives. Dropping it stops the
/// thread at once: the thread waits on a channel whose sender the ticker holds.
pub(crate) struct Ticker {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    pub(crate) fn start(engine: &Engine) -> Ticker {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let engine = engine.clone();
        let thread = std::thread::Builder::new()
            .name("xyz-wasm-deadline".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    engine.increment_epoch();
                }
            })
            .ok();
        Ticker {
            stop: Some(stop),
            thread,
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
