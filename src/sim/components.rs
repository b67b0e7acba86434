//! The data each agent carries. Components are plain data; the logic that reads them lives in the stage files as
//! plain functions, so it can be unit-tested without an `App`.

use std::collections::{BTreeMap, VecDeque};

use bevy::prelude::*;
use rand::rngs::ChaCha8Rng;

use crate::config::ByzantineStrategy;
use crate::ml::IsolationForest;
use crate::ml::similarity::{RunningStats, SignatureBlock, scaled_distance};

pub use crate::model::{AgentIdx, Ballot, Cast, Features, Label, NORMAL, SigIdx};

/// Marks an entity as an agent and gives its stable index.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Agent {
    pub index: AgentIdx,
}

/// Honest, or byzantine with a strategy.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Honest,
    Byzantine(ByzantineStrategy),
}

impl Role {
    pub fn is_honest(self) -> bool {
        self == Role::Honest
    }
    pub fn forges(self) -> bool {
        matches!(
            self,
            Role::Byzantine(ByzantineStrategy::Forge | ByzantineStrategy::Collude)
        )
    }
}

/// Up, crashed (silent) from a tick on, or not there yet (a Sybil identity before its attacker brings it in).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    Up,
    Crashed { since: u32 },
    Absent,
}

impl Liveness {
    pub fn is_up(self) -> bool {
        self == Liveness::Up
    }
}

/// The agent's own random stream, seeded from (run seed, agent index).
#[derive(Component, Debug)]
pub struct AgentRng(pub ChaCha8Rng);

/// The agent's normal traffic: per-feature mean and standard deviation.
#[derive(Component, Clone, Debug)]
pub struct NormalProfile {
    pub mean: Features,
    pub std: Features,
}

/// This tick's samples and their ground-truth labels.
#[derive(Component, Clone, Debug, Default)]
pub struct TrafficBatch {
    pub samples: Vec<Features>,
    pub labels: Vec<Label>,
    /// Indices into `samples` that the forest flagged this tick.
    pub anomalies: Vec<u32>,
    /// The forest's score of each sample (reused buffer).
    pub scores: Vec<f64>,
}

/// The agent's Isolation Forest and the window of traffic it retrains on.
#[derive(Component, Clone, Debug)]
pub struct Detector {
    pub forest: Option<IsolationForest>,
    /// Recent samples that were not blocked, oldest first.
    pub window: TrainingWindow,
    pub last_fit_tick: Option<u32>,
}

/// An agent's latest samples, oldest first, each with how much of the blacklist it is known not to match.
///
/// Detect lets a sample in only when the blacklist did not block it, and a blacklist only grows, so retraining
/// checks each sample against the signatures accepted since it came in rather than against the whole list: the same
/// rows, at a fraction of the cost once a blacklist holds many signatures.
#[derive(Clone, Debug, Default)]
pub struct TrainingWindow {
    samples: VecDeque<Features>,
    /// Runs of consecutive samples, oldest first: (how many, how many of the blacklist's first signatures each was
    /// checked against when it came in). A run starts only where that count changes, so there are few.
    checked: VecDeque<(u32, u32)>,
}

impl TrainingWindow {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            samples: VecDeque::with_capacity(capacity),
            checked: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Features> {
        self.samples.iter()
    }

    /// Adds `sample`, found not to match the first `checked` signatures of the agent's blacklist (0 for a sample
    /// no one checked), dropping the oldest sample if the window already holds `capacity`.
    pub fn push(&mut self, sample: Features, checked: usize, capacity: usize) {
        if self.samples.len() >= capacity && self.samples.pop_front().is_some() {
            let oldest = self
                .checked
                .front_mut()
                .expect("the runs cover every sample");
            oldest.0 -= 1;
            if oldest.0 == 0 {
                self.checked.pop_front();
            }
        }
        self.samples.push_back(sample);
        let checked = checked as u32;
        match self.checked.back_mut() {
            Some((count, against)) if *against == checked => *count += 1,
            _ => self.checked.push_back((1, checked)),
        }
    }

    /// Appends to `rows`, row-major and oldest first, every sample `blacklist` does not block: exactly the samples
    /// for which `blacklist.blocks` is false.
    pub fn append_unblocked(&self, blacklist: &Blacklist, radius: f32, rows: &mut Vec<f32>) {
        let mut samples = self.samples.iter();
        for &(count, against) in &self.checked {
            for sample in samples.by_ref().take(count as usize) {
                if !blacklist.blocks_from(sample, against as usize, radius) {
                    rows.extend_from_slice(sample);
                }
            }
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * size_of::<Features>()
            + self.checked.capacity() * size_of::<(u32, u32)>()
    }
}

impl Detector {
    pub fn threshold(&self) -> Option<f64> {
        self.forest.as_ref().map(|f| f.threshold())
    }
}

/// A summarised threat pattern: the unit that is gossiped, voted on and blacklisted.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// Stable id: hash of the quantised centroid.
    pub id: u64,
    pub centroid: Features,
    pub spread: Features,
    pub count: u32,
    pub origin: AgentIdx,
    pub tick: u32,
    /// Ground truth (majority label of the supporting samples); read by metrics only.
    pub truth: Label,
}

impl Signature {
    pub fn matches(&self, sample: &Features, radius: f32, min_spread: f32) -> bool {
        scaled_distance(sample, &self.centroid, &self.spread, min_spread) <= radius
    }
}

/// Accepted signatures this agent blocks.
#[derive(Component, Clone, Debug)]
pub struct Blacklist {
    pub entries: Vec<SigIdx>,
    /// The signatures of `entries`, in the same order.
    signatures: Vec<Signature>,
    /// The same signatures laid out for matching, `SignatureBlock::LANES` to a block.
    match_blocks: Vec<SignatureBlock>,
    /// `signatures.min_spread`: the floor under each signature's spreads when it matches.
    min_spread: f32,
    /// Bit c is set when the blacklist blocks campaign c's traffic (kept current in Learn).
    pub immune_to: u64,
    /// The list changed since `immune_to` was computed.
    pub immunity_stale: bool,
    /// Some signature was made from normal traffic (ground truth): kept on insert, because Metrics asks of every
    /// agent every tick and scanning the signatures cost as much as the rest of Metrics.
    holds_false_signature: bool,
}

impl Blacklist {
    /// An empty list whose signatures will match with spreads floored at `min_spread`: the run's
    /// `signatures.min_spread`.
    pub fn new(min_spread: f32) -> Self {
        Self {
            entries: Vec::new(),
            signatures: Vec::new(),
            match_blocks: Vec::new(),
            min_spread,
            immune_to: 0,
            immunity_stale: false,
            holds_false_signature: false,
        }
    }

    /// Whether some signature was made from normal traffic (its ground-truth label is `NORMAL`).
    pub fn holds_false_signature(&self) -> bool {
        self.holds_false_signature
    }

    /// Whether any signature matches `sample` (`Signature::matches`, with the list's spread floor).
    pub fn blocks(&self, sample: &Features, radius: f32) -> bool {
        self.blocks_from(sample, 0, radius)
    }

    /// Whether any signature from the `first`-th on matches `sample`.
    pub fn blocks_from(&self, sample: &Features, first: usize, radius: f32) -> bool {
        let first_block = first / SignatureBlock::LANES;
        self.match_blocks
            .iter()
            .enumerate()
            .skip(first_block)
            .any(|(b, block)| {
                let skipped = if b == first_block {
                    first % SignatureBlock::LANES
                } else {
                    0
                };
                block.matching_lanes(sample, radius) >> skipped != 0
            })
    }

    /// Starts loading what `blocks` reads, for a caller with other work to do first.
    pub fn prefetch(&self) {
        self.match_blocks.iter().for_each(SignatureBlock::prefetch);
    }

    /// The accepted signatures, in the order they were accepted.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    pub fn contains(&self, sig: SigIdx) -> bool {
        self.entries.contains(&sig)
    }

    /// Adds an accepted signature once; returns whether it was new.
    pub fn insert(&mut self, sig: SigIdx, signature: &Signature) -> bool {
        if self.contains(sig) {
            return false;
        }
        let lane = self.signatures.len() % SignatureBlock::LANES;
        if lane == 0 {
            self.match_blocks.push(SignatureBlock::EMPTY);
        }
        self.match_blocks
            .last_mut()
            .expect("a block holds this lane")
            .set(
                lane,
                &signature.centroid,
                &signature.spread,
                self.min_spread,
            );
        self.entries.push(sig);
        self.signatures.push(signature.clone());
        self.holds_false_signature |= signature.truth == NORMAL;
        self.immunity_stale = true;
        true
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * size_of::<SigIdx>()
            + self.signatures.capacity() * size_of::<Signature>()
            + self.match_blocks.capacity() * size_of::<SignatureBlock>()
    }
}

/// What this agent knows about one signature.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KnownSignature {
    /// Neighbour it first heard of the signature from; ballots travel back this way. None at the origin.
    pub parent: Option<AgentIdx>,
    pub my_vote: Option<bool>,
    pub decided: bool,
}

/// Ballots collected by a tallier for one signature.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub opened: u32,
    /// In arrival order.
    pub ballots: Vec<Ballot>,
    /// Bit v is set once voter v's ballot is in: a tally of 100,000 agents checks each arrival in constant time.
    voted: Vec<u64>,
}

impl Tally {
    /// A tally opened at `opened` with `ballots` already in.
    pub fn new(opened: u32, ballots: Vec<Ballot>) -> Self {
        let mut tally = Self {
            opened,
            ballots: Vec::with_capacity(ballots.len()),
            voted: Vec::new(),
        };
        for ballot in ballots {
            tally.add(ballot);
        }
        tally
    }

    /// Adds a voter's first ballot; a second one from the same voter is ignored.
    pub fn add(&mut self, ballot: Ballot) {
        let (word, bit) = (ballot.voter as usize / 64, ballot.voter % 64);
        if self.voted.len() <= word {
            self.voted.resize(word + 1, 0);
        }
        if self.voted[word] & (1 << bit) == 0 {
            self.voted[word] |= 1 << bit;
            self.ballots.push(ballot);
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.ballots.capacity() * std::mem::size_of::<Ballot>() + self.voted.capacity() * 8
    }
}

/// One agent's Snowball instance for one signature (the `snowball` rule): its preference, the confidence each
/// value has earned, the streak of consecutive successful rounds, and the round in progress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SnowballState {
    pub preference: bool,
    /// Successful rounds for no (0) and yes (1).
    pub confidence: [u32; 2],
    /// The value of the latest successful round, and how many successful rounds in a row it has had.
    pub last: bool,
    pub streak: u32,
    /// The tick the current round's queries were sent; None between rounds.
    pub asked_at: Option<u32>,
    /// Answers to the current round, one per peer asked.
    pub answers: Vec<Ballot>,
    /// The value this agent decided; it keeps answering with it until the instance is dropped.
    pub decided: Option<bool>,
}

/// Signatures the agent has heard of, ballots it cast, and the tallies it runs as a proposer.
#[derive(Component, Clone, Debug, Default)]
pub struct VoteBook {
    /// The signatures this agent knows of that can still matter to it: entries are added through [`VoteBook::learn`]
    /// and [`VoteBook::entry`], and forgotten once nothing about the signature is left to arrive
    /// (`sim::retention`).
    pub known: BTreeMap<SigIdx, KnownSignature>,
    /// How many signatures this agent has ever heard of (forgotten ones included).
    pub heard: u32,
    pub tallies: BTreeMap<SigIdx, Tally>,
    /// Snowball instances (the `snowball` rule), dropped once their signature is past its voting window twice over.
    pub snowball: BTreeMap<SigIdx, SnowballState>,
    /// Latest ballots this agent cast, newest last (for the inspector).
    pub recent_ballots: VecDeque<(SigIdx, bool)>,
}

impl VoteBook {
    /// Records a signature heard of for the first time.
    pub fn learn(&mut self, sig: SigIdx, known: KnownSignature) {
        if self.known.insert(sig, known).is_none() {
            self.heard += 1;
        }
    }

    /// The entry of `sig`, made blank if the agent had not heard of it.
    pub fn entry(&mut self, sig: SigIdx) -> &mut KnownSignature {
        let heard = &mut self.heard;
        self.known.entry(sig).or_insert_with(|| {
            *heard += 1;
            KnownSignature::default()
        })
    }
}

/// Beta trust: agreement (alpha) and disagreement (beta) of this agent's ballots with final outcomes.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct Reputation {
    pub alpha: f64,
    pub beta: f64,
}

impl Default for Reputation {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            beta: 1.0,
        }
    }
}

impl Reputation {
    pub fn trust(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// One more ballot judged against the certified outcome. Under the Dirichlet model the evidence so far (not
    /// the uniform prior of one each) is first discounted by the forgetting factor: with two satisfaction levels,
    /// agreeing and disagreeing, Fung et al.'s Dirichlet trust is this Beta with exponential forgetting.
    pub fn record(&mut self, agreed: bool, model: crate::config::TrustModel) {
        if let crate::config::TrustModel::Dirichlet { forgetting } = model {
            self.alpha = 1.0 + forgetting * (self.alpha - 1.0);
            self.beta = 1.0 + forgetting * (self.beta - 1.0);
        }
        if agreed {
            self.alpha += 1.0;
        } else {
            self.beta += 1.0;
        }
    }
}

/// The agent's recent anomalies (its evidence when voting) and the clusters it is building signatures from.
#[derive(Component, Clone, Debug, Default)]
pub struct Evidence {
    pub recent: VecDeque<Features>,
    pub clusters: Vec<AnomalyCluster>,
    /// Earliest tick at which the agent may propose again.
    pub next_proposal: u32,
}

/// Anomalies that point the same way, on their way to becoming a signature.
#[derive(Clone, Debug)]
pub struct AnomalyCluster {
    pub stats: RunningStats,
    pub label_counts: Vec<u32>,
    pub last_tick: u32,
}

/// A message waiting to leave the agent, with the tick it was made at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outgoing {
    pub made_at: u32,
    pub to: Destination,
    pub payload: Payload,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// All neighbours (or a fan-out sample of them), except the one it came from.
    Neighbours {
        except: Option<AgentIdx>,
    },
    One(AgentIdx),
}

/// What a message carries. Signatures travel by index: their content lives in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Payload {
    Announce {
        sig: SigIdx,
        ttl: u32,
    },
    Ballot {
        sig: SigIdx,
        voter: AgentIdx,
        yes: bool,
    },
    /// A published decision on `sig`, with the verdict every honest receiver would reach by checking its
    /// certificate (a pure function of public data, so it is computed once, at publication): whether it is a
    /// certified acceptance.
    Decision {
        sig: SigIdx,
        certified_acceptance: bool,
        ttl: u32,
    },
    /// Snowball: "what do you prefer for this signature?", sent straight to a sampled peer.
    Query {
        sig: SigIdx,
    },
    /// Snowball: a peer's answer to a query.
    Answer {
        sig: SigIdx,
        voter: AgentIdx,
        yes: bool,
    },
}

impl Payload {
    /// The signature the message is about.
    pub fn sig(&self) -> SigIdx {
        match *self {
            Payload::Announce { sig, .. }
            | Payload::Ballot { sig, .. }
            | Payload::Decision { sig, .. }
            | Payload::Query { sig }
            | Payload::Answer { sig, .. } => sig,
        }
    }
}

/// A signature this agent wants to publish this tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub centroid: Features,
    pub spread: Features,
    pub count: u32,
    pub truth: Label,
}

/// A tallier's verdict with the ballots that justify it.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionDraft {
    pub sig: SigIdx,
    pub outcome: super::consensus::Outcome,
    pub certificate: Vec<Ballot>,
}

/// Everything the agent produced this tick, drained in agent order by the serial stages.
#[derive(Component, Clone, Debug, Default)]
pub struct Outbox {
    pub messages: Vec<Outgoing>,
    pub proposal: Option<Proposal>,
    /// Ballots cast this tick: (signature, yes).
    pub cast: Vec<(SigIdx, bool)>,
    pub decisions: Vec<DecisionDraft>,
}

/// Messages delivered to the agent this tick, in delivery order.
#[derive(Component, Clone, Debug, Default)]
pub struct Inbox {
    pub messages: Vec<(AgentIdx, Payload)>,
}

/// Per-tick counts against ground truth, reset in Traffic.
#[derive(Component, Clone, Debug, Default, PartialEq, Eq)]
pub struct TickCounts {
    /// Forest flagged an attack sample the blacklist let through.
    pub true_positive: u32,
    /// Forest flagged a normal sample the blacklist let through.
    pub false_positive: u32,
    /// Forest missed an attack sample the blacklist let through.
    pub false_negative: u32,
    /// Forest passed a normal sample the blacklist let through.
    pub true_negative: u32,
    pub attack_blocked: u32,
    pub normal_blocked: u32,
    /// Attack samples the blacklist let through, flagged by the forest or not (the agent was compromised this tick
    /// if > 0).
    pub attack_through: u32,
    pub attack_samples: u32,
    /// Per campaign: this tick's samples of it and how many the blacklist blocked.
    pub by_campaign: Vec<CampaignCounts>,
}

/// One campaign's samples at one agent in one tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CampaignCounts {
    pub samples: u32,
    pub blocked: u32,
    /// Past the blacklist and flagged by the forest.
    pub flagged: u32,
}

impl CampaignCounts {
    pub fn through(&self) -> u32 {
        self.samples - self.blocked
    }
}

impl TickCounts {
    /// Zeroes every count for a new tick, keeping the per-campaign buffer.
    pub fn reset(&mut self, campaigns: usize) {
        let mut by_campaign = std::mem::take(&mut self.by_campaign);
        by_campaign.clear();
        by_campaign.resize(campaigns, CampaignCounts::default());
        *self = TickCounts {
            by_campaign,
            ..Default::default()
        };
    }

    /// Whether campaign `c`'s traffic got past the blacklist this tick.
    pub fn leaked(&self, c: usize) -> bool {
        self.by_campaign.get(c).is_some_and(|k| k.through() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrustModel;

    /// Matching a block of signatures at once answers as `Signature::matches` one signature at a time does, from
    /// any starting signature: near, far and exactly-on-the-radius samples (where the quick estimate cannot decide),
    /// the centroid itself, NaN and infinite values, spreads under the floor and zero, and radii down to zero.
    #[test]
    fn block_matching_answers_as_each_signature_does() {
        use crate::config::FEATURE_COUNT;
        use rand::{RngExt, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let min_spread = 0.25;
        let signatures: Vec<Signature> = (0..19u64)
            .map(|id| Signature {
                id,
                centroid: std::array::from_fn(|_| rng.random_range(-3.0..3.0)),
                spread: std::array::from_fn(|f| match (id + f as u64) % 5 {
                    0 => 0.0,
                    1 => 0.1,
                    _ => rng.random_range(0.2..2.0),
                }),
                count: 6,
                origin: 0,
                tick: 1,
                truth: 1,
            })
            .collect();
        let (mut matched, mut on_the_radius) = (0, 0);
        for radius in [2.5f32, 0.7, 0.0, 1e-20] {
            let mut blacklist = Blacklist::new(min_spread);
            for (sig, signature) in signatures.iter().enumerate() {
                blacklist.insert(sig as SigIdx, signature);
                for kind in 0..600 {
                    let centroid = signature.centroid;
                    let mut sample: Features = match kind % 4 {
                        0 => std::array::from_fn(|f| centroid[f] + rng.random_range(-1.5..1.5)),
                        1 => std::array::from_fn(|_| rng.random_range(-6.0..6.0)),
                        2 => {
                            // On the radius, give or take a few units in the last place.
                            let direction: Features =
                                std::array::from_fn(|_| rng.random_range(-1.0..1.0));
                            let unit = scaled_distance(
                                &direction,
                                &[0.0; 8],
                                &signature.spread,
                                min_spread,
                            );
                            let scale = radius / unit * (1.0 + rng.random_range(-3e-7..3e-7));
                            std::array::from_fn(|f| centroid[f] + direction[f] * scale)
                        }
                        _ => centroid,
                    };
                    match kind % 53 {
                        0 => sample[kind % FEATURE_COUNT] = f32::NAN,
                        1 => sample[kind % FEATURE_COUNT] = f32::INFINITY,
                        _ => {}
                    }
                    if radius > 0.0 {
                        let relative =
                            scaled_distance(&sample, &centroid, &signature.spread, min_spread)
                                / radius;
                        on_the_radius += usize::from((relative - 1.0).abs() < 1e-3);
                    }
                    for first in 0..=blacklist.signatures().len() {
                        let expected = blacklist.signatures()[first..]
                            .iter()
                            .any(|s| s.matches(&sample, radius, min_spread));
                        assert_eq!(
                            blacklist.blocks_from(&sample, first, radius),
                            expected,
                            "{sample:?} from signature {first}, radius {radius}"
                        );
                        matched += usize::from(expected);
                    }
                }
            }
        }
        assert!(
            matched > 10_000 && on_the_radius > 1_000,
            "{matched} matches, {on_the_radius} on the radius"
        );
    }

    /// Retraining's rows from the window are exactly the samples the whole blacklist does not block: samples checked
    /// against part of the list as they came in, planted samples checked against nothing, signatures added after,
    /// and samples evicted past the capacity.
    #[test]
    fn a_window_yields_the_rows_the_whole_blacklist_lets_through() {
        let sample_at = |step: u32| -> Features {
            std::array::from_fn(|f| (step as f32 * 0.37 + f as f32) % 12.0)
        };
        // A signature centred on step k's sample blocks the samples of about k - 6 to k + 6.
        let signature = |id: u64, centroid: Features| Signature {
            id,
            centroid,
            spread: [1.0; 8],
            count: 6,
            origin: 0,
            tick: 1,
            truth: 1,
        };
        let (radius, min_spread) = (2.5, 0.25);
        let mut blacklist = Blacklist::new(min_spread);
        let mut window = TrainingWindow::default();
        let capacity = 40;
        let mut dropped_some = false;
        for step in 0..120u32 {
            if step % 25 == 10 {
                let id = u64::from(step);
                // Centred a little ahead: it blocks samples already in the window and samples to come.
                blacklist.insert(id as SigIdx, &signature(id, sample_at(step + 3)));
            }
            let sample = sample_at(step);
            if step % 7 == 3 {
                // Planted without a check, as a poisoner does.
                window.push(sample, 0, capacity);
            } else if !blacklist.blocks(&sample, radius) {
                window.push(sample, blacklist.signatures().len(), capacity);
            }
            let mut rows = Vec::new();
            window.append_unblocked(&blacklist, radius, &mut rows);
            let expected: Vec<f32> = window
                .iter()
                .filter(|s| !blacklist.blocks(s, radius))
                .flatten()
                .copied()
                .collect();
            assert_eq!(rows, expected, "after step {step}");
            assert!(window.len() <= capacity);
            dropped_some |= rows.len() < window.len() * 8;
        }
        assert!(blacklist.signatures().len() >= 4 && dropped_some);
    }

    #[test]
    fn a_blacklist_knows_when_it_holds_a_signature_of_normal_traffic() {
        let signature = |id: u64, truth: Label| Signature {
            id,
            centroid: [id as f32; 8],
            spread: [1.0; 8],
            count: 6,
            origin: 0,
            tick: 1,
            truth,
        };
        let mut blacklist = Blacklist::new(0.25);
        for (id, truth) in [(1, 1), (2, 2), (3, NORMAL), (4, 1)] {
            blacklist.insert(id as SigIdx, &signature(id, truth));
            let scanned = blacklist.signatures().iter().any(|s| s.truth == NORMAL);
            assert_eq!(blacklist.holds_false_signature(), scanned, "after {id}");
        }
        assert!(blacklist.holds_false_signature());
    }

    /// Disagreements it takes an agent with `history` agreements behind it to fall below even trust.
    fn to_fall_below_half(history: u32, model: TrustModel) -> u32 {
        let mut reputation = Reputation::default();
        for _ in 0..history {
            reputation.record(true, model);
        }
        (1..=10_000)
            .find(|_| {
                reputation.record(false, model);
                reputation.trust() < 0.5
            })
            .expect("falls eventually")
    }

    #[test]
    fn forgetting_makes_trust_follow_recent_ballots() {
        // Beta remembers everything: 100 good ballots take 101 bad ones to undo.
        assert_eq!(to_fall_below_half(100, TrustModel::Beta), 101);
        // With a forgetting factor of 0.9 the old record fades: a handful of bad ballots is enough, however long
        // the good record.
        let dirichlet = TrustModel::Dirichlet { forgetting: 0.9 };
        let fall = to_fall_below_half(100, dirichlet);
        assert!(fall <= 8, "{fall}");
        assert_eq!(fall, to_fall_below_half(1_000, dirichlet));
        // A factor of 1 forgets nothing: the Beta model.
        assert_eq!(
            to_fall_below_half(100, TrustModel::Dirichlet { forgetting: 1.0 }),
            101
        );
    }
}
