//! Writing a dataset's rows to a Parquet file, a part of the grid at a time.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use parquet::basic::{LogicalType, Repetition, Type as Physical};
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedRowGroupWriter};
use parquet::schema::types::Type;
use xyz_abi::ScalarType;

use super::{AuxLayout, DimLayout, LAYOUT_KEY, Layout, ROW_GROUP, VarLayout, json_of, to_io};
use crate::dataset::{CellState, Dataset, ERROR_VAR, STATUS_VAR};
use crate::output::Compression;
use crate::output::conventions::constants;
use crate::output::rows::{column_names, parts};
use crate::space::SweptDim;
use crate::value::Column;

/// Pushes the columns of the values `name` of type `ty`: one, or two for a complex value (see
/// [`parts`]).
fn push_fields(
    out: &mut Vec<Arc<Type>>,
    name: &str,
    ty: ScalarType,
    repetition: Repetition,
) -> Result<(), ParquetError> {
    for (name, ty) in parts(name, ty) {
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
pub(crate) struct RowWriter<'a> {
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
