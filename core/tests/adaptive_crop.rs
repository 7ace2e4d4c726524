//! An adaptive study's crop under round files changed by anything: every round file a byte
//! flipped, cut short, or replaced by any TOML table, and the crop still opens to a clear error
//! naming the file or, where the change leaves a round the learners would choose, reaps; never
//! a panic, and never a dataset learnt from points the learners did not choose.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use xyz_core::adaptive::Adaptive;
use xyz_core::crop::{Crop, CropError, Sowing};
use xyz_core::{ClosureFunction, ComboValues, Function, Limits, ParamSpace, Sequential, Value};

const CODE: &[u8] = b"peak, version 1";

fn peak() -> ClosureFunction {
    let sig = "peak(x: f64, a: f64) -> (y: f64)".parse().unwrap();
    ClosureFunction::new(sig, |args| match args {
        [Value::F64(x), Value::F64(a)] => Ok(vec![Value::F64(x + a * a / (a * a + x * x))]),
        _ => unreachable!(),
    })
    .with_sha256(xyz_core::sha256_hex(CODE))
}

/// A crop of a small study grown to the end, in `parent`; its directory.
fn grown(parent: &Path, f: &ClosureFunction) -> PathBuf {
    let mut space = ParamSpace::new();
    space.combo(
        "a",
        ComboValues::List(vec![Value::F64(0.3), Value::F64(0.01)]),
    );
    let study =
        Adaptive::from_toml(&toml::from_str("x = [-1.0, 1.0]\nn = 24\nrounds = 6").unwrap())
            .unwrap();
    let sha = xyz_core::sha256_hex(CODE);
    let (crop, _) = Crop::sow(
        parent,
        &Sowing {
            name: "peak",
            function: CODE,
            function_file: "function.bin",
            sha256: &sha,
            signature: f.signature(),
            space: &space,
            limits: &Limits::default(),
            attrs: &[],
            coords: &[],
            subset: None,
            into: None,
            output: None,
            batchsize: Some(2),
            num_batches: None,
            shuffle: None,
            force: false,
            adaptive: Some(&study),
        },
    )
    .unwrap();
    crop.growing(f, &Sequential)
        .missing(std::time::Duration::from_secs(60))
        .unwrap();
    crop.dir().to_path_buf()
}

/// What a change to a round file's text does.
#[derive(Debug, Clone)]
enum Change {
    /// A byte flipped at a position (taken modulo the length).
    Flip(usize, u8),
    /// The text cut at a position.
    Cut(usize),
    /// A key of the table set to a value.
    Set(String, toml::Value),
}

fn change() -> impl Strategy<Value = Change> {
    let value = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        "[a-z0-9]{0,8}".prop_map(toml::Value::String),
        prop::collection::vec(any::<f64>().prop_map(toml::Value::Float), 0..8)
            .prop_map(toml::Value::Array),
        prop::collection::vec((-2i64..4).prop_map(toml::Value::Integer), 0..8)
            .prop_map(toml::Value::Array),
    ];
    let key = prop_oneof![
        Just("identity".to_string()),
        Just("round".to_string()),
        Just("loss".to_string()),
        Just("combination".to_string()),
        Just("points".to_string()),
        "[a-z]{1,6}",
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Change::Flip(at, b)),
        any::<usize>().prop_map(Change::Cut),
        (key, value).prop_map(|(k, v)| Change::Set(k, v)),
    ]
}

fn apply(text: &str, change: &Change) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    match change {
        Change::Flip(at, b) => {
            let at = at % bytes.len();
            bytes[at] ^= b | 1;
        }
        Change::Cut(at) => bytes.truncate(at % bytes.len()),
        Change::Set(key, value) => {
            let mut t: toml::Table = toml::from_str(text).unwrap();
            t.insert(key.clone(), value.clone());
            bytes = toml::to_string(&t).unwrap().into_bytes();
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_changed_round_file_is_refused_by_name_or_leaves_the_study_as_it_was(
        round in 1usize..5,
        change in change(),
    ) {
        let f = peak();
        let dir = tempfile::tempdir().unwrap();
        let crop_dir = grown(dir.path(), &f);
        let before = Crop::open(&crop_dir).unwrap().reap(false).unwrap().dataset;
        let name = format!("round-{round:06}.toml");
        let path = crop_dir.join("rounds").join(&name);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, apply(&text, &change)).unwrap();
        let reaped = Crop::open(&crop_dir).and_then(|crop| {
            crop.status()?;
            crop.reap(true)
        });
        match reaped {
            // A change the learners cannot tell (a comment, the loss on record, a key they
            // do not read, a round cut after its last point): the same points, results and
            // study.
            Ok(r) => {
                prop_assert_eq!(&r.dataset.aux_coords, &before.aux_coords);
                prop_assert_eq!(&r.dataset.cells, &before.cells);
                prop_assert_eq!(&r.dataset.attrs, &before.attrs);
            }
            Err(CropError::Manifest { path, .. }) => {
                prop_assert!(path.ends_with(&name), "{}", path.display());
            }
            Err(CropError::Io { path, .. }) => {
                prop_assert!(path.ends_with(&name), "{}", path.display());
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
