//! Native libraries: the same examples built as `.so`, run isolated by default or in-process,
//! giving the datasets their WebAssembly builds give.

use std::path::Path;

use crate::util::{Dir, guest, stdout, tree};

fn native(name: &str) -> String {
    xyz_tests::native_guest(name).display().to_string()
}

/// Every file of a Zarr store, with the function's sha256 (which differs between a module
/// and a library of the same source) blanked out.
fn store_without_provenance(path: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    tree(path)
        .into_iter()
        .map(|(p, bytes)| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let Some(at) = text.find("\"xyz_function_sha256\": \"") else {
                return (p, bytes);
            };
            let start = at + "\"xyz_function_sha256\": \"".len();
            let end = start + text[start..].find('"').expect("a closing quote");
            let blanked = format!("{}{}", &text[..start], &text[end..]);
            (p, blanked.into_bytes())
        })
        .collect()
}

#[test]
fn every_example_gives_the_same_dataset_as_a_module_and_as_a_library() {
    let dir = Dir::new();
    let c = "--combo";
    let sweeps: [(&str, &[&str]); 5] = [
        (
            "add",
            &[
                c,
                "a=[0.5, 1, 1e300]",
                c,
                "b={ linspace = [-1, 1, 7] }",
                c,
                "c=[0]",
            ],
        ),
        (
            "stats",
            &[c, "x={ logspace = [-3, 3, 13] }", c, "n=[-2, 1, 7]"],
        ),
        ("ramp", &[c, "a=[-1.5, 0, 2]", c, "b=[0.25, 4]"]),
        (
            "mandel",
            &[
                c,
                "y={ linspace = [-1.2, 1.2, 31] }",
                c,
                "x={ linspace = [-2, 0.5, 37] }",
                "--constant",
                "maxiter=250",
            ],
        ),
        (
            "classify",
            &[
                c,
                "x=[-1, 0, 2.5]",
                c,
                "label=[\"a\", \"é,b\", \"\"]",
                c,
                "flag=[true, false]",
            ],
        ),
    ];
    for (name, combos) in sweeps {
        for (kind, function) in [("wasm", guest(name)), ("so", native(name))] {
            let out = format!("{name}-{kind}.zarr");
            let mut args = vec![
                "run",
                "--function",
                function.as_str(),
                "-o",
                out.as_str(),
                "-q",
            ];
            args.extend(combos.iter().copied());
            dir.xyz_ok(&args, 0);
        }
        let (wasm, so) = (
            dir.path(&format!("{name}-wasm.zarr")),
            dir.path(&format!("{name}-so.zarr")),
        );
        assert_eq!(
            store_without_provenance(&wasm),
            store_without_provenance(&so),
            "{name}"
        );
        assert_ne!(tree(&wasm), tree(&so), "the provenance names each build");
    }
    xyz_tests::python("check.py", &[&"mandel", &dir.path("mandel-so.zarr")]);
}

#[test]
fn a_crash_in_a_library_fails_only_its_cases() {
    let dir = Dir::new();
    let out = dir.xyz_ok(
        &[
            "run",
            "--function",
            &native("faulty"),
            "--combo",
            "mode=ok,err,panic,abort,loop,alloc",
            "--combo",
            "x=[1.0, 2.0]",
            "--deadline",
            "3s",
            "--memory",
            "64MiB",
            "-j",
            "2",
            "--json",
            "-o",
            "f.zarr",
        ],
        3,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["ok"].as_u64(), v["failed"].as_u64()),
        (Some(2), Some(10))
    );
    let failures = v["failures"].as_array().unwrap();
    let kinds: Vec<&str> = failures
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "error", "error", "panic", "panic", "trap", "trap", "deadline", "deadline", "memory",
            "memory"
        ]
    );
    let abort = failures[4]["message"].as_str().unwrap();
    assert!(abort.contains("the worker process failed"), "{abort}");
    assert!(abort.contains("SIGABRT"), "{abort}");
    assert_eq!(failures[4]["args"]["mode"], "abort");
    let mem = failures[8]["message"].as_str().unwrap();
    assert!(mem.contains("memory allocation of"), "{mem}");
    xyz_tests::python("check.py", &[&"faulty", &dir.path("f.zarr")]);
}

#[test]
fn a_library_runs_in_process_when_asked_and_says_what_that_gives_up() {
    let dir = Dir::new();
    let lib = native("add");
    let args = [
        "run",
        "--function",
        &lib,
        "--combo",
        "a=1,2",
        "--combo",
        "b=3",
        "--constant",
        "c=0",
    ];
    let mut inproc = args.to_vec();
    inproc.extend(["--no-isolate", "-o", "a.csv"]);
    dir.xyz_ok(&inproc, 0);
    let csv = std::fs::read_to_string(dir.path("a.csv")).unwrap();
    assert_eq!(
        csv,
        "a,b,c,sum,xyz_status,xyz_error\n1.0,3.0,0.0,4.0,0,\n2.0,3.0,0.0,5.0,0,\n"
    );
    let mut timed = args.to_vec();
    timed.extend(["--no-isolate", "--deadline", "1s", "-o", "b.csv"]);
    let err = dir.xyz_err(&timed);
    assert!(
        err.contains("--deadline and --memory need worker processes for a native library"),
        "{err}"
    );
    let info = stdout(&dir.xyz_ok(&["inspect", &lib], 0));
    assert!(info.contains("native library"), "{info}");
    assert!(
        info.contains("add(a: f64, b: f64, c: f64) -> (sum: f64)"),
        "{info}"
    );
}

#[test]
fn libraries_that_are_not_xyz_functions_are_refused_naming_the_problem() {
    let dir = Dir::new();
    let libm = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("libm is on every Debian machine");
    let err = dir.xyz_err(&["inspect", libm]);
    assert!(
        err.contains("libm.so.6: does not export `xyz_abi_version`, so it is not an xyz function"),
        "{err}"
    );
    // A library claiming another ABI version, built here with the system C compiler.
    let src = xyz_tests::fixture("wrong_abi.c");
    let so = dir.path("libwrong.so");
    let cc = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .expect("cc runs");
    assert!(cc.success());
    let err = dir.xyz_err(&["inspect", so.to_str().unwrap()]);
    assert!(
        err.contains("libwrong.so: implements xyz ABI version 7, but this xyz speaks version 1"),
        "{err}"
    );
    let truncated = dir.write("libcut.so", "\x7fELF and nothing else");
    let err = dir.xyz_err(&[
        "run",
        "--function",
        truncated.to_str().unwrap(),
        "--combo",
        "a=1",
    ]);
    assert!(
        err.contains("libcut.so: could not load the library"),
        "{err}"
    );
}

/// A function written in C against include/xyz.h alone, built by clang to wasm32 and to a
/// native library, gives one dataset both ways, its failed cases included.
#[test]
fn a_c_example_runs_as_a_module_and_as_a_library() {
    let dir = Dir::new();
    let (wasm, so) = xyz_tests::c_guest("collatz");
    let mut outs = Vec::new();
    for (kind, function) in [("wasm", &wasm), ("so", &so)] {
        let out = format!("collatz-{kind}.csv");
        let run = dir.xyz_ok(
            &[
                "run",
                "--function",
                function.to_str().unwrap(),
                "--combo",
                "n={ range = [-3, 3000, 1] }",
                "-j",
                "2",
                "--json",
                "-o",
                &out,
            ],
            3,
        );
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(
            (v["ok"].as_u64(), v["failed"].as_u64()),
            (Some(2999), Some(4))
        );
        assert_eq!(v["failures"][0]["message"], "n must be at least 1");
        assert_eq!(v["failures"][3]["args"]["n"], 0);
        outs.push(std::fs::read_to_string(dir.path(&out)).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    let rows: Vec<&str> = outs[0].lines().collect();
    assert_eq!(rows[0], "n,steps,peak,odd,xyz_status,xyz_error");
    assert_eq!(rows[1], "-3,,,,1,error: n must be at least 1");
    // 27 takes 111 steps and climbs to 9232.
    assert_eq!(rows[27 + 4], "27,111,9232,true,0,");
}

#[test]
fn a_crop_of_a_library_reaps_to_what_the_module_gives() {
    let dir = Dir::new();
    let spec = |function: String| {
        format!(
            "function = \"{function}\"\n[combos]\ny = {{ linspace = [-1, 1, 9] }}\n\
             x = {{ linspace = [-2, 0.5, 11] }}\n[constants]\nmaxiter = 100\n"
        )
    };
    let lib_spec = dir.write("m.toml", &spec(native("mandel")));
    let wasm_spec = dir.write("w.toml", &spec(guest("mandel")));
    dir.xyz_ok(
        &["sow", lib_spec.to_str().unwrap(), "--batchsize", "7", "-q"],
        0,
    );
    assert!(dir.path(".xyz-m/function.so").is_file());
    dir.xyz_ok(&["grow", "m", "-j", "2", "-q"], 0);
    dir.xyz_ok(&["reap", "m", "-o", "crop.zarr", "-q"], 0);
    dir.xyz_ok(
        &["run", wasm_spec.to_str().unwrap(), "-o", "run.zarr", "-q"],
        0,
    );
    assert_eq!(
        store_without_provenance(&dir.path("crop.zarr")),
        store_without_provenance(&dir.path("run.zarr"))
    );
}
