//! A bound space: its cases numbered, and argument columns filled for any range of them.

use xyz_abi::Signature;

use crate::value::{Column, Columns, Value};

/// Some cases of a space, in an order: a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseSet<'a> {
    /// Cases `start..end`, in order.
    Range(u64, u64),
    /// These cases, in this order.
    List(&'a [u64]),
}

impl CaseSet<'_> {
    /// Number of cases.
    pub fn len(&self) -> usize {
        match self {
            CaseSet::Range(a, b) => (b - a) as usize,
            CaseSet::List(l) => l.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The case at position `at`.
    pub fn case(&self, at: usize) -> u64 {
        match self {
            CaseSet::Range(a, _) => a + at as u64,
            CaseSet::List(l) => l[at],
        }
    }
}

/// A coordinate along a dim that is not its index: each sampled argument's values along the
/// dim of samples.
#[derive(Debug, Clone, PartialEq)]
pub struct AuxCoord {
    /// The argument's name.
    pub name: String,
    /// The dim it lies along.
    pub dim: String,
    /// Its value at each index of the dim.
    pub values: Column,
}

/// A dimension of the dataset that comes from a swept argument.
#[derive(Debug, Clone, PartialEq)]
pub struct SweptDim {
    /// The argument's name.
    pub name: String,
    /// Its coordinates: the distinct values it takes, in order.
    pub coords: Column,
}

#[derive(Debug, Clone)]
pub(super) enum Source {
    /// Index into `dims`.
    Combo(usize),
    /// Index into a case row.
    Case(usize),
    Constant(Value),
}

/// A space checked against a signature, with its cases numbered. Cheap to share between
/// threads; filling columns allocates nothing once the columns have grown.
#[derive(Debug, Clone)]
pub struct BoundSpace {
    pub(super) dims: Vec<SweptDim>,
    pub(super) aux_coords: Vec<AuxCoord>,
    pub(super) n_case_dims: usize,
    pub(super) case_rows: Vec<Vec<Value>>,
    /// Per case row, its flat index in the grid of case dims.
    pub(super) case_cells: Vec<u64>,
    pub(super) n_combos: u64,
    /// Per combo dim, how many consecutive cases share one of its values.
    pub(super) strides: Vec<u64>,
    pub(super) sources: Vec<Source>,
    pub(super) constants: Vec<(String, Value)>,
    pub(super) len: u64,
}

impl BoundSpace {
    /// Number of cases.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no cases (never, for a bound space).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The swept dims of the grid: case arguments, then combos.
    pub fn dims(&self) -> &[SweptDim] {
        &self.dims
    }

    /// The coordinates along dims that are not their index: the sampled arguments.
    pub fn aux_coords(&self) -> &[AuxCoord] {
        &self.aux_coords
    }

    /// The constants, typed as the signature says.
    pub fn constants(&self) -> &[(String, Value)] {
        &self.constants
    }

    /// Number of cells of the grid (at least the number of cases).
    pub fn cells(&self) -> u64 {
        self.dims.iter().map(|d| d.coords.len() as u64).product()
    }

    /// Whether the cells of the cases rise with the cases (always, unless explicit cases are
    /// listed out of grid order): then the cases of a range of cells are a range of cases
    /// ([`BoundSpace::cases_in`]), and the dataset can be made a window of its grid at a time.
    pub fn in_grid_order(&self) -> bool {
        self.case_cells.windows(2).all(|w| w[0] < w[1])
    }

    /// The cases whose cells lie in `first..end`, for a space [in grid
    /// order](BoundSpace::in_grid_order).
    pub fn cases_in(&self, first: u64, end: u64) -> (u64, u64) {
        debug_assert!(self.in_grid_order());
        // The first case whose cell is at least `cell`.
        let from = |cell: u64| {
            let (mut lo, mut hi) = (0, self.len);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if self.cell_of(mid) < cell {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        };
        (from(first), from(end))
    }

    /// The grid cell of case `case`.
    #[inline]
    pub fn cell_of(&self, case: u64) -> u64 {
        let row = (case / self.n_combos) as usize;
        self.case_cells[row] * self.n_combos + case % self.n_combos
    }

    /// Fills `out` with the argument columns of cases `start..start + n`.
    pub fn fill(&self, start: u64, n: usize, out: &mut Columns) {
        debug_assert!(start + n as u64 <= self.len);
        out.n = n;
        if out.cols.len() != self.sources.len() {
            out.cols = self
                .sources
                .iter()
                .map(|s| match s {
                    Source::Combo(d) => Column::new(self.dims[*d].coords.ty()),
                    Source::Case(c) => Column::new(self.case_rows[0][*c].ty()),
                    Source::Constant(v) => Column::new(v.ty()),
                })
                .collect();
        }
        for (col, source) in out.cols.iter_mut().zip(&self.sources) {
            col.clear();
            match source {
                Source::Constant(v) => col.push_n(v, n),
                Source::Combo(d) => {
                    let k = d - self.n_case_dims;
                    let stride = self.strides[k];
                    let pos = start % self.n_combos;
                    fill_repeating(col, &self.dims[*d].coords, stride, pos, n);
                }
                Source::Case(c) => {
                    let mut row = (start / self.n_combos) as usize;
                    let mut left = self.n_combos - start % self.n_combos;
                    for _ in 0..n {
                        col.push(&self.case_rows[row][*c]);
                        left -= 1;
                        if left == 0 {
                            left = self.n_combos;
                            row += 1;
                        }
                    }
                }
            }
        }
    }

    /// Fills `out` with the argument columns of positions `at..at + n` of `cases`.
    pub fn fill_set(&self, cases: CaseSet<'_>, at: usize, n: usize, out: &mut Columns) {
        match cases {
            CaseSet::Range(a, _) => self.fill(a + at as u64, n, out),
            CaseSet::List(l) => self.fill_cases(&l[at..at + n], out),
        }
    }

    /// Fills `out` with the argument columns of `cases`, in that order.
    pub fn fill_cases(&self, cases: &[u64], out: &mut Columns) {
        self.fill(0, 0, out);
        out.n = cases.len();
        for (col, source) in out.cols.iter_mut().zip(&self.sources) {
            col.reserve(cases.len());
            for &case in cases {
                debug_assert!(case < self.len);
                match source {
                    Source::Constant(v) => col.push(v),
                    Source::Combo(d) => {
                        let k = d - self.n_case_dims;
                        let coords = &self.dims[*d].coords;
                        let idx = (case % self.n_combos / self.strides[k]) % coords.len() as u64;
                        col.push_from(coords, idx as usize);
                    }
                    Source::Case(c) => {
                        col.push(&self.case_rows[(case / self.n_combos) as usize][*c]);
                    }
                }
            }
        }
    }

    /// The arguments of case `case`, by name, in signature order.
    pub fn case_args(&self, case: u64, sig: &Signature) -> Vec<(String, Value)> {
        let mut cols = Columns::default();
        self.fill(case, 1, &mut cols);
        sig.args
            .iter()
            .zip(&cols.cols)
            .map(|(a, c)| (a.name.clone(), c.get(0)))
            .collect()
    }
}

/// Pushes `n` values of `values`, each repeated `stride` times in turn, starting at position
/// `pos` of that pattern (which wraps around after `values.len() * stride`).
fn fill_repeating(col: &mut Column, values: &Column, stride: u64, pos: u64, n: usize) {
    fn go<T: Clone>(dst: &mut Vec<T>, vals: &[T], stride: u64, pos: u64, n: usize) {
        let mut idx = ((pos / stride) % vals.len() as u64) as usize;
        let mut left = stride - pos % stride;
        let mut done = 0;
        while done < n {
            let take = (left as usize).min(n - done);
            dst.extend(std::iter::repeat_n(vals[idx].clone(), take));
            done += take;
            left = stride;
            idx += 1;
            if idx == vals.len() {
                idx = 0;
            }
        }
    }
    match (col, values) {
        (Column::I64(d), Column::I64(v)) => go(d, v, stride, pos, n),
        (Column::F64(d), Column::F64(v)) => go(d, v, stride, pos, n),
        (Column::C128(d), Column::C128(v)) => go(d, v, stride, pos, n),
        (Column::Bool(d), Column::Bool(v)) => go(d, v, stride, pos, n),
        (Column::Str(d), Column::Str(v)) => go(d, v, stride, pos, n),
        (d, v) => unreachable!(
            "column types agree by construction: {} vs {}",
            d.ty(),
            v.ty()
        ),
    }
}
