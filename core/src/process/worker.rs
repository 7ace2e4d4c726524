//! One worker process: its pipes, its watchdog thread, and how it is ended.

use std::io::{self, BufReader, BufWriter};
use std::process::{Child, ChildStdin, ChildStdout};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::launch::Board;
use super::wire;

/// One worker process, its pipes and its watchdog.
pub(super) struct Worker {
    /// `None` once closed, to tell the worker to end.
    pub(super) stdin: Option<BufWriter<ChildStdin>>,
    pub(super) stdout: BufReader<ChildStdout>,
    /// The last message read, kept for its allocation.
    pub(super) buf: Vec<u8>,
    pub(super) guard: Arc<Guard>,
    pub(super) watchdog: Option<JoinHandle<()>>,
    pub(super) drain: Option<JoinHandle<()>>,
    pub(super) stderr: Arc<Mutex<Vec<u8>>>,
    /// The launch slot it runs in, freed when it goes.
    pub(super) slot: Option<(usize, Arc<Board>)>,
    /// Calls it answered.
    pub(super) answered: u64,
}

impl Worker {
    /// The worker's stdin, unless closed.
    pub(super) fn input(&mut self) -> io::Result<&mut BufWriter<ChildStdin>> {
        self.stdin.as_mut().ok_or_else(|| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the worker's stdin is closed")
        })
    }

    /// Closes the worker's stdin, which ends a sound worker (and lets a launcher such as
    /// `srun` end its step cleanly), and gives it `grace` to exit.
    pub(super) fn close(&mut self, grace: Duration) {
        drop(self.stdin.take());
        let until = Instant::now() + grace;
        // Not reaped here: `kill` then ends whatever the worker left in its group.
        while !has_exited(&lock(&self.guard.state).child) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub(super) fn in_slot(mut self, slot: Option<(usize, Arc<Board>)>) -> Worker {
        self.slot = slot;
        self
    }

    /// Reads the worker's greeting: the signature and sha256 it serves.
    pub(super) fn hello(&mut self) -> io::Result<(String, Option<String>)> {
        wire::read_hello(&mut self.stdout)?.map_err(io::Error::other)
    }

    /// Kills the worker and whatever it started, if they still run, and reaps it.
    pub(super) fn kill(&mut self) -> Option<std::process::ExitStatus> {
        let mut state = lock(&self.guard.state);
        state.quit = true;
        self.guard.wake.notify_all();
        kill_group(&mut state.child);
        state.child.wait().ok()
    }

    /// What is known of a dead worker: how it ended and the end of its stderr.
    pub(super) fn postmortem(&mut self, status: Option<std::process::ExitStatus>) -> String {
        // The stderr drain ends when every writer is gone; a process that escaped the
        // worker's group may hold it open, so it is given a moment, not waited for.
        let until = Instant::now() + Duration::from_millis(500);
        while self.drain.as_ref().is_some_and(|d| !d.is_finished()) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(drain) = self.drain.take_if(|d| d.is_finished()) {
            let _ = drain.join();
        }
        let mut s = String::new();
        if let Some(status) = status.filter(|s| !s.success()) {
            s.push_str(&format!(" ({status})"));
        }
        let kept = lock(&self.stderr);
        let text = String::from_utf8_lossy(&kept);
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(first) = lines.first() {
            s.push_str(&format!("; it said: {first}"));
            if lines.len() > 1 {
                s.push_str(" (…)");
            }
        }
        s
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.close(if self.slot.is_some() {
            LAUNCHED_GRACE
        } else {
            LOCAL_GRACE
        });
        self.kill();
        if let Some((slot, board)) = self.slot.take() {
            board.release(slot);
        }
        if let Some(w) = self.watchdog.take() {
            let _ = w.join();
        }
        // The drain is not joined: it ends by itself when the last writer of the worker's
        // stderr is gone, which a process that left the worker's group may delay.
        if let Some(d) = self.drain.take_if(|d| d.is_finished()) {
            let _ = d.join();
        }
    }
}

/// How long a local worker is given to exit once its stdin is closed.
pub(super) const LOCAL_GRACE: Duration = Duration::from_millis(500);
/// How long a launched worker (and its launcher) is given to exit once its stdin is closed.
pub(super) const LAUNCHED_GRACE: Duration = Duration::from_secs(5);
/// How long a worker's group is given to end at SIGTERM before SIGKILL.
pub(super) const TERM_GRACE: Duration = Duration::from_millis(200);

/// Kills `child` and, on Unix, its process group (the worker leads one of its own), so that
/// children a function forked do not outlive it and hold its pipes open. SIGTERM comes first,
/// so that a launcher (`srun`, `ssh`) can end what it started on the far side; SIGKILL follows
/// after a moment, to the whole group, even if its leader has exited.
pub(super) fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // Only while the child is not reaped (running, or exited and not yet waited for) is
        // its pid its group's id for certain.
        if peek(child) != Peek::Reaped {
            // SAFETY: kill has no memory effects; a negative pid names the group.
            unsafe { libc::kill(-pid, libc::SIGTERM) };
            let until = Instant::now() + TERM_GRACE;
            while !has_exited(child) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
            // SAFETY: as above; the child is still not reaped.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
    let _ = child.kill();
}

/// What became of a child, looked at without reaping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Peek {
    /// It runs.
    Running,
    /// It exited and is not yet waited for: its pid still names it and its group.
    Exited,
    /// It was waited for already.
    Reaped,
}

pub(super) fn peek(child: &Child) -> Peek {
    #[cfg(unix)]
    {
        // SAFETY: an all-zero siginfo_t is valid; waitid writes only into it, and WNOWAIT
        // leaves the child waitable.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r != 0 {
            return Peek::Reaped;
        }
        // SAFETY: a successful waitid set si_pid: 0 when the child has not exited.
        if unsafe { info.si_pid() } == 0 {
            Peek::Running
        } else {
            Peek::Exited
        }
    }
    #[cfg(not(unix))]
    {
        let _ = child;
        Peek::Running
    }
}

/// Whether `child` has exited, without reaping it.
pub(super) fn has_exited(child: &Child) -> bool {
    peek(child) != Peek::Running
}

/// The watchdog's view of a worker.
pub(super) struct Guard {
    pub(super) state: Mutex<GuardState>,
    pub(super) wake: Condvar,
}

pub(super) struct GuardState {
    pub(super) child: Child,
    /// When the call in progress must end.
    pub(super) armed: Option<Instant>,
    /// When the watchdog's wait ends, while it waits for a deadline; `None` while it waits
    /// for none (or has not started).
    pub(super) sleeping_until: Option<Instant>,
    /// The watchdog killed the worker.
    pub(super) fired: bool,
    /// The worker is going away.
    pub(super) quit: bool,
}

impl Guard {
    pub(super) fn watch(&self) {
        let mut state = lock(&self.state);
        while !state.quit {
            state = match state.armed {
                None => {
                    state.sleeping_until = None;
                    self.wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        kill_group(&mut state.child);
                        state.fired = true;
                        state.armed = None;
                        state
                    } else {
                        state.sleeping_until = Some(at);
                        self.wake
                            .wait_timeout(state, at - now)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                }
            };
        }
    }

    /// Arms the watchdog for a call that must end within `deadline`. The watchdog is woken
    /// only when it would otherwise wake too late: when it waits for no deadline, or for a
    /// later one. Calls in a row arm it with ever later deadlines, so it wakes about once per
    /// deadline, not once per call, and finds the newest deadline then.
    pub(super) fn arm(&self, deadline: Duration) {
        let mut state = lock(&self.state);
        let at = Instant::now() + deadline;
        state.armed = Some(at);
        if state.sleeping_until.is_none_or(|until| until > at) {
            self.wake.notify_all();
        }
    }

    /// Disarms the watchdog; true if it fired.
    pub(super) fn disarm(&self) -> bool {
        let mut state = lock(&self.state);
        state.armed = None;
        state.fired
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;
    use std::process::Command;

    /// Whether process `pid` has ended (gone, or a zombie no one has reaped yet).
    fn ended(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => true,
        }
    }

    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < until, "{what} did not happen within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn killing_a_worker_ends_what_it_forked() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("forked");
        // A worker leads a process group of its own, as the pool starts it; what the function
        // forks is in that group, and holds the worker's pipes.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("sleep 60 & echo $! > {}; wait", pid_file.display()))
            .process_group(0)
            .spawn()
            .unwrap();
        let mut forked = 0;
        wait_for("the fork", || {
            forked = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0);
            forked != 0
        });
        assert_eq!(peek(&child), Peek::Running);
        kill_group(&mut child);
        child.wait().unwrap();
        wait_for("the forked process's end", || ended(forked));
    }

    #[test]
    fn an_exited_worker_is_seen_without_being_reaped() {
        let mut child = Command::new("sh")
            .args(["-c", "exit 3"])
            .process_group(0)
            .spawn()
            .unwrap();
        wait_for("the exit", || has_exited(&child));
        assert_eq!(peek(&child), Peek::Exited);
        // Still there to be reaped, with its status.
        assert_eq!(child.wait().unwrap().code(), Some(3));
        assert_eq!(peek(&child), Peek::Reaped);
        // Killing a reaped child's group touches no other process.
        kill_group(&mut child);
    }
}
