//! Garbage collection and consistency checks of the store: mark every blob reachable from the
//! image list (containerd's tricolour mark, without the colours: the graph is a DAG walked from
//! each image), sweep the rest; and `fsck`, which re-hashes every blob and reports images whose
//! content is incomplete.

use std::collections::BTreeSet;

use crate::digest::Digest;
use crate::image::{Availability, ImageGraph};
use crate::logger::error_chain;
use crate::store::{Store, StoreError};

/// What a collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub removed_blobs: usize,
    pub freed_bytes: u64,
    pub removed_temp_files: usize,
    /// Images whose graph could not be walked; their reachable blobs are kept regardless.
    pub warnings: Vec<String>,
}

/// Removes every blob no image references, and temp files of writers that died.
///
/// Holds the store's exclusive gc lock throughout, so no import (which holds it shared from its
/// first blob until its refs are written) can lose blobs it has written but not yet named.
pub fn collect_garbage(store: &Store) -> Result<GcReport, StoreError> {
    let _lock = store.lock_gc()?;
    let (live, warnings) = mark(store)?;
    if !warnings.is_empty() {
        // A graph we cannot read may reference anything: sweeping now could destroy an image
        // that a repair would have saved.
        return Ok(GcReport {
            warnings,
            ..GcReport::default()
        });
    }
    let mut report = GcReport::default();
    for digest in store.list_blobs()? {
        if !live.contains(&digest) {
            report.freed_bytes += store.remove_blob(&digest)?;
            report.removed_blobs += 1;
        }
    }
    report.removed_temp_files = store.remove_abandoned_ingests()?;
    Ok(report)
}

/// Every blob reachable from the image list, and a warning per image that could not be walked.
pub fn mark(store: &Store) -> Result<(BTreeSet<Digest>, Vec<String>), StoreError> {
    let mut live = BTreeSet::new();
    let mut warnings = Vec::new();
    for record in store.images()? {
        live.insert(record.target.digest);
        match ImageGraph::of_record(store, &record) {
            Ok(graph) => {
                live.extend(graph.indexes.iter().map(|d| d.digest));
                for m in &graph.manifests {
                    live.insert(m.descriptor.digest);
                    live.extend(m.children.iter().map(|c| c.digest));
                }
            }
            Err(e) => warnings.push(format!("{}: {}", record.target.digest, error_chain(&e))),
        }
    }
    Ok((live, warnings))
}

/// One problem `fsck` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem(pub String);

/// Re-hashes every blob and walks every image; returns the problems found (none: healthy).
pub fn check(store: &Store) -> Result<(usize, Vec<Problem>), StoreError> {
    let mut problems = Vec::new();
    let blobs = store.list_blobs()?;
    for digest in &blobs {
        if let Err(e) = store.verify_blob(digest) {
            problems.push(Problem(format!("blob {digest}: {}", error_chain(&e))));
        }
    }
    for record in store.images()? {
        let label = record
            .name()
            .map_or_else(|| record.target.digest.to_string(), |n| n.to_string());
        match ImageGraph::of_record(store, &record) {
            Ok(graph) => {
                if graph.available_platforms().is_empty() {
                    problems.push(Problem(format!("image {label}: no platform is complete")));
                }
                for m in &graph.manifests {
                    if let Availability::Partial { missing } = &m.availability {
                        for d in missing {
                            problems.push(Problem(format!(
                                "image {label}: manifest {} lacks blob {d}",
                                m.descriptor.digest
                            )));
                        }
                    }
                }
            }
            Err(e) => problems.push(Problem(format!("image {label}: {}", error_chain(&e)))),
        }
    }
    Ok((blobs.len(), problems))
}
