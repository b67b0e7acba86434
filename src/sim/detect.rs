//! Detect: each live agent first drops the samples its blacklist blocks, then scores the rest with its own
//! Isolation Forest. Scores past the agent's threshold are anomalies; they become evidence for voting and raw
//! material for signatures. Every unblocked sample feeds the training window. Ground-truth labels are read here
//! only to fill the agent's `TickCounts`, which nothing but metrics reads.

use bevy::prelude::*;

use super::components::*;
use super::{Pipeline, SimSettings};
use crate::config::SimConfig;
use crate::ml::IsolationForest;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(FixedUpdate, score_traffic.in_set(Pipeline::Detect));
}

/// All agents' forests together up to this size are taken to stay in cache from tick to tick: the L2 of one core
/// of the machines DAIS is measured on (2 MiB).
const CACHED_FORESTS_BYTES: usize = 2 << 20;

/// Whether every agent's forest stays in a core's cache from one tick to the next, so prefetching one only costs;
/// a large population's forests were evicted by the others since the agent's last turn. Every forest has the
/// detector's shape, so this is decided once a tick, not per agent.
pub fn forests_stay_cached(config: &SimConfig) -> bool {
    let d = &config.detector;
    let forest =
        IsolationForest::planned_heap_bytes(d.trees, d.subsample, crate::config::FEATURE_COUNT);
    config.population() * forest <= CACHED_FORESTS_BYTES
}

/// Blocks, scores and sorts one agent's batch; `forests_cached` is `forests_stay_cached` for the run.
pub fn detect_batch(
    config: &SimConfig,
    forests_cached: bool,
    batch: &mut TrafficBatch,
    detector: &mut Detector,
    blacklist: &Blacklist,
    evidence: &mut Evidence,
    counts: &mut TickCounts,
) {
    let radius = config.signatures.match_radius;
    let window = config.detector.window;
    batch.anomalies.clear();
    // The blacklist is read cold (once a tick per agent); scoring hides the wait.
    blacklist.prefetch();
    // Score the whole batch at once (the forest interleaves rows); blocked samples' scores are simply unused.
    match &detector.forest {
        Some(forest) if forests_cached => {
            forest.score_into_cached(batch.samples.as_flattened(), &mut batch.scores)
        }
        Some(forest) => forest.score_into(batch.samples.as_flattened(), &mut batch.scores),
        None => batch.scores.clear(),
    }
    let threshold = detector.threshold().unwrap_or(f64::INFINITY);
    for (i, (sample, &label)) in batch.samples.iter().zip(&batch.labels).enumerate() {
        let attack = label != NORMAL;
        counts.attack_samples += u32::from(attack);
        let campaign = (label as usize).checked_sub(1);
        if let Some(c) = campaign
            && c >= counts.by_campaign.len()
        {
            counts.by_campaign.resize(c + 1, CampaignCounts::default());
        }
        if let Some(c) = campaign {
            counts.by_campaign[c].samples += 1;
        }
        if blacklist.blocks(sample, radius) {
            if let Some(c) = campaign {
                counts.by_campaign[c].blocked += 1;
            }
            if attack {
                counts.attack_blocked += 1;
            } else {
                counts.normal_blocked += 1;
            }
            continue;
        }
        counts.attack_through += u32::from(attack);
        let flagged = batch.scores.get(i).is_some_and(|&score| score > threshold);
        if flagged && let Some(c) = campaign {
            counts.by_campaign[c].flagged += 1;
        }
        match (flagged, attack) {
            (true, true) => counts.true_positive += 1,
            (true, false) => counts.false_positive += 1,
            (false, true) => counts.false_negative += 1,
            (false, false) => counts.true_negative += 1,
        }
        if flagged {
            batch.anomalies.push(i as u32);
            if evidence.recent.len() == config.vote.evidence_memory {
                evidence.recent.pop_front();
            }
            evidence.recent.push_back(*sample);
        }
        // Flagged samples stay in the window: the contamination threshold expects the training set to hold some
        // anomalies, and trimming them at every retrain would shrink the model's idea of normal until ordinary
        // traffic looks anomalous. Attack traffic leaves the window through the blacklist instead.
        detector
            .window
            .push(*sample, blacklist.signatures().len(), window);
    }
}

fn score_traffic(
    settings: Res<SimSettings>,
    mut agents: Query<(
        &Liveness,
        &mut TrafficBatch,
        &mut Detector,
        &Blacklist,
        &mut Evidence,
        &mut TickCounts,
    )>,
) {
    let config = &settings.config;
    let forests_cached = forests_stay_cached(config);
    agents
        .par_iter_mut()
        .batching_strategy(super::agent_batches())
        .for_each(
            |(liveness, mut batch, mut detector, blacklist, mut evidence, mut counts)| {
                if liveness.is_up() {
                    detect_batch(
                        config,
                        forests_cached,
                        &mut batch,
                        &mut detector,
                        blacklist,
                        &mut evidence,
                        &mut counts,
                    );
                }
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::{ForestParams, IsolationForest};
    use crate::sim::rng::agent_rng;
    use crate::sim::traffic::draw_profile;

    #[test]
    fn blocked_samples_are_not_scored_and_anomalies_are_counted() {
        let config = SimConfig::default();
        let mut rng = agent_rng(3, 0);
        let profile = draw_profile(&mut rng, 0.0);
        let mut batch = TrafficBatch::default();
        crate::sim::traffic::fill_batch(&mut batch, &profile, &[], &[], 512, 0.5, &mut rng);
        let flat: Vec<f32> = batch.samples.iter().flatten().copied().collect();
        let forest = IsolationForest::fit(&flat, 8, ForestParams::default(), &mut rng);
        let mut detector = Detector {
            forest: Some(forest),
            window: Default::default(),
            last_fit_tick: None,
        };
        let attack: Features = [0.0, 0.0, 0.0, 0.0, 6.0, 6.0, 0.0, 6.0];
        let normal: Features = [0.0; 8];
        let mut batch = TrafficBatch {
            samples: vec![attack, normal, attack],
            labels: vec![1, 0, 1],
            ..Default::default()
        };
        let mut blacklist = Blacklist::new(config.signatures.min_spread);
        let (mut evidence, mut counts) = (Evidence::default(), TickCounts::default());
        detect_batch(
            &config,
            false,
            &mut batch,
            &mut detector,
            &blacklist,
            &mut evidence,
            &mut counts,
        );
        assert_eq!(
            (
                counts.true_positive,
                counts.true_negative,
                counts.attack_through
            ),
            (2, 1, 2)
        );
        assert_eq!(batch.anomalies, vec![0, 2]);
        assert_eq!(evidence.recent.len(), 2);
        assert_eq!(detector.window.len(), 3);

        blacklist.insert(
            1,
            &Signature {
                id: 1,
                centroid: attack,
                spread: [0.5; 8],
                count: 5,
                origin: 0,
                tick: 1,
                truth: 1,
            },
        );
        let mut counts = TickCounts::default();
        detect_batch(
            &config,
            false,
            &mut batch,
            &mut detector,
            &blacklist,
            &mut evidence,
            &mut counts,
        );
        assert_eq!(
            (
                counts.attack_blocked,
                counts.attack_through,
                counts.true_negative
            ),
            (2, 0, 1)
        );
    }
}
