//! Vector maths shared by signing, voting and blocking: cosine similarity, centroids, spreads and the scaled
//! distance that decides whether a sample falls inside a signature's region.

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
