//! Every output format, read by its own reader (xarray, pandas, json) and by `xyz show`, and
//! harvest into the single-file formats.

use crate::util::{Dir, classify_spec, guest, stdout, tree};

const FORMATS: [&str; 5] = ["zarr", "nc", "parquet", "csv", "json"];

/// Runs one sweep into every format, as `PREFIX.zarr`, `PREFIX.nc`, …
fn run_into_every_format(dir: &Dir, prefix: &str, args: &[&str], code: i32) {
    for ext in FORMATS {
        let out = format!("{prefix}.{ext}");
        let mut all = vec!["run", "-q"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", &out]);
        dir.xyz_ok(&all, code);
    }
}

#[test]
fn every_format_holds_the_same_cells() {
    let dir = Dir::new();
    // Booleans and strings, and cells no case covers.
    let spec = classify_spec(&dir);
    run_into_every_format(&dir, "classify", &[spec.to_str().unwrap()], 0);
    // Failed cases, and a string dim.
    let faulty = guest("faulty");
    run_into_every_format(
        &dir,
        "faulty",
        &[
            "--function",
            &faulty,
            "--combo",
            "mode=ok,err,panic",
            "--combo",
            "x=1,2.5,-3",
        ],
        3,
    );
    // Integer coordinates and two outputs; an array output; a constant.
    let stats = guest("stats");
    run_into_every_format(
        &dir,
        "stats",
        &[
            "--function",
            &stats,
            "--combo",
            "n=1,2,3",
            "--combo",
            "x=0.5,1.5",
        ],
        0,
    );
    let ramp = guest("ramp");
    run_into_every_format(
        &dir,
        "ramp",
        &["--function", &ramp, "--combo", "a=1,2", "--combo", "b=0,3"],
        0,
    );
    let add = guest("add");
    run_into_every_format(
        &dir,
        "add",
        &[
            "--function",
            &add,
            "--combo",
            "a=1,2",
            "--combo",
            "b=0,3",
            "--constant",
            "c=7",
        ],
        0,
    );
    for prefix in ["classify", "faulty", "stats", "ramp", "add"] {
        xyz_tests::python("check.py", &[&"formats", &dir.path(prefix)]);
    }
}

/// Reaping a crop to Parquet takes the grid a window at a time when its cases come in grid
/// order, and whole otherwise; either way the file is the one `xyz run` writes.
#[test]
fn a_crop_reaps_to_the_parquet_file_run_writes() {
    let dir = Dir::new();
    // Cases out of grid order and cells no case covers; failed cases; array outputs.
    let classify = classify_spec(&dir);
    let faulty = dir.write(
        "faulty.toml",
        &format!(
            r#"
            function = "{}"
            [combos]
            mode = ["ok", "err", "panic", "fine"]
            x = {{ linspace = [-3, 3, 25] }}
            "#,
            guest("faulty")
        ),
    );
    let ramp = dir.write(
        "ramp.toml",
        &format!(
            "function = \"{}\"\n[combos]\na = [1, 2, 3]\nb = [0, 3]\n",
            guest("ramp")
        ),
    );
    for (spec, code) in [(&classify, 0), (&faulty, 3), (&ramp, 0)] {
        let spec = spec.to_str().unwrap();
        dir.xyz_ok(&["run", spec, "-q", "-o", "run.parquet", "--force"], code);
        dir.xyz_ok(&["run", spec, "-q", "-o", "run.zarr", "--force"], code);
        for shuffle in ["", "--shuffle=7"] {
            let mut sow = vec!["sow", spec, "--name", "c", "--batchsize", "2", "--force"];
            sow.extend(Some(shuffle).filter(|s| !s.is_empty()));
            dir.xyz_ok(&sow, 0);
            dir.xyz_ok(&["grow", "c", "-q"], code);
            let reap = ["reap", "c", "-q", "-o", "crop.parquet", "--force"];
            dir.xyz_ok(&reap, code);
            assert_eq!(
                std::fs::read(dir.path("crop.parquet")).unwrap(),
                std::fs::read(dir.path("run.parquet")).unwrap(),
                "{spec} {shuffle}"
            );
            // Zarr too, streamed chunk by chunk: the same files, byte for byte.
            dir.xyz_ok(&sow, 0);
            dir.xyz_ok(&["grow", "c", "-q"], code);
            let reap = ["reap", "c", "-q", "-o", "crop.zarr", "--force"];
            dir.xyz_ok(&reap, code);
            assert_eq!(
                tree(&dir.path("crop.zarr")),
                tree(&dir.path("run.zarr")),
                "{spec} {shuffle}"
            );
        }
    }
    // Part of a crop: the cells of batches not grown are missing in every format, as pandas
    // and xarray read them.
    let spec = faulty.to_str().unwrap();
    dir.xyz_ok(
        &["sow", spec, "--name", "c", "--batchsize", "7", "--force"],
        0,
    );
    dir.xyz_ok(&["grow", "c", "--batches", "1-3,9", "-q"], 3);
    for ext in FORMATS {
        let out = format!("part.{ext}");
        dir.xyz_ok(&["reap", "c", "-q", "--allow-incomplete", "-o", &out], 3);
    }
    let show: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["show", "part.parquet", "--json"], 0).stdout).unwrap();
    let cells = &show["cells"];
    assert_eq!(
        (&cells["ok"], &cells["failed"], &cells["not_evaluated"]),
        (&21.into(), &7.into(), &72.into()),
        "{show}"
    );
    xyz_tests::python("check.py", &[&"formats", &dir.path("part")]);
    // Refused as incomplete, the reap leaves the file there as it was, and nothing beside it.
    let before = std::fs::read(dir.path("part.parquet")).unwrap();
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(dir.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files = listing();
    let out = dir.xyz(&["reap", "c", "-q", "-o", "part.parquet", "--force"]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("batches"), "{err}");
    assert_eq!(std::fs::read(dir.path("part.parquet")).unwrap(), before);
    assert_eq!(listing(), files);
}

/// `xyz show --json` of each format: the self-describing ones give the Zarr store's summary
/// exactly; the tables give its dims, coordinates and cells.
#[test]
fn show_reads_every_format() {
    let dir = Dir::new();
    let faulty = guest("faulty");
    run_into_every_format(
        &dir,
        "f",
        &[
            "--function",
            &faulty,
            "--combo",
            "mode=ok,err",
            "--combo",
            "x=1,2.5,-3",
        ],
        3,
    );
    let show = |ext: &str| -> serde_json::Value {
        let out = dir.xyz_ok(&["show", &format!("f.{ext}"), "--json"], 0);
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_object_mut().unwrap().remove("path");
        v
    };
    let zarr = show("zarr");
    assert_eq!(zarr["cells"]["ok"], 3);
    assert_eq!(zarr["cells"]["failed"], 3);
    for ext in ["nc", "parquet"] {
        assert_eq!(show(ext), zarr, "{ext}");
    }
    for ext in ["csv", "json"] {
        let v = show(ext);
        for key in ["dims", "coords", "data_vars", "cells"] {
            assert_eq!(v[key], zarr[key], "{ext}: {key}");
        }
    }
    let text = stdout(&dir.xyz_ok(&["show", "f.nc"], 0));
    assert!(
        text.lines()
            .any(|l| l == "    y     (mode, x) f64 2.0 3.5 -2.0 NaN NaN NaN (3 missing)"),
        "{text}"
    );
    assert!(text.contains("Cells: 3 ok, 3 failed\n"), "{text}");
    // Every format keeps why each case failed.
    let failures = |ext: &str| stdout(&dir.xyz_ok(&["show", &format!("f.{ext}"), "--failures"], 0));
    let listed = failures("zarr");
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "mode=\"err\", x=1.0: error: refused x = 1",
            "mode=\"err\", x=2.5: error: refused x = 2.5",
            "mode=\"err\", x=-3.0: error: refused x = -3",
        ]
    );
    for ext in ["nc", "parquet", "csv", "json"] {
        assert_eq!(failures(ext), listed, "{ext}");
    }
    // A file of another extension needs --format; then it reads.
    std::fs::copy(dir.path("f.parquet"), dir.path("f.data")).unwrap();
    let err = dir.xyz_err(&["show", "f.data"]);
    assert!(
        err.contains("cannot tell the format of f.data from its extension"),
        "{err}"
    );
    dir.xyz_ok(&["show", "f.data", "--format", "parquet"], 0);
}

#[test]
fn what_xyz_did_not_write_is_refused_by_name() {
    let dir = Dir::new();
    dir.write("plain.csv", "a,b\n1,2\n1,2\n");
    let err = dir.xyz_err(&["show", "plain.csv"]);
    assert!(
        err.contains("plain.csv: no leading columns tell the rows apart"),
        "{err}"
    );
    dir.write("bad.nc", "CDF\u{1}\0\0");
    let err = dir.xyz_err(&["show", "bad.nc"]);
    assert!(err.contains("bad.nc: the header ends early"), "{err}");
    std::fs::write(dir.path("hdf.nc"), b"\x89HDF\r\n\x1a\n").unwrap();
    let err = dir.xyz_err(&["show", "hdf.nc"]);
    assert!(err.contains("a netCDF-4 (HDF5) file"), "{err}");
    dir.write("bad.parquet", "PAR1 not really");
    let err = dir.xyz_err(&["show", "bad.parquet"]);
    assert!(
        err.contains("bad.parquet: not a Parquet file xyz can read"),
        "{err}"
    );
    dir.write("rows.json", r#"[{"a": 1}, {"b": 2}]"#);
    let err = dir.xyz_err(&["show", "rows.json"]);
    assert!(
        err.contains("rows.json: record 1 has other keys than the first"),
        "{err}"
    );
}

/// Harvest merges into netCDF and Parquet as into Zarr, and refuses the tables.
#[test]
fn harvest_merges_into_netcdf_and_parquet() {
    let dir = Dir::new();
    let add = guest("add");
    for ext in ["nc", "parquet", "zarr"] {
        let into = format!("all.{ext}");
        for (a, b) in [("1,3", "10,30"), ("2,3", "20,30")] {
            dir.xyz_ok(
                &[
                    "run",
                    "-q",
                    "--function",
                    &add,
                    "--combo",
                    &format!("a={a}"),
                    "--combo",
                    &format!("b={b}"),
                    "--constant",
                    "c=0",
                    "--into",
                    &into,
                ],
                0,
            );
        }
    }
    let show = |p: &str| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_slice(&dir.xyz_ok(&["show", p, "--json"], 0).stdout).unwrap();
        v.as_object_mut().unwrap().remove("path");
        v
    };
    assert_eq!(show("all.nc"), show("all.zarr"));
    assert_eq!(show("all.parquet"), show("all.zarr"));
    assert_eq!(show("all.zarr")["cells"]["ok"], 7);
    assert_eq!(show("all.zarr")["cells"]["not_reached"], 2);
    xyz_tests::python("check.py", &[&"harvest-add", &dir.path("all.zarr")]);

    dir.write("t.csv", "a,b\n");
    let err = dir.xyz_err(&[
        "run",
        "--function",
        &add,
        "--combo",
        "a=1",
        "--combo",
        "b=1",
        "--constant",
        "c=0",
        "--into",
        "t.csv",
    ]);
    assert!(
        err.contains("--into t.csv: harvest merges into a dataset that keeps its layout"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(dir.path("t.csv")).unwrap(), "a,b\n");
}

/// Zarr stores that xarray and zarr-python write (v2 and v3, consolidated or not, zstd, blosc,
/// gzip, a chunk left out) are read by show, plot and --into; one with a codec nobody knows
/// is refused naming it (issue 12).
#[test]
fn zarr_stores_other_tools_write_are_read_and_merged_into() {
    let dir = Dir::new();
    let made = xyz_tests::python("stores.py", &[&"make", &dir.tmp.path()]);
    let names: Vec<&str> = made.split_whitespace().collect();
    assert!(names.len() >= 6, "{made}");
    for name in names.iter().filter(|n| **n != "odd-codec.zarr") {
        let shown: serde_json::Value =
            serde_json::from_slice(&dir.xyz_ok(&["show", name, "--json"], 0).stdout).unwrap();
        assert_eq!(shown["dims"][0]["name"], "y", "{name}: {shown}");
        assert_eq!(shown["dims"][1]["size"], 5, "{name}: {shown}");
        let missing = shown["data_vars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "n")
            .map(|v| v["missing"].clone());
        // The chunk left out of v2-gzip.zarr held rows 2 and 3: 10 cells.
        let expect = if *name == "v2-gzip.zarr" { 10 } else { 0 };
        assert_eq!(missing, Some(expect.into()), "{name}: {shown}");
        dir.xyz_ok(
            &[
                "plot",
                name,
                "--var",
                "n",
                "--x",
                "x",
                "--y",
                "y",
                "-o",
                &format!("{name}.png"),
            ],
            0,
        );
    }
    let err = dir.xyz_err(&["show", "odd-codec.zarr"]);
    assert!(err.contains("squish9"), "{err}");
    // Fixed-width strings of Zarr v2, as xarray writes them: their values, not an error.
    let shown = stdout(&dir.xyz_ok(&["show", "v2-fixed.zarr"], 0));
    assert!(
        shown.contains(r#"kind   (y) str "up" "dn" "up" "dn""#) && shown.contains(r#"str "é""#),
        "{shown}"
    );

    // A run merges into a store xarray wrote: its coordinates and values are kept.
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("add"),
            "--combo",
            "a=3.0",
            "--combo",
            "b=10.0,20.0,30.0",
            "--constant",
            "c=0",
            "--into",
            "add.zarr",
            "-q",
        ],
        0,
    );
    let values = xyz_tests::python("stores.py", &[&"values", &dir.path("add.zarr")]);
    let values: serde_json::Value = serde_json::from_str(values.trim()).unwrap();
    assert_eq!(
        values,
        serde_json::json!([[11.0, 21.0, 31.0], [12.0, 22.0, 32.0], [13.0, 23.0, 33.0]])
    );
    // And xarray opens xyz's own stores without a single warning.
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("classify"),
            "--combo",
            "x=1.0,-1.0",
            "--combo",
            "label=a,b",
            "--combo",
            "flag=true",
            "-o",
            "c.zarr",
            "-q",
        ],
        0,
    );
    xyz_tests::python("stores.py", &[&"quiet", &dir.path("c.zarr")]);
}

/// netCDF is CDF-2, which scipy reads too, unless a variable needs 64-bit integers; a
/// netCDF-4 file is refused by --into saying what to do (issue 12).
#[test]
fn netcdf_is_cdf2_unless_it_needs_int64() {
    let dir = Dir::new();
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("stats"),
            "--combo",
            "x=0.5,1.5",
            "--combo",
            "n=1,2",
            "-o",
            "i64.nc",
            "-q",
        ],
        0,
    );
    xyz_tests::python("stores.py", &[&"netcdf", &dir.path("i64.nc"), &"CDF-5"]);
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("add"),
            "--combo",
            "a=0.5,1.5",
            "--combo",
            "b=1.0,2.0",
            "--constant",
            "c=3",
            "-o",
            "f64.nc",
            "-q",
        ],
        0,
    );
    xyz_tests::python("stores.py", &[&"netcdf", &dir.path("f64.nc"), &"CDF-2"]);
    // Both read back and merge as before.
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("add"),
            "--combo",
            "a=2.5",
            "--combo",
            "b=1.0,2.0",
            "--constant",
            "c=3",
            "--into",
            "f64.nc",
            "-q",
        ],
        0,
    );
    xyz_tests::python("stores.py", &[&"netcdf", &dir.path("f64.nc"), &"CDF-2"]);
    // An HDF5 file (netCDF-4) is refused, naming the variants xyz merges into.
    let mut hdf5 = b"\x89HDF\r\n\x1a\n".to_vec();
    hdf5.extend_from_slice(&[0; 64]);
    std::fs::write(dir.path("h5.nc"), hdf5).unwrap();
    let err = dir.xyz_err(&[
        "run",
        "--function",
        &guest("add"),
        "--combo",
        "a=2.5",
        "--combo",
        "b=1.0",
        "--constant",
        "c=3",
        "--into",
        "h5.nc",
    ]);
    assert!(
        err.contains("netCDF-4 (HDF5)") && err.contains("NETCDF3_64BIT"),
        "{err}"
    );
}

/// A Parquet file pandas wrote from an xyz table (snappy, no xyz layout) reads for show and
/// takes a merge with --into (issue 12).
#[test]
fn parquet_that_pandas_wrote_is_read_and_merged_into() {
    let dir = Dir::new();
    let add = guest("add");
    let args = [
        "run",
        "--function",
        &add,
        "--combo",
        "b=10.0,20.0",
        "--constant",
        "c=0",
    ];
    dir.xyz_ok(
        &[
            &args[..],
            &["--combo", "a=1.0,2.0", "-o", "x.parquet", "-q"],
        ]
        .concat(),
        0,
    );
    xyz_tests::python(
        "stores.py",
        &[&"repandas", &dir.path("x.parquet"), &dir.path("p.parquet")],
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["show", "p.parquet", "--json"], 0).stdout).unwrap();
    // The dims in the run's order (b, then a), told apart from the constant c.
    assert_eq!(shown["dims"][1]["name"], "a", "{shown}");
    assert_eq!(shown["dims"][1]["size"], 2, "{shown}");
    assert_eq!(shown["attrs"]["c"], 0.0, "{shown}");
    dir.xyz_ok(
        &[
            &args[..],
            &["--combo", "a=3.0", "--into", "p.parquet", "-q"],
        ]
        .concat(),
        0,
    );
    let shown: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["show", "p.parquet", "--json"], 0).stdout).unwrap();
    assert_eq!(shown["dims"][1]["size"], 3, "{shown}");
}

/// A spec's `[coords]` give an array output's extra dim its coordinates, in every format that
/// keeps coordinates, through crops and merges; coordinates that do not fit are refused by name.
#[test]
fn extra_dims_take_the_specs_coordinates() {
    let dir = Dir::new();
    let spec = |coords: &str| {
        format!(
            "function = \"{}\"\n[combos]\na = [1, 2]\nb = [0, 3]\n[coords]\n{coords}\n",
            guest("ramp")
        )
    };
    let ramp = dir.write("ramp.toml", &spec("t = { range = [0, 5] }"));
    run_into_every_format(&dir, "ramp", &[ramp.to_str().unwrap()], 0);
    xyz_tests::python("check.py", &[&"ramp", &dir.path("ramp.zarr")]);
    xyz_tests::python("check.py", &[&"formats", &dir.path("ramp")]);
    xyz_tests::python("check.py", &[&"list-recipes", &dir.path("ramp")]);
    for ext in ["zarr", "nc", "parquet"] {
        let text = stdout(&dir.xyz_ok(&["show", &format!("ramp.{ext}")], 0));
        assert!(
            text.contains("\n  * t  (t) i64 0 1 2 3 4\n"),
            "{ext}: {text}"
        );
    }

    // Through a crop, and merged into what a run wrote.
    let ramp = ramp.to_str().unwrap();
    dir.xyz_ok(&["sow", ramp, "--name", "r"], 0);
    dir.xyz_ok(&["grow", "r", "-q"], 0);
    dir.xyz_ok(&["reap", "r", "-q", "-o", "crop.zarr"], 0);
    xyz_tests::python("check.py", &[&"ramp", &dir.path("crop.zarr")]);
    dir.xyz_ok(
        &["run", ramp, "-q", "--combo", "a=5", "--into", "ramp.zarr"],
        0,
    );
    let text = stdout(&dir.xyz_ok(&["show", "ramp.zarr"], 0));
    assert!(text.contains("\n  * t  (t) i64 0 1 2 3 4\n"), "{text}");
    // Other coordinates do not merge.
    let other = dir.write("other.toml", &spec("t = [0, 2, 4, 6, 8]"));
    let err = dir.xyz_err(&["run", other.to_str().unwrap(), "--into", "ramp.zarr"]);
    assert!(
        err.contains("extra dim `t` has coordinates [0, 1, 2, 3, 4] in the existing dataset but [0, 2, 4, 6, 8]"),
        "{err}"
    );

    // Coordinates that do not fit, refused before anything is evaluated or sown.
    for (coords, says) in [
        ("t = [1, 2]", "`t` has size 5, but 2 coordinates are given"),
        (
            "s = [1, 2, 3, 4, 5]",
            "`s` is not an extra dim of any output: they are t",
        ),
        ("t = [1, 1, 2, 3, 4]", "coords.t"),
        ("t = 3", "coords.t"),
    ] {
        let bad = dir.write("bad.toml", &spec(coords));
        let bad = bad.to_str().unwrap();
        for cmd in [
            &["run", bad, "-o", "bad.zarr"][..],
            &["sow", bad, "--name", "bad"],
        ] {
            let err = dir.xyz_err(cmd);
            assert!(err.contains(says), "{coords}: {cmd:?}: {err}");
        }
        assert!(!dir.path("bad.zarr").exists());
        assert!(!dir.path(".xyz-bad").exists());
    }
}

/// `--shards` stores a Zarr array of many chunks in shards that xarray reads, with no warning,
/// as the same dataset.
#[test]
fn sharded_stores_read_as_the_plain_ones() {
    let dir = Dir::new();
    let add = guest("add");
    let run = |out: &str, more: &[&str]| {
        let mut args = vec![
            "run",
            "-q",
            "--function",
            &add,
            "--combo",
            "a={ linspace = [0, 1, 1000] }",
            "--combo",
            "b={ linspace = [0, 1, 300] }",
            "--constant",
            "c=0",
            "-o",
            out,
        ];
        args.extend_from_slice(more);
        dir.xyz_ok(&args, 0);
    };
    run("plain.zarr", &[]);
    run("sharded.zarr", &["--shards"]);
    let meta = std::fs::read_to_string(dir.path("sharded.zarr/sum/zarr.json")).unwrap();
    assert!(meta.contains("sharding_indexed"), "{meta}");
    // 2.4 MB of sums: three subchunks of 1 MiB in one shard file.
    let files = std::fs::read_dir(dir.path("sharded.zarr/sum/c"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
    xyz_tests::python("stores.py", &[&"quiet", &dir.path("sharded.zarr")]);
    let values = |p: &str| xyz_tests::python("stores.py", &[&"values", &dir.path(p)]);
    assert_eq!(values("sharded.zarr"), values("plain.zarr"));
    let show = |p: &str| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&dir.xyz_ok(&["show", p, "--json"], 0).stdout).unwrap();
        v.as_object_mut().unwrap().remove("path");
        v
    };
    assert_eq!(show("sharded.zarr"), show("plain.zarr"));
}
