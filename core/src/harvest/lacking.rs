//! Which cases of a sweep a dataset already holds: a merge evaluates only the others.

use super::Harvest;
use crate::space::BoundSpace;

/// Which cases a merge into a dataset evaluates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Policy {
    /// Every case, whatever the dataset holds (needed when the function changed).
    pub recompute: bool,
    /// The cases whose cells failed in the dataset too (by default a failure on record counts
    /// as held).
    pub retry_failed: bool,
}

/// The cases to evaluate, and what was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lacking {
    /// The cases to evaluate, ascending; `None` for every case of the space.
    pub todo: Option<Vec<u64>>,
    /// Cases skipped: the dataset holds their cells.
    pub skipped: u64,
    /// Of those, the ones whose cells failed there.
    pub skipped_failed: u64,
}

impl Lacking {
    /// Every case, none skipped.
    pub fn all() -> Lacking {
        Lacking {
            todo: None,
            skipped: 0,
            skipped_failed: 0,
        }
    }

    /// How many cases are to be evaluated of the `total` of the space.
    pub fn count(&self, total: u64) -> u64 {
        self.todo.as_ref().map_or(total, |t| t.len() as u64)
    }
}

/// The dataset was made by another function than the one evaluating the cases it lacks, so its
/// cells are not this function's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "was made by a function with sha256 {theirs}, and this one has {ours}: its cells are not \
     this function's"
)]
pub struct OtherFunction {
    /// The SHA-256 of the function that made the dataset.
    pub theirs: String,
    /// The SHA-256 of this one.
    pub ours: String,
}

impl Harvest {
    /// The cases of `space` this harvest's dataset lacks, as `policy` asks. A dataset made by
    /// another function than `sha256` is refused, unless `policy` recomputes every case.
    pub fn lacking(
        &self,
        space: &BoundSpace,
        sha256: Option<&str>,
        policy: Policy,
    ) -> Result<Lacking, OtherFunction> {
        if policy.recompute {
            return Ok(Lacking::all());
        }
        if let (Some(theirs), Some(ours)) = (self.existing_function(), sha256)
            && theirs != ours
        {
            return Err(OtherFunction {
                theirs: theirs.to_string(),
                ours: ours.to_string(),
            });
        }
        // Held: a value, or a failure on record unless those are retried.
        let held = |case: u64| {
            let cell = space.cell_of(case) as usize;
            if self.holds(cell) {
                Some(false)
            } else if !policy.retry_failed && self.failed(cell) {
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
}
