//! The trust boundary (issue 11): a shared crop runs only the code that was sown, no input
//! hangs or crashes xyz, and no merge or write loses data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::os::unix::fs::FileTypeExt as _;

use crate::util::{Dir, guest, mandel_spec, stdout};

const AFFINE: &str = include_str!("../../../tests/fixtures/affine.wat");

/// `affine.wat` with `edit` applied, as a module in `dir`.
fn affine_variant(dir: &Dir, name: &str, edit: impl Fn(&str) -> String) -> String {
    let text = edit(AFFINE);
    assert_ne!(text, AFFINE, "the edit changes the module");
    let wasm = wat::parse_str(&text).expect("the variant parses");
    let path = dir.path(&format!("{name}.wasm"));
    std::fs::write(&path, wasm).unwrap();
    path.display().to_string()
}

/// A native library: the C example `collatz` plus `extra` C code, built by clang.
fn c_library(dir: &Dir, name: &str, extra: &str) -> PathBuf {
    let root = xyz_tests::workspace_root();
    let src = dir.write(
        &format!("{name}.c"),
        &format!("#include \"collatz.c\"\n{extra}\n"),
    );
    let lib = dir.path(&format!("lib{name}.so"));
    let status = Command::new("clang")
        .args(["-shared", "-fPIC", "-O1", "-I"])
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("wasm-examples/c"))
        .arg("-o")
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("clang runs (apt-get install clang lld, as ./scripts/test.sh does)");
    assert!(status.success(), "clang built {name}");
    lib
}

fn cells(dir: &Dir, data: &str) -> String {
    let out = dir.xyz_ok(&["show", data, "--json"], 0);
    stdout(&out)
}

#[test]
fn a_swapped_compiled_module_in_a_crops_cache_is_never_loaded() {
    let dir = Dir::new();
    let affine = crate::util::wat_fixture(&dir, "affine.wat");
    let three = affine_variant(&dir, "three", |t| {
        t.replace(
            "(f64.mul (local.get $xi) (f64.const 2))",
            "(f64.mul (local.get $xi) (f64.const 3))",
        )
    });
    for (name, module) in [("a", &affine), ("b", &three)] {
        dir.write(
            &format!("{name}.toml"),
            &format!("function = \"{module}\"\n[combos]\nx = [1.0, 2.0, 3.0]\n"),
        );
        dir.xyz_ok(&["sow", &format!("{name}.toml"), "-q"], 0);
    }
    // Crop a caches its module's compiled code; crop b, another module's.
    dir.xyz_ok(&["grow", "a", "--batches", "1", "-q"], 0);
    dir.xyz_ok(&["grow", "b", "-q"], 0);
    let entries = |crop: &str| -> Vec<PathBuf> {
        std::fs::read_dir(dir.path(&format!(".xyz-{crop}/cache")))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    let theirs = entries("b");
    assert!(!theirs.is_empty(), "crop b has a cache entry");
    let planted = std::fs::read(&theirs[0]).unwrap();
    // Another user with write access to the crop plants b's code under a's entry names.
    for path in entries("a") {
        std::fs::write(&path, &planted).unwrap();
    }
    dir.xyz_ok(&["grow", "a", "-q"], 0);
    dir.xyz_ok(&["reap", "a", "-o", "a.csv", "-q"], 0);
    let csv = std::fs::read_to_string(dir.path("a.csv")).unwrap();
    assert_eq!(
        csv, "x,y,xyz_status,xyz_error\n1.0,3.0,0,\n2.0,5.0,0,\n3.0,7.0,0,\n",
        "2x + 1, not 3x + 1"
    );
}

#[test]
fn a_swapped_library_in_a_crop_is_refused_before_any_of_its_code_runs() {
    let dir = Dir::new();
    let (_, collatz) = xyz_tests::c_guest("collatz");
    let evil = c_library(
        &dir,
        "evil",
        r#"
        #include <stdio.h>
        __attribute__((constructor)) static void mark(void) {
            const char *path = getenv("XYZ_TEST_MARKER");
            FILE *f = path ? fopen(path, "w") : 0;
            if (f) { fputs("ran", f); fclose(f); }
        }
        "#,
    );
    dir.write(
        "c.toml",
        &format!(
            "function = \"{}\"\n[combos]\nn = [1, 2, 3, 4]\n",
            collatz.display()
        ),
    );
    dir.xyz_ok(&["sow", "c.toml", "--batchsize", "1", "-q"], 0);
    std::fs::copy(&evil, dir.path(".xyz-c/function.so")).unwrap();
    let marker = dir.path("marker");
    for args in [
        &["grow", "c"][..],
        &["grow", "c", "--worker"],
        &["grow", "c", "--no-isolate"],
    ] {
        let out = dir.xyz_env(args, &[("XYZ_TEST_MARKER", marker.as_os_str())], 1);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not the sown"), "{args:?}: {err}");
        assert!(!marker.exists(), "{args:?}: the library's constructor ran");
    }
}

#[test]
fn loading_that_never_ends_is_stopped_at_the_load_timeout() {
    let dir = Dir::new();
    let start_loops = affine_variant(&dir, "start", |t| {
        t.replacen(
            "(memory (export \"memory\") 1)",
            "(memory (export \"memory\") 1)\n  (func $spin (loop $l (br $l)))\n  (start $spin)",
            1,
        )
    });
    let signature_loops = affine_variant(&dir, "signature", |t| {
        t.replace(
            "(func (export \"xyz_signature\") (result i32) (i32.const 16))",
            "(func (export \"xyz_signature\") (result i32) (loop $l (br $l)) (i32.const 16))",
        )
    });
    let constructor_loops = c_library(
        &dir,
        "spin",
        "__attribute__((constructor)) static void spin(void) { for (;;) {} }",
    )
    .display()
    .to_string();
    for module in [&start_loops, &signature_loops, &constructor_loops] {
        let arg = if module.ends_with(".so") {
            "n=1"
        } else {
            "x=1"
        };
        for args in [
            vec!["run", "--function", module, "--combo", arg, "-o", "o.csv"],
            vec![
                "run",
                "--function",
                module,
                "--combo",
                arg,
                "--watchdog",
                "epoch",
            ],
            vec!["run", "--function", module, "--combo", arg, "--no-isolate"],
            vec!["sow", "--function", module, "--combo", arg, "--name", "s"],
            vec!["inspect", module],
        ] {
            let began = Instant::now();
            let args = [&args[..], &["--load-timeout", "1s"]].concat();
            let err = dir.xyz_err(&args);
            assert!(err.contains("did not finish within 1s"), "{args:?}: {err}");
            assert!(began.elapsed() < Duration::from_secs(20), "{args:?}");
        }
    }
    assert!(!dir.path(".xyz-s").exists(), "a failed sow leaves nothing");
}

/// A worker whose parent was killed while the function's library loads (its constructor never
/// returns) exits by itself, instead of spinning for as long as one waits.
#[test]
fn a_worker_dies_with_its_parent_even_while_a_library_loads() {
    let dir = Dir::new();
    let spin = c_library(
        &dir,
        "spin",
        "__attribute__((constructor)) static void spin(void) { for (;;) {} }",
    );
    let mark = format!("XYZ_TEST_ORPHAN={}", dir.path("mark").display());
    let mut parent = Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args(["run", "--function"])
        .arg(&spin)
        .args(["--combo", "n=1", "--load-timeout", "10m", "-o", "o.csv"])
        .env("XYZ_TEST_ORPHAN", dir.path("mark"))
        .current_dir(dir.path(""))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The worker is up and spinning in the library's constructor.
    let until = Instant::now() + Duration::from_secs(30);
    while crate::util::pids_with("environ", &mark).len() < 2 {
        assert!(Instant::now() < until, "no worker started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    parent.kill().unwrap();
    parent.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while let Some(pid) = crate::util::pids_with("environ", &mark).pop() {
        if Instant::now() > until {
            let what = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            // Not left behind for the next test either.
            let _ = Command::new("kill").args(["-9", &pid]).status();
            panic!(
                "the worker {pid} outlived its killed parent: {}\n{status}",
                String::from_utf8_lossy(&what).replace('\0', " ")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn only_regular_files_are_functions() {
    let dir = Dir::new();
    let fifo = dir.path("f.wasm");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.display().to_string();
    for (path, what) in [
        (fifo.as_str(), "is a FIFO"),
        ("/dev/zero", "is a character device"),
        ("/dev/urandom", "is a character device"),
        (".", "is a directory"),
    ] {
        for args in [
            vec!["run", "--function", path, "--combo", "x=1"],
            vec!["sow", "--function", path, "--combo", "x=1"],
            vec!["inspect", path],
        ] {
            let began = Instant::now();
            let err = dir.xyz_err(&args);
            assert!(err.contains(what) && err.contains(path), "{args:?}: {err}");
            assert!(began.elapsed() < Duration::from_secs(10), "{args:?}");
        }
    }
}

/// Concurrent merges into one dataset, named by three paths (its own, a symbolic link to it
/// and one through `..`), each keep what they add.
#[test]
fn concurrent_merges_into_one_dataset_keep_every_coordinate() {
    let dir = Dir::new();
    let add = guest("add");
    std::os::unix::fs::symlink("d.zarr", dir.path("alias.zarr")).unwrap();
    std::fs::create_dir(dir.path("sub")).unwrap();
    let merge = |first: i64, into: &'static str| {
        let dir = dir.tmp.path().to_path_buf();
        let add = add.clone();
        std::thread::spawn(move || {
            for round in 0..5 {
                let a = format!("a={}", first + round);
                let out = Command::new(env!("CARGO_BIN_EXE_xyz"))
                    .args(["run", "--function", &add, "--combo", &a, "--combo", "b=1"])
                    .args(["--constant", "c=0", "--into", into, "-q"])
                    .current_dir(&dir)
                    .env("XYZ_CACHE_DIR", crate::util::cache_dir())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        })
    };
    // The dataset is made first (a link to nothing is not written through), then merged into
    // by all three at once.
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &add,
            "--combo",
            "a=-1",
            "--combo",
            "b=1",
            "--constant",
            "c=0",
            "--into",
            "d.zarr",
            "-q",
        ],
        0,
    );
    let merges = [
        merge(0, "d.zarr"),
        merge(100, "alias.zarr"),
        merge(200, "sub/../d.zarr"),
    ];
    for m in merges {
        m.join().unwrap();
    }
    let shown: serde_json::Value = serde_json::from_str(&cells(&dir, "d.zarr")).unwrap();
    let dims = shown["dims"].to_string();
    assert!(dims.contains("\"a\"") && dims.contains("16"), "{dims}");
    assert!(
        std::fs::symlink_metadata(dir.path("alias.zarr"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link still links"
    );
    assert!(
        !dir.path(".d.zarr.xyz-lock").exists(),
        "the lock is released"
    );
}

#[test]
fn every_float_a_sweep_is_given_reads_back_from_parquet() {
    let dir = Dir::new();
    let add = guest("add");
    let args = [
        "run",
        "--function",
        &add,
        "--combo",
        "a=-1.2249163879598661",
        "--constant",
        "c=0",
    ];
    dir.xyz_ok(
        &[&args[..], &["--combo", "b=1", "-o", "t.parquet", "-q"]].concat(),
        0,
    );
    cells(&dir, "t.parquet");
    dir.xyz_ok(
        &[&args[..], &["--combo", "b=2", "--into", "t.parquet", "-q"]].concat(),
        0,
    );
    let shown: serde_json::Value = serde_json::from_str(&cells(&dir, "t.parquet")).unwrap();
    assert_eq!(shown["dims"][1]["size"], 2, "{shown}");
}

#[test]
fn workers_stop_when_their_crop_is_sown_again_and_never_count_a_stale_result() {
    let dir = Dir::new();
    let spec = mandel_spec(&dir, 20, 25, 50_000_000);
    dir.xyz_ok(
        &["sow", &spec.display().to_string(), "--batchsize", "1", "-q"],
        0,
    );
    let workers: Vec<_> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_xyz"))
                .args(["grow", "m", "--worker", "-j", "1"])
                .current_dir(dir.tmp.path())
                .env("XYZ_CACHE_DIR", crate::util::cache_dir())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Once the workers are under way, sow a different crop of that name over theirs.
    let began = Instant::now();
    while std::fs::read_dir(dir.path(".xyz-m/results")).map_or(0, |d| d.count()) < 2 {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "the workers grow"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let spec = mandel_spec(&dir, 20, 25, 10);
    dir.xyz_ok(&["sow", &spec.display().to_string(), "--force", "-q"], 0);
    for w in workers {
        let out = w.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("sown again"), "{err}");
    }
    // The new crop holds nothing of the old: it grows and reaps whole.
    dir.xyz_ok(&["grow", "m", "-q"], 0);
    dir.xyz_ok(&["reap", "m", "-o", "m.zarr", "-q"], 0);
}

#[test]
fn a_dead_writers_leftovers_are_cleared_by_the_next_write() {
    let dir = Dir::new();
    let add = guest("add");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let dead = dir.path(&format!(".d.zarr.xyz-tmp-{host}-999999999-1"));
    std::fs::create_dir_all(dead.join("y")).unwrap();
    let live = dir.path(&format!(".d.zarr.xyz-tmp-{host}-1-1"));
    std::fs::create_dir_all(&live).unwrap();
    dir.xyz_ok(
        &[
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
            "d.zarr",
            "-q",
        ],
        0,
    );
    assert!(!dead.exists(), "a dead process's leftover is cleared");
    assert!(live.exists(), "a live process's is not");
}

#[test]
fn outputs_write_through_links_refuse_devices_and_stream_to_stdout() {
    let dir = Dir::new();
    let add = guest("add");
    let run = [
        "run",
        "--function",
        &add,
        "--combo",
        "a=1,2",
        "--combo",
        "b=1",
        "--constant",
        "c=0",
    ];
    std::fs::write(dir.path("real.csv"), "old").unwrap();
    std::os::unix::fs::symlink("real.csv", dir.path("link.csv")).unwrap();
    dir.xyz_ok(
        &[&run[..], &["-o", "link.csv", "--force", "-q"]].concat(),
        0,
    );
    assert!(
        dir.path("link.csv")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is kept"
    );
    let csv = std::fs::read_to_string(dir.path("real.csv")).unwrap();
    assert!(csv.starts_with("a,b,c,sum,xyz_status,xyz_error\n"), "{csv}");

    for dev in ["/dev/null", "/dev/stdout"] {
        let err = dir.xyz_err(&[&run[..], &["-o", dev, "--force", "--format", "csv"]].concat());
        assert!(err.contains(dev), "{err}");
        assert!(
            Path::new("/dev/null")
                .metadata()
                .unwrap()
                .file_type()
                .is_char_device(),
            "{dev} is untouched"
        );
    }
    let out = dir.xyz_ok(&[&run[..], &["-o", "-"]].concat(), 0);
    assert_eq!(
        stdout(&out),
        "a,b,c,sum,xyz_status,xyz_error\n1.0,1.0,0.0,2.0,0,\n2.0,1.0,0.0,3.0,0,\n"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrote -"), "the summary goes to stderr: {err}");
    let out = dir.xyz_ok(
        &[&run[..], &["-o", "-", "--format", "json", "-q"]].concat(),
        0,
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(2));
}

#[test]
fn a_native_function_may_print_and_fork_without_breaking_or_holding_the_run() {
    let dir = Dir::new();
    let noisy = c_library(
        &dir,
        "noisy",
        r#"
        #include <stdio.h>
        #include <unistd.h>
        __attribute__((constructor)) static void noisy(void) {
            printf("hello from the library\n");
            fflush(stdout);
            if (fork() == 0) { sleep(60); _exit(0); }
        }
        "#,
    )
    .display()
    .to_string();
    let began = Instant::now();
    let out = dir.xyz_ok(
        &[
            "run",
            "--function",
            &noisy,
            "--combo",
            "n=1,2,3,6",
            "-o",
            "-",
            "-q",
        ],
        0,
    );
    assert_eq!(
        stdout(&out),
        "n,steps,peak,odd,xyz_status,xyz_error\n1,0,1,true,0,\n2,1,2,false,0,\n3,7,16,true,0,\n\
         6,8,16,false,0,\n"
    );
    assert!(
        began.elapsed() < Duration::from_secs(30),
        "the forked child held the run for {:?}",
        began.elapsed()
    );
    // And the forked children (copies of `xyz worker LIBRARY`) went with their workers.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = crate::util::pids_with("cmdline", &noisy);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < until, "left running: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn errors_say_each_thing_once() {
    let dir = Dir::new();
    let err = dir.xyz_err(&["run", "nonexistent.toml"]);
    assert_eq!(err.matches("could not read the spec").count(), 1, "{err}");
    dir.write(
        "m.toml",
        &format!(
            "function = \"{}\"\n[constants]\na = 1\nb = 1\nc = 1\n[limits]\nmemory = \"0B\"\n",
            guest("add")
        ),
    );
    let err = dir.xyz_err(&["run", "m.toml"]);
    assert_eq!(err.matches("limits.memory").count(), 1, "{err}");
}

#[test]
fn values_a_float_cannot_hold_are_refused_not_rounded() {
    let dir = Dir::new();
    let add = guest("add");
    for (combo, expected) in [
        ("a={ logspace = [300, 400, 3] }", "more than a float holds"),
        ("a=9007199254740993", "expected f64, found 9007199254740993"),
        ("a=9007199254740993,0.5", "has no exact float"),
    ] {
        // The value came from the command line: a usage error, naming the flag.
        let out = dir.xyz_ok(
            &[
                "run",
                "--function",
                &add,
                "--combo",
                combo,
                "--combo",
                "b=1",
                "--constant",
                "c=0",
            ],
            2,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(expected) && err.contains("--combo"),
            "{combo}: {err}"
        );
    }
}

#[test]
fn string_outputs_are_checked_and_bounded() {
    let dir = Dir::new();
    let strs = crate::util::wat_fixture(&dir, "strings.wat");
    let run = |x: &str, code: i32| {
        let out = dir.xyz_ok(
            &[
                "run",
                "--function",
                &strs,
                "--combo",
                x,
                "-o",
                "-",
                "--memory",
                "1MiB",
            ],
            code,
        );
        (
            stdout(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (out, _) = run("x=1", 0);
    assert_eq!(out, "x,s,t,xyz_status,xyz_error\n1.0,ok,ok,0,\n");
    // Not UTF-8: the case fails, saying so; nothing is replaced by U+FFFD.
    let (out, err) = run("x=-1", 3);
    assert!(err.contains("output `s` is not valid UTF-8"), "{err}");
    assert!(!out.contains('\u{fffd}'), "{out}");
    // Two outputs each spanning the whole memory: the host copies no more than it holds.
    let (_, err) = run("x=5000", 3);
    assert!(err.contains("more bytes than its"), "{err}");
}

#[test]
fn sizes_are_checked_before_anything_is_allocated() {
    let dir = Dir::new();
    let add = guest("add");
    for n in ["100000", "1000000"] {
        let a = format!("a={{ range = [0, {n}, 1] }}");
        let b = format!("b={{ range = [0, {n}, 1] }}");
        for cmd in ["run", "sow"] {
            let err = dir.xyz_err(
                &[
                    cmd,
                    "--function",
                    &add,
                    "--combo",
                    &a,
                    "--combo",
                    &b,
                    "--constant",
                    "c=0",
                    "--name",
                    "big",
                ][..if cmd == "run" { 9 } else { 11 }],
            );
            assert!(err.contains("more than the 4294967296"), "{cmd} {n}: {err}");
        }
    }
    assert!(
        !dir.path(".xyz-big").exists(),
        "a failed sow leaves nothing"
    );
    // An output whose extra dims hold more than the host will take, or overflow.
    for dims in ["t=4294967295", "t=65536, k=65536, j=65536"] {
        // The signature moved to where a longer text has room.
        let module = affine_variant(&dir, "huge", |t| {
            t.replace(
                "(data (i32.const 16) \"affine(x: f64) -> (y: f64)\\00\")",
                &format!("(data (i32.const 512) \"affine(x: f64) -> (y: f64[{dims}])\\00\")"),
            )
            .replace(
                "(func (export \"xyz_signature\") (result i32) (i32.const 16))",
                "(func (export \"xyz_signature\") (result i32) (i32.const 512))",
            )
        });
        let err = dir.xyz_err(&["inspect", &module]);
        assert!(err.contains("more values per case"), "{dims}: {err}");
    }
}
