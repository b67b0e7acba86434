//! Isolation Forest (Liu, Ting & Zhou 2008) with scikit-learn's semantics.
//!
//! t trees, each grown on a subsample of ψ rows drawn without replacement, to a height limit of ceil(log2 ψ).
//! A node splits on a uniformly chosen non-constant feature at a threshold drawn uniformly between that feature's
//! minimum and maximum in the node. The anomaly score of x is s = 2^(-E[h(x)] / c(ψ)), where h is the depth of the
//! leaf x lands in plus c(n) for the n training rows that reached it. With contamination 'auto' a row is anomalous
//! when s > 0.5; with a fraction p, when s exceeds the (1 - p) quantile of the training rows' scores.
//!
//! The whole forest is one flat array of 8-byte nodes in pre-order, so the left child of node i is i + 1 and only
//! the offset to the right child is stored; leaves' path lengths sit in a separate table read once per walk.
//! Scoring walks those arrays and allocates nothing.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// Rows scored together in lockstep by [`IsolationForest::score_into`].
const LANES: usize = 8;
/// Rows that walk one tree before the next tree is loaded.
const BLOCK_ROWS: usize = 128;

/// One node of a tree, 8 bytes so that the walked part of a forest stays small in cache. A split sends rows with
/// `x[feature] <= threshold` to the next node (the left child, pre-order) and the others `right_offset` nodes on.
/// A leaf has `right_offset == 0` and `feature == 0`, so a walk can read it like a split and stay put branch-free;
/// its `threshold` bits hold the index of its path length in the forest's leaf table.
///
/// Inputs are f32, so an f64 threshold t (as scikit-learn stores it) is kept as the largest f32 not above t: for
/// every f32 x, `x <= t` and `x <= that f32` agree, which keeps scoring exact.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub threshold: f32,
    pub feature: u16,
    pub right_offset: u16,
}

impl Node {
    fn leaf(leaf_index: usize) -> Self {
        Self {
            threshold: f32::from_bits(leaf_index as u32),
            feature: 0,
            right_offset: 0,
        }
    }
    pub fn is_leaf(&self) -> bool {
        self.right_offset == 0
    }
}

/// The largest f32 that is not above `t`.
pub fn f32_at_or_below(t: f64) -> f32 {
    let r = t as f32;
    if f64::from(r) > t { r.next_down() } else { r }
}

/// How the anomaly threshold is chosen, as in scikit-learn's `contamination`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Contamination {
    /// s > 0.5 is anomalous (the original paper's offset).
    Auto,
    /// This fraction of the training rows is expected to be anomalous.
    Fraction(f64),
}

/// Fitting parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForestParams {
    pub trees: usize,
    pub subsample: usize,
    pub contamination: Contamination,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            trees: 100,
            subsample: 256,
            contamination: Contamination::Auto,
        }
    }
}

/// A fitted forest.
#[derive(Clone, Debug, PartialEq)]
pub struct IsolationForest {
    nodes: Vec<Node>,
    /// Path length of each leaf: its depth plus c(rows that reached it).
    leaf_values: Vec<f64>,
    roots: Vec<u32>,
    /// Depth of the deepest leaf in any tree: the steps a lockstep walk takes.
    max_depth: usize,
    features: usize,
    /// ψ actually used (min of the requested subsample and the training rows), scikit-learn's `max_samples_`.
    max_samples: usize,
    /// s above this is anomalous; scikit-learn's `-offset_`.
    threshold: f64,
}

/// Average path length of an unsuccessful search in a binary search tree of n items: c(n) in the paper,
/// `_average_path_length` in scikit-learn.
pub fn average_path_length(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Reusable scratch space for fitting, so that periodic retraining does not reallocate.
#[derive(Default, Clone, Debug)]
pub struct FitScratch {
    indices: Vec<u32>,
    candidate_features: Vec<u32>,
}

impl IsolationForest {
    /// Fits on `rows` (row-major, `features` columns). `rows` must hold at least one row.
    pub fn fit<R: Rng + ?Sized>(
        rows: &[f32],
        features: usize,
        params: ForestParams,
        rng: &mut R,
    ) -> Self {
        let mut forest = Self::empty(features);
        forest.refit(rows, features, params, rng, &mut FitScratch::default());
        forest
    }

    fn empty(features: usize) -> Self {
        Self {
            nodes: Vec::new(),
            leaf_values: Vec::new(),
            roots: Vec::new(),
            max_depth: 0,
            features,
            max_samples: 1,
            threshold: 0.5,
        }
    }

    /// Fits again in place, reusing this forest's node storage and the caller's scratch buffers.
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
        self.nodes.clear();
        self.roots.clear();
        self.leaf_values.clear();
        self.max_depth = height_limit;
        for _ in 0..params.trees.max(1) {
            // Partial Fisher-Yates: the first ψ entries become a uniform sample without replacement.
            scratch.indices.clear();
            scratch.indices.extend(0..n_rows as u32);
            for i in 0..psi {
                let j = rng.random_range(i..n_rows);
                scratch.indices.swap(i, j);
            }
            self.roots.push(self.nodes.len() as u32);
            let mut sample = std::mem::take(&mut scratch.indices);
            sample.truncate(psi);
            let mut tree = TreeBuilder {
                nodes: &mut self.nodes,
                leaf_values: &mut self.leaf_values,
                rows,
                features,
                height_limit,
            };
            tree.grow(&mut sample, 0, rng, &mut scratch.candidate_features);
            scratch.indices = sample;
        }
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

    /// Builds a forest from explicit trees (used to load scikit-learn's trees for parity checks). Each tree is given
    /// in scikit-learn's arrays; leaves have `children_left == -1`.
    pub fn from_sklearn_trees(
        trees: &[SklearnTree],
        features: usize,
        max_samples: usize,
        offset: f64,
    ) -> Self {
        let mut forest = Self::empty(features);
        forest.max_samples = max_samples;
        forest.threshold = -offset;
        for tree in trees {
            forest.roots.push(forest.nodes.len() as u32);
            let depth = push_sklearn_node(
                &mut forest.nodes,
                &mut forest.leaf_values,
                tree,
                0,
                0,
                features,
            );
            forest.max_depth = forest.max_depth.max(depth);
        }
        forest
    }

    pub fn features(&self) -> usize {
        self.features
    }
    pub fn trees(&self) -> usize {
        self.roots.len()
    }
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }
    /// Scores above this are anomalous.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    /// Heap bytes held by the fitted forest.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * size_of::<Node>()
            + self.leaf_values.capacity() * size_of::<f64>()
            + self.roots.capacity() * size_of::<u32>()
    }

    /// Mean path length E[h(x)] over the trees.
    pub fn mean_path_length(&self, row: &[f32]) -> f64 {
        self.total_path_length(row) / self.roots.len() as f64
    }

    /// Sum of the path lengths over the trees, in tree order.
    fn total_path_length(&self, row: &[f32]) -> f64 {
        debug_assert_eq!(row.len(), self.features);
        let mut total = 0.0;
        for &root in &self.roots {
            let mut index = root as usize;
            loop {
                let node = self.nodes[index];
                if node.is_leaf() {
                    total += self.leaf_values[node.threshold.to_bits() as usize];
                    break;
                }
                index = if row[node.feature as usize] <= node.threshold {
                    index + 1
                } else {
                    index + node.right_offset as usize
                };
            }
        }
        total
    }

    /// The paper's anomaly score s in (0, 1]; higher is more anomalous. Computed as scikit-learn does,
    /// 2^(-sum of path lengths / (trees * c(psi))), so the two agree to the last bits.
    pub fn score(&self, row: &[f32]) -> f64 {
        self.score_from_total(self.total_path_length(row))
    }

    fn score_from_total(&self, total: f64) -> f64 {
        let denominator = self.roots.len() as f64 * average_path_length(self.max_samples);
        if denominator == 0.0 {
            return 1.0;
        }
        2f64.powf(-total / denominator)
    }

    pub fn is_anomaly(&self, row: &[f32]) -> bool {
        self.score(row) > self.threshold
    }

    /// Scores every row of a row-major batch into `out` (cleared first); allocates only if `out` must grow.
    /// Rows are walked through each tree `LANES` at a time in lockstep: the walks are independent chains of
    /// dependent loads, and interleaving them lets the CPU overlap their memory latency.
    pub fn score_into(&self, rows: &[f32], out: &mut Vec<f64>) {
        let f = self.features;
        let n = rows.len() / f;
        out.clear();
        out.resize(n, 0.0);
        // Tree-major within a block of rows: one tree (about a kilobyte) stays in L1 while a block of rows walks
        // it, and each tree's path lengths are still added in tree order, as scikit-learn does.
        for (block, block_totals) in rows.chunks(BLOCK_ROWS * f).zip(out.chunks_mut(BLOCK_ROWS)) {
            for &root in &self.roots {
                for (chunk, totals) in block.chunks(LANES * f).zip(block_totals.chunks_mut(LANES)) {
                    self.add_tree_path_lengths(root as usize, chunk, totals);
                }
            }
        }
        for s in out.iter_mut() {
            *s = self.score_from_total(*s);
        }
    }

    /// Adds each row's path length in one tree into `totals` (one entry per row, at most `LANES`).
    ///
    /// Every lane takes exactly `max_depth` branch-free steps (a lane on a leaf selects its own index again), so
    /// the loop has no data-dependent exit and the lanes' independent load chains overlap.
    fn add_tree_path_lengths(&self, root: usize, rows: &[f32], totals: &mut [f64]) {
        let lanes = totals.len();
        let f = self.features;
        // Unused lanes of a short final chunk re-read row 0, so every read stays in bounds.
        let row_base: [usize; LANES] =
            std::array::from_fn(|lane| if lane < lanes { lane * f } else { 0 });
        let nodes = &self.nodes[..];
        let mut index = [root; LANES];
        for _ in 0..self.max_depth {
            for lane in 0..LANES {
                let at = index[lane];
                // SAFETY: `at` starts at a root and only ever moves to a child offset written when the tree was
                // built (or stays put on a leaf), so it indexes `nodes`; every node's `feature` is below
                // `self.features` (leaves store 0; splits are checked on construction), and `row_base[lane]`
                // starts a whole row of `rows`, so both reads are in bounds.
                let node = unsafe { *nodes.get_unchecked(at) };
                let x = unsafe { *rows.get_unchecked(row_base[lane] + node.feature as usize) };
                // Arithmetic, not `if`: the direction is a coin flip per row, and a mispredicted branch per step
                // would serialise the lanes. Right: +offset; left: +1; a leaf (offset 0): +0.
                let offset = node.right_offset as usize;
                // `!(x <= t)` rather than `x > t`: a NaN goes right, as in scikit-learn.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(x <= node.threshold));
                let is_split = usize::from(offset != 0);
                index[lane] = at + is_split * (1 + go_right * (offset - is_split));
            }
        }
        for lane in 0..lanes {
            totals[lane] += self.leaf_values[nodes[index[lane]].threshold.to_bits() as usize];
        }
    }

    pub fn score_rows(&self, rows: &[f32]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows.len() / self.features.max(1));
        self.score_into(rows, &mut out);
        out
    }
}

/// Appends one tree to a forest's arrays.
struct TreeBuilder<'a> {
    nodes: &'a mut Vec<Node>,
    leaf_values: &'a mut Vec<f64>,
    rows: &'a [f32],
    features: usize,
    height_limit: usize,
}

impl TreeBuilder<'_> {
    fn push_leaf(&mut self, depth: usize, n: usize) {
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

/// One tree as scikit-learn stores it (`tree_.feature`, `threshold`, `children_left`, `children_right`,
/// `n_node_samples`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SklearnTree {
    pub feature: Vec<i64>,
    pub threshold: Vec<f64>,
    pub children_left: Vec<i64>,
    pub children_right: Vec<i64>,
    pub n_node_samples: Vec<usize>,
}

fn push_sklearn_node(
    nodes: &mut Vec<Node>,
    leaf_values: &mut Vec<f64>,
    tree: &SklearnTree,
    index: usize,
    depth: usize,
    features: usize,
) -> usize {
    if tree.children_left[index] < 0 {
        nodes.push(Node::leaf(leaf_values.len()));
        leaf_values.push(depth as f64 + average_path_length(tree.n_node_samples[index]));
        return depth;
    }
    let feature = tree.feature[index];
    assert!(
        (0..features as i64).contains(&feature),
        "split on feature {feature} of a {features}-feature forest"
    );
    let me = nodes.len();
    let threshold = f32_at_or_below(tree.threshold[index]);
    nodes.push(Node {
        threshold,
        feature: feature as u16,
        right_offset: 0,
    });
    let left = push_sklearn_node(
        nodes,
        leaf_values,
        tree,
        tree.children_left[index] as usize,
        depth + 1,
        features,
    );
    nodes[me].right_offset = (nodes.len() - me) as u16;
    let right = push_sklearn_node(
        nodes,
        leaf_values,
        tree,
        tree.children_right[index] as usize,
        depth + 1,
        features,
    );
    left.max(right)
}

/// numpy's default ('linear') percentile; sorts `values` in place.
pub fn percentile_linear(values: &mut [f64], q: f64) -> f64 {
    assert!(!values.is_empty());
    values.sort_by(f64::total_cmp);
    let rank = (q / 100.0).clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    values[lo] + (values[hi] - values[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;
    use rand_distr::StandardNormal;

    fn gaussian(rows: usize, features: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..rows * features)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect()
    }

    #[test]
    fn batch_scores_equal_single_scores_exactly() {
        let data = gaussian(300, 5, 11);
        let forest = IsolationForest::fit(
            &data,
            5,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        let probe = gaussian(37, 5, 12);
        let batch = forest.score_rows(&probe);
        let single: Vec<f64> = probe.chunks_exact(5).map(|r| forest.score(r)).collect();
        assert_eq!(batch, single);
    }

    #[test]
    fn f32_thresholds_keep_f64_comparisons_exact() {
        for t in [0.1f64, -0.3, 1.0 / 3.0, 12_345.678_9, 0.0, -1e-30] {
            let r = f32_at_or_below(t);
            assert!(f64::from(r) <= t);
            assert!(f64::from(r.next_up()) > t);
        }
    }

    #[test]
    fn c_matches_the_paper() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) from scikit-learn's _average_path_length([256]).
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
    }

    #[test]
    fn outliers_score_higher_than_inliers() {
        let data = gaussian(512, 4, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let forest = IsolationForest::fit(&data, 4, ForestParams::default(), &mut rng);
        let inlier = forest.score(&[0.0, 0.0, 0.0, 0.0]);
        let outlier = forest.score(&[6.0, -6.0, 6.0, 0.0]);
        assert!(outlier > 0.6, "outlier scored {outlier}");
        assert!(inlier < 0.5, "inlier scored {inlier}");
        assert!(forest.is_anomaly(&[6.0, -6.0, 6.0, 0.0]));
    }

    #[test]
    fn fitting_is_deterministic_per_seed() {
        let data = gaussian(300, 3, 2);
        let a = IsolationForest::fit(
            &data,
            3,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let b = IsolationForest::fit(
            &data,
            3,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let c = IsolationForest::fit(
            &data,
            3,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(4),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn height_is_limited_and_subsample_clamped() {
        let data = gaussian(40, 2, 5);
        let forest = IsolationForest::fit(
            &data,
            2,
            ForestParams {
                trees: 10,
                subsample: 256,
                contamination: Contamination::Auto,
            },
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert_eq!(forest.max_samples(), 40);
        // ceil(log2 40) = 6: a full tree of height 6 has at most 127 nodes.
        assert!(forest.node_count() <= 10 * 127);
    }

    #[test]
    fn contamination_sets_the_flagged_fraction_of_training_rows() {
        let data = gaussian(1000, 5, 9);
        let params = ForestParams {
            trees: 50,
            subsample: 256,
            contamination: Contamination::Fraction(0.1),
        };
        let forest = IsolationForest::fit(&data, 5, params, &mut ChaCha8Rng::seed_from_u64(1));
        let flagged = data
            .chunks_exact(5)
            .filter(|r| forest.is_anomaly(r))
            .count();
        assert!((95..=105).contains(&flagged), "flagged {flagged} of 1000");
    }

    #[test]
    fn constant_data_gives_leaves_only() {
        let data = vec![1.0f32; 20];
        let forest = IsolationForest::fit(
            &data,
            2,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert_eq!(forest.node_count(), forest.trees());
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile_linear(&mut v, 50.0), 2.5);
        assert_eq!(percentile_linear(&mut v, 0.0), 1.0);
        assert_eq!(percentile_linear(&mut v, 100.0), 4.0);
    }
}
