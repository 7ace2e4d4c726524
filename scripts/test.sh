#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (the wasm32 and wasm32-wasip1
# targets, clang and lld for the C examples, wasi-libc and libc++ for the WASI ones, Slurm and
# Grid Engine for the cluster tests, sshd, GNU parallel and Open MPI for the launcher tests, the
# Python packages of the interop tests), then runs the gates and every test. The cluster tests
# start and stop their own one-node clusters (tests/clusters/), and the ssh test its own sshd
# on loopback, which needs root.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown wasm32-wasip1
# Debian packages: every name in scripts/debian/test.txt must exist on this Debian (checked on
# every run); those not installed are installed.
./scripts/debian-packages.sh test
rustup component add rustfmt clippy >/dev/null 2>&1 || true
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    -r tests/interop/requirements.txt -r python/tests/requirements.txt

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --document-private-items --locked --quiet

# The Python module: the wheel built in the dev profile (no release build) around the xyz the
# tests above ran, installed into a fresh environment that sees the packages above, and its
# tests run against it.
./scripts/python-wheel.sh --binary target/debug/xyz
venv=target/python-env
rm -rf "$venv"
python3 -m venv --system-site-packages "$venv"
wheel=$(ls -t target/wheels/xyz_sweeps-*.whl | head -1)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "$wheel"
PATH="$PWD/$venv/bin:$PATH" XYZ_WHEEL="$PWD/$wheel" "$venv/bin/python" -m pytest -q --timeout 900 python/tests
