//! The one mount guard: `imagefs mount` of a store (backgrounded, the default), unmounted on
//! drop, whose failure to mount fails the test (a test that mounts states `needs!("fuse")`
//! first); and the other mounts tests make or clean up: a small tmpfs, and detaching what a
//! killed daemon left.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::{imagefs, output, run, text, wait_for};

/// A mounted store: `imagefs mount MNT --no-sample -vv --log-file LOG [extra…]`.
pub(crate) struct Mount {
    pub store: PathBuf,
    pub mnt: PathBuf,
    pub log: PathBuf,
    /// The daemon's pid, as `mount` reports it; `None` once killed.
    pub pid: Option<u32>,
    extra: Vec<String>,
    mounted: bool,
}

impl Mount {
    /// Mounts `store` on `mnt` (created if missing), the daemon logging to `log`.
    #[track_caller]
    pub(crate) fn start(store: &Path, mnt: &Path, log: &Path) -> Mount {
        Mount::start_with(store, mnt, log, &[])
    }

    /// `start`, with more mount options (`--allow-other`, …).
    #[track_caller]
    pub(crate) fn start_with(store: &Path, mnt: &Path, log: &Path, extra: &[&str]) -> Mount {
        fs::create_dir_all(mnt).unwrap_or_else(|e| panic!("mkdir {}: {e}", mnt.display()));
        let mut m = Mount {
            store: store.to_path_buf(),
            mnt: mnt.to_path_buf(),
            log: log.to_path_buf(),
            pid: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            mounted: false,
        };
        m.mount();
        m
    }

    /// A mount the test made itself (another way), unmounted on drop like the others.
    pub(crate) fn adopt(store: &Path, mnt: &Path) -> Mount {
        Mount {
            store: store.to_path_buf(),
            mnt: mnt.to_path_buf(),
            log: PathBuf::new(),
            pid: None,
            extra: Vec::new(),
            mounted: true,
        }
    }

    /// Mounts (again, after `unmount`, `kill_daemon` or `detach`) with the same options; a
    /// stale mount left by a killed daemon is detached by the new one.
    #[track_caller]
    pub(crate) fn mount(&mut self) {
        let out = output(
            imagefs(&self.store)
                .arg("mount")
                .arg(&self.mnt)
                .args(["--no-sample", "-vv", "--log-file"])
                .arg(&self.log)
                .args(&self.extra),
        );
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "imagefs mount {} failed ({}): {said}\ndaemon log:\n{}",
            self.mnt.display(),
            out.status,
            self.log_text()
        );
        self.mounted = true;
        // "mounted on MNT (pid N); …"
        self.pid = said
            .split("(pid ")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .and_then(|pid| pid.parse().ok());
        assert!(self.pid.is_some(), "mount reported no pid: {said}");
    }

    /// `imagefs unmount` (lazily if busy); waits a moment for the daemon to exit.
    pub(crate) fn unmount(&mut self) {
        if !self.mounted {
            return;
        }
        let ok = output(imagefs(&self.store).arg("unmount").arg(&self.mnt))
            .status
            .success();
        if !ok {
            let _ = output(
                imagefs(&self.store)
                    .args(["unmount", "--lazy"])
                    .arg(&self.mnt),
            );
        }
        self.mounted = false;
        // The daemon exits once the kernel drops the connection; give it a moment.
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    /// Kills the daemon with SIGKILL (no unmount) and waits until it is gone: the mount is left
    /// stale (ENOTCONN) until `detach` or the next `mount`.
    pub(crate) fn kill_daemon(&mut self) {
        let pid = self.pid.take().expect("the daemon's pid");
        run(Command::new("kill").args(["-KILL", &pid.to_string()]));
        wait_for("the daemon to exit", || !is_alive(pid));
    }

    /// Detaches the mount point (`umount -l`), whatever state the daemon is in.
    pub(crate) fn detach(&mut self) {
        detach_under(&self.mnt);
        self.mounted = false;
    }

    /// A path under the mount point.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// Whether a process exists and is not a zombie.
fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S …": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The mount points at or below `dir`, deepest first.
pub(crate) fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| m.replace("\\040", " ").replace("\\011", "\t"))
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|m| std::cmp::Reverse(m.len()));
    points.into_iter().map(PathBuf::from).collect()
}

/// Detaches every mount at or below `dir` (deepest first, `umount2(MNT_DETACH)`): what a
/// daemon killed mid-way (or dockerd's bind mount of its data root) may leave.
pub(crate) fn detach_under(dir: &Path) {
    use std::os::unix::ffi::OsStrExt;
    for m in mounts_under(dir) {
        let c = std::ffi::CString::new(m.as_os_str().as_bytes()).expect("mount point");
        // SAFETY: umount2 with a valid C string.
        unsafe {
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// A tmpfs of a given size on a fresh temp dir (root only), detached on drop.
pub(crate) struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    #[track_caller]
    pub(crate) fn new(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("temp dir");
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size}"))
            .arg("imagefs-test")
            .arg(dir.path()));
        Tmpfs { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn resize(&self, size: &str) {
        run(Command::new("mount")
            .arg("-o")
            .arg(format!("remount,size={size}"))
            .arg(self.dir.path()));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        detach_under(self.dir.path());
    }
}
