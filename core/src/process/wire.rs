//! The worker protocol: what a parent and a worker process say to each other over the worker's
//! stdin and stdout.
//!
//! All integers are little endian. A string is a `u32` byte length and its UTF-8 bytes. A column
//! is a type byte (0 i64, 1 f64, 2 bool, 3 str), a `u32` count, and the values: 8 bytes each for
//! i64 and f64, one byte (0 or 1) each for bool, one string each for str.
//!
//! ```text
//! worker → parent, once:  MAGIC (8 bytes), then HELLO signature sha256   (sha256 may be empty)
//!                      or MAGIC, then FATAL message                      (and the worker exits)
//! parent → worker:        EVAL n column*                                 (one per argument)
//! worker → parent:        DONE column* errors                            (one per output)
//!                      or TRAPPED kind message
//! errors:                 u32 count, then (u32 index, string) each
//! ```
//!
//! The worker exits when its stdin ends.

use std::io::{self, Read, Write};

use crate::function::Trap;
use crate::value::{Column, Columns, EvalOutput, FailureKind};

/// Opens a worker's first message; names the protocol and its version.
pub(crate) const MAGIC: &[u8; 8] = b"xyzwrk01";

pub(crate) const HELLO: u8 = 1;
pub(crate) const FATAL: u8 = 2;
pub(crate) const EVAL: u8 = 3;
pub(crate) const DONE: u8 = 4;
pub(crate) const TRAPPED: u8 = 5;

/// Longest string either side accepts: a bound on what a broken peer can make us allocate.
const MAX_STRING: usize = 1 << 30;

pub(crate) fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

pub(crate) fn write_u8(w: &mut impl Write, v: u8) -> io::Result<()> {
    w.write_all(&[v])
}

pub(crate) fn write_u32(w: &mut impl Write, v: u32) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

fn len32(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| bad(format!("{len} is too large for the worker protocol")))
}

pub(crate) fn write_str(w: &mut impl Write, s: &str) -> io::Result<()> {
    write_u32(w, len32(s.len())?)?;
    w.write_all(s.as_bytes())
}

pub(crate) fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

pub(crate) fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

pub(crate) fn read_str(r: &mut impl Read) -> io::Result<String> {
    let len = read_u32(r)? as usize;
    if len > MAX_STRING {
        return Err(bad(format!("a string of {len} bytes")));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    String::from_utf8(buf).map_err(|_| bad("a string that is not UTF-8"))
}

fn type_byte(col: &Column) -> u8 {
    match col {
        Column::I64(_) => 0,
        Column::F64(_) => 1,
        Column::Bool(_) => 2,
        Column::Str(_) => 3,
    }
}

pub(crate) fn write_column(w: &mut impl Write, col: &Column) -> io::Result<()> {
    write_u8(w, type_byte(col))?;
    write_u32(w, len32(col.len())?)?;
    match col {
        Column::I64(v) => {
            for x in v {
                w.write_all(&x.to_le_bytes())?;
            }
        }
        Column::F64(v) => {
            for x in v {
                w.write_all(&x.to_le_bytes())?;
            }
        }
        Column::Bool(v) => {
            for x in v {
                w.write_all(&[u8::from(*x)])?;
            }
        }
        Column::Str(v) => {
            for s in v {
                write_str(w, s)?;
            }
        }
    }
    Ok(())
}

/// Reads a column into `col`, which must already have the expected type, and checks it holds
/// `expect` values.
pub(crate) fn read_column(r: &mut impl Read, col: &mut Column, expect: usize) -> io::Result<()> {
    let ty = read_u8(r)?;
    let n = read_u32(r)? as usize;
    if ty != type_byte(col) || n != expect {
        return Err(bad(format!(
            "a column of type {ty} with {n} values where one of type {} with {expect} was due",
            type_byte(col)
        )));
    }
    col.clear();
    match col {
        Column::I64(v) => {
            let mut b = vec![0u8; 8 * n];
            r.read_exact(&mut b)?;
            v.extend(
                b.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("chunks of 8 bytes"))),
            );
        }
        Column::F64(v) => {
            let mut b = vec![0u8; 8 * n];
            r.read_exact(&mut b)?;
            v.extend(
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("chunks of 8 bytes"))),
            );
        }
        Column::Bool(v) => {
            let mut b = vec![0u8; n];
            r.read_exact(&mut b)?;
            v.extend(b.iter().map(|x| *x != 0));
        }
        Column::Str(v) => {
            v.reserve(n);
            for _ in 0..n {
                v.push(read_str(r)?);
            }
        }
    }
    Ok(())
}

pub(crate) fn write_eval(w: &mut impl Write, args: &Columns) -> io::Result<()> {
    write_u8(w, EVAL)?;
    write_u32(w, len32(args.n)?)?;
    for col in &args.cols {
        write_column(w, col)?;
    }
    w.flush()
}

/// Reads the rest of an `EVAL` request (after its tag) into `args`, whose columns have the
/// signature's argument types.
pub(crate) fn read_eval(r: &mut impl Read, args: &mut Columns) -> io::Result<()> {
    args.n = read_u32(r)? as usize;
    let n = args.n;
    for col in &mut args.cols {
        read_column(r, col, n)?;
    }
    Ok(())
}

pub(crate) fn write_done(w: &mut impl Write, out: &EvalOutput) -> io::Result<()> {
    write_u8(w, DONE)?;
    for col in &out.cols {
        write_column(w, col)?;
    }
    write_u32(w, len32(out.errors.len())?)?;
    for (i, message) in &out.errors {
        write_u32(w, len32(*i)?)?;
        write_str(w, message)?;
    }
    w.flush()
}

/// Reads a reply: `Ok(Ok(()))` with `out` (already shaped by [`EvalOutput::reset`]) filled,
/// or `Ok(Err(trap))`.
pub(crate) fn read_reply(
    r: &mut impl Read,
    outputs: &[xyz_abi::Output],
    out: &mut EvalOutput,
) -> io::Result<Result<(), Trap>> {
    match read_u8(r)? {
        DONE => {
            let n = out.n;
            for (col, output) in out.cols.iter_mut().zip(outputs) {
                read_column(r, col, n * output.elements())?;
            }
            let count = read_u32(r)? as usize;
            if count > n {
                return Err(bad(format!("{count} errors for {n} cases")));
            }
            for _ in 0..count {
                let i = read_u32(r)? as usize;
                if i >= n {
                    return Err(bad(format!("an error for case {i} of {n}")));
                }
                out.errors.push((i, read_str(r)?));
            }
            Ok(Ok(()))
        }
        TRAPPED => {
            let kind = kind_from_byte(read_u8(r)?)?;
            let message = read_str(r)?;
            Ok(Err(Trap { kind, message }))
        }
        tag => Err(bad(format!("a reply tagged {tag}"))),
    }
}

pub(crate) fn write_trapped(w: &mut impl Write, trap: &Trap) -> io::Result<()> {
    write_u8(w, TRAPPED)?;
    write_u8(w, kind_byte(trap.kind))?;
    write_str(w, &trap.message)?;
    w.flush()
}

pub(crate) fn kind_byte(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::Error => 0,
        FailureKind::Panic => 1,
        FailureKind::Deadline => 2,
        FailureKind::Memory => 3,
        FailureKind::Trap => 4,
    }
}

pub(crate) fn kind_from_byte(b: u8) -> io::Result<FailureKind> {
    Ok(match b {
        0 => FailureKind::Error,
        1 => FailureKind::Panic,
        2 => FailureKind::Deadline,
        3 => FailureKind::Memory,
        4 => FailureKind::Trap,
        _ => return Err(bad(format!("a failure kind of {b}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(read_u8(&mut r).unwrap(), EVAL);
        let mut back = Columns {
            n: 0,
            cols: cols.iter().map(|c| Column::new(c.ty())).collect(),
        };
        read_eval(&mut r, &mut back).unwrap();
        assert!(r.is_empty());
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
            read_reply(&mut &buf[..], &outputs, &mut out)
                .unwrap()
                .is_ok()
        );
        assert_eq!(out.errors, vec![(1, "no".to_string())]);
        out.reset(&outputs, 3);
        let err = read_reply(&mut &buf[..], &outputs, &mut out).unwrap_err();
        assert!(err.to_string().contains("with 6 was due"), "{err}");
        let mut truncated = &buf[..buf.len() - 1];
        out.reset(&outputs, 2);
        assert!(read_reply(&mut truncated, &outputs, &mut out).is_err());
    }

    #[test]
    fn traps_round_trip() {
        let trap = Trap {
            kind: FailureKind::Memory,
            message: "too big".into(),
        };
        let mut buf = Vec::new();
        write_trapped(&mut buf, &trap).unwrap();
        let mut out = EvalOutput::default();
        assert_eq!(read_reply(&mut &buf[..], &[], &mut out).unwrap(), Err(trap));
    }
}
