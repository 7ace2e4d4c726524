//! `xyz reap`: assemble a crop's results into the dataset.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::json;
use xyz_core::Crop;

use super::OutputArgs;
use super::grid::{grid_sink, write_grid};

use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  Reap a fully grown crop into mandel.zarr, removing the crop:
    xyz reap mandel -o mandel.zarr

  Reap what has grown so far, leaving the other cells missing and the crop in place:
    xyz reap mandel --allow-incomplete -o partial.zarr

  Wait for growers elsewhere to finish (at most 2 hours), then reap:
    xyz reap mandel --wait --timeout 2h";

/// How often --wait looks again.
const POLL: Duration = Duration::from_millis(500);

/// Assemble a crop's results into the dataset `xyz run` would give, and remove the crop.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct ReapCommand {
    /// The crop's name (or the path of its .xyz-NAME directory)
    name: String,

    /// The directory holding the crop [default: the current directory, or the crop's own
    /// directory when run inside it]
    #[arg(long, value_name = "DIR")]
    parent_dir: Option<PathBuf>,

    #[command(flatten)]
    trust: super::key::TrustArgs,

    #[command(flatten)]
    out: OutputArgs,

    /// Reap an incomplete crop: cells of batches not grown are missing, and the crop is kept
    #[arg(long)]
    allow_incomplete: bool,

    /// Wait until every batch is grown
    #[arg(long)]
    wait: bool,

    /// Longest to wait, such as 90s or 2h [default: no limit]
    #[arg(long, value_name = "DURATION", requires = "wait")]
    timeout: Option<String>,

    /// For an adaptive study's crop: also write its values read off on a grid of N (one
    /// argument) or NxM (two) values evenly over the bounds, as STEM-grid.EXT beside the output
    #[arg(long, value_name = "N|NxM", value_parser = super::grid::parse_grid)]
    grid: Option<super::grid::GridSize>,

    /// Keep the crop after a complete reap
    #[arg(long)]
    keep: bool,

    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,

    /// Print the summary as JSON on stdout
    #[arg(long)]
    json: bool,
}

impl ReapCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let timeout = self
            .timeout
            .as_deref()
            .map(xyz_core::spec::parse_duration)
            .transpose()
            .context("--timeout")?;
        let open = || -> anyhow::Result<Crop> {
            self.trust
                .apply(Crop::locate(&self.name, self.parent_dir.as_deref())?)
        };
        let mut crop = open()?;
        let adaptive = crop.adaptive().is_some();
        if adaptive && self.out.merges() {
            bail!(
                "--into: {} is an adaptive study's crop, which reaps to a dataset of its own \
                 (with `xyz run --into`, a study adds points to its dataset)",
                crop.name()
            );
        }
        // A crop sown to complete a dataset merges into it unless told otherwise.
        let mut out = self.out;
        out.default_into(crop.merges_into());
        let dest = out.resolve(crop.output(), || {
            PathBuf::from(format!("{}.zarr", crop.name()))
        })?;
        dest.check_holds(&crop.layout())?;
        let grid = match (&self.grid, crop.adaptive()) {
            (None, _) => None,
            (Some(size), Some(study)) => Some((size, grid_sink(size, study, &out, &dest)?)),
            (Some(_), None) => {
                return Err(crate::UsageError(format!(
                    "--grid reads an adaptive study's points off on a grid; {} is not an \
                     adaptive study's crop",
                    crop.name()
                ))
                .into());
            }
        };
        if self.wait {
            let began = Instant::now();
            loop {
                let missing = crop.missing()?.len();
                let finished = crop.study_status().is_none_or(|s| s.finished.is_some());
                if missing == 0 && finished {
                    break;
                }
                if timeout.is_some_and(|t| began.elapsed() >= t) {
                    bail!(
                        "timed out after {} with {missing} of {} batches of {} not grown",
                        self.timeout.as_deref().unwrap_or_default(),
                        crop.plan().batches(),
                        crop.name()
                    );
                }
                std::thread::sleep(POLL);
                // An adaptive study's rounds are added as it grows.
                if adaptive {
                    crop = open()?;
                }
            }
        }
        // Merging into a store read a window at a time (a Zarr store xyz wrote) takes the
        // results a window at a time too, so neither is held whole; into another dataset,
        // batch by batch, so only the merged dataset is held.
        let layout = crop.layout();
        let (windowed, harvest) = match dest.merge_windows(&layout)? {
            _ if adaptive => (None, None),
            Some(merge) => (Some(merge), None),
            None => (None, dest.harvest(&layout)?),
        };
        let (reaped, how) = match (windowed, harvest) {
            (Some(merge), _) => {
                let reaped = dest.write_merge_windows::<_, anyhow::Error>(merge, |put| {
                    let cells = xyz_core::output::window_cells(dest.format(), &layout);
                    crop.reap_windows(self.allow_incomplete, cells, put)
                })?;
                (reaped, "merged into")
            }
            (None, Some(harvest)) => {
                let reaped = crop.reap_into(self.allow_incomplete, harvest)?;
                let (harvest, reaped) = reaped.split();
                dest.write_merged(harvest)
                    .with_context(|| format!("writing the dataset of {}", crop.name()))?;
                (reaped, "merged into")
            }
            // Every format takes the grid a window at a time (netCDF through a spill), so the
            // dataset is never held whole.
            // An adaptive study's dataset records what its learners reached, once all is
            // read.
            (None, None) if dest.writes_windows() && !adaptive => {
                let reaped = dest.write_windows::<_, anyhow::Error>(&layout, |write| {
                    let cells = xyz_core::output::window_cells(dest.format(), &layout);
                    crop.reap_windows(self.allow_incomplete, cells, write)
                })?;
                (reaped, "wrote")
            }
            (None, None) => {
                let reaped = crop.reap(self.allow_incomplete)?;
                let (dataset, reaped) = reaped.split();
                dest.write(&dataset)
                    .with_context(|| format!("writing the dataset of {}", crop.name()))?;
                if let (Some((size, sink)), Some(study)) = (&grid, crop.adaptive()) {
                    write_grid(&dataset, study, size, &dest, sink)?;
                }
                (reaped, "wrote")
            }
        };
        for (path, why) in &reaped.bad {
            eprintln!(
                "warning: {} {why}; its batch counts as missing",
                path.display()
            );
        }
        let (out, format) = (dest.path(), dest.format());
        let complete = reaped.missing.is_empty() && reaped.bad.is_empty();
        let (ok, failed, pending) = (reaped.ok, reaped.failures.len() as u64, reaped.pending);
        let name = crop.name().to_string();
        let dir = crop.dir().to_path_buf();
        // The crop is renamed aside at once and its files removed after the summary, so the
        // dataset is reported as soon as it is written.
        let removed = complete && !self.keep;
        let retired = if removed { Some(crop.retire()?) } else { None };
        let resown = matches!(retired, Some(xyz_core::crop::Retirement::Resown));
        let removed = removed && !resown;
        let mut say = super::args::summary_out(&dest);
        if self.json {
            let summary = json!({
                "name": name,
                "output": out,
                "format": format.to_string(),
                "complete": complete,
                "missing_batches": reaped.missing,
                "ok": ok,
                "failed": failed,
                "missing_cells": pending,
                "removed": removed,
                "failures": reaped.failures,
            });
            writeln!(say, "{}", serde_json::to_string_pretty(&summary)?)?;
        } else if !self.quiet {
            writeln!(
                say,
                "reaped {name}: {how} {} ({format}): {ok} cells, {failed} failed, {pending} \
                 missing",
                out.display()
            )?;
            if removed {
                writeln!(say, "removed {}", dir.display())?;
            } else if resown {
                writeln!(
                    say,
                    "kept {}: a new crop was sown there while this one was reaped",
                    dir.display()
                )?;
            } else if !complete {
                writeln!(
                    say,
                    "{} batches not grown; kept {}",
                    reaped.missing.len(),
                    dir.display()
                )?;
            }
        }
        say.flush()?;
        drop(say);
        if let Some(xyz_core::crop::Retirement::Retired(retired)) = retired {
            retired.remove()?;
        }
        Ok(exit_codes::for_missing(failed > 0 || pending > 0))
    }
}
