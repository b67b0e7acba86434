//! The batch walks with AVX2, for x86-64 CPUs without AVX-512 (such as the Zen 3 EPYC that CI and development use
//! since December 2026): the same plans as `avx512.rs` at half the width.
//!
//! - `add_block_path_lengths` walks a block of rows, 8 per vector and two vectors per 16-row chunk, level by level
//!   through one tree. A level of at most 8 splits (the top four levels) is one register of thresholds and one of
//!   features, and each row's split comes out of them with in-register permutes. At the root every row reads the
//!   same feature: one plain vector load from the block's feature-major copy. Deeper levels gather thresholds and
//!   features, and every level below the root gathers the rows' values.
//! - `add_small_batch_path_lengths` is for one chunk, an agent's traffic of a tick. One vector through one tree is a
//!   single chain of dependent loads, so it walks four (tree, 8 rows) vectors at once, in registers, and prefetches
//!   the forest. Levels of up to 32 splits are loaded 8 at a time and selected with permutes and blends; with up to
//!   8 features each lane's value is picked from registers by a tree of blends rather than gathered.
//! - `add_listed_rows_path_lengths` walks the training rows a tree did not sample, for the fit's threshold: levels of
//!   at most 8 splits as in the block walk, levels of up to 32 loaded and selected from as in the small-batch walk.
//!
//! Features and leaves are packed indices (see `layout.rs`), gathered as 4 bytes at the entry's byte offset and
//! masked. Leaves' codes are then looked up in the forest's table of path lengths, as f64, and added per row in tree
//! order, so every total is bit-identical to the scalar walk's.
//!
//! Measured on the 2-core Zen 3 EPYC (`iforest_small` criterion bench, alternated with the build before): 8 rows
//! going round 1,000 forests took 28.5-32.1 µs with the block walk and 8.8-9.0 µs with the small-batch walk, and
//! 9.9-10.3 against 4.8-5.5 µs with one hot forest. The fitting code keeps its scalar nodes here: an AVX2 partition
//! (permute-table compress, masked stores) and gather made a refit 10-20% slower on this CPU, whose masked stores
//! and gathers are slow.

use std::arch::x86_64::*;

use super::layout::PackedIndices;
use super::walk::{FittedTree, prefetch_trees};
use super::{BLOCK_ROWS, IsolationForest, LANES};

/// Rows per AVX2 vector.
const WIDTH: usize = 8;
/// Levels of up to this many splits are looked up in one register of thresholds and one of features.
const REGISTER_WIDTH: usize = 8;
/// Levels of up to this many splits are loaded whole by the small-batch walk, 8 splits a register, and each lane's
/// split is selected from them with permutes and blends instead of two gathers.
const SMALL_BATCH_REGISTER_WIDTH: usize = 32;
/// Vectors walked side by side by the small-batch walk: enough independent chains to hide the gathers' latency.
const VECTORS_IN_FLIGHT: usize = 4;
/// How many groups of trees ahead the small-batch walk prefetches.
const PREFETCH_GROUPS: usize = 2;

/// A packed index array as this walk reads it: its bytes, the shift from entry to byte offset, and the mask.
#[derive(Clone, Copy)]
struct Packed {
    base: *const u8,
    shift: __m128i,
    mask: __m256i,
}

impl Packed {
    #[target_feature(enable = "avx2")]
    fn of(indices: &PackedIndices) -> Self {
        Self {
            base: indices.as_ptr(),
            shift: _mm_cvtsi32_si128(indices.shift() as i32),
            mask: _mm256_set1_epi32(indices.mask() as i32),
        }
    }

    /// Entry `entry` of each lane whose `lanes` element is all ones (others 0).
    ///
    /// # Safety
    /// Every entry read must be inside the array.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn gather(self, entry: __m256i, lanes: __m256i) -> __m256i {
        let offset = _mm256_sll_epi32(entry, self.shift);
        // SAFETY: the caller's promise, and the 3 bytes of padding after the last entry cover the 4-byte read.
        let words = unsafe {
            _mm256_mask_i32gather_epi32::<1>(
                _mm256_setzero_si256(),
                self.base.cast(),
                offset,
                lanes,
            )
        };
        _mm256_and_si256(words, self.mask)
    }
}

/// Adds every row's path length in every tree, in tree order, into `totals` (at most `BLOCK_ROWS` rows).
/// `transposed` holds the rows chunk by chunk, `LANES` rows per chunk, feature-major (`[chunk][feature][lane]`);
/// lanes past the last row hold any values and are walked but not added.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn add_block_path_lengths(
    forest: &IsolationForest,
    transposed: &[f32],
    totals: &mut [f64],
) {
    const { assert!(LANES == 2 * WIDTH) };
    let f = forest.features;
    let vectors = totals.len().div_ceil(WIDTH);
    assert!(
        totals.len() <= BLOCK_ROWS && transposed.len() >= totals.len().div_ceil(LANES) * LANES * f
    );
    assert!(forest.thresholds.len() < (i32::MAX >> 2) as usize);
    let depth = forest.depth;
    let per_splits = (1usize << depth) - 1;
    let lane_iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let one = _mm256_set1_epi32(1);
    let all = _mm256_set1_epi32(-1);
    let (features, leaves) = (
        Packed::of(&forest.split_features),
        Packed::of(&forest.leaves),
    );
    let path_lengths = forest.path_lengths.as_ptr();
    // Vector v holds lanes (v % 2) * 8.. of chunk v / 2: its values of feature k start at `vector_base(v) + k * LANES`.
    let vector_base = |v: usize| (v / 2) * LANES * f + (v % 2) * WIDTH;
    let mut at = [_mm256_setzero_si256(); BLOCK_ROWS / WIDTH];
    let mut sums = [[_mm256_setzero_pd(); 2]; BLOCK_ROWS / WIDTH];
    for (vector_totals, vector_sums) in totals.chunks(WIDTH).zip(&mut sums) {
        *vector_sums = load_eight(vector_totals);
    }
    for tree in 0..forest.trees {
        let first_split = tree * per_splits;
        let thresholds = forest.thresholds[first_split..first_split + per_splits].as_ptr();
        let tree_base = _mm256_set1_epi32(first_split as i32);
        // Every row reads the root's feature.
        // (A forest of constant data has no splits, and its walk no steps.)
        let root_feature = if depth == 0 {
            0
        } else {
            forest.split_features.get(first_split)
        };
        at[..vectors].fill(_mm256_setzero_si256());
        for level in 0..depth {
            if (1usize << level) <= REGISTER_WIDTH {
                // SAFETY: the level lies inside this tree's splits.
                let level_splits =
                    unsafe { LevelRegister::load(thresholds, features, tree_base, level) };
                for (v, at_v) in at[..vectors].iter_mut().enumerate() {
                    // SAFETY: vector v's lanes are inside `transposed` (asserted above).
                    let values = unsafe { transposed.as_ptr().add(vector_base(v)) };
                    let (threshold, feature) = level_splits.of(*at_v);
                    let x = if level == 0 {
                        // SAFETY: the root's feature is below `f`, so its row is inside the chunk.
                        unsafe { _mm256_loadu_ps(values.add(root_feature * LANES)) }
                    } else {
                        // SAFETY: every split's feature is below `f`.
                        unsafe { gather_values(values, feature, lane_iota) }
                    };
                    *at_v = step(*at_v, x, threshold, one);
                }
            } else {
                for (v, at_v) in at[..vectors].iter_mut().enumerate() {
                    // SAFETY: every lane's index is a split of this tree; vector v's lanes are inside
                    // `transposed`, and every split's feature is below `f`.
                    let (threshold, x) = unsafe {
                        let threshold = _mm256_i32gather_ps::<4>(thresholds, *at_v);
                        let feature = features.gather(_mm256_add_epi32(tree_base, *at_v), all);
                        (
                            threshold,
                            gather_values(
                                transposed.as_ptr().add(vector_base(v)),
                                feature,
                                lane_iota,
                            ),
                        )
                    };
                    *at_v = step(*at_v, x, threshold, one);
                }
            }
        }
        // Each lane's bottom slot, as an entry of the forest's leaves: (tree << depth) + at - per_splits.
        let to_leaf = _mm256_set1_epi32(((tree << depth) as i32) - per_splits as i32);
        for (at_v, vector_sums) in at[..vectors].iter().zip(&mut sums) {
            // SAFETY: after `depth` steps every index is a bottom slot of this tree, and every code is an index
            // into the path lengths.
            unsafe {
                add_leaf_lengths(
                    leaves,
                    path_lengths,
                    _mm256_add_epi32(*at_v, to_leaf),
                    vector_sums,
                )
            };
        }
    }
    for (vector_totals, vector_sums) in totals.chunks_mut(WIDTH).zip(&sums) {
        store_eight(vector_totals, vector_sums);
    }
}

/// `FittedTree::add_path_lengths` in vectors: up to 16 vectors of 8 listed rows walk the tree side by side, each
/// lane gathering its row's values from the feature-major `columns`; levels of at most 8 splits come from one
/// register of thresholds and one of features, as in the block walk, and levels of up to 32 are loaded and
/// selected from, as in the small-batch walk (a refit 2.5-2.8% faster than gathering them, in-process A/B).
///
/// # Safety
/// The CPU must support AVX2; `columns` must hold `n_rows` values for each feature the tree splits on, with every
/// index below `i32::MAX`, and every listed row must be below `n_rows`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn add_listed_rows_path_lengths(
    tree: &FittedTree,
    rows: &[u32],
    columns: &[f32],
    n_rows: usize,
    totals: &mut [f64],
) {
    const VECTORS: usize = BLOCK_ROWS / WIDTH;
    let depth = tree.depth;
    let per_splits = (1usize << depth) - 1;
    assert_eq!(tree.thresholds.len(), per_splits);
    assert_eq!(tree.leaf_codes.len(), per_splits + 1);
    let features = Packed::of(tree.features);
    let tree_base = _mm256_set1_epi32(tree.first_split as i32);
    let stride = _mm256_set1_epi32(n_rows as i32);
    let one = _mm256_set1_epi32(1);
    let all = _mm256_set1_epi32(-1);
    let thresholds = tree.thresholds.as_ptr();
    let one_byte_features = tree.features.shift() == 0;
    let mut slots = [0u32; BLOCK_ROWS];
    for group in rows.chunks(BLOCK_ROWS) {
        let vectors = group.len().div_ceil(WIDTH);
        let mut row = [_mm256_setzero_si256(); VECTORS];
        for (v, row_v) in row[..vectors].iter_mut().enumerate() {
            let lanes = (group.len() - v * WIDTH).min(WIDTH);
            // SAFETY: the mask covers only rows that exist; the other lanes walk row 0 and are not added.
            *row_v = unsafe {
                _mm256_maskload_epi32(group.as_ptr().add(v * WIDTH).cast(), first_lanes(lanes))
            };
        }
        let mut at = [_mm256_setzero_si256(); VECTORS];
        for level in 0..depth {
            let (first, width) = ((1usize << level) - 1, 1usize << level);
            // A level of at most 8 splits is one register of thresholds and one of features; one of up to 32 is
            // loaded 8 splits at a time and selected from; deeper levels are gathered.
            let level_registers = (width <= REGISTER_WIDTH)
                // SAFETY: the level lies inside the tree's splits.
                .then(|| unsafe { LevelRegister::load(thresholds, features, tree_base, level) });
            let loaded = level_in_registers(level, per_splits, one_byte_features);
            for (at_v, &row_v) in at[..vectors].iter_mut().zip(&row) {
                // SAFETY: every lane's index is a split of this tree, and a loaded level's splits and feature bytes
                // lie inside it (`level_in_registers`); every split's feature is one `columns` holds, and every
                // row is below `n_rows`.
                let (threshold, x) = unsafe {
                    let (threshold, feature) = match &level_registers {
                        Some(level_registers) => level_registers.of(*at_v),
                        None if loaded => level_split(
                            thresholds.add(first),
                            tree.features.as_ptr().add(tree.first_split + first),
                            width,
                            _mm256_sub_epi32(*at_v, _mm256_set1_epi32(first as i32)),
                        ),
                        None => (
                            _mm256_i32gather_ps::<4>(thresholds, *at_v),
                            features.gather(_mm256_add_epi32(tree_base, *at_v), all),
                        ),
                    };
                    let index = _mm256_add_epi32(_mm256_mullo_epi32(feature, stride), row_v);
                    (threshold, _mm256_i32gather_ps::<4>(columns.as_ptr(), index))
                };
                *at_v = step(*at_v, x, threshold, one);
            }
        }
        for (v, &at_v) in at[..vectors].iter().enumerate() {
            // SAFETY: `slots` holds VECTORS * WIDTH entries.
            unsafe { _mm256_storeu_si256(slots.as_mut_ptr().add(v * WIDTH).cast(), at_v) };
        }
        tree.add_bottom_slots(group, &slots, totals);
    }
}

/// `add_block_path_lengths` for one chunk of at most `LANES` rows, an agent's traffic of a tick. One vector of rows
/// through one tree is a single chain of dependent loads, so this walks `VECTORS_IN_FLIGHT` (tree, 8 rows) vectors
/// side by side and prefetches the trees it walks next. The top levels' splits are loaded and permuted, not
/// gathered, and with up to 8 features each lane's value is selected from registers rather than gathered.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn add_small_batch_path_lengths(
    forest: &IsolationForest,
    transposed: &[f32],
    totals: &mut [f64],
    prefetch: bool,
) {
    const { assert!(LANES == 2 * WIDTH) };
    assert!(totals.len() <= LANES && transposed.len() >= LANES * forest.features);
    // SAFETY: the CPU has AVX2, the caller's promise; the chunk's size is asserted above.
    unsafe {
        if totals.len() <= WIDTH {
            small_batch::<1>(forest, transposed, totals, prefetch)
        } else {
            small_batch::<2>(forest, transposed, totals, prefetch)
        }
    }
}

/// The small-batch walk for `HALVES` vectors of 8 rows: each tree is walked by `HALVES` vectors, and
/// `VECTORS_IN_FLIGHT / HALVES` trees at a time. A fixed count keeps every chain in a register.
///
/// # Safety
/// The CPU must support AVX2; `totals` holds at most `8 * HALVES` rows and `transposed` one whole chunk.
#[target_feature(enable = "avx2")]
unsafe fn small_batch<const HALVES: usize>(
    forest: &IsolationForest,
    transposed: &[f32],
    totals: &mut [f64],
    prefetch: bool,
) {
    let f = forest.features;
    assert!(totals.len() <= HALVES * WIDTH && transposed.len() >= LANES * f);
    assert!(
        forest.thresholds.len() < (i32::MAX >> 2) as usize
            && (forest.trees << forest.depth) < (i32::MAX >> 2) as usize
    );
    let (trees, depth) = (forest.trees, forest.depth);
    let per_splits = (1usize << depth) - 1;
    let trees_per_group = VECTORS_IN_FLIGHT / HALVES;
    let lane_iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let one = _mm256_set1_epi32(1);
    let all = _mm256_set1_epi32(-1);
    // SAFETY: the chunk holds `LANES * f` values (asserted above).
    let values = unsafe { ValueTable::new(transposed, f, HALVES) };
    let mut sums = [[_mm256_setzero_pd(); 2]; HALVES];
    for (half_totals, half_sums) in totals.chunks(WIDTH).zip(&mut sums) {
        *half_sums = load_eight(half_totals);
    }
    let thresholds = forest.thresholds.as_ptr();
    let (features, leaves) = (
        Packed::of(&forest.split_features),
        Packed::of(&forest.leaves),
    );
    let one_byte_features = forest.split_features.shift() == 0;
    let path_lengths = forest.path_lengths.as_ptr();
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
        // Vector v walks tree `first_tree + v / HALVES` with rows `(v % HALVES) * 8..`. Past the last tree a vector
        // walks the last tree again, and its path lengths are not added.
        let tree_of = |v: usize| (first_tree + v / HALVES).min(trees - 1);
        let mut at = [_mm256_setzero_si256(); VECTORS_IN_FLIGHT];
        for level in 0..depth {
            let first = (1usize << level) - 1;
            let width = 1usize << level;
            if level_in_registers(level, per_splits, one_byte_features) {
                let first_v = _mm256_set1_epi32(first as i32);
                for (v, at_v) in at.iter_mut().enumerate() {
                    let split = tree_of(v) * per_splits + first;
                    // SAFETY: `in_registers`: the level's splits and its feature bytes, 8 at a time, lie inside
                    // the tree; every split's feature is below `f`.
                    unsafe {
                        let (threshold, feature) = level_split(
                            thresholds.add(split),
                            forest.split_features.as_ptr().add(split),
                            width,
                            _mm256_sub_epi32(*at_v, first_v),
                        );
                        let x = values.select(feature, v % HALVES, lane_iota);
                        *at_v = step(*at_v, x, threshold, one);
                    }
                }
            } else {
                for (v, at_v) in at.iter_mut().enumerate() {
                    let split = _mm256_add_epi32(
                        _mm256_set1_epi32((tree_of(v) * per_splits) as i32),
                        *at_v,
                    );
                    // SAFETY: every lane's index is a split of this tree, and every split's feature is below `f`.
                    unsafe {
                        let threshold = _mm256_i32gather_ps::<4>(thresholds, split);
                        let x = values.select(features.gather(split, all), v % HALVES, lane_iota);
                        *at_v = step(*at_v, x, threshold, one);
                    }
                }
            }
        }
        // Path lengths are added per row in tree order: vectors go tree by tree.
        for (v, &at_v) in at.iter().enumerate() {
            if first_tree + v / HALVES >= trees {
                break;
            }
            let to_leaf = _mm256_set1_epi32(((tree_of(v) << depth) as i32) - per_splits as i32);
            // SAFETY: after `depth` steps every index is a bottom slot of this tree, and every code is an index
            // into the path lengths.
            unsafe {
                add_leaf_lengths(
                    leaves,
                    path_lengths,
                    _mm256_add_epi32(at_v, to_leaf),
                    &mut sums[v % HALVES],
                )
            };
        }
        first_tree += trees_per_group;
    }
    for (half_totals, half_sums) in totals.chunks_mut(WIDTH).zip(&sums) {
        store_eight(half_totals, half_sums);
    }
}

/// Whether `level_split` can load `level` of a tree of `per_splits` splits: at most `SMALL_BATCH_REGISTER_WIDTH`
/// splits, with one-byte features whose bytes, read 8 at a time from the level's first split, stay inside the tree.
fn level_in_registers(level: usize, per_splits: usize, one_byte_features: bool) -> bool {
    let (first, width) = ((1usize << level) - 1, 1usize << level);
    one_byte_features
        && width <= SMALL_BATCH_REGISTER_WIDTH
        && first + width.max(WIDTH) <= per_splits
}

/// Each lane's threshold and feature at one level of at most `SMALL_BATCH_REGISTER_WIDTH` splits, loaded 8 at a
/// time from the level's first threshold and first feature byte; `within` is each lane's index within the level.
///
/// # Safety
/// Features must be packed one byte each; the level's `width` thresholds and `max(width, 8)` feature bytes must be
/// readable.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn level_split(
    thresholds: *const f32,
    features: *const u8,
    width: usize,
    within: __m256i,
) -> (__m256, __m256i) {
    debug_assert!(width <= SMALL_BATCH_REGISTER_WIDTH);
    // SAFETY: the caller's promise; below 8 splits the mask covers exactly the level's thresholds.
    let part = |k: usize| unsafe {
        let threshold_table = if width < WIDTH {
            _mm256_maskload_ps(thresholds, first_lanes(width))
        } else {
            _mm256_loadu_ps(thresholds.add(k * WIDTH))
        };
        let feature_table = _mm256_cvtepu8_epi32(_mm_loadl_epi64(features.add(k * WIDTH).cast()));
        (
            _mm256_permutevar8x32_ps(threshold_table, within),
            _mm256_permutevar8x32_epi32(feature_table, within),
        )
    };
    // Which 8 splits a lane's index falls in: bit 3 picks within a pair, bit 4 between pairs (a blend reads the
    // sign bit).
    let pick = |low: (__m256, __m256i), high: (__m256, __m256i), bit: __m256| {
        (
            _mm256_blendv_ps(low.0, high.0, bit),
            _mm256_castps_si256(_mm256_blendv_ps(
                _mm256_castsi256_ps(low.1),
                _mm256_castsi256_ps(high.1),
                bit,
            )),
        )
    };
    let bit3 = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(within));
    match width.div_ceil(WIDTH) {
        0 | 1 => part(0),
        2 => pick(part(0), part(1), bit3),
        _ => {
            let bit4 = _mm256_castsi256_ps(_mm256_slli_epi32::<27>(within));
            pick(
                pick(part(0), part(1), bit3),
                pick(part(2), part(3), bit3),
                bit4,
            )
        }
    }
}

/// Where the small-batch walk finds each lane's value of its feature.
// Lives in registers for the length of a walk; boxing the large variant would defeat it.
#[allow(clippy::large_enum_variant)]
enum ValueTable {
    /// Up to 8 features of each half's 8 rows: `[half][feature]`, one register a feature.
    Registers([[__m256; 8]; 2]),
    /// Gathered from the chunk.
    Chunk(*const f32),
}

impl ValueTable {
    /// # Safety
    /// `transposed` must hold one feature-major chunk of `LANES * features` values.
    #[target_feature(enable = "avx2")]
    unsafe fn new(transposed: &[f32], features: usize, halves: usize) -> Self {
        if features > 8 {
            return Self::Chunk(transposed.as_ptr());
        }
        let mut registers = [[_mm256_setzero_ps(); 8]; 2];
        for (half, half_registers) in registers[..halves].iter_mut().enumerate() {
            for (feature, register) in half_registers[..features].iter_mut().enumerate() {
                // SAFETY: feature < features, so its lanes are inside the chunk.
                *register = unsafe {
                    _mm256_loadu_ps(transposed.as_ptr().add(feature * LANES + half * WIDTH))
                };
            }
        }
        Self::Registers(registers)
    }

    /// Each lane's value of its own `feature`, for the rows of `half`.
    ///
    /// # Safety
    /// Every lane's feature must be below the chunk's feature count.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn select(&self, feature: __m256i, half: usize, lane_iota: __m256i) -> __m256 {
        match self {
            Self::Registers(registers) => {
                // A tree of blends on the feature's three bits (a blend reads its mask's sign bit).
                let r = &registers[half];
                let (b0, b1, b2) = (
                    _mm256_castsi256_ps(_mm256_slli_epi32::<31>(feature)),
                    _mm256_castsi256_ps(_mm256_slli_epi32::<30>(feature)),
                    _mm256_castsi256_ps(_mm256_slli_epi32::<29>(feature)),
                );
                let low = _mm256_blendv_ps(
                    _mm256_blendv_ps(r[0], r[1], b0),
                    _mm256_blendv_ps(r[2], r[3], b0),
                    b1,
                );
                let high = _mm256_blendv_ps(
                    _mm256_blendv_ps(r[4], r[5], b0),
                    _mm256_blendv_ps(r[6], r[7], b0),
                    b1,
                );
                _mm256_blendv_ps(low, high, b2)
            }
            // SAFETY: the caller's promise keeps every element inside the chunk.
            Self::Chunk(chunk) => unsafe {
                gather_values(chunk.add(half * WIDTH), feature, lane_iota)
            },
        }
    }
}

/// One step down: `at = 2 at + 1 + !(x <= threshold)`; the unordered compare sends a NaN right, as scikit-learn does.
#[inline]
#[target_feature(enable = "avx2")]
fn step(at: __m256i, x: __m256, threshold: __m256, one: __m256i) -> __m256i {
    // All ones (-1) in the lanes that go right.
    let right = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_NLE_UQ>(x, threshold));
    _mm256_sub_epi32(_mm256_add_epi32(_mm256_add_epi32(at, at), one), right)
}

/// Each lane's value of its own `feature`: element `feature * LANES + lane` from `values`, which points at lane 0
/// of this vector in its chunk.
///
/// # Safety
/// Every element addressed must be inside the chunk: every lane of `feature` below the chunk's feature count.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn gather_values(values: *const f32, feature: __m256i, lane_iota: __m256i) -> __m256 {
    // SAFETY: the caller's promise keeps every element inside the chunk.
    unsafe {
        _mm256_i32gather_ps::<4>(
            values,
            _mm256_add_epi32(_mm256_slli_epi32::<4>(feature), lane_iota),
        )
    }
}

/// A mask for `_mm256_maskload_pd` / `_mm256_maskstore_pd` covering the first `lanes` of 4 f64 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn lane_mask_pd(lanes: usize) -> __m256i {
    _mm256_cmpgt_epi64(
        _mm256_set1_epi64x(lanes as i64),
        _mm256_setr_epi64x(0, 1, 2, 3),
    )
}

/// The first `lanes` of 8 i32 lanes set (all ones), the rest clear: a mask for the masked loads.
#[inline]
#[target_feature(enable = "avx2")]
fn first_lanes(lanes: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(lanes as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// Up to 8 totals as two vectors of 4 f64; lanes past the end load as 0 (and `store_eight` never writes them).
#[inline]
#[target_feature(enable = "avx2")]
fn load_eight(totals: &[f64]) -> [__m256d; 2] {
    debug_assert!(totals.len() <= WIDTH);
    std::array::from_fn(|quarter| {
        let lanes = totals.len().saturating_sub(quarter * 4).min(4);
        // SAFETY: the mask covers only the `lanes` entries that exist from `quarter * 4` on.
        unsafe { _mm256_maskload_pd(totals.as_ptr().add(quarter * 4), lane_mask_pd(lanes)) }
    })
}

/// Writes back the totals `load_eight` read, and no entry past their end.
#[inline]
#[target_feature(enable = "avx2")]
fn store_eight(totals: &mut [f64], sums: &[__m256d; 2]) {
    debug_assert!(totals.len() <= WIDTH);
    for (quarter, &sum) in sums.iter().enumerate() {
        let lanes = totals.len().saturating_sub(quarter * 4).min(4);
        // SAFETY: the mask covers only the entries that exist.
        unsafe {
            _mm256_maskstore_pd(
                totals.as_mut_ptr().add(quarter * 4),
                lane_mask_pd(lanes),
                sum,
            )
        };
    }
}

/// Adds to each lane's total (8 lanes as two vectors of 4 f64) the path length of the leaf at `leaf`, an entry of
/// the forest's packed leaves.
///
/// # Safety
/// Every entry must be inside the leaves, and every code an index into `path_lengths`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn add_leaf_lengths(
    leaves: Packed,
    path_lengths: *const f64,
    leaf: __m256i,
    sums: &mut [__m256d; 2],
) {
    // SAFETY: the caller's promise.
    unsafe {
        let code = leaves.gather(leaf, _mm256_set1_epi32(-1));
        let lo = _mm256_i32gather_pd::<8>(path_lengths, _mm256_castsi256_si128(code));
        let hi = _mm256_i32gather_pd::<8>(path_lengths, _mm256_extracti128_si256::<1>(code));
        sums[0] = _mm256_add_pd(sums[0], lo);
        sums[1] = _mm256_add_pd(sums[1], hi);
    }
}

/// A level of at most `REGISTER_WIDTH` splits of one tree in registers: one of thresholds and one of features.
#[derive(Clone, Copy)]
struct LevelRegister {
    thresholds: __m256,
    features: __m256i,
    /// The level's first split within the tree.
    first: __m256i,
}

impl LevelRegister {
    /// Loads `level` of the tree whose splits start at `thresholds` and at entry `tree_base` of `features`.
    ///
    /// # Safety
    /// The level must have at most `REGISTER_WIDTH` splits, all inside the tree.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load(
        thresholds: *const f32,
        features: Packed,
        tree_base: __m256i,
        level: usize,
    ) -> Self {
        let (first, width) = ((1usize << level) - 1, 1usize << level);
        debug_assert!(width <= REGISTER_WIDTH);
        let in_level = first_lanes(width);
        let entry = _mm256_add_epi32(
            _mm256_add_epi32(tree_base, _mm256_set1_epi32(first as i32)),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        );
        // SAFETY: the caller's promise; the masks cover exactly this level's splits.
        unsafe {
            Self {
                thresholds: _mm256_maskload_ps(thresholds.add(first), in_level),
                features: features.gather(entry, in_level),
                first: _mm256_set1_epi32(first as i32),
            }
        }
    }

    /// Each lane's threshold and feature, for lanes at splits `at` of this level (indices within the tree).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn of(&self, at: __m256i) -> (__m256, __m256i) {
        let within = _mm256_sub_epi32(at, self.first);
        (
            _mm256_permutevar8x32_ps(self.thresholds, within),
            _mm256_permutevar8x32_epi32(self.features, within),
        )
    }
}
