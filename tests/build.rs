//! Builds every example under `wasm-examples/` for `wasm32-unknown-unknown` and as a native
//! dynamic library, and tells the library where they are, so every test runs against guests
//! built from source.
//!
//! The guests are built by a nested cargo with a target directory of their own
//! (`target/guests`), as the outer cargo holds the lock on the main one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"))
        .join("guests");

    let examples = examples(&root.join("wasm-examples"));
    build(
        &root,
        &target_dir,
        &examples,
        Some("wasm32-unknown-unknown"),
    );
    build(&root, &target_dir, &examples, None);
    let c_dir = target_dir.join("c");
    build_c(&root, &c_dir);

    let out = target_dir.join("wasm32-unknown-unknown").join("guest");
    println!("cargo:rustc-env=XYZ_GUEST_DIR={}", out.display());
    let native = target_dir.join("guest");
    println!("cargo:rustc-env=XYZ_NATIVE_GUEST_DIR={}", native.display());
    println!("cargo:rustc-env=XYZ_C_GUEST_DIR={}", c_dir.display());
    println!("cargo:rustc-env=XYZ_WORKSPACE_ROOT={}", root.display());
    for dir in ["wasm-examples", "plugins/guest", "plugins/abi", "include"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// Builds `examples` with a nested cargo, for `target` or the host.
fn build(root: &Path, target_dir: &Path, examples: &[String], target: Option<&str>) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args(["build", "--profile", "guest"]);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    cmd.arg("--target-dir").arg(target_dir);
    for name in examples {
        cmd.args(["-p", &format!("example-{name}")]);
    }
    // What the outer cargo sets for this build script must not leak into the guests' build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("could not run cargo to build the example guests");
    assert!(
        status.success(),
        "building the example guests for {} failed{}",
        target.unwrap_or("the host"),
        if target.is_some() {
            "; the target is installed with `rustup target add wasm32-unknown-unknown`"
        } else {
            ""
        }
    );
}

/// Compiles each C example under `wasm-examples/c/` with clang, written against
/// `include/xyz.h` only: to `NAME.wasm` (wasm32, freestanding, linked by wasm-ld) and to
/// `libNAME.so` (linked by lld), in `out`. Without clang the examples are not built and the
/// tests that need them fail saying so.
fn build_c(root: &Path, out: &Path) {
    std::fs::create_dir_all(out).expect("the C examples' directory can be made");
    let sources: Vec<PathBuf> = std::fs::read_dir(root.join("wasm-examples").join("c"))
        .expect("wasm-examples/c exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    if Command::new("clang").arg("--version").output().is_err() {
        println!(
            "cargo:warning=clang is missing: the C examples are not built \
             (apt-get install clang lld, as ./scripts/test.sh does)"
        );
        return;
    }
    let include = root.join("include");
    for src in sources {
        let stem = src.file_stem().expect("a file name").to_string_lossy();
        let common = ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror"];
        let wasm = Command::new("clang")
            .args([
                "--target=wasm32-unknown-unknown",
                "-nostdlib",
                "-ffreestanding",
            ])
            .args(common)
            .arg("-I")
            .arg(&include)
            .args(["-Wl,--no-entry", "-Wl,--export-dynamic", "-o"])
            .arg(out.join(format!("{stem}.wasm")))
            .arg(&src)
            .status()
            .expect("clang runs");
        assert!(
            wasm.success(),
            "clang could not build {} for wasm32",
            src.display()
        );
        let native = Command::new("clang")
            .args(["-shared", "-fPIC", "-fuse-ld=lld"])
            .args(common)
            .arg("-I")
            .arg(&include)
            .arg("-o")
            .arg(out.join(format!("lib{stem}.so")))
            .arg(&src)
            .status()
            .expect("clang runs");
        assert!(
            native.success(),
            "clang could not build {} as a shared library",
            src.display()
        );
    }
}

fn examples(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("wasm-examples/ exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
