//! Drawing a plot in a terminal: two pixels per character cell with Unicode half blocks (the
//! upper pixel the foreground of `▀`, the lower one its background), in 24-bit colour, so it
//! shows over ssh in any terminal that has it.

use std::fmt::Write as _;

use plotters::style::RGBColor;
use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};

use super::{Axis, MISSING, Plot, SERIES, number, range};

/// The upper half block: its foreground paints the upper pixel, its background the lower.
const UPPER: char = '▀';
/// The lower half block, for a cell whose upper pixel is empty.
const LOWER: char = '▄';
/// Resets colours and weight.
const RESET: &str = "\x1b[0m";

/// A canvas of `width` x `height` pixels, each a colour or empty (the terminal's background).
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Option<RGBColor>>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![None; width * height],
        }
    }

    fn set(&mut self, x: usize, y: usize, colour: RGBColor) {
        if x < self.width && y < self.height {
            self.pixels[y * self.width + x] = Some(colour);
        }
    }

    /// A line from `a` to `b` (Bresenham's).
    fn line(&mut self, a: (i64, i64), b: (i64, i64), colour: RGBColor) {
        let (mut x, mut y) = a;
        let (dx, dy) = ((b.0 - x).abs(), -(b.1 - y).abs());
        let (sx, sy) = ((b.0 - x).signum(), (b.1 - y).signum());
        let mut err = dx + dy;
        loop {
            if x >= 0 && y >= 0 {
                self.set(x as usize, y as usize, colour);
            }
            if (x, y) == b {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Row `row` of character cells: pixel rows `2 * row` and `2 * row + 1`. A colour is
    /// set only where it changes from the cell before.
    fn row(&self, row: usize) -> String {
        let mut text = String::new();
        // The colours set: (foreground, background), `None` for the terminal's own.
        let mut set: (Option<RGBColor>, Option<RGBColor>) = (None, None);
        for x in 0..self.width {
            let up = self.pixels[2 * row * self.width + x];
            let down = self
                .pixels
                .get((2 * row + 1) * self.width + x)
                .copied()
                .flatten();
            let (glyph, want) = match (up, down) {
                (None, None) => (' ', (set.0, None)),
                (Some(u), None) => (UPPER, (Some(u), None)),
                (None, Some(d)) => (LOWER, (Some(d), None)),
                (Some(u), Some(d)) => (UPPER, (Some(u), Some(d))),
            };
            if want.1.is_none() && set.1.is_some() {
                text.push_str(RESET);
                set = (None, None);
            }
            if want.0 != set.0
                && let Some(c) = want.0
            {
                text.push_str(&fg(c));
            }
            if want.1 != set.1
                && let Some(c) = want.1
            {
                text.push_str(&bg(c));
            }
            set = want;
            text.push(glyph);
        }
        text.push_str(RESET);
        text
    }
}

fn fg(c: RGBColor) -> String {
    format!("\x1b[38;2;{};{};{}m", c.0, c.1, c.2)
}

fn bg(c: RGBColor) -> String {
    format!("\x1b[48;2;{};{};{}m", c.0, c.1, c.2)
}

/// `text` cut or padded to `width` characters, aligned right when `right`.
fn fit(text: &str, width: usize, right: bool) -> String {
    let cut: String = text.chars().take(width).collect();
    if right {
        format!("{cut:>width$}")
    } else {
        format!("{cut:<width$}")
    }
}

/// The first and last labels of an axis, for its ends.
fn ends(axis: &Axis) -> (String, String) {
    let at = |i: usize| match &axis.numbers {
        Some(n) => axis.tick(n[i]),
        None => axis.labels[i].clone(),
    };
    match axis.labels.len() {
        0 => (String::new(), String::new()),
        n => (at(0), at(n - 1)),
    }
}

/// The lowest and highest position of a line plot's x axis.
fn span(axis: &Axis) -> (f64, f64) {
    range(axis.positions().into_iter()).unwrap_or((0.0, 1.0))
}

/// Draws `plot` as lines of text with ANSI colours, `cols` characters wide and `rows` lines
/// high.
pub(crate) fn draw(plot: &Plot, cols: usize, rows: usize) -> Vec<String> {
    let cols = cols.max(30);
    let rows = rows.max(8);
    match plot {
        Plot::Heatmap {
            title,
            x,
            y,
            value,
            values,
            log,
        } => heatmap(title, x, y, value, values, *log, cols, rows),
        Plot::Lines {
            title,
            x,
            value,
            series,
            points,
        } => lines(title, x, value, series, *points, cols, rows),
    }
}

/// The left margin: the label of the top row, the axis's name midway, the bottom row's label.
fn margin(top: &str, name: &str, bottom: &str, height: usize) -> (usize, Vec<String>) {
    let width = [top, name, bottom]
        .iter()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(0)
        .min(12);
    let mut left = vec![" ".repeat(width); height];
    left[0] = fit(top, width, true);
    left[height / 2] = fit(name, width, true);
    left[height - 1] = fit(bottom, width, true);
    (width, left)
}

/// The x axis under a plot `width` wide after a margin of `indent`: its ends, and its name.
fn x_axis(axis: &Axis, indent: usize, width: usize) -> [String; 2] {
    let (first, last) = ends(axis);
    let gap = width.saturating_sub(first.chars().count() + last.chars().count());
    let name_pad = (indent + width / 2).saturating_sub(axis.name.chars().count() / 2);
    [
        format!("{}{first}{}{last}", " ".repeat(indent + 1), " ".repeat(gap)),
        format!("{}{}", " ".repeat(name_pad), axis.name),
    ]
}

#[allow(
    clippy::too_many_arguments,
    reason = "the fields of Plot::Heatmap and the size"
)]
fn heatmap(
    title: &str,
    x: &Axis,
    y: &Axis,
    value: &str,
    values: &[f64],
    log: bool,
    cols: usize,
    rows: usize,
) -> Vec<String> {
    let (nx, ny) = (x.labels.len().max(1), y.labels.len().max(1));
    let shown = super::coloured_by(values, log);
    let (z0, z1) = range(shown.iter().copied()).unwrap_or((0.0, 1.0));
    let (y_first, y_last) = ends(y);
    // Title, x labels, x name and colour bar take four lines.
    let height = rows - 4;
    let (indent, left) = margin(&y_last, &y.name, &y_first, height);
    let width = cols - indent - 1;
    let mut canvas = Canvas::new(width, 2 * height);
    for py in 0..2 * height {
        // The top pixel row is the last y coordinate.
        let j = ny - 1 - (py * ny / (2 * height)).min(ny - 1);
        for px in 0..width {
            let i = (px * nx / width).min(nx - 1);
            let v = shown.get(j * nx + i).copied().unwrap_or(f64::NAN);
            let colour = if v.is_finite() {
                ViridisRGB.get_color_normalized(v, z0, z1)
            } else {
                MISSING
            };
            canvas.set(px, py, colour);
        }
    }
    let mut out = vec![format!("\x1b[1m{}{RESET}", fit(title, cols, false))];
    out.extend((0..height).map(|r| format!("{} {}", left[r], canvas.row(r))));
    out.extend(x_axis(x, indent, width));
    out.push(colour_bar(value, z0, z1, log, cols));
    out
}

/// The colour bar of a heatmap, on one line: the variable, the lowest value, the colours, the
/// highest value, and the grey of missing cells.
fn colour_bar(value: &str, z0: f64, z1: f64, log: bool, cols: usize) -> String {
    let show = |z: f64| {
        if log {
            number(10f64.powf(z))
        } else {
            number(z)
        }
    };
    let (lo, hi) = (show(z0), show(z1));
    let name = if log {
        format!("{value} (log)")
    } else {
        value.to_string()
    };
    let missing = " ■ missing";
    let fixed = name.chars().count() + lo.chars().count() + hi.chars().count() + 4;
    let width = cols
        .saturating_sub(fixed + missing.chars().count())
        .clamp(4, 40);
    let mut bar = String::new();
    for k in 0..width {
        let t = z0 + (z1 - z0) * (k as f64 + 0.5) / width as f64;
        let _ = write!(bar, "{}█", fg(ViridisRGB.get_color_normalized(t, z0, z1)));
    }
    format!(
        "{name}  {lo} {bar}{RESET} {hi} {}■{RESET} missing",
        fg(MISSING)
    )
}

#[allow(
    clippy::too_many_arguments,
    reason = "the fields of Plot::Lines and the size"
)]
fn lines(
    title: &str,
    x: &Axis,
    value: &str,
    series: &[(String, Vec<f64>)],
    points: bool,
    cols: usize,
    rows: usize,
) -> Vec<String> {
    let (v0, v1) = range(series.iter().flat_map(|(_, v)| v.iter().copied())).unwrap_or((0.0, 1.0));
    let (x0, x1) = span(x);
    let named = series.iter().any(|(label, _)| !label.is_empty());
    // Title, x labels, x name, and a legend line when the series have names.
    let height = rows - 3 - usize::from(named);
    let (indent, left) = margin(&number(v1), value, &number(v0), height);
    let width = cols - indent - 1;
    let mut canvas = Canvas::new(width, 2 * height);
    let positions = x.positions();
    let to_px = |p: f64| ((p - x0) / (x1 - x0).max(f64::MIN_POSITIVE) * (width - 1) as f64).round();
    let to_py = |v: f64| ((v1 - v) / (v1 - v0) * (2 * height - 1) as f64).round();
    for (k, (_, values)) in series.iter().enumerate() {
        let colour = SERIES[k % SERIES.len()];
        let mut last: Option<(i64, i64)> = None;
        for (p, v) in positions.iter().zip(values) {
            if !(v.is_finite() && p.is_finite()) {
                last = None;
                continue;
            }
            let at = (to_px(*p) as i64, to_py(*v) as i64);
            match last {
                Some(prev) if !points => canvas.line(prev, at, colour),
                _ => canvas.line(at, at, colour),
            }
            last = Some(at);
        }
    }
    let mut out = vec![format!("\x1b[1m{}{RESET}", fit(title, cols, false))];
    out.extend((0..height).map(|r| format!("{} {}", left[r], canvas.row(r))));
    out.extend(x_axis(x, indent, width));
    if named {
        let mut legend = String::new();
        for (k, (label, _)) in series.iter().enumerate() {
            let _ = write!(
                legend,
                "{}━━{RESET} {label}  ",
                fg(SERIES[k % SERIES.len()])
            );
        }
        out.push(legend);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(name: &str, n: usize) -> Axis {
        Axis::numeric(
            name.into(),
            (0..n).map(|i| i.to_string()).collect(),
            (0..n).map(|i| i as f64).collect(),
        )
    }

    /// The text of `line` without its escape sequences.
    fn plain(line: &str) -> String {
        console::strip_ansi_codes(line).into_owned()
    }

    #[test]
    fn a_heatmap_fills_its_size_and_colours_each_cell() {
        let plot = Plot::Heatmap {
            title: "z".into(),
            x: axis("x", 4),
            y: axis("y", 3),
            value: "z".into(),
            values: (0..12).map(f64::from).collect(),
            log: false,
        };
        let out = draw(&plot, 40, 12);
        assert_eq!(out.len(), 12);
        for line in &out[1..9] {
            assert_eq!(plain(line).chars().count(), 40, "{line:?}");
            assert!(
                line.contains("\x1b[48;2;"),
                "both halves coloured: {line:?}"
            );
        }
        // The lowest value (x=0, y=0) is viridis's darkest colour, at the bottom left.
        let dark = ViridisRGB.get_color_normalized(0.0, 0.0, 11.0);
        assert!(out[8].contains(&fg(dark)), "{:?}", out[8]);
        assert!(plain(&out[10]).contains('x'));
        assert!(plain(&out[11]).contains("missing"));
    }

    #[test]
    fn missing_cells_are_grey() {
        let plot = Plot::Heatmap {
            title: "z".into(),
            x: axis("x", 2),
            y: axis("y", 1),
            value: "z".into(),
            values: vec![1.0, f64::NAN],
            log: false,
        };
        let out = draw(&plot, 40, 10);
        assert!(out[3].contains(&fg(MISSING)), "{:?}", out[3]);
    }

    #[test]
    fn lines_go_through_their_points() {
        let plot = Plot::Lines {
            title: "y".into(),
            x: axis("x", 3),
            value: "y".into(),
            series: vec![("".into(), vec![0.0, 1.0, 0.0])],
            points: false,
        };
        let out = draw(&plot, 40, 10);
        assert_eq!(out.len(), 10);
        // The peak is in the top row, midway; the ends in the bottom row.
        let top = plain(&out[1]);
        let bottom = plain(&out[7]);
        // The margin (`1` and a space) and half the 38 columns of the plot.
        let peak = top.chars().position(|c| c == UPPER).unwrap();
        assert!((peak as i64 - 21).abs() <= 1, "{top:?}");
        assert_ne!(bottom.trim_end().chars().last(), Some(' '));
    }
}
