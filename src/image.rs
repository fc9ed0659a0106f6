//! Images as graphs of stored documents: which platform manifests an image lists, which of them
//! the store holds completely, how a platform request selects among them, and how a REF given by a
//! user names images in the store.
//!
//! Knows descriptors and platforms; reads through `Store`; knows nothing of tar or FUSE.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt;

use crate::digest::Digest;
use crate::oci::{
    self, ANNOTATION_REFERENCE_DIGEST, ConfigPlatform, Descriptor, DocumentKind, Index, Manifest,
};
use crate::platform::{self, Only, Platform, format_platforms};
use crate::reference::{self, AnyReference, Reference};
use crate::store::{ImageRecord, Store, StoreError};

/// Nested indexes deeper than this are treated as broken (a cycle cannot occur with content
/// addressing, but a hostile document can still nest absurdly).
const MAX_INDEX_DEPTH: usize = 8;
/// Distinct documents (indexes and manifests) one image may list. Real images have a few
/// dozen; the bound keeps a hostile index from making every walk of it expensive.
const MAX_DOCUMENTS: usize = 10_000;

/// Where an image graph's documents come from: the store, or an archive being imported. `Error`
/// is what reading it fails with; a walk over the source fails with [`ImageError<Self::Error>`].
pub trait ContentSource {
    type Error;
    /// Whether the blob is present with the descriptor's size.
    fn has(&self, d: &Descriptor) -> Result<bool, Self::Error>;
    /// A present document within [`oci::MAX_DOCUMENT_SIZE`], verified against its digest;
    /// `None` when absent or larger than any document we parse.
    fn read_document(&self, d: &Descriptor) -> Result<Option<Vec<u8>>, Self::Error>;
}

impl ContentSource for Store {
    type Error = StoreError;

    fn has(&self, d: &Descriptor) -> Result<bool, StoreError> {
        Ok(self.has_descriptor(d))
    }

    fn read_document(&self, d: &Descriptor) -> Result<Option<Vec<u8>>, StoreError> {
        match self.read_document_if_small(d) {
            // Absent, or not the size the descriptor says: not present, as `has` answers.
            Err(StoreError::BlobMissing { .. } | StoreError::SizeMismatch { .. }) => Ok(None),
            Ok(bytes) => Ok(bytes),
            // Listed, so that a new variant decides whether it means "absent".
            Err(
                e @ (StoreError::Io { .. }
                | StoreError::DigestMismatch { .. }
                | StoreError::CorruptDocument { .. }
                | StoreError::RecordTooLarge { .. }
                | StoreError::IndexTooLarge { .. }
                | StoreError::LayerIndexTooLarge { .. }
                | StoreError::UnsupportedLayout { .. }
                | StoreError::Symlink { .. }
                | StoreError::ReadOnly { .. }
                | StoreError::Busy { .. }),
            ) => Err(e),
        }
    }
}

/// Why a platform request selects no single manifest of an image.
#[derive(Debug)]
pub enum SelectError {
    /// A requested platform is not among the image's complete platforms.
    PlatformNotFound {
        image: String,
        requested: Platform,
        available: Vec<Platform>,
    },
    /// The image lists the platform but the store lacks some of its blobs.
    PlatformIncomplete {
        image: String,
        requested: Platform,
        missing: Digest,
        available: Vec<Platform>,
    },
    /// More than one manifest matches a single requested platform.
    AmbiguousPlatform {
        image: String,
        requested: Platform,
        digests: Vec<Digest>,
    },
}

/// Why an image could not be walked, a platform selected, or a REF resolved. `E` is what the
/// content source fails with: [`StoreError`] for the store (the default), the importer's own
/// error for an archive being imported.
#[derive(Debug)]
pub enum ImageError<E = StoreError> {
    /// Reading the content source failed.
    Source(E),
    /// A stored document does not parse as the kind its descriptor says.
    BadDocument {
        digest: Digest,
        source: oci::DocumentError,
    },
    /// Indexes nested deeper than [`MAX_INDEX_DEPTH`].
    TooDeep { digest: Digest },
    /// An image listing more than [`MAX_DOCUMENTS`] distinct manifests and indexes.
    TooManyDocuments { image: String },
    /// The image's top-level document is not in the store.
    TargetMissing { image: String, digest: Digest },
    /// A platform request that selects no single manifest.
    Select(SelectError),
    /// A REF that names no image in the store.
    /// No image has this name or ID; `nearest` is a stored name a typo away, if any.
    NoSuchImage {
        query: String,
        nearest: Option<String>,
    },
    /// A REF that is no stored name but begins the digests of several images (Docker's
    /// "ambiguous reference").
    AmbiguousImageId { query: String, digests: Vec<Digest> },
    /// A REF that is neither a reference nor a digest.
    BadReference { query: String, reason: String },
}

impl<E: fmt::Display> fmt::Display for ImageError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Source(e) => write!(f, "{e}"),
            Self::BadDocument { digest, .. } => write!(f, "stored document {digest} is invalid"),
            Self::TooManyDocuments { image } => {
                write!(
                    f,
                    "image {image} lists more than {MAX_DOCUMENTS} manifests and indexes"
                )
            }
            Self::TooDeep { digest } => {
                write!(
                    f,
                    "index {digest} nests indexes deeper than {MAX_INDEX_DEPTH} levels"
                )
            }
            Self::TargetMissing { image, digest } => {
                write!(
                    f,
                    "image {image}: its top-level document {digest} is not in the store"
                )
            }
            Self::Select(e) => write!(f, "{e}"),
            Self::NoSuchImage { query, nearest } => {
                write!(f, "no such image: {query}")?;
                match nearest {
                    Some(n) => write!(f, "; did you mean {n}?"),
                    None => Ok(()),
                }
            }
            Self::AmbiguousImageId { query, digests } => write!(
                f,
                "ambiguous image ID {query:?}: it begins {} image digests ({}); give more digits",
                digests.len(),
                digests
                    .iter()
                    .map(Digest::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::BadReference { query, reason } => {
                write!(f, "invalid reference {query:?}: {reason}")
            }
        }
    }
}

impl<E: fmt::Display> ImageError<E> {
    /// The error's text for a reader who already knows which image it is about (`fsck` prints
    /// it after `image NAME:`, once under each name): the variants that carry the image's name
    /// leave it out; the others read as their `Display`.
    pub fn without_image(&self) -> String {
        match self {
            Self::TargetMissing { digest, .. } => {
                format!("its top-level document {digest} is not in the store")
            }
            Self::TooManyDocuments { .. } => {
                format!("it lists more than {MAX_DOCUMENTS} manifests and indexes")
            }
            Self::Source(_)
            | Self::BadDocument { .. }
            | Self::TooDeep { .. }
            | Self::Select(_)
            | Self::NoSuchImage { .. }
            | Self::AmbiguousImageId { .. }
            | Self::BadReference { .. } => self.to_string(),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ImageError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Display already wrote the source's own text; continue with what it wraps.
            Self::Source(e) => e.source(),
            Self::BadDocument { source, .. } => Some(source),
            Self::TooDeep { .. }
            | Self::TooManyDocuments { .. }
            | Self::TargetMissing { .. }
            | Self::Select(_)
            | Self::NoSuchImage { .. }
            | Self::AmbiguousImageId { .. }
            | Self::BadReference { .. } => None,
        }
    }
}

impl<E> ImageError<E> {
    /// `query` names none of `images`; suggests the stored name nearest to it, if a typo away.
    pub fn no_such_image(query: &str, images: &[ImageRecord]) -> ImageError<E> {
        // Each name as users type it, with its tag and without (`alpnie` → `alpine`).
        let names: Vec<String> = images
            .iter()
            .filter_map(|r| r.name())
            .flat_map(|n| [n.familiar_string(), n.familiar_name()])
            .collect();
        let nearest = crate::suggest::nearest(query, names.iter().map(String::as_str));
        ImageError::NoSuchImage {
            query: query.to_string(),
            nearest: nearest.map(str::to_string),
        }
    }

    /// The content source's own failure (`Err`), or else this error, which then holds none: for
    /// a caller whose source errors are already its own (an importer reading an archive).
    pub fn split_source(self) -> Result<ImageError<Infallible>, E> {
        Ok(match self {
            ImageError::Source(e) => return Err(e),
            ImageError::BadDocument { digest, source } => {
                ImageError::BadDocument { digest, source }
            }
            ImageError::TooDeep { digest } => ImageError::TooDeep { digest },
            ImageError::TooManyDocuments { image } => ImageError::TooManyDocuments { image },
            ImageError::TargetMissing { image, digest } => {
                ImageError::TargetMissing { image, digest }
            }
            ImageError::Select(e) => ImageError::Select(e),
            ImageError::NoSuchImage { query, nearest } => {
                ImageError::NoSuchImage { query, nearest }
            }
            ImageError::AmbiguousImageId { query, digests } => {
                ImageError::AmbiguousImageId { query, digests }
            }
            ImageError::BadReference { query, reason } => {
                ImageError::BadReference { query, reason }
            }
        })
    }
}

impl From<StoreError> for ImageError {
    fn from(e: StoreError) -> ImageError {
        ImageError::Source(e)
    }
}

impl<E> From<SelectError> for ImageError<E> {
    fn from(e: SelectError) -> ImageError<E> {
        ImageError::Select(e)
    }
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PlatformNotFound {
                image,
                requested,
                available,
            } => write!(
                f,
                "image {image} does not provide platform {}; it has: {}{}",
                requested.format_all(),
                format_platforms(available),
                requested.did_you_mean(available)
            ),
            Self::PlatformIncomplete {
                image,
                requested,
                missing,
                available,
            } => write!(
                f,
                "image {image} holds platform {} incompletely (blob {missing} is missing); complete platforms: {}",
                requested.format_all(),
                format_platforms(available)
            ),
            Self::AmbiguousPlatform {
                image,
                requested,
                digests,
            } => write!(
                f,
                "image {image} has {} manifests for platform {}: {}",
                digests.len(),
                requested.format_all(),
                digests
                    .iter()
                    .map(Digest::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl std::error::Error for SelectError {}

/// How much of a manifest's closure the store holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    /// Manifest, config and every layer are present.
    Complete,
    /// The manifest is present, these children are not.
    Partial { missing: Vec<Digest> },
    /// The manifest itself is absent.
    Absent,
    /// Present, but not read because its platform was not requested.
    NotExamined,
}

/// Which children of an index to read for `requested` platforms: all when none are requested;
/// else those whose listed platform matches (or is not listed, so only the config can tell),
/// nested indexes, and attestations of wanted children.
fn wanted_children(children: &[Descriptor], requested: &[Platform]) -> Vec<bool> {
    if requested.is_empty() {
        return vec![true; children.len()];
    }
    let direct: Vec<bool> = children
        .iter()
        .map(|c| {
            if c.is_attestation() {
                return false;
            }
            match &c.platform {
                None => true,
                Some(p) => requested.iter().any(|r| platform::matches_exact(r, p)),
            }
        })
        .collect();
    let wanted_digests: BTreeSet<Digest> = children
        .iter()
        .zip(&direct)
        .filter(|(_, w)| **w)
        .map(|(c, _)| c.digest)
        .collect();
    children
        .iter()
        .zip(direct)
        .map(|(c, w)| {
            w || (c.is_attestation()
                && c.annotations
                    .get(ANNOTATION_REFERENCE_DIGEST)
                    .and_then(|s| s.parse::<Digest>().ok())
                    .is_some_and(|s| wanted_digests.contains(&s)))
        })
        .collect()
}

/// A platform manifest reachable from an image's top-level document.
#[derive(Clone, Debug)]
pub struct PlatformManifest {
    /// The descriptor as listed by its parent index (or the image's target).
    pub descriptor: Descriptor,
    /// From the descriptor, else from the config; `None` when neither is readable.
    pub platform: Option<Platform>,
    pub availability: Availability,
    /// The config and layers, when the manifest is present.
    pub children: Vec<Descriptor>,
    /// The config's `created` time, when readable.
    pub created: Option<String>,
}

impl PlatformManifest {
    pub fn is_complete(&self) -> bool {
        self.availability == Availability::Complete
    }

    pub fn is_attestation(&self) -> bool {
        self.descriptor.is_attestation()
    }

    /// For an attestation manifest, the digest of the manifest it describes.
    pub fn attests(&self) -> Option<Digest> {
        self.descriptor
            .annotations
            .get(ANNOTATION_REFERENCE_DIGEST)?
            .parse()
            .ok()
    }
}

/// An image's graph as far as the store holds it.
#[derive(Clone, Debug)]
pub struct ImageGraph {
    /// How the image is called in messages: its name, else its digest.
    pub label: String,
    pub target: Descriptor,
    /// Present indexes reachable from the target (the target first when it is an index).
    pub indexes: Vec<Descriptor>,
    /// Leaf manifests in walk order, attestations included.
    pub manifests: Vec<PlatformManifest>,
}

impl ImageGraph {
    /// Walks the image whose top-level descriptor is `target`.
    pub fn load<S: ContentSource + ?Sized>(
        store: &S,
        label: &str,
        target: &Descriptor,
    ) -> Result<ImageGraph, ImageError<S::Error>> {
        ImageGraph::load_selective(store, label, target, &[])
    }

    /// Like [`ImageGraph::load`], but manifests whose index entry names a platform outside
    /// `requested` are not read (they are recorded as [`Availability::NotExamined`]), so that a
    /// broken blob of a platform nobody asked for cannot fail the walk. Empty `requested`
    /// examines everything.
    pub fn load_selective<S: ContentSource + ?Sized>(
        store: &S,
        label: &str,
        target: &Descriptor,
        requested: &[Platform],
    ) -> Result<ImageGraph, ImageError<S::Error>> {
        if !store.has(target).map_err(ImageError::Source)? {
            return Err(ImageError::TargetMissing {
                image: label.to_string(),
                digest: target.digest,
            });
        }
        let mut graph = ImageGraph {
            label: label.to_string(),
            target: target.clone(),
            indexes: Vec::new(),
            manifests: Vec::new(),
        };
        graph.walk(store, target, 0, requested, true, &mut BTreeSet::new())?;
        Ok(graph)
    }

    /// Loads the graph of a store record.
    pub fn of_record(store: &Store, record: &ImageRecord) -> Result<ImageGraph, ImageError> {
        let label = match record.name() {
            Some(n) => n.to_string(),
            None => record.target.digest.to_string(),
        };
        ImageGraph::load(store, &label, &record.bare_target())
    }

    fn walk<S: ContentSource + ?Sized>(
        &mut self,
        store: &S,
        d: &Descriptor,
        depth: usize,
        requested: &[Platform],
        examine: bool,
        visited: &mut BTreeSet<Digest>,
    ) -> Result<(), ImageError<S::Error>> {
        // An index may list a child many times (or two indexes the same child): content
        // addressing makes every repeat the same document, so each is walked once.
        if !visited.insert(d.digest) {
            return Ok(());
        }
        if visited.len() > MAX_DOCUMENTS {
            return Err(ImageError::TooManyDocuments {
                image: self.label.clone(),
            });
        }
        if !examine {
            let present = store.has(d).map_err(ImageError::Source)?;
            self.manifests.push(PlatformManifest {
                descriptor: d.clone(),
                platform: d.platform.clone(),
                availability: if present {
                    Availability::NotExamined
                } else {
                    Availability::Absent
                },
                children: Vec::new(),
                created: None,
            });
            return Ok(());
        }
        let mut kind = d.kind();
        let bytes = store.read_document(d).map_err(ImageError::Source)?;
        if kind == DocumentKind::Leaf {
            // Older tools leave mediaType out of descriptors; look at the document itself.
            kind = bytes
                .as_deref()
                .map(oci::sniff_kind)
                .unwrap_or(DocumentKind::Manifest);
        }
        match kind {
            DocumentKind::Index => {
                let Some(bytes) = bytes else { return Ok(()) };
                if depth >= MAX_INDEX_DEPTH {
                    return Err(ImageError::TooDeep { digest: d.digest });
                }
                let index: Index =
                    oci::parse_document(&bytes).map_err(|source| ImageError::BadDocument {
                        digest: d.digest,
                        source,
                    })?;
                self.indexes.push(d.clone());
                let wanted = wanted_children(&index.manifests, requested);
                for (child, examine) in index.manifests.iter().zip(wanted) {
                    self.walk(store, child, depth + 1, requested, examine, visited)?;
                }
            }
            DocumentKind::Manifest | DocumentKind::Leaf => {
                let manifest = self.describe_manifest(store, d, bytes)?;
                self.manifests.push(manifest);
            }
        }
        Ok(())
    }

    fn describe_manifest<S: ContentSource + ?Sized>(
        &self,
        store: &S,
        d: &Descriptor,
        bytes: Option<Vec<u8>>,
    ) -> Result<PlatformManifest, ImageError<S::Error>> {
        let Some(bytes) = bytes else {
            return Ok(PlatformManifest {
                descriptor: d.clone(),
                platform: d.platform.clone(),
                availability: Availability::Absent,
                children: Vec::new(),
                created: None,
            });
        };
        let manifest: Manifest =
            oci::parse_document(&bytes).map_err(|source| ImageError::BadDocument {
                digest: d.digest,
                source,
            })?;
        let children: Vec<Descriptor> = manifest.children().cloned().collect();
        let mut missing = Vec::new();
        for c in &children {
            if !store.has(c).map_err(ImageError::Source)? {
                missing.push(c.digest);
            }
        }
        let config = store
            .read_document(&manifest.config)
            .map_err(ImageError::Source)?
            .and_then(|b| oci::parse_document::<ConfigPlatform>(&b).ok());
        let platform = d
            .platform
            .clone()
            .or_else(|| config.as_ref().map(ConfigPlatform::platform));
        Ok(PlatformManifest {
            descriptor: d.clone(),
            platform,
            availability: if missing.is_empty() {
                Availability::Complete
            } else {
                Availability::Partial { missing }
            },
            children,
            created: config.and_then(|c| c.created),
        })
    }

    /// True when the image's target is a single manifest rather than an index.
    pub fn is_single_manifest(&self) -> bool {
        self.indexes.is_empty()
    }

    /// The platforms the store holds completely (attestations aside), in walk order, deduplicated.
    pub fn available_platforms(&self) -> Vec<Platform> {
        let mut seen = BTreeSet::new();
        self.manifests
            .iter()
            .filter(|m| {
                !m.is_attestation()
                    && matches!(
                        m.availability,
                        Availability::Complete | Availability::NotExamined
                    )
            })
            .filter_map(|m| m.platform.as_ref())
            .map(Platform::normalize)
            .filter(|p| seen.insert(p.clone()))
            .collect()
    }

    /// The complete manifest for exactly `requested` (containerd `OnlyStrict`), attestations
    /// excluded, as `docker save --platform` with one platform chooses it.
    pub fn select_one(&self, requested: &Platform) -> Result<&PlatformManifest, SelectError> {
        let matching: Vec<&PlatformManifest> = self
            .manifests
            .iter()
            .filter(|m| !m.is_attestation())
            .filter(|m| {
                m.platform
                    .as_ref()
                    .is_some_and(|p| platform::matches_exact(requested, p))
            })
            .collect();
        let complete: Vec<&PlatformManifest> = matching
            .iter()
            .copied()
            .filter(|m| m.is_complete())
            .collect();
        match complete.as_slice() {
            [one] => Ok(one),
            [] => match matching.iter().find_map(|m| match &m.availability {
                Availability::Partial { missing } => missing.first().copied(),
                Availability::Absent | Availability::Complete | Availability::NotExamined => None,
            }) {
                Some(missing) => Err(SelectError::PlatformIncomplete {
                    image: self.label.clone(),
                    requested: requested.clone(),
                    missing,
                    available: self.available_platforms(),
                }),
                None => Err(SelectError::PlatformNotFound {
                    image: self.label.clone(),
                    requested: requested.clone(),
                    available: self.available_platforms(),
                }),
            },
            many => Err(SelectError::AmbiguousPlatform {
                image: self.label.clone(),
                requested: requested.clone(),
                digests: many.iter().map(|m| m.descriptor.digest).collect(),
            }),
        }
    }

    /// The manifests to carry for `requested` platforms: with none, every complete manifest;
    /// otherwise one complete manifest per platform (strict: each must exist), plus the complete
    /// attestation manifests of the selected ones.
    pub fn select(&self, requested: &[Platform]) -> Result<Vec<&PlatformManifest>, SelectError> {
        if requested.is_empty() {
            return Ok(self.manifests.iter().filter(|m| m.is_complete()).collect());
        }
        let mut chosen: BTreeSet<Digest> = BTreeSet::new();
        for p in requested {
            chosen.insert(self.select_one(p)?.descriptor.digest);
        }
        let attestations: Vec<Digest> = self
            .manifests
            .iter()
            .filter(|m| m.is_attestation() && m.is_complete())
            .filter(|m| m.attests().is_some_and(|s| chosen.contains(&s)))
            .map(|m| m.descriptor.digest)
            .collect();
        chosen.extend(attestations);
        let mut seen = BTreeSet::new();
        Ok(self
            .manifests
            .iter()
            .filter(|m| chosen.contains(&m.descriptor.digest) && seen.insert(m.descriptor.digest))
            .collect())
    }

    /// Among `candidates`, the one `manifest.json` should describe: the host platform's best
    /// match (`Only(host)`'s `Less`: vector order, then more OS features), never an attestation;
    /// the first of equals, as a stable sort would leave it.
    pub fn preferred<'a>(candidates: &[&'a PlatformManifest]) -> Option<&'a PlatformManifest> {
        let host = Only::host();
        let mut best: Option<&PlatformManifest> = None;
        for m in candidates
            .iter()
            .copied()
            .filter(|m| !m.is_attestation() && m.is_complete())
        {
            let better = match (best.map(|b| &b.platform), &m.platform) {
                (None, _) => true,
                // Children without a platform go last, as in containerd's stable sort.
                (Some(None), Some(_)) => true,
                (Some(Some(b)), Some(p)) => host.less(p, b),
                (Some(_), None) => false,
            };
            if better {
                best = Some(m);
            }
        }
        best
    }
}

/// What a user's REF asks for.
///
/// The forms and their order follow Docker's `docker image` commands (moby
/// daemon/containerd/image.go `resolveImage`, which parses with distribution/reference
/// `ParseAnyReference`): 64 lowercase hex digits alone are an image ID; `sha256:<64 hex>` is a
/// digest; anything else is a name, and a name that could also be a truncated ID (4 to 63
/// lowercase hex digits, with or without `sha256:`; moby `checkTruncatedID`) names the image
/// stored under that name if there is one, else the one image whose digest begins with them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageQuery {
    /// `sha256:<hex>` or `<64 hex>`: the image with that top-level digest, whatever its names.
    Digest(Digest),
    /// `name@sha256:<hex>`: that image, only if stored under that repository.
    NamedDigest {
        repository: Reference,
        digest: Digest,
    },
    /// `name:tag` (or `name`, which means `name:latest` for single-image commands).
    Tagged(Reference),
    /// `name` for commands that take every tag of a repository (`export`, like `docker save`).
    Repository(Reference),
    /// A name (`Tagged` or `Repository`) spelled like a truncated image ID, e.g. `3f2a9c` or
    /// `sha256:3f2a9c`; `prefix` is its hex digits.
    NameOrIdPrefix {
        name: Box<ImageQuery>,
        prefix: String,
    },
}

/// Shortest digest prefix taken as an image ID (moby `checkTruncatedID`: `[a-f0-9]{4,64}`).
const MIN_ID_PREFIX: usize = 4;

impl ImageQuery {
    /// Parses a REF. `whole_repository` makes a bare name mean every tag (Docker's save rule).
    pub fn parse(query: &str, whole_repository: bool) -> Result<ImageQuery, ImageError> {
        let bad = |e: crate::reference::ParseReferenceError| ImageError::BadReference {
            query: query.to_string(),
            reason: e.to_string(),
        };
        let reference = match reference::parse_any(query).map_err(bad)? {
            AnyReference::Digest(d) => return Ok(ImageQuery::Digest(d)),
            AnyReference::Named(reference) => reference,
        };
        let named = match (reference.digest(), reference.is_name_only()) {
            (Some(d), _) => {
                return Ok(ImageQuery::NamedDigest {
                    repository: reference.without_tag_and_digest(),
                    digest: *d,
                });
            }
            (None, true) if whole_repository => ImageQuery::Repository(reference),
            (None, _) => ImageQuery::Tagged(reference.with_default_tag()),
        };
        let hex = query.strip_prefix("sha256:").unwrap_or(query);
        Ok(if hex.len() >= MIN_ID_PREFIX && is_lowercase_hex(hex) {
            ImageQuery::NameOrIdPrefix {
                name: Box::new(named),
                prefix: hex.to_string(),
            }
        } else {
            named
        })
    }

    /// The store records this query names; an error if none, or if an ID prefix is ambiguous.
    pub fn find(&self, store: &Store, query: &str) -> Result<Vec<ImageRecord>, ImageError> {
        let images = store.images()?;
        let resolved = self.resolve_in(&images, query)?;
        let found: Vec<ImageRecord> = images
            .iter()
            .filter(|r| resolved.matches(r))
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(ImageError::no_such_image(query, &images));
        }
        Ok(match resolved {
            // Several names may share a digest; a digest query means the one image, unnamed
            // (as `docker save` of a digest strips names).
            ImageQuery::Digest(_) | ImageQuery::NamedDigest { .. } => found
                .into_iter()
                .take(1)
                .map(|r| ImageRecord::unnamed(r.target))
                .collect(),
            ImageQuery::Tagged(_)
            | ImageQuery::Repository(_)
            | ImageQuery::NameOrIdPrefix { .. } => found,
        })
    }

    /// This query with an ID prefix decided against the store's current images: the name if
    /// any image has it (a name wins, as in Docker), else the digest of the one image the
    /// prefix begins. Other queries are returned as they are. Call it before [`Self::matches`].
    pub fn resolve(&self, store: &Store, query: &str) -> Result<ImageQuery, ImageError> {
        self.resolve_in(&store.images()?, query)
    }

    /// [`Self::resolve`] against a list already read (many REFs, one read of the store).
    pub fn resolve_in(
        &self,
        images: &[ImageRecord],
        query: &str,
    ) -> Result<ImageQuery, ImageError> {
        let ImageQuery::NameOrIdPrefix { name, prefix } = self else {
            return Ok(self.clone());
        };
        if images.iter().any(|r| name.matches(r)) {
            return Ok((**name).clone());
        }
        let digests: BTreeSet<Digest> = images
            .iter()
            .map(|r| r.target.digest)
            .filter(|d| d.hex().starts_with(prefix.as_str()))
            .collect();
        match digests.len() {
            0 => Err(ImageError::no_such_image(query, images)),
            1 => Ok(ImageQuery::Digest(*digests.first().expect("one digest"))),
            _ => Err(ImageError::AmbiguousImageId {
                query: query.to_string(),
                digests: digests.into_iter().collect(),
            }),
        }
    }

    /// Whether `record` is one of the images this query names. An unresolved
    /// [`ImageQuery::NameOrIdPrefix`] matches by name only; see [`Self::resolve`].
    pub fn matches(&self, record: &ImageRecord) -> bool {
        let repository = || record.name().map(|n| n.without_tag_and_digest());
        match self {
            ImageQuery::Digest(d) => record.target.digest == *d,
            ImageQuery::NamedDigest {
                repository: want,
                digest,
            } => record.target.digest == *digest && repository().as_ref() == Some(want),
            ImageQuery::Tagged(want) => record.name().as_ref() == Some(want),
            ImageQuery::Repository(want) => repository().as_ref() == Some(want),
            ImageQuery::NameOrIdPrefix { name, .. } => name.matches(record),
        }
    }
}

/// moby `checkTruncatedID`'s alphabet.
fn is_lowercase_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests;
