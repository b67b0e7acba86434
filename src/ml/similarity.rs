//! Vector maths shared by signing, voting and blocking: cosine similarity, centroids, spreads and the scaled
//! distance that decides whether a sample falls inside a signature's region.

use crate::config::FEATURE_COUNT;

/// Cosine similarity of two vectors; 0 when either is (near) zero, so a zero vector is similar to nothing.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na <= f32::EPSILON || nb <= f32::EPSILON {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

/// Root-mean-square of the per-feature distance between `sample` and `centre`, each feature measured in units of
/// `spread` (floored at `min_spread` so a tight signature does not become a point).
pub fn scaled_distance(sample: &[f32], centre: &[f32], spread: &[f32], min_spread: f32) -> f32 {
    let mut sum = 0.0f32;
    for ((x, c), s) in sample.iter().zip(centre).zip(spread) {
        let d = (x - c) / s.max(min_spread);
        sum += d * d;
    }
    (sum / sample.len().max(1) as f32).sqrt()
}

/// How far, relative to the squared radius, `SignatureBlock`'s quick estimate of a squared distance must fall from
/// it to be trusted. The estimate multiplies by each divisor's inverse where `scaled_distance` divides, which moves
/// it by a few parts in ten million; the margin is a thousand times that.
const ESTIMATE_MARGIN: f32 = 1.0 / 1024.0;

/// `SignatureBlock::LANES` signatures' centroids and divisors (spreads floored at `min_spread`), feature-major, so
/// that one sample is matched against all of them at once, a signature to a vector lane.
///
/// Each lane first estimates the sample's squared distance, multiplying by the divisors' inverses. Only where the
/// estimate lands within `ESTIMATE_MARGIN` of the squared radius (or is NaN) is the distance computed as
/// `scaled_distance` computes it, division for division. So every answer is `scaled_distance(..) <= radius`, bit
/// for bit, and blocking, which matches every sample against every signature, almost never divides.
#[derive(Clone, Debug)]
pub struct SignatureBlock {
    centroid: [[f32; Self::LANES]; FEATURE_COUNT],
    divisor: [[f32; Self::LANES]; FEATURE_COUNT],
    inverse: [[f32; Self::LANES]; FEATURE_COUNT],
}

impl SignatureBlock {
    /// Signatures a block holds: one 256-bit vector of f32.
    pub const LANES: usize = 8;

    /// No lane matches anything: an infinite centroid is infinitely far from a finite sample, and from an infinite
    /// one the difference is NaN, which is within no radius.
    pub const EMPTY: Self = Self {
        centroid: [[f32::INFINITY; Self::LANES]; FEATURE_COUNT],
        divisor: [[1.0; Self::LANES]; FEATURE_COUNT],
        inverse: [[1.0; Self::LANES]; FEATURE_COUNT],
    };

    /// Puts a signature of this centroid and spread in `lane`.
    pub fn set(&mut self, lane: usize, centroid: &[f32], spread: &[f32], min_spread: f32) {
        for f in 0..FEATURE_COUNT {
            self.centroid[f][lane] = centroid[f];
            self.divisor[f][lane] = spread[f].max(min_spread);
            self.inverse[f][lane] = 1.0 / self.divisor[f][lane];
        }
    }

    /// Asks the CPU to bring what matching reads into cache, so that a block read cold (an agent's blacklist is
    /// touched once a tick) arrives while other work runs.
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        for rows in [&self.centroid, &self.inverse] {
            for row in rows {
                // SAFETY: prefetching reads nothing and cannot fault.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        row.as_ptr().cast(),
                    )
                };
            }
        }
    }

    /// Bit j is set when `scaled_distance(sample, ..) <= radius` for lane j's signature.
    pub fn matching_lanes(&self, sample: &[f32; FEATURE_COUNT], radius: f32) -> u32 {
        // sqrt(sum / n) <= r when sum <= n r^2, up to rounding that the margin covers. A squared radius at either
        // end of f32's range keeps too few bits for that, and there every lane is computed exactly.
        let bound = radius * radius * FEATURE_COUNT as f32;
        let (mut matching, mut unsure) = if (1e-30..=1e30).contains(&bound) {
            self.classify(
                sample,
                bound * (1.0 - ESTIMATE_MARGIN),
                bound * (1.0 + ESTIMATE_MARGIN),
            )
        } else {
            (0, (1 << Self::LANES) - 1)
        };
        while unsure != 0 {
            let lane = unsure.trailing_zeros() as usize;
            unsure &= unsure - 1;
            matching |= u32::from(self.matches_exactly(sample, lane, radius)) << lane;
        }
        matching
    }

    /// From each lane's estimated squared distance: the lanes surely inside (below `surely_in`), and the lanes
    /// neither surely inside nor surely outside (above `surely_out`), NaN included.
    fn classify(
        &self,
        sample: &[f32; FEATURE_COUNT],
        surely_in: f32,
        surely_out: f32,
    ) -> (u32, u32) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { self.classify_avx2(sample, surely_in, surely_out) };
        }
        let (mut inside, mut unsure) = (0, 0);
        for (j, &estimate) in self.estimate_portable(sample).iter().enumerate() {
            let (is_in, is_out) = (estimate < surely_in, estimate > surely_out);
            inside |= u32::from(is_in) << j;
            unsure |= u32::from(!is_in && !is_out) << j;
        }
        (inside, unsure)
    }

    /// Each lane's squared distance, nearly: within a few parts in ten million of `scaled_distance`'s sum.
    fn estimate_portable(&self, sample: &[f32; FEATURE_COUNT]) -> [f32; Self::LANES] {
        let mut estimate = [0.0f32; Self::LANES];
        for ((&x, centroid), inverse) in sample.iter().zip(&self.centroid).zip(&self.inverse) {
            for ((sum, &c), &inverse) in estimate.iter_mut().zip(centroid).zip(inverse) {
                let d = (x - c) * inverse;
                *sum += d * d;
            }
        }
        estimate
    }

    /// `classify` with the block in one vector. The masks come straight from vector compares: storing the
    /// estimates and reading them back lane by lane stalls on the store.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn classify_avx2(
        &self,
        sample: &[f32; FEATURE_COUNT],
        surely_in: f32,
        surely_out: f32,
    ) -> (u32, u32) {
        use std::arch::x86_64::*;
        let estimate = self.estimate_avx2(sample);
        let below = _mm256_cmp_ps::<_CMP_LT_OQ>(estimate, _mm256_set1_ps(surely_in));
        let above = _mm256_cmp_ps::<_CMP_GT_OQ>(estimate, _mm256_set1_ps(surely_out));
        let (inside, outside) = (
            _mm256_movemask_ps(below) as u32,
            _mm256_movemask_ps(above) as u32,
        );
        (inside, !(inside | outside) & ((1 << Self::LANES) - 1))
    }

    /// `estimate_portable` in one vector (FMA rounds once where it rounds twice; both are estimates).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn estimate_avx2(&self, sample: &[f32; FEATURE_COUNT]) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        const { assert!(SignatureBlock::LANES == 8) };
        let mut sum = _mm256_setzero_ps();
        for ((&x, centroid), inverse) in sample.iter().zip(&self.centroid).zip(&self.inverse) {
            // SAFETY: each row holds LANES = 8 values.
            let (centroid, inverse) = unsafe {
                (
                    _mm256_loadu_ps(centroid.as_ptr()),
                    _mm256_loadu_ps(inverse.as_ptr()),
                )
            };
            let d = _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(x), centroid), inverse);
            sum = _mm256_fmadd_ps(d, d, sum);
        }
        sum
    }

    /// `scaled_distance(sample, ..) <= radius` for one lane, by `scaled_distance` itself. The divisors are already
    /// floored at `min_spread` (at least 0.001), so flooring them again at 0 leaves each as it is.
    fn matches_exactly(&self, sample: &[f32; FEATURE_COUNT], lane: usize, radius: f32) -> bool {
        let centroid: [f32; FEATURE_COUNT] = std::array::from_fn(|f| self.centroid[f][lane]);
        let divisor: [f32; FEATURE_COUNT] = std::array::from_fn(|f| self.divisor[f][lane]);
        scaled_distance(sample, &centroid, &divisor, 0.0) <= radius
    }
}

/// Running mean and variance per feature (Welford), so a cluster can absorb samples one at a time.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RunningStats {
    pub count: u32,
    pub mean: Vec<f32>,
    m2: Vec<f32>,
}

impl RunningStats {
    /// Heap bytes held by the running mean and second moment.
    pub fn heap_bytes(&self) -> usize {
        (self.mean.capacity() + self.m2.capacity()) * std::mem::size_of::<f32>()
    }

    pub fn new(features: usize) -> Self {
        Self {
            count: 0,
            mean: vec![0.0; features],
            m2: vec![0.0; features],
        }
    }

    pub fn push(&mut self, sample: &[f32]) {
        self.count += 1;
        let n = self.count as f32;
        for ((m, m2), &x) in self.mean.iter_mut().zip(self.m2.iter_mut()).zip(sample) {
            let delta = x - *m;
            *m += delta / n;
            *m2 += delta * (x - *m);
        }
    }

    /// Population standard deviation per feature.
    pub fn spread(&self) -> Vec<f32> {
        let n = self.count.max(1) as f32;
        self.m2.iter().map(|m2| (m2 / n).max(0.0).sqrt()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_zero_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    /// Both estimates of a block's squared distances stay within a few parts in ten million of `scaled_distance`'s
    /// sums, far inside the margin the block trusts them by.
    #[test]
    fn block_estimates_stay_well_inside_the_margin() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(6);
        let min_spread = 0.25;
        for _ in 0..200 {
            let mut block = SignatureBlock::EMPTY;
            let mut lanes = Vec::new();
            for lane in 0..SignatureBlock::LANES {
                let centroid: [f32; FEATURE_COUNT] =
                    std::array::from_fn(|_| rng.random_range(-5.0..5.0));
                let spread: [f32; FEATURE_COUNT] =
                    std::array::from_fn(|_| rng.random_range(0.0..3.0));
                block.set(lane, &centroid, &spread, min_spread);
                lanes.push((centroid, spread));
            }
            let sample: [f32; FEATURE_COUNT] = std::array::from_fn(|_| rng.random_range(-8.0..8.0));
            let mut estimates = vec![block.estimate_portable(&sample)];
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                let mut lanes = [0.0f32; SignatureBlock::LANES];
                // SAFETY: the CPU has AVX2 and FMA, and `lanes` holds 8 values.
                unsafe {
                    std::arch::x86_64::_mm256_storeu_ps(
                        lanes.as_mut_ptr(),
                        block.estimate_avx2(&sample),
                    )
                };
                estimates.push(lanes);
            }
            for estimate in estimates {
                for (lane, (centroid, spread)) in lanes.iter().enumerate() {
                    let exact = scaled_distance(&sample, centroid, spread, min_spread).powi(2)
                        * FEATURE_COUNT as f32;
                    let relative = (estimate[lane] - exact).abs() / exact;
                    assert!(relative < ESTIMATE_MARGIN / 100.0, "{relative}");
                }
            }
        }
    }

    #[test]
    fn scaled_distance_uses_spread_with_a_floor() {
        assert!(
            (scaled_distance(&[2.0, 0.0], &[0.0, 0.0], &[1.0, 1.0], 0.1) - 2f32.sqrt()).abs()
                < 1e-6
        );
        // A zero spread is floored, not divided by.
        assert!(scaled_distance(&[1.0], &[0.0], &[0.0], 0.5).is_finite());
    }

    #[test]
    fn running_stats_match_batch_mean_and_spread() {
        let mut stats = RunningStats::new(1);
        for x in [1.0, 2.0, 3.0, 4.0] {
            stats.push(&[x]);
        }
        assert!((stats.mean[0] - 2.5).abs() < 1e-6);
        assert!((stats.spread()[0] - 1.25f32.sqrt()).abs() < 1e-6);
    }
}
