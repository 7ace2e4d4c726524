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
use zarrs::filesystem::FilesystemStore;

use crate::dataset::{CellState, DataVar, Dataset, ERROR_VAR, MISSING_I64, STATUS_VAR, Window};
use crate::output::ReadError;
use crate::output::conventions::{cells_of, extra_dim_names, typed_constants};
use crate::space::{AuxCoord, SweptDim};
use crate::value::{Column, Value};

use zarrs::array::ArraySubset;

use super::arrays::{
    ChunkReader, Items, Meta, Store, check_chunk_sizes, err, guarded_chunks, lost_chunks,
    open_meta, read_array, read_states, read_texts,
};
use super::chunks::{boxes, for_each_run};

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

/// Reads and checks the metadata of the store at `dir`, to be read whole if `whole` (an array
/// larger than this process can hold is refused), else a region at a time.
fn layout(dir: &Path, whole: bool) -> Result<Layout, ReadError> {
    let (names, attrs) = members(dir)?;
    let store: Store = Arc::new(FilesystemStore::new(dir).map_err(|e| err(dir, e.to_string()))?);
    let metas: Vec<(Meta, Option<i64>)> = names
        .iter()
        .map(|name| {
            let m = open_meta(&store, dir, name, whole)?;
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
    let extra_names = extra_dim_names(attrs.get("xyz_function").and_then(Json::as_str));
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

/// The coordinates of the swept dims, of the extra dims and of the sampled arguments.
type Coordinates = (Vec<SweptDim>, Vec<SweptDim>, Vec<AuxCoord>);

/// Reads the [`Coordinates`] the arrays `coords`, `extra` and `aux` hold.
fn coordinates(
    dir: &Path,
    coords: &[Meta],
    extra: &[Meta],
    aux: &[Meta],
) -> Result<Coordinates, ReadError> {
    // Coordinates are read whole, however the rest of the store is.
    for m in coords.iter().chain(extra).chain(aux) {
        m.check_whole(dir)?;
    }
    let read = |metas: &[Meta]| -> Result<Vec<SweptDim>, ReadError> {
        metas
            .iter()
            .map(|m| {
                Ok(SweptDim {
                    name: m.name.clone(),
                    coords: read_array(dir, m)?.into_column(),
                })
            })
            .collect()
    };
    let (dims, extra_coords) = (read(coords)?, read(extra)?);
    let mut aux_coords = Vec::with_capacity(aux.len());
    for m in aux {
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
    Ok((dims, extra_coords, aux_coords))
}

/// Checks that `m`, the cells' states or failures, lies over the `swept` dims, of `cells`
/// cells.
fn check_own(dir: &Path, m: &Meta, swept: &[String], cells: usize) -> Result<(), ReadError> {
    let at = dir.join(&m.name);
    if m.dims != swept {
        return Err(err(
            &at,
            format!("has dims {:?} where the swept dims are {swept:?}", m.dims),
        ));
    }
    if m.shape.iter().product::<usize>() != cells {
        return Err(err(
            &at,
            format!(
                "has shape {:?}, which the coordinates of {swept:?} do not give",
                m.shape
            ),
        ));
    }
    Ok(())
}

/// The extra dims of data variable `m`, which must lie over the `swept` dims of `lengths`
/// first.
fn extra_dims_of(
    dir: &Path,
    m: &Meta,
    swept: &[String],
    lengths: &[usize],
) -> Result<Vec<ExtraDim>, ReadError> {
    if m.shape[..swept.len()] != lengths[..] {
        return Err(err(
            &dir.join(&m.name),
            format!(
                "has shape {:?}, which the coordinates of {swept:?} do not give",
                m.shape
            ),
        ));
    }
    Ok(m.dims[swept.len()..]
        .iter()
        .zip(&m.shape[swept.len()..])
        .map(|(name, size)| ExtraDim {
            name: name.clone(),
            size: *size as u32,
        })
        .collect())
}

/// The group's attributes that are values (constants and provenance).
fn attributes(group: &serde_json::Map<String, Json>) -> Vec<(String, Value)> {
    group
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
        .collect()
}

/// The type xyz reads array `m` as, its integer `_FillValue` being `fill`: as [`read`] does.
fn scalar_type(dir: &Path, m: &Meta, fill: Option<i64>) -> Result<ScalarType, ReadError> {
    use zarrs::array::data_type;
    let dt = m.array.data_type();
    let ints = [
        data_type::int64(),
        data_type::int32(),
        data_type::int16(),
        data_type::uint32(),
        data_type::uint16(),
        data_type::uint8(),
    ];
    Ok(
        if *dt == data_type::float64() || *dt == data_type::float32() {
            ScalarType::F64
        } else if *dt == data_type::complex128() || *dt == data_type::complex64() {
            ScalarType::C128
        } else if ints.contains(dt) {
            ScalarType::I64
        } else if *dt == data_type::int8() {
            // Booleans as older xyz stores kept them where a cell was missing.
            if fill == Some(-1) {
                ScalarType::Bool
            } else {
                ScalarType::I64
            }
        } else if *dt == data_type::bool() {
            ScalarType::Bool
        } else if *dt == data_type::string()
            || dt.name_v3().as_deref() == Some("fixed_length_utf32")
        {
            ScalarType::Str
        } else {
            return Err(err(
                &dir.join(&m.name),
                format!(
                    "has data type {}, which xyz does not read (it reads floats, complex                      numbers, integers, booleans and strings)",
                    dt.name_v3().map_or_else(|| "?".into(), |n| n.to_string())
                ),
            ));
        },
    )
}

/// The chunks of each array a [`Reader`] keeps decoded.
const KEPT_CHUNKS: usize = 2;

/// The failures of one chunk of cells: the non-empty strings, by cell.
type FailuresOfChunk = Arc<std::collections::BTreeMap<usize, String>>;

/// A store xyz wrote, with its cells' states and failures, read a [`Window`] of its grid at a
/// time: a store bigger than memory is never held whole. Each window is read a box of the grid
/// at a time ([`boxes`]), every array's region at once.
pub(crate) struct Reader {
    dir: std::path::PathBuf,
    layout: Dataset,
    shape: Vec<usize>,
    status: ChunkReader,
    error: Meta,
    /// The failures of the chunks of `error` read last: chunk index, and the non-empty strings
    /// by cell. A store holds mostly empty strings; each chunk is decoded once.
    failures: std::sync::Mutex<std::collections::VecDeque<(Vec<u64>, FailuresOfChunk)>>,
    /// The data variables' arrays, in the layout's order.
    vars: Vec<ChunkReader>,
    /// Runs of cells (first, count) some chunk of whose values the store does not hold: read
    /// as not evaluated, whatever their status says, as [`read`] reads them.
    lost: Vec<(usize, usize)>,
}

impl Reader {
    /// Opens the store at `dir`; `None` if it has no states and failures (another tool's
    /// store, whose cells are told by their values: read whole).
    pub(crate) fn open(dir: &Path) -> Result<Option<Reader>, ReadError> {
        let Layout {
            attrs,
            coords,
            extra,
            vars,
            aux,
        } = layout(dir, false)?;
        let (own, vars): (Vec<_>, Vec<_>) = vars
            .into_iter()
            .partition(|(m, _)| m.name == STATUS_VAR || m.name == ERROR_VAR);
        let mut own: Vec<Meta> = own.into_iter().map(|(m, _)| m).collect();
        own.sort_by_key(|m| m.name != STATUS_VAR);
        let (Some(error), Some(status)) = (own.pop(), own.pop()) else {
            return Ok(None);
        };
        let swept: Vec<String> = coords.iter().map(|m| m.name.clone()).collect();
        let (dims, extra_coords, aux_coords) = coordinates(dir, &coords, &extra, &aux)?;
        let shape: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
        let cells: usize = shape.iter().product();
        let elements = |m: &Meta| m.shape.iter().map(|s| *s as u64).product::<u64>();
        for m in [&status, &error] {
            check_own(dir, m, &swept, cells)?;
        }
        check_chunk_sizes(dir, &status.name, elements(&status).saturating_add(1 << 20))?;
        check_chunk_sizes(
            dir,
            &error.name,
            elements(&error).saturating_mul(8).max(1 << 30),
        )?;
        let mut lost = Vec::new();
        let mut layout_vars = Vec::with_capacity(vars.len());
        let mut metas = Vec::with_capacity(vars.len());
        for (m, fill) in vars {
            let extra_dims = extra_dims_of(dir, &m, &swept, &shape)?;
            let ty = scalar_type(dir, &m, fill)?;
            let e = extra_dims
                .iter()
                .map(|d| d.size as usize)
                .product::<usize>();
            let cap = elements(&m)
                .saturating_mul(8)
                .max(1 << 30)
                .saturating_add(1 << 20);
            check_chunk_sizes(dir, &m.name, cap)?;
            lost_chunks(dir, &m, |a, n| {
                let e = e.max(1);
                lost.push((a / e, (a + n).div_ceil(e) - a / e));
            })?;
            layout_vars.push(DataVar {
                name: m.name.clone(),
                ty,
                extra_dims,
                data: Column::new(ty),
            });
            // Windows cut chunks: each array keeps its last chunks decoded (a window's boxes
            // may span a few), so that each is decoded once.
            metas.push(ChunkReader::new(m, KEPT_CHUNKS));
        }
        lost.sort_unstable();
        Ok(Some(Reader {
            dir: dir.to_path_buf(),
            // Constants as `read` gives them (complex ones are kept as text).
            layout: typed_constants(Dataset {
                dims,
                vars: layout_vars,
                cells: Vec::new(),
                errors: std::collections::BTreeMap::new(),
                extra_coords,
                aux_coords,
                attrs: attributes(&attrs),
            }),
            shape,
            status: ChunkReader::new(status, KEPT_CHUNKS),
            error,
            failures: std::sync::Mutex::new(std::collections::VecDeque::new()),
            vars: metas,
            lost,
        }))
    }

    /// The failures in chunk `index` of the failures' array, decoded once while it is among
    /// the last few asked for.
    fn failures_of_chunk(&self, index: &[u64]) -> Result<FailuresOfChunk, ReadError> {
        let mut kept = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, failures)) = kept.iter().find(|(i, _)| i == index) {
            return Ok(failures.clone());
        }
        let m = &self.error;
        let at = self.dir.join(&m.name);
        let mut failures = std::collections::BTreeMap::new();
        guarded_chunks(&at, || {
            let part = m.array.chunk_subset_bounded(index)?;
            let values: Vec<String> = m.array.retrieve_array_subset(&part)?;
            let origin: Vec<usize> = part.start().iter().map(|s| *s as usize).collect();
            let size: Vec<usize> = part.shape().iter().map(|s| *s as usize).collect();
            for_each_run(&m.shape, &size, &origin, |c, a, n| {
                for (k, text) in values[c..c + n].iter().enumerate() {
                    if !text.is_empty() {
                        failures.insert(a + k, text.clone());
                    }
                }
            });
            Ok(())
        })?;
        let failures = Arc::new(failures);
        if kept.len() == 4 {
            kept.pop_front();
        }
        kept.push_back((index.to_vec(), failures.clone()));
        Ok(failures)
    }

    /// The store's dims, coordinates, variables and attributes; no cells, no values.
    pub(crate) fn layout(&self) -> &Dataset {
        &self.layout
    }

    /// Cells `first..first + len` of the grid, with their states, failures and values.
    pub(crate) fn window(&self, first: usize, len: usize) -> Result<Window, ReadError> {
        let end = first + len;
        if end > self.shape.iter().product() {
            return Err(err(
                &self.dir,
                format!("has no cells {first}..{end}: its grid is {:?}", self.shape),
            ));
        }
        let mut window = Window {
            first,
            cells: Vec::with_capacity(len),
            errors: std::collections::BTreeMap::new(),
            data: self
                .layout
                .vars
                .iter()
                .map(|v| {
                    let mut c = Column::new(v.ty);
                    c.reserve(len * v.elements());
                    c
                })
                .collect(),
        };
        for (start, size) in boxes(&self.shape, first, end) {
            let at = window.cells.len();
            let damaged =
                |m: &Meta, what: &str| err(&self.dir.join(&m.name), format!("{what} (damaged)"));
            // Each array's region: the box, then the whole of its extra dims.
            let region = |m: &Meta| {
                let mut from = start.clone();
                let mut len = size.clone();
                from.extend(m.shape[start.len()..].iter().map(|_| 0));
                len.extend_from_slice(&m.shape[start.len()..]);
                (from, len)
            };
            let (from, len) = region(&self.status.meta);
            match self.status.region(&self.dir, &from, &len)? {
                Items::I8(codes) => {
                    for code in codes {
                        let state = CellState::from_status(i64::from(code)).ok_or_else(|| {
                            damaged(
                                &self.status.meta,
                                "holds a status code other than 0, 1, 2 and 3",
                            )
                        })?;
                        window.cells.push(state);
                    }
                }
                _ => {
                    return Err(damaged(
                        &self.status.meta,
                        "has the wrong data type: xyz_status is int8",
                    ));
                }
            }
            let (from, len) = region(&self.error);
            let ranges: Vec<std::ops::Range<u64>> = from
                .iter()
                .zip(&len)
                .map(|(s, n)| *s as u64..(s + n) as u64)
                .collect();
            let chunks = self
                .error
                .array
                .chunks_in_array_subset(&ArraySubset::new_with_ranges(&ranges))
                .map_err(|e| damaged(&self.error, &e.to_string()))?;
            for index in chunks.iter().flat_map(|c| c.indices().into_iter()) {
                let failures = self.failures_of_chunk(&index)?;
                for (cell, text) in failures.range(at + first..end) {
                    window.errors.insert(cell - first, text.clone());
                }
            }
            for ((reader, var), data) in self
                .vars
                .iter()
                .zip(&self.layout.vars)
                .zip(&mut window.data)
            {
                let (from, len) = region(&reader.meta);
                let column = match reader.region(&self.dir, &from, &len)? {
                    Items::I8(v) if var.ty == ScalarType::I64 => {
                        Column::I64(v.into_iter().map(i64::from).collect())
                    }
                    raw => raw.into_column(),
                };
                data.extend_from(&column);
            }
        }
        for &(a, n) in &self.lost {
            for cell in a.max(first)..(a + n).min(end) {
                let state = &mut window.cells[cell - first];
                if *state == CellState::Ok {
                    *state = CellState::Pending;
                }
            }
        }
        Ok(window)
    }
}

/// Checks that the store at `dir` is one [`read`] can read, from its metadata alone.
pub(super) fn probe(dir: &Path) -> Result<(), ReadError> {
    layout(dir, false).map(|_| ())
}

/// Reads the store at `dir`.
pub(super) fn read(dir: &Path) -> Result<Dataset, ReadError> {
    let Layout {
        attrs: group_attrs,
        coords,
        extra,
        vars: var_metas,
        aux,
    } = layout(dir, true)?;
    let swept: Vec<String> = coords.iter().map(|m| m.name.clone()).collect();
    let (dims, extra_coords, aux_coords) = coordinates(dir, &coords, &extra, &aux)?;
    let n_cells: usize = dims.iter().map(|d| d.coords.len()).product();
    let (own, var_metas): (Vec<_>, Vec<_>) = var_metas
        .into_iter()
        .partition(|(m, _)| m.name == STATUS_VAR || m.name == ERROR_VAR);
    let mut states = None;
    let mut errors = std::collections::BTreeMap::new();
    for (m, _) in &own {
        check_own(dir, m, &swept, n_cells)?;
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
        let extra_dims = extra_dims_of(dir, m, &swept, &lengths)?;
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
        None => cells_of(present, any_present_info),
    };
    let attrs = attributes(&group_attrs);
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
    use crate::output::zarr::arrays::zstd_content_size;

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

    /// The store at `path` read by a [`Reader`] a window of `size` cells at a time, put together.
    fn read_in_windows(path: &Path, size: usize) -> Dataset {
        let reader = Reader::open(path).unwrap().expect("xyz's store");
        let mut ds = reader.layout().clone();
        let total: usize = ds.shape().iter().product();
        for first in (0..total).step_by(size) {
            let w = reader.window(first, size.min(total - first)).unwrap();
            for (k, e) in w.errors {
                ds.errors.insert(first + k, e);
            }
            ds.cells.extend(w.cells);
            for (var, col) in ds.vars.iter_mut().zip(&w.data) {
                var.data.extend_from(col);
            }
        }
        ds
    }

    #[test]
    fn a_store_read_in_windows_is_the_store_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.zarr");
        crate::output::write(
            &crate::output::tests::sample(),
            &path,
            crate::Format::Zarr,
            false,
        )
        .unwrap();
        let same = |path: &Path| {
            let whole = read(path).unwrap();
            for size in [1, 3, 5, 8] {
                let got = read_in_windows(path, size);
                assert_eq!(got.dims, whole.dims);
                assert_eq!(got.cells, whole.cells, "windows of {size}");
                assert_eq!(got.errors, whole.errors);
                assert_eq!(format!("{:?}", got.vars), format!("{:?}", whole.vars));
                assert_eq!(got.attrs, whole.attrs);
            }
        };
        same(&path);
        // A chunk lost: its cells read as not evaluated either way.
        std::fs::remove_file(path.join("n").join("c").join("0").join("0")).unwrap();
        same(&path);
        assert!(read(&path).unwrap().cells.contains(&CellState::Pending));
        let reader = Reader::open(&path).unwrap().unwrap();
        let err = reader.window(6, 3).unwrap_err();
        assert!(err.message.contains("has no cells 6..9"), "{err}");
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
