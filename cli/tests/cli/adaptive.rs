//! Adaptive studies (`[adaptive]`) through `xyz run`: points along a `point` dim in every
//! format, read back by xarray and pandas; the same points whatever the threads, worker
//! processes or launcher; the loss goal; failures kept; and what is refused.

use crate::util::{Dir, guest, stdout, tree};

fn peak_spec(dir: &Dir, name: &str, adaptive: &str) -> String {
    dir.write(
        &format!("{name}.toml"),
        &format!(
            "function = \"{}\"\n[constants]\na = 0.01\n[adaptive]\nx = [-1.0, 1.0]\n{adaptive}",
            guest("peak")
        ),
    )
    .display()
    .to_string()
}

fn ring_spec(dir: &Dir, name: &str, adaptive: &str) -> String {
    dir.write(
        &format!("{name}.toml"),
        &format!(
            "function = \"{}\"\n[constants]\na = 0.2\nspins = 0\n[adaptive]\nx = [-1.0, 1.0]\n\
             y = [-1.0, 1.0]\n{adaptive}",
            guest("ring")
        ),
    )
    .display()
    .to_string()
}

#[test]
fn a_study_is_written_in_every_format_along_its_points() {
    let dir = Dir::new();
    let spec = peak_spec(&dir, "p", "n = 300\n");
    for ext in ["zarr", "nc", "parquet", "csv", "json"] {
        let run = dir.xyz_ok(&["run", &spec, "-o", &format!("p.{ext}")], 0);
        let text = stdout(&run);
        assert!(
            text.starts_with("peak: 300 points in 19 rounds in "),
            "{text}"
        );
        assert!(text.contains(&format!("wrote p.{ext} (")), "{text}");
    }
    xyz_tests::python("check.py", &[&"adaptive", &dir.path("p")]);
    let shown = stdout(&dir.xyz_ok(&["show", "p.zarr"], 0));
    assert!(shown.contains("Dimensions:  (point: 300)"), "{shown}");
    assert!(shown.contains("    x      (point) f64"), "{shown}");
}

#[test]
fn the_same_points_are_chosen_however_the_cases_are_run() {
    let dir = Dir::new();
    let spec = ring_spec(&dir, "r", "n = 500\nrounds = 12\n");
    dir.xyz_ok(&["run", &spec, "-o", "one.zarr", "-j", "1", "-q"], 0);
    dir.xyz_ok(&["run", &spec, "-o", "two.zarr", "-j", "2", "-q"], 0);
    dir.xyz_ok(
        &[
            "run",
            &spec,
            "-o",
            "here.zarr",
            "-j",
            "2",
            "--no-isolate",
            "-q",
        ],
        0,
    );
    let launcher = dir.write("launch.sh", "#!/bin/sh\nexec \"$@\"\n");
    std::fs::set_permissions(
        &launcher,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    dir.xyz_ok(
        &[
            "run",
            &spec,
            "-o",
            "launched.zarr",
            "-j",
            "1",
            "--launcher",
            launcher.to_str().unwrap(),
            "-q",
        ],
        0,
    );
    let one = tree(&dir.path("one.zarr"));
    for other in ["two.zarr", "here.zarr", "launched.zarr"] {
        assert_eq!(tree(&dir.path(other)), one, "{other}");
    }
    // Another round size chooses other points.
    let spec = ring_spec(&dir, "r8", "n = 500\nrounds = 8\n");
    dir.xyz_ok(&["run", &spec, "-o", "eight.zarr", "-q"], 0);
    assert_ne!(tree(&dir.path("eight.zarr")), one);
}

#[test]
fn a_loss_goal_ends_the_study_and_is_reported() {
    let dir = Dir::new();
    let spec = ring_spec(&dir, "r", "loss_goal = 0.02\nn = 20000\n");
    let run = dir.xyz_ok(&["run", &spec, "-o", "r.zarr", "--json"], 0);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    let loss = summary["loss"].as_f64().unwrap();
    let points = summary["points"].as_u64().unwrap();
    assert!(loss <= 0.02, "{summary}");
    assert!(points > 100 && points < 20000, "{summary}");
    assert_eq!(summary["dims"][0]["size"].as_u64(), Some(points));
    assert!(summary["planning_seconds"].as_f64().unwrap() > 0.0);
    let check = format!(
        "import xarray as xr\nds = xr.open_zarr('r.zarr')\nassert ds.sizes['point'] == {points}\n\
         assert ds.attrs['xyz_adaptive_loss'] <= 0.02\nassert ds.x.dims == ('point',)\n\
         assert ds.y.dims == ('point',)\n"
    );
    let out = dir.sh(&format!("python3 -c \"{check}\""));
    assert!(out.status.success(), "{out:?}");
    // With the points to spare cut to a few, n ends it first.
    let spec = ring_spec(&dir, "short", "loss_goal = 0.02\nn = 40\n");
    let run = dir.xyz_ok(&["run", &spec, "-o", "s.zarr", "--json"], 0);
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(summary["points"].as_u64(), Some(40));
    assert!(summary["loss"].as_f64().unwrap() > 0.02);
}

#[test]
fn failed_points_are_kept_and_never_asked_again() {
    let dir = Dir::new();
    let spec = dir.write(
        "f.toml",
        &format!(
            "function = \"{}\"\n[constants]\nmode = \"err\"\n[adaptive]\nx = [0.0, 1.0]\nn = 40\n\
             rounds = 5\n",
            guest("faulty")
        ),
    );
    let run = dir.xyz_ok(&["run", spec.to_str().unwrap(), "-o", "f.zarr"], 3);
    let err = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(
        err.contains("40 points failed") && err.contains("refused x = 0"),
        "{err}"
    );
    let check = "import xarray as xr\nds = xr.open_zarr('f.zarr')\nx = ds.x.values\n\
                 assert len(set(x.tolist())) == 40, x\nassert (ds.xyz_status.values == 1).all()\n\
                 assert all(e.startswith('error: refused x = ') for e in ds.xyz_error.values)\n";
    let out = dir.sh(&format!("python3 -c \"{check}\""));
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn what_cannot_be_learnt_is_refused_naming_it() {
    let dir = Dir::new();
    let err = |adaptive: &str| {
        let spec = peak_spec(&dir, "bad", adaptive);
        dir.xyz_err(&["run", &spec, "-o", "bad.zarr"])
    };
    assert!(
        err("").contains("bad.toml: `adaptive`: when to stop is missing"),
        "{}",
        err("")
    );
    assert!(err("n = 10\nloss = 'l2'").contains("`adaptive.loss`: `l2` is not a loss"));
    assert!(
        err("n = 10\noutput = 'q'").contains("`q` is not an output of peak; its outputs are: y")
    );
    assert!(
        err("n = 10\n[adaptive.args]\nz = [0, 1]")
            .contains("`z` in adaptive is not an argument of peak")
    );
    let spec = dir.write(
        "i.toml",
        &format!(
            "function = \"{}\"\n[constants]\nb = 1\n[adaptive]\na = [0.0, 1.0]\nn = 5\n",
            guest("mandel")
        ),
    );
    let text = dir.xyz_err(&["run", spec.to_str().unwrap()]);
    assert!(
        text.contains("`a` in adaptive is not an argument of mandel"),
        "{text}"
    );
    let spec = dir.write(
        "m.toml",
        &format!(
            "function = \"{}\"\n[combos]\nmaxiter = [10, 20]\n[adaptive]\nx = [0.0, 1.0]\n\
             y = [0.0, 1.0]\nn = 5\n",
            guest("mandel")
        ),
    );
    let text = dir.xyz_err(&["run", spec.to_str().unwrap()]);
    assert!(
        text.contains("[adaptive] goes with [constants] only"),
        "{text}"
    );
    let spec = dir.write(
        "n.toml",
        &format!(
            "function = \"{}\"\n[constants]\nx = 0.5\n[adaptive]\ny = [0.0, 1.0]\nmaxiter = [1, 5]\n\
             n = 5\n",
            guest("mandel")
        ),
    );
    let text = dir.xyz_err(&["run", spec.to_str().unwrap()]);
    assert!(
        text.contains(
            "`maxiter` in adaptive: an adaptive argument must be a float (f64), but it is i64"
        ),
        "{text}"
    );
    let spec = peak_spec(&dir, "ok", "n = 10\n");
    dir.xyz_ok(&["run", &spec, "-o", "ok.zarr", "-q"], 0);
    let text = dir.xyz_err(&["run", &spec, "--into", "ok.zarr"]);
    assert!(text.contains("--into: an adaptive study"), "{text}");
    // Nothing was written by the refusals, and the dataset there is untouched.
    assert!(!dir.path("bad.zarr").exists());
}
