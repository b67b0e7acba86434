//! Loading scikit-learn's trees, so parity with scikit-learn is checked tree for tree (`tools/`, `tests/`).

use serde::{Deserialize, Serialize};

use super::layout::{Node, PreorderForest};
use super::walk::f32_at_or_below;
use super::{IsolationForest, average_path_length};

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

impl IsolationForest {
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
}
