//! The batch walk with AVX-512: 16 rows per vector, a block of rows level by level through one tree.
//!
//! Each step is three lookups per row: its split's threshold, the split's feature, and the row's value of that
//! feature. Gathers do them 16 rows at a time, but a gather costs about one load per element, so:
//! - a level of at most 16 splits (the top five levels of any tree) is loaded once per block into two registers of
//!   (threshold, feature) pairs, and each row's split comes out of them with in-register permutes;
//! - at the root every row reads the same feature: one plain vector load from the block's feature-major copy;
//! - deeper levels gather their splits, and every level below the root gathers the rows' values.
//!
//! Other ways were tried and measured in interleaved runs on a 2-core Xeon: keeping levels of 32-128 splits in
//! registers too, blending values from feature rows instead of gathering them, or selecting them with one masked
//! load per feature were no faster, or slower. The scalar 16-lane walk takes about 2.2x as long as this one, the
//! AVX2 walk about 1.4x (`tools/sklearn_parity.py timing`).
//!
//! The leaves' path lengths are gathered as f64 and added per row in tree order, so every total is bit-identical
//! to the scalar walk's.

use std::arch::x86_64::*;

use super::{BLOCK_ROWS, IsolationForest, LANES};

/// Levels of up to this many splits are looked up in registers: two registers of (threshold, feature) pairs.
const REGISTER_WIDTH: usize = 16;

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
    let depth = forest.depth;
    let per_splits = (1usize << depth) - 1;
    let lane_iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let one = _mm512_set1_epi32(1);
    let odd = _mm512_add_epi32(even, one);
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
        let splits = &forest.splits[tree * per_splits..(tree + 1) * per_splits];
        at[..chunks].fill(_mm512_setzero_si512());
        for level in 0..depth {
            let first = (1usize << level) - 1;
            let width = 1usize << level;
            let nodes = &splits[first..first + width];
            if width <= REGISTER_WIDTH {
                let dwords = 2 * width;
                let pairs = nodes.as_ptr().cast::<f32>();
                // SAFETY: the masks cover exactly this level's splits.
                let (lo, hi) = unsafe {
                    (
                        _mm512_maskz_loadu_ps(lane_mask16(dwords.min(16)), pairs),
                        _mm512_maskz_loadu_ps(
                            lane_mask16(dwords.saturating_sub(16)),
                            pairs.add(16),
                        ),
                    )
                };
                let first_v = _mm512_set1_epi32(first as i32);
                for (c, at_c) in at[..chunks].iter_mut().enumerate() {
                    // SAFETY: chunk `c` is whole in `transposed` (asserted above).
                    let chunk = unsafe { transposed.as_ptr().add(c * LANES * f) };
                    // Each lane's (threshold, feature) pair is at 2 * (its index within the level).
                    let pair = _mm512_slli_epi32::<1>(_mm512_sub_epi32(*at_c, first_v));
                    let threshold = _mm512_permutex2var_ps(lo, pair, hi);
                    let x = if level == 0 {
                        // SAFETY: the root's feature is below `f`, so its row is inside the chunk.
                        unsafe { _mm512_loadu_ps(chunk.add(nodes[0].feature as usize * LANES)) }
                    } else {
                        let feature = _mm512_castps_si512(_mm512_permutex2var_ps(
                            lo,
                            _mm512_add_epi32(pair, one),
                            hi,
                        ));
                        // SAFETY: every split's feature is below `f`.
                        unsafe { gather_values(chunk, feature, lane_iota) }
                    };
                    *at_c = step(*at_c, x, threshold, one);
                }
            } else {
                let base = splits.as_ptr().cast::<i64>();
                for (c, at_c) in at[..chunks].iter_mut().enumerate() {
                    // SAFETY: every lane's index is a split of this level, inside `splits`.
                    let (lo, hi) = unsafe {
                        (
                            _mm512_castsi512_ps(_mm512_i32gather_epi64::<8>(
                                _mm512_castsi512_si256(*at_c),
                                base,
                            )),
                            _mm512_castsi512_ps(_mm512_i32gather_epi64::<8>(
                                _mm512_extracti64x4_epi64::<1>(*at_c),
                                base,
                            )),
                        )
                    };
                    let threshold = _mm512_permutex2var_ps(lo, even, hi);
                    let feature = _mm512_castps_si512(_mm512_permutex2var_ps(lo, odd, hi));
                    // SAFETY: chunk `c` is whole in `transposed`, and every split's feature is below `f`.
                    let x = unsafe {
                        gather_values(transposed.as_ptr().add(c * LANES * f), feature, lane_iota)
                    };
                    *at_c = step(*at_c, x, threshold, one);
                }
            }
        }
        let leaves = forest.leaves[tree << depth..(tree + 1) << depth].as_ptr();
        let first_leaf = _mm512_set1_epi32(per_splits as i32);
        for c in 0..chunks {
            let slot = _mm512_sub_epi32(at[c], first_leaf);
            // SAFETY: after `depth` steps every index is a bottom slot, 0 <= slot < 2^depth.
            unsafe {
                let lo = _mm512_i32gather_pd::<8>(_mm512_castsi512_si256(slot), leaves);
                let hi = _mm512_i32gather_pd::<8>(_mm512_extracti64x4_epi64::<1>(slot), leaves);
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

/// Trees walked at once by the small-batch walk: enough independent chains to hide the gathers' latency.
const VECTORS_IN_FLIGHT: usize = 4;
/// How many groups of trees ahead the small-batch walk prefetches.
const PREFETCH_GROUPS: usize = 2;

/// `add_block_path_lengths` for one chunk of at most `LANES` rows, the common case of an agent scoring its traffic
/// each tick. One chunk through one tree at a time is a single chain of dependent gathers, so this walk fills the
/// lanes with several trees instead: up to 8 rows give each vector two trees (lanes 0-7 and 8-15), and
/// `VECTORS_IN_FLIGHT` vectors walk side by side. Every lookup is a gather from the whole forest. The next group's
/// trees are prefetched while this one walks: an agent's forest is usually out of cache by its next tick.
///
/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn add_small_batch_path_lengths(
    forest: &IsolationForest,
    transposed: &[f32],
    totals: &mut [f64],
) {
    const { assert!(LANES == 16) };
    let n = totals.len();
    assert!(n <= LANES && transposed.len() >= LANES * forest.features);
    assert!(forest.splits.len() < i32::MAX as usize && forest.leaves.len() < i32::MAX as usize);
    let (trees, depth) = (forest.trees, forest.depth);
    let per_splits = (1usize << depth) - 1;
    let lane_iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let one = _mm512_set1_epi32(1);
    let odd = _mm512_add_epi32(even, one);
    // Each lane's row, and which of its vector's trees it walks.
    let trees_per_vector = if n <= LANES / 2 { 2 } else { 1 };
    let rows_per_tree = LANES / trees_per_vector;
    let row = _mm512_and_si512(lane_iota, _mm512_set1_epi32(rows_per_tree as i32 - 1));
    let tree_in_vector = if trees_per_vector == 2 {
        _mm512_srli_epi32::<3>(lane_iota)
    } else {
        _mm512_setzero_si512()
    };
    // SAFETY: the masks cover only the `n` totals that exist.
    let mut sums = unsafe {
        [
            _mm512_maskz_loadu_pd(lane_mask8(n.min(8)), totals.as_ptr()),
            _mm512_maskz_loadu_pd(lane_mask8(n.saturating_sub(8)), totals.as_ptr().add(8)),
        ]
    };
    let splits_base = forest.splits.as_ptr().cast::<i64>();
    let leaves_base = forest.leaves.as_ptr();
    let trees_per_group = VECTORS_IN_FLIGHT * trees_per_vector;
    let last_tree = _mm512_set1_epi32(trees as i32 - 1);
    prefetch_trees(forest, 0, PREFETCH_GROUPS * trees_per_group);
    let mut first_tree = 0;
    while first_tree < trees {
        prefetch_trees(
            forest,
            first_tree + PREFETCH_GROUPS * trees_per_group,
            trees_per_group,
        );
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
        for _ in 0..depth {
            for v in 0..vectors {
                let index = _mm512_add_epi32(base[v], at[v]);
                // SAFETY: every lane's index is a split of its tree, inside `splits`; every split's feature is
                // below `features`, so each value's index is inside the chunk.
                let (lo, hi) = unsafe {
                    (
                        _mm512_castsi512_ps(_mm512_i32gather_epi64::<8>(
                            _mm512_castsi512_si256(index),
                            splits_base,
                        )),
                        _mm512_castsi512_ps(_mm512_i32gather_epi64::<8>(
                            _mm512_extracti64x4_epi64::<1>(index),
                            splits_base,
                        )),
                    )
                };
                let threshold = _mm512_permutex2var_ps(lo, even, hi);
                let feature = _mm512_castps_si512(_mm512_permutex2var_ps(lo, odd, hi));
                // SAFETY: as above.
                let x = unsafe { gather_values(transposed.as_ptr(), feature, row) };
                at[v] = step(at[v], x, threshold, one);
            }
        }
        // Path lengths are added per row in tree order: vector by vector, and within one its first tree first.
        for v in 0..vectors {
            let slot = _mm512_sub_epi32(at[v], _mm512_set1_epi32(per_splits as i32));
            let leaf = _mm512_add_epi32(
                _mm512_sllv_epi32(tree[v], _mm512_set1_epi32(depth as i32)),
                slot,
            );
            let first = first_tree + v * trees_per_vector;
            // SAFETY: each lane's index is a bottom slot of its own tree, inside `leaves`.
            unsafe {
                let lo = _mm512_i32gather_pd::<8>(_mm512_castsi512_si256(leaf), leaves_base);
                let hi =
                    _mm512_i32gather_pd::<8>(_mm512_extracti64x4_epi64::<1>(leaf), leaves_base);
                if trees_per_vector == 2 {
                    sums[0] = _mm512_add_pd(sums[0], lo);
                    if first + 1 < trees {
                        sums[0] = _mm512_add_pd(sums[0], hi);
                    }
                } else {
                    sums[0] = _mm512_add_pd(sums[0], lo);
                    sums[1] = _mm512_add_pd(sums[1], hi);
                }
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

/// Asks for trees `first..first + count` to be brought into L1, a cache line at a time.
#[target_feature(enable = "avx512f")]
fn prefetch_trees(forest: &IsolationForest, first: usize, count: usize) {
    let end = (first + count).min(forest.trees);
    if first >= end {
        return;
    }
    let (per_splits, per_leaves) = ((1usize << forest.depth) - 1, 1usize << forest.depth);
    let splits = forest.splits[first * per_splits..end * per_splits].as_ptr_range();
    let leaves = forest.leaves[first * per_leaves..end * per_leaves].as_ptr_range();
    for range in [
        splits.start.cast::<i8>()..splits.end.cast::<i8>(),
        leaves.start.cast::<i8>()..leaves.end.cast::<i8>(),
    ] {
        let mut line = range.start;
        while line < range.end {
            // A prefetch never faults; stepping past the slice's end wraps, not reads.
            _mm_prefetch::<_MM_HINT_T0>(line);
            line = line.wrapping_add(64);
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
