//! `Runner.run_*` and `Harvester.harvest_*`: a sweep evaluated in this process (its threads
//! and worker processes) or through an executor, into a dataset handed to Python or merged
//! into one on disk under the dataset's lock, as `xyz run` and `xyz run --into` do.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use xyz::abi::Signature;
use xyz::harvest::{Conflicts, Lacking, Policy};
use xyz::output::{Encoding, Sink};
use xyz::{BoundSpace, Dataset, RunError, Runner};

use crate::drive::Engine;
use crate::errors::{Kind, interrupted, raise, raise_text};
use crate::function::Function;

/// The summary of a run, for Python: cases evaluated, failures and what was skipped.
fn summary<'py>(
    py: Python<'py>,
    evaluated: u64,
    outcome: &xyz::RunOutcome<()>,
    lacking: &Lacking,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("evaluated", evaluated)?;
    d.set_item("failed", outcome.failures.len())?;
    d.set_item("skipped", lacking.skipped)?;
    d.set_item("skipped_failed", lacking.skipped_failed)?;
    d.set_item("seconds", outcome.elapsed.as_secs_f64())?;
    Ok(d)
}

/// The spec's space bound to the function's signature, refused if it would not fit in memory.
fn bind(spec: &xyz::Spec, sig: &Signature) -> PyResult<BoundSpace> {
    let bound = spec.space.bind(sig).map_err(|e| raise(Kind::Spec, &e))?;
    xyz::memory::check_held_whole(&bound, sig).map_err(|e| {
        raise_text(
            Kind::Spec,
            format!("{e}: sow it as a crop (xyz.Crop), or split the sweep"),
        )
    })?;
    Ok(bound)
}

/// Runs `job` with a runner on `engine`, driven from Python (progress, Ctrl-C), `total`
/// cases in all.
fn with_runner<T: Send>(
    py: Python<'_>,
    engine: &Engine<'_>,
    total: u64,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
    job: impl FnOnce(&Runner<'_>) -> Result<T, RunError> + Send,
) -> PyResult<T> {
    let result = engine.drive(py, total, progress, on_cancel, |function, pool, control| {
        let tick = |n: u64| control.tick(n);
        let mut runner = Runner::new(function, pool);
        runner.progress(&tick).cancel(&control.cancel);
        job(&runner)
    })?;
    match result {
        Ok(out) => Ok(out),
        Err(RunError::Cancelled) => Err(interrupted()),
        Err(e) => Err(raise(Kind::Function, &e)),
    }
}

/// Evaluates the sweep `spec` (a dict of spec fields) of `function` and gives the dataset's
/// parts and the run's summary.
#[pyfunction]
#[pyo3(signature = (function, spec, base, threads=0, executor=None, progress=None, on_cancel=None))]
#[allow(
    clippy::too_many_arguments,
    reason = "the keyword arguments of Runner.run_*"
)]
pub fn run(
    py: Python<'_>,
    function: &Function,
    spec: &Bound<'_, PyDict>,
    base: PathBuf,
    threads: usize,
    executor: Option<(Py<PyAny>, Py<PyAny>)>,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Py<PyDict>, Py<PyDict>)> {
    let spec = crate::spec::spec_of(spec, &base)?;
    let sig = function.loaded.function.signature().clone();
    let engine = Engine {
        function: &*function.loaded.function,
        executor,
        threads,
    };
    if let Some(study) = &spec.adaptive {
        return run_adaptive(py, &engine, &spec, study, progress, on_cancel);
    }
    let bound = bind(&spec, &sig)?;
    let layout = Dataset::sweep(
        &bound,
        &sig,
        Some(&function.loaded.sha256),
        &spec.attrs,
        &spec.coords,
    )
    .map_err(|e| raise_text(Kind::Spec, format!("coords: {e}")))?;
    let outcome = with_runner(py, &engine, bound.len(), progress, on_cancel, |runner| {
        runner.run(&bound)
    })?;
    let (mut dataset, outcome) = outcome.split();
    dataset.dress_as(&layout);
    let summary = summary(py, bound.len(), &outcome, &Lacking::all())?.unbind();
    Ok((crate::frame::to_python(py, dataset)?, summary))
}

/// The adaptive study `study` of `spec` on `engine`: its dataset's parts and the summary,
/// with the rounds and the loss reached.
fn run_adaptive(
    py: Python<'_>,
    engine: &Engine<'_>,
    spec: &xyz::Spec,
    study: &xyz::adaptive::Adaptive,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Py<PyDict>, Py<PyDict>)> {
    let (dataset, outcome, last) = learn(py, engine, spec, study, None, progress, on_cancel)?;
    let d = adaptive_summary(py, &dataset, &outcome, last, 0)?;
    Ok((crate::frame::to_python(py, dataset)?, d.unbind()))
}

/// The study `study` of `spec` on `engine`, after the points of `existing` (a dataset of the
/// same study) if any: the dataset, the run's outcome and its last round.
fn learn(
    py: Python<'_>,
    engine: &Engine<'_>,
    spec: &xyz::Spec,
    study: &xyz::adaptive::Adaptive,
    existing: Option<&Dataset>,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Dataset, xyz::RunOutcome<()>, Option<xyz::adaptive::Round>)> {
    use xyz::adaptive::{AdaptiveError, Round};
    let sig = engine.function.signature().clone();
    let total = study.n.unwrap_or(0);
    let mut last = None;
    let result = engine.drive(py, total, progress, on_cancel, |function, pool, control| {
        let tick = |n: u64| control.tick(n);
        let mut runner = Runner::new(function, pool);
        runner.progress(&tick).cancel(&control.cancel);
        xyz::adaptive::run_from(&runner, &sig, &spec.space, study, existing, |r: &Round| {
            last = Some(*r)
        })
    })?;
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(AdaptiveError::Run(RunError::Cancelled)) => return Err(interrupted()),
        Err(e @ AdaptiveError::Run(_)) => return Err(raise(Kind::Function, &e)),
        Err(e @ AdaptiveError::OtherStudy(_)) => return Err(raise(Kind::Dataset, &e)),
        Err(e) => return Err(raise(Kind::Spec, &e)),
    };
    let (mut dataset, outcome) = outcome.split();
    dataset.set_free_attrs(&spec.attrs);
    dataset
        .set_extra_coords(&spec.coords)
        .map_err(|e| raise_text(Kind::Spec, format!("coords: {e}")))?;
    Ok((dataset, outcome, last))
}

/// The summary of a study that had `had` points before: points evaluated, failures, rounds
/// and the loss reached.
fn adaptive_summary<'py>(
    py: Python<'py>,
    dataset: &Dataset,
    outcome: &xyz::RunOutcome<()>,
    last: Option<xyz::adaptive::Round>,
    had: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let added = (dataset.cells.len() - had) as u64;
    let d = summary(py, added, outcome, &Lacking::all())?;
    let loss = dataset
        .attrs
        .iter()
        .find(|(n, _)| n == xyz::adaptive::LOSS_ATTR)
        .and_then(|(_, v)| match v {
            xyz::Value::F64(l) => Some(*l),
            _ => None,
        })
        .unwrap_or(f64::INFINITY);
    d.set_item("points", dataset.cells.len())?;
    d.set_item("rounds", last.map_or(0, |r| r.number))?;
    d.set_item("loss", loss)?;
    d.set_item(
        "planning_seconds",
        last.map_or(0.0, |r| r.planning.as_secs_f64()),
    )?;
    Ok(d)
}

/// Adds points to the study's dataset at `into` (made if missing), under its lock: the rounds
/// on record asked again, then new ones; gives the summary.
#[allow(
    clippy::too_many_arguments,
    reason = "the keyword arguments of Harvester.harvest_adaptive"
)]
fn harvest_adaptive(
    py: Python<'_>,
    engine: &Engine<'_>,
    spec: &xyz::Spec,
    study: &xyz::adaptive::Adaptive,
    into: &std::path::Path,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
    waiting: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyDict>> {
    let dest = lock_into(py, into, Conflicts::Refuse, waiting)?;
    let existing = if dest.path().exists() {
        Some(
            py.detach(|| xyz::output::read(dest.path(), dest.format()))
                .map_err(|e| raise(Kind::Dataset, &e))?,
        )
    } else {
        None
    };
    let had = existing.as_ref().map_or(0, |d| d.cells.len());
    let (dataset, outcome, last) = learn(
        py,
        engine,
        spec,
        study,
        existing.as_ref(),
        progress,
        on_cancel,
    )?;
    dest.check_holds(&dataset)
        .map_err(|e| raise(Kind::Dataset, &e))?;
    let mut layout = dataset.clone();
    layout.cells.clear();
    match dest
        .harvest(&layout)
        .map_err(|e| raise(Kind::Dataset, &e))?
    {
        Some(mut harvest) => {
            harvest.put_dataset(&dataset);
            py.detach(|| dest.write_merged(harvest))
                .map_err(|e| raise(Kind::Dataset, &e))?;
        }
        None => py
            .detach(|| dest.write(&dataset))
            .map_err(|e| raise(Kind::Dataset, &e))?,
    }
    Ok(adaptive_summary(py, &dataset, &outcome, last, had)?.unbind())
}

/// The dataset at `into` to merge into, its lock taken (each holder that makes it wait told
/// to `waiting`).
fn lock_into(
    py: Python<'_>,
    into: &std::path::Path,
    conflicts: Conflicts,
    waiting: Option<&Bound<'_, PyAny>>,
) -> PyResult<Sink> {
    let mut told = Vec::new();
    let dest = py
        .detach(|| {
            Sink::merge_into(into, conflicts, Encoding::default(), |holder| {
                told.push(format!(
                    "waiting for pid {} on {} to finish merging into {}",
                    holder.pid,
                    holder.host,
                    into.display()
                ));
            })
        })
        .map_err(|e| raise(Kind::Dataset, &e))?;
    if let Some(w) = waiting {
        for line in told {
            w.call1((line,))?;
        }
    }
    Ok(dest)
}

/// Merges the sweep `spec` of `function` into the dataset at `into` (made if missing),
/// evaluating only the cases it lacks unless `recompute`; gives the run's summary.
#[pyfunction]
#[pyo3(signature = (
    function, spec, base, into, threads=0, executor=None, progress=None, on_cancel=None,
    recompute=false, retry_failed=false, overwrite=false, keep_existing=false, waiting=None
))]
#[allow(
    clippy::too_many_arguments,
    reason = "the keyword arguments of Harvester.harvest_*"
)]
pub fn harvest(
    py: Python<'_>,
    function: &Function,
    spec: &Bound<'_, PyDict>,
    base: PathBuf,
    into: PathBuf,
    threads: usize,
    executor: Option<(Py<PyAny>, Py<PyAny>)>,
    progress: Option<&Bound<'_, PyAny>>,
    on_cancel: Option<&Bound<'_, PyAny>>,
    recompute: bool,
    retry_failed: bool,
    overwrite: bool,
    keep_existing: bool,
    waiting: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyDict>> {
    let spec = crate::spec::spec_of(spec, &base)?;
    let sig = function.loaded.function.signature().clone();
    let sha = function.loaded.sha256.clone();
    let engine = Engine {
        function: &*function.loaded.function,
        executor,
        threads,
    };
    if let Some(study) = &spec.adaptive {
        return harvest_adaptive(
            py, &engine, &spec, study, &into, progress, on_cancel, waiting,
        );
    }
    let bound = bind(&spec, &sig)?;
    let layout = Dataset::sweep(&bound, &sig, Some(&sha), &spec.attrs, &spec.coords)
        .map_err(|e| raise_text(Kind::Spec, format!("coords: {e}")))?;
    let conflicts = if overwrite {
        Conflicts::Overwrite
    } else if keep_existing {
        Conflicts::KeepExisting
    } else {
        Conflicts::Refuse
    };
    let dest = lock_into(py, &into, conflicts, waiting)?;
    dest.check_holds(&layout)
        .map_err(|e| raise(Kind::Dataset, &e))?;
    let Some(harvest) = dest
        .harvest(&layout)
        .map_err(|e| raise(Kind::Dataset, &e))?
    else {
        // No dataset there yet: the whole sweep, written as the first.
        let outcome = with_runner(py, &engine, bound.len(), progress, on_cancel, |runner| {
            runner.run(&bound)
        })?;
        let (mut dataset, outcome) = outcome.split();
        dataset.dress_as(&layout);
        py.detach(|| dest.write(&dataset))
            .map_err(|e| raise(Kind::Dataset, &e))?;
        return Ok(summary(py, bound.len(), &outcome, &Lacking::all())?.unbind());
    };
    let policy = Policy {
        recompute: recompute || overwrite,
        retry_failed,
    };
    let lacking = harvest.lacking(&bound, Some(&sha), policy).map_err(|e| {
        raise_text(
            Kind::Dataset,
            format!(
                "{} {e}; recompute=True evaluates every case (cells that then differ need \
                 overwrite=True or keep_existing=True)",
                into.display()
            ),
        )
    })?;
    let todo = lacking.todo.clone();
    let outcome = with_runner(
        py,
        &engine,
        lacking.count(bound.len()),
        progress,
        on_cancel,
        |runner| match &todo {
            None => runner.run_into(&bound, harvest),
            Some(todo) => runner.run_cases_into(&bound, todo, harvest),
        },
    )?;
    let (harvest, outcome) = outcome.split();
    py.detach(|| dest.write_merged(harvest))
        .map_err(|e| raise(Kind::Dataset, &e))?;
    let evaluated = lacking.count(bound.len());
    Ok(summary(py, evaluated, &outcome, &lacking)?.unbind())
}

/// Reads the dataset at `path` (any format xyz writes) and gives its parts.
#[pyfunction]
pub fn read(py: Python<'_>, path: PathBuf) -> PyResult<Py<PyDict>> {
    let format = xyz::Format::from_path(&path).ok_or_else(|| {
        raise_text(
            Kind::Dataset,
            format!(
                "{}: not a dataset xyz reads (its extension must be one of {})",
                path.display(),
                xyz::Format::extensions(|_| true)
            ),
        )
    })?;
    let dataset = py
        .detach(|| xyz::output::read(&path, format))
        .map_err(|e| raise(Kind::Dataset, &e))?;
    crate::frame::to_python(py, dataset)
}
