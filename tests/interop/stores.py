"""Zarr stores made by xarray and zarr-python, for xyz to read; and a quiet open of xyz's.

    python3 stores.py make DIR     writes the stores below into DIR and prints their names
    python3 stores.py quiet PATH   opens PATH with xarray, every warning an error
    python3 stores.py values PATH  prints PATH's first variable as JSON, NaN as null
    python3 stores.py repandas SRC DEST
                                   rewrites the Parquet file SRC with pandas' defaults as DEST
    python3 stores.py netcdf PATH VARIANT
                                   checks PATH is netCDF VARIANT (CDF-2 or CDF-5) and opens
                                   it with the readers that take that variant

Each store holds `n(y, x)`, n = 10 * y + x over y = 0..3 and x = 0.0, 0.5, ..., 2.0, as
int64, in the layout its name says.
"""

import json
import os
import shutil
import sys
import warnings

import numpy as np
import xarray as xr


def dataset():
    y = np.arange(4)
    x = np.arange(5) * 0.5
    n = (10 * y[:, None] + x[None, :]).astype(np.float64)
    return xr.Dataset(
        {"n": (("y", "x"), n), "label": (("y", "x"), np.full((4, 5), "é", dtype=object))},
        coords={"y": y, "x": x},
        attrs={"made_by": "xarray"},
    )


def make(root):
    from numcodecs import Blosc, GZip

    os.makedirs(root, exist_ok=True)
    ds = dataset()
    stores = {
        "v3.zarr": dict(),
        "v3-plain.zarr": dict(consolidated=False),
        "v2.zarr": dict(zarr_format=2),
        "v2-plain.zarr": dict(zarr_format=2, consolidated=False),
        "v2-blosc.zarr": dict(
            zarr_format=2, encoding={"n": {"compressors": [Blosc(cname="zstd")], "chunks": (2, 2)}}
        ),
        "v2-gzip.zarr": dict(
            zarr_format=2, encoding={"n": {"compressors": [GZip()], "chunks": (2, 5)}}
        ),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, kw in stores.items():
            path = os.path.join(root, name)
            shutil.rmtree(path, ignore_errors=True)
            ds.to_zarr(path, **kw)
        # Fixed-width strings (numpy's `<U`), which xarray writes to Zarr v2 with no fill value:
        # a data variable and a coordinate.
        fixed = ds.assign(label=ds.label.astype("<U2")).assign_coords(
            kind=("y", np.array(["up", "dn", "up", "dn"], dtype="<U2"))
        )
        fixed.to_zarr(os.path.join(root, "v2-fixed.zarr"), zarr_format=2)
    stores["v2-fixed.zarr"] = {}
    # The layout `xyz run` gives for add(a, b, c) -> sum with c = 0, as xarray writes it.
    a = np.array([1.0, 2.0])
    b = np.array([10.0, 20.0, 30.0])
    add = xr.Dataset(
        {"sum": (("a", "b"), a[:, None] + b[None, :])}, coords={"a": a, "b": b}, attrs={"c": 0.0}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        add.to_zarr(os.path.join(root, "add.zarr"))
    # A chunk left out (as writers do for chunks that hold only the fill value): NaN there.
    os.remove(os.path.join(root, "v2-gzip.zarr", "n", "1.0"))
    # A codec no reader knows.
    odd = os.path.join(root, "odd-codec.zarr")
    shutil.copytree(os.path.join(root, "v3-plain.zarr"), odd)
    meta_path = os.path.join(odd, "n", "zarr.json")
    with open(meta_path) as f:
        meta = json.load(f)
    meta["codecs"].append({"name": "squish9", "configuration": {}})
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    print(" ".join(sorted(stores) + ["odd-codec.zarr"]))


def quiet(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(path)
        ds.load()
    print(ds)


def values(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_zarr(path)
    v = ds[list(ds.data_vars)[0]].values.astype(float)
    print(json.dumps(np.where(np.isnan(v), None, v).tolist()))


def repandas(src, dest):
    """Reads an xyz Parquet file with pandas and writes it back with pandas' defaults."""
    import pandas as pd

    pd.read_parquet(src).to_parquet(dest)


def netcdf(path, variant):
    with open(path, "rb") as f:
        magic = f.read(4)
    want = {"CDF-2": b"CDF\x02", "CDF-5": b"CDF\x05"}[variant]
    if magic != want:
        sys.exit(f"MISMATCH: {path} starts with {magic!r}, not {want!r} ({variant})")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        by_netcdf4 = xr.open_dataset(path, engine="netcdf4").load()
    if variant == "CDF-2":
        import scipy.io

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            by_scipy = xr.open_dataset(path, engine="scipy").load()
            f = scipy.io.netcdf_file(path, "r", mmap=False)
            f.close()
        xr.testing.assert_identical(by_netcdf4, by_scipy)
    print(by_netcdf4)


if __name__ == "__main__":
    command = {
        "make": make,
        "quiet": quiet,
        "values": values,
        "netcdf": netcdf,
        "repandas": repandas,
    }[sys.argv[1]]
    command(*sys.argv[2:])
