//! `xyz worker` (hidden): serve a module to a parent `xyz` over stdin and stdout.
//!
//! The parent starts workers when a deadline is enforced by processes (`--watchdog process`):
//! the module runs here without interruption checks, and the parent kills this process if a
//! call runs past the deadline.

use std::path::PathBuf;
use std::time::Duration;

use xyz_core::Function;

use super::CacheOpts;
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
    cache: CacheOpts,
}

impl WorkerCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        exit_with_parent();
        let config = self.cache.config(self.memory);
        let loaded = xyz_wasm::WasmFunction::load(&self.module, &config);
        let function = match &loaded {
            Ok(f) => Ok(f as &dyn Function),
            Err(e) => Err(chain(e)),
        };
        xyz_core::serve(function, std::io::stdin().lock(), std::io::stdout().lock())?;
        Ok(if loaded.is_ok() {
            exit_codes::OK
        } else {
            exit_codes::ERROR
        })
    }
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
        s.push_str(": ");
        s.push_str(&e.to_string());
        source = e.source();
    }
    s
}
