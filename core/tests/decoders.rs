//! Decoders never panic, hang or over-allocate on any input (issue 11, item 16): the spec
//! parser, and every dataset reader on files damaged at random. The worker protocol and the
//! crop result decoders are fuzzed where they live (`process::wire`, `crop::result`).
//!
//! Fixed budgets: these run in the normal test run.

use std::path::Path;

use proptest::prelude::*;
use xyz_core::{
    ClosureFunction, ComboValues, Format, Function, ParamSpace, Runner, Sequential, Spec, Value,
};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Spec-like text: fragments of the spec language, shuffled and cut.
fn spec_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("function = \"f.wasm\"\n".to_string()),
        Just("output = \"o.zarr\"\n".to_string()),
        Just("[combos]\n".to_string()),
        Just("[constants]\n".to_string()),
        Just("[[cases]]\n".to_string()),
        Just("[limits]\n".to_string()),
        Just("memory = \"0B\"\n".to_string()),
        Just("deadline = \"-1s\"\n".to_string()),
        Just("x = { linspace = [0, 1, 1000000000000] }\n".to_string()),
        Just("x = { logspace = [300, 400, 3] }\n".to_string()),
        Just("x = { range = [0, 10, 0] }\n".to_string()),
        Just("n = [1, 2.5, \"a\", true]\n".to_string()),
        Just("n = []\n".to_string()),
        Just("k = 9007199254740993\n".to_string()),
        Just("y = nan\n".to_string()),
        "[a-z]{1,3} = [-+0-9.e]{1,12}\n",
        "[ -~]{0,30}\n",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config(400))]

    #[test]
    fn the_spec_parser_takes_any_text(text in spec_text()) {
        // Ok or a typed error with a message: never a panic.
        if let Err(e) = Spec::from_str(&text, Path::new("/")) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn the_spec_parser_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Spec::from_str(&text, Path::new("/"));
    }
}

/// A small dataset of every type, with a failed cell.
fn sample() -> xyz_core::Dataset {
    let sig = "f(a: i64, k: str) -> (y: f64, n: i64, b: bool, s: str, v: f64[t=2])"
        .parse()
        .unwrap();
    let f = ClosureFunction::new(sig, |args| match args {
        [Value::I64(2), _] => Err("two".into()),
        [Value::I64(a), Value::Str(k)] => Ok(vec![
            Value::F64(*a as f64 / 3.0),
            Value::I64(a * 7),
            Value::Bool(a % 2 == 0),
            Value::Str(format!("{k}{a}")),
            Value::F64(0.5),
            Value::F64(-1.5),
        ]),
        _ => unreachable!(),
    });
    let mut space = ParamSpace::new();
    space
        .combo("a", ComboValues::List((0..5).map(Value::I64).collect()))
        .combo(
            "k",
            ComboValues::List(vec![Value::Str("p".into()), Value::Str("q,\"r\"".into())]),
        );
    let bound = space.bind(f.signature()).unwrap();
    Runner::new(&f, &Sequential).run(&bound).unwrap().dataset
}

/// Every file under `root`, sorted.
fn files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if root.is_file() {
        out.push(root.to_path_buf());
        return out;
    }
    for entry in std::fs::read_dir(root).unwrap().flatten() {
        out.extend(files(&entry.path()));
    }
    out.sort();
    out
}

/// How a file is damaged.
#[derive(Debug, Clone)]
enum Damage {
    /// Cut to this fraction of its length.
    Truncate(f64),
    /// These bytes overwritten at these fractions of its length.
    Overwrite(Vec<(f64, u8)>),
    /// Replaced by these bytes.
    Replace(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0.0..1.0f64).prop_map(Damage::Truncate),
        prop::collection::vec((0.0..1.0f64, any::<u8>()), 1..8).prop_map(Damage::Overwrite),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Damage::Replace),
    ]
}

fn apply(path: &Path, damage: &Damage) {
    let mut bytes = std::fs::read(path).unwrap();
    match damage {
        Damage::Truncate(f) => bytes.truncate((bytes.len() as f64 * f) as usize),
        Damage::Overwrite(edits) => {
            for (at, b) in edits {
                if !bytes.is_empty() {
                    let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
                    bytes[i] = *b;
                }
            }
        }
        Damage::Replace(b) => bytes = b.clone(),
    }
    std::fs::write(path, bytes).unwrap();
}

proptest! {
    #![proptest_config(config(120))]

    #[test]
    fn every_reader_survives_a_damaged_file(
        format in prop::sample::select(vec![
            Format::Zarr, Format::Netcdf, Format::Parquet, Format::Csv, Format::Json,
        ]),
        pick in any::<prop::sample::Index>(),
        damage in damage(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("d.{format}"));
        xyz_core::output::write(&sample(), &path, format, false).unwrap();
        let all = files(&path);
        let victim = pick.get(&all);
        apply(victim, &damage);
        // Read back or refused with an error naming a file: never a panic.
        match xyz_core::output::read(&path, format) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let _ = xyz_core::output::probe(&path, format);
    }
}
