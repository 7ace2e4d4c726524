//! xyz functions as sandboxed WebAssembly modules, run by wasmtime.
//!
//! [`WasmFunction::load`] reads a module built with the xyz guest kit (or written against the
//! C header), checks it (imports, exports, ABI version, signature), compiles it or loads it
//! from the on-disk cache, and implements [`xyz_core::Function`] over it.
//!
//! ```no_run
//! use xyz_wasm::{WasmConfig, WasmFunction};
//!
//! let f = WasmFunction::load("mandel.wasm".as_ref(), &WasmConfig::new())?;
//! println!("{}", xyz_core::Function::signature(&f));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sandbox
//!
//! A module gets no imports beyond the guest kit's `xyz.panic` and WASI preview 1, served by a
//! context that denies by default: no files, no network, no environment, and clocks and
//! randomness that are the same for a case on every run (see the `wasi` module). A module that
//! imports anything else is refused at load, naming the import. Each
//! instance's linear memory is capped ([`WasmConfig::memory_limit`]), and each call has a
//! deadline ([`WasmConfig::deadline`]), enforced by epoch interruption. A call that traps
//! (panic, deadline, memory, fault) is reported as a [`Trap`](xyz_core::Trap) and its
//! instance is discarded.
//!
//! # Core concepts
//!
//! - [`WasmConfig`]: limits, cache location, NaN canonicalization. Cheap; read at load.
//! - [`WasmFunction`]: one compiled module on one wasmtime `Engine`, with an `InstancePre`
//!   that makes instances in ~10 µs from a pooling allocator. Share it between threads.
//! - Instances (made through [`xyz_core::Function::instantiate`]): one `Store` each, one per
//!   worker; the call frame and argument buffers live in the guest's memory and are reused
//!   from call to call.
//! - The module cache: compiled code keyed by the module's SHA-256 and the engine's
//!   compatibility hash (wasmtime version and settings), written atomically to a directory
//!   only xyz writes. Loading from it takes well under a millisecond; compiling, tens.

#![deny(missing_docs)]

mod cache;
mod config;
mod epoch;
mod function;
mod instance;
mod wasi;

pub use config::{DEFAULT_DEADLINE, DEFAULT_MEMORY_LIMIT, WasmConfig};
pub use function::{LoadError, LoadErrorKind, ModuleInfo, WasmFunction};
