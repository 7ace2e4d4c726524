"""Interop checks: real xarray and pandas read what `xyz run` wrote, and every value is
compared with one computed here, independently of xyz.

    python3 check.py KIND PATH

KIND is the example (add, stats, ramp, mandel, classify, faulty), a tabular form
(csv-stats, json-ramp), or a harvested dataset (harvest-add, harvest-affine). Exits non-zero with a message on the first mismatch.
"""

import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
import xarray as xr

warnings.simplefilter("error", RuntimeWarning)


def fail(msg):
    print(f"MISMATCH: {msg}")
    sys.exit(1)


def expect(cond, msg):
    if not cond:
        fail(msg)


def open_zarr(path):
    ds = xr.open_zarr(path)
    print(ds)
    return ds


def check_add(path):
    ds = open_zarr(path)
    expect(list(ds["sum"].dims) == ["a", "b"], "dims %s" % (ds["sum"].dims,))
    expect(ds["sum"].dtype == np.float64, "dtype %s" % ds["sum"].dtype)
    a, b = ds.a.values, ds.b.values
    np.testing.assert_array_equal(a, np.linspace(0.0, 1.0, 5))
    np.testing.assert_array_equal(b, [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(ds["sum"].values, a[:, None] + b[None, :])
    expect(ds.attrs["c"] == 7.5, f"attrs {ds.attrs}")
    expect(ds.attrs["xyz_function"] == "add(a: f64, b: f64, c: f64) -> (sum: f64)", "signature")
    expect(len(ds.attrs["xyz_function_sha256"]) == 64, "sha256")


def check_stats(path):
    ds = open_zarr(path)
    expect(list(ds["prod"].dims) == ["n", "x"], "dims %s" % (ds["prod"].dims,))
    expect(ds.n.dtype == np.int64, f"coord dtype {ds.n.dtype}")
    n, x = ds.n.values[:, None], ds.x.values[None, :]
    np.testing.assert_array_equal(ds["prod"].values, x * n)
    np.testing.assert_array_equal(ds.ratio.values, x / n)


def check_ramp(path):
    ds = open_zarr(path)
    expect(list(ds.y.dims) == ["a", "b", "t"], f"dims {ds.y.dims}")
    expect(ds.sizes["t"] == 5, f"sizes {dict(ds.sizes)}")
    t = np.arange(5.0)
    a, b = ds.a.values, ds.b.values
    want = a[:, None, None] * t[None, None, :] + b[None, :, None]
    np.testing.assert_array_equal(ds.y.values, want)


def mandel(x, y, maxiter):
    zr = zi = 0.0
    n = 0
    while n < maxiter and zr * zr + zi * zi <= 4.0:
        zr, zi = zr * zr - zi * zi + x, 2.0 * zr * zi + y
        n += 1
    return n


def check_mandel(path):
    ds = open_zarr(path)
    expect(list(ds.n.dims) == ["y", "x"], f"dims {ds.n.dims}")
    expect(ds.n.dtype == np.int64, f"dtype {ds.n.dtype}")
    maxiter = int(ds.attrs["maxiter"])
    got = ds.n.values
    for i, y in enumerate(ds.y.values):
        for j, x in enumerate(ds.x.values):
            want = mandel(float(x), float(y), maxiter)
            if got[i, j] != want:
                fail(f"mandel({x}, {y}) = {got[i, j]}, expected {want}")
    expect(got.min() >= 1 and got.max() == maxiter, "range of counts")


def check_classify(path):
    # Cases (x, label) cover the diagonal of the x-by-label grid only: off-diagonal cells are
    # missing. `flag` is a combo.
    ds = open_zarr(path)
    expect(list(ds.tag.dims) == ["x", "label", "flag"], f"dims {ds.tag.dims}")
    expect(ds.flag.dtype == np.bool_, f"flag dtype {ds.flag.dtype}")
    expect(ds.positive.dtype.kind == "f", f"positive with missing cells: {ds.positive.dtype}")
    xs, labels, flags = ds.x.values, ds.label.values, ds.flag.values
    for i, x in enumerate(xs):
        for j, label in enumerate(labels):
            for k, flag in enumerate(flags):
                pos = ds.positive.values[i, j, k]
                tag = ds.tag.values[i, j, k]
                if i == j:
                    want_tag = f"{label}{'+' if x > 0 else '-'}{'!' if flag else ''}"
                    expect(pos == (1.0 if x > 0 else 0.0), f"positive[{i},{j},{k}] = {pos}")
                    expect(tag == want_tag, f"tag[{i},{j},{k}] = {tag!r}, expected {want_tag!r}")
                else:
                    expect(math.isnan(pos), f"missing positive[{i},{j},{k}] = {pos}")
                    expect(tag == "", f"missing tag[{i},{j},{k}] = {tag!r}")


def check_faulty(path):
    ds = open_zarr(path)
    modes = list(ds["mode"].values)
    for i, mode in enumerate(modes):
        for j, x in enumerate(ds.x.values):
            y = ds.y.values[i, j]
            if mode == "ok":
                expect(y == x + 1.0, f"faulty(ok, {x}) = {y}")
            else:
                expect(math.isnan(y), f"faulty({mode}, {x}) = {y}, expected missing")


def check_csv_stats(path):
    df = pd.read_csv(path)
    print(df)
    expect(list(df.columns) == ["n", "x", "prod", "ratio"], f"columns {list(df.columns)}")
    np.testing.assert_array_equal(df["prod"], df["x"] * df["n"])
    np.testing.assert_array_equal(df["ratio"], df["x"] / df["n"])
    expect(df["n"].dtype == np.int64, f"n dtype {df['n'].dtype}")


def check_json_ramp(path):
    with open(path) as f:
        rows = json.load(f)
    df = pd.DataFrame.from_records(rows)
    print(df)
    expect(list(df.columns) == ["a", "b", "y"], f"columns {list(df.columns)}")
    for row in rows:
        want = [row["a"] * t + row["b"] for t in range(5)]
        expect(row["y"] == want, f"row {row}")


def check_harvest_add(path):
    # add over a in {1, 3} x b in {10, 30}, then a in {2, 3} x b in {20, 30}, merged.
    ds = open_zarr(path)
    expect(list(ds.a.values) == [1.0, 2.0, 3.0], f"a {ds.a.values}")
    expect(list(ds.b.values) == [10.0, 20.0, 30.0], f"b {ds.b.values}")
    have = {(1, 10), (1, 30), (3, 10), (3, 30), (2, 20), (2, 30), (3, 20)}
    s = ds["sum"].values
    for i, a in enumerate(ds.a.values):
        for j, b in enumerate(ds.b.values):
            if (a, b) in have:
                expect(s[i, j] == a + b, f"sum({a}, {b}) = {s[i, j]}")
            else:
                expect(math.isnan(s[i, j]), f"sum({a}, {b}) = {s[i, j]}, expected missing")
    expect(ds.attrs["c"] == 0, f"attrs {ds.attrs}")


def check_harvest_affine(path):
    # 2x + 1 over x in {-1, 0, 1, 2}; then 3x + 1 kept out at 2 and added at 5, then
    # overwriting at 1. -1 fails in both builds.
    ds = open_zarr(path)
    got = {float(x): float(y) for x, y in zip(ds.x.values, ds.y.values)}
    expect(list(got) == [-1.0, 0.0, 1.0, 2.0, 5.0], f"x {list(got)}")
    expect(math.isnan(got[-1.0]), f"y(-1) = {got[-1.0]}, expected missing")
    want = {0.0: 1.0, 1.0: 4.0, 2.0: 5.0, 5.0: 16.0}
    for x, y in want.items():
        expect(got[x] == y, f"y({x}) = {got[x]}, expected {y}")


CHECKS = {
    "add": check_add,
    "stats": check_stats,
    "ramp": check_ramp,
    "mandel": check_mandel,
    "classify": check_classify,
    "faulty": check_faulty,
    "csv-stats": check_csv_stats,
    "json-ramp": check_json_ramp,
    "harvest-add": check_harvest_add,
    "harvest-affine": check_harvest_affine,
}

if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    CHECKS[kind](path)
    print(f"ok: {kind}")
