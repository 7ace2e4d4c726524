//! Writing a dataset as a classic netCDF file (CDF-2 or CDF-5), whole or a window at a time.
//!
//! A classic file gives every variable's size in its header, before the values, and a string
//! variable's size depends on its longest string, known only once every cell is. So a dataset
//! written a window at a time ([`StreamWriter`]) goes first to a spill: one file per variable
//! in a directory beside the output, values appended as they come, as they go to disk. When
//! the last window is in, the header is written and the spills are copied after it, a buffer
//! at a time: the dataset is never held whole, at the cost of writing it twice.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::header::Header;
use super::{Attr, NC_BYTE, NC_CHAR, NC_DIMENSION, NC_DOUBLE, NC_INT64, NC_VARIABLE, pad4};
use crate::dataset::{Dataset, ERROR_VAR, STATUS_MEANINGS, STATUS_VAR, Window};
use crate::output::Format;
use crate::value::Column;
use xyz_abi::ScalarType;

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
    /// `bytes` bytes of `nc_type` values in a spill, as they go to disk.
    Spilled(u32, usize, &'a Path),
    /// `n` strings in a spill ([`Strings`]), padded with NULs to `width` bytes.
    SpilledChars(&'a Path, usize, usize),
    /// The failures of `n` cells in a spill ([`Strings`], each after its cell), padded with
    /// NULs to `width` bytes.
    SpilledErrors(&'a Path, usize, usize),
}

impl Data<'_> {
    fn nc_type(&self) -> u32 {
        match self {
            Data::F64(_) => NC_DOUBLE,
            Data::I64(_) => NC_INT64,
            Data::I8(_) => NC_BYTE,
            Data::Chars(..)
            | Data::Errors(..)
            | Data::SpilledChars(..)
            | Data::SpilledErrors(..) => NC_CHAR,
            Data::Spilled(nc_type, ..) => *nc_type,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Data::F64(v) => v.len() * 8,
            Data::I64(v) => v.len() * 8,
            Data::I8(v) => v.len(),
            Data::Chars(v, w) => v.len() * w,
            Data::Errors(_, n, w) | Data::SpilledChars(_, n, w) | Data::SpilledErrors(_, n, w) => {
                n * w
            }
            Data::Spilled(_, bytes, _) => *bytes,
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
            Data::Spilled(_, bytes, path) => {
                let copied = io::copy(&mut File::open(path)?, out)?;
                if copied != *bytes as u64 {
                    return Err(io::Error::other(format!(
                        "the spill {} holds {copied} bytes, not {bytes}",
                        path.display()
                    )));
                }
                Ok(())
            }
            Data::SpilledChars(path, n, w) => {
                let mut strings = Strings::open(path)?;
                (0..*n).try_for_each(|_| {
                    let s = strings.next_string()?;
                    out.write_all(s)?;
                    out.write_all(&vec![0; w - s.len()])
                })
            }
            Data::SpilledErrors(path, n, w) => {
                let mut strings = Strings::open(path)?;
                let blank = vec![0; *w];
                let mut next = 0;
                while let Some(k) = strings.next_cell()? {
                    let e = strings.next_string()?;
                    (next..k).try_for_each(|_| out.write_all(&blank))?;
                    out.write_all(e)?;
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

/// Where the values of a dataset's variables come from.
#[derive(Clone, Copy)]
enum Values<'a> {
    /// The dataset, held whole.
    Held,
    /// The spills of a [`StreamWriter`]; the dataset gives the layout only.
    Spilled(&'a Spills),
}

/// Writes `ds`, held whole, at `path`.
pub(super) fn write(ds: &Dataset, path: &Path) -> io::Result<()> {
    write_with(ds, Values::Held, path)
}

fn write_with(ds: &Dataset, values: Values<'_>, path: &Path) -> io::Result<()> {
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
    for (i, var) in ds.vars.iter().enumerate() {
        let mut ids: Vec<usize> = (0..ds.dims.len()).collect();
        for d in &var.extra_dims {
            ids.push(dim_id(&mut dims, &d.name, d.size as usize)?);
        }
        let mut attrs = Vec::new();
        if var.ty == ScalarType::F64 {
            attrs.push(("_FillValue".into(), Attr::Doubles(vec![f64::NAN])));
        }
        let data = match (values, &var.data) {
            (Values::Held, Column::F64(v)) => Data::F64(v),
            (Values::Held, col) => plain(col, &mut ids, &mut attrs, &mut dims)?,
            (Values::Spilled(spills), _) => {
                spills.data(i, var.ty, &mut ids, &mut attrs, &mut dims)?
            }
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
        data: match values {
            Values::Held => Data::I8(ds.cells.iter().map(|c| c.status()).collect()),
            Values::Spilled(spills) => Data::Spilled(NC_BYTE, spills.cells, &spills.status.path),
        },
    });
    let width = match values {
        Values::Held => ds.errors.values().map(String::len).max().unwrap_or(0),
        Values::Spilled(spills) => spills.errors.width,
    }
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
        data: match values {
            Values::Held => Data::Errors(&ds.errors, ds.cells.len(), width),
            Values::Spilled(spills) => {
                Data::SpilledErrors(&spills.errors.path, spills.cells, width)
            }
        },
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

/// A spill of strings: each a `u32` length (little-endian) and its bytes; failures have
/// their cell (a `u64`) before each.
struct Strings {
    input: BufReader<File>,
    buf: Vec<u8>,
}

impl Strings {
    fn open(path: &Path) -> io::Result<Strings> {
        Ok(Strings {
            input: BufReader::with_capacity(SPILL_BUFFER, File::open(path)?),
            buf: Vec::new(),
        })
    }

    /// The cell of the next failure, or `None` at the end.
    fn next_cell(&mut self) -> io::Result<Option<usize>> {
        let mut cell = [0; 8];
        match self.input.read_exact(&mut cell) {
            Ok(()) => Ok(Some(u64::from_le_bytes(cell) as usize)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn next_string(&mut self) -> io::Result<&[u8]> {
        let mut len = [0; 4];
        self.input.read_exact(&mut len)?;
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        self.input.read_exact(&mut self.buf)?;
        Ok(&self.buf)
    }
}

/// The buffer of each spill file, written and read.
const SPILL_BUFFER: usize = 64 << 10;

/// One spill file being written.
struct SpillFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// The longest string in it, for strings.
    width: usize,
}

impl SpillFile {
    fn create(path: PathBuf) -> io::Result<SpillFile> {
        let out = BufWriter::with_capacity(SPILL_BUFFER, File::create(&path)?);
        Ok(SpillFile {
            path,
            out,
            width: 0,
        })
    }

    fn string(&mut self, s: &str) -> io::Result<()> {
        let len = u32::try_from(s.len())
            .map_err(|_| invalid(format!("a string of {} bytes", s.len())))?;
        self.width = self.width.max(s.len());
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(s.as_bytes())
    }

    fn column(&mut self, col: &Column) -> io::Result<()> {
        let out = &mut self.out;
        match col {
            Column::F64(v) => v.iter().try_for_each(|x| out.write_all(&x.to_be_bytes())),
            Column::I64(v) => v.iter().try_for_each(|x| out.write_all(&x.to_be_bytes())),
            Column::Bool(v) => v.iter().try_for_each(|b| out.write_all(&[u8::from(*b)])),
            Column::Str(v) => v.iter().try_for_each(|s| self.string(s)),
            Column::C128(_) => Err(invalid(
                "complex values, which netCDF's classic formats cannot hold".into(),
            )),
        }
    }
}

/// What a [`StreamWriter`] spilled, complete: the values of each variable, the cells' states
/// and their failures.
struct Spills {
    /// The cells of the grid.
    cells: usize,
    vars: Vec<SpillFile>,
    status: SpillFile,
    errors: SpillFile,
}

impl Spills {
    /// The values of variable `i`, of type `ty`, as [`plain`] lays out a column of it.
    fn data(
        &self,
        i: usize,
        ty: ScalarType,
        ids: &mut Vec<usize>,
        attrs: &mut Vec<(String, Attr)>,
        dims: &mut Vec<(String, usize)>,
    ) -> io::Result<Data<'_>> {
        let spill = &self.vars[i];
        let values: usize = ids.iter().map(|&d| dims[d].1).product();
        Ok(match ty {
            ScalarType::F64 => Data::Spilled(NC_DOUBLE, values * 8, &spill.path),
            ScalarType::I64 => Data::Spilled(NC_INT64, values * 8, &spill.path),
            ScalarType::Bool => {
                attrs.push(("dtype".into(), Attr::Text("bool".into())));
                Data::Spilled(NC_BYTE, values, &spill.path)
            }
            ScalarType::Str => {
                let w = spill.width.max(1);
                ids.push(dim_id(dims, &format!("string{w}"), w)?);
                attrs.push(("_Encoding".into(), Attr::Text("utf-8".into())));
                Data::SpilledChars(&spill.path, values, w)
            }
            ScalarType::C128 => {
                return Err(invalid(
                    "complex values, which netCDF's classic formats cannot hold".into(),
                ));
            }
        })
    }
}

/// A classic netCDF file written a [`Window`] of the grid at a time: the windows go to a
/// spill beside the file, and the file is written from it when the last is in (see the
/// module's documentation). The spill is removed however the writing ends.
pub(crate) struct StreamWriter<'a> {
    layout: &'a Dataset,
    path: PathBuf,
    dir: PathBuf,
    spills: Spills,
    /// The first cell of the next window.
    next: usize,
}

impl<'a> StreamWriter<'a> {
    /// Starts writing a dataset laid out as `layout` at `path`, spilling into a new directory
    /// `PATH.spill`.
    pub(super) fn create(layout: &'a Dataset, path: &Path) -> io::Result<StreamWriter<'a>> {
        if let Some(why) = Format::Netcdf.refuses(layout) {
            return Err(invalid(why));
        }
        let mut dir = path.as_os_str().to_owned();
        dir.push(".spill");
        let dir = PathBuf::from(dir);
        std::fs::create_dir(&dir)?;
        let spill = |name: String| SpillFile::create(dir.join(name));
        let spills = (|| {
            Ok(Spills {
                cells: layout.shape().iter().product(),
                vars: (0..layout.vars.len())
                    .map(|i| spill(format!("var{i}")))
                    .collect::<io::Result<_>>()?,
                status: spill("status".into())?,
                errors: spill("errors".into())?,
            })
        })();
        match spills {
            Ok(spills) => Ok(StreamWriter {
                layout,
                path: path.to_path_buf(),
                dir,
                spills,
                next: 0,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Spills the next window, which begins where the last one ended.
    pub(super) fn write(&mut self, window: &Window) -> io::Result<()> {
        if window.first != self.next || window.end() > self.spills.cells {
            return Err(io::Error::other(format!(
                "a window of cells {}..{} where cell {} of {} was next",
                window.first,
                window.end(),
                self.next,
                self.spills.cells
            )));
        }
        for (spill, col) in self.spills.vars.iter_mut().zip(&window.data) {
            spill.column(col)?;
        }
        let states: Vec<u8> = window.cells.iter().map(|c| c.status() as u8).collect();
        self.spills.status.out.write_all(&states)?;
        let errors = &mut self.spills.errors;
        for (k, e) in &window.errors {
            errors
                .out
                .write_all(&((window.first + k) as u64).to_le_bytes())?;
            errors.string(e)?;
        }
        self.next = window.end();
        Ok(())
    }

    /// Writes the file from the spill, once every window is in, and removes the spill.
    pub(super) fn finish(mut self) -> io::Result<()> {
        if self.next != self.spills.cells {
            return Err(io::Error::other(format!(
                "the dataset ended at cell {} of {}",
                self.next, self.spills.cells
            )));
        }
        let spills = &mut self.spills;
        for spill in spills
            .vars
            .iter_mut()
            .chain([&mut spills.status, &mut spills.errors])
        {
            spill.out.flush()?;
        }
        write_with(self.layout, Values::Spilled(&self.spills), &self.path)
    }
}

impl Drop for StreamWriter<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
