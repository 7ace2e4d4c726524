//! Adaptive studies as crops: `sow` writes the first round, workers grow each round and choose
//! the next under a lease, `status` shows the rounds and the loss, and `reap` gives the
//! dataset `xyz run` gives, bit for bit, whoever grew it, however many at once, and after a
//! grower was killed. Round files changed by anything else are refused by name.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::util::{Dir, guest, stdout, tree};

/// The ring with two widths (a learner each, balanced), `spins` rounds of work per call.
fn ring_spec(dir: &Dir, spins: u64, n: u64) -> String {
    dir.write(
        "ring.toml",
        &format!(
            "function = \"{}\"\n[combos]\na = [0.2, 0.5]\n[constants]\nspins = {spins}\n\
             [adaptive]\nx = [-1.0, 1.0]\ny = [-1.0, 1.0]\nn = {n}\nrounds = 8\n",
            guest("ring")
        ),
    )
    .display()
    .to_string()
}

fn worker(dir: &Dir, lease: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args([
            "grow", "ring", "--worker", "--lease", lease, "-j", "1", "-q",
        ])
        .current_dir(dir.tmp.path())
        .env("XYZ_CACHE_DIR", crate::util::cache_dir())
        .spawn()
        .expect("xyz starts")
}

fn study(dir: &Dir) -> serde_json::Value {
    let out = dir.xyz_ok(&["status", "ring", "--json"], 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["study"].clone()
}

#[test]
fn workers_choose_the_rounds_and_reap_what_run_gives() {
    let dir = Dir::new();
    let spec = ring_spec(&dir, 0, 120);
    // The grid records the name of the dataset it was read off: the same name for both.
    std::fs::create_dir(dir.path("run")).unwrap();
    std::fs::create_dir(dir.path("crop")).unwrap();
    dir.xyz_ok(
        &["run", &spec, "-o", "run/ring.zarr", "--grid", "12x9", "-q"],
        0,
    );
    let sown = stdout(&dir.xyz_ok(&["sow", &spec], 0));
    assert!(
        sown.starts_with("sowed adaptive crop ring in ./.xyz-ring: 1 rounds so far (8 points"),
        "{sown}"
    );
    assert!(sown.contains("until 120 points"), "{sown}");
    // Sown again as it is: kept.
    let kept = stdout(&dir.xyz_ok(&["sow", &spec], 0));
    assert!(
        kept.starts_with("kept the identical adaptive crop ring"),
        "{kept}"
    );
    let s = study(&dir);
    assert_eq!(
        (s["rounds"].as_u64(), s["points"].as_u64()),
        (Some(1), Some(8))
    );
    assert!(s["loss"].is_null() && s["finished"].is_null(), "{s}");
    // Not finished: reap refuses, and with --allow-incomplete takes the points so far.
    let refused = dir.xyz_err(&["reap", "ring", "-o", "early.zarr"]);
    assert!(
        refused.contains("the adaptive study is not finished: 1 rounds of 8 points"),
        "{refused}"
    );
    assert!(!dir.path("early.zarr").exists());

    // Three workers at once, one with a short lease.
    let mut workers = [worker(&dir, "60s"), worker(&dir, "60s"), worker(&dir, "1s")];
    for w in &mut workers {
        assert!(w.wait().unwrap().success());
    }
    let s = study(&dir);
    assert_eq!(s["finished"], "evaluations", "{s}");
    assert_eq!(
        (s["rounds"].as_u64(), s["points"].as_u64()),
        (Some(15), Some(120))
    );
    assert!(s["loss"].as_f64().unwrap() > 0.0, "{s}");
    let status = stdout(&dir.xyz_ok(&["status", "ring"], 0));
    assert!(
        status.contains("  study     15 rounds, 120/120 points, loss 0."),
        "{status}"
    );
    assert!(
        status.contains("; finished: it has its evaluations"),
        "{status}"
    );
    // A worker started now finds the study finished.
    let late = stdout(&dir.xyz_ok(&["grow", "ring", "--worker"], 0));
    assert!(
        late.contains("grew 0 batches") && late.contains("the adaptive study is finished"),
        "{late}"
    );
    let into = dir.xyz_err(&["reap", "ring", "--into", "run/ring.zarr"]);
    assert!(
        into.contains("--into: ring is an adaptive study's crop"),
        "{into}"
    );
    dir.xyz_ok(
        &[
            "reap",
            "ring",
            "-o",
            "crop/ring.zarr",
            "--grid",
            "12x9",
            "-q",
        ],
        0,
    );
    assert!(!dir.path(".xyz-ring").exists());
    for name in ["ring.zarr", "ring-grid.zarr"] {
        let crop = tree(&dir.path("crop").join(name));
        assert!(crop == tree(&dir.path("run").join(name)), "{name} differs");
    }
    xyz_tests::python("check.py", &[&"adaptive-ring", &dir.path("crop/ring.zarr")]);
}

#[test]
fn a_killed_grower_leaves_a_crop_another_finishes_the_same() {
    let dir = Dir::new();
    let spec = ring_spec(&dir, 400_000, 160);
    dir.xyz_ok(&["run", &spec, "-o", "run.zarr", "-q"], 0);
    dir.xyz_ok(&["sow", &spec, "-q"], 0);
    // Killed once it has chosen a few rounds, in the middle of one.
    let mut first = worker(&dir, "1s");
    let began = Instant::now();
    while study(&dir)["rounds"].as_u64().unwrap() < 4 {
        assert!(
            began.elapsed() < Duration::from_secs(120),
            "no rounds chosen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let s = study(&dir);
    assert!(s["finished"].is_null(), "{s}");
    // Growing on (no --worker: an adaptive crop grows round by round anyway).
    let grown = stdout(&dir.xyz_ok(&["grow", "ring"], 0));
    assert!(grown.contains("the adaptive study is finished"), "{grown}");
    dir.xyz_ok(&["reap", "ring", "-o", "crop.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("crop.zarr")), tree(&dir.path("run.zarr")));
}

#[test]
fn a_round_file_changed_by_anything_else_is_refused_by_name() {
    let dir = Dir::new();
    let spec = ring_spec(&dir, 0, 40);
    dir.xyz_ok(&["sow", &spec, "-q"], 0);
    dir.xyz_ok(&["grow", "ring", "-q"], 0);
    let round = dir.path(".xyz-ring/rounds/round-000002.toml");
    let text = std::fs::read_to_string(&round).unwrap();
    // Another point in round 2: the learners would not have chosen it.
    let at = text.find("x = [").unwrap() + 5;
    let end = at + text[at..].find(',').unwrap();
    let moved = format!("{}0.123{}", &text[..at], &text[end..]);
    std::fs::write(&round, moved).unwrap();
    let err = dir.xyz_err(&["reap", "ring", "-o", "r.zarr"]);
    assert!(
        err.contains("round-000002.toml: is not the round the study's learners choose"),
        "{err}"
    );
    assert!(!dir.path("r.zarr").exists() && dir.path(".xyz-ring").exists());
    // Not a round file at all, or another crop's.
    std::fs::write(&round, "round = [").unwrap();
    let err = dir.xyz_err(&["status", "ring"]);
    assert!(err.contains("round-000002.toml: TOML parse error"), "{err}");
    std::fs::write(&round, text.replace("identity = \"", "identity = \"0")).unwrap();
    let err = dir.xyz_err(&["grow", "ring"]);
    assert!(
        err.contains("round-000002.toml: is not this crop's"),
        "{err}"
    );
    std::fs::write(&round, &text).unwrap();
    dir.xyz_ok(&["reap", "ring", "-o", "r.zarr", "-q"], 0);
}

#[test]
fn what_does_not_apply_to_an_adaptive_crop_is_refused() {
    let dir = Dir::new();
    let spec = ring_spec(&dir, 0, 40);
    for (flag, value) in [
        ("--shuffle", "3"),
        ("--num-batches", "4"),
        ("--into", "x.zarr"),
    ] {
        let err = dir.xyz_err(&["sow", &spec, flag, value]);
        assert!(
            err.contains(&format!(
                "{flag}: an [adaptive] study's crop chooses its points"
            )),
            "{err}"
        );
    }
    assert!(!dir.path(".xyz-ring").exists());
    dir.xyz_ok(&["sow", &spec, "--batchsize", "3", "-q"], 0);
    // Another study under the name: refused, naming what differs.
    let other = ring_spec(&dir, 0, 50);
    let err = dir.xyz_err(&["sow", &other, "--batchsize", "3"]);
    assert!(
        err.contains("already holds a crop with another [adaptive] study"),
        "{err}"
    );
    std::fs::write(
        &spec,
        std::fs::read_to_string(&spec)
            .unwrap()
            .replace("n = 50", "n = 40"),
    )
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["status", "ring", "--json"], 0).stdout).unwrap();
    // Round 1 of 8 points in batches of 3.
    assert_eq!(json["batches"], 3, "{json}");
    let out = dir.xyz(&[
        "reap",
        "ring",
        "--grid",
        "10",
        "-o",
        "r.zarr",
        "--allow-incomplete",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--grid: 1 values for 2 adaptive arguments; give NxM"),
        "{err}"
    );
}
