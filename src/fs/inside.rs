//! Inside images: each platform's merged root filesystem (`by-platform/<p>/rootfs/`) and its
//! layers one by one (`by-platform/<p>/layers/`), drawn from `rootfs::PlatformRoot`; the
//! registry of the trees shown, their inode numbers, and how each is built once and kept.
//!
//! A tree node's inode number is `1 << 63 | key << 32 | place`: `key` (31 bits) is a hash of
//! the image's path, the platform manifest's digest and the view (merged, or layer N alone),
//! `place` the node's place in the tree's layout, a function of the layers
//! (`rootfs::NodeId`). Both survive remounts, hard links share one, and the mount needs no table
//! per node: the number says which tree and which node. Other inode numbers are 63-bit hashes
//! with the top bit clear (`tree::hash_ino`), so the two never meet.
//!
//! A platform's tree is built on the first look inside `rootfs/` or `layers/` (the layer
//! indexes from the store, or built from the layers and stored), by the first caller while the
//! others wait; `rootfs-status.json` beside them says how far it got. At most `MAX_LOADED`
//! platforms stay loaded; one dropped is reloaded from its stored indexes when asked again.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::namespace::ctime_of;
use super::tree::{self, ImageEntry, Node};
use super::{Attr, DirEntry, FileKind, FsError, ImageFs};
use crate::digest::Digest;
use crate::oci::Descriptor;
use crate::platform::Platform;
use crate::rootfs::decoded_cache::DEFAULT_BUDGET;
use crate::rootfs::layer::{Compression, SharedDecoding};
use crate::rootfs::platform::{FileReader, PlatformRoot, RootfsError};
use crate::rootfs::{EntryKind, NodeId, NodeKind};

pub(super) const ROOTFS_DIR: &str = "rootfs";
pub(super) const LAYERS_DIR: &str = "layers";
pub(super) const ROOTFS_STATUS: &str = "rootfs-status.json";
const WHITEOUTS_SUFFIX: &str = ".whiteouts";

/// Set in every tree node's inode number, clear in every other.
const TREE_BIT: u64 = 1 << 63;
const KEY_MASK: u32 = 0x7fff_ffff;
/// Platforms kept loaded (their tables, seek indexes and merged tree).
const MAX_LOADED: usize = 8;
/// How long the kernel may cache entries and attributes inside images (nothing under an inode
/// number there ever changes); an image removed from the store still leaves at once, since the
/// live view invalidates its name.
const IMMUTABLE_TTL: Duration = Duration::from_secs(600);
/// Entries one readdir reply inside an image carries at most: more than a request's buffer
/// (4 KiB to 128 KiB of names) holds.
const READDIR_PAGE: usize = 4096;
/// A failed build is not retried on every lookup, only after this long.
const RETRY_FAILED: Duration = Duration::from_secs(30);

/// An extended attribute: name and value, bytes.
pub(super) type Xattr = (Vec<u8>, Vec<u8>);

/// Which tree of a platform a slot shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum View {
    Merged,
    /// Layer `n` (0 = bottom) alone, as its tar records it.
    Layer(usize),
}

/// One tree the mount shows, found again from its inode numbers' key.
#[derive(Debug)]
pub(super) struct TreeSlot {
    key: u32,
    pub(super) entry: Arc<ImageEntry>,
    pub(super) platform: Platform,
    view: View,
    load: Arc<PlatformLoad>,
}

/// A platform manifest's root filesystem, built once. `root` is locked for the whole build, so
/// concurrent callers wait for the first; `progress` only briefly, so status reads never wait.
#[derive(Debug)]
struct PlatformLoad {
    manifest: Digest,
    /// The manifest's children: the config, then the layers bottom first.
    children: Vec<Descriptor>,
    root: Mutex<Loaded>,
    progress: Mutex<Progress>,
}

#[derive(Debug, Default)]
struct Loaded {
    merged: Option<Arc<PlatformRoot>>,
    alone: HashMap<usize, Arc<PlatformRoot>>,
    /// `.whiteouts` listings by layer, made once (`stat` and `open` both need the bytes).
    whiteouts: HashMap<usize, Arc<[u8]>>,
    failed: Option<(Instant, Arc<RootfsError>)>,
}

/// What `rootfs-status.json` says.
#[derive(Clone, Debug, Serialize)]
pub struct RootfsStatus {
    /// `not built`, `building`, `ready` or `failed`.
    pub state: &'static str,
    pub layers: usize,
    /// Layers whose table and seek index are ready.
    pub layers_ready: usize,
    /// Nodes in the merged tree, once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<usize>,
    /// Layer entries the merge could not apply (logged by the daemon), once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_not_applied: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct Progress {
    building_since: Option<Instant>,
    layers_ready: usize,
    seconds: Option<f64>,
    built: Option<(usize, u64)>,
    error: Option<String>,
}

/// Every tree slot and platform load of the mount, and the decoding their readers share.
#[derive(Debug)]
pub(super) struct Trees {
    slots: Mutex<HashMap<u32, Arc<TreeSlot>>>,
    loads: Mutex<HashMap<Digest, Arc<PlatformLoad>>>,
    /// Loaded platforms, most recently used last.
    loaded: Mutex<VecDeque<Arc<PlatformLoad>>>,
    pub(super) cache: Arc<SharedDecoding>,
}

impl Default for Trees {
    fn default() -> Trees {
        Trees {
            slots: Mutex::default(),
            loads: Mutex::default(),
            loaded: Mutex::default(),
            cache: Arc::new(SharedDecoding::new(DEFAULT_BUDGET)),
        }
    }
}

/// `01-sha256-<hex>`: layer `index` of `count`, numbered from 1, zero-padded to at least two
/// digits so that names sort in layer order.
pub(super) fn layer_name(index: usize, count: usize, layer: &Descriptor) -> String {
    let width = count.to_string().len().max(2);
    format!("{:0width$}-sha256-{}", index + 1, layer.digest.hex())
}

/// The raw blob's file name suffix, from its first bytes (media types are often wrong).
fn blob_suffix(fs: &ImageFs, layer: &Descriptor) -> &'static str {
    let compression = fs
        .store
        .open_blob(layer)
        .ok()
        .and_then(|f| Compression::of(&f).ok());
    match compression {
        Some(Compression::Gzip) => ".tar.gz",
        Some(Compression::Zstd) => ".tar.zst",
        _ => ".tar",
    }
}

impl TreeSlot {
    /// The inode number of node `place` of this tree.
    pub(super) fn ino(&self, place: u32) -> u64 {
        TREE_BIT | u64::from(self.key) << 32 | u64::from(place)
    }
}

impl ImageFs {
    /// The layers of `e`'s manifest for `p`, bottom first.
    fn layers_of(&self, e: &ImageEntry, p: &Platform) -> Result<Vec<Descriptor>, FsError> {
        // The first child is the config; the layers follow, bottom first.
        Ok(e.manifest(p)?
            .children
            .get(1..)
            .unwrap_or_default()
            .to_vec())
    }

    /// The slot of `view` of `e`'s platform `p`, registered on first use (nothing is built).
    pub(super) fn tree_slot(
        &self,
        e: &Arc<ImageEntry>,
        p: &Platform,
        view: View,
    ) -> Result<Arc<TreeSlot>, FsError> {
        let manifest = e.manifest(p)?.descriptor.digest;
        let load = {
            let mut loads = self.trees.loads.lock().expect("tree loads lock poisoned");
            match loads.get(&manifest) {
                Some(l) => l.clone(),
                None => {
                    let l = Arc::new(PlatformLoad {
                        manifest,
                        children: e.manifest(p)?.children.clone(),
                        root: Mutex::default(),
                        progress: Mutex::default(),
                    });
                    loads.insert(manifest, l.clone());
                    l
                }
            }
        };
        let identity = format!("tree\0{}\0{manifest}\0{view:?}", e.path.join("/"));
        let mut key = tree::hash_ino(&identity) as u32 & KEY_MASK;
        let mut slots = self.trees.slots.lock().expect("tree slots lock poisoned");
        loop {
            match slots.get(&key) {
                Some(s)
                    if s.entry.path == e.path && s.load.manifest == manifest && s.view == view =>
                {
                    return Ok(s.clone());
                }
                // Another tree hashed to the same key: the next free one (stable as long as
                // the trees are first shown in the same order).
                Some(_) => key = (key + 1) & KEY_MASK,
                None => break,
            }
        }
        let slot = Arc::new(TreeSlot {
            key,
            entry: e.clone(),
            platform: p.clone(),
            view,
            load,
        });
        slots.insert(key, slot.clone());
        Ok(slot)
    }

    /// The node of a tree inode number; `None` when `ino` is no tree node's.
    pub(super) fn tree_node(&self, ino: u64) -> Option<Result<Node, FsError>> {
        if ino & TREE_BIT == 0 {
            return None;
        }
        let key = (ino >> 32) as u32 & KEY_MASK;
        let slots = self.trees.slots.lock().expect("tree slots lock poisoned");
        Some(
            slots
                .get(&key)
                .map(|s| Node::InTree(s.clone(), ino as u32))
                .ok_or(FsError::UnknownInode(ino)),
        )
    }

    /// The tree a slot shows, built (or loaded from the store's layer indexes) on first use.
    pub(super) fn tree_of(&self, slot: &TreeSlot) -> Result<Arc<PlatformRoot>, FsError> {
        let load = &slot.load;
        let failed = |source: Arc<RootfsError>| FsError::Rootfs {
            image: slot.entry.label().to_string(),
            platform: slot.platform.clone(),
            source,
        };
        let mut loaded = load.root.lock().expect("tree load lock poisoned");
        if loaded.merged.is_none() {
            if let Some((when, e)) = &loaded.failed
                && when.elapsed() < RETRY_FAILED
            {
                return Err(failed(e.clone()));
            }
            let started = Instant::now();
            load.set_progress(|p| {
                *p = Progress {
                    building_since: Some(started),
                    ..Progress::default()
                }
            });
            let built = PlatformRoot::open_with_progress(&self.store, &load.children, &mut |n| {
                load.set_progress(|p| p.layers_ready = n)
            });
            let seconds = Some(started.elapsed().as_secs_f64());
            match built {
                Ok(root) => {
                    load.set_progress(|p| {
                        p.building_since = None;
                        p.seconds = seconds;
                        // Entries left out while reading the layers, and those the merge
                        // could not apply: both are missing from the tree.
                        let skipped: u64 = root.layers().iter().map(|l| l.toc.skipped()).sum();
                        p.built = Some((root.tree().len(), root.tree().notes_total() + skipped));
                    });
                    loaded.merged = Some(Arc::new(root));
                    loaded.failed = None;
                }
                Err(e) => {
                    log::warn!(target: "fs", "root filesystem of {} {}: {}",
                        slot.entry.label(), slot.platform, crate::error::chain(&e));
                    load.set_progress(|p| {
                        p.building_since = None;
                        p.seconds = seconds;
                        p.error = Some(crate::error::chain(&e));
                    });
                    let e = Arc::new(e);
                    loaded.failed = Some((Instant::now(), e.clone()));
                    return Err(failed(e));
                }
            }
        }
        let merged = loaded.merged.clone().expect("built above");
        let root = match slot.view {
            View::Merged => merged,
            View::Layer(n) => match loaded.alone.get(&n) {
                Some(r) => r.clone(),
                None => {
                    let alone = merged
                        .layer_alone(n)
                        .ok_or(FsError::UnknownInode(slot.ino(0)))?
                        .map_err(|e| failed(Arc::new(e)))?;
                    let alone = Arc::new(alone);
                    loaded.alone.insert(n, alone.clone());
                    alone
                }
            },
        };
        drop(loaded);
        self.keep_loaded(&slot.load);
        Ok(root)
    }

    /// Marks `load` as just used; drops the least recently used loads past `MAX_LOADED` (open
    /// files keep what they read through).
    fn keep_loaded(&self, load: &Arc<PlatformLoad>) {
        let mut loaded = self
            .trees
            .loaded
            .lock()
            .expect("loaded trees lock poisoned");
        if loaded.back().is_some_and(|l| Arc::ptr_eq(l, load)) {
            return;
        }
        loaded.retain(|l| !Arc::ptr_eq(l, load));
        loaded.push_back(load.clone());
        while loaded.len() > MAX_LOADED {
            let dropped = loaded.pop_front().expect("longer than the bound");
            let mut root = dropped.root.lock().expect("tree load lock poisoned");
            root.merged = None;
            root.alone.clear();
            root.whiteouts.clear();
        }
    }

    /// A tree node's attributes. A tree's root is described without building the tree (file
    /// managers stat every entry of `by-platform/<p>/`): the root's own entry is ignored, so it
    /// is always 0755, root 0:0, at time 0; its link count is 1, "not counted" (as btrfs
    /// shows for every directory; find and fts then make no guess from it), so that it reads
    /// the same before and after the build.
    pub(super) fn tree_attr(&self, slot: &TreeSlot, place: u32) -> Result<Attr, FsError> {
        let ino = slot.ino(place);
        if place == 0 {
            return Ok(Attr {
                ino,
                kind: FileKind::Directory,
                size: 0,
                blocks: 0,
                perm: 0o755,
                nlink: 1,
                uid: 0,
                gid: 0,
                rdev: 0,
                mtime: UNIX_EPOCH,
                ctime: ctime_of(UNIX_EPOCH, ino),
                blksize: super::BLOCK_SIZE,
                ttl: IMMUTABLE_TTL,
            });
        }
        let root = self.tree_of(slot)?;
        let v = root.tree().node(node_id(&root, slot, place)?);
        let size = match v.kind {
            NodeKind::Regular => v.size,
            // POSIX: a symlink's size is its target's length (readlink buffers rely on it).
            NodeKind::Symlink => v.link_target.len() as u64,
            _ => 0,
        };
        let (secs, nanos) = v.mtime;
        let mtime = if secs >= 0 {
            UNIX_EPOCH + Duration::new(secs as u64, nanos)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
                + Duration::from_nanos(nanos.into())
        };
        Ok(Attr {
            ino,
            kind: file_kind(v.kind),
            size,
            blocks: size.div_ceil(512),
            perm: (v.mode & 0o7777) as u16,
            nlink: v.nlink,
            uid: v.uid,
            gid: v.gid,
            rdev: match v.kind {
                NodeKind::CharDevice | NodeKind::BlockDevice => {
                    libc::makedev(v.device.0, v.device.1) as u32
                }
                _ => 0,
            },
            mtime,
            // Distinct per inode (see `ctime_of`): files of one layer often share their mtime.
            ctime: ctime_of(mtime, ino),
            blksize: super::BLOCK_SIZE,
            ttl: IMMUTABLE_TTL,
        })
    }

    /// The tree of `slot` and its directory `place` (ENOTDIR when it is none).
    fn tree_dir(
        &self,
        slot: &TreeSlot,
        place: u32,
    ) -> Result<(Arc<PlatformRoot>, NodeId), FsError> {
        let root = self.tree_of(slot)?;
        let dir = node_id(&root, slot, place)?;
        if root.tree().node(dir).kind != NodeKind::Directory {
            return Err(FsError::NotADirectory);
        }
        Ok((root, dir))
    }

    /// The child `name` of tree directory `place`.
    pub(super) fn tree_child(
        &self,
        slot: &Arc<TreeSlot>,
        place: u32,
        name: &[u8],
    ) -> Result<Node, FsError> {
        let (root, dir) = self.tree_dir(slot, place)?;
        let child = root
            .tree()
            .lookup(dir, name)
            .ok_or_else(|| FsError::NotFound {
                name: String::from_utf8_lossy(name).into_owned(),
            })?;
        Ok(Node::InTree(slot.clone(), child.index()))
    }

    /// Tree directory `place`'s entries from the `skip`th child on, with their kinds.
    /// At most `READDIR_PAGE` of them: the kernel asks again from where a reply ended, so a
    /// directory of n entries costs O(n) in all, not a list of what remains per request.
    pub(super) fn tree_entries(
        &self,
        slot: &TreeSlot,
        place: u32,
        skip: usize,
    ) -> Result<Vec<DirEntry>, FsError> {
        let (root, dir) = self.tree_dir(slot, place)?;
        let tree = root.tree();
        Ok(tree
            .children_from(dir, skip)
            .take(READDIR_PAGE)
            .map(|(name, id)| DirEntry {
                ino: slot.ino(id.index()),
                kind: file_kind(tree.node(id).kind),
                name: OsString::from_vec(name.to_vec()),
            })
            .collect())
    }

    /// The parent of tree node `place`, as an inode number: `..` of a tree's root is the
    /// directory holding it.
    pub(super) fn tree_parent(&self, slot: &TreeSlot, place: u32) -> Result<u32, FsError> {
        let root = self.tree_of(slot)?;
        let id = node_id(&root, slot, place)?;
        Ok(root.tree().parent(id).index())
    }

    pub(super) fn tree_readlink(&self, slot: &TreeSlot, place: u32) -> Result<Vec<u8>, FsError> {
        let root = self.tree_of(slot)?;
        let v = root.tree().node(node_id(&root, slot, place)?);
        if v.kind != NodeKind::Symlink {
            return Err(FsError::NotASymlink);
        }
        Ok(v.link_target.to_vec())
    }

    /// A tree node's extended attributes as the layer recorded them (PAX `SCHILY.xattr.*`).
    pub(super) fn tree_xattrs(&self, slot: &TreeSlot, place: u32) -> Result<Vec<Xattr>, FsError> {
        let root = self.tree_of(slot)?;
        let v = root.tree().node(node_id(&root, slot, place)?);
        Ok(v.xattrs
            .into_iter()
            .flatten()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect())
    }

    /// The value of tree node `place`'s extended attribute `name`, if the layer recorded one
    /// (`ls -l` asks each file for its ACLs: no copy of the others).
    pub(super) fn tree_xattr(
        &self,
        slot: &TreeSlot,
        place: u32,
        name: &[u8],
    ) -> Result<Option<Vec<u8>>, FsError> {
        let root = self.tree_of(slot)?;
        let v = root.tree().node(node_id(&root, slot, place)?);
        Ok(v.xattrs
            .into_iter()
            .flatten()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.to_vec()))
    }

    /// A reader of regular file `place`'s bytes, through the mount's decoded-chunk cache.
    pub(super) fn tree_file(&self, slot: &TreeSlot, place: u32) -> Result<FileReader, FsError> {
        let root = self.tree_of(slot)?;
        let id = node_id(&root, slot, place)?;
        let path = format!(
            "{} {} inode {}",
            slot.entry.label(),
            slot.platform,
            slot.ino(place)
        );
        match root
            .file_reader(&self.store, id, &path, Some(&self.trees.cache))
            .map_err(|e| FsError::Rootfs {
                image: slot.entry.label().to_string(),
                platform: slot.platform.clone(),
                source: Arc::new(e),
            })? {
            Some(reader) => Ok(reader),
            None if root.tree().node(id).kind == NodeKind::Directory => Err(FsError::IsADirectory),
            // Symlinks are never followed by the daemon (the kernel resolves them), and
            // devices and fifos have no bytes of their own: the nodev mount refuses devices.
            None => Err(FsError::NotRegularFile),
        }
    }

    /// The names under `by-platform/<p>/layers/`, in layer order: per layer its tree, its
    /// whiteouts listing and its raw blob.
    pub(super) fn layers_listing(
        &self,
        e: &Arc<ImageEntry>,
        p: &Platform,
    ) -> Result<Vec<(String, Node)>, FsError> {
        let layers = self.layers_of(e, p)?;
        let mut out = Vec::with_capacity(layers.len() * 3);
        for (i, l) in layers.iter().enumerate() {
            let name = layer_name(i, layers.len(), l);
            let slot = self.tree_slot(e, p, View::Layer(i))?;
            out.push((name.clone(), Node::InTree(slot, 0)));
            out.push((
                format!("{name}{}", blob_suffix(self, l)),
                Node::LayerBlob(e.clone(), p.clone(), i),
            ));
            out.push((
                format!("{name}{WHITEOUTS_SUFFIX}"),
                Node::Whiteouts(e.clone(), p.clone(), i),
            ));
        }
        Ok(out)
    }

    /// The entry `name` of `by-platform/<p>/layers/`, looking at the one layer its number
    /// names (a lookup opens one blob to name its suffix, not every layer's).
    pub(super) fn layers_child(
        &self,
        e: &Arc<ImageEntry>,
        p: &Platform,
        name: &str,
    ) -> Result<Option<Node>, FsError> {
        let Some(index) = name
            .split_once('-')
            .and_then(|(n, _)| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
        else {
            return Ok(None);
        };
        let layers = self.layers_of(e, p)?;
        let Some(layer) = layers.get(index) else {
            return Ok(None);
        };
        let stem = layer_name(index, layers.len(), layer);
        let Some(rest) = name.strip_prefix(stem.as_str()) else {
            return Ok(None);
        };
        Ok(match rest {
            "" => Some(Node::InTree(self.tree_slot(e, p, View::Layer(index))?, 0)),
            WHITEOUTS_SUFFIX => Some(Node::Whiteouts(e.clone(), p.clone(), index)),
            suffix if suffix == blob_suffix(self, layer) => {
                Some(Node::LayerBlob(e.clone(), p.clone(), index))
            }
            _ => None,
        })
    }

    /// The layer blob `index` of `e`'s platform `p`.
    pub(super) fn layer_blob(
        &self,
        e: &ImageEntry,
        p: &Platform,
        index: usize,
    ) -> Result<Descriptor, FsError> {
        self.layers_of(e, p)?
            .get(index)
            .cloned()
            .ok_or_else(|| FsError::NotFound {
                name: format!("layer {}", index + 1),
            })
    }

    /// `NN-sha256-<hex>.whiteouts`: what layer `index` deletes from the layers below, one path
    /// per line from the image's root: `D /path` for a whiteout (`.wh.<name>`), `O /dir/` for
    /// an opaque directory (`.wh..wh..opq`: everything the lower layers had in it is hidden).
    /// A backslash and a newline in a path are written `\\` and `\n`.
    pub(super) fn whiteouts(
        &self,
        e: &Arc<ImageEntry>,
        p: &Platform,
        index: usize,
    ) -> Result<Arc<[u8]>, FsError> {
        let slot = self.tree_slot(e, p, View::Merged)?;
        let root = self.tree_of(&slot)?;
        let mut loaded = slot.load.root.lock().expect("tree load lock poisoned");
        if let Some(bytes) = loaded.whiteouts.get(&index) {
            return Ok(bytes.clone());
        }
        let layer = root.layers().get(index).ok_or_else(|| FsError::NotFound {
            name: format!("layer {}", index + 1),
        })?;
        let mut out = Vec::new();
        for entry in layer.toc.entries() {
            let (mark, slash) = match entry.kind() {
                EntryKind::Whiteout => (b'D', false),
                EntryKind::Opaque => (b'O', true),
                _ => continue,
            };
            out.extend_from_slice(&[mark, b' ', b'/']);
            for &b in entry.path() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b => out.push(b),
                }
            }
            if slash && !entry.path().is_empty() {
                out.push(b'/');
            }
            out.push(b'\n');
        }
        let bytes: Arc<[u8]> = out.into();
        loaded.whiteouts.insert(index, bytes.clone());
        Ok(bytes)
    }

    /// `rootfs-status.json`: whether the platform's tree is built, how far a build got.
    pub(super) fn rootfs_status(
        &self,
        e: &Arc<ImageEntry>,
        p: &Platform,
    ) -> Result<RootfsStatus, FsError> {
        let slot = self.tree_slot(e, p, View::Merged)?;
        let progress = slot.load.progress.lock().expect("progress lock poisoned");
        let loaded = slot
            .load
            .root
            .try_lock()
            .ok()
            .is_some_and(|l| l.merged.is_some());
        let state = if progress.building_since.is_some() {
            "building"
        } else if progress.error.is_some() {
            "failed"
        } else if progress.built.is_some() || loaded {
            "ready"
        } else {
            "not built"
        };
        Ok(RootfsStatus {
            state,
            layers: slot.load.children.len().saturating_sub(1),
            layers_ready: progress.layers_ready,
            nodes: progress.built.map(|b| b.0),
            entries_not_applied: progress.built.map(|b| b.1),
            seconds: progress
                .building_since
                .map(|t| t.elapsed().as_secs_f64())
                .or(progress.seconds),
            error: progress.error.clone(),
        })
    }

    pub(super) fn rootfs_status_bytes(
        &self,
        e: &Arc<ImageEntry>,
        p: &Platform,
    ) -> Result<Vec<u8>, FsError> {
        let mut bytes =
            serde_json::to_vec_pretty(&self.rootfs_status(e, p)?).expect("status serializes");
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The time shown for `layers/` and the status file: the image's.
    pub(super) fn inside_time(e: &ImageEntry) -> SystemTime {
        e.mtime
    }
}

impl PlatformLoad {
    fn set_progress(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.progress.lock().expect("progress lock poisoned"));
    }
}

fn node_id(root: &PlatformRoot, slot: &TreeSlot, place: u32) -> Result<NodeId, FsError> {
    root.tree()
        .node_at(place)
        .ok_or(FsError::UnknownInode(slot.ino(place)))
}

fn file_kind(kind: NodeKind) -> FileKind {
    match kind {
        NodeKind::Regular => FileKind::RegularFile,
        NodeKind::Directory => FileKind::Directory,
        NodeKind::Symlink => FileKind::Symlink,
        NodeKind::Fifo => FileKind::NamedPipe,
        NodeKind::CharDevice => FileKind::CharDevice,
        NodeKind::BlockDevice => FileKind::BlockDevice,
    }
}
