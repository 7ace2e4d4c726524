#!/usr/bin/env bash
# The quick check before a commit: the gates the test command runs first (formatting, lints,
# docs with their links) and the unit tests of every crate, in a minute or two once built. The
# binary, cluster and interop tests are the whole suite's: ./scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --document-private-items --locked --quiet
cargo test --workspace --lib --locked --quiet
