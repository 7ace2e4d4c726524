//! Writing a dataset a [`Window`] of its grid at a time, for the formats that store the grid
//! in its order, so that a dataset bigger than memory is never held whole.

use std::io;
use std::path::PathBuf;

use super::backend::WindowSink;
use super::{Encoding, Format, Staged, WriteError};
use crate::dataset::{Dataset, Window};

/// The cells of the windows to give a [`WindowWriter`]: a Parquet row group's, so that a
/// dataset written a window at a time gives the same file as written whole.
pub const WINDOW_CELLS: usize = super::parquet::ROW_GROUP;

/// The bytes of values a window holds at most (but for one cell), but for Parquet's.
pub const WINDOW_BYTES: u64 = 2 << 20;

/// The cells of the windows to write a dataset laid out as `layout` in `format` with: for
/// Parquet, a row group's ([`WINDOW_CELLS`]); for the others, as many as hold about
/// [`WINDOW_BYTES`] (at most [`WINDOW_CELLS`]), so that a window stays small however many
/// values a cell has.
pub fn window_cells(format: Format, layout: &Dataset) -> usize {
    match format {
        Format::Zarr | Format::Netcdf | Format::Csv | Format::Json => {
            let cells = WINDOW_BYTES / layout.bytes_per_cell().max(1);
            (cells as usize).clamp(1, WINDOW_CELLS)
        }
        _ => WINDOW_CELLS,
    }
}

/// A dataset written a [`Window`] of its grid at a time, in order, so that it is never held
/// whole: for the formats that store the grid in its order ([`Format::writes_windows`]).
pub struct WindowWriter<'a> {
    to: Box<dyn WindowSink + 'a>,
    /// The destination, for errors.
    path: PathBuf,
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
        if !format.writes_windows() {
            return Err(io_err(io::Error::other(format!(
                "{format} is not written a part at a time"
            ))));
        }
        let to = format
            .backend()
            .windows(layout, staged.path(), encoding)
            .map_err(io_err)?;
        Ok(WindowWriter {
            to,
            path: staged.dest.clone(),
        })
    }

    /// Writes the next window, which must begin where the last one ended.
    pub fn write(&mut self, window: &Window) -> Result<(), WriteError> {
        self.to.write(window).map_err(|source| WriteError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Ends the output.
    pub fn finish(self) -> Result<(), WriteError> {
        let path = self.path;
        self.to
            .finish()
            .map_err(|source| WriteError::Io { path, source })
    }
}
