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

mod backend;
mod compression;
mod conventions;
mod csv;
mod format;
mod infer;
mod json;
mod lock;
mod merge;
mod netcdf;
mod parquet;
mod place;
mod rows;
mod sink;
mod window;
mod zarr;

pub(crate) use backend::WindowSource;
pub use compression::{Compression, DEFAULT_ZSTD_LEVEL, Encoding};
pub use format::Format;
pub use lock::{DatasetLock, LockHolder, lock_path};
pub use merge::WindowMerge;
pub use place::{
    STDOUT, Staged, check_destination, check_parent, is_stdout, place_atomically,
    resolve_destination,
};
pub use sink::{Sink, SinkError};
pub use window::{WINDOW_BYTES, WINDOW_CELLS, WindowWriter, window_cells};

use std::io;
use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use conventions::typed_constants;

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

/// Reads back a Zarr store, as a dataset: what harvest merges into. The cells' states and
/// failures come from `xyz_status` and `xyz_error`; a store without them (another tool's)
/// has a cell `Ok` where any variable has a value (strings cannot say they are missing, so a
/// store of string outputs only reads every cell as `Ok`).
pub fn read_zarr(path: &Path) -> Result<Dataset, ReadError> {
    Format::Zarr.backend().read(path).map(typed_constants)
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
    guarded(path, || format.backend().read(path)).map(typed_constants)
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
    guarded(path, || format.backend().probe(path))
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
        if !format.streams() {
            return Err(WriteError::Refused {
                path: dest.to_path_buf(),
                reason: format!(
                    "{format} cannot be written to standard output: only {} stream",
                    Format::extensions(Format::streams)
                ),
            });
        }
        // The backend buffers what it writes.
        let mut out = io::stdout().lock();
        return format.backend().stream(dataset, &mut out).map_err(io_err);
    }
    let dest = &resolve_destination(dest)?;
    let staged = Staged::begin(dest).map_err(io_err)?;
    let tmp = staged.path();
    format
        .backend()
        .write(dataset, tmp, encoding)
        .and_then(|()| before_place())
        .and_then(|()| staged.place())
        .map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

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
