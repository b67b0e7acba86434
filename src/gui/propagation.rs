//! Messages in flight, animated along their edges: signatures ripple out from their origin, ballots flow back to
//! talliers, decisions follow. One layer of instanced shapes (`shape_layers`), refilled every frame while the
//! animation moves.

use bevy::prelude::*;

use super::ViewSet;
use super::graph_view::{MESSAGE_Z, SceneLayout};
use super::palette;
use super::shape_layers::{ShapeInstance, ShapeLayer, ShapeLayers};
use super::source::{Playback, ViewData};
use crate::model::MessageKind;

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, draw_messages.in_set(ViewSet::Scene));
}

/// Beyond this many messages a frame draws an even sample of them: a flood of a million is a blur anyway.
pub const MAX_DRAWN_MESSAGES: usize = 40_000;

/// How far along its link (0 the sender's centre, 1 the receiver's) a message is drawn, given the animation phase
/// within the tick (0 start, 1 end). It travels between the rims of the two nodes (`inset` from each centre, on a
/// link `length` long), so it is never mistaken for a node's own shape.
pub fn travel_fraction(length: f32, inset: f32, progress: (f32, f32), phase: f32) -> f32 {
    let t = progress.0 + (progress.1 - progress.0) * phase.clamp(0.0, 1.0);
    let inset = inset.min(length * 0.3) / length.max(f32::EPSILON);
    inset + (1.0 - 2.0 * inset) * t
}

fn draw_messages(
    data: Res<ViewData>,
    scene: Res<SceneLayout>,
    playback: Res<Playback>,
    layers: Res<ShapeLayers>,
    mut shapes: Query<&mut ShapeLayer>,
    mut drawn: Local<(u64, u64, f32)>,
) {
    let key = (data.frame_generation, scene.generation, playback.phase);
    if *drawn == key {
        return; // paused: nothing moved
    }
    *drawn = key;
    let Ok(mut layer) = shapes.get_mut(layers.messages) else {
        return;
    };
    let messages = &data.frame.messages;
    let stride = messages.len().div_ceil(MAX_DRAWN_MESSAGES).max(1);
    let r = scene.node_radius;
    // Each kind's shape, colour and size once; no outline: messages are many and small, and their colours already
    // stand out from the dark links.
    let styled = MessageKind::ALL.map(|kind| {
        ShapeInstance::new(
            palette::message_shape(kind),
            Vec2::ZERO,
            MESSAGE_Z,
            r * palette::message_scale(kind),
            palette::message_colour(kind),
            false,
        )
    });
    layer.replace(|list| {
        for message in messages.iter().step_by(stride) {
            let (Some(from), Some(to)) = (
                scene.positions.get(message.from as usize),
                scene.positions.get(message.to as usize),
            ) else {
                continue;
            };
            // Along the link as it is drawn: curved where it would otherwise run through a node.
            let length = Vec2::from(*from).distance(Vec2::from(*to));
            let t = travel_fraction(length, r * 1.6, hop_progress(message), playback.phase);
            let at = scene.point_on(message.from, message.to, t);
            let style = &styled[usize::from(message.kind.code())];
            list.push(style.moved_to(at, style.radius()));
        }
    });
}

/// Where along the edge (0 sender, 1 receiver) a message is at the start and at the end of this tick. A hop of
/// latency L is on screen for L + 1 ticks, so it glides across them without stopping.
pub fn hop_progress(message: &crate::ledger::FrameMessage) -> (f32, f32) {
    if message.span == 0 {
        return (0.0, 1.0);
    }
    let span = message.span as f32;
    let elapsed = (message.elapsed as f32).min(span);
    (elapsed / (span + 1.0), (elapsed + 1.0) / (span + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::FrameMessage;
    use crate::model::MessageKind;

    #[test]
    fn a_hop_glides_from_sender_to_receiver_over_its_ticks() {
        // Latency 2: on screen for ticks 10, 11 and 12, moving a third of the edge each tick.
        let at = |now| hop_progress(&FrameMessage::new(0, 1, MessageKind::Announce, 10, 12, now));
        assert_eq!(at(10), (0.0, 1.0 / 3.0));
        assert_eq!(at(11), (1.0 / 3.0, 2.0 / 3.0));
        assert_eq!(at(12), (2.0 / 3.0, 1.0));
        // Recordings without progress (span 0) animate the whole edge in one tick.
        let legacy = FrameMessage {
            from: 0,
            to: 1,
            kind: MessageKind::Ballot,
            elapsed: 0,
            span: 0,
        };
        assert_eq!(hop_progress(&legacy), (0.0, 1.0));
    }

    #[test]
    fn messages_move_from_sender_to_receiver() {
        // A link 36 long with rims 3 from each centre: the message covers 3 to 33.
        let at = |progress, phase| 36.0 * travel_fraction(36.0, 3.0, progress, phase);
        assert!((at((0.0, 1.0 / 3.0), 0.0) - 3.0).abs() < 1e-4);
        assert!((at((0.0, 1.0 / 3.0), 1.0) - 13.0).abs() < 1e-4);
        assert!((at((2.0 / 3.0, 1.0), 1.0) - 33.0).abs() < 1e-4);
        // On a short link the inset shrinks, so the message still moves.
        assert!((10.0 * travel_fraction(10.0, 5.0, (0.0, 1.0), 0.0) - 3.0).abs() < 1e-4);
    }
}
