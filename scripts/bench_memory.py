#!/usr/bin/env python3
"""Peak resident memory of `xyz run` and `xyz reap` as sweeps grow, against the targets they are
held to: flat from 10^7 to 10^9 cells for a run to Zarr (a window of the grid at a time); flat
from 10^7 to 10^8 cells for a run to netCDF (through a spill) and for a merge of as many cells
into a Zarr store of as many; and flat from 10^7 to 4*10^7 cells for a long first dim, a long
last dim and a 3-D space, for runs and for reaps.

Usage: bench_memory.py XYZ ADD_WASM    (scripts/bench.sh passes both)

Each figure is the peak resident set (VmHWM, as wait4 reports it) of the xyz process alone.
"""

import os
import subprocess
import sys
import tempfile
import time

XYZ, ADD = sys.argv[1], sys.argv[2]
MIB = 1 << 20


def peak(args, cwd):
    """Runs xyz ARGS in CWD; gives (peak RSS in bytes, wall seconds)."""
    began = time.perf_counter()
    p = subprocess.Popen([XYZ, *args], cwd=cwd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    took = time.perf_counter() - began
    if status != 0:
        sys.exit(f"xyz {' '.join(args)} failed")
    return usage.ru_maxrss * 1024, took


def combos(sizes):
    args = []
    for name, n in zip("abc", sizes):
        args += ["--combo", f"{name}={{ range = [0, {n}] }}"]
    return args


def cells(sizes):
    n = 1
    for s in sizes:
        n *= s
    return n


def row(what, value, unit, target):
    print(f"{what:<66} {value:>9.2f} {unit:<4} {target}")


def run_peak(sizes, out="out.zarr"):
    with tempfile.TemporaryDirectory() as cwd:
        rss, took = peak(["run", "--function", ADD, *combos(sizes), *(["--constant", "c=0"]
                          if len(sizes) == 2 else []), "-o", out, "-q"], cwd)
        return rss, took


def run_merge(sizes):
    """Merges add over a = [A, 2A) x b = [0, B) into a Zarr store of a = [0, A) x b = [0, B)."""
    (n_a, n_b) = sizes
    with tempfile.TemporaryDirectory() as cwd:
        b = ["--combo", f"b={{ range = [0, {n_b}] }}", "--constant", "c=0"]
        subprocess.run([XYZ, "run", "--function", ADD, "--combo", f"a={{ range = [0, {n_a}] }}",
                        *b, "-o", "out.zarr", "-q"], cwd=cwd, check=True)
        return peak(["run", "--function", ADD, "--combo",
                     f"a={{ range = [{n_a}, {2 * n_a}] }}", *b, "--into", "out.zarr", "-q"], cwd)


def reap_peak(sizes):
    with tempfile.TemporaryDirectory() as cwd:
        const = ["--constant", "c=0"] if len(sizes) == 2 else []
        subprocess.run([XYZ, "sow", "--function", ADD, *combos(sizes), *const, "--name", "s",
                        "--batchsize", "100000", "-q"], cwd=cwd, check=True)
        subprocess.run([XYZ, "grow", "s", "-q"], cwd=cwd, check=True)
        return peak(["reap", "s", "-o", "out.zarr", "-q"], cwd)


def main():
    os.environ["XYZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="xyz-bench-cache-")
    print(f"xyz memory · {os.cpu_count()} logical cores · peak RSS of the xyz process\n")

    small, _ = run_peak((10_000, 1_000))
    big, took = run_peak((31_623, 31_623))
    row("xyz run add, 10^7 cells to Zarr: peak RSS", small / MIB, "MiB", "reported")
    row(f"xyz run add, 10^9 cells to Zarr: peak RSS ({took:.1f} s)", big / MIB, "MiB",
        "< 256 MiB")
    row("  10^9 vs 10^7: ratio", big / small, "x", "<= 1.3")

    # netCDF goes through a spill on disk: 10^8 cells write 1.8 GB twice.
    small, _ = run_peak((10_000, 1_000), "out.nc")
    big, took = run_peak((10_000, 10_000), "out.nc")
    row("xyz run add, 10^7 cells to netCDF: peak RSS", small / MIB, "MiB", "reported")
    row(f"xyz run add, 10^8 cells to netCDF: peak RSS ({took:.1f} s)", big / MIB, "MiB",
        "< 256 MiB")
    row("  10^8 vs 10^7: ratio", big / small, "x", "<= 1.3")

    # A merge into a Zarr store reads it and writes the merged one a window at a time.
    small, _ = run_merge((10_000, 1_000))
    big, took = run_merge((10_000, 10_000))
    row("xyz run --into, 10^7 cells into Zarr of 10^7: peak RSS", small / MIB, "MiB",
        "reported")
    row(f"xyz run --into, 10^8 cells into Zarr of 10^8: peak RSS ({took:.1f} s)", big / MIB,
        "MiB", "< 256 MiB")
    row("  10^8 vs 10^7: ratio", big / small, "x", "<= 1.3")

    shapes = {
        "a long first dim (a x 100)": ((100_000, 100), (400_000, 100)),
        "a long last dim (100 x b)": ((100, 100_000), (100, 400_000)),
        "a 3-D space (100 x 100 x c)": ((100, 100, 1_000), (100, 100, 4_000)),
    }
    for what, (one, four) in shapes.items():
        for verb, measure in (("run", run_peak), ("reap", reap_peak)):
            a, _ = measure(one)
            b, _ = measure(four)
            row(f"xyz {verb}, {what}: 10^7 cells", a / MIB, "MiB", "reported")
            row(f"xyz {verb}, {what}: 4*10^7 cells", b / MIB, "MiB", "reported")
            row(f"  4*10^7 vs 10^7: ratio", b / a, "x", "<= 1.3")


if __name__ == "__main__":
    main()
