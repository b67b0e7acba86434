//! Logs: `--log-format text|json`, `--log-level` (or `RUST_LOG`), and `--log-file` with size-based rotation
//! (`--log-max-bytes`, `--log-keep`), built on tracing-subscriber's formatters and file-rotate. On a terminal the
//! progress bar steps aside for each line, so the two never interleave.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// How each line is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, target, message and the event's fields.
    Json,
}

#[derive(Clone, Debug)]
pub struct LogOptions {
    pub format: LogFormat,
    /// The level of DAIS's own events (dependencies stay at warn); `RUST_LOG`, when set, replaces the whole filter.
    pub level: String,
    /// Write here instead of stderr, rotating by size.
    pub file: Option<PathBuf>,
    pub max_bytes: u64,
    /// Rotated files kept beside the live one (`FILE.1` is the newest).
    pub keep: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            format: LogFormat::Text,
            level: "warn".into(),
            file: None,
            max_bytes: 10 * 1024 * 1024,
            keep: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("--log-file {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("RUST_LOG={value:?}: {message}")]
    Filter { value: String, message: String },
    #[error("the log is already set up in this process")]
    AlreadySet,
}

/// The progress bar that log lines must step around, while one is drawn.
static BAR: Mutex<Option<indicatif::ProgressBar>> = Mutex::new(None);

/// Log lines written to stderr from now on hide `bar` while they print.
pub fn attach_bar(bar: &indicatif::ProgressBar) {
    if let Ok(mut slot) = BAR.lock() {
        *slot = Some(bar.clone());
    }
}

pub fn detach_bar() {
    if let Ok(mut slot) = BAR.lock() {
        *slot = None;
    }
}

/// Stderr, one whole event at a time, with the progress bar suspended around it.
struct BarAwareStderr;

/// One event's bytes, written out when the formatter drops it.
struct EventBuffer(Vec<u8>);

impl Write for EventBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuffer {
    fn drop(&mut self) {
        let bar = BAR.lock().ok().and_then(|slot| slot.clone());
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.0);
        };
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

impl<'a> MakeWriter<'a> for BarAwareStderr {
    type Writer = EventBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        EventBuffer(Vec::with_capacity(256))
    }
}

fn filter(level: &str) -> Result<EnvFilter, LogError> {
    match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => {
            EnvFilter::try_new(&value).map_err(|e| LogError::Filter {
                value,
                message: e.to_string(),
            })
        }
        _ => Ok(EnvFilter::new(format!("warn,dais={level}"))),
    }
}

/// The formatting layer for `options`: text or JSON, to stderr (stepping around the progress bar) or to a
/// rotating file. Generic over the subscriber, so the window's LogPlugin can take it too.
pub fn layer<S>(options: &LogOptions) -> Result<Box<dyn Layer<S> + Send + Sync + 'static>, LogError>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let base = tracing_subscriber::fmt::layer();
    Ok(match (&options.file, options.format) {
        (Some(path), LogFormat::Json) => Box::new(
            base.with_writer(Mutex::new(rotating_file(path, options)?))
                .with_ansi(false)
                .json()
                .flatten_event(true),
        ),
        (Some(path), LogFormat::Text) => Box::new(
            base.with_writer(Mutex::new(rotating_file(path, options)?))
                .with_ansi(false),
        ),
        (None, LogFormat::Json) => {
            Box::new(base.with_writer(BarAwareStderr).json().flatten_event(true))
        }
        (None, LogFormat::Text) => Box::new(
            base.with_writer(BarAwareStderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        ),
    })
}

/// Installs the process's log subscriber (headless commands; the window configures Bevy's LogPlugin instead, with
/// [`window_layer`]).
pub fn init(options: &LogOptions) -> Result<(), LogError> {
    let registry = tracing_subscriber::registry().with(filter(&options.level)?);
    let layer = layer(options)?;
    registry
        .with(layer)
        .try_init()
        .map_err(|_| LogError::AlreadySet)
}

/// The window's log options, set before it opens (Bevy's LogPlugin takes a plain function, not a closure).
static WINDOW: OnceLock<LogOptions> = OnceLock::new();

/// Checks `options` (a bad --log-file is one line before the window opens) and keeps them for the window.
pub fn set_window_options(options: LogOptions) -> Result<(), LogError> {
    if let Some(path) = &options.file {
        rotating_file(path, &options)?;
    }
    let _ = WINDOW.set(options);
    Ok(())
}

/// For the window's LogPlugin: our layer when `--log-format json` or `--log-file` asks for one, else `None`
/// (Bevy's own text lines).
pub fn window_layer<S>() -> Option<Box<dyn Layer<S> + Send + Sync + 'static>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let options = WINDOW.get()?;
    if options.file.is_none() && options.format == LogFormat::Text {
        return None;
    }
    layer(options).ok()
}

fn rotating_file(
    path: &std::path::Path,
    options: &LogOptions,
) -> Result<file_rotate::FileRotate<file_rotate::suffix::AppendCount>, LogError> {
    // Open it once here, so a bad path is one line before anything runs.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| LogError::File {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(file_rotate::FileRotate::new(
        path,
        file_rotate::suffix::AppendCount::new(options.keep),
        // Rotates after the line that passes the limit, so no line is split between two files.
        file_rotate::ContentLimit::BytesSurpassed(options.max_bytes as usize),
        file_rotate::compression::Compression::None,
        None,
    ))
}
