//! The worker protocol: what a parent and a worker process say to each other over the worker's
//! stdin and stdout.
//!
//! The worker opens with 8 bytes of magic, naming the protocol and its version. Every message
//! after that is a frame: a `u32` length (little endian, at most 1 GiB) and that many bytes of
//! a postcard-encoded message ([`FromWorker`] or [`ToWorker`]), whose columns are
//! [`ColumnBytes`]: numeric columns one contiguous block of little-endian bytes, and the
//! arguments of a call that repeat as runs of equal values.
//!
//! ```text
//! parent → worker, once:  Module { bytes }                          (only to a worker told to
//!                                                                     take its module so)
//! worker → parent, once:  MAGIC, then Hello { signature, sha256 }
//!                      or MAGIC, then Fatal { message }              (and the worker exits)
//! parent → worker:        Eval { n, cols }                           (one column per argument)
//! worker → parent:        Done { cols, errors }                      (one column per output)
//!                      or Trapped { kind, message }
//! ```
//!
//! The worker exits when its stdin ends. Every length and index in a message is checked
//! against what the reader expects before it is used.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use crate::encoding::{ColumnBytes, Runs};
use crate::function::Trap;
use crate::value::{Columns, EvalOutput, FailureKind};

/// Opens a worker's first message; names the protocol and its version.
pub(crate) const MAGIC: &[u8; 8] = b"xyzwrk03";

/// Longest frame either side accepts: a bound on what a broken peer can make us allocate.
const MAX_FRAME: usize = 1 << 30;

/// What a worker says.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker<'a> {
    /// It serves the function with this signature and sha256.
    Hello {
        /// The signature, as text.
        #[serde(borrow)]
        signature: Cow<'a, str>,
        /// The function file's SHA-256, if it has one.
        #[serde(borrow)]
        sha256: Option<Cow<'a, str>>,
    },
    /// It could not load the function, and exits.
    Fatal {
        /// Why.
        #[serde(borrow)]
        message: Cow<'a, str>,
    },
    /// A call's results.
    Done {
        /// One column per output.
        #[serde(borrow)]
        cols: Vec<ColumnBytes<'a>>,
        /// The failed cases: index in the call, message.
        #[serde(borrow)]
        errors: Vec<(u32, Cow<'a, str>)>,
    },
    /// A call that trapped.
    Trapped {
        /// What kind of failure.
        kind: FailureKind,
        /// What happened.
        #[serde(borrow)]
        message: Cow<'a, str>,
    },
}

/// What a parent says.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker<'a> {
    /// Evaluate `n` cases.
    Eval {
        /// Cases.
        n: u32,
        /// One column per argument.
        #[serde(borrow)]
        cols: Vec<ColumnBytes<'a>>,
    },
    /// The function's file, for a worker that takes it over the pipe; sent once, first.
    Module {
        /// The file's bytes.
        #[serde(borrow, with = "serde_bytes")]
        bytes: Cow<'a, [u8]>,
    },
}

pub(crate) fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn len32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| bad(format!("{len} is too large for the worker protocol")))
}

/// Writes `msg` as one frame and flushes.
fn write_frame(w: &mut impl Write, msg: &impl Serialize) -> io::Result<()> {
    // The length first, then the message, in one buffer: one write to the pipe.
    let mut frame = postcard::to_extend(msg, vec![0u8; 4]).map_err(|e| bad(e.to_string()))?;
    let len = frame.len() - 4;
    if len > MAX_FRAME {
        return Err(bad(format!(
            "a message of {len} bytes, more than the {MAX_FRAME} the protocol carries"
        )));
    }
    frame[..4].copy_from_slice(&len32(len)?.to_le_bytes());
    w.write_all(&frame)?;
    w.flush()
}

/// Reads one frame into `buf`; `false` if the input ended cleanly before it.
fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len = [0u8; 4];
    match r.read(&mut len[..1])? {
        0 => return Ok(false),
        _ => r.read_exact(&mut len[1..])?,
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(bad(format!("a message of {len} bytes")));
    }
    // Grown as the bytes arrive, not allocated at the length claimed: a peer that claims a
    // gigabyte and sends ten bytes costs ten bytes.
    buf.clear();
    r.take(len as u64).read_to_end(buf)?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("a message of {len} bytes ended after {}", buf.len()),
        ));
    }
    Ok(true)
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> io::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| bad(format!("a message that does not decode: {e}")))
}

fn frame(r: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<()> {
    if read_frame(r, buf)? {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the stream ended",
        ))
    }
}

/// Opens a worker's output: the magic, and its greeting.
pub(crate) fn write_hello(
    w: &mut impl Write,
    signature: &str,
    sha256: Option<&str>,
) -> io::Result<()> {
    w.write_all(MAGIC)?;
    write_frame(
        w,
        &FromWorker::Hello {
            signature: Cow::Borrowed(signature),
            sha256: sha256.map(Cow::Borrowed),
        },
    )
}

/// Opens a worker's output that could not load its function, saying why.
pub(crate) fn write_fatal(w: &mut impl Write, message: &str) -> io::Result<()> {
    w.write_all(MAGIC)?;
    write_frame(
        w,
        &FromWorker::Fatal {
            message: Cow::Borrowed(message),
        },
    )
}

/// Reads a worker's greeting: `Ok(Ok((signature, sha256)))`, or `Ok(Err(message))` from a
/// worker that could not load its function.
pub(crate) fn read_hello(
    r: &mut impl Read,
) -> io::Result<Result<(String, Option<String>), String>> {
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(bad(if magic.starts_with(b"xyzwrk") {
            "it speaks another version of the xyz worker protocol (is it another xyz?)"
        } else {
            "it does not speak the xyz worker protocol"
        }));
    }
    let mut buf = Vec::new();
    frame(r, &mut buf)?;
    match decode(&buf)? {
        FromWorker::Hello { signature, sha256 } => Ok(Ok((
            signature.into_owned(),
            sha256.map(Cow::into_owned).filter(|s| !s.is_empty()),
        ))),
        FromWorker::Fatal { message } => Ok(Err(message.into_owned())),
        other => Err(bad(format!("it greeted with {other:?}"))),
    }
}

/// Sends a worker the function's file.
pub(crate) fn write_module(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    write_frame(
        w,
        &ToWorker::Module {
            bytes: Cow::Borrowed(bytes),
        },
    )
}

/// Reads the function's file, the first message of a worker that takes it over the pipe.
pub(crate) fn read_module(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    frame(r, &mut buf)?;
    match decode(&buf)? {
        ToWorker::Module { bytes } => Ok(bytes.into_owned()),
        ToWorker::Eval { .. } => Err(bad("a call where the function's file was due")),
    }
}

/// Writes a call of the cases in `args`: a column whose values repeat (a constant, a dim
/// other than the last of a grid) goes as runs.
pub(crate) fn write_eval(w: &mut impl Write, args: &Columns) -> io::Result<()> {
    let runs: Vec<Option<Runs>> = args.cols.iter().map(Runs::of).collect();
    write_frame(
        w,
        &ToWorker::Eval {
            n: len32(args.n)?,
            cols: args
                .cols
                .iter()
                .zip(&runs)
                .map(|(col, runs)| match runs {
                    Some(runs) => ColumnBytes::runs(runs),
                    None => ColumnBytes::of(col),
                })
                .collect(),
        },
    )
}

/// Reads the next request into `args`, whose columns have the signature's argument types;
/// `false` when the input ended.
pub(crate) fn read_eval(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    args: &mut Columns,
) -> io::Result<bool> {
    if !read_frame(r, buf)? {
        return Ok(false);
    }
    let ToWorker::Eval { n, cols } = decode(buf)? else {
        return Err(bad("a module where a call was due"));
    };
    if cols.len() != args.cols.len() {
        return Err(bad(format!(
            "{} argument columns where {} were due",
            cols.len(),
            args.cols.len()
        )));
    }
    args.n = n as usize;
    for (col, bytes) in args.cols.iter_mut().zip(&cols) {
        bytes.read_into(col, args.n).map_err(bad)?;
    }
    Ok(true)
}

pub(crate) fn write_done(w: &mut impl Write, out: &EvalOutput) -> io::Result<()> {
    let errors = out
        .errors
        .iter()
        .map(|(i, m)| Ok((len32(*i)?, Cow::Borrowed(m.as_str()))))
        .collect::<io::Result<Vec<_>>>()?;
    write_frame(
        w,
        &FromWorker::Done {
            cols: out.cols.iter().map(ColumnBytes::of).collect(),
            errors,
        },
    )
}

/// Reads a reply: `Ok(Ok(()))` with `out` (already shaped by [`EvalOutput::reset`]) filled,
/// or `Ok(Err(trap))`.
pub(crate) fn read_reply(
    r: &mut impl Read,
    buf: &mut Vec<u8>,
    outputs: &[xyz_abi::Output],
    out: &mut EvalOutput,
) -> io::Result<Result<(), Trap>> {
    frame(r, buf)?;
    match decode(buf)? {
        FromWorker::Done { cols, errors } => {
            let n = out.n;
            if cols.len() != outputs.len() {
                return Err(bad(format!(
                    "{} output columns where {} were due",
                    cols.len(),
                    outputs.len()
                )));
            }
            for ((col, output), bytes) in out.cols.iter_mut().zip(outputs).zip(&cols) {
                bytes.read_into(col, n * output.elements()).map_err(bad)?;
            }
            if errors.len() > n {
                return Err(bad(format!("{} errors for {n} cases", errors.len())));
            }
            for (i, message) in errors {
                let i = i as usize;
                if i >= n {
                    return Err(bad(format!("an error for case {i} of {n}")));
                }
                out.errors.push((i, message.into_owned()));
            }
            Ok(Ok(()))
        }
        FromWorker::Trapped { kind, message } => Ok(Err(Trap {
            kind,
            message: message.into_owned(),
        })),
        other => Err(bad(format!("a reply {other:?}"))),
    }
}

pub(crate) fn write_trapped(w: &mut impl Write, trap: &Trap) -> io::Result<()> {
    write_frame(
        w,
        &FromWorker::Trapped {
            kind: trap.kind,
            message: Cow::Borrowed(&trap.message),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Column;

    #[test]
    fn columns_round_trip() {
        let cols = vec![
            Column::I64(vec![i64::MIN, 0, 7]),
            Column::F64(vec![f64::NAN, -0.0, 1.5]),
            Column::Bool(vec![true, false, true]),
            Column::Str(vec!["".into(), "é".into(), "abc".into()]),
        ];
        let mut buf = Vec::new();
        write_eval(
            &mut buf,
            &Columns {
                n: 3,
                cols: cols.clone(),
            },
        )
        .unwrap();
        let mut r = &buf[..];
        let mut back = Columns {
            n: 0,
            cols: cols.iter().map(|c| Column::new(c.ty())).collect(),
        };
        assert!(read_eval(&mut r, &mut Vec::new(), &mut back).unwrap());
        assert!(r.is_empty());
        assert!(
            !read_eval(&mut r, &mut Vec::new(), &mut back).unwrap(),
            "the end"
        );
        assert_eq!(back.n, 3);
        assert_eq!(back.cols[0], cols[0]);
        let (Column::F64(a), Column::F64(b)) = (&back.cols[1], &cols[1]) else {
            panic!()
        };
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_eq!(back.cols[2..], cols[2..]);
    }

    #[test]
    fn a_reply_of_the_wrong_shape_is_refused() {
        let outputs = "f(a: i64) -> (y: f64[t=2])"
            .parse::<xyz_abi::Signature>()
            .unwrap()
            .outputs;
        let mut done = EvalOutput::default();
        done.reset(&outputs, 2);
        done.errors.push((1, "no".into()));
        let mut buf = Vec::new();
        write_done(&mut buf, &done).unwrap();
        let mut out = EvalOutput::default();
        out.reset(&outputs, 2);
        assert!(
            read_reply(&mut &buf[..], &mut Vec::new(), &outputs, &mut out)
                .unwrap()
                .is_ok()
        );
        assert_eq!(out.errors, vec![(1, "no".to_string())]);
        out.reset(&outputs, 3);
        let err = read_reply(&mut &buf[..], &mut Vec::new(), &outputs, &mut out).unwrap_err();
        assert!(err.to_string().contains("where one of 6"), "{err}");
        let mut truncated = &buf[..buf.len() - 1];
        out.reset(&outputs, 2);
        assert!(read_reply(&mut truncated, &mut Vec::new(), &outputs, &mut out).is_err());
    }

    #[test]
    fn traps_and_greetings_round_trip() {
        let trap = Trap {
            kind: FailureKind::Memory,
            message: "too big".into(),
        };
        let mut buf = Vec::new();
        write_trapped(&mut buf, &trap).unwrap();
        let mut out = EvalOutput::default();
        assert_eq!(
            read_reply(&mut &buf[..], &mut Vec::new(), &[], &mut out).unwrap(),
            Err(trap)
        );
        let mut buf = Vec::new();
        write_hello(&mut buf, "f(a: i64) -> (y: i64)", Some("ab")).unwrap();
        assert_eq!(
            read_hello(&mut &buf[..]).unwrap(),
            Ok(("f(a: i64) -> (y: i64)".into(), Some("ab".into())))
        );
        let mut buf = Vec::new();
        write_fatal(&mut buf, "no such file").unwrap();
        assert_eq!(
            read_hello(&mut &buf[..]).unwrap(),
            Err("no such file".into())
        );
    }

    #[test]
    fn a_frame_that_claims_more_than_it_holds_costs_only_what_it_holds() {
        let mut bytes = (1u32 << 29).to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 10]);
        let mut buf = Vec::new();
        let mut out = EvalOutput::default();
        let err = read_reply(&mut &bytes[..], &mut buf, &[], &mut out).unwrap_err();
        assert!(err.to_string().contains("ended after 10"), "{err}");
        assert!(
            buf.capacity() < 1 << 20,
            "{} bytes allocated",
            buf.capacity()
        );
    }

    #[test]
    fn a_frame_longer_than_the_bound_is_refused_before_allocating() {
        let mut bytes = u32::MAX.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 16]);
        let mut out = EvalOutput::default();
        let err = read_reply(&mut &bytes[..], &mut Vec::new(), &[], &mut out).unwrap_err();
        assert!(
            err.to_string().contains("a message of 4294967295 bytes"),
            "{err}"
        );
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn outputs() -> Vec<xyz_abi::Output> {
            "f(a: i64) -> (y: f64[t=2], s: str, b: bool)"
                .parse::<xyz_abi::Signature>()
                .unwrap()
                .outputs
        }

        /// A valid reply for 3 cases, to be damaged.
        fn valid_reply() -> Vec<u8> {
            let mut out = EvalOutput::default();
            out.reset(&outputs(), 3);
            out.errors.push((2, "no".into()));
            let mut buf = Vec::new();
            write_done(&mut buf, &out).unwrap();
            buf
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 2000,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                let mut out = EvalOutput::default();
                out.reset(&outputs(), 3);
                let _ = read_reply(&mut &bytes[..], &mut Vec::new(), &outputs(), &mut out);
                let mut args = Columns {
                    n: 0,
                    cols: vec![Column::new(xyz_abi::ScalarType::I64), Column::new(xyz_abi::ScalarType::Str)],
                };
                let _ = read_eval(&mut &bytes[..], &mut Vec::new(), &mut args);
                let _ = read_hello(&mut &bytes[..]);
            }

            #[test]
            fn a_damaged_reply_is_refused_or_well_formed(
                edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let mut bytes = valid_reply();
                for (at, b) in &edits {
                    let i = at.index(bytes.len());
                    bytes[i] = *b;
                }
                if truncate {
                    bytes.truncate(cut.index(bytes.len()));
                }
                let mut out = EvalOutput::default();
                out.reset(&outputs(), 3);
                if let Ok(Ok(())) = read_reply(&mut &bytes[..], &mut Vec::new(), &outputs(), &mut out) {
                    // Whatever was accepted has the shape the reader asked for.
                    prop_assert_eq!(out.cols[0].len(), 6);
                    prop_assert_eq!(out.cols[1].len(), 3);
                    prop_assert_eq!(out.cols[2].len(), 3);
                    prop_assert!(out.errors.iter().all(|(i, _)| *i < 3));
                }
            }
        }
    }
}
