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
# Debian packages, installed once. Not slurm-wlm-torque: it removes gridengine.
need=()
command -v clang >/dev/null || need+=(clang)
command -v wasm-ld >/dev/null || need+=(lld)
[ -f /usr/lib/wasm32-wasi/libc.a ] || need+=(wasi-libc)
[ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a 2>/dev/null)" ] \
    || need+=(libclang-rt-dev-wasm32)
[ -f /usr/lib/wasm32-wasi/libc++.a ] || need+=(libc++-dev-wasm32 libc++abi-dev-wasm32)
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
command -v sge_qmaster >/dev/null || need+=(gridengine-master)
command -v sge_execd >/dev/null || need+=(gridengine-exec)
command -v qsub >/dev/null || need+=(gridengine-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v parallel >/dev/null || need+=(parallel)
command -v mpirun >/dev/null || need+=(openmpi-bin)
if [ ${#need[@]} -gt 0 ]; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    -r tests/interop/requirements.txt

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked --quiet
