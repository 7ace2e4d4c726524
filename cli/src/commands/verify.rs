//! `xyz verify`: evaluate cells of a dataset again and compare them with those on record.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::json;
use xyz_core::verify::{Cells, choose, verify};
use xyz_core::{Value, executor};

use super::WasmOpts;
use crate::exit_codes;

const AFTER_HELP: &str = "EXAMPLES:
  Evaluate 100 cells drawn from the dataset again, here:
    xyz verify mandel.zarr --function mandel.wasm

  Every failed cell, and every cell, on two nodes of an allocation:
    xyz verify mandel.zarr --function mandel.wasm --failed
    xyz verify mandel.zarr --function mandel.wasm --all -j 2 --launcher 'srun -N1 -n1 --exclusive'";

/// Evaluate cells of a dataset again, with the function it records, and compare them with
/// those on record, bit for bit; exit 4 if any differs.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct VerifyCommand {
    /// The dataset (Zarr, netCDF or Parquet)
    data: PathBuf,

    /// The function's module or library: the one whose SHA-256 the dataset records
    #[arg(long, value_name = "MODULE")]
    function: PathBuf,

    /// How many cells to draw from those evaluated (values and failures)
    #[arg(long, value_name = "N", default_value_t = 100, conflicts_with_all = ["failed", "all"])]
    cells: usize,

    /// The seed of the draw: the same cells for the same seed
    #[arg(long, value_name = "SEED", default_value_t = 0)]
    seed: u64,

    /// Every failed cell
    #[arg(long, conflicts_with = "all")]
    failed: bool,

    /// Every evaluated cell
    #[arg(long)]
    all: bool,

    /// Worker threads; 0 means one per logical core
    #[arg(short = 'j', long, value_name = "N", default_value_t = 0)]
    jobs: usize,

    /// Print the report as JSON on stdout
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    wasm: WasmOpts,

    #[command(flatten)]
    launcher: super::launcher::LauncherArgs,
}

impl VerifyCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let format = xyz_core::Format::from_path(&self.data)
            .filter(|f| f.is_self_describing())
            .with_context(|| {
                format!(
                    "{}: verify reads a dataset that keeps its layout: {}",
                    self.data.display(),
                    xyz_core::Format::titles(xyz_core::Format::is_self_describing)
                )
            })?;
        let dataset = xyz_core::output::read(&self.data, format)?;
        let launcher = self.launcher.launcher(self.jobs)?;
        let loaded = self
            .wasm
            .clone()
            .launched(launcher)
            .load(&self.function, &xyz_core::Limits::default())?;
        let function = &*loaded.function;
        let cells = choose(
            &dataset,
            if self.all {
                Cells::All
            } else if self.failed {
                Cells::Failed
            } else {
                Cells::Sample {
                    n: self.cells,
                    seed: self.seed,
                }
            },
        );
        let pool = executor::with_threads(self.jobs)?;
        let found = verify(&dataset, function, &*pool, &cells)
            .with_context(|| format!("verifying {}", self.data.display()))?;
        let attr = |name: &str| {
            dataset
                .attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| match v {
                    Value::Str(s) => s.clone(),
                    v => v.to_string(),
                })
        };
        let provenance = [
            ("function", attr("xyz_function")),
            ("sha256", attr("xyz_function_sha256")),
            ("xyz", attr("xyz_version")),
        ];
        let mut out = std::io::stdout().lock();
        if self.json {
            let report = json!({
                "dataset": self.data,
                "checked": found.checked,
                "failed": found.failed,
                "differ": found.differ.iter().map(|d| json!({
                    "cell": d.cell,
                    "at": d.place,
                    "what": d.what,
                })).collect::<Vec<_>>(),
                "made_by": provenance.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        } else if found.differ.is_empty() {
            writeln!(
                out,
                "{}: {} evaluated again ({} of them failures), all as on record",
                self.data.display(),
                super::args::count_of(found.checked as u64, "cell"),
                found.failed
            )?;
        } else {
            writeln!(
                out,
                "{}: {} of {} evaluated again differ from those on record:",
                self.data.display(),
                found.differ.len(),
                super::args::count_of(found.checked as u64, "cell"),
            )?;
            for d in &found.differ {
                writeln!(out, "  {}: {}", d.place.join(", "), d.what)?;
            }
            let made: Vec<String> = provenance
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
                .collect();
            writeln!(out, "the dataset was made by {}", made.join(", "))?;
        }
        Ok(if found.differ.is_empty() {
            exit_codes::OK
        } else {
            exit_codes::CELLS_DIFFER
        })
    }
}
