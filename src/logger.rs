//! How imagefs reports to stderr: a small `log::Log` writing `imagefs: LEVEL target: message`
//! lines to stderr, level chosen by `-v`/`-q` or `IMAGEFS_LOG` (error, warn, info, debug,
//! trace). Errors in those lines are formatted by [`crate::error::chain`].

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "imagefs: {} {}: {}",
            record.level().as_str().to_lowercase(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger. Warnings show by default; each `-v` adds a level; `-q` shows errors only.
pub fn init(verbose: u8, quiet: bool) {
    let from_env = std::env::var("IMAGEFS_LOG")
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok());
    let level = match (from_env, quiet, verbose) {
        (Some(l), _, _) => l,
        (None, true, _) => LevelFilter::Error,
        (None, false, 0) => LevelFilter::Warn,
        (None, false, 1) => LevelFilter::Info,
        (None, false, 2) => LevelFilter::Debug,
        (None, false, _) => LevelFilter::Trace,
    };
    // A second init (tests) keeps the first logger; only the level changes.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
