"""Strings as xarray reads them from xyz's stores: numpy's StringDType where numpy has it."""

import numpy as np


def strings(values):
    """A list of str as the array xarray reads strings into (numpy's StringDType)."""
    dtype = getattr(np.dtypes, "StringDType", None)
    if dtype is None:
        return np.array(values, dtype=object)
    return np.array(values, dtype=dtype())
