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

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::column::reader::ColumnReader;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::Type;
use serde_json::Value as Json;
use xyz_abi::{ExtraDim, ScalarType};

use super::Compression;
use super::ReadError;
use super::tabular::{column_names, constants};
use crate::dataset::{CellState, DataVar, Dataset, ERROR_VAR, STATUS_VAR};
use crate::space::{AuxCoord, SweptDim};
use crate::value::{Column, Value, ValueKey};

/// Cells of the grid per row group.
pub(super) const ROW_GROUP: usize = 1 << 19;

/// The metadata key holding the layout.
const LAYOUT_KEY: &str = "xyz";

/// What the `xyz` metadata says of a dataset.
#[derive(serde::Serialize, serde::Deserialize)]
struct Layout {
    format: u32,
    dims: Vec<DimLayout>,
    constants: Vec<String>,
    vars: Vec<VarLayout>,
    attrs: Vec<(String, ScalarType, Json)>,
    /// The coordinates of the outputs' extra dims that have them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    extra_coords: Vec<DimLayout>,
    /// The coordinates along swept dims that are not their index (the sampled arguments),
    /// each a column after the dims'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    aux_coords: Vec<AuxLayout>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct AuxLayout {
    name: String,
    /// The dim it lies along.
    along: String,
    #[serde(rename = "type")]
    ty: ScalarType,
    values: Vec<Json>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct DimLayout {
    name: String,
    #[serde(rename = "type")]
    ty: ScalarType,
    coords: Vec<Json>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct VarLayout {
    name: String,
    #[serde(rename = "type")]
    ty: ScalarType,
    extra_dims: Vec<ExtraDim>,
}

fn to_io(e: ParquetError) -> io::Error {
    match e {
        ParquetError::External(e) => io::Error::other(e),
        e => io::Error::other(e.to_string()),
    }
}

/// Pushes the columns of the values `name` of type `ty`: one, or two for a complex value (see
/// [`super::tabular::parts`]).
fn push_fields(
    out: &mut Vec<Arc<Type>>,
    name: &str,
    ty: ScalarType,
    repetition: Repetition,
) -> Result<(), ParquetError> {
    for (name, ty) in super::tabular::parts(name, ty) {
        let (physical, logical) = match ty {
            ScalarType::F64 | ScalarType::C128 => (Physical::DOUBLE, None),
            ScalarType::I64 => (Physical::INT64, None),
            ScalarType::Bool => (Physical::BOOLEAN, None),
            ScalarType::Str => (Physical::BYTE_ARRAY, Some(LogicalType::String)),
        };
        out.push(Arc::new(
            Type::primitive_type_builder(&name, physical)
                .with_repetition(repetition)
                .with_logical_type(logical)
                .build()?,
        ));
    }
    Ok(())
}

/// Columns a value of type `ty` takes: two for a complex value, else one.
fn width(ty: ScalarType) -> usize {
    if ty == ScalarType::C128 { 2 } else { 1 }
}

fn layout_of(ds: &Dataset) -> Layout {
    let dim_layouts = |dims: &[SweptDim]| {
        dims.iter()
            .map(|d| DimLayout {
                name: d.name.clone(),
                ty: d.coords.ty(),
                coords: (0..d.coords.len())
                    .map(|i| json_of(&d.coords.get(i)))
                    .collect(),
            })
            .collect()
    };
    Layout {
        format: 1,
        dims: dim_layouts(&ds.dims),
        constants: constants(ds).iter().map(|(k, _)| k.clone()).collect(),
        vars: ds
            .vars
            .iter()
            .map(|v| VarLayout {
                name: v.name.clone(),
                ty: v.ty,
                extra_dims: v.extra_dims.clone(),
            })
            .collect(),
        attrs: ds
            .attrs
            .iter()
            .map(|(k, v)| (k.clone(), v.ty(), json_of(v)))
            .collect(),
        extra_coords: dim_layouts(&ds.extra_coords),
        aux_coords: ds
            .aux_coords
            .iter()
            .map(|a| AuxLayout {
                name: a.name.clone(),
                along: a.dim.clone(),
                ty: a.values.ty(),
                values: (0..a.values.len())
                    .map(|i| json_of(&a.values.get(i)))
                    .collect(),
            })
            .collect(),
    }
}

pub(super) fn write(ds: &Dataset, path: &Path, compression: Compression) -> io::Result<()> {
    let mut rows = RowWriter::create(ds, path, compression)?;
    let data: Vec<&Column> = ds.vars.iter().map(|v| &v.data).collect();
    rows.write(0, &ds.cells, &ds.errors, &data)?;
    rows.finish()
}

/// Writes a dataset's rows in grid order, a part of the grid at a time, to a file. Row groups
/// hold the rows of the cells `k * ROW_GROUP..(k + 1) * ROW_GROUP` of the grid, however the
/// cells are given, so a dataset gives the same file whole or in parts.
pub(super) struct RowWriter<'a> {
    layout: &'a Dataset,
    consts: Vec<Column>,
    shape: Vec<usize>,
    strides: Vec<usize>,
    writer: SerializedFileWriter<File>,
    /// The next cell expected.
    next: usize,
}

impl<'a> RowWriter<'a> {
    /// Starts the file at `path` for a dataset laid out as `layout`, its pages compressed as
    /// `compression` says.
    pub(super) fn create(
        layout: &'a Dataset,
        path: &Path,
        compression: Compression,
    ) -> io::Result<RowWriter<'a>> {
        Self::create_parquet(layout, path, compression).map_err(to_io)
    }

    fn create_parquet(
        layout: &'a Dataset,
        path: &Path,
        compression: Compression,
    ) -> Result<RowWriter<'a>, ParquetError> {
        let consts = constants(layout);
        let mut fields = Vec::new();
        for d in &layout.dims {
            push_fields(&mut fields, &d.name, d.coords.ty(), Repetition::REQUIRED)?;
        }
        for a in &layout.aux_coords {
            push_fields(&mut fields, &a.name, a.values.ty(), Repetition::REQUIRED)?;
        }
        for (k, v) in consts {
            push_fields(&mut fields, k, v.ty(), Repetition::REQUIRED)?;
        }
        for var in &layout.vars {
            for name in column_names(var) {
                push_fields(&mut fields, &name, var.ty, Repetition::OPTIONAL)?;
            }
        }
        fields.push(Arc::new(
            Type::primitive_type_builder(STATUS_VAR, Physical::INT32)
                .with_repetition(Repetition::REQUIRED)
                .with_logical_type(Some(LogicalType::Integer(parquet::basic::IntType {
                    bit_width: 8,
                    is_signed: true,
                })))
                .build()?,
        ));
        push_fields(
            &mut fields,
            ERROR_VAR,
            ScalarType::Str,
            Repetition::OPTIONAL,
        )?;
        let schema = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?;
        let meta = serde_json::to_string(&layout_of(layout))
            .map_err(|e| ParquetError::General(e.to_string()))?;
        let props = WriterProperties::builder()
            .set_created_by(format!("xyz {}", env!("CARGO_PKG_VERSION")))
            .set_key_value_metadata(Some(vec![KeyValue::new(LAYOUT_KEY.into(), meta)]))
            .set_max_row_group_row_count(Some(ROW_GROUP))
            .set_compression(match compression {
                Compression::None => parquet::basic::Compression::UNCOMPRESSED,
                Compression::Zstd(level) => {
                    parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(level)?)
                }
            })
            .build();
        let file = File::create(path)?;
        let shape = layout.shape();
        Ok(RowWriter {
            layout,
            consts: consts
                .iter()
                .map(|(_, v)| {
                    let mut one = Column::new(v.ty());
                    one.push(v);
                    one
                })
                .collect(),
            strides: crate::dataset::strides(&shape),
            shape,
            writer: SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))?,
            next: 0,
        })
    }

    /// Writes the rows of the cells `first..first + cells.len()`, whose states are `cells`,
    /// failures `errors` (by position among `cells`) and values `data` (one column per
    /// variable, `elements()` values a cell). Parts must come in order, each beginning where
    /// the last ended.
    pub(super) fn write(
        &mut self,
        first: usize,
        cells: &[CellState],
        errors: &BTreeMap<usize, String>,
        data: &[&Column],
    ) -> io::Result<()> {
        if first != self.next {
            return Err(io::Error::other(format!(
                "rows of cells from {first} written after those up to {}",
                self.next
            )));
        }
        let mut from = 0;
        while from < cells.len() {
            let group_end = ((first + from) / ROW_GROUP + 1) * ROW_GROUP;
            let to = (group_end - first).min(cells.len());
            self.write_group(first, &cells[from..to], from, errors, data)
                .map_err(to_io)?;
            from = to;
        }
        self.next = first + cells.len();
        Ok(())
    }

    /// Writes one row group: the rows of `cells`, which begin at position `offset` of a part
    /// whose first cell is `first`.
    fn write_group(
        &mut self,
        first: usize,
        cells: &[CellState],
        offset: usize,
        errors: &BTreeMap<usize, String>,
        data: &[&Column],
    ) -> Result<(), ParquetError> {
        let rows = || (0..cells.len()).filter(|&i| cells[i] != CellState::Absent);
        if rows().next().is_none() {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for (d, dim) in self.layout.dims.iter().enumerate() {
            let (stride, size) = (self.strides[d], self.shape[d]);
            let at = rows().map(|i| Some(((first + offset + i) / stride) % size));
            write_column(&mut group, &dim.coords, at, false)?;
        }
        for aux in &self.layout.aux_coords {
            let d = self
                .layout
                .dims
                .iter()
                .position(|d| d.name == aux.dim)
                .unwrap_or(0);
            let (stride, size) = (self.strides[d], self.shape[d]);
            let at = rows().map(|i| Some(((first + offset + i) / stride) % size));
            write_column(&mut group, &aux.values, at, false)?;
        }
        for one in &self.consts {
            write_column(&mut group, one, rows().map(|_| Some(0)), false)?;
        }
        for (var, col) in self.layout.vars.iter().zip(data) {
            let e = var.elements();
            for k in 0..e {
                let at =
                    rows().map(|i| (cells[i] == CellState::Ok).then_some((offset + i) * e + k));
                write_column(&mut group, col, at, true)?;
            }
        }
        let statuses = Column::I64(rows().map(|i| i64::from(cells[i].status())).collect());
        write_column(&mut group, &statuses, (0..statuses.len()).map(Some), false)?;
        // Null but for the failures, which are few: no value is made for the others.
        let failed: Vec<usize> = rows()
            .filter(|i| errors.contains_key(&(offset + i)))
            .collect();
        let texts = Column::Str(
            failed
                .iter()
                .map(|i| errors[&(offset + i)].clone())
                .collect(),
        );
        let at = rows().map(|i| failed.binary_search(&i).ok());
        write_column(&mut group, &texts, at, true)?;
        group.close()?;
        Ok(())
    }

    /// Ends the file and syncs it.
    pub(super) fn finish(self) -> io::Result<()> {
        let file = self.writer.into_inner().map_err(to_io)?;
        file.sync_all()
    }
}

/// Rows handed to a column writer at a time.
const CHUNK: usize = 1 << 16;

/// Writes the next columns of `group` (two for complex values, their real and imaginary
/// parts), a row for each of `rows`: the value of `col` at an index, or null for `None` (only
/// in an `optional` column).
fn write_column(
    group: &mut SerializedRowGroupWriter<'_, File>,
    col: &Column,
    rows: impl Iterator<Item = Option<usize>> + Clone,
    optional: bool,
) -> Result<(), ParquetError> {
    if let Column::C128(v) = col {
        write_part(group, col, rows.clone(), optional, |i| v[i].re)?;
        return write_part(group, col, rows, optional, |i| v[i].im);
    }
    write_part(group, col, rows, optional, |_| 0.0)
}

/// Writes the next column of `group`, as [`write_column`] does; `part` gives the value at an
/// index of a complex column.
fn write_part(
    group: &mut SerializedRowGroupWriter<'_, File>,
    col: &Column,
    mut rows: impl Iterator<Item = Option<usize>>,
    optional: bool,
    part: impl Fn(usize) -> f64,
) -> Result<(), ParquetError> {
    let mut writer = group
        .next_column()?
        .ok_or_else(|| ParquetError::General("more columns than the schema has".into()))?;
    let mut levels: Vec<i16> = Vec::with_capacity(if optional { CHUNK } else { 0 });
    let mut at: Vec<usize> = Vec::with_capacity(CHUNK);
    loop {
        levels.clear();
        at.clear();
        for row in rows.by_ref().take(CHUNK) {
            if optional {
                levels.push(i16::from(row.is_some()));
            }
            at.extend(row);
        }
        if levels.is_empty() && at.is_empty() {
            break;
        }
        let levels = optional.then_some(levels.as_slice());
        match (writer.untyped(), col) {
            (ColumnWriter::DoubleColumnWriter(w), Column::F64(v)) => {
                let values: Vec<f64> = at.iter().map(|&i| v[i]).collect();
                w.write_batch(&values, levels, None)?;
            }
            (ColumnWriter::DoubleColumnWriter(w), Column::C128(_)) => {
                let values: Vec<f64> = at.iter().map(|&i| part(i)).collect();
                w.write_batch(&values, levels, None)?;
            }
            (ColumnWriter::Int64ColumnWriter(w), Column::I64(v)) => {
                let values: Vec<i64> = at.iter().map(|&i| v[i]).collect();
                w.write_batch(&values, levels, None)?;
            }
            (ColumnWriter::Int32ColumnWriter(w), Column::I64(v)) => {
                let values: Vec<i32> = at.iter().map(|&i| v[i] as i32).collect();
                w.write_batch(&values, levels, None)?;
            }
            (ColumnWriter::BoolColumnWriter(w), Column::Bool(v)) => {
                let values: Vec<bool> = at.iter().map(|&i| v[i]).collect();
                w.write_batch(&values, levels, None)?;
            }
            (ColumnWriter::ByteArrayColumnWriter(w), Column::Str(v)) => {
                let values: Vec<ByteArray> =
                    at.iter().map(|&i| ByteArray::from(v[i].as_str())).collect();
                w.write_batch(&values, levels, None)?;
            }
            (_, col) => {
                return Err(ParquetError::General(format!(
                    "a {} column against another type in the schema",
                    col.ty()
                )));
            }
        }
    }
    writer.close()
}

/// A value as the layout keeps it: JSON, with the floats JSON has no numbers for as the
/// strings `inf`, `-inf` and `nan`.
fn json_of(v: &Value) -> Json {
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
fn value_of(ty: ScalarType, v: &Json) -> Option<Value> {
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

/// Reads the column `i` of `group` (`rows` rows), and for complex values the column after it:
/// its non-null values and, for an optional column, its definition levels.
fn read_column(
    group: &dyn RowGroupReader,
    i: usize,
    rows: usize,
    ty: ScalarType,
    optional: bool,
) -> Result<(Column, Vec<i16>), ParquetError> {
    if ty == ScalarType::C128 {
        let (re, re_levels) = read_column(group, i, rows, ScalarType::F64, optional)?;
        let (im, im_levels) = read_column(group, i + 1, rows, ScalarType::F64, optional)?;
        let (Column::F64(re), Column::F64(im)) = (re, im) else {
            return Err(ParquetError::General(format!(
                "columns {i} and {} are not the real and imaginary parts the layout names",
                i + 1
            )));
        };
        if re_levels != im_levels || re.len() != im.len() {
            return Err(ParquetError::General(format!(
                "columns {i} and {} hold the real and imaginary parts of different values",
                i + 1
            )));
        }
        let values = re
            .into_iter()
            .zip(im)
            .map(|(re, im)| crate::value::Complex64::new(re, im))
            .collect();
        return Ok((Column::C128(values), re_levels));
    }
    let mut levels = Vec::with_capacity(if optional { rows } else { 0 });
    let mut done = 0;
    macro_rules! drain {
        ($reader:expr, $values:expr) => {{
            while done < rows {
                let (records, _, _) = $reader.read_records(
                    rows - done,
                    optional.then_some(&mut levels),
                    None,
                    &mut $values,
                )?;
                if records == 0 {
                    return Err(ParquetError::General(format!(
                        "column {i} ends after {done} of {rows} rows"
                    )));
                }
                done += records;
            }
        }};
    }
    let col = match (group.get_column_reader(i)?, ty) {
        (ColumnReader::DoubleColumnReader(mut r), ScalarType::F64) => {
            let mut v = Vec::with_capacity(rows);
            drain!(r, v);
            Column::F64(v)
        }
        (ColumnReader::FloatColumnReader(mut r), ScalarType::F64) => {
            let mut v: Vec<f32> = Vec::with_capacity(rows);
            drain!(r, v);
            Column::F64(v.into_iter().map(f64::from).collect())
        }
        (ColumnReader::Int32ColumnReader(mut r), ScalarType::I64) => {
            let mut v: Vec<i32> = Vec::with_capacity(rows);
            drain!(r, v);
            Column::I64(v.into_iter().map(i64::from).collect())
        }
        (ColumnReader::Int64ColumnReader(mut r), ScalarType::I64) => {
            let mut v = Vec::with_capacity(rows);
            drain!(r, v);
            Column::I64(v)
        }
        (ColumnReader::BoolColumnReader(mut r), ScalarType::Bool) => {
            let mut v = Vec::with_capacity(rows);
            drain!(r, v);
            Column::Bool(v)
        }
        (ColumnReader::ByteArrayColumnReader(mut r), ScalarType::Str) => {
            let mut v: Vec<ByteArray> = Vec::with_capacity(rows);
            drain!(r, v);
            let strings = v
                .iter()
                .map(|b| b.as_utf8().map(str::to_owned))
                .collect::<Result<_, _>>()?;
            Column::Str(strings)
        }
        (_, ty) => {
            return Err(ParquetError::General(format!(
                "column {i} is not the {ty} column the layout names"
            )));
        }
    };
    Ok((col, levels))
}

/// Opens `path` and reads its footer: the reader and the `xyz` layout, if xyz wrote it.
fn open(path: &Path) -> Result<(SerializedFileReader<File>, Option<Layout>), ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let file = crate::shared_fs::open_regular(path).map_err(|e| fail(e.to_string()))?;
    let reader = SerializedFileReader::new(file)
        .map_err(|e| fail(format!("not a Parquet file xyz can read: {e}")))?;
    let Some(text) = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == LAYOUT_KEY))
        .and_then(|k| k.value.clone())
    else {
        return Ok((reader, None));
    };
    let layout: Layout =
        serde_json::from_str(&text).map_err(|e| fail(format!("a bad `xyz` layout: {e}")))?;
    if layout.format != 1 {
        return Err(fail(format!(
            "layout format {} is not one this xyz reads (1)",
            layout.format
        )));
    }
    Ok((reader, Some(layout)))
}

/// Checks, from its footer alone, that `path` is a Parquet file xyz can read: one xyz wrote,
/// or a flat table of numbers, booleans and strings (read as CSV is, see [`read_table`]).
pub(super) fn probe(path: &Path) -> Result<(), ReadError> {
    match open(path)? {
        (_, Some(_)) => Ok(()),
        (reader, None) => table_columns(path, &reader).map(|_| ()),
    }
}

/// The columns of a Parquet file xyz did not write, as xyz types: flat columns of doubles,
/// floats, 64- and 32-bit integers, booleans and UTF-8 strings; pandas' index columns left
/// out. Gives each column's index, name, type and whether it may hold nulls.
fn table_columns(
    path: &Path,
    reader: &SerializedFileReader<File>,
) -> Result<Vec<(usize, String, ScalarType, bool)>, ReadError> {
    use parquet::basic::ConvertedType;
    let schema = reader.metadata().file_metadata().schema_descr();
    let mut out = Vec::new();
    for (i, col) in schema.columns().iter().enumerate() {
        let name = col.path().string();
        if name.starts_with("__index_level_") {
            continue;
        }
        let fail = |what: &str| ReadError {
            path: path.to_path_buf(),
            message: format!(
                "column `{name}` holds {what}, which xyz does not read: it reads flat columns \
                 of numbers, booleans and strings"
            ),
        };
        if col.max_rep_level() > 0 || col.path().parts().len() > 1 {
            return Err(fail("nested values"));
        }
        let ty = match col.physical_type() {
            Physical::DOUBLE | Physical::FLOAT => ScalarType::F64,
            Physical::INT64 | Physical::INT32
                if col.logical_type_ref().is_none()
                    || matches!(col.logical_type_ref(), Some(LogicalType::Integer { .. })) =>
            {
                ScalarType::I64
            }
            Physical::BOOLEAN => ScalarType::Bool,
            Physical::BYTE_ARRAY
                if matches!(col.logical_type_ref(), Some(LogicalType::String))
                    || col.converted_type() == ConvertedType::UTF8 =>
            {
                ScalarType::Str
            }
            other => {
                return Err(fail(&format!(
                    "{other} values ({:?})",
                    col.logical_type_ref()
                )));
            }
        };
        out.push((i, name, ty, col.max_def_level() > 0));
    }
    Ok(out)
}

/// Reads a Parquet file xyz did not write (pandas' `to_parquet` of an xyz table, say) as CSV
/// is read: one row per case, the layout inferred (see [`super::tabular_read`]).
fn read_table(path: &Path, reader: &SerializedFileReader<File>) -> Result<Dataset, ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let columns = table_columns(path, reader)?;
    let mut values: Vec<Vec<Option<Value>>> = vec![Vec::new(); columns.len()];
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| fail(e.to_string()))?;
        let rows = group.metadata().num_rows() as usize;
        for (k, (i, name, ty, optional)) in columns.iter().enumerate() {
            let (col, levels) = read_column(&*group, *i, rows, *ty, *optional)
                .map_err(|e| fail(format!("column `{name}`: {e}")))?;
            let mut next = 0;
            for r in 0..rows {
                let present = !*optional || levels.get(r).is_some_and(|l| *l > 0);
                values[k].push(present.then(|| {
                    next += 1;
                    col.get(next - 1)
                }));
            }
        }
    }
    let names = columns.iter().map(|(_, n, ..)| n.clone()).collect();
    let types = columns.iter().map(|(_, _, t, _)| *t).collect();
    super::tabular_read::from_columns(names, types, values).map_err(fail)
}

pub(super) fn read(path: &Path) -> Result<Dataset, ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let (reader, layout) = match open(path)? {
        (reader, Some(layout)) => (reader, layout),
        (reader, None) => return read_table(path, &reader),
    };
    let typed = |ty: ScalarType, values: &[Json], what: &str| -> Result<Column, ReadError> {
        let mut col = Column::new(ty);
        for v in values {
            col.push(&value_of(ty, v).ok_or_else(|| fail(format!("{what}: {v} is not a {ty}")))?);
        }
        Ok(col)
    };
    let mut dims = Vec::new();
    for d in &layout.dims {
        let coords = typed(d.ty, &d.coords, &format!("coordinates of `{}`", d.name))?;
        dims.push(SweptDim {
            name: d.name.clone(),
            coords,
        });
    }
    let mut extra_coords = Vec::new();
    for d in &layout.extra_coords {
        let coords = typed(d.ty, &d.coords, &format!("coordinates of `{}`", d.name))?;
        extra_coords.push(SweptDim {
            name: d.name.clone(),
            coords,
        });
    }
    let mut aux_coords = Vec::new();
    for a in &layout.aux_coords {
        let values = typed(a.ty, &a.values, &format!("coordinate `{}`", a.name))?;
        let along = dims.iter().find(|d| d.name == a.along).ok_or_else(|| {
            fail(format!(
                "coordinate `{}` lies along `{}`, not a dim",
                a.name, a.along
            ))
        })?;
        if along.coords.len() != values.len() {
            return Err(fail(format!(
                "coordinate `{}` has {} values, but `{}` has {}",
                a.name,
                values.len(),
                a.along,
                along.coords.len()
            )));
        }
        aux_coords.push(AuxCoord {
            name: a.name.clone(),
            dim: a.along.clone(),
            values,
        });
    }
    let shape: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
    let n_cells: usize = shape.iter().product();
    let strides = crate::dataset::strides(&shape);
    let mut vars: Vec<DataVar> = layout
        .vars
        .iter()
        .map(|v| {
            let e: usize = v.extra_dims.iter().map(|d| d.size as usize).product();
            DataVar {
                name: v.name.clone(),
                ty: v.ty,
                extra_dims: v.extra_dims.clone(),
                data: Column::missing(v.ty, n_cells * e),
            }
        })
        .collect();
    let mut attrs = Vec::new();
    for (k, ty, v) in &layout.attrs {
        let value =
            value_of(*ty, v).ok_or_else(|| fail(format!("attribute `{k}` is not a {ty}")))?;
        attrs.push((k.clone(), value));
    }
    let constant_widths: usize = layout
        .constants
        .iter()
        .map(|k| {
            attrs
                .iter()
                .find(|(name, _)| name == k)
                .map_or(1, |(_, v)| width(v.ty()))
        })
        .sum();
    // Where each dim's column is, and where the outputs' begin.
    let mut dim_at = Vec::with_capacity(dims.len());
    let mut n_columns = 0;
    for d in &dims {
        dim_at.push(n_columns);
        n_columns += width(d.coords.ty());
    }
    n_columns += aux_coords
        .iter()
        .map(|a| width(a.values.ty()))
        .sum::<usize>()
        + constant_widths;
    let outputs_at = n_columns;
    n_columns += vars
        .iter()
        .map(|v| v.elements() * width(v.ty))
        .sum::<usize>();
    let schema = reader.metadata().file_metadata().schema_descr();
    let schema_columns = schema.num_columns();
    // The status and failure columns, after the outputs (in files of older xyz, not there).
    let has_own = schema_columns == n_columns + 2
        && schema.column(n_columns).name() == STATUS_VAR
        && schema.column(n_columns + 1).name() == ERROR_VAR;
    if schema_columns != n_columns && !has_own {
        return Err(fail(format!(
            "{schema_columns} columns where the layout names {n_columns}"
        )));
    }
    let index: Vec<HashMap<ValueKey, usize>> = dims
        .iter()
        .map(|d| {
            (0..d.coords.len())
                .map(|i| (ValueKey::of(&d.coords.get(i)), i))
                .collect()
        })
        .collect();
    let mut cells = vec![CellState::Absent; n_cells];
    let mut errors = BTreeMap::new();
    let pq = |e: ParquetError| fail(e.to_string());
    // Each cell has one row: a file with two for one cell is refused, not read with one of
    // them winning.
    let mut seen = vec![false; n_cells];
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(pq)?;
        let rows = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
        let mut at = vec![0usize; rows];
        for (d, dim) in dims.iter().enumerate() {
            let (col, _) =
                read_column(&*group, dim_at[d], rows, dim.coords.ty(), false).map_err(pq)?;
            for (r, cell) in at.iter_mut().enumerate() {
                let i = index[d].get(&ValueKey::of(&col.get(r))).ok_or_else(|| {
                    fail(format!(
                        "row {r} of row group {g} has {} = {}, not a coordinate of the layout",
                        dim.name,
                        col.get(r)
                    ))
                })?;
                *cell += i * strides[d];
            }
        }
        for (r, &cell) in at.iter().enumerate() {
            if std::mem::replace(&mut seen[cell], true) {
                let coords: Vec<String> = dims
                    .iter()
                    .enumerate()
                    .map(|(d, dim)| {
                        let k = (cell / strides[d]) % dim.coords.len();
                        format!("{} = {}", dim.name, dim.coords.get(k))
                    })
                    .collect();
                return Err(fail(format!(
                    "row {r} of row group {g} is a second row for the cell {}: a file holds \
                     one row a cell",
                    coords.join(", ")
                )));
            }
        }
        let mut i = outputs_at;
        for var in &mut vars {
            let e = var.elements();
            for k in 0..e {
                let (col, levels) = read_column(&*group, i, rows, var.ty, true).map_err(pq)?;
                let mut next = 0;
                for (r, level) in levels.iter().enumerate() {
                    if *level == 1 {
                        var.data.copy_run(at[r] * e + k, &col, next, 1);
                        cells[at[r]] = CellState::Ok;
                        next += 1;
                    }
                }
                i += width(var.ty);
            }
        }
        if has_own {
            let (codes, _) = read_column(&*group, i, rows, ScalarType::I64, false).map_err(pq)?;
            let (texts, levels) =
                read_column(&*group, i + 1, rows, ScalarType::Str, true).map_err(pq)?;
            let mut next = 0;
            let Column::I64(codes) = codes else {
                return Err(fail(format!("`{STATUS_VAR}` is not a column of integers")));
            };
            for (r, cell) in at.iter().enumerate() {
                let code = codes[r];
                cells[*cell] = CellState::from_status(code).ok_or_else(|| {
                    fail(format!(
                        "row {r} of row group {g} has `{STATUS_VAR}` {code}, not a status code                          (0, 1, 2 or 3)"
                    ))
                })?;
                if levels.get(r) == Some(&1) {
                    if let Value::Str(text) = texts.get(next)
                        && !text.is_empty()
                    {
                        errors.insert(*cell, text);
                    }
                    next += 1;
                }
            }
        }
    }
    Ok(Dataset {
        dims,
        vars,
        cells,
        errors,
        extra_coords,
        aux_coords,
        attrs,
    })
}
