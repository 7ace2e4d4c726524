//! `xyz verify`: cells of a dataset evaluated again with the function it records, here and
//! through a launcher, and compared bit for bit: a value altered on disk (by zarr-python, by
//! the netCDF library) is caught, a function other than the one on record is refused.

use std::process::Command;

use crate::util::{Dir, guest, stdout};

/// Python's `code` run in `dir`, which must succeed.
fn python(dir: &Dir, code: &str) {
    let out = Command::new("python3")
        .args(["-c", code])
        .current_dir(dir.tmp.path())
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_dataset_verifies_clean_and_a_value_altered_on_disk_is_caught() {
    let dir = Dir::new();
    let (add, faulty) = (guest("add"), guest("faulty"));
    let sweep = [
        "--function",
        &add,
        "--combo",
        "a={ range = [0, 30] }",
        "--combo",
        "b={ linspace = [0, 1, 20] }",
        "--constant",
        "c=0.25",
        "-q",
    ];
    for out in ["a.zarr", "a.nc"] {
        let mut run = vec!["run", "-o", out];
        run.extend(sweep);
        dir.xyz_ok(&run, 0);
        let clean = dir.xyz_ok(&["verify", out, "--function", &add], 0);
        assert_eq!(
            stdout(&clean).trim(),
            format!("{out}: 100 cells evaluated again (0 of them failures), all as on record")
        );
    }
    // One value changed by another library, as a damaged disk or a hand would.
    python(
        &dir,
        "import zarr\ng = zarr.open_group('a.zarr', mode='r+')\ng['sum'][17, 3] = 99.0",
    );
    python(
        &dir,
        "import netCDF4\nd = netCDF4.Dataset('a.nc', 'r+')\nd['sum'][4, 19] = -1.0\nd.close()",
    );
    for (out, place, was) in [
        ("a.zarr", "a=17.0, b=", "99.0"),
        ("a.nc", "a=4.0, b=1.0", "-1.0"),
    ] {
        let caught = dir.xyz_ok(&["verify", out, "--function", &add, "--all"], 4);
        let text = stdout(&caught);
        assert!(
            text.contains(&format!("{out}: 1 of 600 cells evaluated again differ"))
                && text.contains(place)
                && text.contains(&format!("sum: {was} on record,"))
                && text.contains("the dataset was made by function add(a: f64, b: f64, c: f64)"),
            "{text}"
        );
        // A draw of a few cells may miss it; the same seed draws the same cells.
        let a = dir.xyz_ok(&["verify", out, "--function", &add, "--cells", "3"], 0);
        let b = dir.xyz_ok(
            &["verify", out, "--function", &add, "--cells", "3", "--json"],
            0,
        );
        let report: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
        assert_eq!(report["checked"], 3, "{report}");
        assert!(stdout(&a).contains("3 cells evaluated again"));
    }

    // Failures on record must fail again.
    let mut run = vec!["run", "-o", "f.zarr", "--function", &faulty, "-q"];
    run.extend([
        "--combo",
        "mode=ok,err",
        "--combo",
        "x={ linspace = [0, 1, 7] }",
    ]);
    dir.xyz_ok(&run, 3);
    let failed = dir.xyz_ok(&["verify", "f.zarr", "--function", &faulty, "--failed"], 0);
    assert_eq!(
        stdout(&failed).trim(),
        "f.zarr: 7 cells evaluated again (7 of them failures), all as on record"
    );

    // Another function is refused, naming both SHA-256s; so is a table that keeps no layout.
    let err = dir.xyz_err(&["verify", "f.zarr", "--function", &add]);
    assert!(
        err.contains("verifying f.zarr: the function given has sha256 ")
            && err.contains("but the dataset was made by one with sha256"),
        "{err}"
    );
    dir.xyz_ok(
        &[
            "run",
            "-o",
            "a.csv",
            "--function",
            &add,
            "-q",
            "--combo",
            "a=1",
            "--constant",
            "b=1",
            "--constant",
            "c=0",
        ],
        0,
    );
    let err = dir.xyz_err(&["verify", "a.csv", "--function", &add]);
    assert!(
        err.contains("verify reads a dataset that keeps its layout"),
        "{err}"
    );
}

#[test]
fn sampled_datasets_verify_through_a_launcher() {
    let dir = Dir::new();
    let spec = dir.write(
        "s.toml",
        &format!(
            "function = \"{}\"\n[samples]\nn = 64\nseed = 3\nmethod = \"sobol\"\n\
             x = {{ uniform = [-2.0, 0.5] }}\ny = {{ uniform = [-1.25, 1.25] }}\n\
             [constants]\nmaxiter = 50\n",
            guest("mandel")
        ),
    );
    dir.xyz_ok(&["run", spec.to_str().unwrap(), "-o", "s.zarr", "-q"], 0);
    // The worker is started by a script that leaves a mark, as ssh or srun would start it on
    // another node.
    dir.write(
        "launch.sh",
        "#!/bin/sh\ntouch \"launched-$1\"\nshift\nexec \"$@\"\n",
    );
    let out = dir.xyz_ok(
        &[
            "verify",
            "s.zarr",
            "--function",
            &guest("mandel"),
            "--all",
            "-j",
            "1",
            "--launcher",
            "sh launch.sh {i}",
        ],
        0,
    );
    assert_eq!(
        stdout(&out).trim(),
        "s.zarr: 64 cells evaluated again (0 of them failures), all as on record"
    );
    assert!(dir.path("launched-0").exists());
}
