//! Garbage collection and consistency checks of the store: mark every blob reachable from the
//! image list (containerd's tricolour mark, without the colours: the graph is a DAG walked from
//! each image), sweep the rest; and `fsck`, which re-hashes every blob and reports images whose
//! content is incomplete.
//!
//! The previous targets of names moved by imports (the name history) are roots too, until their
//! entry is older than the retention period: a moved name never loses its old image silently.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::digest::Digest;
use crate::error;
use crate::image::{Availability, ImageGraph};
use crate::store::{AbandonedFiles, ImageRecord, LockHolder, Store, StoreError};

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
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub removed_blobs: usize,
    pub freed_bytes: u64,
    pub removed_temp_files: AbandonedFiles,
    /// Name history entries dropped because they expired.
    pub expired_history: usize,
    /// Images whose graph could not be walked; their reachable blobs are kept regardless.
    pub warnings: Vec<String>,
}

/// Removes every blob no image (and no unexpired history entry) references, and temp files of
/// writers that died.
///
/// Holds the store's exclusive gc lock throughout, so no import (which holds it shared from its
/// first blob until its refs are written) can lose blobs it has written but not yet named, and
/// no open archive file of a mount loses the blobs it reads. `waiting` is told who holds the lock
/// if it is busy.
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
    let (live, warnings) = mark(store)?;
    if !warnings.is_empty() {
        // A graph we cannot read may reference anything: sweeping now could destroy an image
        // that a repair would have saved.
        return Ok(GcReport {
            warnings,
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
    report.removed_temp_files = store.remove_abandoned_ingests()?;
    Ok(report)
}

/// Every blob reachable from the image list and the name history, and a warning per image that
/// could not be walked.
pub fn mark(store: &Store) -> Result<(BTreeSet<Digest>, Vec<String>), StoreError> {
    let mut live = BTreeSet::new();
    let mut warnings = Vec::new();
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
            Err(e) => warnings.push(format!("{}: {}", record.target.digest, error::chain(&e))),
        }
    }
    Ok((live, warnings))
}

/// One problem `fsck` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

/// What is wrong with one image, without its name.
fn image_findings(store: &Store, record: &ImageRecord) -> Vec<String> {
    let graph = match ImageGraph::of_record(store, record) {
        Ok(graph) => graph,
        Err(e) => return vec![error::chain(&e)],
    };
    let mut found = Vec::new();
    if graph.available_platforms().is_empty() {
        found.push("no platform is complete".to_string());
    }
    for m in &graph.manifests {
        if let Availability::Partial { missing } = &m.availability {
            for d in missing {
                found.push(format!("manifest {} lacks blob {d}", m.descriptor.digest));
            }
        }
    }
    found
}

/// What `fsck` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub blobs_checked: usize,
    pub problems: Vec<Problem>,
    /// Temp files no live writer owns: not damage, but space `gc` gives back.
    pub abandoned: AbandonedFiles,
}

/// Re-hashes every blob and walks every image; returns the problems found (none: healthy).
pub fn check(store: &Store) -> Result<CheckReport, StoreError> {
    let mut problems = Vec::new();
    let blobs = store.list_blobs()?;
    for digest in &blobs {
        if let Err(e) = store.verify_blob(digest) {
            problems.push(Problem(format!("blob {digest}: {}", error::chain(&e))));
        }
    }
    // What is wrong with an image is the same under each of its names: walk each image once.
    let mut findings: HashMap<Digest, Vec<String>> = HashMap::new();
    for record in store.images()? {
        let label = record.label();
        let found = findings
            .entry(record.target.digest)
            .or_insert_with(|| image_findings(store, &record));
        problems.extend(found.iter().map(|f| Problem(format!("image {label}: {f}"))));
    }
    Ok(CheckReport {
        blobs_checked: blobs.len(),
        problems,
        abandoned: store.find_abandoned_ingests()?,
    })
}

#[cfg(test)]
mod tests;
