//! The legend: every colour and shape of the scene, painted with the scene's own palette.

use bevy::prelude::*;
use bevy_egui::egui;

use super::egui_colour;
use crate::gui::palette::{self, Shape};

/// Paints a palette shape into a small square with the scene's own triangles (`gui::shapes`).
fn paint(ui: &mut egui::Ui, shape: Shape, colour: Srgba, outlined: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(18.0, 18.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let centre = rect.center();
    let radius = 6.5;
    if outlined {
        painter.circle_filled(centre, radius + 2.0, egui_colour(palette::OUTLINE));
    }
    let template = crate::gui::shapes::template(shape);
    let fill = egui_colour(colour);
    let mut mesh = egui::Mesh::default();
    for p in &template.vertices {
        // egui's y axis points down; the scene's points up.
        mesh.colored_vertex(centre + egui::vec2(p[0] * radius, -p[1] * radius), fill);
    }
    mesh.indices.extend_from_slice(&template.indices);
    painter.add(egui::Shape::mesh(mesh));
}

/// How many of the run's links the scene draws: all, or one in `stride` of `total`.
pub struct DrawnLinks {
    pub stride: usize,
    pub total: usize,
}

pub fn show(
    ui: &mut egui::Ui,
    cut_links: bool,
    drawn_links: DrawnLinks,
    size_by_links: &mut bool,
    large_text: bool,
) {
    ui.strong("Agents");
    for state in palette::AGENT_STATES {
        let (name, meaning) = palette::agent_label(state);
        ui.horizontal(|ui| {
            paint(
                ui,
                palette::agent_shape(state),
                palette::agent_colour(state),
                true,
            );
            ui.label(egui::RichText::new(name).strong())
                .on_hover_text(meaning);
            // With large text the meanings would run off the panel: they stay on hover.
            if !large_text {
                ui.label(egui::RichText::new(meaning).small().weak());
            }
        });
    }
    ui.strong("Messages on the wire");
    for kind in crate::model::MessageKind::ALL {
        let (name, meaning) = palette::message_label(kind);
        ui.horizontal(|ui| {
            paint(
                ui,
                palette::message_shape(kind),
                palette::message_colour(kind),
                false,
            );
            ui.label(egui::RichText::new(name).strong())
                .on_hover_text(meaning);
            if !large_text {
                ui.label(egui::RichText::new(meaning).small().weak());
            }
        });
    }
    if cut_links {
        ui.horizontal(|ui| {
            paint(ui, Shape::Cross, palette::CUT_LINK, false);
            ui.label(egui::RichText::new("Cut link").strong());
            ui.label(
                egui::RichText::new("carries nothing until restored")
                    .small()
                    .weak(),
            );
        });
    }
    if drawn_links.stride > 1 {
        ui.label(
            egui::RichText::new(format!(
                "Links: 1 in {} drawn ({} in all)",
                drawn_links.stride, drawn_links.total
            ))
            .small(),
        )
        .on_hover_text(
            "A network this large shows its links as a haze: an even sample keeps the view fast",
        );
    }
    ui.checkbox(
        size_by_links,
        egui::RichText::new("Bigger nodes have more links").small(),
    )
    .on_hover_text("Node size by number of links: a scale-free network's hubs stand out");
    ui.label(
        egui::RichText::new("Drag to pan, scroll to zoom, click a node to inspect it. Space plays or pauses; F12 saves a screenshot.")
            .small()
            .weak(),
    );
}
