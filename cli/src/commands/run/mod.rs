//! `xyz run`: evaluate a spec in this process and write the dataset.

use std::path::PathBuf;

use std::io::Write as _;

use anyhow::Context as _;
use serde_json::json;
use xyz_core::{Runner, executor};

use super::{OutputArgs, SweepArgs, WasmOpts};
use crate::exit_codes;

mod adaptive;

const AFTER_HELP: &str = "EXAMPLES:
  Sweep the function a spec names and write SPEC.zarr:
    xyz run mandel.toml

  Override a combo and a constant, write CSV, use 4 threads:
    xyz run mandel.toml --combo 'x={ linspace = [-2, 1, 50] }' --constant maxiter=200 -o m.csv -j 4

  Without a spec:
    xyz run --function add.wasm --combo a=1,2,3 --combo b=0.5,1.5 --constant c=0 -o add.zarr";

/// Evaluate every case of a sweep in this process and write the dataset.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct RunCommand {
    #[command(flatten)]
    sweep: SweepArgs,

    #[command(flatten)]
    out: OutputArgs,

    #[command(flatten)]
    lacking: super::lacking::LackingArgs,

    /// Worker threads; 0 means one per logical core
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    jobs: usize,

    /// For an [adaptive] study: also write its values read off on a grid of N (one argument)
    /// or NxM (two) values evenly over the bounds, linear between the points, as STEM-grid.EXT
    /// beside the output
    #[arg(long, value_name = "N|NxM", value_parser = super::grid::parse_grid)]
    grid: Option<super::grid::GridSize>,

    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,

    /// Print the summary as JSON on stdout
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    wasm: WasmOpts,

    #[command(flatten)]
    launcher: super::launcher::LauncherArgs,
}

impl RunCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        // Before any thread starts: a Ctrl-C or SIGTERM stops the run, and the output being
        // written is removed, the one that was there left.
        let interrupted = crate::interrupt::on_interrupt();
        match self.sweep(interrupted) {
            Err(e) if interrupted.load(std::sync::atomic::Ordering::Relaxed) => {
                match crate::interrupt::stopped_by() {
                    Some((signal, code)) => {
                        eprintln!(
                            "stopped by {signal}: nothing was written, what was there is left"
                        );
                        Ok(code)
                    }
                    None => Err(e),
                }
            }
            done => done,
        }
    }

    /// Runs the sweep, stopping when `interrupted` is set.
    fn sweep(self, interrupted: &'static std::sync::atomic::AtomicBool) -> anyhow::Result<u8> {
        let (spec, module) = self.sweep.load()?;
        let launcher = self.launcher.launcher(self.jobs)?;
        let loaded = self
            .wasm
            .clone()
            .launched(launcher)
            .load(&module, &spec.limits)?;
        let function = &*loaded.function;
        let sig = function.signature().clone();
        if let Some(study) = &spec.adaptive {
            return self.adaptive(&spec, study, &loaded, interrupted);
        }
        if self.grid.is_some() {
            return Err(crate::UsageError(
                "--grid reads an [adaptive] study's points off on a grid; this spec has no \
                 [adaptive] section"
                    .into(),
            )
            .into());
        }
        let bound = self.sweep.bind(&spec, &sig)?;

        let dest = self.out.resolve(spec.output.as_deref(), || {
            PathBuf::from(format!("{}.zarr", self.sweep.name(&sig.name)))
        })?;

        let pool = executor::with_threads(self.jobs)?;
        let bar = crate::progress::cases_bar(bound.len(), !self.quiet && !self.json);
        let tick = |n: u64| bar.inc(n);
        let mut runner = Runner::new(function, &*pool);
        runner.progress(&tick).cancel(interrupted);
        // Merging into an existing dataset takes the results chunk by chunk, so only the merged
        // dataset is held.
        let layout =
            xyz_core::Dataset::sweep(&bound, &sig, function.sha256(), &spec.attrs, &spec.coords)
                .context("the spec's [coords]")?;
        let run_dims: Vec<(String, usize)> = bound
            .dims()
            .iter()
            .map(|d| (d.name.clone(), d.coords.len()))
            .collect();
        dest.check_holds(&layout)?;
        // Only what the dataset lacks is evaluated, unless --recompute: the same function (by
        // SHA-256) and, as the merge checks, the same constants. With --overwrite every cell
        // of the sweep is evaluated again and replaces what the dataset holds (xyzpy's
        // `overwrite=True`).
        let mut args = self.lacking;
        args.recompute |= dest.overwrites();
        // A merge into a store read a window at a time, where none of the new cases can be
        // held there (or all are evaluated again), is written a window at a time too.
        let windowed = match dest.merge_windows(&layout)? {
            Some(merge) => {
                super::lacking::lacking_of_windows(&merge, function.sha256(), dest.path(), args)?
                    .map(|lacking| (merge, lacking))
            }
            None => None,
        };
        // A dataset written a window at a time is never held whole; others are.
        if !dest.writes_windows() && windowed.is_none() {
            check_memory(&bound, &sig)?;
        }
        let mut lacking = xyz_core::harvest::Lacking::all();
        let harvest = match windowed {
            Some(_) => None,
            None => dest.harvest(&layout)?,
        };
        let (outcome, how, dims) = match (windowed, harvest) {
            (Some((merge, todo)), _) => {
                lacking = todo;
                let dims = merge
                    .layout()
                    .dims
                    .iter()
                    .map(|d| (d.name.clone(), d.coords.len()))
                    .collect();
                let outcome = dest.write_merge_windows::<_, anyhow::Error>(merge, |put| {
                    let cells = xyz_core::output::window_cells(dest.format(), &layout);
                    runner.run_windows(&bound, &layout, cells, put)
                });
                bar.finish_and_clear();
                (outcome?, "merged into", dims)
            }
            (None, Some(harvest)) => {
                lacking = super::lacking::lacking(
                    &harvest,
                    &bound,
                    function.sha256(),
                    dest.path(),
                    args,
                )?;
                let outcome = match &lacking.todo {
                    None => runner.run_into(&bound, harvest),
                    Some(todo) => {
                        bar.set_length(todo.len() as u64);
                        runner.run_cases_into(&bound, todo, harvest)
                    }
                };
                bar.finish_and_clear();
                let (harvest, outcome) = outcome?.split();
                let merged = dest
                    .write_merged(harvest)
                    .with_context(|| format!("writing the dataset of {}", sig.name))?;
                let dims = merged
                    .dims
                    .iter()
                    .map(|d| (d.name.clone(), d.coords.len()))
                    .collect();
                (outcome, "merged into", dims)
            }
            // Every format takes the grid a window at a time (netCDF through a spill), written
            // as soon as its cases are done, so the dataset is never held whole.
            (None, None) if dest.writes_windows() => {
                let outcome = dest.write_windows::<_, anyhow::Error>(&layout, |write| {
                    let cells = xyz_core::output::window_cells(dest.format(), &layout);
                    runner.run_windows(&bound, &layout, cells, write)
                });
                bar.finish_and_clear();
                let outcome = outcome?;
                (outcome, "wrote", run_dims)
            }
            (None, None) => {
                let outcome = runner.run(&bound);
                bar.finish_and_clear();
                let (mut dataset, outcome) = outcome?.split();
                dataset.dress_as(&layout);
                dest.write(&dataset)
                    .with_context(|| format!("writing the dataset of {}", sig.name))?;
                (outcome, "wrote", run_dims)
            }
        };
        let (out, format) = (dest.path(), dest.format());
        let mut say = super::args::summary_out(&dest);

        let failed = outcome.failures.len() as u64;
        let evaluated = lacking.count(bound.len());
        let skipped = lacking.skipped;
        let ok = evaluated - failed;
        let secs = outcome.elapsed.as_secs_f64();
        if self.json {
            let summary = json!({
                "function": sig.to_string(),
                "sha256": loaded.sha256,
                "output": out,
                "format": format.to_string(),
                "cases": bound.len(),
                "evaluated": evaluated,
                "skipped": skipped,
                "skipped_failed": lacking.skipped_failed,
                "ok": ok,
                "failed": failed,
                "threads": pool.workers(),
                "elapsed_seconds": secs,
                "dims": dims.iter().map(|(name, size)| json!({"name": name, "size": size})).collect::<Vec<_>>(),
                "failures": outcome.failures,
                "launched": loaded.launched.as_ref().map(|w| w.slot_reports()),
            });
            writeln!(say, "{}", serde_json::to_string_pretty(&summary)?)?;
        } else if !self.quiet {
            let rate = if secs > 0.0 {
                evaluated as f64 / secs
            } else {
                f64::INFINITY
            };
            writeln!(
                say,
                "{}: {} in {secs:.3} s ({rate:.0} cases/s, {})",
                sig.name,
                super::args::count_of(evaluated, "case"),
                super::args::count_of(pool.workers() as u64, "thread")
            )?;
            if let Some(line) = super::lacking::summary(&lacking, out) {
                writeln!(say, "{line}")?;
            }
            let dims: Vec<String> = dims
                .iter()
                .map(|(name, size)| format!("{name}={size}"))
                .collect();
            writeln!(
                say,
                "{how} {} ({format}): dims {}",
                out.display(),
                dims.join(", ")
            )?;
            if let Some(workers) = &loaded.launched {
                say_launched(&mut say, &workers.slot_reports())?;
            }
            say_failures(&outcome.failures, "case")?;
        }
        Ok(exit_codes::for_missing(failed > 0))
    }
}

/// The first failures of a run on stderr, as diagnostics (--json puts them all on stdout),
/// each `what` (a case, a point) named by its number and arguments.
fn say_failures(failures: &[xyz_core::CaseFailure], what: &str) -> anyhow::Result<()> {
    if failures.is_empty() {
        return Ok(());
    }
    let mut say = std::io::stderr();
    writeln!(
        say,
        "{} failed (their cells are missing; {what}s are counted from 0):",
        super::args::count_of(failures.len() as u64, what)
    )?;
    for f in failures.iter().take(10) {
        let args: Vec<String> = f.args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            say,
            "  {what} {} ({}): {}: {}",
            f.case,
            args.join(", "),
            f.kind,
            f.message
        )?;
    }
    if failures.len() > 10 {
        writeln!(
            say,
            "  ... and {} more (--json lists all)",
            failures.len() - 10
        )?;
    }
    Ok(())
}

/// What became of the workers of a `--launcher`: one line in all, then one per slot that lost
/// a worker or failed to start one.
fn say_launched(
    say: &mut dyn std::io::Write,
    slots: &[xyz_core::SlotReport],
) -> anyhow::Result<()> {
    use super::args::count_of;
    let sum = |f: fn(&xyz_core::SlotReport) -> u64| slots.iter().map(f).sum::<u64>();
    writeln!(
        say,
        "launched {} in {}: {} answered, {} lost in a call (each call made again), {} \
         failed to start",
        count_of(sum(|s| s.started), "worker"),
        count_of(slots.len() as u64, "slot"),
        count_of(sum(|s| s.calls), "call"),
        sum(|s| s.lost),
        sum(|s| s.failed_starts),
    )?;
    for s in slots.iter().filter(|s| s.lost > 0 || s.failed_starts > 0) {
        let given_up = if s.given_up { ", given up" } else { "" };
        writeln!(
            say,
            "  slot {}: {} lost, {} failed to start{given_up}; last: {}",
            s.slot,
            count_of(s.lost, "worker"),
            s.failed_starts,
            s.last_error.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

/// Refuses, before anything runs, a dataset that would not fit in the memory this process may
/// still take, for an output that holds it whole (a merge, or a format not written a window at
/// a time).
fn check_memory(bound: &xyz_core::BoundSpace, sig: &xyz_abi::Signature) -> anyhow::Result<()> {
    xyz_core::memory::check_held_whole(bound, sig).map_err(|e| {
        anyhow::anyhow!(
            "{e}: write it to Zarr, Parquet, CSV or JSON (written a window at a time, never \
             held whole), or split the sweep"
        )
    })
}
