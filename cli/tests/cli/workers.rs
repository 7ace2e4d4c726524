//! Worker processes: the library API behind `--watchdog process`, driven with the real `xyz`
//! binary as the worker.

use std::time::{Duration, Instant};

use xyz_core::{
    ComboValues, FailureKind, Function, ParamSpace, ProcessFunction, RayonPool, Runner, Value,
    WorkerSpec,
};

use crate::util::{Dir, cache_dir, guest};

fn faulty(deadline: Option<Duration>) -> ProcessFunction {
    let module = guest("faulty");
    let wasm = xyz::wasm::WasmFunction::load(
        module.as_ref(),
        xyz::wasm::WasmConfig::new()
            .deadline(None)
            .cache_dir(Some(cache_dir())),
    )
    .unwrap();
    ProcessFunction::start(
        env!("CARGO_BIN_EXE_xyz"),
        [
            "worker".into(),
            module.clone().into(),
            "--cache-dir".into(),
            cache_dir().into_os_string(),
        ] as [std::ffi::OsString; 4],
        WorkerSpec::new(
            Some(wasm.signature().clone()),
            Some(wasm.info().sha256.clone()),
            deadline,
        ),
    )
    .unwrap()
}

#[test]
fn an_endless_call_is_killed_at_the_deadline_and_the_rest_still_runs() {
    let f = faulty(Some(Duration::from_millis(300)));
    let mut space = ParamSpace::new();
    let modes = ["ok", "loop", "err"];
    space
        .combo(
            "x",
            ComboValues::List((0..20).map(|i| Value::F64(i.into())).collect()),
        )
        .combo(
            "mode",
            ComboValues::List(modes.iter().map(|m| Value::Str(m.to_string())).collect()),
        );
    let bound = space.bind(f.signature()).unwrap();
    let began = Instant::now();
    let out = Runner::new(&f, &RayonPool::new(2).unwrap())
        .run(&bound)
        .unwrap();
    let deadlines = out
        .failures
        .iter()
        .filter(|c| c.kind == FailureKind::Deadline)
        .count();
    assert_eq!(deadlines, 20);
    assert_eq!(out.failures.len(), 40);
    assert_eq!(out.dataset.counts(), (20, 40, 0, 0));
    // 20 endless cases on 2 workers at 300 ms each, plus the chunks they first ran in.
    assert!(
        began.elapsed() < Duration::from_secs(60),
        "{:?}",
        began.elapsed()
    );
}

#[test]
fn a_command_that_is_not_a_worker_is_refused_with_what_it_said() {
    let err = ProcessFunction::start(
        "/bin/sh",
        ["-c", "echo 'no such thing' >&2; exit 3"],
        WorkerSpec::new(Some("f(a: i64) -> (y: i64)".parse().unwrap()), None, None),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("the worker `/bin/sh` did not start"),
        "{text}"
    );
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(text.contains("no such thing"), "{text}");
}

#[test]
fn a_worker_serving_another_function_is_refused() {
    let module = guest("add");
    let err = ProcessFunction::start(
        env!("CARGO_BIN_EXE_xyz"),
        [
            "worker".into(),
            module.into(),
            "--cache-dir".into(),
            cache_dir().into_os_string(),
        ] as [std::ffi::OsString; 4],
        WorkerSpec::new(
            Some("add(a: f64, b: f64) -> (sum: f64)".parse().unwrap()),
            None,
            None,
        ),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("the worker serves add(a: f64, b: f64, c: f64)"),
        "{text}"
    );
    assert!(text.contains("did the file change?"), "{text}");
}

#[test]
fn a_worker_that_cannot_load_its_module_says_why() {
    let dir = Dir::new();
    let bogus = dir.write("bogus.wasm", "not wasm");
    let err = ProcessFunction::start(
        env!("CARGO_BIN_EXE_xyz"),
        ["worker".into(), bogus.into_os_string(), "--no-cache".into()] as [std::ffi::OsString; 3],
        WorkerSpec::new(Some("f(a: i64) -> (y: i64)".parse().unwrap()), None, None),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("not a WebAssembly module"), "{text}");
}

/// The pids of live processes whose command line mentions `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // Zombies are dead already; only their parent has yet to reap them.
            if !stat.contains(") Z ") {
                pids.push(pid);
            }
        }
    }
    pids
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let began = Instant::now();
    while !done() {
        assert!(began.elapsed() < timeout, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn workers_end_with_their_run_even_when_it_is_killed() {
    let dir = Dir::new();
    let module = dir.path("own-faulty.wasm");
    std::fs::copy(guest("faulty"), &module).unwrap();
    let needle = module.display().to_string();

    // A run that ends: its workers end with it.
    let args = [
        "run",
        "--function",
        &needle,
        "--combo",
        "mode=ok,loop",
        "--combo",
        "x=1,2",
        "--deadline",
        "200ms",
        "-j",
        "2",
        "-o",
        "f.zarr",
    ];
    dir.xyz_ok(&args, 3);
    assert_eq!(processes_with(&needle), Vec::<u32>::new());

    // A run killed while its workers loop: they notice their parent is gone and exit.
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args([
            "run",
            "--function",
            &needle,
            "--combo",
            "mode=loop",
            "--combo",
            "x=1,2",
        ])
        .args(["--deadline", "1h", "-j", "2", "-o", "g.zarr", "--quiet"])
        .current_dir(dir.tmp.path())
        .env("XYZ_CACHE_DIR", cache_dir())
        .spawn()
        .unwrap();
    wait_until("two workers start", Duration::from_secs(20), || {
        processes_with(&needle).len() >= 3
    });
    run.kill().unwrap();
    run.wait().unwrap();
    wait_until("the workers exit", Duration::from_secs(5), || {
        processes_with(&needle).is_empty()
    });
    assert!(!dir.path("g.zarr").exists());
}
