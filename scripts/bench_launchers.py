#!/usr/bin/env python3
"""What a worker costs through a launcher: the start of one worker and the cost of one call
(a chunk of cases sent, evaluated, answered), through `ssh` to an sshd on loopback and through
`srun` in the project's one-node Slurm cluster, against a local worker process.

Each launcher runs `add` twice with one worker: over 1 case (start-up and one call) and over
N cases; the cost per call is the difference over the calls the second run answered beyond the
first. Needs root (it starts sshd and the Slurm daemons, and stops them).

Usage: bench_launchers.py XYZ ADD_WASM    (scripts/bench.sh passes both)
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

XYZ, ADD = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = 1_000_000
REPEAT = 3


def spec(cwd, n):
    path = os.path.join(cwd, f"add{n}.toml")
    with open(path, "w") as f:
        f.write(
            f'function = "{ADD}"\n[combos]\na = {{ range = [0, {n}, 1] }}\n'
            "[constants]\nb = 0.5\nc = 0\n"
        )
    return path


def run(cwd, toml, launcher, env):
    """Runs the spec with one worker; gives wall seconds and the calls answered."""
    args = [XYZ, "run", toml, "-o", "out.zarr", "--force", "-j", "1", "--json"]
    args += ["--launcher", launcher]
    began = time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True)
    took = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr.decode()}")
    out = done.stdout
    calls = sum(s["calls"] for s in json.loads(out)["launched"])
    return took, calls


def measure(cwd, launcher, env):
    one, many = spec(cwd, 1), spec(cwd, CASES)
    best_one = min(run(cwd, one, launcher, env)[0] for _ in range(REPEAT))
    runs = [run(cwd, many, launcher, env) for _ in range(REPEAT)]
    took, calls = min(runs)
    return best_one, (took - best_one) / (calls - 1), calls


def start_sshd(state):
    for name in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{state}/{name}"],
            check=True,
        )
    shutil.copy(f"{state}/client_key.pub", f"{state}/authorized_keys")
    os.makedirs("/run/sshd", exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open(f"{state}/sshd_config", "w") as f:
        f.write(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {state}/host_key\n"
            f"AuthorizedKeysFile {state}/authorized_keys\nPidFile {state}/sshd.pid\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "PermitRootLogin prohibit-password\nLogLevel ERROR\n"
        )
    sshd = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-f", f"{state}/sshd_config"], stderr=subprocess.DEVNULL
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            time.sleep(0.05)
    launcher = (
        f"ssh -F /dev/null -i {state}/client_key -p {port} -o StrictHostKeyChecking=no "
        "-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR 127.0.0.1"
    )
    return sshd, launcher


def main():
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as state:
        env = dict(os.environ)
        sshd, ssh = start_sshd(state)
        slurm = os.path.join(state, "slurm")
        subprocess.run(
            ["bash", f"{ROOT}/tests/clusters/slurm.sh", "up", slurm],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        try:
            rows = [("a local worker process (env)", "env", env)]
            rows.append(("ssh to sshd on loopback", ssh, env))
            senv = dict(env, SLURM_CONF=f"{slurm}/slurm.conf")
            # Inside an allocation of one task, as `salloc` gives one.
            alloc = subprocess.run(
                ["salloc", "-n", "1", "--no-shell", "--time", "0:30:00"],
                env=senv,
                check=True,
                capture_output=True,
                text=True,
            ).stderr
            job = alloc.split("Granted job allocation ")[1].split()[0]
            senv["SLURM_JOB_ID"] = job
            rows.append(("srun in a Slurm allocation", "srun --ntasks=1 -u", senv))
            print(f"add over {CASES} cases, 1 worker, best of {REPEAT}")
            print(f"{'launcher':<32} {'start':>9} {'calls':>6} {'per call':>10} {'vs local':>9}")
            base = None
            for what, launcher, e in rows:
                start, per_call, calls = measure(cwd, launcher, e)
                base = base or per_call
                print(
                    f"{what:<32} {start * 1e3:>7.1f}ms {calls:>6} {per_call * 1e3:>8.3f}ms "
                    f"{per_call / base:>8.2f}x"
                )
            subprocess.run(["scancel", job], env=senv, check=False)
        finally:
            subprocess.run(
                ["bash", f"{ROOT}/tests/clusters/slurm.sh", "down", slurm],
                check=False,
                stdout=subprocess.DEVNULL,
            )
            sshd.kill()


main()
