//! Interventions (`config.interventions`): what a teacher's clicks or a script do to the run, applied at the start
//! of their tick, in list order, after churn and before planned crashes take effect. Each applied intervention goes
//! to the tick's ledger rows (the `interventions` table) and into the state hash, so a recording replays them and
//! `replay --verify` re-simulates them.
//!
//! A teacher's intervention on a member of an adversary group takes it out of its group: from then on it is a
//! plain Byzantine or honest agent, and a Sybil identity that had not joined yet joins now.

use bevy::prelude::*;

use super::adversaries::Insider;
use super::components::*;
use super::faults::{Churn, CrashPlan};
use super::links::Partitions;
use super::traffic::Campaigns;
use super::{AgentDirectory, TickContext, TickEvents};
use crate::config::Intervention;
use crate::config::interventions::link;

/// The run-wide state an intervention may change besides the agents' own components.
#[derive(bevy::ecs::system::SystemParam)]
pub(super) struct RunState<'w> {
    churn: ResMut<'w, Churn>,
    campaigns: ResMut<'w, Campaigns>,
    partitions: ResMut<'w, Partitions>,
    events: ResMut<'w, TickEvents>,
}

/// Applies this tick's interventions, in the order the config lists them.
pub(super) fn apply_interventions(
    tick: TickContext,
    directory: Res<AgentDirectory>,
    run: RunState,
    mut commands: Commands,
    mut agents: Query<(&mut Role, &mut Liveness, &mut CrashPlan, Has<Insider>)>,
) {
    let now = tick.now();
    let RunState {
        mut churn,
        mut campaigns,
        mut partitions,
        mut events,
    } = run;
    let due = tick
        .config()
        .interventions
        .iter()
        .filter(|(at, _)| *at == now);
    for (_, action) in due {
        let entity = |agent: usize| directory.agents.get(agent).copied();
        match *action {
            Intervention::Crash(agent) => {
                if let Some((_, _, mut plan, _)) =
                    entity(agent).and_then(|e| agents.get_mut(e).ok())
                {
                    // `crash_agents`, next in the stage, takes it down and keeps it down.
                    plan.at = Some(now);
                }
            }
            Intervention::Revive(agent) => {
                if let Some((_, mut liveness, mut plan, _)) =
                    entity(agent).and_then(|e| agents.get_mut(e).ok())
                {
                    plan.at = None;
                    if let Some(until) = churn.down_until.get_mut(agent) {
                        *until = None;
                    }
                    if matches!(*liveness, Liveness::Crashed { .. }) {
                        *liveness = Liveness::Up;
                        churn.recovered.push(agent as AgentIdx);
                    }
                }
            }
            Intervention::Byzantine(agent, _) | Intervention::Honest(agent) => {
                let Some(e) = entity(agent) else { continue };
                if let Ok((mut role, mut liveness, _, insider)) = agents.get_mut(e) {
                    *role = match *action {
                        Intervention::Byzantine(_, strategy) => Role::Byzantine(strategy),
                        _ => Role::Honest,
                    };
                    if insider {
                        commands.entity(e).remove::<Insider>();
                        if *liveness == Liveness::Absent {
                            *liveness = Liveness::Up;
                        }
                    }
                }
            }
            Intervention::StartCampaign { campaign, at } => {
                let campaigns = &mut *campaigns;
                if let (Some(reached), Some(started)) = (
                    campaigns.reached.get_mut(campaign),
                    campaigns.list.get_mut(campaign),
                ) {
                    if let Some(slot) = reached.get_mut(at) {
                        slot.get_or_insert(now);
                    }
                    started.spreading_from = started.spreading_from.min(now);
                }
            }
            Intervention::Cut(a, b) => {
                partitions.cut_links.insert(link(a, b));
            }
            Intervention::Restore(a, b) => {
                partitions.cut_links.remove(&link(a, b));
            }
        }
        events.interventions.push(action.clone());
    }
}
