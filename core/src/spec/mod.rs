//! Sweep specs: the TOML file that names a function and declares its parameter space.
//!
//! ```toml
//! function = "mandel.wasm"          # relative to this file
//! output = "mandel.zarr"            # optional; relative to this file
//!
//! [combos]                          # every combination, last varying fastest
//! x = { linspace = [-2.0, 0.5, 400] }
//! y = { linspace = [-1.25, 1.25, 400] }
//!
//! [constants]
//! maxiter = 1000
//!
//! [[cases]]                         # optional explicit cases, outer to the combos
//! # a = 1
//!
//! [samples]                         # optional cases drawn with a seed, instead of cases
//! # n = 1000                        # (see the `sample` module)
//! # seed = 7
//! # method = "sobol"
//! # x = { uniform = [0.0, 1.0] }
//!
//! [adaptive]                        # optional: points chosen where the function changes
//! # x = [-1.0, 1.0]                 # (see the `adaptive` module)
//! # n = 2000
//!
//! [coords]                          # optional coordinates of the outputs' extra dims
//! # t = { range = [0, 5] }          # as many values as the dim's size, like a combo's
//!
//! [limits]                          # optional sandbox limits
//! memory = "256MiB"
//! deadline = "60s"
//! clocks = "real"                   # WASI modules see the host's clocks and randomness
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

mod args;
mod units;

pub use args::{parse_combo_arg, parse_constant_arg};
pub use units::{UnitError, parse_duration, parse_size};

use crate::combo::{ComboValues, scalar_from_toml};
use crate::space::ParamSpace;
use crate::value::Value;

/// A spec that could not be read, naming the file and the field at fault.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", path.display())]
pub struct SpecError {
    /// The spec file.
    pub path: PathBuf,
    /// What is wrong.
    #[source]
    pub kind: SpecErrorKind,
}

/// What is wrong with a spec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecErrorKind {
    /// The file could not be read.
    #[error("could not read the spec")]
    Read(#[source] std::io::Error),
    /// The file is not valid TOML, or has unknown or mistyped top-level fields.
    #[error("{0}")]
    Parse(#[source] toml::de::Error),
    /// A field's value cannot be used.
    #[error("`{field}`: {message}")]
    Field {
        /// The field, as a dotted path (`combos.x`, `cases[2].a`, `limits.memory`).
        field: String,
        /// What was expected.
        message: String,
    },
}

/// Sandbox limits from a spec or the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most linear memory one instance may have, in bytes.
    pub memory: Option<u64>,
    /// Most time one call (one chunk) may take.
    pub deadline: Option<Duration>,
    /// Whether WASI modules see the host's clocks and randomness (`clocks = "real"`) instead
    /// of the ones made the same for a case on every run (`"case"`, the default).
    pub real_clocks: bool,
}

/// A parsed spec.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spec {
    /// The function, resolved against the spec's directory.
    pub function: Option<PathBuf>,
    /// The output, resolved against the spec's directory.
    pub output: Option<PathBuf>,
    /// The parameter space.
    pub space: ParamSpace,
    /// Sandbox limits.
    pub limits: Limits,
    /// Free attributes (`[attrs]`): written as the dataset's attributes, kept through merges.
    pub attrs: Vec<(String, Value)>,
    /// Coordinates of the outputs' extra dims (`[coords]`), each a dim's name and its values.
    pub coords: Vec<(String, Vec<Value>)>,
    /// An adaptive study (`[adaptive]`): its points are chosen as the results come in.
    pub adaptive: Option<crate::adaptive::Adaptive>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    function: Option<String>,
    output: Option<String>,
    #[serde(default)]
    combos: toml::Table,
    #[serde(default)]
    constants: toml::Table,
    #[serde(default)]
    cases: Vec<toml::Table>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    attrs: toml::Table,
    #[serde(default)]
    coords: toml::Table,
    samples: Option<toml::Table>,
    adaptive: Option<toml::Table>,
}

#[derive(serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory: Option<String>,
    deadline: Option<String>,
    clocks: Option<String>,
}

impl Spec {
    /// Reads the spec at `path`.
    pub fn from_file(path: &Path) -> Result<Spec, SpecError> {
        let err = |kind| SpecError {
            path: path.to_path_buf(),
            kind,
        };
        let text = crate::shared_fs::read_regular_to_string(path, u64::MAX)
            .map_err(|e| err(SpecErrorKind::Read(e)))?;
        let base = path.parent().unwrap_or(Path::new(""));
        Spec::from_str(&text, base).map_err(err)
    }

    /// Parses spec text, resolving relative paths against `base`.
    pub fn from_str(text: &str, base: &Path) -> Result<Spec, SpecErrorKind> {
        let raw: RawSpec = toml::from_str(text).map_err(SpecErrorKind::Parse)?;
        Spec::from_raw(raw, base)
    }

    /// A spec from an already parsed TOML table (as a crop's manifest holds one), resolving
    /// relative paths against `base`.
    pub fn from_table(table: toml::Table, base: &Path) -> Result<Spec, SpecErrorKind> {
        let raw: RawSpec = table.try_into().map_err(SpecErrorKind::Parse)?;
        Spec::from_raw(raw, base)
    }

    fn from_raw(raw: RawSpec, base: &Path) -> Result<Spec, SpecErrorKind> {
        let field = |field: String, message: String| SpecErrorKind::Field { field, message };
        let mut space = ParamSpace::new();
        for (name, value) in &raw.combos {
            let values = ComboValues::from_toml(value)
                .map_err(|e| field(format!("combos.{name}"), e.to_string()))?;
            space.combos.push((name.clone(), values));
        }
        for (name, value) in &raw.constants {
            let v = scalar_from_toml(value)
                .map_err(|e| field(format!("constants.{name}"), e.to_string()))?;
            space.constants.push((name.clone(), v));
        }
        for (i, case) in raw.cases.iter().enumerate() {
            let mut args = Vec::with_capacity(case.len());
            for (name, value) in case {
                let v = scalar_from_toml(value)
                    .map_err(|e| field(format!("cases[{}].{name}", i + 1), e.to_string()))?;
                args.push((name.clone(), v));
            }
            space.cases.push(args);
        }
        if let Some(samples) = &raw.samples {
            let samples = crate::sample::Samples::from_toml(samples)
                .map_err(|(f, message)| field(f, message))?;
            space.samples = Some(samples);
        }
        let adaptive = raw
            .adaptive
            .as_ref()
            .map(|t| {
                crate::adaptive::Adaptive::from_toml(t).map_err(|(f, message)| field(f, message))
            })
            .transpose()?;
        let limits = Limits {
            memory: raw
                .limits
                .memory
                .map(|m| parse_size(&m).map_err(|e| field("limits.memory".into(), e.to_string())))
                .transpose()?,
            deadline: raw
                .limits
                .deadline
                .map(|d| {
                    parse_duration(&d).map_err(|e| field("limits.deadline".into(), e.to_string()))
                })
                .transpose()?,
            real_clocks: match raw.limits.clocks.as_deref() {
                None | Some("case") => false,
                Some("real") => true,
                Some(other) => {
                    return Err(field(
                        "limits.clocks".into(),
                        format!(
                            "`{other}` is not a kind of clocks: \"case\" (the default: the same \
                             for a case on every run) or \"real\" (the host's)"
                        ),
                    ));
                }
            },
        };
        let mut attrs = Vec::with_capacity(raw.attrs.len());
        for (name, value) in &raw.attrs {
            if raw.constants.contains_key(name) {
                return Err(field(
                    format!("attrs.{name}"),
                    format!(
                        "`{name}` is a constant already; a free attribute needs a name of its own"
                    ),
                ));
            }
            if name.starts_with("xyz_") {
                return Err(field(
                    format!("attrs.{name}"),
                    "names starting with xyz_ are xyz's own provenance".into(),
                ));
            }
            let v = scalar_from_toml(value)
                .map_err(|e| field(format!("attrs.{name}"), e.to_string()))?;
            attrs.push((name.clone(), v));
        }
        let mut coords = Vec::with_capacity(raw.coords.len());
        for (name, value) in &raw.coords {
            let values = ComboValues::from_toml(value)
                .and_then(|c| c.values())
                .map_err(|e| field(format!("coords.{name}"), e.to_string()))?;
            coords.push((name.clone(), values));
        }
        Ok(Spec {
            function: raw.function.map(|f| base.join(f)),
            output: raw.output.map(|o| base.join(o)),
            attrs,
            coords,
            space,
            limits,
            adaptive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_keeps_order_and_resolves_paths() {
        let spec = Spec::from_str(
            r#"
            function = "f.wasm"
            [combos]
            z = [1, 2]
            a = { linspace = [0, 1, 3] }
            [constants]
            k = "s"
            [[cases]]
            c = 1
            [limits]
            memory = "64MiB"
            deadline = "2s"
            "#,
            Path::new("dir"),
        )
        .unwrap();
        assert_eq!(spec.function, Some(PathBuf::from("dir/f.wasm")));
        let names: Vec<&str> = spec.space.combos.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["z", "a"]);
        assert_eq!(
            spec.space.cases,
            vec![vec![("c".to_string(), Value::I64(1))]]
        );
        assert_eq!(spec.limits.memory, Some(64 << 20));
        assert_eq!(spec.limits.deadline, Some(Duration::from_secs(2)));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |t: &str| Spec::from_str(t, Path::new("")).unwrap_err().to_string();
        assert_eq!(
            err("[combos]\nx = []\n[constants]\ny = [1]").as_str(),
            "`constants.y`: expected an integer, float, bool, string or complex { re = .., im = .. }, \
             not the array [1]"
        );
        assert!(err("[combos]\nx = 5").starts_with("`combos.x`: expected a list of values"));
        assert!(err("functon = 'a'").contains("unknown field `functon`"));
        assert_eq!(
            err("[limits]\nmemory = 'lots'"),
            "`limits.memory`: expected a size such as 256MiB, not `lots`"
        );
    }

    #[test]
    fn command_line_values() {
        assert_eq!(
            parse_combo_arg("x=1,2,3").unwrap(),
            (
                "x".into(),
                ComboValues::List(vec![Value::I64(1), Value::I64(2), Value::I64(3)])
            )
        );
        assert_eq!(
            parse_combo_arg("s=a,b").unwrap().1,
            ComboValues::List(vec![Value::Str("a".into()), Value::Str("b".into())])
        );
        assert_eq!(
            parse_combo_arg("x={ linspace = [0, 1, 3] }").unwrap().1,
            ComboValues::Linspace {
                start: 0.0,
                stop: 1.0,
                num: 3
            }
        );
        assert_eq!(
            parse_combo_arg("x=[0.5]").unwrap().1,
            ComboValues::List(vec![Value::F64(0.5)])
        );
        assert_eq!(
            parse_constant_arg("k=3").unwrap(),
            ("k".into(), Value::I64(3))
        );
        assert_eq!(
            parse_constant_arg("k=hello").unwrap().1,
            Value::Str("hello".into())
        );
        assert_eq!(parse_constant_arg("k=true").unwrap().1, Value::Bool(true));
        assert!(parse_constant_arg("=3").unwrap_err().contains("NAME=VALUE"));
        assert!(parse_combo_arg("x").unwrap_err().contains("NAME=VALUE"));
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("256MiB").unwrap(), 256 << 20);
        assert_eq!(parse_size("1.5 GiB").unwrap(), 3 << 29);
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("0s").is_err());
    }
}
