//! The learner of one argument: an interval split at its points, each piece weighed by a loss.
//!
//! As python-adaptive's `Learner1D`: the bounds are asked first; the arguments are scaled by
//! the span of the points told and the values by theirs; an interval shorter than a few ulps
//! of the bounds weighs nothing; `k` points go to the intervals of largest loss, an interval
//! that takes `p - 1` of them cut in `p` equal pieces, each weighing a `p`-th of its loss, so
//! that the largest loss left is as small as it can be. A loss that is not finite weighs as the
//! interval's scaled length. Losses are rounded to 12 digits and ties go to the leftmost
//! interval, so the choice is the same on every machine.
//!
//! A failed point splits its interval like any other, so it is never asked again; its value
//! is read off the line through its nearest neighbours with values.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Loss;

/// What is known of a function of one argument over an interval, and where to look next.
#[derive(Debug, Clone)]
pub struct Learner1D {
    bounds: [f64; 2],
    loss: Loss,
    /// The points told, ascending, with their values (`None` where the case failed).
    xs: Vec<f64>,
    ys: Vec<Option<f64>>,
    /// Intervals shorter than this weigh nothing.
    dx_eps: f64,
}

impl Learner1D {
    /// A learner over `bounds` (the lower first) weighing intervals by `loss`.
    pub fn new(bounds: [f64; 2], loss: Loss) -> Learner1D {
        Learner1D {
            bounds,
            loss,
            xs: Vec::new(),
            ys: Vec::new(),
            dx_eps: 2.0 * bounds[0].abs().max(bounds[1].abs()) * f64::EPSILON,
        }
    }

    /// Points told.
    pub fn len(&self) -> usize {
        self.xs.len()
    }

    /// Whether no point was told.
    pub fn is_empty(&self) -> bool {
        self.xs.is_empty()
    }

    /// The points told, ascending, with their values (`None` where the case failed).
    pub fn points(&self) -> impl Iterator<Item = (f64, Option<f64>)> + '_ {
        self.xs.iter().copied().zip(self.ys.iter().copied())
    }

    /// Tells the value at `x` (`None`: the case failed).
    pub fn tell(&mut self, x: f64, y: Option<f64>) {
        match self.xs.binary_search_by(|p| p.total_cmp(&x)) {
            Ok(i) => self.ys[i] = y,
            Err(i) => {
                self.xs.insert(i, x);
                self.ys.insert(i, y);
            }
        }
    }

    fn missing_bounds(&self) -> Vec<f64> {
        self.bounds
            .iter()
            .copied()
            .filter(|b| self.xs.binary_search_by(|p| p.total_cmp(b)).is_err())
            .collect()
    }

    /// The largest loss of an interval: infinite until both bounds are told.
    pub fn loss(&self) -> f64 {
        if !self.missing_bounds().is_empty() {
            return f64::INFINITY;
        }
        self.losses().into_iter().fold(0.0, f64::max)
    }

    /// The values, failed points' read off the line through their neighbours.
    fn values(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.xs.len()];
        let mut last: Option<usize> = None;
        for i in 0..self.xs.len() {
            if let Some(y) = self.ys[i] {
                out[i] = y;
                last = Some(i);
                continue;
            }
            let next = (i + 1..self.xs.len()).find(|&j| self.ys[j].is_some());
            out[i] = match (last, next) {
                (Some(l), Some(r)) => {
                    let (yl, yr) = (out[l], self.ys[r].unwrap_or(0.0));
                    let t = (self.xs[i] - self.xs[l]) / (self.xs[r] - self.xs[l]);
                    yl + t * (yr - yl)
                }
                (Some(l), None) => out[l],
                (None, Some(r)) => self.ys[r].unwrap_or(0.0),
                (None, None) => 0.0,
            };
        }
        out
    }

    /// The loss of each interval between consecutive points.
    fn losses(&self) -> Vec<f64> {
        let n = self.xs.len();
        if n < 2 {
            return Vec::new();
        }
        let x_scale = match self.xs[n - 1] - self.xs[0] {
            s if s > 0.0 => s,
            _ => 1.0,
        };
        let ys = self.values();
        let (lo, hi) = self
            .ys
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &y| {
                (lo.min(y), hi.max(y))
            });
        let y_scale = match hi - lo {
            s if s > 0.0 => s,
            _ => 1.0,
        };
        let sx = |i: usize| self.xs[i] / x_scale;
        let sy = |i: usize| ys[i] / y_scale;
        (0..n - 1)
            .map(|i| {
                if self.xs[i + 1] - self.xs[i] < self.dx_eps {
                    return 0.0;
                }
                let dx = sx(i + 1) - sx(i);
                match self.loss {
                    Loss::Uniform => dx,
                    Loss::Default => dx.hypot(sy(i + 1) - sy(i)),
                    Loss::AbsMinLog => dx.hypot(sy(i + 1).abs().ln() - sy(i).abs().ln()),
                    Loss::Curvature => {
                        let from = i.saturating_sub(1);
                        let to = (i + 2).min(n - 1);
                        let pts: Vec<(f64, f64)> = (from..=to).map(|j| (sx(j), sy(j))).collect();
                        let triangles = pts.len() - 2;
                        let area = if triangles == 0 {
                            dx
                        } else {
                            pts.windows(3)
                                .map(|t| {
                                    let (a, b, c) = (t[0], t[1], t[2]);
                                    ((b.0 - a.0) * (c.1 - a.1) - (c.0 - a.0) * (b.1 - a.1)).abs()
                                        / 2.0
                                })
                                .sum::<f64>()
                                / triangles as f64
                        };
                        area.sqrt() + 0.02 * dx.hypot(sy(i + 1) - sy(i)) + 0.02 * dx
                    }
                }
            })
            .collect()
    }

    /// The next `k` points, ascending after any bound not yet told; fewer where the
    /// intervals left are too short to split.
    pub fn ask(&self, k: usize) -> Vec<f64> {
        if k == 0 {
            return Vec::new();
        }
        let [a, b] = self.bounds;
        let missing = self.missing_bounds();
        if missing.len() >= k {
            return missing[..k].to_vec();
        }
        if self.xs.is_empty() {
            let step = (b - a) / (k - 1) as f64;
            let mut points: Vec<f64> = (0..k)
                .map(|i| if i + 1 == k { b } else { a + step * i as f64 })
                .collect();
            // Bounds a few ulps apart hold fewer distinct points than asked.
            points.dedup();
            return points;
        }
        let n = self.xs.len();
        let x_scale = match self.xs[n - 1] - self.xs[0] {
            s if s > 0.0 => s,
            _ => b - a,
        };
        // The intervals: between the points, and to each bound not yet told.
        let mut intervals: Vec<(f64, f64, f64)> = Vec::with_capacity(n + 1);
        if missing.contains(&a) {
            intervals.push((a, self.xs[0], f64::INFINITY));
        }
        let losses = self.losses();
        intervals.extend((0..n - 1).map(|i| (self.xs[i], self.xs[i + 1], losses[i])));
        if missing.contains(&b) {
            intervals.push((self.xs[n - 1], b, f64::INFINITY));
        }
        let mut heap: BinaryHeap<Piece> = intervals
            .iter()
            .enumerate()
            .map(|(i, &(l, r, loss))| Piece::new(i, l, r, loss, 1, x_scale))
            .collect();
        let mut pieces = vec![1usize; intervals.len()];
        for _ in missing.len()..k {
            let Some(top) = heap.pop() else { break };
            if top.weight <= 0.0 {
                break;
            }
            let (l, r, loss) = intervals[top.interval];
            pieces[top.interval] += 1;
            let p = pieces[top.interval];
            heap.push(Piece::new(top.interval, l, r, loss, p, x_scale));
        }
        let mut points = missing;
        for (&(l, r, _), &p) in intervals.iter().zip(&pieces) {
            let step = (r - l) / p as f64;
            let mut last = l;
            for i in 1..p {
                // Strictly inside the interval and after the last: an interval a few ulps
                // wide holds fewer points than it was given.
                let x = l + step * i as f64;
                if x > last && x < r {
                    points.push(x);
                    last = x;
                }
            }
        }
        points
    }
}

/// An interval cut in `pieces`, weighed by its loss per piece, rounded to 12 digits.
#[derive(Debug)]
struct Piece {
    weight: f64,
    left: f64,
    interval: usize,
}

impl Piece {
    fn new(interval: usize, l: f64, r: f64, loss: f64, pieces: usize, x_scale: f64) -> Piece {
        let loss = if loss.is_finite() {
            loss
        } else {
            (r - l) / x_scale
        } / pieces as f64;
        Piece {
            weight: (loss * 1e12 + 0.5).floor() / 1e12,
            left: l,
            interval,
        }
    }
}

impl PartialEq for Piece {
    fn eq(&self, other: &Piece) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Piece {}

impl PartialOrd for Piece {
    fn partial_cmp(&self, other: &Piece) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Piece {
    /// The heaviest first; of equal weights, the leftmost.
    fn cmp(&self, other: &Piece) -> Ordering {
        self.weight
            .total_cmp(&other.weight)
            .then_with(|| other.left.total_cmp(&self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(f: impl Fn(f64) -> f64, loss: Loss, n: usize, k: usize) -> Learner1D {
        let mut l = Learner1D::new([-1.0, 1.0], loss);
        while l.len() < n {
            let pts = l.ask(k.min(n - l.len()));
            assert!(!pts.is_empty());
            for x in pts {
                l.tell(x, Some(f(x)));
            }
        }
        l
    }

    #[test]
    fn bounds_first_then_the_largest_interval() {
        let mut l = Learner1D::new([0.0, 4.0], Loss::Default);
        assert_eq!(l.ask(1), vec![0.0]);
        assert_eq!(l.ask(3), vec![0.0, 2.0, 4.0]);
        l.tell(0.0, Some(0.0));
        assert_eq!(l.ask(2), vec![4.0, 2.0]);
        l.tell(4.0, Some(0.0));
        assert_eq!(l.ask(3), vec![1.0, 2.0, 3.0]);
        l.tell(2.0, Some(1.0));
        // The two halves weigh the same: the left one is cut first.
        assert_eq!(l.ask(1), vec![1.0]);
    }

    #[test]
    fn points_gather_where_the_function_changes() {
        let peak = |x: f64| x + 0.01 * 0.01 / (0.01 * 0.01 + x * x);
        let l = learn(peak, Loss::Default, 200, 8);
        let near = l.points().filter(|(x, _)| x.abs() < 0.1).count();
        assert!(near > 60, "{near} of 200 points within 0.1 of the peak");
        let uniform = learn(peak, Loss::Uniform, 200, 8);
        let near = uniform.points().filter(|(x, _)| x.abs() < 0.1).count();
        assert!(near < 30, "{near}");
    }

    #[test]
    fn a_failed_point_is_not_asked_again() {
        let mut l = Learner1D::new([0.0, 1.0], Loss::Default);
        for x in l.ask(3) {
            l.tell(x, if x == 0.5 { None } else { Some(x) });
        }
        for _ in 0..20 {
            for x in l.ask(4) {
                assert!(x != 0.5 && x != 0.0 && x != 1.0);
                l.tell(x, Some(x));
            }
        }
        assert!(l.loss().is_finite());
    }

    #[test]
    fn every_loss_refines_and_the_loss_falls() {
        for loss in [
            Loss::Default,
            Loss::Uniform,
            Loss::Curvature,
            Loss::AbsMinLog,
        ] {
            let l = learn(|x| (5.0 * x).sin(), loss, 100, 4);
            let before = learn(|x| (5.0 * x).sin(), loss, 20, 4).loss();
            assert!(l.loss() < before, "{loss}: {} vs {before}", l.loss());
            let xs: Vec<f64> = l.points().map(|(x, _)| x).collect();
            assert!(xs.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn intervals_too_short_to_split_end_the_asking() {
        let mut l = Learner1D::new([1.0, 1.0 + 4.0 * f64::EPSILON], Loss::Default);
        for _ in 0..10 {
            for x in l.ask(4) {
                l.tell(x, Some(x));
            }
        }
        assert!(l.len() <= 5);
        assert!(l.ask(4).is_empty());
    }
}
