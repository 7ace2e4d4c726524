//! The xyz guest kit: export a plain Rust function as an xyz function.
//!
//! Put [`function`] on one function of a `cdylib` crate, build it for
//! `wasm32-unknown-unknown` (sandboxed, runs anywhere) or for the host (a native library),
//! and `xyz` can sweep it:
//!
//! ```
//! #[xyz_guest::function(outputs = ["n"])]
//! fn mandel(x: f64, y: f64, maxiter: i64) -> i64 {
//!     let (mut zr, mut zi, mut n) = (0.0f64, 0.0f64, 0);
//!     while n < maxiter && zr * zr + zi * zi <= 4.0 {
//!         (zr, zi) = (zr * zr - zi * zi + x, 2.0 * zr * zi + y);
//!         n += 1;
//!     }
//!     n
//! }
//! # assert_eq!(mandel(0.0, 0.0, 50), 50);
//! ```
//!
//! The attribute keeps the function as it is and adds the exports of the xyz ABI
//! (`xyz_abi_version`, `xyz_signature`, `xyz_alloc`, `xyz_free`, `xyz_eval`), including the
//! loop that evaluates a whole chunk of cases per call. The author writes no unsafe code.
//!
//! # What a function may take and return
//!
//! - Arguments: `i64`, `f64`, [`Complex64`], `bool`, `String` or `&str`.
//! - Outputs: one value or a tuple of them, named in order by `outputs = [..]`. A value is
//!   `i64`, `f64`, [`Complex64`], `bool`, `String`, or a fixed-size array of `i64`, `f64` or
//!   `Complex64` (nested for more dims), whose extra dims the output names in brackets:
//!   `outputs = ["y[t]"]` for `-> [f64; 5]`, `outputs = ["img[row, col]"]` for
//!   `-> [[f64; 4]; 3]`.
//! - `Result<T, E>` where `E: Display`: an `Err` fails that case only, with `E`'s message.
//! - A panic fails that case only; its message reaches the host.
//!
//! A module exports one function. Arguments of the function are the names a sweep spec
//! uses; the function's own name becomes the signature's name.
//!
//! Anything else is refused when the crate compiles, not when the sweep runs: an argument of
//! another type,
//!
//! ```compile_fail
//! #[xyz_guest::function(outputs = ["n"])]
//! fn count(bytes: Vec<u8>) -> i64 {
//!     bytes.len() as i64
//! }
//! ```
//!
//! an output of another type,
//!
//! ```compile_fail
//! #[xyz_guest::function(outputs = ["half"])]
//! fn half(x: f64) -> f32 {
//!     x as f32 / 2.0
//! }
//! ```
//!
//! or outputs named for fewer values than the function returns:
//!
//! ```compile_fail
//! #[xyz_guest::function(outputs = ["sum"])]
//! fn both(a: f64, b: f64) -> (f64, f64) {
//!     (a + b, a - b)
//! }
//! ```

#![deny(missing_docs)]

pub use xyz_abi as abi;

/// A complex number of two `f64`s, with public fields `re` and `im` and the arithmetic of
/// [`num_complex`] (`exp`, `norm`, `arg`, `powc`, ...): the type of a `c128` argument or
/// output, which reaches the dataset as numpy's `complex128`.
///
/// ```
/// use xyz_guest::Complex64;
///
/// #[xyz_guest::function(outputs = ["g", "weight"])]
/// fn green(e: f64, eta: f64, level: Complex64) -> (Complex64, f64) {
///     let g = 1.0 / (Complex64::new(e, eta) - level);
///     (g, g.norm())
/// }
/// # let g = green(1.0, 0.5, Complex64::new(0.0, 0.0)).0;
/// # assert!((g - Complex64::new(0.8, -0.4)).norm() < 1e-12);
/// ```
pub use num_complex::Complex64;

/// Exports a function over the xyz ABI. See the [crate docs](crate).
///
/// `outputs = ["a", "b[t]"]` names the outputs in order (required); `name = "other"` sets the
/// name in the signature (default: the function's name).
pub use xyz_guest_macros::function;

#[doc(hidden)]
pub mod __rt;
