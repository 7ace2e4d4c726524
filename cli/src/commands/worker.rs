//! `xyz worker` (hidden): serve a function to a parent `xyz` over stdin and stdout.
//!
//! The parent starts workers for a WebAssembly module whose deadline is enforced by processes
//! (`--watchdog process`), and for native libraries unless `--no-isolate`: the function runs
//! here without interruption checks, the parent kills this process if a call runs past the
//! deadline, and a crash here fails only the call in progress.

use std::path::PathBuf;
use std::time::Duration;

use xyz_core::Function;

use super::EngineOpts;
use crate::exit_codes;

/// How often a worker checks that its parent is still alive.
const PARENT_CHECK: Duration = Duration::from_millis(500);

/// Serve a function module to a parent xyz over stdin and stdout (used by xyz itself).
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerCommand {
    /// The module (.wasm)
    module: PathBuf,

    /// Most linear memory one instance may use, in bytes
    #[arg(long, value_name = "BYTES")]
    memory: Option<u64>,

    #[command(flatten)]
    cache: EngineOpts,
}

impl WorkerCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        exit_with_parent();
        let loaded: Result<Box<dyn Function>, String> = match super::Kind::of(&self.module) {
            super::Kind::Wasm => {
                let config = self.cache.config(self.memory);
                xyz_wasm::WasmFunction::load(&self.module, &config)
                    .map(|f| Box::new(f) as Box<dyn Function>)
                    .map_err(|e| chain(&e))
            }
            super::Kind::Native => {
                if let Some(bytes) = self.memory {
                    cap_heap(bytes);
                }
                xyz_native::NativeFunction::load(&self.module)
                    .map(|f| Box::new(f) as Box<dyn Function>)
                    .map_err(|e| chain(&e))
            }
        };
        let ok = loaded.is_ok();
        let function = loaded.as_deref();
        xyz_core::serve(
            function.map_err(Clone::clone),
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        )?;
        Ok(if ok {
            exit_codes::OK
        } else {
            exit_codes::ERROR
        })
    }
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

/// Exits this process when its parent goes away, even in the middle of a call that would
/// never end: a worker must not outlive the run it serves.
fn exit_with_parent() {
    #[cfg(unix)]
    {
        let parent = std::os::unix::process::parent_id();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(PARENT_CHECK);
                if std::os::unix::process::parent_id() != parent {
                    std::process::exit(i32::from(exit_codes::ERROR));
                }
            }
        });
    }
}

/// An error and its sources, as one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        // Errors that print their source themselves would say it twice.
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = e.source();
    }
    s
}
