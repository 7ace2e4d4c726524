//! Functions evaluated in worker processes, with a deadline that costs nothing per iteration.
//!
//! A [`ProcessFunction`] runs each instance in a child process that serves a function with
//! [`serve`] over its stdin and stdout (the protocol is in the `wire` module's docs). A watchdog
//! thread per worker kills the child when a call runs past the deadline, so the function's
//! compiled code needs no interruption checks of its own; the call fails with
//! [`FailureKind::Deadline`] and the runner re-runs its chunk case by case in fresh workers, as
//! for any trap. A worker that crashes (a fault in a native library, an abort) fails its call
//! the same way and takes nothing else down.
//!
//! Workers outlive their instances: when the runner drops an instance whose worker is still
//! sound (the call succeeded, or the function trapped inside it and the worker threw that
//! instance away itself), the worker goes back to an idle pool for the next instance.

mod launch;
pub(crate) mod wire;

use self::launch::{Board, Take};
pub use self::launch::{Launch, SlotCommand, SlotReport};

use std::ffi::OsString;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use xyz_abi::Signature;

use crate::function::{Function, Instance, InstantiateError, Trap};
use crate::value::{Column, Columns, EvalOutput, FailureKind};

/// Most of a worker's stderr kept for error messages: its beginning, where a dying process
/// says why (a backtrace may follow).
const STDERR_KEEP: usize = 4096;

/// A function whose instances run in worker processes. See the [module docs](self).
///
/// Clones share the same workers.
#[derive(Clone)]
pub struct ProcessFunction {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    /// The command that starts a worker (in a slot, for a launch).
    command: Box<SlotCommand>,
    /// The function's file, sent to each worker, for a launch.
    module: Option<Arc<[u8]>>,
    /// The slots of a launch; `None` for local workers, as many as asked for.
    board: Option<Arc<Board>>,
    signature: Signature,
    sha256: Option<String>,
    deadline: Option<Duration>,
    load_timeout: Duration,
    idle: Mutex<Vec<Worker>>,
}

/// The default bound on a worker's start: loading, compiling and checking its function.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// What the workers of a [`ProcessFunction`] must serve, and how long they may take to start.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The signature the function must have; `None` learns it from the first worker.
    pub signature: Option<Signature>,
    /// The SHA-256 the function's file must have; `None` learns it from the first worker.
    pub sha256: Option<String>,
    /// Calls running longer than this are stopped by killing their worker; `None` lets calls
    /// run for as long as they take.
    pub deadline: Option<Duration>,
    /// A worker that has not loaded its function and greeted within this is killed, and
    /// starting it fails, saying so. Loading runs the module's start function and signature
    /// export, or a native library's initialisers: code that may never end.
    pub load_timeout: Duration,
}

impl WorkerSpec {
    /// Workers that must serve `signature` with `sha256` (each learned from the first worker
    /// where `None`), calls stopped at `deadline`, and the [default load
    /// timeout](DEFAULT_LOAD_TIMEOUT).
    pub fn new(
        signature: Option<Signature>,
        sha256: Option<String>,
        deadline: Option<Duration>,
    ) -> WorkerSpec {
        WorkerSpec {
            signature,
            sha256,
            deadline,
            load_timeout: DEFAULT_LOAD_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for ProcessFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("ProcessFunction")
            .field("command", &(inner.command)(0))
            .field("launched", &inner.board.is_some())
            .field("signature", &inner.signature.to_string())
            .field("deadline", &inner.deadline)
            .finish_non_exhaustive()
    }
}

impl ProcessFunction {
    /// A function served by `program args...`, which must speak the worker protocol (for
    /// example by calling [`serve`]) and serve a function as `spec` says; each worker is
    /// checked when it starts, and must start within `spec.load_timeout`.
    ///
    /// Starts one worker now, so that a command that cannot serve the function fails here;
    /// what `spec` leaves open (signature, sha256) is learned from it.
    pub fn start(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        spec: WorkerSpec,
    ) -> Result<ProcessFunction, InstantiateError> {
        let program: PathBuf = program.into();
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let command = Box::new(move |_| (program.clone(), args.clone()));
        ProcessFunction::start_with(command, None, None, spec)
    }

    /// A function served by workers started by `launch`: at most one worker in each of its
    /// slots, each sent the function's file over its pipe (so `spec.sha256` should be given:
    /// the worker checks the file against it). A worker lost in the middle of a call has the
    /// call made again by another, up to three times; a slot whose launches fail three times in
    /// a row is given up. See [`slot_reports`](Self::slot_reports) for what happened in each.
    ///
    /// Starts one worker now, in the first slot that can start one, so that a launcher that
    /// cannot serve the function fails here.
    pub fn launch(launch: Launch, spec: WorkerSpec) -> Result<ProcessFunction, InstantiateError> {
        let board = Arc::new(Board::new(launch.slots.max(1)));
        ProcessFunction::start_with(launch.command, Some(launch.module), Some(board), spec)
    }

    fn start_with(
        command: Box<SlotCommand>,
        module: Option<Arc<[u8]>>,
        board: Option<Arc<Board>>,
        spec: WorkerSpec,
    ) -> Result<ProcessFunction, InstantiateError> {
        let mut inner = Inner {
            // Until the first worker says which function it serves.
            name: spec
                .signature
                .as_ref()
                .map_or_else(|| "the function".to_string(), |s| s.name.clone()),
            command,
            module,
            board,
            signature: spec.signature.clone().unwrap_or(Signature {
                name: String::new(),
                args: Vec::new(),
                outputs: Vec::new(),
            }),
            sha256: spec.sha256.clone(),
            deadline: spec.deadline,
            load_timeout: spec.load_timeout,
            idle: Mutex::new(Vec::new()),
        };
        let (first, sig, sha) = inner.first_worker()?;
        if spec.signature.is_none() {
            inner.signature = sig.parse().map_err(|e| {
                inner.error(
                    format!("the worker serves a function with a bad signature `{sig}`: {e}"),
                    None,
                )
            })?;
            inner.name = inner.signature.name.clone();
        }
        if spec.sha256.is_none() {
            inner.sha256 = sha.clone();
        }
        inner.check(&sig, &sha)?;
        inner.put_back(first);
        Ok(ProcessFunction {
            inner: Arc::new(inner),
        })
    }

    /// The deadline of one call.
    pub fn deadline(&self) -> Option<Duration> {
        self.inner.deadline
    }

    /// For workers started by a [`Launch`], what happened in each slot so far; empty for
    /// local workers.
    pub fn slot_reports(&self) -> Vec<SlotReport> {
        self.inner
            .board
            .as_ref()
            .map_or_else(Vec::new, |b| b.reports())
    }
}

impl Inner {
    fn error(&self, message: String, source: Option<io::Error>) -> InstantiateError {
        InstantiateError {
            function: self.name.clone(),
            message,
            source: source.map(|e| Box::new(e) as _),
        }
    }

    /// The first worker, whose greeting tells what is served: for a launch, from the first
    /// slot that starts one.
    fn first_worker(&self) -> Result<(Worker, String, Option<String>), InstantiateError> {
        let Some(board) = &self.board else {
            return self.spawn_unchecked(None);
        };
        loop {
            match board.take(|| None::<Worker>) {
                Ok(_) => unreachable!("no idle worker is offered"),
                Err(Take::Slot(slot)) => match self.spawn_unchecked(Some(slot)) {
                    Ok((first, sig, sha)) => {
                        board.started(slot);
                        return Ok((first.in_slot(Some((slot, board.clone()))), sig, sha));
                    }
                    Err(e) => board.failed_start(slot, e.message.clone()),
                },
                Err(Take::None) => return Err(self.no_slot_left(board)),
            }
        }
    }

    /// A worker for an instance: an idle one, or a new one (for a launch, in a free slot,
    /// waiting for one if every slot is busy).
    fn acquire(&self) -> Result<Worker, InstantiateError> {
        let Some(board) = &self.board else {
            if let Some(w) = lock(&self.idle).pop() {
                return Ok(w);
            }
            return self.spawn(None);
        };
        loop {
            match board.take(|| lock(&self.idle).pop()) {
                Ok(worker) => return Ok(worker),
                Err(Take::Slot(slot)) => match self.spawn(Some(slot)) {
                    Ok(worker) => {
                        board.started(slot);
                        return Ok(worker);
                    }
                    Err(e) => board.failed_start(slot, e.message.clone()),
                },
                Err(Take::None) => return Err(self.no_slot_left(board)),
            }
        }
    }

    /// The error when every slot of a launch has been given up.
    fn no_slot_left(&self, board: &Board) -> InstantiateError {
        let mut message =
            "no worker could be started: every launcher slot was given up".to_string();
        for r in board.reports() {
            if let Some(e) = &r.last_error {
                message.push_str(&format!("; slot {}: {e}", r.slot));
            }
        }
        self.error(message, None)
    }

    /// Puts a sound worker back in the idle pool, telling whoever waits for one.
    fn put_back(&self, worker: Worker) {
        lock(&self.idle).push(worker);
        if let Some(board) = &self.board {
            board.returned();
        }
    }

    fn spawn(&self, slot: Option<usize>) -> Result<Worker, InstantiateError> {
        let (worker, sig, sha) = self.spawn_unchecked(slot)?;
        self.check(&sig, &sha)?;
        Ok(worker.in_slot(slot.zip(self.board.clone())))
    }

    /// Refuses a worker that serves another function than this one.
    fn check(&self, sig: &str, sha: &Option<String>) -> Result<(), InstantiateError> {
        if sig == self.signature.to_string() && *sha == self.sha256 {
            return Ok(());
        }
        Err(self.error(
            format!(
                "the worker serves {sig} (sha256 {}) where {} (sha256 {}) was expected; \
                 did the file change?",
                sha.as_deref().unwrap_or("none"),
                self.signature,
                self.sha256.as_deref().unwrap_or("none"),
            ),
            None,
        ))
    }

    /// Starts a worker and reads its greeting, within the load timeout: the worker, and the
    /// signature and sha256 it serves.
    fn spawn_unchecked(
        &self,
        slot: Option<usize>,
    ) -> Result<(Worker, String, Option<String>), InstantiateError> {
        let (program, args) = (self.command)(slot.unwrap_or(0));
        let mut command = Command::new(&program);
        command
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A group of its own, so that killing the worker kills whatever its function forked.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| {
            self.error(
                format!("could not start the worker {}", program.display()),
                Some(e),
            )
        })?;
        let stdin = BufWriter::with_capacity(1 << 16, child.stdin.take().expect("piped"));
        let stdout = BufReader::with_capacity(1 << 16, child.stdout.take().expect("piped"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let drain = child.stderr.take().map(|mut err| {
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = err.read(&mut buf) {
                    let mut kept = lock(&sink);
                    let room = STDERR_KEEP.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            })
        });
        let guard = Arc::new(Guard {
            state: Mutex::new(GuardState {
                child,
                armed: None,
                sleeping_until: None,
                fired: false,
                quit: false,
            }),
            wake: Condvar::new(),
        });
        let watchdog = {
            let guard = guard.clone();
            Some(std::thread::spawn(move || guard.watch()))
        };
        let mut worker = Worker {
            stdin: Some(stdin),
            stdout,
            buf: Vec::new(),
            guard,
            watchdog,
            drain,
            stderr,
            slot: None,
            answered: 0,
        };
        worker.guard.arm(self.load_timeout);
        let sent = match &self.module {
            Some(module) => worker.input().and_then(|w| wire::write_module(w, module)),
            None => Ok(()),
        };
        let hello = sent.and_then(|()| worker.hello());
        let fired = worker.guard.disarm();
        match hello {
            Ok((sig, sha)) if !fired => Ok((worker, sig, sha)),
            _ if fired => {
                worker.kill();
                Err(self.error(
                    format!(
                        "loading the function did not finish within {:?} (its start-up code, \
                         signature or a library initialiser may never end); raise the bound \
                         with --load-timeout",
                        self.load_timeout
                    ),
                    None,
                ))
            }
            Ok(_) => unreachable!("covered above"),
            Err(e) => {
                let status = worker.kill();
                let how = if matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe
                ) {
                    "it ended before saying which function it serves".to_string()
                } else {
                    e.to_string()
                };
                let mut message =
                    format!("the worker `{}` did not start: {how}", program.display());
                message.push_str(&worker.postmortem(status));
                Err(self.error(message, None))
            }
        }
    }
}

impl Function for ProcessFunction {
    fn signature(&self) -> &Signature {
        &self.inner.signature
    }

    fn sha256(&self) -> Option<&str> {
        self.inner.sha256.as_deref()
    }

    fn instantiate(&self) -> Result<Box<dyn Instance>, InstantiateError> {
        let worker = self.inner.acquire()?;
        Ok(Box::new(ProcessInstance {
            function: self.inner.clone(),
            worker: Some(worker),
        }))
    }
}

/// One worker process, its pipes and its watchdog.
struct Worker {
    /// `None` once closed, to tell the worker to end.
    stdin: Option<BufWriter<ChildStdin>>,
    stdout: BufReader<ChildStdout>,
    /// The last message read, kept for its allocation.
    buf: Vec<u8>,
    guard: Arc<Guard>,
    watchdog: Option<JoinHandle<()>>,
    drain: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The launch slot it runs in, freed when it goes.
    slot: Option<(usize, Arc<Board>)>,
    /// Calls it answered.
    answered: u64,
}

impl Worker {
    /// The worker's stdin, unless closed.
    fn input(&mut self) -> io::Result<&mut BufWriter<ChildStdin>> {
        self.stdin.as_mut().ok_or_else(|| {
            io::Error::new(io::ErrorKind::BrokenPipe, "the worker's stdin is closed")
        })
    }

    /// Closes the worker's stdin, which ends a sound worker (and lets a launcher such as
    /// `srun` end its step cleanly), and gives it `grace` to exit.
    fn close(&mut self, grace: Duration) {
        drop(self.stdin.take());
        let until = Instant::now() + grace;
        // Not reaped here: `kill` then ends whatever the worker left in its group.
        while !has_exited(&lock(&self.guard.state).child) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn in_slot(mut self, slot: Option<(usize, Arc<Board>)>) -> Worker {
        self.slot = slot;
        self
    }

    /// Reads the worker's greeting: the signature and sha256 it serves.
    fn hello(&mut self) -> io::Result<(String, Option<String>)> {
        wire::read_hello(&mut self.stdout)?.map_err(io::Error::other)
    }

    /// Kills the worker and whatever it started, if they still run, and reaps it.
    fn kill(&mut self) -> Option<std::process::ExitStatus> {
        let mut state = lock(&self.guard.state);
        state.quit = true;
        self.guard.wake.notify_all();
        kill_group(&mut state.child);
        state.child.wait().ok()
    }

    /// What is known of a dead worker: how it ended and the end of its stderr.
    fn postmortem(&mut self, status: Option<std::process::ExitStatus>) -> String {
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
const LOCAL_GRACE: Duration = Duration::from_millis(500);
/// How long a launched worker (and its launcher) is given to exit once its stdin is closed.
const LAUNCHED_GRACE: Duration = Duration::from_secs(5);
/// How long a worker's group is given to end at SIGTERM before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(200);

/// Kills `child` and, on Unix, its process group (the worker leads one of its own), so that
/// children a function forked do not outlive it and hold its pipes open. SIGTERM comes first,
/// so that a launcher (`srun`, `ssh`) can end what it started on the far side; SIGKILL follows
/// after a moment, to the whole group, even if its leader has exited.
fn kill_group(child: &mut Child) {
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
enum Peek {
    /// It runs.
    Running,
    /// It exited and is not yet waited for: its pid still names it and its group.
    Exited,
    /// It was waited for already.
    Reaped,
}

fn peek(child: &Child) -> Peek {
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
fn has_exited(child: &Child) -> bool {
    peek(child) != Peek::Running
}

/// The watchdog's view of a worker.
struct Guard {
    state: Mutex<GuardState>,
    wake: Condvar,
}

struct GuardState {
    child: Child,
    /// When the call in progress must end.
    armed: Option<Instant>,
    /// When the watchdog's wait ends, while it waits for a deadline; `None` while it waits
    /// for none (or has not started).
    sleeping_until: Option<Instant>,
    /// The watchdog killed the worker.
    fired: bool,
    /// The worker is going away.
    quit: bool,
}

impl Guard {
    fn watch(&self) {
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
    fn arm(&self, deadline: Duration) {
        let mut state = lock(&self.state);
        let at = Instant::now() + deadline;
        state.armed = Some(at);
        if state.sleeping_until.is_none_or(|until| until > at) {
            self.wake.notify_all();
        }
    }

    /// Disarms the watchdog; true if it fired.
    fn disarm(&self) -> bool {
        let mut state = lock(&self.state);
        state.armed = None;
        state.fired
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct ProcessInstance {
    function: Arc<Inner>,
    /// `None` once the worker died.
    worker: Option<Worker>,
}

impl Instance for ProcessInstance {
    fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
        let mut losses = 0;
        loop {
            match self.call(args, out, losses == 0) {
                Err(Call::Lost(trap)) => {
                    // A launched worker gone in the middle of a call: its node or connection,
                    // not the function, unless it keeps happening.
                    losses += 1;
                    if losses >= launch::MAX_LOSSES {
                        return Err(Trap {
                            message: format!(
                                "{} (its worker was lost {losses} times)",
                                trap.message
                            ),
                            ..trap
                        });
                    }
                    match self.function.acquire() {
                        Ok(worker) => self.worker = Some(worker),
                        Err(e) => {
                            return Err(Trap {
                                kind: FailureKind::Trap,
                                message: format!(
                                    "{}; no other worker could take it: {e}",
                                    trap.message
                                ),
                            });
                        }
                    }
                    out.reset(&self.function.signature.outputs, args.n);
                }
                Err(Call::Failed(trap)) => return Err(trap),
                Ok(reply) => return reply,
            }
        }
    }
}

/// How a call to a worker ended, when it did not end with a reply.
enum Call {
    /// The worker failed: the function's doing, or its deadline.
    Failed(Trap),
    /// A launched worker went away in the middle of the call, for no reason of the function's.
    Lost(Trap),
}

impl ProcessInstance {
    /// Makes the call `args` (for the first time, or again after a lost worker).
    fn call(
        &mut self,
        args: &Columns,
        out: &mut EvalOutput,
        first: bool,
    ) -> Result<Result<(), Trap>, Call> {
        let deadline = self.function.deadline;
        let worker = self.worker.as_mut().ok_or_else(|| {
            Call::Failed(Trap {
                kind: FailureKind::Trap,
                message: "the worker process is gone".into(),
            })
        })?;
        if let Some(d) = deadline {
            worker.guard.arm(d);
        }
        let result = worker
            .input()
            .and_then(|w| wire::write_eval(w, args))
            .and_then(|()| {
                wire::read_reply(
                    &mut worker.stdout,
                    &mut worker.buf,
                    &self.function.signature.outputs,
                    out,
                )
            });
        let fired = deadline.is_some() && worker.guard.disarm();
        match result {
            Ok(reply) => {
                worker.answered += 1;
                if let Some((slot, board)) = &worker.slot {
                    board.called(*slot);
                }
                if fired {
                    // The reply raced the watchdog: keep it, but the worker is gone.
                    self.worker = None;
                }
                Ok(reply)
            }
            Err(e) => {
                let mut worker = self.worker.take().expect("checked above");
                let status = worker.kill();
                if let Some(d) = deadline.filter(|_| fired) {
                    return Err(Call::Failed(Trap {
                        kind: FailureKind::Deadline,
                        message: format!("ran past its deadline of {d:?}"),
                    }));
                }
                let said = worker.postmortem(status);
                // Rust's allocator reports an allocation the heap cap refused so.
                let memory = said.contains("memory allocation of");
                let how = if e.kind() == io::ErrorKind::UnexpectedEof {
                    "it ended in the middle of a call".to_string()
                } else {
                    e.to_string()
                };
                let trap = Trap {
                    kind: if memory {
                        FailureKind::Memory
                    } else {
                        FailureKind::Trap
                    },
                    message: format!("the worker process failed: {how}{said}"),
                };
                match &worker.slot {
                    Some((slot, board)) if !memory => {
                        // A worker lost on the first call it was given, a call no other worker
                        // had lost (whose loss may be the call's doing), speaks of its slot.
                        board.lost(*slot, trap.message.clone(), first && worker.answered == 0);
                        Err(Call::Lost(trap))
                    }
                    _ => Err(Call::Failed(trap)),
                }
            }
        }
    }
}

impl Drop for ProcessInstance {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.function.put_back(worker);
        }
    }
}

/// Reads the function's file from `input`: the first message a parent sends a worker it
/// [launched](ProcessFunction::launch). The worker then loads it and [serves](serve) it over
/// the same `input`, which is read no further than that message.
pub fn receive_module(input: &mut impl Read) -> io::Result<Vec<u8>> {
    wire::read_module(input)
}

/// Serves `function` to a parent over `input` and `output` (a worker process's stdin and
/// stdout) until `input` ends. `function` is `Err` with a message when the worker could not
/// load it; the parent is told, and gets the message in its error.
///
/// A call that traps throws the instance away; the next call gets a fresh one.
pub fn serve(
    function: Result<&dyn Function, String>,
    input: impl Read,
    output: impl Write,
) -> io::Result<()> {
    let mut input = BufReader::with_capacity(1 << 16, input);
    let mut output = BufWriter::with_capacity(1 << 16, output);
    let function = match function {
        Ok(f) => f,
        Err(message) => return wire::write_fatal(&mut output, &message),
    };
    let sig = function.signature();
    wire::write_hello(&mut output, &sig.to_string(), function.sha256())?;
    let mut args = Columns {
        n: 0,
        cols: sig.args.iter().map(|a| Column::new(a.ty)).collect(),
    };
    let mut out = EvalOutput::default();
    let mut instance: Option<Box<dyn Instance>> = None;
    let mut buf = Vec::new();
    loop {
        if !wire::read_eval(&mut input, &mut buf, &mut args)? {
            return Ok(());
        }
        out.reset(&sig.outputs, args.n);
        let inst = match &mut instance {
            Some(i) => i,
            None => match function.instantiate() {
                Ok(i) => instance.insert(i),
                Err(e) => {
                    let trap = Trap {
                        kind: FailureKind::Trap,
                        message: e.to_string(),
                    };
                    wire::write_trapped(&mut output, &trap)?;
                    continue;
                }
            },
        };
        match inst.eval(&args, &mut out) {
            Ok(()) => wire::write_done(&mut output, &out)?,
            Err(trap) => {
                instance = None;
                wire::write_trapped(&mut output, &trap)?;
            }
        }
    }
}
