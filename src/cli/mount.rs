//! `imagefs mount` and `imagefs unmount`: mount the store, serve until SIGINT/SIGTERM or an
//! unmount, optionally in the background once the mount is live.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;

use super::{CliError, CliResult};
use crate::fs::{FsOptions, ImageFs};
use crate::fuse::{self, MountConfig};
use crate::reference::Reference;
use crate::sample::{SampleSpec, write_sample};
use crate::store::Store;

/// The image seeded into an empty store, so that a first mount has something to show.
pub(super) const SAMPLE_NAME: &str = "example.com/imagefs/sample:latest";
/// Set in the background child: the fd on which it reports "ready" or the error.
const READY_FD_ENV: &str = "IMAGEFS_MOUNT_READY_FD";

#[derive(Debug, Args)]
pub struct MountArgs {
    /// Directory to mount on
    #[arg(value_name = "MOUNTPOINT")]
    pub mountpoint: PathBuf,
    /// Return once the mount is ready, serving it from a background process
    #[arg(long)]
    pub daemon: bool,
    /// Let other users access the mount (non-root needs user_allow_other in /etc/fuse.conf)
    #[arg(long)]
    pub allow_other: bool,
    /// Add the demo image example.com/imagefs/sample:latest (added anyway if the store is empty)
    #[arg(long, conflicts_with = "no_sample")]
    pub sample: bool,
    /// Never add the demo image, even to an empty store
    #[arg(long)]
    pub no_sample: bool,
    /// Serve archives with direct I/O instead of through the page cache (see doc/SEMANTICS.md)
    #[arg(long)]
    pub direct_io: bool,
    /// FUSE worker threads
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub threads: usize,
    /// With --daemon: write the daemon's log here (default: discarded)
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UnmountArgs {
    #[arg(value_name = "MOUNTPOINT")]
    pub mountpoint: PathBuf,
    /// Detach now even if files are open; the mount goes when they close
    #[arg(long)]
    pub lazy: bool,
}

pub(super) fn mount(store: &Store, args: &MountArgs) -> CliResult {
    let ready_fd = std::env::var(READY_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    if args.daemon && ready_fd.is_none() {
        return spawn_daemon(args);
    }
    // SAFETY: the parent created this fd for us (spawn_daemon) and nothing else in this
    // process owns it; we take it exactly once.
    let mut ready = ready_fd.map(|fd| std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }));
    match serve(store, args, &mut ready) {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Some(r) = ready.as_mut() {
                let _ = writeln!(r, "{}", crate::error::chain(&e));
            }
            Err(e)
        }
    }
}

fn serve(store: &Store, args: &MountArgs, ready: &mut Option<std::fs::File>) -> CliResult {
    clear_stale_mount(&args.mountpoint);
    if store.is_read_only() {
        log::warn!(target: "mount", "{} is read-only: archives are served, import/ refuses writes",
            store.root().display());
    } else if !args.no_sample && (args.sample || store.images()?.is_empty()) {
        let name = Reference::parse_normalized(SAMPLE_NAME)?;
        write_sample(store, &SampleSpec::demo(name))?;
        log::info!(target: "mount", "added the demo image {SAMPLE_NAME}");
    }
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let fs = ImageFs::new(
        store.clone(),
        FsOptions {
            uid,
            gid,
            direct_io: args.direct_io,
            read_only: false,
            dir_mode: None,
            file_mode: None,
        },
    );
    // Block the signals before the FUSE threads start, so they inherit the mask and only the
    // waiting thread below ever sees SIGINT/SIGTERM.
    let signals = block_stop_signals();
    let config = MountConfig {
        allow_other: args.allow_other,
        threads: args.threads,
    };
    let mut session =
        fuse::session(fs, &args.mountpoint, &config).map_err(|source| CliError::Mount {
            mountpoint: args.mountpoint.clone(),
            source,
        })?;
    let mut unmounter = session.unmount_callable();
    let mountpoint = args.mountpoint.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: `signals` is an initialised set and `sig` is a valid out-pointer.
            if unsafe { libc::sigwait(&signals, &mut sig) } == 0 {
                log::info!(target: "mount", "signal {sig}: unmounting {}", mountpoint.display());
                if let Err(e) = unmounter.unmount() {
                    log::warn!(target: "mount", "unmount failed ({e}); detaching lazily");
                    let _ = unmount_path(&mountpoint, true);
                }
            }
        })?;
    match ready.take() {
        Some(mut r) => {
            writeln!(r, "ready")?;
        }
        None => eprintln!(
            "imagefs: mounted {} on {}; Ctrl-C to unmount",
            store.root().display(),
            args.mountpoint.display()
        ),
    }
    session.run()?;
    log::info!(target: "mount", "unmounted {}", args.mountpoint.display());
    Ok(())
}

fn block_stop_signals() -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset and pthread_sigmask get valid
    // pointers to it. Blocking signals in this thread has no memory-safety effect.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        let mut set = set.assume_init();
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// Re-runs this command without `--daemon` in a new session and waits for it to report that
/// the mount is live (or why it is not). Forking the running process instead would be unsafe
/// once threads exist.
fn spawn_daemon(args: &MountArgs) -> CliResult {
    let (mut reader, writer) = std::io::pipe()?;
    let child_args: Vec<OsString> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--daemon")
        .collect();
    let log = match &args.log_file {
        Some(p) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|source| CliError::LogFile {
                    path: p.clone(),
                    source,
                })?,
        ),
        None => Stdio::null(),
    };
    let fd = writer.as_raw_fd();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(child_args)
        .env(READY_FD_ENV, fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: only async-signal-safe calls (setsid, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            let flags = libc::fcntl(fd, libc::F_GETFD);
            libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    drop(writer);
    let mut answer = String::new();
    reader.read_to_string(&mut answer)?;
    match answer.lines().next() {
        Some("ready") => {
            println!(
                "mounted on {} (pid {}); `imagefs unmount {}` to stop",
                args.mountpoint.display(),
                child.id(),
                args.mountpoint.display()
            );
            Ok(())
        }
        Some(error) => Err(CliError::Daemon(error.to_string())),
        None => Err(CliError::DaemonExited),
    }
}

/// A daemon that died leaves its mountpoint answering ENOTCONN, or ECONNABORTED when the
/// kernel aborted the connection with requests in flight; detach it so we can mount. Asked
/// by opening the directory, which the kernel always forwards to the daemon (OPENDIR): a stat
/// could be answered from the attribute cache.
fn clear_stale_mount(mountpoint: &Path) {
    if let Err(e) = std::fs::read_dir(mountpoint)
        && matches!(e.raw_os_error(), Some(libc::ENOTCONN | libc::ECONNABORTED))
    {
        log::warn!(target: "mount", "{} is a stale mount; detaching it", mountpoint.display());
        let _ = unmount_path(mountpoint, true);
    }
}

pub(super) fn unmount(args: &UnmountArgs) -> CliResult {
    unmount_path(&args.mountpoint, args.lazy).map_err(|source| CliError::Unmount {
        mountpoint: args.mountpoint.clone(),
        source,
    })
}

/// umount2 as root; fusermount3 for ordinary users.
fn unmount_path(mountpoint: &Path, lazy: bool) -> std::io::Result<()> {
    let c = std::ffi::CString::new(mountpoint.as_os_str().as_encoded_bytes())
        .map_err(std::io::Error::other)?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EPERM) {
        return Err(err);
    }
    let mut cmd = Command::new("fusermount3");
    cmd.arg("-u");
    if lazy {
        cmd.arg("-z");
    }
    let status = cmd.arg(mountpoint).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "fusermount3 -u failed ({status})"
        )))
    }
}
