//! What the benches share: the functions and spaces they measure, each built the way `xyz run`
//! builds it.

#![allow(dead_code, reason = "each bench uses a part")]

use std::time::Duration;

use xyz::wasm::{WasmConfig, WasmFunction};
use xyz_core::{BoundSpace, ComboValues, Function, ParamSpace, ProcessFunction, Value};

/// The deadline of the benches that enforce one: `xyz run`'s default.
pub const DEADLINE: Duration = xyz::wasm::DEFAULT_DEADLINE;

/// A cache directory of the benches' own, so they measure warm loads.
pub fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-module-cache")
}

/// Example `name` in this process, with `deadline` enforced by epoch checks (or none).
pub fn in_process(name: &str, deadline: Option<Duration>) -> WasmFunction {
    let mut config = WasmConfig::new();
    config.deadline(deadline).cache_dir(Some(cache_dir()));
    WasmFunction::load(&xyz_tests::guest(name), &config).expect("the example loads")
}

/// Example `name` as a native library, loaded into this process.
pub fn native(name: &str) -> xyz::native::NativeFunction {
    xyz::native::NativeFunction::load(&xyz_tests::native_guest(name)).expect("the library loads")
}

/// Example `name`'s native library in `xyz worker` processes killed at [`DEADLINE`].
pub fn native_in_workers(name: &str) -> ProcessFunction {
    let lib = native(name);
    ProcessFunction::start(
        env!("CARGO_BIN_EXE_xyz"),
        [
            "worker".into(),
            xyz_tests::native_guest(name).into_os_string(),
        ] as [std::ffi::OsString; 2],
        xyz_core::WorkerSpec::new(
            Some(lib.signature().clone()),
            lib.sha256().map(str::to_string),
            Some(DEADLINE),
        ),
    )
    .expect("the workers start")
}

/// Example `name` in `xyz worker` processes killed at [`DEADLINE`].
pub fn in_workers(name: &str) -> ProcessFunction {
    let wasm = in_process(name, None);
    let module = xyz_tests::guest(name);
    ProcessFunction::start(
        env!("CARGO_BIN_EXE_xyz"),
        [
            "worker".into(),
            module.into_os_string(),
            "--cache-dir".into(),
            cache_dir().into_os_string(),
        ] as [std::ffi::OsString; 4],
        xyz_core::WorkerSpec::new(
            Some(wasm.signature().clone()),
            Some(wasm.info().sha256.clone()),
            Some(DEADLINE),
        ),
    )
    .expect("the workers start")
}

/// The grid of `wasm-examples/mandel/mandel.toml`: y and x over 400 points each.
pub const MANDEL_Y: (f64, f64) = (-1.25, 1.25);
/// See [`MANDEL_Y`].
pub const MANDEL_X: (f64, f64) = (-2.0, 0.5);
/// Points along each axis.
pub const MANDEL_N: u64 = 400;
/// Iteration cap.
pub const MANDEL_MAXITER: i64 = 1000;

/// The mandel space, bound to `f`.
pub fn mandel_space(f: &dyn Function) -> BoundSpace {
    let mut space = ParamSpace::new();
    space
        .combo(
            "y",
            ComboValues::Linspace {
                start: MANDEL_Y.0,
                stop: MANDEL_Y.1,
                num: MANDEL_N,
            },
        )
        .combo(
            "x",
            ComboValues::Linspace {
                start: MANDEL_X.0,
                stop: MANDEL_X.1,
                num: MANDEL_N,
            },
        )
        .constant("maxiter", Value::I64(MANDEL_MAXITER));
    space.bind(f.signature()).expect("the space binds")
}

/// The same grid evaluated by calling the example's Rust function natively in a loop.
pub fn mandel_native() -> Vec<i64> {
    let ys: Vec<f64> = xyz_core::combo::linspace(MANDEL_Y.0, MANDEL_Y.1, MANDEL_N).collect();
    let xs: Vec<f64> = xyz_core::combo::linspace(MANDEL_X.0, MANDEL_X.1, MANDEL_N).collect();
    let mut out = Vec::with_capacity(ys.len() * xs.len());
    for &y in &ys {
        for &x in &xs {
            out.push(example_mandel::mandel(
                std::hint::black_box(x),
                std::hint::black_box(y),
                MANDEL_MAXITER,
            ));
        }
    }
    out
}

/// `add` over `n` × 1000 × 1 cases.
pub fn add_space(f: &dyn Function, n: i64) -> BoundSpace {
    let mut space = ParamSpace::new();
    space
        .combo(
            "a",
            ComboValues::List((0..n).map(|i| Value::F64(i as f64)).collect()),
        )
        .combo(
            "b",
            ComboValues::List((0..1000).map(|i| Value::F64(i as f64 * 0.5)).collect()),
        )
        .constant("c", Value::F64(0.0));
    space.bind(f.signature()).expect("the space binds")
}
