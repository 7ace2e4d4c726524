//! A scientist's first hour (issue 13): mistakes are caught before any work is done, usage
//! errors are usage errors, and every message matches what happened.

use std::time::{Duration, Instant};

use crate::util::{Dir, guest, stdout, tree};

fn add_args(add: &str) -> Vec<&str> {
    vec![
        "run",
        "--function",
        add,
        "--combo",
        "a=1,2",
        "--combo",
        "b=1",
        "--constant",
        "c=0",
    ]
}

#[test]
fn a_bad_output_path_is_refused_before_anything_runs() {
    let dir = Dir::new();
    // A sweep of a minute or more (400 cells at 10^8 iterations): refusing its output must not
    // wait for it.
    let spec = crate::util::mandel_spec(&dir, 40, 40, 100_000_000);
    let spec = spec.display().to_string();
    std::fs::write(dir.path("file"), "").unwrap();
    for (out, expected) in [
        ("nodir/m.zarr", "the directory nodir does not exist"),
        ("file/m.zarr", "file is not a directory"),
    ] {
        let began = Instant::now();
        let err = dir.xyz_err(&["run", &spec, "-o", out]);
        assert!(err.contains(expected), "{out}: {err}");
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "{out}: the sweep ran first"
        );
        let err = dir.xyz_err(&["run", &spec, "--into", out]);
        assert!(err.contains(expected), "--into {out}: {err}");
    }
    dir.xyz_ok(&["sow", &spec, "-q"], 0);
    let err = dir.xyz_err(&["reap", "m", "-o", "nodir/m.zarr", "--allow-incomplete"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_blame_the_flag() {
    let dir = Dir::new();
    let add = guest("add");
    let usage = |args: &[&str]| {
        let out = dir.xyz_ok(args, 2);
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = usage(&["run"]);
    assert!(err.contains("no function to run"), "{err}");
    let err = usage(&["run", "--function", &add, "--combo", "a"]);
    assert!(err.contains("--combo takes NAME=VALUE"), "{err}");
    let err = usage(&[
        "run",
        "--function",
        &add,
        "--combo",
        "a=[1,2",
        "--combo",
        "b=1",
        "--constant",
        "c=0",
    ]);
    assert!(err.contains("is not a TOML list or table"), "{err}");
    let err = usage(&[
        "run",
        "--function",
        &add,
        "--combo",
        "a=1",
        "--constant",
        "a=2",
        "--combo",
        "b=1",
        "--constant",
        "c=0",
    ]);
    assert!(
        err.contains("`a` is given twice on the command line, by --combo and by --constant"),
        "{err}"
    );
    // A value of the wrong type from the command line names the flag, not the spec.
    dir.write(
        "good.toml",
        &format!("function = \"{add}\"\n[combos]\na = [1.0]\nb = [1.0]\n[constants]\nc = 0\n"),
    );
    let err = usage(&["run", "good.toml", "--combo", "a=x,y"]);
    assert!(
        err.contains("--combo: `a` in combos: expected f64"),
        "{err}"
    );
    assert!(!err.contains("good.toml"), "{err}");
    // Every missing argument at once.
    let err = dir.xyz_err(&["run", "--function", &add, "--combo", "a=1"]);
    assert!(
        err.contains("arguments `b` (f64), `c` (f64) of add have no value"),
        "{err}"
    );
}

#[test]
fn messages_match_what_happened() {
    let dir = Dir::new();
    let add = guest("add");
    let mut one = add_args(&add);
    one[4] = "a=1";
    let out = dir.xyz_ok(&[&one[..], &["-o", "one.zarr", "-j", "1"]].concat(), 0);
    let text = stdout(&out);
    assert!(text.contains(": 1 case in "), "{text}");
    assert!(text.contains(", 1 thread)"), "{text}");
    // After a merge, the summary gives the merged dataset's dims.
    let mut two = add_args(&add);
    two[4] = "a=2";
    let out = dir.xyz_ok(&[&two[..], &["--into", "one.zarr"]].concat(), 0);
    let text = stdout(&out);
    assert!(
        text.contains("merged into one.zarr (zarr): dims a=2, b=1"),
        "{text}"
    );
    // A dataset without attributes shows no empty heading.
    let out = dir.xyz_ok(&[&add_args(&add)[..], &["-o", "t.csv"]].concat(), 0);
    let _ = out;
    std::fs::write(dir.path("bare.csv"), "x,y\n1,2\n2,3\n").unwrap();
    let shown = stdout(&dir.xyz_ok(&["show", "bare.csv"], 0));
    assert!(!shown.contains("Attributes:"), "{shown}");
    // Failed cases are listed on stderr, saying how they are counted; stdout keeps the
    // summary.
    let faulty = guest("faulty");
    let out = dir.xyz_ok(
        &[
            "run",
            "--function",
            &faulty,
            "--combo",
            "x=1,2",
            "--combo",
            "mode=ok,err",
            "-o",
            "f.zarr",
        ],
        3,
    );
    let (text, err) = (stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("failed"), "{text}");
    assert!(
        err.contains("2 cases failed (their cells are missing; cases are counted from 0)"),
        "{err}"
    );
}

#[test]
fn inspect_and_help_name_both_kinds_of_function() {
    let dir = Dir::new();
    let help = stdout(&dir.xyz_ok(&["inspect", "--help"], 0));
    assert!(help.contains("native library"), "{help}");
    let help = stdout(&dir.xyz_ok(&["run", "--help"], 0));
    assert!(help.contains("or a native library (.so)"), "{help}");
}

#[test]
fn progress_shows_a_whole_rate_and_a_time_left_from_the_work_done() {
    let dir = Dir::new();
    let spec = crate::util::mandel_spec(&dir, 60, 60, 2_000_000);
    // A terminal, so that the bar is drawn: `script` gives the command a pseudo-terminal.
    let cmd = format!(
        "{} run {} -o m.zarr -j 1",
        env!("CARGO_BIN_EXE_xyz"),
        spec.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.tmp.path())
        .env("XYZ_CACHE_DIR", crate::util::cache_dir())
        .env("COLUMNS", "120")
        .output()
        .expect("script (util-linux) runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains(" left)"), "{screen}");
    let rates: Vec<&str> = screen
        .split(['(', ','])
        .filter(|p| p.trim_end().ends_with("/s"))
        .collect();
    assert!(!rates.is_empty(), "{screen}");
    for r in rates {
        let number = r.trim().trim_end_matches("/s");
        assert!(
            number == "…" || !number.contains('.') || number.len() <= 3,
            "a rate with decimals: {r}"
        );
    }
}

/// Every option of every command, as `--help` lists it, is in the README's command table row
/// for that command.
#[test]
fn the_readme_lists_every_option_of_every_command() {
    let dir = Dir::new();
    let readme = std::fs::read_to_string(xyz_tests::workspace_root().join("README.md")).unwrap();
    let commands = [
        "run", "sow", "grow", "submit", "status", "reap", "check", "show", "plot", "inspect",
        "new", "build",
    ];
    for cmd in commands {
        let rows: Vec<&str> = readme
            .lines()
            .filter(|l| {
                l.starts_with(&format!("| `xyz {cmd} ")) || l.starts_with(&format!("| `xyz {cmd}`"))
            })
            .collect();
        assert!(!rows.is_empty(), "no README row for xyz {cmd}");
        let help = stdout(&dir.xyz_ok(&[cmd, "--help"], 0));
        // The options a command declares: lines of its help that start with one.
        let mut options: Vec<String> = help
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("--") || (l.starts_with('-') && l.get(2..4) == Some(", ")))
            .filter_map(|l| {
                let at = l.find("--")?;
                let word: String = l[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                Some(word)
            })
            .filter(|w| w != "--help" && w != "--version")
            .collect();
        options.sort();
        options.dedup();
        for option in options {
            assert!(
                rows.iter().any(|r| r.contains(&option)),
                "the README's row for xyz {cmd} does not list {option}"
            );
        }
    }
}

/// The README's lines that start with `prefix`, comments cut.
fn readme_lines(prefix: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(xyz_tests::workspace_root().join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.split("  #").next().unwrap_or(l).trim().to_string())
        .collect()
}

/// The README's harvest and plot examples, run as written, with `xyz` on the PATH.
#[test]
fn the_readmes_harvest_and_plot_examples_run_as_written() {
    let dir = Dir::new();
    let spec = std::fs::read_to_string(
        xyz_tests::workspace_root().join("wasm-examples/mandel/mandel.toml"),
    )
    .unwrap();
    let function = spec.lines().find(|l| l.starts_with("function")).unwrap();
    let spec = spec.replace(function, &format!("function = \"{}\"", guest("mandel")));
    dir.write("mandel.toml", &spec);
    let mut lines = readme_lines("xyz run mandel.toml --combo 'maxiter=");
    lines.push("xyz run mandel.toml -o mandel.zarr".into());
    lines.extend(readme_lines("xyz plot mandel.zarr"));
    lines.extend(readme_lines("xyz plot study.zarr"));
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in &lines {
        let out = dir.sh(line);
        assert!(
            out.status.success(),
            "{line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for image in ["mandel.png", "cut.png"] {
        assert!(dir.path(image).is_file(), "{image}");
    }
}

/// The README's adaptive study of the ring, run as written, with `xyz` on the PATH: the
/// dataset, its grid and the picture.
#[test]
fn the_readmes_adaptive_study_runs_as_written() {
    let dir = Dir::new();
    let spec =
        std::fs::read_to_string(xyz_tests::workspace_root().join("wasm-examples/ring/ring.toml"))
            .unwrap();
    let function = spec.lines().find(|l| l.starts_with("function")).unwrap();
    let spec = spec.replace(function, &format!("function = \"{}\"", guest("ring")));
    dir.write("ring.toml", &spec);
    let mut lines = readme_lines("xyz run ring.toml --grid");
    lines.extend(readme_lines("xyz plot ring.zarr"));
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in &lines {
        let out = dir.sh(line);
        assert!(
            out.status.success(),
            "{line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for made in ["ring.zarr", "ring-grid.zarr", "ring.png"] {
        assert!(dir.path(made).exists(), "{made}");
    }

    // The same study as a crop, in a directory of its own, grown by `xyz grow` where the
    // README submits it to Slurm: the reaped dataset is the run's.
    std::fs::create_dir(dir.path("crop")).unwrap();
    std::fs::write(dir.path("crop/ring.toml"), &spec).unwrap();
    let mut crop = readme_lines("xyz sow ring.toml");
    let submit = readme_lines("xyz submit ring --scheduler slurm");
    assert_eq!(submit.len(), 1, "{submit:?}");
    crop.push("xyz grow ring -q".into());
    crop.extend(readme_lines("xyz status ring --watch"));
    crop.extend(readme_lines("xyz reap ring --wait"));
    assert_eq!(crop.len(), 4, "{crop:?}");
    for line in &crop {
        let out = dir.sh(&format!("cd crop && {line}"));
        assert!(
            out.status.success(),
            "{line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for made in ["ring.zarr", "ring-grid.zarr"] {
        let (crop, run) = (tree(&dir.path("crop").join(made)), tree(&dir.path(made)));
        assert!(crop == run, "the crop's {made} is not the run's");
    }
}

/// Completions for each shell and man pages, generated from the command line itself: they
/// know every command and option `--help` knows (issue 16).
#[test]
fn completions_and_man_pages_come_from_the_command_line() {
    let dir = Dir::new();
    for (shell, marker) in [
        ("bash", "_xyz()"),
        ("zsh", "#compdef xyz"),
        ("fish", "complete -c xyz"),
    ] {
        let text = stdout(&dir.xyz_ok(&["completions", shell], 0));
        assert!(
            text.contains(marker),
            "{shell}: {}",
            &text[..200.min(text.len())]
        );
        for word in ["load-timeout", "compression", "sow", "reap"] {
            assert!(text.contains(word), "{shell} completions lack {word}");
        }
    }
    dir.xyz_ok(&["completions", "tcsh"], 2);
    let page = stdout(&dir.xyz_ok(&["man"], 0));
    assert!(
        page.contains(".TH xyz 1") && page.contains(".SH SUBCOMMANDS"),
        "{page}"
    );
    dir.xyz_ok(&["man", "--out-dir", "man"], 0);
    for page in ["xyz.1", "xyz-run.1", "xyz-sow.1", "xyz-plot.1"] {
        let text = std::fs::read_to_string(dir.path("man").join(page)).unwrap();
        assert!(text.starts_with(".ie") && text.contains(".TH"), "{page}");
    }
    assert!(
        !dir.path("man/xyz-worker.1").exists(),
        "no page for the hidden worker"
    );
}

/// The README's command-line sweep and its crop walk-through, run as written.
#[test]
fn the_readmes_command_line_and_crop_examples_run_as_written() {
    let dir = Dir::new();
    std::fs::copy(guest("add"), dir.path("add.wasm")).unwrap();
    let line = readme_lines("xyz run --function add.wasm");
    assert_eq!(line.len(), 1, "{line:?}");
    let out = dir.sh(&line[0]);
    assert!(out.status.success(), "{out:?}");
    let csv = std::fs::read_to_string(dir.path("add.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 2, "{csv}");

    let spec = std::fs::read_to_string(
        xyz_tests::workspace_root().join("wasm-examples/mandel/mandel.toml"),
    )
    .unwrap();
    let function = spec.lines().find(|l| l.starts_with("function")).unwrap();
    dir.write(
        "mandel.toml",
        &spec.replace(function, &format!("function = \"{}\"", guest("mandel"))),
    );
    let mut crop = readme_lines("xyz sow mandel.toml");
    crop.extend(readme_lines("xyz grow mandel"));
    // `status` and `status --watch`, then the views of a crop (each ends at once: the crop
    // is complete).
    crop.extend(
        readme_lines("xyz status")
            .into_iter()
            .filter(|l| !l.contains(" ring")),
    );
    crop.extend(readme_lines("xyz show mandel"));
    crop.extend(readme_lines("xyz plot mandel "));
    crop.extend(readme_lines("xyz reap mandel -o mandel.zarr"));
    assert_eq!(crop.len(), 9, "{crop:?}");
    for line in &crop {
        let out = dir.sh(line);
        assert!(
            out.status.success(),
            "{line}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path("live.png").is_file());
    assert!(dir.path("mandel.zarr/zarr.json").is_file());
    assert!(!dir.path(".xyz-mandel").exists(), "reaped and removed");
}
