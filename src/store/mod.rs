//! `Store`: the backing store, an OCI image layout directory (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) that skopeo and umoci can read as `oci:DIR:FULL-NAME`
//! (`oci:STORE:docker.io/library/alpine:3.20`; see `refs`).
//!
//! This is the only module that builds paths inside the store, and it builds blob paths from a
//! validated [`Digest`] alone. It knows digests, bytes and the image list; it does not know
//! platforms or how images are composed (that is `image`).
//!
//! Concurrency: `index.json` is replaced atomically (write, fsync, rename, fsync dir) under an
//! exclusive `flock` on `index.lock`, so a CLI command and a running mount never lose each other's
//! updates. Writers of new blobs hold a shared `flock` on `gc.lock` from their first blob until
//! their refs are published; `gc` takes it exclusively, so it never sweeps blobs of an import in
//! flight.
//!
//! A store the process cannot write (a read-only mount, NFS export, `borg mount`, or another
//! user's store) opens read-only: everything that reads works, and every write says so
//! ([`StoreError::ReadOnly`]) before touching anything.

mod error;
mod history;
mod indexes;
mod ingest;
mod lock;
mod pinned;
mod refs;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use error::{StoreError, describe_holders};
pub use history::{HistoryEntry, MAX_ENTRIES_PER_NAME, format_time, now};
pub use indexes::{
    DamagedIndex, INDEX_DIR, IndexDamage, IndexFile, IndexKind, IndexWriter, PayloadReader,
    RemovedIndexes, StoredIndex, index_size_limit,
};
pub use ingest::{BlobWriter, SpooledBlob};
pub use lock::{LockGuard, LockHolder};
pub use pinned::shown;
pub use refs::{
    ImageRecord, IndexRepair, MAX_INDEX_READ, MAX_INDEX_SIZE, MAX_RECORD_SIZE, RepairedRecord,
};

use crate::digest::{Digest, Hasher};
use crate::oci::{
    self, BLOB_DIR, Descriptor, IMAGE_LAYOUT_VERSION, INDEX_FILE, ImageLayout, OCI_LAYOUT_CONTENT,
    OCI_LAYOUT_FILE,
};

const INGEST_DIR: &str = "ingest";
const INDEX_LOCK_FILE: &str = "index.lock";
const GC_LOCK_FILE: &str = "gc.lock";
const UPLOAD_PREFIX: &str = "upload-";
/// An upload spool is locked by its owner right after it is created; one younger than this may
/// not be locked yet, so it is never taken for abandoned.
const UPLOAD_LOCK_GRACE: Duration = Duration::from_secs(60);
/// Environment variable naming the store when `--store` is not given.
const STORE_ENV: &str = "IMAGEFS_STORE";

#[derive(Debug, Clone)]
pub struct Store {
    /// As the user named it: for messages, and for nothing the kernel resolves.
    root: PathBuf,
    read_only: bool,
    /// Every file operation goes through these (see `pinned`).
    dirs: Arc<pinned::Dirs>,
}

/// The name history as one change to the image list sees it: read from disk only when the
/// change asks for it (most imports move no name, and the history may be tens of MiB).
#[derive(Debug)]
pub struct HistoryChange {
    path: PathBuf,
    /// The entries being changed, and as they were read.
    loaded: Option<(Vec<HistoryEntry>, Vec<HistoryEntry>)>,
}

impl HistoryChange {
    pub fn entries(&mut self) -> Result<&mut Vec<HistoryEntry>, StoreError> {
        if self.loaded.is_none() {
            let entries = history::read_history(&self.path)?;
            self.loaded = Some((entries.clone(), entries));
        }
        Ok(&mut self.loaded.as_mut().expect("just loaded").0)
    }
}

/// Temp files in `ingest/` (or `indexes/`) that no live writer owns, as `gc` would remove them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AbandonedFiles {
    pub count: usize,
    pub bytes: u64,
}

impl std::ops::AddAssign for AbandonedFiles {
    fn add_assign(&mut self, other: AbandonedFiles) {
        self.count += other.count;
        self.bytes += other.bytes;
    }
}

impl Store {
    /// The store location: `--store DIR`, else `$IMAGEFS_STORE`, else `$XDG_DATA_HOME/imagefs`,
    /// else `~/.local/share/imagefs`.
    pub fn default_location(explicit: Option<&Path>) -> Option<PathBuf> {
        if let Some(p) = explicit {
            return Some(p.to_path_buf());
        }
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env(STORE_ENV)
            .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("imagefs")))
            .or_else(|| env("HOME").map(|h| h.join(".local/share/imagefs")))
    }

    /// Opens the store at `root`, creating an empty layout on first use. An existing store this
    /// process cannot write opens read-only.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root = root.into();
        if root.is_dir() && !lock::is_writable(&root) {
            return Store::open_read_only(root);
        }
        let dirs = [
            root.clone(),
            root.join(BLOB_DIR),
            root.join(INGEST_DIR),
            root.join(INDEX_DIR),
        ];
        for dir in dirs {
            fs::create_dir_all(&dir).map_err(|e| StoreError::io("create directory", &dir, e))?;
        }
        let store = Store::pin(root, false)?;
        let layout = store.at(OCI_LAYOUT_FILE);
        match fs::read(&layout) {
            Ok(bytes) => check_layout_version(&layout, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                store.write_atomically(&layout, OCI_LAYOUT_CONTENT)?;
            }
            Err(e) => return Err(StoreError::io("read", &layout, e)),
        }
        let index = store.at(INDEX_FILE);
        if !index.exists() {
            let _lock = store.lock_index()?;
            if !index.exists() {
                store.write_atomically(&index, &refs::encode_index(&[]))?;
            }
        }
        Ok(store)
    }

    /// Opens an existing store for reading only; nothing is created.
    fn open_read_only(root: PathBuf) -> Result<Store, StoreError> {
        let store = Store::pin(root, true)?;
        let layout = store.at(OCI_LAYOUT_FILE);
        let bytes = fs::read(&layout).map_err(|e| StoreError::io("read", &layout, e))?;
        check_layout_version(&layout, &bytes)?;
        store.images()?;
        Ok(store)
    }

    /// Refuses a layout with symlinks, then pins its directories.
    fn pin(root: PathBuf, read_only: bool) -> Result<Store, StoreError> {
        check_no_symlinks(&root)?;
        let dirs = pinned::Dirs::open(&root, BLOB_DIR, INGEST_DIR, INDEX_DIR).map_err(|e| {
            match e.raw_os_error() {
                // A component turned into a symlink between the check and the open.
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => StoreError::Symlink {
                    path: root.join(BLOB_DIR),
                },
                _ => StoreError::io("open", &root, e),
            }
        })?;
        Ok(Store {
            root,
            read_only,
            dirs: Arc::new(dirs),
        })
    }

    /// A file of the store's root directory, through the pinned directory.
    fn at(&self, name: &str) -> PathBuf {
        self.dirs.root(name)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Size and free space of the filesystem holding the store, asked of the directory pinned
    /// at open (as every other operation reaches the store), never of its path.
    pub fn statvfs(&self) -> io::Result<libc::statvfs> {
        self.dirs.statvfs()
    }

    /// Whether the store was opened read-only (see the module docs).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Fails with [`StoreError::ReadOnly`], naming `op`, before a write is attempted on a
    /// read-only store.
    pub fn check_writable(&self, op: &'static str) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                root: self.root.clone(),
                op,
            });
        }
        Ok(())
    }

    /// The one place a blob path is made: from a validated digest, never from other input.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dirs.blobs().join(digest.hex())
    }

    fn ingest_dir(&self) -> PathBuf {
        self.dirs.ingest(INGEST_DIR)
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The stored length of a blob, if present.
    pub fn blob_size(&self, digest: &Digest) -> Option<u64> {
        // A symlink is not a blob (see `lock::open_no_follow`).
        fs::symlink_metadata(self.blob_path(digest))
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    }

    /// Whether the blob a descriptor names is present with the descriptor's size.
    pub fn has_descriptor(&self, d: &Descriptor) -> bool {
        self.blob_size(&d.digest) == Some(d.size)
    }

    /// Opens a blob for reading; fails if it is absent or its size differs from `d.size`.
    pub fn open_blob(&self, d: &Descriptor) -> Result<File, StoreError> {
        ingest::open_checked(self, &d.digest, d.size)
    }

    /// Reads a small blob (a manifest, index or config) whole, verifying size and digest.
    pub fn read_document(&self, d: &Descriptor) -> Result<Vec<u8>, StoreError> {
        if d.size > oci::MAX_DOCUMENT_SIZE {
            return Err(StoreError::CorruptDocument {
                path: self.blob_path(&d.digest),
                source: oci::DocumentError::TooLarge {
                    size: d.size,
                    limit: oci::MAX_DOCUMENT_SIZE,
                },
            });
        }
        let mut file = self.open_blob(d)?;
        let mut bytes = Vec::with_capacity(d.size as usize);
        file.read_to_end(&mut bytes)
            .map_err(|e| StoreError::io("read", self.blob_path(&d.digest), e))?;
        let found = Digest::of(&bytes);
        if found != d.digest {
            return Err(StoreError::DigestMismatch {
                expected: d.digest,
                found,
            });
        }
        Ok(bytes)
    }

    /// Reads a document blob if it is within the document size limit (`None` if larger, which
    /// for a descriptor claiming to be a manifest means it is not one we will parse).
    pub fn read_document_if_small(&self, d: &Descriptor) -> Result<Option<Vec<u8>>, StoreError> {
        if d.size > oci::MAX_DOCUMENT_SIZE {
            return Ok(None);
        }
        self.read_document(d).map(Some)
    }

    /// Starts writing a new blob. Hold [`Store::lock_ingest`] until the blob is referenced.
    pub fn blob_writer(&self) -> Result<BlobWriter<'_>, StoreError> {
        self.check_writable("write blobs")?;
        BlobWriter::new(self)
    }

    /// Stores `bytes` as a blob and returns its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let mut w = self.blob_writer()?;
        w.write_all(bytes)
            .map_err(|e| StoreError::io("write", self.ingest_dir(), e))?;
        w.commit(None)
    }

    /// Makes blob renames durable; call once after a batch of commits, before publishing refs.
    pub fn sync_blob_dir(&self) -> Result<(), StoreError> {
        sync_dir(&self.dirs.blobs())
    }

    /// Every blob file's digest (names that are not digests are ignored).
    pub fn list_blobs(&self) -> Result<Vec<Digest>, StoreError> {
        let dir = self.dirs.blobs();
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| StoreError::io("list", &dir, e))? {
            let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
            if let Some(d) = entry
                .file_name()
                .to_str()
                .and_then(|n| Digest::from_hex(n).ok())
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes a blob. Only `gc` calls this, holding the exclusive gc lock.
    pub fn remove_blob(&self, digest: &Digest) -> Result<u64, StoreError> {
        self.check_writable("remove blobs")?;
        let path = self.blob_path(digest);
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        match fs::remove_file(&path) {
            Ok(()) => Ok(size),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(StoreError::io("remove", &path, e)),
        }
    }

    /// Re-hashes a blob and compares it with its name. Used by `fsck`.
    pub fn verify_blob(&self, digest: &Digest) -> Result<u64, StoreError> {
        let path = self.blob_path(digest);
        // Only a regular file is a blob: opening a FIFO would block fsck forever.
        if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(StoreError::BlobMissing { digest: *digest });
        }
        let mut file = lock::open_no_follow(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobMissing { digest: *digest },
            _ => StoreError::io("open", &path, e),
        })?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| StoreError::io("read", &path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let len = hasher.len();
        let found = hasher.finish();
        if found != *digest {
            return Err(StoreError::DigestMismatch {
                expected: *digest,
                found,
            });
        }
        Ok(len)
    }

    /// Removes temp files left by writers that died. Only call under the exclusive gc lock.
    pub fn remove_abandoned_ingests(&self) -> Result<AbandonedFiles, StoreError> {
        self.check_writable("remove temp files")?;
        // Index temp files exist only while their writer holds the index lock.
        let _index = self.lock_index()?;
        self.abandoned_ingests(true, true)
    }

    /// Temp files no live writer owns, without removing them (`fsck`). Blob temp files of
    /// imports count only when the gc lock is free, i.e. no import is running. Creates no file:
    /// `fsck` also checks stores it may not write.
    pub fn find_abandoned_ingests(&self) -> Result<AbandonedFiles, StoreError> {
        let path = self.at(GC_LOCK_FILE);
        match lock::try_lock(&path, lock::Mode::Exclusive) {
            // Held while counting, so that no import starts meanwhile.
            Ok(Some(_idle)) => self.abandoned_ingests(true, false),
            Ok(None) => self.abandoned_ingests(false, false),
            // No lock file (a store laid out by another tool, or its lock file deleted): nobody
            // holds it. An import creates it before its first temp file, so if it exists after
            // the count, one may have started meanwhile: count again without its temp files.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let found = self.abandoned_ingests(true, false)?;
                match fs::symlink_metadata(&path) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(found),
                    _ => self.abandoned_ingests(false, false),
                }
            }
            // Unreadable (or a symlink): who holds it cannot be known, so assume an import.
            Err(_) => self.abandoned_ingests(false, false),
        }
    }

    fn abandoned_ingests(
        &self,
        imports_idle: bool,
        remove: bool,
    ) -> Result<AbandonedFiles, StoreError> {
        let dir = self.ingest_dir();
        let mut found = AbandonedFiles::default();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(StoreError::io("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
            let name = entry.file_name();
            let name = name.to_str().unwrap_or_default();
            let Ok(meta) = entry.metadata() else { continue };
            // Blob temp files belong to imports, which hold the gc lock shared while they live.
            // Index temp files live only under the index lock (held by the caller when it
            // removes). Upload spools are locked by the mount that owns them for as long as it
            // lives: one we can lock has lost its owner.
            let (abandoned, _held) = if name.starts_with(ingest::INGEST_PREFIX) {
                (imports_idle, None)
            } else if name.starts_with(refs::INDEX_TMP_PREFIX) {
                (remove, None)
            } else if name.starts_with(UPLOAD_PREFIX) {
                let old_enough = meta
                    .modified()
                    .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > UPLOAD_LOCK_GRACE));
                match old_enough {
                    true => match lock::try_lock(&entry.path(), lock::Mode::Exclusive) {
                        Ok(Some(guard)) => (true, Some(guard)),
                        _ => (false, None),
                    },
                    false => (false, None),
                }
            } else {
                (false, None)
            };
            if !abandoned {
                continue;
            }
            if remove && fs::remove_file(entry.path()).is_err() {
                continue;
            }
            found.count += 1;
            found.bytes += meta.len();
        }
        Ok(found)
    }

    /// A temp file in the store's ingest directory for an upload whose bytes arrive out of
    /// order (deleted on drop). It stays locked while its handle lives, so `gc` removes it as
    /// soon as its owner is gone (killed), and never before.
    pub fn upload_spool(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        self.check_writable("spool an upload")?;
        let dir = self.ingest_dir();
        let file = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io("create a temp file in", &dir, e))?;
        lock::lock_file(file.as_file(), lock::Mode::Exclusive)
            .map_err(|e| StoreError::io("lock", file.path().to_owned(), e))?;
        Ok(file)
    }

    /// The named and digest-only images, as listed in `index.json`.
    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        refs::read_index(&self.at(INDEX_FILE))
    }

    /// Applies `change` to the image list and publishes the result atomically. `change` runs
    /// under the index lock against the current list, so concurrent updates are never lost.
    pub fn update_images<T>(
        &self,
        change: impl FnOnce(&mut Vec<ImageRecord>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.update_images_and_history(|images, _| change(images))
    }

    /// Previous targets of names, newest first per name (see `history`).
    pub fn history(&self) -> Result<Vec<HistoryEntry>, StoreError> {
        history::read_history(&self.at(history::HISTORY_FILE))
    }

    /// Sets an unreadable name history aside (as `history.json.unreadable`), so that writes,
    /// which all read it, work again; returns why it could not be read. The previous images only
    /// it kept become collectable.
    pub fn repair_history(&self) -> Result<Option<String>, StoreError> {
        self.check_writable("repair the name history")?;
        let _lock = self.lock_index()?;
        let path = self.at(history::HISTORY_FILE);
        match history::read_history(&path) {
            Ok(_) => Ok(None),
            Err(
                e @ (StoreError::CorruptDocument { .. } | StoreError::UnsupportedLayout { .. }),
            ) => {
                let aside_name = format!("{}-{}", history::HISTORY_SET_ASIDE, now());
                let aside = self.at(&aside_name);
                fs::rename(&path, &aside).map_err(|err| StoreError::io("set aside", &path, err))?;
                sync_dir(&self.at(""))?;
                Ok(Some(format!(
                    "{}; kept as {aside_name}",
                    crate::error::chain(&e)
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Like [`Store::update_images`], with the name history too. The history is written first:
    /// a crash between the two writes leaves an extra entry (blobs kept a while longer), never
    /// a moved name without its entry.
    pub fn update_images_and_history<T>(
        &self,
        change: impl FnOnce(&mut Vec<ImageRecord>, &mut HistoryChange) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.check_writable("change the image list")?;
        let _lock = self.lock_index()?;
        let path = self.at(INDEX_FILE);
        let history_path = self.at(history::HISTORY_FILE);
        let mut images = refs::read_index(&path)?;
        let images_before = images.clone();
        let mut history = HistoryChange {
            path: history_path.clone(),
            loaded: None,
        };
        let result = change(&mut images, &mut history)?;
        refs::sort(&mut images);
        // Only a change that looked at the history can have changed it.
        let (entries, entries_before) = match history.loaded {
            Some((mut entries, before)) => {
                let dropped = history::normalize(&mut entries);
                if dropped > 0 {
                    log::warn!(target: "store", "the name history is full: dropped its \
                        {dropped} oldest entries (their images go with the next gc)");
                }
                (entries, before)
            }
            None => (Vec::new(), Vec::new()),
        };
        // Everything that can refuse the change is decided before anything is written.
        let index_bytes = match images != images_before {
            true => {
                // A rewrite also gives the records an earlier build wrote their full
                // `ref.name`. That growth is not the change's: the size cap compares the list
                // with the one before, upgraded alike, so an `rm` still shrinks a full list.
                refs::upgrade_ref_names(&mut images);
                let mut before = images_before;
                refs::upgrade_ref_names(&mut before);
                Some(refs::encode_for_write(&images, &before)?)
            }
            false => None,
        };
        let history_changed = entries != entries_before;
        if history_changed {
            self.write_atomically(&history_path, &history::encode_history(&entries))?;
        }
        if let Some(bytes) = index_bytes
            && let Err(e) = self.write_atomically(&path, &bytes)
        {
            // A full disk, say: put the history back, so a failed change leaves no trace.
            if history_changed {
                let _ =
                    self.write_atomically(&history_path, &history::encode_history(&entries_before));
            }
            return Err(e);
        }
        Ok(result)
    }

    /// Shared lock held by anything that writes blobs not yet referenced from `index.json`.
    pub fn lock_ingest(&self) -> Result<LockGuard, StoreError> {
        self.check_writable("import")?;
        self.lock(GC_LOCK_FILE, lock::Mode::Shared)
    }

    /// Shared lock held while reading blobs that must not be swept meanwhile (open archive files
    /// of the mount). A read-only store is locked through an existing lock file if there is
    /// one; without one, nobody who could collect garbage has used the store, and there is
    /// nothing to lock against.
    pub fn lock_readers(&self) -> Result<LockGuard, StoreError> {
        if !self.read_only {
            return self.lock(GC_LOCK_FILE, lock::Mode::Shared);
        }
        let path = self.at(GC_LOCK_FILE);
        match lock::lock_existing(&path, lock::Mode::Shared) {
            Ok(guard) => Ok(guard),
            Err(e) => {
                log::debug!(target: "store", "reading {} without a gc lock: {e}", self.root.display());
                Ok(LockGuard::none())
            }
        }
    }

    /// The exclusive lock `gc` holds while it marks and sweeps, waiting at most `timeout`
    /// (forever when `None`). When it is held, `waiting` is told once by whom (the processes
    /// holding it), so the caller can say what it waits for; past the timeout the error names
    /// them.
    pub fn lock_gc_waiting(
        &self,
        timeout: Option<Duration>,
        waiting: impl FnOnce(&[LockHolder]),
    ) -> Result<LockGuard, StoreError> {
        self.check_writable("collect garbage")?;
        let path = self.at(GC_LOCK_FILE);
        lock::lock_waiting(&path, lock::Mode::Exclusive, timeout, waiting).map_err(|e| match e {
            lock::WaitError::Io(source) => StoreError::io("lock", &path, source),
            lock::WaitError::TimedOut { holders, waited } => StoreError::Busy {
                path: path.clone(),
                holders,
                waited,
            },
        })
    }

    fn lock_index(&self) -> Result<LockGuard, StoreError> {
        self.lock(INDEX_LOCK_FILE, lock::Mode::Exclusive)
    }

    fn lock(&self, name: &str, mode: lock::Mode) -> Result<LockGuard, StoreError> {
        let path = self.at(name);
        lock::lock_waiting(&path, mode, None, |_| {}).map_err(|e| match e {
            lock::WaitError::Io(source) => StoreError::io("lock", &path, source),
            lock::WaitError::TimedOut { .. } => unreachable!("no timeout was given"),
        })
    }

    /// Writes `bytes` to `path` so that readers see either the old or the new file, never a mix.
    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let dir = path.parent().unwrap_or(&self.root);
        let mut tmp = tempfile::Builder::new()
            .prefix(refs::INDEX_TMP_PREFIX)
            .tempfile_in(self.ingest_dir())
            .map_err(|e| StoreError::io("create a temp file in", self.ingest_dir(), e))?;
        tmp.write_all(bytes)
            .map_err(|e| StoreError::io("write", tmp.path().to_owned(), e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| StoreError::io("sync", tmp.path().to_owned(), e))?;
        // Layout files are readable by everyone, like the blobs (tempfile creates them 0600).
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(|e| StoreError::io("chmod", tmp.path().to_owned(), e))?;
        tmp.persist(path)
            .map_err(|e| StoreError::io("replace", path, e.error))?;
        sync_dir(dir)
    }
}

/// The layout's own directories and files must not be symlinks: in a store another user
/// controls, `blobs/sha256` pointing at someone else's store would have `gc` delete its blobs and
/// imports write there with our rights. (Swaps after opening are defeated by `pinned`.)
fn check_no_symlinks(root: &Path) -> Result<(), StoreError> {
    for name in [
        "blobs",
        BLOB_DIR,
        INGEST_DIR,
        indexes::INDEX_PARENT,
        INDEX_DIR,
        INDEX_FILE,
        OCI_LAYOUT_FILE,
        GC_LOCK_FILE,
        INDEX_LOCK_FILE,
        history::HISTORY_FILE,
    ] {
        let path = root.join(name);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(StoreError::Symlink { path });
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("sync directory", dir, e))
}

fn check_layout_version(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let layout: ImageLayout =
        oci::parse_document(bytes).map_err(|source| StoreError::CorruptDocument {
            path: path.to_path_buf(),
            source,
        })?;
    if layout.version != IMAGE_LAYOUT_VERSION {
        return Err(StoreError::UnsupportedLayout {
            path: path.to_path_buf(),
            version: layout.version,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::temp_store;

    #[test]
    fn open_creates_an_oci_layout() {
        let (_dir, store) = temp_store();
        assert_eq!(
            fs::read(store.root().join(OCI_LAYOUT_FILE)).unwrap(),
            OCI_LAYOUT_CONTENT
        );
        let index = fs::read_to_string(store.root().join(INDEX_FILE)).unwrap();
        assert_eq!(
            index,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
        );
        assert!(store.images().unwrap().is_empty());
    }

    #[test]
    fn open_rejects_an_unknown_layout_version() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join(OCI_LAYOUT_FILE),
            r#"{"imageLayoutVersion":"2.0.0"}"#,
        )
        .unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::UnsupportedLayout { .. }), "{err}");
    }

    #[test]
    fn blob_commit_verifies_digest_and_size() {
        let (_dir, store) = temp_store();
        let good = Digest::of(b"hello");
        let mut w = store.blob_writer().unwrap();
        w.write_all(b"hello").unwrap();
        assert_eq!(w.commit(Some((good, 5))).unwrap(), good);
        assert!(store.has_blob(&good));

        let mut w = store.blob_writer().unwrap();
        w.write_all(b"hellO").unwrap();
        let err = w.commit(Some((good, 5))).unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");

        let mut w = store.blob_writer().unwrap();
        w.write_all(b"hello!").unwrap();
        let err = w.commit(Some((good, 5))).unwrap_err();
        assert!(
            matches!(err, StoreError::SizeMismatch { found: 6, .. }),
            "{err}"
        );
        // Failed and dropped writers leave nothing behind in the ingest directory.
        assert_eq!(fs::read_dir(store.ingest_dir()).unwrap().count(), 0);
    }

    #[test]
    fn committing_an_existing_blob_succeeds() {
        let (_dir, store) = temp_store();
        let a = store.write_blob(b"same").unwrap();
        let b = store.write_blob(b"same").unwrap();
        assert_eq!(a, b);
        assert_eq!(store.list_blobs().unwrap(), vec![a]);
    }

    #[test]
    fn read_document_detects_corruption() {
        let (_dir, store) = temp_store();
        let d = store.write_blob(b"{}").unwrap();
        let desc = Descriptor::new("m", d, 2);
        assert_eq!(store.read_document(&desc).unwrap(), b"{}");
        let path = store.blob_path(&d);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&path, b"[]").unwrap();
        assert!(matches!(
            store.read_document(&desc),
            Err(StoreError::DigestMismatch { .. })
        ));
        let wrong_size = Descriptor::new("m", d, 3);
        assert!(matches!(
            store.open_blob(&wrong_size),
            Err(StoreError::SizeMismatch { .. })
        ));
    }
}
