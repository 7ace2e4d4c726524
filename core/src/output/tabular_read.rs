//! Reading back the CSV and JSON [`super::tabular`] writes. Those hold rows only, so the layout
//! is inferred: the dims are the fewest leading columns whose values tell every row apart, with
//! their values in order of first appearance as coordinates; the columns after them that hold
//! one value in every row are the constants (attributes), but for the last column; every other
//! column is a data variable. The columns `xyz_status` and `xyz_error`, when there, give each
//! row's state and failure; without them, a row whose variables are all missing is a missing
//! cell. A column's type is the narrowest that holds all its values: `i64`, then `f64`,
//! `bool`, and `str`.
//!
//! In JSON an array value becomes extra dims named `NAME_dim0`, `NAME_dim1`, …
//!
//! Two numeric columns `NAME.re` and `NAME.im`, side by side, are one complex column `NAME`:
//! the real and imaginary parts [`super::tabular`] writes.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value as Json;
use xyz_abi::{ExtraDim, ScalarType};

use super::ReadError;
use crate::dataset::{CellState, DataVar, Dataset, ERROR_VAR, STATUS_VAR};
use crate::space::SweptDim;
use crate::value::{Column, Value, ValueKey};

/// A table read from disk: named columns of optional values (one value per element for array
/// columns).
struct Table {
    names: Vec<String>,
    types: Vec<ScalarType>,
    extra: Vec<Vec<ExtraDim>>,
    /// Rows: per column, `None` where missing, else its elements.
    rows: Vec<Vec<Option<Vec<Value>>>>,
}

/// The narrowest type that holds every value of `texts`, and the values. A column with no
/// values at all is a float column of missing values, as pandas reads it.
fn infer(texts: impl Iterator<Item = String> + Clone) -> (ScalarType, Vec<Value>) {
    if texts.clone().next().is_none() {
        return (ScalarType::F64, Vec::new());
    }
    if texts.clone().all(|t| t.parse::<i64>().is_ok()) {
        return (
            ScalarType::I64,
            texts
                .map(|t| Value::I64(t.parse().expect("checked")))
                .collect(),
        );
    }
    if texts.clone().all(|t| t.parse::<f64>().is_ok()) {
        return (
            ScalarType::F64,
            texts
                .map(|t| Value::F64(t.parse().expect("checked")))
                .collect(),
        );
    }
    if texts.clone().all(|t| t == "true" || t == "false") {
        return (
            ScalarType::Bool,
            texts.map(|t| Value::Bool(t == "true")).collect(),
        );
    }
    (ScalarType::Str, texts.map(Value::Str).collect())
}

/// Splits CSV text into records of fields, with RFC 4180 quoting.
fn csv_records(text: &str) -> Result<Vec<Vec<(String, bool)>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => in_quotes = false,
            ('"', false) if field.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
            }
            (',', false) => record.push((std::mem::take(&mut field), std::mem::take(&mut quoted))),
            ('\r', false) if chars.peek() == Some(&'\n') => {}
            ('\n', false) => {
                record.push((std::mem::take(&mut field), std::mem::take(&mut quoted)));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            (c, _) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if in_quotes {
        return Err(format!("line {line}: a quoted field does not end"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push((field, quoted));
        records.push(record);
    }
    Ok(records)
}

pub(super) fn read_csv(path: &Path) -> Result<Dataset, ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::shared_fs::read_regular_to_string(path, u64::MAX)
        .map_err(|e| fail(e.to_string()))?;
    let mut records = csv_records(&text).map_err(fail)?.into_iter();
    let names: Vec<String> = records
        .next()
        .ok_or_else(|| fail("no header line".into()))?
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let records: Vec<Vec<(String, bool)>> = records.collect();
    for (i, r) in records.iter().enumerate() {
        if r.len() != names.len() {
            return Err(fail(format!(
                "line {}: {} fields where the header has {}",
                i + 2,
                r.len(),
                names.len()
            )));
        }
    }
    let mut columns: Vec<Vec<Option<Vec<Value>>>> = Vec::with_capacity(names.len());
    let mut types = Vec::with_capacity(names.len());
    for c in 0..names.len() {
        // An empty unquoted field is missing; a quoted one is an empty string.
        let present = records.iter().filter(|r| !r[c].0.is_empty() || r[c].1);
        let (ty, values) = infer(present.map(|r| r[c].0.clone()));
        let mut values = values.into_iter();
        columns.push(
            records
                .iter()
                .map(|r| {
                    (!r[c].0.is_empty() || r[c].1).then(|| vec![values.next().expect("one each")])
                })
                .collect(),
        );
        types.push(ty);
    }
    let n = names.len();
    let table = Table {
        extra: vec![Vec::new(); n],
        names,
        types,
        rows: transpose(columns, records.len()),
    };
    to_dataset(table).map_err(fail)
}

fn transpose(columns: Vec<Vec<Option<Vec<Value>>>>, n_rows: usize) -> Vec<Vec<Option<Vec<Value>>>> {
    let mut rows: Vec<Vec<Option<Vec<Value>>>> = (0..n_rows)
        .map(|_| Vec::with_capacity(columns.len()))
        .collect();
    for col in columns {
        for (row, v) in rows.iter_mut().zip(col) {
            row.push(v);
        }
    }
    rows
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

pub(super) fn read_json(path: &Path) -> Result<Dataset, ReadError> {
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

/// Builds a dataset from a table, taking the fewest leading columns that tell the rows apart
/// as its dims.
/// The dataset of a table of named, typed columns of scalars (`None` where missing), its
/// layout inferred as for CSV: for tables other formats hold (Parquet another tool wrote).
pub(super) fn from_columns(
    names: Vec<String>,
    types: Vec<ScalarType>,
    columns: Vec<Vec<Option<Value>>>,
) -> Result<Dataset, String> {
    let n_rows = columns.first().map_or(0, Vec::len);
    let columns = columns
        .into_iter()
        .map(|c| c.into_iter().map(|v| v.map(|v| vec![v])).collect())
        .collect();
    let n = names.len();
    to_dataset(Table {
        extra: vec![Vec::new(); n],
        names,
        types,
        rows: transpose(columns, n_rows),
    })
}

/// Takes column `name` out of `t`, if there: its values, row by row.
fn take_column(t: &mut Table, name: &str) -> Option<Vec<Option<Value>>> {
    let c = t.names.iter().position(|n| n == name)?;
    t.names.remove(c);
    t.types.remove(c);
    t.extra.remove(c);
    Some(
        t.rows
            .iter_mut()
            .map(|r| r.remove(c).and_then(|v| v.into_iter().next()))
            .collect(),
    )
}

/// Joins each numeric column `NAME.re` followed by a numeric `NAME.im` of the same shape into
/// one complex column `NAME`; a row is missing where both parts are.
fn join_complex(t: &mut Table) {
    let numeric = |ty: ScalarType| matches!(ty, ScalarType::F64 | ScalarType::I64);
    let mut c = 0;
    while c + 1 < t.names.len() {
        let pair = t.names[c].strip_suffix(".re").filter(|base| {
            t.names[c + 1].strip_suffix(".im") == Some(*base)
                && numeric(t.types[c])
                && numeric(t.types[c + 1])
                && t.extra[c]
                    .iter()
                    .map(|d| d.size)
                    .eq(t.extra[c + 1].iter().map(|d| d.size))
        });
        let Some(base) = pair.map(str::to_string) else {
            c += 1;
            continue;
        };
        let part = |v: &Value| match v {
            Value::F64(x) => *x,
            Value::I64(i) => *i as f64,
            _ => f64::NAN,
        };
        for row in &mut t.rows {
            let im = row.remove(c + 1);
            let re = row[c].take();
            // A part left empty is NaN (as a NaN part is written), unless both are.
            row[c] = match (re, im) {
                (None, None) => None,
                (re, im) => {
                    let n = re.as_ref().or(im.as_ref()).map_or(0, Vec::len);
                    let at = |v: &Option<Vec<Value>>, k: usize| {
                        v.as_ref().map_or(f64::NAN, |v| part(&v[k]))
                    };
                    Some(
                        (0..n)
                            .map(|k| {
                                Value::C128(crate::value::Complex64::new(at(&re, k), at(&im, k)))
                            })
                            .collect(),
                    )
                }
            };
        }
        t.names.remove(c + 1);
        t.types.remove(c + 1);
        t.extra.remove(c + 1);
        for (d, dim) in t.extra[c].iter_mut().enumerate() {
            dim.name = format!("{base}_dim{d}");
        }
        t.names[c] = base;
        t.types[c] = ScalarType::C128;
        c += 1;
    }
}

fn to_dataset(mut t: Table) -> Result<Dataset, String> {
    join_complex(&mut t);
    let statuses = take_column(&mut t, STATUS_VAR);
    let texts = take_column(&mut t, ERROR_VAR);
    let t = t;
    let scalar = |c: usize| t.extra[c].is_empty();
    let mut n_dims = 0;
    for k in 1..=t.names.len() {
        if !scalar(k - 1) || t.rows.iter().any(|r| r[k - 1].is_none()) {
            break;
        }
        let mut seen = HashSet::with_capacity(t.rows.len());
        let unique = t.rows.iter().all(|r| {
            seen.insert(
                r[..k]
                    .iter()
                    .map(|v| ValueKey::of(&v.as_ref().expect("present")[0]))
                    .collect::<Vec<_>>(),
            )
        });
        if unique {
            n_dims = k;
            break;
        }
    }
    if n_dims == 0 && !t.rows.is_empty() {
        return Err("no leading columns tell the rows apart, so they have no dims".into());
    }
    let mut dims = Vec::with_capacity(n_dims);
    let mut index: Vec<HashMap<ValueKey, usize>> = Vec::with_capacity(n_dims);
    for d in 0..n_dims {
        let mut coords = Column::new(t.types[d]);
        let mut map = HashMap::new();
        for r in &t.rows {
            let v = &r[d].as_ref().expect("dims are present")[0];
            map.entry(ValueKey::of(v)).or_insert_with(|| {
                coords.push(v);
                coords.len() - 1
            });
        }
        dims.push(SweptDim {
            name: t.names[d].clone(),
            coords,
        });
        index.push(map);
    }
    let mut attrs = Vec::new();
    let mut first_var = n_dims;
    while first_var + 1 < t.names.len() && scalar(first_var) {
        let c = first_var;
        let Some(Some(first)) = t.rows.first().map(|r| r[c].as_ref()) else {
            break;
        };
        if !t
            .rows
            .iter()
            .all(|r| r[c].as_ref().is_some_and(|v| v[0].identical(&first[0])))
        {
            break;
        }
        attrs.push((t.names[c].clone(), first[0].clone()));
        first_var += 1;
    }
    let shape: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
    let n_cells: usize = shape.iter().product();
    let mut vars: Vec<DataVar> = (first_var..t.names.len())
        .map(|c| {
            let e: usize = t.extra[c].iter().map(|d| d.size as usize).product();
            DataVar {
                name: t.names[c].clone(),
                ty: t.types[c],
                extra_dims: t.extra[c].clone(),
                data: Column::missing(t.types[c], n_cells * e),
            }
        })
        .collect();
    let mut cells = vec![CellState::Absent; n_cells];
    let mut errors = std::collections::BTreeMap::new();
    for (row, r) in t.rows.iter().enumerate() {
        let mut cell = 0;
        for d in 0..n_dims {
            let v = &r[d].as_ref().expect("dims are present")[0];
            cell = cell * shape[d] + index[d][&ValueKey::of(v)];
        }
        if let Some(statuses) = &statuses {
            cells[cell] = match &statuses[row] {
                Some(Value::I64(code)) => CellState::from_status(*code),
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "row {}: `{STATUS_VAR}` is not one of the status codes 0, 1, 2 and 3",
                    row + 1
                )
            })?;
        }
        if let Some(Some(Value::Str(text))) = texts.as_ref().map(|t| &t[row])
            && !text.is_empty()
        {
            errors.insert(cell, text.clone());
        }
        for (var, value) in vars.iter_mut().zip(&r[first_var..]) {
            if let Some(elements) = value {
                let e = var.elements();
                for (k, v) in elements.iter().enumerate() {
                    var.data.set(cell * e + k, v);
                }
                if statuses.is_none() {
                    cells[cell] = CellState::Ok;
                }
            }
        }
    }
    Ok(Dataset {
        dims,
        vars,
        cells,
        errors,
        extra_coords: Vec::new(),
        aux_coords: Vec::new(),
        attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_records_follow_rfc4180() {
        let r = csv_records("a,b\n\"x,1\",\"say \"\"hi\"\"\"\n,\"\"\r\n").unwrap();
        let fields: Vec<Vec<&str>> = r
            .iter()
            .map(|r| r.iter().map(|(f, _)| f.as_str()).collect())
            .collect();
        assert_eq!(
            fields,
            [vec!["a", "b"], vec!["x,1", "say \"hi\""], vec!["", ""]]
        );
        assert!(
            !r[2][0].1 && r[2][1].1,
            "quoted empty strings are not missing"
        );
        assert!(csv_records("a\n\"open").is_err());
    }

    #[test]
    fn status_codes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "x,y,xyz_status,xyz_error\n1,2,0,\n2,,1,error: no\n").unwrap();
        let ds = read_csv(&path).unwrap();
        assert_eq!(ds.cells, [CellState::Ok, CellState::Failed]);
        assert_eq!(ds.errors.get(&1).map(String::as_str), Some("error: no"));
        assert_eq!(ds.vars.len(), 1);
        for bad in ["7", "ok", ""] {
            std::fs::write(&path, format!("x,y,xyz_status\n1,2,{bad}\n")).unwrap();
            let err = read_csv(&path).unwrap_err();
            assert!(
                err.message
                    .contains("row 1: `xyz_status` is not one of the status codes"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn types_are_the_narrowest_that_fit() {
        let t = |v: &[&str]| infer(v.iter().map(|s| s.to_string())).0;
        assert_eq!(t(&["1", "-2"]), ScalarType::I64);
        assert_eq!(t(&["1", "2.5", "inf"]), ScalarType::F64);
        assert_eq!(t(&["true", "false"]), ScalarType::Bool);
        assert_eq!(t(&["1", "x"]), ScalarType::Str);
    }
}
