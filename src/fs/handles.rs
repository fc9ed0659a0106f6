//! Open files and what they hold: an archive's plan (with a lease that keeps `gc` from
//! sweeping under it), a small document's bytes, or an upload being written.

use std::fs::File;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::FsError;
use super::upload::Upload;
use crate::archive::ArchivePlan;
use crate::rootfs::platform::FileReader;
use crate::store::{LockGuard, Store};

/// An open file.
#[derive(Debug)]
pub(super) enum Handle {
    Archive {
        plan: Arc<ArchivePlan>,
        _lease: GcLease,
    },
    Bytes(Arc<[u8]>),
    /// A regular file inside an image, with its own decoder (so a sequential reader never
    /// restarts); reads on one handle take turns.
    InTree(Mutex<FileReader>),
    /// A layer blob as stored (`layers/NN-sha256-<hex>.tar.gz`), read with pread.
    Blob(File),
    Upload {
        upload: Arc<Upload>,
        opener_pid: u32,
        /// Whether data came through this handle: only the handle that wrote commits, so a
        /// `touch` or a reader opening the same file cannot end an import in progress.
        wrote: AtomicBool,
    },
}

/// Keeps `gc` from sweeping while archive files are open: the first open takes the store's
/// shared ingest lock, the last close drops it. `gc` waits for it, so a blob an open file
/// serves is never deleted under the reader.
#[derive(Debug, Default)]
pub(super) struct LeaseTable {
    state: Mutex<Leases>,
}

/// How many leases are out, and the lock they share while any is.
#[derive(Debug, Default)]
struct Leases {
    open: usize,
    lock: Option<LockGuard>,
}

/// One open archive file's share of the lock.
#[derive(Debug)]
pub(super) struct GcLease {
    table: Arc<LeaseTable>,
}

impl LeaseTable {
    pub(super) fn acquire(self: &Arc<Self>, store: &Store) -> Result<GcLease, FsError> {
        let mut leases = self.state.lock().expect("lease lock poisoned");
        if leases.open == 0 {
            leases.lock = Some(store.lock_readers().map_err(FsError::Store)?);
        }
        leases.open += 1;
        Ok(GcLease {
            table: self.clone(),
        })
    }
}

impl Drop for GcLease {
    fn drop(&mut self) {
        let mut leases = self.table.state.lock().expect("lease lock poisoned");
        leases.open -= 1;
        if leases.open == 0 {
            leases.lock = None;
        }
    }
}

#[cfg(test)]
mod tests;
