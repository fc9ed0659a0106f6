//! Who may do what: the caller of each request and the permission check `ImageFs` applies to
//! it, modelled on the kernel's `generic_permission` (fs/namei.c, `acl_permission_check`).
//!
//! The mount does not use the `default_permissions` option: with it the kernel answers
//! access(2) itself, and root's CAP_DAC_OVERRIDE would then say "writable" for every file under
//! `images/`, which can never be written (EROFS is the truth there, for root too). So the core
//! checks modes itself, on every op that the kernel would check, and answers access(2).

use std::io::BufRead;

use super::{Attr, FileKind, FsError};

/// The process a request comes from, as the kernel reports it in the request header (its
/// fsuid and fsgid, and its thread group id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
}

#[cfg(test)]
impl Caller {
    /// Root: every read and write check passes.
    pub const ROOT: Caller = Caller {
        uid: 0,
        gid: 0,
        pid: 0,
    };
}

/// The access a request needs on a node: access(2)'s bits (`R_OK` 4, `W_OK` 2, `X_OK` 1, which
/// are also the rwx bits of each class in a mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Need(pub u16);

impl Need {
    pub(super) const READ: Need = Need(4);
    pub(super) const WRITE: Need = Need(2);
    /// Execute for files, search for directories.
    pub(super) const EXEC: Need = Need(1);
    pub(super) const WRITE_SEARCH: Need = Need(3);

    pub(super) fn describe(self) -> &'static str {
        match self.0 & 7 {
            0 => "existence",
            1 => "search/execute",
            2 => "write",
            3 => "write and search",
            4 => "read",
            5 => "read and search",
            6 => "read and write",
            _ => "read, write and execute",
        }
    }
}

/// Whether `caller` has `need` on a node with these attributes, as `generic_permission` decides:
/// root reads and writes anything and searches any directory, but executes a file only if some
/// execute bit is set; anyone else gets the owner's bits if they own it, else the group's if
/// they are in its group (supplementary groups included), else the others'.
pub(super) fn permits(attr: &Attr, caller: &Caller, need: Need) -> bool {
    let want = need.0 & 7;
    if caller.uid == 0 {
        return want & 1 == 0 || attr.kind == FileKind::Directory || attr.perm & 0o111 != 0;
    }
    let class = if caller.uid == attr.uid {
        attr.perm >> 6
    } else {
        let (group, other) = ((attr.perm >> 3) & 7, attr.perm & 7);
        // Supplementary groups cost a read of /proc: only when they could change the answer.
        let group_decides = group & want != other & want;
        if caller.gid == attr.gid
            || (group_decides && supplementary_groups(caller.pid).contains(&attr.gid))
        {
            group
        } else {
            other
        }
    };
    class & want == want
}

/// `Ok` when `caller` has `need` on the node, else the error naming what was refused.
pub(super) fn check(
    attr: &Attr,
    caller: &Caller,
    need: Need,
    op: &'static str,
) -> Result<(), FsError> {
    if permits(attr, caller, need) {
        Ok(())
    } else {
        Err(FsError::PermissionDenied {
            op,
            need: need.describe(),
            uid: caller.uid,
            mode: attr.perm,
            owner: attr.uid,
        })
    }
}

/// The supplementary groups of process `pid` (the `Groups:` line of /proc/PID/status). FUSE
/// requests carry only the primary gid. Empty when the process is gone or unreadable, which
/// then denies what only a supplementary group would allow.
fn supplementary_groups(pid: u32) -> Vec<u32> {
    let Ok(file) = std::fs::File::open(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("Groups:").map(|groups| {
                groups
                    .split_whitespace()
                    .filter_map(|g| g.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn attr(kind: FileKind, perm: u16, uid: u32, gid: u32) -> Attr {
        Attr {
            ino: 2,
            kind,
            size: 0,
            blocks: 1,
            perm,
            nlink: 1,
            uid,
            gid,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            blksize: 512,
            rdev: 0,
            ttl: std::time::Duration::from_secs(1),
        }
    }

    fn user(uid: u32, gid: u32) -> Caller {
        // A pid that cannot exist: no supplementary groups.
        Caller {
            uid,
            gid,
            pid: u32::MAX,
        }
    }

    #[test]
    fn root_reads_and_writes_anything_but_executes_only_with_an_x_bit() {
        let file = attr(FileKind::RegularFile, 0o000, 5, 5);
        assert!(permits(&file, &Caller::ROOT, Need::READ));
        assert!(permits(&file, &Caller::ROOT, Need::WRITE));
        assert!(!permits(&file, &Caller::ROOT, Need::EXEC));
        let script = attr(FileKind::RegularFile, 0o010, 5, 5);
        assert!(permits(&script, &Caller::ROOT, Need::EXEC));
        let dir = attr(FileKind::Directory, 0o000, 5, 5);
        assert!(permits(&dir, &Caller::ROOT, Need::WRITE_SEARCH));
    }

    #[test]
    fn owner_group_and_other_bits_decide_in_that_order() {
        let dir = attr(FileKind::Directory, 0o755, 0, 0);
        assert!(!permits(&dir, &user(1000, 1000), Need::WRITE_SEARCH));
        assert!(permits(&dir, &user(1000, 1000), Need::EXEC));
        // The owner gets the owner's bits only, even when others get more.
        let odd = attr(FileKind::RegularFile, 0o066, 7, 7);
        assert!(!permits(&odd, &user(7, 100), Need::READ));
        assert!(permits(&odd, &user(8, 7), Need::WRITE));
        let upload = attr(FileKind::RegularFile, 0o200, 7, 7);
        assert!(permits(&upload, &user(7, 7), Need::WRITE));
        assert!(!permits(&upload, &user(7, 7), Need::READ));
    }

    #[test]
    fn supplementary_groups_come_from_proc() {
        let pid = std::process::id();
        let groups = supplementary_groups(pid);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
        assert_eq!(groups.len(), line.split_whitespace().count() - 1);
        assert!(supplementary_groups(u32::MAX).is_empty());
    }
}
