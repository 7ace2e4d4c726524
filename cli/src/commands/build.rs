//! `xyz build`: build a function crate or C file for WebAssembly, and say where the module is.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::exit_codes;

/// The target a module is built for.
const TARGET: &str = "wasm32-unknown-unknown";

/// The target a module that uses Rust's std I/O is built for.
const WASI_TARGET: &str = "wasm32-wasip1";

/// Build a function for WebAssembly: a Rust crate with cargo (release profile, for
/// wasm32-unknown-unknown), or a C file with clang; prints the module's path
#[derive(Debug, clap::Args)]
pub(crate) struct BuildCommand {
    /// The crate's directory (with Cargo.toml), or a directory holding one C file, or the C
    /// file itself
    #[arg(default_value = ".")]
    dir: PathBuf,

    /// Build with the C library (wasi-libc, for WASI; a Rust crate for wasm32-wasip1): for
    /// code that uses malloc, printf, libm or Rust's std I/O
    #[arg(long)]
    libc: bool,
}

/// Where Debian's wasi-libc puts the C library for wasm32.
const WASI_LIBC: &str = "/usr/lib/wasm32-wasi/libc.a";

/// The text a second `#[xyz_guest::function]` in a crate makes the compiler print.
const TWO_FUNCTIONS: &str = "one_xyz_function_per_module__this_crate_has_two";

impl BuildCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let module = if self.dir.join("Cargo.toml").is_file() {
            rust(&self.dir, if self.libc { WASI_TARGET } else { TARGET })?
        } else {
            c(&self.dir, self.libc)?
        };
        println!("{}", module.display());
        Ok(exit_codes::OK)
    }
}

/// The package name in `manifest`'s `[package]`.
fn package_name(manifest: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("reading {}", manifest.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", manifest.display()))?;
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .with_context(|| format!("{}: no [package] name", manifest.display()))
}

/// Builds the crate in `dir` for `target` with cargo; gives the module.
fn rust(dir: &Path, target: &str) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    let name = package_name(&manifest)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--target",
            target,
            "--message-format=short",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .with_context(|| {
            format!(
                "running cargo ({}): is Rust installed? (https://rustup.rs)",
                cargo.to_string_lossy()
            )
        })?;
    let said = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        eprint!("{said}");
        if said.contains(TWO_FUNCTIONS) {
            anyhow::bail!(
                "{} has two #[xyz_guest::function]s: a module exports one function, so put each \
                 in a crate of its own",
                dir.display()
            );
        }
        if said.contains("may not be installed") || said.contains("can't find crate for `core`") {
            anyhow::bail!(
                "the {target} target is not installed: add it with `rustup target add {target}`"
            );
        }
        anyhow::bail!("cargo could not build {}", dir.display());
    }
    // Where cargo put it: CARGO_TARGET_DIR if set, else the crate's target/.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let module = target_dir
        .join(target)
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    anyhow::ensure!(
        module.is_file(),
        "cargo built {} but left no module at {}: is its crate-type cdylib?",
        dir.display(),
        module.display()
    );
    Ok(module)
}

/// Builds one C file (`path`, or the one `.c` file in directory `path`) for wasm32 with clang,
/// freestanding or (`libc`) with wasi-libc; gives the module, beside the source.
fn c(path: &Path, libc: bool) -> anyhow::Result<PathBuf> {
    let source = if path.is_dir() {
        let sources: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "c"))
            .collect();
        match sources.as_slice() {
            [one] => one.clone(),
            [] => anyhow::bail!(
                "{} holds neither a Cargo.toml nor a .c file: nothing to build",
                path.display()
            ),
            _ => anyhow::bail!(
                "{} holds {} .c files: name the one to build",
                path.display(),
                sources.len()
            ),
        }
    } else {
        path.to_path_buf()
    };
    let dir = source.parent().unwrap_or(Path::new("."));
    let module = source.with_extension("wasm");
    let mut clang = Command::new("clang");
    if libc {
        anyhow::ensure!(
            Path::new(WASI_LIBC).is_file(),
            "--libc builds with wasi-libc, which is not installed ({WASI_LIBC} is missing): \
             apt-get install wasi-libc libclang-rt-dev-wasm32"
        );
        clang.args([
            "--target=wasm32-wasi",
            "--sysroot=/usr",
            "-mexec-model=reactor",
            "-O2",
        ]);
    } else {
        clang
            .arg(format!("--target={TARGET}"))
            .args(["-O2", "-nostdlib", "-ffreestanding", "-fvisibility=hidden"])
            .args(["-Wl,--no-entry", "-Wl,--export-dynamic"]);
    }
    let status = clang
        .arg("-I")
        .arg(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .arg("-o")
        .arg(&module)
        .arg(&source)
        .args(if libc { &["-lm"][..] } else { &[] })
        .status()
        .context(
            "running clang: building C for wasm32 needs clang and lld (apt-get install clang lld)",
        )?;
    anyhow::ensure!(
        status.success(),
        "clang could not build {}",
        source.display()
    );
    Ok(module)
}
