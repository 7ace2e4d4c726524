//! `xyz submit`: grow a crop as jobs of a batch scheduler (Slurm, SGE or PBS).

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde_json::json;
use xyz_core::Crop;

use super::WasmOpts;
use crate::exit_codes;
use xyz::scheduler::{self, Scheduler, Submission, TaskSpec};

const AFTER_HELP: &str = "EXAMPLES:
  A Slurm array with one task per batch not grown yet, 50 running at a time:
    xyz submit mandel --scheduler slurm --throttle 50 --time 1:00:00 --mem 2G

  Eight SGE jobs, each a worker claiming batches until none is left:
    xyz submit mandel --scheduler sge --mode workers --workers 8 --cpus-per-task 4

  Print the PBS script instead of submitting it:
    xyz submit mandel --scheduler pbs --dry-run --setup 'module load gcc'";

/// How the scheduler's tasks share the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// An array job with one task per batch not grown yet.
    Array,
    /// `--workers` tasks, each an `xyz grow --worker`.
    Workers,
}

/// Submit a crop's growth to a batch scheduler: an array job with a task per missing batch,
/// or a number of workers. The scripts, batch lists, logs and job ids are kept in the crop's
/// jobs/ directory.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct SubmitCommand {
    /// The crop's name (or the path of its .xyz-NAME directory)
    name: String,

    /// The directory holding the crop [default: the current directory]
    #[arg(long, value_name = "DIR")]
    parent_dir: Option<PathBuf>,

    /// The scheduler
    #[arg(long, value_name = "NAME", value_parser = scheduler_parser())]
    scheduler: &'static dyn Scheduler,

    /// `array`: a task per batch not grown yet; `workers`: --workers tasks claiming batches
    /// [default: array; workers for an adaptive study's crop, whose rounds its workers choose]
    #[arg(long, value_name = "MODE")]
    mode: Option<Mode>,

    /// With --mode workers: how many workers
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = super::count)]
    workers: u64,

    /// With --mode workers: the workers' lease (see xyz grow --worker)
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    lease: String,

    /// At most N tasks running at once
    #[arg(long, value_name = "N", value_parser = super::count)]
    throttle: Option<u64>,

    /// Wall time of each task, as H:M:S
    #[arg(long, value_name = "H:M:S")]
    time: Option<String>,

    /// Memory of each task, such as 4G
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,

    /// Cores of each task: xyz's threads and OMP_NUM_THREADS and friends follow it
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = super::count)]
    cpus_per_task: u64,

    /// A directive line added to the script as it is, such as `--partition=long` (repeatable)
    #[arg(long = "option", value_name = "LINE", allow_hyphen_values = true)]
    options: Vec<String>,

    /// A shell line run before xyz, such as `module load gcc` (repeatable)
    #[arg(long = "setup", value_name = "LINE", allow_hyphen_values = true)]
    setup: Vec<String>,

    /// Print the scripts instead of submitting them
    #[arg(long)]
    dry_run: bool,

    /// The largest array to submit [default: the scheduler's, asked from its configuration]
    #[arg(long, value_name = "N", value_parser = super::count)]
    max_array_size: Option<u64>,

    /// Print the submitted jobs as JSON
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    wasm: WasmOpts,
}

/// Checks a wall time: `H:M:S`, `M:S` or `D-H:M:S`.
fn check_time(t: &str) -> anyhow::Result<()> {
    let (days, hms) = t.split_once('-').unwrap_or(("0", t));
    let parts: Vec<&str> = hms.split(':').collect();
    let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    if !digits(days) || parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| digits(p)) {
        bail!("--time {t}: expected a wall time such as 2:30:00 (H:M:S) or 1-00:00:00");
    }
    Ok(())
}

/// `--scheduler`: the name of one of [`scheduler::SCHEDULERS`], each listed with its line of help.
fn scheduler_parser() -> impl clap::builder::TypedValueParser<Value = &'static dyn Scheduler> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(
        scheduler::SCHEDULERS
            .iter()
            .map(|s| PossibleValue::new(s.name()).help(s.about())),
    )
    .map(|name| scheduler::by_name(&name).expect("a scheduler's own name"))
}

impl SubmitCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        if let Some(t) = &self.time {
            check_time(t)?;
        }
        let mem_mib = self
            .mem
            .as_deref()
            .map(|m| {
                xyz_core::spec::parse_size(m)
                    .map(|b| b.div_ceil(1 << 20))
                    .context("--mem")
            })
            .transpose()?;
        xyz_core::spec::parse_duration(&self.lease).context("--lease")?;
        let crop = Crop::locate(&self.name, self.parent_dir.as_deref())?;
        let study = crop.study_status();
        let mode = match (self.mode, &study) {
            (Some(Mode::Array), Some(_)) => bail!(
                "--mode array: {} is an adaptive study's crop, whose batches are chosen a round \
                 at a time as it grows; submit workers (--mode workers, its default)",
                crop.name()
            ),
            (Some(mode), _) => mode,
            (None, Some(_)) => Mode::Workers,
            (None, None) => Mode::Array,
        };
        if study.is_some_and(|s| s.finished.is_some()) && crop.missing()?.is_empty() {
            println!(
                "{}: the adaptive study is finished; nothing to submit",
                crop.name()
            );
            return Ok(exit_codes::OK);
        }
        let crop_dir = std::path::absolute(crop.dir()).context("resolving the crop's directory")?;
        let xyz = std::env::current_exe().context("finding the xyz executable")?;
        // The sandbox options as a grow of this crop takes them (its own module cache).
        let mut grow_args: Vec<String> = self
            .wasm
            .for_crop(&crop_dir)
            .args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if mode == Mode::Workers {
            grow_args.extend(["--lease".into(), self.lease.clone()]);
        }
        let submission = Submission {
            scheduler: self.scheduler,
            mode: match mode {
                Mode::Array => scheduler::Mode::Array,
                Mode::Workers => scheduler::Mode::Workers(self.workers),
            },
            task: TaskSpec {
                throttle: self.throttle,
                time: self.time.clone(),
                mem_mib,
                cpus: self.cpus_per_task,
                options: self.options.clone(),
                setup: self.setup.clone(),
                xyz,
                grow_args,
            },
            max_array: self.max_array_size,
        };
        let jobs = submission.plan(&crop)?;
        if jobs.is_empty() {
            println!("{}: every batch is grown; nothing to submit", crop.name());
            return Ok(exit_codes::OK);
        }
        if self.dry_run {
            for (k, job) in jobs.iter().enumerate() {
                println!(
                    "# {} script {} of {} ({} task{}): {}",
                    self.scheduler,
                    k + 1,
                    jobs.len(),
                    job.tasks,
                    if job.tasks == 1 { "" } else { "s" },
                    job.script_path.display()
                );
                print!("{}", job.script);
            }
            return Ok(exit_codes::OK);
        }
        let submitted = submission.submit(&crop, &jobs)?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&json!(submitted))?);
        } else {
            for r in &submitted {
                println!(
                    "{}: submitted {} job {} ({}), script {}",
                    crop.name(),
                    r.scheduler,
                    r.job_id,
                    r.tasks_text(),
                    r.script.display()
                );
            }
        }
        Ok(exit_codes::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_times_are_checked() {
        for ok in ["1:00:00", "30:00", "45", "2-12:00:00"] {
            assert!(check_time(ok).is_ok(), "{ok}");
        }
        for bad in ["1h", "1:00:00:00", "a-1:00", ""] {
            assert!(check_time(bad).is_err(), "{bad}");
        }
    }
}
