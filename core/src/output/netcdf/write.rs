//! Writing a dataset as a classic netCDF file (CDF-2 or CDF-5).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::header::Header;
use super::{Attr, NC_BYTE, NC_CHAR, NC_DIMENSION, NC_DOUBLE, NC_INT64, NC_VARIABLE, pad4};
use crate::dataset::{Dataset, ERROR_VAR, STATUS_MEANINGS, STATUS_VAR};
use crate::output::Format;
use crate::value::Column;

/// The values of one variable, as they go to disk.
enum Data<'a> {
    F64(&'a [f64]),
    I64(&'a [i64]),
    I8(Vec<i8>),
    /// Strings padded with NULs to `width` bytes.
    Chars(&'a [String], usize),
    /// The failures of `n` cells, padded with NULs to `width` bytes; empty for the cells not
    /// listed.
    Errors(&'a BTreeMap<usize, String>, usize, usize),
}

impl Data<'_> {
    fn nc_type(&self) -> u32 {
        match self {
            Data::F64(_) => NC_DOUBLE,
            Data::I64(_) => NC_INT64,
            Data::I8(_) => NC_BYTE,
            Data::Chars(..) | Data::Errors(..) => NC_CHAR,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Data::F64(v) => v.len() * 8,
            Data::I64(v) => v.len() * 8,
            Data::I8(v) => v.len(),
            Data::Chars(v, w) => v.len() * w,
            Data::Errors(_, n, w) => n * w,
        }
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        match self {
            Data::F64(v) => v.iter().try_for_each(|x| out.write_all(&x.to_be_bytes())),
            Data::I64(v) => v.iter().try_for_each(|x| out.write_all(&x.to_be_bytes())),
            Data::I8(v) => v.iter().try_for_each(|x| out.write_all(&x.to_be_bytes())),
            Data::Chars(v, w) => v.iter().try_for_each(|s| {
                out.write_all(s.as_bytes())?;
                out.write_all(&vec![0; w - s.len()])
            }),
            Data::Errors(errors, n, w) => {
                let blank = vec![0; *w];
                let mut next = 0;
                for (k, e) in errors.range(..*n) {
                    (next..*k).try_for_each(|_| out.write_all(&blank))?;
                    out.write_all(e.as_bytes())?;
                    out.write_all(&blank[e.len()..])?;
                    next = k + 1;
                }
                (next..*n).try_for_each(|_| out.write_all(&blank))
            }
        }?;
        out.write_all(&[0; 3][..pad4(self.bytes()) - self.bytes()])
    }
}

struct Var<'a> {
    name: String,
    dims: Vec<usize>,
    attrs: Vec<(String, Attr)>,
    data: Data<'a>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The index of dim `name` of `size` in `dims`, added if new.
fn dim_id(dims: &mut Vec<(String, usize)>, name: &str, size: usize) -> io::Result<usize> {
    match dims.iter().position(|(n, _)| n == name) {
        Some(i) if dims[i].1 == size => Ok(i),
        Some(i) => Err(invalid(format!(
            "dim `{name}` has size {} and {size}; netCDF needs one size per dim",
            dims[i].1
        ))),
        None => {
            dims.push((name.to_owned(), size));
            Ok(dims.len() - 1)
        }
    }
}

/// A column as stored when none of its values is missing: booleans as bytes marked
/// `dtype = "bool"`, strings as characters over a last dim as long as the longest.
fn plain<'a>(
    col: &'a Column,
    ids: &mut Vec<usize>,
    attrs: &mut Vec<(String, Attr)>,
    dims: &mut Vec<(String, usize)>,
) -> io::Result<Data<'a>> {
    Ok(match col {
        Column::F64(v) => Data::F64(v),
        Column::C128(_) => {
            return Err(invalid(
                "complex values, which netCDF's classic formats cannot hold".into(),
            ));
        }
        Column::I64(v) => Data::I64(v),
        Column::Bool(v) => {
            attrs.push(("dtype".into(), Attr::Text("bool".into())));
            Data::I8(v.iter().map(|b| i8::from(*b)).collect())
        }
        Column::Str(v) => {
            let w = v.iter().map(String::len).max().unwrap_or(0).max(1);
            ids.push(dim_id(dims, &format!("string{w}"), w)?);
            attrs.push(("_Encoding".into(), Attr::Text("utf-8".into())));
            Data::Chars(v, w)
        }
    })
}

pub(super) fn write(ds: &Dataset, path: &Path) -> io::Result<()> {
    if let Some(why) = Format::Netcdf.refuses(ds) {
        return Err(invalid(why));
    }
    let mut dims: Vec<(String, usize)> = ds
        .dims
        .iter()
        .map(|d| (d.name.clone(), d.coords.len()))
        .collect();
    let mut vars: Vec<Var<'_>> = Vec::new();
    // Coordinate variables: the swept dims' (dims 0, 1, …), then the extra dims' that have
    // coordinates, then the sampled arguments along their dim, which every variable names in
    // its `coordinates` (CF's convention, which xarray follows).
    let coords = ds
        .dims
        .iter()
        .chain(&ds.extra_coords)
        .map(|d| (&d.name, &d.name, &d.coords))
        .chain(ds.aux_coords.iter().map(|a| (&a.name, &a.dim, &a.values)));
    for (name, dim, values) in coords {
        let mut ids = vec![dim_id(&mut dims, dim, values.len())?];
        let mut attrs = Vec::new();
        let data = plain(values, &mut ids, &mut attrs, &mut dims)?;
        vars.push(Var {
            name: name.clone(),
            dims: ids,
            attrs,
            data,
        });
    }
    let names: Vec<&str> = ds.aux_coords.iter().map(|a| a.name.as_str()).collect();
    let coordinates = |attrs: &mut Vec<(String, Attr)>| {
        if !names.is_empty() {
            attrs.push(("coordinates".into(), Attr::Text(names.join(" "))));
        }
    };
    for var in &ds.vars {
        let mut ids: Vec<usize> = (0..ds.dims.len()).collect();
        for d in &var.extra_dims {
            ids.push(dim_id(&mut dims, &d.name, d.size as usize)?);
        }
        let mut attrs = Vec::new();
        let data = match &var.data {
            Column::F64(v) => {
                attrs.push(("_FillValue".into(), Attr::Doubles(vec![f64::NAN])));
                Data::F64(v)
            }
            col => plain(col, &mut ids, &mut attrs, &mut dims)?,
        };
        coordinates(&mut attrs);
        if vars.iter().any(|v| v.name == var.name) {
            return Err(invalid(format!(
                "output `{}` has the name of a dim; netCDF needs them apart",
                var.name
            )));
        }
        vars.push(Var {
            name: var.name.clone(),
            dims: ids,
            attrs,
            data,
        });
    }
    let swept: Vec<usize> = (0..ds.dims.len()).collect();
    let mut status_attrs = vec![
        (
            "long_name".into(),
            Attr::Text("status of the cell's case".into()),
        ),
        ("flag_values".into(), Attr::Bytes(vec![0, 1, 2, 3])),
        ("flag_meanings".into(), Attr::Text(STATUS_MEANINGS.into())),
    ];
    coordinates(&mut status_attrs);
    vars.push(Var {
        name: STATUS_VAR.into(),
        dims: swept.clone(),
        attrs: status_attrs,
        data: Data::I8(ds.cells.iter().map(|c| c.status()).collect()),
    });
    let width = ds
        .errors
        .values()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut ids = swept;
    ids.push(dim_id(&mut dims, &format!("string{width}"), width)?);
    vars.push(Var {
        name: ERROR_VAR.into(),
        dims: ids,
        attrs: vec![
            (
                "long_name".into(),
                Attr::Text("why the cell's case failed: kind and message".into()),
            ),
            ("_Encoding".into(), Attr::Text("utf-8".into())),
        ],
        data: Data::Errors(&ds.errors, ds.cells.len(), width),
    });
    let globals: Vec<(String, Attr)> = ds
        .attrs
        .iter()
        .map(|(k, v)| (k.clone(), Attr::of(v)))
        .collect();

    // CDF-2 unless something needs CDF-5: a 64-bit integer, or a size past 32 bits.
    let fits32 = |v: &i64| i32::try_from(*v).is_ok();
    let big_ints = |attrs: &[(String, Attr)]| {
        attrs
            .iter()
            .any(|(_, a)| matches!(a, Attr::Ints(v) if !v.iter().all(fits32)))
    };
    let cdf5 = vars.iter().any(|v| {
        matches!(v.data, Data::I64(_))
            || pad4(v.data.bytes()) as u64 >= u64::from(u32::MAX)
            || big_ints(&v.attrs)
    }) || dims.iter().any(|(_, s)| *s as u64 >= u64::from(u32::MAX))
        || big_ints(&globals);
    let mut h = Header {
        cdf5,
        ..Header::default()
    };
    h.buf
        .extend_from_slice(if cdf5 { b"CDF\x05" } else { b"CDF\x02" });
    h.count(0);
    if dims.is_empty() {
        h.u32(0);
        h.count(0);
    } else {
        h.u32(NC_DIMENSION);
        h.count(dims.len() as u64);
        for (name, size) in &dims {
            h.name(name);
            h.count(*size as u64);
        }
    }
    h.attrs(&globals);
    if vars.is_empty() {
        h.u32(0);
        h.count(0);
    } else {
        h.u32(NC_VARIABLE);
        h.count(vars.len() as u64);
        for v in &vars {
            h.name(&v.name);
            h.count(v.dims.len() as u64);
            v.dims.iter().for_each(|d| h.count(*d as u64));
            h.attrs(&v.attrs);
            h.u32(v.data.nc_type());
            h.count(pad4(v.data.bytes()) as u64);
            h.begins.push(h.buf.len());
            h.u64(0);
        }
    }
    let mut at = h.buf.len() as u64;
    for (v, pos) in vars.iter().zip(h.begins.clone()) {
        h.buf[pos..pos + 8].copy_from_slice(&at.to_be_bytes());
        at += pad4(v.data.bytes()) as u64;
    }
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(&h.buf)?;
    for v in &vars {
        v.data.write(&mut out)?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}
