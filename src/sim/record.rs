//! Record: every event of the tick goes to the ledger in one batch, and the tick's state hash is computed. The hash
//! chains the previous hash, this tick's events and metrics, and a digest of every agent's state (including how far
//! its random stream has advanced), so two runs that diverge anywhere differ from that tick on.

use bevy::ecs::query::QueryData;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use sha2::{Digest, Sha256};

use super::clock::SimClock;
use super::components::*;
use super::consensus::Decisions;
use super::gossip::InFlight;
use super::metrics::LatestMetrics;
use super::metrics::RunTotals;
use super::signature::SignatureRegistry;
use super::traffic::Campaigns;
use super::{AgentDirectory, Pipeline, TickEvents};
use crate::ledger::{
    AgentState, BallotRow, ClosingRow, DecisionRow, Frame, FrameMessage, LedgerSink, OutcomeRow,
    SignatureRow, TickRecord,
};

pub(super) fn plugin(app: &mut App) {
    app.add_systems(FixedUpdate, record_tick.in_set(Pipeline::Record));
}

/// The ledger the run writes to, the latest state hash, and the first storage failure if any.
#[derive(Resource)]
pub struct Ledger {
    pub sink: Box<dyn LedgerSink>,
    pub state_hash: [u8; 32],
    pub failure: Option<String>,
}

impl Ledger {
    pub fn new(sink: Box<dyn LedgerSink>) -> Self {
        Self {
            sink,
            state_hash: [0; 32],
            failure: None,
        }
    }
    pub fn state_hash_hex(&self) -> String {
        hex::encode(self.state_hash)
    }
}

fn digest_agent(hasher: &mut Sha256, agent: &RecordedAgentItem) {
    let RecordedAgentItem {
        liveness,
        detector,
        blacklist,
        book,
        rng,
        counts,
        reputation,
        role: _,
    } = agent;
    let crashed = match liveness {
        Liveness::Up => 0u32,
        Liveness::Crashed { since } => *since,
        Liveness::Absent => u32::MAX,
    };
    hasher.update(crashed.to_le_bytes());
    hasher.update(detector.threshold().unwrap_or(-1.0).to_le_bytes());
    hasher.update((detector.window.len() as u32).to_le_bytes());
    hasher.update((blacklist.entries.len() as u32).to_le_bytes());
    hasher.update(book.heard.to_le_bytes());
    // Only Snowball runs have instances; hashing nothing otherwise keeps every other rule's hashes as they were.
    if !book.snowball.is_empty() {
        hasher.update((book.snowball.len() as u32).to_le_bytes());
    }
    hasher.update(rng.0.get_word_pos().to_le_bytes());
    hasher.update(counts.true_positive.to_le_bytes());
    hasher.update(counts.false_positive.to_le_bytes());
    hasher.update(reputation.alpha.to_le_bytes());
    hasher.update(reputation.beta.to_le_bytes());
}

/// How an agent looks this tick; the first matching state wins. "Immune" uses the metrics' definition (the
/// blacklist blocks nearly all of each started campaign's probe samples), so the picture and the immunity plot
/// agree. An immune agent that still let some attack traffic through this tick is drawn as its own state, so a
/// class sees both that immunity spread and that it is not perfect.
pub fn visual_state(
    index: usize,
    role: Role,
    liveness: Liveness,
    counts: &TickCounts,
    blacklist: &Blacklist,
    campaigns: &Campaigns,
    now: u32,
) -> AgentState {
    if !liveness.is_up() {
        return AgentState::Crashed;
    }
    if !role.is_honest() {
        return AgentState::Byzantine;
    }
    let campaign_count = campaigns.list.len().min(64);
    let active: u64 = (0..campaign_count)
        .filter(|&c| campaigns.list[c].start_tick <= now)
        .fold(0, |mask, c| mask | (1 << c));
    if active != 0 && active & !blacklist.immune_to == 0 {
        return if counts.attack_through > 0 {
            AgentState::ImmuneLeaking
        } else {
            AgentState::Immune
        };
    }
    if counts.attack_through > 0 {
        return AgentState::Compromised;
    }
    let reached =
        (0..campaign_count).any(|c| campaigns.reached[c][index].is_some_and(|t| t <= now));
    if reached {
        AgentState::UnderAttack
    } else {
        AgentState::Healthy
    }
}

/// What of one agent its frame state and the state hash cover.
#[derive(QueryData)]
struct RecordedAgent {
    liveness: &'static Liveness,
    detector: &'static Detector,
    blacklist: &'static Blacklist,
    book: &'static VoteBook,
    rng: &'static AgentRng,
    counts: &'static TickCounts,
    reputation: &'static Reputation,
    role: &'static Role,
}

/// The network's state after the tick, as the frame draws it and the state hash covers it.
#[derive(SystemParam)]
struct NetworkState<'w, 's> {
    directory: Res<'w, AgentDirectory>,
    campaigns: Res<'w, Campaigns>,
    in_flight: Res<'w, InFlight>,
    agents: Query<'w, 's, RecordedAgent>,
}

/// The signatures and decisions published so far.
#[derive(SystemParam)]
struct PublicRecord<'w> {
    registry: Res<'w, SignatureRegistry>,
    decisions: Res<'w, Decisions>,
}

fn record_tick(
    clock: Res<SimClock>,
    record: PublicRecord,
    latest: Res<LatestMetrics>,
    totals: Res<RunTotals>,
    mut events: ResMut<TickEvents>,
    mut ledger: ResMut<Ledger>,
    network: NetworkState,
) {
    let PublicRecord {
        registry,
        decisions,
    } = record;
    let NetworkState {
        directory,
        campaigns,
        in_flight,
        agents,
    } = network;
    let signatures: Vec<SignatureRow> = events
        .proposals
        .iter()
        .map(|&sig| {
            let s = &registry.get(sig).signature;
            SignatureRow {
                sig,
                id: s.id,
                origin: s.origin,
                tick: s.tick,
                count: s.count,
                centroid: s.centroid,
                spread: s.spread,
                truth: s.truth,
            }
        })
        .collect();
    let ballots: Vec<BallotRow> = events
        .ballots
        .iter()
        .map(|&(sig, Ballot { voter, yes })| BallotRow { sig, voter, yes })
        .collect();
    let decision_rows: Vec<DecisionRow> = events
        .decisions
        .iter()
        .map(|&decision| {
            let d = decisions.get(decision).expect("published this tick");
            DecisionRow {
                decision,
                sig: d.sig,
                tallier: d.tallier,
                outcome: d.outcome,
                yes: d.yes() as u32,
                no: d.no() as u32,
                valid: d.valid,
            }
        })
        .collect();
    let outcomes: Vec<OutcomeRow> = std::mem::take(&mut events.settled);
    let metrics = latest.tick.clone().unwrap_or_default();

    let mut hasher = Sha256::new();
    hasher.update(ledger.state_hash);
    hasher.update(clock.tick.to_le_bytes());
    // serde_json of plain data is deterministic: fields in declaration order, floats printed exactly.
    hasher.update(
        serde_json::to_vec(&(&signatures, &ballots, &decision_rows, &outcomes, &metrics))
            .expect("plain data serialises"),
    );
    // Only a tick with interventions hashes them, so runs without any keep the hashes they always had.
    if !events.interventions.is_empty() {
        hasher.update(serde_json::to_vec(&events.interventions).expect("plain data serialises"));
    }
    let mut frame = Frame {
        agents: Vec::with_capacity(directory.agents.len()),
        messages: in_flight
            .visible()
            .map(|m| {
                FrameMessage::new(
                    m.from,
                    m.to,
                    m.kind(),
                    m.sent_tick,
                    m.deliver_tick,
                    clock.tick,
                )
            })
            .collect(),
    };
    for (index, &entity) in directory.agents.iter().enumerate() {
        if let Ok(agent) = agents.get(entity) {
            frame.agents.push(visual_state(
                index,
                *agent.role,
                *agent.liveness,
                agent.counts,
                agent.blacklist,
                &campaigns,
                clock.tick,
            ));
            digest_agent(&mut hasher, &agent);
        }
    }
    ledger.state_hash = hasher.finalize().into();

    // The run's last configured tick closes the ledger; a run stopped early leaves it without a closing row,
    // which `ledger verify` reports as incomplete.
    let closing = (clock.tick == clock.steps).then(|| ClosingRow {
        ticks: clock.tick,
        steps: clock.steps,
        totals: totals.counts.clone(),
    });
    let record = TickRecord {
        tick: clock.tick,
        state_hash: ledger.state_hash_hex(),
        interventions: std::mem::take(&mut events.interventions),
        signatures,
        ballots,
        decisions: decision_rows,
        outcomes,
        metrics,
        frame,
        closing,
    };
    if ledger.failure.is_none()
        && let Err(e) = ledger.sink.append(record)
    {
        ledger.failure = Some(e.to_string());
    }
    events.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TrafficConfig;
    use crate::sim::rng::stream;

    #[test]
    fn an_immune_agent_that_still_leaks_is_drawn_as_its_own_state() {
        let campaigns = Campaigns::new(
            &TrafficConfig::default(),
            1,
            stream(1, 1),
            8,
            &mut stream(1, 2),
        );
        let mut immune = Blacklist::new(0.25);
        immune.immune_to = 1;
        let mut counts = TickCounts::default();
        let draw = |counts: &TickCounts, blacklist: &Blacklist| {
            visual_state(
                0,
                Role::Honest,
                Liveness::Up,
                counts,
                blacklist,
                &campaigns,
                100,
            )
        };
        assert_eq!(draw(&counts, &immune), AgentState::Immune);
        counts.attack_through = 1;
        assert_eq!(draw(&counts, &immune), AgentState::ImmuneLeaking);
        assert_eq!(
            draw(&counts, &Blacklist::new(0.25)),
            AgentState::Compromised
        );
        // Before the campaign starts nobody is immune to it.
        let before = visual_state(
            0,
            Role::Honest,
            Liveness::Up,
            &TickCounts::default(),
            &immune,
            &campaigns,
            10,
        );
        assert_eq!(before, AgentState::Healthy);
    }
}
