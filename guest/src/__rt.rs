//! Support code for what `#[xyz_guest::function]` generates. Not a public API: names and
//! shapes here change with the macro.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::OnceLock;

use xyz_abi::{Call, Column, EVAL_BAD_CALL, EVAL_OK, STATUS_ERROR, STATUS_OK, ScalarType};

/// A type a function may take as an argument.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an argument of an xyz function",
    note = "arguments are i64, f64, Complex64, bool, String or &str"
)]
pub trait ArgValue: Sized {
    /// Its type in the signature.
    const TYPE: ScalarType;
    /// Reads case `i` of `col`.
    ///
    /// # Safety
    /// `col` must be a column of this type with more than `i` values, as the ABI lays it out.
    unsafe fn read(col: &Column, i: usize) -> Self;
}

impl ArgValue for f64 {
    const TYPE: ScalarType = ScalarType::F64;
    #[inline(always)]
    unsafe fn read(col: &Column, i: usize) -> f64 {
        // SAFETY: the caller guarantees `i` is in bounds of an f64 column.
        f64::from_bits(u64::from_le(unsafe {
            (col.data as *const u64).add(i).read_unaligned()
        }))
    }
}

impl ArgValue for crate::Complex64 {
    const TYPE: ScalarType = ScalarType::C128;
    #[inline(always)]
    unsafe fn read(col: &Column, i: usize) -> crate::Complex64 {
        // SAFETY: the caller guarantees `i` is in bounds of a c128 column, two f64s a value.
        unsafe {
            let parts = (col.data as *const u64).add(2 * i);
            crate::Complex64::new(
                f64::from_bits(u64::from_le(parts.read_unaligned())),
                f64::from_bits(u64::from_le(parts.add(1).read_unaligned())),
            )
        }
    }
}

impl ArgValue for i64 {
    const TYPE: ScalarType = ScalarType::I64;
    #[inline(always)]
    unsafe fn read(col: &Column, i: usize) -> i64 {
        // SAFETY: the caller guarantees `i` is in bounds of an i64 column.
        i64::from_le(unsafe { (col.data as *const i64).add(i).read_unaligned() })
    }
}

impl ArgValue for bool {
    const TYPE: ScalarType = ScalarType::Bool;
    #[inline(always)]
    unsafe fn read(col: &Column, i: usize) -> bool {
        // SAFETY: the caller guarantees `i` is in bounds of a bool column.
        unsafe { *col.data.add(i) != 0 }
    }
}

impl ArgValue for String {
    const TYPE: ScalarType = ScalarType::Str;
    #[inline]
    unsafe fn read(col: &Column, i: usize) -> String {
        // SAFETY: the caller guarantees a string column with n + 1 offsets into `data`.
        let bytes = unsafe {
            let start = *col.offsets.add(i) as usize;
            let end = *col.offsets.add(i + 1) as usize;
            std::slice::from_raw_parts(col.data.add(start), end - start)
        };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// An `i64`, `f64` or `Complex64`, or a fixed-size array of them, stored as `BYTES` bytes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an output of an xyz function",
    note = "outputs are i64, f64, Complex64, bool, String, or fixed-size arrays of i64, f64 \
            or Complex64"
)]
pub trait Numeric {
    /// The element type.
    const TYPE: ScalarType;
    /// Number of array dims (0 for a scalar).
    const RANK: usize;
    /// Bytes one value (all its elements) takes in a column.
    const BYTES: usize;
    /// Pushes the sizes of the dims, outermost first.
    fn shape(dims: &mut Vec<u64>);
    /// Writes the values at `dst`.
    ///
    /// # Safety
    /// `dst` must be valid for writing `BYTES` bytes.
    unsafe fn store(&self, dst: *mut u8);
}

impl Numeric for f64 {
    const TYPE: ScalarType = ScalarType::F64;
    const RANK: usize = 0;
    const BYTES: usize = 8;
    fn shape(_: &mut Vec<u64>) {}
    #[inline(always)]
    unsafe fn store(&self, dst: *mut u8) {
        // SAFETY: the caller guarantees 8 writable bytes.
        unsafe { (dst as *mut u64).write_unaligned(self.to_bits().to_le()) }
    }
}

impl Numeric for i64 {
    const TYPE: ScalarType = ScalarType::I64;
    const RANK: usize = 0;
    const BYTES: usize = 8;
    fn shape(_: &mut Vec<u64>) {}
    #[inline(always)]
    unsafe fn store(&self, dst: *mut u8) {
        // SAFETY: the caller guarantees 8 writable bytes.
        unsafe { (dst as *mut i64).write_unaligned(self.to_le()) }
    }
}

impl Numeric for crate::Complex64 {
    const TYPE: ScalarType = ScalarType::C128;
    const RANK: usize = 0;
    const BYTES: usize = 16;
    fn shape(_: &mut Vec<u64>) {}
    #[inline(always)]
    unsafe fn store(&self, dst: *mut u8) {
        // SAFETY: the caller guarantees 16 writable bytes: the real part, then the imaginary.
        unsafe {
            (dst as *mut u64).write_unaligned(self.re.to_bits().to_le());
            (dst as *mut u64)
                .add(1)
                .write_unaligned(self.im.to_bits().to_le());
        }
    }
}

impl<T: Numeric, const N: usize> Numeric for [T; N] {
    const TYPE: ScalarType = T::TYPE;
    const RANK: usize = T::RANK + 1;
    const BYTES: usize = N * T::BYTES;
    fn shape(dims: &mut Vec<u64>) {
        dims.push(N as u64);
        T::shape(dims);
    }
    #[inline(always)]
    unsafe fn store(&self, dst: *mut u8) {
        for (k, x) in self.iter().enumerate() {
            // SAFETY: element k's values lie within the caller's BYTES bytes.
            unsafe { x.store(dst.add(k * T::BYTES)) }
        }
    }
}

/// A type a function may return as one output.
pub trait OutValue {
    /// Its (element) type in the signature.
    const TYPE: ScalarType;
    /// Number of extra dims.
    const RANK: usize;
    /// Pushes the sizes of the extra dims, outermost first.
    fn shape(dims: &mut Vec<u64>);
    /// Writes this value as case `i` of output `k`.
    ///
    /// # Safety
    /// Output `k` of `outs` must be a column of this type with room for more than `i` cases.
    unsafe fn write(self, outs: &mut Outputs<'_>, k: usize, i: usize);
}

impl<T: Numeric> OutValue for T {
    const TYPE: ScalarType = T::TYPE;
    const RANK: usize = T::RANK;
    fn shape(dims: &mut Vec<u64>) {
        T::shape(dims)
    }
    #[inline(always)]
    unsafe fn write(self, outs: &mut Outputs<'_>, k: usize, i: usize) {
        // SAFETY: the caller guarantees room for case `i`, T::BYTES bytes.
        unsafe { self.store(outs.cols[k].data.add(i * T::BYTES)) }
    }
}

impl OutValue for bool {
    const TYPE: ScalarType = ScalarType::Bool;
    const RANK: usize = 0;
    fn shape(_: &mut Vec<u64>) {}
    #[inline(always)]
    unsafe fn write(self, outs: &mut Outputs<'_>, k: usize, i: usize) {
        // SAFETY: the caller guarantees room for case `i`.
        unsafe { *outs.cols[k].data.add(i) = u8::from(self) }
    }
}

impl OutValue for String {
    const TYPE: ScalarType = ScalarType::Str;
    const RANK: usize = 0;
    fn shape(_: &mut Vec<u64>) {}
    unsafe fn write(self, outs: &mut Outputs<'_>, k: usize, _: usize) {
        outs.strs[k].push(&self);
    }
}

impl OutValue for &str {
    const TYPE: ScalarType = ScalarType::Str;
    const RANK: usize = 0;
    fn shape(_: &mut Vec<u64>) {}
    unsafe fn write(self, outs: &mut Outputs<'_>, k: usize, _: usize) {
        outs.strs[k].push(self);
    }
}

/// Strings the guest owns between two calls: an output column or the error column.
#[derive(Default)]
pub struct StrBuf {
    data: Vec<u8>,
    offsets: Vec<u32>,
}

impl StrBuf {
    fn reset(&mut self) {
        self.data.clear();
        self.offsets.clear();
        self.offsets.push(0);
    }

    fn push(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
        // Columns are limited to 4 GiB of text by the u32 offsets of the ABI.
        self.offsets.push(self.data.len() as u32);
    }

    /// Adds empty strings until the column holds `count`.
    fn pad_to(&mut self, count: usize) {
        while self.offsets.len() < count + 1 {
            self.offsets.push(self.data.len() as u32);
        }
    }

    fn column(&mut self) -> Column {
        Column {
            data: self.data.as_mut_ptr(),
            len: self.data.len(),
            offsets: self.offsets.as_mut_ptr(),
        }
    }
}

/// The output columns of one call, as the generated code writes them.
pub struct Outputs<'a> {
    cols: &'a mut [Column],
    strs: &'a mut [StrBuf],
}

thread_local! {
    static BUFS: RefCell<Vec<StrBuf>> = const { RefCell::new(Vec::new()) };
    #[cfg(not(target_arch = "wasm32"))]
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Evaluates the chunk described by `call`, calling `case(args, outs, i)` for each case.
///
/// # Safety
/// `call` must point to a call frame laid out as the ABI says for a signature with
/// `out_types.len()` outputs of these types and `nargs` arguments.
#[inline(always)]
pub unsafe fn eval<F>(call: *mut Call, nargs: usize, out_types: &[ScalarType], mut case: F) -> i32
where
    F: FnMut(&[Column], &mut Outputs<'_>, usize) -> Result<(), String>,
{
    install_panic_hook();
    // SAFETY: the caller passes a valid frame or null.
    let Some(call) = (unsafe { call.as_mut() }) else {
        return EVAL_BAD_CALL;
    };
    let n = call.n;
    let nouts = out_types.len();
    if call.status.is_null() || (nargs > 0 && call.args.is_null()) || call.outputs.is_null() {
        return EVAL_BAD_CALL;
    }
    // SAFETY: the frame's pointers are valid for these lengths, per the ABI.
    let (args, cols, status) = unsafe {
        (
            std::slice::from_raw_parts(call.args, nargs),
            std::slice::from_raw_parts_mut(call.outputs, nouts),
            std::slice::from_raw_parts_mut(call.status, n),
        )
    };
    for (col, ty) in cols.iter().zip(out_types) {
        if *ty != ScalarType::Str && n > 0 && col.data.is_null() {
            return EVAL_BAD_CALL;
        }
    }
    BUFS.with(|bufs| {
        let mut bufs = bufs.borrow_mut();
        bufs.resize_with(nouts + 1, StrBuf::default);
        for buf in bufs.iter_mut() {
            buf.reset();
        }
        let (strs, errors) = bufs.split_at_mut(nouts);
        let errors = &mut errors[0];
        let has_strings = out_types.contains(&ScalarType::Str);
        let mut outs = Outputs { cols, strs };
        for (i, st) in status.iter_mut().enumerate() {
            match case(args, &mut outs, i) {
                Ok(()) => *st = STATUS_OK,
                Err(message) => {
                    *st = STATUS_ERROR;
                    errors.pad_to(i);
                    errors.push(&message);
                }
            }
            if has_strings {
                for (buf, ty) in outs.strs.iter_mut().zip(out_types) {
                    if *ty == ScalarType::Str {
                        buf.pad_to(i + 1);
                    }
                }
            }
        }
        errors.pad_to(n);
        for ((col, buf), ty) in outs
            .cols
            .iter_mut()
            .zip(outs.strs.iter_mut())
            .zip(out_types)
        {
            if *ty == ScalarType::Str {
                *col = buf.column();
            }
        }
        call.errors = errors.column();
    });
    EVAL_OK
}

/// Reads case `i` of argument `k`.
///
/// # Safety
/// As [`ArgValue::read`].
#[inline(always)]
pub unsafe fn arg<T: ArgValue>(args: &[Column], k: usize, i: usize) -> T {
    // SAFETY: forwarded to the caller.
    unsafe { T::read(&args[k], i) }
}

/// Writes case `i` of output `k`.
///
/// # Safety
/// As [`OutValue::write`].
#[inline(always)]
pub unsafe fn out<T: OutValue>(outs: &mut Outputs<'_>, k: usize, i: usize, value: T) {
    // SAFETY: forwarded to the caller.
    unsafe { value.write(outs, k, i) }
}

/// Turns an `Err` into the case's error message.
pub fn err_message<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Calls the user's function for one case. On native targets a panic is caught and becomes
/// the case's error; on wasm32 it traps, after the panic hook has told the host why.
#[inline(always)]
pub fn call<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    #[cfg(target_arch = "wasm32")]
    {
        Ok(f())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
            LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .unwrap_or_else(|| "panicked".to_string())
        })
    }
}

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "xyz")]
unsafe extern "C" {
    #[link_name = "panic"]
    fn host_panic(msg: *const u8, len: usize);
}

fn panic_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info
        .payload_as_str()
        .unwrap_or("a panic with a non-string payload");
    match info.location() {
        Some(loc) => format!("panicked at {}:{}: {payload}", loc.file(), loc.line()),
        None => format!("panicked: {payload}"),
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let text = panic_text(info);
            #[cfg(target_arch = "wasm32")]
            // SAFETY: the host reads `len` bytes at `msg` before the guest goes on.
            unsafe {
                host_panic(text.as_ptr(), text.len());
            }
            #[cfg(not(target_arch = "wasm32"))]
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
}

/// Builds the NUL-terminated signature text once and returns it.
pub fn signature(cell: &'static OnceLock<Box<[u8]>>, build: fn() -> SigBuilder) -> *const u8 {
    cell.get_or_init(|| build().finish()).as_ptr()
}

/// Writes a signature's text, argument by argument and output by output.
pub struct SigBuilder {
    name: &'static str,
    args: String,
    outs: String,
}

impl SigBuilder {
    /// Starts the signature of function `name`.
    pub fn new(name: &'static str) -> SigBuilder {
        SigBuilder {
            name,
            args: String::new(),
            outs: String::new(),
        }
    }

    /// Adds an argument.
    pub fn arg<T: ArgValue>(&mut self, name: &str) -> &mut Self {
        if !self.args.is_empty() {
            self.args.push_str(", ");
        }
        let _ = write!(self.args, "{name}: {}", T::TYPE);
        self
    }

    /// Adds an output; `dims` names its extra dims.
    pub fn out<T: OutValue>(&mut self, name: &str, dims: &[&str]) -> &mut Self {
        if !self.outs.is_empty() {
            self.outs.push_str(", ");
        }
        let _ = write!(self.outs, "{name}: {}", T::TYPE);
        let mut shape = Vec::new();
        T::shape(&mut shape);
        if !dims.is_empty() {
            self.outs.push('[');
            for (j, (dim, size)) in dims.iter().zip(&shape).enumerate() {
                if j > 0 {
                    self.outs.push_str(", ");
                }
                let _ = write!(self.outs, "{dim}={size}");
            }
            self.outs.push(']');
        }
        self
    }

    fn finish(&self) -> Box<[u8]> {
        let mut text = format!("{}({}) -> ({})", self.name, self.args, self.outs).into_bytes();
        text.push(0);
        text.into_boxed_slice()
    }
}

/// `xyz_alloc`: allocates `size` bytes aligned to `align` for the host; null on failure.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    match std::alloc::Layout::from_size_align(size, align) {
        Ok(layout) if size > 0 => {
            // SAFETY: the layout has a non-zero size.
            unsafe { std::alloc::alloc(layout) }
        }
        Ok(_) => align as *mut u8,
        Err(_) => std::ptr::null_mut(),
    }
}

/// `xyz_free`: frees what [`alloc`] returned for the same size and alignment.
///
/// # Safety
/// `ptr` must come from `alloc(size, align)` and not have been freed.
pub unsafe fn free(ptr: *mut u8, size: usize, align: usize) {
    if let Ok(layout) = std::alloc::Layout::from_size_align(size, align)
        && size > 0
        && !ptr.is_null()
    {
        // SAFETY: forwarded to the caller.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}
