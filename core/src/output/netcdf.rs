//! netCDF: the classic format, which needs no HDF5. A dataset with no 64-bit integer (no
//! `i64` variable or coordinate, integer constants that fit in 32 bits) and no variable over
//! 4 GiB is written in the 64-bit offset variant (CDF-2), which every netCDF reader takes,
//! xarray's scipy engine and `scipy.io` included; otherwise in the 64-bit data variant (CDF-5),
//! which holds 64-bit integers and which `xarray.open_dataset` reads with the netCDF4 engine,
//! as does every netCDF library since 4.4 (scipy does not).
//!
//! The layout is the one xarray itself writes. Each swept dim has a coordinate variable of its
//! name; each output is a variable over the swept dims, then its extra dims. Attributes hold the
//! constants and the provenance, as in Zarr.
//!
//! | type | netCDF | xarray reads |
//! |---|---|---|
//! | `f64` | `double`, attribute `_FillValue = NaN` | `float64`, NaN where missing |
//! | `i64` | `int64`, `i64::MIN` where missing | `int64` |
//! | `bool` | `byte` 0 or 1 with attribute `dtype = "bool"`, 0 where missing | `bool` |
//! | `str` | `char` with a last dim `stringN` (N the longest value in bytes) and `_Encoding = "utf-8"` | `str`; `""` where missing |
//!
//! Each cell's state is the `byte` variable `xyz_status` (CF `flag_values` and
//! `flag_meanings`) and each failure the `char` variable `xyz_error`, over the swept dims.
//!
//! The reader takes back what the writer writes, from any of the three classic variants
//! (CDF-1, CDF-2 and CDF-5).

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use xyz_abi::ExtraDim;

use super::ReadError;
use std::collections::BTreeMap;

use crate::dataset::{
    CellState, DataVar, Dataset, ERROR_VAR, MISSING_I64, STATUS_MEANINGS, STATUS_VAR,
};
use crate::space::{AuxCoord, SweptDim};
use crate::value::{Column, Value};

const NC_BYTE: u32 = 1;
const NC_CHAR: u32 = 2;
const NC_SHORT: u32 = 3;
const NC_INT: u32 = 4;
const NC_FLOAT: u32 = 5;
const NC_DOUBLE: u32 = 6;
const NC_INT64: u32 = 10;

const NC_DIMENSION: u32 = 0x0A;
const NC_VARIABLE: u32 = 0x0B;
const NC_ATTRIBUTE: u32 = 0x0C;

fn type_size(nc_type: u32) -> Option<usize> {
    Some(match nc_type {
        NC_BYTE | NC_CHAR | 7 => 1,
        NC_SHORT | 8 => 2,
        NC_INT | NC_FLOAT | 9 => 4,
        NC_DOUBLE | NC_INT64 | 11 => 8,
        _ => return None,
    })
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// An attribute's values.
#[derive(Debug, Clone, PartialEq)]
enum Attr {
    Text(String),
    Bytes(Vec<i8>),
    Ints(Vec<i64>),
    Doubles(Vec<f64>),
}

impl Attr {
    fn of(v: &Value) -> Attr {
        match v {
            Value::I64(i) => Attr::Ints(vec![*i]),
            Value::F64(f) => Attr::Doubles(vec![*f]),
            Value::C128(_) => Attr::Text(v.to_string()),
            Value::Bool(b) => Attr::Bytes(vec![i8::from(*b)]),
            Value::Str(s) => Attr::Text(s.clone()),
        }
    }

    fn value(&self) -> Option<Value> {
        match self {
            Attr::Text(s) => Some(Value::Str(s.clone())),
            Attr::Bytes(v) if v.len() == 1 => Some(Value::I64(i64::from(v[0]))),
            Attr::Ints(v) if v.len() == 1 => Some(Value::I64(v[0])),
            Attr::Doubles(v) if v.len() == 1 => Some(Value::F64(v[0])),
            _ => None,
        }
    }
}

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

/// The header of a CDF-2 or CDF-5 file being written.
#[derive(Default)]
struct Header {
    buf: Vec<u8>,
    /// Where each variable's `begin` goes.
    begins: Vec<usize>,
    /// CDF-5: counts of 8 bytes and 64-bit integers; else CDF-2: counts of 4 bytes.
    cdf5: bool,
}

impl Header {
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A count: 8 bytes in CDF-5, 4 in CDF-2 (whose writer checked it fits).
    fn count(&mut self, v: u64) {
        if self.cdf5 {
            self.u64(v);
        } else {
            self.u32(v as u32);
        }
    }

    fn name(&mut self, s: &str) {
        self.count(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self.pad();
    }

    fn pad(&mut self) {
        self.buf.resize(pad4(self.buf.len()), 0);
    }

    fn attrs(&mut self, attrs: &[(String, Attr)]) {
        if attrs.is_empty() {
            self.u32(0);
            self.count(0);
            return;
        }
        self.u32(NC_ATTRIBUTE);
        self.count(attrs.len() as u64);
        for (name, a) in attrs {
            self.name(name);
            match a {
                Attr::Text(s) => {
                    self.u32(NC_CHAR);
                    self.count(s.len() as u64);
                    self.buf.extend_from_slice(s.as_bytes());
                }
                Attr::Bytes(v) => {
                    self.u32(NC_BYTE);
                    self.count(v.len() as u64);
                    self.buf.extend(v.iter().map(|b| b.to_be_bytes()[0]));
                }
                // CDF-2 has no 64-bit integers: its writer checked these fit in 32 bits.
                Attr::Ints(v) if !self.cdf5 => {
                    self.u32(NC_INT);
                    self.count(v.len() as u64);
                    v.iter()
                        .for_each(|x| self.buf.extend_from_slice(&(*x as i32).to_be_bytes()));
                }
                Attr::Ints(v) => {
                    self.u32(NC_INT64);
                    self.count(v.len() as u64);
                    v.iter()
                        .for_each(|x| self.buf.extend_from_slice(&x.to_be_bytes()));
                }
                Attr::Doubles(v) => {
                    self.u32(NC_DOUBLE);
                    self.count(v.len() as u64);
                    v.iter()
                        .for_each(|x| self.buf.extend_from_slice(&x.to_be_bytes()));
                }
            }
            self.pad();
        }
    }
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
    if let Some(why) = super::Format::Netcdf.refuses(ds) {
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

/// A variable as the header describes it.
struct VarInfo {
    name: String,
    dims: Vec<usize>,
    attrs: Vec<(String, Attr)>,
    nc_type: u32,
    begin: u64,
}

/// Reads a header: CDF-1 and CDF-2 count with 4 bytes, CDF-5 with 8.
struct Parser<'a> {
    buf: &'a [u8],
    at: usize,
    wide_counts: bool,
    wide_offsets: bool,
}

impl Parser<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("the header ends early")?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn count(&mut self) -> Result<usize, String> {
        let n = if self.wide_counts {
            self.u64()?
        } else {
            u64::from(self.u32()?)
        };
        usize::try_from(n).map_err(|_| "a count too large".to_string())
    }

    fn name(&mut self) -> Result<String, String> {
        let n = self.count()?;
        let s = String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "a name not in UTF-8")?;
        self.take(pad4(n) - n)?;
        Ok(s)
    }

    /// A list's tag and length, or 0 for an absent list.
    fn list(&mut self, tag: u32) -> Result<usize, String> {
        let t = self.u32()?;
        let n = self.count()?;
        match t {
            0 if n == 0 => Ok(0),
            t if t == tag => Ok(n),
            t => Err(format!("tag {t:#x} where {tag:#x} was expected")),
        }
    }

    fn attrs(&mut self) -> Result<Vec<(String, Attr)>, String> {
        let n = self.list(NC_ATTRIBUTE)?;
        let mut attrs = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let name = self.name()?;
            let ty = self.u32()?;
            let count = self.count()?;
            let size = type_size(ty).ok_or_else(|| format!("attribute `{name}`: type {ty}"))?;
            let n_bytes = count.checked_mul(size).ok_or("an attribute too large")?;
            let bytes = self.take(n_bytes)?.to_vec();
            let bytes = &bytes[..];
            let ints = |size: usize| -> Vec<i64> {
                bytes
                    .chunks(size)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b[8 - size..].copy_from_slice(c);
                        // Sign-extend from `size` bytes.
                        i64::from_be_bytes(b) << (64 - 8 * size) >> (64 - 8 * size)
                    })
                    .collect()
            };
            let a = match ty {
                NC_CHAR => Attr::Text(String::from_utf8_lossy(bytes).into_owned()),
                NC_BYTE => Attr::Bytes(bytes.iter().map(|b| i8::from_be_bytes([*b])).collect()),
                NC_SHORT | NC_INT | NC_INT64 => Attr::Ints(ints(size)),
                NC_DOUBLE => Attr::Doubles(
                    bytes
                        .chunks(8)
                        .map(|c| f64::from_be_bytes(c.try_into().expect("8 bytes")))
                        .collect(),
                ),
                NC_FLOAT => Attr::Doubles(
                    bytes
                        .chunks(4)
                        .map(|c| f64::from(f32::from_be_bytes(c.try_into().expect("4 bytes"))))
                        .collect(),
                ),
                _ => Attr::Ints(Vec::new()),
            };
            self.take(pad4(n_bytes) - n_bytes)?;
            attrs.push((name, a));
        }
        Ok(attrs)
    }
}

type Header2 = (Vec<(String, usize)>, Vec<(String, Attr)>, Vec<VarInfo>);

fn parse_header(buf: &[u8]) -> Result<Header2, String> {
    let (wide_counts, wide_offsets) = match buf.get(..4) {
        Some(b"CDF\x01") => (false, false),
        Some(b"CDF\x02") => (false, true),
        Some(b"CDF\x05") => (true, true),
        Some(b"\x89HDF") => {
            return Err(
                "a netCDF-4 (HDF5) file: xyz reads and merges into the classic formats (CDF-1, \
                 CDF-2, CDF-5) only; write it with xarray's format=\"NETCDF3_64BIT\" (or \
                 \"NETCDF3_64BIT_DATA\" for int64), or use Zarr"
                    .into(),
            );
        }
        _ => return Err("not a netCDF file".into()),
    };
    let mut p = Parser {
        buf,
        at: 4,
        wide_counts,
        wide_offsets,
    };
    p.count()?;
    let n_dims = p.list(NC_DIMENSION)?;
    let mut dims = Vec::with_capacity(n_dims.min(1024));
    for _ in 0..n_dims {
        let name = p.name()?;
        let size = p.count()?;
        if size == 0 {
            return Err(format!(
                "dim `{name}` is a record dim, which xyz does not write"
            ));
        }
        dims.push((name, size));
    }
    let globals = p.attrs()?;
    let n_vars = p.list(NC_VARIABLE)?;
    let mut vars = Vec::with_capacity(n_vars.min(1024));
    for _ in 0..n_vars {
        let name = p.name()?;
        let nd = p.count()?;
        let mut ids = Vec::with_capacity(nd.min(64));
        for _ in 0..nd {
            let id = p.count()?;
            if id >= dims.len() {
                return Err(format!(
                    "variable `{name}` names dim {id}, which does not exist"
                ));
            }
            ids.push(id);
        }
        let attrs = p.attrs()?;
        let nc_type = p.u32()?;
        p.count()?;
        let begin = if p.wide_offsets {
            p.u64()?
        } else {
            u64::from(p.u32()?)
        };
        vars.push(VarInfo {
            name,
            dims: ids,
            attrs,
            nc_type,
            begin,
        });
    }
    Ok((dims, globals, vars))
}

fn attr<'a>(attrs: &'a [(String, Attr)], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
}

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
fn open(path: &Path) -> Result<(File, Header2), ReadError> {
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
    let extra_names = super::extra_dim_names(signature);
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
        None => super::cells_of(present, any_present_info),
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
