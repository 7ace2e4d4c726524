//! xyz functions as native dynamic libraries (`.so`), loaded with libloading.
//!
//! A native library exports the same ABI as a WebAssembly module (see `docs/ABI.md`):
//! `xyz_abi_version`, `xyz_signature`, `xyz_alloc`, `xyz_free` and `xyz_eval`, with pointers
//! and sizes of the host's width. The ABI version is checked before anything else is touched.
//! The host passes its own buffers: argument columns are read in place, numeric outputs written
//! in place, so a call costs no copies.
//!
//! Native code is trusted: it shares the process, so nothing bounds its memory or time, and a
//! crash in it ends the process. Run it through [`xyz_core::ProcessFunction`] workers (as
//! `xyz` does by default) for a deadline and for crash isolation.
//!
//! ```no_run
//! use xyz_core::Function;
//!
//! let f = xyz_native::NativeFunction::load("target/release/libexample_add.so".as_ref())?;
//! println!("{}", f.signature());
//! # Ok::<(), xyz_native::LoadError>(())
//! ```

#![deny(missing_docs)]

mod private_copy;

use std::ffi::{CStr, c_char};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use xyz_abi::{ABI_VERSION, EVAL_OK, STATUS_ERROR, STATUS_OK, ScalarType, Signature, exports};
use xyz_core::{
    Column, Columns, EvalOutput, FailureKind, Function, Instance, InstantiateError, Trap,
};

type VersionFn = unsafe extern "C" fn() -> u32;
type SignatureFn = unsafe extern "C" fn() -> *const c_char;
type EvalFn = unsafe extern "C" fn(*mut xyz_abi::Call) -> i32;

/// A library that could not be loaded as an xyz function.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct LoadError {
    /// The library.
    pub path: PathBuf,
    /// What is wrong.
    #[source]
    pub kind: LoadErrorKind,
}

/// What is wrong with a library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read, is no regular file, or is not the file expected.
    #[error(transparent)]
    Read(xyz_core::function_file::FunctionFileErrorKind),
    /// The private copy that is loaded could not be made.
    #[error("could not make a private copy of the library to load")]
    Copy(#[source] std::io::Error),
    /// The dynamic loader refused it.
    #[error("could not load the library")]
    Open(#[source] libloading::Error),
    /// This xyz is linked statically (the musl release build) and cannot load libraries.
    #[error(
        "cannot be loaded by this xyz, a static build (musl), which cannot load native \
         libraries: use the glibc build (xyz-ARCH-linux) or a WebAssembly module"
    )]
    StaticBuild,
    /// A symbol of the ABI is missing.
    #[error("does not export `{0}`, so it is not an xyz function (see docs/ABI.md)")]
    MissingSymbol(&'static str),
    /// The library speaks another ABI version.
    #[error("implements xyz ABI version {found}, but this xyz speaks version {ABI_VERSION}")]
    AbiVersion {
        /// The version it reports.
        found: u32,
    },
    /// Its signature could not be read.
    #[error("exports a bad signature: {0}")]
    BadSignature(String),
}

/// A native library as a function. Cheap to share between threads; each worker gets its own
/// buffers.
pub struct NativeFunction {
    lib: Arc<libloading::Library>,
    eval: EvalFn,
    signature: Signature,
    sha256: String,
}

impl std::fmt::Debug for NativeFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeFunction")
            .field("signature", &self.signature.to_string())
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// Looks up `name` in `lib`.
///
/// # Safety
/// `T` must be the symbol's real type.
unsafe fn symbol<T: Copy>(
    lib: &libloading::Library,
    name: &'static str,
) -> Result<T, LoadErrorKind> {
    // SAFETY: forwarded to the caller.
    unsafe { lib.get::<T>(name.as_bytes()) }
        .map(|s| *s)
        .map_err(|_| LoadErrorKind::MissingSymbol(name))
}

impl NativeFunction {
    /// Loads the library at `path` and checks it speaks this ABI.
    ///
    /// Loading a library runs its initialisers: only load libraries you trust.
    pub fn load(path: &Path) -> Result<NativeFunction, LoadError> {
        NativeFunction::load_expecting(path, None)
    }

    /// Like [`load`](Self::load), refusing the library before any of its code runs unless its
    /// SHA-256 is `sha256` (when given).
    ///
    /// The file is read once into memory and hashed, and the library loaded is a private copy
    /// of those very bytes (an anonymous memory file on Linux, else a file in a directory only
    /// this user may enter): whoever may write the file cannot swap it between the check and
    /// the load.
    pub fn load_expecting(path: &Path, sha256: Option<&str>) -> Result<NativeFunction, LoadError> {
        let err = |kind| LoadError {
            path: path.to_path_buf(),
            kind,
        };
        if cfg!(all(target_env = "musl", target_feature = "crt-static")) {
            return Err(err(LoadErrorKind::StaticBuild));
        }
        let (bytes, found) = xyz_core::function_file::read_verified(path, sha256)
            .map_err(|e| err(LoadErrorKind::Read(e.kind)))?;
        let sha256 = found;
        let lib = private_copy::load(&bytes).map_err(|e| match e {
            private_copy::Error::Copy(e) => err(LoadErrorKind::Copy(e)),
            private_copy::Error::Open(e) => err(LoadErrorKind::Open(e)),
        })?;
        // SAFETY: the ABI fixes the types of these symbols.
        let version: VersionFn = unsafe { symbol(&lib, exports::ABI_VERSION) }.map_err(err)?;
        // SAFETY: as declared by the ABI.
        let found = unsafe { version() };
        if found != ABI_VERSION {
            return Err(err(LoadErrorKind::AbiVersion { found }));
        }
        // SAFETY: as above.
        let sig_fn: SignatureFn = unsafe { symbol(&lib, exports::SIGNATURE) }.map_err(err)?;
        // SAFETY: as above.
        let _: unsafe extern "C" fn(usize, usize) -> *mut u8 =
            unsafe { symbol(&lib, exports::ALLOC) }.map_err(err)?;
        // SAFETY: as above.
        let _: unsafe extern "C" fn(*mut u8, usize, usize) =
            unsafe { symbol(&lib, exports::FREE) }.map_err(err)?;
        // SAFETY: as above.
        let eval: EvalFn = unsafe { symbol(&lib, exports::EVAL) }.map_err(err)?;
        // SAFETY: the ABI says xyz_signature returns a NUL-terminated string that lives as
        // long as the library.
        let text = unsafe {
            let p = sig_fn();
            if p.is_null() {
                return Err(err(LoadErrorKind::BadSignature("it is null".into())));
            }
            CStr::from_ptr(p).to_string_lossy().into_owned()
        };
        let signature: Signature = text
            .parse()
            .map_err(|e| err(LoadErrorKind::BadSignature(format!("{e}"))))?;
        signature
            .validate()
            .map_err(|e| err(LoadErrorKind::BadSignature(format!("{e}"))))?;
        Ok(NativeFunction {
            lib: Arc::new(lib),
            eval,
            signature,
            sha256,
        })
    }
}

impl Function for NativeFunction {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn sha256(&self) -> Option<&str> {
        Some(&self.sha256)
    }

    fn instantiate(&self) -> Result<Box<dyn Instance>, InstantiateError> {
        Ok(Box::new(NativeInstance {
            _lib: self.lib.clone(),
            eval: self.eval,
            signature: self.signature.clone(),
            arg_bytes: Vec::new(),
            arg_offsets: Vec::new(),
            bool_outs: Vec::new(),
            status: Vec::new(),
            cols: Vec::new(),
        }))
    }
}

/// One worker's buffers for calls into the library.
struct NativeInstance {
    /// Keeps the library loaded while `eval` may be called.
    _lib: Arc<libloading::Library>,
    eval: EvalFn,
    signature: Signature,
    /// Per argument: bytes of bool and string columns (empty for numeric ones).
    arg_bytes: Vec<Vec<u8>>,
    /// Per argument: offsets of string columns.
    arg_offsets: Vec<Vec<u32>>,
    /// Per output: the bytes of bool outputs (empty for others).
    bool_outs: Vec<Vec<u8>>,
    status: Vec<u8>,
    /// The argument columns, then the output columns.
    cols: Vec<xyz_abi::Column>,
}

fn malformed(what: &str) -> Trap {
    Trap {
        kind: FailureKind::Trap,
        message: format!("the library returned a malformed {what}"),
    }
}

/// Reads `n` strings from a column the library filled; strings that are not UTF-8 are read
/// lossily and their positions put in `invalid`.
///
/// # Safety
/// The column's pointers must be valid for its `len` and `n + 1` offsets, as the ABI requires.
unsafe fn read_strings(
    col: &xyz_abi::Column,
    n: usize,
    what: &str,
    invalid: &mut Vec<usize>,
) -> Result<Vec<String>, Trap> {
    if col.offsets.is_null() || (col.data.is_null() && col.len > 0) {
        return Err(malformed(what));
    }
    // SAFETY: per the caller.
    let (offsets, data) = unsafe {
        (
            std::slice::from_raw_parts(col.offsets, n + 1),
            if col.len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(col.data, col.len)
            },
        )
    };
    let mut out = Vec::with_capacity(n);
    for (i, w) in offsets.windows(2).enumerate() {
        let s = data
            .get(w[0] as usize..w[1] as usize)
            .ok_or_else(|| malformed(what))?;
        match std::str::from_utf8(s) {
            Ok(text) => out.push(text.to_owned()),
            Err(_) => {
                invalid.push(i);
                out.push(String::from_utf8_lossy(s).into_owned());
            }
        }
    }
    Ok(out)
}

impl Instance for NativeInstance {
    fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
        let n = args.n;
        let nargs = args.cols.len();
        self.arg_bytes.resize_with(nargs, Vec::new);
        self.arg_offsets.resize_with(nargs, Vec::new);
        self.cols.clear();
        for (k, col) in args.cols.iter().enumerate() {
            let (bytes, offsets) = (&mut self.arg_bytes[k], &mut self.arg_offsets[k]);
            let c = match col {
                Column::F64(v) => xyz_abi::Column {
                    data: v.as_ptr() as *mut u8,
                    len: 8 * v.len(),
                    offsets: std::ptr::null_mut(),
                },
                Column::I64(v) => xyz_abi::Column {
                    data: v.as_ptr() as *mut u8,
                    len: 8 * v.len(),
                    offsets: std::ptr::null_mut(),
                },
                // `Complex64` is `repr(C)`: the real part, then the imaginary, as the ABI lays
                // out a c128.
                Column::C128(v) => xyz_abi::Column {
                    data: v.as_ptr() as *mut u8,
                    len: 16 * v.len(),
                    offsets: std::ptr::null_mut(),
                },
                Column::Bool(v) => {
                    bytes.clear();
                    bytes.extend(v.iter().map(|b| u8::from(*b)));
                    xyz_abi::Column {
                        data: bytes.as_mut_ptr(),
                        len: bytes.len(),
                        offsets: std::ptr::null_mut(),
                    }
                }
                Column::Str(v) => {
                    bytes.clear();
                    offsets.clear();
                    offsets.push(0);
                    for s in v {
                        bytes.extend_from_slice(s.as_bytes());
                        offsets.push(bytes.len() as u32);
                    }
                    xyz_abi::Column {
                        data: bytes.as_mut_ptr(),
                        len: bytes.len(),
                        offsets: offsets.as_mut_ptr(),
                    }
                }
            };
            self.cols.push(c);
        }
        self.bool_outs.resize_with(out.cols.len(), Vec::new);
        for ((col, output), bools) in out
            .cols
            .iter_mut()
            .zip(&self.signature.outputs)
            .zip(&mut self.bool_outs)
        {
            let len = n * output.elements();
            let c = match col {
                Column::F64(v) => xyz_abi::Column {
                    data: v.as_mut_ptr() as *mut u8,
                    len: 8 * len,
                    offsets: std::ptr::null_mut(),
                },
                Column::I64(v) => xyz_abi::Column {
                    data: v.as_mut_ptr() as *mut u8,
                    len: 8 * len,
                    offsets: std::ptr::null_mut(),
                },
                Column::C128(v) => xyz_abi::Column {
                    data: v.as_mut_ptr() as *mut u8,
                    len: 16 * len,
                    offsets: std::ptr::null_mut(),
                },
                Column::Bool(_) => {
                    bools.clear();
                    bools.resize(len, 0);
                    xyz_abi::Column {
                        data: bools.as_mut_ptr(),
                        len,
                        offsets: std::ptr::null_mut(),
                    }
                }
                Column::Str(_) => xyz_abi::Column::EMPTY,
            };
            self.cols.push(c);
        }
        self.status.clear();
        self.status.resize(n, STATUS_OK);
        let (arg_cols, out_cols) = self.cols.split_at_mut(nargs);
        let mut call = xyz_abi::Call {
            n,
            args: arg_cols.as_ptr(),
            outputs: out_cols.as_mut_ptr(),
            status: self.status.as_mut_ptr(),
            errors: xyz_abi::Column::EMPTY,
        };
        // SAFETY: every pointer in `call` points into a live buffer of the length the ABI
        // says, and stays valid for the call; the library is trusted to keep to the ABI.
        let code = unsafe { (self.eval)(&mut call) };
        if code != EVAL_OK {
            return Err(Trap {
                kind: FailureKind::Trap,
                message: format!("xyz_eval refused the call (code {code})"),
            });
        }
        let mut messages = None;
        for (i, st) in self.status.iter().enumerate() {
            match *st {
                STATUS_OK => {}
                STATUS_ERROR => {
                    if messages.is_none() {
                        // SAFETY: the library filled the error column, per the ABI.
                        messages = Some(unsafe {
                            read_strings(&call.errors, n, "error column", &mut Vec::new())
                        }?);
                    }
                    let msg = messages.as_ref().map(|m| m[i].clone()).unwrap_or_default();
                    out.errors.push((i, msg));
                }
                other => out
                    .errors
                    .push((i, format!("the library set an invalid status {other}"))),
            }
        }
        let mut not_utf8 = Vec::new();
        for (k, (col, output)) in out.cols.iter_mut().zip(&self.signature.outputs).enumerate() {
            match col {
                Column::Bool(v) => {
                    for (x, b) in v.iter_mut().zip(&self.bool_outs[k]) {
                        *x = *b != 0;
                    }
                }
                Column::Str(v) if output.ty == ScalarType::Str => {
                    let what = format!("string column for output `{}`", output.name);
                    let mut invalid = Vec::new();
                    // SAFETY: the library filled the column, per the ABI.
                    *v = unsafe { read_strings(&out_cols[k], n, &what, &mut invalid) }?;
                    not_utf8.push((&output.name, invalid));
                }
                _ => {}
            }
        }
        for (name, invalid) in not_utf8 {
            out.fail_invalid_utf8(name, &invalid);
        }
        Ok(())
    }
}
