"""xyz: evaluate a function over every combination of named parameters, in parallel here or
spread over a cluster, and gather the results into one labelled ``xarray.Dataset``.

xyzpy's names for its parallel and distributed runs, on xyz's sandboxed engine:

- :class:`Runner`: ``run_combos``, ``run_cases``, ``run_samples`` return a dataset;
- :class:`Harvester`: ``harvest_combos`` merges into a dataset on disk, ``full_ds`` reads it;
- :class:`Crop`: ``sow_combos``, ``grow``, ``grow_missing``, ``submit``, ``reap``, the same
  crop directory the ``xyz`` command line grows and reaps; :func:`grow` grows one batch.

The function is a WebAssembly module or a native library (``xyz new`` makes one from Rust or
C). Errors are raised as :class:`XyzError` and its subclasses, with the command line's
messages.
"""

from ._xyz import (
    CropError,
    DatasetError,
    ExecutorError,
    FunctionError,
    SchedulerError,
    SpecError,
    XyzError,
    __version__,
)
from ._runner import Harvester, Runner
from ._crop import Crop, grow

__all__ = [
    "Crop",
    "CropError",
    "DatasetError",
    "ExecutorError",
    "FunctionError",
    "Harvester",
    "Runner",
    "SchedulerError",
    "SpecError",
    "XyzError",
    "__version__",
    "grow",
]
