#!/usr/bin/env python3
"""Times crops end to end with the release `xyz`, against the targets they are held to,
worker mode included.

Usage: bench_crops.py XYZ ADD_WASM [MANDEL_WASM]    (scripts/bench.sh passes all three)

Then crops of 10^7 cases in 10^3 to 10^5 batches: their time, and the files their results take.
The last rows start 16 and 64 worker processes over crops of 10^4 and 10^5 one-case batches:
the cost per batch, and its ratio between the two sizes. Last, what watching a crop costs: its
partial dataset of 10^6 cells in 10^3 packs, and growers watched against growers alone.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

XYZ, ADD = sys.argv[1], sys.argv[2]
MANDEL = sys.argv[3] if len(sys.argv) > 3 else None


def run(args, cwd):
    """Runs xyz ARGS in CWD; returns wall seconds."""
    began = time.perf_counter()
    subprocess.run([XYZ, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def row(what, value, unit, target, digits=1):
    print(f"{what:<64} {value:>9.{digits}f} {unit:<3} {target}")


def spec(cwd, a, b):
    path = os.path.join(cwd, "add.toml")
    with open(path, "w") as f:
        f.write(
            f'function = "{ADD}"\n[combos]\na = {{ range = [0, {a}, 1] }}\n'
            f"b = {{ range = [0, {b}, 1] }}\n[constants]\nc = 0\n"
        )
    return path


def mandel_spec(cwd, n, maxiter):
    """Writes m.toml in CWD: mandel over n x n points, up to maxiter; gives its path."""
    path = os.path.join(cwd, "m.toml")
    with open(path, "w") as f:
        f.write(
            f'function = "{MANDEL}"\n[combos]\n'
            f"y = {{ linspace = [-1.25, 1.25, {n}] }}\n"
            f"x = {{ linspace = [-2.0, 0.5, {n}] }}\n[constants]\nmaxiter = {maxiter}\n"
        )
    return path


def main():
    env_cache = tempfile.mkdtemp(prefix="xyz-bench-cache-")
    os.environ["XYZ_CACHE_DIR"] = env_cache
    print(f"xyz crops · {os.cpu_count()} logical cores · best of several runs\n")

    # sow + grow + reap of 10^6 add cases in batches of 10^4, all cores.
    totals = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as cwd:
            s = spec(cwd, 1000, 1000)
            t = run(["sow", s, "--batchsize", "10000", "-q"], cwd)
            t += run(["grow", "add", "-q"], cwd)
            t += run(["reap", "add", "-o", "add.zarr", "-q"], cwd)
            totals.append(t)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    row("sow + grow + reap, 10^6 add cases, batchsize 10^4", min(totals) * 1e3, "ms",
        "<= 1000 ms")
    row("  peak RSS of any xyz process", peak_mb, "MB", "<= 150 MB")

    with tempfile.TemporaryDirectory() as cwd:
        s = spec(cwd, 1000, 1000)
        run(["sow", s, "--batchsize", "10", "-q"], cwd)
        one = [run(["grow", "add", "--batches", str(i), "-q"], cwd) for i in range(1, 41)]
        row("a fresh `xyz grow --batches i`, 10 cases, warm cache (median)",
            statistics.median(one) * 1e3, "ms", "<= 15 ms")
        run(["grow", "add", "--batches", "41-50000", "-q"], cwd)
        st = [run(["status", "add"], cwd) for _ in range(15)]
        row("`xyz status` on 10^5 batches, half grown (median)",
            statistics.median(st) * 1e3, "ms", "<= 100 ms")

    # The batch size sow chooses when none is given, against the best of a few, on the README's
    # mandel sweep (400 x 400, maxiter 1000): sow + grow + reap, best of 3 each.
    if MANDEL:
        def mandel_crop(extra):
            best = float("inf")
            for _ in range(3):
                with tempfile.TemporaryDirectory() as cwd:
                    path = mandel_spec(cwd, 400, 1000)
                    t = run(["sow", path, "-q", *extra], cwd)
                    t += run(["grow", "m", "-q"], cwd)
                    t += run(["reap", "m", "-o", "m.zarr", "-q"], cwd)
                    best = min(best, t)
            return best

        chosen = mandel_crop([])
        sizes = {b: mandel_crop(["--batchsize", str(b)]) for b in (100, 1000, 10000)}
        best_size = min(sizes, key=sizes.get)
        row(f"mandel crop, sow's own batch size, vs the best ({best_size}): ratio",
            chosen / sizes[best_size], "x", "<= 2")

    # Worker mode: claim, grow, commit and release, for batches of one case.
    with tempfile.TemporaryDirectory() as cwd:
        s = spec(cwd, 100, 100)
        run(["sow", s, "--batchsize", "1", "-q"], cwd)
        run(["grow", "add", "--worker", "--max-batches", "1", "-j", "1", "-q"], cwd)
        n = 2000
        t = run(["grow", "add", "--worker", "--max-batches", str(n), "-j", "1", "-q"], cwd)
        row("worker mode, one worker, per batch of 1 case (claim, grow, commit)",
            t / n * 1e3, "ms", "<= 2 ms")
        left = 10000 - n - 1
        began = time.perf_counter()
        procs = [
            subprocess.Popen([XYZ, "grow", "add", "--worker", "-j", "1", "-q"], cwd=cwd)
            for _ in range(4)
        ]
        for p in procs:
            if p.wait() != 0:
                sys.exit("a worker failed")
        t = time.perf_counter() - began
        row(f"4 workers over the other {left} batches: batches per second",
            left / t, "/s", "reported")
        st = subprocess.run([XYZ, "status", "add", "--json"], cwd=cwd, check=True,
                            capture_output=True, text=True).stdout
        if '"grown": 10000' not in st:
            sys.exit(f"not every batch grown: {st}")

    crop_scaling()
    worker_scaling()
    watch_costs()


def crop_scaling():
    # Per batch, not per file: sow + grow + reap of 10^7 `add` cases in 10^3, 10^4 and 10^5
    # batches, and the files the results take; the time of the 10^5-batch crop against that of
    # the 10^3-batch one.
    took, files = {}, {}
    for batches in (1_000, 10_000, 100_000):
        best = float("inf")
        for _ in range(3):
            with tempfile.TemporaryDirectory() as cwd:
                s = spec(cwd, 10_000, 1_000)
                t = run(["sow", s, "--batchsize", str(10**7 // batches), "-q"], cwd)
                t += run(["grow", "add", "-q"], cwd)
                results = os.path.join(cwd, ".xyz-add", "results")
                names = os.listdir(results)
                size = sum(os.path.getsize(os.path.join(results, n)) for n in names)
                # A pack holds at most 1000 batches or 64 MiB of results.
                bound = max(-(-batches // 1000), -(-size // (64 << 20)))
                files[batches] = (len(names), bound)
                t += run(["reap", "add", "-o", "add.zarr", "-q"], cwd)
                best = min(best, t)
        took[batches] = best
        row(f"crop of 10^7 add cases in {batches} batches: sow + grow + reap", best * 1e3,
            "ms", "reported")
        row(f"  result files for {batches} batches grown by one process", files[batches][0],
            "", f"<= {files[batches][1]} (a file per 1000 batches or 64 MiB)")
    row("crop in 10^5 batches vs in 10^3: ratio", took[100_000] / took[1_000], "x", "<= 3")


def worker_scaling():
    # Workers that keep scaling: 16 and 64 worker processes over 10^4 and 10^5 batches of one
    # `add` case; the cost per batch at 10^5 against that at 10^4, and no batch grown twice
    # (no lease expires here) or lost.
    for workers in (16, 64):
        per_batch = {}
        for batches in (10_000, 100_000):
            with tempfile.TemporaryDirectory() as cwd:
                s = spec(cwd, batches, 1)
                run(["sow", s, "--batchsize", "1", "-q"], cwd)
                run(["grow", "add", "--worker", "--max-batches", "1", "-j", "1", "-q"], cwd)
                began = time.perf_counter()
                procs = [
                    subprocess.Popen(
                        [XYZ, "grow", "add", "--worker", "-j", "1", "--json"],
                        cwd=cwd, stdout=subprocess.PIPE, text=True,
                    )
                    for _ in range(workers)
                ]
                reports = [json.loads(p.communicate()[0]) for p in procs]
                t = time.perf_counter() - began
                if any(p.returncode != 0 for p in procs):
                    sys.exit("a worker failed")
                files = len(os.listdir(os.path.join(cwd, ".xyz-add", "results")))
                grown = sum(r["batches"] for r in reports)
                twice = sum(r["duplicates"] for r in reports)
                if grown != batches - 1 or twice:
                    sys.exit(f"{grown} batches grown of {batches - 1}, {twice} twice")
                per_batch[batches] = t / (batches - 1)
                row(f"  {workers} workers, 10^{len(str(batches)) - 1} batches: result files",
                    files, "", "reported (a pack per worker per 1000 batches or 5 s)")
        row(f"{workers} workers, per batch of 1 case at 10^4 batches", per_batch[10_000] * 1e3,
            "ms", "reported")
        row(f"{workers} workers, per batch of 1 case at 10^5 batches", per_batch[100_000] * 1e3,
            "ms", "reported")
        row(f"{workers} workers, per batch at 10^5 vs at 10^4: ratio",
            per_batch[100_000] / per_batch[10_000], "x", "<= 1.5")


def watch_costs():
    # Reading a growing crop: its partial dataset (what `show`, `plot` and
    # `Crop.dataset(partial=True)` read) of 10^6 one-case batches held in 10^3 packs, and the
    # growers' time with and without watchers (`status --watch` and `plot --watch -o`, reading
    # the crop every interval) beside them.
    with tempfile.TemporaryDirectory() as cwd:
        s = spec(cwd, 1000, 1000)
        run(["sow", s, "--batchsize", "1", "-q"], cwd)
        run(["grow", "add", "--batches", "1-500000", "-q"], cwd)
        half = min(run(["show", "add"], cwd) for _ in range(3))
        run(["grow", "add", "-q"], cwd)
        packs = len(os.listdir(os.path.join(cwd, ".xyz-add", "results")))
        whole = min(run(["show", "add"], cwd) for _ in range(3))
        row(f"partial dataset of a crop of 10^6 cells in {packs // 2} packs, half grown",
            half * 1e3, "ms", "reported")
        row(f"partial dataset of a crop of 10^6 cells in {packs} packs, all grown", whole * 1e3,
            "ms", "<= 1000 ms")
    if not MANDEL:
        return

    def grow_mandel(interval):
        best = float("inf")
        for _ in range(3):
            with tempfile.TemporaryDirectory() as cwd:
                path = mandel_spec(cwd, 800, 3000)
                run(["sow", path, "--batchsize", "400", "-q"], cwd)
                watchers = []
                if interval:
                    for args in (["status", "m", "--watch"],
                                 ["plot", "m", "--x", "x", "--y", "y", "-o", "live.png", "--watch"]):
                        watchers.append(subprocess.Popen(
                            [XYZ, *args, "--interval", interval], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                # Workers, so results land batch by batch as the watchers read them.
                t = run(["grow", "m", "--worker", "-q"], cwd)
                for w in watchers:
                    if w.wait(timeout=120) != 0:
                        sys.exit("a watcher failed")
                best = min(best, t)
        return best

    alone = grow_mandel(None)
    row("growing a mandel crop (800 x 800, maxiter 3000) by a worker, alone", alone * 1e3, "ms",
        "reported")
    for interval in ("2s", "0.2s"):
        watched = grow_mandel(interval)
        row(f"  watched every {interval} (status and plot --watch) vs alone", watched / alone,
            "x", "<= 1.05" if interval == "2s" else "reported", digits=2)


if __name__ == "__main__":
    main()
