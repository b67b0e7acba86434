//! Gossip: messages travel hop by hop over the topology. Each tick this stage drains every agent's outbox in agent
//! order, expands "to my neighbours" into one transmission per neighbour (all of them when flooding, a random
//! `fan_out` of them otherwise), drops each transmission with the configured loss, and delivers whatever is due into
//! the receivers' inboxes. Everything in flight is kept in `InFlight`, which the view draws and metrics count.

use std::collections::BTreeMap;

use bevy::prelude::*;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::adversaries::Insider;
use super::clock::SimClock;
use super::components::*;
use super::links::{Links, Partitions};
use super::network::Network;
use super::{AgentDirectory, Pipeline, TickContext};
use crate::config::Dropped;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(
        FixedUpdate,
        (
            dispatch_outboxes,
            super::retention::forget_settled,
            deliver_due,
        )
            .chain()
            .in_set(Pipeline::Gossip),
    );
}

/// One transmission over one edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmission {
    pub sent_tick: u32,
    pub deliver_tick: u32,
    pub from: AgentIdx,
    pub to: AgentIdx,
    pub payload: Payload,
}

impl Transmission {
    pub fn kind(&self) -> MessageKind {
        Self::kind_of(&self.payload)
    }

    /// The kind a payload travels as.
    pub fn kind_of(payload: &Payload) -> MessageKind {
        match payload {
            Payload::Announce { .. } => MessageKind::Announce,
            // Snowball's queries and answers are its voting traffic: they count and are drawn as ballots.
            Payload::Ballot { .. } | Payload::Query { .. } | Payload::Answer { .. } => {
                MessageKind::Ballot
            }
            Payload::Decision { .. } => MessageKind::Decision,
        }
    }
}

pub use crate::model::MessageKind;

/// Messages on the wire, by delivery tick, plus this tick's traffic counts.
#[derive(Resource, Debug)]
pub struct InFlight {
    pub pending: BTreeMap<u32, Vec<Transmission>>,
    /// Messages that arrived this tick (the view animates them along their edge).
    pub delivered: Vec<Transmission>,
    /// Transmissions this tick, by kind (announce, ballot, decision), lost ones included.
    pub sent: [u64; 3],
    pub lost: u64,
    /// Messages on the wire about each signature, by signature index: once a settled signature has none, no agent
    /// will hear of it again (`sim::retention`).
    about: Vec<u32>,
    rng: ChaCha8Rng,
}

impl InFlight {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self {
            pending: BTreeMap::new(),
            delivered: Vec::new(),
            sent: [0; 3],
            lost: 0,
            about: Vec::new(),
            rng,
        }
    }

    /// Whether any message about `sig` is on the wire.
    pub fn carries(&self, sig: SigIdx) -> bool {
        self.about.get(sig as usize).is_some_and(|&n| n > 0)
    }

    fn send(&mut self, message: Transmission) {
        let sig = message.payload.sig() as usize;
        if self.about.len() <= sig {
            self.about.resize(sig + 1, 0);
        }
        self.about[sig] += 1;
        self.pending
            .entry(message.deliver_tick)
            .or_default()
            .push(message);
    }

    /// Takes the messages due by `tick` off the wire, in sending order (bucket by bucket, without copying them).
    fn take_due(&mut self, tick: u32) -> Vec<Vec<Transmission>> {
        let mut due = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if *entry.key() > tick {
                break;
            }
            let bucket = entry.remove();
            for message in &bucket {
                self.about[message.payload.sig() as usize] -= 1;
            }
            due.push(bucket);
        }
        due
    }

    /// Heap bytes held: messages on the wire and this tick's arrivals.
    pub fn heap_bytes(&self) -> usize {
        let message = std::mem::size_of::<Transmission>();
        self.pending
            .values()
            .map(|v| v.capacity() * message + 48)
            .sum::<usize>()
            + self.delivered.capacity() * message
            + self.about.capacity() * 4
    }

    pub fn pending_count(&self) -> usize {
        self.pending.values().map(Vec::len).sum()
    }

    /// Everything the view should draw for this tick: arrivals and messages still travelling.
    pub fn visible(&self) -> impl Iterator<Item = &Transmission> {
        self.delivered.iter().chain(self.pending.values().flatten())
    }
}

/// The receivers of one outgoing message: all eligible neighbours, or `fan_out` of them chosen at random.
pub fn pick_receivers(
    neighbours: &[AgentIdx],
    except: Option<AgentIdx>,
    fan_out: usize,
    rng: &mut ChaCha8Rng,
    out: &mut Vec<AgentIdx>,
) {
    out.clear();
    out.extend(neighbours.iter().copied().filter(|&n| Some(n) != except));
    if fan_out > 0 && out.len() > fan_out {
        for i in 0..fan_out {
            let j = rng.random_range(i..out.len());
            out.swap(i, j);
        }
        out.truncate(fan_out);
        out.sort_unstable();
    }
}

fn dispatch_outboxes(
    tick: TickContext,
    directory: Res<AgentDirectory>,
    network: Res<Network>,
    partitions: Res<Partitions>,
    mut links: ResMut<Links>,
    mut in_flight: ResMut<InFlight>,
    mut outboxes: Query<(&mut Outbox, Option<&Insider>)>,
) {
    let net = &tick.config().network;
    let now = tick.now();
    let in_flight = &mut *in_flight;
    let links = &mut *links;
    in_flight.sent = [0; 3];
    in_flight.lost = 0;
    links.queues.forget_drained(now);
    let mut receivers = Vec::new();
    for (index, &entity) in directory.agents.iter().enumerate() {
        let Ok((mut outbox, insider)) = outboxes.get_mut(entity) else {
            continue;
        };
        let from = index as AgentIdx;
        let drops = insider.and_then(Insider::drops);
        for outgoing in outbox.messages.drain(..) {
            if drops.is_some_and(|dropped| drops_relay(dropped, &outgoing, from)) {
                continue;
            }
            match outgoing.to {
                Destination::One(to) => {
                    receivers.clear();
                    receivers.push(to);
                }
                Destination::Neighbours { except } => pick_receivers(
                    network.neighbours(from),
                    except,
                    net.fan_out,
                    &mut in_flight.rng,
                    &mut receivers,
                ),
            }
            for &to in &receivers {
                let kind = Transmission::kind_of(&outgoing.payload);
                in_flight.sent[usize::from(kind.code())] += 1;
                // A message across a partition is lost like one on a lossy link (and draws nothing).
                if partitions.separates(now, from, to) {
                    in_flight.lost += 1;
                    continue;
                }
                let message = Transmission {
                    sent_tick: now,
                    deliver_tick: outgoing.made_at
                        + links.queues.wait(from, to, now)
                        + links.latency.between(from, to),
                    from,
                    to,
                    payload: outgoing.payload,
                };
                if net.loss > 0.0 && in_flight.rng.random_bool(net.loss) {
                    in_flight.lost += 1;
                    continue;
                }
                in_flight.send(message);
            }
        }
    }
}

/// Whether a selective forwarder that drops `dropped` drops this outgoing message: only what it relays for others,
/// never what it says itself.
fn drops_relay(dropped: Dropped, outgoing: &Outgoing, from: AgentIdx) -> bool {
    let relayed = match outgoing.payload {
        Payload::Announce { .. } | Payload::Decision { .. } => {
            matches!(outgoing.to, Destination::Neighbours { except: Some(_) })
        }
        Payload::Ballot { voter, .. } => voter != from,
        Payload::Query { .. } | Payload::Answer { .. } => false,
    };
    relayed
        && match dropped {
            Dropped::All => true,
            Dropped::Announcements => matches!(outgoing.payload, Payload::Announce { .. }),
            Dropped::Ballots => matches!(outgoing.payload, Payload::Ballot { .. }),
            Dropped::Decisions => matches!(outgoing.payload, Payload::Decision { .. }),
        }
}

fn deliver_due(
    clock: Res<SimClock>,
    directory: Res<AgentDirectory>,
    mut in_flight: ResMut<InFlight>,
    mut agents: Query<(&mut Inbox, &Liveness)>,
) {
    for mut inbox in agents.iter_mut().map(|(inbox, _)| inbox) {
        inbox.messages.clear();
    }
    let in_flight = &mut *in_flight;
    in_flight.delivered.clear();
    for message in in_flight.take_due(clock.tick).into_iter().flatten() {
        let Ok((mut inbox, liveness)) = agents.get_mut(directory.agents[message.to as usize])
        else {
            continue;
        };
        // A crashed agent hears nothing.
        if liveness.is_up() {
            inbox.messages.push((message.from, message.payload));
            in_flight.delivered.push(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::stream;

    #[test]
    fn flooding_skips_the_sender_and_fan_out_samples() {
        let mut rng = stream(1, 2);
        let mut out = Vec::new();
        pick_receivers(&[1, 2, 3, 4], Some(2), 0, &mut rng, &mut out);
        assert_eq!(out, vec![1, 3, 4]);
        pick_receivers(&[1, 2, 3, 4, 5, 6], None, 2, &mut rng, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[0] < out[1]);
    }
}
