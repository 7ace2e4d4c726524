//! Test support for xyz: paths to the example guests (built from source for wasm32 by this
//! crate's build script), to fixtures, and a runner for the Python interop checks.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the example guests, built for wasm32.
pub fn guest_dir() -> &'static Path {
    Path::new(env!("XYZ_GUEST_DIR"))
}

/// The wasm module of example `name` (`add`, `mandel`, …).
pub fn guest(name: &str) -> PathBuf {
    let path = guest_dir().join(format!("example_{name}.wasm"));
    assert!(path.is_file(), "no guest module at {}", path.display());
    path
}

/// The directory holding the example guests, built as native dynamic libraries.
pub fn native_guest_dir() -> &'static Path {
    Path::new(env!("XYZ_NATIVE_GUEST_DIR"))
}

/// The native library of example `name` (`libexample_add.so`, …).
pub fn native_guest(name: &str) -> PathBuf {
    let file = format!(
        "{}example_{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let path = native_guest_dir().join(file);
    assert!(path.is_file(), "no native guest at {}", path.display());
    path
}

/// The C example `name` (`collatz`, …) built by clang: its wasm32 module and its native
/// library. Panics, saying how to get clang, if it was not built.
pub fn c_guest(name: &str) -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("XYZ_C_GUEST_DIR"));
    let (wasm, so) = (
        dir.join(format!("{name}.wasm")),
        dir.join(format!("lib{name}.so")),
    );
    assert!(
        wasm.is_file() && so.is_file(),
        "the C example {name} was not built: it needs clang and lld (apt-get install clang \
         lld, as ./scripts/test.sh does)"
    );
    (wasm, so)
}

/// The Rust example `name` built for `wasm32-wasip1` (`words`).
pub fn wasi_guest(name: &str) -> PathBuf {
    let path = Path::new(env!("XYZ_WASI_GUEST_DIR")).join(format!("example_{name}.wasm"));
    assert!(
        path.is_file(),
        "no WASI guest at {} (it needs `rustup target add wasm32-wasip1`)",
        path.display()
    );
    path
}

/// The C or C++ example `name` under `wasm-examples/wasi/` built with wasi-libc: its module,
/// and for C its native library. Panics, saying what to install, if it was not built.
pub fn wasi_c_guest(name: &str) -> (PathBuf, Option<PathBuf>) {
    let dir = Path::new(env!("XYZ_WASI_C_GUEST_DIR"));
    let wasm = dir.join(format!("{name}.wasm"));
    assert!(
        wasm.is_file(),
        "the WASI example {name} was not built: it needs clang, lld and wasi-libc (apt-get \
         install clang lld wasi-libc libclang-rt-dev-wasm32 libc++-dev-wasm32, as \
         ./scripts/test.sh does)"
    );
    let so = dir.join(format!("lib{name}.so"));
    (wasm, so.is_file().then_some(so))
}

/// The workspace root.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("XYZ_WORKSPACE_ROOT"))
}

/// A fixture file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    workspace_root().join("tests").join("fixtures").join(name)
}

/// Runs `tests/interop/SCRIPT` with python3 and `args`, and panics with its output unless it
/// succeeds. Returns its stdout.
pub fn python(script: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let path = workspace_root().join("tests").join("interop").join(script);
    let mut cmd = Command::new("python3");
    cmd.arg(&path);
    for a in args {
        cmd.arg(a.as_ref());
    }
    cmd.env("PYTHONWARNINGS", "error::RuntimeWarning");
    let out = cmd.output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} failed:\n--- stdout\n{stdout}\n--- stderr\n{}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
