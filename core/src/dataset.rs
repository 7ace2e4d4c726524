//! The labelled N-dimensional result of a sweep.
//!
//! A [`Dataset`] has one dimension per swept argument (case arguments first, then combos, in
//! the user's order) with the swept values as coordinates, one data variable per output of the
//! function (array outputs add their extra dims after the swept ones), and the constants and
//! provenance as attributes. Every cell of the grid is [`CellState::Ok`], [`CellState::Failed`]
//! (with the failure's message), [`CellState::Pending`] or [`CellState::Absent`] (no case of the
//! space lands there); the values of cells that are not `Ok` are missing. On disk the states are
//! the variable [`STATUS_VAR`] and the messages the variable [`ERROR_VAR`].

use std::collections::BTreeMap;

use xyz_abi::{ExtraDim, ScalarType, Signature};

use crate::space::{AuxCoord, BoundSpace, CaseSet, SweptDim};
use crate::value::{Column, Value};

/// Coordinates that do not fit the outputs' extra dims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoordsError {
    /// No output has an extra dim of that name.
    #[error("`{name}` is not an extra dim of any output: {dims}")]
    NotADim {
        /// The name given.
        name: String,
        /// The extra dims there are, in words.
        dims: String,
    },
    /// As many values as the dim's size are needed.
    #[error("`{name}` has size {size}, but {given} coordinates are given")]
    Length {
        /// The dim.
        name: String,
        /// Its size.
        size: usize,
        /// How many values were given.
        given: usize,
    },
}

/// What is known about one cell of the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CellState {
    /// No case of the space lands on this cell (cases that do not cover the grid).
    Absent = 0,
    /// The case was evaluated and its outputs are stored.
    Ok = 1,
    /// The case failed; its outputs are missing.
    Failed = 2,
    /// The case belongs to the space but has not been evaluated.
    Pending = 3,
}

/// The variable that holds each cell's state as a status code ([`CellState::status`]).
pub const STATUS_VAR: &str = "xyz_status";

/// The variable that holds each failed cell's failure: its kind and message (empty for the
/// cells that did not fail).
pub const ERROR_VAR: &str = "xyz_error";

/// The meanings of the status codes 0, 1, 2 and 3, as CF's `flag_meanings` lists them.
pub const STATUS_MEANINGS: &str = "ok failed not_evaluated not_reached";

impl CellState {
    /// The cell's status code in [`STATUS_VAR`]: 0 ok, 1 failed, 2 not evaluated, 3 not
    /// reached by any case.
    pub fn status(self) -> i8 {
        match self {
            CellState::Ok => 0,
            CellState::Failed => 1,
            CellState::Pending => 2,
            CellState::Absent => 3,
        }
    }

    /// The state a status code stands for, if it is one.
    pub fn from_status(code: i64) -> Option<CellState> {
        Some(match code {
            0 => CellState::Ok,
            1 => CellState::Failed,
            2 => CellState::Pending,
            3 => CellState::Absent,
            _ => return None,
        })
    }
}

/// A failed case among cases being stored: its position among them, and its failure as
/// [`ERROR_VAR`] keeps it (`kind: message`).
pub type Failed = (usize, String);

/// The text [`ERROR_VAR`] keeps for a failure of `kind` with `message`.
pub fn error_text(kind: crate::value::FailureKind, message: &str) -> String {
    format!("{kind}: {message}")
}

/// One data variable: an output of the function over the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct DataVar {
    /// The output's name.
    pub name: String,
    /// The type of its values.
    pub ty: ScalarType,
    /// Its extra dims, after the swept ones.
    pub extra_dims: Vec<ExtraDim>,
    /// The values, row-major over swept dims then extra dims. Missing values hold NaN for
    /// floats, `i64::MIN` for integers, `false` for booleans and `""` for strings; the cell
    /// states tell them from values.
    pub data: Column,
}

impl DataVar {
    /// Values per cell of the grid.
    pub fn elements(&self) -> usize {
        self.extra_dims.iter().map(|d| d.size as usize).product()
    }
}

/// The labelled result of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The swept dims with their coordinates.
    pub dims: Vec<SweptDim>,
    /// One variable per output of the function.
    pub vars: Vec<DataVar>,
    /// The state of each cell of the grid, row-major.
    pub cells: Vec<CellState>,
    /// The failure of each `Failed` cell that has one on record, by cell.
    pub errors: BTreeMap<usize, String>,
    /// Coordinates of the outputs' extra dims that have them (a spec's `[coords]`), as many
    /// as each dim's size.
    pub extra_coords: Vec<SweptDim>,
    /// Coordinates along swept dims that are not their index: each sampled argument along
    /// the dim of samples.
    pub aux_coords: Vec<AuxCoord>,
    /// Attributes: the constants, then provenance (`xyz_version`, `xyz_function`,
    /// `xyz_function_sha256`).
    pub attrs: Vec<(String, Value)>,
}

/// Where evaluated cases go: a [`Dataset`], or a merge into one
/// ([`Harvest`](crate::harvest::Harvest)).
pub trait Store {
    /// Stores the outputs of `cases` of `space` (one column per output, in the order of
    /// `cases`); the positions in `failed` (ascending) are cases that failed.
    fn store_cases(
        &mut self,
        space: &BoundSpace,
        cases: CaseSet<'_>,
        cols: &[Column],
        failed: &[Failed],
    );
}

impl Store for Dataset {
    fn store_cases(
        &mut self,
        space: &BoundSpace,
        cases: CaseSet<'_>,
        cols: &[Column],
        failed: &[Failed],
    ) {
        Dataset::store_cases(self, space, cases, cols, failed);
    }
}

/// The cells `first..first + cells.len()` of a dataset's grid, row-major, with their states and
/// values: a part of a dataset, for writing one a part at a time without holding it whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The index of its first cell in the grid.
    pub first: usize,
    /// The states of its cells.
    pub cells: Vec<CellState>,
    /// The failure of each `Failed` cell that has one on record, by position in the window.
    pub errors: BTreeMap<usize, String>,
    /// The values of each data variable of the dataset for these cells, in its order: as in
    /// [`DataVar::data`], `elements()` values a cell.
    pub data: Vec<Column>,
}

impl Window {
    /// The cells `first..first + len` of a dataset laid out as `layout`, all `Absent`, every
    /// value missing.
    pub fn new(layout: &Dataset, first: usize, len: usize) -> Window {
        Window {
            first,
            cells: vec![CellState::Absent; len],
            errors: BTreeMap::new(),
            data: layout
                .vars
                .iter()
                .map(|v| Column::missing(v.ty, len * v.elements()))
                .collect(),
        }
    }

    /// The cells past its last one.
    pub fn end(&self) -> usize {
        self.first + self.cells.len()
    }

    /// Marks the cells of `cases` of `space` that lie in the window as `Pending`.
    pub fn store_pending(&mut self, space: &BoundSpace, cases: CaseSet<'_>) {
        for j in 0..cases.len() {
            let cell = space.cell_of(cases.case(j)) as usize;
            if (self.first..self.end()).contains(&cell) {
                self.cells[cell - self.first] = CellState::Pending;
            }
        }
    }
}

impl Window {
    /// Stores positions `from..to` of the cases `start..` (cells `start..` of a full grid), all
    /// successful, as one run.
    fn store_run(&mut self, start: u64, from: usize, to: usize, n: usize, cols: &[Column]) {
        let at = (start + from as u64) as usize;
        let Some(at) = at.checked_sub(self.first).filter(|_| from < to) else {
            return;
        };
        let run = OkRun {
            at,
            cols,
            from,
            to,
            n,
        };
        run.store(&mut self.cells, &mut self.errors, self.data.iter_mut());
    }
}

impl Store for Window {
    /// Stores the cases that lie in the window and passes over the rest.
    fn store_cases(
        &mut self,
        space: &BoundSpace,
        cases: CaseSet<'_>,
        cols: &[Column],
        failed: &[Failed],
    ) {
        let n = cases.len();
        if let (CaseSet::Range(start, _), true) = (cases, space.len() == space.cells()) {
            // A full grid: case `c` is cell `c`, so the cases in the window are one run of
            // positions, stored a run of successes at a time.
            let (lo, hi) = (self.first as u64, self.end() as u64);
            let from = lo.saturating_sub(start).min(n as u64) as usize;
            let to = hi.saturating_sub(start).min(n as u64) as usize;
            let mut ok_from = from;
            for (j, error) in failed.iter().filter(|(j, _)| (from..to).contains(j)) {
                self.store_run(start, ok_from, *j, n, cols);
                let at = (start + *j as u64) as usize - self.first;
                self.cells[at] = CellState::Failed;
                self.errors.insert(at, error.clone());
                ok_from = j + 1;
            }
            self.store_run(start, ok_from.max(from), to, n, cols);
            return;
        }
        let mut failed = failed.iter().peekable();
        for j in 0..cases.len() {
            let fails = failed.next_if(|(at, _)| *at == j);
            let cell = space.cell_of(cases.case(j)) as usize;
            if !(self.first..self.end()).contains(&cell) {
                continue;
            }
            let at = cell - self.first;
            if let Some((_, error)) = fails {
                self.cells[at] = CellState::Failed;
                self.errors.insert(at, error.clone());
                continue;
            }
            self.cells[at] = CellState::Ok;
            self.errors.remove(&at);
            for (data, col) in self.data.iter_mut().zip(cols) {
                let e = col.len() / cases.len();
                data.copy_run(at * e, col, j * e, e);
            }
        }
    }
}

/// Positions `from..to` of a chunk of `n` cases, all successful, whose cells are one run from
/// cell `at`: stored as one copy per column.
struct OkRun<'c> {
    at: usize,
    cols: &'c [Column],
    from: usize,
    to: usize,
    n: usize,
}

impl OkRun<'_> {
    /// Stores the run in `cells`, `data` (a column per output) and `errors` (the failures on
    /// record there are dropped).
    fn store<'d>(
        &self,
        cells: &mut [CellState],
        errors: &mut BTreeMap<usize, String>,
        data: impl Iterator<Item = &'d mut Column>,
    ) {
        let (at, len) = (self.at, self.to - self.from);
        for (data, col) in data.zip(self.cols) {
            let e = col.len() / self.n;
            data.copy_run(at * e, col, self.from * e, len * e);
        }
        cells[at..at + len].fill(CellState::Ok);
        if !errors.is_empty() {
            let stale: Vec<usize> = errors.range(at..at + len).map(|(k, _)| *k).collect();
            for k in stale {
                errors.remove(&k);
            }
        }
    }
}

/// The windows of a dataset's grid that a run fills ([`Runner::run_windows`]): each is handed on
/// through `send`, in grid order, once every case in it is stored. The cases stored must come
/// from a space [in grid order](BoundSpace::in_grid_order).
///
/// [`Runner::run_windows`]: crate::Runner::run_windows
pub(crate) struct Windows<'a> {
    space: &'a BoundSpace,
    layout: &'a Dataset,
    /// Cells a window.
    size: u64,
    /// The windows open, from the first not handed on, each with how many of its cases are
    /// still to come.
    open: std::collections::VecDeque<(Window, u64)>,
    /// The first cell of the next window to open.
    opened: u64,
    /// Where finished windows go; `None` once no one takes them.
    send: Option<std::sync::mpsc::SyncSender<Window>>,
}

impl<'a> Windows<'a> {
    /// The windows of `size` cells of the dataset of `space` laid out as `layout`.
    pub(crate) fn new(
        space: &'a BoundSpace,
        layout: &'a Dataset,
        size: u64,
        send: std::sync::mpsc::SyncSender<Window>,
    ) -> Windows<'a> {
        Windows {
            space,
            layout,
            size: size.max(1),
            open: std::collections::VecDeque::new(),
            opened: 0,
            send: Some(send),
        }
    }

    /// Opens the windows up to the one that holds cell `cell`.
    fn open_through(&mut self, cell: u64) {
        let total = self.space.cells();
        while self.opened <= cell && self.opened < total {
            let next = self.opened;
            let end = (next + self.size).min(total);
            let (a, b) = self.space.cases_in(next, end);
            let mut window = Window::new(self.layout, next as usize, (end - next) as usize);
            // The cells of cases are not evaluated until their cases are stored.
            if self.space.len() == self.space.cells() {
                window.cells.fill(CellState::Pending);
            } else {
                window.store_pending(self.space, CaseSet::Range(a, b));
            }
            self.open.push_back((window, b - a));
            self.opened = end;
        }
    }

    /// Hands on the windows at the front that have all their cases.
    fn hand_on(&mut self) {
        while self.open.front().is_some_and(|(_, left)| *left == 0) {
            let Some((window, _)) = self.open.pop_front() else {
                break;
            };
            if let Some(send) = &self.send
                && send.send(window).is_err()
            {
                self.send = None;
            }
        }
    }

    /// Hands on every window left, those no case reaches included, and those whose cases were
    /// not all evaluated (a run stopped at a failure): the run is over.
    pub(crate) fn finish(&mut self) {
        if let Some(last) = self.space.cells().checked_sub(1) {
            self.open_through(last);
        }
        for (_, left) in &mut self.open {
            *left = 0;
        }
        self.hand_on();
    }

    /// Hands on nothing more: the windows open are dropped.
    pub(crate) fn close(&mut self) {
        self.send = None;
        self.open.clear();
    }
}

impl Store for Windows<'_> {
    fn store_cases(
        &mut self,
        space: &BoundSpace,
        cases: CaseSet<'_>,
        cols: &[Column],
        failed: &[Failed],
    ) {
        let Some(last) = cases.len().checked_sub(1) else {
            return;
        };
        let (low, high) = (
            space.cell_of(cases.case(0)),
            space.cell_of(cases.case(last)),
        );
        self.open_through(high);
        for (window, left) in &mut self.open {
            let (first, end) = (window.first as u64, window.end() as u64);
            if end <= low || first > high {
                continue;
            }
            window.store_cases(space, cases, cols, failed);
            let inside = match cases {
                CaseSet::Range(a, b) => {
                    let (wa, wb) = space.cases_in(first, end);
                    b.min(wb).saturating_sub(a.max(wa))
                }
                CaseSet::List(list) => list
                    .iter()
                    .filter(|c| (first..end).contains(&space.cell_of(**c)))
                    .count() as u64,
            };
            *left = left.saturating_sub(inside);
        }
        self.hand_on();
    }
}

/// The bytes a value of type `ty` takes held in memory (a string's handle, its text aside).
fn item_bytes(ty: ScalarType) -> u64 {
    match ty {
        ScalarType::F64 | ScalarType::I64 => 8,
        ScalarType::C128 => 16,
        ScalarType::Bool => 1,
        ScalarType::Str => std::mem::size_of::<String>() as u64,
    }
}

/// The row-major strides of a grid of `shape`: how far apart, in cells, neighbours along each
/// dim lie.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

pub use crate::value::{MISSING_C128, MISSING_I64};

/// The provenance attribute that names a dataset's free attributes (a spec's `[attrs]`),
/// comma-separated, so that merges tell them from constants.
pub const FREE_ATTRS: &str = "xyz_attrs";

impl Dataset {
    /// The dataset of a sweep before any cell is evaluated: the [layout](Dataset::layout) of
    /// `space` and `sig`, with the free attributes `attrs` (a spec's `[attrs]`) and the
    /// coordinates `coords` of the outputs' extra dims (a spec's `[coords]`). Every way a
    /// sweep's dataset is made (a run, a crop's sowing and reaping, a merge) starts from it.
    pub fn sweep(
        space: &BoundSpace,
        sig: &Signature,
        sha256: Option<&str>,
        attrs: &[(String, Value)],
        coords: &[(String, Vec<Value>)],
    ) -> Result<Dataset, CoordsError> {
        let mut layout = Dataset::layout(space, sig, sha256);
        layout.set_free_attrs(attrs);
        layout.set_extra_coords(coords)?;
        Ok(layout)
    }

    /// Gives this dataset, evaluated for the sweep laid out as `layout`, what the results
    /// do not carry: the layout's free attributes and extra coordinates.
    pub fn dress_as(&mut self, layout: &Dataset) {
        let free: Vec<(String, Value)> = layout
            .free_attr_names()
            .into_iter()
            .filter_map(|name| {
                let value = layout.attrs.iter().find(|(n, _)| *n == name)?.1.clone();
                Some((name, value))
            })
            .collect();
        self.set_free_attrs(&free);
        self.extra_coords = layout.extra_coords.clone();
    }

    /// Sets the free attributes `attrs` (a spec's `[attrs]`: descriptions, not arguments):
    /// placed after the constants, before the provenance, replacing any of the same name, and
    /// named in the provenance attribute [`FREE_ATTRS`].
    pub fn set_free_attrs(&mut self, attrs: &[(String, Value)]) {
        if attrs.is_empty() {
            return;
        }
        let mut names: Vec<String> = self.free_attr_names();
        for (k, v) in attrs {
            match self.attrs.iter_mut().find(|(n, _)| n == k) {
                Some(slot) => slot.1 = v.clone(),
                None => {
                    let at = self
                        .attrs
                        .iter()
                        .position(|(n, _)| n.starts_with("xyz_"))
                        .unwrap_or(self.attrs.len());
                    self.attrs.insert(at, (k.clone(), v.clone()));
                }
            }
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
        self.attrs.retain(|(n, _)| n != FREE_ATTRS);
        self.attrs
            .push((FREE_ATTRS.into(), Value::Str(names.join(","))));
    }

    /// Gives the outputs' extra dims the coordinates `coords` (a spec's `[coords]`: a dim's
    /// name and its values, as many as its size), replacing any they had.
    pub fn set_extra_coords(&mut self, coords: &[(String, Vec<Value>)]) -> Result<(), CoordsError> {
        let mut extra = Vec::with_capacity(coords.len());
        for (name, values) in coords {
            let size = self
                .vars
                .iter()
                .flat_map(|v| &v.extra_dims)
                .find(|d| d.name == *name)
                .map(|d| d.size as usize);
            let Some(size) = size else {
                let dims: Vec<&str> = self
                    .vars
                    .iter()
                    .flat_map(|v| v.extra_dims.iter().map(|d| d.name.as_str()))
                    .collect();
                return Err(CoordsError::NotADim {
                    name: name.clone(),
                    dims: if dims.is_empty() {
                        "the function's outputs have none".into()
                    } else {
                        format!("they are {}", dims.join(", "))
                    },
                });
            };
            if values.len() != size {
                return Err(CoordsError::Length {
                    name: name.clone(),
                    size,
                    given: values.len(),
                });
            }
            let mut col = Column::new(values[0].ty());
            for v in values {
                col.push(v);
            }
            extra.push(SweptDim {
                name: name.clone(),
                coords: col,
            });
        }
        for dim in extra {
            self.extra_coords.retain(|d| d.name != dim.name);
            self.extra_coords.push(dim);
        }
        Ok(())
    }

    /// The names of the free attributes, as [`FREE_ATTRS`] lists them.
    pub fn free_attr_names(&self) -> Vec<String> {
        self.attrs
            .iter()
            .find(|(n, _)| n == FREE_ATTRS)
            .and_then(|(_, v)| match v {
                Value::Str(s) => Some(
                    s.split(',')
                        .filter(|n| !n.is_empty())
                        .map(str::to_string)
                        .collect(),
                ),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The least memory, in bytes, the dataset of `space` and `sig` takes when held whole:
    /// each cell's state and each output's values (a string counted at its bare size).
    pub fn bytes_needed(space: &BoundSpace, sig: &Signature) -> u64 {
        let per_cell: u64 = 1 + sig
            .outputs
            .iter()
            .map(|o| item_bytes(o.ty) * o.elements() as u64)
            .sum::<u64>();
        space.cells().saturating_mul(per_cell)
    }

    /// The bytes a cell of this dataset takes held in memory: its state and its values (a
    /// string counted as its handle, its text aside).
    pub fn bytes_per_cell(&self) -> u64 {
        1 + self
            .vars
            .iter()
            .map(|v| item_bytes(v.ty) * v.elements() as u64)
            .sum::<u64>()
    }

    /// The layout of the dataset of `space` and `sig`, holding no cells or values: what a
    /// [`Harvest`](crate::harvest::Harvest) needs to know of the results it will merge.
    pub fn layout(space: &BoundSpace, sig: &Signature, sha256: Option<&str>) -> Dataset {
        let mut ds = Dataset::empty_of(space, sig, sha256, 0);
        ds.cells.clear();
        ds
    }

    /// An empty dataset for `space` and the outputs of `sig`: every cell of the space
    /// `Pending`, every other cell `Absent`, every value missing.
    pub fn empty(space: &BoundSpace, sig: &Signature, sha256: Option<&str>) -> Dataset {
        Dataset::empty_of(space, sig, sha256, space.cells() as usize)
    }

    fn empty_of(
        space: &BoundSpace,
        sig: &Signature,
        sha256: Option<&str>,
        n_cells: usize,
    ) -> Dataset {
        let mut cells = vec![CellState::Absent; n_cells];
        if n_cells == 0 {
            // A layout only.
        } else if space.len() as usize == n_cells {
            cells.fill(CellState::Pending);
        } else {
            for case in 0..space.len() {
                cells[space.cell_of(case) as usize] = CellState::Pending;
            }
        }
        let vars = sig
            .outputs
            .iter()
            .map(|o| {
                let data = Column::missing(o.ty, n_cells * o.elements());
                DataVar {
                    name: o.name.clone(),
                    ty: o.ty,
                    extra_dims: o.dims.clone(),
                    data,
                }
            })
            .collect();
        let mut attrs: Vec<(String, Value)> = space.constants().to_vec();
        attrs.push((
            "xyz_version".into(),
            Value::Str(env!("CARGO_PKG_VERSION").into()),
        ));
        attrs.push(("xyz_function".into(), Value::Str(sig.to_string())));
        if let Some(sha) = sha256 {
            attrs.push(("xyz_function_sha256".into(), Value::Str(sha.into())));
        }
        Dataset {
            dims: space.dims().to_vec(),
            vars,
            cells,
            errors: BTreeMap::new(),
            extra_coords: Vec::new(),
            aux_coords: space.aux_coords().to_vec(),
            attrs,
        }
    }

    /// The sizes of the swept dims.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().map(|d| d.coords.len()).collect()
    }

    /// A copy of the cells `first..first + len` of the grid.
    pub fn window(&self, first: usize, len: usize) -> Window {
        let mut window = Window::new(self, first, len);
        window
            .cells
            .copy_from_slice(&self.cells[first..first + len]);
        window.errors = self
            .errors
            .range(first..first + len)
            .map(|(k, e)| (k - first, e.clone()))
            .collect();
        for (data, var) in window.data.iter_mut().zip(&self.vars) {
            let e = var.elements();
            data.copy_run(0, &var.data, first * e, len * e);
        }
        window
    }

    /// Copies every cell of `part` (its states, errors and the values of the variables both
    /// have, of one type) into this dataset's cells from `at` on: a dataset of points made
    /// of the datasets of its rounds.
    pub fn copy_cells_from(&mut self, part: &Dataset, at: usize) {
        let n = part.cells.len();
        self.cells[at..at + n].copy_from_slice(&part.cells);
        for (cell, error) in &part.errors {
            self.errors.insert(at + cell, error.clone());
        }
        for var in self.vars.iter_mut() {
            let Some(from) = part.vars.iter().find(|v| v.name == var.name) else {
                continue;
            };
            if from.data.ty() == var.data.ty() {
                let e = var.elements();
                var.data.copy_run(at * e, &from.data, 0, n * e);
            }
        }
    }

    /// Number of cells in each state: (ok, failed, pending, absent).
    pub fn counts(&self) -> (u64, u64, u64, u64) {
        let mut c = [0u64; 4];
        for s in &self.cells {
            c[*s as usize] += 1;
        }
        (c[1], c[2], c[3], c[0])
    }

    /// Stores the outputs of `cases` of `space` (one column per output, in the order of
    /// `cases`): `Ok` cells for all but the positions in `failed` (ascending), which are
    /// `Failed` with their failures.
    pub fn store_cases(
        &mut self,
        space: &BoundSpace,
        cases: CaseSet<'_>,
        cols: &[Column],
        failed: &[Failed],
    ) {
        let contiguous = space.len() == self.cells.len() as u64;
        let mut ok_from = 0usize;
        // Copies positions from..to, all successful, as one run where the cells are contiguous.
        let flush = |ds: &mut Dataset, from: usize, to: usize| {
            if from >= to {
                return;
            }
            if let (true, CaseSet::Range(start, _)) = (contiguous, cases) {
                let at = (start + from as u64) as usize;
                let n = cases.len();
                let run = OkRun {
                    at,
                    cols,
                    from,
                    to,
                    n,
                };
                run.store(
                    &mut ds.cells,
                    &mut ds.errors,
                    ds.vars.iter_mut().map(|v| &mut v.data),
                );
            } else {
                for j in from..to {
                    let cell = space.cell_of(cases.case(j)) as usize;
                    for (var, col) in ds.vars.iter_mut().zip(cols) {
                        let e = var.elements();
                        var.data.copy_run(cell * e, col, j * e, e);
                    }
                    ds.cells[cell] = CellState::Ok;
                    ds.errors.remove(&cell);
                }
            }
        };
        for (j, error) in failed {
            flush(self, ok_from, *j);
            let cell = space.cell_of(cases.case(*j)) as usize;
            self.cells[cell] = CellState::Failed;
            self.errors.insert(cell, error.clone());
            ok_from = j + 1;
        }
        flush(self, ok_from, cases.len());
    }
}
