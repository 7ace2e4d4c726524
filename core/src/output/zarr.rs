//! Zarr v3 stores, as `xarray.open_zarr` reads them.
//!
//! ```text
//! out.zarr/
//!   zarr.json              group: attributes + consolidated metadata of every array
//!   x/zarr.json            a coordinate: 1-D, dimension_names ["x"]
//!   x/c/0                  its one chunk
//!   n/zarr.json            a data variable: dims = swept dims (+ extra dims)
//!   n/c/0/0 ...            chunks of at most ~8 MiB, little-endian, uncompressed
//! ```
//!
//! Fixed-size types use the `bytes` codec; strings the `string` data type with the `vlen-utf8`
//! codec (per chunk: a u32 count, then for each string a u32 byte length and its bytes).

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value as Json, json};

use crate::dataset::{CellState, Dataset, MISSING_I64};
use crate::value::{Column, Value};

/// Largest chunk, in bytes (strings are counted as 16 bytes each).
const CHUNK_BYTES: usize = 8 << 20;

/// An array's data, ready for chunking.
enum Data<'a> {
    F64(&'a [f64]),
    I64(&'a [i64]),
    Bool(&'a [bool]),
    I8(Vec<i8>),
    Str(Vec<&'a str>),
}

impl Data<'_> {
    fn item_size(&self) -> usize {
        match self {
            Data::F64(_) | Data::I64(_) => 8,
            Data::Bool(_) | Data::I8(_) => 1,
            Data::Str(_) => 16,
        }
    }
}

struct Array<'a> {
    name: String,
    dims: Vec<String>,
    shape: Vec<usize>,
    data: Data<'a>,
    attrs: serde_json::Map<String, Json>,
}

pub(super) fn write(ds: &Dataset, dir: &Path) -> io::Result<()> {
    fs::create_dir(dir)?;
    let swept_names: Vec<String> = ds.dims.iter().map(|d| d.name.clone()).collect();
    let swept_shape = ds.shape();
    let mut arrays = Vec::new();
    for dim in &ds.dims {
        arrays.push(Array {
            name: dim.name.clone(),
            dims: vec![dim.name.clone()],
            shape: vec![dim.coords.len()],
            data: column_data(&dim.coords),
            attrs: serde_json::Map::new(),
        });
    }
    let any_missing = ds.cells.iter().any(|c| *c != CellState::Ok);
    for var in &ds.vars {
        let mut dims = swept_names.clone();
        let mut shape = swept_shape.clone();
        for d in &var.extra_dims {
            dims.push(d.name.clone());
            shape.push(d.size as usize);
        }
        let mut attrs = serde_json::Map::new();
        let data = match (&var.data, any_missing) {
            (Column::I64(v), true) => {
                attrs.insert("_FillValue".into(), json!(MISSING_I64));
                Data::I64(v)
            }
            (Column::Bool(v), true) => {
                attrs.insert("_FillValue".into(), json!(-1));
                let e = var.elements();
                let i8s = v
                    .iter()
                    .enumerate()
                    .map(|(k, b)| match ds.cells[k / e] {
                        CellState::Ok => i8::from(*b),
                        _ => -1,
                    })
                    .collect();
                Data::I8(i8s)
            }
            (col, _) => column_data(col),
        };
        arrays.push(Array {
            name: var.name.clone(),
            dims,
            shape,
            data,
            attrs,
        });
    }

    let mut consolidated = serde_json::Map::new();
    for array in &arrays {
        let meta = array_metadata(array);
        let adir = dir.join(&array.name);
        fs::create_dir(&adir)?;
        write_file(&adir.join("zarr.json"), &serde_json::to_vec_pretty(&meta)?)?;
        write_chunks(array, &adir)?;
        consolidated.insert(array.name.clone(), meta);
    }
    let attrs: serde_json::Map<String, Json> = ds
        .attrs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Bool(b) => json!(i64::from(*b)),
                v => v.to_json(),
            };
            (k.clone(), v)
        })
        .collect();
    let group = json!({
        "zarr_format": 3,
        "node_type": "group",
        "attributes": attrs,
        "consolidated_metadata": {
            "kind": "inline",
            "must_understand": false,
            "metadata": consolidated,
        },
    });
    write_file(&dir.join("zarr.json"), &serde_json::to_vec_pretty(&group)?)?;
    Ok(())
}

fn column_data(col: &Column) -> Data<'_> {
    match col {
        Column::F64(v) => Data::F64(v),
        Column::I64(v) => Data::I64(v),
        Column::Bool(v) => Data::Bool(v),
        Column::Str(v) => Data::Str(v.iter().map(String::as_str).collect()),
    }
}

fn chunk_shape(shape: &[usize], item: usize) -> Vec<usize> {
    let mut chunk = vec![1; shape.len()];
    let mut bytes = item;
    for d in (0..shape.len()).rev() {
        if bytes * shape[d] <= CHUNK_BYTES {
            chunk[d] = shape[d].max(1);
            bytes *= shape[d].max(1);
        } else {
            chunk[d] = (CHUNK_BYTES / bytes).max(1);
            break;
        }
    }
    chunk
}

fn array_metadata(a: &Array<'_>) -> Json {
    let (data_type, fill, codecs) = match &a.data {
        Data::F64(_) => (
            json!("float64"),
            json!("NaN"),
            json!([{"name": "bytes", "configuration": {"endian": "little"}}]),
        ),
        Data::I64(_) => (
            json!("int64"),
            json!(MISSING_I64),
            json!([{"name": "bytes", "configuration": {"endian": "little"}}]),
        ),
        Data::Bool(_) => (json!("bool"), json!(false), json!([{"name": "bytes"}])),
        Data::I8(_) => (json!("int8"), json!(-1), json!([{"name": "bytes"}])),
        Data::Str(_) => (
            json!("string"),
            json!(""),
            json!([{"name": "vlen-utf8", "configuration": {}}]),
        ),
    };
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": a.shape,
        "data_type": data_type,
        "chunk_grid": {
            "name": "regular",
            "configuration": {"chunk_shape": chunk_shape(&a.shape, a.data.item_size())},
        },
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill,
        "codecs": codecs,
        "attributes": a.attrs,
        "dimension_names": a.dims,
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Calls `f(in_chunk, in_array, len)` for each run of the chunk at `origin` (size `chunk`)
/// that lies inside a row-major array of `shape`: `len` elements along the last dim, at offset
/// `in_chunk` of the chunk (row-major, padded to full size) and `in_array` of the array.
pub(super) fn for_each_run(
    shape: &[usize],
    chunk: &[usize],
    origin: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let nd = shape.len();
    if nd == 0 {
        f(0, 0, 1);
        return;
    }
    let strides = crate::dataset::strides(shape);
    let last = nd - 1;
    let run = chunk[last].min(shape[last].saturating_sub(origin[last]));
    // Walk the chunk's rows (all dims but the last).
    let mut idx = vec![0usize; last];
    let mut row = 0usize;
    loop {
        if run > 0 && (0..last).all(|d| origin[d] + idx[d] < shape[d]) {
            let in_array = (0..last)
                .map(|d| (origin[d] + idx[d]) * strides[d])
                .sum::<usize>()
                + origin[last];
            f(row * chunk[last], in_array, run);
        }
        row += 1;
        let mut d = last;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < chunk[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Copies the elements of the chunk at `origin` (size `chunk`) out of row-major `data` of
/// `shape`, padding past the array's edge with `fill`.
fn gather<T: Copy>(
    data: &[T],
    shape: &[usize],
    chunk: &[usize],
    origin: &[usize],
    fill: T,
) -> Vec<T> {
    let mut out = vec![fill; chunk.iter().product()];
    for_each_run(shape, chunk, origin, |c, a, n| {
        out[c..c + n].copy_from_slice(&data[a..a + n]);
    });
    out
}

fn write_chunks(a: &Array<'_>, dir: &Path) -> io::Result<()> {
    let chunk = chunk_shape(&a.shape, a.data.item_size());
    let grid: Vec<usize> = a
        .shape
        .iter()
        .zip(&chunk)
        .map(|(s, c)| s.div_ceil(*c).max(1))
        .collect();
    let n_chunks: usize = grid.iter().product();
    // A 0-d array's one chunk is the file `c`; others nest `c/i/j/..`.
    let cdir = dir.join("c");
    if !a.shape.is_empty() {
        fs::create_dir(&cdir)?;
    }
    let mut gidx = vec![0usize; grid.len()];
    for _ in 0..n_chunks {
        let origin: Vec<usize> = gidx.iter().zip(&chunk).map(|(g, c)| g * c).collect();
        let bytes = match &a.data {
            Data::F64(v) => le_bytes(&gather(v, &a.shape, &chunk, &origin, f64::NAN), |x| {
                x.to_le_bytes()
            }),
            Data::I64(v) => le_bytes(&gather(v, &a.shape, &chunk, &origin, MISSING_I64), |x| {
                x.to_le_bytes()
            }),
            Data::Bool(v) => gather(v, &a.shape, &chunk, &origin, false)
                .into_iter()
                .map(u8::from)
                .collect(),
            Data::I8(v) => gather(v, &a.shape, &chunk, &origin, -1)
                .into_iter()
                .map(|x| x as u8)
                .collect(),
            Data::Str(v) => {
                let items = gather(v, &a.shape, &chunk, &origin, "");
                let mut b =
                    Vec::with_capacity(4 + items.iter().map(|s| s.len() + 4).sum::<usize>());
                b.extend_from_slice(&(items.len() as u32).to_le_bytes());
                for s in items {
                    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    b.extend_from_slice(s.as_bytes());
                }
                b
            }
        };
        let mut path = cdir.clone();
        for (k, g) in gidx.iter().enumerate() {
            path.push(g.to_string());
            if k + 1 < gidx.len() {
                fs::create_dir_all(&path)?;
            }
        }
        write_file(&path, &bytes)?;
        // Next chunk index, last dim fastest.
        for d in (0..gidx.len()).rev() {
            gidx[d] += 1;
            if gidx[d] < grid[d] {
                break;
            }
            gidx[d] = 0;
        }
    }
    Ok(())
}

fn le_bytes<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len() * N);
    for x in v {
        out.extend_from_slice(&f(*x));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_trailing_dims_whole() {
        assert_eq!(chunk_shape(&[400, 400], 8), vec![400, 400]);
        assert_eq!(chunk_shape(&[1000, 1000, 10], 8), vec![104, 1000, 10]);
        assert_eq!(chunk_shape(&[], 8), Vec::<usize>::new());
        assert_eq!(chunk_shape(&[10_000_000], 8), vec![1 << 20]);
    }

    #[test]
    fn gather_pads_edges() {
        // 3x3 array, 2x2 chunks.
        let data: Vec<i64> = (0..9).collect();
        let shape = [3, 3];
        let chunk = [2, 2];
        assert_eq!(gather(&data, &shape, &chunk, &[0, 0], -1), vec![0, 1, 3, 4]);
        assert_eq!(
            gather(&data, &shape, &chunk, &[0, 2], -1),
            vec![2, -1, 5, -1]
        );
        assert_eq!(
            gather(&data, &shape, &chunk, &[2, 0], -1),
            vec![6, 7, -1, -1]
        );
        assert_eq!(
            gather(&data, &shape, &chunk, &[2, 2], -1),
            vec![8, -1, -1, -1]
        );
        assert_eq!(gather(&[5i64], &[], &[], &[], -1), vec![5]);
    }
}
