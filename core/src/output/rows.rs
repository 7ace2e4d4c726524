//! The one-row-per-case layout of the tables (CSV, JSON and Parquet), written: each row a
//! grid cell of the space, in grid order.
//!
//! Columns: the swept arguments (for a sampled space, the sample's index, then each sampled
//! argument), then the constants, then the outputs, then `xyz_status` (the case's status code)
//! and `xyz_error` (its failure, empty unless it failed). An array output is one column per
//! element in CSV and Parquet (`y[0]`, `y[1]`, … with indices for each extra dim) and a nested
//! list in JSON.
//!
//! A complex (`c128`) column is two: its real and imaginary parts, `z.re` and `z.im` (for an
//! array output, `y[0].re`, `y[0].im`, …).

use std::fs;
use std::io::{self, BufWriter};
use std::path::Path;

use xyz_abi::ScalarType;

use std::collections::BTreeMap;

use crate::dataset::{CellState, DataVar, Dataset, Window};
use crate::value::{Column, Value};

/// Cells `first..first + cells.len()` of a dataset laid out as `layout`, with their states,
/// failures (by position among them) and values: a whole dataset, or a window of one, as the
/// row writers take them.
pub(super) struct Part<'a> {
    /// The dataset's dims, coordinates, variables and attributes.
    pub(super) layout: &'a Dataset,
    pub(super) first: usize,
    pub(super) cells: &'a [CellState],
    pub(super) errors: &'a BTreeMap<usize, String>,
    /// One column per variable of `layout`, `elements()` values a cell.
    pub(super) data: Vec<&'a Column>,
}

impl<'a> Part<'a> {
    /// All of `ds`.
    pub(super) fn whole(ds: &'a Dataset) -> Part<'a> {
        Part {
            layout: ds,
            first: 0,
            cells: &ds.cells,
            errors: &ds.errors,
            data: ds.vars.iter().map(|v| &v.data).collect(),
        }
    }

    /// `window` of a dataset laid out as `layout`.
    pub(super) fn window(layout: &'a Dataset, window: &'a Window) -> Part<'a> {
        Part {
            layout,
            first: window.first,
            cells: &window.cells,
            errors: &window.errors,
            data: window.data.iter().collect(),
        }
    }

    /// The rows of the part: the positions of its cells that belong to the space, with
    /// their coordinates (one per swept dim, then one per [coordinate along a
    /// dim](Dataset::aux_coords)).
    pub(super) fn rows(&self) -> impl Iterator<Item = (usize, Vec<Value>)> + '_ {
        let ds = self.layout;
        let shape = ds.shape();
        let along: Vec<usize> = ds
            .aux_coords
            .iter()
            .map(|a| ds.dims.iter().position(|d| d.name == a.dim).unwrap_or(0))
            .collect();
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, s)| **s != CellState::Absent)
            .map(move |(pos, _)| {
                let mut rest = self.first + pos;
                let mut index = vec![0; shape.len()];
                for d in (0..shape.len()).rev() {
                    index[d] = rest % shape[d];
                    rest /= shape[d];
                }
                let mut coords: Vec<Value> = (0..shape.len())
                    .map(|d| ds.dims[d].coords.get(index[d]))
                    .collect();
                for (aux, d) in ds.aux_coords.iter().zip(&along) {
                    coords.push(aux.values.get(index[*d]));
                }
                (pos, coords)
            })
    }

    /// The values of `xyz_status` and `xyz_error` in the row of position `pos`.
    pub(super) fn own_columns(&self, pos: usize) -> [Value; 2] {
        [
            Value::I64(i64::from(self.cells[pos].status())),
            Value::Str(self.errors.get(&pos).cloned().unwrap_or_default()),
        ]
    }
}

/// The names of the coordinate columns of [`Part::rows`].
pub(super) fn coord_names(ds: &Dataset) -> impl Iterator<Item = &String> {
    ds.dims
        .iter()
        .map(|d| &d.name)
        .chain(ds.aux_coords.iter().map(|a| &a.name))
}

/// The columns the values `name` of type `ty` take in a table: the real and imaginary parts
/// of a complex value, `NAME.re` and `NAME.im`, as `f64`; else one column, `name`.
pub(crate) fn parts(name: &str, ty: ScalarType) -> Vec<(String, ScalarType)> {
    match ty {
        ScalarType::C128 => vec![
            (format!("{name}.re"), ScalarType::F64),
            (format!("{name}.im"), ScalarType::F64),
        ],
        ty => vec![(name.to_string(), ty)],
    }
}

fn element_names(extra: &[usize]) -> Vec<String> {
    let total: usize = extra.iter().product();
    (0..total)
        .map(|mut k| {
            let mut idx = vec![0; extra.len()];
            for d in (0..extra.len()).rev() {
                idx[d] = k % extra[d];
                k /= extra[d];
            }
            idx.iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// The columns of a variable in a table: its name, or one `name[i,j]` per element of an array
/// output.
pub(super) fn column_names(var: &DataVar) -> Vec<String> {
    if var.extra_dims.is_empty() {
        return vec![var.name.clone()];
    }
    let sizes: Vec<usize> = var.extra_dims.iter().map(|d| d.size as usize).collect();
    element_names(&sizes)
        .into_iter()
        .map(|e| format!("{}[{e}]", var.name))
        .collect()
}

/// Writes a new file at `path` with `write`, and syncs it.
pub(super) fn to_file(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = create_file(path)?;
    write(&mut out)?;
    finish_file(out)
}

/// A file at `path` being written a window at a time, buffered; [`finish_file`] flushes and
/// syncs it.
pub(super) fn create_file(path: &Path) -> io::Result<BufWriter<fs::File>> {
    Ok(BufWriter::new(fs::File::create(path)?))
}

/// Flushes and syncs a file made by [`create_file`].
pub(super) fn finish_file(out: BufWriter<fs::File>) -> io::Result<()> {
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}

/// Writes to the stream `out` with `write`, buffered here so that the many small writes of a
/// row are not calls through `dyn`, and flushes it.
pub(super) fn to_stream(
    out: &mut dyn io::Write,
    write: impl FnOnce(&mut BufWriter<&mut dyn io::Write>) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    write(&mut out)?;
    io::Write::flush(&mut out)
}

/// The types of the coordinate columns of [`Part::rows`].
pub(super) fn coord_types(ds: &Dataset) -> impl Iterator<Item = ScalarType> + '_ {
    ds.dims
        .iter()
        .map(|d| d.coords.ty())
        .chain(ds.aux_coords.iter().map(|a| a.values.ty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_names_are_row_major() {
        assert_eq!(element_names(&[3]), ["0", "1", "2"]);
        assert_eq!(element_names(&[2, 2]), ["0,0", "0,1", "1,0", "1,1"]);
    }
}
