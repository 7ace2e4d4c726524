"""Interop checks: real xarray and pandas read what `xyz run` wrote, and every value is
compared with one computed here, independently of xyz.

    python3 check.py KIND PATH

KIND is the example (add, stats, ramp, mandel, classify, faulty), a complex study (`complex`
for PATH.zarr, PATH.parquet, PATH.csv and PATH.json; `complex-zarr` for one store), a tabular form
(csv-stats, json-ramp), a harvested dataset (harvest-add, harvest-affine), or `formats`, for
which PATH is a prefix: PATH.zarr, PATH.nc, PATH.parquet, PATH.csv and PATH.json hold one
dataset, and each is read by its own reader (xarray.open_dataset, pandas.read_parquet,
pandas.read_csv, json, polars, duckdb) and compared, cell by cell, with the Zarr store; every
output keeps the one type its signature declares, whatever failed, and every cell's status
(`xyz_status`) and failure (`xyz_error`) agree across formats. Exits non-zero with a message on
the first mismatch.
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
    if "t" in ds.coords:
        # The spec's coordinates of t, as a ramp spec gives them: t = 0, 1, ..., 4 seconds.
        expect(list(ds.t.values) == list(t), f"t {ds.t.values}")
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
    expect(ds.positive.dtype == np.bool_, f"positive with missing cells: {ds.positive.dtype}")
    expect(ds.xyz_status.dtype == np.int8, f"xyz_status: {ds.xyz_status.dtype}")
    expect(ds.xyz_status.attrs["flag_meanings"] == "ok failed not_evaluated not_reached",
           f"xyz_status attrs {ds.xyz_status.attrs}")
    xs, labels, flags = ds.x.values, ds.label.values, ds.flag.values
    for i, x in enumerate(xs):
        for j, label in enumerate(labels):
            for k, flag in enumerate(flags):
                pos = ds.positive.values[i, j, k]
                tag = ds.tag.values[i, j, k]
                status = ds.xyz_status.values[i, j, k]
                if i == j:
                    want_tag = f"{label}{'+' if x > 0 else '-'}{'!' if flag else ''}"
                    expect(status == 0, f"status[{i},{j},{k}] = {status}")
                    expect(pos == (x > 0), f"positive[{i},{j},{k}] = {pos}")
                    expect(tag == want_tag, f"tag[{i},{j},{k}] = {tag!r}, expected {want_tag!r}")
                else:
                    expect(status == 3, f"status of an unreached cell [{i},{j},{k}] = {status}")
                    expect(not pos, f"missing positive[{i},{j},{k}] = {pos}")
                    expect(tag == "", f"missing tag[{i},{j},{k}] = {tag!r}")


def check_faulty(path):
    ds = open_zarr(path)
    modes = list(ds["mode"].values)
    for i, mode in enumerate(modes):
        for j, x in enumerate(ds.x.values):
            y = ds.y.values[i, j]
            status = ds.xyz_status.values[i, j]
            error = ds.xyz_error.values[i, j]
            if mode == "ok":
                expect(y == x + 1.0, f"faulty(ok, {x}) = {y}")
                expect(status == 0 and error == "", f"faulty(ok, {x}): {status} {error!r}")
            else:
                expect(math.isnan(y), f"faulty({mode}, {x}) = {y}, expected missing")
                expect(status == 1, f"faulty({mode}, {x}): status {status}")
                kind = "panic" if mode == "panic" else ("error" if mode == "err" else "")
                expect(error.startswith(kind), f"faulty({mode}, {x}): error {error!r}")


def check_csv_stats(path):
    df = pd.read_csv(path)
    print(df)
    expect(list(df.columns) == ["n", "x", "prod", "ratio", "xyz_status", "xyz_error"],
           f"columns {list(df.columns)}")
    expect((df["xyz_status"] == 0).all(), "every case ok")
    np.testing.assert_array_equal(df["prod"], df["x"] * df["n"])
    np.testing.assert_array_equal(df["ratio"], df["x"] / df["n"])
    expect(df["n"].dtype == np.int64, f"n dtype {df['n'].dtype}")


def check_list_recipes(prefix):
    """The recipes the README gives for an array output as one list: duckdb and polars."""
    import duckdb
    import polars as pl

    z = xr.open_zarr(prefix + ".zarr").load()
    want = {(float(a), float(b)): z.y.sel(a=a, b=b).values.tolist()
            for a in z.a.values for b in z.b.values}
    rows = duckdb.sql(
        f"SELECT a, b, list_value(*COLUMNS('^y\\[')) AS y FROM '{prefix}.parquet'"
    ).fetchall()
    got = {(a, b): y for a, b, y in rows}
    expect(got == want, f"duckdb: {got} != {want}")
    df = pl.read_parquet(prefix + ".parquet").select(
        "a", "b", pl.concat_list(pl.col(r"^y\[.*\]$")).alias("y"))
    got = {(r["a"], r["b"]): r["y"] for r in df.iter_rows(named=True)}
    expect(got == want, f"polars: {got} != {want}")


def check_json_ramp(path):
    with open(path) as f:
        rows = json.load(f)
    df = pd.DataFrame.from_records(rows)
    print(df)
    expect(list(df.columns) == ["a", "b", "y", "xyz_status", "xyz_error"], f"columns {list(df.columns)}")
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


def is_missing(v):
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def same(a, b):
    """Whether a value read from a table equals one read from the Zarr store."""
    if isinstance(b, (bool, np.bool_)) or isinstance(a, (bool, np.bool_)):
        return bool(a) == bool(b) and float(a) == float(b)
    if isinstance(b, str) or isinstance(a, str):
        return str(a) == str(b)
    return float(a) == float(b) or (math.isnan(float(a)) and math.isnan(float(b)))


def check_rows(name, df, z, elements_as_lists=False):
    """Checks a table of one row per case against the Zarr store `z`: its columns, and for
    every row its coordinates, constants and outputs; missing outputs must be missing in both
    (a missing string reads "" from Zarr)."""
    dims = list(z.xyz_status.dims)
    consts = [k for k in z.attrs if not k.startswith("xyz_")]
    expect(list(df.columns[: len(dims)]) == dims, f"{name}: columns {list(df.columns)}")
    for c in consts:
        expect((df[c] == z.attrs[c]).all(), f"{name}: constant {c}")
    zvals = {v: z[v].values for v in z.data_vars}
    status = zvals["xyz_status"]
    index = {d: {same_key(x): i for i, x in enumerate(z[d].values)} for d in dims}
    seen = set()
    for row in df.to_dict("records"):
        at = tuple(index[d][same_key(row[d])] for d in dims)
        expect(at not in seen, f"{name}: row {row} twice")
        seen.add(at)
        expect(status[at] != 3, f"{name}: a row {row} for a cell no case reaches")
        for v in z.data_vars:
            zv = zvals[v][at]
            extra = z[v].dims[len(dims):]
            if status[at] != 0 and not v.startswith("xyz_"):
                # The outputs of a case that has none are missing in a table, whatever the
                # dataset holds in their place.
                cols = [v] if not extra or elements_as_lists else [
                    f"{v}[{','.join(map(str, idx))}]" for idx in np.ndindex(*zv.shape)
                ]
                for col in cols:
                    expect(is_missing(row[col]), f"{name}: {col} at {row} is not missing")
                continue
            if not extra:
                cells = [(v, zv)]
            elif elements_as_lists:
                got = row[v]
                want = zv.tolist()
                if got is None:
                    expect(all(math.isnan(w) for w in np.ravel(zv)), f"{name}: {v} at {row}")
                else:
                    expect(got == want, f"{name}: {v} at {row}: {got} != {want}")
                continue
            else:
                cells = [
                    (f"{v}[{','.join(map(str, idx))}]", zv[idx])
                    for idx in np.ndindex(*zv.shape)
                ]
            for col, want in cells:
                got = row[col]
                if is_missing(got):
                    expect(
                        (isinstance(want, str) and want == "") or is_missing(float(want))
                        if not isinstance(want, str)
                        else want == "",
                        f"{name}: {col} at {row} is missing, Zarr has {want!r}",
                    )
                else:
                    expect(same(got, want), f"{name}: {col} at {row}: {got!r} != {want!r}")
    n_cells = int((status != 3).sum())
    expect(len(seen) == n_cells, f"{name}: {len(seen)} rows for {n_cells} cells cases reach")


def same_key(x):
    if isinstance(x, (bool, np.bool_)):
        return ("b", bool(x))
    if isinstance(x, str):
        return ("s", x)
    return ("n", float(x))


NUMPY_KIND = {"f64": "f", "i64": "i", "bool": "b", "str": "OUT"}
ARROW_TYPE = {"f64": "double", "i64": "int64", "bool": "bool", "str": "string"}
POLARS_TYPE = {"f64": "Float64", "i64": "Int64", "bool": "Boolean", "str": "String"}
DUCKDB_TYPE = {"f64": "DOUBLE", "i64": "BIGINT", "bool": "BOOLEAN", "str": "VARCHAR"}


def outputs(z):
    """The outputs the signature in `xyz_function` declares, with their types."""
    sig = z.attrs["xyz_function"]
    inner = sig.split("->", 1)[1].strip().strip("()")
    out = {}
    for part in inner.split(","):
        name, ty = (p.strip() for p in part.split(":"))
        out[name] = ty.split("[")[0]
    return out


def check_types(z, n, prefix):
    """Every output has its declared type in every format, whatever failed; the status is a
    signed byte."""
    import duckdb
    import polars as pl
    import pyarrow.parquet as pq

    for name, ty in outputs(z).items():
        for label, ds in (("zarr", z), ("netcdf", n)):
            kind = ds[name].dtype.kind
            expect(kind in NUMPY_KIND[ty], f"{label}: {name} ({ty}) reads as {ds[name].dtype}")
    for label, ds in (("zarr", z), ("netcdf", n)):
        expect(ds.xyz_status.dtype == np.int8, f"{label}: xyz_status is {ds.xyz_status.dtype}")
    schema = pq.read_schema(prefix + ".parquet")
    pl_schema = pl.read_parquet_schema(prefix + ".parquet")
    described = duckdb.sql(f"DESCRIBE SELECT * FROM '{prefix}.parquet'").fetchall()
    db = {r[0]: r[1] for r in described}
    for name, ty in outputs(z).items():
        cols = [c for c in schema.names if c == name or c.startswith(name + "[")]
        expect(cols, f"parquet: no column for {name}")
        for c in cols:
            expect(str(schema.field(c).type) == ARROW_TYPE[ty],
                   f"parquet: {c} ({ty}) is {schema.field(c).type}")
            expect(str(pl_schema[c]) == POLARS_TYPE[ty], f"polars: {c} ({ty}) is {pl_schema[c]}")
            expect(db[c] == DUCKDB_TYPE[ty], f"duckdb: {c} ({ty}) is {db[c]}")
    expect(str(schema.field("xyz_status").type) == "int8", "parquet: xyz_status")
    expect(str(pl_schema["xyz_status"]) == "Int8", "polars: xyz_status")
    expect(db["xyz_status"] == "TINYINT", "duckdb: xyz_status")


def check_failures(z, prefix):
    """polars and duckdb find the failed cases, with their messages, where xarray does."""
    import duckdb
    import polars as pl

    dims = list(z.xyz_status.dims)
    want = sorted(
        (tuple(same_key(z[d].values[i]) for d, i in zip(dims, at)), str(z.xyz_error.values[at]))
        for at in zip(*np.nonzero(z.xyz_status.values == 1))
    )
    df = pl.read_parquet(prefix + ".parquet").filter(pl.col("xyz_status") == 1)
    got = sorted(
        (tuple(same_key(r[d]) for d in dims), r["xyz_error"]) for r in df.iter_rows(named=True)
    )
    expect(got == want, f"polars: failures {got} != {want}")
    rows = duckdb.sql(
        f"SELECT {', '.join(dims)}, xyz_error FROM '{prefix}.parquet' WHERE xyz_status = 1"
    ).fetchall()
    got = sorted((tuple(same_key(v) for v in r[:-1]), r[-1]) for r in rows)
    expect(got == want, f"duckdb: failures {got} != {want}")
    expect(all(e != "" for _, e in want), f"a failure without a message: {want}")


def check_formats(prefix):
    z = xr.open_zarr(prefix + ".zarr").load()
    print(z)
    n = xr.open_dataset(prefix + ".nc").load()
    print(n)
    xr.testing.assert_identical(n, z)
    for v in z.variables:
        expect(n[v].dtype.kind == z[v].dtype.kind or z[v].dtype.kind in "OUT",
               f"netcdf: {v} is {n[v].dtype}, Zarr {z[v].dtype}")

    check_types(z, n, prefix)
    check_failures(z, prefix)

    p = pd.read_parquet(prefix + ".parquet")
    print(p)
    for d in z.xyz_status.dims:
        if d in z.coords:
            expect(p[d].dtype == z[d].dtype or z[d].dtype.kind in "OUT",
                   f"parquet: {d} is {p[d].dtype}, Zarr {z[d].dtype}")
    check_rows("parquet", p, z)

    c = pd.read_csv(prefix + ".csv", keep_default_na=False, na_values=[""])
    print(c)
    check_rows("csv", c, z)

    with open(prefix + ".json") as f:
        j = pd.DataFrame.from_records(json.load(f))
    print(j)
    check_rows("json", j, z, elements_as_lists=True)


def check_samples(prefix):
    """A sampled mandel study (256 Sobol points over x in [-2, 0.5] and y in [-1.25, 1.25],
    at each maxiter): a `sample` dim with x and y as coordinates along it, in every format."""
    ds = xr.open_zarr(prefix + ".zarr")
    print(ds)
    expect(list(ds.n.dims) == ["sample", "maxiter"], f"dims {ds.n.dims}")
    for name in ("x", "y"):
        expect(name in ds.coords and ds[name].dims == ("sample",), f"{name} is a coordinate")
    x, y = ds.x.values, ds.y.values
    expect(((-2.0 <= x) & (x < 0.5)).all() and ((-1.25 <= y) & (y < 1.25)).all(), "bounds")
    # Scrambled Sobol: each of 256 equal slices of each axis holds exactly one point.
    for v, lo, hi in ((x, -2.0, 0.5), (y, -1.25, 1.25)):
        slots = np.floor((v - lo) / (hi - lo) * len(v)).astype(int)
        expect(sorted(slots) == list(range(len(v))), "one point in each slice")
    for i in range(ds.sizes["sample"]):
        for j, maxiter in enumerate(ds.maxiter.values):
            want = mandel(float(x[i]), float(y[i]), int(maxiter))
            expect(int(ds.n.values[i, j]) == want, f"mandel at sample {i}")
    nc = xr.open_dataset(prefix + ".nc")
    expect(nc.x.dims == ("sample",) and "x" in nc.coords, "netCDF: x a coordinate")
    np.testing.assert_array_equal(nc.x.values, x)
    np.testing.assert_array_equal(nc.n.values, ds.n.values)
    rows = [
        ("parquet", pd.read_parquet(prefix + ".parquet")),
        ("csv", pd.read_csv(prefix + ".csv")),
        ("json", pd.DataFrame(json.load(open(prefix + ".json")))),
    ]
    for name, df in rows:
        expect(list(df.columns[:4]) == ["sample", "maxiter", "x", "y"], f"{name}: {df.columns}")
        expect(len(df) == ds.n.size, f"{name}: one row per case")
        for _, r in df.iterrows():
            i, j = int(r["sample"]), list(ds.maxiter.values).index(r["maxiter"])
            expect(r["x"] == x[i] and r["y"] == y[i], f"{name}: sample {i}'s x and y")
            expect(r["n"] == ds.n.values[i, j], f"{name}: n at sample {i}")


def peak(x, a):
    return x + a * a / (a * a + x * x)


def check_adaptive(prefix):
    """A 1D adaptive study of `peak` (a = 0.01, 300 points over x in [-1, 1]): a `point` dim
    numbered from 0 with x a coordinate along it, every value the function's, the points
    gathered at the peak, in every format."""
    ds = xr.open_zarr(prefix + ".zarr")
    print(ds)
    expect(list(ds.y.dims) == ["point"], f"dims {ds.y.dims}")
    expect("x" in ds.coords and ds.x.dims == ("point",), "x is a coordinate along point")
    n = ds.sizes["point"]
    expect(n == 300, f"{n} points")
    np.testing.assert_array_equal(ds.point.values, np.arange(n))
    x, y = ds.x.values, ds.y.values
    expect(x[0] == -1.0 and 1.0 in x, "the bounds are evaluated")
    expect(len(set(x.tolist())) == n, "no point is evaluated twice")
    expect(((-1.0 <= x) & (x <= 1.0)).all(), "within the bounds")
    for xi, yi in zip(x, y):
        expect(yi == peak(float(xi), 0.01), f"peak at {xi}")
    expect((ds.xyz_status.values == 0).all(), "every point a value")
    near = int((np.abs(x) < 0.05).sum())
    expect(near > n // 4, f"{near} of {n} points within 0.05 of the peak")
    expect("xyz_adaptive" in ds.attrs and ds.attrs["xyz_adaptive_loss"] > 0, "provenance")
    nc = xr.open_dataset(prefix + ".nc")
    expect(nc.x.dims == ("point",) and "x" in nc.coords, "netCDF: x a coordinate")
    np.testing.assert_array_equal(nc.x.values, x)
    np.testing.assert_array_equal(nc.y.values, y)
    rows = [
        ("parquet", pd.read_parquet(prefix + ".parquet")),
        ("csv", pd.read_csv(prefix + ".csv")),
        ("json", pd.DataFrame(json.load(open(prefix + ".json")))),
    ]
    for name, df in rows:
        expect(list(df.columns[:2]) == ["point", "x"], f"{name}: {df.columns}")
        expect(len(df) == n, f"{name}: one row per point")
        expect((df["a"] == 0.01).all(), f"{name}: the constant a on every row")
        np.testing.assert_array_equal(df["x"].to_numpy(), x)
        np.testing.assert_array_equal(df["y"].to_numpy(), y)


def ring(x, y, a):
    return x + math.exp(-((x * x + y * y - 0.75 * 0.75) ** 2) / a**4)


def check_adaptive_ring(path):
    """A 2D adaptive study of `ring` over x, y in [-1, 1] with combos a = [0.2, 0.5], 120
    points (a crop's, reaped): a `point` dim with a, x and y coordinates along it, every value
    the function's, each ring given its share of points, and the study recorded."""
    ds = xr.open_zarr(path)
    print(ds)
    expect(list(ds.z.dims) == ["point"], f"dims {ds.z.dims}")
    for name in ["a", "x", "y"]:
        expect(name in ds.coords and ds[name].dims == ("point",), f"{name} along point")
    expect(ds.sizes["point"] == 120, f"{ds.sizes['point']} points")
    a, x, y, z = (ds[v].values for v in ["a", "x", "y", "z"])
    for ai, xi, yi, zi in zip(a, x, y, z):
        expect(abs(zi - ring(float(xi), float(yi), float(ai))) < 1e-12, f"ring at {xi}, {yi}")
    for w in [0.2, 0.5]:
        expect(int((a == w).sum()) >= 20, f"a = {w}: {int((a == w).sum())} of 120 points")
    for w in [0.2, 0.5]:
        corners = {(float(xi), float(yi)) for ai, xi, yi in zip(a, x, y) if ai == w}
        expect({(-1.0, -1.0), (1.0, 1.0)} <= corners, f"a = {w}: the corners are evaluated")
    expect((ds.xyz_status.values == 0).all(), "every point a value")
    expect(ds.attrs["xyz_adaptive_rounds"] == "8x15", ds.attrs["xyz_adaptive_rounds"])
    expect(ds.attrs["xyz_adaptive_loss"] > 0, "the loss is recorded")


def check_samples_marginals(path):
    """`stats` sampled by a Latin hypercube: x ~ normal(1, 2), n ~ integers [1, 10]."""
    ds = open_zarr(path)
    x, n = ds.x.values, ds.n.values
    expect(ds.x.dims == ("sample",) and ds.n.dims == ("sample",), "x and n along sample")
    expect(abs(x.mean() - 1.0) < 0.1 and abs(x.std() - 2.0) < 0.1, f"{x.mean()} {x.std()}")
    counts = np.bincount(n, minlength=11)
    expect(counts[0] == 0 and (counts[1:] == len(n) // 10).all(), f"{counts}")


def resolvent(e, eta, level):
    """The example `resolvent`, computed here: g = 1 / (e + i eta - level), -Im g / pi and
    g exp(i k e) for k in 0..4; None where eta is not above zero (the case fails)."""
    if eta <= 0:
        return None
    g = 1 / (complex(e, eta) - level)
    return g, -g.imag / math.pi, [g * np.exp(1j * k * e) for k in range(4)]


def check_complex_zarr(path):
    """A resolvent study in Zarr: complex128 variables and coordinate, as xarray reads them,
    with NaN+NaNj and status 1 where eta = 0 failed."""
    ds = open_zarr(path)
    for name in ("g", "wave", "level"):
        expect(ds[name].dtype == np.complex128, f"{name} is {ds[name].dtype}")
    expect(ds.dos.dtype == np.float64, f"dos is {ds.dos.dtype}")
    expect(list(ds.wave.dims) == ["e", "level", "eta", "site"], f"wave dims {ds.wave.dims}")
    for i, e in enumerate(ds.e.values):
        for j, level in enumerate(ds.level.values):
            for k, eta in enumerate(ds.eta.values):
                want = resolvent(float(e), float(eta), complex(level))
                at = (i, j, k)
                status = int(ds.xyz_status.values[at])
                if want is None:
                    expect(status == 1, f"status at {at}")
                    expect(np.isnan(ds.g.values[at].real) and np.isnan(ds.g.values[at].imag),
                           f"g missing at {at}")
                    expect("eta must be above zero" in str(ds.xyz_error.values[at]), "message")
                    continue
                expect(status == 0, f"status at {at}")
                g, dos, wave = want
                expect(np.isclose(ds.g.values[at], g, rtol=1e-12, atol=0), f"g at {at}")
                expect(np.isclose(ds.dos.values[at], dos, rtol=1e-12, atol=1e-300), f"dos {at}")
                expect(np.allclose(ds.wave.values[at], wave, rtol=1e-12, atol=1e-15), f"wave {at}")
    return ds


def check_complex(prefix):
    """The resolvent study in Zarr (see check_complex_zarr), and in Parquet (read by pandas,
    polars and DuckDB), CSV and JSON as real and imaginary parts, `NAME.re` and `NAME.im`,
    that make the Zarr store's complex values again."""
    ds = check_complex_zarr(prefix + ".zarr")
    import duckdb
    import polars as pl

    pq = prefix + ".parquet"
    rows = [
        ("parquet", pd.read_parquet(pq)),
        ("polars", pl.read_parquet(pq).to_pandas()),
        ("duckdb", duckdb.sql(f"SELECT * FROM '{pq}'").df()),
        ("csv", pd.read_csv(prefix + ".csv")),
    ]
    for name, df in rows:
        expect(list(df.columns[:3]) == ["e", "level.re", "level.im"], f"{name}: {df.columns}")
        expect(df["g.re"].dtype == np.float64, f"{name}: g.re is {df['g.re'].dtype}")
        expect(len(df) == ds.g.size, f"{name}: one row per case")
        levels = list(ds.level.values)
        for _, r in df.iterrows():
            i = list(ds.e.values).index(r["e"])
            j = levels.index(complex(r["level.re"], r["level.im"]))
            k = list(ds.eta.values).index(r["eta"])
            if int(r["xyz_status"]) != 0:
                expect(pd.isna(r["g.re"]) and pd.isna(r["g.im"]), f"{name}: missing g")
                continue
            g = r["g.re"] + 1j * r["g.im"]
            expect(g == ds.g.values[i, j, k], f"{name}: g at {(i, j, k)}: {g}")
            for s in range(4):
                w = r[f"wave[{s}].re"] + 1j * r[f"wave[{s}].im"]
                expect(w == ds.wave.values[i, j, k, s], f"{name}: wave[{s}] at {(i, j, k)}")
    records = json.load(open(prefix + ".json"))
    expect(len(records) == ds.g.size, "json: one record per case")
    for r in records:
        i = list(ds.e.values).index(r["e"])
        j = list(ds.level.values).index(complex(r["level.re"], r["level.im"]))
        k = list(ds.eta.values).index(r["eta"])
        if r["xyz_status"] != 0:
            expect(r["g.re"] is None and r["wave.re"] is None, "json: missing values are null")
            continue
        expect(complex(r["g.re"], r["g.im"]) == ds.g.values[i, j, k], "json: g")
        wave = [complex(a, b) for a, b in zip(r["wave.re"], r["wave.im"])]
        expect(wave == list(ds.wave.values[i, j, k]), "json: wave")


CHECKS = {
    "complex": check_complex,
    "complex-zarr": check_complex_zarr,
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
    "formats": check_formats,
    "samples": check_samples,
    "adaptive": check_adaptive,
    "adaptive-ring": check_adaptive_ring,
    "samples-marginals": check_samples_marginals,
    "list-recipes": check_list_recipes,
}

if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    CHECKS[kind](path)
    print(f"ok: {kind}")
