//! Reading back a Parquet file: one xyz wrote, from its layout, or a flat table of another
//! tool's, as CSV is read.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::Path;

use parquet::basic::{LogicalType, Type as Physical};
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;
use serde_json::Value as Json;
use xyz_abi::ScalarType;

use super::{LAYOUT_KEY, Layout, value_of, width};
use crate::dataset::{CellState, DataVar, Dataset, ERROR_VAR, STATUS_VAR};
use crate::output::ReadError;
use crate::output::infer;
use crate::space::{AuxCoord, SweptDim};
use crate::value::{Column, Value, ValueKey};

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
/// is read: one row per case, the layout inferred (see [`crate::output::infer`]).
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
    infer::from_columns(names, types, values).map_err(fail)
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
