//! Worker mode: a process that claims batches not yet grown, one at a time, grows them,
//! commits them a pack at a time, and exits when every batch has a result. Any number of
//! workers, on any number of machines that see the crop directory, share a crop this way (see
//! [`super::claims`]).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use super::claims::{self, Claim};
use super::pack::{Pack, Packer};
use super::{Crop, CropError, io_err};
use crate::executor::Executor;
use crate::function::Function;

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// How long a claim holds without renewal. The worker renews it every third of this
    /// while it grows the batch; a worker that stops renewing (it died, or its node did)
    /// loses the batch to another once the lease is over.
    pub lease: Duration,
    /// Stop after growing this many batches.
    pub max_batches: Option<u64>,
    /// Claim no batch after this long.
    pub max_time: Option<Duration>,
}

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            lease: Duration::from_secs(60),
            max_batches: None,
            max_time: None,
        }
    }
}

/// Why a worker stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every batch has a result.
    #[default]
    Done,
    /// It grew `max_batches`.
    MaxBatches,
    /// `max_time` passed.
    MaxTime,
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WorkReport {
    /// Batches it grew and committed.
    pub batches: u64,
    /// Cases it evaluated in them.
    pub cases: u64,
    /// Cases that failed.
    pub failed: u64,
    /// Batches it grew that another worker had committed first; their results were discarded.
    pub duplicates: u64,
    /// Why it stopped.
    pub stopped: StopReason,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Crop {
    /// Works as a worker with `function`, which must be the crop's, growing each batch on
    /// `executor`: claims a batch that has no result and no live claim, grows it, gathers its
    /// result into a pack (see the `pack` module), and goes on until every batch has a result
    /// or a limit in `options` is reached. When a pack is written each of its batches is
    /// committed (the first commit of a batch wins; a pack leaves out the batches others
    /// committed), and only then are their claims released, so a worker that dies with a pack
    /// unwritten loses its batches to others once their leases are over. While other workers
    /// hold the last batches it waits, so that it takes over any whose worker dies. Claims are
    /// files in `claims/`, made with an exclusive create and renewed every third of the lease;
    /// commits are exclusive hard links in `committed/`. A worker that finds every batch grown
    /// removes the expired claims of dead workers and the temporary files of growers that died
    /// on its machine.
    ///
    /// [`Crop::growing`] does the same with a [`StopToken`](super::StopToken) of the caller's.
    pub fn work(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        options: &WorkerOptions,
        progress: Option<&(dyn Fn(u64) + Sync)>,
    ) -> Result<WorkReport, CropError> {
        let mut grow = self.growing(function, executor);
        if let Some(progress) = progress {
            grow = grow.progress(progress);
        }
        grow.as_worker(options)
    }

    pub(super) fn work_with(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        options: &WorkerOptions,
        progress: Option<&(dyn Fn(u64) + Sync)>,
        stop_token: &super::StopToken,
    ) -> Result<WorkReport, CropError> {
        self.check_function(function)?;
        // Nothing is grown that could not be sealed.
        self.sealer()?;
        // The claims of batches being grown or waiting in the pack, renewed every third of the
        // lease by one thread for the worker's life.
        let held: Mutex<Vec<(u64, Claim)>> = Mutex::new(Vec::new());
        // What the pack's commits found committed by others first.
        let lost = Mutex::new(WorkReport::default());
        let commit = |pack: Pack| self.commit_pack(pack, &held, &lost);
        std::thread::scope(|s| {
            let (stop, stopped) = mpsc::channel::<()>();
            let held = &held;
            s.spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(options.lease / 3)
                {
                    for (_, claim) in lock(held).iter() {
                        // A claim lost to another worker is settled at commit.
                        let _ = claim.renew();
                    }
                }
            });
            let report = self.packing(&commit, stop_token, |packer| {
                self.work_loop(function, executor, options, progress, held, packer)
            });
            drop(stop);
            // Claims of batches that were not committed (growing failed): free at once.
            for (_, claim) in std::mem::take(&mut *lock(held)) {
                let _ = claim.release();
            }
            let report = report.map(|mut r| {
                let lost = lock(&lost);
                r.batches -= lost.batches;
                r.cases -= lost.cases;
                r.failed -= lost.failed;
                r.duplicates += lost.batches;
                r
            });
            // Whatever failed, a crop sown again meanwhile is the reason to give: its files
            // went away under this worker.
            report.map_err(|e| self.check_still_sown().err().unwrap_or(e))
        })
    }

    /// Writes `pack` with a commit link per batch, releases the claims of its batches, and
    /// counts in `lost` the batches another worker had committed first.
    fn commit_pack(
        &self,
        pack: Pack,
        held: &Mutex<Vec<(u64, Claim)>>,
        lost: &Mutex<WorkReport>,
    ) -> Result<(), CropError> {
        // Never a result into a crop sown again meanwhile: it would be the old crop's.
        self.check_still_sown()?;
        let ids: HashSet<u64> = pack.batches().collect();
        let dir = self.results_dir();
        let others = pack
            .write_committed(
                &dir,
                &self.manifest.identity,
                &self.paths().committed(),
                self.sealer()?,
            )
            .map_err(io_err(&dir))?;
        {
            let mut lost = lock(lost);
            for r in others {
                lost.batches += 1;
                lost.cases += r.cases;
                lost.failed += r.failed;
            }
        }
        // Released only now that the results are in place.
        let done: Vec<(u64, Claim)> = {
            let mut held = lock(held);
            let (done, keep) = std::mem::take(&mut *held)
                .into_iter()
                .partition(|(id, _)| ids.contains(id));
            *held = keep;
            done
        };
        let claims_dir = self.paths().claims();
        for (_, claim) in done {
            claim.release().map_err(io_err(&claims_dir))?;
        }
        Ok(())
    }

    fn work_loop(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        options: &WorkerOptions,
        progress: Option<&(dyn Fn(u64) + Sync)>,
        held: &Mutex<Vec<(u64, Claim)>>,
        packer: &Packer<'_>,
    ) -> Result<WorkReport, CropError> {
        let began = Instant::now();
        let claims_dir = self.paths().claims();
        let committed_dir = self.paths().committed();
        for dir in [
            self.results_dir(),
            claims_dir.clone(),
            committed_dir.clone(),
        ] {
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let poll = self.poll_interval(options.lease);
        let mut report = WorkReport::default();
        // Workers that start together begin at different batches.
        let offset = u64::from(std::process::id()).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let grow = |claimed: &mut Vec<(u64, Claim)>, report: &mut WorkReport| {
            // Their claims are released when the pack holding them is committed.
            let ids: Vec<u64> = claimed.iter().map(|(id, _)| *id).collect();
            lock(held).extend(claimed.drain(..));
            let how = super::grow::How {
                progress,
                ..Default::default()
            };
            let grown = self.grow_batches(function, executor, &ids, how, packer)?;
            report.batches += grown.batches;
            report.cases += grown.cases;
            report.failed += grown.failed;
            Ok::<(), CropError>(())
        };
        loop {
            if options.max_time.is_some_and(|t| began.elapsed() >= t) {
                report.stopped = StopReason::MaxTime;
                return Ok(report);
            }
            self.check_still_sown()?;
            let missing = self.missing()?;
            if missing.is_empty() {
                // Claims left by workers that died after their batch was grown by another.
                for c in claims::list(&claims_dir).map_err(io_err(&claims_dir))? {
                    if c.expired() {
                        let _ = std::fs::remove_file(claims_dir.join(format!("batch-{}", c.batch)));
                    }
                }
                // Temporaries of growers on this machine that died while writing.
                for path in self.listing()?.dead_temps() {
                    let _ = std::fs::remove_file(path);
                }
                report.stopped = StopReason::Done;
                return Ok(report);
            }
            let (mut grew, mut held_by_others) = (false, false);
            // As many batches at a time as the executor has workers, so every core works.
            let at_once = executor.workers().max(1);
            let mut claimed: Vec<(u64, Claim)> = Vec::with_capacity(at_once);
            let mut stop = None;
            let start = (offset % missing.len() as u64) as usize;
            for &id in missing[start..].iter().chain(&missing[..start]) {
                if options
                    .max_batches
                    .is_some_and(|m| report.batches + claimed.len() as u64 >= m)
                {
                    stop = Some(StopReason::MaxBatches);
                    break;
                }
                if options.max_time.is_some_and(|t| began.elapsed() >= t) {
                    stop = Some(StopReason::MaxTime);
                    break;
                }
                if claims::is_committed(&committed_dir, id).map_err(io_err(&committed_dir))? {
                    continue;
                }
                let claim = claims::try_claim(&claims_dir, id, options.lease)
                    .map_err(io_err(&claims_dir))?;
                let Some(claim) = claim else {
                    held_by_others = true;
                    continue;
                };
                // Committed by another worker between the look and the claim.
                if claims::is_committed(&committed_dir, id).map_err(io_err(&committed_dir))? {
                    claim.release().map_err(io_err(&claims_dir))?;
                    continue;
                }
                claimed.push((id, claim));
                if claimed.len() == at_once {
                    grow(&mut claimed, &mut report)?;
                    grew = true;
                }
            }
            if !claimed.is_empty() {
                grow(&mut claimed, &mut report)?;
                grew = true;
            }
            if let Some(stop) = stop {
                report.stopped = stop;
                return Ok(report);
            }
            if grew {
                continue;
            }
            if held_by_others {
                // Some may be this worker's own, waiting in its pack: written now, they are
                // no longer missing.
                if !packer.is_empty() {
                    packer.flush()?;
                    continue;
                }
                std::thread::sleep(poll);
                continue;
            }
            // What is missing has commit links but no results: a worker is between linking
            // its result and renaming it into place, or died there.
            if self.clear_dead_commits(&claims_dir, &committed_dir)? {
                std::thread::sleep(poll);
            }
        }
    }

    /// How long a grower waits before it looks again at batches others hold, or at a round
    /// another grower is choosing, under leases of `lease`: a quarter of the lease, from 20 ms
    /// to 2 s, but at most 20 ms for an adaptive study's crop, whose growers wait so at the
    /// end of every round.
    pub(super) fn poll_interval(&self, lease: Duration) -> Duration {
        let most = match self.rounds {
            Some(_) => Duration::from_millis(20),
            None => Duration::from_secs(2),
        };
        (lease / 4).clamp(Duration::from_millis(20), most)
    }

    /// Clears the commit links of missing batches whose committing worker is gone, so they
    /// grow again. A batch with a live claim is left alone: its worker renames the result into
    /// place right after linking it, and releases the claim only then. True if such a batch
    /// was seen, to look again in a moment.
    pub(super) fn clear_dead_commits(
        &self,
        claims_dir: &Path,
        committed_dir: &Path,
    ) -> Result<bool, CropError> {
        // The claims first: a claim released after this look was released after its result
        // was in place, so the batch is no longer missing below.
        let live: std::collections::HashSet<u64> = claims::list(claims_dir)
            .map_err(io_err(claims_dir))?
            .into_iter()
            .filter(|c| !c.expired())
            .map(|c| c.batch)
            .collect();
        let mut committing = false;
        for id in self.missing()? {
            if live.contains(&id) {
                committing = true;
                continue;
            }
            let link = claims::commit_path(committed_dir, id);
            match std::fs::remove_file(&link) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&link)(e)),
            }
        }
        Ok(committing)
    }

    /// The claims of workers on this crop, by batch.
    pub fn claims(&self) -> Result<Vec<claims::ClaimInfo>, CropError> {
        let dir = self.paths().claims();
        claims::list(&dir).map_err(io_err(&dir))
    }

    /// Removes the claims this process holds, for a worker told to stop (a scheduler's
    /// SIGTERM at the end of a job's time), so that other workers take its batch at once
    /// instead of after the lease. Returns the batches released.
    pub fn release_claims_of_this_process(&self) -> Result<Vec<u64>, CropError> {
        let dir = self.paths().claims();
        let host = crate::shared_fs::host_name();
        let mut released = Vec::new();
        for c in self.claims()? {
            if c.pid == std::process::id() && c.host == host {
                let path = dir.join(format!("batch-{}", c.batch));
                match std::fs::remove_file(&path) {
                    Ok(()) => released.push(c.batch),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&path)(e)),
                }
            }
        }
        Ok(released)
    }
}
