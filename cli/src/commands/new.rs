//! `xyz new`: make a function crate (or a C file) outside any workspace, ready to build and run.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::{exit_codes, guest_kit};

const AFTER_HELP: &str = "EXAMPLES:
  A Rust function, built and swept in three commands:
    xyz new hypot && cd hypot
    xyz build
    xyz run hypot.toml -o hypot.zarr

  The same in C, built by clang:
    xyz new hypot --lang c";

/// The language of a new function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Lang {
    /// A Rust `cdylib` crate using the guest kit.
    Rust,
    /// A C file written against `xyz.h`, built by clang.
    C,
}

/// Make a new function: a crate (or a C file) with one example function, a spec that sweeps it
/// and a README of the three commands that build, run and show it.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct NewCommand {
    /// The function's name, and the directory made for it
    name: String,

    /// The language
    #[arg(long, value_name = "LANG", default_value = "rust")]
    lang: Lang,

    /// A guest kit (the `guest` directory of xyz's source) for a Rust crate to depend
    /// on [default: the one this xyz carries, written into the crate's `xyz-kit/`]
    #[arg(long, value_name = "DIR")]
    guest_kit: Option<PathBuf>,
}

/// Whether `name` can name a crate and a C function: letters, digits and `_`, not first a digit.
fn valid(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

impl NewCommand {
    pub(crate) fn execute(self) -> anyhow::Result<u8> {
        let name = &self.name;
        if !valid(name) {
            return Err(anyhow::Error::new(crate::UsageError(format!(
                "`{name}` cannot name a function: use letters, digits and `_`, starting with a \
                 letter"
            ))));
        }
        let dir = PathBuf::from(name);
        anyhow::ensure!(
            dir.symlink_metadata().is_err(),
            "{} already exists; pick another name or remove it",
            dir.display()
        );
        match self.lang {
            Lang::Rust => self.rust(&dir)?,
            Lang::C => self.c(&dir)?,
        }
        println!("made {}/: build it with `xyz build {name}`", dir.display());
        Ok(exit_codes::OK)
    }

    fn rust(&self, dir: &Path) -> anyhow::Result<()> {
        let name = &self.name;
        let kit = match &self.guest_kit {
            Some(kit) => {
                let kit = std::path::absolute(kit).unwrap_or_else(|_| kit.clone());
                anyhow::ensure!(
                    kit.join("Cargo.toml").is_file(),
                    "no guest kit at {}: --guest-kit takes the guest directory of xyz's source",
                    kit.display()
                );
                kit.display().to_string()
            }
            None => format!("{}/{}", guest_kit::DIR, guest_kit::GUEST),
        };
        std::fs::create_dir_all(dir.join("src"))
            .with_context(|| format!("making {}", dir.display()))?;
        if self.guest_kit.is_none() {
            guest_kit::write(&dir.join(guest_kit::DIR))?;
        }
        write(
            &dir.join("Cargo.toml"),
            &format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# An xyz function is a C-style dynamic library: a WebAssembly module for wasm32, a .so natively.
[lib]
crate-type = ["cdylib"]

[dependencies]
xyz-guest = {{ path = {kit:?} }}

# Small, fast modules: `xyz build` builds this profile for wasm32-unknown-unknown.
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
debug = false
strip = true

# A crate of its own, wherever it is put (with the guest kit it depends on, in xyz-kit/).
[workspace]
"#,
            ),
        )?;
        write(
            &dir.join("src").join("lib.rs"),
            &format!(
                r#"//! `{name}(x, y) -> (r)`: an xyz function. Change it, rebuild with `xyz build`, rerun.

/// The distance of (x, y) from the origin. A crate exports one such function; a panic or an
/// `Err` fails its case only.
#[xyz_guest::function(outputs = ["r"])]
pub fn {name}(x: f64, y: f64) -> f64 {{
    x.hypot(y)
}}
"#
            ),
        )?;
        self.spec(
            dir,
            &format!("target/wasm32-unknown-unknown/release/{name}.wasm"),
        )?;
        self.readme(
            dir,
            "src/lib.rs",
            "a Rust crate, built for wasm32-unknown-unknown",
        )
    }

    fn c(&self, dir: &Path) -> anyhow::Result<()> {
        let name = &self.name;
        std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
        write(&dir.join("xyz.h"), guest_kit::HEADER)?;
        write(
            &dir.join(format!("{name}.c")),
            &format!(
                r#"/* {name}(x: f64, y: f64) -> (r: f64): an xyz function in C, against xyz.h alone.
 * `xyz build` compiles it with clang for wasm32 (freestanding: no libc, so memory comes from
 * a static arena). */
#include "xyz.h"

#define EXPORT __attribute__((visibility("default")))
#define ARENA (4u << 20)

static _Alignas(16) unsigned char arena[ARENA];
static size_t top;

EXPORT uint32_t xyz_abi_version(void) {{ return XYZ_ABI_VERSION; }}
EXPORT const char *xyz_signature(void) {{ return "{name}(x: f64, y: f64) -> (r: f64)"; }}

EXPORT void *xyz_alloc(size_t size, size_t align) {{
    size_t at = (top + align - 1) & ~(align - 1);
    if (at > ARENA || size > ARENA - at) return 0;
    top = at + size;
    return arena + at;
}}

EXPORT void xyz_free(void *ptr, size_t size, size_t align) {{
    (void)align;
    if ((unsigned char *)ptr + size == arena + top) top = (size_t)((unsigned char *)ptr - arena);
}}

static double root(double v) {{
    double r = v > 1.0 ? v : 1.0;
    for (int i = 0; i < 64; i++) r = 0.5 * (r + v / r);
    return r;
}}

EXPORT int32_t xyz_eval(xyz_call *call) {{
    const double *x = (const double *)call->args[0].data;
    const double *y = (const double *)call->args[1].data;
    double *r = (double *)call->outputs[0].data;
    for (size_t i = 0; i < call->n; i++) {{
        r[i] = root(x[i] * x[i] + y[i] * y[i]);
        call->status[i] = XYZ_STATUS_OK;
    }}
    return XYZ_EVAL_OK;
}}
"#
            ),
        )?;
        self.spec(dir, &format!("{name}.wasm"))?;
        self.readme(
            dir,
            &format!("{name}.c"),
            "a C file, built by clang for wasm32",
        )
    }

    /// `NAME.toml`: a sweep of the function over a small grid.
    fn spec(&self, dir: &Path, module: &str) -> anyhow::Result<()> {
        write(
            &dir.join(format!("{}.toml", self.name)),
            &format!(
                r#"# The sweep: every combination of the combos, written as {name}.zarr by default.
function = "{module}"
output = "{name}.zarr"

[combos]
x = {{ linspace = [-1.0, 1.0, 21] }}
y = {{ linspace = [-1.0, 1.0, 21] }}
"#,
                name = self.name
            ),
        )
    }

    fn readme(&self, dir: &Path, source: &str, what: &str) -> anyhow::Result<()> {
        let name = &self.name;
        write(
            &dir.join("README.md"),
            &format!(
                "# {name}\n\nAn xyz function: {what}. Its code is in `{source}`, its sweep in \
                 `{name}.toml`.\n\n```sh\n{}```\n",
                commented(&[
                    ("xyz build", "builds the module and prints its path".into()),
                    (
                        &format!("xyz run {name}.toml"),
                        format!("sweeps it into {name}.zarr"),
                    ),
                    (
                        &format!("xyz show {name}.zarr"),
                        "shows the dataset (or open it with xarray.open_zarr)".into(),
                    ),
                ])
            ),
        )
    }
}

/// Shell lines, each with its comment, the comments in one column.
fn commented(lines: &[(&str, String)]) -> String {
    let width = lines.iter().map(|(cmd, _)| cmd.len()).max().unwrap_or(0);
    lines
        .iter()
        .map(|(cmd, comment)| format!("{cmd:width$}   # {comment}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_name_a_crate_and_a_c_function() {
        assert!(valid("hypot") && valid("my_fn2"));
        assert!(!valid("2fn") && !valid("a-b") && !valid("") && !valid("a b"));
    }

    #[test]
    fn readme_comments_stand_in_one_column_whatever_the_name() {
        for name in ["f", "hypot", "a_rather_long_function_name"] {
            let text = commented(&[
                ("xyz build", "one".into()),
                (&format!("xyz run {name}.toml"), "two".into()),
            ]);
            let columns: Vec<usize> = text.lines().map(|l| l.find('#').unwrap()).collect();
            assert_eq!(columns[0], columns[1], "{text}");
            assert!(text.lines().all(|l| l.contains("   # ")), "{text}");
        }
    }
}
