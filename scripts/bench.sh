#!/usr/bin/env bash
# xyz's speed as ratios against a native baseline, with the targets it is held to: mandel in
# WebAssembly vs the same Rust function called natively in a loop (without a deadline, with
# one enforced by worker processes, with one enforced by epoch checks), the speed-up of two
# threads over one, and the per-evaluation overhead of `add` through the whole in-process path;
# then crops (scripts/bench_crops.py): sow + grow + reap of a million cases, one small grow in a
# fresh process, and status on a crop of 10^5 batches; then the peak memory of reaping and
# merging 10^7 cases against the size of the output (scripts/bench_harvest.py), and of `run`
# and `reap` as sweeps grow to 10^9 cells and in three shapes (scripts/bench_memory.py); dataset sizes
# against xarray's and pandas' and the cost of compression (scripts/bench_formats.py); what a worker
# costs through `ssh` and `srun` against a local one (scripts/bench_launchers.py, which starts an
# sshd and the one-node Slurm cluster, so needs root); the Python module against xyzpy and
# `xyz run`, and the memory of a dataset of 10^7 cells handed to xarray
# (scripts/bench_python.py, in an environment holding the release wheel and xyzpy); adaptive
# studies against python-adaptive on its tutorial functions: their error, the planner's cost
# and the wall time of a slow function (scripts/bench_adaptive.py). Run it on an otherwise idle
# machine.
# The criterion benches: cargo bench -p xyz-cli --bench sweep
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown
cargo bench --locked -p xyz-cli --bench ratios

cargo build --locked --release -p xyz-cli
python3 scripts/bench_crops.py "$PWD/target/release/xyz" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_add.wasm" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_mandel.wasm"
python3 scripts/bench_memory.py "$PWD/target/release/xyz" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_add.wasm"
python3 scripts/bench_harvest.py "$PWD/target/release/xyz" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_add.wasm"
python3 scripts/bench_formats.py "$PWD/target/release/xyz" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_mandel.wasm" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_add.wasm"
python3 scripts/bench_launchers.py "$PWD/target/release/xyz" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_add.wasm"

./scripts/python-wheel.sh --release
venv=target/bench-env
rm -rf "$venv"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check xyzpy matplotlib adaptive scipy
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
    "$(ls -t target/wheels/xyz_sweeps-*.whl | head -1)"
"$venv/bin/python" scripts/bench_python.py "$PWD/target/release/xyz" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest/example_add.wasm"
"$venv/bin/python" scripts/bench_adaptive.py "$PWD/target/release/xyz" \
    "$PWD/target/guests/wasm32-unknown-unknown/guest"
