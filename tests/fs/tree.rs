//! The namespace: a walk of every node from the root inode by readdir and lookup, checked against
//! what the store holds (names, kinds, modes, owners, sizes), and the inode numbers' stability.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::time::UNIX_EPOCH;

use imagefs::fs::{Attr, FileKind, ImageFs};

use super::{
    IMPORT_LISTING, Mount, OTHER, OWNER, ROOT_INO, errno_of, file_name, ino, lookup, lookup_as,
    names, read_all,
};

/// Every node reachable from the root by readdir: path -> attributes (from lookup). Checks on
/// the way that readdir and lookup agree on each entry's inode and kind, that getattr agrees
/// with lookup, and that `.` and `..` are there.
fn walk(fs: &ImageFs) -> BTreeMap<String, Attr> {
    let mut out = BTreeMap::new();
    let mut todo = vec![(String::new(), ROOT_INO)];
    while let Some((path, dir)) = todo.pop() {
        let entries = fs.readdir(dir, &OWNER).expect("readdir");
        assert_eq!(entries[0].name, ".", "{path}");
        assert_eq!(entries[0].ino, dir, "{path}/.");
        assert_eq!(entries[1].name, "..", "{path}");
        for e in &entries[2..] {
            let name = e.name.to_str().expect("UTF-8 names outside images");
            let child = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}/{name}")
            };
            let attr = fs
                .lookup(dir, OsStr::new(&e.name), &OWNER)
                .unwrap_or_else(|err| panic!("lookup of listed {child}: {err:?}"));
            assert_eq!(
                attr.ino, e.ino,
                "{child}: readdir and lookup disagree on the inode"
            );
            assert_eq!(
                attr.kind, e.kind,
                "{child}: readdir and lookup disagree on the kind"
            );
            let again = fs.getattr(attr.ino).expect("getattr");
            assert_eq!(
                (again.ino, again.size, again.perm, again.mtime),
                (attr.ino, attr.size, attr.perm, attr.mtime),
                "{child}: getattr and lookup disagree"
            );
            // Inside images (tests/fs/inside.rs walks those) the layers decide what is there.
            let inside = ["rootfs", "layers"].contains(&name);
            if attr.kind == FileKind::Directory && !inside {
                todo.push((child.clone(), attr.ino));
            }
            assert!(out.insert(child.clone(), attr).is_none(), "{child} twice");
        }
    }
    out
}

/// The tree the fixture must show, written from the fixture's specs alone.
fn expected_tree(m: &Mount) -> BTreeMap<String, FileKind> {
    use FileKind::{Directory as D, RegularFile as F};
    let mut t = BTreeMap::new();
    for p in ["images", "import", "import/.status"] {
        t.insert(p.to_string(), D);
    }
    for p in &IMPORT_LISTING[1..] {
        t.insert(format!("import/{p}"), D);
        t.insert(format!("import/{p}/.status"), D);
    }
    for image in &m.images {
        // Every directory on the way: images/example.com, images/example.com/fs, …
        let parts: Vec<&str> = image.path.split('/').collect();
        for n in 2..parts.len() {
            t.insert(parts[..n].join("/"), D);
        }
        let dir = &image.path;
        t.insert(dir.clone(), D);
        t.insert(format!("{dir}/index.json"), F);
        t.insert(format!("{dir}/image.tar"), F);
        t.insert(format!("{dir}/by-platform"), D);
        for p in &image.platforms {
            let f = file_name(p);
            t.insert(format!("{dir}/by-platform/{f}.tar"), F);
            t.insert(format!("{dir}/by-platform/{f}"), D);
            t.insert(format!("{dir}/by-platform/{f}/manifest.json"), F);
            t.insert(format!("{dir}/by-platform/{f}/config.json"), F);
            t.insert(format!("{dir}/by-platform/{f}/rootfs"), D);
            t.insert(format!("{dir}/by-platform/{f}/layers"), D);
        }
    }
    t
}

#[test]
fn walk_from_the_root_shows_exactly_the_stored_images_and_their_platforms() {
    let m = Mount::start();
    let tree = walk(&m.fs);
    let kinds: BTreeMap<String, FileKind> = tree.iter().map(|(p, a)| (p.clone(), a.kind)).collect();
    assert_eq!(kinds, expected_tree(&m));
}

#[test]
fn attributes_follow_the_documented_modes_owner_sizes_and_blocks() {
    let m = Mount::start();
    for (path, a) in walk(&m.fs) {
        if path.ends_with("/rootfs") {
            // The image's root directory: its stored attributes (tests/fs/inside.rs).
            assert_eq!(
                (a.perm, a.uid, a.gid, a.mtime, a.nlink),
                (0o755, 0, 0, UNIX_EPOCH, 1)
            );
            continue;
        }
        let import = path.starts_with("import");
        let want_perm = match (a.kind, import) {
            (FileKind::Directory, false) => 0o555,
            (FileKind::RegularFile, false) => 0o444,
            (FileKind::Directory, true) => 0o755,
            (FileKind::RegularFile, true) => unreachable!("uploads are not listed"),
            (kind, _) => unreachable!("{path}: a {kind:?} outside images"),
        };
        assert_eq!(a.perm, want_perm, "{path}");
        assert_eq!((a.uid, a.gid), (OWNER.uid, OWNER.gid), "{path}");
        assert_eq!(a.blksize, 1 << 20, "{path}");
        assert_eq!(a.blocks, a.size.div_ceil(512).max(1), "{path}");
        match a.kind {
            FileKind::Directory => assert_eq!((a.nlink, a.size), (2, 0), "{path}"),
            FileKind::RegularFile => {
                assert_eq!(a.nlink, 1, "{path}");
                // The size is exact before any byte is read: it is what reading gives.
                assert_eq!(read_all(&m.fs, &path).len() as u64, a.size, "{path}");
            }
            _ => unreachable!("checked above"),
        }
        // Images carry their config's creation time (sample: 2026-0N-01), never the epoch or
        // the time of the mount; ctime is that plus the inode number modulo 1 s.
        assert!(a.mtime > UNIX_EPOCH, "{path}");
        let offset = a.ctime.duration_since(a.mtime).expect("ctime after mtime");
        assert_eq!(offset.as_nanos() as u64, a.ino % 1_000_000_000, "{path}");
    }
}

#[test]
fn inode_numbers_survive_a_remount_and_differ_between_nodes() {
    let m = Mount::start();
    let first = walk(&m.fs);
    let second = walk(&m.remount());
    let inos = |t: &BTreeMap<String, Attr>| -> BTreeMap<String, u64> {
        t.iter().map(|(p, a)| (p.clone(), a.ino)).collect()
    };
    assert_eq!(inos(&first), inos(&second));
    let mut all: Vec<u64> = first.values().map(|a| a.ino).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), first.len(), "two nodes share an inode number");
    assert!(all.iter().all(|&i| i >= 2), "only the root is inode 1");
}

#[test]
fn platform_aliases_resolve_to_the_same_file_and_plus_names_to_a_joined_archive() {
    let m = Mount::start();
    let dir = "images/example.com/fs/three:1/by-platform";
    let arm = ino(&m.fs, &format!("{dir}/linux-arm64.tar"));
    for alias in ["linux-aarch64.tar", "linux-arm64-v8.tar"] {
        assert_eq!(ino(&m.fs, &format!("{dir}/{alias}")), arm, "{alias}");
    }
    assert_eq!(
        ino(&m.fs, &format!("{dir}/linux-aarch64")),
        ino(&m.fs, &format!("{dir}/linux-arm64"))
    );
    // Resolvable but not listed: readdir shows one file per platform.
    let plus = format!("{dir}/linux-amd64+linux-riscv64.tar");
    let joined = crate::common::export(
        m.store(),
        &[super::THREE],
        &["linux/amd64", "linux/riscv64"],
    );
    assert_eq!(lookup(&m.fs, &plus).size, joined.len() as u64);
    assert!(!names(&m.fs, dir, &OWNER).iter().any(|n| n.contains('+')));
}

#[test]
fn absent_platforms_and_unknown_names_are_enoent_everywhere() {
    let m = Mount::start();
    let image = "images/example.com/fs/three:1";
    for path in [
        "nothing",
        "images/example.com/fs/none:1",
        "images/example.com/nothing",
        &format!("{image}/extra.json"),
        &format!("{image}/by-platform/linux-s390x.tar"),
        &format!("{image}/by-platform/linux-s390x"),
        &format!("{image}/by-platform/linux-amd64+linux-s390x.tar"),
        &format!("{image}/by-platform/not a platform.tar"),
        &format!("{image}/by-platform/linux-amd64/other.json"),
        "import/.status/never-written.tar.json",
        "import/not-a-platform-dir",
    ] {
        assert_eq!(
            errno_of(lookup_as(&m.fs, path, &OWNER)),
            libc::ENOENT,
            "{path}"
        );
    }
    // A lookup under a file fails its search-permission check first (no file has an x bit).
    // The kernel never asks it: its path walk answers ENOTDIR itself (fs/namei.c
    // `link_path_walk`, `d_can_lookup`).
    assert_eq!(
        errno_of(lookup_as(&m.fs, &format!("{image}/index.json/x"), &OWNER)),
        libc::EACCES
    );
    let file = ino(&m.fs, &format!("{image}/image.tar"));
    assert_eq!(errno_of(m.fs.readdir(file, &OWNER)), libc::ENOTDIR);
}

#[test]
fn other_users_may_walk_and_read_the_images_tree() {
    let m = Mount::start();
    let image = &m.images[0].path;
    assert_eq!(
        names(&m.fs, image, &OTHER),
        ["by-platform", "image.tar", "index.json"]
    );
    let tar = lookup_as(&m.fs, &format!("{image}/image.tar"), &OTHER).expect("lookup");
    let fh = m.fs.open(tar.ino, libc::O_RDONLY, &OTHER).expect("open").fh;
    let mut buf = Vec::new();
    assert_eq!(m.fs.read(fh, 0, 512, &mut buf).expect("read"), 512);
    m.fs.release(fh).expect("release");
}

#[test]
fn import_lists_platform_directories_and_status_but_never_uploads() {
    let m = Mount::start();
    assert_eq!(names(&m.fs, "", &OWNER), ["images", "import"]);
    assert_eq!(names(&m.fs, "import", &OWNER), IMPORT_LISTING);
    // Any other platform directory resolves without mkdir; once made it is listed too.
    let import = ino(&m.fs, "import");
    assert!(lookup(&m.fs, "import/linux-mips64le").kind == FileKind::Directory);
    assert_eq!(names(&m.fs, "import", &OWNER), IMPORT_LISTING);
    m.fs.mkdir(import, OsStr::new("linux-mips64le"), &OWNER)
        .expect("mkdir");
    let with_mips = || {
        let mut want = IMPORT_LISTING.to_vec();
        want.push("linux-mips64le");
        want.sort();
        want
    };
    assert_eq!(names(&m.fs, "import", &OWNER), with_mips());
    let (_, opened) =
        m.fs.create(import, OsStr::new("x.tar"), libc::O_WRONLY, &OWNER)
            .expect("create");
    m.fs.release(opened.fh).expect("release");
    assert_eq!(names(&m.fs, "import", &OWNER), with_mips());
    assert_eq!(names(&m.fs, "import/.status", &OWNER), ["x.tar.json"]);
    // Reachable by name, write-only.
    assert_eq!(lookup(&m.fs, "import/x.tar").perm, 0o200);
    assert_eq!(lookup(&m.fs, "import/.status/x.tar.json").perm, 0o444);
}

#[test]
fn statfs_reports_the_store_filesystem() {
    let m = Mount::start();
    let s = m.fs.statfs().expect("statfs");
    assert!(s.blocks > 0 && s.bsize > 0 && s.bavail <= s.bfree && s.bfree <= s.blocks);
    assert_eq!(s.namelen, 255);
}

/// statfs asks the store directory opened at the start, as every other op does: not the name,
/// which may have been renamed away or swapped for a symlink to another filesystem since.
#[test]
fn statfs_asks_the_pinned_store_directory_not_its_name() {
    let m = Mount::start();
    let before = m.fs.statfs().expect("statfs");
    let same_filesystem = |after: &str| {
        let s =
            m.fs.statfs()
                .unwrap_or_else(|e| panic!("statfs {after}: {e:?}"));
        assert_eq!(
            (s.blocks, s.bsize),
            (before.blocks, before.bsize),
            "{after}"
        );
    };
    let moved = m.fx.path("moved-store");
    std::fs::rename(m.fx.root(), &moved).expect("move the store away");
    same_filesystem("after the store was renamed away");
    // A symlink in its place, to a filesystem of no blocks at all: not followed.
    std::os::unix::fs::symlink("/proc", m.fx.root()).expect("symlink in the store's place");
    same_filesystem("after a symlink took the store's place");
    std::fs::remove_file(m.fx.root()).expect("remove the symlink");
    std::fs::rename(&moved, m.fx.root()).expect("move it back");
}

/// Every image has a colon-free path (`:` as `@`, the registry port's too), found on lookup and
/// never listed: same bytes, its own inode numbers (a directory has one name in the kernel).
#[test]
fn every_image_has_a_colon_free_path_that_is_found_but_not_listed() {
    let m = Mount::start();
    for shown in &m.images {
        let alias = shown.path.replace(':', "@");
        assert_ne!(alias, shown.path);
        let a = lookup(&m.fs, &alias);
        let real = lookup(&m.fs, &shown.path);
        assert_eq!(a.kind, FileKind::Directory, "{alias}");
        assert_ne!(a.ino, real.ino, "{alias} shares the directory's inode");
        assert_eq!(
            names(&m.fs, &alias, &OWNER),
            names(&m.fs, &shown.path, &OWNER),
            "{alias}"
        );
        assert_eq!(
            read_all(&m.fs, &format!("{alias}/image.tar")),
            read_all(&m.fs, &format!("{}/image.tar", shown.path)),
            "{alias}"
        );
    }
    // Not listed anywhere: the walk of the whole tree meets no `@`.
    let tree = walk(&m.fs);
    assert!(!tree.keys().any(|p| p.contains('@')), "an alias is listed");
}

/// `import/` lists, besides the common platforms, every platform a stored image has (in the
/// mount's file-name form), so a file manager can drop into it; a platform no image has and that
/// is not common stays resolvable but unlisted.
#[test]
fn import_lists_the_platforms_stored_images_have() {
    let m = Mount::start();
    crate::common::add(
        m.store(),
        &crate::common::small_spec(
            "example.com/fs/rare:1",
            &["linux/mips64le", "windows/amd64", "linux/amd64"],
        ),
    );
    // A remount reads the store afresh (the mount itself re-reads it within 0.5 s).
    let fs = m.remount();
    let mut want = IMPORT_LISTING.to_vec();
    want.extend(["linux-mips64le", "windows-amd64"]);
    want.sort();
    assert_eq!(names(&fs, "import", &OWNER), want);
    for dir in ["import/windows-amd64", "import/linux-loong64"] {
        assert_eq!(lookup(&fs, dir).kind, FileKind::Directory, "{dir}");
    }
    assert!(!names(&fs, "import", &OWNER).contains(&"linux-loong64".to_string()));
}

/// The directories above the images carry the time the store's image list last changed (the
/// mtime of its `index.json`), never the mount's: the same across a remount.
#[test]
fn directories_above_the_images_carry_the_time_the_image_list_changed() {
    let m = Mount::start();
    let changed = std::fs::metadata(m.store().root().join("index.json"))
        .and_then(|md| md.modified())
        .expect("index.json mtime");
    let remounted = m.remount();
    for dir in [
        "",
        "images",
        "images/example.com",
        "images/example.com/fs",
        "import",
        "import/.status",
        "import/linux-arm64",
    ] {
        assert_eq!(lookup(&m.fs, dir).mtime, changed, "{dir}/");
        assert_eq!(
            lookup(&remounted, dir).mtime,
            changed,
            "{dir}/ after a remount"
        );
    }
    // Image directories keep the image's own time.
    assert_ne!(
        lookup(&m.fs, "images/example.com/fs/three:1").mtime,
        changed
    );
}
