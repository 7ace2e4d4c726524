//! Adaptive studies: a function sampled where it changes, one round of points at a time.
//!
//! An `[adaptive]` section names one or two continuous arguments with their bounds. A
//! learner keeps what is known of the function ([`Learner1D`] over an interval, split at its
//! points; [`Learner2D`] over a rectangle, triangulated), gives each interval or triangle a
//! loss, and asks new points where the loss is largest. The losses and the choice of points
//! follow python-adaptive's `Learner1D` and `Learner2D`.
//!
//! With combos, each combination has a learner of its own, and a round's points are shared
//! among them by their losses ([`Balance`]).
//!
//! Points are asked in rounds of `rounds` points, each round told every result of the rounds
//! before it and nothing else: the points chosen depend on the spec and the function's values
//! only, never on which worker finished first, so a study chooses the same points on every
//! machine. The evaluated points lie along a [`POINT_DIM`] dim, numbered in the order they
//! were asked, each combo and adaptive argument a coordinate along it.

mod balance;
mod error;
mod interpolate;
mod learner1d;
mod learner2d;
mod run;
mod study;

pub use balance::Balance;
pub use error::AdaptiveError;
pub use interpolate::{GRID_ATTR, Interpolant, grid, interpolate_1d, linspace};
pub use learner1d::Learner1D;
pub use learner2d::Learner2D;
pub use run::{ADAPTIVE_ATTR, LOSS_ATTR, ROUNDS_ATTR, Round, record, run, run_from};
pub use study::Study;

use std::fmt;

/// The dim along which an adaptive study's points lie, numbered from 0.
pub const POINT_DIM: &str = "point";

/// The most points one adaptive study evaluates.
pub const MAX_POINTS: u64 = 10_000_000;

/// Points asked per round when the spec does not say: enough to keep 16 workers busy, few
/// enough that a round's points are still placed by what the rounds before them found.
pub const DEFAULT_ROUNDS: usize = 16;

/// How a learner weighs an interval or a triangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Loss {
    /// The length of an interval in the scaled plane (1D); the deviation of the values from
    /// linear estimates, with the triangle's area (2D).
    #[default]
    Default,
    /// The size of an interval or a triangle alone: points spread evenly.
    Uniform,
    /// The area of the triangles an interval makes with its neighbours, with its length
    /// (1D only).
    Curvature,
    /// The default loss of the logarithm of the values' magnitude, which refines near zeros
    /// (1D only).
    AbsMinLog,
}

impl Loss {
    const NAMES: [(&'static str, Loss); 4] = [
        ("default", Loss::Default),
        ("uniform", Loss::Uniform),
        ("curvature", Loss::Curvature),
        ("abs_min_log", Loss::AbsMinLog),
    ];

    /// The loss's name in a spec.
    pub fn name(self) -> &'static str {
        Loss::NAMES
            .iter()
            .find(|(_, l)| *l == self)
            .map_or("default", |(n, _)| n)
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A spec's `[adaptive]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptive {
    /// The adaptive arguments and their bounds, in the spec's order (one or two).
    pub args: Vec<(String, [f64; 2])>,
    /// Evaluations in all, failed ones included.
    pub n: Option<u64>,
    /// The loss at which the study stops.
    pub loss_goal: Option<f64>,
    /// How intervals or triangles are weighed.
    pub loss: Loss,
    /// The output learnt from; the first numeric scalar output when `None`.
    pub output: Option<String>,
    /// Points asked per round.
    pub rounds: usize,
}

/// The keys of `[adaptive]` that are not arguments; an argument of one of these names goes
/// in `[adaptive.args]`.
const KEYS: [&str; 6] = ["n", "loss_goal", "loss", "output", "rounds", "args"];

impl Adaptive {
    /// Reads a spec's `[adaptive]` table; an error names the field at fault and what was
    /// expected.
    pub fn from_toml(table: &toml::Table) -> Result<Adaptive, (String, String)> {
        let field = |name: &str, message: String| (format!("adaptive.{name}"), message);
        let n = match table.get("n") {
            None => None,
            Some(toml::Value::Integer(n)) if (1..=MAX_POINTS as i64).contains(n) => Some(*n as u64),
            Some(other) => {
                return Err(field(
                    "n",
                    format!("expected a whole number from 1 to {MAX_POINTS}, not {other}"),
                ));
            }
        };
        let loss_goal = match table.get("loss_goal") {
            None => None,
            Some(v) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                Some(g) if g.is_finite() && g > 0.0 => Some(g),
                _ => {
                    return Err(field(
                        "loss_goal",
                        format!("expected a number above 0, not {v}"),
                    ));
                }
            },
        };
        if n.is_none() && loss_goal.is_none() {
            return Err((
                "adaptive".into(),
                "when to stop is missing: give n = 2000 (evaluations), loss_goal = 0.01, or \
                 both (whichever comes first)"
                    .into(),
            ));
        }
        let names = Loss::NAMES.map(|(n, _)| n).join(", ");
        let loss = match table.get("loss") {
            None => Loss::Default,
            Some(toml::Value::String(s)) => Loss::NAMES
                .iter()
                .find(|(name, _)| name == s)
                .map(|(_, l)| *l)
                .ok_or_else(|| field("loss", format!("`{s}` is not a loss: use {names}")))?,
            Some(other) => {
                return Err(field(
                    "loss",
                    format!("expected a string ({names}), not {other}"),
                ));
            }
        };
        let output = match table.get("output") {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(field(
                    "output",
                    format!("expected the name of an output, not {other}"),
                ));
            }
        };
        let rounds = match table.get("rounds") {
            None => DEFAULT_ROUNDS,
            Some(toml::Value::Integer(k)) if (1..=65536).contains(k) => *k as usize,
            Some(other) => {
                return Err(field(
                    "rounds",
                    format!("expected the points of a round, from 1 to 65536, not {other}"),
                ));
            }
        };
        let mut args = Vec::new();
        let mut push = |name: &str, at: &str, value: &toml::Value| {
            let bounds = bounds_from_toml(value).map_err(|e| field(at, e))?;
            if args.iter().any(|(n, _)| n == name) {
                return Err(field(at, format!("`{name}` is adaptive twice")));
            }
            args.push((name.to_string(), bounds));
            Ok(())
        };
        for (name, value) in table {
            if !KEYS.contains(&name.as_str()) {
                push(name, name, value)?;
            }
        }
        match table.get("args") {
            None => {}
            Some(toml::Value::Table(more)) => {
                for (name, value) in more {
                    push(name, &format!("args.{name}"), value)?;
                }
            }
            Some(other) => {
                return Err(field(
                    "args",
                    format!("expected a table of arguments' bounds, not {other}"),
                ));
            }
        }
        match args.len() {
            0 => {
                return Err((
                    "adaptive".into(),
                    "no argument is adaptive: give one with its bounds, as x = [-1.0, 1.0]".into(),
                ));
            }
            1 => {}
            2 if matches!(loss, Loss::Default | Loss::Uniform) => {}
            2 => {
                return Err(field(
                    "loss",
                    format!(
                        "`{loss}` weighs intervals of one argument; over two, use default or uniform"
                    ),
                ));
            }
            k => {
                return Err((
                    "adaptive".into(),
                    format!("{k} arguments are adaptive; a learner takes one or two"),
                ));
            }
        }
        Ok(Adaptive {
            args,
            n,
            loss_goal,
            loss,
            output,
            rounds,
        })
    }

    /// The study a dataset records (its [`ADAPTIVE_ATTR`] attribute), if it records one that
    /// reads back.
    pub fn recorded_in(ds: &crate::dataset::Dataset) -> Option<Adaptive> {
        match ds.attrs.iter().find(|(n, _)| n == ADAPTIVE_ATTR)?.1 {
            crate::value::Value::Str(ref text) => {
                Adaptive::from_toml(&toml::from_str(text).ok()?).ok()
            }
            _ => None,
        }
    }

    /// The coordinates of `ds` (this study's points) that give each point's combination:
    /// those along [`POINT_DIM`] that are not adaptive arguments, that is its combos.
    pub fn combination_coords<'a>(
        &self,
        ds: &'a crate::dataset::Dataset,
    ) -> Vec<&'a crate::space::AuxCoord> {
        ds.aux_coords
            .iter()
            .filter(|a| a.dim == POINT_DIM && !self.args.iter().any(|(n, _)| *n == a.name))
            .collect()
    }

    /// The `[adaptive]` table that reads back as this.
    pub fn to_toml(&self) -> toml::Table {
        let mut t = toml::Table::new();
        if let Some(n) = self.n {
            t.insert("n".into(), (n as i64).into());
        }
        if let Some(g) = self.loss_goal {
            t.insert("loss_goal".into(), g.into());
        }
        t.insert("loss".into(), self.loss.name().into());
        if let Some(o) = &self.output {
            t.insert("output".into(), o.clone().into());
        }
        t.insert("rounds".into(), (self.rounds as i64).into());
        let mut args = toml::Table::new();
        for (name, [lo, hi]) in &self.args {
            args.insert(
                name.clone(),
                toml::Value::Array(vec![(*lo).into(), (*hi).into()]),
            );
        }
        t.insert("args".into(), toml::Value::Table(args));
        t
    }
}

fn bounds_from_toml(value: &toml::Value) -> Result<[f64; 2], String> {
    let number = |v: &toml::Value| v.as_float().or_else(|| v.as_integer().map(|i| i as f64));
    let bounds = match value.as_array().map(|a| a.as_slice()) {
        Some([a, b]) => number(a).zip(number(b)),
        _ => None,
    };
    match bounds {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => Ok([lo, hi]),
        Some((lo, hi)) => Err(format!(
            "expected finite bounds, the lower first, not [{lo}, {hi}]"
        )),
        None => Err(format!(
            "expected the argument's bounds as [lower, upper], not {value}"
        )),
    }
}

/// What a learner knows and asks, whatever its number of arguments.
#[derive(Debug, Clone)]
pub enum Learner {
    /// One argument.
    One(Learner1D),
    /// Two arguments.
    Two(Box<Learner2D>),
}

impl Learner {
    /// A learner for `adaptive`'s arguments.
    pub fn new(adaptive: &Adaptive) -> Learner {
        match adaptive.args.as_slice() {
            [(_, x)] => Learner::One(Learner1D::new(*x, adaptive.loss)),
            [(_, x), (_, y)] => Learner::Two(Box::new(Learner2D::new([*x, *y], adaptive.loss))),
            _ => unreachable!("checked when read: one or two arguments"),
        }
    }

    /// The next `k` points (fewer where no more can be told apart), each a value per argument.
    pub fn ask(&mut self, k: usize) -> Vec<Vec<f64>> {
        match self {
            Learner::One(l) => l.ask(k).into_iter().map(|x| vec![x]).collect(),
            Learner::Two(l) => l.ask(k).into_iter().map(|p| p.to_vec()).collect(),
        }
    }

    /// Tells the value at `point`: `None` for a case that failed, which is never asked again.
    pub fn tell(&mut self, point: &[f64], value: Option<f64>) {
        match self {
            Learner::One(l) => l.tell(point[0], value),
            Learner::Two(l) => l.tell([point[0], point[1]], value),
        }
    }

    /// The largest loss of an interval or triangle; infinite until the bounds are known.
    pub fn loss(&mut self) -> f64 {
        match self {
            Learner::One(l) => l.loss(),
            Learner::Two(l) => l.loss(),
        }
    }

    /// Points told.
    pub fn len(&self) -> usize {
        match self {
            Learner::One(l) => l.len(),
            Learner::Two(l) => l.len(),
        }
    }

    /// Whether no point was told.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Adaptive, (String, String)> {
        Adaptive::from_toml(&toml::from_str(text).unwrap())
    }

    #[test]
    fn reads_and_writes_back() {
        let a = parse("x = [-1, 1.0]\nn = 200\nloss = 'uniform'\nrounds = 4\n[args]\nn = [0, 2]")
            .unwrap();
        assert_eq!(
            a.args,
            vec![("x".into(), [-1.0, 1.0]), ("n".into(), [0.0, 2.0])]
        );
        assert_eq!((a.n, a.loss, a.rounds), (Some(200), Loss::Uniform, 4));
        assert_eq!(Adaptive::from_toml(&a.to_toml()).unwrap(), a);
    }

    #[test]
    fn errors_name_the_field() {
        let err = |t: &str| parse(t).unwrap_err();
        assert_eq!(err("x = [1, 0]\nn = 5").0, "adaptive.x");
        assert!(err("x = [0, 1]").1.contains("when to stop is missing"));
        assert_eq!(err("x = [0, 1]\nn = 0").0, "adaptive.n");
        assert!(
            err("x = [0, 1]\nn = 3\nloss = 'l2'")
                .1
                .contains("not a loss")
        );
        assert!(
            err("x = [0, 1]\ny = [0, 1]\nn = 3\nloss = 'curvature'")
                .1
                .contains("over two")
        );
        assert!(err("n = 3").1.contains("no argument"));
        assert!(err("x = 'wide'\nn = 3").1.contains("[lower, upper]"));
        assert!(err("x = [0, 1]\nloss_goal = -1").1.contains("above 0"));
    }
}
