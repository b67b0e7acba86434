//! `dais replay PATH --video OUT.gif|OUT.mp4`: the replay is shown tick by tick from `--from` to `--to`, each tick
//! photographed once it is drawn, and the frames streamed into the file as they come (nothing is held but the
//! encoder's state). GIF is written by the `gif` crate; MP4 by `ffmpeg`, fed raw frames on its standard input.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};

use super::ViewSet;
use super::capture::{MAX_RETRIES, MIN_FRAMES_BEFORE_CAPTURE, is_uniform};
use super::source::{Playback, ViewData};

/// What to film.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoPlan {
    pub path: PathBuf,
    pub from: u32,
    pub to: u32,
    pub fps: f32,
}

impl VideoPlan {
    pub fn is_mp4(&self) -> bool {
        self.path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("mp4"))
    }
}

/// Whether `ffmpeg` can be started (MP4 needs it).
pub fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

enum Encoder {
    Gif(gif::Encoder<std::io::BufWriter<std::fs::File>>),
    Mp4(Child),
}

/// The encoder, on a thread of its own: a frame is quantised and written while the next one is drawn. At most a
/// few frames wait in the channel, so memory stays flat however long the film.
struct Writer {
    frames: std::sync::mpsc::SyncSender<(u32, u32, Vec<u8>)>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl Writer {
    fn start(plan: VideoPlan) -> Self {
        let (frames, received) = std::sync::mpsc::sync_channel::<(u32, u32, Vec<u8>)>(3);
        let thread = std::thread::spawn(move || {
            let mut encoder = None;
            for (width, height, rgba) in received {
                if encoder.is_none() {
                    encoder = Some(open(&plan, width, height)?);
                }
                write_frame(
                    encoder.as_mut().expect("opened above"),
                    &plan,
                    width,
                    height,
                    rgba,
                )?;
            }
            encoder.map_or(Ok(()), finish)
        });
        Self { frames, thread }
    }

    /// Waits for every frame to be written and the file closed.
    fn finish(self) -> std::io::Result<()> {
        drop(self.frames);
        self.thread
            .join()
            .map_err(|_| std::io::Error::other("the encoder thread panicked"))?
    }
}

/// The film in progress.
#[derive(Resource)]
struct Recorder {
    plan: VideoPlan,
    /// The tick to photograph next.
    next: u32,
    /// Frames to let pass before photographing again, after a capture came back blank.
    settle: u32,
    requested: bool,
    retries: u32,
    writer: Mutex<Option<Writer>>,
    failure: Option<String>,
    progress: indicatif::ProgressBar,
}

/// Frames to wait before photographing again after a capture came back blank. A tick needs none: the seek
/// refills the scene's meshes in its own frame, before the photograph is taken (tests/gui.rs checks each frame is
/// its tick).
const RETRY_AFTER: u32 = 2;

pub(super) fn plugin(plan: Option<VideoPlan>) -> impl Fn(&mut App) {
    move |app: &mut App| {
        let Some(plan) = plan.clone() else {
            return;
        };
        let progress = indicatif::ProgressBar::new(u64::from(plan.to - plan.from + 1));
        progress.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:40}] {pos}/{len} frames  {per_sec}  ETA {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        app.insert_resource(Recorder {
            next: plan.from,
            writer: Mutex::new(Some(Writer::start(plan.clone()))),
            plan,
            settle: 0,
            requested: false,
            retries: 0,
            failure: None,
            progress,
        });
        app.add_systems(Startup, seek_to_first_tick);
        app.add_systems(Update, film.in_set(ViewSet::Capture));
    }
}

fn seek_to_first_tick(recorder: Res<Recorder>, mut playback: ResMut<Playback>) {
    playback.seek = Some(recorder.plan.from);
    playback.playing = false;
}

fn film(
    mut commands: Commands,
    mut recorder: ResMut<Recorder>,
    mut playback: ResMut<Playback>,
    data: Res<ViewData>,
    mut exit: MessageWriter<AppExit>,
    mut frames: Local<u32>,
) {
    *frames += 1;
    if let Some(failure) = recorder.failure.take() {
        error!("{failure}");
        exit.write(AppExit::error());
        return;
    }
    if recorder.next > recorder.plan.to {
        recorder.progress.finish_and_clear();
        let finished = recorder.writer.lock().ok().and_then(|mut w| w.take());
        match finished.map(Writer::finish) {
            Some(Err(e)) => {
                error!("{}: {e}", recorder.plan.path.display());
                exit.write(AppExit::error());
            }
            _ => {
                exit.write(AppExit::Success);
            }
        }
        return;
    }
    if recorder.requested || *frames < MIN_FRAMES_BEFORE_CAPTURE || data.tick != recorder.next {
        return;
    }
    playback.playing = false;
    if recorder.settle > 0 {
        recorder.settle -= 1;
        return;
    }
    recorder.requested = true;
    commands.spawn(Screenshot::primary_window()).observe(
        |captured: On<ScreenshotCaptured>,
         mut recorder: ResMut<Recorder>,
         mut playback: ResMut<Playback>| {
            if is_uniform(&captured.image) && recorder.retries < MAX_RETRIES {
                // Not drawn yet: take it again in a few frames.
                recorder.retries += 1;
                recorder.requested = false;
                recorder.settle = RETRY_AFTER;
                return;
            }
            let Ok(picture) = captured.image.clone().try_into_dynamic() else {
                recorder.failure = Some("a frame could not be read back".into());
                return;
            };
            let rgba = picture.to_rgba8();
            let (width, height) = rgba.dimensions();
            if let Err(e) = add_frame(&mut recorder, width, height, rgba.into_raw()) {
                recorder.failure = Some(format!("{}: {e}", recorder.plan.path.display()));
                return;
            }
            recorder.progress.inc(1);
            recorder.next += 1;
            recorder.requested = false;
            if recorder.next <= recorder.plan.to {
                playback.seek = Some(recorder.next);
            }
        },
    );
}

/// Hands one RGBA frame to the encoder thread (which opens the file on the first: its size is the window's).
fn add_frame(
    recorder: &mut Recorder,
    width: u32,
    height: u32,
    rgba: Vec<u8>,
) -> std::io::Result<()> {
    let mut writer = recorder
        .writer
        .lock()
        .map_err(|_| std::io::Error::other("encoder lock"))?;
    let sent = writer
        .as_ref()
        .ok_or_else(|| std::io::Error::other("the film is closed"))?
        .frames
        .send((width, height, rgba));
    if sent.is_err() {
        // The thread stopped: its error says why.
        let stopped = writer.take().expect("present above");
        stopped.finish()?;
        return Err(std::io::Error::other("the encoder stopped"));
    }
    Ok(())
}

fn write_frame(
    encoder: &mut Encoder,
    plan: &VideoPlan,
    width: u32,
    height: u32,
    mut rgba: Vec<u8>,
) -> std::io::Result<()> {
    match encoder {
        Encoder::Gif(gif) => {
            // Quantised to 256 colours per frame (NeuQuant); speed 10 is the crate's balance of time and quality.
            let mut frame = gif::Frame::from_rgba_speed(width as u16, height as u16, &mut rgba, 10);
            frame.delay = (100.0 / plan.fps).round().max(1.0) as u16;
            gif.write_frame(&frame).map_err(std::io::Error::other)
        }
        Encoder::Mp4(child) => child
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("ffmpeg's input is closed"))?
            .write_all(&rgba),
    }
}

fn open(plan: &VideoPlan, width: u32, height: u32) -> std::io::Result<Encoder> {
    if plan.is_mp4() {
        let child = Command::new("ffmpeg")
            .args([
                "-y",
                "-loglevel",
                "error",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgba",
                "-s",
            ])
            .arg(format!("{width}x{height}"))
            .args(["-r", &plan.fps.to_string(), "-i", "-"])
            // H.264 needs even sides; yuv420p plays everywhere (slides, browsers, phones).
            .args([
                "-vf",
                "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(&plan.path)
            .stdin(Stdio::piped())
            .spawn()?;
        return Ok(Encoder::Mp4(child));
    }
    let file = std::io::BufWriter::new(std::fs::File::create(&plan.path)?);
    let mut gif =
        gif::Encoder::new(file, width as u16, height as u16, &[]).map_err(std::io::Error::other)?;
    gif.set_repeat(gif::Repeat::Infinite)
        .map_err(std::io::Error::other)?;
    Ok(Encoder::Gif(gif))
}

fn finish(encoder: Encoder) -> std::io::Result<()> {
    match encoder {
        Encoder::Gif(gif) => gif.into_inner().map_err(std::io::Error::other)?.flush(),
        Encoder::Mp4(mut child) => {
            drop(child.stdin.take());
            let status = child.wait()?;
            if status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!("ffmpeg failed ({status})")))
            }
        }
    }
}
