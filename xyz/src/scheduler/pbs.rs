//! PBS Pro and OpenPBS: `qsub`, job arrays with `-J`. Its queue is not asked.

use super::{Job, Scheduler, path, quote};

/// PBS.
pub(super) struct Pbs;

impl Scheduler for Pbs {
    fn name(&self) -> &'static str {
        "pbs"
    }

    fn about(&self) -> &'static str {
        "PBS Pro and OpenPBS: qsub, job arrays with -J"
    }

    fn submit_command(&self) -> &'static str {
        "qsub"
    }

    /// `qsub` prints `ID[].SERVER` for an array, `ID.SERVER` for a job: the whole is the id.
    fn job_id<'a>(&self, printed: &'a str) -> &'a str {
        printed
    }

    fn index_var(&self) -> &'static str {
        "PBS_ARRAY_INDEX"
    }

    /// A lone task is a plain job, without an index.
    fn index_expr(&self) -> String {
        format!("${{{}:-1}}", self.index_var())
    }

    fn directive_prefix(&self) -> &'static str {
        "#PBS"
    }

    fn directives(&self, job: &Job, throttle: Option<u64>) -> Vec<String> {
        let mut d = vec![format!("-N {}", quote(&job.name))];
        // PBS arrays need two indices or more; a lone task is a plain job.
        if job.tasks > 1 {
            let limit = throttle.map(|t| format!("%{t}")).unwrap_or_default();
            d.push(format!("-J 1-{}{limit}", job.tasks));
        }
        d.push("-j oe".into());
        d.push(format!("-o {}", path(&job.logs)));
        if let Some(t) = &job.task.time {
            d.push(format!("-l walltime={t}"));
        }
        let mem = job
            .task
            .mem_mib
            .map(|m| format!(":mem={m}mb"))
            .unwrap_or_default();
        d.push(format!("-l select=1:ncpus={}{mem}", job.task.cpus));
        d
    }

    fn max_array_query(&self) -> (&'static str, &'static [&'static str], &'static str) {
        (
            "qmgr",
            &["-c", "list server max_array_size"],
            "max_array_size",
        )
    }

    /// PBS's default max_array_size.
    fn default_max_array(&self) -> u64 {
        10_000
    }
}
