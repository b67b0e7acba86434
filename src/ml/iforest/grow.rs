//! Growing trees as scikit-learn's `IsolationForest` does: a subsample without replacement per tree, a uniformly
//! drawn non-constant feature per node, a threshold uniform between its minimum and maximum in the node.

use rand::{Rng, RngExt};

use super::layout::{Node, PreorderForest};
use super::walk::f32_at_or_below;
use super::{Contamination, ForestParams, IsolationForest, average_path_length, percentile_linear};

/// Reusable scratch space for fitting, so that periodic retraining does not reallocate.
#[derive(Default, Clone, Debug)]
pub struct FitScratch {
    indices: Vec<u32>,
    candidate_features: Vec<u32>,
    /// The trees in pre-order before they are laid out for scoring.
    grown: PreorderForest,
}

impl IsolationForest {
    /// Fits again in place, reusing this forest's storage and the caller's scratch buffers.
    pub fn refit<R: Rng + ?Sized>(
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
        for _ in 0..params.trees.max(1) {
            // Partial Fisher-Yates: the first ψ entries become a uniform sample without replacement.
            scratch.indices.clear();
            scratch.indices.extend(0..n_rows as u32);
            for i in 0..psi {
                let j = rng.random_range(i..n_rows);
                scratch.indices.swap(i, j);
            }
            grown.roots.push(grown.nodes.len());
            let mut sample = std::mem::take(&mut scratch.indices);
            sample.truncate(psi);
            let mut tree = TreeBuilder {
                nodes: &mut grown.nodes,
                leaf_values: &mut grown.leaf_values,
                rows,
                features,
                height_limit,
                deepest: 0,
            };
            tree.grow(&mut sample, 0, rng, &mut scratch.candidate_features);
            grown.depth = grown.depth.max(tree.deepest);
            scratch.indices = sample;
        }
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
    leaf_values: &'a mut Vec<f64>,
    rows: &'a [f32],
    features: usize,
    height_limit: usize,
    /// Depth of the deepest leaf so far.
    deepest: usize,
}

impl TreeBuilder<'_> {
    fn push_leaf(&mut self, depth: usize, n: usize) {
        self.deepest = self.deepest.max(depth);
        self.nodes.push(Node::leaf(self.leaf_values.len()));
        self.leaf_values.push(depth as f64 + average_path_length(n));
    }

    /// Grows one subtree over `sample` (indices into `rows`) in pre-order: the left child is always the next node.
    fn grow<R: Rng + ?Sized>(
        &mut self,
        sample: &mut [u32],
        depth: usize,
        rng: &mut R,
        candidates: &mut Vec<u32>,
    ) {
        let (rows, features) = (self.rows, self.features);
        let n = sample.len();
        if depth >= self.height_limit || n <= 1 {
            return self.push_leaf(depth, n);
        }
        // Draw features until one is not constant in this node, as scikit-learn's random splitter does.
        candidates.clear();
        candidates.extend(0..features as u32);
        let split = loop {
            if candidates.is_empty() {
                break None;
            }
            let pick = rng.random_range(0..candidates.len());
            let feature = candidates.swap_remove(pick) as usize;
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for &i in sample.iter() {
                let v = rows[i as usize * features + feature];
                lo = lo.min(v);
                hi = hi.max(v);
            }
            if hi > lo {
                let (lo, hi) = (f64::from(lo), f64::from(hi));
                let mut threshold = lo + rng.random::<f64>() * (hi - lo);
                if threshold >= hi {
                    threshold = lo;
                }
                break Some((feature, f32_at_or_below(threshold)));
            }
        };
        let Some((feature, threshold)) = split else {
            return self.push_leaf(depth, n);
        };
        // Partition in place: rows going left first.
        let mut left_len = 0;
        for i in 0..n {
            if rows[sample[i] as usize * features + feature] <= threshold {
                sample.swap(i, left_len);
                left_len += 1;
            }
        }
        let me = self.nodes.len();
        self.nodes.push(Node {
            threshold,
            feature: feature as u16,
            right_offset: 0,
        });
        let (left, right) = sample.split_at_mut(left_len);
        self.grow(left, depth + 1, rng, candidates);
        self.nodes[me].right_offset = (self.nodes.len() - me) as u16;
        self.grow(right, depth + 1, rng, candidates);
    }
}
