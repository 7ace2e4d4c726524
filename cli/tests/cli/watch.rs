//! Watching a crop fill in: `status --watch` redrawn in place in a real terminal (tmux) and a
//! line per interval into a pipe, `show` and `plot` of a crop still growing (its cells not
//! grown yet not evaluated), `plot --term` in the terminal and `plot --watch` drawn again as
//! batches land; none of them writes to the crop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Dir, cache_dir, guest, mandel_spec, stdout, tree};

/// A mandel crop of 4 batches of 60 cases (4 rows of y by 60 of x).
fn sow(dir: &Dir) {
    let spec = mandel_spec(dir, 4, 60, 60);
    dir.xyz_ok(
        &["sow", spec.to_str().unwrap(), "--batchsize", "60", "-q"],
        0,
    );
}

fn grow(dir: &Dir, batches: &str) {
    dir.xyz_ok(&["grow", "m", "--batches", batches, "-q"], 0);
}

/// `show --json` of `what`: the cells' counts by state.
fn cells(dir: &Dir, what: &str) -> serde_json::Value {
    let out = dir.xyz_ok(&["show", what, "--json"], 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["cells"].clone()
}

/// A tmux server of its own (its socket in the test's directory), one window of `cols` x
/// `rows`, killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Starts `script` (run by sh in `dir`, `xyz` of this build first on the PATH) in a new
    /// window; it is followed by `EXIT <code>` and kept on screen.
    fn start(dir: &Dir, script: &str, cols: u16, rows: u16) -> Tmux {
        let socket = dir.path("tmux.sock");
        let bin = Path::new(env!("CARGO_BIN_EXE_xyz")).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let wrapped = format!("{script}; echo EXIT $?; sleep 600");
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .args(["sh", "-c", &wrapped])
            .current_dir(dir.tmp.path())
            .env("PATH", path)
            .env("TERM", "xterm-256color")
            .env("XYZ_CACHE_DIR", cache_dir())
            .stdin(Stdio::null())
            .status()
            .expect("tmux runs (apt-get install tmux)");
        assert!(status.success(), "tmux new-session");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The screen's text; with `escapes`, with its colours as escape sequences.
    fn screen(&self, escapes: bool) -> String {
        if escapes {
            self.tmux(&["capture-pane", "-p", "-e"])
        } else {
            self.tmux(&["capture-pane", "-p"])
        }
    }

    /// Lines that scrolled off the top of the window.
    fn history(&self) -> u64 {
        self.tmux(&["display-message", "-p", "#{history_size}"])
            .trim()
            .parse()
            .expect("a number")
    }

    /// Waits (at most a minute) until the screen shows `text`, and gives the screen.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(false);
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the screen never showed {text:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

#[test]
fn status_watch_redraws_in_place_in_a_terminal_and_ends_when_complete() {
    let dir = Dir::new();
    sow(&dir);
    let tmux = Tmux::start(&dir, "xyz status m --watch --interval 0.2s", 100, 30);
    let screen = tmux.wait_for("0/4 (0.0%)");
    assert!(screen.contains("watching every 0.2s"), "{screen}");
    grow(&dir, "1");
    let screen = tmux.wait_for("1/4 (25.0%)");
    assert!(
        screen.contains("cases     60/240 grown, 0 failed"),
        "{screen}"
    );
    assert!(screen.contains("grown by"), "{screen}");
    grow(&dir, "2-4");
    let screen = tmux.wait_for("EXIT 0");
    assert!(screen.contains("4/4 (100.0%)"), "{screen}");
    assert!(screen.contains("complete; watched for"), "{screen}");
    // Redrawn in place: one status on the screen, nothing scrolled off.
    assert_eq!(screen.matches("  function  ").count(), 1, "{screen}");
    assert_eq!(tmux.history(), 0, "{screen}");
}

#[test]
fn status_watch_into_a_pipe_prints_a_line_per_interval_and_the_new_failures() {
    let dir = Dir::new();
    let spec = dir.write(
        "f.toml",
        &format!(
            "function = \"{}\"\n[combos]\nmode = [\"ok\", \"err\"]\nx = [1.0, 2.0, 3.0]\n",
            guest("faulty")
        ),
    );
    dir.xyz_ok(
        &[
            "sow",
            spec.to_str().unwrap(),
            "--batchsize",
            "3",
            "-q",
            "--name",
            "m",
        ],
        0,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args(["status", "m", "--watch", "--interval", "0.1s"])
        .current_dir(dir.tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    grow(&dir, "1");
    std::thread::sleep(Duration::from_millis(400));
    // Exit code 3: cases failed.
    dir.xyz_ok(&["grow", "m", "--batches", "2", "-q"], 3);
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "watch never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(" batches, ")).collect();
    assert!(lines.len() >= 4, "{text}");
    assert!(
        lines[0].ends_with("m: 0/2 batches, 0/6 cases, 0 failed"),
        "{text}"
    );
    assert!(
        text.contains("m: 1/2 batches, 3/6 cases, 0 failed"),
        "{text}"
    );
    assert!(
        lines
            .last()
            .unwrap()
            .contains("m: 2/2 batches, 6/6 cases, 3 failed"),
        "{text}"
    );
    assert!(lines.last().unwrap().ends_with(", complete"), "{text}");
    // Each failure once, in case order, with its arguments and message, though later
    // statuses hold it again.
    let first = text.find("x=1.0: refused").unwrap();
    assert!(first < text.find("x=3.0: refused").unwrap(), "{text}");
    for x in ["1", "2", "3"] {
        let said = format!("failed at mode=\"err\", x={x}.0: refused x = {x}\n");
        assert_eq!(text.matches(&said).count(), 1, "{said}\n{text}");
    }
    // No escape sequence goes into a pipe.
    assert!(!text.contains('\x1b'), "{text:?}");
}

#[test]
fn status_shows_the_latest_failures_and_the_recent_rate() {
    let dir = Dir::new();
    let spec = dir.write(
        "f.toml",
        &format!(
            "function = \"{}\"\n[combos]\nmode = [\"err\", \"ok\"]\nx = [1.0, 2.0, 3.0, 4.0]\n",
            guest("faulty")
        ),
    );
    dir.xyz_ok(
        &[
            "sow",
            spec.to_str().unwrap(),
            "--batchsize",
            "4",
            "-q",
            "--name",
            "m",
        ],
        0,
    );
    dir.xyz_ok(&["grow", "m", "--batches", "1", "-q"], 3);
    let text = stdout(&dir.xyz_ok(&["status", "m"], 0));
    assert!(
        text.contains("  failures  mode=\"err\", x=4.0: refused x = 4\n"),
        "{text}"
    );
    assert_eq!(text.matches("refused").count(), 3, "three at most: {text}");
    let v: serde_json::Value =
        serde_json::from_slice(&dir.xyz_ok(&["status", "m", "--json"], 0).stdout).unwrap();
    assert_eq!(v["recent_failures"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["recent_failures"][0]["case"], 3, "{v}");
    assert_eq!(v["recent_failures"][0]["args"]["x"], 4.0, "{v}");
    assert!(v["recent_cases_per_second"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn show_and_plot_read_a_growing_crop_without_writing_to_it() {
    let dir = Dir::new();
    sow(&dir);
    // Nothing grown: every cell not evaluated.
    let c = cells(&dir, "m");
    assert_eq!(c["not_evaluated"], 240, "{c}");
    grow(&dir, "1,3");
    let before = tree(&dir.path(".xyz-m"));
    let c = cells(&dir, "m");
    assert_eq!(
        (c["ok"].clone(), c["not_evaluated"].clone()),
        (120.into(), 120.into())
    );
    let text = stdout(&dir.xyz_ok(&["show", "m"], 0));
    assert!(
        text.starts_with("<xyz dataset> crop m: 2/4 batches grown so far\n"),
        "{text}"
    );
    assert!(text.contains("Cells: 120 ok, 120 not evaluated"), "{text}");
    dir.xyz_ok(&["plot", "m", "--x", "x", "--y", "y", "-o", "p.png"], 0);
    let (_, _, pixels) = crate::plot::decode_png(&dir.path("p.png"));
    let grey = pixels.iter().filter(|p| **p == [215, 215, 215]).count();
    assert!(grey > 1000, "the cells not grown are grey: {grey}");
    // The crop by its directory's path, and in --parent-dir.
    assert_eq!(cells(&dir, ".xyz-m")["ok"], 120);
    let out = dir.xyz_ok(
        &[
            "show",
            "m",
            "--parent-dir",
            dir.tmp.path().to_str().unwrap(),
            "--json",
        ],
        0,
    );
    assert!(stdout(&out).contains("\"grown\": 2"), "{}", stdout(&out));
    assert_eq!(
        tree(&dir.path(".xyz-m")),
        before,
        "reading wrote to the crop"
    );
    // Once grown, the crop's dataset is the reaped one.
    grow(&dir, "2,4");
    dir.xyz_ok(&["plot", "m", "--x", "x", "--y", "y", "-o", "q.png"], 0);
    let (_, _, pixels) = crate::plot::decode_png(&dir.path("q.png"));
    let grey = pixels.iter().filter(|p| **p == [215, 215, 215]).count();
    assert!(grey < 50, "all grown: {grey} grey pixels");
    dir.xyz_ok(&["reap", "m", "-o", "r.json", "-q"], 0);
    assert_eq!(cells(&dir, "r.json")["ok"], 240);
}

#[test]
fn a_growing_crop_reads_the_same_as_its_reap_at_every_step() {
    let dir = Dir::new();
    sow(&dir);
    grow(&dir, "2");
    // Its partial dataset, written out by reap with --allow-incomplete --keep, and as show
    // reads the crop.
    dir.xyz_ok(
        &[
            "reap",
            "m",
            "--allow-incomplete",
            "--keep",
            "-o",
            "part.zarr",
            "-q",
        ],
        3,
    );
    let read = |what: &str| {
        let out = dir.xyz_ok(&["show", what, "--json"], 0);
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for k in ["path", "grown_batches"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(read("m"), read("part.zarr"));
}

#[test]
fn plot_term_draws_in_colour_in_a_terminal_and_watch_follows_the_crop() {
    let dir = Dir::new();
    sow(&dir);
    grow(&dir, "1");
    let tmux = Tmux::start(
        &dir,
        "xyz plot m --x x --y y --term --watch --interval 0.2s",
        100,
        30,
    );
    let screen = tmux.wait_for("1/4 batches grown; drawn again");
    // The window's height, less the line the shell's prompt would take: title, rows, the x
    // axis (its ends and its name), the colour bar and the crop's line.
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains('▀')).collect();
    assert_eq!(rows.len(), 29 - 5, "{screen}");
    // The heatmap's rows with their colours (the colour bar's grey square aside).
    let heatmap = |screen: String| -> String {
        screen
            .lines()
            .filter(|l| l.contains('▀'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let colours = heatmap(tmux.screen(true));
    assert!(colours.contains("38;2;"), "24-bit colours: {colours:?}");
    assert!(
        colours.contains("215;215;215"),
        "cells not grown are grey: {colours:?}"
    );
    assert!(screen.contains("missing"), "{screen}");
    grow(&dir, "2-4");
    let screen = tmux.wait_for("EXIT 0");
    assert!(screen.contains("4/4 batches grown"), "{screen}");
    // Drawn again in place: the plot fills the window, so only the line `EXIT 0` pushed
    // one line off its top.
    assert_eq!(screen.matches("batches grown").count(), 1, "{screen}");
    assert_eq!(tmux.history(), 1, "{screen}");
    let colours = heatmap(tmux.screen(true));
    assert!(!colours.contains("215;215;215"), "nothing grey is left");
}

#[test]
fn plot_watch_writes_the_image_again_as_batches_land() {
    let dir = Dir::new();
    sow(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_xyz"))
        .args([
            "plot",
            "m",
            "--x",
            "x",
            "--y",
            "y",
            "-o",
            "live.png",
            "--watch",
            "--interval",
            "0.1s",
        ])
        .current_dir(dir.tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Nothing to draw yet: it waits for the first batches.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!dir.path("live.png").exists());
    grow(&dir, "1");
    let start = Instant::now();
    while !dir.path("live.png").exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "never drawn");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, _, pixels) = crate::plot::decode_png(&dir.path("live.png"));
    assert!(pixels.contains(&[215, 215, 215]), "three batches to go");
    grow(&dir, "2-4");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "watch never ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("waiting for the first batches"), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("wrote live.png (4/4 batches grown)"),
        "{err}"
    );
    let (_, _, pixels) = crate::plot::decode_png(&dir.path("live.png"));
    let grey = pixels.iter().filter(|p| **p == [215, 215, 215]).count();
    assert!(grey < 50, "all grown: {grey} grey pixels");
}

#[test]
fn watching_what_cannot_be_watched_is_refused() {
    let dir = Dir::new();
    sow(&dir);
    grow(&dir, "1-4");
    dir.xyz_ok(&["reap", "m", "--keep", "-o", "m.zarr", "-q"], 0);
    let err = dir.xyz_err(&[
        "plot", "m.zarr", "--x", "x", "--y", "y", "--term", "--watch",
    ]);
    assert!(
        err.contains("m.zarr is a dataset file, which does not grow"),
        "{err}"
    );
    let err = dir.xyz_err(&["status", "m", "--watch", "--json"]);
    assert!(err.contains("give one or the other"), "{err}");
    let err = dir.xyz_err(&["status", "m", "--watch", "--interval", "10ms"]);
    assert!(err.contains("--interval 10ms: at least 100ms"), "{err}");
    let err = dir.xyz_err(&["status", "m", "--watch", "--interval", "soon"]);
    assert!(err.contains("--interval"), "{err}");
    let out = dir.xyz_ok(&["status", "m", "--interval", "1s"], 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--watch"),
        "{out:?}"
    );
    let err = dir.xyz_err(&["show", "nothing"]);
    assert!(
        err.contains("nothing: no dataset of that name, and no crop either")
            && err.contains("crops here: m"),
        "{err}"
    );
    let err = dir.xyz_err(&["show", "nothing.zarr"]);
    assert!(err.contains("nothing.zarr: does not exist"), "{err}");
    let out = dir.xyz_ok(&["plot", "m", "--x", "x"], 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--output"),
        "-o or --term is needed: {out:?}"
    );
    // A complete crop is drawn once, and the watch ends.
    let out = dir.xyz_ok(
        &["plot", "m", "--x", "x", "--y", "y", "--term", "--watch"],
        0,
    );
    assert!(stdout(&out).contains("4/4 batches grown"), "{out:?}");
}

#[test]
fn plot_term_draws_lines_too() {
    let dir = Dir::new();
    sow(&dir);
    grow(&dir, "1-4");
    // Into a pipe: the terminal's size is not known, so 80 x 24.
    let out = dir.xyz_ok(&["plot", "m", "--x", "x", "--sel", "y=0.4", "--term"], 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 24 - 1, "{text}");
    assert!(lines[0].contains("n at y=0.4167"), "{text}");
    let drawn = lines.iter().filter(|l| l.contains('▀') || l.contains('▄'));
    assert!(drawn.count() > 5, "a line through the rows: {text}");
    assert!(
        text.contains("\x1b[38;2;0;114;178m"),
        "the first series' colour: {text:?}"
    );
    assert!(
        lines.last().unwrap().contains("4/4 batches grown"),
        "{text}"
    );
}
