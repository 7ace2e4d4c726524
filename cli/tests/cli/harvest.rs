//! Harvest: runs and reaps merged into one dataset with `--into`.

use crate::util::{Dir, guest, stdout, tree};

/// `xyz run` of add over `a` and `b` into all.zarr, with `c=0` unless `extra` gives `c`.
fn add(dir: &Dir, a: &str, b: &str, extra: &[&str]) -> std::process::Output {
    let f = guest("add");
    let mut args = vec!["run", "--function", &f, "--combo", a, "--combo", b];
    if !extra.iter().any(|e| e.starts_with("c=")) {
        args.extend(["--constant", "c=0"]);
    }
    args.extend(["--into", "all.zarr"]);
    args.extend(extra);
    dir.xyz(&args)
}

#[test]
fn runs_merge_into_one_dataset_with_united_coordinates() {
    let dir = Dir::new();
    let first = add(&dir, "a=[1, 3]", "b=[10, 30]", &[]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout(&first).contains("wrote all.zarr"),
        "{}",
        stdout(&first)
    );
    // Overlapping coordinates with equal values merge; new ones slot in sorted.
    let second = add(&dir, "a=[2, 3]", "b=[20, 30]", &[]);
    assert!(second.status.success(), "{second:?}");
    assert!(
        stdout(&second).contains("merged into all.zarr"),
        "{}",
        stdout(&second)
    );
    xyz_tests::python("check.py", &[&"harvest-add", &dir.path("all.zarr")]);
}

#[test]
fn a_different_constant_or_different_dims_are_refused_and_change_nothing() {
    let dir = Dir::new();
    assert!(add(&dir, "a=[1, 2]", "b=[10]", &[]).status.success());
    let before = tree(&dir.path("all.zarr"));
    let err = add(&dir, "a=[2, 3]", "b=[10]", &["--constant", "c=1"]);
    let text = String::from_utf8_lossy(&err.stderr);
    assert_eq!(err.status.code(), Some(1));
    assert!(
        text.contains("constant `c` is 0.0 in the existing dataset but 1.0"),
        "{text}"
    );
    let f = guest("stats");
    let err = dir.xyz_err(&[
        "run",
        "--function",
        &f,
        "--combo",
        "x=1",
        "--combo",
        "n=2",
        "--into",
        "all.zarr",
    ]);
    assert!(
        err.contains(
            r#"the dims differ: the existing dataset has ["a", "b"], the new one ["x", "n"]"#
        ),
        "{err}"
    );
    let err = dir.xyz_err(&[
        "run",
        "--function",
        &f,
        "--combo",
        "x=1",
        "--combo",
        "n=2",
        "--into",
        "all.csv",
    ]);
    assert!(
        err.contains("--into all.csv: harvest merges into a dataset that keeps its layout"),
        "{err}"
    );
    assert_eq!(
        tree(&dir.path("all.zarr")),
        before,
        "a refused merge changes nothing"
    );
}

/// Two builds of `affine(x) -> y`, written by hand: y = 2x + 1 and y = 3x + 1.
fn affines(dir: &Dir) -> (String, String) {
    let two = crate::util::wat_fixture(dir, "affine.wat");
    let text = std::fs::read_to_string(xyz_tests::fixture("affine.wat")).unwrap();
    assert!(text.contains("(f64.const 2)"));
    let wasm = wat::parse_str(text.replace("(f64.const 2)", "(f64.const 3)")).unwrap();
    let three = dir.path("affine3.wasm");
    std::fs::write(&three, wasm).unwrap();
    (two, three.display().to_string())
}

#[test]
fn conflicting_cells_are_refused_unless_told_which_wins() {
    let dir = Dir::new();
    let (two, three) = affines(&dir);
    let run = |f: &str, xs: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--function",
            f,
            "--combo",
            xs,
            "--into",
            "d.zarr",
            "--json",
        ];
        args.extend(extra);
        dir.xyz(&args)
    };
    assert_eq!(run(&two, "x=[-1, 0, 1, 2]", &[]).status.code(), Some(3));
    let before = tree(&dir.path("d.zarr"));
    // Another function's results go in only with --recompute: its cells are not the
    // dataset's function's.
    let err = run(&three, "x=[1, 2, 5]", &[]);
    let text = String::from_utf8_lossy(&err.stderr);
    assert_eq!(err.status.code(), Some(1), "{text}");
    assert!(text.contains("--recompute evaluates every case"), "{text}");
    let err = run(&three, "x=[1, 2, 5]", &["--recompute"]);
    let text = String::from_utf8_lossy(&err.stderr);
    assert_eq!(err.status.code(), Some(1), "{text}");
    assert!(
        text.contains("2 cells hold different values in the existing and the new dataset"),
        "{text}"
    );
    assert!(text.contains("y at x=1.0: 3.0 before, 4.0 now"), "{text}");
    assert!(
        text.contains("choose --overwrite (new values win) or --keep-existing"),
        "{text}"
    );
    assert_eq!(tree(&dir.path("d.zarr")), before);

    // -1 fails in this build too: exit 3, the merge written.
    assert_eq!(
        run(&three, "x=[-1, 2, 5]", &["--keep-existing", "--recompute"])
            .status
            .code(),
        Some(3)
    );
    assert!(
        run(&three, "x=[1]", &["--overwrite", "--recompute"])
            .status
            .success()
    );
    xyz_tests::python("check.py", &[&"harvest-affine", &dir.path("d.zarr")]);
}

/// `--overwrite` is xyzpy's `overwrite=True`: the sweep's cells are evaluated again and their
/// values replace those the dataset holds, though the dataset held them all.
#[test]
fn overwrite_evaluates_the_sweeps_cells_again_and_replaces_them() {
    let dir = Dir::new();
    let (two, three) = affines(&dir);
    let run = |f: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--function",
            f,
            "--combo",
            "x=[1, 2]",
            "--into",
            "d.zarr",
        ];
        args.extend(extra);
        args.extend(["--json", "-q"]);
        let out = dir.xyz_ok(&args, 0);
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()
    };
    run(&two, &[]);
    // The same sweep again: every cell held, none evaluated.
    assert_eq!(run(&two, &[])["skipped"], 2);
    // Overwritten by a function that gives other values: both evaluated, both replaced.
    let said = run(&three, &["--overwrite"]);
    assert_eq!(
        (said["evaluated"].as_u64(), said["skipped"].as_u64()),
        (Some(2), Some(0)),
        "{said}"
    );
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import xarray as xr; print(xr.open_zarr('d.zarr').y.values.tolist())",
        ])
        .current_dir(dir.path(""))
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "[4.0, 7.0]", "{out:?}");
}

#[test]
fn several_crops_reap_into_one_dataset() {
    let dir = Dir::new();
    let f = guest("ramp");
    for (name, a) in [("low", "[-2, -1]"), ("high", "[1, 2]")] {
        let spec = dir.write(
            &format!("{name}.toml"),
            &format!("function = \"{f}\"\n[combos]\na = {a}\nb = [0.0, 0.5]\n"),
        );
        dir.xyz_ok(
            &["sow", spec.to_str().unwrap(), "--batchsize", "3", "-q"],
            0,
        );
        dir.xyz_ok(&["grow", name, "-q"], 0);
    }
    dir.xyz_ok(&["reap", "low", "--into", "ramp.zarr", "-q"], 0);
    dir.xyz_ok(&["reap", "high", "--into", "ramp.zarr", "-q"], 0);
    let whole = dir.write(
        "whole.toml",
        &format!("function = \"{f}\"\n[combos]\na = [-2, -1, 1, 2]\nb = [0.0, 0.5]\n"),
    );
    dir.xyz_ok(&["run", whole.to_str().unwrap(), "-o", "run.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("ramp.zarr")), tree(&dir.path("run.zarr")));
}

/// The mandel study in `study.zarr` holds what one run over maxiter [100, 1000] gives.
fn assert_study_is_one_run(dir: &Dir, spec: &str) {
    dir.xyz_ok(
        &[
            "run",
            spec,
            "--combo",
            "maxiter=[100, 1000]",
            "-o",
            "once.zarr",
            "-q",
        ],
        0,
    );
    let a = xyz_tests::python("stores.py", &[&"values", &dir.path("study.zarr")]);
    let b = xyz_tests::python("stores.py", &[&"values", &dir.path("once.zarr")]);
    assert_eq!(a, b);
}

/// A run into a dataset evaluates only the cells it lacks (issue 17): a mandel study extended
/// from maxiter [100] to [100, 1000] evaluates exactly the new cases, and a run of what is
/// all there evaluates none.
#[test]
fn a_run_into_a_dataset_evaluates_only_what_it_lacks() {
    let dir = Dir::new();
    let spec = crate::util::mandel_spec(&dir, 20, 30, 100);
    let spec = spec.to_str().unwrap();
    let run = |maxiter: &str, extra: &[&str]| -> serde_json::Value {
        let combo = format!("maxiter=[{maxiter}]");
        let mut args = vec![
            "run",
            spec,
            "--combo",
            &combo,
            "--into",
            "study.zarr",
            "--json",
        ];
        args.extend(extra);
        serde_json::from_slice(&dir.xyz_ok(&args, 0).stdout).unwrap()
    };
    let first = run("100", &[]);
    assert_eq!(
        (first["evaluated"].as_u64(), first["skipped"].as_u64()),
        (Some(600), Some(0))
    );
    let more = run("100, 1000", &[]);
    assert_eq!(
        (more["evaluated"].as_u64(), more["skipped"].as_u64()),
        (Some(600), Some(600))
    );
    let again = run("100, 1000", &[]);
    assert_eq!(
        (again["evaluated"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(1200))
    );
    let all = run("1000", &["--recompute"]);
    assert_eq!(all["evaluated"].as_u64(), Some(600));
    // The same as a single run of both.
    assert_study_is_one_run(&dir, spec);
}

/// `sow --into` sows only the cases a dataset lacks, and the reap merges them into it: a
/// mandel study extended from maxiter [100] to [100, 1000] grows exactly the new cases.
#[test]
fn a_crop_sown_into_a_dataset_grows_only_what_it_lacks() {
    let dir = Dir::new();
    let spec = crate::util::mandel_spec(&dir, 20, 30, 100);
    let spec = spec.to_str().unwrap();
    dir.xyz_ok(
        &[
            "run",
            spec,
            "--combo",
            "maxiter=[100]",
            "--into",
            "study.zarr",
            "-q",
        ],
        0,
    );
    let sow = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "sow",
            spec,
            "--combo",
            "maxiter=[100, 1000]",
            "--name",
            "more",
            "--into",
            "study.zarr",
            "--json",
        ];
        args.extend(extra);
        serde_json::from_slice(&dir.xyz_ok(&args, 0).stdout).unwrap()
    };
    let sown = sow(&["--batchsize", "100"]);
    assert_eq!(
        (sown["cases"].as_u64(), sown["skipped"].as_u64()),
        (Some(600), Some(600))
    );
    assert_eq!(sown["batches"], 6);
    // The list of cases is part of the crop's identity: changing it is refused.
    std::fs::write(dir.path(".xyz-more/cases.u64"), [0u8; 8]).unwrap();
    let err = dir.xyz_err(&["status", "more"]);
    assert!(
        err.contains("cases.u64: does not match the SHA-256"),
        "{err}"
    );
    sow(&["--batchsize", "100", "--force"]);
    let grown = stdout(&dir.xyz_ok(&["grow", "more", "--json"], 0));
    assert!(grown.contains("\"cases\": 600"), "{grown}");
    // Reap merges into the dataset the crop was sown for.
    let reaped = stdout(&dir.xyz_ok(&["reap", "more"], 0));
    assert!(reaped.contains("merged into"), "{reaped}");
    assert_study_is_one_run(&dir, spec);
    // Now it lacks nothing: nothing is sown.
    let out = stdout(&dir.xyz_ok(
        &[
            "sow",
            spec,
            "--combo",
            "maxiter=[100, 1000]",
            "--into",
            "study.zarr",
        ],
        0,
    ));
    assert!(out.contains("nothing to sow"), "{out}");
    // Tables keep no layout to merge into.
    let err = dir.xyz_err(&["sow", spec, "--into", "study.csv"]);
    assert!(
        err.contains("--into study.csv: results merge into a .zarr, .nc or .parquet dataset"),
        "{err}"
    );
}

/// Failed cells count as held unless --retry-failed; then only they are evaluated again.
#[test]
fn failed_cells_are_retried_only_when_asked() {
    let dir = Dir::new();
    let faulty = guest("faulty");
    // Exit code 3 when a case evaluated failed, 0 when none did.
    let run = |extra: &[&str], code: i32| -> serde_json::Value {
        let mut args = vec![
            "run",
            "--function",
            &faulty,
            "--combo",
            "mode=ok,err",
            "--combo",
            "x=1,2",
            "--into",
            "f.zarr",
            "--json",
        ];
        args.extend(extra);
        serde_json::from_slice(&dir.xyz_ok(&args, code).stdout).unwrap()
    };
    let first = run(&[], 3);
    assert_eq!(first["failed"], 2);
    let again = run(&[], 0);
    assert_eq!(
        (
            &again["evaluated"],
            &again["skipped"],
            &again["skipped_failed"]
        ),
        (&0.into(), &4.into(), &2.into())
    );
    let retried = run(&["--retry-failed"], 3);
    assert_eq!(
        (
            &retried["evaluated"],
            &retried["failed"],
            &retried["skipped"]
        ),
        (&2.into(), &2.into(), &2.into())
    );
    let text = stdout(&dir.xyz_ok(&["show", "f.zarr", "--failures"], 0));
    assert_eq!(text.lines().count(), 2, "{text}");
}
