//! `xyz sow`: write a sweep to disk as a crop, to be grown in batches anywhere.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;
use xyz_core::crop::{Crop, Sowing, Sown};

use super::{EngineOpts, SweepArgs, count};
use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  Sow the spec's sweep as crop `mandel` (in ./.xyz-mandel) in batches of 1000 cases:
    xyz sow mandel.toml --batchsize 1000

  Sow only the cases study.zarr lacks; reap then merges them into it:
    xyz sow mandel.toml --into study.zarr

  Sow it in 64 batches of shuffled cases, then grow and reap it:
    xyz sow mandel.toml --num-batches 64 --shuffle 1
    xyz grow mandel -j 8
    xyz reap mandel -o mandel.zarr";

/// Write a sweep to disk as a crop (.xyz-NAME/), to be grown in batches by any process.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct SowCommand {
    #[command(flatten)]
    sweep: SweepArgs,

    /// The crop's name [default: the spec's file name without extension, else the function's
    /// name]
    #[arg(long)]
    name: Option<String>,

    /// The directory to sow the crop in
    #[arg(long, value_name = "DIR", default_value = ".")]
    parent_dir: PathBuf,

    /// Cases per batch [default: at least 2500 cases a batch and at most about 1000 batches,
    /// unless --num-batches is given]
    #[arg(long, value_name = "B", value_parser = count, allow_negative_numbers = true)]
    batchsize: Option<u64>,

    /// Number of batches, at most one per case; the remainder goes to the first batches
    #[arg(long, value_name = "K", value_parser = count, allow_negative_numbers = true)]
    num_batches: Option<u64>,

    /// Shuffle the order of cases across batches with this seed (so every batch takes about
    /// as long)
    #[arg(long, value_name = "SEED")]
    shuffle: Option<u64>,

    /// Replace a crop of this name that holds another function, plan or space, discarding
    /// its results
    #[arg(long)]
    force: bool,

    /// Sow only the cases whose cells this dataset (.zarr, .nc or .parquet) lacks; `xyz reap`
    /// then merges the results into it
    #[arg(long, value_name = "DATA")]
    into: Option<PathBuf>,

    #[command(flatten)]
    lacking: super::lacking::LackingArgs,

    /// Print nothing but errors
    #[arg(short, long)]
    quiet: bool,

    /// Print the summary as JSON on stdout
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    cache: EngineOpts,
}

impl SowCommand {
    /// The cases of `bound` the dataset `into` lacks (every case if it does not exist yet),
    /// checked to merge with it.
    fn lacking_from(
        &self,
        into: &Path,
        bound: &xyz_core::BoundSpace,
        sig: &xyz_abi::Signature,
        sha: &str,
        spec: &xyz_core::Spec,
    ) -> anyhow::Result<xyz_core::harvest::Lacking> {
        if !into.exists() {
            return Ok(xyz_core::harvest::Lacking::all());
        }
        let format = super::args::format_of(into, None)?;
        let existing = xyz_core::output::read(into, format)?;
        let layout = xyz_core::Dataset::sweep(bound, sig, Some(sha), &spec.attrs, &spec.coords)
            .context("the spec's [coords]")?;
        let harvest = xyz_core::harvest::Harvest::new(
            existing,
            &layout,
            xyz_core::harvest::Conflicts::Refuse,
        )
        .with_context(|| format!("sowing into {}", into.display()))?;
        super::lacking::lacking(&harvest, bound, Some(sha), into, self.lacking)
    }

    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        if let Some(given) = &self.into {
            let format = super::args::format_of(given, None)?;
            anyhow::ensure!(
                format.is_self_describing(),
                "--into {}: results merge into a {} dataset, not {format}",
                given.display(),
                xyz::Format::extensions(xyz::Format::is_self_describing)
            );
        }
        let (spec, module) = self.sweep.load()?;
        if let Some(adaptive) = &spec.adaptive {
            return self.sow_adaptive(&spec, adaptive, &module);
        }
        // The bytes sown are the bytes checked: read once, then loaded by a worker that
        // refuses any other file (and caches a module's compiled code for the grows to come).
        let bytes = xyz_core::read_function_file(&module)?;
        let sha = xyz_core::sha256_hex(&bytes);
        let sig = self.cache.probe(&module, &sha)?;
        let bound = self.sweep.bind(&spec, &sig)?;
        // Refuse now, not at reap, a dataset the format given cannot hold.
        let layout = xyz_core::Dataset::layout(&bound, &sig, Some(&sha));
        for dest in self.into.iter().chain(spec.output.as_ref()) {
            if let Some(format) = xyz_core::Format::from_path(dest) {
                super::args::check_holds(dest, format, &layout)?;
            }
        }
        let into = self
            .into
            .as_deref()
            .map(std::path::absolute)
            .transpose()
            .context("resolving --into")?;
        let lacking = match &into {
            Some(into) => self.lacking_from(into, &bound, &sig, &sha, &spec)?,
            None => xyz_core::harvest::Lacking::all(),
        };
        if lacking.todo.as_ref().is_some_and(Vec::is_empty) {
            if !self.quiet && !self.json {
                println!(
                    "nothing to sow: {} holds every case of the sweep",
                    self.into.as_deref().unwrap_or(Path::new("")).display()
                );
            }
            if self.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "sown": "nothing",
                        "cases": 0,
                        "skipped": lacking.skipped,
                        "skipped_failed": lacking.skipped_failed,
                    }))?
                );
            }
            return Ok(exit_codes::OK);
        }
        let cases = lacking.count(bound.len());
        // Without a size or a count, about a thousand batches: a batch per case would make a
        // file per case, the cost that dominates a crop on a shared filesystem.
        let chosen =
            xyz_core::crop::plan::chosen_batchsize(self.batchsize, self.num_batches, cases);
        let (name, output) = self.name_and_output(&spec, &sig)?;
        let (crop, sown) = Crop::sow(
            &self.parent_dir,
            &Sowing {
                name: &name,
                function: &bytes,
                function_file: &xyz_core::crop::function_file(&module),
                sha256: &sha,
                signature: &sig,
                space: &spec.space,
                limits: &spec.limits,
                attrs: &spec.attrs,
                coords: &spec.coords,
                subset: lacking.todo.as_deref(),
                into: into.as_deref(),
                output: output.as_deref(),
                batchsize: self.batchsize.or(chosen),
                num_batches: self.num_batches,
                shuffle: self.shuffle,
                force: self.force,
                adaptive: None,
            },
        )?;
        let plan = crop.plan();
        let grown = plan.batches() - crop.missing()?.len() as u64;
        let what = match sown {
            Sown::New => "new",
            Sown::Kept => "kept",
            Sown::Replaced => "replaced",
        };
        if self.json {
            let summary = json!({
                "name": crop.name(),
                "dir": crop.dir(),
                "sown": what,
                "function": sig.to_string(),
                "sha256": crop.sha256(),
                "cases": plan.cases(),
                "batches": plan.batches(),
                "batchsize": plan.batchsize(),
                "batchsize_chosen": chosen.is_some(),
                "shuffle": plan.shuffle(),
                "grown": grown,
                "skipped": lacking.skipped,
                "skipped_failed": lacking.skipped_failed,
            });
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else if !self.quiet {
            let size = match plan.batchsize() {
                Some(b) => format!("of {b} cases"),
                None => {
                    let r = plan.positions(1);
                    format!("of up to {} cases", r.end - r.start)
                }
            };
            let verb = match sown {
                Sown::New => "sowed",
                Sown::Kept => "kept the identical",
                Sown::Replaced => "replaced",
            };
            println!(
                "{verb} crop {} in {}: {} cases in {} batches {size}{}",
                crop.name(),
                crop.dir().display(),
                plan.cases(),
                plan.batches(),
                if plan.shuffle().is_some() {
                    ", shuffled"
                } else {
                    ""
                }
            );
            if let Some(b) = chosen {
                println!(
                    "chose {b} cases per batch (no --batchsize or --num-batches): at least {} \
                     cases a batch, at most about {} batches; for a function that takes long per \
                     case, pick --batchsize by how long a batch should take",
                    xyz_core::crop::plan::DEFAULT_MIN_BATCHSIZE,
                    xyz_core::crop::plan::DEFAULT_BATCHES
                );
            }
            if let Some(line) = into
                .as_deref()
                .and_then(|i| super::lacking::summary(&lacking, i))
            {
                println!("{line}");
            }
            if sown == Sown::Kept {
                println!("{grown} of {} batches already grown", plan.batches());
            }
        }
        Ok(exit_codes::OK)
    }

    /// The crop's name (given, or the spec's or function's) and where reap writes by default
    /// (the spec's output, made absolute).
    fn name_and_output(
        &self,
        spec: &xyz_core::Spec,
        sig: &xyz_abi::Signature,
    ) -> anyhow::Result<(String, Option<PathBuf>)> {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| self.sweep.name(&sig.name));
        let output = spec
            .output
            .as_deref()
            .map(std::path::absolute)
            .transpose()
            .context("resolving the spec's output")?;
        Ok((name, output))
    }

    /// Sows an adaptive study: its first round, the next ones chosen by its growers.
    fn sow_adaptive(
        &self,
        spec: &xyz_core::Spec,
        adaptive: &xyz_core::adaptive::Adaptive,
        module: &Path,
    ) -> anyhow::Result<u8> {
        for (given, flag) in [
            (self.into.is_some(), "--into"),
            (self.num_batches.is_some(), "--num-batches"),
            (self.shuffle.is_some(), "--shuffle"),
        ] {
            anyhow::ensure!(
                !given,
                "{flag}: an [adaptive] study's crop chooses its points a round at a time, each \
                 cut into batches of --batchsize cases (1 by default); {flag} does not apply"
            );
        }
        let bytes = xyz_core::read_function_file(module)?;
        let sha = xyz_core::sha256_hex(&bytes);
        let sig = self.cache.probe(module, &sha)?;
        let (name, output) = self.name_and_output(spec, &sig)?;
        let (crop, sown) = Crop::sow(
            &self.parent_dir,
            &Sowing {
                name: &name,
                function: &bytes,
                function_file: &xyz_core::crop::function_file(module),
                sha256: &sha,
                signature: &sig,
                space: &spec.space,
                limits: &spec.limits,
                attrs: &spec.attrs,
                coords: &spec.coords,
                subset: None,
                into: None,
                output: output.as_deref(),
                batchsize: self.batchsize,
                num_batches: None,
                shuffle: None,
                force: self.force,
                adaptive: Some(adaptive),
            },
        )?;
        let plan = crop.plan();
        let study = crop
            .study_status()
            .context("the crop sown is not adaptive")?;
        let what = match sown {
            Sown::New => "new",
            Sown::Kept => "kept",
            Sown::Replaced => "replaced",
        };
        if self.json {
            let summary = json!({
                "name": crop.name(),
                "dir": crop.dir(),
                "sown": what,
                "function": sig.to_string(),
                "sha256": crop.sha256(),
                "cases": plan.cases(),
                "batches": plan.batches(),
                "batchsize": plan.batchsize(),
                "adaptive": study,
            });
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else if !self.quiet {
            let verb = match sown {
                Sown::New => "sowed",
                Sown::Kept => "kept the identical",
                Sown::Replaced => "replaced",
            };
            let goal = match (adaptive.n, adaptive.loss_goal) {
                (Some(n), Some(l)) => format!("{n} points or a loss of {l}"),
                (Some(n), None) => format!("{n} points"),
                (None, Some(l)) => format!("a loss of {l}"),
                (None, None) => "no point left".into(),
            };
            println!(
                "{verb} adaptive crop {} in {}: {} rounds so far ({} points in {} batches); \
                 its growers choose the next rounds until {goal}",
                crop.name(),
                crop.dir().display(),
                study.rounds,
                plan.cases(),
                plan.batches(),
            );
        }
        Ok(exit_codes::OK)
    }
}
