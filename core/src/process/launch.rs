//! Workers started by a launcher, in slots: `ssh`, `srun`, a container runtime, any command
//! that runs `xyz worker` somewhere with its stdin and stdout joined to ours.
//!
//! A [`Launch`] has a fixed number of slots, each started by its own command (slot `i` may be
//! `ssh node{i}`), and the function's file, which each worker is sent over its pipe, so the far
//! side needs nothing but xyz. At most one worker runs in a slot at a time. A worker lost in
//! the middle of a call (its node gone, its connection dropped) frees its slot and its call is
//! made again by another worker; a slot whose launches keep failing, or whose workers keep
//! being lost before they answer a call, is given up, and the run goes on with the others.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::lock;

/// A slot whose launches failed this many times in a row, or whose workers were lost this many
/// times in a row before they answered a call, is given up.
pub(crate) const GIVE_UP_AFTER: u32 = 3;

/// How often one call may lose its worker before it fails.
pub(crate) const MAX_LOSSES: u32 = 3;

/// The command that starts the worker of one slot: the program and its arguments.
pub type SlotCommand = dyn Fn(usize) -> (PathBuf, Vec<OsString>) + Send + Sync;

/// How workers are started by a launcher: slots, the command of each, and the function's file
/// sent to every worker (see [`ProcessFunction::launch`](super::ProcessFunction::launch)).
pub struct Launch {
    /// How many workers may run at once, each in its own slot.
    pub slots: usize,
    /// The command starting slot `i`'s worker, which must serve the function over its stdin
    /// and stdout after being sent [`module`](Self::module).
    pub command: Box<SlotCommand>,
    /// The function's file, sent to each worker first.
    pub module: Arc<[u8]>,
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launch")
            .field("slots", &self.slots)
            .field("command(0)", &(self.command)(0))
            .field("module", &format_args!("{} bytes", self.module.len()))
            .finish()
    }
}

/// What became of one slot's workers over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SlotReport {
    /// The slot's index (`{i}` in its command).
    pub slot: usize,
    /// Workers started and greeted in it.
    pub started: u64,
    /// Calls its workers answered.
    pub calls: u64,
    /// Workers lost in the middle of a call, whose calls were made again elsewhere.
    pub lost: u64,
    /// Launches that failed: the command did not start, or its worker did not greet.
    pub failed_starts: u64,
    /// Whether it was given up: after three failed launches in a row, or three workers in a
    /// row lost before they answered a call.
    pub given_up: bool,
    /// The last thing that went wrong in it.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Slot {
    report: SlotReport,
    in_use: bool,
    failing: u32,
    /// Workers lost in a row before they answered a call, since one last did.
    unanswered: u32,
}

/// The slots of a launch: which are taken, and what happened in each.
#[derive(Debug)]
pub(crate) struct Board {
    slots: Mutex<Vec<Slot>>,
    changed: Condvar,
}

/// How long a worker waits for a slot or an idle worker before looking again.
const RECHECK: Duration = Duration::from_millis(500);

/// What [`Board::take`] found.
pub(crate) enum Take {
    /// This slot is now the caller's, to launch a worker in.
    Slot(usize),
    /// Every slot is given up and no worker runs.
    None,
}

impl Board {
    pub(crate) fn new(slots: usize) -> Board {
        Board {
            slots: Mutex::new(
                (0..slots)
                    .map(|slot| Slot {
                        report: SlotReport {
                            slot,
                            ..SlotReport::default()
                        },
                        ..Slot::default()
                    })
                    .collect(),
            ),
            changed: Condvar::new(),
        }
    }

    /// Waits until `idle` gives a worker (`Ok`), a slot is free to launch one in, or no slot
    /// can ever give one.
    pub(crate) fn take<W>(&self, mut idle: impl FnMut() -> Option<W>) -> Result<W, Take> {
        let mut slots = lock(&self.slots);
        loop {
            // Looked at under the board's lock, which whoever returns a worker takes to say so.
            if let Some(w) = idle() {
                return Ok(w);
            }
            if let Some(s) = slots.iter_mut().find(|s| !s.in_use && !s.report.given_up) {
                s.in_use = true;
                return Err(Take::Slot(s.report.slot));
            }
            if !slots.iter().any(|s| s.in_use) {
                return Err(Take::None);
            }
            slots = self
                .changed
                .wait_timeout(slots, RECHECK)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// A launch in `slot` gave a worker.
    pub(crate) fn started(&self, slot: usize) {
        let mut slots = lock(&self.slots);
        slots[slot].report.started += 1;
        slots[slot].failing = 0;
    }

    /// A launch in `slot` failed; the slot is free again, or given up.
    pub(crate) fn failed_start(&self, slot: usize, error: String) {
        let mut slots = lock(&self.slots);
        let s = &mut slots[slot];
        s.in_use = false;
        s.failing += 1;
        s.report.failed_starts += 1;
        s.report.given_up = s.failing >= GIVE_UP_AFTER;
        s.report.last_error = Some(error);
        self.changed.notify_all();
    }

    /// A worker in `slot` answered a call.
    pub(crate) fn called(&self, slot: usize) {
        let mut slots = lock(&self.slots);
        slots[slot].report.calls += 1;
        slots[slot].unanswered = 0;
    }

    /// The worker in `slot` was lost in the middle of a call; `unanswered` if that was the
    /// first call it was given, and one no other worker had lost: three such in a row give the
    /// slot up (its workers start, but cannot work).
    pub(crate) fn lost(&self, slot: usize, error: String, unanswered: bool) {
        let mut slots = lock(&self.slots);
        let s = &mut slots[slot];
        s.report.lost += 1;
        if unanswered {
            s.unanswered += 1;
        }
        if s.unanswered >= GIVE_UP_AFTER {
            s.report.given_up = true;
            s.report.last_error = Some(format!(
                "{GIVE_UP_AFTER} workers in a row were lost before they answered a call; the \
                 last: {error}"
            ));
        } else {
            s.report.last_error = Some(error);
        }
    }

    /// The worker in `slot` is gone: the slot is free.
    pub(crate) fn release(&self, slot: usize) {
        lock(&self.slots)[slot].in_use = false;
        self.changed.notify_all();
    }

    /// A worker went back to the idle pool: whoever waits for one is told.
    pub(crate) fn returned(&self) {
        let _slots = lock(&self.slots);
        self.changed.notify_all();
    }

    pub(crate) fn reports(&self) -> Vec<SlotReport> {
        lock(&self.slots).iter().map(|s| s.report.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_taken_once_given_up_after_failures_and_freed() {
        let board = Board::new(2);
        let none = || None::<()>;
        assert!(matches!(board.take(none), Err(Take::Slot(0))));
        assert!(matches!(board.take(none), Err(Take::Slot(1))));
        // Both taken: an idle worker is what the next taker gets.
        assert!(matches!(board.take(|| Some(7)), Ok(7)));
        for _ in 0..GIVE_UP_AFTER {
            board.failed_start(1, "refused".into());
            if !board.reports()[1].given_up {
                assert!(matches!(board.take(none), Err(Take::Slot(1))));
            }
        }
        assert!(board.reports()[1].given_up);
        board.release(0);
        assert!(matches!(board.take(none), Err(Take::Slot(0))));
        board.started(0);
        board.release(0);
        board.failed_start(0, "gone".into());
        board.failed_start(0, "gone".into());
        board.failed_start(0, "gone".into());
        assert!(matches!(board.take(none), Err(Take::None)));
        let r = board.reports();
        assert_eq!((r[0].started, r[0].failed_starts), (1, 3));
        assert_eq!(r[1].last_error.as_deref(), Some("refused"));
    }

    #[test]
    fn a_slot_whose_workers_are_lost_before_answering_is_given_up() {
        let board = Board::new(1);
        let none = || None::<()>;
        // Losses that speak of the call, or between answered calls, keep the slot.
        for unanswered in [false, false, true, true] {
            assert!(matches!(board.take(none), Err(Take::Slot(0))));
            board.started(0);
            board.lost(0, "retried".into(), unanswered);
            board.release(0);
        }
        board.called(0);
        for _ in 0..GIVE_UP_AFTER - 1 {
            assert!(matches!(board.take(none), Err(Take::Slot(0))));
            board.lost(0, "ended in the middle of a call".into(), true);
            board.release(0);
        }
        assert!(!board.reports()[0].given_up);
        assert!(matches!(board.take(none), Err(Take::Slot(0))));
        board.lost(0, "ended in the middle of a call".into(), true);
        board.release(0);
        assert!(matches!(board.take(none), Err(Take::None)));
        let r = &board.reports()[0];
        assert!(r.given_up);
        assert_eq!(r.lost, 7);
        assert_eq!(
            r.last_error.as_deref(),
            Some(
                "3 workers in a row were lost before they answered a call; the last: ended in \
                 the middle of a call"
            )
        );
    }

    #[test]
    fn a_taker_waits_for_a_worker_returned_by_another_thread() {
        let board = Arc::new(Board::new(1));
        assert!(matches!(board.take(|| None::<()>), Err(Take::Slot(0))));
        let pool = Arc::new(Mutex::new(Vec::new()));
        let (b, p) = (board.clone(), pool.clone());
        let other = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            lock(&p).push(5);
            b.returned();
        });
        assert!(matches!(board.take(|| lock(&pool).pop()), Ok(5)));
        other.join().unwrap();
    }
}
