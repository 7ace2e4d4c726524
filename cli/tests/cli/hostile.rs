//! Hostile input: what a broken node, an unlucky user or someone else with write access to a
//! shared directory may leave where xyz reads. Each ends in a clear error or a result that
//! leaves the damage out, in bounded time, never in a hang or an abort.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::{Dir, guest, stdout};

/// Long enough for a debug build on a loaded machine; a hang is forever.
const LIMIT: Duration = Duration::from_secs(60);

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// `xyz COMMAND` of `add` over 40 values of `a` in [0, 1], then `extra`.
fn add_sweep(command: &str, extra: &[&str]) -> Vec<String> {
    let add = guest("add");
    let sweep = [
        command,
        "--function",
        &add,
        "--combo",
        "a={ linspace = [0, 1, 40] }",
        "--constant",
        "b=1",
        "--constant",
        "c=0",
    ];
    sweep.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// `args` as the `&str`s [`Dir::xyz`] takes.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// [`add_sweep`] in 4 batches, sown and grown as crop `c`.
fn grown_crop(dir: &Dir) {
    let sow = add_sweep("sow", &["--name", "c", "--batchsize", "10", "-q"]);
    dir.xyz_ok(&strs(&sow), 0);
    dir.xyz_ok(&["grow", "c", "-q"], 0);
}

#[test]
fn fifos_where_results_are_read_are_refused_never_waited_on() {
    let dir = Dir::new();
    grown_crop(&dir);
    let results = dir.path(".xyz-c/results");
    mkfifo(&results.join("pack-00ff00ff00ff00ff-7.xyzp"));
    mkfifo(&results.join("batch-3_f0_t1_d1.xyzr"));

    let out = dir.xyz_within(&["status", "c"], &[], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = dir.xyz_within(&["check", "c"], &[], LIMIT);
    let said = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert_eq!(
        said.matches("is a FIFO, not a regular file").count(),
        2,
        "{said}"
    );
    let out = dir.xyz_within(&["grow", "c"], &[], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = dir.xyz_within(&["reap", "c", "-o", "c.csv", "--keep"], &[], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let csv = std::fs::read_to_string(dir.path("c.csv")).unwrap();
    assert_eq!(csv.lines().count(), 41, "{csv}");
    // --delete-bad removes them, and the crop checks clean again.
    let out = dir.xyz_within(&["check", "c", "--delete-bad"], &[], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = dir.xyz_within(&["check", "c"], &[], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_fifo_in_a_store_or_as_the_cache_key_is_refused_never_waited_on() {
    let dir = Dir::new();
    let sweep = |out: &[&str]| add_sweep("run", &[&["-q"], out].concat());
    let run = |args: &[String], env: &[(&str, &OsStr)]| dir.xyz_within(&strs(args), env, LIMIT);
    let out = run(&sweep(&["-o", "s.zarr"]), &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let chunk = dir.path("s.zarr/sum/c/0");
    assert!(chunk.is_file());
    std::fs::remove_file(&chunk).unwrap();
    mkfifo(&chunk);
    for args in [
        vec!["show".to_string(), "s.zarr".into()],
        sweep(&["--into", "s.zarr"]),
    ] {
        let out = run(&args, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("sum/c/0") && err.contains("is a FIFO, not a regular file"),
            "{err}"
        );
    }

    // A key that is a FIFO is no key: the run goes on without the module cache.
    let key = dir.path("key");
    mkfifo(&key);
    let out = run(&sweep(&["-o", "-"]), &[("XYZ_CACHE_KEY", key.as_os_str())]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out).lines().count(), 41);
}

#[test]
fn sizes_from_a_spec_are_checked_before_anything_is_allocated() {
    let dir = Dir::new();
    let add = guest("add");
    // Three combos of 2^32 values each: within each combo's bound, their product overflows.
    let huge = [
        "--function",
        &add,
        "--combo",
        "a={ linspace = [0, 1, 4294967296] }",
        "--combo",
        "b={ linspace = [0, 1, 4294967296] }",
        "--combo",
        "c={ range = [0, 4294967296] }",
    ];
    for first in [&["run", "-o", "x.zarr"][..], &["sow", "--name", "big"][..]] {
        let mut args = first.to_vec();
        args.extend(huge);
        let out = dir.xyz_within(&args, &[], LIMIT);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("more than 2^64 cells (a=4294967296 × b=4294967296 × c=4294967296)"),
            "{err}"
        );
    }
    // 10^9 cells are within the cell limit, but not within a 2 GiB data limit (`ulimit -d`)
    // held whole, as CSV to standard output holds them: refused before the run, not an abort
    // in the middle of it. (Files are written a window at a time: see `bigger_than_memory`.)
    let out = dir.sh(&format!(
        "ulimit -d 2097152; exec xyz run --function {add} --combo 'a={{ range = [0, 31623] }}' \
         --combo 'b={{ range = [0, 31623] }}' --constant c=0 -o - --format csv > big.csv"
    ));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("GiB held whole, more than the")
            && err.contains("this process may still take"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(dir.path("big.csv")).unwrap().len(), 0);
}

#[test]
fn a_store_whose_metadata_claims_a_huge_shape_is_refused_from_its_metadata() {
    let dir = Dir::new();
    dir.xyz_ok(&strs(&add_sweep("run", &["-q", "-o", "s.zarr"])), 0);
    let store = dir.path("s.zarr");
    let good = crate::util::tree(&store);
    for array in ["a", "sum"] {
        // The array's own metadata and the group's consolidated copy of it both claim it.
        let claim = |json: &mut serde_json::Value| json["shape"] = serde_json::json!([3e15 as u64]);
        let path = store.join(array).join("zarr.json");
        let mut meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        claim(&mut meta);
        std::fs::write(&path, meta.to_string()).unwrap();
        let group = store.join("zarr.json");
        let mut meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&group).unwrap()).unwrap();
        claim(&mut meta["consolidated_metadata"]["metadata"][array]);
        std::fs::write(&group, meta.to_string()).unwrap();
        let into = add_sweep("run", &["-q", "--into", "s.zarr"]);
        for args in [&["show", "s.zarr"][..], &strs(&into)[..]] {
            let out = dir.xyz_within(args, &[], LIMIT);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            // A merge reads a store a window at a time, holding only its coordinates whole: a
            // variable is refused for a shape its coordinates do not give.
            let why = if args[0] == "run" && array == "sum" {
                "which the coordinates of [\"a\"] do not give"
            } else {
                "more than this process can hold"
            };
            assert!(
                err.contains(&format!("s.zarr/{array}: has shape [3000000000000000]"))
                    && err.contains(why),
                "{err}"
            );
        }
        // What was refused was not touched.
        for (rel, bytes) in &good {
            if !rel.ends_with("zarr.json") {
                assert_eq!(&std::fs::read(store.join(rel)).unwrap(), bytes, "{rel:?}");
            }
        }
        for (rel, bytes) in &good {
            std::fs::write(store.join(rel), bytes).unwrap();
        }
    }
}

#[test]
fn lost_values_read_as_missing_and_cells_given_twice_are_refused() {
    let dir = Dir::new();
    let add = guest("add");
    let sweep = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--function",
            &add,
            "--combo",
            "a={ linspace = [0, 1, 40] }",
            "--combo",
            "b=[1, 2]",
            "--constant",
            "c=0",
            "-q",
        ];
        args.extend(extra);
        dir.xyz_ok(&args, 0);
    };
    let cells = |data: &str| {
        let shown = stdout(&dir.xyz_ok(&["show", data, "--json"], 0));
        serde_json::from_str::<serde_json::Value>(&shown).unwrap()["cells"].clone()
    };
    // A chunk of values deleted: its cells are not evaluated (not values of NaN that were),
    // and --into evaluates them again.
    sweep(&["-o", "s.zarr"]);
    let chunks: Vec<_> = std::fs::read_dir(dir.path("s.zarr/sum/c"))
        .unwrap()
        .flatten()
        .collect();
    assert!(!chunks.is_empty());
    let chunk = crate::util::tree(&dir.path("s.zarr/sum/c"))[0].0.clone();
    std::fs::remove_file(dir.path("s.zarr/sum/c").join(&chunk)).unwrap();
    let lost = cells("s.zarr");
    assert_eq!(
        lost["ok"].as_u64().unwrap() + lost["not_evaluated"].as_u64().unwrap(),
        80
    );
    assert!(lost["not_evaluated"].as_u64().unwrap() > 0, "{lost}");
    sweep(&["--into", "s.zarr"]);
    assert_eq!(cells("s.zarr")["ok"], 80);

    // A Parquet file that gives every cell twice (as a careless concatenation would).
    sweep(&["-o", "p.parquet"]);
    let out = Command::new("python3")
        .args([
            "-c",
            "import pyarrow as pa, pyarrow.parquet as pq; t = pq.read_table('p.parquet'); \
             pq.write_table(pa.concat_tables([t, t]), 'p.parquet')",
        ])
        .current_dir(dir.path(""))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = dir.xyz_err(&["show", "p.parquet"]);
    assert!(
        err.contains("is a second row for the cell a = 0.0, b = 1.0"),
        "{err}"
    );
}

#[test]
fn a_crop_directory_that_links_elsewhere_is_neither_read_nor_written_through() {
    let dir = Dir::new();
    grown_crop(&dir);
    let outside = dir.path("outside");
    std::fs::create_dir(&outside).unwrap();
    let results = dir.path(".xyz-c/results");
    std::fs::rename(&results, dir.path("kept")).unwrap();
    std::os::unix::fs::symlink(&outside, &results).unwrap();
    for args in [
        &["grow", "c"][..],
        &["status", "c"],
        &["reap", "c", "-o", "c.csv"],
    ] {
        let err = dir.xyz_err(args);
        assert!(
            err.contains(".xyz-c/results: is a symbolic link to")
                && err.contains("not a directory of the crop's own"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    // Without the link, the crop makes its own directory and grows again.
    std::fs::remove_file(&results).unwrap();
    dir.xyz_ok(&["grow", "c", "-q"], 0);
    assert!(results.is_dir() && std::fs::read_dir(&results).unwrap().count() > 0);
}

/// Every command that writes to stdout ends quietly when its reader is gone before it writes
/// (`xyz completions bash | head -1`, with the reader gone first): no panic, exit 0.
#[test]
fn a_reader_gone_from_the_pipe_ends_every_command_quietly() {
    let dir = Dir::new();
    grown_crop(&dir);
    let add = guest("add");
    let run = add_sweep("run", &["-o", "-"]);
    dir.xyz_ok(&strs(&add_sweep("run", &["-q", "-o", "s.zarr"])), 0);
    let commands: Vec<Vec<&str>> = vec![
        vec!["completions", "bash"],
        vec!["completions", "zsh"],
        vec!["completions", "fish"],
        vec!["man"],
        vec!["--help"],
        vec!["run", "--help"],
        strs(&run),
        vec!["show", "s.zarr"],
        vec!["show", "s.zarr", "--json"],
        vec!["status", "c"],
        vec!["status", "c", "--json"],
        vec!["inspect", &add],
    ];
    for args in commands {
        let out = dir.xyz_reader_gone(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// Results are sealed with the grower's key (issue: forged results were reaped): a pack moved
/// from another crop and relabelled, and results another account grew, are refused and
/// reported by status, check and reap; that account's exported key makes its results count.
#[test]
fn only_results_sealed_by_a_trusted_key_are_reaped() {
    let dir = Dir::new();
    let add = guest("add");
    let sow = |name: &str, a: &str| {
        dir.xyz_ok(
            &[
                "sow",
                "--function",
                &add,
                "--combo",
                a,
                "--constant",
                "b=1",
                "--constant",
                "c=0",
                "--name",
                name,
                "--batchsize",
                "10",
                "-q",
            ],
            0,
        );
    };
    let pack_of = |name: &str| {
        let results = dir.path(&format!(".xyz-{name}/results"));
        let mut packs: Vec<_> = std::fs::read_dir(&results)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        packs.sort();
        packs.pop().unwrap()
    };
    sow("c", "a={ linspace = [0, 1, 40] }");
    sow("other", "a={ linspace = [100, 101, 40] }");
    dir.xyz_ok(&["grow", "other", "-q"], 0);
    dir.xyz_ok(&["grow", "c", "-q", "--batches", "1"], 0);
    // The other crop's pack, relabelled as this crop's: its manifest hash replaced.
    let mine = std::fs::read(pack_of("c")).unwrap();
    let mut forged = std::fs::read(pack_of("other")).unwrap();
    forged[8..40].copy_from_slice(&mine[8..40]);
    std::fs::write(
        dir.path(".xyz-c/results/pack-00ff00ff00ff00ff-9.xyzp"),
        &forged,
    )
    .unwrap();
    let status = stdout(&dir.xyz_ok(&["status", "c"], 0));
    assert!(
        status.contains("1/4") && status.contains("untrusted 1 result files"),
        "{status}"
    );
    let out = dir.xyz_within(&["check", "c"], &[], LIMIT);
    assert!(
        stdout(&out).contains("was not sealed by a key this process trusts"),
        "{out:?}"
    );
    dir.xyz_ok(&["grow", "c", "-q"], 0);
    let out = dir.xyz_ok(&["reap", "c", "-o", "c.csv", "--keep"], 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was not sealed by a key this process trusts"),
        "{err}"
    );
    let csv = std::fs::read_to_string(dir.path("c.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("0.0,"), "{csv}");
    assert!(!csv.contains("\n100"), "the other crop's values: {csv}");

    // Another account's growers: their results count once its key is trusted.
    let alice = [("XYZ_CACHE_KEY", dir.path("alice-secret").into_os_string())];
    let alice: Vec<(&str, &std::ffi::OsStr)> =
        alice.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    sow("shared", "a={ linspace = [0, 1, 40] }");
    dir.xyz_env(&["grow", "shared", "-q"], &alice, 0);
    dir.xyz_env(&["key", "--export", "alice.key"], &alice, 0);
    let err = dir.xyz_err(&["reap", "shared", "-o", "s.csv"]);
    assert!(err.contains("the crop is incomplete: 4 of 4"), "{err}");
    assert!(!dir.path("s.csv").exists());
    dir.xyz_ok(
        &["reap", "shared", "-o", "s.csv", "--trust-key", "alice.key"],
        0,
    );
    assert_eq!(std::fs::read_to_string(dir.path("s.csv")).unwrap(), csv);
    let err = dir.xyz_err(&["reap", "c", "--trust-key", "c.csv"]);
    assert!(
        err.contains("--trust-key") && err.contains("not a result key"),
        "{err}"
    );
}
