//! A progress line on stderr for long imports and exports, shown only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Draws `verb: done / total (pct) rate` every 200 ms until dropped.
pub(super) struct ProgressLine {
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressLine {
    /// `total` is the expected byte count, when known. Draws nothing unless `enabled` and stderr
    /// is a terminal; the counter works either way.
    pub(super) fn start(verb: &'static str, total: Option<u64>, enabled: bool) -> ProgressLine {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // Without a thread (the OS refused one) the work goes on, without a progress line.
        let thread = (enabled && std::io::stderr().is_terminal())
            .then(|| {
                let (done, stop) = (done.clone(), stop.clone());
                std::thread::Builder::new()
                    .name("progress".into())
                    .spawn(move || {
                        let start = Instant::now();
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(200));
                            draw(verb, done.load(Ordering::Relaxed), total, start.elapsed());
                        }
                        eprint!("\r\x1b[K");
                    })
                    .ok()
            })
            .flatten();
        ProgressLine { done, stop, thread }
    }

    /// The counter the work updates.
    pub(super) fn counter(&self) -> &Arc<AtomicU64> {
        &self.done
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

fn draw(verb: &str, done: u64, total: Option<u64>, elapsed: Duration) {
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let line = match total {
        Some(t) if t > 0 => format!(
            "{verb}: {} / {} ({:.0}%) {}/s",
            human(done),
            human(t),
            done as f64 * 100.0 / t as f64,
            human(rate as u64)
        ),
        _ => format!("{verb}: {} {}/s", human(done), human(rate as u64)),
    };
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[K{line}");
    let _ = err.flush();
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
