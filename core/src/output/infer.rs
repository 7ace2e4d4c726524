//! Reading back the CSV and JSON [`rows`](super::rows) layout holds. Those hold rows only, so the layout
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
//! the real and imaginary parts [`rows`](super::rows) layout holds.

use std::collections::{HashMap, HashSet};

use xyz_abi::{ExtraDim, ScalarType};

use crate::dataset::{CellState, DataVar, Dataset, ERROR_VAR, STATUS_VAR};
use crate::space::SweptDim;
use crate::value::{Column, Value, ValueKey};

/// A table read from disk: named columns of optional values (one value per element for array
/// columns).
pub(super) struct Table {
    pub names: Vec<String>,
    pub types: Vec<ScalarType>,
    pub extra: Vec<Vec<ExtraDim>>,
    /// Rows: per column, `None` where missing, else its elements.
    pub rows: Vec<Vec<Option<Vec<Value>>>>,
}

/// The narrowest type that holds every value of `texts`, and the values. A column with no
/// values at all is a float column of missing values, as pandas reads it.
pub(super) fn infer(texts: impl Iterator<Item = String> + Clone) -> (ScalarType, Vec<Value>) {
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

pub(super) fn transpose(
    columns: Vec<Vec<Option<Vec<Value>>>>,
    n_rows: usize,
) -> Vec<Vec<Option<Vec<Value>>>> {
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

pub(super) fn to_dataset(mut t: Table) -> Result<Dataset, String> {
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
    fn types_are_the_narrowest_that_fit() {
        let t = |v: &[&str]| infer(v.iter().map(|s| s.to_string())).0;
        assert_eq!(t(&["1", "-2"]), ScalarType::I64);
        assert_eq!(t(&["1", "2.5", "inf"]), ScalarType::F64);
        assert_eq!(t(&["true", "false"]), ScalarType::Bool);
        assert_eq!(t(&["1", "x"]), ScalarType::Str);
    }
}
