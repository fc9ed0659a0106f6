//! Creating the mount: the kernel's options, the mount table's `fuse.imagefs` type, and the
//! handle that undoes it. As root (without `auto_unmount`) the mount is made here with mount(2)
//! and type `fuse.imagefs`, as libfuse's `lib/mount.c` does; otherwise fuser runs `fusermount3`,
//! which sets the same type from the `subtype` option.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fuser::{Config, MountOption, Session, SessionACL, SessionUnmounter};

use super::{FuseAdapter, keep_live};
use crate::fs::ImageFs;

/// The mount table's type is `fuse.` and this (`findmnt -o FSTYPE`, fstab's third field).
pub const SUBTYPE: &str = "imagefs";
/// The FUSE device, whose absence or mode is the commonest reason a mount fails.
pub const DEV_FUSE: &str = "/dev/fuse";

/// Who besides the mounting user may use the mount (FUSE's `allow_root`, `allow_other`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Audience {
    #[default]
    Owner,
    OwnerAndRoot,
    Everyone,
}

/// How to mount.
#[derive(Clone, Debug)]
pub struct MountConfig {
    pub audience: Audience,
    /// FUSE event-loop threads.
    pub threads: usize,
    /// The mount table's source column (`findmnt -o SOURCE`): the store's path, as sshfs shows
    /// `host:path`.
    pub source: String,
    /// Mounted read-only (MS_RDONLY): writes fail with EROFS in the kernel.
    pub read_only: bool,
    pub no_exec: bool,
    /// The kernel checks modes itself as well (FUSE's `default_permissions`).
    pub default_permissions: bool,
    /// `fusermount3` stays behind and unmounts when the daemon dies, however it dies.
    pub auto_unmount: bool,
}

impl MountConfig {
    /// A private, writable mount named `source`, served by `threads` threads.
    pub fn new(source: impl Into<String>, threads: usize) -> MountConfig {
        MountConfig {
            audience: Audience::Owner,
            threads,
            source: source.into(),
            read_only: false,
            no_exec: false,
            default_permissions: false,
            auto_unmount: false,
        }
    }

    /// The source as fusermount3 takes it, inside an option string, which cannot hold a comma
    /// (and fusermount3 refuses whitespace and backslashes): such a path shows as `imagefs`.
    fn fsname(&self) -> String {
        if self.source.is_empty()
            || self
                .source
                .contains(|c: char| c == ',' || c == '\\' || c.is_whitespace())
        {
            SUBTYPE.to_string()
        } else {
            self.source.clone()
        }
    }

    fn acl(&self) -> SessionACL {
        match self.audience {
            Audience::Owner => SessionACL::Owner,
            Audience::OwnerAndRoot => SessionACL::RootAndOwner,
            Audience::Everyone => SessionACL::All,
        }
    }
}

/// A live mount and the session that serves it.
pub struct Mounted {
    session: Session<FuseAdapter>,
    unmounter: Unmounter,
}

/// Undoes the mount from any thread (the signal handler's).
pub enum Unmounter {
    /// Made by fusermount3 through fuser: undone the same way.
    Fuser(SessionUnmounter),
    /// Made here with mount(2): undone with umount2.
    Kernel(PathBuf),
}

impl Unmounter {
    pub fn unmount(&mut self) -> io::Result<()> {
        match self {
            Unmounter::Fuser(u) => u.unmount(),
            Unmounter::Kernel(path) => umount(path, 0),
        }
    }
}

impl Mounted {
    pub fn unmounter(&mut self) -> Unmounter {
        match &self.unmounter {
            Unmounter::Fuser(_) => Unmounter::Fuser(self.session.unmount_callable()),
            Unmounter::Kernel(path) => Unmounter::Kernel(path.clone()),
        }
    }

    /// Serves until the mount goes away.
    pub fn run(self) -> io::Result<()> {
        self.session.run()
    }
}

/// Creates the mount (it is live when this returns) and the session that serves it.
pub fn session(fs: ImageFs, mountpoint: &Path, config: &MountConfig) -> io::Result<Mounted> {
    let mut c = Config::default();
    c.acl = config.acl();
    // fusermount3 accepts auto_unmount only with allow_other or allow_root (fuser checks the
    // same before calling it); for the mounting user alone, allow_root changes nothing but
    // root's access, which root has anyway.
    if config.auto_unmount && c.acl == SessionACL::Owner {
        c.acl = SessionACL::RootAndOwner;
    }
    c.n_threads = Some(config.threads.max(1));
    c.clone_fd = true;
    c.mount_options = vec![
        MountOption::FSName(config.fsname()),
        MountOption::Subtype(SUBTYPE.into()),
        MountOption::NoAtime,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    if config.read_only {
        c.mount_options.push(MountOption::RO);
    }
    if config.no_exec {
        c.mount_options.push(MountOption::NoExec);
    }
    if config.default_permissions {
        c.mount_options.push(MountOption::DefaultPermissions);
    }
    if config.auto_unmount {
        c.mount_options.push(MountOption::AutoUnmount);
    }
    let fs = Arc::new(fs);
    let adapter = FuseAdapter { fs: fs.clone() };
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    let mounted = if root && !config.auto_unmount {
        let device = mount_as_root(mountpoint, config)?;
        let acl = c.acl;
        match Session::from_fd(adapter, device, acl, c) {
            Ok(session) => Mounted {
                session,
                unmounter: Unmounter::Kernel(mountpoint.to_path_buf()),
            },
            Err(e) => {
                let _ = umount(mountpoint, libc::MNT_DETACH);
                return Err(e);
            }
        }
    } else {
        let mut session = Session::new(adapter, mountpoint, &c)?;
        let unmounter = Unmounter::Fuser(session.unmount_callable());
        Mounted { session, unmounter }
    };
    keep_live(fs, mounted.session.notifier());
    Ok(mounted)
}

/// mount(2) with type `fuse.imagefs`, as libfuse's `fuse_mount_sys` does; fuser's own root
/// path passes plain `fuse`, which loses the subtype in the mount table.
fn mount_as_root(mountpoint: &Path, config: &MountConfig) -> io::Result<OwnedFd> {
    let device = OwnedFd::from(OpenOptions::new().read(true).write(true).open(DEV_FUSE)?);
    let rootmode = std::fs::metadata(mountpoint)?.mode() & libc::S_IFMT;
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut data = format!(
        "fd={},rootmode={rootmode:o},user_id={uid},group_id={gid}",
        device.as_raw_fd()
    );
    // The kernel knows only allow_other; fuser filters requests for allow_root.
    if config.audience != Audience::Owner {
        data.push_str(",allow_other");
    }
    if config.default_permissions {
        data.push_str(",default_permissions");
    }
    let mut flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOATIME;
    if config.read_only {
        flags |= libc::MS_RDONLY;
    }
    if config.no_exec {
        flags |= libc::MS_NOEXEC;
    }
    let c = |s: &[u8]| CString::new(s).map_err(io::Error::other);
    // mount(2) takes the source apart from the options: any path will do (the table escapes it).
    let source = match config.source.is_empty() {
        true => c(SUBTYPE.as_bytes())?,
        false => c(config.source.as_bytes())?,
    };
    let target = c(mountpoint.as_os_str().as_bytes())?;
    let fstype = c(format!("fuse.{SUBTYPE}").as_bytes())?;
    let data = c(data.as_bytes())?;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(device)
}

/// umount2 with `flags` (0 or MNT_DETACH).
pub fn umount(path: &Path, flags: libc::c_int) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
