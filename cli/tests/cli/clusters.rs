//! `xyz submit` on real schedulers: a one-node Slurm cluster and a one-node SGE cluster,
//! brought up by the project's own scripts (tests/clusters/), a mandel crop grown by them in
//! array mode and in workers mode, reaped and compared bit for bit with `xyz run` (so is an
//! adaptive study, grown by workers that choose its rounds), and on
//! Slurm `xyz run --launcher srun` inside an allocation. PBS has no
//! server in Debian: its scripts are compared with golden files and checked by `bash -n`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Dir, guest, mandel_spec, stdout, tree};

/// A cluster the test brought up, brought down when dropped.
struct Cluster {
    script: PathBuf,
    state: tempfile::TempDir,
}

impl Cluster {
    fn up(name: &str) -> Cluster {
        let script = xyz_tests::workspace_root()
            .join("tests/clusters")
            .join(format!("{name}.sh"));
        let state = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(&script)
            .arg("up")
            .arg(state.path())
            .output()
            .unwrap();
        let cluster = Cluster { script, state };
        assert!(
            out.status.success(),
            "{name} did not come up:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.state.path().join(rel)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("down")
            .arg(self.state.path())
            .status();
    }
}

/// Sows a mandel crop of 24 batches and writes what `xyz run` gives as run.zarr.
fn mandel(dir: &Dir) -> String {
    let spec = mandel_spec(dir, 24, 50, 500);
    let spec = spec.to_str().unwrap().to_string();
    dir.xyz_ok(&["run", &spec, "-o", "run.zarr", "-q"], 0);
    spec
}

/// Submits the crop in `mode`, waits for it, reaps it and compares with run.zarr.
fn grow_on(
    dir: &Dir,
    spec: &str,
    env: &[(&str, &OsStr)],
    scheduler: &str,
    mode: &[&str],
) -> String {
    dir.xyz_ok(&["sow", spec, "--name", "m", "--batchsize", "50", "-q"], 0);
    let mut args = vec!["submit", "m", "--scheduler", scheduler];
    args.extend_from_slice(mode);
    let out = stdout(&dir.xyz_env(&args, env, 0));
    let status = stdout(&dir.xyz_env(&["status", "m"], env, 0));
    assert!(
        status.contains(&format!("jobs      {scheduler} job ")),
        "{status}"
    );
    // The scheduler is asked what its queue holds of the jobs, just submitted.
    assert!(status.contains("; queued: "), "{status}");
    let json = dir.xyz_env(&["status", "m", "--json"], env, 0);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let mut queued = 0;
    for job in json["jobs"].as_array().unwrap() {
        let queue = job["queue"].as_object().expect("the queue was asked");
        queued += queue.values().map(|n| n.as_u64().unwrap()).sum::<u64>();
    }
    assert!(queued > 0, "{json}");
    dir.xyz_env(
        &[
            "reap",
            "m",
            "--wait",
            "--timeout",
            "180s",
            "-o",
            "crop.zarr",
            "--force",
            "-q",
        ],
        env,
        0,
    );
    assert_eq!(
        tree(&dir.path("crop.zarr")),
        tree(&dir.path("run.zarr")),
        "{out}"
    );
    out
}

/// Sows an adaptive study of the ring (with combos, so the learners are balanced), submits
/// it in the mode `submit` takes for it (workers, which choose its rounds), reaps it once the
/// study is finished, and compares with what `xyz run` gives.
fn adaptive_on(dir: &Dir, env: &[(&str, &OsStr)], scheduler: &str) {
    let spec = dir.write(
        "ring.toml",
        &format!(
            "function = \"{}\"\n[combos]\na = [0.2, 0.5]\n[constants]\nspins = 2000\n\
             [adaptive]\nx = [-1.0, 1.0]\ny = [-1.0, 1.0]\nn = 150\nrounds = 12\n",
            guest("ring")
        ),
    );
    let spec = spec.to_str().unwrap();
    dir.xyz_ok(&["run", spec, "-o", "ring-run.zarr", "-q"], 0);
    dir.xyz_ok(&["sow", spec, "--name", "r", "--batchsize", "2", "-q"], 0);
    let refused = dir.xyz(&["submit", "r", "--scheduler", scheduler, "--mode", "array"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("submit workers"),
        "{refused:?}"
    );
    let args = [
        "submit",
        "r",
        "--scheduler",
        scheduler,
        "--workers",
        "2",
        "--lease",
        "10s",
        "--time",
        "0:10:00",
    ];
    let out = stdout(&dir.xyz_env(&args, env, 0));
    assert!(out.contains("(2 worker tasks)"), "{out}");
    dir.xyz_env(
        &[
            "reap",
            "r",
            "--wait",
            "--timeout",
            "300s",
            "-o",
            "ring.zarr",
            "-q",
        ],
        env,
        0,
    );
    assert_eq!(
        tree(&dir.path("ring.zarr")),
        tree(&dir.path("ring-run.zarr")),
        "{out}"
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn slurm_grows_a_crop_as_arrays_and_as_workers_and_runs_workers_with_srun() {
    assert!(is_root(), "the cluster tests start daemons and need root");
    let cluster = Cluster::up("slurm");
    let conf = cluster.path("slurm.conf");
    let env = [("SLURM_CONF", conf.as_os_str())];
    let dir = Dir::new();
    let spec = mandel(&dir);
    // 24 missing batches and MaxArraySize 11: three arrays of 10, 10 and 4 tasks.
    let out = grow_on(
        &dir,
        &spec,
        &env,
        "slurm",
        &["--throttle", "4", "--time", "0:10:00", "--mem", "500M"],
    );
    let arrays: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("submitted slurm job"))
        .collect();
    assert_eq!(arrays.len(), 3, "{out}");
    for (line, tasks) in arrays
        .iter()
        .zip(["10 array tasks", "10 array tasks", "4 array tasks"])
    {
        assert!(line.contains(tasks), "{out}");
    }
    grow_on(
        &dir,
        &spec,
        &env,
        "slurm",
        &["--mode", "workers", "--workers", "3", "--lease", "10s"],
    );

    // Inside an allocation, `xyz run --launcher srun` starts each worker as a job step.
    let run = Command::new("salloc")
        .args(["-n", "2", "--time", "0:10:00"])
        .arg(env!("CARGO_BIN_EXE_xyz"))
        .args(["run", &spec, "-o", "srun.zarr", "-j", "2"])
        .args(["--launcher", "srun --ntasks=1 --exclusive -u"])
        .env("SLURM_CONF", &conf)
        .env("XYZ_CACHE_DIR", crate::util::cache_dir())
        .current_dir(dir.path(""))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{text}");
    assert!(text.contains("launched 2 workers in 2 slots"), "{text}");
    assert_eq!(
        tree(&dir.path("srun.zarr")),
        tree(&dir.path("run.zarr")),
        "{text}"
    );

    // A crop grown by `srun -n 2 xyz grow NAME --worker` in an allocation, as the README says.
    dir.xyz_ok(&["sow", &spec, "--name", "s", "--batchsize", "50", "-q"], 0);
    let xyz = env!("CARGO_BIN_EXE_xyz");
    let grow = Command::new("salloc")
        .args(["-n", "2", "--time", "0:10:00", "srun", "-n", "2", xyz])
        .args(["grow", "s", "--worker", "-q"])
        .env("SLURM_CONF", &conf)
        .env("XYZ_CACHE_DIR", crate::util::cache_dir())
        .current_dir(dir.path(""))
        .output()
        .unwrap();
    assert!(grow.status.success(), "{grow:?}");
    dir.xyz_ok(&["reap", "s", "-o", "s.zarr", "-q"], 0);
    assert_eq!(tree(&dir.path("s.zarr")), tree(&dir.path("run.zarr")));

    adaptive_on(&dir, &env, "slurm");
}

#[test]
fn sge_grows_a_crop_as_an_array() {
    assert!(is_root(), "the cluster tests start daemons and need root");
    let cluster = Cluster::up("sge");
    let env_file = std::fs::read_to_string(cluster.path("env")).unwrap();
    let vars: Vec<(String, std::ffi::OsString)> = env_file
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    let env: Vec<(&str, &OsStr)> = vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_os_str()))
        .collect();
    let dir = Dir::new();
    let spec = mandel(&dir);
    grow_on(
        &dir,
        &spec,
        &env,
        "sge",
        &["--throttle", "4", "--time", "0:10:00"],
    );
    adaptive_on(&dir, &env, "sge");
}

/// The scripts of every scheduler and mode, with the paths that vary put as placeholders.
fn dry_run(dir: &Dir, args: &[&str]) -> String {
    let mut all = vec!["submit", "m", "--dry-run"];
    all.extend_from_slice(args);
    let text = stdout(&dir.xyz_ok(&all, 0));
    let crop = std::path::absolute(dir.path(".xyz-m")).unwrap();
    let mut text = text
        .replace(crop.to_str().unwrap(), "CROP")
        .replace(env!("CARGO_BIN_EXE_xyz"), "XYZ");
    // The submission's time stamp.
    while let Some(at) = text.find("m-1") {
        let end = text[at + 2..].find('-').map_or(text.len(), |e| at + 2 + e);
        text.replace_range(at..end, "m-STAMP");
    }
    text
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

#[test]
fn scripts_match_their_golden_files_and_parse() {
    let dir = Dir::new();
    let spec = dir.write(
        "m.toml",
        &format!(
            "function = \"{}\"\n[combos]\ny = {{ linspace = [0, 1, 5] }}\nx = [1.0, 2.0]\n\
             [constants]\nmaxiter = 10\n",
            guest("mandel")
        ),
    );
    dir.xyz_ok(
        &["sow", spec.to_str().unwrap(), "--batchsize", "2", "-q"],
        0,
    );
    let cases: [(&str, &[&str]); 6] = [
        (
            "pbs-array.sh",
            &[
                "--scheduler",
                "pbs",
                "--throttle",
                "2",
                "--time",
                "1:00:00",
                "--mem",
                "2G",
                "--cpus-per-task",
                "4",
                "--setup",
                "module load gcc",
                "--option",
                "-q workq",
                "--max-array-size",
                "3",
            ],
        ),
        (
            "pbs-workers.sh",
            &[
                "--scheduler",
                "pbs",
                "--mode",
                "workers",
                "--workers",
                "4",
                "--lease",
                "2m",
            ],
        ),
        (
            "slurm-array.sh",
            &[
                "--scheduler",
                "slurm",
                "--throttle",
                "2",
                "--time",
                "1:00:00",
                "--mem",
                "2G",
                "--cpus-per-task",
                "4",
                "--option",
                "--partition=long",
                "--max-array-size",
                "10",
            ],
        ),
        (
            "slurm-workers.sh",
            &[
                "--scheduler",
                "slurm",
                "--mode",
                "workers",
                "--workers",
                "4",
                "--max-array-size",
                "10",
            ],
        ),
        (
            "sge-array.sh",
            &[
                "--scheduler",
                "sge",
                "--throttle",
                "2",
                "--time",
                "1:00:00",
                "--mem",
                "2G",
                "--cpus-per-task",
                "4",
                "--max-array-size",
                "10",
            ],
        ),
        (
            "sge-workers.sh",
            &[
                "--scheduler",
                "sge",
                "--mode",
                "workers",
                "--workers",
                "1",
                "--max-array-size",
                "10",
            ],
        ),
    ];
    for (name, args) in cases {
        let text = dry_run(&dir, args);
        let path = golden(name);
        if std::env::var_os("XYZ_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (XYZ_BLESS=1 writes it)", path.display()));
        assert_eq!(text, want, "{name} differs from its golden file");
        // Each script parses as bash.
        for script in text
            .split("\n# ")
            .map(|s| s.split_once('\n').map_or("", |(_, b)| b))
        {
            let check = dir.write("check.sh", script);
            let ok = Command::new("bash").arg("-n").arg(&check).status().unwrap();
            assert!(ok.success(), "{name} does not parse:\n{script}");
        }
    }
    let err = dir.xyz_err(&[
        "submit",
        "m",
        "--scheduler",
        "slurm",
        "--time",
        "1h",
        "--dry-run",
    ]);
    assert!(
        err.contains("--time 1h: expected a wall time such as 2:30:00"),
        "{err}"
    );
    let err = dir.xyz_err(&[
        "submit",
        "m",
        "--scheduler",
        "slurm",
        "--mem",
        "lots",
        "--dry-run",
    ]);
    assert!(err.contains("--mem"), "{err}");
}
