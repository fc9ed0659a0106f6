//! The table of contents of one layer: every entry of its decompressed tar stream, read once,
//! with what a file system needs (normalised path, kind, mode, owner, size, mtime with
//! nanoseconds, device numbers, xattrs, link target) and where its data starts in the stream.
//!
//! Paths, link targets and xattrs live in byte arenas; an entry is a fixed-size record, so a
//! layer of a million files costs about 64 MB plus its names. Whiteouts (`.wh.<name>`) and opaque
//! markers (`.wh..wh..opq`, image-spec layer.md "Whiteouts") are entries of their own kinds whose
//! path is what they hide. Everything the input controls is bounded ([`TocLimits`]).

use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::archive::tar_reader::{self, HeaderError, Kind, Member, Skip, TarReader};

/// image-spec layer.md: "a whiteout file is an empty file with a special filename that signifies
/// a path should be deleted", `.wh.` + the name.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// image-spec layer.md "Opaque Whiteout": a directory's lower children are hidden.
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// How many skipped entries are kept with their path; the rest are only counted.
const MAX_SKIPS_KEPT: usize = 1000;

/// Bounds on what one layer may make the table hold. A hostile layer hits one and fails with
/// [`TocError::TooLarge`] instead of growing memory without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TocLimits {
    /// Entries, whiteouts included. Default 4 million (about 256 MB of records): the largest
    /// real layers (whole distributions, node_modules trees) hold a few hundred thousand.
    pub max_entries: usize,
    /// Bytes of paths plus link targets. Default 512 MiB (paths are at most 4 KiB each).
    pub max_name_bytes: usize,
    /// Bytes of xattr names plus values. Default 64 MiB (each PAX header is capped at 1 MiB).
    pub max_xattr_bytes: usize,
}

impl Default for TocLimits {
    fn default() -> TocLimits {
        TocLimits {
            max_entries: 4_000_000,
            max_name_bytes: 512 << 20,
            max_xattr_bytes: 64 << 20,
        }
    }
}

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EntryKind {
    Regular = 0,
    Directory = 1,
    /// The link target is in [`TocEntry::link`], verbatim.
    Symlink = 2,
    /// A second name for an earlier file; [`TocEntry::link`] is the target's path, normalised.
    HardLink = 3,
    Fifo = 4,
    CharDevice = 5,
    BlockDevice = 6,
    /// `.wh.<name>`: the path (without the prefix) is deleted from lower layers.
    Whiteout = 7,
    /// `.wh..wh..opq`: the path is the directory whose lower children are hidden.
    Opaque = 8,
}

impl EntryKind {
    fn from_u8(v: u8) -> Option<EntryKind> {
        use EntryKind::*;
        Some(match v {
            0 => Regular,
            1 => Directory,
            2 => Symlink,
            3 => HardLink,
            4 => Fifo,
            5 => CharDevice,
            6 => BlockDevice,
            7 => Whiteout,
            8 => Opaque,
            _ => return None,
        })
    }
}

/// One fixed-size record; variable parts are ranges into the arenas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    path_off: u32,
    path_len: u16,
    link_len: u16,
    kind: EntryKind,
    mode: u16,
    uid: u32,
    gid: u32,
    size: u64,
    data_offset: u64,
    mtime_secs: i64,
    mtime_nanos: u32,
    major: u32,
    minor: u32,
    xattr_off: u32,
    xattr_count: u32,
}

/// The table of contents of one layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerToc {
    records: Vec<Record>,
    /// Each entry's path followed by its link target.
    names: Vec<u8>,
    /// Per xattr: name length (u16 LE), value length (u32 LE), name, value.
    xattrs: Vec<u8>,
    /// Entries skipped while reading (kept or not in the reader's list).
    skipped: u64,
}

/// A view of one entry.
#[derive(Clone, Copy, Debug)]
pub struct TocEntry<'t> {
    toc: &'t LayerToc,
    record: &'t Record,
}

impl<'t> TocEntry<'t> {
    /// The normalised path: no leading `/` or `./`, no `.` or empty components, never `..`;
    /// empty for the root directory.
    pub fn path(&self) -> &'t [u8] {
        let start = self.record.path_off as usize;
        &self.toc.names[start..start + self.record.path_len as usize]
    }
    /// The last component of the path (empty for the root).
    pub fn name(&self) -> &'t [u8] {
        let path = self.path();
        match path.iter().rposition(|&b| b == b'/') {
            Some(i) => &path[i + 1..],
            None => path,
        }
    }
    /// A symlink's target (verbatim) or a hard link's target path (normalised); else empty.
    pub fn link(&self) -> &'t [u8] {
        let start = self.record.path_off as usize + self.record.path_len as usize;
        &self.toc.names[start..start + self.record.link_len as usize]
    }
    pub fn kind(&self) -> EntryKind {
        self.record.kind
    }
    /// Permission bits with setuid, setgid and sticky.
    pub fn mode(&self) -> u32 {
        u32::from(self.record.mode)
    }
    pub fn uid(&self) -> u32 {
        self.record.uid
    }
    pub fn gid(&self) -> u32 {
        self.record.gid
    }
    /// Bytes of data (regular files; zero for the rest).
    pub fn size(&self) -> u64 {
        self.record.size
    }
    /// Where the data starts in the decompressed layer stream.
    pub fn data_offset(&self) -> u64 {
        self.record.data_offset
    }
    /// Seconds since the epoch and nanoseconds.
    pub fn mtime(&self) -> (i64, u32) {
        (self.record.mtime_secs, self.record.mtime_nanos)
    }
    /// Major and minor numbers of a device node.
    pub fn device(&self) -> (u32, u32) {
        (self.record.major, self.record.minor)
    }
    /// Extended attributes (name, value), in the order the PAX header gave them.
    pub fn xattrs(&self) -> Xattrs<'t> {
        Xattrs {
            rest: &self.toc.xattrs[self.record.xattr_off as usize..],
            left: self.record.xattr_count,
        }
    }
}

/// The xattrs of one entry.
#[derive(Clone, Debug)]
pub struct Xattrs<'t> {
    rest: &'t [u8],
    left: u32,
}

impl<'t> Iterator for Xattrs<'t> {
    type Item = (&'t [u8], &'t [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The layout was checked when the table was built or decoded.
        let name_len = u16::from_le_bytes([self.rest[0], self.rest[1]]) as usize;
        let value_len = u32::from_le_bytes(self.rest[2..6].try_into().ok()?) as usize;
        let (name, rest) = self.rest[6..].split_at(name_len);
        let (value, rest) = rest.split_at(value_len);
        self.rest = rest;
        Some((name, value))
    }
}

/// An entry left out of the table; the layer stays usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Its path as the archive spells it.
    pub path: Vec<u8>,
    /// Where its header's data would start in the decompressed stream.
    pub data_offset: u64,
    pub reason: SkipReason,
}

/// Why an entry was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A `..` component: it would escape the root or depend on resolution.
    DotDot,
    /// An empty name, or a non-directory naming the root.
    EmptyName,
    /// A hard link whose target is empty, the root, or has a `..` component.
    BadLinkTarget,
    /// A header field or PAX record that does not parse (named).
    BadField(&'static str),
    /// A uid or gid over 2^32 - 1, or device numbers over 2^32 - 1.
    OutOfRange(&'static str),
    /// A type flag with no file behind it here (GNU sparse `S`, volume labels, …).
    UnsupportedType(u8),
    /// AUFS metadata (`.wh..wh.<x>` other than the opaque marker), which no runtime applies.
    AufsMetadata,
    /// A GNU sparse file in PAX form (`GNU.sparse.*` records): its data is a map and segments,
    /// which this table cannot serve as the file's bytes.
    Sparse,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::DotDot => f.write_str("path has a '..' component"),
            SkipReason::EmptyName => f.write_str("empty name"),
            SkipReason::BadLinkTarget => f.write_str("hard link target is empty or has '..'"),
            SkipReason::BadField(field) => write!(f, "{field} does not parse"),
            SkipReason::OutOfRange(field) => write!(f, "{field} is out of range"),
            SkipReason::UnsupportedType(flag) => {
                write!(f, "unsupported tar type flag {:?}", char::from(*flag))
            }
            SkipReason::AufsMetadata => f.write_str("AUFS metadata entry"),
            SkipReason::Sparse => f.write_str("GNU sparse file (PAX format), not supported"),
        }
    }
}

/// Why a layer's table could not be read.
#[derive(Debug)]
pub enum TocError {
    /// Reading the input failed.
    Input(io::Error),
    /// The tar stream is malformed; `after` is the path of the member before (`None`: the first).
    Tar {
        after: Option<String>,
        reason: String,
    },
    /// The layer holds more than a [`TocLimits`] bound allows.
    TooLarge { what: &'static str, limit: usize },
    /// Stored table bytes that are not a table this build writes (version, checksum, layout).
    BadIndex { reason: String },
}

impl fmt::Display for TocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TocError::Input(_) => f.write_str("reading the layer failed"),
            TocError::Tar {
                after: None,
                reason,
            } => {
                write!(f, "layer tar is malformed at its first header: {reason}")
            }
            TocError::Tar {
                after: Some(after),
                reason,
            } => write!(f, "layer tar is malformed after {after:?}: {reason}"),
            TocError::TooLarge { what, limit } => {
                write!(f, "layer has more {what} than the limit of {limit}")
            }
            TocError::BadIndex { reason } => write!(f, "stored layer table is unusable: {reason}"),
        }
    }
}

impl std::error::Error for TocError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TocError::Input(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads a decompressed stream, passing over data by reading it.
struct Stream<R>(R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Skip for Stream<R> {}

impl LayerToc {
    /// Reads a layer's decompressed tar stream once. Entries that cannot be shown are skipped
    /// and returned (the first [`MAX_SKIPS_KEPT`]; [`LayerToc::skipped`] counts all); a stream
    /// that is not a tar, or a layer over `limits`, is an error.
    pub fn read(
        input: impl Read,
        limits: &TocLimits,
    ) -> Result<(LayerToc, Vec<Skipped>), TocError> {
        let mut tar = TarReader::new(Stream(input));
        let mut toc = LayerToc::default();
        let mut skips = Vec::new();
        // The previous member's path, for errors; one buffer reused, a String only on failure.
        let mut last_path: Option<Vec<u8>> = None;
        loop {
            let member = match tar.next_member() {
                Ok(Some(member)) => member,
                Ok(None) => break,
                // A layer without the end-of-archive blocks: Go's reader (and so containerd)
                // accepts io.EOF at a header boundary as the end.
                Err(HeaderError::NoEndOfArchive) => break,
                Err(e) => {
                    let after = last_path.map(|p| String::from_utf8_lossy(&p).into_owned());
                    return Err(tar_error(after, e));
                }
            };
            let last = last_path.get_or_insert_with(Vec::new);
            last.clear();
            last.extend_from_slice(&member.path);
            match toc.add(&member, limits)? {
                Ok(()) => {}
                Err(reason) => {
                    toc.skipped += 1;
                    if skips.len() < MAX_SKIPS_KEPT {
                        skips.push(Skipped {
                            path: member.path.clone(),
                            data_offset: member.data_offset,
                            reason,
                        });
                    }
                }
            }
        }
        Ok((toc, skips))
    }

    /// Adds one member; `Ok(Err(_))` when it is skipped.
    fn add(
        &mut self,
        member: &Member,
        limits: &TocLimits,
    ) -> Result<Result<(), SkipReason>, TocError> {
        let mut kind = match member.kind {
            Kind::Regular => EntryKind::Regular,
            Kind::Directory => EntryKind::Directory,
            Kind::Symlink => EntryKind::Symlink,
            Kind::HardLink => EntryKind::HardLink,
            Kind::CharDevice => EntryKind::CharDevice,
            Kind::BlockDevice => EntryKind::BlockDevice,
            Kind::Fifo => EntryKind::Fifo,
            // Describes the archive, not a file (Go and containerd ignore it).
            Kind::GlobalHeader => return Ok(Ok(())),
            Kind::Other(flag) => return Ok(Err(SkipReason::UnsupportedType(flag))),
        };
        let attrs = &member.attrs;
        if let Some(field) = attrs.bad_field {
            return Ok(Err(SkipReason::BadField(field)));
        }
        if attrs.sparse {
            return Ok(Err(SkipReason::Sparse));
        }
        let mut path = match normalise(&member.path) {
            Ok(path) => path,
            Err(reason) => return Ok(Err(reason)),
        };
        let name_start = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        let name = &path[name_start..];
        if name == OPAQUE_MARKER {
            kind = EntryKind::Opaque;
            path.truncate(name_start.saturating_sub(1));
        } else if name.starts_with(b".wh..wh.") {
            return Ok(Err(SkipReason::AufsMetadata));
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Ok(Err(SkipReason::EmptyName));
            }
            kind = EntryKind::Whiteout;
            path.drain(name_start..name_start + WHITEOUT_PREFIX.len());
        }
        if path.is_empty() && !matches!(kind, EntryKind::Directory | EntryKind::Opaque) {
            return Ok(Err(SkipReason::EmptyName));
        }
        let link: Vec<u8> = match kind {
            EntryKind::Symlink => member.link.clone(),
            EntryKind::HardLink => match normalise(&member.link) {
                Ok(target) if !target.is_empty() => target,
                _ => return Ok(Err(SkipReason::BadLinkTarget)),
            },
            _ => Vec::new(),
        };
        let (Ok(uid), Ok(gid)) = (u32::try_from(attrs.uid), u32::try_from(attrs.gid)) else {
            return Ok(Err(SkipReason::OutOfRange("uid or gid")));
        };
        let (major, minor) = match kind {
            EntryKind::CharDevice | EntryKind::BlockDevice => {
                match (u32::try_from(attrs.device.0), u32::try_from(attrs.device.1)) {
                    (Ok(major), Ok(minor)) => (major, minor),
                    _ => return Ok(Err(SkipReason::OutOfRange("device number"))),
                }
            }
            _ => (0, 0),
        };
        // Only regular files have data a reader fetches; a hard link's or a device's size
        // field is not content (Go's reader zeroes it for links, devices and fifos).
        let size = if kind == EntryKind::Regular {
            member.size
        } else {
            0
        };

        if self.records.len() >= limits.max_entries {
            return Err(TocError::TooLarge {
                what: "entries",
                limit: limits.max_entries,
            });
        }
        let path_off = self.names.len();
        if path_off + path.len() + link.len() > limits.max_name_bytes.min(u32::MAX as usize) {
            return Err(TocError::TooLarge {
                what: "bytes of paths and link targets",
                limit: limits.max_name_bytes,
            });
        }
        let xattr_off = self.xattrs.len();
        let xattr_len: usize = attrs
            .xattrs
            .iter()
            .map(|(n, v)| 6 + n.len() + v.len())
            .sum();
        if xattr_off + xattr_len > limits.max_xattr_bytes.min(u32::MAX as usize) {
            return Err(TocError::TooLarge {
                what: "bytes of xattrs",
                limit: limits.max_xattr_bytes,
            });
        }
        let mut xattr_count = 0u32;
        for (xname, value) in &attrs.xattrs {
            // Linux caps names at 255 bytes and values at 64 KiB (XATTR_NAME_MAX, XATTR_SIZE_MAX);
            // the PAX header holding them is capped at 1 MiB.
            let (Ok(name_len), Ok(value_len)) =
                (u16::try_from(xname.len()), u32::try_from(value.len()))
            else {
                return Ok(Err(SkipReason::OutOfRange("xattr")));
            };
            self.xattrs.extend_from_slice(&name_len.to_le_bytes());
            self.xattrs.extend_from_slice(&value_len.to_le_bytes());
            self.xattrs.extend_from_slice(xname);
            self.xattrs.extend_from_slice(value);
            xattr_count += 1;
        }
        self.names.extend_from_slice(&path);
        self.names.extend_from_slice(&link);
        // Paths and links are at most tar_reader::MAX_PATH (4096) bytes, so they fit a u16.
        const _: () = assert!(tar_reader::MAX_PATH <= u16::MAX as u64);
        self.records.push(Record {
            path_off: path_off as u32,
            path_len: path.len() as u16,
            link_len: link.len() as u16,
            kind,
            mode: (attrs.mode & 0o7777) as u16,
            uid,
            gid,
            size,
            data_offset: member.data_offset,
            mtime_secs: attrs.mtime.0,
            mtime_nanos: attrs.mtime.1,
            major,
            minor,
            xattr_off: xattr_off as u32,
            xattr_count,
        });
        Ok(Ok(()))
    }

    /// Entries in archive order.
    pub fn len(&self) -> usize {
        self.records.len()
    }
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
    /// Entry `index` (archive order, skipped entries not counted).
    pub fn entry(&self, index: usize) -> Option<TocEntry<'_>> {
        self.records
            .get(index)
            .map(|record| TocEntry { toc: self, record })
    }
    pub fn entries(&self) -> impl ExactSizeIterator<Item = TocEntry<'_>> {
        self.records
            .iter()
            .map(|record| TocEntry { toc: self, record })
    }
    /// How many entries reading skipped (all of them, also those not kept in the list).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The table as bytes to store: a magic, a version byte, the records and arenas, and a
    /// SHA-256 of everything before it, so a damaged or foreign file is refused, never misread.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            HEADER_LEN
                + self.records.len() * RECORD_LEN
                + self.names.len()
                + self.xattrs.len()
                + 32,
        );
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&(self.records.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.names.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.xattrs.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.skipped.to_le_bytes());
        for r in &self.records {
            out.extend_from_slice(&r.path_off.to_le_bytes());
            out.extend_from_slice(&r.path_len.to_le_bytes());
            out.extend_from_slice(&r.link_len.to_le_bytes());
            out.push(r.kind as u8);
            out.extend_from_slice(&r.mode.to_le_bytes());
            out.extend_from_slice(&r.uid.to_le_bytes());
            out.extend_from_slice(&r.gid.to_le_bytes());
            out.extend_from_slice(&r.size.to_le_bytes());
            out.extend_from_slice(&r.data_offset.to_le_bytes());
            out.extend_from_slice(&r.mtime_secs.to_le_bytes());
            out.extend_from_slice(&r.mtime_nanos.to_le_bytes());
            out.extend_from_slice(&r.major.to_le_bytes());
            out.extend_from_slice(&r.minor.to_le_bytes());
            out.extend_from_slice(&r.xattr_off.to_le_bytes());
            out.extend_from_slice(&r.xattr_count.to_le_bytes());
        }
        out.extend_from_slice(&self.names);
        out.extend_from_slice(&self.xattrs);
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Decodes [`LayerToc::to_bytes`] output, checking the checksum and every range, so that
    /// bytes from a damaged file fail here rather than panic later.
    pub fn from_bytes(bytes: &[u8]) -> Result<LayerToc, TocError> {
        let bad = |reason: &str| TocError::BadIndex {
            reason: reason.to_string(),
        };
        if bytes.len() < HEADER_LEN + 32 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a layer table (magic)"));
        }
        if bytes[MAGIC.len()] != FORMAT_VERSION {
            return Err(bad(&format!(
                "format version {} (this build reads {FORMAT_VERSION})",
                bytes[MAGIC.len()]
            )));
        }
        let (body, sum) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            return Err(bad("checksum mismatch"));
        }
        let mut cur = Cursor {
            bytes: body,
            pos: MAGIC.len() + 1,
        };
        let count = cur.u64()?;
        let names_len = cur.u64()?;
        let xattrs_len = cur.u64()?;
        let skipped = cur.u64()?;
        let expected = (count as u128) * RECORD_LEN as u128
            + names_len as u128
            + xattrs_len as u128
            + HEADER_LEN as u128;
        if expected != body.len() as u128 {
            return Err(bad("lengths do not add up"));
        }
        let mut records = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let record = Record {
                path_off: cur.u32()?,
                path_len: cur.u16()?,
                link_len: cur.u16()?,
                kind: EntryKind::from_u8(cur.u8()?).ok_or_else(|| bad("unknown entry kind"))?,
                mode: cur.u16()?,
                uid: cur.u32()?,
                gid: cur.u32()?,
                size: cur.u64()?,
                data_offset: cur.u64()?,
                mtime_secs: cur.u64()? as i64,
                mtime_nanos: cur.u32()?,
                major: cur.u32()?,
                minor: cur.u32()?,
                xattr_off: cur.u32()?,
                xattr_count: cur.u32()?,
            };
            let names_end =
                record.path_off as u64 + record.path_len as u64 + record.link_len as u64;
            if names_end > names_len || record.mtime_nanos >= 1_000_000_000 {
                return Err(bad("an entry points outside the name table"));
            }
            records.push(record);
        }
        let names = cur.take(names_len as usize)?.to_vec();
        let xattrs = cur.take(xattrs_len as usize)?.to_vec();
        // The writer lays each entry's xattrs out after the previous entry's: requiring that
        // keeps this check linear (entries pointing at one shared run could make it quadratic).
        let mut end = 0usize;
        for r in &records {
            if r.xattr_off as usize != end {
                return Err(bad(
                    "an entry's xattrs are not where the previous entry's end",
                ));
            }
            end = check_xattrs(&xattrs, end, r.xattr_count)
                .ok_or_else(|| bad("an entry's xattrs point outside the xattr table"))?;
        }
        if end != xattrs.len() {
            return Err(bad("the xattr table holds bytes no entry names"));
        }
        Ok(LayerToc {
            records,
            names,
            xattrs,
            skipped,
        })
    }
}

const MAGIC: &[u8] = b"imagefs-toc\0";
/// Bumped whenever the layout changes; an older table is rebuilt, never misread.
const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 12 + 1 + 4 * 8;
const RECORD_LEN: usize = 4 + 2 + 2 + 1 + 2 + 4 + 4 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 4;

struct Cursor<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Cursor<'b> {
    fn take(&mut self, n: usize) -> Result<&'b [u8], TocError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| TocError::BadIndex {
            reason: "truncated".to_string(),
        })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, TocError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, TocError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, TocError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, TocError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// Whether `count` xattr records starting at `off` lie inside `table`.
/// The end of `count` xattr records starting at `off`, if they lie within `table`.
fn check_xattrs(table: &[u8], mut off: usize, count: u32) -> Option<usize> {
    for _ in 0..count {
        let head = table.get(off..off.checked_add(6)?)?;
        let name_len = u16::from_le_bytes([head[0], head[1]]) as usize;
        let value_len = u32::from_le_bytes(head[2..6].try_into().ok()?) as usize;
        off = off.checked_add(6 + name_len)?.checked_add(value_len)?;
        if off > table.len() {
            return None;
        }
    }
    Some(off)
}

/// A member path as a clean relative path: leading `/` and `./` dropped, empty and `.`
/// components dropped, `..` refused (containerd cleans the name and keeps it inside the root,
/// archive/tar.go `applyNaive`; a layer that needs `..` to mean something is not one we show).
fn normalise(raw: &[u8]) -> Result<Vec<u8>, SkipReason> {
    if raw.is_empty() {
        return Err(SkipReason::EmptyName);
    }
    let mut out = Vec::with_capacity(raw.len());
    for component in raw.split(|&b| b == b'/') {
        match component {
            b"" | b"." => {}
            b".." => return Err(SkipReason::DotDot),
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(component);
            }
        }
    }
    Ok(out)
}

fn tar_error(after: Option<String>, e: HeaderError) -> TocError {
    let reason = match e {
        HeaderError::Io(e) => return TocError::Input(e),
        HeaderError::Truncated => "the stream ends inside an entry".to_string(),
        HeaderError::NoEndOfArchive => "no end-of-archive blocks".to_string(),
        HeaderError::Malformed(reason) => reason,
        HeaderError::TooLarge { kind, size, limit } => {
            format!("{kind} of {size} bytes is over the limit of {limit}")
        }
    };
    TocError::Tar { after, reason }
}

#[cfg(test)]
mod tests;
