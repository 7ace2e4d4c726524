//! What a batch scheduler's queue holds of this user's jobs, for `xyz status`: each queued
//! job's tasks, counted by state. Slurm is asked with `squeue`, SGE with `qstat`; PBS is not
//! asked.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::scheduler::Scheduler;

/// How long a scheduler is given to answer.
const PATIENCE: Duration = Duration::from_secs(5);

/// A queued job's tasks by state (`running`, `pending`, …).
pub(crate) type Tasks = BTreeMap<String, u64>;

/// The queued jobs of this user, by job id.
pub(crate) type Queue = HashMap<String, Tasks>;

/// Asks `scheduler` which of this user's jobs are queued. `None` when it cannot be asked: PBS,
/// or its command is missing, fails or takes over 5 seconds.
pub(crate) fn ask(scheduler: Scheduler) -> Option<Queue> {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() }.to_string();
    match scheduler {
        Scheduler::Slurm => {
            let mut cmd = Command::new("squeue");
            cmd.args(["--noheader", "--array", "--format=%i|%T", "--user", &uid]);
            Some(parse_squeue(&text_of(cmd)?))
        }
        Scheduler::Sge => Some(parse_qstat(&text_of(Command::new("qstat"))?)),
        Scheduler::Pbs => None,
    }
}

/// The standard output of `cmd`, if it succeeds within [`PATIENCE`].
fn text_of(mut cmd: Command) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Read as it comes, so a long answer cannot fill the pipe and stall the command.
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        stdout.read_to_end(&mut text).map(|_| text)
    });
    let began = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if began.elapsed() < PATIENCE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let stdout = reader.join().ok()?.ok()?;
    status
        .success()
        .then(|| String::from_utf8_lossy(&stdout).into_owned())
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

/// `qstat`: a table whose rows give a job id, its state (`r`, `qw`, `Eqw`, …) and, for array
/// jobs, the tasks in that state (`3-6:1`, `1,4`); a row without tasks is one task.
fn parse_qstat(text: &str) -> Queue {
    let mut queue = Queue::new();
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return queue;
    };
    let tasks_at = header.find("ja-task-ID");
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(id), Some(state)) = (words.first(), words.get(4)) else {
            continue;
        };
        if !id.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let tasks = tasks_at
            .and_then(|at| line.get(at..))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map_or(1, count_sge_tasks);
        *queue
            .entry(id.to_string())
            .or_default()
            .entry(sge_state(state).to_string())
            .or_default() += tasks;
    }
    queue
}

/// Tasks in an SGE task list: `5`, `3-6:1`, `1-9:2`, or several of these joined by commas.
fn count_sge_tasks(list: &str) -> u64 {
    list.split(',')
        .map(|item| {
            let (range, step) = item.split_once(':').unwrap_or((item, "1"));
            let step = step.parse::<u64>().unwrap_or(1).max(1);
            match range.split_once('-') {
                Some((a, b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(a), Ok(b)) if b >= a => (b - a) / step + 1,
                    _ => 1,
                },
                None => 1,
            }
        })
        .sum()
}

/// An SGE state code in the words Slurm uses.
fn sge_state(code: &str) -> &'static str {
    if code.contains('E') {
        "error"
    } else if code.starts_with('d') {
        "deleting"
    } else if code.contains('h') {
        "held"
    } else if code.contains(['s', 'S', 'T']) {
        "suspended"
    } else if code.contains(['r', 't']) {
        "running"
    } else if code.contains('q') {
        "pending"
    } else {
        "unknown"
    }
}

/// Tasks in words, most first: `4 running, 6 pending`.
pub(crate) fn words(tasks: &Tasks) -> String {
    let mut by: Vec<(&String, &u64)> = tasks.iter().collect();
    by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    by.iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn qstat_rows_are_counted_with_their_task_ranges() {
        let text = "\
job-ID  prior   name       user         state submit/start at     queue                          slots ja-task-ID 
-----------------------------------------------------------------------------------------------------------------
     13 0.50000 xyzt       root         r     11/24/2026 23:23:49 all.q@vm                           1 1
     13 0.50000 xyzt       root         r     11/24/2026 23:23:49 all.q@vm                           1 2
     14 0.50000 single     root         qw    11/24/2026 23:23:48                                    1        
     13 0.00000 xyzt       root         qw    11/24/2026 23:23:48                                    1 3-6:1
     15 0.00000 xyzt       root         Eqw   11/24/2026 23:23:48                                    1 1-9:2,12
";
        let q = parse_qstat(text);
        assert_eq!(q["13"], tasks(&[("running", 2), ("pending", 4)]));
        assert_eq!(q["14"], tasks(&[("pending", 1)]));
        assert_eq!(q["15"], tasks(&[("error", 6)]));
        assert!(parse_qstat("").is_empty());
    }
}
