//! The faulty example's failure modes: each fails its own cases only, and the host survives.

use crate::util::{Dir, guest};

#[test]
fn every_failure_mode_fails_alone_under_either_watchdog() {
    for watchdog in ["process", "epoch"] {
        every_failure_mode_fails_alone(watchdog);
    }
}

fn every_failure_mode_fails_alone(watchdog: &str) {
    let dir = Dir::new();
    let out = dir.xyz_ok(
        &[
            "run",
            "--watchdog",
            watchdog,
            "--function",
            &guest("faulty"),
            "--combo",
            "mode=ok,err,panic,loop,alloc",
            "--combo",
            "x=[1.0, 2.0]",
            "--deadline",
            "500ms",
            "--memory",
            "32MiB",
            "-j",
            "2",
            "--json",
            "-o",
            "f.zarr",
        ],
        3,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cases"], 10);
    assert_eq!(v["ok"], 2);
    assert_eq!(v["failed"], 8);
    let failures = v["failures"].as_array().unwrap();
    let kinds: Vec<&str> = failures
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "error", "error", "panic", "panic", "deadline", "deadline", "memory", "memory"
        ]
    );
    assert_eq!(failures[0]["message"], "refused x = 1");
    assert_eq!(
        failures[0]["args"],
        serde_json::json!({"mode": "err", "x": 1.0})
    );
    let panic = failures[3]["message"].as_str().unwrap();
    assert!(panic.contains("faulty panics at x = 2"), "{panic}");
    assert!(panic.contains("faulty/src/lib.rs"), "{panic}");
    assert_eq!(failures[4]["message"], "ran past its deadline of 500ms");
    let mem = failures[6]["message"].as_str().unwrap();
    assert!(
        mem.starts_with("exceeded the memory limit of 32.0 MiB"),
        "{mem}"
    );
    xyz_tests::python("check.py", &[&"faulty", &dir.path("f.zarr")]);
}

#[test]
fn human_summary_lists_failures_with_arguments() {
    let dir = Dir::new();
    let out = dir.xyz_ok(
        &[
            "run",
            "--function",
            &guest("faulty"),
            "--combo",
            "mode=ok,err",
            "--combo",
            "x=3",
            "-o",
            "f.csv",
        ],
        3,
    );
    // Failures are diagnostics: on stderr.
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("1 case failed (their cells are missing; cases are counted from 0):"),
        "{text}"
    );
    assert!(
        text.contains("case 1 (mode=\"err\", x=3.0): error: refused x = 3"),
        "{text}"
    );
    let csv = std::fs::read_to_string(dir.path("f.csv")).unwrap();
    assert_eq!(
        csv,
        "mode,x,y,xyz_status,xyz_error\nok,3.0,4.0,0,\nerr,3.0,,1,error: refused x = 3\n"
    );
}
