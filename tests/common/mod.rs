//! Shared fixtures for the integration tests: stores holding real multi-platform images built by
//! `imagefs::sample`, exports and imports through the library, raw tar reading and writing (so
//! tests can build hostile archives the `tar` crate would refuse to write), and store snapshots.
//! The submodules hold the rest, one home each: `needs` (what a test needs from the machine and
//! the skip policy, `IMAGEFS_TEST_SKIP`), `process` (running `imagefs` and other programs) and
//! `mount` (the mount guard, tmpfs).

// Each test binary uses a part of these helpers.
#![allow(dead_code, unused_imports, unused_macros)]
// ExportError and ImportError carry diagnosis by value, as in the library (see src/lib.rs).
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use imagefs::archive::{
    self, ArchivePlan, ExportError, ExportRequest, ImportError, ImportOptions, LoadedImage,
};
use imagefs::digest::Digest;
use imagefs::image::{ImageGraph, ImageQuery};
use imagefs::oci::Descriptor;
use imagefs::platform::Platform;
use imagefs::reference::Reference;
use imagefs::sample::{LayerCompression, SampleSpec, write_sample};
use imagefs::store::{ImageRecord, Store};
use tempfile::TempDir;

mod mount;
mod needs;
mod process;

pub(crate) use mount::*;
pub(crate) use needs::needs;
pub(crate) use needs::{SKIP_ENV, check_needs, find_tool, probe, tool};
pub(crate) use process::*;

/// A store in its own temp dir (removed on drop).
pub(crate) struct Fixture {
    pub dir: TempDir,
    pub store: Store,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("store")).expect("open store");
        Fixture { dir, store }
    }

    pub(crate) fn root(&self) -> &Path {
        self.store.root()
    }

    /// A scratch path next to the store.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

pub(crate) fn platform(s: &str) -> Platform {
    Platform::parse(s).expect("valid platform literal")
}

pub(crate) fn platforms(list: &[&str]) -> Vec<Platform> {
    list.iter().map(|p| platform(p)).collect()
}

/// A small image: `platforms` in index order, two gzip layers each (the first shared), 2 KiB of
/// content per layer, no attestations.
pub(crate) fn small_spec(name: &str, list: &[&str]) -> SampleSpec {
    SampleSpec {
        name: Some(
            Reference::parse_normalized(name)
                .expect("valid name")
                .with_default_tag(),
        ),
        platforms: platforms(list),
        layers: 2,
        layer_size: 2048,
        compression: LayerCompression::Gzip,
        docker_media_types: false,
        attestations: false,
        shared_base: true,
        single_manifest: false,
        seed: 1,
    }
}

/// The three-platform image most tests use.
pub(crate) const THREE: [&str; 3] = ["linux/amd64", "linux/arm64/v8", "linux/riscv64"];

pub(crate) fn add(store: &Store, spec: &SampleSpec) -> Descriptor {
    write_sample(store, spec).expect("write sample image")
}

/// Store records a REF names (export's rules: a bare name means every tag).
pub(crate) fn find(store: &Store, query: &str) -> Vec<ImageRecord> {
    ImageQuery::parse(query, true)
        .and_then(|q| q.find(store, query))
        .unwrap_or_else(|e| panic!("find {query}: {e}"))
}

pub(crate) fn plan(
    store: &Store,
    refs: &[&str],
    list: &[&str],
) -> Result<ArchivePlan, ExportError> {
    let mut images = Vec::new();
    for r in refs {
        images.extend(find(store, r));
    }
    ArchivePlan::build(
        store,
        &ExportRequest {
            images,
            platforms: platforms(list),
        },
    )
}

/// The streamed archive bytes of an export.
pub(crate) fn export(store: &Store, refs: &[&str], list: &[&str]) -> Vec<u8> {
    let plan = plan(store, refs, list).expect("plan export");
    stream(&plan)
}

pub(crate) fn stream(plan: &ArchivePlan) -> Vec<u8> {
    let mut out = Vec::new();
    archive::write_archive(plan, &mut out, &mut |_| {}).expect("write archive");
    out
}

pub(crate) fn options(list: &[&str]) -> ImportOptions {
    ImportOptions {
        platforms: platforms(list),
    }
}

/// Imports from an in-memory stream (the pipe path).
pub(crate) fn import_bytes(
    store: &Store,
    bytes: &[u8],
    list: &[&str],
) -> Result<Vec<LoadedImage>, ImportError> {
    archive::import_stream(store, bytes, &options(list), &Arc::new(AtomicU64::new(0)))
}

/// Imports from a regular file (the seeking path when uncompressed).
pub(crate) fn import_path(
    store: &Store,
    path: &Path,
    list: &[&str],
) -> Result<Vec<LoadedImage>, ImportError> {
    archive::import_file(store, path, &options(list), &Arc::new(AtomicU64::new(0)))
}

/// The manifest digest and its children (config, layers) of one platform of a stored image.
pub(crate) fn platform_closure(store: &Store, name: &str, p: &str) -> (Digest, Vec<Digest>) {
    let record = find(store, name).remove(0);
    let graph = ImageGraph::of_record(store, &record).expect("image graph");
    let chosen = graph.select_one(&platform(p)).expect("platform present");
    (
        chosen.descriptor.digest,
        chosen.children.iter().map(|d| d.digest).collect(),
    )
}

/// Per-platform manifest digests of a stored image, keyed by normalised platform.
pub(crate) fn manifest_digests(store: &Store, name: &str) -> BTreeMap<String, Digest> {
    let record = find(store, name).remove(0);
    let graph = ImageGraph::of_record(store, &record).expect("image graph");
    graph
        .manifests
        .iter()
        .filter(|m| m.is_complete())
        .map(|m| {
            (
                m.platform
                    .as_ref()
                    .map(|p| p.normalize().format_all())
                    .unwrap_or_default(),
                m.descriptor.digest,
            )
        })
        .collect()
}

pub(crate) fn blob_set(store: &Store) -> BTreeSet<Digest> {
    store
        .list_blobs()
        .expect("list blobs")
        .into_iter()
        .collect()
}

/// Every file and directory under `root`, with file contents: the whole observable state.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                out.insert(format!("{rel}/"), None);
                walk(root, &path, out);
            } else {
                out.insert(rel, Some(std::fs::read(&path).expect("read file")));
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// Names of the files left in the store's ingest directory.
pub(crate) fn ingest_leftovers(store: &Store) -> Vec<String> {
    match std::fs::read_dir(store.root().join("ingest")) {
        Ok(rd) => rd
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Asserts that the store is byte-for-byte as in `before` (the lock files that any command
/// creates on first use aside) and that no temp file is left in `ingest/`.
pub(crate) fn assert_unchanged(store: &Store, before: &BTreeMap<String, Option<Vec<u8>>>) {
    let is_lock = |k: &String| k.ends_with(".lock");
    let after = snapshot(store.root());
    let a: BTreeMap<_, _> = before.iter().filter(|(k, _)| !is_lock(k)).collect();
    let b: BTreeMap<_, _> = after.iter().filter(|(k, _)| !is_lock(k)).collect();
    let added: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    let removed: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let changed: Vec<_> = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|w| w != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        added.is_empty() && removed.is_empty() && changed.is_empty(),
        "store changed: added {added:?}, removed {removed:?}, changed {changed:?}"
    );
    assert_eq!(ingest_leftovers(store), Vec::<String>::new(), "ingest dir");
}

/// One entry of a tar archive, as read.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: Option<String>,
    pub data: Vec<u8>,
    /// The raw 512-byte header.
    pub header: Vec<u8>,
}

impl Entry {
    pub(crate) fn file(name: &str, data: &[u8]) -> Entry {
        Entry {
            name: name.to_string(),
            kind: tar::EntryType::Regular,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            link: None,
            data: data.to_vec(),
            header: Vec::new(),
        }
    }

    pub(crate) fn dir(name: &str) -> Entry {
        Entry {
            kind: tar::EntryType::Directory,
            mode: 0o755,
            ..Entry::file(name, b"")
        }
    }

    pub(crate) fn link(name: &str, kind: tar::EntryType, target: &str) -> Entry {
        Entry {
            kind,
            link: Some(target.to_string()),
            ..Entry::file(name, b"")
        }
    }

    pub(crate) fn special(name: &str, kind: tar::EntryType) -> Entry {
        Entry {
            kind,
            ..Entry::file(name, b"")
        }
    }
}

/// Every entry of a tar (plain), in order.
pub(crate) fn read_tar(bytes: &[u8]) -> Vec<Entry> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let h = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).expect("entry data");
        out.push(Entry {
            name: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            kind: h.entry_type(),
            mode: h.mode().expect("mode"),
            uid: h.uid().expect("uid"),
            gid: h.gid().expect("gid"),
            mtime: h.mtime().expect("mtime"),
            link: entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            data,
            header: h.as_bytes().to_vec(),
        });
    }
    out
}

/// The content of the entry called `name`.
pub(crate) fn entry<'a>(entries: &'a [Entry], name: &str) -> &'a Entry {
    entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("archive has no {name}"))
}

/// Writes `entries` as a USTAR tar with two zero blocks at the end. Names and link targets are
/// copied into the header verbatim (no validation), so hostile paths can be written.
pub(crate) fn write_tar(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&raw_header(e));
        out.extend_from_slice(&e.data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn raw_header(e: &Entry) -> [u8; 512] {
    let mut h = tar::Header::new_ustar();
    {
        let u = h.as_ustar_mut().expect("ustar header");
        assert!(
            e.name.len() <= 100,
            "name too long for raw header: {}",
            e.name
        );
        u.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        if let Some(link) = &e.link {
            assert!(link.len() <= 100);
            u.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
    }
    h.set_entry_type(e.kind);
    h.set_mode(e.mode);
    h.set_uid(e.uid);
    h.set_gid(e.gid);
    h.set_mtime(e.mtime);
    h.set_size(e.data.len() as u64);
    h.set_cksum();
    let mut raw = [0u8; 512];
    raw.copy_from_slice(h.as_bytes());
    raw
}

/// `blobs/sha256/<hex>` of a digest.
pub(crate) fn blob_name(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// `data` as one gzip member (fast compression).
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, data).expect("gzip");
    e.finish().expect("gzip")
}

pub(crate) fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}
