//! How imagefs reports: a small `log::Log` that writes `imagefs: LEVEL target: message` lines to
//! stderr, or, for a mount serving in the background, RFC 3164 datagrams to the system log
//! (`/dev/log`, which journald and rsyslog read). Which messages pass is chosen by `-v`/`-q`,
//! `-d`, or a filter in `IMAGEFS_LOG` (else `RUST_LOG`) in env_logger's syntax:
//! `warn,fuse=debug` (a default level, then `target=level` for targets starting so).

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, RwLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Where the system log listens (glibc's `_PATH_LOG`).
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// Test-only override of [`SYSLOG_SOCKET`], so that a test can read what the daemon logs.
const SYSLOG_SOCKET_ENV: &str = "IMAGEFS_SYSLOG_SOCKET";
/// syslog's facility for system daemons (RFC 3164, section 4.1.1).
const FACILITY_DAEMON: u8 = 3;

/// Which messages pass: a default level and per-target levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    default: LevelFilter,
    /// Target prefix and its level; the longest matching prefix decides.
    targets: Vec<(String, LevelFilter)>,
}

impl Filter {
    /// Everything at `level`.
    pub fn level(level: LevelFilter) -> Filter {
        Filter {
            default: level,
            targets: Vec::new(),
        }
    }

    /// Parses `warn,fuse=debug,store=trace`; a bare level sets the default (else `default`).
    /// Directives that do not parse are returned, so the caller can say which were ignored.
    pub fn parse(spec: &str, default: LevelFilter) -> (Filter, Vec<String>) {
        let mut filter = Filter::level(default);
        let mut bad = Vec::new();
        for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match directive.split_once('=') {
                None => match directive.parse::<LevelFilter>() {
                    Ok(l) => filter.default = l,
                    // env_logger's `target` alone means "everything from it".
                    Err(_) => filter
                        .targets
                        .push((directive.to_string(), LevelFilter::Trace)),
                },
                Some((target, level)) => match level.parse::<LevelFilter>() {
                    Ok(l) if !target.is_empty() => filter.targets.push((target.to_string(), l)),
                    _ => bad.push(directive.to_string()),
                },
            }
        }
        (filter, bad)
    }

    fn max(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, l)| *l)
            .fold(self.default, std::cmp::Ord::max)
    }

    fn allows(&self, target: &str, level: Level) -> bool {
        let limit = self
            .targets
            .iter()
            .filter(|(t, _)| covers(t, target))
            .max_by_key(|(t, _)| t.len())
            .map_or(self.default, |(_, l)| *l);
        level <= limit
    }
}

/// Whether a directive for target `t` covers `target`: the same, or a module below it
/// (`fuse` covers `fuse::read` but not the fuser crate's `fuser::…`).
fn covers(t: &str, target: &str) -> bool {
    target
        .strip_prefix(t)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

enum Sink {
    Stderr,
    /// The system log; `None` when its socket could not be reached (messages are dropped).
    Syslog {
        socket: Option<UnixDatagram>,
        path: String,
    },
}

struct Logger {
    filter: RwLock<Filter>,
    sink: Mutex<Sink>,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter
            .read()
            .map(|f| f.allows(metadata.target(), metadata.level()))
            .unwrap_or(true)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = record.level().as_str().to_lowercase();
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        match &mut *sink {
            Sink::Stderr => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "imagefs: {level} {}: {}",
                    record.target(),
                    record.args()
                );
            }
            Sink::Syslog { socket, path } => {
                let line = format!(
                    "<{}>imagefs[{}]: {level} {}: {}",
                    FACILITY_DAEMON * 8 + severity(record.level()),
                    std::process::id(),
                    record.target(),
                    record.args()
                );
                let Some(s) = socket else { return };
                // A restarted journald has a new socket: reconnect once.
                if s.send(line.as_bytes()).is_err()
                    && let Ok(fresh) = UnixDatagram::unbound()
                    && fresh.connect(&*path).is_ok()
                {
                    let _ = fresh.send(line.as_bytes());
                    *s = fresh;
                }
            }
        }
    }

    fn flush(&self) {}
}

/// syslog severities (RFC 3164, table 2).
fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

static LOGGER: Logger = Logger {
    filter: RwLock::new(Filter {
        default: LevelFilter::Warn,
        targets: Vec::new(),
    }),
    sink: Mutex::new(Sink::Stderr),
};

/// Installs the logger. Warnings show by default; each `-v` adds a level; `-q` shows errors
/// only; `IMAGEFS_LOG` (else `RUST_LOG`) overrides both.
pub fn init(verbose: u8, quiet: bool) {
    let from_flags = match (quiet, verbose) {
        (true, _) => LevelFilter::Error,
        (false, 0) => LevelFilter::Warn,
        (false, 1) => LevelFilter::Info,
        (false, 2) => LevelFilter::Debug,
        (false, _) => LevelFilter::Trace,
    };
    let spec = std::env::var("IMAGEFS_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let (filter, bad) = match spec {
        Some(s) => Filter::parse(&s, from_flags),
        None => (Filter::level(from_flags), Vec::new()),
    };
    set_filter(filter);
    // A second init (tests) keeps the first logger; only the filter changes.
    let _ = log::set_logger(&LOGGER);
    for d in bad {
        log::warn!(target: "log", "ignored log filter directive {d:?} (want target=level)");
    }
}

/// Replaces the filter (`mount -d` turns on debug for everything).
pub fn set_filter(filter: Filter) {
    log::set_max_level(filter.max());
    if let Ok(mut f) = LOGGER.filter.write() {
        *f = filter;
    }
}

/// Raises the default level to at least `level`, keeping per-target directives (`mount -d`).
pub fn raise_default(level: LevelFilter) {
    let filter = LOGGER.filter.read().map(|f| f.clone()).ok();
    if let Some(mut f) = filter {
        f.default = f.default.max(level);
        set_filter(f);
    }
}

/// Sends messages to the system log from now on. Returns the socket path and, when it cannot
/// be reached, why: the caller says so while it still has a terminal.
pub fn to_syslog() -> (String, Option<std::io::Error>) {
    let path = std::env::var(SYSLOG_SOCKET_ENV).unwrap_or_else(|_| SYSLOG_SOCKET.to_string());
    let connected = UnixDatagram::unbound().and_then(|s| s.connect(&path).map(|()| s));
    let (socket, error) = match connected {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e)),
    };
    if let Ok(mut sink) = LOGGER.sink.lock() {
        *sink = Sink::Syslog {
            socket,
            path: path.clone(),
        };
    }
    // A panic in a background daemon would otherwise vanish with its closed stderr.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        log::error!(target: "panic", "{info}");
        previous(info);
    }));
    (path, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_takes_a_default_and_per_target_levels() {
        let (f, bad) = Filter::parse("error,fuse=debug,store=trace", LevelFilter::Warn);
        assert!(bad.is_empty());
        assert!(f.allows("fuse", Level::Debug));
        assert!(!f.allows("fuse", Level::Trace));
        assert!(f.allows("store", Level::Trace));
        assert!(!f.allows("mount", Level::Warn));
        assert!(f.allows("mount", Level::Error));
        assert_eq!(f.max(), LevelFilter::Trace);
    }

    #[test]
    fn the_longest_matching_target_decides() {
        let (f, _) = Filter::parse("fuse=error,fuse::read=trace", LevelFilter::Warn);
        assert!(f.allows("fuse::read", Level::Trace));
        assert!(!f.allows("fuse::write", Level::Warn));
    }

    #[test]
    fn a_target_covers_its_modules_not_other_crates_sharing_a_prefix() {
        let (f, _) = Filter::parse("fuse=debug", LevelFilter::Warn);
        assert!(f.allows("fuse", Level::Debug));
        assert!(f.allows("fuse::mount", Level::Debug));
        assert!(!f.allows("fuser::session", Level::Debug));
        assert!(f.allows("fuser::session", Level::Warn));
    }

    #[test]
    fn without_a_level_the_flags_decide_and_bad_directives_are_reported() {
        let (f, bad) = Filter::parse("fuse=loud,mount", LevelFilter::Info);
        assert_eq!(bad, vec!["fuse=loud".to_string()]);
        assert!(f.allows("store", Level::Info));
        assert!(f.allows("mount", Level::Trace));
    }
}
