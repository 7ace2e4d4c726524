//! The command line's forms of a spec's entries: `--combo NAME=VALUES` and
//! `--constant NAME=VALUE`.

use crate::combo::{ComboValues, scalar_from_toml};
use crate::value::Value;

fn toml_value(text: &str) -> Option<toml::Value> {
    let doc: toml::Table = toml::from_str(&format!("v = {text}")).ok()?;
    doc.get("v").cloned()
}

/// Parses `--combo NAME=VALUES`: VALUES is a TOML value (`[1, 2, 3]`,
/// `{ linspace = [0, 1, 11] }`) or a bare comma-separated list (`1,2,3`, `a,b`). A value that
/// opens a TOML list or table must be one: `[1,2` is refused, not split on its commas.
pub fn parse_combo_arg(arg: &str) -> Result<(String, ComboValues), String> {
    let (name, values) = split_assignment(arg, "--combo")?;
    if values.starts_with(['[', '{']) {
        let value = toml_value(values)
            .filter(|v| v.is_array() || v.is_table())
            .ok_or_else(|| {
                format!(
                    "--combo {name}: `{values}` is not a TOML list or table (such as [1, 2, 3] \
                     or {{ linspace = [0, 1, 11] }})"
                )
            })?;
        let combo = ComboValues::from_toml(&value).map_err(|e| format!("--combo {name}: {e}"))?;
        return Ok((name.to_string(), combo));
    }
    if values.is_empty() {
        return Err(format!("--combo {name}: no values after `=`"));
    }
    let value = toml_value(&format!("[{values}]")).unwrap_or_else(|| {
        toml::Value::Array(
            values
                .split(',')
                .map(|s| toml::Value::String(s.trim().to_string()))
                .collect(),
        )
    });
    let combo = ComboValues::from_toml(&value).map_err(|e| format!("--combo {name}: {e}"))?;
    Ok((name.to_string(), combo))
}

/// Parses `--constant NAME=VALUE`: VALUE is a TOML scalar (`3`, `0.5`, `true`, `"s"`) or,
/// failing that, a bare string.
pub fn parse_constant_arg(arg: &str) -> Result<(String, Value), String> {
    let (name, value) = split_assignment(arg, "--constant")?;
    let v = toml_value(value)
        .and_then(|v| scalar_from_toml(&v).ok())
        .unwrap_or_else(|| Value::Str(value.to_string()));
    Ok((name.to_string(), v))
}

fn split_assignment<'a>(arg: &'a str, flag: &str) -> Result<(&'a str, &'a str), String> {
    match arg.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => Ok((name.trim(), value.trim())),
        _ => Err(format!("{flag} takes NAME=VALUE, not `{arg}`")),
    }
}
