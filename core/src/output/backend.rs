//! The traits a format implements: [`Backend`], which writes and reads a dataset, and
//! [`WindowSink`] and [`WindowSource`], for the formats written and read a window of the grid
//! at a time. A format's folder
//! implements them and a row of the [format table](super::format) registers it.

use std::io::{self, Write};
use std::path::Path;

use super::{Encoding, ReadError};
use crate::dataset::{Dataset, Window};

/// How a format writes and reads a dataset: what a folder under `output/` implements. The
/// conventions every format keeps (the cells' states, failures, missing values, constants) are
/// in [`conventions`](super::conventions); the placing of what a backend writes (under a
/// temporary name, renamed when complete) is the caller's.
pub(crate) trait Backend: Sync {
    /// Writes `dataset` as a new file or directory at `path`, encoded as `encoding` says
    /// where the format compresses.
    fn write(&self, dataset: &Dataset, path: &Path, encoding: Encoding) -> io::Result<()>;

    /// Reads back a dataset in this format.
    fn read(&self, path: &Path) -> Result<Dataset, ReadError>;

    /// Checks, reading as little as it can, that [`Backend::read`] can read `path`; by
    /// default by reading it whole.
    fn probe(&self, path: &Path) -> Result<(), ReadError> {
        self.read(path).map(drop)
    }

    /// Why this format cannot hold `dataset`, if it cannot.
    fn refuses(&self, _dataset: &Dataset) -> Option<String> {
        None
    }

    /// Writes `dataset` to a stream, for a format whose row says it streams.
    fn stream(&self, _dataset: &Dataset, _out: &mut dyn Write) -> io::Result<()> {
        Err(io::Error::other("this format is not written to a stream"))
    }

    /// Starts writing a dataset laid out as `layout` at `path` a window at a time, for a
    /// format whose row says it writes windows.
    fn windows<'a>(
        &self,
        _layout: &'a Dataset,
        _path: &Path,
        _encoding: Encoding,
    ) -> io::Result<Box<dyn WindowSink + 'a>> {
        Err(io::Error::other(
            "this format is not written a part at a time",
        ))
    }

    /// Opens the dataset at `path` to be read a window of its grid at a time, where the
    /// format allows it and the dataset keeps its cells' states; `None` where it is read whole.
    fn window_source(&self, _path: &Path) -> Result<Option<Box<dyn WindowSource>>, ReadError> {
        Ok(None)
    }
}

/// A dataset read a window of its grid at a time, so that it is never held whole.
pub trait WindowSource: Send {
    /// Its dims, coordinates, variables and attributes; no cells and no values.
    fn layout(&self) -> &Dataset;

    /// Its cells `first..first + len`, with their states, failures and values.
    fn window(&self, first: usize, len: usize) -> Result<Window, ReadError>;
}

/// An output written a window of the grid at a time, in order.
pub(crate) trait WindowSink {
    /// Writes the next window, which begins where the last one ended.
    fn write(&mut self, window: &Window) -> io::Result<()>;

    /// Ends the output.
    fn finish(self: Box<Self>) -> io::Result<()>;
}
