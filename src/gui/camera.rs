//! The scene camera: it sees only the rectangle between the panels, fits the whole network into it when a run
//! opens, pans with a drag and zooms with the wheel towards the cursor. A click without a drag picks a node, or,
//! away from every node, the link nearest the click.

use bevy::input::mouse::AccumulatedMouseScroll;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::PrimaryEguiContext;

use super::layout::EXTENT;
use super::source::ViewData;
use super::{LEFT_PANEL, RIGHT_PANEL, TOP_BAR, ViewSet};

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Selection>();
    app.init_resource::<SelectedLink>();
    app.init_resource::<Focus>();
    app.init_resource::<Fitted>();
    app.add_systems(Startup, spawn_cameras);
    app.add_systems(
        Update,
        (fit_viewport, pan_and_zoom, pick_node)
            .chain()
            .in_set(ViewSet::Input),
    );
}

/// The camera that draws the graph (the egui camera is separate).
#[derive(Component)]
pub struct SceneCamera;

/// The link the class clicked (lower index first), which the inspector offers to cut or restore.
#[derive(Resource, Default, Debug, Clone, Copy, PartialEq)]
pub struct SelectedLink(pub Option<(u32, u32)>);

/// The agent whose details the inspector shows.
#[derive(Resource, Default, Debug, Clone, Copy, PartialEq)]
pub struct Selection(pub Option<u32>);

/// Drag state: where the press happened and whether it moved far enough to be a pan rather than a click.
#[derive(Default)]
struct DragState {
    pressed_at: Option<Vec2>,
    panning: bool,
}

/// The run generation, viewport size and focus the camera was last fitted to.
#[derive(Resource, Default)]
struct Fitted {
    generation: u64,
    size: UVec2,
    focus: u64,
}

/// What the camera frames: the whole network, or (a lesson's zoom) the world rectangle `area`, as (min, max).
/// Bump `generation` to apply a new one.
#[derive(Resource, Default, Debug, Clone, Copy, PartialEq)]
pub struct Focus {
    pub area: Option<(Vec2, Vec2)>,
    /// Logical pixels at the bottom of the scene kept clear (a lesson's caption box sits there).
    pub bottom_inset: f32,
    pub generation: u64,
}

impl Focus {
    pub fn on(&mut self, area: Option<(Vec2, Vec2)>) {
        self.area = area;
        self.generation += 1;
    }

    /// Keeps `inset` logical pixels clear at the bottom of the scene.
    pub fn keep_clear(&mut self, inset: f32) {
        if self.bottom_inset != inset {
            self.bottom_inset = inset;
            self.generation += 1;
        }
    }
}

/// One camera for the scene and the panels: in a software renderer every full-window pass costs milliseconds, and
/// a second camera for egui doubles them. The camera covers the whole window and is offset so the network sits in
/// the rectangle between the (opaque) panels. No MSAA for the same reason: it more than doubled the frame time
/// under lavapipe.
fn spawn_cameras(mut commands: Commands) {
    commands.spawn((SceneCamera, PrimaryEguiContext, Camera2d, Msaa::Off));
}

/// The scene's rectangle in physical pixels, or None while the window is too small to show it.
fn scene_rect(window: &Window) -> Option<(UVec2, UVec2)> {
    let scale = window.scale_factor();
    let left = (LEFT_PANEL * scale) as u32;
    let top = (TOP_BAR * scale) as u32;
    let right = (RIGHT_PANEL * scale) as u32;
    let (w, h) = (window.physical_width(), window.physical_height());
    if w <= left + right + 16 || h <= top + 16 {
        return None;
    }
    Some((UVec2::new(left, top), UVec2::new(w - left - right, h - top)))
}

/// Fits the network into the scene rectangle when a run opens or the window resizes.
fn fit_viewport(
    window: Single<&Window, With<PrimaryWindow>>,
    camera: Single<(&mut Projection, &mut Transform), With<SceneCamera>>,
    data: Res<ViewData>,
    focus: Res<Focus>,
    mut fitted: ResMut<Fitted>,
) {
    let (mut projection, mut transform) = camera.into_inner();
    let Some((position, size)) = scene_rect(&window) else {
        return;
    };
    if fitted.generation == data.run_generation
        && fitted.size == size
        && fitted.focus == focus.generation
    {
        return;
    }
    fitted.generation = data.run_generation;
    fitted.size = size;
    fitted.focus = focus.generation;
    let Projection::Orthographic(ortho) = projection.as_mut() else {
        return;
    };
    // One world unit is one logical pixel at scale 1; leave a margin so border nodes are whole.
    let scale_factor = window.scale_factor();
    let inset = focus.bottom_inset.min(size.y as f32 / scale_factor / 2.0);
    let size = UVec2::new(size.x, size.y - (inset * scale_factor) as u32);
    let logical = size.as_vec2() / scale_factor;
    // The whole layout, or the focus area with room around it (never closer than two fifths of the layout).
    let (centre, half) = match focus.area {
        Some((min, max)) => (
            (min + max) / 2.0,
            ((max - min).max_element() / 2.0 * 1.6).max(EXTENT / 2.5),
        ),
        None => (Vec2::ZERO, EXTENT),
    };
    ortho.scale = 2.0 * half * 1.1 / logical.min_element();
    // Put the layout's centre (world origin) at the centre of the scene rectangle rather than of the window.
    let scene_centre = (position.as_vec2() + size.as_vec2() / 2.0) / scale_factor;
    let window_centre = Vec2::new(window.width(), window.height()) / 2.0;
    let offset = (scene_centre - window_centre) * ortho.scale;
    transform.translation = Vec3::new(
        centre.x - offset.x,
        centre.y + offset.y,
        transform.translation.z,
    );
}

fn cursor_in_scene(window: &Window) -> Option<Vec2> {
    let cursor = window.cursor_position()?;
    let scale = window.scale_factor();
    let (pos, size) = scene_rect(window)?;
    let (min, max) = (pos.as_vec2() / scale, (pos + size).as_vec2() / scale);
    (cursor.x >= min.x && cursor.y >= min.y && cursor.x < max.x && cursor.y < max.y)
        .then_some(cursor)
}

fn pan_and_zoom(
    window: Single<&Window, With<PrimaryWindow>>,
    buttons: Res<ButtonInput<MouseButton>>,
    scroll: Res<AccumulatedMouseScroll>,
    camera: Single<(&Camera, &GlobalTransform, &mut Projection, &mut Transform), With<SceneCamera>>,
    mut drag: Local<DragState>,
    mut last_cursor: Local<Option<Vec2>>,
) {
    let (camera, global, mut projection, mut transform) = camera.into_inner();
    let Projection::Orthographic(ortho) = projection.as_mut() else {
        return;
    };
    let cursor = window.cursor_position();
    let in_scene = cursor_in_scene(&window);
    if buttons.just_pressed(MouseButton::Left) || buttons.just_pressed(MouseButton::Right) {
        drag.pressed_at = in_scene;
        drag.panning = false;
    }
    let held = buttons.pressed(MouseButton::Left) || buttons.pressed(MouseButton::Right);
    if held
        && let (Some(start), Some(now), Some(previous)) = (drag.pressed_at, cursor, *last_cursor)
    {
        if now.distance(start) > 4.0 {
            drag.panning = true;
        }
        if drag.panning {
            let delta = now - previous;
            transform.translation.x -= delta.x * ortho.scale;
            transform.translation.y += delta.y * ortho.scale;
        }
    }
    *last_cursor = cursor;

    if scroll.delta.y != 0.0
        && let Some(at) = in_scene
    {
        // Zoom about the cursor: the world point under it stays put.
        let before = camera.viewport_to_world_2d(global, at).ok();
        let factor = (1.0 - scroll.delta.y.clamp(-10.0, 10.0) * 0.1).clamp(0.5, 2.0);
        let new_scale = (ortho.scale * factor).clamp(0.01, 50.0);
        if let Some(before) = before {
            let offset = before - transform.translation.truncate();
            let moved = offset * (new_scale / ortho.scale);
            transform.translation.x = before.x - moved.x;
            transform.translation.y = before.y - moved.y;
        }
        ortho.scale = new_scale;
    }
}

/// The agent nearest a world point, if the point is within `reach` of it.
pub fn nearest_agent(positions: &[[f32; 2]], point: Vec2, reach: f32) -> Option<u32> {
    positions
        .iter()
        .enumerate()
        .map(|(i, p)| (i, Vec2::from(*p).distance_squared(point)))
        .filter(|&(_, d)| d <= reach * reach)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i as u32)
}

/// The link nearest a world point, if the point is within `reach` of the link as drawn (curved or straight).
pub fn nearest_link(
    scene: &super::graph_view::SceneLayout,
    edges: &[(u32, u32)],
    point: Vec2,
    reach: f32,
) -> Option<(u32, u32)> {
    let to_piece = |pa: Vec2, pb: Vec2| {
        let along = (pb - pa).length_squared();
        let t = if along > 0.0 {
            ((point - pa).dot(pb - pa) / along).clamp(0.0, 1.0)
        } else {
            0.0
        };
        pa.lerp(pb, t).distance_squared(point)
    };
    edges
        .iter()
        .filter(|&&(a, b)| (a.max(b) as usize) < scene.positions.len())
        .map(|&(a, b)| {
            let line = scene.polyline(a, b, super::graph_view::CURVE_PIECES);
            let nearest = line
                .windows(2)
                .map(|w| to_piece(w[0], w[1]))
                .fold(f32::INFINITY, f32::min);
            ((a, b), nearest)
        })
        .filter(|&(_, d)| d <= reach * reach)
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(link, _)| link)
}

#[allow(clippy::too_many_arguments)]
fn pick_node(
    window: Single<&Window, With<PrimaryWindow>>,
    buttons: Res<ButtonInput<MouseButton>>,
    camera: Single<(&Camera, &GlobalTransform), With<SceneCamera>>,
    scene: Res<super::graph_view::SceneLayout>,
    data: Res<ViewData>,
    mut selection: ResMut<Selection>,
    mut link: ResMut<SelectedLink>,
    mut press: Local<Option<Vec2>>,
) {
    let cursor = cursor_in_scene(&window);
    if buttons.just_pressed(MouseButton::Left) {
        *press = cursor;
    }
    if !buttons.just_released(MouseButton::Left) {
        return;
    }
    let (Some(start), Some(end)) = (press.take(), cursor) else {
        return;
    };
    if start.distance(end) > 4.0 {
        return; // that was a pan
    }
    let (camera, global) = *camera;
    if let Ok(world) = camera.viewport_to_world_2d(global, end) {
        // Generous reach: small nodes are hard to hit on a projector.
        let reach = scene.node_radius * 2.5;
        selection.0 = nearest_agent(&scene.positions, world, reach);
        // Away from every node, a click near a link picks the link (to cut it or restore it).
        link.0 = match selection.0 {
            Some(_) => None,
            None => nearest_link(&scene, &data.edges, world, scene.node_radius * 1.5),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_nearest_node_within_reach() {
        let positions = [[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]];
        assert_eq!(nearest_agent(&positions, Vec2::new(8.0, 1.0), 5.0), Some(1));
        assert_eq!(nearest_agent(&positions, Vec2::new(15.0, 30.0), 5.0), None);
        assert_eq!(nearest_agent(&[], Vec2::ZERO, 5.0), None);
    }

    #[test]
    fn picks_the_link_nearest_a_click_between_nodes() {
        let scene = crate::gui::graph_view::SceneLayout {
            positions: vec![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]],
            ..Default::default()
        };
        let edges = [(0, 1), (0, 2), (1, 2)];
        let pick = |x, y| nearest_link(&scene, &edges, Vec2::new(x, y), 2.0);
        assert_eq!(pick(5.0, 1.0), Some((0, 1)));
        assert_eq!(pick(5.2, 5.0), Some((1, 2)), "the diagonal");
        assert_eq!(pick(20.0, 20.0), None, "nothing within reach");
        assert_eq!(pick(14.0, 0.0), None, "past the link's end");
        // A curved link is picked along its curve, not its chord.
        let mut curved = scene;
        curved.curves.insert((0, 1), Vec2::new(5.0, -10.0));
        let pick = |x, y| nearest_link(&curved, &[(0, 1)], Vec2::new(x, y), 2.0);
        assert_eq!(pick(5.0, 0.0), None, "the chord is empty");
        assert_eq!(pick(5.0, -5.0), Some((0, 1)), "the curve's middle");
    }
}
