//! The batch walks with AVX-512: 16 lanes per vector.
//!
//! Each step is three lookups per lane: its split's threshold, the split's feature, and the row's value of that
//! feature. A gather costs about one load per element, so the walks avoid them where a register can answer:
//!
//! - `add_block_path_lengths` walks a block of rows (16 per chunk) level by level through one tree. A level of at
//!   most 32 splits (the top six levels) is loaded once per block into registers, and each lane's threshold and
//!   feature come out of them with in-register permutes. At the root every row reads the same feature: one plain
//!   load from the block's feature-major copy. Deeper levels gather, and every level below the root gathers the
//!   rows' values.
//! - `add_small_batch_path_lengths` is for one chunk, an agent's traffic of a tick. One chunk through one tree is a
//!   single chain of dependent gathers, so it walks several trees at once instead, two per vector when there are at
//!   most 8 rows, and prefetches the trees it walks next. When the rows' values fit in four registers (8 rows of
//!   up to 8 features) each lane's value is selected from them with permutes rather than gathered.
//!
//! Features and leaves are packed indices (see `layout.rs`): a gather reads 4 bytes at the entry's byte offset and
//! masks. Leaves' codes are then looked up in the forest's table of path lengths, as f64, and added per row in tree
//! order, so every total is bit-identical to the scalar walk's.
//!
//! Measured on this project's 2-core AMD EPYC (`examples/`-style timing loops, 50 trees of ψ = 128, 8 features):
//! the block walk is about 2x the scalar walk at 256 rows; at 8 rows the earlier one-tree-at-a-time walk took 8.3 µs
//! with a hot forest and 27 µs with 1,000 forests in turn, the small-batch walk 3.9 and 11.5 µs.

use std::arch::x86_64::*;

use super::layout::PackedIndices;
use super::walk::{FittedTree, prefetch_trees};
use super::{BLOCK_ROWS, IsolationForest, LANES};

/// Levels of up to this many splits are looked up in registers: two registers of thresholds and two of features.
const REGISTER_WIDTH: usize = 32;
/// Vectors walked side by side by the small-batch walk: enough independent chains to hide the gathers' latency.
const VECTORS_IN_FLIGHT: usize = 4;
/// How many groups of trees ahead the small-batch walk prefetches.
const PREFETCH_GROUPS: usize = 2;

/// A packed index array as the vector walks read it: its bytes, the shift from entry to byte offset, and the mask.
#[derive(Clone, Copy)]
struct Packed {
    base: *const u8,
    shift: __m128i,
    mask: __m512i,
}

impl Packed {
    #[target_feature(enable = "avx512f")]
    fn of(indices: &PackedIndices) -> Self {
        Self {
            base: indices.as_ptr(),
            shift: _mm_cvtsi32_si128(indices.shift() as i32),
            mask: _mm512_set1_epi32(indices.mask() as i32),
        }
    }

    /// Entry `entry` of each lane in `lanes` (others 0).
    ///
    /// # Safety
    /// Every entry read must be inside the array.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn gather(self, entry: __m512i, lanes: __mmask16) -> __m512i {
        let offset = _mm512_sll_epi32(entry, self.shift);
        // SAFETY: the caller's promise, and the 3 bytes of padding after the last entry cover the 4-byte read.
        let words = unsafe {
            _mm512_mask_i32gather_epi32::<1>(
                _mm512_setzero_si512(),
                lanes,
                offset,
                self.base.cast(),
            )
        };
        _mm512_and_si512(words, self.mask)
    }
}

/// Adds every row's path length in every tree, in tree order, into `totals` (at most `BLOCK_ROWS` rows).
/// `transposed` holds the rows chunk by chunk, `LANES` rows per chunk, feature-major (`[chunk][feature][lane]`);
/// lanes past the last row hold any values and are walked but not added.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn add_block_path_lengths(
    forest: &IsolationForest,
    transposed: &[f32],
    totals: &mut [f64],
) {
    const { assert!(LANES == 16) };
    let f = forest.features;
    let chunks = totals.len().div_ceil(LANES);
    assert!(chunks <= BLOCK_ROWS / LANES && transposed.len() >= chunks * LANES * f);
    assert!(forest.thresholds.len() < (i32::MAX >> 2) as usize);
    let depth = forest.depth;
    let per_splits = (1usize << depth) - 1;
    let lane_iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let one = _mm512_set1_epi32(1);
    let (features, leaves) = (
        Packed::of(&forest.split_features),
        Packed::of(&forest.leaves),
    );
    let path_lengths = forest.path_lengths.as_ptr();
    let lengths = PathLengthTable::new(&forest.path_lengths);
    let mut at = [_mm512_setzero_si512(); BLOCK_ROWS / LANES];
    // Each chunk's totals as two vectors of 8 f64; lanes past the end load as 0 and are never stored.
    let mut sums = [[_mm512_setzero_pd(); 2]; BLOCK_ROWS / LANES];
    for (chunk_totals, chunk_sums) in totals.chunks(LANES).zip(&mut sums) {
        for (half, sum) in chunk_sums.iter_mut().enumerate() {
            let lanes = chunk_totals.len().saturating_sub(half * 8).min(8);
            // SAFETY: the mask covers only the `lanes` entries that exist from `half * 8` on.
            *sum = unsafe {
                _mm512_maskz_loadu_pd(lane_mask8(lanes), chunk_totals.as_ptr().add(half * 8))
            };
        }
    }
    for tree in 0..forest.trees {
        let first_split = tree * per_splits;
        let thresholds = forest.thresholds[first_split..first_split + per_splits].as_ptr();
        let tree_base = _mm512_set1_epi32(first_split as i32);
        // Every row reads the root's feature.
        // (A forest of constant data has no splits, and its walk no steps.)
        let root_feature = if depth == 0 {
            0
        } else {
            forest.split_features.get(first_split)
        };
        at[..chunks].fill(_mm512_setzero_si512());
        for level in 0..depth {
            if (1usize << level) <= REGISTER_WIDTH {
                // SAFETY: the level lies inside this tree's splits.
                let level_splits =
                    unsafe { LevelSplits::load(thresholds, features, tree_base, level) };
                for (c, at_c) in at[..chunks].iter_mut().enumerate() {
                    // SAFETY: chunk `c` is whole in `transposed` (asserted above).
                    let chunk = unsafe { transposed.as_ptr().add(c * LANES * f) };
                    let (threshold, feature) = level_splits.of(*at_c);
                    let x = if level == 0 {
                        // SAFETY: the root's feature is below `f`, so its row is inside the chunk.
                        unsafe { _mm512_loadu_ps(chunk.add(root_feature * LANES)) }
                    } else {
                        // SAFETY: every split's feature is below `f`.
                        unsafe { gather_values(chunk, feature, lane_iota) }
                    };
                    *at_c = step(*at_c, x, threshold, one);
                }
            } else {
                for (c, at_c) in at[..chunks].iter_mut().enumerate() {
                    // SAFETY: every lane's index is a split of this tree; chunk `c` is whole in `transposed`, and
                    // every split's feature is below `f`.
                    let (threshold, x) = unsafe {
                        let threshold = _mm512_i32gather_ps::<4>(*at_c, thresholds.cast());
                        let feature = features.gather(_mm512_add_epi32(tree_base, *at_c), u16::MAX);
                        (
                            threshold,
                            gather_values(
                                transposed.as_ptr().add(c * LANES * f),
                                feature,
                                lane_iota,
                            ),
                        )
                    };
                    *at_c = step(*at_c, x, threshold, one);
                }
            }
        }
        // Each lane's bottom slot, as an entry of the forest's leaves: (tree << depth) + at - per_splits.
        let to_leaf = _mm512_set1_epi32(((tree << depth) as i32) - per_splits as i32);
        for c in 0..chunks {
            // SAFETY: after `depth` steps every index is a bottom slot of this tree, and every code is an index
            // into the path lengths.
            unsafe {
                let code = leaves.gather(_mm512_add_epi32(at[c], to_leaf), u16::MAX);
                let lo = lengths.look_up(_mm512_castsi512_si256(code), path_lengths);
                let hi = lengths.look_up(_mm512_extracti64x4_epi64::<1>(code), path_lengths);
                sums[c][0] = _mm512_add_pd(sums[c][0], lo);
                sums[c][1] = _mm512_add_pd(sums[c][1], hi);
            }
        }
    }
    for (chunk_totals, chunk_sums) in totals.chunks_mut(LANES).zip(&sums) {
        for (half, &sum) in chunk_sums.iter().enumerate() {
            let lanes = chunk_totals.len().saturating_sub(half * 8).min(8);
            // SAFETY: the mask covers only the entries that exist.
            unsafe {
                _mm512_mask_storeu_pd(
                    chunk_totals.as_mut_ptr().add(half * 8),
                    lane_mask8(lanes),
                    sum,
                )
            };
        }
    }
}

/// A level of at most `REGISTER_WIDTH` splits of one tree, in registers: thresholds and features, 16 a register.
#[derive(Clone, Copy)]
struct LevelSplits {
    thresholds: [__m512; 2],
    features: [__m512i; 2],
    /// The level's first split within the tree.
    first: __m512i,
}

impl LevelSplits {
    /// Loads `level` of the tree whose splits start at `thresholds` and at entry `tree_base` of `features`.
    ///
    /// # Safety
    /// The level must have at most `REGISTER_WIDTH` splits, all inside the tree.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn load(
        thresholds: *const f32,
        features: Packed,
        tree_base: __m512i,
        level: usize,
    ) -> Self {
        let (first, width) = ((1usize << level) - 1, 1usize << level);
        debug_assert!(width <= REGISTER_WIDTH);
        let (lo_lanes, hi_lanes) = (
            lane_mask16(width.min(16)),
            lane_mask16(width.saturating_sub(16)),
        );
        let lane_iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let level_entry = _mm512_add_epi32(
            _mm512_add_epi32(tree_base, _mm512_set1_epi32(first as i32)),
            lane_iota,
        );
        // SAFETY: the caller's promise; the masks cover exactly this level's splits.
        unsafe {
            Self {
                thresholds: [
                    _mm512_maskz_loadu_ps(lo_lanes, thresholds.add(first)),
                    _mm512_maskz_loadu_ps(hi_lanes, thresholds.add(first + 16)),
                ],
                features: [
                    features.gather(level_entry, lo_lanes),
                    features.gather(
                        _mm512_add_epi32(level_entry, _mm512_set1_epi32(16)),
                        hi_lanes,
                    ),
                ],
                first: _mm512_set1_epi32(first as i32),
            }
        }
    }

    /// Each lane's threshold and feature, for lanes at splits `at` of this level (indices within the tree).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn of(&self, at: __m512i) -> (__m512, __m512i) {
        let in_level = _mm512_sub_epi32(at, self.first);
        (
            _mm512_permutex2var_ps(self.thresholds[0], in_level, self.thresholds[1]),
            _mm512_permutex2var_epi32(self.features[0], in_level, self.features[1]),
        )
    }
}

/// `FittedTree::add_path_lengths` in vectors: up to 8 vectors of 16 listed rows walk the tree side by side, each
/// lane gathering its row's values from the feature-major `columns`; levels of at most `REGISTER_WIDTH` splits
/// come from registers, as in the block walk.
///
/// # Safety
/// The CPU must support AVX-512F; `columns` must hold `n_rows` values for each feature the tree splits on, with
/// every index below `i32::MAX`, and every listed row must be below `n_rows`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn add_listed_rows_path_lengths(
    tree: &FittedTree,
    rows: &[u32],
    columns: &[f32],
    n_rows: usize,
    totals: &mut [f64],
) {
    const VECTORS: usize = BLOCK_ROWS / LANES;
    let depth = tree.depth;
    let per_splits = (1usize << depth) - 1;
    assert_eq!(tree.thresholds.len(), per_splits);
    assert_eq!(tree.leaf_codes.len(), per_splits + 1);
    let features = Packed::of(tree.features);
    let tree_base = _mm512_set1_epi32(tree.first_split as i32);
    let stride = _mm512_set1_epi32(n_rows as i32);
    let one = _mm512_set1_epi32(1);
    let thresholds = tree.thresholds.as_ptr();
    let mut slots = [0u32; BLOCK_ROWS];
    for group in rows.chunks(BLOCK_ROWS) {
        let vectors = group.len().div_ceil(LANES);
        let mut row = [_mm512_setzero_si512(); VECTORS];
        for (v, row_v) in row[..vectors].iter_mut().enumerate() {
            let lanes = (group.len() - v * LANES).min(LANES);
            // SAFETY: the mask covers only rows that exist; the other lanes walk row 0 and are not added.
            *row_v = unsafe {
                _mm512_maskz_loadu_epi32(lane_mask16(lanes), group.as_ptr().add(v * LANES).cast())
            };
        }
        let mut at = [_mm512_setzero_si512(); VECTORS];
        for level in 0..depth {
            let in_registers = (1usize << level) <= REGISTER_WIDTH;
            // SAFETY: the level lies inside this tree's splits.
            let level_splits = in_registers
                .then(|| unsafe { LevelSplits::load(thresholds, features, tree_base, level) });
            for (at_v, &row_v) in at[..vectors].iter_mut().zip(&row) {
                // SAFETY: every lane's index is a split of this tree, its feature is one `columns` holds, and its
                // row is below `n_rows`.
                let (threshold, x) = unsafe {
                    let (threshold, feature) = match &level_splits {
                        Some(level_splits) => level_splits.of(*at_v),
                        None => (
                            _mm512_i32gather_ps::<4>(*at_v, thresholds.cast()),
                            features.gather(_mm512_add_epi32(tree_base, *at_v), u16::MAX),
                        ),
                    };
                    let index = _mm512_add_epi32(_mm512_mullo_epi32(feature, stride), row_v);
                    (
                        threshold,
                        _mm512_i32gather_ps::<4>(index, columns.as_ptr().cast()),
                    )
                };
                *at_v = step(*at_v, x, threshold, one);
            }
        }
        for (v, &at_v) in at[..vectors].iter().enumerate() {
            // SAFETY: `slots` holds VECTORS * LANES entries.
            unsafe { _mm512_storeu_si512(slots.as_mut_ptr().add(v * LANES).cast(), at_v) };
        }
        tree.add_bottom_slots(group, &slots, totals);
    }
}

/// `add_block_path_lengths` for one chunk of at most `LANES` rows (see the module text).
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn add_small_batch_path_lengths(
    forest: &IsolationForest,
    transposed: &[f32],
    totals: &mut [f64],
    prefetch: bool,
) {
    const { assert!(LANES == 16) };
    let n = totals.len();
    let f = forest.features;
    assert!(n <= LANES && transposed.len() >= LANES * f);
    assert!(
        forest.thresholds.len() < (i32::MAX >> 2) as usize
            && (forest.trees << forest.depth) < (i32::MAX >> 2) as usize
    );
    let (trees, depth) = (forest.trees, forest.depth);
    let per_splits = (1usize << depth) - 1;
    let lane_iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let one = _mm512_set1_epi32(1);
    // Each lane's row, and which of its vector's trees it walks.
    let trees_per_vector = if n <= LANES / 2 { 2 } else { 1 };
    let rows_per_tree = LANES / trees_per_vector;
    let row = _mm512_and_si512(lane_iota, _mm512_set1_epi32(rows_per_tree as i32 - 1));
    let tree_in_vector = if trees_per_vector == 2 {
        _mm512_srli_epi32::<3>(lane_iota)
    } else {
        _mm512_setzero_si512()
    };
    // SAFETY: the chunk holds `LANES * f` values (asserted above).
    let values = unsafe { ValueTable::new(transposed, f, trees_per_vector == 2) };
    // SAFETY: the masks cover only the `n` totals that exist.
    let mut sums = unsafe {
        [
            _mm512_maskz_loadu_pd(lane_mask8(n.min(8)), totals.as_ptr()),
            _mm512_maskz_loadu_pd(lane_mask8(n.saturating_sub(8)), totals.as_ptr().add(8)),
        ]
    };
    let thresholds = forest.thresholds.as_ptr();
    let (features, leaves) = (
        Packed::of(&forest.split_features),
        Packed::of(&forest.leaves),
    );
    let path_lengths = forest.path_lengths.as_ptr();
    let trees_per_group = VECTORS_IN_FLIGHT * trees_per_vector;
    // Two trees a vector with one-byte features: the top levels' splits are loaded, not gathered.
    let from_registers = trees_per_vector == 2 && forest.split_features.shift() == 0;
    let lengths = PathLengthTable::new(&forest.path_lengths);
    let last_tree = _mm512_set1_epi32(trees as i32 - 1);
    if prefetch {
        prefetch_trees::<_MM_HINT_T1>(forest, 0, trees);
        prefetch_trees::<_MM_HINT_T0>(forest, 0, PREFETCH_GROUPS * trees_per_group);
    }
    let mut first_tree = 0;
    while first_tree < trees {
        if prefetch {
            prefetch_trees::<_MM_HINT_T0>(
                forest,
                first_tree + PREFETCH_GROUPS * trees_per_group,
                trees_per_group,
            );
        }
        let vectors = (trees - first_tree)
            .div_ceil(trees_per_vector)
            .min(VECTORS_IN_FLIGHT);
        // A lane past the last tree walks the last tree again; its path lengths are never added.
        let mut tree = [_mm512_setzero_si512(); VECTORS_IN_FLIGHT];
        let mut base = [_mm512_setzero_si512(); VECTORS_IN_FLIGHT];
        let mut at = [_mm512_setzero_si512(); VECTORS_IN_FLIGHT];
        for v in 0..vectors {
            let first = _mm512_set1_epi32((first_tree + v * trees_per_vector) as i32);
            tree[v] = _mm512_min_epi32(_mm512_add_epi32(first, tree_in_vector), last_tree);
            base[v] = _mm512_mullo_epi32(tree[v], _mm512_set1_epi32(per_splits as i32));
        }
        for level in 0..depth {
            for v in 0..vectors {
                if from_registers && level_in_registers(level, depth) {
                    let first = (1usize << level) - 1;
                    let a = (first_tree + 2 * v).min(trees - 1);
                    let b = (first_tree + 2 * v + 1).min(trees - 1);
                    let within = _mm512_sub_epi32(at[v], _mm512_set1_epi32(first as i32));
                    // SAFETY: `level_in_registers` keeps every read inside each tree's splits, and features are
                    // packed one byte each (`from_registers`).
                    let (threshold, feature) = unsafe {
                        level_split(
                            forest,
                            a * per_splits + first,
                            b * per_splits + first,
                            1 << level,
                            within,
                        )
                    };
                    // SAFETY: every split's feature is below `f`.
                    let x = unsafe { values.select(feature, row) };
                    at[v] = step(at[v], x, threshold, one);
                    continue;
                }
                let split = _mm512_add_epi32(base[v], at[v]);
                // SAFETY: every lane's index is a split of its tree, and every split's feature is below `f`, so
                // its value is inside the chunk.
                let (threshold, x) = unsafe {
                    let threshold = _mm512_i32gather_ps::<4>(split, thresholds.cast());
                    let feature = features.gather(split, u16::MAX);
                    (threshold, values.select(feature, row))
                };
                at[v] = step(at[v], x, threshold, one);
            }
        }
        // Path lengths are added per row in tree order: vector by vector, and within one its first tree first.
        let to_slot = _mm512_set1_epi32(per_splits as i32);
        for v in 0..vectors {
            let leaf = _mm512_add_epi32(
                _mm512_sllv_epi32(tree[v], _mm512_set1_epi32(depth as i32)),
                _mm512_sub_epi32(at[v], to_slot),
            );
            // SAFETY: each lane's entry is a bottom slot of its own tree, and every code indexes the path lengths.
            let code = unsafe { leaves.gather(leaf, u16::MAX) };
            // SAFETY: as above.
            let (lo, hi) = unsafe {
                (
                    lengths.look_up(_mm512_castsi512_si256(code), path_lengths),
                    lengths.look_up(_mm512_extracti64x4_epi64::<1>(code), path_lengths),
                )
            };
            if trees_per_vector == 2 {
                sums[0] = _mm512_add_pd(sums[0], lo);
                if first_tree + v * 2 + 1 < trees {
                    sums[0] = _mm512_add_pd(sums[0], hi);
                }
            } else {
                sums[0] = _mm512_add_pd(sums[0], lo);
                sums[1] = _mm512_add_pd(sums[1], hi);
            }
        }
        first_tree += trees_per_group;
    }
    // SAFETY: the masks cover only the `n` totals that exist.
    unsafe {
        _mm512_mask_storeu_pd(totals.as_mut_ptr(), lane_mask8(n.min(8)), sums[0]);
        _mm512_mask_storeu_pd(
            totals.as_mut_ptr().add(8),
            lane_mask8(n.saturating_sub(8)),
            sums[1],
        );
    }
}

/// Whether the small-batch walk loads `level`'s splits rather than gathering them: levels of up to 32 splits a
/// tree, where a 16-byte read of features from the level's first split stays inside the tree.
fn level_in_registers(level: usize, depth: usize) -> bool {
    let (first, width) = ((1usize << level) - 1, 1usize << level);
    // The tree has 2^depth - 1 splits.
    width <= 32 && first + width.max(16) < (1usize << depth)
}

/// Each lane's threshold and feature at one level, for a vector whose lanes 0-7 walk the tree whose level starts
/// at split `a` and lanes 8-15 the one at `b`; `within` is each lane's index within the level (`width` splits).
///
/// # Safety
/// Features must be packed one byte each, and `level_in_registers` must hold for the level.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn level_split(
    forest: &IsolationForest,
    a: usize,
    b: usize,
    width: usize,
    within: __m512i,
) -> (__m512, __m512i) {
    let thresholds = forest.thresholds.as_ptr();
    let features = forest.split_features.as_ptr();
    let lanes = lane_mask16(width.min(16));
    // SAFETY: the caller's promise: `width` thresholds and max(width, 16) feature bytes from `a` and from `b` lie
    // inside their trees; masked-off lanes read nothing.
    unsafe {
        let thresholds_of = |at: usize| _mm512_maskz_loadu_ps(lanes, thresholds.add(at));
        let features_of =
            |at: usize| _mm512_cvtepu8_epi32(_mm_loadu_si128(features.add(at).cast()));
        if width <= 16 {
            // Tree a's splits are entries 0-15 of the pair, tree b's 16-31.
            let second = _mm512_mask_blend_epi32(
                0xFF00,
                within,
                _mm512_add_epi32(within, _mm512_set1_epi32(16)),
            );
            (
                _mm512_permutex2var_ps(thresholds_of(a), second, thresholds_of(b)),
                _mm512_permutex2var_epi32(features_of(a), second, features_of(b)),
            )
        } else {
            // 32 splits a tree: each tree's pair of registers, then lanes 8-15 from tree b's.
            let from_a = (
                _mm512_permutex2var_ps(thresholds_of(a), within, thresholds_of(a + 16)),
                _mm512_permutex2var_epi32(features_of(a), within, features_of(a + 16)),
            );
            let from_b = (
                _mm512_permutex2var_ps(thresholds_of(b), within, thresholds_of(b + 16)),
                _mm512_permutex2var_epi32(features_of(b), within, features_of(b + 16)),
            );
            (
                _mm512_mask_blend_ps(0xFF00, from_a.0, from_b.0),
                _mm512_mask_blend_epi32(0xFF00, from_a.1, from_b.1),
            )
        }
    }
}

/// A forest's path lengths in four registers when it has at most 32 of them (the usual case: a handful of depths
/// and small counts), so a leaf's length is a permute of its code instead of a gather.
// Held in registers for the length of a walk, as `ValueTable` is.
#[allow(clippy::large_enum_variant)]
enum PathLengthTable {
    Registers([__m512d; 4]),
    Gathered,
}

impl PathLengthTable {
    #[target_feature(enable = "avx512f")]
    fn new(lengths: &[f64]) -> Self {
        if lengths.len() > 32 {
            return Self::Gathered;
        }
        let mut registers = [_mm512_setzero_pd(); 4];
        for (register, chunk) in registers.iter_mut().zip(lengths.chunks(8)) {
            // SAFETY: the mask covers exactly the chunk's entries.
            *register = unsafe { _mm512_maskz_loadu_pd(lane_mask8(chunk.len()), chunk.as_ptr()) };
        }
        Self::Registers(registers)
    }

    /// The path lengths of 8 codes.
    ///
    /// # Safety
    /// Every code must index `lengths`, the slice this table was made from.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn look_up(&self, codes: __m256i, lengths: *const f64) -> __m512d {
        match self {
            Self::Registers([t0, t1, t2, t3]) => {
                let index = _mm512_cvtepi32_epi64(codes);
                let low = _mm512_permutex2var_pd(*t0, index, *t1);
                let high = _mm512_permutex2var_pd(*t2, index, *t3);
                let upper = _mm512_test_epi64_mask(index, _mm512_set1_epi64(16));
                _mm512_mask_blend_pd(upper, low, high)
            }
            // SAFETY: the caller's promise.
            Self::Gathered => unsafe { _mm512_i32gather_pd::<8>(codes, lengths) },
        }
    }
}

/// Where the small-batch walk finds each lane's value of its feature.
// One lives in registers for the length of a walk; boxing the large variant would defeat it.
#[allow(clippy::large_enum_variant)]
enum ValueTable {
    /// Up to 8 rows of up to 8 features, held as 64 entries `feature * 8 + row` in four registers.
    Registers([__m512; 4]),
    /// Gathered from the chunk.
    Chunk(*const f32),
}

impl ValueTable {
    /// # Safety
    /// `transposed` must hold one feature-major chunk of `LANES * features` values.
    #[target_feature(enable = "avx512f")]
    unsafe fn new(transposed: &[f32], features: usize, eight_rows: bool) -> Self {
        if !eight_rows || features > 8 {
            return Self::Chunk(transposed.as_ptr());
        }
        // Register q holds features 2q (lanes 0-7) and 2q + 1 (lanes 8-15), rows 0-7 of each.
        let mut registers = [_mm512_setzero_ps(); 4];
        for (q, register) in registers.iter_mut().enumerate() {
            let row_of = |feature: usize| {
                if feature < features {
                    // SAFETY: feature < features, so its 16 lanes are inside the chunk.
                    unsafe { _mm256_loadu_ps(transposed.as_ptr().add(feature * LANES)) }
                } else {
                    _mm256_setzero_ps()
                }
            };
            let (even, odd) = (row_of(2 * q), row_of(2 * q + 1));
            *register = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                _mm512_castpd256_pd512(_mm256_castps_pd(even)),
                _mm256_castps_pd(odd),
            ));
        }
        Self::Registers(registers)
    }

    /// Each lane's value of its own `feature`, for the lane's `row`.
    ///
    /// # Safety
    /// Every lane's feature must be below the chunk's feature count.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn select(&self, feature: __m512i, row: __m512i) -> __m512 {
        match self {
            Self::Registers([r0, r1, r2, r3]) => {
                let entry = _mm512_add_epi32(_mm512_slli_epi32::<3>(feature), row);
                let low = _mm512_permutex2var_ps(*r0, entry, *r1);
                let high = _mm512_permutex2var_ps(*r2, entry, *r3);
                let upper = _mm512_test_epi32_mask(entry, _mm512_set1_epi32(32));
                _mm512_mask_blend_ps(upper, low, high)
            }
            // SAFETY: the caller's promise keeps every element inside the chunk.
            Self::Chunk(chunk) => unsafe { gather_values(*chunk, feature, row) },
        }
    }
}

/// One step down: `at = 2 at + 1 + !(x <= threshold)`; the unordered compare sends a NaN right, as scikit-learn does.
#[inline]
#[target_feature(enable = "avx512f")]
fn step(at: __m512i, x: __m512, threshold: __m512, one: __m512i) -> __m512i {
    let right = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(x, threshold);
    let next = _mm512_add_epi32(_mm512_add_epi32(at, at), one);
    _mm512_mask_add_epi32(next, right, next, one)
}

/// Each lane's value of its own `feature`, from one feature-major chunk: element `feature * LANES + lane`.
///
/// # Safety
/// `chunk` must point at `LANES * features` values and every lane of `feature` must be below `features`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn gather_values(chunk: *const f32, feature: __m512i, lane_iota: __m512i) -> __m512 {
    // SAFETY: the caller's promise keeps every element inside the chunk.
    unsafe {
        _mm512_i32gather_ps::<4>(
            _mm512_add_epi32(_mm512_slli_epi32::<4>(feature), lane_iota),
            chunk,
        )
    }
}

fn lane_mask16(lanes: usize) -> __mmask16 {
    ((1u32 << lanes) - 1) as __mmask16
}

fn lane_mask8(lanes: usize) -> __mmask8 {
    ((1u32 << lanes) - 1) as __mmask8
}

/// Growing a tree, one node at a time: gathers the node's values of one feature and finds their range.
/// `values[k] = column[rows[k]]`; returns their minimum and maximum with NaNs ignored, as `f32::min` and `f32::max`
/// fold them (+inf and -inf when every value is NaN).
///
/// # Safety
/// The CPU must support AVX-512F; every row must index `column`, and `values` must hold `rows.len()` entries.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gather_range(rows: &[u32], column: &[f32], values: &mut [f32]) -> (f32, f32) {
    assert!(values.len() >= rows.len() && column.len() <= i32::MAX as usize);
    let mut lo = _mm512_set1_ps(f32::INFINITY);
    let mut hi = _mm512_set1_ps(f32::NEG_INFINITY);
    for (k, chunk) in rows.chunks(LANES).enumerate() {
        let lanes = lane_mask16(chunk.len());
        // SAFETY: the masks cover the chunk's rows and their slots in `values`; every row indexes `column`.
        unsafe {
            let index = _mm512_maskz_loadu_epi32(lanes, chunk.as_ptr().cast());
            let v = _mm512_mask_i32gather_ps::<4>(
                _mm512_setzero_ps(),
                lanes,
                index,
                column.as_ptr().cast(),
            );
            _mm512_mask_storeu_ps(values.as_mut_ptr().add(k * LANES), lanes, v);
            let ordered = _mm512_mask_cmp_ps_mask::<_CMP_ORD_Q>(lanes, v, v);
            lo = _mm512_mask_min_ps(lo, ordered, lo, v);
            hi = _mm512_mask_max_ps(hi, ordered, hi, v);
        }
    }
    (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi))
}

/// Growing a tree: writes the rows `from[k]` whose `values[k] <= threshold` to the front of `to`, the others after
/// them, and returns how many went to the front. Compresses in registers and stores with masks, which is fast
/// where a compressing store to memory is not.
///
/// # Safety
/// The CPU must support AVX-512F and POPCNT (every AVX-512 CPU does; without the feature `count_ones` is a dozen
/// instructions on a node's critical path); `values` and `to` must hold `from.len()` entries.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn partition(
    from: &[u32],
    values: &[f32],
    threshold: f32,
    to: &mut [u32],
) -> usize {
    let n = from.len();
    assert!(values.len() >= n && to.len() >= n);
    let threshold = _mm512_set1_ps(threshold);
    // `value <= threshold`, ordered: a NaN goes right.
    let goes_left = |k: usize, lanes: __mmask16| {
        // SAFETY: the mask covers only entries of `values`.
        let v = unsafe { _mm512_maskz_loadu_ps(lanes, values.as_ptr().add(k * LANES)) };
        _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(lanes, v, threshold)
    };
    let chunks = n.div_ceil(LANES);
    let lanes_of = |k: usize| lane_mask16((n - k * LANES).min(LANES));
    let left_total = if chunks == 1 {
        goes_left(0, lanes_of(0)).count_ones() as usize
    } else {
        (0..chunks)
            .map(|k| goes_left(k, lanes_of(k)).count_ones() as usize)
            .sum()
    };
    let (mut left, mut right) = (0, left_total);
    for k in 0..chunks {
        let lanes = lanes_of(k);
        let to_left = goes_left(k, lanes);
        let to_right = lanes & !to_left;
        let (l, r) = (
            to_left.count_ones() as usize,
            to_right.count_ones() as usize,
        );
        // SAFETY: the loads cover only entries of `from`; the stores write l entries at `left` and r at `right`,
        // and left + l <= left_total and right + r <= n.
        unsafe {
            let rows = _mm512_maskz_loadu_epi32(lanes, from.as_ptr().add(k * LANES).cast());
            _mm512_mask_storeu_epi32(
                to.as_mut_ptr().add(left).cast(),
                lane_mask16(l),
                _mm512_maskz_compress_epi32(to_left, rows),
            );
            _mm512_mask_storeu_epi32(
                to.as_mut_ptr().add(right).cast(),
                lane_mask16(r),
                _mm512_maskz_compress_epi32(to_right, rows),
            );
        }
        left += l;
        right += r;
    }
    left_total
}
