//! Logging set-up and progress bars for the `tributary` binary (not part of the library).
//!
//! Logs go to standard error through `tracing` with fixed field names (`source`, `url`, `topic`,
//! `status`, `error`, `elapsed_ms`). Text is coloured on a terminal and has no timestamps when
//! standard error is the journal (journald stamps every line itself); JSON is one object per line
//! with the fields at the top level. The level is `--log-level` when given, else `RUST_LOG`, else
//! `info`.
//!
//! A progress bar is drawn on standard error only when it is a terminal; while one is drawn, log
//! lines and output lines are written above it instead of through it.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The bar on screen, if any, so that log lines can be written above it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn active_bar() -> Option<ProgressBar> {
    ACTIVE_BAR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Standard error, hiding the progress bar while a line is written.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match active_bar() {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf)),
            None => std::io::stderr().write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Installs the global subscriber. Fails only on an invalid `--log-level`; an invalid `RUST_LOG`
/// is reported and replaced by `info`, so that a typo in a unit file does not stop the daemon.
pub fn init(format: LogFormat, level: Option<&str>) -> Result<(), String> {
    let mut bad_env = None;
    let filter = match level {
        Some(level) => {
            EnvFilter::try_new(level).map_err(|e| format!("--log-level {level}: {e}"))?
        }
        None => match std::env::var("RUST_LOG") {
            Ok(env) if !env.trim().is_empty() => EnvFilter::try_new(&env).unwrap_or_else(|e| {
                bad_env = Some(format!("RUST_LOG={env}: {e}; logging at info"));
                EnvFilter::new("info")
            }),
            _ => EnvFilter::new("info"),
        },
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text if stderr_is_journal() => {
            builder.without_time().with_ansi(false).try_init()
        }
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init(),
    };
    installed.map_err(|e| format!("cannot set up logging: {e}"))?;
    if let Some(warning) = bad_env {
        tracing::warn!("{warning}");
    }
    Ok(())
}

/// Whether standard error is connected to the journal: systemd sets `JOURNAL_STREAM` to the
/// device and inode of that stream (systemd.exec(5)), and a child whose standard error was
/// redirected elsewhere inherits the variable, so both are compared with what fd 2 really is.
#[cfg(unix)]
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;

    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    std::fs::File::from(fd)
        .metadata()
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

#[cfg(not(unix))]
fn stderr_is_journal() -> bool {
    false
}

/// A progress bar over `len` items when standard error is a terminal; otherwise nothing is drawn
/// and output lines are simply printed.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new(len: usize, unit: &str) -> Progress {
        if len < 2 || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let style = ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit} {{elapsed}} {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar = ProgressBar::new(len as u64).with_style(style);
        *ACTIVE_BAR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(bar.clone());
        Progress { bar: Some(bar) }
    }

    /// Prints `line` on standard output, above the bar when there is one.
    pub fn println(&self, line: &str) {
        let print = || {
            let _ = writeln!(std::io::stdout(), "{line}");
        };
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            *ACTIVE_BAR
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
