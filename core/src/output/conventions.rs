//! The conventions every format keeps, in one place: the constants and provenance among the
//! attributes, complex constants as text, the extra dims the signature names, and the cells'
//! states of a dataset read back without `xyz_status`.
//!
//! The cells' states and failures are the variables (or columns)
//! [`STATUS_VAR`](crate::dataset::STATUS_VAR) and [`ERROR_VAR`](crate::dataset::ERROR_VAR);
//! the values of a cell without one are the fills of [the module docs](super).

use crate::dataset::Dataset;
use crate::value::Value;

/// The dataset with its complex constants, which Zarr and netCDF keep as attributes of text
/// (`"(1.5-2j)"`, as Python writes them), as complex values again: those the signature in its
/// `xyz_function` attribute declares `c128`.
pub(super) fn typed_constants(mut ds: Dataset) -> Dataset {
    let Some(sig) = ds
        .attrs
        .iter()
        .find(|(k, _)| k == "xyz_function")
        .and_then(|(_, v)| match v {
            crate::Value::Str(s) => s.parse::<xyz_abi::Signature>().ok(),
            _ => None,
        })
    else {
        return ds;
    };
    for (name, value) in &mut ds.attrs {
        let complex = sig
            .arg(name)
            .is_some_and(|(_, a)| a.ty == xyz_abi::ScalarType::C128);
        if let (true, crate::Value::Str(text)) = (complex, &*value)
            && let Some(z) = crate::value::parse_complex(text)
        {
            *value = crate::Value::C128(z);
        }
    }
    ds
}

/// The extra dims of the outputs of the signature `signature` (a dataset's `xyz_function`
/// attribute), by name: what tells a coordinate of an extra dim from one of a swept dim.
pub(super) fn extra_dim_names(signature: Option<&str>) -> Vec<String> {
    let Some(sig) = signature.and_then(|s| s.parse::<xyz_abi::Signature>().ok()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for d in sig.outputs.iter().flat_map(|o| &o.dims) {
        if !names.contains(&d.name) {
            names.push(d.name.clone());
        }
    }
    names
}

/// The cells of a dataset read back: `Ok` where any variable has a value (`present`), else
/// `Absent`; every cell `Ok` when no variable can say it is missing (`known` false: strings
/// only).
pub(super) fn cells_of(mut present: Vec<bool>, known: bool) -> Vec<crate::dataset::CellState> {
    use crate::dataset::CellState;
    if !known {
        present.fill(true);
    }
    present
        .into_iter()
        .map(|p| if p { CellState::Ok } else { CellState::Absent })
        .collect()
}

/// Constants, as the dataset's attributes hold them (before the provenance).
pub(super) fn constants(ds: &Dataset) -> &[(String, Value)] {
    let n = ds
        .attrs
        .iter()
        .position(|(k, _)| k == "xyz_version")
        .unwrap_or(ds.attrs.len());
    &ds.attrs[..n]
}
