//! Writing a Zarr store through zarrs, a window of the grid at a time.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use xyz_abi::ScalarType;
use zarrs::array::{ArrayBuilder, data_type};
use zarrs::filesystem::FilesystemStore;

use super::chunks::{
    CHUNK_BYTES, chunk_index, chunk_shape, for_each_run, gather_from, shard_shape,
};
use super::other;
use crate::dataset::{
    Dataset, ERROR_VAR, MISSING_C128, MISSING_I64, STATUS_MEANINGS, STATUS_VAR, Window,
};
use crate::output::{Compression, Encoding};
use crate::value::{Column, Complex64, Value};

/// The type of an array's values, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    F64,
    C128,
    I64,
    Bool,
    /// Status codes, [`CellState::status`](crate::dataset::CellState::status).
    Status,
    Str,
}

impl Kind {
    fn of(ty: ScalarType) -> Kind {
        match ty {
            ScalarType::F64 => Kind::F64,
            ScalarType::C128 => Kind::C128,
            ScalarType::I64 => Kind::I64,
            ScalarType::Bool => Kind::Bool,
            ScalarType::Str => Kind::Str,
        }
    }

    /// Bytes a value, for sizing chunks: a string is counted as 64 (what it takes held, with
    /// a short text), so a chunk of strings is no larger to hold than one of numbers; a status
    /// as 8, so the statuses are chunked as a number output over the same cells.
    fn item_size(self) -> usize {
        match self {
            Kind::F64 | Kind::I64 | Kind::Status => 8,
            Kind::C128 => 16,
            Kind::Bool => 1,
            Kind::Str => 64,
        }
    }
}

/// The fill value of [`STATUS_VAR`]: the status of a cell no case reaches.
const STATUS_FILL: i8 = 3;

/// Values waiting to be stored, a run of an array's elements in row-major order.
enum Buf {
    F64(Vec<f64>),
    C128(Vec<Complex64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Status(Vec<i8>),
    Str(Vec<String>),
    /// Strings that are mostly empty (the failures): the others by position, and how many
    /// there are in all.
    Sparse(std::collections::BTreeMap<usize, String>, usize),
}

impl Buf {
    fn new(kind: Kind) -> Buf {
        match kind {
            Kind::F64 => Buf::F64(Vec::new()),
            Kind::C128 => Buf::C128(Vec::new()),
            Kind::I64 => Buf::I64(Vec::new()),
            Kind::Bool => Buf::Bool(Vec::new()),
            Kind::Status => Buf::Status(Vec::new()),
            Kind::Str => Buf::Str(Vec::new()),
        }
    }

    fn of_column(col: &Column) -> Buf {
        match col {
            Column::F64(v) => Buf::F64(v.clone()),
            Column::C128(v) => Buf::C128(v.clone()),
            Column::I64(v) => Buf::I64(v.clone()),
            Column::Bool(v) => Buf::Bool(v.clone()),
            Column::Str(v) => Buf::Str(v.clone()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Buf::F64(v) => v.len(),
            Buf::C128(v) => v.len(),
            Buf::I64(v) => v.len(),
            Buf::Bool(v) => v.len(),
            Buf::Status(v) => v.len(),
            Buf::Str(v) => v.len(),
            Buf::Sparse(_, n) => *n,
        }
    }

    /// Appends the values of `col`, which must be of the buffer's type.
    fn extend(&mut self, col: &Column) -> io::Result<()> {
        match (self, col) {
            (Buf::F64(b), Column::F64(v)) => b.extend_from_slice(v),
            (Buf::C128(b), Column::C128(v)) => b.extend_from_slice(v),
            (Buf::I64(b), Column::I64(v)) => b.extend_from_slice(v),
            (Buf::Bool(b), Column::Bool(v)) => b.extend_from_slice(v),
            (Buf::Str(b), Column::Str(v)) => b.extend_from_slice(v),
            (_, col) => {
                return Err(other(format!(
                    "a window holds {} values where the layout says otherwise",
                    col.ty()
                )));
            }
        }
        Ok(())
    }

    /// Drops the first `n` values.
    fn drop_front(&mut self, n: usize) {
        match self {
            Buf::F64(v) => drop(v.drain(..n)),
            Buf::C128(v) => drop(v.drain(..n)),
            Buf::I64(v) => drop(v.drain(..n)),
            Buf::Bool(v) => drop(v.drain(..n)),
            Buf::Status(v) => drop(v.drain(..n)),
            Buf::Str(v) => drop(v.drain(..n)),
            Buf::Sparse(texts, len) => {
                *texts = std::mem::take(texts)
                    .into_iter()
                    .filter(|(k, _)| *k >= n)
                    .map(|(k, t)| (k - n, t))
                    .collect();
                *len -= n;
            }
        }
    }
}

/// An array as it is declared: name, dims, shape, type and attributes.
struct Decl {
    name: String,
    dims: Vec<String>,
    shape: Vec<usize>,
    kind: Kind,
    attrs: serde_json::Map<String, Json>,
}

/// Where a streamed array's values come from in each window.
enum Source {
    /// None: it is given whole when the store starts (a coordinate).
    Whole,
    /// Data variable `i`.
    Var(usize),
    /// The cells' states.
    Status,
    /// The cells' failures.
    Errors,
}

/// An array stored as windows come: each chunk as soon as the windows given cover it.
struct Streamed {
    source: Source,
    array: zarrs::array::Array<FilesystemStore>,
    shape: Vec<usize>,
    chunk: Vec<usize>,
    grid: Vec<u64>,
    next_chunk: u64,
    /// Elements a cell of the grid: the product of the extra dims' sizes.
    per_cell: usize,
    /// Values from element `buf_start` of the array on, not stored yet.
    buf: Buf,
    buf_start: usize,
}

/// Values to store chunks from, borrowed: a buffer's, or a whole column's.
enum Held<'a> {
    F64(&'a [f64]),
    C128(&'a [Complex64]),
    I64(&'a [i64]),
    Bool(&'a [bool]),
    Status(&'a [i8]),
    Str(&'a [String]),
    Sparse(&'a std::collections::BTreeMap<usize, String>),
}

impl<'a> Held<'a> {
    fn of_buf(buf: &'a Buf) -> Held<'a> {
        match buf {
            Buf::F64(v) => Held::F64(v),
            Buf::C128(v) => Held::C128(v),
            Buf::I64(v) => Held::I64(v),
            Buf::Bool(v) => Held::Bool(v),
            Buf::Status(v) => Held::Status(v),
            Buf::Str(v) => Held::Str(v),
            Buf::Sparse(t, _) => Held::Sparse(t),
        }
    }

    fn of_column(col: &'a Column) -> Held<'a> {
        match col {
            Column::F64(v) => Held::F64(v),
            Column::C128(v) => Held::C128(v),
            Column::I64(v) => Held::I64(v),
            Column::Bool(v) => Held::Bool(v),
            Column::Str(v) => Held::Str(v),
        }
    }
}

impl Streamed {
    /// Stores every chunk not stored yet whose elements all come before element `end`, from
    /// the values held.
    fn store_ready(&mut self, end: usize) -> io::Result<()> {
        self.store_chunks(end, None)
    }

    /// Stores every chunk from `col`, the array's values whole (none held): the chunks that
    /// are runs of it straight from it.
    fn store_column(&mut self, col: &Column) -> io::Result<()> {
        self.store_chunks(usize::MAX, Some(col))
    }

    fn store_chunks(&mut self, end: usize, whole_column: Option<&Column>) -> io::Result<()> {
        let total: u64 = self.grid.iter().product();
        while self.next_chunk < total {
            let index = chunk_index(&self.grid, self.next_chunk);
            let origin: Vec<usize> = index
                .iter()
                .zip(&self.chunk)
                .map(|(i, c)| *i as usize * c)
                .collect();
            let (mut lo, mut hi, mut count) = (usize::MAX, 0, 0);
            for_each_run(&self.shape, &self.chunk, &origin, |_, a, n| {
                lo = lo.min(a);
                hi = hi.max(a + n);
                count += n;
            });
            if hi > end {
                return Ok(());
            }
            if lo < self.buf_start {
                return Err(other("a chunk reaches before the values held"));
            }
            let first = self.buf_start;
            let at = |a: usize| a - first;
            let (shape, chunk) = (&self.shape, &self.chunk);
            // A chunk inside the array whose values are a run of those held, in order, is
            // stored straight from them.
            let len: usize = chunk.iter().product();
            let run = (count == len && hi - lo == len).then(|| at(lo)..at(lo) + len);
            let held = match whole_column {
                Some(col) => Held::of_column(col),
                None => Held::of_buf(&self.buf),
            };
            let array = &self.array;
            // Every chunk of a value or status is stored, even one all missing: a chunk absent
            // from an xyz store is then one lost, which reads as missing, never as values.
            // Sparse failure messages keep leaving out chunks of none.
            let dense = zarrs::array::CodecOptions::default().with_store_empty_chunks(true);
            let stored = match (held, run) {
                (Held::F64(v), Some(r)) => array.store_chunk_opt(&index, &v[r], &dense),
                (Held::C128(v), Some(r)) => array.store_chunk_opt(&index, &v[r], &dense),
                (Held::I64(v), Some(r)) => array.store_chunk_opt(&index, &v[r], &dense),
                (Held::Bool(v), Some(r)) => array.store_chunk_opt(&index, &v[r], &dense),
                (Held::Status(v), Some(r)) => array.store_chunk_opt(&index, &v[r], &dense),
                (Held::Str(v), Some(r)) => array.store_chunk_opt(&index, &v[r], &dense),
                (Held::F64(v), None) => array.store_chunk_opt(
                    &index,
                    gather_from(v, at, shape, chunk, &origin, f64::NAN),
                    &dense,
                ),
                (Held::C128(v), None) => array.store_chunk_opt(
                    &index,
                    gather_from(v, at, shape, chunk, &origin, MISSING_C128),
                    &dense,
                ),
                (Held::I64(v), None) => array.store_chunk_opt(
                    &index,
                    gather_from(v, at, shape, chunk, &origin, MISSING_I64),
                    &dense,
                ),
                (Held::Bool(v), None) => array.store_chunk_opt(
                    &index,
                    gather_from(v, at, shape, chunk, &origin, false),
                    &dense,
                ),
                (Held::Status(v), None) => array.store_chunk_opt(
                    &index,
                    gather_from(v, at, shape, chunk, &origin, STATUS_FILL),
                    &dense,
                ),
                // A chunk of no failure is left out without being built (the store is new,
                // so there is no old chunk to replace).
                (Held::Sparse(texts), _) if texts.range(at(lo)..at(hi)).next().is_none() => Ok(()),
                (Held::Sparse(texts), _) => {
                    let mut v = vec![""; len];
                    for_each_run(shape, chunk, &origin, |c, a, n| {
                        for (k, t) in texts.range(at(a)..at(a) + n) {
                            v[c + k - at(a)] = t;
                        }
                    });
                    array.store_chunk(&index, &v[..])
                }
                (Held::Str(v), None) => {
                    let v: Vec<&str> = v.iter().map(String::as_str).collect();
                    array.store_chunk_opt(
                        &index,
                        gather_from(&v, at, shape, chunk, &origin, ""),
                        &dense,
                    )
                }
            };
            stored.map_err(other)?;
            if whole_column.is_none() {
                let done = hi.max(self.buf_start) - self.buf_start;
                self.buf.drop_front(done.min(self.buf.len()));
                self.buf_start += done;
            }
            self.next_chunk += 1;
        }
        Ok(())
    }
}

/// A Zarr store written a [`Window`] of the grid at a time, in grid order: the coordinates
/// when it starts, then each variable's chunks as soon as the windows cover them, so no more
/// than about a chunk of each variable is held (a chunk is a run of the grid in row-major
/// order: its trailing dims whole).
pub(crate) struct StreamWriter {
    dir: std::path::PathBuf,
    streamed: Vec<Streamed>,
    consolidated: serde_json::Map<String, Json>,
    attrs: serde_json::Map<String, Json>,
    next: usize,
    cells: usize,
}

impl StreamWriter {
    /// Starts the store `dir` (which must not exist) of a dataset laid out as `layout`.
    pub(super) fn create(
        layout: &Dataset,
        dir: &Path,
        encoding: Encoding,
    ) -> io::Result<StreamWriter> {
        fs::create_dir(dir)?;
        let store = Arc::new(FilesystemStore::new(dir).map_err(other)?);
        let swept_names: Vec<String> = layout.dims.iter().map(|d| d.name.clone()).collect();
        let swept_shape = layout.shape();
        let mut consolidated = serde_json::Map::new();
        // Coordinate arrays, each written whole: the dims' own, then those along a dim.
        let coords = layout
            .dims
            .iter()
            .chain(&layout.extra_coords)
            .map(|d| (&d.name, &d.name, &d.coords))
            .chain(
                layout
                    .aux_coords
                    .iter()
                    .map(|a| (&a.name, &a.dim, &a.values)),
            );
        for (name, dim, values) in coords {
            let decl = Decl {
                name: name.clone(),
                dims: vec![dim.clone()],
                shape: vec![values.len()],
                kind: Kind::of(values.ty()),
                attrs: serde_json::Map::new(),
            };
            let mut s = stream(&store, &decl, encoding, Source::Whole, 1)?;
            s.buf = Buf::of_column(values);
            s.store_ready(usize::MAX)?;
            consolidated.insert(decl.name, metadata(&s.array)?);
        }
        // The sampled arguments are coordinates of every variable along the dim of samples
        // (CF's `coordinates`, which xarray reads).
        let aux_names: Vec<&str> = layout.aux_coords.iter().map(|a| a.name.as_str()).collect();
        let with_coordinates = |mut attrs: serde_json::Map<String, Json>| {
            if !aux_names.is_empty() {
                attrs.insert("coordinates".into(), json!(aux_names.join(" ")));
            }
            attrs
        };
        let mut decls = Vec::new();
        for (i, var) in layout.vars.iter().enumerate() {
            let mut dims = swept_names.clone();
            let mut shape = swept_shape.clone();
            for d in &var.extra_dims {
                dims.push(d.name.clone());
                shape.push(d.size as usize);
            }
            let decl = Decl {
                name: var.name.clone(),
                dims,
                shape,
                kind: Kind::of(var.ty),
                attrs: with_coordinates(serde_json::Map::new()),
            };
            decls.push((decl, Source::Var(i), var.elements()));
        }
        decls.push((
            Decl {
                name: STATUS_VAR.into(),
                dims: swept_names.clone(),
                shape: swept_shape.clone(),
                kind: Kind::Status,
                attrs: with_coordinates(status_attrs()),
            },
            Source::Status,
            1,
        ));
        decls.push((
            Decl {
                name: ERROR_VAR.into(),
                dims: swept_names,
                shape: swept_shape,
                kind: Kind::Str,
                attrs: with_coordinates(error_attrs()),
            },
            Source::Errors,
            1,
        ));
        let mut streamed = Vec::with_capacity(decls.len());
        for (decl, source, per_cell) in decls {
            let s = stream(&store, &decl, encoding, source, per_cell)?;
            consolidated.insert(decl.name, metadata(&s.array)?);
            streamed.push(s);
        }
        let attrs = layout
            .attrs
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Bool(b) => json!(i64::from(*b)),
                    // As Python writes it, so `complex(ds.attrs[name])` reads it.
                    Value::C128(_) => json!(v.to_string()),
                    v => v.to_json(),
                };
                (k.clone(), v)
            })
            .collect();
        Ok(StreamWriter {
            dir: dir.to_path_buf(),
            streamed,
            consolidated,
            attrs,
            next: 0,
            cells: layout.shape().iter().product(),
        })
    }

    /// Writes the next window, which must begin where the last one ended.
    pub(super) fn write(&mut self, window: &Window) -> io::Result<()> {
        if window.first != self.next {
            return Err(other(format!(
                "cells from {} written after those up to {}",
                window.first, self.next
            )));
        }
        let end = window.end();
        for s in &mut self.streamed {
            match s.source {
                Source::Whole => {}
                Source::Var(i) => {
                    let col = window
                        .data
                        .get(i)
                        .ok_or_else(|| other("a window with fewer variables than the layout"))?;
                    s.buf.extend(col)?;
                }
                Source::Status => {
                    if let Buf::Status(b) = &mut s.buf {
                        b.extend(window.cells.iter().map(|c| c.status()));
                    }
                }
                Source::Errors => {
                    if let Buf::Sparse(texts, len) = &mut s.buf {
                        for (i, text) in &window.errors {
                            texts.insert(*len + i, text.clone());
                        }
                        *len += window.cells.len();
                    }
                }
            }
            s.store_ready(end * s.per_cell)?;
        }
        self.next = end;
        Ok(())
    }

    /// Ends the store: checks every cell was given, and writes the group's metadata.
    pub(super) fn finish(mut self) -> io::Result<()> {
        if self.next != self.cells {
            return Err(other(format!(
                "the windows end at cell {} of {}",
                self.next, self.cells
            )));
        }
        for s in &mut self.streamed {
            s.store_ready(usize::MAX)?;
        }
        let group = json!({
            "zarr_format": 3,
            "node_type": "group",
            "attributes": self.attrs,
            "consolidated_metadata": {
                "kind": "inline",
                "must_understand": false,
                "metadata": self.consolidated,
            },
        });
        write_file(
            &self.dir.join("zarr.json"),
            &serde_json::to_vec_pretty(&group)?,
        )
    }
}

/// Writes `ds`, held whole, as the store `dir`: each variable's chunks straight from its
/// values where they are runs of them, so the write holds little beside the dataset.
pub(super) fn write(ds: &Dataset, dir: &Path, encoding: Encoding) -> io::Result<()> {
    let mut w = StreamWriter::create(ds, dir, encoding)?;
    for s in &mut w.streamed {
        match s.source {
            Source::Whole => {}
            Source::Var(i) => s.store_column(&ds.vars[i].data)?,
            Source::Status => {
                s.buf = Buf::Status(ds.cells.iter().map(|c| c.status()).collect());
                s.store_ready(usize::MAX)?;
                s.buf = Buf::Status(Vec::new());
            }
            Source::Errors => {
                s.buf = Buf::Sparse(ds.errors.clone(), ds.cells.len());
                s.store_ready(usize::MAX)?;
            }
        }
    }
    w.next = w.cells;
    w.finish()
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

/// Declares `decl` in `store` with zarrs (its metadata stored), ready to take its values.
fn stream(
    store: &Arc<FilesystemStore>,
    decl: &Decl,
    encoding: Encoding,
    source: Source,
    per_cell: usize,
) -> io::Result<Streamed> {
    let shape: Vec<u64> = decl.shape.iter().map(|s| *s as u64).collect();
    let to_u64 = |v: Vec<usize>| -> Vec<u64> { v.into_iter().map(|c| c.max(1) as u64).collect() };
    let item = decl.kind.item_size();
    let sharded = encoding
        .shards
        .then(|| shard_shape(&decl.shape, item))
        .flatten();
    let chunk = match &sharded {
        Some((shard, _)) => to_u64(shard.clone()),
        None => to_u64(chunk_shape(&decl.shape, item, CHUNK_BYTES)),
    };
    let mut builder = match decl.kind {
        Kind::F64 => ArrayBuilder::new(shape, chunk, data_type::float64(), f64::NAN),
        Kind::C128 => ArrayBuilder::new(
            shape,
            chunk,
            data_type::complex128(),
            zarrs::array::FillValue::from(MISSING_C128),
        ),
        Kind::I64 => ArrayBuilder::new(shape, chunk, data_type::int64(), MISSING_I64),
        Kind::Bool => ArrayBuilder::new(
            shape,
            chunk,
            data_type::bool(),
            zarrs::array::FillValue::from(false),
        ),
        Kind::Status => ArrayBuilder::new(shape, chunk, data_type::int8(), STATUS_FILL),
        Kind::Str => ArrayBuilder::new(shape, chunk, data_type::string(), ""),
    };
    builder
        .dimension_names(Some(decl.dims.iter().map(String::as_str)))
        .attributes(decl.attrs.clone());
    if let Some((_, sub)) = sharded {
        builder.subchunk_shape(to_u64(sub));
    }
    if let Compression::Zstd(level) = encoding.compression {
        builder.bytes_to_bytes_codecs(vec![Arc::new(zarrs::array::codec::ZstdCodec::new(
            level, false,
        ))]);
    }
    let array = builder
        .build(store.clone(), &format!("/{}", decl.name))
        .map_err(other)?;
    array.store_metadata().map_err(other)?;
    let chunk: Vec<usize> = array
        .chunk_shape_usize(&vec![0; decl.shape.len()])
        .map_err(other)?;
    let grid: Vec<u64> = array.chunk_grid_shape().to_vec();
    let buf = match source {
        Source::Errors => Buf::Sparse(std::collections::BTreeMap::new(), 0),
        _ => Buf::new(decl.kind),
    };
    Ok(Streamed {
        source,
        shape: decl.shape.clone(),
        chunk,
        grid,
        next_chunk: 0,
        per_cell,
        buf,
        buf_start: 0,
        array,
    })
}

/// An array's metadata, for the group's consolidated metadata.
fn metadata(array: &zarrs::array::Array<FilesystemStore>) -> io::Result<Json> {
    serde_json::to_value(array.metadata()).map_err(other)
}

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
