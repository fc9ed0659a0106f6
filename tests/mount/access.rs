//! Who may do what through the mount (doc/SEMANTICS.md "Permissions"; mounting as an ordinary
//! user), and the smaller points of writing into `import/`: a second writer, a full store, odd
//! names, a quiet log.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{IMAGE, IMAGE_DIR, Mounted, errno_of, sha256};
use crate::common::{Tmpfs, bin, detach_under, imagefs, names, needs, output, run, wait_for};

const NOBODY: &str = "65534";
/// The system Python (a user's shim on PATH, e.g. pyenv's, may not be executable by nobody).
const PYTHON: &str = "/usr/bin/python3";

/// A command run as `nobody` (uid and gid 65534, no supplementary groups).
fn as_nobody(program: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
        program,
    ]);
    c
}

/// access(2) with `mode` on `path`, as the calling process: the errno, 0 when allowed.
fn access_errno(path: &Path, mode: i32) -> i32 {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::access(c.as_ptr(), mode) } == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap()
    }
}

/// access(2) with `mode` on `path`, as nobody: the errno, 0 when allowed (through Python's
/// ctypes, the one way to see the errno from a shell-level command).
fn access_errno_as_nobody(path: &Path, mode: i32) -> i32 {
    let out = output(
        as_nobody(PYTHON)
            .arg("-c")
            .arg(
                "import ctypes,os,sys\n\
             libc=ctypes.CDLL(None,use_errno=True)\n\
             r=libc.access(os.fsencode(sys.argv[1]),int(sys.argv[2]))\n\
             print(0 if r==0 else ctypes.get_errno())",
            )
            .arg(path)
            .arg(mode.to_string()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A mount with `--allow-other` whose temp dir other users can traverse, and an archive of
/// another image that they can read. The caller states its
/// needs: fuse, root, setpriv, PYTHON.
fn shared_mount() -> (Mounted, PathBuf) {
    let m = Mounted::with_args(&["--allow-other"]);
    fs::set_permissions(m.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let archive = m.foreign_archive("example.com/test/intruder:1", 21);
    fs::set_permissions(&archive, fs::Permissions::from_mode(0o644)).unwrap();
    (m, archive)
}

/// Claim: with `--allow-other`, the modes shown are enforced: another user can read
/// `images/` (0555/0444) but cannot import into root's `import/` (0755), rename or remove
/// root's uploads, or change their times; the store stays as it was.
#[test]
fn mount_allow_other_keeps_other_users_out_of_import() {
    needs!("fuse", "root", "setpriv", PYTHON);
    let (m, archive) = shared_mount();
    run(std::process::Command::new("cp")
        .arg(m.foreign_archive("example.com/test/root:1", 22))
        .arg(m.path("import/root.tar")));
    let index_before = fs::read(m.store.join("index.json")).unwrap();
    let blobs_before = names(&m.store.join("blobs/sha256"));

    let tar = m.image("by-platform/linux-arm64.tar");
    let read = run(as_nobody("sha256sum").arg(&tar));
    assert!(
        String::from_utf8_lossy(&read.stdout).starts_with(&sha256(&tar)),
        "nobody reads images/ as its modes allow"
    );
    let import = m.path("import");
    for (what, cmd) in [
        (
            "cp into import/",
            as_nobody("cp").arg(&archive).arg(&import).output(),
        ),
        (
            "cp into a platform directory",
            as_nobody("cp")
                .arg(&archive)
                .arg(import.join("linux-arm64/"))
                .output(),
        ),
        (
            "rm of root's upload",
            as_nobody("rm")
                .arg("-f")
                .arg(import.join("root.tar"))
                .output(),
        ),
        (
            "mv of root's upload",
            as_nobody("mv")
                .arg(import.join("root.tar"))
                .arg(import.join("mine.tar"))
                .output(),
        ),
        (
            "rm of root's status",
            as_nobody("rm")
                .arg("-f")
                .arg(import.join(".status/root.tar.json"))
                .output(),
        ),
        (
            "touch -d of root's upload",
            as_nobody("touch")
                .args(["-d", "2001-01-01"])
                .arg(import.join("root.tar"))
                .output(),
        ),
        (
            "write into root's upload",
            as_nobody("dd")
                .args([
                    "if=/dev/zero",
                    "bs=512",
                    "count=1",
                    "conv=notrunc",
                    "status=none",
                ])
                .arg(format!("of={}", import.join("root.tar").display()))
                .output(),
        ),
    ] {
        let out = cmd.unwrap();
        assert!(!out.status.success(), "{what} as nobody succeeded");
        let err = stderr(&out);
        assert!(
            err.contains("Permission denied") || err.contains("Operation not permitted"),
            "{what}: {err}"
        );
    }
    assert_eq!(fs::read(m.store.join("index.json")).unwrap(), index_before);
    assert_eq!(names(&m.store.join("blobs/sha256")), blobs_before);
    assert!(
        m.path("import/root.tar").exists(),
        "root's upload is still there"
    );
    assert!(
        !m.path("images/example.com/test/intruder:1").exists(),
        "nothing nobody wrote was imported"
    );
    // The owner (root here) still imports.
    run(Command::new("cp").arg(&archive).arg(&import));
    wait_for("root's import", || {
        m.path("images/example.com/test/intruder:1").exists()
    });
}

/// Claim: access(2) asking for write access under `images/` is EROFS for every user, root
/// included, so `[ -w ]` and file managers tell the truth; no file is executable
/// (`find -executable` lists nothing), and GIO offers no delete, rename or trash; `import/` is
/// writable by its owner only.
#[test]
fn mount_access_reports_images_read_only_and_files_not_executable() {
    needs!("fuse", "root", "setpriv", PYTHON, "gio");
    let (m, _) = shared_mount();
    let tar = m.image("by-platform/linux-arm64.tar");
    let read_only = [
        tar.clone(),
        m.image("index.json"),
        m.image("by-platform"),
        m.image(""),
        m.path("images"),
        m.mnt.clone(),
    ];
    for p in &read_only {
        assert_eq!(access_errno(p, libc::W_OK), libc::EROFS, "root, W_OK {p:?}");
        assert_eq!(
            access_errno_as_nobody(p, libc::W_OK),
            libc::EROFS,
            "nobody, W_OK {p:?}"
        );
        assert_eq!(access_errno(p, libc::R_OK), 0, "root, R_OK {p:?}");
        assert_eq!(
            access_errno_as_nobody(p, libc::R_OK),
            0,
            "nobody, R_OK {p:?}"
        );
    }
    assert_eq!(access_errno(&tar, libc::X_OK), libc::EACCES, "root, X_OK");
    assert_eq!(access_errno_as_nobody(&tar, libc::X_OK), libc::EACCES);
    assert_eq!(access_errno(&m.image("by-platform"), libc::X_OK), 0);
    let test_w = |cmd: &mut Command| cmd.arg("-c").arg("test -w \"$0\"").arg(&tar).status();
    assert!(
        !test_w(&mut Command::new("sh")).unwrap().success(),
        "[ -w ] as root"
    );
    assert!(
        !test_w(&mut as_nobody("sh")).unwrap().success(),
        "[ -w ] as nobody"
    );

    let import = m.path("import");
    assert_eq!(access_errno(&import, libc::W_OK), 0, "root may import");
    assert_eq!(access_errno_as_nobody(&import, libc::W_OK), libc::EACCES);
    assert_eq!(access_errno_as_nobody(&import, libc::R_OK | libc::X_OK), 0);

    // What file managers ask (GIO): nothing under images/ can be written, deleted, renamed or
    // trashed.
    let out = run(Command::new("gio")
        .args(["info", "-a", "access::*"])
        .arg(&tar));
    let info = String::from_utf8_lossy(&out.stdout);
    for key in ["can-write", "can-delete", "can-rename", "can-trash"] {
        assert!(
            info.contains(&format!("access::{key}: FALSE")),
            "gio {key}: {info}"
        );
    }

    for find in [Command::new("find"), as_nobody("find")].iter_mut() {
        let out = run(find.arg(&m.mnt).args(["-type", "f", "-executable"]));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "", "find -executable");
    }
}

/// Claim: a name that is not UTF-8 cannot be created in `import/`: EINVAL, not ENOENT.
#[test]
fn mount_non_utf8_name_in_import_is_einval() {
    needs!("fuse");
    let m = Mounted::new();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff.tar");
    assert_eq!(
        errno_of(fs::File::create(m.path("import").join(name))),
        libc::EINVAL
    );
    assert_eq!(
        errno_of(fs::create_dir(m.path("import").join(name))),
        libc::EINVAL
    );
}

/// Claim: ops the mount does not offer are refused (ENOSYS) without a warning in the daemon's
/// log: `cp` into `import/` from outside and from inside the mount (copy_file_range), and
/// `lsattr` (an FS_IOC_GETFLAGS ioctl, which borg also sends for every file).
#[test]
fn mount_unsupported_ops_are_refused_quietly() {
    needs!("fuse", "lsattr");
    let m = Mounted::new();
    let archive = m.foreign_archive("example.com/test/quiet:1", 23);
    run(Command::new("cp").arg(&archive).arg(m.path("import/")));
    run(Command::new("cp")
        .arg(m.image("by-platform/linux-arm64.tar"))
        .arg(m.path("import/linux-arm64/again.tar")));
    for name in ["foreign-23.tar", "again.tar"] {
        let dir = if name == "again.tar" {
            "import/linux-arm64"
        } else {
            "import"
        };
        let status = fs::read_to_string(m.path(&format!("{dir}/.status/{name}.json"))).unwrap();
        assert!(status.contains("\"loaded\""), "{status}");
    }
    let lsattr = output(Command::new("lsattr").arg(m.image("image.tar")));
    assert!(!lsattr.status.success(), "lsattr: no file flags here");
    let log = m.log_text();
    assert!(
        log.contains("ioctl"),
        "lsattr's ioctl reached the daemon: {log}"
    );
    assert!(
        log.contains("COPY_FILE_RANGE"),
        "cp asked for copy_file_range: {log}"
    );
    for line in log.lines() {
        assert!(
            !line.contains(": warn ") && !line.contains("Not Implemented"),
            "warning in the log: {line}"
        );
    }
}

/// Claim: only the writer whose data was accepted commits. While A streams an upload, B opens
/// the same file and writes at offset 0 (ESPIPE); B's close neither commits nor fails A's
/// import, which completes when A closes.
#[test]
fn mount_rejected_second_writer_does_not_end_the_import() {
    use std::io::Write;
    needs!("fuse");
    let m = Mounted::new();
    let archive = fs::read(m.foreign_archive("example.com/test/two:1", 24)).unwrap();
    let target = m.path("import/two.tar");
    let mut a = fs::File::create(&target).unwrap();
    a.write_all(&archive[..archive.len() / 2]).unwrap();
    let b = output(
        Command::new("dd")
            .args([
                "if=/dev/zero",
                "bs=512",
                "count=1",
                "conv=notrunc",
                "status=none",
            ])
            .arg(format!("of={}", target.display())),
    );
    assert!(!b.status.success(), "B's write at offset 0 was accepted");
    assert!(stderr(&b).contains("Illegal seek"), "{}", stderr(&b));
    let status = fs::read_to_string(m.path("import/.status/two.tar.json")).unwrap();
    assert!(
        status.contains("\"receiving\""),
        "after B's close: {status}"
    );
    a.write_all(&archive[archive.len() / 2..]).unwrap();
    drop(a);
    let status = fs::read_to_string(m.path("import/.status/two.tar.json")).unwrap();
    assert!(status.contains("\"loaded\""), "{status}");
    wait_for("the image A wrote", || {
        m.path("images/example.com/test/two:1").exists()
    });
}

/// Claim: a full store filesystem reaches the writer as ENOSPC ("No space left on device"),
/// and the store is left as it was, with no temp files.
#[test]
fn mount_enospc_reaches_cp_and_leaves_store_unchanged() {
    needs!("fuse", "root");
    let work = tempfile::tempdir().unwrap();
    let small = Tmpfs::new("4m");
    let store = small.path().join("store");
    run(imagefs(&store).args(["sample", "--name", IMAGE, "--layers", "1"]));
    let big_store = work.path().join("big");
    run(imagefs(&big_store).args([
        "sample",
        "--name",
        "example.com/test/big:1",
        "--layer-size",
        "2000000",
        "--stored",
    ]));
    let big = work.path().join("big.tar");
    run(imagefs(&big_store)
        .args(["export", "example.com/test/big:1", "-o"])
        .arg(&big));
    assert!(fs::metadata(&big).unwrap().len() > 4 << 20);

    let mut m = Mounted::on_store(store.clone());
    let index_before = fs::read(store.join("index.json")).unwrap();
    let blobs_before = names(&store.join("blobs/sha256"));
    let out = output(Command::new("cp").arg(&big).arg(m.path("import/")));
    assert!(!out.status.success(), "cp onto a full store succeeded");
    assert!(
        stderr(&out).contains("No space left on device"),
        "cp said: {}",
        stderr(&out)
    );
    // Written out of order, the upload is spooled to a temp file: the full disk is still what
    // write and close report (not a "truncated archive"), and what the status says.
    {
        use std::os::fd::IntoRawFd;
        use std::os::unix::fs::FileExt;
        let data = fs::read(&big).unwrap();
        let file = fs::File::create(m.path("import/spooled.tar")).unwrap();
        let half = data.len() / 2;
        let mut write_errors = Vec::new();
        for (at, chunk) in [(half, &data[half..]), (0, &data[..half])] {
            if let Err(e) = file.write_all_at(chunk, at as u64) {
                write_errors.push(e.raw_os_error());
            }
        }
        assert_eq!(
            write_errors.first(),
            Some(&Some(libc::ENOSPC)),
            "{write_errors:?}"
        );
        // SAFETY: the fd comes from into_raw_fd and is closed exactly once.
        let rc = unsafe { libc::close(file.into_raw_fd()) };
        let close_errno = std::io::Error::last_os_error().raw_os_error();
        assert!(
            rc == 0 || close_errno == Some(libc::ENOSPC),
            "close of a spooled upload on a full disk: {close_errno:?}"
        );
        let status = fs::read_to_string(m.path("import/.status/spooled.tar.json")).unwrap();
        assert!(
            status.contains("\"failed\"") && status.contains("No space left on device"),
            "{status}"
        );
    }
    m.unmount();
    assert_eq!(fs::read(store.join("index.json")).unwrap(), index_before);
    assert_eq!(names(&store.join("blobs/sha256")), blobs_before);
    let ingest = store.join("ingest");
    let left: Vec<String> = if ingest.exists() {
        names(&ingest)
    } else {
        Vec::new()
    };
    assert!(left.is_empty(), "temp files left in ingest/: {left:?}");
}

/// Restores /dev/fuse's mode when dropped (the test widens it the way distributions ship it).
struct DeviceMode(Option<u32>);

impl Drop for DeviceMode {
    fn drop(&mut self) {
        if let Some(mode) = self.0 {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions("/dev/fuse", fs::Permissions::from_mode(mode));
        }
    }
}

/// Claim: works as an ordinary user where fusermount3 allows it. As root, the test runs the
/// mount as `nobody` through `setpriv` (Debian ships /dev/fuse as 0666; where it is narrower,
/// the test widens it for its duration); run by an ordinary user, every test here already is one.
#[test]
fn mount_works_for_an_ordinary_user_through_fusermount3() {
    use std::os::unix::fs::{PermissionsExt, chown};
    // Run by an ordinary user, every other test here is the proof; as root, this one is.
    needs!("fuse", "root", "fusermount3", "setpriv");
    let mode = fs::metadata("/dev/fuse")
        .map(|m| m.permissions().mode() & 0o7777)
        .expect("stat /dev/fuse");
    let _restore = DeviceMode((mode & 0o006 != 0o006).then_some(mode));
    fs::set_permissions("/dev/fuse", fs::Permissions::from_mode(mode | 0o666)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (store, mnt) = (dir.path().join("store"), dir.path().join("mnt"));
    fs::create_dir(&mnt).unwrap();
    run(imagefs(&store).args(["sample", "--name", IMAGE]));
    let export = dir.path().join("arm64.tar");
    run(imagefs(&store)
        .args(["export", IMAGE, "--platform", "linux/arm64", "-o"])
        .arg(&export));
    let export_len = fs::metadata(&export).unwrap().len();
    const NOBODY: u32 = 65534;
    for entry in walk(dir.path()) {
        chown(&entry, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin(),
            "--store",
        ])
        .arg(&store)
        .args(args);
        c
    };
    let mnt_s = mnt.to_str().unwrap();
    let out = output(&mut as_nobody(&["mount", "--no-sample", mnt_s]));
    assert!(
        out.status.success(),
        "mount as nobody: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mounted = listing
        .lines()
        .find(|l| l.contains(mnt_s))
        .map(str::to_string);
    // Only the mounting user may enter a mount without --allow-other, root included.
    let tar = mnt.join(IMAGE_DIR).join("by-platform/linux-arm64.tar");
    let read = output(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "stat",
                "-c",
                "%s %u",
            ])
            .arg(&tar),
    );
    let denied_to_root = fs::metadata(&tar).is_err();
    let unmount = output(&mut as_nobody(&["unmount", mnt_s]));
    if !unmount.status.success() {
        detach_under(&mnt);
    }
    let line = mounted.expect("the mount appears in mountinfo");
    // fusermount3 mounts with the caller's uid: the kernel records user_id=65534.
    assert!(line.contains("user_id=65534"), "{line}");
    let stat = String::from_utf8_lossy(&read.stdout).trim().to_string();
    let (size, owner) = stat.split_once(' ').expect("stat prints size and owner");
    assert_eq!(size.parse::<u64>().unwrap(), export_len, "{stat}");
    assert_eq!(
        owner,
        NOBODY.to_string(),
        "files belong to the mounting user"
    );
    assert!(
        denied_to_root,
        "without --allow-other, other users (root too) are kept out"
    );
    assert!(
        unmount.status.success(),
        "unmount as nobody: {}",
        String::from_utf8_lossy(&unmount.stderr)
    );
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    if root.is_dir() {
        for e in fs::read_dir(root).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

/// Claim: a file written into `import/` cannot be read back, and access(2) says so to everyone,
/// root included (root's DAC override would otherwise make `test -r` true on its 0200 mode).
#[test]
fn mount_access_says_an_upload_cannot_be_read_back() {
    needs!("fuse");
    let m = Mounted::new();
    let archive = m.foreign_archive("example.com/test/readback:1", 29);
    run(Command::new("cp")
        .arg(&archive)
        .arg(m.path("import/up.tar")));
    let upload = m.path("import/up.tar");
    assert_eq!(
        access_errno(&upload, libc::R_OK),
        libc::EACCES,
        "root, R_OK"
    );
    assert_eq!(
        access_errno(&upload, libc::W_OK),
        0,
        "root may write it again"
    );
    assert!(fs::read(&upload).is_err(), "reading it back fails");
}
