//! Where an output goes, and how it gets there: the destination is checked before a run (it
//! must not exist unless forced, its directory must be writable, it must be a file or a
//! directory xyz may replace), and the output is built under a temporary sibling name and
//! renamed into place only when complete, so that a destination holds the old output or the
//! whole new one. Siblings left by processes of this host that died are cleared.

use std::io;
use std::path::{Path, PathBuf};

use super::WriteError;

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
/// long run, so the run is not wasted; [`write()`](super::write()) checks again.
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
    pub(super) dest: PathBuf,
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

    pub(super) fn begin(dest: &Path) -> io::Result<Staged> {
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

    pub(super) fn place(self) -> io::Result<()> {
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
