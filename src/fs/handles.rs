//! Open files: archive readers (a shared, immutable plan), small documents, and uploads into
//! `import/`, which stream what the writer sends into `archive::import_stream` on a thread.
//!
//! An upload commits when its writer closes the file (FLUSH from the opener's pid with bytes
//! written), so that `close(2)`, and with it `cp`, reports a bad archive. Early flushes of
//! dup'd descriptors (`dd of=`, shell `>`) carry no data and are ignored.

use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

use crate::archive::{self, ArchivePlan, ImportError, ImportOptions, LoadedImage, NameOutcome};
use crate::platform::Platform;
use crate::store::{LockGuard, Store, StoreError};

use super::FsError;

/// Chunks in flight between the FUSE writer and the import thread: bounds an upload's memory
/// to this many write requests (each at most 1 MiB).
const STREAM_DEPTH: usize = 8;

/// What an import ended with; shared by its status file and every flush that asks.
pub type Outcome = Result<Vec<LoadedImage>, Arc<ImportError>>;

/// An open file.
#[derive(Debug)]
pub enum Handle {
    Archive {
        plan: Arc<ArchivePlan>,
        _lease: GcLease,
    },
    Bytes(Arc<[u8]>),
    Upload {
        upload: Arc<Upload>,
        opener_pid: u32,
        /// Whether data came through this handle: only the handle that wrote commits, so a
        /// `touch` or a reader opening the same file cannot end an import in progress.
        wrote: std::sync::atomic::AtomicBool,
    },
}

/// Keeps `gc` from sweeping while archive files are open: the first open takes the store's
/// shared ingest lock, the last close drops it. `gc` waits for it, so a blob an open file
/// serves is never deleted under the reader.
#[derive(Debug, Default)]
pub struct LeaseTable {
    state: Mutex<(usize, Option<LockGuard>)>,
}

#[derive(Debug)]
pub struct GcLease {
    table: Arc<LeaseTable>,
}

impl LeaseTable {
    pub fn acquire(self: &Arc<Self>, store: &Store) -> Result<GcLease, FsError> {
        let mut state = self.state.lock().expect("lease lock poisoned");
        if state.0 == 0 {
            state.1 = Some(store.lock_readers().map_err(FsError::Store)?);
        }
        state.0 += 1;
        Ok(GcLease {
            table: self.clone(),
        })
    }
}

impl Drop for GcLease {
    fn drop(&mut self) {
        let mut state = self.table.state.lock().expect("lease lock poisoned");
        state.0 -= 1;
        if state.0 == 0 {
            state.1 = None;
        }
    }
}

/// A file written into `import/`.
#[derive(Debug)]
pub struct Upload {
    pub ino: u64,
    /// The platforms of the directory it was created in (empty: all).
    pub platforms: Vec<Platform>,
    state: Mutex<UploadState>,
    meta: Mutex<UploadMeta>,
    /// Archive bytes consumed by the importer so far.
    progress: Arc<AtomicU64>,
}

#[derive(Debug, Clone)]
pub struct UploadMeta {
    pub name: String,
    /// Bytes written (the file's size).
    pub size: u64,
    pub mtime: SystemTime,
}

#[derive(Debug)]
enum UploadState {
    Empty,
    Streaming {
        tx: SyncSender<Vec<u8>>,
        worker: JoinHandle<Result<Vec<LoadedImage>, ImportError>>,
    },
    /// The first write was not at offset 0: collect into a temp file, import at close.
    Spooling {
        file: tempfile::NamedTempFile,
    },
    Done(Outcome),
}

/// What an upload's status file says.
#[derive(Debug, serde::Serialize)]
pub struct UploadStatus {
    pub name: String,
    /// `empty`, `receiving`, `loaded` or `failed`.
    pub state: &'static str,
    pub bytes_written: u64,
    pub bytes_processed: u64,
    pub platforms: Vec<String>,
    pub images: Vec<LoadedStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct LoadedStatus {
    pub name: Option<String>,
    /// What the name points to now.
    pub digest: String,
    pub platforms: Vec<String>,
    /// `added`, `unchanged`, `already-part` (the name stayed where it was, because the image
    /// already held what the archive brings) or `moved` (see `previous`).
    pub outcome: &'static str,
    /// For `moved`: what the name pointed to before (kept in the name history).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousStatus>,
    /// Platforms the archive lists but does not hold completely, and what it lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The same, as sentences (what the CLI prints on stderr).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct PreviousStatus {
    pub digest: String,
    pub platforms: Vec<String>,
}

impl LoadedStatus {
    fn of(l: &LoadedImage) -> LoadedStatus {
        let (outcome, previous) = match &l.outcome {
            NameOutcome::Added => ("added", None),
            NameOutcome::Unchanged => ("unchanged", None),
            NameOutcome::AlreadyPart { .. } => ("already-part", None),
            NameOutcome::Moved {
                previous,
                previous_platforms,
            } => (
                "moved",
                Some(PreviousStatus {
                    digest: previous.to_string(),
                    platforms: previous_platforms.iter().map(|p| p.to_string()).collect(),
                }),
            ),
        };
        LoadedStatus {
            name: l.name.as_ref().map(|n| n.to_string()),
            digest: l.digest.to_string(),
            platforms: l.platforms.iter().map(|p| p.to_string()).collect(),
            outcome,
            previous,
            skipped: l.skipped.iter().map(|s| s.describe()).collect(),
            notes: l.notes(),
        }
    }
}

impl Upload {
    pub fn new(ino: u64, name: String, platforms: Vec<Platform>) -> Upload {
        Upload {
            ino,
            platforms,
            state: Mutex::new(UploadState::Empty),
            meta: Mutex::new(UploadMeta {
                name,
                size: 0,
                mtime: SystemTime::now(),
            }),
            progress: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn meta(&self) -> UploadMeta {
        self.meta.lock().expect("upload meta lock poisoned").clone()
    }

    pub fn rename(&self, name: &str) {
        self.meta.lock().expect("upload meta lock poisoned").name = name.to_string();
    }

    pub fn set_mtime(&self, t: SystemTime) {
        self.meta.lock().expect("upload meta lock poisoned").mtime = t;
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, UploadState> {
        self.state.lock().expect("upload state lock poisoned")
    }

    /// Starts over: opening a finished upload for writing (`cp` onto the same name again,
    /// O_TRUNC) begins a new import.
    pub fn reset(&self) {
        let mut state = self.lock_state();
        if let UploadState::Done(_) = *state {
            *state = UploadState::Empty;
            self.progress.store(0, Ordering::Relaxed);
            let mut meta = self.meta.lock().expect("upload meta lock poisoned");
            meta.size = 0;
            meta.mtime = SystemTime::now();
        }
    }

    /// Truncation: only to zero, and only before any data went into the store.
    pub fn truncate(&self, size: u64) -> Result<(), FsError> {
        let mut meta = self.meta.lock().expect("upload meta lock poisoned");
        if size == meta.size {
            return Ok(());
        }
        let state = self.lock_state();
        match (&*state, size) {
            (UploadState::Empty, _) | (UploadState::Spooling { .. }, _) => {
                if let UploadState::Spooling { file } = &*state {
                    file.as_file().set_len(size).map_err(|source| FsError::Io {
                        op: "truncate the spool file",
                        source,
                    })?;
                }
                meta.size = size;
                Ok(())
            }
            (UploadState::Streaming { .. } | UploadState::Done(_), _) => {
                Err(FsError::NonSequentialWrite {
                    expected: meta.size,
                    got: size,
                })
            }
        }
    }

    pub fn write(&self, store: &Store, offset: u64, data: &[u8]) -> Result<u32, FsError> {
        let mut state = self.lock_state();
        let size = self.meta().size;
        if let UploadState::Empty = *state {
            *state = if offset == 0 {
                self.start_stream(store)
            } else {
                let file = store.upload_spool().map_err(FsError::Store)?;
                UploadState::Spooling { file }
            };
        }
        match &mut *state {
            UploadState::Empty => unreachable!("state was just initialised"),
            UploadState::Spooling { file } => {
                if let Err(source) = file.as_file().write_all_at(data, offset) {
                    // A spool missing bytes can only be rejected later as a broken archive; the
                    // upload fails now, with the real cause (a full disk), for close to report.
                    let cause = ImportError::Store(StoreError::io(
                        "write the upload spool",
                        file.path().to_path_buf(),
                        clone_io_error(&source),
                    ));
                    *state = UploadState::Done(Err(Arc::new(cause)));
                    return Err(FsError::Io {
                        op: "write the spool file",
                        source,
                    });
                }
            }
            UploadState::Streaming { tx, .. } => {
                if offset != size {
                    return Err(FsError::NonSequentialWrite {
                        expected: size,
                        got: offset,
                    });
                }
                if tx.send(data.to_vec()).is_err() {
                    // The importer stopped reading: it failed, or it has seen the whole
                    // archive and what still arrives is padding.
                    let done = Self::join(std::mem::replace(&mut *state, UploadState::Empty));
                    let failed = done.as_ref().err().cloned();
                    *state = UploadState::Done(done);
                    if let Some(cause) = failed {
                        return Err(FsError::ImportRejected(cause));
                    }
                }
            }
            UploadState::Done(result) => {
                if let Err(cause) = result {
                    return Err(FsError::ImportRejected(cause.clone()));
                }
                if offset != size {
                    return Err(FsError::NonSequentialWrite {
                        expected: size,
                        got: offset,
                    });
                }
            }
        }
        let mut meta = self.meta.lock().expect("upload meta lock poisoned");
        meta.size = meta.size.max(offset + data.len() as u64);
        meta.mtime = SystemTime::now();
        Ok(data.len() as u32)
    }

    fn start_stream(&self, store: &Store) -> UploadState {
        let (tx, rx) = sync_channel::<Vec<u8>>(STREAM_DEPTH);
        let store = store.clone();
        let options = ImportOptions {
            platforms: self.platforms.clone(),
        };
        let progress = self.progress.clone();
        let worker = std::thread::Builder::new()
            .name("import".into())
            .spawn(move || {
                let reader = ChannelReader {
                    rx,
                    chunk: Vec::new(),
                    pos: 0,
                };
                archive::import_stream(&store, reader, &options, &progress)
            })
            .expect("spawning an import thread");
        UploadState::Streaming { tx, worker }
    }

    fn join(state: UploadState) -> Outcome {
        match state {
            UploadState::Streaming { tx, worker } => {
                drop(tx);
                worker
                    .join()
                    .unwrap_or_else(|_| {
                        Err(ImportError::Input(io::Error::other(
                            "the import thread panicked",
                        )))
                    })
                    .map_err(Arc::new)
            }
            UploadState::Empty | UploadState::Spooling { .. } | UploadState::Done(_) => {
                unreachable!("join is only called on a streaming upload")
            }
        }
    }

    /// Finishes the import: waits for the stream's importer, or imports the spool file.
    /// Idempotent; returns the outcome. `None` when nothing was written (nothing to commit).
    pub fn commit(&self, store: &Store) -> Option<Outcome> {
        let mut state = self.lock_state();
        let outcome = match std::mem::replace(&mut *state, UploadState::Empty) {
            UploadState::Empty => return None,
            UploadState::Done(r) => {
                *state = UploadState::Done(r.clone());
                return Some(r);
            }
            s @ UploadState::Streaming { .. } => Self::join(s),
            UploadState::Spooling { file } => {
                let options = ImportOptions {
                    platforms: self.platforms.clone(),
                };
                archive::import_file(store, file.path(), &options, &self.progress).map_err(Arc::new)
            }
        };
        *state = UploadState::Done(outcome.clone());
        let name = self.meta().name;
        match &outcome {
            Ok(loaded) => {
                for l in loaded {
                    log::info!(target: "import", "{name}: {}", l.describe());
                    if let Some(remark) = l.remark() {
                        log::info!(target: "import", "{name}: {remark}");
                    }
                    // Moved names and skipped platforms are worth a warning in the daemon log.
                    for warning in l.warnings() {
                        log::warn!(target: "import", "{name}: {warning}");
                    }
                }
            }
            Err(e) => log::warn!(target: "import", "{name}: {}", crate::logger::error_chain(&**e)),
        }
        Some(outcome)
    }

    pub fn status(&self) -> UploadStatus {
        let meta = self.meta();
        let state = self.lock_state();
        let mut status = UploadStatus {
            name: meta.name,
            state: "empty",
            bytes_written: meta.size,
            bytes_processed: self.progress.load(Ordering::Relaxed),
            platforms: self.platforms.iter().map(|p| p.to_string()).collect(),
            images: Vec::new(),
            error: None,
        };
        match &*state {
            UploadState::Empty => {}
            UploadState::Streaming { .. } | UploadState::Spooling { .. } => {
                status.state = "receiving"
            }
            UploadState::Done(r) => match r {
                Ok(loaded) => {
                    status.state = "loaded";
                    status.images = loaded.iter().map(LoadedStatus::of).collect();
                }
                Err(e) => {
                    status.state = "failed";
                    status.error = Some(crate::logger::error_chain(&**e));
                }
            },
        }
        status
    }
}

/// The same OS error again (io::Error is not Clone); other errors keep their kind and text.
fn clone_io_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The import thread's input: the chunks FUSE writes deliver, in order; EOF when the writer
/// closes.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads `len` bytes at `offset` into `buf` (grown as needed, never shrunk, so a worker
/// thread reuses one buffer) from a file that must deliver them all; returns the count.
pub fn read_plan(
    plan: &ArchivePlan,
    offset: u64,
    len: usize,
    buf: &mut Vec<u8>,
) -> Result<usize, FsError> {
    let want = (len as u64).min(plan.size().saturating_sub(offset)) as usize;
    let out = reserve(buf, want);
    let n = plan.read_at(offset, out).map_err(FsError::Read)?;
    if n != want {
        // A short reply in cached mode would be zero-filled by the kernel: fail instead.
        return Err(FsError::Read(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("archive read returned {n} of {want} bytes"),
        )));
    }
    Ok(n)
}

/// A small document's bytes at `offset`, copied into `buf`; returns the count.
pub fn read_bytes(bytes: &[u8], offset: u64, len: usize, buf: &mut Vec<u8>) -> usize {
    let start = (offset as usize).min(bytes.len());
    let end = start.saturating_add(len).min(bytes.len());
    reserve(buf, end - start).copy_from_slice(&bytes[start..end]);
    end - start
}

/// The first `len` bytes of `buf`, growing it if it is shorter.
pub fn reserve(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    &mut buf[..len]
}
