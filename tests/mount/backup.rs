//! Backing up the mount with the tools people use (doc/SEMANTICS.md "Backups of the mount"):
//! rsync, restic, borg and rdiff-backup, each run for real against a real mount.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use super::Mounted;
use crate::common::{names, needs, run, text, wait_for};

/// stdout followed by stderr.
fn said(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// restic with a private repository and cache under `dir`.
fn restic(dir: &Path) -> Command {
    let mut c = Command::new("restic");
    c.env("RESTIC_REPOSITORY", dir.join("restic-repo"))
        .env("RESTIC_PASSWORD", "imagefs-test")
        .env("RESTIC_CACHE_DIR", dir.join("restic-cache"))
        .arg("--no-lock");
    c
}

/// borg with a private, unencrypted repository and its cache and config under `dir`.
fn borg(dir: &Path) -> Command {
    let mut c = Command::new("borg");
    c.env("BORG_REPO", dir.join("borg-repo"))
        .env("BORG_BASE_DIR", dir.join("borg-base"))
        .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
        .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes");
    c
}

/// The number restic's summary gives for `what` ("new", "changed") on its `Files:` line.
fn restic_files(output: &str, what: &str) -> u64 {
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with("Files:"))
        .unwrap_or_else(|| panic!("no Files: line in restic's output: {output}"));
    line.trim_start_matches(|c: char| !c.is_ascii_digit())
        .split(',')
        .find(|part| part.trim().ends_with(what))
        .and_then(|part| part.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no '{what}' count in: {line}"))
}

/// The value of `key` in rdiff-backup's `--print-statistics` block (`ChangedFiles 0`).
fn rdiff_statistic(output: &str, key: &str) -> u64 {
    output
        .lines()
        .find_map(|l| l.strip_prefix(key)?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in rdiff-backup's statistics: {output}"))
}

/// Claim: a backup of the whole mount succeeds after an import through it: uploads are not
/// listed in `import/` (their bytes cannot be read back), their statuses are.
#[test]
fn mount_whole_mount_backs_up_with_rsync_and_restic_after_an_import() {
    use std::os::unix::fs::MetadataExt;
    needs!("fuse", "rsync", "restic");
    let m = Mounted::new();
    let archive = m.foreign_archive("example.com/test/backup:1", 31);
    run(Command::new("cp").arg(&archive).arg(m.path("import/")));
    let status = fs::read_to_string(m.path("import/.status/foreign-31.tar.json")).unwrap();
    assert!(status.contains("\"loaded\""), "{status}");
    // The live view shows the new image within about 1.5 s.
    wait_for("the imported image", || {
        m.path("images/example.com/test/backup:1/image.tar")
            .exists()
    });

    let dest = m.tmp("rsync-dest");
    run(Command::new("rsync")
        .arg("-a")
        .arg(format!("{}/", m.mnt.display()))
        .arg(&dest));
    let dir = m.tmp("restic");
    run(restic(&dir).arg("init"));
    run(restic(&dir).arg("backup").arg(&m.mnt));

    let image_tar = "images/example.com/test/backup:1/image.tar";
    assert!(
        fs::read(dest.join(image_tar)).unwrap() == fs::read(m.path(image_tar)).unwrap(),
        "the backed-up image.tar has the mount's bytes"
    );
    assert_eq!(
        fs::read_to_string(dest.join("import/.status/foreign-31.tar.json")).unwrap(),
        status,
        "the backed-up status file"
    );
    assert!(
        !dest.join("import/foreign-31.tar").exists(),
        "uploads are not listed"
    );
    // Only directories: `.status` and the platform directories.
    for name in names(&m.path("import")) {
        assert!(
            m.path("import").join(&name).is_dir(),
            "import/{name} listed"
        );
    }
    // Still reachable by name, write-only, with its size (rsync's quick check into import/).
    let md = fs::metadata(m.path("import/foreign-31.tar")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o200, "an upload is write-only");
    assert_eq!(md.len(), fs::metadata(&archive).unwrap().len());
}

/// Claim: a second `borg create` of an unchanged mount, after a remount (a new daemon
/// process), re-reads at most one file: every file has its own stable ctime, and borg 1.2
/// forgets only the cache entries with the newest ctime it saw.
#[test]
fn mount_borg_second_run_rereads_at_most_one_file() {
    needs!("fuse", "borg");
    let mut m = Mounted::new();
    let dir = m.tmp("borg");
    fs::create_dir(&dir).unwrap();
    run(borg(&dir).args(["init", "--encryption=none"]));
    let create = |archive: &str, mnt: &Path| {
        let out = run(borg(&dir)
            .args(["create", "--list", "--filter=AM"])
            .arg(format!("::{archive}"))
            .arg(mnt));
        // --list prints one "STATUS PATH" line per file on stderr; A = read (no cache entry),
        // M = read and changed.
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| l.starts_with("A ") || l.starts_with("M "))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let first = create("one", &m.mnt);
    assert!(
        first.len() > 10,
        "the first run reads every file: {first:?}"
    );
    m.unmount();
    m.mount();
    let second = create("two", &m.mnt);
    assert!(
        second.len() <= 1,
        "the second run re-read {} files: {second:?}",
        second.len()
    );
}

/// Claim: rsync, restic and rdiff-backup see 0 changed files in an unchanged mount across a
/// remount (a new daemon process) and across a daemon killed with SIGKILL and mounted again:
/// bytes, sizes, times and inode numbers are functions of the store alone.
#[test]
fn mount_backups_see_no_change_across_remount_and_daemon_restart() {
    needs!("fuse", "rsync", "restic", "rdiff-backup");
    let mut m = Mounted::new();
    let mnt = m.mnt.clone();
    let src = format!("{}/", mnt.display());
    let (rsync_dest, rdiff_dest, restic_dir) = (m.tmp("rsync"), m.tmp("rdiff"), m.tmp("restic"));
    run(restic(&restic_dir).arg("init"));
    run(Command::new("rsync").arg("-a").arg(&src).arg(&rsync_dest));
    let first = run(restic(&restic_dir).arg("backup").arg(&mnt));
    assert!(restic_files(&said(&first), "new") > 10, "{}", said(&first));
    let rdiff = || {
        said(&run(Command::new("rdiff-backup")
            .args(["backup", "--print-statistics"])
            .arg(&mnt)
            .arg(&rdiff_dest)))
    };
    rdiff();

    let unchanged = |when: &str| {
        // rdiff-backup refuses a second backup within the same second.
        std::thread::sleep(Duration::from_millis(1100));
        let out = said(&run(Command::new("rsync")
            .args(["-a", "--stats"])
            .arg(&src)
            .arg(&rsync_dest)));
        assert!(
            out.contains("Number of regular files transferred: 0"),
            "rsync {when}: {out}"
        );
        let again = said(&run(restic(&restic_dir).arg("backup").arg(&mnt)));
        assert_eq!(restic_files(&again, "new"), 0, "restic {when}: {again}");
        assert_eq!(restic_files(&again, "changed"), 0, "restic {when}: {again}");
        let stats = rdiff();
        assert_eq!(
            rdiff_statistic(&stats, "ChangedFiles "),
            0,
            "rdiff-backup {when}: {stats}"
        );
        assert_eq!(
            rdiff_statistic(&stats, "NewFiles "),
            0,
            "rdiff-backup {when}: {stats}"
        );
    };
    m.unmount();
    m.mount();
    unchanged("after a remount");
    m.kill_daemon();
    // Mounting again detaches the stale mount of the killed daemon.
    m.mount();
    unchanged("after the daemon was killed and mounted again");
}

/// The mount answers extended-attribute requests as a filesystem without xattrs: `getfattr -R
/// -d` and GNU `tar --xattrs` of the whole tree find none and print no error (an unsupported
/// answer made each print one "Operation not supported" per file).
#[test]
fn xattr_readers_find_none_and_report_nothing() {
    needs!("fuse", "getfattr");
    let m = Mounted::new();
    let images = m.path("images");
    let dumped = run(Command::new("getfattr").args(["-R", "-d"]).arg(&images));
    assert_eq!(said(&dumped), "", "getfattr printed something");
    let one = Command::new("getfattr")
        .args(["-n", "user.comment"])
        .arg(m.image("image.tar"))
        .output()
        .unwrap();
    assert!(
        text(&one.stderr).contains("No such attribute"),
        "getfattr -n: {}",
        said(&one)
    );
    let tarred = run(Command::new("tar")
        .args(["--xattrs", "-cf", "/dev/null", "-C"])
        .arg(&images)
        .arg("."));
    assert_eq!(said(&tarred), "", "tar --xattrs printed something");
}
