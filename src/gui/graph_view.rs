//! The network itself: all edges in one mesh (built once per run) and all nodes as instances of one quad
//! (`shape_layers`, refilled when the frame on screen or the selection changes). Two draw calls for the whole
//! graph, and no asset is ever created after startup: the edge mesh's contents are replaced in place.

use bevy::camera::visibility::NoFrustumCulling;
use bevy::prelude::*;

use super::camera::Selection;
use super::palette::{self, ShapeBatch};
use super::shape_layers::{ShapeInstance, ShapeLayer, ShapeLayers};
use super::source::ViewData;
use super::{ViewSet, layout};
use crate::config::Topology;

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<SceneLayout>();
    app.add_systems(Startup, spawn_graph);
    app.add_systems(
        Update,
        (lay_out_run, draw_nodes).chain().in_set(ViewSet::Scene),
    );
}

/// Where the nodes are and how big they are drawn, for the current run.
#[derive(Resource, Default)]
pub struct SceneLayout {
    pub positions: Vec<[f32; 2]>,
    pub node_radius: f32,
    /// Each node's radius over `node_radius`: bigger for more links, so a scale-free network's hubs stand out.
    pub node_scale: Vec<f32>,
    /// The control point of each link drawn curved (lower index first): a straight line would run through a third
    /// node and read as two links (a ring's skip links do).
    pub curves: std::collections::HashMap<(u32, u32), Vec2>,
    pub generation: u64,
}

/// Beyond this many links the scene draws an even sample of them. At 100,000 agents the 300,000 links of a
/// small world are a grey haze at any zoom that shows the whole network, and filling them cost a software renderer
/// 0.6 s a frame; the legend says how many are drawn.
pub const MAX_DRAWN_LINKS: usize = 10_000;

/// Every how many links one is drawn, so that at most `MAX_DRAWN_LINKS` are.
pub fn link_stride(links: usize) -> usize {
    links.div_ceil(MAX_DRAWN_LINKS).max(1)
}

/// Above this many agents links stay straight: finding the ones that cross a node costs links x agents.
pub const CURVES_UP_TO: usize = 2_000;

impl SceneLayout {
    /// The point a fraction `t` of the way along the link from `a` to `b`, on its curve if it has one.
    pub fn point_on(&self, a: u32, b: u32, t: f32) -> Vec2 {
        let (pa, pb) = (
            Vec2::from(self.positions[a as usize]),
            Vec2::from(self.positions[b as usize]),
        );
        match self.curves.get(&(a.min(b), a.max(b))) {
            // A quadratic Bézier, the same whichever end it is walked from.
            Some(&control) => {
                let u = 1.0 - t;
                pa * (u * u) + control * (2.0 * u * t) + pb * (t * t)
            }
            None => pa.lerp(pb, t),
        }
    }

    /// The link as `pieces` straight pieces (one if it is straight).
    pub fn polyline(&self, a: u32, b: u32, pieces: usize) -> Vec<Vec2> {
        let pieces = if self.curves.contains_key(&(a.min(b), a.max(b))) {
            pieces.max(1)
        } else {
            1
        };
        (0..=pieces)
            .map(|i| self.point_on(a, b, i as f32 / pieces as f32))
            .collect()
    }
}

/// Pieces a curved link is drawn with.
pub const CURVE_PIECES: usize = 12;

/// The links whose straight line passes within `clearance` of another node's centre, each with the control point
/// that bends it away from the layout's centre by a third of its length.
pub fn curve_links(
    positions: &[[f32; 2]],
    edges: &[(u32, u32)],
    clearance: f32,
) -> std::collections::HashMap<(u32, u32), Vec2> {
    let mut curves = std::collections::HashMap::new();
    if positions.len() > CURVES_UP_TO {
        return curves;
    }
    for &(a, b) in edges {
        let (pa, pb) = (
            Vec2::from(positions[a as usize]),
            Vec2::from(positions[b as usize]),
        );
        let along = pb - pa;
        let length = along.length();
        if length == 0.0 {
            continue;
        }
        let blocked = positions.iter().enumerate().any(|(i, p)| {
            if i == a as usize || i == b as usize {
                return false;
            }
            let p = Vec2::from(*p);
            let t = ((p - pa).dot(along) / (length * length)).clamp(0.0, 1.0);
            t > 0.0 && t < 1.0 && pa.lerp(pb, t).distance(p) < clearance
        });
        if blocked {
            let middle = (pa + pb) / 2.0;
            let mut normal = Vec2::new(-along.y, along.x) / length;
            // Outward: away from the layout's centre (the origin), so a ring's skip links bow out of the ring.
            if normal.dot(middle) < 0.0 {
                normal = -normal;
            }
            curves.insert((a, b), middle + normal * length / 3.0);
        }
    }
    curves
}

/// A node's size for its degree: the square root of its degree over the mean, so area follows links, within limits
/// that keep leaves visible and hubs from covering their neighbours.
pub fn degree_scale(edges: &[(u32, u32)], agents: usize) -> Vec<f32> {
    let mut degree = vec![0u32; agents];
    for &(a, b) in edges {
        degree[a as usize] += 1;
        degree[b as usize] += 1;
    }
    let mean = (2 * edges.len()) as f32 / agents.max(1) as f32;
    degree
        .iter()
        .map(|&d| (d as f32 / mean.max(1.0)).sqrt().clamp(0.75, 2.5))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_links_that_run_through_a_node_are_curved_and_they_bow_outwards() {
        // Four nodes on a circle of radius 10 at 12, 3, 6 and 9 o'clock, and one in the middle.
        let positions = [
            [0.0, 10.0],
            [10.0, 0.0],
            [0.0, -10.0],
            [-10.0, 0.0],
            [0.0, 0.0],
        ];
        let edges = [(0, 1), (0, 2), (1, 2)];
        let curves = curve_links(&positions, &edges, 1.0);
        assert_eq!(
            curves.keys().collect::<Vec<_>>(),
            [&(0, 2)],
            "only 0-2 crosses the middle node"
        );
        let control = curves[&(0, 2)];
        assert!(
            control.y.abs() < 1e-4 && control.x.abs() > 5.0,
            "{control:?}"
        );
        let scene = SceneLayout {
            positions: positions.to_vec(),
            curves,
            ..Default::default()
        };
        // Walking a curved link either way gives the same points; a straight one is a line.
        assert!((scene.point_on(0, 2, 0.25) - scene.point_on(2, 0, 0.75)).length() < 1e-4);
        assert!(
            scene.point_on(0, 2, 0.5).distance(Vec2::ZERO) > 2.0,
            "clear of the middle node"
        );
        assert_eq!(scene.point_on(0, 1, 0.5), Vec2::new(5.0, 5.0));
        assert_eq!(scene.polyline(0, 1, 12).len(), 2);
        assert_eq!(scene.polyline(0, 2, 12).len(), 13);
    }

    #[test]
    fn a_large_network_draws_an_even_sample_of_its_links() {
        assert_eq!(link_stride(0), 1);
        assert_eq!(link_stride(MAX_DRAWN_LINKS), 1);
        assert_eq!(link_stride(MAX_DRAWN_LINKS + 1), 2);
        // 100,000 agents of a small world with 6 neighbours: 300,000 links, one in 30 drawn.
        let stride = link_stride(300_000);
        assert_eq!(stride, 30);
        assert!(300_000usize.div_ceil(stride) <= MAX_DRAWN_LINKS);
    }

    /// Every agent is one instance of the node layer, in the frame's state, with the selection's ring first.
    #[test]
    fn the_node_layer_holds_one_instance_per_agent_in_its_state() {
        use crate::model::AgentState;
        let mut world = World::new();
        let nodes = world
            .spawn(ShapeLayer {
                z: NODE_Z,
                ..default()
            })
            .id();
        let messages = world.spawn(ShapeLayer::default()).id();
        world.insert_resource(ShapeLayers { nodes, messages });
        let states = [
            AgentState::Healthy,
            AgentState::Byzantine,
            AgentState::Crashed,
            AgentState::Immune,
        ];
        let mut data = ViewData::default();
        data.frame.agents = states.to_vec();
        data.frame_generation = 1;
        world.insert_resource(data);
        world.insert_resource(SceneLayout {
            positions: vec![[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 0.0]],
            node_radius: 3.0,
            node_scale: vec![1.0, 2.0, 1.0, 1.0],
            generation: 1,
            ..default()
        });
        world.insert_resource(Selection(Some(1)));
        let draw = world.register_system(draw_nodes);
        world.run_system(draw).unwrap();
        let layer = world.get::<ShapeLayer>(nodes).unwrap();
        assert_eq!(layer.list.len(), 1 + states.len());
        assert_eq!(layer.generation, 1);
        let ring = &layer.list[0];
        assert_eq!(
            ring.place,
            [10.0, 0.0, NODE_Z, 12.0],
            "twice the selected node's radius"
        );
        for (i, (node, &state)) in layer.list[1..].iter().zip(&states).enumerate() {
            let expected = ShapeInstance::new(
                palette::agent_shape(state),
                Vec2::new(10.0 * i as f32, 0.0),
                NODE_Z,
                3.0 * [1.0, 2.0, 1.0, 1.0][i],
                palette::agent_colour(state),
                true,
            );
            assert_eq!(*node, expected, "agent {i}");
        }
        // Nothing changed: the layer is not refilled.
        world.run_system(draw).unwrap();
        assert_eq!(world.get::<ShapeLayer>(nodes).unwrap().generation, 1);
    }

    #[test]
    fn hubs_are_drawn_bigger_and_leaves_smaller_within_limits() {
        // A star of 10 leaves around agent 0, plus a pair.
        let mut edges: Vec<(u32, u32)> = (1..=10).map(|leaf| (0, leaf)).collect();
        edges.push((11, 12));
        let scale = degree_scale(&edges, 13);
        assert!(scale[0] > 2.0 && scale[0] <= 2.5, "{}", scale[0]);
        assert!(scale[1] < 0.8 && scale[1] >= 0.75, "{}", scale[1]);
        // A ring: every node has the mean degree, so every node keeps the layout's size.
        let ring: Vec<(u32, u32)> = (0..8).map(|i| (i, (i + 1) % 8)).collect();
        assert!(degree_scale(&ring, 8).iter().all(|&s| s == 1.0));
    }
}

#[derive(Resource)]
struct GraphMeshes {
    edges: Handle<Mesh>,
}

/// Z order: edges under nodes under messages.
pub const EDGE_Z: f32 = 0.0;
pub const NODE_Z: f32 = 1.0;
pub const MESSAGE_Z: f32 = 2.0;

/// A mesh entity whose contents are replaced in place; it spans the whole scene, so it is never culled.
pub fn spawn_batch(
    commands: &mut Commands,
    meshes: &mut Assets<Mesh>,
    material: Handle<ColorMaterial>,
    z: f32,
) -> Handle<Mesh> {
    let mesh = meshes.add(palette::batch_mesh());
    commands.spawn((
        Mesh2d(mesh.clone()),
        MeshMaterial2d(material),
        Transform::from_xyz(0.0, 0.0, z),
        NoFrustumCulling,
    ));
    mesh
}

/// One shared material: vertex colours carry all the colour. Opaque, so the depth buffer orders the layers and a
/// software renderer skips reading back every pixel it draws (blending cost it a fifth of the frame).
pub fn vertex_colour_material(materials: &mut Assets<ColorMaterial>) -> Handle<ColorMaterial> {
    materials.add(ColorMaterial {
        color: Color::WHITE,
        alpha_mode: bevy::sprite_render::AlphaMode2d::Opaque,
        ..default()
    })
}

fn spawn_graph(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    let material = vertex_colour_material(&mut materials);
    let edges = spawn_batch(&mut commands, &mut meshes, material, EDGE_Z);
    commands.insert_resource(GraphMeshes { edges });
}

/// Node radius for a layout: a third of the spacing, within limits that stay visible and do not overlap.
pub fn node_radius(spacing: f32) -> f32 {
    (spacing * 0.3).clamp(1.5, 22.0)
}

fn lay_out_run(
    data: Res<ViewData>,
    mut scene: ResMut<SceneLayout>,
    graph: Res<GraphMeshes>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut selection: ResMut<Selection>,
    style: Res<super::ViewStyle>,
) {
    if scene.generation == data.run_generation {
        return;
    }
    let topology = data.config.network.topology;
    let agents = data.agents.len();
    scene.positions = layout::positions(topology, agents, &data.edges);
    scene.node_radius = node_radius(layout::spacing(topology, agents));
    scene.node_scale = if style.size_by_links {
        degree_scale(&data.edges, agents)
    } else {
        vec![1.0; agents]
    };
    // Rings and grids line nodes up, so a link can run straight through a third node; a force-directed layout
    // spreads them, and curving its hairball would only make it busier.
    scene.curves = match topology {
        Topology::Ring | Topology::WattsStrogatz | Topology::Grid => {
            curve_links(&scene.positions, &data.edges, scene.node_radius * 1.2)
        }
        _ => Default::default(),
    };
    scene.generation = data.run_generation;
    if selection.0.is_some_and(|s| s as usize >= agents) {
        selection.0 = None;
    }

    let mut batch = ShapeBatch::default();
    let width = (scene.node_radius * 0.18).max(0.6);
    let colour = LinearRgba::from(palette::edge_colour()).to_f32_array();
    for &(a, b) in data.edges.iter().step_by(link_stride(data.edges.len())) {
        for piece in scene.polyline(a, b, CURVE_PIECES).windows(2) {
            batch.segment(piece[0], piece[1], width, colour);
        }
    }
    if let Some(mut mesh) = meshes.get_mut(&graph.edges) {
        batch.write_to(&mut mesh);
    }
}

fn draw_nodes(
    data: Res<ViewData>,
    scene: Res<SceneLayout>,
    selection: Res<Selection>,
    layers: Res<ShapeLayers>,
    mut shapes: Query<&mut ShapeLayer>,
    mut drawn: Local<(u64, u64, Option<u32>)>,
) {
    let key = (data.frame_generation, scene.generation, selection.0);
    if *drawn == key {
        return;
    }
    *drawn = key;
    let Ok(mut nodes) = shapes.get_mut(layers.nodes) else {
        return;
    };
    let r = scene.node_radius;
    let scale = |i: usize| scene.node_scale.get(i).copied().unwrap_or(1.0);
    // Each state's shape and colour once, not a colour conversion per node: a seek at 100,000 agents refills them all.
    let styled = crate::model::AgentState::ALL.map(|state| {
        ShapeInstance::new(
            palette::agent_shape(state),
            Vec2::ZERO,
            NODE_Z,
            1.0,
            palette::agent_colour(state),
            true,
        )
    });
    nodes.replace(|list| {
        if let Some(selected) = selection.0
            && let Some(p) = scene.positions.get(selected as usize)
        {
            list.push(ShapeInstance::new(
                palette::Shape::Circle,
                Vec2::from(*p),
                NODE_Z,
                r * 2.0 * scale(selected as usize),
                palette::SELECTED,
                false,
            ));
        }
        list.extend(
            scene
                .positions
                .iter()
                .zip(&data.frame.agents)
                .enumerate()
                .map(|(i, (p, &state))| {
                    styled[state as usize].moved_to(Vec2::from(*p), r * scale(i))
                }),
        );
    });
}
