//! One worker per thread of a rayon pool.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{Executor, ExecutorError, Flow, MakeWorker};

/// Runs tasks on a pool of threads, each with its own worker, which pull task indices in
/// order from a shared counter (so early tasks finish first and progress is smooth).
#[derive(Debug)]
pub struct RayonPool {
    pool: rayon::ThreadPool,
}

impl RayonPool {
    /// A pool of `threads` threads (at least one).
    pub fn new(threads: usize) -> Result<RayonPool, ExecutorError> {
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("xyz-worker-{i}"))
            .build()
            .map_err(|source| ExecutorError { threads, source })?;
        Ok(RayonPool { pool })
    }
}

impl Executor for RayonPool {
    fn workers(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn execute<'w>(&self, tasks: usize, make_worker: &MakeWorker<'w>) {
        if tasks == 0 {
            return;
        }
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let workers = self.workers().min(tasks);
        self.pool.broadcast(|ctx| {
            if ctx.index() >= workers {
                return;
            }
            let mut worker = make_worker();
            while !stop.load(Ordering::Relaxed) {
                let task = next.fetch_add(1, Ordering::Relaxed);
                if task >= tasks {
                    break;
                }
                if worker.run(task) == Flow::Stop {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        });
    }
}
