//! `--launcher`: `xyz run`'s workers started by any command that runs a program elsewhere
//! with its stdin and stdout joined to ours: `srun`, `ssh`, a container runtime.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;

/// The placeholders a launcher's words may hold.
const PLACEHOLDERS: &str = "{i} (the worker's index, 0 to N-1), {n} (N) and {xyz} (xyz's path)";

/// Options for starting `xyz run`'s workers under a launcher.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Workers elsewhere")]
pub(crate) struct LauncherArgs {
    /// Start each of the -j N workers as `CMD... XYZ worker ...`, such as `ssh node{i}`,
    /// `docker run -i IMAGE` or an srun step (the README has the line). {i} is the worker's
    /// index (0 to N-1), {n} is N, {xyz} is xyz's path on the far side (put before the
    /// worker's arguments when CMD does not place it). The function's file is sent over the
    /// pipe; the far side needs only the xyz binary
    #[arg(long, value_name = "CMD")]
    launcher: Option<String>,
    /// xyz's path on the far side of --launcher [default: this xyz's own path]
    #[arg(long, value_name = "PATH", requires = "launcher")]
    remote_xyz: Option<String>,
}

/// A launcher command, checked: how to start worker `i` of `slots`.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    words: Vec<String>,
    xyz: String,
    slots: usize,
}

impl LauncherArgs {
    /// The launcher asked for, for `jobs` workers (which must be given: a launcher's workers
    /// are not this machine's cores).
    pub(crate) fn launcher(&self, jobs: usize) -> anyhow::Result<Option<Launcher>> {
        let Some(text) = &self.launcher else {
            return Ok(None);
        };
        anyhow::ensure!(
            jobs > 0,
            "--launcher needs -j N, the number of workers to start"
        );
        let words = shlex::split(text).with_context(|| {
            format!("--launcher `{text}`: unbalanced quotes or a trailing backslash")
        })?;
        anyhow::ensure!(!words.is_empty(), "--launcher is empty: give a command");
        for word in &words {
            if let Some(unknown) = unknown_placeholder(word) {
                anyhow::bail!(
                    "--launcher `{text}`: unknown placeholder {{{unknown}}}; the placeholders \
                     are {PLACEHOLDERS}"
                );
            }
        }
        let xyz = match &self.remote_xyz {
            Some(path) => path.clone(),
            None => std::env::current_exe()
                .context("finding the xyz executable")?
                .to_string_lossy()
                .into_owned(),
        };
        Ok(Some(Launcher {
            words,
            xyz,
            slots: jobs,
        }))
    }
}

/// The first `{name}` in `word` (not `${name}`, a shell's) that is not a placeholder.
fn unknown_placeholder(word: &str) -> Option<&str> {
    let mut rest = word;
    let mut prev = None;
    while let Some(open) = rest.find('{') {
        let before = rest[..open].chars().last().or(prev);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        let named = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if named && before != Some('$') && !matches!(name, "i" | "n" | "xyz") {
            return Some(name);
        }
        prev = Some('}');
        rest = &after[close + 1..];
    }
    None
}

/// `word` with each placeholder `{name}` of `values` replaced by its value; `${name}`, which
/// is a shell's (the far side's), is left as it is.
fn fill(word: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let shells = before.ends_with('$') || (before.is_empty() && out.ends_with('$'));
        let value = after[1..].find('}').and_then(|close| {
            let name = &after[1..1 + close];
            let value = values.iter().find(|(n, _)| *n == name)?.1;
            Some((value, close + 2))
        });
        match value {
            Some((value, len)) if !shells => {
                out.push_str(value);
                rest = &after[len..];
            }
            _ => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl xyz::load::Launcher for Launcher {
    fn launch(&self, worker_args: Vec<OsString>, module: Vec<u8>) -> xyz_core::Launch {
        Launcher::launch(self, worker_args, module)
    }

    fn slots(&self) -> usize {
        Launcher::slots(self)
    }
}

impl Launcher {
    /// The workers' launch: worker `i` runs as these words with the placeholders filled in,
    /// then `worker_args` (the worker subcommand and its options), and is sent `module`.
    pub(crate) fn launch(&self, worker_args: Vec<OsString>, module: Vec<u8>) -> xyz_core::Launch {
        let (words, xyz, slots) = (self.words.clone(), self.xyz.clone(), self.slots);
        let places_xyz = words.iter().any(|w| w.contains("{xyz}"));
        let command = move |i: usize| {
            let (index, count) = (i.to_string(), slots.to_string());
            let fill = |w: &str| fill(w, &[("i", &index), ("n", &count), ("xyz", &xyz)]);
            let mut args: Vec<OsString> = words[1..].iter().map(|w| fill(w).into()).collect();
            if !places_xyz {
                args.push(xyz.clone().into());
            }
            args.extend(worker_args.iter().cloned());
            (PathBuf::from(fill(&words[0])), args)
        };
        xyz_core::Launch {
            slots,
            command: Box::new(command),
            module: Arc::from(module),
        }
    }

    /// How many workers it starts at most.
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(launcher: &str) -> LauncherArgs {
        LauncherArgs {
            launcher: Some(launcher.into()),
            remote_xyz: Some("/opt/xyz".into()),
        }
    }

    #[test]
    fn placeholders_are_filled_and_xyz_put_first_when_not_placed() {
        let l = args("ssh -p 22 'node{i}'").launcher(3).unwrap().unwrap();
        let launch = l.launch(vec!["worker".into(), "-".into()], vec![1, 2]);
        let (program, words) = (launch.command)(2);
        assert_eq!(program, PathBuf::from("ssh"));
        assert_eq!(words, ["-p", "22", "node2", "/opt/xyz", "worker", "-"]);
        let l = args("apptainer exec img.sif {xyz} --slot={i}/{n}")
            .launcher(4)
            .unwrap()
            .unwrap();
        let (_, words) = (l.launch(vec!["worker".into()], vec![]).command)(1);
        assert_eq!(
            words,
            ["exec", "img.sif", "/opt/xyz", "--slot=1/4", "worker"]
        );
    }

    #[test]
    fn a_shells_own_braces_reach_the_far_shell_as_they_are() {
        let l = args("ssh node{i} 'echo ${i} ${n} $HOME {n}; exec \"$@\"' --")
            .launcher(2)
            .unwrap()
            .unwrap();
        let (_, words) = (l.launch(vec!["worker".into()], vec![]).command)(1);
        assert_eq!(
            words,
            [
                "node1",
                "echo ${i} ${n} $HOME 2; exec \"$@\"",
                "--",
                "/opt/xyz",
                "worker"
            ]
        );
        let values = [("i", "7")];
        assert_eq!(fill("{i}{i}${i}{x}{", &values), "77${i}{x}{");
        assert_eq!(fill("a{i", &values), "a{i");
    }

    #[test]
    fn bad_launchers_are_refused_by_name() {
        let err = |l: &str, j| args(l).launcher(j).unwrap_err().to_string();
        assert!(err("ssh node{host}", 2).contains("unknown placeholder {host}"));
        assert!(err("sh -c 'echo \"", 2).contains("unbalanced quotes"));
        assert!(err("  ", 2).contains("--launcher is empty"));
        assert!(err("srun", 0).contains("needs -j N"));
        // A shell's own ${VAR} is left alone.
        assert!(args("sh -c 'exec \"${XYZ}\" \"$@\"' -").launcher(1).is_ok());
    }
}
