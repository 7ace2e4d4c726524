//! The runner evaluates a whole space in-process and assembles the dataset.
//!
//! It splits the cases into tasks (contiguous ranges), has the executor's workers evaluate them
//! in chunks whose size adapts to how long a call takes, and stores each chunk's outputs in the
//! dataset as it arrives. When a call traps, the worker throws its instance away and re-runs
//! that chunk case by case in fresh instances, so only the failing cases fail; each is recorded
//! with its arguments and message.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::dataset::{Dataset, Store, Window, error_text};
use crate::executor::{Executor, Flow, TaskWorker};
use crate::function::{Function, Instance, InstantiateError};
use crate::space::{BoundSpace, CaseSet};
use crate::value::{Columns, EvalOutput, FailureKind, Value};

/// A case that failed, with what it was called with.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseFailure {
    /// The case's index in the space.
    pub case: u64,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The function's or the runtime's message.
    pub message: String,
    /// The case's arguments, in signature order.
    #[serde(serialize_with = "ser_args")]
    pub args: Vec<(String, Value)>,
}

fn ser_args<S: serde::Serializer>(args: &[(String, Value)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(args.len()))?;
    for (k, v) in args {
        map.serialize_entry(k, &v.to_json())?;
    }
    map.end()
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome<S = Dataset> {
    /// The dataset, where failed cases are missing cells, or the store given to
    /// [`Runner::run_into`].
    pub dataset: S,
    /// Every failed case, in case order.
    pub failures: Vec<CaseFailure>,
    /// Wall time of the evaluation.
    pub elapsed: Duration,
}

impl<S> RunOutcome<S> {
    /// Splits off where the results went, leaving the rest of the outcome.
    pub fn split(self) -> (S, RunOutcome<()>) {
        let RunOutcome {
            dataset,
            failures,
            elapsed,
        } = self;
        let rest = RunOutcome {
            dataset: (),
            failures,
            elapsed,
        };
        (dataset, rest)
    }
}

/// A run that could not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A worker could not instantiate the function.
    #[error(transparent)]
    Instantiate(#[from] InstantiateError),
    /// The run was cancelled ([`Runner::cancel`]) before every case was evaluated.
    #[error("cancelled")]
    Cancelled,
}

/// Evaluates a space with a function on an executor. See the [module docs](self).
///
/// ```
/// use xyz_core::{ClosureFunction, ComboValues, ParamSpace, Runner, Sequential, Value};
///
/// let sig = "mul(a: i64, b: i64) -> (p: i64)".parse()?;
/// let mul = ClosureFunction::new(sig, |args| match args {
///     [Value::I64(a), Value::I64(b)] => Ok(vec![Value::I64(a * b)]),
///     _ => unreachable!(),
/// });
/// let mut space = ParamSpace::new();
/// space.combo("a", ComboValues::List(vec![Value::I64(2), Value::I64(3)]));
/// space.combo("b", ComboValues::Range { start: Value::I64(0), stop: Value::I64(4), step: Value::I64(1) });
/// let bound = space.bind(xyz_core::Function::signature(&mul))?;
/// let outcome = Runner::new(&mul, &Sequential).run(&bound)?;
/// assert_eq!(outcome.dataset.shape(), vec![2, 4]);
/// assert_eq!(outcome.dataset.vars[0].data, xyz_core::Column::I64(vec![0, 2, 4, 6, 0, 3, 6, 9]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runner<'a> {
    function: &'a dyn Function,
    executor: &'a dyn Executor,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
    stop_on_failure: bool,
    cancel: Option<&'a AtomicBool>,
}

/// Calls of at most this long let the chunk grow.
const GROW_BELOW: Duration = Duration::from_millis(5);
/// Calls of at least this long make the chunk shrink.
const SHRINK_ABOVE: Duration = Duration::from_millis(100);
/// The largest chunk one call evaluates.
const MAX_CHUNK: usize = 8192;
/// How much larger a chunk is tried when calls take neither long nor short.
const PROBE_STEP: usize = 8;
/// A larger chunk tried is kept when its cases cost at most this part of what they did.
const PROBE_GAIN: f64 = 0.75;
/// Calls between two tries of a larger chunk that did not pay.
const PROBE_AGAIN: u32 = 16;
/// The first chunk a worker tries.
const FIRST_CHUNK: usize = 16;

/// How a worker's chunk size follows what its calls cost.
///
/// Calls of at most [`GROW_BELOW`] double the chunk, calls of at least [`SHRINK_ABOVE`] halve
/// it. Between the two, a chunk [`PROBE_STEP`] times larger is tried now and then, and kept if
/// its cases cost clearly less each: so calls with a fixed cost of their own get chunks large
/// enough to pay for it. (`srun` passes a message of a few KiB on in about 40 ms, and one of
/// 100 KiB in 2 ms, so doubling alone would never find the way out.)
#[derive(Debug, Clone)]
struct Chunking {
    chunk: usize,
    /// The chunk before a doubling being tried, and what a case cost with it.
    trying: Option<(usize, f64)>,
    /// Calls to go before the next try.
    cooldown: u32,
}

impl Chunking {
    fn new() -> Chunking {
        Chunking {
            chunk: FIRST_CHUNK,
            trying: None,
            cooldown: 0,
        }
    }

    /// A call of `n` cases took `took`.
    fn called(&mut self, n: usize, took: Duration) {
        if n < self.chunk {
            // The end of a task: too small to judge by.
            return;
        }
        let per_case = took.as_secs_f64() / n as f64;
        if let Some((before, cost)) = self.trying.take() {
            if per_case > cost * PROBE_GAIN {
                self.chunk = before;
                self.cooldown = PROBE_AGAIN;
            }
            return;
        }
        if took <= GROW_BELOW && self.chunk < MAX_CHUNK {
            self.chunk *= 2;
        } else if took >= SHRINK_ABOVE && self.chunk > 1 {
            self.chunk /= 2;
        } else if self.cooldown > 0 {
            self.cooldown -= 1;
        } else if self.chunk < MAX_CHUNK && took < SHRINK_ABOVE {
            // At most eight times a call of less than SHRINK_ABOVE.
            self.trying = Some((self.chunk, per_case));
            self.chunk = (self.chunk * PROBE_STEP).min(MAX_CHUNK);
        }
    }

    /// A call trapped: smaller chunks from now on.
    fn trapped(&mut self) {
        self.trying = None;
        self.chunk = 1.max(self.chunk / 2);
    }
}

impl<'a> Runner<'a> {
    /// A runner for `function` on `executor`.
    pub fn new(function: &'a dyn Function, executor: &'a dyn Executor) -> Runner<'a> {
        Runner {
            function,
            executor,
            progress: None,
            stop_on_failure: false,
            cancel: None,
        }
    }

    /// The function it evaluates.
    pub fn function(&self) -> &'a dyn Function {
        self.function
    }

    /// Calls `progress(n)` each time `n` more cases are done (default: none).
    pub fn progress(&mut self, progress: &'a (dyn Fn(u64) + Sync)) -> &mut Self {
        self.progress = Some(progress);
        self
    }

    /// Stops handing out work after the first failed case (default: `false`, every case runs).
    pub fn stop_on_failure(&mut self, yes: bool) -> &mut Self {
        self.stop_on_failure = yes;
        self
    }

    /// Stops handing out work once `cancel` is set: the chunks being evaluated end, and the
    /// run returns [`RunError::Cancelled`] (a Ctrl-C, a notebook's interrupt).
    pub fn cancel(&mut self, cancel: &'a AtomicBool) -> &mut Self {
        self.cancel = Some(cancel);
        self
    }

    /// Evaluates every case of `space`.
    pub fn run(&self, space: &BoundSpace) -> Result<RunOutcome, RunError> {
        let sig = self.function.signature();
        let dataset = Dataset::empty(space, sig, self.function.sha256());
        self.run_into(space, dataset)
    }

    /// Evaluates every case of `space`, storing the outputs chunk by chunk in `store`: a
    /// dataset, or a [`Harvest`](crate::harvest::Harvest) merging them into one already there,
    /// so no second copy of the results is held.
    pub fn run_into<S: Store + Send>(
        &self,
        space: &BoundSpace,
        store: S,
    ) -> Result<RunOutcome<S>, RunError> {
        self.run_some_into(space, CaseSet::Range(0, space.len()), store)
    }

    /// Like [`run_into`](Self::run_into), for the cases `cases` of `space` only (ascending):
    /// a merge that evaluates just what the dataset merged into lacks.
    pub fn run_cases_into<S: Store + Send>(
        &self,
        space: &BoundSpace,
        cases: &[u64],
        store: S,
    ) -> Result<RunOutcome<S>, RunError> {
        self.run_some_into(space, CaseSet::List(cases), store)
    }

    /// Evaluates every case of `space` and hands the dataset, laid out as `layout`, to `sink`
    /// a window of (at most) `window` cells of its grid at a time, in grid order, each as soon
    /// as all its cases are done: the dataset is never held whole, only the few windows the
    /// workers are filling and the one `sink` is writing. The cells no case reaches are
    /// `Absent`. `sink` is called on this thread while the workers go on. A space not [in grid
    /// order](BoundSpace::in_grid_order) is evaluated whole first. The first error of `sink`
    /// stops the run and is returned.
    pub fn run_windows<E: From<RunError>>(
        &self,
        space: &BoundSpace,
        layout: &Dataset,
        window: usize,
        mut sink: impl FnMut(&Window) -> Result<(), E>,
    ) -> Result<RunOutcome<()>, E> {
        let window = window.max(1) as u64;
        if !space.in_grid_order() {
            let (dataset, outcome) = self.run(space)?.split();
            let total = space.cells();
            for first in (0..total).step_by(window as usize) {
                sink(&dataset.window(first as usize, window.min(total - first) as usize))?;
            }
            return Ok(outcome);
        }
        let started = Instant::now();
        let n = space.len();
        let workers = self.executor.workers().max(1) as u64;
        // No task larger than a window, so the windows open at once are about as many as the
        // workers.
        let task_size = (n / (workers * 16)).clamp(1, 1 << 16).min(window);
        let tasks = n.div_ceil(task_size) as usize;
        let shared = Shared::new(self, space);
        // Two windows may wait for the sink: the workers fill the next meanwhile.
        let (send, windows) = std::sync::mpsc::sync_channel(2);
        let filling = Mutex::new(crate::dataset::Windows::new(space, layout, window, send));
        let failures = Mutex::new(Vec::new());
        let sunk = std::thread::scope(|scope| {
            let workers = scope.spawn(|| {
                let make = || {
                    Box::new(RunWorker {
                        eval: ChunkEval::new(&shared),
                        task_size,
                        todo: CaseSet::Range(0, n),
                        dataset: &filling,
                        failures: &failures,
                    }) as Box<dyn TaskWorker + '_>
                };
                self.executor.execute(tasks, &make);
                let mut filling = filling.lock().unwrap_or_else(|e| e.into_inner());
                let complete = shared
                    .error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_none();
                if complete && !shared.halt.load(Ordering::Relaxed) {
                    filling.finish();
                }
                filling.close();
            });
            let mut sunk = Ok(());
            for part in &windows {
                if let Err(e) = sink(&part) {
                    // The workers stop at their next chunk; a window they hand on meanwhile
                    // finds no one to take it.
                    shared.halt.store(true, Ordering::Relaxed);
                    sunk = Err(e);
                    break;
                }
            }
            drop(windows);
            if let Err(panic) = workers.join() {
                std::panic::resume_unwind(panic);
            }
            sunk
        });
        if let Some(err) = shared.error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(err.into());
        }
        sunk?;
        let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
        failures.sort_by_key(|f| f.case);
        Ok(RunOutcome {
            dataset: (),
            failures,
            elapsed: started.elapsed(),
        })
    }

    fn run_some_into<S: Store + Send>(
        &self,
        space: &BoundSpace,
        todo: CaseSet<'_>,
        store: S,
    ) -> Result<RunOutcome<S>, RunError> {
        let started = Instant::now();
        let n = todo.len() as u64;
        let workers = self.executor.workers().max(1) as u64;
        let task_size = (n / (workers * 16)).clamp(1, 1 << 16);
        let tasks = n.div_ceil(task_size) as usize;
        let shared = Shared::new(self, space);
        let dataset = Mutex::new(store);
        let failures = Mutex::new(Vec::new());
        let make = || {
            Box::new(RunWorker {
                eval: ChunkEval::new(&shared),
                task_size,
                todo,
                dataset: &dataset,
                failures: &failures,
            }) as Box<dyn TaskWorker + '_>
        };
        self.executor.execute(tasks, &make);
        if let Some(err) = shared.error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(err);
        }
        let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
        failures.sort_by_key(|f| f.case);
        Ok(RunOutcome {
            dataset: dataset.into_inner().unwrap_or_else(|e| e.into_inner()),
            failures,
            elapsed: started.elapsed(),
        })
    }

    /// Evaluates `batches` of the cases of `space`, each by one worker, and hands each
    /// finished batch to `done` (on the worker's thread) with its index in `batches`. Batches
    /// are handed out in order. When `done` returns an error the run stops: no more batches
    /// start, and the first such error is returned. A batch interrupted by
    /// [`stop_on_failure`](Self::stop_on_failure) is not handed to `done`.
    pub fn run_batches<E: Send>(
        &self,
        space: &BoundSpace,
        batches: &[CaseSet<'_>],
        done: &(dyn Fn(usize, BatchOutput) -> Result<(), E> + Sync),
    ) -> Result<(), BatchRunError<E>> {
        let shared = Shared::new(self, space);
        let sink_error = Mutex::new(None);
        let make = || {
            Box::new(BatchWorker {
                eval: ChunkEval::new(&shared),
                batches,
                done,
                error: &sink_error,
            }) as Box<dyn TaskWorker + '_>
        };
        self.executor.execute(batches.len(), &make);
        if let Some(err) = shared.error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(BatchRunError::Run(err));
        }
        match sink_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(BatchRunError::Done(e)),
            None => Ok(()),
        }
    }
}

/// What one batch produced, in the batch's case order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutput {
    /// Number of cases.
    pub n: usize,
    /// One column per output, `n * elements` values, case-major; a failed case's values are
    /// whatever the function left (zeroes, as a rule) and must be treated as missing.
    pub cols: Vec<crate::value::Column>,
    /// The failed cases: position in the batch, kind and message, in position order.
    pub failures: Vec<(usize, FailureKind, String)>,
    /// How long the batch took.
    pub took: Duration,
}

/// Why [`Runner::run_batches`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum BatchRunError<E> {
    /// The run could not go on.
    #[error(transparent)]
    Run(RunError),
    /// The `done` callback returned an error.
    #[error("a finished batch could not be kept")]
    Done(E),
}

struct Shared<'a> {
    function: &'a dyn Function,
    space: &'a BoundSpace,
    error: Mutex<Option<RunError>>,
    progress: Option<&'a (dyn Fn(u64) + Sync)>,
    stop_on_failure: bool,
    cancel: Option<&'a AtomicBool>,
    /// Set when what the results go to can take no more ([`Runner::run_windows`]'s sink
    /// failed): the workers stop at their next chunk.
    halt: AtomicBool,
}

impl<'a> Shared<'a> {
    fn new(runner: &Runner<'a>, space: &'a BoundSpace) -> Shared<'a> {
        Shared {
            function: runner.function,
            space,
            error: Mutex::new(None),
            progress: runner.progress,
            stop_on_failure: runner.stop_on_failure,
            cancel: runner.cancel,
            halt: AtomicBool::new(false),
        }
    }
}

/// The run must stop: an instance could not be made, or a case failed under `stop_on_failure`.
struct Stop;

/// The kind of a failure reported by the function itself: a panic if its message says so.
fn kind_of(kind: FailureKind, message: &str) -> FailureKind {
    if kind == FailureKind::Error && message.starts_with("panicked") {
        FailureKind::Panic
    } else {
        kind
    }
}

/// One worker's instance and buffers, evaluating chunks of a [`CaseSet`] with adaptive sizes
/// and re-running a trapped chunk case by case.
struct ChunkEval<'a> {
    shared: &'a Shared<'a>,
    instance: Option<Box<dyn Instance>>,
    args: Columns,
    out: EvalOutput,
    chunking: Chunking,
}

impl<'a> ChunkEval<'a> {
    fn new(shared: &'a Shared<'a>) -> ChunkEval<'a> {
        ChunkEval {
            shared,
            instance: None,
            args: Columns::default(),
            out: EvalOutput::default(),
            chunking: Chunking::new(),
        }
    }

    fn instance(&mut self) -> Result<(), Stop> {
        if self.instance.is_none() {
            match self.shared.function.instantiate() {
                Ok(i) => self.instance = Some(i),
                Err(e) => {
                    let mut slot = self.shared.error.lock().unwrap_or_else(|e| e.into_inner());
                    slot.get_or_insert(RunError::Instantiate(e));
                    return Err(Stop);
                }
            }
        }
        Ok(())
    }

    /// Evaluates `cases`, handing each evaluated chunk to `commit` with its first position and
    /// the kind of its failures.
    fn eval(
        &mut self,
        cases: CaseSet<'_>,
        commit: &mut dyn FnMut(usize, &EvalOutput, FailureKind),
    ) -> Result<(), Stop> {
        let (mut at, to) = (0, cases.len());
        while at < to {
            let n = self.chunking.chunk.min(to - at);
            self.eval_chunk(cases, at, n, commit)?;
            at += n;
        }
        Ok(())
    }

    fn eval_chunk(
        &mut self,
        cases: CaseSet<'_>,
        at: usize,
        n: usize,
        commit: &mut dyn FnMut(usize, &EvalOutput, FailureKind),
    ) -> Result<(), Stop> {
        if self.shared.halt.load(Ordering::Relaxed) {
            return Err(Stop);
        }
        if self
            .shared
            .cancel
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            let mut slot = self.shared.error.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert(RunError::Cancelled);
            return Err(Stop);
        }
        let sig = self.shared.function.signature();
        self.shared.space.fill_set(cases, at, n, &mut self.args);
        self.out.reset(&sig.outputs, n);
        self.instance()?;
        let began = Instant::now();
        let instance = self.instance.as_mut().expect("made above");
        let result = instance.eval(&self.args, &mut self.out);
        let kind = match result {
            Ok(()) => {
                self.chunking.called(n, began.elapsed());
                FailureKind::Error
            }
            Err(trap) => {
                self.instance = None;
                if n > 1 {
                    self.chunking.trapped();
                    for i in 0..n {
                        self.eval_chunk(cases, at + i, 1, commit)?;
                    }
                    return Ok(());
                }
                self.out.reset(&sig.outputs, 1);
                self.out.errors.push((0, trap.message));
                trap.kind
            }
        };
        commit(at, &self.out, kind);
        if let Some(progress) = self.shared.progress {
            progress(n as u64);
        }
        if self.shared.stop_on_failure && !self.out.errors.is_empty() {
            return Err(Stop);
        }
        Ok(())
    }
}

/// A worker of [`Runner::run`]: tasks are ranges of cases, stored in one dataset.
struct RunWorker<'a, S> {
    eval: ChunkEval<'a>,
    task_size: u64,
    /// The cases to evaluate.
    todo: CaseSet<'a>,
    dataset: &'a Mutex<S>,
    failures: &'a Mutex<Vec<CaseFailure>>,
}

impl<S: Store + Send> TaskWorker for RunWorker<'_, S> {
    fn run(&mut self, task: usize) -> Flow {
        let shared = self.eval.shared;
        let start = task as u64 * self.task_size;
        let total = self.todo.len() as u64;
        let end = (start + self.task_size).min(total);
        // Positions `a..b` of the cases to evaluate, as a case set.
        let todo = self.todo;
        let part = |a: u64, b: u64| match todo {
            CaseSet::List(list) => CaseSet::List(&list[a as usize..b as usize]),
            CaseSet::Range(first, _) => CaseSet::Range(first + a, first + b),
        };
        let cases = part(start, end);
        let (dataset, failures) = (self.dataset, self.failures);
        let mut commit = |at: usize, out: &EvalOutput, kind: FailureKind| {
            let first = start + at as u64;
            let done = part(first, first + out.n as u64);
            let failed: Vec<crate::dataset::Failed> = out
                .errors
                .iter()
                .map(|(i, message)| (*i, error_text(kind_of(kind, message), message)))
                .collect();
            dataset
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .store_cases(shared.space, done, &out.cols, &failed);
            if !out.errors.is_empty() {
                let sig = shared.function.signature();
                let mut failures = failures.lock().unwrap_or_else(|e| e.into_inner());
                for (i, message) in &out.errors {
                    let case = done.case(*i);
                    failures.push(CaseFailure {
                        case,
                        kind: kind_of(kind, message),
                        message: message.clone(),
                        args: shared.space.case_args(case, sig),
                    });
                }
            }
        };
        match self.eval.eval(cases, &mut commit) {
            Ok(()) => Flow::Continue,
            Err(Stop) => Flow::Stop,
        }
    }
}

/// A worker of [`Runner::run_batches`]: one task per batch.
struct BatchWorker<'a, 'b, E> {
    eval: ChunkEval<'a>,
    batches: &'b [CaseSet<'b>],
    done: &'b (dyn Fn(usize, BatchOutput) -> Result<(), E> + Sync),
    error: &'b Mutex<Option<E>>,
}

impl<E> TaskWorker for BatchWorker<'_, '_, E> {
    fn run(&mut self, task: usize) -> Flow {
        let cases = self.batches[task];
        let outputs = &self.eval.shared.function.signature().outputs;
        let mut batch = BatchOutput {
            n: cases.len(),
            cols: outputs
                .iter()
                .map(|o| {
                    let mut c = crate::value::Column::new(o.ty);
                    c.reserve(cases.len() * o.elements());
                    c
                })
                .collect(),
            failures: Vec::new(),
            took: Duration::ZERO,
        };
        let began = Instant::now();
        let mut commit = |at: usize, out: &EvalOutput, kind: FailureKind| {
            for (dst, src) in batch.cols.iter_mut().zip(&out.cols) {
                dst.extend_from(src);
            }
            for (i, message) in &out.errors {
                batch
                    .failures
                    .push((at + i, kind_of(kind, message), message.clone()));
            }
        };
        if self.eval.eval(cases, &mut commit).is_err() {
            return Flow::Stop;
        }
        batch.took = began.elapsed();
        match (self.done)(task, batch) {
            Ok(()) => Flow::Continue,
            Err(e) => {
                self.error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
                Flow::Stop
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combo::ComboValues;
    use crate::dataset::CellState;
    use crate::executor::{RayonPool, Sequential};
    use crate::function::{ClosureFunction, Trap};
    use crate::space::ParamSpace;
    use crate::value::Column;

    fn ints(v: impl IntoIterator<Item = i64>) -> ComboValues {
        ComboValues::List(v.into_iter().map(Value::I64).collect())
    }

    fn div() -> ClosureFunction {
        ClosureFunction::new(
            "div(a: i64, b: i64) -> (q: i64, r: f64)".parse().unwrap(),
            |args| match args {
                [Value::I64(_), Value::I64(0)] => Err("division by zero".into()),
                [Value::I64(a), Value::I64(b)] => {
                    Ok(vec![Value::I64(a / b), Value::F64(*a as f64 / *b as f64)])
                }
                _ => unreachable!(),
            },
        )
    }

    #[test]
    fn failed_cases_are_missing_and_recorded_on_any_executor() {
        let f = div();
        let mut space = ParamSpace::new();
        space.combo("a", ints(0..300)).combo("b", ints(-2..3));
        let bound = space.bind(f.signature()).unwrap();
        for exec in [&Sequential as &dyn Executor, &RayonPool::new(2).unwrap()] {
            let out = Runner::new(&f, exec).run(&bound).unwrap();
            assert_eq!(out.failures.len(), 300);
            assert_eq!(out.failures[1].case, 7);
            assert_eq!(out.failures[1].message, "division by zero");
            assert_eq!(
                out.failures[1].args,
                vec![
                    ("a".to_string(), Value::I64(1)),
                    ("b".to_string(), Value::I64(0))
                ]
            );
            let Column::I64(q) = &out.dataset.vars[0].data else {
                panic!()
            };
            assert_eq!(q[7 * 5 + 4], 7 / 2);
            assert_eq!(q[7 * 5 + 2], crate::dataset::MISSING_I64);
            assert_eq!(out.dataset.cells[7 * 5 + 2], CellState::Failed);
            assert_eq!(out.dataset.counts(), (1200, 300, 0, 0));
        }
    }

    /// An instance that traps on any chunk holding a negative `a`, like a WASM guest that
    /// panics: the whole call is lost and the instance must be replaced.
    struct Trapping;
    struct TrappingInstance(bool);

    impl Function for Trapping {
        fn signature(&self) -> &xyz_abi::Signature {
            static SIG: std::sync::OnceLock<xyz_abi::Signature> = std::sync::OnceLock::new();
            SIG.get_or_init(|| "t(a: i64) -> (y: i64)".parse().unwrap())
        }
        fn sha256(&self) -> Option<&str> {
            Some("00")
        }
        fn instantiate(&self) -> Result<Box<dyn Instance>, InstantiateError> {
            Ok(Box::new(TrappingInstance(false)))
        }
    }

    impl Instance for TrappingInstance {
        fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
            assert!(!self.0, "an instance was used after it trapped");
            let Column::I64(a) = &args.cols[0] else {
                panic!()
            };
            if a.iter().any(|v| *v < 0) {
                self.0 = true;
                return Err(Trap {
                    kind: FailureKind::Panic,
                    message: "negative".into(),
                });
            }
            let Column::I64(y) = &mut out.cols[0] else {
                panic!()
            };
            for (y, a) in y.iter_mut().zip(a) {
                *y = a * 10;
            }
            Ok(())
        }
    }

    #[test]
    fn chunks_grow_until_a_calls_fixed_cost_is_paid_for() {
        let ms = Duration::from_millis;
        // Calls as through srun: 44 ms for a message of 1 to 64 KiB each way, 0.1 ms below
        // and 1 ms above; 1 µs a case on top.
        let mut c = Chunking::new();
        let cost = |n: usize| {
            let message = |bytes: usize| match bytes {
                ..1024 => Duration::from_micros(100),
                1024..65536 => ms(44),
                _ => ms(1),
            };
            // The request's three argument columns, the reply's one output.
            let fixed = message(n * 24) + message(n * 8);
            fixed + Duration::from_micros(n as u64)
        };
        for _ in 0..50 {
            let n = c.chunk;
            c.called(n, cost(n));
        }
        assert!(c.chunk >= 4096, "{c:?}");
        // Compute-bound calls, 1 ms a case: the chunk stays where calls take 5 to 100 ms,
        // a larger one tried now and then being given up.
        let mut c = Chunking::new();
        let mut sizes = Vec::new();
        for _ in 0..200 {
            let n = c.chunk;
            c.called(n, ms(n as u64));
            sizes.push(c.chunk);
        }
        let tries = sizes[20..].iter().filter(|&&n| n > 64).count();
        assert!(tries <= sizes.len() / 16, "{sizes:?}");
        assert!(
            sizes[20..].iter().all(|&n| (8..=128).contains(&n)),
            "{sizes:?}"
        );
        // Slow calls shrink the chunk to one case; the end of a task is not judged.
        let mut c = Chunking::new();
        for _ in 0..10 {
            let n = c.chunk;
            c.called(n, ms(500));
        }
        assert_eq!(c.chunk, 1);
        c.called(0, ms(0));
        assert_eq!(c.chunk, 1);
    }

    #[test]
    fn a_trap_fails_only_its_case() {
        let mut space = ParamSpace::new();
        space.combo(
            "a",
            ints((0..1000).map(|i| if i % 97 == 5 { -i } else { i })),
        );
        let bound = space.bind(Trapping.signature()).unwrap();
        let out = Runner::new(&Trapping, &RayonPool::new(2).unwrap())
            .run(&bound)
            .unwrap();
        let failed: Vec<u64> = out.failures.iter().map(|f| f.case).collect();
        let expected: Vec<u64> = (0..1000).filter(|i| i % 97 == 5).collect();
        assert_eq!(failed, expected);
        assert!(out.failures.iter().all(|f| f.kind == FailureKind::Panic));
        let Column::I64(y) = &out.dataset.vars[0].data else {
            panic!()
        };
        assert_eq!(y[6], 60);
        assert_eq!(out.dataset.attrs.last().unwrap().1, Value::Str("00".into()));
    }

    /// The windows `run_windows` hands on, put together, against `run`'s dataset.
    fn windows_of(bound: &BoundSpace, exec: &dyn Executor, size: usize) -> (Dataset, usize) {
        let f = div();
        let layout = Dataset::layout(bound, f.signature(), f.sha256());
        let mut whole = Dataset::empty(bound, f.signature(), f.sha256());
        whole.cells.fill(CellState::Absent);
        let mut seen = 0;
        let mut next = 0;
        let outcome = Runner::new(&f, exec)
            .run_windows(bound, &layout, size, |w: &Window| {
                assert_eq!(w.first, next, "in grid order");
                assert!(w.cells.len() <= size);
                next = w.end();
                seen += 1;
                for (i, cell) in w.cells.iter().enumerate() {
                    whole.cells[w.first + i] = *cell;
                }
                for (var, data) in whole.vars.iter_mut().zip(&w.data) {
                    var.data.copy_run(w.first, data, 0, w.cells.len());
                }
                for (at, e) in &w.errors {
                    whole.errors.insert(w.first + at, e.clone());
                }
                Ok::<(), RunError>(())
            })
            .unwrap();
        assert_eq!(next, bound.cells() as usize, "every cell handed on");
        assert_eq!(outcome.failures.len(), whole.counts().1 as usize);
        (whole, seen)
    }

    #[test]
    fn windows_put_together_are_the_dataset_run_gives() {
        let f = div();
        let pool = RayonPool::new(2).unwrap();
        // A grid, and explicit cases in grid order that leave cells unreached.
        let mut grid = ParamSpace::new();
        grid.combo("a", ints(0..300)).combo("b", ints(-2..3));
        let mut cases = ParamSpace::new();
        for a in [1, 5, 6, 40, 41, 299] {
            cases.case(vec![("a".into(), Value::I64(a))]);
        }
        cases.combo("b", ints(-2..3));
        for space in [grid, cases] {
            let bound = space.bind(f.signature()).unwrap();
            let run = Runner::new(&f, &pool).run(&bound).unwrap().dataset;
            for size in [1, 7, 64, 1500, 1 << 20] {
                for exec in [&Sequential as &dyn Executor, &pool] {
                    let (whole, seen) = windows_of(&bound, exec, size);
                    assert_eq!(seen, (bound.cells() as usize).div_ceil(size));
                    assert_eq!(whole.cells, run.cells, "window of {size}");
                    // Through Debug, where the NaNs of missing values compare equal.
                    let same = format!("{:?}", whole.vars) == format!("{:?}", run.vars);
                    assert!(same, "the values of windows of {size} differ");
                    assert_eq!(whole.errors, run.errors, "window of {size}");
                }
            }
        }
    }

    #[test]
    fn a_sink_that_fails_stops_the_run() {
        let f = div();
        let mut space = ParamSpace::new();
        space.combo("a", ints(0..200_000)).combo("b", ints(1..3));
        let bound = space.bind(f.signature()).unwrap();
        let layout = Dataset::layout(&bound, f.signature(), f.sha256());
        let done = std::sync::atomic::AtomicU64::new(0);
        let count = |n: u64| {
            done.fetch_add(n, Ordering::Relaxed);
        };
        let mut runner = Runner::new(&f, &Sequential);
        runner.progress(&count);
        #[derive(Debug)]
        enum Sunk {
            Run,
            Full,
        }
        impl From<RunError> for Sunk {
            fn from(_: RunError) -> Sunk {
                Sunk::Run
            }
        }
        let mut calls = 0;
        let err = runner
            .run_windows(&bound, &layout, 1000, |_: &Window| {
                calls += 1;
                if calls == 3 {
                    return Err(Sunk::Full);
                }
                Ok(())
            })
            .unwrap_err();
        assert!(matches!(err, Sunk::Full), "{err:?}");
        assert_eq!(calls, 3);
        // A few windows ahead at most, not the 400 000 cases.
        assert!(done.load(Ordering::Relaxed) < 100_000, "{done:?}");
    }

    #[test]
    fn windows_of_a_run_stopped_at_a_failure_hand_on_every_cell() {
        let f = div();
        let mut space = ParamSpace::new();
        space.combo("b", ints([0, 1])).combo("a", ints(0..100_000));
        let bound = space.bind(f.signature()).unwrap();
        let layout = Dataset::layout(&bound, f.signature(), f.sha256());
        let mut runner = Runner::new(&f, &Sequential);
        runner.stop_on_failure(true);
        let (mut cells, mut states) = (0, [0u64; 4]);
        runner
            .run_windows(&bound, &layout, 4096, |w: &Window| {
                assert_eq!(w.first, cells, "in order");
                cells += w.cells.len();
                for c in &w.cells {
                    states[c.status() as usize] += 1;
                }
                Ok::<(), RunError>(())
            })
            .unwrap();
        assert_eq!(cells, 200_000, "every cell handed on");
        // Ok, failed, not evaluated: the cases after the stop are not evaluated, and no cell
        // of the space is marked not reached.
        assert!(states[1] > 0 && states[2] > 0, "{states:?}");
        assert_eq!(states[3], 0, "{states:?}");
    }

    #[test]
    fn stop_on_failure_stops_early() {
        let f = div();
        let mut space = ParamSpace::new();
        space.combo("b", ints([0, 1])).combo("a", ints(0..100_000));
        let bound = space.bind(f.signature()).unwrap();
        let out = Runner::new(&f, &Sequential)
            .stop_on_failure(true)
            .run(&bound)
            .unwrap();
        assert!(!out.failures.is_empty());
        assert!(out.dataset.counts().2 > 0, "some cases were never run");
    }
}
