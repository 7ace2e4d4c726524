#!/usr/bin/env bash
# The aarch64 wheel as a user of an aarch64 node meets it, under qemu-user: Debian's aarch64
# CPython (its packages downloaded and unpacked, never installed), the wheel with numpy and
# xarray installed by pip for the aarch64 platform, then `import xyz`, the `xyz` the wheel
# carries, and a sweep by xyz.Runner whose values and statuses must equal the store given
# (written by x86_64's `xyz run`).
#
# Usage: scripts/check-wheel-aarch64.sh WHEEL MANDEL_WASM EXPECTED_ZARR
# (scripts/release.sh runs it; it needs qemu-user and network access to Debian and PyPI.)
set -euo pipefail
cd "$(dirname "$0")/.."
wheel=$(realpath "$1")
mandel=$(realpath "$2")
expected=$(realpath "$3")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
apt-get update -qq
mapfile -t packages < <(grep -v '^#' scripts/debian/arm64-python.txt | sed '/^$/d; s/$/:arm64/')
( cd "$work" && apt-get download -qq "${packages[@]}" )
mkdir "$work/root"
for deb in "$work"/*.deb; do
    dpkg -x "$deb" "$work/root"
done
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-warn-conflicts \
    --target "$work/site" --only-binary=:all: --implementation cp --python-version 3.11 \
    --platform manylinux_2_28_aarch64 --platform manylinux_2_17_aarch64 \
    --platform manylinux2014_aarch64 "$wheel" numpy xarray

qemu="qemu-aarch64 -L $work/root"
# The wheel's own xyz, and its workers, run under qemu too.
( cd "$work" && PYTHONPATH="$work/site" XYZ_EXEC_PREFIX="$qemu" XYZ_CACHE_DIR="$work/cache" \
    $qemu "$work/root/usr/bin/python3.11" -c '
import platform, sys
import numpy as np
import xyz

assert platform.machine() == "aarch64", platform.machine()
r = xyz.Runner(sys.argv[1], constants={"maxiter": 200})
ds = r.run_combos({"x": {"linspace": [-2, 0.5, 120]}, "y": {"linspace": [-1.25, 1.25, 100]}})
np.savez("arm.npz", n=ds.n.values, status=ds.xyz_status.values, x=ds.x.values, y=ds.y.values)
print("aarch64:", sys.version.split()[0], "xyz", xyz.__version__, ds.n.shape)
' "$mandel" )
python3 - "$work/arm.npz" "$expected" <<'PY'
import sys
import numpy as np
import xarray as xr

arm = np.load(sys.argv[1])
x86 = xr.open_zarr(sys.argv[2]).load()
for name, var in [("n", "n"), ("status", "xyz_status"), ("x", "x"), ("y", "y")]:
    assert np.array_equal(arm[name], x86[var].values), name
print("the aarch64 wheel, imported by aarch64 CPython under qemu: Runner.run_combos equals xyz run")
PY
$qemu "$work/site/xyz/bin/xyz" --version
