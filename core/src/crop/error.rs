//! What a crop operation can fail with: one error type, each variant naming the crop or file
//! concerned.

use super::*;

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
    /// The spec's coordinates do not fit the function's extra dims.
    #[error("the spec's [coords]: {0}")]
    Coords(#[from] crate::dataset::CoordsError),
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
    /// There is no key to seal the results grown.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    /// Reap of an adaptive study's crop whose study is not finished.
    #[error(
        "the adaptive study is not finished: {rounds} rounds of {points} points so far, and more \
         to choose; grow on (xyz grow NAME), or reap with --allow-incomplete to take the \
         points so far"
    )]
    Unfinished {
        /// Rounds chosen.
        rounds: usize,
        /// Points chosen.
        points: u64,
    },
    /// The `[adaptive]` section cannot be sown or grown as it stands.
    #[error(transparent)]
    Adaptive(#[from] crate::adaptive::AdaptiveError),
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

pub(super) fn damaged_list(damaged: &[(PathBuf, BadResult)]) -> String {
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

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CropError + '_ {
    move |source| CropError::Io {
        path: path.to_path_buf(),
        source,
    }
}
