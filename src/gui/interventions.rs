//! The class's hands on the run: the inspector's buttons and keys ask for interventions here, and this plugin hands
//! them to the live simulation, which schedules each for its next tick in the run's config (the view never touches
//! simulation state itself). It also draws what interventions leave on the graph: cut links as magenta dashes, the
//! link the class picked, and a lesson's highlighted nodes and links.

use bevy::prelude::*;

use super::ViewSet;
use super::camera::SelectedLink;
use super::graph_view::{SceneLayout, spawn_batch, vertex_colour_material};
use super::palette::{self, ShapeBatch};
use super::source::{ViewData, ViewSource};
use crate::config::Intervention;
use crate::config::interventions::cut_links_at;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<InterventionRequests>();
    app.add_systems(Startup, spawn_overlay);
    app.add_systems(Update, send_requests.in_set(ViewSet::Input));
    app.add_systems(Update, draw_link_overlay.in_set(ViewSet::Scene));
}

/// Interventions the panels asked for this frame, in the order asked.
#[derive(Resource, Default, Debug)]
pub struct InterventionRequests(pub Vec<Intervention>);

/// Hands each request to the live run, for its next tick. In a replay there is no run to change: the panels offer
/// "Continue live from here" instead, so a request there is dropped.
pub fn send_requests(
    mut requests: ResMut<InterventionRequests>,
    mut source: ResMut<ViewSource>,
    mut data: ResMut<ViewData>,
) {
    if requests.0.is_empty() {
        return;
    }
    let ViewSource::Live(run) = source.as_mut() else {
        requests.0.clear();
        return;
    };
    for action in requests.0.drain(..) {
        if let Err(refused) = run.simulation.intervene(action) {
            data.problem = Some(refused.to_string());
        }
    }
    data.interventions = run.simulation.config().interventions.clone();
}

/// Z order: over the edges, under the nodes.
const OVERLAY_Z: f32 = 0.5;
/// A cut link is drawn as this many dashes.
const DASHES: usize = 5;

#[derive(Resource)]
struct OverlayMesh(Handle<Mesh>);

fn spawn_overlay(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let material = vertex_colour_material(&mut materials);
    let mesh = spawn_batch(&mut commands, &mut meshes, material, OVERLAY_Z);
    commands.insert_resource(OverlayMesh(mesh));
}

/// What the overlay was last drawn for: frame and layout generations, the picked link, interventions known, and
/// the lesson's highlight.
type OverlayKey = (u64, u64, Option<(u32, u32)>, usize, u64);

/// Refills the overlay when the tick, the layout, the picked link or the interventions change; otherwise costs a
/// comparison.
fn draw_link_overlay(
    data: Res<ViewData>,
    scene: Res<SceneLayout>,
    picked: Res<SelectedLink>,
    lesson: Res<super::lesson::ActiveLesson>,
    overlay: Res<OverlayMesh>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut drawn: Local<Option<OverlayKey>>,
) {
    let highlight = lesson.0.as_ref();
    let key = (
        data.frame_generation,
        scene.generation,
        picked.0,
        data.interventions.len(),
        highlight.map_or(0, |l| l.highlight_generation),
    );
    if *drawn == Some(key) {
        return;
    }
    *drawn = Some(key);
    let mut batch = ShapeBatch::default();
    let width = (scene.node_radius * 0.18).max(0.6);
    let at = |i: u32| scene.positions.get(i as usize).map(|p| Vec2::from(*p));
    let known = |a: u32, b: u32| at(a).is_some() && at(b).is_some();
    // A link as drawn: straight, or along its curve.
    let band = |batch: &mut ShapeBatch, a: u32, b: u32, from: f32, to: f32, width: f32, colour| {
        let pieces = if scene.curves.contains_key(&(a.min(b), a.max(b))) {
            6
        } else {
            1
        };
        for i in 0..pieces {
            let (t0, t1) = (
                from + (to - from) * i as f32 / pieces as f32,
                from + (to - from) * (i + 1) as f32 / pieces as f32,
            );
            batch.segment(
                scene.point_on(a, b, t0),
                scene.point_on(a, b, t1),
                width,
                colour,
            );
        }
    };
    if let Some((a, b)) = picked.0.filter(|&(a, b)| known(a, b)) {
        band(
            &mut batch,
            a,
            b,
            0.0,
            1.0,
            width * 4.0,
            LinearRgba::from(palette::SELECTED).to_f32_array(),
        );
    }
    // A lesson's highlight: a halo round each node, a broad band along each link.
    if let Some(lesson) = highlight {
        let halo = LinearRgba::from(palette::HIGHLIGHT).to_f32_array();
        for &(a, b) in lesson.highlight_links.iter().filter(|&&(a, b)| known(a, b)) {
            band(&mut batch, a, b, 0.0, 1.0, width * 6.0, halo);
        }
        for &agent in &lesson.highlight_agents {
            if let Some(p) = at(agent) {
                let scale = scene.node_scale.get(agent as usize).copied().unwrap_or(1.0);
                batch.shape(
                    palette::Shape::Ring,
                    p,
                    scene.node_radius * scale * 1.9,
                    palette::HIGHLIGHT,
                );
            }
        }
    }
    let colour = LinearRgba::from(palette::CUT_LINK).to_f32_array();
    for (a, b) in cut_links_at(&data.interventions, data.tick) {
        if !known(a, b) {
            continue;
        }
        // Dashes with gaps between them and a magenta cross at the middle: a broken line reads as "cut" without a
        // legend, even on a ring's short links.
        let pieces = (2 * DASHES - 1) as f32;
        for dash in 0..DASHES {
            let (t0, t1) = (
                2.0 * dash as f32 / pieces,
                (2.0 * dash as f32 + 1.0) / pieces,
            );
            band(&mut batch, a, b, t0, t1, width * 4.0, colour);
        }
        batch.outlined(
            palette::Shape::Cross,
            scene.point_on(a, b, 0.5),
            scene.node_radius * 1.2,
            palette::CUT_LINK,
        );
    }
    if let Some(mut mesh) = meshes.get_mut(&overlay.0) {
        batch.write_to(&mut mesh);
    }
}

#[cfg(test)]
mod tests {
    use bevy::ecs::system::RunSystemOnce;

    use super::*;
    use crate::config::SimConfig;
    use crate::gui::source::LiveRun;

    #[test]
    fn a_click_becomes_an_intervention_of_the_live_run_at_its_next_tick() {
        let mut config = SimConfig::default();
        config.simulation.agents = 12;
        config.simulation.steps = 40;
        let mut run = LiveRun::start(config, None);
        for _ in 0..5 {
            run.step();
        }
        let mut world = World::new();
        world.insert_resource(ViewSource::Live(Box::new(run)));
        world.init_resource::<ViewData>();
        world.insert_resource(InterventionRequests(vec![
            Intervention::Crash(3),
            Intervention::Cut(1, 2),
            Intervention::Revive(99),
        ]));
        world.run_system_once(send_requests).unwrap();

        let expected = vec![(6, Intervention::Crash(3)), (6, Intervention::Cut(1, 2))];
        let data = world.resource::<ViewData>();
        assert_eq!(
            data.interventions, expected,
            "the view lists what it asked for"
        );
        let problem = data.problem.clone().unwrap_or_default();
        assert!(problem.contains("interventions[2].agent"), "{problem}");
        assert!(world.resource::<InterventionRequests>().0.is_empty());
        let mut source = world.resource_mut::<ViewSource>();
        let ViewSource::Live(run) = source.as_mut() else {
            unreachable!()
        };
        assert_eq!(run.simulation.config().interventions, expected);
        run.step();
        let frame = run.simulation.agent(3, 0).unwrap();
        assert_eq!(
            frame.crashed_since,
            Some(6),
            "applied at the start of tick 6"
        );
        assert_eq!(
            crate::config::interventions::cut_links_at(&expected, 6),
            [(1, 2)].into()
        );
    }
}
