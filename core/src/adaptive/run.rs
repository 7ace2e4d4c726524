//! Running an adaptive study: rounds of points asked of a learner, evaluated by a runner,
//! told back, until the study has its evaluations or its loss.

use xyz_abi::Signature;

use crate::dataset::Dataset;
use crate::runner::{CaseFailure, RunOutcome, Runner};
use crate::space::ParamSpace;
use crate::value::{Column, Value};

use super::study::learnt_value;
use super::{Adaptive, AdaptiveError, MAX_POINTS, POINT_DIM, Study};

/// The attribute that records a study's `[adaptive]` section, as TOML.
pub const ADAPTIVE_ATTR: &str = "xyz_adaptive";
/// The attribute that records the loss a study ended at.
pub const LOSS_ATTR: &str = "xyz_adaptive_loss";

/// The attribute that records the size of each round, as `16x124 12` (124 rounds of 16, then
/// one of 12), so that `--into` can ask them again.
pub const ROUNDS_ATTR: &str = "xyz_adaptive_rounds";

/// Round sizes as [`ROUNDS_ATTR`] writes them: runs of equal sizes as `SIZExCOUNT`.
fn rounds_text(sizes: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sizes.len() {
        let run = sizes[i..].iter().take_while(|s| **s == sizes[i]).count();
        out.push(if run == 1 {
            sizes[i].to_string()
        } else {
            format!("{}x{run}", sizes[i])
        });
        i += run;
    }
    out.join(" ")
}

/// The round sizes [`rounds_text`] wrote; `None` for text it did not write.
fn parse_rounds(text: &str) -> Option<Vec<usize>> {
    let mut sizes = Vec::new();
    for part in text.split_whitespace() {
        let (size, count) = match part.split_once('x') {
            Some((s, c)) => (s.parse::<usize>().ok()?, c.parse::<usize>().ok()?),
            None => (part.parse::<usize>().ok()?, 1),
        };
        if size == 0 || count == 0 || sizes.len() + count > MAX_POINTS as usize {
            return None;
        }
        sizes.extend(std::iter::repeat_n(size, count));
    }
    Some(sizes)
}

/// What a round did, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Round {
    /// The round's number, from 1 (the rounds of a dataset added to not counted).
    pub number: usize,
    /// Points it evaluated.
    pub points: usize,
    /// Points evaluated in all, this round's included.
    pub evaluated: usize,
    /// Failed cases in all.
    pub failed: usize,
    /// The learner's loss after it.
    pub loss: f64,
    /// Time spent choosing points and learning from them, in all: the planner's own cost.
    pub planning: std::time::Duration,
}

/// Runs the adaptive study `adaptive` over `space` (its constants) with `runner`, whose
/// function has signature `sig`: rounds of `adaptive.rounds` points, each evaluated whole and
/// told back before the next is asked, until `adaptive.n` points are evaluated, the loss is at
/// most `adaptive.loss_goal`, or no point is left to ask. `on_round` hears of each round.
///
/// The dataset has the points along [`POINT_DIM`] in the order they were asked, each adaptive
/// argument a coordinate along it, and records the section ([`ADAPTIVE_ATTR`]) and the loss
/// reached ([`LOSS_ATTR`]).
pub fn run(
    runner: &Runner<'_>,
    sig: &Signature,
    space: &ParamSpace,
    adaptive: &Adaptive,
    on_round: impl FnMut(&Round),
) -> Result<RunOutcome, AdaptiveError> {
    run_from(runner, sig, space, adaptive, None, on_round)
}

/// A point of a study on record: its arguments, and the learnt output's value there (`None`
/// where the case failed).
type Told = (Vec<Value>, Option<f64>);

/// The points of `existing`, a dataset of the same study (the same arguments and bounds,
/// loss, output, rounds, constants and function), in the order they were asked, each with
/// the learnt output's value (`None` where the case failed).
fn points_of(
    existing: &Dataset,
    adaptive: &Adaptive,
    names: &[String],
    constants: &[(String, Value)],
    sha256: Option<&str>,
    output: &str,
) -> Result<Vec<Told>, AdaptiveError> {
    let other = |why: String| AdaptiveError::OtherStudy(why);
    let attr = |name: &str| {
        existing
            .attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    };
    let recorded = match attr(ADAPTIVE_ATTR) {
        Some(Value::Str(_)) => Adaptive::recorded_in(existing).ok_or_else(|| {
            other(format!(
                "records an [adaptive] section that cannot be read ({ADAPTIVE_ATTR})"
            ))
        })?,
        _ => {
            return Err(other(format!(
                "is not an adaptive study's (it has no {ADAPTIVE_ATTR} attribute)"
            )));
        }
    };
    if recorded.args != adaptive.args {
        let show = |a: &Adaptive| {
            a.args
                .iter()
                .map(|(n, [lo, hi])| format!("{n} = [{lo}, {hi}]"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(other(format!(
            "learnt {}, not {}",
            show(&recorded),
            show(adaptive)
        )));
    }
    for (what, was, is) in [
        ("loss", recorded.loss.to_string(), adaptive.loss.to_string()),
        (
            "rounds",
            recorded.rounds.to_string(),
            adaptive.rounds.to_string(),
        ),
        (
            "output",
            recorded.output.clone().unwrap_or_default(),
            adaptive.output.clone().unwrap_or_default(),
        ),
    ] {
        if was != is {
            return Err(other(format!("was learnt with {what} {was:?}, not {is:?}")));
        }
    }
    if let (Some(Value::Str(was)), Some(is)) = (attr("xyz_function_sha256"), sha256)
        && was != is
    {
        return Err(other(format!(
            "was made by a function with sha256 {was}, not this one ({is})"
        )));
    }
    for (name, value) in constants {
        match attr(name) {
            Some(was) if was == value => {}
            Some(was) => {
                return Err(other(format!("has constant {name} = {was}, not {value}")));
            }
            None => return Err(other(format!("has no constant {name}"))),
        }
    }
    let n = existing.cells.len();
    let coords: Vec<&Column> = names
        .iter()
        .map(|name| {
            existing
                .aux_coords
                .iter()
                .find(|a| a.name == *name && a.dim == POINT_DIM && a.values.len() == n)
                .map(|a| &a.values)
                .ok_or_else(|| other(format!("has no coordinate {name} along {POINT_DIM}")))
        })
        .collect::<Result<_, _>>()?;
    if existing.dims.len() != 1 || existing.dims[0].name != POINT_DIM {
        return Err(other(format!("is not laid out along {POINT_DIM} alone")));
    }
    let values = existing
        .vars
        .iter()
        .find(|v| v.name == output)
        .map(|v| &v.data)
        .ok_or_else(|| other(format!("has no variable {output}")))?;
    Ok((0..n)
        .map(|i| {
            let point = coords.iter().map(|c| c.get(i)).collect();
            (point, learnt_value(&existing.cells, values, i))
        })
        .collect())
}

/// Like [`run`], adding points to `existing`, a dataset of the same study (checked): its
/// points are told to the learner first, in the order they were asked, and `adaptive.n`
/// counts them. The dataset given back holds them and the new ones after them.
pub fn run_from(
    runner: &Runner<'_>,
    sig: &Signature,
    space: &ParamSpace,
    adaptive: &Adaptive,
    existing: Option<&Dataset>,
    mut on_round: impl FnMut(&Round),
) -> Result<RunOutcome, AdaptiveError> {
    let mut study = Study::new(sig, space, adaptive)?;
    let started = std::time::Instant::now();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut rounds: Vec<Dataset> = Vec::new();
    let mut failures: Vec<CaseFailure> = Vec::new();
    if let Some(existing) = existing {
        let name = &sig.outputs[study.output()].name;
        let sha256 = runner.function().sha256();
        let told = points_of(
            existing,
            adaptive,
            study.names(),
            study.constants(),
            sha256,
            name,
        )?;
        let recorded = match existing.attrs.iter().find(|(n, _)| n == ROUNDS_ATTR) {
            Some((_, Value::Str(text))) => {
                parse_rounds(text).filter(|r| r.iter().sum::<usize>() == told.len())
            }
            _ => None,
        };
        // The rounds on record asked again of the learners, each told its results, so they
        // stand where the run that made them left them: more rounds then choose what a longer
        // run would have. Where a round asks other points (a dataset from elsewhere), the
        // points are told as they stand.
        let mut replayed = recorded.is_some();
        let mut at = 0;
        for &size in recorded.iter().flatten() {
            let asked = study.ask_exactly(size);
            let part = &told[at..at + size];
            if asked.len() != size || asked.iter().zip(part).any(|(a, (p, _))| a != p) {
                replayed = false;
                break;
            }
            study.tell(part.iter().map(|(_, v)| *v));
            at += size;
        }
        if !replayed {
            study.restart();
            study.tell_points(&told)?;
        }
        rows.extend(told.into_iter().map(|(p, _)| p));
        rounds.push(existing.clone());
    }
    loop {
        let round = study.ask();
        if round.is_empty() {
            break;
        }
        let bound = study.space_of(round.clone()).bind(sig)?;
        let outcome = runner.run(&bound)?;
        let ds = outcome.dataset;
        study.tell(study.values_in(&ds, 0..round.len()));
        let offset = rows.len() as u64;
        failures.extend(outcome.failures.into_iter().map(|mut f| {
            f.case += offset;
            f
        }));
        let points = round.len();
        rows.extend(round);
        rounds.push(ds);
        on_round(&Round {
            number: rounds.len() - usize::from(existing.is_some()),
            points,
            evaluated: rows.len(),
            failed: failures.len(),
            loss: study.loss(),
            planning: study.planning(),
        });
    }
    let bound = study.space_of(rows).bind(sig)?;
    let mut dataset = Dataset::empty(&bound, sig, None);
    if let Some(last) = rounds.last() {
        dataset.attrs = last.attrs.clone();
    }
    let mut at = 0usize;
    for round in &rounds {
        dataset.copy_cells_from(round, at);
        at += round.cells.len();
    }
    record(&mut dataset, &study);
    Ok(RunOutcome {
        dataset,
        failures,
        elapsed: started.elapsed(),
    })
}

/// Records `study` in the attributes of its dataset: its section ([`ADAPTIVE_ATTR`]), the
/// loss it reached ([`LOSS_ATTR`]) and its rounds ([`ROUNDS_ATTR`]).
pub fn record(dataset: &mut Dataset, study: &Study) {
    dataset
        .attrs
        .retain(|(n, _)| n != ADAPTIVE_ATTR && n != LOSS_ATTR && n != ROUNDS_ATTR);
    let section = toml::to_string(&study.adaptive().to_toml()).unwrap_or_default();
    dataset
        .attrs
        .push((ADAPTIVE_ATTR.into(), Value::Str(section)));
    dataset
        .attrs
        .push((LOSS_ATTR.into(), Value::F64(study.loss())));
    dataset
        .attrs
        .push((ROUNDS_ATTR.into(), Value::Str(rounds_text(study.sizes()))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::CellState;
    use crate::{ClosureFunction, Function, Sequential};

    fn peak() -> ClosureFunction {
        let sig = "peak(x: f64, a: f64) -> (y: f64, label: str)"
            .parse()
            .unwrap();
        ClosureFunction::new(sig, |args| match args {
            [Value::F64(x), Value::F64(a)] if *x > 0.9 => Err(format!("x = {x} > {a}")),
            [Value::F64(x), Value::F64(a)] => Ok(vec![
                Value::F64(x + a * a / (a * a + x * x)),
                Value::Str("p".into()),
            ]),
            _ => unreachable!(),
        })
    }

    fn study(text: &str) -> Adaptive {
        Adaptive::from_toml(&toml::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn points_lie_along_their_dim_with_failures_kept() {
        let f = peak();
        let mut space = ParamSpace::new();
        space.constant("a", Value::F64(0.01));
        let adaptive = study("x = [-1.0, 1.0]\nn = 50\nrounds = 7");
        let mut seen = Vec::new();
        let outcome = run(
            &Runner::new(&f, &Sequential),
            f.signature(),
            &space,
            &adaptive,
            |r| seen.push(*r),
        )
        .unwrap();
        let ds = outcome.dataset;
        assert_eq!(ds.dims[0].name, POINT_DIM);
        assert_eq!(ds.shape(), vec![50]);
        assert_eq!(seen.len(), 8);
        assert_eq!(seen.last().unwrap().evaluated, 50);
        let xs = match &ds.aux_coords[0].values {
            Column::F64(v) => v.clone(),
            _ => panic!(),
        };
        assert_eq!((xs[0], xs[6]), (-1.0, 1.0));
        let failed: Vec<usize> = (0..50)
            .filter(|&i| ds.cells[i] == CellState::Failed)
            .collect();
        assert!(!failed.is_empty());
        assert!(failed.iter().all(|&i| xs[i] > 0.9));
        assert_eq!(failed.len(), outcome.failures.len());
        assert!(xs.iter().filter(|x| x.abs() < 0.1).count() > 15);
        // The same points again.
        let again = run(
            &Runner::new(&f, &Sequential),
            f.signature(),
            &space,
            &adaptive,
            |_| {},
        )
        .unwrap();
        assert_eq!(again.dataset.aux_coords, ds.aux_coords);
        assert!(ds.attrs.iter().any(|(n, _)| n == LOSS_ATTR));
    }

    #[test]
    fn each_combination_learns_its_own_points_along_one_dim() {
        let f = peak();
        let mut space = ParamSpace::new();
        space.combo(
            "a",
            crate::ComboValues::List(vec![Value::F64(0.3), Value::F64(0.01)]),
        );
        let adaptive = study("x = [-1.0, 0.8]\nn = 120\nrounds = 8");
        let outcome = run(
            &Runner::new(&f, &Sequential),
            f.signature(),
            &space,
            &adaptive,
            |_| {},
        )
        .unwrap();
        let ds = outcome.dataset;
        assert_eq!(ds.shape(), vec![120]);
        let names: Vec<&str> = ds.aux_coords.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["a", "x"]);
        let (Column::F64(a), Column::F64(x)) = (&ds.aux_coords[0].values, &ds.aux_coords[1].values)
        else {
            panic!()
        };
        let y = match &ds.vars[0].data {
            Column::F64(v) => v,
            _ => panic!(),
        };
        for i in 0..120 {
            assert_eq!(y[i], x[i] + a[i] * a[i] / (a[i] * a[i] + x[i] * x[i]));
        }
        let sharp = a.iter().filter(|v| **v == 0.01).count();
        assert!(
            sharp > 20 && sharp < 100,
            "{sharp} of 120 for the sharp peak"
        );
        // Each combination has its bounds.
        for w in [0.3, 0.01] {
            let xs: Vec<f64> = (0..120).filter(|&i| a[i] == w).map(|i| x[i]).collect();
            assert!(xs.contains(&-1.0) && xs.contains(&0.8));
        }
    }

    #[test]
    fn round_sizes_are_written_and_read_back() {
        for sizes in [vec![], vec![16; 124], vec![16, 16, 12, 16, 5, 5]] {
            let text = rounds_text(&sizes);
            assert_eq!(parse_rounds(&text), Some(sizes.clone()), "{text}");
        }
        assert_eq!(rounds_text(&[16, 16, 12]), "16x2 12");
        for bad in ["16x", "x3", "0", "-1", "16x0", "a", "16x99999999999"] {
            assert_eq!(parse_rounds(bad), None, "{bad}");
        }
    }

    #[test]
    fn more_rounds_on_a_studys_points_are_those_of_a_longer_run() {
        let f = peak();
        let mut space = ParamSpace::new();
        space.constant("a", Value::F64(0.01));
        let go = |n: u64, existing: Option<&Dataset>| {
            let study = study(&format!("x = [-1.0, 0.8]\nn = {n}\nrounds = 8"));
            run_from(
                &Runner::new(&f, &Sequential),
                f.signature(),
                &space,
                &study,
                existing,
                |_| {},
            )
            .unwrap()
            .dataset
        };
        let short = go(48, None);
        let longer = go(96, Some(&short));
        let long = go(96, None);
        assert_eq!(longer, long);
        // From a dataset whose rounds are not on record, the points are told as they stand.
        let mut bare = short.clone();
        bare.attrs.retain(|(n, _)| n != ROUNDS_ATTR);
        let other = go(96, Some(&bare));
        assert_eq!(other.aux_coords[0].values.len(), 96);
        assert_eq!(
            other
                .attrs
                .iter()
                .find(|(n, _)| n == ROUNDS_ATTR)
                .map(|(_, v)| v.clone()),
            Some(Value::Str("48 8x6".into()))
        );
    }

    #[test]
    fn what_cannot_be_learnt_is_refused() {
        let f = peak();
        let mut space = ParamSpace::new();
        space.constant("a", Value::F64(0.01));
        let go = |text: &str, space: &ParamSpace| {
            run(
                &Runner::new(&f, &Sequential),
                f.signature(),
                space,
                &study(text),
                |_| {},
            )
            .unwrap_err()
            .to_string()
        };
        assert!(go("x = [0.0, 1.0]\nn = 5\noutput = 'label'", &space).contains("not one number"));
        assert!(
            go("x = [0.0, 1.0]\nn = 5\noutput = 'z'", &space).contains("outputs are: y, label")
        );
        assert!(go("q = [0.0, 1.0]\nn = 5", &space).contains("`q` in adaptive"));
        let mut cases = space.clone();
        cases.constants.clear();
        cases.case(vec![("a".into(), Value::F64(1.0))]);
        assert!(go("x = [0.0, 1.0]\nn = 5", &cases).contains("[[cases]] and [samples] cannot"));
    }
}
