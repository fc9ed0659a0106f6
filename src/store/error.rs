//! `StoreError`: what can go wrong reading or writing the store, with the values needed to diagnose.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::{LockHolder, shown};
use crate::digest::Digest;
use crate::oci::DocumentError;

#[derive(Debug)]
pub enum StoreError {
    /// An I/O operation on a store file failed.
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// A blob the caller expected is not in the store.
    BlobMissing { digest: Digest },
    /// A blob's length differs from its descriptor's size.
    SizeMismatch {
        digest: Digest,
        expected: u64,
        found: u64,
    },
    /// Bytes hashed to something other than the digest they were stored or offered under.
    DigestMismatch { expected: Digest, found: Digest },
    /// `index.json` or a stored document is not what the store wrote.
    CorruptDocument {
        path: PathBuf,
        source: DocumentError,
    },
    /// An image record (one `index.json` entry) over the per-record cap.
    RecordTooLarge {
        image: String,
        size: u64,
        limit: u64,
    },
    /// A change that would grow `index.json` past the store's cap; `image` is the (first) image
    /// being added, when the caller knows it.
    IndexTooLarge {
        image: Option<String>,
        size: u64,
        limit: u64,
    },
    /// A layer index over the size the store accepts for that layer (see `index_size_limit`).
    LayerIndexTooLarge {
        layer: Digest,
        kind: &'static str,
        size: u64,
        limit: u64,
    },
    /// The directory holds an OCI layout of a version we do not understand.
    UnsupportedLayout { path: PathBuf, version: String },
    /// A directory or file of the layout is a symlink (refused: see `Store::open`).
    Symlink { path: PathBuf },
    /// A write to a store opened read-only (a read-only filesystem, or one we may not write).
    ReadOnly { root: PathBuf, op: &'static str },
    /// A lock stayed busy for as long as the caller was willing to wait.
    Busy {
        path: PathBuf,
        holders: Vec<LockHolder>,
        waited: std::time::Duration,
    },
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { op, path, .. } => write!(f, "cannot {op} {}", shown(path).display()),
            Self::BlobMissing { digest } => write!(f, "blob {digest} is not in the store"),
            Self::SizeMismatch {
                digest,
                expected,
                found,
            } => {
                write!(f, "blob {digest} has {found} bytes, expected {expected}")
            }
            Self::DigestMismatch { expected, found } => {
                write!(
                    f,
                    "digest mismatch: expected {expected}, content hashes to {found}"
                )
            }
            Self::CorruptDocument { path, .. } => write!(f, "corrupt {}", shown(path).display()),
            Self::Symlink { path } => write!(
                f,
                "{} is a symbolic link; a store's own directories and files must not be symbolic links",
                shown(path).display()
            ),
            Self::ReadOnly { root, op } => write!(
                f,
                "cannot {op}: the store {} is read-only (a read-only filesystem, or not writable by this user)",
                root.display()
            ),
            Self::Busy {
                path,
                holders,
                waited,
            } => write!(
                f,
                "gave up after {:.1} s waiting for {}, held by {}",
                waited.as_secs_f64(),
                shown(path).display(),
                describe_holders(holders)
            ),
            Self::RecordTooLarge { image, size, limit } => write!(
                f,
                "image {image}: its index.json record would take {size} bytes (names, annotations \
                 and descriptor as encoded), over the limit of {limit} bytes per image"
            ),
            Self::IndexTooLarge { image, size, limit } => {
                if let Some(image) = image {
                    write!(f, "image {image}: ")?;
                }
                write!(
                    f,
                    "the store's index.json would grow to {size} bytes, over its limit of {limit} \
                     bytes (remove images with `imagefs rm`)"
                )
            }
            Self::LayerIndexTooLarge {
                layer,
                kind,
                size,
                limit,
            } => write!(
                f,
                "the {kind} index of layer {layer} would take {size} bytes, over the store's \
                 limit of {limit} bytes for that layer"
            ),
            Self::UnsupportedLayout { path, version } => write!(
                f,
                "{} has imageLayoutVersion {version:?}; only 1.0.0 is supported",
                shown(path).display()
            ),
        }
    }
}

/// `pid 12 (imagefs mount /mnt), pid 34 (…)`, or a note that /proc/locks did not say.
pub fn describe_holders(holders: &[LockHolder]) -> String {
    if holders.is_empty() {
        return "processes /proc/locks does not show (another PID namespace or host)".to_string();
    }
    holders
        .iter()
        .map(LockHolder::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::CorruptDocument { source, .. } => Some(source),
            Self::BlobMissing { .. }
            | Self::SizeMismatch { .. }
            | Self::DigestMismatch { .. }
            | Self::RecordTooLarge { .. }
            | Self::IndexTooLarge { .. }
            | Self::LayerIndexTooLarge { .. }
            | Self::UnsupportedLayout { .. }
            | Self::Symlink { .. }
            | Self::ReadOnly { .. }
            | Self::Busy { .. } => None,
        }
    }
}
