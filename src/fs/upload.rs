//! Files written into `import/`: each streams what the writer sends into
//! `archive::import_stream` on a thread (or, written out of order, spools to a temp file and
//! imports at close), and reports its progress and outcome as a status.
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

use crate::archive::{self, ImportError, ImportOptions, LoadedImage, NameOutcome};
use crate::platform::Platform;
use crate::store::{Store, StoreError};

use super::FsError;

/// Chunks in flight between the FUSE writer and the import thread: bounds an upload's memory
/// to this many write requests (each at most 1 MiB).
const STREAM_DEPTH: usize = 8;

/// What an import ended with; shared by its status file and every flush that asks.
pub(super) type Outcome = Result<Vec<LoadedImage>, Arc<ImportError>>;

/// A file written into `import/`.
#[derive(Debug)]
pub(super) struct Upload {
    pub ino: u64,
    /// The platforms of the directory it was created in (empty: all).
    pub platforms: Vec<Platform>,
    state: Mutex<Stage>,
    meta: Mutex<UploadMeta>,
    /// Archive bytes consumed by the importer so far.
    progress: Arc<AtomicU64>,
}

#[derive(Debug, Clone)]
pub(super) struct UploadMeta {
    pub name: String,
    /// Bytes written (the file's size).
    pub size: u64,
    pub mtime: SystemTime,
}

/// Where an upload's bytes go.
#[derive(Debug)]
enum Stage {
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
    pub state: UploadState,
    pub bytes_written: u64,
    pub bytes_processed: u64,
    pub platforms: Vec<String>,
    pub images: Vec<LoadedStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where an upload stands, as its status file spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadState {
    /// Created, nothing written yet.
    Empty,
    /// Bytes are arriving (streamed into the importer, or spooled).
    Receiving,
    /// Imported: `images` says what.
    Loaded,
    /// Rejected: `error` says why; the store is unchanged.
    Failed,
}

#[derive(Debug, serde::Serialize)]
pub struct LoadedStatus {
    pub name: Option<String>,
    /// What the name points to now.
    pub digest: String,
    pub platforms: Vec<String>,
    pub outcome: LoadedOutcome,
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

/// What an import did to the name it loaded, as its status file spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadedOutcome {
    /// `added`: the name is new (or the image is unnamed).
    Added,
    /// `unchanged`: the name already pointed to this image.
    Unchanged,
    /// `already-part`: the name stayed where it was, because the image already held what the
    /// archive brings.
    AlreadyPart,
    /// `moved`: the name points to another image now (see `previous`).
    Moved,
}

#[derive(Debug, serde::Serialize)]
pub struct PreviousStatus {
    pub digest: String,
    pub platforms: Vec<String>,
}

impl LoadedStatus {
    fn of(l: &LoadedImage) -> LoadedStatus {
        let (outcome, previous) = match &l.outcome {
            NameOutcome::Added => (LoadedOutcome::Added, None),
            NameOutcome::Unchanged => (LoadedOutcome::Unchanged, None),
            NameOutcome::AlreadyPart { .. } => (LoadedOutcome::AlreadyPart, None),
            NameOutcome::Moved {
                previous,
                previous_platforms,
            } => (
                LoadedOutcome::Moved,
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
    pub(super) fn new(ino: u64, name: String, platforms: Vec<Platform>) -> Upload {
        Upload {
            ino,
            platforms,
            state: Mutex::new(Stage::Empty),
            meta: Mutex::new(UploadMeta {
                name,
                size: 0,
                mtime: SystemTime::now(),
            }),
            progress: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(super) fn meta(&self) -> UploadMeta {
        self.meta.lock().expect("upload meta lock poisoned").clone()
    }

    pub(super) fn rename(&self, name: &str) {
        self.meta.lock().expect("upload meta lock poisoned").name = name.to_string();
    }

    pub(super) fn set_mtime(&self, t: SystemTime) {
        self.meta.lock().expect("upload meta lock poisoned").mtime = t;
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, Stage> {
        self.state.lock().expect("upload state lock poisoned")
    }

    /// Starts over: opening a finished upload for writing (`cp` onto the same name again,
    /// O_TRUNC) begins a new import.
    pub(super) fn reset(&self) {
        let mut state = self.lock_state();
        if let Stage::Done(_) = *state {
            *state = Stage::Empty;
            self.progress.store(0, Ordering::Relaxed);
            let mut meta = self.meta.lock().expect("upload meta lock poisoned");
            meta.size = 0;
            meta.mtime = SystemTime::now();
        }
    }

    /// Truncation: only to zero, and only before any data went into the store.
    pub(super) fn truncate(&self, size: u64) -> Result<(), FsError> {
        let mut meta = self.meta.lock().expect("upload meta lock poisoned");
        if size == meta.size {
            return Ok(());
        }
        let state = self.lock_state();
        match (&*state, size) {
            (Stage::Empty, _) | (Stage::Spooling { .. }, _) => {
                if let Stage::Spooling { file } = &*state {
                    file.as_file().set_len(size).map_err(|source| FsError::Io {
                        op: "truncate the spool file",
                        source,
                    })?;
                }
                meta.size = size;
                Ok(())
            }
            (Stage::Streaming { .. } | Stage::Done(_), _) => Err(FsError::NonSequentialWrite {
                expected: meta.size,
                got: size,
            }),
        }
    }

    pub(super) fn write(&self, store: &Store, offset: u64, data: &[u8]) -> Result<u32, FsError> {
        let mut state = self.lock_state();
        let size = self.meta().size;
        if let Stage::Empty = *state {
            *state = if offset == 0 {
                self.start_stream(store)?
            } else {
                let file = store.upload_spool().map_err(FsError::Store)?;
                Stage::Spooling { file }
            };
        }
        match &mut *state {
            Stage::Empty => unreachable!("state was just initialised"),
            Stage::Spooling { file } => {
                if let Err(source) = file.as_file().write_all_at(data, offset) {
                    // A spool missing bytes can only be rejected later as a broken archive; the
                    // upload fails now, with the real cause (a full disk), for close to report.
                    let cause = ImportError::Store(StoreError::io(
                        "write the upload spool",
                        file.path().to_path_buf(),
                        clone_io_error(&source),
                    ));
                    *state = Stage::Done(Err(Arc::new(cause)));
                    return Err(FsError::Io {
                        op: "write the spool file",
                        source,
                    });
                }
            }
            Stage::Streaming { tx, .. } => {
                if offset != size {
                    return Err(FsError::NonSequentialWrite {
                        expected: size,
                        got: offset,
                    });
                }
                if tx.send(data.to_vec()).is_err() {
                    // The importer stopped reading: it failed, or it has seen the whole
                    // archive and what still arrives is padding.
                    let done = Self::join(std::mem::replace(&mut *state, Stage::Empty));
                    let failed = done.as_ref().err().cloned();
                    *state = Stage::Done(done);
                    if let Some(cause) = failed {
                        return Err(FsError::ImportRejected(cause));
                    }
                }
            }
            Stage::Done(result) => {
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

    /// Starts the import thread that the written bytes stream into.
    fn start_stream(&self, store: &Store) -> Result<Stage, FsError> {
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
            .map_err(|source| FsError::Io {
                op: "start an import thread",
                source,
            })?;
        Ok(Stage::Streaming { tx, worker })
    }

    fn join(state: Stage) -> Outcome {
        match state {
            Stage::Streaming { tx, worker } => {
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
            Stage::Empty | Stage::Spooling { .. } | Stage::Done(_) => {
                unreachable!("join is only called on a streaming upload")
            }
        }
    }

    /// Finishes the import: waits for the stream's importer, or imports the spool file.
    /// Idempotent; returns the outcome. `None` when nothing was written (nothing to commit).
    pub(super) fn commit(&self, store: &Store) -> Option<Outcome> {
        let mut state = self.lock_state();
        let outcome = match std::mem::replace(&mut *state, Stage::Empty) {
            Stage::Empty => return None,
            Stage::Done(r) => {
                *state = Stage::Done(r.clone());
                return Some(r);
            }
            s @ Stage::Streaming { .. } => Self::join(s),
            Stage::Spooling { file } => {
                let options = ImportOptions {
                    platforms: self.platforms.clone(),
                };
                archive::import_file(store, file.path(), &options, &self.progress).map_err(Arc::new)
            }
        };
        *state = Stage::Done(outcome.clone());
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
            Err(e) => log::warn!(target: "import", "{name}: {}", crate::error::chain(&**e)),
        }
        Some(outcome)
    }

    /// The status file's bytes: the status as pretty JSON, one line feed after it.
    pub(super) fn status_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(&self.status()).expect("status serializes");
        bytes.push(b'\n');
        bytes
    }

    pub(super) fn status(&self) -> UploadStatus {
        let meta = self.meta();
        let state = self.lock_state();
        let mut status = UploadStatus {
            name: meta.name,
            state: UploadState::Empty,
            bytes_written: meta.size,
            bytes_processed: self.progress.load(Ordering::Relaxed),
            platforms: self.platforms.iter().map(|p| p.to_string()).collect(),
            images: Vec::new(),
            error: None,
        };
        match &*state {
            Stage::Empty => {}
            Stage::Streaming { .. } | Stage::Spooling { .. } => {
                status.state = UploadState::Receiving
            }
            Stage::Done(r) => match r {
                Ok(loaded) => {
                    status.state = UploadState::Loaded;
                    status.images = loaded.iter().map(LoadedStatus::of).collect();
                }
                Err(e) => {
                    status.state = UploadState::Failed;
                    status.error = Some(crate::error::chain(&**e));
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

#[cfg(test)]
mod tests;
