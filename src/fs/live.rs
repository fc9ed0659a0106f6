//! The live view: noticing changes other processes make to the store (the CLI, another mount)
//! as they happen, through inotify, and saying which of the kernel's cached entries they made
//! stale. The kernel caches entries and attributes for a second; without this, a name `rm`
//! removed would stay visible (and a moved name show its old image) until that runs out.
//! Deciding what is stale happens here; the fuse adapter only forwards it to the kernel.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ImageFs;
use super::tree::{ImageCatalog, Node};
use crate::oci::{BLOB_DIR, INDEX_FILE};

/// What the kernel should forget.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Invalidation {
    /// The entry `name` in directory `parent`: it is gone or now leads to another inode.
    Entry { parent: u64, name: String },
    /// A directory whose listing or attributes changed.
    Inode(u64),
}

/// Quiet time after an event before the store is looked at: an import renames many blobs and
/// then `index.json`; one look after the burst serves them all.
const SETTLE: Duration = Duration::from_millis(15);
/// A burst longer than this is looked at anyway, so a busy store still shows changes.
const SETTLE_AT_MOST: Duration = Duration::from_millis(100);

/// An inotify watch on the store: `index.json` replaced (every change of the image list is a
/// rename onto it) and blobs added or removed (a platform completed, or `gc`); and the image
/// list as last reported to the kernel, which what changed is measured against (lookups may
/// have re-read the store in between, so the mount's current catalog is no reference).
#[derive(Debug)]
pub struct StoreWatch {
    fd: OwnedFd,
    index_wd: i32,
    reported: Mutex<Arc<ImageCatalog>>,
}

impl StoreWatch {
    fn new(root: &Path, shown: Arc<ImageCatalog>) -> io::Result<StoreWatch> {
        // SAFETY: inotify_init1 takes no pointers; a negative result is checked below.
        let raw = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let index_wd = add_watch(&fd, root, libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE)?;
        add_watch(
            &fd,
            &root.join(BLOB_DIR),
            libc::IN_MOVED_TO | libc::IN_MOVED_FROM | libc::IN_DELETE,
        )?;
        Ok(StoreWatch {
            fd,
            index_wd,
            reported: Mutex::new(shown),
        })
    }

    /// Blocks until the store changed, then until the change settles.
    pub fn wait(&self) -> io::Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = self.read(&mut buf)?;
            if self.relevant(&buf[..n]) {
                break;
            }
        }
        let start = Instant::now();
        while start.elapsed() < SETTLE_AT_MOST && self.readable_within(SETTLE)? {
            self.read(&mut buf)?;
        }
        Ok(())
    }

    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn readable_within(&self, wait: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) };
        match n {
            0 => Ok(false),
            n if n > 0 => Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(true)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Whether a batch of events says the store's content may have changed: any blob event,
    /// or `index.json` in the root (lock files and temp files there change nothing shown).
    fn relevant(&self, mut events: &[u8]) -> bool {
        const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
        while events.len() >= HEADER {
            // SAFETY: at least HEADER bytes remain; read_unaligned copes with any alignment.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(events.as_ptr().cast()) };
            let end = (HEADER + ev.len as usize).min(events.len());
            let name = &events[HEADER..end];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            if ev.mask & libc::IN_Q_OVERFLOW != 0
                || ev.wd != self.index_wd
                || name == INDEX_FILE.as_bytes()
            {
                return true;
            }
            events = &events[end..];
        }
        false
    }
}

fn add_watch(fd: &OwnedFd, path: &Path, mask: u32) -> io::Result<i32> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))?;
    // SAFETY: `c` is a valid C string for the duration of the call.
    let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) };
    if wd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(wd)
}

impl ImageFs {
    /// A watch on this mount's store, for the thread that keeps the kernel's view live.
    pub fn watch_store(&self) -> io::Result<StoreWatch> {
        StoreWatch::new(self.store.root(), self.catalog())
    }

    /// Looks at the store now (not after `CATALOG_TTL`) and returns what the kernel should
    /// forget since the last call with `watch`: the entries of names that are gone or lead
    /// elsewhere, and the directories whose listing changed.
    pub fn refresh(&self, watch: &StoreWatch) -> Vec<Invalidation> {
        self.catalog_changed();
        let new = self.catalog();
        let mut reported = watch
            .reported
            .lock()
            .expect("reported catalog lock poisoned");
        let old = std::mem::replace(&mut *reported, new.clone());
        if Arc::ptr_eq(&old, &new) {
            return Vec::new();
        }
        let mut out: BTreeSet<Invalidation> = stale(&old, &new).into_iter().collect();
        out.extend(self.stale_directory_times(&old, &new));
        out.into_iter().collect()
    }

    /// The directories whose attributes the change made stale although their listing may be
    /// the same: those above the images carry the time the image list last changed, and so do
    /// the import directories without uploads; `import/` lists the platforms images have. Only
    /// directories the kernel was given (the node table) can be cached there, so only those are
    /// named: a store of many names does not cost one notification per name prefix.
    fn stale_directory_times(&self, old: &ImageCatalog, new: &ImageCatalog) -> Vec<Invalidation> {
        let mut out = Vec::new();
        if old.platform_dirs() != new.platform_dirs() {
            out.push(Invalidation::Inode(Node::ImportDir(String::new()).ino()));
        }
        if old.time() == new.time() {
            return out;
        }
        out.push(Invalidation::Inode(Node::Root.ino()));
        let nodes = self.nodes.read().expect("node table lock poisoned");
        let above_images = |n: &Node| {
            matches!(
                n,
                Node::ImagesDir | Node::NamePrefix(_) | Node::ImportDir(_) | Node::StatusDir(_)
            )
        };
        out.extend(
            nodes
                .iter()
                .filter(|(_, n)| above_images(n))
                .map(|(&ino, _)| Invalidation::Inode(ino)),
        );
        out
    }
}

/// What changed between two catalogs, as the kernel knows it.
pub(super) fn stale(old: &ImageCatalog, new: &ImageCatalog) -> Vec<Invalidation> {
    let dir_ino = |prefix: &[String]| match prefix {
        [] => Node::ImagesDir.ino(),
        p => Node::NamePrefix(p.to_vec()).ino(),
    };
    let mut out = BTreeSet::new();
    for (path, entry) in old.images() {
        if new.image(path).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            continue;
        }
        // The image's own entry, and each directory on its way that no longer exists.
        for depth in 1..=path.len() {
            let gone = depth == path.len() || new.find(&path[..depth]).is_none();
            if gone {
                out.insert(Invalidation::Entry {
                    parent: dir_ino(&path[..depth - 1]),
                    name: path[depth - 1].clone(),
                });
            }
            out.insert(Invalidation::Inode(dir_ino(&path[..depth - 1])));
        }
    }
    for (path, entry) in new.images() {
        if old.image(path).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            continue;
        }
        for depth in 1..=path.len() {
            out.insert(Invalidation::Inode(dir_ino(&path[..depth - 1])));
        }
    }
    out.into_iter().collect()
}
