//! The reference model: random sequences of imports (through the mount's `import/` and through
//! the library), `rm`, `gc` and reads of random files at random offsets, run against a real store
//! and checked after every step against a simple model of what the mount must show and what
//! bytes each file must have. This is mountpoint-s3's reference-model testing
//! (mountpoint-s3/tests/reftests: "one definition of correctness", a model state machine
//! compared with the real file system under proptest-generated operations).
//!
//! The model is a map of names to builds plus the set of (build, platform) closures the store
//! holds; which names, directories and platform files are visible is derived from it alone. The
//! expected bytes of a file come from a separate store built from the model: the build written
//! by `imagefs::sample`, with the blobs of the platforms the model says are absent deleted by
//! hand, then exported; so neither the import path nor the real store's history decides them.
//!
//! Cases: `PROPTEST_CASES` (default 32). Failures are persisted to
//! `tests/model.proptest-regressions` and replayed first on every run.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{
    Config, FileFailurePersistence, TestCaseError, TestRunner, contextualize_config,
};

use imagefs::fs::{Caller, FileKind, FsOptions, ImageFs};
use imagefs::gc::{GcOptions, collect_garbage};
use imagefs::sample::SampleSpec;
use imagefs::store::Store;

use common::{Fixture, add, export, small_spec};

/// Names the sequences use: two share a prefix directory, one sits beside it.
const NAMES: [&str; 3] = ["example.com/m/a:1", "example.com/m/b:1", "example.com/c:2"];

/// Platforms: how `--platform` spells it, its architecture, and its file name in the mount
/// (written out, not computed by the code under test). No build has s390x: asking for it must
/// fail the import and change nothing.
const POOL: [(&str, &str, &str); 5] = [
    ("linux/amd64", "amd64", "linux-amd64"),
    ("linux/arm64/v8", "arm64", "linux-arm64"),
    ("linux/arm/v7", "arm", "linux-arm-v7"),
    ("linux/riscv64", "riscv64", "linux-riscv64"),
    ("linux/s390x", "s390x", "linux-s390x"),
];

/// The images that can be imported: a seed and platforms (indexes into `POOL`, in index order).
/// Any name may be given any build, so two names can point to one image.
const BUILDS: [(u64, &[usize]); 3] = [(21, &[0, 1, 3]), (22, &[0, 2]), (23, &[1, 3, 2, 0])];

const OWNER: Caller = Caller {
    uid: 1000,
    gid: 1000,
    pid: 4242,
};

fn fs_options() -> FsOptions {
    FsOptions {
        uid: OWNER.uid,
        gid: OWNER.gid,
        direct_io: false,
        read_only: false,
        dir_mode: None,
        file_mode: None,
    }
}

/// How an archive gets into the store.
#[derive(Clone, Debug)]
enum Via {
    /// `imagefs import - --platform …` (a pipe).
    Stream,
    /// `imagefs import FILE --platform …` (seekable).
    File,
    /// Written into `import/` or `import/<platforms>/` of the mount in requests of `chunk`
    /// bytes, the directory made with mkdir first or only looked up.
    Mount { chunk: usize, mkdir: bool },
}

#[derive(Clone, Debug)]
enum Op {
    /// The archive of build `build` named `NAMES[name]`, filtered to `filter` (empty: all).
    Import {
        name: usize,
        build: usize,
        filter: Vec<usize>,
        via: Via,
    },
    /// `imagefs rm NAME`.
    Rm { name: usize },
    /// `imagefs gc --keep-history 0`.
    Gc,
    /// A read of one of the files the model says are readable, at an offset in it (or past its
    /// end), of `len` bytes.
    Read {
        file: Index,
        offset: Index,
        past_end: bool,
        len: u32,
    },
}

fn via() -> impl Strategy<Value = Via> {
    prop_oneof![
        Just(Via::Stream),
        Just(Via::File),
        (512usize..200_000, any::<bool>()).prop_map(|(chunk, mkdir)| Via::Mount { chunk, mkdir }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let import = (0..NAMES.len(), 0..BUILDS.len())
        .prop_flat_map(|(name, build)| {
            let own = BUILDS[build].1.to_vec();
            let n = own.len();
            let filter = prop_oneof![
                // Mostly platforms the build has (none: all of them) ...
                3 => proptest::sample::subsequence(own, 0..=n),
                // ... sometimes any, so that some imports must fail.
                1 => proptest::sample::subsequence((0..POOL.len()).collect::<Vec<_>>(), 1..=2),
            ];
            (Just(name), Just(build), filter, via())
        })
        .prop_map(|(name, build, filter, via)| Op::Import {
            name,
            build,
            filter,
            via,
        });
    prop_oneof![
        4 => import,
        2 => (0..NAMES.len()).prop_map(|name| Op::Rm { name }),
        2 => Just(Op::Gc),
        3 => (any::<Index>(), any::<Index>(), proptest::bool::weighted(0.1), 0u32..40_000)
            .prop_map(|(file, offset, past_end, len)| Op::Read { file, offset, past_end, len }),
    ]
}

/// What the store must hold.
#[derive(Debug, Default)]
struct Model {
    /// Name -> build.
    names: BTreeMap<usize, usize>,
    /// (build, platform) whose whole closure (manifest, config, layers) the store holds.
    present: BTreeSet<(usize, usize)>,
}

/// A file the model says can be read, and what decides its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum File {
    IndexJson {
        build: usize,
    },
    ManifestJson {
        build: usize,
        platform: usize,
    },
    ConfigJson {
        build: usize,
        platform: usize,
    },
    /// `image.tar` (request empty) or `by-platform/<request joined by +>.tar` of `name` at
    /// `build`, whose present platforms are `held`.
    Archive {
        name: usize,
        build: usize,
        held: Vec<usize>,
        request: Vec<usize>,
    },
}

fn image_dir(name: usize) -> String {
    format!("images/{}", NAMES[name])
}

impl Model {
    /// Whether the import must succeed; if so, its effect.
    fn import(&mut self, name: usize, build: usize, filter: &[usize]) -> bool {
        let own = BUILDS[build].1;
        if filter.iter().any(|p| !own.contains(p)) {
            return false;
        }
        let chosen = if filter.is_empty() { own } else { filter };
        self.present.extend(chosen.iter().map(|&p| (build, p)));
        self.names.insert(name, build);
        true
    }

    fn rm(&mut self, name: usize) -> bool {
        self.names.remove(&name).is_some()
    }

    /// Blobs no name reaches go: the closures of builds no name points to.
    fn gc(&mut self) {
        let named: BTreeSet<usize> = self.names.values().copied().collect();
        self.present.retain(|(b, _)| named.contains(b));
    }

    /// The platforms of `build` the store holds, in pool order.
    fn held(&self, build: usize) -> Vec<usize> {
        (0..POOL.len())
            .filter(|p| self.present.contains(&(build, *p)))
            .collect()
    }

    /// Every node under `images/` the mount must list.
    fn tree(&self) -> BTreeMap<String, FileKind> {
        use FileKind::{Directory as D, RegularFile as F};
        let mut t = BTreeMap::new();
        for (&name, &build) in &self.names {
            let parts: Vec<&str> = NAMES[name].split('/').collect();
            for n in 1..parts.len() {
                t.insert(format!("images/{}", parts[..n].join("/")), D);
            }
            let dir = image_dir(name);
            t.insert(dir.clone(), D);
            t.insert(format!("{dir}/index.json"), F);
            t.insert(format!("{dir}/image.tar"), F);
            t.insert(format!("{dir}/by-platform"), D);
            for p in self.held(build) {
                let f = POOL[p].2;
                t.insert(format!("{dir}/by-platform/{f}.tar"), F);
                t.insert(format!("{dir}/by-platform/{f}"), D);
                t.insert(format!("{dir}/by-platform/{f}/manifest.json"), F);
                t.insert(format!("{dir}/by-platform/{f}/config.json"), F);
                t.insert(format!("{dir}/by-platform/{f}/rootfs"), D);
                t.insert(format!("{dir}/by-platform/{f}/layers"), D);
            }
        }
        t
    }

    /// Every file that must be readable, listed or not (joined platform names, aliases).
    fn files(&self) -> Vec<(String, File)> {
        let mut out = Vec::new();
        for (&name, &build) in &self.names {
            let dir = image_dir(name);
            let held = self.held(build);
            let archive = |request: Vec<usize>| File::Archive {
                name,
                build,
                held: held.clone(),
                request,
            };
            out.push((format!("{dir}/index.json"), File::IndexJson { build }));
            out.push((format!("{dir}/image.tar"), archive(Vec::new())));
            for &platform in &held {
                let f = POOL[platform].2;
                out.push((
                    format!("{dir}/by-platform/{f}.tar"),
                    archive(vec![platform]),
                ));
                out.push((
                    format!("{dir}/by-platform/{f}/manifest.json"),
                    File::ManifestJson { build, platform },
                ));
                out.push((
                    format!("{dir}/by-platform/{f}/config.json"),
                    File::ConfigJson { build, platform },
                ));
                if platform == 1 {
                    out.push((
                        format!("{dir}/by-platform/linux-aarch64.tar"),
                        archive(vec![1]),
                    ));
                }
            }
            if let [first, .., last] = held[..] {
                let joined = format!("{dir}/by-platform/{}+{}.tar", POOL[last].2, POOL[first].2);
                out.push((joined, archive(vec![last, first])));
            }
        }
        out
    }
}

/// A build written by `imagefs::sample` into a store of its own, under one name.
fn spec(name: usize, build: usize) -> SampleSpec {
    let (seed, platforms) = BUILDS[build];
    let list: Vec<&str> = platforms.iter().map(|&p| POOL[p].0).collect();
    SampleSpec {
        seed,
        layer_size: 1024,
        // One build with attestations (kept with the platforms they attest, never listed) and
        // one with Docker media types.
        attestations: build == 1,
        docker_media_types: build == 2,
        ..small_spec(NAMES[name], &list)
    }
}

/// A store in a temp dir, on tmpfs when there is one: every import and sample fsyncs what it
/// writes, which on a disk costs more than everything else a case does.
fn scratch_store() -> Fixture {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("imagefs-model")
            .tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("temp dir");
    let store = Store::open(dir.path().join("store")).expect("open store");
    Fixture { dir, store }
}

/// The blob file of a digest read from the JSON (`sha256:<hex>`).
fn blob_path(root: &std::path::Path, digest: &str) -> std::path::PathBuf {
    root.join(common::blob_name(&digest.parse().expect("sha256 digest")))
}

fn read_json(root: &std::path::Path, digest: &str) -> serde_json::Value {
    common::json(&std::fs::read(blob_path(root, digest)).expect("read blob"))
}

/// Expected bytes, computed once per file and kept for the whole run.
#[derive(Default)]
struct Oracle {
    /// (name, build, held) -> a store holding exactly that.
    stores: HashMap<(usize, usize, Vec<usize>), Fixture>,
    bytes: HashMap<File, Vec<u8>>,
    archives: HashMap<(usize, usize), Vec<u8>>,
}

impl Oracle {
    /// A store with build `build` named `name`, holding only the platforms `held`: the whole
    /// build is written, then the blobs only other platforms use are deleted, found by reading
    /// the index and manifests as JSON here.
    fn store(&mut self, name: usize, build: usize, held: &[usize]) -> &Store {
        let key = (name, build, held.to_vec());
        &self
            .stores
            .entry(key)
            .or_insert_with(|| {
                let fx = scratch_store();
                let target = add(&fx.store, &spec(name, build));
                let root = fx.root().to_path_buf();
                let index = read_json(&root, &target.digest.to_string());
                let (mut keep, mut drop) = (BTreeSet::new(), BTreeSet::new());
                let mut closures: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
                for m in index["manifests"].as_array().expect("manifests") {
                    let digest = m["digest"].as_str().expect("digest").to_string();
                    let manifest = read_json(&root, &digest);
                    let mut blobs = vec![digest.clone()];
                    blobs.push(manifest["config"]["digest"].as_str().unwrap().to_string());
                    for l in manifest["layers"].as_array().unwrap() {
                        blobs.push(l["digest"].as_str().unwrap().to_string());
                    }
                    let subject = m["annotations"]["vnd.docker.reference.digest"]
                        .as_str()
                        .map(str::to_string);
                    let arch = m["platform"]["architecture"].as_str().unwrap().to_string();
                    closures.push((arch, subject, blobs));
                }
                let wanted: BTreeSet<String> = closures
                    .iter()
                    .filter(|(arch, _, _)| held.iter().any(|&p| POOL[p].1 == arch))
                    .map(|(_, _, blobs)| blobs[0].clone())
                    .collect();
                for (_, subject, blobs) in &closures {
                    // An attestation goes with the manifest it attests.
                    let kept = wanted.contains(&blobs[0])
                        || subject.as_ref().is_some_and(|s| wanted.contains(s));
                    if kept { &mut keep } else { &mut drop }.extend(blobs.iter().cloned());
                }
                for d in drop.difference(&keep) {
                    std::fs::remove_file(blob_path(&root, d)).expect("remove blob");
                }
                fx
            })
            .store
    }

    /// The archive of build `build` named `name`, every platform (what gets imported).
    fn archive(&mut self, name: usize, build: usize) -> Vec<u8> {
        if let Some(a) = self.archives.get(&(name, build)) {
            return a.clone();
        }
        let all = BUILDS[build].1.to_vec();
        let bytes = export(self.store(name, build, &all), &[NAMES[name]], &[]);
        self.archives.insert((name, build), bytes.clone());
        bytes
    }

    fn bytes(&mut self, file: &File) -> Vec<u8> {
        if let Some(b) = self.bytes.get(file) {
            return b.clone();
        }
        let document =
            |oracle: &mut Oracle, build: usize, pick: &dyn Fn(&serde_json::Value) -> String| {
                let all = BUILDS[build].1.to_vec();
                let store = oracle.store(0, build, &all);
                let root = store.root().to_path_buf();
                let record = common::find(store, NAMES[0]).remove(0);
                let index = read_json(&root, &record.target.digest.to_string());
                std::fs::read(blob_path(&root, &pick(&index))).expect("read blob")
            };
        let manifest_of = |index: &serde_json::Value, platform: usize| -> String {
            index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["platform"]["architecture"] == POOL[platform].1)
                .expect("platform in build")["digest"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let bytes = match file {
            File::IndexJson { build } => {
                let all = BUILDS[*build].1.to_vec();
                let store = self.store(0, *build, &all);
                let record = common::find(store, NAMES[0]).remove(0);
                std::fs::read(store.root().join(common::blob_name(&record.target.digest)))
                    .expect("read index")
            }
            File::ManifestJson { build, platform } => {
                document(self, *build, &|index| manifest_of(index, *platform))
            }
            File::ConfigJson { build, platform } => {
                let all = BUILDS[*build].1.to_vec();
                let root = self.store(0, *build, &all).root().to_path_buf();
                let manifest = document(self, *build, &|index| manifest_of(index, *platform));
                let config = common::json(&manifest)["config"]["digest"]
                    .as_str()
                    .unwrap()
                    .to_string();
                std::fs::read(blob_path(&root, &config)).expect("read config")
            }
            File::Archive {
                name,
                build,
                held,
                request,
            } => {
                let list: Vec<&str> = request.iter().map(|&p| POOL[p].0).collect();
                export(self.store(*name, *build, held), &[NAMES[*name]], &list)
            }
        };
        self.bytes.insert(file.clone(), bytes.clone());
        bytes
    }
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)+)));
        }
    };
}

fn lookup(fs: &ImageFs, path: &str) -> Result<imagefs::fs::Attr, TestCaseError> {
    let mut attr = fs
        .getattr(1)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    for part in path.split('/') {
        attr = fs
            .lookup(attr.ino, OsStr::new(part), &OWNER)
            .map_err(|e| TestCaseError::fail(format!("lookup {path}: {e:?}")))?;
    }
    Ok(attr)
}

/// Every node under `images/`, by readdir (lookup must agree on each entry).
fn walk(fs: &ImageFs) -> Result<BTreeMap<String, FileKind>, TestCaseError> {
    let mut out = BTreeMap::new();
    let mut todo = vec![("images".to_string(), lookup(fs, "images")?.ino)];
    while let Some((path, dir)) = todo.pop() {
        let entries = fs
            .readdir(dir, &OWNER)
            .map_err(|e| TestCaseError::fail(format!("readdir {path}: {e:?}")))?;
        for e in entries
            .into_iter()
            .filter(|e| e.name != "." && e.name != "..")
        {
            let name = e.name.to_string_lossy().into_owned();
            let child = format!("{path}/{name}");
            let attr = fs
                .lookup(dir, OsStr::new(&e.name), &OWNER)
                .map_err(|err| TestCaseError::fail(format!("lookup of listed {child}: {err:?}")))?;
            ensure!(
                attr.ino == e.ino && attr.kind == e.kind,
                "{child}: readdir and lookup disagree"
            );
            // Inside images the layers decide what is there (tests/rootfs/ checks it).
            if e.kind == FileKind::Directory && name != "rootfs" && name != "layers" {
                todo.push((child.clone(), e.ino));
            }
            out.insert(child, e.kind);
        }
    }
    Ok(out)
}

/// `len` bytes of `path` at `offset` through one open handle.
fn read_at(
    fs: &ImageFs,
    path: &str,
    offset: u64,
    len: u32,
) -> Result<(u64, Vec<u8>), TestCaseError> {
    let attr = lookup(fs, path)?;
    let fh = fs
        .open(attr.ino, libc::O_RDONLY, &OWNER)
        .map_err(|e| TestCaseError::fail(format!("open {path}: {e:?}")))?
        .fh;
    let mut buf = Vec::new();
    let read = fs.read(fh, offset, len, &mut buf);
    fs.release(fh)
        .map_err(|e| TestCaseError::fail(format!("release {path}: {e:?}")))?;
    let n = read.map_err(|e| TestCaseError::fail(format!("read {path} @{offset}+{len}: {e:?}")))?;
    buf.truncate(n);
    Ok((attr.size, buf))
}

/// Writes `bytes` into `import/<filter>/u<seq>.tar` of `fs` as `cp` would; returns whether
/// close(2) succeeded, after checking the errno and the status file agree with it.
fn upload(
    fs: &ImageFs,
    filter: &[usize],
    bytes: &[u8],
    chunk: usize,
    mkdir: bool,
    seq: usize,
) -> Result<bool, TestCaseError> {
    let fail = |what: &str, e: imagefs::fs::FsError| TestCaseError::fail(format!("{what}: {e:?}"));
    let import = lookup(fs, "import")?.ino;
    let dir_name = filter
        .iter()
        .map(|&p| POOL[p].2)
        .collect::<Vec<_>>()
        .join("+");
    let dir = if filter.is_empty() {
        import
    } else if mkdir {
        fs.mkdir(import, OsStr::new(&dir_name), &OWNER)
            .map_err(|e| fail("mkdir", e))?
            .ino
    } else {
        lookup(fs, &format!("import/{dir_name}"))?.ino
    };
    let name = format!("u{seq}.tar");
    let (_, opened) = fs
        .create(
            dir,
            OsStr::new(&name),
            libc::O_WRONLY | libc::O_CREAT,
            &OWNER,
        )
        .map_err(|e| fail("create", e))?;
    let mut result = Ok(());
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        if let Err(e) = fs.write(opened.fh, (i * chunk) as u64, piece) {
            result = Err(e);
            break;
        }
    }
    let flushed = fs.flush(opened.fh, OWNER.pid);
    fs.release(opened.fh).map_err(|e| fail("release", e))?;
    let result = result.and(flushed);
    let status_path = if filter.is_empty() {
        format!("import/.status/{name}.json")
    } else {
        format!("import/{dir_name}/.status/{name}.json")
    };
    let (_, status) = read_at(fs, &status_path, 0, 1 << 20)?;
    let status = common::json(&status);
    match &result {
        Ok(()) => ensure!(
            status["state"] == "loaded",
            "close succeeded, status {status}"
        ),
        Err(e) => {
            ensure!(e.errno().code() == libc::EINVAL, "import failed with {e:?}");
            ensure!(
                status["state"] == "failed",
                "close failed ({e}), status {status}"
            );
        }
    }
    Ok(result.is_ok())
}

/// What the sequences of a run did, so that a generator that stopped producing some kind of
/// step (and made the model vacuous there) fails the test instead of passing it.
#[derive(Debug, Default)]
struct Coverage {
    imports_loaded: usize,
    imports_refused: usize,
    mount_imports: usize,
    removals: usize,
    collections: usize,
    reads: usize,
    reads_at_the_end: usize,
    live_checks: usize,
}

/// Runs one sequence; `live` also checks, after it, that the long-lived mount's view caught up
/// with the store (its catalog is re-read at most every 0.5 s).
fn run(
    ops: &[Op],
    live: bool,
    oracle: &RefCell<Oracle>,
    seen: &RefCell<Coverage>,
) -> Result<(), TestCaseError> {
    let fx = scratch_store();
    let store = &fx.store;
    let mount = ImageFs::new(store.clone(), fs_options());
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        // Each step is checked on a fresh ImageFs (a remount), which reads the store now.
        let fs = ImageFs::new(store.clone(), fs_options());
        match op {
            Op::Import {
                name,
                build,
                filter,
                via,
            } => {
                let bytes = oracle.borrow_mut().archive(*name, *build);
                let list: Vec<&str> = filter.iter().map(|&p| POOL[p].0).collect();
                let ok = match via {
                    Via::Stream => common::import_bytes(store, &bytes, &list).is_ok(),
                    Via::File => {
                        let path = fx.path(&format!("archive-{step}.tar"));
                        std::fs::write(&path, &bytes).expect("write archive");
                        common::import_path(store, &path, &list).is_ok()
                    }
                    Via::Mount { chunk, mkdir } => {
                        seen.borrow_mut().mount_imports += 1;
                        upload(&mount, filter, &bytes, *chunk, *mkdir, step)?
                    }
                };
                let mut seen = seen.borrow_mut();
                *if ok {
                    &mut seen.imports_loaded
                } else {
                    &mut seen.imports_refused
                } += 1;
                let want = model.import(*name, *build, filter);
                ensure!(
                    ok == want,
                    "step {step} {op:?}: import succeeded={ok}, model says {want}"
                );
            }
            Op::Rm { name } => {
                // As `imagefs rm` does it: the record of that name leaves the image list.
                let removed = store
                    .update_images(|images| {
                        let before = images.len();
                        images.retain(|r| r.name().is_none_or(|n| n.to_string() != NAMES[*name]));
                        Ok(before - images.len())
                    })
                    .expect("rm");
                seen.borrow_mut().removals += removed;
                let want = model.rm(*name);
                ensure!(
                    (removed == 1) == want,
                    "step {step} rm: removed {removed}, model {want}"
                );
            }
            Op::Gc => {
                let options = GcOptions {
                    timeout: Some(Duration::from_secs(30)),
                    keep_history: Duration::ZERO,
                };
                let report = collect_garbage(store, &options, |_| {}).expect("gc");
                ensure!(report.unreadable.is_empty(), "gc: {:?}", report.unreadable);
                seen.borrow_mut().collections += 1;
                model.gc();
            }
            Op::Read {
                file,
                offset,
                past_end,
                len,
            } => {
                let files = model.files();
                if files.is_empty() {
                    continue;
                }
                let (path, what) = &files[file.index(files.len())];
                let want = oracle.borrow_mut().bytes(what);
                let offset = if *past_end {
                    want.len() as u64 + offset.index(1 << 20) as u64
                } else {
                    offset.index(want.len().max(1)) as u64
                };
                let (size, got) = read_at(&fs, path, offset, *len)?;
                ensure!(
                    size == want.len() as u64,
                    "step {step} {path}: size {size}, want {}",
                    want.len()
                );
                let start = (offset as usize).min(want.len());
                let end = (offset as usize)
                    .saturating_add(*len as usize)
                    .min(want.len());
                let mut seen = seen.borrow_mut();
                seen.reads += 1;
                seen.reads_at_the_end += usize::from(end == want.len() && end > start);
                ensure!(
                    got == want[start..end],
                    "step {step} {path} @{offset}+{len}: {} bytes differ from the expected {}",
                    got.len(),
                    end - start
                );
            }
        }
        let shown = walk(&fs)?;
        let expected = model.tree();
        ensure!(
            shown == expected,
            "after step {step} {op:?}: the mount shows\n{:#?}\nthe model says\n{:#?}",
            shown.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        // Every readable file, listed or not, has the size of its expected bytes.
        for (path, what) in model.files() {
            let want = oracle.borrow_mut().bytes(&what).len() as u64;
            let size = lookup(&fs, &path)?.size;
            ensure!(
                size == want,
                "after step {step} {op:?}: {path} is {size} bytes, the model's is {want}"
            );
        }
    }
    if live {
        seen.borrow_mut().live_checks += 1;
        std::thread::sleep(Duration::from_millis(600));
        let shown = walk(&mount)?;
        ensure!(
            shown == model.tree(),
            "the long-lived mount did not catch up: {shown:#?}"
        );
        for (path, what) in model.files() {
            let want = oracle.borrow_mut().bytes(&what);
            let (_, got) = read_at(&mount, &path, 0, want.len() as u32 + 1)?;
            ensure!(
                got == want,
                "the long-lived mount serves other bytes for {path}"
            );
        }
    }
    Ok(())
}

#[test]
fn mount_and_store_agree_with_the_model_over_random_sequences() {
    let config = contextualize_config(Config {
        cases: 32,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/model.proptest-regressions"
        )))),
        source_file: Some(file!()),
        ..Config::default()
    });
    let cases = config.cases;
    let oracle = RefCell::new(Oracle::default());
    let seen = RefCell::new(Coverage::default());
    let mut runner = TestRunner::new(config);
    let strategy = (
        proptest::collection::vec(op(), 1..16),
        proptest::bool::weighted(0.25),
    );
    if let Err(e) = runner.run(&strategy, |(ops, live)| run(&ops, live, &oracle, &seen)) {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    println!("{cases} cases: {seen:?}");
    // With the default number of cases, every kind of step happens (a run with a handful of
    // cases, PROPTEST_CASES=4, may legitimately miss one).
    if cases >= 32 {
        let counts = [
            seen.imports_loaded,
            seen.imports_refused,
            seen.mount_imports,
            seen.removals,
            seen.collections,
            seen.reads,
            seen.reads_at_the_end,
            seen.live_checks,
        ];
        assert!(
            counts.iter().all(|&n| n > 0),
            "a kind of step never ran: {seen:?}"
        );
    }
}
