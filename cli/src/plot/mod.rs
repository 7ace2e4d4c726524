//! Drawing a line plot or a heatmap to PNG or SVG with plotters, text in an embedded DejaVu
//! Sans so no system font is needed; or in a terminal (see [`term`]).

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

pub(crate) mod term;

/// One axis of a plot: a dim's name and its coordinates, as numbers where they are numbers and
/// as labels otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    /// The dim's name, the axis title.
    pub(crate) name: String,
    /// A label per coordinate.
    pub(crate) labels: Vec<String>,
    /// The coordinates as numbers, when they are numbers (placed by value; otherwise by index).
    /// On a log axis, their base-10 logarithms.
    pub(crate) numbers: Option<Vec<f64>>,
    /// Whether the axis is logarithmic: `numbers` are then log10 of the coordinates, and
    /// labels show the coordinates.
    pub(crate) log: bool,
}

impl Axis {
    /// A numeric axis over `values`: logarithmic when they are positive and spaced more evenly
    /// in their logarithms than in themselves over at least two decades (a logspace).
    pub(crate) fn numeric(name: String, labels: Vec<String>, values: Vec<f64>) -> Axis {
        let log = log_spaced(&values);
        Axis::of_numbers(name, labels, values, log)
    }

    /// A numeric axis over values in no order (a sampled coordinate): logarithmic when they
    /// are positive and span at least two decades.
    pub(crate) fn scattered(name: String, labels: Vec<String>, values: Vec<f64>) -> Axis {
        let positive = values.iter().all(|v| v.is_finite() && *v > 0.0);
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
        let log = positive && !values.is_empty() && hi / lo >= 100.0;
        Axis::of_numbers(name, labels, values, log)
    }

    fn of_numbers(name: String, labels: Vec<String>, values: Vec<f64>, log: bool) -> Axis {
        let numbers = if log {
            values.iter().map(|v| v.log10()).collect()
        } else {
            values
        };
        Axis {
            name,
            labels,
            numbers: Some(numbers),
            log,
        }
    }

    /// The text of a tick at position `v` of a numeric axis.
    fn tick(&self, v: f64) -> String {
        if self.log {
            number(10f64.powf(v))
        } else {
            number(v)
        }
    }

    fn positions(&self) -> Vec<f64> {
        match &self.numbers {
            Some(n) => n.clone(),
            None => (0..self.labels.len()).map(|i| i as f64).collect(),
        }
    }

    /// The edges of the axis's cells in a heatmap: midway between numeric coordinates that
    /// rise or fall strictly, else around index positions. Whether they are numeric too.
    fn edges(&self) -> (Vec<f64>, bool) {
        let by_index = || {
            (
                (0..=self.labels.len()).map(|i| i as f64 - 0.5).collect(),
                false,
            )
        };
        let Some(v) = &self.numbers else {
            return by_index();
        };
        let rising = v.windows(2).all(|w| w[0] < w[1]);
        let falling = v.windows(2).all(|w| w[0] > w[1]);
        if !(rising || falling) || v.iter().any(|x| !x.is_finite()) {
            return by_index();
        }
        if v.len() == 1 {
            let pad = if v[0] == 0.0 { 0.5 } else { v[0].abs() * 0.05 };
            return (vec![v[0] - pad, v[0] + pad], true);
        }
        let mut edges = Vec::with_capacity(v.len() + 1);
        edges.push(v[0] - (v[1] - v[0]) / 2.0);
        edges.extend(v.windows(2).map(|w| (w[0] + w[1]) / 2.0));
        let n = v.len();
        edges.push(v[n - 1] + (v[n - 1] - v[n - 2]) / 2.0);
        (edges, true)
    }

    /// The label at position `v` of a categorical axis, or "" between categories.
    fn label_at(&self, v: f64) -> String {
        let i = v.round();
        if (v - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        self.labels.get(i as usize).cloned().unwrap_or_default()
    }
}

/// What to draw.
#[derive(Debug)]
pub(crate) enum Plot {
    /// One line per series over the x axis; NaN values leave gaps.
    Lines {
        /// The title above the plot.
        title: String,
        /// The horizontal axis.
        x: Axis,
        /// The variable, the vertical axis title.
        value: String,
        /// Series: a legend label (empty for a lone series) and one value per x coordinate.
        series: Vec<(String, Vec<f64>)>,
        /// Points alone, no lines: x is a sampled coordinate, its values in no order.
        points: bool,
    },
    /// A value per (x, y) cell, coloured with viridis; NaN cells are grey.
    Heatmap {
        /// The title above the plot.
        title: String,
        /// The horizontal axis.
        x: Axis,
        /// The vertical axis.
        y: Axis,
        /// The variable, the colour bar's title.
        value: String,
        /// Values, row-major with x fastest: `values[j * x.len + i]`.
        values: Vec<f64>,
        /// Colour by the values' logarithm.
        log: bool,
    },
}

const FONT: &str = "sans-serif";
const MISSING: RGBColor = RGBColor(215, 215, 215);

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // DejaVu Sans is a valid font, so registering it cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// The finite range of `values`, widened when it is a single value.
fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return None;
    }
    if lo == hi {
        let pad = if lo == 0.0 { 0.5 } else { lo.abs() * 0.05 };
        return Some((lo - pad, hi + pad));
    }
    Some((lo, hi))
}

/// Whether `values` are a logspace: positive, monotonic, spanning at least two decades, with
/// steps more even in their logarithms than in themselves.
fn log_spaced(values: &[f64]) -> bool {
    if values.len() < 3 || values.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        return false;
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(*v), b.max(*v)));
    if hi / lo < 100.0 {
        return false;
    }
    let spread = |v: &[f64]| {
        let steps: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = steps.iter().sum::<f64>() / steps.len() as f64;
        if mean == 0.0 || steps.iter().any(|s| s.signum() != mean.signum()) {
            return f64::INFINITY;
        }
        steps
            .iter()
            .map(|s| (s / mean - 1.0).abs())
            .fold(0.0, f64::max)
    };
    let logs: Vec<f64> = values.iter().map(|v| v.log10()).collect();
    let even = spread(&logs);
    even < 0.05 && even < spread(values)
}

/// Colours of a line plot's series: Okabe and Ito's palette, safe for colour-blind readers,
/// without its yellow, which is unreadable on white.
const SERIES: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
];

/// Most points a line is drawn with markers for; denser lines are lines alone.
const MARKERS_UP_TO: usize = 30;

/// A number as axis labels show it: up to four significant decimals.
pub(crate) fn number(v: f64) -> String {
    // What rounding leaves of a zero tick (-2.2e-16) is zero.
    let v = if v.abs() < 1e-12 { 0.0 } else { v };
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let magnitude = v.abs().log10().floor();
    if !(-4.0..6.0).contains(&magnitude) {
        return format!("{v:.3e}");
    }
    let decimals = (3.0 - magnitude).max(0.0) as usize;
    let s = format!("{v:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Renders `plot` to `path` (PNG or SVG, `svg` says which) at `size` pixels.
pub(crate) fn render(plot: &Plot, path: &Path, svg: bool, size: (u32, u32)) -> anyhow::Result<()> {
    register_font();
    if svg {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(plot, &root).map_err(|e| anyhow::anyhow!("drawing the plot: {e}"))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    } else {
        let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
            draw(plot, &root).map_err(|e| anyhow::anyhow!("drawing the plot: {e}"))?;
            root.present()
                .map_err(|e| anyhow::anyhow!("drawing the plot: {e}"))?;
        }
        write_png(path, size, &pixels)?;
    }
    Ok(())
}

/// Encodes RGB `pixels` as a PNG file at `path`.
fn write_png(path: &Path, (w, h): (u32, u32), pixels: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::File::create(path)?;
    {
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(&mut file), w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(pixels)?;
        writer.finish()?;
    }
    file.sync_all()?;
    Ok(())
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(plot: &Plot, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    match plot {
        Plot::Lines {
            title,
            x,
            value,
            series,
            points,
        } => draw_lines(root, title, x, value, series, *points),
        Plot::Heatmap {
            title,
            x,
            y,
            value,
            values,
            log,
        } => draw_heatmap(root, title, x, y, value, values, *log),
    }
}

fn draw_lines<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x: &Axis,
    value: &str,
    series: &[(String, Vec<f64>)],
    points_only: bool,
) -> DrawResult<DB> {
    let xs = x.positions();
    let (x0, x1) = range(xs.iter().copied()).unwrap_or((0.0, 1.0));
    let (x0, x1) = if x.numbers.is_some() {
        (x0, x1)
    } else {
        (x0 - 0.5, x1 + 0.5)
    };
    let (y0, y1) = range(series.iter().flat_map(|(_, v)| v.iter().copied())).unwrap_or((0.0, 1.0));
    let pad = (y1 - y0) * 0.05;
    // The legend has a panel of its own on the right, so it never hides a line.
    let labelled = series.iter().any(|(l, _)| !l.is_empty());
    let (width, _) = root.dim_in_pixel();
    let legend_width = if labelled {
        let longest = series
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0);
        ((longest as u32 * 8 + 48).clamp(100, width / 3)).min(width.saturating_sub(200))
    } else {
        0
    };
    let (area, legend) = root.split_horizontally(width.saturating_sub(legend_width));
    let mut chart = ChartBuilder::on(&area)
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
    let categorical = |v: &f64| x.label_at(*v);
    let numeric = |v: &f64| number(*v);
    let ticks = |v: &f64| x.tick(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x.name.as_str())
        .y_desc(value)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .y_label_formatter(&numeric);
    if x.numbers.is_some() {
        mesh.x_label_formatter(&ticks);
    } else {
        mesh.x_labels(x.labels.len().min(12) + 1)
            .x_label_formatter(&categorical);
    }
    mesh.draw()?;
    let markers = points_only || xs.len() <= MARKERS_UP_TO;
    for (k, (_, values)) in series.iter().enumerate() {
        let color = SERIES[k % SERIES.len()];
        let mut points: Vec<(f64, f64)> = xs.iter().copied().zip(values.iter().copied()).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Runs of values between missing ones, each its own line.
        for run in points
            .split(|(_, v)| !v.is_finite())
            .filter(|r| !r.is_empty() && !points_only)
        {
            chart.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(2)))?;
        }
        if markers {
            chart.draw_series(
                points
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|p| Circle::new(*p, 3, color.filled())),
            )?;
        }
    }
    if labelled {
        let top = 60;
        for (k, (label, _)) in series.iter().enumerate() {
            let color = SERIES[k % SERIES.len()];
            let y = top + 22 * k as i32;
            legend.draw(&PathElement::new(
                vec![(8, y), (32, y)],
                color.stroke_width(3),
            ))?;
            legend.draw(&Text::new(
                label.as_str(),
                (40, y - 7),
                (FONT, 13).into_font().color(&BLACK),
            ))?;
        }
    }
    Ok(())
}

/// What a heatmap's colours follow: its values, or on a log scale their log10 (what is not
/// positive then NaN, drawn grey).
fn coloured_by(values: &[f64], log: bool) -> std::borrow::Cow<'_, [f64]> {
    if log {
        values
            .iter()
            .map(|v| if *v > 0.0 { v.log10() } else { f64::NAN })
            .collect()
    } else {
        values.into()
    }
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x: &Axis,
    y: &Axis,
    value: &str,
    values: &[f64],
    log: bool,
) -> DrawResult<DB> {
    let (nx, ny) = (x.labels.len(), y.labels.len());
    let values = &coloured_by(values, log)[..];
    let (z0, z1) = range(values.iter().copied()).unwrap_or((0.0, 1.0));
    let (width, _) = root.dim_in_pixel();
    let (main, bar) = root.split_horizontally(width.saturating_sub(140));
    let title_area = main.titled(title, (FONT, 22))?;
    // Cells sit between the midpoints of numeric coordinates, or at index positions (labelled
    // with their coordinates) for the others.
    let (xe, x_numeric) = x.edges();
    let (ye, y_numeric) = y.edges();
    let span = |e: &[f64]| {
        let (a, b) = (e[0], e[e.len() - 1]);
        a.min(b)..a.max(b)
    };
    let mut chart = ChartBuilder::on(&title_area)
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(span(&xe), span(&ye))?;
    let x_label = |v: &f64| {
        if x_numeric {
            x.tick(*v)
        } else {
            x.label_at(*v)
        }
    };
    let y_label = |v: &f64| {
        if y_numeric {
            y.tick(*v)
        } else {
            y.label_at(*v)
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(x.name.as_str())
        .y_desc(y.name.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .x_labels(if x_numeric { 10 } else { nx.min(10) + 1 })
        .y_labels(if y_numeric { 10 } else { ny.min(10) + 1 })
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()?;
    chart.draw_series((0..ny).flat_map(|j| {
        let (xe, ye) = (&xe, &ye);
        (0..nx).map(move |i| {
            let v = values[j * nx + i];
            let fill = if v.is_finite() {
                ViridisRGB.get_color_normalized(v, z0, z1).filled()
            } else {
                MISSING.filled()
            };
            Rectangle::new([(xe[i], ye[j]), (xe[i + 1], ye[j + 1])], fill)
        })
    }))?;

    // The colour bar: the value range from bottom to top, labelled on its right.
    let mut scale = ChartBuilder::on(&bar)
        .margin_top(50)
        .margin_bottom(64)
        .margin_left(8)
        .margin_right(4)
        .right_y_label_area_size(84)
        .build_cartesian_2d(0.0..1.0, z0..z1)?;
    let numeric = |v: &f64| {
        if log {
            number(10f64.powf(*v))
        } else {
            number(*v)
        }
    };
    let desc = if log {
        format!("{value} (log scale)")
    } else {
        value.to_string()
    };
    scale
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(desc)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .y_label_formatter(&numeric)
        .draw()?;
    const STEPS: usize = 128;
    let step = (z1 - z0) / STEPS as f64;
    scale.draw_series((0..STEPS).map(|k| {
        let lo = z0 + k as f64 * step;
        Rectangle::new(
            [(0.0, lo), (1.0, lo + step)],
            ViridisRGB
                .get_color_normalized(lo + step / 2.0, z0, z1)
                .filled(),
        )
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.16666666), "0.1667");
        assert_eq!(number(12.3456), "12.35");
        assert_eq!(number(-2.5), "-2.5");
        assert_eq!(number(1.5e-7), "1.500e-7");
    }

    #[test]
    fn heatmap_cells_meet_midway() {
        let axis = |numbers: Option<Vec<f64>>, n: usize| Axis {
            name: "a".into(),
            labels: vec![String::new(); n],
            numbers,
            log: false,
        };
        assert_eq!(
            axis(Some(vec![0.0, 1.0, 3.0]), 3).edges(),
            (vec![-0.5, 0.5, 2.0, 4.0], true)
        );
        assert_eq!(
            axis(Some(vec![2.0, 1.0]), 2).edges(),
            (vec![2.5, 1.5, 0.5], true)
        );
        assert_eq!(
            axis(Some(vec![1.0, 3.0, 2.0]), 3).edges(),
            (vec![-0.5, 0.5, 1.5, 2.5], false)
        );
        assert_eq!(axis(None, 1).edges(), (vec![-0.5, 0.5], false));
    }

    #[test]
    fn logspaces_get_log_axes_and_others_do_not() {
        let logspace: Vec<f64> = (0..7).map(|k| 10f64.powi(k - 3)).collect();
        assert!(log_spaced(&logspace));
        assert!(!log_spaced(&[1.0, 2.0, 3.0, 400.0]));
        assert!(!log_spaced(&(1..50).map(f64::from).collect::<Vec<_>>()));
        assert!(!log_spaced(&[0.0, 1.0, 100.0]), "not all positive");
        assert!(!log_spaced(&[1.0, 3.0, 9.0]), "not two decades");
        let axis = Axis::numeric("g".into(), vec![String::new(); 7], logspace);
        assert!(axis.log);
        assert_eq!(axis.tick(-3.0), "0.001");
    }

    #[test]
    fn ranges_widen_single_values() {
        assert_eq!(range([1.0, f64::NAN, 3.0].into_iter()), Some((1.0, 3.0)));
        assert_eq!(range([0.0].into_iter()), Some((-0.5, 0.5)));
        assert_eq!(range([f64::NAN].into_iter()), None);
    }
}
