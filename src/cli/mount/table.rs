//! The system's mount table as `/proc/self/mountinfo` gives it (proc(5)): which filesystem, if
//! any, is mounted on a directory. The mount guards and `imagefs unmount` ask it.

use std::io;
use std::path::{Path, PathBuf};

/// One mount: where, what type (`fuse.imagefs`), and its source column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MountEntry {
    pub(super) mount_point: PathBuf,
    pub(super) fstype: String,
    pub(super) source: String,
    /// The FUSE mount's owner (`user_id=` in its options): who may unmount it without root.
    pub(super) owner: Option<u32>,
}

impl MountEntry {
    /// Mounted by imagefs: `fuse.imagefs`, or plain `fuse` named `imagefs` (root mounts of
    /// earlier builds, made before they set the type).
    pub(super) fn is_imagefs(&self) -> bool {
        self.fstype == format!("fuse.{}", crate::fuse::SUBTYPE)
            || (self.fstype == "fuse" && self.source == crate::fuse::SUBTYPE)
    }
}

/// The mount on `dir` that a path lookup sees (the last one mounted there), if any.
pub(super) fn mounted_on(dir: &Path) -> io::Result<Option<MountEntry>> {
    let table = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(find(&table, dir))
}

fn find(table: &str, dir: &Path) -> Option<MountEntry> {
    table
        .lines()
        .rev()
        .filter_map(parse_line)
        .find(|m| m.mount_point == dir)
}

/// `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue`
fn parse_line(line: &str) -> Option<MountEntry> {
    let (left, right) = line.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let source = right.next()?;
    let owner = right
        .next()
        .and_then(|opts| opts.split(',').find_map(|o| o.strip_prefix("user_id=")))
        .and_then(|id| id.parse().ok());
    Some(MountEntry {
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype: unescape(fstype),
        source: unescape(source),
        owner,
    })
}

/// The kernel writes space, tab, newline and backslash as `\ooo` octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(digits) = bytes.get(i + 1..i + 4)
            && let Ok(digits) = std::str::from_utf8(digits)
            && let Ok(v) = u8::from_str_radix(digits, 8)
        {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw
40 22 0:35 / /mnt/images rw,nosuid,nodev,noatime - fuse.imagefs /var/lib/imagefs rw,user_id=0,group_id=0
41 22 0:36 / /mnt/with\\040space rw - tmpfs tmpfs rw
42 40 0:37 / /mnt/images rw - fuse imagefs rw,user_id=0,group_id=0
";

    #[test]
    fn the_last_mount_on_a_directory_is_the_visible_one() {
        let m = find(TABLE, Path::new("/mnt/images")).unwrap();
        assert_eq!(m.fstype, "fuse");
        assert!(m.is_imagefs(), "an earlier build's root mount");
        assert_eq!(find(TABLE, Path::new("/mnt")), None);
    }

    #[test]
    fn escaped_paths_and_types_are_read() {
        let m = find(TABLE, Path::new("/mnt/with space")).unwrap();
        assert_eq!((m.fstype.as_str(), m.source.as_str()), ("tmpfs", "tmpfs"));
        assert!(!m.is_imagefs());
        assert_eq!(m.owner, None);
        let first = parse_line(TABLE.lines().nth(1).unwrap()).unwrap();
        assert_eq!(first.source, "/var/lib/imagefs");
        assert!(first.is_imagefs());
        assert_eq!(first.owner, Some(0));
    }
}
