//! Growing: evaluating batches of a crop and writing their results, gathered into packs.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::rounds::Advance;
use super::*;

/// What grow did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrowReport {
    /// Batches grown.
    pub batches: u64,
    /// Cases evaluated.
    pub cases: u64,
    /// Cases that failed.
    pub failed: u64,
}

/// How batches are grown: what [`Grow`] was set to.
#[derive(Clone, Copy, Default)]
pub(super) struct How<'a> {
    /// Stop at the first batch with a failed case, without saving it.
    pub(super) raise_errors: bool,
    /// Called with the cases of each chunk done.
    pub(super) progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Stop once set.
    pub(super) cancel: Option<&'a AtomicBool>,
}

impl Crop {
    pub(super) fn check_function(&self, function: &dyn Function) -> Result<(), CropError> {
        let sig = function.signature().to_string();
        if function.sha256() != Some(self.sha256()) || sig != self.signature().to_string() {
            return Err(CropError::WrongFunction {
                expected: format!("{} (sha256 {})", self.signature(), self.sha256()),
                found: format!("{sig} (sha256 {})", function.sha256().unwrap_or("none")),
            });
        }
        Ok(())
    }

    /// Grows `batches` (ids) with `function`, which must be the crop's, on `executor`: one
    /// batch per task, their results gathered into packs, each written when due (see the
    /// `pack` module) and the last when growing ends, whatever ended it. With `raise_errors`,
    /// stops at the first batch with a failed case, without saving it.
    ///
    /// [`Crop::growing`] does the same with a [`StopToken`] of the caller's.
    pub fn grow(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        batches: &[u64],
        raise_errors: bool,
        progress: Option<&(dyn Fn(u64) + Sync)>,
    ) -> Result<GrowReport, CropError> {
        let mut grow = self.growing(function, executor).raise_errors(raise_errors);
        if let Some(progress) = progress {
            grow = grow.progress(progress);
        }
        grow.batches(batches)
    }

    /// A grow of this crop's batches with `function` (which must be the crop's) on `executor`,
    /// to be set and then run: [`Grow::batches`] grows batches by id, [`Grow::as_worker`]
    /// claims batches as a worker until none is left.
    pub fn growing<'a>(
        &'a self,
        function: &'a dyn Function,
        executor: &'a dyn Executor,
    ) -> Grow<'a> {
        Grow {
            crop: self,
            function,
            executor,
            raise_errors: false,
            progress: None,
            stop: StopToken::new(),
            cancel: None,
        }
    }

    /// Runs `body` with a [`Packer`](pack::Packer) whose packs `write` writes: when full, by
    /// a timer when due, and the last when `body` ends, whatever ended it. The error of `body`
    /// comes first, then the first error of a write.
    pub(super) fn packing<T>(
        &self,
        write: &pack::Write<'_>,
        stop: &StopToken,
        body: impl FnOnce(&pack::Packer<'_>) -> Result<T, CropError>,
    ) -> Result<T, CropError> {
        /// Ends the timer however `body` ends, so that the scope's join never waits on it.
        struct EndTimer<'p, 'a>(&'p pack::Packer<'a>);
        impl Drop for EndTimer<'_, '_> {
            fn drop(&mut self) {
                self.0.end_timer();
            }
        }
        let packer = pack::Packer::new(write, stop);
        let (done, written) = std::thread::scope(|s| {
            s.spawn(|| packer.keep_time());
            let _end = EndTimer(&packer);
            let done = body(&packer);
            (done, packer.finish())
        });
        let t = done?;
        written.map(|()| t)
    }

    /// Grows `batches`, each result pushed to `packer` as soon as it is done.
    pub(super) fn grow_batches(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        batches: &[u64],
        how: How<'_>,
        packer: &pack::Packer<'_>,
    ) -> Result<GrowReport, CropError> {
        let How {
            raise_errors,
            progress,
            cancel,
        } = how;
        for &id in batches {
            if !(1..=self.plan.batches()).contains(&id) {
                return Err(CropError::NoSuchBatch {
                    id,
                    batches: self.plan.batches(),
                });
            }
        }
        let sets: Vec<_> = batches.iter().map(|&id| self.plan.cases_of(id)).collect();
        let dir = self.results_dir();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        grower::record(&self.dir).map_err(io_err(&self.paths().growers()))?;
        let report = Mutex::new(GrowReport::default());
        let done = |i: usize, out: crate::runner::BatchOutput| -> Result<(), CropError> {
            let id = batches[i];
            if raise_errors && let Some((pos, kind, message)) = out.failures.first() {
                let case = sets[i].case(*pos);
                return Err(CropError::CaseFailed {
                    batch: id,
                    failure: Box::new(CaseFailure {
                        case,
                        kind: *kind,
                        message: message.clone(),
                        args: self.space.case_args(case, self.signature()),
                    }),
                });
            }
            let encoded = result::encode(id, &out).map_err(io_err(&dir))?;
            {
                let mut r = lock(&report);
                r.batches += 1;
                r.cases += out.n as u64;
                r.failed += out.failures.len() as u64;
            }
            packer.push(encoded)
        };
        let mut runner = Runner::new(function, executor);
        if let Some(p) = progress {
            runner.progress(p);
        }
        if let Some(c) = cancel {
            runner.cancel(c);
        }
        match runner.run_batches(&self.space, &sets, &done) {
            Ok(()) => Ok(report.into_inner().unwrap_or_else(|e| e.into_inner())),
            Err(BatchRunError::Run(e)) => Err(CropError::Run(e)),
            Err(BatchRunError::Done(e)) => Err(e),
        }
    }

    /// Writes the results gathered in `pack` into the results directory.
    fn write_pack(&self, pack: pack::Pack) -> Result<(), CropError> {
        // Never a result into a crop sown again meanwhile: it would be the old crop's.
        self.check_still_sown()?;
        let dir = self.results_dir();
        pack.write(&dir, &self.manifest.identity, self.sealer()?)
            .map_err(io_err(&dir))?;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A grow of a crop's batches, set up by [`Crop::growing`].
pub struct Grow<'a> {
    crop: &'a Crop,
    function: &'a dyn Function,
    executor: &'a dyn Executor,
    raise_errors: bool,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
    stop: StopToken,
    cancel: Option<&'a AtomicBool>,
}

impl<'a> Grow<'a> {
    /// Stops at the first batch with a failed case, without saving it.
    pub fn raise_errors(mut self, yes: bool) -> Grow<'a> {
        self.raise_errors = yes;
        self
    }

    /// Calls `progress` with the number of cases of each batch done.
    pub fn progress(mut self, progress: &'a (dyn Fn(u64) + Sync)) -> Grow<'a> {
        self.progress = Some(progress);
        self
    }

    /// Writes what is gathered at once when `stop` is told to
    /// ([`StopToken::write_gathered`]): what a process told to end does before it exits.
    pub fn stop_token(mut self, stop: &StopToken) -> Grow<'a> {
        self.stop = stop.clone();
        self
    }

    /// Stops growing batches by ids once `cancel` is set: the batches done are kept, those
    /// under way are dropped, and the grow ends with [`RunError::Cancelled`](crate::RunError)
    /// (a Ctrl-C in a notebook).
    pub fn cancel(mut self, cancel: &'a AtomicBool) -> Grow<'a> {
        self.cancel = Some(cancel);
        self
    }

    /// Grows `batches` (ids): see [`Crop::grow`].
    pub fn batches(&self, batches: &[u64]) -> Result<GrowReport, CropError> {
        let crop = self.crop;
        crop.check_function(self.function)?;
        // Nothing is grown that could not be sealed.
        crop.sealer()?;
        crop.packing(&|pack| crop.write_pack(pack), &self.stop, |packer| {
            crop.grow_batches(
                self.function,
                self.executor,
                batches,
                How {
                    raise_errors: self.raise_errors,
                    progress: self.progress,
                    cancel: self.cancel,
                },
                packer,
            )
        })
    }

    /// This grow's settings on `crop` (the same crop opened again).
    fn on<'b>(&'b self, crop: &'b Crop) -> Grow<'b> {
        Grow {
            crop,
            function: self.function,
            executor: self.executor,
            raise_errors: self.raise_errors,
            progress: self.progress,
            stop: self.stop.clone(),
            cancel: self.cancel,
        }
    }

    /// Grows every batch not grown yet, as [`Grow::batches`] does, and for an adaptive
    /// study's crop goes on until the study is finished: once a round is grown, the next is
    /// chosen (under the crop's lease of `lease`, so that growers elsewhere choose it once; see
    /// [`Crop::work`]) and grown in turn.
    pub fn missing(&self, lease: Duration) -> Result<GrowReport, CropError> {
        let mut report = GrowReport::default();
        let poll = self.crop.poll_interval(lease);
        let mut reopened: Option<Crop> = None;
        loop {
            let crop = reopened.as_ref().unwrap_or(self.crop);
            let missing = crop.missing()?;
            if !missing.is_empty() {
                let grown = self.on(crop).batches(&missing)?;
                report.batches += grown.batches;
                report.cases += grown.cases;
                report.failed += grown.failed;
            }
            match crop.advance(lease)? {
                Advance::Finished => return Ok(report),
                Advance::Waiting => std::thread::sleep(poll),
                Advance::Next => {}
            }
            if self
                .cancel
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            {
                return Err(CropError::Run(RunError::Cancelled));
            }
            reopened = Some(crop.reopened()?);
        }
    }

    /// Grows as a worker, claiming batches until none is left: see [`Crop::work`].
    ///
    /// A worker on an adaptive study's crop that finds every batch grown chooses the next
    /// round (or, when another grower is choosing it, waits for it) and grows on, until the
    /// study is finished.
    pub fn as_worker(&self, options: &WorkerOptions) -> Result<WorkReport, CropError> {
        let work = |crop: &Crop, options: &WorkerOptions| {
            crop.work_with(
                self.function,
                self.executor,
                options,
                self.progress,
                &self.stop,
            )
        };
        let began = std::time::Instant::now();
        let mut report = work(self.crop, options)?;
        let poll = self.crop.poll_interval(options.lease);
        let mut reopened: Option<Crop> = None;
        while report.stopped == StopReason::Done {
            let crop = reopened.as_ref().unwrap_or(self.crop);
            match crop.advance(options.lease)? {
                Advance::Finished => break,
                Advance::Waiting => std::thread::sleep(poll),
                Advance::Next => {}
            }
            let next = crop.reopened()?;
            // The limits hold for the whole grow, every round of it.
            let mut left = options.clone();
            if let Some(max) = options.max_batches {
                if report.batches >= max {
                    report.stopped = StopReason::MaxBatches;
                    break;
                }
                left.max_batches = Some(max - report.batches);
            }
            if let Some(max) = options.max_time {
                match max.checked_sub(began.elapsed()) {
                    Some(t) if !t.is_zero() => left.max_time = Some(t),
                    _ => {
                        report.stopped = StopReason::MaxTime;
                        break;
                    }
                }
            }
            let more = work(&next, &left)?;
            report.batches += more.batches;
            report.cases += more.cases;
            report.failed += more.failed;
            report.duplicates += more.duplicates;
            report.stopped = more.stopped;
            reopened = Some(next);
        }
        Ok(report)
    }
}
