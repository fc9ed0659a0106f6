//! One layer blob as a seekable decompressed stream: what compression it has (by its first
//! bytes, not its media type, which other tools get wrong), the seek index that compression
//! needs (a gzip checkpoint index, a zstd frame table, nothing for a plain tar), kept in the
//! store as a layer index so that it is built once, and a reader over it.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use super::zran::{DEFAULT_SPAN, GzipIndex, GzipReader, ZranError};
use super::zstd_frames::{FrameReader, FrameTable, ZstdIndexError};
use crate::oci::Descriptor;
use crate::store::{IndexKind, Store, StoreError};

/// The stored gzip checkpoint index of a layer (`rootfs::zran`'s byte form).
pub const GZIP_INDEX: IndexKind = IndexKind::new("zran", 1);
/// The stored zstd frame table of a layer (`rootfs::zstd_frames`'s byte form).
pub const ZSTD_INDEX: IndexKind = IndexKind::new("zstd-frames", 1);

/// How a layer blob is compressed, from its magic number (RFC 1952 for gzip, RFC 8878 for
/// zstd); anything else is read as a plain tar, which the tar reader then judges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    pub fn of(file: &File) -> io::Result<Compression> {
        let mut magic = [0u8; 4];
        let n = file.read_at(&mut magic, 0)?;
        Ok(match &magic[..n] {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
            _ => Compression::None,
        })
    }
}

/// What a compressed layer needs to be read at any offset.
#[derive(Debug)]
pub enum SeekIndex {
    Gzip(GzipIndex),
    Zstd(FrameTable),
    Plain { size: u64 },
}

impl SeekIndex {
    pub fn decompressed_size(&self) -> u64 {
        match self {
            SeekIndex::Gzip(i) => i.uncompressed_size(),
            SeekIndex::Zstd(t) => t.decompressed_size(),
            SeekIndex::Plain { size } => *size,
        }
    }
}

/// Why a layer cannot be read.
#[derive(Debug)]
pub enum LayerError {
    Store(StoreError),
    Gzip(ZranError),
    Zstd(ZstdIndexError),
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerError::Store(e) => write!(f, "{e}"),
            LayerError::Gzip(e) => write!(f, "{e}"),
            LayerError::Zstd(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LayerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LayerError::Store(e) => e.source(),
            LayerError::Gzip(e) => e.source(),
            LayerError::Zstd(e) => e.source(),
        }
    }
}

/// The seek index of `layer`: from the store when it holds a sound one, else built in one
/// pass over the (verified, stored) blob and stored for next time. A damaged stored index is
/// logged and rebuilt; a store that cannot be written (read-only media) keeps it in memory.
pub fn seek_index(store: &Store, layer: &Descriptor) -> Result<SeekIndex, LayerError> {
    let file = store.open_blob(layer).map_err(LayerError::Store)?;
    let compression = Compression::of(&file).map_err(|e| {
        LayerError::Store(StoreError::io("read", store.blob_path(&layer.digest), e))
    })?;
    let kind = match compression {
        Compression::None => return Ok(SeekIndex::Plain { size: layer.size }),
        Compression::Gzip => GZIP_INDEX,
        Compression::Zstd => ZSTD_INDEX,
    };
    match store.read_index(&layer.digest, kind) {
        Ok(Some(bytes)) => match decode(compression, &bytes) {
            Ok(index) => return Ok(index),
            Err(e) => log::warn!(target: "rootfs",
                "stored index of layer {} does not parse ({e}); rebuilding", layer.digest),
        },
        Ok(None) => {}
        Err(damaged) => log::warn!(target: "rootfs", "{damaged}; rebuilding"),
    }
    let input = io::BufReader::with_capacity(1 << 20, file);
    let (index, bytes) = match compression {
        Compression::Gzip => {
            let i = GzipIndex::build(input, DEFAULT_SPAN).map_err(LayerError::Gzip)?;
            let bytes = i.to_bytes();
            (SeekIndex::Gzip(i), bytes)
        }
        Compression::Zstd => {
            let t = FrameTable::build(input).map_err(LayerError::Zstd)?;
            let bytes = t.to_bytes();
            (SeekIndex::Zstd(t), bytes)
        }
        Compression::None => unreachable!("returned above"),
    };
    match store.write_index(&layer.digest, kind, &bytes) {
        Ok(_) => {}
        Err(StoreError::ReadOnly { .. }) => {}
        Err(e) => log::warn!(target: "rootfs",
            "cannot store the index of layer {} ({}); it is rebuilt next time",
            layer.digest, crate::error::chain(&e)),
    }
    Ok(index)
}

fn decode(compression: Compression, bytes: &[u8]) -> Result<SeekIndex, LayerError> {
    match compression {
        Compression::Gzip => GzipIndex::from_bytes(bytes)
            .map(SeekIndex::Gzip)
            .map_err(LayerError::Gzip),
        Compression::Zstd => FrameTable::from_bytes(bytes)
            .map(SeekIndex::Zstd)
            .map_err(LayerError::Zstd),
        Compression::None => unreachable!("plain layers have no stored index"),
    }
}

/// Reads a layer's decompressed bytes at any offset; one per open file, so that sequential
/// reads keep their decoder.
pub enum LayerReader<'a> {
    Gzip(GzipReader<&'a GzipIndex, &'a File>),
    Zstd(FrameReader<'a>),
    Plain(&'a File),
}

impl<'a> LayerReader<'a> {
    pub fn new(index: &'a SeekIndex, file: &'a File) -> Result<LayerReader<'a>, LayerError> {
        Ok(match index {
            SeekIndex::Gzip(i) => {
                LayerReader::Gzip(GzipReader::new(i, file).map_err(LayerError::Gzip)?)
            }
            SeekIndex::Zstd(t) => LayerReader::Zstd(FrameReader::new(t, file)),
            SeekIndex::Plain { .. } => LayerReader::Plain(file),
        })
    }

    /// Fills `buf` from decompressed `offset`; short only at the end.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            LayerReader::Gzip(r) => Ok(r.read_at(offset, buf)?),
            LayerReader::Zstd(r) => r.read_at(offset, buf),
            LayerReader::Plain(f) => {
                let mut filled = 0;
                while filled < buf.len() {
                    match f.read_at(&mut buf[filled..], offset + filled as u64) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(filled)
            }
        }
    }
}

/// A `Read` over a whole layer's decompressed bytes from the start (for building a table of
/// contents in one pass).
pub fn decompressed(file: File) -> io::Result<Box<dyn Read + Send>> {
    let compression = Compression::of(&file)?;
    let input = io::BufReader::with_capacity(1 << 20, file);
    Ok(match compression {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
        Compression::None => Box::new(input),
    })
}

#[cfg(test)]
mod tests;
