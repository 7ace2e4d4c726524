//! `xyz run` of a sweep bigger than the memory it takes: written to Zarr a window at a time as
//! the cases are done, read back by xarray; and interrupted, it leaves the output that was
//! there.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Dir, cache_dir, guest, stdout, tree};

/// `xyz ARGS` in `dir`, run by Python so that the peak resident memory of xyz alone can be
/// read (`RUSAGE_CHILDREN` of a process whose only child it is); gives it in bytes.
fn peak_rss_of(dir: &Dir, args: &[&str]) -> u64 {
    let script = "import resource, subprocess, sys\n\
                  subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n\
                  print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_xyz"))
        .args(args)
        .current_dir(dir.tmp.path())
        .env("XYZ_CACHE_DIR", cache_dir())
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "xyz {args:?}: {out:?}");
    let kib: u64 = stdout(&out).trim().parse().expect("a number of KiB");
    kib * 1024
}

#[test]
fn a_run_streams_values_four_times_its_peak_memory_to_zarr_and_netcdf() {
    let dir = Dir::new();
    let ramp = guest("ramp");
    // 10^7 cells of five f64 each: 400 MB of values.
    let values: u64 = 10_000 * 1_000 * 5 * 8;
    for (out, open) in [
        ("r.zarr", "xr.open_zarr('r.zarr')"),
        // netCDF goes through a spill beside the file, which is gone after.
        (
            "r.nc",
            "xr.open_dataset('r.nc', engine='netcdf4', chunks={'a': 1000})",
        ),
    ] {
        let peak = peak_rss_of(
            &dir,
            &[
                "run",
                "--function",
                &ramp,
                "--combo",
                "a={ range = [0, 10000] }",
                "--combo",
                "b={ range = [0, 1000] }",
                "-o",
                out,
                "-q",
            ],
        );
        assert!(
            values >= 4 * peak,
            "{out}: {values} bytes of values, peak RSS {peak} bytes: {:.1}x",
            values as f64 / peak as f64
        );
        let left: Vec<String> = std::fs::read_dir(dir.tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{out} left {left:?}");
        // What was written is the whole dataset, every cell there and right: read by xarray a
        // chunk at a time (dask).
        let check = format!(
            "import xarray as xr\n\
             ds = {open}\n\
             assert dict(ds.sizes) == {{'a': 10000, 'b': 1000, 't': 5}}, ds.sizes\n\
             assert int((ds.xyz_status != 0).sum()) == 0\n\
             assert bool((ds.y == ds.a * ds.t + ds.b).all())\n\
             print('ok')"
        );
        let out = Command::new("python3")
            .args(["-c", &check])
            .current_dir(dir.tmp.path())
            .output()
            .expect("python3 runs");
        assert_eq!(stdout(&out).trim(), "ok", "{out:?}");
    }
}

#[test]
fn a_merge_into_a_store_streams_values_four_times_its_peak_memory() {
    let dir = Dir::new();
    let ramp = guest("ramp");
    let sweep = |a: &str| {
        vec![
            "run".to_string(),
            "--function".into(),
            ramp.clone(),
            "--combo".into(),
            format!("a={{ range = {a} }}"),
            "--combo".into(),
            "b={ range = [0, 1000] }".into(),
            "-q".into(),
        ]
    };
    let mut first = sweep("[0, 10000]");
    first.extend(["-o".into(), "r.zarr".into()]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    dir.xyz_ok(&first, 0);
    // 10^7 more cells, interleaved with those there along `a`: 800 MB of values merged.
    let mut more = sweep("[5000, 15000]");
    more.extend(["--into".into(), "r.zarr".into(), "--recompute".into()]);
    let more: Vec<&str> = more.iter().map(String::as_str).collect();
    let peak = peak_rss_of(&dir, &more);
    let values: u64 = 15_000 * 1_000 * 5 * 8;
    assert!(
        values >= 4 * peak,
        "{values} bytes of values, peak RSS {peak} bytes: {:.1}x",
        values as f64 / peak as f64
    );
    let check = "import xarray as xr\n\
                 ds = xr.open_zarr('r.zarr')\n\
                 assert dict(ds.sizes) == {'a': 15000, 'b': 1000, 't': 5}, ds.sizes\n\
                 assert int((ds.xyz_status != 0).sum()) == 0\n\
                 assert bool((ds.y == ds.a * ds.t + ds.b).all())\n\
                 assert list(ds.a.values[:3]) == [0, 1, 2] and int(ds.a[-1]) == 14999\n\
                 print('ok')";
    let out = Command::new("python3")
        .args(["-c", check])
        .current_dir(dir.tmp.path())
        .output()
        .expect("python3 runs");
    assert_eq!(stdout(&out).trim(), "ok", "{out:?}");
}

#[test]
fn an_interrupted_run_leaves_the_output_that_was_there() {
    for (out, over) in [
        ("o.zarr", ["-o", "--force"]),
        ("o.nc", ["-o", "--force"]),
        // A merge written a window at a time.
        ("o.zarr", ["--into", "--recompute"]),
    ] {
        interrupted_run_leaves_the_output_that_was_there(out, over);
    }
}

/// A run to `out` over what is there (`OPTION out FLAG`, as `over` says), stopped by a signal
/// partway.
fn interrupted_run_leaves_the_output_that_was_there(out: &str, over: [&str; 2]) {
    let dir = Dir::new();
    let add = guest("add");
    dir.xyz_ok(
        &[
            "run",
            "--function",
            &add,
            "--combo",
            "a=1,2",
            "--combo",
            "b=3",
            "--constant",
            "c=0",
            "-o",
            out,
            "-q",
        ],
        0,
    );
    let before = tree(&dir.path(out));
    for signal in ["TERM", "INT"] {
        // A long run over it, stopped once it has written part of the new store.
        let mut child = Command::new(env!("CARGO_BIN_EXE_xyz"))
            .args([
                "run",
                "--function",
                &add,
                "--combo",
                "a={ range = [0, 100000] }",
                "--combo",
                "b={ range = [0, 10000] }",
                "--constant",
                "c=0",
                over[0],
                out,
                over[1],
                "-q",
            ])
            .current_dir(dir.tmp.path())
            .env("XYZ_CACHE_DIR", cache_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        // The new store takes shape beside the old one.
        while !std::fs::read_dir(dir.tmp.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().contains("xyz-tmp"))
        {
            assert!(start.elapsed() < Duration::from_secs(60), "never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500));
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "SIG{signal} did not stop the run"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let stopped = child.wait_with_output().unwrap();
        let code = if signal == "TERM" { 143 } else { 130 };
        assert_eq!(stopped.status.code(), Some(code), "{stopped:?}");
        assert!(
            String::from_utf8_lossy(&stopped.stderr).contains(&format!(
                "stopped by SIG{signal}: nothing was written, what was there is left"
            )),
            "{stopped:?}"
        );
        assert_eq!(
            tree(&dir.path(out)),
            before,
            "SIG{signal}: the old {out} changed"
        );
        // Nothing half-written is left beside it.
        let left: Vec<String> = std::fs::read_dir(dir.tmp.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("xyz-tmp"))
            .collect();
        assert!(left.is_empty(), "SIG{signal} left {left:?} beside {out}");
    }
}

#[test]
fn a_crop_with_long_dims_packs_them_in_its_manifest_bit_for_bit() {
    let dir = Dir::new();
    let add = guest("add");
    // 5000 floats that are not short decimals, then 5000 integers: packed; each beside a
    // short list, before or after it, whose place among the dims must be kept.
    let sweeps: [(&str, [&str; 6]); 2] = [
        (
            "floats",
            [
                "--combo",
                "a={ linspace = [0, 0.3, 5000] }",
                "--constant",
                "b=1",
                "--combo",
                "c=0.1,0.2",
            ],
        ),
        (
            "ints",
            [
                "--combo",
                "c=0.1,0.2",
                "--combo",
                "b={ range = [-2500, 2500] }",
                "--constant",
                "a=1",
            ],
        ),
    ];
    for (name, sweep) in sweeps {
        let mut sow = vec!["sow", "--function", &add, "--name", name, "-q"];
        sow.extend(sweep);
        dir.xyz_ok(&sow, 0);
        let path = dir.path(&format!(".xyz-{name}/manifest.toml"));
        let manifest = std::fs::read_to_string(&path).unwrap();
        assert!(manifest.contains("format = 2"), "{}", &manifest[..400]);
        let key = if name == "floats" {
            "a]\nf64le"
        } else {
            "b]\ni64le"
        };
        assert!(
            manifest.contains(&format!("[space.combos.{key} = \"")),
            "{name} packed"
        );
        assert!(manifest.contains("c = [0.1, 0.2]"), "c listed");
        assert!(manifest.len() < 100_000, "{} bytes", manifest.len());
        dir.xyz_ok(&["grow", name, "-q"], 0);
        let crop = format!("{name}-crop.zarr");
        dir.xyz_ok(&["reap", name, "--keep", "-o", &crop, "-q"], 0);
        let run_out = format!("{name}-run.zarr");
        let mut run = vec!["run", "--function", &add, "-o", &run_out, "-q"];
        run.extend(sweep);
        dir.xyz_ok(&run, 0);
        assert!(
            tree(&dir.path(&crop)) == tree(&dir.path(&run_out)),
            "{name}: the crop's dataset is not the run's, bit for bit"
        );
        // A packed list edited by hand is caught, as any edit is.
        let edited = manifest.replacen("le = \"", "le = \"AAAAAAAAAAA", 1);
        std::fs::write(&path, edited).unwrap();
        let err = dir.xyz_err(&["status", name]);
        assert!(err.contains("edited after sow"), "{err}");
    }
    // A crop of short lists keeps format 1, which xyz of before packing reads.
    dir.xyz_ok(
        &[
            "sow",
            "--function",
            &add,
            "--name",
            "short",
            "-q",
            "--combo",
            "a=1,2",
            "--combo",
            "b=3",
            "--constant",
            "c=0",
        ],
        0,
    );
    let manifest = std::fs::read_to_string(dir.path(".xyz-short/manifest.toml")).unwrap();
    assert!(manifest.contains("format = 1") && !manifest.contains("combo_order"));
}

#[test]
fn csv_and_json_written_a_window_at_a_time_are_those_written_whole() {
    let dir = Dir::new();
    let (ramp, faulty) = (guest("ramp"), guest("faulty"));
    // 200 000 cells of five values: several windows; and failed cases.
    let sweeps: [Vec<&str>; 2] = [
        vec![
            "--function",
            &ramp,
            "--combo",
            "a={ range = [0, 400] }",
            "--combo",
            "b={ linspace = [0, 1, 500] }",
        ],
        vec![
            "--function",
            &faulty,
            "--combo",
            "mode=ok,err",
            "--combo",
            "x={ linspace = [0, 1, 7] }",
        ],
    ];
    for (i, sweep) in sweeps.iter().enumerate() {
        for format in ["csv", "json"] {
            let file = format!("{i}.{format}");
            let mut to_file = vec!["run", "-q", "-o", &file];
            to_file.extend(sweep);
            let code = if i == 1 { 3 } else { 0 };
            dir.xyz_ok(&to_file, code);
            // To standard output a dataset is written whole.
            let mut to_stdout = vec!["run", "-q", "-o", "-", "--format", format];
            to_stdout.extend(sweep);
            let whole = dir.xyz_ok(&to_stdout, code).stdout;
            let windowed = std::fs::read(dir.path(&file)).unwrap();
            assert!(
                windowed == whole,
                "{file} differs from the same written whole"
            );
        }
    }
}
