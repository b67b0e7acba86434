//! Isolation Forest (Liu, Ting & Zhou 2008) with scikit-learn's semantics.
//!
//! t trees, each grown on a subsample of ψ rows drawn without replacement, to a height limit of ceil(log2 ψ).
//! A node splits on a uniformly chosen non-constant feature at a threshold drawn uniformly between that feature's
//! minimum and maximum in the node. The anomaly score of x is s = 2^(-E[h(x)] / c(ψ)), where h is the depth of the
//! leaf x lands in plus c(n) for the n training rows that reached it. With contamination 'auto' a row is anomalous
//! when s > 0.5; with a fraction p, when s exceeds the (1 - p) quantile of the training rows' scores.
//!
//! Trees are grown in pre-order, then laid out for scoring as complete binary trees of the forest's depth D in
//! flat arrays: node i's children are 2i+1 and 2i+2, a leaf above depth D becomes splits that always go left
//! (threshold +inf) with its path length copied to every bottom slot beneath it. A walk is then exactly D
//! branch-free steps `i = 2i + 1 + (x > threshold)`, with no leaf test and no child pointers to load.

use std::cell::RefCell;

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

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
                if std::is_x86_feature_detected!("avx512f") {
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
const LANES: usize = 16;
/// Rows that walk one tree before the next tree is loaded, so the tree stays in L1.
const BLOCK_ROWS: usize = 128;

/// A node of a tree under construction (pre-order: the left child is the next node). A leaf has
/// `right_offset == 0`; its `threshold` bits hold the index of its path length.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Node {
    threshold: f32,
    feature: u16,
    right_offset: u16,
}

impl Node {
    fn leaf(leaf_index: usize) -> Self {
        Self {
            threshold: f32::from_bits(leaf_index as u32),
            feature: 0,
            right_offset: 0,
        }
    }
    fn is_leaf(&self) -> bool {
        self.right_offset == 0
    }
}

/// A split in the scoring layout: rows with `x[feature] <= threshold` go to 2i+1, the others to 2i+2.
///
/// Inputs are f32, so an f64 threshold t (as scikit-learn stores it) is kept as the largest f32 not above t: for
/// every f32 x, `x <= t` and `x <= that f32` agree, which keeps scoring exact.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalkNode {
    pub threshold: f32,
    pub feature: u32,
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
    /// Per tree, 2^depth - 1 splits in heap order.
    splits: Vec<WalkNode>,
    /// Per tree, 2^depth path lengths, one per bottom slot.
    leaves: Vec<f64>,
    trees: usize,
    /// D: every walk takes exactly this many steps.
    depth: usize,
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
    /// The trees in pre-order before they are laid out for scoring.
    grown: PreorderForest,
}

/// Trees in pre-order, as grown or as loaded.
#[derive(Default, Clone, Debug)]
struct PreorderForest {
    nodes: Vec<Node>,
    leaf_values: Vec<f64>,
    roots: Vec<usize>,
    depth: usize,
}

impl PreorderForest {
    fn clear(&mut self) {
        self.nodes.clear();
        self.leaf_values.clear();
        self.roots.clear();
        self.depth = 0;
    }

    /// Copies the subtree at pre-order `at` into heap slot `slot` (at `level`) of a complete tree of `depth`.
    fn lay_out(
        &self,
        at: usize,
        slot: usize,
        level: usize,
        depth: usize,
        splits: &mut [WalkNode],
        leaves: &mut [f64],
    ) {
        let node = self.nodes[at];
        if level == depth {
            debug_assert!(node.is_leaf());
            leaves[slot - ((1 << depth) - 1)] = self.leaf_values[node.threshold.to_bits() as usize];
            return;
        }
        if node.is_leaf() {
            // Always left, down to the bottom; every bottom slot beneath carries this leaf's path length.
            splits[slot] = WalkNode {
                threshold: f32::INFINITY,
                feature: 0,
            };
            let value = self.leaf_values[node.threshold.to_bits() as usize];
            let first = ((slot + 1) << (depth - level)) - 1;
            let count = 1 << (depth - level);
            let bottom = first - ((1 << depth) - 1);
            leaves[bottom..bottom + count].fill(value);
            let mut level_first = 2 * slot + 1;
            for width in 1..(depth - level) {
                let n = 1 << width;
                splits[level_first..level_first + n].fill(WalkNode {
                    threshold: f32::INFINITY,
                    feature: 0,
                });
                level_first = 2 * level_first + 1;
            }
            return;
        }
        splits[slot] = WalkNode {
            threshold: node.threshold,
            feature: u32::from(node.feature),
        };
        self.lay_out(at + 1, 2 * slot + 1, level + 1, depth, splits, leaves);
        self.lay_out(
            at + node.right_offset as usize,
            2 * slot + 2,
            level + 1,
            depth,
            splits,
            leaves,
        );
    }
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
            splits: Vec::new(),
            leaves: Vec::new(),
            trees: 0,
            depth: 0,
            features,
            max_samples: 1,
            threshold: 0.5,
        }
    }

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

    fn lay_out(&mut self, grown: &PreorderForest) {
        let depth = grown.depth;
        let (per_splits, per_leaves) = ((1usize << depth) - 1, 1usize << depth);
        self.trees = grown.roots.len();
        self.depth = depth;
        self.splits.clear();
        self.splits.resize(
            self.trees * per_splits,
            WalkNode {
                threshold: f32::INFINITY,
                feature: 0,
            },
        );
        self.leaves.clear();
        self.leaves.resize(self.trees * per_leaves, 0.0);
        for (t, &root) in grown.roots.iter().enumerate() {
            let splits = &mut self.splits[t * per_splits..(t + 1) * per_splits];
            let leaves = &mut self.leaves[t * per_leaves..(t + 1) * per_leaves];
            grown.lay_out(root, 0, 0, depth, splits, leaves);
        }
    }

    /// Builds a forest from explicit trees (used to load scikit-learn's trees for parity checks). Each tree is given
    /// in scikit-learn's arrays; leaves have `children_left == -1`.
    pub fn from_sklearn_trees(
        trees: &[SklearnTree],
        features: usize,
        max_samples: usize,
        offset: f64,
    ) -> Self {
        let mut grown = PreorderForest::default();
        for tree in trees {
            grown.roots.push(grown.nodes.len());
            let depth = push_sklearn_node(
                &mut grown.nodes,
                &mut grown.leaf_values,
                tree,
                0,
                0,
                features,
            );
            grown.depth = grown.depth.max(depth);
        }
        let mut forest = Self::empty(features);
        forest.max_samples = max_samples;
        forest.threshold = -offset;
        forest.lay_out(&grown);
        forest
    }

    pub fn features(&self) -> usize {
        self.features
    }
    pub fn trees(&self) -> usize {
        self.trees
    }
    /// Split slots in the scoring layout (2^depth - 1 per tree).
    pub fn node_count(&self) -> usize {
        self.splits.len()
    }
    /// Real splits, without the always-left padding that completes each tree to depth D.
    pub fn real_split_count(&self) -> usize {
        self.splits
            .iter()
            .filter(|split| split.threshold != f32::INFINITY)
            .count()
    }
    /// Steps of every walk: the depth of the deepest leaf.
    pub fn depth(&self) -> usize {
        self.depth
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
        self.splits.capacity() * size_of::<WalkNode>() + self.leaves.capacity() * size_of::<f64>()
    }

    /// Mean path length E[h(x)] over the trees.
    pub fn mean_path_length(&self, row: &[f32]) -> f64 {
        self.total_path_length(row) / self.trees as f64
    }

    /// Sum of the path lengths over the trees, in tree order.
    fn total_path_length(&self, row: &[f32]) -> f64 {
        debug_assert_eq!(row.len(), self.features);
        let (per_splits, per_leaves) = ((1usize << self.depth) - 1, 1usize << self.depth);
        let mut total = 0.0;
        for t in 0..self.trees {
            let splits = &self.splits[t * per_splits..(t + 1) * per_splits];
            let mut at = 0;
            for _ in 0..self.depth {
                let node = splits[at];
                // `!(x <= t)`: a NaN goes right, as in scikit-learn.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(row[node.feature as usize] <= node.threshold));
                at = 2 * at + 1 + go_right;
            }
            total += self.leaves[t * per_leaves + at - per_splits];
        }
        total
    }

    /// The paper's anomaly score s in (0, 1]; higher is more anomalous. Computed as scikit-learn does,
    /// 2^(-sum of path lengths / (trees * c(psi))), so the two agree to the last bits.
    pub fn score(&self, row: &[f32]) -> f64 {
        self.score_from_total(self.total_path_length(row))
    }

    fn score_from_total(&self, total: f64) -> f64 {
        let denominator = self.trees as f64 * average_path_length(self.max_samples);
        if denominator == 0.0 {
            return 1.0;
        }
        2f64.powf(-total / denominator)
    }

    pub fn is_anomaly(&self, row: &[f32]) -> bool {
        self.score(row) > self.threshold
    }

    /// Scores every row of a row-major batch into `out` (cleared first); allocates only if `out` or this thread's
    /// block buffer must grow, never per row. Uses the fastest walk this CPU supports; all walks give
    /// bit-identical scores.
    pub fn score_into(&self, rows: &[f32], out: &mut Vec<f64>) {
        self.score_into_with(rows, out, Walk::fastest());
    }

    /// `score_into` with a chosen walk, to compare walks. Panics if this CPU cannot run `walk`.
    pub fn score_into_with(&self, rows: &[f32], out: &mut Vec<f64>, walk: Walk) {
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
                        unsafe { avx2::add_block_path_lengths(self, transposed, block_totals) };
                        continue;
                    }
                    // SAFETY: the CPU has AVX-512F (asserted above).
                    #[cfg(target_arch = "x86_64")]
                    Walk::Avx512 => {
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
        let per_splits = (1usize << self.depth) - 1;
        let splits = &self.splits[tree * per_splits..(tree + 1) * per_splits];
        assert_eq!(chunk_t.len(), self.features * LANES);
        let mut at = [0usize; LANES];
        if let Some(root) = splits.first() {
            // Every lane starts at the root, so its row of values is read straight, with no index chain.
            let values = &chunk_t[root.feature as usize * LANES..][..LANES];
            for (at_lane, &x) in at.iter_mut().zip(values) {
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(x <= root.threshold));
                *at_lane = 1 + go_right;
            }
        }
        for _ in 1..self.depth {
            for (lane, at_lane) in at.iter_mut().enumerate() {
                // SAFETY: after k < depth steps `*at_lane` is below 2^(k+1) - 1 <= 2^depth - 1 = splits.len(); every
                // split's `feature` is below `self.features` (padding uses 0; real splits are checked when grown or
                // loaded), so `feature * LANES + lane` is below `chunk_t.len()`, checked above.
                let node = unsafe { *splits.get_unchecked(*at_lane) };
                let x = unsafe { *chunk_t.get_unchecked(node.feature as usize * LANES + lane) };
                // Arithmetic, not `if`: the direction is a coin flip per row, and a mispredicted branch per step
                // would serialise the lanes. `!(x <= t)`: a NaN goes right, as in scikit-learn.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let go_right = usize::from(!(x <= node.threshold));
                *at_lane = 2 * *at_lane + 1 + go_right;
            }
        }
        let leaves = &self.leaves[tree << self.depth..(tree + 1) << self.depth];
        for (total, &slot) in totals.iter_mut().zip(&at) {
            *total += leaves[slot - per_splits];
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

    /// Every walk this CPU runs gives the single-row scores bit for bit: across partial chunks and blocks, one to
    /// many features, shallow and deep trees, and NaN and infinite inputs.
    #[test]
    fn every_walk_matches_single_row_scores_exactly() {
        let walks = Walk::supported();
        assert_eq!(walks[0], Walk::Scalar);
        for (features, train_rows, subsample, probe_rows) in [
            (1, 50, 256, 1),
            (3, 2, 256, 17),
            (5, 300, 256, 129),
            (10, 1000, 64, 300),
            (30, 500, 256, 16),
            (70, 400, 1000, 45),
        ] {
            let data = gaussian(train_rows, features, 21);
            let params = ForestParams {
                trees: 13,
                subsample,
                contamination: Contamination::Auto,
            };
            let forest =
                IsolationForest::fit(&data, features, params, &mut ChaCha8Rng::seed_from_u64(4));
            let mut probe = gaussian(probe_rows, features, 22);
            for (i, x) in probe.iter_mut().enumerate() {
                match i % 23 {
                    0 => *x = f32::NAN,
                    5 => *x = f32::INFINITY,
                    9 => *x = f32::NEG_INFINITY,
                    13 => *x *= 40.0,
                    _ => {}
                }
            }
            let single: Vec<f64> = probe
                .chunks_exact(features)
                .map(|r| forest.score(r))
                .collect();
            for &walk in walks {
                let mut batch = vec![f64::NAN; 3];
                forest.score_into_with(&probe, &mut batch, walk);
                assert_eq!(
                    batch,
                    single,
                    "{walk:?} walk, {features} features, depth {}",
                    forest.depth()
                );
            }
        }
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
        assert_eq!((forest.depth(), forest.node_count()), (0, 0));
        // No split: every row gets c(10) from each root leaf.
        assert!((forest.score(&[5.0, -5.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile_linear(&mut v, 50.0), 2.5);
        assert_eq!(percentile_linear(&mut v, 0.0), 1.0);
        assert_eq!(percentile_linear(&mut v, 100.0), 4.0);
    }
}
