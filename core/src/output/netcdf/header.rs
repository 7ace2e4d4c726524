//! The header of a classic netCDF file: its dims, global attributes and variables, encoded
//! by the writer and parsed by the reader.

use super::{
    Attr, NC_ATTRIBUTE, NC_BYTE, NC_CHAR, NC_DIMENSION, NC_DOUBLE, NC_FLOAT, NC_INT, NC_INT64,
    NC_SHORT, NC_VARIABLE, pad4, type_size,
};

/// The header of a CDF-2 or CDF-5 file being written.
#[derive(Default)]
pub(super) struct Header {
    pub(super) buf: Vec<u8>,
    /// Where each variable's `begin` goes.
    pub(super) begins: Vec<usize>,
    /// CDF-5: counts of 8 bytes and 64-bit integers; else CDF-2: counts of 4 bytes.
    pub(super) cdf5: bool,
}

impl Header {
    pub(super) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(super) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// A count: 8 bytes in CDF-5, 4 in CDF-2 (whose writer checked it fits).
    pub(super) fn count(&mut self, v: u64) {
        if self.cdf5 {
            self.u64(v);
        } else {
            self.u32(v as u32);
        }
    }

    pub(super) fn name(&mut self, s: &str) {
        self.count(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self.pad();
    }

    pub(super) fn pad(&mut self) {
        self.buf.resize(pad4(self.buf.len()), 0);
    }

    pub(super) fn attrs(&mut self, attrs: &[(String, Attr)]) {
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

/// A variable as the header describes it.
pub(super) struct VarInfo {
    pub(super) name: String,
    pub(super) dims: Vec<usize>,
    pub(super) attrs: Vec<(String, Attr)>,
    pub(super) nc_type: u32,
    pub(super) begin: u64,
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

pub(super) type ParsedHeader = (Vec<(String, usize)>, Vec<(String, Attr)>, Vec<VarInfo>);

pub(super) fn parse_header(buf: &[u8]) -> Result<ParsedHeader, String> {
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
