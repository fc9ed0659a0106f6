//! The checks before a mount and an unmount, so that a refusal says what is wrong and what to
//! do instead of the kernel's bare errno: the mountpoint (exists, a directory, empty, not
//! already imagefs), `/dev/fuse` and fusermount3, and that an unmount targets an imagefs mount.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::MountError;
use super::table;
use crate::fuse::DEV_FUSE;

/// Refuses a mountpoint a mount would break or surprise on. Run after a stale mount there was
/// detached (a dead daemon's mount answers ENOTCONN to everything).
pub(super) fn check_mountpoint(path: &Path, nonempty: bool) -> Result<(), MountError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(MountError::MountpointMissing {
                path: path.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(MountError::Mount {
                mountpoint: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_dir() {
        return Err(MountError::NotADirectory {
            path: path.to_path_buf(),
        });
    }
    let absolute = absolute(path);
    if let Some(m) = table::mounted_on(&absolute).map_err(MountError::MountTable)?
        && m.is_imagefs()
    {
        return Err(MountError::AlreadyMounted {
            path: path.to_path_buf(),
            source: m.source,
        });
    }
    if !nonempty {
        let first = std::fs::read_dir(path)
            .map_err(|source| MountError::Mount {
                mountpoint: path.to_path_buf(),
                source,
            })?
            .next();
        if let Some(entry) = first {
            let name = entry
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .unwrap_or_default();
            return Err(MountError::NotEmpty {
                path: path.to_path_buf(),
                example: name,
            });
        }
    }
    Ok(())
}

/// `/dev/fuse` is there and this process can reach it: directly as root, else through a setuid
/// fusermount3 (which opens it as root) or a device mode that lets this user open it.
pub(super) fn check_dev_fuse() -> Result<(), MountError> {
    let meta = match std::fs::metadata(DEV_FUSE) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(MountError::DevFuseMissing),
        Err(_) => return Ok(()), // let the mount itself report it
    };
    // SAFETY: getuid/geteuid cannot fail and touch no memory.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    let denied = MountError::DevFuseDenied {
        uid,
        mode: meta.permissions().mode(),
        owner: meta.uid(),
        group: meta.gid(),
    };
    if euid == 0 {
        // Root opens it itself; a container's device cgroup can still refuse.
        return match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(DEV_FUSE)
        {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(denied),
            _ => Ok(()),
        };
    }
    match fusermount3() {
        Some(path) if is_setuid_root(&path) => Ok(()),
        Some(_) if can_read_write(DEV_FUSE) => Ok(()),
        Some(_) => Err(denied),
        None => Err(MountError::FusermountMissing),
    }
}

/// Refuses to unmount what imagefs did not mount; maps the kernel's refusals to advice.
pub(super) fn check_unmount(path: &Path) -> Result<(), MountError> {
    match table::mounted_on(&absolute(path)).map_err(MountError::MountTable)? {
        None => Err(MountError::NotMounted {
            path: path.to_path_buf(),
        }),
        Some(m) if !m.is_imagefs() => Err(MountError::NotImagefs {
            path: path.to_path_buf(),
            fstype: m.fstype,
        }),
        Some(_) => Ok(()),
    }
}

/// The unmount's own failure, as advice where there is some.
pub(super) fn unmount_failed(path: &Path, source: io::Error) -> MountError {
    if source.raw_os_error() == Some(libc::EBUSY)
        || source.to_string().contains("Device or resource busy")
    {
        MountError::Busy {
            path: path.to_path_buf(),
        }
    } else {
        MountError::Unmount {
            mountpoint: path.to_path_buf(),
            source,
        }
    }
}

/// The path as the mount table spells it: canonical when it resolves, else made absolute
/// lexically (a stale mount cannot be resolved through).
pub(super) fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// fusermount3 as fuser finds it: `FUSERMOUNT_PATH`, else the first in `PATH`.
fn fusermount3() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FUSERMOUNT_PATH") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("fusermount3"))
        .find(|p| p.is_file())
}

fn is_setuid_root(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.uid() == 0 && m.mode() & libc::S_ISUID != 0)
}

fn can_read_write(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) == 0 }
}
