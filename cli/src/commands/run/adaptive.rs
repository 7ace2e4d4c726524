//! `xyz run` of a spec with `[adaptive]`: rounds of points chosen where the function changes.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Context as _;
use serde_json::json;
use xyz::load::Loaded;
use xyz_core::adaptive::{Adaptive, Round};
use xyz_core::{Runner, executor};

use super::super::grid::{grid_sink, write_grid};
use super::RunCommand;
use crate::exit_codes;

impl RunCommand {
    /// Runs the adaptive study `study` of `spec` and writes its dataset.
    pub(super) fn adaptive(
        &self,
        spec: &xyz_core::Spec,
        study: &Adaptive,
        loaded: &Loaded,
        interrupted: &'static AtomicBool,
    ) -> anyhow::Result<u8> {
        let function = &*loaded.function;
        let sig = function.signature().clone();
        let dest = self.out.resolve(spec.output.as_deref(), || {
            PathBuf::from(format!("{}.zarr", self.sweep.name(&sig.name)))
        })?;
        // --into a study's dataset: its points are told to the learners first, and more added.
        let existing = if self.out.merges() && dest.path().exists() {
            Some(
                xyz_core::output::read(dest.path(), dest.format())
                    .with_context(|| format!("--into {}", dest.path().display()))?,
            )
        } else {
            None
        };
        let had = existing.as_ref().map_or(0, |d| d.cells.len() as u64);
        let grid = match &self.grid {
            Some(size) => Some((size, grid_sink(size, study, &self.out, &dest)?)),
            None => None,
        };
        let pool = executor::with_threads(self.jobs)?;
        let show = !self.quiet && !self.json;
        let bar = crate::progress::bar(study.n.unwrap_or(0), "points", show);
        let mut runner = Runner::new(function, &*pool);
        runner.cancel(interrupted);
        let (mut rounds, mut planning) = (0, 0.0);
        let outcome = xyz_core::adaptive::run_from(
            &runner,
            &sig,
            &spec.space,
            study,
            existing.as_ref(),
            |r: &Round| {
                rounds = r.number;
                planning = r.planning.as_secs_f64();
                bar.set_position(r.evaluated as u64);
            },
        );
        bar.finish_and_clear();
        let (mut dataset, outcome) = outcome
            .map_err(|e| match (&e, &self.sweep.spec) {
                (xyz_core::adaptive::AdaptiveError::OtherStudy(_), _) => {
                    anyhow::anyhow!("--into {}: {e}", dest.path().display())
                }
                (xyz_core::adaptive::AdaptiveError::Run(_), _) | (_, None) => anyhow::Error::new(e),
                (_, Some(path)) => anyhow::anyhow!("{}: {e}", path.display()),
            })?
            .split();
        dataset.set_free_attrs(&spec.attrs);
        dataset
            .set_extra_coords(&spec.coords)
            .context("the spec's [coords]")?;
        dest.check_holds(&dataset)?;
        let mut layout = dataset.clone();
        layout.cells.clear();
        match dest.harvest(&layout)? {
            // The study's points again, each as on record, and the new ones: checked as any
            // merge is, and written in place of the old once complete.
            Some(mut harvest) => {
                harvest.put_dataset(&dataset);
                dest.write_merged(harvest)
                    .with_context(|| format!("writing the dataset of {}", sig.name))?;
            }
            None => dest
                .write(&dataset)
                .with_context(|| format!("writing the dataset of {}", sig.name))?,
        }
        if let Some((size, sink)) = &grid {
            write_grid(&dataset, study, size, &dest, sink)?;
        }

        let loss = dataset
            .attrs
            .iter()
            .find(|(n, _)| n == xyz_core::adaptive::LOSS_ATTR)
            .and_then(|(_, v)| match v {
                xyz_core::Value::F64(l) => Some(*l),
                _ => None,
            })
            .unwrap_or(f64::INFINITY);
        let points = dataset.cells.len() as u64;
        let added = points - had;
        let failed = outcome.failures.len() as u64;
        let secs = outcome.elapsed.as_secs_f64();
        let (out, format) = (dest.path(), dest.format());
        let mut say = super::super::args::summary_out(&dest);
        if self.json {
            let summary = json!({
                "function": sig.to_string(),
                "sha256": loaded.sha256,
                "output": out,
                "format": format.to_string(),
                "points": points,
                "added": added,
                "rounds": rounds,
                "loss": if loss.is_finite() { json!(loss) } else { json!(null) },
                "ok": added - failed,
                "failed": failed,
                "threads": pool.workers(),
                "elapsed_seconds": secs,
                "planning_seconds": planning,
                "dims": [{"name": xyz_core::adaptive::POINT_DIM, "size": points}],
                "failures": outcome.failures,
                "launched": loaded.launched.as_ref().map(|w| w.slot_reports()),
                "grid": grid.as_ref().map(|(_, sink)| sink.path()),
            });
            writeln!(say, "{}", serde_json::to_string_pretty(&summary)?)?;
        } else if !self.quiet {
            use super::super::args::count_of;
            let had_text = if had > 0 {
                format!(" after the {had} on record")
            } else {
                String::new()
            };
            writeln!(
                say,
                "{}: {}{had_text} in {} in {secs:.3} s ({}), loss {loss:.6}",
                sig.name,
                count_of(added, "point"),
                count_of(rounds as u64, "round"),
                count_of(pool.workers() as u64, "thread")
            )?;
            writeln!(
                say,
                "{} {} ({format}): dims {}={points}",
                if had > 0 { "merged into" } else { "wrote" },
                out.display(),
                xyz_core::adaptive::POINT_DIM
            )?;
            if let Some((sizes, sink)) = &grid {
                let dims: Vec<String> = study
                    .args
                    .iter()
                    .zip(sizes.0.iter())
                    .map(|((n, _), s)| format!("{n}={s}"))
                    .collect();
                writeln!(
                    say,
                    "wrote {} ({format}): the points read off on a grid, dims {}",
                    sink.path().display(),
                    dims.join(", ")
                )?;
            }
            if let Some(workers) = &loaded.launched {
                super::say_launched(&mut say, &workers.slot_reports())?;
            }
            super::say_failures(&outcome.failures, "point")?;
        }
        Ok(exit_codes::for_missing(failed > 0))
    }
}
