//! Checking: telling sound results from truncated, corrupt or stale ones, and clearing them.

use super::*;

/// What check found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Results that are sound.
    pub good: u64,
    /// How many of them each host grew.
    pub hosts: BTreeMap<String, u64>,
    /// Results that are not, and why (a pack's bad batches each named).
    pub bad: Vec<(PathBuf, BadResult)>,
    /// Temporary files left by writers that died on this machine.
    pub dead_temps: Vec<PathBuf>,
    /// Files removed (with `delete_bad`).
    pub deleted: Vec<PathBuf>,
    /// Packs with bad batches written again with their good ones only (with `delete_bad`):
    /// the pack, and the file now holding its good batches (none when it had none).
    pub repacked: Vec<(PathBuf, Option<PathBuf>)>,
}

impl CheckReport {
    /// Bad results and dead temporaries still on disk.
    pub fn left(&self) -> usize {
        if self.deleted.is_empty() && self.repacked.is_empty() {
            self.bad.len() + self.dead_temps.len()
        } else {
            0
        }
    }
}

impl Crop {
    /// Reads every result in full and reports those that would not be reaped, and temporary
    /// files left by writers that died on this machine; with `delete_bad`, removes them so
    /// their batches count as missing and grow again. A pack with bad batches is written
    /// again with its good ones only.
    pub fn check(&self, delete_bad: bool) -> Result<CheckReport, CropError> {
        let listing = self.listing()?;
        let mut report = CheckReport::default();
        let dir = self.results_dir();
        let outputs = &self.manifest.signature.outputs;
        let mut packs = pack::Reader::default();
        // Files to remove, and the good results of each pack with bad ones.
        let mut doomed: Vec<PathBuf> = Vec::new();
        let mut damaged_packs: BTreeMap<String, (Vec<&NameInfo>, bool)> = BTreeMap::new();
        for info in &listing.results {
            let n = self.plan.cases_of(info.batch).len();
            let path = dir.join(info.file_name());
            let read = match &info.packed {
                Some(_) => packs.read(&dir, info, n, outputs),
                None => result::read(
                    &path,
                    &self.manifest.identity,
                    &self.trust,
                    info.batch,
                    n,
                    outputs,
                ),
            };
            let read = match read {
                Ok(r) if r.output.failures.len() as u64 != info.failed => {
                    Err(BadResult::Mismatch {
                        expected: format!("{} failed cases, as its name says", info.failed),
                        found: format!("{}", r.output.failures.len()),
                    })
                }
                other => other,
            };
            if info.packed.is_some() {
                let pack = damaged_packs.entry(info.file_name()).or_default();
                match &read {
                    Ok(_) => pack.0.push(info),
                    Err(_) => pack.1 = true,
                }
            } else if read.is_err() {
                doomed.push(path.clone());
            }
            match read {
                Ok(r) => {
                    report.good += 1;
                    *report.hosts.entry(r.host).or_default() += 1;
                }
                Err(e) => report.bad.push((path, e.in_batch(info))),
            }
        }
        for path in &listing.strays {
            report.bad.push((path.clone(), BadResult::NotAResult));
            doomed.push(path.clone());
        }
        for (path, why) in &listing.bad_files {
            report.bad.push((path.clone(), why.clone()));
            doomed.push(path.clone());
        }
        report.dead_temps = listing.dead_temps().cloned().collect();
        if delete_bad {
            for (name, (good, _)) in damaged_packs.into_iter().filter(|(_, (_, bad))| *bad) {
                let old = dir.join(&name);
                let mut pack = pack::Pack::default();
                for info in good {
                    // Read and checked above; a change since is a failure to repack.
                    let encoded = packs.encoded(&dir, info).map_err(|why| CropError::Io {
                        path: old.clone(),
                        source: std::io::Error::other(why.to_string()),
                    })?;
                    pack.push(encoded);
                }
                let new = pack
                    .write(&dir, &self.manifest.identity, self.sealer()?)
                    .map_err(io_err(&dir))?;
                std::fs::remove_file(&old).map_err(io_err(&old))?;
                report.repacked.push((old, new));
            }
            for path in doomed.into_iter().chain(report.dead_temps.iter().cloned()) {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
                report.deleted.push(path);
            }
        }
        Ok(report)
    }
}
