//! The namespace: the image catalog (re-read when the store changes), the inode table, and the
//! ops that find and describe nodes: lookup, getattr, access, readdir, statfs.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::access::{Caller, Need, check};
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

/// A distinct, stable ctime per inode: the shown time plus the inode number modulo one second,
/// in nanoseconds. Borg 1.2 keeps only files-cache entries older than the newest ctime of the
/// run (it cannot tell the newest from files changed during the backup: borg 1.2
/// src/borg/cache.py `LocalCache.commit`), so one shared ctime made it re-read every file on
/// every run; now only the file with the newest ctime is read again.
fn ctime_of(mtime: SystemTime, ino: u64) -> SystemTime {
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

    /// The extended attribute `name` of `ino`: the mount keeps none, so this is ENODATA for any
    /// name of an existing node, as on a filesystem whose files have no xattrs.
    pub fn getxattr(&self, ino: u64, name: &OsStr) -> Result<Vec<u8>, FsError> {
        self.node(ino)?;
        Err(FsError::NoAttribute {
            name: name.to_string_lossy().into_owned(),
        })
    }

    /// The names of `ino`'s extended attributes, NUL-separated: none (`getfattr -d` prints
    /// nothing, `tar --xattrs` stores nothing, neither reports an error).
    pub fn listxattr(&self, ino: u64) -> Result<Vec<u8>, FsError> {
        self.node(ino)?;
        Ok(Vec::new())
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
        self.nodes
            .read()
            .expect("node table lock poisoned")
            .get(&ino)
            .cloned()
            .ok_or(FsError::UnknownInode(ino))
    }

    pub(super) fn remember(&self, node: Node) -> u64 {
        let ino = node.ino();
        if ino != tree::ROOT_INO {
            self.nodes
                .write()
                .expect("node table lock poisoned")
                .insert(ino, node);
        }
        ino
    }

    pub(super) fn child(&self, parent: &Node, name: &str) -> Result<Node, FsError> {
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
                let upload = tree::status_upload(name).ok_or_else(not_found)?;
                let imports = self.imports.lock().expect("imports lock poisoned");
                imports
                    .get(dir)
                    .and_then(|files| files.get(upload))
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
            Node::Image(e) | Node::ByPlatformDir(e) | Node::PlatformDir(e, _) => {
                dir(e.mtime, images_dir)
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
        if flag(mask, libc::W_OK)
            && let Err(read_only) = self.check_store_writable()
        {
            return Err(FsError::AccessRefused(Box::new(read_only)));
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
            }
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
