//! Builds every example under `wasm-examples/` for `wasm32-unknown-unknown` and as a native
//! dynamic library, the WASI examples (`words` for `wasm32-wasip1`, and the C and C++ under
//! `wasm-examples/wasi/` with wasi-libc), and tells the library where they are, so every test
//! runs against guests built from source.
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
    build(
        &root,
        &target_dir,
        &WASI_EXAMPLES.map(String::from),
        Some("wasm32-wasip1"),
    );
    let c_dir = target_dir.join("c");
    build_c(&root, &c_dir);
    let wasi_dir = target_dir.join("wasi");
    build_wasi_c(&root, &wasi_dir);

    let out = target_dir.join("wasm32-unknown-unknown").join("guest");
    println!("cargo:rustc-env=XYZ_GUEST_DIR={}", out.display());
    let native = target_dir.join("guest");
    println!("cargo:rustc-env=XYZ_NATIVE_GUEST_DIR={}", native.display());
    println!("cargo:rustc-env=XYZ_C_GUEST_DIR={}", c_dir.display());
    println!(
        "cargo:rustc-env=XYZ_WASI_GUEST_DIR={}",
        target_dir.join("wasm32-wasip1").join("guest").display()
    );
    println!(
        "cargo:rustc-env=XYZ_WASI_C_GUEST_DIR={}",
        wasi_dir.display()
    );
    println!("cargo:rustc-env=XYZ_WORKSPACE_ROOT={}", root.display());
    for dir in ["wasm-examples", "guest", "abi", "include"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// The Rust examples also built for `wasm32-wasip1`.
const WASI_EXAMPLES: [&str; 1] = ["words"];

/// Where Debian's wasi-libc puts the C library for wasm32 (`--sysroot=/usr` finds it).
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi/libc.a";

/// Compiles each C and C++ example under `wasm-examples/wasi/` against wasi-libc (and libc++)
/// as a WASI reactor, `NAME.wasm`, and each C one also natively, `libNAME.so`, in `out`.
/// Without wasi-libc they are not built and the tests that need them fail saying so.
fn build_wasi_c(root: &Path, out: &Path) {
    if !Path::new(WASI_LIBC).is_file() {
        println!(
            "cargo:warning=wasi-libc is missing: the WASI C examples are not built (apt-get \
             install wasi-libc libclang-rt-dev-wasm32 libc++-dev-wasm32, as ./scripts/test.sh \
             does)"
        );
        return;
    }
    std::fs::create_dir_all(out).expect("the WASI examples' directory can be made");
    let include = root.join("include");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("wasm-examples").join("wasi"))
        .expect("wasm-examples/wasi exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c" || e == "cpp"))
        .collect();
    sources.sort();
    for src in sources {
        let stem = src.file_stem().expect("a file name").to_string_lossy();
        let cpp = src.extension().is_some_and(|e| e == "cpp");
        let (cc, std_flags): (&str, &[&str]) = if cpp {
            ("clang++", &["-fno-exceptions"])
        } else {
            ("clang", &[])
        };
        let wasi = [
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-mexec-model=reactor",
        ];
        let wasm = out.join(format!("{stem}.wasm"));
        compile(
            cc,
            &[&wasi, std_flags, &["-lm"]].concat(),
            &include,
            &src,
            &wasm,
        );
        if !cpp {
            let so = out.join(format!("lib{stem}.so"));
            compile(cc, &[NATIVE, &["-lm"]].concat(), &include, &src, &so);
        }
    }
}

/// Flags of every example build: optimised, every warning an error.
const COMMON: [&str; 4] = ["-O2", "-Wall", "-Wextra", "-Werror"];

/// Flags of a native shared library.
const NATIVE: &[&str] = &["-shared", "-fPIC", "-fuse-ld=lld"];

/// Compiles `src` with `cc` (clang or clang++), [`COMMON`] flags and `flags`, against the
/// headers in `include`, into `out`; panics naming the source if it fails.
fn compile(cc: &str, flags: &[&str], include: &Path, src: &Path, out: &Path) {
    let status = Command::new(cc)
        .args(COMMON)
        .arg("-I")
        .arg(include)
        .arg("-o")
        .arg(out)
        .arg(src)
        .args(flags)
        .status()
        .expect("clang runs");
    assert!(
        status.success(),
        "{cc} could not build {} into {}",
        src.display(),
        out.display()
    );
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
        match target {
            Some(t) => format!("; the target is installed with `rustup target add {t}`"),
            None => String::new(),
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
        let freestanding = [
            "--target=wasm32-unknown-unknown",
            "-nostdlib",
            "-ffreestanding",
            "-fvisibility=hidden",
            "-Wl,--no-entry",
            "-Wl,--export-dynamic",
        ];
        let wasm = out.join(format!("{stem}.wasm"));
        compile("clang", &freestanding, &include, &src, &wasm);
        let so = out.join(format!("lib{stem}.so"));
        compile(
            "clang",
            &[NATIVE, &["-fvisibility=hidden"]].concat(),
            &include,
            &src,
            &so,
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
