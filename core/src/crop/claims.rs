//! Claims on batches, so that workers on any number of machines sharing a crop directory grow
//! each batch once.
//!
//! A worker claims batch ID by creating `claims/batch-ID` exclusively (`O_CREAT | O_EXCL`,
//! which holds on NFS v3 and later; no `flock`). The file holds the worker's host, pid, a
//! random token and its lease in milliseconds. While the worker grows the batch it renews the
//! lease by setting the file's modification time; when the result is in place it removes the
//! claim. A claim whose modification time is older than its lease has expired: another worker
//! takes it over by renaming it aside (of several workers trying, one rename succeeds) and
//! claiming afresh.
//!
//! A finished result is committed by hard-linking it to `committed/ID` before it is renamed
//! into `results/`. `link` is exclusive everywhere, NFS included, so if two workers ever finish
//! the same batch (one took over the other's expired claim), the first to link wins and the
//! other discards its copy. The link costs no space: both names are one file.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::shared_fs::{host_name, pid_alive};

const MAGIC: &str = "xyzclaim1";

/// A batch this process holds.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    path: PathBuf,
    token: String,
}

/// A claim as `xyz status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClaimInfo {
    /// The batch claimed.
    pub batch: u64,
    /// The claiming worker's host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Time since the lease was last renewed, in milliseconds.
    pub lease_age_ms: u64,
    /// The lease, in milliseconds: a claim not renewed for this long has expired.
    pub lease_ms: u64,
}

impl ClaimInfo {
    /// Whether the lease has expired, so that another worker may take the batch over.
    pub fn expired(&self) -> bool {
        self.lease_age_ms > self.lease_ms
    }
}

fn claim_path(dir: &Path, batch: u64) -> PathBuf {
    dir.join(format!("batch-{batch}"))
}

/// The path of batch `batch`'s commit link under `committed`.
pub(crate) fn commit_path(committed: &Path, batch: u64) -> PathBuf {
    committed.join(batch.to_string())
}

/// Whether batch `id` has a commit link in `committed` that stands for a result: the link and
/// the result (or the pack holding it) are one file, so it has another name. A link alone (its
/// result was deleted as bad) is stale and removed.
pub(crate) fn is_committed(committed: &Path, id: u64) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt as _;
    let link = commit_path(committed, id);
    match std::fs::metadata(&link) {
        Ok(m) if m.nlink() >= 2 => Ok(true),
        Ok(_) => match std::fs::remove_file(&link) {
            Ok(()) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

/// Reads a claim file: host, pid, token, lease (ms) and how long ago it was renewed.
fn read_claim(path: &Path) -> io::Result<(String, u32, String, u64, Duration)> {
    let mut f = crate::shared_fs::open_regular(path)?;
    let modified = f.metadata()?.modified()?;
    let mut text = String::new();
    f.read_to_string(&mut text)?;
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not a claim", path.display()),
        )
    };
    let mut words = text.split_whitespace();
    if words.next() != Some(MAGIC) {
        return Err(bad());
    }
    let host = words.next().ok_or_else(bad)?.to_string();
    let pid = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let token = words.next().ok_or_else(bad)?.to_string();
    let lease = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    // A modification time ahead of this clock (another node's) counts as just renewed.
    let age = SystemTime::now()
        .duration_since(modified)
        .unwrap_or(Duration::ZERO);
    Ok((host, pid, token, lease, age))
}

/// Tries to claim batch `batch` in `dir` for `lease`: creates the claim, or takes over one
/// whose lease expired. `None` when another worker holds it.
pub(crate) fn try_claim(dir: &Path, batch: u64, lease: Duration) -> io::Result<Option<Claim>> {
    try_take(&claim_path(dir, batch), lease)
}

/// Whether process `pid` of this host is gone (and so holds nothing).
fn dead_here(host: &str, pid: u32) -> bool {
    host == host_name() && !pid_alive(pid)
}

/// Tries to take the claim file `path` for `lease`: creates it, or takes over one whose lease
/// expired or whose holder, on this host, is dead. `None` when another process holds it.
pub(crate) fn try_take(path: &Path, lease: Duration) -> io::Result<Option<Claim>> {
    let path = path.to_path_buf();
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let token = token();
                writeln!(
                    f,
                    "{MAGIC} {} {} {token} {}",
                    host_name(),
                    std::process::id(),
                    lease.as_millis()
                )?;
                return Ok(Some(Claim { path, token }));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let expired = match read_claim(&path) {
                    Ok((host, pid, _, lease_ms, age)) => {
                        age.as_millis() > u128::from(lease_ms) || dead_here(&host, pid)
                    }
                    // Gone meanwhile: try again.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => true,
                    // Half-written by a worker that died while claiming, or not a claim.
                    Err(e) if e.kind() == io::ErrorKind::InvalidData => stale_enough(&path),
                    Err(e) => return Err(e),
                };
                if !expired {
                    return Ok(None);
                }
                // Of the workers taking it over, one rename succeeds; the others find it gone.
                let aside = dir.join(format!(".expired-{name}-{}", token()));
                match std::fs::rename(&path, &aside) {
                    Ok(()) => {
                        let _ = std::fs::remove_file(&aside);
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Whether a file that is not a readable claim is old enough to be a dead claimer's.
fn stale_enough(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(|t| t.elapsed().unwrap_or(Duration::ZERO) > Duration::from_secs(10))
        .unwrap_or(true)
}

/// Who holds the claim file `path`: host, pid and how long ago the lease was renewed, if it
/// is a readable claim.
pub(crate) fn holder(path: &Path) -> Option<(String, u32, Duration)> {
    read_claim(path)
        .ok()
        .map(|(host, pid, _, _, age)| (host, pid, age))
}

impl Claim {
    /// Renews the lease. `false` when the claim is no longer this worker's (it expired and
    /// was taken over).
    pub(crate) fn renew(&self) -> io::Result<bool> {
        match read_claim(&self.path) {
            Ok((_, _, token, ..)) if token == self.token => {
                let f = OpenOptions::new().write(true).open(&self.path)?;
                f.set_modified(SystemTime::now())?;
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes the claim, if it is still this worker's.
    pub(crate) fn release(self) -> io::Result<()> {
        match read_claim(&self.path) {
            Ok((_, _, token, ..)) if token == self.token => std::fs::remove_file(&self.path),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The claims in `dir`, by batch.
pub(crate) fn list(dir: &Path) -> io::Result<Vec<ClaimInfo>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut claims = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(batch) = name
            .to_str()
            .and_then(|n| n.strip_prefix("batch-"))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        match read_claim(&entry.path()) {
            Ok((host, pid, _, lease_ms, age)) => claims.push(ClaimInfo {
                batch,
                host,
                pid,
                lease_age_ms: age.as_millis() as u64,
                lease_ms,
            }),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::InvalidData
                ) => {}
            Err(e) => return Err(e),
        }
    }
    claims.sort_by_key(|c| c.batch);
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_exclusive_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let lease = Duration::from_millis(300);
        let a = try_claim(dir.path(), 7, lease).unwrap().expect("free");
        assert!(try_claim(dir.path(), 7, lease).unwrap().is_none(), "held");
        assert!(a.renew().unwrap());
        let listed = list(dir.path()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].batch, listed[0].pid), (7, std::process::id()));
        assert!(!listed[0].expired());

        // Not renewed for longer than the lease: another worker takes it over, and the first
        // finds it has lost it.
        std::thread::sleep(Duration::from_millis(400));
        assert!(list(dir.path()).unwrap()[0].expired());
        let b = try_claim(dir.path(), 7, lease).unwrap().expect("expired");
        assert!(!a.renew().unwrap(), "taken over");
        a.release().unwrap();
        assert!(
            dir.path().join("batch-7").exists(),
            "release leaves b's claim"
        );
        b.release().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left"
        );
    }

    #[test]
    fn a_torn_claim_is_taken_over_once_old() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("batch-3"), "xyzcl").unwrap();
        assert!(
            try_claim(dir.path(), 3, Duration::from_secs(60))
                .unwrap()
                .is_none()
        );
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join("batch-3"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(
            try_claim(dir.path(), 3, Duration::from_secs(60))
                .unwrap()
                .is_some()
        );
    }
}
