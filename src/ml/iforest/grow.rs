//! Growing trees as scikit-learn's `IsolationForest` does: a subsample without replacement per tree, a uniformly
//! drawn non-constant feature per node, a threshold uniform between its minimum and maximum in the node.

use std::ops::Range;

use rand::{Rng, RngExt};

use super::layout::{Node, PathLengthCodes, PreorderForest};
use super::walk::f32_at_or_below;
use super::{Contamination, ForestParams, IsolationForest, percentile_linear};

/// Scratch space for fitting, one per thread and reused, so that periodic retraining neither reallocates nor keeps a
/// copy per forest (a grown pre-order forest of 50 trees is about 150 KB, and every agent owns a forest).
#[derive(Default, Debug)]
struct FitScratch {
    indices: Vec<u32>,
    candidate_features: Vec<u32>,
    /// The node's values of the feature being tried, gathered once so that finding its range and partitioning on it
    /// read a contiguous array.
    values: Vec<f32>,
    /// A node's rows are in `levels[depth % 2]`, at the node's range; partitioning writes its children's rows into
    /// the other buffer at the same range, so no pass copies them back.
    levels: [Vec<u32>; 2],
    /// The trees in pre-order before they are laid out for scoring.
    grown: PreorderForest,
    codes: PathLengthCodes,
}

thread_local! {
    static FIT_SCRATCH: std::cell::RefCell<FitScratch> = std::cell::RefCell::default();
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
        self.features = features;
        self.max_samples = psi;
        let mut grown = std::mem::take(&mut scratch.grown);
        grown.clear();
        scratch.codes.begin(height_limit, psi);
        for _ in 0..params.trees.max(1) {
            // Partial Fisher-Yates: the first ψ entries become a uniform sample without replacement.
            scratch.indices.clear();
            scratch.indices.extend(0..n_rows as u32);
            for i in 0..psi {
                let j = rng.random_range(i..n_rows);
                scratch.indices.swap(i, j);
            }
            grown.roots.push(grown.nodes.len());
            for level in &mut scratch.levels {
                level.resize(psi, 0);
            }
            scratch.levels[0].copy_from_slice(&scratch.indices[..psi]);
            let mut tree = TreeBuilder {
                nodes: &mut grown.nodes,
                path_lengths: &mut grown.path_lengths,
                codes: &mut scratch.codes,
                rows,
                features,
                height_limit,
                deepest: 0,
                candidates: &mut scratch.candidate_features,
                values: &mut scratch.values,
                levels: &mut scratch.levels,
            };
            tree.grow(0..psi, 0, rng);
            grown.depth = grown.depth.max(tree.deepest);
        }
        scratch.codes.finish();
        self.lay_out(&grown);
        scratch.grown = grown;
        self.threshold = match params.contamination {
            Contamination::Auto => 0.5,
            Contamination::Fraction(p) => {
                let mut scores = self.score_rows(rows);
                // scikit-learn: offset_ = percentile(score_samples, 100 p), and score_samples = -s.
                for s in &mut scores {
                    *s = -*s;
                }
                -percentile_linear(&mut scores, 100.0 * p)
            }
        };
    }
}

/// Appends one tree to a forest's arrays.
struct TreeBuilder<'a> {
    nodes: &'a mut Vec<Node>,
    path_lengths: &'a mut Vec<f64>,
    codes: &'a mut PathLengthCodes,
    rows: &'a [f32],
    features: usize,
    height_limit: usize,
    /// Depth of the deepest leaf so far.
    deepest: usize,
    candidates: &'a mut Vec<u32>,
    values: &'a mut Vec<f32>,
    levels: &'a mut [Vec<u32>; 2],
}

impl TreeBuilder<'_> {
    fn push_leaf(&mut self, depth: usize, n: usize) {
        self.deepest = self.deepest.max(depth);
        let code = self.codes.code(depth, n, self.path_lengths);
        self.nodes.push(Node::leaf(code));
    }

    /// Grows one subtree over the rows at `range` of `levels[depth % 2]` (indices into `rows`) in pre-order: the
    /// left child is always the next node. The order of rows within a node does not matter: a node's split and its
    /// children's sets depend only on which rows reached it.
    fn grow<R: Rng + ?Sized>(&mut self, range: Range<usize>, depth: usize, rng: &mut R) {
        let n = range.len();
        if depth >= self.height_limit || n <= 1 {
            return self.push_leaf(depth, n);
        }
        // Draw features until one is not constant in this node, as scikit-learn's random splitter does: uniformly
        // among those not tried yet, the list kept by swap-remove. The list is built only when the first draw, from
        // all features, is constant (rarely); the draws are the same as with a list from the start.
        let mut feature = rng.random_range(0..self.features);
        let mut listed = false;
        let split = loop {
            self.gather_values(range.clone(), depth, feature);
            let (lo, hi) = value_range(self.values);
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
            let pick = rng.random_range(0..self.candidates.len());
            feature = self.candidates.swap_remove(pick) as usize;
        };
        let Some((feature, threshold)) = split else {
            return self.push_leaf(depth, n);
        };
        let left_len = self.partition(range.clone(), depth, threshold);
        let me = self.nodes.len();
        self.nodes.push(Node {
            threshold,
            feature: feature as u16,
            right_offset: 0,
        });
        let middle = range.start + left_len;
        self.grow(range.start..middle, depth + 1, rng);
        self.nodes[me].right_offset = (self.nodes.len() - me) as u16;
        self.grow(middle..range.end, depth + 1, rng);
    }

    /// `values[k]` = the value of `feature` in the node's k-th row.
    fn gather_values(&mut self, range: Range<usize>, depth: usize, feature: usize) {
        let (rows, features) = (self.rows, self.features);
        self.values.clear();
        self.values.extend(
            self.levels[depth % 2][range]
                .iter()
                .map(|&i| rows[i as usize * features + feature]),
        );
    }

    /// Writes the node's rows into the other level buffer at the same range: those whose gathered value is at or
    /// below `threshold` from the front, the others from the back. Returns how many go left. Branch-free: whether a
    /// row goes left is a coin flip, and a mispredicted branch per row costs more than writing each row to both
    /// ends and advancing one.
    fn partition(&mut self, range: Range<usize>, depth: usize, threshold: f32) -> usize {
        let n = range.len();
        let [even, odd] = &mut *self.levels;
        let (from, to) = if depth.is_multiple_of(2) {
            (&even[range.clone()], &mut odd[range])
        } else {
            (&odd[range.clone()], &mut even[range])
        };
        let values = &self.values[..n];
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

/// The minimum and maximum of `values`, ignoring NaNs as `f32::min` and `f32::max` do. Eight running pairs instead
/// of one, so the compiler keeps them in vector lanes rather than in one dependency chain.
fn value_range(values: &[f32]) -> (f32, f32) {
    const WAYS: usize = 8;
    let mut lo = [f32::INFINITY; WAYS];
    let mut hi = [f32::NEG_INFINITY; WAYS];
    let chunks = values.chunks_exact(WAYS);
    let tail = chunks.remainder();
    for chunk in chunks {
        for k in 0..WAYS {
            lo[k] = lo[k].min(chunk[k]);
            hi[k] = hi[k].max(chunk[k]);
        }
    }
    let (mut lo, mut hi) = (
        lo.into_iter().fold(f32::INFINITY, f32::min),
        hi.into_iter().fold(f32::NEG_INFINITY, f32::max),
    );
    for &v in tail {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    (lo, hi)
}
