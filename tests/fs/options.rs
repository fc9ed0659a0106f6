//! Mount-wide options: the modes `--dir-mode`/`--file-mode` give are the modes every node shows
//! and the modes every check enforces, and `--read-only` leaves `import/` out of the tree.

use std::ffi::OsStr;

use imagefs::fs::{Caller, FsOptions, ImageFs};

use super::{Mount, OTHER, OWNER, ROOT, ROOT_INO, errno_of, ino, lookup, lookup_as, names};

/// In the owner's group (the fixture's owner is 1000:1000), not the owner.
const GROUP: Caller = Caller {
    uid: 3000,
    gid: 1000,
    pid: u32::MAX,
};

const IMAGE: &str = "images/example.com/fs/three:1";

fn with(m: &Mount, dir_mode: Option<u16>, file_mode: Option<u16>) -> ImageFs {
    ImageFs::new(
        m.store().clone(),
        FsOptions {
            dir_mode,
            file_mode,
            ..super::options()
        },
    )
}

fn upload(fs: &ImageFs, name: &str, caller: &Caller) -> Result<(), imagefs::fs::FsError> {
    let (_, opened) = fs.create(ino(fs, "import"), OsStr::new(name), libc::O_WRONLY, caller)?;
    fs.release(opened.fh)
}

#[test]
fn dir_and_file_modes_are_shown_on_every_node_but_uploads() {
    let m = Mount::start();
    let fs = with(&m, Some(0o750), Some(0o640));
    upload(&fs, "up.tar", &OWNER).expect("create");
    for dir in [
        "",
        "images",
        "images/example.com",
        IMAGE,
        &format!("{IMAGE}/by-platform"),
        &format!("{IMAGE}/by-platform/linux-amd64"),
        "import",
        "import/.status",
        "import/linux-arm64",
        "import/linux-arm64/.status",
    ] {
        assert_eq!(lookup(&fs, dir).perm, 0o750, "{dir}/");
    }
    for file in [
        &format!("{IMAGE}/index.json"),
        &format!("{IMAGE}/image.tar"),
        &format!("{IMAGE}/by-platform/linux-amd64.tar"),
        &format!("{IMAGE}/by-platform/linux-amd64/manifest.json"),
        &format!("{IMAGE}/by-platform/linux-amd64/config.json"),
        "import/.status/up.tar.json",
    ] {
        assert_eq!(lookup(&fs, file).perm, 0o640, "{file}");
    }
    // An upload's bytes cannot be read back whatever the file mode says: it stays write-only.
    assert_eq!(lookup(&fs, "import/up.tar").perm, 0o200);
    // Only permission bits are taken: no setuid, setgid or sticky bit is ever shown.
    let odd = with(&m, Some(0o7755), Some(0o6644));
    assert_eq!(lookup(&odd, "images").perm, 0o755);
    assert_eq!(lookup(&odd, &format!("{IMAGE}/image.tar")).perm, 0o644);
}

#[test]
fn the_modes_shown_are_the_modes_enforced() {
    let m = Mount::start();
    let tar = format!("{IMAGE}/image.tar");
    // 0750/0640: the group reads, others cannot even enter; the group cannot import.
    let fs = with(&m, Some(0o750), Some(0o640));
    assert_eq!(names(&fs, "", &GROUP), ["images", "import"]);
    let t = lookup_as(&fs, &tar, &GROUP).expect("lookup as group");
    let fh = fs
        .open(t.ino, libc::O_RDONLY, &GROUP)
        .expect("open as group")
        .fh;
    fs.release(fh).expect("release");
    assert_eq!(errno_of(lookup_as(&fs, "images", &OTHER)), libc::EACCES);
    assert_eq!(errno_of(fs.readdir(ROOT_INO, &OTHER)), libc::EACCES);
    assert_eq!(
        errno_of(fs.access(ROOT_INO, libc::R_OK, &OTHER)),
        libc::EACCES
    );
    let import = ino(&fs, "import");
    assert_eq!(
        errno_of(fs.access(import, libc::W_OK, &GROUP)),
        libc::EACCES
    );
    assert_eq!(errno_of(upload(&fs, "g.tar", &GROUP)), libc::EACCES);
    upload(&fs, "o.tar", &OWNER).expect("the owner imports");

    // 0755/0600: others enter but read no file, a status file included.
    let fs = with(&m, Some(0o755), Some(0o600));
    upload(&fs, "s.tar", &OWNER).expect("create");
    for file in [tar.as_str(), "import/.status/s.tar.json"] {
        let f = lookup_as(&fs, file, &OTHER).expect("lookup as other");
        assert_eq!(
            errno_of(fs.open(f.ino, libc::O_RDONLY, &OTHER)),
            libc::EACCES,
            "{file}"
        );
        fs.open(f.ino, libc::O_RDONLY, &OWNER)
            .unwrap_or_else(|e| panic!("{file} as owner: {e:?}"));
    }

    // An execute bit in the file mode is honoured (the default has none).
    let fs = with(&m, None, Some(0o555));
    fs.access(ino(&fs, &tar), libc::X_OK, &OWNER)
        .expect("x bit given");
    // Without the owner's write bit the owner cannot import; root still can, as on any
    // filesystem.
    let fs = with(&m, Some(0o555), None);
    assert_eq!(errno_of(upload(&fs, "r.tar", &OWNER)), libc::EACCES);
    upload(&fs, "r.tar", &ROOT).expect("root imports");
}

#[test]
fn read_only_leaves_import_out_of_the_tree() {
    let m = Mount::start();
    let fs = ImageFs::new(
        m.store().clone(),
        FsOptions {
            read_only: true,
            ..super::options()
        },
    );
    assert_eq!(names(&fs, "", &OWNER), ["images"]);
    for path in ["import", "import/linux-arm64", "import/.status"] {
        assert_eq!(
            errno_of(lookup_as(&fs, path, &OWNER)),
            libc::ENOENT,
            "{path}"
        );
    }
    assert_eq!(
        errno_of(fs.create(ROOT_INO, OsStr::new("import"), libc::O_WRONLY, &OWNER)),
        libc::EROFS
    );
    assert_eq!(
        errno_of(fs.mkdir(ROOT_INO, OsStr::new("import"), &OWNER)),
        libc::EROFS
    );
    assert_eq!(
        errno_of(fs.access(ROOT_INO, libc::W_OK, &ROOT)),
        libc::EROFS
    );
    // The images are served as before.
    assert_eq!(lookup(&fs, IMAGE).perm, 0o555);
}
