//! WASI preview 1 for modules built for `wasm32-wasip1` (C and C++ with wasi-libc, Rust with
//! `std`), served by wasmtime's own implementation with a context that denies by default: no
//! preopened directories, so no files; no sockets; no environment; empty argv; stdin empty.
//!
//! What a case sees is made the same on every run, so a case gives the same result whenever
//! and wherever it is evaluated:
//!
//! - the clocks start at zero for each case and advance by one microsecond each time they are
//!   read;
//! - `random_get` draws from a generator seeded from the case's arguments and the module's
//!   SHA-256 (not secure: it is for reproducible simulations, not secrets);
//! - stdout and stderr are captured, up to [`CAPTURE_LIMIT`] bytes each a case, dropped when
//!   the case succeeds and attached to its failure message when it fails.
//!
//! A WASI module is evaluated one case per call, so that each case's seed and output are its
//! own; `proc_exit` ends the case as a failure naming the exit code. Each case starts from a
//! fresh context (its descriptor table as at the start), so no case sees what another did to
//! it. `poll_oneoff`, the call that waits, is xyz's own ([`poll`]).

pub(crate) mod poll;

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::TryRng;
use sha2::{Digest, Sha256};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};
use xyz_core::{Column, Columns};

/// The import module of WASI preview 1.
pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

/// Most bytes of stdout, and of stderr, kept for one case.
pub const CAPTURE_LIMIT: usize = 16 << 10;

/// What one store keeps for WASI: the context the imports use, and the handles that reset it
/// for each case.
pub(crate) struct WasiState {
    pub(crate) ctx: WasiP1Ctx,
    stdout: Captured,
    stderr: Captured,
    ticks: Arc<AtomicU64>,
    seed: Arc<Mutex<u64>>,
    /// Whether the clocks and randomness are the host's.
    real: bool,
    /// What the host's monotonic clock counts from, when the clocks are the host's.
    start: Instant,
}

impl WasiState {
    /// A deny-by-default context, with clocks and randomness the same for a case on every
    /// run unless `real` (then the host's).
    pub(crate) fn new(real: bool) -> WasiState {
        let mut state = WasiState {
            ctx: WasiCtxBuilder::new().build_p1(),
            stdout: Captured::default(),
            stderr: Captured::default(),
            ticks: Arc::new(AtomicU64::new(0)),
            seed: Arc::new(Mutex::new(0)),
            real,
            start: Instant::now(),
        };
        state.ctx = state.build();
        state
    }

    /// A fresh context over this state's streams, clocks and generator.
    fn build(&self) -> WasiP1Ctx {
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone());
        if self.real {
            builder.monotonic_clock(HostClock(self.start));
        } else {
            builder
                .wall_clock(CaseClock(self.ticks.clone()))
                .monotonic_clock(CaseClock(self.ticks.clone()))
                .secure_random(CaseRng(self.seed.clone()))
                .insecure_random(CaseRng(self.seed.clone()))
                .insecure_random_seed(0);
        }
        builder.build_p1()
    }

    /// Readies the context for the case of `args` (one case) of the module `sha256`: a fresh
    /// context, clocks at zero, the generator seeded from the arguments, no output captured.
    pub(crate) fn begin_case(&mut self, sha256: &[u8], args: &Columns) {
        if !self.real {
            self.ticks.store(0, Ordering::Relaxed);
            *self.seed.lock().unwrap_or_else(PoisonError::into_inner) = case_seed(sha256, args);
        }
        self.stdout.clear();
        self.stderr.clear();
        self.ctx = self.build();
    }

    /// The clocks the context gives, for [`poll::poll_oneoff`].
    pub(crate) fn clocks(&self) -> poll::Clocks {
        if self.real {
            poll::Clocks::Host(self.start)
        } else {
            poll::Clocks::Case(self.ticks.clone())
        }
    }

    /// What the case wrote to stdout and stderr, for a failure message: empty when it wrote
    /// nothing.
    pub(crate) fn output(&self) -> String {
        let mut text = String::new();
        for (name, stream) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let (bytes, dropped) = stream.contents();
            if bytes.is_empty() {
                continue;
            }
            text.push_str(&format!("\n--- {name} ---\n"));
            text.push_str(String::from_utf8_lossy(&bytes).trim_end());
            if dropped > 0 {
                text.push_str(&format!("\n[{dropped} more bytes not kept]"));
            }
        }
        text
    }
}

/// The seed of a case: the first 8 bytes of SHA-256 over the module's SHA-256 and the case's
/// arguments, each value tagged with its type.
fn case_seed(sha256: &[u8], args: &Columns) -> u64 {
    let mut h = Sha256::new();
    h.update(sha256);
    for col in &args.cols {
        match col {
            Column::I64(v) => v.iter().for_each(|x| {
                h.update([0]);
                h.update(x.to_le_bytes());
            }),
            Column::F64(v) => v.iter().for_each(|x| {
                h.update([1]);
                h.update(x.to_bits().to_le_bytes());
            }),
            Column::Bool(v) => v.iter().for_each(|x| h.update([2, u8::from(*x)])),
            Column::C128(v) => v.iter().for_each(|z| {
                h.update([4]);
                h.update(z.re.to_bits().to_le_bytes());
                h.update(z.im.to_bits().to_le_bytes());
            }),
            Column::Str(v) => v.iter().for_each(|s| {
                h.update([3]);
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }),
        }
    }
    let digest = h.finalize();
    u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
}

/// A clock that starts at zero for each case and advances by a microsecond a reading.
struct CaseClock(Arc<AtomicU64>);

impl CaseClock {
    fn tick(&self) -> u64 {
        self.0.fetch_add(1_000, Ordering::Relaxed) + 1_000
    }
}

impl HostWallClock for CaseClock {
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }

    fn now(&self) -> Duration {
        Duration::from_nanos(self.tick())
    }
}

impl HostMonotonicClock for CaseClock {
    fn resolution(&self) -> u64 {
        1_000
    }

    fn now(&self) -> u64 {
        self.tick()
    }
}

/// The host's monotonic clock, counted from the state's start, which `poll_oneoff` reads too.
struct HostClock(Instant);

impl HostMonotonicClock for HostClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// SplitMix64 over a state the host reseeds for each case.
struct CaseRng(Arc<Mutex<u64>>);

impl TryRng for CaseRng {
    type Error = std::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

/// An output stream that keeps the first [`CAPTURE_LIMIT`] bytes written and counts the rest:
/// a chatty function never fills it, and never fails to write.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<(Vec<u8>, u64)>>);

impl Captured {
    fn keep(&self, bytes: &[u8]) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let room = CAPTURE_LIMIT.saturating_sub(held.0.len()).min(bytes.len());
        held.0.extend_from_slice(&bytes[..room]);
        held.1 += (bytes.len() - room) as u64;
    }

    fn clear(&self) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        held.0.clear();
        held.1 = 0;
    }

    /// The bytes kept, and how many more were written.
    fn contents(&self) -> (Vec<u8>, u64) {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        (held.0.clone(), held.1)
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.keep(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(1 << 20)
    }
}

#[async_trait::async_trait]
impl Pollable for Captured {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Captured {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(x: f64, s: &str) -> Columns {
        Columns {
            n: 1,
            cols: vec![Column::F64(vec![x]), Column::Str(vec![s.into()])],
        }
    }

    #[test]
    fn seeds_follow_the_arguments_and_the_module() {
        let a = case_seed(b"m", &one(1.0, "a"));
        assert_eq!(a, case_seed(b"m", &one(1.0, "a")));
        assert_ne!(a, case_seed(b"m", &one(2.0, "a")));
        assert_ne!(a, case_seed(b"m", &one(1.0, "b")));
        assert_ne!(a, case_seed(b"n", &one(1.0, "a")));
    }

    #[test]
    fn capture_is_bounded_and_counts_the_rest() {
        let c = Captured::default();
        c.keep(&vec![b'x'; CAPTURE_LIMIT - 1]);
        c.keep(b"yz");
        let (kept, dropped) = c.contents();
        assert_eq!((kept.len(), dropped), (CAPTURE_LIMIT, 1));
        c.clear();
        assert_eq!(c.contents(), (Vec::new(), 0));
    }
}
