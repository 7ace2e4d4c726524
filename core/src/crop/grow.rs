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
        // Parts gathered into large writes: a pack has one per batch.
        let size = parts.iter().map(|p| p.len()).sum::<usize>().min(1 << 20);
        let mut f = std::io::BufWriter::with_capacity(size, std::fs::File::create_new(tmp)?);
        for part in parts {
            f.write_all(part)?;
        }
        let f = f
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
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
    /// batch per task, their results gathered into packs, each written when due (see the
    /// `pack` module) and the last when growing ends, whatever ended it. With `raise_errors`,
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

    /// Grows `batches`; with `committed`, writes each result as soon as it is done and commits
    /// it through a link there (see [`claims`]), discarding those another worker committed
    /// first.
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
        let packer = pack::Packer::default();
        // The first error of a pack written by the timer, reported once growing ends.
        let timer_error: Mutex<Option<CropError>> = Mutex::new(None);
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
            let (n, failed) = (out.n as u64, out.failures.len() as u64);
            if committed.is_none() {
                // Gathered into packs, each written when due (and the last below).
                let encoded = result::encode(id, &out).map_err(io_err(&dir))?;
                if let Some(full) = packer.push(encoded) {
                    self.write_pack(full)?;
                }
            } else {
                // Never a result into a crop sown again meanwhile: it would be the old crop's.
                self.check_still_sown()?;
                let link = committed.map(|c| claims::commit_path(c, id));
                let placed =
                    result::write(&dir, &self.manifest.identity, id, &out, link.as_deref())
                        .map_err(io_err(&dir))?;
                if placed.is_none() {
                    lock(&report).duplicates += 1;
                    return Ok(());
                }
            }
            let mut r = lock(&report);
            r.batches += 1;
            r.cases += n;
            r.failed += failed;
            Ok(())
        };
        let mut runner = Runner::new(function, executor);
        if let Some(p) = progress {
            runner.progress(p);
        }
        let ran = std::thread::scope(|s| {
            if committed.is_none() {
                s.spawn(|| {
                    packer.keep_time(|due| {
                        if let Err(e) = self.write_pack(due) {
                            lock(&timer_error).get_or_insert(e);
                        }
                    });
                });
            }
            let ran = runner.run_batches(&self.space, &sets, &done);
            (ran, packer.finish())
        });
        // What was grown is kept whatever stopped the run, unless the crop was sown again.
        let (ran, last) = ran;
        let written = match &ran {
            Err(BatchRunError::Done(CropError::Resown { .. })) => Ok(()),
            _ => self.write_pack(last),
        };
        let written = match timer_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => written,
        };
        match ran {
            Ok(()) => written.map(|()| report.into_inner().unwrap_or_else(|e| e.into_inner())),
            Err(BatchRunError::Run(e)) => Err(CropError::Run(e)),
            Err(BatchRunError::Done(e)) => Err(e),
        }
    }

    /// Writes the results gathered in `pack` into the results directory.
    fn write_pack(&self, pack: pack::Pack) -> Result<(), CropError> {
        // Never a result into a crop sown again meanwhile: it would be the old crop's.
        self.check_still_sown()?;
        let dir = self.results_dir();
        pack.write(&dir, &self.manifest.identity)
            .map_err(io_err(&dir))?;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
