//! Executors decide where and how many workers evaluate the tasks of a run.
//!
//! The runner splits a run into tasks (contiguous ranges of cases) and asks an [`Executor`] to
//! run them. The executor starts its workers, each made once by `make_worker` and owning its
//! own state (a function instance, buffers), and hands every task index to exactly one of them
//! until all are done or a worker says [`Flow::Stop`]. [`Sequential`] runs one worker on the
//! calling thread; [`RayonPool`] one per thread of a rayon pool. Implement the trait to run
//! tasks elsewhere.

mod rayon;
mod sequential;

pub use self::rayon::RayonPool;
pub use self::sequential::Sequential;

/// Whether a worker wants more tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop the whole run: hand out no more tasks.
    Stop,
}

/// A worker's state and the code that runs one task with it.
pub trait TaskWorker {
    /// Runs task `task`.
    fn run(&mut self, task: usize) -> Flow;
}

/// Makes one worker. Called once per worker the executor starts, on the worker's own thread.
pub type MakeWorker<'w> = dyn Fn() -> Box<dyn TaskWorker + 'w> + Sync + 'w;

/// Runs the tasks of a run over some number of workers.
pub trait Executor: Send + Sync {
    /// How many workers run at once.
    fn workers(&self) -> usize;

    /// Runs tasks `0..tasks`, each exactly once unless a worker stops the run, and returns when
    /// every worker has finished.
    fn execute<'w>(&self, tasks: usize, make_worker: &MakeWorker<'w>);
}

/// The executor for `threads` workers: [`Sequential`] for one, a [`RayonPool`] for more
/// (`0` means one per logical core).
pub fn with_threads(threads: usize) -> Result<Box<dyn Executor>, ExecutorError> {
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    if threads == 1 {
        Ok(Box::new(Sequential))
    } else {
        Ok(Box::new(RayonPool::new(threads)?))
    }
}

/// An executor that could not start.
#[derive(Debug, thiserror::Error)]
#[error("could not start a pool of {threads} threads")]
pub struct ExecutorError {
    /// The number of threads asked for.
    pub threads: usize,
    /// Why.
    #[source]
    pub source: ::rayon::ThreadPoolBuildError,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Recorder<'a>(&'a Mutex<Vec<usize>>, Option<usize>);

    impl TaskWorker for Recorder<'_> {
        fn run(&mut self, task: usize) -> Flow {
            self.0.lock().unwrap().push(task);
            if Some(task) == self.1 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        }
    }

    fn run_all(exec: &dyn Executor, tasks: usize, stop_at: Option<usize>) -> Vec<usize> {
        let seen = Mutex::new(Vec::new());
        let make = || Box::new(Recorder(&seen, stop_at)) as Box<dyn TaskWorker + '_>;
        exec.execute(tasks, &make);
        let mut v = seen.into_inner().unwrap();
        v.sort();
        v
    }

    #[test]
    fn every_task_runs_once() {
        for exec in [with_threads(1).unwrap(), with_threads(3).unwrap()] {
            assert_eq!(run_all(&*exec, 100, None), (0..100).collect::<Vec<_>>());
            assert_eq!(run_all(&*exec, 0, None), Vec::<usize>::new());
        }
    }

    #[test]
    fn stop_ends_the_run_early() {
        assert_eq!(
            run_all(&Sequential, 100, Some(9)),
            (0..10).collect::<Vec<_>>()
        );
        let ran = run_all(&RayonPool::new(2).unwrap(), 10_000, Some(5));
        assert!(ran.len() < 10_000, "{} tasks ran", ran.len());
    }
}
