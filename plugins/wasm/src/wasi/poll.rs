//! `poll_oneoff`, xyz's own: the one WASI call that waits. wasmtime's waits on the host's
//! clock in host code, where no deadline reaches it, so a module asking to sleep for 2^62 ns
//! would hold its worker forever. Here:
//!
//! - with the case's clocks (the default), a clock subscription is met at once and the case's
//!   clocks move on by what it waited: a sleep costs nothing and gives the same result on every
//!   run;
//! - with the host's clocks (`clocks = "real"`), it is a real sleep, cut short by the call's
//!   deadline, which then fails the case as any deadline does;
//! - stdin is always at its end and stdout and stderr always take more, so subscriptions to
//!   them are met at once; any other descriptor is not open.

use std::time::{Duration, Instant, SystemTime};

use wasmtime::Caller;

/// The size of a `subscription` and of an `event` in guest memory.
const SUBSCRIPTION: usize = 48;
const EVENT: usize = 32;

/// WASI errnos.
const SUCCESS: i32 = 0;
const BADF: u16 = 8;
const FAULT: i32 = 21;
const INVAL: i32 = 28;

/// `eventtype`s, and the flag of an fd event at its end.
const CLOCK: u8 = 0;
const FD_READ: u8 = 1;
const FD_WRITE: u8 = 2;
const HANGUP: u16 = 1;

/// `subclockflags`: the timeout is an absolute time of the clock.
const ABSTIME: u16 = 1;

/// The longest a real sleep waits at a time before it looks at the deadline again.
const SLICE: Duration = Duration::from_millis(20);

/// One subscription, decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Subscription {
    /// Wait on clock `id` for `timeout` ns (or until it reads `timeout`, if `absolute`).
    Clock {
        id: u32,
        timeout: u64,
        absolute: bool,
    },
    /// Wait until `fd` can be read (`write` false) or written.
    Fd { fd: u32, write: bool },
    /// A tag WASI does not define.
    Unknown,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// Decodes the subscription in `b` (48 bytes): its userdata and what it waits for.
fn decode(b: &[u8]) -> (u64, Subscription) {
    let userdata = u64_at(b, 0);
    let sub = match b[8] {
        0 => Subscription::Clock {
            id: u32_at(b, 16),
            timeout: u64_at(b, 24),
            absolute: u16::from_le_bytes([b[40], b[41]]) & ABSTIME != 0,
        },
        1 | 2 => Subscription::Fd {
            fd: u32_at(b, 16),
            write: b[8] == 2,
        },
        _ => Subscription::Unknown,
    };
    (userdata, sub)
}

/// An event, as WASI lays it out (32 bytes).
fn event(userdata: u64, error: u16, kind: u8, nbytes: u64, flags: u16) -> [u8; EVENT] {
    let mut e = [0u8; EVENT];
    e[0..8].copy_from_slice(&userdata.to_le_bytes());
    e[8..10].copy_from_slice(&error.to_le_bytes());
    e[10] = kind;
    e[16..24].copy_from_slice(&nbytes.to_le_bytes());
    e[24..26].copy_from_slice(&flags.to_le_bytes());
    e
}

/// What the subscriptions met at once give: events for the descriptors (stdin at its end,
/// stdout and stderr writable, others not open) and for unknown tags.
fn at_once(subs: &[(u64, Subscription)]) -> Vec<[u8; EVENT]> {
    subs.iter()
        .filter_map(|&(userdata, sub)| match sub {
            Subscription::Fd {
                fd: 0,
                write: false,
            } => Some(event(userdata, 0, FD_READ, 0, HANGUP)),
            Subscription::Fd {
                fd: 1 | 2,
                write: true,
            } => Some(event(userdata, 0, FD_WRITE, 1 << 20, 0)),
            Subscription::Fd { write, .. } => Some(event(
                userdata,
                BADF,
                if write { FD_WRITE } else { FD_READ },
                0,
                0,
            )),
            Subscription::Unknown => Some(event(userdata, INVAL as u16, CLOCK, 0, 0)),
            Subscription::Clock { .. } => None,
        })
        .collect()
}

/// How long each clock subscription waits from now, `now(id)` reading clock `id` in ns
/// (`None` for a clock WASI has but xyz does not give).
fn waits(
    subs: &[(u64, Subscription)],
    now: impl Fn(u32) -> Option<u64>,
) -> Vec<(u64, Option<u64>)> {
    subs.iter()
        .filter_map(|&(userdata, sub)| match sub {
            Subscription::Clock {
                id,
                timeout,
                absolute,
            } => Some((
                userdata,
                now(id).map(|now| {
                    if absolute {
                        timeout.saturating_sub(now)
                    } else {
                        timeout
                    }
                }),
            )),
            _ => None,
        })
        .collect()
}

/// What `poll_oneoff` needs of a store's state.
pub(crate) trait Waits {
    /// When the call under way must end, where it has a deadline.
    fn call_deadline(&self) -> Option<Instant>;
    /// The clocks the store's WASI gives, if it has WASI.
    fn clocks(&self) -> Option<Clocks>;
}

/// The `poll_oneoff(in, out, nsubscriptions, nevents)` import.
pub(crate) fn poll_oneoff<T: Waits>(
    mut caller: Caller<'_, T>,
    input: i32,
    output: i32,
    nsubscriptions: i32,
    nevents: i32,
) -> wasmtime::Result<i32> {
    let Some(wasmtime::Extern::Memory(memory)) = caller.get_export("memory") else {
        return Ok(FAULT);
    };
    let n = nsubscriptions as u32 as usize;
    if n == 0 {
        return Ok(INVAL);
    }
    let (input, output, nevents) = (
        input as u32 as usize,
        output as u32 as usize,
        nevents as u32 as usize,
    );
    let subs: Vec<(u64, Subscription)> = {
        let data = memory.data(&caller);
        let Some(bytes) = n
            .checked_mul(SUBSCRIPTION)
            .and_then(|len| data.get(input..input.checked_add(len)?))
        else {
            return Ok(FAULT);
        };
        bytes.chunks_exact(SUBSCRIPTION).map(decode).collect()
    };
    let mut events = at_once(&subs);
    if events.is_empty() {
        let state = caller.data();
        let deadline = state.call_deadline();
        let Some(clocks) = state.clocks() else {
            return Ok(INVAL);
        };
        let waits = match &clocks {
            Clocks::Case(ticks) => {
                let now = ticks.load(std::sync::atomic::Ordering::Relaxed);
                waits(&subs, |id| (id <= 1).then_some(now))
            }
            Clocks::Host(start) => waits(&subs, |id| match id {
                0 => SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|d| d.as_nanos() as u64),
                1 => Some(start.elapsed().as_nanos() as u64),
                _ => None,
            }),
        };
        let Some(wait) = waits.iter().filter_map(|(_, w)| *w).min() else {
            // Only clocks xyz does not give.
            events = waits
                .iter()
                .map(|(userdata, _)| event(*userdata, INVAL as u16, CLOCK, 0, 0))
                .collect();
            return write_events(&mut caller, memory, output, nevents, &events);
        };
        match clocks {
            Clocks::Case(ticks) => {
                let _ = ticks.fetch_update(
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                    |t| Some(t.saturating_add(wait)),
                );
            }
            Clocks::Host(_) => sleep(Duration::from_nanos(wait), deadline)?,
        }
        events = waits
            .iter()
            .filter(|(_, w)| w.is_some_and(|w| w <= wait))
            .map(|(userdata, _)| event(*userdata, 0, CLOCK, 0, 0))
            .collect();
    }
    write_events(&mut caller, memory, output, nevents, &events)
}

/// The clocks a store's WASI gives: the case's (its tick counter), or the host's (with the
/// instant its monotonic clock counts from).
pub(crate) enum Clocks {
    Case(std::sync::Arc<std::sync::atomic::AtomicU64>),
    Host(Instant),
}

/// Sleeps for `wait`, or until `deadline` if that comes first, when it fails the call as a
/// deadline does.
fn sleep(wait: Duration, deadline: Option<Instant>) -> wasmtime::Result<()> {
    let end = Instant::now().checked_add(wait);
    loop {
        let now = Instant::now();
        if end.is_some_and(|end| now >= end) {
            return Ok(());
        }
        if deadline.is_some_and(|d| now >= d) {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        let mut slice = SLICE;
        if let Some(end) = end {
            slice = slice.min(end - now);
        }
        if let Some(d) = deadline {
            slice = slice.min(d - now);
        }
        std::thread::sleep(slice);
    }
}

fn write_events<T>(
    caller: &mut Caller<'_, T>,
    memory: wasmtime::Memory,
    output: usize,
    nevents: usize,
    events: &[[u8; EVENT]],
) -> wasmtime::Result<i32> {
    let data = memory.data_mut(&mut *caller);
    let Some(out) = (events.len() * EVENT)
        .checked_add(output)
        .and_then(|end| data.get_mut(output..end))
    else {
        return Ok(FAULT);
    };
    for (slot, e) in out.chunks_exact_mut(EVENT).zip(events) {
        slot.copy_from_slice(e);
    }
    let Some(count) = nevents
        .checked_add(4)
        .and_then(|end| data.get_mut(nevents..end))
    else {
        return Ok(FAULT);
    };
    count.copy_from_slice(&(events.len() as u32).to_le_bytes());
    Ok(SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(userdata: u64, id: u32, timeout: u64, absolute: bool) -> [u8; SUBSCRIPTION] {
        let mut b = [0u8; SUBSCRIPTION];
        b[0..8].copy_from_slice(&userdata.to_le_bytes());
        b[8] = 0;
        b[16..20].copy_from_slice(&id.to_le_bytes());
        b[24..32].copy_from_slice(&timeout.to_le_bytes());
        b[40..42].copy_from_slice(&u16::from(absolute).to_le_bytes());
        b
    }

    fn fd(userdata: u64, fd: u32, write: bool) -> [u8; SUBSCRIPTION] {
        let mut b = [0u8; SUBSCRIPTION];
        b[0..8].copy_from_slice(&userdata.to_le_bytes());
        b[8] = if write { 2 } else { 1 };
        b[16..20].copy_from_slice(&fd.to_le_bytes());
        b
    }

    #[test]
    fn subscriptions_decode_as_wasi_lays_them_out() {
        assert_eq!(
            decode(&clock(7, 1, 1 << 62, true)),
            (
                7,
                Subscription::Clock {
                    id: 1,
                    timeout: 1 << 62,
                    absolute: true
                }
            )
        );
        assert_eq!(
            decode(&fd(3, 2, true)),
            (3, Subscription::Fd { fd: 2, write: true })
        );
        let mut odd = fd(1, 0, false);
        odd[8] = 9;
        assert_eq!(decode(&odd).1, Subscription::Unknown);
    }

    #[test]
    fn descriptors_are_met_at_once_and_clocks_wait_the_least_of_their_times() {
        let subs: Vec<_> = [fd(1, 0, false), fd(2, 1, true), fd(3, 5, false)]
            .iter()
            .map(|b| decode(b))
            .collect();
        let events = at_once(&subs);
        assert_eq!(events.len(), 3);
        assert_eq!(events[0], event(1, 0, FD_READ, 0, HANGUP));
        assert_eq!(events[1][10], FD_WRITE);
        assert_eq!(u16::from_le_bytes([events[2][8], events[2][9]]), BADF);

        let subs: Vec<_> = [
            clock(1, 1, 500, false),
            clock(2, 0, 1_200, true),
            clock(3, 3, 1, false),
        ]
        .iter()
        .map(|b| decode(b))
        .collect();
        assert!(at_once(&subs).is_empty());
        let w = waits(&subs, |id| (id <= 1).then_some(1_000));
        assert_eq!(w, [(1, Some(500)), (2, Some(200)), (3, None)]);
        // A time already past waits nothing.
        let w = waits(&subs[1..2], |_| Some(5_000));
        assert_eq!(w, [(2, Some(0))]);
    }

    #[test]
    fn a_real_sleep_ends_at_the_deadline_as_a_deadline() {
        let start = Instant::now();
        let err = sleep(
            Duration::from_nanos(1 << 62),
            Some(start + Duration::from_millis(50)),
        )
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::Interrupt)
        );
        sleep(Duration::from_millis(10), None).unwrap();
    }
}
