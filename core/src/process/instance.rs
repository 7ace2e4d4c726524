//! An instance of a [`ProcessFunction`](super::ProcessFunction): calls sent to one worker at a
//! time, the worker handed back to the pool when it is still sound.

use std::io;
use std::sync::Arc;

use super::worker::Worker;
use super::{Inner, launch, wire};

use crate::function::{Instance, Trap};
use crate::value::{Columns, EvalOutput, FailureKind};

pub(super) struct ProcessInstance {
    pub(super) function: Arc<Inner>,
    /// `None` once the worker died.
    pub(super) worker: Option<Worker>,
}

impl Instance for ProcessInstance {
    fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
        let mut losses = 0;
        loop {
            match self.call(args, out, losses == 0) {
                Err(Call::Lost(trap)) => {
                    // A launched worker gone in the middle of a call: its node or connection,
                    // not the function, unless it keeps happening.
                    losses += 1;
                    if losses >= launch::MAX_LOSSES {
                        return Err(Trap {
                            message: format!(
                                "{} (its worker was lost {losses} times)",
                                trap.message
                            ),
                            ..trap
                        });
                    }
                    match self.function.acquire() {
                        Ok(worker) => self.worker = Some(worker),
                        Err(e) => {
                            return Err(Trap {
                                kind: FailureKind::Trap,
                                message: format!(
                                    "{}; no other worker could take it: {e}",
                                    trap.message
                                ),
                            });
                        }
                    }
                    out.reset(&self.function.signature.outputs, args.n);
                }
                Err(Call::Failed(trap)) => return Err(trap),
                Ok(reply) => return reply,
            }
        }
    }
}

/// How a call to a worker ended, when it did not end with a reply.
pub(super) enum Call {
    /// The worker failed: the function's doing, or its deadline.
    Failed(Trap),
    /// A launched worker went away in the middle of the call, for no reason of the function's.
    Lost(Trap),
}

impl ProcessInstance {
    /// Makes the call `args` (for the first time, or again after a lost worker).
    fn call(
        &mut self,
        args: &Columns,
        out: &mut EvalOutput,
        first: bool,
    ) -> Result<Result<(), Trap>, Call> {
        let deadline = self.function.deadline;
        let worker = self.worker.as_mut().ok_or_else(|| {
            Call::Failed(Trap {
                kind: FailureKind::Trap,
                message: "the worker process is gone".into(),
            })
        })?;
        if let Some(d) = deadline {
            worker.guard.arm(d);
        }
        let result = worker
            .input()
            .and_then(|w| wire::write_eval(w, args))
            .and_then(|()| {
                wire::read_reply(
                    &mut worker.stdout,
                    &mut worker.buf,
                    &self.function.signature.outputs,
                    out,
                )
            });
        let fired = deadline.is_some() && worker.guard.disarm();
        match result {
            Ok(reply) => {
                worker.answered += 1;
                if let Some((slot, board)) = &worker.slot {
                    board.called(*slot);
                }
                if fired {
                    // The reply raced the watchdog: keep it, but the worker is gone.
                    self.worker = None;
                }
                Ok(reply)
            }
            Err(e) => {
                let mut worker = self.worker.take().expect("checked above");
                let status = worker.kill();
                if let Some(d) = deadline.filter(|_| fired) {
                    return Err(Call::Failed(Trap {
                        kind: FailureKind::Deadline,
                        message: format!("ran past its deadline of {d:?}"),
                    }));
                }
                let said = worker.postmortem(status);
                // Rust's allocator reports an allocation the heap cap refused so.
                let memory = said.contains("memory allocation of");
                let how = if e.kind() == io::ErrorKind::UnexpectedEof {
                    "it ended in the middle of a call".to_string()
                } else {
                    e.to_string()
                };
                let trap = Trap {
                    kind: if memory {
                        FailureKind::Memory
                    } else {
                        FailureKind::Trap
                    },
                    message: format!("the worker process failed: {how}{said}"),
                };
                match &worker.slot {
                    Some((slot, board)) if !memory => {
                        // A worker lost on the first call it was given, a call no other worker
                        // had lost (whose loss may be the call's doing), speaks of its slot.
                        board.lost(*slot, trap.message.clone(), first && worker.answered == 0);
                        Err(Call::Lost(trap))
                    }
                    _ => Err(Call::Failed(trap)),
                }
            }
        }
    }
}

impl Drop for ProcessInstance {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.function.put_back(worker);
        }
    }
}
