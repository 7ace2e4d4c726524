#!/usr/bin/env bash
# Builds the Python wheel (module `xyz` and the `xyz` command) into target/wheels/.
#
#   scripts/python-wheel.sh            the dev profile: what the tests install (shares the
#                                      test build's compiled dependencies)
#   scripts/python-wheel.sh --release  the release profile, as scripts/release.sh ships it
#   scripts/python-wheel.sh --release --target aarch64-unknown-linux-gnu
#   scripts/python-wheel.sh --binary target/debug/xyz   with an xyz already built (the test
#                                      command's, built with the tests' features)
#
# The wheel carries the `xyz` executable (it serves functions in worker processes and grows
# crops in batch jobs) beside the extension module, both stripped of debug information.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=dev
dir=debug
target=()
triple=""
exe=""
while [ $# -gt 0 ]; do
    case "$1" in
        --release) profile=release; dir=release ;;
        --target) triple="$2"; target=(--target "$2"); shift ;;
        --binary) exe="$2"; shift ;;
        *) echo "python-wheel.sh: unknown argument $1 (--release, --target TRIPLE, --binary PATH)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "$exe" ]; then
    cargo build --locked --profile "$profile" -p xyz-cli "${target[@]}"
    exe="target/${triple:+$triple/}$dir/xyz"
fi
strip_tool=strip
if [ -n "$triple" ] && [ "$triple" != "$(rustc -vV | sed -n 's/^host: //p')" ]; then
    strip_tool="${triple%%-unknown*}-linux-gnu-strip"
    strip_tool="${strip_tool/aarch64-linux-gnu-strip/aarch64-linux-gnu-strip}"
fi
mkdir -p python/xyz/bin
"$strip_tool" --strip-debug -o python/xyz/bin/xyz.tmp "$exe"
mv python/xyz/bin/xyz.tmp python/xyz/bin/xyz
maturin build --locked --profile "$profile" -m python/Cargo.toml -o target/wheels "${target[@]}" \
    --compatibility linux ${MATURIN_FLAGS:-}
