//! Jobs submitted to a batch scheduler for a crop, recorded in `jobs/submitted.jsonl` (one
//! JSON object a line, appended), beside their scripts and logs.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Crop, CropError, io_err};

/// The directory of job scripts, batch lists and logs in a crop.
const RECORD: &str = "submitted.jsonl";

/// One submitted job.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobRecord {
    /// The scheduler: `slurm`, `sge` or `pbs`.
    pub scheduler: String,
    /// `array` (a task per missing batch) or `workers` (a task per worker).
    pub mode: String,
    /// The id the scheduler gave it.
    pub job_id: String,
    /// Its tasks.
    pub tasks: u64,
    /// Its script.
    pub script: PathBuf,
    /// When it was submitted, in Unix milliseconds.
    pub submitted_ms: u64,
}

impl JobRecord {
    /// Its tasks in words: `24 array tasks`, `1 worker task`.
    pub fn tasks_text(&self) -> String {
        let kind = if self.mode == "workers" {
            "worker"
        } else {
            "array"
        };
        let plural = if self.tasks == 1 { "" } else { "s" };
        format!("{} {kind} task{plural}", self.tasks)
    }
}

impl Crop {
    /// The directory of this crop's job scripts, batch lists and logs, made if need be.
    pub fn jobs_dir(&self) -> Result<PathBuf, CropError> {
        let dir = self.paths().jobs();
        std::fs::create_dir_all(dir.join("logs")).map_err(io_err(&dir))?;
        Ok(dir)
    }

    /// Records a submitted job.
    pub fn record_job(&self, job: &JobRecord) -> Result<(), CropError> {
        let path = self.jobs_dir()?.join(RECORD);
        let mut line = serde_json::to_string(job).expect("a job record is JSON");
        line.push('\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(io_err(&path))
    }

    /// The jobs submitted for this crop, oldest first.
    pub fn jobs(&self) -> Result<Vec<JobRecord>, CropError> {
        read_records(&self.paths().jobs().join(RECORD))
    }
}

fn read_records(path: &Path) -> Result<Vec<JobRecord>, CropError> {
    let text = match crate::shared_fs::read_regular_to_string(path, u64::MAX) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    // A line cut short by a writer that died is passed over.
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}
