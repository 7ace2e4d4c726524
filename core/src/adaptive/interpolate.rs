//! An adaptive study's values between its points: linear over the Delaunay triangles of the
//! points (in one argument, over the intervals between them), for plots and for the grid
//! `--grid` writes.

use std::collections::BTreeMap;

use spade::{DelaunayTriangulation, FloatTriangulation, Point2, Triangulation};
use xyz_abi::ScalarType;

use super::Adaptive;
use crate::dataset::{CellState, DataVar, Dataset};
use crate::space::SweptDim;
use crate::value::Column;

/// The attribute of a grid that names the points it was read off.
pub const GRID_ATTR: &str = "xyz_grid_of";

/// The dataset of `study`'s points `ds` read off on a grid of `sizes` values per adaptive
/// argument (evenly over its bounds): a dim per combo (its values, in the order the points
/// first take them), then one per adaptive argument, and each numeric output of one number
/// per case as f64, linear between the points of its combination (over their Delaunay
/// triangles in two arguments). Cells outside the points with values are `not reached`. The
/// attributes are the points', and [`GRID_ATTR`] names `points` (the file they are in).
pub fn grid(ds: &Dataset, study: &Adaptive, sizes: &[usize], points: &str) -> Dataset {
    let axes: Vec<Vec<f64>> = study
        .args
        .iter()
        .zip(sizes)
        .map(|((_, [lo, hi]), n)| linspace(*lo, *hi, *n))
        .collect();
    let n_points = ds.cells.len();
    let coord = |name: &str| -> Vec<f64> {
        match ds
            .aux_coords
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.values)
        {
            Some(Column::F64(v)) => v.clone(),
            _ => vec![f64::NAN; n_points],
        }
    };
    let along: Vec<Vec<f64>> = study.args.iter().map(|(n, _)| coord(n)).collect();
    // The combos: each coordinate along the points that is not an adaptive argument, with
    // its values in order of first appearance; each point's combination is a cell of theirs.
    let combos = study.combination_coords(ds);
    let mut combo_dims: Vec<SweptDim> = Vec::new();
    let mut flat = vec![0usize; n_points];
    for c in &combos {
        let mut values = Column::new(c.values.ty());
        let mut seen: Vec<crate::value::Value> = Vec::new();
        let mut index = Vec::with_capacity(n_points);
        for i in 0..n_points {
            let v = c.values.get(i);
            let k = match seen.iter().position(|k| *k == v) {
                Some(k) => k,
                None => {
                    values.push(&v);
                    seen.push(v);
                    seen.len() - 1
                }
            };
            index.push(k);
        }
        for (f, k) in flat.iter_mut().zip(index) {
            *f = *f * seen.len() + k;
        }
        combo_dims.push(SweptDim {
            name: c.name.clone(),
            coords: values,
        });
    }
    let sizes_of: Vec<usize> = combo_dims.iter().map(|d| d.coords.len()).collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); sizes_of.iter().product()];
    for (i, f) in flat.iter().enumerate() {
        members[*f].push(i);
    }
    let n_combinations: usize = sizes_of.iter().product();
    let block: usize = axes.iter().map(Vec::len).product();
    let cells = n_combinations * block;
    let mut vars = Vec::new();
    for var in &ds.vars {
        if var.elements() != 1 {
            continue;
        }
        let values: Vec<f64> = match &var.data {
            Column::F64(v) => v.clone(),
            Column::I64(v) => v
                .iter()
                .map(|x| {
                    if *x == crate::dataset::MISSING_I64 {
                        f64::NAN
                    } else {
                        *x as f64
                    }
                })
                .collect(),
            _ => continue,
        };
        let values: Vec<f64> = values
            .iter()
            .zip(&ds.cells)
            .map(|(v, c)| if *c == CellState::Ok { *v } else { f64::NAN })
            .collect();
        let mut data = Vec::with_capacity(cells);
        for members in &members {
            let pick = |v: &[f64]| -> Vec<f64> { members.iter().map(|&i| v[i]).collect() };
            let own = pick(&values);
            match along.as_slice() {
                [xs] => data.extend(interpolate_1d(&pick(xs), &own, &axes[0])),
                [xs, ys] => {
                    let (xs, ys) = (pick(xs), pick(ys));
                    let pts: Vec<[f64; 2]> = xs.iter().zip(&ys).map(|(x, y)| [*x, *y]).collect();
                    data.extend(Interpolant::new(&pts, &own).grid(&axes[0], &axes[1]));
                }
                _ => data.extend(std::iter::repeat_n(f64::NAN, block)),
            }
        }
        vars.push(DataVar {
            name: var.name.clone(),
            ty: ScalarType::F64,
            extra_dims: Vec::new(),
            data: Column::F64(data),
        });
    }
    let reached = |i: usize| {
        vars.iter()
            .any(|v| matches!(&v.data, Column::F64(d) if d[i].is_finite()))
    };
    let cells = (0..cells)
        .map(|i| {
            if reached(i) {
                CellState::Ok
            } else {
                CellState::Absent
            }
        })
        .collect();
    let mut attrs = ds.attrs.clone();
    attrs.push((GRID_ATTR.into(), crate::value::Value::Str(points.into())));
    Dataset {
        dims: combo_dims
            .into_iter()
            .chain(
                study
                    .args
                    .iter()
                    .zip(axes)
                    .map(|((name, _), coords)| SweptDim {
                        name: name.clone(),
                        coords: Column::F64(coords),
                    }),
            )
            .collect(),
        vars,
        cells,
        errors: BTreeMap::new(),
        extra_coords: Vec::new(),
        aux_coords: Vec::new(),
        attrs,
    }
}

/// The values of points of two arguments, read off linearly over their triangles.
#[derive(Debug)]
pub struct Interpolant {
    tri: DelaunayTriangulation<Point2<f64>>,
    values: Vec<f64>,
    /// Each argument's centre and span, to which the points are scaled (as the learner
    /// triangulates them).
    mean: [f64; 2],
    scale: [f64; 2],
}

impl Interpolant {
    /// The interpolant of `values` at `points`; points whose value is not finite (failed
    /// cases) are left out. Points repeated keep their last value.
    pub fn new(points: &[[f64; 2]], values: &[f64]) -> Interpolant {
        let span = |k: usize| {
            let (lo, hi) = points
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                    (a.min(p[k]), b.max(p[k]))
                });
            let s = hi - lo;
            (
                (lo + hi) / 2.0,
                if s > 0.0 && s.is_finite() { s } else { 1.0 },
            )
        };
        let ((mx, sx), (my, sy)) = (span(0), span(1));
        let mut me = Interpolant {
            tri: DelaunayTriangulation::new(),
            values: Vec::new(),
            mean: [mx, my],
            scale: [sx, sy],
        };
        for (p, v) in points.iter().zip(values) {
            if !v.is_finite() || !p[0].is_finite() || !p[1].is_finite() {
                continue;
            }
            let Ok(handle) = me.tri.insert(me.scaled(*p)) else {
                continue;
            };
            let i = handle.index();
            if i == me.values.len() {
                me.values.push(*v);
            } else {
                me.values[i] = *v;
            }
        }
        me
    }

    fn scaled(&self, p: [f64; 2]) -> Point2<f64> {
        Point2::new(
            (p[0] - self.mean[0]) / self.scale[0],
            (p[1] - self.mean[1]) / self.scale[1],
        )
    }

    /// The value at `p`; `None` outside the points' hull.
    pub fn at(&self, p: [f64; 2]) -> Option<f64> {
        self.tri
            .barycentric()
            .interpolate(|v| self.values[v.fix().index()], self.scaled(p))
    }

    /// The values on the grid of `xs` by `ys`, row-major with `ys` fastest; NaN outside the
    /// points' hull.
    pub fn grid(&self, xs: &[f64], ys: &[f64]) -> Vec<f64> {
        let mut out = Vec::with_capacity(xs.len() * ys.len());
        for &x in xs {
            for &y in ys {
                out.push(self.at([x, y]).unwrap_or(f64::NAN));
            }
        }
        out
    }
}

/// The values at `at` of the function of one argument known at `points`, linear between
/// them; NaN outside them. Points whose value is not finite are left out.
pub fn interpolate_1d(points: &[f64], values: &[f64], at: &[f64]) -> Vec<f64> {
    let mut known: Vec<(f64, f64)> = points
        .iter()
        .zip(values)
        .filter(|(x, v)| x.is_finite() && v.is_finite())
        .map(|(x, v)| (*x, *v))
        .collect();
    known.sort_by(|a, b| a.0.total_cmp(&b.0));
    at.iter()
        .map(|&x| {
            let i = known.partition_point(|p| p.0 < x);
            match (i.checked_sub(1).map(|j| known[j]), known.get(i)) {
                (_, Some(&(xr, vr))) if xr == x => vr,
                (Some((xl, vl)), Some(&(xr, vr))) => vl + (x - xl) / (xr - xl) * (vr - vl),
                _ => f64::NAN,
            }
        })
        .collect()
}

/// `n` points evenly from `lo` to `hi`, both included.
pub fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![lo],
        _ => (0..n)
            .map(|i| {
                if i + 1 == n {
                    hi
                } else {
                    lo + (hi - lo) * i as f64 / (n - 1) as f64
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plane_is_read_off_exactly() {
        let f = |p: [f64; 2]| 2.0 * p[0] - 3.0 * p[1] + 1.0;
        let mut points = vec![[0.0, 0.0], [0.0, 10.0], [4.0, 0.0], [4.0, 10.0]];
        points.extend((0..40).map(|i| [(i % 7) as f64 * 0.5, (i * 3 % 11) as f64 * 0.9]));
        let values: Vec<f64> = points.iter().map(|p| f(*p)).collect();
        let ip = Interpolant::new(&points, &values);
        for (x, y) in [(0.3, 0.7), (3.99, 9.5), (2.0, 5.0), (0.0, 10.0)] {
            let got = ip.at([x, y]).unwrap();
            assert!((got - f([x, y])).abs() < 1e-9, "{got} at {x}, {y}");
        }
        assert_eq!(ip.at([5.0, 1.0]), None);
        let g = ip.grid(&linspace(0.0, 4.0, 3), &linspace(0.0, 10.0, 2));
        assert_eq!(g.len(), 6);
        assert!((g[1] - f([0.0, 10.0])).abs() < 1e-9);
    }

    #[test]
    fn one_argument_between_its_points() {
        let got = interpolate_1d(
            &[1.0, 0.0, 2.0],
            &[10.0, 0.0, f64::NAN],
            &[-1.0, 0.5, 1.0, 1.5],
        );
        assert_eq!(&got[1..3], &[5.0, 10.0]);
        assert!(got[0].is_nan() && got[3].is_nan());
    }
}
