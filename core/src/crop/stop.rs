//! Telling a grow to stop gathering: what a process told to stop (a scheduler's SIGTERM at the
//! end of a job's time, a Ctrl-C in a notebook) does before it exits, so that it loses no batch
//! it finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Handed to the grows of a process ([`Grow::stop_token`](super::Grow::stop_token)); once
/// told to stop, their packers write what they gathered at once, and each result from then on
/// as soon as it is done. Clones share one state.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<State>);

#[derive(Debug, Default)]
struct State {
    stopping: AtomicBool,
    /// Packers whose timer runs.
    live: AtomicUsize,
    /// How many of them wrote what they held since told to stop.
    answered: AtomicUsize,
}

impl StopToken {
    /// A token no one has told to stop.
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// Whether it was told to stop.
    pub fn is_stopping(&self) -> bool {
        self.0.stopping.load(Ordering::SeqCst)
    }

    /// Tells every packer holding this token to write what it gathered, now, and waits until
    /// they did, for at most `timeout`. True if every packer wrote.
    pub fn write_gathered(&self, timeout: Duration) -> bool {
        self.0.stopping.store(true, Ordering::SeqCst);
        let began = Instant::now();
        loop {
            if self.0.answered.load(Ordering::SeqCst) >= self.0.live.load(Ordering::SeqCst) {
                return true;
            }
            if began.elapsed() >= timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A packer starts holding the token.
    pub(super) fn enter(&self) {
        self.0.live.fetch_add(1, Ordering::SeqCst);
    }

    /// A packer wrote what it held since the token was told to stop.
    pub(super) fn answer(&self) {
        self.0.answered.fetch_add(1, Ordering::SeqCst);
    }

    /// A packer ends, having `answered` or not.
    pub(super) fn leave(&self, answered: bool) {
        if answered {
            self.0.answered.fetch_sub(1, Ordering::SeqCst);
        }
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_waits_for_every_packer_to_answer() {
        let token = StopToken::new();
        assert!(!token.is_stopping());
        assert!(
            token.write_gathered(Duration::ZERO),
            "no packer: nothing to wait for"
        );
        assert!(token.is_stopping());
        let other = token.clone();
        other.enter();
        assert!(!token.write_gathered(Duration::from_millis(20)));
        other.answer();
        assert!(token.write_gathered(Duration::from_millis(20)));
        other.leave(true);
        assert!(StopToken::new().write_gathered(Duration::ZERO));
        assert!(
            !StopToken::new().is_stopping(),
            "tokens do not share a state"
        );
    }
}
