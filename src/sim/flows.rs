//! Traffic from a flow file (`traffic.source = flows(...)`), in place of the generator: each tick the next
//! `agents × samples_per_tick` rows of the file are dealt to agents (round robin or by a key column's hash), in
//! file order, as labelled samples. A crashed agent sees nothing, and its rows are lost to it as its traffic would
//! be. An agent is reached by a campaign when it first sees one of its rows.

use bevy::prelude::*;
use bevy::tasks::{ComputeTaskPool, ParallelSlice};

use super::AgentDirectory;
use super::clock::SimClock;
use super::components::*;
use super::traffic::Campaigns;
use crate::config::{FlowSource, SimConfig, TrafficSource};
use crate::flows::{FlowReader, deal};

/// The open flow file and where the run is in it.
#[derive(Resource)]
pub struct FlowFeed {
    source: FlowSource,
    reader: Option<FlowReader>,
    /// The first error reading the file; from then on agents see nothing.
    pub failure: Option<String>,
    /// The tick at which the file's rows for the run ran out, if they did.
    pub exhausted_at: Option<u32>,
    /// The tick's raw records (buffers reused from tick to tick).
    records: Vec<csv::ByteRecord>,
}

impl FlowFeed {
    /// Opens the flow file of `config`, if it has one, and gives `campaigns` the rows immunity is measured on
    /// (each label's first rows).
    pub fn open(config: &SimConfig, campaigns: &mut Campaigns) -> Option<Self> {
        let TrafficSource::Flows(source) = &config.traffic.source else {
            return None;
        };
        let probes = crate::flows::probes(source, campaigns.list.len(), config.immunity.probes);
        let (reader, failure) = match (FlowReader::open(source), probes) {
            (Ok(reader), Ok(probes)) => {
                campaigns.recorded_probes = probes;
                (Some(reader), None)
            }
            (Err(e), _) | (_, Err(e)) => (None, Some(e.to_string())),
        };
        Some(Self {
            source: (**source).clone(),
            reader,
            failure,
            exhausted_at: None,
            records: Vec::new(),
        })
    }
}

/// Deals this tick's block of rows into the agents' batches.
pub(super) fn feed_flows(
    clock: Res<SimClock>,
    settings: Res<super::SimSettings>,
    directory: Res<AgentDirectory>,
    mut feed: ResMut<FlowFeed>,
    mut campaigns: ResMut<Campaigns>,
    mut agents: Query<(&Liveness, &mut TrafficBatch, &mut TickCounts)>,
) {
    let now = clock.tick;
    let campaign_count = campaigns.list.len();
    for (_, mut batch, mut counts) in &mut agents {
        counts.reset(campaign_count);
        batch.samples.clear();
        batch.labels.clear();
        batch.anomalies.clear();
    }
    let FlowFeed {
        source,
        reader: open_reader,
        failure,
        exhausted_at,
        records,
    } = &mut *feed;
    let Some(reader) = open_reader.as_mut() else {
        return;
    };
    let config = &settings.config;
    let agent_count = config.simulation.agents;
    let block = agent_count * config.simulation.samples_per_tick;
    records.resize_with(block, csv::ByteRecord::new);
    // Reading is serial (one file); turning the records into samples is most of the work, and runs in parallel.
    // The results come back in file order, so the dealing below is the same on any number of threads.
    let converted = reader.read_records(records).and_then(|read| {
        if read < block {
            exhausted_at.get_or_insert(now);
        }
        let reader = &*reader;
        (&records[..read])
            .par_splat_map(ComputeTaskPool::get(), None, |_, chunk| {
                chunk.iter().map(|r| reader.convert(r)).collect::<Vec<_>>()
            })
            .into_iter()
            .flatten()
            .collect::<Result<Vec<_>, _>>()
    });
    let rows = match converted {
        Ok(rows) => rows,
        Err(e) => {
            bevy::log::error!(target: "dais::flows", "{e}");
            *failure = Some(e.to_string());
            *open_reader = None;
            return;
        }
    };
    for (position, row) in rows.into_iter().enumerate() {
        let Some(sample) = row.features else {
            continue;
        };
        let agent = deal(&source.assign, position as u64, row.key, agent_count);
        let Ok((liveness, mut batch, _)) = agents.get_mut(directory.agents[agent]) else {
            continue;
        };
        if !liveness.is_up() {
            continue;
        }
        batch.samples.push(sample);
        batch.labels.push(row.label);
        if let Some(c) = (row.label as usize).checked_sub(1) {
            campaigns.reached[c][agent].get_or_insert(now);
        }
    }
}

/// Runs when the traffic comes from a flow file.
pub(super) fn from_flows(feed: Option<Res<FlowFeed>>) -> bool {
    feed.is_some()
}
