//! `ExportError` and `ImportError`: why an export or an import failed, naming the entry, blob or
//! platform at fault.

use std::convert::Infallible;
use std::fmt;
use std::io;

use crate::digest::Digest;
use crate::image::{ImageError, SelectError};
use crate::oci::DocumentError;
use crate::platform::{Platform, format_platforms};
use crate::store::StoreError;

/// Why an export failed: planning it (the images and platforms asked for), or writing it.
#[derive(Debug)]
pub enum ExportError {
    Store(StoreError),
    Image(ImageError),
    /// Writing the exported archive failed (a closed pipe, a full disk).
    Output(io::Error),
    /// Reading a stored blob failed during export.
    BlobRead {
        digest: Digest,
        source: io::Error,
    },
    /// A stored blob no longer hashes to its name (`found` is `None` when it got shorter).
    BlobChanged {
        digest: Digest,
        found: Option<Digest>,
    },
    /// The thread that re-hashes blobs while they are copied could not be started.
    HasherThread {
        digest: Digest,
        source: io::Error,
    },
}

/// Why an import failed, naming the entry, blob or platform of the archive at fault; the store
/// is as it was.
#[derive(Debug)]
pub enum ImportError {
    Store(StoreError),
    /// An image graph of the archive is malformed (a document that does not parse, nesting too
    /// deep, too many documents) or a platform request is ambiguous. Reading the archive fails
    /// with this error's own variants, so the graph's source error cannot occur.
    Image(ImageError<Infallible>),
    /// Reading the input failed.
    Input(io::Error),
    /// The input holds no tar entries at all.
    EmptyArchive,
    /// More entries than any image archive has.
    TooManyEntries {
        limit: usize,
    },
    /// Entry paths and link targets add up to more than any image archive needs.
    NamesTooLarge {
        limit: usize,
    },
    /// The tar stream is malformed (bad header, bad checksum, …).
    MalformedTar {
        entry: Option<String>,
        source: io::Error,
    },
    /// A tar header that is not one, or meta entries that make no sense; `after` is the member
    /// read before it (`None`: the first header).
    BadHeader {
        after: Option<String>,
        reason: String,
    },
    /// A GNU long name/link or PAX header over its cap (refused before it is read).
    MetaEntryTooLarge {
        after: Option<String>,
        kind: &'static str,
        size: u64,
        limit: u64,
    },
    /// The input ended before the archive did.
    Truncated {
        entry: Option<String>,
    },
    /// An entry path that is absolute, has `..` components, or is otherwise unusable.
    UnsafePath {
        entry: String,
        reason: &'static str,
    },
    /// A symlink or hard link whose target leaves the archive.
    LinkEscapes {
        entry: String,
        target: String,
    },
    /// A device, fifo or other special entry, which no image archive contains.
    SpecialEntry {
        entry: String,
        kind: &'static str,
    },
    /// A metadata file (`index.json`, `manifest.json`, `oci-layout`) appears twice.
    DuplicateEntry {
        entry: String,
    },
    /// A metadata file or document that does not parse.
    BadDocument {
        entry: String,
        source: DocumentError,
    },
    /// `oci-layout` names a version we do not understand.
    UnsupportedLayout {
        version: String,
    },
    /// Neither an OCI layout (`oci-layout` + `index.json`) nor a docker-archive (`manifest.json`).
    UnrecognizedFormat,
    /// A file the archive's metadata refers to is not in the archive.
    MissingEntry {
        entry: String,
        needed_by: String,
    },
    /// A blob the selected images need is not in the archive.
    MissingBlob {
        image: String,
        digest: Digest,
        role: &'static str,
    },
    /// An entry's content does not hash to the digest it is stored or referenced under.
    DigestMismatch {
        entry: String,
        expected: Digest,
        found: Digest,
    },
    /// An entry's length differs from the size its descriptor states.
    SizeMismatch {
        entry: String,
        digest: Digest,
        expected: u64,
        found: u64,
    },
    /// A requested platform that an image in the archive does not provide completely.
    PlatformNotInArchive {
        image: String,
        requested: Platform,
        available: Vec<Platform>,
    },
    /// An image in the archive of which no platform is complete.
    NothingComplete {
        image: String,
    },
    /// A name in the archive that is not a valid image reference.
    BadName {
        name: String,
        reason: String,
    },
    /// A platform field that containerd's platform parser would refuse.
    InvalidPlatform {
        image: String,
        /// The manifest (OCI) or config (docker-archive) the platform comes from.
        document: Digest,
        field: &'static str,
        value: String,
    },
    /// A platform whose file name under the mount's `by-platform/` would not read back as it.
    UnnameablePlatform {
        image: String,
        document: Digest,
        platform: String,
        file_name: String,
    },
    /// The archive holds no image to load.
    NoImages,
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Wrapped errors speak for themselves; `source()` continues their chain.
            Self::Store(e) => write!(f, "{e}"),
            Self::Image(e) => write!(f, "{e}"),
            Self::Output(_) => write!(f, "cannot write the archive"),
            Self::BlobRead { digest, .. } => write!(f, "cannot read blob {digest}"),
            Self::BlobChanged {
                digest,
                found: Some(found),
            } => {
                write!(
                    f,
                    "stored blob {digest} is corrupt: its content hashes to {found}"
                )
            }
            Self::BlobChanged {
                digest,
                found: None,
            } => {
                write!(
                    f,
                    "stored blob {digest} is corrupt: it is shorter than its size"
                )
            }
            Self::HasherThread { digest, .. } => {
                write!(f, "cannot start the thread that verifies blob {digest}")
            }
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entry_or = |e: &Option<String>| e.clone().unwrap_or_else(|| "tar header".into());
        match self {
            // Wrapped errors speak for themselves; `source()` continues their chain.
            Self::Store(e) => write!(f, "{e}"),
            Self::Image(e) => write!(f, "{e}"),
            Self::Input(_) => write!(f, "cannot read the input"),
            Self::EmptyArchive => write!(f, "empty archive: the input contains no tar entries"),
            Self::TooManyEntries { limit } => {
                write!(
                    f,
                    "archive has more than {limit} entries; no image archive is that large"
                )
            }
            Self::NamesTooLarge { limit } => write!(
                f,
                "archive entry paths and link targets add up to more than {limit} bytes; \
                 no image archive is that large"
            ),
            Self::MalformedTar { entry, .. } => {
                write!(f, "malformed tar archive at {}", entry_or(entry))
            }
            Self::BadHeader { after, reason } => {
                write!(f, "malformed tar archive: {reason}, ")?;
                write_header_place(f, after)
            }
            Self::MetaEntryTooLarge {
                after,
                kind,
                size,
                limit,
            } => {
                write!(
                    f,
                    "{kind} of {size} bytes exceeds the limit of {limit} bytes, "
                )?;
                write_header_place(f, after)
            }
            Self::Truncated { entry } => {
                write!(
                    f,
                    "truncated archive: input ended inside {}",
                    entry_or(entry)
                )
            }
            Self::UnsafePath { entry, reason } => {
                write!(f, "unsafe entry path {entry:?}: {reason}")
            }
            Self::LinkEscapes { entry, target } => {
                write!(f, "link {entry:?} points outside the archive ({target:?})")
            }
            Self::SpecialEntry { entry, kind } => {
                write!(
                    f,
                    "entry {entry:?} is a {kind}; image archives hold only files and links"
                )
            }
            Self::DuplicateEntry { entry } => write!(f, "archive contains {entry} more than once"),
            Self::BadDocument { entry, .. } => write!(f, "invalid {entry}"),
            Self::UnsupportedLayout { version } => {
                write!(f, "unsupported OCI layout version {version:?} (only 1.0.0)")
            }
            Self::UnrecognizedFormat => write!(
                f,
                "unrecognized image format: neither an OCI layout (oci-layout, index.json) nor a docker-archive (manifest.json)"
            ),
            Self::MissingEntry { entry, needed_by } => {
                write!(f, "archive lacks {entry}, needed by {needed_by}")
            }
            Self::MissingBlob {
                image,
                digest,
                role,
            } => {
                write!(f, "image {image}: the archive lacks its {role} {digest}")
            }
            Self::DigestMismatch {
                entry,
                expected,
                found,
            } => {
                write!(f, "{entry}: content hashes to {found}, expected {expected}")
            }
            Self::SizeMismatch {
                entry,
                digest,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{entry}: blob {digest} has {found} bytes, its descriptor says {expected}"
                )
            }
            Self::PlatformNotInArchive {
                image,
                requested,
                available,
            } => write!(
                f,
                "image {image} does not provide platform {} in this archive; it has: {}{}",
                requested.format_all(),
                format_platforms(available),
                requested.did_you_mean(available)
            ),
            Self::NothingComplete { image } => {
                write!(
                    f,
                    "image {image}: the archive holds no platform of it completely"
                )
            }
            Self::BadName { name, reason } => write!(f, "invalid image name {name:?}: {reason}"),
            Self::UnnameablePlatform {
                image,
                document,
                platform,
                file_name,
            } => write!(
                f,
                "image {image}: platform {platform} (of {document}) cannot be named in the mount: \
                 its file name {file_name:?} reads back as another platform ('-' and '..' cannot \
                 appear inside a platform component)"
            ),
            Self::InvalidPlatform {
                image,
                document,
                field,
                value,
            } => write!(
                f,
                "image {image}: platform {field} {value:?} (of {document}) is not a valid platform \
                 component: expected one or more of [A-Za-z0-9_.-], not dots alone"
            ),
            Self::NoImages => write!(f, "the archive holds no image"),
        }
    }
}

/// Where a bad header is: after the member read before it, or first.
fn write_header_place(f: &mut fmt::Formatter<'_>, after: &Option<String>) -> fmt::Result {
    match after {
        Some(entry) => write!(f, "in the header after entry {entry:?}"),
        None => write!(f, "at the first header"),
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => e.source(),
            Self::Image(e) => e.source(),
            Self::Output(e) => Some(e),
            Self::BlobRead { source, .. } | Self::HasherThread { source, .. } => Some(source),
            Self::BlobChanged { .. } => None,
        }
    }
}

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => e.source(),
            Self::Image(e) => e.source(),
            Self::Input(e) => Some(e),
            Self::MalformedTar { source, .. } => Some(source),
            Self::BadDocument { source, .. } => Some(source),
            Self::EmptyArchive
            | Self::TooManyEntries { .. }
            | Self::NamesTooLarge { .. }
            | Self::BadHeader { .. }
            | Self::MetaEntryTooLarge { .. }
            | Self::Truncated { .. }
            | Self::UnsafePath { .. }
            | Self::LinkEscapes { .. }
            | Self::SpecialEntry { .. }
            | Self::DuplicateEntry { .. }
            | Self::UnsupportedLayout { .. }
            | Self::UnrecognizedFormat
            | Self::MissingEntry { .. }
            | Self::MissingBlob { .. }
            | Self::DigestMismatch { .. }
            | Self::SizeMismatch { .. }
            | Self::PlatformNotInArchive { .. }
            | Self::NothingComplete { .. }
            | Self::BadName { .. }
            | Self::InvalidPlatform { .. }
            | Self::UnnameablePlatform { .. }
            | Self::NoImages => None,
        }
    }
}

impl From<StoreError> for ExportError {
    fn from(e: StoreError) -> ExportError {
        ExportError::Store(e)
    }
}

impl From<ImageError> for ExportError {
    fn from(e: ImageError) -> ExportError {
        ExportError::Image(e)
    }
}

impl From<SelectError> for ExportError {
    fn from(e: SelectError) -> ExportError {
        ExportError::Image(ImageError::Select(e))
    }
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> ImportError {
        ImportError::Store(e)
    }
}

impl ExportError {
    /// True when the export failed only because its reader went away (`| head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, ExportError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}
