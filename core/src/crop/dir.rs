//! The layout of a crop's directory, in one place:
//!
//! ```text
//! .xyz-NAME/
//!   manifest.toml     the space, the plan, the function's signature and hash
//!   FUNCTION          the function's file, as sown
//!   cases.u64         the cases sown, when a subset of the space
//!   results/          sealed results and packs, written under temporary names and renamed
//!   claims/           workers' claims on batches, each with a lease
//!   committed/        one link per batch whose result is written (worker mode)
//!   growers/          one record per process that grew batches
//!   jobs/             scheduler scripts, batch lists, logs and job records
//!   cache/            compiled modules, for the nodes that grow
//!   rounds/           an adaptive study's rounds, each the points its grower chose
//! ```

use std::path::{Path, PathBuf};

/// The manifest's file name.
pub(crate) const MANIFEST: &str = "manifest.toml";
/// The directory of results and packs.
pub(crate) const RESULTS: &str = "results";
/// The directory of claims.
pub(crate) const CLAIMS: &str = "claims";
/// The directory of commit links.
pub(crate) const COMMITTED: &str = "committed";
/// The directory of grower records.
pub(crate) const GROWERS: &str = "growers";
/// The directory of a crop's scheduler jobs.
pub const JOBS: &str = "jobs";
/// The file listing the cases sown, when a crop holds a subset of its space: each a
/// little-endian u64, ascending.
pub const SUBSET_FILE: &str = "cases.u64";
/// The directory of the compiled-module cache the nodes that grow a crop share.
pub(crate) const CACHE: &str = "cache";
/// The directory of an adaptive study's rounds.
pub(crate) const ROUNDS: &str = "rounds";

/// Where each part of the crop at a directory is: the manifest, `results/`, `claims/`,
/// `committed/`, `growers/`, `jobs/`, `cache/`, `rounds/` and the list of cases sown.
#[derive(Debug, Clone, Copy)]
pub struct CropDir<'a> {
    root: &'a Path,
}

impl<'a> CropDir<'a> {
    /// The crop whose directory is `root` (`.xyz-NAME`).
    pub fn new(root: &'a Path) -> CropDir<'a> {
        CropDir { root }
    }

    /// The crop's directory.
    pub fn root(&self) -> &'a Path {
        self.root
    }

    /// `manifest.toml`.
    pub fn manifest(&self) -> PathBuf {
        self.root.join(MANIFEST)
    }

    /// `results/`.
    pub fn results(&self) -> PathBuf {
        self.root.join(RESULTS)
    }

    /// `claims/`.
    pub fn claims(&self) -> PathBuf {
        self.root.join(CLAIMS)
    }

    /// `committed/`.
    pub fn committed(&self) -> PathBuf {
        self.root.join(COMMITTED)
    }

    /// `growers/`.
    pub fn growers(&self) -> PathBuf {
        self.root.join(GROWERS)
    }

    /// `jobs/`.
    pub fn jobs(&self) -> PathBuf {
        self.root.join(JOBS)
    }

    /// `rounds/`.
    pub fn rounds(&self) -> PathBuf {
        self.root.join(ROUNDS)
    }

    /// `cases.u64`.
    pub fn subset(&self) -> PathBuf {
        self.root.join(SUBSET_FILE)
    }

    /// The directories growers and reapers write and read, which must be directories of the
    /// crop's own (never links to elsewhere).
    pub fn working_dirs(&self) -> [PathBuf; 7] {
        [RESULTS, CLAIMS, COMMITTED, GROWERS, JOBS, CACHE, ROUNDS].map(|d| self.root.join(d))
    }

    /// The directories a new sowing replaces.
    pub(crate) fn grown_dirs(&self) -> [(&'static str, PathBuf); 4] {
        [RESULTS, CLAIMS, COMMITTED, ROUNDS].map(|d| (d, self.root.join(d)))
    }
}
