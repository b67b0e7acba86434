//! The desktop (and browser) view: a Bevy 2D scene of the network plus egui panels. It draws the world and never
//! decides anything: a live run's simulation lives in its own `World` that the view steps and reads, and a replay
//! is read from the ledger, so both reach the screen through the same [`source::ViewData`].
//!
//! Per frame, in `Update`: `Input` (camera, picking) -> `Advance` (step or scrub) -> `Scene` (meshes) -> `Capture`
//! (screenshots, frame statistics). The panels run in egui's own pass.

pub mod camera;
pub mod capture;
pub mod graph_view;
#[cfg(not(target_arch = "wasm32"))]
mod icon;
pub mod interventions;
pub mod layout;
pub mod lesson;
pub mod page;
pub mod palette;
pub mod panels;
pub mod propagation;
pub mod shape_layers;
pub mod shapes;
pub mod source;
#[cfg(not(target_arch = "wasm32"))]
pub mod video;
#[cfg(target_arch = "wasm32")]
pub mod web;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::window::WindowResolution;
use bevy_egui::{EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass};

use crate::config::SimConfig;

/// Fixed panel sizes (logical pixels): the scene always gets the same rectangle, so a replay's screenshot lines up
/// with the live one pixel for pixel.
pub const TOP_BAR: f32 = 48.0;
pub const LEFT_PANEL: f32 = 300.0;
pub const RIGHT_PANEL: f32 = 340.0;
/// The window size screenshots are taken at.
pub const WINDOW_SIZE: (u32, u32) = (1280, 800);

/// The per-frame order of the view, declared once.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewSet {
    /// Keys, mouse and the panels' requests from the last frame.
    Input,
    /// The live run steps, or the replay seeks, and `ViewData` is refilled.
    Advance,
    /// Meshes are refilled from `ViewData`: nodes, edges, messages.
    Scene,
    /// Screenshots, frame timing and quitting.
    Capture,
}

/// How the view looks: larger text (about 1.5 times), the high-contrast palette, and node size by number of links
/// (on by default: a scale-free network's hubs stand out), for the back of the room.
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct ViewStyle {
    pub large_text: bool,
    pub high_contrast: bool,
    pub size_by_links: bool,
}

impl Default for ViewStyle {
    fn default() -> Self {
        Self {
            large_text: false,
            high_contrast: false,
            size_by_links: true,
        }
    }
}

/// What to open and how.
#[derive(Clone, Debug, Default)]
pub struct ViewOptions {
    /// Start playing at once instead of paused.
    pub play: bool,
    /// Ticks per second while playing.
    pub speed: Option<f32>,
    /// The tick a replay opens at.
    pub start_at: u32,
    /// Save a PNG of the window once this tick is on screen, then exit.
    pub screenshot: Option<(PathBuf, u32)>,
    /// Quit after this many seconds (for benchmarks and kiosks).
    pub quit_after: Option<f32>,
    /// The renderer's log level (`--log-level`); by default warnings, or errors only for a screenshot.
    pub log_level: Option<String>,
    /// Record the live run to this SQLite ledger.
    #[cfg(not(target_arch = "wasm32"))]
    pub ledger: Option<PathBuf>,
    /// `--metrics-addr`: the live run reports each tick to this endpoint, as a headless run does.
    #[cfg(not(target_arch = "wasm32"))]
    pub telemetry: Option<std::sync::Arc<crate::ops::RunTelemetry>>,
    /// `replay --video`: film these ticks into a GIF or MP4, then exit.
    #[cfg(not(target_arch = "wasm32"))]
    pub video: Option<video::VideoPlan>,
    /// The window's size in pixels (`--size WxH`; default [`WINDOW_SIZE`]).
    pub size: Option<(u32, u32)>,
    /// Start with the panels' large text (`--large-text`, `?large`).
    pub large_text: bool,
    /// Start with the high-contrast palette (`--high-contrast`, `?contrast`).
    pub high_contrast: bool,
    /// Teach this lesson (`dais lesson NAME`, `?lesson=NAME`); the opening run is its scenario.
    pub lesson: Option<crate::lesson::Lesson>,
}

/// What the window opens on.
pub enum Opening {
    Live(Box<SimConfig>),
    Replay(Box<crate::replay::ReplaySource>),
}

/// Frame timing of the whole session, readable after the window closes.
pub type SharedFrameStats = Arc<Mutex<capture::FrameStats>>;

/// Builds the app: window, egui, the scene and the panels.
pub fn build_app(
    opening: Opening,
    options: ViewOptions,
    stats: SharedFrameStats,
) -> Result<App, String> {
    let source = source::ViewSource::open(opening, &options)?;
    let options_lesson = options.lesson.clone();
    let style = ViewStyle {
        large_text: options.large_text,
        high_contrast: options.high_contrast,
        ..ViewStyle::default()
    };
    let mut app = App::new();
    let mut window = Window {
        title: "DAIS - Decentralized AI Simulation".into(),
        resolution: {
            let (width, height) = options.size.unwrap_or(WINDOW_SIZE);
            WindowResolution::new(width, height)
        },
        // Follow the browser window on the web.
        fit_canvas_to_parent: true,
        prevent_default_event_handling: false,
        canvas: Some("#dais-canvas".into()),
        ..default()
    };
    if options.screenshot.is_some() || filming(&options) {
        // A screenshot (or a film) is the same picture on any monitor.
        window.resolution = window.resolution.with_scale_factor_override(1.0);
    }
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(window),
                ..default()
            })
            .set(log_settings(&options)),
    );
    app.add_plugins(EguiPlugin::default());
    app.insert_resource(EguiGlobalSettings {
        auto_create_primary_context: false,
        ..default()
    });
    app.insert_resource(ClearColor(palette::background()));
    app.insert_resource(source);
    app.insert_resource(source::Playback::new(&options));
    app.insert_resource(capture::StatsHandle(stats));

    app.configure_sets(
        Update,
        (
            ViewSet::Input,
            ViewSet::Advance,
            ViewSet::Scene,
            ViewSet::Capture,
        )
            .chain(),
    );
    app.add_plugins((
        camera::plugin,
        source::plugin,
        graph_view::plugin,
        shape_layers::plugin,
        propagation::plugin,
        interventions::plugin,
        lesson::plugin,
        capture::plugin(options.screenshot.clone(), options.quit_after),
    ));
    #[cfg(not(target_arch = "wasm32"))]
    app.add_plugins((video::plugin(options.video.clone()), icon::plugin));
    app.add_systems(EguiPrimaryContextPass, panels::draw_panels);
    app.add_plugins(panels::plugin);
    app.init_resource::<panels::PanelState>();
    app.insert_resource(style);
    app.insert_resource(lesson::ActiveLesson(
        options_lesson.map(lesson::LessonView::new),
    ));
    Ok(app)
}

/// Whether the window films a replay (`--video`).
fn filming(options: &ViewOptions) -> bool {
    #[cfg(not(target_arch = "wasm32"))]
    return options.video.is_some();
    #[cfg(target_arch = "wasm32")]
    {
        let _ = options;
        false
    }
}

/// What the window's libraries may print. A screenshot is a command-line job that should print one line, so it
/// shows errors only unless `--log-level` asks for more.
fn log_settings(options: &ViewOptions) -> bevy::log::LogPlugin {
    use bevy::log::Level;
    let (level, filter) = match options.log_level.as_deref() {
        Some(word) => {
            let level = match word {
                "error" => Level::ERROR,
                "warn" => Level::WARN,
                "debug" => Level::DEBUG,
                "trace" => Level::TRACE,
                _ => Level::INFO,
            };
            (level, String::new())
        }
        None if options.screenshot.is_some() || filming(options) => {
            (Level::ERROR, "wgpu=error,naga=error".into())
        }
        None => (
            Level::INFO,
            "wgpu=error,naga=warn,bevy_render=warn,bevy_winit=warn".into(),
        ),
    };
    bevy::log::LogPlugin {
        level,
        filter,
        // --log-format json / --log-file: our formatter in place of Bevy's (the same as headless runs use).
        #[cfg(not(target_arch = "wasm32"))]
        fmt_layer: |_| crate::ops::logs::window_layer(),
        ..default()
    }
}

/// Mesa complains on every start where `$XDG_RUNTIME_DIR` is unset or unusable (root shells, CI, ssh), on a
/// line of its own that is no error of ours. Pointing it at a private folder of ours silences it honestly. Call
/// before any thread starts: it sets an environment variable.
#[cfg(all(unix, not(target_arch = "wasm32")))]
pub fn prepare_environment() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let usable = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .and_then(|dir| std::fs::metadata(dir).ok())
        .is_some_and(|m| m.is_dir() && m.mode() & 0o077 == 0);
    if usable {
        return;
    }
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let dir = std::env::temp_dir().join(format!("dais-runtime-{uid}"));
    if std::fs::create_dir_all(&dir).is_ok()
        && std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).is_ok()
    {
        // SAFETY: called from `main` before any other thread exists, so nothing reads the environment meanwhile.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

/// Whether a window can open here; the reason in words when it cannot. Beyond an unset `$DISPLAY`, a display that
/// is set but unreachable (a stale ssh forward, a stopped Xvfb) is caught here, because the windowing library would
/// otherwise panic.
pub fn display_problem() -> Option<String> {
    #[cfg(all(unix, not(target_os = "macos"), not(target_arch = "wasm32")))]
    {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") {
            return Some(if set("WAYLAND_DISPLAY") {
                "this build talks X11 and $DISPLAY is not set (no XWayland?)".to_string()
            } else {
                "no display found ($DISPLAY is not set)".to_string()
            });
        }
        let display = std::env::var("DISPLAY").unwrap_or_default();
        if !x_display_reachable(&display) {
            return Some(format!("cannot reach the X display {display:?}"));
        }
    }
    None
}

/// Connects to the X server named by a `$DISPLAY` value (`:0`, `unix:1.0`, `host:10.0`) and hangs up.
#[cfg(all(unix, not(target_os = "macos"), not(target_arch = "wasm32")))]
pub fn x_display_reachable(display: &str) -> bool {
    let Some((host, rest)) = display.rsplit_once(':') else {
        return false;
    };
    let Ok(number) = rest.split('.').next().unwrap_or("").parse::<u16>() else {
        return false;
    };
    if host.is_empty() || host == "unix" {
        return std::os::unix::net::UnixStream::connect(format!("/tmp/.X11-unix/X{number}"))
            .is_ok();
    }
    use std::net::ToSocketAddrs;
    let Some(port) = number.checked_add(6000) else {
        return false;
    };
    (host, port).to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|addr| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok()
        })
    })
}

#[cfg(all(test, unix, not(target_os = "macos")))]
mod tests {
    use super::*;

    #[test]
    fn malformed_or_dead_displays_are_unreachable() {
        assert!(!x_display_reachable("nonsense"));
        assert!(!x_display_reachable(":notanumber"));
        assert!(!x_display_reachable(":65000"));
        assert!(!x_display_reachable("127.0.0.1:65000"));
    }
}
