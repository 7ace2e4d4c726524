//! Complex values (`c128`): arguments and outputs, scalars and arrays, through `run`, crops
//! and `--into`, from Rust and C functions, wasm and native, in every format, read back by
//! xarray, pandas, polars and DuckDB; netCDF refuses them, by name, before any work.

use crate::util::{Dir, guest, stdout, tree};

/// `resolvent` over 5 energies, 3 complex levels (given as text, as a table and as a real
/// number) and 2 broadenings, one of which (0) fails every case it is in.
fn resolvent_spec(dir: &Dir, name: &str, levels: &str) -> String {
    dir.write(
        &format!("{name}.toml"),
        &format!(
            "function = \"{}\"\n[combos]\ne = {{ linspace = [-1.0, 1.0, 5] }}\n\
             level = {levels}\neta = [0.1, 0]\n",
            guest("resolvent")
        ),
    )
    .display()
    .to_string()
}

const LEVELS: &str = r#"["0.5-0.1j", { re = -0.5, im = 0.2 }, 0]"#;

#[test]
fn complex_values_reach_every_format_and_every_reader() {
    let dir = Dir::new();
    let spec = resolvent_spec(&dir, "r", LEVELS);
    for ext in ["zarr", "parquet", "csv", "json"] {
        // Exit 3: the cases with eta = 0 failed, and are kept as such.
        dir.xyz_ok(&["run", &spec, "-o", &format!("r.{ext}"), "-q"], 3);
    }
    xyz_tests::python("check.py", &[&"complex", &dir.path("r")]);
    let shown = stdout(&dir.xyz_ok(&["show", "r.zarr"], 0));
    assert!(
        shown.contains("  * level  (level) c128 0.5-0.1j -0.5+0.2j 0+0j"),
        "{shown}"
    );
    assert!(
        shown.contains("    wave   (e, level, eta, site) c128 "),
        "{shown}"
    );
    // Parquet keeps the layout: it reads back as the Zarr store does.
    let again = stdout(&dir.xyz_ok(&["show", "r.parquet"], 0));
    assert_eq!(
        again.lines().skip(1).take(9).collect::<Vec<_>>(),
        shown.lines().skip(1).take(9).collect::<Vec<_>>()
    );
    // CSV and JSON read back with the parts joined: the same variables, the same values.
    for ext in ["csv", "json"] {
        let table = stdout(&dir.xyz_ok(&["show", &format!("r.{ext}")], 0));
        let has = |line: &str| {
            table.lines().any(|l| {
                l.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .starts_with(line)
            })
        };
        assert!(has("* level (level) c128 0.5-0.1j"), "{ext}: {table}");
        assert!(has("g (e, level, eta) c128"), "{ext}: {table}");
    }
    let csv = std::fs::read_to_string(dir.path("r.csv")).unwrap();
    assert!(
        csv.starts_with("e,level.re,level.im,eta,g.re,g.im,dos,wave[0].re,wave[0].im,"),
        "{csv}"
    );
}

#[test]
fn netcdf_refuses_complex_values_by_name_before_the_run() {
    let dir = Dir::new();
    let spec = resolvent_spec(&dir, "r", LEVELS);
    let err = dir.xyz_err(&["run", &spec, "-o", "r.nc"]);
    assert!(
        err.contains(
            "r.nc: output `g` is complex (c128), which netCDF's classic formats cannot hold"
        ) && err.contains("columns `g.re` and `g.im`"),
        "{err}"
    );
    assert!(!err.contains("cases in"), "the run started: {err}");
    assert!(!dir.path("r.nc").exists());
    // A crop whose output is netCDF is refused when sown, not when reaped.
    let with_output = dir.write(
        "n.toml",
        &format!(
            "output = \"n.nc\"\n{}",
            std::fs::read_to_string(&spec).unwrap()
        ),
    );
    let sown = dir.xyz_err(&["sow", with_output.to_str().unwrap()]);
    assert!(
        sown.contains("n.nc: output `g` is complex (c128)"),
        "{sown}"
    );
    let sown = dir.xyz_err(&["sow", &spec, "--into", "r.nc"]);
    assert!(
        sown.contains("r.nc: output `g` is complex (c128)"),
        "{sown}"
    );
    assert!(!dir.path(".xyz-n").exists() && !dir.path(".xyz-r").exists());
}

/// A complex constant is an attribute of text, `"(0.5-0.1j)"`, as Python writes complex
/// numbers, and a complex value again when xyz reads it back: a merge agrees with it.
#[test]
fn a_complex_constant_is_kept_and_merges() {
    let dir = Dir::new();
    let spec = |name: &str, energies: &str| {
        dir.write(
            &format!("{name}.toml"),
            &format!(
                "function = \"{}\"\n[combos]\ne = {energies}\n[constants]\n\
                 level = \"0.5-0.1j\"\neta = 0.1\n",
                guest("resolvent")
            ),
        )
        .display()
        .to_string()
    };
    dir.xyz_ok(&["run", &spec("a", "[0.0, 1.0]"), "-o", "k.zarr", "-q"], 0);
    let out = stdout(&dir.xyz_ok(
        &[
            "run",
            &spec("b", "[0.0, 1.0, 2.0]"),
            "--into",
            "k.zarr",
            "--json",
        ],
        0,
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["evaluated"].as_u64(), v["skipped"].as_u64()),
        (Some(1), Some(2)),
        "{out}"
    );
    let shown = stdout(&dir.xyz_ok(&["show", "k.zarr"], 0));
    assert!(shown.contains("    level: (0.5-0.1j)\n"), "{shown}");
    // Another level is another constant: the merge is refused, naming both.
    let other = dir.write(
        "c.toml",
        &std::fs::read_to_string(dir.path("b.toml"))
            .unwrap()
            .replace("0.5-0.1j", "0.5+0.1j"),
    );
    let err = dir.xyz_err(&["run", other.to_str().unwrap(), "--into", "k.zarr"]);
    assert!(
        err.contains("(0.5-0.1j)") && err.contains("(0.5+0.1j)"),
        "{err}"
    );
}

#[test]
fn a_crop_and_a_merge_give_what_a_run_gives() {
    let dir = Dir::new();
    let spec = resolvent_spec(&dir, "r", LEVELS);
    dir.xyz_ok(&["run", &spec, "-o", "run.zarr", "-q"], 3);
    dir.xyz_ok(&["sow", &spec, "--batchsize", "4", "-q"], 0);
    dir.xyz_ok(&["grow", "r", "-q"], 3);
    dir.xyz_ok(&["reap", "r", "-o", "crop.zarr", "-q"], 3);
    let strip_provenance = |t: Vec<(std::path::PathBuf, Vec<u8>)>| {
        t.into_iter()
            .filter(|(p, _)| !p.ends_with("zarr.json"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip_provenance(tree(&dir.path("crop.zarr"))),
        strip_provenance(tree(&dir.path("run.zarr")))
    );
    assert_eq!(
        stdout(&dir.xyz_ok(&["show", "crop.zarr"], 0))
            .lines()
            .skip(1)
            .take(10)
            .collect::<Vec<_>>(),
        stdout(&dir.xyz_ok(&["show", "run.zarr"], 0))
            .lines()
            .skip(1)
            .take(10)
            .collect::<Vec<_>>()
    );
    // A new complex level: --into evaluates only its 10 cases, and the merged store holds
    // every value a fresh computation gives.
    let more = resolvent_spec(
        &dir,
        "more",
        r#"["0.5-0.1j", { re = -0.5, im = 0.2 }, 0, "1j"]"#,
    );
    let out = stdout(&dir.xyz_ok(&["run", &more, "--into", "run.zarr", "--json"], 3));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["evaluated"].as_u64(), v["skipped"].as_u64()),
        (Some(10), Some(30)),
        "{out}"
    );
    let shown = stdout(&dir.xyz_ok(&["show", "run.zarr"], 0));
    assert!(
        shown.contains("  * level  (level) c128 0.5-0.1j -0.5+0.2j 0+0j 0+1j"),
        "{shown}"
    );
    xyz_tests::python("check.py", &[&"complex-zarr", &dir.path("run.zarr")]);
}

#[test]
fn rust_and_c_functions_give_complex_values_as_modules_and_as_libraries() {
    let dir = Dir::new();
    let spec = resolvent_spec(&dir, "r", LEVELS);
    dir.xyz_ok(&["run", &spec, "-o", "wasm.csv", "-q"], 3);
    let native = xyz_tests::native_guest("resolvent");
    dir.xyz_ok(
        &[
            "run",
            &spec,
            "--function",
            native.to_str().unwrap(),
            "-o",
            "native.csv",
            "-q",
        ],
        3,
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("wasm.csv")).unwrap(),
        std::fs::read_to_string(dir.path("native.csv")).unwrap()
    );
    // C, through include/xyz.h's xyz_c128: z^n and z, z^2, z^3.
    let (wasm, so) = xyz_tests::c_guest("cpow");
    let mut outs = Vec::new();
    for (kind, function) in [("wasm", &wasm), ("so", &so)] {
        let out = format!("cpow-{kind}.json");
        dir.xyz_ok(
            &[
                "run",
                "--function",
                function.to_str().unwrap(),
                "--combo",
                "z=1+1j,0.5-2j,-3",
                "--combo",
                "n=[-2, 0, 5]",
                "-o",
                &out,
                "-q",
            ],
            0,
        );
        outs.push(std::fs::read_to_string(dir.path(&out)).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
    let records: Vec<serde_json::Value> = serde_json::from_str(&outs[0]).unwrap();
    assert_eq!(records.len(), 9);
    for r in &records {
        let z = xyz_core::Complex64::new(r["z.re"].as_f64().unwrap(), r["z.im"].as_f64().unwrap());
        let n = r["n"].as_i64().unwrap() as i32;
        let w = xyz_core::Complex64::new(r["w.re"].as_f64().unwrap(), r["w.im"].as_f64().unwrap());
        assert!((w - z.powi(n)).norm() <= 1e-12 * z.powi(n).norm(), "{r}");
        let orbit = r["orbit.re"].as_array().unwrap();
        assert_eq!(orbit.len(), 3);
        let third = xyz_core::Complex64::new(
            orbit[2].as_f64().unwrap(),
            r["orbit.im"][2].as_f64().unwrap(),
        );
        assert!(
            (third - z * z * z).norm() <= 1e-12 * (z * z * z).norm().max(1.0),
            "{r}"
        );
    }
}

#[test]
fn plot_draws_a_part_of_a_complex_variable_chosen_by_part() {
    let dir = Dir::new();
    let spec = resolvent_spec(&dir, "r", LEVELS);
    dir.xyz_ok(&["run", &spec, "-o", "r.zarr", "-q"], 3);
    for (part, title) in [
        (None, "|g| at eta=0.1"),
        (Some("real"), "Re g at eta=0.1"),
        (Some("imag"), "Im g at eta=0.1"),
        (Some("arg"), "arg g at eta=0.1"),
    ] {
        let mut args = vec![
            "plot", "r.zarr", "--var", "g", "--x", "e", "--sel", "eta=0.1", "-o", "g.svg",
            "--force",
        ];
        if let Some(p) = part {
            args.extend(["--part", p]);
        }
        dir.xyz_ok(&args, 0);
        let svg = std::fs::read_to_string(dir.path("g.svg")).unwrap();
        assert!(svg.contains(title), "{part:?}: no title {title}");
    }
    // A heatmap over a complex dim: its coordinates label the axis.
    dir.xyz_ok(
        &[
            "plot", "r.zarr", "--var", "g", "--x", "e", "--y", "level", "--sel", "eta=0.1",
            "--part", "imag", "-o", "h.svg",
        ],
        0,
    );
    let svg = std::fs::read_to_string(dir.path("h.svg")).unwrap();
    assert!(svg.contains("(0.5-0.1j)"), "the level axis is not labelled");
    let err = dir.xyz_err(&[
        "plot", "r.zarr", "--var", "dos", "--x", "e", "--sel", "eta=0.1", "--part", "imag", "-o",
        "d.svg",
    ]);
    assert!(
        err.contains("--part: `dos` holds f64 values, not complex ones"),
        "{err}"
    );
}

#[test]
fn samples_choose_among_complex_values() {
    let dir = Dir::new();
    let spec = dir.write(
        "s.toml",
        &format!(
            "function = \"{}\"\n[samples]\nn = 64\nseed = 5\nmethod = \"lhs\"\n\
             e = {{ uniform = [-1.0, 1.0] }}\nlevel = {{ choice = [\"0.5-0.1j\", \"1j\"] }}\n\
             [constants]\neta = 0.1\n",
            guest("resolvent")
        ),
    );
    dir.xyz_ok(&["run", spec.to_str().unwrap(), "-o", "s.csv", "-q"], 0);
    let csv = std::fs::read_to_string(dir.path("s.csv")).unwrap();
    assert!(
        csv.starts_with("sample,e,level.re,level.im,eta,g.re,"),
        "{csv}"
    );
    let levels: std::collections::BTreeSet<(&str, &str)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2], f[3])
        })
        .collect();
    assert_eq!(
        levels.into_iter().collect::<Vec<_>>(),
        [("0.0", "1.0"), ("0.5", "-0.1")]
    );
    // A real distribution does not stand for a complex argument.
    let real = dir.write(
        "r.toml",
        &std::fs::read_to_string(&spec).unwrap().replace(
            r#"{ choice = ["0.5-0.1j", "1j"] }"#,
            "{ uniform = [0.0, 1.0] }",
        ),
    );
    let err = dir.xyz_err(&["run", real.to_str().unwrap(), "-o", "r.csv"]);
    assert!(
        err.contains("`level` in samples: its distribution draws f64 values, but it is c128"),
        "{err}"
    );
}
