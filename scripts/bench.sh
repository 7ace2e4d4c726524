#!/usr/bin/env bash
# xyz's speed as ratios against a native baseline, with the targets it is held to: mandel in
# WebAssembly vs the same Rust function called natively in a loop (without a deadline, with
# one enforced by worker processes, with one enforced by epoch checks), the speed-up of two
# threads over one, and the per-evaluation overhead of `add` through the whole in-process path.
# Run it on an otherwise idle machine. The criterion benches: cargo bench -p xyz-cli --bench sweep
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target add wasm32-unknown-unknown
cargo bench --locked -p xyz-cli --bench ratios
