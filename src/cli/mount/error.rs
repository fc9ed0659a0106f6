//! `MountError`: why `imagefs mount` or `imagefs unmount` refused or failed, each with what to
//! do about it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::options::OptionError;

#[derive(Debug)]
pub enum MountError {
    Option(OptionError),
    MountpointMissing {
        path: PathBuf,
    },
    NotADirectory {
        path: PathBuf,
    },
    /// The directory has entries the mount would hide.
    NotEmpty {
        path: PathBuf,
        example: String,
    },
    AlreadyMounted {
        path: PathBuf,
        source: String,
    },
    DevFuseMissing,
    /// `/dev/fuse` exists but this user cannot use it, nor is there a setuid fusermount3.
    DevFuseDenied {
        uid: u32,
        mode: u32,
        owner: u32,
        group: u32,
    },
    /// An ordinary user (or `--auto-unmount`) mounts through fusermount3, which is not found
    /// (`looked_in`: `FUSERMOUNT_PATH`, or the directories searched).
    FusermountMissing {
        looked_in: String,
    },
    /// The kernel or fusermount3 refused the mount.
    Mount {
        mountpoint: PathBuf,
        source: io::Error,
    },
    LogFile {
        path: PathBuf,
        source: io::Error,
    },
    /// The background mount reported why it failed (its error line, already formatted).
    Daemon(String),
    /// The background mount exited without reporting.
    DaemonExited,
    NotMounted {
        path: PathBuf,
    },
    NotImagefs {
        path: PathBuf,
        fstype: String,
    },
    /// An ordinary user asked to unmount another user's mount.
    NotYours {
        path: PathBuf,
        owner: u32,
    },
    /// Another filesystem's mount whose daemon died is on the mountpoint.
    StaleForeign {
        path: PathBuf,
        fstype: String,
    },
    /// Another imagefs is mounting on the same directory at this moment.
    Contended {
        path: PathBuf,
    },
    Busy {
        path: PathBuf,
    },
    Unmount {
        mountpoint: PathBuf,
        source: io::Error,
    },
    /// `/proc/self/mountinfo` cannot be read.
    MountTable(io::Error),
}

impl fmt::Display for MountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MountError::Option(e) => write!(f, "{e}"),
            MountError::MountpointMissing { path } => write!(
                f,
                "mountpoint {} does not exist; create it first (mkdir -p {0})",
                path.display()
            ),
            MountError::NotADirectory { path } => write!(
                f,
                "mountpoint {} is not a directory; mount on an empty directory",
                path.display()
            ),
            MountError::NotEmpty { path, example } => write!(
                f,
                "mountpoint {} is not empty (it holds {example:?}); the mount would hide what it \
                 holds. Use an empty directory, or -o nonempty to mount over it",
                path.display()
            ),
            MountError::AlreadyMounted { path, source } => write!(
                f,
                "{} is already an imagefs mount (of {source}); `imagefs unmount {0}` first",
                path.display()
            ),
            MountError::DevFuseMissing => write!(
                f,
                "{} does not exist: load the fuse kernel module (`modprobe fuse`), or start \
                 this container with the device (docker run --device /dev/fuse --cap-add SYS_ADMIN)",
                crate::fuse::DEV_FUSE
            ),
            MountError::DevFuseDenied {
                uid,
                mode,
                owner,
                group,
            } => write!(
                f,
                "{} (mode {:04o}, owner uid {owner}, group gid {group}) is not readable and \
                 writable by uid {uid}, and there is no setuid fusermount3 to open it: give \
                 users access (`chmod 0666 /dev/fuse`, the usual udev default), add this user \
                 to group {group}, or install fuse3",
                crate::fuse::DEV_FUSE,
                mode & 0o7777
            ),
            MountError::FusermountMissing { looked_in } => write!(
                f,
                "fusermount3 is not installed (looked in {looked_in}); ordinary users and \
                 --auto-unmount mount through it (Debian: apt install fuse3)"
            ),
            MountError::Mount { mountpoint, .. } => {
                write!(f, "cannot mount on {}", mountpoint.display())
            }
            MountError::LogFile { path, .. } => {
                write!(f, "cannot open the log file {}", path.display())
            }
            MountError::Daemon(line) => write!(f, "the mount failed: {line}"),
            MountError::DaemonExited => {
                write!(f, "the background mount exited without reporting")
            }
            MountError::NotMounted { path } => {
                write!(
                    f,
                    "{} is not a mount point: nothing is mounted there",
                    path.display()
                )
            }
            MountError::NotImagefs { path, fstype } => write!(
                f,
                "{} is a mount of type {fstype}, not imagefs; `imagefs unmount` leaves it alone \
                 (use umount for other filesystems)",
                path.display()
            ),
            MountError::NotYours { path, owner } => write!(
                f,
                "{} is mounted by uid {owner}; only that user or root can unmount it",
                path.display()
            ),
            MountError::StaleForeign { path, fstype } => write!(
                f,
                "{} is a dead mount of type {fstype} (its daemon is gone); imagefs detaches only \
                 its own. Unmount it first (`fusermount3 -u {0}`, or `umount -l {0}` as root)",
                path.display()
            ),
            MountError::Contended { path } => write!(
                f,
                "another imagefs is mounting on {} right now; wait for it, or unmount it",
                path.display()
            ),
            MountError::Busy { path } => write!(
                f,
                "{} is busy: a process has a file open or its working directory inside it \
                 (`fuser -vm {0}` lists them); `imagefs unmount --lazy {0}` detaches it now \
                 and finishes when they let go",
                path.display()
            ),
            MountError::Unmount { mountpoint, .. } => {
                write!(f, "cannot unmount {}", mountpoint.display())
            }
            MountError::MountTable(_) => {
                write!(f, "cannot read the mount table (/proc/self/mountinfo)")
            }
        }
    }
}

impl std::error::Error for MountError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MountError::Mount { source, .. }
            | MountError::LogFile { source, .. }
            | MountError::Unmount { source, .. }
            | MountError::MountTable(source) => Some(source),
            MountError::Option(_)
            | MountError::MountpointMissing { .. }
            | MountError::NotADirectory { .. }
            | MountError::NotEmpty { .. }
            | MountError::AlreadyMounted { .. }
            | MountError::DevFuseMissing
            | MountError::DevFuseDenied { .. }
            | MountError::FusermountMissing { .. }
            | MountError::Daemon(_)
            | MountError::DaemonExited
            | MountError::NotMounted { .. }
            | MountError::NotImagefs { .. }
            | MountError::NotYours { .. }
            | MountError::StaleForeign { .. }
            | MountError::Contended { .. }
            | MountError::Busy { .. } => None,
        }
    }
}

impl From<OptionError> for MountError {
    fn from(e: OptionError) -> MountError {
        MountError::Option(e)
    }
}
