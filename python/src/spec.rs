//! The sweep a Python call describes, as the spec a TOML file would hold: the same fields,
//! checked by the same code, with the same messages (`combos.x: ...`).

use std::path::Path;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyComplex, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::{Kind, raise_text};

/// The spec of `fields` (a dict with any of `combos`, `cases`, `constants`, `samples`, `adaptive`,
/// `attrs`, `coords` and `limits`, holding what their TOML tables hold), with relative paths
/// resolved against `base`.
pub fn spec_of(fields: &Bound<'_, PyDict>, base: &Path) -> PyResult<xyz::Spec> {
    let mut table = toml::Table::new();
    for (key, value) in fields.iter() {
        let key: String = key.extract()?;
        if value.is_none() {
            continue;
        }
        table.insert(key.clone(), to_toml(&value, &key)?);
    }
    xyz::Spec::from_table(table, base)
        .map_err(|e| raise_text(Kind::Spec, crate::errors::message(&e)))
}

/// `value` as TOML, `field` naming where it is for a message.
fn to_toml(value: &Bound<'_, PyAny>, field: &str) -> PyResult<toml::Value> {
    if value.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        return match value.extract::<i64>() {
            Ok(i) => Ok(toml::Value::Integer(i)),
            Err(_) => Err(raise_text(
                Kind::Spec,
                format!("`{field}`: {value} does not fit a 64-bit integer"),
            )),
        };
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(value.extract()?));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(value.extract()?));
    }
    if value.is_instance_of::<PyComplex>() {
        // As Python writes it, which the spec reads as a complex number.
        return Ok(toml::Value::String(value.repr()?.extract()?));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut table = toml::Table::new();
        for (k, v) in dict.iter() {
            let k: String = k.extract().map_err(|_| {
                raise_text(
                    Kind::Spec,
                    format!("`{field}`: its keys must be names (str)"),
                )
            })?;
            let inner = format!("{field}.{k}");
            table.insert(k, to_toml(&v, &inner)?);
        }
        return Ok(toml::Value::Table(table));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, v) in value.try_iter()?.enumerate() {
            items.push(to_toml(&v?, &format!("{field}[{i}]"))?);
        }
        return Ok(toml::Value::Array(items));
    }
    // numpy arrays and scalars, ranges, pandas indexes: what they hold, as Python values.
    if let Ok(tolist) = value.getattr("tolist") {
        let plain = tolist.call0()?;
        if !plain.is(value) {
            return to_toml(&plain, field);
        }
    }
    if value.hasattr("__iter__")? {
        let list = PyList::empty(value.py());
        for v in value.try_iter()? {
            list.append(v?)?;
        }
        return to_toml(list.as_any(), field);
    }
    Err(PyTypeError::new_err(format!(
        "`{field}`: {} is not a value xyz takes (bool, int, float, complex, str, or a list \
         or dict of them)",
        value.get_type().name()?
    )))
}
