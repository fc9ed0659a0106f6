//! Stores that cannot be written, and waiting for a busy store: a store on a read-only
//! bind mount, or one the user may read but not write, is served (CLI and mount) and every write
//! says the store is read-only; `gc` names the processes it waits for and gives up after
//! `--timeout`; the upload spool of a killed mount daemon is reclaimed by the next `gc` (and
//! reported by `fsck`) because no live process holds its lock.
//!
//! These tests need root (bind mounts, setpriv) and FUSE: they fail when either is missing,
//! unless `IMAGEFS_TEST_SKIP` names it (see tests/common/needs.rs).

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const APP_DIR: &str = "images/docker.io/library/app:latest";

/// A read-only bind mount of a directory, undone on drop.
struct ReadOnlyView {
    path: PathBuf,
}

impl ReadOnlyView {
    fn of(source: &Path, path: PathBuf) -> ReadOnlyView {
        fs::create_dir_all(&path).unwrap();
        run(Command::new("mount").arg("--bind").arg(source).arg(&path));
        let view = ReadOnlyView { path };
        run(Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(&view.path));
        view
    }
}

impl Drop for ReadOnlyView {
    fn drop(&mut self) {
        detach_under(&self.path);
    }
}

fn export_file(store: &Path, platform: &str, out: &Path) -> Vec<u8> {
    run(imagefs(store)
        .args(["export", "app", "--platform", platform, "-o"])
        .arg(out));
    fs::read(out).unwrap()
}

#[test]
fn a_read_only_bind_mounted_store_is_served_and_writes_say_read_only() {
    needs!("root", "fuse");
    let f = Fixture::new();
    add(&f.store, &small_spec("app", &THREE));
    let expected = export_file(f.root(), "linux/arm64", &f.path("expected.tar"));
    // As another tool (skopeo, umoci) lays a store out: no ingest/, no lock files.
    fs::remove_dir_all(f.root().join("ingest")).unwrap();
    for lock in ["gc.lock", "index.lock"] {
        fs::remove_file(f.root().join(lock)).unwrap();
    }
    // And as an earlier imagefs wrote it: `org.opencontainers.image.ref.name` the tag alone.
    let index_path = f.root().join("index.json");
    let index = fs::read_to_string(&index_path).unwrap();
    let old_form = index.replace(
        r#""org.opencontainers.image.ref.name":"docker.io/library/app:latest""#,
        r#""org.opencontainers.image.ref.name":"latest""#,
    );
    assert_ne!(old_form, index);
    fs::write(&index_path, &old_form).unwrap();
    let view = ReadOnlyView::of(f.root(), f.path("ro"));
    let ro = view.path.as_path();

    // Reading commands work.
    let listed = text(&ok(cli(ro, &["ls"])));
    assert!(listed.contains("docker.io/library/app:latest"), "{listed}");
    assert_eq!(
        export_file(ro, "linux/arm64", &f.path("from-ro.tar")),
        expected
    );
    let report = text(&ok(cli(ro, &["fsck"])));
    assert!(
        report.contains("ref.name of 1 record (docker.io/library/app:latest) is not the full name"),
        "{report}"
    );

    // Every write says the store is read-only, and nothing changes.
    for args in [
        vec!["import", f.path("expected.tar").to_str().unwrap()],
        vec!["rm", "app"],
        vec!["restore", "app"],
        vec!["gc"],
        vec!["index", "app"],
        vec!["fsck", "--repair"],
    ] {
        let out = cli(ro, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("is read-only"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }

    // The mount serves archives; import/ shows and enforces that it takes nothing.
    let daemon = Mount::start(ro, &f.path("mnt"), &f.path("mount.log"));
    let copied = f.path("copied.tar");
    run(Command::new("cp")
        .arg(daemon.mnt.join(APP_DIR).join("by-platform/linux-arm64.tar"))
        .arg(&copied));
    assert_eq!(fs::read(&copied).unwrap(), expected);
    let mode = fs::metadata(daemon.mnt.join("import"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o555, "import/ of a read-only store");
    let out = output(
        Command::new("cp")
            .arg(&copied)
            .arg(daemon.mnt.join("import/")),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Read-only file system"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        daemon.log_text().contains("is read-only"),
        "the daemon log says why: {}",
        daemon.log_text()
    );
    assert_eq!(fs::read_to_string(&index_path).unwrap(), old_form);
}

/// A read-only store whose gc lock file is gone (deleted, or never written by the tool that laid
/// it out): nobody holds a lock that does not exist, so `fsck` counts the temp files of imports
/// that died, and creates no lock file to find that out.
#[test]
fn fsck_of_a_read_only_store_without_a_gc_lock_counts_abandoned_temp_files() {
    needs!("root");
    let f = Fixture::new();
    add(&f.store, &small_spec("app", &THREE));
    fs::write(f.root().join("ingest/ingest-dead-writer"), [0u8; 42]).unwrap();
    let _ = fs::remove_file(f.root().join("gc.lock"));
    let view = ReadOnlyView::of(f.root(), f.path("ro"));
    let said = text(&ok(cli(&view.path, &["fsck"])));
    assert!(
        said.contains("ingest: 1 temp files (42 B) left by writers that died"),
        "{said}"
    );
    assert!(!f.root().join("gc.lock").exists());
}

#[test]
fn a_store_the_user_cannot_write_is_served_to_that_user() {
    needs!("root", "setpriv");
    let f = Fixture::new();
    add(&f.store, &small_spec("app", &THREE));
    let expected = export_file(f.root(), "linux/arm64", &f.path("expected.tar"));
    // The fixture's temp dir is private (0700); let `nobody` in to read, and give it a
    // directory of its own to write exports into.
    fs::set_permissions(f.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = f.path("nobody");
    fs::create_dir(&out_dir).unwrap();
    fs::set_permissions(&out_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let as_nobody = |args: &[&str]| {
        output(
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(bin())
                .arg("--store")
                .arg(f.root())
                .args(args)
                .env_remove("IMAGEFS_STORE")
                .env("HOME", &out_dir),
        )
    };
    let listed = as_nobody(&["ls"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains("docker.io/library/app:latest"));
    let exported = out_dir.join("arm64.tar");
    let out = as_nobody(&[
        "export",
        "app",
        "--platform",
        "linux/arm64",
        "-o",
        exported.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(&exported).unwrap(), expected);
    let out = as_nobody(&["import", f.path("expected.tar").to_str().unwrap()]);
    fails_with(&out, "is read-only");
}

/// Whether `pid` holds a lock on any file, per /proc/locks.
fn holds_a_lock(pid: u32) -> bool {
    fs::read_to_string("/proc/locks")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) != Some(&"->") && f.get(4) == Some(&pid.to_string().as_str())
        })
}

#[test]
fn gc_names_the_import_it_waits_for_and_gives_up_after_its_timeout() {
    let src = Fixture::new();
    add(&src.store, &small_spec("app", &THREE));
    let archive = export(&src.store, &["app"], &[]);
    let f = Fixture::new();
    // An import from a pipe whose writer pauses half-way: it holds the store for gc.
    let mut import = imagefs(f.root())
        .args(["-q", "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = import.stdin.take().unwrap();
    input.write_all(&archive[..archive.len() / 2]).unwrap();
    let pid = import.id();
    wait_for("the import to take the store's lock", || holds_a_lock(pid));

    let start = Instant::now();
    let out = cli(f.root(), &["gc", "--timeout", "1s"]);
    let stderr = fails_with(
        &out,
        &format!("gc waits for the store to be released by pid {pid}"),
    );
    assert!(
        stderr.contains("import"),
        "gc must say whom it waits for: {stderr}"
    );
    assert!(
        stderr.contains("gave up after") && stderr.contains(&format!("held by pid {pid}")),
        "{stderr}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "the wait is bounded"
    );

    input.write_all(&archive[archive.len() / 2..]).unwrap();
    drop(input);
    let done = import.wait_with_output().unwrap();
    assert!(done.status.success(), "{}", text(&done.stderr));
    ok(cli(f.root(), &["gc", "--timeout", "10s"]));
}

#[test]
fn gc_reclaims_the_upload_spool_of_a_killed_mount_and_fsck_reports_it() {
    needs!("fuse");
    let f = Fixture::new();
    add(&f.store, &small_spec("app", &THREE));
    let archive = export(&f.store, &["app"], &[]);
    let spools = |store: &Path| -> Vec<PathBuf> {
        fs::read_dir(store.join("ingest"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("upload-")
            })
            .collect()
    };
    let mut daemon = Mount::start(f.root(), &f.path("mnt"), &f.path("mount.log"));
    // A first write past offset 0 makes the mount spool the upload to a temp file.
    let upload = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(daemon.mnt.join("import/app.tar"))
        .unwrap();
    upload.write_all_at(&archive[4096..8192], 4096).unwrap();
    let spool = {
        let mut found = Vec::new();
        wait_for("the upload spool", || {
            found = spools(f.root());
            !found.is_empty()
        });
        found.remove(0)
    };
    // Old enough to be considered; still owned by the live daemon, so kept.
    run(Command::new("touch")
        .args(["-d", "10 minutes ago"])
        .arg(&spool));
    ok(cli(f.root(), &["gc", "--timeout", "10s"]));
    assert!(
        spool.exists(),
        "gc must not take the spool of a live upload"
    );

    // kill -9: the daemon's lock on its spool goes with it.
    daemon.kill_daemon();
    drop(upload);
    let fsck = cli(f.root(), &["fsck"]);
    let said = text(&fsck.stdout);
    assert!(fsck.status.success(), "{said}");
    assert!(
        said.contains("ingest: 1 temp files") && said.contains("`imagefs gc` removes them"),
        "fsck reports the abandoned spool: {said}"
    );
    let gc = text(&ok(cli(f.root(), &["gc", "--timeout", "10s"])));
    assert!(gc.contains(", 1 temp files"), "{gc}");
    assert!(!spool.exists(), "gc reclaimed the abandoned spool");
    drop(daemon);
}

#[test]
fn gc_names_the_mount_whose_open_archive_file_it_waits_for() {
    needs!("fuse");
    let f = Fixture::new();
    add(&f.store, &small_spec("app", &THREE));
    let daemon = Mount::start(f.root(), &f.path("mnt"), &f.path("mount.log"));
    let open = fs::File::open(daemon.mnt.join(APP_DIR).join("image.tar")).unwrap();
    let out = cli(f.root(), &["gc", "--timeout", "1s"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("held by pid {}", daemon.pid.unwrap()))
            && stderr.contains("mount"),
        "gc must name the mount daemon holding the store: {stderr}"
    );
    drop(open);
    // The last archive file closed: the mount lets go and gc proceeds.
    ok(cli(f.root(), &["gc", "--timeout", "10s"]));
}

#[test]
fn a_store_whose_layout_or_blobs_are_symlinks_is_not_followed() {
    // A store another user controls must not make us act on files outside it: with
    // blobs/sha256 pointing at a victim store, `gc` would delete the victim's blobs.
    let victim = Fixture::new();
    add(&victim.store, &small_spec("app", &THREE));
    let blobs_before = blob_set(&victim.store);
    let f = Fixture::new();
    fs::remove_dir_all(f.root().join("blobs/sha256")).unwrap();
    std::os::unix::fs::symlink(
        victim.root().join("blobs/sha256"),
        f.root().join("blobs/sha256"),
    )
    .unwrap();
    for args in [&["ls"][..], &["gc"][..]] {
        let out = cli(f.root(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains("is a symbolic link"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        blob_set(&victim.store),
        blobs_before,
        "the victim's blobs are untouched"
    );

    // A blob that is a symlink (to a file of the same size elsewhere) is never read.
    let g = Fixture::new();
    add(&g.store, &small_spec("app", &THREE));
    let (_, children) = platform_closure(&g.store, "app", "linux/amd64");
    let layer = children[1];
    let path = g.root().join("blobs/sha256").join(layer.hex());
    let secret = g.path("secret");
    fs::copy(&path, &secret).unwrap();
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&secret, &path).unwrap();
    let out = cli(
        g.root(),
        &[
            "export",
            "app",
            "--platform",
            "linux/amd64",
            "-o",
            "/dev/null",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn a_layout_swapped_for_a_symlink_after_opening_is_not_followed() {
    // The store's owner swaps blobs/sha256 for a symlink to a victim store while gc waits for
    // the lock they hold: gc must still work in the directory it opened, not the victim's.
    let victim = Fixture::new();
    add(&victim.store, &small_spec("app", &THREE));
    let victim_blobs = blob_set(&victim.store);
    let f = Fixture::new();
    add(&f.store, &small_spec("other", &["linux/amd64"]));
    ok(cli(f.root(), &["rm", "other"]));
    let root = f.root().to_path_buf();
    let swap = format!(
        "sleep 2; mv {root}/blobs/sha256 {root}/blobs/old; ln -s {victim}/blobs/sha256 {root}/blobs/sha256",
        root = root.display(),
        victim = victim.root().display()
    );
    let mut holder = Command::new("flock")
        .arg("-s")
        .arg(root.join("gc.lock"))
        .args(["sh", "-c", &swap])
        .spawn()
        .expect("flock (util-linux) is required");
    wait_for("the owner to hold the lock", || holds_a_lock(holder.id()));
    let out = cli(&root, &["gc", "--timeout", "20s"]);
    assert!(holder.wait().unwrap().success());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        blob_set(&victim.store),
        victim_blobs,
        "gc deleted blobs of the store a swapped-in symlink pointed to"
    );
    assert!(
        fs::read_dir(root.join("blobs/old"))
            .unwrap()
            .next()
            .is_none(),
        "gc swept the directory it opened"
    );
}
