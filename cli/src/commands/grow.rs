//! `xyz grow`: evaluate batches of a crop and write their results into it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use serde_json::json;
use xyz_core::crop::StopToken;
use xyz_core::{Crop, executor};

use super::WasmOpts;
use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  Grow every batch not grown yet, on all cores:
    xyz grow mandel

  Grow batches 1 to 10 and 15, each in a fresh xyz process, two at a time:
    xyz grow mandel --batches 1-10,15 --subprocess -j 2

  Work as one of many workers (on any nodes that see the directory), each claiming batches
  not grown yet, until none is left:
    xyz grow mandel --worker --lease 2m

  From inside the crop's directory, or from anywhere with --parent-dir:
    cd .xyz-mandel && xyz grow mandel
    xyz grow mandel --parent-dir /scratch/sweeps";

/// Evaluate batches of a crop (by default, every batch not grown yet) and save their results.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct GrowCommand {
    /// The crop's name (or the path of its .xyz-NAME directory)
    name: String,

    /// The directory holding the crop [default: the current directory, or the crop's own
    /// directory when run inside it]
    #[arg(long, value_name = "DIR")]
    parent_dir: Option<PathBuf>,

    #[command(flatten)]
    trust: super::key::TrustArgs,

    /// Which batches: ids and ranges (1-10,15), `missing` (those not grown yet) or `all`
    #[arg(long, value_name = "BATCHES", default_value = "missing")]
    batches: String,

    /// Work as a worker: claim batches not grown and not claimed, one at a time, until every
    /// batch has a result; any number of workers on any number of nodes can share a crop
    #[arg(long, conflicts_with_all = ["batches", "subprocess", "raise_errors"])]
    worker: bool,

    /// With --worker: how long a claim holds unless renewed (it is renewed every third of
    /// this); a worker's batch goes to another this long after it dies
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "60s",
        requires = "worker"
    )]
    lease: String,

    /// With --worker: stop after growing this many batches
    #[arg(long, value_name = "K", requires = "worker", value_parser = super::count)]
    max_batches: Option<u64>,

    /// With --worker: claim no batch after this long, such as 50m (finish the one at hand)
    #[arg(long, value_name = "DURATION", requires = "worker")]
    max_time: Option<String>,

    /// Worker threads (or processes, with --subprocess); 0 means one per logical core
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    jobs: usize,

    /// Grow each batch in a fresh xyz process
    #[arg(long)]
    subprocess: bool,

    /// Stop at the first failed case, without saving its batch, and exit with an error
    #[arg(long)]
    raise_errors: bool,

    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,

    /// Print the summary as JSON on stdout
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    wasm: WasmOpts,
}

/// The batches `--batches` names (`1-10,15`, `missing` or `all`), in order and without
/// repeats.
fn select(text: &str, crop: &Crop) -> anyhow::Result<Vec<u64>> {
    crop.select_text(text).map_err(|e| match e {
        xyz_core::crop::SelectionError::Crop(e) => e.into(),
        e => anyhow::anyhow!("--batches: {e}"),
    })
}

impl GrowCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let crop = self
            .trust
            .apply(Crop::locate(&self.name, self.parent_dir.as_deref())?)?;
        // An adaptive study's crop grows round by round: its rounds are chosen by a worker
        // that finds the round before grown.
        let adaptive = crop.adaptive().is_some() && self.batches == "missing";
        if self.worker || adaptive && !self.subprocess {
            return self.work(&crop);
        }
        let batches = select(&self.batches, &crop)?;
        if batches.is_empty() {
            if !self.quiet && !self.json {
                println!("{}: nothing to grow", crop.name());
            } else if self.json {
                println!(
                    "{}",
                    json!({"name": crop.name(), "batches": 0, "cases": 0, "failed": 0})
                );
            }
            return Ok(exit_codes::OK);
        }
        if self.subprocess {
            return self.grow_in_subprocesses(&crop, &batches);
        }
        // SIGTERM (a scheduler's, at the end of a job's time) writes what was grown first;
        // blocked before any thread starts, so that no thread takes it.
        let stop = on_sigterm(crop.dir().to_path_buf());
        let loaded = self.wasm.load_for_crop(&crop)?;
        let pool = executor::with_threads(self.jobs)?;
        let cases: u64 = batches
            .iter()
            .map(|&id| crop.plan().cases_of(id).len() as u64)
            .sum();
        let bar = crate::progress::cases_bar(cases, !self.quiet && !self.json);
        let tick = |n: u64| bar.inc(n);
        let started = std::time::Instant::now();
        let report = crop
            .growing(&*loaded.function, &*pool)
            .raise_errors(self.raise_errors)
            .progress(&tick)
            .stop_token(&stop)
            .batches(&batches);
        bar.finish_and_clear();
        let report = report?;
        let secs = started.elapsed().as_secs_f64();
        if self.json {
            let summary = json!({
                "name": crop.name(),
                "batches": report.batches,
                "cases": report.cases,
                "failed": report.failed,
                "threads": pool.workers(),
                "elapsed_seconds": secs,
            });
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else if !self.quiet {
            println!(
                "{}: grew {} batches ({} cases, {} failed) in {secs:.3} s",
                crop.name(),
                report.batches,
                report.cases,
                report.failed
            );
        }
        Ok(exit_codes::for_missing(report.failed > 0))
    }

    /// Works as a worker until nothing is left (or a limit is reached). SIGTERM (what a
    /// scheduler sends at the end of a job's time) releases the worker's claim and ends it
    /// with exit code 143, so that another worker takes the batch at once.
    fn work(&self, crop: &Crop) -> anyhow::Result<u8> {
        let stop = on_sigterm(crop.dir().to_path_buf());
        let duration = |flag: &str, text: &str| {
            xyz_core::spec::parse_duration(text).with_context(|| flag.to_string())
        };
        let options = xyz_core::crop::WorkerOptions {
            lease: duration("--lease", &self.lease)?,
            max_batches: self.max_batches,
            max_time: self
                .max_time
                .as_deref()
                .map(|t| duration("--max-time", t))
                .transpose()?,
        };
        if options.lease < std::time::Duration::from_millis(100) {
            bail!("--lease {}: a lease must be at least 100ms", self.lease);
        }
        let loaded = self.wasm.load_for_crop(crop)?;
        let pool = executor::with_threads(self.jobs)?;
        let mut left: u64 = crop
            .missing()?
            .iter()
            .map(|&id| crop.plan().cases_of(id).len() as u64)
            .sum();
        // An adaptive study's cases to come, as far as its `n` tells.
        if let Some(study) = crop.study_status() {
            left = study.cases_left(left);
        }
        let bar = crate::progress::cases_bar(left, !self.quiet && !self.json);
        let tick = |n: u64| bar.inc(n);
        let started = std::time::Instant::now();
        let report = crop
            .growing(&*loaded.function, &*pool)
            .progress(&tick)
            .stop_token(&stop)
            .as_worker(&options);
        bar.finish_and_clear();
        let report =
            report.with_context(|| format!("worker {} on {}", std::process::id(), crop.name()))?;
        let secs = started.elapsed().as_secs_f64();
        if self.json {
            let mut summary = serde_json::to_value(&report)?;
            summary["name"] = json!(crop.name());
            summary["elapsed_seconds"] = json!(secs);
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else if !self.quiet {
            let why = match report.stopped {
                xyz_core::crop::StopReason::Done if crop.adaptive().is_some() => {
                    "the adaptive study is finished"
                }
                xyz_core::crop::StopReason::Done => "every batch has a result",
                xyz_core::crop::StopReason::MaxBatches => "--max-batches reached",
                xyz_core::crop::StopReason::MaxTime => "--max-time reached",
            };
            println!(
                "{}: worker grew {} batches ({} cases, {} failed, {} discarded as another's) in \
                 {secs:.3} s; stopped: {why}",
                crop.name(),
                report.batches,
                report.cases,
                report.failed,
                report.duplicates
            );
        }
        Ok(exit_codes::for_missing(report.failed > 0))
    }

    /// Grows each batch with `xyz grow DIR --batches ID` in a child process, `-j` at a time.
    fn grow_in_subprocesses(&self, crop: &Crop, batches: &[u64]) -> anyhow::Result<u8> {
        let (exe, prefix) = super::args::self_command()?;
        let dir = std::path::absolute(crop.dir()).context("resolving the crop's directory")?;
        let jobs = match self.jobs {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            j => j,
        };
        let next = Mutex::new(batches.iter());
        let outcome = Mutex::new((0u64, 0u64, None::<String>));
        let bar = crate::progress::bar(batches.len() as u64, "batches", !self.quiet && !self.json);
        std::thread::scope(|s| {
            for _ in 0..jobs.min(batches.len()) {
                s.spawn(|| {
                    loop {
                        if outcome
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .2
                            .is_some()
                        {
                            return;
                        }
                        let Some(&id) = next.lock().unwrap_or_else(|e| e.into_inner()).next()
                        else {
                            return;
                        };
                        let mut cmd = Command::new(&exe);
                        cmd.args(&prefix)
                            .arg("grow")
                            .arg(&dir)
                            .args(["--batches", &id.to_string(), "-j", "1", "--quiet"])
                            .args(self.wasm.args())
                            .stdin(Stdio::null())
                            .stdout(Stdio::null());
                        if self.raise_errors {
                            cmd.arg("--raise-errors");
                        }
                        let status = cmd.output();
                        let mut o = outcome.lock().unwrap_or_else(|e| e.into_inner());
                        match status {
                            Ok(out) if out.status.code() == Some(i32::from(exit_codes::OK)) => {
                                o.0 += 1
                            }
                            Ok(out)
                                if out.status.code()
                                    == Some(i32::from(exit_codes::CASES_FAILED)) =>
                            {
                                o.0 += 1;
                                o.1 += 1;
                            }
                            Ok(out) => {
                                let err = String::from_utf8_lossy(&out.stderr);
                                o.2.get_or_insert(format!(
                                    "growing batch {id} in a child process failed ({}): {}",
                                    out.status,
                                    err.trim()
                                ));
                            }
                            Err(e) => {
                                o.2.get_or_insert(format!(
                                    "could not start {}: {e}",
                                    exe.display()
                                ));
                            }
                        }
                        bar.inc(1);
                    }
                });
            }
        });
        bar.finish_and_clear();
        let (grown, with_failures, error) = outcome.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = error {
            bail!(e);
        }
        if self.json {
            let summary = json!({
                "name": crop.name(),
                "batches": grown,
                "batches_with_failures": with_failures,
                "processes": jobs,
            });
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else if !self.quiet {
            println!(
                "{}: grew {grown} batches in child processes ({with_failures} with failed cases)",
                crop.name()
            );
        }
        Ok(exit_codes::for_missing(with_failures > 0))
    }
}

/// Blocks SIGTERM in this thread and the threads it starts, and waits for it in a thread of
/// its own, which has the grows holding the token it gives write the results gathered and not
/// yet written, releases this process's claims on the crop in `dir`, and exits with code 143.
#[cfg(unix)]
fn on_sigterm(dir: PathBuf) -> StopToken {
    let stop = StopToken::new();
    // SAFETY: the set is initialised by sigemptyset before use; pthread_sigmask and sigwait
    // only read it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return stop;
        }
        let token = stop.clone();
        std::thread::spawn(move || {
            let mut sig = 0;
            if libc::sigwait(&set, &mut sig) == 0 {
                // The results finished but not yet written go to disk first.
                if !token.write_gathered(std::time::Duration::from_secs(20)) {
                    eprintln!("stopped by SIGTERM before the results gathered could be written");
                }
                if let Ok(crop) = Crop::open(&dir) {
                    match crop.release_claims_of_this_process() {
                        Ok(ids) if !ids.is_empty() => {
                            eprintln!("stopped by SIGTERM; released batches {ids:?}")
                        }
                        Ok(_) => eprintln!("stopped by SIGTERM"),
                        Err(e) => eprintln!("stopped by SIGTERM; {e:#}"),
                    }
                }
                std::process::exit(143);
            }
        });
    }
    stop
}

#[cfg(not(unix))]
fn on_sigterm(_dir: PathBuf) -> StopToken {
    StopToken::new()
}
