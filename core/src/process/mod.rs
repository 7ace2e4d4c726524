//! Functions evaluated in worker processes, with a deadline that costs nothing per iteration.
//!
//! A [`ProcessFunction`] runs each instance in a child process that serves a function with
//! [`serve()`] over its stdin and stdout (the protocol is in the `wire` module's docs). A watchdog
//! thread per worker kills the child when a call runs past the deadline, so the function's
//! compiled code needs no interruption checks of its own; the call fails with
//! [`FailureKind::Deadline`](crate::FailureKind::Deadline) and the runner re-runs its chunk case by case in fresh workers, as
//! for any trap. A worker that crashes (a fault in a native library, an abort) fails its call
//! the same way and takes nothing else down.
//!
//! Workers outlive their instances: when the runner drops an instance whose worker is still
//! sound (the call succeeded, or the function trapped inside it and the worker threw that
//! instance away itself), the worker goes back to an idle pool for the next instance.

mod instance;
mod launch;
mod serve;
pub mod task;
pub(crate) mod wire;
mod worker;

pub use self::serve::{receive_module, serve};

use self::instance::ProcessInstance;
use self::launch::{Board, Take};
pub use self::launch::{Launch, SlotCommand, SlotReport};
use self::worker::{Guard, GuardState, Worker, lock};

use std::ffi::OsString;
use std::io::{self, BufReader, BufWriter, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use xyz_abi::Signature;

use crate::function::{Function, Instance, InstantiateError};

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
    /// example by calling [`serve()`]) and serve a function as `spec` says; each worker is
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
        let (stdin, stdout) = (
            child.stdin.take().expect("piped"),
            child.stdout.take().expect("piped"),
        );
        widen_pipe(&stdin);
        widen_pipe(&stdout);
        let stdin = BufWriter::with_capacity(1 << 16, stdin);
        let stdout = BufReader::with_capacity(1 << 16, stdout);
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

/// Gives the pipe `end` is an end of room for 1 MiB, where the system allows it (Linux; 64 KiB
/// otherwise): a call or a reply of tens of thousands of cases then crosses in a few writes,
/// not hundreds of wake-ups of either side.
fn widen_pipe(end: &impl std::os::fd::AsRawFd) {
    #[cfg(target_os = "linux")]
    // SAFETY: F_SETPIPE_SZ on a descriptor this process owns; a refusal changes nothing.
    unsafe {
        libc::fcntl(end.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = end;
}
