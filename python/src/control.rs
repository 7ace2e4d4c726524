//! What a piece of work shares with the thread that drives it from Python, and with the
//! executor standing in for its function: the cancel flag and the count of cases done.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
