//! The `xyz` command line: argument parsing, dispatch, output and exit codes. The work itself is
//! done by `xyz-core` and the function runtimes.

#![deny(missing_docs)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

mod commands;
mod guest_kit;
mod interrupt;
mod plot;
mod progress;

/// Exit codes of `xyz`.
pub mod exit_codes {
    /// Everything worked.
    pub const OK: u8 = 0;
    /// The command failed: bad input, a bad module, an I/O error. Nothing was written.
    pub const ERROR: u8 = 1;
    /// The command line could not be parsed.
    pub const USAGE: u8 = 2;
    /// The dataset (for `grow`, the results) was written, but some cases failed or, after
    /// `reap --allow-incomplete`, were not grown: their cells are missing.
    pub const CASES_FAILED: u8 = 3;
    /// `verify`: cells evaluated again differ from those on record.
    pub const CELLS_DIFFER: u8 = 4;

    /// [`CASES_FAILED`] when any cell is missing (cases failed or not grown), else [`OK`].
    pub fn for_missing(missing: bool) -> u8 {
        if missing { CASES_FAILED } else { OK }
    }
}

/// Evaluate a function over every combination of named parameters and gather the results
/// into one labelled N-dimensional dataset.
#[derive(Debug, Parser)]
#[command(name = "xyz", version, about, max_term_width = 100)]
#[command(
    after_help = "EXIT CODES:\n  0  success\n  1  error (nothing written)\n  \
    2  usage error\n  3  some cases failed or were not grown (output written, their cells missing)"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

/// Runs `xyz` with the process's arguments and returns its exit code.
pub fn main_impl() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_codes::USAGE
            } else {
                exit_codes::OK
            });
        }
    };
    // Output to a closed pipe (`xyz status | head -1`) ends the command quietly, as it would
    // any Unix tool: print! panics on it, so that panic is caught here and not reported.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !is_broken_pipe_panic(info.payload()) {
            default_hook(info);
        }
    }));
    let result = match std::panic::catch_unwind(|| cli.command.execute()) {
        Ok(result) => result,
        Err(payload) if is_broken_pipe_panic(&*payload) => return ExitCode::from(exit_codes::OK),
        Err(payload) => std::panic::resume_unwind(payload),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::from(exit_codes::OK);
            }
            if let Some(usage) = err.downcast_ref::<UsageError>() {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: {usage}\n\nFor more information, try '--help'."
                );
                return ExitCode::from(exit_codes::USAGE);
            }
            let _ = writeln!(std::io::stderr(), "error: {}", say_once(err.chain()));
            ExitCode::from(exit_codes::ERROR)
        }
    }
}

/// A command line that parsed but cannot be used (a bad `--combo`, no function named): reported
/// as clap reports its own usage errors, with exit code [`exit_codes::USAGE`].
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// An error and its sources as one line, each thing said once: an error that prints its
/// source itself is not followed by that source again.
pub(crate) use xyz::serve::say_once;

fn is_broken_pipe_panic(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
