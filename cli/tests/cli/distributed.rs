//! Worker mode (`xyz grow --worker`): several workers on one crop, workers killed again and
//! again, a crop directory that turns read-only, and status showing the workers.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Dir, cache_dir, guest, host_name, mandel_spec, stdout, tree};

/// A mandel crop of `batches` rows of 60 cases, a batch per row; `maxiter` sets how long the
/// rows through the set take. With `run`, also the dataset `xyz run` gives, as run.zarr.
fn sow_mandel(dir: &Dir, batches: u64, maxiter: u64, run: bool) {
    let spec = mandel_spec(dir, batches, 60, maxiter);
    dir.xyz_ok(
        &["sow", spec.to_str().unwrap(), "--batchsize", "60", "-q"],
        0,
    );
    if run {
        dir.xyz_ok(&["run", spec.to_str().unwrap(), "-o", "run.zarr", "-q"], 0);
    }
}

/// A mandel crop of 20 batches inside the set, each taking about a second: a worker is
/// always in the middle of one.
fn sow_slow(dir: &Dir) {
    let spec = dir.write(
        "m.toml",
        &format!(
            "function = \"{}\"\n[combos]\ny = {{ linspace = [-0.2, 0.2, 20] }}\n\
             x = {{ linspace = [-0.6, -0.1, 20] }}\n[constants]\nmaxiter = 5000000\n",
            guest("mandel")
        ),
    );
    dir.xyz_ok(
        &["sow", spec.to_str().unwrap(), "--batchsize", "20", "-q"],
        0,
    );
}

fn worker(dir: &Dir, lease: &str, extra: &[&str]) -> Child {
    let mut args = vec![
        "grow", "m", "--worker", "--lease", lease, "-j", "1", "--json",
    ];
    args.extend(extra);
    xyz_child(dir, &args)
}

/// `xyz ARGS` started in `dir`, its output piped.
fn xyz_child(dir: &Dir, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args(args)
        .current_dir(dir.tmp.path())
        .env("XYZ_CACHE_DIR", cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xyz starts")
}

/// The files in the crop's results directory, sorted: results, packs and temporaries.
fn result_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(".xyz-m/results"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Batches grown, as `xyz status` counts them, and results found sound, as `xyz check` counts
/// them: equal when no batch has two results.
fn grown_and_sound(dir: &Dir) -> (u64, u64) {
    let status: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["status", "m", "--json"], 0).stdout).unwrap();
    let check: serde_json::Value =
        serde_json::from_slice(&dir.xyz(&["check", "m", "--json"]).stdout).unwrap();
    (
        status["grown"].as_u64().unwrap(),
        check["good"].as_u64().unwrap(),
    )
}

#[test]
fn four_workers_grow_each_batch_once() {
    let dir = Dir::new();
    sow_mandel(&dir, 40, 200, true);
    let workers: Vec<Child> = (0..4).map(|_| worker(&dir, "5s", &[])).collect();
    let mut grown = 0;
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["stopped"], "done");
        assert_eq!(report["duplicates"], 0);
        grown += report["batches"].as_u64().unwrap();
    }
    assert_eq!(grown, 40, "every batch grown once");
    assert_eq!(grown_and_sound(&dir), (40, 40), "one result each");
    assert_eq!(
        std::fs::read_dir(dir.path(".xyz-m/claims"))
            .unwrap()
            .count(),
        0,
        "every claim released"
    );
    dir.xyz_ok(&["reap", "m", "-o", "crop.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("crop.zarr")), tree(&dir.path("run.zarr")));

    // A worker on a complete crop has nothing to do.
    dir.xyz_ok(
        &[
            "sow",
            dir.path("m.toml").to_str().unwrap(),
            "--batchsize",
            "60",
            "-q",
        ],
        0,
    );
    let out = worker(&dir, "5s", &["--max-batches", "3"])
        .wait_with_output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["batches"], 3);
    assert_eq!(report["stopped"], "max_batches");
}

/// Two of four workers are killed with SIGKILL at random moments, again and again, and
/// restarted, over 300 batches; the crop still completes, with one sound result per batch, and
/// reaps to what `xyz run` gives. The seed of the kill times is printed, to replay a failure.
#[test]
fn workers_killed_again_and_again_lose_nothing() {
    let dir = Dir::new();
    sow_mandel(&dir, 300, 120_000, true);
    // One batch grown first compiles the module into the crop's cache, so that restarted
    // workers start at once.
    dir.xyz_ok(&["grow", "m", "--batches", "1", "-q"], 0);
    let lease = "400ms";
    let mut seed = std::env::var("XYZ_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.subsec_nanos() as u64 | 1)
        });
    println!("chaos seed (XYZ_CHAOS_SEED): {seed}");
    let mut random = move |below: u64| {
        // xorshift64
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut steady: Vec<Child> = (0..2).map(|_| worker(&dir, lease, &[])).collect();
    let mut doomed: Vec<Child> = (0..2).map(|_| worker(&dir, lease, &[])).collect();
    let began = Instant::now();
    let mut kills = 0;
    while steady.iter_mut().any(|w| w.try_wait().unwrap().is_none()) {
        assert!(
            began.elapsed() < Duration::from_secs(180),
            "workers did not finish"
        );
        std::thread::sleep(Duration::from_millis(20 + random(250)));
        let w = &mut doomed[random(2) as usize];
        if w.try_wait().unwrap().is_none() {
            w.kill().unwrap();
            kills += 1;
        }
        w.wait().unwrap();
        *w = worker(&dir, lease, &[]);
    }
    for mut w in doomed {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert!(kills >= 4, "only {kills} kills");
    for w in steady {
        let out = w.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }
    // Killed workers' claims expired and their batches were grown by others, and the last
    // worker cleared what they were writing when killed. Temporary files are never results:
    // check finds no bad result, and clears the temporaries of workers killed after that.
    let check = stdout(&dir.xyz_ok(&["check", "m", "--delete-bad"], 0));
    assert!(check.contains("m: 300 good results"), "{check}");
    assert!(!check.contains("bad: "), "{check}");
    // The last worker cleared the expired claims of the killed ones.
    let status = stdout(&dir.xyz_ok(&["status", "m"], 0));
    assert!(!status.contains("expired"), "{status}");
    assert_eq!(grown_and_sound(&dir), (300, 300), "one result each");
    dir.xyz_ok(&["reap", "m", "-o", "crop.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("crop.zarr")), tree(&dir.path("run.zarr")));
}

#[test]
fn the_worker_that_finishes_a_crop_clears_what_dead_growers_left() {
    let dir = Dir::new();
    sow_mandel(&dir, 4, 10, false);
    let results = dir.path(".xyz-m/results");
    let host = host_name();
    // Temporaries of a grower that died here, of one still running here (pid 1), and of one
    // on another machine, which this one cannot judge.
    let dead = results.join(format!(".tmp-{host}-999999999-00ff"));
    let live = results.join(format!(".tmp-{host}-1-00ff"));
    let elsewhere = results.join(".tmp-elsewhere-999999999-00ff");
    for temp in [&dead, &live, &elsewhere] {
        std::fs::write(temp, b"half a result").unwrap();
    }
    let out = worker(&dir, "1s", &["--max-batches", "3"])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(dead.exists(), "cleared only once every batch is grown");
    let out = worker(&dir, "1s", &[]).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!dead.exists());
    assert!(live.exists() && elsewhere.exists());
}

/// Makes a directory read-only for this process, even for root (with `chattr +i`), and
/// writable again when dropped.
struct ReadOnly(Vec<std::path::PathBuf>);

impl ReadOnly {
    fn new(dirs: &[std::path::PathBuf]) -> ReadOnly {
        for d in dirs {
            let root = unsafe { libc::geteuid() } == 0;
            let ok = if root {
                Command::new("chattr")
                    .arg("+i")
                    .arg(d)
                    .status()
                    .unwrap()
                    .success()
            } else {
                Command::new("chmod")
                    .arg("a-w")
                    .arg(d)
                    .status()
                    .unwrap()
                    .success()
            };
            assert!(ok, "making {} read-only", d.display());
        }
        ReadOnly(dirs.to_vec())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(d).status();
            let _ = Command::new("chmod").arg("u+w").arg(d).status();
        }
    }
}

#[test]
fn a_worker_whose_crop_turns_read_only_stops_and_damages_nothing() {
    let dir = Dir::new();
    // Long enough that a pack is written (after 5 s) well before the last batch.
    sow_mandel(&dir, 300, 300_000, true);
    let out = worker(&dir, "1s", &["--max-batches", "2"])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A worker at work, and its crop turns read-only under it.
    let w = worker(&dir, "1s", &[]);
    let began = Instant::now();
    while grown_and_sound(&dir).0 < 4 {
        assert!(began.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    let crop = dir.path(".xyz-m");
    let dirs: Vec<_> = ["results", "claims", "committed", ""]
        .iter()
        .map(|d| crop.join(d))
        .collect();
    let stopped = w.id();
    let grown = {
        let _ro = ReadOnly::new(&dirs);
        let before = result_files(dir.tmp.path());
        let grown = grown_and_sound(&dir).0;
        let out = w.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(".xyz-m/"), "names the directory: {err}");
        assert_eq!(
            result_files(dir.tmp.path()),
            before,
            "nothing added or lost"
        );
        grown
    };
    assert!(grown < 300, "stopped before the end");
    // Every result there is sound. The result the worker was writing, if any, is left as its
    // temporary file, which it could not remove, and which is never taken for a result.
    let out = dir.xyz(&["check", "m", "--json"]);
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check["good"], grown, "{check}");
    assert_eq!(check["bad"], serde_json::json!([]), "{check}");
    let temps = check["dead_temporaries"].as_array().unwrap();
    assert!(temps.len() <= 1, "{check}");
    for temp in temps {
        let temp = temp.as_str().unwrap();
        assert!(temp.contains(&format!("-{stopped}-")), "{check}");
    }
    assert_eq!(
        out.status.code(),
        Some(temps.len().min(1) as i32),
        "{out:?}"
    );
    // A worker finishes the crop once it is writable again, and clears that temporary.
    let out = worker(&dir, "1s", &[]).wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let check = stdout(&dir.xyz_ok(&["check", "m"], 0));
    assert!(check.contains("m: 300 good results"), "{check}");
    assert!(!check.contains("dead grower"), "{check}");
    dir.xyz_ok(&["reap", "m", "-o", "crop.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("crop.zarr")), tree(&dir.path("run.zarr")));
}

#[test]
fn status_shows_the_workers_and_their_leases() {
    let dir = Dir::new();
    sow_slow(&dir);
    let mut w = worker(&dir, "30s", &[]);
    let began = Instant::now();
    let claims = || -> Vec<serde_json::Value> {
        let out = dir.xyz_ok(&["status", "m", "--json"], 0);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["claims"].as_array().unwrap().clone()
    };
    while claims().is_empty() {
        assert!(began.elapsed() < Duration::from_secs(20), "no claim seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Killed in its batch, the worker leaves its claim, whose lease runs on.
    w.kill().unwrap();
    w.wait().unwrap();
    let claims = claims();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(claims[0]["pid"], w.id());
    assert_eq!(claims[0]["lease_ms"], 30000);
    let text = stdout(&dir.xyz_ok(&["status", "m"], 0));
    assert!(
        text.contains("  workers   1 batches claimed on 1 host: "),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "batch {} by {} pid {}, lease renewed",
            claims[0]["batch"],
            claims[0]["host"].as_str().unwrap(),
            w.id()
        )),
        "{text}"
    );
}

#[test]
fn worker_options_are_checked() {
    let dir = Dir::new();
    sow_mandel(&dir, 4, 10, false);
    let err = dir.xyz_err(&["grow", "m", "--worker", "--lease", "10ms"]);
    assert!(
        err.contains("--lease 10ms: a lease must be at least 100ms"),
        "{err}"
    );
    let err = dir.xyz_err(&["grow", "m", "--worker", "--lease", "soon"]);
    assert!(err.contains("--lease"), "{err}");
    let out = dir.xyz(&["grow", "m", "--worker", "--batches", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    let out = dir.xyz(&["grow", "m", "--max-batches", "1"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Two engine configurations (as two kinds of node would have) grow halves of a crop: each
/// compiles the module into the crop's own cache under its fingerprint, and with NaNs
/// canonical the reaped store is the same bit for bit whichever grew what.
#[test]
fn nodes_with_other_engines_compile_their_own_and_agree_bit_for_bit() {
    let dir = Dir::new();
    // 0 / 0 is a NaN whose bits the CPU picks, unless NaNs are canonical.
    let spec = dir.write(
        "nan.toml",
        &format!(
            "function = \"{}\"\n[combos]\nx = [0.0, 1.0, 2.0]\nn = [0, 2]\n",
            guest("stats")
        ),
    );
    let spec = spec.to_str().unwrap();
    let mut stores = Vec::new();
    for (first, second) in [
        (&["--watchdog", "epoch"][..], &[][..]),
        (&[][..], &["--watchdog", "epoch"][..]),
    ] {
        dir.xyz_ok(&["sow", spec, "--batchsize", "1", "--force", "-q"], 0);
        let mut grow = vec!["grow", "nan", "--batches", "1-3", "-q"];
        grow.extend_from_slice(first);
        dir.xyz_ok(&grow, 0);
        let mut grow = vec!["grow", "nan", "-q"];
        grow.extend_from_slice(second);
        dir.xyz_ok(&grow, 0);
        let cache: Vec<_> = std::fs::read_dir(dir.path(".xyz-nan/cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".cwasm"))
            .collect();
        assert_eq!(cache.len(), 2, "one entry per engine: {cache:?}");
        // Uncompressed, so that a chunk's bytes can be read here.
        dir.xyz_ok(
            &[
                "reap",
                "nan",
                "-o",
                "nan.zarr",
                "--force",
                "-q",
                "--compression",
                "none",
            ],
            0,
        );
        let ratio = std::fs::read(dir.path("nan.zarr/ratio/c/0/0")).unwrap();
        let first_value = u64::from_le_bytes(ratio[..8].try_into().unwrap());
        assert_eq!(first_value, 0x7ff8_0000_0000_0000, "the canonical NaN");
        stores.push(tree(&dir.path("nan.zarr")));
    }
    assert_eq!(stores[0], stores[1]);
}

/// A worker stalled past its lease (stopped with SIGSTOP) loses its batch to another; when it
/// resumes and finishes the batch too, the first commit stands and its copy is discarded.
#[test]
fn a_stalled_worker_loses_its_batch_and_discards_its_late_copy() {
    let dir = Dir::new();
    // One batch, a row through the set: slow enough to be caught in the middle.
    let spec = dir.write(
        "m.toml",
        &format!(
            "function = \"{}\"\n[combos]\ny = [0.0]\nx = {{ linspace = [-1.5, 0.2, 20] }}\n\
             [constants]\nmaxiter = 5000000\n",
            guest("mandel")
        ),
    );
    dir.xyz_ok(
        &["sow", spec.to_str().unwrap(), "--batchsize", "20", "-q"],
        0,
    );
    let a = worker(&dir, "300ms", &[]);
    let began = Instant::now();
    loop {
        let out = dir.xyz_ok(&["status", "m", "--json"], 0);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if !json["claims"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(began.elapsed() < Duration::from_secs(20), "no claim seen");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = a.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(600));
    let b = worker(&dir, "300ms", &[]).wait_with_output().unwrap();
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let a = a.wait_with_output().unwrap();
    let report = |out: &std::process::Output| -> serde_json::Value {
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (a, b) = (report(&a), report(&b));
    assert_eq!(
        (b["batches"].as_u64(), b["duplicates"].as_u64()),
        (Some(1), Some(0)),
        "{b}"
    );
    assert_eq!(
        (a["batches"].as_u64(), a["duplicates"].as_u64()),
        (Some(0), Some(1)),
        "{a}"
    );
    assert_eq!(result_files(dir.tmp.path()).len(), 1, "one result");
    let check = stdout(&dir.xyz_ok(&["check", "m"], 0));
    assert!(check.contains("m: 1 good results"), "{check}");
}

/// SIGTERM, as a scheduler sends at the end of a job's time, releases the worker's claim at
/// once, so the next worker need not wait out the lease.
#[test]
fn sigterm_releases_the_claim() {
    let dir = Dir::new();
    sow_slow(&dir);
    let w = worker(&dir, "10m", &[]);
    let began = Instant::now();
    let claimed = loop {
        let out = dir.xyz_ok(&["status", "m", "--json"], 0);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(c) = json["claims"].as_array().unwrap().first() {
            break c["batch"].as_u64().unwrap();
        }
        assert!(began.elapsed() < Duration::from_secs(20), "no claim seen");
        std::thread::sleep(Duration::from_millis(10));
    };
    let pid = w.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = w.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("stopped by SIGTERM; released batches ["),
        "{err}"
    );
    assert!(err.contains(&claimed.to_string()), "{err}");
    let out = dir.xyz_ok(&["status", "m", "--json"], 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["claims"], serde_json::json!([]), "{json}");
}

/// SIGTERM writes the results a grower gathered and had not written yet, in a grow and in a
/// worker, so a job ended by its scheduler loses no batch it finished.
#[test]
fn sigterm_writes_the_results_gathered_first() {
    for worker_mode in [false, true] {
        let dir = Dir::new();
        sow_mandel(&dir, 300, 300_000, false);
        let mut args = vec!["grow", "m", "-j", "1", "-q"];
        if worker_mode {
            args.push("--worker");
        }
        let grower = xyz_child(&dir, &args);
        // Well before a pack is due (5 s after its first batch): batches are done, none
        // written.
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(result_files(dir.tmp.path()), Vec::<String>::new());
        assert!(
            Command::new("kill")
                .args(["-TERM", &grower.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
        let out = grower.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(143), "{out:?}");
        let (grown, sound) = grown_and_sound(&dir);
        assert!(
            (1..300).contains(&grown),
            "worker {worker_mode}: {grown} grown"
        );
        assert_eq!(sound, grown);
        let status: serde_json::Value =
            serde_json::from_slice(&dir.xyz_ok(&["status", "m", "--json"], 0).stdout).unwrap();
        assert_eq!(status["claims"], serde_json::json!([]), "{status}");
    }
}
