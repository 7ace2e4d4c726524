//! A study stepped one round at a time: its learners, the rounds they asked and what they
//! were told. A run in one process and a crop grown by many workers both step a [`Study`].

use std::time::{Duration, Instant};

use xyz_abi::{ScalarType, Signature};

use crate::dataset::{CellState, Dataset};
use crate::space::{ParamSpace, Points};
use crate::value::{Column, Value};

use super::{Adaptive, AdaptiveError, Balance, MAX_POINTS, POINT_DIM};

/// The value of the learnt output at cell `i`: `None` where the case failed or gave no
/// finite number.
pub(crate) fn learnt_value(cells: &[CellState], values: &Column, i: usize) -> Option<f64> {
    match (cells[i], values) {
        (CellState::Ok, Column::F64(v)) => Some(v[i]).filter(|y| y.is_finite()),
        (CellState::Ok, Column::I64(v)) => Some(v[i] as f64),
        _ => None,
    }
}

/// The output a study learns from: its index among the signature's outputs.
fn learnt_output(adaptive: &Adaptive, sig: &Signature) -> Result<usize, AdaptiveError> {
    let numeric = |i: usize| {
        let o = &sig.outputs[i];
        matches!(o.ty, ScalarType::F64 | ScalarType::I64) && o.elements() == 1
    };
    match &adaptive.output {
        Some(name) => {
            let i = sig
                .outputs
                .iter()
                .position(|o| o.name == *name)
                .ok_or_else(|| {
                    let names: Vec<&str> = sig.outputs.iter().map(|o| o.name.as_str()).collect();
                    AdaptiveError::Output(format!(
                        "`{name}` is not an output of {}; its outputs are: {}",
                        sig.name,
                        names.join(", ")
                    ))
                })?;
            if !numeric(i) {
                return Err(AdaptiveError::Output(format!(
                    "`{name}` is not one number per case (an f64 or i64 without dims), so it \
                     cannot be learnt from"
                )));
            }
            Ok(i)
        }
        None => (0..sig.outputs.len()).find(|&i| numeric(i)).ok_or_else(|| {
            AdaptiveError::Output(format!(
                "{} has no output that is one number per case (an f64 or i64 without dims) to \
                 learn from",
                sig.name
            ))
        }),
    }
}

/// An adaptive study over a space, stepped by [`Study::ask`] and [`Study::tell`]: each round
/// is chosen from what the rounds before it were told, and nothing else.
#[derive(Debug, Clone)]
pub struct Study {
    adaptive: Adaptive,
    /// The learnt output's index among the signature's outputs.
    output: usize,
    /// The coordinates of a point: the combos', then the adaptive arguments'.
    names: Vec<String>,
    /// Each combination of the combos' values, typed as the function takes them.
    combinations: Vec<Vec<Value>>,
    /// The space's constants, its combos taken out: the points go with it.
    base: ParamSpace,
    /// The constants as bound.
    constants: Vec<(String, Value)>,
    balance: Balance,
    /// The round asked and not yet told.
    asked: Vec<(usize, Vec<f64>)>,
    /// The size of each round told.
    sizes: Vec<usize>,
    evaluated: usize,
    loss: f64,
    planning: Duration,
}

impl Study {
    /// The study `adaptive` of the function of signature `sig` over `space` (its combos and
    /// constants), checked whole: the arguments are floats, the output is one number, the
    /// space fits the function.
    pub fn new(
        sig: &Signature,
        space: &ParamSpace,
        adaptive: &Adaptive,
    ) -> Result<Study, AdaptiveError> {
        if !space.cases.is_empty() || space.samples.is_some() || space.points.is_some() {
            return Err(AdaptiveError::Combined);
        }
        for (name, _) in &adaptive.args {
            if let Some((_, arg)) = sig.arg(name)
                && arg.ty != ScalarType::F64
            {
                return Err(AdaptiveError::NotFloat {
                    name: name.clone(),
                    ty: arg.ty,
                });
            }
        }
        let output = learnt_output(adaptive, sig)?;
        let names: Vec<String> = space
            .combos
            .iter()
            .map(|(n, _)| n.clone())
            .chain(adaptive.args.iter().map(|(n, _)| n.clone()))
            .collect();
        let mut base = space.clone();
        base.combos.clear();
        // The whole space is checked before anything runs, and the combos' values typed as
        // the function takes them: a point at the lower bounds, at every combination.
        let mut probe = space.clone();
        probe.points = Some(Points {
            dim: POINT_DIM.into(),
            args: adaptive.args.iter().map(|(n, _)| n.clone()).collect(),
            rows: vec![
                adaptive
                    .args
                    .iter()
                    .map(|(_, [lo, _])| Value::F64(*lo))
                    .collect(),
            ],
        });
        let checked = probe.bind(sig)?;
        let mut combinations: Vec<Vec<Value>> = vec![Vec::new()];
        for dim in &checked.dims()[1..] {
            let coords = &dim.coords;
            combinations = combinations
                .into_iter()
                .flat_map(|c| {
                    (0..coords.len()).map(move |i| {
                        let mut c = c.clone();
                        c.push(coords.get(i));
                        c
                    })
                })
                .collect();
        }
        Ok(Study {
            adaptive: adaptive.clone(),
            output,
            names,
            balance: Balance::new(adaptive, combinations.clone()),
            combinations,
            base,
            constants: checked.constants().to_vec(),
            asked: Vec::new(),
            sizes: Vec::new(),
            evaluated: 0,
            loss: f64::INFINITY,
            planning: Duration::ZERO,
        })
    }

    /// The `[adaptive]` section.
    pub fn adaptive(&self) -> &Adaptive {
        &self.adaptive
    }

    /// The coordinates of a point, in order: the combos', then the adaptive arguments'.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Each combination of the combos' values (one empty combination without combos).
    pub fn combinations(&self) -> &[Vec<Value>] {
        &self.combinations
    }

    /// The index of the learnt output among the signature's outputs.
    pub fn output(&self) -> usize {
        self.output
    }

    /// The space's constants, as bound.
    pub fn constants(&self) -> &[(String, Value)] {
        &self.constants
    }

    /// The space of the points `rows` (each a value per [`Study::names`]), along
    /// [`POINT_DIM`], with the study's constants.
    pub fn space_of(&self, rows: Vec<Vec<Value>>) -> ParamSpace {
        let mut space = self.base.clone();
        space.points = Some(Points {
            dim: POINT_DIM.into(),
            args: self.names.clone(),
            rows,
        });
        space
    }

    /// The point of combination `combination` at the adaptive arguments' values `at`, as a
    /// row of values per [`Study::names`].
    pub fn row(&self, combination: usize, at: &[f64]) -> Vec<Value> {
        self.combinations[combination]
            .iter()
            .cloned()
            .chain(at.iter().map(|x| Value::F64(*x)))
            .collect()
    }

    /// The size of each round told, in order.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Points told in all.
    pub fn evaluated(&self) -> usize {
        self.evaluated
    }

    /// The largest loss of the learners, once told a round (infinite before).
    pub fn loss(&self) -> f64 {
        self.loss
    }

    /// Time spent choosing points and learning from them, in all.
    pub fn planning(&self) -> Duration {
        self.planning
    }

    /// Whether the study has its evaluations or its loss.
    pub fn finished(&self) -> bool {
        let budget = self.adaptive.n.unwrap_or(MAX_POINTS) as usize;
        self.evaluated >= budget
            || self
                .adaptive
                .loss_goal
                .is_some_and(|goal| self.loss <= goal)
    }

    /// The next round, as [`Study::row`]s: `rounds` points (fewer to stay within `n`), none
    /// when the study is [`finished`](Study::finished) or has no point left to ask. Each is
    /// for [`Study::tell`] to give its value.
    pub fn ask(&mut self) -> Vec<Vec<Value>> {
        if self.finished() {
            self.asked.clear();
            return Vec::new();
        }
        let budget = self.adaptive.n.unwrap_or(MAX_POINTS) as usize;
        self.ask_exactly(self.adaptive.rounds.min(budget - self.evaluated))
    }

    /// A round of (at most) `k` points whatever the study's state: a round on record asked
    /// again.
    pub fn ask_exactly(&mut self, k: usize) -> Vec<Vec<Value>> {
        let asking = Instant::now();
        self.asked = self.balance.ask(k);
        self.planning += asking.elapsed();
        self.asked.iter().map(|(c, p)| self.row(*c, p)).collect()
    }

    /// The round last asked and not yet told: each point's combination and adaptive
    /// arguments' values.
    pub fn asked(&self) -> &[(usize, Vec<f64>)] {
        &self.asked
    }

    /// Tells the round last asked the learnt output's value at each of its points, in order
    /// (`None` where the case failed).
    pub fn tell(&mut self, values: impl IntoIterator<Item = Option<f64>>) {
        let telling = Instant::now();
        let asked = std::mem::take(&mut self.asked);
        let mut values = values.into_iter();
        for (c, p) in &asked {
            self.balance.tell(*c, p, values.next().flatten());
        }
        self.loss = self.balance.loss();
        self.sizes.push(asked.len());
        self.evaluated += asked.len();
        self.planning += telling.elapsed();
    }

    /// The learnt output's values at cells `range` of `dataset`, a dataset of this study's
    /// points.
    pub fn values_in(&self, dataset: &Dataset, range: std::ops::Range<usize>) -> Vec<Option<f64>> {
        let values = &dataset.vars[self.output].data;
        range
            .map(|i| learnt_value(&dataset.cells, values, i))
            .collect()
    }

    /// Tells the learners points of a dataset whose rounds are not on record, as one round,
    /// each with its value.
    pub fn tell_points(&mut self, told: &[(Vec<Value>, Option<f64>)]) -> Result<(), AdaptiveError> {
        let n_combos = self.names.len() - self.adaptive.args.len();
        let mut asked = Vec::with_capacity(told.len());
        for (point, _) in told {
            let c = self
                .balance
                .combination_of(&point[..n_combos])
                .ok_or_else(|| {
                    AdaptiveError::OtherStudy(format!(
                        "has a point at a combination the spec does not sweep: {}",
                        self.names[..n_combos]
                            .iter()
                            .zip(point)
                            .map(|(n, v)| format!("{n}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?;
            asked.push((c, floats(&point[n_combos..])));
        }
        self.asked = asked;
        self.tell(told.iter().map(|(_, v)| *v));
        Ok(())
    }

    /// Starts over: learners told nothing.
    pub fn restart(&mut self) {
        self.balance = Balance::new(&self.adaptive, self.combinations.clone());
        self.asked.clear();
        self.sizes.clear();
        self.evaluated = 0;
        self.loss = f64::INFINITY;
    }
}

/// The adaptive arguments' values of a point.
fn floats(values: &[Value]) -> Vec<f64> {
    values
        .iter()
        .map(|v| match v {
            Value::F64(x) => *x,
            _ => f64::NAN,
        })
        .collect()
}
