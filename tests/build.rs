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

    let out = target_dir.join("wasm32-unknown-unknown").join("guest");
    println!("cargo:rustc-env=XYZ_GUEST_DIR={}", out.display());
    let native = target_dir.join("guest");
    println!("cargo:rustc-env=XYZ_NATIVE_GUEST_DIR={}", native.display());
    println!("cargo:rustc-env=XYZ_WORKSPACE_ROOT={}", root.display());
    for dir in ["wasm-examples", "plugins/guest", "plugins/abi"] {
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
