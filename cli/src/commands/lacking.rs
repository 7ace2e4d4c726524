//! `--recompute` and `--retry-failed`: which cases of a sweep `run --into` and `sow --into`
//! evaluate, as the library's [`Policy`] says, and the summary line of what was skipped.

use std::path::Path;

use xyz_core::BoundSpace;
use xyz_core::harvest::{Harvest, Lacking, OtherFunction, Policy};
use xyz_core::output::WindowMerge;

/// How `--into` picks the cases to evaluate.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub(crate) struct LackingArgs {
    /// With --into: evaluate every case, not only those whose cells the dataset lacks (needed
    /// when the function changed; cells that then differ need --overwrite or --keep-existing)
    #[arg(long, requires = "into")]
    pub(crate) recompute: bool,

    /// With --into: evaluate again the cases whose cells failed in the dataset (by default a
    /// failure on record counts as held)
    #[arg(long, requires = "into", conflicts_with = "recompute")]
    pub(crate) retry_failed: bool,
}

impl LackingArgs {
    fn policy(self) -> Policy {
        Policy {
            recompute: self.recompute,
            retry_failed: self.retry_failed,
        }
    }
}

/// A line for the summary, if any case was skipped.
pub(crate) fn summary(lacking: &Lacking, into: &Path) -> Option<String> {
    if lacking.skipped == 0 {
        return None;
    }
    let failed = if lacking.skipped_failed > 0 {
        format!(
            ", {} of them failed there (--retry-failed evaluates those again)",
            lacking.skipped_failed
        )
    } else {
        String::new()
    };
    Some(format!(
        "{} already in {} and skipped{failed}; --recompute evaluates every case",
        super::args::count_of(lacking.skipped, "case"),
        into.display()
    ))
}

/// The cases of `space` that the dataset `harvest` merges into (at `into`) lacks, as `args`
/// asks; the flag that settles a refusal added to it.
pub(crate) fn lacking(
    harvest: &Harvest,
    space: &BoundSpace,
    sha256: Option<&str>,
    into: &Path,
    args: LackingArgs,
) -> anyhow::Result<Lacking> {
    harvest
        .lacking(space, sha256, args.policy())
        .map_err(|e| other_function(e, into))
}

/// As [`lacking`], for a merge written a window at a time; `None` where the dataset may hold
/// some of the cases, which is then merged whole.
pub(crate) fn lacking_of_windows(
    merge: &WindowMerge,
    sha256: Option<&str>,
    into: &Path,
    args: LackingArgs,
) -> anyhow::Result<Option<Lacking>> {
    merge
        .lacking(sha256, args.policy())
        .map_err(|e| other_function(e, into))
}

fn other_function(e: OtherFunction, into: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "{} {e}; --recompute evaluates every case (cells that then differ need --overwrite or \
         --keep-existing)",
        into.display()
    )
}
