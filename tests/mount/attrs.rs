//! Attributes above the images and mount-wide options on a real mount (doc/SEMANTICS.md
//! "Attributes"): directory times that follow the store's image list across remounts, and the
//! modes and read-only tree `--dir-mode`, `--file-mode` and `--read-only` give, seen and
//! enforced by the kernel's callers.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{IMAGE_DIR, Mounted};
use crate::common::{imagefs, names, needs, output, run, run_stdout, wait_for};

/// `stat -c FORMAT PATH`, trimmed.
fn stat(format: &str, path: &Path) -> String {
    run_stdout(Command::new("stat").args(["-c", format]).arg(path))
        .trim()
        .to_string()
}

/// The directories above the images, and `import/`.
const ABOVE: [&str; 4] = ["", "images", "images/example.com", "import"];

fn times(m: &Mounted) -> Vec<String> {
    ABOVE.iter().map(|d| stat("%Y", &m.path(d))).collect()
}

/// "Directories above the images carry the time the store's image list last changed … stays
/// across remounts … moves when an image comes or goes (through the CLI; a `stat` right after
/// sees it)".
#[test]
fn mount_directory_times_follow_the_image_list_across_remounts() {
    needs!("fuse");
    let mut m = Mounted::new();
    let first = times(&m);
    let index = fs::metadata(m.store.join("index.json")).unwrap();
    let index_secs = index.modified().unwrap();
    let index_secs = index_secs
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    assert!(
        first.iter().all(|t| *t == index_secs),
        "{first:?} vs {index_secs}"
    );
    m.unmount();
    m.mount();
    assert_eq!(times(&m), first, "a remount moved the times");

    // `%Y` counts seconds: let one pass, so that a change must show as a later second.
    let archive = m.foreign_archive("example.com/test/times:1", 31);
    std::thread::sleep(Duration::from_millis(1100));
    run(imagefs(&m.store).arg("import").arg(&archive));
    wait_for("the CLI import to show", || {
        m.path("images/example.com/test/times:1").exists()
    });
    let imported = times(&m);
    for (d, (now, then)) in ABOVE.iter().zip(imported.iter().zip(&first)) {
        assert!(now > then, "{d}/: {then} -> {now} after an import");
    }

    // rm: the kernel has the attributes cached (just stat'ed); the live view makes it forget
    // them, so the new time shows before its 1 s attribute cache runs out.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(stat("%Y", &m.path("")), imported[0]);
    let cached = Instant::now();
    run(imagefs(&m.store).args(["rm", "example.com/test/times:1"]));
    let rm_took = cached.elapsed();
    if rm_took > Duration::from_millis(600) {
        // A loaded machine: the cache may have run out during the rm, so timing proves nothing
        // (the planted-bug check is `fs::live::…directory_times…`); the new time must still show.
        eprintln!("rm took {rm_took:?}: not timing the invalidation");
        wait_for("the root's new time", || {
            stat("%Y", &m.path("")) != imported[0]
        });
    }
    while stat("%Y", &m.path("")) == imported[0] {
        assert!(
            cached.elapsed() < Duration::from_millis(900),
            "the root's time unchanged {:?} after the rm (which took {rm_took:?})",
            cached.elapsed()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let removed = times(&m);
    for (d, (now, then)) in ABOVE.iter().zip(removed.iter().zip(&imported)) {
        assert!(now > then, "{d}/: {then} -> {now} after an rm");
    }
    m.unmount();
    m.mount();
    assert_eq!(times(&m), removed, "a remount moved the times");
}

/// `program args…` as uid 65534 in group `gid`, no supplementary groups; its output.
fn as_user(gid: u32, program: &str, args: &[&Path]) -> std::process::Output {
    output(
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                &format!("--regid={gid}"),
                "--clear-groups",
                program,
            ])
            .args(args),
    )
}

/// "`--dir-mode`/`--file-mode` … as given, on every node of their kind … The modes shown are
/// the modes enforced": 0750/0640 shows as such to `stat`, the owner's group reads the images
/// but cannot import, and anyone else cannot even list the mount.
#[test]
fn mount_dir_and_file_modes_are_shown_and_enforced() {
    needs!("fuse", "root", "setpriv");
    let m = Mounted::with_args(&["--allow-other", "--dir-mode", "0750", "--file-mode", "0640"]);
    // Other users must reach the mountpoint to be refused by the mount itself.
    fs::set_permissions(m.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let tar = m.path(&format!("{IMAGE_DIR}/by-platform/linux-arm64.tar"));
    for (rel, want) in [
        ("", "750"),
        ("images", "750"),
        (IMAGE_DIR, "750"),
        (&format!("{IMAGE_DIR}/image.tar"), "640"),
        (&format!("{IMAGE_DIR}/index.json"), "640"),
        ("import", "750"),
        ("import/linux-arm64", "750"),
        ("import/.status", "750"),
    ] {
        assert_eq!(stat("%a", &m.path(rel)), want, "{rel}");
    }
    // The owner's group (0) reads, and cannot write into import/.
    let group_cat = as_user(0, "cat", &[&tar]);
    assert!(group_cat.status.success(), "group cat: {group_cat:?}");
    assert!(!group_cat.stdout.is_empty());
    let group_cp = as_user(0, "cp", &[&tar, &m.path("import/x.tar")]);
    assert!(!group_cp.status.success(), "the group imported");
    assert!(
        String::from_utf8_lossy(&group_cp.stderr).contains("Permission denied"),
        "{group_cp:?}"
    );
    // Others (nobody's own group) are refused at the mount's root, also on a path the owner
    // has just looked up (cached in the kernel: default_permissions makes it check anyway).
    assert!(tar.is_file());
    let stat_cached = as_user(65534, "stat", &[&tar]);
    assert!(
        !stat_cached.status.success(),
        "stat as other: {stat_cached:?}"
    );
    // Others (nobody's own group) are refused at the mount's root.
    for (program, path) in [("ls", m.path("")), ("cat", tar.clone())] {
        let out = as_user(65534, program, &[&path]);
        assert!(!out.status.success(), "{program} as other: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "{program}: {out:?}"
        );
    }
    // Root, the owner here, imports.
    run(Command::new("cp").arg(&tar).arg(m.path("import/again.tar")));
    let status = fs::read_to_string(m.path("import/.status/again.tar.json")).unwrap();
    assert!(status.contains("\"loaded\""), "{status}");
    assert_eq!(stat("%a", &m.path("import/.status/again.tar.json")), "640");
}

/// "`--read-only`: the mount has no `import/` (not listed, ENOENT on lookup); every write is
/// EROFS", and the kernel has it read-only (`-o ro`, as fstab gives it).
#[test]
fn mount_read_only_has_no_import() {
    needs!("fuse", "findmnt");
    let m = Mounted::with_args(&["-o", "ro"]);
    let options = run_stdout(Command::new("findmnt").args(["-no", "OPTIONS"]).arg(&m.mnt));
    assert!(options.starts_with("ro,"), "{options}");
    assert_eq!(names(&m.path("")), ["images"]);
    let err = fs::metadata(m.path("import")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
    let err = fs::create_dir(m.path("import")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
    assert!(m.path(IMAGE_DIR).join("image.tar").exists());
    let err = fs::write(m.path("x.tar"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{err}");
}
