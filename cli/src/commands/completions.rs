//! `xyz completions` and `xyz man`: shell completions and man pages, generated from the
//! command line's own definitions, so they never disagree with `--help`.

use std::path::PathBuf;

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::exit_codes;

const COMPLETIONS_HELP: &str = "EXAMPLES:
  xyz completions bash > ~/.local/share/bash-completion/completions/xyz
  xyz completions zsh > ~/.zfunc/_xyz        # with fpath+=~/.zfunc before compinit
  xyz completions fish > ~/.config/fish/completions/xyz.fish";

/// Print the completions of xyz's commands and options for a shell
#[derive(Debug, clap::Args)]
#[command(after_help = COMPLETIONS_HELP)]
pub(crate) struct CompletionsCommand {
    /// The shell: bash, zsh, fish, elvish or powershell
    #[arg(value_name = "SHELL")]
    shell: clap_complete::Shell,
}

impl CompletionsCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let mut cmd = crate::Cli::command();
        // Made whole, then written: clap_complete panics on a write that fails, and a reader
        // that goes away (`| head -1`) must end the command quietly.
        let mut text = Vec::new();
        clap_complete::generate(self.shell, &mut cmd, "xyz", &mut text);
        std::io::stdout().write_all(&text)?;
        Ok(exit_codes::OK)
    }
}

/// Print xyz's man page, or write a page per command into a directory
#[derive(Debug, clap::Args)]
pub(crate) struct ManCommand {
    /// Write xyz.1 and a page per command (xyz-run.1, …) into this directory instead
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

impl ManCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let cmd = crate::Cli::command();
        match self.out_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("making {}", dir.display()))?;
                clap_mangen::generate_to(cmd, &dir)
                    .with_context(|| format!("writing man pages into {}", dir.display()))?;
            }
            None => clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?,
        }
        Ok(exit_codes::OK)
    }
}
