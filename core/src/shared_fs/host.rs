//! This machine and its processes, as files on a shared filesystem name them: the host name
//! in temporary files, claims and results, whether a process of this host still runs, and
//! random tokens for names no other writer picks.

/// This machine's name, for provenance and temporary names (`/`, `_` and `.` made `-`).
pub fn host_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into())
            .replace(['/', '_', '.'], "-")
    })
    .clone()
}

/// Whether process `pid` of this machine may still run (true when that cannot be told): the
/// one rule by which claims, locks, packs and temporary files are judged abandoned.
pub fn pid_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = i32::try_from(pid) else {
            return true;
        };
        // SAFETY: signal 0 checks only that the process exists.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// 64 random bits from the operating system, for names no other writer picks.
pub fn random_token() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness to be had: the clock's nanoseconds, hashed with the process's seed.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        return h.finish();
    }
    u64::from_le_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_names_carry_no_separators() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(u32::MAX >> 1));
        let host = host_name();
        assert!(
            !host.is_empty() && !host.contains(['/', '_', '.']),
            "{host}"
        );
        assert_ne!(random_token(), random_token());
    }
}
