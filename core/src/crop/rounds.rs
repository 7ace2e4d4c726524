//! An adaptive study's crop, whose points come in rounds. `sow` writes the first round; each
//! later one is chosen, once every batch of the rounds before it is grown, by one grower under
//! a lease on the crop, from their results alone, and written as a file of its own:
//!
//! ```text
//! rounds/
//!   round-000001.toml   the points of round 1, and the learners' loss when it was chosen
//!   round-000002.toml
//!   finished.toml       once the study has its evaluations or its loss: why, and the loss
//!   lease/              the claim of the grower choosing the next round
//! ```
//!
//! A round depends on the results of the rounds before it and on nothing else, so whoever
//! chooses it chooses the same points. Every reader that tells the learners the rounds on
//! record (a grower choosing the next one, a reap) checks that each is the round the learners
//! ask, so a round file written by anything else is found and refused, never learnt from.

use std::time::Duration;

use super::claims;
use super::manifest::hex;
use super::publish::publish;
use super::*;
use crate::adaptive::Study;

/// The directory of the claim of the grower choosing the next round.
const LEASE: &str = "lease";
/// The file that says the study is finished.
const FINISHED: &str = "finished.toml";
/// The largest round file read.
const MAX_ROUND_FILE: u64 = 1 << 30;

/// A round on record.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RoundFile {
    /// Each point's combination and its adaptive arguments' values.
    pub(super) points: Vec<(usize, Vec<f64>)>,
    /// The learners' loss when it was chosen (infinite for the first round).
    pub(super) loss: f64,
}

/// Why an adaptive study ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// It evaluated its `n` points.
    Evaluations,
    /// Its loss reached its `loss_goal`.
    LossGoal,
    /// Its learners had no point left to ask.
    NoPointLeft,
}

impl Finish {
    fn name(self) -> &'static str {
        match self {
            Finish::Evaluations => "evaluations",
            Finish::LossGoal => "loss_goal",
            Finish::NoPointLeft => "no_point_left",
        }
    }

    fn parse(name: &str) -> Option<Finish> {
        [Finish::Evaluations, Finish::LossGoal, Finish::NoPointLeft]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

impl std::fmt::Display for Finish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Finish::Evaluations => "it has its evaluations",
            Finish::LossGoal => "its loss reached the goal",
            Finish::NoPointLeft => "no point was left to ask",
        })
    }
}

/// Why a study ended, and the loss it ended at.
pub(super) type Finished = (Finish, f64);

/// An adaptive crop's study as its round files have it.
#[derive(Debug, Clone)]
pub(super) struct Rounds {
    /// The study, told nothing.
    pub(super) study: Study,
    /// The rounds on record, in order.
    pub(super) rounds: Vec<RoundFile>,
    /// Why and at what loss the study ended, once it has.
    pub(super) finished: Option<Finished>,
}

/// What `xyz status` shows of an adaptive crop's study.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StudyStatus {
    /// Rounds chosen.
    pub rounds: usize,
    /// Points chosen in all.
    pub points: u64,
    /// The study's `n`, if it has one.
    pub n: Option<u64>,
    /// The study's `loss_goal`, if it has one.
    pub loss_goal: Option<f64>,
    /// The learners' loss when the last round was chosen, or when the study ended; `None`
    /// before the first round's results are in.
    pub loss: Option<f64>,
    /// Why the study ended, once it has.
    pub finished: Option<Finish>,
}

impl StudyStatus {
    /// The cases still to grow, `missing` of them in the rounds chosen so far: those and, for
    /// a study not finished, the points still to come up to its `n`, as far as it tells.
    pub fn cases_left(&self, missing: u64) -> u64 {
        match (self.finished, self.n) {
            (None, Some(n)) => n.saturating_sub(self.points - missing).max(missing),
            _ => missing,
        }
    }
}

/// What a grower that found every batch grown did about the next round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Advance {
    /// The study is finished: nothing more to grow.
    Finished,
    /// A round was added (by this grower or another): open the crop again and grow it.
    Next,
    /// Another grower is choosing the next round.
    Waiting,
}

fn round_path(dir: &Path, number: usize) -> PathBuf {
    dir.join(format!("round-{number:06}.toml"))
}

fn bad(path: &Path, message: impl Into<String>) -> CropError {
    CropError::Manifest {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The round files of the crop in `dir` of identity `identity`, from round 1 to the first
/// one missing, and the finish, if written; each checked against `study`.
pub(super) fn read(
    dir: &Path,
    identity: &[u8; 32],
    study: &Study,
) -> Result<(Vec<RoundFile>, Option<Finished>), CropError> {
    let rounds_dir = CropDir::new(dir).rounds();
    let identity = hex(identity);
    let table = |path: &Path| -> Result<Option<toml::Table>, CropError> {
        let text = match crate::shared_fs::read_regular_to_string(path, MAX_ROUND_FILE) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        };
        let t: toml::Table = toml::from_str(&text).map_err(|e| bad(path, e.to_string()))?;
        if t.get("identity").and_then(toml::Value::as_str) != Some(identity.as_str()) {
            return Err(bad(
                path,
                "is not this crop's (its identity is not the manifest's): sow again",
            ));
        }
        Ok(Some(t))
    };
    let mut rounds = Vec::new();
    loop {
        let path = round_path(&rounds_dir, rounds.len() + 1);
        let Some(t) = table(&path)? else { break };
        rounds.push(parse_round(&t, study, rounds.len() + 1).map_err(|m| bad(&path, m))?);
    }
    let path = rounds_dir.join(FINISHED);
    let finished = match table(&path)? {
        None => None,
        Some(t) => {
            let finish = t
                .get("reason")
                .and_then(toml::Value::as_str)
                .and_then(Finish::parse)
                .ok_or_else(|| {
                    bad(
                        &path,
                        "`reason` must be \"evaluations\", \"loss_goal\" or \"no_point_left\"",
                    )
                })?;
            let loss = t
                .get("loss")
                .and_then(toml::Value::as_float)
                .ok_or_else(|| bad(&path, "`loss` must be a float"))?;
            Some((finish, loss))
        }
    };
    Ok((rounds, finished))
}

/// The bound space, the plan and the rounds of the adaptive study `adaptive` whose crop in
/// `dir` has the manifest `manifest`: the points of every round on record.
pub(super) fn open(
    dir: &Path,
    manifest: &Manifest,
    adaptive: &crate::adaptive::Adaptive,
) -> Result<(BoundSpace, Plan, Rounds), CropError> {
    let path = CropDir::new(dir).manifest();
    let bad = |message: String| CropError::Manifest {
        path: path.clone(),
        message,
    };
    let sig = &manifest.signature;
    let study = Study::new(sig, &manifest.space, adaptive).map_err(|e| bad(e.to_string()))?;
    let (files, finished) = read(dir, &manifest.identity, &study)?;
    if files.is_empty() {
        return Err(bad(
            "the crop has no round 1 (rounds/round-000001.toml): sow again".into(),
        ));
    }
    let rows = files
        .iter()
        .flat_map(|r| r.points.iter().map(|(c, p)| study.row(*c, p)))
        .collect();
    let space = study
        .space_of(rows)
        .bind(sig)
        .map_err(|e| bad(e.to_string()))?;
    let sizes: Vec<u64> = files.iter().map(|r| r.points.len() as u64).collect();
    let plan =
        Plan::rounds(&sizes, manifest.batchsize.unwrap_or(1)).map_err(|e| bad(e.to_string()))?;
    let rounds = Rounds {
        study,
        rounds: files,
        finished,
    };
    Ok((space, plan, rounds))
}

/// Round `number` from its file's table.
fn parse_round(t: &toml::Table, study: &Study, number: usize) -> Result<RoundFile, String> {
    if t.get("round").and_then(toml::Value::as_integer) != Some(number as i64) {
        return Err(format!("`round` must be {number}, the number in its name"));
    }
    let loss = t
        .get("loss")
        .and_then(toml::Value::as_float)
        .ok_or("`loss` must be a float")?;
    let points = t
        .get("points")
        .and_then(toml::Value::as_table)
        .ok_or("`points` must be a table of a list per adaptive argument")?;
    let args = &study.adaptive().args;
    let mut columns = Vec::with_capacity(args.len());
    for (name, _) in args {
        let column: Vec<f64> = points
            .get(name)
            .and_then(toml::Value::as_array)
            .and_then(|a| a.iter().map(toml::Value::as_float).collect())
            .ok_or_else(|| format!("`points.{name}` must be a list of floats"))?;
        columns.push(column);
    }
    let n = columns.first().map_or(0, Vec::len);
    if n == 0 || columns.iter().any(|c| c.len() != n) {
        return Err("`points` must list as many values, at least one, for each argument".into());
    }
    let combinations = study.combinations().len();
    let of: Vec<usize> = match t.get("combination") {
        None => vec![0; n],
        Some(v) => v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|c| c.as_integer().and_then(|c| usize::try_from(c).ok()))
                    .collect::<Option<Vec<usize>>>()
            })
            .filter(|c| c.len() == n && c.iter().all(|c| *c < combinations))
            .ok_or_else(|| {
                format!(
                    "`combination` must list a combination (0 to {}) for each of the {n} points",
                    combinations - 1
                )
            })?,
    };
    Ok(RoundFile {
        points: of
            .into_iter()
            .enumerate()
            .map(|(i, c)| (c, columns.iter().map(|col| col[i]).collect()))
            .collect(),
        loss,
    })
}

/// The text of round `number`'s file.
fn round_text(identity: &str, number: usize, round: &RoundFile, study: &Study) -> String {
    let mut t = toml::Table::new();
    t.insert("identity".into(), toml::Value::String(identity.into()));
    t.insert("round".into(), toml::Value::Integer(number as i64));
    t.insert("loss".into(), toml::Value::Float(round.loss));
    if study.combinations().len() > 1 {
        t.insert(
            "combination".into(),
            toml::Value::Array(
                round
                    .points
                    .iter()
                    .map(|(c, _)| toml::Value::Integer(*c as i64))
                    .collect(),
            ),
        );
    }
    let points: toml::Table = study
        .adaptive()
        .args
        .iter()
        .enumerate()
        .map(|(j, (name, _))| {
            let column = round
                .points
                .iter()
                .map(|(_, p)| toml::Value::Float(p[j]))
                .collect();
            (name.clone(), toml::Value::Array(column))
        })
        .collect();
    t.insert("points".into(), toml::Value::Table(points));
    format!(
        "# Round {number} of an adaptive crop, chosen from the results of the rounds before \
         it.\n{}",
        toml::to_string(&t).unwrap_or_default()
    )
}

/// Writes round `number` of a crop of identity `identity` in `rounds_dir`: the points
/// `study` asked last.
pub(super) fn write_round(
    rounds_dir: &Path,
    identity: &[u8; 32],
    number: usize,
    study: &Study,
) -> Result<(), CropError> {
    let round = RoundFile {
        points: study.asked().to_vec(),
        loss: study.loss(),
    };
    let text = round_text(&hex(identity), number, &round, study);
    write_file(rounds_dir, &round_path(rounds_dir, number), &text)
}

fn write_file(rounds_dir: &Path, path: &Path, text: &str) -> Result<(), CropError> {
    std::fs::create_dir_all(rounds_dir).map_err(io_err(rounds_dir))?;
    let tmp = rounds_dir.join(format!(
        ".tmp-{}-{}",
        crate::shared_fs::host_name(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    publish(&tmp, path, &[text.as_bytes()]).map_err(io_err(path))
}

impl Crop {
    /// The adaptive study whose rounds the crop grows, if it is one.
    pub fn adaptive(&self) -> Option<&crate::adaptive::Adaptive> {
        self.manifest.adaptive.as_ref()
    }

    /// The state of the crop's adaptive study, from its round files (no result is read).
    pub fn study_status(&self) -> Option<StudyStatus> {
        let r = self.rounds.as_deref()?;
        let adaptive = r.study.adaptive();
        let loss = match r.finished {
            Some((_, loss)) => Some(loss),
            None => r.rounds.last().map(|r| r.loss).filter(|l| l.is_finite()),
        };
        Some(StudyStatus {
            rounds: r.rounds.len(),
            points: self.plan.cases(),
            n: adaptive.n,
            loss_goal: adaptive.loss_goal,
            loss,
            finished: r.finished.map(|(f, _)| f),
        })
    }

    /// The study told the results in `dataset` (the crop's, reaped) of every round on record
    /// whose cases are all grown, in order, each checked to be the round the learners ask.
    pub(super) fn replay(&self, dataset: &Dataset) -> Result<Study, CropError> {
        let Some(r) = self.rounds.as_deref() else {
            unreachable!("replay of a crop that is not an adaptive study's")
        };
        let mut study = r.study.clone();
        let mut at = 0;
        for (i, round) in r.rounds.iter().enumerate() {
            let n = round.points.len();
            study.ask();
            if study.asked() != round.points.as_slice() {
                return Err(bad(
                    &round_path(&self.paths().rounds(), i + 1),
                    "is not the round the study's learners choose from the results of the \
                     rounds before it: it was written by another program or edited, or those \
                     results were; sow again",
                ));
            }
            let grown = dataset.cells[at..at + n]
                .iter()
                .all(|c| matches!(c, CellState::Ok | CellState::Failed));
            if !grown {
                break;
            }
            study.tell(study.values_in(dataset, at..at + n));
            at += n;
        }
        Ok(study)
    }

    /// For a grower that found every batch grown: chooses the next round under a lease on the
    /// crop (one grower at a time; another takes it over `lease` after its holder died), or
    /// writes that the study is finished.
    pub(super) fn advance(&self, lease: Duration) -> Result<Advance, CropError> {
        let Some(r) = self.rounds.as_deref() else {
            return Ok(Advance::Finished);
        };
        if r.finished.is_some() {
            return Ok(Advance::Finished);
        }
        let dir = self.paths().rounds();
        let next = r.rounds.len() + 1;
        let lease_dir = dir.join(LEASE);
        std::fs::create_dir_all(&lease_dir).map_err(io_err(&lease_dir))?;
        let Some(claim) =
            claims::try_claim(&lease_dir, next as u64, lease).map_err(io_err(&lease_dir))?
        else {
            return Ok(Advance::Waiting);
        };
        let chosen = (|| {
            // Chosen by another grower since this crop was opened.
            if round_path(&dir, next).exists() || dir.join(FINISHED).exists() {
                return Ok(());
            }
            self.check_still_sown()?;
            let dataset = self.reap_results(false)?.dataset;
            let mut study = self.replay(&dataset)?;
            let finished = study.finished();
            if !study.ask().is_empty() {
                return write_round(&dir, &self.manifest.identity, next, &study);
            }
            let why = if !finished {
                Finish::NoPointLeft
            } else if study.evaluated() as u64 >= study.adaptive().n.unwrap_or(u64::MAX) {
                Finish::Evaluations
            } else {
                Finish::LossGoal
            };
            let mut t = toml::Table::new();
            t.insert(
                "identity".into(),
                toml::Value::String(hex(&self.manifest.identity)),
            );
            t.insert("reason".into(), toml::Value::String(why.name().into()));
            t.insert("loss".into(), toml::Value::Float(study.loss()));
            t.insert("rounds".into(), toml::Value::Integer(next as i64 - 1));
            t.insert(
                "points".into(),
                toml::Value::Integer(study.evaluated() as i64),
            );
            let text = format!(
                "# The adaptive study is finished: {why}.\n{}",
                toml::to_string(&t).unwrap_or_default()
            );
            write_file(&dir, &dir.join(FINISHED), &text)
        })();
        let released = claim.release().map_err(io_err(&lease_dir));
        chosen.and(released).map(|()| Advance::Next)
    }

    /// The crop opened again, with the same trust: an adaptive study's with the rounds on
    /// record now. Fails with [`CropError::Resown`] if it was sown again meanwhile.
    pub fn reopened(&self) -> Result<Crop, CropError> {
        self.check_still_sown()?;
        let mut crop = Crop::open(&self.dir)?;
        if crop.manifest.identity != self.manifest.identity {
            return Err(CropError::Resown {
                dir: self.dir.clone(),
            });
        }
        crop.trust = self.trust.clone();
        Ok(crop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Runner;
    use crate::adaptive::Adaptive;
    use crate::combo::ComboValues;
    use crate::crop::WorkerOptions;
    use crate::executor::Sequential;
    use crate::function::{ClosureFunction, Function};
    use crate::value::Value;

    const CODE: &[u8] = b"peak, version 1";

    fn peak() -> ClosureFunction {
        let sig = "peak(x: f64, a: f64) -> (y: f64)".parse().unwrap();
        ClosureFunction::new(sig, |args| match args {
            [Value::F64(x), Value::F64(_)] if *x > 0.9 => Err(format!("x = {x} fails")),
            [Value::F64(x), Value::F64(a)] => Ok(vec![Value::F64(x + a * a / (a * a + x * x))]),
            _ => unreachable!(),
        })
        .with_sha256(crate::sha256_hex(CODE))
    }

    fn space() -> ParamSpace {
        let mut space = ParamSpace::new();
        space.combo(
            "a",
            ComboValues::List(vec![Value::F64(0.3), Value::F64(0.01)]),
        );
        space
    }

    fn study() -> Adaptive {
        Adaptive::from_toml(&toml::from_str("x = [-1.0, 1.0]\nn = 70\nrounds = 6").unwrap())
            .unwrap()
    }

    fn sow(parent: &Path, f: &ClosureFunction, batchsize: u64) -> Crop {
        let sha = crate::sha256_hex(CODE);
        Crop::sow(
            parent,
            &Sowing {
                name: "peak",
                function: CODE,
                function_file: "function.bin",
                sha256: &sha,
                signature: f.signature(),
                space: &space(),
                limits: &Limits::default(),
                attrs: &[],
                coords: &[],
                subset: None,
                into: None,
                output: None,
                batchsize: Some(batchsize),
                num_batches: None,
                shuffle: None,
                force: false,
                adaptive: Some(&study()),
            },
        )
        .unwrap()
        .0
    }

    /// What a run of the same study in one process gives.
    fn run(f: &ClosureFunction) -> Dataset {
        let runner = Runner::new(f, &Sequential);
        crate::adaptive::run(&runner, f.signature(), &space(), &study(), |_| {})
            .unwrap()
            .dataset
    }

    fn same(reaped: &Dataset, run: &Dataset) {
        assert_eq!(reaped.aux_coords, run.aux_coords);
        assert_eq!(reaped.cells, run.cells);
        assert_eq!(reaped.errors, run.errors);
        assert_eq!(format!("{:?}", reaped.vars), format!("{:?}", run.vars));
        let study_attrs = |d: &Dataset| {
            d.attrs
                .iter()
                .filter(|(n, _)| n.starts_with("xyz_adaptive"))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(study_attrs(reaped), study_attrs(run));
    }

    #[test]
    fn rounds_grown_one_after_another_reap_to_what_a_run_gives() {
        let f = peak();
        let dir = tempfile::tempdir().unwrap();
        let crop = sow(dir.path(), &f, 4);
        // Round 1: 6 points in batches of 4 and 2.
        assert_eq!(crop.plan().batches(), 2);
        assert_eq!(crop.plan().positions(2), 4..6);
        let status = crop.study_status().unwrap();
        assert_eq!(
            (status.rounds, status.points, status.finished),
            (1, 6, None)
        );
        assert!(matches!(
            crop.reap(false),
            Err(CropError::Unfinished { rounds: 1, .. })
        ));
        let report = crop
            .growing(&f, &Sequential)
            .missing(Duration::from_secs(60))
            .unwrap();
        assert_eq!(report.cases, 70);
        let crop = crop.reopened().unwrap();
        let status = crop.study_status().unwrap();
        assert_eq!(status.rounds, 12);
        assert_eq!(status.finished, Some(Finish::Evaluations));
        // Each round's batches end where the round does.
        assert_eq!(crop.plan().positions(3), 6..10);
        assert_eq!(crop.plan().positions(4), 10..12);
        same(&crop.reap(false).unwrap().dataset, &run(&f));
        // Finished: a worker finds nothing to do.
        let more = crop.work(&f, &Sequential, &WorkerOptions::default(), None);
        assert_eq!(more.unwrap().batches, 0);
    }

    #[test]
    fn workers_at_once_choose_each_round_once_and_reap_what_a_run_gives() {
        let f = peak();
        let dir = tempfile::tempdir().unwrap();
        let crop = sow(dir.path(), &f, 1);
        let options = WorkerOptions {
            lease: Duration::from_secs(5),
            ..WorkerOptions::default()
        };
        let cases: u64 = std::thread::scope(|s| {
            let workers: Vec<_> = (0..3)
                .map(|_| {
                    let crop = Crop::open(crop.dir()).unwrap();
                    let (f, options) = (&f, &options);
                    s.spawn(move || crop.work(f, &Sequential, options, None).unwrap().cases)
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(cases, 70);
        let crop = crop.reopened().unwrap();
        same(&crop.reap(false).unwrap().dataset, &run(&f));
        let leases = std::fs::read_dir(crop.paths().rounds().join(LEASE)).unwrap();
        assert_eq!(leases.count(), 0, "each lease released");
    }

    #[test]
    fn the_cases_left_count_the_points_to_come_until_the_study_is_finished() {
        let mut s = StudyStatus {
            rounds: 3,
            points: 18,
            n: Some(70),
            loss_goal: None,
            loss: Some(0.5),
            finished: None,
        };
        // 4 of the 18 chosen not grown: 56 to come in all.
        assert_eq!(s.cases_left(4), 56);
        s.n = None;
        assert_eq!(s.cases_left(4), 4);
        (s.n, s.finished) = (Some(70), Some(Finish::LossGoal));
        assert_eq!(s.cases_left(0), 0);
    }

    #[test]
    fn a_round_file_reads_back_as_written() {
        let f = peak();
        let dir = tempfile::tempdir().unwrap();
        let crop = sow(dir.path(), &f, 1);
        let r = crop.rounds.as_deref().unwrap();
        let text = round_text("id", 1, &r.rounds[0], &r.study);
        let t: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parse_round(&t, &r.study, 1).unwrap(), r.rounds[0]);
        assert!(
            parse_round(&t, &r.study, 2)
                .unwrap_err()
                .contains("`round` must be 2")
        );
        for (bad, says) in [
            (
                "combination = [0, 2, 0, 0, 0, 0]",
                "`combination` must list",
            ),
            ("combination = [0]", "`combination` must list"),
            ("loss = \"x\"", "`loss` must be a float"),
        ] {
            let key = bad.split(' ').next().unwrap();
            let mut t = t.clone();
            t.remove(key);
            let extra: toml::Table = toml::from_str(bad).unwrap();
            t.extend(extra);
            let err = parse_round(&t, &r.study, 1).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let mut t = t.clone();
        t.insert(
            "points".into(),
            toml::from_str::<toml::Table>("x = []").unwrap().into(),
        );
        assert!(
            parse_round(&t, &r.study, 1)
                .unwrap_err()
                .contains("at least one")
        );
    }
}
