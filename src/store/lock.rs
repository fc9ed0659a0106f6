//! Advisory `flock` locks on the store's lock files and temp files, and who holds them.
//!
//! `flock` locks belong to an open file description, so they vanish with their process however
//! it dies (kill -9 included): a lock we can take proves its previous owner is gone. When a lock
//! is busy, `/proc/locks` names the processes holding it, so a waiting `gc` can say whom it
//! waits for instead of hanging silently.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// How often a bounded wait retries a busy lock.
const RETRY_EVERY: Duration = Duration::from_millis(50);
/// Longest command line shown for a lock holder.
const MAX_COMMAND_SHOWN: usize = 160;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    Shared,
    Exclusive,
}

impl Mode {
    fn operation(self) -> libc::c_int {
        match self {
            Mode::Shared => libc::LOCK_SH,
            Mode::Exclusive => libc::LOCK_EX,
        }
    }
}

/// An advisory lock held until dropped (or no lock at all, for a store nobody can collect).
#[derive(Debug)]
pub struct LockGuard {
    _file: Option<File>,
}

impl LockGuard {
    pub(super) fn none() -> LockGuard {
        LockGuard { _file: None }
    }
}

/// A process holding a lock, as `/proc/locks` and `/proc/PID/cmdline` tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    /// Its command line, shortened; empty when it cannot be read.
    pub command: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.command.is_empty() {
            true => write!(f, "pid {}", self.pid),
            false => write!(f, "pid {} ({})", self.pid, self.command),
        }
    }
}

#[derive(Debug)]
pub(super) enum WaitError {
    Io(io::Error),
    TimedOut {
        holders: Vec<LockHolder>,
        waited: Duration,
    },
}

/// Whether this process may create and replace files in `dir` (effective ids; a read-only
/// filesystem says no, even to root).
pub(super) fn is_writable(dir: &Path) -> bool {
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path; faccessat only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock only reads the fd, which `file` keeps open for the call's duration.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Locks an open file, waiting as long as it takes.
pub(super) fn lock_file(file: &File, mode: Mode) -> io::Result<()> {
    flock(file, mode.operation())
}

/// Opens (creating if need be) a lock file. flock needs no write access, so a lock file another
/// user created (0644, in a group-shared store) is opened for reading.
/// A symlink is refused: in a store another user controls, it could make us create or lock a
/// file anywhere.
fn open_lock_file(path: &Path) -> io::Result<File> {
    let created = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path);
    match created {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => open_no_follow(path),
        other => other,
    }
}

/// Opens a file of the store for reading, refusing a symlink (ELOOP): nothing in a store is
/// one, and following one in a store another user controls would read (or lock) their choice
/// of file with our rights.
pub(super) fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Takes the lock now if it is free: `Ok(None)` when someone holds it.
pub(super) fn try_lock(path: &Path, mode: Mode) -> io::Result<Option<LockGuard>> {
    // Reading is enough for flock; opening for reading works for any file we may read.
    let file = open_no_follow(path)?;
    match flock(&file, mode.operation() | libc::LOCK_NB) {
        Ok(()) => Ok(Some(LockGuard { _file: Some(file) })),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Locks an existing lock file opened for reading only (a store we cannot write).
pub(super) fn lock_existing(path: &Path, mode: Mode) -> io::Result<LockGuard> {
    let file = open_no_follow(path)?;
    flock(&file, mode.operation())?;
    Ok(LockGuard { _file: Some(file) })
}

/// Locks `path` (created if missing), waiting at most `timeout`. If the lock is busy, `waiting`
/// is called once with its holders before the wait begins.
pub(super) fn lock_waiting(
    path: &Path,
    mode: Mode,
    timeout: Option<Duration>,
    waiting: impl FnOnce(&[LockHolder]),
) -> Result<LockGuard, WaitError> {
    let file = open_lock_file(path).map_err(WaitError::Io)?;
    match flock(&file, mode.operation() | libc::LOCK_NB) {
        Ok(()) => return Ok(LockGuard { _file: Some(file) }),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {}
        Err(e) => return Err(WaitError::Io(e)),
    }
    waiting(&holders(&file));
    let Some(timeout) = timeout else {
        flock(&file, mode.operation()).map_err(WaitError::Io)?;
        return Ok(LockGuard { _file: Some(file) });
    };
    let start = Instant::now();
    loop {
        match flock(&file, mode.operation() | libc::LOCK_NB) {
            Ok(()) => return Ok(LockGuard { _file: Some(file) }),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {}
            Err(e) => return Err(WaitError::Io(e)),
        }
        if start.elapsed() >= timeout {
            return Err(WaitError::TimedOut {
                holders: holders(&file),
                waited: start.elapsed(),
            });
        }
        std::thread::sleep(RETRY_EVERY.min(timeout.saturating_sub(start.elapsed())));
    }
}

/// The processes holding a lock on `file` (ours excluded), from `/proc/locks`.
fn holders(file: &File) -> Vec<LockHolder> {
    let Ok(meta) = file.metadata() else {
        return Vec::new();
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return Vec::new();
    };
    let mut pids = parse_proc_locks(
        &locks,
        libc::major(meta.dev()),
        libc::minor(meta.dev()),
        meta.ino(),
    );
    pids.retain(|&p| p != std::process::id());
    pids.sort_unstable();
    pids.dedup();
    pids.into_iter()
        .map(|pid| LockHolder {
            pid,
            command: command_of(pid),
        })
        .collect()
}

/// PIDs holding (not waiting for) a lock on the file `major:minor:inode`. Lines look like
/// `1: FLOCK  ADVISORY  READ  1234 00:2a:5678 0 EOF`; waiters are marked `->` (proc(5)).
fn parse_proc_locks(locks: &str, major: u32, minor: u32, ino: u64) -> Vec<u32> {
    let mut pids = Vec::new();
    for line in locks.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) == Some(&"->") || fields.len() < 6 {
            continue;
        }
        let (Ok(pid), Some(id)) = (fields[4].parse::<u32>(), fields.get(5)) else {
            continue;
        };
        let parts: Vec<&str> = id.split(':').collect();
        let matches = parts.len() == 3
            && u32::from_str_radix(parts[0], 16) == Ok(major)
            && u32::from_str_radix(parts[1], 16) == Ok(minor)
            && parts[2].parse::<u64>() == Ok(ino);
        if matches {
            pids.push(pid);
        }
    }
    pids
}

fn command_of(pid: u32) -> String {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return String::new();
    };
    let mut command = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    if command.len() > MAX_COMMAND_SHOWN {
        let mut cut = MAX_COMMAND_SHOWN;
        while !command.is_char_boundary(cut) {
            cut -= 1;
        }
        command.truncate(cut);
        command.push('…');
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines_name_holders_not_waiters() {
        let locks = "1: FLOCK  ADVISORY  READ  1234 00:2a:5678 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 999 00:2a:5678 0 EOF\n\
                     2: FLOCK  ADVISORY  READ  77 00:2a:9999 0 EOF\n\
                     3: POSIX  ADVISORY  WRITE 55 fd:01:5678 0 EOF\n";
        assert_eq!(parse_proc_locks(locks, 0, 0x2a, 5678), vec![1234]);
        assert_eq!(parse_proc_locks(locks, 0xfd, 1, 5678), vec![55]);
    }

    #[test]
    fn a_busy_lock_names_its_holder_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gc.lock");
        let held = lock_waiting(&path, Mode::Shared, None, |_| {}).unwrap();
        // Another open file description of the same file conflicts, even in this process.
        let mut told = None;
        let err = lock_waiting(
            &path,
            Mode::Exclusive,
            Some(Duration::from_millis(120)),
            |h| told = Some(h.to_vec()),
        )
        .unwrap_err();
        assert!(told.is_some(), "the waiter was told before waiting");
        assert!(matches!(err, WaitError::TimedOut { .. }));
        drop(held);
        assert!(try_lock(&path, Mode::Exclusive).unwrap().is_some());
    }
}
