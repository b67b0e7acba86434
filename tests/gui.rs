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
    let c = palette::agent_colour(state).to_u8_array();
    scene_pixels(img)
        .filter(|p| near(*p, [c[0], c[1], c[2]], 6))
        .count()
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
    let ledger = dir.path().join("classroom.db");
    let ledger_text = ledger.display().to_string();
    let out = dais(&[
        "run",
        "--scenario",
        "classroom",
        "--steps",
        "200",
        "--no-render",
        "--quiet",
        "--ledger",
        &ledger_text,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
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
