//! Every shape the scene and the legend draw, tessellated once by lyon into a template of triangles in units of the
//! node radius: stars and crosses as single concave outlines, a ring as a circle with a hole. Frames only copy
//! templates into the shared meshes (scaled and moved), so nothing is tessellated per frame, and the legend paints
//! the very same triangles.

use std::sync::LazyLock;

use lyon_tessellation::math::{Point, point};
use lyon_tessellation::path::{Path, Winding};
use lyon_tessellation::{
    BuffersBuilder, FillOptions, FillRule, FillTessellator, FillVertex, VertexBuffers,
};

use super::palette::Shape;

/// One shape's triangles around the origin, in units of the radius.
#[derive(Debug, Default)]
pub struct Template {
    pub vertices: Vec<[f32; 2]>,
    pub indices: Vec<u32>,
}

/// Inner radius of the ring, as a fraction of the outer.
pub const RING_HOLE: f32 = 0.5;

/// How far a circle's chords may stray from the true circle, as a fraction of its radius: fine for the legend and
/// the marks drawn as meshes, coarse (about an octagon) for the cheap dot.
const FINE: f32 = 0.01;
const COARSE: f32 = 0.08;

fn polygon(builder: &mut lyon_tessellation::path::path::Builder, corners: &[[f32; 2]]) {
    builder.begin(point(corners[0][0], corners[0][1]));
    for c in &corners[1..] {
        builder.line_to(point(c[0], c[1]));
    }
    builder.close();
}

fn outline(shape: Shape) -> (Path, FillRule) {
    let mut b = Path::builder();
    let origin = Point::origin();
    let rule = match shape {
        Shape::Circle | Shape::Dot => {
            b.add_circle(origin, 1.0, Winding::Positive);
            FillRule::NonZero
        }
        Shape::Ring => {
            b.add_circle(origin, 1.0, Winding::Positive);
            b.add_circle(origin, RING_HOLE, Winding::Negative);
            FillRule::EvenOdd
        }
        Shape::Triangle => {
            polygon(&mut b, &[[0.0, 1.15], [-1.0, -0.62], [1.0, -0.62]]);
            FillRule::NonZero
        }
        Shape::Square => {
            polygon(
                &mut b,
                &[[-0.85, -0.85], [0.85, -0.85], [0.85, 0.85], [-0.85, 0.85]],
            );
            FillRule::NonZero
        }
        Shape::Hexagon => {
            let corners: Vec<[f32; 2]> = (0..6)
                .map(|i| {
                    let a = std::f32::consts::TAU * (i as f32 + 0.5) / 6.0;
                    [a.cos(), a.sin()]
                })
                .collect();
            polygon(&mut b, &corners);
            FillRule::NonZero
        }
        Shape::Diamond => {
            polygon(&mut b, &[[0.0, -1.2], [1.2, 0.0], [0.0, 1.2], [-1.2, 0.0]]);
            FillRule::NonZero
        }
        Shape::Cross => {
            // Two bars at 45 degrees, each wound the same way: non-zero fills their union.
            let (w, l) = (0.3, 1.0);
            for s in [1.0f32, -1.0] {
                let d = std::f32::consts::FRAC_1_SQRT_2;
                let p = |a: f32, c: f32| [d * a - s * d * c, s * d * a + d * c];
                // Along, then across: counter-clockwise for both bars.
                polygon(&mut b, &[p(-l, -w), p(l, -w), p(l, w), p(-l, w)]);
            }
            FillRule::NonZero
        }
        Shape::Star => {
            let (tip, inner) = (1.3, 0.55);
            let corners: Vec<[f32; 2]> = (0..10)
                .map(|k| {
                    let r = if k % 2 == 0 { tip } else { inner };
                    let a = std::f32::consts::FRAC_PI_2 + k as f32 * std::f32::consts::TAU / 10.0;
                    [r * a.cos(), r * a.sin()]
                })
                .collect();
            polygon(&mut b, &corners);
            FillRule::NonZero
        }
    };
    (b.build(), rule)
}

fn tessellate(shape: Shape, tolerance: f32) -> Template {
    let (path, rule) = outline(shape);
    let mut buffers: VertexBuffers<[f32; 2], u32> = VertexBuffers::new();
    FillTessellator::new()
        .tessellate_path(
            &path,
            &FillOptions::tolerance(tolerance).with_fill_rule(rule),
            &mut BuffersBuilder::new(&mut buffers, |v: FillVertex| v.position().to_array()),
        )
        .expect("the built-in shapes tessellate");
    Template {
        vertices: buffers.vertices,
        indices: buffers.indices,
    }
}

const SHAPES: [Shape; 9] = [
    Shape::Circle,
    Shape::Dot,
    Shape::Ring,
    Shape::Triangle,
    Shape::Square,
    Shape::Hexagon,
    Shape::Diamond,
    Shape::Cross,
    Shape::Star,
];

static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(|| {
    SHAPES
        .iter()
        .map(|&shape| tessellate(shape, if shape == Shape::Dot { COARSE } else { FINE }))
        .collect()
});

/// A shape's template.
pub fn template(shape: Shape) -> &'static Template {
    let at = SHAPES
        .iter()
        .position(|&s| s == shape)
        .expect("every shape has a template");
    &TEMPLATES[at]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The area a template's triangles cover.
    fn area(t: &Template) -> f32 {
        t.indices
            .chunks(3)
            .map(|tri| {
                let [a, b, c] = [0, 1, 2].map(|i| t.vertices[tri[i] as usize]);
                ((b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1])).abs() / 2.0
            })
            .sum()
    }

    #[test]
    fn each_shape_covers_its_true_area() {
        let pi = std::f32::consts::PI;
        let close = |shape, expected: f32| {
            let got = area(template(shape));
            assert!(
                (got - expected).abs() < expected * 0.02,
                "{shape:?}: {got} against {expected}"
            );
        };
        close(Shape::Circle, pi);
        close(Shape::Ring, pi * (1.0 - RING_HOLE * RING_HOLE));
        close(Shape::Square, 1.7 * 1.7);
        close(Shape::Diamond, 2.0 * 1.2 * 1.2);
        // Two bars of 2 x 0.6 overlapping in a 0.6 x 0.6 square: the union, not twice the middle.
        close(Shape::Cross, 2.0 * 2.0 * 0.6 - 0.6 * 0.6);
        // A star's area: ten triangles from the centre to consecutive corners.
        let star = 10.0 * 0.5 * 1.3 * 0.55 * (std::f32::consts::TAU / 10.0).sin();
        close(Shape::Star, star);
        assert!(template(Shape::Dot).vertices.len() < template(Shape::Circle).vertices.len());
    }
}
