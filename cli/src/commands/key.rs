//! `xyz key`: the key this account seals results with, and `--trust-key`, which accepts the
//! results another account's key sealed.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use xyz_core::crop::Crop;
use xyz_core::keys::ResultKey;

use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  A colleague's workers grow batches of your crop; you reap them:
    (colleague) xyz key --export ~/alice.key      # then hands you the file
    (you)       xyz reap study --trust-key alice.key

A result in a crop counts only if a key the reader trusts sealed it: your own (made on first
use, private to your account), and those given with --trust-key. The exported key seals results
as its owner: hand it only to those whose reaps should trust what that account grows.";

/// Show the ID of the key this account seals results with, or export the key for a colleague
/// to trust
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct KeyCommand {
    /// Write the key into this file (readable by this user alone), for `--trust-key FILE`
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
}

impl KeyCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let key = ResultKey::own()?;
        if let Some(path) = &self.export {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options
                .open(path)
                .and_then(|mut f| f.write_all(key.export().as_bytes()))
                .with_context(|| format!("writing {} (it must not exist yet)", path.display()))?;
            println!(
                "wrote the result key {} to {}",
                key.id_hex(),
                path.display()
            );
        } else {
            println!("{}", key.id_hex());
        }
        Ok(exit_codes::OK)
    }
}

/// Keys whose results a command accepts beside this account's own.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct TrustArgs {
    /// Also accept results sealed by the key in this file (a colleague's: see `xyz key`); may
    /// be given more than once
    #[arg(long = "trust-key", value_name = "FILE")]
    trust_keys: Vec<PathBuf>,
}

impl TrustArgs {
    /// `crop`, trusting the keys given too.
    pub(crate) fn apply(&self, mut crop: Crop) -> anyhow::Result<Crop> {
        for path in &self.trust_keys {
            crop.trust(ResultKey::from_file(path).context("--trust-key")?);
        }
        Ok(crop)
    }
}
