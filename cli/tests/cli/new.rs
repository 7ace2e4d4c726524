//! Functions from anywhere (issue 15): `xyz new` and `xyz build` outside the workspace, and the
//! README's function-writing commands run as written.

use crate::util::{Dir, stdout};

/// The README's block of commands for writing a function, but its first two lines (which
/// install xyz and the wasm32 target, both done for the tests).
fn readme_block() -> String {
    let readme = std::fs::read_to_string(xyz_tests::workspace_root().join("README.md")).unwrap();
    let start = readme
        .find("cargo install --path cli")
        .expect("the install line");
    let block = &readme[start..];
    let block = &block[..block.find("```").expect("the block's end")];
    block
        .lines()
        .filter(|l| !l.starts_with("cargo install") && !l.starts_with("rustup"))
        .map(|l| l.split("  #").next().unwrap_or(l).trim())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readmes_function_writing_commands_run_as_written_outside_the_workspace() {
    // A release binary alone: a copy of xyz in a directory of its own, away from xyz's source.
    let dir = Dir::new();
    let bin = dir.path("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_xyz"), bin.join("xyz")).unwrap();
    let script = readme_block();
    assert!(script.starts_with("xyz new hypot"), "{script}");
    let out = dir.sh_with(&script, &bin);
    let said = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script}\n{said}");
    assert!(said.contains("r  (x, y) f64"), "{said}");
    for file in [
        "Cargo.toml",
        "src/lib.rs",
        "hypot.toml",
        "README.md",
        "hypot.zarr/zarr.json",
        "xyz-kit/xyz-guest/Cargo.toml",
        "xyz-kit/xyz-guest-macros/src/lib.rs",
        "xyz-kit/xyz-abi/src/signature.rs",
    ] {
        assert!(dir.path("hypot").join(file).exists(), "no {file}");
    }
    // Nothing the crate builds from points back into xyz's source.
    let root = xyz_tests::workspace_root().to_str().unwrap();
    let out = dir.sh(&format!("! grep -rl '{root}' hypot --exclude-dir=target"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A second function in the crate: one compile error, and xyz says what to do.
    let lib = dir.path("hypot/src/lib.rs");
    let mut code = std::fs::read_to_string(&lib).unwrap();
    code.push_str(
        "\n#[xyz_guest::function(outputs = [\"s\"])]\npub fn sum(x: f64, y: f64) -> f64 { x + y }\n",
    );
    std::fs::write(&lib, code).unwrap();
    let out = dir.xyz_ok(&["build", "hypot"], 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("error[E").count(), 1, "{err}");
    assert!(err.contains("a module exports one function"), "{err}");
}

#[test]
fn a_new_c_function_builds_with_clang_and_runs() {
    let dir = Dir::new();
    dir.xyz_ok(&["new", "chyp", "--lang", "c"], 0);
    let module = stdout(&dir.xyz_ok(&["build", "chyp"], 0));
    assert!(module.trim().ends_with("chyp/chyp.wasm"), "{module}");
    let out = dir.xyz_ok(&["run", "chyp/chyp.toml", "-o", "-", "-q"], 0);
    let csv = stdout(&out);
    assert!(
        csv.starts_with("x,y,r,xyz_status,xyz_error\n-1.0,-1.0,1.414213562373095"),
        "{csv}"
    );
    // Names that cannot name a function, and a directory that exists, are refused.
    dir.xyz_ok(&["new", "2fast"], 2);
    let err = dir.xyz_err(&["new", "chyp"]);
    assert!(err.contains("chyp already exists"), "{err}");
}
