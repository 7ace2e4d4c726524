//! Crops: a sweep written to disk, to be grown in batches by any process on any machine that
//! sees the directory, resumed after anything, and reaped into the dataset [`Runner::run`]
//! gives for the same space.
//!
//! A crop lives in `PARENT/.xyz-NAME/`:
//!
//! ```text
//! manifest.toml     what the crop is: function, plan, space, limits (see below)
//! function.wasm     the function, as sown (its SHA-256 is in the manifest; a native library
//!                   is function.so)
//! results/          a file per grown batch, named by what status needs, or a pack of the
//!                   results of many batches grown by one process (see below)
//! cache/            the compiled module, one entry per engine fingerprint
//! claims/           batches claimed by workers (see `Crop::work`)
//! committed/        a hard link to each result a worker committed
//! jobs/             scheduler scripts, batch lists, logs and job ids (`xyz submit`)
//! rounds/           an adaptive study's rounds of points (see the `rounds` module)
//! ```
//!
//! The manifest fixes the space and the [batch plan](Plan); the results are
//! described in the `result` module, and packs of them in the `pack` module: each is written
//! under a temporary name, synced and renamed into place, and carries the manifest's identity
//! and a checksum per batch, so a half-written, damaged or stale result is never reaped.
//! Growing the same batch twice is harmless.
//!
//! [`Runner::run`]: crate::Runner::run

mod check;
pub(crate) mod claims;
mod dir;
mod error;
mod grow;
mod grower;
mod jobs;
mod manifest;
mod pack;
pub mod plan;
mod publish;
mod reap;
pub(crate) mod result;
mod rounds;
mod select;
mod sow;
mod status;
mod stop;
mod worker;

pub use check::CheckReport;
pub use claims::ClaimInfo;
pub use dir::{CropDir, JOBS, SUBSET_FILE};
pub use error::CropError;
use error::io_err;
pub use grow::{Grow, GrowReport};
pub use grower::{Grower, GrowerId, GrowerInfo};
pub use jobs::JobRecord;
use publish::{publish, publish_linked};
pub use reap::Reaped;
pub use rounds::{Finish, StudyStatus};
pub use select::{BatchSelection, SelectionError};
use sow::check_name;
pub use sow::{Sowing, Sown};
pub use status::{RECENT_FAILURES, RECENT_MS, Status};
pub use stop::StopToken;
pub use worker::{StopReason, WorkReport, WorkerOptions};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use xyz_abi::Signature;

use crate::dataset::{CellState, Dataset, Store, Window};
use crate::executor::Executor;
use crate::function::Function;
use crate::runner::{BatchRunError, CaseFailure, RunError, Runner};
use crate::space::{BoundSpace, ParamSpace, SpaceError};
use crate::spec::Limits;

use self::manifest::Manifest;
pub use self::plan::{Plan, PlanError};
pub use self::result::BadResult;
use self::result::NameInfo;

/// The name of the function's copy in a crop: `function.` and the extension of the original
/// (`wasm`, `so`, …), so the file says what it is.
pub fn function_file(original: &Path) -> String {
    let ext = original
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into());
    format!("function.{ext}")
}
/// Crop directories are named `.xyz-NAME`.
pub const DIR_PREFIX: &str = ".xyz-";

/// What tells one manifest file from another: see [`manifest_file_id`].
type ManifestFileId = (u64, u64, i128);

/// Which manifest file is at `path` (device, inode, change time in nanoseconds), if one is.
///
/// The change time is part of it because a file system may give a new manifest the inode of
/// the one removed just before it.
fn manifest_file_id(path: &Path) -> Option<ManifestFileId> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).ok().map(|m| {
            let ctime = i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec());
            (m.dev(), m.ino(), ctime)
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// A crop on disk, opened.
#[derive(Debug)]
pub struct Crop {
    dir: PathBuf,
    manifest: Manifest,
    plan: Plan,
    space: BoundSpace,
    /// The coordinates of the outputs' extra dims, checked against the signature.
    extra_coords: Vec<crate::space::SweptDim>,
    /// The manifest file as opened: sow writes a new manifest under a new name and renames it
    /// into place, so another file there means the crop was sown again.
    manifest_file: Option<ManifestFileId>,
    /// The keys whose results count: this user's (which seals what this process grows), and
    /// those given with [`Crop::trust`].
    trust: crate::keys::Trust,
    /// An adaptive study's rounds, if the crop is one.
    rounds: Option<Box<rounds::Rounds>>,
}

/// What the results directory holds, from names alone.
#[derive(Debug, Clone, Default)]
struct Listing {
    /// The results, sorted by batch id (a batch grown twice has several).
    results: Vec<NameInfo>,
    /// Files that are neither results nor temporaries, or results of ids outside the plan.
    strays: Vec<PathBuf>,
    /// Temporary files of writers that are still writing, or died.
    temps: Vec<PathBuf>,
    /// Packs whose index cannot be read, and result files and packs sealed by keys not
    /// trusted here, and why: none of their batches count as grown.
    bad_files: Vec<(PathBuf, BadResult)>,
}

impl Listing {
    /// The results of batch `id`.
    fn of(&self, id: u64) -> &[NameInfo] {
        let from = self.results.partition_point(|r| r.batch < id);
        let to = self.results.partition_point(|r| r.batch <= id);
        &self.results[from..to]
    }

    /// One result per grown batch, in id order.
    fn grown(&self) -> impl Iterator<Item = &NameInfo> {
        let mut last = 0;
        self.results.iter().filter(move |r| {
            let new = r.batch != last;
            last = r.batch;
            new
        })
    }

    /// The temporaries whose writer was a process of this machine that is no longer running.
    fn dead_temps(&self) -> impl Iterator<Item = &PathBuf> {
        let mine = format!("{}{}-", result::TMP_PREFIX, crate::shared_fs::host_name());
        self.temps.iter().filter(move |path| {
            path.file_name()
                .and_then(|f| f.to_str())
                .and_then(|n| n.strip_prefix(&mine))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !crate::shared_fs::pid_alive(pid))
        })
    }
}

impl Crop {
    /// Fails with [`CropError::Resown`] if the crop's manifest is no longer the one this crop
    /// was opened with (it was sown again, or removed): one `stat`.
    pub fn check_still_sown(&self) -> Result<(), CropError> {
        let now = manifest_file_id(&self.paths().manifest());
        if self.manifest_file.is_some() && now != self.manifest_file {
            return Err(CropError::Resown {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Opens the crop in `dir` (a `.xyz-NAME` directory).
    pub fn open(dir: &Path) -> Result<Crop, CropError> {
        let path = CropDir::new(dir).manifest();
        let manifest_file = manifest_file_id(&path);
        let text =
            crate::shared_fs::read_regular_to_string(&path, u64::MAX).map_err(io_err(&path))?;
        let bad = |message: String| CropError::Manifest {
            path: path.clone(),
            message,
        };
        let mut manifest = Manifest::parse(&text).map_err(bad)?;
        check_own_dirs(dir)?;
        let (space, plan, rounds) = match &manifest.adaptive {
            Some(adaptive) => {
                let (space, plan, rounds) = rounds::open(dir, &manifest, adaptive)?;
                manifest.space = ParamSpace::new();
                (space, plan, Some(Box::new(rounds)))
            }
            None => {
                let (space, plan) = Self::open_space(dir, &mut manifest)?;
                (space, plan, None)
            }
        };
        let layout = Dataset::sweep(&space, &manifest.signature, None, &[], &manifest.coords)
            .map_err(|e| bad(format!("`coords`: {e}")))?;
        Ok(Crop {
            dir: dir.to_path_buf(),
            manifest,
            plan,
            space,
            extra_coords: layout.extra_coords,
            manifest_file,
            trust: crate::keys::Trust::own(),
            rounds,
        })
    }

    /// The space and plan of the crop in `dir` whose manifest is `manifest` (not an adaptive
    /// study's), checked against what the manifest says of them.
    fn open_space(dir: &Path, manifest: &mut Manifest) -> Result<(BoundSpace, Plan), CropError> {
        let bad = |message: String| CropError::Manifest {
            path: CropDir::new(dir).manifest(),
            message,
        };
        // The space as declared is bound once and not kept: a long combo's values are held
        // as one column, not as a list of values beside it.
        let space = std::mem::take(&mut manifest.space)
            .bind(&manifest.signature)
            .map_err(|e| bad(e.to_string()))?;
        let plan = match &manifest.subset_sha256 {
            None => Plan::new(
                space.len(),
                manifest.batchsize,
                manifest.num_batches,
                manifest.shuffle,
            ),
            Some(sha) => {
                let cases = read_subset(dir, sha, space.len())?;
                Plan::of_cases(
                    cases,
                    manifest.batchsize,
                    manifest.num_batches,
                    manifest.shuffle,
                )
            }
        }
        .map_err(|e| bad(e.to_string()))?;
        if plan.cases() != manifest.cases || plan.batches() != manifest.batches {
            return Err(bad(format!(
                "its plan says {} cases in {} batches, but its space and batch settings make \
                 {} in {}",
                manifest.cases,
                manifest.batches,
                plan.cases(),
                plan.batches()
            )));
        }
        Ok((space, plan))
    }

    /// Accepts the results sealed by `key` too (a colleague's, given as `--trust-key`), beside
    /// this user's own.
    pub fn trust(&mut self, key: crate::keys::ResultKey) {
        self.trust = std::mem::take(&mut self.trust).with(key);
    }

    /// The key that seals the results this process grows.
    pub(crate) fn sealer(&self) -> Result<&crate::keys::ResultKey, CropError> {
        Ok(self.trust.sealer()?)
    }

    /// Finds crop `name`: in `parent` if given; else in the current directory, or the current
    /// directory itself if it is the crop's. `name` may also be the path of a crop directory.
    pub fn locate(name: &str, parent: Option<&Path>) -> Result<Crop, CropError> {
        let as_path = Path::new(name);
        if parent.is_none() && CropDir::new(as_path).manifest().is_file() {
            return Crop::open(as_path);
        }
        let name = name.strip_prefix(DIR_PREFIX).unwrap_or(name);
        check_name(name)?;
        let parent = match parent {
            Some(p) => p.to_path_buf(),
            None => {
                let cwd = std::env::current_dir().map_err(io_err(Path::new(".")))?;
                let inside = cwd
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy() == format!("{DIR_PREFIX}{name}"));
                if inside && CropDir::new(&cwd).manifest().is_file() {
                    return Crop::open(&cwd);
                }
                PathBuf::from(".")
            }
        };
        let dir = Crop::dir_of(&parent, name);
        if !CropDir::new(&dir).manifest().is_file() {
            let others = Crop::list(&parent).unwrap_or_default();
            let hint = if others.is_empty() {
                format!(" (there are no crops in {})", parent.display())
            } else {
                let names: Vec<String> = others
                    .iter()
                    .filter_map(|d| d.file_name())
                    .map(|f| f.to_string_lossy()[DIR_PREFIX.len()..].to_string())
                    .collect();
                format!(" (crops here: {})", names.join(", "))
            };
            return Err(CropError::NotFound {
                name: name.to_string(),
                looked: dir,
                hint,
            });
        }
        Crop::open(&dir)
    }

    /// The crop directories under `parent`, sorted.
    pub fn list(parent: &Path) -> Result<Vec<PathBuf>, CropError> {
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir(parent).map_err(io_err(parent))? {
            let entry = entry.map_err(io_err(parent))?;
            let is_crop = entry.file_name().to_string_lossy().starts_with(DIR_PREFIX)
                && CropDir::new(&entry.path()).manifest().is_file();
            if is_crop {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        Ok(dirs)
    }

    /// The crop's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where each part of the crop is.
    pub fn paths(&self) -> CropDir<'_> {
        CropDir::new(&self.dir)
    }

    /// The crop's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The function's copy in the crop.
    pub fn function_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.function_file)
    }

    /// The function's SHA-256.
    pub fn sha256(&self) -> &str {
        &self.manifest.sha256
    }

    /// The function's signature.
    pub fn signature(&self) -> &Signature {
        &self.manifest.signature
    }

    /// The sandbox limits sown with the crop.
    pub fn limits(&self) -> &Limits {
        &self.manifest.limits
    }

    /// Where reap writes by default, if the spec said.
    pub fn output(&self) -> Option<&Path> {
        self.manifest.output.as_deref()
    }

    /// The batch plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The bound space.
    pub fn space(&self) -> &BoundSpace {
        &self.space
    }

    fn results_dir(&self) -> PathBuf {
        self.paths().results()
    }

    fn listing(&self) -> Result<Listing, CropError> {
        let dir = self.results_dir();
        let mut listing = Listing::default();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name();
            let parsed = name.to_str().and_then(NameInfo::parse);
            match parsed {
                Some(info) if (1..=self.plan.batches()).contains(&info.batch) => {
                    // What its name says counts only if a trusted key sealed it; other faults
                    // of its header are found, and said, when it is read.
                    let path = entry.path();
                    let identity = &self.manifest.identity;
                    match result::check_header(&path, identity, &self.trust) {
                        Err(bad @ BadResult::Untrusted { .. }) => {
                            listing.bad_files.push((path, bad));
                        }
                        _ => listing.results.push(info),
                    }
                }
                _ if name.to_str().and_then(pack::parse_name).is_some() => {
                    let name = name.to_str().unwrap_or_default();
                    let identity = &self.manifest.identity;
                    let batches = self.plan.batches();
                    match pack::read_index(&dir, name, identity, &self.trust, batches) {
                        Ok(infos) => listing.results.extend(infos),
                        Err(bad) => listing.bad_files.push((entry.path(), bad)),
                    }
                }
                _ if name
                    .as_encoded_bytes()
                    .starts_with(result::TMP_PREFIX.as_bytes()) =>
                {
                    listing.temps.push(entry.path());
                }
                _ => listing.strays.push(entry.path()),
            }
        }
        listing
            .results
            .sort_unstable_by_key(|r| (r.batch, std::cmp::Reverse(r.end_ms)));
        Ok(listing)
    }

    /// The ids of batches with no result, in order.
    pub fn missing(&self) -> Result<Vec<u64>, CropError> {
        let listing = self.listing()?;
        let mut grown = listing.grown().map(|r| r.batch).peekable();
        Ok((1..=self.plan.batches())
            .filter(|id| {
                if grown.peek() == Some(id) {
                    grown.next();
                    false
                } else {
                    true
                }
            })
            .collect())
    }

    /// Removes the crop directory and everything in it.
    pub fn remove(self) -> Result<(), CropError> {
        std::fs::remove_dir_all(&self.dir).map_err(io_err(&self.dir))
    }

    /// The dataset the crop's results merge into unless told otherwise: the one it was sown
    /// to complete (`xyz sow --into`).
    pub fn merges_into(&self) -> Option<&Path> {
        self.manifest.into.as_deref()
    }

    /// Renames the crop aside, at once, so that it is gone by its name (a new crop of that
    /// name may be sown) while its files are removed by [`Retired::remove`], which may take
    /// long on a shared filesystem. Crops of this name retired by processes of this host that
    /// died before removing them are removed here.
    ///
    /// [`Retirement::Gone`] when another process retired the crop first (two reaps of it at
    /// once: both wrote the same dataset, and it is gone as each asked), and
    /// [`Retirement::Resown`] when a new crop was sown in its place meanwhile, which is left.
    pub fn retire(self) -> Result<Retirement, CropError> {
        if self.check_still_sown().is_err() {
            return Ok(if self.paths().manifest().exists() {
                Retirement::Resown
            } else {
                Retirement::Gone
            });
        }
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        let name = self.manifest.name.clone();
        let prefix = format!("{RETIRED_PREFIX}{name}~{}-", crate::shared_fs::host_name());
        let aside = parent.join(format!("{prefix}{}", std::process::id()));
        match std::fs::rename(&self.dir, &aside) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Retirement::Gone),
            result => result.map_err(io_err(&self.dir))?,
        }
        if let Ok(entries) = std::fs::read_dir(parent) {
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let dead = file
                    .strip_prefix(&prefix)
                    .and_then(|pid| pid.parse::<u32>().ok())
                    .is_some_and(|pid| !crate::shared_fs::pid_alive(pid));
                if dead {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(Retirement::Retired(Retired { dir: aside }))
    }
}

/// What [`Crop::retire`] did.
#[derive(Debug)]
pub enum Retirement {
    /// The crop is renamed aside, its files to be removed.
    Retired(Retired),
    /// Another process retired it first.
    Gone,
    /// A new crop of its name was sown meanwhile, and is left as it is.
    Resown,
}

/// Reads the list of cases sown from the crop in `dir`, checked against the SHA-256 its
/// manifest gives and the space's `n` cases.
fn read_subset(dir: &Path, sha: &str, n: u64) -> Result<Vec<u64>, CropError> {
    let path = CropDir::new(dir).subset();
    let bytes = crate::shared_fs::read_regular(&path, n.saturating_mul(8).saturating_add(8))
        .map_err(io_err(&path))?;
    let bad = |message: &str| CropError::Manifest {
        path: path.clone(),
        message: message.into(),
    };
    if crate::sha256_hex(&bytes) != sha {
        return Err(bad(
            "does not match the SHA-256 the manifest gives: it was changed after sow; sow again",
        ));
    }
    if bytes.len() % 8 != 0 {
        return Err(bad("is not a list of 8-byte case numbers"));
    }
    let cases: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    if !cases.windows(2).all(|w| w[0] < w[1]) || cases.last().is_some_and(|c| *c >= n) {
        return Err(bad("does not list cases of the space in ascending order"));
    }
    Ok(cases)
}

/// Refuses a crop whose working directories (`results/`, claims, commits, growers, jobs,
/// the module cache) are anything but directories of its own: a symbolic link there would
/// have growers write, and reapers read, wherever it points.
fn check_own_dirs(dir: &Path) -> Result<(), CropError> {
    for path in CropDir::new(dir).working_dirs() {
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() {
            let what = if meta.file_type().is_symlink() {
                match std::fs::read_link(&path) {
                    Ok(to) => format!("a symbolic link to {}", to.display()),
                    Err(_) => "a symbolic link".to_string(),
                }
            } else {
                crate::shared_fs::describe(meta.file_type()).to_string()
            };
            return Err(CropError::Io {
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "is {what}, not a directory of the crop's own: nothing is read or \
                         written through it (remove it, and the crop makes its own)"
                    ),
                ),
            });
        }
    }
    Ok(())
}

/// The name of a crop directory renamed aside to be removed starts with this, then the
/// crop's name, `~`, and the host and pid of the process removing it.
pub const RETIRED_PREFIX: &str = ".xyz~reaped-";

/// A crop renamed aside by [`Crop::retire`], its files not yet removed.
#[derive(Debug)]
pub struct Retired {
    dir: PathBuf,
}

impl Retired {
    /// Where the crop now is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the crop's files.
    pub fn remove(self) -> Result<(), CropError> {
        match std::fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(&self.dir)(e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::combo::ComboValues;
    use crate::executor::{RayonPool, Sequential};
    use crate::function::ClosureFunction;
    use crate::value::{Column, Value};

    const CODE: &[u8] = b"the closure below, version 1";

    fn poly() -> ClosureFunction {
        let sig = "poly(x: f64, k: i64) -> (y: f64, even: bool)"
            .parse()
            .unwrap();
        ClosureFunction::new(sig, |args| match args {
            [Value::F64(x), Value::I64(k)] if *k == 3 && *x > 0.5 => Err("k = 3 fails".into()),
            [Value::F64(x), Value::I64(k)] => {
                Ok(vec![Value::F64(x.powi(*k as i32)), Value::Bool(k % 2 == 0)])
            }
            _ => unreachable!(),
        })
        .with_sha256(crate::sha256_hex(CODE))
    }

    fn space() -> ParamSpace {
        let mut space = ParamSpace::new();
        space
            .combo(
                "k",
                ComboValues::Range {
                    start: Value::I64(0),
                    stop: Value::I64(5),
                    step: Value::I64(1),
                },
            )
            .combo(
                "x",
                ComboValues::Linspace {
                    start: 0.0,
                    stop: 1.0,
                    num: 11,
                },
            );
        space
    }

    fn sow(parent: &Path, f: &ClosureFunction, shuffle: Option<u64>, force: bool) -> Crop {
        let space = space();
        let sha = crate::sha256_hex(CODE);
        Crop::sow(
            parent,
            &Sowing {
                name: "poly",
                function: CODE,
                function_file: "function.bin",
                sha256: &sha,
                signature: f.signature(),
                space: &space,
                limits: &Limits::default(),
                attrs: &[],
                coords: &[],
                subset: None,
                into: None,
                output: None,
                batchsize: Some(4),
                num_batches: None,
                shuffle,
                force,
                adaptive: None,
            },
        )
        .unwrap()
        .0
    }

    #[test]
    fn a_grown_crop_reaps_to_what_the_runner_gives() {
        let f = poly();
        let dir = tempfile::tempdir().unwrap();
        let expected = Runner::new(&f, &Sequential)
            .run(&space().bind(f.signature()).unwrap())
            .unwrap();
        for (shuffle, force) in [(None, false), (Some(3), true)] {
            let crop = sow(dir.path(), &f, shuffle, force);
            assert_eq!(crop.plan().batches(), 14);
            let r = crop
                .grow(&f, &Sequential, &[1, 5, 14], false, None)
                .unwrap();
            assert_eq!((r.batches, r.cases), (3, 4 + 4 + 3));
            assert_eq!(crop.missing().unwrap().len(), 11);
            let missing = crop.missing().unwrap();
            crop.grow(&f, &RayonPool::new(2).unwrap(), &missing, false, None)
                .unwrap();
            let status = crop.status().unwrap();
            assert_eq!((status.grown, status.cases_grown), (14, 55));
            assert_eq!(status.failed_cases, 5);
            let reaped = crop.reap(false).unwrap();
            // Debug output compares NaNs (missing cells) too.
            assert_eq!(
                format!("{:?}", reaped.dataset.vars),
                format!("{:?}", expected.dataset.vars)
            );
            assert_eq!(reaped.dataset.cells, expected.dataset.cells);
            assert_eq!(reaped.dataset.dims, expected.dataset.dims);
            assert_eq!(reaped.dataset.attrs, expected.dataset.attrs);
            assert_eq!(reaped.failures, expected.failures);
            let Column::F64(y) = &reaped.dataset.vars[0].data else {
                panic!()
            };
            assert_eq!(y[2 * 11 + 10], 1.0);
        }
    }

    #[test]
    fn a_crop_retired_by_another_is_gone_and_one_sown_again_is_left() {
        let f = poly();
        let dir = tempfile::tempdir().unwrap();
        let crop = sow(dir.path(), &f, None, false);
        let path = crop.dir().to_path_buf();
        // Two reapers of one crop: the second finds it gone, which is what it asked for.
        let other = Crop::open(&path).unwrap();
        let Retirement::Retired(retired) = crop.retire().unwrap() else {
            panic!("the first retires it")
        };
        assert!(matches!(other.retire().unwrap(), Retirement::Gone));
        retired.remove().unwrap();
        assert!(!path.exists());
        // A reaper whose crop was sown again meanwhile leaves the new one alone.
        let crop = sow(dir.path(), &f, None, false);
        std::thread::sleep(std::time::Duration::from_millis(10));
        let again = sow(dir.path(), &f, Some(9), true);
        assert!(matches!(crop.retire().unwrap(), Retirement::Resown));
        assert!(again.paths().manifest().exists());
    }

    #[test]
    fn a_commit_in_progress_is_never_cleared_a_dead_ones_is() {
        let f = poly();
        let dir = tempfile::tempdir().unwrap();
        let crop = sow(dir.path(), &f, None, false);
        let (claims_dir, committed) = (crop.paths().claims(), crop.paths().committed());
        std::fs::create_dir_all(&claims_dir).unwrap();
        std::fs::create_dir_all(&committed).unwrap();
        // Batch 3: linked, not yet renamed into place, its claim live (a worker committing).
        // Batch 4: linked by a worker that died before the rename, no claim.
        let claim = claims::try_claim(&claims_dir, 3, std::time::Duration::from_secs(60))
            .unwrap()
            .unwrap();
        for id in [3, 4] {
            std::fs::write(claims::commit_path(&committed, id), b"").unwrap();
        }
        assert!(crop.clear_dead_commits(&claims_dir, &committed).unwrap());
        assert!(claims::commit_path(&committed, 3).exists());
        assert!(!claims::commit_path(&committed, 4).exists());
        // Once the claim is gone with no result, batch 3 grows again.
        claim.release().unwrap();
        assert!(!crop.clear_dead_commits(&claims_dir, &committed).unwrap());
        assert!(!claims::commit_path(&committed, 3).exists());
    }

    #[test]
    fn batches_grown_together_share_a_file_and_a_damaged_one_costs_itself_alone() {
        let f = poly();
        let dir = tempfile::tempdir().unwrap();
        let crop = sow(dir.path(), &f, None, false);
        let all: Vec<u64> = (1..=14).collect();
        crop.grow(&f, &RayonPool::new(2).unwrap(), &all, false, None)
            .unwrap();
        let files: Vec<PathBuf> = std::fs::read_dir(crop.results_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "one pack: {files:?}");
        assert_eq!(crop.status().unwrap().grown, 14);
        let whole = crop.reap(false).unwrap();
        // The last bytes are the last batch's payload.
        let mut bytes = std::fs::read(&files[0]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&files[0], &bytes).unwrap();
        let reaped = crop.reap(true).unwrap();
        assert_eq!(reaped.missing.len(), 1);
        let damaged = reaped.missing[0];
        assert!(
            matches!(&reaped.bad[..], [(_, BadResult::InPack { batch, .. })] if *batch == damaged),
            "{:?}",
            reaped.bad
        );
        let report = crop.check(false).unwrap();
        assert_eq!((report.good, report.bad.len(), report.left()), (13, 1, 1));
        assert!(files[0].exists(), "nothing removed without delete_bad");
        // Cleared, the good batches stay; the damaged one grows again.
        let report = crop.check(true).unwrap();
        assert_eq!(report.repacked.len(), 1);
        assert!(!files[0].exists());
        assert_eq!(crop.missing().unwrap(), vec![damaged]);
        assert_eq!(crop.check(false).unwrap().left(), 0);
        crop.grow(&f, &Sequential, &[damaged], false, None).unwrap();
        let again = crop.reap(false).unwrap();
        assert_eq!(
            format!("{:?}", again.dataset.vars),
            format!("{:?}", whole.dataset.vars)
        );
        // A pack whose index is damaged counts for none of its batches, and says why.
        let pack = report.repacked[0].1.clone().unwrap();
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[90] ^= 1;
        std::fs::write(&pack, &bytes).unwrap();
        assert_eq!(crop.missing().unwrap().len(), 13);
        let err = crop.reap(false).unwrap_err();
        assert!(
            matches!(&err, CropError::Incomplete { damaged, .. } if damaged.len() == 1),
            "{err}"
        );
        crop.check(true).unwrap();
        assert!(!pack.exists());
    }

    #[test]
    fn windows_hold_the_dataset_reap_gives() {
        let f = poly();
        let dir = tempfile::tempdir().unwrap();
        for (shuffle, force) in [(None, false), (Some(3), true)] {
            let crop = sow(dir.path(), &f, shuffle, force);
            assert_eq!(crop.reaps_in_grid_order(), shuffle.is_none());
            // Batches 2 and 9 missing, a failed case in others.
            let grow: Vec<u64> = (1..=14).filter(|id| ![2, 9].contains(id)).collect();
            crop.grow(&f, &Sequential, &grow, false, None).unwrap();
            let whole = crop.reap(true).unwrap();
            for size in [1, 3, 7, 11, 55, 100] {
                let mut joined = Window::new(&whole.dataset, 0, 0);
                let reaped = crop
                    .reap_windows(true, size, |w: &Window| {
                        assert_eq!(w.first, joined.end(), "in order, each once");
                        assert!(!w.cells.is_empty() && w.cells.len() <= size);
                        joined.cells.extend(&w.cells);
                        for (all, part) in joined.data.iter_mut().zip(&w.data) {
                            all.extend_from(part);
                        }
                        Ok::<(), CropError>(())
                    })
                    .unwrap();
                assert_eq!(joined.cells, whole.dataset.cells, "windows of {size}");
                let data: Vec<&Column> = whole.dataset.vars.iter().map(|v| &v.data).collect();
                // Debug output compares NaNs (missing cells) too.
                assert_eq!(format!("{:?}", joined.data), format!("{data:?}"));
                assert_eq!(reaped.missing, vec![2, 9]);
                assert_eq!(
                    (reaped.ok, reaped.pending, &reaped.failures),
                    (whole.ok, whole.pending, &whole.failures)
                );
            }
            let err = crop
                .reap_windows(false, 4, |_: &Window| Ok::<(), CropError>(()))
                .unwrap_err();
            assert!(
                matches!(err, CropError::Incomplete { missing: 2, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn grow_refuses_another_function_and_batches_outside_the_plan() {
        let f = poly();
        let dir = tempfile::tempdir().unwrap();
        let crop = sow(dir.path(), &f, None, false);
        let other = poly().with_sha256("00");
        let err = crop
            .grow(&other, &Sequential, &[1], false, None)
            .unwrap_err();
        assert!(err.to_string().contains("is not the crop's"), "{err}");
        let err = crop.grow(&f, &Sequential, &[15], false, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no batch 15: the crop has batches 1 to 14"
        );
        let err = crop.grow(&f, &Sequential, &[10], true, None).unwrap_err();
        let CropError::CaseFailed { batch, failure } = err else {
            panic!("{err}")
        };
        assert_eq!((batch, failure.case), (10, 3 * 11 + 6));
        assert!(
            crop.missing().unwrap().contains(&10),
            "a failed batch is not saved"
        );
    }
}
