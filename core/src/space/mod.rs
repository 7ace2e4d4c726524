//! The parameter space: what a sweep evaluates, and where each case lands in the dataset.
//!
//! A [`ParamSpace`] is what the user declared: combos (every combination of their values is
//! evaluated), cases (explicit argument sets) or samples (cases drawn with a seed, along a
//! `sample` dim, each sampled argument a coordinate along it), and constants.
//! [`ParamSpace::bind`] checks it against a function's [`Signature`](xyz_abi::Signature) and gives a
//! [`BoundSpace`], which numbers the cases `0..len`, fills argument columns for any range of
//! them, and maps each case to its cell of the dataset's grid.
//!
//! Cases are outer and combos inner: case `i` takes case row `i / C` and combination `i % C`,
//! where `C` is the number of combinations, and the last combo varies fastest. The grid's dims
//! are the case arguments (coordinates: their distinct values, in order of first appearance),
//! then the combos, in the user's order.

mod bind;
mod bound;
mod error;

pub use bound::{AuxCoord, BoundSpace, CaseSet, SweptDim};
pub use error::{Place, SpaceError};

use bound::Source;

use crate::combo::ComboValues;
use crate::value::Value;

/// The dim along which a sampled space's cases lie, numbered from 0.
pub const SAMPLE_DIM: &str = "sample";

/// The most cells one dataset may have: 2^32, some 34 GB for each f64 output.
pub const MAX_CELLS: u64 = 1 << 32;

/// The space as declared: combos, cases and constants, in the user's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParamSpace {
    /// Swept arguments and their values, in order; the last varies fastest.
    pub combos: Vec<(String, ComboValues)>,
    /// Explicit cases, each a list of (argument, value); empty for none.
    pub cases: Vec<Vec<(String, Value)>>,
    /// Arguments with one value for every case.
    pub constants: Vec<(String, Value)>,
    /// Cases drawn from distributions, each at every combo; `None` for none.
    pub samples: Option<crate::sample::Samples>,
    /// Cases given as points along a dim of their own, each at every combo; `None` for none.
    pub points: Option<Points>,
}

/// Cases given as points along a dim of their own (numbered from 0), each argument of the
/// points a coordinate along it: an adaptive study's points.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    /// The dim's name.
    pub dim: String,
    /// The arguments each point gives, in order.
    pub args: Vec<String>,
    /// The points, each a value per argument.
    pub rows: Vec<Vec<Value>>,
}

impl ParamSpace {
    /// An empty space.
    pub fn new() -> ParamSpace {
        ParamSpace::default()
    }

    /// Sweeps `name` over `values`, replacing any combo or constant of that name (a replaced
    /// combo keeps its position).
    pub fn combo(&mut self, name: impl Into<String>, values: ComboValues) -> &mut Self {
        let name = name.into();
        self.constants.retain(|(n, _)| *n != name);
        match self.combos.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = values,
            None => self.combos.push((name, values)),
        }
        self
    }

    /// Fixes `name` to `value`, replacing any combo or constant of that name.
    pub fn constant(&mut self, name: impl Into<String>, value: Value) -> &mut Self {
        let name = name.into();
        self.combos.retain(|(n, _)| *n != name);
        match self.constants.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.constants.push((name, value)),
        }
        self
    }

    /// Adds an explicit case.
    pub fn case(&mut self, args: Vec<(String, Value)>) -> &mut Self {
        self.cases.push(args);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Column, Columns};
    use xyz_abi::Signature;

    fn sig(s: &str) -> Signature {
        s.parse().unwrap()
    }

    fn list(v: &[i64]) -> ComboValues {
        ComboValues::List(v.iter().map(|x| Value::I64(*x)).collect())
    }

    #[test]
    fn samples_lie_along_their_dim_with_each_argument_a_coordinate() {
        use crate::sample::{Distribution, Method, Samples};
        let s = sig("f(x: f64, k: i64, m: i64) -> (y: f64)");
        let samples = Samples {
            n: 5,
            seed: 1,
            method: Method::Lhs,
            args: vec![
                ("x".into(), Distribution::Uniform(0.0, 1.0)),
                ("k".into(), Distribution::Integers(1, 3)),
            ],
        };
        let mut space = ParamSpace::new();
        space.combo("m", list(&[10, 20]));
        space.samples = Some(samples.clone());
        let bound = space.bind(&s).unwrap();
        assert_eq!((bound.len(), bound.cells()), (10, 10));
        let names: Vec<&str> = bound.dims().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, [SAMPLE_DIM, "m"]);
        assert_eq!(bound.dims()[0].coords, Column::I64(vec![0, 1, 2, 3, 4]));
        let rows = samples.draw();
        let aux = bound.aux_coords();
        assert_eq!(aux.len(), 2);
        assert_eq!(
            (aux[0].name.as_str(), aux[0].dim.as_str()),
            ("x", SAMPLE_DIM)
        );
        // Case 2k + j is sample k at combo j, with the sample's values as arguments.
        let mut cols = Columns::default();
        bound.fill(0, 10, &mut cols);
        for case in 0..10 {
            let (k, j) = (case / 2, case % 2);
            assert_eq!(cols.cols[0].get(case), rows[k][0]);
            assert_eq!(aux[0].values.get(k), rows[k][0]);
            assert_eq!(cols.cols[1].get(case), rows[k][1]);
            assert_eq!(cols.cols[2].get(case), Value::I64([10, 20][j]));
        }
        // What cannot be.
        let mut with_cases = space.clone();
        with_cases.case(vec![("m".into(), Value::I64(1))]);
        assert_eq!(
            with_cases.bind(&s).unwrap_err(),
            SpaceError::SamplesWithCases
        );
        let mut taken = space.clone();
        taken.combo(SAMPLE_DIM, list(&[1]));
        assert!(matches!(
            taken.bind(&sig("f(x: f64, k: i64, m: i64, sample: i64) -> (y: f64)")),
            Err(SpaceError::SampleDimTaken { what: "combo", .. })
        ));
        let out = sig("f(x: f64, k: i64, m: i64) -> (sample: f64)");
        assert!(matches!(
            space.bind(&out),
            Err(SpaceError::SampleDimTaken { what: "output", .. })
        ));
        let mut wrong = space.clone();
        if let Some(s) = &mut wrong.samples {
            s.args[1].1 = Distribution::Uniform(1.0, 3.0);
        }
        assert!(matches!(
            wrong.bind(&s),
            Err(SpaceError::WrongSampleType { ref name, .. }) if name == "k"
        ));
    }

    #[test]
    fn combos_vary_last_fastest_and_fill_any_range() {
        let s = sig("f(a: i64, b: i64, c: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space
            .combo("a", list(&[1, 2, 3]))
            .combo("b", list(&[10, 20]))
            .constant("c", Value::I64(7));
        let bound = space.bind(&s).unwrap();
        assert_eq!(bound.len(), 6);
        let mut cols = Columns::default();
        for start in 0..6 {
            for n in 0..=(6 - start as usize) {
                bound.fill(start, n, &mut cols);
                let a: Vec<i64> = (start..start + n as u64)
                    .map(|i| [1, 2, 3][i as usize / 2])
                    .collect();
                let b: Vec<i64> = (start..start + n as u64)
                    .map(|i| [10, 20][i as usize % 2])
                    .collect();
                assert_eq!(cols.cols[0], Column::I64(a));
                assert_eq!(cols.cols[1], Column::I64(b));
                assert_eq!(cols.cols[2], Column::F64(vec![7.0; n]));
            }
        }
        assert_eq!(bound.cell_of(5), 5);
    }

    #[test]
    fn cases_are_outer_dims_with_first_seen_coords() {
        let s = sig("f(a: i64, b: str, x: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space.combo(
            "x",
            ComboValues::List(vec![Value::F64(0.5), Value::F64(1.5)]),
        );
        space.case(vec![
            ("a".into(), Value::I64(2)),
            ("b".into(), Value::Str("u".into())),
        ]);
        space.case(vec![
            ("a".into(), Value::I64(1)),
            ("b".into(), Value::Str("v".into())),
        ]);
        let bound = space.bind(&s).unwrap();
        let names: Vec<&str> = bound.dims().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "x"]);
        assert_eq!(bound.dims()[0].coords, Column::I64(vec![2, 1]));
        assert_eq!(bound.len(), 4);
        assert_eq!(bound.cells(), 8);
        // Case 2 is row 1 (a=1 -> index 1, b="v" -> index 1), combination 0.
        assert_eq!(bound.cell_of(2), (2 + 1) * 2);
        let mut cols = Columns::default();
        bound.fill(1, 3, &mut cols);
        assert_eq!(cols.cols[0], Column::I64(vec![2, 1, 1]));
        assert_eq!(cols.cols[2], Column::F64(vec![1.5, 0.5, 1.5]));
    }

    #[test]
    fn errors_name_the_argument() {
        let s = sig("f(a: i64, b: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1])).combo("z", list(&[1]));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`z` in combos is not an argument of f; its arguments are: a, b"
        );
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1]));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "argument `b` (f64) of f has no value: give it in combos, cases or constants"
        );
        let mut space = ParamSpace::new();
        space.combo("a", ComboValues::List(vec![Value::F64(1.5)]));
        space.constant("b", Value::I64(1));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`a` in combos: expected i64, found 1.5 (f64)"
        );
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1])).constant("b", Value::F64(1.0));
        space.case(vec![("b".into(), Value::F64(2.0))]);
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`b` is given twice, in cases and in constants"
        );
        let mut space = ParamSpace::new();
        space.combo("a", list(&[1])).combo("b", list(&[]));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "combo `b`: the list of values is empty"
        );
    }

    #[test]
    fn complex_arguments_take_numbers_and_complex_text() {
        use crate::value::Complex64;
        let s = sig("f(z: c128, w: c128) -> (y: c128)");
        let mut space = ParamSpace::new();
        space
            .combo(
                "z",
                ComboValues::List(vec![
                    Value::Str("1-2j".into()),
                    Value::Str("(0.5+0j)".into()),
                ]),
            )
            .constant("w", Value::I64(3));
        let bound = space.bind(&s).unwrap();
        assert_eq!(
            bound.dims()[0].coords,
            Column::C128(vec![Complex64::new(1.0, -2.0), Complex64::new(0.5, 0.0)])
        );
        let mut cols = Columns::default();
        bound.fill(0, 2, &mut cols);
        assert_eq!(
            cols.cols[1],
            Column::C128(vec![Complex64::new(3.0, 0.0); 2])
        );
        let mut space = ParamSpace::new();
        space
            .combo("z", ComboValues::List(vec![Value::Str("1+k".into())]))
            .constant("w", Value::F64(0.0));
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "`z` in combos: expected c128 (a number, a string such as \"1.5-2j\", or \
             { re = 1.5, im = -2.0 }), found \"1+k\" (str)"
        );
    }

    #[test]
    fn repeated_and_ragged_cases_are_refused() {
        let s = sig("f(a: i64, b: f64) -> (y: f64)");
        let mut space = ParamSpace::new();
        space.constant("b", Value::F64(0.0));
        space.case(vec![("a".into(), Value::I64(1))]);
        space.case(vec![("a".into(), Value::I64(1))]);
        assert_eq!(
            space.bind(&s).unwrap_err().to_string(),
            "case 2: repeats case 1"
        );
        let mut space = ParamSpace::new();
        space.case(vec![
            ("a".into(), Value::I64(1)),
            ("b".into(), Value::F64(1.0)),
        ]);
        space.case(vec![("a".into(), Value::I64(2))]);
        assert!(
            space
                .bind(&s)
                .unwrap_err()
                .to_string()
                .starts_with("case 2: gives [a]")
        );
    }

    #[test]
    fn overrides_replace_in_place() {
        let mut space = ParamSpace::new();
        space
            .combo("a", list(&[1]))
            .combo("b", list(&[2]))
            .constant("c", Value::I64(3));
        space
            .combo("a", list(&[5]))
            .combo("c", list(&[6]))
            .constant("b", Value::I64(0));
        let names: Vec<&str> = space.combos.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(space.constants, vec![("b".to_string(), Value::I64(0))]);
    }
}
