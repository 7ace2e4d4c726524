//! Free attributes (issue 17): a spec's `[attrs]` become the dataset's attributes, through
//! `run`, crops and `--into`, in every format.

use crate::util::{Dir, guest};

fn shown_attrs(dir: &Dir, data: &str) -> serde_json::Value {
    let out = dir.xyz_ok(&["show", data, "--json"], 0);
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["attrs"].clone()
}

fn spec(dir: &Dir, file: &str, a: &str, attrs: &str) -> String {
    dir.write(
        file,
        &format!(
            "function = \"{}\"\n[combos]\na = {a}\nb = [1.0]\n[constants]\nc = 0\n[attrs]\n{attrs}",
            guest("add")
        ),
    )
    .display()
    .to_string()
}

#[test]
fn free_attributes_reach_every_format_and_survive_merges_and_crops() {
    let dir = Dir::new();
    let first = spec(
        &dir,
        "one.toml",
        "[1.0, 2.0]",
        "study = \"sums\"\nversion = 1\n",
    );
    for ext in ["zarr", "nc", "parquet", "csv", "json"] {
        let out = format!("d.{ext}");
        dir.xyz_ok(&["run", &first, "-o", &out, "-q"], 0);
        let attrs = shown_attrs(&dir, &out);
        assert_eq!(attrs["study"], "sums", "{ext}: {attrs}");
        assert_eq!(attrs["version"], 1, "{ext}: {attrs}");
    }
    // A merge with other free attributes: the old ones stay, the new ones join (and win where
    // both give one); a constant that differs would still be refused.
    let second = spec(&dir, "two.toml", "[3.0]", "version = 2\nauthor = \"me\"\n");
    dir.xyz_ok(&["run", &second, "--into", "d.zarr", "-q"], 0);
    let attrs = shown_attrs(&dir, "d.zarr");
    assert_eq!(
        (&attrs["study"], &attrs["version"], &attrs["author"]),
        (&"sums".into(), &2.into(), &"me".into()),
        "{attrs}"
    );
    let quiet = xyz_tests::python("stores.py", &[&"quiet", &dir.path("d.zarr")]);
    assert!(
        quiet.contains("study") && quiet.contains("author"),
        "{quiet}"
    );
    // Through a crop: sown with the spec, reaped with its attributes.
    dir.xyz_ok(&["sow", &first, "--name", "crop", "-q"], 0);
    dir.xyz_ok(&["grow", "crop", "-q"], 0);
    dir.xyz_ok(&["reap", "crop", "-o", "crop.zarr", "-q"], 0);
    assert_eq!(shown_attrs(&dir, "crop.zarr")["study"], "sums");
    // Names that are not free.
    let bad = spec(&dir, "bad.toml", "[1.0]", "c = 1\n");
    let err = dir.xyz_err(&["run", &bad]);
    assert!(
        err.contains("`attrs.c`") && err.contains("a constant already"),
        "{err}"
    );
    let bad = spec(&dir, "bad2.toml", "[1.0]", "xyz_version = \"9\"\n");
    let err = dir.xyz_err(&["run", &bad]);
    assert!(err.contains("`attrs.xyz_version`"), "{err}");
}
