//! Random access into gzip layers ("zran", madler/zlib examples/zran.c; AWS SOCI
//! ztoc/compression/gzip_zinfo.c does the same for container layers).
//!
//! One pass over the compressed blob ([`GzipIndex::build`], or [`IndexingReader`] when the caller
//! also wants the decompressed bytes, e.g. to read the tar) inflates it with `Z_BLOCK` and, at a
//! deflate block boundary whenever at least `span` bytes of output have passed since the last
//! checkpoint, records a [`Checkpoint`]: the uncompressed and compressed offsets, the bit offset
//! inside that byte, and the 32 KiB of output before it (the window deflate may refer back to).
//! [`GzipReader`] then serves reads at any uncompressed offset: it restarts a raw inflater at the
//! checkpoint at or before it (`inflatePrime` the leftover bits, `inflateSetDictionary` the
//! window), discards up to the offset and reads on, keeping that inflater live so that the next
//! read where this one ended continues instead of restarting (ratarmount's lesson: indexed_gzip
//! restarted per read, indexed_gzip#89).
//!
//! Multi-member streams (pigz, concatenated `gzip` outputs, empty members) are followed across
//! members: the framing (RFC 1952 header and trailer) is parsed here, the inflater only sees
//! deflate data. Building checks every member's CRC-32 and ISIZE, so a built index vouches for
//! the whole stream; anything after the last member that is not another member is an error, as
//! in Go's `compress/gzip` reader that computed the layer's diff_id.
//!
//! Memory: the windows are the index. They are kept deflated (a window of text packs to about a
//! third; of random data, not at all), so an index holds at most about `32 KiB ×
//! uncompressed size / span`: 8 MiB for a 1 GiB layer at the 4 MiB [`DEFAULT_SPAN`] (SOCI's
//! default), less when the data compresses. Building needs the same plus one 64 KiB input
//! buffer and one 32 KiB output window, whatever the layer's size. Reading restarts inflate at
//! most `span` (plus one deflate block) of output before the offset it serves.

mod build;
mod format;
mod inflate;
mod input;
mod reader;

use std::fmt;
use std::io::{self, Read, Write};

pub use build::IndexingReader;
pub use reader::GzipReader;

/// SOCI's default span (soci-snapshotter docs: 4 MiB): a cold read inflates 2 MiB on average.
pub const DEFAULT_SPAN: u64 = 4 << 20;

/// Checkpoints into one gzip stream, and its sizes.
#[derive(Clone, PartialEq, Eq)]
pub struct GzipIndex {
    span: u64,
    uncompressed_size: u64,
    compressed_size: u64,
    checkpoints: Vec<Checkpoint>,
}

/// A place to restart inflating: the start of a deflate block (or of a member's deflate data).
#[derive(Clone, PartialEq, Eq)]
struct Checkpoint {
    /// Offset in the decompressed stream of the block's first byte.
    uncompressed: u64,
    /// Offset of the first whole byte of the block in the compressed stream; when `bits` > 0, the
    /// block starts `bits` bits before it, in the high bits of the byte at `compressed - 1`.
    compressed: u64,
    bits: u8,
    /// Length of the window once inflated: the output since the member began, at most 32 KiB.
    window_len: u32,
    /// The window, raw-deflated.
    packed_window: Box<[u8]>,
}

impl fmt::Debug for GzipIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GzipIndex")
            .field("span", &self.span)
            .field("uncompressed_size", &self.uncompressed_size)
            .field("compressed_size", &self.compressed_size)
            .field("checkpoints", &self.checkpoints.len())
            .finish()
    }
}

impl GzipIndex {
    /// Index the gzip stream `reader` yields, with a checkpoint at least every `span` bytes of
    /// output (at the next block boundary; `span` 0 counts as 1). Reads it once, to the end.
    pub fn build(reader: impl Read, span: u64) -> Result<GzipIndex, ZranError> {
        let mut indexing = IndexingReader::new(reader, span);
        let mut sink = vec![0u8; 256 * 1024];
        while indexing.read_decompressed(&mut sink)? > 0 {}
        indexing.finish()
    }

    /// Size of the decompressed stream.
    pub fn uncompressed_size(&self) -> u64 {
        self.uncompressed_size
    }

    /// Size of the gzip stream the index was built from.
    pub fn compressed_size(&self) -> u64 {
        self.compressed_size
    }

    /// The least output between checkpoints the index was built with.
    pub fn span(&self) -> u64 {
        self.span
    }

    /// How many places reads can restart from (the first is at offset 0).
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    /// Bytes of memory the index holds (windows and bookkeeping), to size caches by.
    pub fn memory_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .checkpoints
                .iter()
                .map(|c| std::mem::size_of::<Checkpoint>() + c.packed_window.len())
                .sum::<usize>()
    }

    /// The uncompressed offset of the last checkpoint at or before `offset`: where a reader
    /// that cannot continue starts inflating to reach `offset`.
    pub fn entry_point(&self, offset: u64) -> u64 {
        self.checkpoint_for(offset).uncompressed
    }

    /// The last checkpoint at or before `offset` (the first is at 0, so there is one).
    fn checkpoint_for(&self, offset: u64) -> &Checkpoint {
        let i = self
            .checkpoints
            .partition_point(|c| c.uncompressed <= offset);
        &self.checkpoints[i.saturating_sub(1)]
    }
}

fn pack_window(window: &[u8]) -> Box<[u8]> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(window.len() / 2),
        flate2::Compression::fast(),
    );
    enc.write_all(window).expect("writing to a Vec cannot fail");
    enc.finish()
        .expect("writing to a Vec cannot fail")
        .into_boxed_slice()
}

/// Inflate a checkpoint's window into `out` (cleared first), refusing more than it claims.
fn unpack_window(checkpoint: &Checkpoint, out: &mut Vec<u8>) -> Result<(), ZranError> {
    out.clear();
    let want = checkpoint.window_len as usize;
    let decoder = flate2::read::DeflateDecoder::new(&checkpoint.packed_window[..]);
    let read = decoder.take(want as u64 + 1).read_to_end(out);
    if read.is_err() || out.len() != want {
        return Err(ZranError::BadIndex {
            offset: None,
            reason: format!(
                "the window of the checkpoint at uncompressed offset {} does not inflate to {} \
                 bytes",
                checkpoint.uncompressed, want
            ),
        });
    }
    Ok(())
}

/// What went wrong indexing or reading a gzip stream, or loading an index.
#[derive(Debug)]
pub enum ZranError {
    /// Reading the compressed stream (or the file behind it) failed.
    Io {
        op: &'static str,
        offset: u64,
        source: io::Error,
    },
    /// A member header is not a gzip header RFC 1952 allows.
    BadHeader {
        member_offset: u64,
        reason: &'static str,
    },
    /// The deflate data or a trailer is invalid.
    Corrupt {
        compressed_offset: u64,
        uncompressed_offset: Option<u64>,
        message: String,
    },
    /// The stream ends inside a member.
    Truncated { compressed_offset: u64 },
    /// A member's CRC-32 or ISIZE does not match its data.
    TrailerMismatch {
        member_offset: u64,
        field: &'static str,
        expected: u32,
        found: u32,
    },
    /// Index bytes are damaged, truncated, of another version, or inconsistent.
    BadIndex {
        offset: Option<usize>,
        reason: String,
    },
    /// The file does not have the size the index was built from.
    SizeMismatch { expected: u64, found: u64 },
    /// zlib could not be set up (out of memory).
    Inflater { message: String },
}

impl fmt::Display for ZranError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZranError::Io { op, offset, .. } => write!(f, "cannot {op} at offset {offset}"),
            ZranError::BadHeader {
                member_offset,
                reason,
            } => {
                write!(f, "bad gzip header at offset {member_offset}: {reason}")
            }
            ZranError::Corrupt {
                compressed_offset,
                uncompressed_offset,
                message,
            } => {
                write!(
                    f,
                    "corrupt gzip data near compressed offset {compressed_offset}"
                )?;
                if let Some(u) = uncompressed_offset {
                    write!(f, " (uncompressed offset {u})")?;
                }
                write!(f, ": {message}")
            }
            ZranError::Truncated { compressed_offset } => {
                write!(f, "gzip stream truncated at offset {compressed_offset}")
            }
            ZranError::TrailerMismatch {
                member_offset,
                field,
                expected,
                found,
            } => write!(
                f,
                "gzip member at offset {member_offset}: {field} is {found:#010x} but the \
                 trailer says {expected:#010x}"
            ),
            ZranError::BadIndex {
                offset: Some(at),
                reason,
            } => {
                write!(f, "bad gzip index at byte {at}: {reason}")
            }
            ZranError::BadIndex {
                offset: None,
                reason,
            } => write!(f, "bad gzip index: {reason}"),
            ZranError::SizeMismatch { expected, found } => write!(
                f,
                "the gzip index is for a {expected}-byte stream but the file has {found} bytes"
            ),
            ZranError::Inflater { message } => write!(f, "cannot set up inflate: {message}"),
        }
    }
}

impl std::error::Error for ZranError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ZranError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl ZranError {
    /// The `io::ErrorKind` this error implies when it travels as an `io::Error`.
    pub fn io_kind(&self) -> io::ErrorKind {
        match self {
            ZranError::Io { source, .. } => source.kind(),
            ZranError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            ZranError::Inflater { .. } => io::ErrorKind::OutOfMemory,
            _ => io::ErrorKind::InvalidData,
        }
    }
}

impl From<ZranError> for io::Error {
    /// Keeps the typed error inside (`get_ref`, `into_inner`).
    fn from(e: ZranError) -> io::Error {
        io::Error::new(e.io_kind(), e)
    }
}

#[cfg(test)]
mod tests;
