//! Sign: an agent's anomalies are clustered by direction (cosine similarity); a cluster with enough support that is
//! not a near-duplicate of a signature the agent already knows becomes a proposal: centroid, spread, count, origin,
//! tick and a stable id (hash of the quantised centroid). Byzantine forgers instead publish signatures made from
//! their normal traffic. Proposals are then registered in agent order and announced to the proposer's neighbours.

use bevy::ecs::query::QueryData;
use bevy::prelude::*;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::StandardNormal;
use sha2::{Digest, Sha256};

use super::components::*;
use super::consensus::Outcome;
use super::network::Network;
use super::{Pipeline, SimSettings, TickEvents};
use crate::config::{ConsensusRule, SimConfig};
use crate::ml::similarity::{RunningStats, cosine};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<SignatureRegistry>();
    app.add_systems(
        FixedUpdate,
        (build_signatures, publish_proposals)
            .chain()
            .in_set(Pipeline::Sign),
    );
}

/// Clusters an agent keeps at once; the stalest is dropped for a new direction.
const MAX_CLUSTERS: usize = 8;
/// A forger publishes on average once per this many cooldowns.
const FORGERY_RARITY: u32 = 3;
/// Quantisation step of the centroid when hashing the stable id, in standard deviations.
const ID_QUANTUM: f32 = 0.25;

/// Every signature ever proposed, with what became of it. Messages refer to signatures by index here.
#[derive(Resource, Clone, Debug, Default)]
pub struct SignatureRegistry {
    pub records: Vec<SignatureRecord>,
    /// Records before this index are all settled (an outcome or expiry), so sweeps can skip them.
    pub first_open: usize,
}

#[derive(Clone, Debug)]
pub struct SignatureRecord {
    pub signature: Signature,
    /// Proposed by a forger (ground truth for metrics; colluders also know their own group's forgeries).
    pub forged: bool,
    /// The agent that tallies ballots for it.
    pub tallier: AgentIdx,
    /// Ballots actually cast, by voter. Stands in for unforgeable digital signatures when a certificate is checked.
    pub cast: Vec<Cast>,
    /// The agents allowed to vote under the committee rule, sorted (empty under every other rule).
    pub committee: Vec<AgentIdx>,
    /// Under Snowball, the first decision that rejected it and the first that accepted it. Each agent decides for
    /// itself, so the signature settles only when its instances end: accepted if any agent accepted it (it is in
    /// someone's blacklist), rejected if agents decided and all rejected it, expired if none decided.
    pub first_decisions: [Option<u32>; 2],
    pub outcome: Option<(Outcome, u32)>,
}

impl SignatureRegistry {
    pub fn get(&self, sig: SigIdx) -> &SignatureRecord {
        &self.records[sig as usize]
    }
}

/// Whether a signature proposed at `proposed_at` is still within its lifetime: twice the voting window. Past it,
/// a signature nobody decided expires (and a Snowball one settles), instances give up, and an undecided one no
/// longer holds back similar proposals.
pub fn within_lifetime(proposed_at: u32, voting_window: u32, now: u32) -> bool {
    proposed_at + 2 * voting_window >= now
}

impl SignatureRecord {
    /// A signature just proposed: no ballot cast yet by any of the `agents`, no committee drawn, nothing decided.
    pub fn proposed(signature: Signature, forged: bool, tallier: AgentIdx, agents: usize) -> Self {
        Self {
            signature,
            forged,
            tallier,
            cast: vec![Cast::Nothing; agents],
            committee: Vec::new(),
            first_decisions: [None; 2],
            outcome: None,
        }
    }

    /// Settles the signature. Its per-voter ballot book is freed: certificates are checked only before a
    /// signature settles, so nothing reads it again (late ballots are still recorded in the ledger).
    pub fn settle(&mut self, outcome: Outcome, now: u32) {
        self.outcome = Some((outcome, now));
        self.cast = Vec::new();
    }

    /// Whether `agent` may vote on this signature: a committee member under the committee rule, or anyone.
    pub fn may_vote(&self, rule: ConsensusRule, agent: AgentIdx) -> bool {
        match rule {
            ConsensusRule::Committee => {
                super::consensus::committee::is_member(&self.committee, agent)
            }
            ConsensusRule::CentralAuthority => self.tallier == agent,
            _ => true,
        }
    }
}

/// Stable id of a signature: the first 8 bytes of SHA-256 over its centroid quantised to `ID_QUANTUM`.
pub fn stable_id(centroid: &Features) -> u64 {
    let mut hasher = Sha256::new();
    for v in centroid {
        hasher.update(((v / ID_QUANTUM).round() as i32).to_le_bytes());
    }
    u64::from_le_bytes(hasher.finalize()[..8].try_into().expect("8 bytes"))
}

/// Adds this tick's anomalies to the agent's clusters and drops clusters that went quiet.
pub fn absorb_anomalies(
    evidence: &mut Evidence,
    batch: &TrafficBatch,
    config: &SimConfig,
    labels: usize,
    now: u32,
) {
    let ttl = config.signatures.cluster_ttl;
    evidence.clusters.retain(|c| c.last_tick + ttl >= now);
    for &i in &batch.anomalies {
        let sample = &batch.samples[i as usize];
        let label = batch.labels[i as usize] as usize;
        let best = evidence
            .clusters
            .iter_mut()
            .map(|c| (cosine(&c.stats.mean, sample), c))
            .filter(|(sim, _)| *sim >= config.signatures.merge_similarity)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let cluster = match best {
            Some((_, cluster)) => cluster,
            None => {
                if evidence.clusters.len() == MAX_CLUSTERS {
                    let stalest = (0..MAX_CLUSTERS)
                        .min_by_key(|&k| evidence.clusters[k].last_tick)
                        .expect("full");
                    evidence.clusters.swap_remove(stalest);
                }
                evidence.clusters.push(AnomalyCluster {
                    stats: RunningStats::new(sample.len()),
                    label_counts: vec![0; labels],
                    last_tick: now,
                });
                evidence.clusters.last_mut().expect("just pushed")
            }
        };
        cluster.stats.push(sample);
        if let Some(count) = cluster.label_counts.get_mut(label) {
            *count += 1;
        }
        cluster.last_tick = now;
    }
}

/// Whether the agent already has this pattern in hand: still being voted on (a signature pointing the same way),
/// or accepted and covering it. An accepted signature covers a cluster only if it would block the cluster's
/// centre: anomalies that got past the blacklist to form a cluster are, by construction, traffic it does not
/// block, so pointing the same way is not enough. (Without this, one accepted signature from one origin silenced
/// every agent whose share of the campaign sat outside its radius, and the campaign kept leaking.)
fn already_known(
    centroid: &Features,
    book: &VoteBook,
    registry: &SignatureRegistry,
    config: &SimConfig,
    now: u32,
) -> bool {
    let (radius, min_spread) = (config.signatures.match_radius, config.signatures.min_spread);
    book.known.iter().any(|(&sig, known)| {
        let record = registry.get(sig);
        let signature = &record.signature;
        if known.decided {
            record.outcome.is_some_and(|(o, _)| o == Outcome::Accepted)
                && signature.matches(centroid, radius, min_spread)
        } else {
            within_lifetime(signature.tick, config.consensus.voting_window, now)
                && cosine(&signature.centroid, centroid) >= config.signatures.merge_similarity
        }
    })
}

/// Takes the best-supported cluster that is ready and new, as a proposal.
pub fn take_ready_cluster(
    evidence: &mut Evidence,
    book: &VoteBook,
    registry: &SignatureRegistry,
    config: &SimConfig,
    now: u32,
) -> Option<Proposal> {
    let min_support = config.signatures.min_support;
    let index = evidence
        .clusters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.stats.count >= min_support)
        .filter(|(_, c)| {
            let centre: Features = std::array::from_fn(|i| c.stats.mean[i]);
            !already_known(&centre, book, registry, config, now)
        })
        .max_by_key(|(_, c)| c.stats.count)
        .map(|(i, _)| i)?;
    let cluster = evidence.clusters.swap_remove(index);
    let truth = (0..cluster.label_counts.len())
        .max_by_key(|&l| (cluster.label_counts[l], std::cmp::Reverse(l)))
        .unwrap_or(0);
    let spread = cluster.stats.spread();
    Some(Proposal {
        centroid: std::array::from_fn(|i| cluster.stats.mean[i]),
        spread: std::array::from_fn(|i| spread[i]),
        count: cluster.stats.count,
        truth: truth as Label,
    })
}

/// Samples of its own normal traffic a forger summarises into a forgery.
const FORGERY_SAMPLES: u32 = 32;

/// A forgery: a summary of the forger's own normal traffic (it knows its profile), dressed up as a threat. It must
/// not come from the forger's observed samples: an infected forger's forest may have learned the attack as normal,
/// and a "forgery" built from those samples would be a true signature after all.
pub fn forge(profile: &NormalProfile, rng: &mut ChaCha8Rng) -> Proposal {
    let mut stats = RunningStats::new(crate::config::FEATURE_COUNT);
    for _ in 0..FORGERY_SAMPLES {
        let sample: Features = std::array::from_fn(|i| {
            profile.mean[i] + profile.std[i] * rng.sample::<f32, _>(StandardNormal)
        });
        stats.push(&sample);
    }
    let spread = stats.spread();
    Proposal {
        centroid: std::array::from_fn(|i| stats.mean[i]),
        spread: std::array::from_fn(|i| spread[i]),
        count: stats.count,
        truth: NORMAL,
    }
}

fn build_signatures(
    clock: Res<super::clock::SimClock>,
    settings: Res<SimSettings>,
    registry: Res<SignatureRegistry>,
    campaigns: Res<super::traffic::Campaigns>,
    mut agents: Query<Signer>,
) {
    let now = clock.tick;
    let config = &settings.config;
    let labels = campaigns.list.len() + 1;
    agents.par_iter_mut().for_each(|signer| {
        let SignerItem {
            role,
            liveness,
            batch,
            profile,
            mut evidence,
            book,
            mut rng,
            mut outbox,
        } = signer;
        if !liveness.is_up() || now <= config.detector.warmup {
            return;
        }
        if role.forges() {
            let rate = 1.0 / f64::from((config.signatures.cooldown * FORGERY_RARITY).max(1));
            if now >= evidence.next_proposal && rng.0.random_bool(rate) {
                outbox.proposal = Some(forge(profile, &mut rng.0));
                evidence.next_proposal = now + config.signatures.cooldown;
            }
            return;
        }
        absorb_anomalies(&mut evidence, batch, config, labels, now);
        if now >= evidence.next_proposal
            && let Some(proposal) = take_ready_cluster(&mut evidence, book, &registry, config, now)
        {
            outbox.proposal = Some(proposal);
            evidence.next_proposal = now + config.signatures.cooldown;
        }
    });
}

/// What Sign reads and changes of one agent.
#[derive(QueryData)]
#[query_data(mutable)]
struct Signer {
    role: &'static Role,
    liveness: &'static Liveness,
    batch: &'static TrafficBatch,
    profile: &'static NormalProfile,
    evidence: &'static mut Evidence,
    book: &'static VoteBook,
    rng: &'static mut AgentRng,
    outbox: &'static mut Outbox,
}

/// Registers this tick's proposals in agent order, so signature indices are the same on any thread count, and
/// announces each to the proposer's neighbours. The proposer votes for its own signature and opens its tally.
fn publish_proposals(
    clock: Res<super::clock::SimClock>,
    settings: Res<SimSettings>,
    directory: Res<super::AgentDirectory>,
    network: Res<Network>,
    mut registry: ResMut<SignatureRegistry>,
    mut events: ResMut<TickEvents>,
    mut agents: Query<(&Role, &mut VoteBook, &mut Outbox)>,
) {
    let now = clock.tick;
    let config = &settings.config;
    let rule = config.consensus.rule;
    let central = rule == ConsensusRule::CentralAuthority;
    for (index, &entity) in directory.agents.iter().enumerate() {
        let Ok((role, mut book, mut outbox)) = agents.get_mut(entity) else {
            continue;
        };
        let Some(proposal) = outbox.proposal.take() else {
            continue;
        };
        let origin = index as AgentIdx;
        let sig = registry.records.len() as SigIdx;
        let tallier = if central {
            config.consensus.authority as AgentIdx
        } else {
            origin
        };
        let mut record = SignatureRecord::proposed(
            Signature {
                id: stable_id(&proposal.centroid),
                centroid: proposal.centroid,
                spread: proposal.spread,
                count: proposal.count,
                origin,
                tick: now,
                truth: proposal.truth,
            },
            role.forges(),
            tallier,
            directory.agents.len(),
        );
        if rule == ConsensusRule::Committee {
            record.committee = super::consensus::committee::committee(
                config.simulation.seed,
                sig,
                directory.agents.len(),
                config.consensus.committee_size,
            );
        }
        book.learn(
            sig,
            KnownSignature {
                parent: None,
                my_vote: None,
                decided: false,
            },
        );
        // The proposer tallies (but for the central authority); under the committee rule its own ballot counts
        // only if sortition drew it, and under Snowball there is no tally: it starts its own instance instead.
        let votes = record.may_vote(rule, origin);
        if rule == ConsensusRule::Snowball && role.is_honest() {
            book.snowball
                .insert(sig, super::consensus::snowball::start(true));
        } else if tallier == origin && rule != ConsensusRule::Snowball {
            book.tallies.insert(sig, Tally::new(now, Vec::new()));
        }
        if votes {
            record.cast[index] = Cast::Yes;
            book.known.get_mut(&sig).expect("inserted").my_vote = Some(true);
            if let Some(tally) = book.tallies.get_mut(&sig) {
                tally.add(Ballot {
                    voter: origin,
                    yes: true,
                });
            }
            events.ballots.push((
                sig,
                Ballot {
                    voter: origin,
                    yes: true,
                },
            ));
        }
        registry.records.push(record);
        events.proposals.push(sig);
        if !network.neighbours(origin).is_empty() {
            outbox.messages.push(Outgoing {
                made_at: now,
                to: Destination::Neighbours { except: None },
                payload: Payload::Announce {
                    sig,
                    ttl: config.network.ttl,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_of(samples: Vec<Features>, labels: Vec<Label>) -> TrafficBatch {
        let anomalies = (0..samples.len() as u32).collect();
        TrafficBatch {
            samples,
            labels,
            anomalies,
            scores: vec![],
        }
    }

    #[test]
    fn similar_anomalies_merge_and_become_one_proposal() {
        let config = SimConfig::default();
        let mut evidence = Evidence::default();
        let scan: Features = [-2.0, -1.5, 0.0, 0.0, 3.0, 4.0, 0.0, 3.5];
        let mut nudged = scan;
        nudged[0] += 0.3;
        let other: Features = [0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0];
        let batch = batch_of(
            vec![scan, nudged, scan, other, nudged, scan],
            vec![1, 1, 1, 0, 1, 1],
        );
        absorb_anomalies(&mut evidence, &batch, &config, 2, 1);
        assert_eq!(evidence.clusters.len(), 2);
        let registry = SignatureRegistry::default();
        let book = VoteBook::default();
        // Five scans are below the default support of six.
        assert!(take_ready_cluster(&mut evidence, &book, &registry, &config, 1).is_none());
        absorb_anomalies(&mut evidence, &batch_of(vec![scan], vec![1]), &config, 2, 2);
        let proposal =
            take_ready_cluster(&mut evidence, &book, &registry, &config, 2).expect("ready");
        assert_eq!((proposal.count, proposal.truth), (6, 1));
        assert!((proposal.centroid[0] - (-1.9)).abs() < 1e-5);
    }

    #[test]
    fn a_known_pending_signature_suppresses_a_duplicate() {
        let config = SimConfig::default();
        let scan: Features = [-2.0, -1.5, 0.0, 0.0, 3.0, 4.0, 0.0, 3.5];
        let mut registry = SignatureRegistry::default();
        registry.records.push(SignatureRecord::proposed(
            Signature {
                id: stable_id(&scan),
                centroid: scan,
                spread: [0.5; 8],
                count: 6,
                origin: 9,
                tick: 5,
                truth: 1,
            },
            false,
            9,
            0,
        ));
        let mut book = VoteBook::default();
        book.known.insert(0, KnownSignature::default());
        let mut evidence = Evidence::default();
        absorb_anomalies(
            &mut evidence,
            &batch_of(vec![scan; 6], vec![1; 6]),
            &config,
            2,
            6,
        );
        assert!(take_ready_cluster(&mut evidence, &book, &registry, &config, 6).is_none());
        // Once it has expired unanswered, the agent may propose the pattern again.
        assert!(take_ready_cluster(&mut evidence, &book, &registry, &config, 200).is_some());
    }

    #[test]
    fn stable_id_ignores_noise_below_the_quantum() {
        let a: Features = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let mut b = a;
        b[0] += 0.01;
        let mut c = a;
        c[0] += 1.0;
        assert_eq!(stable_id(&a), stable_id(&b));
        assert_ne!(stable_id(&a), stable_id(&c));
    }
}
