//! The batch plan: how a crop's cases are split into numbered batches.
//!
//! Cases are taken in their order in the space, or in an order shuffled by a seed, and cut
//! into batches numbered from 1:
//!
//! - `batchsize = B` (the default is 1): batches of `B` cases, the last one smaller;
//! - `num_batches = K`: `K` batches (at most one per case) whose sizes differ by at most one,
//!   the larger ones first;
//! - both: they must agree, `n <= B * K < n + B`, and give batches of `B`.
//!
//! No batch is written as a file: its cases follow from the manifest.

use std::ops::Range;

use crate::space::CaseSet;

/// How a crop's cases are split into batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    cases: u64,
    batches: u64,
    /// Cases per batch, when batches are of one size (the last smaller).
    batchsize: Option<u64>,
    shuffle: Option<u64>,
    /// The case order, when shuffled or a subset: the space's case at each position.
    order: Option<Vec<u64>>,
    /// Whether the cases are a subset of the space's.
    subset: bool,
    /// The positions of each batch, when the cases come in rounds ([`Plan::rounds`]).
    ranges: Option<Vec<Range<u64>>>,
}

/// A plan that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(String);

impl PlanError {
    pub(crate) fn new(message: String) -> PlanError {
        PlanError(message)
    }
}

/// At most about how many batches a crop gets when its sower names no batch size: few enough
/// files for a shared filesystem, enough to spread over many workers.
pub const DEFAULT_BATCHES: u64 = 1000;

/// The fewest cases a batch gets when its sower names no batch size: enough that growing a
/// batch (a call into the function, a result file) costs little beside its cases.
pub const DEFAULT_MIN_BATCHSIZE: u64 = 2500;

/// The batch size of a crop of `cases` cases whose sower names none: at least
/// [`DEFAULT_MIN_BATCHSIZE`] cases (all of them, if fewer), and no more than about
/// [`DEFAULT_BATCHES`] batches.
pub fn default_batchsize(cases: u64) -> u64 {
    cases
        .div_ceil(DEFAULT_BATCHES)
        .max(DEFAULT_MIN_BATCHSIZE)
        .min(cases.max(1))
}

/// The batch size a sowing of `cases` cases takes when it was given neither a batch size nor
/// a number of batches: [`default_batchsize`]; `None` when it was given either.
pub fn chosen_batchsize(
    batchsize: Option<u64>,
    num_batches: Option<u64>,
    cases: u64,
) -> Option<u64> {
    (batchsize.is_none() && num_batches.is_none()).then(|| default_batchsize(cases))
}

impl Plan {
    /// The plan for `cases` cases, from the requested batch size and number of batches (see
    /// the [module docs](self)), in space order or shuffled by `shuffle`.
    pub fn new(
        cases: u64,
        batchsize: Option<u64>,
        num_batches: Option<u64>,
        shuffle: Option<u64>,
    ) -> Result<Plan, PlanError> {
        if cases == 0 {
            return Err(PlanError("the space has no cases".into()));
        }
        if batchsize == Some(0) {
            return Err(PlanError("the batch size must be at least 1".into()));
        }
        if num_batches == Some(0) {
            return Err(PlanError("the number of batches must be at least 1".into()));
        }
        let (batches, size) = match (batchsize, num_batches) {
            (Some(b), Some(k)) => {
                let total = b.checked_mul(k);
                if !total.is_some_and(|t| cases <= t && t < cases + b) {
                    return Err(PlanError(format!(
                        "a batch size of {b} and {k} batches do not fit {cases} cases: \
                         {cases} cases in batches of {b} make {} batches",
                        cases.div_ceil(b)
                    )));
                }
                (k, Some(b))
            }
            (Some(b), None) => (cases.div_ceil(b), Some(b)),
            (None, Some(k)) => (k.min(cases), None),
            (None, None) => (cases, Some(1)),
        };
        Ok(Plan {
            cases,
            batches,
            batchsize: size,
            shuffle,
            order: shuffle.map(|seed| shuffled(cases, seed)),
            subset: false,
            ranges: None,
        })
    }

    /// Number of cases.
    pub fn cases(&self) -> u64 {
        self.cases
    }

    /// Number of batches; they are numbered `1..=batches()`.
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// The cases per batch, when all batches but the last (of each round, for
    /// [`Plan::rounds`]) have the same size.
    pub fn batchsize(&self) -> Option<u64> {
        self.batchsize
    }

    /// The shuffle seed, if the case order is shuffled.
    pub fn shuffle(&self) -> Option<u64> {
        self.shuffle
    }

    /// The plan for the cases `subset` of a space (ascending, none twice) alone, as
    /// [`Plan::new`] cuts `subset.len()` cases: for a crop of only the cases a dataset lacks.
    pub fn of_cases(
        subset: Vec<u64>,
        batchsize: Option<u64>,
        num_batches: Option<u64>,
        shuffle: Option<u64>,
    ) -> Result<Plan, PlanError> {
        let mut plan = Plan::new(subset.len() as u64, batchsize, num_batches, shuffle)?;
        plan.order = Some(match plan.order.take() {
            Some(order) => order.iter().map(|p| subset[*p as usize]).collect(),
            None => subset,
        });
        plan.subset = true;
        Ok(plan)
    }

    /// The plan for cases that come in rounds of `sizes` cases (an adaptive study's), each
    /// round cut into batches of `batchsize` (its last smaller): a round added later never
    /// changes the batches of the rounds before it.
    pub fn rounds(sizes: &[u64], batchsize: u64) -> Result<Plan, PlanError> {
        if batchsize == 0 {
            return Err(PlanError("the batch size must be at least 1".into()));
        }
        let mut ranges = Vec::new();
        let mut at = 0u64;
        for &size in sizes {
            let end = at + size;
            while at < end {
                let next = (at + batchsize).min(end);
                ranges.push(at..next);
                at = next;
            }
        }
        Ok(Plan {
            cases: at,
            batches: ranges.len() as u64,
            batchsize: Some(batchsize),
            shuffle: None,
            order: None,
            subset: false,
            ranges: Some(ranges),
        })
    }

    /// Whether the plan covers a subset of the space's cases ([`Plan::of_cases`]).
    pub fn is_subset(&self) -> bool {
        self.subset
    }

    /// The positions in the case order that batch `id` covers.
    ///
    /// # Panics
    /// If `id` is not in `1..=batches()`.
    pub fn positions(&self, id: u64) -> Range<u64> {
        assert!(
            (1..=self.batches).contains(&id),
            "batch {id} of {}",
            self.batches
        );
        let i = id - 1;
        if let Some(ranges) = &self.ranges {
            return ranges[i as usize].clone();
        }
        match self.batchsize {
            Some(b) => i * b..((i + 1) * b).min(self.cases),
            None => {
                let (base, rem) = (self.cases / self.batches, self.cases % self.batches);
                let start = i * base + i.min(rem);
                start..start + base + u64::from(i < rem)
            }
        }
    }

    /// The cases of batch `id`, in the order they are evaluated.
    pub fn cases_of(&self, id: u64) -> CaseSet<'_> {
        let r = self.positions(id);
        match &self.order {
            None => CaseSet::Range(r.start, r.end),
            Some(order) => CaseSet::List(&order[r.start as usize..r.end as usize]),
        }
    }
}

/// A permutation of `0..n` from `seed`: Fisher–Yates driven by SplitMix64, the same on every
/// machine and in every version.
fn shuffled(n: u64, seed: u64) -> Vec<u64> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut order: Vec<u64> = (0..n).collect();
    for i in (1..n as usize).rev() {
        // Lemire's multiply-shift: uniform enough for any n a crop can hold.
        let j = ((u128::from(next()) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_batch_size_is_large_enough_and_makes_at_most_a_thousand_batches() {
        assert_eq!(default_batchsize(1), 1);
        assert_eq!(default_batchsize(999), 999);
        assert_eq!(default_batchsize(160_000), 2500);
        let b = default_batchsize(10_000_000);
        assert_eq!((b, 10_000_000u64.div_ceil(b)), (10_000, 1000));
    }

    fn sizes(p: &Plan) -> Vec<u64> {
        (1..=p.batches())
            .map(|i| {
                let r = p.positions(i);
                r.end - r.start
            })
            .collect()
    }

    /// Every position is in exactly one batch, in order.
    fn assert_covers(p: &Plan) {
        let mut next = 0;
        for i in 1..=p.batches() {
            let r = p.positions(i);
            assert_eq!(r.start, next, "batch {i}");
            assert!(r.end > r.start, "batch {i} is empty");
            next = r.end;
        }
        assert_eq!(next, p.cases());
    }

    #[test]
    fn batch_sizes_follow_the_request() {
        let p = Plan::new(12, Some(5), None, None).unwrap();
        assert_eq!(sizes(&p), [5, 5, 2]);
        let p = Plan::new(12, None, None, None).unwrap();
        assert_eq!(p.batches(), 12);
        let p = Plan::new(99, None, Some(67), None).unwrap();
        assert_eq!(p.batches(), 67);
        assert_eq!(sizes(&p)[..32], [2; 32]);
        assert_eq!(sizes(&p)[32..], [1; 35]);
        let p = Plan::new(99, None, Some(98), None).unwrap();
        assert_eq!(sizes(&p)[0], 2);
        assert_eq!(sizes(&p)[1..], [1; 97]);
        let p = Plan::new(5, None, Some(10), None).unwrap();
        assert_eq!(p.batches(), 5);
        let p = Plan::new(12, Some(5), Some(3), None).unwrap();
        assert_eq!(sizes(&p), [5, 5, 2]);
        for p in [
            Plan::new(1000, Some(7), None, None).unwrap(),
            Plan::new(1000, None, Some(333), Some(1)).unwrap(),
            Plan::new(1, None, None, None).unwrap(),
        ] {
            assert_covers(&p);
        }
    }

    #[test]
    fn bad_requests_are_refused() {
        let err = |b, k| Plan::new(12, b, k, None).unwrap_err().to_string();
        assert!(err(Some(0), None).contains("batch size must be at least 1"));
        assert!(err(None, Some(0)).contains("number of batches must be at least 1"));
        let e = err(Some(5), Some(4));
        assert!(e.contains("make 3 batches"), "{e}");
        assert!(err(Some(5), Some(2)).contains("do not fit 12 cases"));
        assert!(err(Some(u64::MAX), Some(3)).contains("do not fit"));
        assert!(
            Plan::new(0, None, None, None)
                .unwrap_err()
                .to_string()
                .contains("no cases")
        );
    }

    #[test]
    fn shuffling_permutes_every_case_by_seed() {
        let a = shuffled(1000, 7);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, shuffled(1000, 7));
        assert_ne!(a, shuffled(1000, 8));
        assert_ne!(a, sorted);
        // Fixed forever: crops sown by one version are grown by another.
        assert_eq!(shuffled(5, 42), [1, 2, 4, 0, 3]);
    }
}
