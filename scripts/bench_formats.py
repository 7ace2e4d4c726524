#!/usr/bin/env python3
"""Dataset sizes and write speed against what xarray and pandas give, as ratios in one run.

    python3 scripts/bench_formats.py XYZ MANDEL_WASM ADD_WASM

- mandel over 3163 x 3162 (10^7 int64 cells, maxiter 1000): the bytes of xyz's Zarr store
  against xarray's default `to_zarr` of the same dataset (target <= 1.2), and of xyz's
  Parquet file against pandas' default `to_parquet` of the same table (target <= 1.2);
- add over 10^7 cells: the time xyz takes to write them as compressed Zarr against the same
  run writing them uncompressed (target <= 1.3). A write's time is the run's wall time less
  its evaluation time (the `elapsed_seconds` its JSON summary reports); best of 3.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings


def du(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def run(xyz, args, cwd):
    began = time.perf_counter()
    out = subprocess.run([xyz, "run", *args, "--json"], cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - began
    return wall, json.loads(out.stdout)["elapsed_seconds"]


def main():
    xyz, mandel, add = sys.argv[1:4]
    import pandas as pd
    import xarray as xr

    work = tempfile.mkdtemp(prefix="xyz-bench-formats-")
    try:
        grid = [
            "--function", mandel,
            "--combo", "y={ linspace = [-1.25, 1.25, 3163] }",
            "--combo", "x={ linspace = [-2.0, 0.5, 3162] }",
            "--constant", "maxiter=1000", "-q",
        ]
        run(xyz, grid + ["-o", "m.zarr"], work)
        run(xyz, grid + ["-o", "m.parquet"], work)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = xr.open_zarr(os.path.join(work, "m.zarr")).load().drop_encoding()
            ds.to_zarr(os.path.join(work, "xr.zarr"))
        df = pd.read_parquet(os.path.join(work, "m.parquet"))
        df.to_parquet(os.path.join(work, "pd.parquet"))
        zarr_ratio = du(os.path.join(work, "m.zarr")) / du(os.path.join(work, "xr.zarr"))
        pq_ratio = du(os.path.join(work, "m.parquet")) / du(os.path.join(work, "pd.parquet"))

        cells = [
            "--function", add,
            "--combo", "a={ range = [0, 10000, 1] }",
            "--combo", "b={ range = [0, 1000, 1] }",
            "--constant", "c=0", "-q", "--force",
        ]

        def write_time(extra):
            best = float("inf")
            for _ in range(3):
                wall, evaluating = run(xyz, cells + ["-o", "a.zarr"] + extra, work)
                best = min(best, wall - evaluating)
            return best

        plain = write_time(["--compression", "none"])
        zstd = write_time([])
        print(f"{'what':<58} {'xyz':>12} {'theirs':>12} {'ratio':>7}  target")
        print(
            f"{'mandel 3163x3162 as Zarr, bytes (xarray to_zarr default)':<58} "
            f"{du(os.path.join(work, 'm.zarr')):>12} {du(os.path.join(work, 'xr.zarr')):>12} "
            f"{zarr_ratio:>7.3f}  <= 1.2"
        )
        print(
            f"{'mandel 3163x3162 as Parquet, bytes (pandas default)':<58} "
            f"{du(os.path.join(work, 'm.parquet')):>12} {du(os.path.join(work, 'pd.parquet')):>12} "
            f"{pq_ratio:>7.3f}  <= 1.2"
        )
        print(
            f"{'add 10^7 cells to Zarr, write s (zstd vs uncompressed)':<58} "
            f"{zstd:>12.3f} {plain:>12.3f} {zstd / plain:>7.3f}  <= 1.3"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
