#!/usr/bin/env python3
"""Peak memory of reaping and merging 10^7 cases, against the size of the values written.

Usage: bench_harvest.py XYZ ADD_WASM    (scripts/bench.sh passes both)

`add` over a = 0..10^4 by b = 0..10^3 is sown in two crops of 5*10^6 cases (a below and from
5000), grown, then:
  - the whole grid is reaped from a third crop into one store, in each format;
  - the first half is reaped into a store and the second merged into it with --into;
  - the same with `xyz run --into`, which merges as it evaluates.
Each figure is the peak RSS of that one xyz process (from wait4), divided by the bytes of the
values the dataset it writes holds (8 per cell: `sum` is f64). Outputs are compressed, so their
size on disk says little of what a writer holds. The target is <= 1.5.

Then reaping to Zarr streams: the peak RSS of reaping 10^7 and 4*10^7 cases to a Zarr store,
and their ratio (targets: both under 64 MiB, within 1.3x of each other).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

XYZ, ADD = sys.argv[1], sys.argv[2]


def run(args, cwd):
    """Runs xyz ARGS in CWD; returns (seconds, peak RSS in bytes)."""
    began = time.perf_counter()
    proc = subprocess.Popen([XYZ, *args], cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"xyz {' '.join(args)} failed: {status}")
    return time.perf_counter() - began, usage.ru_maxrss * 1024


def size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files
    )


def spec(cwd, name, a0, a1):
    path = os.path.join(cwd, f"{name}.toml")
    with open(path, "w") as f:
        f.write(
            f'function = "{ADD}"\n[combos]\na = {{ range = [{a0}, {a1}, 1] }}\n'
            f"b = {{ range = [0, 1000, 1] }}\n[constants]\nc = 0\n"
        )
    return path


def sow(cwd, name, a0, a1):
    run(["sow", spec(cwd, name, a0, a1), "--name", name, "--batchsize", "100000", "-q"], cwd)
    run(["grow", name, "-q"], cwd)


def row(what, seconds, rss, cells, out):
    values = 8 * cells
    ratio = rss / values
    print(
        f"{what:<44} {seconds:>6.2f} s  peak {rss / 2**20:>7.1f} MiB  "
        f"values {values / 2**20:>6.1f} MiB  on disk {out / 2**20:>6.1f} MiB  "
        f"ratio {ratio:>5.2f}  (target <= 1.5)"
    )


def reap_scaling(cwd):
    peaks = []
    for n_a in [10000, 40000]:
        name = f"s{n_a}"
        sow(cwd, name, 0, n_a)
        out = os.path.join(cwd, f"{name}.zarr")
        t, rss = run(["reap", name, "-o", out, "-q"], cwd)
        cells = n_a * 1000
        print(
            f"{f'reap {cells:.0e} cases to .zarr, streaming':<44} {t:>6.2f} s  "
            f"peak {rss / 2**20:>7.1f} MiB  (target < 64 MiB)"
        )
        peaks.append(rss)
        shutil.rmtree(out)
    print(f"{'peak RSS, 4*10^7 over 10^7 cases':<44} ratio {peaks[1] / peaks[0]:>5.2f}"
          "  (target <= 1.3)")


def main():
    os.environ["XYZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="xyz-bench-cache-")
    print(f"xyz harvest memory · 10^7 add cases · {os.cpu_count()} logical cores\n")
    with tempfile.TemporaryDirectory() as cwd:
        sow(cwd, "all", 0, 10000)
        for ext in ["zarr", "nc", "parquet"]:
            out = os.path.join(cwd, f"all.{ext}")
            t, rss = run(["reap", "all", "--keep", "-o", out, "-q"], cwd)
            row(f"reap 10^7 cases to .{ext}", t, rss, 10**7, size(out))

        sow(cwd, "low", 0, 5000)
        sow(cwd, "high", 5000, 10000)
        for ext in ["zarr", "nc", "parquet"]:
            into = os.path.join(cwd, f"merged.{ext}")
            t, rss = run(["reap", "low", "--keep", "--into", into, "-q"], cwd)
            row(f"reap 5*10^6 cases into a new .{ext}", t, rss, 5 * 10**6, size(into))
            t, rss = run(["reap", "high", "--keep", "--into", into, "-q"], cwd)
            row("merge 5*10^6 more into it: 10^7 in all", t, rss, 10**7, size(into))

        into = os.path.join(cwd, "run.zarr")
        t, rss = run(["run", spec(cwd, "rlow", 0, 5000), "--into", into, "-q"], cwd)
        row("xyz run of 5*10^6 cases into a new .zarr", t, rss, 5 * 10**6, size(into))
        t, rss = run(["run", spec(cwd, "rhigh", 5000, 10000), "--into", into, "-q"], cwd)
        row("xyz run of 5*10^6 more --into it: 10^7 in all", t, rss, 10**7, size(into))
        print()
        reap_scaling(cwd)


if __name__ == "__main__":
    main()
