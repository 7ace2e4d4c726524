//! Zarr v3 stores, as `xarray.open_zarr` reads them, written through zarrs.
//!
//! ```text
//! out.zarr/
//!   zarr.json              group: attributes + consolidated metadata of every array
//!   x/zarr.json            a coordinate: 1-D, dimension_names ["x"]
//!   x/c/0                  its one chunk
//!   t/zarr.json            an extra dim's coordinate, if the spec gives them
//!   n/zarr.json            a data variable: dims = swept dims (+ extra dims)
//!   n/c/0/0 ...            chunks of at most ~8 MiB before compression
//! ```
//!
//! Fixed-size types use the `bytes` codec, strings the `string` data type with `vlen-utf8`;
//! every chunk is then compressed with zstd (level 3 unless the [`Compression`] says
//! otherwise), as xarray's own `to_zarr` does. Chunks are gathered, encoded by zarrs and
//! stored one at a time, so a write holds little beside the dataset.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use zarrs::array::{ArrayBuilder, data_type};
use zarrs::filesystem::FilesystemStore;

use super::{Compression, Encoding};
use crate::dataset::{Dataset, ERROR_VAR, MISSING_I64, STATUS_MEANINGS, STATUS_VAR};
use crate::value::{Column, Value};

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Largest chunk, in bytes (strings are counted as 16 bytes each).
const CHUNK_BYTES: usize = 8 << 20;

/// Largest chunk inside a shard, in bytes.
const SUBCHUNK_BYTES: usize = 1 << 20;

/// Most chunks in one shard.
const SUBCHUNKS_PER_SHARD: usize = 64;

/// An array's data, ready for chunking.
enum Data<'a> {
    F64(&'a [f64]),
    I64(&'a [i64]),
    Bool(&'a [bool]),
    /// Status codes, [`CellState::status`](crate::dataset::CellState::status).
    Status(Vec<i8>),
    Str(Vec<&'a str>),
    /// The failures by cell: `""` for every cell not listed.
    Errors(&'a BTreeMap<usize, String>),
}

impl Data<'_> {
    fn item_size(&self) -> usize {
        match self {
            Data::F64(_) | Data::I64(_) => 8,
            Data::Bool(_) | Data::Status(_) => 1,
            Data::Str(_) | Data::Errors(_) => 16,
        }
    }
}

/// The fill value of [`STATUS_VAR`]: the status of a cell no case reaches.
const STATUS_FILL: i8 = 3;

struct Array<'a> {
    name: String,
    dims: Vec<String>,
    shape: Vec<usize>,
    data: Data<'a>,
    attrs: serde_json::Map<String, Json>,
}

pub(super) fn write(ds: &Dataset, dir: &Path, encoding: Encoding) -> io::Result<()> {
    fs::create_dir(dir)?;
    let store = Arc::new(FilesystemStore::new(dir).map_err(other)?);
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
    for dim in &ds.extra_coords {
        arrays.push(Array {
            name: dim.name.clone(),
            dims: vec![dim.name.clone()],
            shape: vec![dim.coords.len()],
            data: column_data(&dim.coords),
            attrs: serde_json::Map::new(),
        });
    }
    for var in &ds.vars {
        let mut dims = swept_names.clone();
        let mut shape = swept_shape.clone();
        for d in &var.extra_dims {
            dims.push(d.name.clone());
            shape.push(d.size as usize);
        }
        arrays.push(Array {
            name: var.name.clone(),
            dims,
            shape,
            data: column_data(&var.data),
            attrs: serde_json::Map::new(),
        });
    }
    arrays.push(Array {
        name: STATUS_VAR.into(),
        dims: swept_names.clone(),
        shape: swept_shape.clone(),
        data: Data::Status(ds.cells.iter().map(|c| c.status()).collect()),
        attrs: status_attrs(),
    });
    arrays.push(Array {
        name: ERROR_VAR.into(),
        dims: swept_names,
        shape: swept_shape,
        data: Data::Errors(&ds.errors),
        attrs: error_attrs(),
    });

    let mut consolidated = serde_json::Map::new();
    for array in &arrays {
        let meta = write_array(&store, array, encoding)?;
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

/// The attributes of [`STATUS_VAR`]: CF's flags, in every self-describing format.
pub(super) fn status_attrs() -> serde_json::Map<String, Json> {
    let mut attrs = serde_json::Map::new();
    attrs.insert("long_name".into(), json!("status of the cell's case"));
    attrs.insert("flag_values".into(), json!([0, 1, 2, 3]));
    attrs.insert("flag_meanings".into(), json!(STATUS_MEANINGS));
    attrs
}

/// The attributes of [`ERROR_VAR`].
pub(super) fn error_attrs() -> serde_json::Map<String, Json> {
    let mut attrs = serde_json::Map::new();
    attrs.insert(
        "long_name".into(),
        json!("why the cell's case failed: kind and message"),
    );
    attrs
}

fn column_data(col: &Column) -> Data<'_> {
    match col {
        Column::F64(v) => Data::F64(v),
        Column::I64(v) => Data::I64(v),
        Column::Bool(v) => Data::Bool(v),
        Column::Str(v) => Data::Str(v.iter().map(String::as_str).collect()),
    }
}

/// The chunk shape of an array of `shape` with items of `item` bytes: trailing dims whole, as
/// many as fit in `limit` bytes.
fn chunk_shape(shape: &[usize], item: usize, limit: usize) -> Vec<usize> {
    let mut chunk = vec![1; shape.len()];
    let mut bytes = item;
    for d in (0..shape.len()).rev() {
        if bytes * shape[d] <= limit {
            chunk[d] = shape[d].max(1);
            bytes *= shape[d].max(1);
        } else {
            chunk[d] = (limit / bytes).max(1);
            break;
        }
    }
    chunk
}

/// The shard and subchunk shapes of a sharded array of `shape`, if it has more than one
/// subchunk: subchunks of at most [`SUBCHUNK_BYTES`], up to [`SUBCHUNKS_PER_SHARD`] of them a
/// shard, taken along the innermost dim that is split, then the dims outside it.
fn shard_shape(shape: &[usize], item: usize) -> Option<(Vec<usize>, Vec<usize>)> {
    let sub = chunk_shape(shape, item, SUBCHUNK_BYTES);
    let split = (0..shape.len()).rfind(|&d| sub[d] < shape[d])?;
    let mut shard = sub.clone();
    let mut left = SUBCHUNKS_PER_SHARD;
    // Whole subchunk rows of the split dim first, then of the dims outside it.
    for d in (0..=split).rev() {
        let n = shape[d].div_ceil(sub[d]);
        let take = n.min(left).max(1);
        shard[d] = sub[d] * take;
        left /= take;
        if left <= 1 {
            break;
        }
    }
    Some((shard, sub))
}

/// Writes `a` into `store` with zarrs: its metadata, then every chunk. Gives its metadata, for
/// the group's consolidated metadata.
fn write_array(
    store: &Arc<FilesystemStore>,
    a: &Array<'_>,
    encoding: Encoding,
) -> io::Result<Json> {
    let shape: Vec<u64> = a.shape.iter().map(|s| *s as u64).collect();
    let to_u64 = |v: Vec<usize>| -> Vec<u64> { v.into_iter().map(|c| c.max(1) as u64).collect() };
    let sharded = encoding
        .shards
        .then(|| shard_shape(&a.shape, a.data.item_size()))
        .flatten();
    let chunk = match &sharded {
        Some((shard, _)) => to_u64(shard.clone()),
        None => to_u64(chunk_shape(&a.shape, a.data.item_size(), CHUNK_BYTES)),
    };
    let mut builder = match &a.data {
        Data::F64(_) => ArrayBuilder::new(shape, chunk, data_type::float64(), f64::NAN),
        Data::I64(_) => ArrayBuilder::new(shape, chunk, data_type::int64(), MISSING_I64),
        Data::Bool(_) => ArrayBuilder::new(
            shape,
            chunk,
            data_type::bool(),
            zarrs::array::FillValue::from(false),
        ),
        Data::Status(_) => ArrayBuilder::new(shape, chunk, data_type::int8(), STATUS_FILL),
        Data::Str(_) | Data::Errors(_) => ArrayBuilder::new(shape, chunk, data_type::string(), ""),
    };
    builder
        .dimension_names(Some(a.dims.iter().map(String::as_str)))
        .attributes(a.attrs.clone());
    if let Some((_, sub)) = sharded {
        builder.subchunk_shape(to_u64(sub));
    }
    if let Compression::Zstd(level) = encoding.compression {
        builder.bytes_to_bytes_codecs(vec![Arc::new(zarrs::array::codec::ZstdCodec::new(
            level, false,
        ))]);
    }
    let array = builder
        .build(store.clone(), &format!("/{}", a.name))
        .map_err(other)?;
    array.store_metadata().map_err(other)?;
    // Chunk by chunk: one chunk's values are gathered, and zarrs encodes and stores them, so
    // no more than a chunk is held besides the dataset.
    let chunk: Vec<usize> = array
        .chunk_shape_usize(&vec![0; a.shape.len()])
        .map_err(other)?;
    let grid: Vec<u64> = array.chunk_grid_shape().to_vec();
    let store_one = |index: Vec<u64>| -> io::Result<()> {
        let origin: Vec<usize> = index
            .iter()
            .zip(&chunk)
            .map(|(i, c)| *i as usize * c)
            .collect();
        let shape = &a.shape;
        match &a.data {
            Data::F64(v) => array.store_chunk(&index, gather(v, shape, &chunk, &origin, f64::NAN)),
            Data::I64(v) => {
                array.store_chunk(&index, gather(v, shape, &chunk, &origin, MISSING_I64))
            }
            Data::Bool(v) => array.store_chunk(&index, gather(v, shape, &chunk, &origin, false)),
            Data::Status(v) => {
                array.store_chunk(&index, gather(v, shape, &chunk, &origin, STATUS_FILL))
            }
            Data::Str(v) => array.store_chunk(&index, gather(v, shape, &chunk, &origin, "")),
            Data::Errors(map) => {
                array.store_chunk(&index, gather_errors(map, shape, &chunk, &origin))
            }
        }
        .map_err(other)
    };
    chunk_indices(&grid).try_for_each(store_one)?;
    serde_json::to_value(array.metadata()).map_err(other)
}

/// The indices of every chunk of a chunk grid of shape `grid`, row-major (the last fastest).
pub(super) fn chunk_indices(grid: &[u64]) -> impl Iterator<Item = Vec<u64>> + '_ {
    (0..grid.iter().product::<u64>()).map(move |k| {
        let mut rest = k;
        let mut index = vec![0u64; grid.len()];
        for d in (0..grid.len()).rev() {
            index[d] = rest % grid[d];
            rest /= grid[d];
        }
        index
    })
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

/// The failures of the cells of the chunk at `origin` (size `chunk`) of a grid of `shape`,
/// `""` where a cell has none.
fn gather_errors<'a>(
    errors: &'a BTreeMap<usize, String>,
    shape: &[usize],
    chunk: &[usize],
    origin: &[usize],
) -> Vec<&'a str> {
    let mut out = vec![""; chunk.iter().product()];
    if errors.is_empty() {
        return out;
    }
    for_each_run(shape, chunk, origin, |c, a, n| {
        for (k, e) in errors.range(a..a + n) {
            out[c + (k - a)] = e;
        }
    });
    out
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_trailing_dims_whole() {
        assert_eq!(chunk_shape(&[400, 400], 8, CHUNK_BYTES), vec![400, 400]);
        assert_eq!(
            chunk_shape(&[1000, 1000, 10], 8, CHUNK_BYTES),
            vec![104, 1000, 10]
        );
        assert_eq!(chunk_shape(&[], 8, CHUNK_BYTES), Vec::<usize>::new());
        assert_eq!(chunk_shape(&[10_000_000], 8, CHUNK_BYTES), vec![1 << 20]);
    }

    #[test]
    fn shards_gather_subchunks_along_the_split_dim() {
        // 10^7 values of 8 bytes: subchunks of 2^17, 64 a shard.
        assert_eq!(
            shard_shape(&[10_000_000], 8),
            Some((vec![64 << 17], vec![1 << 17]))
        );
        // Rows of 10^4 values (80 kB): 13 a subchunk, 64 subchunks a shard.
        assert_eq!(
            shard_shape(&[5000, 10_000], 8),
            Some((vec![13 * 64, 10_000], vec![13, 10_000]))
        );
        // A split trailing dim: its subchunks first, then whole rows.
        assert_eq!(
            shard_shape(&[100, 1 << 20], 8),
            Some((vec![8, 1 << 20], vec![1, 1 << 17]))
        );
        // One subchunk: nothing to shard.
        assert_eq!(shard_shape(&[300, 400], 8), None);
        assert_eq!(
            shard_shape(&[400, 400], 8),
            Some((vec![654, 400], vec![327, 400]))
        );
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
