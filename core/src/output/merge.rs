//! A merge written a window of the merged grid at a time: the existing dataset read a window
//! at a time from disk, the new results taken a window of their grid at a time as they are
//! done, so that neither is ever held whole.
//!
//! Where every dim's coordinates land in order in the merged dims (the existing ones always
//! do; the new ones do when both are sorted, or when the new ones come after), the cells of
//! either dataset that land in a window of the merged grid are consecutive in its own grid:
//! a window is made of one window of the existing dataset and the new results that cover it.

use std::collections::VecDeque;

use super::{ReadError, WindowSource};
use crate::dataset::{CellState, Dataset, Window};
use crate::harvest::{
    Conflicts, Lacking, MergeError, OtherFunction, Policy, Union, conflict, same_element, target,
};
use crate::value::Value;

/// A merge into a dataset read a window at a time, of new results taken a window of their
/// grid at a time, in order; it hands on the merged dataset a window of its grid at a time.
pub struct WindowMerge {
    source: Box<dyn WindowSource>,
    union: Union,
    /// The merged layout, with its attributes as written.
    merged: Dataset,
    conflicts: Conflicts,
    old_shape: Vec<usize>,
    new_shape: Vec<usize>,
    strides: Vec<usize>,
    /// Cells a merged window.
    window: usize,
    /// The new windows taken and not yet merged whole, in order.
    pending: VecDeque<Window>,
    /// The end of the new cells taken.
    taken: usize,
    /// Whether every new window was taken.
    done: bool,
    /// The first cell of the next merged window.
    next: usize,
    conflicted: Conflicted,
}

/// The cells found to conflict, with a few described.
#[derive(Default)]
struct Conflicted {
    count: u64,
    examples: Vec<String>,
}

impl WindowMerge {
    /// The merge of results laid out as `new` into the dataset `source` reads, handed on in
    /// windows of `window` cells; `None` where the new coordinates do not land in order in the
    /// merged dims (the merge is then made whole).
    pub(crate) fn new(
        source: Box<dyn WindowSource>,
        new: &Dataset,
        conflicts: Conflicts,
        window: usize,
    ) -> Result<Option<WindowMerge>, MergeError> {
        let union = Union::new(source.layout(), new)?;
        let rising = |maps: &[Vec<usize>]| maps.iter().all(|m| m.windows(2).all(|w| w[0] < w[1]));
        if !rising(&union.old_maps) || !rising(&union.new_maps) {
            return Ok(None);
        }
        let mut merged = union.layout.clone();
        merged.attrs.extend(union.provenance.iter().cloned());
        Ok(Some(WindowMerge {
            old_shape: source.layout().shape(),
            new_shape: new.shape(),
            strides: crate::dataset::strides(&merged.shape()),
            source,
            union,
            merged,
            conflicts,
            window: window.max(1),
            pending: VecDeque::new(),
            taken: 0,
            done: false,
            next: 0,
            conflicted: Conflicted::default(),
        }))
    }

    /// The merged dataset's layout: its dims, variables and attributes.
    pub fn layout(&self) -> &Dataset {
        &self.merged
    }

    /// Whether some cell of the new grid lands on a cell of the existing one (on every dim, a
    /// coordinate both have).
    pub fn overlaps(&self) -> bool {
        self.union
            .old_maps
            .iter()
            .zip(&self.union.new_maps)
            .all(|(old, new)| new.iter().any(|to| old.binary_search(to).is_ok()))
    }

    /// The cases of `space` to evaluate, as `policy` asks: every one, for a merge where no new
    /// cell lands on an existing one or that recomputes. `None` where the existing dataset
    /// may hold some of them: telling which takes reading it (see
    /// [`Harvest::lacking`](crate::harvest::Harvest::lacking)). A dataset made by another function
    /// than `sha256` is refused, unless `policy` recomputes every case.
    pub fn lacking(
        &self,
        sha256: Option<&str>,
        policy: Policy,
    ) -> Result<Option<Lacking>, OtherFunction> {
        if policy.recompute {
            return Ok(Some(Lacking::all()));
        }
        if let (Some(theirs), Some(ours)) = (self.union.existing_function.as_deref(), sha256)
            && theirs != ours
        {
            return Err(OtherFunction {
                theirs: theirs.to_string(),
                ours: ours.to_string(),
            });
        }
        Ok((!self.overlaps()).then(Lacking::all))
    }

    /// Takes the next window of the new results, laid out as the `new` the merge was made
    /// for; it must begin where the last ended.
    pub fn put(&mut self, new: &Window) {
        debug_assert_eq!(new.first, self.taken, "new windows come in order");
        self.taken = new.end();
        self.pending.push_back(new.clone());
    }

    /// Says that every new window was taken: the merged windows left are then all ready.
    pub fn end(&mut self) {
        self.done = true;
    }

    /// The next merged window, once the new results it needs are taken; `None` when it waits
    /// for more, or when every window was handed on.
    pub fn next_ready(&mut self) -> Result<Option<Window>, ReadError> {
        let total: usize = self.merged.shape().iter().product();
        if self.next >= total {
            return Ok(None);
        }
        let (first, end) = (self.next, (self.next + self.window).min(total));
        let new_cells = self.new_shape.iter().product();
        let (new_first, new_end) = (
            self.first_landing(&self.new_shape, &self.union.new_maps, new_cells, first),
            self.first_landing(&self.new_shape, &self.union.new_maps, new_cells, end),
        );
        if !self.done && self.taken < new_end {
            return Ok(None);
        }
        let mut out = Window::new(&self.merged, first, end - first);
        let old_cells = self.old_shape.iter().product();
        let (old_first, old_end) = (
            self.first_landing(&self.old_shape, &self.union.old_maps, old_cells, first),
            self.first_landing(&self.old_shape, &self.union.old_maps, old_cells, end),
        );
        if old_first < old_end {
            let old = self.source.window(old_first, old_end - old_first)?;
            self.lay_old(&mut out, &old);
        }
        let mut conflicted = std::mem::take(&mut self.conflicted);
        for new in &self.pending {
            let (a, b) = (new.first.max(new_first), new.end().min(new_end));
            if a < b {
                self.lay_new(&mut out, new, a, b, &mut conflicted);
            }
        }
        self.conflicted = conflicted;
        while self.pending.front().is_some_and(|w| w.end() <= new_end) {
            self.pending.pop_front();
        }
        self.next = end;
        Ok(Some(out))
    }

    /// Ends the merge: refused if cells conflict.
    pub fn finish(self) -> Result<(), MergeError> {
        let Conflicted { count, examples } = self.conflicted;
        if count > 0 {
            return Err(MergeError::Conflicts { count, examples });
        }
        Ok(())
    }

    /// The first cell of a grid of `shape` (of `cells` cells) that lands at or after merged
    /// cell `at` through `maps`: where every map rises, where a cell lands rises with it.
    fn first_landing(
        &self,
        shape: &[usize],
        maps: &[Vec<usize>],
        cells: usize,
        at: usize,
    ) -> usize {
        let (mut lo, mut hi) = (0, cells);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if target(mid, shape, maps, &self.strides) < at {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Lays the existing cells of `old` where they land in `out`.
    fn lay_old(&self, out: &mut Window, old: &Window) {
        let maps = &self.union.old_maps;
        for_runs(
            &self.old_shape,
            maps,
            &self.strides,
            old.first,
            old.end(),
            |from, to, n| {
                let (from, to) = (from - old.first, to - out.first);
                out.cells[to..to + n].copy_from_slice(&old.cells[from..from + n]);
                for (k, e) in old.errors.range(from..from + n) {
                    out.errors.insert(k - from + to, e.clone());
                }
                for ((var, dst), src) in self.merged.vars.iter().zip(&mut out.data).zip(&old.data) {
                    let e = var.elements();
                    dst.copy_run(to * e, src, from * e, n * e);
                }
            },
        );
    }

    /// Lays new cells `a..b` of `new` where they land in `out`, settling the cells both hold
    /// as the merge's [`Conflicts`] say.
    fn lay_new(
        &self,
        out: &mut Window,
        new: &Window,
        a: usize,
        b: usize,
        conflicted: &mut Conflicted,
    ) {
        let maps = &self.union.new_maps;
        for_runs(&self.new_shape, maps, &self.strides, a, b, |from, to, n| {
            let (from, to) = (from - new.first, to - out.first);
            // Where the run lands on no value, every value of it is taken at once (a cell
            // with no value holds missing values on both sides).
            if out.cells[to..to + n].iter().all(|c| *c != CellState::Ok) {
                for (&v, src) in self.union.var_at.iter().zip(&new.data) {
                    let e = self.merged.vars[v].elements();
                    out.data[v].copy_run(to * e, src, from * e, n * e);
                }
                for k in 0..n {
                    match new.cells[from + k] {
                        CellState::Ok => {
                            out.cells[to + k] = CellState::Ok;
                            out.errors.remove(&(to + k));
                        }
                        CellState::Failed => {
                            out.cells[to + k] = CellState::Failed;
                            let error = new.errors.get(&(from + k)).cloned().unwrap_or_default();
                            out.errors.insert(to + k, error);
                        }
                        CellState::Pending | CellState::Absent => {}
                    }
                }
                return;
            }
            for k in 0..n {
                self.lay_cell(out, to + k, new, from + k, conflicted);
            }
        });
    }

    /// Lays new cell `from` of `new` at `to` in `out`, which may hold a value.
    fn lay_cell(
        &self,
        out: &mut Window,
        to: usize,
        new: &Window,
        from: usize,
        conflicted: &mut Conflicted,
    ) {
        match new.cells[from] {
            CellState::Ok => {}
            CellState::Failed => {
                if out.cells[to] != CellState::Ok {
                    out.cells[to] = CellState::Failed;
                    let error = new.errors.get(&from).cloned().unwrap_or_default();
                    out.errors.insert(to, error);
                }
                return;
            }
            CellState::Pending | CellState::Absent => return,
        }
        if out.cells[to] == CellState::Ok {
            let differs = self
                .union
                .var_at
                .iter()
                .zip(&new.data)
                .find_map(|(&v, col)| {
                    let e = self.merged.vars[v].elements();
                    (0..e)
                        .find(|x| !same_element(&out.data[v], col, to * e + x, from * e + x))
                        .map(|x| (v, to * e + x, from * e + x))
                });
            let Some((v, i, j)) = differs else {
                return;
            };
            match self.conflicts {
                Conflicts::KeepExisting => return,
                Conflicts::Overwrite => {}
                Conflicts::Refuse => {
                    conflicted.count += 1;
                    if conflicted.examples.len() < 3 {
                        let new_var = self.union.var_at.iter().position(|&w| w == v);
                        conflicted.examples.push(conflict(
                            &self.merged.dims,
                            out.first + to,
                            &self.merged.vars[v].name,
                            out.data[v].get(i),
                            new_var.map_or(Value::Str(String::new()), |n| new.data[n].get(j)),
                        ));
                    }
                    return;
                }
            }
        }
        out.cells[to] = CellState::Ok;
        out.errors.remove(&to);
        for (&v, col) in self.union.var_at.iter().zip(&new.data) {
            let e = self.merged.vars[v].elements();
            out.data[v].copy_run(to * e, col, from * e, e);
        }
    }
}

/// Calls `f(from, to, n)` for each run of cells `a..b` of a grid of `shape` that land, through
/// `maps`, on consecutive cells of the merged grid of `strides`: `n` cells from `from`, landing
/// from merged cell `to`. Runs lie along the last dim, whole when its map is consecutive.
fn for_runs(
    shape: &[usize],
    maps: &[Vec<usize>],
    strides: &[usize],
    a: usize,
    b: usize,
    mut f: impl FnMut(usize, usize, usize),
) {
    let Some(last) = shape.len().checked_sub(1) else {
        if a < b {
            f(a, 0, 1);
        }
        return;
    };
    let consecutive = maps[last].windows(2).all(|w| w[1] == w[0] + 1);
    let mut at = a;
    while at < b {
        let n = if consecutive {
            (shape[last] - at % shape[last]).min(b - at)
        } else {
            1
        };
        f(at, target(at, shape, maps, strides), n);
        at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::DataVar;
    use crate::space::SweptDim;
    use crate::value::Column;
    use xyz_abi::{ExtraDim, ScalarType};

    /// A dataset over `a` (integers) and `b` (floats) with a float and a pair of integers a
    /// cell, each cell in the state `states` gives in turn (0 ok, 1 failed, 2 not evaluated);
    /// values made from the coordinates plus `shift`.
    fn dataset(a: &[i64], b: &[f64], states: &[u8], shift: f64) -> Dataset {
        let n = a.len() * b.len();
        let mut x = Column::missing(ScalarType::F64, n);
        let mut pair = Column::missing(ScalarType::I64, 2 * n);
        let mut cells = Vec::with_capacity(n);
        let mut errors = std::collections::BTreeMap::new();
        for (k, (i, j)) in a
            .iter()
            .flat_map(|i| b.iter().map(move |j| (*i, *j)))
            .enumerate()
        {
            let state = states.get(k % states.len().max(1)).copied().unwrap_or(0);
            match state {
                0 => {
                    cells.push(CellState::Ok);
                    x.set(k, &crate::Value::F64(i as f64 * 10.0 + j + shift));
                    pair.set(2 * k, &crate::Value::I64(i));
                    pair.set(2 * k + 1, &crate::Value::I64(-i));
                }
                1 => {
                    cells.push(CellState::Failed);
                    errors.insert(k, format!("error: at {i}, {j}"));
                }
                _ => cells.push(CellState::Absent),
            }
        }
        Dataset {
            dims: vec![
                SweptDim {
                    name: "a".into(),
                    coords: Column::I64(a.to_vec()),
                },
                SweptDim {
                    name: "b".into(),
                    coords: Column::F64(b.to_vec()),
                },
            ],
            vars: vec![
                DataVar {
                    name: "x".into(),
                    ty: ScalarType::F64,
                    extra_dims: Vec::new(),
                    data: x,
                },
                DataVar {
                    name: "pair".into(),
                    ty: ScalarType::I64,
                    extra_dims: vec![ExtraDim {
                        name: "t".into(),
                        size: 2,
                    }],
                    data: pair,
                },
            ],
            cells,
            errors,
            extra_coords: Vec::new(),
            aux_coords: Vec::new(),
            attrs: vec![("c".into(), crate::Value::F64(0.5))],
        }
    }

    /// `new` merged into `existing`, written as a Zarr store, a window at a time: new windows
    /// of `new_window` cells, merged ones of `window`; the merged windows put together.
    fn merged_in_windows(
        existing: &Dataset,
        new: &Dataset,
        conflicts: Conflicts,
        window: usize,
        new_window: usize,
    ) -> Result<Dataset, MergeError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.zarr");
        crate::output::write(existing, &path, crate::Format::Zarr, false).unwrap();
        let source = crate::Format::Zarr
            .backend()
            .window_source(&path)
            .unwrap()
            .expect("a store xyz wrote is read a window at a time");
        let mut merge =
            WindowMerge::new(source, new, conflicts, window)?.expect("coordinates in order");
        let mut windows = Vec::new();
        let n = new.cells.len();
        for first in (0..n).step_by(new_window) {
            merge.put(&new.window(first, new_window.min(n - first)));
            while let Some(w) = merge.next_ready().unwrap() {
                windows.push(w);
            }
        }
        merge.end();
        while let Some(w) = merge.next_ready().unwrap() {
            windows.push(w);
        }
        let mut out = merge.layout().clone();
        merge.finish()?;
        let total: usize = out.shape().iter().product();
        assert_eq!(windows.iter().map(|w| w.cells.len()).sum::<usize>(), total);
        for w in windows {
            assert_eq!(w.first, out.cells.len(), "windows in order");
            for (k, e) in w.errors {
                out.errors.insert(w.first + k, e);
            }
            out.cells.extend(w.cells);
            for (var, col) in out.vars.iter_mut().zip(&w.data) {
                var.data.extend_from(col);
            }
        }
        Ok(out)
    }

    #[test]
    fn a_merge_in_windows_is_the_merge_made_whole() {
        let existing = dataset(&[0, 2, 4], &[0.5, 1.5], &[0, 0, 1, 0, 2], 0.0);
        // New coordinates after, between and among the existing ones.
        for (a, b) in [
            (vec![5, 6, 7], vec![0.5, 1.5]),
            (vec![1, 3], vec![0.5, 1.5, 2.5]),
            (vec![0, 1, 2, 3, 4, 5], vec![0.25, 0.5, 0.75, 1.5]),
        ] {
            let new = dataset(&a, &b, &[0, 1, 0, 0, 2, 0, 0], 0.0);
            let whole = crate::harvest::merge(existing.clone(), &new, Conflicts::Refuse).unwrap();
            for (window, new_window) in [(1, 1), (2, 5), (3, 2), (7, 3), (100, 100)] {
                let got = merged_in_windows(&existing, &new, Conflicts::Refuse, window, new_window)
                    .unwrap();
                assert_eq!(got.dims, whole.dims, "{a:?} {b:?}");
                assert_eq!(got.cells, whole.cells, "{a:?} {b:?} {window} {new_window}");
                assert_eq!(got.errors, whole.errors, "{a:?} {b:?}");
                assert_eq!(
                    format!("{:?}", got.vars),
                    format!("{:?}", whole.vars),
                    "{a:?} {b:?} {window} {new_window}"
                );
                assert_eq!(got.attrs, whole.attrs);
            }
        }
    }

    #[test]
    fn conflicts_in_windows_are_settled_as_made_whole() {
        let existing = dataset(&[0, 1, 2], &[0.5, 1.5], &[0], 0.0);
        let new = dataset(&[1, 2, 3], &[0.5, 1.5], &[0, 0, 1], 1.0);
        for conflicts in [Conflicts::Overwrite, Conflicts::KeepExisting] {
            let whole = crate::harvest::merge(existing.clone(), &new, conflicts).unwrap();
            let got = merged_in_windows(&existing, &new, conflicts, 3, 2).unwrap();
            assert_eq!(got.cells, whole.cells, "{conflicts:?}");
            assert_eq!(format!("{:?}", got.vars), format!("{:?}", whole.vars));
        }
        let whole = crate::harvest::merge(existing.clone(), &new, Conflicts::Refuse).unwrap_err();
        let got = merged_in_windows(&existing, &new, Conflicts::Refuse, 3, 2).unwrap_err();
        assert_eq!(got, whole);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Any sorted coordinates, any states and any window sizes merge as made whole.
        #[test]
        fn any_merge_in_windows_is_the_merge_made_whole(
            old_a in proptest::collection::btree_set(0i64..12, 1..6),
            new_a in proptest::collection::btree_set(0i64..12, 1..6),
            old_b in proptest::collection::btree_set(0u8..8, 1..4),
            new_b in proptest::collection::btree_set(0u8..8, 1..4),
            old_states in proptest::collection::vec(0u8..3, 1..7),
            new_states in proptest::collection::vec(0u8..3, 1..7),
            window in 1usize..40,
            new_window in 1usize..40,
        ) {
            let floats = |s: &std::collections::BTreeSet<u8>| -> Vec<f64> {
                s.iter().map(|v| f64::from(*v) / 4.0).collect()
            };
            let old_a: Vec<i64> = old_a.into_iter().collect();
            let new_a: Vec<i64> = new_a.into_iter().collect();
            let existing = dataset(&old_a, &floats(&old_b), &old_states, 0.0);
            let new = dataset(&new_a, &floats(&new_b), &new_states, 0.0);
            let whole = crate::harvest::merge(existing.clone(), &new, Conflicts::Refuse).unwrap();
            let got = merged_in_windows(&existing, &new, Conflicts::Refuse, window, new_window)
                .unwrap();
            proptest::prop_assert_eq!(&got.cells, &whole.cells);
            proptest::prop_assert_eq!(&got.errors, &whole.errors);
            proptest::prop_assert_eq!(format!("{:?}", got.vars), format!("{:?}", whole.vars));
        }
    }
}
