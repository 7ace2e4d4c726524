//! A fresh machine: every Debian package the scripts install exists on this Debian, and a
//! release binary alone makes, builds and runs a new function.

use std::path::Path;
use std::process::Command;

use crate::util::Dir;

fn debian_packages(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(
            xyz_tests::workspace_root()
                .join("scripts")
                .join("debian-packages.sh"),
        )
        .args(args)
        .output()
        .expect("bash runs")
}

#[test]
fn every_debian_package_the_scripts_install_exists_on_this_debian() {
    let out = debian_packages(&["--check", "test", "release"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_package_name_this_debian_lacks_is_refused_by_name_though_nothing_is_missing() {
    let dir = Dir::new();
    // clang is installed on a machine that runs these tests; the second name is the one Debian 12
    // does not have, which the check must catch whatever is installed.
    let list = dir.write(
        "packages.txt",
        "# a list\nclang\nlibc++abi-dev-wasm32 # no such package\n",
    );
    let out = debian_packages(&["--check", list.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no such Debian package") && err.contains("libc++abi-dev-wasm32"),
        "{err}"
    );
    assert!(!err.contains("clang"), "{err}");
    let out = debian_packages(&["--check", "no-such-list"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The package names after each `apt-get install` in `text` (a script, a doc or a source file,
/// with line continuations joined).
fn installed_names(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ").replace("\\", " ");
    let mut names = Vec::new();
    for (at, _) in joined.match_indices("apt-get") {
        let mut words = joined[at..].split_whitespace().skip(1);
        if words.next() != Some("install") {
            continue;
        }
        for word in words {
            if word.starts_with('-') {
                continue;
            }
            let name = word.trim_end_matches([',', ')', '"', ';']);
            let is_name = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
            if is_name {
                names.push(name.to_string());
            }
            if !is_name || name.len() != word.len() {
                break;
            }
        }
    }
    names
}

#[test]
fn every_package_a_doc_or_message_tells_to_install_is_in_a_checked_list() {
    let root = xyz_tests::workspace_root();
    let listed: std::collections::BTreeSet<String> = ["test.txt", "release.txt"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(root.join("scripts/debian").join(f))
                .unwrap()
                .lines()
                .map(|l| l.split('#').next().unwrap().trim().to_string())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut files = vec![root.join("README.md")];
    for dir in [
        "scripts",
        "tests/clusters",
        "tests/src",
        "cli/src",
        "cli/tests/cli",
    ] {
        collect(&root.join(dir), &mut files);
    }
    collect(&root.join("tests/build.rs"), &mut files);
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in installed_names(&text) {
            seen += 1;
            assert!(
                listed.contains(&name),
                "{} tells to install `{name}`, which no list under scripts/debian/ has, so \
                 nothing checks that it exists",
                file.display()
            );
        }
    }
    // The README, the build command's messages and the cluster scripts name a dozen or more.
    assert!(seen >= 12, "found only {seen} names");
}

fn collect(path: &Path, files: &mut Vec<std::path::PathBuf>) {
    if path.is_file() {
        // This file names a package that does not exist, on purpose.
        if !path.ends_with("fresh_machine.rs") {
            files.push(path.to_path_buf());
        }
        return;
    }
    for entry in std::fs::read_dir(path).unwrap().flatten() {
        collect(&entry.path(), files);
    }
}

#[test]
fn the_package_names_after_apt_get_install_are_read_as_a_user_would() {
    assert_eq!(
        installed_names("x (apt-get \\\n   install clang lld wasi-libc, as test.sh does)"),
        ["clang", "lld", "wasi-libc"]
    );
    assert_eq!(
        installed_names("apt-get install -y -qq \\\n  slurm-wlm munge >/dev/null"),
        ["slurm-wlm", "munge"]
    );
    assert_eq!(
        installed_names("# C++ (apt-get install libc++-dev-wasm32)"),
        ["libc++-dev-wasm32"]
    );
    assert!(installed_names("apt-get update -qq").is_empty());
}
