//! Reading back a classic netCDF file (CDF-1, CDF-2 or CDF-5).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use xyz_abi::ExtraDim;

use super::header::{ParsedHeader, VarInfo, parse_header};
use super::{Attr, NC_BYTE, NC_CHAR, NC_DOUBLE, NC_INT, NC_INT64, attr, type_size};
use crate::dataset::{CellState, DataVar, Dataset, ERROR_VAR, MISSING_I64, STATUS_VAR};
use crate::output::ReadError;
use crate::output::conventions::{cells_of, extra_dim_names};
use crate::space::{AuxCoord, SweptDim};
use crate::value::Column;

/// Reads a variable's values: `n` values of `size` bytes from `begin`. A header that places
/// them past the end of the file (a damaged one) is refused before anything is allocated.
fn read_values(file: &mut File, v: &VarInfo, n: usize) -> io::Result<Vec<u8>> {
    let size = type_size(v.nc_type).unwrap_or(1);
    let len = file.metadata()?.len();
    let bytes = n
        .checked_mul(size)
        .filter(|b| v.begin.checked_add(*b as u64).is_some_and(|end| end <= len))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "variable `{}` would hold {n} values of {size} bytes from byte {}, past the \
                     end of the file ({len} bytes): the file is damaged",
                    v.name, v.begin
                ),
            )
        })?;
    let mut buf = vec![0; bytes];
    file.seek(SeekFrom::Start(v.begin))?;
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// Opens `path` and reads its header: the header comes first and is small next to the data,
/// so it is read whole, the buffer growing until it parses.
fn open(path: &Path) -> Result<(File, ParsedHeader), ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let mut file = crate::shared_fs::open_regular(path).map_err(|e| fail(e.to_string()))?;
    let len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
    let mut want = 1 << 16;
    loop {
        let mut buf = Vec::new();
        (&mut file)
            .take(want)
            .read_to_end(&mut buf)
            .map_err(|e| fail(e.to_string()))?;
        match parse_header(&buf) {
            Ok(h) => return Ok((file, h)),
            Err(e) if e == "the header ends early" && want < len => want *= 4,
            Err(e) => return Err(fail(e)),
        }
    }
}

/// Checks, from its header alone, that `path` is a netCDF file [`read`] can open.
pub(super) fn probe(path: &Path) -> Result<(), ReadError> {
    open(path).map(|_| ())
}

pub(super) fn read(path: &Path) -> Result<Dataset, ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let (mut file, (dims, globals, infos)) = open(path)?;
    // Coordinate variables: named after their first dim, over that dim (and a char dim).
    let is_coord = |v: &VarInfo| {
        v.dims.first().is_some_and(|d| dims[*d].0 == v.name)
            && (v.dims.len() == 1 || (v.dims.len() == 2 && v.nc_type == NC_CHAR))
    };
    let is_own = |v: &VarInfo| v.name == STATUS_VAR || v.name == ERROR_VAR;
    // Variables that others name as coordinates (CF's `coordinates`), over one dim (and a
    // char dim): the sampled arguments.
    let named: Vec<&str> = infos
        .iter()
        .filter_map(|v| match attr(&v.attrs, "coordinates") {
            Some(Attr::Text(t)) => Some(t.as_str()),
            _ => None,
        })
        .flat_map(str::split_whitespace)
        .collect();
    let is_aux = |v: &VarInfo| {
        !is_coord(v)
            && named.contains(&v.name.as_str())
            && (v.dims.len() == 1 || (v.dims.len() == 2 && v.nc_type == NC_CHAR))
    };
    let data_infos: Vec<&VarInfo> = infos
        .iter()
        .filter(|v| !is_coord(v) && !is_own(v) && !is_aux(v))
        .collect();
    // Coordinates of the outputs' extra dims, as the signature xyz keeps names them.
    let signature = globals.iter().find_map(|(k, a)| match a {
        Attr::Text(t) if k == "xyz_function" => Some(t.as_str()),
        _ => None,
    });
    let extra_names = extra_dim_names(signature);
    let is_extra = |v: &VarInfo| is_coord(v) && extra_names.contains(&v.name);
    let coord_dims: Vec<usize> = infos
        .iter()
        .filter(|v| is_coord(v) && !is_extra(v))
        .map(|v| v.dims[0])
        .collect();
    let swept: Vec<usize> = match data_infos.first() {
        Some(first) => first
            .dims
            .iter()
            .copied()
            .take_while(|d| coord_dims.contains(d))
            .collect(),
        None => coord_dims.clone(),
    };

    // The cells' states and failures, straight from their bytes: one byte a cell, and a row
    // of characters a cell of which only the failures' are kept.
    let mut states = None;
    let mut errors = BTreeMap::new();
    for v in infos.iter().filter(|v| is_own(v)) {
        let what = |m: &str| fail(format!("variable `{}`: {m}", v.name));
        let over_swept = match v.nc_type {
            NC_CHAR => v.dims.get(..v.dims.len().saturating_sub(1)),
            _ => Some(&v.dims[..]),
        };
        if over_swept != Some(&swept[..]) {
            return Err(what("is not over the swept dims alone"));
        }
        let shape: Vec<usize> = v.dims.iter().map(|d| dims[*d].1).collect();
        let n: usize = shape.iter().product();
        let bytes = read_values(&mut file, v, n).map_err(|e| what(&format!("{e}")))?;
        match v.nc_type {
            NC_BYTE if v.name == STATUS_VAR => {
                let cells = bytes
                    .iter()
                    .map(|c| CellState::from_status(i64::from(i8::from_be_bytes([*c]))))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        what("holds a status code other than 0, 1, 2 and 3 (damaged)")
                    })?;
                states = Some(cells);
            }
            NC_CHAR if v.name == ERROR_VAR => {
                let width = shape.last().copied().unwrap_or(1).max(1);
                for (cell, row) in bytes.chunks(width).enumerate() {
                    let end = row.iter().position(|b| *b == 0).unwrap_or(row.len());
                    if end > 0 {
                        let text = String::from_utf8(row[..end].to_vec())
                            .map_err(|_| what("a failure not in UTF-8"))?;
                        errors.insert(cell, text);
                    }
                }
            }
            _ => {
                return Err(what(
                    "has the wrong type: xyz_status is a byte and xyz_error characters",
                ));
            }
        }
    }

    let mut read_column = |v: &VarInfo,
                           shape: &[usize]|
     -> Result<(Column, Option<i64>), ReadError> {
        let what = |m: &str| fail(format!("variable `{}`: {m}", v.name));
        let n: usize = shape.iter().product();
        let bytes = read_values(&mut file, v, n).map_err(|e| what(&format!("{e}")))?;
        let fill = attr(&v.attrs, "_FillValue");
        Ok(match v.nc_type {
            NC_DOUBLE => (
                Column::F64(
                    bytes
                        .chunks(8)
                        .map(|c| f64::from_be_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                None,
            ),
            NC_INT64 | NC_INT => {
                let size = type_size(v.nc_type).unwrap_or(8);
                let values = bytes
                    .chunks(size)
                    .map(|c| {
                        if size == 8 {
                            i64::from_be_bytes(c.try_into().expect("8 bytes"))
                        } else {
                            i64::from(i32::from_be_bytes(c.try_into().expect("4 bytes")))
                        }
                    })
                    .collect();
                let fill = match fill {
                    Some(Attr::Ints(f)) => f.first().copied(),
                    _ => None,
                };
                (Column::I64(values), fill)
            }
            NC_BYTE => {
                let is_bool = matches!(attr(&v.attrs, "dtype"), Some(Attr::Text(t)) if t == "bool")
                    || matches!(fill, Some(Attr::Bytes(f)) if f == &[-1]);
                if !is_bool {
                    return Err(what("a byte variable that is not a boolean"));
                }
                // Booleans come back as their bytes (-1 where missing) for the caller to
                // tell the cells apart.
                let marks = bytes.iter().map(|b| i64::from(i8::from_be_bytes([*b])));
                (Column::I64(marks.collect()), Some(-1))
            }
            NC_CHAR => {
                let width = *shape.last().unwrap_or(&1);
                let strings = bytes
                    .chunks(width.max(1))
                    .map(|c| {
                        let end = c.iter().position(|b| *b == 0).unwrap_or(c.len());
                        String::from_utf8(c[..end].to_vec())
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|_| what("a string not in UTF-8"))?;
                (Column::Str(strings), None)
            }
            t => return Err(what(&format!("type {t}, which xyz does not write"))),
        })
    };

    // A coordinate variable, booleans back from their bytes.
    let mut coordinate = |v: &VarInfo| -> Result<SweptDim, ReadError> {
        let shape: Vec<usize> = v.dims.iter().map(|d| dims[*d].1).collect();
        let coords = match read_column(v, &shape)?.0 {
            Column::I64(marks) if v.nc_type == NC_BYTE => {
                Column::Bool(marks.iter().map(|m| *m == 1).collect())
            }
            c => c,
        };
        Ok(SweptDim {
            name: v.name.clone(),
            coords,
        })
    };
    let mut swept_dims = Vec::with_capacity(swept.len());
    for d in &swept {
        let v = infos
            .iter()
            .find(|v| is_coord(v) && v.dims[0] == *d)
            .expect("swept dims have coordinates");
        swept_dims.push(coordinate(v)?);
    }
    let mut extra_coords = Vec::new();
    for v in infos.iter().filter(|v| is_extra(v)) {
        extra_coords.push(coordinate(v)?);
    }
    let mut aux_coords = Vec::new();
    for v in infos.iter().filter(|v| is_aux(v)) {
        let along = v.dims[0];
        if !swept.contains(&along) {
            return Err(fail(format!(
                "coordinate `{}` lies along `{}`, which is not a swept dim",
                v.name, dims[along].0
            )));
        }
        let values = coordinate(v)?.coords;
        aux_coords.push(AuxCoord {
            name: v.name.clone(),
            dim: dims[along].0.clone(),
            values,
        });
    }
    let n_cells: usize = swept_dims.iter().map(|d| d.coords.len()).product();
    let mut present = vec![false; n_cells];
    let mut any_present_info = false;
    let mut vars = Vec::with_capacity(data_infos.len());
    for v in data_infos {
        if v.dims.get(..swept.len()) != Some(&swept[..]) {
            return Err(fail(format!(
                "variable `{}` is not over the swept dims ({}) first",
                v.name,
                swept
                    .iter()
                    .map(|d| dims[*d].0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let shape: Vec<usize> = v.dims.iter().map(|d| dims[*d].1).collect();
        let extra_end = if v.nc_type == NC_CHAR {
            v.dims.len() - 1
        } else {
            v.dims.len()
        };
        let extra_dims: Vec<ExtraDim> = v.dims[swept.len()..extra_end]
            .iter()
            .map(|d| ExtraDim {
                name: dims[*d].0.clone(),
                size: dims[*d].1 as u32,
            })
            .collect();
        let e: usize = extra_dims
            .iter()
            .map(|d| d.size as usize)
            .product::<usize>()
            .max(1);
        let (col, fill) = read_column(v, &shape)?;
        let mut mark = |k: usize, here: bool| {
            if here {
                present[k / e] = true;
            }
        };
        let data = match col {
            Column::F64(values) => {
                any_present_info = true;
                values
                    .iter()
                    .enumerate()
                    .for_each(|(k, x)| mark(k, !x.is_nan()));
                Column::F64(values)
            }
            Column::I64(values) if v.nc_type == NC_BYTE => {
                any_present_info = true;
                values
                    .iter()
                    .enumerate()
                    .for_each(|(k, x)| mark(k, *x != -1));
                Column::Bool(values.iter().map(|m| *m == 1).collect())
            }
            Column::I64(mut values) => {
                any_present_info = true;
                let missing = fill.unwrap_or(MISSING_I64);
                for (k, x) in values.iter_mut().enumerate() {
                    mark(k, *x != missing);
                    if *x == missing {
                        *x = MISSING_I64;
                    }
                }
                Column::I64(values)
            }
            other => other,
        };
        vars.push(DataVar {
            name: v.name.clone(),
            ty: data.ty(),
            extra_dims,
            data,
        });
    }
    let cells = match states {
        Some(states) => states,
        None => cells_of(present, any_present_info),
    };
    let attrs = globals
        .iter()
        .filter_map(|(k, a)| Some((k.clone(), a.value()?)))
        .collect();
    Ok(Dataset {
        dims: swept_dims,
        vars,
        cells,
        errors,
        extra_coords,
        aux_coords,
        attrs,
    })
}
