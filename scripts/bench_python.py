#!/usr/bin/env python3
"""The Python module against xyzpy and against the command line, in one run.

Usage: bench_python.py XYZ ADD_WASM    (scripts/bench.sh passes both, and runs this with the
                                        Python of an environment holding the release wheel
                                        and xyzpy)

- `xyz.Runner.run_combos` of `add` over 10^6 cases (a, b = 0..999, c = 0), one thread (the
  default, as xyzpy's), against xyzpy's own `Runner.run_combos` of the same function written
  in Python, each Runner made beforehand (target: >= 25x faster); and a new Runner (loading the
  function) with its run_combos against `xyz run` of the same sweep with -j 1, whole process,
  writing Zarr (target: the module within 1.2x of it). Each figure is the best of five runs.
- The peak memory of handing a dataset of 10^7 cells (a = 0..9999, b = 0..999) to xarray, in a
  process of its own: its peak RSS above what it held before the run, over the bytes of the
  values (8 per cell; target <= 1.5).
"""

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

XYZ, ADD = sys.argv[1], sys.argv[2]


def best(f, n=5):
    times = []
    for _ in range(n):
        began = time.perf_counter()
        f()
        times.append(time.perf_counter() - began)
    return min(times)


def add(a, b, c):
    return a + b


def speed():
    import xyz
    import xyzpy

    combos = {"a": np.arange(1000.0), "b": np.arange(1000.0)}
    runner = xyz.Runner(ADD, constants={"c": 0.0})
    ours = best(lambda: runner.run_combos(combos, num_workers=1))
    loaded = best(lambda: xyz.Runner(ADD, constants={"c": 0.0}).run_combos(combos, num_workers=1))
    peer = xyzpy.Runner(add, var_names=["sum"])
    xyzpy_s = best(lambda: peer.run_combos(combos, constants={"c": 0.0}, verbosity=0))
    theirs = peer.last_ds
    assert np.array_equal(theirs["sum"].values, xyz.Runner(ADD, constants={"c": 0.0}).run_combos(combos)["sum"].values)
    with tempfile.TemporaryDirectory() as cwd:
        args = [XYZ, "run", "--function", ADD, "--combo", "a={ range = [0, 1000] }",
                "--combo", "b={ range = [0, 1000] }", "--constant", "c=0", "-j", "1", "-q",
                "-o", os.path.join(cwd, "out.zarr"), "--force"]
        cli = best(lambda: subprocess.run(args, check=True))
    print(f"{'Runner.run_combos, add, 10^6 cases, 1 thread':<50} {ours:>7.3f} s")
    print(f"{'xyzpy Runner.run_combos, the same in Python':<50} {xyzpy_s:>7.3f} s"
          f"  {xyzpy_s / ours:>6.1f}x faster  (target >= 25x)")
    print(f"{'xyz run -j 1, the same sweep, to Zarr':<50} {cli:>7.3f} s")
    print(f"{'a new Runner (loading add) and its run_combos':<50} {loaded:>7.3f} s"
          f"  module / cli {loaded / cli:>5.2f}x  (target <= 1.2x)")


# The peak is VmHWM, this process's own: ru_maxrss starts at the parent's peak (Linux keeps
# it across fork and exec).
MEMORY = """
import sys
import numpy as np
import xyz

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

r = xyz.Runner(sys.argv[1], constants={"c": 0.0})
r.run_combos({"a": [0.0], "b": [0.0]})
before = status("VmRSS")
ds = r.run_combos({"a": np.arange(10000.0), "b": np.arange(1000.0)}, parallel=True)
assert ds["sum"].shape == (10000, 1000)
peak = status("VmHWM")
print(before, peak, ds["sum"].nbytes, ds.nbytes)
"""


def memory():
    out = subprocess.run([sys.executable, "-c", MEMORY, ADD], capture_output=True, text=True, check=True)
    before, peak, values, held = map(int, out.stdout.split())
    print(f"{'10^7 cells handed to xarray: peak RSS over values':<50} {(peak - before) / 2**20:>7.1f} MiB"
          f"  {(peak - before) / values:>5.2f}x of {values / 2**20:.0f} MiB  (target <= 1.5x)")
    print(f"{'  the dataset as xarray counts it (ds.nbytes)':<50} {held / 2**20:>7.1f} MiB"
          "  (xyz_error counted, read lazily)")


def main():
    os.environ["XYZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="xyz-bench-cache-")
    print(f"xyz from Python · {os.cpu_count()} logical cores\n")
    speed()
    memory()


if __name__ == "__main__":
    main()
