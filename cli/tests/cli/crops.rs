//! Crops through the real binary: sow, grow, status, reap and check, against `xyz run`.

use std::path::Path;

use crate::util::{Dir, guest, host_name, stdout, tree};

/// A spec of `ramp` over 3 × 4 combos, written to `dir/NAME.toml`.
fn ramp_spec(dir: &Dir, name: &str) -> String {
    let spec = format!(
        r#"function = "{}"

[combos]
a = [-1.5, 0.0, 2.0]
b = {{ linspace = [0, 1, 4] }}
"#,
        guest("ramp")
    );
    dir.write(&format!("{name}.toml"), &spec)
        .display()
        .to_string()
}

/// `add` over `n` cases (a in 0..n, b and c constant), in `dir/NAME.toml`.
fn add_spec(dir: &Dir, name: &str, n: u64) -> String {
    let spec = format!(
        r#"function = "{}"

[combos]
a = {{ range = [0, {n}, 1] }}

[constants]
b = 0.5
c = 0
"#,
        guest("add")
    );
    dir.write(&format!("{name}.toml"), &spec)
        .display()
        .to_string()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn results(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("results"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn a_reaped_crop_is_the_dataset_run_gives_shuffled_or_not() {
    let dir = Dir::new();
    let spec = ramp_spec(&dir, "ramp");
    dir.xyz_ok(&["run", &spec, "-o", "run.zarr", "-q"], 0);
    for shuffle in [None, Some("1"), Some("20261124")] {
        let mut sow = vec!["sow", spec.as_str(), "--batchsize", "5", "--json"];
        if let Some(seed) = shuffle {
            sow.extend(["--shuffle", seed]);
        }
        let s = json(&dir.xyz_ok(&sow, 0));
        assert_eq!(
            (s["cases"].as_u64(), s["batches"].as_u64()),
            (Some(12), Some(3))
        );
        dir.xyz_ok(&["grow", "ramp", "-q"], 0);
        dir.xyz_ok(&["reap", "ramp", "-o", "crop.zarr", "--force", "-q"], 0);
        assert!(
            !dir.path(".xyz-ramp").exists(),
            "a complete reap removes the crop"
        );
        assert_eq!(
            tree(&dir.path("run.zarr")),
            tree(&dir.path("crop.zarr")),
            "shuffle {shuffle:?}"
        );
    }
    xyz_tests::python("check.py", &[&"ramp", &dir.path("crop.zarr")]);
}

#[test]
fn missing_batches_grow_with_one_thread_or_two_and_crops_sit_side_by_side() {
    let dir = Dir::new();
    let add = add_spec(&dir, "add", 40);
    let ramp = ramp_spec(&dir, "ramp");
    dir.xyz_ok(&["sow", &add, "--batchsize", "3", "-q"], 0);
    dir.xyz_ok(&["sow", &ramp, "--num-batches", "4", "-q"], 0);
    dir.xyz_ok(&["grow", "add", "--batches", "1-3,7", "-j", "1", "-q"], 0);
    let st = json(&dir.xyz_ok(&["status", "add", "--json"], 0));
    assert_eq!(
        (st["grown"].as_u64(), st["batches"].as_u64()),
        (Some(4), Some(14))
    );
    assert_eq!(st["cases_grown"], 12);
    let grown = json(&dir.xyz_ok(&["grow", "add", "-j", "2", "--json"], 0));
    assert_eq!(grown["batches"], 10);
    assert_eq!(grown["cases"], 28);
    let again = json(&dir.xyz_ok(&["grow", "add", "--json"], 0));
    assert_eq!(again["batches"], 0);

    // Listing: both crops, each with its own progress.
    let all = json(&dir.xyz_ok(&["status", "--json"], 0));
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["add", "ramp"]);
    assert_eq!(all[0]["grown"], 14);
    assert_eq!(all[1]["grown"], 0);
    let text = stdout(&dir.xyz_ok(&["status"], 0));
    assert!(text.contains("14/14 (100.0%)"), "{text}");
    assert!(text.contains("0/4 (0.0%)"), "{text}");

    dir.xyz_ok(&["run", &add, "-o", "run.zarr", "-q"], 0);
    dir.xyz_ok(&["reap", "add", "-o", "crop.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("run.zarr")), tree(&dir.path("crop.zarr")));
    assert!(dir.path(".xyz-ramp").join("manifest.toml").is_file());
}

#[test]
fn num_batches_split_the_cases_with_the_remainder_first() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 99);
    for (k, first_size) in [("67", 2), ("98", 2), ("200", 1)] {
        let s = json(&dir.xyz_ok(&["sow", &spec, "--num-batches", k, "--force", "--json"], 0));
        let expected = k.parse::<u64>().unwrap().min(99);
        assert_eq!(s["batches"].as_u64(), Some(expected));
        // Batch 1 holds the larger share.
        dir.xyz_ok(&["grow", "add", "--batches", "1", "-q"], 0);
        let st = json(&dir.xyz_ok(&["status", "add", "--json"], 0));
        assert_eq!(st["cases_grown"], first_size, "num_batches {k}");
    }
}

#[test]
fn a_partial_reap_leaves_exactly_the_ungrown_cells_missing() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 99);
    dir.xyz_ok(&["sow", &spec, "--batchsize", "1", "-q"], 0);
    // Nothing grown yet: the signature still gives the shape.
    let none = json(&dir.xyz_ok(
        &[
            "reap",
            "add",
            "--allow-incomplete",
            "-o",
            "none.zarr",
            "--json",
        ],
        3,
    ));
    assert_eq!(
        (none["ok"].as_u64(), none["missing_cells"].as_u64()),
        (Some(0), Some(99))
    );
    dir.xyz_ok(&["grow", "add", "--batches", "1-20,41-59", "-q"], 0);
    let err = dir.xyz_err(&["reap", "add", "-o", "refused.zarr"]);
    assert!(
        err.contains("the crop is incomplete: 60 of 99 batches are not grown (the first: 21, 22"),
        "{err}"
    );
    assert!(!dir.path("refused.zarr").exists());
    let out = json(&dir.xyz_ok(
        &[
            "reap",
            "add",
            "--allow-incomplete",
            "-o",
            "part.csv",
            "--json",
        ],
        3,
    ));
    assert_eq!(out["ok"], 39);
    assert_eq!(out["missing_cells"], 60);
    assert_eq!(out["complete"], false);
    assert!(
        dir.path(".xyz-add").is_dir(),
        "an incomplete reap keeps the crop"
    );
    let csv = std::fs::read_to_string(dir.path("part.csv")).unwrap();
    let empty = csv.lines().filter(|l| l.ends_with(",,2,")).count();
    assert_eq!(empty, 60);
    assert!(csv.contains("\n19.0,0.5,0.0,19.5,0,\n"), "{csv}");
    assert!(csv.contains("\n20.0,0.5,0.0,,2,\n"), "{csv}");

    // A complete reap renames the crop aside, reports, then removes it; what a reap of this
    // host that died left aside is removed by the next one.
    let left = dir.path(&format!(".xyz~reaped-add~{}-999999999", host_name()));
    std::fs::create_dir_all(left.join("results")).unwrap();
    std::fs::write(left.join("manifest.toml"), "left by a reap that died").unwrap();
    dir.xyz_ok(&["grow", "add", "-q"], 0);
    let out = stdout(&dir.xyz_ok(&["reap", "add", "-o", "whole.zarr"], 0));
    assert!(out.contains("removed "), "{out}");
    let names: Vec<String> = std::fs::read_dir(dir.path("."))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".xyz"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn damaged_results_are_found_and_never_reaped() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 30);
    dir.xyz_ok(&["sow", &spec, "--batchsize", "10", "-q"], 0);
    // A result file per batch, each grown by a process of its own.
    for batch in ["1", "2", "3"] {
        dir.xyz_ok(&["grow", "add", "--batches", batch, "-q"], 0);
    }
    let crop = dir.path(".xyz-add");
    let files = results(&crop);
    assert_eq!(files.len(), 3);
    // Truncate one, flip a bit in another; leave a temporary of a dead grower.
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&files[0], &bytes[..bytes.len() - 5]).unwrap();
    let mut bytes = std::fs::read(&files[1]).unwrap();
    let at = bytes.len() - 20;
    bytes[at] ^= 0x01;
    std::fs::write(&files[1], &bytes).unwrap();
    let host = host_name();
    let temp = crop
        .join("results")
        .join(format!(".tmp-{host}-999999999-00ff"));
    std::fs::write(&temp, b"half a result").unwrap();

    let err = dir.xyz_err(&["reap", "add", "-o", "bad.zarr"]);
    assert!(err.contains("is truncated"), "{err}");
    assert!(
        err.contains("is corrupt: its checksum does not match"),
        "{err}"
    );
    assert!(!dir.path("bad.zarr").exists());

    let report = dir.xyz_ok(&["check", "add"], 1);
    let text = stdout(&report);
    assert!(text.contains("is truncated"), "{text}");
    assert!(text.contains("is corrupt"), "{text}");
    assert!(text.contains("left by a dead grower"), "{text}");
    assert!(text.contains("1 good results"), "{text}");
    dir.xyz_ok(&["check", "add", "--delete-bad"], 0);
    assert!(!temp.exists());
    assert_eq!(results(&crop).len(), 1);
    let grown = json(&dir.xyz_ok(&["grow", "add", "--json"], 0));
    assert_eq!(grown["batches"], 2);
    dir.xyz_ok(&["check", "add"], 0);
    dir.xyz_ok(&["reap", "add", "-o", "good.zarr", "-q"], 0);
    dir.xyz_ok(&["run", &spec, "-o", "run.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("run.zarr")), tree(&dir.path("good.zarr")));
}

#[test]
fn a_damaged_batch_of_a_pack_costs_that_batch_alone() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 30);
    dir.xyz_ok(&["sow", &spec, "--batchsize", "10", "-q"], 0);
    dir.xyz_ok(&["grow", "add", "-q"], 0);
    let crop = dir.path(".xyz-add");
    let files = results(&crop);
    assert_eq!(
        files.len(),
        1,
        "one pack for one process's batches: {files:?}"
    );
    assert!(files[0].to_string_lossy().ends_with(".xyzp"), "{files:?}");
    let st = json(&dir.xyz_ok(&["status", "add", "--json"], 0));
    assert_eq!(st["grown"], 3, "{st}");
    // A bit flipped in the payload written last, that of one batch.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x01;
    std::fs::write(&files[0], &bytes).unwrap();
    let err = dir.xyz_err(&["reap", "add", "-o", "bad.zarr"]);
    assert!(err.contains("1 of 3 batches"), "{err}");
    assert!(
        err.contains(", which is corrupt: its checksum does not match"),
        "{err}"
    );
    let text = stdout(&dir.xyz_ok(&["check", "add"], 1));
    assert!(text.contains("2 good results"), "{text}");
    let text = stdout(&dir.xyz_ok(&["check", "add", "--delete-bad"], 0));
    assert!(text.contains("removed the bad batches of"), "{text}");
    let grown = json(&dir.xyz_ok(&["grow", "add", "--json"], 0));
    assert_eq!(grown["batches"], 1);
    dir.xyz_ok(&["check", "add"], 0);
    dir.xyz_ok(&["reap", "add", "-o", "good.zarr", "-q"], 0);
    dir.xyz_ok(&["run", &spec, "-o", "run.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("run.zarr")), tree(&dir.path("good.zarr")));
}

#[test]
fn sowing_again_keeps_results_only_for_the_same_crop() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 20);
    dir.xyz_ok(&["sow", &spec, "--batchsize", "4", "-q"], 0);
    dir.xyz_ok(&["grow", "add", "--batches", "1-2", "-q"], 0);
    let same = json(&dir.xyz_ok(&["sow", &spec, "--batchsize", "4", "--json"], 0));
    assert_eq!(same["sown"], "kept");
    assert_eq!(same["grown"], 2);

    let err = dir.xyz_err(&["sow", &spec, "--batchsize", "5"]);
    assert!(
        err.contains("already holds a crop with another batch plan"),
        "{err}"
    );
    assert!(err.contains("to discard its 2 grown batches"), "{err}");
    let changed = add_spec(&dir, "add", 21);
    let err = dir.xyz_err(&["sow", &changed, "--batchsize", "4"]);
    assert!(err.contains("with another space"), "{err}");
    let st = json(&dir.xyz_ok(&["status", "add", "--json"], 0));
    assert_eq!(
        (st["grown"].as_u64(), st["cases"].as_u64()),
        (Some(2), Some(20))
    );

    let replaced = json(&dir.xyz_ok(
        &["sow", &changed, "--batchsize", "4", "--force", "--json"],
        0,
    ));
    assert_eq!(replaced["sown"], "replaced");
    assert_eq!(replaced["grown"], 0);
    assert_eq!(replaced["cases"], 21);
}

#[test]
fn reaping_twice() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 10);
    dir.xyz_ok(&["sow", &spec, "--num-batches", "2", "-q"], 0);
    dir.xyz_ok(&["grow", "add", "-q"], 0);
    dir.xyz_ok(&["reap", "add", "--keep", "-o", "one.zarr", "-q"], 0);
    let err = dir.xyz_err(&["reap", "add", "--keep", "-o", "one.zarr"]);
    assert!(err.contains("one.zarr already exists"), "{err}");
    dir.xyz_ok(&["reap", "add", "-o", "two.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("one.zarr")), tree(&dir.path("two.zarr")));
    let err = dir.xyz_err(&["reap", "add", "-o", "three.zarr"]);
    assert!(err.contains("no crop named `add`"), "{err}");
    assert!(err.contains("there are no crops in ."), "{err}");
}

#[test]
fn failed_cases_are_recorded_reported_and_reaped_as_missing() {
    let dir = Dir::new();
    let spec = dir.write(
        "faulty.toml",
        &format!(
            "function = \"{}\"\n[combos]\nmode = [\"ok\", \"err\", \"panic\"]\nx = [1.0, 2.0]\n",
            guest("faulty")
        ),
    );
    let spec = spec.display().to_string();
    dir.xyz_ok(&["sow", &spec, "--batchsize", "2", "-q"], 0);
    let err = dir.xyz_err(&["grow", "faulty", "--raise-errors", "-j", "1"]);
    assert!(
        err.contains("batch 2: case 2 (mode=\"err\", x=1.0) failed: error: refused x = 1"),
        "{err}"
    );
    assert!(err.contains("(the batch was not saved)"), "{err}");
    let st = json(&dir.xyz_ok(&["status", "faulty", "--json"], 0));
    assert_eq!(st["grown"], 1);
    let grew = json(&dir.xyz_ok(&["grow", "faulty", "--json"], 3));
    assert_eq!(grew["failed"], 4);
    let st = json(&dir.xyz_ok(&["status", "faulty", "--json"], 0));
    assert_eq!(st["failed_cases"], 4);
    let reaped = json(&dir.xyz_ok(&["reap", "faulty", "-o", "f.zarr", "--json"], 3));
    assert_eq!(
        (reaped["ok"].as_u64(), reaped["failed"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(reaped["failures"][3]["kind"], "panic");
    assert_eq!(reaped["failures"][3]["args"]["mode"], "panic");
    assert_eq!(reaped["failures"][3]["args"]["x"], 2.0);
    xyz_tests::python("check.py", &[&"faulty", &dir.path("f.zarr")]);
}

#[test]
fn grow_finds_the_crop_from_inside_it_elsewhere_and_in_subprocesses() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 12);
    std::fs::create_dir(dir.path("sweeps")).unwrap();
    dir.xyz_ok(
        &[
            "sow",
            &spec,
            "--parent-dir",
            "sweeps",
            "--batchsize",
            "2",
            "-q",
        ],
        0,
    );
    let err = dir.xyz_err(&["grow", "add"]);
    assert!(
        err.contains("no crop named `add`: ./.xyz-add does not exist"),
        "{err}"
    );
    dir.xyz_ok(
        &[
            "grow",
            "add",
            "--parent-dir",
            "sweeps",
            "--batches",
            "1",
            "-q",
        ],
        0,
    );
    let inside = std::process::Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args(["grow", "add", "--batches", "2", "-q"])
        .current_dir(dir.path("sweeps/.xyz-add"))
        .env("XYZ_CACHE_DIR", crate::util::cache_dir())
        .output()
        .unwrap();
    assert!(inside.status.success(), "{inside:?}");
    let sub = json(&dir.xyz_ok(
        &[
            "grow",
            "sweeps/.xyz-add",
            "--subprocess",
            "-j",
            "2",
            "--json",
        ],
        0,
    ));
    assert_eq!(sub["batches"], 4);
    let st = json(&dir.xyz_ok(&["status", "--parent-dir", "sweeps", "--json"], 0));
    assert_eq!(st[0]["grown"], 6);
}

#[test]
fn a_grow_killed_mid_batch_leaves_nothing_that_reaps() {
    let dir = Dir::new();
    let spec = dir.write(
        "slow.toml",
        &format!(
            "function = \"{}\"\n[combos]\nmode = [\"ok\", \"loop\"]\nx = [1.0, 2.0]\n",
            guest("faulty")
        ),
    );
    dir.xyz_ok(
        &["sow", &spec.display().to_string(), "--batchsize", "2", "-q"],
        0,
    );
    let mut grow = std::process::Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args(["grow", "slow", "-j", "1", "--deadline", "1h", "-q"])
        .current_dir(dir.tmp.path())
        .env("XYZ_CACHE_DIR", crate::util::cache_dir())
        .spawn()
        .unwrap();
    let crop = dir.path(".xyz-slow");
    let began = std::time::Instant::now();
    while results(&crop).is_empty() {
        assert!(began.elapsed().as_secs() < 30, "batch 1 never finished");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Batch 2 loops until the deadline an hour away; kill the grower in the middle of it.
    std::thread::sleep(std::time::Duration::from_millis(300));
    grow.kill().unwrap();
    grow.wait().unwrap();
    assert_eq!(results(&crop).len(), 1);
    let st = json(&dir.xyz_ok(&["status", "slow", "--json"], 0));
    assert_eq!(
        (st["grown"].as_u64(), st["writing"].as_u64()),
        (Some(1), Some(0))
    );
    let err = dir.xyz_err(&["reap", "slow", "-o", "s.zarr"]);
    assert!(
        err.contains("1 of 2 batches are not grown (the first: 2)"),
        "{err}"
    );
    let part = json(&dir.xyz_ok(
        &[
            "reap",
            "slow",
            "--allow-incomplete",
            "-o",
            "s.csv",
            "--json",
        ],
        3,
    ));
    assert_eq!(
        (part["ok"].as_u64(), part["missing_cells"].as_u64()),
        (Some(2), Some(2))
    );
    dir.xyz_ok(&["check", "slow"], 0);
}

#[test]
fn bad_plans_and_names_are_refused_with_what_was_expected() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 12);
    for (args, expected) in [
        (
            vec!["--batchsize", "0"],
            "invalid value '0' for '--batchsize <B>': expected a whole number of at least 1",
        ),
        (
            vec!["--batchsize", "-3"],
            "expected a whole number of at least 1, not `-3`",
        ),
        (
            vec!["--num-batches", "2.5"],
            "expected a whole number of at least 1, not `2.5`",
        ),
        (
            vec!["--batchsize", "5", "--num-batches", "4"],
            "a batch size of 5 and 4 batches do not fit 12 cases: 12 cases in batches of 5 make 3 batches",
        ),
        (vec!["--name", "a/b"], "`a/b` cannot name a crop"),
    ] {
        let mut all = vec!["sow", spec.as_str()];
        all.extend(args);
        let out = dir.xyz(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{all:?}: {err}");
        assert_ne!(out.status.code(), Some(0));
    }
    assert!(!dir.path(".xyz-add").exists());
    dir.xyz_ok(
        &["sow", &spec, "--batchsize", "5", "--num-batches", "3", "-q"],
        0,
    );
    for (batches, expected) in [
        ("0", "`0` is not a batch id or range"),
        ("4", "there is no batch 4: the crop has batches 1 to 3"),
        ("2-1", "`2-1` is not a batch id or range"),
        ("x", "`x` is not a batch id or range"),
    ] {
        let err = dir.xyz_err(&["grow", "add", "--batches", batches]);
        assert!(err.contains(expected), "{batches}: {err}");
    }
    // A function file swapped after sow is refused before it is loaded, whoever loads it.
    let function = dir.path(".xyz-add/function.wasm");
    let sown = std::fs::read(&function).unwrap();
    std::fs::copy(guest("stats"), &function).unwrap();
    for how in [&[][..], &["--watchdog", "epoch"], &["--no-isolate"]] {
        let err = dir.xyz_err(&[&["grow", "add"][..], how].concat());
        assert!(
            err.contains("not the sown") && err.contains("so none of it is run"),
            "{how:?}: {err}"
        );
    }
    std::fs::write(&function, sown).unwrap();
    dir.xyz_ok(&["grow", "add", "--batches", "1", "-q"], 0);

    let manifest = dir.path(".xyz-add/manifest.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("c = 0", "c = 1")).unwrap();
    let err = dir.xyz_err(&["grow", "add"]);
    assert!(
        err.contains("manifest.toml: it was edited after sow"),
        "{err}"
    );
}

#[test]
fn reap_waits_for_growers_elsewhere_or_times_out() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "add", 12);
    dir.xyz_ok(&["sow", &spec, "--batchsize", "4", "-q"], 0);
    let began = std::time::Instant::now();
    let err = dir.xyz_err(&[
        "reap",
        "add",
        "--wait",
        "--timeout",
        "700ms",
        "-o",
        "a.zarr",
    ]);
    assert!(
        err.contains("timed out after 700ms with 3 of 3 batches of add not grown"),
        "{err}"
    );
    assert!(began.elapsed() >= std::time::Duration::from_millis(700));
    assert!(!dir.path("a.zarr").exists());

    // A grower starts a moment later; the waiting reap picks up its results.
    let reap = std::process::Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args([
            "reap",
            "add",
            "--wait",
            "--timeout",
            "60s",
            "-o",
            "a.zarr",
            "--json",
        ])
        .current_dir(dir.tmp.path())
        .env("XYZ_CACHE_DIR", crate::util::cache_dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    dir.xyz_ok(&["grow", "add", "-q"], 0);
    let out = reap.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json(&out)["ok"], 12);
    assert!(!dir.path(".xyz-add").exists());
}

/// Without --batchsize or --num-batches, sow chooses batches of at least 2500 cases (at most
/// about a thousand) and says so,
/// instead of a batch (a file) per case (issue 14).
#[test]
fn sow_chooses_a_batch_size_and_says_why() {
    let dir = Dir::new();
    let spec = crate::util::mandel_spec(&dir, 400, 400, 10);
    let out = dir.xyz_ok(&["sow", spec.to_str().unwrap()], 0);
    let text = stdout(&out);
    assert!(
        text.contains("160000 cases in 64 batches of 2500 cases"),
        "{text}"
    );
    assert!(text.contains("chose 2500 cases per batch"), "{text}");
    let spec = dir.write(
        "few.toml",
        &format!(
            "function = \"{}\"\n[combos]\na = [1.0, 2.0]\nb = [1.0]\n[constants]\nc = 0\n",
            guest("add")
        ),
    );
    let out = dir.xyz_ok(&["sow", spec.to_str().unwrap(), "--json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["batches"].as_u64(), v["batchsize"].as_u64()),
        (Some(1), Some(2)),
        "{v}"
    );
    assert_eq!(v["batchsize_chosen"], true);
}

#[test]
fn status_tells_which_host_and_architecture_grew_what() {
    let dir = Dir::new();
    let spec = add_spec(&dir, "g", 100);
    dir.xyz_ok(&["sow", &spec, "--batchsize", "10", "-q"], 0);
    dir.xyz_ok(&["grow", "g", "--batches", "1-3", "-q"], 0);
    dir.xyz_ok(&["grow", "g", "-q"], 0);
    let json = json(&dir.xyz_ok(&["status", "g", "--json"], 0));
    let growers = json["growers"].as_array().unwrap();
    assert_eq!(growers.len(), 2, "{json}");
    // The most batches first.
    let batches: Vec<u64> = growers
        .iter()
        .map(|g| g["batches"].as_u64().unwrap())
        .collect();
    assert_eq!(batches, [7, 3], "{json}");
    assert_eq!(growers[1]["cases"], 30, "{json}");
    for g in growers {
        assert_eq!(g["grower"]["host"], host_name().as_str(), "{json}");
        assert_eq!(g["grower"]["arch"], std::env::consts::ARCH, "{json}");
        assert_eq!(g["grower"]["os"], std::env::consts::OS, "{json}");
    }
    assert_ne!(growers[0]["grower"]["pid"], growers[1]["grower"]["pid"]);
    let text = stdout(&dir.xyz_ok(&["status", "g"], 0));
    let arch = format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS);
    assert!(
        text.contains(&format!("grown by  {} ({arch}, pid ", host_name())),
        "{text}"
    );
    assert!(text.contains(": 7 batches, 70 cases"), "{text}");
    assert!(text.contains(": 3 batches, 30 cases"), "{text}");

    // A result named without its grower (as older crops' are) still counts, and reaps.
    let crop = dir.path(".xyz-g");
    for pack in results(&crop) {
        std::fs::remove_file(pack).unwrap();
    }
    dir.xyz_ok(&["grow", "g", "--batches", "1", "-q"], 0);
    let first = results(&crop)[0].clone();
    let name = first.file_name().unwrap().to_str().unwrap();
    let plain = format!("{}.xyzr", &name[..name.find("_g").unwrap()]);
    std::fs::rename(&first, crop.join("results").join(plain)).unwrap();
    let text = stdout(&dir.xyz_ok(&["status", "g"], 0));
    assert!(
        text.contains("growers that name themselves in no result: 1 batch, 10 cases"),
        "{text}"
    );
    dir.xyz_ok(&["grow", "g", "-q"], 0);
    dir.xyz_ok(&["reap", "g", "-o", "g.zarr", "-q"], 0);
    dir.xyz_ok(&["run", &spec, "-o", "r.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("g.zarr")), tree(&dir.path("r.zarr")));
}
