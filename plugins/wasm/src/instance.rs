//! One worker's instance: a store, the module's exports, and a scratch region in the guest's
//! memory that holds the call frame and the columns.
//!
//! For a chunk of `n` cases with `A` arguments and `O` outputs the scratch region is laid out
//! as follows (offsets relative to the region, each data block 8-byte aligned):
//!
//! ```text
//! 0                     call frame (28 bytes, see xyz_abi::layout32)
//! 28                    A argument columns (12 bytes each)
//! 28 + 12A              O output columns (12 bytes each)
//! 28 + 12(A+O)          n status bytes
//! ...                   argument data: n values, or n + 1 offsets and the bytes of strings
//! ...                   output data of non-string outputs: n * elements values
//! ```
//!
//! The region is allocated with `xyz_alloc` and reused; it grows (freed and allocated again)
//! when a chunk needs more room.

use wasmtime::{Caller, InstancePre, Memory, ResourceLimiter, Store, Trap as WasmTrap, TypedFunc};
use xyz_abi::{EVAL_OK, STATUS_ERROR, STATUS_OK, ScalarType, Signature, exports, layout32 as L};
use xyz_core::{Column, Columns, EvalOutput, FailureKind, Instance, Trap};

use crate::wasi::WasiState;

const MIB: f64 = (1 << 20) as f64;

/// Longest panic message kept.
const MAX_PANIC_MESSAGE: usize = 4096;

/// Caps an instance's linear memory and remembers when it refused to grow it.
pub(crate) struct Limiter {
    limit: u64,
    exceeded: Option<usize>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            self.exceeded = Some(desired);
            wasmtime::bail!("memory limit exceeded");
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// What the host keeps per store.
pub(crate) struct StoreState {
    pub(crate) limiter: Limiter,
    panic: Option<String>,
    /// WASI, for a module that imports it.
    wasi: Option<WasiState>,
    /// When the call under way must end, where it has a deadline: what host calls that wait
    /// (`poll_oneoff`) wait until at the most.
    pub(crate) call_deadline: Option<std::time::Instant>,
}

impl StoreState {
    pub(crate) fn new(memory_limit: u64, wasi: bool, real_clocks: bool) -> StoreState {
        StoreState {
            limiter: Limiter {
                limit: memory_limit,
                exceeded: None,
            },
            panic: None,
            wasi: wasi.then(|| WasiState::new(real_clocks)),
            call_deadline: None,
        }
    }

    /// The WASI context the imports use.
    pub(crate) fn wasi(&mut self) -> &mut wasmtime_wasi::p1::WasiP1Ctx {
        &mut self.wasi.get_or_insert_with(|| WasiState::new(false)).ctx
    }
}

impl crate::wasi::poll::Waits for StoreState {
    fn call_deadline(&self) -> Option<std::time::Instant> {
        self.call_deadline
    }

    fn clocks(&self) -> Option<crate::wasi::poll::Clocks> {
        self.wasi.as_ref().map(WasiState::clocks)
    }
}

/// The `xyz.panic(msg, len)` import: keeps the guest's panic message for the trap that follows.
/// Reads `len` bytes at `msg` in the guest's memory, which stays the guest's.
pub(crate) fn host_panic(mut caller: Caller<'_, StoreState>, ptr: i32, len: i32) {
    let Some(wasmtime::Extern::Memory(memory)) = caller.get_export(exports::MEMORY) else {
        return;
    };
    let (ptr, len) = (
        ptr as u32 as usize,
        (len as u32 as usize).min(MAX_PANIC_MESSAGE),
    );
    let text = memory
        .data(&caller)
        .get(ptr..ptr.saturating_add(len))
        .map(|b| String::from_utf8_lossy(b).into_owned());
    caller.data_mut().panic = text;
}

/// Where each part of the scratch region is, for one chunk size.
struct Layout {
    size: usize,
    arg_cols: usize,
    out_cols: usize,
    status: usize,
    /// Per argument: (offsets offset or 0, data offset, data length).
    args: Vec<(usize, usize, usize)>,
    /// Per output: data offset (non-string outputs).
    outs: Vec<usize>,
}

fn align8(x: usize) -> usize {
    x.div_ceil(8) * 8
}

impl Layout {
    fn new(sig: &Signature, args: &Columns) -> Layout {
        let n = args.n;
        let arg_cols = L::CALL_SIZE;
        let out_cols = arg_cols + L::COLUMN_SIZE * sig.args.len();
        let status = out_cols + L::COLUMN_SIZE * sig.outputs.len();
        let mut at = align8(status + n);
        let mut arg_places = Vec::with_capacity(args.cols.len());
        for col in &args.cols {
            match col {
                Column::Str(v) => {
                    let offsets = at;
                    at = align8(at + 4 * (n + 1));
                    let bytes: usize = v.iter().map(String::len).sum();
                    arg_places.push((offsets, at, bytes));
                    at = align8(at + bytes);
                }
                Column::Bool(_) => {
                    arg_places.push((0, at, n));
                    at = align8(at + n);
                }
                Column::I64(_) | Column::F64(_) => {
                    arg_places.push((0, at, 8 * n));
                    at += 8 * n;
                }
                Column::C128(_) => {
                    arg_places.push((0, at, 16 * n));
                    at += 16 * n;
                }
            }
        }
        let mut outs = Vec::with_capacity(sig.outputs.len());
        for out in &sig.outputs {
            outs.push(at);
            at = align8(at + out.ty.fixed_size().unwrap_or(0) * n * out.elements());
        }
        Layout {
            size: at.max(8),
            arg_cols,
            out_cols,
            status,
            args: arg_places,
            outs,
        }
    }
}

/// A live instance of a [`WasmFunction`](crate::WasmFunction).
pub(crate) struct WasmInstance {
    store: Store<StoreState>,
    memory: Memory,
    eval: TypedFunc<i32, i32>,
    alloc: TypedFunc<(i32, i32), i32>,
    free: TypedFunc<(i32, i32, i32), ()>,
    signature: Signature,
    deadline_ticks: Option<u64>,
    deadline: Option<std::time::Duration>,
    /// The scratch region: guest address and size.
    scratch: (u32, usize),
    /// For a WASI module, its SHA-256, which seeds each case's randomness.
    wasi_sha256: Option<Vec<u8>>,
}

fn rd32(mem: &[u8], at: usize) -> Option<u32> {
    mem.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn wr32(mem: &mut [u8], at: usize, v: u32) {
    mem[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn malformed(what: &str) -> Trap {
    Trap {
        kind: FailureKind::Trap,
        message: format!("the module returned a malformed {what}"),
    }
}

/// Reads a string column of `n` strings that the guest described at `col` (guest address),
/// taking their bytes from `budget`: a call may hand back no more string bytes in all than
/// the guest's memory holds, however its columns overlap. Strings that are not UTF-8 are read
/// lossily, and their positions put in `invalid`.
fn read_strings(
    mem: &[u8],
    col: usize,
    n: usize,
    what: &str,
    budget: &mut usize,
    invalid: &mut Vec<usize>,
) -> Result<Vec<String>, Trap> {
    let data = rd32(mem, col + L::COLUMN_DATA).ok_or_else(|| malformed(what))? as usize;
    let len = rd32(mem, col + L::COLUMN_LEN).ok_or_else(|| malformed(what))? as usize;
    let offsets = rd32(mem, col + L::COLUMN_OFFSETS).ok_or_else(|| malformed(what))? as usize;
    let bytes = mem.get(data..data + len).ok_or_else(|| malformed(what))?;
    let offs = mem
        .get(offsets..offsets + 4 * (n + 1))
        .ok_or_else(|| malformed(what))?;
    let mut out = Vec::with_capacity(n);
    let mut prev = rd32(offs, 0).unwrap_or(0) as usize;
    for i in 1..=n {
        let next = rd32(offs, 4 * i).unwrap_or(0) as usize;
        let s = bytes.get(prev..next).ok_or_else(|| malformed(what))?;
        *budget = budget.checked_sub(s.len()).ok_or_else(|| Trap {
            kind: FailureKind::Memory,
            message: format!(
                "the strings it returned in one call hold more bytes than its {} bytes of \
                 memory",
                mem.len()
            ),
        })?;
        match std::str::from_utf8(s) {
            Ok(text) => out.push(text.to_owned()),
            Err(_) => {
                invalid.push(i - 1);
                out.push(String::from_utf8_lossy(s).into_owned());
            }
        }
        prev = next;
    }
    Ok(out)
}

impl WasmInstance {
    pub(crate) fn new(
        mut store: Store<StoreState>,
        pre: &InstancePre<StoreState>,
        signature: &Signature,
        deadline: Option<std::time::Duration>,
        wasi_sha256: Option<Vec<u8>>,
    ) -> wasmtime::Result<WasmInstance> {
        let deadline_ticks = deadline.map(crate::epoch::ticks);
        store.set_epoch_deadline(deadline_ticks.unwrap_or(u64::MAX / 2));
        let instance = pre.instantiate(&mut store)?;
        initialize(&instance, &mut store)?;
        let memory = instance
            .get_memory(&mut store, exports::MEMORY)
            .ok_or_else(|| wasmtime::format_err!("the module exports no memory"))?;
        Ok(WasmInstance {
            eval: instance.get_typed_func(&mut store, exports::EVAL)?,
            alloc: instance.get_typed_func(&mut store, exports::ALLOC)?,
            free: instance.get_typed_func(&mut store, exports::FREE)?,
            memory,
            store,
            signature: signature.clone(),
            deadline_ticks,
            deadline,
            scratch: (0, 0),
            wasi_sha256,
        })
    }

    fn trap(&mut self, err: wasmtime::Error) -> Trap {
        let deadline = self.deadline;
        let state = self.store.data_mut();
        if let Some(bytes) = state.limiter.exceeded.take() {
            return Trap {
                kind: FailureKind::Memory,
                message: format!(
                    "exceeded the memory limit of {:.1} MiB (tried to grow to {:.1} MiB)",
                    state.limiter.limit as f64 / MIB,
                    bytes as f64 / MIB
                ),
            };
        }
        let panic = state.panic.take();
        let output = state
            .wasi
            .as_ref()
            .map(WasiState::output)
            .unwrap_or_default();
        let mut trap = Self::classify(err, deadline, panic);
        trap.message.push_str(&output);
        trap
    }

    /// What a trap means: a deadline, a panic, a WASI `proc_exit`, or another fault.
    fn classify(
        err: wasmtime::Error,
        deadline: Option<std::time::Duration>,
        panic: Option<String>,
    ) -> Trap {
        if let Some(exit) = err.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return Trap {
                kind: FailureKind::Error,
                message: format!(
                    "exited with code {} (proc_exit) before returning its outputs",
                    exit.0
                ),
            };
        }
        match err.downcast_ref::<WasmTrap>() {
            Some(WasmTrap::Interrupt) => Trap {
                kind: FailureKind::Deadline,
                message: match deadline {
                    Some(d) => format!("ran past its deadline of {d:?}"),
                    None => "was interrupted".to_string(),
                },
            },
            Some(WasmTrap::UnreachableCodeReached) if panic.is_some() => Trap {
                kind: FailureKind::Panic,
                message: panic.unwrap_or_default(),
            },
            Some(t) => Trap {
                kind: FailureKind::Trap,
                message: t.to_string(),
            },
            None => Trap {
                kind: FailureKind::Trap,
                message: format!("{err:#}"),
            },
        }
    }

    /// Makes sure the scratch region holds `size` bytes.
    fn reserve(&mut self, size: usize) -> Result<u32, Trap> {
        if self.scratch.1 >= size {
            return Ok(self.scratch.0);
        }
        if self.scratch.1 > 0 {
            let (ptr, len) = self.scratch;
            self.free
                .call(&mut self.store, (ptr as i32, len as i32, 8))
                .map_err(|e| self.trap(e))?;
            self.scratch = (0, 0);
        }
        let want = size.max(self.scratch.1 * 2).max(4096);
        let ptr = self
            .alloc
            .call(&mut self.store, (want as i32, 8))
            .map_err(|e| self.trap(e))? as u32;
        let end = ptr as usize + want;
        if ptr == 0 || end > self.memory.data_size(&self.store) {
            return Err(Trap {
                kind: FailureKind::Memory,
                message: format!("the module could not allocate {want} bytes for a call"),
            });
        }
        self.scratch = (ptr, want);
        Ok(ptr)
    }

    fn write_call(&mut self, base: usize, layout: &Layout, args: &Columns) {
        let n = args.n;
        let mem = self.memory.data_mut(&mut self.store);
        let abs = |off: usize| (base + off) as u32;
        wr32(mem, base + L::CALL_N, n as u32);
        wr32(mem, base + L::CALL_ARGS, abs(layout.arg_cols));
        wr32(mem, base + L::CALL_OUTPUTS, abs(layout.out_cols));
        wr32(mem, base + L::CALL_STATUS, abs(layout.status));
        mem[base + L::CALL_ERRORS..base + L::CALL_ERRORS + L::COLUMN_SIZE].fill(0);
        for (k, (col, &(offsets, data, len))) in args.cols.iter().zip(&layout.args).enumerate() {
            let c = base + layout.arg_cols + k * L::COLUMN_SIZE;
            wr32(mem, c + L::COLUMN_DATA, abs(data));
            wr32(mem, c + L::COLUMN_LEN, len as u32);
            wr32(
                mem,
                c + L::COLUMN_OFFSETS,
                if offsets == 0 { 0 } else { abs(offsets) },
            );
            let dst = &mut mem[base + data..base + data + len];
            match col {
                Column::F64(v) => {
                    for (d, x) in dst.chunks_exact_mut(8).zip(v) {
                        d.copy_from_slice(&x.to_le_bytes());
                    }
                }
                Column::I64(v) => {
                    for (d, x) in dst.chunks_exact_mut(8).zip(v) {
                        d.copy_from_slice(&x.to_le_bytes());
                    }
                }
                Column::C128(v) => {
                    for (d, z) in dst.chunks_exact_mut(16).zip(v) {
                        d[..8].copy_from_slice(&z.re.to_le_bytes());
                        d[8..].copy_from_slice(&z.im.to_le_bytes());
                    }
                }
                Column::Bool(v) => {
                    for (d, x) in dst.iter_mut().zip(v) {
                        *d = u8::from(*x);
                    }
                }
                Column::Str(v) => {
                    let mut at = 0;
                    for s in v {
                        dst[at..at + s.len()].copy_from_slice(s.as_bytes());
                        at += s.len();
                    }
                    let mut off = 0u32;
                    wr32(mem, base + offsets, 0);
                    for (i, s) in v.iter().enumerate() {
                        off += s.len() as u32;
                        wr32(mem, base + offsets + 4 * (i + 1), off);
                    }
                }
            }
        }
        for (k, (output, &data)) in self.signature.outputs.iter().zip(&layout.outs).enumerate() {
            let c = base + layout.out_cols + k * L::COLUMN_SIZE;
            let len = output.ty.fixed_size().unwrap_or(0) * n * output.elements();
            let is_str = output.ty == ScalarType::Str;
            wr32(mem, c + L::COLUMN_DATA, if is_str { 0 } else { abs(data) });
            wr32(mem, c + L::COLUMN_LEN, len as u32);
            wr32(mem, c + L::COLUMN_OFFSETS, 0);
        }
    }

    fn read_results(
        &mut self,
        base: usize,
        layout: &Layout,
        out: &mut EvalOutput,
    ) -> Result<(), Trap> {
        let n = out.n;
        let mem = self.memory.data(&self.store);
        let status = &mem[base + layout.status..base + layout.status + n];
        let mut messages: Option<Vec<String>> = None;
        let mut budget = mem.len();
        for (i, st) in status.iter().enumerate() {
            match *st {
                STATUS_OK => {}
                STATUS_ERROR => {
                    if messages.is_none() {
                        messages = Some(read_strings(
                            mem,
                            base + L::CALL_ERRORS,
                            n,
                            "error column",
                            &mut budget,
                            &mut Vec::new(),
                        )?);
                    }
                    let msg = messages.as_ref().map(|m| m[i].clone()).unwrap_or_default();
                    out.errors.push((i, msg));
                }
                other => out
                    .errors
                    .push((i, format!("the module set an invalid status {other}"))),
            }
        }
        let mut not_utf8 = Vec::new();
        for (k, (output, col)) in self
            .signature
            .outputs
            .iter()
            .zip(out.cols.iter_mut())
            .enumerate()
        {
            let data = base + layout.outs[k];
            let len = n * output.elements();
            match col {
                Column::F64(v) => {
                    for (x, b) in v.iter_mut().zip(mem[data..data + 8 * len].chunks_exact(8)) {
                        *x = f64::from_le_bytes(b.try_into().expect("8 bytes"));
                    }
                }
                Column::I64(v) => {
                    for (x, b) in v.iter_mut().zip(mem[data..data + 8 * len].chunks_exact(8)) {
                        *x = i64::from_le_bytes(b.try_into().expect("8 bytes"));
                    }
                }
                Column::C128(v) => {
                    for (z, b) in v
                        .iter_mut()
                        .zip(mem[data..data + 16 * len].chunks_exact(16))
                    {
                        let (re, im) = b.split_at(8);
                        z.re = f64::from_le_bytes(re.try_into().expect("8 bytes"));
                        z.im = f64::from_le_bytes(im.try_into().expect("8 bytes"));
                    }
                }
                Column::Bool(v) => {
                    for (x, b) in v.iter_mut().zip(&mem[data..data + len]) {
                        *x = *b != 0;
                    }
                }
                Column::Str(v) => {
                    let c = base + layout.out_cols + k * L::COLUMN_SIZE;
                    let what = format!("string column for output `{}`", output.name);
                    let mut invalid = Vec::new();
                    *v = read_strings(mem, c, n, &what, &mut budget, &mut invalid)?;
                    not_utf8.push((&output.name, invalid));
                }
            }
        }
        for (name, invalid) in not_utf8 {
            out.fail_invalid_utf8(name, &invalid);
        }
        Ok(())
    }
}

impl WasmInstance {
    /// Evaluates the cases of `args` one call each, for a WASI module: each case gets its own
    /// seed, clocks and captured output, and a failing case's output goes with its message.
    fn eval_each(
        &mut self,
        sha256: &[u8],
        args: &Columns,
        out: &mut EvalOutput,
    ) -> Result<(), Trap> {
        let mut one = Columns {
            n: 1,
            cols: args.cols.iter().map(|c| Column::new(c.ty())).collect(),
        };
        let mut result = EvalOutput::default();
        for i in 0..args.n {
            for (col, src) in one.cols.iter_mut().zip(&args.cols) {
                col.clear();
                col.push_from(src, i);
            }
            if let Some(wasi) = self.store.data_mut().wasi.as_mut() {
                wasi.begin_case(sha256, &one);
            }
            result.reset(&self.signature.outputs, 1);
            self.eval_chunk(&one, &mut result)?;
            for (k, output) in self.signature.outputs.iter().enumerate() {
                let e = output.elements();
                out.cols[k].copy_run(i * e, &result.cols[k], 0, e);
            }
            if let Some((_, message)) = result.errors.first() {
                let output = self
                    .store
                    .data()
                    .wasi
                    .as_ref()
                    .map(WasiState::output)
                    .unwrap_or_default();
                out.errors.push((i, format!("{message}{output}")));
            }
        }
        Ok(())
    }

    /// Evaluates the cases of `args` in one call of `xyz_eval`.
    fn eval_chunk(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
        let layout = Layout::new(&self.signature, args);
        let base = self.reserve(layout.size)? as usize;
        self.write_call(base, &layout, args);
        self.store.data_mut().panic = None;
        if let Some(ticks) = self.deadline_ticks {
            self.store.set_epoch_deadline(ticks);
        }
        self.store.data_mut().call_deadline = self
            .deadline
            .and_then(|d| std::time::Instant::now().checked_add(d));
        let code = self
            .eval
            .call(&mut self.store, base as i32)
            .map_err(|e| self.trap(e))?;
        if code != EVAL_OK {
            return Err(Trap {
                kind: FailureKind::Trap,
                message: format!("xyz_eval refused the call (code {code})"),
            });
        }
        self.read_results(base, &layout, out)
    }
}

impl Instance for WasmInstance {
    fn eval(&mut self, args: &Columns, out: &mut EvalOutput) -> Result<(), Trap> {
        match self.wasi_sha256.take() {
            Some(sha256) => {
                let done = self.eval_each(&sha256, args, out);
                self.wasi_sha256 = Some(sha256);
                done
            }
            None => self.eval_chunk(args, out),
        }
    }
}

/// Runs a WASI module's `_initialize` (a reactor's start: the C library's set-up), if it
/// exports one.
pub(crate) fn initialize(
    instance: &wasmtime::Instance,
    store: &mut Store<StoreState>,
) -> wasmtime::Result<()> {
    match instance.get_typed_func::<(), ()>(&mut *store, "_initialize") {
        Ok(init) => init.call(&mut *store, ()),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(n: usize, cols: Vec<Column>) -> Columns {
        Columns { n, cols }
    }

    #[test]
    fn the_scratch_region_holds_every_block_aligned_and_apart() {
        let sig: Signature = "f(x: f64, s: str, b: bool, z: c128) -> (y: f64[t=3], k: i64, w: str)"
            .parse()
            .unwrap();
        let n = 5;
        let args = columns(
            n,
            vec![
                Column::F64(vec![0.0; n]),
                Column::Str(["a", "bb", "", "dddd", "e"].map(String::from).to_vec()),
                Column::Bool(vec![true; n]),
                Column::C128(vec![xyz_core::Complex64::new(0.0, 0.0); n]),
            ],
        );
        let l = Layout::new(&sig, &args);
        assert_eq!(l.arg_cols, L::CALL_SIZE);
        assert_eq!(l.out_cols, L::CALL_SIZE + 4 * L::COLUMN_SIZE);
        assert_eq!(l.status, l.out_cols + 3 * L::COLUMN_SIZE);
        // Every data block starts 8-byte aligned, after the status bytes, and no two blocks
        // overlap: (start, length) of each, in order.
        let mut blocks: Vec<(usize, usize)> = Vec::new();
        for (k, (offsets, data, len)) in l.args.iter().enumerate() {
            if k == 1 {
                assert_eq!(*len, 8, "the strings' bytes");
                blocks.push((*offsets, 4 * (n + 1)));
            } else {
                assert_eq!(*offsets, 0, "only strings have offsets");
            }
            blocks.push((*data, *len));
        }
        blocks.push((l.outs[0], 8 * 3 * n));
        blocks.push((l.outs[1], 8 * n));
        let mut end = l.status + n;
        for (start, len) in blocks {
            assert_eq!(start % 8, 0, "{start} is not 8-byte aligned");
            assert!(
                start >= end,
                "a block at {start} overlaps one ending at {end}"
            );
            end = start + len;
        }
        assert!(
            l.size >= end,
            "the region ({}) holds every block ({end})",
            l.size
        );
        // A string output has no block of its own: the guest allocates its bytes.
        assert_eq!(l.outs.len(), 3);
        assert_eq!(l.outs[2], l.size);
    }

    #[test]
    fn an_empty_chunk_still_has_a_region() {
        let sig: Signature = "f() -> (y: f64)".parse().unwrap();
        let l = Layout::new(&sig, &columns(0, Vec::new()));
        assert!(l.size >= 8);
        assert!(l.args.is_empty());
    }

    #[test]
    fn memory_beyond_the_limit_is_refused_and_remembered() {
        let mut limiter = Limiter {
            limit: 1 << 20,
            exceeded: None,
        };
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(
            limiter
                .memory_growing(1 << 20, (1 << 20) + 1, None)
                .is_err()
        );
        assert_eq!(limiter.exceeded, Some((1 << 20) + 1));
        assert!(limiter.table_growing(0, 1 << 20, None).unwrap());
        assert!(!limiter.table_growing(0, (1 << 20) + 1, None).unwrap());
    }
}
