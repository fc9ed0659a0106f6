//! `BlobWriter`: writes a blob into a temp file inside the store, hashing as it goes, and publishes
//! it under `blobs/sha256/<hex>` only once digest and size are verified.
//!
//! Until `commit`, the bytes are invisible to every reader of the store (containerd's content
//! store lifecycle). Dropping an uncommitted writer deletes its temp file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;

use tempfile::{NamedTempFile, TempPath};

use super::{Store, StoreError};
use crate::digest::{Digest, Hasher};

/// Temp files start with this prefix so `gc` can recognise abandoned ones.
pub(crate) const INGEST_PREFIX: &str = "ingest-";

pub struct BlobWriter<'s> {
    store: &'s Store,
    file: NamedTempFile,
    hasher: Hasher,
}

impl<'s> BlobWriter<'s> {
    pub(super) fn new(store: &'s Store) -> Result<BlobWriter<'s>, StoreError> {
        let dir = store.ingest_dir();
        let file = tempfile::Builder::new()
            .prefix(INGEST_PREFIX)
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io("create a temp file in", &dir, e))?;
        Ok(BlobWriter {
            store,
            file,
            hasher: Hasher::new(),
        })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    /// The temp file holding the bytes so far (for reading them back before commit).
    pub fn path(&self) -> &std::path::Path {
        self.file.path()
    }

    /// The digest of what has been written, without publishing it.
    pub fn digest(&self) -> Digest {
        self.hasher.clone().finish()
    }

    /// Verifies the content against `expected` (digest and size, when given), makes it durable
    /// and publishes it. A blob that is already stored counts as success: content addressing
    /// makes the two identical. Returns the content's digest.
    pub fn commit(self, expected: Option<(Digest, u64)>) -> Result<Digest, StoreError> {
        self.into_spooled()?.commit(expected)
    }

    /// Closes the temp file, keeping it (and its digest) for a later [`SpooledBlob::commit`].
    /// An importer may hold thousands of these; none keeps a file descriptor open.
    pub fn into_spooled(mut self) -> Result<SpooledBlob<'s>, StoreError> {
        self.file
            .flush()
            .map_err(|e| StoreError::io("write", self.file.path().to_owned(), e))?;
        let size = self.hasher.len();
        let digest = self.hasher.finish();
        Ok(SpooledBlob {
            store: self.store,
            path: self.file.into_temp_path(),
            digest,
            size,
        })
    }
}

/// A fully written, hashed, unpublished blob: a closed temp file in the ingest directory,
/// deleted on drop unless committed.
pub struct SpooledBlob<'s> {
    store: &'s Store,
    path: TempPath,
    digest: Digest,
    size: u64,
}

impl SpooledBlob<'_> {
    pub fn digest(&self) -> Digest {
        self.digest
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The temp file, for reading the content back before commit.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Publishes the blob as [`BlobWriter::commit`] does.
    pub fn commit(self, expected: Option<(Digest, u64)>) -> Result<Digest, StoreError> {
        if let Some((digest, size)) = expected {
            if self.size != size {
                return Err(StoreError::SizeMismatch {
                    digest,
                    expected: size,
                    found: self.size,
                });
            }
            if digest != self.digest {
                return Err(StoreError::DigestMismatch {
                    expected: digest,
                    found: self.digest,
                });
            }
        }
        let target = self.store.blob_path(&self.digest);
        if target.exists() {
            return Ok(self.digest);
        }
        let file = File::open(&self.path).map_err(|e| StoreError::io("open", &*self.path, e))?;
        file.sync_all()
            .map_err(|e| StoreError::io("sync", &*self.path, e))?;
        // Blobs are immutable; a read-only mode says so to anyone browsing the store.
        file.set_permissions(fs::Permissions::from_mode(0o444))
            .map_err(|e| StoreError::io("chmod", &*self.path, e))?;
        self.path
            .persist(&target)
            .map_err(|e| StoreError::io("publish blob", &target, e.error))?;
        Ok(self.digest)
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)?;
        self.hasher.update(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Opens a blob file for reading after checking its length against `size`.
pub(super) fn open_checked(store: &Store, digest: &Digest, size: u64) -> Result<File, StoreError> {
    let path = store.blob_path(digest);
    // Only a regular file is a blob: opening a FIFO would block the reader forever.
    if fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
        return Err(StoreError::BlobMissing { digest: *digest });
    }
    let file = match super::lock::open_no_follow(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::BlobMissing { digest: *digest });
        }
        Err(e) => return Err(StoreError::io("open", &path, e)),
    };
    let found = file
        .metadata()
        .map_err(|e| StoreError::io("stat", &path, e))?
        .len();
    if found != size {
        return Err(StoreError::SizeMismatch {
            digest: *digest,
            expected: size,
            found,
        });
    }
    Ok(file)
}
