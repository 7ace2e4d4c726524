//! Harvest: merging new results into a dataset that already holds others, as xyzpy's
//! Harvester does.
//!
//! The merged dataset has, on each swept dim, the union of both datasets' coordinates (sorted
//! when both are sorted, else the existing ones first); its cells hold what either dataset
//! holds. Where both hold a value and they differ, that is a conflict: refused by default
//! (the error lists a few), or settled by [`Conflicts::Overwrite`] (the new value wins) or
//! [`Conflicts::KeepExisting`] (the old one does). Both datasets must have the same dims,
//! variables and constants.

use std::collections::{HashMap, HashSet};

use crate::dataset::{CellState, DataVar, Dataset};
use crate::space::SweptDim;
use crate::value::{Column, Value, ValueKey};

/// How a cell that both datasets hold, with different values, is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conflicts {
    /// Refuse the merge.
    #[default]
    Refuse,
    /// The new value wins.
    Overwrite,
    /// The existing value stays.
    KeepExisting,
}

/// Datasets that cannot be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// Their swept dims differ.
    #[error("the dims differ: the existing dataset has {existing:?}, the new one {new:?}")]
    Dims {
        /// The existing dataset's swept dims.
        existing: Vec<String>,
        /// The new one's.
        new: Vec<String>,
    },
    /// A dim's coordinates have different types.
    #[error(
        "dim `{dim}` holds {existing} coordinates in the existing dataset but {new} in the new one"
    )]
    CoordType {
        /// The dim.
        dim: String,
        /// The existing type.
        existing: String,
        /// The new type.
        new: String,
    },
    /// Their variables differ.
    #[error("the variables differ: the existing dataset has {existing}, the new one {new}")]
    Vars {
        /// The existing variables, with types and extra dims.
        existing: String,
        /// The new ones.
        new: String,
    },
    /// A constant differs.
    #[error(
        "constant `{name}` is {existing} in the existing dataset but {new} in the new one: \
         sweep it as a combo to keep both"
    )]
    Constant {
        /// The constant.
        name: String,
        /// Its existing value (or "absent").
        existing: String,
        /// Its new value (or "absent").
        new: String,
    },
    /// Cells hold different values.
    #[error(
        "{count} cells hold different values in the existing and the new dataset, such as {}; \
         choose --overwrite (new values win) or --keep-existing",
        examples.join("; ")
    )]
    Conflicts {
        /// How many cells conflict.
        count: u64,
        /// A few of them, described.
        examples: Vec<String>,
    },
}

/// Attributes that describe the run rather than the data, and are taken from the new dataset.
fn is_provenance(name: &str) -> bool {
    name.starts_with("xyz_")
}

fn ascending(c: &Column) -> bool {
    match c {
        Column::I64(v) => v.windows(2).all(|w| w[0] < w[1]),
        Column::F64(v) => v.windows(2).all(|w| w[0] < w[1]),
        Column::Str(v) => v.windows(2).all(|w| w[0] < w[1]),
        Column::Bool(v) => v.windows(2).all(|w| !w[0] & w[1]),
    }
}

/// The union of two dims' coordinates, and where each side's coordinates land in it.
fn union(old: &SweptDim, new: &SweptDim) -> Result<(SweptDim, Vec<usize>, Vec<usize>), MergeError> {
    if old.coords.ty() != new.coords.ty() {
        return Err(MergeError::CoordType {
            dim: old.name.clone(),
            existing: old.coords.ty().to_string(),
            new: new.coords.ty().to_string(),
        });
    }
    let mut values: Vec<Value> = (0..old.coords.len()).map(|i| old.coords.get(i)).collect();
    let mut seen: HashSet<ValueKey> = values.iter().map(ValueKey::of).collect();
    for i in 0..new.coords.len() {
        let v = new.coords.get(i);
        if seen.insert(ValueKey::of(&v)) {
            values.push(v);
        }
    }
    if ascending(&old.coords) && ascending(&new.coords) {
        values.sort_by(|a, b| match (a, b) {
            (Value::I64(x), Value::I64(y)) => x.cmp(y),
            (Value::F64(x), Value::F64(y)) => x.total_cmp(y),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Str(x), Value::Str(y)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
    }
    let at: HashMap<ValueKey, usize> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (ValueKey::of(v), i))
        .collect();
    let map =
        |c: &Column| -> Vec<usize> { (0..c.len()).map(|i| at[&ValueKey::of(&c.get(i))]).collect() };
    let (old_map, new_map) = (map(&old.coords), map(&new.coords));
    let mut coords = Column::new(old.coords.ty());
    for v in &values {
        coords.push(v);
    }
    Ok((
        SweptDim {
            name: old.name.clone(),
            coords,
        },
        old_map,
        new_map,
    ))
}

fn describe_vars(ds: &Dataset) -> String {
    let vars: Vec<String> = ds
        .vars
        .iter()
        .map(|v| {
            let extra: Vec<String> = v
                .extra_dims
                .iter()
                .map(|d| format!("{}={}", d.name, d.size))
                .collect();
            if extra.is_empty() {
                format!("{}: {}", v.name, v.ty)
            } else {
                format!("{}: {}[{}]", v.name, v.ty, extra.join(", "))
            }
        })
        .collect();
    vars.join(", ")
}

fn same_element(a: &Column, b: &Column, i: usize, j: usize) -> bool {
    match (a, b) {
        (Column::F64(a), Column::F64(b)) => a[i].to_bits() == b[j].to_bits() || a[i] == b[j],
        (Column::I64(a), Column::I64(b)) => a[i] == b[j],
        (Column::Bool(a), Column::Bool(b)) => a[i] == b[j],
        (Column::Str(a), Column::Str(b)) => a[i] == b[j],
        _ => false,
    }
}

/// For each cell of `shape` (row-major), its flat index in the merged grid through `maps`.
fn cell_targets(maps: &[Vec<usize>], merged_shape: &[usize]) -> Vec<usize> {
    let shape: Vec<usize> = maps.iter().map(Vec::len).collect();
    let n: usize = shape.iter().product();
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * merged_shape[d + 1];
    }
    let mut out = Vec::with_capacity(n);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        out.push((0..shape.len()).map(|d| maps[d][idx[d]] * strides[d]).sum());
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// Merges `new` into `existing`. See the [module docs](self).
pub fn merge(
    existing: &Dataset,
    new: &Dataset,
    conflicts: Conflicts,
) -> Result<Dataset, MergeError> {
    let names = |ds: &Dataset| ds.dims.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
    if names(existing) != names(new) {
        return Err(MergeError::Dims {
            existing: names(existing),
            new: names(new),
        });
    }
    // Variables match by name (a store lists them in its own order), type and extra dims.
    let aligned: Option<Vec<&DataVar>> = new
        .vars
        .iter()
        .map(|nv| {
            existing
                .vars
                .iter()
                .find(|v| v.name == nv.name && v.ty == nv.ty && v.extra_dims == nv.extra_dims)
        })
        .collect();
    let old_vars = match aligned {
        Some(v) if existing.vars.len() == new.vars.len() => v,
        _ => {
            return Err(MergeError::Vars {
                existing: describe_vars(existing),
                new: describe_vars(new),
            });
        }
    };
    let constants = |ds: &Dataset| -> Vec<(String, Value)> {
        let mut c: Vec<(String, Value)> = ds
            .attrs
            .iter()
            .filter(|(k, _)| !is_provenance(k))
            .cloned()
            .collect();
        c.sort_by(|a, b| a.0.cmp(&b.0));
        c
    };
    let (old_c, new_c) = (constants(existing), constants(new));
    for (name, _) in old_c.iter().chain(&new_c) {
        let find =
            |c: &[(String, Value)]| c.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (a, b) = (find(&old_c), find(&new_c));
        let same = matches!((&a, &b), (Some(a), Some(b)) if a.same(b));
        if !same {
            let show = |v: Option<Value>| v.map_or("absent".to_string(), |v| v.to_string());
            return Err(MergeError::Constant {
                name: name.clone(),
                existing: show(a),
                new: show(b),
            });
        }
    }

    let mut dims = Vec::with_capacity(existing.dims.len());
    let (mut old_maps, mut new_maps) = (Vec::new(), Vec::new());
    for (a, b) in existing.dims.iter().zip(&new.dims) {
        let (d, om, nm) = union(a, b)?;
        dims.push(d);
        old_maps.push(om);
        new_maps.push(nm);
    }
    let shape: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
    let n_cells: usize = shape.iter().product();
    let mut vars: Vec<DataVar> = new
        .vars
        .iter()
        .map(|v| {
            let data = Column::missing(v.ty, n_cells * v.elements());
            DataVar {
                name: v.name.clone(),
                ty: v.ty,
                extra_dims: v.extra_dims.clone(),
                data,
            }
        })
        .collect();
    let mut cells = vec![CellState::Absent; n_cells];

    for (k, &to) in cell_targets(&old_maps, &shape).iter().enumerate() {
        if existing.cells[k] != CellState::Ok {
            continue;
        }
        cells[to] = CellState::Ok;
        for (dst, src) in vars.iter_mut().zip(&old_vars) {
            let e = src.elements();
            dst.data.copy_run(to * e, &src.data, k * e, e);
        }
    }
    let mut count = 0u64;
    let mut examples = Vec::new();
    for (k, &to) in cell_targets(&new_maps, &shape).iter().enumerate() {
        if new.cells[k] != CellState::Ok {
            continue;
        }
        if cells[to] == CellState::Ok {
            let differs = vars.iter().zip(&new.vars).find_map(|(v, nv)| {
                let e = v.elements();
                (0..e)
                    .find(|x| !same_element(&v.data, &nv.data, to * e + x, k * e + x))
                    .map(|x| (v, nv, to * e + x, k * e + x))
            });
            let Some((v, nv, i, j)) = differs else {
                continue;
            };
            match conflicts {
                Conflicts::KeepExisting => continue,
                Conflicts::Overwrite => {}
                Conflicts::Refuse => {
                    count += 1;
                    if examples.len() < 3 {
                        let at: Vec<String> = dims
                            .iter()
                            .zip(cell_index(to, &shape))
                            .map(|(d, i)| format!("{}={}", d.name, d.coords.get(i)))
                            .collect();
                        examples.push(format!(
                            "{} at {}: {} before, {} now",
                            v.name,
                            at.join(", "),
                            v.data.get(i),
                            nv.data.get(j)
                        ));
                    }
                    continue;
                }
            }
        }
        cells[to] = CellState::Ok;
        for (dst, src) in vars.iter_mut().zip(&new.vars) {
            let e = src.elements();
            dst.data.copy_run(to * e, &src.data, k * e, e);
        }
    }
    if count > 0 {
        return Err(MergeError::Conflicts { count, examples });
    }
    let mut attrs: Vec<(String, Value)> = existing
        .attrs
        .iter()
        .filter(|(k, _)| !is_provenance(k))
        .cloned()
        .collect();
    attrs.extend(new.attrs.iter().filter(|(k, _)| is_provenance(k)).cloned());
    Ok(Dataset {
        dims,
        vars,
        cells,
        attrs,
    })
}

/// The multi-index of flat cell `flat` in `shape`.
fn cell_index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClosureFunction, ComboValues, Function, ParamSpace, Runner, Sequential};

    fn f() -> ClosureFunction {
        let sig = "g(a: i64, b: f64) -> (z: f64, odd: bool)".parse().unwrap();
        ClosureFunction::new(sig, |args| match args {
            [Value::I64(a), Value::F64(b)] => {
                Ok(vec![Value::F64(*a as f64 * b), Value::Bool(a % 2 == 1)])
            }
            _ => unreachable!(),
        })
    }

    fn run(a: &[i64], b: &[f64]) -> Dataset {
        let f = f();
        let mut space = ParamSpace::new();
        space
            .combo(
                "a",
                ComboValues::List(a.iter().map(|x| Value::I64(*x)).collect()),
            )
            .combo(
                "b",
                ComboValues::List(b.iter().map(|x| Value::F64(*x)).collect()),
            );
        let bound = space.bind(f.signature()).unwrap();
        Runner::new(&f, &Sequential).run(&bound).unwrap().dataset
    }

    #[test]
    fn pieces_merge_into_the_whole() {
        let whole = run(&[1, 2, 3, 4], &[0.5, 1.5]);
        let left = run(&[1, 3], &[0.5, 1.5]);
        let right = run(&[2, 3, 4], &[1.5, 0.5]);
        // Read back from disk, as harvest does: variables come back in the store's order.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("left.zarr");
        crate::output::write(&left, &path, crate::Format::Zarr, false).unwrap();
        let stored = crate::output::read_zarr(&path).unwrap();
        let merged = merge(&stored, &right, Conflicts::Refuse).unwrap();
        assert_eq!(merged.dims, whole.dims);
        assert_eq!(merged.cells, whole.cells);
        assert_eq!(format!("{:?}", merged.vars), format!("{:?}", whole.vars));
    }

    #[test]
    fn unsorted_coordinates_keep_the_existing_order_then_the_new() {
        let merged = merge(
            &run(&[3, 1], &[0.5]),
            &run(&[2, 1], &[0.5]),
            Conflicts::Refuse,
        )
        .unwrap();
        assert_eq!(merged.dims[0].coords, Column::I64(vec![3, 1, 2]));
    }

    #[test]
    fn variables_must_match() {
        let mut other = run(&[1], &[0.5]);
        other.vars.pop();
        let err = merge(&run(&[1], &[0.5]), &other, Conflicts::Refuse).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the variables differ: the existing dataset has z: f64, odd: bool, the new one z: f64"
        );
    }
}
