//! One worker on the calling thread.

use super::{Executor, Flow, MakeWorker};

/// Runs every task in order on the calling thread, with one worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sequential;

impl Executor for Sequential {
    fn workers(&self) -> usize {
        1
    }

    fn execute<'w>(&self, tasks: usize, make_worker: &MakeWorker<'w>) {
        if tasks == 0 {
            return;
        }
        let mut worker = make_worker();
        for task in 0..tasks {
            if worker.run(task) == Flow::Stop {
                break;
            }
        }
    }
}
