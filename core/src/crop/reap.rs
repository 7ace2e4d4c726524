//! Reaping: reading every batch's result back, checked, into a dataset, whole, merged into
//! another, or a window of the grid at a time.

use super::*;

/// What reap gives.
#[derive(Debug)]
pub struct Reaped<S = Dataset> {
    /// Where the results went: the dataset, as [`Runner::run`](crate::Runner::run) gives it
    /// for the same space, or the store given to [`Crop::reap_into`].
    pub dataset: S,
    /// Cases that were evaluated and stored.
    pub ok: u64,
    /// Cases of batches with no good result.
    pub pending: u64,
    /// The failed cases, in case order.
    pub failures: Vec<CaseFailure>,
    /// Batches with no good result: their cells are missing.
    pub missing: Vec<u64>,
    /// Results that were passed over, and why.
    pub bad: Vec<(PathBuf, BadResult)>,
}

impl<S> Reaped<S> {
    /// Splits off where the results went, leaving the rest of the report.
    pub fn split(self) -> (S, Reaped<()>) {
        let Reaped {
            dataset,
            ok,
            pending,
            failures,
            missing,
            bad,
        } = self;
        let report = Reaped {
            dataset: (),
            ok,
            pending,
            failures,
            missing,
            bad,
        };
        (dataset, report)
    }
}

/// What a reap counts besides the values.
#[derive(Debug, Default)]
pub(super) struct Tally {
    ok: u64,
    pending: u64,
    failures: Vec<CaseFailure>,
    missing: Vec<u64>,
    bad: Vec<(PathBuf, BadResult)>,
    /// The pack being read.
    packs: pack::Reader,
}

impl Tally {
    /// A tally of a reap of `listing`, its unreadable packs counted already.
    fn of(listing: &Listing) -> Tally {
        Tally {
            bad: listing.bad_files.clone(),
            ..Tally::default()
        }
    }

    /// The report of a reap into `dataset`, or the error of one that missed batches it may
    /// not.
    fn finish<S>(
        mut self,
        crop: &Crop,
        allow_incomplete: bool,
        dataset: S,
    ) -> Result<Reaped<S>, CropError> {
        if !allow_incomplete && !self.missing.is_empty() {
            return Err(crop.incomplete(self.missing, self.bad));
        }
        self.failures.sort_by_key(|f| f.case);
        Ok(Reaped {
            dataset,
            ok: self.ok,
            pending: self.pending,
            failures: self.failures,
            missing: self.missing,
            bad: self.bad,
        })
    }
}

impl Crop {
    /// Reads and checks batch `id`'s results, first good one first.
    pub(super) fn read_batch(
        &self,
        files: &[NameInfo],
        id: u64,
        tally: &mut Tally,
    ) -> Option<crate::runner::BatchOutput> {
        let n = self.plan.cases_of(id).len();
        let dir = self.results_dir();
        let outputs = &self.manifest.signature.outputs;
        for info in files {
            let read = if info.packed.is_some() {
                tally.packs.read(&dir, info, n, outputs)
            } else {
                let path = dir.join(info.file_name());
                result::read(&path, &self.manifest.identity, &self.trust, id, n, outputs)
            };
            match read {
                Ok(r) => return Some(r.output),
                Err(e) => tally
                    .bad
                    .push((dir.join(info.file_name()), e.in_batch(info))),
            }
        }
        None
    }

    /// Assembles the dataset from the results, batch by batch. Refuses an incomplete crop
    /// unless `allow_incomplete`, which leaves the cells of missing batches missing. Damaged
    /// and stale results count as missing and are listed.
    ///
    /// An adaptive study's crop is complete once its study is finished; its dataset records
    /// the study (as [`adaptive::run`](crate::adaptive::run)'s does), told the rounds whose
    /// cases are all grown.
    pub fn reap(&self, allow_incomplete: bool) -> Result<Reaped, CropError> {
        let Some(status) = self.study_status() else {
            return self.reap_results(allow_incomplete);
        };
        if status.finished.is_none() && !allow_incomplete {
            return Err(CropError::Unfinished {
                rounds: status.rounds,
                points: status.points,
            });
        }
        let mut reaped = self.reap_results(allow_incomplete)?;
        let study = self.replay(&reaped.dataset)?;
        crate::adaptive::record(&mut reaped.dataset, &study);
        Ok(reaped)
    }

    /// The results as [`Crop::reap`] assembles them, without what an adaptive study adds.
    pub(super) fn reap_results(&self, allow_incomplete: bool) -> Result<Reaped, CropError> {
        let mut dataset = Dataset::empty(
            &self.space,
            &self.manifest.signature,
            Some(&self.manifest.sha256),
        );
        dataset.set_free_attrs(&self.manifest.attrs);
        dataset.extra_coords = self.extra_coords.clone();
        if self.plan.is_subset() {
            // The cases not sown are not this crop's: their cells are not reached by it.
            dataset.cells.fill(crate::dataset::CellState::Absent);
            for id in 1..=self.plan.batches() {
                let cases = self.plan.cases_of(id);
                for j in 0..cases.len() {
                    let cell = self.space.cell_of(cases.case(j)) as usize;
                    dataset.cells[cell] = crate::dataset::CellState::Pending;
                }
            }
        }
        self.reap_into(allow_incomplete, dataset)
    }

    /// The dataset of the results there so far, for a crop that may still be growing: the
    /// cells of batches not grown yet are not evaluated ([`Crop::reap`] with
    /// `allow_incomplete`). It takes no lock, claim or lease and writes nothing, so growers
    /// never wait on it; each result is whole or absent (results land by rename).
    pub fn partial(&self) -> Result<Reaped, CropError> {
        self.reap(true)
    }

    /// The layout of the dataset this crop reaps to, without its cells: what a
    /// [`Harvest`](crate::harvest::Harvest) merging it needs.
    pub fn layout(&self) -> Dataset {
        let mut layout = Dataset::layout(
            &self.space,
            &self.manifest.signature,
            Some(&self.manifest.sha256),
        );
        layout.set_free_attrs(&self.manifest.attrs);
        layout.extra_coords = self.extra_coords.clone();
        layout
    }

    /// As [`Crop::reap`], but stores the results batch by batch in `store`: a dataset, or a
    /// [`Harvest`](crate::harvest::Harvest) merging them into one already there, so no second
    /// copy of the results is held.
    pub fn reap_into<S: Store>(
        &self,
        allow_incomplete: bool,
        mut store: S,
    ) -> Result<Reaped<S>, CropError> {
        let listing = self.listing()?;
        self.check_grown(&listing, allow_incomplete)?;
        let mut tally = Tally::of(&listing);
        for id in 1..=self.plan.batches() {
            let cases = self.plan.cases_of(id);
            if let Some(out) = self.reap_batch(&listing, id, &mut tally) {
                store.store_cases(&self.space, cases, &out.cols, &failed_of(&out));
            }
        }
        tally.finish(self, allow_incomplete, store)
    }

    /// Whether the cells of the crop's cases rise with the plan's order, so that
    /// [`Crop::reap_windows`] reads each result once and holds one window and one batch: true
    /// unless the plan is shuffled or the space's cases are listed out of grid order.
    pub fn reaps_in_grid_order(&self) -> bool {
        self.plan.shuffle().is_none() && self.space.in_grid_order() && self.rounds.is_none()
    }

    /// As [`Crop::reap`], but hands the dataset to `sink` a [`Window`] of (at most) `window`
    /// cells at a time, in grid order, so that it is never held whole: for writing a dataset
    /// larger than memory allows. When the crop does not reap in grid order
    /// ([`Crop::reaps_in_grid_order`]) the dataset is assembled whole first.
    pub fn reap_windows<E: From<CropError>>(
        &self,
        allow_incomplete: bool,
        window: usize,
        mut sink: impl FnMut(&Window) -> Result<(), E>,
    ) -> Result<Reaped<()>, E> {
        let window = window.max(1);
        let total = self.space.cells() as usize;
        if !self.reaps_in_grid_order() {
            let (dataset, reaped) = self.reap(allow_incomplete)?.split();
            for first in (0..total).step_by(window) {
                sink(&dataset.window(first, window.min(total - first)))?;
            }
            return Ok(reaped);
        }
        let listing = self.listing()?;
        self.check_grown(&listing, allow_incomplete)?;
        let layout = self.layout();
        let mut tally = Tally::of(&listing);
        let mut part = Window::new(&layout, 0, window.min(total));
        for id in 1..=self.plan.batches() {
            let cases = self.plan.cases_of(id);
            let Some(last) = cases.len().checked_sub(1) else {
                continue;
            };
            let last = self.space.cell_of(cases.case(last)) as usize;
            let out = self.reap_batch(&listing, id, &mut tally);
            let failed = out.as_ref().map(failed_of).unwrap_or_default();
            // A batch may reach into the windows after this one.
            loop {
                match &out {
                    Some(out) => part.store_cases(&self.space, cases, &out.cols, &failed),
                    None => part.store_pending(&self.space, cases),
                }
                if last < part.end() {
                    break;
                }
                sink(&part)?;
                part = Window::new(&layout, part.end(), window.min(total - part.end()));
            }
        }
        // The last window, and any after it where no case lands.
        while !part.cells.is_empty() {
            sink(&part)?;
            part = Window::new(&layout, part.end(), window.min(total - part.end()));
        }
        Ok(tally.finish(self, allow_incomplete, ())?)
    }

    /// Refuses, unless `allow_incomplete`, a crop with batches that have no result.
    fn check_grown(&self, listing: &Listing, allow_incomplete: bool) -> Result<(), CropError> {
        if allow_incomplete {
            return Ok(());
        }
        let missing: Vec<u64> = (1..=self.plan.batches())
            .filter(|id| listing.of(*id).is_empty())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(self.incomplete(missing, listing.bad_files.clone()))
        }
    }

    /// Reads the result of batch `id` for a reap, counting its cases and failures in `tally`;
    /// `None` when it has no good result.
    fn reap_batch(
        &self,
        listing: &Listing,
        id: u64,
        tally: &mut Tally,
    ) -> Option<crate::runner::BatchOutput> {
        let cases = self.plan.cases_of(id);
        let Some(out) = self.read_batch(listing.of(id), id, tally) else {
            tally.missing.push(id);
            tally.pending += cases.len() as u64;
            return None;
        };
        tally.ok += (cases.len() - out.failures.len()) as u64;
        for (pos, kind, message) in &out.failures {
            tally
                .failures
                .push(self.case_failure(cases.case(*pos), *kind, message));
        }
        Some(out)
    }

    /// Case `case`'s failure, with its arguments.
    pub(super) fn case_failure(
        &self,
        case: u64,
        kind: crate::value::FailureKind,
        message: &str,
    ) -> CaseFailure {
        CaseFailure {
            case,
            kind,
            message: message.to_string(),
            args: self.space.case_args(case, &self.manifest.signature),
        }
    }

    /// The error for a reap that misses the batches `missing`, `damaged` among them.
    fn incomplete(&self, missing: Vec<u64>, damaged: Vec<(PathBuf, BadResult)>) -> CropError {
        CropError::Incomplete {
            missing: missing.len() as u64,
            batches: self.plan.batches(),
            first: missing.into_iter().take(5).collect(),
            damaged,
        }
    }
}

/// The failed cases of a batch's output, as a [`Store`] takes them.
fn failed_of(out: &crate::runner::BatchOutput) -> Vec<crate::dataset::Failed> {
    out.failures
        .iter()
        .map(|(pos, kind, message)| (*pos, crate::dataset::error_text(*kind, message)))
        .collect()
}
