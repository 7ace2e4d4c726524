//! CSV: the rows of [`rows`](super::rows), written by the `csv` crate with RFC 4180 quoting
//! (a field is quoted when it holds a comma, a quote or a line break). A missing value is an
//! empty field; a complex value two fields, its real and imaginary parts.
//!
//! Read back, an empty field is a missing value and a quoted empty field (`""`) an empty
//! string, so the records are split here, where the quoting of each field is seen.

use std::io::{self, Write};
use std::path::Path;

use xyz_abi::ScalarType;

use super::backend::{Backend, WindowSink};
use super::conventions::constants;
use super::infer::{Table, infer, to_dataset, transpose};
use super::rows::{
    Part, column_names, coord_names, coord_types, create_file, finish_file, parts, to_file,
    to_stream,
};
use super::{Encoding, ReadError};
use crate::dataset::{CellState, Dataset, ERROR_VAR, MISSING_C128, STATUS_VAR, Window};
use crate::value::Value;

/// The CSV backend.
pub(super) struct Csv;

impl Backend for Csv {
    fn write(&self, dataset: &Dataset, path: &Path, _: Encoding) -> io::Result<()> {
        to_file(path, |out| write_to(dataset, out))
    }

    fn stream(&self, dataset: &Dataset, out: &mut dyn Write) -> io::Result<()> {
        to_stream(out, |out| write_to(dataset, out))
    }

    fn read(&self, path: &Path) -> Result<Dataset, ReadError> {
        read(path)
    }

    fn windows<'a>(
        &self,
        layout: &'a Dataset,
        path: &Path,
        _: Encoding,
    ) -> io::Result<Box<dyn WindowSink + 'a>> {
        let mut out = writer(create_file(path)?);
        write_header(layout, &mut out)?;
        Ok(Box::new(CsvWindows { layout, out }))
    }
}

/// A CSV file written a window at a time: its rows are the same, in the same order, as
/// written whole.
struct CsvWindows<'a> {
    layout: &'a Dataset,
    out: csv::Writer<std::io::BufWriter<std::fs::File>>,
}

impl WindowSink for CsvWindows<'_> {
    fn write(&mut self, window: &Window) -> io::Result<()> {
        write_rows(&Part::window(self.layout, window), &mut self.out)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let out = self.out.into_inner().map_err(|e| e.into_error())?;
        finish_file(out)
    }
}

fn writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out)
}

/// Writes `ds` as CSV to `out`.
fn write_to<W: Write>(ds: &Dataset, out: &mut W) -> io::Result<()> {
    let mut out = writer(out);
    write_header(ds, &mut out)?;
    write_rows(&Part::whole(ds), &mut out)?;
    out.flush()
}

/// Writes the header row of a dataset laid out as `ds`.
fn write_header<W: Write>(ds: &Dataset, out: &mut csv::Writer<W>) -> io::Result<()> {
    let consts = constants(ds);
    let mut header: Vec<(String, ScalarType)> = coord_names(ds)
        .zip(coord_types(ds))
        .map(|(n, ty)| (n.clone(), ty))
        .collect();
    header.extend(consts.iter().map(|(k, v)| (k.clone(), v.ty())));
    header.extend(
        ds.vars
            .iter()
            .flat_map(|v| column_names(v).into_iter().map(|n| (n, v.ty))),
    );
    header.extend([
        (STATUS_VAR.to_string(), ScalarType::I64),
        (ERROR_VAR.to_string(), ScalarType::Str),
    ]);
    let header: Vec<Value> = header
        .iter()
        .flat_map(|(n, ty)| parts(n, *ty))
        .map(|(n, _)| Value::Str(n))
        .collect();
    write_row(out, &header)
}

/// Writes the rows of `part`.
fn write_rows<W: Write>(part: &Part<'_>, out: &mut csv::Writer<W>) -> io::Result<()> {
    let ds = part.layout;
    let consts = constants(ds);
    let mut row = Vec::new();
    for (pos, coords) in part.rows() {
        row.clear();
        row.extend(coords);
        row.extend(consts.iter().map(|(_, v)| v.clone()));
        let ok = part.cells[pos] == CellState::Ok;
        for (var, data) in ds.vars.iter().zip(&part.data) {
            let e = var.elements();
            for k in pos * e..(pos + 1) * e {
                row.push(match (ok, var.ty) {
                    (true, _) => data.get(k),
                    (false, ScalarType::C128) => Value::C128(MISSING_C128),
                    (false, _) => Value::F64(f64::NAN),
                });
            }
        }
        row.extend(part.own_columns(pos));
        write_row(out, &row)?;
    }
    Ok(())
}

/// Writes a row of fields, a complex value as two (its real and imaginary parts), a NaN as
/// an empty field.
fn write_row<W: Write>(out: &mut csv::Writer<W>, row: &[Value]) -> io::Result<()> {
    use std::fmt::Write as _;
    let mut number = String::new();
    let mut put = |out: &mut csv::Writer<W>, v: &Value| {
        number.clear();
        match v {
            Value::F64(f) if f.is_nan() => {}
            Value::Str(s) => return out.write_field(s),
            other => {
                let _ = write!(number, "{other}");
            }
        }
        out.write_field(&number)
    };
    for v in row {
        match v {
            Value::C128(z) => {
                put(out, &Value::F64(z.re))?;
                put(out, &Value::F64(z.im))?;
            }
            v => put(out, v)?,
        }
    }
    out.write_record(None::<&[u8]>).map_err(io::Error::from)
}

/// Splits CSV text into records of fields, with RFC 4180 quoting.
fn csv_records(text: &str) -> Result<Vec<Vec<(String, bool)>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (c, in_quotes) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => in_quotes = false,
            ('"', false) if field.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
            }
            (',', false) => record.push((std::mem::take(&mut field), std::mem::take(&mut quoted))),
            ('\r', false) if chars.peek() == Some(&'\n') => {}
            ('\n', false) => {
                record.push((std::mem::take(&mut field), std::mem::take(&mut quoted)));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            (c, _) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
        }
    }
    if in_quotes {
        return Err(format!("line {line}: a quoted field does not end"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push((field, quoted));
        records.push(record);
    }
    Ok(records)
}

fn read(path: &Path) -> Result<Dataset, ReadError> {
    let fail = |message: String| ReadError {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::shared_fs::read_regular_to_string(path, u64::MAX)
        .map_err(|e| fail(e.to_string()))?;
    let mut records = csv_records(&text).map_err(fail)?.into_iter();
    let names: Vec<String> = records
        .next()
        .ok_or_else(|| fail("no header line".into()))?
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let records: Vec<Vec<(String, bool)>> = records.collect();
    for (i, r) in records.iter().enumerate() {
        if r.len() != names.len() {
            return Err(fail(format!(
                "line {}: {} fields where the header has {}",
                i + 2,
                r.len(),
                names.len()
            )));
        }
    }
    let mut columns: Vec<Vec<Option<Vec<Value>>>> = Vec::with_capacity(names.len());
    let mut types = Vec::with_capacity(names.len());
    for c in 0..names.len() {
        // An empty unquoted field is missing; a quoted one is an empty string.
        let present = records.iter().filter(|r| !r[c].0.is_empty() || r[c].1);
        let (ty, values) = infer(present.map(|r| r[c].0.clone()));
        let mut values = values.into_iter();
        columns.push(
            records
                .iter()
                .map(|r| {
                    (!r[c].0.is_empty() || r[c].1).then(|| vec![values.next().expect("one each")])
                })
                .collect(),
        );
        types.push(ty);
    }
    let n = names.len();
    let table = Table {
        extra: vec![Vec::new(); n],
        names,
        types,
        rows: transpose(columns, records.len()),
    };
    to_dataset(table).map_err(fail)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::CellState;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut buf = Vec::new();
        let mut out = csv::WriterBuilder::new()
            .has_headers(false)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(&mut buf);
        write_row(
            &mut out,
            &[
                Value::Str("a,b".into()),
                Value::Str("say \"hi\"".into()),
                Value::F64(f64::NAN),
                Value::F64(0.1),
                Value::Bool(true),
            ],
        )
        .unwrap();
        drop(out);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",,0.1,true\n"
        );
    }

    #[test]
    fn csv_records_follow_rfc4180() {
        let r = csv_records("a,b\n\"x,1\",\"say \"\"hi\"\"\"\n,\"\"\r\n").unwrap();
        let fields: Vec<Vec<&str>> = r
            .iter()
            .map(|r| r.iter().map(|(f, _)| f.as_str()).collect())
            .collect();
        assert_eq!(
            fields,
            [vec!["a", "b"], vec!["x,1", "say \"hi\""], vec!["", ""]]
        );
        assert!(
            !r[2][0].1 && r[2][1].1,
            "quoted empty strings are not missing"
        );
        assert!(csv_records("a\n\"open").is_err());
    }

    #[test]
    fn status_codes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "x,y,xyz_status,xyz_error\n1,2,0,\n2,,1,error: no\n").unwrap();
        let ds = read(&path).unwrap();
        assert_eq!(ds.cells, [CellState::Ok, CellState::Failed]);
        assert_eq!(ds.errors.get(&1).map(String::as_str), Some("error: no"));
        assert_eq!(ds.vars.len(), 1);
        for bad in ["7", "ok", ""] {
            std::fs::write(&path, format!("x,y,xyz_status\n1,2,{bad}\n")).unwrap();
            let err = read(&path).unwrap_err();
            assert!(
                err.message
                    .contains("row 1: `xyz_status` is not one of the status codes"),
                "{bad}: {err}"
            );
        }
    }
}
