//! `xyz plot`: a line plot or a heatmap of one variable of a dataset, to PNG or SVG.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use xyz_core::{CellState, Column, Dataset, Format, Value};

use crate::exit_codes;
use crate::plot::{Axis, Plot, number, render};

/// Plot one variable of a dataset: a line per combination of the other dims against `--x`, or
/// a heatmap over `--x` and `--y`, with labelled axes (and a colour bar). Missing values leave
/// gaps in lines and grey cells in heatmaps.
#[derive(Debug, clap::Args)]
pub(crate) struct PlotCommand {
    /// The dataset, in any format xyz writes
    data: PathBuf,

    /// The variable to plot [default: the dataset's only variable]
    #[arg(long, value_name = "VAR")]
    var: Option<String>,

    /// The dim along the horizontal axis
    #[arg(long, value_name = "DIM")]
    x: String,

    /// A second dim, along the vertical axis: draws a heatmap
    #[arg(long, value_name = "DIM")]
    y: Option<String>,

    /// Fix a dim at one of its coordinates (repeatable); the dims neither plotted nor fixed
    /// become the series of a line plot
    #[arg(long = "sel", value_name = "DIM=VALUE")]
    sel: Vec<String>,

    /// The image to write; .png or .svg
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,

    /// The image's size in pixels
    #[arg(long, value_name = "WxH", default_value = "800x600", value_parser = parse_size)]
    size: (u32, u32),

    /// The dataset's format, whatever its extension: zarr, netcdf, parquet, csv or json
    #[arg(long, value_name = "FORMAT")]
    format: Option<Format>,

    /// Replace the image if it exists
    #[arg(long)]
    force: bool,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a size like 800x600 (each side 100 to 10000 pixels)");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let side = |t: &str| {
        t.trim()
            .parse::<u32>()
            .ok()
            .filter(|v| (100..=10_000).contains(v))
            .ok_or_else(bad)
    };
    Ok((side(w)?, side(h)?))
}

/// A coordinate as a label.
fn label(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::F64(f) => number(*f),
        other => other.to_string(),
    }
}

/// A dim of the variable: its name and coordinates.
struct Dim {
    name: String,
    coords: Column,
}

impl Dim {
    fn axis(&self) -> Axis {
        let labels = (0..self.coords.len())
            .map(|i| label(&self.coords.get(i)))
            .collect();
        let numbers = match &self.coords {
            Column::F64(v) => Some(v.clone()),
            Column::I64(v) => Some(v.iter().map(|x| *x as f64).collect()),
            _ => None,
        };
        Axis {
            name: self.name.clone(),
            labels,
            numbers,
        }
    }

    /// The index of the coordinate `text` names.
    fn find(&self, text: &str) -> anyhow::Result<usize> {
        let n = self.coords.len();
        let found = match &self.coords {
            Column::F64(v) => text.parse::<f64>().ok().and_then(|want| {
                let tolerance = 1e-9 * want.abs().max(1.0);
                v.iter().position(|c| (c - want).abs() <= tolerance)
            }),
            Column::I64(v) => text
                .parse::<i64>()
                .ok()
                .and_then(|w| v.iter().position(|c| *c == w)),
            Column::Bool(v) => text
                .parse::<bool>()
                .ok()
                .and_then(|w| v.iter().position(|c| *c == w)),
            Column::Str(v) => v.iter().position(|c| c == text),
        };
        found.with_context(|| {
            let shown: Vec<String> = (0..n.min(8)).map(|i| label(&self.coords.get(i))).collect();
            format!(
                "--sel {}={text}: no such coordinate; {} has {}{}",
                self.name,
                self.name,
                shown.join(", "),
                if n > 8 { ", …" } else { "" }
            )
        })
    }
}

impl PlotCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let svg = match self
            .output
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => true,
            Some("png") => false,
            _ => bail!(
                "-o {}: the image must be .png or .svg",
                self.output.display()
            ),
        };
        xyz_core::output::check_destination(&self.output, self.force)?;
        let ds = super::read_dataset(&self.data, self.format)?;
        let plot = self.plan(&ds)?;
        xyz_core::output::place_atomically(&self.output, |tmp| {
            render(&plot, tmp, svg, self.size).map_err(std::io::Error::other)
        })
        .with_context(|| format!("could not write {}", self.output.display()))?;
        eprintln!("wrote {}", self.output.display());
        Ok(exit_codes::OK)
    }

    /// Picks the variable, the axes, the fixed coordinates and the series out of `ds`.
    fn plan(&self, ds: &Dataset) -> anyhow::Result<Plot> {
        let var = match &self.var {
            Some(name) => ds.vars.iter().find(|v| v.name == *name).with_context(|| {
                let names: Vec<&str> = ds.vars.iter().map(|v| v.name.as_str()).collect();
                format!(
                    "--var {name}: {} has no such variable; it has {}",
                    self.data.display(),
                    names.join(", ")
                )
            })?,
            None => match &ds.vars[..] {
                [only] => only,
                vars => bail!(
                    "{} has {} variables; pick one with --var ({})",
                    self.data.display(),
                    vars.len(),
                    vars.iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        };
        if var.ty == xyz_abi::ScalarType::Str {
            bail!("--var {}: strings cannot be plotted", var.name);
        }
        let mut dims: Vec<Dim> = ds
            .dims
            .iter()
            .map(|d| Dim {
                name: d.name.clone(),
                coords: d.coords.clone(),
            })
            .collect();
        for e in &var.extra_dims {
            dims.push(Dim {
                name: e.name.clone(),
                coords: Column::I64((0..i64::from(e.size)).collect()),
            });
        }
        let names = || {
            dims.iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let dim_index = |name: &str, flag: &str| {
            dims.iter().position(|d| d.name == name).with_context(|| {
                format!(
                    "{flag} {name}: `{}` has no such dim; its dims are {}",
                    var.name,
                    names()
                )
            })
        };
        let x = dim_index(&self.x, "--x")?;
        let y = self.y.as_deref().map(|y| dim_index(y, "--y")).transpose()?;
        if y == Some(x) {
            bail!("--x and --y are both {}; pick two dims", self.x);
        }
        let mut fixed: Vec<Option<usize>> = vec![None; dims.len()];
        for sel in &self.sel {
            let (name, value) = sel
                .split_once('=')
                .with_context(|| format!("--sel {sel}: expected DIM=VALUE"))?;
            let d = dim_index(name.trim(), "--sel")?;
            if d == x || Some(d) == y {
                bail!(
                    "--sel {sel}: {} is plotted along an axis, so it cannot be fixed",
                    dims[d].name
                );
            }
            fixed[d] = Some(dims[d].find(value.trim())?);
        }
        let free: Vec<usize> = (0..dims.len())
            .filter(|d| *d != x && Some(*d) != y && fixed[*d].is_none())
            .collect();

        // Strides of the variable's values: swept dims, then extra dims.
        let sizes: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
        let strides = xyz_core::dataset::strides(&sizes);
        let e = var.elements();
        let value_at = |idx: &[usize]| -> f64 {
            let flat: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            if ds.cells[flat / e] != CellState::Ok {
                return f64::NAN;
            }
            match &var.data {
                Column::F64(v) => v[flat],
                Column::I64(v) if v[flat] == xyz_core::dataset::MISSING_I64 => f64::NAN,
                Column::I64(v) => v[flat] as f64,
                Column::Bool(v) => f64::from(u8::from(v[flat])),
                Column::Str(_) => f64::NAN,
            }
        };
        let mut base: Vec<usize> = fixed.iter().map(|f| f.unwrap_or(0)).collect();
        let mut title = var.name.clone();
        let fixed_text: Vec<String> = fixed
            .iter()
            .enumerate()
            .filter_map(|(d, f)| {
                Some(format!(
                    "{}={}",
                    dims[d].name,
                    label(&dims[d].coords.get((*f)?))
                ))
            })
            .collect();
        if !fixed_text.is_empty() {
            title = format!("{title} at {}", fixed_text.join(", "));
        }

        if let Some(y) = y {
            if !free.is_empty() {
                bail!(
                    "a heatmap shows two dims; fix the others with --sel DIM=VALUE: {}",
                    free.iter()
                        .map(|d| dims[*d].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let (nx, ny) = (sizes[x], sizes[y]);
            let mut values = Vec::with_capacity(nx * ny);
            for j in 0..ny {
                for i in 0..nx {
                    base[x] = i;
                    base[y] = j;
                    values.push(value_at(&base));
                }
            }
            if values.iter().all(|v| !v.is_finite()) {
                bail!("`{}` has no values there to plot", var.name);
            }
            return Ok(Plot::Heatmap {
                title,
                x: dims[x].axis(),
                y: dims[y].axis(),
                value: var.name.clone(),
                values,
            });
        }

        const MAX_SERIES: usize = 40;
        let n_series: usize = free.iter().map(|d| sizes[*d]).product();
        if n_series > MAX_SERIES {
            bail!(
                "{n_series} lines (one per combination of {}) is more than {MAX_SERIES}; fix some \
                 with --sel DIM=VALUE",
                free.iter()
                    .map(|d| dims[*d].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let mut series = Vec::with_capacity(n_series);
        for s in 0..n_series {
            let mut rest = s;
            let mut parts = Vec::new();
            for d in free.iter().rev() {
                base[*d] = rest % sizes[*d];
                rest /= sizes[*d];
            }
            for d in &free {
                parts.push(format!(
                    "{}={}",
                    dims[*d].name,
                    label(&dims[*d].coords.get(base[*d]))
                ));
            }
            let values: Vec<f64> = (0..sizes[x])
                .map(|i| {
                    base[x] = i;
                    value_at(&base)
                })
                .collect();
            series.push((parts.join(", "), values));
        }
        if series.iter().all(|(_, v)| v.iter().all(|x| !x.is_finite())) {
            bail!("`{}` has no values there to plot", var.name);
        }
        Ok(Plot::Lines {
            title,
            x: dims[x].axis(),
            value: var.name.clone(),
            series,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("640x480"), Ok((640, 480)));
        assert!(
            parse_size("640")
                .unwrap_err()
                .contains("not a size like 800x600")
        );
        assert!(parse_size("5x5").is_err());
    }
}
