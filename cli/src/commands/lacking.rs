//! Which cases of a sweep a dataset already holds: `run --into` and `sow --into` evaluate only
//! the others.

use std::path::Path;

use xyz_core::BoundSpace;
use xyz_core::harvest::Harvest;

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

/// The cases to evaluate, and what was skipped.
#[derive(Debug)]
pub(crate) struct Lacking {
    /// The cases to evaluate, ascending; `None` for every case of the space.
    pub(crate) todo: Option<Vec<u64>>,
    /// Cases skipped: the dataset holds their cells.
    pub(crate) skipped: u64,
    /// Of those, the ones whose cells failed there.
    pub(crate) skipped_failed: u64,
}

impl Lacking {
    /// Every case, none skipped.
    pub(crate) fn all() -> Lacking {
        Lacking {
            todo: None,
            skipped: 0,
            skipped_failed: 0,
        }
    }

    /// How many cases are to be evaluated of the `total` of the space.
    pub(crate) fn count(&self, total: u64) -> u64 {
        self.todo.as_ref().map_or(total, |t| t.len() as u64)
    }

    /// A line for the summary, if any case was skipped.
    pub(crate) fn summary(&self, into: &Path) -> Option<String> {
        if self.skipped == 0 {
            return None;
        }
        let failed = if self.skipped_failed > 0 {
            format!(
                ", {} of them failed there (--retry-failed evaluates those again)",
                self.skipped_failed
            )
        } else {
            String::new()
        };
        Some(format!(
            "{} already in {} and skipped{failed}; --recompute evaluates every case",
            super::args::count_of(self.skipped, "case"),
            into.display()
        ))
    }
}

/// The cases of `space` that the dataset `harvest` merges into lacks, as `args` asks. A
/// dataset made by another function (by SHA-256) is refused unless `--recompute`.
pub(crate) fn lacking(
    harvest: &Harvest,
    space: &BoundSpace,
    sha256: Option<&str>,
    into: &Path,
    args: LackingArgs,
) -> anyhow::Result<Lacking> {
    if args.recompute {
        return Ok(Lacking::all());
    }
    if let (Some(theirs), Some(ours)) = (harvest.existing_function(), sha256)
        && theirs != ours
    {
        anyhow::bail!(
            "{} was made by a function with sha256 {theirs}, and this one has {ours}: its \
             cells are not this function's; --recompute evaluates every case (cells that then \
             differ need --overwrite or --keep-existing)",
            into.display()
        );
    }
    // Held: a value, or a failure on record unless those are retried.
    let held = |case: u64| {
        let cell = space.cell_of(case) as usize;
        if harvest.holds(cell) {
            Some(false)
        } else if !args.retry_failed && harvest.failed(cell) {
            Some(true)
        } else {
            None
        }
    };
    let (mut skipped, mut skipped_failed) = (0u64, 0u64);
    for case in 0..space.len() {
        if let Some(failed) = held(case) {
            skipped += 1;
            skipped_failed += u64::from(failed);
        }
    }
    // The list of cases to evaluate is made only when some are skipped.
    let todo = (skipped > 0).then(|| (0..space.len()).filter(|c| held(*c).is_none()).collect());
    Ok(Lacking {
        todo,
        skipped,
        skipped_failed,
    })
}
