//! `FsError`: why a filesystem operation failed, and the one table that turns it into an errno.
//! Nothing else in the crate picks an errno (fuse.rs only adds ENOSYS for ops we do not offer).

use std::fmt;
use std::io;
use std::sync::Arc;

use fuser::Errno;
use log::Level;

use crate::archive::ArchiveError;
use crate::image::{ImageError, format_platforms};
use crate::platform::Platform;
use crate::store::StoreError;

#[derive(Debug)]
pub enum FsError {
    /// A name that is not in the directory (a lookup miss, the common case).
    NotFound {
        name: String,
    },
    /// An inode the kernel asks about that this mount never handed out, or that went away.
    UnknownInode(u64),
    /// An open file handle that does not exist.
    BadHandle(u64),
    /// A platform file or directory for a platform the image does not have.
    PlatformAbsent {
        image: String,
        requested: Vec<Platform>,
        available: Vec<Platform>,
    },
    /// Directory operation on a file.
    NotADirectory,
    /// File operation on a directory.
    IsADirectory,
    /// Any write under `images/` (or to the fixed directories of the mount).
    ReadOnly,
    /// A name under `import/` that cannot be a directory (not a platform list).
    NotPlatformDirectory {
        name: String,
    },
    /// Symlinks, device nodes and hard links: `import/` holds only regular files.
    NotRegularFile,
    /// rmdir of an import directory that still holds files.
    NotEmpty,
    /// A name that already exists where a new one is created.
    Exists,
    /// A write that is not at the end of a file that is already being streamed into the store.
    NonSequentialWrite {
        expected: u64,
        got: u64,
    },
    /// Reading back a file written into `import/` (it is consumed, not stored).
    WriteOnly,
    /// A write to an import whose archive was already rejected.
    ImportRejected,
    /// Loading the archive written into `import/` failed; the store is unchanged.
    Import(Arc<ArchiveError>),
    /// Building an archive of an image failed.
    Archive(ArchiveError),
    /// Reading an image's graph failed.
    Image(ImageError),
    Store(StoreError),
    /// Reading archive bytes failed (a missing or corrupt blob).
    Read(io::Error),
    /// Other I/O of the daemon itself (spool files, statfs of the store).
    Io {
        op: &'static str,
        source: io::Error,
    },
}

impl FsError {
    /// The errno the kernel passes on to the application. Exhaustive on purpose: a new variant
    /// must make a decision here.
    pub fn errno(&self) -> Errno {
        match self {
            FsError::NotFound { .. } => Errno::ENOENT,
            // The kernel may keep asking about an inode after a live-view refresh dropped it;
            // for the application the file is simply gone.
            FsError::UnknownInode(_) => Errno::ENOENT,
            FsError::BadHandle(_) => Errno::EBADF,
            FsError::PlatformAbsent { .. } => Errno::ENOENT,
            FsError::NotADirectory => Errno::ENOTDIR,
            FsError::IsADirectory => Errno::EISDIR,
            FsError::ReadOnly => Errno::EROFS,
            // mkdir of a name that is no platform list: the argument is wrong, not the fs state.
            FsError::NotPlatformDirectory { .. } => Errno::EINVAL,
            FsError::NotRegularFile => Errno::EPERM,
            FsError::NotEmpty => Errno::ENOTEMPTY,
            FsError::Exists => Errno::EEXIST,
            // "Illegal seek": the data is consumed as a stream and cannot be revisited.
            FsError::NonSequentialWrite { .. } => Errno::ESPIPE,
            // Read permission is what is missing: the file's bytes went into the store.
            FsError::WriteOnly => Errno::EACCES,
            FsError::ImportRejected => Errno::EINVAL,
            FsError::Import(e) => import_errno(e),
            FsError::Archive(e) => archive_errno(e),
            FsError::Image(e) => image_errno(e),
            FsError::Store(e) => store_errno(e),
            FsError::Read(e) => io_errno(e),
            FsError::Io { source, .. } => io_errno(source),
        }
    }

    /// Lookup misses are routine (shells and file managers probe names): debug. Everything
    /// else is worth a warning in the daemon log.
    pub fn log_level(&self) -> Level {
        match self {
            FsError::NotFound { .. } | FsError::UnknownInode(_) => Level::Debug,
            _ => Level::Warn,
        }
    }
}

/// A store failure: the data is damaged or unreachable, which applications know as EIO, except
/// a full disk, which they can act on.
fn store_errno(e: &StoreError) -> Errno {
    match e {
        StoreError::Io { source, .. } => io_errno(source),
        StoreError::BlobMissing { .. }
        | StoreError::SizeMismatch { .. }
        | StoreError::DigestMismatch { .. }
        | StoreError::CorruptDocument { .. }
        | StoreError::UnsupportedLayout { .. } => Errno::EIO,
        // What an import brings does not fit the store's limits: the input is at fault.
        StoreError::RecordTooLarge { .. } => Errno::EINVAL,
        // The image list is full, like a disk.
        StoreError::IndexTooLarge { .. } => Errno::ENOSPC,
    }
}

fn image_errno(e: &ImageError) -> Errno {
    match e {
        ImageError::Store(s) => store_errno(s),
        ImageError::PlatformNotFound { .. } | ImageError::NoSuchImage { .. } => Errno::ENOENT,
        // The store lists the platform but cannot serve it: a damaged store, not a bad name.
        ImageError::PlatformIncomplete { .. }
        | ImageError::Content(_)
        | ImageError::BadDocument { .. }
        | ImageError::TooDeep { .. }
        | ImageError::TooManyDocuments { .. }
        | ImageError::TargetMissing { .. } => Errno::EIO,
        // Two manifests for one platform: the name does not pick one file.
        ImageError::AmbiguousPlatform { .. } => Errno::ENOENT,
        ImageError::BadReference { .. } => Errno::EINVAL,
    }
}

/// Errors while planning or serving an archive of stored images.
fn archive_errno(e: &ArchiveError) -> Errno {
    match e {
        ArchiveError::Image(i) => image_errno(i),
        ArchiveError::Store(s) => store_errno(s),
        _ => import_errno(e),
    }
}

/// Errors while loading an archive written into `import/`: what is wrong with the input is
/// EINVAL (cp reports "Invalid argument" at close), what is wrong with the store is EIO or
/// ENOSPC.
fn import_errno(e: &ArchiveError) -> Errno {
    match e {
        ArchiveError::Store(s) => store_errno(s),
        ArchiveError::Image(i) => match i {
            ImageError::Store(s) => store_errno(s),
            // The archive's own documents are wrong or lack what was asked for: bad input.
            ImageError::BadDocument { .. }
            | ImageError::TooDeep { .. }
            | ImageError::TooManyDocuments { .. }
            | ImageError::TargetMissing { .. }
            | ImageError::PlatformNotFound { .. }
            | ImageError::PlatformIncomplete { .. }
            | ImageError::AmbiguousPlatform { .. }
            | ImageError::NoSuchImage { .. }
            | ImageError::BadReference { .. } => Errno::EINVAL,
            // Reading the upload itself failed; classify what actually went wrong.
            ImageError::Content(inner) => match inner.downcast_ref::<ArchiveError>() {
                Some(a) => import_errno(a),
                None => Errno::EIO,
            },
        },
        ArchiveError::Output(io) | ArchiveError::BlobRead { source: io, .. } => io_errno(io),
        ArchiveError::BlobChanged { .. } => Errno::EIO,
        // The input is the bytes the application wrote; a failure to read them is ours.
        ArchiveError::Input(io) => io_errno(io),
        ArchiveError::EmptyArchive
        | ArchiveError::TooManyEntries { .. }
        | ArchiveError::NamesTooLarge { .. }
        | ArchiveError::MalformedTar { .. }
        | ArchiveError::BadHeader { .. }
        | ArchiveError::MetaEntryTooLarge { .. }
        | ArchiveError::Truncated { .. }
        | ArchiveError::UnsafePath { .. }
        | ArchiveError::LinkEscapes { .. }
        | ArchiveError::SpecialEntry { .. }
        | ArchiveError::DuplicateEntry { .. }
        | ArchiveError::BadDocument { .. }
        | ArchiveError::UnsupportedLayout { .. }
        | ArchiveError::UnrecognizedFormat
        | ArchiveError::MissingEntry { .. }
        | ArchiveError::MissingBlob { .. }
        | ArchiveError::DigestMismatch { .. }
        | ArchiveError::SizeMismatch { .. }
        | ArchiveError::PlatformNotInArchive { .. }
        | ArchiveError::NothingComplete { .. }
        | ArchiveError::BadName { .. }
        | ArchiveError::InvalidPlatform { .. }
        | ArchiveError::NoImages => Errno::EINVAL,
    }
}

/// An OS error keeps its errno (ENOSPC stays ENOSPC); anything else is EIO.
fn io_errno(e: &io::Error) -> Errno {
    match e.raw_os_error() {
        Some(code) => Errno::from_i32(code),
        None => Errno::EIO,
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound { name } => write!(f, "no such entry {name:?}"),
            FsError::UnknownInode(ino) => write!(f, "unknown inode {ino}"),
            FsError::BadHandle(fh) => write!(f, "unknown file handle {fh}"),
            FsError::PlatformAbsent {
                image,
                requested,
                available,
            } => write!(
                f,
                "image {image} does not have platform {}; it has: {}",
                format_platforms(requested),
                format_platforms(available)
            ),
            FsError::NotADirectory => write!(f, "not a directory"),
            FsError::IsADirectory => write!(f, "is a directory"),
            FsError::ReadOnly => write!(f, "read-only: only import/ accepts writes"),
            FsError::NotPlatformDirectory { name } => write!(
                f,
                "{name:?} is not a platform list (like linux-arm64 or linux-amd64+linux-arm64)"
            ),
            FsError::NotRegularFile => write!(f, "import/ holds only regular files"),
            FsError::NotEmpty => write!(f, "directory not empty"),
            FsError::Exists => write!(f, "already exists"),
            FsError::NonSequentialWrite { expected, got } => write!(
                f,
                "import data must be written sequentially: expected offset {expected}, got {got}"
            ),
            FsError::WriteOnly => {
                write!(f, "files in import/ are consumed, not kept: not readable")
            }
            FsError::ImportRejected => {
                write!(f, "this import already failed; see its .status file")
            }
            FsError::Import(_) => write!(f, "import failed"),
            FsError::Archive(_) => write!(f, "cannot plan the archive"),
            FsError::Image(_) => write!(f, "cannot read the image"),
            FsError::Store(_) => write!(f, "store error"),
            FsError::Read(_) => write!(f, "cannot read archive bytes"),
            FsError::Io { op, .. } => write!(f, "cannot {op}"),
        }
    }
}

impl std::error::Error for FsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FsError::Import(e) => Some(&**e),
            FsError::Archive(e) => Some(e),
            FsError::Image(e) => Some(e),
            FsError::Store(e) => Some(e),
            FsError::Read(e) | FsError::Io { source: e, .. } => Some(e),
            _ => None,
        }
    }
}
