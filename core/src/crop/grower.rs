//! Who grew what: each process that grows a crop records itself once, in
//! `growers/ID.toml` (its host, architecture, system, pid and xyz version), and names its
//! results with its ID (`…_gID.xyzr`), so `status` tells which host and architecture grew which
//! batches from the results' names and one small file per grower.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

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
    pub id: Option<GrowerId>,
    /// What it recorded of itself, if its record could be read.
    pub grower: Option<Grower>,
    /// Batches grown.
    pub batches: u64,
    /// Cases in them.
    pub cases: u64,
}

/// A grower's ID: 1 to 16 hex digits, as the names of its results and packs carry it (and so
/// a file name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct GrowerId(String);

impl GrowerId {
    /// This process's ID: 16 hex digits, random, the same for the process's life.
    pub fn this_process() -> &'static GrowerId {
        static ID: OnceLock<GrowerId> = OnceLock::new();
        ID.get_or_init(|| GrowerId(format!("{:016x}", crate::shared_fs::random_token())))
    }

    /// `s` as a grower ID, if it is one.
    pub fn parse(s: &str) -> Option<GrowerId> {
        let valid = (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| GrowerId(s.to_string()))
    }

    /// The ID's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for GrowerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Records this process as a grower of the crop in `crop_dir`, once per process and crop.
pub(crate) fn record(crop_dir: &Path) -> std::io::Result<()> {
    static DONE: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    let done = done.get_or_insert_with(HashSet::new);
    if done.contains(crop_dir) {
        return Ok(());
    }
    let dir = super::CropDir::new(crop_dir).growers();
    std::fs::create_dir_all(&dir)?;
    let me = Grower {
        host: crate::shared_fs::host_name(),
        arch: std::env::consts::ARCH.to_string(),
        os: std::env::consts::OS.to_string(),
        pid: std::process::id(),
        xyz: env!("CARGO_PKG_VERSION").to_string(),
    };
    let text = toml::to_string(&me).map_err(std::io::Error::other)?;
    let id = GrowerId::this_process();
    let dest = dir.join(format!("{id}.toml"));
    let tmp = dir.join(format!(".{id}.toml.tmp"));
    super::publish(&tmp, &dest, &[text.as_bytes()])?;
    done.insert(crop_dir.to_path_buf());
    Ok(())
}

/// The record of grower `id` in `crop_dir`, if it can be read.
pub(crate) fn read(crop_dir: &Path, id: &GrowerId) -> Option<Grower> {
    let path = super::CropDir::new(crop_dir)
        .growers()
        .join(format!("{id}.toml"));
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
        let id = GrowerId::this_process();
        let back = read(dir.path(), id).unwrap();
        assert_eq!(back.arch, std::env::consts::ARCH);
        assert_eq!(back.pid, std::process::id());
        assert_eq!(GrowerId::parse(id.as_str()).as_ref(), Some(id));
        assert_eq!(id.as_str().len(), 16);
        // Recorded once: a removed record is not written again by this process.
        std::fs::remove_file(
            super::super::CropDir::new(dir.path())
                .growers()
                .join(format!("{id}.toml")),
        )
        .unwrap();
        record(dir.path()).unwrap();
        assert_eq!(read(dir.path(), id), None);
        for bad in ["", "../x", "zz", "0123456789abcdef0"] {
            assert_eq!(GrowerId::parse(bad), None, "{bad}");
        }
    }
}
