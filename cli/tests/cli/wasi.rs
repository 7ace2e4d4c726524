//! Modules built for WASI preview 1: C with wasi-libc, C++ with libc++, Rust with `std` for
//! `wasm32-wasip1`. Each runs sandboxed through `run` and crops, gives what the same code gives
//! natively, and sees no files, no environment, and the same clocks and randomness for a case
//! on every run.

use serde_json::Value;

use crate::util::{Dir, stdout, tree};

/// The rows of a JSON dataset, by their arguments' text.
fn rows(dir: &Dir, file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.path(file)).unwrap();
    serde_json::from_str::<Vec<Value>>(&text).unwrap()
}

/// `xyz run --json` of the C library example with `args` (combos and options) into `out`;
/// gives the run's summary.
fn run_libc(dir: &Dir, args: &[&str], out: &str, code: i32) -> Value {
    let (wasm, _) = xyz_tests::wasi_c_guest("libc");
    let f = wasm.to_str().unwrap();
    let all = [&["run", "--json", "--function", f, "-o", out][..], args].concat();
    serde_json::from_slice(&dir.xyz_ok(&all, code).stdout).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn c_with_libc_runs_sandboxed_and_gives_what_it_gives_natively() {
    let dir = Dir::new();
    let (wasm, so) = xyz_tests::wasi_c_guest("libc");
    let so = so.expect("the C example is built natively too");
    let sweep = |function: &std::path::Path, out: &str| {
        dir.xyz_ok(
            &[
                "run",
                "-q",
                "--function",
                function.to_str().unwrap(),
                "--combo",
                "x={ linspace = [0.5, 3.0, 6] }",
                "--combo",
                "n=0,1,7,50",
                "-o",
                out,
            ],
            3,
        );
    };
    sweep(&wasm, "wasm.json");
    sweep(&so, "native.json");
    let (w, n) = (rows(&dir, "wasm.json"), rows(&dir, "native.json"));
    assert_eq!(w.len(), 24);
    for (a, b) in w.iter().zip(&n) {
        assert_eq!(a["xyz_status"], b["xyz_status"], "{a} {b}");
        if a["n"] == 0 {
            // The failure, with what the case wrote to stderr; natively there is no capture.
            assert_eq!(
                a["xyz_error"],
                "error: n must be at least 1\n--- stderr ---\nlibc: n = 0 is too small"
            );
            assert_eq!(b["xyz_error"], "error: n must be at least 1");
            continue;
        }
        // What a case printed on stdout is dropped when it succeeds.
        assert_eq!(a["xyz_error"], "", "{a}");
        for k in ["g", "med", "spread"] {
            let (x, y) = (a[k].as_f64().unwrap(), b[k].as_f64().unwrap());
            assert!(close(x, y), "{k}: {x} (wasm) vs {y} (native) at {a}");
        }
    }
    // lgamma(3) = ln 2.
    let at3 = w.iter().find(|r| r["x"] == 3.0 && r["n"] == 7).unwrap();
    assert!(close(at3["g"].as_f64().unwrap(), std::f64::consts::LN_2));

    // A crop of it reaps to what the run wrote.
    let f = wasm.to_str().unwrap();
    let args = [
        "--function",
        f,
        "--combo",
        "x={ linspace = [0.5, 3.0, 6] }",
        "--combo",
        "n=0,1,7,50",
    ];
    dir.xyz_ok(&[&["run", "-q", "-o", "run.zarr"][..], &args].concat(), 3);
    dir.xyz_ok(
        &[
            &["sow", "--name", "c", "--batchsize", "5", "--shuffle", "3"][..],
            &args,
        ]
        .concat(),
        0,
    );
    dir.xyz_ok(&["grow", "c", "-q"], 3);
    dir.xyz_ok(&["reap", "c", "-q", "-o", "crop.zarr"], 3);
    assert_eq!(tree(&dir.path("crop.zarr")), tree(&dir.path("run.zarr")));
}

#[test]
fn exit_fails_the_case_with_its_code_and_what_it_printed() {
    let dir = Dir::new();
    let summary = run_libc(
        &dir,
        &["--combo", "x=1,2", "--combo", "n=-3,5"],
        "e.json",
        3,
    );
    assert_eq!(summary["failed"], 2);
    let rows = rows(&dir, "e.json");
    for r in &rows {
        if r["n"] == -3 {
            let x = r["x"].as_f64().unwrap();
            assert_eq!(
                r["xyz_error"],
                format!(
                    "error: exited with code 3 (proc_exit) before returning its outputs\n--- \
                     stdout ---\ngiving up on x = {x}"
                )
            );
        } else {
            assert_eq!(r["xyz_status"], 0, "{r}");
        }
    }
}

#[test]
fn the_sandbox_shows_no_files_nor_environment_and_the_same_clocks_and_randomness() {
    let dir = Dir::new();
    let (wasm, _) = xyz_tests::wasi_c_guest("sandbox");
    let f = wasm.to_str().unwrap();
    let args = ["--function", f, "--combo", "k=0,1,10,1000,100000"];
    // The host's environment is not the module's.
    let run = |out: &str| {
        let secret: &std::ffi::OsStr = "do not show".as_ref();
        let all = [&["run", "-q", "-o", out][..], &args].concat();
        dir.xyz_env(&all, &[("XYZ_SECRET", secret)], 0);
        rows(&dir, out)
    };
    let first = run("a.json");
    let again = run("b.json");
    assert_eq!(
        first, again,
        "every run sees the same randomness and clocks"
    );
    for r in &first {
        assert_eq!(r["opened"], false, "{r}");
        assert_eq!(r["env"], 0, "{r}");
        // Two readings of the clock, a microsecond apart, whatever the work between them.
        assert_eq!(r["ticks"], 1000, "{r}");
    }
    let draws: std::collections::HashSet<String> =
        first.iter().map(|r| r["draw"].to_string()).collect();
    assert_eq!(
        draws.len(),
        first.len(),
        "each case draws its own: {first:?}"
    );
    // A shuffled crop, grown by several processes, draws the same.
    dir.xyz_ok(
        &[
            &["sow", "--name", "s", "--batchsize", "1", "--shuffle", "9"][..],
            &args,
        ]
        .concat(),
        0,
    );
    dir.xyz_ok(&["grow", "s", "-q", "--batches", "1-2"], 0);
    dir.xyz_ok(&["grow", "s", "-q"], 0);
    dir.xyz_ok(&["reap", "s", "-q", "-o", "crop.json"], 0);
    assert_eq!(rows(&dir, "crop.json"), first);
}

#[test]
fn cpp_with_its_standard_library_runs() {
    let dir = Dir::new();
    let (wasm, _) = xyz_tests::wasi_c_guest("containers");
    let out = stdout(&dir.xyz_ok(
        &[
            "run",
            "-q",
            "--function",
            wasm.to_str().unwrap(),
            "--combo",
            "n=0,1,10,1000",
            "-o",
            "-",
        ],
        0,
    ));
    // The same computed here.
    let expect = |n: i64| {
        let mut v: Vec<i64> = (0..n).map(|k| (k * 7919) % (n + 3)).collect();
        v.sort();
        let digits: std::collections::BTreeSet<i64> = v.iter().map(|x| x % 10).collect();
        let mid = if v.is_empty() { -1 } else { v[v.len() / 2] };
        format!("{n},{mid},{},0,", digits.len())
    };
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "n,mid,digits,xyz_status,xyz_error");
    for (line, n) in lines[1..].iter().zip([0, 1, 10, 1000]) {
        assert_eq!(*line, expect(n));
    }
}

#[test]
fn rust_with_std_built_for_wasip1_gives_what_it_gives_natively() {
    let dir = Dir::new();
    let wasm = xyz_tests::wasi_guest("words");
    let native = xyz_tests::native_guest("words");
    let sweep = |f: &std::path::Path, out: &str| {
        dir.xyz_ok(
            &[
                "run",
                "-q",
                "--function",
                f.to_str().unwrap(),
                "--combo",
                "n=-1,0,1,3",
                "--combo",
                r#"text=["to be or not to be", "", "ü ü ü x"]"#,
                "-o",
                out,
            ],
            3,
        );
        std::fs::read_to_string(dir.path(out)).unwrap()
    };
    let (w, n) = (sweep(&wasm, "w.csv"), sweep(&native, "n.csv"));
    assert_eq!(w, n);
    assert!(
        w.contains("3,to be or not to be,4,6,      be × 6    of 33.3%,0,\n"),
        "{w}"
    );
    let info = stdout(&dir.xyz_ok(&["inspect", wasm.to_str().unwrap()], 0));
    assert!(info.contains("wasi_snapshot_preview1.fd_write"), "{info}");
}

#[test]
fn limits_hold_for_wasi_modules() {
    let dir = Dir::new();
    let args = [
        "--combo",
        "x=1",
        "--combo",
        "n=10,100000000",
        "--memory",
        "64MiB",
    ];
    let summary = run_libc(&dir, &args, "m.json", 3);
    assert_eq!(summary["failed"], 1);
    let failure = &summary["failures"][0];
    assert_eq!(failure["kind"], "memory", "{failure}");
    assert_eq!(failure["args"]["n"], 100000000);
    assert_eq!(rows(&dir, "m.json")[0]["xyz_status"], 0);
}

/// `clocks = "real"` in a spec's limits gives WASI modules the host's clocks and randomness,
/// through runs and crops; anything else there is refused by name.
#[test]
fn a_spec_may_give_the_hosts_clocks() {
    let dir = Dir::new();
    let (wasm, _) = xyz_tests::wasi_c_guest("sandbox");
    let spec = |clocks: &str| {
        dir.write(
            "s.toml",
            &format!(
                "function = \"{}\"\n[combos]\nk = [0, 1000000]\n[limits]\nclocks = \"{clocks}\"\n",
                wasm.display()
            ),
        )
    };
    let s = spec("real");
    let s = s.to_str().unwrap();
    dir.xyz_ok(&["run", s, "-q", "-o", "a.json"], 0);
    dir.xyz_ok(&["run", s, "-q", "-o", "b.json", "--watchdog", "epoch"], 0);
    let (a, b) = (rows(&dir, "a.json"), rows(&dir, "b.json"));
    assert_ne!(
        a[0]["draw"], b[0]["draw"],
        "the host's randomness differs run to run"
    );
    assert!(
        a[1]["ticks"].as_i64().unwrap() > 1000,
        "a million iterations take more than a microsecond on the host's clock: {a:?}"
    );
    dir.xyz_ok(&["sow", s, "--name", "r"], 0);
    let manifest = std::fs::read_to_string(dir.path(".xyz-r/manifest.toml")).unwrap();
    assert!(manifest.contains("clocks = \"real\""), "{manifest}");
    dir.xyz_ok(&["grow", "r", "-q"], 0);
    dir.xyz_ok(&["reap", "r", "-q", "-o", "c.json"], 0);
    assert_ne!(rows(&dir, "c.json")[0]["draw"], a[0]["draw"]);

    let s = spec("fast");
    let err = dir.xyz_err(&["run", s.to_str().unwrap()]);
    assert!(
        err.contains("`limits.clocks`: `fast` is not a kind of clocks"),
        "{err}"
    );
}

/// A module gives the same bits whichever way its deadline is kept: worker processes, epoch
/// checks compiled in, or no deadline; and with NaNs canonicalized.
#[test]
fn a_module_gives_the_same_bits_under_every_watchdog() {
    let dir = Dir::new();
    let (libc, _) = xyz_tests::wasi_c_guest("libc");
    let mandel = crate::util::guest("mandel");
    let sweeps: [(&str, Vec<&str>); 2] = [
        (
            libc.to_str().unwrap(),
            vec![
                "--combo",
                "x={ linspace = [0.1, 7, 40] }",
                "--combo",
                "n=3,30",
            ],
        ),
        (
            &mandel,
            vec![
                "--combo",
                "x={ linspace = [-2, 0.5, 30] }",
                "--combo",
                "y={ linspace = [-1.2, 1.2, 20] }",
                "--constant",
                "maxiter=200",
            ],
        ),
    ];
    for (f, combos) in &sweeps {
        let mut outs = Vec::new();
        for (i, mode) in [
            &[][..],
            &["--watchdog", "epoch"],
            &["--no-deadline"],
            &["--canonicalize-nans"],
        ]
        .iter()
        .enumerate()
        {
            let out = format!("m{i}.zarr");
            let args = [
                &["run", "-q", "--function", f, "-o", &out][..],
                combos,
                mode,
            ]
            .concat();
            dir.xyz_ok(&args, 0);
            outs.push(tree(&dir.path(&out)));
        }
        for (i, o) in outs.iter().enumerate().skip(1) {
            assert!(*o == outs[0], "{f}: mode {i} differs");
        }
        for i in 0..outs.len() {
            std::fs::remove_dir_all(dir.path(&format!("m{i}.zarr"))).unwrap();
        }
    }
}

/// `xyz build --libc` builds C that uses the C library against wasi-libc, into a module that
/// gives what the example built by the test suite gives.
#[test]
fn xyz_build_builds_c_with_the_c_library() {
    let dir = Dir::new();
    let root = xyz_tests::workspace_root();
    std::fs::create_dir(dir.path("f")).unwrap();
    std::fs::copy(root.join("wasm-examples/wasi/libc.c"), dir.path("f/libc.c")).unwrap();
    std::fs::copy(root.join("include/xyz.h"), dir.path("f/xyz.h")).unwrap();
    // Freestanding, it has no C library to find.
    dir.xyz_ok(&["build", "f"], 1);
    let module = stdout(&dir.xyz_ok(&["build", "f", "--libc"], 0));
    assert!(module.trim().ends_with("f/libc.wasm"), "{module}");
    let (built, _) = xyz_tests::wasi_c_guest("libc");
    let run = |f: &str| {
        stdout(&dir.xyz_ok(
            &[
                "run",
                "-q",
                "--function",
                f,
                "--combo",
                "x=0.5,2",
                "--combo",
                "n=5",
                "-o",
                "-",
            ],
            0,
        ))
    };
    assert_eq!(run(module.trim()), run(built.to_str().unwrap()));
}

/// `poll_oneoff` is the one WASI call that waits. With the case's clocks a sleep returns at
/// once and moves the case's clock on by what it slept; with the host's clocks it is a real
/// sleep, which the call's deadline cuts short in every mode of running.
#[test]
fn a_sleep_honours_the_deadline_in_every_mode() {
    let dir = Dir::new();
    let module = crate::util::wat_fixture(&dir, "sleep.wat");
    let spec = |clocks: &str| {
        dir.write(
            "s.toml",
            &format!(
                "function = \"{module}\"\n[combos]\nns = [10000000, 4611686018427387904]\n\
                 [limits]\nclocks = \"{clocks}\"\n"
            ),
        )
        .display()
        .to_string()
    };
    let limit = std::time::Duration::from_secs(120);
    // The case's clocks: 2^62 ns pass at once, the same on every run.
    let s = spec("case");
    let out = dir.xyz_within(&["run", &s, "-q", "-o", "case.csv"], &[], limit);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let csv = std::fs::read_to_string(dir.path("case.csv")).unwrap();
    assert_eq!(
        csv,
        "ns,t,xyz_status,xyz_error\n10000000,10001000,0,\n\
         4611686018427387904,4611686018427388904,0,\n"
    );
    // The host's clocks: the short sleep sleeps, the long one ends at the deadline.
    let s = spec("real");
    for mode in [&["--watchdog", "epoch"][..], &["--no-isolate"], &[]] {
        let mut args = vec![
            "run",
            &s,
            "-q",
            "-o",
            "real.csv",
            "--force",
            "--deadline",
            "3s",
        ];
        args.extend(mode);
        let start = std::time::Instant::now();
        let out = dir.xyz_within(&args, &[], limit);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "{mode:?}: {:?}",
            start.elapsed()
        );
        assert_eq!(out.status.code(), Some(3), "{mode:?}: {out:?}");
        let csv = std::fs::read_to_string(dir.path("real.csv")).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        let t: i64 = rows[1].split(',').nth(1).unwrap().parse().unwrap();
        assert!(t >= 10_000_000, "{mode:?}: {csv}");
        assert!(
            rows[2].contains("ran past its deadline of 3s"),
            "{mode:?}: {csv}"
        );
    }
}

/// A case that changes its WASI context (here, closes stdout) leaves the next case of the same
/// instance the context every case starts from.
#[test]
fn each_case_starts_from_the_same_wasi_state() {
    let dir = Dir::new();
    let module = crate::util::wat_fixture(&dir, "fdclose.wat");
    // One thread: the two cases run in one instance, the closing one first.
    let out = dir.xyz_ok(
        &[
            "run",
            "--function",
            &module,
            "--combo",
            "close=[1, 0]",
            "-j",
            "1",
            "-q",
            "-o",
            "-",
        ],
        0,
    );
    assert_eq!(
        stdout(&out),
        "close,errno,xyz_status,xyz_error\n1,8,0,\n0,0,0,\n"
    );
}
