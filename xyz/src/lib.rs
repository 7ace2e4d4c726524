//! xyz as a library: everything the `xyz` command line does, for Rust programs (and the
//! command line itself, which only asks).
//!
//! The engine is [`xyz_core`], re-exported here whole: spaces, the runner, crops and datasets.
//! What this crate adds is how a function file becomes a [`Function`]: [`load`] tells a
//! WebAssembly module from a native library, and loads it in this process or serves it from
//! `xyz worker` processes (killed at a call's deadline), or from workers a launcher starts on
//! other machines, under one [`FunctionLoader`](load::FunctionLoader); [`serve`](mod@serve) is the
//! worker's side of that.
//!
//! ```no_run
//! use xyz::load::FunctionLoader;
//!
//! let loaded = FunctionLoader::new().load("mandel.wasm".as_ref(), &xyz::Limits::default())?;
//! println!("{}", loaded.function.signature());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod load;
pub mod scheduler;
pub mod serve;

pub use xyz_abi as abi;
pub use xyz_core::*;
/// The native-library host, for a program that loads a library itself.
pub use xyz_native as native;
/// The WebAssembly host, for a program that configures wasmtime itself.
pub use xyz_wasm as wasm;
