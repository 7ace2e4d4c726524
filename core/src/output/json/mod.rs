//! JSON: an array of one object per case (pandas `orient="records"`), the rows of
//! [`rows`](super::rows) with an array output as a nested list, and `null` for a missing
//! value (and for NaN and the infinities, which JSON cannot hold).
//!
//! Read back, an array value becomes extra dims named `NAME_dim0`, `NAME_dim1`, …

use std::io::{self, Write};
use std::path::Path;

use serde_json::Value as Json;
use xyz_abi::{ExtraDim, ScalarType};

use super::backend::{Backend, WindowSink};
use super::conventions::constants;
use super::infer::{Table, infer, to_dataset, transpose};
use super::rows::{Part, coord_names, create_file, finish_file, to_file, to_stream};
use super::{Encoding, ReadError};
use crate::dataset::{CellState, Dataset, ERROR_VAR, STATUS_VAR, Window};
use crate::value::{Column, Value};

/// The JSON backend: records, as pandas' `orient="records"`.
pub(super) struct Records;

impl Backend for Records {
    fn write(&self, dataset: &Dataset, path: &Path, _: Encoding) -> io::Result<()> {
        to_file(path, |out| write_to(dataset, out))
    }

    fn stream(&self, dataset: &Dataset, out: &mut dyn Write) -> io::Result<()> {
        to_stream(out, |out| write_to(dataset, out))
    }

    fn read(&self, path: &Path) -> Result<Dataset, ReadError> {
        read(path)
    }

    fn windows<'a>(
        &self,
        layout: &'a Dataset,
        path: &Path,
        _: Encoding,
    ) -> io::Result<Box<dyn WindowSink + 'a>> {
        let mut out = create_file(path)?;
        out.write_all(b"[")?;
        Ok(Box::new(JsonWindows {
            layout,
            out,
            rows: 0,
        }))
    }
}

/// A JSON file written a window at a time: the same records, in the same order, as written
/// whole.
struct JsonWindows<'a> {
    layout: &'a Dataset,
    out: std::io::BufWriter<std::fs::File>,
    /// Records written so far.
    rows: usize,
}

impl WindowSink for JsonWindows<'_> {
    fn write(&mut self, window: &Window) -> io::Result<()> {
        write_records(
            &Part::window(self.layout, window),
            &mut self.out,
            &mut self.rows,
        )
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.write_all(b"\n]\n")?;
        finish_file(self.out)
    }
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
fn write_to<W: Write>(ds: &Dataset, out: &mut W) -> io::Result<()> {
    out.write_all(b"[")?;
    write_records(&Part::whole(ds), out, &mut 0)?;
    out.write_all(b"\n]\n")?;
    out.flush()
}

/// Writes the records of `part`, each after a comma but the first of all (`rows` counts them).
fn write_records<W: Write>(part: &Part<'_>, out: &mut W, rows: &mut usize) -> io::Result<()> {
    let ds = part.layout;
    let consts = constants(ds);
    for (pos, coords) in part.rows() {
        let mut obj = serde_json::Map::new();
        for (name, v) in coord_names(ds).zip(coords) {
            insert_json(&mut obj, name, &v);
        }
        for (k, v) in consts {
            insert_json(&mut obj, k, v);
        }
        let ok = part.cells[pos] == CellState::Ok;
        for (var, data) in ds.vars.iter().zip(&part.data) {
            let e = var.elements();
            let sizes: Vec<usize> = var.extra_dims.iter().map(|d| d.size as usize).collect();
            let value = |part: fn(&Column, usize) -> Json| {
                if !ok {
                    return Json::Null;
                }
                let values: Vec<Json> = (pos * e..(pos + 1) * e).map(|k| part(data, k)).collect();
                nest(&values, &sizes)
            };
            match data {
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
        let [status, error] = part.own_columns(pos);
        obj.insert(STATUS_VAR.into(), status.to_json());
        obj.insert(ERROR_VAR.into(), error.to_json());
        out.write_all(if *rows == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &Json::Object(obj))?;
        *rows += 1;
    }
    Ok(())
}

/// The shape of a nested JSON array, and its leaves in row-major order.
fn flatten(v: &Json, shape: &mut Vec<usize>, leaves: &mut Vec<Json>, depth: usize) -> bool {
    match v {
        Json::Array(items) => {
            if shape.len() == depth {
                shape.push(items.len());
            } else if shape.get(depth) != Some(&items.len()) {
                return false;
            }
            items.iter().all(|i| flatten(i, shape, leaves, depth + 1))
        }
        leaf => {
            leaves.push(leaf.clone());
            shape.len() == depth
        }
    }
}
fn read(path: &Path) -> Result<Dataset, ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::shared_fs::read_regular_to_string(path, u64::MAX)
        .map_err(|e| fail(e.to_string()))?;
    let json: Json = serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    let rows = json
        .as_array()
        .ok_or_else(|| fail("not an array of records".into()))?;
    let mut names: Vec<String> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let obj = row
            .as_object()
            .ok_or_else(|| fail(format!("record {i} is not an object")))?;
        if i == 0 {
            names = obj.keys().cloned().collect();
        } else if obj.len() != names.len() || names.iter().any(|k| !obj.contains_key(k)) {
            return Err(fail(format!("record {i} has other keys than the first")));
        }
    }
    let mut columns = Vec::with_capacity(names.len());
    let mut types = Vec::with_capacity(names.len());
    let mut extra = Vec::with_capacity(names.len());
    for name in &names {
        let mut shape = Vec::new();
        let mut cells: Vec<Option<Vec<Json>>> = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let v = &row[name];
            if v.is_null() {
                cells.push(None);
                continue;
            }
            let mut this = Vec::new();
            let mut leaves = Vec::new();
            if !flatten(v, &mut this, &mut leaves, 0)
                || (i > 0 && !shape.is_empty() && this != shape)
            {
                return Err(fail(format!(
                    "record {i}: `{name}` is not of the shape of the others"
                )));
            }
            shape = this;
            cells.push(Some(leaves));
        }
        let texts = cells
            .iter()
            .flatten()
            .flatten()
            .filter(|j| !j.is_null())
            .map(|j| match j {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            });
        let all_strings = cells
            .iter()
            .flatten()
            .flatten()
            .all(|j| j.is_string() || j.is_null());
        let (ty, _) = if all_strings {
            (ScalarType::Str, Vec::new())
        } else {
            infer(texts)
        };
        let value = |j: &Json| -> Result<Value, String> {
            Ok(match (ty, j) {
                (ScalarType::F64, Json::Null) => Value::F64(f64::NAN),
                (ScalarType::I64, Json::Number(n)) => Value::I64(n.as_i64().ok_or("an integer")?),
                (ScalarType::F64, Json::Number(n)) => Value::F64(n.as_f64().ok_or("a number")?),
                (ScalarType::Bool, Json::Bool(b)) => Value::Bool(*b),
                (ScalarType::Str, Json::String(s)) => Value::Str(s.clone()),
                (ty, j) => return Err(format!("`{name}`: {j} among {ty} values")),
            })
        };
        let column = cells
            .into_iter()
            .map(|c| {
                c.map(|leaves| leaves.iter().map(value).collect())
                    .transpose()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        extra.push(
            shape
                .iter()
                .enumerate()
                .map(|(d, size)| ExtraDim {
                    name: format!("{name}_dim{d}"),
                    size: *size as u32,
                })
                .collect(),
        );
        columns.push(column);
        types.push(ty);
    }
    let table = Table {
        names,
        types,
        extra,
        rows: transpose(columns, rows.len()),
    };
    to_dataset(table).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nest_follows_sizes() {
        let v: Vec<Json> = (0..6).map(|i| json!(i)).collect();
        assert_eq!(nest(&v[..1], &[]), json!(0));
        assert_eq!(nest(&v, &[6]), json!([0, 1, 2, 3, 4, 5]));
        assert_eq!(nest(&v, &[2, 3]), json!([[0, 1, 2], [3, 4, 5]]));
    }
}
