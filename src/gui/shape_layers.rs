//! Nodes and messages drawn as instances of one quad: each shape is one 32-byte instance (centre, depth, radius,
//! colour, shape), and the fragment shader cuts the shape out of the quad with a signed distance, outline included.
//! A frame of 100,000 agents uploads 3.2 MB and draws 200,000 triangles in one call; the tessellated templates this
//! replaced needed about 16 triangles and 20 vertices a node, refilled on every change, and cost a software renderer
//! 0.25 s a frame.
//!
//! Each layer (`ShapeLayer`, one entity for the nodes and one for the messages) is filled in the main world; the
//! render world copies a layer when its generation changes, keeps one GPU buffer per layer (grown, never shrunk),
//! and queues one item per layer in the transparent 2D phase, sorted by the layer's depth. That phase runs after the
//! opaque meshes (links, intervention marks), tests against their depth and writes none, so messages sit over nodes
//! and nodes over links; within a layer, later instances cover earlier ones.

use bevy::core_pipeline::core_2d::{CORE_2D_DEPTH_FORMAT, Transparent2d};
use bevy::ecs::system::SystemParamItem;
use bevy::ecs::system::lifetimeless::SRes;
use bevy::math::FloatOrd;
use bevy::mesh::VertexBufferLayout;
use bevy::prelude::*;
use bevy::render::render_phase::{
    AddRenderCommand, DrawFunctions, PhaseItem, PhaseItemExtraIndex, RenderCommand,
    RenderCommandResult, SetItemPipeline, TrackedRenderPass, ViewSortedRenderPhases,
};
use bevy::render::render_resource::{
    BlendState, Buffer, BufferDescriptor, BufferUsages, ColorTargetState, ColorWrites,
    CompareFunction, DepthBiasState, DepthStencilState, FragmentState, MultisampleState,
    PipelineCache, PrimitiveState, RenderPipelineDescriptor, SpecializedRenderPipeline,
    SpecializedRenderPipelines, StencilState, VertexAttribute, VertexFormat, VertexState,
    VertexStepMode,
};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::sync_world::{MainEntity, RenderEntity, SyncToRenderWorld};
use bevy::render::view::ExtractedView;
use bevy::render::{Extract, ExtractSchedule, Render, RenderApp, RenderStartup, RenderSystems};
use bevy::shader::ShaderDefVal;
use bevy::sprite_render::{
    Mesh2dPipeline, Mesh2dPipelineKey, SetMesh2dViewBindGroup, ViewKeyCache, init_mesh_2d_pipeline,
};

use super::palette::Shape;

/// One shape on screen: `[x, y, z, radius]` in world units, then linear RGB and the style code (the shape's index,
/// plus `OUTLINED` when it has a dark rim), as floats so one vertex format carries both.
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct ShapeInstance {
    pub place: [f32; 4],
    pub style: [f32; 4],
}

/// Added to a style code: draw the shape on a dark backdrop a little larger than itself.
const OUTLINED: u32 = 16;

impl ShapeInstance {
    pub fn new(
        shape: Shape,
        centre: Vec2,
        z: f32,
        radius: f32,
        colour: Srgba,
        outlined: bool,
    ) -> Self {
        let [r, g, b, _] = LinearRgba::from(colour).to_f32_array();
        let code = shape_code(shape) + if outlined { OUTLINED } else { 0 };
        Self {
            place: [centre.x, centre.y, z, radius],
            style: [r, g, b, code as f32],
        }
    }

    pub fn radius(&self) -> f32 {
        self.place[3]
    }

    /// The same shape and colour at another place and size.
    pub fn moved_to(&self, centre: Vec2, radius: f32) -> Self {
        Self {
            place: [centre.x, centre.y, self.place[2], radius],
            style: self.style,
        }
    }
}

/// The shader's number for each shape (`sdf` in `SHAPE_SHADER`).
fn shape_code(shape: Shape) -> u32 {
    match shape {
        Shape::Circle | Shape::Dot => 0,
        Shape::Ring => 1,
        Shape::Triangle => 2,
        Shape::Square => 3,
        Shape::Hexagon => 4,
        Shape::Diamond => 5,
        Shape::Cross => 6,
        Shape::Star => 7,
    }
}

/// One layer of shapes, in drawing order, at depth `z`; `generation` changes whenever `list` does.
#[derive(Component, Default)]
#[require(SyncToRenderWorld)]
pub struct ShapeLayer {
    pub list: Vec<ShapeInstance>,
    pub generation: u64,
    pub z: f32,
}

impl ShapeLayer {
    /// Replaces the list (keeping its allocation) and marks it changed.
    pub fn replace(&mut self, fill: impl FnOnce(&mut Vec<ShapeInstance>)) {
        self.list.clear();
        fill(&mut self.list);
        self.generation += 1;
    }
}

/// The scene's two layers.
#[derive(Resource, Clone, Copy)]
pub struct ShapeLayers {
    pub nodes: Entity,
    pub messages: Entity,
}

pub(super) fn plugin(app: &mut App) {
    let layers = ShapeLayers {
        nodes: app
            .world_mut()
            .spawn(ShapeLayer {
                z: super::graph_view::NODE_Z,
                ..default()
            })
            .id(),
        messages: app
            .world_mut()
            .spawn(ShapeLayer {
                z: super::graph_view::MESSAGE_Z,
                ..default()
            })
            .id(),
    };
    app.insert_resource(layers);
    let [r, g, b, _] = LinearRgba::from(super::palette::OUTLINE).to_f32_array();
    let source = SHAPE_SHADER.replace("OUTLINE_RGB", &format!("vec3({r:?}, {g:?}, {b:?})"));
    let shader = app
        .world_mut()
        .resource_mut::<Assets<Shader>>()
        .add(Shader::from_wgsl(source, file!()));
    let Some(render_app) = app.get_sub_app_mut(RenderApp) else {
        return;
    };
    render_app
        .insert_resource(ShapeShader(shader))
        .init_resource::<ExtractedLayers>()
        .init_resource::<SpecializedRenderPipelines<ShapePipeline>>()
        .add_render_command::<Transparent2d, DrawShapes>()
        .add_systems(
            RenderStartup,
            init_shape_pipeline.after(init_mesh_2d_pipeline),
        )
        .add_systems(ExtractSchedule, extract_layers)
        .add_systems(
            Render,
            (
                queue_layers.in_set(RenderSystems::Queue),
                upload_layers.in_set(RenderSystems::PrepareResources),
            ),
        );
}

#[derive(Resource)]
struct ShapeShader(Handle<Shader>);

/// The render world's copy of one layer and the GPU buffer that holds it.
struct ExtractedLayer {
    /// The layer's render-world entity and its main-world one.
    entity: (Entity, MainEntity),
    z: f32,
    list: Vec<ShapeInstance>,
    generation: u64,
    uploaded: u64,
    buffer: Option<Buffer>,
    capacity: usize,
}

/// Every layer, in the order the main world made them (two: a linear search is the fastest lookup).
#[derive(Resource, Default)]
struct ExtractedLayers(Vec<ExtractedLayer>);

fn extract_layers(
    layers: Extract<Query<(Entity, RenderEntity, &ShapeLayer)>>,
    mut extracted: ResMut<ExtractedLayers>,
) {
    for (main, render, layer) in &layers {
        let main = MainEntity::from(main);
        let index = match extracted.0.iter().position(|e| e.entity.1 == main) {
            Some(index) => index,
            None => {
                extracted.0.push(ExtractedLayer {
                    entity: (render, main),
                    z: layer.z,
                    list: Vec::new(),
                    generation: 0,
                    uploaded: 0,
                    buffer: None,
                    capacity: 0,
                });
                extracted.0.len() - 1
            }
        };
        let copy = &mut extracted.0[index];
        copy.entity = (render, main);
        copy.z = layer.z;
        if copy.generation != layer.generation {
            copy.list.clone_from(&layer.list);
            copy.generation = layer.generation;
        }
    }
}

const INSTANCE_BYTES: usize = std::mem::size_of::<ShapeInstance>();

fn upload_layers(
    mut extracted: ResMut<ExtractedLayers>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
) {
    for layer in &mut extracted.0 {
        if layer.uploaded == layer.generation || layer.list.is_empty() {
            continue;
        }
        let needed = layer.list.len();
        if layer.buffer.is_none() || layer.capacity < needed {
            // Room for half as many again, so a layer that grows does not reallocate every frame.
            let capacity = needed + needed / 2;
            layer.buffer = Some(device.create_buffer(&BufferDescriptor {
                label: Some("dais shape instances"),
                size: (capacity * INSTANCE_BYTES) as u64,
                usage: BufferUsages::VERTEX | BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }));
            layer.capacity = capacity;
        }
        if let Some(buffer) = &layer.buffer {
            queue.write_buffer(buffer, 0, bytemuck::cast_slice(&layer.list));
        }
        layer.uploaded = layer.generation;
    }
}

#[derive(Resource)]
struct ShapePipeline {
    mesh2d: Mesh2dPipeline,
    shader: Handle<Shader>,
}

fn init_shape_pipeline(
    mut commands: Commands,
    mesh2d: Res<Mesh2dPipeline>,
    shader: Res<ShapeShader>,
) {
    commands.insert_resource(ShapePipeline {
        mesh2d: mesh2d.clone(),
        shader: shader.0.clone(),
    });
}

impl SpecializedRenderPipeline for ShapePipeline {
    type Key = Mesh2dPipelineKey;

    fn specialize(&self, key: Self::Key) -> RenderPipelineDescriptor {
        // The same output conversions the 2D mesh pipeline applies, so nodes keep the colours they had as meshes.
        let mut shader_defs: Vec<ShaderDefVal> = Vec::new();
        if key.contains(Mesh2dPipelineKey::TONEMAP_IN_SHADER) {
            shader_defs.push("TONEMAP_IN_SHADER".into());
            shader_defs.push(ShaderDefVal::UInt(
                "TONEMAPPING_LUT_TEXTURE_BINDING_INDEX".into(),
                2,
            ));
            shader_defs.push(ShaderDefVal::UInt(
                "TONEMAPPING_LUT_SAMPLER_BINDING_INDEX".into(),
                3,
            ));
            let method = key.intersection(Mesh2dPipelineKey::TONEMAP_METHOD_RESERVED_BITS);
            let methods = [
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_NONE,
                    "TONEMAP_METHOD_NONE",
                ),
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_REINHARD,
                    "TONEMAP_METHOD_REINHARD",
                ),
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_REINHARD_LUMINANCE,
                    "TONEMAP_METHOD_REINHARD_LUMINANCE",
                ),
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_ACES_FITTED,
                    "TONEMAP_METHOD_ACES_FITTED",
                ),
                (Mesh2dPipelineKey::TONEMAP_METHOD_AGX, "TONEMAP_METHOD_AGX"),
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_SOMEWHAT_BORING_DISPLAY_TRANSFORM,
                    "TONEMAP_METHOD_SOMEWHAT_BORING_DISPLAY_TRANSFORM",
                ),
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_BLENDER_FILMIC,
                    "TONEMAP_METHOD_BLENDER_FILMIC",
                ),
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_TONY_MC_MAPFACE,
                    "TONEMAP_METHOD_TONY_MC_MAPFACE",
                ),
                (
                    Mesh2dPipelineKey::TONEMAP_METHOD_PBR_NEUTRAL,
                    "TONEMAP_METHOD_PBR_NEUTRAL",
                ),
            ];
            if let Some((_, name)) = methods.iter().find(|(bits, _)| *bits == method) {
                shader_defs.push((*name).into());
            }
        }
        if key.contains(Mesh2dPipelineKey::SRGB_COMPOSITING) {
            shader_defs.push("SRGB_OUTPUT".into());
        }
        if key.contains(Mesh2dPipelineKey::OKLAB_COMPOSITING) {
            shader_defs.push("OKLAB_OUTPUT".into());
        }
        let instances = VertexBufferLayout {
            array_stride: INSTANCE_BYTES as u64,
            step_mode: VertexStepMode::Instance,
            attributes: vec![
                VertexAttribute {
                    format: VertexFormat::Float32x4,
                    offset: 0,
                    shader_location: 0,
                },
                VertexAttribute {
                    format: VertexFormat::Float32x4,
                    offset: VertexFormat::Float32x4.size(),
                    shader_location: 1,
                },
            ],
        };
        RenderPipelineDescriptor {
            label: Some("dais_shape_instances".into()),
            layout: vec![self.mesh2d.view_layout.clone()],
            vertex: VertexState {
                shader: self.shader.clone(),
                shader_defs: shader_defs.clone(),
                buffers: vec![instances],
                ..default()
            },
            fragment: Some(FragmentState {
                shader: self.shader.clone(),
                shader_defs,
                targets: vec![Some(ColorTargetState {
                    format: key.target_format(),
                    // Opaque with discard: blending made a software renderer read back every pixel it drew.
                    blend: None::<BlendState>,
                    write_mask: ColorWrites::ALL,
                })],
                ..default()
            }),
            primitive: PrimitiveState::default(),
            depth_stencil: Some(DepthStencilState {
                format: CORE_2D_DEPTH_FORMAT,
                depth_write_enabled: Some(false),
                depth_compare: Some(CompareFunction::GreaterEqual),
                stencil: StencilState::default(),
                bias: DepthBiasState::default(),
            }),
            multisample: MultisampleState {
                count: key.msaa_samples(),
                mask: !0,
                alpha_to_coverage_enabled: false,
            },
            ..default()
        }
    }
}

// A render-world queue system reads the pipeline, its cache, the layers, the views' keys and their phases.
#[allow(clippy::too_many_arguments)]
fn queue_layers(
    draw_functions: Res<DrawFunctions<Transparent2d>>,
    shape_pipeline: Res<ShapePipeline>,
    mut pipelines: ResMut<SpecializedRenderPipelines<ShapePipeline>>,
    pipeline_cache: Res<PipelineCache>,
    extracted: Res<ExtractedLayers>,
    view_keys: Res<ViewKeyCache>,
    mut phases: ResMut<ViewSortedRenderPhases<Transparent2d>>,
    views: Query<(&MainEntity, &ExtractedView)>,
) {
    let draw_shapes = draw_functions.read().id::<DrawShapes>();
    for (view_entity, view) in &views {
        let Some(phase) = phases.get_mut(&view.retained_view_entity) else {
            continue;
        };
        let Some(&key) = view_keys.get(view_entity) else {
            continue;
        };
        let pipeline = pipelines.specialize(&pipeline_cache, &shape_pipeline, key);
        for layer in extracted.0.iter().filter(|layer| !layer.list.is_empty()) {
            phase.add_transient(Transparent2d {
                sort_key: FloatOrd(layer.z),
                entity: layer.entity,
                pipeline,
                draw_function: draw_shapes,
                batch_range: 0..1,
                extracted_index: usize::MAX,
                extra_index: PhaseItemExtraIndex::None,
                indexed: false,
            });
        }
    }
}

type DrawShapes = (
    SetItemPipeline,
    SetMesh2dViewBindGroup<0>,
    DrawShapeInstances,
);

/// Six vertices (the quad's two triangles, placed by the vertex shader) for every instance of the item's layer.
struct DrawShapeInstances;

impl<P: PhaseItem> RenderCommand<P> for DrawShapeInstances {
    type Param = SRes<ExtractedLayers>;
    type ViewQuery = ();
    type ItemQuery = ();

    fn render<'w>(
        item: &P,
        _view: (),
        _entity: Option<()>,
        extracted: SystemParamItem<'w, '_, Self::Param>,
        pass: &mut TrackedRenderPass<'w>,
    ) -> RenderCommandResult {
        let extracted = extracted.into_inner();
        let Some(layer) = extracted
            .0
            .iter()
            .find(|layer| layer.entity.1 == item.main_entity())
        else {
            return RenderCommandResult::Skip;
        };
        let Some(buffer) = &layer.buffer else {
            return RenderCommandResult::Skip;
        };
        pass.set_vertex_buffer(0, buffer.slice(..));
        pass.draw(0..6, 0..layer.list.len().min(layer.capacity) as u32);
        RenderCommandResult::Success
    }
}

/// Signed distances in units of the node radius (negative inside), for the same outlines `gui::shapes`
/// tessellates for the legend. A rim is the backdrop's distance less the border: a circle behind rings and crosses,
/// the shape itself behind the others.
const SHAPE_SHADER: &str = r"
#import bevy_sprite::mesh2d_view_bindings::view
#ifdef TONEMAP_IN_SHADER
#import bevy_core_pipeline::tonemapping
#endif
#ifdef SRGB_OUTPUT
#import bevy_render::color_operations::linear_to_srgb
#endif
#ifdef OKLAB_OUTPUT
#import bevy_render::color_operations::linear_rgb_to_oklab
#endif

struct Instance {
    @location(0) place: vec4<f32>,
    @location(1) style: vec4<f32>,
};

struct Fragment {
    @builtin(position) clip: vec4<f32>,
    @location(0) local: vec2<f32>,
    @location(1) colour: vec3<f32>,
    @location(2) @interpolate(flat) shape: u32,
    @location(3) @interpolate(flat) border: f32,
};

@vertex
fn vertex(@builtin(vertex_index) corner_index: u32, instance: Instance) -> Fragment {
    var corners = array<vec2<f32>, 6>(
        vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(1.0, 1.0),
        vec2(-1.0, -1.0), vec2(1.0, 1.0), vec2(-1.0, 1.0),
    );
    let code = u32(instance.style.w);
    // World units per pixel (the 2D camera is orthographic and unrotated).
    let pixel = 2.0 / (abs(view.clip_from_world[0][0]) * view.viewport.z);
    // A node never shrinks below a pixel, so a zoomed-out network of 100,000 still shows every agent's colour; below
    // two pixels a rim would hide the colour, so it is left off.
    let radius = max(instance.place.w, 0.75 * pixel);
    var border = 0.0;
    if code >= 16u && radius > 2.0 * pixel {
        border = max(0.22, 0.8 / radius);
    }
    // Star tips reach 1.3 radii, the diamond 1.2 and the triangle 1.15.
    let reach = 1.32 + border;
    var out: Fragment;
    out.local = corners[corner_index] * reach;
    out.clip = view.clip_from_world * vec4(instance.place.xy + out.local * radius, instance.place.z, 1.0);
    out.colour = instance.style.xyz;
    out.shape = code % 16u;
    out.border = border;
    return out;
}

fn polygon_distance(p: vec2<f32>, corners: ptr<function, array<vec2<f32>, 10>>, count: u32) -> f32 {
    var d = dot(p - (*corners)[0], p - (*corners)[0]);
    var s = 1.0;
    var j = count - 1u;
    for (var i = 0u; i < count; i++) {
        let e = (*corners)[j] - (*corners)[i];
        let w = p - (*corners)[i];
        let b = w - e * clamp(dot(w, e) / dot(e, e), 0.0, 1.0);
        d = min(d, dot(b, b));
        // Parenthesised: a bare `a < b` in an argument list parses as the start of a template.
        let c = vec3<bool>((p.y >= (*corners)[i].y), (p.y < (*corners)[j].y), (e.x * w.y > e.y * w.x));
        if all(c) || !any(c) {
            s = -s;
        }
        j = i;
    }
    return s * sqrt(d);
}

fn box_distance(p: vec2<f32>, half: vec2<f32>) -> f32 {
    let q = abs(p) - half;
    return length(max(q, vec2(0.0))) + min(max(q.x, q.y), 0.0);
}

// Convex shapes are the largest of their edges' signed distances (exact inside, mitred outside, like the scaled
// rims of the lyon shapes), with no arrays or loops: a software WebGL runs this for every fragment of every node.
// Only the star, drawn for Byzantine agents alone, walks its ten corners.
fn sdf(shape: u32, p: vec2<f32>) -> f32 {
    switch shape {
        case 1u: {
            return max(length(p) - 1.0, 0.5 - length(p));
        }
        case 2u: {
            // Corners (0, 1.15), (-1, -0.62), (1, -0.62).
            let side = normalize(vec2(1.77, 1.0));
            return max(-0.62 - p.y, side.x * abs(p.x) + side.y * (p.y - 1.15));
        }
        case 3u: {
            return box_distance(p, vec2(0.85, 0.85));
        }
        case 4u: {
            // Corners on the unit circle at 30 + 60k degrees: edges 0.866 from the centre, facing 0 and +-60 degrees.
            let q = abs(p);
            return max(q.x, dot(q, vec2(0.5, 0.8660254))) - 0.8660254;
        }
        case 5u: {
            return (abs(p.x) + abs(p.y) - 1.2) * 0.70710678;
        }
        case 6u: {
            let r = 0.70710678;
            let a = vec2(r * (p.x + p.y), r * (p.y - p.x));
            return min(box_distance(a, vec2(1.0, 0.3)), box_distance(a, vec2(0.3, 1.0)));
        }
        case 7u: {
            var corners: array<vec2<f32>, 10>;
            for (var k = 0u; k < 10u; k++) {
                let a = 1.5707963 + f32(k) * 6.2831853 / 10.0;
                let r = select(0.55, 1.3, k % 2u == 0u);
                corners[k] = vec2(r * cos(a), r * sin(a));
            }
            return polygon_distance(p, &corners, 10u);
        }
        default: {
            return length(p) - 1.0;
        }
    }
}

@fragment
fn fragment(in: Fragment) -> @location(0) vec4<f32> {
    let inside = sdf(in.shape, in.local) <= 0.0;
    var colour = vec4(in.colour, 1.0);
    if in.border > 0.0 {
        var backdrop = in.shape;
        if backdrop == 1u || backdrop == 6u {
            backdrop = 0u;
        }
        if sdf(backdrop, in.local) > in.border {
            discard;
        }
        if !inside {
            colour = vec4(OUTLINE_RGB, 1.0);
        }
    } else if !inside {
        discard;
    }
#ifdef TONEMAP_IN_SHADER
    colour = tonemapping::tone_mapping(colour, view.color_grading);
#endif
#ifdef SRGB_OUTPUT
    colour = vec4(linear_to_srgb(colour.rgb), colour.a);
#endif
#ifdef OKLAB_OUTPUT
    colour = vec4(linear_rgb_to_oklab(colour.rgb), colour.a);
#endif
    return colour;
}
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gui::palette;

    #[test]
    fn an_instance_is_the_vertex_layout_the_pipeline_declares() {
        // Two Float32x4 attributes, nothing between or after them.
        assert_eq!(INSTANCE_BYTES, 2 * VertexFormat::Float32x4.size() as usize);
        let node = ShapeInstance::new(
            Shape::Star,
            Vec2::new(3.0, -4.0),
            1.0,
            5.0,
            palette::agent_colour(crate::model::AgentState::Byzantine),
            true,
        );
        assert_eq!(node.place, [3.0, -4.0, 1.0, 5.0]);
        assert_eq!(node.style[3] as u32, shape_code(Shape::Star) + OUTLINED);
        let moved = node.moved_to(Vec2::new(7.0, 8.0), 2.0);
        assert_eq!(
            (moved.place, moved.style),
            ([7.0, 8.0, 1.0, 2.0], node.style)
        );
    }

    #[test]
    fn every_agent_state_has_its_own_shader_shape() {
        let codes: std::collections::BTreeSet<u32> = palette::AGENT_STATES
            .iter()
            .map(|&state| shape_code(palette::agent_shape(state)))
            .collect();
        assert_eq!(codes.len(), palette::AGENT_STATES.len());
        // Below the outline flag, and each handled by the shader's `sdf` (0 is its default, the circle).
        assert!(codes.iter().all(|&code| code < OUTLINED));
        for code in codes.iter().filter(|&&code| code > 0) {
            assert!(
                SHAPE_SHADER.contains(&format!("case {code}u:")),
                "the shader draws shape {code}"
            );
        }
    }
}
