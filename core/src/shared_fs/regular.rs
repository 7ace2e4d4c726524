//! Opening a file that may be anything: a FIFO opened for reading blocks until a writer comes,
//! and reading a device may never end, so every file xyz reads from a place others can write
//! (a crop, a dataset, a spec, a key) is opened without blocking and checked, on the open
//! file, to be a regular file before a byte is read.

use std::fs::{File, FileType};
use std::io::{self, Read as _};
use std::path::Path;

/// What `ty` is, in words: "a FIFO", "a directory", ...
pub fn describe(ty: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "a FIFO";
        }
        if ty.is_char_device() {
            return "a character device";
        }
        if ty.is_block_device() {
            return "a block device";
        }
        if ty.is_socket() {
            return "a socket";
        }
    }
    if ty.is_dir() {
        "a directory"
    } else if ty.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file (following symbolic links), without
/// blocking on a FIFO or a device: anything else is refused with an error of kind
/// [`io::ErrorKind::InvalidInput`] that says what it is. The file is read as usual after.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let ty = file.metadata()?.file_type();
    if !ty.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {}, not a regular file", describe(ty)),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;
        // A regular file does not block either way; reads are made plain again all the same.
        // SAFETY: fcntl on a descriptor this function owns, with integer arguments only.
        unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    Ok(file)
}

/// The bytes of the regular file `path` (see [`open_regular`]), reading at most `max` bytes:
/// a longer file is refused with an error of kind [`io::ErrorKind::InvalidData`].
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > max {
        return Err(too_long(path, max));
    }
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size as usize)
        .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, e))?;
    // The file may grow while it is read: what is past `max` is not read.
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_long(path, max));
    }
    Ok(bytes)
}

/// The text of the regular file `path`, as [`read_regular`] reads it, which must be UTF-8.
pub fn read_regular_to_string(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, max)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

fn too_long(path: &Path, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is longer than the {max} bytes xyz reads of it",
            path.display()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fifo(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("fifo");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        path
    }

    #[test]
    fn a_fifo_a_directory_and_a_device_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = fifo(dir.path());
        for (path, what) in [
            (fifo.as_path(), "a FIFO"),
            (dir.path(), "a directory"),
            (Path::new("/dev/zero"), "a character device"),
        ] {
            let err = read_regular(path, 1 << 20).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(what), "{err}");
        }
    }

    #[test]
    fn regular_files_are_read_up_to_a_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "four").unwrap();
        assert_eq!(read_regular_to_string(&path, 4).unwrap(), "four");
        assert_eq!(read_regular(&path, u64::MAX).unwrap(), b"four");
        let err = read_regular(&path, 3).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Through a symbolic link, the file it names.
        std::os::unix::fs::symlink(&path, dir.path().join("l")).unwrap();
        assert_eq!(read_regular(&dir.path().join("l"), 9).unwrap(), b"four");
    }
}
