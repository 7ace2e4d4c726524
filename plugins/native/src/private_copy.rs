//! Loading a library from bytes already in memory, so that what runs is what was hashed.
//!
//! `dlopen` takes a path, and a path can be rewritten by anyone who may write its directory
//! between a check and the load. So the checked bytes are written to a copy nobody else can
//! reach, and that copy is loaded: on Linux an anonymous memory file (`memfd_create`), opened
//! through `/proc/self/fd`; elsewhere, or where that is not available, a file in a fresh
//! directory of mode `0700` under the temporary directory, removed once loaded.

use std::io::{self, Write};
use std::path::PathBuf;

/// Why a private copy could not be loaded.
pub(crate) enum Error {
    /// The copy could not be made.
    Copy(io::Error),
    /// The dynamic loader refused the copy.
    Open(libloading::Error),
}

/// Loads the library whose file contents are `bytes`.
pub(crate) fn load(bytes: &[u8]) -> Result<libloading::Library, Error> {
    #[cfg(target_os = "linux")]
    if let Some(memfd) = memfd(bytes) {
        let path = PathBuf::from(format!("/proc/self/fd/{}", fd_of(&memfd)));
        if path.exists() {
            // SAFETY: loading runs the library's initialisers; the caller checked its bytes
            // (and trusts them), and these are those bytes.
            return unsafe { libloading::Library::new(&path) }.map_err(Error::Open);
        }
    }
    in_private_dir(bytes)
}

#[cfg(target_os = "linux")]
fn fd_of(file: &std::fs::File) -> i32 {
    std::os::fd::AsRawFd::as_raw_fd(file)
}

/// An anonymous memory file holding `bytes`, or `None` if one cannot be made.
#[cfg(target_os = "linux")]
fn memfd(bytes: &[u8]) -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    // The system call, not glibc's wrapper (glibc 2.27), so the binary runs on older glibc;
    // a kernel without it (before 3.17) says ENOSYS, and the private directory serves.
    // SAFETY: the name is a NUL-terminated string; the flags are valid.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_memfd_create,
            c"xyz-function".as_ptr(),
            libc::MFD_CLOEXEC,
        )
    };
    let Ok(fd) = i32::try_from(fd) else {
        return None;
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by memfd_create and is owned by nobody else.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.write_all(bytes).ok()?;
    Some(file)
}

/// Loads a copy of `bytes` written in a directory only this user may enter, then removes it.
fn in_private_dir(bytes: &[u8]) -> Result<libloading::Library, Error> {
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    let dir = std::env::temp_dir().join(format!(
        "xyz-lib-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(nonce)
    ));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    // Not recursive: an existing directory (someone else's) is an error, not reused.
    builder.create(&dir).map_err(Error::Copy)?;
    let file = dir.join(format!("function{}", std::env::consts::DLL_SUFFIX));
    let loaded = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&file)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(Error::Copy)
        // SAFETY: as in `load`.
        .and_then(|()| unsafe { libloading::Library::new(&file) }.map_err(Error::Open));
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir(&dir);
    loaded
}
