"""Executors: any pool xyzpy takes, as tasks of chunks of cases.

An executor is anything with ``submit(fn, *args)`` returning a future with ``result()``
(``concurrent.futures``, ``dask.distributed.Client``, ``mpi4py.futures.MPIPoolExecutor``), or
with ``apply_async(fn, args)`` returning a result with ``get()`` (``multiprocessing.Pool``) or
``apply_async(fn, *args)`` (an ipyparallel view). Each task carries a chunk's arguments, the
function's bytes and their SHA-256; the far side needs the ``xyz`` wheel and nothing else.
"""

import multiprocessing
import os

from . import _xyz

#: How often a task that failed (its worker lost, its process killed) is submitted again.
RETRIES = 3

#: How long a wait for a task lasts before looking whether the run was interrupted.
POLL = 0.2


def workers(executor):
    """How many tasks ``executor`` runs at once, as far as it says; else the cores here."""
    for attr in ("_max_workers", "_processes"):
        n = getattr(executor, attr, None)
        if isinstance(n, int) and n > 0:
            return n
    nthreads = getattr(executor, "nthreads", None)
    if callable(nthreads):  # dask.distributed.Client
        try:
            n = sum(nthreads().values())
            if n > 0:
                return n
        except Exception:
            pass
    try:
        n = len(executor)  # an ipyparallel view: its engines
        if n > 0:
            return n
    except TypeError:
        pass
    return os.cpu_count() or 1


def check(executor):
    """Refuses an object that is not an executor, naming what one needs."""
    if not (callable(getattr(executor, "submit", None)) or callable(getattr(executor, "apply_async", None))):
        raise _xyz.ExecutorError(
            f"executor: {type(executor).__name__} has neither submit(fn, *args) nor "
            "apply_async(fn, args); pass a concurrent.futures, dask.distributed, mpi4py or "
            "multiprocessing pool, or an ipyparallel view"
        )


def evaluate(call, function, sha256, memory, deadline, isolate):
    """The far side of a task: evaluates the chunk ``call`` with xyz's engine in this
    process (the function loaded once per process) and gives the reply's bytes."""
    from ._binary import worker_binary

    return _xyz.evaluate(
        call, function, sha256, worker_binary(), memory, deadline, isolate
    )


def _submit(executor, args):
    submit = getattr(executor, "submit", None)
    if callable(submit):
        if type(executor).__module__.startswith("distributed"):
            return submit(evaluate, *args, pure=False)
        return submit(evaluate, *args)
    if type(executor).__module__.startswith("ipyparallel"):
        return executor.apply_async(evaluate, *args)
    return executor.apply_async(evaluate, args)


def _wait(handle, interrupted):
    result = getattr(handle, "result", None)
    while True:
        try:
            if callable(result):
                return result(timeout=POLL)
            return handle.get(timeout=POLL)
        except (TimeoutError, multiprocessing.TimeoutError):
            if interrupted is not None and interrupted.is_set():
                cancel = getattr(handle, "cancel", None)
                if callable(cancel):
                    cancel()
                raise KeyboardInterrupt from None
        except Exception as e:
            # ipyparallel and dask wrap timeouts in their own classes.
            if "Timeout" in type(e).__name__:
                if interrupted is not None and interrupted.is_set():
                    raise KeyboardInterrupt from None
                continue
            raise


def call(call_bytes, task):
    """Evaluates one chunk through the executor of ``task``: submits it, waits for it, and
    submits it again when it was lost, up to ``RETRIES`` times."""
    executor, function, sha256, memory, deadline, isolate, interrupted = task
    args = (call_bytes, function, sha256, memory, deadline, isolate)
    last = None
    for _ in range(RETRIES + 1):
        try:
            return _wait(_submit(executor, args), interrupted)
        except (_xyz.XyzError, KeyboardInterrupt):
            raise
        except Exception as e:  # a lost task: its worker died, its process was killed
            last = e
    raise _xyz.ExecutorError(
        f"a task failed {RETRIES + 1} times on {type(executor).__name__}: "
        f"{type(last).__name__}: {last}"
    ) from last
