//! netCDF: the classic format, which needs no HDF5. A dataset with no 64-bit integer (no
//! `i64` variable or coordinate, integer constants that fit in 32 bits) and no variable over
//! 4 GiB is written in the 64-bit offset variant (CDF-2), which every netCDF reader takes,
//! xarray's scipy engine and `scipy.io` included; otherwise in the 64-bit data variant (CDF-5),
//! which holds 64-bit integers and which `xarray.open_dataset` reads with the netCDF4 engine,
//! as does every netCDF library since 4.4 (scipy does not).
//!
//! The layout is the one xarray itself writes. Each swept dim has a coordinate variable of its
//! name; each output is a variable over the swept dims, then its extra dims. Attributes hold the
//! constants and the provenance, as in Zarr.
//!
//! | type | netCDF | xarray reads |
//! |---|---|---|
//! | `f64` | `double`, attribute `_FillValue = NaN` | `float64`, NaN where missing |
//! | `i64` | `int64`, `i64::MIN` where missing | `int64` |
//! | `bool` | `byte` 0 or 1 with attribute `dtype = "bool"`, 0 where missing | `bool` |
//! | `str` | `char` with a last dim `stringN` (N the longest value in bytes) and `_Encoding = "utf-8"` | `str`; `""` where missing |
//!
//! Each cell's state is the `byte` variable `xyz_status` (CF `flag_values` and
//! `flag_meanings`) and each failure the `char` variable `xyz_error`, over the swept dims.
//!
//! The reader takes back what the writer writes, from any of the three classic variants
//! (CDF-1, CDF-2 and CDF-5). A dataset written a window at a time goes through a spill beside
//! the file (see [`write`](mod@write)), so it is never held whole either.

mod header;
mod read;
mod write;

use std::io;
use std::path::Path;

use super::backend::{Backend, WindowSink};
use super::{Encoding, ReadError};
use crate::dataset::{Dataset, Window};
use crate::value::Value;

/// The netCDF (classic) backend.
pub(super) struct Netcdf;

impl WindowSink for write::StreamWriter<'_> {
    fn write(&mut self, window: &Window) -> io::Result<()> {
        write::StreamWriter::write(self, window)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        write::StreamWriter::finish(*self)
    }
}

impl Backend for Netcdf {
    fn write(&self, dataset: &Dataset, path: &Path, _: Encoding) -> io::Result<()> {
        write::write(dataset, path)
    }

    fn read(&self, path: &Path) -> Result<Dataset, ReadError> {
        read::read(path)
    }

    fn probe(&self, path: &Path) -> Result<(), ReadError> {
        read::probe(path)
    }

    fn windows<'a>(
        &self,
        layout: &'a Dataset,
        path: &Path,
        _: Encoding,
    ) -> io::Result<Box<dyn WindowSink + 'a>> {
        Ok(Box::new(write::StreamWriter::create(layout, path)?))
    }

    /// The classic formats have no complex type: complex variables and coordinates are
    /// refused (complex constants are kept as text attributes, as in Zarr).
    fn refuses(&self, dataset: &Dataset) -> Option<String> {
        let complex = dataset
            .vars
            .iter()
            .map(|v| (&v.name, "output", v.data.ty()))
            .chain(dataset.dims.iter().map(|d| (&d.name, "dim", d.coords.ty())))
            .chain(
                dataset
                    .aux_coords
                    .iter()
                    .map(|a| (&a.name, "sampled argument", a.values.ty())),
            )
            .find(|(_, _, ty)| *ty == xyz_abi::ScalarType::C128)?;
        Some(format!(
            "{} `{}` is complex (c128), which netCDF's classic formats cannot hold; write it \
             to Zarr (.zarr), where xarray reads it as complex128, or to Parquet, CSV or JSON \
             (real and imaginary parts as columns `{1}.re` and `{1}.im`)",
            complex.1, complex.0
        ))
    }
}

pub(super) const NC_BYTE: u32 = 1;
pub(super) const NC_CHAR: u32 = 2;
pub(super) const NC_SHORT: u32 = 3;
pub(super) const NC_INT: u32 = 4;
pub(super) const NC_FLOAT: u32 = 5;
pub(super) const NC_DOUBLE: u32 = 6;
pub(super) const NC_INT64: u32 = 10;

pub(super) const NC_DIMENSION: u32 = 0x0A;
pub(super) const NC_VARIABLE: u32 = 0x0B;
pub(super) const NC_ATTRIBUTE: u32 = 0x0C;

pub(super) fn type_size(nc_type: u32) -> Option<usize> {
    Some(match nc_type {
        NC_BYTE | NC_CHAR | 7 => 1,
        NC_SHORT | 8 => 2,
        NC_INT | NC_FLOAT | 9 => 4,
        NC_DOUBLE | NC_INT64 | 11 => 8,
        _ => return None,
    })
}

pub(super) fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// An attribute's values.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Attr {
    Text(String),
    Bytes(Vec<i8>),
    Ints(Vec<i64>),
    Doubles(Vec<f64>),
}

impl Attr {
    pub(super) fn of(v: &Value) -> Attr {
        match v {
            Value::I64(i) => Attr::Ints(vec![*i]),
            Value::F64(f) => Attr::Doubles(vec![*f]),
            Value::C128(_) => Attr::Text(v.to_string()),
            Value::Bool(b) => Attr::Bytes(vec![i8::from(*b)]),
            Value::Str(s) => Attr::Text(s.clone()),
        }
    }

    pub(super) fn value(&self) -> Option<Value> {
        match self {
            Attr::Text(s) => Some(Value::Str(s.clone())),
            Attr::Bytes(v) if v.len() == 1 => Some(Value::I64(i64::from(v[0]))),
            Attr::Ints(v) if v.len() == 1 => Some(Value::I64(v[0])),
            Attr::Doubles(v) if v.len() == 1 => Some(Value::F64(v[0])),
            _ => None,
        }
    }
}

pub(super) fn attr<'a>(attrs: &'a [(String, Attr)], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::header::parse_header;
    use super::*;
    use crate::value::Column;

    /// The bytes of `ds` written as netCDF.
    fn written(ds: &Dataset) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.nc");
        write::write(ds, &path).unwrap();
        std::fs::read(path).unwrap()
    }

    #[test]
    fn integers_of_64_bits_take_the_64_bit_data_variant_and_others_the_offset_one() {
        let ds = crate::output::tests::sample();
        let bytes = written(&ds);
        assert_eq!(&bytes[..4], b"CDF\x05");
        let (dims, _, vars) = parse_header(&bytes).unwrap();
        let names: Vec<&str> = dims.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(&names[..2], ["k", "a"]);
        assert_eq!((dims[0].1, dims[1].1), (2, 4));
        assert!(dims.contains(&("t".to_string(), 2)), "{dims:?}");
        let vars: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        for v in ["k", "a", "n", "b", "s", "v", "xyz_status", "xyz_error"] {
            assert!(vars.contains(&v), "{v} in {vars:?}");
        }

        // Without 64-bit integers: the variant every reader takes.
        let mut ds = ds;
        ds.vars.retain(|v| v.ty != xyz_abi::ScalarType::I64);
        for d in &mut ds.dims {
            if let Column::I64(v) = &d.coords {
                d.coords = Column::F64(v.iter().map(|x| *x as f64).collect());
            }
        }
        assert_eq!(&written(&ds)[..4], b"CDF\x02");
    }

    /// A CDF-1 header: its magic, no records, then `rest`.
    fn cdf1(rest: &[u32]) -> Vec<u8> {
        let mut b = b"CDF\x01".to_vec();
        b.extend(0u32.to_be_bytes());
        for w in rest {
            b.extend(w.to_be_bytes());
        }
        b
    }

    /// A name of up to four ASCII letters, as the header holds it: its length, then its bytes
    /// padded to 4.
    fn name(s: &str) -> [u32; 2] {
        let mut b = [0u8; 4];
        b[..s.len()].copy_from_slice(s.as_bytes());
        [s.len() as u32, u32::from_be_bytes(b)]
    }

    #[test]
    fn damaged_and_foreign_headers_are_refused_saying_why() {
        let err = |bytes: &[u8]| parse_header(bytes).err().unwrap();
        assert!(err(b"\x89HDF\r\n\x1a\n").contains("a netCDF-4 (HDF5) file"));
        assert_eq!(err(b"PK\x03\x04"), "not a netCDF file");
        let good = written(&crate::output::tests::sample());
        assert_eq!(err(&good[..40]), "the header ends early");

        let [n, x] = name("t");
        let record = cdf1(&[NC_DIMENSION, 1, n, x, 0]);
        assert!(err(&record).contains("dim `t` is a record dim"));

        let [n, x] = name("x");
        let [vn, vx] = name("v");
        let stray = cdf1(&[NC_DIMENSION, 1, n, x, 2, 0, 0, NC_VARIABLE, 1, vn, vx, 1, 5]);
        assert!(err(&stray).contains("variable `v` names dim 5, which does not exist"));
        // Counts that claim more than there is stop at the end of the header, whatever they say.
        let huge = cdf1(&[NC_DIMENSION, u32::MAX]);
        assert_eq!(err(&huge), "the header ends early");
    }

    /// The bytes of `ds` written a window of `size` cells at a time; the spill is gone after.
    fn written_in_windows(ds: &Dataset, size: usize) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.nc");
        let mut writer = write::StreamWriter::create(ds, &path).unwrap();
        let n = ds.cells.len();
        for first in (0..n).step_by(size) {
            writer
                .write(&ds.window(first, size.min(n - first)))
                .unwrap();
        }
        writer.finish().unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_file_written_a_window_at_a_time_is_the_one_written_whole() {
        let ds = crate::output::tests::sample();
        let whole = written(&ds);
        for size in [1, 2, 3, 5, 8] {
            assert!(written_in_windows(&ds, size) == whole, "windows of {size}");
        }
    }

    #[test]
    fn a_spill_is_removed_however_the_writing_ends_and_windows_come_in_order() {
        let ds = crate::output::tests::sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.nc");
        let empty = |dir: &Path| std::fs::read_dir(dir).unwrap().next().is_none();

        let mut writer = write::StreamWriter::create(&ds, &path).unwrap();
        writer.write(&ds.window(0, 3)).unwrap();
        let err = writer.write(&ds.window(4, 2)).unwrap_err().to_string();
        assert!(
            err.contains("cells 4..6 where cell 3 of 8 was next"),
            "{err}"
        );
        drop(writer);
        assert!(empty(dir.path()));

        let mut writer = write::StreamWriter::create(&ds, &path).unwrap();
        writer.write(&ds.window(0, 3)).unwrap();
        let err = writer.finish().unwrap_err().to_string();
        assert!(err.contains("ended at cell 3 of 8"), "{err}");
        assert!(empty(dir.path()));

        let mut complex = ds.clone();
        complex.vars[0].data = Column::C128(Vec::new());
        assert!(write::StreamWriter::create(&complex, &path).is_err());
        assert!(empty(dir.path()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Strings of any length, failures anywhere and windows of any size give the file
        /// written whole.
        #[test]
        fn windows_of_any_size_give_the_file_written_whole(
            cells in proptest::collection::vec(
                proptest::option::of("[a-zé]{0,12}"), 1..40
            ),
            size in 1usize..50,
        ) {
            use crate::dataset::{CellState, DataVar};
            let n = cells.len();
            let ds = Dataset {
                dims: vec![crate::space::SweptDim {
                    name: "a".into(),
                    coords: Column::I64((0..n as i64).collect()),
                }],
                vars: vec![
                    DataVar {
                        name: "s".into(),
                        ty: xyz_abi::ScalarType::Str,
                        extra_dims: Vec::new(),
                        data: Column::Str(
                            cells.iter().map(|c| c.clone().unwrap_or_default()).collect(),
                        ),
                    },
                    DataVar {
                        name: "x".into(),
                        ty: xyz_abi::ScalarType::F64,
                        extra_dims: Vec::new(),
                        data: Column::F64((0..n).map(|i| i as f64 / 3.0).collect()),
                    },
                ],
                cells: cells
                    .iter()
                    .map(|c| if c.is_some() { CellState::Ok } else { CellState::Failed })
                    .collect(),
                errors: cells
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.is_none())
                    .map(|(i, _)| (i, format!("error: {}", "x".repeat(i % 7))))
                    .collect(),
                extra_coords: Vec::new(),
                aux_coords: Vec::new(),
                attrs: Vec::new(),
            };
            proptest::prop_assert!(written_in_windows(&ds, size) == written(&ds));
        }
    }

    #[test]
    fn attributes_keep_their_values() {
        assert_eq!(Attr::of(&Value::I64(-3)).value(), Some(Value::I64(-3)));
        assert_eq!(Attr::of(&Value::F64(0.5)).value(), Some(Value::F64(0.5)));
        assert_eq!(
            Attr::of(&Value::Str("k".into())).value(),
            Some(Value::Str("k".into()))
        );
        // Booleans are bytes, read back as integers 0 and 1.
        assert_eq!(Attr::of(&Value::Bool(true)).value(), Some(Value::I64(1)));
        assert_eq!(Attr::Doubles(vec![1.0, 2.0]).value(), None);
    }
}
