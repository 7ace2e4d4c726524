//! The arrays of a Zarr store, opened and decoded through zarrs, a chunk at a time where the
//! whole is not needed, every chunk checked before a decoder sees it (a FIFO, or a zstd frame
//! claiming more than its array can hold, is refused as damage).

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;
use zarrs::array::{Array, ArraySubset, data_type};
use zarrs::filesystem::FilesystemStore;

use super::chunks::{chunk_indices, for_each_run, for_each_shared_run};
use crate::dataset::{CellState, MISSING_C128, MISSING_I64};
use crate::output::ReadError;
use crate::value::{Column, Complex64};

pub(super) type Store = Arc<FilesystemStore>;

pub(super) fn err(path: &Path, message: impl Into<String>) -> ReadError {
    ReadError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// One array of the store, opened (metadata only).
pub(super) struct Meta {
    pub(super) name: String,
    pub(super) shape: Vec<usize>,
    pub(super) dims: Vec<String>,
    pub(super) array: Array<FilesystemStore>,
}

/// The values of one array, decoded, row-major.
pub(super) enum Items {
    F64(Vec<f64>),
    C128(Vec<Complex64>),
    I64(Vec<i64>),
    I8(Vec<i8>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl Items {
    /// Its values' count.
    fn len(&self) -> usize {
        match self {
            Items::F64(v) => v.len(),
            Items::C128(v) => v.len(),
            Items::I64(v) => v.len(),
            Items::I8(v) => v.len(),
            Items::Bool(v) => v.len(),
            Items::Str(v) => v.len(),
        }
    }

    /// `len` values of the kind of `like`, each that kind's default.
    fn like(like: &Items, len: usize) -> Items {
        match like {
            Items::F64(_) => Items::F64(vec![f64::NAN; len]),
            Items::C128(_) => Items::C128(vec![MISSING_C128; len]),
            Items::I64(_) => Items::I64(vec![MISSING_I64; len]),
            Items::I8(_) => Items::I8(vec![0; len]),
            Items::Bool(_) => Items::Bool(vec![false; len]),
            Items::Str(_) => Items::Str(vec![String::new(); len]),
        }
    }

    /// Copies `len` values of `src` from `from` to `at`; `src` is of the same kind.
    fn copy_run(&mut self, at: usize, src: &Items, from: usize, len: usize) {
        match (self, src) {
            (Items::F64(d), Items::F64(s)) => d[at..at + len].copy_from_slice(&s[from..from + len]),
            (Items::C128(d), Items::C128(s)) => {
                d[at..at + len].copy_from_slice(&s[from..from + len]);
            }
            (Items::I64(d), Items::I64(s)) => d[at..at + len].copy_from_slice(&s[from..from + len]),
            (Items::I8(d), Items::I8(s)) => d[at..at + len].copy_from_slice(&s[from..from + len]),
            (Items::Bool(d), Items::Bool(s)) => {
                d[at..at + len].copy_from_slice(&s[from..from + len]);
            }
            (Items::Str(d), Items::Str(s)) => {
                d[at..at + len].clone_from_slice(&s[from..from + len])
            }
            _ => unreachable!("the chunks of one array decode to one kind"),
        }
    }

    /// The values as a column; `int8` booleans are `true` where 1.
    pub(super) fn into_column(self) -> Column {
        match self {
            Items::F64(v) => Column::F64(v),
            Items::C128(v) => Column::C128(v),
            Items::I64(v) => Column::I64(v),
            Items::I8(v) => Column::Bool(v.into_iter().map(|x| x == 1).collect()),
            Items::Bool(v) => Column::Bool(v),
            Items::Str(v) => Column::Str(v),
        }
    }
}

/// An array read a region at a time, put together from its chunks: the last few chunks
/// decoded are kept, so that regions read in turn that cut a chunk decode it once.
pub(super) struct ChunkReader {
    pub(super) meta: Meta,
    /// How many chunks are kept.
    keep: usize,
    kept: std::sync::Mutex<std::collections::VecDeque<(Vec<u64>, Arc<Items>)>>,
}

impl ChunkReader {
    /// Reads `meta` keeping its last `keep` chunks decoded.
    pub(super) fn new(meta: Meta, keep: usize) -> ChunkReader {
        ChunkReader {
            meta,
            keep: keep.max(1),
            kept: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// The values of the region of `size` at `start` (every dim of the array), row-major.
    pub(super) fn region(
        &self,
        dir: &Path,
        start: &[usize],
        size: &[usize],
    ) -> Result<Items, ReadError> {
        let m = &self.meta;
        let at = dir.join(&m.name);
        let ranges: Vec<std::ops::Range<u64>> = start
            .iter()
            .zip(size)
            .map(|(s, n)| *s as u64..(s + n) as u64)
            .collect();
        let chunks = m
            .array
            .chunks_in_array_subset(&ArraySubset::new_with_ranges(&ranges))
            .map_err(|e| err(&at, e.to_string()))?;
        let mut out: Option<Items> = None;
        for index in chunks.iter().flat_map(|c| c.indices().into_iter()) {
            let part = m
                .array
                .chunk_subset_bounded(&index)
                .map_err(|e| err(&at, format!("cannot be read: {e}")))?;
            let values = self.chunk(dir, &index, &part)?;
            let origin: Vec<usize> = part.start().iter().map(|s| *s as usize).collect();
            let shape: Vec<usize> = part.shape().iter().map(|s| *s as usize).collect();
            if values.len() != shape.iter().product::<usize>() {
                return Err(err(&at, "has a chunk of the wrong size (damaged)"));
            }
            let out = out.get_or_insert_with(|| Items::like(&values, size.iter().product()));
            for_each_shared_run(&origin, &shape, start, size, |from, to, n| {
                out.copy_run(to, &values, from, n);
            });
        }
        out.ok_or_else(|| err(&at, "has no chunk where a region was asked for"))
    }

    /// Chunk `index` (the region `part`), decoded, or kept from before.
    fn chunk(
        &self,
        dir: &Path,
        index: &[u64],
        part: &ArraySubset,
    ) -> Result<Arc<Items>, ReadError> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, values)) = kept.iter().find(|(i, _)| i == index) {
            return Ok(values.clone());
        }
        let values = Arc::new(read_region(dir, &self.meta, part)?);
        if kept.len() == self.keep {
            kept.pop_front();
        }
        kept.push_back((index.to_vec(), values.clone()));
        Ok(values)
    }
}

/// Refuses, from its metadata and before anything is allocated for it, an array larger than
/// this process can address, or, to be `whole`, than it can hold.
fn check_held(at: &Path, array: &Array<FilesystemStore>, whole: bool) -> Result<(), ReadError> {
    let elements = array
        .shape()
        .iter()
        .try_fold(1u64, |n, s| n.checked_mul(*s));
    let each = if *array.data_type() == data_type::string() {
        std::mem::size_of::<String>() as u64
    } else if *array.data_type() == data_type::complex128()
        || *array.data_type() == data_type::complex64()
    {
        16
    } else {
        8
    };
    let held = elements.and_then(|n| n.checked_mul(each));
    let available = crate::memory::available().unwrap_or(u64::MAX);
    if held.is_none_or(|b| (whole && b > available) || b > isize::MAX as u64) {
        return Err(err(
            at,
            format!(
                "has shape {:?}: {} values, more than this process can hold ({:.1} GiB \
                 available)",
                array.shape(),
                elements.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                available as f64 / f64::from(1u32 << 30)
            ),
        ));
    }
    Ok(())
}

impl Meta {
    /// Refuses, from its metadata, an array too large to read whole (see [`open_meta`]).
    pub(super) fn check_whole(&self, dir: &Path) -> Result<(), ReadError> {
        check_held(&dir.join(&self.name), &self.array, true)
    }
}

/// Opens array `name` of the store at `dir`; to be read whole if `whole`, else a region at a
/// time.
pub(super) fn open_meta(
    store: &Store,
    dir: &Path,
    name: &str,
    whole: bool,
) -> Result<Meta, ReadError> {
    let at = dir.join(name);
    let array =
        Array::open(store.clone(), &format!("/{name}")).or_else(
            |e| match fixed_width_strings_v2(dir, name) {
                Some(metadata) => Array::new_with_metadata(
                    store.clone(),
                    &format!("/{name}"),
                    zarrs::metadata::ArrayMetadata::V2(metadata),
                )
                .map_err(|e| err(&at, format!("cannot be read: {e}"))),
                None => Err(err(&at, format!("cannot be read: {e}"))),
            },
        )?;
    check_held(&at, &array, whole)?;
    let shape: Vec<usize> = array.shape().iter().map(|s| *s as usize).collect();
    let dims: Vec<String> = match array.dimension_names() {
        Some(names) => names
            .iter()
            .map(|n| n.as_deref().unwrap_or_default().to_string())
            .collect(),
        None => array
            .attributes()
            .get("_ARRAY_DIMENSIONS")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .map(|d| d.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default(),
    };
    if dims.len() != shape.len() || dims.iter().any(String::is_empty) {
        return Err(err(
            &at,
            "has no dimension names (dimension_names, or the _ARRAY_DIMENSIONS attribute \
             xarray writes): its dims cannot be told",
        ));
    }
    Ok(Meta {
        name: name.to_string(),
        shape,
        dims,
        array,
    })
}

/// The metadata of the Zarr v2 array `name` in `dir` if it holds fixed-width strings (`<U5`)
/// with no fill value, as xarray writes them, which zarrs does not take: the same with the
/// empty string as its fill value (what the v2 format fills a missing chunk of strings with),
/// and its attributes.
pub(super) fn fixed_width_strings_v2(
    dir: &Path,
    name: &str,
) -> Option<zarrs::metadata::v2::ArrayMetadataV2> {
    let read = |file: &str| -> Option<serde_json::Map<String, Json>> {
        let bytes = crate::shared_fs::read_regular(&dir.join(name).join(file), 1 << 20).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let mut meta = read(".zarray")?;
    let dtype = meta.get("dtype")?.as_str()?;
    let fixed_width = dtype.len() > 2
        && matches!(&dtype[..2], "<U" | ">U" | "|U")
        && dtype[2..].bytes().all(|b| b.is_ascii_digit());
    if !fixed_width || !meta.get("fill_value").is_some_and(Json::is_null) {
        return None;
    }
    meta.insert("fill_value".into(), Json::String(String::new()));
    meta.insert(
        "attributes".into(),
        Json::Object(read(".zattrs").unwrap_or_default()),
    );
    serde_json::from_value(Json::Object(meta)).ok()
}

/// The decompressed size a zstd frame at the start of `head` declares, if it is one and says.
pub(super) fn zstd_content_size(head: &[u8]) -> Option<u64> {
    if head.get(..4)? != [0x28, 0xb5, 0x2f, 0xfd] {
        return None;
    }
    let d = *head.get(4)?;
    let (fcs, single, dict) = (d >> 6, (d >> 5) & 1 == 1, d & 3);
    let at = 5 + usize::from(!single) + [0, 1, 2, 4][usize::from(dict)];
    let len = match (fcs, single) {
        (0, false) => return None,
        (0, true) => 1,
        (1, _) => 2,
        (2, _) => 4,
        _ => 8,
    };
    let mut bytes = [0u8; 8];
    bytes[..len].copy_from_slice(head.get(at..at + len)?);
    let size = u64::from_le_bytes(bytes);
    Some(if fcs == 1 { size + 256 } else { size })
}

/// Refuses a chunk of array `name` under `dir` that is not a regular file (a FIFO would block
/// the decoder's read forever), or whose zstd frame declares more bytes than `cap`: a damaged
/// header that a decoder would trust to allocate (and abort on).
pub(super) fn check_chunk_sizes(dir: &Path, name: &str, cap: u64) -> Result<(), ReadError> {
    let mut stack = vec![dir.join(name)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(mut kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                kind = std::fs::metadata(&path)
                    .map_err(|e| err(&path, e.to_string()))?
                    .file_type();
            }
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            if !kind.is_file() {
                return Err(err(
                    &path,
                    format!(
                        "is {}, not a regular file: not a chunk of a store",
                        crate::shared_fs::describe(kind)
                    ),
                ));
            }
            let file = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if matches!(file, "zarr.json" | ".zarray" | ".zattrs" | ".zgroup") {
                continue;
            }
            let mut head = [0u8; 18];
            let n = crate::shared_fs::open_regular(&path)
                .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
                .unwrap_or(0);
            if let Some(size) = zstd_content_size(&head[..n]).filter(|s| *s > cap) {
                return Err(err(
                    &path,
                    format!(
                        "is damaged: its zstd frame claims {size} bytes, more than the {cap} \
                         the whole array `{name}` holds"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Reads the whole of `m`, as the closest of xyz's types. A chunk that does not decode is an
/// error naming the array, whatever the decoder makes of it.
pub(super) fn read_array(dir: &Path, m: &Meta) -> Result<Items, ReadError> {
    let at = dir.join(&m.name);
    let elements: u64 = m.shape.iter().map(|s| *s as u64).product();
    // Fixed-size values take at most 8 bytes each; strings are bounded by a generous 1 GiB.
    let cap = elements
        .saturating_mul(8)
        .max(1 << 30)
        .saturating_add(1 << 20);
    check_chunk_sizes(dir, &m.name, cap)?;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_array(dir, m)))
        .unwrap_or_else(|_| Err(err(&at, "has a chunk that does not decode (damaged)")))
}

/// The non-empty strings of the string array `m` (the failures of [`ERROR_VAR`](crate::dataset::ERROR_VAR)), by flat
/// index, read a chunk at a time: a store of many cells holds mostly empty strings, which are
/// never held all at once.
pub(super) fn read_texts(
    dir: &Path,
    m: &Meta,
) -> Result<std::collections::BTreeMap<usize, String>, ReadError> {
    let at = dir.join(&m.name);
    if *m.array.data_type() != data_type::string() {
        return Err(err(&at, "has the wrong data type: xyz_error is a string"));
    }
    let elements: u64 = m.shape.iter().map(|s| *s as u64).product();
    check_chunk_sizes(dir, &m.name, elements.saturating_mul(8).max(1 << 30))?;
    let mut texts = std::collections::BTreeMap::new();
    guarded_chunks(&at, || {
        each_chunk(&m.array, &m.shape, |values: &[String], c, a, n| {
            for (k, text) in values[c..c + n].iter().enumerate() {
                if !text.is_empty() {
                    texts.insert(a + k, text.clone());
                }
            }
        })
    })?;
    Ok(texts)
}

/// The cells' states from the status array `m` ([`STATUS_VAR`](crate::dataset::STATUS_VAR)), read a chunk at a time.
pub(super) fn read_states(dir: &Path, m: &Meta) -> Result<Vec<CellState>, ReadError> {
    let at = dir.join(&m.name);
    if *m.array.data_type() != data_type::int8() {
        return Err(err(&at, "has the wrong data type: xyz_status is int8"));
    }
    let elements: u64 = m.shape.iter().map(|s| *s as u64).product();
    check_chunk_sizes(dir, &m.name, elements.saturating_add(1 << 20))?;
    let mut cells = vec![CellState::Absent; elements as usize];
    let mut bad = false;
    guarded_chunks(&at, || {
        each_chunk(&m.array, &m.shape, |codes: &[i8], c, a, n| {
            for (k, code) in codes[c..c + n].iter().enumerate() {
                match CellState::from_status(i64::from(*code)) {
                    Some(state) => cells[a + k] = state,
                    None => bad = true,
                }
            }
        })
    })?;
    if bad {
        return Err(err(
            &at,
            "holds a status code other than 0, 1, 2 and 3 (damaged)",
        ));
    }
    Ok(cells)
}

/// The whole of `array` (of `shape`), read a chunk at a time into one vector: no second copy
/// of the array is made on the way.
pub(super) fn by_chunks<T: zarrs::array::ElementOwned + Copy>(
    array: &Array<FilesystemStore>,
    shape: &[usize],
    fill: T,
) -> Result<Vec<T>, zarrs::array::ArrayError> {
    let mut out = vec![fill; shape.iter().product()];
    each_chunk(array, shape, |values: &[T], c, a, n| {
        out[a..a + n].copy_from_slice(&values[c..c + n]);
    })?;
    Ok(out)
}

/// Reads `array` (of `shape`) a chunk at a time, calling `f(values, in_chunk, in_array, len)`
/// for each run of a chunk's decoded `values`: `len` of them from `in_chunk`, which are the
/// array's row-major elements from `in_array`.
pub(super) fn each_chunk<T: zarrs::array::ElementOwned>(
    array: &Array<FilesystemStore>,
    shape: &[usize],
    mut f: impl FnMut(&[T], usize, usize, usize),
) -> Result<(), zarrs::array::ArrayError> {
    let grid = array.chunk_grid_shape().to_vec();
    for index in chunk_indices(&grid) {
        let part = array.chunk_subset_bounded(&index)?;
        let values: Vec<T> = array.retrieve_array_subset(&part)?;
        let origin: Vec<usize> = part.start().iter().map(|s| *s as usize).collect();
        let size: Vec<usize> = part.shape().iter().map(|s| *s as usize).collect();
        for_each_run(shape, &size, &origin, |c, a, n| f(&values, c, a, n));
    }
    Ok(())
}

/// Calls `f(at, len)` for each run of flat indices of `m` that lie in a chunk (or shard) the
/// store at `dir` does not hold.
pub(super) fn lost_chunks(
    dir: &Path,
    m: &Meta,
    mut f: impl FnMut(usize, usize),
) -> Result<(), ReadError> {
    let grid = m.array.chunk_grid_shape().to_vec();
    for index in chunk_indices(&grid) {
        let key = m.array.chunk_key(&index);
        if dir.join(key.as_str()).symlink_metadata().is_ok() {
            continue;
        }
        let part = m
            .array
            .chunk_subset_bounded(&index)
            .map_err(|e| err(&dir.join(&m.name), e.to_string()))?;
        let origin: Vec<usize> = part.start().iter().map(|s| *s as usize).collect();
        let size: Vec<usize> = part.shape().iter().map(|s| *s as usize).collect();
        for_each_run(&m.shape, &size, &origin, |_, a, n| f(a, n));
    }
    Ok(())
}

/// Runs `read` of the array at `at`, a panic in a decoder and any error reported as damage
/// naming the array.
pub(super) fn guarded_chunks(
    at: &Path,
    read: impl FnOnce() -> Result<(), zarrs::array::ArrayError>,
) -> Result<(), ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(zarrs::array::ArrayError::Other("a chunk panicked".into())))
        .map_err(|e| err(at, format!("cannot be read: {e} (damaged)")))
}

/// Reads the `region` of `m` (every dim of it), as the closest of xyz's types. A chunk that
/// does not decode is an error naming the array.
pub(super) fn read_region(dir: &Path, m: &Meta, region: &ArraySubset) -> Result<Items, ReadError> {
    let at = dir.join(&m.name);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decode(dir, m, Some(region))
    }))
    .unwrap_or_else(|_| Err(err(&at, "has a chunk that does not decode (damaged)")))
}

pub(super) fn decode_array(dir: &Path, m: &Meta) -> Result<Items, ReadError> {
    decode(dir, m, None)
}

/// Decodes `region` of `m`, or the whole of it (a chunk at a time, with no second copy).
fn decode(dir: &Path, m: &Meta, region: Option<&ArraySubset>) -> Result<Items, ReadError> {
    let at = dir.join(&m.name);
    let whole = m.array.subset_all();
    let all = region.unwrap_or(&whole);
    // The whole array is read a chunk at a time into one vector; a region at once.
    macro_rules! chunked {
        ($t:ty, $fill:expr) => {
            match region {
                None => by_chunks::<$t>(&m.array, &m.shape, $fill),
                Some(r) => m.array.retrieve_array_subset::<Vec<$t>>(r),
            }
        };
    }
    let fail = |e: zarrs::array::ArrayError| err(&at, format!("cannot be read: {e}"));
    let dt = m.array.data_type();
    macro_rules! as_i64 {
        ($t:ty) => {
            Items::I64(
                m.array
                    .retrieve_array_subset::<Vec<$t>>(all)
                    .map_err(fail)?
                    .into_iter()
                    .map(|x| x as i64)
                    .collect(),
            )
        };
    }
    Ok(if *dt == data_type::float64() {
        Items::F64(chunked!(f64, f64::NAN).map_err(fail)?)
    } else if *dt == data_type::float32() {
        Items::F64(
            m.array
                .retrieve_array_subset::<Vec<f32>>(all)
                .map_err(fail)?
                .into_iter()
                .map(f64::from)
                .collect(),
        )
    } else if *dt == data_type::complex128() {
        Items::C128(chunked!(Complex64, MISSING_C128).map_err(fail)?)
    } else if *dt == data_type::complex64() {
        Items::C128(
            m.array
                .retrieve_array_subset::<Vec<num_complex::Complex32>>(all)
                .map_err(fail)?
                .into_iter()
                .map(|z| Complex64::new(f64::from(z.re), f64::from(z.im)))
                .collect(),
        )
    } else if *dt == data_type::int64() {
        Items::I64(chunked!(i64, MISSING_I64).map_err(fail)?)
    } else if *dt == data_type::int8() {
        Items::I8(
            m.array
                .retrieve_array_subset::<Vec<i8>>(all)
                .map_err(fail)?,
        )
    } else if *dt == data_type::int32() {
        as_i64!(i32)
    } else if *dt == data_type::int16() {
        as_i64!(i16)
    } else if *dt == data_type::uint32() {
        as_i64!(u32)
    } else if *dt == data_type::uint16() {
        as_i64!(u16)
    } else if *dt == data_type::uint8() {
        as_i64!(u8)
    } else if *dt == data_type::bool() {
        Items::Bool(
            m.array
                .retrieve_array_subset::<Vec<bool>>(all)
                .map_err(fail)?,
        )
    } else if *dt == data_type::string() {
        Items::Str(
            m.array
                .retrieve_array_subset::<Vec<String>>(all)
                .map_err(fail)?,
        )
    } else if dt.name_v3().as_deref() == Some("fixed_length_utf32") {
        // numpy's fixed-width unicode (`<U`), as xarray writes strings by default: padded
        // with NULs.
        Items::Str(
            m.array
                .retrieve_array_subset::<Vec<Vec<char>>>(all)
                .map_err(fail)?
                .into_iter()
                .map(|c| c.into_iter().take_while(|c| *c != '\0').collect())
                .collect(),
        )
    } else {
        return Err(err(
            &at,
            format!(
                "has data type {}, which xyz does not read (it reads floats, complex numbers, \
                 integers, booleans and strings)",
                dt.name_v3().map_or_else(|| "?".into(), |n| n.to_string())
            ),
        ));
    })
}
