//! The encoding of what crosses a pipe or lands on disk: serde types, encoded with postcard.
//!
//! The worker protocol (`process::wire`) and crop result payloads (`crop::result`) both carry
//! columns of values. A column is a postcard enum whose numeric variants hold one contiguous
//! block of little-endian bytes (postcard's byte arrays: a varint length, then the bytes), so
//! that encoding a column of a million floats is one copy and decoding one is a bounds check
//! and one conversion, not a million serde calls. Strings are a sequence of strings.
//!
//! Decoding never trusts a length: blocks are borrowed from the bytes read (no allocation from
//! a claimed length), and every column is checked against the type and the number of values
//! the reader expects before it is used.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::value::Column;

/// A column as encoded. Numeric blocks are `8 * n` bytes (i64 and f64, little endian),
/// `16 * n` (c128: real, then imaginary part, each little endian) or `n` bytes (bool, 0 or
/// 1). New variants go last, so that what older versions wrote still decodes.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ColumnBytes<'a> {
    /// 64-bit integers.
    I64(#[serde(borrow, with = "serde_bytes")] Cow<'a, [u8]>),
    /// 64-bit floats.
    F64(#[serde(borrow, with = "serde_bytes")] Cow<'a, [u8]>),
    /// Booleans.
    Bool(#[serde(borrow, with = "serde_bytes")] Cow<'a, [u8]>),
    /// Strings.
    Str(#[serde(borrow)] Vec<Cow<'a, str>>),
    /// Complex numbers.
    C128(#[serde(borrow, with = "serde_bytes")] Cow<'a, [u8]>),
    /// Runs of equal values: how many values each run holds (a `u32` each, little endian),
    /// then a column of the runs' values, one each (not runs again). Written, where it at
    /// least halves a column, by the worker protocol, whose calls hold arguments that repeat.
    Runs(
        #[serde(borrow, with = "serde_bytes")] Cow<'a, [u8]>,
        #[serde(borrow)] Box<ColumnBytes<'a>>,
    ),
}

/// A column as runs of equal values (floats equal bit for bit): see [`ColumnBytes::Runs`].
pub(crate) struct Runs {
    counts: Vec<u32>,
    values: Column,
}

impl Runs {
    /// `col` as runs, where they are at most half as many as its values.
    pub(crate) fn of(col: &Column) -> Option<Runs> {
        fn runs<T: Clone>(v: &[T], same: impl Fn(&T, &T) -> bool) -> Option<(Vec<u32>, Vec<T>)> {
            // Counted first, with no copy: a column that does not repeat is told by its first
            // values (a grid's last dim), or after half of it at most.
            let most = v.len() / 2;
            let head = v.len().min(32);
            if v[..head].windows(2).filter(|w| !same(&w[0], &w[1])).count() > head / 2 {
                return None;
            }
            let mut n = usize::from(!v.is_empty());
            for w in v.windows(2) {
                if !same(&w[0], &w[1]) {
                    n += 1;
                    if n > most {
                        return None;
                    }
                }
            }
            let (mut counts, mut values) = (Vec::with_capacity(n), Vec::<T>::with_capacity(n));
            for x in v {
                match values.last() {
                    Some(last) if same(last, x) && counts.last().is_some_and(|c| *c < u32::MAX) => {
                        *counts.last_mut().expect("a run") += 1;
                    }
                    _ => {
                        counts.push(1);
                        values.push(x.clone());
                    }
                }
            }
            Some((counts, values))
        }
        let (counts, values) = match col {
            Column::I64(v) => runs(v, |a, b| a == b).map(|(c, v)| (c, Column::I64(v)))?,
            Column::F64(v) => {
                runs(v, |a, b| a.to_bits() == b.to_bits()).map(|(c, v)| (c, Column::F64(v)))?
            }
            Column::C128(v) => runs(v, |a, b| {
                a.re.to_bits() == b.re.to_bits() && a.im.to_bits() == b.im.to_bits()
            })
            .map(|(c, v)| (c, Column::C128(v)))?,
            Column::Bool(v) => runs(v, |a, b| a == b).map(|(c, v)| (c, Column::Bool(v)))?,
            Column::Str(v) => runs(v, |a, b| a == b).map(|(c, v)| (c, Column::Str(v)))?,
        };
        Some(Runs { counts, values })
    }
}

/// The bytes of a slice of numbers, little endian: borrowed where the machine is little endian.
fn le_bytes<T: bytemuck::NoUninit, const N: usize>(
    values: &[T],
    to_le: impl Fn(&T) -> [u8; N],
) -> Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        Cow::Owned(values.iter().flat_map(to_le).collect())
    }
}

impl<'a> ColumnBytes<'a> {
    /// `runs`, borrowed.
    pub(crate) fn runs(runs: &'a Runs) -> ColumnBytes<'a> {
        ColumnBytes::Runs(
            le_bytes(&runs.counts, |c| c.to_le_bytes()),
            Box::new(ColumnBytes::of(&runs.values)),
        )
    }

    /// `col`, borrowed where it can be.
    pub(crate) fn of(col: &'a Column) -> ColumnBytes<'a> {
        match col {
            Column::I64(v) => ColumnBytes::I64(le_bytes(v, |x| x.to_le_bytes())),
            Column::F64(v) => ColumnBytes::F64(le_bytes(v, |x| x.to_le_bytes())),
            Column::C128(v) => ColumnBytes::C128(le_bytes(v, |z| {
                let mut b = [0; 16];
                b[..8].copy_from_slice(&z.re.to_le_bytes());
                b[8..].copy_from_slice(&z.im.to_le_bytes());
                b
            })),
            Column::Bool(v) => ColumnBytes::Bool(Cow::Borrowed(bytemuck::cast_slice(v))),
            Column::Str(v) => {
                ColumnBytes::Str(v.iter().map(|s| Cow::Borrowed(s.as_str())).collect())
            }
        }
    }

    /// Replaces the contents of `col` (whose type is the one expected) with this column's,
    /// which must hold `expect` values of that type; else says what it holds instead.
    pub(crate) fn read_into(&self, col: &mut Column, expect: usize) -> Result<(), String> {
        let ty = col.ty();
        let wrong = |found: &str, n: usize| {
            format!("a column of {n} {found} values where one of {expect} {ty} values was due")
        };
        let values = |b: &[u8], ty: &str, size: usize| {
            if !b.len().is_multiple_of(size) {
                return Err(format!("a block of {} bytes for {ty} values", b.len()));
            }
            Ok(b.len() / size)
        };
        let eights = |b: &[u8], ty: &str| values(b, ty, 8);
        match (self, col) {
            (ColumnBytes::I64(b), Column::I64(v)) => {
                let n = eights(b, "i64")?;
                if n != expect {
                    return Err(wrong("i64", n));
                }
                v.clear();
                v.extend(
                    b.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))),
                );
            }
            (ColumnBytes::F64(b), Column::F64(v)) => {
                let n = eights(b, "f64")?;
                if n != expect {
                    return Err(wrong("f64", n));
                }
                v.clear();
                v.extend(
                    b.chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
                );
            }
            (ColumnBytes::C128(b), Column::C128(v)) => {
                let n = values(b, "c128", 16)?;
                if n != expect {
                    return Err(wrong("c128", n));
                }
                v.clear();
                v.extend(b.chunks_exact(16).map(|c| {
                    let (re, im) = c.split_at(8);
                    crate::value::Complex64::new(
                        f64::from_le_bytes(re.try_into().expect("8 bytes")),
                        f64::from_le_bytes(im.try_into().expect("8 bytes")),
                    )
                }));
            }
            (ColumnBytes::Bool(b), Column::Bool(v)) => {
                if b.len() != expect {
                    return Err(wrong("bool", b.len()));
                }
                v.clear();
                v.extend(b.iter().map(|x| *x != 0));
            }
            (ColumnBytes::Str(s), Column::Str(v)) => {
                if s.len() != expect {
                    return Err(wrong("str", s.len()));
                }
                v.clear();
                v.extend(s.iter().map(|x| x.clone().into_owned()));
            }
            (ColumnBytes::Runs(counts, inner), col) => {
                if matches!(**inner, ColumnBytes::Runs(..)) {
                    return Err("runs of runs".into());
                }
                let counts: Vec<u32> = counts
                    .chunks(4)
                    .map(|c| c.try_into().map(u32::from_le_bytes))
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("a block of {} bytes for run lengths", counts.len()))?;
                let total: u64 = counts.iter().map(|c| u64::from(*c)).sum();
                if total != expect as u64 {
                    return Err(format!(
                        "runs of {total} values where a column of {expect} {ty} values was due"
                    ));
                }
                let mut values = Column::new(ty);
                inner.read_into(&mut values, counts.len())?;
                col.clear();
                col.reserve(expect);
                for (i, count) in counts.iter().enumerate() {
                    col.push_n(&values.get(i), *count as usize);
                }
            }
            (other, _) => {
                let (ty, n) = match other {
                    ColumnBytes::Runs(..) => unreachable!("runs take any column"),
                    ColumnBytes::I64(b) => ("i64", b.len() / 8),
                    ColumnBytes::F64(b) => ("f64", b.len() / 8),
                    ColumnBytes::C128(b) => ("c128", b.len() / 16),
                    ColumnBytes::Bool(b) => ("bool", b.len()),
                    ColumnBytes::Str(s) => ("str", s.len()),
                };
                return Err(wrong(ty, n));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_round_trip_through_postcard_bit_for_bit() {
        let cols = [
            Column::I64(vec![i64::MIN, 0, 7]),
            Column::F64(vec![f64::NAN, -0.0, f64::MIN_POSITIVE / 4.0]),
            Column::C128(vec![
                crate::value::Complex64::new(f64::NAN, -0.0),
                crate::value::Complex64::new(1.5, f64::NEG_INFINITY),
                crate::value::Complex64::new(-2.0, 1e-310),
            ]),
            Column::Bool(vec![true, false, true]),
            Column::Str(vec!["".into(), "é漢".into(), "a\0b".into()]),
        ];
        for col in &cols {
            let bytes = postcard::to_allocvec(&ColumnBytes::of(col)).unwrap();
            let back: ColumnBytes<'_> = postcard::from_bytes(&bytes).unwrap();
            let mut into = Column::new(col.ty());
            back.read_into(&mut into, 3).unwrap();
            let same = match (col, &into) {
                (Column::F64(a), Column::F64(b)) => {
                    a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
                }
                (Column::C128(a), Column::C128(b)) => a.iter().zip(b).all(|(x, y)| {
                    x.re.to_bits() == y.re.to_bits() && x.im.to_bits() == y.im.to_bits()
                }),
                (a, b) => a == b,
            };
            assert!(same, "{col:?} came back as {into:?}");
            let err = back.read_into(&mut Column::new(col.ty()), 4).unwrap_err();
            assert!(err.contains("where one of 4"), "{err}");
        }
        let ints = postcard::to_allocvec(&ColumnBytes::of(&cols[0])).unwrap();
        let back: ColumnBytes<'_> = postcard::from_bytes(&ints).unwrap();
        let err = back
            .read_into(&mut Column::new(xyz_abi::ScalarType::F64), 3)
            .unwrap_err();
        assert!(err.contains("3 i64 values where one of 3 f64"), "{err}");
    }

    /// `col` through runs and postcard, back.
    fn through_runs(col: &Column) -> Option<Column> {
        let runs = Runs::of(col)?;
        let bytes = postcard::to_allocvec(&ColumnBytes::runs(&runs)).unwrap();
        let back: ColumnBytes<'_> = postcard::from_bytes(&bytes).unwrap();
        let mut into = Column::new(col.ty());
        back.read_into(&mut into, col.len()).unwrap();
        Some(into)
    }

    #[test]
    fn runs_are_taken_where_they_halve_a_column_and_come_back_bit_for_bit() {
        let nan = f64::from_bits(0x7ff8_0000_0000_0001);
        let floats = Column::F64(vec![nan, nan, -0.0, -0.0, 0.0, 0.0, 1.5, 1.5]);
        let back = through_runs(&floats).expect("4 runs of 8 values");
        match (&floats, &back) {
            (Column::F64(a), Column::F64(b)) => {
                assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
            }
            _ => unreachable!(),
        }
        let words = Column::Str(vec!["a".into(), "a".into(), "é".into(), "é".into()]);
        assert_eq!(through_runs(&words), Some(words));
        // Five runs of eight values do not halve it.
        let ints = Column::I64(vec![1, 1, 1, 2, 3, 4, 5, 5]);
        assert!(Runs::of(&ints).is_none());
        assert!(Runs::of(&Column::Bool(Vec::new())).is_some());
    }

    #[test]
    fn damaged_runs_are_refused() {
        let col = Column::I64(vec![7; 10]);
        let runs = Runs::of(&col).unwrap();
        let read = |bytes: ColumnBytes<'_>, n: usize| {
            let bytes = postcard::to_allocvec(&bytes).unwrap();
            let back: ColumnBytes<'_> = postcard::from_bytes(&bytes).unwrap();
            back.read_into(&mut Column::new(xyz_abi::ScalarType::I64), n)
        };
        let err = read(ColumnBytes::runs(&runs), 11).unwrap_err();
        assert!(
            err.contains("runs of 10 values where a column of 11"),
            "{err}"
        );
        let (three, one, float) = (
            Column::I64(vec![1, 2, 3]),
            Column::I64(vec![1]),
            Column::F64(vec![1.0]),
        );
        let huge = ColumnBytes::Runs(
            Cow::Owned(u32::MAX.to_le_bytes().repeat(3)),
            Box::new(ColumnBytes::of(&three)),
        );
        let err = read(huge, 10).unwrap_err();
        assert!(err.contains("runs of 12884901885 values"), "{err}");
        let odd = ColumnBytes::Runs(Cow::Owned(vec![1, 0, 0]), Box::new(ColumnBytes::of(&one)));
        assert!(
            read(odd, 1)
                .unwrap_err()
                .contains("a block of 3 bytes for run lengths")
        );
        let nested = ColumnBytes::Runs(
            Cow::Owned(10u32.to_le_bytes().to_vec()),
            Box::new(ColumnBytes::runs(&runs)),
        );
        assert_eq!(read(nested, 10).unwrap_err(), "runs of runs");
        let wrong = ColumnBytes::Runs(
            Cow::Owned(10u32.to_le_bytes().to_vec()),
            Box::new(ColumnBytes::of(&float)),
        );
        assert!(
            read(wrong, 10)
                .unwrap_err()
                .contains("1 f64 values where one of 1 i64")
        );
    }

    proptest::proptest! {
        /// Any column with repeats comes back through runs as it was.
        #[test]
        fn columns_with_repeats_come_back_through_runs(
            values in proptest::collection::vec((0i64..4, 1usize..6), 0..40),
        ) {
            let col = Column::I64(
                values.iter().flat_map(|(v, n)| std::iter::repeat_n(*v, *n)).collect(),
            );
            if let Some(back) = through_runs(&col) {
                proptest::prop_assert_eq!(back, col);
            }
        }
    }
}
