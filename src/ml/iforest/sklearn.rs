//! Loading scikit-learn's trees, so parity with scikit-learn is checked tree for tree (`tools/`, `tests/`).

use serde::{Deserialize, Serialize};

use super::IsolationForest;
use super::layout::{Node, PathLengthCodes, PreorderForest};
use super::walk::f32_at_or_below;

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
    path_lengths: &mut Vec<f64>,
    codes: &mut PathLengthCodes,
    tree: &SklearnTree,
    index: usize,
    depth: usize,
    features: usize,
) -> usize {
    if tree.children_left[index] < 0 {
        nodes.push(Node::leaf(codes.code(
            depth,
            tree.n_node_samples[index],
            path_lengths,
        )));
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
        path_lengths,
        codes,
        tree,
        tree.children_left[index] as usize,
        depth + 1,
        features,
    );
    nodes[me].right_offset = (nodes.len() - me) as u16;
    let right = push_sklearn_node(
        nodes,
        path_lengths,
        codes,
        tree,
        tree.children_right[index] as usize,
        depth + 1,
        features,
    );
    left.max(right)
}

/// The depth of the tree's deepest leaf.
fn height(tree: &SklearnTree) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(0usize, 0usize)];
    while let Some((index, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if tree.children_left[index] >= 0 {
            stack.push((tree.children_left[index] as usize, depth + 1));
            stack.push((tree.children_right[index] as usize, depth + 1));
        }
    }
    deepest
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
        let mut codes = PathLengthCodes::default();
        let deepest = trees.iter().map(height).max().unwrap_or(0);
        let most = trees
            .iter()
            .flat_map(|t| t.n_node_samples.iter().copied())
            .max()
            .unwrap_or(0);
        codes.begin(deepest, most);
        for tree in trees {
            grown.roots.push(grown.nodes.len());
            let depth = push_sklearn_node(
                &mut grown.nodes,
                &mut grown.path_lengths,
                &mut codes,
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
