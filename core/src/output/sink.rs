//! Where a sweep's dataset goes: a new output, or an existing dataset the results merge into
//! (as xyzpy's Harvester does), checked before any work is done and written only when
//! complete. A merge holds the dataset's lock from the start, so merges into one dataset
//! serialize, and checks that it still holds it just before the dataset is replaced.

use std::io;
use std::path::{Path, PathBuf};

use super::WindowMerge;
use super::{
    DatasetLock, Encoding, Format, LockHolder, ReadError, Staged, WindowWriter, WriteError,
};
use crate::dataset::{Dataset, Window};
use crate::harvest::{Conflicts, Harvest, MergeError};

/// A dataset's destination that cannot take it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// A merge into a format that does not keep its layout.
    #[error(
        "{}: harvest merges into a dataset that keeps its layout: {}",
        path.display(),
        Format::titles(Format::is_self_describing)
    )]
    NotMergeable {
        /// The dataset given.
        path: PathBuf,
    },
    /// Standard output in a format that is not written as a stream.
    #[error(
        "only {} can be written to standard output, not {format}",
        Format::extensions(Format::streams)
    )]
    CannotStream {
        /// The format asked for.
        format: Format,
    },
    /// A format that cannot hold the dataset (complex values in netCDF).
    #[error("{}: {why}", path.display())]
    CannotHold {
        /// The destination.
        path: PathBuf,
        /// What it cannot hold.
        why: String,
    },
    /// The dataset's lock could not be taken.
    #[error("locking {} to merge into it", path.display())]
    Lock {
        /// The dataset.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The results do not merge with the dataset.
    #[error("merging into {}", path.display())]
    Merge {
        /// The dataset.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<MergeError>,
    },
    /// The dataset merged into could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The output could not be written; what was there is as it was.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Where a dataset goes, checked before any work is done: a new output, or a merge into a
/// dataset under its lock.
#[derive(Debug)]
pub struct Sink {
    path: PathBuf,
    format: Format,
    /// How cells both datasets hold are settled, when merging.
    merge: Option<Conflicts>,
    force: bool,
    encoding: Encoding,
    /// Held while merging.
    lock: Option<DatasetLock>,
}

impl Sink {
    /// A new output at `path` (`-` for standard output, in a format that streams) in
    /// `format`: refused now if it exists and `force` is not set, or if its directory is
    /// missing or read-only.
    pub fn output(
        path: &Path,
        format: Format,
        force: bool,
        encoding: Encoding,
    ) -> Result<Sink, SinkError> {
        if super::is_stdout(path) && !format.streams() {
            return Err(SinkError::CannotStream { format });
        }
        super::check_destination(path, force)?;
        Ok(Sink {
            path: path.to_path_buf(),
            format,
            merge: None,
            force,
            encoding,
            lock: None,
        })
    }

    /// A merge into the dataset at `path` (made if it does not exist), in the format its
    /// extension names, which must keep its layout. Takes the dataset's lock, calling
    /// `waiting` once if another process holds it; refuses now a dataset that cannot be read.
    pub fn merge_into(
        path: &Path,
        conflicts: Conflicts,
        encoding: Encoding,
        waiting: impl FnMut(&LockHolder),
    ) -> Result<Sink, SinkError> {
        let format = Format::from_path(path)
            .filter(|f| f.is_self_describing())
            .ok_or_else(|| SinkError::NotMergeable {
                path: path.to_path_buf(),
            })?;
        super::check_parent(path)?;
        let lock = DatasetLock::acquire(path, waiting).map_err(|source| SinkError::Lock {
            path: path.to_path_buf(),
            source,
        })?;
        if path.exists() {
            // Read whole only when the results are there to merge.
            super::probe(path, format)?;
        }
        Ok(Sink {
            path: path.to_path_buf(),
            format,
            merge: Some(conflicts),
            force: true,
            encoding,
            lock: Some(lock),
        })
    }

    /// The path written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the dataset goes to standard output.
    pub fn is_stdout(&self) -> bool {
        super::is_stdout(&self.path)
    }

    /// Whether a new output is written a window of the grid at a time
    /// ([`Sink::write_windows`]): not a merge into a dataset that exists, to a file (not
    /// standard output) in a format that [writes windows](Format::writes_windows).
    pub fn writes_windows(&self) -> bool {
        self.format.writes_windows()
            && !self.is_stdout()
            && !(self.merge.is_some() && self.path.exists())
    }

    /// Whether a merge replaces the cells it evaluates ([`Conflicts::Overwrite`]).
    pub fn overwrites(&self) -> bool {
        self.merge == Some(Conflicts::Overwrite)
    }

    /// Refuses, before any work is done, a dataset laid out as `layout` that the format cannot
    /// hold.
    pub fn check_holds(&self, layout: &Dataset) -> Result<(), SinkError> {
        match self.format.refuses(layout) {
            Some(why) => Err(SinkError::CannotHold {
                path: self.path.clone(),
                why,
            }),
            None => Ok(()),
        }
    }

    /// Writes `dataset` as a new output (a merge goes through [`Sink::harvest`]).
    pub fn write(&self, dataset: &Dataset) -> Result<(), WriteError> {
        super::write_checked(
            dataset,
            &self.path,
            self.format,
            self.force,
            self.encoding,
            || self.still_held(),
        )
    }

    /// Writes a new output a window of the grid at a time (in a format that
    /// [writes windows](Format::writes_windows)), the windows coming from `fill`, which is
    /// handed the function that writes each; gives what `fill` gives. The output is placed
    /// only once complete.
    pub fn write_windows<T, E: From<WriteError>>(
        &self,
        layout: &Dataset,
        fill: impl FnOnce(&mut dyn FnMut(&Window) -> Result<(), E>) -> Result<T, E>,
    ) -> Result<T, E> {
        let staged = Staged::new(&self.path, self.force)?;
        let mut writer = WindowWriter::create(layout, &staged, self.format, self.encoding)?;
        let filled = fill(&mut |window| Ok(writer.write(window)?))?;
        writer.finish()?;
        self.still_held().map_err(|source| WriteError::Io {
            path: self.path.clone(),
            source,
        })?;
        staged.commit()?;
        Ok(filled)
    }

    /// For a merge into a dataset that exists: the merge of results laid out as `layout`
    /// into it, ready to take them; `None` otherwise.
    pub fn harvest(&self, layout: &Dataset) -> Result<Option<Harvest>, SinkError> {
        let Some(conflicts) = self.merge.filter(|_| self.path.exists()) else {
            return Ok(None);
        };
        let existing = super::read(&self.path, self.format)?;
        let harvest =
            Harvest::new(existing, layout, conflicts).map_err(|source| SinkError::Merge {
                path: self.path.clone(),
                source: Box::new(source),
            })?;
        Ok(Some(harvest))
    }

    /// For a merge into a dataset that exists and can be read a window at a time (a Zarr
    /// store xyz wrote), of results laid out as `layout` whose coordinates land in order among
    /// its own: the merge, to be written a window at a time ([`Sink::write_merge_windows`]),
    /// so that neither is held whole. `None` otherwise: the merge is then made whole
    /// ([`Sink::harvest`]).
    pub fn merge_windows(&self, layout: &Dataset) -> Result<Option<WindowMerge>, SinkError> {
        let Some(conflicts) = self.merge.filter(|_| self.path.exists()) else {
            return Ok(None);
        };
        let Some(source) = self.format.backend().window_source(&self.path)? else {
            return Ok(None);
        };
        let window = super::window_cells(self.format, layout);
        WindowMerge::new(source, layout, conflicts, window).map_err(|source| SinkError::Merge {
            path: self.path.clone(),
            source: Box::new(source),
        })
    }

    /// Writes `merge` a window of the merged grid at a time, the new results' windows coming
    /// from `fill`, which is handed the function that takes each, in order; gives what `fill`
    /// gives. The dataset is replaced only once the merged one is complete; where cells
    /// conflict it is refused, and the dataset is left as it was.
    pub fn write_merge_windows<T, E: From<SinkError>>(
        &self,
        mut merge: WindowMerge,
        fill: impl FnOnce(&mut dyn FnMut(&Window) -> Result<(), E>) -> Result<T, E>,
    ) -> Result<T, E> {
        let staged = Staged::new(&self.path, true).map_err(SinkError::from)?;
        let layout = merge.layout().clone();
        let mut writer = WindowWriter::create(&layout, &staged, self.format, self.encoding)
            .map_err(SinkError::from)?;
        let drain = |merge: &mut WindowMerge, writer: &mut WindowWriter<'_>| {
            while let Some(window) = merge.next_ready()? {
                writer.write(&window)?;
            }
            Ok::<_, SinkError>(())
        };
        let filled = fill(&mut |window| {
            merge.put(window);
            Ok(drain(&mut merge, &mut writer)?)
        })?;
        merge.end();
        drain(&mut merge, &mut writer)?;
        merge.finish().map_err(|source| SinkError::Merge {
            path: self.path.clone(),
            source: Box::new(source),
        })?;
        writer.finish().map_err(SinkError::from)?;
        self.still_held().map_err(|source| {
            SinkError::from(WriteError::Io {
                path: self.path.clone(),
                source,
            })
        })?;
        staged.commit().map_err(SinkError::from)?;
        Ok(filled)
    }

    /// Finishes a merge and replaces the dataset with its result; gives the merged dataset.
    pub fn write_merged(&self, harvest: Harvest) -> Result<Dataset, SinkError> {
        let merged = harvest.finish().map_err(|source| SinkError::Merge {
            path: self.path.clone(),
            source: Box::new(source),
        })?;
        super::write_checked(
            &merged,
            &self.path,
            self.format,
            true,
            self.encoding,
            || self.still_held(),
        )?;
        Ok(merged)
    }

    /// For a merge, that it still holds the dataset's lock and the dataset is the one it
    /// found: checked just before the dataset is replaced.
    fn still_held(&self) -> io::Result<()> {
        match &self.lock {
            Some(lock) => lock.still_held(),
            None => Ok(()),
        }
    }
}
