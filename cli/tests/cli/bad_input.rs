//! Bad input: each error names the file, field or argument and what was expected, and
//! nothing is written.

use crate::util::{Dir, guest, wat_fixture};

fn add_spec(dir: &Dir, body: &str) -> String {
    let text = format!("function = \"{}\"\n{body}", guest("add"));
    dir.write("spec.toml", &text).display().to_string()
}

#[track_caller]
fn assert_refused(dir: &Dir, args: &[&str], expected: &str) {
    let err = dir.xyz_err(args);
    assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    let left: Vec<_> = std::fs::read_dir(dir.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".zarr"))
        .collect();
    assert!(left.is_empty(), "a refused run wrote {left:?}");
}

#[test]
fn space_errors_name_the_argument() {
    let dir = Dir::new();
    let cases = [
        (
            "[combos]\na = [1]\nb = [2]\nz = [3]\n[constants]\nc = 0",
            "`z` in combos is not an argument of add; its arguments are: a, b, c",
        ),
        (
            "[combos]\na = [1]\nb = [\"x\"]\n[constants]\nc = 0",
            "`b` in combos: expected f64, found \"x\" (str)",
        ),
        (
            "[combos]\na = []\nb = [2]\n[constants]\nc = 0",
            "combo `a`: the list of values is empty",
        ),
        (
            "[combos]\na = [1, 2, 1]\nb = [2]\n[constants]\nc = 0",
            "combo `a`: the value 1 appears twice",
        ),
        (
            "[combos]\na = { range = [0, 5, 0] }\nb = [2]\n[constants]\nc = 0",
            "combo `a`: `range` step must not be zero",
        ),
        (
            "[combos]\na = { range = [5, 0, 1] }\nb = [2]\n[constants]\nc = 0",
            "combo `a`: `range` = [5, 0, 1] produces no values",
        ),
        (
            "[combos]\na = [1]\n[constants]\nc = 0",
            "argument `b` (f64) of add has no value",
        ),
        (
            "[combos]\na = [1]\nb = [1]\n[constants]\nc = 0\nb = 2",
            "`b` is given twice, in combos and in constants",
        ),
        (
            "[combos]\na = 5\nb = [1]\n[constants]\nc = 0",
            "spec.toml: `combos.a`: expected a list of values",
        ),
        ("[combo]\na = [1]", "unknown field `combo`"),
    ];
    for (body, expected) in cases {
        let spec = add_spec(&dir, body);
        assert_refused(&dir, &["run", &spec, "-o", "out.zarr"], expected);
    }
    let spec = add_spec(&dir, "[combos]\na = [1]\nb = [2]\n[constants]\nc = 0");
    // A usage error: exit code 2.
    let out = dir.xyz_ok(&["run", &spec, "--combo", "a"], 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--combo takes NAME=VALUE, not `a`"),
        "{out:?}"
    );
    assert_refused(
        &dir,
        &["run", &spec, "-o", "out.txt"],
        "cannot tell the format of out.txt",
    );
    assert_refused(
        &dir,
        &["run", &spec, "--memory", "lots"],
        "--memory: expected a size",
    );
    assert_refused(
        &dir,
        &["run", "missing.toml"],
        "missing.toml: could not read the spec",
    );
    let out = dir.xyz_ok(&["run", "--combo", "a=1"], 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no function to run"),
        "{out:?}"
    );
}

#[test]
fn module_errors_name_the_module_and_the_problem() {
    let dir = Dir::new();
    let not_wasm = dir
        .write("notwasm.wasm", "this is text")
        .display()
        .to_string();
    assert_refused(
        &dir,
        &["inspect", &not_wasm],
        "notwasm.wasm: not a WebAssembly module (it does not start with the bytes \\0asm)",
    );
    let m = wat_fixture(&dir, "no_exports.wat");
    assert_refused(
        &dir,
        &["inspect", &m],
        "no_exports.wasm: does not export `xyz_abi_version` (a function () -> i32)",
    );
    let m = wat_fixture(&dir, "wrong_abi.wat");
    assert_refused(
        &dir,
        &["inspect", &m],
        "wrong_abi.wasm: implements xyz ABI version 2, but this xyz speaks version 1",
    );
    let m = wat_fixture(&dir, "host_import.wat");
    assert_refused(
        &dir,
        &["inspect", &m],
        "host_import.wasm: imports `env.socket` (a function), which the sandbox does not \
         provide: an xyz function may import only `xyz.panic` and the functions of WASI \
         preview 1",
    );
    let m = wat_fixture(&dir, "bad_signature.wat");
    assert_refused(
        &dir,
        &["inspect", &m],
        "bad_signature.wasm: declares an invalid signature `f(a: float) -> (y: f64)`: expected a \
         type (i64, f64, c128, bool or str)",
    );
    assert_refused(
        &dir,
        &["run", "--function", &m, "--combo", "a=1"],
        "bad_signature.wasm",
    );
}

/// Values a coordinate cannot be (not finite, written as Python does not, one number twice)
/// are refused, naming the argument and what is wrong.
#[test]
fn coordinates_must_be_finite_numbers_written_as_python_writes_them() {
    let dir = Dir::new();
    // A usage error (2) on the command line, an error (1) from a spec.
    let refused = |args: &[&str]| {
        let out = dir.xyz(args);
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{args:?}: {out:?}"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let resolvent = guest("resolvent");
    for (combo, expected) in [
        (r#"level=["1+2i"]"#, r#"found "1+2i" (str)"#),
        (
            r#"level=["nan+nanj"]"#,
            "`level` in combos: (NaN+NaNj) is not a finite number",
        ),
        (r#"level=["inf+1j"]"#, "(inf+1j) is not a finite number"),
        (r#"level=["1e400j"]"#, "(0+infj) is not a finite number"),
        (r#"level=[{re=1}]"#, "both parts given: `im` is missing"),
        (r#"level=["0j","-0j"]"#, "the value (0+0j) appears twice"),
    ] {
        let err = refused(&[
            "run",
            "--function",
            &resolvent,
            "--combo",
            combo,
            "--constant",
            "e=0",
            "--constant",
            "eta=0.1",
        ]);
        assert!(err.contains(expected), "{combo}: {err}");
    }
    let add = guest("add");
    for (combo, expected) in [
        ("a=[nan]", "`a` in combos: NaN is not a finite number"),
        ("a=[inf]", "`a` in combos: inf is not a finite number"),
        (
            "a={ linspace = [-1e308, 1e308, 3] }",
            "spans more than a float holds",
        ),
    ] {
        let err = refused(&[
            "run",
            "--function",
            &add,
            "--combo",
            combo,
            "--constant",
            "b=0",
            "--constant",
            "c=0",
        ]);
        assert!(err.contains(expected), "{combo}: {err}");
    }
    for (dist, expected) in [
        (
            "{ uniform = [-1e308, 1e308] }",
            "`samples.a`: `uniform` = [-1e308, 1e308] spans",
        ),
        ("{ normal = [0, 1e307] }", "`samples.a`: `normal`"),
        (
            "{ choice = [1.0, nan] }",
            "`a` in samples: NaN is not a finite number",
        ),
    ] {
        let spec = dir.write(
            "s.toml",
            &format!(
                "function = \"{add}\"\n[constants]\nb = 0\nc = 0\n[samples]\nn = 4\nseed = 1\n\
                 a = {dist}\n"
            ),
        );
        let err = refused(&["run", spec.to_str().unwrap()]);
        assert!(err.contains(expected), "{dist}: {err}");
    }
}
