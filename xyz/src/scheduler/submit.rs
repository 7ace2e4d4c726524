//! Submitting a crop's growth: the tasks (a batch not grown yet each, or workers) cut into
//! arrays the scheduler takes, a script and a batch list per array written into the crop's
//! `jobs/`, each submitted and recorded.

use std::path::{Path, PathBuf};

use xyz_core::Crop;
use xyz_core::crop::JobRecord;

use super::{Job, Scheduler, SubmitError, TaskSpec, Work};

/// How a submission's tasks share the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// An array job with one task per batch not grown yet.
    Array,
    /// This many tasks, each an `xyz grow --worker` claiming batches until none is left.
    Workers(u64),
}

impl Mode {
    /// Its name in job records: `array` or `workers`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Array => "array",
            Mode::Workers(_) => "workers",
        }
    }
}

/// A crop's growth as jobs of a scheduler: what each task asks for and runs.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The scheduler.
    pub scheduler: &'static dyn Scheduler,
    /// How the tasks share the crop.
    pub mode: Mode,
    /// What each task asks for and runs.
    pub task: TaskSpec,
    /// The largest array to submit; `None` to ask the scheduler's configuration (its default
    /// when it cannot be asked).
    pub max_array: Option<u64>,
}

/// One job of a submission, planned: its script, and the batches its tasks grow.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    /// Where its script goes.
    pub script_path: PathBuf,
    /// The script.
    pub script: String,
    /// Its tasks.
    pub tasks: u64,
    /// In array mode: the list of batches (task k grows line k) and where it goes.
    pub batches: Option<(PathBuf, Vec<u64>)>,
}

impl Submission {
    /// The jobs that grow `crop`: none when every batch is grown (array mode). Nothing is
    /// written.
    pub fn plan(&self, crop: &Crop) -> Result<Vec<PlannedJob>, SubmitError> {
        let crop_dir = std::path::absolute(crop.dir()).map_err(|source| SubmitError::Io {
            path: crop.dir().to_path_buf(),
            source,
        })?;
        let max = self
            .max_array
            .or_else(|| self.scheduler.max_array_size())
            .unwrap_or_else(|| self.scheduler.default_max_array())
            .max(1) as usize;
        let tasks: Vec<u64> = match self.mode {
            Mode::Array => crop.missing()?,
            Mode::Workers(n) => (1..=n).collect(),
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let jobs_dir = xyz_core::crop::CropDir::new(&crop_dir).jobs();
        let mut planned = Vec::new();
        for (k, chunk) in tasks.chunks(max).enumerate() {
            let base = format!("{}-{stamp}-{}", crop.name(), k + 1);
            let (work, batches) = match self.mode {
                Mode::Array => {
                    let list = jobs_dir.join(format!("{base}.batches"));
                    (Work::Batches(list.clone()), Some((list, chunk.to_vec())))
                }
                Mode::Workers(_) => (Work::Worker, None),
            };
            let job = Job {
                name: format!("xyz-{}", crop.name()),
                tasks: chunk.len() as u64,
                task: self.task.clone(),
                logs: jobs_dir.join("logs"),
                crop: crop_dir.clone(),
                work,
            };
            planned.push(PlannedJob {
                script_path: jobs_dir.join(format!("{base}.sh")),
                script: self.scheduler.script(&job),
                tasks: chunk.len() as u64,
                batches,
            });
        }
        Ok(planned)
    }

    /// Writes the scripts and batch lists of `jobs` (planned for `crop`) into its `jobs/`,
    /// submits each and records it in the crop; gives the records, in order. A job that cannot
    /// be submitted stops the submission: the jobs before it stay submitted and recorded.
    pub fn submit(&self, crop: &Crop, jobs: &[PlannedJob]) -> Result<Vec<JobRecord>, SubmitError> {
        crop.jobs_dir()?;
        let mut submitted = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Some((list, ids)) = &job.batches {
                let lines: String = ids.iter().map(|id| format!("{id}\n")).collect();
                write(list, lines.as_bytes())?;
            }
            write(&job.script_path, job.script.as_bytes())?;
            let job_id = self.scheduler.submit(&job.script_path)?;
            let record = JobRecord {
                scheduler: self.scheduler.name().to_string(),
                mode: self.mode.name().to_string(),
                job_id,
                tasks: job.tasks,
                script: job.script_path.clone(),
                submitted_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            };
            crop.record_job(&record)?;
            submitted.push(record);
        }
        Ok(submitted)
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), SubmitError> {
    std::fs::write(path, bytes).map_err(|source| SubmitError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xyz_core::crop::Sowing;
    use xyz_core::{ComboValues, Limits, ParamSpace, Value};

    /// A crop of 5 batches of 2 cases, sown (never grown) in `parent`.
    fn crop(parent: &Path) -> Crop {
        let sig = "f(a: i64) -> (y: f64)".parse().unwrap();
        let mut space = ParamSpace::new();
        space.combo("a", ComboValues::List((0..10).map(Value::I64).collect()));
        let code = b"not run";
        let sha = xyz_core::sha256_hex(code);
        Crop::sow(
            parent,
            &Sowing {
                name: "planned",
                function: code,
                function_file: "function.bin",
                sha256: &sha,
                signature: &sig,
                space: &space,
                limits: &Limits::default(),
                attrs: &[],
                coords: &[],
                subset: None,
                into: None,
                output: None,
                batchsize: Some(2),
                num_batches: None,
                shuffle: None,
                force: false,
                adaptive: None,
            },
        )
        .unwrap()
        .0
    }

    fn submission(mode: Mode, max_array: u64) -> Submission {
        Submission {
            scheduler: super::super::by_name("slurm").unwrap(),
            mode,
            task: TaskSpec {
                throttle: None,
                time: None,
                mem_mib: None,
                cpus: 1,
                options: Vec::new(),
                setup: Vec::new(),
                xyz: PathBuf::from("/opt/xyz"),
                grow_args: Vec::new(),
            },
            max_array: Some(max_array),
        }
    }

    #[test]
    fn the_missing_batches_are_cut_into_arrays_the_scheduler_takes() {
        let dir = tempfile::tempdir().unwrap();
        let crop = crop(dir.path());
        let jobs = submission(Mode::Array, 2).plan(&crop).unwrap();
        let lists: Vec<Vec<u64>> = jobs
            .iter()
            .map(|j| j.batches.as_ref().unwrap().1.clone())
            .collect();
        assert_eq!(lists, [vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(jobs.iter().map(|j| j.tasks).collect::<Vec<_>>(), [2, 2, 1]);
        assert!(jobs[2].script.contains("#SBATCH --array=1-1"));
        // Planning writes nothing.
        assert!(!crop.paths().jobs().exists());
        for job in &jobs {
            assert!(
                job.script_path
                    .starts_with(std::path::absolute(crop.dir()).unwrap())
            );
        }
    }

    #[test]
    fn workers_are_one_job_unless_the_arrays_are_smaller() {
        let dir = tempfile::tempdir().unwrap();
        let crop = crop(dir.path());
        let jobs = submission(Mode::Workers(3), 1000).plan(&crop).unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].tasks, 3);
        assert!(jobs[0].batches.is_none());
        assert!(jobs[0].script.contains(" --worker"));
        assert_eq!(
            submission(Mode::Workers(3), 2).plan(&crop).unwrap().len(),
            2
        );
    }
}
