//! `ImageFs`: the kernel-free filesystem core. It maps paths to nodes, nodes to attributes and
//! bytes, and writes under `import/` to imports; it returns plain structs and [`FsError`], so
//! it can be driven without FUSE. It decides nothing about tar bytes (that is `archive`) and
//! never replies to the kernel (that is `fuse`).
//!
//! This file holds the types the ops take and return, and `ImageFs` itself; the ops live by
//! concern: `namespace.rs` (catalog, inodes, lookup, getattr, access, readdir, statfs),
//! `reading.rs` (open, read, release), `import_dir.rs` (uploads and the ops that change
//! `import/`). `tree.rs` has the nodes and the image catalog, `handles.rs` open files,
//! `upload.rs` files written into `import/`, `access.rs` permission checks, `error.rs` errnos.
//!
//! The tree, attributes and errors are specified in doc/SEMANTICS.md ("The mount").

mod access;
mod error;
#[cfg(test)]
mod fixtures;
mod handles;
mod import_dir;
mod inside;
mod live;
mod namespace;
mod reading;
mod tree;
mod upload;

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

pub use access::Caller;
pub use error::FsError;
pub use inside::RootfsStatus;
pub use live::{Invalidation, StoreWatch};
pub use reading::ArchiveReader;
pub use upload::{LoadedOutcome, UploadState, UploadStatus};

use handles::{Handle, LeaseTable};
use inside::Trees;
use namespace::CatalogState;
use reading::PlanReader;
use tree::Node;
use upload::Upload;

use crate::store::Store;

/// The kernel's attribute and entry cache time for nodes that can change: short, because tags
/// move and imports land.
pub(crate) const CHANGING_TTL: Duration = Duration::from_secs(1);

/// `st_blksize`: coreutils sizes its buffers by it (`max(128 KiB, st_blksize)`), so `cp` and
/// `cat` read 1 MiB per call, the largest FUSE request.
pub const BLOCK_SIZE: u32 = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    RegularFile,
    Symlink,
    NamedPipe,
    CharDevice,
    BlockDevice,
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
    /// A device node's number (`makedev`); 0 for the rest.
    pub rdev: u32,
    /// How long the kernel may keep this node's attributes and the name that led to it: a
    /// second where tags move and imports land; long inside an image's root filesystem, where
    /// nothing under an inode number ever changes (the number is derived from the content).
    pub ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: FileKind,
    /// Bytes, not text: names inside images need not be UTF-8.
    pub name: OsString,
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
    /// The mount only reads: no `import/` directory (`--read-only`, `-o ro`).
    pub read_only: bool,
    /// Permission bits for directories and for files, as `--dir-mode`/`--file-mode` give them
    /// (mount-s3's options of the same names); `None`: the defaults the mount has today.
    pub dir_mode: Option<u16>,
    pub file_mode: Option<u16>,
}

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
    /// Where archive bytes come from: the plans, unless a benchmark swapped in another reader.
    reader: Arc<dyn ArchiveReader>,
    /// The trees inside images the mount has shown (`fs/inside.rs`).
    trees: Trees,
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

/// Whether a node can change at all: everything outside `import/` is read-only, for root too.
/// `.status/` accepts only `rm` of its entries (`<upload>.json`).
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
            catalog: RwLock::new(CatalogState::default()),
            nodes: RwLock::new(HashMap::new()),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            imports: Mutex::new(imports),
            upload_seq: AtomicU64::new(0),
            leases: Arc::new(LeaseTable::default()),
            reader: Arc::new(PlanReader),
            trees: Trees::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}
