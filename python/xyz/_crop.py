"""``Crop``: xyzpy's sow, grow and reap, on xyz's crop directories (``.xyz-NAME``), which
the ``xyz`` command line grows, watches and reaps too."""

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import _xyz
from ._binary import worker_binary
from ._dataset import to_xarray
from ._runner import Harvester, Runner, _Call, _function

if TYPE_CHECKING:
    import xarray


class Crop:
    """A sweep cut into batches that grow anywhere: in this process, through an executor,
    in ``xyz grow`` processes, or in a batch scheduler's jobs (:meth:`submit`).

    ``fn`` is a function (path or bytes), a :class:`Runner` (whose constants and attrs the
    crop takes), or a :class:`Harvester` (whose file the reap merges into). A crop named
    ``name`` lives in ``parent_dir/.xyz-name``; ``Crop(name=...)`` alone opens a crop that
    is already sown. ``batchsize`` (cases a batch) or ``num_batches`` say how it is cut;
    neither: about a thousand batches.
    """

    def __init__(
        self,
        name: "str | None" = None,
        fn: Any = None,
        batchsize: "int | None" = None,
        num_batches: "int | None" = None,
        parent_dir: "str | os.PathLike[str] | None" = None,
    ) -> None:
        self.name = name
        self.parent_dir = Path(parent_dir) if parent_dir is not None else Path.cwd()
        self.batchsize = batchsize
        self.num_batches = num_batches
        self.harvester = fn if isinstance(fn, Harvester) else None
        self.runner = None
        if isinstance(fn, Harvester):
            self.runner = fn.runner
        elif isinstance(fn, Runner):
            self.runner = fn
        elif fn is not None:
            self.runner = Runner(fn)
        if self.name is None:
            if self.runner is None:
                raise _xyz.CropError("Crop: give name=, fn=, or both")
            self.name = self.runner.function.name

    @property
    def location(self) -> Path:
        """The crop's directory (``parent_dir/.xyz-name``)."""
        return self.parent_dir / f".xyz-{self.name}"

    @property
    def is_prepared(self) -> bool:
        """Whether the crop is sown."""
        return (self.location / "manifest.toml").is_file()

    def _dir(self):
        return str(_xyz.locate(self.name, str(self.parent_dir)))

    def sow_combos(self, combos: "Mapping[str, Any]", cases: "Sequence[Any] | None" = None,
                   constants: "Mapping[str, Any] | None" = None, fields: "Sequence[str] | None" = None,
                   force: bool = False) -> "Crop":
        """Sows every combination of ``combos`` (at each of ``cases``) as batches; gives the
        crop. ``force=True`` replaces a crop of that name with other contents."""
        return self._sow(self.runner._spec(combos=combos, cases=cases, constants=constants, fields=fields), force)

    def sow_cases(self, cases: "Sequence[Any]", constants: "Mapping[str, Any] | None" = None,
                  fields: "Sequence[str] | None" = None, force: bool = False) -> "Crop":
        """Sows ``cases`` as batches; gives the crop."""
        return self._sow(self.runner._spec(cases=cases, constants=constants, fields=fields), force)

    def sow_samples(self, samples: "Mapping[str, Any]", combos: "Mapping[str, Any] | None" = None,
                    constants: "Mapping[str, Any] | None" = None, force: bool = False) -> "Crop":
        """Sows the cases ``samples`` draws (see :meth:`Runner.run_samples`); gives the crop."""
        return self._sow(self.runner._spec(combos=combos, samples=samples, constants=constants), force)

    def sow_adaptive(self, adaptive: "Mapping[str, Any]", combos: "Mapping[str, Any] | None" = None,
                     constants: "Mapping[str, Any] | None" = None, force: bool = False) -> "Crop":
        """Sows an adaptive study (see :meth:`Runner.run_adaptive`): its first round of
        points, each round cut into batches of ``batchsize`` points (one by default). Whoever
        grows the crop (:meth:`grow_missing`, ``xyz grow``, workers of :meth:`submit`) chooses
        each next round from the results of the rounds before, once they are grown, until the
        study has its evaluations or its loss; the reaped dataset is the one
        :meth:`Runner.run_adaptive` gives. Gives the crop."""
        return self._sow(self.runner._spec(combos=combos, adaptive=adaptive, constants=constants), force)

    def _sow(self, spec, force):
        if self.runner is None:
            raise _xyz.CropError(f"crop {self.name}: sowing needs fn= (a function, Runner or Harvester)")
        into = str(self.harvester.data_name) if self.harvester is not None else None
        self.parent_dir.mkdir(parents=True, exist_ok=True)
        _xyz.sow(
            self.runner.function,
            spec,
            os.getcwd(),
            self.name,
            str(self.parent_dir),
            batchsize=self.batchsize,
            num_batches=self.num_batches,
            into=into,
            force=force,
        )
        return self

    def status(self) -> "dict[str, Any]":
        """The crop's progress, as ``xyz status --json`` reports it."""
        return json.loads(_xyz.status(self._dir()))

    @property
    def num_sown_batches(self) -> int:
        """Batches sown (``-1`` when the crop is not sown)."""
        return self.status()["batches"] if self.is_prepared else -1

    @property
    def num_results(self) -> int:
        """Batches grown."""
        return self.status()["grown"] if self.is_prepared else 0

    def missing_results(self) -> "tuple[int, ...]":
        """The ids of the batches not grown yet (counted from 1)."""
        return tuple(_xyz.missing(self._dir()))

    def is_ready_to_reap(self) -> bool:
        """Whether every batch is grown (and an adaptive study finished)."""
        if not self.is_prepared:
            return False
        s = self.status()
        study = s.get("study")
        return s["grown"] == s["batches"] and (study is None or study["finished"] is not None)

    def __repr__(self):
        if not self.is_prepared:
            return f"<xyz.Crop {self.name} in {self.parent_dir}: not sown>"
        s = self.status()
        return (
            f"<xyz.Crop {s['name']}: {s['grown']}/{s['batches']} batches grown, "
            f"{s['cases_grown']}/{s['cases']} cases, {s['failed_cases']} failed>"
        )

    def grow(self, batch_ids: "int | Sequence[int]", parallel: bool = False, num_workers: "int | None" = None,
             executor: Any = None, progbar: bool = False, raise_errors: bool = False) -> "tuple[int, int, int]":
        """Grows the batches ``batch_ids`` (an id or several, counted from 1) here, or
        through ``executor``; gives ``(batches, cases, failed)`` grown."""
        if isinstance(batch_ids, int):
            batch_ids = [batch_ids]
        return self._grow(list(batch_ids), parallel, num_workers, executor, progbar, raise_errors)

    def grow_missing(self, parallel: bool = False, num_workers: "int | None" = None, executor: Any = None,
                     progbar: bool = False, raise_errors: bool = False) -> "tuple[int, int, int]":
        """Grows every batch not grown yet: here (``parallel``, ``num_workers``) or through
        ``executor``; gives ``(batches, cases, failed)`` grown. An adaptive study's crop
        grows round by round until its study is finished."""
        return self._grow(None, parallel, num_workers, executor, progbar, raise_errors)

    def _grow(self, batches, parallel, num_workers, executor, progbar, raise_errors):
        function = self._function() if executor is not None else None
        call = _Call(function, parallel, num_workers, executor, progbar)
        return call.drive(_xyz.grow, self._dir(), worker_binary(), batches, raise_errors=raise_errors)

    def _function(self):
        if self.runner is not None:
            return self.runner.function
        return _function(_xyz.function_path(self._dir()))

    def submit(self, scheduler: str = "slurm", time: "str | None" = None, mem: "int | str | None" = None,
               cpus: int = 1, throttle: "int | None" = None, workers: "int | None" = None, lease: str = "2m",
               options: "Sequence[str]" = (), setup: "Sequence[str]" = (), max_array: "int | None" = None,
               dry_run: bool = False) -> "list[dict[str, Any]]":
        """Submits the growth of the missing batches to a batch scheduler (``"slurm"``,
        ``"sge"`` or ``"pbs"``), as ``xyz submit`` does: an array task per batch, or
        ``workers`` tasks that claim batches. Gives the jobs submitted (with ``dry_run``,
        the scripts, nothing submitted). xyzpy's ``qsub_grow``."""
        return json.loads(
            _xyz.submit(
                self._dir(),
                scheduler,
                worker_binary(),
                time=time,
                mem=mem,
                cpus=cpus,
                throttle=throttle,
                workers=workers,
                lease=lease,
                options=list(options),
                setup=list(setup),
                max_array=max_array,
                dry_run=dry_run,
            )
        )

    qsub_grow = submit

    def dataset(self, partial: bool = False) -> "xarray.Dataset":
        """The crop's dataset as it stands, without reaping it: nothing is merged or removed,
        and no lock is taken, so it may be read as often as wanted while growers run (on this
        machine or any other). A crop that is not complete is refused unless ``partial``, which
        gives the results so far, the cells not grown yet ``not_evaluated`` in ``xyz_status``
        (and NaN, or the integer fill value, in the outputs)."""
        return to_xarray(_xyz.dataset(self._dir(), partial=partial))

    def reap(self, allow_incomplete: bool = False, keep: bool = False) -> "xarray.Dataset":
        """The crop's dataset. A crop sown from a :class:`Harvester` merges it into the
        harvester's file too. A complete crop is removed unless ``keep``; an incomplete one
        is refused unless ``allow_incomplete`` (its missing cells are ``not_evaluated``)."""
        parts, _complete = _xyz.reap(self._dir(), allow_incomplete=allow_incomplete, keep=keep)
        return to_xarray(parts)


def grow(batch_number: int, crop: "Crop | str | None" = None, num_workers: "int | None" = None,
         parent_dir: "str | os.PathLike[str] | None" = None) -> "tuple[int, int, int]":
    """Grows batch ``batch_number`` of ``crop`` (a :class:`Crop`, or the name of one in
    ``parent_dir``, the current directory by default) with the function the crop holds: what
    xyzpy's batch scripts run, ``python -c "import xyz; c = xyz.Crop(name='NAME');
    xyz.grow(i, crop=c)"``. Gives ``(batches, cases, failed)`` grown."""
    if not isinstance(crop, Crop):
        if crop is None:
            raise _xyz.CropError("grow: give crop= (a Crop, or a crop's name)")
        crop = Crop(name=crop, parent_dir=parent_dir)
    return crop.grow(batch_number, num_workers=num_workers)
