//! Binding a space to a signature: every argument checked, coerced and counted, the cases
//! numbered and the grid laid out.

use std::collections::HashMap;

use xyz_abi::{ScalarType, Signature};

use crate::value::{Column, Value, ValueKey};

use super::{
    AuxCoord, BoundSpace, MAX_CELLS, ParamSpace, Place, SAMPLE_DIM, Source, SpaceError, SweptDim,
};

impl ParamSpace {
    /// Checks the space against `sig` and numbers its cases.
    pub fn bind(&self, sig: &Signature) -> Result<BoundSpace, SpaceError> {
        let function = sig.name.clone();
        let known = || {
            sig.args
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut given: HashMap<&str, Place> = HashMap::new();
        if self.samples.is_some() && !self.cases.is_empty() {
            return Err(SpaceError::SamplesWithCases);
        }
        if self.points.is_some() && (self.samples.is_some() || !self.cases.is_empty()) {
            return Err(SpaceError::PointsWithCases);
        }
        // Samples or points: rows along a dim of their own.
        let (line_dim, line_place, lined): (&str, Place, Vec<&str>) =
            match (&self.samples, &self.points) {
                (Some(s), _) => (
                    SAMPLE_DIM,
                    Place::Samples,
                    s.args.iter().map(|(n, _)| n.as_str()).collect(),
                ),
                (None, Some(p)) => (
                    p.dim.as_str(),
                    Place::Adaptive,
                    p.args.iter().map(String::as_str).collect(),
                ),
                (None, None) => ("", Place::Samples, Vec::new()),
            };
        if !line_dim.is_empty() {
            let taken = if self.combos.iter().any(|(n, _)| n == line_dim) {
                Some("combo")
            } else if lined.contains(&line_dim) {
                Some(if line_place == Place::Samples {
                    "sampled argument"
                } else {
                    "adaptive argument"
                })
            } else if sig.outputs.iter().any(|o| o.name == line_dim) {
                Some("output")
            } else if sig
                .outputs
                .iter()
                .any(|o| o.dims.iter().any(|d| d.name == line_dim))
            {
                Some("extra dim of an output")
            } else {
                None
            };
            if let Some(what) = taken {
                return Err(SpaceError::SampleDimTaken {
                    dim: line_dim.to_string(),
                    what,
                });
            }
        }
        let sampled = lined;
        let case_names: Vec<&str> = self
            .cases
            .first()
            .map(|c| c.iter().map(|(n, _)| n.as_str()).collect())
            .unwrap_or_default();
        let names = self
            .combos
            .iter()
            .map(|(n, _)| (n.as_str(), Place::Combos))
            .chain(case_names.iter().map(|n| (*n, Place::Cases)))
            .chain(sampled.iter().map(|n| (*n, line_place)))
            .chain(
                self.constants
                    .iter()
                    .map(|(n, _)| (n.as_str(), Place::Constants)),
            );
        for (name, place) in names {
            if sig.arg(name).is_none() {
                return Err(SpaceError::UnknownArg {
                    name: name.to_string(),
                    place,
                    function,
                    known: known(),
                });
            }
            if let Some(first) = given.insert(name, place) {
                return Err(SpaceError::Duplicate {
                    name: name.to_string(),
                    first,
                    second: place,
                });
            }
        }
        let missing: Vec<(String, ScalarType)> = sig
            .args
            .iter()
            .filter(|a| !given.contains_key(a.name.as_str()))
            .map(|a| (a.name.clone(), a.ty))
            .collect();
        if !missing.is_empty() {
            return Err(SpaceError::MissingArg {
                args: missing,
                function,
            });
        }
        let ty_of = |name: &str| sig.arg(name).map(|(_, a)| a.ty).unwrap_or(ScalarType::Str);

        // Cases: every case gives the same names; values typed; coords in first-seen order.
        let mut case_dims: Vec<(String, Column)> = case_names
            .iter()
            .map(|n| (n.to_string(), Column::new(ty_of(n))))
            .collect();
        let mut case_rows: Vec<Vec<Value>> = Vec::with_capacity(self.cases.len());
        let mut case_cells: Vec<u64> = Vec::with_capacity(self.cases.len());
        let mut indices: Vec<HashMap<ValueKey, usize>> = vec![HashMap::new(); case_names.len()];
        let mut row_indices: Vec<Vec<usize>> = Vec::with_capacity(self.cases.len());
        for (ci, case) in self.cases.iter().enumerate() {
            let mut row = Vec::with_capacity(case_names.len());
            let mut idx = Vec::with_capacity(case_names.len());
            if case.len() != case_names.len()
                || case.iter().zip(&case_names).any(|((n, _), m)| n != m)
            {
                let these: Vec<&str> = case.iter().map(|(n, _)| n.as_str()).collect();
                return Err(SpaceError::BadCase {
                    index: ci + 1,
                    message: format!(
                        "gives [{}] but the first case gives [{}]; every case must give the same \
                         arguments, in the same order",
                        these.join(", "),
                        case_names.join(", ")
                    ),
                });
            }
            for (k, (name, value)) in case.iter().enumerate() {
                let v = coerce(value, ty_of(name)).ok_or_else(|| SpaceError::WrongType {
                    name: name.clone(),
                    place: Place::Cases,
                    expected: ty_of(name),
                    found: value.clone(),
                    found_ty: value.ty(),
                })?;
                check_finite(name, Place::Cases, &v)?;
                let key = ValueKey::of(&v);
                let next = indices[k].len();
                let at = *indices[k].entry(key).or_insert_with(|| {
                    case_dims[k].1.push(&v);
                    next
                });
                idx.push(at);
                row.push(v);
            }
            row_indices.push(idx);
            case_rows.push(row);
        }
        let case_sizes: Vec<u64> = case_dims.iter().map(|(_, c)| c.len() as u64).collect();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for (ci, idx) in row_indices.iter().enumerate() {
            let cell = idx
                .iter()
                .zip(&case_sizes)
                .fold(0u64, |acc, (i, s)| acc * s + *i as u64);
            if let Some(first) = seen.insert(cell, ci) {
                return Err(SpaceError::BadCase {
                    index: ci + 1,
                    message: format!("repeats case {}", first + 1),
                });
            }
            case_cells.push(cell);
        }
        // Samples or points: their rows, along one dim numbered from 0.
        let mut aux_coords = Vec::new();
        let case_names = match (&self.samples, &self.points) {
            (None, None) => case_names,
            (None, Some(points)) => {
                case_rows = Vec::with_capacity(points.rows.len());
                for row in &points.rows {
                    let mut typed = Vec::with_capacity(row.len());
                    for (v, name) in row.iter().zip(&points.args) {
                        let expected = ty_of(name);
                        let c = coerce(v, expected).ok_or_else(|| SpaceError::WrongType {
                            name: name.clone(),
                            place: Place::Adaptive,
                            expected,
                            found: v.clone(),
                            found_ty: v.ty(),
                        })?;
                        check_finite(name, Place::Adaptive, &c)?;
                        typed.push(c);
                    }
                    case_rows.push(typed);
                }
                let n = case_rows.len();
                case_cells = (0..n as u64).collect();
                case_dims = vec![(points.dim.clone(), Column::I64((0..n as i64).collect()))];
                for (j, name) in points.args.iter().enumerate() {
                    let mut values = Column::new(ty_of(name));
                    values.reserve(n);
                    for row in &case_rows {
                        values.push(&row[j]);
                    }
                    aux_coords.push(AuxCoord {
                        name: name.clone(),
                        dim: points.dim.clone(),
                        values,
                    });
                }
                sampled
            }
            (Some(samples), _) => {
                // A choice of values that convert to the argument's type (complex numbers as
                // text) is drawn, then converted.
                let mut convert = Vec::new();
                for (j, (name, dist)) in samples.args.iter().enumerate() {
                    let expected = ty_of(name);
                    let converts = match dist {
                        crate::sample::Distribution::Choice(values) => {
                            values.iter().all(|v| coerce(v, expected).is_some())
                        }
                        _ => false,
                    };
                    if dist.ty() != expected && !converts {
                        return Err(SpaceError::WrongSampleType {
                            name: name.clone(),
                            expected,
                            found: dist.ty(),
                        });
                    }
                    if dist.ty() != expected {
                        convert.push((j, expected));
                    }
                }
                case_rows = samples.draw();
                for row in &mut case_rows {
                    for &(j, ty) in &convert {
                        row[j] = coerce(&row[j], ty).expect("checked to convert");
                    }
                    for (v, (name, _)) in row.iter().zip(&samples.args) {
                        check_finite(name, Place::Samples, v)?;
                    }
                }
                case_cells = (0..samples.n).collect();
                case_dims = vec![(
                    SAMPLE_DIM.to_string(),
                    Column::I64((0..samples.n as i64).collect()),
                )];
                for (j, (name, _)) in samples.args.iter().enumerate() {
                    let mut values = Column::new(ty_of(name));
                    values.reserve(case_rows.len());
                    for row in &case_rows {
                        values.push(&row[j]);
                    }
                    aux_coords.push(AuxCoord {
                        name: name.clone(),
                        dim: SAMPLE_DIM.to_string(),
                        values,
                    });
                }
                sampled
            }
        };
        if case_rows.is_empty() {
            case_rows.push(Vec::new());
            case_cells.push(0);
        }

        // The grid's size, from the combos' lengths, before any of their values is made: a
        // product past what a dataset may hold is refused here, not by running out of memory.
        let mut shape: Vec<(String, u64)> = case_dims
            .iter()
            .map(|(name, coords)| (name.clone(), coords.len() as u64))
            .collect();
        for (name, spec) in &self.combos {
            let len = spec.count().map_err(|source| SpaceError::BadCombo {
                name: name.clone(),
                source,
            })?;
            shape.push((name.clone(), len));
        }
        check_cells(&shape)?;

        // Combos.
        let mut combo_dims = Vec::with_capacity(self.combos.len());
        for (name, spec) in &self.combos {
            // Borrowed where the combo is a list already (a long one is not copied).
            let values = spec.values_cow().map_err(|source| SpaceError::BadCombo {
                name: name.clone(),
                source,
            })?;
            let ty = ty_of(name);
            let mut col = Column::new(ty);
            col.reserve(values.len());
            let mut retyped = false;
            for v in values.iter() {
                let c = coerce(v, ty).ok_or_else(|| SpaceError::WrongType {
                    name: name.clone(),
                    place: Place::Combos,
                    expected: ty,
                    found: v.clone(),
                    found_ty: v.ty(),
                })?;
                check_finite(name, Place::Combos, &c)?;
                retyped |= v.ty() != c.ty();
                col.push(&c);
            }
            // Values unique as given may be one coordinate as the argument's type: "0j" and
            // "-0j" as complex numbers.
            if retyped {
                let coerced: Vec<Value> = (0..col.len()).map(|i| col.get(i)).collect();
                crate::combo::check_unique(&coerced).map_err(|source| SpaceError::BadCombo {
                    name: name.clone(),
                    source,
                })?;
            }
            combo_dims.push((name.clone(), col));
        }

        let mut constants = Vec::with_capacity(self.constants.len());
        for (name, value) in &self.constants {
            let ty = ty_of(name);
            let v = coerce(value, ty).ok_or_else(|| SpaceError::WrongType {
                name: name.clone(),
                place: Place::Constants,
                expected: ty,
                found: value.clone(),
                found_ty: value.ty(),
            })?;
            constants.push((name.clone(), v));
        }

        let n_case_dims = case_dims.len();
        let dims: Vec<SweptDim> = case_dims
            .into_iter()
            .chain(combo_dims)
            .map(|(name, coords)| SweptDim { name, coords })
            .collect();
        let combo_sizes: Vec<u64> = dims[n_case_dims..]
            .iter()
            .map(|d| d.coords.len() as u64)
            .collect();
        let shape: Vec<(String, u64)> = dims
            .iter()
            .map(|d| (d.name.clone(), d.coords.len() as u64))
            .collect();
        check_cells(&shape)?;
        let n_combos: u64 = combo_sizes.iter().product();
        let mut strides = vec![1u64; combo_sizes.len()];
        for d in (0..combo_sizes.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * combo_sizes[d + 1];
        }
        let sources = sig
            .args
            .iter()
            .map(|arg| {
                if let Some(d) = self.combos.iter().position(|(n, _)| *n == arg.name) {
                    Source::Combo(n_case_dims + d)
                } else if let Some(c) = case_names.iter().position(|n| *n == arg.name) {
                    Source::Case(c)
                } else {
                    let v = constants
                        .iter()
                        .find(|(n, _)| *n == arg.name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or(Value::I64(0));
                    Source::Constant(v)
                }
            })
            .collect();
        let len = case_rows.len() as u64 * n_combos;
        Ok(BoundSpace {
            dims,
            aux_coords,
            n_case_dims,
            case_rows,
            case_cells,
            n_combos,
            strides,
            sources,
            constants,
            len,
        })
    }
}

/// Refuses a coordinate `v` of `name`, given in `place`, that is not a finite number.
fn check_finite(name: &str, place: Place, v: &Value) -> Result<(), SpaceError> {
    let finite = match v {
        Value::F64(x) => x.is_finite(),
        Value::C128(z) => z.re.is_finite() && z.im.is_finite(),
        _ => true,
    };
    if finite {
        Ok(())
    } else {
        Err(SpaceError::NotFinite {
            name: name.to_string(),
            place,
            value: v.clone(),
        })
    }
}

/// Refuses a grid of `shape` (each dim's name and length) with more than [`MAX_CELLS`] cells.
fn check_cells(shape: &[(String, u64)]) -> Result<(), SpaceError> {
    let cells = shape
        .iter()
        .try_fold(1u64, |n, (_, len)| n.checked_mul(*len));
    if cells.is_none_or(|c| c > MAX_CELLS) {
        let shape: Vec<String> = shape
            .iter()
            .map(|(name, len)| format!("{name}={len}"))
            .collect();
        return Err(SpaceError::TooLarge {
            cells: cells.map_or_else(|| "more than 2^64".to_string(), |c| c.to_string()),
            shape: shape.join(" × "),
        });
    }
    Ok(())
}

pub(super) fn expected_text(ty: ScalarType) -> String {
    match ty {
        ScalarType::C128 => {
            "c128 (a number, a string such as \"1.5-2j\", or { re = 1.5, im = -2.0 })".into()
        }
        ty => ty.to_string(),
    }
}

/// Converts `v` to type `ty` where that loses nothing: an integer where a float is expected,
/// a real number or the text of a complex one (`"1.5-2j"`) where a complex one is.
fn coerce(v: &Value, ty: ScalarType) -> Option<Value> {
    match (v, ty) {
        (Value::I64(i), ScalarType::F64) => crate::combo::exact_float(*i).map(Value::F64),
        (Value::I64(i), ScalarType::C128) => crate::combo::exact_float(*i)
            .map(|re| Value::C128(crate::value::Complex64::new(re, 0.0))),
        (Value::F64(re), ScalarType::C128) => {
            Some(Value::C128(crate::value::Complex64::new(*re, 0.0)))
        }
        (Value::Str(text), ScalarType::C128) => crate::value::parse_complex(text).map(Value::C128),
        (v, ty) if v.ty() == ty => Some(v.clone()),
        _ => None,
    }
}
