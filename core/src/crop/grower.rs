//! Who grew what: each process that grows a crop records itself once, in
//! `growers/ID.toml` (its host, architecture, system, pid and xyz version), and names its
//! results with its ID (`…_gID.xyzr`), so `status` tells which host and architecture grew which
//! batches from the results' names and one small file per grower.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The directory of a crop's grower records.
pub(crate) const DIR: &str = "growers";

/// What a grower recorded of itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Grower {
    /// Its host.
    pub host: String,
    /// Its CPU architecture, as Rust names it (`x86_64`, `aarch64`).
    pub arch: String,
    /// Its operating system (`linux`).
    pub os: String,
    /// Its process id.
    pub pid: u32,
    /// The xyz version it ran.
    pub xyz: String,
}

/// What one grower grew of a crop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GrowerInfo {
    /// Its ID, as result names carry it; `None` for results that name no grower.
    pub id: Option<String>,
    /// What it recorded of itself, if its record could be read.
    pub grower: Option<Grower>,
    /// Batches grown.
    pub batches: u64,
    /// Cases in them.
    pub cases: u64,
}

/// This process's grower ID: 16 hex digits, random.
pub(crate) fn id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("{:016x}", crate::shared_fs::random_token()))
}

/// Whether `s` can be a grower ID (and so a file name).
pub(crate) fn is_id(s: &str) -> bool {
    (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Records this process as a grower of the crop in `crop_dir`, once per process and crop.
pub(crate) fn record(crop_dir: &Path) -> std::io::Result<()> {
    static DONE: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    let done = done.get_or_insert_with(HashSet::new);
    if done.contains(crop_dir) {
        return Ok(());
    }
    let dir = crop_dir.join(DIR);
    std::fs::create_dir_all(&dir)?;
    let me = Grower {
        host: crate::shared_fs::host_name(),
        arch: std::env::consts::ARCH.to_string(),
        os: std::env::consts::OS.to_string(),
        pid: std::process::id(),
        xyz: env!("CARGO_PKG_VERSION").to_string(),
    };
    let text = toml::to_string(&me).map_err(std::io::Error::other)?;
    let dest = dir.join(format!("{}.toml", id()));
    let tmp = dir.join(format!(".{}.toml.tmp", id()));
    super::publish(&tmp, &dest, &[text.as_bytes()])?;
    done.insert(crop_dir.to_path_buf());
    Ok(())
}

/// The record of grower `id` in `crop_dir`, if it can be read.
pub(crate) fn read(crop_dir: &Path, id: &str) -> Option<Grower> {
    if !is_id(id) {
        return None;
    }
    let path = crop_dir.join(DIR).join(format!("{id}.toml"));
    // A record is a few lines; anything larger is not one.
    toml::from_str(&crate::shared_fs::read_regular_to_string(&path, 4096).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grower_records_itself_once_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        record(dir.path()).unwrap();
        let back = read(dir.path(), id()).unwrap();
        assert_eq!(back.arch, std::env::consts::ARCH);
        assert_eq!(back.pid, std::process::id());
        assert!(is_id(id()) && id().len() == 16);
        // Recorded once: a removed record is not written again by this process.
        std::fs::remove_file(dir.path().join(DIR).join(format!("{}.toml", id()))).unwrap();
        record(dir.path()).unwrap();
        assert_eq!(read(dir.path(), id()), None);
        for bad in ["", "../x", "zz", "0123456789abcdef0"] {
            assert!(!is_id(bad), "{bad}");
            assert_eq!(read(dir.path(), bad), None);
        }
    }
}
