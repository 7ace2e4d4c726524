//! Writing a dataset to disk, and reading it back: Zarr v3 (the default, opened by
//! `xarray.open_zarr`), netCDF (opened by `xarray.open_dataset`), and one row per case in
//! Parquet (`pandas.read_parquet`), CSV and JSON.
//!
//! Every writer builds its output under a temporary name beside the destination and renames
//! it into place only when complete, so a destination is never left half-written. An existing
//! destination is refused unless `force` is set; then it is moved aside, replaced, and only
//! removed once the new output is in place.
//!
//! # Missing values
//!
//! Every format holds, beside the outputs, each cell's state as the status code
//! [`STATUS_VAR`](crate::dataset::STATUS_VAR) and each failure as
//! [`ERROR_VAR`](crate::dataset::ERROR_VAR): variables over the swept dims in Zarr and netCDF,
//! columns in the tables. They, not the values, tell the cells without values; each output
//! keeps its declared type whatever failed. Such a cell holds:
//!
//! | type | Zarr and netCDF | Parquet | CSV | JSON |
//! |---|---|---|---|---|
//! | `f64` | NaN | null | empty | `null` |
//! | `i64` | `i64::MIN` | null | empty | `null` |
//! | `bool` | `false` | null | empty | `null` |
//! | `str` | `""` | null | empty | `null` |
//! | `c128` | NaN+NaNj (Zarr; netCDF has no complex type) | null parts | empty parts | `null` parts |
//!
//! netCDF's booleans are bytes with an attribute `dtype = "bool"` (as xarray writes them) and
//! its strings character arrays with `_Encoding = "utf-8"`. JSON writes NaN and infinities,
//! which it cannot hold, as `null` too.
//!
//! A complex value is `complex128` in Zarr and two `f64` columns, `NAME.re` and `NAME.im`, in
//! Parquet, CSV and JSON; netCDF refuses it ([`Format::refuses`]).
//!
//! Attributes hold the constants (booleans as 0 or 1, as netCDF has no boolean attributes;
//! complex numbers as text, `"(1.5-2j)"`) and the provenance: `xyz_version`, `xyz_function`
//! (the signature) and `xyz_function_sha256`.

mod compression;
mod lock;
mod netcdf;
mod parquet;
mod tabular;
mod tabular_read;
mod zarr;
mod zarr_read;

pub use compression::{Compression, DEFAULT_ZSTD_LEVEL, Encoding};
pub use lock::{DatasetLock, LockHolder, lock_path};

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::dataset::{Dataset, Window};

/// The on-disk forms a dataset can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Zarr v3 store (a directory), readable by `xarray.open_zarr`.
    Zarr,
    /// Comma-separated values, one row per case.
    Csv,
    /// A JSON array of one object per case (pandas `orient="records"`).
    Json,
    /// Apache Parquet, one row per case, readable by `pandas.read_parquet`.
    Parquet,
    /// A netCDF file (64-bit data format, CDF-5), readable by `xarray.open_dataset`.
    Netcdf,
}

impl Format {
    /// Every format, in the order the docs list them.
    pub const ALL: [Format; 5] = [
        Format::Zarr,
        Format::Netcdf,
        Format::Parquet,
        Format::Csv,
        Format::Json,
    ];

    /// Whether a dataset can be written in this format a [`Window`] of its grid at a time
    /// ([`WindowWriter`]): Zarr and Parquet.
    pub fn writes_windows(self) -> bool {
        matches!(self, Format::Zarr | Format::Parquet)
    }

    /// The format a path's extension names: `.zarr`, `.nc`, `.parquet`, `.csv` or `.json`.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }

    /// Whether a dataset in this format keeps its dims, coordinates and attributes, so reading
    /// it back gives the dataset that was written. CSV and JSON keep rows only.
    pub fn is_self_describing(self) -> bool {
        matches!(self, Format::Zarr | Format::Netcdf | Format::Parquet)
    }

    /// Why this format cannot hold `dataset` (or a dataset of its layout), if it cannot:
    /// netCDF, in the classic formats xyz writes, has no complex type, so it refuses complex
    /// variables and coordinates (complex constants it keeps as text attributes, as Zarr
    /// does). Checked before a run, so that no work is lost to it.
    pub fn refuses(self, dataset: &Dataset) -> Option<String> {
        if self != Format::Netcdf {
            return None;
        }
        let complex = dataset
            .vars
            .iter()
            .map(|v| (&v.name, "output", v.data.ty()))
            .chain(dataset.dims.iter().map(|d| (&d.name, "dim", d.coords.ty())))
            .chain(
                dataset
                    .aux_coords
                    .iter()
                    .map(|a| (&a.name, "sampled argument", a.values.ty())),
            )
            .find(|(_, _, ty)| *ty == xyz_abi::ScalarType::C128)?;
        Some(format!(
            "{} `{}` is complex (c128), which netCDF's classic formats cannot hold; write it \
             to Zarr (.zarr), where xarray reads it as complex128, or to Parquet, CSV or JSON \
             (real and imaginary parts as columns `{1}.re` and `{1}.im`)",
            complex.1, complex.0
        ))
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "zarr" => Ok(Format::Zarr),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "parquet" | "pq" => Ok(Format::Parquet),
            "nc" | "netcdf" | "nc4" | "cdf" => Ok(Format::Netcdf),
            other => Err(format!(
                "unknown format `{other}`: expected zarr, nc (netcdf), parquet, csv or json"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Zarr => "zarr",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
            Format::Netcdf => "netcdf",
        })
    }
}

/// A dataset that could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The destination exists and `force` was not set.
    #[error("{} already exists; pass --force to replace it", path.display())]
    Exists {
        /// The destination.
        path: PathBuf,
    },
    /// The destination is not something xyz writes to.
    #[error("{}: {reason}", path.display())]
    Refused {
        /// The destination.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Writing or renaming failed; the destination is as it was.
    #[error("could not write {}", path.display())]
    Io {
        /// The destination.
        path: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

/// A dataset that could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct ReadError {
    /// The dataset, or the file in it at fault.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// The path that stands for standard output: `-o -`, for the formats that stream.
pub const STDOUT: &str = "-";

/// Whether `dest` is `-`, standard output.
pub fn is_stdout(dest: &Path) -> bool {
    dest.as_os_str() == STDOUT
}

/// Where writing to `dest` really writes: `dest`, or the file or directory a symbolic link at
/// `dest` leads to (the link itself is kept). Refuses a destination that is not a regular file
/// or a directory (a device, a FIFO, a socket), which xyz would otherwise replace.
pub fn resolve_destination(dest: &Path) -> Result<PathBuf, WriteError> {
    let refused = |reason: String| WriteError::Refused {
        path: dest.to_path_buf(),
        reason,
    };
    let meta = match dest.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(dest.to_path_buf()),
        Err(source) => {
            return Err(WriteError::Io {
                path: dest.to_path_buf(),
                source,
            });
        }
    };
    let target = if meta.file_type().is_symlink() {
        match std::fs::canonicalize(dest) {
            Ok(t) => t,
            Err(_) => {
                return Err(refused(
                    "is a symbolic link to nothing: write to its target's path, or remove it"
                        .into(),
                ));
            }
        }
    } else {
        dest.to_path_buf()
    };
    let meta = std::fs::metadata(&target).map_err(|source| WriteError::Io {
        path: target.clone(),
        source,
    })?;
    if !(meta.is_file() || meta.is_dir()) {
        return Err(refused(format!(
            "{}is not a regular file or a directory, and xyz replaces what it writes to; \
             to write to standard output use `-o -` with CSV or JSON",
            if target != dest {
                format!("leads to {}, which ", target.display())
            } else {
                String::new()
            }
        )));
    }
    Ok(target)
}

/// Refuses `dest` when its directory does not exist, is not a directory, or cannot be written
/// to: what would otherwise fail only once the dataset is made.
pub fn check_parent(dest: &Path) -> Result<(), WriteError> {
    let parent = match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p,
        None => Path::new("."),
    };
    let refused = |reason: String| WriteError::Refused {
        path: dest.to_path_buf(),
        reason,
    };
    match std::fs::metadata(parent) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(refused(format!("{} is not a directory", parent.display()))),
        Err(_) => {
            return Err(refused(format!(
                "the directory {} does not exist",
                parent.display()
            )));
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt as _;
        let c = std::ffi::CString::new(parent.as_os_str().as_bytes())
            .map_err(|_| refused("its directory's name holds a NUL byte".into()))?;
        // SAFETY: access reads the NUL-terminated path it is given.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
            return Err(refused(format!(
                "the directory {} cannot be written to: {}",
                parent.display(),
                io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// Refuses an existing `dest` unless `force`, a `dest` xyz cannot replace (see
/// [`resolve_destination`]), and one whose directory is missing or read-only. Call it before a
/// long run, so the run is not wasted; [`write()`] checks again.
pub fn check_destination(dest: &Path, force: bool) -> Result<(), WriteError> {
    if is_stdout(dest) {
        return Ok(());
    }
    check_parent(dest)?;
    if !force && dest.symlink_metadata().is_ok() {
        return Err(WriteError::Exists {
            path: dest.to_path_buf(),
        });
    }
    resolve_destination(dest).map(|_| ())
}

/// Reads back a Zarr store, as a dataset: what harvest merges into. The cells' states and
/// failures come from `xyz_status` and `xyz_error`; a store without them (another tool's)
/// has a cell `Ok` where any variable has a value (strings cannot say they are missing, so a
/// store of string outputs only reads every cell as `Ok`).
pub fn read_zarr(path: &Path) -> Result<Dataset, ReadError> {
    zarr_read::read(path).map(typed_constants)
}

/// The dataset with its complex constants, which Zarr and netCDF keep as attributes of text
/// (`"(1.5-2j)"`, as Python writes them), as complex values again: those the signature in its
/// `xyz_function` attribute declares `c128`.
fn typed_constants(mut ds: Dataset) -> Dataset {
    let Some(sig) = ds
        .attrs
        .iter()
        .find(|(k, _)| k == "xyz_function")
        .and_then(|(_, v)| match v {
            crate::Value::Str(s) => s.parse::<xyz_abi::Signature>().ok(),
            _ => None,
        })
    else {
        return ds;
    };
    for (name, value) in &mut ds.attrs {
        let complex = sig
            .arg(name)
            .is_some_and(|(_, a)| a.ty == xyz_abi::ScalarType::C128);
        if let (true, crate::Value::Str(text)) = (complex, &*value)
            && let Some(z) = crate::value::parse_complex(text)
        {
            *value = crate::Value::C128(z);
        }
    }
    ds
}

/// The extra dims of the outputs of the signature `signature` (a dataset's `xyz_function`
/// attribute), by name: what tells a coordinate of an extra dim from one of a swept dim.
fn extra_dim_names(signature: Option<&str>) -> Vec<String> {
    let Some(sig) = signature.and_then(|s| s.parse::<xyz_abi::Signature>().ok()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for d in sig.outputs.iter().flat_map(|o| &o.dims) {
        if !names.contains(&d.name) {
            names.push(d.name.clone());
        }
    }
    names
}

/// The cells of a dataset read back: `Ok` where any variable has a value (`present`), else
/// `Absent`; every cell `Ok` when no variable can say it is missing (`known` false: strings
/// only).
fn cells_of(mut present: Vec<bool>, known: bool) -> Vec<crate::dataset::CellState> {
    use crate::dataset::CellState;
    if !known {
        present.fill(true);
    }
    present
        .into_iter()
        .map(|p| if p { CellState::Ok } else { CellState::Absent })
        .collect()
}

/// Reads back a dataset xyz wrote in any format. Zarr, netCDF and Parquet give back the
/// dataset that was written (with the caveats of [`read_zarr`] for stores of other tools);
/// CSV and JSON hold rows only, so their layout is inferred: the dims are the fewest leading
/// columns that tell the rows apart, the columns after them that hold one value throughout are
/// constants, and the others are data variables, but for `xyz_status` and `xyz_error`, which
/// give the cells' states and failures.
///
/// A file no reader makes sense of is an error naming it, whatever a third-party decoder does
/// with it: a panic inside one is caught and reported as damage.
pub fn read(path: &Path, format: Format) -> Result<Dataset, ReadError> {
    guarded(path, || match format {
        Format::Zarr => zarr_read::read(path),
        Format::Netcdf => netcdf::read(path),
        Format::Parquet => parquet::read(path),
        Format::Csv => tabular_read::read_csv(path),
        Format::Json => tabular_read::read_json(path),
    })
    .map(typed_constants)
}

/// Runs `read`, turning a panic (a decoder's, on a damaged file) into a [`ReadError`].
fn guarded<T>(path: &Path, read: impl FnOnce() -> Result<T, ReadError>) -> Result<T, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|_| {
        Err(ReadError {
            path: path.to_path_buf(),
            message: "is damaged: it does not decode".into(),
        })
    })
}

/// Checks, reading as little as it can, that [`read`] can read the dataset at `path`: a Zarr
/// store's metadata, a netCDF file's header, a Parquet file's footer. CSV and JSON, which say
/// nothing of their layout, are read whole.
pub fn probe(path: &Path, format: Format) -> Result<(), ReadError> {
    guarded(path, || match format {
        Format::Zarr => zarr_read::probe(path),
        Format::Netcdf => netcdf::probe(path),
        Format::Parquet => parquet::probe(path),
        Format::Csv | Format::Json => read(path, format).map(|_| ()),
    })
}

/// Writes `dataset` to `dest` in `format`, atomically, compressed as by default. See the
/// [module docs](self).
pub fn write(
    dataset: &Dataset,
    dest: &Path,
    format: Format,
    force: bool,
) -> Result<(), WriteError> {
    write_with(dataset, dest, format, force, Encoding::default())
}

/// Like [`write()`], encoded as `encoding` says: Zarr chunks and Parquet pages compressed as
/// its compression says, Zarr arrays sharded if it says so.
pub fn write_with(
    dataset: &Dataset,
    dest: &Path,
    format: Format,
    force: bool,
    encoding: Encoding,
) -> Result<(), WriteError> {
    write_checked(dataset, dest, format, force, encoding, || Ok(()))
}

/// As [`write_with`], but only once `before_place` agrees, just before the new output
/// replaces what is at `dest`: a merge checks there that it still holds its dataset's lock
/// ([`DatasetLock::still_held`]). When it does not, nothing is placed and its error is given.
pub fn write_checked(
    dataset: &Dataset,
    dest: &Path,
    format: Format,
    force: bool,
    encoding: Encoding,
    before_place: impl FnOnce() -> io::Result<()>,
) -> Result<(), WriteError> {
    check_destination(dest, force)?;
    let io_err = |source| WriteError::Io {
        path: dest.to_path_buf(),
        source,
    };
    if is_stdout(dest) {
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        return match format {
            Format::Csv => tabular::write_csv_to(dataset, &mut out),
            Format::Json => tabular::write_json_to(dataset, &mut out),
            _ => {
                return Err(WriteError::Refused {
                    path: dest.to_path_buf(),
                    reason: format!(
                        "{format} cannot be written to standard output: only csv and json stream"
                    ),
                });
            }
        }
        .map_err(io_err);
    }
    let dest = &resolve_destination(dest)?;
    let staged = Staged::begin(dest).map_err(io_err)?;
    let tmp = staged.path();
    match format {
        Format::Zarr => zarr::write(dataset, tmp, encoding),
        Format::Csv => tabular::write_csv(dataset, tmp),
        Format::Json => tabular::write_json(dataset, tmp),
        Format::Parquet => parquet::write(dataset, tmp, encoding.compression),
        Format::Netcdf => netcdf::write(dataset, tmp),
    }
    .and_then(|()| before_place())
    .and_then(|()| staged.place())
    .map_err(io_err)
}

/// Tags of the temporary siblings of an output: one being built, one being replaced.
const TEMP_TAGS: [&str; 2] = ["xyz-tmp", "xyz-old"];

fn file_name_of(dest: &Path) -> String {
    dest.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into())
}

/// A temporary sibling of `dest`: `.NAME.TAG-HOST-PID-NANOS`, so that the leftovers of a
/// process that died can be told and cleared (see [`clear_dead_siblings`]).
fn sibling(dest: &Path, tag: &str) -> PathBuf {
    let name = file_name_of(dest);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dest.with_file_name(format!(
        ".{name}.{tag}-{}-{}-{nanos}",
        crate::shared_fs::host_name(),
        std::process::id()
    ))
}

/// Clears what processes of this host that died while writing `dest` left beside it: outputs
/// half built are removed; an old output set aside for replacement is put back if `dest` is
/// gone (the process died between the two renames), else removed.
fn clear_dead_siblings(dest: &Path) {
    let name = file_name_of(dest);
    let dir = match dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let host = crate::shared_fs::host_name();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(file) = file.to_str() else { continue };
        for tag in TEMP_TAGS {
            let Some(rest) = file.strip_prefix(&format!(".{name}.{tag}-")) else {
                continue;
            };
            // HOST-PID-NANOS, the host possibly holding dashes itself.
            let mut parts = rest.rsplitn(3, '-');
            let (_, pid, owner) = (parts.next(), parts.next(), parts.next());
            let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if owner != Some(host.as_str()) || crate::shared_fs::pid_alive(pid) {
                continue;
            }
            let path = entry.path();
            if tag == "xyz-old" && dest.symlink_metadata().is_err() {
                let _ = std::fs::rename(&path, dest);
            } else {
                let _ = remove_any(&path);
            }
        }
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    match path.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Builds an output at a temporary sibling path with `build`, then moves it to `dest`,
/// replacing what was there only once the new output is complete. On failure the temporary
/// output is removed and `dest` is as it was.
pub fn place_atomically(
    dest: &Path,
    build: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let staged = Staged::begin(dest)?;
    build(staged.path())?;
    staged.place()
}

/// An output under construction at a temporary path beside its destination: moved there by
/// [`Staged::commit`] once complete, so the destination holds the old output or the whole new
/// one; removed if dropped before.
#[derive(Debug)]
pub struct Staged {
    dest: PathBuf,
    tmp: PathBuf,
}

impl Staged {
    /// Stages an output for `dest`, refusing an existing one unless `force`. A symbolic link
    /// at `dest` is written through: its target is replaced.
    pub fn new(dest: &Path, force: bool) -> Result<Staged, WriteError> {
        check_destination(dest, force)?;
        let dest = &resolve_destination(dest)?;
        Staged::begin(dest).map_err(|source| WriteError::Io {
            path: dest.to_path_buf(),
            source,
        })
    }

    fn begin(dest: &Path) -> io::Result<Staged> {
        clear_dead_siblings(dest);
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the directory {} does not exist", parent.display()),
            ));
        }
        Ok(Staged {
            dest: dest.to_path_buf(),
            tmp: sibling(dest, "xyz-tmp"),
        })
    }

    /// Where to build the output.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the output into place, replacing what was there.
    pub fn commit(self) -> Result<(), WriteError> {
        let dest = self.dest.clone();
        self.place()
            .map_err(|source| WriteError::Io { path: dest, source })
    }

    fn place(self) -> io::Result<()> {
        let (dest, tmp) = (&self.dest, &self.tmp);
        let is_dir = |p: &Path| p.symlink_metadata().map(|m| m.is_dir());
        match (is_dir(dest), is_dir(tmp)) {
            // Nothing there yet, or a file replaced by a file: one rename, atomic, so there is
            // no moment without an output.
            (Err(_), _) | (Ok(false), Ok(false)) => return std::fs::rename(tmp, dest),
            _ => {}
        }
        let old = sibling(dest, "xyz-old");
        std::fs::rename(dest, &old)?;
        if let Err(e) = std::fs::rename(tmp, dest) {
            let _ = std::fs::rename(&old, dest);
            return Err(e);
        }
        remove_any(&old)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // Gone already once placed.
        let _ = remove_any(&self.tmp);
    }
}

/// The cells of the windows to give a [`WindowWriter`]: a Parquet row group's, so that a
/// dataset written a window at a time gives the same file as written whole.
pub const WINDOW_CELLS: usize = parquet::ROW_GROUP;

/// A dataset written a [`Window`] of its grid at a time, in order, so that it is never held
/// whole: for the formats that store the grid in its order ([`Format::writes_windows`]).
pub struct WindowWriter<'a> {
    to: Windowed<'a>,
    /// The destination, for errors.
    path: PathBuf,
}

/// What a [`WindowWriter`] writes.
enum Windowed<'a> {
    Parquet(parquet::RowWriter<'a>),
    Zarr(zarr::StreamWriter),
}

impl<'a> WindowWriter<'a> {
    /// Starts writing a dataset laid out as `layout` (its cells and values are not used) in
    /// `format`, as the output `staged`, encoded as `encoding` says.
    pub fn create(
        layout: &'a Dataset,
        staged: &Staged,
        format: Format,
        encoding: Encoding,
    ) -> Result<WindowWriter<'a>, WriteError> {
        let io_err = |source| WriteError::Io {
            path: staged.dest.clone(),
            source,
        };
        let to = match format {
            Format::Parquet => Windowed::Parquet(
                parquet::RowWriter::create(layout, staged.path(), encoding.compression)
                    .map_err(io_err)?,
            ),
            Format::Zarr => Windowed::Zarr(
                zarr::StreamWriter::create(layout, staged.path(), encoding).map_err(io_err)?,
            ),
            _ => {
                return Err(io_err(io::Error::other(format!(
                    "{format} is not written a part at a time"
                ))));
            }
        };
        Ok(WindowWriter {
            to,
            path: staged.dest.clone(),
        })
    }

    /// Writes the next window, which must begin where the last one ended.
    pub fn write(&mut self, window: &Window) -> Result<(), WriteError> {
        match &mut self.to {
            Windowed::Parquet(rows) => {
                let data: Vec<&crate::value::Column> = window.data.iter().collect();
                rows.write(window.first, &window.cells, &window.errors, &data)
            }
            Windowed::Zarr(store) => store.write(window),
        }
        .map_err(|source| WriteError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Ends the output.
    pub fn finish(self) -> Result<(), WriteError> {
        let path = self.path;
        match self.to {
            Windowed::Parquet(rows) => rows.finish(),
            Windowed::Zarr(store) => store.finish(),
        }
        .map_err(|source| WriteError::Io { path, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(Format::from_path(Path::new("a/b.zarr")), Some(Format::Zarr));
        assert_eq!(Format::from_path(Path::new("b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.json")), Some(Format::Json));
        assert_eq!(
            Format::from_path(Path::new("b.parquet")),
            Some(Format::Parquet)
        );
        assert_eq!(Format::from_path(Path::new("b.nc")), Some(Format::Netcdf));
        assert_eq!(Format::from_path(Path::new("b.txt")), None);
        assert_eq!(Format::from_path(Path::new("b")), None);
    }

    #[test]
    fn a_failed_build_leaves_the_old_output_alone() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.csv");
        std::fs::write(&dest, "old").unwrap();
        let err = place_atomically(&dest, |tmp| {
            std::fs::write(tmp, "half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "old");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no leftovers"
        );
        place_atomically(&dest, |tmp| std::fs::create_dir(tmp)).unwrap();
        assert!(dest.is_dir());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no leftovers"
        );
    }

    #[test]
    fn existing_destinations_need_force() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.zarr");
        assert!(check_destination(&dest, false).is_ok());
        std::fs::create_dir(&dest).unwrap();
        let err = check_destination(&dest, false).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("out.zarr already exists; pass --force to replace it")
        );
        assert!(check_destination(&dest, true).is_ok());
    }

    /// A dataset with every type, an array output, a failed cell and a constant.
    pub(super) fn sample() -> Dataset {
        use crate::{
            ClosureFunction, ComboValues, Function, ParamSpace, Runner, Sequential, Value,
        };
        let sig = "f(a: i64, k: str, c: f64) -> (n: i64, b: bool, s: str, v: f64[t=2])"
            .parse()
            .unwrap();
        let f = ClosureFunction::new(sig, |args| match args {
            [Value::I64(2), ..] => Err("two".into()),
            [Value::I64(a), Value::Str(k), Value::F64(c)] => Ok(vec![
                Value::I64(a * 10),
                Value::Bool(a % 2 == 0),
                Value::Str(format!("{k}, \"{a}\"")),
                Value::F64(*a as f64 * c),
                Value::F64(if *a == 3 { f64::NAN } else { -(*a as f64) }),
            ]),
            _ => unreachable!(),
        });
        let mut space = ParamSpace::new();
        space
            .combo(
                "k",
                ComboValues::List(vec![Value::Str("p".into()), Value::Str("q".into())]),
            )
            .combo(
                "a",
                ComboValues::Range {
                    start: Value::I64(0),
                    stop: Value::I64(4),
                    step: Value::I64(1),
                },
            )
            .constant("c", Value::F64(0.5));
        let bound = space.bind(f.signature()).unwrap();
        Runner::new(&f, &Sequential).run(&bound).unwrap().dataset
    }

    /// The sample with one of its failed cells (k = "q", a = 2) not evaluated instead.
    fn sample_with_every_state() -> Dataset {
        let mut ds = sample();
        let pending = 4 + 2;
        assert_eq!(ds.cells[pending], crate::dataset::CellState::Failed);
        ds.cells[pending] = crate::dataset::CellState::Pending;
        ds.errors.remove(&pending);
        assert_eq!(ds.counts(), (6, 1, 1, 0));
        assert_eq!(ds.errors.get(&2).map(String::as_str), Some("error: two"));
        ds
    }

    #[test]
    fn self_describing_formats_read_back_what_was_written() {
        let ds = sample_with_every_state();
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Zarr, Format::Netcdf, Format::Parquet] {
            let path = dir.path().join(format!("d.{format}"));
            write(&ds, &path, format, false).unwrap();
            let back = read(&path, format).unwrap();
            assert_eq!(back.dims, ds.dims, "{format}");
            assert_eq!(back.cells, ds.cells, "{format}");
            assert_eq!(back.errors, ds.errors, "{format}");
            assert_eq!(
                format!("{:?}", back.vars),
                format!("{:?}", ds.vars),
                "{format}"
            );
            assert_eq!(back.attrs, ds.attrs, "{format}");
        }
    }

    #[test]
    fn tables_read_back_with_inferred_dims() {
        let ds = sample_with_every_state();
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Csv, Format::Json] {
            let path = dir.path().join(format!("d.{format}"));
            write(&ds, &path, format, false).unwrap();
            let back = read(&path, format).unwrap();
            assert_eq!(back.dims, ds.dims, "{format}");
            let names: Vec<&str> = back.vars.iter().map(|v| v.name.as_str()).collect();
            if format == Format::Csv {
                assert_eq!(names, ["n", "b", "s", "v[0]", "v[1]"]);
            } else {
                assert_eq!(names, ["n", "b", "s", "v"]);
                assert_eq!(back.vars[3].extra_dims[0].name, "v_dim0");
            }
            assert_eq!(back.attrs, [("c".to_string(), crate::Value::F64(0.5))]);
            assert_eq!(back.vars[0].data, ds.vars[0].data, "{format}");
            assert_eq!(back.vars[2].data, ds.vars[2].data, "{format}");
            // Each cell's state and failure come back from their columns.
            assert_eq!(back.cells, ds.cells, "{format}");
            assert_eq!(back.errors, ds.errors, "{format}");
        }
    }
}
