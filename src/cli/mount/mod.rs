//! `imagefs mount` and `imagefs unmount`, with the conventions of FUSE filesystems: `-o` option
//! lists (so `mount -t fuse.imagefs` and fstab work through `mount.fuse3`), the background by
//! default once the mount is live (`-f` to stay), syslog when backgrounded, systemd readiness,
//! and guards that refuse a mountpoint or an unmount with advice.

mod daemon;
mod error;
mod options;
mod table;

mod guards;

use std::path::{Path, PathBuf};

use clap::Args;

use super::CliResult;
use crate::fs::{FsOptions, ImageFs};
use crate::fuse::{self, MountConfig};
use crate::logger;
use crate::reference::Reference;
use crate::sample::{SampleSpec, write_sample};
use crate::store::Store;

pub use error::MountError;
pub use options::OptionError;
use options::{MountSettings, Sample};

/// The image seeded into an empty store, so that a first mount has something to show.
pub(super) const SAMPLE_NAME: &str = "example.com/imagefs/sample:latest";

#[derive(Debug, Args)]
#[command(after_long_help = "\
Also runs as a mount helper: `mount -t fuse.imagefs STORE MOUNTPOINT -o OPTIONS` and an fstab line
  /var/lib/imagefs  /mnt/images  fuse.imagefs  defaults,allow_other,_netdev  0 0
make mount.fuse3 run `imagefs STORE MOUNTPOINT -o OPTIONS`. doc/CONFIGURATION.md lists every option.")]
pub struct MountArgs {
    /// Directory to mount on (an empty directory)
    #[arg(value_name = "MOUNTPOINT")]
    pub mountpoint: PathBuf,
    /// Mount options, comma-separated, as mount(8) and fstab pass them: FUSE's (ro,
    /// allow_other, allow_root, default_permissions, auto_unmount, nonempty, uid=N, gid=N,
    /// fsname=NAME), mount(8)'s (noexec; _netdev, x-systemd.*, nofail… are ignored) and this
    /// command's own long options by name (dir_mode=0755, read_only, threads=8, log_file=F)
    #[arg(short = 'o', value_name = "OPTIONS")]
    pub options: Vec<String>,
    /// Stay in the foreground, logging to stderr (default: return once the mount is live and
    /// serve from a background process, which logs to the system log)
    #[arg(short = 'f', long)]
    pub foreground: bool,
    /// Log every request (debug level), in the foreground, as libfuse's -d does
    #[arg(short = 'd', long)]
    pub debug: bool,
    /// The background is the default now; kept so that older scripts keep working
    #[arg(long, hide = true)]
    pub daemon: bool,
    /// Let other users access the mount (non-root needs user_allow_other in /etc/fuse.conf)
    #[arg(long)]
    pub allow_other: bool,
    /// Let root access the mount too (same /etc/fuse.conf rule)
    #[arg(long, conflicts_with = "allow_other")]
    pub allow_root: bool,
    /// Read only: no import/ directory, and the kernel refuses writes
    #[arg(long)]
    pub read_only: bool,
    /// Owner shown for every file and directory (default: the mounting user)
    #[arg(long, value_name = "UID", value_parser = id_arg)]
    pub uid: Option<u32>,
    /// Group shown for every file and directory (default: the mounting user's group)
    #[arg(long, value_name = "GID", value_parser = id_arg)]
    pub gid: Option<u32>,
    /// Permission bits of directories, octal (default 0555, import/ 0755); enforced
    #[arg(long, value_name = "MODE", value_parser = mode_arg)]
    pub dir_mode: Option<u16>,
    /// Permission bits of files, octal (default 0444); enforced
    #[arg(long, value_name = "MODE", value_parser = mode_arg)]
    pub file_mode: Option<u16>,
    /// The mount goes away when the daemon dies, however it dies (fusermount3 watches it), so
    /// a crash never leaves 'Transport endpoint is not connected' behind
    #[arg(long)]
    pub auto_unmount: bool,
    /// Mount over a directory that has entries, hiding them while mounted
    #[arg(long)]
    pub nonempty: bool,
    /// Add the demo image example.com/imagefs/sample:latest (added anyway if the store is empty)
    #[arg(long, conflicts_with = "no_sample")]
    pub sample: bool,
    /// Never add the demo image, even to an empty store
    #[arg(long)]
    pub no_sample: bool,
    /// Serve archives with direct I/O instead of through the page cache (see doc/SEMANTICS.md)
    #[arg(long)]
    pub direct_io: bool,
    /// FUSE worker threads (1 to 256)
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = threads_arg)]
    pub threads: usize,
    /// In the background: write the daemon's log here instead of to the system log
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UnmountArgs {
    #[arg(value_name = "MOUNTPOINT")]
    pub mountpoint: PathBuf,
    /// Detach now even if files are open; the mount goes when they close
    #[arg(short = 'z', long)]
    pub lazy: bool,
}

fn mode_arg(s: &str) -> Result<u16, String> {
    options::parse_mode(s).ok_or_else(|| format!("{s:?} is not octal permission bits like 0755"))
}

fn id_arg(s: &str) -> Result<u32, String> {
    options::parse_id(s).ok_or_else(|| format!("{s:?} is not a numeric id below 4294967295"))
}

fn threads_arg(s: &str) -> Result<usize, String> {
    options::parse_threads(s).ok_or_else(|| format!("{s:?} is not a number from 1 to 256"))
}

impl MountArgs {
    /// The flags, then every `-o` list over them.
    fn settings(&self) -> Result<MountSettings, OptionError> {
        let mut s = MountSettings::defaults();
        s.foreground = self.foreground;
        s.debug = self.debug;
        s.audience = match (self.allow_other, self.allow_root) {
            (true, _) => fuse::Audience::Everyone,
            (false, true) => fuse::Audience::OwnerAndRoot,
            (false, false) => fuse::Audience::Owner,
        };
        s.read_only = self.read_only;
        s.uid = self.uid;
        s.gid = self.gid;
        s.dir_mode = self.dir_mode;
        s.file_mode = self.file_mode;
        s.auto_unmount = self.auto_unmount;
        s.nonempty = self.nonempty;
        s.sample = match (self.sample, self.no_sample) {
            (true, _) => Sample::Always,
            (false, true) => Sample::Never,
            (false, false) => Sample::IfEmpty,
        };
        s.direct_io = self.direct_io;
        s.threads = self.threads;
        s.log_file = self.log_file.clone();
        let ignored = s.apply_options(&self.options)?;
        if !ignored.is_empty() {
            log::debug!(target: "mount", "ignored mount options: {}", ignored.join(","));
        }
        if s.debug {
            s.foreground = true;
        }
        Ok(s)
    }
}

pub(super) fn mount(store: &Store, args: &MountArgs) -> CliResult {
    let settings = args.settings().map_err(MountError::from)?;
    let mountpoint = guards::absolute(&args.mountpoint);
    let mut pipe = daemon::report_pipe();
    if pipe.is_none() {
        // The command the user ran: refusals print here, before anything goes to the background.
        clear_stale_mount(&mountpoint)?;
        guards::check_mountpoint(&mountpoint, settings.nonempty)?;
        guards::check_dev_fuse(settings.auto_unmount)?;
        if !settings.foreground {
            let log_file = settings.log_file.as_deref().map(guards::absolute);
            return daemon::spawn(&args.mountpoint, log_file.as_deref());
        }
    }
    if settings.debug {
        logger::raise_default(log::LevelFilter::Debug);
    }
    if let Some(p) = pipe.as_mut() {
        if settings.log_file.is_none() {
            let (path, error) = logger::to_syslog();
            if let Some(e) = error {
                daemon::warn_parent(
                    p,
                    &format!(
                        "the system log at {path} cannot be reached ({e}); the daemon's \
                         messages are lost. Use --log-file FILE"
                    ),
                );
            }
        }
        // Like libfuse's fuse_daemonize: a daemon must not keep the caller's directory busy.
        // Every path it uses is absolute by now.
        let _ = std::env::set_current_dir("/");
    }
    match serve(store, &mountpoint, &settings, &mut pipe) {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Some(p) = pipe.as_mut() {
                daemon::report_error(p, &e);
            }
            Err(e)
        }
    }
}

fn serve(
    store: &Store,
    mountpoint: &Path,
    s: &MountSettings,
    pipe: &mut Option<std::fs::File>,
) -> CliResult {
    if store.is_read_only() {
        log::warn!(target: "mount", "{} is read-only: archives are served, import/ refuses writes",
            store.root().display());
    } else if !s.read_only
        && match s.sample {
            Sample::Always => true,
            Sample::Never => false,
            Sample::IfEmpty => store.images()?.is_empty(),
        }
    {
        let name = Reference::parse_normalized(SAMPLE_NAME)?;
        write_sample(store, &SampleSpec::demo(name))?;
        log::info!(target: "mount", "added the demo image {SAMPLE_NAME}");
    }
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let fs = ImageFs::new(
        store.clone(),
        FsOptions {
            uid: s.uid.unwrap_or(uid),
            gid: s.gid.unwrap_or(gid),
            direct_io: s.direct_io,
            read_only: s.read_only,
            dir_mode: s.dir_mode,
            file_mode: s.file_mode,
        },
    );
    // Block the signals before the FUSE threads start, so they inherit the mask and only the
    // waiting thread below ever sees SIGINT/SIGTERM/SIGHUP.
    let signals = block_stop_signals();
    let config = MountConfig {
        audience: s.audience,
        threads: s.threads,
        source: s
            .fsname
            .clone()
            .unwrap_or_else(|| store.root().display().to_string()),
        read_only: s.read_only,
        no_exec: s.no_exec,
        default_permissions: s.default_permissions || search_is_restricted(s),
        auto_unmount: s.auto_unmount,
    };
    // The checks again, under a lock on the directory, right before mounting: two mounts
    // started at once must not both pass them. Held while this process serves.
    let _claim = guards::claim_mountpoint(mountpoint, s.nonempty)?;
    let mut mounted =
        fuse::session(fs, mountpoint, &config).map_err(|source| MountError::Mount {
            mountpoint: mountpoint.to_path_buf(),
            source,
        })?;
    let mut unmounter = mounted.unmounter();
    let signal_mountpoint = mountpoint.to_path_buf();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut sig: libc::c_int = 0;
            // SAFETY: `signals` is an initialised set and `sig` is a valid out-pointer.
            if unsafe { libc::sigwait(&signals, &mut sig) } == 0 {
                log::info!(target: "mount", "signal {sig}: unmounting {}",
                    signal_mountpoint.display());
                daemon::notify_systemd("STOPPING=1");
                if let Err(e) = unmounter.unmount() {
                    log::warn!(target: "mount", "unmount failed ({e}); detaching lazily");
                    let _ = unmount_path(&signal_mountpoint, true);
                }
                // With auto_unmount, fuser's unmount only lets fusermount3 go, which unmounts
                // nothing while this daemon lives: unmount here, as `imagefs unmount` would.
                if still_mounted(&signal_mountpoint)
                    && let Err(e) = unmount_path(&signal_mountpoint, false)
                {
                    log::warn!(target: "mount", "unmount failed ({e}); detaching lazily");
                    let _ = unmount_path(&signal_mountpoint, true);
                }
            }
        })?;
    log::info!(target: "mount", "mounted {} on {}", store.root().display(), mountpoint.display());
    daemon::notify_systemd(&format!(
        "READY=1\nSTATUS=serving {} on {}",
        store.root().display(),
        mountpoint.display()
    ));
    match pipe.as_mut() {
        Some(p) => daemon::report_ready(p)?,
        None => eprintln!(
            "imagefs: mounted {} on {}; Ctrl-C to unmount",
            store.root().display(),
            mountpoint.display()
        ),
    }
    // The parent has what it waited for; a later error goes to the log only.
    *pipe = None;
    mounted.run()?;
    log::info!(target: "mount", "unmounted {}", mountpoint.display());
    Ok(())
}

/// A shared mount whose directories deny search to the group or others needs the kernel to
/// check search on every path walk: without `default_permissions` it asks the daemon only on
/// lookup and serves cached entries to anyone for their 1 s. The price, paid only then: the
/// kernel answers access(2) from the modes alone (root hears "writable" under `images/`,
/// where writes still fail with EROFS).
fn search_is_restricted(s: &MountSettings) -> bool {
    s.audience != fuse::Audience::Owner && s.dir_mode.is_some_and(|m| m & 0o011 != 0o011)
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
        // A closed terminal (or `kill -HUP`) stops the mount cleanly too, as in libfuse.
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// A daemon that died leaves its mountpoint answering ENOTCONN, or ECONNABORTED when the
/// kernel aborted the connection with requests in flight; detach it so we can mount. Asked
/// by opening the directory, which the kernel always forwards to the daemon (OPENDIR): a stat
/// could be answered from the attribute cache.
/// Only an imagefs mount is detached; another filesystem's is the user's to deal with.
fn clear_stale_mount(mountpoint: &Path) -> Result<(), MountError> {
    let Err(e) = std::fs::read_dir(mountpoint) else {
        return Ok(());
    };
    if !matches!(e.raw_os_error(), Some(libc::ENOTCONN | libc::ECONNABORTED)) {
        return Ok(());
    }
    match table::mounted_on(mountpoint).map_err(MountError::MountTable)? {
        Some(m) if !m.is_imagefs() => Err(MountError::StaleForeign {
            path: mountpoint.to_path_buf(),
            fstype: m.fstype,
        }),
        _ => {
            log::warn!(target: "mount", "{} is a stale mount; detaching it", mountpoint.display());
            let _ = unmount_path(mountpoint, true);
            Ok(())
        }
    }
}

/// Whether an imagefs mount is still on `mountpoint` (a failure to read the table says no).
fn still_mounted(mountpoint: &Path) -> bool {
    table::mounted_on(mountpoint).is_ok_and(|m| m.is_some_and(|m| m.is_imagefs()))
}

pub(super) fn unmount(args: &UnmountArgs) -> CliResult {
    guards::check_unmount(&args.mountpoint)?;
    unmount_path(&args.mountpoint, args.lazy)
        .map_err(|source| guards::unmount_failed(&args.mountpoint, source).into())
}

/// umount2 as root; fusermount3 for ordinary users.
fn unmount_path(mountpoint: &Path, lazy: bool) -> std::io::Result<()> {
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    let err = match fuse::umount(mountpoint, flags) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if err.raw_os_error() != Some(libc::EPERM) {
        return Err(err);
    }
    let mut cmd = std::process::Command::new("fusermount3");
    cmd.arg("-u");
    if lazy {
        cmd.arg("-z");
    }
    let out = cmd.arg(mountpoint).output()?;
    if out.status.success() {
        Ok(())
    } else {
        let said = String::from_utf8_lossy(&out.stderr);
        Err(std::io::Error::other(format!(
            "fusermount3 -u: {}",
            said.trim().trim_start_matches("fusermount3: ")
        )))
    }
}
