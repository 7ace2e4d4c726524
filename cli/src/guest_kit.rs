//! The guest kit carried inside the binary: the `xyz-guest` crate, its attribute macro and the
//! ABI crate, written as standalone crates beside a new function (`xyz new`), and the C header.
//!
//! The crates' manifests inherit from xyz's workspace (`version.workspace = true`,
//! `syn.workspace = true`); written out, each is made standalone as `cargo package` would make
//! it: the inherited fields and dependencies are filled in from the workspace's manifest, and the
//! kit's crates depend on each other by relative paths.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/guest_kit.rs"));
}

/// The C header, `xyz.h`.
pub(crate) const HEADER: &str = embedded::HEADER;

/// The directory, below a new crate, the kit is written to.
pub(crate) const DIR: &str = "xyz-kit";

/// The package a new crate depends on.
pub(crate) const GUEST: &str = "xyz-guest";

/// Writes the kit's crates into `dir`, one directory each named after its package.
pub(crate) fn write(dir: &Path) -> anyhow::Result<()> {
    let workspace: toml::Table =
        toml::from_str(embedded::WORKSPACE_MANIFEST).context("the embedded workspace manifest")?;
    let packages: Vec<&str> = embedded::FILES.iter().map(|(p, _, _)| *p).collect();
    for (package, rel, text) in embedded::FILES {
        let path = dir.join(package).join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("making {}", parent.display()))?;
        }
        let text = if *rel == "Cargo.toml" {
            standalone(text, &workspace, &packages)
                .with_context(|| format!("the guest kit's manifest of {package}"))?
        } else {
            (*text).to_string()
        };
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `manifest` with what it inherits from `workspace` filled in; `kit` names the packages that
/// are siblings in the kit's directory.
fn standalone(manifest: &str, workspace: &toml::Table, kit: &[&str]) -> anyhow::Result<String> {
    let mut doc: toml::Table = toml::from_str(manifest)?;
    let inherited = |table: &str| -> anyhow::Result<&toml::Table> {
        workspace
            .get("workspace")
            .and_then(|w| w.get(table))
            .and_then(|t| t.as_table())
            .with_context(|| format!("the workspace has no [workspace.{table}]"))
    };
    if let Some(package) = doc.get_mut("package").and_then(|p| p.as_table_mut()) {
        let fields = inherited("package")?;
        for (key, value) in package.iter_mut() {
            if is_inherited(value) {
                *value = fields
                    .get(key)
                    .with_context(|| format!("[workspace.package] has no {key}"))?
                    .clone();
            }
        }
        package.insert("publish".into(), false.into());
    }
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(table) = doc.get_mut(section).and_then(|d| d.as_table_mut()) else {
            continue;
        };
        for (name, value) in table.iter_mut() {
            if !is_inherited(value) {
                continue;
            }
            let from = inherited("dependencies")?
                .get(name)
                .with_context(|| format!("[workspace.dependencies] has no {name}"))?;
            let mut spec: BTreeMap<String, toml::Value> = match from {
                toml::Value::String(version) => {
                    BTreeMap::from([("version".into(), version.clone().into())])
                }
                toml::Value::Table(t) => t.clone().into_iter().collect(),
                other => anyhow::bail!("[workspace.dependencies] {name} is {other}"),
            };
            if kit.contains(&name.as_str()) {
                spec.remove("version");
                spec.insert("path".into(), format!("../{name}").into());
            }
            // What the member adds: features (added to the workspace's), optional.
            if let Some(local) = value.as_table() {
                for (key, v) in local {
                    match key.as_str() {
                        "workspace" => {}
                        "features" => {
                            let mut all = spec
                                .get("features")
                                .and_then(|f| f.as_array())
                                .cloned()
                                .unwrap_or_default();
                            all.extend(v.as_array().into_iter().flatten().cloned());
                            spec.insert(key.clone(), all.into());
                        }
                        _ => {
                            spec.insert(key.clone(), v.clone());
                        }
                    }
                }
            }
            *value = toml::Value::Table(spec.into_iter().collect());
        }
    }
    // The workspace's lints are xyz's own concern, not a user's.
    doc.remove("lints");
    Ok(toml::to_string(&doc)?)
}

/// Whether `value` is `{ workspace = true, .. }`.
fn is_inherited(value: &toml::Value) -> bool {
    value
        .as_table()
        .and_then(|t| t.get("workspace"))
        .and_then(|w| w.as_bool())
        == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kit_holds_its_three_crates_and_no_manifest_inherits_anything() {
        let workspace: toml::Table = toml::from_str(embedded::WORKSPACE_MANIFEST).unwrap();
        let packages: Vec<&str> = embedded::FILES.iter().map(|(p, _, _)| *p).collect();
        for package in ["xyz-guest", "xyz-guest-macros", "xyz-abi"] {
            let (_, _, manifest) = embedded::FILES
                .iter()
                .find(|(p, rel, _)| *p == package && *rel == "Cargo.toml")
                .unwrap();
            let made = standalone(manifest, &workspace, &packages).unwrap();
            assert!(!made.contains("workspace"), "{made}");
            let doc: toml::Table = toml::from_str(&made).unwrap();
            assert_eq!(doc["package"]["name"].as_str(), Some(package));
            assert!(doc["package"]["version"].is_str(), "{made}");
            assert!(
                embedded::FILES
                    .iter()
                    .any(|(p, rel, _)| *p == package && *rel == "src/lib.rs")
            );
        }
    }

    #[test]
    fn kit_crates_depend_on_each_other_by_path_and_keep_what_members_add() {
        let workspace: toml::Table = toml::from_str(
            r#"
            [workspace.package]
            version = "0.3.0"
            edition = "2024"
            [workspace.dependencies]
            xyz-abi = { path = "abi", version = "0.3.0" }
            syn = { version = "2.0", features = ["full"] }
            quote = "1.0"
            "#,
        )
        .unwrap();
        let member = r#"
            [package]
            name = "m"
            version.workspace = true
            edition.workspace = true
            [dependencies]
            xyz-abi = { workspace = true, features = ["serde"] }
            syn = { workspace = true, features = ["visit"], optional = true }
            quote.workspace = true
            serde = "1"
            [lints]
            workspace = true
        "#;
        let made: toml::Table =
            toml::from_str(&standalone(member, &workspace, &["xyz-abi"]).unwrap()).unwrap();
        assert_eq!(made["package"]["version"].as_str(), Some("0.3.0"));
        let deps = &made["dependencies"];
        assert_eq!(deps["xyz-abi"]["path"].as_str(), Some("../xyz-abi"));
        assert!(deps["xyz-abi"].get("version").is_none());
        assert_eq!(deps["syn"]["features"].as_array().unwrap().len(), 2);
        assert_eq!(deps["syn"]["optional"].as_bool(), Some(true));
        assert_eq!(deps["quote"]["version"].as_str(), Some("1.0"));
        assert_eq!(deps["serde"].as_str(), Some("1"));
        assert!(made.get("lints").is_none());
    }

    #[test]
    fn a_field_the_workspace_lacks_is_named() {
        let workspace: toml::Table = toml::from_str("[workspace.package]\n").unwrap();
        let err = standalone(
            "[package]\nname = \"m\"\nversion.workspace = true\n",
            &workspace,
            &[],
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("no version"), "{err:#}");
    }
}
