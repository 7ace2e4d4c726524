//! Loading a library from bytes already in memory, so that what runs is what was hashed.
//!
//! `dlopen` takes a path, and a path can be rewritten by anyone who may write its directory
//! between a check and the load. So the checked bytes are written to a copy nobody else can
//! reach, and that copy is loaded: on Linux an anonymous memory file (`memfd_create`), opened
//! through `/proc/self/fd`; elsewhere, or where that is not available, a file in a fresh
//! directory of mode `0700` under the temporary directory, removed once loaded.

use std::io::{self, Write};

/// Why a private copy could not be loaded.
pub(crate) enum Error {
    /// The copy could not be made.
    Copy(io::Error),
    /// The dynamic loader refused the copy.
    Open(libloading::Error),
}

/// Loads the library whose file contents are `bytes`.
pub(crate) fn load(bytes: &[u8]) -> Result<libloading::Library, Error> {
    if let Some((_file, path)) = xyz_core::memfile::holding(c"xyz-function", bytes) {
        // SAFETY: loading runs the library's initialisers; the caller checked its bytes (and
        // trusts them), and these are those bytes.
        return unsafe { libloading::Library::new(&path) }.map_err(Error::Open);
    }
    in_private_dir(bytes)
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
