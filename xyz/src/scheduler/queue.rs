//! What a scheduler's queue holds of this user's jobs: each queued job's tasks, counted by
//! state, for `xyz status`.

use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a scheduler is given to answer.
const PATIENCE: Duration = Duration::from_secs(5);

/// A queued job's tasks by state (`running`, `pending`, …).
pub type Tasks = BTreeMap<String, u64>;

/// The queued jobs of this user, by job id.
pub type Queue = HashMap<String, Tasks>;

/// The standard output of `cmd`, if it succeeds within [`PATIENCE`].
pub(super) fn text_of(mut cmd: Command) -> Option<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    // Read as it comes, so a long answer cannot fill the pipe and stall the command.
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        stdout.read_to_end(&mut text).map(|_| text)
    });
    let began = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if began.elapsed() < PATIENCE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let stdout = reader.join().ok()?.ok()?;
    status
        .success()
        .then(|| String::from_utf8_lossy(&stdout).into_owned())
}

/// Tasks in words, most first: `4 running, 6 pending`.
pub fn words(tasks: &Tasks) -> String {
    let mut by: Vec<(&String, &u64)> = tasks.iter().collect();
    by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    by.iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_read_most_first() {
        let tasks: Tasks = [("running".to_string(), 1), ("pending".to_string(), 2)]
            .into_iter()
            .collect();
        assert_eq!(words(&tasks), "2 pending, 1 running");
    }
}
