//! How far a crop has grown: counts, rates, failures, growers, workers and jobs, from the
//! results' names and the few results that hold the latest failures.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::result::{BadResult, NameInfo};
use super::{ClaimInfo, Crop, CropError, GrowerId, GrowerInfo, JobRecord, Listing, grower};
use crate::runner::CaseFailure;

/// The span of the recent work [`Status::recent_cases_per_second`] is measured over, in
/// milliseconds: long enough to span a few batches of most crops, short enough to follow a
/// change of pace (growers joining or leaving).
pub const RECENT_MS: u64 = 60_000;

/// How many of the latest failures [`Status`] carries.
pub const RECENT_FAILURES: usize = 3;

/// Progress of a crop.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    /// The crop's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The function's signature.
    pub function: String,
    /// Batches in all.
    pub batches: u64,
    /// Batches grown.
    pub grown: u64,
    /// Cases in all.
    pub cases: u64,
    /// Cases in grown batches.
    pub cases_grown: u64,
    /// Failed cases in grown batches.
    pub failed_cases: u64,
    /// Cases per second from the first batch's start to the last one's end, once one is grown.
    pub cases_per_second: Option<f64>,
    /// Cases per second over the recent work: the batches that ended in the last
    /// [`RECENT_MS`] milliseconds before the latest one did, from the earliest start among
    /// them.
    pub recent_cases_per_second: Option<f64>,
    /// Seconds left at the recent rate.
    pub eta_seconds: Option<f64>,
    /// The latest failures: those of the batches that ended last, newest first, at most
    /// [`RECENT_FAILURES`].
    pub recent_failures: Vec<CaseFailure>,
    /// Temporary files of writers in progress (or dead).
    pub writing: u64,
    /// Result files and packs sealed by keys not trusted here: their batches do not count.
    pub untrusted: u64,
    /// The claims of workers (`xyz grow --worker`), by batch: live ones, and expired ones
    /// not yet taken over.
    pub claims: Vec<ClaimInfo>,
    /// Jobs submitted to a scheduler for it (`xyz submit`), oldest first.
    pub jobs: Vec<JobRecord>,
    /// Who grew the grown batches: each grower with its host and architecture, by the most
    /// batches first.
    pub growers: Vec<GrowerInfo>,
    /// An adaptive study's rounds and loss, if the crop is one's.
    pub study: Option<super::StudyStatus>,
}

impl Status {
    /// Whether nothing is left to grow: every batch grown and, for an adaptive study, the
    /// study finished.
    pub fn is_complete(&self) -> bool {
        self.grown >= self.batches && self.study.as_ref().is_none_or(|s| s.finished.is_some())
    }
}

impl Crop {
    /// Progress, from the results' names (`check` reads them), and the latest failures'
    /// messages from the few results that hold them. Takes no lock and writes nothing, so it
    /// may be asked as often as wanted while growers run.
    pub fn status(&self) -> Result<Status, CropError> {
        let listing = self.listing()?;
        let (mut cases_grown, mut failed) = (0u64, 0u64);
        let (mut first_start, mut last_end) = (u64::MAX, 0u64);
        let mut by_grower: BTreeMap<Option<&GrowerId>, (u64, u64)> = BTreeMap::new();
        for info in listing.grown() {
            let r = self.plan.positions(info.batch);
            cases_grown += r.end - r.start;
            let g = by_grower.entry(info.grower.as_ref()).or_default();
            g.0 += 1;
            g.1 += r.end - r.start;
            failed += info.failed;
            first_start = first_start.min(info.end_ms.saturating_sub(info.took_ms));
            last_end = last_end.max(info.end_ms);
        }
        let rate = (cases_grown > 0).then(|| {
            let secs = (last_end.saturating_sub(first_start)).max(1) as f64 / 1000.0;
            cases_grown as f64 / secs
        });
        let recent = self.recent_rate(&listing, last_end);
        let study = self.study_status();
        let missing = self.plan.cases() - cases_grown;
        let left = study.as_ref().map_or(missing, |s| s.cases_left(missing));
        Ok(Status {
            name: self.manifest.name.clone(),
            dir: self.dir.clone(),
            function: self.manifest.signature.to_string(),
            batches: self.plan.batches(),
            grown: listing.grown().count() as u64,
            cases: self.plan.cases(),
            cases_grown,
            failed_cases: failed,
            cases_per_second: rate,
            recent_cases_per_second: recent,
            eta_seconds: recent.or(rate).map(|r| left as f64 / r),
            recent_failures: self.recent_failures(&listing, RECENT_FAILURES),
            writing: listing.temps.len() as u64,
            untrusted: listing
                .bad_files
                .iter()
                .filter(|(_, bad)| matches!(bad, BadResult::Untrusted { .. }))
                .count() as u64,
            claims: self.claims()?,
            jobs: self.jobs()?,
            growers: self.growers(by_grower),
            study,
        })
    }

    /// Each grower of `counts` (batches and cases by grower ID) with its record.
    fn growers(&self, counts: BTreeMap<Option<&GrowerId>, (u64, u64)>) -> Vec<GrowerInfo> {
        let mut growers: Vec<GrowerInfo> = counts
            .into_iter()
            .map(|(id, (batches, cases))| GrowerInfo {
                id: id.cloned(),
                grower: id.and_then(|id| grower::read(&self.dir, id)),
                batches,
                cases,
            })
            .collect();
        growers.sort_by(|a, b| b.batches.cmp(&a.batches).then_with(|| a.id.cmp(&b.id)));
        growers
    }
}

impl Crop {
    /// Cases per second over the batches that ended in the [`RECENT_MS`] before `last_end`
    /// (the latest end), from the earliest start among them; `None` before any is grown.
    fn recent_rate(&self, listing: &Listing, last_end: u64) -> Option<f64> {
        let since = last_end.saturating_sub(RECENT_MS);
        let (mut cases, mut start) = (0u64, u64::MAX);
        for info in listing.grown().filter(|i| i.end_ms >= since) {
            let r = self.plan.positions(info.batch);
            cases += r.end - r.start;
            start = start.min(info.end_ms.saturating_sub(info.took_ms));
        }
        (cases > 0).then(|| cases as f64 / (last_end.saturating_sub(start).max(1) as f64 / 1000.0))
    }

    /// The failures of the results that ended last, newest first, at most `n`: read from the
    /// fewest results that hold them. A result that cannot be read is passed over.
    fn recent_failures(&self, listing: &Listing, n: usize) -> Vec<CaseFailure> {
        let mut failing: Vec<&NameInfo> = listing.grown().filter(|i| i.failed > 0).collect();
        failing.sort_unstable_by_key(|i| std::cmp::Reverse(i.end_ms));
        let mut found = Vec::new();
        let mut tally = super::reap::Tally::default();
        for info in failing {
            if found.len() >= n {
                break;
            }
            let Some(out) = self.read_batch(std::slice::from_ref(info), info.batch, &mut tally)
            else {
                continue;
            };
            let cases = self.plan.cases_of(info.batch);
            for (pos, kind, message) in out.failures.iter().rev().take(n - found.len()) {
                found.push(self.case_failure(cases.case(*pos), *kind, message));
            }
        }
        found
    }
}
