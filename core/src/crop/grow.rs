//! Growing: evaluating batches of a crop and committing each one's result, exactly once.

use super::*;

/// What grow did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrowReport {
    /// Batches grown.
    pub batches: u64,
    /// Batches grown that another worker had committed first, whose results were discarded.
    pub duplicates: u64,
    /// Cases evaluated.
    pub cases: u64,
    /// Cases that failed.
    pub failed: u64,
}

/// Writes `parts` to a new file at `tmp`, syncs it and renames it to `dest`, so readers see
/// the old file or the whole new one; `tmp` is removed if anything fails.
pub(super) fn publish(tmp: &Path, dest: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    publish_linked(tmp, dest, parts, None).map(|_| ())
}

/// As [`publish`], but first hard-links the synced file to `link`, exclusively: when `link`
/// exists the file is discarded and `false` returned (see [`claims`]).
pub(super) fn publish_linked(
    tmp: &Path,
    dest: &Path,
    parts: &[&[u8]],
    link: Option<&Path>,
) -> std::io::Result<bool> {
    use std::io::Write as _;
    let written = (|| {
        let mut f = std::fs::File::create_new(tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()?;
        if let Some(link) = link {
            match std::fs::hard_link(tmp, link) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::remove_file(tmp)?;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        std::fs::rename(tmp, dest).map(|()| true)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
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
    /// batch per task, each written as a result as soon as it is done. With `raise_errors`,
    /// stops at the first batch with a failed case, without saving it.
    pub fn grow(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        batches: &[u64],
        raise_errors: bool,
        progress: Option<&(dyn Fn(u64) + Sync)>,
    ) -> Result<GrowReport, CropError> {
        self.check_function(function)?;
        self.grow_batches(function, executor, batches, raise_errors, progress, None)
    }

    /// Grows `batches`; with `committed`, commits each result through a link there (see
    /// [`claims`]), discarding those another worker committed first.
    pub(super) fn grow_batches(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        batches: &[u64],
        raise_errors: bool,
        progress: Option<&(dyn Fn(u64) + Sync)>,
        committed: Option<&Path>,
    ) -> Result<GrowReport, CropError> {
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
        grower::record(&self.dir).map_err(io_err(&self.dir.join(grower::DIR)))?;
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
            // Never a result into a crop sown again meanwhile: it would be the old crop's.
            self.check_still_sown()?;
            let link = committed.map(|c| claims::commit_path(c, id));
            let placed = result::write(&dir, &self.manifest.identity, id, &out, link.as_deref())
                .map_err(io_err(&dir))?;
            let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
            if placed.is_none() {
                r.duplicates += 1;
                return Ok(());
            }
            r.batches += 1;
            r.cases += out.n as u64;
            r.failed += out.failures.len() as u64;
            Ok(())
        };
        let mut runner = Runner::new(function, executor);
        if let Some(p) = progress {
            runner.progress(p);
        }
        match runner.run_batches(&self.space, &sets, &done) {
            Ok(()) => Ok(report.into_inner().unwrap_or_else(|e| e.into_inner())),
            Err(BatchRunError::Run(e)) => Err(CropError::Run(e)),
            Err(BatchRunError::Done(e)) => Err(e),
        }
    }
}
