//! Slurm: `sbatch`, job arrays with `--array`, the queue from `squeue`.

use super::queue::{Queue, text_of};
use super::{Job, Scheduler, path, quote};
use std::process::Command;

/// Slurm.
pub(super) struct Slurm;

impl Scheduler for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn about(&self) -> &'static str {
        "Slurm: sbatch, job arrays with --array"
    }

    fn submit_command(&self) -> &'static str {
        "sbatch"
    }

    fn submit_args(&self) -> &'static [&'static str] {
        &["--parsable"]
    }

    /// `sbatch --parsable` prints `ID` or `ID;CLUSTER`.
    fn job_id<'a>(&self, printed: &'a str) -> &'a str {
        printed.split(';').next().unwrap_or("")
    }

    fn index_var(&self) -> &'static str {
        "SLURM_ARRAY_TASK_ID"
    }

    fn directive_prefix(&self) -> &'static str {
        "#SBATCH"
    }

    fn directives(&self, job: &Job, throttle: Option<u64>) -> Vec<String> {
        let mut d = vec![format!("--job-name={}", quote(&job.name))];
        let limit = throttle.map(|t| format!("%{t}")).unwrap_or_default();
        d.push(format!("--array=1-{}{limit}", job.tasks));
        d.push(format!("--output={}", path(&job.logs.join("%x-%A_%a.out"))));
        if let Some(t) = &job.task.time {
            d.push(format!("--time={t}"));
        }
        if let Some(m) = job.task.mem_mib {
            d.push(format!("--mem={m}M"));
        }
        d.push(format!("--cpus-per-task={}", job.task.cpus));
        d
    }

    fn max_array_query(&self) -> (&'static str, &'static [&'static str], &'static str) {
        ("scontrol", &["show", "config"], "MaxArraySize")
    }

    /// Array indices must stay below MaxArraySize.
    fn max_array_from(&self, configured: u64) -> Option<u64> {
        Some(configured.saturating_sub(1).max(1))
    }

    /// Slurm's default MaxArraySize is 1001, so indices up to 1000.
    fn default_max_array(&self) -> u64 {
        1000
    }

    fn queue(&self) -> Option<Queue> {
        // SAFETY: geteuid has no preconditions.
        let uid = unsafe { libc::geteuid() }.to_string();
        let mut cmd = Command::new("squeue");
        cmd.args(["--noheader", "--array", "--format=%i|%T", "--user", &uid]);
        Some(parse_squeue(&text_of(cmd)?))
    }
}

/// `squeue --array --format=%i|%T`: a line a task, `JOB_TASK|STATE` (or `JOB|STATE`).
fn parse_squeue(text: &str) -> Queue {
    let mut queue = Queue::new();
    for line in text.lines() {
        let Some((id, state)) = line.trim().split_once('|') else {
            continue;
        };
        let job = id.split('_').next().unwrap_or(id);
        *queue
            .entry(job.to_string())
            .or_default()
            .entry(state.trim().to_ascii_lowercase())
            .or_default() += 1;
    }
    queue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::queue::{Tasks, words};

    fn tasks(pairs: &[(&str, u64)]) -> Tasks {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    }

    #[test]
    fn squeue_tasks_are_counted_by_job_and_state() {
        let q = parse_squeue("1_3|PENDING\n1_4|PENDING\n1_1|RUNNING\n7|COMPLETING\n\n");
        assert_eq!(q["1"], tasks(&[("pending", 2), ("running", 1)]));
        assert_eq!(q["7"], tasks(&[("completing", 1)]));
        assert_eq!(q.len(), 2);
        assert_eq!(words(&q["1"]), "2 pending, 1 running");
    }
}
