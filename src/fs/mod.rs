//! `ImageFs`: the kernel-free filesystem core. It maps paths to nodes, nodes to attributes and
//! bytes, and writes under `import/` to imports; it returns plain structs and [`FsError`], so
//! it can be driven without FUSE. It decides nothing about tar bytes (that is `archive`) and
//! never replies to the kernel (that is `fuse`).
//!
//! The tree, attributes and errors are specified in doc/SEMANTICS.md ("The mount").

mod access;
mod error;
mod handles;
mod import_dir;
mod tree;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

pub use access::Caller;
pub use error::FsError;
pub use handles::UploadStatus;

use access::{Need, check};

use handles::{Handle, LeaseTable, Upload, read_bytes, read_plan};
use tree::{Catalog, Found, Node};

use crate::platform::Platform;
use crate::store::{BLOB_DIR, INDEX_FILE, Store};

/// How long a look at `index.json` stays fresh: CLI changes show within this (plus the kernel's
/// 1 s entry cache), while a busy reader does not stat the file on every lookup.
const CATALOG_TTL: Duration = Duration::from_millis(500);
/// `st_blksize`: coreutils sizes its buffers by it (`max(128 KiB, st_blksize)`), so `cp` and
/// `cat` read 1 MiB per call, the largest FUSE request.
pub const BLOCK_SIZE: u32 = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    RegularFile,
}

/// A node's attributes, as `stat` shows them.
#[derive(Clone, Debug)]
pub struct Attr {
    pub ino: u64,
    pub kind: FileKind,
    pub size: u64,
    /// 512-byte blocks: ceil(size/512), at least 1 (`du`, and `tar --sparse`, trust it).
    pub blocks: u64,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: SystemTime,
    /// The image time plus a per-inode offset under one second: see `ctime_of`.
    pub ctime: SystemTime,
    pub blksize: u32,
}

#[derive(Clone, Debug)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: FileKind,
    pub name: String,
}

/// An opened file and how the kernel should cache it.
#[derive(Clone, Copy, Debug)]
pub struct Opened {
    pub fh: u64,
    /// Bypass the page cache: every read reaches us at the application's size.
    pub direct_io: bool,
    /// Keep cached pages across opens: the bytes of an inode never change.
    pub keep_cache: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct StatFs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
}

/// Mount-wide choices.
#[derive(Clone, Debug)]
pub struct FsOptions {
    /// Owner of every file: the mounting user.
    pub uid: u32,
    pub gid: u32,
    /// Serve archives with direct I/O instead of through the page cache.
    pub direct_io: bool,
}

/// What is known about `index.json` the last time we looked.
struct CatalogState {
    catalog: Arc<Catalog>,
    checked: Option<Instant>,
    stamp: Option<CatalogStamp>,
}

/// What says the store may show something new: `index.json` (replaced by rename, so its inode
/// changes with its content) and the blob directory's mtime (a blob added to an image already
/// listed, or removed by `gc`, changes which platforms are complete without touching
/// `index.json`).
type CatalogStamp = (u64, i64, i64, u64, i64, i64);

/// The filesystem core: see the module docs.
pub struct ImageFs {
    store: Store,
    options: FsOptions,
    catalog: RwLock<CatalogState>,
    nodes: RwLock<HashMap<u64, Node>>,
    handles: Mutex<HashMap<u64, Arc<Handle>>>,
    next_fh: AtomicU64,
    /// Import directory ("" for `import/` itself) -> file name -> upload.
    imports: Mutex<BTreeMap<String, BTreeMap<String, Arc<Upload>>>>,
    upload_seq: AtomicU64,
    leases: Arc<LeaseTable>,
}

impl std::fmt::Debug for ImageFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageFs")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A name looked up: one that is not UTF-8 names nothing here.
fn name_str(name: &OsStr) -> Result<&str, FsError> {
    name.to_str().ok_or_else(|| FsError::NotFound {
        name: name.to_string_lossy().into_owned(),
    })
}

/// A distinct, stable ctime per inode: the shown time plus the inode number modulo one second,
/// in nanoseconds. Borg 1.2 keeps only files-cache entries older than the newest ctime of the
/// run (it cannot tell the newest from files changed during the backup: borg 1.2
/// src/borg/cache.py `LocalCache.commit`), so one shared ctime made it re-read every file on
/// every run; now only the file with the newest ctime is read again.
fn ctime_of(mtime: SystemTime, ino: u64) -> SystemTime {
    mtime + Duration::from_nanos(ino % 1_000_000_000)
}

/// Whether a node can change at all: everything outside `import/` is read-only, for root too.
/// `.status/` accepts only `rm` of its entries.
fn writable(node: &Node) -> bool {
    matches!(
        node,
        Node::ImportDir(_) | Node::ImportFile(_) | Node::StatusDir(_)
    )
}

fn flag(flags: i32, f: libc::c_int) -> bool {
    flags & f != 0
}

fn is_write_open(flags: i32) -> bool {
    flags & libc::O_ACCMODE != libc::O_RDONLY || flag(flags, libc::O_TRUNC)
}

impl ImageFs {
    pub fn new(store: Store, options: FsOptions) -> ImageFs {
        let mut imports = BTreeMap::new();
        imports.insert(String::new(), BTreeMap::new());
        ImageFs {
            store,
            options,
            catalog: RwLock::new(CatalogState {
                catalog: Arc::new(Catalog::default()),
                checked: None,
                stamp: None,
            }),
            nodes: RwLock::new(HashMap::new()),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            imports: Mutex::new(imports),
            upload_seq: AtomicU64::new(0),
            leases: Arc::new(LeaseTable::default()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The current image catalog, re-read when `index.json` changed (CLI imports, `rm`).
    fn catalog(&self) -> Arc<Catalog> {
        {
            let state = self.catalog.read().expect("catalog lock poisoned");
            if state.checked.is_some_and(|t| t.elapsed() < CATALOG_TTL) {
                return state.catalog.clone();
            }
        }
        let mut state = self.catalog.write().expect("catalog lock poisoned");
        if state.checked.is_some_and(|t| t.elapsed() < CATALOG_TTL) {
            return state.catalog.clone();
        }
        state.checked = Some(Instant::now());
        let index = std::fs::metadata(self.store.root().join(INDEX_FILE));
        let blobs = std::fs::metadata(self.store.root().join(BLOB_DIR));
        let stamp = match (index, blobs) {
            (Ok(i), Ok(b)) => Some((
                i.ino(),
                i.mtime(),
                i.mtime_nsec(),
                i.len(),
                b.mtime(),
                b.mtime_nsec(),
            )),
            _ => None,
        };
        if stamp != state.stamp || stamp.is_none() {
            match Catalog::load(&self.store, &state.catalog) {
                Ok(c) => {
                    state.catalog = Arc::new(c);
                    state.stamp = stamp;
                }
                Err(e) => log::warn!(target: "fs", "cannot read the image list: {}",
                    crate::logger::error_chain(&e)),
            }
        }
        state.catalog.clone()
    }

    fn node(&self, ino: u64) -> Result<Node, FsError> {
        if ino == tree::ROOT_INO {
            return Ok(Node::Root);
        }
        self.nodes
            .read()
            .expect("node table lock poisoned")
            .get(&ino)
            .cloned()
            .ok_or(FsError::UnknownInode(ino))
    }

    fn remember(&self, node: Node) -> u64 {
        let ino = node.ino();
        if ino != tree::ROOT_INO {
            self.nodes
                .write()
                .expect("node table lock poisoned")
                .insert(ino, node);
        }
        ino
    }

    fn import_platforms(dir: &str) -> Vec<Platform> {
        tree::parse_platform_list(dir).unwrap_or_default()
    }

    /// The node `name` names inside `parent`.
    fn child(&self, parent: &Node, name: &str) -> Result<Node, FsError> {
        let not_found = || FsError::NotFound {
            name: name.to_string(),
        };
        let image_path = |prefix: &[String]| {
            let mut p = prefix.to_vec();
            p.push(name.to_string());
            match self.catalog().find(&p) {
                Some(Found::Image(e)) => Ok(Node::Image(e)),
                Some(Found::Prefix(p)) => Ok(Node::NamePrefix(p)),
                None => Err(not_found()),
            }
        };
        match parent {
            Node::Root => match name {
                tree::IMAGES_DIR => Ok(Node::ImagesDir),
                tree::IMPORT_DIR => Ok(Node::ImportDir(String::new())),
                _ => Err(not_found()),
            },
            Node::ImagesDir => image_path(&[]),
            Node::NamePrefix(prefix) => image_path(prefix),
            Node::Image(e) => match name {
                tree::INDEX_JSON => Ok(Node::IndexJson(e.clone())),
                tree::IMAGE_TAR => Ok(Node::Archive(e.clone(), Vec::new())),
                tree::BY_PLATFORM_DIR => Ok(Node::ByPlatformDir(e.clone())),
                _ => Err(not_found()),
            },
            Node::ByPlatformDir(e) => {
                if let Some(stem) = name.strip_suffix(".tar") {
                    let platforms = tree::parse_platform_list(stem).ok_or_else(not_found)?;
                    if platforms.iter().any(|p| e.manifest(p).is_err()) {
                        return Err(e.absent(platforms));
                    }
                    Ok(Node::Archive(e.clone(), platforms))
                } else {
                    match tree::parse_platform_list(name).as_deref() {
                        Some([p]) => {
                            e.manifest(p)?;
                            Ok(Node::PlatformDir(e.clone(), p.clone()))
                        }
                        _ => Err(not_found()),
                    }
                }
            }
            Node::PlatformDir(e, p) => match name {
                tree::MANIFEST_JSON => Ok(Node::ManifestJson(e.clone(), p.clone())),
                tree::CONFIG_JSON => Ok(Node::ConfigJson(e.clone(), p.clone())),
                _ => Err(not_found()),
            },
            Node::ImportDir(dir) => {
                if name == tree::STATUS_DIR {
                    return Ok(Node::StatusDir(dir.clone()));
                }
                let imports = self.imports.lock().expect("imports lock poisoned");
                if let Some(u) = imports.get(dir).and_then(|files| files.get(name)) {
                    return Ok(Node::ImportFile(u.clone()));
                }
                // Any platform list is a directory that can be written into, listed or not.
                if dir.is_empty() && tree::is_import_platform_dir(name) {
                    return Ok(Node::ImportDir(name.to_string()));
                }
                Err(not_found())
            }
            Node::StatusDir(dir) => {
                let imports = self.imports.lock().expect("imports lock poisoned");
                imports
                    .get(dir)
                    .and_then(|files| files.get(name))
                    .map(|u| Node::StatusFile(u.clone()))
                    .ok_or_else(not_found)
            }
            Node::IndexJson(_)
            | Node::ManifestJson(..)
            | Node::ConfigJson(..)
            | Node::Archive(..)
            | Node::ImportFile(_)
            | Node::StatusFile(_) => Err(FsError::NotADirectory),
        }
    }

    fn attr(&self, node: &Node) -> Result<Attr, FsError> {
        let dir = |mtime: SystemTime, perm: u16| (FileKind::Directory, 0, perm, mtime);
        let file =
            |size: u64, mtime: SystemTime, perm: u16| (FileKind::RegularFile, size, perm, mtime);
        let (kind, size, perm, mtime) = match node {
            // Times of what the store holds, not of this mount: a remount (a new daemon) must
            // show the same times, or backup tools count every directory as changed.
            Node::Root | Node::ImagesDir | Node::NamePrefix(_) => {
                dir(self.catalog().newest(), 0o555)
            }
            Node::Image(e) | Node::ByPlatformDir(e) | Node::PlatformDir(e, _) => {
                dir(e.mtime, 0o555)
            }
            Node::IndexJson(e) => file(e.record.bare_target().size, e.mtime, 0o444),
            Node::ManifestJson(e, p) => file(e.manifest(p)?.descriptor.size, e.mtime, 0o444),
            Node::ConfigJson(e, p) => {
                let size = e.manifest(p)?.children.first().map_or(0, |c| c.size);
                file(size, e.mtime, 0o444)
            }
            Node::Archive(e, ps) => file(e.plan(&self.store, ps)?.size(), e.mtime, 0o444),
            // A read-only store takes no imports: say so in the mode too.
            Node::ImportDir(d) if self.store.is_read_only() => dir(self.newest_upload(d), 0o555),
            Node::ImportDir(d) => dir(self.newest_upload(d), 0o755),
            // rm of a status is allowed, so its directory says so.
            Node::StatusDir(d) => dir(self.newest_upload(d), 0o755),
            // Write-only, the truth: the bytes went into the store and cannot be read back.
            Node::ImportFile(u) => {
                let m = u.meta();
                file(m.size, m.mtime, 0o200)
            }
            Node::StatusFile(u) => file(status_bytes(u).len() as u64, u.meta().mtime, 0o444),
        };
        Ok(Attr {
            ino: node.ino(),
            kind,
            size,
            blocks: size.div_ceil(512).max(1),
            perm,
            nlink: if kind == FileKind::Directory { 2 } else { 1 },
            uid: self.options.uid,
            gid: self.options.gid,
            mtime,
            ctime: ctime_of(mtime, node.ino()),
            blksize: BLOCK_SIZE,
        })
    }

    /// The newest mtime of the uploads in import directory `dir`, else the images' newest.
    fn newest_upload(&self, dir: &str) -> SystemTime {
        let imports = self.imports.lock().expect("imports lock poisoned");
        let newest = imports
            .get(dir)
            .into_iter()
            .flat_map(|files| files.values())
            .map(|u| u.meta().mtime)
            .max();
        drop(imports);
        newest.unwrap_or_else(|| self.catalog().newest())
    }

    pub fn lookup(&self, parent: u64, name: &OsStr, caller: &Caller) -> Result<Attr, FsError> {
        let parent = self.node(parent)?;
        check(&self.attr(&parent)?, caller, Need::EXEC, "lookup")?;
        let node = self.child(&parent, name_str(name)?)?;
        let attr = self.attr(&node)?;
        self.remember(node);
        Ok(attr)
    }

    pub fn getattr(&self, ino: u64) -> Result<Attr, FsError> {
        self.attr(&self.node(ino)?)
    }

    /// access(2): EROFS for write access to anything outside `import/`, for root too (so `[ -w ]`
    /// and file managers see the truth), else the mode decides.
    pub fn access(&self, ino: u64, mask: i32, caller: &Caller) -> Result<(), FsError> {
        let node = self.node(ino)?;
        if flag(mask, libc::W_OK) && !writable(&node) {
            return Err(FsError::AccessRefused(Box::new(FsError::ReadOnly)));
        }
        // A file written into import/ has no bytes to read back, not even for root.
        if flag(mask, libc::R_OK) && matches!(node, Node::ImportFile(_)) {
            return Err(FsError::AccessRefused(Box::new(FsError::WriteOnly)));
        }
        // import/ of a read-only store takes nothing, whoever asks (create says EROFS too).
        if flag(mask, libc::W_OK) && self.store.is_read_only() {
            return Err(FsError::AccessRefused(Box::new(
                self.check_store_writable()
                    .expect_err("the store is read-only"),
            )));
        }
        check(
            &self.attr(&node)?,
            caller,
            Need((mask & 7) as u16),
            "access",
        )
        .map_err(|e| FsError::AccessRefused(Box::new(e)))
    }

    pub fn readdir(&self, ino: u64, caller: &Caller) -> Result<Vec<DirEntry>, FsError> {
        let node = self.node(ino)?;
        if node.is_dir() {
            check(&self.attr(&node)?, caller, Need::READ, "readdir")?;
        }
        let mut children: Vec<(String, Node)> = Vec::new();
        match &node {
            Node::Root => {
                children.push((tree::IMAGES_DIR.into(), Node::ImagesDir));
                children.push((tree::IMPORT_DIR.into(), Node::ImportDir(String::new())));
            }
            Node::ImagesDir | Node::NamePrefix(_) => {
                let prefix = match &node {
                    Node::NamePrefix(p) => p.clone(),
                    _ => Vec::new(),
                };
                for found in self.catalog().children(&prefix) {
                    let (name, child) = match found {
                        Found::Image(e) => (e.path[prefix.len()].clone(), Node::Image(e)),
                        Found::Prefix(p) => (p[prefix.len()].clone(), Node::NamePrefix(p)),
                    };
                    children.push((name, child));
                }
            }
            Node::Image(e) => {
                children.push((tree::INDEX_JSON.into(), Node::IndexJson(e.clone())));
                children.push((tree::IMAGE_TAR.into(), Node::Archive(e.clone(), Vec::new())));
                children.push((tree::BY_PLATFORM_DIR.into(), Node::ByPlatformDir(e.clone())));
            }
            Node::ByPlatformDir(e) => {
                for p in e.platforms() {
                    let name = p.file_name();
                    children.push((
                        format!("{name}.tar"),
                        Node::Archive(e.clone(), vec![p.clone()]),
                    ));
                    children.push((name, Node::PlatformDir(e.clone(), p)));
                }
            }
            Node::PlatformDir(e, p) => {
                children.push((
                    tree::MANIFEST_JSON.into(),
                    Node::ManifestJson(e.clone(), p.clone()),
                ));
                children.push((
                    tree::CONFIG_JSON.into(),
                    Node::ConfigJson(e.clone(), p.clone()),
                ));
            }
            Node::ImportDir(dir) => {
                children.push((tree::STATUS_DIR.into(), Node::StatusDir(dir.clone())));
                let imports = self.imports.lock().expect("imports lock poisoned");
                if dir.is_empty() {
                    for sub in imports.keys().filter(|k| !k.is_empty()) {
                        children.push((sub.clone(), Node::ImportDir(sub.clone())));
                    }
                }
                // Uploads are not listed: `import/` is a drop box (their bytes cannot be read
                // back, and backup tools walking the mount would fail on them). They stay
                // reachable by name, and `.status/` lists them all.
            }
            Node::StatusDir(dir) => {
                let imports = self.imports.lock().expect("imports lock poisoned");
                for (name, u) in imports.get(dir).into_iter().flatten() {
                    children.push((name.clone(), Node::StatusFile(u.clone())));
                }
            }
            Node::IndexJson(_)
            | Node::ManifestJson(..)
            | Node::ConfigJson(..)
            | Node::Archive(..)
            | Node::ImportFile(_)
            | Node::StatusFile(_) => return Err(FsError::NotADirectory),
        }
        let mut out = vec![
            DirEntry {
                ino,
                kind: FileKind::Directory,
                name: ".".into(),
            },
            DirEntry {
                ino: tree::ROOT_INO,
                kind: FileKind::Directory,
                name: "..".into(),
            },
        ];
        for (name, child) in children {
            let kind = if child.is_dir() {
                FileKind::Directory
            } else {
                FileKind::RegularFile
            };
            let ino = self.remember(child);
            out.push(DirEntry { ino, kind, name });
        }
        Ok(out)
    }

    fn add_handle(&self, handle: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles
            .lock()
            .expect("handle table lock poisoned")
            .insert(fh, Arc::new(handle));
        fh
    }

    fn handle(&self, fh: u64) -> Result<Arc<Handle>, FsError> {
        self.handles
            .lock()
            .expect("handle table lock poisoned")
            .get(&fh)
            .cloned()
            .ok_or(FsError::BadHandle(fh))
    }

    pub fn open(&self, ino: u64, flags: i32, caller: &Caller) -> Result<Opened, FsError> {
        let node = self.node(ino)?;
        let writing = is_write_open(flags);
        if writing && !writable(&node) {
            return Err(FsError::ReadOnly);
        }
        let need = match flags & libc::O_ACCMODE {
            libc::O_RDONLY if writing => Need::WRITE, // O_TRUNC
            libc::O_RDONLY => Need::READ,
            libc::O_WRONLY => Need::WRITE,
            _ => Need(Need::READ.0 | Need::WRITE.0),
        };
        if !node.is_dir() {
            check(&self.attr(&node)?, caller, need, "open")?;
        }
        self.open_node(node, flags, caller.pid)
    }

    /// Opens `node` without a permission check (done by `open`; `create` needs none).
    fn open_node(&self, node: Node, flags: i32, pid: u32) -> Result<Opened, FsError> {
        let writing = is_write_open(flags);
        let document = |bytes: Vec<u8>| {
            Ok(Opened {
                fh: self.add_handle(Handle::Bytes(bytes.into())),
                direct_io: false,
                keep_cache: true,
            })
        };
        match &node {
            Node::Archive(e, ps) => {
                if writing {
                    return Err(FsError::ReadOnly);
                }
                // Each open file reads through its own copy of the cached plan: the blob files
                // it opens close with it (see `ArchivePlan::reopened`).
                let plan = Arc::new(e.plan(&self.store, ps)?.reopened());
                let lease = self.leases.acquire(&self.store)?;
                let fh = self.add_handle(Handle::Archive {
                    plan,
                    _lease: lease,
                });
                Ok(Opened {
                    fh,
                    direct_io: self.options.direct_io || flag(flags, libc::O_DIRECT),
                    keep_cache: true,
                })
            }
            Node::IndexJson(e) if !writing => document(
                self.store
                    .read_document(&e.record.bare_target())
                    .map_err(FsError::Store)?,
            ),
            Node::ManifestJson(e, p) if !writing => document(
                self.store
                    .read_document(&e.manifest(p)?.descriptor)
                    .map_err(FsError::Store)?,
            ),
            Node::ConfigJson(e, p) if !writing => {
                let m = e.manifest(p)?;
                let config = m
                    .children
                    .first()
                    .ok_or_else(|| e.absent(vec![p.clone()]))?;
                document(self.store.read_document(config).map_err(FsError::Store)?)
            }
            Node::StatusFile(u) if !writing => Ok(Opened {
                fh: self.add_handle(Handle::Bytes(status_bytes(u).into())),
                // Its size changes as the import proceeds: never serve stale cached pages.
                direct_io: true,
                keep_cache: false,
            }),
            Node::ImportFile(u) => {
                if !writing {
                    return Err(FsError::WriteOnly);
                }
                u.reset();
                Ok(Opened {
                    fh: self.add_handle(Handle::Upload {
                        upload: u.clone(),
                        opener_pid: pid,
                        wrote: AtomicBool::new(false),
                    }),
                    direct_io: true,
                    keep_cache: false,
                })
            }
            Node::IndexJson(_)
            | Node::ManifestJson(..)
            | Node::ConfigJson(..)
            | Node::StatusFile(_) => Err(FsError::ReadOnly),
            Node::Root
            | Node::ImagesDir
            | Node::NamePrefix(_)
            | Node::Image(_)
            | Node::ByPlatformDir(_)
            | Node::PlatformDir(..)
            | Node::ImportDir(_)
            | Node::StatusDir(_) => Err(FsError::IsADirectory),
        }
    }

    /// Bytes at `offset`: exactly `size` of them unless the file ends first.
    /// Reads into `buf` (the caller's reusable buffer, so a read allocates nothing) and
    /// returns how many of its first bytes are the answer.
    pub fn read(
        &self,
        fh: u64,
        offset: u64,
        size: u32,
        buf: &mut Vec<u8>,
    ) -> Result<usize, FsError> {
        match &*self.handle(fh)? {
            Handle::Archive { plan, .. } => {
                if cfg!(feature = "stub_read") {
                    // The benchmark's FUSE ceiling: same daemon, no archive work.
                    let want = (size as u64).min(plan.size().saturating_sub(offset)) as usize;
                    handles::reserve(buf, want).fill(0);
                    return Ok(want);
                }
                read_plan(plan, offset, size as usize, buf)
            }
            Handle::Bytes(b) => Ok(read_bytes(b, offset, size as usize, buf)),
            Handle::Upload { .. } => Err(FsError::WriteOnly),
        }
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32, FsError> {
        match &*self.handle(fh)? {
            Handle::Upload { upload, wrote, .. } => {
                // Only a handle whose data was accepted may commit: a second writer whose
                // write is refused must not end someone else's import at its close.
                let n = upload.write(&self.store, offset, data)?;
                wrote.store(true, Ordering::Relaxed);
                Ok(n)
            }
            Handle::Archive { .. } | Handle::Bytes(_) => Err(FsError::ReadOnly),
        }
    }

    /// close(2): commits an upload when its opener closes it after writing, so the import's
    /// outcome is what close returns. Flushes of dup'd descriptors and of other processes, and
    /// flushes before any data, only pass.
    pub fn flush(&self, fh: u64, pid: u32) -> Result<(), FsError> {
        if let Handle::Upload {
            upload,
            opener_pid,
            wrote,
        } = &*self.handle(fh)?
            && *opener_pid == pid
            && wrote.load(Ordering::Relaxed)
            && upload.meta().size > 0
            && let Some(Err(e)) = upload.commit(&self.store)
        {
            return Err(FsError::Import(e));
        }
        Ok(())
    }

    /// Last close: commits an upload nobody flushed (a writer that forked, or was killed, in
    /// which case the truncated archive is rejected). Errors here reach no application; the
    /// status file keeps them.
    pub fn release(&self, fh: u64) -> Result<(), FsError> {
        let handle = self
            .handles
            .lock()
            .expect("handle table lock poisoned")
            .remove(&fh)
            .ok_or(FsError::BadHandle(fh))?;
        if let Handle::Upload { upload, wrote, .. } = &*handle
            && wrote.load(Ordering::Relaxed)
            && upload.meta().size > 0
        {
            upload.commit(&self.store);
        }
        Ok(())
    }

    /// Imports into a read-only store fail when the file is created, naming the store.
    fn check_store_writable(&self) -> Result<(), FsError> {
        if self.store.is_read_only() {
            return Err(FsError::Store(crate::store::StoreError::ReadOnly {
                root: self.store.root().to_path_buf(),
                op: "import",
            }));
        }
        Ok(())
    }

    /// The store filesystem's real capacity: file managers refuse to copy onto 0 free.
    pub fn statfs(&self) -> Result<StatFs, FsError> {
        let path = std::ffi::CString::new(self.store.root().as_os_str().as_encoded_bytes())
            .map_err(|e| FsError::Io {
                op: "statfs the store",
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            })?;
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `path` is a valid NUL-terminated string and `st` points to writable memory
        // of the right type; statvfs initialises it fully when it returns 0.
        let rc = unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) };
        if rc != 0 {
            return Err(FsError::Io {
                op: "statfs the store",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: statvfs returned 0, so it filled `st`.
        let st = unsafe { st.assume_init() };
        Ok(StatFs {
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            bsize: st.f_bsize as u32,
            namelen: 255,
            frsize: st.f_frsize as u32,
        })
    }

    /// Every upload's status, for tests and the CLI.
    pub fn upload_statuses(&self) -> Vec<UploadStatus> {
        let imports = self.imports.lock().expect("imports lock poisoned");
        imports
            .values()
            .flat_map(|f| f.values())
            .map(|u| u.status())
            .collect()
    }
}

fn status_bytes(u: &Upload) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&u.status()).expect("status serializes");
    bytes.push(b'\n');
    bytes
}
