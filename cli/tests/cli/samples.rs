//! Sampled spaces (`[samples]`): through `run`, crops and `--into`, in every format, read back
//! by xarray and pandas.

use crate::util::{Dir, guest, stdout, tree};

fn mandel_samples(dir: &Dir, name: &str, n: u64, seed: u64, maxiter: &str) -> String {
    dir.write(
        &format!("{name}.toml"),
        &format!(
            "function = \"{}\"\n[samples]\nn = {n}\nseed = {seed}\nmethod = \"sobol\"\n\
             x = {{ uniform = [-2.0, 0.5] }}\ny = {{ uniform = [-1.25, 1.25] }}\n\
             [combos]\nmaxiter = {maxiter}\n",
            guest("mandel")
        ),
    )
    .display()
    .to_string()
}

#[test]
fn samples_run_and_crop_to_the_same_dataset_in_every_format() {
    let dir = Dir::new();
    let spec = mandel_samples(&dir, "m", 256, 7, "[20, 50]");
    for ext in ["zarr", "nc", "parquet", "csv", "json"] {
        dir.xyz_ok(&["run", &spec, "-o", &format!("m.{ext}"), "-q"], 0);
    }
    xyz_tests::python("check.py", &[&"samples", &dir.path("m")]);
    let shown = stdout(&dir.xyz_ok(&["show", "m.zarr"], 0));
    assert!(
        shown.contains("Dimensions:  (sample: 256, maxiter: 2)"),
        "{shown}"
    );
    assert!(shown.contains("    x        (sample) f64"), "{shown}");
    for ext in ["nc", "parquet"] {
        let again = stdout(&dir.xyz_ok(&["show", &format!("m.{ext}")], 0));
        assert_eq!(
            again.lines().skip(1).collect::<Vec<_>>(),
            shown.lines().skip(1).collect::<Vec<_>>()
        );
    }
    // A crop draws the same samples from the manifest on every node, and reaps the same store.
    dir.xyz_ok(&["sow", &spec, "--batchsize", "64", "-q"], 0);
    dir.xyz_ok(&["grow", "m", "-q"], 0);
    dir.xyz_ok(&["reap", "m", "-o", "crop.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("crop.zarr")), tree(&dir.path("m.zarr")));
    // The same seed draws the same samples again.
    dir.xyz_ok(&["run", &spec, "-o", "again.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("again.zarr")), tree(&dir.path("m.zarr")));
}

#[test]
fn every_distribution_reaches_the_function_with_its_type() {
    let dir = Dir::new();
    let spec = dir.write(
        "s.toml",
        &format!(
            "function = \"{}\"\n[samples]\nn = 1000\nseed = 3\nmethod = \"lhs\"\n\
             x = {{ normal = [1.0, 2.0] }}\n[samples.args]\nn = {{ integers = [1, 10] }}\n",
            guest("stats")
        ),
    );
    dir.xyz_ok(&["run", spec.to_str().unwrap(), "-o", "s.zarr", "-q"], 0);
    xyz_tests::python("check.py", &[&"samples-marginals", &dir.path("s.zarr")]);
    let spec = dir.write(
        "c.toml",
        &format!(
            "function = \"{}\"\n[samples]\nn = 40\nseed = 1\nmethod = \"halton\"\n\
             x = {{ loguniform = [1e-3, 1.0] }}\nlabel = {{ choice = [\"a\", \"b\"] }}\n\
             flag = {{ choice = [true, false] }}\n",
            guest("classify")
        ),
    );
    dir.xyz_ok(&["run", spec.to_str().unwrap(), "-o", "c.csv", "-q"], 0);
    let csv = std::fs::read_to_string(dir.path("c.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("sample,x,label,flag,"), "{header}");
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 40);
    for r in &rows {
        let x: f64 = r[1].parse().unwrap();
        assert!((1e-3..=1.0).contains(&x), "{r:?}");
        assert!(
            ["a", "b"].contains(&r[2]) && ["true", "false"].contains(&r[3]),
            "{r:?}"
        );
    }
    for (col, value) in [(2, "a"), (3, "true")] {
        let k = rows.iter().filter(|r| r[col] == value).count();
        assert!((14..=26).contains(&k), "{value}: {k} of 40");
    }
}

#[test]
fn a_study_grows_by_more_samples_or_combos_and_refuses_other_samples() {
    let dir = Dir::new();
    let small = mandel_samples(&dir, "a", 100, 7, "[20]");
    dir.xyz_ok(&["run", &small, "-o", "study.zarr", "-q"], 0);
    // More combos and more samples of the same seed: only the new cases are evaluated.
    let more = mandel_samples(&dir, "b", 150, 7, "[20, 50]");
    let out = stdout(&dir.xyz_ok(&["run", &more, "--into", "study.zarr"], 0));
    assert!(
        out.contains("100 cases already in study.zarr and skipped"),
        "{out}"
    );
    assert!(out.contains("200 cases"), "{out}");
    dir.xyz_ok(&["run", &more, "-o", "fresh.zarr", "-q"], 0);
    assert_eq!(
        stdout(&dir.xyz_ok(&["show", "study.zarr", "--json"], 0)).replace("study", "X"),
        stdout(&dir.xyz_ok(&["show", "fresh.zarr", "--json"], 0)).replace("fresh", "X")
    );
    // Through a crop sown to complete it.
    let most = mandel_samples(&dir, "c", 160, 7, "[20, 50]");
    dir.xyz_ok(&["sow", &most, "--into", "study.zarr", "-q"], 0);
    let st: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["status", "c", "--json"], 0).stdout).unwrap();
    assert_eq!(st["cases"], 20, "{st}");
    dir.xyz_ok(&["grow", "c", "-q"], 0);
    dir.xyz_ok(&["reap", "c", "-q"], 0);
    dir.xyz_ok(&["run", &most, "-o", "fresh160.zarr", "-q"], 0);
    assert_eq!(
        stdout(&dir.xyz_ok(&["show", "study.zarr", "--json"], 0)).replace("study", "X"),
        stdout(&dir.xyz_ok(&["show", "fresh160.zarr", "--json"], 0)).replace("fresh160", "X")
    );
    // netCDF and Parquet keep the samples' coordinates through a merge too.
    for ext in ["nc", "parquet"] {
        let (study, fresh) = (format!("study.{ext}"), format!("fresh.{ext}"));
        dir.xyz_ok(&["run", &small, "-o", &study, "-q"], 0);
        let out = stdout(&dir.xyz_ok(&["run", &more, "--into", &study], 0));
        assert!(out.contains("100 cases already"), "{out}");
        dir.xyz_ok(&["run", &more, "-o", &fresh, "-q"], 0);
        assert_eq!(
            stdout(&dir.xyz_ok(&["show", &study, "--json"], 0)).replace("study", "X"),
            stdout(&dir.xyz_ok(&["show", &fresh, "--json"], 0)).replace("fresh", "X")
        );
    }
    // Another seed draws other points: their results cannot share the dataset.
    let other = mandel_samples(&dir, "d", 160, 8, "[20, 50]");
    let err = dir.xyz_err(&["run", &other, "--into", "study.zarr"]);
    assert!(
        err.contains("coordinate `x` at sample = 0 is") && err.contains("the samples differ"),
        "{err}"
    );
}

#[test]
fn bad_samples_are_refused_naming_what_is_wrong() {
    let dir = Dir::new();
    let mandel = guest("mandel");
    for (body, expected) in [
        (
            "[samples]\nn = 10\nseed = 1\nx = { uniform = [0, 1] }\ny = { uniform = [0, 1] }\n\
             [[cases]]\nmaxiter = 5\n",
            "[samples] and [[cases]] cannot be combined",
        ),
        (
            "[samples]\nn = 10\nseed = 1\nx = { uniform = [0, 1] }\nz = { uniform = [0, 1] }\n\
             [constants]\ny = 0.0\nmaxiter = 5\n",
            "`z` in samples is not an argument of mandel",
        ),
        (
            "[samples]\nn = 10\nseed = 1\nx = { uniform = [0, 1] }\ny = { uniform = [0, 1] }\n\
             maxiter = { uniform = [1, 9] }\n",
            "`maxiter` in samples: its distribution draws f64 values, but it is i64",
        ),
        (
            "[samples]\nn = 10\nseed = 1\nx = { uniform = [0, 1] }\ny = { uniform = [0, 1] }\n\
             [constants]\nx = 0.5\nmaxiter = 5\n",
            "`x` is given twice",
        ),
        (
            "[samples]\nn = 10\nseed = 1\nx = { uniform = [0, 1] }\ny = { uniform = [0, 1] }\n\
             [combos]\nsample = [1, 2]\nmaxiter = [5]\n",
            "`sample` names the dim of the samples",
        ),
        (
            "[samples]\nn = 10\nx = { uniform = [0, 1] }\n",
            "`samples.seed`: a seed is needed",
        ),
        (
            "[samples]\nn = 10\nseed = 1\nmethod = \"grid\"\nx = { uniform = [0, 1] }\n",
            "`samples.method`: `grid` is not a method",
        ),
        (
            "[samples]\nn = 10\nseed = 1\nx = { beta = [1, 2] }\n",
            "`samples.x`: `beta` is not a distribution",
        ),
    ] {
        let spec = dir.write("bad.toml", &format!("function = \"{mandel}\"\n{body}"));
        let err = dir.xyz_err(&["run", spec.to_str().unwrap(), "-o", "bad.zarr"]);
        assert!(err.contains(expected), "{body}\n=> {err}");
        assert!(!dir.path("bad.zarr").exists());
    }
}
