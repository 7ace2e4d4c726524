"""Datasets from the engine's parts: numpy arrays over the engine's own buffers, laid out as
the Zarr writer lays them out, so a dataset made here is ``identical`` to the one ``xyz run``
writes and xarray reads back."""

import json

from ._strings import strings

#: The attributes of ``xyz_status``, as every format stores them.
STATUS_ATTRS = {
    "long_name": "status of the cell's case",
    "flag_values": [0, 1, 2, 3],
    "flag_meanings": "ok failed not_evaluated not_reached",
}

#: The attributes of ``xyz_error``.
ERROR_ATTRS = {"long_name": "why the cell's case failed: kind and message"}


def _array(values):
    return strings(values) if isinstance(values, list) else values


def to_xarray(parts):
    """The ``xarray.Dataset`` of a dataset's parts (from ``xyz._xyz``)."""
    import xarray as xr
    from xarray.core import indexing

    from ._errors import Errors

    shape = tuple(parts["shape"])
    swept = [name for name, _ in parts["dims"]]
    coords = {}
    for name, values in parts["dims"]:
        coords[name] = (name, _array(values))
    for name, values in parts["extra_coords"]:
        coords[name] = (name, _array(values))
    for name, dim, values in parts["aux_coords"]:
        coords[name] = (dim, _array(values))
    data_vars = {}
    for name, dims, var_shape, values in parts["vars"]:
        data_vars[name] = (dims, _array(values).reshape(var_shape))
    status_name, status = parts["status"]
    data_vars[status_name] = (swept, status.reshape(shape), dict(STATUS_ATTRS))
    error_name, at, messages = parts["errors"]
    errors = indexing.LazilyIndexedArray(Errors(shape, at, messages))
    data_vars[error_name] = xr.Variable(swept, errors, dict(ERROR_ATTRS))
    return xr.Dataset(data_vars, coords=coords, attrs=json.loads(parts["attrs"]))
