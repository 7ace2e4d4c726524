//! `xyz show`, and output to a pipe that closes early.

use crate::util::{Dir, guest, stdout};

#[test]
fn show_summarises_a_dataset_like_xarray() {
    let dir = Dir::new();
    let f = guest("faulty");
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &f,
            "--combo",
            "mode=ok,err",
            "--combo",
            "x={ linspace = [0, 1, 7] }",
            "-o",
            "f.zarr",
            "-q",
        ],
        3,
    );
    let text = stdout(&dir.xyz_ok(&["show", "f.zarr"], 0));
    for line in [
        "Dimensions:  (mode: 2, x: 7)",
        "  * mode  (mode) str \"ok\" \"err\"",
        "  * x     (x) f64 0.0 0.1667 0.3333 ... 0.6667 0.8333 1.0",
        "    y     (mode, x) f64 1.0 1.1667 1.3333 ... NaN NaN NaN (7 missing)",
        "Cells: 7 ok, 7 failed",
        "    xyz_function: \"faulty(mode: str, x: f64) -> (y: f64)\"",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["show", "f.zarr", "--json"], 0).stdout).unwrap();
    assert_eq!(v["data_vars"][0]["missing"], 7);
    assert_eq!(v["dims"][1]["size"], 7);
    let err = dir.xyz_err(&["show", "nothing.zarr"]);
    assert!(err.contains("nothing.zarr: does not exist"), "{err}");
}

/// Output into a pipe that closes early ends the command quietly, as any Unix tool.
#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = Dir::new();
    let f = guest("faulty");
    let out = dir.xyz_reader_gone(&[
        "run",
        "--function",
        &f,
        "--combo",
        "mode=err",
        "--combo",
        "x={ range = [0, 3000, 1] }",
        "--json",
        "-o",
        "f.zarr",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(dir.path("f.zarr").is_dir());
}
