//! Parquet: one row per case of the space, typed columns, read by `pandas.read_parquet`.
//!
//! The columns are those of CSV: the swept arguments and the constants (required), then the
//! outputs (optional: the outputs of a failed or missing case are null, while a NaN an output
//! returned stays NaN), then `xyz_status` (INT8, the case's status code) and `xyz_error` (its
//! failure; null unless it failed). An array output takes one column per element, `y[0]`,
//! `y[1]`, …
//!
//! Types: `f64` is DOUBLE, `i64` INT64, `bool` BOOLEAN and `str` a UTF-8 BYTE_ARRAY. A `c128`
//! value takes two DOUBLE columns, its real and imaginary parts, named `z.re` and `z.im`
//! (`y[0].re`, `y[0].im`, … for an array output): what pandas, polars and DuckDB read as they
//! are, and `df["z.re"] + 1j * df["z.im"]` makes complex again. Pages are
//! PLAIN or dictionary encoded and not compressed; a row group holds the rows of 2^19 cells of
//! the grid at most.
//!
//! The file's key-value metadata `xyz` holds the layout as JSON: the dims with their
//! coordinates, the constants, the outputs with their extra dims (and those dims' coordinates,
//! if any) and the attributes, so xyz reads the dataset back as it was.

mod read;
mod write;

pub(super) use write::RowWriter;

use std::io;
use std::path::Path;

use parquet::errors::ParquetError;
use serde_json::Value as Json;
use xyz_abi::{ExtraDim, ScalarType};

use super::backend::{Backend, WindowSink};
use super::{Encoding, ReadError};
use crate::dataset::{Dataset, Window};
use crate::value::Value;

/// The Parquet backend.
pub(super) struct Parquet;

impl Backend for Parquet {
    fn write(&self, dataset: &Dataset, path: &Path, encoding: Encoding) -> io::Result<()> {
        write::write(dataset, path, encoding.compression)
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
        encoding: Encoding,
    ) -> io::Result<Box<dyn WindowSink + 'a>> {
        Ok(Box::new(RowWriter::create(
            layout,
            path,
            encoding.compression,
        )?))
    }
}

impl WindowSink for RowWriter<'_> {
    fn write(&mut self, window: &Window) -> io::Result<()> {
        let data: Vec<&crate::value::Column> = window.data.iter().collect();
        RowWriter::write(self, window.first, &window.cells, &window.errors, &data)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        RowWriter::finish(*self)
    }
}

/// Cells of the grid per row group.
pub(super) const ROW_GROUP: usize = 1 << 19;

/// The metadata key holding the layout.
pub(super) const LAYOUT_KEY: &str = "xyz";

/// What the `xyz` metadata says of a dataset.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Layout {
    pub(super) format: u32,
    pub(super) dims: Vec<DimLayout>,
    pub(super) constants: Vec<String>,
    pub(super) vars: Vec<VarLayout>,
    pub(super) attrs: Vec<(String, ScalarType, Json)>,
    /// The coordinates of the outputs' extra dims that have them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) extra_coords: Vec<DimLayout>,
    /// The coordinates along swept dims that are not their index (the sampled arguments),
    /// each a column after the dims'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) aux_coords: Vec<AuxLayout>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct AuxLayout {
    pub(super) name: String,
    /// The dim it lies along.
    pub(super) along: String,
    #[serde(rename = "type")]
    pub(super) ty: ScalarType,
    pub(super) values: Vec<Json>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct DimLayout {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) ty: ScalarType,
    pub(super) coords: Vec<Json>,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct VarLayout {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) ty: ScalarType,
    pub(super) extra_dims: Vec<ExtraDim>,
}

pub(super) fn to_io(e: ParquetError) -> io::Error {
    match e {
        ParquetError::External(e) => io::Error::other(e),
        e => io::Error::other(e.to_string()),
    }
}

/// Columns a value of type `ty` takes: two for a complex value, else one.
pub(super) fn width(ty: ScalarType) -> usize {
    if ty == ScalarType::C128 { 2 } else { 1 }
}

/// A value as the layout keeps it: JSON, with the floats JSON has no numbers for as the
/// strings `inf`, `-inf` and `nan`.
pub(super) fn json_of(v: &Value) -> Json {
    match v {
        Value::F64(x) if x.is_infinite() => Json::from(if *x > 0.0 { "inf" } else { "-inf" }),
        Value::F64(x) if x.is_nan() => Json::from("nan"),
        Value::C128(z) => serde_json::json!({
            "re": json_of(&Value::F64(z.re)),
            "im": json_of(&Value::F64(z.im)),
        }),
        v => v.to_json(),
    }
}

/// A value of type `ty` from the layout's JSON (see [`json_of`]).
pub(super) fn value_of(ty: ScalarType, v: &Json) -> Option<Value> {
    Some(match ty {
        ScalarType::F64 => Value::F64(match v {
            Json::Null => f64::NAN,
            Json::String(s) => match s.as_str() {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => return None,
            },
            v => v.as_f64()?,
        }),
        ScalarType::C128 => {
            let part = |key: &str| match value_of(ScalarType::F64, v.get(key)?)? {
                Value::F64(x) => Some(x),
                _ => None,
            };
            Value::C128(crate::value::Complex64::new(part("re")?, part("im")?))
        }
        ScalarType::I64 => Value::I64(v.as_i64()?),
        ScalarType::Bool => Value::Bool(v.as_bool()?),
        ScalarType::Str => Value::Str(v.as_str()?.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::FileReader as _;

    #[test]
    fn layout_values_keep_what_json_has_no_number_for() {
        for v in [
            Value::F64(f64::INFINITY),
            Value::F64(f64::NEG_INFINITY),
            Value::F64(-0.25),
            Value::I64(i64::MIN),
            Value::Bool(true),
            Value::Str("inf".into()),
        ] {
            assert_eq!(value_of(v.ty(), &json_of(&v)), Some(v.clone()), "{v:?}");
        }
        let nan = value_of(ScalarType::F64, &json_of(&Value::F64(f64::NAN)));
        assert!(matches!(nan, Some(Value::F64(x)) if x.is_nan()));
        assert_eq!(value_of(ScalarType::I64, &serde_json::json!("x")), None);
        assert_eq!(width(ScalarType::C128), 2);
        assert_eq!(width(ScalarType::Str), 1);
    }

    #[test]
    fn a_written_file_holds_its_layout_and_a_row_per_case() {
        let ds = crate::output::tests::sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        write::write(&ds, &path, crate::output::Compression::None).unwrap();
        let reader = parquet::file::serialized_reader::SerializedFileReader::new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap();
        let meta = reader.metadata().file_metadata();
        assert_eq!(meta.num_rows(), 8);
        let layout = meta
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|k| k.key == LAYOUT_KEY))
            .and_then(|k| k.value.clone())
            .unwrap();
        let layout: Layout = serde_json::from_str(&layout).unwrap();
        assert_eq!(layout.dims.len(), 2);
        let columns: Vec<String> = meta
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        assert_eq!(
            columns,
            [
                "k",
                "a",
                "c",
                "n",
                "b",
                "s",
                "v[0]",
                "v[1]",
                "xyz_status",
                "xyz_error"
            ]
        );
        let back = read::read(&path).unwrap();
        assert_eq!(back.cells, ds.cells);
        assert_eq!(back.errors, ds.errors);
        assert_eq!(format!("{:?}", back.vars), format!("{:?}", ds.vars));
    }

    #[test]
    fn what_is_not_parquet_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        std::fs::write(&path, b"PAR1 but not really").unwrap();
        let err = read::probe(&path).unwrap_err();
        assert_eq!(err.path, path);
    }
}
