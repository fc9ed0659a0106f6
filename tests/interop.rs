//! The interop matrix (issue 4): round trips between imagefs and the real tools of the field —
//! containerd 1.6 (`ctr`), podman 4.3, dockerd 20.10, skopeo 1.9 and umoci 0.4 — in both
//! directions, through `imagefs export`/`import` and through the FUSE mount.
//!
//! Every peer starts privately: its own root, state and unix socket under a temp dir, no TCP
//! listener, stopped (and its mounts detached) by a Drop guard even when the test fails. A peer
//! that cannot start fails the test with its exact error, under CI=true and everywhere else.
//!
//! Each test runs its legs one by one and records every leg (ok, peer limitation, or FAIL with
//! the message) in a matrix; a failing leg does not hide the others, and the test fails at the
//! end if any leg failed. The matrix is written to `target/compatibility.md` on every run;
//! `IMAGEFS_WRITE_COMPAT=1 cargo test --test interop` also rewrites the generated part of
//! `doc/COMPATIBILITY.md` (between its BEGIN/END markers). Run all tests when regenerating.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use imagefs::digest::Digest;
use imagefs::sample::LayerCompression;
use serde_json::Value;
use tempfile::TempDir;

// ------------------------------------------------------------------------------------------
// The images (issue 4: multi-platform with attestations, docker schema2 media types, zstd
// layers, a single-manifest image, two images sharing layers). Tags differ so that skopeo's
// `oci:STORE:TAG` (which matches `org.opencontainers.image.ref.name`, the tag) is unambiguous.

/// amd64, arm64/v8, arm/v7, riscv64; an attestation manifest per platform; OCI, gzip.
const MULTI: &str = "example.com/interop/multi:v1";
/// Docker schema2 list and manifests; shares its base layer with MULTI and SINGLE.
const DOCKERTYPES: &str = "example.com/interop/dockertypes:v2";
/// zstd layers.
const ZSTD: &str = "example.com/interop/zstd:v3";
/// A manifest, no index.
const SINGLE: &str = "example.com/interop/single:v4";

const MULTI_P: [&str; 4] = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/riscv64",
];
const DOCKERTYPES_P: [&str; 3] = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
const ZSTD_P: [&str; 2] = ["linux/amd64", "linux/arm64"];
const SINGLE_P: [&str; 1] = ["linux/amd64"];

const IMAGES: [&str; 4] = [MULTI, DOCKERTYPES, ZSTD, SINGLE];

fn image_platforms(image: &str) -> &'static [&'static str] {
    match image {
        MULTI => &MULTI_P,
        DOCKERTYPES => &DOCKERTYPES_P,
        ZSTD => &ZSTD_P,
        SINGLE => &SINGLE_P,
        _ => panic!("unknown image {image}"),
    }
}

fn short(image: &str) -> &str {
    image.rsplit('/').next().expect("name")
}

/// `short` without ':' (skopeo and podman split `transport:PATH:REF` at a colon).
fn stem(image: &str) -> String {
    short(image).replace(':', "-")
}

fn tag(image: &str) -> &str {
    image.rsplit(':').next().expect("tag")
}

/// A store holding the four images.
fn source_fixture() -> Fixture {
    let f = Fixture::new();
    let with_v8 = |list: &[&str]| -> Vec<String> {
        list.iter()
            .map(|p| {
                if *p == "linux/arm64" {
                    "linux/arm64/v8".to_string()
                } else {
                    p.to_string()
                }
            })
            .collect()
    };
    let spec = |name: &str, list: &[&str], seed: u64| {
        let full = with_v8(list);
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        let mut s = small_spec(name, &refs);
        s.seed = seed;
        s
    };
    let mut multi = spec(MULTI, &MULTI_P, 1);
    multi.attestations = true;
    add(&f.store, &multi);
    let mut docker = spec(DOCKERTYPES, &DOCKERTYPES_P, 2);
    docker.docker_media_types = true;
    add(&f.store, &docker);
    let mut zstd = spec(ZSTD, &ZSTD_P, 3);
    zstd.compression = LayerCompression::Zstd;
    add(&f.store, &zstd);
    let mut single = spec(SINGLE, &SINGLE_P, 4);
    single.single_manifest = true;
    add(&f.store, &single);
    // The shared base layer really is shared.
    let (_, a) = platform_closure(&f.store, MULTI, "linux/amd64");
    let (_, b) = platform_closure(&f.store, DOCKERTYPES, "linux/arm64");
    assert_eq!(a[1], b[1], "MULTI and DOCKERTYPES share their base layer");
    f
}

/// One archive we write: an image, and the platforms asked for (none: `image.tar`).
#[derive(Clone, Debug)]
struct Case {
    image: &'static str,
    platforms: Vec<&'static str>,
}

impl Case {
    fn label(&self) -> String {
        match self.platforms.len() {
            0 => "image.tar".to_string(),
            _ => format!("{}.tar", self.file_stem()),
        }
    }

    fn file_stem(&self) -> String {
        self.platforms
            .iter()
            .map(|p| p.replace('/', "-"))
            .collect::<Vec<_>>()
            .join("+")
    }

    /// The platform a one-platform consumer (docker, podman load, skopeo) ends up with: the one
    /// asked for, else amd64 (the host, which every image here has).
    fn expected(&self) -> &'static str {
        match self.platforms.as_slice() {
            [one] => one,
            _ => "linux/amd64",
        }
    }
}

/// image.tar, a one-platform and a two-platform tar of each image (one only for SINGLE).
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for image in IMAGES {
        out.push(Case {
            image,
            platforms: vec![],
        });
        if image == SINGLE {
            out.push(Case {
                image,
                platforms: vec!["linux/amd64"],
            });
        } else {
            out.push(Case {
                image,
                platforms: vec!["linux/arm64"],
            });
            out.push(Case {
                image,
                platforms: vec!["linux/amd64", "linux/arm64"],
            });
        }
    }
    out
}

/// The source store, mounted; archives come from `imagefs export` and from the mount.
struct Source {
    // Fields drop in order: unmount before the fixture's temp dir is removed.
    mount: Mount,
    f: Fixture,
}

impl Source {
    fn new() -> Source {
        let f = source_fixture();
        let mount = Mount::new(f.root(), &f.path("mnt"), &f.path("mount.log"));
        Source { f, mount }
    }

    fn export(&self, case: &Case) -> PathBuf {
        let out = self
            .f
            .path(&format!("{}-{}", stem(case.image), case.label()));
        if !out.exists() {
            let mut c = imagefs(self.f.root());
            c.arg("export").arg(case.image).arg("-o").arg(&out);
            for p in &case.platforms {
                c.args(["--platform", p]);
            }
            run(c);
        }
        out
    }

    fn mounted(&self, case: &Case) -> PathBuf {
        let dir = self.mount.mnt.join("images").join(case.image);
        match case.platforms.len() {
            0 => dir.join("image.tar"),
            _ => dir.join("by-platform").join(case.label()),
        }
    }

    /// Both sources of a case's archive; the mount's bytes are checked equal to the export's.
    fn archives(&self, case: &Case) -> Vec<(&'static str, PathBuf)> {
        let exported = self.export(case);
        let mounted = self.mounted(case);
        let a = fs::read(&exported).expect("read export");
        let b = fs::read(&mounted).unwrap_or_else(|e| panic!("read {}: {e}", mounted.display()));
        assert!(a == b, "{} differs from imagefs export", mounted.display());
        vec![("imagefs export", exported), ("mount", mounted)]
    }
}

// ------------------------------------------------------------------------------------------
// Running things.

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    match found {
        Some(p) => p,
        None if in_ci() => panic!("{name} is not installed; CI must install it (scripts/test.sh)"),
        None => panic!("{name} is not installed; the interop tests need it (scripts/test.sh)"),
    }
}

/// Debian's docker.io client (20.10, API 1.41). A newer client elsewhere on PATH (e.g. a
/// /usr/local/bin/docker 28.x) negotiates down but is not what dockerd 20.10 shipped with.
fn docker_client() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/docker");
    if debian.is_file() {
        debian
    } else {
        tool("docker")
    }
}

fn shown(c: &Command) -> String {
    format!("{c:?}")
}

fn output(mut c: Command) -> Output {
    let s = shown(&c);
    c.stdin(Stdio::null());
    c.output().unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[track_caller]
fn run(c: Command) -> String {
    let s = shown(&c);
    let out = output(c);
    assert!(
        out.status.success(),
        "{}{}\n(command: {s}; {})",
        text(&out.stderr).trim(),
        text(&out.stdout).trim(),
        out.status
    );
    text(&out.stdout)
}

/// Runs a command that must fail; returns stderr + stdout.
#[track_caller]
fn run_fails(c: Command) -> String {
    let s = shown(&c);
    let out = output(c);
    assert!(
        !out.status.success(),
        "{s} succeeded but should have failed: {}",
        text(&out.stdout)
    );
    format!("{}{}", text(&out.stderr), text(&out.stdout))
}

fn version(c: Command) -> String {
    run(c).lines().next().unwrap_or_default().trim().to_string()
}

fn cmd(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

/// `(directory, file name)`: skopeo and podman split `transport:PATH[:REF]` at a colon (and
/// resolve symlinks first), and mount paths hold `name:tag`; such tools run in the directory.
fn split(path: &Path) -> (PathBuf, String) {
    (
        path.parent().expect("parent").to_path_buf(),
        path.file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

// ------------------------------------------------------------------------------------------
// Archives.

/// Names of the blobs in a tar (`blobs/sha256/<hex>` files).
fn tar_blobs(path: &Path) -> BTreeSet<String> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(file);
    let mut out = BTreeSet::new();
    for e in archive.entries().expect("tar entries") {
        let e = e.expect("tar entry");
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if e.header().entry_type().is_file()
            && let Some(hex) = name.strip_prefix("blobs/sha256/")
        {
            out.insert(format!("sha256:{hex}"));
        }
    }
    out
}

/// One file of a tar.
fn tar_file(path: &Path, name: &str) -> Option<Vec<u8>> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(file);
    for e in archive.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        if String::from_utf8_lossy(&e.path_bytes()) == name {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).expect("read entry");
            return Some(data);
        }
    }
    None
}

/// `index.json` → `manifests[0]` of one of our archives.
fn top_descriptor(path: &Path) -> Value {
    let index = json(&tar_file(path, "index.json").expect("index.json"));
    index["manifests"][0].clone()
}

/// `manifest.json` → the config digest of its first entry.
fn manifest_json_config(path: &Path) -> String {
    let m = json(&tar_file(path, "manifest.json").expect("manifest.json"));
    m[0]["Config"]
        .as_str()
        .expect("Config")
        .replace("blobs/sha256/", "sha256:")
}

/// The config digest of one platform of a stored image.
fn config_of(store: &imagefs::store::Store, image: &str, platform: &str) -> Digest {
    platform_closure(store, image, platform).1[0]
}

fn hexes(set: &BTreeSet<String>) -> String {
    set.iter().map(|d| &d[7..19]).collect::<Vec<_>>().join(" ")
}

// ------------------------------------------------------------------------------------------
// Peer processes.

/// A daemon child process; SIGTERM then SIGKILL on drop.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(name: &'static str, mut c: Command, log: PathBuf) -> Daemon {
        let file = fs::File::create(&log).expect("log file");
        c.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log fd"))
            .stderr(file);
        let s = shown(&c);
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("{name} cannot start: {s}: {e}"));
        Daemon { name, child, log }
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Waits until `ready`; the daemon exiting or 30 s passing fails with the daemon's log.
    fn wait_ready(&mut self, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "{} cannot start: exited with {status}; its log ends:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            if ready() {
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!(
                    "{} cannot start: not ready after 30 s; its log ends:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Detaches every mount at or below `dir` (deepest first): what a daemon killed mid-way (or
/// dockerd's bind mount of its data root) may leave.
fn unmount_under(dir: &Path) {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let prefix = dir.to_string_lossy().into_owned();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| m.replace("\\040", " ").replace("\\011", "\t"))
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect();
    points.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in points {
        let c = std::ffi::CString::new(m).expect("mount point");
        // SAFETY: umount2 with a valid C string.
        unsafe {
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// A private temp dir under /tmp (short: unix socket paths are limited to 108 bytes).
fn private_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("imagefs-{tag}-"))
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// containerd with its own root, state, sockets and opt dir; no CRI, no TCP.
struct Containerd {
    daemon: Daemon,
    sock: PathBuf,
    dir: TempDir,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = private_dir("containerd");
        let d = dir.path();
        let sock = d.join("containerd.sock");
        let config = d.join("config.toml");
        fs::write(
            &config,
            format!(
                r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
                root = p(&d.join("root")),
                state = p(&d.join("state")),
                sock = p(&sock),
                opt = p(&d.join("opt")),
            ),
        )
        .expect("write config");
        let mut c = Command::new(tool("containerd"));
        c.arg("--config").arg(&config);
        let mut daemon = Daemon::spawn("containerd", c, d.join("containerd.log"));
        let ctr = tool("ctr");
        daemon.wait_ready(|| {
            sock.exists()
                && Command::new(&ctr)
                    .arg("-a")
                    .arg(&sock)
                    .arg("version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
        });
        Containerd { daemon, sock, dir }
    }

    fn ctr(&self, ns: &str) -> Command {
        let mut c = Command::new(tool("ctr"));
        c.arg("-a").arg(&self.sock).args(["-n", ns]);
        c
    }

    /// `ctr images ls`: name → target digest.
    fn images(&self, ns: &str) -> BTreeMap<String, String> {
        let mut c = self.ctr(ns);
        c.args(["images", "ls"]);
        run(c)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() >= 3).then(|| (cols[0].to_string(), cols[2].to_string()))
            })
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.daemon.stop();
        unmount_under(self.dir.path());
    }
}

/// One dockerd at a time: 20.10 writes its trust key to the fixed path /etc/docker/key.json.
static DOCKERD: Mutex<()> = Mutex::new(());
const DOCKER_KEY: &str = "/etc/docker/key.json";
/// dockerd 20.10 also creates the plugin discovery directory /run/docker/plugins (fixed path).
const DOCKER_RUN: &str = "/run/docker";

/// dockerd 20.10 on its own containerd, data root, exec root and socket; vfs, no networking.
struct Dockerd {
    daemon: Daemon,
    sock: PathBuf,
    dir: TempDir,
    key_created: bool,
    run_created: bool,
    containerd: Option<Containerd>,
    _one: MutexGuard<'static, ()>,
}

impl Dockerd {
    fn start() -> Dockerd {
        let one = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
        let key_existed = Path::new(DOCKER_KEY).exists();
        let run_existed = Path::new(DOCKER_RUN).exists();
        let containerd = Containerd::start();
        let dir = private_dir("dockerd");
        let d = dir.path();
        let sock = d.join("docker.sock");
        let mut c = Command::new(tool("dockerd"));
        c.arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("-H")
            .arg(format!("unix://{}", p(&sock)))
            .args([
                "--storage-driver",
                "vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--ip-masq=false",
            ])
            .arg(format!("--containerd={}", p(&containerd.sock)));
        fs::write(d.join("daemon.json"), "{}").expect("daemon.json");
        // A proxy environment would make no difference (no pulls), but keep it out.
        c.env_remove("HTTP_PROXY").env_remove("HTTPS_PROXY");
        let daemon = Daemon::spawn("dockerd", c, d.join("dockerd.log"));
        let mut me = Dockerd {
            daemon,
            sock,
            dir,
            key_created: !key_existed,
            run_created: !run_existed,
            containerd: Some(containerd),
            _one: one,
        };
        let client = docker_client();
        let host = format!("unix://{}", p(&me.sock));
        me.daemon.wait_ready(|| {
            Command::new(&client)
                .args(["-H", &host, "version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        me
    }

    fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new(docker_client());
        c.arg("-H")
            .arg(format!("unix://{}", p(&self.sock)))
            .args(args);
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.daemon.stop();
        unmount_under(self.dir.path());
        drop(self.containerd.take());
        if self.key_created {
            let _ = fs::remove_file(DOCKER_KEY);
        }
        if self.run_created {
            // Only empty directories: remove_dir fails on anything else.
            let _ = fs::remove_dir(Path::new(DOCKER_RUN).join("plugins"));
            let _ = fs::remove_dir(DOCKER_RUN);
        }
    }
}

/// podman, rootful, with every path private; no daemon to stop, mounts detached on drop.
struct Podman {
    dir: TempDir,
}

impl Podman {
    fn new() -> Podman {
        let dir = private_dir("podman");
        fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        fs::write(
            dir.path().join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .expect("policy");
        fs::write(dir.path().join("registries.conf"), "").expect("registries.conf");
        fs::write(dir.path().join("containers.conf"), "").expect("containers.conf");
        Podman { dir }
    }

    fn podman(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(tool("podman"));
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(args);
        c
    }

    fn policy(&self) -> String {
        format!(
            "--signature-policy={}",
            p(&self.dir.path().join("policy.json"))
        )
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = output(self.podman(&["system", "reset", "--force"]));
        unmount_under(self.dir.path());
    }
}

fn skopeo(args: &[&str]) -> Command {
    let mut c = Command::new(tool("skopeo"));
    c.arg("--insecure-policy").args(args);
    c
}

/// skopeo as if on `platform` (it picks one instance of an index for single-image targets).
fn skopeo_as(platform: &str, args: &[&str]) -> Command {
    let parts: Vec<&str> = platform.split('/').collect();
    let mut c = Command::new(tool("skopeo"));
    c.args([
        "--insecure-policy",
        "--override-os",
        parts[0],
        "--override-arch",
        parts[1],
    ]);
    if let Some(v) = parts.get(2) {
        c.args(["--override-variant", v]);
    }
    c.args(args);
    c
}

// ------------------------------------------------------------------------------------------
// The imagefs side: a mount guard and the import checks.

struct Mount {
    store: PathBuf,
    mnt: PathBuf,
    log: PathBuf,
}

impl Mount {
    /// Mounts `store` on `mnt`. FUSE is required: a failure fails the test.
    fn new(store: &Path, mnt: &Path, log: &Path) -> Mount {
        fs::create_dir_all(mnt).expect("mount point");
        let mut c = imagefs(store);
        c.arg("mount")
            .arg(mnt)
            .args(["--daemon", "--no-sample", "--log-file"])
            .arg(log);
        let out = output(c);
        assert!(
            out.status.success(),
            "imagefs mount {} cannot start ({}): {}",
            mnt.display(),
            out.status,
            text(&out.stderr)
        );
        Mount {
            store: store.to_path_buf(),
            mnt: mnt.to_path_buf(),
            log: log.to_path_buf(),
        }
    }

    /// `cp FILE MOUNT/import/[dir/]NAME`; returns cp's success and the status file.
    fn cp_import(&self, file: &Path, dir: &str, name: &str) -> (bool, Value) {
        let target = self.mnt.join("import").join(dir);
        fs::create_dir_all(&target).expect("mkdir under import/");
        let out = output(cmd("cp", &[p(file), p(&target.join(name))]));
        let status_path = target.join(".status").join(name);
        let status = fs::read(&status_path)
            .map(|b| json(&b))
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (cp: {}; mount log: {})",
                    status_path.display(),
                    text(&out.stderr),
                    fs::read_to_string(&self.log).unwrap_or_default()
                )
            });
        (out.status.success(), status)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = imagefs(&self.store)
            .arg("unmount")
            .arg(&self.mnt)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = imagefs(&self.store)
                .args(["unmount", "--lazy"])
                .arg(&self.mnt)
                .status();
        }
    }
}

/// What an import must give: names (full form) with their digests and platforms.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Loaded {
    name: String,
    digest: String,
    platforms: Vec<String>,
}

/// Sorted, with each image's platforms sorted (`ls` lists them in index order, the status
/// file sorted).
fn sorted(mut v: Vec<Loaded>) -> Vec<Loaded> {
    for l in &mut v {
        l.platforms.sort();
    }
    v.sort();
    v
}

/// `imagefs ls --json` of a store, as `Loaded`s.
fn ls(store: &Path) -> Vec<Loaded> {
    let mut c = imagefs(store);
    c.args(["ls", "--json"]);
    let v = json(run(c).as_bytes());
    sorted(
        v.as_array()
            .expect("array")
            .iter()
            .map(|i| Loaded {
                name: i["name"].as_str().unwrap_or_default().to_string(),
                digest: i["digest"].as_str().expect("digest").to_string(),
                platforms: i["platforms"]
                    .as_array()
                    .expect("platforms")
                    .iter()
                    .map(|p| p.as_str().expect("platform").to_string())
                    .collect(),
            })
            .collect(),
    )
}

/// `ctr images import --all-platforms` of an archive into a fresh namespace: name → digest.
/// For docker-archives this is the manifest containerd synthesizes.
fn ctr_import_digests(ctd: &Containerd, ns: &str, archive: &Path) -> BTreeMap<String, String> {
    let mut c = ctd.ctr(ns);
    c.args(["images", "import", "--no-unpack", "--all-platforms"])
        .arg(archive);
    run(c);
    ctd.images(ns)
}

/// A docker-archive's layers are uncompressed: their digests are the config's diff IDs.
fn assert_layers_are_diff_ids(store: &Path, name: &str, platform: &str) {
    let mut c = imagefs(store);
    c.args(["inspect", name, "--platform", platform]);
    let v = json(run(c).as_bytes());
    let layers: Vec<&str> = v["manifest"]["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest"))
        .collect();
    let diff_ids: Vec<&str> = v["config"]["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .map(|d| d.as_str().expect("diff id"))
        .collect();
    assert_eq!(layers, diff_ids, "{name}: layers = diff IDs");
}

/// The config digest of NAME for a platform, from `imagefs inspect`.
fn inspect_config(store: &Path, name: &str, platform: &str) -> String {
    let mut c = imagefs(store);
    c.args(["inspect", name, "--platform", platform]);
    let v = json(run(c).as_bytes());
    v["manifest"]["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string()
}

/// The three import legs of a foreign archive: `imagefs import`, `cp` into `import/` and into
/// `import/linux-arm64/`. `want` are the images (all platforms); the arm64 leg expects the
/// same names and digests with only linux/arm64, or a refusal when an image lacks it. Each
/// gets a fresh store; `check` runs on the CLI store for tool-specific checks.
fn import_legs(
    m: &mut Matrix,
    peer: &str,
    format: &str,
    archive: &Path,
    want: &[Loaded],
    check: &dyn Fn(&Path),
) {
    let want = sorted(want.to_vec());
    // An empty digest: the format has no manifest (docker-archive), so each tool synthesizes
    // its own; names and platforms are compared here, config and layers by `check`.
    let blank = want.iter().all(|l| l.digest.is_empty());
    let norm = move |v: Vec<Loaded>| -> Vec<Loaded> {
        v.into_iter()
            .map(|mut l| {
                if blank {
                    l.digest.clear();
                }
                l
            })
            .collect()
    };
    let what = want
        .iter()
        .map(|l| l.name.clone())
        .collect::<Vec<_>>()
        .join(" + ");
    m.leg(peer, "peer → imagefs import", format, &what, || {
        let f = Fixture::new();
        let mut c = imagefs(f.root());
        c.arg("import").arg(archive);
        let said = run(c);
        assert_eq!(
            norm(ls(f.root())),
            want,
            "imagefs ls after import; import said {said}"
        );
        check(f.root());
        run_fsck(f.root());
        String::new()
    });
    m.leg(peer, "peer → cp MOUNT/import/", format, &what, || {
        let f = Fixture::new();
        let mount = Mount::new(f.root(), &f.path("mnt"), &f.path("mount.log"));
        let (ok, status) = mount.cp_import(archive, "", "in.tar");
        assert!(ok && status["state"] == "loaded", "cp failed: {status}");
        assert_eq!(norm(status_loaded(&status)), want, "{status}");
        assert_eq!(norm(ls(f.root())), want, "imagefs ls after cp");
        drop(mount);
        check(f.root());
        String::new()
    });
    m.leg(
        peer,
        "peer → cp MOUNT/import/linux-arm64/",
        format,
        &what,
        || {
            let f = Fixture::new();
            let mount = Mount::new(f.root(), &f.path("mnt"), &f.path("mount.log"));
            let (ok, status) = mount.cp_import(archive, "linux-arm64", "in.tar");
            let lacking: Vec<&Loaded> = want
                .iter()
                .filter(|l| !l.platforms.iter().any(|p| p == "linux/arm64"))
                .collect();
            if lacking.is_empty() {
                assert!(ok && status["state"] == "loaded", "cp failed: {status}");
                let got = norm(status_loaded(&status));
                let names: Vec<(&str, &str)> = got
                    .iter()
                    .map(|l| (l.name.as_str(), l.digest.as_str()))
                    .collect();
                let want_names: Vec<(&str, &str)> = want
                    .iter()
                    .map(|l| (l.name.as_str(), l.digest.as_str()))
                    .collect();
                assert_eq!(names, want_names, "{status}");
                for l in ls(f.root()) {
                    assert_eq!(l.platforms, ["linux/arm64"], "{l:?}");
                }
                String::new()
            } else {
                assert!(
                    !ok,
                    "cp of an archive without linux/arm64 succeeded: {status}"
                );
                assert_eq!(status["state"], "failed", "{status}");
                let err = status["error"].as_str().unwrap_or_default().to_string();
                assert!(err.contains("linux/arm64"), "{err}");
                assert_eq!(ls(f.root()), vec![], "store changed by a refused import");
                // With several images, which one the error names first varies from run to run.
                if want.len() == 1 {
                    format!("refused, as it must: {err}")
                } else {
                    "refused, as it must".to_string()
                }
            }
        },
    );
}

fn status_loaded(status: &Value) -> Vec<Loaded> {
    sorted(
        status["images"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| Loaded {
                        name: i["name"].as_str().unwrap_or_default().to_string(),
                        digest: i["digest"].as_str().unwrap_or_default().to_string(),
                        platforms: i["platforms"]
                            .as_array()
                            .map(|p| {
                                p.iter()
                                    .map(|s| s.as_str().unwrap_or_default().to_string())
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

fn run_fsck(store: &Path) {
    let mut c = imagefs(store);
    c.arg("fsck");
    run(c);
}

/// What our store says about an image, as a `Loaded` under another name.
fn loaded(name: &str, digest: &str, platforms: &[&str]) -> Loaded {
    Loaded {
        name: name.to_string(),
        digest: digest.to_string(),
        platforms: platforms.iter().map(|p| p.to_string()).collect(),
    }
}

// ------------------------------------------------------------------------------------------
// The matrix recorder.

#[derive(Clone, Debug)]
struct Row {
    peer: String,
    direction: String,
    format: String,
    what: String,
    result: String,
}

struct Matrix {
    test: &'static str,
    rows: Vec<Row>,
    failures: Vec<String>,
    versions: Vec<String>,
}

const TESTS: [&str; 9] = [
    "ctr_imports_our_archives",
    "ctr_exports_import_into_imagefs",
    "ctr_and_imagefs_agree_per_platform",
    "podman_loads_our_archives",
    "podman_saves_import_into_imagefs",
    "dockerd_20_10_round_trips",
    "skopeo_reads_our_archives",
    "skopeo_archives_import_into_imagefs",
    "umoci_unpacks_our_one_platform_tars",
];

impl Matrix {
    fn new(test: &'static str, versions: Vec<String>) -> Matrix {
        assert!(TESTS.contains(&test), "{test} is not listed in TESTS");
        Matrix {
            test,
            rows: Vec::new(),
            failures: Vec::new(),
            versions,
        }
    }

    /// Runs one leg; a panic marks it FAIL (with the message) and the test goes on.
    fn leg(
        &mut self,
        peer: &str,
        direction: &str,
        format: &str,
        what: &str,
        f: impl FnOnce() -> String,
    ) {
        let result = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(note) if note.is_empty() => "ok".to_string(),
            Ok(note) => format!("ok ({note})"),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".to_string());
                self.failures
                    .push(format!("[{peer} | {direction} | {format} | {what}] {msg}"));
                let first = msg.lines().next().unwrap_or_default();
                let first: String = first.chars().take(300).collect();
                format!("**FAIL**: {}", first.replace('|', "\\|"))
            }
        };
        self.rows.push(Row {
            peer: peer.to_string(),
            direction: direction.to_string(),
            format: format.to_string(),
            what: what.to_string(),
            result,
        });
    }

    /// A leg a peer cannot do, asserted as such (its exact error) and recorded as a limitation.
    fn limitation(&mut self, peer: &str, direction: &str, format: &str, what: &str, err: &str) {
        let err = err.trim().replace('\n', " ").replace('|', "\\|");
        self.rows.push(Row {
            peer: peer.to_string(),
            direction: direction.to_string(),
            format: format.to_string(),
            what: what.to_string(),
            result: format!("peer limitation: `{err}`"),
        });
    }

    /// A leg the peer cannot do: `out` must fail with `expected` in its output (so a peer that
    /// gains the feature, or fails otherwise, shows up as FAIL); recorded with that line.
    fn known_limitation(
        &mut self,
        peer: &str,
        direction: &str,
        format: &str,
        what: &str,
        expected: &str,
        out: &Output,
    ) {
        let all = format!("{}{}", text(&out.stderr), text(&out.stdout));
        // Without logrus' timestamp, so that regenerating the matrix changes nothing.
        let line = all.lines().find(|l| l.contains(expected)).map(|l| {
            let l = l.trim();
            l.find("msg=").map_or(l, |i| &l[i..]).to_string()
        });
        match (out.status.success(), line) {
            (false, Some(line)) => self.limitation(peer, direction, format, what, &line),
            (ok, _) => self.leg(peer, direction, format, what, || {
                panic!(
                    "expected the known peer limitation `{expected}`, got success={ok}: {}",
                    all.trim()
                )
            }),
        }
    }

    fn finish(self) {
        write_fragment(&self);
        assert!(
            self.failures.is_empty(),
            "{} leg(s) failed:\n{}",
            self.failures.len(),
            self.failures.join("\n\n")
        );
    }
}

fn fragments_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop-matrix")
}

static FRAGMENTS: OnceLock<Mutex<()>> = OnceLock::new();

fn write_fragment(m: &Matrix) {
    let lock = FRAGMENTS.get_or_init(|| {
        // First test to finish in this process: forget the previous run's fragments.
        let _ = fs::remove_dir_all(fragments_dir());
        Mutex::new(())
    });
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(fragments_dir()).expect("fragments dir");
    let rows: Vec<Value> = m
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "peer": r.peer, "direction": r.direction, "format": r.format,
                "what": r.what, "result": r.result,
            })
        })
        .collect();
    let doc = serde_json::json!({ "rows": rows, "versions": m.versions });
    fs::write(
        fragments_dir().join(format!("{}.json", m.test)),
        serde_json::to_vec_pretty(&doc).expect("json"),
    )
    .expect("write fragment");
    assemble();
}

/// Builds the matrix from every fragment present; writes target/compatibility.md, and the
/// generated part of doc/COMPATIBILITY.md under IMAGEFS_WRITE_COMPAT=1.
fn assemble() {
    let mut versions = BTreeSet::new();
    let mut body = String::new();
    let mut total = (0, 0, 0);
    for test in TESTS {
        let path = fragments_dir().join(format!("{test}.json"));
        body.push_str(&format!("\n### `{test}`\n\n"));
        let Ok(bytes) = fs::read(&path) else {
            body.push_str("_not run in this test run_\n");
            continue;
        };
        let doc = json(&bytes);
        for v in doc["versions"].as_array().into_iter().flatten() {
            versions.insert(v.as_str().unwrap_or_default().to_string());
        }
        body.push_str("| peer | direction | format / source | images | result |\n");
        body.push_str("|---|---|---|---|---|\n");
        // Consecutive rows that differ only in the images are merged.
        let mut merged: Vec<(String, String, String, Vec<String>, String)> = Vec::new();
        for r in doc["rows"].as_array().into_iter().flatten() {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let result = s("result");
            if result.starts_with("ok") {
                total.0 += 1;
            } else if result.starts_with("peer limitation") {
                total.1 += 1;
            } else {
                total.2 += 1;
            }
            match merged.last_mut() {
                Some(last)
                    if last.0 == s("peer")
                        && last.1 == s("direction")
                        && last.2 == s("format")
                        && last.4 == result =>
                {
                    if !last.3.contains(&s("what")) {
                        last.3.push(s("what"));
                    }
                }
                _ => merged.push((
                    s("peer"),
                    s("direction"),
                    s("format"),
                    vec![s("what")],
                    result,
                )),
            }
        }
        for (peer, dir, format, what, result) in merged {
            body.push_str(&format!(
                "| {peer} | {dir} | {format} | {} | {result} |\n",
                what.join(", ")
            ));
        }
    }
    let mut out = String::new();
    out.push_str(
        "<!-- Generated by tests/interop.rs (IMAGEFS_WRITE_COMPAT=1 cargo test --test interop); do not edit by hand. -->\n\n",
    );
    out.push_str(&format!(
        "Legs: {} ok, {} peer limitations (asserted), {} failing.\n\nVersions tested:\n\n",
        total.0, total.1, total.2
    ));
    for v in &versions {
        out.push_str(&format!("- {v}\n"));
    }
    out.push_str(&body);
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("compatibility.md");
    fs::write(&target, &out).expect("write target/compatibility.md");
    if std::env::var("IMAGEFS_WRITE_COMPAT").as_deref() == Ok("1") {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/COMPATIBILITY.md");
        let text = fs::read_to_string(&doc).expect("doc/COMPATIBILITY.md");
        const BEGIN: &str = "<!-- BEGIN GENERATED MATRIX -->\n";
        const END: &str = "<!-- END GENERATED MATRIX -->";
        let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
            panic!("doc/COMPATIBILITY.md lacks the generated-matrix markers");
        };
        let new = format!("{}{BEGIN}{out}{}", &text[..a], &text[b..]);
        fs::write(&doc, new).expect("write doc/COMPATIBILITY.md");
    }
}

fn versions_of(list: &[(&str, Command)]) -> Vec<String> {
    list.iter()
        .map(|(label, _)| label.to_string())
        .zip(list.iter().map(|(_, c)| {
            let mut copy = Command::new(c.get_program());
            copy.args(c.get_args());
            version(copy)
        }))
        .map(|(label, v)| format!("{label}: `{v}`"))
        .collect()
}

fn imagefs_version() -> (&'static str, Command) {
    (
        "imagefs",
        cmd(env!("CARGO_BIN_EXE_imagefs"), &["--version"]),
    )
}

fn ctr_versions() -> Vec<String> {
    versions_of(&[
        imagefs_version(),
        ("containerd", cmd(tool("containerd"), &["--version"])),
        ("ctr", cmd(tool("ctr"), &["--version"])),
    ])
}

// ------------------------------------------------------------------------------------------
// 1. Our output loads; 2. their output imports; 3. same answers as ctr.

/// `ctr images import` of each archive (from export and from the mount), then `ctr images
/// export` of the same platforms: the same blob set, the same target.
#[test]
fn ctr_imports_our_archives() {
    let mut m = Matrix::new("ctr_imports_our_archives", ctr_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    for (n, case) in cases().iter().enumerate() {
        for (i, (source, archive)) in src.archives(case).into_iter().enumerate() {
            let ns = format!("load{n}-{i}");
            // A two-platform tar of an image with more platforms keeps the original index,
            // sparse (as `docker save --platform` does). ctr 1.6 import takes one --platform,
            // and --all-platforms needs every child: it can keep only one platform of it.
            let sparse = case.platforms.len() > 1
                && image_platforms(case.image).len() > case.platforms.len();
            if sparse {
                let mut c = ctd.ctr(&format!("{ns}-all"));
                c.args(["images", "import", "--no-unpack", "--all-platforms"])
                    .arg(&archive);
                let all = output(c);
                m.known_limitation(
                    "ctr",
                    "imagefs → ctr import/export",
                    &format!("{source}: {} (import --all-platforms)", case.label()),
                    short(case.image),
                    ": not found",
                    &all,
                );
            }
            let platforms: Vec<&str> = if sparse {
                vec!["linux/arm64"]
            } else {
                case.platforms.clone()
            };
            let flags: Vec<&str> = match platforms.as_slice() {
                [one] => vec!["--platform", one],
                _ => vec!["--all-platforms"],
            };
            let format = format!("{source}: {} (import {})", case.label(), flags.join(" "));
            m.leg(
                "ctr",
                "imagefs → ctr import/export",
                &format,
                short(case.image),
                || {
                    let mut c = ctd.ctr(&ns);
                    c.args(["images", "import", "--no-unpack"])
                        .args(&flags)
                        .arg(&archive);
                    run(c);
                    let target = top_descriptor(&archive);
                    let images = ctd.images(&ns);
                    assert_eq!(
                        images.get(case.image).map(String::as_str),
                        target["digest"].as_str(),
                        "ctr images ls: {images:?}"
                    );
                    let out = src.f.path(&format!("ctr-{ns}.tar"));
                    let mut c = ctd.ctr(&ns);
                    c.args(["images", "export"]);
                    if platforms.is_empty() {
                        c.arg("--all-platforms");
                    }
                    for p in &platforms {
                        c.args(["--platform", p]);
                    }
                    c.arg(&out).arg(case.image);
                    run(c);
                    let ours = tar_blobs(&archive);
                    let theirs = tar_blobs(&out);
                    let top = top_descriptor(&out);
                    assert_eq!(top["digest"], target["digest"], "ctr export target");
                    if sparse {
                        // ctr's one platform: a subset of ours holding that platform's closure.
                        let (manifest, children) =
                            platform_closure(&src.f.store, case.image, "linux/arm64");
                        assert!(
                            theirs.is_subset(&ours),
                            "ctr's blobs beyond ours: {}",
                            hexes(&theirs.difference(&ours).cloned().collect())
                        );
                        for d in std::iter::once(manifest).chain(children) {
                            assert!(
                                theirs.contains(&d.to_string()),
                                "{d} missing from ctr's export"
                            );
                        }
                        return format!(
                            "{} of our {} blobs: linux/arm64 only",
                            theirs.len(),
                            ours.len()
                        );
                    }
                    assert_eq!(
                        ours,
                        theirs,
                        "blob sets differ: only ours {}; only ctr's {}",
                        hexes(&ours.difference(&theirs).cloned().collect()),
                        hexes(&theirs.difference(&ours).cloned().collect())
                    );
                    format!("{} blobs, same set", ours.len())
                },
            );
        }
    }
    drop(ctd);
    m.finish();
}

/// `ctr images export` (one platform, several, --all-platforms, two images) imports through
/// `imagefs import` and `cp` into the mount, with ctr's names and digests.
#[test]
fn ctr_exports_import_into_imagefs() {
    let mut m = Matrix::new("ctr_exports_import_into_imagefs", ctr_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    for image in IMAGES {
        let archive = src.export(&Case {
            image,
            platforms: vec![],
        });
        let mut c = ctd.ctr("src");
        c.args(["images", "import", "--no-unpack", "--all-platforms"])
            .arg(&archive);
        run(c);
    }
    let reported = ctd.images("src");
    let exports: Vec<(&str, Vec<&str>, &[&str])> = vec![
        (
            "--platform linux/arm64",
            vec!["--platform", "linux/arm64"],
            &[MULTI],
        ),
        (
            "--platform linux/amd64 --platform linux/arm/v7",
            vec!["--platform", "linux/amd64", "--platform", "linux/arm/v7"],
            &[MULTI],
        ),
        ("--all-platforms", vec!["--all-platforms"], &[MULTI]),
        ("--all-platforms", vec!["--all-platforms"], &[DOCKERTYPES]),
        ("--all-platforms", vec!["--all-platforms"], &[ZSTD]),
        (
            "--platform linux/amd64",
            vec!["--platform", "linux/amd64"],
            &[SINGLE],
        ),
        (
            "--all-platforms, two images sharing a layer",
            vec!["--all-platforms"],
            &[MULTI, DOCKERTYPES],
        ),
    ];
    for (n, (label, flags, images)) in exports.iter().enumerate() {
        let out = src.f.path(&format!("ctr-export-{n}.tar"));
        let mut c = ctd.ctr("src");
        c.args(["images", "export"])
            .args(flags)
            .arg(&out)
            .args(*images);
        let format = format!("ctr images export {label}");
        // An export the peer cannot make is a failed leg, recorded, not a skipped one.
        let made = output(c);
        if !made.status.success() {
            m.leg(
                "ctr",
                "peer → imagefs import",
                &format,
                &images.join(" + "),
                || panic!("ctr images export failed: {}", text(&made.stderr)),
            );
            continue;
        }
        let want: Vec<Loaded> = images
            .iter()
            .map(|image| {
                let platforms: Vec<&str> = if flags.contains(&"--all-platforms") {
                    image_platforms(image).to_vec()
                } else {
                    image_platforms(image)
                        .iter()
                        .copied()
                        .filter(|p| flags.contains(p))
                        .collect()
                };
                loaded(image, &reported[*image], &platforms)
            })
            .collect();
        let store = src.f.root().to_path_buf();
        import_legs(&mut m, "ctr", &format, &out, &want, &|dst| {
            for l in &want {
                for p in &l.platforms {
                    assert_eq!(
                        inspect_config(dst, &l.name, p),
                        inspect_config(&store, &l.name, p),
                        "{} {p}: config",
                        l.name
                    );
                }
            }
        });
    }
    drop(ctd);
    m.finish();
}

/// The attestation closure (manifest, its config and layers) of the selected manifests.
fn attestation_blobs(
    store: &imagefs::store::Store,
    image: &str,
    selected: &[Digest],
) -> BTreeSet<String> {
    let record = find(store, image).remove(0);
    let read =
        |d: &str| fs::read(store.root().join("blobs/sha256").join(&d[7..])).expect("stored blob");
    let index = json(&read(&record.target.digest.to_string()));
    let mut out = BTreeSet::new();
    for d in index["manifests"].as_array().into_iter().flatten() {
        let subject = d["annotations"]["vnd.docker.reference.digest"].as_str();
        if subject.is_some_and(|s| selected.iter().any(|x| x.to_string() == s)) {
            let digest = d["digest"].as_str().expect("digest").to_string();
            let manifest = json(&read(&digest));
            out.insert(digest);
            out.insert(
                manifest["config"]["digest"]
                    .as_str()
                    .expect("config")
                    .to_string(),
            );
            for l in manifest["layers"].as_array().into_iter().flatten() {
                out.insert(l["digest"].as_str().expect("layer").to_string());
            }
        }
    }
    out
}

/// Same store content in ctr and imagefs; for each platform (and a pair, and an alias) our
/// by-platform tar holds ctr's blobs, plus-or-minus the index blob and the attestations Docker
/// 29.1+ carries along; absent platforms are errors in imagefs at least wherever ctr errs.
#[test]
fn ctr_and_imagefs_agree_per_platform() {
    let mut m = Matrix::new("ctr_and_imagefs_agree_per_platform", ctr_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    for image in IMAGES {
        let archive = src.export(&Case {
            image,
            platforms: vec![],
        });
        let mut c = ctd.ctr("same");
        c.args(["images", "import", "--no-unpack", "--all-platforms"])
            .arg(&archive);
        run(c);
    }
    for image in IMAGES {
        let mut requests: Vec<Vec<&str>> =
            image_platforms(image).iter().map(|p| vec![*p]).collect();
        if image_platforms(image).len() > 1 {
            requests.push(vec!["linux/amd64", "linux/arm64"]);
        }
        if image == MULTI {
            requests.push(vec!["linux/arm"]);
            requests.push(vec!["linux/aarch64"]);
        }
        for req in requests {
            let format = format!("--platform {}", req.join(","));
            m.leg(
                "ctr",
                "ctr export vs imagefs by-platform tar",
                &format,
                short(image),
                || {
                    let out = src.f.path(&format!(
                        "same-{}-{}.tar",
                        stem(image),
                        req.join("+").replace('/', "-")
                    ));
                    let mut c = ctd.ctr("same");
                    c.args(["images", "export"]);
                    for p in &req {
                        c.args(["--platform", p]);
                    }
                    c.arg(&out).arg(image);
                    run(c);
                    let case = Case {
                        image,
                        platforms: req.clone(),
                    };
                    let ours_path = src.export(&case);
                    let mounted = src.mounted(&case);
                    assert_eq!(
                        fs::read(&mounted).expect("mount read"),
                        fs::read(&ours_path).expect("export")
                    );
                    let ours = tar_blobs(&ours_path);
                    let theirs = tar_blobs(&out);
                    let selected: Vec<Digest> = req
                        .iter()
                        .map(|p| platform_closure(&src.f.store, image, p).0)
                        .collect();
                    let attest = attestation_blobs(&src.f.store, image, &selected);
                    let index = find(&src.f.store, image)
                        .remove(0)
                        .target
                        .digest
                        .to_string();
                    let only_ours: BTreeSet<String> = ours.difference(&theirs).cloned().collect();
                    let only_theirs: BTreeSet<String> = theirs.difference(&ours).cloned().collect();
                    assert!(
                        only_ours.is_subset(&attest),
                        "blobs only in ours that are not attestations: {}",
                        hexes(&only_ours.difference(&attest).cloned().collect())
                    );
                    assert!(
                        only_theirs.iter().all(|d| *d == index),
                        "blobs only in ctr's beyond the index: {}",
                        hexes(&only_theirs)
                    );
                    let mut notes = Vec::new();
                    if only_theirs.contains(&index) {
                        notes.push("ctr adds the (sparse) index blob".to_string());
                    }
                    if !only_ours.is_empty() {
                        notes.push(format!("we add {} attestation blobs", only_ours.len()));
                    }
                    let ctr_top = top_descriptor(&out)["mediaType"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let our_top = top_descriptor(&ours_path)["mediaType"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    if ctr_top != our_top {
                        notes.push(format!("index.json target: ctr {ctr_top}, ours {our_top}"));
                    }
                    notes.join("; ")
                },
            );
        }
        // Absent platforms: one absent, and one present + one absent.
        for req in [vec!["linux/s390x"], vec!["linux/amd64", "linux/s390x"]] {
            let format = format!("absent: --platform {}", req.join(","));
            m.leg(
                "ctr",
                "ctr export vs imagefs by-platform tar",
                &format,
                short(image),
                || {
                    let out = src.f.path("absent.tar");
                    let mut c = ctd.ctr("same");
                    c.args(["images", "export"]);
                    for p in &req {
                        c.args(["--platform", p]);
                    }
                    c.arg(&out).arg(image);
                    let theirs = output(c);
                    let mut c = imagefs(src.f.root());
                    c.arg("export")
                        .arg(image)
                        .arg("-o")
                        .arg(src.f.path("absent-ours.tar"));
                    for p in &req {
                        c.args(["--platform", p]);
                    }
                    let ours = run_fails(c);
                    assert!(
                        ours.contains("linux/s390x") && ours.contains("it has"),
                        "{ours}"
                    );
                    let mounted = src
                        .mount
                        .mnt
                        .join("images")
                        .join(image)
                        .join("by-platform")
                        .join(format!(
                            "{}.tar",
                            req.iter()
                                .map(|p| p.replace('/', "-"))
                                .collect::<Vec<_>>()
                                .join("+")
                        ));
                    let err = fs::metadata(&mounted)
                        .expect_err("absent platform tar exists in the mount");
                    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
                    if theirs.status.success() {
                        format!(
                            "ctr exported {} blobs without error; imagefs refuses",
                            tar_blobs(&out).len()
                        )
                    } else {
                        format!(
                            "both refuse; ctr: `{}`",
                            text(&theirs.stderr).trim().replace('|', "\\|")
                        )
                    }
                },
            );
        }
    }
    drop(ctd);
    m.finish();
}

fn podman_versions() -> Vec<String> {
    versions_of(&[
        imagefs_version(),
        ("podman", cmd(tool("podman"), &["--version"])),
        (
            "containerd (docker-archive digest cross-check)",
            cmd(tool("containerd"), &["--version"]),
        ),
    ])
}

/// `podman load` of each archive finds the expected platform; `podman pull oci-archive:` with
/// `--platform` finds a non-host one.
#[test]
fn podman_loads_our_archives() {
    let mut m = Matrix::new("podman_loads_our_archives", podman_versions());
    let src = Source::new();
    let pod = Podman::new();
    for case in cases() {
        for (source, archive) in src.archives(&case) {
            let format = format!("{source}: {} (podman load)", case.label());
            m.leg(
                "podman",
                "imagefs → podman",
                &format,
                short(case.image),
                || {
                    run(pod.podman(&["rmi", "--all", "--force"]));
                    let (dir, file) = split(&archive);
                    let mut c = pod.podman(&["load", "-i", &file]);
                    c.current_dir(&dir);
                    let said = run(c);
                    assert!(
                        said.contains(&format!("Loaded image: {}", case.image)),
                        "{said}"
                    );
                    let id = run(pod.podman(&[
                        "image",
                        "inspect",
                        case.image,
                        "--format",
                        "{{.Id}} {{.Os}}/{{.Architecture}}",
                    ]));
                    let want = config_of(&src.f.store, case.image, case.expected());
                    assert_eq!(
                        id.split_whitespace().next(),
                        Some(want.hex().as_str()),
                        "podman picked another config: {id}"
                    );
                    format!("got {}", case.expected())
                },
            );
            // pull with a platform: the one asked for, else arm/v7 or arm64 (a non-host one).
            let want_platform = match case.platforms.as_slice() {
                [] if image_platforms(case.image).contains(&"linux/arm/v7") => "linux/arm/v7",
                [] if image_platforms(case.image).contains(&"linux/arm64") => "linux/arm64",
                [] => "linux/amd64",
                [one] => one,
                _ => "linux/arm64",
            };
            let format = format!(
                "{source}: {} (podman pull --platform {want_platform} oci-archive:)",
                case.label()
            );
            m.leg(
                "podman",
                "imagefs → podman",
                &format,
                short(case.image),
                || {
                    run(pod.podman(&["rmi", "--all", "--force"]));
                    let (dir, file) = split(&archive);
                    let mut c = pod.podman(&[
                        "pull",
                        "-q",
                        &pod.policy(),
                        "--platform",
                        want_platform,
                        &format!("oci-archive:{file}"),
                    ]);
                    c.current_dir(&dir);
                    let said = run(c);
                    let want = config_of(&src.f.store, case.image, want_platform);
                    assert_eq!(
                        said.trim(),
                        want.hex(),
                        "podman pull printed another image ID"
                    );
                    String::new()
                },
            );
        }
    }
    m.finish();
}

/// `podman save --format oci-archive|docker-archive` imports with podman's names and digests.
#[test]
fn podman_saves_import_into_imagefs() {
    let mut m = Matrix::new("podman_saves_import_into_imagefs", podman_versions());
    let src = Source::new();
    let pod = Podman::new();
    let ctd = Containerd::start();
    // podman holds one platform per name: amd64 of MULTI and ZSTD, arm64 of DOCKERTYPES.
    let loads = [
        Case {
            image: MULTI,
            platforms: vec![],
        },
        Case {
            image: ZSTD,
            platforms: vec![],
        },
        Case {
            image: DOCKERTYPES,
            platforms: vec!["linux/arm64"],
        },
        Case {
            image: SINGLE,
            platforms: vec![],
        },
    ];
    for case in &loads {
        run(pod.podman(&["load", "-i", p(&src.export(case))]));
    }
    for case in &loads {
        for format in ["oci-archive", "docker-archive"] {
            let out = src
                .f
                .path(&format!("podman-{}-{format}.tar", stem(case.image)));
            let label = format!("podman save --format {format}");
            let saved =
                output(pod.podman(&["save", "--format", format, "-o", p(&out), case.image]));
            if case.image == ZSTD && format == "docker-archive" {
                m.known_limitation(
                    "podman",
                    "peer → imagefs import",
                    &label,
                    short(case.image),
                    "zstd compression is not supported for docker images",
                    &saved,
                );
                continue;
            }
            if !saved.status.success() {
                m.leg(
                    "podman",
                    "peer → imagefs import",
                    &label,
                    short(case.image),
                    || panic!("podman save failed: {}", text(&saved.stderr)),
                );
                continue;
            }
            let id = run(pod.podman(&["image", "inspect", case.image, "--format", "{{.Id}}"]));
            let id = format!("sha256:{}", id.trim());
            let platform = case.expected();
            // The digest podman reports for the saved archive is that of the manifest it wrote;
            // read it back with skopeo (podman has no command that prints it).
            let transport = format!("{format}:{}", p(&out));
            let raw = run(skopeo(&["inspect", "--raw", &transport]));
            let manifest_digest = Digest::of(raw.as_bytes()).to_string();
            let docker_archive = format == "docker-archive";
            // docker-archive has no manifest: match the one containerd builds on import.
            let digest = if docker_archive {
                ctr_import_digests(&ctd, &format!("podman-{}", stem(case.image)), &out)
                    .remove(case.image)
                    .unwrap_or_default()
            } else {
                manifest_digest
            };
            let digest = digest.as_str();
            let want = vec![loaded(case.image, digest, &[platform])];
            let name = case.image.to_string();
            // podman converts a docker config to an OCI one for oci-archive (c/image
            // re-marshals it), so that config is not its image ID; the manifest digest pins it.
            let converted = case.image == DOCKERTYPES && !docker_archive;
            import_legs(&mut m, "podman", &label, &out, &want, &|dst| {
                if !converted {
                    assert_eq!(
                        inspect_config(dst, &name, platform),
                        id,
                        "config = podman's image ID"
                    );
                }
                if docker_archive {
                    assert_layers_are_diff_ids(dst, &name, platform);
                }
            });
        }
    }
    m.finish();
}

/// dockerd 20.10 (graphdriver store): `docker load` goes through manifest.json; `docker save`
/// writes the legacy `<id>/layer.tar` layout, which imports.
#[test]
fn dockerd_20_10_round_trips() {
    let client = docker_client();
    let mut m = Matrix::new(
        "dockerd_20_10_round_trips",
        versions_of(&[
            imagefs_version(),
            ("dockerd", cmd(tool("dockerd"), &["--version"])),
            (
                "docker client (Debian docker.io, /usr/bin/docker)",
                cmd(&client, &["--version"]),
            ),
            (
                "containerd (under dockerd)",
                cmd(tool("containerd"), &["--version"]),
            ),
        ]),
    );
    let src = Source::new();
    let dockerd = Dockerd::start();
    let docker = |args: &[&str]| dockerd.docker(args);
    for case in cases() {
        for (source, archive) in src.archives(&case) {
            let format = format!("{source}: {} (docker load)", case.label());
            if case.image == ZSTD {
                // dockerd 20.10 applies layers with gzip/plain detection only (no zstd).
                let out = output(docker(&["load", "-i", p(&archive)]));
                m.known_limitation(
                    "docker 20.10",
                    "imagefs → docker load",
                    &format,
                    short(case.image),
                    "archive/tar: invalid tar header",
                    &out,
                );
                continue;
            }
            m.leg(
                "docker 20.10",
                "imagefs → docker load",
                &format,
                short(case.image),
                || {
                    let said = run(docker(&["load", "-i", p(&archive)]));
                    assert!(
                        said.contains(&format!("Loaded image: {}", case.image)),
                        "{said}"
                    );
                    let info = run(docker(&[
                        "image",
                        "inspect",
                        case.image,
                        "--format",
                        "{{.Id}} {{.Os}}/{{.Architecture}}",
                    ]));
                    let mut cols = info.split_whitespace();
                    let id = cols.next().unwrap_or_default().to_string();
                    assert_eq!(
                        id,
                        manifest_json_config(&archive),
                        "Id = manifest.json's Config"
                    );
                    let want = config_of(&src.f.store, case.image, case.expected());
                    assert_eq!(
                        id,
                        want.to_string(),
                        "docker loaded another platform: {info}"
                    );
                    let arch = case.expected().split('/').nth(1).unwrap_or_default();
                    assert_eq!(
                        cols.next(),
                        Some(format!("linux/{arch}").as_str()),
                        "{info}"
                    );
                    format!("got {}", case.expected())
                },
            );
        }
    }
    // docker save: one image per platform it holds; two images sharing a layer in one archive.
    let saves: Vec<(Case, Vec<&str>)> = vec![
        (
            Case {
                image: MULTI,
                platforms: vec!["linux/arm64"],
            },
            vec![MULTI],
        ),
        (
            Case {
                image: DOCKERTYPES,
                platforms: vec![],
            },
            vec![DOCKERTYPES],
        ),
        (
            Case {
                image: SINGLE,
                platforms: vec![],
            },
            vec![SINGLE],
        ),
        (
            Case {
                image: MULTI,
                platforms: vec![],
            },
            vec![MULTI, DOCKERTYPES],
        ),
    ];
    for (n, (case, names)) in saves.iter().enumerate() {
        let archive = src.export(case);
        let label = format!(
            "docker save {}",
            if names.len() > 1 {
                "of two images sharing a layer"
            } else {
                "(legacy <id>/layer.tar)"
            }
        );
        let out = src.f.path(&format!("docker-save-{n}.tar"));
        let prepared = output(docker(&["load", "-i", p(&archive)]));
        let mut args = vec!["save", "-o", p(&out)];
        args.extend(names.iter().copied());
        let saved = output(docker(&args));
        if !prepared.status.success() || !saved.status.success() {
            m.leg(
                "docker 20.10",
                "peer → imagefs import",
                &label,
                &names.join(" + "),
                || {
                    panic!(
                        "docker load/save failed: {}{}",
                        text(&prepared.stderr),
                        text(&saved.stderr)
                    )
                },
            );
            continue;
        }
        let mut want = Vec::new();
        let mut ids = Vec::new();
        for name in names {
            let info = run(docker(&[
                "image",
                "inspect",
                name,
                "--format",
                "{{.Id}} {{.Os}}/{{.Architecture}}",
            ]));
            let mut cols = info.split_whitespace();
            let id = cols.next().unwrap_or_default().to_string();
            let platform = cols.next().unwrap_or_default().to_string();
            ids.push((name.to_string(), id, platform.clone()));
            // The digest of a docker-archive image is that of the manifest imagefs builds for
            // it (docker 20.10 has none to report); checked through the config below.
            want.push((name.to_string(), platform));
        }
        // A docker save holds no manifest: the digest to match is the one containerd gives
        // the manifest it builds on import (the same rule docker load follows on c8d).
        let reported = ctr_import_digests(
            dockerd.containerd.as_ref().expect("containerd"),
            &format!("xcheck{n}"),
            &out,
        );
        let want: Vec<Loaded> = want
            .iter()
            .map(|(name, platform)| {
                let digest = reported.get(name).cloned().unwrap_or_default();
                loaded(name, &digest, &[platform])
            })
            .collect();
        import_legs(&mut m, "docker 20.10", &label, &out, &want, &|dst| {
            for (name, id, platform) in &ids {
                assert_eq!(
                    &inspect_config(dst, name, platform),
                    id,
                    "{name}: config = docker's Id"
                );
            }
        });
    }
    drop(dockerd);
    m.finish();
}

fn skopeo_versions() -> Vec<String> {
    versions_of(&[
        imagefs_version(),
        ("skopeo", cmd(tool("skopeo"), &["--version"])),
        (
            "containerd (docker-archive digest cross-check)",
            cmd(tool("containerd"), &["--version"]),
        ),
    ])
}

/// `skopeo copy oci-archive:|docker-archive: … dir:` of each archive verifies every digest.
#[test]
fn skopeo_reads_our_archives() {
    let mut m = Matrix::new("skopeo_reads_our_archives", skopeo_versions());
    let src = Source::new();
    for (n, case) in cases().iter().enumerate() {
        for (i, (source, archive)) in src.archives(case).into_iter().enumerate() {
            for transport in ["oci-archive", "docker-archive"] {
                let format = format!("{source}: {} (skopeo copy {transport}: dir:)", case.label());
                m.leg(
                    "skopeo",
                    "imagefs → skopeo",
                    &format,
                    short(case.image),
                    || {
                        let dir = src.f.path(&format!("skopeo-{n}-{i}-{transport}"));
                        let (cwd, file) = split(&archive);
                        let mut c = skopeo_as(
                            case.expected(),
                            &[
                                "copy",
                                &format!("{transport}:{file}"),
                                &format!("dir:{}", p(&dir)),
                            ],
                        );
                        c.current_dir(cwd);
                        run(c);
                        let (manifest, children) =
                            platform_closure(&src.f.store, case.image, case.expected());
                        let copied = fs::read(dir.join("manifest.json")).expect("manifest");
                        if transport == "oci-archive" {
                            // The manifest, config and layers as stored, every digest verified.
                            assert_eq!(Digest::of(&copied), manifest, "the manifest skopeo copied");
                            for d in &children {
                                assert!(dir.join(d.hex()).is_file(), "{d} not copied");
                            }
                            return String::new();
                        }
                        // docker-archive (manifest.json): skopeo synthesizes a schema2 manifest
                        // and serves layers uncompressed, named by diff ID.
                        assert_eq!(manifest_json_config(&archive), children[0].to_string());
                        let config =
                            json(&fs::read(dir.join(children[0].hex())).expect("config copied"));
                        let diff_ids = config["rootfs"]["diff_ids"]
                            .as_array()
                            .expect("diff_ids")
                            .clone();
                        for d in &diff_ids {
                            let d = d.as_str().expect("diff id");
                            assert!(dir.join(&d[7..]).is_file(), "layer {d} not copied");
                        }
                        format!("{} layers, by diff ID", diff_ids.len())
                    },
                );
            }
        }
    }
    m.finish();
}

/// skopeo writes oci-archive (index kept; layers as stored, gzip, zstd) and docker-archive
/// from our store read as an OCI layout; each imports with skopeo's names and digests.
#[test]
fn skopeo_archives_import_into_imagefs() {
    let mut m = Matrix::new("skopeo_archives_import_into_imagefs", skopeo_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    let root = src.f.root().to_path_buf();
    let mut n = 0;
    for image in IMAGES {
        let mut from = format!("oci:{}:{}", p(&root), tag(image));
        let mut cwd = root.clone();
        if image == DOCKERTYPES {
            // skopeo 1.9 looks a tag up in index.json among OCI media types only; a docker
            // manifest list named there is "not found". Asserted, then read from our export.
            // Relative to the fixture dir, so the recorded error is the same on every run.
            let mut c = skopeo(&["inspect", "--raw", &format!("oci:store:{}", tag(image))]);
            c.current_dir(root.parent().expect("fixture dir"));
            let out = output(c);
            m.known_limitation(
                "skopeo",
                "peer → imagefs import",
                "skopeo copy oci:STORE:TAG (our store as a layout)",
                short(image),
                "no descriptor found for reference",
                &out,
            );
            let archive = src.export(&Case {
                image,
                platforms: vec![],
            });
            let (dir, file) = split(&archive);
            from = format!("oci-archive:{file}");
            cwd = dir;
        }
        for (label, extra, transport) in [
            (
                "skopeo copy --all oci-archive: (as stored)",
                vec!["--all"],
                "oci-archive",
            ),
            (
                "skopeo copy --all --dest-compress-format gzip oci-archive:",
                vec!["--all", "--dest-compress", "--dest-compress-format", "gzip"],
                "oci-archive",
            ),
            (
                "skopeo copy --all --dest-compress-format zstd oci-archive:",
                vec!["--all", "--dest-compress", "--dest-compress-format", "zstd"],
                "oci-archive",
            ),
            (
                "skopeo copy docker-archive: (linux/amd64)",
                vec![],
                "docker-archive",
            ),
        ] {
            n += 1;
            let out = src.f.path(&format!("skopeo-{n}.tar"));
            let dest = format!("{transport}:{}:{image}", p(&out));
            let mut args = vec!["copy"];
            args.extend(extra.iter().copied());
            args.push(&from);
            args.push(&dest);
            let mut c = skopeo_as("linux/amd64", &args);
            c.current_dir(&cwd);
            let made = output(c);
            if image == ZSTD && transport == "docker-archive" {
                m.known_limitation(
                    "skopeo",
                    "peer → imagefs import",
                    label,
                    short(image),
                    "zstd compression is not supported for docker images",
                    &made,
                );
                continue;
            }
            if !made.status.success() {
                m.leg(
                    "skopeo",
                    "peer → imagefs import",
                    label,
                    short(image),
                    || panic!("skopeo copy failed: {}", text(&made.stderr)),
                );
                continue;
            }
            let docker_archive = transport == "docker-archive";
            let raw = run(skopeo(&[
                "inspect",
                "--raw",
                &format!("{transport}:{}", p(&out)),
            ]));
            let reported = if docker_archive {
                // No manifest in the archive: match the one containerd builds on import.
                ctr_import_digests(&ctd, &format!("skopeo-{n}"), &out)
                    .remove(image)
                    .unwrap_or_default()
            } else {
                Digest::of(raw.as_bytes()).to_string()
            };
            let platforms: Vec<&str> = if docker_archive {
                vec!["linux/amd64"]
            } else {
                image_platforms(image).to_vec()
            };
            let want = vec![loaded(image, &reported, &platforms)];
            let store = root.clone();
            let plats = platforms.clone();
            // Into oci-archive, skopeo converts docker manifests to OCI and re-marshals the
            // config (as podman does); the manifest digest then pins the new config.
            let converted = image == DOCKERTYPES && !docker_archive;
            import_legs(&mut m, "skopeo", label, &out, &want, &|dst| {
                for p in plats.iter().filter(|_| !converted) {
                    // Configs survive every copy (compression changes layers only).
                    assert_eq!(
                        inspect_config(dst, image, p),
                        inspect_config(&store, image, p),
                        "{image} {p} config"
                    );
                }
                if docker_archive {
                    assert_layers_are_diff_ids(dst, image, "linux/amd64");
                }
            });
        }
    }
    m.finish();
}

/// umoci unpacks the rootfs of a one-platform tar (extracted: umoci reads layouts, not tars).
#[test]
fn umoci_unpacks_our_one_platform_tars() {
    let mut m = Matrix::new(
        "umoci_unpacks_our_one_platform_tars",
        versions_of(&[
            imagefs_version(),
            ("umoci", cmd(tool("umoci"), &["--version"])),
        ]),
    );
    let src = Source::new();
    for (n, case) in cases()
        .iter()
        .filter(|c| c.platforms.len() == 1)
        .enumerate()
    {
        for (i, (source, archive)) in src.archives(case).into_iter().enumerate() {
            let format = format!("{source}: {} (tar -x; umoci unpack)", case.label());
            let layout = src.f.path(&format!("umoci-{n}-{i}"));
            fs::create_dir_all(&layout).expect("layout dir");
            run(cmd("tar", &["-xf", p(&archive), "-C", p(&layout)]));
            let bundle = src.f.path(&format!("bundle-{n}-{i}"));
            let mut c = Command::new(tool("umoci"));
            c.args([
                "unpack",
                "--image",
                &format!("{}:{}", p(&layout), tag(case.image)),
                p(&bundle),
            ]);
            let out = output(c);
            // umoci 0.4.7 reads OCI media types only: no zstd layers, no docker manifests.
            let known = match case.image {
                ZSTD => Some(
                    "blob is not correct mediatype: application/vnd.oci.image.layer.v1.tar+zstd",
                ),
                DOCKERTYPES => {
                    Some("not implemented: application/vnd.docker.distribution.manifest.v2+json")
                }
                _ => None,
            };
            if let Some(known) = known {
                m.known_limitation(
                    "umoci",
                    "imagefs → umoci unpack",
                    &format,
                    short(case.image),
                    known,
                    &out,
                );
                continue;
            }
            m.leg(
                "umoci",
                "imagefs → umoci unpack",
                &format,
                short(case.image),
                || {
                    assert!(out.status.success(), "umoci unpack: {}", text(&out.stderr));
                    let rootfs = bundle.join("rootfs");
                    let plat = imagefs::platform::Platform::parse(case.expected())
                        .expect("platform")
                        .normalize();
                    let mut files = vec!["data/base.bin".to_string()];
                    files.push(format!("data/{}-1.bin", plat.file_name()));
                    for file in files {
                        let meta = fs::metadata(rootfs.join(&file))
                            .unwrap_or_else(|e| panic!("{file} not unpacked: {e}"));
                        assert_eq!(meta.len(), 2048, "{file}");
                    }
                    String::new()
                },
            );
        }
    }
    m.finish();
}
