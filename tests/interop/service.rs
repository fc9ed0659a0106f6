//! Peer daemons as child processes: started privately, stopped (SIGTERM, then SIGKILL) by a Drop
//! guard even when the test fails, their log shown when they cannot start.

use super::*;

/// A daemon child process; SIGTERM then SIGKILL on drop.
pub(crate) struct Daemon {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Daemon {
    pub(crate) fn spawn(name: &'static str, mut c: Command, log: PathBuf) -> Daemon {
        let file = fs::File::create(&log).expect("log file");
        c.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log fd"))
            .stderr(file);
        let s = format!("{c:?}");
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("{name} cannot start: {s}: {e}"));
        Daemon { name, child, log }
    }

    pub(crate) fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until `ready`; the daemon exiting or 30 s passing fails with the daemon's log.
    pub(crate) fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "{} cannot start: exited with {status}; its log ends:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if ready() {
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "{} cannot start: not ready after 30 s; its log ends:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A private temp dir under /tmp (short: unix socket paths are limited to 108 bytes).
pub(crate) fn private_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("imagefs-{tag}-"))
        .tempdir_in("/tmp")
        .expect("temp dir")
}
