//! The legend: every colour and shape of the scene, painted with the scene's own palette.

use bevy::prelude::*;
use bevy_egui::egui;

use super::egui_colour;
use crate::gui::palette::{self, Shape};

/// Paints a palette shape into a small square, as the scene draws it.
fn paint(ui: &mut egui::Ui, shape: Shape, colour: Srgba, outlined: bool) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(18.0, 18.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let centre = rect.center();
    let radius = 6.5;
    let fill = egui_colour(colour);
    let dark = egui_colour(palette::OUTLINE);
    let points = |outline: &[[f32; 2]], r: f32| -> Vec<egui::Pos2> {
        // egui's y axis points down; the scene's points up.
        outline
            .iter()
            .map(|p| centre + egui::vec2(p[0] * r, -p[1] * r))
            .collect()
    };
    if outlined {
        painter.circle_filled(centre, radius + 2.0, dark);
    }
    match shape {
        Shape::Circle | Shape::Dot => {
            painter.circle_filled(centre, radius, fill);
        }
        Shape::Ring => {
            painter.circle_stroke(
                centre,
                radius * (1.0 + palette::RING_HOLE) / 2.0,
                egui::Stroke::new(radius * (1.0 - palette::RING_HOLE), fill),
            );
        }
        Shape::Cross | Shape::Star => {
            for piece in palette::quad_pieces(shape) {
                painter.add(egui::Shape::convex_polygon(
                    points(piece, radius),
                    fill,
                    egui::Stroke::NONE,
                ));
            }
        }
        other => {
            painter.add(egui::Shape::convex_polygon(
                points(palette::convex_outline(other), radius),
                fill,
                egui::Stroke::NONE,
            ));
        }
    }
}

/// `cut_links`: the run has cut a link, so the legend explains the mark.
pub fn show(ui: &mut egui::Ui, cut_links: bool) {
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
            ui.label(egui::RichText::new(meaning).small().weak());
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
            ui.label(egui::RichText::new(name).strong());
            ui.label(egui::RichText::new(meaning).small().weak());
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
    ui.label(
        egui::RichText::new("Bigger nodes have more links. Drag to pan, scroll to zoom, click a node to inspect it. Space plays or pauses; F12 saves a screenshot.")
            .small()
            .weak(),
    );
}
