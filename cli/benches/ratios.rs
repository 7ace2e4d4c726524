//! Prints xyz's speed as ratios against a native baseline, with the targets they are held to.
//!
//! `cargo bench -p xyz-cli --bench ratios` (or `./scripts/bench.sh`). Each figure is the best of
//! several runs of a whole sweep, after a warm-up run; the median is printed beside it.

mod common;

use std::time::{Duration, Instant};

use xyz_core::{
    CaseSet, Column, Dataset, Executor, Format, Function, RayonPool, Runner, Sequential,
};

const RUNS: usize = 7;

/// Best and median wall time of `RUNS` runs of `f`, after one warm-up run.
fn time(mut f: impl FnMut()) -> (Duration, Duration) {
    f();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let began = Instant::now();
            f();
            began.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[RUNS / 2])
}

/// Times a whole mandel sweep of `f` on `exec`, checking it against the native result.
fn mandel(f: &dyn Function, exec: &dyn Executor, expect: &[i64]) -> (Duration, Duration) {
    let space = common::mandel_space(f);
    time(|| {
        let out = Runner::new(f, exec).run(&space).expect("the sweep runs");
        let Column::I64(n) = &out.dataset.vars[0].data else {
            panic!("mandel's n is i64")
        };
        assert!(n == expect, "the WebAssembly and native results differ");
    })
}

/// Checks that xyz's output `written` holds the data of the floor's store at `floor_out`.
fn same_data(written: &Dataset, floor_out: &std::path::Path) {
    let floor = xyz_core::output::read_zarr(floor_out).expect("the floor reads back");
    assert!(
        written.vars == floor.vars && written.cells == floor.cells,
        "xyz and the floor wrote different data"
    );
}

/// The header of a table of `xyz run` against its native floor, and the floor's row.
fn floor_header(title: &str, floor: (Duration, Duration)) {
    println!(
        "{title:<46} {:>12} {:>12}  ratio    target",
        "best", "median"
    );
    row("floor: native loop, same writer, synced", floor, None);
}

fn row(what: &str, (best, median): (Duration, Duration), ratio: Option<(f64, &str)>) {
    let ratio = match ratio {
        Some((r, target)) => format!("{r:>7.3}  {target}"),
        None => String::new(),
    };
    println!(
        "{what:<46} {:>9.1} ms {:>9.1} ms  {ratio}",
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "xyz {} · {cores} logical cores · best and median of {RUNS} runs",
        env!("CARGO_PKG_VERSION")
    );
    println!();
    println!(
        "{:<46} {:>12} {:>12}  ratio    target",
        "mandel 400x400, maxiter 1000", "best", "median"
    );

    let expect = common::mandel_native();
    let native = time(|| {
        std::hint::black_box(common::mandel_native());
    });
    row("native Rust loop, 1 thread", native, None);
    let vs_native = |t: (Duration, Duration)| t.0.as_secs_f64() / native.0.as_secs_f64();

    let off = common::in_process("mandel", None);
    let off_1 = mandel(&off, &Sequential, &expect);
    row(
        "wasm, no deadline, 1 thread",
        off_1,
        Some((vs_native(off_1), "<= 1.05 vs native")),
    );

    let workers = common::in_workers("mandel");
    let proc_1 = mandel(&workers, &Sequential, &expect);
    row(
        "wasm, deadline by worker process, 1 thread",
        proc_1,
        Some((vs_native(proc_1), "<= 1.25 vs native")),
    );

    let epoch = common::in_process("mandel", Some(common::DEADLINE));
    let epoch_1 = mandel(&epoch, &Sequential, &expect);
    row(
        "wasm, deadline by epoch checks, 1 thread",
        epoch_1,
        Some((vs_native(epoch_1), "(reported) vs native")),
    );

    let lib = common::native("mandel");
    let lib_1 = mandel(&lib, &Sequential, &expect);
    row(
        "native library, in-process, 1 thread",
        lib_1,
        Some((vs_native(lib_1), "(reported) vs native")),
    );
    let lib_workers = common::native_in_workers("mandel");
    let lib_proc_1 = mandel(&lib_workers, &Sequential, &expect);
    row(
        "native library, worker process, 1 thread",
        lib_proc_1,
        Some((vs_native(lib_proc_1), "(reported) vs native")),
    );

    let pool = RayonPool::new(2).expect("a pool of 2");
    let off_2 = mandel(&off, &pool, &expect);
    let speedup = |one: (Duration, Duration), two: (Duration, Duration)| {
        one.0.as_secs_f64() / two.0.as_secs_f64()
    };
    row(
        "wasm, no deadline, 2 threads",
        off_2,
        Some((speedup(off_1, off_2), ">= 1.8 speed-up vs 1 thread")),
    );
    let proc_2 = mandel(&workers, &pool, &expect);
    row(
        "wasm, deadline by worker process, 2 threads",
        proc_2,
        Some((speedup(proc_1, proc_2), ">= 1.8 speed-up vs 1 thread")),
    );

    println!();
    let add = common::in_process("add", None);
    let space = common::add_space(&add, 2000);
    let cases = space.len() as f64;
    println!(
        "{:<46} {:>12} {:>12}  ns/eval/core",
        format!("add over {} cases", space.len()),
        "best",
        "median"
    );
    // The floor: the same sums in a plain Rust loop over prepared columns.
    let (a, b): (Vec<f64>, Vec<f64>) = (0..space.len())
        .map(|i| ((i / 1000) as f64, (i % 1000) as f64 * 0.5))
        .unzip();
    let t = time(|| {
        let sums: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(x, y)| std::hint::black_box(*x) + y)
            .collect();
        std::hint::black_box(sums);
    });
    row(
        "inline Rust loop, 1 thread",
        t,
        Some((t.0.as_secs_f64() * 1e9 / cases, "(reported)")),
    );
    let lib_add = common::native("add");
    let closure =
        xyz_core::ClosureFunction::new(xyz_core::Function::signature(&add).clone(), |args| {
            match args {
                [xyz_core::Value::F64(a), xyz_core::Value::F64(b), _] => {
                    Ok(vec![xyz_core::Value::F64(a + b)])
                }
                _ => Err("unexpected arguments".into()),
            }
        });
    let runs: [(&str, &dyn Function, &dyn Executor, f64, &str); 5] = [
        (
            "wasm in-process, no deadline, 1 thread",
            &add,
            &Sequential,
            1.0,
            "<= 30 ns",
        ),
        (
            "wasm in-process, no deadline, 2 threads",
            &add,
            &pool,
            2.0,
            "<= 30 ns",
        ),
        (
            "native library, in-process, 1 thread",
            &lib_add,
            &Sequential,
            1.0,
            "(reported)",
        ),
        (
            "Rust closure (ClosureFunction), 1 thread",
            &closure,
            &Sequential,
            1.0,
            "(reported)",
        ),
        (
            "wasm, worker process, 1 thread",
            &common::in_workers("add"),
            &Sequential,
            1.0,
            "(reported)",
        ),
    ];
    for (what, f, exec, threads, target) in runs {
        let t = time(|| {
            let out = Runner::new(f, exec).run(&space).expect("the sweep runs");
            assert_eq!(out.dataset.counts().0 as f64, cases);
        });
        let ns = t.0.as_secs_f64() * 1e9 * threads / cases;
        row(what, t, Some((ns, target)));
    }

    run_path(&add);
    mandel_run_path();
}

/// `xyz run` of `add` over 10^7 cases into Zarr, the whole process, against its floor: a native
/// loop that computes the same sums and writes and syncs the same dataset, through the same
/// writer. The ratio is what xyz adds: its start, the module, the workers and the runner.
fn run_path(add: &dyn Function) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = dir.path().join("add.toml");
    let module = xyz_tests::guest("add");
    std::fs::write(
        &spec,
        format!(
            "function = {:?}\n[combos]\na = {{ range = [0, 10000, 1] }}\n\
             b = {{ range = [0, 1000, 1] }}\n[constants]\nc = 0\n",
            module.display()
        ),
    )
    .expect("the spec is written");
    let out = dir.path().join("out.zarr");
    let xyz = |extra: &[&str]| {
        time(|| {
            let status = std::process::Command::new(env!("CARGO_BIN_EXE_xyz"))
                .arg("run")
                .arg(&spec)
                .arg("-o")
                .arg(&out)
                .args(["-q", "--force"])
                .args(extra)
                .env("XYZ_CACHE_DIR", common::cache_dir())
                .status()
                .expect("xyz starts");
            assert!(status.success(), "xyz run fails");
        })
    };
    let isolated = xyz(&[]);
    let in_process = xyz(&["--no-isolate"]);
    let written = xyz_core::output::read_zarr(&out).expect("xyz's output reads back");

    let mut space = xyz_core::ParamSpace::new();
    space
        .combo("a", range(10000))
        .combo("b", range(1000))
        .constant("c", xyz_core::Value::F64(0.0));
    let space = space.bind(add.signature()).expect("the space binds");
    let floor_out = dir.path().join("floor.zarr");
    let floor = time(|| {
        let n = space.len();
        let sums: Vec<f64> = (0..n)
            .map(|i| std::hint::black_box((i / 1000) as f64) + (i % 1000) as f64)
            .collect();
        let mut dataset = Dataset::empty(&space, add.signature(), add.sha256());
        dataset.store_cases(&space, CaseSet::Range(0, n), &[Column::F64(sums)], &[]);
        xyz_core::output::write(&dataset, &floor_out, Format::Zarr, true)
            .expect("the floor writes");
    });
    same_data(&written, &floor_out);

    println!();
    floor_header(
        &format!("xyz run add, {} cases, to Zarr", space.len()),
        floor,
    );
    let vs_floor = |t: (Duration, Duration)| t.0.as_secs_f64() / floor.0.as_secs_f64();
    row(
        "xyz run (worker processes, default deadline)",
        isolated,
        Some((vs_floor(isolated), "<= 1.2 vs floor")),
    );
    row(
        "xyz run --no-isolate",
        in_process,
        Some((vs_floor(in_process), "(reported) vs floor")),
    );
}

/// Best and median of `runs` runs of `f` (no warm-up: each takes seconds).
fn time_few(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let began = Instant::now();
            f();
            began.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[runs / 2])
}

/// `xyz run` of mandel over 3163 x 3162 (10^7 cells, maxiter 1000) into Zarr with the default
/// deadline (worker processes) on every core, against its floor: the example's Rust function
/// called natively on as many threads, its values written and synced through the same writer.
/// The dataset is written a window at a time as the cases are done.
fn mandel_run_path() {
    const RUNS: usize = 3;
    let (ny, nx) = (3163u64, 3162u64);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let spec = dir.path().join("mandel.toml");
    std::fs::write(
        &spec,
        format!(
            "function = {:?}\n[combos]\ny = {{ linspace = [-1.25, 1.25, {ny}] }}\n\
             x = {{ linspace = [-2.0, 0.5, {nx}] }}\n[constants]\nmaxiter = 1000\n",
            xyz_tests::guest("mandel").display()
        ),
    )
    .expect("the spec is written");
    let out = dir.path().join("out.zarr");
    let xyz = time_few(RUNS, || {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_xyz"))
            .arg("run")
            .arg(&spec)
            .arg("-o")
            .arg(&out)
            .args(["-q", "--force"])
            .env("XYZ_CACHE_DIR", common::cache_dir())
            .status()
            .expect("xyz starts");
        assert!(status.success(), "xyz run fails");
    });
    let written = xyz_core::output::read_zarr(&out).expect("xyz's output reads back");

    let f = common::in_process("mandel", None);
    let mut space = xyz_core::ParamSpace::new();
    let lin = |start, stop, num| xyz_core::ComboValues::Linspace { start, stop, num };
    space
        .combo("y", lin(-1.25, 1.25, ny))
        .combo("x", lin(-2.0, 0.5, nx))
        .constant("maxiter", xyz_core::Value::I64(1000));
    let space = space.bind(f.signature()).expect("the space binds");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let floor_out = dir.path().join("floor.zarr");
    let floor = time_few(RUNS, || {
        let ys: Vec<f64> = xyz_core::combo::linspace(-1.25, 1.25, ny).collect();
        let xs: Vec<f64> = xyz_core::combo::linspace(-2.0, 0.5, nx).collect();
        let mut n = vec![0i64; ys.len() * xs.len()];
        let rows = ys.len().div_ceil(threads);
        std::thread::scope(|scope| {
            for (part, ys) in n.chunks_mut(rows * xs.len()).zip(ys.chunks(rows)) {
                let xs = &xs;
                scope.spawn(move || {
                    for (row, &y) in part.chunks_mut(xs.len()).zip(ys) {
                        for (cell, &x) in row.iter_mut().zip(xs) {
                            *cell = example_mandel::mandel(x, y, 1000);
                        }
                    }
                });
            }
        });
        let cells = space.len();
        let mut dataset = Dataset::empty(&space, f.signature(), f.sha256());
        dataset.store_cases(&space, CaseSet::Range(0, cells), &[Column::I64(n)], &[]);
        xyz_core::output::write(&dataset, &floor_out, Format::Zarr, true)
            .expect("the floor writes");
    });
    same_data(&written, &floor_out);
    println!();
    floor_header(
        &format!("xyz run mandel {ny}x{nx}, to Zarr, {threads} threads"),
        floor,
    );
    row(
        "xyz run (worker processes, default deadline)",
        xyz,
        Some((
            xyz.0.as_secs_f64() / floor.0.as_secs_f64(),
            "<= 1.10 vs floor",
        )),
    );
}

/// `0, 1, …, stop - 1`, as a spec's `{ range = [0, stop, 1] }`.
fn range(stop: i64) -> xyz_core::ComboValues {
    use xyz_core::Value::I64;
    xyz_core::ComboValues::Range {
        start: I64(0),
        stop: I64(stop),
        step: I64(1),
    }
}
