//! CSV and JSON: one row per case of the space, in grid order.
//!
//! Columns: the swept arguments (for a sampled space, the sample's index, then each sampled
//! argument), then the constants, then the outputs, then `xyz_status` (the
//! case's status code) and `xyz_error` (its failure, empty unless it failed). An array output
//! is one column per element in CSV (`y[0]`, `y[1]`, … with indices for each extra dim) and a
//! nested list in JSON. Missing values are empty CSV fields and JSON `null`s.
//!
//! A complex (`c128`) column is two: its real and imaginary parts, `z.re` and `z.im` (for an
//! array output in CSV, `y[0].re`, `y[0].im`, …), as in Parquet.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde_json::Value as Json;

use xyz_abi::ScalarType;

use crate::dataset::{CellState, DataVar, Dataset, ERROR_VAR, MISSING_C128, STATUS_VAR};
use crate::value::{Column, Value};

/// The rows of a dataset: grid cells that belong to the space, with their coordinates (one
/// per swept dim, then one per [coordinate along a dim](Dataset::aux_coords)).
fn rows(ds: &Dataset) -> impl Iterator<Item = (usize, Vec<Value>)> + '_ {
    let shape = ds.shape();
    let along: Vec<usize> = ds
        .aux_coords
        .iter()
        .map(|a| ds.dims.iter().position(|d| d.name == a.dim).unwrap_or(0))
        .collect();
    ds.cells
        .iter()
        .enumerate()
        .filter(|(_, s)| **s != CellState::Absent)
        .map(move |(cell, _)| {
            let mut rest = cell;
            let mut index = vec![0; shape.len()];
            for d in (0..shape.len()).rev() {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            let mut coords: Vec<Value> = (0..shape.len())
                .map(|d| ds.dims[d].coords.get(index[d]))
                .collect();
            for (aux, d) in ds.aux_coords.iter().zip(&along) {
                coords.push(aux.values.get(index[*d]));
            }
            (cell, coords)
        })
}

/// The names of the coordinate columns of [`rows`].
fn coord_names(ds: &Dataset) -> impl Iterator<Item = &String> {
    ds.dims
        .iter()
        .map(|d| &d.name)
        .chain(ds.aux_coords.iter().map(|a| &a.name))
}

/// The columns the values `name` of type `ty` take in a table: the real and imaginary parts
/// of a complex value, `NAME.re` and `NAME.im`, as `f64`; else one column, `name`.
pub(crate) fn parts(name: &str, ty: ScalarType) -> Vec<(String, ScalarType)> {
    match ty {
        ScalarType::C128 => vec![
            (format!("{name}.re"), ScalarType::F64),
            (format!("{name}.im"), ScalarType::F64),
        ],
        ty => vec![(name.to_string(), ty)],
    }
}

/// Constants, as the dataset's attributes hold them (before the provenance).
pub(super) fn constants(ds: &Dataset) -> &[(String, Value)] {
    let n = ds
        .attrs
        .iter()
        .position(|(k, _)| k == "xyz_version")
        .unwrap_or(ds.attrs.len());
    &ds.attrs[..n]
}

fn csv_field(out: &mut impl Write, v: &Value) -> io::Result<()> {
    match v {
        Value::Str(s) if s.contains([',', '"', '\n', '\r']) => {
            write!(out, "\"{}\"", s.replace('"', "\"\""))
        }
        Value::F64(f) if f.is_nan() => Ok(()),
        v => match v {
            Value::Str(s) => out.write_all(s.as_bytes()),
            other => write!(out, "{other}"),
        },
    }
}

fn element_names(extra: &[usize]) -> Vec<String> {
    let total: usize = extra.iter().product();
    (0..total)
        .map(|mut k| {
            let mut idx = vec![0; extra.len()];
            for d in (0..extra.len()).rev() {
                idx[d] = k % extra[d];
                k /= extra[d];
            }
            idx.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// The columns of a variable in a table: its name, or one `name[i,j]` per element of an array
/// output.
pub(super) fn column_names(var: &DataVar) -> Vec<String> {
    if var.extra_dims.is_empty() {
        return vec![var.name.clone()];
    }
    let sizes: Vec<usize> = var.extra_dims.iter().map(|d| d.size as usize).collect();
    element_names(&sizes)
        .into_iter()
        .map(|e| format!("{}[{e}]", var.name))
        .collect()
}

pub(super) fn write_csv(ds: &Dataset, path: &Path) -> io::Result<()> {
    to_file(path, |out| write_csv_to(ds, out))
}

pub(super) fn write_json(ds: &Dataset, path: &Path) -> io::Result<()> {
    to_file(path, |out| write_json_to(ds, out))
}

/// Writes a new file at `path` with `write`, and syncs it.
fn to_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = BufWriter::new(fs::File::create(path)?);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Writes `ds` as CSV to `out`.
pub(super) fn write_csv_to(ds: &Dataset, out: &mut impl Write) -> io::Result<()> {
    let consts = constants(ds);
    let mut header: Vec<(String, ScalarType)> = coord_names(ds)
        .zip(coord_types(ds))
        .map(|(n, ty)| (n.clone(), ty))
        .collect();
    header.extend(consts.iter().map(|(k, v)| (k.clone(), v.ty())));
    header.extend(
        ds.vars
            .iter()
            .flat_map(|v| column_names(v).into_iter().map(|n| (n, v.ty))),
    );
    header.extend([
        (STATUS_VAR.to_string(), ScalarType::I64),
        (ERROR_VAR.to_string(), ScalarType::Str),
    ]);
    let header: Vec<Value> = header
        .iter()
        .flat_map(|(n, ty)| parts(n, *ty))
        .map(|(n, _)| Value::Str(n))
        .collect();
    write_csv_row(out, &header)?;
    let mut row = Vec::new();
    for (cell, coords) in rows(ds) {
        row.clear();
        row.extend(coords);
        row.extend(consts.iter().map(|(_, v)| v.clone()));
        let ok = ds.cells[cell] == CellState::Ok;
        for var in &ds.vars {
            let e = var.elements();
            for k in cell * e..(cell + 1) * e {
                row.push(match (ok, var.ty) {
                    (true, _) => var.data.get(k),
                    (false, ScalarType::C128) => Value::C128(MISSING_C128),
                    (false, _) => Value::F64(f64::NAN),
                });
            }
        }
        row.extend(own_columns(ds, cell));
        write_csv_row(out, &row)?;
    }
    out.flush()
}

/// The values of `xyz_status` and `xyz_error` in the row of `cell`.
fn own_columns(ds: &Dataset, cell: usize) -> [Value; 2] {
    [
        Value::I64(i64::from(ds.cells[cell].status())),
        Value::Str(ds.errors.get(&cell).cloned().unwrap_or_default()),
    ]
}

/// The types of the coordinate columns of [`rows`].
fn coord_types(ds: &Dataset) -> impl Iterator<Item = ScalarType> + '_ {
    ds.dims
        .iter()
        .map(|d| d.coords.ty())
        .chain(ds.aux_coords.iter().map(|a| a.values.ty()))
}

/// Writes a row of fields, a complex value as two: its real and imaginary parts.
fn write_csv_row(out: &mut impl Write, row: &[Value]) -> io::Result<()> {
    let mut first = true;
    for v in row {
        let split;
        let fields: &[Value] = match v {
            Value::C128(z) => {
                split = [Value::F64(z.re), Value::F64(z.im)];
                &split
            }
            v => std::slice::from_ref(v),
        };
        for f in fields {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            csv_field(out, f)?;
        }
    }
    out.write_all(b"\n")
}

/// Inserts `value` as `name`, a complex value as its real and imaginary parts (`name.re`,
/// `name.im`).
fn insert_json(obj: &mut serde_json::Map<String, Json>, name: &str, value: &Value) {
    match value {
        Value::C128(z) => {
            obj.insert(format!("{name}.re"), Value::F64(z.re).to_json());
            obj.insert(format!("{name}.im"), Value::F64(z.im).to_json());
        }
        v => {
            obj.insert(name.to_string(), v.to_json());
        }
    }
}

/// Nests `values` (row-major) by `sizes`.
fn nest(values: &[Json], sizes: &[usize]) -> Json {
    match sizes {
        [] => values[0].clone(),
        [_] => Json::Array(values.to_vec()),
        [n, rest @ ..] => {
            let step = values.len() / n;
            Json::Array(values.chunks(step).map(|c| nest(c, rest)).collect())
        }
    }
}

/// The real and imaginary parts of the value at `k` of a complex column, as JSON.
fn complex_part(col: &Column, k: usize) -> (Json, Json) {
    match col {
        Column::C128(v) => (Value::F64(v[k].re).to_json(), Value::F64(v[k].im).to_json()),
        col => (col.get(k).to_json(), Json::Null),
    }
}

/// Writes `ds` as JSON to `out`.
pub(super) fn write_json_to(ds: &Dataset, out: &mut impl Write) -> io::Result<()> {
    let consts = constants(ds);
    out.write_all(b"[")?;
    for (r, (cell, coords)) in rows(ds).enumerate() {
        let mut obj = serde_json::Map::new();
        for (name, v) in coord_names(ds).zip(coords) {
            insert_json(&mut obj, name, &v);
        }
        for (k, v) in consts {
            insert_json(&mut obj, k, v);
        }
        let ok = ds.cells[cell] == CellState::Ok;
        for var in &ds.vars {
            let e = var.elements();
            let sizes: Vec<usize> = var.extra_dims.iter().map(|d| d.size as usize).collect();
            let value = |part: fn(&Column, usize) -> Json| {
                if !ok {
                    return Json::Null;
                }
                let values: Vec<Json> = (cell * e..(cell + 1) * e)
                    .map(|k| part(&var.data, k))
                    .collect();
                nest(&values, &sizes)
            };
            match &var.data {
                Column::C128(_) => {
                    obj.insert(
                        format!("{}.re", var.name),
                        value(|c, k| complex_part(c, k).0),
                    );
                    obj.insert(
                        format!("{}.im", var.name),
                        value(|c, k| complex_part(c, k).1),
                    );
                }
                _ => {
                    obj.insert(var.name.clone(), value(|c, k| c.get(k).to_json()));
                }
            }
        }
        let [status, error] = own_columns(ds, cell);
        obj.insert(STATUS_VAR.into(), status.to_json());
        obj.insert(ERROR_VAR.into(), error.to_json());
        out.write_all(if r == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &Json::Object(obj))?;
    }
    out.write_all(b"\n]\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn element_names_are_row_major() {
        assert_eq!(element_names(&[3]), ["0", "1", "2"]);
        assert_eq!(element_names(&[2, 2]), ["0,0", "0,1", "1,0", "1,1"]);
    }

    #[test]
    fn nest_follows_sizes() {
        let v: Vec<Json> = (0..6).map(|i| json!(i)).collect();
        assert_eq!(nest(&v[..1], &[]), json!(0));
        assert_eq!(nest(&v, &[6]), json!([0, 1, 2, 3, 4, 5]));
        assert_eq!(nest(&v, &[2, 3]), json!([[0, 1, 2], [3, 4, 5]]));
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut out = Vec::new();
        write_csv_row(
            &mut out,
            &[
                Value::Str("a,b".into()),
                Value::Str("say \"hi\"".into()),
                Value::F64(f64::NAN),
                Value::F64(0.1),
                Value::Bool(true),
            ],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",,0.1,true\n"
        );
    }
}
