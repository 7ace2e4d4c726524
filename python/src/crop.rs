//! Crops from Python: sow, grow, status, reap and submit, on the same directories the
//! command line uses, so either side can grow or reap what the other sowed.

use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use xyz::Crop;
use xyz::crop::{Retirement, Sowing};
use xyz::harvest::Conflicts;
use xyz::output::{Encoding, Sink};
use xyz::scheduler::{self, Submission, TaskSpec};

use crate::drive::Engine;
use crate::errors::{Kind, interrupted, raise, raise_text};
use crate::function::{Function, Settings};

fn crop_err(e: &(dyn std::error::Error + 'static)) -> PyErr {
    raise(Kind::Crop, e)
}

/// The crop at `dir`.
fn open(dir: &Path) -> PyResult<Crop> {
    Crop::open(dir).map_err(|e| crop_err(&e))
}

/// Finds the crop `name` in `parent` (the current directory by default) and gives its
/// directory.
#[pyfunction]
#[pyo3(signature = (name, parent=None))]
fn locate(name: &str, parent: Option<PathBuf>) -> PyResult<PathBuf> {
    let crop = Crop::locate(name, parent.as_deref()).map_err(|e| crop_err(&e))?;
    Ok(crop.dir().to_path_buf())
}

/// Sows the sweep `spec` of `function` as the crop `name` in `parent`; gives its directory.
#[pyfunction]
#[pyo3(signature = (function, spec, base, name, parent, batchsize=None, num_batches=None, into=None, force=false))]
#[allow(
    clippy::too_many_arguments,
    reason = "the keyword arguments of Crop and sow_combos"
)]
fn sow(
    py: Python<'_>,
    function: &Function,
    spec: &Bound<'_, PyDict>,
    base: PathBuf,
    name: Option<String>,
    parent: PathBuf,
    batchsize: Option<u64>,
    num_batches: Option<u64>,
    into: Option<PathBuf>,
    force: bool,
) -> PyResult<PathBuf> {
    let spec = crate::spec::spec_of(spec, &base)?;
    let sig = function.loaded.function.signature().clone();
    let bytes = function.bytes.bind(py).as_bytes().to_vec();
    let sha = function.loaded.sha256.clone();
    // An adaptive study's rounds are cut into batches of one case unless told otherwise.
    let cases = match &spec.adaptive {
        Some(_) => 1,
        None => spec
            .space
            .bind(&sig)
            .map_err(|e| raise(Kind::Spec, &e))?
            .len(),
    };
    let into = into
        .map(std::path::absolute)
        .transpose()
        .map_err(|e| raise_text(Kind::Crop, format!("resolving the harvester's file: {e}")))?;
    let chosen = xyz::crop::plan::chosen_batchsize(batchsize, num_batches, cases);
    let name = name.unwrap_or_else(|| sig.name.clone());
    let (crop, _) = py
        .detach(|| {
            Crop::sow(
                &parent,
                &Sowing {
                    name: &name,
                    function: &bytes,
                    function_file: &xyz::crop::function_file(&function.path),
                    sha256: &sha,
                    signature: &sig,
                    space: &spec.space,
                    limits: &spec.limits,
                    attrs: &spec.attrs,
                    coords: &spec.coords,
                    subset: None,
                    into: into.as_deref(),
                    output: None,
                    batchsize: batchsize.or(chosen),
                    num_batches,
                    shuffle: None,
                    force,
                    adaptive: spec.adaptive.as_ref(),
                },
            )
        })
        .map_err(|e| crop_err(&e))?;
    Ok(crop.dir().to_path_buf())
}

/// The crop's status, as `xyz status --json` gives it.
#[pyfunction]
fn status(py: Python<'_>, dir: PathBuf) -> PyResult<String> {
    let status = py.detach(|| open(&dir).and_then(|c| c.status().map_err(|e| crop_err(&e))))?;
    serde_json::to_string(&status).map_err(|e| raise_text(Kind::Crop, e.to_string()))
}

/// The path of the crop's copy of its function.
#[pyfunction]
fn function_path(dir: PathBuf) -> PyResult<PathBuf> {
    Ok(open(&dir)?.function_path())
}

/// The ids of the batches not grown yet.
#[pyfunction]
fn missing(py: Python<'_>, dir: PathBuf) -> PyResult<Vec<u64>> {
    py.detach(|| open(&dir).and_then(|c| c.missing().map_err(|e| crop_err(&e))))
}

/// How long the lease of a grower choosing an adaptive study's next round holds.
const ROUND_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// Grows `batches` (ids; every missing one when `None`, and for an adaptive study's crop the
/// rounds after them until the study is finished) of the crop at `dir`, in this process or
/// through an executor; gives the batches, cases and failures grown.
#[pyfunction]
#[pyo3(signature = (dir, worker, batches=None, threads=0, executor=None, progress=None, on_cancel=None, raise_errors=false))]
#[allow(
    clippy::too_many_arguments,
    reason = "the keyword arguments of Crop.grow"
)]
fn grow(
    py: Python<'_>,
    dir: PathBuf,
    worker: PathBuf,
    batches: Option<Vec<u64>>,
    threads: usize,
    executor: Option<(Py<PyAny>, Py<PyAny>)>,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
    raise_errors: bool,
) -> PyResult<(u64, u64, u64)> {
    let crop = open(&dir)?;
    // An adaptive study's crop grows round by round until its study is finished.
    let rounds = batches.is_none() && crop.adaptive().is_some();
    let batches = match batches {
        Some(b) => b,
        None => py.detach(|| crop.missing()).map_err(|e| crop_err(&e))?,
    };
    let settings = Settings {
        worker,
        memory: None,
        deadline: None,
        isolate: true,
    };
    let loaded = py
        .detach(|| settings.loader().load_for_crop(&crop))
        .map_err(|e| raise(Kind::Function, &e))?;
    let mut total: u64 = batches
        .iter()
        .filter(|&&id| (1..=crop.plan().batches()).contains(&id))
        .map(|&id| crop.plan().cases_of(id).len() as u64)
        .sum();
    if let Some(study) = crop.study_status().filter(|_| rounds) {
        total = study.cases_left(total);
    }
    let engine = Engine {
        function: &*loaded.function,
        executor,
        threads,
    };
    let result = engine.drive(py, total, progress, on_cancel, |function, pool, control| {
        let tick = |n: u64| control.tick(n);
        let grow = crop
            .growing(function, pool)
            .raise_errors(raise_errors)
            .progress(&tick)
            .cancel(&control.cancel);
        if rounds {
            grow.missing(ROUND_LEASE)
        } else {
            grow.batches(&batches)
        }
    });
    match result? {
        Ok(r) => Ok((r.batches, r.cases, r.failed)),
        Err(xyz::CropError::Run(xyz::RunError::Cancelled)) => Err(interrupted()),
        Err(e) => Err(crop_err(&e)),
    }
}

/// Reaps the crop at `dir`: gives the dataset's parts and whether every batch was there.
/// A crop sown from a harvester merges into its file too; a complete crop is removed.
#[pyfunction]
#[pyo3(signature = (dir, allow_incomplete=false, keep=false))]
fn reap(
    py: Python<'_>,
    dir: PathBuf,
    allow_incomplete: bool,
    keep: bool,
) -> PyResult<(Py<PyDict>, bool)> {
    let crop = open(&dir)?;
    let reaped = py
        .detach(|| crop.reap(allow_incomplete))
        .map_err(|e| crop_err(&e))?;
    let (dataset, reaped) = reaped.split();
    let complete = reaped.missing.is_empty() && reaped.bad.is_empty();
    if let Some(into) = crop.merges_into().map(Path::to_path_buf) {
        let layout = crop.layout();
        py.detach(|| -> Result<(), xyz::output::SinkError> {
            let dest = Sink::merge_into(&into, Conflicts::Refuse, Encoding::default(), |_| {})?;
            dest.check_holds(&layout)?;
            match dest.harvest(&dataset)? {
                Some(mut harvest) => {
                    harvest.put_dataset(&dataset);
                    dest.write_merged(harvest)?;
                }
                None => dest.write(&dataset)?,
            }
            Ok(())
        })
        .map_err(|e| raise(Kind::Dataset, &e))?;
    }
    if complete && !keep {
        let retired = py.detach(|| crop.retire()).map_err(|e| crop_err(&e))?;
        if let Retirement::Retired(r) = retired {
            r.remove().map_err(|e| crop_err(&e))?;
        }
    }
    Ok((crate::frame::to_python(py, dataset)?, complete))
}

/// The dataset of the crop at `dir` as it stands, read without reaping: nothing is merged,
/// removed or locked, so growers go on undisturbed. Refuses a crop that is not complete unless
/// `partial`, which leaves the cells of batches not grown yet not evaluated.
#[pyfunction]
#[pyo3(signature = (dir, partial=false))]
fn dataset(py: Python<'_>, dir: PathBuf, partial: bool) -> PyResult<Py<PyDict>> {
    let crop = open(&dir)?;
    let reaped = py
        .detach(|| {
            if partial {
                crop.partial()
            } else {
                crop.reap(false)
            }
        })
        .map_err(|e| crop_err(&e))?;
    crate::frame::to_python(py, reaped.dataset)
}

/// Submits the growth of the crop at `dir` to a batch scheduler; gives the jobs submitted as
/// JSON (`dry_run`: the scripts that would be submitted, nothing written).
#[pyfunction]
#[pyo3(signature = (
    dir, scheduler, xyz, time=None, mem=None, cpus=1, throttle=None, workers=None,
    lease="2m".to_string(), options=Vec::new(), setup=Vec::new(), max_array=None, dry_run=false
))]
#[allow(
    clippy::too_many_arguments,
    reason = "the keyword arguments of Crop.submit"
)]
fn submit(
    py: Python<'_>,
    dir: PathBuf,
    scheduler: &str,
    xyz: PathBuf,
    time: Option<String>,
    mem: Option<&Bound<'_, PyAny>>,
    cpus: u64,
    throttle: Option<u64>,
    workers: Option<u64>,
    lease: String,
    options: Vec<String>,
    setup: Vec<String>,
    max_array: Option<u64>,
    dry_run: bool,
) -> PyResult<String> {
    let scheduler = scheduler::by_name(scheduler).ok_or_else(|| {
        let names: Vec<&str> = scheduler::SCHEDULERS.iter().map(|s| s.name()).collect();
        raise_text(
            Kind::Scheduler,
            format!(
                "scheduler: `{scheduler}` is not one of {}",
                names.join(", ")
            ),
        )
    })?;
    let mem_mib = crate::function::size_of(mem, "mem")?.map(|b| b.div_ceil(1 << 20));
    xyz::spec::parse_duration(&lease).map_err(|e| raise_text(Kind::Spec, format!("lease: {e}")))?;
    let crop = open(&dir)?;
    let mut grow_args = Vec::new();
    let mode = match workers {
        Some(n) => {
            grow_args.extend(["--lease".to_string(), lease]);
            scheduler::Mode::Workers(n)
        }
        None => scheduler::Mode::Array,
    };
    let submission = Submission {
        scheduler,
        mode,
        task: TaskSpec {
            throttle,
            time,
            mem_mib,
            cpus,
            options,
            setup,
            xyz,
            grow_args,
        },
        max_array,
    };
    let jobs = submission
        .plan(&crop)
        .map_err(|e| raise(Kind::Scheduler, &e))?;
    if dry_run {
        let scripts: Vec<_> = jobs
            .iter()
            .map(|j| serde_json::json!({"script_path": j.script_path, "script": j.script, "tasks": j.tasks}))
            .collect();
        return Ok(serde_json::Value::from(scripts).to_string());
    }
    let submitted = py
        .detach(|| submission.submit(&crop, &jobs))
        .map_err(|e| raise(Kind::Scheduler, &e))?;
    serde_json::to_string(&submitted).map_err(|e| raise_text(Kind::Scheduler, e.to_string()))
}

/// Adds the crop functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(locate, m)?)?;
    m.add_function(wrap_pyfunction!(sow, m)?)?;
    m.add_function(wrap_pyfunction!(status, m)?)?;
    m.add_function(wrap_pyfunction!(missing, m)?)?;
    m.add_function(wrap_pyfunction!(function_path, m)?)?;
    m.add_function(wrap_pyfunction!(grow, m)?)?;
    m.add_function(wrap_pyfunction!(reap, m)?)?;
    m.add_function(wrap_pyfunction!(dataset, m)?)?;
    m.add_function(wrap_pyfunction!(submit, m)?)?;
    Ok(())
}
