//! `FsError`: why a filesystem operation failed, and the one table that turns it into an errno.
//! Nothing else in the crate picks an errno (fuse.rs only adds ENOSYS for ops we do not offer).

use std::fmt;
use std::io;
use std::sync::Arc;

use fuser::Errno;
use log::Level;

use crate::archive::{ExportError, ImportError};
use crate::image::{ImageError, SelectError};
use crate::platform::{Platform, format_platforms};
use crate::rootfs::platform::RootfsError;
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
    /// The file's mode does not give the caller the access the op needs (see `fs/access.rs`).
    PermissionDenied {
        op: &'static str,
        need: &'static str,
        uid: u32,
        mode: u16,
        owner: u32,
    },
    /// chmod, chown or setting explicit times by someone who neither owns the node nor is root.
    NotOwner {
        op: &'static str,
        uid: u32,
        owner: u32,
    },
    /// The answer "no" to access(2): a probe (`[ -w ]`, `find -executable`, file managers
    /// asking per file), routine and not a failure of the mount.
    AccessRefused(Box<FsError>),
    /// A new name under `import/` that is not UTF-8: names become status file names and image
    /// reports, which are text.
    NameNotUtf8 {
        name: String,
    },
    /// An extended attribute asked for by name: the mount has none, and says so as a
    /// filesystem without them does (ENODATA), not that it cannot have any.
    NoAttribute {
        name: String,
    },
    /// A write to an import whose archive was already rejected, and why: the errno is the
    /// cause's (EINVAL for bad input, ENOSPC for a full store), as at close.
    ImportRejected(Arc<ImportError>),
    /// Loading the archive written into `import/` failed; the store is unchanged.
    Import(Arc<ImportError>),
    /// Building an archive of an image failed.
    Archive(ExportError),
    Store(StoreError),
    /// Reading archive bytes failed (a missing, unreadable or corrupt blob).
    Read(ExportError),
    /// The archive returned fewer bytes than it has at that offset (its reader broke its
    /// contract); a short reply would be zero-filled by the kernel in cached mode.
    ShortRead {
        got: usize,
        want: usize,
    },
    /// A platform's root filesystem (`rootfs/`, `layers/`) cannot be built from its layers.
    Rootfs {
        image: String,
        platform: Platform,
        source: Arc<RootfsError>,
    },
    /// Reading a file of an image's root filesystem from its layer failed.
    RootfsRead {
        path: String,
        source: io::Error,
    },
    /// readlink of something that is no symlink.
    NotASymlink,
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
            FsError::PermissionDenied { .. } => Errno::EACCES,
            // What chmod(2) and utimensat(2) answer a non-owner.
            FsError::NotOwner { .. } => Errno::EPERM,
            FsError::NameNotUtf8 { .. } => Errno::EINVAL,
            FsError::NoAttribute { .. } => Errno::ENODATA,
            FsError::AccessRefused(e) => e.errno(),
            FsError::ImportRejected(e) => import_errno(e),
            FsError::Import(e) => import_errno(e),
            FsError::Archive(e) => export_errno(e),
            FsError::Store(e) => store_errno(e),
            FsError::Read(e) => export_errno(e),
            FsError::ShortRead { .. } => Errno::EIO,
            // The layers are stored and verified, so a tree that cannot be built or read means
            // damaged data (or a full disk while storing its index: still the store's trouble).
            FsError::Rootfs { .. } => Errno::EIO,
            FsError::RootfsRead { source, .. } => io_errno(source),
            // What readlink(2) answers for a file that is no symlink.
            FsError::NotASymlink => Errno::EINVAL,
            FsError::Io { source, .. } => io_errno(source),
        }
    }

    /// Lookup misses are routine (shells and file managers probe names): debug. Everything
    /// else is worth a warning in the daemon log.
    pub fn log_level(&self) -> Level {
        match self {
            // `getfattr -R`, `tar --xattrs` and file managers ask every file.
            FsError::NotFound { .. }
            | FsError::UnknownInode(_)
            | FsError::AccessRefused(_)
            | FsError::NoAttribute { .. } => Level::Debug,
            // Asked for by other users as often as they like (`stat` in a loop): at warn, each
            // line naming every platform, they could fill the daemon's log. `-v` shows them.
            FsError::PlatformAbsent { .. }
            | FsError::PermissionDenied { .. }
            | FsError::NotOwner { .. }
            | FsError::ReadOnly => Level::Info,
            FsError::BadHandle(_)
            | FsError::NotADirectory
            | FsError::IsADirectory
            | FsError::NotPlatformDirectory { .. }
            | FsError::NotRegularFile
            | FsError::NotEmpty
            | FsError::Exists
            | FsError::NonSequentialWrite { .. }
            | FsError::WriteOnly
            | FsError::NameNotUtf8 { .. }
            | FsError::ImportRejected(_)
            | FsError::Import(_)
            | FsError::Archive(_)
            | FsError::Store(_)
            | FsError::Read(_)
            | FsError::ShortRead { .. }
            | FsError::Rootfs { .. }
            | FsError::RootfsRead { .. }
            | FsError::Io { .. } => Level::Warn,
            FsError::NotASymlink => Level::Debug,
        }
    }
}

/// A store failure: the data is damaged or unreachable, which applications know as EIO, except
/// a full disk, which they can act on.
fn store_errno(e: &StoreError) -> Errno {
    match e {
        StoreError::Io { source, .. } => io_errno(source),
        // Writing into import/ of a store on read-only media.
        StoreError::ReadOnly { .. } => Errno::EROFS,
        // Checked when the store opens, before any mount exists; a damaged store if ever here.
        StoreError::Symlink { .. } => Errno::EIO,
        // Only `gc` waits with a timeout; nothing the mount does can get here.
        StoreError::Busy { .. } => Errno::EBUSY,
        StoreError::BlobMissing { .. }
        | StoreError::SizeMismatch { .. }
        | StoreError::DigestMismatch { .. }
        | StoreError::CorruptDocument { .. }
        | StoreError::UnsupportedLayout { .. } => Errno::EIO,
        // What an import brings does not fit the store's limits: the input is at fault.
        StoreError::RecordTooLarge { .. } => Errno::EINVAL,
        // The image list is full, like a disk.
        StoreError::IndexTooLarge { .. } => Errno::ENOSPC,
        // A layer index beyond the store's bound for its layer: a producer bug or a layer we
        // cannot index, not something the caller can change.
        StoreError::LayerIndexTooLarge { .. } => Errno::EIO,
    }
}

/// Errors while reading a stored image's graph or resolving a REF against the store.
fn image_errno(e: &ImageError) -> Errno {
    match e {
        ImageError::Source(s) => store_errno(s),
        ImageError::Select(s) => select_errno(s),
        ImageError::NoSuchImage { .. } | ImageError::AmbiguousImageId { .. } => Errno::ENOENT,
        // The store lists the image but cannot serve it: a damaged store, not a bad name.
        ImageError::BadDocument { .. }
        | ImageError::TooDeep { .. }
        | ImageError::TooManyDocuments { .. }
        | ImageError::TargetMissing { .. } => Errno::EIO,
        ImageError::BadReference { .. } => Errno::EINVAL,
    }
}

/// A platform of a stored image that cannot be served.
fn select_errno(e: &SelectError) -> Errno {
    match e {
        SelectError::PlatformNotFound { .. } => Errno::ENOENT,
        // The store lists the platform but cannot serve it: a damaged store, not a bad name.
        SelectError::PlatformIncomplete { .. } => Errno::EIO,
        // Two manifests for one platform: the name does not pick one file.
        SelectError::AmbiguousPlatform { .. } => Errno::ENOENT,
    }
}

/// Errors while planning or serving an archive of stored images.
fn export_errno(e: &ExportError) -> Errno {
    match e {
        ExportError::Image(i) => image_errno(i),
        ExportError::Store(s) => store_errno(s),
        ExportError::Output(io)
        | ExportError::BlobRead { source: io, .. }
        | ExportError::HasherThread { source: io, .. } => io_errno(io),
        ExportError::BlobChanged { .. } => Errno::EIO,
    }
}

/// Errors while loading an archive written into `import/`: what is wrong with the input is
/// EINVAL (cp reports "Invalid argument" at close), what is wrong with the store is EIO or
/// ENOSPC.
fn import_errno(e: &ImportError) -> Errno {
    match e {
        ImportError::Store(s) => store_errno(s),
        // The archive's own documents are wrong or lack what was asked for: bad input.
        ImportError::Image(i) => match i {
            ImageError::Source(never) => match *never {},
            ImageError::BadDocument { .. }
            | ImageError::TooDeep { .. }
            | ImageError::TooManyDocuments { .. }
            | ImageError::TargetMissing { .. }
            | ImageError::Select(_)
            | ImageError::NoSuchImage { .. }
            | ImageError::AmbiguousImageId { .. }
            | ImageError::BadReference { .. } => Errno::EINVAL,
        },
        // The input is the bytes the application wrote; a failure to read them is ours.
        ImportError::Input(io) => io_errno(io),
        ImportError::EmptyArchive
        | ImportError::TooManyEntries { .. }
        | ImportError::NamesTooLarge { .. }
        | ImportError::MalformedTar { .. }
        | ImportError::BadHeader { .. }
        | ImportError::MetaEntryTooLarge { .. }
        | ImportError::Truncated { .. }
        | ImportError::UnsafePath { .. }
        | ImportError::LinkEscapes { .. }
        | ImportError::SpecialEntry { .. }
        | ImportError::DuplicateEntry { .. }
        | ImportError::BadDocument { .. }
        | ImportError::UnsupportedLayout { .. }
        | ImportError::UnrecognizedFormat
        | ImportError::MissingEntry { .. }
        | ImportError::MissingBlob { .. }
        | ImportError::DigestMismatch { .. }
        | ImportError::SizeMismatch { .. }
        | ImportError::PlatformNotInArchive { .. }
        | ImportError::NothingComplete { .. }
        | ImportError::BadName { .. }
        | ImportError::InvalidPlatform { .. }
        | ImportError::UnnameablePlatform { .. }
        | ImportError::NoImages => Errno::EINVAL,
    }
}

/// An OS error keeps its errno (ENOSPC stays ENOSPC). One a library wrapped with context keeps
/// only its kind (tempfile adds the path and passes the kind on: tempfile src/error.rs
/// `PathError`), so the kinds of a full or read-only store, which a writer can act on, are
/// mapped back; anything else is EIO (the store is broken, not the caller's request).
fn io_errno(e: &io::Error) -> Errno {
    if let Some(code) = e.raw_os_error() {
        return Errno::from_i32(code);
    }
    KIND_ERRNO
        .iter()
        .find(|(kind, _)| *kind == e.kind())
        .map_or(Errno::EIO, |(_, errno)| *errno)
}

/// Error kinds that stand for one errno, for OS errors that arrive wrapped. `io::ErrorKind` is
/// non-exhaustive, so this is a table rather than a match.
const KIND_ERRNO: [(io::ErrorKind, Errno); 3] = [
    (io::ErrorKind::StorageFull, Errno::ENOSPC),
    (io::ErrorKind::QuotaExceeded, Errno::EDQUOT),
    (io::ErrorKind::ReadOnlyFilesystem, Errno::EROFS),
];

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
            FsError::PermissionDenied {
                op,
                need,
                uid,
                mode,
                owner,
            } => write!(
                f,
                "{op}: uid {uid} lacks {need} permission (mode {mode:04o}, owner uid {owner})"
            ),
            FsError::NotOwner { op, uid, owner } => {
                write!(f, "{op}: uid {uid} does not own it (owner uid {owner})")
            }
            FsError::NameNotUtf8 { name } => write!(f, "name {name:?} is not UTF-8"),
            FsError::NoAttribute { name } => write!(f, "no extended attribute {name:?}"),
            FsError::AccessRefused(_) => write!(f, "access refused"),
            FsError::ImportRejected(_) => {
                write!(
                    f,
                    "this import already failed; see its status, import/.status/<file>.json"
                )
            }
            FsError::Import(_) => write!(f, "import failed"),
            FsError::Archive(_) => write!(f, "cannot plan the archive"),
            FsError::Store(_) => write!(f, "store error"),
            FsError::Read(_) => write!(f, "cannot read archive bytes"),
            FsError::ShortRead { got, want } => {
                write!(f, "archive read returned {got} of {want} bytes")
            }
            FsError::Rootfs {
                image, platform, ..
            } => write!(f, "cannot show the root filesystem of {image} {platform}"),
            FsError::RootfsRead { path, .. } => write!(f, "cannot read {path} from its layer"),
            FsError::NotASymlink => write!(f, "not a symbolic link"),
            FsError::Io { op, .. } => write!(f, "cannot {op}"),
        }
    }
}

impl std::error::Error for FsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FsError::Import(e) | FsError::ImportRejected(e) => Some(&**e),
            FsError::AccessRefused(e) => Some(&**e),
            FsError::Archive(e) | FsError::Read(e) => Some(e),
            FsError::Store(e) => Some(e),
            FsError::Io { source: e, .. } | FsError::RootfsRead { source: e, .. } => Some(e),
            FsError::Rootfs { source, .. } => Some(&**source),
            FsError::NotASymlink
            | FsError::NotFound { .. }
            | FsError::UnknownInode(_)
            | FsError::BadHandle(_)
            | FsError::PlatformAbsent { .. }
            | FsError::NotADirectory
            | FsError::IsADirectory
            | FsError::ReadOnly
            | FsError::NotPlatformDirectory { .. }
            | FsError::NotRegularFile
            | FsError::NotEmpty
            | FsError::Exists
            | FsError::NonSequentialWrite { .. }
            | FsError::WriteOnly
            | FsError::PermissionDenied { .. }
            | FsError::NotOwner { .. }
            | FsError::ShortRead { .. }
            | FsError::NameNotUtf8 { .. }
            | FsError::NoAttribute { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_os_errors_keep_their_errno() {
        let full = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(io_errno(&full), Errno::ENOSPC);
        // As tempfile wraps it: the kind survives, the code sits inside.
        let wrapped = io::Error::new(full.kind(), io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(io_errno(&wrapped), Errno::ENOSPC);
        let kind_only = io::Error::new(io::ErrorKind::StorageFull, "at path /x");
        assert_eq!(io_errno(&kind_only), Errno::ENOSPC);
        assert_eq!(io_errno(&io::Error::other("odd")), Errno::EIO);
        // A wrapped permission or lookup failure is the store's problem, not the caller's.
        let store_side = io::Error::new(io::ErrorKind::PermissionDenied, "at path /x");
        assert_eq!(io_errno(&store_side), Errno::EIO);
    }

    #[test]
    fn a_blob_that_cannot_be_opened_keeps_its_errno_for_the_reader() {
        // Out of descriptors, or a blob swapped for a symlink: the reader of the archive sees
        // what open(2) said, as it would for a local file.
        for code in [libc::EMFILE, libc::ELOOP, libc::EACCES] {
            let open = StoreError::Io {
                op: "open",
                path: "/store/blobs/sha256/x".into(),
                source: io::Error::from_raw_os_error(code),
            };
            let e = FsError::Read(ExportError::Store(open));
            assert_eq!(
                e.errno(),
                Errno::from_i32(code),
                "{}",
                crate::error::chain(&e)
            );
        }
        let short = FsError::Read(ExportError::BlobChanged {
            digest: crate::digest::Digest::of(b"x"),
            found: None,
        });
        assert_eq!(short.errno(), Errno::EIO);
    }
}
