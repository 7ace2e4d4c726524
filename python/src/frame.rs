//! A dataset handed to Python as its parts: numpy arrays that take the engine's buffers
//! without a copy, and the names, dims and attributes `xyz._dataset` builds an
//! `xarray.Dataset` from, as the Zarr writer lays them out on disk.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use xyz::dataset::{ERROR_VAR, STATUS_VAR};
use xyz::{Column, Dataset, Value};

/// A column as a flat numpy array (numbers, booleans) or a list of str.
fn column<'py>(py: Python<'py>, col: Column) -> PyResult<Bound<'py, PyAny>> {
    Ok(match col {
        Column::F64(v) => PyArray1::from_vec(py, v).into_any(),
        Column::I64(v) => PyArray1::from_vec(py, v).into_any(),
        Column::Bool(v) => PyArray1::from_vec(py, v).into_any(),
        Column::C128(v) => PyArray1::from_vec(py, v).into_any(),
        Column::Str(v) => PyList::new(py, v)?.into_any(),
    })
}

/// The dataset's attributes as JSON text, each value as the Zarr writer stores it (a boolean
/// as 0 or 1, a complex number as Python writes it).
pub fn attrs_json(attrs: &[(String, Value)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = attrs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Bool(b) => serde_json::Value::from(i64::from(*b)),
                Value::C128(_) => serde_json::Value::from(v.to_string()),
                v => v.to_json(),
            };
            (k.clone(), v)
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The parts of `dataset`, moved into Python.
pub fn to_python(py: Python<'_>, dataset: Dataset) -> PyResult<Py<PyDict>> {
    let out = PyDict::new(py);
    let shape: Vec<usize> = dataset.shape();
    let swept: Vec<String> = dataset.dims.iter().map(|d| d.name.clone()).collect();
    out.set_item("shape", shape.clone())?;
    out.set_item("attrs", attrs_json(&dataset.attrs))?;
    let dims = PyList::empty(py);
    for d in dataset.dims {
        dims.append((d.name, column(py, d.coords)?))?;
    }
    out.set_item("dims", dims)?;
    let extra = PyList::empty(py);
    for d in dataset.extra_coords {
        extra.append((d.name, column(py, d.coords)?))?;
    }
    out.set_item("extra_coords", extra)?;
    let aux = PyList::empty(py);
    for a in dataset.aux_coords {
        aux.append((a.name, a.dim, column(py, a.values)?))?;
    }
    out.set_item("aux_coords", aux)?;
    let vars = PyList::empty(py);
    for v in dataset.vars {
        let mut dims = swept.clone();
        let mut shape = shape.clone();
        for e in &v.extra_dims {
            dims.push(e.name.clone());
            shape.push(e.size as usize);
        }
        vars.append((v.name, dims, shape, column(py, v.data)?))?;
    }
    out.set_item("vars", vars)?;
    let status: Vec<i8> = dataset.cells.iter().map(|c| c.status()).collect();
    drop(dataset.cells);
    out.set_item("status", (STATUS_VAR, PyArray1::from_vec(py, status)))?;
    let (at, messages): (Vec<i64>, Vec<String>) = dataset
        .errors
        .into_iter()
        .map(|(cell, m)| (cell as i64, m))
        .unzip();
    out.set_item(
        "errors",
        (
            ERROR_VAR,
            PyArray1::from_vec(py, at),
            PyList::new(py, messages)?,
        ),
    )?;
    Ok(out.unbind())
}
