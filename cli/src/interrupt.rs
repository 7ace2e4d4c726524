//! Stopping a command cleanly on SIGINT (Ctrl-C) or SIGTERM (a scheduler's at the end of a
//! job's time): the signals are blocked in every thread and waited for in a thread of their
//! own, which sets a flag the work stops at, so that what is half written is removed and what
//! was there is left. A second signal ends the process at once.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Blocks SIGINT and SIGTERM in this thread and the threads it starts from now on, and waits
/// for them in a thread of its own; gives the flag the first of them sets. Call it before any
/// other thread is started.
#[cfg(unix)]
pub(crate) fn on_interrupt() -> &'static AtomicBool {
    // SAFETY: the set is initialised by sigemptyset before use; pthread_sigmask and sigwait
    // only read it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return &STOP;
        }
        std::thread::spawn(move || {
            let mut sig = 0;
            while libc::sigwait(&set, &mut sig) == 0 {
                if STOP.swap(true, Ordering::Relaxed) {
                    // Asked twice: no waiting for the work to stop.
                    std::process::exit(128 + sig);
                }
                SIGNAL.store(sig, Ordering::Relaxed);
            }
        });
    }
    &STOP
}

#[cfg(not(unix))]
pub(crate) fn on_interrupt() -> &'static AtomicBool {
    &STOP
}

/// The signal that stopped the work, if one did: its name and the exit code a shell gives a
/// process it ended (128 + its number).
pub(crate) fn stopped_by() -> Option<(&'static str, u8)> {
    #[cfg(unix)]
    match SIGNAL.load(Ordering::Relaxed) {
        libc::SIGINT => Some(("SIGINT", 130)),
        libc::SIGTERM => Some(("SIGTERM", 143)),
        _ => None,
    }
    #[cfg(not(unix))]
    None
}
