#!/usr/bin/env bash
# Release builds, into dist/:
#   xyz-x86_64-linux, xyz-aarch64-linux   stripped, needing glibc 2.17 at most (built with
#                                         cargo-zigbuild and zig, which target a glibc version
#                                         and aarch64 without a sysroot); native .so functions
#                                         still load
#   xyz-x86_64-linux-musl,                static (musl), stripped: start on any Linux, with any
#   xyz-aarch64-linux-musl                libc or none (Alpine, distroless containers, nodes
#                                         older than glibc 2.17), but load no native .so
#                                         functions (WebAssembly only), which they refuse by name
#   wheels/xyz_sweeps-*.whl               a Python wheel per architecture (maturin,
#                                         manylinux2014, abi3: CPython 3.9 and later): the
#                                         module `xyz` and the binary above, which its install
#                                         puts on PATH as `xyz`
#   completions/xyz.{bash,zsh,fish}       shell completions
#   man/                                  man pages, one per subcommand
# Then it checks what each binary claims: the highest glibc symbol version it needs, the demo
# sweep run by the aarch64 binary under qemu-user equal to the x86_64 one's, and one mandel
# crop grown by both binaries at once as workers (the aarch64 one under qemu), with `status`
# naming both architectures, reaped equal to `xyz run`.
#
# Installs what it needs: the Rust targets, zig (the ziglang package from PyPI), maturin,
# cargo-zigbuild, qemu-user and an aarch64 glibc for qemu (Debian's libc6-arm64-cross); to check
# the aarch64 wheel, it downloads Debian's aarch64 CPython (scripts/check-wheel-aarch64.sh).
# Takes about 35 minutes on 2 cores (two release builds of wasmtime, and two more for the
# wheels).
set -euo pipefail
cd "$(dirname "$0")/.."

GLIBC=2.17
TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
MUSL_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)

rustup target add "${TARGETS[@]}" "${MUSL_TARGETS[@]}" wasm32-unknown-unknown
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore ziglang \
    'maturin>=1.5,<2'
command -v cargo-zigbuild >/dev/null || cargo install --locked cargo-zigbuild
./scripts/debian-packages.sh release

rm -rf dist
mkdir -p dist/completions dist/man
for target in "${TARGETS[@]}"; do
    arch=${target%%-*}
    started=$(date +%s)
    # No debug info and symbols stripped by the linker: the release binaries are for running.
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo zigbuild --release --locked -p xyz-cli --target "$target.$GLIBC"
    cp "target/$target/release/xyz" "dist/xyz-$arch-linux"
    echo "built dist/xyz-$arch-linux in $(($(date +%s) - started)) s:" \
        "$(stat -c %s "dist/xyz-$arch-linux") bytes"
    # The wheel carries this very binary beside the extension module.
    mkdir -p python/xyz/bin
    cp "dist/xyz-$arch-linux" python/xyz/bin/xyz
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
        maturin build --release --locked --zig --compatibility manylinux2014 --target "$target" \
        -m python/Cargo.toml -o dist/wheels
    rm python/xyz/bin/xyz
done

for target in "${MUSL_TARGETS[@]}"; do
    arch=${target%%-*}
    started=$(date +%s)
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols \
        cargo zigbuild --release --locked -p xyz-cli --target "$target"
    cp "target/$target/release/xyz" "dist/xyz-$arch-linux-musl"
    echo "built dist/xyz-$arch-linux-musl in $(($(date +%s) - started)) s:" \
        "$(stat -c %s "dist/xyz-$arch-linux-musl") bytes"
    if readelf -l "dist/xyz-$arch-linux-musl" | grep -q 'program interpreter'; then
        echo "error: dist/xyz-$arch-linux-musl is not static" >&2
        exit 1
    fi
done

host=dist/xyz-x86_64-linux
# The aarch64 binary under qemu-user; its own workers are started under qemu too.
qemu="qemu-aarch64 -L /usr/aarch64-linux-gnu"
armbin=$PWD/dist/xyz-aarch64-linux
arm() { XYZ_EXEC_PREFIX="$qemu" $qemu "$armbin" "$@"; }
for shell in bash zsh fish; do
    "$host" completions "$shell" >"dist/completions/xyz.$shell"
done
"$host" man --out-dir dist/man

# The highest glibc symbol version each binary needs (readelf reads either architecture).
for bin in dist/xyz-*-linux; do
    highest=$(readelf -W --dyn-syms --version-info "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
    echo "$bin needs $highest"
    if [ "$(printf '%s\n%s\n' "GLIBC_$GLIBC" "$highest" | sort -V | tail -1)" != "GLIBC_$GLIBC" ]; then
        echo "error: $bin needs $highest, more than glibc $GLIBC" >&2
        exit 1
    fi
done

# The aarch64 binary under qemu: the demo sweep, and a crop grown by both architectures.
cargo build --profile guest --target wasm32-unknown-unknown -p example-mandel --target-dir target/guests
mandel=$PWD/target/guests/wasm32-unknown-unknown/guest/example_mandel.wasm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sweep=(--function "$mandel" --combo 'x={ linspace = [-2, 0.5, 120] }'
    --combo 'y={ linspace = [-1.25, 1.25, 100] }' --constant maxiter=200)
( cd "$work" && "$OLDPWD/$host" run "${sweep[@]}" -q -o x86.zarr )
( cd "$work" && XYZ_CACHE_DIR="$work/arm-cache" arm run "${sweep[@]}" -q -o arm.zarr )
cmp <(cd "$work/x86.zarr" && find . -type f -exec sha256sum {} + | sort) \
    <(cd "$work/arm.zarr" && find . -type f -exec sha256sum {} + | sort)
echo "the aarch64 binary under qemu gives the x86_64 one's store, byte for byte"
# The static builds: the same store (the aarch64 one under qemu, which needs no glibc for it),
# and a native library refused by name.
( cd "$work" && "$OLDPWD/dist/xyz-x86_64-linux-musl" run "${sweep[@]}" -q -o musl.zarr )
( cd "$work" && XYZ_CACHE_DIR="$work/arm-musl-cache" XYZ_EXEC_PREFIX=qemu-aarch64 \
    qemu-aarch64 "$OLDPWD/dist/xyz-aarch64-linux-musl" run "${sweep[@]}" -q -o arm-musl.zarr )
for store in musl arm-musl; do
    cmp <(cd "$work/x86.zarr" && find . -type f -exec sha256sum {} + | sort) \
        <(cd "$work/$store.zarr" && find . -type f -exec sha256sum {} + | sort)
done
echo "the static builds give the same store, byte for byte"
printf 'int main(void) { return 0; }\n' > "$work/lib.c"
cc -shared -fPIC -o "$work/lib.so" "$work/lib.c"
if dist/xyz-x86_64-linux-musl inspect "$work/lib.so" 2>"$work/musl.err"; then
    echo "error: the static build loaded a native library" >&2
    exit 1
fi
grep -q 'a static build (musl)' "$work/musl.err"
echo "the static build refuses a native library: $(cat "$work/musl.err")"
# The emulation's cost on mandel, one thread, the compiled module cached (an emulation figure,
# not a hardware one): the evaluation time each run reports.
timed=(--function "$mandel" --combo 'x={ linspace = [-2, 0.5, 400] }'
    --combo 'y={ linspace = [-1.25, 1.25, 300] }' --constant maxiter=1000 -j 1 --json
    -o "$work/t.json" --force)
seconds() { python3 -c 'import json, sys; print(json.load(sys.stdin)["elapsed_seconds"])'; }
arm_s=$(cd "$work" && XYZ_CACHE_DIR="$work/arm-cache" arm run "${timed[@]}" | seconds)
x86_s=$(cd "$work" && "$OLDPWD/$host" run "${timed[@]}" | seconds)
python3 -c "import sys; a, x = map(float, sys.argv[1:]); print(f'mandel 400x300, maxiter 1000, one thread: {a:.3f} s under qemu, {x:.3f} s native: {a / x:.1f}x')" "$arm_s" "$x86_s"

# 24 batches grown by two workers sharing the crop: the aarch64 binary under qemu and, once
# that one has grown a batch, the x86_64 one. The crop's module cache then holds one compiled
# module per architecture, and `status` tells which architecture grew which batches.
( cd "$work" && "$OLDPWD/$host" sow "${sweep[@]}" --name mixed --batchsize 500 -q )
( cd "$work" && arm grow mixed --worker -q ) &
armpid=$!
for _ in $(seq 1200); do
    ( cd "$work" && "$OLDPWD/$host" status mixed --json ) | grep -q '"arch": "aarch64"' && break
    sleep 0.5
done
( cd "$work" && "$OLDPWD/$host" grow mixed --worker -q )
wait "$armpid"
status=$(cd "$work" && "$OLDPWD/$host" status mixed)
echo "$status"
grep -q "aarch64-linux" <<<"$status" && grep -q "x86_64-linux" <<<"$status" \
    || { echo "status does not show both architectures growing the crop" >&2; exit 1; }
echo "compiled modules in the crop's cache: $(find "$work/.xyz-mixed/cache" -type f | wc -l)"
( cd "$work" && "$OLDPWD/$host" reap mixed -q -o mixed.zarr )
cmp <(cd "$work/x86.zarr" && find . -type f -exec sha256sum {} + | sort) \
    <(cd "$work/mixed.zarr" && find . -type f -exec sha256sum {} + | sort)
echo "one crop grown by x86_64 and aarch64 reaps to the store xyz run writes, byte for byte"
# The x86_64 wheel installs a working xyz, command and module, into a fresh environment.
venv=$work/venv
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet dist/wheels/*x86_64*.whl
"$venv/bin/xyz" --version
( cd "$work" && "$venv/bin/python" -c '
import sys, xarray as xr, xyz
r = xyz.Runner(sys.argv[1], constants={"maxiter": 200})
ds = r.run_combos({"x": {"linspace": [-2, 0.5, 120]}, "y": {"linspace": [-1.25, 1.25, 100]}})
assert ds.identical(xr.open_zarr("x86.zarr").load())
print("the x86_64 wheel: import xyz; Runner.run_combos equals xyz run")' "$mandel" )
# The aarch64 wheel holds an aarch64 extension module and binary; the binary runs under qemu.
unzip -q -o -d "$work/arm-wheel" dist/wheels/*aarch64*.whl
for f in "$work/arm-wheel/xyz/_xyz.abi3.so" "$work/arm-wheel/xyz/bin/xyz"; do
    readelf -h "$f" | grep -q 'AArch64' || { echo "error: $f is not aarch64" >&2; exit 1; }
done
$qemu "$work/arm-wheel/xyz/bin/xyz" --version
# And as an aarch64 node's Python meets it: installed by pip, imported by aarch64 CPython.
./scripts/check-wheel-aarch64.sh dist/wheels/*aarch64*.whl "$mandel" "$work/x86.zarr"
ls -l dist dist/completions dist/wheels
