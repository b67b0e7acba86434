//! How a batch walks a laid-out forest: the single-row walk, and the blocked batch walk that transposes rows to
//! feature-major and walks 16 lanes at a time in scalar code, or in AVX2 / AVX-512 vectors where the CPU has them.
//! Every walk adds each row's path lengths in tree order, so all of them give bit-identical scores.

use std::cell::RefCell;

use super::IsolationForest;
use super::layout::PackedIndices;
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};

/// How a batch walks the trees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// 16 rows at a time in scalar code, on any CPU.
    Scalar,
    /// 8 rows per AVX2 vector (x86-64 CPUs that have AVX2).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 16 rows per AVX-512 vector (x86-64 CPUs that have AVX-512F).
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Walk {
    /// The fastest walk this CPU supports; `score_into` uses it.
    pub fn fastest() -> Self {
        *Self::supported().last().unwrap_or(&Walk::Scalar)
    }

    /// Every walk this CPU runs, slowest first. Detected once: it is asked for every batch, so once per agent per
    /// tick.
    pub fn supported() -> &'static [Self] {
        static SUPPORTED: std::sync::OnceLock<Vec<Walk>> = std::sync::OnceLock::new();
        SUPPORTED.get_or_init(|| {
            // Only x86-64 adds vector walks; elsewhere (wasm, ARM) the list stays as it starts.
            #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
            let mut walks = vec![Walk::Scalar];
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx2") {
                    walks.push(Walk::Avx2);
                }
                // The AVX-512 fitting code also counts mask bits with POPCNT, which every AVX-512 CPU has.
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("popcnt")
                {
                    walks.push(Walk::Avx512);
                }
            }
            walks
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Walk::Scalar => "scalar",
            #[cfg(target_arch = "x86_64")]
            Walk::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Walk::Avx512 => "avx512",
        }
    }
}

/// Rows walked through a tree together: their independent load chains overlap.
pub(super) const LANES: usize = 16;
/// Rows that walk one tree before the next tree is loaded, so the tree stays in L1.
pub(super) const BLOCK_ROWS: usize = 128;

/// Inputs are f32, so an f64 threshold t (as scikit-learn stores it) is kept as the largest f32 not above t: for
/// every f32 x, `x <= t` and `x <= that f32` agree, which keeps scoring exact.
/// The largest f32 that is not above `t`.
///
/// Branch-free: whether `t` rounded up is a coin flip while growing trees, and a mispredicted branch per split cost
/// more than computing both answers.
#[inline]
pub fn f32_at_or_below(t: f64) -> f32 {
    let r = t as f32;
    let bits = r.to_bits();
    // One step toward -inf: down for a positive r, up in magnitude for a negative one (-0.0 becomes the smallest
    // negative subnormal). +0.0 never needs it: a t that rounds to +0.0 is not negative, so +0.0 is not above it.
    let toward_negative = bits.wrapping_add(!((bits as i32 >> 31) as u32) | 1);
    f32::from_bits(std::hint::select_unpredictable(
        f64::from(r) > t,
        toward_negative,
        bits,
    ))
}

/// One tree of a forest being fitted, already in the scoring layout but with its leaves' codes not yet packed.
pub(super) struct FittedTree<'a> {
    /// Its 2^depth - 1 split slots.
    pub(super) thresholds: &'a [f32],
    /// The forest's split features; this tree's start at `first_split`.
    pub(super) features: &'a PackedIndices,
    pub(super) first_split: usize,
    /// Its 2^depth bottom slots' codes into `path_lengths`.
    pub(super) leaf_codes: &'a [u32],
    pub(super) path_lengths: &'a [f64],
    pub(super) depth: usize,
}

impl FittedTree<'_> {
    /// Adds to each of `rows`' totals the path length of the bottom slot (heap index) its vector walk ended in.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn add_bottom_slots(&self, rows: &[u32], slots: &[u32], totals: &mut [f64]) {
        let per_splits = self.thresholds.len();
        for (&row, &slot) in rows.iter().zip(slots) {
            let code = self.leaf_codes[slot as usize - per_splits];
            totals[row as usize] += self.path_lengths[code as usize];
        }
    }

    /// Adds the path length of each row in `rows` (indices of training rows) to `totals[row]`. `columns` holds the
    /// training rows feature-major, `n_rows` values per feature.
    pub(super) fn add_path_lengths(
        &self,
        rows: &[u32],
        columns: &[f32],
        n_rows: usize,
        totals: &mut [f64],
    ) {
        self.add_path_lengths_with(Walk::fastest(), rows, columns, n_rows, totals);
    }

    /// `add_path_lengths` with a chosen walk, to compare walks.
    pub(super) fn add_path_lengths_with(
        &self,
        walk: Walk,
        rows: &[u32],
        columns: &[f32],
        n_rows: usize,
        totals: &mut [f64],
    ) {
        // Only x86-64 has a vector version; elsewhere every walk is the scalar loop below.
        #[cfg(not(target_arch = "x86_64"))]
        let _ = walk;
        #[cfg(target_arch = "x86_64")]
        if walk != Walk::Scalar && columns.len() <= i32::MAX as usize {
            assert!(Walk::supported().contains(&walk));
            // SAFETY: the CPU has the walk's features, and every index into `columns` fits a gather's i32 offset.
            return unsafe {
                if walk == Walk::Avx512 {
                    avx512::add_listed_rows_path_lengths(self, rows, columns, n_rows, totals)
                } else {
                    avx2::add_listed_rows_path_lengths(self, rows, columns, n_rows, totals)
                }
            };
        }
        for &row in rows {
            let mut at = 0;
            for _ in 0..self.depth {
                let feature = self.features.get(self.first_split + at);
                let x = columns[feature * n_rows + row as usize];
                // `!(x <= t)`: a NaN goes right, as in scikit-learn.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(x <= self.thresholds[at]));
                at = 2 * at + 1 + go_right;
            }
            let code = self.leaf_codes[at - self.thresholds.len()];
            totals[row as usize] += self.path_lengths[code as usize];
        }
    }
}

impl IsolationForest {
    /// Sum of the path lengths over the trees, in tree order.
    pub(super) fn total_path_length(&self, row: &[f32]) -> f64 {
        debug_assert_eq!(row.len(), self.features);
        let (per_splits, per_leaves) = ((1usize << self.depth) - 1, 1usize << self.depth);
        let mut total = 0.0;
        for t in 0..self.trees {
            let first = t * per_splits;
            let mut at = 0;
            for _ in 0..self.depth {
                let x = row[self.split_features.get(first + at)];
                // `!(x <= t)`: a NaN goes right, as in scikit-learn.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(x <= self.thresholds[first + at]));
                at = 2 * at + 1 + go_right;
            }
            total += self.path_lengths[self.leaves.get(t * per_leaves + at - per_splits)];
        }
        total
    }

    /// Scores every row of a row-major batch into `out` (cleared first); allocates only if `out` or this thread's
    /// block buffer must grow, never per row. Uses the fastest walk this CPU supports; all walks give
    /// bit-identical scores.
    pub fn score_into(&self, rows: &[f32], out: &mut Vec<f64>) {
        self.score_into_with(rows, out, Walk::fastest());
    }

    /// `score_into` for a forest that is likely still in this core's cache since its last use, as each of a small
    /// population's forests is from one tick to the next: the small-batch walk skips prefetching the forest, which
    /// then only costs: 8 rows through a hot default forest took 1.35-2.08 µs without it against 1.75-2.11 µs with
    /// it (`iforest_small/score_8_rows_hot_cached`, three noisy rounds on a 2-core Xeon). The same scores.
    pub fn score_into_cached(&self, rows: &[f32], out: &mut Vec<f64>) {
        self.score_into_walk(rows, out, Walk::fastest(), false);
    }

    /// `score_into` with a chosen walk, to compare walks. Panics if this CPU cannot run `walk`.
    pub fn score_into_with(&self, rows: &[f32], out: &mut Vec<f64>, walk: Walk) {
        self.score_into_walk(rows, out, walk, true);
    }

    fn score_into_walk(&self, rows: &[f32], out: &mut Vec<f64>, walk: Walk, prefetch: bool) {
        // Only the vector walks prefetch.
        #[cfg(not(target_arch = "x86_64"))]
        let _ = prefetch;
        assert!(
            Walk::supported().contains(&walk),
            "this CPU cannot run the {} walk",
            walk.name()
        );
        let f = self.features;
        let n = rows.len() / f;
        out.clear();
        out.resize(n, 0.0);
        // Each chunk of LANES rows is transposed to feature-major ([feature][lane]), so a lane's read of feature k
        // is at `k * LANES + lane`: a constant offset per lane in the unrolled scalar walk, one vector load at the
        // root and a simple gather index below it in the vector walks.
        let chunks_per_block = n.min(BLOCK_ROWS).div_ceil(LANES);
        // One block buffer per thread, reused: agents score small batches every tick.
        thread_local! {
            static TRANSPOSED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
        }
        TRANSPOSED.with_borrow_mut(|transposed| {
            transposed.clear();
            transposed.resize(chunks_per_block * LANES * f, 0.0);
            // Tree-major within a block of rows: one tree stays in L1 while the block walks it, and each row's
            // path lengths are still added in tree order, as scikit-learn does.
            for (block, block_totals) in rows.chunks(BLOCK_ROWS * f).zip(out.chunks_mut(BLOCK_ROWS))
            {
                for (chunk, chunk_t) in block
                    .chunks(LANES * f)
                    .zip(transposed.chunks_mut(LANES * f))
                {
                    for (lane, row) in chunk.chunks(f).enumerate() {
                        for (feature, &x) in row.iter().enumerate() {
                            chunk_t[feature * LANES + lane] = x;
                        }
                    }
                }
                match walk {
                    Walk::Scalar => {}
                    // SAFETY: the CPU has AVX2 (asserted above).
                    #[cfg(target_arch = "x86_64")]
                    Walk::Avx2 => {
                        if block_totals.len() <= LANES {
                            unsafe {
                                avx2::add_small_batch_path_lengths(
                                    self,
                                    transposed,
                                    block_totals,
                                    prefetch,
                                )
                            };
                            continue;
                        }
                        unsafe { avx2::add_block_path_lengths(self, transposed, block_totals) };
                        continue;
                    }
                    // SAFETY: the CPU has AVX-512F (asserted above).
                    #[cfg(target_arch = "x86_64")]
                    Walk::Avx512 => {
                        if block_totals.len() <= LANES {
                            unsafe {
                                avx512::add_small_batch_path_lengths(
                                    self,
                                    transposed,
                                    block_totals,
                                    prefetch,
                                )
                            };
                            continue;
                        }
                        unsafe { avx512::add_block_path_lengths(self, transposed, block_totals) };
                        continue;
                    }
                }
                for tree in 0..self.trees {
                    for (chunk_t, totals) in transposed
                        .chunks(LANES * f)
                        .zip(block_totals.chunks_mut(LANES))
                    {
                        self.add_tree_path_lengths(tree, chunk_t, totals);
                    }
                }
            }
        });
        for s in out.iter_mut() {
            *s = self.score_from_total(*s);
        }
    }

    /// Adds each row's path length in one tree into `totals` (one entry per row, at most `LANES`). `chunk_t` holds
    /// `LANES` rows feature-major; lanes past `totals.len()` hold stale values and are walked but not added.
    fn add_tree_path_lengths(&self, tree: usize, chunk_t: &[f32], totals: &mut [f64]) {
        match self.split_features.shift() {
            0 => self.add_tree_path_lengths_at::<0>(tree, chunk_t, totals),
            1 => self.add_tree_path_lengths_at::<1>(tree, chunk_t, totals),
            _ => self.add_tree_path_lengths_at::<2>(tree, chunk_t, totals),
        }
    }

    /// `add_tree_path_lengths` with features packed `1 << SHIFT` bytes wide.
    fn add_tree_path_lengths_at<const SHIFT: u32>(
        &self,
        tree: usize,
        chunk_t: &[f32],
        totals: &mut [f64],
    ) {
        let per_splits = (1usize << self.depth) - 1;
        let first = tree * per_splits;
        let thresholds = &self.thresholds[first..first + per_splits];
        assert_eq!(chunk_t.len(), self.features * LANES);
        let mut at = [0usize; LANES];
        if let Some(&root) = thresholds.first() {
            // Every lane starts at the root, so its row of values is read straight, with no index chain.
            let values = &chunk_t[self.split_features.get(first) * LANES..][..LANES];
            for (at_lane, &x) in at.iter_mut().zip(values) {
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(x <= root));
                *at_lane = 1 + go_right;
            }
        }
        for _ in 1..self.depth {
            for (lane, at_lane) in at.iter_mut().enumerate() {
                // SAFETY: after k < depth steps `*at_lane` is below 2^(k+1) - 1 <= 2^depth - 1 = thresholds.len();
                // every split's feature is below `self.features` (padding uses 0; real splits are checked when grown
                // or loaded), so `feature * LANES + lane` is below `chunk_t.len()`, checked above.
                let threshold = unsafe { *thresholds.get_unchecked(*at_lane) };
                let feature = self.split_features.get_at_width::<SHIFT>(first + *at_lane);
                let x = unsafe { *chunk_t.get_unchecked(feature * LANES + lane) };
                // Arithmetic, not `if`: the direction is a coin flip per row, and a mispredicted branch per step
                // would serialise the lanes. `!(x <= t)`: a NaN goes right, as in scikit-learn.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(x <= threshold));
                *at_lane = 2 * *at_lane + 1 + go_right;
            }
        }
        let first_leaf = tree << self.depth;
        for (total, &slot) in totals.iter_mut().zip(&at) {
            *total += self.path_lengths[self.leaves.get(first_leaf + slot - per_splits)];
        }
    }
}

/// Asks for trees `first..first + count` to be brought into the cache `HINT` names (`_MM_HINT_T0`: L1), a cache
/// line at a time. Prefetches are SSE, which every x86-64 CPU has, so both vector walks use this.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse")]
pub(super) fn prefetch_trees<const HINT: i32>(
    forest: &IsolationForest,
    first: usize,
    count: usize,
) {
    let end = (first + count).min(forest.trees);
    if first >= end {
        return;
    }
    let (per_splits, per_leaves) = ((1usize << forest.depth) - 1, 1usize << forest.depth);
    let thresholds = forest.thresholds[first * per_splits..end * per_splits].as_ptr_range();
    for range in [
        thresholds.start.cast::<u8>()..thresholds.end.cast::<u8>(),
        forest
            .split_features
            .byte_range(first * per_splits..end * per_splits),
        forest
            .leaves
            .byte_range(first * per_leaves..end * per_leaves),
    ] {
        let mut line = range.start;
        while line < range.end {
            // A prefetch never faults; stepping past the slice's end wraps, not reads.
            std::arch::x86_64::_mm_prefetch::<HINT>(line.cast());
            line = line.wrapping_add(64);
        }
    }
}
