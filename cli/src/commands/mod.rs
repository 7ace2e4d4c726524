//! The subcommands, one file each. This module only dispatches.

mod args;
mod build;
mod check;
mod completions;
mod grid;
mod grow;
mod inspect;
mod key;
mod lacking;
mod launcher;
mod new;
mod plot;
mod reap;
mod run;
mod show;
mod source;
mod sow;
mod status;
mod submit;
mod verify;
mod worker;

use self::args::{EngineOpts, OutputArgs, SweepArgs, WasmOpts, count};

/// A subcommand of `xyz`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    Run(run::RunCommand),
    Sow(sow::SowCommand),
    Grow(grow::GrowCommand),
    Status(status::StatusCommand),
    Submit(submit::SubmitCommand),
    Reap(reap::ReapCommand),
    Check(check::CheckCommand),
    Verify(verify::VerifyCommand),
    Show(show::ShowCommand),
    Plot(plot::PlotCommand),
    Inspect(inspect::InspectCommand),
    New(new::NewCommand),
    Build(build::BuildCommand),
    Key(key::KeyCommand),
    Completions(completions::CompletionsCommand),
    Man(completions::ManCommand),
    #[command(hide = true)]
    Worker(worker::WorkerCommand),
}

impl Command {
    /// Runs the subcommand and returns the exit code.
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        match self {
            Command::Run(c) => c.execute(),
            Command::Sow(c) => c.execute(),
            Command::Grow(c) => c.execute(),
            Command::Status(c) => c.execute(),
            Command::Submit(c) => c.execute(),
            Command::Reap(c) => c.execute(),
            Command::Check(c) => c.execute(),
            Command::Verify(c) => c.execute(),
            Command::Show(c) => c.execute(),
            Command::Plot(c) => c.execute(),
            Command::Inspect(c) => c.execute(),
            Command::New(c) => c.execute(),
            Command::Build(c) => c.execute(),
            Command::Key(c) => c.execute(),
            Command::Completions(c) => c.execute(),
            Command::Man(c) => c.execute(),
            Command::Worker(c) => c.execute(),
        }
    }
}
