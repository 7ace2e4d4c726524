//! Reading a function's file: a regular file of bounded size, or a clear refusal.
//!
//! A spec or a crop names its function by path, and whatever is at that path is read before
//! anything else is known of it. A FIFO would block the read forever, `/dev/zero` would fill
//! memory, a directory gives an unhelpful error. So the file is opened without blocking,
//! checked to be a regular file on the open descriptor (no race with a rename), and read with
//! a cap: what is hashed is exactly what is then compiled or loaded.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The largest function file xyz reads: 512 MiB, far above any module or library it can run.
pub const MAX_FUNCTION_FILE: u64 = 512 << 20;

/// A function file that could not be read, naming the path.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct FunctionFileError {
    /// The path given.
    pub path: PathBuf,
    /// What is wrong.
    #[source]
    pub kind: FunctionFileErrorKind,
}

/// What is wrong with a function file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FunctionFileErrorKind {
    /// It could not be opened or read.
    #[error("could not read the function file")]
    Io(#[source] io::Error),
    /// It is not a regular file.
    #[error(
        "is {what}, not a regular file: a function is a WebAssembly module (.wasm) or a \
         native library (.so) on disk"
    )]
    NotRegular {
        /// What it is instead (`a FIFO`, `a directory`, …).
        what: &'static str,
    },
    /// Its SHA-256 is not the one expected (a crop's): it was changed after it was sown.
    #[error(
        "has sha256 {found}, not the sown {expected}: the file was changed after it was sown, \
         so none of it is run"
    )]
    Changed {
        /// The SHA-256 recorded.
        expected: String,
        /// The file's.
        found: String,
    },
    /// It is larger than [`MAX_FUNCTION_FILE`].
    #[error("is {size} bytes, more than the {max} bytes a function file may have")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The cap.
        max: u64,
    },
}

impl FunctionFileError {
    fn new(path: &Path, kind: FunctionFileErrorKind) -> FunctionFileError {
        FunctionFileError {
            path: path.to_path_buf(),
            kind,
        }
    }
}

/// Opens `path` for reading without blocking (a FIFO with no writer would block a plain open)
/// and checks, on the open file, that it is a regular file of at most [`MAX_FUNCTION_FILE`]
/// bytes. Gives the file and its size.
pub fn open_function_file(path: &Path) -> Result<(std::fs::File, u64), FunctionFileError> {
    let err = |kind| FunctionFileError::new(path, kind);
    // Refuse what is plainly not a file before opening it: opening some devices has effects.
    let meta = std::fs::metadata(path).map_err(|e| err(FunctionFileErrorKind::Io(e)))?;
    if !meta.is_file() {
        return Err(err(FunctionFileErrorKind::NotRegular {
            what: crate::shared_fs::describe(meta.file_type()),
        }));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options
        .open(path)
        .map_err(|e| err(FunctionFileErrorKind::Io(e)))?;
    let meta = file
        .metadata()
        .map_err(|e| err(FunctionFileErrorKind::Io(e)))?;
    if !meta.is_file() {
        return Err(err(FunctionFileErrorKind::NotRegular {
            what: crate::shared_fs::describe(meta.file_type()),
        }));
    }
    if meta.len() > MAX_FUNCTION_FILE {
        return Err(err(FunctionFileErrorKind::TooLarge {
            size: meta.len(),
            max: MAX_FUNCTION_FILE,
        }));
    }
    Ok((file, meta.len()))
}

/// Reads the function file at `path` whole: a regular file of at most [`MAX_FUNCTION_FILE`]
/// bytes, refused at once otherwise, naming the path.
pub fn read_function_file(path: &Path) -> Result<Vec<u8>, FunctionFileError> {
    let (file, len) = open_function_file(path)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_FUNCTION_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FunctionFileError::new(path, FunctionFileErrorKind::Io(e)))?;
    if bytes.len() as u64 > MAX_FUNCTION_FILE {
        return Err(FunctionFileError::new(
            path,
            FunctionFileErrorKind::TooLarge {
                size: bytes.len() as u64,
                max: MAX_FUNCTION_FILE,
            },
        ));
    }
    Ok(bytes)
}

/// Reads the function file at `path` as [`read_function_file`] does, with its SHA-256,
/// refusing it unless that is `expected` (when given): the bytes given back are the bytes
/// hashed, so what is then compiled or loaded is what was checked.
pub fn read_verified(
    path: &Path,
    expected: Option<&str>,
) -> Result<(Vec<u8>, String), FunctionFileError> {
    let bytes = read_function_file(path)?;
    let found = crate::sha256_hex(&bytes);
    if let Some(expected) = expected.filter(|e| *e != found) {
        return Err(FunctionFileError::new(
            path,
            FunctionFileErrorKind::Changed {
                expected: expected.to_string(),
                found,
            },
        ));
    }
    Ok((bytes, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_function_file(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        #[cfg(unix)]
        {
            let err = read_function_file(Path::new("/dev/zero")).unwrap_err();
            assert!(err.to_string().contains("a character device"), "{err}");
        }
        let file = dir.path().join("f.wasm");
        std::fs::write(&file, b"\0asm").unwrap();
        assert_eq!(read_function_file(&file).unwrap(), b"\0asm");
        let err = read_function_file(&dir.path().join("none")).unwrap_err();
        assert!(err.to_string().contains("none: could not read"), "{err}");
    }
}
