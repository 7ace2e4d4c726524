//! Loading a function file: a WebAssembly module or a native library, in this process or
//! served by `xyz worker` processes, here or on other machines.
//!
//! Every load is bounded by the load timeout: the function is first loaded in a worker process,
//! which serves it when it runs in workers, and is otherwise stopped once the function is known
//! to load; the function is then loaded in this process from bytes checked to be the worker's.
//! So start-up code, a signature export or a library's initialisers that never end cannot hang
//! the process that loads them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use xyz_abi::Signature;
use xyz_core::{Function, FunctionFileError, InstantiateError, Limits, ProcessFunction};

/// The deadline of a call when neither the loader nor the spec's limits give one.
pub use xyz_wasm::DEFAULT_DEADLINE;

/// What a function file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    /// A WebAssembly module.
    Wasm,
    /// A native dynamic library.
    Native,
}

impl FunctionKind {
    /// Tells a native library (an ELF or Mach-O file, or a `.so`, `.dylib` or `.dll`) from
    /// anything else, which is taken for WebAssembly. Refuses at once, naming the path,
    /// anything that is not a regular file of a sane size (a FIFO, a device, a directory).
    pub fn of(path: &Path) -> Result<FunctionKind, FunctionFileError> {
        let (file, _) = xyz_core::function_file::open_function_file(path)?;
        let mut magic = [0u8; 4];
        let read = std::io::Read::read_exact(&mut &file, &mut magic);
        let native_magic = read.is_ok()
            && (magic == *b"\x7fELF"
                || matches!(
                    u32::from_le_bytes(magic),
                    0xfeed_facf | 0xcffa_edfe | 0xfeed_face | 0xcefa_edfe
                ));
        let native_ext = path
            .extension()
            .is_some_and(|e| e == "so" || e == "dylib" || e == "dll");
        Ok(if native_magic || (native_ext && &magic != b"\0asm") {
            FunctionKind::Native
        } else {
            FunctionKind::Wasm
        })
    }
}

/// How a call's deadline is enforced on a WebAssembly function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Watchdog {
    /// Worker processes, killed at the deadline: no cost to the function's speed.
    #[default]
    Process,
    /// Interruption checks compiled into the function's loops, in this process.
    Epoch,
}

/// Where compiled WebAssembly is cached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheDir {
    /// The user's cache (`~/.cache/xyz/modules`).
    #[default]
    User,
    /// This directory.
    At(PathBuf),
    /// Nowhere: every load compiles.
    Off,
}

/// Starts workers on other machines: a launcher (`ssh`, `srun`, a container runtime) with a
/// number of slots.
pub trait Launcher: std::fmt::Debug + Send + Sync {
    /// The launch of workers running `xyz` with `worker_args` (the worker subcommand and its
    /// options), each sent `module` over its pipe.
    fn launch(&self, worker_args: Vec<OsString>, module: Vec<u8>) -> xyz_core::Launch;
    /// How many workers it starts at most.
    fn slots(&self) -> usize;
}

/// The program and leading arguments that start `xyz` itself as a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    /// The program run.
    pub program: PathBuf,
    /// Arguments before the worker's own (the `xyz` executable, when the program runs it).
    pub args: Vec<OsString>,
}

/// The environment variable holding a command that xyz's own child processes (workers, batch
/// growers) are started behind, its words split on whitespace: `qemu-aarch64 -L
/// /usr/aarch64-linux-gnu` for a binary run under emulation, say.
pub const EXEC_PREFIX: &str = "XYZ_EXEC_PREFIX";

impl WorkerCommand {
    /// `xyz` itself: this process's executable, behind the command in [`EXEC_PREFIX`] if set.
    pub fn current() -> std::io::Result<WorkerCommand> {
        WorkerCommand::of(std::env::current_exe()?)
    }

    /// The executable `exe`, behind the command in [`EXEC_PREFIX`] if set.
    pub fn of(exe: PathBuf) -> std::io::Result<WorkerCommand> {
        let prefix = std::env::var(EXEC_PREFIX).unwrap_or_default();
        let mut words = prefix.split_whitespace();
        Ok(match words.next() {
            None => WorkerCommand {
                program: exe,
                args: Vec::new(),
            },
            Some(program) => {
                let mut args: Vec<OsString> = words.map(Into::into).collect();
                args.push(exe.into());
                WorkerCommand {
                    program: PathBuf::from(program),
                    args,
                }
            }
        })
    }
}

/// Why a function could not be loaded. Each names the file or the settings at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The function file cannot be a function (not a regular file, too large, another
    /// SHA-256).
    #[error(transparent)]
    File(#[from] FunctionFileError),
    /// The WebAssembly module could not be loaded.
    #[error(transparent)]
    Wasm(#[from] xyz_wasm::LoadError),
    /// The native library could not be loaded.
    #[error(transparent)]
    Native(#[from] xyz_native::LoadError),
    /// The workers could not be started, or the function failed to load in them.
    #[error(transparent)]
    Workers(#[from] InstantiateError),
    /// The workers of a launcher could not be started.
    #[error("starting workers with the launcher ({slots} at most)")]
    Launch {
        /// The launcher's slots.
        slots: usize,
        /// What went wrong.
        #[source]
        source: InstantiateError,
    },
    /// xyz's own executable, which workers run, could not be found.
    #[error("finding the xyz executable for its workers")]
    Executable(#[source] std::io::Error),
    /// A deadline or a memory limit for a native library in this process: only worker
    /// processes enforce them.
    #[error("a deadline and a memory limit need worker processes for a native library")]
    NativeLimitsNeedWorkers,
    /// A launcher with isolation off: its workers are other processes.
    #[error("a launcher runs the function in workers it starts, not in this process")]
    LauncherNeedsWorkers,
}

/// A loaded function, ready for the runner.
pub struct Loaded {
    /// The function: in this process, or served by worker processes.
    pub function: Box<dyn Function>,
    /// The SHA-256 of its file.
    pub sha256: String,
    /// The workers of a launcher, for what became of each.
    pub launched: Option<ProcessFunction>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("signature", &self.function.signature().to_string())
            .field("sha256", &self.sha256)
            .field("launched", &self.launched.is_some())
            .finish()
    }
}

/// How functions are loaded: limits, isolation, the compiled-module cache, and where workers
/// come from. Built with its setters; [`FunctionLoader::load`] loads.
#[derive(Debug, Clone)]
pub struct FunctionLoader {
    memory: Option<u64>,
    deadline: Option<Option<Duration>>,
    watchdog: Watchdog,
    isolate: bool,
    cache: CacheDir,
    canonicalize_nans: bool,
    load_timeout: Duration,
    worker: Option<WorkerCommand>,
    launcher: Option<std::sync::Arc<dyn Launcher>>,
}

impl Default for FunctionLoader {
    fn default() -> FunctionLoader {
        FunctionLoader::new()
    }
}

/// The longest a function may take to load, unless told otherwise.
pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(120);

impl FunctionLoader {
    /// The defaults: the spec's limits, worker processes killed at the deadline, the user's
    /// module cache, NaNs as the CPU makes them, two minutes to load, workers run by this
    /// executable.
    pub fn new() -> FunctionLoader {
        FunctionLoader {
            memory: None,
            deadline: None,
            watchdog: Watchdog::Process,
            isolate: true,
            cache: CacheDir::User,
            canonicalize_nans: false,
            load_timeout: DEFAULT_LOAD_TIMEOUT,
            worker: None,
            launcher: None,
        }
    }

    /// Most linear memory one instance may use, over the spec's limit.
    pub fn memory(&mut self, bytes: Option<u64>) -> &mut Self {
        self.memory = bytes;
        self
    }

    /// The longest one call may run (`None`: no deadline, and the function runs in this
    /// process), over the spec's limit.
    pub fn deadline(&mut self, deadline: Option<Duration>) -> &mut Self {
        self.deadline = Some(deadline);
        self
    }

    /// How a WebAssembly function's deadline is enforced.
    pub fn watchdog(&mut self, watchdog: Watchdog) -> &mut Self {
        self.watchdog = watchdog;
        self
    }

    /// Whether the function runs in worker processes (the default) or in this one, where a
    /// WebAssembly deadline is enforced by epoch checks and a native library gets no deadline,
    /// no memory cap, and ends this process if it crashes.
    pub fn isolate(&mut self, yes: bool) -> &mut Self {
        self.isolate = yes;
        self
    }

    /// Where compiled WebAssembly is cached.
    pub fn cache(&mut self, cache: CacheDir) -> &mut Self {
        self.cache = cache;
        self
    }

    /// Whether every NaN a float operation gives is the canonical one, so results are the
    /// same bits on every CPU.
    pub fn canonicalize_nans(&mut self, yes: bool) -> &mut Self {
        self.canonicalize_nans = yes;
        self
    }

    /// The longest loading a function may take.
    pub fn load_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.load_timeout = timeout;
        self
    }

    /// The command that starts a worker (default: [`WorkerCommand::current`]): under Python,
    /// say, the current executable is the interpreter, not `xyz`.
    pub fn worker_command(&mut self, command: WorkerCommand) -> &mut Self {
        self.worker = Some(command);
        self
    }

    /// Workers started by `launcher`, on other machines, instead of local ones.
    pub fn launcher(&mut self, launcher: Option<std::sync::Arc<dyn Launcher>>) -> &mut Self {
        self.launcher = launcher;
        self
    }

    /// These settings for growing the crop in `crop_dir`: compiled modules are cached in the
    /// crop (one entry per engine fingerprint, so nodes with other CPUs or xyz builds compile
    /// their own) unless the cache is off, and NaNs are canonical, so every node gives the
    /// same bits.
    pub fn for_crop(&self, crop_dir: &Path) -> FunctionLoader {
        let mut loader = self.clone();
        if loader.cache != CacheDir::Off {
            let dir = std::path::absolute(crop_dir).unwrap_or_else(|_| crop_dir.to_path_buf());
            loader.cache = CacheDir::At(dir.join("cache"));
        }
        loader.canonicalize_nans = true;
        loader
    }

    /// Loads the function of `crop` to grow it, under these settings [for the
    /// crop](Self::for_crop), expecting the crop's signature and SHA-256.
    pub fn load_for_crop(&self, crop: &xyz_core::Crop) -> Result<Loaded, LoadError> {
        self.for_crop(crop.dir()).load_expecting(
            &crop.function_path(),
            crop.limits(),
            Some((crop.signature(), crop.sha256())),
        )
    }

    /// The memory limit under `limits`.
    fn memory_under(&self, limits: &Limits) -> Option<u64> {
        self.memory.or(limits.memory)
    }

    /// The deadline under `limits`.
    fn deadline_under(&self, limits: &Limits) -> Option<Duration> {
        match self.deadline {
            Some(given) => given,
            None => Some(limits.deadline.unwrap_or(DEFAULT_DEADLINE)),
        }
    }

    /// The WebAssembly configuration of these settings, with `memory` and no deadline.
    pub fn wasm_config(&self, memory: Option<u64>) -> xyz_wasm::WasmConfig {
        let mut config = xyz_wasm::WasmConfig::new();
        if let Some(m) = memory {
            config.memory_limit(m);
        }
        config.deadline(None);
        config.nan_canonicalization(self.canonicalize_nans);
        match &self.cache {
            CacheDir::User => {}
            CacheDir::At(dir) => {
                config.cache_dir(Some(dir.clone()));
            }
            CacheDir::Off => {
                config.cache_dir(None);
            }
        }
        config
    }

    /// The arguments of `xyz worker` serving `module` (a path, or `-` for a launched worker)
    /// under these settings: the command line `xyz worker` takes.
    pub fn worker_args(
        &self,
        module: OsString,
        memory: Option<u64>,
        sha256: Option<&str>,
        real_clocks: bool,
    ) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["worker".into(), module];
        if real_clocks {
            args.push("--real-clocks".into());
        }
        if let Some(m) = memory {
            args.extend(["--memory".into(), m.to_string().into()]);
        }
        if let Some(sha) = sha256 {
            args.extend(["--sha256".into(), sha.into()]);
        }
        if self.canonicalize_nans {
            args.push("--canonicalize-nans".into());
        }
        match &self.cache {
            CacheDir::User => {}
            CacheDir::At(dir) => args.extend(["--cache-dir".into(), dir.into()]),
            CacheDir::Off => args.push("--no-cache".into()),
        }
        args
    }

    /// Loads `module` in local `xyz worker` processes, each killed if it takes longer than the
    /// load timeout to load it, and gives the function they serve. With `expected`, a worker
    /// refuses a file with another SHA-256 before loading any of it; a function with another
    /// signature is refused. Calls are stopped at `deadline`.
    pub fn start_workers(
        &self,
        module: &Path,
        memory: Option<u64>,
        expected: Option<(Option<&Signature>, &str)>,
        deadline: Option<Duration>,
        real_clocks: bool,
    ) -> Result<ProcessFunction, LoadError> {
        let sha256 = expected.map(|(_, sha)| sha);
        let mut args = self.worker_args(module.into(), memory, sha256, real_clocks);
        // A local worker knows its parent, so it ends even if that died before it started.
        args.extend(["--parent".into(), std::process::id().to_string().into()]);
        let command = match &self.worker {
            Some(c) => c.clone(),
            None => WorkerCommand::current().map_err(LoadError::Executable)?,
        };
        let mut all = command.args;
        all.extend(args);
        let spec = xyz_core::WorkerSpec {
            signature: expected.and_then(|(sig, _)| sig.cloned()),
            sha256: sha256.map(str::to_string),
            deadline,
            load_timeout: self.load_timeout,
        };
        Ok(ProcessFunction::start(command.program, all, spec)?)
    }

    /// The signature of `module`, whose file must have SHA-256 `sha256`: loaded and checked
    /// within the load timeout in a worker process (which also caches a module's compiled
    /// code for the loads to come), never in this one.
    pub fn probe(&self, module: &Path, sha256: &str) -> Result<Signature, LoadError> {
        let workers = self.start_workers(module, None, Some((None, sha256)), None, false)?;
        Ok(Function::signature(&workers).clone())
    }

    /// Loads `module` (a WebAssembly module or a native library) under these settings and
    /// the spec's `limits`. Unless isolation is off, the function is checked here (a module's
    /// compiled code is cached on the way) and then served by `xyz worker` processes, killed
    /// at the deadline: for WebAssembly with [`Watchdog::Process`], for native libraries
    /// always.
    pub fn load(&self, module: &Path, limits: &Limits) -> Result<Loaded, LoadError> {
        self.load_expecting(module, limits, None)
    }

    /// Like [`load`](Self::load), for a function whose signature and SHA-256 are known (a
    /// crop's): the file is refused before any of it is loaded unless its SHA-256 is that one.
    pub fn load_expecting(
        &self,
        module: &Path,
        limits: &Limits,
        expected: Option<(&Signature, &str)>,
    ) -> Result<Loaded, LoadError> {
        if let Some(launcher) = &self.launcher {
            return self.launch(launcher.as_ref(), module, limits, expected);
        }
        let memory = self.memory_under(limits);
        let deadline = self.deadline_under(limits);
        let kind = FunctionKind::of(module)?;
        let in_process = match kind {
            FunctionKind::Native => !self.isolate,
            FunctionKind::Wasm => {
                !self.isolate || self.watchdog == Watchdog::Epoch || deadline.is_none()
            }
        };
        if in_process
            && kind == FunctionKind::Native
            && (self.memory.is_some() || matches!(self.deadline, Some(Some(_))))
        {
            return Err(LoadError::NativeLimitsNeedWorkers);
        }
        let workers = self.start_workers(
            module,
            memory,
            expected.map(|(sig, sha)| (Some(sig), sha)),
            deadline.filter(|_| !in_process),
            limits.real_clocks,
        )?;
        let sha256 = Function::sha256(&workers).unwrap_or_default().to_string();
        if !in_process {
            return Ok(Loaded {
                function: Box::new(workers),
                sha256,
                launched: None,
            });
        }
        drop(workers);
        let function = self.load_here(
            module,
            kind,
            memory,
            deadline,
            limits.real_clocks,
            Some(&sha256),
        )?;
        Ok(Loaded {
            function,
            sha256,
            launched: None,
        })
    }

    /// Loads `module`, of `kind`, in this process, refusing a file whose SHA-256 is not
    /// `sha256` if given: what a worker serves, and what runs in this process when isolation
    /// is off.
    pub fn load_here(
        &self,
        module: &Path,
        kind: FunctionKind,
        memory: Option<u64>,
        deadline: Option<Duration>,
        real_clocks: bool,
        sha256: Option<&str>,
    ) -> Result<Box<dyn Function>, LoadError> {
        Ok(match kind {
            FunctionKind::Native => {
                Box::new(xyz_native::NativeFunction::load_expecting(module, sha256)?)
            }
            FunctionKind::Wasm => {
                let mut config = self.wasm_config(memory);
                config.deadline(deadline).real_clocks(real_clocks);
                Box::new(xyz_wasm::WasmFunction::load_expecting(
                    module, &config, sha256,
                )?)
            }
        })
    }

    /// Loads `module` in workers started by `launcher`: the file is read and hashed here and
    /// sent to each worker, which checks it against that hash.
    fn launch(
        &self,
        launcher: &dyn Launcher,
        module: &Path,
        limits: &Limits,
        expected: Option<(&Signature, &str)>,
    ) -> Result<Loaded, LoadError> {
        if !self.isolate {
            return Err(LoadError::LauncherNeedsWorkers);
        }
        let (bytes, sha256) =
            xyz_core::function_file::read_verified(module, expected.map(|(_, sha)| sha))?;
        let args = self.worker_args(
            "-".into(),
            self.memory_under(limits),
            Some(&sha256),
            limits.real_clocks,
        );
        let spec = xyz_core::WorkerSpec {
            signature: expected.map(|(sig, _)| sig.clone()),
            sha256: Some(sha256.clone()),
            deadline: self.deadline_under(limits),
            load_timeout: self.load_timeout,
        };
        let workers =
            ProcessFunction::launch(launcher.launch(args, bytes), spec).map_err(|source| {
                LoadError::Launch {
                    slots: launcher.slots(),
                    source,
                }
            })?;
        Ok(Loaded {
            function: Box::new(workers.clone()),
            sha256,
            launched: Some(workers),
        })
    }
}

/// What a WebAssembly module is, for `xyz inspect`: its size, SHA-256 and imports, loaded in
/// this process from the bytes the worker that probed it checked (`sha256`).
pub fn module_info(
    loader: &FunctionLoader,
    module: &Path,
    sha256: &str,
) -> Result<xyz_wasm::ModuleInfo, LoadError> {
    let f =
        xyz_wasm::WasmFunction::load_expecting(module, &loader.wasm_config(None), Some(sha256))?;
    Ok(f.info().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_their_bytes_then_their_name() {
        let dir = std::env::temp_dir().join(format!("xyz-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        assert_eq!(
            FunctionKind::of(&write("a.wasm", b"\0asm\x01\0\0\0")).unwrap(),
            FunctionKind::Wasm
        );
        assert_eq!(
            FunctionKind::of(&write("a.bin", b"\x7fELF....")).unwrap(),
            FunctionKind::Native
        );
        assert_eq!(
            FunctionKind::of(&write("b.so", b"#!")).unwrap(),
            FunctionKind::Native
        );
        assert_eq!(
            FunctionKind::of(&write("c.so", b"\0asm")).unwrap(),
            FunctionKind::Wasm
        );
        assert!(FunctionKind::of(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_crops_loader_caches_in_the_crop_and_makes_nans_canonical() {
        let mut loader = FunctionLoader::new();
        loader.load_timeout(Duration::from_secs(5));
        let crop = loader.for_crop(Path::new("/data/.xyz-c"));
        assert_eq!(
            crop.cache,
            CacheDir::At(PathBuf::from("/data/.xyz-c/cache"))
        );
        assert!(crop.canonicalize_nans);
        let args = crop.worker_args("f.wasm".into(), Some(64), Some("ab"), true);
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(
            args,
            [
                "worker",
                "f.wasm",
                "--real-clocks",
                "--memory",
                "64",
                "--sha256",
                "ab",
                "--canonicalize-nans",
                "--cache-dir",
                "/data/.xyz-c/cache",
            ]
        );
        loader.cache(CacheDir::Off);
        assert_eq!(loader.for_crop(Path::new("/c")).cache, CacheDir::Off);
    }

    #[test]
    fn limits_give_what_the_loader_leaves_open() {
        let limits = Limits {
            memory: Some(7),
            deadline: Some(Duration::from_secs(3)),
            real_clocks: false,
        };
        let mut loader = FunctionLoader::new();
        assert_eq!(loader.memory_under(&limits), Some(7));
        assert_eq!(loader.deadline_under(&limits), Some(Duration::from_secs(3)));
        assert_eq!(
            loader.deadline_under(&Limits::default()),
            Some(DEFAULT_DEADLINE)
        );
        loader.memory(Some(9)).deadline(None);
        assert_eq!(loader.memory_under(&limits), Some(9));
        assert_eq!(loader.deadline_under(&limits), None);
    }
}
