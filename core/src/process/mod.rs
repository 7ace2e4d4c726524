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

pub(crate) mod wire;

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
pub struct ProcessFunction {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    signature: Signature,
    sha256: Option<String>,
    deadline: Option<Duration>,
    idle: Mutex<Vec<Worker>>,
}

impl std::fmt::Debug for ProcessFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("ProcessFunction")
            .field("program", &inner.program)
            .field("args", &inner.args)
            .field("signature", &inner.signature.to_string())
            .field("deadline", &inner.deadline)
            .finish_non_exhaustive()
    }
}

impl ProcessFunction {
    /// A function served by `program args...`, which must speak the worker protocol (for
    /// example by calling [`serve`]) and serve a function with exactly `signature` and
    /// `sha256`; each worker is checked when it starts. Calls running longer than `deadline`
    /// are stopped by killing their worker; `None` lets calls run for as long as they take.
    ///
    /// Starts one worker now, so that a command that cannot serve the function fails here.
    pub fn start(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<OsString>>,
        signature: Signature,
        sha256: Option<String>,
        deadline: Option<Duration>,
    ) -> Result<ProcessFunction, InstantiateError> {
        let inner = Inner {
            name: signature.name.clone(),
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            signature,
            sha256,
            deadline,
            idle: Mutex::new(Vec::new()),
        };
        let first = inner.spawn()?;
        lock(&inner.idle).push(first);
        Ok(ProcessFunction {
            inner: Arc::new(inner),
        })
    }

    /// The deadline of one call.
    pub fn deadline(&self) -> Option<Duration> {
        self.inner.deadline
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

    fn spawn(&self) -> Result<Worker, InstantiateError> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                self.error(
                    format!("could not start the worker {}", self.program.display()),
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
                fired: false,
                quit: false,
            }),
            wake: Condvar::new(),
        });
        let watchdog = self.deadline.map(|_| {
            let guard = guard.clone();
            std::thread::spawn(move || guard.watch())
        });
        let mut worker = Worker {
            stdin,
            stdout,
            guard,
            watchdog,
            drain,
            stderr,
        };
        match worker.hello() {
            Ok((sig, sha)) if sig == self.signature.to_string() && sha == self.sha256 => Ok(worker),
            Ok((sig, sha)) => Err(self.error(
                format!(
                    "the worker serves {sig} (sha256 {}) where {} (sha256 {}) was expected; \
                     did the file change?",
                    sha.as_deref().unwrap_or("none"),
                    self.signature,
                    self.sha256.as_deref().unwrap_or("none"),
                ),
                None,
            )),
            Err(e) => {
                let status = worker.kill();
                let mut message = format!("the worker did not start: {e}");
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
        let idle = lock(&self.inner.idle).pop();
        let worker = match idle {
            Some(w) => w,
            None => self.inner.spawn()?,
        };
        Ok(Box::new(ProcessInstance {
            function: self.inner.clone(),
            worker: Some(worker),
        }))
    }
}

/// One worker process, its pipes and its watchdog.
struct Worker {
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    guard: Arc<Guard>,
    watchdog: Option<JoinHandle<()>>,
    drain: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Worker {
    /// Reads the worker's greeting: the signature and sha256 it serves.
    fn hello(&mut self) -> io::Result<(String, Option<String>)> {
        let mut magic = [0u8; 8];
        self.stdout.read_exact(&mut magic)?;
        if &magic != wire::MAGIC {
            return Err(wire::bad("it does not speak the xyz worker protocol"));
        }
        match wire::read_u8(&mut self.stdout)? {
            wire::HELLO => {
                let sig = wire::read_str(&mut self.stdout)?;
                let sha = wire::read_str(&mut self.stdout)?;
                Ok((sig, (!sha.is_empty()).then_some(sha)))
            }
            wire::FATAL => Err(io::Error::other(wire::read_str(&mut self.stdout)?)),
            tag => Err(wire::bad(format!("it greeted with tag {tag}"))),
        }
    }

    /// Kills the worker, if it still runs, and reaps it.
    fn kill(&mut self) -> Option<std::process::ExitStatus> {
        let mut state = lock(&self.guard.state);
        state.quit = true;
        self.guard.wake.notify_all();
        let _ = state.child.kill();
        state.child.wait().ok()
    }

    /// What is known of a dead worker: how it ended and the end of its stderr.
    fn postmortem(&mut self, status: Option<std::process::ExitStatus>) -> String {
        if let Some(drain) = self.drain.take() {
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
        self.kill();
        if let Some(w) = self.watchdog.take() {
            let _ = w.join();
        }
        if let Some(d) = self.drain.take() {
            let _ = d.join();
        }
    }
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
                None => self
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        let _ = state.child.kill();
                        state.fired = true;
                        state.armed = None;
                        state
                    } else {
                        self.wake
                            .wait_timeout(state, at - now)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    }
                }
            };
        }
    }

    fn arm(&self, deadline: Duration) {
        let mut state = lock(&self.state);
        state.armed = Some(Instant::now() + deadline);
        self.wake.notify_all();
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
        let deadline = self.function.deadline;
        let worker = self.worker.as_mut().ok_or_else(|| Trap {
            kind: FailureKind::Trap,
            message: "the worker process is gone".into(),
        })?;
        if let Some(d) = deadline {
            worker.guard.arm(d);
        }
        let result = wire::write_eval(&mut worker.stdin, args).and_then(|()| {
            wire::read_reply(&mut worker.stdout, &self.function.signature.outputs, out)
        });
        let fired = deadline.is_some() && worker.guard.disarm();
        match result {
            Ok(reply) => {
                if fired {
                    // The reply raced the watchdog: keep it, but the worker is gone.
                    self.worker = None;
                }
                reply
            }
            Err(e) => {
                let mut worker = self.worker.take().expect("checked above");
                let status = worker.kill();
                let trap = match deadline {
                    Some(d) if fired => Trap {
                        kind: FailureKind::Deadline,
                        message: format!("ran past its deadline of {d:?}"),
                    },
                    _ => {
                        let said = worker.postmortem(status);
                        // Rust's allocator reports an allocation the heap cap refused so.
                        let kind = if said.contains("memory allocation of") {
                            FailureKind::Memory
                        } else {
                            FailureKind::Trap
                        };
                        let how = if e.kind() == io::ErrorKind::UnexpectedEof {
                            "it ended in the middle of a call".to_string()
                        } else {
                            e.to_string()
                        };
                        Trap {
                            kind,
                            message: format!("the worker process failed: {how}{said}"),
                        }
                    }
                };
                Err(trap)
            }
        }
    }
}

impl Drop for ProcessInstance {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            lock(&self.function.idle).push(worker);
        }
    }
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
    output.write_all(wire::MAGIC)?;
    let function = match function {
        Ok(f) => f,
        Err(message) => {
            wire::write_u8(&mut output, wire::FATAL)?;
            wire::write_str(&mut output, &message)?;
            return output.flush();
        }
    };
    let sig = function.signature();
    wire::write_u8(&mut output, wire::HELLO)?;
    wire::write_str(&mut output, &sig.to_string())?;
    wire::write_str(&mut output, function.sha256().unwrap_or(""))?;
    output.flush()?;
    let mut args = Columns {
        n: 0,
        cols: sig.args.iter().map(|a| Column::new(a.ty)).collect(),
    };
    let mut out = EvalOutput::default();
    let mut instance: Option<Box<dyn Instance>> = None;
    loop {
        let mut tag = [0u8; 1];
        match input.read(&mut tag)? {
            0 => return Ok(()),
            _ if tag[0] == wire::EVAL => {}
            _ => return Err(wire::bad(format!("a request tagged {}", tag[0]))),
        }
        wire::read_eval(&mut input, &mut args)?;
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
