//! Growing trees as scikit-learn's `IsolationForest` does: a subsample without replacement per tree, a uniformly
//! drawn non-constant feature per node, a threshold uniform between its minimum and maximum in the node.

use std::ops::Range;

use rand::{Rng, RngExt};

#[cfg(target_arch = "x86_64")]
use super::avx512;
use super::layout::PathLengthCodes;
#[cfg(target_arch = "x86_64")]
use super::walk::Walk;
use super::walk::{FittedTree, f32_at_or_below};
use super::{Contamination, ForestParams, IsolationForest, percentile_linear};

/// Scratch space for fitting, one per thread and reused, so that periodic retraining neither reallocates nor keeps a
/// copy per forest (every agent owns a forest).
#[derive(Default, Debug)]
struct FitScratch {
    /// 0..n_rows, which each tree's subsample shuffle starts from.
    identity: Vec<u32>,
    indices: Vec<u32>,
    /// The training rows feature-major (`columns[feature * n_rows + row]`): a node gathers one feature's values,
    /// and the walk of the rows a tree did not sample reads them by row.
    columns: Vec<f32>,
    candidate_features: Vec<u32>,
    /// The node's values of the feature being tried, gathered once so that finding its range and partitioning on it
    /// read a contiguous array.
    values: Vec<f32>,
    /// A node's rows are in `levels[depth % 2]`, at the node's range; partitioning writes its children's rows into
    /// the other buffer at the same range, so no pass copies them back.
    levels: [Vec<u32>; 2],
    /// Each tree's bottom slots' path-length codes, packed into the forest once the widest code is known.
    leaf_codes: Vec<u32>,
    /// Each training row's path lengths summed in tree order, for the contamination threshold.
    totals: Vec<f64>,
    codes: PathLengthCodes,
    /// Grow with the scalar node code even where AVX-512 is available, to compare the two.
    #[cfg(test)]
    scalar_nodes: bool,
}

thread_local! {
    static FIT_SCRATCH: std::cell::RefCell<FitScratch> = std::cell::RefCell::default();
}

#[cfg(target_arch = "x86_64")]
impl FitScratch {
    fn scalar_nodes(&self) -> bool {
        #[cfg(test)]
        return self.scalar_nodes;
        #[cfg(not(test))]
        false
    }
}

impl IsolationForest {
    /// Fits again in place, reusing this forest's storage and this thread's scratch buffers.
    pub fn refit<R: Rng + ?Sized>(
        &mut self,
        rows: &[f32],
        features: usize,
        params: ForestParams,
        rng: &mut R,
    ) {
        FIT_SCRATCH
            .with_borrow_mut(|scratch| self.refit_with(rows, features, params, rng, scratch));
    }

    /// Grows each tree straight into the scoring layout, as a complete tree of the height limit's depth, and shrinks
    /// the layout to the deepest leaf at the end (which is the height limit in all but tiny or degenerate data).
    ///
    /// With a contamination fraction the threshold needs every training row's score. A tree already knows the leaf
    /// of each row it sampled, so only the others walk it, right after it is grown; each row still adds its path
    /// lengths in tree order, so its total, and the threshold, are bit-identical to scoring the rows afterwards.
    fn refit_with<R: Rng + ?Sized>(
        &mut self,
        rows: &[f32],
        features: usize,
        params: ForestParams,
        rng: &mut R,
        scratch: &mut FitScratch,
    ) {
        assert!(
            features > 0,
            "an Isolation Forest needs at least one feature"
        );
        let n_rows = rows.len() / features;
        assert!(
            n_rows > 0,
            "an Isolation Forest needs at least one training row"
        );
        let psi = params.subsample.clamp(1, n_rows);
        let height_limit = (psi.max(2) as f64).log2().ceil() as usize;
        let trees = params.trees.max(1);
        let (per_splits, per_leaves) = ((1usize << height_limit) - 1, 1usize << height_limit);
        self.features = features;
        self.max_samples = psi;
        self.trees = trees;
        self.depth = height_limit;
        self.thresholds.clear();
        self.thresholds.resize(trees * per_splits, f32::INFINITY);
        self.split_features
            .reset(trees * per_splits, (features - 1) as u32);
        self.path_lengths.clear();
        scratch.leaf_codes.clear();
        scratch.leaf_codes.resize(trees * per_leaves, 0);
        feature_major(rows, features, &mut scratch.columns);
        let scoring = matches!(params.contamination, Contamination::Fraction(_));
        scratch.totals.clear();
        if scoring {
            scratch.totals.resize(n_rows, 0.0);
        }
        scratch.codes.begin(height_limit, psi);
        // Each tree's shuffle starts from 0..n_rows: copied, not counted out, per tree.
        scratch.identity.clear();
        scratch.identity.extend(0..n_rows as u32);
        // A node's gathered values: no node holds more than the subsample.
        if scratch.values.len() < psi {
            scratch.values.resize(psi, 0.0);
        }
        // Each tree's rows start in levels[0][..psi], and its nodes partition within that range.
        for level in &mut scratch.levels {
            level.resize(psi, 0);
        }
        let mut deepest = 0;
        #[cfg(target_arch = "x86_64")]
        let vector_nodes = Walk::fastest() == Walk::Avx512 && !scratch.scalar_nodes();
        for tree in 0..trees {
            // Partial Fisher-Yates: the first ψ entries become a uniform sample without replacement.
            scratch.indices.clear();
            scratch.indices.extend_from_slice(&scratch.identity);
            for i in 0..psi {
                let j = random_below(rng, i, n_rows);
                scratch.indices.swap(i, j);
            }
            scratch.levels[0].copy_from_slice(&scratch.indices[..psi]);
            let first_split = tree * per_splits;
            let leaf_codes = &mut scratch.leaf_codes[tree * per_leaves..(tree + 1) * per_leaves];
            let mut builder = TreeBuilder {
                thresholds: &mut self.thresholds[first_split..first_split + per_splits],
                split_features: &mut self.split_features,
                first_split,
                leaf_codes,
                path_lengths: &mut self.path_lengths,
                totals: scoring.then_some(&mut scratch.totals),
                codes: &mut scratch.codes,
                columns: &scratch.columns,
                n_rows,
                features,
                height_limit,
                deepest: 0,
                candidates: &mut scratch.candidate_features,
                values: &mut scratch.values,
                levels: &mut scratch.levels,
                #[cfg(target_arch = "x86_64")]
                avx512: vector_nodes,
            };
            builder.grow(0..psi, 0, 0, rng);
            deepest = deepest.max(builder.deepest);
            if scoring && psi < n_rows {
                let grown = FittedTree {
                    thresholds: &self.thresholds[first_split..first_split + per_splits],
                    features: &self.split_features,
                    first_split,
                    leaf_codes: &scratch.leaf_codes[tree * per_leaves..(tree + 1) * per_leaves],
                    path_lengths: &self.path_lengths,
                    depth: height_limit,
                };
                grown.add_path_lengths(
                    &scratch.indices[psi..],
                    &scratch.columns,
                    n_rows,
                    &mut scratch.totals,
                );
            }
        }
        scratch.codes.finish();
        if deepest < height_limit {
            self.shrink_to_depth(deepest, &mut scratch.leaf_codes);
        }
        self.leaves.pack(&scratch.leaf_codes);
        self.threshold = match params.contamination {
            Contamination::Auto => 0.5,
            Contamination::Fraction(p) => {
                // scikit-learn: offset_ = percentile(score_samples, 100 p), and score_samples = -s.
                let mut scores = std::mem::take(&mut scratch.totals);
                for s in &mut scores {
                    *s = -self.score_from_total(*s);
                }
                let threshold = -percentile_linear(&mut scores, 100.0 * p);
                scratch.totals = scores;
                threshold
            }
        };
    }

    /// Cuts a layout grown to the height limit down to `depth` levels: the levels above keep their slots, and each
    /// slot at `depth`, a leaf, takes the code its subtree was filled with.
    fn shrink_to_depth(&mut self, depth: usize, leaf_codes: &mut Vec<u32>) {
        let from = self.depth;
        let (from_splits, from_leaves) = ((1usize << from) - 1, 1usize << from);
        let (to_splits, to_leaves) = ((1usize << depth) - 1, 1usize << depth);
        let mut thresholds = Vec::with_capacity(self.trees * to_splits);
        let mut features = super::layout::PackedIndices::default();
        features.reset(self.trees * to_splits, (self.features - 1) as u32);
        let mut codes = Vec::with_capacity(self.trees * to_leaves);
        for tree in 0..self.trees {
            let (old_split, old_leaf) = (tree * from_splits, tree * from_leaves);
            thresholds.extend_from_slice(&self.thresholds[old_split..old_split + to_splits]);
            for slot in 0..to_splits {
                features.set(
                    tree * to_splits + slot,
                    self.split_features.get(old_split + slot) as u32,
                );
            }
            // Bottom slot j of the shallow tree is slot to_splits + j; its first bottom slot in the deep tree is
            // ((slot + 1) << (from - depth)) - 1.
            codes.extend((0..to_leaves).map(|j| {
                let first = ((to_splits + j + 1) << (from - depth)) - 1;
                leaf_codes[old_leaf + first - from_splits]
            }));
        }
        self.thresholds = thresholds;
        self.split_features = features;
        *leaf_codes = codes;
        self.depth = depth;
    }
}

/// `rng.random_range(low..high)` for a range of at most `u32::MAX` values, drawn exactly as rand 0.10 draws it:
/// Canon's method on one `u32`, and a second `u32` only when the first lands in the biased sliver. Written out so
/// that it inlines into the fitting loops, where the library's version is a call per draw; a unit test holds it to
/// the library's draws.
#[inline(always)]
fn random_below<R: Rng + ?Sized>(rng: &mut R, low: usize, high: usize) -> usize {
    debug_assert!(low < high && high - low <= u32::MAX as usize);
    let range = (high - low) as u32;
    let product = u64::from(rng.next_u32()) * u64::from(range);
    let (mut result, low_order) = ((product >> 32) as u32, product as u32);
    if low_order > range.wrapping_neg() {
        let carry_in = ((u64::from(rng.next_u32()) * u64::from(range)) >> 32) as u32;
        result += u32::from(low_order.checked_add(carry_in).is_none());
    }
    low + result as usize
}

/// Writes row-major `rows` (`features` columns) into `columns` feature-major: `columns[feature * n_rows + row]`.
pub(super) fn feature_major(rows: &[f32], features: usize, columns: &mut Vec<f32>) {
    columns.clear();
    columns.extend((0..features).flat_map(|f| rows.chunks_exact(features).map(move |row| row[f])));
}

/// The rows of the node at `range` and depth `depth`, and where its children's rows go: the same range of the other
/// level buffer.
fn node_and_children(
    levels: &mut [Vec<u32>; 2],
    range: Range<usize>,
    depth: usize,
) -> (&[u32], &mut [u32]) {
    let [even, odd] = levels;
    if depth.is_multiple_of(2) {
        (&even[range.clone()], &mut odd[range])
    } else {
        (&odd[range.clone()], &mut even[range])
    }
}

/// Nodes of at least this many rows gather and partition in AVX-512 vectors; in smaller ones a gather's latency
/// costs more than the scalar loop.
#[cfg(target_arch = "x86_64")]
const VECTOR_NODE_ROWS: usize = 8;

/// Grows one tree into the scoring layout.
struct TreeBuilder<'a> {
    /// This tree's split slots, in heap order; +inf (always left) until a split is written.
    thresholds: &'a mut [f32],
    split_features: &'a mut super::layout::PackedIndices,
    first_split: usize,
    /// This tree's bottom slots.
    leaf_codes: &'a mut [u32],
    path_lengths: &'a mut Vec<f64>,
    /// Per training row, when the threshold needs scores: each sampled row's path length is added at its leaf.
    totals: Option<&'a mut Vec<f64>>,
    codes: &'a mut PathLengthCodes,
    columns: &'a [f32],
    n_rows: usize,
    features: usize,
    height_limit: usize,
    /// Depth of the deepest leaf so far.
    deepest: usize,
    candidates: &'a mut Vec<u32>,
    values: &'a mut Vec<f32>,
    levels: &'a mut [Vec<u32>; 2],
    /// Whether nodes gather and partition with AVX-512 (same results as the scalar code).
    #[cfg(target_arch = "x86_64")]
    avx512: bool,
}

impl TreeBuilder<'_> {
    /// A leaf of the node at `slot` (heap order), holding the rows at `range` of `levels[depth % 2]`: every bottom
    /// slot beneath it takes its path-length code.
    fn push_leaf(&mut self, range: Range<usize>, depth: usize, slot: usize) {
        self.deepest = self.deepest.max(depth);
        let code = self.codes.code(depth, range.len(), self.path_lengths);
        let below = self.height_limit - depth;
        let first = ((slot + 1) << below) - 1 - self.thresholds.len();
        self.leaf_codes[first..first + (1 << below)].fill(code);
        if let Some(totals) = self.totals.as_deref_mut() {
            let length = self.path_lengths[code as usize];
            for &row in &self.levels[depth % 2][range] {
                totals[row as usize] += length;
            }
        }
    }

    /// Grows the subtree at `slot` over the rows at `range` of `levels[depth % 2]` (indices into the training
    /// rows), left before right, so the random draws come in scikit-learn's order. The order of rows within a node
    /// does not matter: a node's split and its children's sets depend only on which rows reached it.
    fn grow<R: Rng + ?Sized>(
        &mut self,
        range: Range<usize>,
        depth: usize,
        slot: usize,
        rng: &mut R,
    ) {
        let n = range.len();
        if depth >= self.height_limit || n <= 1 {
            return self.push_leaf(range, depth, slot);
        }
        // Draw features until one is not constant in this node, as scikit-learn's random splitter does: uniformly
        // among those not tried yet, the list kept by swap-remove. The list is built only when the first draw, from
        // all features, is constant (rarely); the draws are the same as with a list from the start.
        let mut feature = random_below(rng, 0, self.features);
        let mut listed = false;
        let split = loop {
            let (lo, hi) = self.gather_range(range.clone(), depth, feature);
            if hi > lo {
                let (lo, hi) = (f64::from(lo), f64::from(hi));
                let mut threshold = lo + rng.random::<f64>() * (hi - lo);
                if threshold >= hi {
                    threshold = lo;
                }
                break Some((feature, f32_at_or_below(threshold)));
            }
            if !listed {
                listed = true;
                self.candidates.clear();
                self.candidates.extend(0..self.features as u32);
                self.candidates.swap_remove(feature);
            }
            if self.candidates.is_empty() {
                break None;
            }
            let pick = random_below(rng, 0, self.candidates.len());
            feature = self.candidates.swap_remove(pick) as usize;
        };
        let Some((feature, threshold)) = split else {
            return self.push_leaf(range, depth, slot);
        };
        self.thresholds[slot] = threshold;
        self.split_features
            .set(self.first_split + slot, feature as u32);
        if n == 2 {
            // Both children hold one row, so both are leaves: no partition pass and no recursion. A split of two
            // rows has two distinct values (neither NaN) and a threshold from the lower up to below the higher.
            let (from, to) = node_and_children(self.levels, range.clone(), depth);
            let first_goes_left = self.values[0] <= threshold;
            to[0] = from[usize::from(!first_goes_left)];
            to[1] = from[usize::from(first_goes_left)];
            self.push_leaf(range.start..range.start + 1, depth + 1, 2 * slot + 1);
            self.push_leaf(range.start + 1..range.end, depth + 1, 2 * slot + 2);
            return;
        }
        let left_len = self.partition(range.clone(), depth, threshold);
        let middle = range.start + left_len;
        self.grow(range.start..middle, depth + 1, 2 * slot + 1, rng);
        self.grow(middle..range.end, depth + 1, 2 * slot + 2, rng);
    }

    /// `values[k]` = the value of `feature` in the node's k-th row; returns their minimum and maximum.
    fn gather_range(&mut self, range: Range<usize>, depth: usize, feature: usize) -> (f32, f32) {
        let column = &self.columns[feature * self.n_rows..][..self.n_rows];
        let rows = &self.levels[depth % 2][range];
        // Sized to the subsample once per fit.
        let values = &mut self.values[..rows.len()];
        #[cfg(target_arch = "x86_64")]
        if self.avx512 && rows.len() >= VECTOR_NODE_ROWS {
            // SAFETY: the CPU has AVX-512F; every row index was drawn from 0..n_rows, and `values` fits the node.
            return unsafe { avx512::gather_range(rows, column, values) };
        }
        gather_and_range(rows, column, values)
    }

    /// Writes the node's rows into the other level buffer at the same range: those whose gathered value is at or
    /// below `threshold` from the front, the others from the back. Returns how many go left. Branch-free: whether a
    /// row goes left is a coin flip, and a mispredicted branch per row costs more than writing each row to both
    /// ends and advancing one.
    fn partition(&mut self, range: Range<usize>, depth: usize, threshold: f32) -> usize {
        let n = range.len();
        let (from, to) = node_and_children(self.levels, range, depth);
        let values = &self.values[..n];
        #[cfg(target_arch = "x86_64")]
        if self.avx512 && n >= VECTOR_NODE_ROWS {
            // SAFETY: the CPU has AVX-512F and POPCNT (`Walk::Avx512` is fastest only with both), and `values`
            // and `to` hold the node's n entries.
            return unsafe { avx512::partition(from, values, threshold, to) };
        }
        // Rows [0, left) go left and [right, n) go right; a write past either end is overwritten before the two meet.
        let (mut left, mut right) = (0, n);
        assert_eq!((from.len(), to.len()), (n, n));
        for (&row, &value) in from.iter().zip(values) {
            let goes_left = value <= threshold;
            // SAFETY: before each row, left + (n - right) rows are placed, fewer than n, so left < right <= n.
            unsafe {
                *to.get_unchecked_mut(left) = row;
                *to.get_unchecked_mut(right - 1) = row;
            }
            left += usize::from(goes_left);
            right -= usize::from(!goes_left);
        }
        left
    }
}

/// `values[k] = column[rows[k]]`, and their minimum and maximum (ignoring NaNs, as `f32::min` and `f32::max` do),
/// taken from the loaded values in the same pass: reading the values back just after storing them one at a time
/// stalls each vector load until the stores it overlaps have left the store buffer.
fn gather_and_range(rows: &[u32], column: &[f32], values: &mut [f32]) -> (f32, f32) {
    const WAYS: usize = 4;
    let mut lo = [f32::INFINITY; WAYS];
    let mut hi = [f32::NEG_INFINITY; WAYS];
    let mut value_chunks = values.chunks_exact_mut(WAYS);
    let mut row_chunks = rows.chunks_exact(WAYS);
    for (chunk, rows) in (&mut value_chunks).zip(&mut row_chunks) {
        for k in 0..WAYS {
            // SAFETY: every row index was drawn from 0..n_rows.
            let v = unsafe { *column.get_unchecked(rows[k] as usize) };
            chunk[k] = v;
            lo[k] = lo[k].min(v);
            hi[k] = hi[k].max(v);
        }
    }
    let (mut lo, mut hi) = (
        lo.into_iter().fold(f32::INFINITY, f32::min),
        hi.into_iter().fold(f32::NEG_INFINITY, f32::max),
    );
    for (value, &row) in value_chunks
        .into_remainder()
        .iter_mut()
        .zip(row_chunks.remainder())
    {
        // SAFETY: every row index was drawn from 0..n_rows.
        let v = unsafe { *column.get_unchecked(row as usize) };
        *value = v;
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;
    use rand_distr::StandardNormal;

    /// The inlined draw takes the same words and gives the same values as the library's, small ranges and ranges
    /// wide enough that the second word is often needed.
    #[test]
    fn random_below_draws_as_random_range_does() {
        let (mut ours, mut theirs) = (ChaCha8Rng::seed_from_u64(12), ChaCha8Rng::seed_from_u64(12));
        for (low, high) in [
            (0, 1),
            (0, 8),
            (3, 256),
            (127, 256),
            (0, 1 << 31),
            (5, u32::MAX as usize),
            (0, 3_000_000_000),
        ] {
            for _ in 0..20_000 {
                assert_eq!(
                    random_below(&mut ours, low, high),
                    theirs.random_range(low..high),
                    "{low}..{high}"
                );
            }
        }
        assert_eq!(ours.next_u64(), theirs.next_u64());
    }

    /// The fused gather takes each row's value and the same range as gathering first and folding after, for every
    /// length around the 4-way chunks, with NaNs (ignored, as `f32::min` does) and a node of only NaNs.
    #[test]
    fn gather_and_range_takes_the_values_and_their_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let column: Vec<f32> = (0..300)
            .map(|i| {
                if i % 7 == 0 {
                    f32::NAN
                } else {
                    rng.sample(StandardNormal)
                }
            })
            .collect();
        for n in 0..=19 {
            let rows: Vec<u32> = (0..n).map(|_| rng.random_range(0..300)).collect();
            let mut values = vec![0.0; n];
            let (lo, hi) = gather_and_range(&rows, &column, &mut values);
            let expected: Vec<f32> = rows.iter().map(|&r| column[r as usize]).collect();
            assert_eq!(
                values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                expected.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
            let folded = expected
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                });
            assert_eq!((lo, hi), folded, "{n} rows");
        }
        let nans = vec![f32::NAN; 5];
        let mut values = [0.0; 5];
        let (lo, hi) = gather_and_range(&[0, 1, 2, 3, 4], &nans, &mut values);
        assert!(lo == f32::INFINITY && hi == f32::NEG_INFINITY);
    }

    /// The AVX-512 node code grows exactly the forest the scalar code does: large and small nodes, NaNs, and
    /// features constant in a node (which send the draw to another feature).
    #[test]
    fn vector_and_scalar_nodes_grow_the_same_forest() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut data: Vec<f32> = (0..1500 * 6).map(|_| rng.sample(StandardNormal)).collect();
        for (i, x) in data.iter_mut().enumerate() {
            match i % 29 {
                0 => *x = f32::NAN,
                // Feature 3 takes few distinct values, so it is often constant within a node.
                _ if i % 6 == 3 => *x = (*x > 0.5) as u8 as f32,
                _ => {}
            }
        }
        for subsample in [1000, 256, 40, 7] {
            let params = ForestParams {
                trees: 12,
                subsample,
                contamination: Contamination::Fraction(0.05),
            };
            let fit = |scalar: bool| {
                FIT_SCRATCH.with_borrow_mut(|scratch| scratch.scalar_nodes = scalar);
                let forest =
                    IsolationForest::fit(&data, 6, params, &mut ChaCha8Rng::seed_from_u64(9));
                FIT_SCRATCH.with_borrow_mut(|scratch| scratch.scalar_nodes = false);
                forest
            };
            assert_eq!(fit(false), fit(true), "subsample {subsample}");
        }
    }
}
