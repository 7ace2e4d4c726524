//! `xyz plot`: images of the expected size with something drawn, axes labelled, and clear
//! errors for what cannot be plotted.

use crate::util::{Dir, guest, mandel_spec, stdout};

/// Decodes a PNG: its size and RGB pixels.
pub(crate) fn decode_png(path: &std::path::Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels = buf[..info.buffer_size()]
        .chunks(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

/// The text of an SVG's `<text>` elements.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..t.find("</text>")?];
            Some(body.trim().to_string())
        })
        .collect()
}

fn mandel(dir: &Dir) {
    let spec = mandel_spec(dir, 60, 80, 100);
    dir.xyz_ok(&["run", "-q", spec.to_str().unwrap(), "-o", "m.nc"], 0);
}

#[test]
fn a_heatmap_png_has_its_size_and_colours() {
    let dir = Dir::new();
    mandel(&dir);
    let out = dir.xyz_ok(
        &[
            "plot", "m.nc", "--var", "n", "--x", "x", "--y", "y", "-o", "m.png", "--size",
            "640x480",
        ],
        0,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrote m.png"),
        "{out:?}"
    );
    let (w, h, pixels) = decode_png(&dir.path("m.png"));
    assert_eq!((w, h), (640, 480));
    let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
    assert!(
        white < pixels.len() / 2,
        "mostly blank: {white} of {} white",
        pixels.len()
    );
    // The colours of viridis' two ends: the set's inside (maxiter) and the far outside.
    let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 24);
    assert!(pixels.iter().any(|p| near(p, [253, 231, 37])), "no yellow");
    assert!(pixels.iter().any(|p| near(p, [68, 1, 84])), "no purple");
    let distinct: std::collections::HashSet<_> = pixels.iter().collect();
    assert!(distinct.len() > 50, "{} colours", distinct.len());

    // The same as SVG: text for the title, axes and colour bar.
    dir.xyz_ok(&["plot", "m.nc", "--x", "x", "--y", "y", "-o", "m.svg"], 0);
    let svg = std::fs::read_to_string(dir.path("m.svg")).unwrap();
    assert!(
        svg.contains(r#"width="800" height="600""#),
        "{}",
        &svg[..200]
    );
    let texts = svg_texts(&svg);
    for text in ["n", "x", "y", "-1.5", "100"] {
        assert!(texts.iter().any(|t| t == text), "no {text} in {texts:?}");
    }
    assert!(svg.matches("<rect").count() > 60 * 80, "cells drawn");
}

#[test]
fn a_line_plot_draws_a_series_per_other_dim() {
    let dir = Dir::new();
    let ramp = guest("ramp");
    dir.xyz_ok(
        &[
            "run",
            "-q",
            "--function",
            &ramp,
            "--combo",
            "a=1,2",
            "--combo",
            "b=0,3",
            "-o",
            "r.parquet",
        ],
        0,
    );
    dir.xyz_ok(&["plot", "r.parquet", "--x", "t", "-o", "r.svg"], 0);
    let svg = std::fs::read_to_string(dir.path("r.svg")).unwrap();
    let texts = svg_texts(&svg);
    for label in ["a=1, b=0", "a=1, b=3", "a=2, b=0", "a=2, b=3", "t", "y"] {
        assert!(texts.iter().any(|t| t == label), "no {label} in {texts:?}");
    }
    assert_eq!(svg.matches("<circle").count(), 4 * 5, "a mark per value");
    dir.xyz_ok(
        &[
            "plot",
            "r.parquet",
            "--x",
            "a",
            "--sel",
            "t=4",
            "--sel",
            "b=3",
            "-o",
            "one.png",
        ],
        0,
    );
    let (w, h, pixels) = decode_png(&dir.path("one.png"));
    assert_eq!((w, h), (800, 600));
    assert!(pixels.iter().any(|p| p != &[255, 255, 255]));

    // Failed cases leave gaps: faulty fails on mode=err, so one line of two has no values.
    let faulty = guest("faulty");
    dir.xyz_ok(
        &[
            "run",
            "-q",
            "--function",
            &faulty,
            "--combo",
            "mode=ok,err",
            "--combo",
            "x=1,2,3",
            "-o",
            "f.csv",
        ],
        3,
    );
    dir.xyz_ok(
        &["plot", "f.csv", "--var", "y", "--x", "x", "-o", "f.svg"],
        0,
    );
    let svg = std::fs::read_to_string(dir.path("f.svg")).unwrap();
    let texts = svg_texts(&svg);
    assert!(texts.iter().any(|t| t == "mode=ok"), "{texts:?}");
    assert_eq!(svg.matches("<circle").count(), 3, "marks for mode=ok only");
}

#[test]
fn what_cannot_be_plotted_is_named() {
    let dir = Dir::new();
    mandel(&dir);
    let classify = dir.write(
        "c.toml",
        &format!(
            "function = \"{}\"\n[combos]\nx = [1.0, -1.0]\nlabel = [\"a\", \"b\"]\nflag = [true]\n",
            guest("classify")
        ),
    );
    dir.xyz_ok(
        &["run", "-q", classify.to_str().unwrap(), "-o", "c.zarr"],
        0,
    );
    for (args, want) in [
        (
            vec!["plot", "m.nc", "--x", "z", "-o", "a.png"],
            "--x z: `n` has no such dim; its dims are y, x",
        ),
        (
            vec!["plot", "m.nc", "--var", "q", "--x", "x", "-o", "a.png"],
            "--var q: m.nc has no such variable; it has n",
        ),
        (
            vec![
                "plot", "c.zarr", "--var", "positive", "--x", "x", "--sel", "label=zz", "-o",
                "a.png",
            ],
            "--sel label=zz: no such coordinate; label has a, b",
        ),
        (
            vec!["plot", "m.nc", "--x", "x", "--sel", "y=3:4", "-o", "a.png"],
            "--sel y=3:4: no coordinate of y lies in that range",
        ),
        (
            vec![
                "plot", "m.nc", "--x", "x", "--sel", "y=-1", "--log", "-o", "a.png",
            ],
            "--log colours a heatmap",
        ),
        (
            vec!["plot", "m.nc", "--x", "x", "--sel", "x=0.5", "-o", "a.png"],
            "--sel x=0.5: x is plotted along an axis",
        ),
        (
            vec!["plot", "m.nc", "--x", "x", "-o", "a.png"],
            "60 lines (one per combination of y) is more than 40",
        ),
        (
            vec!["plot", "m.nc", "--x", "x", "--y", "x", "-o", "a.png"],
            "--x and --y are both x",
        ),
        (
            vec!["plot", "m.nc", "--x", "x", "-o", "a.jpg"],
            "-o a.jpg: the image must be .png or .svg",
        ),
        (
            vec!["plot", "m.nc", "--x", "x", "--sel", "y", "-o", "a.png"],
            "--sel y: expected DIM=VALUE",
        ),
        (
            vec!["plot", "c.zarr", "--x", "x", "-o", "a.png"],
            "c.zarr has 2 variables; pick one with --var (positive, tag)",
        ),
        (
            vec!["plot", "c.zarr", "--var", "tag", "--x", "x", "-o", "a.png"],
            "--var tag: strings cannot be plotted",
        ),
        (
            vec![
                "plot", "c.zarr", "--var", "positive", "--x", "x", "--y", "flag", "-o", "a.png",
            ],
            "a heatmap shows two dims; fix the others with --sel DIM=VALUE: label",
        ),
    ] {
        let err = dir.xyz_err(&args);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let out = dir.xyz(&["plot", "m.nc", "--x", "x", "--size", "10x10", "-o", "a.png"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a size like 800x600"));
    assert!(!dir.path("a.png").exists());
    // An existing image is kept unless --force.
    dir.write("keep.png", "old");
    let err = dir.xyz_err(&[
        "plot", "m.nc", "--x", "x", "--sel", "y=-1.25", "-o", "keep.png",
    ]);
    assert!(
        err.contains("keep.png already exists; pass --force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("keep.png")).unwrap(),
        "old"
    );
    let out = dir.xyz_ok(
        &[
            "plot", "m.nc", "--x", "x", "--sel", "y=-1.25", "-o", "keep.png", "--force",
        ],
        0,
    );
    assert!(stdout(&out).is_empty());
    assert_eq!(decode_png(&dir.path("keep.png")).0, 800);
}

/// The `x` of each SVG `<text>` element with `text`.
fn svg_text_x(svg: &str, text: &str) -> Vec<f64> {
    svg.split("<text")
        .skip(1)
        .filter(|t| {
            t.find('>')
                .is_some_and(|i| t[i + 1..].trim_start().starts_with(text))
        })
        .filter_map(|t| {
            let at = t.find("x=\"")? + 3;
            t[at..at + t[at..].find('"')?].parse().ok()
        })
        .collect()
}

#[test]
fn sel_takes_the_nearest_coordinate_or_a_range() {
    let dir = Dir::new();
    let spec = mandel_spec(&dir, 67, 80, 100);
    dir.xyz_ok(
        &["run", "-q", spec.to_str().unwrap(), "-o", "study.zarr"],
        0,
    );
    // The README's example: 0.5 is no coordinate of y; the nearest is used, and said.
    let out = dir.xyz_ok(
        &[
            "plot",
            "study.zarr",
            "--var",
            "n",
            "--x",
            "x",
            "--sel",
            "y=0.5",
            "-o",
            "a.svg",
        ],
        0,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--sel y=0.5: the nearest coordinate is y=0.49242424242424243"),
        "{err}"
    );
    let texts = svg_texts(&std::fs::read_to_string(dir.path("a.svg")).unwrap());
    assert!(
        texts.iter().any(|t| t.starts_with("n at y=0.4924")),
        "{texts:?}"
    );
    // A range keeps part of a plotted axis.
    dir.xyz_ok(
        &[
            "plot",
            "study.zarr",
            "--x",
            "x",
            "--y",
            "y",
            "--sel",
            "x=-1:0",
            "-o",
            "r.svg",
        ],
        0,
    );
    let svg = std::fs::read_to_string(dir.path("r.svg")).unwrap();
    let texts = svg_texts(&svg);
    // x's ticks span -1 to 0 (y's, -1 to 1): none of x's beyond.
    assert!(texts.iter().any(|t| t == "-0.8"), "{texts:?}");
    assert!(!texts.iter().any(|t| t == "-1.5" || t == "-2"), "{texts:?}");
    assert!(
        !texts.iter().any(|t| t.contains("e-")),
        "rounding noise: {texts:?}"
    );
}

#[test]
fn plots_show_the_data_log_scales_palette_markers_and_legend() {
    let dir = Dir::new();
    let spec = mandel_spec(&dir, 60, 80, 1000);
    dir.xyz_ok(&["run", "-q", spec.to_str().unwrap(), "-o", "m.zarr"], 0);
    // Most of mandel's cells escape in a few iterations of 1000: on a linear scale they are
    // all viridis' bottom colour; on a log scale they spread over it.
    let purple = |file: &str, log: bool| {
        let mut args = vec!["plot", "m.zarr", "--x", "x", "--y", "y", "-o", file];
        if log {
            args.push("--log");
        }
        dir.xyz_ok(&args, 0);
        let (_, _, pixels) = decode_png(&dir.path(file));
        let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 24);
        pixels.iter().filter(|p| near(p, [68, 1, 84])).count()
    };
    let (linear, log) = (purple("lin.png", false), purple("log.png", true));
    assert!(
        log * 3 < linear,
        "log {log} vs linear {linear} bottom-coloured pixels"
    );

    // A logspace coordinate is drawn on a log axis; 50 points get no markers; the series use
    // the palette without yellow, and the legend stands beside the plot, not on it.
    let ramp = guest("ramp");
    dir.xyz_ok(
        &[
            "run",
            "-q",
            "--function",
            &ramp,
            "--combo",
            "a={ logspace = [-3, 0, 50] }",
            "--combo",
            "b=0,1,2",
            "-o",
            "g.zarr",
        ],
        0,
    );
    dir.xyz_ok(
        &[
            "plot", "g.zarr", "--x", "a", "--sel", "t=2", "-o", "g.svg", "--size", "800x600",
        ],
        0,
    );
    let svg = std::fs::read_to_string(dir.path("g.svg")).unwrap();
    let texts = svg_texts(&svg);
    for tick in ["0.001", "0.01", "0.1", "1"] {
        assert!(
            texts.iter().any(|t| t == tick),
            "no {tick} tick in {texts:?}"
        );
    }
    assert!(
        !texts.iter().any(|t| t.starts_with('-')),
        "an axis below 0: {texts:?}"
    );
    assert_eq!(svg.matches("<circle").count(), 0, "no markers on 50 points");
    let svg_upper = svg.to_uppercase();
    assert!(
        !svg_upper.contains("#F0E442") && !svg_upper.contains("#FFFF00"),
        "yellow lines"
    );
    assert!(svg_upper.contains("#0072B2"), "the palette's first colour");
    for label in ["b=0", "b=1", "b=2"] {
        let xs = svg_text_x(&svg, label);
        assert!(!xs.is_empty(), "no legend label {label}");
        assert!(
            xs.iter().all(|x| *x > 600.0),
            "{label} inside the plot: {xs:?}"
        );
    }
}

/// A sampled argument as `--x`: the samples drawn as points at its values, a series per
/// combo, on a log axis for a log-uniform coordinate.
#[test]
fn a_sampled_coordinate_plots_as_points() {
    let dir = Dir::new();
    let spec = dir.write(
        "s.toml",
        &format!(
            "function = \"{}\"\n[samples]\nn = 200\nseed = 2\nmethod = \"halton\"\n\
             x = {{ loguniform = [1e-3, 10.0] }}\n[samples.args]\nn = {{ integers = [1, 5] }}\n",
            guest("stats")
        ),
    );
    dir.xyz_ok(&["run", "-q", spec.to_str().unwrap(), "-o", "s.zarr"], 0);
    dir.xyz_ok(
        &["plot", "s.zarr", "--var", "prod", "--x", "x", "-o", "s.svg"],
        0,
    );
    let svg = std::fs::read_to_string(dir.path("s.svg")).unwrap();
    let texts = svg_texts(&svg);
    assert!(
        texts.iter().any(|t| t == "x") && texts.iter().any(|t| t == "prod"),
        "{texts:?}"
    );
    // Decades labelled: a log axis.
    for tick in ["0.01", "0.1", "1"] {
        assert!(texts.iter().any(|t| t == tick), "{tick} in {texts:?}");
    }
    // Points, one per sample, and no line through them.
    assert!(svg.matches("<circle").count() >= 200, "points drawn");
    // A line through 200 points would be a long polyline; the frame's are short.
    let longest = svg
        .split("<polyline")
        .skip(1)
        .map(|p| p.find("/>").unwrap_or(p.len()))
        .max()
        .unwrap_or(0);
    assert!(longest < 500, "no line through the points: {longest}");
    // Two sampled arguments: a heatmap read off the samples' triangles.
    dir.xyz_ok(
        &[
            "plot", "s.zarr", "--var", "prod", "--x", "x", "--y", "n", "-o", "xn.png",
        ],
        0,
    );
    let (_, _, pixels) = decode_png(&dir.path("xn.png"));
    let distinct: std::collections::HashSet<_> = pixels.iter().collect();
    assert!(distinct.len() > 50, "{} colours", distinct.len());
    for (args, expected) in [
        (
            vec!["--x", "x", "--y", "sample"],
            "--x x: a coordinate along sample is drawn as points against --x alone, or as a \
             heatmap with another coordinate along sample as --y",
        ),
        (
            vec!["--x", "z"],
            "--x z: `prod` has no such dim; its dims are sample",
        ),
    ] {
        let mut all = vec!["plot", "s.zarr", "--var", "prod", "-o", "e.png"];
        all.extend(args);
        let err = dir.xyz_err(&all);
        assert!(err.contains(expected), "{err}");
    }
}
