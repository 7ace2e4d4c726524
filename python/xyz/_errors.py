"""``xyz_error`` as xarray holds it: read lazily, so a dataset whose cells mostly did not fail
costs nothing for it until it is read."""

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from ._strings import strings


class Errors(BackendArray):
    """The failures of a dataset's cells as an array that costs nothing until it is read:
    most cells have none, and a string per cell would take more than the values. Read (in
    whole or in part) it gives the failure's text, or ``""``, of each cell asked for."""

    def __init__(self, shape, at, messages):
        self.shape = tuple(shape)
        self.dtype = strings([""]).dtype
        self._at = np.unravel_index(np.asarray(at, dtype=np.int64), self.shape)
        self._messages = strings(messages)

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self._basic
        )

    def _basic(self, key):
        """The cells a tuple of ints and slices picks."""
        picked = np.broadcast_to(np.int8(0), self.shape)[key].shape
        out = strings([""]).repeat(int(np.prod(picked, dtype=np.int64))).reshape(picked)
        if not len(self._messages):
            return out
        keep = np.ones(len(self._messages), dtype=bool)
        where = []
        for k, n, at in zip(key, self.shape, self._at):
            if isinstance(k, slice):
                position = np.full(n, -1, dtype=np.int64)
                taken = np.arange(n)[k]
                position[taken] = np.arange(len(taken))
                p = position[at]
                keep &= p >= 0
                where.append(p)
            else:
                keep &= at == int(k) % n
        if keep.any():
            if where:
                out[tuple(p[keep] for p in where)] = self._messages[keep]
            else:  # one cell, picked by ints alone
                out[()] = self._messages[keep][0]
        return out
