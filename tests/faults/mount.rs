//! Kill -9 of the mount process while `cp` writes an archive into `import/`: the stale mount
//! is detached, and a new mount on the same store must show the image exactly when `ls` does.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::common::{Mount, mounts_under, needs, text};
use super::{KINDS, Lab, Landed, PATIENCE, Request, TARGET_DIR, Trigger, Victim, kills, seed};

/// The mount process, killed while `cp` writes into it.
struct Server<'a> {
    cp: &'a mut Child,
    mount: &'a mut Mount,
}

impl Victim for Server<'_> {
    /// The writer is cp: once it has exited, the import committed or failed.
    fn exited(&mut self) -> bool {
        self.cp.try_wait().expect("try_wait").is_some()
    }

    fn kill(&mut self) {
        self.mount.kill_daemon();
    }
}

/// `cp SRC MOUNT/<request dir>/NAME`, running.
fn spawn_cp(src: &Path, mnt: &Path, request: Request, name: &str) -> Child {
    Command::new("cp")
        .arg(src)
        .arg(mnt.join(request.import_dir()).join(name))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cp")
}

fn wait_with_patience(child: &mut Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("{what} did not end within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    Output {
        status: child.wait().expect("wait"),
        stdout: Vec::new(),
        stderr,
    }
}

/// A clean import through the mount: `cp`, then the entry's status says loaded.
fn import_cp(mount: &Mount, src: &Path, request: Request, name: &str, ctx: &str) {
    let mut cp = spawn_cp(src, &mount.mnt, request, name);
    let out = wait_with_patience(&mut cp, "cp into import/");
    assert!(
        out.status.success(),
        "{ctx}: cp into {} failed: {}\nmount log:\n{}",
        request.import_dir(),
        text(&out.stderr),
        mount.log_text()
    );
    let status_path = mount
        .mnt
        .join(request.import_dir())
        .join(".status")
        .join(format!("{name}.json"));
    let status: serde_json::Value =
        serde_json::from_slice(&fs::read(&status_path).expect("read import status"))
            .expect("status is JSON");
    assert_eq!(status["state"], "loaded", "{ctx}: status {status}");
}

/// What the mount shows of the target: its by-platform archives, or `None` when absent.
fn mount_view(mnt: &Path) -> Option<Vec<String>> {
    let dir = mnt.join(TARGET_DIR).join("by-platform");
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("read_dir {}: {e}", dir.display()),
    };
    let mut tars: Vec<String> = rd
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".tar"))
        .collect();
    tars.sort();
    Some(tars)
}

fn tar_names(request: Request) -> Vec<String> {
    request
        .expected()
        .iter()
        .map(|p| format!("{}.tar", p.replace('/', "-")))
        .collect()
}

#[test]
fn kill_9_of_the_mount_during_cp_into_import_leaves_no_partial_image() {
    needs!("fuse");
    let test = "kill_9_of_the_mount_during_cp_into_import_leaves_no_partial_image";
    let started = Instant::now();
    let seed = seed(test);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lab = Lab::new(seed);
    let mnt = lab.dir.path().join("mnt");
    let mut mount = Mount::start(&lab.store, &mnt, &lab.dir.path().join("mount.log"));
    let sources = [lab.archive.clone(), lab.archive_gz.clone()];
    let mut profiles = BTreeMap::new();
    for (f, src) in sources.iter().enumerate() {
        for request in [Request::All, Request::Arm64] {
            let name = format!("profile-{f}-{request:?}.tar");
            let p = lab.profile(request, |_| {
                import_cp(&mount, src, request, &name, "profile");
            });
            profiles.insert((f, request), p);
        }
    }
    let archive_len = lab.archive_len();
    let mut remounts = Vec::new();
    let first_kind = rng.random_range(0..KINDS);
    let rounds = kills(12);
    for round in 0..rounds {
        let request = Request::pick(&mut rng);
        let f = rng.random_range(0..sources.len());
        let profile = profiles.get_mut(&(f, request)).expect("profiled");
        let trigger = Trigger::pick(first_kind + round, &mut rng, profile, archive_len);
        let ctx =
            format!("{test} seed {seed} round {round} ({request:?}, source {f}, {trigger:?})");
        let aim = lab.aim(trigger);
        let mut cp = spawn_cp(&sources[f], &mnt, request, &format!("fault-{round}.tar"));
        let landed = lab.strike(
            aim,
            profile,
            &mut Server {
                cp: &mut cp,
                mount: &mut mount,
            },
            &ctx,
        );
        // The kernel aborts the connection when the server dies: cp must not hang.
        let cp_out = wait_with_patience(&mut cp, "cp after the mount was killed");
        let log = mount.log_text();
        // The stale mount answers ENOTCONN until detached.
        mount.detach();
        assert_eq!(
            mounts_under(&mnt),
            Vec::<std::path::PathBuf>::new(),
            "{ctx}: mount still attached"
        );
        let present = lab.check_after_kill(profile, &format!("{ctx} -> {landed:?}"));
        if cp_out.status.success() {
            assert!(
                present,
                "{ctx}: cp succeeded, image absent\nmount log:\n{log}"
            );
        }
        if landed == Landed::Finished {
            assert!(
                cp_out.status.success(),
                "{ctx}: cp failed without a kill: {}\nmount log:\n{log}",
                text(&cp_out.stderr)
            );
        }
        let t = Instant::now();
        mount.mount();
        remounts.push(t.elapsed());
        let view = mount_view(&mnt);
        assert_eq!(
            view,
            present.then(|| tar_names(request)),
            "{ctx}: the remounted view of the target"
        );
        import_cp(
            &mount,
            &sources[f],
            request,
            &format!("again-{round}.tar"),
            &format!("{ctx}: re-import"),
        );
        lab.assert_imported(request, profile, &format!("{ctx}: after re-import"));
        lab.reset(&ctx);
    }
    drop(mount);
    lab.summary(test, started);
    remounts.sort();
    if let (Some(min), Some(max)) = (remounts.first(), remounts.last()) {
        eprintln!(
            "  remount after kill: {} to {} ms",
            min.as_millis(),
            max.as_millis()
        );
    }
    lab.assert_coverage(test, rounds);
}
