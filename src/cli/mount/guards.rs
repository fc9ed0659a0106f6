//! The checks before a mount and an unmount, so that a refusal says what is wrong and what to
//! do instead of the kernel's bare errno: the mountpoint (exists, a directory, empty, not
//! already imagefs), `/dev/fuse` and fusermount3, and that an unmount targets an imagefs mount.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::error::MountError;
use super::table::{self, MountEntry};
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
/// fusermount3 (which opens it as root) or a device mode that lets this user open it. Root
/// needs fusermount3 too for `--auto-unmount` (it is what watches the daemon).
pub(super) fn check_dev_fuse(auto_unmount: bool) -> Result<(), MountError> {
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
        if auto_unmount {
            fusermount3().map_err(|looked_in| MountError::FusermountMissing { looked_in })?;
        }
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
        Ok(path) if is_setuid_root(&path) => Ok(()),
        Ok(_) if can_read_write(DEV_FUSE) => Ok(()),
        Ok(_) => Err(denied),
        Err(looked_in) => Err(MountError::FusermountMissing { looked_in }),
    }
}

/// Takes the mountpoint for this process (a lock on the directory, held by the returned file
/// while it serves) and repeats the checks: of two mounts started at once, one gets the lock,
/// and the other fails to, or, once the first has mounted, finds its mount in the table.
pub(super) fn claim_mountpoint(path: &Path, nonempty: bool) -> Result<std::fs::File, MountError> {
    let dir = std::fs::File::open(path).map_err(|source| MountError::Mount {
        mountpoint: path.to_path_buf(),
        source,
    })?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(MountError::Contended {
            path: path.to_path_buf(),
        });
    }
    check_mountpoint(path, nonempty)?;
    Ok(dir)
}

/// Refuses to unmount what imagefs did not mount; maps the kernel's refusals to advice.
pub(super) fn check_unmount(path: &Path) -> Result<(), MountError> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    match table::mounted_on(&absolute(path)).map_err(MountError::MountTable)? {
        None => Err(MountError::NotMounted {
            path: path.to_path_buf(),
        }),
        Some(m) if !m.is_imagefs() => Err(MountError::NotImagefs {
            path: path.to_path_buf(),
            fstype: m.fstype,
        }),
        Some(MountEntry {
            owner: Some(owner), ..
        }) if euid != 0 && owner != euid => Err(MountError::NotYours {
            path: path.to_path_buf(),
            owner,
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

/// Where to look for fusermount3 when `PATH` is unset: setuid mount(8), running a helper for an
/// fstab line with `user`, gives it no `PATH` at all.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// fusermount3 as fuser finds it: `FUSERMOUNT_PATH`, else the first in `PATH` (or
/// [`DEFAULT_PATH`]); `Err` says where it looked.
fn fusermount3() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("FUSERMOUNT_PATH") {
        let p = PathBuf::from(p);
        return match p.is_file() {
            true => Ok(p),
            false => Err(format!("FUSERMOUNT_PATH={}", p.display())),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path)
        .map(|dir| dir.join("fusermount3"))
        .find(|p| p.is_file())
        .ok_or_else(|| path.to_string_lossy().into_owned())
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
