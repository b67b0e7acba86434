//! The pre-order forest, as grown or as loaded from scikit-learn, and its layout for scoring: each tree becomes a
//! complete binary tree of the forest's depth in flat arrays (see the module text of `iforest`).

use super::IsolationForest;
use super::walk::WalkNode;

/// A node of a tree under construction (pre-order: the left child is the next node). A leaf has
/// `right_offset == 0`; its `threshold` bits hold the index of its path length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Node {
    pub(super) threshold: f32,
    pub(super) feature: u16,
    pub(super) right_offset: u16,
}

impl Node {
    pub(super) fn leaf(leaf_index: usize) -> Self {
        Self {
            threshold: f32::from_bits(leaf_index as u32),
            feature: 0,
            right_offset: 0,
        }
    }
    pub(super) fn is_leaf(&self) -> bool {
        self.right_offset == 0
    }
}

/// Trees in pre-order, as grown or as loaded.
#[derive(Default, Clone, Debug)]
pub(super) struct PreorderForest {
    pub(super) nodes: Vec<Node>,
    pub(super) leaf_values: Vec<f64>,
    pub(super) roots: Vec<usize>,
    pub(super) depth: usize,
}

impl PreorderForest {
    pub(super) fn clear(&mut self) {
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
    pub(super) fn lay_out(&mut self, grown: &PreorderForest) {
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
}
