//! Reading back the Zarr v3 stores [`super::zarr`] writes, for harvest: the group's
//! consolidated metadata names every array; 1-D arrays named after their own dimension are
//! the coordinates of the swept dims, the others are data variables.
//!
//! What was missing comes back missing: NaN, `i64::MIN` (the `_FillValue`), `int8` `-1` for
//! booleans. A cell is `Ok` when any variable has a value there; strings cannot say they are
//! missing (they read `""`), so a store of string outputs only reads every cell as `Ok`.

use std::path::Path;

use serde_json::Value as Json;
use xyz_abi::{ExtraDim, ScalarType};

use super::ReadError;
use crate::dataset::{DataVar, Dataset, MISSING_I64};
use crate::space::SweptDim;
use crate::value::{Column, Value};

fn err(path: &Path, message: impl Into<String>) -> ReadError {
    ReadError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// One array's metadata.
struct Meta {
    name: String,
    shape: Vec<usize>,
    chunk: Vec<usize>,
    dims: Vec<String>,
    dtype: String,
}

fn meta(name: &str, m: &Json, path: &Path) -> Result<Meta, ReadError> {
    let usizes = |v: Option<&Json>, what: &str| -> Result<Vec<usize>, ReadError> {
        v.and_then(Json::as_array)
            .ok_or_else(|| err(path, format!("array `{name}` has no {what}")))?
            .iter()
            .map(|x| {
                x.as_u64()
                    .map(|x| x as usize)
                    .ok_or_else(|| err(path, format!("array `{name}`: a bad {what}")))
            })
            .collect()
    };
    let shape = usizes(m.get("shape"), "shape")?;
    let chunk = usizes(
        m.pointer("/chunk_grid/configuration/chunk_shape"),
        "chunk shape",
    )?;
    let dims: Vec<String> = m
        .get("dimension_names")
        .and_then(Json::as_array)
        .ok_or_else(|| err(path, format!("array `{name}` has no dimension_names")))?
        .iter()
        .map(|d| d.as_str().unwrap_or_default().to_string())
        .collect();
    let dtype = m
        .get("data_type")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    if dims.len() != shape.len() || chunk.len() != shape.len() {
        return Err(err(
            path,
            format!("array `{name}`: its dims, shape and chunks disagree"),
        ));
    }
    Ok(Meta {
        name: name.to_string(),
        shape,
        chunk,
        dims,
        dtype,
    })
}

/// The values of one array, decoded, row-major.
fn read_array(dir: &Path, m: &Meta) -> Result<Items, ReadError> {
    let total: usize = m.shape.iter().product();
    let mut col = match m.dtype.as_str() {
        "float64" => Items::F64(vec![f64::NAN; total]),
        "int64" => Items::I64(vec![MISSING_I64; total]),
        "bool" | "int8" => Items::I8(vec![-1; total]),
        "string" => Items::Str(vec![String::new(); total]),
        other => {
            return Err(err(
                dir,
                format!(
                    "array `{}` has data type `{other}`, which xyz does not write",
                    m.name
                ),
            ));
        }
    };
    let nd = m.shape.len();
    if nd == 0 {
        return Err(err(dir, format!("array `{}` has no dims", m.name)));
    }
    let grid: Vec<usize> = m
        .shape
        .iter()
        .zip(&m.chunk)
        .map(|(s, c)| s.div_ceil((*c).max(1)).max(1))
        .collect();
    let chunk_len: usize = m.chunk.iter().product();
    let mut g = vec![0usize; nd];
    loop {
        let mut path = dir.join(&m.name).join("c");
        for i in &g {
            path.push(i.to_string());
        }
        let bytes = std::fs::read(&path).map_err(|e| err(&path, e.to_string()))?;
        let origin: Vec<usize> = g.iter().zip(&m.chunk).map(|(g, c)| g * c).collect();
        let items = decode(&bytes, &m.dtype, chunk_len).ok_or_else(|| {
            err(
                &path,
                format!("a chunk of `{}` that does not decode", m.name),
            )
        })?;
        // Scatter the chunk's items into the array, skipping the padding past its edges.
        super::zarr::for_each_run(&m.shape, &m.chunk, &origin, |c, a, n| {
            items.put(&mut col, c, a, n);
        });
        let mut d = nd;
        loop {
            if d == 0 {
                return Ok(col);
            }
            d -= 1;
            g[d] += 1;
            if g[d] < grid[d] {
                break;
            }
            g[d] = 0;
        }
    }
}

enum Items {
    F64(Vec<f64>),
    I64(Vec<i64>),
    I8(Vec<i8>),
    Str(Vec<String>),
}

impl Items {
    /// Copies `n` items from offset `from` of `self` (a chunk) to offset `at` of `col`.
    fn put(&self, col: &mut Items, from: usize, at: usize, n: usize) {
        match (self, col) {
            (Items::F64(v), Items::F64(c)) => c[at..at + n].copy_from_slice(&v[from..from + n]),
            (Items::I64(v), Items::I64(c)) => c[at..at + n].copy_from_slice(&v[from..from + n]),
            (Items::I8(v), Items::I8(c)) => c[at..at + n].copy_from_slice(&v[from..from + n]),
            (Items::Str(v), Items::Str(c)) => c[at..at + n].clone_from_slice(&v[from..from + n]),
            _ => unreachable!("decoded as the array's type"),
        }
    }

    /// The values as a column; booleans are `true` where 1.
    fn into_column(self) -> Column {
        match self {
            Items::F64(v) => Column::F64(v),
            Items::I64(v) => Column::I64(v),
            Items::I8(v) => Column::Bool(v.into_iter().map(|x| x == 1).collect()),
            Items::Str(v) => Column::Str(v),
        }
    }
}

fn decode(bytes: &[u8], dtype: &str, n: usize) -> Option<Items> {
    let le8 = |b: &[u8]| -> [u8; 8] { b.try_into().expect("8 bytes") };
    Some(match dtype {
        "float64" if bytes.len() == 8 * n => Items::F64(
            bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(le8(b)))
                .collect(),
        ),
        "int64" if bytes.len() == 8 * n => Items::I64(
            bytes
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(le8(b)))
                .collect(),
        ),
        "bool" | "int8" if bytes.len() == n => Items::I8(bytes.iter().map(|b| *b as i8).collect()),
        "string" => {
            let mut r = bytes;
            let mut take = |len: usize| -> Option<&[u8]> {
                let (a, b) = r.split_at_checked(len)?;
                r = b;
                Some(a)
            };
            let count = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
            if count != n {
                return None;
            }
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
                v.push(String::from_utf8(take(len)?.to_vec()).ok()?);
            }
            Items::Str(v)
        }
        _ => return None,
    })
}

/// What a store holds, from its metadata alone.
struct Layout {
    group: Json,
    /// The swept dims' coordinate arrays, in the data variables' order.
    coords: Vec<Meta>,
    /// The data variables, with their integer `_FillValue` if any.
    vars: Vec<(Meta, Option<i64>)>,
}

/// Reads and checks the metadata of the store at `dir`.
fn layout(dir: &Path) -> Result<Layout, ReadError> {
    let root = dir.join("zarr.json");
    let text = std::fs::read(&root).map_err(|e| err(&root, e.to_string()))?;
    let group: Json = serde_json::from_slice(&text).map_err(|e| err(&root, e.to_string()))?;
    let arrays = group
        .pointer("/consolidated_metadata/metadata")
        .and_then(Json::as_object)
        .ok_or_else(|| err(&root, "no consolidated metadata: not a store xyz wrote"))?;
    let metas: Vec<(Meta, Option<i64>)> = arrays
        .iter()
        .map(|(name, m)| {
            let fill = m.pointer("/attributes/_FillValue").and_then(Json::as_i64);
            meta(name, m, &root).map(|meta| (meta, fill))
        })
        .collect::<Result<_, _>>()?;
    let is_coord = |m: &Meta| m.dims.len() == 1 && m.dims[0] == m.name;
    let (coords, vars): (Vec<_>, Vec<_>) = metas.into_iter().partition(|(m, _)| is_coord(m));
    let Some((first, _)) = vars.first() else {
        return Err(err(&root, "the store holds no data variable"));
    };
    // The swept dims are those that have coordinates, in the data variables' order.
    let mut coords: Vec<Meta> = coords.into_iter().map(|(m, _)| m).collect();
    let swept: Vec<String> = first
        .dims
        .iter()
        .filter(|d| coords.iter().any(|m| m.name == **d))
        .cloned()
        .collect();
    coords.retain(|m| swept.contains(&m.name));
    coords.sort_by_key(|m| swept.iter().position(|s| *s == m.name));
    for (m, _) in &vars {
        if m.dims.len() < swept.len() || m.dims[..swept.len()] != swept[..] {
            return Err(err(
                &root,
                format!(
                    "variable `{}` has dims {:?}, which do not start with the swept dims {:?}",
                    m.name, m.dims, swept
                ),
            ));
        }
    }
    Ok(Layout {
        group,
        coords,
        vars,
    })
}

/// Checks that the store at `dir` is one [`read`] can read, from its metadata alone.
pub(super) fn probe(dir: &Path) -> Result<(), ReadError> {
    layout(dir).map(|_| ())
}

/// Reads the store at `dir`.
pub(super) fn read(dir: &Path) -> Result<Dataset, ReadError> {
    let Layout {
        group,
        coords,
        vars: var_metas,
    } = layout(dir)?;
    let swept: Vec<String> = coords.iter().map(|m| m.name.clone()).collect();
    let mut dims = Vec::with_capacity(coords.len());
    for m in &coords {
        dims.push(SweptDim {
            name: m.name.clone(),
            coords: read_array(dir, m)?.into_column(),
        });
    }
    let n_cells: usize = dims.iter().map(|d| d.coords.len()).product();
    let mut present = vec![false; n_cells];
    let mut any_present_info = false;
    let mut vars = Vec::new();
    for (m, fill) in &var_metas {
        let extra_dims: Vec<ExtraDim> = m.dims[swept.len()..]
            .iter()
            .zip(&m.shape[swept.len()..])
            .map(|(name, size)| ExtraDim {
                name: name.clone(),
                size: *size as u32,
            })
            .collect();
        let elements: usize = extra_dims.iter().map(|d| d.size as usize).product();
        let raw = read_array(dir, m)?;
        // Which cells hold a value: any element of theirs that is not missing.
        let mut mark = |k: usize, here: bool| {
            if here {
                present[k / elements.max(1)] = true;
            }
        };
        let ty = match &raw {
            Items::F64(v) => {
                any_present_info = true;
                v.iter().enumerate().for_each(|(k, x)| mark(k, !x.is_nan()));
                ScalarType::F64
            }
            Items::I64(v) => {
                any_present_info = true;
                let missing = fill.unwrap_or(MISSING_I64);
                v.iter()
                    .enumerate()
                    .for_each(|(k, x)| mark(k, *x != missing));
                ScalarType::I64
            }
            Items::I8(v) => {
                any_present_info = true;
                v.iter().enumerate().for_each(|(k, x)| mark(k, *x != -1));
                ScalarType::Bool
            }
            Items::Str(_) => ScalarType::Str,
        };
        let data = raw.into_column();
        vars.push(DataVar {
            name: m.name.clone(),
            ty,
            extra_dims,
            data,
        });
    }
    let cells = super::cells_of(present, any_present_info);
    let attrs = group
        .get("attributes")
        .and_then(Json::as_object)
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| {
                    let v = match v {
                        Json::Bool(b) => Value::Bool(*b),
                        Json::Number(n) if n.is_i64() => Value::I64(n.as_i64()?),
                        Json::Number(n) => Value::F64(n.as_f64()?),
                        Json::String(s) => Value::Str(s.clone()),
                        _ => return None,
                    };
                    Some((k.clone(), v))
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Dataset {
        dims,
        vars,
        cells,
        attrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::CellState;

    #[test]
    fn a_written_store_reads_back_with_its_missing_cells() {
        let ds = crate::output::tests::sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.zarr");
        crate::output::write(&ds, &path, crate::Format::Zarr, false).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.dims, ds.dims);
        assert_eq!(
            back.cells,
            ds.cells
                .iter()
                .map(|c| match c {
                    CellState::Ok => CellState::Ok,
                    _ => CellState::Absent,
                })
                .collect::<Vec<_>>()
        );
        // The consolidated metadata keeps the variables in their order.
        assert_eq!(format!("{:?}", back.vars), format!("{:?}", ds.vars));
        assert_eq!(back.attrs.len(), ds.attrs.len());
    }

    #[test]
    fn what_xyz_did_not_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(err.path.ends_with("zarr.json"), "{err}");
        std::fs::write(dir.path().join("zarr.json"), r#"{"zarr_format": 3}"#).unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(err.message.contains("no consolidated metadata"), "{err}");
    }
}
