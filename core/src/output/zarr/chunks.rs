//! How a Zarr array is cut into chunks (and shards), and how the elements of one chunk are
//! found in a row-major array: shared by the writer and the reader.

/// Largest chunk, in bytes (strings counted as `Kind::item_size` in the writer says).
pub(super) const CHUNK_BYTES: usize = 8 << 20;

/// Largest chunk inside a shard, in bytes.
pub(super) const SUBCHUNK_BYTES: usize = 1 << 20;

/// Most chunks in one shard.
pub(super) const SUBCHUNKS_PER_SHARD: usize = 64;

/// The chunk shape of an array of `shape` with items of `item` bytes: trailing dims whole, as
/// many as fit in `limit` bytes.
pub(super) fn chunk_shape(shape: &[usize], item: usize, limit: usize) -> Vec<usize> {
    let mut chunk = vec![1; shape.len()];
    let mut bytes = item;
    for d in (0..shape.len()).rev() {
        if bytes * shape[d] <= limit {
            chunk[d] = shape[d].max(1);
            bytes *= shape[d].max(1);
        } else {
            chunk[d] = (limit / bytes).max(1);
            break;
        }
    }
    chunk
}

/// The shard and subchunk shapes of a sharded array of `shape`, if it has more than one
/// subchunk: subchunks of at most [`SUBCHUNK_BYTES`], up to [`SUBCHUNKS_PER_SHARD`] of them a
/// shard, taken along the innermost dim that is split, then the dims outside it.
pub(super) fn shard_shape(shape: &[usize], item: usize) -> Option<(Vec<usize>, Vec<usize>)> {
    let sub = chunk_shape(shape, item, SUBCHUNK_BYTES);
    let split = (0..shape.len()).rfind(|&d| sub[d] < shape[d])?;
    let mut shard = sub.clone();
    let mut left = SUBCHUNKS_PER_SHARD;
    // Whole subchunk rows of the split dim first, then of the dims outside it.
    for d in (0..=split).rev() {
        let n = shape[d].div_ceil(sub[d]);
        let take = n.min(left).max(1);
        shard[d] = sub[d] * take;
        left /= take;
        if left <= 1 {
            break;
        }
    }
    Some((shard, sub))
}

/// The index of chunk `k` (row-major, the last dim fastest) of a chunk grid of shape `grid`.
pub(super) fn chunk_index(grid: &[u64], k: u64) -> Vec<u64> {
    let mut rest = k;
    let mut index = vec![0u64; grid.len()];
    for d in (0..grid.len()).rev() {
        index[d] = rest % grid[d].max(1);
        rest /= grid[d].max(1);
    }
    index
}

/// The indices of every chunk of a chunk grid of shape `grid`, row-major (the last fastest).
pub(super) fn chunk_indices(grid: &[u64]) -> impl Iterator<Item = Vec<u64>> + '_ {
    (0..grid.iter().product::<u64>()).map(move |k| chunk_index(grid, k))
}

/// The boxes (start and size along each dim) that make up cells `first..end` of a row-major
/// grid of `shape`, in order: each box's cells are consecutive in the grid, and there are at
/// most two a dim.
pub(super) fn boxes(shape: &[usize], first: usize, end: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let strides = crate::dataset::strides(shape);
    let mut out = Vec::new();
    let mut at = first;
    while at < end {
        if shape.is_empty() {
            out.push((Vec::new(), Vec::new()));
            break;
        }
        let mut start = vec![0; shape.len()];
        let mut rest = at;
        for d in (0..shape.len()).rev() {
            start[d] = rest % shape[d];
            rest /= shape[d];
        }
        // The outermost dim from which on the box holds whole blocks: the last always does.
        let k = (0..shape.len())
            .find(|&k| at.is_multiple_of(strides[k]) && end - at >= strides[k])
            .unwrap_or(shape.len() - 1);
        let count = ((end - at) / strides[k]).min(shape[k] - start[k]).max(1);
        let mut size = vec![1; shape.len()];
        size[k] = count;
        size[k + 1..].copy_from_slice(&shape[k + 1..]);
        out.push((start, size));
        at += count * strides[k];
    }
    out
}

/// Calls `f(in_chunk, in_array, len)` for each run of the chunk at `origin` (size `chunk`)
/// that lies inside a row-major array of `shape`: `len` elements along the last dim, at offset
/// `in_chunk` of the chunk (row-major, padded to full size) and `in_array` of the array.
pub(super) fn for_each_run(
    shape: &[usize],
    chunk: &[usize],
    origin: &[usize],
    f: impl FnMut(usize, usize, usize),
) {
    for_each_shared_run(origin, chunk, &vec![0; shape.len()], shape, f);
}

/// Calls `f(in_a, in_b, len)` for each run, along the last dim, of the cells two row-major
/// blocks of one array share: the block of `a_size` at `a_origin` and that of `b_size` at
/// `b_origin`; `len` cells from offset `in_a` of the first and `in_b` of the second.
pub(super) fn for_each_shared_run(
    a_origin: &[usize],
    a_size: &[usize],
    b_origin: &[usize],
    b_size: &[usize],
    mut f: impl FnMut(usize, usize, usize),
) {
    let nd = a_origin.len();
    if nd == 0 {
        f(0, 0, 1);
        return;
    }
    let lo: Vec<usize> = (0..nd).map(|d| a_origin[d].max(b_origin[d])).collect();
    let hi: Vec<usize> = (0..nd)
        .map(|d| (a_origin[d] + a_size[d]).min(b_origin[d] + b_size[d]))
        .collect();
    if (0..nd).any(|d| lo[d] >= hi[d]) {
        return;
    }
    let (a_strides, b_strides) = (
        crate::dataset::strides(a_size),
        crate::dataset::strides(b_size),
    );
    let last = nd - 1;
    let run = hi[last] - lo[last];
    let mut idx = lo.clone();
    loop {
        let in_a = (0..nd).map(|d| (idx[d] - a_origin[d]) * a_strides[d]).sum();
        let in_b = (0..nd).map(|d| (idx[d] - b_origin[d]) * b_strides[d]).sum();
        f(in_a, in_b, run);
        // The next row: all dims but the last, the one before it fastest.
        let mut d = last;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < hi[d] {
                break;
            }
            idx[d] = lo[d];
        }
    }
}

/// Copies the elements of the chunk at `origin` (size `chunk`) of a row-major array of
/// `shape` out of `data`, which holds element `a` of the array at `at(a)`, padding past the
/// array's edge with `fill`.
pub(super) fn gather_from<T: Copy>(
    data: &[T],
    at: impl Fn(usize) -> usize,
    shape: &[usize],
    chunk: &[usize],
    origin: &[usize],
    fill: T,
) -> Vec<T> {
    let mut out = vec![fill; chunk.iter().product()];
    for_each_run(shape, chunk, origin, |c, a, n| {
        let a = at(a);
        out[c..c + n].copy_from_slice(&data[a..a + n]);
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_trailing_dims_whole() {
        assert_eq!(chunk_shape(&[400, 400], 8, CHUNK_BYTES), vec![400, 400]);
        assert_eq!(
            chunk_shape(&[1000, 1000, 10], 8, CHUNK_BYTES),
            vec![104, 1000, 10]
        );
        assert_eq!(chunk_shape(&[], 8, CHUNK_BYTES), Vec::<usize>::new());
        assert_eq!(chunk_shape(&[10_000_000], 8, CHUNK_BYTES), vec![1 << 20]);
    }

    #[test]
    fn shards_gather_subchunks_along_the_split_dim() {
        // 10^7 values of 8 bytes: subchunks of 2^17, 64 a shard.
        assert_eq!(
            shard_shape(&[10_000_000], 8),
            Some((vec![64 << 17], vec![1 << 17]))
        );
        // Rows of 10^4 values (80 kB): 13 a subchunk, 64 subchunks a shard.
        assert_eq!(
            shard_shape(&[5000, 10_000], 8),
            Some((vec![13 * 64, 10_000], vec![13, 10_000]))
        );
        // A split trailing dim: its subchunks first, then whole rows.
        assert_eq!(
            shard_shape(&[100, 1 << 20], 8),
            Some((vec![8, 1 << 20], vec![1, 1 << 17]))
        );
        // One subchunk: nothing to shard.
        assert_eq!(shard_shape(&[300, 400], 8), None);
        assert_eq!(
            shard_shape(&[400, 400], 8),
            Some((vec![654, 400], vec![327, 400]))
        );
    }

    #[test]
    fn gather_pads_edges() {
        // 3x3 array, 2x2 chunks.
        let data: Vec<i64> = (0..9).collect();
        let shape = [3, 3];
        let chunk = [2, 2];
        assert_eq!(
            gather_from(&data, |a| a, &shape, &chunk, &[0, 0], -1),
            vec![0, 1, 3, 4]
        );
        assert_eq!(
            gather_from(&data, |a| a, &shape, &chunk, &[0, 2], -1),
            vec![2, -1, 5, -1]
        );
        assert_eq!(
            gather_from(&data, |a| a, &shape, &chunk, &[2, 0], -1),
            vec![6, 7, -1, -1]
        );
        assert_eq!(
            gather_from(&data, |a| a, &shape, &chunk, &[2, 2], -1),
            vec![8, -1, -1, -1]
        );
        assert_eq!(gather_from(&[5i64], |a| a, &[], &[], &[], -1), vec![5]);
    }

    proptest::proptest! {
        /// The boxes of a range hold its cells, each once, in order, and are few.
        #[test]
        fn boxes_cover_a_range_in_order(
            shape in proptest::collection::vec(1usize..6, 0..4),
            a in 0usize..1000,
            b in 0usize..1000,
        ) {
            let total: usize = shape.iter().product();
            let (first, end) = (a.min(b) % (total + 1), a.max(b) % (total + 1));
            let (first, end) = (first.min(end), first.max(end));
            let strides = crate::dataset::strides(&shape);
            let mut cells = Vec::new();
            let found = boxes(&shape, first, end);
            proptest::prop_assert!(found.len() <= 2 * shape.len().max(1));
            for (start, size) in &found {
                let n: usize = size.iter().product();
                let origin: usize = start.iter().zip(&strides).map(|(s, t)| s * t).sum();
                for k in 0..n {
                    let mut rest = k;
                    let mut flat = 0;
                    for d in (0..shape.len()).rev() {
                        flat += (start[d] + rest % size[d]) * strides[d];
                        rest /= size[d];
                    }
                    proptest::prop_assert!(flat >= origin);
                    cells.push(flat);
                }
            }
            proptest::prop_assert_eq!(cells, (first..end).collect::<Vec<_>>());
        }
    }

    proptest::proptest! {
        /// The runs two blocks share are their common cells, each once, at the offsets each
        /// block gives them.
        #[test]
        fn shared_runs_are_the_common_cells(
            dims in proptest::collection::vec((0usize..5, 1usize..5, 0usize..5, 1usize..5), 1..4),
        ) {
            let (a_origin, a_size): (Vec<usize>, Vec<usize>) =
                dims.iter().map(|(o, s, _, _)| (*o, *s)).unzip();
            let (b_origin, b_size): (Vec<usize>, Vec<usize>) =
                dims.iter().map(|(_, _, o, s)| (*o, *s)).unzip();
            let mut found = Vec::new();
            for_each_shared_run(&a_origin, &a_size, &b_origin, &b_size, |a, b, n| {
                found.extend((0..n).map(|k| (a + k, b + k)));
            });
            // Every cell of the first block, where it lies in the second, by brute force.
            let a_strides = crate::dataset::strides(&a_size);
            let b_strides = crate::dataset::strides(&b_size);
            let mut expected = Vec::new();
            for k in 0..a_size.iter().product::<usize>() {
                let mut rest = k;
                let mut idx = vec![0; a_size.len()];
                for d in (0..a_size.len()).rev() {
                    idx[d] = a_origin[d] + rest % a_size[d];
                    rest /= a_size[d];
                }
                let inside = (0..idx.len())
                    .all(|d| idx[d] >= b_origin[d] && idx[d] < b_origin[d] + b_size[d]);
                if inside {
                    let in_a: usize = (0..idx.len()).map(|d| (idx[d] - a_origin[d]) * a_strides[d]).sum();
                    let in_b: usize = (0..idx.len()).map(|d| (idx[d] - b_origin[d]) * b_strides[d]).sum();
                    expected.push((in_a, in_b));
                }
            }
            proptest::prop_assert_eq!(found, expected);
        }
    }
}
