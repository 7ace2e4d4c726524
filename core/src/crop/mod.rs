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
//! results/          one file per grown batch, named by what status needs (see below)
//! cache/            the compiled module, one entry per engine fingerprint
//! claims/           batches claimed by workers (see `Crop::work`)
//! committed/        a hard link to each result a worker committed
//! jobs/             scheduler scripts, batch lists, logs and job ids (`xyz submit`)
//! ```
//!
//! The manifest fixes the space and the [batch plan](Plan); the results are
//! described in the `result` module: each is written under a temporary name, synced and
//! renamed into place, and carries the manifest's identity and a checksum, so a half-written,
//! damaged or stale result is never reaped. Growing the same batch twice is harmless.
//!
//! [`Runner::run`]: crate::Runner::run

pub(crate) mod claims;
mod jobs;
mod manifest;
pub mod plan;
pub(crate) mod result;
mod worker;

pub use claims::ClaimInfo;
pub use jobs::{JOBS, JobRecord};
pub use worker::{StopReason, WorkReport, WorkerOptions};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use xyz_abi::Signature;

use crate::dataset::{Dataset, Store, Window};
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
const RESULTS: &str = "results";
/// Crop directories are named `.xyz-NAME`.
pub const DIR_PREFIX: &str = ".xyz-";

/// Something a crop operation could not do. Each names the crop or file concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CropError {
    /// A file or directory could not be read or written.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// There is no crop by that name.
    #[error("no crop named `{name}`: {} does not exist{hint}", looked.display())]
    NotFound {
        /// The name asked for.
        name: String,
        /// Where it was looked for.
        looked: PathBuf,
        /// What to try instead.
        hint: String,
    },
    /// The name cannot name a crop.
    #[error("`{0}` cannot name a crop: use letters, digits, `-`, `_` and `.`")]
    BadName(String),
    /// The manifest could not be read.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The plan cannot be made.
    #[error("cannot plan the batches: {0}")]
    Plan(#[from] PlanError),
    /// The space does not fit the function.
    #[error(transparent)]
    Space(#[from] SpaceError),
    /// The crop exists with another function, plan or space.
    #[error(
        "{} already holds a crop with another {what}; reap or remove it, or sow with --force \
         to discard its {grown} grown batches",
        path.display()
    )]
    Changed {
        /// The crop directory.
        path: PathBuf,
        /// What differs.
        what: String,
        /// How many batches it has grown.
        grown: u64,
    },
    /// The function given to grow is not the crop's.
    #[error("the function {found} is not the crop's {expected}")]
    WrongFunction {
        /// The crop's function (signature and sha256).
        expected: String,
        /// The function given.
        found: String,
    },
    /// A batch id outside the plan.
    #[error("there is no batch {id}: the crop has batches 1 to {batches}")]
    NoSuchBatch {
        /// The id asked for.
        id: u64,
        /// How many batches there are.
        batches: u64,
    },
    /// The run failed.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A case failed and grow was told to stop at the first failure.
    #[error(
        "batch {batch}: case {} ({}) failed: {}: {} (the batch was not saved)",
        failure.case,
        failure.args.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "),
        failure.kind,
        failure.message
    )]
    CaseFailed {
        /// The batch.
        batch: u64,
        /// The failed case.
        failure: Box<CaseFailure>,
    },
    /// The crop was sown again (`sow --force`) while this process grew it: what it grew
    /// belongs to the old crop and was discarded.
    #[error(
        "{}: the crop was sown again while this process grew it; its results belong to the old \
         crop and were discarded (grow the new crop afresh)",
        dir.display()
    )]
    Resown {
        /// The crop's directory.
        dir: PathBuf,
    },
    /// Reap found batches missing.
    #[error(
        "the crop is incomplete: {missing} of {batches} batches are not grown (the first: {}){}; \
         grow them, or reap with --allow-incomplete to leave their cells missing",
        first.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
        damaged_list(damaged)
    )]
    Incomplete {
        /// Batches missing.
        missing: u64,
        /// Batches in all.
        batches: u64,
        /// The first few missing.
        first: Vec<u64>,
        /// Results that were there but could not be reaped, and why.
        damaged: Vec<(PathBuf, BadResult)>,
    },
}

fn damaged_list(damaged: &[(PathBuf, BadResult)]) -> String {
    if damaged.is_empty() {
        return String::new();
    }
    /// Results named in the message; `xyz check` lists them all.
    const SHOWN: usize = 3;
    let list: Vec<String> = damaged
        .iter()
        .take(SHOWN)
        .map(|(p, why)| format!("{} {why}", p.display()))
        .collect();
    let more = match damaged.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!("; and {n} more, which `xyz check` lists"),
    };
    format!(
        ", counting {} results that cannot be reaped ({}{more}: `xyz check --delete-bad` \
         removes them)",
        damaged.len(),
        list.join("; ")
    )
}

/// The device and inode of the manifest at `path`, if it is there.
fn manifest_file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CropError + '_ {
    move |source| CropError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `sow` needs besides the space: the function and the plan request.
#[derive(Debug, Clone)]
pub struct Sowing<'a> {
    /// The crop's name.
    pub name: &'a str,
    /// The function's module or library, as bytes.
    pub function: &'a [u8],
    /// The name of its copy in the crop (see [`function_file`]).
    pub function_file: &'a str,
    /// The function's SHA-256, lowercase hex.
    pub sha256: &'a str,
    /// The function's signature.
    pub signature: &'a Signature,
    /// The space.
    pub space: &'a ParamSpace,
    /// Sandbox limits for every grow.
    pub limits: &'a Limits,
    /// Where reap writes by default.
    pub output: Option<&'a Path>,
    /// Cases per batch.
    pub batchsize: Option<u64>,
    /// Number of batches.
    pub num_batches: Option<u64>,
    /// The seed of a shuffled case order.
    pub shuffle: Option<u64>,
    /// Replace a crop of that name that differs, discarding its results.
    pub force: bool,
}

/// What `sow` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sown {
    /// A new crop.
    New,
    /// The crop existed with the same function, plan and space; its results are kept.
    Kept,
    /// A different crop was replaced (with `force`), its results discarded.
    Replaced,
}

/// A crop on disk, opened.
#[derive(Debug)]
pub struct Crop {
    dir: PathBuf,
    manifest: Manifest,
    plan: Plan,
    space: BoundSpace,
    /// The manifest file as opened (device and inode): sow writes a new manifest under a new
    /// name and renames it into place, so another inode means the crop was sown again.
    manifest_file: Option<(u64, u64)>,
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
        let mine = format!("{}{}-", result::TMP_PREFIX, result::host_name());
        self.temps.iter().filter(move |path| {
            path.file_name()
                .and_then(|f| f.to_str())
                .and_then(|n| n.strip_prefix(&mine))
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        })
    }
}

/// Progress of a crop, from its results' names alone.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    /// The crop's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// The function's signature.
    pub function: String,
    /// Batches in all.
    pub batches: u64,
    /// Batches grown.
    pub grown: u64,
    /// Cases in all.
    pub cases: u64,
    /// Cases in grown batches.
    pub cases_grown: u64,
    /// Failed cases in grown batches.
    pub failed_cases: u64,
    /// Cases per second from the first batch's start to the last one's end, once one is grown.
    pub cases_per_second: Option<f64>,
    /// Seconds left at that rate.
    pub eta_seconds: Option<f64>,
    /// Temporary files of writers in progress (or dead).
    pub writing: u64,
    /// The claims of workers (`xyz grow --worker`), by batch: live ones, and expired ones
    /// not yet taken over.
    pub claims: Vec<ClaimInfo>,
    /// Jobs submitted to a scheduler for it (`xyz submit`), oldest first.
    pub jobs: Vec<JobRecord>,
}

/// What reap gives.
#[derive(Debug)]
pub struct Reaped<S = Dataset> {
    /// Where the results went: the dataset, as [`Runner::run`](crate::Runner::run) gives it
    /// for the same space, or the store given to [`Crop::reap_into`].
    pub dataset: S,
    /// Cases that were evaluated and stored.
    pub ok: u64,
    /// Cases of batches with no good result.
    pub pending: u64,
    /// The failed cases, in case order.
    pub failures: Vec<CaseFailure>,
    /// Batches with no good result: their cells are missing.
    pub missing: Vec<u64>,
    /// Results that were passed over, and why.
    pub bad: Vec<(PathBuf, BadResult)>,
}

impl<S> Reaped<S> {
    /// Splits off where the results went, leaving the rest of the report.
    pub fn split(self) -> (S, Reaped<()>) {
        let Reaped {
            dataset,
            ok,
            pending,
            failures,
            missing,
            bad,
        } = self;
        let report = Reaped {
            dataset: (),
            ok,
            pending,
            failures,
            missing,
            bad,
        };
        (dataset, report)
    }
}

/// What a reap counts besides the values.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    pending: u64,
    failures: Vec<CaseFailure>,
    missing: Vec<u64>,
    bad: Vec<(PathBuf, BadResult)>,
}

impl Tally {
    /// The report of a reap into `dataset`, or the error of one that missed batches it may
    /// not.
    fn finish<S>(
        mut self,
        crop: &Crop,
        allow_incomplete: bool,
        dataset: S,
    ) -> Result<Reaped<S>, CropError> {
        if !allow_incomplete && !self.missing.is_empty() {
            return Err(crop.incomplete(self.missing, self.bad));
        }
        self.failures.sort_by_key(|f| f.case);
        Ok(Reaped {
            dataset,
            ok: self.ok,
            pending: self.pending,
            failures: self.failures,
            missing: self.missing,
            bad: self.bad,
        })
    }
}

/// What check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Results that are sound.
    pub good: u64,
    /// How many of them each host grew.
    pub hosts: BTreeMap<String, u64>,
    /// Results that are not, and why.
    pub bad: Vec<(PathBuf, BadResult)>,
    /// Temporary files left by writers that died on this machine.
    pub dead_temps: Vec<PathBuf>,
    /// Files removed (with `delete_bad`).
    pub deleted: Vec<PathBuf>,
}

/// What grow did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrowReport {
    /// Batches grown.
    pub batches: u64,
    /// Batches grown that another worker had committed first, whose results were discarded.
    pub duplicates: u64,
    /// Cases evaluated.
    pub cases: u64,
    /// Cases that failed.
    pub failed: u64,
}

fn check_name(name: &str) -> Result<(), CropError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CropError::BadName(name.to_string()))
    }
}

/// Writes `parts` to a new file at `tmp`, syncs it and renames it to `dest`, so readers see
/// the old file or the whole new one; `tmp` is removed if anything fails.
fn publish(tmp: &Path, dest: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    publish_linked(tmp, dest, parts, None).map(|_| ())
}

/// As [`publish`], but first hard-links the synced file to `link`, exclusively: when `link`
/// exists the file is discarded and `false` returned (see [`claims`]).
fn publish_linked(
    tmp: &Path,
    dest: &Path,
    parts: &[&[u8]],
    link: Option<&Path>,
) -> std::io::Result<bool> {
    use std::io::Write as _;
    let written = (|| {
        let mut f = std::fs::File::create_new(tmp)?;
        for part in parts {
            f.write_all(part)?;
        }
        f.sync_all()?;
        if let Some(link) = link {
            match std::fs::hard_link(tmp, link) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::remove_file(tmp)?;
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        std::fs::rename(tmp, dest).map(|()| true)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// Writes `bytes` to `path` through a temporary sibling (see [`publish`]).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CropError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    // A temporary left by an earlier writer of this pid that died is stale.
    let _ = std::fs::remove_file(&tmp);
    publish(&tmp, path, &[bytes]).map_err(io_err(path))
}

impl Crop {
    /// The directory of crop `name` under `parent`.
    pub fn dir_of(parent: &Path, name: &str) -> PathBuf {
        parent.join(format!("{DIR_PREFIX}{name}"))
    }

    /// Sows a crop under `parent` (see [`Sowing`]). An existing crop of that name with the same
    /// function, plan and space is kept with its results; a different one is refused unless
    /// `force`, which replaces it and discards its results.
    pub fn sow(parent: &Path, s: &Sowing<'_>) -> Result<(Crop, Sown), CropError> {
        check_name(s.name)?;
        if s.shuffle.is_some_and(|seed| seed > i64::MAX as u64) {
            return Err(CropError::Plan(PlanError::new(format!(
                "the shuffle seed must be at most {}",
                i64::MAX
            ))));
        }
        let space = s.space.bind(s.signature)?;
        let plan = Plan::new(space.len(), s.batchsize, s.num_batches, s.shuffle)?;
        let plain = Path::new(s.function_file).file_name() == Some(s.function_file.as_ref())
            && !s.function_file.starts_with('.')
            && s.function_file != manifest::FILE;
        if !plain {
            return Err(CropError::BadName(s.function_file.to_string()));
        }
        let (text, identity) = manifest::NewManifest {
            name: s.name,
            function_file: s.function_file,
            output: s.output,
            sha256: s.sha256,
            signature: s.signature,
            plan: &plan,
            batchsize: s.batchsize,
            num_batches: s.num_batches,
            limits: s.limits,
            space: s.space,
        }
        .render()
        .map_err(|message| CropError::Manifest {
            path: PathBuf::from(manifest::FILE),
            message,
        })?;
        let dir = Crop::dir_of(parent, s.name);
        let mut sown = Sown::New;
        if dir.join(manifest::FILE).exists() {
            match Crop::open(&dir) {
                Ok(old) if old.manifest.identity == identity => {
                    return Ok((old, Sown::Kept));
                }
                Ok(old) if !s.force => {
                    let m = &old.manifest;
                    let what = if m.sha256 != s.sha256 {
                        "function"
                    } else if (m.batchsize, m.num_batches, m.shuffle)
                        != (s.batchsize, s.num_batches, s.shuffle)
                    {
                        "batch plan"
                    } else {
                        "space"
                    };
                    return Err(CropError::Changed {
                        path: dir,
                        what: what.into(),
                        grown: old.listing()?.grown().count() as u64,
                    });
                }
                Err(e) if !s.force => return Err(e),
                _ => sown = Sown::Replaced,
            }
        } else if !parent.is_dir() {
            return Err(io_err(parent)(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such directory",
            )));
        }
        let results = dir.join(RESULTS);
        if sown == Sown::Replaced {
            // The manifest goes first: results of the old crop no longer match its identity
            // from this moment on, whatever happens next, and its workers see it is gone.
            let _ = std::fs::remove_file(dir.join(manifest::FILE));
            // Each directory is renamed aside first (one atomic step, however busy its
            // writers), then removed: a straggler's file landing in it meanwhile cannot stop
            // the new crop, and it is cleared with the rest.
            for sub in [RESULTS, claims::CLAIMS, claims::COMMITTED] {
                let path = dir.join(sub);
                let aside = dir.join(format!(".{sub}-replaced-{}", std::process::id()));
                match std::fs::rename(&path, &aside) {
                    Ok(()) => {
                        for _ in 0..3 {
                            if std::fs::remove_dir_all(&aside).is_ok() {
                                break;
                            }
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&path)(e)),
                }
            }
        }
        std::fs::create_dir_all(&results).map_err(io_err(&results))?;
        write_atomic(&dir.join(s.function_file), s.function)?;
        write_atomic(&dir.join(manifest::FILE), text.as_bytes())?;
        Ok((Crop::open(&dir)?, sown))
    }

    /// Fails with [`CropError::Resown`] if the crop's manifest is no longer the one this crop
    /// was opened with (it was sown again, or removed): one `stat`.
    pub fn check_still_sown(&self) -> Result<(), CropError> {
        let now = manifest_file_id(&self.dir.join(manifest::FILE));
        if self.manifest_file.is_some() && now != self.manifest_file {
            return Err(CropError::Resown {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Opens the crop in `dir` (a `.xyz-NAME` directory).
    pub fn open(dir: &Path) -> Result<Crop, CropError> {
        let path = dir.join(manifest::FILE);
        let manifest_file = manifest_file_id(&path);
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        let bad = |message: String| CropError::Manifest {
            path: path.clone(),
            message,
        };
        let manifest = Manifest::parse(&text).map_err(bad)?;
        let space = manifest
            .space
            .bind(&manifest.signature)
            .map_err(|e| bad(e.to_string()))?;
        let plan = Plan::new(
            space.len(),
            manifest.batchsize,
            manifest.num_batches,
            manifest.shuffle,
        )
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
        Ok(Crop {
            dir: dir.to_path_buf(),
            manifest,
            plan,
            space,
            manifest_file,
        })
    }

    /// Finds crop `name`: in `parent` if given; else in the current directory, or the current
    /// directory itself if it is the crop's. `name` may also be the path of a crop directory.
    pub fn locate(name: &str, parent: Option<&Path>) -> Result<Crop, CropError> {
        let as_path = Path::new(name);
        if parent.is_none() && as_path.join(manifest::FILE).is_file() {
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
                if inside && cwd.join(manifest::FILE).is_file() {
                    return Crop::open(&cwd);
                }
                PathBuf::from(".")
            }
        };
        let dir = Crop::dir_of(&parent, name);
        if !dir.join(manifest::FILE).is_file() {
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
                && entry.path().join(manifest::FILE).is_file();
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
        self.dir.join(RESULTS)
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
                    listing.results.push(info);
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

    /// Progress, from the results' names alone (`check` reads them).
    pub fn status(&self) -> Result<Status, CropError> {
        let listing = self.listing()?;
        let (mut cases_grown, mut failed) = (0u64, 0u64);
        let (mut first_start, mut last_end) = (u64::MAX, 0u64);
        for info in listing.grown() {
            let r = self.plan.positions(info.batch);
            cases_grown += r.end - r.start;
            failed += info.failed;
            first_start = first_start.min(info.end_ms.saturating_sub(info.took_ms));
            last_end = last_end.max(info.end_ms);
        }
        let rate = (cases_grown > 0).then(|| {
            let secs = (last_end.saturating_sub(first_start)).max(1) as f64 / 1000.0;
            cases_grown as f64 / secs
        });
        let left = self.plan.cases() - cases_grown;
        Ok(Status {
            name: self.manifest.name.clone(),
            dir: self.dir.clone(),
            function: self.manifest.signature.to_string(),
            batches: self.plan.batches(),
            grown: listing.grown().count() as u64,
            cases: self.plan.cases(),
            cases_grown,
            failed_cases: failed,
            cases_per_second: rate,
            eta_seconds: rate.map(|r| left as f64 / r),
            writing: listing.temps.len() as u64,
            claims: self.claims()?,
            jobs: self.jobs()?,
        })
    }

    fn check_function(&self, function: &dyn Function) -> Result<(), CropError> {
        let sig = function.signature().to_string();
        if function.sha256() != Some(self.sha256()) || sig != self.signature().to_string() {
            return Err(CropError::WrongFunction {
                expected: format!("{} (sha256 {})", self.signature(), self.sha256()),
                found: format!("{sig} (sha256 {})", function.sha256().unwrap_or("none")),
            });
        }
        Ok(())
    }

    /// Grows `batches` (ids) with `function`, which must be the crop's, on `executor`: one
    /// batch per task, each written as a result as soon as it is done. With `raise_errors`,
    /// stops at the first batch with a failed case, without saving it.
    pub fn grow(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        batches: &[u64],
        raise_errors: bool,
        progress: Option<&(dyn Fn(u64) + Sync)>,
    ) -> Result<GrowReport, CropError> {
        self.check_function(function)?;
        self.grow_batches(function, executor, batches, raise_errors, progress, None)
    }

    /// Grows `batches`; with `committed`, commits each result through a link there (see
    /// [`claims`]), discarding those another worker committed first.
    fn grow_batches(
        &self,
        function: &dyn Function,
        executor: &dyn Executor,
        batches: &[u64],
        raise_errors: bool,
        progress: Option<&(dyn Fn(u64) + Sync)>,
        committed: Option<&Path>,
    ) -> Result<GrowReport, CropError> {
        for &id in batches {
            if !(1..=self.plan.batches()).contains(&id) {
                return Err(CropError::NoSuchBatch {
                    id,
                    batches: self.plan.batches(),
                });
            }
        }
        let sets: Vec<_> = batches.iter().map(|&id| self.plan.cases_of(id)).collect();
        let dir = self.results_dir();
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let report = Mutex::new(GrowReport::default());
        let done = |i: usize, out: crate::runner::BatchOutput| -> Result<(), CropError> {
            let id = batches[i];
            if raise_errors && let Some((pos, kind, message)) = out.failures.first() {
                let case = sets[i].case(*pos);
                return Err(CropError::CaseFailed {
                    batch: id,
                    failure: Box::new(CaseFailure {
                        case,
                        kind: *kind,
                        message: message.clone(),
                        args: self.space.case_args(case, self.signature()),
                    }),
                });
            }
            // Never a result into a crop sown again meanwhile: it would be the old crop's.
            self.check_still_sown()?;
            let link = committed.map(|c| claims::commit_path(c, id));
            let placed = result::write(&dir, &self.manifest.identity, id, &out, link.as_deref())
                .map_err(io_err(&dir))?;
            let mut r = report.lock().unwrap_or_else(|e| e.into_inner());
            if placed.is_none() {
                r.duplicates += 1;
                return Ok(());
            }
            r.batches += 1;
            r.cases += out.n as u64;
            r.failed += out.failures.len() as u64;
            Ok(())
        };
        let mut runner = Runner::new(function, executor);
        if let Some(p) = progress {
            runner.progress(p);
        }
        match runner.run_batches(&self.space, &sets, &done) {
            Ok(()) => Ok(report.into_inner().unwrap_or_else(|e| e.into_inner())),
            Err(BatchRunError::Run(e)) => Err(CropError::Run(e)),
            Err(BatchRunError::Done(e)) => Err(e),
        }
    }

    /// Reads and checks batch `id`'s results, first good one first.
    fn read_batch(
        &self,
        files: &[NameInfo],
        id: u64,
        bad: &mut Vec<(PathBuf, BadResult)>,
    ) -> Option<crate::runner::BatchOutput> {
        let n = self.plan.cases_of(id).len();
        for info in files {
            let path = self.results_dir().join(info.file_name());
            match result::read(
                &path,
                &self.manifest.identity,
                id,
                n,
                &self.manifest.signature.outputs,
            ) {
                Ok(r) => return Some(r.output),
                Err(e) => bad.push((path, e)),
            }
        }
        None
    }

    /// Assembles the dataset from the results, batch by batch. Refuses an incomplete crop
    /// unless `allow_incomplete`, which leaves the cells of missing batches missing. Damaged
    /// and stale results count as missing and are listed.
    pub fn reap(&self, allow_incomplete: bool) -> Result<Reaped, CropError> {
        let dataset = Dataset::empty(
            &self.space,
            &self.manifest.signature,
            Some(&self.manifest.sha256),
        );
        self.reap_into(allow_incomplete, dataset)
    }

    /// The layout of the dataset this crop reaps to, without its cells: what a
    /// [`Harvest`](crate::harvest::Harvest) merging it needs.
    pub fn layout(&self) -> Dataset {
        Dataset::layout(
            &self.space,
            &self.manifest.signature,
            Some(&self.manifest.sha256),
        )
    }

    /// As [`Crop::reap`], but stores the results batch by batch in `store`: a dataset, or a
    /// [`Harvest`](crate::harvest::Harvest) merging them into one already there, so no second
    /// copy of the results is held.
    pub fn reap_into<S: Store>(
        &self,
        allow_incomplete: bool,
        mut store: S,
    ) -> Result<Reaped<S>, CropError> {
        let listing = self.listing()?;
        self.check_grown(&listing, allow_incomplete)?;
        let mut tally = Tally::default();
        for id in 1..=self.plan.batches() {
            let cases = self.plan.cases_of(id);
            if let Some(out) = self.reap_batch(&listing, id, &mut tally) {
                let failed: Vec<usize> = out.failures.iter().map(|f| f.0).collect();
                store.store_cases(&self.space, cases, &out.cols, &failed);
            }
        }
        tally.finish(self, allow_incomplete, store)
    }

    /// Whether the cells of the crop's cases rise with the plan's order, so that
    /// [`Crop::reap_windows`] reads each result once and holds one window and one batch: true
    /// unless the plan is shuffled or the space's cases are listed out of grid order.
    pub fn reaps_in_grid_order(&self) -> bool {
        let space = &self.space;
        self.plan.shuffle().is_none()
            && (space.len() == space.cells()
                || (1..space.len()).all(|c| space.cell_of(c - 1) < space.cell_of(c)))
    }

    /// As [`Crop::reap`], but hands the dataset to `sink` a [`Window`] of (at most) `window`
    /// cells at a time, in grid order, so that it is never held whole: for writing a dataset
    /// larger than memory allows. When the crop does not reap in grid order
    /// ([`Crop::reaps_in_grid_order`]) the dataset is assembled whole first.
    pub fn reap_windows<E: From<CropError>>(
        &self,
        allow_incomplete: bool,
        window: usize,
        mut sink: impl FnMut(&Window) -> Result<(), E>,
    ) -> Result<Reaped<()>, E> {
        let window = window.max(1);
        let total = self.space.cells() as usize;
        if !self.reaps_in_grid_order() {
            let (dataset, reaped) = self.reap(allow_incomplete)?.split();
            for first in (0..total).step_by(window) {
                sink(&dataset.window(first, window.min(total - first)))?;
            }
            return Ok(reaped);
        }
        let listing = self.listing()?;
        self.check_grown(&listing, allow_incomplete)?;
        let layout = self.layout();
        let mut tally = Tally::default();
        let mut part = Window::new(&layout, 0, window.min(total));
        for id in 1..=self.plan.batches() {
            let cases = self.plan.cases_of(id);
            let Some(last) = cases.len().checked_sub(1) else {
                continue;
            };
            let last = self.space.cell_of(cases.case(last)) as usize;
            let out = self.reap_batch(&listing, id, &mut tally);
            let failed: Vec<usize> = out.iter().flat_map(|o| &o.failures).map(|f| f.0).collect();
            // A batch may reach into the windows after this one.
            loop {
                match &out {
                    Some(out) => part.store_cases(&self.space, cases, &out.cols, &failed),
                    None => part.store_pending(&self.space, cases),
                }
                if last < part.end() {
                    break;
                }
                sink(&part)?;
                part = Window::new(&layout, part.end(), window.min(total - part.end()));
            }
        }
        // The last window, and any after it where no case lands.
        while !part.cells.is_empty() {
            sink(&part)?;
            part = Window::new(&layout, part.end(), window.min(total - part.end()));
        }
        Ok(tally.finish(self, allow_incomplete, ())?)
    }

    /// Refuses, unless `allow_incomplete`, a crop with batches that have no result.
    fn check_grown(&self, listing: &Listing, allow_incomplete: bool) -> Result<(), CropError> {
        if allow_incomplete {
            return Ok(());
        }
        let missing: Vec<u64> = (1..=self.plan.batches())
            .filter(|id| listing.of(*id).is_empty())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(self.incomplete(missing, Vec::new()))
        }
    }

    /// Reads the result of batch `id` for a reap, counting its cases and failures in `tally`;
    /// `None` when it has no good result.
    fn reap_batch(
        &self,
        listing: &Listing,
        id: u64,
        tally: &mut Tally,
    ) -> Option<crate::runner::BatchOutput> {
        let cases = self.plan.cases_of(id);
        let Some(out) = self.read_batch(listing.of(id), id, &mut tally.bad) else {
            tally.missing.push(id);
            tally.pending += cases.len() as u64;
            return None;
        };
        tally.ok += (cases.len() - out.failures.len()) as u64;
        for (pos, kind, message) in &out.failures {
            let case = cases.case(*pos);
            tally.failures.push(CaseFailure {
                case,
                kind: *kind,
                message: message.clone(),
                args: self.space.case_args(case, &self.manifest.signature),
            });
        }
        Some(out)
    }

    /// The error for a reap that misses the batches `missing`, `damaged` among them.
    fn incomplete(&self, missing: Vec<u64>, damaged: Vec<(PathBuf, BadResult)>) -> CropError {
        CropError::Incomplete {
            missing: missing.len() as u64,
            batches: self.plan.batches(),
            first: missing.into_iter().take(5).collect(),
            damaged,
        }
    }

    /// Reads every result in full and reports those that would not be reaped, and temporary
    /// files left by writers that died on this machine; with `delete_bad`, removes them so
    /// their batches count as missing and grow again.
    pub fn check(&self, delete_bad: bool) -> Result<CheckReport, CropError> {
        let listing = self.listing()?;
        let mut report = CheckReport::default();
        let dir = self.results_dir();
        for info in &listing.results {
            let n = self.plan.cases_of(info.batch).len();
            let path = dir.join(info.file_name());
            let outputs = &self.manifest.signature.outputs;
            match result::read(&path, &self.manifest.identity, info.batch, n, outputs) {
                Ok(r) if r.output.failures.len() as u64 == info.failed => {
                    report.good += 1;
                    *report.hosts.entry(r.host).or_default() += 1;
                }
                Ok(r) => report.bad.push((
                    path,
                    BadResult::Mismatch {
                        expected: format!("{} failed cases, as its name says", info.failed),
                        found: format!("{}", r.output.failures.len()),
                    },
                )),
                Err(e) => report.bad.push((path, e)),
            }
        }
        for path in &listing.strays {
            report.bad.push((path.clone(), BadResult::NotAResult));
        }
        report.dead_temps = listing.dead_temps().cloned().collect();
        if delete_bad {
            let doomed = report
                .bad
                .iter()
                .map(|(p, _)| p)
                .chain(&report.dead_temps)
                .cloned()
                .collect::<Vec<_>>();
            for path in doomed {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                report.deleted.push(path);
            }
        }
        Ok(report)
    }

    /// Removes the crop directory and everything in it.
    pub fn remove(self) -> Result<(), CropError> {
        std::fs::remove_dir_all(&self.dir).map_err(io_err(&self.dir))
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
                output: None,
                batchsize: Some(4),
                num_batches: None,
                shuffle,
                force,
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
