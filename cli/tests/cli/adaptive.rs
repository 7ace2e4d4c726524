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
    // Every point evaluated again gives the value on record.
    let verified = dir.xyz_ok(
        &["verify", "p.zarr", "--function", &guest("peak"), "--all"],
        0,
    );
    assert!(
        stdout(&verified)
            .contains("p.zarr: 300 cells evaluated again (0 of them failures), all as on record"),
        "{}",
        stdout(&verified)
    );
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
            "function = \"{}\"\n[[cases]]\nmaxiter = 10\n[[cases]]\nmaxiter = 20\n\
             [adaptive]\nx = [0.0, 1.0]\ny = [0.0, 1.0]\nn = 5\n",
            guest("mandel")
        ),
    );
    let text = dir.xyz_err(&["run", spec.to_str().unwrap()]);
    assert!(
        text.contains("[adaptive] goes with [combos] and [constants]; [[cases]] and [samples]"),
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
    // Sown as a crop, the same.
    let text = dir.xyz_err(&["sow", spec.to_str().unwrap(), "--name", "crop"]);
    assert!(
        text.contains(
            "`maxiter` in adaptive: an adaptive argument must be a float (f64), but it is i64"
        ),
        "{text}"
    );
    // Nothing was written by the refusals.
    assert!(!dir.path("bad.zarr").exists());
    assert!(!dir.path(".xyz-crop").exists());
}

#[test]
fn into_adds_points_to_a_study_and_refuses_another() {
    let dir = Dir::new();
    let first = ring_spec(&dir, "r320", "n = 320\n");
    let more = ring_spec(&dir, "r600", "n = 600\n");
    let run = dir.xyz_ok(&["run", &first, "--into", "r.zarr"], 0);
    assert!(stdout(&run).contains("wrote r.zarr (zarr): dims point=320"));
    dir.xyz_ok(&["run", &first, "-o", "alone.zarr", "-q"], 0);
    let run = dir.xyz_ok(&["run", &more, "--into", "r.zarr"], 0);
    let text = stdout(&run);
    assert!(
        text.starts_with("ring: 280 points after the 320 on record in 18 rounds"),
        "{text}"
    );
    assert!(
        text.contains("merged into r.zarr (zarr): dims point=600"),
        "{text}"
    );
    // The rounds on record are asked again, so a study grown in two runs is the one a single
    // run gives.
    dir.xyz_ok(&["run", &more, "-o", "once.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("r.zarr")), tree(&dir.path("once.zarr")));
    // The points on record are kept as they were, the new ones after them, none twice.
    let check = "import numpy as np, xarray as xr\n\
                 a = xr.open_zarr('alone.zarr').load()\nr = xr.open_zarr('r.zarr').load()\n\
                 assert r.sizes['point'] == 600\n\
                 for v in ('x', 'y', 'z'):\n    np.testing.assert_array_equal(r[v].values[:320], a[v].values)\n\
                 assert len(set(zip(r.x.values.tolist(), r.y.values.tolist()))) == 600\n\
                 x, y = r.x.values, r.y.values\n\
                 np.testing.assert_allclose(r.z.values, x + np.exp(-((x**2 + y**2 - 0.75**2) ** 2) / 0.2**4), rtol=1e-12, atol=1e-15)\n";
    let out = dir.sh(&format!("python3 -c \"{check}\""));
    assert!(out.status.success(), "{out:?}");
    // Asking for no more than it has adds none.
    let run = dir.xyz_ok(&["run", &more, "--into", "r.zarr"], 0);
    assert!(stdout(&run).starts_with("ring: 0 points after the 600 on record"));
    // Another study, another constant or a dataset of no study are refused, the data untouched.
    let before = tree(&dir.path("r.zarr"));
    let other = ring_spec(&dir, "u", "n = 700\nloss = 'uniform'\n");
    let err = dir.xyz_err(&["run", &other, "--into", "r.zarr"]);
    assert!(
        err.contains("--into r.zarr: the dataset to add points to was learnt with loss \"default\", not \"uniform\""),
        "{err}"
    );
    let wider = dir.write(
        "w.toml",
        &format!(
            "function = \"{}\"\n[constants]\na = 0.3\nspins = 0\n[adaptive]\nx = [-1.0, 1.0]\n\
             y = [-1.0, 1.0]\nn = 700\n",
            guest("ring")
        ),
    );
    let err = dir.xyz_err(&["run", wider.to_str().unwrap(), "--into", "r.zarr"]);
    assert!(err.contains("has constant a = 0.2, not 0.3"), "{err}");
    let bounds = ring_spec(&dir, "b", "n = 700\n");
    std::fs::write(
        &bounds,
        std::fs::read_to_string(&bounds)
            .unwrap()
            .replace("x = [-1.0, 1.0]", "x = [-2.0, 1.0]"),
    )
    .unwrap();
    let err = dir.xyz_err(&["run", &bounds, "--into", "r.zarr"]);
    assert!(
        err.contains("learnt x = [-1, 1], y = [-1, 1], not x = [-2, 1], y = [-1, 1]"),
        "{err}"
    );
    assert_eq!(tree(&dir.path("r.zarr")), before);
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("add"),
            "--combo",
            "a=1,2",
            "--constant",
            "b=1",
            "--constant",
            "c=0",
            "-o",
            "add.zarr",
            "-q",
        ],
        0,
    );
    let err = dir.xyz_err(&["run", &more, "--into", "add.zarr"]);
    assert!(err.contains("is not an adaptive study's"), "{err}");
}

#[test]
fn plots_draw_a_line_through_1d_points_and_a_heatmap_of_2d_ones() {
    let dir = Dir::new();
    let spec = peak_spec(&dir, "p", "n = 200\n");
    dir.xyz_ok(&["run", &spec, "-o", "p.zarr", "-q"], 0);
    dir.xyz_ok(&["plot", "p.zarr", "--x", "x", "-o", "p.svg"], 0);
    let svg = std::fs::read_to_string(dir.path("p.svg")).unwrap();
    // One line through the 200 points, in order along x: its x positions rise.
    let line = svg
        .split("<polyline")
        .skip(1)
        .map(|p| &p[..p.find("/>").unwrap_or(p.len())])
        .max_by_key(|p| p.len())
        .unwrap();
    let points = line.split("points=\"").nth(1).unwrap();
    let xs: Vec<f64> = points
        .split_whitespace()
        .filter_map(|p| p.split(',').next()?.trim_matches('"').parse().ok())
        .collect();
    assert!(xs.len() >= 150, "{} points on the line", xs.len());
    assert!(xs.windows(2).all(|w| w[0] <= w[1]), "the line runs along x");

    let spec = ring_spec(&dir, "r", "n = 800\n");
    dir.xyz_ok(&["run", &spec, "-o", "r.zarr", "-q"], 0);
    dir.xyz_ok(
        &[
            "plot", "r.zarr", "--x", "x", "--y", "y", "-o", "r.png", "--size", "400x400",
        ],
        0,
    );
    let (w, h, pixels) = crate::plot::decode_png(&dir.path("r.png"));
    assert_eq!((w, h), (400, 400));
    // viridis' yellow where the ring is highest (x + 1 at x = 0.75), its purple at x = -1.
    let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 30);
    assert!(pixels.iter().any(|p| near(p, [253, 231, 37])), "no yellow");
    assert!(pixels.iter().any(|p| near(p, [68, 1, 84])), "no purple");
}

#[test]
fn a_grid_is_read_off_the_points_beside_the_output() {
    let dir = Dir::new();
    let spec = ring_spec(&dir, "r", "n = 1500\n");
    let run = dir.xyz_ok(&["run", &spec, "-o", "r.nc", "--grid", "41x31"], 0);
    assert!(
        stdout(&run)
            .contains("wrote r-grid.nc (netcdf): the points read off on a grid, dims x=41, y=31"),
        "{}",
        stdout(&run)
    );
    // Against the function itself: close on the smooth slope, and everywhere within the ring's
    // height.
    let check = "import numpy as np, xarray as xr\n\
                 g = xr.open_dataset('r-grid.nc')\n\
                 assert g.z.dims == ('x', 'y') and g.sizes == {'x': 41, 'y': 31}\n\
                 x, y = np.meshgrid(g.x.values, g.y.values, indexing='ij')\n\
                 f = x + np.exp(-((x**2 + y**2 - 0.75**2) ** 2) / 0.2**4)\n\
                 err = np.abs(g.z.values - f)\n\
                 assert np.nanmax(err[np.abs(np.hypot(x, y) - 0.75) > 0.3]) < 0.02, err.max()\n\
                 assert np.nanmean(err) < 0.02, np.nanmean(err)\n\
                 assert (g.xyz_status.values == 0).all()\n\
                 assert g.attrs['xyz_grid_of'] == 'r.nc'\n";
    let out = dir.sh(&format!("python3 -c \"{check}\""));
    assert!(out.status.success(), "{out:?}");
    let spec = peak_spec(&dir, "p", "n = 100\n");
    let usage = |args: &[&str]| String::from_utf8_lossy(&dir.xyz_ok(args, 2).stderr).to_string();
    let err = usage(&["run", &spec, "-o", "p.zarr", "--grid", "10x10"]);
    assert!(
        err.contains("--grid: 2 values for 1 adaptive argument; give N"),
        "{err}"
    );
    let err = usage(&["run", &spec, "-o", "p.zarr", "--grid", "1"]);
    assert!(err.contains("`1` is not a grid"), "{err}");
    dir.xyz_ok(&["run", &spec, "-o", "p.zarr", "--grid", "11", "-q"], 0);
    // A grid there already is refused before anything runs.
    std::fs::remove_dir_all(dir.path("p.zarr")).unwrap();
    let err = dir.xyz_err(&["run", &spec, "-o", "p.zarr", "--grid", "11"]);
    assert!(
        err.contains("p-grid.zarr already exists; pass --force"),
        "{err}"
    );
    assert!(!dir.path("p.zarr").exists());
    let err = usage(&[
        "run",
        "--function",
        &guest("add"),
        "--constant",
        "a=1",
        "--constant",
        "b=1",
        "--constant",
        "c=1",
        "--grid",
        "4",
    ]);
    assert!(err.contains("this spec has no [adaptive] section"), "{err}");
}

#[test]
fn each_combination_has_a_learner_and_its_points_along_one_dim() {
    let dir = Dir::new();
    let spec = dir.write(
        "pc.toml",
        &format!(
            "function = \"{}\"\n[combos]\na = [0.3, 0.05, 0.01]\n[adaptive]\nx = [-1.0, 1.0]\n\
             n = 300\nrounds = 12\n",
            guest("peak")
        ),
    );
    let spec = spec.to_str().unwrap();
    for out in ["pc.zarr", "pc.parquet"] {
        dir.xyz_ok(
            &["run", spec, "-o", out, "--grid", "21", "--force", "-q"],
            0,
        );
    }
    // Every combination has its bounds and its own points; pandas reads the same rows.
    let check = "import numpy as np, pandas as pd, xarray as xr\n\
                 ds = xr.open_zarr('pc.zarr').load()\n\
                 assert ds.y.dims == ('point',) and ds.a.dims == ('point',) and ds.sizes['point'] == 300\n\
                 x, a = ds.x.values, ds.a.values\n\
                 np.testing.assert_allclose(ds.y.values, x + a * a / (a * a + x * x), rtol=1e-12)\n\
                 for w in (0.3, 0.05, 0.01):\n    xs = x[a == w]\n    assert -1.0 in xs and 1.0 in xs and len(xs) > 20, (w, len(xs))\n\
                 df = pd.read_parquet('pc.parquet')\n\
                 assert list(df.columns[:3]) == ['point', 'a', 'x'], df.columns\n\
                 np.testing.assert_array_equal(df.x.to_numpy(), x)\n\
                 g = xr.open_zarr('pc-grid.zarr').load()\n\
                 assert g.y.dims == ('a', 'x') and g.a.values.tolist() == [0.3, 0.05, 0.01]\n\
                 gx = g.x.values\n\
                 for k, w in enumerate(g.a.values):\n    assert np.nanmax(np.abs(g.y.values[k] - (gx + w * w / (w * w + gx * gx)))) < 0.2\n";
    let out = dir.sh(&format!("python3 -c \"{check}\""));
    assert!(out.status.success(), "{out:?}");
    // A line per combination, each through its own points.
    dir.xyz_ok(&["plot", "pc.zarr", "--x", "x", "-o", "pc.svg"], 0);
    let svg = std::fs::read_to_string(dir.path("pc.svg")).unwrap();
    for label in ["a=0.3", "a=0.05", "a=0.01"] {
        assert!(svg.contains(label), "no legend for {label}");
    }
    let long = svg
        .split("<polyline")
        .skip(1)
        .filter(|p| p.find("/>").unwrap_or(0) > 500)
        .count();
    assert_eq!(long, 3, "three lines");
    dir.xyz_ok(
        &[
            "plot", "pc.zarr", "--x", "x", "--sel", "a=0.01", "-o", "one.svg",
        ],
        0,
    );
    // A study grown in two runs is still the one a single run gives.
    let half = dir.write(
        "half.toml",
        &std::fs::read_to_string(spec)
            .unwrap()
            .replace("n = 300", "n = 144"),
    );
    dir.xyz_ok(
        &["run", half.to_str().unwrap(), "--into", "grown.zarr", "-q"],
        0,
    );
    dir.xyz_ok(&["run", spec, "--into", "grown.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("grown.zarr")), tree(&dir.path("pc.zarr")));
}
