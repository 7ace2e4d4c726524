//! The worker's side: serving a function to the parent that started this process, over the
//! pipes it gave as stdin and stdout (`xyz worker` is this, behind its flags).
//!
//! The parent starts workers for a WebAssembly module whose deadline is enforced by processes,
//! and for native libraries unless isolation is off: the function runs here without
//! interruption checks, the parent kills this process if a call runs past the deadline, and a
//! crash here fails only the call in progress.
//!
//! The protocol runs over the pipes the parent gave as stdin and stdout, but before the
//! function is loaded they are moved to descriptors of their own, closed on exec: the
//! function's stdout goes to stderr (which the parent keeps for error messages), and its stdin
//! reads nothing. So a native function that prints, or reads stdin, cannot corrupt a reply.

use std::path::PathBuf;
use std::time::Duration;

use xyz_core::Function;

use crate::load::{FunctionKind, FunctionLoader};

/// How often a worker checks that its parent is still alive.
const PARENT_CHECK: Duration = Duration::from_millis(500);

/// What a worker serves, and how.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The function's file, or `-` to take it from the parent over the protocol's pipe (which
    /// needs `sha256`).
    pub module: PathBuf,
    /// Most linear memory one instance may use (and, for a native library, a cap on this
    /// process's heap).
    pub memory: Option<u64>,
    /// The SHA-256 the function's file must have, checked before any of it is loaded.
    pub sha256: Option<String>,
    /// Whether WASI modules see the host's clocks and randomness.
    pub real_clocks: bool,
    /// The process that started this worker, which it ends with (default: its parent when it
    /// starts).
    pub parent: Option<u32>,
    /// The module cache and NaN settings the function is loaded with.
    pub loader: FunctionLoader,
}

/// Serves the function of `options` to the parent until it closes the pipe: `Ok(true)` once
/// done, `Ok(false)` when the function could not be loaded (the parent is told why). An error
/// is one of the pipes.
pub fn serve_worker(options: &WorkerOptions) -> std::io::Result<bool> {
    exit_with_parent(options.parent);
    let (mut input, output) = protocol_pipes()?;
    let sha256 = options.sha256.as_deref();
    let mut module = options.module.clone();
    // Kept open while the function is loaded from it.
    let mut _received = None;
    if module.as_os_str() == "-" {
        match receive(&mut input, sha256) {
            Ok(file) => {
                module = file.path().to_path_buf();
                _received = Some(file);
            }
            Err(message) => {
                xyz_core::serve(Err(message), input, output)?;
                return Ok(false);
            }
        }
    }
    let loaded = (|| -> Result<Box<dyn Function>, crate::load::LoadError> {
        let kind = FunctionKind::of(&module)?;
        if kind == FunctionKind::Native
            && let Some(bytes) = options.memory
        {
            cap_heap(bytes);
        }
        // In this process, without a deadline: the parent kills this one at the deadline.
        options.loader.load_here(
            &module,
            kind,
            options.memory,
            None,
            options.real_clocks,
            sha256,
        )
    })()
    .map_err(|e| one_line(&e));
    let ok = loaded.is_ok();
    xyz_core::serve(loaded.as_deref().map_err(Clone::clone), input, output)?;
    Ok(ok)
}

/// `err` and its sources as one line, each thing said once: a source that its error already
/// says is not said again.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    say_once(std::iter::successors(Some(err), |e| e.source()))
}

/// The errors of `chain` (an error and its sources, outermost first) as one line, each thing
/// said once, as [`one_line`] says one error.
pub fn say_once<'a>(chain: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> String {
    let mut s = String::new();
    for e in chain {
        let text = e.to_string();
        if text.is_empty() || s.contains(&text) {
            continue;
        }
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&text);
    }
    s
}

/// Takes the function's file from the parent over `input`, refusing it unless its SHA-256 is
/// `sha256`, and gives it as a file the loaders open by path: an anonymous memory file on
/// Linux, else a temporary file removed when dropped.
fn receive(input: &mut std::fs::File, sha256: Option<&str>) -> Result<Received, String> {
    let Some(expected) = sha256 else {
        return Err("a module taken over the pipe (`-`) needs --sha256".into());
    };
    let bytes = xyz_core::receive_module(input)
        .map_err(|e| format!("could not read the function's file from the parent: {e}"))?;
    let found = xyz_core::sha256_hex(&bytes);
    if found != expected {
        return Err(format!(
            "the function's file sent over the pipe has sha256 {found}, not {expected}: it was \
             changed on the way"
        ));
    }
    Received::write(&bytes)
        .map_err(|e| format!("could not keep the function's file sent over the pipe: {e}"))
}

/// The function's file received from the parent, on this side.
enum Received {
    /// An anonymous memory file, kept open, and its path under `/proc/self/fd`.
    #[cfg(target_os = "linux")]
    Memory { _file: std::fs::File, path: PathBuf },
    /// A temporary file.
    Temporary(tempfile::TempPath),
}

impl Received {
    fn write(bytes: &[u8]) -> std::io::Result<Received> {
        use std::io::Write as _;
        #[cfg(target_os = "linux")]
        if let Some((file, path)) = xyz_core::memfile::holding(c"xyz-received", bytes) {
            return Ok(Received::Memory { _file: file, path });
        }
        let mut file = tempfile::Builder::new()
            .prefix("xyz-received-")
            .tempfile()?;
        file.write_all(bytes)?;
        Ok(Received::Temporary(file.into_temp_path()))
    }

    fn path(&self) -> &std::path::Path {
        match self {
            #[cfg(target_os = "linux")]
            Received::Memory { path, .. } => path,
            Received::Temporary(path) => path,
        }
    }
}

/// Moves the protocol's pipes off stdin and stdout onto descriptors closed on exec, and points
/// stdin at `/dev/null` and stdout at stderr, so that the function cannot touch the protocol.
fn protocol_pipes() -> std::io::Result<(std::fs::File, std::fs::File)> {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        let moved = |fd: i32| -> std::io::Result<std::fs::File> {
            // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor this process owns.
            let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
            if new < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: `new` was just made, and nothing else owns it.
            Ok(unsafe { std::fs::File::from_raw_fd(new) })
        };
        let input = moved(0)?;
        let output = moved(1)?;
        let null = std::fs::File::open("/dev/null")?;
        // SAFETY: dup2 onto the standard descriptors, which stay open throughout.
        let ok = unsafe {
            libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) >= 0 && libc::dup2(2, 1) >= 0
        };
        if !ok {
            let e = std::io::Error::last_os_error();
            return Err(std::io::Error::new(
                e.kind(),
                format!("could not set up the worker's descriptors: {e}"),
            ));
        }
        Ok((input, output))
    }
    #[cfg(not(unix))]
    Err(std::io::Error::other("worker processes need a Unix system"))
}

/// Room for the worker's own buffers on top of a native function's memory cap.
const HEAP_HEADROOM: u64 = 256 << 20;

/// Caps this process's heap (`RLIMIT_DATA`) near `bytes`, so a native function that allocates
/// without bound fails its call instead of exhausting the machine.
fn cap_heap(bytes: u64) {
    #[cfg(target_os = "linux")]
    {
        let cap = bytes.saturating_add(HEAP_HEADROOM);
        let limit = libc::rlimit {
            rlim_cur: cap,
            rlim_max: cap,
        };
        // SAFETY: setrlimit reads the struct it is given and nothing else.
        let _ = unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// Exits this process when its parent (`parent`, else the one it has now) goes away, even in
/// the middle of a call that would never end: a worker must not outlive the run it serves.
///
/// The watching thread is a bare POSIX thread that does nothing but `getppid`, `nanosleep` and
/// `_exit`: a Rust thread registers its thread-locals' destructors through the dynamic
/// loader, whose lock a library still loading (its constructor looping) holds, so a Rust
/// thread that started after that load began would wait on it forever. And `_exit`, not
/// `exit`, which would run the libraries' destructors, waiting on the same lock.
fn exit_with_parent(parent: Option<u32>) {
    extern "C" fn watch(parent: *mut libc::c_void) -> *mut libc::c_void {
        let parent = parent as usize as libc::pid_t;
        let pause = libc::timespec {
            // `as _`: the field's type is the libc's own (musl's and glibc's time_t differ).
            tv_sec: PARENT_CHECK.as_secs() as _,
            tv_nsec: PARENT_CHECK.subsec_nanos() as _,
        };
        loop {
            // SAFETY: getppid, nanosleep and _exit have no preconditions; `pause` is valid.
            unsafe {
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                libc::nanosleep(&pause, std::ptr::null_mut());
            }
        }
    }
    let parent = parent.unwrap_or_else(std::os::unix::process::parent_id);
    let mut thread = std::mem::MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `watch` takes the parent's pid as its argument, by value, and touches no memory
    // of this process; `thread` is written by a successful pthread_create before it is read;
    // the thread is detached, never joined. (pthread_t is an integer in glibc, a pointer in
    // musl: never made up here.)
    unsafe {
        if libc::pthread_create(
            thread.as_mut_ptr(),
            std::ptr::null(),
            watch,
            parent as usize as *mut libc::c_void,
        ) == 0
        {
            libc::pthread_detach(thread.assume_init());
        }
    }
}
