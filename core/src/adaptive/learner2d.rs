//! The learner of two arguments: a rectangle triangulated at its points, each triangle weighed
//! by a loss.
//!
//! As python-adaptive's `Learner2D`: the corners are asked first; the arguments are scaled to
//! the unit square and the values by their span; the points are triangulated (Delaunay); the
//! default loss of a triangle is `d * sqrt(A) + 0.3 * A`, `A` its area and `d` how far the
//! value at each corner strays from the linear estimates made from the others' values and
//! gradients, and the uniform loss is `sqrt(A)`. A new point goes in the triangle of largest
//! loss: at the middle of its longest edge when the triangle is thin (its longest edge squared
//! over its area past 5 times an equilateral triangle's), else at its centroid. The points of
//! a round come from the heaviest triangles at once; where a round asks more points than there
//! are triangles, those chosen are put in with values read off the triangulation and the rest
//! chosen again.
//!
//! A vertex's gradient is the least-squares fit to its neighbours' values (python-adaptive
//! takes the gradients of a Clough-Tocher interpolant). A failed point stays a vertex, so it
//! is never asked again; its value is the mean of its neighbours'.

use spade::handles::FixedVertexHandle;
use spade::{DelaunayTriangulation, Point2, Triangulation};

use super::Loss;

/// A thin triangle gets its new point on its longest edge.
const MAX_BADNESS: f64 = 5.0;

/// Most steps of the gradients' estimate, in sweeps of every vertex, and the move of a
/// vertex's gradient (in the values' span per side of the square) below which its neighbours
/// are left as they are: finer moves change no choice of point.
const GRADIENT_SWEEPS: usize = 400;
const GRADIENT_TOL: f64 = 1e-3;

/// What a vertex holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Known {
    /// Told its value.
    Value(f64),
    /// Told that its case failed.
    Failed,
    /// Asked and not told yet: an estimate.
    Pending(f64),
}

/// What is known of a function of two arguments over a rectangle, and where to look next.
#[derive(Debug, Clone)]
pub struct Learner2D {
    bounds: [[f64; 2]; 2],
    loss: Loss,
    mean: [f64; 2],
    scale: [f64; 2],
    tri: DelaunayTriangulation<Point2<f64>>,
    /// By vertex index.
    known: Vec<Known>,
    told: usize,
    /// The gradients found last, by vertex index, in units of the values as told.
    grads: Vec<[f64; 2]>,
    /// The triangles' losses, until a vertex is put in or told.
    losses: Option<Vec<([usize; 3], f64)>>,
    /// Vertices put in or told since the gradients were last found.
    dirty: Vec<usize>,
    /// What each face's triangle weighed when last weighed, by face index.
    faces: Vec<FaceLoss>,
    /// The weighing when each vertex's value or gradient last moved.
    moved: Vec<u64>,
    /// Weighings so far.
    stamp: u64,
}

/// A triangle as last weighed.
#[derive(Debug, Clone, Copy, Default)]
struct FaceLoss {
    corners: [usize; 3],
    /// The weighing it was made in (0: never).
    stamp: u64,
    /// How far the corners' linear estimates stray, in units of the values as told.
    dev: f64,
    area: f64,
}

impl Learner2D {
    /// A learner over the rectangle `bounds` (each argument's, the lower first), weighing
    /// triangles by `loss` (`Default` or `Uniform`).
    pub fn new(bounds: [[f64; 2]; 2], loss: Loss) -> Learner2D {
        Learner2D {
            bounds,
            loss,
            mean: bounds.map(|[a, b]| (a + b) / 2.0),
            scale: bounds.map(|[a, b]| b - a),
            tri: DelaunayTriangulation::new(),
            known: Vec::new(),
            told: 0,
            grads: Vec::new(),
            losses: None,
            dirty: Vec::new(),
            faces: Vec::new(),
            moved: Vec::new(),
            stamp: 0,
        }
    }

    /// Points told.
    pub fn len(&self) -> usize {
        self.told
    }

    /// Whether no point was told.
    pub fn is_empty(&self) -> bool {
        self.told == 0
    }

    fn scaled(&self, p: [f64; 2]) -> Point2<f64> {
        Point2::new(
            (p[0] - self.mean[0]) / self.scale[0],
            (p[1] - self.mean[1]) / self.scale[1],
        )
    }

    fn unscaled(&self, p: Point2<f64>) -> [f64; 2] {
        let clip = |v: f64, [lo, hi]: [f64; 2]| v.max(lo).min(hi);
        [
            clip(p.x * self.scale[0] + self.mean[0], self.bounds[0]),
            clip(p.y * self.scale[1] + self.mean[1], self.bounds[1]),
        ]
    }

    fn corners(&self) -> [[f64; 2]; 4] {
        let [[x0, x1], [y0, y1]] = self.bounds;
        [[x0, y0], [x0, y1], [x1, y0], [x1, y1]]
    }

    /// The vertex at `p`, put in with `known` where there is none; the index and whether it
    /// was there.
    fn vertex(&mut self, p: [f64; 2], known: Known) -> (usize, bool) {
        let at = self.scaled(p);
        if let Some(v) = self.tri.locate_vertex(at) {
            return (v.fix().index(), true);
        }
        self.losses = None;
        let handle = self
            .tri
            .insert(at)
            .expect("a point of the bounds, which are finite");
        let i = handle.index();
        if i == self.known.len() {
            self.known.push(known);
        }
        self.dirty.push(i);
        (i, false)
    }

    /// Tells the value at `p` (`None`: the case failed).
    pub fn tell(&mut self, p: [f64; 2], value: Option<f64>) {
        let known = value.map_or(Known::Failed, Known::Value);
        let (i, existed) = self.vertex(p, known);
        if !existed || matches!(self.known[i], Known::Pending(_)) {
            self.told += 1;
        }
        self.known[i] = known;
        self.losses = None;
        self.dirty.push(i);
        // A failed vertex's value is its neighbours' mean, so theirs move it.
        for e in self
            .tri
            .vertex(FixedVertexHandle::from_index(i))
            .out_edges()
        {
            let j = e.to().fix().index();
            if self.known[j] == Known::Failed {
                self.dirty.push(j);
            }
        }
    }

    fn corners_told(&self) -> bool {
        self.corners().iter().all(|c| {
            self.tri
                .locate_vertex(self.scaled(*c))
                .is_some_and(|v| !matches!(self.known[v.fix().index()], Known::Pending(_)))
        })
    }

    /// Each vertex's value: told, estimated where pending, the mean of its neighbours' where
    /// failed.
    fn values(&self) -> Vec<f64> {
        let mut out: Vec<f64> = self
            .known
            .iter()
            .map(|k| match k {
                Known::Value(v) | Known::Pending(v) => *v,
                Known::Failed => f64::NAN,
            })
            .collect();
        for v in self.tri.vertices() {
            let i = v.fix().index();
            if self.known[i] != Known::Failed {
                continue;
            }
            let (sum, n) = v
                .out_edges()
                .map(|e| out[e.to().fix().index()])
                .filter(|x| !x.is_nan())
                .fold((0.0, 0), |(s, n), x| (s + x, n + 1));
            out[i] = if n == 0 { 0.0 } else { sum / n as f64 };
        }
        out
    }

    /// Each triangle's corners (vertex indices) and loss.
    fn losses(&mut self) -> &[([usize; 3], f64)] {
        if self.losses.is_none() {
            self.losses = Some(self.weigh());
        }
        self.losses.as_deref().unwrap_or_default()
    }

    /// The losses, taken out of the cache (a round puts vertices in, which voids it).
    fn take_losses(&mut self) -> Vec<([usize; 3], f64)> {
        self.losses.take().unwrap_or_else(|| self.weigh())
    }

    /// Every triangle's corners and loss. A triangle's deviation (in units of the values as
    /// told) and area are kept by its face, and made again only where the face now has other
    /// corners or a corner's value or gradient moved since.
    fn weigh(&mut self) -> Vec<([usize; 3], f64)> {
        self.stamp += 1;
        let stamp = self.stamp;
        let values = self.values();
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let span = match hi - lo {
            s if s > 0.0 => s,
            _ => 1.0,
        };
        self.moved.resize(self.known.len(), stamp);
        for (i, k) in self.known.iter().enumerate() {
            // A failed vertex's value is its neighbours' mean: taken as moved every time.
            if *k == Known::Failed {
                self.moved[i] = stamp;
            }
        }
        if self.loss == Loss::Default {
            let scaled: Vec<f64> = values.iter().map(|v| v / span).collect();
            self.gradients(&scaled, span);
        }
        let mut out = Vec::with_capacity(self.faces.len());
        for face in self.tri.inner_faces() {
            let vs = face.vertices();
            let idx = vs.map(|v| v.fix().index());
            let at = face.fix().index();
            if at >= self.faces.len() {
                self.faces.resize(at + 1, FaceLoss::default());
            }
            let kept = &self.faces[at];
            let fresh = kept.corners == idx
                && kept.stamp > 0
                && idx.iter().all(|&i| self.moved[i] < kept.stamp);
            if !fresh {
                let p = vs.map(|v| v.position());
                let area = (((p[1].x - p[0].x) * (p[2].y - p[0].y)
                    - (p[2].x - p[0].x) * (p[1].y - p[0].y))
                    / 2.0)
                    .abs();
                let mut dev = 0.0;
                if self.loss == Loss::Default {
                    for j in 0..3 {
                        let g = self.grads[idx[j]];
                        let vj = values[idx[j]];
                        let most = (0..3)
                            .map(|k| {
                                let est = vj + g[0] * (p[k].x - p[j].x) + g[1] * (p[k].y - p[j].y);
                                (est - values[idx[k]]).abs()
                            })
                            .fold(0.0, f64::max);
                        dev += most;
                    }
                }
                self.faces[at] = FaceLoss {
                    corners: idx,
                    stamp,
                    dev,
                    area,
                };
            }
            let f = &self.faces[at];
            let loss = match self.loss {
                Loss::Uniform => f.area.sqrt(),
                _ => f.dev / span * f.area.sqrt() + 0.3 * f.area,
            };
            out.push((idx, loss));
        }
        out
    }

    /// Finds each vertex's gradient (of `values`, already divided by their span): those of the
    /// piecewise cubic surface of least curvature through the values (Nielson's minimum norm
    /// network, as scipy's Clough-Tocher interpolant estimates them), found by Gauss-Seidel
    /// steps from the gradients found last time (kept in units of the values as told, so a
    /// new span only scales them). Only where something changed is worked on: the vertices
    /// put in or told since, and their neighbours; a vertex whose gradient moves past the
    /// tolerance has its neighbours worked on again.
    fn gradients(&mut self, values: &[f64], span: f64) {
        let n = self.known.len();
        let known = self.grads.len();
        let mut g: Vec<[f64; 2]> = self
            .grads
            .iter()
            .map(|[a, b]| [a / span, b / span])
            .collect();
        g.resize(n, [0.0; 2]);
        let mut queued = vec![false; n];
        let mut queue = std::collections::VecDeque::new();
        let push =
            |i: usize, queued: &mut [bool], queue: &mut std::collections::VecDeque<usize>| {
                if !queued[i] {
                    queued[i] = true;
                    queue.push_back(i);
                }
            };
        let handle = |i: usize| self.tri.vertex(FixedVertexHandle::from_index(i));
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for &i in &dirty {
            self.moved[i] = self.stamp;
            push(i, &mut queued, &mut queue);
            for e in handle(i).out_edges() {
                push(e.to().fix().index(), &mut queued, &mut queue);
            }
        }
        // A vertex new since last time starts from its neighbours' gradients.
        for i in known..n {
            let (mut sum, mut count) = ([0.0; 2], 0.0);
            for e in handle(i).out_edges() {
                let j = e.to().fix().index();
                if j < known {
                    sum[0] += g[j][0];
                    sum[1] += g[j][1];
                    count += 1.0;
                }
            }
            if count > 0.0 {
                g[i] = [sum[0] / count, sum[1] / count];
            }
        }
        let mut budget = GRADIENT_SWEEPS * n;
        while let Some(i) = queue.pop_front() {
            queued[i] = false;
            if budget == 0 {
                break;
            }
            budget -= 1;
            let v = handle(i);
            let pi = v.position();
            let (mut q0, mut q1, mut q3, mut s0, mut s1) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for e in v.out_edges() {
                let to = e.to();
                let j = to.fix().index();
                let q = to.position();
                let (ex, ey) = (q.x - pi.x, q.y - pi.y);
                let d2 = ex * ex + ey * ey;
                let w = 1.0 / (d2 * d2.sqrt());
                let df = -ex * g[j][0] - ey * g[j][1];
                let rhs = (6.0 * (values[i] - values[j]) - 2.0 * df) * w;
                q0 += 4.0 * ex * ex * w;
                q1 += 4.0 * ex * ey * w;
                q3 += 4.0 * ey * ey * w;
                s0 += rhs * ex;
                s1 += rhs * ey;
            }
            let det = q0 * q3 - q1 * q1;
            if det.abs() < 1e-300 || !det.is_finite() {
                continue;
            }
            let r0 = (q3 * s0 - q1 * s1) / det;
            let r1 = (-q1 * s0 + q0 * s1) / det;
            let change =
                (g[i][0] + r0).abs().max((g[i][1] + r1).abs()) / r0.abs().max(r1.abs()).max(1.0);
            g[i] = [-r0, -r1];
            // A move within the tolerance leaves the triangles around it as weighed.
            if change >= GRADIENT_TOL {
                self.moved[i] = self.stamp;
                for e in v.out_edges() {
                    push(e.to().fix().index(), &mut queued, &mut queue);
                }
            }
        }
        self.grads = g.iter().map(|[a, b]| [a * span, b * span]).collect();
    }

    /// The largest loss of a triangle: infinite until the corners are told.
    pub fn loss(&mut self) -> f64 {
        if !self.corners_told() {
            return f64::INFINITY;
        }
        self.losses().iter().map(|(_, l)| *l).fold(0.0, f64::max)
    }

    /// The next `k` points: corners not yet asked first, then points in the heaviest
    /// triangles. The points are put in as pending (with estimated values) until told.
    pub fn ask(&mut self, k: usize) -> Vec<[f64; 2]> {
        let mut out = Vec::with_capacity(k);
        for c in self.corners() {
            if out.len() == k {
                return out;
            }
            if !self.vertex(c, Known::Pending(0.0)).1 {
                out.push(c);
            }
        }
        while out.len() < k {
            let mut losses = self.take_losses();
            // The heaviest first; of equal losses, the triangle found first. Only those a
            // round can take are put in order.
            let heaviest = |a: &([usize; 3], f64), b: &([usize; 3], f64)| b.1.total_cmp(&a.1);
            let take = (2 * (k - out.len())).min(losses.len());
            if take > 0 && take < losses.len() {
                losses.select_nth_unstable_by(take - 1, heaviest);
                losses.truncate(take);
            }
            losses.sort_by(heaviest);
            let values = self.values();
            let mut chosen: Vec<([f64; 2], f64)> = Vec::new();
            for (idx, loss) in losses {
                if out.len() + chosen.len() == k || loss <= 0.0 {
                    break;
                }
                let p = idx.map(|i| self.tri.vertex(FixedVertexHandle::from_index(i)).position());
                let (at, weights) = choose_point(p);
                let point = self.unscaled(at);
                let scaled = self.scaled(point);
                if self.tri.locate_vertex(scaled).is_some() || chosen.iter().any(|c| c.0 == point) {
                    continue;
                }
                let estimate: f64 = (0..3).map(|j| weights[j] * values[idx[j]]).sum();
                chosen.push((point, estimate));
            }
            if chosen.is_empty() {
                break;
            }
            for (point, estimate) in chosen {
                self.vertex(point, Known::Pending(estimate));
                out.push(point);
            }
        }
        out
    }
}

/// Where a new point goes in a triangle, and its barycentric weights there.
fn choose_point(p: [Point2<f64>; 3]) -> (Point2<f64>, [f64; 3]) {
    let area =
        ((p[1].x - p[0].x) * (p[2].y - p[0].y) - (p[2].x - p[0].x) * (p[1].y - p[0].y)).abs() / 2.0;
    // Edge i runs from corner i - 1 to corner i.
    let edge = |i: usize| {
        let (a, b) = (p[(i + 2) % 3], p[i]);
        (b.x - a.x).hypot(b.y - a.y)
    };
    let longest = (0..3)
        .max_by(|&a, &b| edge(a).total_cmp(&edge(b)).then(b.cmp(&a)))
        .unwrap_or(0);
    let badness = edge(longest).powi(2) / area * (3f64.sqrt() / 4.0);
    if badness > MAX_BADNESS {
        let (a, b) = ((longest + 2) % 3, longest);
        let mut w = [0.0; 3];
        w[a] = 0.5;
        w[b] = 0.5;
        let at = Point2::new((p[a].x + p[b].x) / 2.0, (p[a].y + p[b].y) / 2.0);
        (at, w)
    } else {
        let at = Point2::new(
            (p[0].x + p[1].x + p[2].x) / 3.0,
            (p[0].y + p[1].y + p[2].y) / 3.0,
        );
        (at, [1.0 / 3.0; 3])
    }
}

impl Learner2D {
    /// The points told, with their values (`None` where the case failed).
    pub fn points(&self) -> Vec<([f64; 2], Option<f64>)> {
        self.tri
            .vertices()
            .filter_map(|v| {
                let p = v.position();
                let point = [
                    p.x * self.scale[0] + self.mean[0],
                    p.y * self.scale[1] + self.mean[1],
                ];
                match self.known[v.fix().index()] {
                    Known::Value(x) => Some((point, Some(x))),
                    Known::Failed => Some((point, None)),
                    Known::Pending(_) => None,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(p: [f64; 2]) -> f64 {
        let a: f64 = 0.2;
        p[0] + (-(p[0] * p[0] + p[1] * p[1] - 0.75 * 0.75).powi(2) / a.powi(4)).exp()
    }

    fn learn(loss: Loss, n: usize, k: usize) -> Learner2D {
        let mut l = Learner2D::new([[-1.0, 1.0], [-1.0, 1.0]], loss);
        while l.len() < n {
            let pts = l.ask(k.min(n - l.len()));
            assert!(!pts.is_empty());
            for p in pts {
                l.tell(p, Some(ring(p)));
            }
        }
        l
    }

    #[test]
    fn a_learner_told_the_same_points_asks_the_same_next() {
        // As `--into` resumes a study: the points told again in the order they were asked.
        let mut l = learn(Loss::Default, 300, 16);
        let mut again = Learner2D::new([[-1.0, 1.0], [-1.0, 1.0]], Loss::Default);
        let mut order = Learner2D::new([[-1.0, 1.0], [-1.0, 1.0]], Loss::Default);
        let mut asked = Vec::new();
        while order.len() < 300 {
            for p in order.ask(16.min(300 - order.len())) {
                order.tell(p, Some(ring(p)));
                asked.push(p);
            }
            order.loss();
        }
        for p in &asked {
            again.tell(*p, Some(ring(*p)));
        }
        assert!((again.loss() - l.loss()).abs() < 1e-3 * l.loss());
        // The same points, if in another order where two weigh the same to a thousandth.
        let sorted = |mut v: Vec<[f64; 2]>| {
            v.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
            v
        };
        assert_eq!(sorted(again.ask(16)), sorted(l.ask(16)));
    }

    #[test]
    fn corners_first() {
        let mut l = Learner2D::new([[0.0, 2.0], [10.0, 11.0]], Loss::Default);
        assert_eq!(l.ask(2), vec![[0.0, 10.0], [0.0, 11.0]]);
        assert_eq!(l.ask(2), vec![[2.0, 10.0], [2.0, 11.0]]);
        assert!(l.loss().is_infinite());
        for p in [[0.0, 10.0], [0.0, 11.0], [2.0, 10.0], [2.0, 11.0]] {
            l.tell(p, Some(p[0]));
        }
        assert!(l.loss().is_finite());
        let next = l.ask(1);
        assert_eq!(next.len(), 1);
        assert!((0.0..=2.0).contains(&next[0][0]) && (10.0..=11.0).contains(&next[0][1]));
    }

    #[test]
    fn points_gather_on_the_ring() {
        let l = learn(Loss::Default, 600, 16);
        let on = |p: &[f64; 2]| ((p[0].hypot(p[1])) - 0.75).abs() < 0.15;
        let near = l.points().iter().filter(|(p, _)| on(p)).count();
        // The band holds a quarter of the square's area.
        assert!(near > 300, "{near} of 600 on the ring");
        let uniform = learn(Loss::Uniform, 600, 16);
        let near = uniform.points().iter().filter(|(p, _)| on(p)).count();
        assert!(near < 250, "{near}");
    }

    #[test]
    fn rounds_ask_as_many_points_as_asked_and_never_one_twice() {
        let mut l = Learner2D::new([[-1.0, 1.0], [-1.0, 1.0]], Loss::Default);
        let mut seen = Vec::new();
        for k in [7, 1, 40, 3, 100] {
            let pts = l.ask(k);
            assert_eq!(pts.len(), k);
            for p in pts {
                assert!(!seen.contains(&p));
                seen.push(p);
                l.tell(
                    p,
                    if seen.len() % 5 == 0 {
                        None
                    } else {
                        Some(ring(p))
                    },
                );
            }
        }
        assert_eq!(l.len(), seen.len());
        assert!(l.loss().is_finite());
    }
}
