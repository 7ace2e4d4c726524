//! The subcommands, one file each. This module only dispatches.

mod inspect;
mod run;

use std::path::PathBuf;

/// A subcommand of `xyz`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    Run(run::RunCommand),
    Inspect(inspect::InspectCommand),
}

impl Command {
    /// Runs the subcommand and returns the exit code.
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        match self {
            Command::Run(c) => c.execute(),
            Command::Inspect(c) => c.execute(),
        }
    }
}

/// Options for loading WebAssembly functions, shared by the commands that load one.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Sandbox")]
pub(crate) struct WasmOpts {
    /// Most linear memory one instance may use, such as 256MiB [default: spec's
    /// limits.memory, else 1GiB]
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Longest one call may run, such as 30s or 2h [default: spec's limits.deadline, else 10m]
    #[arg(long, value_name = "DURATION", conflicts_with = "no_deadline")]
    deadline: Option<String>,
    /// Run without deadlines: no interruption checks in the compiled code, so tight loops run
    /// faster, but an endless loop is never stopped
    #[arg(long)]
    no_deadline: bool,
    /// Directory of the compiled-module cache [default: ~/.cache/xyz/modules]
    #[arg(long, value_name = "DIR", env = "XYZ_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the compiled-module cache
    #[arg(long)]
    no_cache: bool,
}

impl WasmOpts {
    /// The wasm configuration from these options over the spec's limits.
    pub(crate) fn config(&self, limits: &xyz_core::Limits) -> anyhow::Result<xyz_wasm::WasmConfig> {
        use anyhow::Context as _;
        let mut config = xyz_wasm::WasmConfig::new();
        let memory = match &self.memory {
            Some(m) => Some(
                xyz_core::spec::parse_size(m)
                    .map_err(anyhow::Error::msg)
                    .context("--memory")?,
            ),
            None => limits.memory,
        };
        if let Some(m) = memory {
            config.memory_limit(m);
        }
        let deadline = match &self.deadline {
            Some(d) => Some(
                xyz_core::spec::parse_duration(d)
                    .map_err(anyhow::Error::msg)
                    .context("--deadline")?,
            ),
            None => limits.deadline,
        };
        if self.no_deadline {
            config.deadline(None);
        } else if let Some(d) = deadline {
            config.deadline(Some(d));
        }
        if self.no_cache {
            config.cache_dir(None);
        } else if let Some(dir) = &self.cache_dir {
            config.cache_dir(Some(dir.clone()));
        }
        Ok(config)
    }
}
