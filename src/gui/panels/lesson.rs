//! The lesson's caption box (over the bottom of the scene) and the lesson picker (in the left panel). The box shows
//! the step's caption, its question with the choices, then the answer; what the class must do; and Next.

use std::sync::OnceLock;

use bevy_egui::egui;

use super::{ALARM, GOOD, WARNING};
use crate::gui::lesson::{ActiveLesson, PendingLesson};
use crate::gui::source::ViewData;
use crate::lesson::run::Facts;
use crate::lesson::{BUILTIN, Lesson};

/// The shipped lessons' names and titles, parsed once.
fn shipped() -> &'static [(&'static str, String)] {
    static TITLES: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    TITLES.get_or_init(|| {
        BUILTIN
            .iter()
            .filter_map(|(name, _)| Lesson::open(name).ok().map(|l| (*name, l.title)))
            .collect()
    })
}

/// The picker: one button per shipped lesson.
pub fn picker(ui: &mut egui::Ui, pending: &mut PendingLesson) {
    egui::CollapsingHeader::new("Lessons").show(ui, |ui| {
        for (name, title) in shipped() {
            if ui
                .button(title.as_str())
                .on_hover_text(format!("dais lesson {name}, or ?lesson={name} in the page"))
                .clicked()
            {
                pending.0 = Lesson::open(name).ok();
            }
        }
    });
}

/// The caption box of the lesson being taught.
pub fn window(ctx: &egui::Context, active: &mut ActiveLesson, data: &ViewData, playing: bool) {
    let mut close = false;
    let Some(view) = active.0.as_mut() else {
        return;
    };
    let steps = view.run.lesson.steps.len();
    let title = view.run.lesson.title.clone();
    egui::Window::new(title)
        .id(egui::Id::new("lesson"))
        .collapsible(false)
        .resizable(false)
        .default_width(560.0)
        .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(-20.0, -12.0))
        // No drop shadow: a software renderer pays for every blurred pixel of it, every frame.
        .frame(egui::Frame::window(&ctx.global_style()).shadow(egui::epaint::Shadow::NONE))
        .show(ctx, |ui| {
            ui.set_max_width(560.0);
            if view.run.finished() {
                ui.label(egui::RichText::new("Lesson complete.").size(18.0).strong());
                close = ui.button("Close").clicked();
                return;
            }
            let Some(index) = view.shown else {
                ui.horizontal(|ui| {
                    let what = if playing {
                        "watch the run…"
                    } else {
                        "press ▶ Play (Space) to go on"
                    };
                    ui.label(
                        egui::RichText::new(format!(
                            "Step {} of {steps}: {what}",
                            view.run.step + 1
                        ))
                        .weak(),
                    );
                    close = ui.small_button("End lesson").clicked();
                });
                return;
            };
            let step = view.run.lesson.steps[index].clone();
            ui.label(
                egui::RichText::new(format!("Step {} of {steps}", index + 1))
                    .small()
                    .weak(),
            );
            if !step.caption.is_empty() {
                ui.label(egui::RichText::new(&step.caption).size(17.0));
            }
            if let Some(question) = &step.question {
                ui.add_space(4.0);
                ui.label(egui::RichText::new(&question.ask).size(17.0).strong());
                let answered = match view.run.phase {
                    crate::lesson::run::Phase::Shown { answered } => answered,
                    _ => None,
                };
                for (i, choice) in question.choices.iter().enumerate() {
                    let label = format!("{}  {choice}", (b'A' + i as u8) as char);
                    match answered {
                        None => {
                            if ui.button(egui::RichText::new(label).size(16.0)).clicked() {
                                view.run.answer(i);
                            }
                        }
                        Some(picked) => {
                            let colour = if i == question.answer {
                                GOOD
                            } else if i == picked {
                                ALARM
                            } else {
                                ui.visuals().weak_text_color()
                            };
                            ui.colored_label(colour, egui::RichText::new(label).size(16.0));
                        }
                    }
                }
                if let Some(picked) = answered {
                    let verdict = if picked == question.answer {
                        "Right."
                    } else {
                        "Not quite."
                    };
                    ui.label(
                        egui::RichText::new(format!("{verdict} {}", question.explain)).size(16.0),
                    );
                }
            }
            let decisions: Vec<_> = Vec::new();
            let facts = Facts {
                tick: data.tick,
                metrics: None,
                decisions: &decisions,
                interventions: &data.interventions,
            };
            if let Some(kind) = step.wait_for {
                let done = view.run.intervention_made(&facts);
                let text = if done {
                    "Done.".to_string()
                } else {
                    format!("Your turn: {}.", kind.request())
                };
                ui.colored_label(
                    if done { GOOD } else { WARNING },
                    egui::RichText::new(text).size(16.0).strong(),
                );
            }
            ui.horizontal(|ui| {
                let ready = view.run.can_continue(&facts);
                // Enter, Page Down or the right arrow: what a presenter's clicker sends.
                let key = !ui.ctx().egui_wants_keyboard_input()
                    && ui.input(|i| {
                        [egui::Key::Enter, egui::Key::PageDown, egui::Key::ArrowRight]
                            .iter()
                            .any(|&k| i.key_pressed(k))
                    });
                let button = ui
                    .add_enabled(
                        ready,
                        egui::Button::new(egui::RichText::new("Next ▶").size(16.0)),
                    )
                    .on_hover_text("Enter, Page Down or →");
                if ready && (button.clicked() || key) {
                    view.continue_requested = true;
                }
                close = ui.small_button("End lesson").clicked();
            });
        });
    if close {
        active.0 = None;
    }
}
