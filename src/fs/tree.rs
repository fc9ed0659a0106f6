//! The mount's namespace: the nodes a path can name, their inode numbers, and the catalog of
//! stored images the `images/` tree is drawn from.
//!
//! Inode numbers are a hash of what the node *is* (its path plus the digest of the image it
//! shows), never a counter, so they survive remounts and daemon restarts: backup tools
//! (restic, borg, rsync -H) key on them. A tag that moves to another digest gets new inodes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::archive::{ArchivePlan, ExportRequest};
use crate::digest::Digest;
use crate::image::{ImageGraph, PlatformManifest};
use crate::oci;
use crate::platform::Platform;
use crate::store::{ImageRecord, Store};

use super::FsError;
use super::inside::TreeSlot;
use super::upload::Upload;

pub(super) const ROOT_INO: u64 = 1;
pub(super) const IMAGES_DIR: &str = "images";
pub(super) const IMPORT_DIR: &str = "import";
pub(super) const STATUS_DIR: &str = ".status";
/// What a status file's name adds to its upload's: file managers type files by extension, so
/// `x.tar`'s status is `x.tar.json`, shown (and opened) as the JSON it is.
const STATUS_SUFFIX: &str = ".json";
pub(super) const IMAGE_TAR: &str = "image.tar";
pub(super) const BY_PLATFORM_DIR: &str = "by-platform";
pub(super) const MANIFEST_JSON: &str = "manifest.json";
pub(super) const CONFIG_JSON: &str = "config.json";

/// What an inode stands for.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Root,
    ImagesDir,
    /// A directory on the way to image directories: `images/docker.io/library/`.
    NamePrefix(Vec<String>),
    Image(Arc<ImageEntry>),
    IndexJson(Arc<ImageEntry>),
    ByPlatformDir(Arc<ImageEntry>),
    PlatformDir(Arc<ImageEntry>, Platform),
    ManifestJson(Arc<ImageEntry>, Platform),
    ConfigJson(Arc<ImageEntry>, Platform),
    /// `image.tar` (no platforms) or `by-platform/<p>[+<p>…].tar`.
    Archive(Arc<ImageEntry>, Vec<Platform>),
    /// `by-platform/<p>/layers/`.
    LayersDir(Arc<ImageEntry>, Platform),
    /// `layers/NN-sha256-<hex>.tar[.gz|.zst]`: layer `n` (0 = bottom) as stored.
    LayerBlob(Arc<ImageEntry>, Platform, usize),
    /// `layers/NN-sha256-<hex>.whiteouts`: what layer `n` deletes below it.
    Whiteouts(Arc<ImageEntry>, Platform, usize),
    /// `by-platform/<p>/rootfs-status.json`.
    RootfsStatus(Arc<ImageEntry>, Platform),
    /// A node of a tree: `rootfs/` (place 0) and everything under it, or a layer's own tree
    /// (`layers/NN-sha256-<hex>/`). See `fs/inside.rs`.
    InTree(Arc<TreeSlot>, u32),
    /// `import/` (`dir` empty) or `import/<platforms>/`.
    ImportDir(String),
    ImportFile(Arc<Upload>),
    StatusDir(String),
    StatusFile(Arc<Upload>),
}

impl Node {
    pub(super) fn is_dir(&self) -> bool {
        matches!(
            self,
            Node::Root
                | Node::ImagesDir
                | Node::NamePrefix(_)
                | Node::Image(_)
                | Node::ByPlatformDir(_)
                | Node::PlatformDir(..)
                | Node::LayersDir(..)
                | Node::ImportDir(_)
                | Node::StatusDir(_)
                // A tree's root; the kinds of the nodes below come from the tree itself.
                | Node::InTree(_, 0)
        )
    }

    /// Whether the node is inside an image's root filesystem or layers (stored owners and
    /// modes; see `ImageFs::check_node`).
    pub(super) fn is_inside(&self) -> bool {
        matches!(self, Node::InTree(..))
    }

    /// The inode number: see the module docs.
    pub(super) fn ino(&self) -> u64 {
        let image_key = |tag: &str, e: &ImageEntry, extra: &str| {
            format!(
                "{tag}\0{}\0{}\0{}\0{extra}",
                e.path.join("/"),
                e.digest,
                e.content_key
            )
        };
        let key = match self {
            Node::Root => return ROOT_INO,
            Node::ImagesDir => "images".to_string(),
            Node::NamePrefix(p) => format!("prefix\0{}", p.join("/")),
            Node::Image(e) => image_key("image", e, ""),
            Node::IndexJson(e) => image_key("index", e, ""),
            Node::ByPlatformDir(e) => image_key("by-platform", e, ""),
            Node::PlatformDir(e, p) => image_key("platform", e, &p.file_name()),
            Node::ManifestJson(e, p) => image_key("manifest", e, &p.file_name()),
            Node::ConfigJson(e, p) => image_key("config", e, &p.file_name()),
            Node::Archive(e, ps) => image_key("archive", e, &platform_list_name(ps)),
            Node::LayersDir(e, p) => image_key("layers", e, &p.file_name()),
            Node::LayerBlob(e, p, n) => {
                image_key("layer-blob", e, &format!("{}\0{n}", p.file_name()))
            }
            Node::Whiteouts(e, p, n) => {
                image_key("whiteouts", e, &format!("{}\0{n}", p.file_name()))
            }
            Node::RootfsStatus(e, p) => image_key("rootfs-status", e, &p.file_name()),
            Node::InTree(slot, place) => return slot.ino(*place),
            Node::ImportDir(d) => format!("import\0{d}"),
            Node::StatusDir(d) => format!("status\0{d}"),
            Node::ImportFile(u) => return u.ino,
            Node::StatusFile(u) => return u.ino ^ 1,
        };
        hash_ino(&key)
    }
}

/// A stable inode number for `key`: 63 bits of its sha256, never 0 or the root's 1.
pub(super) fn hash_ino(key: &str) -> u64 {
    let d = Digest::of(key.as_bytes());
    let hex = d.hex();
    let v = u64::from_str_radix(&hex[..16], 16).expect("sha256 hex is hex") >> 1;
    v.max(2)
}

/// `linux-amd64+linux-arm64`: the path form of a platform list.
pub(super) fn platform_list_name(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(Platform::file_name)
        .collect::<Vec<_>>()
        .join("+")
}

/// The name of the status file of the upload named `upload`.
pub(super) fn status_name(upload: &str) -> String {
    format!("{upload}{STATUS_SUFFIX}")
}

/// The upload a status file name stands for: `x.tar.json` -> `x.tar`; `None` without `.json`.
pub(super) fn status_upload(status: &str) -> Option<&str> {
    status.strip_suffix(STATUS_SUFFIX)
}

/// Platform directories `import/` lists even when no stored image has them, so that a file
/// manager can drop an archive into one: the platforms images are commonly built for (the
/// `linux/*` platforms of Docker Official Images), in the mount's file-name form.
pub(super) const COMMON_IMPORT_PLATFORMS: [&str; 8] = [
    "linux-amd64",
    "linux-arm64",
    "linux-arm-v7",
    "linux-arm-v6",
    "linux-386",
    "linux-ppc64le",
    "linux-s390x",
    "linux-riscv64",
];

/// Operating systems a directory name under `import/` may start with. Without this filter any
/// `word-word` file name (`foreign-7.tar`) would parse as a platform and look like a directory.
const IMPORT_DIR_OSES: [&str; 10] = [
    "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "illumos", "aix",
    "android",
];

/// Whether `name` under `import/` names a platform directory (`linux-arm64`,
/// `linux-amd64+linux-arm64`): a platform list of known operating systems, without dots.
pub(super) fn is_import_platform_dir(name: &str) -> bool {
    !name.contains('.')
        && parse_platform_list(name)
            .is_some_and(|ps| ps.iter().all(|p| IMPORT_DIR_OSES.contains(&p.os.as_str())))
}

/// Parses `linux-arm64`, `linux-aarch64+linux-amd64`, …; `None` when any part is no platform.
pub(super) fn parse_platform_list(name: &str) -> Option<Vec<Platform>> {
    if name.is_empty() {
        return None;
    }
    name.split('+')
        .map(|p| Platform::from_file_name(p).ok())
        .collect()
}

/// One stored image, as the mount shows it. Shared by every node under its directory.
#[derive(Debug)]
pub(super) struct ImageEntry {
    /// Path components under `images/`.
    pub path: Vec<String>,
    pub digest: Digest,
    /// A digest of which manifests the store holds completely: the same image gains or loses
    /// platforms (a later import, `gc`) without changing its digest, and its archives' bytes
    /// change with them, so this is part of every inode number under the image.
    pub content_key: Digest,
    pub record: ImageRecord,
    pub graph: ImageGraph,
    /// The image's creation time (the newest config `created`), else the epoch: stable, so
    /// rsync's quick check and backup tools see the same file every time.
    pub mtime: SystemTime,
    /// Archive plans by platform list; built at first lookup, immutable afterwards.
    plans: Mutex<HashMap<Vec<Platform>, Arc<ArchivePlan>>>,
}

impl ImageEntry {
    fn new(path: Vec<String>, record: ImageRecord, graph: ImageGraph) -> ImageEntry {
        let mtime = graph
            .manifests
            .iter()
            .filter_map(|m| m.created.as_deref().and_then(oci::parse_rfc3339))
            .max()
            .unwrap_or(UNIX_EPOCH);
        ImageEntry {
            path,
            digest: record.target.digest,
            content_key: content_key(&graph),
            record,
            graph,
            mtime,
            plans: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn label(&self) -> &str {
        &self.graph.label
    }

    /// The platforms listed under `by-platform/`: complete ones, attestations aside.
    pub(super) fn platforms(&self) -> Vec<Platform> {
        self.graph
            .available_platforms()
            .into_iter()
            .filter(|p| self.graph.select_one(p).is_ok())
            // A platform whose file name reads back as another (stored by an older build, before
            // imports refused them) would be listed but never found: backups of the mount
            // would fail on it. `imagefs export --platform` still reaches it.
            .filter(|p| {
                Platform::from_file_name(&p.file_name()).is_ok_and(|b| {
                    (&b.os, &b.architecture, &b.variant) == (&p.os, &p.architecture, &p.variant)
                })
            })
            .collect()
    }

    /// The manifest for `p`, or ENOENT naming the platforms the image has.
    pub(super) fn manifest(&self, p: &Platform) -> Result<&PlatformManifest, FsError> {
        self.graph
            .select_one(p)
            .map_err(|_| self.absent(vec![p.clone()]))
    }

    pub(super) fn absent(&self, requested: Vec<Platform>) -> FsError {
        FsError::PlatformAbsent {
            image: self.label().to_string(),
            requested,
            available: self.platforms(),
        }
    }

    /// The archive of this image for `platforms` (all when empty), planned once.
    pub(super) fn plan(
        &self,
        store: &Store,
        platforms: &[Platform],
    ) -> Result<Arc<ArchivePlan>, FsError> {
        let mut plans = self.plans.lock().expect("plan cache lock poisoned");
        if let Some(p) = plans.get(platforms) {
            return Ok(p.clone());
        }
        for p in platforms {
            self.manifest(p)?;
        }
        let request = ExportRequest {
            images: vec![self.record.clone()],
            platforms: platforms.to_vec(),
        };
        let plan = Arc::new(ArchivePlan::build(store, &request).map_err(FsError::Archive)?);
        plans.insert(platforms.to_vec(), plan.clone());
        Ok(plan)
    }
}

/// The images of one `index.json` state, arranged by path.
#[derive(Debug, Default)]
pub(super) struct ImageCatalog {
    images: BTreeMap<Vec<String>, Arc<ImageEntry>>,
    /// The colon-free path of every image whose path has a colon (`alpine@3.20` for
    /// `alpine:3.20`, `localhost@5000/app@1` for `localhost:5000/app:1`): found on lookup, never
    /// listed, so that tools which split at the first colon (skopeo's and podman's transports,
    /// rsync, scp, tar, make) take a path into the mount. `@` cannot appear in a host, a
    /// repository path component or a tag (distribution/reference's grammar), so no name's
    /// path looks like another's alias.
    aliases: BTreeMap<Vec<String>, Arc<ImageEntry>>,
    /// The newest image time.
    newest: Option<SystemTime>,
    /// When the store's image list last changed (`index.json`'s mtime), set by whoever read it
    /// (see `stamped`): the time of the directories above the images.
    changed: Option<SystemTime>,
    /// The file names of the platforms stored images have completely that name an import
    /// directory: `import/` lists them. Gathered once per load, so a listing reads no blob.
    platforms: BTreeSet<String>,
}

/// What a name inside `images/` leads to.
pub(super) enum Found {
    Image(Arc<ImageEntry>),
    Prefix(Vec<String>),
}

impl ImageCatalog {
    /// Reads the store's image list, reusing entries of `previous` whose digest and complete
    /// manifests are unchanged (so their cached plans survive).
    pub(super) fn load(store: &Store, previous: &ImageCatalog) -> Result<ImageCatalog, FsError> {
        let mut images = BTreeMap::new();
        let mut aliases = BTreeMap::new();
        // Many names may share one image (a CI cache tagging every build): walk each once.
        let mut graphs: HashMap<Digest, ImageGraph> = HashMap::new();
        for record in store.images().map_err(FsError::Store)? {
            let path = match record.name() {
                Some(name) => name.to_path_components(),
                None => vec![record.target.digest.to_string()],
            };
            let graph = match graphs.get(&record.target.digest) {
                Some(g) => {
                    let mut g = g.clone();
                    g.label = record
                        .name()
                        .map_or_else(|| record.target.digest.to_string(), |n| n.to_string());
                    Ok(g)
                }
                None => ImageGraph::of_record(store, &record).inspect(|g| {
                    graphs.insert(record.target.digest, g.clone());
                }),
            };
            match graph {
                Ok(graph) => {
                    let key = content_key(&graph);
                    let reuse = |map: &BTreeMap<Vec<String>, Arc<ImageEntry>>, p: &[String]| {
                        map.get(p)
                            .filter(|old| {
                                old.digest == record.target.digest && old.content_key == key
                            })
                            .cloned()
                    };
                    if let Some(alias) = colon_free(&path) {
                        let entry = reuse(&previous.aliases, &alias).unwrap_or_else(|| {
                            Arc::new(ImageEntry::new(
                                alias.clone(),
                                record.clone(),
                                graph.clone(),
                            ))
                        });
                        aliases.insert(alias, entry);
                    }
                    let entry = reuse(&previous.images, &path)
                        .unwrap_or_else(|| Arc::new(ImageEntry::new(path.clone(), record, graph)));
                    images.insert(path, entry);
                }
                Err(e) => log::warn!(
                    target: "fs",
                    "hiding image {}: {}",
                    path.join("/"),
                    crate::error::chain(&e)
                ),
            }
        }
        let newest = images.values().map(|e| e.mtime).max();
        // Many names share an image: ask each image (digest and complete manifests) once.
        let mut seen = BTreeSet::new();
        let platforms = images
            .values()
            .filter(|e| seen.insert((e.digest, e.content_key)))
            .flat_map(|e| e.platforms())
            .map(|p| p.file_name())
            .filter(|name| is_import_platform_dir(name))
            .collect();
        Ok(ImageCatalog {
            images,
            aliases,
            newest,
            changed: None,
            platforms,
        })
    }

    /// This catalog, read when the store's image list had changed last at `changed`.
    pub(super) fn stamped(mut self, changed: Option<SystemTime>) -> ImageCatalog {
        self.changed = changed;
        self
    }

    /// The time of the directories above the images: when the image list last changed (so it
    /// moves when an image comes or goes, and stays across remounts), else the newest image's.
    pub(super) fn time(&self) -> SystemTime {
        self.changed.unwrap_or_else(|| self.newest())
    }

    /// The platform file names stored images have: see `platforms`.
    pub(super) fn platform_dirs(&self) -> &BTreeSet<String> {
        &self.platforms
    }

    /// Every image, by path, colon-free aliases included.
    pub(super) fn images(&self) -> impl Iterator<Item = (&Vec<String>, &Arc<ImageEntry>)> {
        self.images.iter().chain(&self.aliases)
    }

    /// The image at exactly `path` (or its colon-free alias).
    pub(super) fn image(&self, path: &[String]) -> Option<&Arc<ImageEntry>> {
        self.images.get(path).or_else(|| self.aliases.get(path))
    }

    /// The newest image's time, else the epoch: a function of the store's content only.
    pub(super) fn newest(&self) -> SystemTime {
        self.newest.unwrap_or(UNIX_EPOCH)
    }

    pub(super) fn find(&self, path: &[String]) -> Option<Found> {
        find_in(&self.images, path).or_else(|| find_in(&self.aliases, path))
    }

    /// The names directly under `prefix`, each once. The colon-free aliases are listed only
    /// inside a directory that exists only on their way (`images/localhost@5000/`), never
    /// beside the names they stand for.
    pub(super) fn children(&self, prefix: &[String]) -> Vec<Found> {
        let map = if find_in(&self.images, prefix).is_some() || prefix.is_empty() {
            &self.images
        } else {
            &self.aliases
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (k, e) in map.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            if k.len() <= prefix.len() || !seen.insert(k[prefix.len()].clone()) {
                continue;
            }
            if k.len() == prefix.len() + 1 {
                out.push(Found::Image(e.clone()));
            } else {
                out.push(Found::Prefix(k[..=prefix.len()].to_vec()));
            }
        }
        out
    }
}

fn find_in(map: &BTreeMap<Vec<String>, Arc<ImageEntry>>, path: &[String]) -> Option<Found> {
    if let Some(e) = map.get(path) {
        return Some(Found::Image(e.clone()));
    }
    let is_prefix = map
        .range(path.to_vec()..)
        .next()
        .is_some_and(|(k, _)| k.len() > path.len() && k.starts_with(path));
    is_prefix.then(|| Found::Prefix(path.to_vec()))
}

/// The colon-free form of an image's path (every `:` as `@`), when it has a colon.
pub(super) fn colon_free(path: &[String]) -> Option<Vec<String>> {
    path.iter()
        .any(|c| c.contains(':'))
        .then(|| path.iter().map(|c| c.replace(':', "@")).collect())
}

/// Digest of the sorted digests of an image's complete manifests.
fn content_key(graph: &ImageGraph) -> Digest {
    let mut complete: Vec<String> = graph
        .manifests
        .iter()
        .filter(|m| m.is_complete())
        .map(|m| m.descriptor.digest.to_string())
        .collect();
    complete.sort();
    Digest::of(complete.join("\n").as_bytes())
}

#[cfg(test)]
mod tests;
