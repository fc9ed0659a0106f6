//! Layer indexes: data derived from one layer blob (its file table, its decompression
//! checkpoints) kept beside the blobs as `indexes/sha256/<layer-hex>.<kind>`, so that browsing
//! a layer does not start with a pass over it every time.
//!
//! The store knows the container, not the content: each file is a fixed header (magic, format
//! version, the producer's payload version, the kind, the layer digest, the payload length and
//! its sha256, and a sha256 over those fields), then the payload. It never holds anything the
//! layer does not determine, so an index that is missing, damaged, of another version or
//! written for another layer is simply rebuilt: reads report such a file as [`DamagedIndex`]
//! (with the reason, for a log line), never use it, and never panic or allocate more than the
//! file's bounded size.
//!
//! Writes go to a temp file `tmp-*` in the same directory (locked by its writer while it
//! lives, so `gc` knows an abandoned one), are made durable, and replace the index by a rename
//! under the store's shared gc lock once the layer blob is confirmed present: `gc`, which holds
//! that lock exclusively while it sweeps, never leaves an index of a layer it removed, and
//! never removes one whose layer it keeps. Concurrent writers of one index both complete; the
//! last rename wins, and either file is a whole, valid index.
//!
//! The directory sits outside `blobs/`, so no OCI tool takes an index for a blob; skopeo and
//! umoci ignore directories of the layout they do not know (as they ignore `ingest/`).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use tempfile::TempPath;

use super::{AbandonedFiles, GC_LOCK_FILE, Store, StoreError, lock, shown, sync_dir};
use crate::digest::{Digest, Hasher};

/// Where layer indexes live, relative to the store root. Not under `blobs/`: an index is not
/// content the layout's index or manifests reference, and no OCI tool may take it for one.
pub const INDEX_DIR: &str = "indexes/sha256";
/// The first component of [`INDEX_DIR`].
pub(super) const INDEX_PARENT: &str = "indexes";
/// Temp files of writers start with this; no index name does (those start with hex).
const TMP_PREFIX: &str = "tmp-";
/// A temp file is locked by its writer right after it is created; one younger than this may not
/// be locked yet, so it is never taken for abandoned.
const TMP_LOCK_GRACE: Duration = Duration::from_secs(60);

const MAGIC: &[u8; 8] = b"IMGFSIDX";
/// The version of the container format below (not of any payload).
const FORMAT_VERSION: u32 = 1;
const KIND_LEN: usize = 16;
const HEX_LEN: usize = 64;
// Header fields, in order (integers little-endian; digests as lowercase hex).
const AT_FORMAT: usize = 8;
const AT_PAYLOAD_VERSION: usize = 12;
const AT_KIND: usize = 16;
const AT_LAYER: usize = AT_KIND + KIND_LEN;
const AT_LENGTH: usize = AT_LAYER + HEX_LEN;
const AT_PAYLOAD_SHA: usize = AT_LENGTH + 8;
const AT_HEADER_SHA: usize = AT_PAYLOAD_SHA + HEX_LEN;
/// Header size; the payload starts here.
const HEADER_LEN: usize = AT_HEADER_SHA + HEX_LEN;

/// Indexes up to this size are accepted for any layer, however small.
const MIN_INDEX_LIMIT: u64 = 64 << 20;

/// The largest index the store writes or reads for a layer blob of `layer_size` bytes: 64 MiB
/// plus twice the blob. Indexes are normally a few % of their layer; a file table of a gzip
/// layer of many empty files can outgrow the compressed blob, never twice over. Reads never
/// allocate more than this.
pub fn index_size_limit(layer_size: u64) -> u64 {
    MIN_INDEX_LIMIT.saturating_add(layer_size.saturating_mul(2))
}

/// What an index holds, as its producer names it, and the version of the producer's payload
/// format. The name is part of the file name (`<layer-hex>.<name>`), so it is 1 to 16 of
/// `a-z`, `0-9` and `-`, checked when the constant is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexKind {
    name: &'static str,
    version: u32,
    /// Read only through [`Store::open_index`] (streamed, never held in memory), so not held
    /// to [`index_size_limit`]: a layer's decompressed copy is larger than the layer.
    streamed: bool,
}

impl IndexKind {
    /// Panics (at compile time, in a `const`) on a name outside the grammar above.
    pub const fn new(name: &'static str, version: u32) -> IndexKind {
        assert!(valid_kind_name(name.as_bytes()), "invalid index kind name");
        IndexKind {
            name,
            version,
            streamed: false,
        }
    }

    /// A kind whose indexes are only ever streamed ([`Store::open_index`]; `read_index`
    /// refuses them): no size limit applies.
    pub const fn streamed(name: &'static str, version: u32) -> IndexKind {
        IndexKind {
            streamed: true,
            ..IndexKind::new(name, version)
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn version(&self) -> u32 {
        self.version
    }
}

const fn valid_kind_name(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > KIND_LEN {
        return false;
    }
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return false;
        }
        i += 1;
    }
    true
}

/// An index file found in the store, as its name says (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredIndex {
    pub layer: Digest,
    /// The kind from the file name; valid by [`IndexKind`]'s grammar, maybe one this build
    /// does not produce.
    pub kind: String,
    pub size: u64,
}

/// Indexes removed, with the bytes they took.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RemovedIndexes {
    pub count: usize,
    pub bytes: u64,
}

/// Why a stored index is not used (it is rebuilt instead).
#[derive(Debug)]
pub enum IndexDamage {
    /// Opening, stating or reading it failed.
    Unreadable(io::Error),
    /// A directory, symlink, FIFO or device where an index should be.
    NotAFile,
    /// Shorter than the header.
    Truncated { size: u64 },
    /// Larger than any index the store writes for this layer (see [`index_size_limit`]).
    TooLarge { size: u64, limit: u64 },
    /// Does not start with the index magic.
    BadMagic,
    /// A container format this build does not read (a newer build's, or damage).
    UnsupportedFormat { version: u32 },
    /// The header's own checksum does not match.
    HeaderChecksum,
    /// The header names another layer than the file name.
    WrongLayer { found: String },
    /// The header names another kind than the file name.
    WrongKind { found: String },
    /// Written for another version of the producer's payload format.
    OtherVersion { found: u32, expected: u32 },
    /// The header's payload length is not what the file holds.
    LengthMismatch { recorded: u64, found: u64 },
    /// The payload does not hash to the header's checksum.
    PayloadChecksum,
}

impl fmt::Display for IndexDamage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(e) => write!(f, "cannot read it: {e}"),
            Self::NotAFile => write!(f, "not a regular file"),
            Self::Truncated { size } => {
                write!(
                    f,
                    "truncated: {size} bytes, less than its {HEADER_LEN}-byte header"
                )
            }
            Self::TooLarge { size, limit } => write!(
                f,
                "{size} bytes, over the {limit}-byte limit for an index of its layer"
            ),
            Self::BadMagic => write!(f, "not an imagefs layer index (bad magic)"),
            Self::UnsupportedFormat { version } => write!(
                f,
                "index format version {version}; this build reads version {FORMAT_VERSION}"
            ),
            Self::HeaderChecksum => write!(f, "header checksum mismatch"),
            Self::WrongLayer { found } => write!(f, "its header names layer {found}"),
            Self::WrongKind { found } => write!(f, "its header names kind {found:?}"),
            Self::OtherVersion { found, expected } => write!(
                f,
                "payload version {found}; this build uses version {expected}"
            ),
            Self::LengthMismatch { recorded, found } => write!(
                f,
                "truncated or extended: its header records {recorded} payload bytes, the file \
                 holds {found}"
            ),
            Self::PayloadChecksum => write!(f, "payload checksum mismatch"),
        }
    }
}

impl std::error::Error for IndexDamage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unreadable(e) => Some(e),
            _ => None,
        }
    }
}

/// A stored index that cannot be used, and why: log it and rebuild.
#[derive(Debug)]
pub struct DamagedIndex {
    /// The file, as the kernel reaches it (see `pinned`); shown as the store's own path.
    pub path: PathBuf,
    pub layer: Digest,
    pub kind: String,
    pub damage: IndexDamage,
    /// Device and inode of the file examined, so a repair removes that file and not one a
    /// writer put in its place meanwhile.
    identity: Option<(u64, u64)>,
}

impl fmt::Display for DamagedIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "layer index {}: {}",
            shown(&self.path).display(),
            self.damage
        )
    }
}

impl std::error::Error for DamagedIndex {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.damage.source()
    }
}

/// The header fields that vary.
struct Header {
    payload_version: u32,
    kind: [u8; KIND_LEN],
    layer: Digest,
    length: u64,
    payload_sha: Digest,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..AT_FORMAT].copy_from_slice(MAGIC);
        h[AT_FORMAT..AT_PAYLOAD_VERSION].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        h[AT_PAYLOAD_VERSION..AT_KIND].copy_from_slice(&self.payload_version.to_le_bytes());
        h[AT_KIND..AT_LAYER].copy_from_slice(&self.kind);
        h[AT_LAYER..AT_LENGTH].copy_from_slice(self.layer.hex().as_bytes());
        h[AT_LENGTH..AT_PAYLOAD_SHA].copy_from_slice(&self.length.to_le_bytes());
        h[AT_PAYLOAD_SHA..AT_HEADER_SHA].copy_from_slice(self.payload_sha.hex().as_bytes());
        let own = Digest::of(&h[..AT_HEADER_SHA]);
        h[AT_HEADER_SHA..].copy_from_slice(own.hex().as_bytes());
        h
    }

    /// Checks magic, format and the header's checksum, in that order: a file that is not an
    /// index, or of another format, says so rather than "checksum mismatch".
    fn decode(h: &[u8; HEADER_LEN]) -> Result<Header, IndexDamage> {
        if &h[..AT_FORMAT] != MAGIC {
            return Err(IndexDamage::BadMagic);
        }
        let format = u32_at(h, AT_FORMAT);
        if format != FORMAT_VERSION {
            return Err(IndexDamage::UnsupportedFormat { version: format });
        }
        let own = Digest::of(&h[..AT_HEADER_SHA]);
        if own.hex().as_bytes() != &h[AT_HEADER_SHA..] {
            return Err(IndexDamage::HeaderChecksum);
        }
        // A header whose checksum matches was written by us: its digests parse.
        let digest_at = |at: usize| {
            std::str::from_utf8(&h[at..at + HEX_LEN])
                .ok()
                .and_then(|s| Digest::from_hex(s).ok())
                .ok_or(IndexDamage::HeaderChecksum)
        };
        let mut kind = [0u8; KIND_LEN];
        kind.copy_from_slice(&h[AT_KIND..AT_LAYER]);
        let mut length = [0u8; 8];
        length.copy_from_slice(&h[AT_LENGTH..AT_PAYLOAD_SHA]);
        Ok(Header {
            payload_version: u32_at(h, AT_PAYLOAD_VERSION),
            kind,
            layer: digest_at(AT_LAYER)?,
            length: u64::from_le_bytes(length),
            payload_sha: digest_at(AT_PAYLOAD_SHA)?,
        })
    }
}

fn u32_at(h: &[u8; HEADER_LEN], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&h[at..at + 4]);
    u32::from_le_bytes(b)
}

fn kind_field(name: &str) -> [u8; KIND_LEN] {
    let mut field = [0u8; KIND_LEN];
    let n = name.len().min(KIND_LEN);
    field[..n].copy_from_slice(&name.as_bytes()[..n]);
    field
}

fn kind_of_field(field: &[u8; KIND_LEN]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(KIND_LEN);
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Writes one index: `write_all` the payload, then [`IndexWriter::commit`]. Dropping it
/// uncommitted removes its temp file.
pub struct IndexWriter<'s> {
    store: &'s Store,
    layer: Digest,
    kind: IndexKind,
    limit: u64,
    file: BufWriter<File>,
    path: TempPath,
    hasher: Hasher,
}

impl IndexWriter<'_> {
    /// Payload bytes written so far.
    pub fn len(&self) -> u64 {
        self.hasher.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hasher.is_empty()
    }

    fn too_large(&self, size: u64) -> StoreError {
        StoreError::LayerIndexTooLarge {
            layer: self.layer,
            kind: self.kind.name,
            size,
            limit: self.limit,
        }
    }

    /// The sha256 of the payload written so far.
    pub fn payload_digest(&self) -> Digest {
        self.hasher.clone().finish()
    }

    /// Makes the index durable and publishes it, replacing any index of the same layer and
    /// kind. Fails with `BlobMissing` if the layer blob is gone (`gc` removed it meanwhile):
    /// an index is never left without its layer. Returns the file's size.
    pub fn commit(self) -> Result<u64, StoreError> {
        let length = self.hasher.len();
        if length > self.limit {
            return Err(self.too_large(length));
        }
        let header = Header {
            payload_version: self.kind.version,
            kind: kind_field(self.kind.name),
            layer: self.layer,
            length,
            payload_sha: self.hasher.clone().finish(),
        };
        let path = self.path;
        let file = self
            .file
            .into_inner()
            .map_err(|e| StoreError::io("write", &*path, e.into_error()))?;
        file.write_all_at(&header.encode(), 0)
            .map_err(|e| StoreError::io("write", &*path, e))?;
        file.sync_all()
            .map_err(|e| StoreError::io("sync", &*path, e))?;
        // Derived, never changed in place: a read-only mode says so (blobs have it too).
        file.set_permissions(fs::Permissions::from_mode(0o444))
            .map_err(|e| StoreError::io("chmod", &*path, e))?;
        let target = self.store.index_path(&self.layer, self.kind.name);
        // Under the shared gc lock: `gc` is not between removing the layer and sweeping its
        // indexes, so a layer present now stays until the rename is done.
        let _gc = self.store.lock(GC_LOCK_FILE, lock::Mode::Shared)?;
        if self.store.blob_size(&self.layer).is_none() {
            return Err(StoreError::BlobMissing { digest: self.layer });
        }
        path.persist(&target)
            .map_err(|e| StoreError::io("publish index", &target, e.error))?;
        sync_dir(&self.store.index_dir())?;
        Ok(HEADER_LEN as u64 + length)
    }
}

impl Write for IndexWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let after = self.hasher.len().saturating_add(buf.len() as u64);
        if after > self.limit {
            // Fail early: a producer past the limit would write gigabytes for nothing.
            return Err(io::Error::other(self.too_large(after)));
        }
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A verified index, read on demand: the payload is reached with `pread`, so a large index
/// (checkpoint windows) need not be held in memory. Safe to share between threads.
#[derive(Debug)]
pub struct IndexFile {
    file: File,
    len: u64,
    sha: Digest,
}

impl IndexFile {
    /// The payload's sha256 (verified when opened).
    pub fn payload_digest(&self) -> Digest {
        self.sha
    }

    /// The payload's length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Marks the index as just used (its mtime), for [`Store::trim_indexes`]. Best effort:
    /// a store of another user's keeps the old time.
    pub fn touch(&self) {
        let _ = self.file.set_modified(std::time::SystemTime::now());
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads payload bytes at `offset` (0 = the payload's first byte); 0 at or past the end.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let Some(left) = self.len.checked_sub(offset).filter(|&l| l > 0) else {
            return Ok(0);
        };
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        self.file.read_at(&mut buf[..n], HEADER_LEN as u64 + offset)
    }

    /// Fills `buf` from payload `offset`, or fails with `UnexpectedEof` past the payload's end.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} bytes at {offset} are past the index payload's {} bytes",
                    buf.len(),
                    self.len
                ),
            ));
        }
        self.file.read_exact_at(buf, HEADER_LEN as u64 + offset)
    }

    /// The payload from its start, as a stream.
    pub fn reader(&self) -> PayloadReader<'_> {
        PayloadReader {
            index: self,
            pos: 0,
        }
    }
}

/// Reads an [`IndexFile`]'s payload in order (each read a `pread`; the file offset is unused).
#[derive(Debug)]
pub struct PayloadReader<'a> {
    index: &'a IndexFile,
    pos: u64,
}

impl Read for PayloadReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.index.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Opens a stored file without following a symlink and without blocking on a FIFO put in its
/// place; only a regular file is returned.
fn open_regular(path: &std::path::Path) -> Result<(File, fs::Metadata), IndexDamage> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => IndexDamage::NotAFile,
            _ => IndexDamage::Unreadable(e),
        })?;
    let meta = file.metadata().map_err(IndexDamage::Unreadable)?;
    if !meta.is_file() {
        return Err(IndexDamage::NotAFile);
    }
    Ok((file, meta))
}

/// What a read of an index expects besides the container being sound.
struct Expected<'a> {
    layer: Digest,
    kind: &'a str,
    /// The producer's payload version; `None` accepts any (fsck, which knows no producer).
    version: Option<u32>,
    limit: u64,
}

/// Opens and checks everything but the payload's checksum; returns the file (positioned at the
/// payload) and the header.
fn open_checked(
    path: &std::path::Path,
    expected: &Expected<'_>,
) -> Result<(File, Header), IndexDamage> {
    let (mut file, meta) = open_regular(path)?;
    let size = meta.len();
    if size < HEADER_LEN as u64 {
        return Err(IndexDamage::Truncated { size });
    }
    let limit = expected.limit.saturating_add(HEADER_LEN as u64);
    if size > limit {
        return Err(IndexDamage::TooLarge { size, limit });
    }
    let mut h = [0u8; HEADER_LEN];
    file.read_exact(&mut h).map_err(IndexDamage::Unreadable)?;
    let header = Header::decode(&h)?;
    if header.layer != expected.layer {
        return Err(IndexDamage::WrongLayer {
            found: header.layer.to_string(),
        });
    }
    let kind = kind_of_field(&header.kind);
    if kind != expected.kind {
        return Err(IndexDamage::WrongKind { found: kind });
    }
    if let Some(version) = expected.version
        && header.payload_version != version
    {
        return Err(IndexDamage::OtherVersion {
            found: header.payload_version,
            expected: version,
        });
    }
    let found = size - HEADER_LEN as u64;
    if header.length != found {
        return Err(IndexDamage::LengthMismatch {
            recorded: header.length,
            found,
        });
    }
    Ok((file, header))
}

/// Hashes the rest of `file` (the payload, `header.length` bytes, at most) and compares.
fn verify_payload(file: &mut File, header: &Header) -> Result<(), IndexDamage> {
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut rest = file.take(header.length);
    loop {
        let n = rest.read(&mut buf).map_err(IndexDamage::Unreadable)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    check_payload(hasher, header)
}

fn check_payload(hasher: Hasher, header: &Header) -> Result<(), IndexDamage> {
    if hasher.len() != header.length {
        // The file shrank since it was measured.
        return Err(IndexDamage::LengthMismatch {
            recorded: header.length,
            found: hasher.len(),
        });
    }
    if hasher.finish() != header.payload_sha {
        return Err(IndexDamage::PayloadChecksum);
    }
    Ok(())
}

impl Store {
    fn index_dir(&self) -> PathBuf {
        self.dirs.indexes(INDEX_DIR)
    }

    /// The one place an index path is made: a validated digest and a kind name of
    /// [`IndexKind`]'s grammar (checked when built, or when listed).
    fn index_path(&self, layer: &Digest, kind: &str) -> PathBuf {
        self.index_dir().join(format!("{}.{kind}", layer.hex()))
    }

    fn limit_for(&self, layer: &Digest) -> u64 {
        index_size_limit(self.blob_size(layer).unwrap_or(0))
    }

    fn damaged(&self, layer: &Digest, kind: &str, damage: IndexDamage) -> DamagedIndex {
        let path = self.index_path(layer, kind);
        let identity = fs::symlink_metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        DamagedIndex {
            path,
            layer: *layer,
            kind: kind.to_string(),
            damage,
            identity,
        }
    }

    /// Starts writing the `kind` index of `layer`, which must be stored. Fails with
    /// [`StoreError::ReadOnly`] on a read-only store (callers then keep what they built in
    /// memory: nothing is written there).
    pub fn index_writer(
        &self,
        layer: &Digest,
        kind: IndexKind,
    ) -> Result<IndexWriter<'_>, StoreError> {
        self.check_writable("write layer indexes")?;
        let Some(layer_size) = self.blob_size(layer) else {
            return Err(StoreError::BlobMissing { digest: *layer });
        };
        let dir = self.index_dir();
        let named = tempfile::Builder::new()
            .prefix(TMP_PREFIX)
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io("create a temp file in", &dir, e))?;
        lock::lock_file(named.as_file(), lock::Mode::Exclusive)
            .map_err(|e| StoreError::io("lock", named.path().to_owned(), e))?;
        let (file, path) = named.into_parts();
        let mut file = BufWriter::with_capacity(64 << 10, file);
        // The header is written last, once the payload's length and checksum are known.
        file.write_all(&[0u8; HEADER_LEN])
            .map_err(|e| StoreError::io("write", &*path, e))?;
        Ok(IndexWriter {
            store: self,
            layer: *layer,
            kind,
            limit: if kind.streamed {
                u64::MAX
            } else {
                index_size_limit(layer_size)
            },
            file,
            path,
            hasher: Hasher::new(),
        })
    }

    /// Writes the `kind` index of `layer` whole (see [`Store::index_writer`]).
    pub fn write_index(
        &self,
        layer: &Digest,
        kind: IndexKind,
        payload: &[u8],
    ) -> Result<u64, StoreError> {
        let mut w = self.index_writer(layer, kind)?;
        w.write_all(payload)
            .map_err(|e| match e.downcast::<StoreError>() {
                Ok(e) => e,
                Err(e) => StoreError::io("write", &*w.path, e),
            })?;
        w.commit()
    }

    /// The `kind` index of `layer`, verified, read whole (at most [`index_size_limit`] of the
    /// layer). `Ok(None)`: there is none. `Err`: there is one we do not use (damaged, another
    /// version, unreadable): log it and rebuild; the next write replaces it.
    pub fn read_index(
        &self,
        layer: &Digest,
        kind: IndexKind,
    ) -> Result<Option<Vec<u8>>, DamagedIndex> {
        assert!(!kind.streamed, "{} indexes are only streamed", kind.name);
        let Some((mut file, header)) = self.open_index_file(layer, kind)? else {
            return Ok(None);
        };
        // Bounded: the length matched the file's size, which is within the limit.
        let mut payload = Vec::with_capacity(header.length as usize);
        (&mut file)
            .take(header.length)
            .read_to_end(&mut payload)
            .map_err(|e| self.damaged(layer, kind.name, IndexDamage::Unreadable(e)))?;
        let mut hasher = Hasher::new();
        hasher.update(&payload);
        check_payload(hasher, &header).map_err(|d| self.damaged(layer, kind.name, d))?;
        Ok(Some(payload))
    }

    /// Like [`Store::read_index`], but verified in one streaming pass and then read on demand
    /// ([`IndexFile::read_at`]): memory does not grow with the index.
    pub fn open_index(
        &self,
        layer: &Digest,
        kind: IndexKind,
    ) -> Result<Option<IndexFile>, DamagedIndex> {
        let Some((mut file, header)) = self.open_index_file(layer, kind)? else {
            return Ok(None);
        };
        verify_payload(&mut file, &header).map_err(|d| self.damaged(layer, kind.name, d))?;
        Ok(Some(IndexFile {
            file,
            len: header.length,
            sha: header.payload_sha,
        }))
    }

    fn open_index_file(
        &self,
        layer: &Digest,
        kind: IndexKind,
    ) -> Result<Option<(File, Header)>, DamagedIndex> {
        let expected = Expected {
            layer: *layer,
            kind: kind.name,
            version: Some(kind.version),
            limit: if kind.streamed {
                u64::MAX
            } else {
                self.limit_for(layer)
            },
        };
        match open_checked(&self.index_path(layer, kind.name), &expected) {
            Ok(found) => Ok(Some(found)),
            Err(IndexDamage::Unreadable(e)) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(damage) => Err(self.damaged(layer, kind.name, damage)),
        }
    }

    /// Every index file by its name (`<layer-hex>.<kind>`), sorted; other names (temp files,
    /// strangers) are not listed. None in a store without an index directory.
    pub fn list_indexes(&self) -> Result<Vec<StoredIndex>, StoreError> {
        let dir = self.index_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("list", &dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
            let name = entry.file_name();
            let Some((hex, kind)) = name.to_str().and_then(|n| n.split_once('.')) else {
                continue;
            };
            let Ok(layer) = Digest::from_hex(hex) else {
                continue;
            };
            if !valid_kind_name(kind.as_bytes()) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(StoredIndex {
                layer,
                kind: kind.to_string(),
                size,
            });
        }
        out.sort();
        Ok(out)
    }

    /// Verifies an index's container (header, checksums, that it is the index its name says),
    /// whatever its payload version, in one streaming pass. Used by `fsck`.
    pub fn verify_index(&self, index: &StoredIndex) -> Result<(), DamagedIndex> {
        // Nothing here is held in memory, so an index is judged on its checksums alone: the
        // size limit of its kind (unknown here: streamed kinds have none) is the reader's.
        let limit = u64::MAX;
        let expected = Expected {
            layer: index.layer,
            kind: &index.kind,
            version: None,
            limit,
        };
        let damaged = |d| self.damaged(&index.layer, &index.kind, d);
        let (mut file, header) =
            open_checked(&self.index_path(&index.layer, &index.kind), &expected)
                .map_err(damaged)?;
        verify_payload(&mut file, &header).map_err(damaged)
    }

    /// Removes a damaged index, unless a writer replaced it since it was examined (then the
    /// new one stays, and this returns `None`). Returns the bytes freed.
    pub fn remove_damaged_index(&self, damaged: &DamagedIndex) -> Result<Option<u64>, StoreError> {
        self.check_writable("remove layer indexes")?;
        let path = self.index_path(&damaged.layer, &damaged.kind);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("stat", &path, e)),
        };
        // A directory in an index's place is not ours to empty: it stays, and fsck says so.
        if damaged.identity != Some((meta.dev(), meta.ino())) || meta.is_dir() {
            return Ok(None);
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("remove", &path, e)),
        }
    }

    /// Removes indexes of `kind`, least recently used (oldest mtime) first, until those left
    /// take at most `budget` bytes; returns how many went. For kinds kept as a cache.
    pub fn trim_indexes(&self, kind: IndexKind, budget: u64) -> Result<RemovedIndexes, StoreError> {
        self.check_writable("remove layer indexes")?;
        let dir = self.index_dir();
        let mut kept: Vec<(std::time::SystemTime, StoredIndex)> = Vec::new();
        for index in self.list_indexes()? {
            if index.kind != kind.name {
                continue;
            }
            let path = self.index_path(&index.layer, &index.kind);
            let used = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            kept.push((used, index));
        }
        kept.sort_by_key(|(used, _)| *used);
        let mut total: u64 = kept.iter().map(|(_, i)| i.size).sum();
        let mut removed = RemovedIndexes::default();
        for (_, index) in kept {
            if total <= budget {
                break;
            }
            let freed = remove_file(&self.index_path(&index.layer, &index.kind), index.size)?;
            total = total.saturating_sub(index.size);
            removed.count += 1;
            removed.bytes += freed;
        }
        if removed.count > 0 {
            sync_dir(&dir)?;
        }
        Ok(removed)
    }

    /// Removes the indexes whose layer blob is not stored. Call under the exclusive gc lock
    /// (`gc`), so that no index is being published meanwhile; `fsck --repair` calls it without,
    /// which at worst removes an index written in the same instant for a layer imported in the
    /// same instant (it is rebuilt).
    pub fn remove_orphan_indexes(&self) -> Result<RemovedIndexes, StoreError> {
        self.check_writable("remove layer indexes")?;
        let mut removed = RemovedIndexes::default();
        for index in self.list_indexes()? {
            if self.blob_size(&index.layer).is_some() {
                continue;
            }
            let freed = remove_file(&self.index_path(&index.layer, &index.kind), index.size)?;
            removed.count += 1;
            removed.bytes += freed;
        }
        Ok(removed)
    }

    /// Temp files in the index directory whose writer is gone (`fsck`): not locked by anyone,
    /// and older than the moment between creating and locking one.
    pub fn find_abandoned_index_files(&self) -> Result<AbandonedFiles, StoreError> {
        self.abandoned_index_files(false)
    }

    /// Removes the temp files [`Store::find_abandoned_index_files`] finds (`gc`).
    pub fn remove_abandoned_index_files(&self) -> Result<AbandonedFiles, StoreError> {
        self.check_writable("remove temp files")?;
        self.abandoned_index_files(true)
    }

    fn abandoned_index_files(&self, remove: bool) -> Result<AbandonedFiles, StoreError> {
        let dir = self.index_dir();
        let mut found = AbandonedFiles::default();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(StoreError::io("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("list", &dir, e))?;
            if !entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TMP_PREFIX))
            {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let old_enough = meta
                .modified()
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > TMP_LOCK_GRACE));
            if !meta.is_file() || !old_enough {
                continue;
            }
            // Held while removing, so that the writer cannot be alive after all.
            let Ok(Some(_held)) = lock::try_lock(&entry.path(), lock::Mode::Exclusive) else {
                continue;
            };
            if remove && fs::remove_file(entry.path()).is_err() {
                continue;
            }
            found.count += 1;
            found.bytes += meta.len();
        }
        Ok(found)
    }
}

fn remove_file(path: &std::path::Path, size: u64) -> Result<u64, StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(size),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests;
