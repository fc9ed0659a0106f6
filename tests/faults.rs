//! Kill -9 at random points, with the built binary and real mounts: CLI imports from a file
//! and from a pipe, and the mount process while `cp` writes an archive into `import/`. After
//! every kill the store must pass `imagefs fsck`, show no partial image (`imagefs ls --json`:
//! the imported image is absent or complete with exactly the platforms asked for, the image
//! that was there before is untouched), and take the same import again; `gc` afterwards leaves
//! `fsck` clean.
//!
//! Kill points are drawn from a seeded generator, printed at the start of each test; set
//! `IMAGEFS_FAULT_SEED=N` to replay a run and `IMAGEFS_FAULT_KILLS=N` for a longer campaign.
//! A point is one of: a delay from the start (anywhere in the import), a byte count reached by
//! the temp files in `ingest/` (spooling or staging), a count of new blobs published in
//! `blobs/sha256/` (publishing), or, with the test holding the store's `index.lock` (the lock
//! every `index.json` update takes, see src/store/mod.rs), the moment every blob is published:
//! the importer is then inside the `index.json` update, killed while it waits for the lock or a
//! random instant after the test releases it.
//!
//! Temp files left in `ingest/` by a killed writer are reported, not asserted on: only that
//! nothing of them is visible as an image or a blob.
//!
//! This file holds the lab the tests share; the tests are in faults/cli.rs (file and pipe),
//! faults/mount.rs (the mount) and faults/full_disk.rs (a full disk, no kill).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{check, gzip, output, text};
use rand::Rng;
use rand::rngs::StdRng;

#[path = "faults/cli.rs"]
mod cli;
#[path = "faults/full_disk.rs"]
mod full_disk;
#[path = "faults/mount.rs"]
mod mount;

const TARGET: &str = "example.com/faults/app:1";
const TARGET_DIR: &str = "images/example.com/faults/app:1";
const BYSTANDER: &str = "example.com/faults/bystander:1";
const SEED_ENV: &str = "IMAGEFS_FAULT_SEED";
const KILLS_ENV: &str = "IMAGEFS_FAULT_KILLS";
/// How long anything the test waits for may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs a command that must succeed, `ctx` (the round) leading the failure; its stdout.
#[track_caller]
fn ok(cmd: &mut Command, ctx: &str) -> String {
    text(&check(cmd).unwrap_or_else(|e| panic!("{ctx}: {e}")).stdout)
}

/// The run's seed: `IMAGEFS_FAULT_SEED`, else the clock. Printed so that a failure can be replayed.
fn seed(test: &str) -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_ENV}={v} is not a number")),
        Err(_) => SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos() as u64,
    };
    eprintln!("{test}: seed {seed} (replay: {SEED_ENV}={seed} cargo test --test faults {test})");
    seed
}

fn kills(default: usize) -> usize {
    std::env::var(KILLS_ENV)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{KILLS_ENV}={v}")))
        .unwrap_or(default)
}

/// What an import asks for, and what the image must then show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Request {
    All,
    Arm64,
}

impl Request {
    fn cli_args(self) -> &'static [&'static str] {
        match self {
            Request::All => &[],
            Request::Arm64 => &["--platform", "linux/arm64"],
        }
    }

    fn import_dir(self) -> &'static str {
        match self {
            Request::All => "import",
            Request::Arm64 => "import/linux-arm64",
        }
    }

    /// The platforms `ls` must show, as `ls` writes them.
    fn expected(self) -> Vec<String> {
        let list: &[&str] = match self {
            Request::All => &["linux/amd64", "linux/arm64", "linux/riscv64"],
            Request::Arm64 => &["linux/arm64"],
        };
        list.iter().map(|s| s.to_string()).collect()
    }

    fn pick(rng: &mut StdRng) -> Request {
        if rng.random_bool(0.5) {
            Request::All
        } else {
            Request::Arm64
        }
    }
}

/// One image as `imagefs ls --json` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Listed {
    digest: String,
    platforms: Vec<String>,
}

/// A clean import of each request, measured once: how long it takes, how many blobs it
/// publishes, and the image it gives.
#[derive(Clone, Debug)]
struct Profile {
    duration: Duration,
    published: usize,
    image: Listed,
}

/// Where a kill is aimed.
#[derive(Clone, Copy, Debug)]
enum Trigger {
    /// This long after the writer started.
    Delay(Duration),
    /// Once the temp files in `ingest/` hold this many more bytes than at the start.
    Ingested(u64),
    /// Once this many new blobs are in `blobs/sha256/`.
    Published(usize),
    /// The test holds `index.lock`; once every blob is published, kill while the importer
    /// waits for the lock (`None`) or this long after the test releases it.
    IndexLock(Option<Duration>),
}

impl Trigger {
    fn kind(&self) -> &'static str {
        match self {
            Trigger::Delay(_) => "delay",
            Trigger::Ingested(_) => "ingest bytes",
            Trigger::Published(_) => "blobs published",
            Trigger::IndexLock(None) => "index lock held",
            Trigger::IndexLock(Some(_)) => "index lock released",
        }
    }

    /// A trigger of kind `kind % KINDS` (each campaign cycles through the kinds, so that in
    /// `KINDS` rounds each is used), with a random parameter.
    fn pick(kind: usize, rng: &mut StdRng, profile: &Profile, archive_len: u64) -> Trigger {
        match kind % KINDS {
            0 | 1 => {
                let max = profile.duration.as_micros() as u64 + 1;
                Trigger::Delay(Duration::from_micros(rng.random_range(0..max)))
            }
            // Early in the spooling or staging, whatever the request: a filtered import stages
            // about two fifths of the archive before it publishes anything.
            2 => Trigger::Ingested(rng.random_range(0..archive_len / 8)),
            3 => Trigger::Published(rng.random_range(1..=profile.published.max(1))),
            4 => Trigger::IndexLock(None),
            _ => Trigger::IndexLock(Some(Duration::from_micros(rng.random_range(0..3000)))),
        }
    }
}

/// Trigger kinds `Trigger::pick` cycles through.
const KINDS: usize = 6;

/// Where the kill landed, judged from the store afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Landed {
    /// The writer had exited on its own before the kill.
    Finished,
    /// No new blob published: spooling or staging.
    BeforePublishing,
    /// Some of the new blobs published.
    Publishing,
    /// Every blob published, the image not yet named: the `index.json` update.
    BeforeNaming,
    /// The image named.
    Named,
}

/// A kill being aimed: the trigger, the store's blob count and ingest bytes before the writer
/// started, the index lock when the trigger holds it, and the start time.
struct Aim {
    trigger: Trigger,
    base: (usize, u64),
    lock: Option<Flock>,
    start: Instant,
}

/// What a kill strikes.
trait Victim {
    /// Whether the writer ended on its own.
    fn exited(&mut self) -> bool;
    /// SIGKILL, and wait until the process is gone.
    fn kill(&mut self);
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map(|rd| rd.count()).unwrap_or(0)
}

/// Total bytes and names of the files in `dir`.
fn dir_bytes(dir: &Path) -> (u64, Vec<String>) {
    let mut total = 0;
    let mut names = Vec::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
            names.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    (total, names)
}

/// Counts names by their prefix up to the first '-' (`ingest-`, `upload-`, …).
fn tally_prefixes(tally: &mut BTreeMap<String, usize>, names: Vec<String>) {
    for n in names {
        let prefix = n.split_inclusive('-').next().unwrap_or(&n).to_string();
        *tally.entry(prefix).or_default() += 1;
    }
}

/// An exclusive `flock` on a file, released when the file closes (on drop).
struct Flock(#[allow(dead_code)] fs::File);

impl Flock {
    fn exclusive(path: &Path) -> Flock {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .expect("open lock file");
        // SAFETY: a valid open fd; flock touches no memory.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock {}", path.display());
        Flock(f)
    }
}

/// A store holding a bystander image, and archives of the target image from another store.
struct Lab {
    dir: tempfile::TempDir,
    store: PathBuf,
    archive: PathBuf,
    archive_gz: PathBuf,
    bystander: Listed,
    seed: u64,
    /// Kills by trigger kind and landing.
    tally: BTreeMap<(&'static str, Landed), usize>,
    /// Temp files found in `ingest/` after kills (summed over rounds), and after the last `gc`,
    /// by prefix.
    leftovers_after_kill: BTreeMap<String, usize>,
    leftovers_after_gc: BTreeMap<String, usize>,
}

impl Lab {
    fn new(seed: u64) -> Lab {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path().join("store");
        let src = dir.path().join("src");
        // Three platforms, four 512 KiB layers each (one shared), with attestations: about
        // 5 MiB in 23 blobs. Incompressible stored-gzip layers are quick to generate.
        ok(
            imagefs(&src).args([
                "sample",
                "--name",
                TARGET,
                "--platform",
                "linux/amd64,linux/arm64,linux/riscv64",
                "--layers",
                "4",
                "--layer-size",
                "524288",
                "--stored",
                "--seed",
                "7",
            ]),
            "sample target",
        );
        let archive = dir.path().join("app.tar");
        ok(
            imagefs(&src).args(["export", TARGET, "-o"]).arg(&archive),
            "export target",
        );
        let archive_gz = dir.path().join("app.tar.gz");
        fs::write(&archive_gz, gzip(&fs::read(&archive).unwrap())).unwrap();
        sample_bystander(&store, "sample bystander");
        let mut lab = Lab {
            dir,
            store,
            archive,
            archive_gz,
            bystander: Listed {
                digest: String::new(),
                platforms: Vec::new(),
            },
            seed,
            tally: BTreeMap::new(),
            leftovers_after_kill: BTreeMap::new(),
            leftovers_after_gc: BTreeMap::new(),
        };
        let listed = lab.ls("setup");
        lab.bystander = listed
            .get(BYSTANDER)
            .cloned()
            .expect("bystander image listed");
        assert_eq!(
            lab.bystander.platforms.len(),
            4,
            "bystander: {:?}",
            lab.bystander
        );
        lab
    }

    fn cmd(&self) -> Command {
        imagefs(&self.store)
    }

    fn blobs(&self) -> usize {
        count_files(&self.store.join("blobs/sha256"))
    }

    fn ingest(&self) -> (u64, Vec<String>) {
        dir_bytes(&self.store.join("ingest"))
    }

    fn archive_len(&self) -> u64 {
        fs::metadata(&self.archive).unwrap().len()
    }

    /// `imagefs ls --json`, by name.
    fn ls(&self, ctx: &str) -> BTreeMap<String, Listed> {
        let out = ok(self.cmd().args(["ls", "--json"]), ctx);
        let list: serde_json::Value = serde_json::from_str(&out).expect("ls --json is JSON");
        let mut map = BTreeMap::new();
        for item in list.as_array().expect("ls --json is a list") {
            let name = item["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{ctx}: an image without name appeared: {item}"));
            let mut platforms: Vec<String> = item["platforms"]
                .as_array()
                .expect("platforms list")
                .iter()
                .map(|p| p.as_str().expect("platform string").to_string())
                .collect();
            platforms.sort();
            let old = map.insert(
                name.to_string(),
                Listed {
                    digest: item["digest"].as_str().expect("digest").to_string(),
                    platforms,
                },
            );
            assert!(old.is_none(), "{ctx}: {name} listed twice");
        }
        map
    }

    fn fsck_clean(&self, ctx: &str) {
        let out = ok(self.cmd().arg("fsck"), &format!("{ctx}: fsck"));
        assert!(out.contains("no problems"), "{ctx}: fsck said {out}");
    }

    /// `fsck` right after a kill: no problem with any blob or image. Temp files a killed writer
    /// left in `ingest/` may be reported (reclaiming them is `gc`'s job), nothing else.
    fn fsck_no_blob_or_image_problem(&self, ctx: &str) {
        let out = output(self.cmd().arg("fsck"));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        if out.status.success() {
            assert!(stdout.contains("no problems"), "{ctx}: fsck said {stdout}");
            return;
        }
        let problems: Vec<&str> = stdout.lines().collect();
        assert!(
            !problems.is_empty()
                && problems.iter().all(|l| l.contains("ingest")
                    && !l.starts_with("blob ")
                    && !l.starts_with("image ")),
            "{ctx}: fsck found problems other than temp files in ingest/ ({}):\n{stdout}{stderr}",
            out.status
        );
    }

    /// The store after a kill: no blob or image problem, the bystander untouched, the target
    /// absent or exactly as a clean import leaves it. Returns whether the target is there.
    fn check_after_kill(&mut self, profile: &Profile, ctx: &str) -> bool {
        self.fsck_no_blob_or_image_problem(ctx);
        let listed = self.ls(ctx);
        assert_eq!(
            listed.get(BYSTANDER),
            Some(&self.bystander),
            "{ctx}: the image that was there before changed"
        );
        let names: Vec<_> = listed.keys().filter(|n| *n != BYSTANDER).collect();
        assert!(
            names.iter().all(|n| *n == TARGET),
            "{ctx}: unexpected images {names:?}"
        );
        let temps = self.ingest().1;
        tally_prefixes(&mut self.leftovers_after_kill, temps);
        match listed.get(TARGET) {
            None => false,
            Some(image) => {
                assert_eq!(
                    image, &profile.image,
                    "{ctx}: a partial or different image is visible"
                );
                true
            }
        }
    }

    fn assert_imported(&self, request: Request, profile: &Profile, ctx: &str) {
        let listed = self.ls(ctx);
        assert_eq!(
            listed.get(TARGET),
            Some(&profile.image),
            "{ctx}: re-import of {request:?}"
        );
        assert_eq!(listed.get(BYSTANDER), Some(&self.bystander), "{ctx}");
    }

    /// Back to the starting state after a successful import: the target removed and
    /// collected; `fsck` clean.
    fn reset(&mut self, ctx: &str) {
        ok(self.cmd().args(["rm", TARGET]), ctx);
        ok(self.cmd().arg("gc"), &format!("{ctx}: gc"));
        self.leftovers_after_gc.clear();
        let temps = self.ingest().1;
        tally_prefixes(&mut self.leftovers_after_gc, temps);
        self.fsck_clean(&format!("{ctx}: after gc"));
    }

    /// Records a clean import's figures. `run` imports and returns once it is done.
    fn profile(&mut self, request: Request, mut run: impl FnMut(&Lab)) -> Profile {
        let before = self.blobs();
        let start = Instant::now();
        run(self);
        let duration = start.elapsed();
        let published = self.blobs() - before;
        let listed = self.ls("profile");
        let image = listed
            .get(TARGET)
            .cloned()
            .unwrap_or_else(|| panic!("profile {request:?}: {TARGET} not imported"));
        assert_eq!(
            image.platforms,
            request.expected(),
            "a clean import of {request:?} shows the wrong platforms"
        );
        self.reset("profile");
        eprintln!(
            "  clean import {request:?}: {} ms, {published} blobs published",
            duration.as_millis()
        );
        Profile {
            duration,
            published,
            image,
        }
    }

    /// Prepares a kill: the store's state before the writer starts, and the index lock taken
    /// when the trigger needs it. Start the writer right after.
    fn aim(&self, trigger: Trigger) -> Aim {
        Aim {
            trigger,
            base: (self.blobs(), self.ingest().0),
            lock: matches!(trigger, Trigger::IndexLock(_))
                .then(|| Flock::exclusive(&self.store.join("index.lock"))),
            start: Instant::now(),
        }
    }

    /// Waits for the aimed point, kills the victim there, and returns where the kill landed.
    /// A writer that ends on its own before the kill makes `profile`'s duration shorter, so that
    /// later delays fall inside the import.
    fn strike(
        &mut self,
        aim: Aim,
        profile: &mut Profile,
        victim: &mut dyn Victim,
        ctx: &str,
    ) -> Landed {
        let Aim {
            trigger,
            base,
            mut lock,
            start,
        } = aim;
        let published = |lab: &Lab| lab.blobs().saturating_sub(base.0);
        let mut finished = false;
        loop {
            if victim.exited() {
                finished = true;
                profile.duration = profile.duration.min(start.elapsed());
                break;
            }
            let fire = match trigger {
                Trigger::Delay(d) => start.elapsed() >= d,
                Trigger::Ingested(n) => self.ingest().0.saturating_sub(base.1) >= n,
                Trigger::Published(k) => published(self) >= k,
                Trigger::IndexLock(after) => {
                    if published(self) >= profile.published {
                        // Let the importer get from its last rename to the lock.
                        std::thread::sleep(Duration::from_millis(20));
                        if let Some(d) = after {
                            lock.take();
                            std::thread::sleep(d);
                        }
                        true
                    } else {
                        false
                    }
                }
            };
            if fire {
                break;
            }
            assert!(
                start.elapsed() < PATIENCE,
                "{ctx}: {trigger:?} never happened"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        victim.kill();
        drop(lock);
        let landed = if finished {
            Landed::Finished
        } else if self.ls(ctx).contains_key(TARGET) {
            Landed::Named
        } else {
            match published(self) {
                0 => Landed::BeforePublishing,
                k if k < profile.published => Landed::Publishing,
                _ => Landed::BeforeNaming,
            }
        };
        *self.tally.entry((trigger.kind(), landed)).or_default() += 1;
        landed
    }

    fn summary(&self, test: &str, started: Instant) {
        let mut by_landing: BTreeMap<Landed, usize> = BTreeMap::new();
        for ((_, landed), n) in &self.tally {
            *by_landing.entry(*landed).or_default() += n;
        }
        eprintln!(
            "{test}: seed {} done in {:.1} s; kills by landing: {by_landing:?}",
            self.seed,
            started.elapsed().as_secs_f64()
        );
        for ((kind, landed), n) in &self.tally {
            eprintln!("  {kind:>20} -> {landed:?}: {n}");
        }
        eprintln!(
            "  temp files in ingest/ by prefix: {:?} after kills (summed over rounds), {:?} after the last gc",
            self.leftovers_after_kill, self.leftovers_after_gc
        );
    }

    /// With at least `KINDS` rounds, the kills landed before publishing (spooling, staging)
    /// and in the `index.json` update at least once each. Both are reached by construction (an
    /// early ingest-bytes trigger, the held index lock); a landing between two blob renames
    /// depends on timing and is only reported.
    fn assert_coverage(&self, test: &str, rounds: usize) {
        if rounds < KINDS {
            eprintln!("{test}: {rounds} rounds use only some trigger kinds; coverage not checked");
            return;
        }
        for want in [Landed::BeforePublishing, Landed::BeforeNaming] {
            assert!(
                self.tally.keys().any(|(_, l)| *l == want),
                "{test} (seed {}): no kill landed {want:?}; tally {:?}",
                self.seed,
                self.tally
            );
        }
    }
}

/// Adds the bystander image (one 4 KiB layer per platform) to `store`.
fn sample_bystander(store: &Path, ctx: &str) {
    ok(
        imagefs(store).args([
            "sample",
            "--name",
            BYSTANDER,
            "--layers",
            "1",
            "--layer-size",
            "4096",
        ]),
        ctx,
    );
}

/// `imagefs -q` on a store: the tests read stdout and errors only.
fn imagefs(store: &Path) -> Command {
    let mut c = common::imagefs(store);
    c.arg("-q");
    c
}

/// `imagefs import` of a file, or of a pipe fed by a thread.
enum Feed {
    File(PathBuf),
    Pipe(Arc<Vec<u8>>),
}

/// `imagefs import` of a feed, running: a victim, or a clean import (`finish`).
struct Importer {
    child: Child,
    feeder: Option<std::thread::JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Importer {
    fn spawn(store: &Path, request: Request, feed: &Feed) -> Importer {
        let mut cmd = imagefs(store);
        cmd.arg("import").args(request.cli_args());
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        match feed {
            Feed::File(path) => {
                cmd.arg(path).stdin(Stdio::null());
            }
            Feed::Pipe(_) => {
                cmd.arg("-").stdin(Stdio::piped());
            }
        }
        let mut child = cmd.spawn().expect("spawn imagefs import");
        let feeder = match feed {
            Feed::Pipe(bytes) => {
                let mut input = child.stdin.take().expect("stdin");
                let bytes = bytes.clone();
                // After a kill the write fails (EPIPE): expected.
                Some(std::thread::spawn(move || {
                    let _ = input.write_all(&bytes);
                }))
            }
            Feed::File(_) => None,
        };
        Importer {
            child,
            feeder,
            status: None,
        }
    }

    fn exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status.is_some()
    }

    fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = Some(self.child.wait().expect("wait"));
        }
        if let Some(f) = self.feeder.take() {
            f.join().expect("feeder thread");
        }
    }

    /// Waits for the import to end on its own: its status and stderr.
    fn finish(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().expect("wait");
        self.status = Some(status);
        self.kill();
        (status, self.stderr())
    }

    fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}
