//! The desktop view as a person sees it: real windows under a real X server (Xvfb and Mesa's software renderer in
//! CI, see scripts/test), photographed with `--screenshot` and checked pixel by pixel.
#![cfg(feature = "gui")]

mod common;

use bevy::color::ColorToPacked;
use common::{assert_one_line_error, dais};
use dais::gui::palette;
use dais::gui::{LEFT_PANEL, RIGHT_PANEL, TOP_BAR, WINDOW_SIZE};
use dais::ledger::AgentState;
use image::RgbImage;

fn require_display() {
    assert!(
        std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()),
        "the GUI tests open real windows and need an X display: run scripts/test, which starts them under xvfb-run"
    );
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn screenshot(args: &[&str], path: &std::path::Path) -> RgbImage {
    let mut all = args.to_vec();
    let path_text = path.display().to_string();
    all.extend(["--screenshot", &path_text]);
    let out = dais(&all);
    assert!(
        out.status.success(),
        "dais {all:?} failed: {}",
        stderr(&out)
    );
    // A screenshot is a command-line job: one line, without the renderer's warnings or Mesa's XDG complaint.
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines, [format!("dais: saved {path_text}")], "{err}");
    image::open(path).expect("a PNG was written").to_rgb8()
}

/// The scene's rectangle (between the panels), a few pixels in from the panel borders.
/// Records 200 ticks of the classroom preset headless into `dir`; the ledger's path.
fn record_classroom(dir: &std::path::Path) -> String {
    let ledger = dir.join("classroom.db").display().to_string();
    let out = dais(&[
        "run",
        "--scenario",
        "classroom",
        "--steps",
        "200",
        "--no-render",
        "--quiet",
        "--ledger",
        &ledger,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    ledger
}

fn scene_pixels(img: &RgbImage) -> impl Iterator<Item = [u8; 3]> + '_ {
    let (x0, x1) = (
        LEFT_PANEL as u32 + 4,
        WINDOW_SIZE.0 - RIGHT_PANEL as u32 - 4,
    );
    let (y0, y1) = (TOP_BAR as u32 + 4, WINDOW_SIZE.1 - 4);
    (y0..y1).flat_map(move |y| (x0..x1).map(move |x| img.get_pixel(x, y).0))
}

fn near(a: [u8; 3], b: [u8; 3], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

fn count_colour(img: &RgbImage, state: AgentState) -> usize {
    count_srgba(img, palette::agent_colour(state))
}

#[test]
fn classroom_after_60_ticks_shows_the_network_and_a_replay_matches_it() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    let live = screenshot(
        &["run", "--scenario", "classroom", "--steps", "60"],
        &dir.path().join("live.png"),
    );
    assert_eq!(live.dimensions(), WINDOW_SIZE);

    // Not blank: the panels' text and plots and the scene's nodes make many distinct colours.
    let mut colours: Vec<[u8; 3]> = live.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 200,
        "only {} colours: blank window?",
        colours.len()
    );

    // The port scan starts at tick 40 from agent 0: by tick 60 the class sees healthy agents and the attack.
    let healthy = count_colour(&live, AgentState::Healthy);
    let attacked = count_colour(&live, AgentState::UnderAttack)
        + count_colour(&live, AgentState::Compromised)
        + count_colour(&live, AgentState::Immune);
    assert!(healthy > 500, "healthy-blue pixels: {healthy}");
    assert!(attacked > 100, "attack or immunity pixels: {attacked}");

    // Record the same run headless, then photograph its replay at tick 60.
    let ledger_text = record_classroom(dir.path());
    let replay = screenshot(
        &["replay", &ledger_text, "--at", "60"],
        &dir.path().join("replay.png"),
    );
    let differing = differing_share(&live, &replay);
    assert!(
        differing < 0.005,
        "{:.2}% of the scene differs between the live run and its replay at tick 60",
        differing * 100.0
    );
    // The comparison can tell ticks apart: by tick 120 the class sees immunity everywhere.
    let later = screenshot(
        &["replay", &ledger_text, "--at", "120"],
        &dir.path().join("replay120.png"),
    );
    assert!(differing_share(&live, &later) > 0.01);
    assert!(count_colour(&later, AgentState::Immune) > 1000);
}

/// Scene pixels of a palette colour.
fn count_srgba(img: &RgbImage, colour: bevy::color::Srgba) -> usize {
    let c = colour.to_u8_array();
    scene_pixels(img)
        .filter(|p| near(*p, [c[0], c[1], c[2]], 6))
        .count()
}

#[test]
fn each_intervention_shows_on_screen_live_and_in_its_replay() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    // Agent 5 crashed, links 0-2 and 4-6 cut, agent 20 Byzantine, the second campaign started early at agent 30,
    // and agent 12 crashed then revived.
    let script = "interventions=[(10, crash(5)), (10, cut(0, 2)), (10, cut(4, 6)), (12, byzantine(20, collude)), \
                  (20, crash(12)), (30, revive(12)), (30, start_campaign(campaign: 1, at: 30))]";
    let args = ["run", "--scenario", "classroom", "--steps", "60"];
    let plain = screenshot(&args, &dir.path().join("plain.png"));
    let mut with_script = args.to_vec();
    with_script.extend(["--set", script]);
    let intervened = screenshot(&with_script, &dir.path().join("intervened.png"));

    let crashed = |img: &RgbImage| count_colour(img, AgentState::Crashed);
    let byzantine = |img: &RgbImage| count_colour(img, AgentState::Byzantine);
    let cut = |img: &RgbImage| count_srgba(img, palette::CUT_LINK);
    assert_eq!(
        (crashed(&plain), cut(&plain)),
        (0, 0),
        "the classroom has no crash and no cut of its own"
    );
    assert!(
        crashed(&intervened) > 40,
        "a grey cross: {}",
        crashed(&intervened)
    );
    assert!(
        cut(&intervened) > 40,
        "magenta cut links: {}",
        cut(&intervened)
    );
    assert!(
        byzantine(&intervened) > byzantine(&plain) + 40,
        "one more purple star: {} against {}",
        byzantine(&intervened),
        byzantine(&plain)
    );
    // Agent 30's campaign: more of the network is under attack or compromised than without it.
    let attacked = |img: &RgbImage| {
        count_colour(img, AgentState::UnderAttack) + count_colour(img, AgentState::Compromised)
    };
    assert_ne!(attacked(&intervened), attacked(&plain));

    // The same script recorded headless replays with the same marks, and re-simulates to the same hashes.
    let ledger = dir.path().join("intervened.db").display().to_string();
    let mut record = vec![
        "run",
        "--scenario",
        "classroom",
        "--steps",
        "200",
        "--no-render",
        "--quiet",
    ];
    record.extend(["--set", script, "--ledger", &ledger]);
    let out = dais(&record);
    assert!(out.status.success(), "{}", stderr(&out));
    let replay = screenshot(
        &["replay", &ledger, "--at", "60"],
        &dir.path().join("replay.png"),
    );
    assert!(differing_share(&intervened, &replay) < 0.005);
    let verify = dais(&["replay", &ledger, "--verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn a_lesson_frames_its_caption_and_highlights_the_authority() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    let shot = |at: &str, name: &str| {
        screenshot(
            &["lesson", "single-point-of-failure", "--at", at],
            &dir.path().join(name),
        )
    };
    // Tick 1: the first step zooms to the highlighted authority; tick 38: the question, the authority still lit.
    let first = shot("1", "first.png");
    let question = shot("38", "question.png");
    let halo = |img: &RgbImage| count_srgba(img, palette::HIGHLIGHT);
    assert!(
        halo(&first) > 2000,
        "a big halo when zoomed in: {}",
        halo(&first)
    );
    assert!(
        halo(&question) > 100,
        "a halo at the question: {}",
        halo(&question)
    );
    assert!(
        differing_share(&first, &question) > 0.05,
        "zoomed in, then the whole network"
    );
    let plain = screenshot(
        &["run", "--scenario", "classroom", "--steps", "38"],
        &dir.path().join("plain.png"),
    );
    assert_eq!(halo(&plain), 0, "no halo without a lesson");
    // A bad lesson name is refused in one line that lists the shipped ones.
    let out = dais(&["lesson", "nope", "--no-render"]);
    assert_one_line_error(
        &out,
        "unknown lesson \"nope\": expected a lesson file or one of worm",
    );
}

#[test]
fn high_contrast_and_large_text_keep_every_state_apart() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    let args = ["run", "--scenario", "classroom", "--steps", "60"];
    let normal = screenshot(&args, &dir.path().join("normal.png"));
    let mut contrast_args = args.to_vec();
    contrast_args.extend(["--high-contrast", "--large-text"]);
    let contrast = screenshot(&contrast_args, &dir.path().join("contrast.png"));
    // The scene's background is black, and healthy agents take the high-contrast palette's blue, not the usual one.
    let black = scene_pixels(&contrast)
        .filter(|p| near(*p, [0, 0, 0], 2))
        .count();
    assert!(
        black * 2 > scene_pixels(&contrast).count(),
        "a black background"
    );
    let healthy = count_colour(&normal, AgentState::Healthy);
    assert!(healthy > 500);
    assert_eq!(
        count_colour(&contrast, AgentState::Healthy),
        0,
        "not the default blue"
    );
    let in_contrast = |state| count_srgba(&contrast, palette::agent_colour_in(state, true));
    let contrast_healthy = in_contrast(AgentState::Healthy);
    let contrast_compromised = in_contrast(AgentState::Compromised);
    assert!(
        contrast_healthy > 500,
        "the high-contrast blue: {contrast_healthy}"
    );
    assert!(
        contrast_compromised > 100,
        "the high-contrast vermillion: {contrast_compromised}"
    );
    // Larger text fills more of the panels: more of the left panel differs from its background.
    let left_ink = |img: &RgbImage| {
        (TOP_BAR as u32 + 4..WINDOW_SIZE.1 - 4)
            .flat_map(|y| (4..LEFT_PANEL as u32 - 4).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0.iter().any(|&c| c > 120))
            .count()
    };
    assert!(
        left_ink(&contrast) as f64 > left_ink(&normal) as f64 * 1.3,
        "large text"
    );
}

/// The share of scene pixels that differ by more than a small tolerance.
fn differing_share(a: &RgbImage, b: &RgbImage) -> f64 {
    let total = scene_pixels(a).count();
    let differing = scene_pixels(a)
        .zip(scene_pixels(b))
        .filter(|(p, q)| !near(*p, *q, 24))
        .count();
    differing as f64 / total as f64
}

#[test]
fn a_replay_refuses_a_tick_it_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("short.db").display().to_string();
    let out = dais(&[
        "run",
        "--agents",
        "10",
        "--steps",
        "50",
        "--no-render",
        "--quiet",
        "--ledger",
        &ledger,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_one_line_error(
        &dais(&["replay", &ledger, "--at", "51", "--screenshot", "x.png"]),
        "the recording holds ticks 1 to 50",
    );
}

/// The frames of a GIF, as pictures.
fn gif_frames(path: &std::path::Path) -> (Vec<RgbImage>, u16) {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options
        .read_info(std::fs::File::open(path).expect("the film was written"))
        .expect("a GIF");
    let (mut frames, mut delay) = (Vec::new(), 0);
    while let Some(frame) = decoder.read_next_frame().expect("a frame") {
        delay = frame.delay;
        let rgb: Vec<u8> = frame
            .buffer
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        frames.push(
            RgbImage::from_raw(u32::from(frame.width), u32::from(frame.height), rgb).unwrap(),
        );
    }
    (frames, delay)
}

#[test]
fn a_replay_films_its_ticks_into_a_gif_frame_for_tick() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    let ledger = record_classroom(dir.path());
    let film = dir.path().join("film.gif");
    let film_text = film.display().to_string();
    let out = dais(&[
        "replay", &ledger, "--video", &film_text, "--from", "40", "--to", "45", "--fps", "4",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines,
        [format!(
            "dais: saved {film_text} (ticks 40 to 45, 6 frames at 4 fps)"
        )],
        "{err}"
    );
    let (frames, delay) = gif_frames(&film);
    assert_eq!(frames.len(), 6);
    assert_eq!(delay, 25, "4 frames per second: 25 hundredths each");
    assert_eq!(frames[0].dimensions(), WINDOW_SIZE);
    // Each frame is its tick as the replay shows it (up to the GIF's 256 colours), not a tick late or early.
    let stills: Vec<RgbImage> = ["40", "41", "42"]
        .iter()
        .map(|tick| {
            screenshot(
                &["replay", &ledger, "--at", tick],
                &dir.path().join(format!("still{tick}.png")),
            )
        })
        .collect();
    for (i, still) in stills.iter().enumerate() {
        let differing = differing_share(&frames[i], still);
        assert!(
            differing < 0.01,
            "frame {i}: {:.2}% differs from tick {}",
            differing * 100.0,
            40 + i
        );
    }
    assert!(
        differing_share(&frames[0], &frames[5]) > 0.001,
        "the film moves"
    );
    // The scene can look alike from one tick to the next; the top bar prints the tick ("tick 41 / 200"), so frame 1
    // is nearer tick 41's top bar than tick 40's or 42's.
    let top_bar_differs = |a: &RgbImage, b: &RgbImage| {
        (0..TOP_BAR as u32)
            .flat_map(|y| (0..WINDOW_SIZE.0).map(move |x| (x, y)))
            .filter(|&(x, y)| !near(a.get_pixel(x, y).0, b.get_pixel(x, y).0, 24))
            .count()
    };
    let near: Vec<usize> = stills
        .iter()
        .map(|s| top_bar_differs(&frames[1], s))
        .collect();
    assert!(near[1] < near[0] && near[1] < near[2], "{near:?}");

    // Bad flags are refused before any window opens, by the flag parser (exit status 2), naming the flag.
    let refused = |args: &[&str], needle: &str| {
        let out = dais(args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let first = stderr(&out).lines().next().unwrap_or("").to_string();
        assert!(
            first.contains("--video") && first.contains(needle),
            "{first}"
        );
    };
    refused(
        &["replay", &ledger, "--video", "film.avi"],
        "a film is a .gif or an .mp4",
    );
    if dais::gui::video::ffmpeg_available() {
        // Where ffmpeg is installed, an MP4 is an ISO media file (its first box is `ftyp`).
        let mp4 = dir.path().join("film.mp4");
        let out = dais(&[
            "replay",
            &ledger,
            "--video",
            mp4.to_str().unwrap(),
            "--from",
            "40",
            "--to",
            "42",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let bytes = std::fs::read(&mp4).unwrap();
        assert_eq!(&bytes[4..8], b"ftyp");
    } else {
        refused(
            &["replay", &ledger, "--video", "film.mp4"],
            "install it (apt install ffmpeg) or name the file .gif",
        );
    }
    assert_one_line_error(
        &dais(&[
            "replay", &ledger, "--video", &film_text, "--from", "190", "--to", "260",
        ]),
        "the recording holds ticks 1 to 200",
    );
}

/// A network of thousands: every agent is drawn (the nodes are one instanced layer), the legend says how many links
/// are drawn, and a replay's playback times each seek.
#[test]
fn a_replay_of_thousands_draws_every_agent_and_times_its_seeks() {
    require_display();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("big.db").display().to_string();
    // 4,000 agents of a small world: 12,000 links, more than the view draws. Small forests, so recording takes a
    // moment.
    let out = dais(&[
        "run",
        "--agents",
        "4000",
        "--steps",
        "40",
        "--set",
        "traffic.campaigns[0].start_tick=10",
        "--set",
        "detector=(trees: 4, subsample: 32, warmup: 5, window: 64)",
        "--no-render",
        "--quiet",
        "--ledger",
        &ledger,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let picture = screenshot(
        &["replay", &ledger, "--at", "16"],
        &dir.path().join("big.png"),
    );
    // Nodes at this size are a few pixels across: each shows at least its centre in the healthy colour.
    let healthy = count_colour(&picture, AgentState::Healthy);
    assert!(healthy > 4000, "healthy-blue pixels: {healthy}");

    let out = dais(&[
        "replay",
        &ledger,
        "--play",
        "--speed",
        "2",
        "--quit-after",
        "10",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let report = err
        .lines()
        .find(|l| l.starts_with("dais: 4000 agents: mean frame time"))
        .unwrap_or_else(|| panic!("no frame-time report: {err}"));
    let seeks: u32 = report
        .split("over ")
        .nth(2)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no seek count in {report}"));
    // Slow playback, so seeks still come after the warm-up frames when other tests' windows share the machine.
    assert!(report.contains("; frame seek ") && seeks >= 3, "{report}");
}
