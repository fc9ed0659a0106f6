//! The ops that change `import/` (rename, unlink, mkdir, rmdir, setattr, special files), their
//! refusal everywhere else, and the permission checks each op applies for the `Caller` it comes
//! from: the owner, another user of an `--allow-other` mount, and root.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, UNIX_EPOCH};

use imagefs::fs::{Caller, FsError, ImageFs};

use super::{Mount, OTHER, OWNER, ROOT, errno_of, ino, lookup, lookup_as, names};

fn create(fs: &ImageFs, dir: &str, name: &str, caller: &Caller) -> Result<u64, FsError> {
    let parent = ino(fs, &format!("import/{dir}"));
    let (_, opened) = fs.create(parent, OsStr::new(name), libc::O_WRONLY, caller)?;
    fs.release(opened.fh)?;
    Ok(opened.fh)
}

fn statuses(fs: &ImageFs, dir: &str) -> Vec<String> {
    names(fs, &format!("import/{dir}/.status"), &OWNER)
}

#[test]
fn rename_moves_an_upload_and_its_status_and_keeps_its_platform_filter() {
    let m = Mount::start();
    create(&m.fs, "linux-arm64", "x.tar.part", &OWNER).expect("create");
    let (from, to) = (ino(&m.fs, "import/linux-arm64"), ino(&m.fs, "import"));
    m.fs.rename(
        from,
        OsStr::new("x.tar.part"),
        to,
        OsStr::new("x.tar"),
        &OWNER,
    )
    .expect("rename");
    assert_eq!(statuses(&m.fs, "linux-arm64"), Vec::<String>::new());
    assert_eq!(statuses(&m.fs, ""), ["x.tar.json"]);
    assert_eq!(
        errno_of(lookup_as(&m.fs, "import/linux-arm64/x.tar.part", &OWNER)),
        libc::ENOENT
    );
    // The filter is the directory it was created in, not where it now is.
    let s = crate::common::json(&super::read_all(&m.fs, "import/.status/x.tar.json"));
    assert_eq!(
        (s["name"].as_str(), &s["platforms"]),
        (Some("x.tar"), &serde_json::json!(["linux/arm64"]))
    );
    // Onto an existing name: replaces it (rename(2)); onto `.status`: EEXIST; a name that is
    // not there: ENOENT.
    create(&m.fs, "", "y.tar", &OWNER).expect("create");
    m.fs.rename(to, OsStr::new("y.tar"), to, OsStr::new("x.tar"), &OWNER)
        .expect("rename over");
    assert_eq!(statuses(&m.fs, ""), ["x.tar.json"]);
    assert_eq!(
        errno_of(m.fs.rename(to, OsStr::new("x.tar"), to, OsStr::new(".status"), &OWNER)),
        libc::EEXIST
    );
    assert_eq!(
        errno_of(m.fs.rename(to, OsStr::new("gone"), to, OsStr::new("z"), &OWNER)),
        libc::ENOENT
    );
    // Out of import/ or into images/: EROFS.
    let images = ino(&m.fs, "images");
    assert_eq!(
        errno_of(m.fs.rename(to, OsStr::new("x.tar"), images, OsStr::new("x.tar"), &OWNER)),
        libc::EROFS
    );
    let image = ino(&m.fs, "images/example.com/fs/three:1");
    assert_eq!(
        errno_of(m.fs.rename(
            image,
            OsStr::new("image.tar"),
            image,
            OsStr::new("i.tar"),
            &OWNER
        )),
        libc::EROFS
    );
}

#[test]
fn unlink_removes_an_upload_or_its_status_and_nothing_else() {
    let m = Mount::start();
    create(&m.fs, "", "a.tar", &OWNER).expect("create");
    create(&m.fs, "", "b.tar", &OWNER).expect("create");
    let import = ino(&m.fs, "import");
    let status = ino(&m.fs, "import/.status");
    m.fs.unlink(import, OsStr::new("a.tar"), &OWNER)
        .expect("unlink upload");
    m.fs.unlink(status, OsStr::new("b.tar.json"), &OWNER)
        .expect("unlink status");
    assert_eq!(statuses(&m.fs, ""), Vec::<String>::new());
    for (dir, name) in [
        (import, "a.tar"),
        (status, "b.tar.json"),
        (status, "a.tar"),
        (import, "never"),
    ] {
        assert_eq!(
            errno_of(m.fs.unlink(dir, OsStr::new(name), &OWNER)),
            libc::ENOENT
        );
    }
    let image = ino(&m.fs, "images/example.com/fs/three:1");
    for caller in [&OWNER, &ROOT] {
        assert_eq!(
            errno_of(m.fs.unlink(image, OsStr::new("image.tar"), caller)),
            libc::EROFS
        );
    }
}

#[test]
fn mkdir_and_rmdir_take_only_platform_directories_under_import() {
    let m = Mount::start();
    let import = ino(&m.fs, "import");
    let attr =
        m.fs.mkdir(import, OsStr::new("linux-amd64+linux-arm64"), &OWNER)
            .expect("mkdir");
    assert_eq!(attr.perm, 0o755);
    for bad in ["photos", "linux-arm64.d", "foreign-7"] {
        assert_eq!(
            errno_of(m.fs.mkdir(import, OsStr::new(bad), &OWNER)),
            libc::EINVAL,
            "{bad}"
        );
    }
    assert_eq!(
        errno_of(m.fs.mkdir(import, OsStr::new(".status"), &OWNER)),
        libc::EEXIST
    );
    let sub = ino(&m.fs, "import/linux-amd64+linux-arm64");
    assert_eq!(
        errno_of(m.fs.mkdir(sub, OsStr::new("linux-arm64"), &OWNER)),
        libc::EINVAL
    );
    assert_eq!(
        errno_of(m.fs.mkdir(ino(&m.fs, "images"), OsStr::new("x"), &OWNER)),
        libc::EROFS
    );
    // rmdir: refused while it holds an upload, then accepted.
    create(&m.fs, "linux-amd64+linux-arm64", "x.tar", &OWNER).expect("create");
    let name = OsStr::new("linux-amd64+linux-arm64");
    assert_eq!(errno_of(m.fs.rmdir(import, name, &OWNER)), libc::ENOTEMPTY);
    m.fs.unlink(sub, OsStr::new("x.tar"), &OWNER)
        .expect("unlink");
    m.fs.rmdir(import, name, &OWNER).expect("rmdir");
    assert_eq!(names(&m.fs, "import", &OWNER), super::IMPORT_LISTING);
    assert_eq!(
        errno_of(m.fs.rmdir(import, OsStr::new(".status"), &OWNER)),
        libc::EINVAL
    );
    assert_eq!(
        errno_of(m.fs.rmdir(import, OsStr::new("photos"), &OWNER)),
        libc::ENOENT
    );
}

#[test]
fn setattr_keeps_upload_times_and_refuses_changes_under_images() {
    let m = Mount::start();
    create(&m.fs, "", "t.tar", &OWNER).expect("create");
    let file = ino(&m.fs, "import/t.tar");
    let when = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    // rsync sets the mtime (and the mode, which is ignored) after writing.
    let attr =
        m.fs.setattr(file, None, Some(when), true, &OWNER)
            .expect("utimes");
    assert_eq!((attr.mtime, attr.perm), (when, 0o200));
    assert_eq!(lookup(&m.fs, "import/t.tar").mtime, when);
    // Truncation to its size (zero) is accepted; O_TRUNC on a new file does that.
    m.fs.setattr(file, Some(0), None, false, &OWNER)
        .expect("truncate");
    // Another user: EPERM for times (not the owner), EACCES for truncation (no write bit).
    assert_eq!(
        errno_of(m.fs.setattr(file, None, Some(when), false, &OTHER)),
        libc::EPERM
    );
    assert_eq!(
        errno_of(m.fs.setattr(file, Some(0), None, false, &OTHER)),
        libc::EACCES
    );
    // Under images/: EROFS for any change, for root too; an atime-only update (no field we
    // are given) passes.
    let tar = ino(&m.fs, "images/example.com/fs/three:1/image.tar");
    for caller in [&OWNER, &ROOT] {
        assert_eq!(
            errno_of(m.fs.setattr(tar, Some(0), None, false, caller)),
            libc::EROFS
        );
        assert_eq!(
            errno_of(m.fs.setattr(tar, None, Some(when), false, caller)),
            libc::EROFS
        );
        assert_eq!(
            errno_of(m.fs.setattr(tar, None, None, true, caller)),
            libc::EROFS
        );
    }
    let same =
        m.fs.setattr(tar, None, None, false, &OWNER)
            .expect("atime only");
    assert_eq!(same.ino, tar);
}

#[test]
fn special_files_are_eperm_in_import_and_erofs_elsewhere() {
    let m = Mount::start();
    for dir in ["import", "import/linux-arm64"] {
        let e = m.fs.refuse_special(ino(&m.fs, dir));
        assert!(matches!(e, FsError::NotRegularFile), "{dir}: {e:?}");
        assert_eq!(e.errno().code(), libc::EPERM);
    }
    for dir in ["", "images", "images/example.com/fs/three:1"] {
        assert_eq!(
            m.fs.refuse_special(ino(&m.fs, dir)).errno().code(),
            libc::EROFS,
            "{dir:?}"
        );
    }
}

#[test]
fn names_that_are_not_utf8_are_einval_when_created_and_enoent_when_looked_up() {
    let m = Mount::start();
    let import = ino(&m.fs, "import");
    let bad = OsStr::from_bytes(b"caf\xe9.tar");
    assert_eq!(
        errno_of(m.fs.create(import, bad, libc::O_WRONLY, &OWNER)),
        libc::EINVAL
    );
    assert_eq!(errno_of(m.fs.mkdir(import, bad, &OWNER)), libc::EINVAL);
    create(&m.fs, "", "ok.tar", &OWNER).expect("create");
    assert_eq!(
        errno_of(m.fs.rename(import, OsStr::new("ok.tar"), import, bad, &OWNER)),
        libc::EINVAL
    );
    assert_eq!(errno_of(m.fs.lookup(import, bad, &OWNER)), libc::ENOENT);
}

#[test]
fn other_users_cannot_change_import_but_the_owner_and_root_can() {
    let m = Mount::start();
    let import = ino(&m.fs, "import");
    create(&m.fs, "", "mine.tar", &OWNER).expect("owner creates");
    create(&m.fs, "", "roots.tar", &ROOT).expect("root creates");
    let n = |s: &str| OsStr::new(s).to_owned();
    let refused: Vec<(&str, Result<(), FsError>)> = vec![
        (
            "create",
            create(&m.fs, "", "theirs.tar", &OTHER).map(|_| ()),
        ),
        (
            "create in a platform dir",
            create(&m.fs, "linux-arm64", "t.tar", &OTHER).map(|_| ()),
        ),
        (
            "mkdir",
            m.fs.mkdir(import, &n("linux-amd64"), &OTHER).map(|_| ()),
        ),
        ("unlink", m.fs.unlink(import, &n("mine.tar"), &OTHER)),
        (
            "rename",
            m.fs.rename(import, &n("mine.tar"), import, &n("x"), &OTHER),
        ),
        ("rmdir", m.fs.rmdir(import, &n("linux-arm64"), &OTHER)),
        ("open for writing", {
            let file = ino(&m.fs, "import/mine.tar");
            m.fs.open(file, libc::O_WRONLY, &OTHER).map(|_| ())
        }),
    ];
    for (op, r) in refused {
        let e = r.expect_err(op);
        assert!(matches!(e, FsError::PermissionDenied { .. }), "{op}: {e:?}");
        assert_eq!(e.errno().code(), libc::EACCES, "{op}");
    }
    assert_eq!(statuses(&m.fs, ""), ["mine.tar.json", "roots.tar.json"]);
    // Reading the images tree and the statuses is open to them.
    assert_eq!(
        names(&m.fs, "import/.status", &OTHER),
        ["mine.tar.json", "roots.tar.json"]
    );
}

#[test]
fn access_tells_the_truth_about_each_node() {
    let m = Mount::start();
    let (r, w, x) = (libc::R_OK, libc::W_OK, libc::X_OK);
    create(&m.fs, "", "up.tar", &OWNER).expect("create");
    let cases: [(&str, i32, &Caller, Option<i32>); 14] = [
        ("images/example.com/fs/three:1/image.tar", r, &OTHER, None),
        (
            "images/example.com/fs/three:1/image.tar",
            w,
            &ROOT,
            Some(libc::EROFS),
        ),
        (
            "images/example.com/fs/three:1/image.tar",
            w,
            &OWNER,
            Some(libc::EROFS),
        ),
        // No file is executable, not even for root.
        (
            "images/example.com/fs/three:1/image.tar",
            x,
            &ROOT,
            Some(libc::EACCES),
        ),
        ("images/example.com/fs/three:1", r | x, &OTHER, None),
        ("images", w, &ROOT, Some(libc::EROFS)),
        ("", w, &OWNER, Some(libc::EROFS)),
        ("import", w | x, &OWNER, None),
        ("import", w, &OTHER, Some(libc::EACCES)),
        ("import", w, &ROOT, None),
        ("import/up.tar", w, &OWNER, None),
        // An upload has no bytes to read back, whoever asks.
        ("import/up.tar", r, &ROOT, Some(libc::EACCES)),
        ("import/up.tar", r, &OWNER, Some(libc::EACCES)),
        ("import/.status/up.tar.json", r, &OTHER, None),
    ];
    for (path, mask, caller, want) in cases {
        let got = m.fs.access(ino(&m.fs, path), mask, caller);
        match want {
            None => got.unwrap_or_else(|e| panic!("{path} mask {mask} uid {}: {e:?}", caller.uid)),
            Some(code) => {
                let e = got.expect_err(path);
                // A refusal is the routine answer to a probe, not a failure of the mount.
                assert!(matches!(e, FsError::AccessRefused(_)), "{path}: {e:?}");
                assert_eq!(
                    e.errno().code(),
                    code,
                    "{path} mask {mask} uid {}",
                    caller.uid
                );
            }
        }
    }
}
