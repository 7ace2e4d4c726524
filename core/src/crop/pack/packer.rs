//! Gathering the results of a grow into packs: a [`Packer`] is filled by the threads of a
//! grow and writes its pack when full, when due by time, when told to stop, and at the end.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{INTERVAL, Pack};
use crate::crop::result::Encoded;
use crate::crop::{CropError, StopToken};

/// How often a packer's timer looks whether the process was told to stop.
const POLL: Duration = Duration::from_millis(50);
/// How a [`Packer`] writes a pack.
pub(crate) type Write<'a> = dyn Fn(Pack) -> Result<(), CropError> + Sync + 'a;

/// A pack being gathered by the threads of a grow, written by `write` when full (by the thread
/// that filled it), when due by time (by [`Packer::keep_time`], even if no other batch is done
/// meanwhile), and at [`Packer::finish`].
pub(crate) struct Packer<'a> {
    state: Mutex<PackerState>,
    wake: Condvar,
    write: &'a Write<'a>,
    stop: StopToken,
}

#[derive(Default)]
struct PackerState {
    pack: Pack,
    finished: bool,
    /// The first error of a write by the timer.
    error: Option<CropError>,
    /// Whether the timer wrote what was gathered since the process was told to stop.
    answered: bool,
}

impl<'a> Packer<'a> {
    /// A packer writing with `write`, which writes what it gathered at once when `stop` is
    /// told to.
    pub(crate) fn new(write: &'a Write<'a>, stop: &StopToken) -> Packer<'a> {
        // Counted until dropped, after its last write.
        stop.enter();
        Packer {
            state: Mutex::new(PackerState::default()),
            wake: Condvar::new(),
            write,
            stop: stop.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PackerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a batch's result, and writes the pack if that fills it.
    pub(crate) fn push(&self, encoded: Encoded) -> Result<(), CropError> {
        let full = {
            let mut state = self.lock();
            let first = state.pack.results.is_empty();
            state.pack.push(encoded);
            if first {
                // A new deadline for the timer.
                self.wake.notify_all();
            }
            let due = state.pack.is_due() || self.stop.is_stopping();
            due.then(|| state.pack.take())
        };
        full.map_or(Ok(()), |full| (self.write)(full))
    }

    /// Writes what is gathered now, if anything.
    pub(crate) fn flush(&self) -> Result<(), CropError> {
        let pack = self.lock().pack.take();
        if pack.results.is_empty() {
            return Ok(());
        }
        (self.write)(pack)
    }

    /// Whether nothing is gathered.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().pack.results.is_empty()
    }

    /// Writes the pack each time it is due by time, until [`Packer::finish`].
    /// Told to stop ([`StopToken::write_gathered`]), it writes what is gathered at once.
    pub(crate) fn keep_time(&self) {
        let mut state = self.lock();
        while !state.finished {
            let stopping = self.stop.is_stopping();
            match state.pack.since {
                None if stopping && !state.answered => {
                    state.answered = true;
                    self.stop.answer();
                }
                None => {
                    state = self
                        .wake
                        .wait_timeout(state, POLL)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                Some(since) => {
                    let left = INTERVAL.saturating_sub(since.elapsed());
                    if left.is_zero() || stopping {
                        let due = state.pack.take();
                        drop(state);
                        let written = (self.write)(due);
                        state = self.lock();
                        if let Err(e) = written {
                            state.error.get_or_insert(e);
                        }
                    } else {
                        state = self
                            .wake
                            .wait_timeout(state, left.min(POLL))
                            .unwrap_or_else(PoisonError::into_inner)
                            .0;
                    }
                }
            }
        }
    }

    /// Ends the timer, without writing anything.
    pub(crate) fn end_timer(&self) {
        self.lock().finished = true;
        self.wake.notify_all();
    }

    /// Ends the timer and writes what is left: the first error of the timer's writes or of
    /// this one.
    pub(crate) fn finish(&self) -> Result<(), CropError> {
        let (last, error) = {
            let mut state = self.lock();
            state.finished = true;
            self.wake.notify_all();
            (state.pack.take(), state.error.take())
        };
        let written = if last.results.is_empty() {
            Ok(())
        } else {
            (self.write)(last)
        };
        error.map_or(written, Err)
    }
}

impl Drop for Packer<'_> {
    fn drop(&mut self) {
        let answered = self.lock().answered;
        self.stop.leave(answered);
    }
}
