//! The namespace: the image catalog (re-read when the store changes), the inode table, and the
//! ops that find and describe nodes: lookup, getattr, access, readdir, statfs.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use std::os::unix::ffi::OsStrExt;

use super::access::{Caller, Need, check};
use super::inside::{self, View};
use super::tree::{self, Found, ImageCatalog, Node};
use super::{
    Attr, BLOCK_SIZE, DirEntry, FileKind, FsError, ImageFs, StatFs, flag, name_str, writable,
};
use crate::oci::{BLOB_DIR, INDEX_FILE};

/// How long a look at `index.json` stays fresh: CLI changes show within this (plus the kernel's
/// 1 s entry cache), while a busy reader does not stat the file on every lookup.
const CATALOG_TTL: Duration = Duration::from_millis(500);

/// What is known about `index.json` the last time we looked.
#[derive(Debug, Default)]
pub(super) struct CatalogState {
    catalog: Arc<ImageCatalog>,
    checked: Option<Instant>,
    stamp: Option<CatalogStamp>,
}

/// What says the store may show something new: `index.json` (replaced by rename, so its inode
/// changes with its content) and the blob directory's mtime (a blob added to an image already
/// listed, or removed by `gc`, changes which platforms are complete without touching
/// `index.json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct CatalogStamp {
    index_ino: u64,
    index_mtime: SystemTime,
    index_len: u64,
    blobs_mtime: (i64, i64),
}

impl CatalogStamp {
    /// The stamp of the store at `root` now; `None` when either file cannot be looked at.
    fn of(root: &std::path::Path) -> Option<CatalogStamp> {
        let index = std::fs::metadata(root.join(INDEX_FILE)).ok()?;
        let blobs = std::fs::metadata(root.join(BLOB_DIR)).ok()?;
        Some(CatalogStamp {
            index_ino: index.ino(),
            index_mtime: index.modified().ok()?,
            index_len: index.len(),
            blobs_mtime: (blobs.mtime(), blobs.mtime_nsec()),
        })
    }
}

fn dot(ino: u64, name: &str) -> DirEntry {
    DirEntry {
        ino,
        kind: FileKind::Directory,
        name: name.into(),
    }
}

/// A distinct, stable ctime per inode: the shown time plus the inode number modulo one second,
/// in nanoseconds. Borg 1.2 keeps only files-cache entries older than the newest ctime of the
/// run (it cannot tell the newest from files changed during the backup: borg 1.2
/// src/borg/cache.py `LocalCache.commit`), so one shared ctime made it re-read every file on
/// every run; now only the file with the newest ctime is read again.
pub(super) fn ctime_of(mtime: SystemTime, ino: u64) -> SystemTime {
    mtime + Duration::from_nanos(ino % 1_000_000_000)
}

impl ImageFs {
    /// The current image catalog, re-read when `index.json` changed (CLI imports, `rm`).
    pub(super) fn catalog(&self) -> Arc<ImageCatalog> {
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
        let stamp = CatalogStamp::of(self.store.root());
        if stamp != state.stamp || stamp.is_none() {
            match ImageCatalog::load(&self.store, &state.catalog) {
                Ok(c) => {
                    state.catalog = Arc::new(c.stamped(stamp.map(|s| s.index_mtime)));
                    state.stamp = stamp;
                }
                Err(e) => log::warn!(target: "fs", "cannot read the image list: {}",
                    crate::error::chain(&e)),
            }
        }
        state.catalog.clone()
    }

    /// The extended attribute `name` of `ino`: inside an image, what its layer recorded;
    /// elsewhere the mount keeps none, so this is ENODATA for any name of an existing node, as
    /// on a filesystem whose files have no xattrs.
    pub fn getxattr(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>, FsError> {
        let missing = || FsError::NoAttribute {
            name: name.to_string_lossy().into_owned(),
        };
        match self.node(ino)? {
            Node::InTree(slot, place) => self
                .tree_xattr(&slot, place, name.as_bytes())?
                .ok_or_else(missing),
            _ => Err(missing()),
        }
    }

    /// The names of `ino`'s extended attributes, NUL-separated: inside an image, its layer's;
    /// elsewhere none (`getfattr -d` prints nothing, `tar --xattrs` stores nothing, neither
    /// reports an error).
    pub fn listxattr(&self, ino: u64) -> Result<Vec<u8>, FsError> {
        match self.node(ino)? {
            Node::InTree(slot, place) => {
                let mut out = Vec::new();
                for (name, _) in self.tree_xattrs(&slot, place)? {
                    out.extend_from_slice(&name);
                    out.push(0);
                }
                Ok(out)
            }
            _ => Ok(Vec::new()),
        }
    }

    /// A symlink's target, verbatim (only nodes inside images are symlinks).
    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>, FsError> {
        match self.node(ino)? {
            Node::InTree(slot, place) => self.tree_readlink(&slot, place),
            _ => Err(FsError::NotASymlink),
        }
    }

    /// `check`, with what the mounting user may do inside images: read every file and search
    /// every directory, whatever owner and mode the layer gave them (a 0600 root file must not
    /// hide an image's content from the user who mounted it); writing stays refused (EROFS)
    /// and executing still needs an execute bit. Other users get the stored modes.
    pub(super) fn check_node(
        &self,
        node: &Node,
        attr: &Attr,
        caller: &Caller,
        need: Need,
        op: &'static str,
    ) -> Result<(), FsError> {
        let owner_reads = node.is_inside()
            && caller.uid == self.options.uid
            && need.0 & Need::WRITE.0 == 0
            && (need.0 & Need::EXEC.0 == 0
                || attr.kind == FileKind::Directory
                || attr.perm & 0o111 != 0);
        if owner_reads {
            return Ok(());
        }
        check(attr, caller, need, op)
    }

    /// The store changed through this mount (an upload committed): the next look at the
    /// catalog re-reads `index.json` instead of waiting out `CATALOG_TTL`.
    pub(super) fn catalog_changed(&self) {
        self.catalog.write().expect("catalog lock poisoned").checked = None;
    }

    pub(super) fn node(&self, ino: u64) -> Result<Node, FsError> {
        if ino == tree::ROOT_INO {
            return Ok(Node::Root);
        }
        if let Some(node) = self.tree_node(ino) {
            return node;
        }
        self.nodes
            .read()
            .expect("node table lock poisoned")
            .get(&ino)
            .cloned()
            .ok_or(FsError::UnknownInode(ino))
    }

    pub(super) fn remember(&self, node: Node) -> u64 {
        let ino = node.ino();
        // Tree nodes are found from their numbers (`tree_node`): no table entry per file.
        if ino != tree::ROOT_INO && !node.is_inside() {
            self.nodes
                .write()
                .expect("node table lock poisoned")
                .insert(ino, node);
        }
        ino
    }

    pub(super) fn child(&self, parent: &Node, name: &OsStr) -> Result<Node, FsError> {
        // Names inside images are bytes; everywhere else they are text.
        if let Node::InTree(slot, place) = parent {
            return self.tree_child(slot, *place, name.as_bytes());
        }
        let name = name_str(name)?;
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
                tree::IMPORT_DIR if !self.options.read_only => Ok(Node::ImportDir(String::new())),
                _ => Err(not_found()),
            },
            Node::ImagesDir => image_path(&[]),
            Node::NamePrefix(prefix) => image_path(prefix),
            Node::Image(e) => match name {
                INDEX_FILE => Ok(Node::IndexJson(e.clone())),
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
                inside::ROOTFS_DIR => Ok(Node::InTree(self.tree_slot(e, p, View::Merged)?, 0)),
                inside::LAYERS_DIR => Ok(Node::LayersDir(e.clone(), p.clone())),
                inside::ROOTFS_STATUS => Ok(Node::RootfsStatus(e.clone(), p.clone())),
                _ => Err(not_found()),
            },
            Node::LayersDir(e, p) => self.layers_child(e, p, name)?.ok_or_else(not_found),
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
                let upload = tree::status_upload(name).ok_or_else(not_found)?;
                let imports = self.imports.lock().expect("imports lock poisoned");
                imports
                    .get(dir)
                    .and_then(|files| files.get(upload))
                    .map(|u| Node::StatusFile(u.clone()))
                    .ok_or_else(not_found)
            }
            Node::InTree(..) => unreachable!("handled above"),
            Node::IndexJson(_)
            | Node::ManifestJson(..)
            | Node::ConfigJson(..)
            | Node::Archive(..)
            | Node::LayerBlob(..)
            | Node::Whiteouts(..)
            | Node::RootfsStatus(..)
            | Node::ImportFile(_)
            | Node::StatusFile(_) => Err(FsError::NotADirectory),
        }
    }

    pub(super) fn attr(&self, node: &Node) -> Result<Attr, FsError> {
        let dir = |mtime: SystemTime, perm: u16| (FileKind::Directory, 0, perm, mtime);
        let file =
            |size: u64, mtime: SystemTime, perm: u16| (FileKind::RegularFile, size, perm, mtime);
        // The modes given apply as they are (doc/SEMANTICS.md "Attributes"); write bits outside
        // `import/` grant nothing (EROFS), as on any read-only filesystem.
        let dir_mode = self.options.dir_mode.map(|m| m & 0o777);
        let file_mode = self.options.file_mode.unwrap_or(0o444) & 0o777;
        let images_dir = dir_mode.unwrap_or(0o555);
        // rm of a status is allowed, so import directories (`.status/` too) are writable, but
        // not in a read-only store, which takes no imports: the mode says so too.
        let import_dir = if self.store.is_read_only() {
            dir_mode.unwrap_or(0o755) & !0o222
        } else {
            dir_mode.unwrap_or(0o755)
        };
        let (kind, size, perm, mtime) = match node {
            // Times of what the store holds, not of this mount: a remount (a new daemon) must
            // show the same times, or backup tools count every directory as changed.
            Node::Root | Node::ImagesDir | Node::NamePrefix(_) => {
                dir(self.catalog().time(), images_dir)
            }
            Node::Image(e)
            | Node::ByPlatformDir(e)
            | Node::PlatformDir(e, _)
            | Node::LayersDir(e, _) => dir(e.mtime, images_dir),
            Node::InTree(slot, place) => return self.tree_attr(slot, *place),
            Node::LayerBlob(e, p, n) => file(self.layer_blob(e, p, *n)?.size, e.mtime, file_mode),
            Node::Whiteouts(e, p, n) => {
                file(self.whiteouts(e, p, *n)?.len() as u64, e.mtime, file_mode)
            }
            Node::RootfsStatus(e, p) => {
                let size = self.rootfs_status_bytes(e, p)?.len() as u64;
                file(size, ImageFs::inside_time(e), file_mode)
            }
            Node::IndexJson(e) => file(e.record.bare_target().size, e.mtime, file_mode),
            Node::ManifestJson(e, p) => file(e.manifest(p)?.descriptor.size, e.mtime, file_mode),
            Node::ConfigJson(e, p) => {
                let size = e.manifest(p)?.children.first().map_or(0, |c| c.size);
                file(size, e.mtime, file_mode)
            }
            Node::Archive(e, ps) => file(e.plan(&self.store, ps)?.size(), e.mtime, file_mode),
            Node::ImportDir(d) | Node::StatusDir(d) => dir(self.newest_upload(d), import_dir),
            // Write-only, the truth: the bytes went into the store and cannot be read back, so
            // no file mode's read bits apply.
            Node::ImportFile(u) => {
                let m = u.meta();
                file(m.size, m.mtime, 0o200)
            }
            Node::StatusFile(u) => file(u.status_bytes().len() as u64, u.meta().mtime, file_mode),
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
            rdev: 0,
            ttl: super::CHANGING_TTL,
        })
    }

    /// The newest mtime of the uploads in import directory `dir`, else the images' newest.
    pub(super) fn newest_upload(&self, dir: &str) -> SystemTime {
        let imports = self.imports.lock().expect("imports lock poisoned");
        let newest = imports
            .get(dir)
            .into_iter()
            .flat_map(|files| files.values())
            .map(|u| u.meta().mtime)
            .max();
        drop(imports);
        newest.unwrap_or_else(|| self.catalog().time())
    }

    /// The platform directories `import/` lists: the common platforms, those of the stored
    /// images (from the catalog: no blob is read), and those made with mkdir.
    pub(super) fn import_dir_names(&self, catalog: &ImageCatalog) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = tree::COMMON_IMPORT_PLATFORMS
            .iter()
            .map(|n| n.to_string())
            .chain(catalog.platform_dirs().iter().cloned())
            .collect();
        let imports = self.imports.lock().expect("imports lock poisoned");
        names.extend(imports.keys().filter(|k| !k.is_empty()).cloned());
        names
    }

    pub fn lookup(&self, parent: u64, name: &OsStr, caller: &Caller) -> Result<Attr, FsError> {
        let parent = self.node(parent)?;
        self.check_node(&parent, &self.attr(&parent)?, caller, Need::EXEC, "lookup")?;
        let node = self.child(&parent, name)?;
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
        if flag(mask, libc::W_OK)
            && let Err(read_only) = self.check_store_writable()
        {
            return Err(FsError::AccessRefused(Box::new(read_only)));
        }
        self.check_node(
            &node,
            &self.attr(&node)?,
            caller,
            Need((mask & 7) as u16),
            "access",
        )
        .map_err(|e| FsError::AccessRefused(Box::new(e)))
    }

    /// Every entry of directory `ino`, `.` and `..` first (every page of it).
    pub fn readdir(&self, ino: u64, caller: &Caller) -> Result<Vec<DirEntry>, FsError> {
        let mut all = self.readdir_from(ino, 0, caller)?;
        loop {
            let more = self.readdir_from(ino, all.len(), caller)?;
            if more.is_empty() {
                return Ok(all);
            }
            all.extend(more);
        }
    }

    /// The entries of directory `ino` from the `skip`th on (`.` and `..` are the first two);
    /// inside an image, a page of them (ask again from where it ended), so that a large
    /// directory is listed in pieces without building it whole each time.
    pub fn readdir_from(
        &self,
        ino: u64,
        skip: usize,
        caller: &Caller,
    ) -> Result<Vec<DirEntry>, FsError> {
        let node = self.node(ino)?;
        if let Node::InTree(slot, place) = &node {
            let attr = self.attr(&node)?;
            if attr.kind != FileKind::Directory {
                return Err(FsError::NotADirectory);
            }
            self.check_node(&node, &attr, caller, Need::READ, "readdir")?;
            let mut out = Vec::new();
            if skip == 0 {
                out.push(dot(ino, "."));
            }
            if skip <= 1 {
                let parent = self.tree_parent(slot, *place)?;
                // The root's parent is the directory holding the tree (the kernel knows it and
                // ignores this number for `..`), the rest's their tree parent.
                out.push(dot(
                    if *place == 0 {
                        tree::ROOT_INO
                    } else {
                        slot.ino(parent)
                    },
                    "..",
                ));
            }
            out.extend(self.tree_entries(slot, *place, skip.saturating_sub(2))?);
            return Ok(out);
        }
        if node.is_dir() {
            check(&self.attr(&node)?, caller, Need::READ, "readdir")?;
        }
        let mut children: Vec<(String, Node)> = Vec::new();
        match &node {
            Node::Root => {
                children.push((tree::IMAGES_DIR.into(), Node::ImagesDir));
                if !self.options.read_only {
                    children.push((tree::IMPORT_DIR.into(), Node::ImportDir(String::new())));
                }
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
                children.push((INDEX_FILE.into(), Node::IndexJson(e.clone())));
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
                children.push((
                    inside::ROOTFS_DIR.into(),
                    Node::InTree(self.tree_slot(e, p, View::Merged)?, 0),
                ));
                children.push((
                    inside::LAYERS_DIR.into(),
                    Node::LayersDir(e.clone(), p.clone()),
                ));
                // `rootfs-status.json` is found by name but not listed: it changes when a
                // build runs, and a backup of the mount must see no change from one run to
                // the next.
            }
            Node::LayersDir(e, p) => children.extend(self.layers_listing(e, p)?),
            Node::ImportDir(dir) => {
                children.push((tree::STATUS_DIR.into(), Node::StatusDir(dir.clone())));
                if dir.is_empty() {
                    for sub in self.import_dir_names(&self.catalog()) {
                        children.push((sub.clone(), Node::ImportDir(sub)));
                    }
                }
                // Uploads are not listed: `import/` is a drop box (their bytes cannot be read
                // back, and backup tools walking the mount would fail on them). They stay
                // reachable by name, and `.status/` lists them all.
            }
            Node::StatusDir(dir) => {
                let imports = self.imports.lock().expect("imports lock poisoned");
                for (name, u) in imports.get(dir).into_iter().flatten() {
                    children.push((tree::status_name(name), Node::StatusFile(u.clone())));
                }
            }
            Node::InTree(..) => unreachable!("listed above"),
            Node::IndexJson(_)
            | Node::ManifestJson(..)
            | Node::ConfigJson(..)
            | Node::Archive(..)
            | Node::LayerBlob(..)
            | Node::Whiteouts(..)
            | Node::RootfsStatus(..)
            | Node::ImportFile(_)
            | Node::StatusFile(_) => return Err(FsError::NotADirectory),
        }
        let mut out = vec![dot(ino, "."), dot(tree::ROOT_INO, "..")];
        for (name, child) in children {
            let kind = if child.is_dir() {
                FileKind::Directory
            } else {
                FileKind::RegularFile
            };
            let ino = self.remember(child);
            out.push(DirEntry {
                ino,
                kind,
                name: name.into(),
            });
        }
        Ok(out.into_iter().skip(skip).collect())
    }

    /// The store filesystem's real capacity: file managers refuse to copy onto 0 free.
    pub fn statfs(&self) -> Result<StatFs, FsError> {
        let st = self.store.statvfs().map_err(|source| FsError::Io {
            op: "statfs the store",
            source,
        })?;
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
}
