//! Sowing: writing a sweep to disk as a crop, or keeping or replacing the one there.

use super::*;

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
    /// Free attributes of the reaped dataset (a spec's `[attrs]`).
    pub attrs: &'a [(String, crate::value::Value)],
    /// Coordinates of the outputs' extra dims (a spec's `[coords]`).
    pub coords: &'a [(String, Vec<crate::value::Value>)],
    /// Only these cases of the space (ascending, none twice), if not all: those a dataset
    /// lacks.
    pub subset: Option<&'a [u64]>,
    /// The dataset the crop's results merge into by default (with `subset`, the one it lacks
    /// them from).
    pub into: Option<&'a Path>,
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
    /// The adaptive study the crop grows, round by round, over `space` (its combos and
    /// constants): its first round is sown, and growers choose the others.
    pub adaptive: Option<&'a crate::adaptive::Adaptive>,
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

pub(super) fn check_name(name: &str) -> Result<(), CropError> {
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

/// Writes `bytes` to `path` through a temporary sibling (see [`publish()`]).
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
        let mut study = match s.adaptive {
            None => None,
            Some(_) if s.subset.is_some() || s.into.is_some() => {
                return Err(CropError::Plan(PlanError::new(
                    "an adaptive study's crop chooses its points as it grows: it cannot be sown \
                     to complete a dataset"
                        .into(),
                )));
            }
            Some(_) if s.num_batches.is_some() || s.shuffle.is_some() => {
                return Err(CropError::Plan(PlanError::new(
                    "an adaptive study's crop cuts each round into batches of --batchsize \
                     cases; --num-batches and --shuffle do not apply"
                        .into(),
                )));
            }
            Some(adaptive) => {
                let mut study = crate::adaptive::Study::new(s.signature, s.space, adaptive)?;
                study.ask();
                Some(study)
            }
        };
        let space = match &study {
            Some(study) => {
                let rows = study
                    .asked()
                    .iter()
                    .map(|(c, p)| study.row(*c, p))
                    .collect();
                study.space_of(rows).bind(s.signature)?
            }
            None => s.space.bind(s.signature)?,
        };
        Dataset::sweep(&space, s.signature, None, &[], s.coords)?;
        let subset_bytes: Option<Vec<u8>> = match s.subset {
            Some(cases) => {
                let ascending = cases.windows(2).all(|w| w[0] < w[1]);
                if !ascending || cases.last().is_some_and(|c| *c >= space.len()) {
                    return Err(CropError::Plan(PlanError::new(
                        "the cases to sow must be cases of the space, ascending".into(),
                    )));
                }
                Some(cases.iter().flat_map(|c| c.to_le_bytes()).collect())
            }
            None => None,
        };
        let batchsize = match &study {
            Some(_) => Some(s.batchsize.unwrap_or(1)),
            None => s.batchsize,
        };
        let plan = match s.subset {
            _ if study.is_some() => Plan::rounds(&[space.len()], batchsize.unwrap_or(1))?,
            Some(cases) => Plan::of_cases(cases.to_vec(), s.batchsize, s.num_batches, s.shuffle)?,
            None => Plan::new(space.len(), s.batchsize, s.num_batches, s.shuffle)?,
        };
        let subset_sha = subset_bytes.as_deref().map(crate::sha256_hex);
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
            batchsize,
            num_batches: s.num_batches,
            limits: s.limits,
            attrs: s.attrs,
            coords: s.coords,
            space: s.space,
            subset_sha256: subset_sha.as_deref(),
            into: s.into,
            adaptive: s.adaptive,
        }
        .render()
        .map_err(|message| CropError::Manifest {
            path: PathBuf::from(manifest::FILE),
            message,
        })?;
        let dir = Crop::dir_of(parent, s.name);
        let mut sown = Sown::New;
        if CropDir::new(&dir).manifest().exists() {
            match Crop::open(&dir) {
                Ok(old) if old.manifest.identity == identity => {
                    return Ok((old, Sown::Kept));
                }
                Ok(old) if !s.force => {
                    let m = &old.manifest;
                    let what = if m.sha256 != s.sha256 {
                        "function"
                    } else if (m.batchsize, m.num_batches, m.shuffle)
                        != (batchsize, s.num_batches, s.shuffle)
                    {
                        "batch plan"
                    } else if m.adaptive.as_ref() != s.adaptive {
                        "[adaptive] study"
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
        let layout = CropDir::new(&dir);
        let results = layout.results();
        if sown == Sown::Replaced {
            // The manifest goes first: results of the old crop no longer match its identity
            // from this moment on, whatever happens next, and its workers see it is gone.
            let _ = std::fs::remove_file(layout.manifest());
            // Each directory is renamed aside first (one atomic step, however busy its
            // writers), then removed: a straggler's file landing in it meanwhile cannot stop
            // the new crop, and it is cleared with the rest.
            for (sub, path) in layout.grown_dirs() {
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
        match &subset_bytes {
            Some(bytes) => write_atomic(&layout.subset(), bytes)?,
            None => {
                let _ = std::fs::remove_file(layout.subset());
            }
        }
        // The first round before the manifest: a crop opens only with its round 1.
        if let Some(study) = study.as_mut() {
            super::rounds::write_round(&layout.rounds(), &identity, 1, study)?;
        }
        write_atomic(&layout.manifest(), text.as_bytes())?;
        Ok((Crop::open(&dir)?, sown))
    }
}
