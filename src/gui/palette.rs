//! Colours and shapes, shared by the scene and the legend so the legend can never drift from the picture. Each
//! agent state has its own shape as well as its own colour, so the picture reads without colour vision too.
//!
//! A high-contrast palette (the "High contrast" toggle) swaps the colours for Okabe and Ito's colour-blind-safe set
//! on a black background, with lighter links; the shapes stay as they are.

use std::sync::atomic::{AtomicBool, Ordering};

use bevy::prelude::*;

use crate::model::{AgentState, MessageKind};

pub const BACKGROUND: Color = Color::srgb(0.059, 0.078, 0.106);
/// Opaque: a muted blue-grey that reads as a thin line over the background without competing with the nodes.
pub const EDGE: Srgba = Srgba::new(0.20, 0.25, 0.31, 1.0);

/// Whether the view draws with the high-contrast palette. One view per process, so one switch.
static HIGH_CONTRAST: AtomicBool = AtomicBool::new(false);

pub fn set_high_contrast(on: bool) {
    HIGH_CONTRAST.store(on, Ordering::Relaxed);
}

pub fn high_contrast() -> bool {
    HIGH_CONTRAST.load(Ordering::Relaxed)
}

/// The scene's background in the current palette.
pub fn background() -> Color {
    if high_contrast() {
        Color::BLACK
    } else {
        BACKGROUND
    }
}

/// Links in the current palette: lighter on black, so they read from the back of the room.
pub fn edge_colour() -> Srgba {
    if high_contrast() {
        Srgba::new(0.55, 0.57, 0.62, 1.0)
    } else {
        EDGE
    }
}
/// Drawn behind every node so it stands out from the edges.
pub const OUTLINE: Srgba = Srgba::new(0.02, 0.03, 0.05, 1.0);
pub const SELECTED: Srgba = Srgba::new(1.0, 1.0, 1.0, 1.0);
/// A lesson's highlight: a bright yellow halo, yellower than a signature's dot.
pub const HIGHLIGHT: Srgba = Srgba::new(1.0, 0.95, 0.0, 1.0);
/// A link an intervention cut: magenta, a colour no agent or message uses.
pub const CUT_LINK: Srgba = Srgba::new(1.0, 0.24, 0.78, 1.0);

/// The outline of a shape, in units of the node radius.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Circle,
    /// A cheap octagon for things drawn by the ten thousand (messages).
    Dot,
    /// A circle with a hole: under attack.
    Ring,
    Triangle,
    Square,
    /// Immune, yet leaking: a square's cousin, so it reads as "immune" first.
    Hexagon,
    Diamond,
    Cross,
    /// A five-pointed star: byzantine agents, which nothing else on screen resembles (a diamond read as a decision
    /// message on its way).
    Star,
}

/// Every agent state, in the legend's order.
pub const AGENT_STATES: [AgentState; 7] = [
    AgentState::Healthy,
    AgentState::UnderAttack,
    AgentState::Compromised,
    AgentState::Immune,
    AgentState::ImmuneLeaking,
    AgentState::Byzantine,
    AgentState::Crashed,
];

pub fn agent_colour(state: AgentState) -> Srgba {
    agent_colour_in(state, high_contrast())
}

/// An agent state's colour in the usual palette or the high-contrast one.
pub fn agent_colour_in(state: AgentState, high_contrast: bool) -> Srgba {
    if high_contrast {
        // Okabe & Ito (2008): distinguishable with any common colour-vision deficiency.
        let [r, g, b] = match state {
            AgentState::Healthy => [86, 180, 233],
            AgentState::UnderAttack => [230, 159, 0],
            AgentState::Compromised => [213, 94, 0],
            AgentState::Immune => [0, 158, 115],
            AgentState::ImmuneLeaking => [240, 228, 66],
            AgentState::Byzantine => [204, 121, 167],
            AgentState::Crashed => [190, 190, 190],
        };
        return Srgba::rgb_u8(r, g, b);
    }
    match state {
        AgentState::Healthy => Srgba::new(0.31, 0.64, 0.88, 1.0),
        AgentState::UnderAttack => Srgba::new(0.96, 0.65, 0.14, 1.0),
        AgentState::Compromised => Srgba::new(0.90, 0.28, 0.30, 1.0),
        AgentState::Immune => Srgba::new(0.19, 0.77, 0.55, 1.0),
        AgentState::ImmuneLeaking => Srgba::new(0.78, 0.82, 0.22, 1.0),
        AgentState::Byzantine => Srgba::new(0.69, 0.49, 1.0, 1.0),
        AgentState::Crashed => Srgba::new(0.48, 0.50, 0.55, 1.0),
    }
}

pub fn agent_shape(state: AgentState) -> Shape {
    match state {
        AgentState::Healthy => Shape::Circle,
        AgentState::UnderAttack => Shape::Ring,
        AgentState::Compromised => Shape::Triangle,
        AgentState::Immune => Shape::Square,
        AgentState::ImmuneLeaking => Shape::Hexagon,
        AgentState::Byzantine => Shape::Star,
        AgentState::Crashed => Shape::Cross,
    }
}

pub fn agent_label(state: AgentState) -> (&'static str, &'static str) {
    match state {
        AgentState::Healthy => ("Healthy", "no attack has reached it"),
        AgentState::UnderAttack => ("Under attack", "a campaign has reached it"),
        AgentState::Compromised => ("Compromised", "attack traffic got through this tick"),
        // The default immunity.block_share; the README's Metrics section has the full definition.
        AgentState::Immune => ("Immune", "blocks ≥95% of each active campaign"),
        AgentState::ImmuneLeaking => ("Immune, leaking", "immune, yet attack got through"),
        AgentState::Byzantine => ("Byzantine", "lies in votes by its strategy"),
        AgentState::Crashed => ("Crashed", "silent: sends and votes nothing"),
    }
}

/// A message kind's name and meaning in the legend.
pub fn message_label(kind: MessageKind) -> (&'static str, &'static str) {
    match kind {
        MessageKind::Announce => ("Signature", "a proposed threat signature, spreading"),
        MessageKind::Ballot => ("Ballot", "a vote on a signature, going back to its tallier"),
        MessageKind::Decision => ("Decision", "the certified outcome, spreading"),
    }
}

pub fn message_colour(kind: MessageKind) -> Srgba {
    match kind {
        MessageKind::Announce => Srgba::new(1.0, 0.88, 0.40, 1.0),
        MessageKind::Ballot => Srgba::new(0.49, 0.83, 0.99, 1.0),
        MessageKind::Decision => Srgba::new(0.97, 0.97, 0.97, 1.0),
    }
}

pub fn message_shape(kind: MessageKind) -> Shape {
    match kind {
        MessageKind::Announce => Shape::Dot,
        MessageKind::Ballot => Shape::Square,
        MessageKind::Decision => Shape::Diamond,
    }
}

/// Message size relative to a node's radius.
pub fn message_scale(kind: MessageKind) -> f32 {
    match kind {
        MessageKind::Announce => 0.55,
        MessageKind::Ballot => 0.38,
        MessageKind::Decision => 0.6,
    }
}

/// Vertex buffers for a batch of flat shapes: one mesh, one draw call.
#[derive(Default)]
pub struct ShapeBatch {
    pub positions: Vec<[f32; 3]>,
    pub colours: Vec<[f32; 4]>,
    pub indices: Vec<u32>,
}

impl ShapeBatch {
    pub fn clear(&mut self) {
        self.positions.clear();
        self.colours.clear();
        self.indices.clear();
    }

    /// One filled shape: its template (tessellated once by lyon, `gui::shapes`) scaled and moved into place.
    pub fn shape(&mut self, shape: Shape, centre: Vec2, radius: f32, colour: Srgba) {
        let colour = LinearRgba::from(colour).to_f32_array();
        let template = super::shapes::template(shape);
        let base = self.positions.len() as u32;
        for p in &template.vertices {
            self.positions
                .push([centre.x + p[0] * radius, centre.y + p[1] * radius, 0.0]);
            self.colours.push(colour);
        }
        self.indices
            .extend(template.indices.iter().map(|&i| base + i));
    }

    /// A shape with a dark outline around it, as nodes are drawn.
    pub fn outlined(&mut self, shape: Shape, centre: Vec2, radius: f32, colour: Srgba) {
        let border = (radius * 0.22).max(0.8);
        let backdrop = match shape {
            Shape::Ring | Shape::Cross => Shape::Circle,
            other => other,
        };
        self.shape(backdrop, centre, radius + border, OUTLINE);
        self.shape(shape, centre, radius, colour);
    }

    /// A thick straight segment.
    pub fn segment(&mut self, a: Vec2, b: Vec2, width: f32, colour: [f32; 4]) {
        let dir = (b - a).normalize_or_zero();
        let n = Vec2::new(-dir.y, dir.x) * (width / 2.0);
        let base = self.positions.len() as u32;
        for p in [a - n, a + n, b + n, b - n] {
            self.positions.push([p.x, p.y, 0.0]);
            self.colours.push(colour);
        }
        self.indices
            .extend_from_slice(&[base, base + 1, base + 2, base, base + 2, base + 3]);
    }

    /// Moves the buffers into a mesh, leaving this batch empty (its next fill allocates anew, the mesh keeps its
    /// asset).
    pub fn write_to(&mut self, mesh: &mut Mesh) {
        if self.indices.is_empty() {
            // Bevy's mesh allocator mishandles a mesh that shrinks to nothing ("use-after-free ... unallocated
            // key"); one invisible degenerate triangle keeps every mesh non-empty.
            self.positions.extend([[0.0; 3]; 3]);
            self.colours.extend([[0.0; 4]; 3]);
            self.indices.extend([0, 1, 2]);
        }
        mesh.insert_attribute(
            Mesh::ATTRIBUTE_POSITION,
            std::mem::take(&mut self.positions),
        );
        mesh.insert_attribute(Mesh::ATTRIBUTE_COLOR, std::mem::take(&mut self.colours));
        mesh.insert_indices(bevy::mesh::Indices::U32(std::mem::take(&mut self.indices)));
    }
}

/// An empty mesh for a batch, kept on the CPU side too so it can be refilled.
pub fn batch_mesh() -> Mesh {
    let mut mesh = Mesh::new(
        bevy::mesh::PrimitiveTopology::TriangleList,
        bevy::asset::RenderAssetUsages::default(),
    );
    ShapeBatch::default().write_to(&mut mesh);
    mesh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_colour_and_shape() {
        for (i, a) in AGENT_STATES.iter().enumerate() {
            for b in &AGENT_STATES[i + 1..] {
                for contrast in [false, true] {
                    assert_ne!(agent_colour_in(*a, contrast), agent_colour_in(*b, contrast));
                }
                assert_ne!(agent_shape(*a), agent_shape(*b));
            }
        }
    }

    #[test]
    fn byzantine_agents_look_like_no_message() {
        let byzantine = agent_shape(AgentState::Byzantine);
        for kind in MessageKind::ALL {
            assert_ne!(message_shape(kind), byzantine, "{kind:?}");
        }
    }

    #[test]
    fn shapes_are_indexed_triangles() {
        let mut batch = ShapeBatch::default();
        for state in AGENT_STATES {
            batch.outlined(
                agent_shape(state),
                Vec2::new(3.0, 4.0),
                10.0,
                agent_colour(state),
            );
        }
        assert_eq!(batch.indices.len() % 3, 0);
        assert!(
            batch
                .indices
                .iter()
                .all(|&i| (i as usize) < batch.positions.len())
        );
        assert_eq!(batch.positions.len(), batch.colours.len());
    }
}
