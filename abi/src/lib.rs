//! The wire contract between the xyz host and the functions it evaluates.
//!
//! A function is a WebAssembly module or a native dynamic library that exports a handful of
//! C-ABI symbols. This crate names them, defines the value types that cross the boundary, the
//! textual [`Signature`] a function declares itself with, and the `#[repr(C)]` structures of the
//! columnar call. It is shared by the host (`xyz-wasm`, `xyz-core`) and the guest kit
//! (`xyz-guest`), is `no_std` with `alloc`, and has no required dependencies.
//!
//! The full contract, with byte layouts for 32-bit (wasm32) and 64-bit guests, is in
//! `docs/ABI.md`; the C header `include/xyz.h` is its C rendering.
//!
//! # Example
//!
//! ```
//! use xyz_abi::{ScalarType, Signature};
//!
//! let sig: Signature = "ramp(a: f64, b: f64) -> (y: f64[t=5])".parse()?;
//! assert_eq!(sig.name, "ramp");
//! assert_eq!(sig.args[1].ty, ScalarType::F64);
//! assert_eq!(sig.outputs[0].dims[0].size, 5);
//! assert_eq!(sig.to_string(), "ramp(a: f64, b: f64) -> (y: f64[t=5])");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Core concepts
//!
//! - [`ScalarType`]: `i64`, `f64`, `c128` (complex), `bool` or `str`, the types of arguments
//!   and outputs.
//! - [`Signature`]: the function's name, its arguments and its outputs (with extra dims for
//!   fixed-size numeric array outputs). Parsed from and printed as one line of text, so a C
//!   author writes it as a string literal.
//! - [`Call`] and [`Column`]: the frame the host passes to [`exports::EVAL`]: one column per
//!   argument for a chunk of cases, one per output, a status byte per case and an error column.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod call;
mod signature;

pub use call::{Call, Column, layout32};
pub use signature::{Arg, ExtraDim, Output, ScalarType, Signature, SignatureError};

/// The version of this contract. A guest exports it from [`exports::ABI_VERSION`]; the host
/// refuses a function whose version differs.
pub const ABI_VERSION: u32 = 1;

/// Names of the symbols a function exports.
pub mod exports {
    /// `uint32_t xyz_abi_version(void)`: returns [`ABI_VERSION`](crate::ABI_VERSION).
    pub const ABI_VERSION: &str = "xyz_abi_version";
    /// `const char *xyz_signature(void)`: a NUL-terminated UTF-8 [`Signature`](crate::Signature)
    /// in static memory.
    pub const SIGNATURE: &str = "xyz_signature";
    /// `void *xyz_alloc(size_t size, size_t align)`: allocates guest memory for the host, or
    /// returns NULL.
    pub const ALLOC: &str = "xyz_alloc";
    /// `void xyz_free(void *ptr, size_t size, size_t align)`: frees what `xyz_alloc` returned.
    pub const FREE: &str = "xyz_free";
    /// `int32_t xyz_eval(xyz_call *call)`: evaluates a chunk of cases. Returns
    /// [`EVAL_OK`](crate::EVAL_OK) or [`EVAL_BAD_CALL`](crate::EVAL_BAD_CALL).
    pub const EVAL: &str = "xyz_eval";
    /// The linear memory of a WebAssembly guest.
    pub const MEMORY: &str = "memory";
}

/// Names of the only host functions a WebAssembly guest may import.
pub mod imports {
    /// The import module of every host function.
    pub const MODULE: &str = "xyz";
    /// `void panic(const char *msg, size_t len)`: records why the guest is about to trap
    /// (a Rust panic message), so the host reports it with the failed case. Optional.
    pub const PANIC: &str = "panic";
}

/// Status of a case that produced its outputs.
pub const STATUS_OK: u8 = 0;
/// Status of a case that failed; its message is in the call's error column.
pub const STATUS_ERROR: u8 = 1;

/// `xyz_eval` evaluated the chunk; every case has a status.
pub const EVAL_OK: i32 = 0;
/// `xyz_eval` refused the call as malformed (for example a null column); no status is valid.
pub const EVAL_BAD_CALL: i32 = 1;
