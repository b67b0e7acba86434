//! Isolation Forest (Liu, Ting & Zhou 2008) with scikit-learn's semantics.
//!
//! t trees, each grown on a subsample of ψ rows drawn without replacement, to a height limit of ceil(log2 ψ).
//! A node splits on a uniformly chosen non-constant feature at a threshold drawn uniformly between that feature's
//! minimum and maximum in the node. The anomaly score of x is s = 2^(-E[h(x)] / c(ψ)), where h is the depth of the
//! leaf x lands in plus c(n) for the n training rows that reached it. With contamination 'auto' a row is anomalous
//! when s > 0.5; with a fraction p, when s exceeds the (1 - p) quantile of the training rows' scores.
//!
//! Trees are grown in pre-order, then laid out for scoring as complete binary trees of the forest's depth D in
//! flat arrays: node i's children are 2i+1 and 2i+2, a leaf above depth D becomes splits that always go left
//! (threshold +inf) with its path length copied to every bottom slot beneath it. A walk is then exactly D
//! branch-free steps `i = 2i + 1 + (x > threshold)`, with no leaf test and no child pointers to load.

mod grow;
mod layout;
mod sklearn;
mod walk;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use layout::PackedIndices;
pub use sklearn::SklearnTree;
pub use walk::{Walk, f32_at_or_below};
// The vector walks share the batch walk's block shape.
#[cfg(target_arch = "x86_64")]
use walk::{BLOCK_ROWS, LANES};

use rand::Rng;

/// How the anomaly threshold is chosen, as in scikit-learn's `contamination`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Contamination {
    /// s > 0.5 is anomalous (the original paper's offset).
    Auto,
    /// This fraction of the training rows is expected to be anomalous.
    Fraction(f64),
}

/// Fitting parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForestParams {
    pub trees: usize,
    pub subsample: usize,
    pub contamination: Contamination,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            trees: 100,
            subsample: 256,
            contamination: Contamination::Auto,
        }
    }
}

/// A fitted forest.
#[derive(Clone, Debug, PartialEq)]
pub struct IsolationForest {
    /// Per tree, the thresholds of its 2^depth - 1 splits in heap order; +inf where a leaf above depth D was
    /// padded with splits that always go left.
    thresholds: Vec<f32>,
    /// The feature each of those splits reads (0 in the padding).
    split_features: PackedIndices,
    /// Per tree, 2^depth bottom slots, each the index of its path length in `path_lengths`.
    leaves: PackedIndices,
    /// The forest's distinct path lengths (depth + c(n)).
    path_lengths: Vec<f64>,
    trees: usize,
    /// D: every walk takes exactly this many steps.
    depth: usize,
    features: usize,
    /// ψ actually used (min of the requested subsample and the training rows), scikit-learn's `max_samples_`.
    max_samples: usize,
    /// s above this is anomalous; scikit-learn's `-offset_`.
    threshold: f64,
}

/// Average path length of an unsuccessful search in a binary search tree of n items: c(n) in the paper,
/// `_average_path_length` in scikit-learn.
pub fn average_path_length(n: usize) -> f64 {
    const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

impl IsolationForest {
    /// Fits on `rows` (row-major, `features` columns). `rows` must hold at least one row.
    pub fn fit<R: Rng + ?Sized>(
        rows: &[f32],
        features: usize,
        params: ForestParams,
        rng: &mut R,
    ) -> Self {
        let mut forest = Self::empty(features);
        forest.refit(rows, features, params, rng);
        forest
    }

    fn empty(features: usize) -> Self {
        Self {
            thresholds: Vec::new(),
            split_features: PackedIndices::default(),
            leaves: PackedIndices::default(),
            path_lengths: Vec::new(),
            trees: 0,
            depth: 0,
            features,
            max_samples: 1,
            threshold: 0.5,
        }
    }

    pub fn features(&self) -> usize {
        self.features
    }
    pub fn trees(&self) -> usize {
        self.trees
    }
    /// Split slots in the scoring layout (2^depth - 1 per tree).
    pub fn node_count(&self) -> usize {
        self.thresholds.len()
    }
    /// Real splits, without the always-left padding that completes each tree to depth D.
    pub fn real_split_count(&self) -> usize {
        self.thresholds
            .iter()
            .filter(|&&threshold| threshold != f32::INFINITY)
            .count()
    }
    /// Steps of every walk: the depth of the deepest leaf.
    pub fn depth(&self) -> usize {
        self.depth
    }
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }
    /// Scores above this are anomalous.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
    /// Heap bytes held by the fitted forest.
    pub fn heap_bytes(&self) -> usize {
        self.thresholds.capacity() * size_of::<f32>()
            + self.split_features.heap_bytes()
            + self.leaves.heap_bytes()
            + self.path_lengths.capacity() * size_of::<f64>()
    }

    /// Heap bytes a forest of `trees` fitted on `max_samples` rows of `features` columns holds at most, before it
    /// exists: its layout at the height limit, as fitting allocates it (memory estimates plan with this).
    pub fn planned_heap_bytes(trees: usize, max_samples: usize, features: usize) -> usize {
        let height_limit = (max_samples.max(2) as f64).log2().ceil() as usize;
        let (splits, leaves) = ((1usize << height_limit) - 1, 1usize << height_limit);
        let feature_width = if features <= 0x100 { 1 } else { 2 };
        // A leaf's code indexes the forest's distinct path lengths (depth + c(rows left)): a few dozen in practice,
        // so one byte.
        let distinct_path_lengths = 2 * height_limit + max_samples.min(256) / 2;
        let leaf_width = 1;
        let trees = trees.max(1);
        trees * splits * (size_of::<f32>() + feature_width)
            + trees * leaves * leaf_width
            + 6
            + distinct_path_lengths * size_of::<f64>()
    }

    /// Mean path length E[h(x)] over the trees.
    pub fn mean_path_length(&self, row: &[f32]) -> f64 {
        self.total_path_length(row) / self.trees as f64
    }

    /// The paper's anomaly score s in (0, 1]; higher is more anomalous. Computed as scikit-learn does,
    /// 2^(-sum of path lengths / (trees * c(psi))), so the two agree to the last bits.
    pub fn score(&self, row: &[f32]) -> f64 {
        self.score_from_total(self.total_path_length(row))
    }

    fn score_from_total(&self, total: f64) -> f64 {
        let denominator = self.trees as f64 * average_path_length(self.max_samples);
        if denominator == 0.0 {
            return 1.0;
        }
        2f64.powf(-total / denominator)
    }

    pub fn is_anomaly(&self, row: &[f32]) -> bool {
        self.score(row) > self.threshold
    }

    pub fn score_rows(&self, rows: &[f32]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows.len() / self.features.max(1));
        self.score_into(rows, &mut out);
        out
    }
}

/// numpy's default ('linear') percentile; reorders `values` in place.
///
/// It needs only the two order statistics around the rank, so it selects them (linear time) rather than sorting:
/// the values, and so the result, are those of a sort.
pub fn percentile_linear(values: &mut [f64], q: f64) -> f64 {
    assert!(!values.is_empty());
    let rank = (q / 100.0).clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    let (_, &mut at_lo, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let at_hi = if hi == lo {
        at_lo
    } else {
        // The smallest value above the lower statistic is the next in sorted order.
        above
            .iter()
            .copied()
            .min_by(f64::total_cmp)
            .expect("the rank's ceiling is a position")
    };
    at_lo + (at_hi - at_lo) * frac
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    fn gaussian(rows: usize, features: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..rows * features)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect()
    }

    #[test]
    fn batch_scores_equal_single_scores_exactly() {
        let data = gaussian(300, 5, 11);
        let forest = IsolationForest::fit(
            &data,
            5,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        let probe = gaussian(37, 5, 12);
        let batch = forest.score_rows(&probe);
        let single: Vec<f64> = probe.chunks_exact(5).map(|r| forest.score(r)).collect();
        assert_eq!(batch, single);
    }

    /// Every walk this CPU runs gives the single-row scores bit for bit: across partial chunks and blocks, one to
    /// many features, shallow and deep trees, and NaN and infinite inputs.
    #[test]
    fn every_walk_matches_single_row_scores_exactly() {
        let walks = Walk::supported();
        assert_eq!(walks[0], Walk::Scalar);
        for (features, train_rows, subsample, probe_rows) in [
            (1, 50, 256, 1),
            (3, 2, 256, 17),
            (3, 2, 256, 5),
            (5, 300, 256, 129),
            (8, 300, 128, 8),
            (8, 300, 128, 9),
            (8, 300, 128, 16),
            (6, 300, 128, 3),
            (30, 500, 256, 7),
            (300, 100, 64, 4),
            (10, 1000, 64, 300),
            (30, 500, 256, 16),
            (70, 400, 1000, 45),
        ] {
            let data = gaussian(train_rows, features, 21);
            let params = ForestParams {
                trees: 13,
                subsample,
                contamination: Contamination::Auto,
            };
            let forest =
                IsolationForest::fit(&data, features, params, &mut ChaCha8Rng::seed_from_u64(4));
            let mut probe = gaussian(probe_rows, features, 22);
            for (i, x) in probe.iter_mut().enumerate() {
                match i % 23 {
                    0 => *x = f32::NAN,
                    5 => *x = f32::INFINITY,
                    9 => *x = f32::NEG_INFINITY,
                    13 => *x *= 40.0,
                    _ => {}
                }
            }
            let single: Vec<f64> = probe
                .chunks_exact(features)
                .map(|r| forest.score(r))
                .collect();
            for &walk in walks {
                let mut batch = vec![f64::NAN; 3];
                forest.score_into_with(&probe, &mut batch, walk);
                assert_eq!(
                    batch,
                    single,
                    "{walk:?} walk, {features} features, depth {}",
                    forest.depth()
                );
            }
            // Skipping the prefetch changes nothing but speed.
            let mut cached = Vec::new();
            forest.score_into_cached(&probe, &mut cached);
            assert_eq!(cached, single, "cached, {features} features");
        }
    }

    /// Rows with many duplicates end in constant leaves of many (depth, count) pairs: a forest with more distinct
    /// path lengths than the small-batch walk keeps in registers, so its gathered lookup is checked too.
    #[test]
    fn every_walk_matches_single_row_scores_with_many_distinct_path_lengths() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let data: Vec<f32> = (0..3000 * 3)
            .map(|_| f32::from(rng.random_range(0u8..4)))
            .collect();
        let params = ForestParams {
            trees: 40,
            subsample: 2048,
            contamination: Contamination::Auto,
        };
        let forest = IsolationForest::fit(&data, 3, params, &mut ChaCha8Rng::seed_from_u64(6));
        assert!(
            forest.path_lengths.len() > 32,
            "{} distinct path lengths",
            forest.path_lengths.len()
        );
        for rows in [1, 8, 16] {
            let probe = &data[..rows * 3];
            let single: Vec<f64> = probe.chunks_exact(3).map(|r| forest.score(r)).collect();
            for &walk in Walk::supported() {
                let mut batch = Vec::new();
                forest.score_into_with(probe, &mut batch, walk);
                assert_eq!(batch, single, "{walk:?} walk, {rows} rows");
            }
        }
    }

    /// The threshold a fit computes from path lengths gathered while growing equals the one from scoring the
    /// training rows afterwards, bit for bit: sampled and unsampled rows, all rows sampled, NaNs, duplicates, and
    /// forests shallower than their height limit.
    #[test]
    fn planned_heap_bytes_bounds_a_fitted_forest_closely() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (trees, subsample, rows) in [(50, 128, 256), (16, 64, 96), (10, 256, 300), (3, 8, 8)] {
            let data: Vec<f32> = (0..rows * 8).map(|_| rng.random::<f32>()).collect();
            let params = ForestParams {
                trees,
                subsample,
                ..ForestParams::default()
            };
            let forest = IsolationForest::fit(&data, 8, params, &mut rng);
            let planned = IsolationForest::planned_heap_bytes(trees, subsample.min(rows), 8);
            let actual = forest.heap_bytes();
            assert!(
                // The table of distinct path lengths is planned generously; a few dozen bytes on a tiny forest.
                planned >= actual && planned as f64 <= actual as f64 * 1.15 + 64.0,
                "{trees} trees, psi {subsample}: planned {planned}, fitted {actual}"
            );
        }
    }

    #[test]
    fn fitted_threshold_equals_scoring_the_training_rows_afterwards() {
        let mut duplicates = ChaCha8Rng::seed_from_u64(8);
        let repeated: Vec<f32> = (0..200 * 3)
            .map(|_| f32::from(duplicates.random_range(0u8..3)))
            .collect();
        let mut with_nans = gaussian(300, 4, 9);
        for x in with_nans.iter_mut().step_by(17) {
            *x = f32::NAN;
        }
        for (data, features, subsample, p) in [
            (gaussian(256, 8, 1), 8, 128, 0.01),
            (gaussian(300, 5, 2), 5, 256, 0.1),
            (gaussian(100, 3, 3), 3, 256, 0.05),
            (gaussian(2000, 2, 4), 2, 64, 0.2),
            (repeated, 3, 128, 0.01),
            (with_nans, 4, 100, 0.03),
            (vec![1.5; 40], 2, 16, 0.1),
        ] {
            let params = ForestParams {
                trees: 23,
                subsample,
                contamination: Contamination::Fraction(p),
            };
            let forest =
                IsolationForest::fit(&data, features, params, &mut ChaCha8Rng::seed_from_u64(5));
            let mut negated: Vec<f64> = forest.score_rows(&data).iter().map(|s| -s).collect();
            let expected = -percentile_linear(&mut negated, 100.0 * p);
            assert_eq!(
                forest.threshold().to_bits(),
                expected.to_bits(),
                "{features} features, subsample {subsample}, depth {}",
                forest.depth()
            );
        }
    }

    /// The walk of listed training rows through one tree, which a fit uses for the rows a tree did not sample,
    /// gives every walk's path lengths, in every tree, on every walk this CPU runs.
    #[test]
    fn listed_rows_walk_matches_the_single_row_walk() {
        for (features, rows, subsample) in [(8, 256, 128), (3, 500, 256), (20, 150, 64)] {
            let mut data = gaussian(rows, features, 31);
            data[7] = f32::NAN;
            let params = ForestParams {
                trees: 9,
                subsample,
                contamination: Contamination::Auto,
            };
            let forest =
                IsolationForest::fit(&data, features, params, &mut ChaCha8Rng::seed_from_u64(3));
            let mut columns = Vec::new();
            grow::feature_major(&data, features, &mut columns);
            let per_splits = (1usize << forest.depth) - 1;
            let all_codes: Vec<u32> = (0..forest.trees << forest.depth)
                .map(|i| forest.leaves.get(i) as u32)
                .collect();
            // Every row but the first, in a scrambled order.
            let listed: Vec<u32> = (1..rows as u32).map(|i| (i * 7919) % rows as u32).collect();
            let expected: Vec<f64> = data
                .chunks_exact(features)
                .map(|row| forest.total_path_length(row))
                .collect();
            for &walk in Walk::supported() {
                let mut totals = vec![0.0; rows];
                for tree in 0..forest.trees {
                    let grown = walk::FittedTree {
                        thresholds: &forest.thresholds[tree * per_splits..(tree + 1) * per_splits],
                        features: &forest.split_features,
                        first_split: tree * per_splits,
                        leaf_codes: &all_codes[tree << forest.depth..(tree + 1) << forest.depth],
                        path_lengths: &forest.path_lengths,
                        depth: forest.depth,
                    };
                    grown.add_path_lengths_with(walk, &listed, &columns, rows, &mut totals);
                }
                for &row in &listed {
                    assert_eq!(
                        totals[row as usize], expected[row as usize],
                        "{walk:?}, row {row}"
                    );
                }
                assert_eq!(totals[0], 0.0);
            }
        }
    }

    /// A forest whose leaves all stop above the height limit is laid out to its deepest leaf.
    #[test]
    fn layout_stops_at_the_deepest_leaf() {
        let params = ForestParams {
            trees: 5,
            subsample: 256,
            contamination: Contamination::Auto,
        };
        let constant =
            IsolationForest::fit(&[2.0; 64], 4, params, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!((constant.depth(), constant.node_count()), (0, 0));
        assert_eq!(
            constant.mean_path_length(&[2.0; 4]),
            average_path_length(16)
        );
        // Two distinct rows: every tree splits once at the root.
        let two = [0.0, 0.0, 1.0, 1.0].repeat(8);
        let forest = IsolationForest::fit(&two, 2, params, &mut ChaCha8Rng::seed_from_u64(2));
        assert_eq!(forest.depth(), 1);
        assert_eq!(forest.real_split_count(), 5);
        assert_eq!(
            forest.mean_path_length(&[0.0, 0.0]),
            1.0 + average_path_length(8)
        );
    }

    #[test]
    fn f32_thresholds_keep_f64_comparisons_exact() {
        for t in [0.1f64, -0.3, 1.0 / 3.0, 12_345.678_9, 0.0, -1e-30] {
            let r = f32_at_or_below(t);
            assert!(f64::from(r) <= t);
            assert!(f64::from(r.next_up()) > t);
        }
    }

    /// The branch-free rounding gives what rounding and stepping down with `next_down` gives, bit for bit: both
    /// signs, zeros, subnormals, the f32 range's ends and beyond.
    #[test]
    fn f32_at_or_below_equals_rounding_then_stepping_down() {
        let reference = |t: f64| {
            let r = t as f32;
            if f64::from(r) > t { r.next_down() } else { r }
        };
        let mut rng = ChaCha8Rng::seed_from_u64(17);
        let mut cases = vec![
            0.0,
            -0.0,
            1e-46,
            -1e-46,
            1e-40,
            -1e-40,
            f64::from(f32::MAX) * 1.5,
            -f64::from(f32::MAX) * 1.5,
            f64::from(f32::MIN_POSITIVE),
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        cases.extend((0..100_000).map(|_| {
            let magnitude = 10f64.powf(rng.random_range(-44.0..39.0));
            if rng.random::<bool>() {
                magnitude
            } else {
                -magnitude
            }
        }));
        for t in cases {
            assert_eq!(
                f32_at_or_below(t).to_bits(),
                reference(t).to_bits(),
                "{t:e}"
            );
        }
        assert!(f32_at_or_below(f64::NAN).is_nan());
    }

    #[test]
    fn c_matches_the_paper() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) from scikit-learn's _average_path_length([256]).
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
    }

    #[test]
    fn outliers_score_higher_than_inliers() {
        let data = gaussian(512, 4, 1);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let forest = IsolationForest::fit(&data, 4, ForestParams::default(), &mut rng);
        let inlier = forest.score(&[0.0, 0.0, 0.0, 0.0]);
        let outlier = forest.score(&[6.0, -6.0, 6.0, 0.0]);
        assert!(outlier > 0.6, "outlier scored {outlier}");
        assert!(inlier < 0.5, "inlier scored {inlier}");
        assert!(forest.is_anomaly(&[6.0, -6.0, 6.0, 0.0]));
    }

    #[test]
    fn fitting_is_deterministic_per_seed() {
        let data = gaussian(300, 3, 2);
        let a = IsolationForest::fit(
            &data,
            3,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let b = IsolationForest::fit(
            &data,
            3,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(3),
        );
        let c = IsolationForest::fit(
            &data,
            3,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(4),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn height_is_limited_and_subsample_clamped() {
        let data = gaussian(40, 2, 5);
        let forest = IsolationForest::fit(
            &data,
            2,
            ForestParams {
                trees: 10,
                subsample: 256,
                contamination: Contamination::Auto,
            },
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert_eq!(forest.max_samples(), 40);
        // ceil(log2 40) = 6: a full tree of height 6 has at most 127 nodes.
        assert!(forest.node_count() <= 10 * 127);
    }

    #[test]
    fn contamination_sets_the_flagged_fraction_of_training_rows() {
        let data = gaussian(1000, 5, 9);
        let params = ForestParams {
            trees: 50,
            subsample: 256,
            contamination: Contamination::Fraction(0.1),
        };
        let forest = IsolationForest::fit(&data, 5, params, &mut ChaCha8Rng::seed_from_u64(1));
        let flagged = data
            .chunks_exact(5)
            .filter(|r| forest.is_anomaly(r))
            .count();
        assert!((95..=105).contains(&flagged), "flagged {flagged} of 1000");
    }

    #[test]
    fn constant_data_gives_leaves_only() {
        let data = vec![1.0f32; 20];
        let forest = IsolationForest::fit(
            &data,
            2,
            ForestParams::default(),
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert_eq!((forest.depth(), forest.node_count()), (0, 0));
        // No split: every row gets c(10) from each root leaf.
        assert!((forest.score(&[5.0, -5.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile_linear(&mut v, 50.0), 2.5);
        // Against sorting, at many ranks, with ties, signed zeros and both signs.
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let values: Vec<f64> = (0..257)
            .map(|i| match i % 9 {
                0 => 0.0,
                1 => -0.0,
                2 => 0.75,
                _ => rng.sample::<f64, _>(StandardNormal),
            })
            .collect();
        for q in [0.0, 0.5, 1.0, 12.5, 33.3, 50.0, 99.0, 99.99, 100.0] {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let rank = q / 100.0 * (sorted.len() - 1) as f64;
            let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
            let expected = sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64);
            let mut shuffled = values.clone();
            assert_eq!(
                percentile_linear(&mut shuffled, q).to_bits(),
                expected.to_bits(),
                "q {q}"
            );
        }
        assert_eq!(percentile_linear(&mut v, 0.0), 1.0);
        assert_eq!(percentile_linear(&mut v, 100.0), 4.0);
    }
}
