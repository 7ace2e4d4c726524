//! `xyz run` on the examples, checked by xarray and pandas, and `xyz inspect`.

use crate::util::{Dir, classify_spec, guest, stdout, tree};

#[test]
fn add_spec_writes_a_dataset_xarray_reads() {
    let dir = Dir::new();
    let spec = dir.write(
        "add.toml",
        &format!(
            r#"
            function = "{}"
            [combos]
            a = {{ linspace = [0.0, 1.0, 5] }}
            b = [10, 20, 30]
            [constants]
            c = 7.5
            "#,
            guest("add")
        ),
    );
    let out = dir.xyz_ok(&["run", spec.to_str().unwrap()], 0);
    let text = stdout(&out);
    assert!(text.contains("add: 15 cases in"), "{text}");
    assert!(
        text.contains("wrote add.zarr (zarr): dims a=5, b=3"),
        "{text}"
    );
    xyz_tests::python("check.py", &[&"add", &dir.path("add.zarr")]);
}

#[test]
fn stats_and_ramp_and_mandel_match_independent_values() {
    let dir = Dir::new();
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("stats"),
            "--combo",
            "n=[1, 2, -3, 7]",
            "--combo",
            "x={ range = [-1.0, 1.0, 0.25] }",
            "-o",
            "stats.zarr",
        ],
        0,
    );
    xyz_tests::python("check.py", &[&"stats", &dir.path("stats.zarr")]);

    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("ramp"),
            "--combo",
            "a=-1,0.5,2",
            "--combo",
            "b={ logspace = [-1, 1, 3] }",
            "-o",
            "ramp.zarr",
        ],
        0,
    );
    xyz_tests::python("check.py", &[&"ramp", &dir.path("ramp.zarr")]);

    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("mandel"),
            "--combo",
            "y={ linspace = [-1.25, 1.25, 21] }",
            "--combo",
            "x={ linspace = [-2.0, 0.5, 31] }",
            "--constant",
            "maxiter=200",
            "-o",
            "mandel.zarr",
        ],
        0,
    );
    xyz_tests::python("check.py", &[&"mandel", &dir.path("mandel.zarr")]);
}

#[test]
fn bundled_mandel_spec_runs() {
    let dir = Dir::new();
    let spec = xyz_tests::workspace_root().join("wasm-examples/mandel/mandel.toml");
    let out = dir.xyz_ok(
        &[
            "run",
            spec.to_str().unwrap(),
            "--combo",
            "x={ linspace = [-2.0, 0.5, 40] }",
            "--combo",
            "y={ linspace = [-1.25, 1.25, 30] }",
            "--json",
            "-o",
            "m.zarr",
        ],
        0,
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["cases"], 1200);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["dims"][0]["name"], "y");
    xyz_tests::python("check.py", &[&"mandel", &dir.path("m.zarr")]);
}

#[test]
fn cases_that_do_not_cover_the_grid_leave_missing_bools_and_strings() {
    let dir = Dir::new();
    let spec = classify_spec(&dir);
    dir.xyz_ok(&["run", spec.to_str().unwrap(), "-o", "c.zarr"], 0);
    xyz_tests::python("check.py", &[&"classify", &dir.path("c.zarr")]);
}

#[test]
fn tabular_outputs_are_read_by_pandas() {
    let dir = Dir::new();
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("stats"),
            "--combo",
            "n=1,2,3",
            "--combo",
            "x=0.5,1.5",
            "-o",
            "s.csv",
        ],
        0,
    );
    xyz_tests::python("check.py", &[&"csv-stats", &dir.path("s.csv")]);
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("ramp"),
            "--combo",
            "a=1,2",
            "--combo",
            "b=0,3",
            "-o",
            "r.out",
            "--format",
            "json",
        ],
        0,
    );
    xyz_tests::python("check.py", &[&"json-ramp", &dir.path("r.out")]);
}

#[test]
fn thread_counts_give_identical_stores() {
    let dir = Dir::new();
    let args = |out: &'static str, j: &'static str| {
        vec![
            "run".to_string(),
            "--function".into(),
            guest("mandel"),
            "--combo".into(),
            "y={ linspace = [-1, 1, 37] }".into(),
            "--combo".into(),
            "x={ linspace = [-2, 0.5, 53] }".into(),
            "--constant".into(),
            "maxiter=300".into(),
            "-o".into(),
            out.into(),
            "-j".into(),
            j.into(),
        ]
    };
    for (out, j) in [("j1.zarr", "1"), ("j2.zarr", "2")] {
        let a = args(out, j);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        dir.xyz_ok(&a, 0);
    }
    assert_eq!(tree(&dir.path("j1.zarr")), tree(&dir.path("j2.zarr")));
}

#[test]
fn existing_output_needs_force_and_is_replaced_whole() {
    let dir = Dir::new();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "run",
            "--function",
            "",
            "--combo",
            "a=1,2",
            "--combo",
            "b=3",
            "--constant",
            "c=0",
            "-o",
            "out.zarr",
        ];
        let g = guest("add");
        a[2] = &g;
        a.extend_from_slice(extra);
        dir.xyz(&a)
    };
    assert_eq!(run(&[]).status.code(), Some(0));
    let before = tree(&dir.path("out.zarr"));
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("out.zarr already exists; pass --force to replace it"),
        "{err}"
    );
    assert_eq!(
        tree(&dir.path("out.zarr")),
        before,
        "refused run left the output alone"
    );
    let out = {
        let g = guest("add");
        dir.xyz(&[
            "run",
            "--function",
            &g,
            "--combo",
            "a=5,6,7",
            "--combo",
            "b=3",
            "--constant",
            "c=0",
            "-o",
            "out.zarr",
            "--force",
        ])
    };
    assert_eq!(out.status.code(), Some(0));
    assert_ne!(tree(&dir.path("out.zarr")), before);
    let names: Vec<String> = std::fs::read_dir(dir.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out.zarr"], "no temporary or backup left behind");
}

#[test]
fn inspect_prints_the_signature() {
    let dir = Dir::new();
    let out = dir.xyz_ok(&["inspect", &guest("ramp")], 0);
    let text = stdout(&out);
    assert!(
        text.contains("signature  ramp(a: f64, b: f64) -> (y: f64[t=5])"),
        "{text}"
    );
    assert!(text.contains("  output   y: f64 [t=5]"), "{text}");
    let out = dir.xyz_ok(&["inspect", &guest("classify"), "--json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["abi_version"], 1);
    assert_eq!(
        v["args"][1],
        serde_json::json!({"name": "label", "type": "str"})
    );
    assert_eq!(
        v["outputs"][0],
        serde_json::json!({"name": "positive", "type": "bool", "dims": []})
    );
    assert_eq!(v["imports"], serde_json::json!(["xyz.panic"]));
}

#[test]
fn help_lists_exit_codes_and_examples() {
    let dir = Dir::new();
    let out = dir.xyz_ok(&["--help"], 0);
    assert!(stdout(&out).contains("3  some cases failed"));
    let out = dir.xyz_ok(&["run", "--help"], 0);
    assert!(stdout(&out).contains("EXAMPLES:"));
    assert_eq!(dir.xyz(&["run", "--no-such-flag"]).status.code(), Some(2));
}

/// A module written by hand against docs/ABI.md, with no guest kit, sweeps like any other:
/// values, per-case errors and their messages, under either watchdog.
#[test]
fn a_module_written_against_the_documented_abi_runs() {
    let dir = Dir::new();
    let m = crate::util::wat_fixture(&dir, "affine.wat");
    let inspect = stdout(&dir.xyz_ok(&["inspect", &m], 0));
    assert!(inspect.contains("affine(x: f64) -> (y: f64)"), "{inspect}");
    for watchdog in ["process", "epoch"] {
        let out = dir.xyz_ok(
            &[
                "run",
                "--function",
                &m,
                "--combo",
                "x={ range = [-3, 40, 0.5] }",
                "--watchdog",
                watchdog,
                "--json",
                "--force",
                "-o",
                "affine.csv",
            ],
            3,
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["cases"], 86);
        assert_eq!(v["failed"], 6);
        assert_eq!(v["failures"][5]["message"], "negative x");
        assert_eq!(v["failures"][5]["args"]["x"], -0.5);
        let csv = std::fs::read_to_string(dir.path("affine.csv")).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "x,y,xyz_status,xyz_error");
        assert_eq!(rows[1], "-3.0,,1,error: negative x");
        assert_eq!(rows[7], "0.0,1.0,0,");
        assert_eq!(rows[86], "39.5,80.0,0,");
    }
}

/// The progress bar shows on a terminal (here a pseudo-terminal made by `script`), with a
/// rate and an ETA, and never on a pipe or with --quiet.
#[test]
fn progress_shows_on_a_terminal_only() {
    let dir = Dir::new();
    let spec = xyz_tests::workspace_root().join("wasm-examples/mandel/mandel.toml");
    let args = |out: &str| {
        vec![
            "run".to_string(),
            spec.display().to_string(),
            "-o".into(),
            out.into(),
            "-j".into(),
            "1".into(),
        ]
    };
    let piped = dir.xyz_ok(
        &args("piped.zarr")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        0,
    );
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );

    let on_terminal = |extra: &str, out: &str| {
        let mut line = format!("'{}'", env!("CARGO_BIN_EXE_xyz"));
        for a in args(out) {
            line.push_str(&format!(" '{a}'"));
        }
        line.push_str(extra);
        let out = std::process::Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .current_dir(dir.tmp.path())
            .env("XYZ_CACHE_DIR", crate::util::cache_dir())
            .output()
            .expect("script runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal("", "tty.zarr");
    assert!(shown.contains("/160,000 cases ("), "{shown}");
    assert!(shown.contains(" left)"), "{shown}");
    let quiet = on_terminal(" --quiet", "quiet.zarr");
    assert!(!quiet.contains(" left)"), "{quiet}");
}

/// `XYZ_EXEC_PREFIX` starts xyz's own child processes (workers, batch growers) behind a
/// command, as an emulator or wrapper needs; a prefix that cannot start says so.
#[test]
fn child_processes_start_behind_the_exec_prefix() {
    let dir = Dir::new();
    let wrap = dir.write(
        "wrap.sh",
        "#!/bin/sh\necho \"$2\" >> \"$(dirname \"$0\")/started\"\nexec \"$@\"\n",
    );
    std::fs::set_permissions(&wrap, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let add = crate::util::guest("add");
    let args = [
        "run",
        "-q",
        "--function",
        &add,
        "--combo",
        "a=1,2",
        "--combo",
        "b=3",
        "--constant",
        "c=0",
        "-o",
        "-",
    ];
    let prefix: &std::ffi::OsStr = wrap.as_os_str();
    let out = dir.xyz_env(&args, &[("XYZ_EXEC_PREFIX", prefix)], 0);
    assert!(stdout(&out).contains("2.0,3.0,0.0,5.0,0,"), "{out:?}");
    let started = std::fs::read_to_string(dir.path("started")).unwrap();
    assert!(
        started.lines().all(|l| l == "worker") && !started.is_empty(),
        "{started}"
    );
    let missing: &std::ffi::OsStr = "/nonexistent/emulator -x".as_ref();
    let out = dir.xyz_env(&args, &[("XYZ_EXEC_PREFIX", missing)], 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/emulator"), "{err}");
}
