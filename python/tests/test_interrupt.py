"""A Ctrl-C stops a sweep within a second, raises KeyboardInterrupt and leaves no worker
behind."""

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import guest

SCRIPT = """
import gc, signal, sys
import numpy as np
import xyz

# As a terminal or a notebook has it, even when this test runs in a background job, which
# starts with SIGINT ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)

r = xyz.Runner(sys.argv[1], constants={"maxiter": 2_000_000})
print("started", flush=True)
try:
    r.run_combos({"x": np.linspace(-0.1, 0.1, 400), "y": np.linspace(-0.1, 0.1, 400)},
                 parallel=True, progbar=False)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
del r
gc.collect()
print("released", flush=True)
sys.stdin.readline()
"""


def processes_naming(text):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append((int(pid), cmdline.replace("\0", " ")))
    return found


def lines_of(p):
    """The lines `p` writes, read in a thread: `next_line(timeout)` gives the next one or
    fails, so the test never waits forever."""
    q = queue.Queue()

    def read():
        for line in p.stdout:
            q.put(line.strip())
        q.put(None)

    threading.Thread(target=read, daemon=True).start()

    def next_line(timeout):
        try:
            return q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing said in {timeout} s") from None

    return next_line


def test_ctrl_c_stops_the_sweep_within_a_second_and_leaves_no_worker(tmp_path):
    function = tmp_path / "slow_mandel.wasm"
    shutil.copy(guest("mandel"), function)
    p = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(function)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    next_line = lines_of(p)
    try:
        assert next_line(60) == "started"
        time.sleep(1.5)
        workers = [w for w in processes_naming(str(function)) if w[0] != p.pid]
        assert workers, "the sweep runs in worker processes"
        sent = time.perf_counter()
        p.send_signal(signal.SIGINT)
        assert next_line(10) == "interrupted"
        took = time.perf_counter() - sent
        assert took < 1.0, f"the sweep stopped {took:.2f} s after Ctrl-C"
        assert next_line(10) == "released"
        deadline = time.time() + 5
        while processes_naming(str(function)) and time.time() < deadline:
            time.sleep(0.05)
        left = [w for w in processes_naming(str(function)) if w[0] != p.pid]
        assert not left, f"workers left running: {left}"
    finally:
        p.kill()
        p.wait()
