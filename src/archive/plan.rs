//! `ArchivePlan`: the exact bytes of a `docker save`-style archive, decided before any blob is
//! read. Every record's header, generated JSON and blob range is known up front, so the total size
//! is known, any offset can be served (`read_at`), and a streaming writer produces the same bytes.
//!
//! Layout (containerd core/images/archive/exporter.go, which `docker save` uses since Docker 25): entries sorted bytewise by name, each once: `blobs/`,
//! `blobs/sha256/`, the blobs, `index.json`, `manifest.json` (when something qualifies),
//! `oci-layout`; USTAR headers with mtime 0 and uid/gid 0; two zero blocks at the end.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use super::ExportError;
use super::tar_header::{self, BLOCK, EntryKind};
use crate::digest::Digest;
use crate::image::{ImageGraph, PlatformManifest};
use crate::oci::{
    self, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, BLOB_DIR, Descriptor, INDEX_FILE,
    LegacyManifestEntry, OCI_LAYOUT_CONTENT, OCI_LAYOUT_FILE, blob_path,
};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::store::{ImageRecord, Store};

/// Two zero blocks end the archive; no padding to a 10 KiB record (as Go's writer).
const TRAILER_LEN: u64 = 2 * BLOCK;

/// Media-type prefixes whose bytes `docker save` never writes (the manifest still names them).
const NON_DISTRIBUTABLE_PREFIXES: [&str; 2] = [
    "application/vnd.oci.image.layer.nondistributable.",
    "application/vnd.docker.image.rootfs.foreign.",
];

/// What to export: images (named or by digest) and an optional platform filter.
#[derive(Clone, Debug, Default)]
pub struct ExportRequest {
    pub images: Vec<ImageRecord>,
    pub platforms: Vec<Platform>,
}

/// One tar entry: its header at `offset`, then its body.
#[derive(Debug)]
struct Record {
    offset: u64,
    header: Vec<u8>,
    body: Body,
}

#[derive(Debug)]
enum Body {
    None,
    Bytes(Vec<u8>),
    Blob {
        descriptor: Box<Descriptor>,
        file: OnceLock<File>,
    },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::None => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::Blob { descriptor, .. } => descriptor.size,
        }
    }
}

impl Record {
    fn body_len(&self) -> u64 {
        self.body.len()
    }

    fn data_start(&self) -> u64 {
        self.offset + self.header.len() as u64
    }

    fn end(&self) -> u64 {
        self.offset + tar_header::entry_len(self.header.len() as u64, self.body_len())
    }
}

/// An archive whose every byte is determined: see the module docs.
#[derive(Debug)]
pub struct ArchivePlan {
    store: Store,
    records: Vec<Record>,
    size: u64,
    /// Digests of the blobs the archive carries, sorted.
    blobs: Vec<Digest>,
}

impl ArchivePlan {
    /// Plans the archive `docker save [--platform …] REF…` would write for `request`, with two
    /// deliberate differences: platform requests are strict (each must be present, moby#50166
    /// silently drops), and `manifest.json` only ever describes a present manifest (docker/cli#5476).
    pub fn build(store: &Store, request: &ExportRequest) -> Result<ArchivePlan, ExportError> {
        let mut blobs: BTreeMap<Digest, Descriptor> = BTreeMap::new();
        let mut top_level: Vec<Descriptor> = Vec::new();
        // manifest digest -> (config, layers, repo tags), in first-seen order.
        let mut legacy: Vec<(Digest, LegacyManifestEntry)> = Vec::new();

        for record in &request.images {
            let graph = ImageGraph::of_record(store, record)?;
            let name = record.name();
            let mut add = |d: &Descriptor| {
                blobs.entry(d.digest).or_insert_with(|| d.clone());
            };
            let described: Option<&PlatformManifest> = if request.platforms.len() == 1 {
                let chosen = graph.select_one(&request.platforms[0])?;
                add(&chosen.descriptor);
                chosen.children.iter().for_each(&mut add);
                let mut d = chosen.descriptor.clone();
                if d.platform.is_none() {
                    d.platform = chosen.platform.clone();
                }
                // The stored target's own annotations describe the index, not this manifest.
                top_level.push(with_name(d, name.as_ref()));
                Some(chosen)
            } else {
                let selected = graph.select(&request.platforms)?;
                graph.indexes.iter().for_each(&mut add);
                for m in &selected {
                    add(&m.descriptor);
                    m.children.iter().for_each(&mut add);
                }
                if request.platforms.is_empty() {
                    // containerd WithSkipMissing: a manifest whose children are partly absent
                    // travels alone.
                    graph
                        .manifests
                        .iter()
                        .filter(|m| {
                            matches!(m.availability, crate::image::Availability::Partial { .. })
                        })
                        .for_each(|m| add(&m.descriptor));
                }
                top_level.push(with_name(graph.target.clone(), name.as_ref()));
                ImageGraph::preferred(&selected)
            };
            if let Some(m) = described {
                let entry = match legacy.iter_mut().find(|(d, _)| *d == m.descriptor.digest) {
                    Some((_, e)) => e,
                    None => {
                        legacy.push((m.descriptor.digest, legacy_entry(m)));
                        &mut legacy.last_mut().expect("just pushed").1
                    }
                };
                if let Some(n) = &name {
                    entry
                        .repo_tags
                        .get_or_insert_with(Vec::new)
                        .push(n.familiar_string());
                }
            }
        }

        let mut index_json = Vec::new();
        oci::write_index_json(&mut index_json, &top_level);
        let manifest_json = (!legacy.is_empty())
            .then(|| oci::encode_legacy_manifest(legacy.iter().map(|(_, e)| e)));

        let mut plan = ArchivePlan {
            store: store.clone(),
            records: Vec::new(),
            size: 0,
            blobs: Vec::new(),
        };
        plan.push("blobs/", EntryKind::Directory, 0o755, Body::None);
        plan.push(
            &format!("{BLOB_DIR}/"),
            EntryKind::Directory,
            0o755,
            Body::None,
        );
        for (digest, descriptor) in blobs {
            let distributable = !NON_DISTRIBUTABLE_PREFIXES
                .iter()
                .any(|p| descriptor.media_type.starts_with(p));
            if !distributable {
                continue;
            }
            plan.blobs.push(digest);
            let name = blob_path(&digest);
            let body = Body::Blob {
                descriptor: Box::new(descriptor),
                file: OnceLock::new(),
            };
            plan.push(&name, EntryKind::Regular, 0o444, body);
        }
        plan.push(
            INDEX_FILE,
            EntryKind::Regular,
            0o644,
            Body::Bytes(index_json),
        );
        if let Some(m) = manifest_json {
            plan.push(
                oci::LEGACY_MANIFEST_FILE,
                EntryKind::Regular,
                0o644,
                Body::Bytes(m),
            );
        }
        plan.push(
            OCI_LAYOUT_FILE,
            EntryKind::Regular,
            0o444,
            Body::Bytes(OCI_LAYOUT_CONTENT.to_vec()),
        );
        plan.size += TRAILER_LEN;
        Ok(plan)
    }

    fn push(&mut self, name: &str, kind: EntryKind, mode: u32, body: Body) {
        let header = tar_header::header(name, body.len(), mode, kind);
        let record = Record {
            offset: self.size,
            header,
            body,
        };
        self.size = record.end();
        self.records.push(record);
    }

    /// The same plan with no blob file opened yet. A long-lived plan (the mount caches one per
    /// archive for its size) should never read; each open file reads through its own copy, so
    /// blob descriptors are held only while someone reads, and a blob that `gc` deleted or a
    /// re-import replaced is never served from a stale descriptor.
    pub fn reopened(&self) -> ArchivePlan {
        let records = self
            .records
            .iter()
            .map(|r| Record {
                offset: r.offset,
                header: r.header.clone(),
                body: match &r.body {
                    Body::None => Body::None,
                    Body::Bytes(b) => Body::Bytes(b.clone()),
                    Body::Blob { descriptor, .. } => Body::Blob {
                        descriptor: descriptor.clone(),
                        file: OnceLock::new(),
                    },
                },
            })
            .collect();
        ArchivePlan {
            store: self.store.clone(),
            records,
            size: self.size,
            blobs: self.blobs.clone(),
        }
    }

    /// The archive's exact length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The blobs carried, sorted by digest.
    pub fn blobs(&self) -> &[Digest] {
        &self.blobs
    }

    /// How many bytes a read of `len` at `offset` returns: `len`, clipped at the end.
    pub fn bytes_at(&self, offset: u64, len: usize) -> usize {
        (len as u64).min(self.size.saturating_sub(offset)) as usize
    }

    /// Fills `buf` from `offset`; returns fewer bytes only at the end of the archive. A blob that
    /// is missing or whose size changed is an error, never zeros. The error keeps the store's own
    /// (an unopenable blob keeps its errno: EMFILE, EACCES, ELOOP reach the reader as they are).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, ExportError> {
        if offset >= self.size {
            return Ok(0);
        }
        let want = self.bytes_at(offset, buf.len());
        let mut done = 0;
        let mut i = self.records.partition_point(|r| r.end() <= offset);
        while done < want {
            let pos = offset + done as u64;
            let out = &mut buf[done..want];
            let Some(r) = self.records.get(i) else {
                out.fill(0); // the trailer
                break;
            };
            let n = if pos < r.data_start() {
                let start = (pos - r.offset) as usize;
                let n = out.len().min(r.header.len() - start);
                out[..n].copy_from_slice(&r.header[start..start + n]);
                n
            } else if pos < r.data_start() + r.body_len() {
                let start = pos - r.data_start();
                let n = (out.len() as u64).min(r.body_len() - start) as usize;
                self.read_body(r, start, &mut out[..n])?;
                n
            } else {
                let n = (out.len() as u64).min(r.end() - pos) as usize;
                out[..n].fill(0); // padding to the block boundary
                n
            };
            done += n;
            if offset + done as u64 >= r.end() {
                i += 1;
            }
        }
        Ok(want)
    }

    fn read_body(&self, r: &Record, start: u64, out: &mut [u8]) -> Result<(), ExportError> {
        match &r.body {
            Body::None => Ok(()),
            Body::Bytes(b) => {
                out.copy_from_slice(&b[start as usize..start as usize + out.len()]);
                Ok(())
            }
            Body::Blob { descriptor, file } => {
                // Opened at the first read and kept for the plan's life: a plan that serves
                // reads should live as long as the open file it serves (see `reopened`).
                let f = match file.get() {
                    Some(f) => f,
                    None => {
                        let opened = self
                            .store
                            .open_blob(descriptor)
                            .map_err(ExportError::Store)?;
                        file.get_or_init(|| opened)
                    }
                };
                f.read_exact_at(out, start).map_err(|e| match e.kind() {
                    // The file shrank under us: the blob is corrupt, not the request.
                    io::ErrorKind::UnexpectedEof => ExportError::BlobChanged {
                        digest: descriptor.digest,
                        found: None,
                    },
                    _ => ExportError::BlobRead {
                        digest: descriptor.digest,
                        source: e,
                    },
                })
            }
        }
    }

    /// Entries in archive order, for the streaming writer.
    pub(super) fn entries(&self) -> impl Iterator<Item = PlanEntry<'_>> {
        self.records.iter().map(|r| PlanEntry {
            header: &r.header,
            body: match &r.body {
                Body::None => PlanBody::None,
                Body::Bytes(b) => PlanBody::Bytes(b),
                Body::Blob { descriptor, .. } => PlanBody::Blob(descriptor),
            },
        })
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }
}

pub(super) struct PlanEntry<'a> {
    pub header: &'a [u8],
    pub body: PlanBody<'a>,
}

pub(super) enum PlanBody<'a> {
    None,
    Bytes(&'a [u8]),
    Blob(&'a Descriptor),
}

/// The `manifest.json` entry of a complete manifest: its config and layers, no tags yet.
fn legacy_entry(m: &PlatformManifest) -> LegacyManifestEntry {
    let mut children = m.children.iter().map(|c| blob_path(&c.digest));
    let config = children.next().expect("a complete manifest has a config");
    let layers: Vec<String> = children.collect();
    LegacyManifestEntry {
        config,
        // Go marshals a nil slice as null: an image without layers has "Layers":null.
        layers: (!layers.is_empty()).then_some(layers),
        repo_tags: None,
    }
}

/// The descriptor as `index.json` lists it: with the name annotations for a named export, and
/// with them stripped for an export by digest (containerd exporter.go: a digest reference
/// names no image).
fn with_name(mut d: Descriptor, name: Option<&Reference>) -> Descriptor {
    d.annotations.remove(ANNOTATION_IMAGE_NAME);
    d.annotations.remove(ANNOTATION_REF_NAME);
    if let Some(n) = name {
        d.annotations
            .insert(ANNOTATION_IMAGE_NAME.to_string(), n.to_string());
        let ref_name = n.tag().map_or_else(|| n.to_string(), str::to_string);
        d.annotations
            .insert(ANNOTATION_REF_NAME.to_string(), ref_name);
    }
    d
}

#[cfg(test)]
mod tests;
