//! One learner per combination of a study's combos, a round's points shared among them by
//! their losses, as python-adaptive's `BalancingLearner` shares its points.

use crate::value::Value;

use super::{Adaptive, Learner};

/// The learners of a study, one per combination of its combos (one in all without combos).
#[derive(Debug, Clone)]
pub struct Balance {
    /// Each combination's values, in the combos' order.
    combinations: Vec<Vec<Value>>,
    learners: Vec<Learner>,
}

impl Balance {
    /// A learner for each of `combinations` (each a value per combo; one empty combination
    /// for a study without combos).
    pub fn new(adaptive: &Adaptive, combinations: Vec<Vec<Value>>) -> Balance {
        let learners = combinations
            .iter()
            .map(|_| Learner::new(adaptive))
            .collect();
        Balance {
            combinations,
            learners,
        }
    }

    /// The combinations, in order.
    pub fn combinations(&self) -> &[Vec<Value>] {
        &self.combinations
    }

    /// The combination whose values are `values`.
    pub fn combination_of(&self, values: &[Value]) -> Option<usize> {
        self.combinations.iter().position(|c| c == values)
    }

    /// The next round of at most `k` points, each with the combination it is for. The points
    /// go one at a time to the learner whose loss, shared among the points it has taken, is
    /// largest (the one with fewer points, then the first, where they weigh the same); each
    /// learner then asks its share. A learner with nothing left to gain takes none.
    pub fn ask(&mut self, k: usize) -> Vec<(usize, Vec<f64>)> {
        let losses: Vec<f64> = self.learners.iter_mut().map(Learner::loss).collect();
        let mut share = vec![0usize; self.learners.len()];
        for _ in 0..k {
            let weight = |i: usize| losses[i] / (1 + share[i]) as f64;
            let best = (0..share.len()).max_by(|&a, &b| {
                weight(a)
                    .total_cmp(&weight(b))
                    .then(share[b].cmp(&share[a]))
                    .then(b.cmp(&a))
            });
            match best {
                Some(i) if weight(i) > 0.0 => share[i] += 1,
                _ => break,
            }
        }
        let mut out = Vec::with_capacity(k);
        for (i, learner) in self.learners.iter_mut().enumerate() {
            if share[i] > 0 {
                out.extend(learner.ask(share[i]).into_iter().map(|p| (i, p)));
            }
        }
        out
    }

    /// Tells combination `combination`'s learner the value at `point` (`None`: the case
    /// failed).
    pub fn tell(&mut self, combination: usize, point: &[f64], value: Option<f64>) {
        self.learners[combination].tell(point, value);
    }

    /// The largest loss of any learner.
    pub fn loss(&mut self) -> f64 {
        self.learners
            .iter_mut()
            .map(Learner::loss)
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_go_where_the_loss_is() {
        let adaptive =
            Adaptive::from_toml(&toml::from_str("x = [-1.0, 1.0]\nn = 100\nrounds = 8").unwrap())
                .unwrap();
        // A flat function and one that swings six times: the second's curve is far longer
        // where both are scaled to the unit square, so it weighs more.
        let combos = vec![
            vec![Value::Str("flat".into())],
            vec![Value::Str("wavy".into())],
        ];
        let f = |c: usize, x: f64| if c == 0 { 1.0 } else { (20.0 * x).sin() };
        let mut b = Balance::new(&adaptive, combos);
        let mut counts = [0usize; 2];
        for _ in 0..25 {
            for (c, p) in b.ask(8) {
                counts[c] += 1;
                b.tell(c, &p, Some(f(c, p[0])));
            }
        }
        assert_eq!(counts.iter().sum::<usize>(), 200);
        assert!(counts[1] > 3 * counts[0] && counts[0] > 5, "{counts:?}");
        assert_eq!(b.combination_of(&[Value::Str("wavy".into())]), Some(1));
        assert_eq!(b.combination_of(&[Value::Str("flat ".into())]), None);
    }
}
