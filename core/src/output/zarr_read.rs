//! Reading Zarr stores, through zarrs: the v3 stores xyz writes, and the v2 and v3 stores
//! xarray and zarr-python write (zstd, blosc, gzip; consolidated or not; chunks left out read
//! as the fill value). 1-D arrays named after their own dimension are the coordinates of the
//! swept dims, the others are data variables; an array's dims are its `dimension_names` (v3)
//! or its `_ARRAY_DIMENSIONS` attribute (v2, xarray's convention).
//!
//! The cells' states and failures are the variables `xyz_status` and `xyz_error`, when the
//! store has them. A store without them (another tool's) tells its cells by their values: a
//! cell is `Ok` when any variable has a value there (not NaN, not an integer's `_FillValue`);
//! strings cannot say they are missing, so a store of string outputs only reads every cell as
//! `Ok`.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;
use xyz_abi::{ExtraDim, ScalarType};
use zarrs::array::{Array, data_type};
use zarrs::filesystem::FilesystemStore;

use super::ReadError;
use crate::dataset::{
    CellState, DataVar, Dataset, ERROR_VAR, MISSING_C128, MISSING_I64, STATUS_VAR,
};
use crate::space::{AuxCoord, SweptDim};
use crate::value::{Column, Complex64, Value};

type Store = Arc<FilesystemStore>;

fn err(path: &Path, message: impl Into<String>) -> ReadError {
    ReadError {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// One array of the store, opened (metadata only).
struct Meta {
    name: String,
    shape: Vec<usize>,
    dims: Vec<String>,
    array: Array<FilesystemStore>,
}

/// The values of one array, decoded, row-major.
enum Items {
    F64(Vec<f64>),
    C128(Vec<Complex64>),
    I64(Vec<i64>),
    I8(Vec<i8>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

impl Items {
    /// The values as a column; `int8` booleans are `true` where 1.
    fn into_column(self) -> Column {
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

/// Opens array `name` of the store at `dir`.
fn open(store: &Store, dir: &Path, name: &str) -> Result<Meta, ReadError> {
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
    // The array is read whole: a shape larger than this process can hold (or whose size
    // overflows) is refused from the metadata, before anything is allocated for it.
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
    if held.is_none_or(|b| b > available || b > isize::MAX as u64) {
        return Err(err(
            &at,
            format!(
                "has shape {:?}: {} values, more than this process can hold ({:.1} GiB \
                 available)",
                array.shape(),
                elements.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
                available as f64 / f64::from(1u32 << 30)
            ),
        ));
    }
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
fn fixed_width_strings_v2(dir: &Path, name: &str) -> Option<zarrs::metadata::v2::ArrayMetadataV2> {
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
fn zstd_content_size(head: &[u8]) -> Option<u64> {
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
fn check_chunk_sizes(dir: &Path, name: &str, cap: u64) -> Result<(), ReadError> {
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
fn read_array(dir: &Path, m: &Meta) -> Result<Items, ReadError> {
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

/// The non-empty strings of the string array `m` (the failures of [`ERROR_VAR`]), by flat
/// index, read a chunk at a time: a store of many cells holds mostly empty strings, which are
/// never held all at once.
fn read_texts(
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

/// The cells' states from the status array `m` ([`STATUS_VAR`]), read a chunk at a time.
fn read_states(dir: &Path, m: &Meta) -> Result<Vec<CellState>, ReadError> {
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
fn by_chunks<T: zarrs::array::ElementOwned + Copy>(
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
fn each_chunk<T: zarrs::array::ElementOwned>(
    array: &Array<FilesystemStore>,
    shape: &[usize],
    mut f: impl FnMut(&[T], usize, usize, usize),
) -> Result<(), zarrs::array::ArrayError> {
    let grid = array.chunk_grid_shape().to_vec();
    for index in super::zarr::chunk_indices(&grid) {
        let part = array.chunk_subset_bounded(&index)?;
        let values: Vec<T> = array.retrieve_array_subset(&part)?;
        let origin: Vec<usize> = part.start().iter().map(|s| *s as usize).collect();
        let size: Vec<usize> = part.shape().iter().map(|s| *s as usize).collect();
        super::zarr::for_each_run(shape, &size, &origin, |c, a, n| f(&values, c, a, n));
    }
    Ok(())
}

/// Calls `f(at, len)` for each run of flat indices of `m` that lie in a chunk (or shard) the
/// store at `dir` does not hold.
fn lost_chunks(dir: &Path, m: &Meta, mut f: impl FnMut(usize, usize)) -> Result<(), ReadError> {
    let grid = m.array.chunk_grid_shape().to_vec();
    for index in super::zarr::chunk_indices(&grid) {
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
        super::zarr::for_each_run(&m.shape, &size, &origin, |_, a, n| f(a, n));
    }
    Ok(())
}

/// Runs `read` of the array at `at`, a panic in a decoder and any error reported as damage
/// naming the array.
fn guarded_chunks(
    at: &Path,
    read: impl FnOnce() -> Result<(), zarrs::array::ArrayError>,
) -> Result<(), ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(zarrs::array::ArrayError::Other("a chunk panicked".into())))
        .map_err(|e| err(at, format!("cannot be read: {e} (damaged)")))
}

fn decode_array(dir: &Path, m: &Meta) -> Result<Items, ReadError> {
    let at = dir.join(&m.name);
    let all = m.array.subset_all();
    let fail = |e: zarrs::array::ArrayError| err(&at, format!("cannot be read: {e}"));
    let dt = m.array.data_type();
    macro_rules! as_i64 {
        ($t:ty) => {
            Items::I64(
                m.array
                    .retrieve_array_subset::<Vec<$t>>(&all)
                    .map_err(fail)?
                    .into_iter()
                    .map(|x| x as i64)
                    .collect(),
            )
        };
    }
    Ok(if *dt == data_type::float64() {
        Items::F64(by_chunks(&m.array, &m.shape, f64::NAN).map_err(fail)?)
    } else if *dt == data_type::float32() {
        Items::F64(
            m.array
                .retrieve_array_subset::<Vec<f32>>(&all)
                .map_err(fail)?
                .into_iter()
                .map(f64::from)
                .collect(),
        )
    } else if *dt == data_type::complex128() {
        Items::C128(by_chunks(&m.array, &m.shape, MISSING_C128).map_err(fail)?)
    } else if *dt == data_type::complex64() {
        Items::C128(
            m.array
                .retrieve_array_subset::<Vec<num_complex::Complex32>>(&all)
                .map_err(fail)?
                .into_iter()
                .map(|z| Complex64::new(f64::from(z.re), f64::from(z.im)))
                .collect(),
        )
    } else if *dt == data_type::int64() {
        Items::I64(by_chunks(&m.array, &m.shape, MISSING_I64).map_err(fail)?)
    } else if *dt == data_type::int8() {
        Items::I8(
            m.array
                .retrieve_array_subset::<Vec<i8>>(&all)
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
                .retrieve_array_subset::<Vec<bool>>(&all)
                .map_err(fail)?,
        )
    } else if *dt == data_type::string() {
        Items::Str(
            m.array
                .retrieve_array_subset::<Vec<String>>(&all)
                .map_err(fail)?,
        )
    } else if dt.name_v3().as_deref() == Some("fixed_length_utf32") {
        // numpy's fixed-width unicode (`<U`), as xarray writes strings by default: padded
        // with NULs.
        Items::Str(
            m.array
                .retrieve_array_subset::<Vec<Vec<char>>>(&all)
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

/// What a store holds, from its metadata alone.
struct Layout {
    /// The group's attributes.
    attrs: serde_json::Map<String, Json>,
    /// The swept dims' coordinate arrays, in the data variables' order.
    coords: Vec<Meta>,
    /// The coordinate arrays of the outputs' extra dims.
    extra: Vec<Meta>,
    /// The data variables, with their integer `_FillValue` if any.
    vars: Vec<(Meta, Option<i64>)>,
    /// Coordinates along a swept dim that are not its index (the sampled arguments): arrays
    /// of one dim that the variables' `coordinates` attribute names.
    aux: Vec<Meta>,
}

/// The names of the arrays in the store at `dir`, in the order its consolidated metadata gives
/// them, else sorted; and the group's attributes.
fn members(dir: &Path) -> Result<(Vec<String>, serde_json::Map<String, Json>), ReadError> {
    let read_json = |name: &str| -> Option<Json> {
        let bytes = crate::shared_fs::read_regular(&dir.join(name), 1 << 30).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    if !dir.exists() {
        return Err(err(dir, "does not exist"));
    }
    let (consolidated, attrs) = match read_json("zarr.json") {
        Some(group) => {
            if group.get("node_type").and_then(Json::as_str) != Some("group") {
                return Err(err(
                    &dir.join("zarr.json"),
                    "is not the metadata of a Zarr group",
                ));
            }
            let names: Option<Vec<String>> = group
                .pointer("/consolidated_metadata/metadata")
                .and_then(Json::as_object)
                .map(|m| m.keys().filter(|k| !k.contains('/')).cloned().collect());
            let attrs = group
                .get("attributes")
                .and_then(Json::as_object)
                .cloned()
                .unwrap_or_default();
            (names, attrs)
        }
        None if dir.join(".zgroup").is_file() => {
            let attrs = read_json(".zattrs")
                .and_then(|a| a.as_object().cloned())
                .unwrap_or_default();
            (None, attrs)
        }
        None => {
            return Err(err(
                dir,
                "is not a Zarr store: it has neither zarr.json (v3) nor .zgroup (v2)",
            ));
        }
    };
    let names = match consolidated {
        Some(names) => names,
        None => {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .map_err(|e| err(dir, e.to_string()))?
                .flatten()
                .filter(|e| {
                    let p = e.path();
                    p.join("zarr.json").is_file() || p.join(".zarray").is_file()
                })
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .collect();
            names.sort();
            names
        }
    };
    Ok((names, attrs))
}

/// Reads and checks the metadata of the store at `dir`.
fn layout(dir: &Path) -> Result<Layout, ReadError> {
    let (names, attrs) = members(dir)?;
    let store: Store = Arc::new(FilesystemStore::new(dir).map_err(|e| err(dir, e.to_string()))?);
    let metas: Vec<(Meta, Option<i64>)> = names
        .iter()
        .map(|name| {
            let m = open(&store, dir, name)?;
            let fill = m
                .array
                .attributes()
                .get("_FillValue")
                .and_then(Json::as_i64);
            Ok((m, fill))
        })
        .collect::<Result<_, ReadError>>()?;
    let is_coord = |m: &Meta| m.dims.len() == 1 && m.dims[0] == m.name;
    let (coords, vars): (Vec<_>, Vec<_>) = metas.into_iter().partition(|(m, _)| is_coord(m));
    // Coordinates of the outputs' extra dims, as the signature xyz keeps names them.
    let extra_names = super::extra_dim_names(attrs.get("xyz_function").and_then(Json::as_str));
    let (extra, coords): (Vec<_>, Vec<_>) = coords
        .into_iter()
        .partition(|(m, _)| extra_names.contains(&m.name));
    let extra: Vec<Meta> = extra.into_iter().map(|(m, _)| m).collect();
    // The swept dims are those that have coordinates, in the order of the data variable that
    // has the most of them.
    let mut coords: Vec<Meta> = coords.into_iter().map(|(m, _)| m).collect();
    let swept_of = |m: &Meta| -> Vec<String> {
        m.dims
            .iter()
            .filter(|d| coords.iter().any(|c| c.name == **d))
            .cloned()
            .collect()
    };
    // Arrays that variables name as coordinates (CF's `coordinates`), of one dim.
    let named: Vec<String> = vars
        .iter()
        .filter_map(|(m, _)| {
            m.array
                .attributes()
                .get("coordinates")?
                .as_str()
                .map(str::to_string)
        })
        .flat_map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    let (aux, vars): (Vec<_>, Vec<_>) = vars
        .into_iter()
        .partition(|(m, _)| m.dims.len() == 1 && named.contains(&m.name));
    let aux: Vec<Meta> = aux.into_iter().map(|(m, _)| m).collect();
    let Some(swept) = vars.iter().map(|(m, _)| swept_of(m)).max_by_key(Vec::len) else {
        return Err(err(dir, "the store holds no data variable"));
    };
    coords.retain(|m| swept.contains(&m.name));
    coords.sort_by_key(|m| swept.iter().position(|s| *s == m.name));
    for (m, _) in &vars {
        if m.dims.len() < swept.len() || m.dims[..swept.len()] != swept[..] {
            return Err(err(
                dir,
                format!(
                    "variable `{}` has dims {:?}, which do not start with the swept dims {:?}: \
                     an xyz dataset holds every variable over every swept dim",
                    m.name, m.dims, swept
                ),
            ));
        }
    }
    for m in &aux {
        if !swept.contains(&m.dims[0]) {
            return Err(err(
                dir,
                format!(
                    "coordinate `{}` lies along `{}`, which is not a swept dim ({swept:?})",
                    m.name, m.dims[0]
                ),
            ));
        }
    }
    Ok(Layout {
        attrs,
        coords,
        extra,
        vars,
        aux,
    })
}

/// Checks that the store at `dir` is one [`read`] can read, from its metadata alone.
pub(super) fn probe(dir: &Path) -> Result<(), ReadError> {
    layout(dir).map(|_| ())
}

/// Reads the store at `dir`.
pub(super) fn read(dir: &Path) -> Result<Dataset, ReadError> {
    let Layout {
        attrs: group_attrs,
        coords,
        extra,
        vars: var_metas,
        aux,
    } = layout(dir)?;
    let swept: Vec<String> = coords.iter().map(|m| m.name.clone()).collect();
    let mut dims = Vec::with_capacity(coords.len());
    for m in &coords {
        dims.push(SweptDim {
            name: m.name.clone(),
            coords: read_array(dir, m)?.into_column(),
        });
    }
    let mut extra_coords = Vec::with_capacity(extra.len());
    for m in &extra {
        extra_coords.push(SweptDim {
            name: m.name.clone(),
            coords: read_array(dir, m)?.into_column(),
        });
    }
    let mut aux_coords = Vec::with_capacity(aux.len());
    for m in &aux {
        let values = read_array(dir, m)?.into_column();
        if let Some(d) = dims.iter().find(|d| d.name == m.dims[0])
            && d.coords.len() != values.len()
        {
            return Err(err(
                &dir.join(&m.name),
                format!(
                    "has {} values, but `{}` has {}",
                    values.len(),
                    d.name,
                    d.coords.len()
                ),
            ));
        }
        aux_coords.push(AuxCoord {
            name: m.name.clone(),
            dim: m.dims[0].clone(),
            values,
        });
    }
    let n_cells: usize = dims.iter().map(|d| d.coords.len()).product();
    let (own, var_metas): (Vec<_>, Vec<_>) = var_metas
        .into_iter()
        .partition(|(m, _)| m.name == STATUS_VAR || m.name == ERROR_VAR);
    let mut states = None;
    let mut errors = std::collections::BTreeMap::new();
    for (m, _) in &own {
        let at = dir.join(&m.name);
        if m.dims != swept {
            return Err(err(
                &at,
                format!("has dims {:?} where the swept dims are {swept:?}", m.dims),
            ));
        }
        if m.shape.iter().product::<usize>() != n_cells {
            return Err(err(
                &at,
                format!(
                    "has shape {:?}, which the coordinates of {swept:?} do not give",
                    m.shape
                ),
            ));
        }
        if m.name == ERROR_VAR {
            errors = read_texts(dir, m)?;
        } else {
            states = Some(read_states(dir, m)?);
        }
    }
    let mut present = vec![false; n_cells];
    let mut any_present_info = false;
    let mut vars = Vec::new();
    // Cells some chunk of whose values the store does not hold (only read where there is a
    // status to correct).
    let mut lost = vec![false; if states.is_some() { n_cells } else { 0 }];
    let lengths: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
    for (m, fill) in &var_metas {
        if m.shape[..swept.len()] != lengths[..] {
            return Err(err(
                &dir.join(&m.name),
                format!(
                    "has shape {:?}, which the coordinates of {swept:?} do not give",
                    m.shape
                ),
            ));
        }
        let extra_dims: Vec<ExtraDim> = m.dims[swept.len()..]
            .iter()
            .zip(&m.shape[swept.len()..])
            .map(|(name, size)| ExtraDim {
                name: name.clone(),
                size: *size as u32,
            })
            .collect();
        let elements: usize = extra_dims.iter().map(|d| d.size as usize).product();
        if !lost.is_empty() {
            lost_chunks(dir, m, |a, n| {
                let e = elements.max(1);
                lost[a / e..(a + n).div_ceil(e)].fill(true);
            })?;
        }
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
            Items::C128(v) => {
                any_present_info = true;
                v.iter()
                    .enumerate()
                    .for_each(|(k, z)| mark(k, !(z.re.is_nan() && z.im.is_nan())));
                ScalarType::C128
            }
            Items::I64(v) => {
                any_present_info = true;
                let missing = fill.unwrap_or(MISSING_I64);
                v.iter()
                    .enumerate()
                    .for_each(|(k, x)| mark(k, *x != missing));
                ScalarType::I64
            }
            Items::I8(v) if *fill == Some(-1) => {
                // Booleans as older xyz stores kept them where a cell was missing.
                any_present_info = true;
                v.iter().enumerate().for_each(|(k, x)| mark(k, *x != -1));
                ScalarType::Bool
            }
            Items::I8(v) => {
                any_present_info = true;
                v.iter()
                    .enumerate()
                    .for_each(|(k, x)| mark(k, Some(i64::from(*x)) != *fill));
                ScalarType::I64
            }
            Items::Bool(_) | Items::Str(_) => {
                if matches!(raw, Items::Bool(_)) {
                    ScalarType::Bool
                } else {
                    ScalarType::Str
                }
            }
        };
        let data = match raw {
            Items::I8(v) if ty == ScalarType::I64 => {
                Column::I64(v.into_iter().map(i64::from).collect())
            }
            raw => raw.into_column(),
        };
        vars.push(DataVar {
            name: m.name.clone(),
            ty,
            extra_dims,
            data,
        });
    }
    let cells = match states {
        // A cell whose values were lost (a chunk deleted) is no longer evaluated, whatever
        // its status says: xyz stores every chunk of a value, missing or not.
        Some(mut states) => {
            for (state, lost) in states.iter_mut().zip(&lost) {
                if *lost && *state == CellState::Ok {
                    *state = CellState::Pending;
                }
            }
            states
        }
        None => super::cells_of(present, any_present_info),
    };
    let attrs = group_attrs
        .iter()
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
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_frame_headers_tell_their_size() {
        // Single segment, 1-byte size.
        assert_eq!(
            zstd_content_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05]),
            Some(5)
        );
        // 8-byte size, with a window descriptor.
        let mut h = vec![0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x00];
        h.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(zstd_content_size(&h), Some(u64::MAX));
        // 2-byte size counts from 256.
        assert_eq!(
            zstd_content_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x60, 1, 0]),
            Some(257)
        );
        assert_eq!(
            zstd_content_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00]),
            None
        );
        assert_eq!(zstd_content_size(b"not zstd"), None);
        // A chunk xyz wrote: `n` over k (2) and a (4), 8 bytes a value.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.zarr");
        let ds = crate::output::tests::sample();
        crate::output::write(&ds, &path, crate::Format::Zarr, false).unwrap();
        let chunk = std::fs::read(path.join("n").join("c").join("0").join("0")).unwrap();
        assert_eq!(zstd_content_size(&chunk), Some(64));
        // The same chunk claiming an absurd size is refused before any decoder sees it.
        let mut damaged = chunk.clone();
        damaged[4] = 0xe0;
        damaged.splice(5..5, u64::MAX.to_le_bytes());
        std::fs::write(path.join("n").join("c").join("0").join("0"), damaged).unwrap();
        let err = read(&path).unwrap_err();
        assert!(
            err.message.contains("is damaged: its zstd frame claims"),
            "{err}"
        );
    }
    #[test]
    fn a_written_store_reads_back_with_its_missing_cells() {
        let ds = crate::output::tests::sample();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.zarr");
        crate::output::write(&ds, &path, crate::Format::Zarr, false).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.dims, ds.dims);
        assert_eq!(back.cells, ds.cells);
        assert_eq!(back.errors, ds.errors);
        // The consolidated metadata keeps the variables in their order.
        assert_eq!(format!("{:?}", back.vars), format!("{:?}", ds.vars));
        assert_eq!(back.attrs.len(), ds.attrs.len());
    }

    #[test]
    fn what_xyz_did_not_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(err.message.contains("is not a Zarr store"), "{err}");
        std::fs::write(dir.path().join("zarr.json"), r#"{"zarr_format": 3}"#).unwrap();
        let err = read(dir.path()).unwrap_err();
        assert!(
            err.message.contains("is not the metadata of a Zarr group"),
            "{err}"
        );
    }
}
