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
//! every chunk is then compressed with zstd (level 3 unless the [`Compression`](crate::output::Compression) says
//! otherwise), as xarray's own `to_zarr` does. A store is written a window of the grid at a
//! time ([`StreamWriter`]): each chunk is encoded by zarrs and stored as soon as the windows
//! cover it, so a write holds about a chunk of each variable beside the window.

mod arrays;
mod chunks;
mod read;
mod write;

pub(super) use write::StreamWriter;

use std::io;
use std::path::Path;

use super::backend::{Backend, WindowSink, WindowSource};
use super::{Encoding, ReadError};
use crate::dataset::{Dataset, Window};

/// The Zarr v3 backend.
pub(super) struct Zarr;

impl Backend for Zarr {
    fn write(&self, dataset: &Dataset, path: &Path, encoding: Encoding) -> io::Result<()> {
        write::write(dataset, path, encoding)
    }

    fn read(&self, path: &Path) -> Result<Dataset, ReadError> {
        read::read(path)
    }

    fn probe(&self, path: &Path) -> Result<(), ReadError> {
        read::probe(path)
    }

    fn windows<'a>(
        &self,
        layout: &'a Dataset,
        path: &Path,
        encoding: Encoding,
    ) -> io::Result<Box<dyn WindowSink + 'a>> {
        Ok(Box::new(StreamWriter::create(layout, path, encoding)?))
    }

    fn window_source(&self, path: &Path) -> Result<Option<Box<dyn WindowSource>>, ReadError> {
        Ok(read::Reader::open(path)?.map(|r| Box::new(r) as Box<dyn WindowSource>))
    }
}

impl WindowSource for read::Reader {
    fn layout(&self) -> &Dataset {
        read::Reader::layout(self)
    }

    fn window(&self, first: usize, len: usize) -> Result<Window, ReadError> {
        read::Reader::window(self, first, len)
    }
}

impl WindowSink for StreamWriter {
    fn write(&mut self, window: &Window) -> io::Result<()> {
        StreamWriter::write(self, window)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        StreamWriter::finish(*self)
    }
}

pub(super) fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}
