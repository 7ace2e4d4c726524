//! `xyz plot`: a line plot or a heatmap of one variable of a dataset or of a growing crop, to
//! PNG or SVG or in the terminal, once or as the crop fills in.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use xyz_core::{CellState, Column, Dataset, Value};

use super::source::{Source, SourceArgs, WatchArgs};
use crate::exit_codes;
use crate::plot::{Axis, Plot, number, render};

const AFTER_HELP: &str = "EXAMPLES:
  A heatmap of a dataset, to PNG:
    xyz plot mandel.zarr --x x --y y -o mandel.png

  The same of crop `mandel` while it grows, drawn in the terminal and again as batches land:
    xyz plot mandel --x x --y y --term --watch

  Kept up to date in an image (open it in a viewer that reloads):
    xyz plot mandel --x x --y y -o live.png --watch";

/// Plot one variable of a dataset, or of a crop's results so far: a line per combination of
/// the other dims against `--x`, or a heatmap over `--x` and `--y`, with labelled axes (and a
/// colour bar). Missing values (and cells not grown yet) leave gaps in lines and grey cells in
/// heatmaps.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct PlotCommand {
    #[command(flatten)]
    source: SourceArgs,

    /// The variable to plot [default: the dataset's only variable]
    #[arg(long, value_name = "VAR")]
    var: Option<String>,

    /// The dim along the horizontal axis, or a sampled argument: its samples are then drawn as
    /// points at its values
    #[arg(long, value_name = "DIM")]
    x: String,

    /// A second dim, along the vertical axis: draws a heatmap
    #[arg(long, value_name = "DIM")]
    y: Option<String>,

    /// Fix a dim at the coordinate nearest VALUE (repeatable), or keep only the coordinates
    /// from LO to HI with DIM=LO:HI (either end may be left out), for any dim, plotted or not;
    /// the dims neither plotted nor fixed become the series of a line plot
    #[arg(long = "sel", value_name = "DIM=VALUE|LO:HI")]
    sel: Vec<String>,

    /// The image to write; .png or .svg
    #[arg(short, long, value_name = "FILE", required_unless_present = "term")]
    output: Option<PathBuf>,

    /// Draw the plot in the terminal (Unicode half blocks in 24-bit colour), at its size
    #[arg(long)]
    term: bool,

    #[command(flatten)]
    watch: WatchArgs,

    /// Colour a heatmap by the logarithm of its values (cells not above zero are grey)
    #[arg(long)]
    log: bool,

    /// What of a complex variable to plot: its modulus, real or imaginary part, or phase
    /// (argument, in radians) [default: abs]
    #[arg(long, value_enum, value_name = "PART")]
    part: Option<Part>,

    /// The image's size in pixels
    #[arg(long, value_name = "WxH", default_value = "800x600", value_parser = parse_size)]
    size: (u32, u32),

    /// Replace the image if it exists
    #[arg(long)]
    force: bool,
}

/// What of a complex value `xyz plot` draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// The modulus, |z|.
    Abs,
    /// The real part.
    Real,
    /// The imaginary part.
    Imag,
    /// The phase (argument) in radians, from -π to π.
    Arg,
}

impl Part {
    fn of(self, z: xyz_core::Complex64) -> f64 {
        match self {
            Part::Abs => z.norm(),
            Part::Real => z.re,
            Part::Imag => z.im,
            Part::Arg => z.arg(),
        }
    }

    /// The name of this part of variable `var`, for titles and colour bars.
    fn name(self, var: &str) -> String {
        match self {
            Part::Abs => format!("|{var}|"),
            Part::Real => format!("Re {var}"),
            Part::Imag => format!("Im {var}"),
            Part::Arg => format!("arg {var}"),
        }
    }
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
    /// The axis of the coordinates at `picked`: by value (on a log scale for a logspace)
    /// where they are numbers, else by position.
    fn axis(&self, picked: &[usize]) -> Axis {
        let labels = picked.iter().map(|&i| label(&self.coords.get(i))).collect();
        match self.number(0) {
            Some(_) => Axis::numeric(
                self.name.clone(),
                labels,
                picked
                    .iter()
                    .map(|&i| self.number(i).unwrap_or(f64::NAN))
                    .collect(),
            ),
            None => Axis {
                name: self.name.clone(),
                labels,
                numbers: None,
                log: false,
            },
        }
    }

    /// Coordinate `i` as a number, for numeric dims.
    fn number(&self, i: usize) -> Option<f64> {
        match &self.coords {
            Column::F64(v) => v.get(i).copied(),
            Column::I64(v) => v.get(i).map(|x| *x as f64),
            _ => None,
        }
    }

    /// The indices of the coordinates from `lo` to `hi` (text after `DIM=`, as `LO:HI`).
    fn range(&self, lo: &str, hi: &str) -> anyhow::Result<Vec<usize>> {
        let bound = |t: &str, open: f64| -> anyhow::Result<f64> {
            if t.trim().is_empty() {
                return Ok(open);
            }
            t.trim()
                .parse::<f64>()
                .with_context(|| format!("--sel {}={lo}:{hi}: `{t}` is not a number", self.name))
        };
        if self.number(0).is_none() && !self.coords.is_empty() {
            bail!(
                "--sel {}={lo}:{hi}: a range needs a numeric dim; {} holds {}",
                self.name,
                self.name,
                self.coords.ty()
            );
        }
        let (a, b) = (bound(lo, f64::NEG_INFINITY)?, bound(hi, f64::INFINITY)?);
        let picked: Vec<usize> = (0..self.coords.len())
            .filter(|&i| self.number(i).is_some_and(|x| a <= x && x <= b))
            .collect();
        if picked.is_empty() {
            bail!(
                "--sel {}={lo}:{hi}: no coordinate of {} lies in that range",
                self.name,
                self.name
            );
        }
        Ok(picked)
    }

    /// The index of the coordinate `text` names: for a numeric dim, the nearest to it.
    fn find(&self, text: &str) -> anyhow::Result<usize> {
        let n = self.coords.len();
        let found = match &self.coords {
            Column::F64(_) | Column::I64(_) => text.trim().parse::<f64>().ok().and_then(|want| {
                (0..n)
                    .filter_map(|i| Some((i, (self.number(i)? - want).abs())))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(i, _)| i)
            }),
            Column::C128(v) => xyz_core::value::parse_complex(text).and_then(|want| {
                (0..n)
                    .map(|i| (i, (v[i] - want).norm()))
                    .filter(|(_, d)| !d.is_nan())
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(i, _)| i)
            }),
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
        let svg = match &self.output {
            None => false,
            Some(output) => match output
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("svg") => true,
                Some("png") => false,
                _ => bail!("-o {}: the image must be .png or .svg", output.display()),
            },
        };
        let interval = self.watch.interval()?;
        if let Some(output) = &self.output {
            xyz_core::output::check_destination(output, self.force)?;
        }
        let source = self.source.open()?;
        if self.watch.watch && matches!(source, Source::File(..)) {
            bail!(
                "--watch: {} is a dataset file, which does not grow; --watch follows a crop",
                source.describe()
            );
        }
        let term = console::Term::stdout();
        let mut drawn = 0;
        loop {
            let read = source.read()?;
            let plot = match self.plan(&read.dataset, &source.describe()) {
                // A crop with nothing grown yet has nothing to draw: wait for its first batches.
                Err(e) if self.watch.watch && read.grown.is_some_and(|(g, _)| g == 0) => {
                    if drawn == 0 {
                        eprintln!("{e:#}; waiting for the first batches");
                    }
                    None
                }
                plot => Some(plot?),
            };
            if let Some(plot) = &plot {
                if let Some(output) = &self.output {
                    // Written whole and renamed into place, so a viewer never reads half of it.
                    xyz_core::output::place_atomically(output, |tmp| {
                        render(plot, tmp, svg, self.size).map_err(std::io::Error::other)
                    })
                    .with_context(|| format!("could not write {}", output.display()))?;
                }
                if self.term {
                    // The screen less the line the cursor ends on, and a crop's own line.
                    let (rows, cols) = term.size();
                    let rows =
                        usize::from(rows).saturating_sub(1 + usize::from(read.grown.is_some()));
                    let mut lines = crate::plot::term::draw(plot, usize::from(cols), rows);
                    if let Some((grown, batches)) = read.grown {
                        lines.push(format!(
                            "{}: {grown}/{batches} batches grown{}",
                            source.describe(),
                            if self.watch.watch && grown < batches {
                                "; drawn again as batches land (Ctrl-C stops)"
                            } else {
                                ""
                            }
                        ));
                    }
                    if term.is_term() {
                        term.clear_last_lines(drawn)?;
                    }
                    term.write_line(&lines.join("\n"))?;
                    drawn = lines.len();
                } else if let Some(output) = &self.output {
                    match read.grown {
                        Some((grown, batches)) => eprintln!(
                            "wrote {} ({grown}/{batches} batches grown)",
                            output.display()
                        ),
                        None => eprintln!("wrote {}", output.display()),
                    }
                }
            }
            if !self.watch.watch {
                return Ok(exit_codes::OK);
            }
            let grown = read.grown.map_or(0, |(g, _)| g);
            if source.wait_for_change(grown, interval)?.is_none() {
                return Ok(exit_codes::OK);
            }
        }
    }

    /// Picks the variable, the axes, the fixed coordinates and the series out of `ds`.
    fn plan(&self, ds: &Dataset, name: &str) -> anyhow::Result<Plot> {
        let var = match &self.var {
            Some(var) => ds.vars.iter().find(|v| v.name == *var).with_context(|| {
                let names: Vec<&str> = ds.vars.iter().map(|v| v.name.as_str()).collect();
                format!(
                    "--var {}: {name} has no such variable; it has {}",
                    self.var.as_deref().unwrap_or_default(),
                    names.join(", ")
                )
            })?,
            None => match &ds.vars[..] {
                [only] => only,
                vars => bail!(
                    "{name} has {} variables; pick one with --var ({})",
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
        let part = match (self.part, var.ty) {
            (part, xyz_abi::ScalarType::C128) => part.unwrap_or(Part::Abs),
            (Some(_), ty) => bail!(
                "--part: `{}` holds {ty} values, not complex ones; --part picks what of a complex \
                 variable to plot",
                var.name
            ),
            (None, _) => Part::Abs,
        };
        let shown = if var.ty == xyz_abi::ScalarType::C128 {
            part.name(&var.name)
        } else {
            var.name.clone()
        };
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
        if self.log && self.y.is_none() {
            bail!("--log colours a heatmap by the logarithm of its values; draw one with --y");
        }
        // A coordinate along a dim (a sampled argument) as --x: its dim, drawn as points at
        // the coordinate's values.
        let along = ds
            .aux_coords
            .iter()
            .find(|a| a.name == self.x && !dims.iter().any(|d| d.name == a.name));
        // An adaptive study's points: those of the combinations --sel keeps.
        let combination = combination_coords(ds);
        let kept = self.kept_points(ds, &combination)?;
        if let (Some(ax), Some(y)) = (along, &self.y)
            && let Some(ay) = ds
                .aux_coords
                .iter()
                .find(|a| a.name == *y && a.dim == ax.dim && a.name != ax.name)
        {
            let groups = groups_of(&combination, &kept);
            if groups.len() > 1 {
                bail!(
                    "--x {} --y {}: a heatmap of points shows one combination; pick one with \
                     --sel ({})",
                    ax.name,
                    ay.name,
                    combination
                        .iter()
                        .map(|c| format!("{}=VALUE", c.name))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            let title = match groups.first() {
                Some((label, _)) if !label.is_empty() => format!("{shown} at {label}"),
                _ => shown.clone(),
            };
            return self.triangulated(ds, var, ax, ay, &title, &kept, &value_of(var, part));
        }
        if let Some(aux) = along {
            if self.y.is_some() {
                bail!(
                    "--x {}: a coordinate along {} is drawn as points against --x alone, or as \
                     a heatmap with another coordinate along {} as --y; a heatmap of dims \
                     needs two dims",
                    aux.name,
                    aux.dim,
                    aux.dim
                );
            }
            if !matches!(aux.values, Column::F64(_) | Column::I64(_)) {
                bail!(
                    "--x {}: its values are {}, not numbers; plot against --x {}",
                    aux.name,
                    aux.values.ty(),
                    aux.dim
                );
            }
        }
        let x = dim_index(along.map_or(self.x.as_str(), |a| a.dim.as_str()), "--x")?;
        let y = self.y.as_deref().map(|y| dim_index(y, "--y")).transpose()?;
        if y == Some(x) {
            bail!("--x and --y are both {}; pick two dims", self.x);
        }
        let mut fixed: Vec<Option<usize>> = vec![None; dims.len()];
        let mut picked: Vec<Vec<usize>> =
            dims.iter().map(|d| (0..d.coords.len()).collect()).collect();
        for sel in &self.sel {
            let (name, value) = sel
                .split_once('=')
                .with_context(|| format!("--sel {sel}: expected DIM=VALUE or DIM=LO:HI"))?;
            if combination.iter().any(|c| c.name == name.trim()) {
                continue;
            }
            let d = dim_index(name.trim(), "--sel")?;
            if let Some((lo, hi)) = value.split_once(':') {
                picked[d] = dims[d].range(lo, hi)?;
                continue;
            }
            if d == x || Some(d) == y {
                bail!(
                    "--sel {sel}: {} is plotted along an axis, so it cannot be fixed (a range, \
                     {}=LO:HI, keeps part of it)",
                    dims[d].name,
                    dims[d].name
                );
            }
            let i = dims[d].find(value.trim())?;
            let exact = label(&dims[d].coords.get(i)) == value.trim()
                || dims[d]
                    .number(i)
                    .zip(value.trim().parse::<f64>().ok())
                    .is_some_and(|(a, b)| a == b);
            if !exact {
                eprintln!(
                    "--sel {sel}: the nearest coordinate is {}={}",
                    dims[d].name,
                    dims[d].coords.get(i)
                );
            }
            fixed[d] = Some(i);
            picked[d] = vec![i];
        }
        let free: Vec<usize> = (0..dims.len())
            .filter(|d| *d != x && Some(*d) != y && fixed[*d].is_none())
            .collect();
        // The points of an adaptive study are drawn as a line through them, in order along
        // the coordinate.
        let adaptive = ds
            .attrs
            .iter()
            .any(|(n, _)| n == xyz_core::adaptive::ADAPTIVE_ATTR);
        if let (Some(aux), true) = (along, adaptive) {
            let at = |i: usize| match &aux.values {
                Column::F64(v) => v[i],
                Column::I64(v) => v[i] as f64,
                _ => f64::NAN,
            };
            picked[x].retain(|&i| kept[i]);
            picked[x].sort_by(|a, b| at(*a).total_cmp(&at(*b)));
            if !combination.is_empty() && free.is_empty() && var.elements() == 1 {
                // A line per combination through its own points, read off linearly where
                // another combination has a point.
                let xs: Vec<f64> = picked[x].iter().map(|&i| at(i)).collect();
                let of = value_of(var, part);
                let mut series = Vec::new();
                for (label, members) in groups_of(&combination, &kept) {
                    let (px, py): (Vec<f64>, Vec<f64>) = members
                        .iter()
                        .filter(|&&i| ds.cells[i] == CellState::Ok)
                        .map(|&i| (at(i), of(i)))
                        .unzip();
                    series.push((label, xyz_core::adaptive::interpolate_1d(&px, &py, &xs)));
                }
                if series.len() > 40 {
                    bail!(
                        "{} lines (one per combination) is more than 40; keep some with --sel",
                        series.len()
                    );
                }
                let labels = xs.iter().map(|v| number(*v)).collect();
                return Ok(Plot::Lines {
                    title: shown.clone(),
                    x: Axis::scattered(aux.name.clone(), labels, xs),
                    value: shown,
                    series,
                    points: false,
                });
            }
        }

        // Strides of the variable's values: swept dims, then extra dims.
        let sizes: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
        let strides = xyz_core::dataset::strides(&sizes);
        let e = var.elements();
        let of = value_of(var, part);
        let value_at = |idx: &[usize]| -> f64 {
            let flat: usize = idx.iter().zip(&strides).map(|(i, s)| i * s).sum();
            if ds.cells[flat / e] != CellState::Ok {
                return f64::NAN;
            }
            of(flat)
        };
        let mut base: Vec<usize> = fixed.iter().map(|f| f.unwrap_or(0)).collect();
        let mut title = shown.clone();
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
            let mut values = Vec::with_capacity(picked[x].len() * picked[y].len());
            for &j in &picked[y] {
                for &i in &picked[x] {
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
                x: dims[x].axis(&picked[x]),
                y: dims[y].axis(&picked[y]),
                value: shown.clone(),
                values,
                log: self.log,
            });
        }

        const MAX_SERIES: usize = 40;
        let n_series: usize = free.iter().map(|d| picked[*d].len()).product();
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
                base[*d] = picked[*d][rest % picked[*d].len()];
                rest /= picked[*d].len();
            }
            for d in &free {
                parts.push(format!(
                    "{}={}",
                    dims[*d].name,
                    label(&dims[*d].coords.get(base[*d]))
                ));
            }
            let values: Vec<f64> = picked[x]
                .iter()
                .map(|&i| {
                    base[x] = i;
                    value_at(&base)
                })
                .collect();
            series.push((parts.join(", "), values));
        }
        if series.iter().all(|(_, v)| v.iter().all(|x| !x.is_finite())) {
            bail!("`{}` has no values there to plot", var.name);
        }
        let axis = match along {
            None => dims[x].axis(&picked[x]),
            Some(aux) => {
                let at = Dim {
                    name: aux.name.clone(),
                    coords: aux.values.clone(),
                };
                Axis::scattered(
                    aux.name.clone(),
                    picked[x]
                        .iter()
                        .map(|&i| label(&at.coords.get(i)))
                        .collect(),
                    picked[x]
                        .iter()
                        .map(|&i| at.number(i).unwrap_or(f64::NAN))
                        .collect(),
                )
            }
        };
        Ok(Plot::Lines {
            title,
            x: axis,
            value: shown,
            series,
            points: along.is_some() && !adaptive,
        })
    }

    /// A heatmap of `var` over two coordinates along one dim (an adaptive study's points):
    /// the values read off linearly over the points' Delaunay triangles, on a grid fine
    /// enough for the image.
    #[allow(
        clippy::too_many_arguments,
        reason = "the parts of the plan a heatmap of points draws"
    )]
    fn triangulated(
        &self,
        ds: &Dataset,
        var: &xyz_core::DataVar,
        ax: &xyz_core::space::AuxCoord,
        ay: &xyz_core::space::AuxCoord,
        title: &str,
        kept: &[bool],
        of: &dyn Fn(usize) -> f64,
    ) -> anyhow::Result<Plot> {
        if ds.dims.len() != 1 || var.elements() != 1 {
            bail!(
                "--x {} --y {}: a heatmap of points is drawn for a variable along {} alone",
                ax.name,
                ay.name,
                ax.dim
            );
        }
        if self.log {
            bail!("--log: a heatmap of points is coloured by its values");
        }
        let numbers = |c: &Column| -> anyhow::Result<Vec<f64>> {
            match c {
                Column::F64(v) => Ok(v.clone()),
                Column::I64(v) => Ok(v.iter().map(|x| *x as f64).collect()),
                other => bail!("a coordinate of {} values cannot be an axis", other.ty()),
            }
        };
        let (all_x, all_y) = (numbers(&ax.values)?, numbers(&ay.values)?);
        let chosen: Vec<usize> = (0..all_x.len()).filter(|&i| kept[i]).collect();
        let xs: Vec<f64> = chosen.iter().map(|&i| all_x[i]).collect();
        let ys: Vec<f64> = chosen.iter().map(|&i| all_y[i]).collect();
        let points: Vec<[f64; 2]> = xs.iter().zip(&ys).map(|(x, y)| [*x, *y]).collect();
        let values: Vec<f64> = chosen
            .iter()
            .map(|&i| {
                if ds.cells[i] == CellState::Ok {
                    of(i)
                } else {
                    f64::NAN
                }
            })
            .collect();
        let ip = xyz_core::adaptive::Interpolant::new(&points, &values);
        let span = |v: &[f64]| {
            v.iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(*x), b.max(*x))
                })
        };
        let ((x0, x1), (y0, y1)) = (span(&xs), span(&ys));
        let (nx, ny) = (
            (self.size.0 as usize / 3).clamp(40, 400),
            (self.size.1 as usize / 3).clamp(40, 400),
        );
        let gx = xyz_core::adaptive::linspace(x0, x1, nx);
        let gy = xyz_core::adaptive::linspace(y0, y1, ny);
        let mut grid = Vec::with_capacity(nx * ny);
        for &y in &gy {
            for &x in &gx {
                grid.push(ip.at([x, y]).unwrap_or(f64::NAN));
            }
        }
        if grid.iter().all(|v| !v.is_finite()) {
            bail!("`{}` has no values there to plot", var.name);
        }
        let axis = |name: &str, v: Vec<f64>| {
            Axis::numeric(name.to_string(), v.iter().map(|x| number(*x)).collect(), v)
        };
        Ok(Plot::Heatmap {
            title: format!("{title}, {} points", points.len()),
            x: axis(&ax.name, gx),
            y: axis(&ay.name, gy),
            value: var.name.clone(),
            values: grid,
            log: false,
        })
    }
}

impl PlotCommand {
    /// Which points of an adaptive study's `combination` coordinates the `--sel`s naming them
    /// keep (all, for any other dataset): each the coordinate nearest the value given.
    fn kept_points(
        &self,
        ds: &Dataset,
        combination: &[&xyz_core::space::AuxCoord],
    ) -> anyhow::Result<Vec<bool>> {
        let n = ds.dims.first().map_or(0, |d| d.coords.len());
        let mut kept = vec![true; n];
        for sel in &self.sel {
            let Some((name, value)) = sel.split_once('=') else {
                continue;
            };
            let Some(coord) = combination.iter().find(|c| c.name == name.trim()) else {
                continue;
            };
            let dim = Dim {
                name: coord.name.clone(),
                coords: coord.values.clone(),
            };
            let at = dim.find(value.trim())?;
            let want = label(&coord.values.get(at));
            if want != value.trim() {
                eprintln!("--sel {sel}: the nearest value is {}={want}", coord.name);
            }
            for (i, k) in kept.iter_mut().enumerate() {
                *k &= label(&coord.values.get(i)) == want;
            }
        }
        Ok(kept)
    }
}

/// The coordinates of an adaptive study that name its points' combination (its combos), in
/// order; none for a study without combos or a dataset of no study.
fn combination_coords(ds: &Dataset) -> Vec<&xyz_core::space::AuxCoord> {
    xyz_core::adaptive::Adaptive::recorded_in(ds)
        .map(|study| study.combination_coords(ds))
        .unwrap_or_default()
}

/// The kept points grouped by their combination, each with its label (`a=0.3, b=x`), in order
/// of first appearance.
fn groups_of(
    combination: &[&xyz_core::space::AuxCoord],
    kept: &[bool],
) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, _) in kept.iter().enumerate().filter(|(_, k)| **k) {
        let label = combination
            .iter()
            .map(|c| format!("{}={}", c.name, label(&c.values.get(i))))
            .collect::<Vec<_>>()
            .join(", ");
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, members)) => members.push(i),
            None => groups.push((label, vec![i])),
        }
    }
    groups
}

/// Element `flat` of `var`'s values as a number to plot (a complex one's `part`).
fn value_of(var: &xyz_core::DataVar, part: Part) -> impl Fn(usize) -> f64 + '_ {
    move |flat| match &var.data {
        Column::F64(v) => v[flat],
        Column::C128(v) => part.of(v[flat]),
        Column::I64(v) if v[flat] == xyz_core::dataset::MISSING_I64 => f64::NAN,
        Column::I64(v) => v[flat] as f64,
        Column::Bool(v) => f64::from(u8::from(v[flat])),
        Column::Str(_) => f64::NAN,
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
