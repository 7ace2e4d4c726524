//! Batch schedulers: the job scripts `xyz submit` writes for Slurm, SGE and PBS, and how it
//! submits them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// A batch scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Scheduler {
    /// Slurm: sbatch, job arrays with --array.
    Slurm,
    /// Sun/Son of/Univa Grid Engine: qsub, job arrays with -t.
    Sge,
    /// PBS Pro and OpenPBS: qsub, job arrays with -J.
    Pbs,
}

/// What each task of a job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Work {
    /// Task k grows the batch on line k of this file.
    Batches(PathBuf),
    /// Every task is a worker.
    Worker,
}

/// A job to write a script for.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The job's name.
    pub(crate) name: String,
    /// Its tasks: array indices 1 to this.
    pub(crate) tasks: u64,
    /// At most this many tasks at once.
    pub(crate) throttle: Option<u64>,
    /// Wall time, `H:M:S`.
    pub(crate) time: Option<String>,
    /// Memory per task, in MiB.
    pub(crate) mem_mib: Option<u64>,
    /// Cores per task; the thread variables and `-j` follow it.
    pub(crate) cpus: u64,
    /// Directive lines added as they are (without the directive prefix).
    pub(crate) options: Vec<String>,
    /// Shell lines run before xyz (`module load ...`).
    pub(crate) setup: Vec<String>,
    /// Where the logs go (a directory).
    pub(crate) logs: PathBuf,
    /// The xyz executable.
    pub(crate) xyz: PathBuf,
    /// The crop's directory.
    pub(crate) crop: PathBuf,
    /// What the tasks do.
    pub(crate) work: Work,
    /// Options passed on to `xyz grow` (the sandbox).
    pub(crate) grow_args: Vec<String>,
}

/// A word quoted for the shell.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

fn path(p: &Path) -> String {
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

impl Scheduler {
    /// The command that submits a script.
    pub(crate) fn submit_command(self) -> &'static str {
        match self {
            Scheduler::Slurm => "sbatch",
            Scheduler::Sge | Scheduler::Pbs => "qsub",
        }
    }

    /// The variable holding a task's array index.
    pub(crate) fn index_var(self) -> &'static str {
        match self {
            Scheduler::Slurm => "SLURM_ARRAY_TASK_ID",
            Scheduler::Sge => "SGE_TASK_ID",
            Scheduler::Pbs => "PBS_ARRAY_INDEX",
        }
    }

    /// The job script for `job`.
    pub(crate) fn script(self, job: &Job) -> String {
        let mut s = String::from("#!/bin/bash\n");
        let mut d = |line: String| {
            let prefix = match self {
                Scheduler::Slurm => "#SBATCH",
                Scheduler::Sge => "#$",
                Scheduler::Pbs => "#PBS",
            };
            let _ = writeln!(s, "{prefix} {line}");
        };
        let throttle = job.throttle.map(|t| t.min(job.tasks));
        match self {
            Scheduler::Slurm => {
                d(format!("--job-name={}", quote(&job.name)));
                let limit = throttle.map(|t| format!("%{t}")).unwrap_or_default();
                d(format!("--array=1-{}{limit}", job.tasks));
                d(format!("--output={}", path(&job.logs.join("%x-%A_%a.out"))));
                if let Some(t) = &job.time {
                    d(format!("--time={t}"));
                }
                if let Some(m) = job.mem_mib {
                    d(format!("--mem={m}M"));
                }
                d(format!("--cpus-per-task={}", job.cpus));
            }
            Scheduler::Sge => {
                d(format!("-N {}", quote(&job.name)));
                d(format!("-t 1-{}", job.tasks));
                if let Some(t) = throttle {
                    d(format!("-tc {t}"));
                }
                d("-S /bin/bash".into());
                d("-j y".into());
                d(format!("-o {}", path(&job.logs)));
                if let Some(t) = &job.time {
                    d(format!("-l h_rt={t}"));
                }
                if let Some(m) = job.mem_mib {
                    d(format!("-l h_vmem={m}M"));
                }
                if job.cpus > 1 {
                    d(format!("-pe smp {}", job.cpus));
                }
            }
            Scheduler::Pbs => {
                d(format!("-N {}", quote(&job.name)));
                // PBS arrays need two indices or more; a lone task is a plain job.
                if job.tasks > 1 {
                    let limit = throttle.map(|t| format!("%{t}")).unwrap_or_default();
                    d(format!("-J 1-{}{limit}", job.tasks));
                }
                d("-j oe".into());
                d(format!("-o {}", path(&job.logs)));
                if let Some(t) = &job.time {
                    d(format!("-l walltime={t}"));
                }
                let mem = job
                    .mem_mib
                    .map(|m| format!(":mem={m}mb"))
                    .unwrap_or_default();
                d(format!("-l select=1:ncpus={}{mem}", job.cpus));
            }
        }
        for o in &job.options {
            d(o.clone());
        }
        let _ = writeln!(s, "set -euo pipefail");
        let vars: Vec<String> = THREAD_VARS
            .iter()
            .map(|v| format!("{v}={}", job.cpus))
            .collect();
        let _ = writeln!(s, "export {}", vars.join(" "));
        for line in &job.setup {
            let _ = writeln!(s, "{line}");
        }
        let index = match self {
            Scheduler::Pbs => format!("${{{}:-1}}", self.index_var()),
            _ => format!("${{{}}}", self.index_var()),
        };
        let mut grow = format!("exec {} grow {}", path(&job.xyz), path(&job.crop));
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
        let _ = write!(grow, " -j {} --quiet", job.cpus);
        for a in &job.grow_args {
            let _ = write!(grow, " {}", quote(a));
        }
        let _ = writeln!(s, "{grow}");
        s
    }

    /// The largest array this scheduler takes, from its configuration; `None` when it cannot
    /// be asked.
    pub(crate) fn max_array_size(self) -> Option<u64> {
        let (cmd, args, key): (&str, &[&str], &str) = match self {
            Scheduler::Slurm => ("scontrol", &["show", "config"], "MaxArraySize"),
            Scheduler::Sge => ("qconf", &["-sconf"], "max_aj_tasks"),
            Scheduler::Pbs => (
                "qmgr",
                &["-c", "list server max_array_size"],
                "max_array_size",
            ),
        };
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
        // Slurm's array indices must stay below MaxArraySize; 0 means no limit in SGE.
        match (self, value) {
            (Scheduler::Slurm, v) => Some(v.saturating_sub(1).max(1)),
            (Scheduler::Sge, 0) => None,
            (_, v) => Some(v),
        }
    }

    /// Submits `script` and returns the job id.
    pub(crate) fn submit(self, script: &Path) -> anyhow::Result<String> {
        let mut cmd = Command::new(self.submit_command());
        match self {
            Scheduler::Slurm => cmd.arg("--parsable"),
            Scheduler::Sge => cmd.arg("-terse"),
            Scheduler::Pbs => &mut cmd,
        };
        cmd.arg(script);
        let out = cmd.output().with_context(|| {
            format!(
                "could not run {}: is {self:?} installed here?",
                self.submit_command()
            )
        })?;
        if !out.status.success() {
            bail!(
                "{} {} failed ({}): {}",
                self.submit_command(),
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        // sbatch --parsable: "ID" or "ID;CLUSTER"; qsub -terse (SGE): "ID.1-N:1"; PBS: "ID[].SERVER".
        let id = match self {
            Scheduler::Slurm => first.split(';').next().unwrap_or(""),
            Scheduler::Sge => first.split('.').next().unwrap_or(""),
            Scheduler::Pbs => first,
        };
        if id.is_empty() {
            bail!(
                "{} printed no job id: {}",
                self.submit_command(),
                text.trim()
            );
        }
        Ok(id.to_string())
    }
}

impl std::fmt::Display for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scheduler::Slurm => "slurm",
            Scheduler::Sge => "sge",
            Scheduler::Pbs => "pbs",
        })
    }
}

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
}
