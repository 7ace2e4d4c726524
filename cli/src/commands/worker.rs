//! `xyz worker` (hidden): serve a function to a parent `xyz` over stdin and stdout, as
//! [`xyz::serve`](mod@xyz::serve) does: the parent starts workers for a WebAssembly module whose deadline is
//! enforced by processes (`--watchdog process`), and for native libraries unless
//! `--no-isolate`.

use std::path::PathBuf;

use super::EngineOpts;
use crate::exit_codes;

/// Serve a function module to a parent xyz over stdin and stdout (used by xyz itself).
#[derive(Debug, clap::Args)]
pub(crate) struct WorkerCommand {
    /// The function's file (a .wasm module or a native library), or `-` to take it from the
    /// parent over the protocol's pipe, as a worker started by `xyz run --launcher` does
    /// (which needs --sha256)
    module: PathBuf,

    /// Most linear memory one instance may use, in bytes
    #[arg(long, value_name = "BYTES")]
    memory: Option<u64>,

    /// Refuse the function unless its file has this SHA-256, before any of it is loaded
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,

    /// Let WASI modules see the host's clocks and randomness
    #[arg(long)]
    real_clocks: bool,

    /// The process that started this worker: it ends when that one is gone [default: its
    /// parent when it starts]
    #[arg(long, value_name = "PID")]
    parent: Option<u32>,

    #[command(flatten)]
    cache: EngineOpts,
}

impl WorkerCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let options = xyz::serve::WorkerOptions {
            module: self.module,
            memory: self.memory,
            sha256: self.sha256,
            real_clocks: self.real_clocks,
            parent: self.parent,
            loader: self.cache.loader()?,
        };
        Ok(if xyz::serve::serve_worker(&options)? {
            exit_codes::OK
        } else {
            exit_codes::ERROR
        })
    }
}
