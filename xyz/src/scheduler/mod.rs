//! Batch schedulers: the job scripts that grow a crop as Slurm, Grid Engine or PBS jobs, how
//! they are submitted, and what the queues hold.
//!
//! A scheduler is one [`Scheduler`] in a file of its own, and a row of [`SCHEDULERS`]: what it
//! calls its directives, array index and commands. The script, the submission and the asking
//! of its limits are the same for every scheduler and provided here.

mod pbs;
mod queue;
mod sge;
mod slurm;
mod submit;

pub use queue::{Queue, Tasks, words};
pub use submit::{Mode, PlannedJob, Submission};

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every scheduler, by the name `--scheduler` takes.
pub const SCHEDULERS: [&dyn Scheduler; 3] = [&slurm::Slurm, &sge::Sge, &pbs::Pbs];

/// The scheduler named `name` (`slurm`, `sge`, `pbs`; any case).
pub fn by_name(name: &str) -> Option<&'static dyn Scheduler> {
    SCHEDULERS
        .iter()
        .copied()
        .find(|s| s.name().eq_ignore_ascii_case(name))
}

/// A job that could not be submitted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// The submit command could not be run.
    #[error("could not run {command}: is {scheduler} installed here?")]
    Spawn {
        /// The command (`sbatch`, `qsub`).
        command: &'static str,
        /// The scheduler's name.
        scheduler: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The submit command failed.
    #[error("{command} {} failed ({status}): {stderr}", script.display())]
    Refused {
        /// The command.
        command: &'static str,
        /// The script.
        script: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on standard error.
        stderr: String,
    },
    /// A script or batch list could not be written.
    #[error("could not write {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The crop could not say what to grow, or could not record a job.
    #[error(transparent)]
    Crop(#[from] xyz_core::CropError),
    /// The submit command printed no job id.
    #[error("{command} printed no job id: {printed}")]
    NoJobId {
        /// The command.
        command: &'static str,
        /// What it printed.
        printed: String,
    },
}

/// A batch scheduler: what tells it from the others. [`Scheduler::script`],
/// [`Scheduler::submit`] and [`Scheduler::max_array_size`] are built from these.
pub trait Scheduler: Send + Sync + std::panic::RefUnwindSafe {
    /// Its name, as `--scheduler` takes it and job records keep it.
    fn name(&self) -> &'static str;

    /// One line on what it is, for help texts.
    fn about(&self) -> &'static str;

    /// The command that submits a script.
    fn submit_command(&self) -> &'static str;

    /// Arguments of the submit command before the script, which make it print the job id
    /// alone.
    fn submit_args(&self) -> &'static [&'static str] {
        &[]
    }

    /// The job id in the first line the submit command printed.
    fn job_id<'a>(&self, printed: &'a str) -> &'a str;

    /// The variable holding a task's array index.
    fn index_var(&self) -> &'static str;

    /// A task's array index, as the script reads it.
    fn index_expr(&self) -> String {
        format!("${{{}}}", self.index_var())
    }

    /// What starts a directive line (`#SBATCH`).
    fn directive_prefix(&self) -> &'static str;

    /// The directives of `job`, at most `throttle` tasks at once, without the prefix.
    fn directives(&self, job: &Job, throttle: Option<u64>) -> Vec<String>;

    /// The command and arguments that print the configuration, and the key of the largest
    /// array in it.
    fn max_array_query(&self) -> (&'static str, &'static [&'static str], &'static str);

    /// The largest array, from the configured value; `None` for no limit.
    fn max_array_from(&self, configured: u64) -> Option<u64> {
        Some(configured)
    }

    /// The largest array when the configuration cannot be asked: the scheduler's default.
    fn default_max_array(&self) -> u64;

    /// This user's queued jobs; `None` when the queue cannot be asked (its command missing,
    /// failing, or taking over 5 seconds).
    fn queue(&self) -> Option<Queue> {
        None
    }

    /// The job script for `job`.
    fn script(&self, job: &Job) -> String {
        let mut s = String::from("#!/bin/bash\n");
        let prefix = self.directive_prefix();
        let throttle = job.task.throttle.map(|t| t.min(job.tasks));
        for line in self
            .directives(job, throttle)
            .iter()
            .chain(&job.task.options)
        {
            let _ = writeln!(s, "{prefix} {line}");
        }
        let index = self.index_expr();
        let _ = writeln!(s, "set -euo pipefail");
        let vars: Vec<String> = THREAD_VARS
            .iter()
            .map(|v| format!("{v}={}", job.task.cpus))
            .collect();
        let _ = writeln!(s, "export {}", vars.join(" "));
        for line in &job.task.setup {
            let _ = writeln!(s, "{line}");
        }
        let mut grow = format!("exec {} grow {}", path(&job.task.xyz), path(&job.crop));
        match &job.work {
            Work::Batches(list) => {
                let _ = writeln!(s, "# Array task k grows the batch on line k of the list.");
                let _ = writeln!(s, "batch=$(sed -n \"{index}p\" {})", path(list));
                grow.push_str(" --batches \"$batch\"");
            }
            Work::Worker => {
                let _ = writeln!(
                    s,
                    "# Every task is a worker, claiming batches until none is left."
                );
                grow.push_str(" --worker");
            }
        }
        let _ = write!(grow, " -j {} --quiet", job.task.cpus);
        for a in &job.task.grow_args {
            let _ = write!(grow, " {}", quote(a));
        }
        let _ = writeln!(s, "{grow}");
        s
    }

    /// The largest array this scheduler takes, from its configuration; `None` when it cannot
    /// be asked or sets no limit.
    fn max_array_size(&self) -> Option<u64> {
        let (cmd, args, key) = self.max_array_query();
        let out = Command::new(cmd).args(args).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let value = text
            .lines()
            .find(|l| l.trim_start().starts_with(key))?
            .split(['=', ' ', '\t'])
            .filter(|w| !w.is_empty())
            .nth(1)?
            .trim()
            .parse::<u64>()
            .ok()?;
        self.max_array_from(value)
    }

    /// Submits `script` and returns the job id.
    fn submit(&self, script: &Path) -> Result<String, SubmitError> {
        let command = self.submit_command();
        let out = Command::new(command)
            .args(self.submit_args())
            .arg(script)
            .output()
            .map_err(|source| SubmitError::Spawn {
                command,
                scheduler: self.name(),
                source,
            })?;
        if !out.status.success() {
            return Err(SubmitError::Refused {
                command,
                script: script.to_path_buf(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let id = self.job_id(first);
        if id.is_empty() {
            return Err(SubmitError::NoJobId {
                command,
                printed: text.trim().to_string(),
            });
        }
        Ok(id.to_string())
    }
}

impl std::fmt::Debug for dyn Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for dyn Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What each task of a job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Task k grows the batch on line k of this file.
    Batches(PathBuf),
    /// Every task is a worker.
    Worker,
}

/// What each task of a job asks the scheduler for, and the xyz it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSpec {
    /// At most this many tasks at once.
    pub throttle: Option<u64>,
    /// Wall time, `H:M:S`.
    pub time: Option<String>,
    /// Memory per task, in MiB.
    pub mem_mib: Option<u64>,
    /// Cores per task; the thread variables and `-j` follow it.
    pub cpus: u64,
    /// Directive lines added as they are (without the directive prefix).
    pub options: Vec<String>,
    /// Shell lines run before xyz (`module load ...`).
    pub setup: Vec<String>,
    /// The xyz executable.
    pub xyz: PathBuf,
    /// Options passed on to `xyz grow` (the sandbox, a worker's lease).
    pub grow_args: Vec<String>,
}

/// A job to write a script for.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job's name.
    pub name: String,
    /// Its tasks: array indices 1 to this.
    pub tasks: u64,
    /// What each task asks for and runs.
    pub task: TaskSpec,
    /// Where the logs go (a directory).
    pub logs: PathBuf,
    /// The crop's directory.
    pub crop: PathBuf,
    /// What the tasks do.
    pub work: Work,
}

/// A word quoted for the shell.
pub(super) fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

pub(super) fn path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// Variables that set how many threads common libraries start.
const THREAD_VARS: [&str; 6] = [
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "RAYON_NUM_THREADS",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(quote("/a/b-c.d"), "/a/b-c.d");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn every_scheduler_is_found_by_its_name() {
        for s in SCHEDULERS {
            assert_eq!(by_name(s.name()).map(|s| s.name()), Some(s.name()));
            assert_eq!(
                by_name(&s.name().to_uppercase()).map(|s| s.name()),
                Some(s.name())
            );
        }
        assert!(by_name("lsf").is_none());
    }
}
