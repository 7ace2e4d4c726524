#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs (the wasm32 target, clang
# and lld for the C example, the Python packages of the interop tests), then runs the gates and
# every test.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown
if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clang lld >/dev/null
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    -r tests/interop/requirements.txt

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --locked --quiet
