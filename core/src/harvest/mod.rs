//! Harvest: merging new results into a dataset that already holds others, as xyzpy's
//! Harvester does.
//!
//! The merged dataset has, on each swept dim, the union of both datasets' coordinates (sorted
//! when both are sorted, else the existing ones first); its cells hold what either dataset
//! holds. Where both hold a value and they differ, that is a conflict: refused by default
//! (the error lists a few), or settled by [`Conflicts::Overwrite`] (the new value wins) or
//! [`Conflicts::KeepExisting`] (the old one does). Both datasets must have the same dims,
//! variables and constants.
//!
//! [`merge`] merges two datasets in memory; a [`Harvest`] takes the new results cell by cell
//! (a crop's, batch by batch), so that only the merged dataset is held.

mod lacking;

pub use lacking::{Lacking, OtherFunction, Policy};

use std::collections::{HashMap, HashSet};

use crate::dataset::{CellState, Dataset};
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
    /// An extra dim has other coordinates.
    #[error(
        "extra dim `{dim}` has coordinates {existing} in the existing dataset but {new} in the \
         new one"
    )]
    ExtraCoords {
        /// The dim.
        dim: String,
        /// Its existing coordinates, in words.
        existing: String,
        /// The new ones.
        new: String,
    },
    /// Coordinates along a dim (sampled arguments) that differ where both datasets have
    /// them, or that one of them lacks.
    #[error(
        "coordinate `{name}` at {dim} = {at} is {existing} in the existing dataset but {new} \
         in the new one: the samples differ (another seed, method or distribution; a Latin \
         hypercube also changes with n), so their results cannot share a dataset"
    )]
    AuxCoords {
        /// The coordinate.
        name: String,
        /// The dim it lies along.
        dim: String,
        /// The index along the dim where they differ.
        at: String,
        /// Its existing value, or `absent`.
        existing: String,
        /// The new one, or `absent`.
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
        Column::C128(v) => v
            .windows(2)
            .all(|w| complex_cmp(&w[0], &w[1]) == std::cmp::Ordering::Less),
        Column::Str(v) => v.windows(2).all(|w| w[0] < w[1]),
        Column::Bool(v) => v.windows(2).all(|w| !w[0] & w[1]),
    }
}

/// Complex numbers in numpy's order: by real part, then by imaginary part.
fn complex_cmp(a: &crate::value::Complex64, b: &crate::value::Complex64) -> std::cmp::Ordering {
    a.re.total_cmp(&b.re).then(a.im.total_cmp(&b.im))
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
            (Value::C128(x), Value::C128(y)) => complex_cmp(x, y),
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

pub(crate) fn same_element(a: &Column, b: &Column, i: usize, j: usize) -> bool {
    match (a, b) {
        (Column::F64(a), Column::F64(b)) => a[i].to_bits() == b[j].to_bits() || a[i] == b[j],
        (Column::C128(a), Column::C128(b)) => Value::C128(a[i]).same(&Value::C128(b[j])),
        (Column::I64(a), Column::I64(b)) => a[i] == b[j],
        (Column::Bool(a), Column::Bool(b)) => a[i] == b[j],
        (Column::Str(a), Column::Str(b)) => a[i] == b[j],
        _ => false,
    }
}

/// Where cell `flat` of a grid of `shape` lands in the merged grid, through `maps` (a merged
/// index per coordinate of each dim) and the merged grid's `strides`.
pub(crate) fn target(
    mut flat: usize,
    shape: &[usize],
    maps: &[Vec<usize>],
    strides: &[usize],
) -> usize {
    let mut to = 0;
    for d in (0..shape.len()).rev() {
        to += maps[d][flat % shape[d]] * strides[d];
        flat /= shape[d];
    }
    to
}

/// Lays `ds` out on the merged `dims`, its coordinates landing where `maps` say. Where every
/// map rises (both sides sorted), cells move in place from the last to the first, each to an
/// index at least its own, so the columns only grow; otherwise they are copied.
fn relayout(ds: &mut Dataset, dims: Vec<SweptDim>, maps: &[Vec<usize>]) {
    let old_shape = ds.shape();
    let shape: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
    ds.dims = dims;
    if old_shape == shape
        && maps
            .iter()
            .all(|m| m.iter().enumerate().all(|(i, t)| i == *t))
    {
        return;
    }
    let strides = crate::dataset::strides(&shape);
    let (n_old, n_new): (usize, usize) = (old_shape.iter().product(), shape.iter().product());
    ds.errors = std::mem::take(&mut ds.errors)
        .into_iter()
        .map(|(k, e)| (target(k, &old_shape, maps, &strides), e))
        .collect();
    let rising = maps.iter().all(|m| m.windows(2).all(|w| w[0] < w[1]));
    if rising {
        ds.cells.resize(n_new, CellState::Absent);
        for var in &mut ds.vars {
            let e = var.elements();
            var.data.resize_missing(n_new * e);
        }
        for k in (0..n_old).rev() {
            let to = target(k, &old_shape, maps, &strides);
            if to == k {
                continue;
            }
            ds.cells[to] = std::mem::replace(&mut ds.cells[k], CellState::Absent);
            for var in &mut ds.vars {
                let e = var.elements();
                var.data.move_run(k * e, to * e, e);
            }
        }
    } else {
        let mut cells = vec![CellState::Absent; n_new];
        for var in &mut ds.vars {
            let e = var.elements();
            let mut data = Column::missing(var.ty, n_new * e);
            for k in 0..n_old {
                let to = target(k, &old_shape, maps, &strides);
                data.copy_run(to * e, &var.data, k * e, e);
            }
            var.data = data;
        }
        for (k, state) in ds.cells.iter().enumerate() {
            cells[target(k, &old_shape, maps, &strides)] = *state;
        }
        ds.cells = cells;
    }
}

/// How a dataset and results laid out as another unite, once checked that they match: the
/// merged layout and where each side's coordinates land in it.
pub(crate) struct Union {
    /// The merged dims, the existing variables (no values), the extra and sampled coordinates
    /// of both, and the attributes kept before the new run's provenance.
    pub(crate) layout: Dataset,
    /// For each dim, the merged index of each existing coordinate; rising.
    pub(crate) old_maps: Vec<Vec<usize>>,
    /// For each dim, the merged index of each new coordinate.
    pub(crate) new_maps: Vec<Vec<usize>>,
    /// For each new variable, its index among the merged ones.
    pub(crate) var_at: Vec<usize>,
    /// The new run's provenance, which the merged dataset takes last.
    pub(crate) provenance: Vec<(String, Value)>,
    /// The SHA-256 of the function that made the existing dataset, as it says.
    pub(crate) existing_function: Option<String>,
}

impl Union {
    /// How `existing` and results laid out as `new` unite (the values of neither are read),
    /// once checked that they match.
    pub(crate) fn new(existing: &Dataset, new: &Dataset) -> Result<Union, MergeError> {
        let names = |ds: &Dataset| ds.dims.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
        if names(existing) != names(new) {
            return Err(MergeError::Dims {
                existing: names(existing),
                new: names(new),
            });
        }
        // Variables match by name (a store may list them in its own order), type and extra
        // dims.
        let var_at: Option<Vec<usize>> = new
            .vars
            .iter()
            .map(|nv| {
                existing.vars.iter().position(|v| {
                    v.name == nv.name && v.ty == nv.ty && v.extra_dims == nv.extra_dims
                })
            })
            .collect();
        let var_at = match var_at {
            Some(v) if existing.vars.len() == new.vars.len() => v,
            _ => {
                return Err(MergeError::Vars {
                    existing: describe_vars(existing),
                    new: describe_vars(new),
                });
            }
        };
        // Coordinates of extra dims must agree where both have them; either gives them.
        let mut extra_coords = existing.extra_coords.clone();
        for dim in &new.extra_coords {
            match existing.extra_coords.iter().find(|d| d.name == dim.name) {
                Some(old) if !same_column(&old.coords, &dim.coords) => {
                    let words = |c: &Column| {
                        (0..c.len())
                            .map(|i| c.get(i).to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return Err(MergeError::ExtraCoords {
                        dim: dim.name.clone(),
                        existing: format!("[{}]", words(&old.coords)),
                        new: format!("[{}]", words(&dim.coords)),
                    });
                }
                Some(_) => {}
                None => extra_coords.push(dim.clone()),
            }
        }
        // Free attributes (a spec's `[attrs]`) describe; they are not constants to agree on.
        let free: Vec<String> = existing
            .free_attr_names()
            .into_iter()
            .chain(new.free_attr_names())
            .collect();
        let constants = |ds: &Dataset| -> Vec<(String, Value)> {
            let mut c: Vec<(String, Value)> = ds
                .attrs
                .iter()
                .filter(|(k, _)| !is_provenance(k) && !free.contains(k))
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
        let existing_function = existing
            .attrs
            .iter()
            .find(|(k, _)| k == "xyz_function_sha256")
            .and_then(|(_, v)| match v {
                Value::Str(s) => Some(s.clone()),
                _ => None,
            });
        let aux_coords = merge_aux(existing, new, &dims, &old_maps, &new_maps)?;
        // The existing free attributes stay; the new run's are added, and win where both
        // give one.
        let new_free: Vec<(String, Value)> = new
            .attrs
            .iter()
            .filter(|(k, _)| new.free_attr_names().contains(k))
            .cloned()
            .collect();
        let mut layout = Dataset {
            dims,
            vars: existing
                .vars
                .iter()
                .map(|v| crate::dataset::DataVar {
                    name: v.name.clone(),
                    ty: v.ty,
                    extra_dims: v.extra_dims.clone(),
                    data: Column::new(v.ty),
                })
                .collect(),
            cells: Vec::new(),
            errors: std::collections::BTreeMap::new(),
            extra_coords,
            aux_coords,
            attrs: existing.attrs.clone(),
        };
        let kept_names = layout.free_attr_names();
        layout.attrs.retain(|(k, _)| !is_provenance(k));
        if !kept_names.is_empty() {
            layout.attrs.push((
                crate::dataset::FREE_ATTRS.into(),
                Value::Str(kept_names.join(",")),
            ));
        }
        layout.set_free_attrs(&new_free);
        let free_list = layout
            .attrs
            .iter()
            .find(|(k, _)| k == crate::dataset::FREE_ATTRS)
            .cloned();
        layout
            .attrs
            .retain(|(k, _)| k != crate::dataset::FREE_ATTRS);
        Ok(Union {
            layout,
            old_maps,
            new_maps,
            var_at,
            existing_function,
            provenance: new
                .attrs
                .iter()
                .filter(|(k, _)| is_provenance(k) && k != crate::dataset::FREE_ATTRS)
                .cloned()
                .chain(free_list)
                .collect(),
        })
    }
}

/// A merge under way: the existing dataset, laid out on the united coordinates, taking the
/// new results cell by cell. Only the merged dataset is held, so merging a crop's results
/// batch by batch (see [`Crop::reap_into`](crate::Crop::reap_into)) takes little more memory
/// than the merged dataset itself.
#[derive(Debug)]
pub struct Harvest {
    ds: Dataset,
    conflicts: Conflicts,
    /// The new results' grid, and where each of its coordinates lands in the merged one.
    new_shape: Vec<usize>,
    new_maps: Vec<Vec<usize>>,
    strides: Vec<usize>,
    /// For each new variable, its index in the merged dataset.
    var_at: Vec<usize>,
    count: u64,
    examples: Vec<String>,
    provenance: Vec<(String, Value)>,
    /// The SHA-256 of the function that made the dataset merged into, as it says.
    existing_function: Option<String>,
}

impl Harvest {
    /// Whether the dataset merged into already holds a value for cell `cell` of the new
    /// results' grid: a merge that evaluates only what it lacks skips that cell's case.
    pub fn holds(&self, cell: usize) -> bool {
        let to = target(cell, &self.new_shape, &self.new_maps, &self.strides);
        self.ds.cells.get(to) == Some(&CellState::Ok)
    }

    /// Whether the dataset merged into holds a failure for cell `cell` of the new results'
    /// grid.
    pub fn failed(&self, cell: usize) -> bool {
        let to = target(cell, &self.new_shape, &self.new_maps, &self.strides);
        self.ds.cells.get(to) == Some(&CellState::Failed)
    }

    /// The SHA-256 of the function the dataset merged into was made with, if it says.
    pub fn existing_function(&self) -> Option<&str> {
        self.existing_function.as_deref()
    }

    /// Starts merging results laid out as `new` (its dims, variables and attributes; its
    /// values are not read) into `existing`: checks that they match, unites the coordinates
    /// and lays `existing` out on them.
    pub fn new(
        mut existing: Dataset,
        new: &Dataset,
        conflicts: Conflicts,
    ) -> Result<Harvest, MergeError> {
        let Union {
            layout,
            old_maps,
            new_maps,
            var_at,
            provenance,
            existing_function,
        } = Union::new(&existing, new)?;
        relayout(&mut existing, layout.dims, &old_maps);
        existing.extra_coords = layout.extra_coords;
        existing.aux_coords = layout.aux_coords;
        existing.attrs = layout.attrs;
        Ok(Harvest {
            strides: crate::dataset::strides(&existing.shape()),
            ds: existing,
            conflicts,
            new_shape: new.shape(),
            new_maps,
            var_at,
            count: 0,
            examples: Vec::new(),
            existing_function,
            provenance,
        })
    }

    /// Merges one new cell, `cell` of the new grid: its values are those at `at` (times each
    /// variable's elements) in `cols`, one column per new variable.
    pub fn put(&mut self, cell: usize, cols: &[&Column], at: usize) {
        let to = target(cell, &self.new_shape, &self.new_maps, &self.strides);
        if self.ds.cells[to] == CellState::Ok {
            let differs = self.var_at.iter().zip(cols).find_map(|(&v, col)| {
                let var = &self.ds.vars[v];
                let e = var.elements();
                (0..e)
                    .find(|x| !same_element(&var.data, col, to * e + x, at * e + x))
                    .map(|x| (v, *col, to * e + x, at * e + x))
            });
            let Some((v, col, i, j)) = differs else {
                return;
            };
            match self.conflicts {
                Conflicts::KeepExisting => return,
                Conflicts::Overwrite => {}
                Conflicts::Refuse => {
                    self.count += 1;
                    if self.examples.len() < 3 {
                        let var = &self.ds.vars[v];
                        self.examples.push(conflict(
                            &self.ds.dims,
                            to,
                            &var.name,
                            var.data.get(i),
                            col.get(j),
                        ));
                    }
                    return;
                }
            }
        }
        self.ds.cells[to] = CellState::Ok;
        self.ds.errors.remove(&to);
        for (&v, col) in self.var_at.iter().zip(cols) {
            let var = &mut self.ds.vars[v];
            let e = var.elements();
            var.data.copy_run(to * e, col, at * e, e);
        }
    }

    /// Puts every evaluated cell of `new`, which must be laid out as the layout this
    /// harvest was made for: its values, and its failures.
    pub fn put_dataset(&mut self, new: &Dataset) {
        let cols: Vec<&Column> = new.vars.iter().map(|v| &v.data).collect();
        for (k, state) in new.cells.iter().enumerate() {
            match state {
                CellState::Ok => self.put(k, &cols, k),
                CellState::Failed => {
                    self.put_failure(k, new.errors.get(&k).map_or("", String::as_str))
                }
                CellState::Pending | CellState::Absent => {}
            }
        }
    }

    /// Merges one new failure, of cell `cell` of the new grid: a cell that holds a value keeps
    /// it; any other records the failure.
    pub fn put_failure(&mut self, cell: usize, error: &str) {
        let to = target(cell, &self.new_shape, &self.new_maps, &self.strides);
        if self.ds.cells[to] != CellState::Ok {
            self.ds.cells[to] = CellState::Failed;
            self.ds.errors.insert(to, error.to_string());
        }
    }

    /// The merged dataset, or the conflicts found.
    pub fn finish(mut self) -> Result<Dataset, MergeError> {
        if self.count > 0 {
            return Err(MergeError::Conflicts {
                count: self.count,
                examples: self.examples,
            });
        }
        self.ds.attrs.extend(self.provenance);
        Ok(self.ds)
    }
}

impl crate::dataset::Store for Harvest {
    fn store_cases(
        &mut self,
        space: &crate::BoundSpace,
        cases: crate::CaseSet<'_>,
        cols: &[Column],
        failed: &[crate::dataset::Failed],
    ) {
        let cols: Vec<&Column> = cols.iter().collect();
        let mut failed = failed.iter().peekable();
        for j in 0..cases.len() {
            let cell = space.cell_of(cases.case(j)) as usize;
            match failed.next_if(|(at, _)| *at == j) {
                Some((_, error)) => self.put_failure(cell, error),
                None => self.put(cell, &cols, j),
            }
        }
    }
}

/// Merges `new` into `existing`. See the [module docs](self).
pub fn merge(
    existing: Dataset,
    new: &Dataset,
    conflicts: Conflicts,
) -> Result<Dataset, MergeError> {
    let mut harvest = Harvest::new(existing, new, conflicts)?;
    harvest.put_dataset(new);
    harvest.finish()
}

/// Whether two columns hold the same values, floats bit for bit.
/// The coordinates along dims of `existing` and `new` (sampled arguments) on the united
/// `dims`, where `old_maps` and `new_maps` place each index: they must name the same
/// coordinates, along the same dims, agreeing wherever both have a value.
fn merge_aux(
    existing: &Dataset,
    new: &Dataset,
    dims: &[SweptDim],
    old_maps: &[Vec<usize>],
    new_maps: &[Vec<usize>],
) -> Result<Vec<crate::space::AuxCoord>, MergeError> {
    let mut merged = Vec::with_capacity(new.aux_coords.len());
    for name in existing
        .aux_coords
        .iter()
        .chain(&new.aux_coords)
        .map(|a| &a.name)
    {
        if merged
            .iter()
            .any(|m: &crate::space::AuxCoord| m.name == *name)
        {
            continue;
        }
        let old = existing.aux_coords.iter().find(|a| a.name == *name);
        let new = new.aux_coords.iter().find(|a| a.name == *name);
        let (Some(old), Some(new)) = (old, new) else {
            let along = old.or(new).map_or_else(String::new, |a| a.dim.clone());
            let show = |a: Option<&crate::space::AuxCoord>| {
                a.map_or_else(|| "absent".to_string(), |_| "given".to_string())
            };
            return Err(MergeError::AuxCoords {
                name: name.clone(),
                dim: along,
                at: "every index".into(),
                existing: show(old),
                new: show(new),
            });
        };
        let d = dims.iter().position(|d| d.name == old.dim);
        let Some(d) = d.filter(|_| old.dim == new.dim && old.values.ty() == new.values.ty()) else {
            return Err(MergeError::AuxCoords {
                name: name.clone(),
                dim: old.dim.clone(),
                at: "every index".into(),
                existing: format!("{} along {}", old.values.ty(), old.dim),
                new: format!("{} along {}", new.values.ty(), new.dim),
            });
        };
        let len = dims[d].coords.len();
        let mut slots: Vec<Option<Value>> = vec![None; len];
        for (k, to) in old_maps[d].iter().enumerate() {
            slots[*to] = Some(old.values.get(k));
        }
        for (k, to) in new_maps[d].iter().enumerate() {
            let v = new.values.get(k);
            match &slots[*to] {
                Some(was) if !was.same(&v) => {
                    return Err(MergeError::AuxCoords {
                        name: name.clone(),
                        dim: old.dim.clone(),
                        at: dims[d].coords.get(*to).to_string(),
                        existing: was.to_string(),
                        new: v.to_string(),
                    });
                }
                _ => slots[*to] = Some(v),
            }
        }
        // The united dim is made of the two, so each index has a value from one of them.
        let mut values = Column::new(old.values.ty());
        for v in slots.into_iter().flatten() {
            values.push(&v);
        }
        merged.push(crate::space::AuxCoord {
            name: name.clone(),
            dim: old.dim.clone(),
            values,
        });
    }
    Ok(merged)
}

fn same_column(a: &Column, b: &Column) -> bool {
    a.len() == b.len() && (0..a.len()).all(|i| a.get(i).same(&b.get(i)))
}

/// A cell both datasets hold with different values, described: the variable, the cell's
/// coordinates on `dims` (the merged ones), the value before and now.
pub(crate) fn conflict(
    dims: &[SweptDim],
    cell: usize,
    var: &str,
    before: Value,
    now: Value,
) -> String {
    let shape: Vec<usize> = dims.iter().map(|d| d.coords.len()).collect();
    let place: Vec<String> = dims
        .iter()
        .zip(cell_index(cell, &shape))
        .map(|(d, i)| format!("{}={}", d.name, d.coords.get(i)))
        .collect();
    format!("{var} at {}: {before} before, {now} now", place.join(", "))
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
        run_with(&f(), a, b)
    }

    fn run_with(f: &ClosureFunction, a: &[i64], b: &[f64]) -> Dataset {
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
        Runner::new(f, &Sequential).run(&bound).unwrap().dataset
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
        let merged = merge(stored, &right, Conflicts::Refuse).unwrap();
        assert_eq!(merged.dims, whole.dims);
        assert_eq!(merged.cells, whole.cells);
        assert_eq!(format!("{:?}", merged.vars), format!("{:?}", whole.vars));
    }

    #[test]
    fn failures_merge_where_no_value_is_and_values_replace_them() {
        // a = 4 fails, then succeeds; a = 1 succeeds, then fails.
        let failing = |bad: i64| {
            let sig = "g(a: i64, b: f64) -> (z: f64, odd: bool)".parse().unwrap();
            ClosureFunction::new(sig, move |args| match args {
                [Value::I64(a), _] if *a == bad => Err(format!("no {a}")),
                [Value::I64(a), Value::F64(b)] => {
                    Ok(vec![Value::F64(*a as f64 * b), Value::Bool(a % 2 == 1)])
                }
                _ => unreachable!(),
            })
        };
        let first = run_with(&failing(4), &[1, 4], &[0.5]);
        let second = run_with(&failing(1), &[1, 4, 7], &[0.5]);
        assert_eq!(
            first.errors.get(&1).map(String::as_str),
            Some("error: no 4")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("first.zarr");
        crate::output::write(&first, &path, crate::Format::Zarr, false).unwrap();
        let stored = crate::output::read_zarr(&path).unwrap();
        assert_eq!(stored.errors, first.errors);
        let merged = merge(stored, &second, Conflicts::Refuse).unwrap();
        // a = 1 keeps its value, a = 4 takes the new one, a = 7 is new.
        assert_eq!(merged.cells, [CellState::Ok; 3]);
        assert!(merged.errors.is_empty(), "{:?}", merged.errors);
        // A failure lands where no value is, with its message.
        let third = run_with(&failing(9), &[9], &[0.5]);
        let merged = merge(merged, &third, Conflicts::Refuse).unwrap();
        assert_eq!(merged.cells[3], CellState::Failed);
        assert_eq!(
            merged.errors.get(&3).map(String::as_str),
            Some("error: no 9")
        );
    }

    #[test]
    fn unsorted_coordinates_keep_the_existing_order_then_the_new() {
        let merged = merge(
            run(&[3, 1], &[0.5]),
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
        let err = merge(run(&[1], &[0.5]), &other, Conflicts::Refuse).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the variables differ: the existing dataset has z: f64, odd: bool, the new one z: f64"
        );
    }

    #[test]
    fn grids_grow_in_place_with_strings_and_arrays() {
        let sig = "h(a: i64, b: f64) -> (s: str, v: f64[t=2])"
            .parse()
            .unwrap();
        let h = ClosureFunction::new(sig, |args| match args {
            [Value::I64(a), Value::F64(b)] => Ok(vec![
                Value::Str(format!("{a}/{b}")),
                Value::F64(*a as f64),
                Value::F64(*b),
            ]),
            _ => unreachable!(),
        });
        let run_h = |a: &[i64], b: &[f64]| run_with(&h, a, b);
        let whole = run_h(&[1, 2, 3, 4], &[0.25, 0.5]);
        let merged = merge(
            run_h(&[1, 3], &[0.5]),
            &run_h(&[2, 4], &[0.25, 0.5]),
            Conflicts::Refuse,
        )
        .unwrap();
        assert_eq!(merged.dims, whole.dims);
        for (k, state) in merged.cells.iter().enumerate() {
            // (1, 0.25) and (3, 0.25) are in neither dataset.
            let absent = k == 0 || k == 4;
            assert_eq!(*state == CellState::Absent, absent, "cell {k}");
            for (m, w) in merged.vars.iter().zip(&whole.vars) {
                let e = m.elements();
                for x in k * e..(k + 1) * e {
                    if absent {
                        assert!(
                            matches!(m.data.get(x), Value::Str(s) if s.is_empty())
                                || matches!(m.data.get(x), Value::F64(f) if f.is_nan())
                        );
                    } else {
                        assert!(m.data.get(x).same(&w.data.get(x)), "{} at {x}", m.name);
                    }
                }
            }
        }
    }
}
