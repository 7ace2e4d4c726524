//! Grid Engine (Sun, Son of, Univa): `qsub`, job arrays with `-t`, the queue from `qstat`.

use std::process::Command;

use super::queue::{Queue, text_of};
use super::{Job, Scheduler, path, quote};

/// Grid Engine.
pub(super) struct Sge;

impl Scheduler for Sge {
    fn name(&self) -> &'static str {
        "sge"
    }

    fn about(&self) -> &'static str {
        "Sun/Son of/Univa Grid Engine: qsub, job arrays with -t"
    }

    fn submit_command(&self) -> &'static str {
        "qsub"
    }

    fn submit_args(&self) -> &'static [&'static str] {
        &["-terse"]
    }

    /// `qsub -terse` prints `ID.1-N:1` for an array.
    fn job_id<'a>(&self, printed: &'a str) -> &'a str {
        printed.split('.').next().unwrap_or("")
    }

    fn index_var(&self) -> &'static str {
        "SGE_TASK_ID"
    }

    fn directive_prefix(&self) -> &'static str {
        "#$"
    }

    fn directives(&self, job: &Job, throttle: Option<u64>) -> Vec<String> {
        let mut d = vec![
            format!("-N {}", quote(&job.name)),
            format!("-t 1-{}", job.tasks),
        ];
        if let Some(t) = throttle {
            d.push(format!("-tc {t}"));
        }
        d.push("-S /bin/bash".into());
        d.push("-j y".into());
        d.push(format!("-o {}", path(&job.logs)));
        if let Some(t) = &job.task.time {
            d.push(format!("-l h_rt={t}"));
        }
        if let Some(m) = job.task.mem_mib {
            d.push(format!("-l h_vmem={m}M"));
        }
        if job.task.cpus > 1 {
            d.push(format!("-pe smp {}", job.task.cpus));
        }
        d
    }

    fn max_array_query(&self) -> (&'static str, &'static [&'static str], &'static str) {
        ("qconf", &["-sconf"], "max_aj_tasks")
    }

    /// 0 means no limit.
    fn max_array_from(&self, configured: u64) -> Option<u64> {
        (configured > 0).then_some(configured)
    }

    /// SGE's default max_aj_tasks.
    fn default_max_array(&self) -> u64 {
        75_000
    }

    fn queue(&self) -> Option<Queue> {
        Some(parse_qstat(&text_of(Command::new("qstat"))?))
    }
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
            .map_or(1, count_tasks);
        *queue
            .entry(id.to_string())
            .or_default()
            .entry(state_word(state).to_string())
            .or_default() += tasks;
    }
    queue
}

/// Tasks in an SGE task list: `5`, `3-6:1`, `1-9:2`, or several of these joined by commas.
fn count_tasks(list: &str) -> u64 {
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
fn state_word(code: &str) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::queue::Tasks;

    fn tasks(pairs: &[(&str, u64)]) -> Tasks {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
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
