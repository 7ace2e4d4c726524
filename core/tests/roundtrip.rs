//! Every format round-trips every value bit for bit (issue 11, item 8): random coordinates
//! (extremes, subnormals, -0.0, long and unicode strings; finite, as coordinates must be) and
//! values (infinities too, where a product overflows) through every writer and reader.

use proptest::prelude::*;
use xyz_core::{
    ClosureFunction, ComboValues, Complex64, Format, Function, ParamSpace, Runner, Sequential,
    Value,
};

/// A float of every kind: ordinary, extreme, subnormal, signed zero, infinite.
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("a number", |x| !x.is_nan()),
        Just(-0.0),
        Just(0.0),
        Just(f64::MIN_POSITIVE / 3.0),
        Just(-5e-324),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (-1e3..1e3f64),
    ]
}

/// A float a coordinate may be: of every kind [`float`] gives but infinite.
fn coordinate() -> impl Strategy<Value = f64> {
    float().prop_filter("finite: a coordinate", |x| x.is_finite())
}

/// Strings with quotes, separators, newlines, unicode, and long ones.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}",
        "\\PC{1,40}",
        "[ ,\"'\\n\\t;=\\[\\]{}#]{1,6}[a-z]",
        "[a-zé漢🙂]{200,400}",
    ]
}

fn distinct<T: PartialEq + Clone>(v: Vec<T>, same: impl Fn(&T, &T) -> bool) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for x in v {
        if !out.iter().any(|y| same(y, &x)) {
            out.push(x);
        }
    }
    out
}

fn dataset(xs: &[f64], ks: &[String], c: f64, label: &str) -> xyz_core::Dataset {
    let sig = "f(x: f64, k: str, c: f64, label: str) -> (y: f64, n: i64, s: str)"
        .parse()
        .unwrap();
    let f = ClosureFunction::new(sig, |args| match args {
        [Value::F64(x), Value::Str(k), Value::F64(c), Value::Str(l)] => Ok(vec![
            Value::F64(x * c),
            Value::I64((k.len() as i64).wrapping_mul(i64::MAX / 1000)),
            Value::Str(format!("{l}{k}")),
        ]),
        _ => unreachable!(),
    });
    let mut space = ParamSpace::new();
    space
        .combo(
            "x",
            ComboValues::List(xs.iter().map(|x| Value::F64(*x)).collect()),
        )
        .combo(
            "k",
            ComboValues::List(ks.iter().map(|k| Value::Str(k.clone())).collect()),
        )
        .constant("c", Value::F64(c))
        .constant("label", Value::Str(label.to_string()));
    run(&f, &space)
}

/// The dataset of `f` over `space`.
fn run(f: &ClosureFunction, space: &ParamSpace) -> xyz_core::Dataset {
    let bound = space.bind(f.signature()).unwrap();
    Runner::new(f, &Sequential).run(&bound).unwrap().dataset
}

/// A dataset of complex values: a swept complex `z`, a complex constant `w`, and outputs
/// `z * w` (complex), `|z|` (real) and `[z, w]` (a complex array).
fn complex_dataset(zs: &[Complex64], w: Complex64) -> xyz_core::Dataset {
    let sig = "f(z: c128, w: c128) -> (p: c128, r: f64, both: c128[k=2])"
        .parse()
        .unwrap();
    let f = ClosureFunction::new(sig, |args| match args {
        [Value::C128(z), Value::C128(w)] => Ok(vec![
            Value::C128(z * w),
            Value::F64(z.norm()),
            Value::C128(*z),
            Value::C128(*w),
        ]),
        _ => unreachable!(),
    });
    let mut space = ParamSpace::new();
    space
        .combo(
            "z",
            ComboValues::List(zs.iter().map(|z| Value::C128(*z)).collect()),
        )
        .constant("w", Value::C128(w));
    run(&f, &space)
}

/// A value as its bits; every NaN alike, as tables write NaN as a missing value.
fn bits(v: &Value) -> String {
    match v {
        Value::F64(x) if x.is_nan() => "f64:nan".to_string(),
        Value::F64(x) => format!("f64:{:016x}", x.to_bits()),
        Value::C128(z) => format!(
            "c128:{}:{}",
            bits(&Value::F64(z.re)),
            bits(&Value::F64(z.im))
        ),
        v => format!("{v:?}"),
    }
}

/// The dataset as rows: per cell, every named value (coordinates, the constants `c` and
/// `label`, outputs) as bits, sorted; tables may lay a one-valued dim out as a constant, so
/// rows are what every format must agree on.
fn rows(ds: &xyz_core::Dataset) -> Vec<Vec<(String, String)>> {
    let shape: Vec<usize> = ds.dims.iter().map(|d| d.coords.len()).collect();
    let n: usize = shape.iter().product();
    let mut out = Vec::with_capacity(n);
    for cell in 0..n {
        let mut row = Vec::new();
        let mut rest = cell;
        for (d, size) in ds.dims.iter().zip(&shape).rev() {
            row.push((d.name.clone(), bits(&d.coords.get(rest % size))));
            rest /= size;
        }
        for (k, v) in &ds.attrs {
            if !k.starts_with("xyz_") {
                row.push((k.clone(), bits(v)));
            }
        }
        for var in &ds.vars {
            let e = var.elements();
            // An array output's elements as CSV names them: `y[0]`, `y[1]`, …
            for k in 0..e {
                let name = if var.extra_dims.is_empty() {
                    var.name.clone()
                } else {
                    format!("{}[{k}]", var.name)
                };
                row.push((name, bits(&var.data.get(cell * e + k))));
            }
        }
        row.sort();
        out.push(row);
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_format_reads_back_every_value_bit_for_bit(
        xs in prop::collection::vec(coordinate(), 1..5),
        ks in prop::collection::vec(string(), 1..4),
        c in coordinate(),
        label in string(),
    ) {
        let xs = distinct(xs, |a, b| a.to_bits() == b.to_bits() || a == b);
        let ks = distinct(ks, |a, b| a == b);
        let ds = dataset(&xs, &ks, c, &label);
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Zarr, Format::Netcdf, Format::Parquet, Format::Csv, Format::Json] {
            // JSON has no numbers for infinities and NaN: it writes them as null (documented).
            if format == Format::Json && rows(&ds).iter().flatten().any(|(_, b)| {
                b == "f64:nan" || b == "f64:7ff0000000000000" || b == "f64:fff0000000000000"
            }) {
                continue;
            }
            let path = dir.path().join(format!("d.{format}"));
            xyz_core::output::write(&ds, &path, format, false).unwrap();
            let back = xyz_core::output::read(&path, format)
                .map_err(|e| TestCaseError::fail(format!("{format}: {e}")))?;
            prop_assert_eq!(rows(&back), rows(&ds), "{}", format);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn complex_values_read_back_bit_for_bit_and_netcdf_refuses_them(
        parts in prop::collection::vec((coordinate(), coordinate()), 1..5),
        w in (-1e3..1e3f64, -1e3..1e3f64),
    ) {
        let zs = distinct(
            parts.into_iter().map(|(re, im)| Complex64::new(re, im)).collect(),
            |a, b| Value::C128(*a).same(&Value::C128(*b)),
        );
        let ds = complex_dataset(&zs, Complex64::new(w.0, w.1));
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Zarr, Format::Parquet, Format::Csv, Format::Json] {
            if format == Format::Json && rows(&ds).iter().flatten().any(|(_, b)| {
                b.contains("f64:nan") || b.contains("f64:7ff0000000000000")
                    || b.contains("f64:fff0000000000000")
            }) {
                continue;
            }
            let path = dir.path().join(format!("d.{format}"));
            xyz_core::output::write(&ds, &path, format, false).unwrap();
            let back = xyz_core::output::read(&path, format)
                .map_err(|e| TestCaseError::fail(format!("{format}: {e}")))?;
            prop_assert_eq!(rows(&back), rows(&ds), "{}", format);
        }
        let nc = dir.path().join("d.nc");
        let err = xyz_core::output::write(&ds, &nc, Format::Netcdf, false).unwrap_err();
        let text = format!("{:#}", anyhow_chain(&err));
        prop_assert!(text.contains("complex (c128)") && text.contains("netCDF"), "{}", text);
        prop_assert!(!nc.exists());
    }
}

/// An error and its sources, one line.
fn anyhow_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
