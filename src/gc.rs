//! Garbage collection and consistency checks of the store: mark every blob reachable from the
//! image list (containerd's tricolour mark, without the colours: the graph is a DAG walked from
//! each image), sweep the rest with the layer indexes derived from them; and `fsck`, which
//! re-hashes every blob, verifies every layer index and reports images whose content is
//! incomplete.
//!
//! The previous targets of names moved by imports (the name history) are roots too, until their
//! entry is older than the retention period: a moved name never loses its old image silently.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::digest::Digest;
use crate::image::{Availability, ImageError, ImageGraph};
use crate::store::{
    AbandonedFiles, DamagedIndex, ImageRecord, LockHolder, MAX_RECORD_SIZE, RemovedIndexes, Store,
    StoreError, StoredIndex,
};

/// How long a name's previous target is kept by default (`gc --keep-history`).
pub const DEFAULT_HISTORY_RETENTION: Duration = Duration::from_secs(14 * 24 * 3600);

/// How a collection runs.
#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Give up waiting for imports and open archive files after this long (`None`: wait).
    pub timeout: Option<Duration>,
    /// Name history entries older than this are dropped first, and their images collected.
    pub keep_history: Duration,
}

impl Default for GcOptions {
    fn default() -> GcOptions {
        GcOptions {
            timeout: None,
            keep_history: DEFAULT_HISTORY_RETENTION,
        }
    }
}

/// What a collection removed.
#[derive(Debug, Default)]
pub struct GcReport {
    pub removed_blobs: usize,
    /// What the removed blobs took.
    pub freed_bytes: u64,
    /// Layer indexes of removed layers, and of layers already gone (an earlier build's or
    /// another tool's gc removed the blob without them).
    pub removed_indexes: RemovedIndexes,
    /// In `ingest/` and `indexes/`.
    pub removed_temp_files: AbandonedFiles,
    /// Name history entries dropped because they expired.
    pub expired_history: usize,
    /// Images whose graph could not be walked; when there are any, nothing is removed.
    pub unreadable: Vec<UnreadableImage>,
}

/// An image (listed, or the previous target of a name) whose graph could not be walked: it may
/// reference any blob, so `gc` removes nothing.
#[derive(Debug)]
pub struct UnreadableImage {
    pub digest: Digest,
    pub error: ImageError,
}

impl fmt::Display for UnreadableImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.digest, crate::error::chain(&self.error))
    }
}

/// What the mark phase found: every blob reachable from the roots, and the images it could not
/// walk.
#[derive(Debug, Default)]
pub struct Marked {
    pub live: BTreeSet<Digest>,
    pub unreadable: Vec<UnreadableImage>,
}

/// Removes every blob no image (and no unexpired history entry) references, the layer indexes
/// of every layer no longer stored, and temp files of writers that died.
///
/// Holds the store's exclusive gc lock throughout, so no import (which holds it shared from its
/// first blob until its refs are written) can lose blobs it has written but not yet named, and
/// no open archive file of a mount loses the blobs it reads; index writers publish under it
/// shared, so an index is swept exactly when its layer is gone. `waiting` is told who holds the
/// lock if it is busy.
pub fn collect_garbage(
    store: &Store,
    options: &GcOptions,
    waiting: impl FnOnce(&[LockHolder]),
) -> Result<GcReport, StoreError> {
    let _lock = store.lock_gc_waiting(options.timeout, waiting)?;
    let now = crate::store::now();
    let expired_history = store.update_images_and_history(|_, history| {
        let history = history.entries()?;
        let before = history.len();
        history.retain(|e| now.saturating_sub(e.replaced_at) < options.keep_history.as_secs());
        Ok(before - history.len())
    })?;
    let Marked { live, unreadable } = mark(store)?;
    if !unreadable.is_empty() {
        // A graph we cannot read may reference anything: sweeping now could destroy an image
        // that a repair would have saved.
        return Ok(GcReport {
            unreadable,
            ..GcReport::default()
        });
    }
    let mut report = GcReport {
        expired_history,
        ..GcReport::default()
    };
    for digest in store.list_blobs()? {
        if !live.contains(&digest) {
            report.freed_bytes += store.remove_blob(&digest)?;
            report.removed_blobs += 1;
        }
    }
    // After the blobs: a gc that stops between the two leaves indexes the next one removes,
    // never a layer without its index removed while kept.
    report.removed_indexes = store.remove_orphan_indexes()?;
    report.removed_temp_files = store.remove_abandoned_ingests()?;
    report.removed_temp_files += store.remove_abandoned_index_files()?;
    Ok(report)
}

/// Every blob reachable from the image list and the name history, and each image that could not
/// be walked.
pub fn mark(store: &Store) -> Result<Marked, StoreError> {
    let mut live = BTreeSet::new();
    let mut unreadable = Vec::new();
    let previous = store
        .history()?
        .into_iter()
        .map(|e| ImageRecord::unnamed(e.target));
    for record in store.images()?.into_iter().chain(previous) {
        if live.contains(&record.target.digest) {
            continue;
        }
        live.insert(record.target.digest);
        match ImageGraph::of_record(store, &record) {
            Ok(graph) => {
                live.extend(graph.indexes.iter().map(|d| d.digest));
                for m in &graph.manifests {
                    live.insert(m.descriptor.digest);
                    live.extend(m.children.iter().map(|c| c.digest));
                }
            }
            Err(error) => unreadable.push(UnreadableImage {
                digest: record.target.digest,
                error,
            }),
        }
    }
    Ok(Marked { live, unreadable })
}

/// One problem `fsck` found; its text is the line `fsck` prints.
#[derive(Debug)]
pub enum Problem {
    /// A blob that is not what its name says (or cannot be read).
    Blob { digest: Digest, error: StoreError },
    /// Something wrong with an image, reported under each of its names (`label`).
    Image { label: String, finding: Finding },
    /// The name history does not read.
    History(StoreError),
    /// An `index.json` record over the per-record limit.
    OversizedRecord { label: String, size: u64 },
    /// A layer index that does not verify (rebuilt when next used).
    Index(DamagedIndex),
}

/// What is wrong with one image, without its name.
#[derive(Debug, Clone)]
pub enum Finding {
    /// Its graph cannot be walked (shared by its names).
    Unreadable(Arc<ImageError>),
    /// Not one platform is held completely.
    NoCompletePlatform,
    /// A manifest whose config or layer is missing.
    MissingBlob { manifest: Digest, blob: Digest },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `Problem::Image` names the image (each of its names in turn): the error must not
            // name it again, nor name the one it was walked under.
            Finding::Unreadable(e) => {
                write!(f, "{}", e.without_image())?;
                match std::error::Error::source(&**e) {
                    Some(cause) => write!(f, ": {}", crate::error::chain(cause)),
                    None => Ok(()),
                }
            }
            Finding::NoCompletePlatform => write!(f, "no platform is complete"),
            Finding::MissingBlob { manifest, blob } => {
                write!(f, "manifest {manifest} lacks blob {blob}")
            }
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Blob { digest, error } => {
                write!(f, "blob {digest}: {}", crate::error::chain(error))
            }
            Problem::Image { label, finding } => write!(f, "image {label}: {finding}"),
            Problem::History(e) => write!(
                f,
                "{}: imports that move a name, restore and gc cannot work until `imagefs fsck \
                 --repair` sets it aside",
                crate::error::chain(e)
            ),
            Problem::OversizedRecord { label, size } => write!(
                f,
                "index.json record of {label} is {size} bytes, over the {MAX_RECORD_SIZE}-byte \
                 limit (`imagefs fsck --repair` shrinks it to its names and target)"
            ),
            Problem::Index(damaged) => write!(
                f,
                "{damaged}; it is rebuilt when next used (`imagefs fsck --repair` removes it)"
            ),
        }
    }
}

/// What is wrong with one image, without its name.
fn image_findings(store: &Store, record: &ImageRecord) -> Vec<Finding> {
    let graph = match ImageGraph::of_record(store, record) {
        Ok(graph) => graph,
        Err(e) => return vec![Finding::Unreadable(Arc::new(e))],
    };
    let mut found = Vec::new();
    if graph.available_platforms().is_empty() {
        found.push(Finding::NoCompletePlatform);
    }
    for m in &graph.manifests {
        if let Availability::Partial { missing } = &m.availability {
            for d in missing {
                found.push(Finding::MissingBlob {
                    manifest: m.descriptor.digest,
                    blob: *d,
                });
            }
        }
    }
    found
}

/// What `fsck` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub blobs_checked: usize,
    /// Layer indexes verified (orphans included).
    pub indexes_checked: usize,
    pub problems: Vec<Problem>,
    /// Temp files no live writer owns: not damage, but space `gc` gives back.
    pub abandoned: AbandonedFiles,
    /// The same in `indexes/`.
    pub abandoned_index_files: AbandonedFiles,
    /// Sound layer indexes whose layer is not stored: not damage (an earlier build's gc, or
    /// another tool's, removed the blob alone), but space `gc` or `fsck --repair` gives back.
    pub orphan_indexes: Vec<StoredIndex>,
    /// Named records whose `org.opencontainers.image.ref.name` is not their full name (earlier
    /// builds wrote the tag alone): not damage to imagefs, which reads `io.containerd.image.name`,
    /// but skopeo's and umoci's `oci:STORE:TAG` then takes the first of the images that share a
    /// tag. The next change to the list, or `fsck --repair`, writes their full names.
    pub outdated_ref_names: Vec<String>,
}

/// Re-hashes every blob and layer index, walks every image, reads the name history and
/// measures every record; returns the problems found (none: healthy).
pub fn check(store: &Store) -> Result<CheckReport, StoreError> {
    let mut problems = Vec::new();
    let blobs = store.list_blobs()?;
    for digest in &blobs {
        if let Err(error) = store.verify_blob(digest) {
            problems.push(Problem::Blob {
                digest: *digest,
                error,
            });
        }
    }
    // What is wrong with an image is the same under each of its names: walk each image once.
    let mut findings: HashMap<Digest, Vec<Finding>> = HashMap::new();
    let images = store.images()?;
    for record in &images {
        let label = record.label();
        let found = findings
            .entry(record.target.digest)
            .or_insert_with(|| image_findings(store, record));
        problems.extend(found.iter().map(|finding| Problem::Image {
            label: label.clone(),
            finding: finding.clone(),
        }));
    }
    let indexes = store.list_indexes()?;
    let mut orphan_indexes = Vec::new();
    for index in &indexes {
        match store.verify_index(index) {
            Err(damaged) => problems.push(Problem::Index(damaged)),
            Ok(()) if !store.has_blob(&index.layer) => orphan_indexes.push(index.clone()),
            Ok(()) => {}
        }
    }
    if let Err(e) = store.history() {
        problems.push(Problem::History(e));
    }
    for record in &images {
        let size = record.encoded_size();
        if size > MAX_RECORD_SIZE {
            problems.push(Problem::OversizedRecord {
                label: record.label(),
                size,
            });
        }
    }
    Ok(CheckReport {
        blobs_checked: blobs.len(),
        indexes_checked: indexes.len(),
        problems,
        abandoned: store.find_abandoned_ingests()?,
        abandoned_index_files: store.find_abandoned_index_files()?,
        orphan_indexes,
        outdated_ref_names: images
            .iter()
            .filter(|r| r.outdated_ref_name().is_some())
            .map(ImageRecord::label)
            .collect(),
    })
}

/// What `fsck --repair` did to layer indexes.
#[derive(Debug, Default)]
pub struct IndexRepair {
    /// Removed because they did not verify (each is rebuilt when next used).
    pub damaged: Vec<DamagedIndex>,
    /// Removed because their layer is gone.
    pub orphans: RemovedIndexes,
}

/// Removes every layer index that does not verify, and those whose layer is gone: derived data,
/// rebuilt on demand. A damaged index a writer replaced meanwhile stays (the new one).
pub fn repair_indexes(store: &Store) -> Result<IndexRepair, StoreError> {
    let mut repair = IndexRepair::default();
    for index in store.list_indexes()? {
        if let Err(damaged) = store.verify_index(&index)
            && store.remove_damaged_index(&damaged)?.is_some()
        {
            repair.damaged.push(damaged);
        }
    }
    repair.orphans = store.remove_orphan_indexes()?;
    Ok(repair)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod index_tests;
