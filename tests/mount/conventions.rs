//! Mounting like every FUSE filesystem (doc/SEMANTICS.md "Mounting", doc/CONFIGURATION.md):
//! mount(8) and fstab through `mount.fuse3`, the `fuse.imagefs` type, background by default,
//! `-f`, syslog, systemd readiness, `--auto-unmount`, options, and the guards' messages.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{IMAGE, IMAGE_DIR, Mounted};
use crate::common::{
    Mount, bin, fails_with, imagefs, mounts_under, needs, output, run, run_stdout, text, tool,
    wait_for,
};

/// `findmnt -no COLUMN MNT`.
fn findmnt(column: &str, mnt: &Path) -> String {
    run_stdout(Command::new("findmnt").args(["-no", column]).arg(mnt))
        .trim()
        .to_string()
}

/// A store holding IMAGE, and an empty mountpoint beside it.
fn store_and_mountpoint() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (store, mnt) = (dir.path().join("store"), dir.path().join("mnt"));
    run(imagefs(&store).args(["sample", "--name", IMAGE]));
    fs::create_dir(&mnt).unwrap();
    (dir, store, mnt)
}

/// Runs `script` with sh in a private mount namespace (`unshare -m`): what it mounts, and the
/// files it binds over (/usr/local/bin, /etc/fstab, /dev), exist for it alone.
fn in_private_namespace(script: &str) -> std::process::Output {
    output(
        Command::new(tool("unshare"))
            .args(["--mount", "--propagation", "private", "sh", "-euc", script])
            .env("IMAGEFS_BIN", bin()),
    )
}

/// `mount -t fuse.imagefs STORE MNT -o …` runs mount.fuse3, which runs `imagefs STORE MNT -o
/// …` from mount's PATH: the binary is put on it in a private namespace. Then the fstab line of
/// the README mounts with `mount MNT`. Both show type fuse.imagefs, the store as source, and
/// the image; mount(8)'s and systemd's own options (_netdev, x-systemd.*) do not fail them.
#[test]
fn mount_t_fuse_imagefs_and_an_fstab_line_mount_through_mount_fuse3() {
    needs!("fuse", "root", "unshare", "mount.fuse3", "findmnt");
    let (_dir, store, mnt) = store_and_mountpoint();
    let (s, m) = (store.display(), mnt.display());
    let out = in_private_namespace(&format!(
        r#"mount -t tmpfs tmpfs /usr/local/bin
        ln -s "$IMAGEFS_BIN" /usr/local/bin/imagefs
        mount -t fuse.imagefs {s} {m} -o ro,allow_other,_netdev,x-systemd.automount,nofail
        findmnt -no FSTYPE,SOURCE,OPTIONS {m}
        ls {m}/{IMAGE_DIR}/by-platform
        umount {m}
        echo "{s} {m} fuse.imagefs defaults,allow_other,_netdev,noauto 0 0" > /tmp/imagefs-fstab.$$
        mount --bind /tmp/imagefs-fstab.$$ /etc/fstab
        mount {m}
        findmnt -no FSTYPE,SOURCE,OPTIONS {m}
        umount {m}
        rm /tmp/imagefs-fstab.$$"#
    ));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    let tables: Vec<&str> = said.lines().filter(|l| l.starts_with("fuse")).collect();
    assert_eq!(tables.len(), 2, "{said}");
    for t in &tables {
        let fields: Vec<&str> = t.split_whitespace().collect();
        assert_eq!(fields[0], "fuse.imagefs", "{said}");
        assert_eq!(fields[1], store.to_str().unwrap(), "{said}");
        assert!(fields[2].contains("allow_other"), "{said}");
    }
    assert!(tables[0].contains("ro,"), "-o ro: {said}");
    assert!(said.contains("linux-arm64.tar"), "{said}");
}

/// A root mount made by `imagefs mount` itself (no fusermount3) has type fuse.imagefs too.
#[test]
fn a_root_mount_has_type_fuse_imagefs_and_the_store_as_source() {
    needs!("fuse", "root", "findmnt");
    let m = Mounted::new();
    assert_eq!(findmnt("FSTYPE", &m.mnt), "fuse.imagefs");
    assert_eq!(findmnt("SOURCE", &m.mnt), m.store.to_str().unwrap());
}

/// Without `-f` the command returns once the mount is live (the guard's mount is one); with
/// `-f` it stays, serving, until SIGTERM, SIGINT or SIGHUP (a closed terminal) unmounts and
/// ends it with status 0.
#[test]
fn foreground_stays_until_a_stop_signal_then_unmounts() {
    needs!("fuse");
    let (_dir, store, mnt) = store_and_mountpoint();
    for signal in ["TERM", "INT", "HUP"] {
        let mut child = imagefs(&store)
            .arg("mount")
            .arg(&mnt)
            .arg("-f")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for("the foreground mount", || !mounts_under(&mnt).is_empty());
        assert!(mnt.join(IMAGE_DIR).is_dir());
        assert!(
            child.try_wait().unwrap().is_none(),
            "-f returned while mounted"
        );
        run(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]));
        let status = wait_exit(&mut child);
        assert!(
            status.success(),
            "SIG{signal}: {status}: {}",
            stderr_of(&mut child)
        );
        assert!(
            mounts_under(&mnt).is_empty(),
            "still mounted after SIG{signal}"
        );
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let mut status = None;
    wait_for("the daemon to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(e) = child.stderr.as_mut() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// `-d` logs each request (libfuse's -d) and stays in the foreground.
#[test]
fn debug_logs_requests_in_the_foreground() {
    needs!("fuse");
    let (_dir, store, mnt) = store_and_mountpoint();
    let mut child = imagefs(&store)
        .arg("mount")
        .arg(&mnt)
        .arg("-d")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the -d mount", || !mounts_under(&mnt).is_empty());
    assert!(mnt.join(IMAGE_DIR).join("index.json").is_file());
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    wait_exit(&mut child);
    let log = stderr_of(&mut child);
    assert!(log.contains("debug fuse: lookup"), "{log}");
}

/// In the background the daemon logs to the system log (RFC 3164 datagrams on /dev/log,
/// which journald reads; a test socket stands in for it) unless `--log-file` is given.
#[test]
fn a_background_mount_logs_to_syslog() {
    needs!("fuse");
    let (dir, store, mnt) = store_and_mountpoint();
    let socket_path = dir.path().join("log.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let out = output(
        imagefs(&store)
            .args(["-v", "mount"])
            .arg(&mnt)
            .env("IMAGEFS_SYSLOG_SOCKET", &socket_path),
    );
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    let mut mounted = Mount::adopt(&store, &mnt);
    let mut buf = [0u8; 4096];
    let mut lines = Vec::new();
    while !lines
        .iter()
        .any(|l: &String| l.contains("info mount: mounted"))
    {
        let n = socket
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no syslog line ({e}); got {lines:?}"));
        lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let line = lines.iter().find(|l| l.contains("mounted")).unwrap();
    // <facility daemon (3) * 8 + severity info (6)>imagefs[pid]: …
    assert!(line.starts_with("<30>imagefs["), "{line}");
    mounted.unmount();
}

/// Under systemd (`Type=notify`), `mount -f` sends READY=1 once the mount is live, and
/// STOPPING=1 when SIGTERM stops it (sd_notify(3) on `$NOTIFY_SOCKET`).
#[test]
fn systemd_gets_ready_when_the_mount_is_live_and_stopping_on_sigterm() {
    needs!("fuse");
    let (dir, store, mnt) = store_and_mountpoint();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut child = imagefs(&store)
        .arg("mount")
        .arg(&mnt)
        .arg("-f")
        .env("NOTIFY_SOCKET", &socket_path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf).expect("READY=1 from the daemon");
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.starts_with("READY=1\n"), "{ready}");
    // Ready means live: the mount is there the moment systemd hears it.
    assert!(!mounts_under(&mnt).is_empty(), "READY=1 before the mount");
    assert!(mnt.join(IMAGE_DIR).is_dir());
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let n = socket.recv(&mut buf).expect("STOPPING=1 from the daemon");
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(wait_exit(&mut child).success(), "{}", stderr_of(&mut child));
}

/// The unit in contrib/ passes `systemd-analyze verify` (with ExecStart pointing at the built
/// binary, which verify requires to exist; `--man=no` because its man page is installed only
/// by scripts/install.sh).
#[test]
fn the_systemd_unit_verifies() {
    needs!("systemd-analyze");
    let dir = tempfile::tempdir().unwrap();
    let unit = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/imagefs.service"
    ))
    .unwrap();
    assert!(unit.contains("Type=notify"), "{unit}");
    let unit = unit.replace("/usr/local/bin/imagefs", bin());
    let path = dir.path().join("imagefs.service");
    fs::write(&path, unit).unwrap();
    let out = output(
        Command::new(tool("systemd-analyze"))
            .args(["--man=no", "verify"])
            .arg(&path),
    );
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    // verify also reports on unrelated units of the host; only our unit's lines count.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("imagefs")).collect();
    assert!(out.status.success() && ours.is_empty(), "{said}");
}

/// `--auto-unmount`: after kill -9 of the daemon the mount is gone (fusermount3 watched it),
/// not left answering ENOTCONN. Under heavy mount churn from the parallel tests, fusermount3
/// was once seen (1 run in 4 of the whole mount tier) to leave the mount: it decides by reading
/// the mount table (libfuse util/fusermount.c `should_auto_unmount`), which a reader can see
/// torn while other mounts come and go. So an attempt that leaves the mount is retried, up to
/// three, each one printed; three misses fail the test.
#[test]
fn auto_unmount_leaves_nothing_behind_a_killed_daemon() {
    needs!("fuse", "fusermount3");
    let mut m = Mounted::with_args(&["--auto-unmount"]);
    for attempt in 1..=3 {
        if attempt > 1 {
            m.mount();
        }
        assert!(m.image("index.json").is_file());
        m.kill_daemon();
        let killed = std::time::Instant::now();
        while !mounts_under(&m.mnt).is_empty() && killed.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if mounts_under(&m.mnt).is_empty() {
            assert!(fs::read_dir(&m.mnt).unwrap().next().is_none());
            m.detach();
            return;
        }
        eprintln!("attempt {attempt}: still mounted 5 s after kill -9; detaching and again");
        m.detach();
    }
    panic!("fusermount3 left the mount of a killed daemon in 3 attempts out of 3");
}

/// `--auto-unmount` changes nothing about a clean stop: SIGTERM unmounts and exits 0 (fuser's
/// own unmount only lets fusermount3 go, which unmounts nothing while the daemon lives).
#[test]
fn auto_unmount_still_unmounts_on_sigterm() {
    needs!("fuse", "fusermount3");
    let (_dir, store, mnt) = store_and_mountpoint();
    let mut child = imagefs(&store)
        .arg("mount")
        .arg(&mnt)
        .args(["-f", "--auto-unmount"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the mount", || !mounts_under(&mnt).is_empty());
    assert!(mnt.join(IMAGE_DIR).is_dir());
    run(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let status = wait_exit(&mut child);
    assert!(status.success(), "{status}: {}", stderr_of(&mut child));
    assert!(mounts_under(&mnt).is_empty(), "still mounted after SIGTERM");
}

/// `--uid/--gid` (`-o uid=,gid=`) are the owner and group stat shows (the modes:
/// `attrs::mount_dir_and_file_modes_are_shown_and_enforced`).
#[test]
fn owner_and_group_come_from_the_options() {
    needs!("fuse");
    let m = Mounted::with_args(&["-o", "uid=1234,gid=4321"]);
    for path in [m.path(""), m.path(IMAGE_DIR), m.image("image.tar")] {
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1234, 4321), "{}", path.display());
    }
}

/// An unknown `-o` option is refused before anything is mounted, with the nearest known one.
#[test]
fn an_unknown_mount_option_is_named_and_nothing_is_mounted() {
    needs!("fuse");
    let (_dir, store, mnt) = store_and_mountpoint();
    let out = output(
        imagefs(&store)
            .arg("mount")
            .arg(&mnt)
            .args(["-o", "ro,allow_othr"]),
    );
    let said = fails_with(&out, "unknown mount option \"allow_othr\"");
    assert!(said.contains("did you mean \"allow_other\""), "{said}");
    assert!(mounts_under(&mnt).is_empty());
}

/// Each guard refuses with a message that says what to do, and mounts nothing.
#[test]
fn the_mountpoint_guards_refuse_with_advice() {
    needs!("fuse");
    let (dir, store, mnt) = store_and_mountpoint();
    let mount = |target: &Path, extra: &[&str]| {
        output(imagefs(&store).arg("mount").arg(target).args(extra))
    };
    fails_with(
        &mount(&dir.path().join("nowhere"), &[]),
        "does not exist; create it first",
    );
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    fails_with(&mount(&file, &[]), "is not a directory");
    fs::write(mnt.join("keep.txt"), b"mine").unwrap();
    let said = fails_with(&mount(&mnt, &[]), "is not empty (it holds \"keep.txt\")");
    assert!(said.contains("-o nonempty"), "{said}");
    assert!(mounts_under(&mnt).is_empty());
    // -o nonempty mounts over it; a second mount on the same directory is refused.
    let mut first = Mount::start_with(&store, &mnt, &dir.path().join("log"), &["-o", "nonempty"]);
    let said = fails_with(
        &mount(&mnt, &["-o", "nonempty"]),
        "is already an imagefs mount",
    );
    assert!(said.contains("imagefs unmount"), "{said}");
    assert_eq!(mounts_under(&mnt).len(), 1);
    first.unmount();
    assert_eq!(fs::read(mnt.join("keep.txt")).unwrap(), b"mine");
}

/// `imagefs unmount` refuses what is not an imagefs mount, or another user's, and a busy
/// mount's refusal names `--lazy`, which then works.
#[test]
fn unmount_refuses_other_filesystems_and_says_what_busy_means() {
    needs!("fuse", "root", "setpriv");
    let tmpfs = crate::common::Tmpfs::new("1m");
    let out = output(Command::new(bin()).arg("unmount").arg(tmpfs.path()));
    fails_with(&out, "is a mount of type tmpfs, not imagefs");
    assert_eq!(
        mounts_under(tmpfs.path()).len(),
        1,
        "the tmpfs was unmounted"
    );
    let out = output(
        Command::new(bin())
            .arg("unmount")
            .arg(tmpfs.path().join(".")),
    );
    fails_with(&out, "not imagefs");
    let plain = tempfile::tempdir().unwrap();
    let out = output(Command::new(bin()).arg("unmount").arg(plain.path()));
    fails_with(&out, "is not a mount point");

    let mut m = Mounted::new();
    // Another user may not unmount root's mount, and is told whose it is.
    let out = output(
        Command::new(tool("setpriv"))
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                bin(),
                "unmount",
            ])
            .arg(&m.mnt),
    );
    fails_with(
        &out,
        "is mounted by uid 0; only that user or root can unmount it",
    );
    let mut holder = Command::new("sleep")
        .arg("30")
        .current_dir(m.path(IMAGE_DIR))
        .spawn()
        .unwrap();
    let out = output(Command::new(bin()).arg("unmount").arg(&m.mnt));
    let said = fails_with(&out, "is busy");
    assert!(said.contains("imagefs unmount --lazy"), "{said}");
    run(Command::new(bin()).args(["unmount", "--lazy"]).arg(&m.mnt));
    assert!(mounts_under(&m.mnt).is_empty());
    holder.kill().unwrap();
    holder.wait().unwrap();
    m.detach();
}

/// `/dev/fuse` missing, or closed to an ordinary user without a setuid fusermount3: the error
/// names the device, the module, and the permission to fix (private namespaces hide or
/// replace the device for this test alone).
#[test]
fn a_missing_or_closed_dev_fuse_is_named_with_the_fix() {
    needs!("fuse", "root", "unshare", "setpriv");
    let (dir, store, mnt) = store_and_mountpoint();
    let (s, m) = (store.display(), mnt.display());
    let out = in_private_namespace(&format!(
        r#"mount -t tmpfs tmpfs /dev
        "$IMAGEFS_BIN" --store {s} mount {m}"#
    ));
    let said = fails_with(&out, "/dev/fuse does not exist");
    assert!(said.contains("modprobe fuse"), "{said}");

    let fake = dir.path().join("fuse-device");
    fs::write(&fake, b"").unwrap();
    let nobody_mnt = dir.path().join("nobody-mnt");
    fs::create_dir(&nobody_mnt).unwrap();
    run(Command::new("chown").arg("65534").arg(&nobody_mnt));
    run(Command::new("chmod").arg("755").arg(dir.path()));
    let out = in_private_namespace(&format!(
        r#"chmod 600 {f}
        mount --bind {f} /dev/fuse
        FUSERMOUNT_PATH=/bin/true setpriv --reuid=65534 --regid=65534 --clear-groups \
            "$IMAGEFS_BIN" --store {s} mount {n}"#,
        f = fake.display(),
        n = nobody_mnt.display()
    ));
    let said = fails_with(&out, "/dev/fuse (mode 0600, owner uid 0");
    assert!(
        said.contains("not readable and writable by uid 65534"),
        "{said}"
    );
    assert!(said.contains("chmod 0666 /dev/fuse"), "{said}");
    assert!(mounts_under(&nobody_mnt).is_empty());
}

/// Mounts started at once on one directory: exactly one mounts; the others are refused (the
/// lock on the directory, or the mount table once the first is in), and say so.
#[test]
fn of_mounts_started_at_once_on_one_directory_one_wins() {
    needs!("fuse");
    let (dir, store, mnt) = store_and_mountpoint();
    let racers: Vec<_> = (0..4)
        .map(|i| {
            imagefs(&store)
                .arg("mount")
                .arg(&mnt)
                .arg("--log-file")
                .arg(dir.path().join(format!("race-{i}.log")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = racers
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut mounted = Mount::adopt(&store, &mnt);
    let won = outs.iter().filter(|o| o.status.success()).count();
    let said: Vec<String> = outs.iter().map(|o| text(&o.stderr)).collect();
    assert_eq!(won, 1, "{said:?}");
    assert_eq!(mounts_under(&mnt).len(), 1, "{said:?}");
    for (o, s) in outs.iter().zip(&said) {
        if !o.status.success() {
            assert!(
                s.contains("already an imagefs mount") || s.contains("another imagefs is mounting"),
                "{s}"
            );
        }
    }
    mounted.unmount();
}

/// The mount-helper form reaches the mount's own behaviour for paths that do not exist yet: a
/// new store is created (as on first use), a missing mountpoint gets the guard's message, not
/// a usage error.
#[test]
fn the_mount_helper_form_creates_a_new_store_and_keeps_the_guards() {
    needs!("fuse", "findmnt");
    let dir = tempfile::tempdir().unwrap();
    let (store, mnt) = (dir.path().join("new-store"), dir.path().join("mnt"));
    let out = output(
        Command::new(bin())
            .arg(&store)
            .arg(dir.path().join("nowhere")),
    );
    fails_with(&out, "does not exist; create it first");
    fs::create_dir(&mnt).unwrap();
    let out = output(
        Command::new(bin())
            .arg(&store)
            .arg(&mnt)
            .args(["-o", "no_sample,log_file=/dev/null"]),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut m = Mount::adopt(&store, &mnt);
    assert!(store.join("index.json").is_file());
    assert_eq!(findmnt("SOURCE", &mnt), store.to_str().unwrap());
    m.unmount();
}

/// A dead mount of another filesystem on the mountpoint is not imagefs's to detach: refused,
/// with how to remove it, and left as it was.
#[test]
fn a_dead_mount_of_another_filesystem_is_left_alone() {
    needs!("fuse", "root");
    use std::os::fd::AsRawFd;
    let (_dir, store, mnt) = store_and_mountpoint();
    // A FUSE mount of type fuse.other whose daemon (this descriptor) is gone at once.
    let device = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .unwrap();
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    let data = c(&format!(
        "fd={},rootmode=40000,user_id=0,group_id=0",
        device.as_raw_fd()
    ));
    let target = c(mnt.to_str().unwrap());
    // SAFETY: valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            c("other").as_ptr(),
            target.as_ptr(),
            c("fuse.other").as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    assert_eq!(rc, 0, "mount: {}", std::io::Error::last_os_error());
    drop(device);
    let out = output(imagefs(&store).arg("mount").arg(&mnt));
    let said = fails_with(&out, "is a dead mount of type fuse.other");
    assert!(said.contains("fusermount3 -u"), "{said}");
    assert_eq!(mounts_under(&mnt).len(), 1, "the dead mount was touched");
    crate::common::detach_under(&mnt);
}

/// `imagefs unmount` needs no store: it neither opens nor creates one.
#[test]
fn unmount_opens_no_store() {
    needs!("fuse");
    let mut m = Mounted::new();
    let home = tempfile::tempdir().unwrap();
    let out = output(
        Command::new(bin())
            .arg("unmount")
            .arg(&m.mnt)
            .env("HOME", home.path())
            .env_remove("IMAGEFS_STORE")
            .env_remove("XDG_DATA_HOME"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(mounts_under(&m.mnt).is_empty());
    assert!(
        fs::read_dir(home.path()).unwrap().next().is_none(),
        "a store appeared in HOME"
    );
    m.detach();
}
