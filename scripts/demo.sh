#!/usr/bin/env bash
# The demo: build xyz and the Mandelbrot example (for wasm32), then sweep it over a 400 x 400
# grid with maxiter 1000 into mandel.zarr, in the current directory, show the dataset and draw
# it as mandel.png.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

rustup target add wasm32-unknown-unknown
cargo build --manifest-path "$root/Cargo.toml" --release -p xyz-cli
cargo build --manifest-path "$root/Cargo.toml" --profile guest --target wasm32-unknown-unknown \
    --target-dir "$root/target/guests" -p example-mandel

xyz="$root/target/release/xyz"
"$xyz" inspect "$root/target/guests/wasm32-unknown-unknown/guest/example_mandel.wasm"
"$xyz" run "$root/wasm-examples/mandel/mandel.toml" -o mandel.zarr --force
"$xyz" show mandel.zarr
"$xyz" plot mandel.zarr --x x --y y --log -o mandel.png --force
# xarray's view too, where it is installed.
if python3 -c 'import xarray' 2>/dev/null; then
    python3 -c 'import xarray as xr; print(xr.open_zarr("mandel.zarr"))'
fi
