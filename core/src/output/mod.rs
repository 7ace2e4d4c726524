//! Writing a dataset to disk: Zarr v3 (the default, opened by `xarray.open_zarr`), CSV and
//! JSON (one row per case).
//!
//! Every writer builds its output under a temporary name beside the destination and renames
//! it into place only when complete, so a destination is never left half-written. An existing
//! destination is refused unless `force` is set; then it is moved aside, replaced, and only
//! removed once the new output is in place.
//!
//! # Missing values
//!
//! Cells that failed or that no case covers are missing:
//!
//! | type | Zarr | xarray reads |
//! |---|---|---|
//! | `f64` | NaN | NaN |
//! | `i64` | `i64::MIN` with attribute `_FillValue` (only when a cell is missing) | `float64` with NaN |
//! | `bool` | `int8` with `-1` and attribute `_FillValue = -1` (only when a cell is missing; otherwise `bool`) | `float32`: 1.0, 0.0 or NaN |
//! | `str` | `""` | `""` |
//!
//! In CSV a missing value is an empty field; in JSON it is `null` (as are NaN and infinities,
//! which JSON cannot hold).
//!
//! Attributes hold the constants (booleans as 0 or 1, as netCDF has no boolean attributes) and
//! the provenance: `xyz_version`, `xyz_function` (the signature) and `xyz_function_sha256`.

mod tabular;
mod zarr;
mod zarr_read;

pub use zarr_read::ReadError;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::dataset::Dataset;

/// The on-disk forms a dataset can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A Zarr v3 store (a directory), readable by `xarray.open_zarr`.
    Zarr,
    /// Comma-separated values, one row per case.
    Csv,
    /// A JSON array of one object per case (pandas `orient="records"`).
    Json,
}

impl Format {
    /// The format a path's extension names: `.zarr`, `.csv` or `.json`.
    pub fn from_path(path: &Path) -> Option<Format> {
        path.extension()?.to_str()?.parse().ok()
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "zarr" => Ok(Format::Zarr),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(format!(
                "unknown format `{other}`: expected zarr, csv or json"
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

/// Refuses an existing `dest` unless `force`. Call it before a long run, so the run is not
/// wasted; [`write()`] checks again.
pub fn check_destination(dest: &Path, force: bool) -> Result<(), WriteError> {
    if !force && dest.symlink_metadata().is_ok() {
        return Err(WriteError::Exists {
            path: dest.to_path_buf(),
        });
    }
    Ok(())
}

/// Reads back a Zarr store xyz wrote, as a dataset: what harvest merges into. Missing values
/// read back missing; a cell is `Ok` where any variable has a value (strings cannot say they
/// are missing, so a store of string outputs only reads every cell as `Ok`).
pub fn read_zarr(path: &Path) -> Result<Dataset, ReadError> {
    zarr_read::read(path)
}

/// Checks, from its metadata alone, that [`read_zarr`] can read the store at `path`.
pub fn probe_zarr(path: &Path) -> Result<(), ReadError> {
    zarr_read::probe(path)
}

/// Writes `dataset` to `dest` in `format`, atomically. See the [module docs](self).
pub fn write(
    dataset: &Dataset,
    dest: &Path,
    format: Format,
    force: bool,
) -> Result<(), WriteError> {
    check_destination(dest, force)?;
    let io_err = |source| WriteError::Io {
        path: dest.to_path_buf(),
        source,
    };
    place_atomically(dest, |tmp| match format {
        Format::Zarr => zarr::write(dataset, tmp),
        Format::Csv => tabular::write_csv(dataset, tmp),
        Format::Json => tabular::write_json(dataset, tmp),
    })
    .map_err(io_err)
}

fn sibling(dest: &Path, tag: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dest.with_file_name(format!(".{name}.{tag}-{}-{nanos}", std::process::id()))
}

fn remove_any(path: &Path) -> io::Result<()> {
    match path.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Builds the output at a temporary sibling path with `build`, then moves it to `dest`,
/// replacing what was there only once the new output is complete.
pub(crate) fn place_atomically(
    dest: &Path,
    build: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("the directory {} does not exist", parent.display()),
        ));
    }
    let tmp = sibling(dest, "xyz-tmp");
    if let Err(e) = build(&tmp) {
        let _ = remove_any(&tmp);
        return Err(e);
    }
    if dest.symlink_metadata().is_err() {
        return std::fs::rename(&tmp, dest).inspect_err(|_| {
            let _ = remove_any(&tmp);
        });
    }
    let old = sibling(dest, "xyz-old");
    std::fs::rename(dest, &old).inspect_err(|_| {
        let _ = remove_any(&tmp);
    })?;
    if let Err(e) = std::fs::rename(&tmp, dest) {
        let _ = std::fs::rename(&old, dest);
        let _ = remove_any(&tmp);
        return Err(e);
    }
    remove_any(&old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(Format::from_path(Path::new("a/b.zarr")), Some(Format::Zarr));
        assert_eq!(Format::from_path(Path::new("b.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.json")), Some(Format::Json));
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
}
