//! The app icon (`assets/icon.png`, drawn by `tools/make_icon.py`) on the desktop window. winit windows can only be
//! touched on the main thread, so this runs with a `NonSendMarker`, once, as soon as bevy has made the window.

use bevy::ecs::system::NonSendMarker;
use bevy::prelude::*;

const ICON_PNG: &[u8] = include_bytes!("../../assets/icon.png");

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, set_window_icon);
}

/// The icon as winit takes it: RGBA pixels and their size.
pub fn icon_rgba() -> Option<(Vec<u8>, u32, u32)> {
    let image = image::load_from_memory(ICON_PNG).ok()?.into_rgba8();
    let (width, height) = image.dimensions();
    Some((image.into_raw(), width, height))
}

fn set_window_icon(_main_thread: NonSendMarker, mut done: Local<bool>) {
    if *done {
        return;
    }
    bevy::winit::WINIT_WINDOWS.with_borrow(|windows| {
        let Some((rgba, width, height)) = icon_rgba() else {
            *done = true;
            return;
        };
        for window in windows.windows.values() {
            if let Ok(icon) = winit::window::Icon::from_rgba(rgba.clone(), width, height) {
                window.set_window_icon(Some(icon));
                *done = true;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_icon_decodes_to_a_square_of_pixels() {
        let (rgba, width, height) = super::icon_rgba().expect("assets/icon.png decodes");
        assert_eq!((width, height), (64, 64));
        assert_eq!(rgba.len(), 64 * 64 * 4);
    }
}
