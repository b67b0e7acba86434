//! The tamper demo in the ledger panel: the hash chain of the recording's latest rows (seq, prev_hash, hash), and a
//! button per row that changes one field of it in a copy held in memory. From that row on the chain turns red,
//! and the panel shows the line `dais ledger verify` prints for the copy. The recording itself never changes: the
//! copy is made from its bytes (`ledger::tamper`).

use std::sync::Mutex;

use bevy::prelude::*;
use bevy_egui::egui;

use super::{ALARM as BROKEN, GOOD as HOLDS};
use crate::gui::source::{ViewData, ViewSource};
use crate::ledger::tamper::{ChainCopy, ChainLink};

/// Rows of the chain the panel shows.
const SHOWN: usize = 8;

/// What the demo asked for this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainRequest {
    /// Copy the recording as it is now and show its latest rows.
    Copy,
    /// Change a field of this row in the copy.
    Tamper(i64),
}

/// The demo's copy of the recording and what the panel shows of it.
#[derive(Resource, Default)]
pub struct ChainDemo {
    copy: Option<Mutex<ChainCopy>>,
    links: Vec<ChainLink>,
    verify_line: Option<String>,
    problem: Option<String>,
    /// The tick the copy was taken at.
    taken_at: Option<u32>,
    pub request: Option<ChainRequest>,
    /// The demo's window is open.
    pub open: bool,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<ChainDemo>();
    app.add_systems(Update, serve_requests);
}

/// Answers the panel's request: a fresh copy of the recording on screen, or a tampered row in the copy.
fn serve_requests(
    mut source: ResMut<ViewSource>,
    data: Res<ViewData>,
    mut demo: ResMut<ChainDemo>,
) {
    let Some(request) = demo.request.take() else {
        return;
    };
    let demo = &mut *demo;
    let outcome = match request {
        ChainRequest::Copy => source.recording().and_then(|(name, bytes)| {
            demo.taken_at = Some(data.tick);
            ChainCopy::from_bytes(&name, &bytes).map(|copy| {
                demo.copy = Some(Mutex::new(copy));
            })
        }),
        ChainRequest::Tamper(seq) => match &demo.copy {
            Some(copy) => copy
                .lock()
                .map_err(|e| e.to_string())
                .and_then(|mut copy| copy.tamper(seq)),
            None => Err("copy the chain first".into()),
        },
    };
    demo.problem = outcome.err();
    if let Some(copy) = &demo.copy
        && let Ok(copy) = copy.lock()
    {
        // A replay shows the chain as it stood at the tick on screen; a live run, as it is.
        let through = source.is_replay().then_some(demo.taken_at).flatten();
        match copy.latest(SHOWN, through) {
            Ok(links) => demo.links = links,
            Err(e) => demo.problem = Some(e),
        }
        demo.verify_line = Some(copy.verify_line());
    }
}

/// The ledger panel's button that opens the demo.
pub fn button(ui: &mut egui::Ui, demo: &mut ChainDemo) {
    if ui
        .button("🔗 Hash chain: the tamper demo")
        .on_hover_text(
            "Show the recording's hash chain, and what tampering with one row does to it",
        )
        .clicked()
    {
        demo.open = !demo.open;
        if demo.open && demo.copy.is_none() {
            demo.request = Some(ChainRequest::Copy);
        }
    }
}

/// The demo's window, over the scene where the whole class sees it.
pub fn window(ctx: &egui::Context, demo: &mut ChainDemo) {
    let mut open = demo.open;
    egui::Window::new("Hash chain: the tamper demo")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -12.0))
        .show(ctx, |ui| contents(ui, demo));
    demo.open = open;
}

fn contents(ui: &mut egui::Ui, demo: &mut ChainDemo) {
    ui.label(
        "Each row's hash covers the hash before it: change one row and no hash after it matches.",
    );
    ui.horizontal(|ui| {
        if ui
            .button("⟳ Copy again")
            .on_hover_text("Copy the recording as it is now, in memory, and show its latest rows")
            .clicked()
        {
            demo.request = Some(ChainRequest::Copy);
        }
        if let Some(tick) = demo.taken_at {
            ui.label(
                egui::RichText::new(format!(
                    "a copy taken at tick {tick}: the recording itself is never changed"
                ))
                .weak(),
            );
        }
    });
    if let Some(problem) = &demo.problem {
        ui.colored_label(BROKEN, problem);
    }
    if demo.links.is_empty() {
        return;
    }
    let mut tamper = None;
    egui::Grid::new("chain-rows")
        .striped(true)
        .num_columns(5)
        .show(ui, |ui| {
            for heading in ["seq", "row", "prev_hash", "hash", ""] {
                ui.strong(heading);
            }
            ui.end_row();
            for link in &demo.links {
                let colour = if link.holds { HOLDS } else { BROKEN };
                let text = |t: String| egui::RichText::new(t).monospace().color(colour);
                ui.label(text(link.seq.to_string()));
                ui.label(text(match link.tick {
                    Some(tick) => format!("{} (tick {tick})", link.table),
                    None => link.table.to_string(),
                }));
                ui.label(text(format!("{}…", &link.prev_hash[..16])))
                    .on_hover_text(&link.prev_hash);
                ui.label(text(format!("{}…", &link.hash[..16])))
                    .on_hover_text(&link.hash);
                if link.tampered {
                    ui.colored_label(BROKEN, "changed");
                } else if ui
                    .small_button("Tamper")
                    .on_hover_text("Change one field of this row in the copy")
                    .clicked()
                {
                    tamper = Some(link.seq);
                }
                ui.end_row();
            }
        });
    if let Some(seq) = tamper {
        demo.request = Some(ChainRequest::Tamper(seq));
    }
    if let Some(line) = &demo.verify_line {
        ui.add_space(4.0);
        ui.label(
            egui::RichText::new("$ dais ledger verify")
                .monospace()
                .weak(),
        );
        let colour = if line.starts_with("error") {
            BROKEN
        } else {
            HOLDS
        };
        ui.add(egui::Label::new(egui::RichText::new(line).monospace().color(colour)).wrap());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::source::LiveRun;
    use bevy::ecs::system::RunSystemOnce;

    #[test]
    fn the_demo_copies_the_live_recording_and_a_tampered_row_turns_the_chain_red() {
        let mut config = crate::config::SimConfig::default();
        config.simulation.agents = 12;
        config.simulation.steps = 60;
        let ledger = crate::ledger::sqlite::SqliteLedger::in_memory().unwrap();
        let mut run = LiveRun::start(config, Some(Box::new(ledger)));
        for _ in 0..30 {
            run.step();
        }
        let mut world = World::new();
        world.insert_resource(ViewSource::Live(Box::new(run)));
        world.init_resource::<ViewData>();
        world.init_resource::<ChainDemo>();
        world.resource_mut::<ChainDemo>().request = Some(ChainRequest::Copy);
        world.run_system_once(serve_requests).unwrap();
        let demo = world.resource::<ChainDemo>();
        assert!(demo.problem.is_none(), "{:?}", demo.problem);
        assert_eq!(demo.links.len(), SHOWN);
        assert!(demo.links.iter().all(|l| l.holds));
        let line = demo.verify_line.clone().unwrap();
        assert!(
            line.starts_with("ledger incomplete: 30 of 60 ticks"),
            "{line}"
        );

        let target = demo.links[5].seq;
        world.resource_mut::<ChainDemo>().request = Some(ChainRequest::Tamper(target));
        world.run_system_once(serve_requests).unwrap();
        let demo = world.resource::<ChainDemo>();
        let red: Vec<bool> = demo.links.iter().map(|l| !l.holds).collect();
        assert_eq!(red, [false, false, false, false, false, true, true, true]);
        let line = demo.verify_line.clone().unwrap();
        assert!(
            line.contains(&format!(
                "first broken row: {} seq {target}",
                demo.links[5].table
            )),
            "{line}"
        );

        // Copying again starts from the recording, which never changed.
        world.resource_mut::<ChainDemo>().request = Some(ChainRequest::Copy);
        world.run_system_once(serve_requests).unwrap();
        assert!(world.resource::<ChainDemo>().links.iter().all(|l| l.holds));
    }
}
