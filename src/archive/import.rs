//! Importing image archives: OCI layouts (docker ≥ 25, ctr, skopeo, podman) and legacy
//! docker-archives (`manifest.json` + `<id>/layer.tar`), filtered to platforms like
//! `docker load --platform`, but strict and all-or-nothing:
//!
//! 1. scan the tar into a [`Catalog`] (every entry validated);
//! 2. decide, per image, which manifests to keep, and check every requested platform is there;
//! 3. stage the selected blobs (verifying digests and sizes), then publish them all;
//! 4. update the image list in one atomic `index.json` write.
//!
//! Any failure before step 4 leaves no new blob visible and no ref changed. Blobs of platforms
//! that were filtered out are never published.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::ImportError;
use super::import_progress::ImportProgress;
use super::names::NameTable;
use super::scan::{Catalog, Compression};
use crate::digest::Digest;
use crate::image::{Availability, ContentSource, ImageError, ImageGraph, SelectError};
use crate::oci::{
    self, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, ConfigPlatform, Descriptor,
    IMAGE_LAYOUT_VERSION, ImageLayout, Index, LegacyManifestEntry, MEDIA_TYPE_DOCKER_CONFIG,
    MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_LAYER_GZIP, MEDIA_TYPE_DOCKER_LAYER_ZSTD,
    MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST,
};
use crate::platform::{self, Platform, format_platforms};
use crate::reference::Reference;
use crate::store::{ImageRecord, MAX_INDEX_SIZE, Store, StoreError};

/// Index entries with this annotation are referrers (signatures, attestations) of another
/// entry, not images (moby `LoadImage`).
const ANNOTATION_MANIFEST_SUBJECT: &str = "io.containerd.manifest.subject";

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Load only these platforms; every one must be present in every image. Empty: load every
    /// platform the archive holds completely.
    pub platforms: Vec<Platform>,
}

/// One image loaded by an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedImage {
    /// `None` for an image the archive does not name (stored by digest).
    pub name: Option<Reference>,
    /// What the name (or, unnamed, the image) points to now.
    pub digest: Digest,
    /// The platforms now stored completely for `digest`, normalised.
    pub platforms: Vec<Platform>,
    /// What happened to the name.
    pub outcome: NameOutcome,
    /// Platforms the archive lists but does not hold completely, so not loaded.
    pub skipped: Vec<SkippedPlatform>,
}

/// What an import did with a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameOutcome {
    /// The name is new (or the image is unnamed).
    Added,
    /// The name already pointed to this image.
    Unchanged,
    /// Everything the archive brings for the name (its image, or every platform manifest it
    /// selects) is already part of the image the name points to, so the name stays: restoring
    /// one platform's archive of an image never narrows the image to that platform.
    AlreadyPart { brought: Digest },
    /// The name now points to another image; the previous one is kept in the name history
    /// (`imagefs ls --history`, `imagefs restore`).
    Moved {
        previous: Digest,
        previous_platforms: Vec<Platform>,
    },
}

/// A platform of an archive's image that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedPlatform {
    /// From the index entry; `None` when the entry names no platform.
    pub platform: Option<Platform>,
    pub manifest: Digest,
    /// The blob the archive lacks: the manifest itself, or one of its config and layers.
    pub missing: Digest,
}

impl SkippedPlatform {
    pub fn describe(&self) -> String {
        let platform = self
            .platform
            .as_ref()
            .map_or_else(|| "(unnamed platform)".to_string(), Platform::format_all);
        if self.missing == self.manifest {
            format!(
                "{platform}: the archive lacks its manifest {}",
                self.manifest
            )
        } else {
            format!(
                "{platform}: the archive lacks blob {} of its manifest {}",
                self.missing, self.manifest
            )
        }
    }
}

impl LoadedImage {
    /// `docker load`'s line: `Loaded image: alpine:latest` or `Loaded image ID: sha256:…`.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("Loaded image: {}", n.familiar_string()),
            None => format!("Loaded image ID: {}", self.digest),
        }
    }

    /// What a user must be told beyond `describe`: a name that stayed (information), a name
    /// that moved and platforms skipped (warnings). Printed on stderr by the CLI, logged by
    /// the mount.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.remark().into_iter().collect();
        notes.extend(self.warnings());
        notes
    }

    /// The note for a name that stayed where it was.
    pub fn remark(&self) -> Option<String> {
        match &self.outcome {
            NameOutcome::AlreadyPart { brought } => Some(format!(
                "what the archive brings ({brought}) is already part of {} {}; the name stays ({})",
                self.label(),
                self.digest,
                format_platforms(&self.platforms)
            )),
            NameOutcome::Added | NameOutcome::Unchanged | NameOutcome::Moved { .. } => None,
        }
    }

    /// A moved name and skipped platforms: what may surprise whoever imported.
    pub fn warnings(&self) -> Vec<String> {
        let label = self.label();
        let mut warnings = Vec::new();
        if let NameOutcome::Moved {
            previous,
            previous_platforms,
        } = &self.outcome
        {
            warnings.push(format!(
                "{label} moved from {previous} ({}) to {} ({}); `imagefs restore {label}` puts \
                 the previous image back",
                format_platforms(previous_platforms),
                self.digest,
                format_platforms(&self.platforms)
            ));
        }
        for s in &self.skipped {
            warnings.push(format!("{label}: skipped platform {}", s.describe()));
        }
        warnings
    }

    fn label(&self) -> String {
        match &self.name {
            Some(n) => n.familiar_string(),
            None => self.digest.to_string(),
        }
    }
}

/// Imports an archive read from a stream (a pipe, stdin, a FUSE write), in one pass.
pub fn import_stream(
    store: &Store,
    input: impl Read,
    options: &ImportOptions,
    progress: &impl ImportProgress,
) -> Result<Vec<LoadedImage>, ImportError> {
    let _ingest = store.lock_ingest()?;
    let catalog = Catalog::from_stream(store, input, progress)?;
    load(store, catalog, options)
}

/// Imports an archive file. An uncompressed file is read by seeking: only headers and the
/// selected blobs are read, once each.
pub fn import_file(
    store: &Store,
    path: &Path,
    options: &ImportOptions,
    progress: &impl ImportProgress,
) -> Result<Vec<LoadedImage>, ImportError> {
    let file = File::open(path).map_err(ImportError::Input)?;
    let meta = file.metadata().map_err(ImportError::Input)?;
    // A pipe or process substitution (`<(zcat x.tar.gz)`) can be read only once, in order.
    if !meta.is_file() {
        return import_stream(store, file, options, progress);
    }
    // pread: the sniff must not move the offset the decoder or scanner will start from.
    let mut magic = [0u8; 8];
    let n = file.read_at(&mut magic, 0).map_err(ImportError::Input)?;
    if Compression::sniff(&magic[..n]) != Compression::None {
        return import_stream(store, file, options, progress);
    }
    let _ingest = store.lock_ingest()?;
    let catalog = Catalog::from_file(store, file, progress)?;
    load(store, catalog, options)
}

/// A reference to load under, or none.
type Naming = Vec<Option<Reference>>;

/// What one image of the archive becomes in the store.
pub(super) struct Planned {
    pub(super) target: Descriptor,
    names: Naming,
    /// For a manifest we generated (docker-archive): its config, whose digest is the image's
    /// identity (Docker's image ID; its `rootfs.diff_ids` fix the layers' content, whatever
    /// their compression). One of the current image's manifests with that config brings
    /// nothing new.
    pub(super) generated_config: Option<Digest>,
    skipped: Vec<SkippedPlatform>,
    /// A document we generated (a docker-archive's manifest), published with the blobs.
    generated: Option<Vec<u8>>,
}

fn load(
    store: &Store,
    mut catalog: Catalog<'_>,
    options: &ImportOptions,
) -> Result<Vec<LoadedImage>, ImportError> {
    let planned = if catalog.oci_layout.is_some() || catalog.index_json.is_some() {
        plan_oci(&mut catalog, options)?
    } else if catalog.manifest_json.is_some() {
        plan_docker_archive(&mut catalog, options)?
    } else {
        return Err(ImportError::UnrecognizedFormat);
    };
    // Everything is verified; make it visible, then name it. A failure from here on (an I/O
    // error) may leave published blobs that no image names. They are not deleted here: a
    // concurrent import may already refer to the same content. They are invisible to every
    // image, and `gc` removes them under its exclusive lock.
    catalog.commit_staged()?;
    for document in planned.iter().filter_map(|p| p.generated.as_deref()) {
        store.write_blob(document)?;
    }
    store.sync_blob_dir()?;
    let outcomes = store.update_images_and_history(|images, history| {
        let mut names = NameTable::new(store, images);
        let now = crate::store::now();
        let mut outcomes = Vec::new();
        for p in &planned {
            for name in &p.names {
                outcomes.push(names.record(images, p, name.as_ref(), now));
            }
        }
        names.finish(history)?;
        Ok(outcomes)
    })?;
    let mut platforms_of: HashMap<Digest, Vec<Platform>> = HashMap::new();
    let mut loaded = Vec::new();
    let mut outcomes = outcomes.into_iter();
    for p in planned {
        for name in p.names {
            let (target, outcome) = outcomes.next().expect("one outcome per name");
            let platforms = platforms_of
                .entry(target.digest)
                .or_insert_with(|| stored_platforms(store, &target))
                .clone();
            loaded.push(LoadedImage {
                name,
                digest: target.digest,
                platforms,
                outcome,
                skipped: p.skipped.clone(),
            });
        }
    }
    Ok(loaded)
}

/// The platforms the store holds completely for an image (after publishing).
fn stored_platforms(store: &Store, target: &Descriptor) -> Vec<Platform> {
    let mut platforms = ImageGraph::load(store, &target.digest.to_string(), target)
        .map(|g| g.available_platforms())
        .unwrap_or_default();
    platforms.sort();
    platforms
}

/// The catalog as a content source for image graphs: blobs by `blobs/sha256/<hex>`.
struct ArchiveContent<'c, 's> {
    catalog: &'c Catalog<'s>,
}

impl ContentSource for ArchiveContent<'_, '_> {
    type Error = ImportError;

    fn has(&self, d: &Descriptor) -> Result<bool, ImportError> {
        let Some(path) = self.catalog.blob_path(&d.digest) else {
            return Ok(false);
        };
        match self.catalog.size_of(&path) {
            Some(size) if size == d.size => Ok(true),
            Some(found) => Err(ImportError::SizeMismatch {
                entry: path,
                digest: d.digest,
                expected: d.size,
                found,
            }),
            None => Ok(false),
        }
    }

    fn read_document(&self, d: &Descriptor) -> Result<Option<Vec<u8>>, ImportError> {
        if !self.has(d)? || d.size > oci::MAX_DOCUMENT_SIZE {
            return Ok(None);
        }
        let path = self.catalog.blob_path(&d.digest).expect("has() found it");
        let bytes = self.catalog.read_file(&path, oci::MAX_DOCUMENT_SIZE)?;
        let found = Digest::of(&bytes);
        if found != d.digest {
            return Err(ImportError::DigestMismatch {
                entry: path,
                expected: d.digest,
                found,
            });
        }
        Ok(Some(bytes))
    }
}

/// A failed walk of an archive's image graph as the import error it is: the archive's own
/// read errors as they are, what the archive lacks named as such.
fn graph_error(e: ImageError<ImportError>) -> ImportError {
    match e.split_source() {
        Err(source) => source,
        Ok(ImageError::TargetMissing { image, digest }) => ImportError::MissingBlob {
            image,
            digest,
            role: "top-level manifest or index",
        },
        Ok(ImageError::Select(e)) => selection_error(e),
        Ok(other) => ImportError::Image(other),
    }
}

/// A platform request the archive's image cannot satisfy, named as what the archive lacks.
fn selection_error(e: SelectError) -> ImportError {
    match e {
        SelectError::PlatformNotFound {
            image,
            requested,
            available,
        } => ImportError::PlatformNotInArchive {
            image,
            requested,
            available,
        },
        SelectError::PlatformIncomplete { image, missing, .. } => ImportError::MissingBlob {
            image,
            digest: missing,
            role: "manifest, config or layer",
        },
        e @ SelectError::AmbiguousPlatform { .. } => ImportError::Image(ImageError::Select(e)),
    }
}

fn plan_oci(
    catalog: &mut Catalog<'_>,
    options: &ImportOptions,
) -> Result<Vec<Planned>, ImportError> {
    if let Some(layout) = &catalog.oci_layout {
        let layout: ImageLayout =
            oci::parse_document(layout).map_err(|source| ImportError::BadDocument {
                entry: oci::OCI_LAYOUT_FILE.into(),
                source,
            })?;
        if layout.version != IMAGE_LAYOUT_VERSION {
            return Err(ImportError::UnsupportedLayout {
                version: layout.version,
            });
        }
    }
    let Some(index_bytes) = &catalog.index_json else {
        return Err(ImportError::MissingEntry {
            entry: oci::INDEX_FILE.into(),
            needed_by: "the OCI layout (oci-layout is present)".into(),
        });
    };
    let index: Index =
        oci::parse_document(index_bytes).map_err(|source| ImportError::BadDocument {
            entry: oci::INDEX_FILE.into(),
            source,
        })?;

    // Several index.json entries may name the same image; walk each target once.
    let mut by_target: BTreeMap<Digest, (Descriptor, Naming)> = BTreeMap::new();
    let mut order = Vec::new();
    for entry in index
        .manifests
        .iter()
        .filter(|d| !d.annotations.contains_key(ANNOTATION_MANIFEST_SUBJECT))
    {
        let name = entry_name(entry)?;
        let slot = by_target.entry(entry.digest).or_insert_with(|| {
            order.push(entry.digest);
            (entry.clone(), Vec::new())
        });
        if !slot.1.contains(&name) {
            slot.1.push(name);
        }
    }
    if order.is_empty() {
        return Err(ImportError::NoImages);
    }

    let mut planned = Vec::new();
    let mut to_stage: Vec<Descriptor> = Vec::new();
    for digest in order {
        let (entry, mut names) = by_target
            .remove(&digest)
            .expect("ordered targets are mapped");
        // A named entry makes a digest-only entry of the same image redundant.
        if names.iter().any(Option::is_some) {
            names.retain(Option::is_some);
        }
        let label = names
            .iter()
            .flatten()
            .next()
            .map_or_else(|| entry.digest.to_string(), |n| n.familiar_string());
        let content = ArchiveContent { catalog };
        let graph = ImageGraph::load_selective(&content, &label, &entry, &options.platforms)
            .map_err(graph_error)?;
        let selected = graph.select(&options.platforms).map_err(selection_error)?;
        if selected.iter().all(|m| m.is_attestation()) {
            return Err(ImportError::NothingComplete { image: label });
        }
        to_stage.extend(graph.indexes.iter().cloned());
        for m in &selected {
            if let Some(p) = &m.platform {
                check_platform(&label, &m.descriptor.digest, p)?;
            }
            to_stage.push(m.descriptor.clone());
            to_stage.extend(m.children.iter().cloned());
        }
        // Without a platform request, incomplete platforms are left out (as `docker load`
        // does), but said: a sparse archive should not look like a whole image.
        let skipped = graph
            .manifests
            .iter()
            .filter(|m| !m.is_attestation())
            .filter_map(|m| {
                let missing = match &m.availability {
                    Availability::Absent => m.descriptor.digest,
                    Availability::Partial { missing } => *missing.first()?,
                    Availability::Complete | Availability::NotExamined => return None,
                };
                Some(SkippedPlatform {
                    platform: m.platform.as_ref().map(Platform::normalize),
                    manifest: m.descriptor.digest,
                    missing,
                })
            })
            .collect();
        let mut target = entry.clone();
        target.annotations.remove(ANNOTATION_IMAGE_NAME);
        target.annotations.remove(ANNOTATION_REF_NAME);
        if target.media_type.is_empty() {
            target.media_type = match graph.is_single_manifest() {
                true => MEDIA_TYPE_OCI_MANIFEST.into(),
                false => MEDIA_TYPE_OCI_INDEX.into(),
            };
        }
        check_records(&target, &names)?;
        planned.push(Planned {
            target,
            names,
            generated_config: None,
            skipped,
            generated: None,
        });
    }
    check_index_room(catalog.store(), &planned)?;
    // A blob several platforms share is staged once.
    let mut seen = HashSet::new();
    to_stage.retain(|d| seen.insert(d.digest));
    catalog.planned(to_stage.iter().map(|d| d.size).sum());
    for d in to_stage {
        let path = catalog
            .blob_path(&d.digest)
            .ok_or_else(|| ImportError::MissingEntry {
                entry: oci::blob_path(&d.digest),
                needed_by: "a selected image".into(),
            })?;
        catalog.stage(&path, Some((d.digest, d.size)))?;
    }
    Ok(planned)
}

/// The name an `index.json` entry gives its image: `io.containerd.image.name`, else an
/// `org.opencontainers.image.ref.name` that is a full reference. A bare tag (`latest`), as
/// skopeo writes for `oci:DIR:TAG`, names no repository, so such an image is stored by digest.
fn entry_name(entry: &Descriptor) -> Result<Option<Reference>, ImportError> {
    let candidate = match (
        entry.annotations.get(ANNOTATION_IMAGE_NAME),
        entry.annotations.get(ANNOTATION_REF_NAME),
    ) {
        (Some(name), _) => name,
        (None, Some(r)) if r.contains(':') || r.contains('/') => r,
        _ => return Ok(None),
    };
    let reference = Reference::parse_normalized(candidate).map_err(|e| ImportError::BadName {
        name: candidate.clone(),
        reason: e.to_string(),
    })?;
    check_name_digest(&reference, &entry.digest)?;
    if reference.digest().is_some() && reference.tag().is_none() {
        // name@digest carries no tag to list the image under; the digest is the image.
        return Ok(None);
    }
    Ok(Some(reference.with_default_tag()))
}

/// A name that carries a digest (`name@sha256:…`) must carry the image's own: anything else
/// would list the image under a digest it does not have.
fn check_name_digest(name: &Reference, image: &Digest) -> Result<(), ImportError> {
    match name.digest() {
        Some(d) if d != image => Err(ImportError::BadName {
            name: name.to_string(),
            reason: format!("it names digest {d}, but the image's digest is {image}"),
        }),
        _ => Ok(()),
    }
}

/// Platform components must be what containerd's `platforms.Parse` accepts
/// (containerd/platforms platforms.go `specifierRe`, `^[A-Za-z0-9_.-]+$`), or the image could
/// be listed but never addressed: a variant `v9/../x` shows as `linux/arm/x`, and its mount
/// entry does not resolve. Empty fields are left to the rules that handled them before
/// (normalisation fills an empty OS); only characters are checked here.
fn check_platform(image: &str, manifest: &Digest, p: &Platform) -> Result<(), ImportError> {
    for (field, value) in [
        ("os", &p.os),
        ("architecture", &p.architecture),
        ("variant", &p.variant),
    ] {
        // `.` and `..` match the grammar but read as path steps wherever a platform is shown
        // as a path (`linux/arm/..`).
        let valid = value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && (value.is_empty() || !value.bytes().all(|b| b == b'.'));
        if !valid {
            return Err(ImportError::InvalidPlatform {
                image: image.to_string(),
                document: *manifest,
                field,
                value: value.clone(),
            });
        }
    }
    // The mount names each platform by a file name (`linux-arm-v7`); one that does not read
    // back as the same platform (a `-` or `..` inside a component) could be listed but never
    // opened, and would fail every backup of the mount.
    let normal = p.normalize();
    let name = normal.file_name();
    let back = Platform::from_file_name(&name).ok();
    let same = back.as_ref().is_some_and(|b| {
        (&b.os, &b.architecture, &b.variant) == (&normal.os, &normal.architecture, &normal.variant)
    });
    if !same {
        return Err(ImportError::UnnameablePlatform {
            image: image.to_string(),
            document: *manifest,
            platform: normal.format_all(),
            file_name: name,
        });
    }
    Ok(())
}

fn plan_docker_archive(
    catalog: &mut Catalog<'_>,
    options: &ImportOptions,
) -> Result<Vec<Planned>, ImportError> {
    let bytes = catalog.manifest_json.clone().expect("caller checked");
    let entries: Vec<LegacyManifestEntry> =
        oci::parse_document(&bytes).map_err(|source| ImportError::BadDocument {
            entry: oci::LEGACY_MANIFEST_FILE.into(),
            source,
        })?;
    if entries.is_empty() {
        return Err(ImportError::NoImages);
    }
    let find = |catalog: &Catalog<'_>, p: &str| {
        let cleaned = p.trim_start_matches("./");
        catalog
            .resolve(cleaned)
            .filter(|_| !cleaned.split('/').any(|c| c == ".."))
            .ok_or_else(|| ImportError::MissingEntry {
                entry: p.to_string(),
                needed_by: oci::LEGACY_MANIFEST_FILE.into(),
            })
    };
    // What will be staged, for progress; a path that does not resolve is reported below, in order.
    let mut files = HashSet::new();
    let total = entries
        .iter()
        .flat_map(|e| std::iter::once(&e.config).chain(e.layers.iter().flatten()))
        .filter_map(|p| find(catalog, p).ok())
        .filter(|path| files.insert(path.clone()))
        .filter_map(|path| catalog.size_of(&path))
        .sum();
    catalog.planned(total);
    let mut planned = Vec::new();
    for entry in &entries {
        let config_path = find(catalog, &entry.config)?;
        let config_bytes = catalog.read_file(&config_path, oci::MAX_DOCUMENT_SIZE)?;
        let config: ConfigPlatform =
            oci::parse_document(&config_bytes).map_err(|source| ImportError::BadDocument {
                entry: config_path.clone(),
                source,
            })?;
        let names: Vec<Option<Reference>> = match &entry.repo_tags {
            Some(tags) if !tags.is_empty() => tags
                .iter()
                .map(|t| {
                    Reference::parse_normalized(t)
                        .map(|r| Some(r.with_default_tag()))
                        .map_err(|e| ImportError::BadName {
                            name: t.clone(),
                            reason: e.to_string(),
                        })
                })
                .collect::<Result<_, _>>()?,
            _ => vec![None],
        };
        let label = names
            .iter()
            .flatten()
            .next()
            .map_or_else(|| config_path.clone(), |n| n.familiar_string());
        let image_platform = config.platform();
        check_platform(&label, &Digest::of(&config_bytes), &image_platform)?;
        for requested in &options.platforms {
            if !platform::matches_exact(requested, &image_platform) {
                return Err(ImportError::PlatformNotInArchive {
                    image: label,
                    requested: requested.clone(),
                    available: vec![image_platform.normalize()],
                });
            }
        }
        let config_digest = catalog.stage(&config_path, None)?;
        let config_desc = Descriptor::new(
            MEDIA_TYPE_DOCKER_CONFIG,
            config_digest,
            config_bytes.len() as u64,
        );
        let mut layers = Vec::new();
        for layer in entry.layers.iter().flatten() {
            let path = find(catalog, layer)?;
            let size = catalog.size_of(&path).expect("resolved paths are files");
            let mut magic = [0u8; 6];
            let n = magic.len().min(size as usize);
            catalog.read_range(&path, 0, &mut magic[..n])?;
            let media_type = match Compression::sniff(&magic[..n]) {
                Compression::Gzip => MEDIA_TYPE_DOCKER_LAYER_GZIP,
                Compression::Zstd => MEDIA_TYPE_DOCKER_LAYER_ZSTD,
                _ => MEDIA_TYPE_DOCKER_LAYER,
            };
            let digest = catalog.stage(&path, None)?;
            layers.push(Descriptor::new(media_type, digest, size));
        }
        let manifest = oci::encode_manifest(MEDIA_TYPE_DOCKER_MANIFEST, &config_desc, &layers);
        // What we generate must read back under the limits every reader applies (a `Layers`
        // list repeating one layer 200,000 times makes a 30 MB manifest, unreadable once stored).
        oci::check_document_shape(&manifest).map_err(|source| ImportError::BadDocument {
            entry: format!("manifest generated for image {label} from manifest.json"),
            source,
        })?;
        let mut target = Descriptor::new(
            MEDIA_TYPE_DOCKER_MANIFEST,
            Digest::of(&manifest),
            manifest.len() as u64,
        );
        target.platform = Some(image_platform.clone());
        for name in names.iter().flatten() {
            check_name_digest(name, &target.digest)?;
        }
        check_records(&target, &names)?;
        planned.push(Planned {
            generated_config: Some(config_desc.digest),
            target,
            names,
            skipped: Vec::new(),
            generated: Some(manifest),
        });
    }
    check_index_room(catalog.store(), &planned)?;
    Ok(planned)
}

/// The record `load` will write for `name` (as `record` builds it).
fn record_for(target: &Descriptor, name: Option<&Reference>) -> ImageRecord {
    match name {
        Some(name) => ImageRecord::named(target.clone(), name),
        None => ImageRecord::unnamed(target.clone()),
    }
}

/// Every record an image would add must fit the store's per-record cap; checked while planning,
/// so an over-limit archive publishes nothing.
fn check_records(target: &Descriptor, names: &Naming) -> Result<(), ImportError> {
    for name in names {
        record_for(target, name.as_ref()).check_size()?;
    }
    Ok(())
}

/// The store's `index.json` must stay under its cap. Measured against the current list: a name
/// already listed replaces its record, an image already listed adds no unnamed one, so a
/// re-import (of a whole backup, say) is never refused for records it only rewrites.
/// `update_images` checks the exact list again under the lock.
fn check_index_room(store: &Store, planned: &[Planned]) -> Result<(), ImportError> {
    let current = store.images()?;
    let size = |r: &ImageRecord| r.encoded_size() + 1;
    let mut total: u64 = current.iter().map(size).sum();
    let mut named: HashMap<String, u64> = HashMap::new();
    let mut listed: HashSet<Digest> = HashSet::new();
    for r in &current {
        listed.insert(r.target.digest);
        if let Some(n) = r.name() {
            named.insert(n.to_string(), size(r));
        }
    }
    let mut first = None;
    for p in planned {
        for name in &p.names {
            let record = record_for(&p.target, name.as_ref());
            let new = size(&record);
            let old = match name {
                Some(n) => named.insert(n.to_string(), new),
                None if listed.contains(&p.target.digest) => Some(new),
                None => None,
            };
            listed.insert(p.target.digest);
            total = (total + new).saturating_sub(old.unwrap_or(0));
            first.get_or_insert_with(|| record.label());
        }
    }
    if total > MAX_INDEX_SIZE {
        return Err(StoreError::IndexTooLarge {
            image: first,
            size: total,
            limit: MAX_INDEX_SIZE,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
