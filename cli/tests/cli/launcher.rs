//! `xyz run --launcher`: workers started by other commands (a script, `ssh` to a real `sshd`
//! on loopback, a channel that damages the module, a launcher that kills its worker in the
//! middle of a run), each run's dataset compared bit for bit with local threads. Slurm's
//! `srun` is tested with the one-node cluster in `clusters.rs`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Dir, mandel_spec, stdout, tree};

/// A mandel spec whose cases take long enough for several calls per worker, and its dataset
/// from local threads as `local.zarr`.
fn mandel(dir: &Dir) -> String {
    // Enough work (about 0.3 s on one core) that every slot starts its worker before the
    // others have done it all, however loaded the machine.
    let spec = mandel_spec(dir, 40, 60, 200_000);
    let spec = spec.to_str().unwrap().to_string();
    dir.xyz_ok(&["run", &spec, "-o", "local.zarr", "-j", "2", "-q"], 0);
    spec
}

/// Runs `spec` with `launcher` and `jobs` workers into `out`, checks it equals `local.zarr`,
/// and gives what the run printed.
fn launched(dir: &Dir, spec: &str, launcher: &str, jobs: &str, out: &str) -> String {
    let run = dir.xyz_ok(
        &["run", spec, "-o", out, "-j", jobs, "--launcher", launcher],
        0,
    );
    let text = stdout(&run);
    assert_eq!(
        tree(&dir.path(out)),
        tree(&dir.path("local.zarr")),
        "{text}"
    );
    text
}

#[test]
fn workers_started_by_a_launcher_give_the_local_runs_data() {
    let dir = Dir::new();
    let spec = mandel(&dir);
    // The launcher runs each worker in an empty directory: the module reaches it only over
    // the pipe.
    let empty = dir.path("far");
    std::fs::create_dir(&empty).unwrap();
    dir.write(
        "launch.sh",
        &format!(
            "echo \"$1 $*\" >> {log}\nshift\ncd {far}\nexec \"$@\"\n",
            log = dir.path("launches.log").display(),
            far = empty.display()
        ),
    );
    let script = dir.path("launch.sh");
    let text = launched(
        &dir,
        &spec,
        &format!("bash {} {{i}}", script.display()),
        "3",
        "launched.zarr",
    );
    assert!(text.contains("launched 3 workers in 3 slots"), "{text}");
    assert!(text.contains("0 lost in a call"), "{text}");
    let log = std::fs::read_to_string(dir.path("launches.log")).unwrap();
    let mut slots: Vec<&str> = log.lines().map(|l| &l[..1]).collect();
    slots.sort();
    assert_eq!(slots, ["0", "1", "2"], "{log}");
    // The worker takes its module from the pipe (`-`), checked against the sha256 given.
    assert!(log.contains(" worker - "), "{log}");
    assert!(log.contains(" --sha256 "), "{log}");
    assert!(!log.contains("example_mandel"), "{log}");

    // JSON tells the same per slot.
    let run = dir.xyz_ok(
        &[
            "run",
            &spec,
            "-o",
            "again.zarr",
            "-j",
            "2",
            "--launcher",
            &format!("bash {} {{i}}", script.display()),
            "--json",
        ],
        0,
    );
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let slots = json["launched"].as_array().unwrap();
    assert_eq!(slots.len(), 2, "{json}");
    let calls: u64 = slots.iter().map(|s| s["calls"].as_u64().unwrap()).sum();
    assert!(calls >= 2, "{json}");

    // --into through a launcher sends out only the cells the dataset lacks.
    let grid = |maxiter: &str| {
        format!(
            "function = \"{}\"\n[combos]\ny = {{ linspace = [-1.25, 1.25, 20] }}\n\
             x = {{ linspace = [-2.0, 0.5, 30] }}\nmaxiter = {maxiter}\n",
            crate::util::guest("mandel")
        )
    };
    let small = dir.write("small.toml", &grid("[100]"));
    let both = dir.write("both.toml", &grid("[100, 400]"));
    let (small, both) = (small.to_str().unwrap(), both.to_str().unwrap());
    dir.xyz_ok(&["run", small, "-o", "grown.zarr", "-q"], 0);
    dir.xyz_ok(&["run", both, "-o", "whole.zarr", "-q"], 0);
    let launcher = format!("bash {} {{i}}", script.display());
    let run = dir.xyz_ok(
        &[
            "run",
            both,
            "--into",
            "grown.zarr",
            "-j",
            "2",
            "--launcher",
            &launcher,
        ],
        0,
    );
    let text = stdout(&run);
    assert!(text.contains("mandel: 600 cases"), "{text}");
    assert_eq!(
        xyz_tests::python("stores.py", &[&"values", &dir.path("grown.zarr")]),
        xyz_tests::python("stores.py", &[&"values", &dir.path("whole.zarr")]),
        "{text}"
    );
}

#[test]
fn a_worker_killed_in_the_middle_of_a_run_has_its_call_made_again() {
    let dir = Dir::new();
    let spec = mandel(&dir);
    // The first launch of slot 0 passes on 3000 bytes of its worker's replies, in the middle
    // of a call, and exits, as a dropped connection does (the worker, its parent gone, exits
    // too); the slot's next worker runs normally.
    dir.write(
        "cut.sh",
        &format!(
            "if [ \"$1\" = 0 ] && mkdir {mark} 2>/dev/null; then\n  shift\n  dd bs=1 count=3000 status=none < <(exec \"$@\")\n  exit 1\nfi\nshift\nexec \"$@\"\n",
            mark = dir.path("cut-once").display()
        ),
    );
    let launcher = format!("bash {} {{i}}", dir.path("cut.sh").display());
    let text = launched(&dir, &spec, &launcher, "2", "cut.zarr");
    assert!(dir.path("cut-once").is_dir(), "the cut never happened");
    assert!(text.contains("1 lost in a call"), "{text}");
    assert!(text.contains("slot 0: 1 worker lost"), "{text}");
    assert!(text.contains("ended in the middle of a call"), "{text}");
}

#[test]
fn a_slot_that_cannot_launch_is_given_up_and_the_others_finish() {
    let dir = Dir::new();
    let spec = mandel(&dir);
    dir.write(
        "half.sh",
        "if [ \"$1\" = 1 ]; then echo 'node1: no route to host' >&2; exit 255; fi\nshift\nexec \"$@\"\n",
    );
    let launcher = format!("bash {} {{i}}", dir.path("half.sh").display());
    let text = launched(&dir, &spec, &launcher, "2", "half.zarr");
    // Given up after three failed launches in a row, if the run lasts that long.
    assert!(text.contains("slot 1: 0 workers lost, "), "{text}");
    assert!(text.contains("failed to start"), "{text}");
    assert!(text.contains("no route to host"), "{text}");

    // When no slot can start a worker, the run stops at once, saying why for each.
    let began = Instant::now();
    let err = dir.xyz_err(&[
        "run",
        &spec,
        "-j",
        "2",
        "--launcher",
        "false",
        "-o",
        "no.zarr",
    ]);
    assert!(err.contains("no worker could be started"), "{err}");
    assert!(
        err.contains("slot 0: the worker `false` did not start"),
        "{err}"
    );
    assert!(err.contains("slot 1: "), "{err}");
    assert!(!dir.path("no.zarr").exists());
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "{:?}",
        began.elapsed()
    );

    // Bad launchers are refused before anything starts.
    let err = dir.xyz_err(&["run", &spec, "--launcher", "ssh node{host}", "-j", "2"]);
    assert!(err.contains("unknown placeholder {host}"), "{err}");
    let err = dir.xyz_err(&["run", &spec, "--launcher", "srun"]);
    assert!(err.contains("--launcher needs -j N"), "{err}");
    let err = dir.xyz_err(&["run", &spec, "--launcher", "env", "-j", "1", "--no-isolate"]);
    assert!(err.contains("drop --no-isolate"), "{err}");
}

#[test]
fn a_module_damaged_on_the_way_is_refused_by_the_worker() {
    let dir = Dir::new();
    let spec = mandel(&dir);
    // A channel that flips one bit of the module's bytes on their way to the worker.
    dir.write(
        "flip.py",
        "import subprocess, sys\n\
         p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE)\n\
         head = b''\n\
         while len(head) < 200:\n\
         \x20   b = sys.stdin.buffer.read1(65536)\n\
         \x20   if not b: break\n\
         \x20   head += b\n\
         head = bytearray(head); head[150] ^= 1\n\
         p.stdin.write(head); p.stdin.flush()\n\
         while b := sys.stdin.buffer.read1(65536):\n\
         \x20   p.stdin.write(b); p.stdin.flush()\n\
         p.stdin.close(); sys.exit(p.wait())\n",
    );
    let launcher = format!("python3 {}", dir.path("flip.py").display());
    let err = dir.xyz_err(&[
        "run",
        &spec,
        "-j",
        "1",
        "--launcher",
        &launcher,
        "-o",
        "x.zarr",
    ]);
    assert!(err.contains("changed on the way"), "{err}");
    assert!(!dir.path("x.zarr").exists());
}

/// A real `sshd` on a free loopback port, accepting one throwaway key; stopped when dropped.
struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sshd {
    fn start() -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.is_file(),
            "no /usr/sbin/sshd: install openssh-server (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let key = |name: &str| {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(name))
                .status()
                .unwrap();
            assert!(ok.success());
        };
        key("host_key");
        key("client_key");
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let config = dir.path().join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 MaxStartups 100\nMaxSessions 100\nLogLevel ERROR\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("sshd.log")).unwrap();
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let sshd = Sshd { child, dir, port };
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "sshd did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        sshd
    }

    /// The `ssh` command reaching it, as a launcher.
    fn launcher(&self) -> String {
        format!(
            "ssh -F /dev/null -i {}/client_key -p {} -o StrictHostKeyChecking=no \
             -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR 127.0.0.1",
            self.dir.path().display(),
            self.port
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn workers_over_ssh_give_the_local_runs_data() {
    // SAFETY: geteuid has no preconditions.
    assert!(
        unsafe { libc::geteuid() } == 0,
        "the ssh test starts sshd and needs root"
    );
    let sshd = Sshd::start();
    let dir = Dir::new();
    let spec = mandel(&dir);
    let text = launched(&dir, &spec, &sshd.launcher(), "2", "ssh.zarr");
    assert!(text.contains("launched 2 workers in 2 slots"), "{text}");
    assert!(text.contains("0 lost in a call"), "{text}");

    // A call past its deadline fails its case; killing the ssh client ends the far worker.
    let mark = format!("XYZ_TEST_MARK={}", std::process::id());
    let launcher = format!("{} env {mark}", sshd.launcher());
    let run = dir.xyz_ok(
        &[
            "run",
            "--function",
            &crate::util::guest("faulty"),
            "--combo",
            "mode=ok,loop",
            "--constant",
            "x=1",
            "-o",
            "f.zarr",
            "-j",
            "1",
            "--deadline",
            "1s",
            "--launcher",
            &launcher,
        ],
        3,
    );
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("1 case failed"), "{err}");
    assert!(err.contains("deadline"), "{err}");
    let until = Instant::now() + Duration::from_secs(10);
    while let Some(pid) = crate::util::pids_with("environ", &mark).pop() {
        assert!(
            Instant::now() < until,
            "the far worker {pid} outlived its killed ssh"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn crops_grow_under_mpirun_and_gnu_parallel_as_the_readme_says() {
    let dir = Dir::new();
    let spec = mandel(&dir);
    for (name, start) in [
        (
            "mpi",
            "mpirun --allow-run-as-root --oversubscribe -n 2 xyz grow mpi --worker -q",
        ),
        ("par", "seq 3 | parallel -j 3 -N0 xyz grow par --worker -q"),
    ] {
        let out = dir.sh(&format!(
            "xyz sow {spec} --name {name} --batchsize 200 -q\n{start}\n\
             xyz reap {name} -o {name}.zarr -q"
        ));
        assert!(
            out.status.success(),
            "{start}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            tree(&dir.path(&format!("{name}.zarr"))),
            tree(&dir.path("local.zarr")),
            "{start}"
        );
    }
}

/// A launcher whose workers greet, then die on every call they are given: each slot is given
/// up after three such workers in a row, and the run stops saying why, instead of launching
/// workers for every case.
#[test]
fn a_launcher_whose_workers_die_on_every_call_is_given_up() {
    let dir = Dir::new();
    let spec = mandel_spec(&dir, 40, 60, 100);
    // Passes the function's file on to the worker (which then greets), and kills it as soon
    // as the first call comes.
    dir.write(
        "relay.py",
        r#"import struct, subprocess, sys
with open(sys.argv[1], "a") as log:
    log.write("launch\n")
stdin = sys.stdin.buffer
head = stdin.read(4)
body = stdin.read(struct.unpack("<I", head)[0])
worker = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE)
worker.stdin.write(head + body)
worker.stdin.flush()
stdin.read(4)
worker.kill()
worker.wait()
sys.exit(1)
"#,
    );
    let log = dir.path("launches.log");
    let launcher = format!(
        "python3 {} {}",
        dir.path("relay.py").display(),
        log.display()
    );
    let spec = spec.to_str().unwrap();
    let out = dir.xyz_within(
        &[
            "run",
            spec,
            "-j",
            "2",
            "--launcher",
            &launcher,
            "-o",
            "x.zarr",
        ],
        &[],
        Duration::from_secs(120),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("every launcher slot was given up")
            && err.contains("slot 0: 3 workers in a row were lost before they answered a call")
            && err.contains("slot 1: 3 workers in a row")
            && err.contains("ended in the middle of a call"),
        "{err}"
    );
    let launches = std::fs::read_to_string(&log).unwrap().lines().count();
    assert!(launches <= 30, "{launches} launches");
    assert!(!dir.path("x.zarr").exists());
}
