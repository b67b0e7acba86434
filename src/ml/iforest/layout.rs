//! The pre-order forest, as grown or as loaded from scikit-learn, and its layout for scoring: each tree becomes a
//! complete binary tree of the forest's depth in flat arrays (see the module text of `iforest`).
//!
//! The layout is compact because an agent's forest is read once per tick and is usually out of cache by then, so its
//! size is what a walk waits for. A split is its f32 threshold plus its feature in one byte (two past 256
//! features); a bottom slot is a one-byte code (wider only when needed) into the forest's few distinct path lengths.
//! With 8 features and ψ = 128 a tree takes 763 bytes instead of 2,040 as (threshold, u32 feature) pairs and f64
//! leaves.

use std::ops::Range;

use super::{IsolationForest, average_path_length};

/// A node of a tree under construction (pre-order: the left child is the next node). A leaf has
/// `right_offset == 0`; its `threshold` bits hold its path length's code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Node {
    pub(super) threshold: f32,
    pub(super) feature: u16,
    pub(super) right_offset: u16,
}

impl Node {
    pub(super) fn leaf(code: u32) -> Self {
        Self {
            threshold: f32::from_bits(code),
            feature: 0,
            right_offset: 0,
        }
    }
    pub(super) fn is_leaf(&self) -> bool {
        self.right_offset == 0
    }
    fn code(&self) -> u32 {
        self.threshold.to_bits()
    }
}

/// Trees in pre-order, as grown or as loaded.
#[derive(Default, Clone, Debug)]
pub(super) struct PreorderForest {
    pub(super) nodes: Vec<Node>,
    /// The distinct path lengths of the leaves; a leaf holds an index into this.
    pub(super) path_lengths: Vec<f64>,
    pub(super) roots: Vec<usize>,
    pub(super) depth: usize,
}

impl PreorderForest {
    /// Copies the subtree at pre-order `at` into heap slot `slot` (at `level`) of a complete tree of `depth`.
    fn lay_out(&self, at: usize, slot: usize, level: usize, depth: usize, tree: &mut TreeSlots) {
        let node = self.nodes[at];
        if level == depth {
            debug_assert!(node.is_leaf());
            tree.leaves
                .set(tree.first_leaf + slot - ((1 << depth) - 1), node.code());
            return;
        }
        if node.is_leaf() {
            // Always left, down to the bottom (the padding is already +inf on feature 0); every bottom slot beneath
            // carries this leaf's path length.
            let first = ((slot + 1) << (depth - level)) - 1;
            let bottom = tree.first_leaf + first - ((1 << depth) - 1);
            tree.leaves
                .fill(bottom..bottom + (1 << (depth - level)), node.code());
            return;
        }
        tree.thresholds[slot] = node.threshold;
        tree.features
            .set(tree.first_split + slot, u32::from(node.feature));
        self.lay_out(at + 1, 2 * slot + 1, level + 1, depth, tree);
        self.lay_out(
            at + node.right_offset as usize,
            2 * slot + 2,
            level + 1,
            depth,
            tree,
        );
    }
}

/// One tree's slots while it is laid out: its thresholds, and where its entries start in the packed arrays.
struct TreeSlots<'a> {
    thresholds: &'a mut [f32],
    features: &'a mut PackedIndices,
    first_split: usize,
    leaves: &'a mut PackedIndices,
    first_leaf: usize,
}

/// Codes for path lengths `depth + c(n)`: one per distinct (depth, n), handed out in the order first asked for.
#[derive(Default, Debug)]
pub(super) struct PathLengthCodes {
    /// `code + 1` of (depth, n) at `depth * stride + n`; 0 while unassigned.
    by_depth_and_n: Vec<u32>,
    stride: usize,
    assigned: Vec<usize>,
}

impl PathLengthCodes {
    /// Readies the table for depths up to `max_depth` and counts up to `max_n`; the forest's path lengths start
    /// empty.
    pub(super) fn begin(&mut self, max_depth: usize, max_n: usize) {
        debug_assert!(self.assigned.is_empty());
        self.stride = max_n + 1;
        let size = (max_depth + 1) * self.stride;
        if self.by_depth_and_n.len() < size {
            self.by_depth_and_n.resize(size, 0);
        }
    }

    /// The code of `depth + c(n)`, adding it to `path_lengths` the first time.
    pub(super) fn code(&mut self, depth: usize, n: usize, path_lengths: &mut Vec<f64>) -> u32 {
        let key = depth * self.stride + n;
        if self.by_depth_and_n[key] == 0 {
            path_lengths.push(depth as f64 + average_path_length(n));
            self.by_depth_and_n[key] = path_lengths.len() as u32;
            self.assigned.push(key);
        }
        self.by_depth_and_n[key] - 1
    }

    /// Clears the entries this forest assigned, so the next one starts from nothing without a full reset.
    pub(super) fn finish(&mut self) {
        for key in self.assigned.drain(..) {
            self.by_depth_and_n[key] = 0;
        }
    }
}

/// Unsigned indices stored in 1, 2 or 4 little-endian bytes each, whichever is the narrowest that holds them all.
/// Three bytes of padding follow the last entry, so any entry can be read as 4 bytes and masked: the vector walks
/// gather them that way.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct PackedIndices {
    bytes: Vec<u8>,
    /// log2 of the bytes per entry.
    shift: u32,
}

impl PackedIndices {
    /// `len` zero entries, each wide enough for values up to `widest`; reuses the storage.
    pub(super) fn reset(&mut self, len: usize, widest: u32) {
        self.shift = match widest {
            0..=0xFF => 0,
            0x100..=0xFFFF => 1,
            _ => 2,
        };
        self.bytes.clear();
        self.bytes.resize((len << self.shift) + 3, 0);
    }

    /// Packs `values` at the narrowest width that holds the largest.
    pub(super) fn pack(&mut self, values: &[u32]) {
        self.reset(values.len(), values.iter().copied().max().unwrap_or(0));
        let entries = &mut self.bytes[..values.len() << self.shift];
        match self.shift {
            0 => entries
                .iter_mut()
                .zip(values)
                .for_each(|(entry, &v)| *entry = v as u8),
            1 => entries
                .chunks_exact_mut(2)
                .zip(values)
                .for_each(|(entry, &v)| entry.copy_from_slice(&(v as u16).to_le_bytes())),
            _ => entries
                .chunks_exact_mut(4)
                .zip(values)
                .for_each(|(entry, &v)| entry.copy_from_slice(&v.to_le_bytes())),
        }
    }

    /// Sets entry `i`, which must fit the width `reset` chose.
    pub(super) fn set(&mut self, i: usize, value: u32) {
        self.fill(i..i + 1, value);
    }

    /// Sets entries `range` to `value`, which must fit the width `reset` chose.
    pub(super) fn fill(&mut self, range: Range<usize>, value: u32) {
        debug_assert!(u64::from(value) <= u64::from(self.mask()));
        let bytes = &mut self.bytes[range.start << self.shift..range.end << self.shift];
        // One arm per width, each with a fixed-size copy: a copy of a run-time length is a call to memcpy.
        match self.shift {
            0 => bytes.fill(value as u8),
            1 => bytes
                .chunks_exact_mut(2)
                .for_each(|entry| entry.copy_from_slice(&(value as u16).to_le_bytes())),
            _ => bytes
                .chunks_exact_mut(4)
                .for_each(|entry| entry.copy_from_slice(&value.to_le_bytes())),
        }
    }

    /// Entry `i`.
    #[inline]
    pub(super) fn get(&self, i: usize) -> usize {
        let at = i << self.shift;
        // One bounds check for the 4-byte read; the padding makes it valid for every entry.
        let word: [u8; 4] = self.bytes[at..at + 4].try_into().unwrap_or_default();
        (u32::from_le_bytes(word) & self.mask()) as usize
    }

    /// Entry `i` of an array whose shift is `SHIFT`, read at exactly its width: the scalar walk's inner loop picks
    /// the width once per tree rather than masking every read.
    #[inline]
    pub(super) fn get_at_width<const SHIFT: u32>(&self, i: usize) -> usize {
        debug_assert_eq!(self.shift, SHIFT);
        match SHIFT {
            0 => usize::from(self.bytes[i]),
            1 => usize::from(u16::from_le_bytes([
                self.bytes[2 * i],
                self.bytes[2 * i + 1],
            ])),
            _ => self.get(i),
        }
    }

    /// log2 of the bytes per entry: entry i starts at byte `i << shift`.
    pub(super) fn shift(&self) -> u32 {
        self.shift
    }

    /// The mask that keeps one entry of a 4-byte read.
    pub(super) fn mask(&self) -> u32 {
        match self.shift {
            0 => 0xFF,
            1 => 0xFFFF,
            _ => u32::MAX,
        }
    }

    // The vector walks read the bytes directly.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn as_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }

    /// The bytes of entries `range`, for prefetching.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn byte_range(&self, range: std::ops::Range<usize>) -> std::ops::Range<*const u8> {
        self.bytes[range.start << self.shift..range.end << self.shift].as_ptr_range()
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
    }
}

impl IsolationForest {
    pub(super) fn lay_out(&mut self, grown: &PreorderForest) {
        let depth = grown.depth;
        let (per_splits, per_leaves) = ((1usize << depth) - 1, 1usize << depth);
        self.trees = grown.roots.len();
        self.depth = depth;
        self.thresholds.clear();
        self.thresholds
            .resize(self.trees * per_splits, f32::INFINITY);
        self.split_features.reset(
            self.trees * per_splits,
            self.features.saturating_sub(1) as u32,
        );
        self.leaves.reset(
            self.trees * per_leaves,
            grown.path_lengths.len().saturating_sub(1) as u32,
        );
        for (t, &root) in grown.roots.iter().enumerate() {
            let mut tree = TreeSlots {
                thresholds: &mut self.thresholds[t * per_splits..(t + 1) * per_splits],
                features: &mut self.split_features,
                first_split: t * per_splits,
                leaves: &mut self.leaves,
                first_leaf: t * per_leaves,
            };
            grown.lay_out(root, 0, 0, depth, &mut tree);
        }
        self.path_lengths.clone_from(&grown.path_lengths);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_indices_take_the_narrowest_width_and_read_back() {
        for (values, shift) in [
            (vec![0u32, 7, 255], 0),
            (vec![1, 256, 65_535], 1),
            (vec![65_536, 3, u32::MAX], 2),
            (vec![], 0),
        ] {
            let mut packed = PackedIndices::default();
            packed.pack(&values);
            assert_eq!(packed.shift(), shift);
            let back: Vec<usize> = (0..values.len()).map(|i| packed.get(i)).collect();
            assert_eq!(back, values.iter().map(|&v| v as usize).collect::<Vec<_>>());
        }
    }

    #[test]
    fn path_length_codes_are_shared_by_equal_leaves_and_reset_between_forests() {
        let mut codes = PathLengthCodes::default();
        let mut lengths = Vec::new();
        codes.begin(7, 128);
        let a = codes.code(7, 3, &mut lengths);
        let b = codes.code(2, 1, &mut lengths);
        assert_eq!((a, b, codes.code(7, 3, &mut lengths)), (0, 1, 0));
        assert_eq!(lengths, vec![7.0 + average_path_length(3), 2.0]);
        codes.finish();
        let mut next = Vec::new();
        codes.begin(7, 128);
        assert_eq!(codes.code(2, 1, &mut next), 0);
        assert_eq!(next, vec![2.0]);
    }
}
