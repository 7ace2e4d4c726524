//! Embeds the guest kit (the `xyz-guest`, `xyz-guest-macros` and `xyz-abi` crates, their
//! workspace's manifest) and the C header `include/xyz.h` in the binary, so `xyz new` writes
//! them beside a new function wherever the binary is run, with no xyz source at hand.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Each crate of the kit: its package name and its directory in the workspace.
const KIT: [(&str, &str); 3] = [
    ("xyz-guest", "guest"),
    ("xyz-guest-macros", "guest/macros"),
    ("xyz-abi", "abi"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo"));
    let root = manifest_dir
        .parent()
        .expect("cli/ sits in the workspace root");
    let mut code = String::from("/// The guest kit's files: (package, path in it, text).\n");
    code.push_str("pub(crate) const FILES: &[(&str, &str, &str)] = &[\n");
    for (package, dir) in KIT {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files = vec![dir.join("Cargo.toml")];
        sources(&dir.join("src"), &mut files);
        files.sort();
        for file in files {
            let rel = file.strip_prefix(&dir).expect("below its crate");
            let rel = rel.to_str().expect("a UTF-8 path").replace('\\', "/");
            writeln!(
                code,
                "    ({package:?}, {rel:?}, include_str!({:?})),",
                abs(&file)
            )
            .expect("a String takes writes");
        }
    }
    code.push_str("];\n");
    for (name, file) in [
        ("WORKSPACE_MANIFEST", "Cargo.toml"),
        ("HEADER", "include/xyz.h"),
    ] {
        let file = root.join(file);
        println!("cargo:rerun-if-changed={}", file.display());
        writeln!(
            code,
            "pub(crate) const {name}: &str = include_str!({:?});",
            abs(&file)
        )
        .expect("a String takes writes");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo")).join("guest_kit.rs");
    std::fs::write(&out, code).expect("OUT_DIR is writable");
}

/// The `.rs` files below `dir`, recursively.
fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the kit's sources are readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn abs(path: &Path) -> String {
    std::path::absolute(path)
        .expect("an absolute path")
        .to_str()
        .expect("a UTF-8 path")
        .to_string()
}
