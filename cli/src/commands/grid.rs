//! `--grid N|NxM` of `xyz run` and `xyz reap`: an adaptive study's values read off on a grid,
//! written beside its dataset.

use anyhow::Context as _;
use xyz::output::Sink;
use xyz_core::adaptive::Adaptive;

use super::OutputArgs;

/// The values per argument of `--grid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GridSize(pub(crate) Vec<usize>);

/// `N` or `NxM`: the values per argument of a grid, each 2 to 100000.
pub(crate) fn parse_grid(s: &str) -> Result<GridSize, String> {
    let sizes: Option<Vec<usize>> = s
        .split(['x', 'X'])
        .map(|t| {
            t.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (2..=100_000).contains(n))
        })
        .collect();
    match sizes {
        Some(sizes) if (1..=2).contains(&sizes.len()) => Ok(GridSize(sizes)),
        _ => Err(format!(
            "`{s}` is not a grid: N for one argument or NxM for two, each 2 to 100000"
        )),
    }
}

/// Where the grid of `study`'s dataset at `dest` goes (`STEM-grid.EXT` beside it), once
/// `size` is checked to give a size per adaptive argument.
pub(crate) fn grid_sink(
    size: &GridSize,
    study: &Adaptive,
    out: &OutputArgs,
    dest: &Sink,
) -> anyhow::Result<Sink> {
    let n = study.args.len();
    if size.0.len() != n {
        return Err(crate::UsageError(format!(
            "--grid: {} values for {n} adaptive argument{}; give {}",
            size.0.len(),
            if n == 1 { "" } else { "s" },
            if n == 1 { "N" } else { "NxM" }
        ))
        .into());
    }
    out.beside(dest, "grid")
}

/// Writes the values of `dataset` (the study `study`'s, written to `dest`) on the grid
/// `size` into `sink`.
pub(crate) fn write_grid(
    dataset: &xyz_core::Dataset,
    study: &Adaptive,
    size: &GridSize,
    dest: &Sink,
    sink: &Sink,
) -> anyhow::Result<()> {
    let name = dest
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let on_grid = xyz_core::adaptive::grid(dataset, study, &size.0, &name);
    sink.write(&on_grid)
        .with_context(|| format!("writing the grid of {}", dest.path().display()))
}
