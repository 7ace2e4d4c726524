#!/usr/bin/env python3
"""Adaptive studies against python-adaptive, on its own tutorial functions.

    python3 scripts/bench_adaptive.py XYZ GUEST_DIR

XYZ is the xyz binary (a release build), GUEST_DIR holds example_peak.wasm and
example_ring.wasm; python-adaptive (PyPI `adaptive`), scipy, numpy and xarray must import.
Prints, in one run:

- the interpolation error (L1 against a dense reference, linear interpolation through the
  points) of `xyz run` with `[adaptive]`, of python-adaptive's Learner1D/Learner2D at the same
  number of evaluations (told one point at a time, its best), and of a uniform grid, for the
  1D `peak` (a = 0.01, 1000 points) and the 2D `ring` (a = 0.2, 2000 points): targets xyz <=
  1.1x adaptive and <= 1/5 of the grid;
- the planner's own cost per point, growing a 2D study to 10^4 points in rounds of 16, xyz
  (`planning_seconds` of `run --json`) against adaptive (the time of its ask and tell calls,
  with the function's time left out): target <= 1/50;
- the wall time of a study of a function that takes about 10 ms, with 2 workers, against the
  evaluations times the time of one call (timed on a grid of the same function) over 2:
  target <= 1.15x;
- the same study as a crop (sow, two `xyz grow --worker` processes choosing its rounds, reap),
  its wall time against a run with the crop's engine settings (NaNs canonicalized), its
  dataset checked identical to the run's.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import xarray as xr
from scipy.interpolate import LinearNDInterpolator

import adaptive

XYZ, GUESTS = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
WORK = tempfile.mkdtemp(prefix="xyz-bench-adaptive-")


def peak(x, a=0.01):
    return x + a**2 / (a**2 + x**2)


def ring(xy, a=0.2):
    x, y = xy
    return x + np.exp(-((x**2 + y**2 - 0.75**2) ** 2) / a**4)


def xyz(spec, name, *args):
    path = os.path.join(WORK, name + ".toml")
    with open(path, "w") as f:
        f.write(spec)
    out = os.path.join(WORK, name + ".zarr")
    started = time.perf_counter()
    done = subprocess.run(
        [XYZ, "run", path, "-o", out, "--force", "--json", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    return xr.open_zarr(out).load(), json.loads(done.stdout), wall


def l1_1d(xs, ys):
    order = np.argsort(xs)
    dense = np.linspace(-1, 1, 200_001)
    return np.mean(np.abs(np.interp(dense, xs[order], ys[order]) - peak(dense)))


DENSE_2D = np.linspace(-1, 1, 501)
GX, GY = np.meshgrid(DENSE_2D, DENSE_2D, indexing="ij")
TRUE_2D = ring((GX, GY))


def l1_2d(points, values):
    ip = LinearNDInterpolator(points, values)
    return np.nanmean(np.abs(ip(GX, GY) - TRUE_2D))


def row(name, value, target=None):
    line = f"{name:<58} {value}"
    if target:
        line += f"   (target {target})"
    print(line, flush=True)


# 1. Interpolation error at the same number of evaluations.
N1, N2 = 1000, 2000
ds, _, _ = xyz(
    f'function = "{GUESTS}/example_peak.wasm"\n[constants]\na = 0.01\n'
    f"[adaptive]\nx = [-1.0, 1.0]\nn = {N1}\n",
    "peak",
)
xyz_1d = l1_1d(ds.x.values, ds.y.values)
learner = adaptive.Learner1D(peak, bounds=(-1, 1))
adaptive.runner.simple(learner, npoints_goal=N1)
xs = np.array(list(learner.data.keys()))
ada_1d = l1_1d(xs, np.array([learner.data[x] for x in xs]))
grid = np.linspace(-1, 1, N1)
grid_1d = l1_1d(grid, peak(grid))
print(f"peak (1D, a = 0.01), {N1} points: L1 error of linear interpolation")
row("  xyz", f"{xyz_1d:.3e}")
row("  python-adaptive", f"{ada_1d:.3e}")
row("  uniform grid", f"{grid_1d:.3e}")
row("  xyz / python-adaptive", f"{xyz_1d / ada_1d:.2f}x", "<= 1.1x")
row("  xyz / grid", f"{xyz_1d / grid_1d:.3f}", "<= 0.2")

ds, _, _ = xyz(
    f'function = "{GUESTS}/example_ring.wasm"\n[constants]\na = 0.2\nspins = 0\n'
    f"[adaptive]\nx = [-1.0, 1.0]\ny = [-1.0, 1.0]\nn = {N2}\n",
    "ring",
)
xyz_2d = l1_2d(np.column_stack([ds.x.values, ds.y.values]), ds.z.values)
learner = adaptive.Learner2D(ring, bounds=[(-1, 1), (-1, 1)])
adaptive.runner.simple(learner, npoints_goal=N2)
pts = np.array(list(learner.data.keys()))
ada_2d = l1_2d(pts, np.array(list(learner.data.values())))
side = int(round(N2**0.5))
g = np.linspace(-1, 1, side)
gx, gy = np.meshgrid(g, g, indexing="ij")
grid_2d = l1_2d(np.column_stack([gx.ravel(), gy.ravel()]), ring((gx.ravel(), gy.ravel())))
print(f"ring (2D, a = 0.2), {N2} points: L1 error of linear interpolation")
row("  xyz", f"{xyz_2d:.3e}")
row("  python-adaptive", f"{ada_2d:.3e}")
row(f"  uniform grid ({side} x {side})", f"{grid_2d:.3e}")
row("  xyz / python-adaptive", f"{xyz_2d / ada_2d:.2f}x", "<= 1.1x")
row("  xyz / grid", f"{xyz_2d / grid_2d:.3f}", "<= 0.2")

# 2. The planner's own cost per point, to 10^4 points in 2D, in rounds of 16.
N3, K = 10_000, 16
_, summary, _ = xyz(
    f'function = "{GUESTS}/example_ring.wasm"\n[constants]\na = 0.2\nspins = 0\n'
    f"[adaptive]\nx = [-1.0, 1.0]\ny = [-1.0, 1.0]\nn = {N3}\nrounds = {K}\n",
    "ring_big",
    "-j",
    "1",
)
xyz_plan = summary["planning_seconds"] / N3
learner = adaptive.Learner2D(lambda xy: 0.0, bounds=[(-1, 1), (-1, 1)])
spent = 0.0
while learner.npoints < N3:
    started = time.perf_counter()
    points, _ = learner.ask(min(K, N3 - learner.npoints))
    spent += time.perf_counter() - started
    values = [ring(p) for p in points]
    started = time.perf_counter()
    for p, v in zip(points, values):
        learner.tell(p, v)
    learner.loss()
    spent += time.perf_counter() - started
ada_plan = spent / N3
print(f"planner's cost per point, 2D, to {N3} points in rounds of {K}")
row("  xyz", f"{xyz_plan * 1e6:.1f} us")
row("  python-adaptive", f"{ada_plan * 1e6:.1f} us")
row("  xyz / python-adaptive", f"1/{ada_plan / xyz_plan:.0f}", "<= 1/50")

# 3. Wall time of a study of a 10 ms function with 2 workers.
SPINS, N4 = 1, 8
# Find the spins that take about 10 ms a call, from a grid timed with one thread.
while True:
    _, summary, _ = xyz(
        f'function = "{GUESTS}/example_ring.wasm"\n[constants]\na = 0.2\ny = 0.0\n'
        f"spins = {SPINS}\n[combos]\nx = {{ linspace = [-1.0, 1.0, {N4}] }}\n",
        "ring_calibrate",
        "-j",
        "1",
    )
    per_call = summary["elapsed_seconds"] / N4
    if per_call >= 0.009:
        break
    SPINS = int(SPINS * max(2.0, 0.0105 / max(per_call, 1e-7)))
N5 = 400
_, summary, _ = xyz(
    f'function = "{GUESTS}/example_ring.wasm"\n[constants]\na = 0.2\nspins = {SPINS}\n'
    f"[combos]\nx = {{ linspace = [-1.0, 1.0, {N5}] }}\ny = [0.0]\n",
    "ring_grid",
    "-j",
    "1",
)
per_call = summary["elapsed_seconds"] / N5
_, summary, wall = xyz(
    f'function = "{GUESTS}/example_ring.wasm"\n[constants]\na = 0.2\nspins = {SPINS}\n'
    f"[adaptive]\nx = [-1.0, 1.0]\ny = [-1.0, 1.0]\nn = {N5}\n",
    "ring_slow",
    "-j",
    "2",
)
floor = N5 * per_call / 2
print(f"a study of {N5} points of a function of {per_call * 1e3:.1f} ms a call, 2 workers")
row("  wall time of xyz run", f"{wall:.2f} s")
row("  evaluations x time of a call / 2", f"{floor:.2f} s")
row("  ratio", f"{wall / floor:.3f}x", "<= 1.15x")

# 4. The same study as a crop, grown by two worker processes that choose its rounds. Crops
# canonicalize NaNs (so that nodes of any architecture give the same bits), which costs this
# float-heavy function time of its own: the crop is compared with a run that does too.
spec = os.path.join(WORK, "ring_slow.toml")
started = time.perf_counter()
subprocess.run(
    [XYZ, "run", spec, "-o", os.path.join(WORK, "ring_canon.zarr"), "-j", "2", "-q", "--force",
     "--canonicalize-nans"],
    check=True,
)
canon_wall = time.perf_counter() - started
crop_dir = os.path.join(WORK, "crop")
os.makedirs(crop_dir, exist_ok=True)
started = time.perf_counter()
subprocess.run([XYZ, "sow", spec, "--name", "ring", "-q"], cwd=crop_dir, check=True)
workers = [
    subprocess.Popen([XYZ, "grow", "ring", "--worker", "-j", "1", "-q"], cwd=crop_dir)
    for _ in range(2)
]
for w in workers:
    if w.wait() != 0:
        sys.exit("a worker failed")
out = os.path.join(WORK, "ring_crop.zarr")
subprocess.run([XYZ, "reap", "ring", "-o", out, "-q"], cwd=crop_dir, check=True)
crop_wall = time.perf_counter() - started
same = xr.open_zarr(out).load().identical(xr.open_zarr(os.path.join(WORK, "ring_slow.zarr")).load())
print(f"the same study as a crop: sow, 2 `xyz grow --worker` processes, reap (identical: {same})")
row("  wall time of xyz run -j 2 --canonicalize-nans", f"{canon_wall:.2f} s")
row("  wall time of the crop", f"{crop_wall:.2f} s")
row("  crop / run, both canonicalizing NaNs", f"{crop_wall / canon_wall:.3f}x")
if not same:
    sys.exit("the crop's dataset is not the run's")
