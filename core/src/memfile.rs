//! Anonymous memory files: bytes kept where no other process can rewrite them, with a path
//! (`/proc/self/fd/N`) that a loader taking paths can open.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;

/// An anonymous memory file (Linux's `memfd_create`) holding `bytes`, named `name` in
/// `/proc/self/fd` listings, with the path that opens it; `None` where one cannot be made (no
/// such system call, before Linux 3.17, or another system), for the caller to fall back on a
/// private file. The file must be kept open while the path is used.
pub fn holding(name: &std::ffi::CStr, bytes: &[u8]) -> Option<(File, PathBuf)> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::{AsRawFd as _, FromRawFd as _};
        // The system call, not glibc's wrapper (glibc 2.27), so the binary runs on older glibc.
        // SAFETY: the name is a NUL-terminated string; the flags are valid.
        let fd = unsafe { libc::syscall(libc::SYS_memfd_create, name.as_ptr(), libc::MFD_CLOEXEC) };
        let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
        // SAFETY: `fd` was just returned by memfd_create and is owned by nobody else.
        let mut file = unsafe { File::from_raw_fd(fd) };
        file.write_all(bytes).ok()?;
        let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        path.exists().then_some((file, path))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (name, bytes);
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_memory_file_reads_back_through_its_path() {
        let Some((_file, path)) = super::holding(c"xyz-test", b"some bytes") else {
            return;
        };
        assert_eq!(std::fs::read(&path).unwrap(), b"some bytes");
    }
}
