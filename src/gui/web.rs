//! The browser build's side of the page (`web/index.html`): open the view in the page's canvas, tell the page when
//! the first frame is drawn and where the run is (its loading message, title and tests read that), and carry
//! recordings both ways: the user's file into a replay, the run's in-memory ledger out as a download.
//!
//! The page talks to the app through functions it defines on `window` (`dais*`), which the app calls; the app
//! polls for an opened file once a frame, so nothing on the JS side reaches into the running app.

use bevy::prelude::*;
use wasm_bindgen::prelude::*;

use super::source::{PendingOpen, Playback, RecordingRequests, ViewData, ViewSource};
use super::{Opening, SharedFrameStats, ViewSet};

#[wasm_bindgen]
extern "C" {
    /// The page's address query (`location.search`).
    #[wasm_bindgen(js_name = daisQuery)]
    fn page_query() -> String;
    /// The first frame is on screen: hide the loading message, log the ready line.
    #[wasm_bindgen(js_name = daisFirstFrame)]
    fn first_frame();
    /// Where the run is, whenever it changes.
    #[wasm_bindgen(js_name = daisStatus)]
    fn status(tick: u32, last: u32, replay: bool, playing: bool);
    /// What the class has done and where a lesson is, whenever that changes: crashed agents on screen,
    /// interventions in the run, the lesson's current step (-1 without a lesson) and whether its caption shows.
    #[wasm_bindgen(js_name = daisClass)]
    fn class_state(crashed: u32, interventions: u32, lesson_step: i32, lesson_shown: bool);
    /// How many meshes, materials and images the app holds, whenever that changes (the page's test checks that
    /// playing a run creates none).
    #[wasm_bindgen(js_name = daisAssets)]
    fn assets(meshes: u32, materials: u32, images: u32);
    /// The bytes of a file the user opened or dropped since the last call, if any.
    #[wasm_bindgen(js_name = daisTakeRecording)]
    fn take_recording() -> Option<Vec<u8>>;
    /// The name of the file `daisTakeRecording` last returned.
    #[wasm_bindgen(js_name = daisRecordingName)]
    fn recording_name() -> String;
    /// Opens the page's file picker.
    #[wasm_bindgen(js_name = daisPickRecording)]
    fn pick_recording();
    /// Offers bytes to the user as a file download.
    #[wasm_bindgen(js_name = daisDownload)]
    fn download(name: &str, bytes: &[u8]);
    /// The app could not start: the page shows the message instead of a blank canvas.
    #[wasm_bindgen(js_name = daisFailed)]
    fn failed(message: &str);

    #[wasm_bindgen(js_name = daisStartVideo)]
    fn start_video() -> bool;

    #[wasm_bindgen(js_name = daisStopVideo)]
    fn stop_video(name: &str);
}

/// Frames drawn before the page is told the view is up: the first frames build pipelines and lay out egui.
const READY_AFTER_FRAMES: u32 = 3;

/// Starts the view in the page: the address's run (the classroom preset by default), recording into memory.
pub fn start() {
    let (config, options) = match super::page::page_start(&page_query()) {
        Ok(start) => start,
        Err(e) => return failed(&e),
    };
    match super::build_app(
        Opening::Live(Box::new(config)),
        options,
        SharedFrameStats::default(),
    ) {
        Ok(mut app) => {
            app.add_plugins(plugin);
            app.run();
        }
        Err(e) => failed(&e),
    }
}

fn plugin(app: &mut App) {
    app.init_resource::<PageReport>();
    app.add_systems(
        Update,
        (take_opened_recording, answer_recording_requests).in_set(ViewSet::Input),
    );
    app.add_systems(Last, (report_to_page, report_class_to_page));
}

/// What the page was last told.
#[derive(Resource, Default)]
struct PageReport {
    frames: u32,
    status: Option<(u32, u32, bool, bool)>,
    class: Option<(u32, u32, i32, bool)>,
    assets: Option<(u32, u32, u32)>,
}

fn take_opened_recording(mut pending: ResMut<PendingOpen>) {
    if let Some(bytes) = take_recording() {
        pending.0 = Some((recording_name(), bytes));
    }
}

fn answer_recording_requests(
    mut requests: ResMut<RecordingRequests>,
    mut source: ResMut<ViewSource>,
    mut data: ResMut<ViewData>,
) {
    if std::mem::take(&mut requests.pick) {
        pick_recording();
    }
    if std::mem::take(&mut requests.toggle_video) {
        if requests.filming {
            stop_video(&format!("dais-tick{}.webm", data.tick));
            requests.filming = false;
        } else if start_video() {
            requests.filming = true;
        } else {
            data.problem =
                Some("this browser cannot film the canvas (no MediaRecorder for WebM)".into());
        }
    }
    if std::mem::take(&mut requests.download) {
        match source.recording() {
            Ok((name, bytes)) => download(&name, &bytes),
            Err(e) => data.problem = Some(format!("cannot save the recording: {e}")),
        }
    }
}

fn report_to_page(
    mut report: ResMut<PageReport>,
    data: Res<ViewData>,
    source: Res<ViewSource>,
    playback: Res<Playback>,
    meshes: Res<Assets<Mesh>>,
    materials: Res<Assets<ColorMaterial>>,
    images: Res<Assets<Image>>,
) {
    if report.frames <= READY_AFTER_FRAMES {
        report.frames += 1;
        if report.frames == READY_AFTER_FRAMES {
            first_frame();
        }
    }
    let now = (
        data.tick,
        data.last_tick,
        source.is_replay(),
        playback.playing,
    );
    if report.status != Some(now) {
        report.status = Some(now);
        status(now.0, now.1, now.2, now.3);
    }
    let held = (
        meshes.len() as u32,
        materials.len() as u32,
        images.len() as u32,
    );
    if report.assets != Some(held) {
        report.assets = Some(held);
        assets(held.0, held.1, held.2);
    }
}

/// Tells the page what the class has done and where a lesson is (the page's test reads it).
fn report_class_to_page(
    mut report: ResMut<PageReport>,
    data: Res<ViewData>,
    lesson: Res<super::lesson::ActiveLesson>,
) {
    let class = (
        data.frame
            .agents
            .iter()
            .filter(|&&a| a == crate::model::AgentState::Crashed)
            .count() as u32,
        data.interventions.len() as u32,
        lesson.0.as_ref().map_or(-1, |l| l.run.step as i32),
        lesson.0.as_ref().is_some_and(|l| l.shown.is_some()),
    );
    if report.class != Some(class) {
        report.class = Some(class);
        class_state(class.0, class.1, class.2, class.3);
    }
}
