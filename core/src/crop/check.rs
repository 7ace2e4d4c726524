//! Checking: telling sound results from truncated, corrupt or stale ones, and clearing them.

use super::*;

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

impl Crop {
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
}
