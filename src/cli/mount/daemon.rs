//! Serving in the background, as mount(8) and fstab need (the helper must return once the mount
//! is live): the command re-runs itself in a new session and waits on a pipe until the child
//! says `ready`, or why not. And the readiness protocol of systemd's `Type=notify` units.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::error::MountError;
use crate::cli::CliError;

/// Set in the background child: the fd on which it reports.
const READY_FD_ENV: &str = "IMAGEFS_MOUNT_READY_FD";
/// The child's last word on the pipe when the mount is live; anything else is the error.
const READY: &str = "ready";
/// Lines the parent passes on to the user before the outcome (the child has no terminal).
const WARNING_PREFIX: &str = "warning: ";

/// The child's end of the pipe, once: `Some` only in the background child.
pub(super) fn report_pipe() -> Option<std::fs::File> {
    let fd: i32 = std::env::var(READY_FD_ENV).ok()?.parse().ok()?;
    // SAFETY: called once, from `mount` before any thread of this process starts, so nothing
    // reads the environment concurrently; removing the variable means the fd is taken once.
    unsafe { std::env::remove_var(READY_FD_ENV) };
    // SAFETY: the parent (`spawn`) created this fd for us and nothing else in this process
    // owns it.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // Not inherited by programs this process starts (fusermount3).
    // SAFETY: fcntl on an fd we own.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Some(file)
}

/// Tells the waiting parent something it should print (the child's stderr goes nowhere).
pub(super) fn warn_parent(pipe: &mut std::fs::File, message: &str) {
    let _ = writeln!(pipe, "{WARNING_PREFIX}{}", message.replace('\n', " "));
}

pub(super) fn report_ready(pipe: &mut std::fs::File) -> std::io::Result<()> {
    writeln!(pipe, "{READY}")
}

pub(super) fn report_error(pipe: &mut std::fs::File, error: &CliError) {
    let _ = writeln!(pipe, "{}", crate::error::chain(error));
}

/// Re-runs this command (same arguments) in a new session with the pipe's write end, and
/// waits for its report. Forking the running process instead would be unsafe once threads
/// exist. The daemon's stderr is `log_file` when given, else nothing (it logs to syslog).
pub(super) fn spawn(mountpoint: &Path, log_file: Option<&Path>) -> Result<(), CliError> {
    let (reader, writer) = std::io::pipe()?;
    let stderr = match log_file {
        Some(p) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|source| MountError::LogFile {
                    path: p.to_path_buf(),
                    source,
                })?,
        ),
        None => Stdio::null(),
    };
    let fd = writer.as_raw_fd();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(std::env::args_os().skip(1))
        .env(READY_FD_ENV, fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: only async-signal-safe calls (setsid, close_range, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            // The daemon keeps none of the caller's other descriptors (a shell's pipes, a
            // terminal), as libfuse's fuse_daemonize leaves none; kernels before 5.11 lack
            // CLOSE_RANGE_CLOEXEC and keep them.
            libc::close_range(
                3,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
            );
            let flags = libc::fcntl(fd, libc::F_GETFD);
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(writer);
    for line in BufReader::new(reader).lines() {
        let line = line?;
        if let Some(w) = line.strip_prefix(WARNING_PREFIX) {
            log::warn!(target: "mount", "{w}");
        } else if line == READY {
            println!(
                "mounted on {} (pid {}); `imagefs unmount {}` to stop",
                mountpoint.display(),
                child.id(),
                mountpoint.display()
            );
            return Ok(());
        } else {
            return Err(MountError::Daemon(line).into());
        }
    }
    Err(MountError::DaemonExited.into())
}

/// Sends `state` (`READY=1`, `STOPPING=1`) to systemd when it started us as a `Type=notify`
/// service (sd_notify(3): a datagram to `$NOTIFY_SOCKET`, `@` meaning the abstract namespace).
pub(super) fn notify_systemd(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None => SocketAddr::from_pathname(OsStr::from_bytes(bytes)),
    };
    let sent = addr.and_then(|addr| UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr));
    if let Err(e) = sent {
        log::warn!(target: "mount", "cannot notify systemd at {}: {e}", path.to_string_lossy());
    }
}
