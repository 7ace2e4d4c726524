//! `xyz check`: find results that would not be reaped.

use std::path::PathBuf;

use anyhow::bail;
use serde_json::json;
use xyz_core::Crop;

use crate::exit_codes;

/// Read every result of a crop in full and report those that are truncated, corrupt, stale or
/// not results at all; with --delete-bad, remove them so their batches grow again.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckCommand {
    /// The crop's name (or the path of its .xyz-NAME directory)
    name: String,

    /// The directory holding the crop [default: the current directory, or the crop's own
    /// directory when run inside it]
    #[arg(long, value_name = "DIR")]
    parent_dir: Option<PathBuf>,

    #[command(flatten)]
    trust: super::key::TrustArgs,

    /// Remove bad results, and temporary files of growers that died on this machine
    #[arg(long)]
    delete_bad: bool,

    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

impl CheckCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let crop = self
            .trust
            .apply(Crop::locate(&self.name, self.parent_dir.as_deref())?)?;
        let report = crop.check(self.delete_bad)?;
        if self.json {
            let bad: Vec<_> = report
                .bad
                .iter()
                .map(|(p, why)| json!({"path": p, "problem": why.to_string()}))
                .collect();
            let summary = json!({
                "name": crop.name(),
                "good": report.good,
                "bad": bad,
                "dead_temporaries": report.dead_temps,
                "deleted": report.deleted,
                "repacked": report.repacked.iter().map(|(old, new)| json!({"pack": old, "now": new})).collect::<Vec<_>>(),
                "hosts": report.hosts,
            });
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            for (path, why) in &report.bad {
                println!("bad: {} {why}", path.display());
            }
            for path in &report.dead_temps {
                println!("left by a dead grower: {}", path.display());
            }
            for path in &report.deleted {
                println!("deleted {}", path.display());
            }
            for (old, new) in &report.repacked {
                match new {
                    Some(new) => println!(
                        "removed the bad batches of {}: its good ones are now in {}",
                        old.display(),
                        new.display()
                    ),
                    None => println!("deleted {} (no good batch in it)", old.display()),
                }
            }
            let hosts: Vec<String> = report
                .hosts
                .iter()
                .map(|(h, n)| format!("{h} ({n})"))
                .collect();
            println!(
                "{}: {} good results{}, {} bad",
                crop.name(),
                report.good,
                if hosts.is_empty() {
                    String::new()
                } else {
                    format!(" from {}", hosts.join(", "))
                },
                report.bad.len()
            );
        }
        let left = report.left();
        if left > 0 && !self.json {
            bail!(
                "{left} bad files in {}: run again with --delete-bad to remove them",
                crop.name()
            );
        }
        Ok(if left > 0 {
            exit_codes::ERROR
        } else {
            exit_codes::OK
        })
    }
}
