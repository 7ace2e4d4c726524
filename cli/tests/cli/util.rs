//! Running the `xyz` binary in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary working directory for one test.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::write(&p, text).expect("write a test file");
        p
    }

    /// `xyz ARGS`, run in this directory, sharing one module cache across tests.
    pub fn xyz(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_xyz"))
            .args(args)
            .current_dir(self.tmp.path())
            .env("XYZ_CACHE_DIR", cache_dir())
            .output()
            .expect("xyz runs")
    }

    /// `xyz ARGS` with environment variables `env` set, asserting exit code `code`.
    pub fn xyz_env(&self, args: &[&str], env: &[(&str, &std::ffi::OsStr)], code: i32) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_xyz"))
            .args(args)
            .envs(env.iter().copied())
            .current_dir(self.tmp.path())
            .env("XYZ_CACHE_DIR", cache_dir())
            .output()
            .expect("xyz runs");
        expect_code(args, out, code)
    }

    /// Like [`Dir::xyz`], and asserts the exit code.
    pub fn xyz_ok(&self, args: &[&str], code: i32) -> Output {
        expect_code(args, self.xyz(args), code)
    }

    /// Runs `script` with `sh -e` in this directory, as a user would type it: `xyz` on the
    /// PATH (this build's), sharing the tests' module cache.
    pub fn sh(&self, script: &str) -> Output {
        let bin = Path::new(env!("CARGO_BIN_EXE_xyz"))
            .parent()
            .expect("the binary's directory");
        self.sh_with(script, bin)
    }

    /// Runs `script` as [`Dir::sh`] does, with the `xyz` in `bin` first on the PATH.
    pub fn sh_with(&self, script: &str, bin: &Path) -> Output {
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("sh")
            .args(["-ec", script])
            .current_dir(self.tmp.path())
            .env("PATH", path)
            .env("XYZ_CACHE_DIR", cache_dir())
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("sh runs")
    }

    /// `xyz ARGS` with environment `env`, given at most `limit` to end: a run that does not
    /// end by then is killed and the test fails, naming the command (a hang must fail a test,
    /// not stall the suite).
    pub fn xyz_within(
        &self,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
        limit: std::time::Duration,
    ) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xyz"))
            .args(args)
            .envs(env.iter().copied())
            .current_dir(self.tmp.path())
            .env("XYZ_CACHE_DIR", cache_dir())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("xyz runs");
        let start = std::time::Instant::now();
        while child.try_wait().expect("xyz can be waited for").is_none() {
            if start.elapsed() > limit {
                let _ = child.kill();
                let out = child.wait_with_output().expect("xyz ends once killed");
                panic!(
                    "xyz {args:?} did not end within {limit:?}\n--- stderr\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().expect("xyz's output")
    }

    /// `xyz ARGS` with the reader of its stdout gone before anything is written (as
    /// `xyz ... | head -1` leaves it once `head` is done).
    pub fn xyz_reader_gone<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xyz"))
            .args(args)
            .current_dir(self.tmp.path())
            .env("XYZ_CACHE_DIR", cache_dir())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("xyz runs");
        drop(child.stdout.take());
        child.wait_with_output().expect("xyz's output")
    }

    /// Runs xyz expecting failure (exit 1) and returns its stderr.
    pub fn xyz_err(&self, args: &[&str]) -> String {
        let out = self.xyz_ok(args, 1);
        String::from_utf8(out.stderr).expect("utf-8")
    }
}

/// Asserts that `xyz ARGS` gave `out` with exit code `code`, showing its output if not.
fn expect_code(args: &[&str], out: Output, code: i32) -> Output {
    assert_eq!(
        out.status.code(),
        Some(code),
        "xyz {args:?} exited with {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes `m.toml`: `mandel` over `ny` values of y in [-1.25, 1.25] by `nx` of x in
/// [-2, 0.5], with `maxiter` as a constant.
pub fn mandel_spec(dir: &Dir, ny: u64, nx: u64, maxiter: u64) -> PathBuf {
    dir.write(
        "m.toml",
        &format!(
            r#"
            function = "{}"
            [combos]
            y = {{ linspace = [-1.25, 1.25, {ny}] }}
            x = {{ linspace = [-2.0, 0.5, {nx}] }}
            [constants]
            maxiter = {maxiter}
            "#,
            guest("mandel")
        ),
    )
}

/// Writes `classify.toml`: `classify` over cases that do not cover the grid, out of grid
/// order, one with a label that needs quoting in CSV.
pub fn classify_spec(dir: &Dir) -> PathBuf {
    dir.write(
        "classify.toml",
        &format!(
            r#"
            function = "{}"
            [combos]
            flag = [true, false]
            [[cases]]
            x = 1.5
            label = "a"
            [[cases]]
            x = -2
            label = "é,\"q\""
            [[cases]]
            x = 0.0
            label = "z"
            "#,
            guest("classify")
        ),
    )
}

/// This machine's name as result files carry it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("the host name")
        .trim()
        .replace(['/', '_', '.'], "-")
}

pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache")
}

/// The example guest `name`, as a string for the command line.
pub fn guest(name: &str) -> String {
    xyz_tests::guest(name).display().to_string()
}

/// Converts fixture `name` (.wat) to a .wasm file in `dir`.
pub fn wat_fixture(dir: &Dir, name: &str) -> String {
    let wasm = wat::parse_file(xyz_tests::fixture(name)).expect("fixture parses");
    let path = dir.path(&name.replace(".wat", ".wasm"));
    std::fs::write(&path, wasm).expect("write fixture");
    path.display().to_string()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file under `dir`, relative path and contents, sorted; a file alone, with an empty path.
pub fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("readable") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under root").to_path_buf();
                out.push((rel, std::fs::read(&p).expect("readable")));
            }
        }
    }
    if dir.is_file() {
        return vec![(PathBuf::new(), std::fs::read(dir).expect("readable"))];
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The pids of running processes whose `/proc/PID/FILE` (`cmdline` or `environ`, entries
/// separated by NUL) holds `entry` as one of its entries.
pub fn pids_with(file: &str, entry: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join(file))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == entry.as_bytes()))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}
