//! A progress line on stderr for long imports and exports, shown only when stderr is a terminal,
//! or as plain lines when `IMAGEFS_PROGRESS=lines` (for logs, and for tests).
//!
//! An import shows its phases as the archive layer reports them ([`ImportProgress`]): `reading`
//! the input (bytes of the input as given: compressed bytes for a compressed archive; from a pipe
//! this is where content is hashed and spooled into the store), then `verifying` and `storing`
//! the selected blobs, counted against their total size. `storing` reaches its total only when
//! the last blob is durable and published.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::archive::ImportProgress;

/// The variable that asks for plain progress lines, whatever stderr is.
pub(super) const PROGRESS_ENV: &str = "IMAGEFS_PROGRESS";

/// How often the terminal line is redrawn.
const TICK: Duration = Duration::from_millis(200);
/// Plain lines are printed at least this many bytes apart (and at each phase change and end).
const LINE_STEP: u64 = 1 << 20;

/// Where progress goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Off,
    /// One line redrawn in place every [`TICK`].
    Terminal,
    /// A line per step, never overwritten.
    Lines,
}

/// What is being done, and how far it has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    phase: &'static str,
    done: u64,
    total: Option<u64>,
}

struct Shared {
    verb: &'static str,
    mode: Mode,
    /// The input's size, when known, for the `reading` phase.
    input_total: Option<u64>,
    /// The bytes an import will verify and store, once planned.
    planned: Mutex<Option<u64>>,
    state: Mutex<State>,
    /// The last state printed as a plain line.
    printed: Mutex<Option<State>>,
}

/// Draws progress until dropped.
pub(super) struct ProgressLine {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressLine {
    /// `phase` is the first phase; `total` the input's byte count, when known. Shows nothing
    /// unless `enabled`.
    pub(super) fn start(
        verb: &'static str,
        phase: &'static str,
        total: Option<u64>,
        enabled: bool,
    ) -> ProgressLine {
        let requested = std::env::var(PROGRESS_ENV).ok();
        if let Some(other) = requested
            .as_deref()
            .filter(|r| *r != "lines" && !r.is_empty())
        {
            log::warn!(target: "progress", "{PROGRESS_ENV}={other:?} ignored: the one value is \"lines\"");
        }
        let mode = mode(
            enabled,
            requested.as_deref(),
            std::io::stderr().is_terminal(),
        );
        let shared = Arc::new(Shared {
            verb,
            mode,
            input_total: total,
            planned: Mutex::new(None),
            state: Mutex::new(State {
                phase,
                done: 0,
                total,
            }),
            printed: Mutex::new(None),
        });
        let stop = Arc::new(AtomicBool::new(false));
        // Without a thread (the OS refused one) the work goes on, without a progress line.
        let thread = (mode == Mode::Terminal)
            .then(|| {
                let (shared, stop) = (shared.clone(), stop.clone());
                std::thread::Builder::new()
                    .name("progress".into())
                    .spawn(move || {
                        // Each phase has its own rate: its count starts again from 0.
                        let mut phase = ("", Instant::now());
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(TICK);
                            let state = *lock(&shared.state);
                            if state.phase != phase.0 {
                                let now = Instant::now();
                                phase = (state.phase, now.checked_sub(TICK).unwrap_or(now));
                            }
                            let line = render(shared.verb, &state, Some(phase.1.elapsed()));
                            let mut err = std::io::stderr().lock();
                            let _ = write!(err, "\r\x1b[K{line}");
                            let _ = err.flush();
                        }
                        eprint!("\r\x1b[K");
                    })
                    .ok()
            })
            .flatten();
        ProgressLine {
            shared,
            stop,
            thread,
        }
    }

    /// The work is in `phase`, `done` bytes of `total`.
    pub(super) fn update(&self, phase: &'static str, done: u64, total: Option<u64>) {
        let state = State { phase, done, total };
        *lock(&self.shared.state) = state;
        if self.shared.mode == Mode::Lines {
            let mut printed = lock(&self.shared.printed);
            if due(printed.as_ref(), &state) {
                eprintln!(
                    "imagefs: progress: {}",
                    render(self.shared.verb, &state, None)
                );
                *printed = Some(state);
            }
        }
    }

    fn planned(&self) -> Option<u64> {
        *lock(&self.shared.planned)
    }
}

impl ImportProgress for ProgressLine {
    fn read(&self, consumed: u64) {
        self.update("reading", consumed, self.shared.input_total);
    }

    fn planned(&self, bytes: u64) {
        *lock(&self.shared.planned) = Some(bytes);
        self.update("verifying", 0, Some(bytes));
    }

    fn verified(&self, done: u64) {
        self.update("verifying", done, self.planned());
    }

    fn stored(&self, done: u64) {
        self.update("storing", done, self.planned());
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A poisoned lock only means a progress update panicked; the figures are still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Off when not wanted; plain lines when asked for; else a redrawn line on a terminal only.
fn mode(enabled: bool, requested: Option<&str>, terminal: bool) -> Mode {
    match (enabled, requested, terminal) {
        (false, _, _) => Mode::Off,
        (true, Some("lines"), _) => Mode::Lines,
        (true, _, true) => Mode::Terminal,
        (true, _, false) => Mode::Off,
    }
}

/// Whether a plain line is due for `state`: a new phase, the end of one, or a step of at least
/// [`LINE_STEP`] (or 1% of the total, whichever is more, so a huge import prints ~100 lines; with
/// no total, 1% of what is done, so the lines thin out as it goes).
fn due(printed: Option<&State>, state: &State) -> bool {
    let Some(last) = printed else {
        return true;
    };
    if last.phase != state.phase {
        return true;
    }
    if state.done <= last.done {
        return false;
    }
    if state.total == Some(state.done) {
        return true;
    }
    let step = LINE_STEP.max(state.total.unwrap_or(state.done) / 100);
    state.done - last.done >= step
}

/// `importing: storing 12.0 MiB / 40.0 MiB (30%) 5.0 MiB/s`; the rate only with `elapsed`.
/// Plain lines (no `elapsed`) give exact byte counts, for scripts and tests.
fn render(verb: &str, state: &State, elapsed: Option<Duration>) -> String {
    let State { phase, done, total } = *state;
    let amount = |n: u64| match elapsed {
        Some(_) => human(n),
        None => format!("{n} B"),
    };
    let mut line = format!("{verb}: {phase} {}", amount(done));
    if let Some(t) = total.filter(|t| *t > 0) {
        // Floored: 100% only when everything is done.
        let pct = (u128::from(done.min(t)) * 100 / u128::from(t)) as u64;
        line += &format!(" / {} ({pct}%)", amount(t));
    }
    if let Some(elapsed) = elapsed {
        let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
        line += &format!(" {}/s", human(rate as u64));
    }
    line
}

/// 1.5 GiB, 12.0 MiB, 512 B.
pub(super) fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(phase: &'static str, done: u64, total: Option<u64>) -> State {
        State { phase, done, total }
    }

    #[test]
    fn plain_lines_only_when_asked_and_wanted_and_the_line_only_on_a_terminal() {
        assert_eq!(mode(true, Some("lines"), false), Mode::Lines);
        assert_eq!(mode(true, Some("lines"), true), Mode::Lines);
        assert_eq!(mode(false, Some("lines"), true), Mode::Off);
        assert_eq!(mode(true, None, true), Mode::Terminal);
        assert_eq!(mode(true, None, false), Mode::Off);
        assert_eq!(mode(true, Some("yes"), false), Mode::Off);
    }

    #[test]
    fn a_plain_line_is_due_at_a_new_phase_each_step_and_the_end() {
        let mib = 1 << 20;
        let first = state("reading", 10, Some(100 * mib));
        assert!(due(None, &first));
        assert!(!due(Some(&first), &state("reading", mib, Some(100 * mib))));
        assert!(due(
            Some(&first),
            &state("reading", mib + 10, Some(100 * mib))
        ));
        assert!(due(Some(&first), &state("reading", 20, Some(20))));
        assert!(due(Some(&first), &state("verifying", 0, Some(5))));
        // Nothing new, nothing printed.
        assert!(!due(Some(&first), &first));
        // 1% of a big total.
        let big = state("storing", 0, Some(1000 * mib));
        assert!(!due(
            Some(&big),
            &state("storing", 9 * mib, Some(1000 * mib))
        ));
        assert!(due(
            Some(&big),
            &state("storing", 10 * mib, Some(1000 * mib))
        ));
        // No total: steps grow with what is done.
        let far = state("reading", 1000 * mib, None);
        assert!(!due(Some(&far), &state("reading", 1005 * mib, None)));
        assert!(due(Some(&far), &state("reading", 1011 * mib, None)));
    }

    #[test]
    fn the_percentage_reaches_100_only_when_everything_is_done() {
        let line = render("importing", &state("storing", 999, Some(1000)), None);
        assert_eq!(line, "importing: storing 999 B / 1000 B (99%)");
        let line = render("importing", &state("storing", 1000, Some(1000)), None);
        assert_eq!(line, "importing: storing 1000 B / 1000 B (100%)");
        let line = render("importing", &state("reading", 3 << 20, None), None);
        assert_eq!(line, "importing: reading 3145728 B");
        let line = render(
            "importing",
            &state("reading", 3 << 20, Some(6 << 20)),
            Some(Duration::from_secs(1)),
        );
        assert_eq!(line, "importing: reading 3.0 MiB / 6.0 MiB (50%) 3.0 MiB/s");
    }

    #[test]
    fn the_import_phases_follow_the_archive_reports() {
        let line = ProgressLine::start("importing", "reading", Some(50), false);
        line.read(50);
        assert_eq!(*lock(&line.shared.state), state("reading", 50, Some(50)));
        ImportProgress::planned(&line, 30);
        assert_eq!(*lock(&line.shared.state), state("verifying", 0, Some(30)));
        line.verified(30);
        line.stored(10);
        assert_eq!(*lock(&line.shared.state), state("storing", 10, Some(30)));
    }
}
