"""``Runner`` and ``Harvester``: xyzpy's names for a sweep evaluated into a dataset, and for
one merged into a dataset on disk."""

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import _xyz
from ._binary import worker_binary
from ._dataset import to_xarray
from ._progress import progress_bar

if TYPE_CHECKING:
    import xarray


def _function(fn, memory=None, deadline=None, isolate=True):
    """``fn`` loaded: a Runner's function, a path, or a module's or library's bytes."""
    if isinstance(fn, Runner):
        return fn.function
    if isinstance(fn, _xyz.Function):
        return fn
    if isinstance(fn, (bytes, bytearray, memoryview)):
        fn = bytes(fn)
    elif not isinstance(fn, (str, os.PathLike)):
        raise TypeError(
            f"fn: expected the path of a WebAssembly module or native library, or its bytes, "
            f"not {type(fn).__name__}"
        )
    return _xyz.Function(
        fn, worker=worker_binary(), memory=memory, deadline=deadline, isolate=isolate
    )


def _cases(cases, fields):
    """xyzpy's cases: dicts, or tuples whose names ``fields`` gives."""
    if cases is None:
        return None
    out = []
    for i, case in enumerate(cases):
        if isinstance(case, dict):
            out.append(dict(case))
            continue
        if fields is None:
            raise _xyz.SpecError(
                f"`cases[{i + 1}]`: a case that is not a dict needs fields=[names of its values]"
            )
        case = tuple(case) if not isinstance(case, (list, tuple)) else case
        if len(case) != len(fields):
            raise _xyz.SpecError(
                f"`cases[{i + 1}]`: {len(case)} values for the {len(fields)} fields {list(fields)}"
            )
        out.append(dict(zip(fields, case)))
    return out


def _threads(parallel, num_workers, executor):
    if executor is not None:
        from ._executor import workers

        return num_workers or workers(executor)
    if num_workers is not None:
        return int(num_workers)
    return 0 if parallel else 1


class _Call:
    """Where the cases of one call go (threads here, or an executor evaluating
    ``function``), its progress bar and its interrupt."""

    def __init__(self, function, parallel, num_workers, executor, progbar):
        self.threads = _threads(parallel, num_workers, executor)
        self.interrupted = threading.Event()
        self.executor = None
        if executor is not None:
            from . import _executor

            _executor.check(executor)
            task = (
                executor,
                function.bytes,
                function.sha256,
                function.memory,
                function.deadline,
                function.isolate,
                self.interrupted,
            )
            self.executor = (_executor.call, task)
        self.bar = progress_bar(progbar)

    def drive(self, native, *args, **kwargs):
        """Calls ``native`` (a run of ``xyz._xyz``) with where the cases go, progress and
        the interrupt, and closes the progress bar however it ends."""
        progress = self.bar.start() if self.bar is not None else None
        try:
            return native(
                *args,
                threads=self.threads,
                executor=self.executor,
                progress=progress,
                on_cancel=self.interrupted.set,
                **kwargs,
            )
        finally:
            if self.bar is not None:
                self.bar.close()


class Runner:
    """Evaluates a function over every combination of named parameters.

    ``fn`` is the path of a WebAssembly module (``.wasm``) or a native library (``.so``), or
    its bytes. ``constants`` are arguments fixed for every case, ``attrs`` the dataset's own
    attributes. ``memory`` (bytes, or text such as ``"256MiB"``) bounds an instance's memory
    and ``deadline`` (seconds, or text such as ``"60s"``) one call's time; ``isolate=False``
    runs the function in this process instead of worker processes.

    >>> r = xyz.Runner("add.wasm", constants={"c": 0})          # doctest: +SKIP
    >>> ds = r.run_combos({"a": [1, 2, 3], "b": [0.5, 1.5]})      # doctest: +SKIP
    """

    def __init__(
        self,
        fn: "str | os.PathLike[str] | bytes",
        constants: "Mapping[str, Any] | None" = None,
        attrs: "Mapping[str, Any] | None" = None,
        memory: "int | str | None" = None,
        deadline: "float | str | None" = None,
        isolate: bool = True,
    ) -> None:
        self.function = _function(fn, memory, deadline, isolate)
        self.constants = dict(constants or {})
        self.attrs = dict(attrs or {})
        self.last_run = None

    def __repr__(self):
        return f"<xyz.Runner {self.function.signature}>"

    @property
    def signature(self) -> str:
        """The function's signature, as ``xyz inspect`` prints it."""
        return self.function.signature

    def _spec(self, combos=None, cases=None, constants=None, samples=None, coords=None, fields=None, adaptive=None):
        merged = dict(self.constants)
        merged.update(constants or {})
        return {
            "combos": dict(combos) if combos is not None else None,
            "cases": _cases(cases, fields),
            "constants": merged or None,
            "samples": dict(samples) if samples is not None else None,
            "adaptive": dict(adaptive) if adaptive is not None else None,
            "attrs": self.attrs or None,
            "coords": dict(coords) if coords is not None else None,
        }

    def _run(self, spec, parallel, num_workers, executor, progbar):
        call = _Call(self.function, parallel, num_workers, executor, progbar)
        parts, summary = call.drive(_xyz.run, self.function, spec, os.getcwd())
        self.last_run = summary
        return to_xarray(parts)

    def run_combos(
        self,
        combos: "Mapping[str, Any]",
        cases: "Sequence[Any] | None" = None,
        constants: "Mapping[str, Any] | None" = None,
        parallel: bool = False,
        num_workers: "int | None" = None,
        executor: Any = None,
        progbar: bool = False,
        coords: "Mapping[str, Any] | None" = None,
        fields: "Sequence[str] | None" = None,
    ) -> "xarray.Dataset":
        """Evaluates every combination of ``combos`` (a dict of name to values: a list, a
        numpy array, a range, or one of xyz's generators such as ``{"linspace": [0, 1,
        11]}``), the last varying fastest, at each of ``cases`` if given, and returns the
        ``xarray.Dataset``: one dim per swept argument, one variable per output, the cells'
        ``xyz_status`` and ``xyz_error``, the constants and provenance as attributes.

        ``parallel=True`` uses every core (``num_workers`` sets how many);
        ``executor`` hands chunks of cases to a pool (``concurrent.futures``,
        ``dask.distributed``, ``mpi4py``, ``multiprocessing``, ipyparallel);
        ``progbar=True`` shows progress (tqdm when installed).
        """
        spec = self._spec(combos=combos, cases=cases, constants=constants, coords=coords, fields=fields)
        return self._run(spec, parallel, num_workers, executor, progbar)

    def run_cases(
        self,
        cases: "Sequence[Any]",
        constants: "Mapping[str, Any] | None" = None,
        fields: "Sequence[str] | None" = None,
        parallel: bool = False,
        num_workers: "int | None" = None,
        executor: Any = None,
        progbar: bool = False,
        coords: "Mapping[str, Any] | None" = None,
    ) -> "xarray.Dataset":
        """Evaluates each of ``cases`` (dicts of name to value, or tuples named by
        ``fields``) and returns the dataset, laid out over the cases' values."""
        spec = self._spec(cases=cases, constants=constants, coords=coords, fields=fields)
        return self._run(spec, parallel, num_workers, executor, progbar)

    def run_samples(
        self,
        samples: "Mapping[str, Any]",
        combos: "Mapping[str, Any] | None" = None,
        constants: "Mapping[str, Any] | None" = None,
        parallel: bool = False,
        num_workers: "int | None" = None,
        executor: Any = None,
        progbar: bool = False,
        coords: "Mapping[str, Any] | None" = None,
    ) -> "xarray.Dataset":
        """Evaluates cases drawn as ``samples`` says (the fields of a spec's ``[samples]``:
        ``n``, ``seed``, ``method`` and a distribution per argument), at each combination of
        ``combos`` if given; the sampled arguments are coordinates along the dim ``sample``."""
        spec = self._spec(combos=combos, samples=samples, constants=constants, coords=coords)
        return self._run(spec, parallel, num_workers, executor, progbar)

    def run_adaptive(
        self,
        adaptive: "Mapping[str, Any]",
        combos: "Mapping[str, Any] | None" = None,
        constants: "Mapping[str, Any] | None" = None,
        parallel: bool = False,
        num_workers: "int | None" = None,
        executor: Any = None,
        progbar: bool = False,
        coords: "Mapping[str, Any] | None" = None,
    ) -> "xarray.Dataset":
        """Samples the function where it changes, as a spec's ``[adaptive]`` says: the bounds
        of one or two float arguments (``{"x": [-1, 1]}``), when to stop (``n`` evaluations,
        ``loss_goal``, or both), and optionally ``loss``, ``output`` and ``rounds``. Points are
        chosen in rounds from the results of the rounds before, so the same points come out
        however many workers evaluate them. With ``combos``, each combination has a learner of
        its own, and a round's points go to the learners by their losses. The points lie along
        the dim ``point``, each adaptive argument (and combo) a coordinate along it;
        ``last_run`` holds the rounds and the loss reached.

        >>> ds = r.run_adaptive({"x": [-1, 1], "n": 500}, constants={"a": 0.01})  # doctest: +SKIP
        """
        spec = self._spec(combos=combos, adaptive=adaptive, constants=constants, coords=coords)
        return self._run(spec, parallel, num_workers, executor, progbar)


class Harvester:
    """Merges the datasets of a runner's sweeps into one file on disk (``data_name``: a
    ``.zarr``, ``.nc`` or ``.parquet``), evaluating only the cells it lacks, under the same
    lock and rules as ``xyz run --into``."""

    def __init__(self, runner: "Runner | str | os.PathLike[str] | bytes", data_name: "str | os.PathLike[str]") -> None:
        self.runner = runner if isinstance(runner, Runner) else Runner(runner)
        self.data_name = Path(data_name)
        self.last_run = None

    def __repr__(self):
        return f"<xyz.Harvester {self.runner.function.name} into {self.data_name}>"

    @property
    def full_ds(self) -> "xarray.Dataset":
        """The whole dataset on disk, read now."""
        return to_xarray(_xyz.read(str(self.data_name)))

    def _harvest(self, spec, parallel, num_workers, executor, progbar, overwrite, recompute, retry_failed, keep_existing):
        r = self.runner
        call = _Call(r.function, parallel, num_workers, executor, progbar)
        summary = call.drive(
            _xyz.harvest,
            r.function,
            spec,
            os.getcwd(),
            str(self.data_name),
            recompute=recompute,
            retry_failed=retry_failed,
            overwrite=overwrite,
            keep_existing=keep_existing,
            waiting=_say,
        )
        self.last_run = summary
        return summary

    def harvest_combos(
        self,
        combos: "Mapping[str, Any]",
        cases: "Sequence[Any] | None" = None,
        constants: "Mapping[str, Any] | None" = None,
        parallel: bool = False,
        num_workers: "int | None" = None,
        executor: Any = None,
        progbar: bool = False,
        overwrite: bool = False,
        recompute: bool = False,
        retry_failed: bool = False,
        keep_existing: bool = False,
        fields: "Sequence[str] | None" = None,
    ) -> "dict[str, Any]":
        """Evaluates the cells of ``combos`` the dataset lacks and merges them into it
        (made if it does not exist). ``overwrite=True`` evaluates every cell again and
        replaces the old values; ``keep_existing=True`` keeps old values that differ;
        ``recompute=True`` evaluates every cell; ``retry_failed=True`` evaluates again the
        cells that failed. Returns the run's summary (cases evaluated, failed, skipped)."""
        spec = self.runner._spec(combos=combos, cases=cases, constants=constants, fields=fields)
        return self._harvest(spec, parallel, num_workers, executor, progbar, overwrite, recompute, retry_failed, keep_existing)

    def harvest_adaptive(
        self,
        adaptive: "Mapping[str, Any]",
        combos: "Mapping[str, Any] | None" = None,
        constants: "Mapping[str, Any] | None" = None,
        parallel: bool = False,
        num_workers: "int | None" = None,
        executor: Any = None,
        progbar: bool = False,
    ) -> "dict[str, Any]":
        """Adds points to the adaptive study's dataset (made if it does not exist), as
        ``xyz run --into`` does: the rounds on record are asked of the learners again, then
        new rounds until ``n`` points in all or ``loss_goal``. A dataset of another study is
        refused. Returns the summary (points evaluated, failed, rounds, loss)."""
        spec = self.runner._spec(combos=combos, adaptive=adaptive, constants=constants)
        return self._harvest(spec, parallel, num_workers, executor, progbar, False, False, False, False)

    def harvest_cases(
        self,
        cases: "Sequence[Any]",
        constants: "Mapping[str, Any] | None" = None,
        fields: "Sequence[str] | None" = None,
        parallel: bool = False,
        num_workers: "int | None" = None,
        executor: Any = None,
        progbar: bool = False,
        overwrite: bool = False,
        recompute: bool = False,
        retry_failed: bool = False,
        keep_existing: bool = False,
    ) -> "dict[str, Any]":
        """As :meth:`harvest_combos`, for explicit cases."""
        spec = self.runner._spec(cases=cases, constants=constants, fields=fields)
        return self._harvest(spec, parallel, num_workers, executor, progbar, overwrite, recompute, retry_failed, keep_existing)


def _say(line):
    import sys

    print(line, file=sys.stderr)
