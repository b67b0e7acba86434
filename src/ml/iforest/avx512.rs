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
