//! Random access into zstd layers, by frame: a zstd stream can only be entered at a frame start
//! (RFC 8878 section 3.1), so a layer of many frames (`zstd:chunked`, as containers/storage
//! writes it: thousands of frames plus skippable ones) is indexed by where each frame starts in
//! the compressed and in the decompressed stream, and a read decodes from the frame holding its
//! offset. A single-frame layer has one entry: reading it means decoding from the start, which
//! is why such a layer is read through a decompressed copy (`layer::decompressed_copy`).
//!
//! The table is built in one pass with the streaming decoder, which stops at each frame's end
//! (`ZSTD_decompressStream` returns 0 there), so frame bounds come from zstd itself rather than
//! from parsing block headers here; `IndexingDecoder` yields the decompressed bytes of that
//! same pass, so a layer's table of contents comes with it. A reader keeps one live decoder:
//! consecutive reads continue where the last one stopped instead of restarting at a frame start.

use std::borrow::Borrow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use zstd::zstd_safe::{DCtx, InBuffer, OutBuffer};

/// Compressed bytes read per step.
const INPUT_CHUNK: usize = 128 << 10;
/// How far ahead of the live decoder a read may start and still be reached by decoding forward
/// (rather than restarting at the frame holding it).
const SKIP_AHEAD: u64 = 4 << 20;
/// Serialised form: magic and version.
const MAGIC: &[u8; 8] = b"IFSZSTD1";

/// Where one frame starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub compressed: u64,
    pub decompressed: u64,
}

/// The frames of one zstd layer, in order; frames that decode to nothing (skippable frames)
/// are not listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameTable {
    frames: Vec<Frame>,
    compressed_size: u64,
    decompressed_size: u64,
}

#[derive(Debug)]
pub enum ZstdIndexError {
    Io(io::Error),
    /// The decoder refused the stream at this compressed offset.
    Corrupt {
        offset: u64,
        reason: &'static str,
    },
    /// The stream ended inside a frame.
    Truncated {
        offset: u64,
    },
    /// Serialised table bytes that are not one.
    BadTable {
        reason: &'static str,
    },
    /// More output per input byte than deflate can ever give (see `MAX_EXPANSION`): a
    /// decompression bomb, refused before it costs more time.
    TooExpansive {
        compressed: u64,
        decompressed: u64,
    },
}

/// The most output a zstd layer may give: `MAX_EXPANSION` bytes per compressed byte (what
/// deflate, and so any gzip layer, gives at most: about 1032 to 1) plus `EXPANSION_SLACK`.
/// zstd goes far beyond deflate on runs of zeros, honestly (a preallocated file in a layer) and
/// not (a few kilobytes claiming terabytes would keep the index build busy for hours): the
/// slack lets honest layers through and bounds a bomb to seconds of decoding.
const MAX_EXPANSION: u64 = 1032;
const EXPANSION_SLACK: u64 = 16 << 30;

impl fmt::Display for ZstdIndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZstdIndexError::Io(_) => write!(f, "reading the zstd layer"),
            ZstdIndexError::TooExpansive {
                compressed,
                decompressed,
            } => write!(
                f,
                "zstd layer gives {decompressed} bytes from its first {compressed}: more than \
                 {MAX_EXPANSION} to 1 plus {} GiB, which no layer needs; not indexed",
                EXPANSION_SLACK >> 30
            ),
            ZstdIndexError::Corrupt { offset, reason } => {
                write!(
                    f,
                    "corrupt zstd data at compressed offset {offset}: {reason}"
                )
            }
            ZstdIndexError::Truncated { offset } => {
                write!(
                    f,
                    "zstd layer ends inside a frame, at compressed offset {offset}"
                )
            }
            ZstdIndexError::BadTable { reason } => write!(f, "damaged zstd frame table: {reason}"),
        }
    }
}

impl std::error::Error for ZstdIndexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ZstdIndexError::Io(e) => Some(e),
            ZstdIndexError::Corrupt { .. }
            | ZstdIndexError::Truncated { .. }
            | ZstdIndexError::BadTable { .. }
            | ZstdIndexError::TooExpansive { .. } => None,
        }
    }
}

impl From<ZstdIndexError> for io::Error {
    fn from(e: ZstdIndexError) -> io::Error {
        match e {
            ZstdIndexError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

fn new_dctx() -> DCtx<'static> {
    // The default window limit (2^27, 128 MiB) stays: a frame asking for more is refused
    // rather than allowed to allocate it.
    DCtx::create()
}

impl FrameTable {
    /// One pass over a zstd stream: decodes it all (discarding the output) and notes where
    /// each frame starts.
    pub fn build(input: impl Read) -> Result<FrameTable, ZstdIndexError> {
        IndexingDecoder::new(input).finish()
    }

    pub fn decompressed_size(&self) -> u64 {
        self.decompressed_size
    }

    pub fn compressed_size(&self) -> u64 {
        self.compressed_size
    }

    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    /// The frame to start decoding at for `offset`: the last one starting at or before it.
    /// The decompressed offset of the frame holding `offset` (0 when there is none): where a
    /// reader that cannot continue starts decoding to reach `offset`.
    pub fn entry_point(&self, offset: u64) -> u64 {
        self.frame_for(offset).map_or(0, |f| f.decompressed)
    }

    fn frame_for(&self, offset: u64) -> Option<Frame> {
        let i = self.frames.partition_point(|f| f.decompressed <= offset);
        i.checked_sub(1).map(|i| self.frames[i])
    }

    /// Magic and version, the sizes, the frame count, then each frame's two offsets, all
    /// little-endian u64.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.frames.len() * 16);
        out.extend_from_slice(MAGIC);
        for v in [
            self.compressed_size,
            self.decompressed_size,
            self.frames.len() as u64,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for f in &self.frames {
            out.extend_from_slice(&f.compressed.to_le_bytes());
            out.extend_from_slice(&f.decompressed.to_le_bytes());
        }
        out
    }

    /// Reads `to_bytes`'s form back, checking it is whole and consistent (offsets rising and
    /// within the sizes); allocates no more than the input's length implies.
    pub fn from_bytes(bytes: &[u8]) -> Result<FrameTable, ZstdIndexError> {
        let bad = |reason| ZstdIndexError::BadTable { reason };
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or(bad("wrong magic or version"))?;
        let mut words = rest
            .chunks(8)
            .map(|c| <[u8; 8]>::try_from(c).map(u64::from_le_bytes));
        let mut next = || -> Result<u64, ZstdIndexError> {
            words
                .next()
                .ok_or(bad("truncated"))?
                .map_err(|_| bad("truncated"))
        };
        let (compressed_size, decompressed_size, count) = (next()?, next()?, next()?);
        if count.checked_mul(16) != Some(rest.len() as u64 - 24) {
            return Err(bad("frame count does not match the length"));
        }
        let mut frames = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let f = Frame {
                compressed: next()?,
                decompressed: next()?,
            };
            let rising = frames.last().is_none_or(|p: &Frame| {
                f.compressed > p.compressed && f.decompressed > p.decompressed
            });
            if !rising || f.compressed >= compressed_size || f.decompressed >= decompressed_size {
                return Err(bad("frame offsets out of order or out of range"));
            }
            frames.push(f);
        }
        Ok(FrameTable {
            frames,
            compressed_size,
            decompressed_size,
        })
    }
}

/// `read` until `buf` is full or the input ends.
fn read_some(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Decodes a zstd stream as a `Read` of its decompressed bytes while noting where each frame
/// starts, so that one pass gives both a layer's table of contents (whoever reads the bytes)
/// and its [`FrameTable`] ([`IndexingDecoder::finish`]). A decoding error reads as
/// `InvalidData`; `finish` returns it typed.
pub struct IndexingDecoder<R> {
    input: R,
    dctx: DCtx<'static>,
    inbuf: Vec<u8>,
    in_start: usize,
    in_end: usize,
    /// Compressed offset of `inbuf[0]`.
    base: u64,
    decompressed: u64,
    frames: Vec<Frame>,
    /// Start of the frame being decoded, and whether the decoder is between frames.
    frame_start: Frame,
    between: bool,
    error: Option<ZstdIndexError>,
    /// Output allowed beyond `MAX_EXPANSION` per input byte.
    slack: u64,
}

impl<R: Read> IndexingDecoder<R> {
    pub fn new(input: R) -> IndexingDecoder<R> {
        Self::with_slack(input, EXPANSION_SLACK)
    }

    /// `new`, with another slack than [`EXPANSION_SLACK`] (tests).
    pub fn with_slack(input: R, slack: u64) -> IndexingDecoder<R> {
        IndexingDecoder {
            slack,
            input,
            dctx: new_dctx(),
            inbuf: vec![0u8; INPUT_CHUNK],
            in_start: 0,
            in_end: 0,
            base: 0,
            decompressed: 0,
            frames: Vec::new(),
            frame_start: Frame {
                compressed: 0,
                decompressed: 0,
            },
            between: true,
            error: None,
        }
    }

    /// Decodes what the reader left, and returns the table (or the first error).
    pub fn finish(mut self) -> Result<FrameTable, ZstdIndexError> {
        if let Err(e) = io::copy(&mut self, &mut io::sink()) {
            return Err(self.error.take().unwrap_or(ZstdIndexError::Io(e)));
        }
        let compressed = self.base + self.in_end as u64;
        if !self.between {
            return Err(ZstdIndexError::Truncated { offset: compressed });
        }
        Ok(FrameTable {
            frames: self.frames,
            compressed_size: compressed,
            decompressed_size: self.decompressed,
        })
    }

    fn fail(&mut self, e: ZstdIndexError) -> io::Error {
        let as_io = io::Error::new(io::ErrorKind::InvalidData, e.to_string());
        self.error = Some(e);
        as_io
    }
}

impl<R: Read> Read for IndexingDecoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.error.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the zstd stream failed earlier",
            ));
        }
        loop {
            if self.in_start == self.in_end {
                self.base += self.in_end as u64;
                let n = read_some(&mut self.input, &mut self.inbuf)
                    .map_err(|e| io::Error::new(e.kind(), e.to_string()))?;
                (self.in_start, self.in_end) = (0, n);
                if n == 0 {
                    return Ok(0);
                }
            }
            if self.between {
                self.frame_start = Frame {
                    compressed: self.base + self.in_start as u64,
                    decompressed: self.decompressed,
                };
                self.between = false;
            }
            let mut src = InBuffer::around(&self.inbuf[self.in_start..self.in_end]);
            let mut dst = OutBuffer::around(&mut out[..]);
            let hint = match self.dctx.decompress_stream(&mut dst, &mut src) {
                Ok(hint) => hint,
                Err(code) => {
                    let offset = self.base + (self.in_start + src.pos) as u64;
                    return Err(self.fail(ZstdIndexError::Corrupt {
                        offset,
                        reason: zstd::zstd_safe::get_error_name(code),
                    }));
                }
            };
            self.in_start += src.pos;
            let produced = dst.pos() as u64;
            if produced > 0 && self.frames.last() != Some(&self.frame_start) {
                self.frames.push(self.frame_start);
            }
            self.decompressed += produced;
            let read = self.base + self.in_start as u64;
            if self.decompressed > read.saturating_mul(MAX_EXPANSION) + self.slack {
                let decompressed = self.decompressed;
                return Err(self.fail(ZstdIndexError::TooExpansive {
                    compressed: read,
                    decompressed,
                }));
            }
            if hint == 0 {
                self.between = true;
            }
            if produced > 0 {
                return Ok(produced as usize);
            }
        }
    }
}

/// Reads a zstd layer at any decompressed offset, through its frame table, with `pread` on
/// the layer file (so readers on other handles share the file). `T` is `&FrameTable` or
/// `Arc<FrameTable>`, `F` is `&File` or `Arc<File>`.
pub struct FrameReader<T, F> {
    table: T,
    file: F,
    live: Option<Live>,
    /// Times a read had to start a decoder at a frame start (for tests and stats).
    restarts: u64,
}

/// A decoder positioned somewhere in the stream.
struct Live {
    dctx: DCtx<'static>,
    /// Next compressed offset to read from the file.
    compressed: u64,
    /// Decompressed offset of the next byte the decoder produces.
    position: u64,
    input: Vec<u8>,
    /// Unconsumed part of `input`.
    input_start: usize,
    input_end: usize,
}

impl<T: Borrow<FrameTable>, F: Borrow<File>> FrameReader<T, F> {
    pub fn new(table: T, file: F) -> FrameReader<T, F> {
        FrameReader {
            table,
            file,
            live: None,
            restarts: 0,
        }
    }

    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// The table this reader reads through.
    pub fn table(&self) -> &FrameTable {
        self.table.borrow()
    }

    /// The decompressed offset its live decoder produces next, if it has one.
    pub fn position(&self) -> Option<u64> {
        self.live.as_ref().map(|l| l.position)
    }

    /// Fills `buf` from decompressed `offset`; short only at the end of the layer.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let table: &FrameTable = self.table.borrow();
        let file: &File = self.file.borrow();
        if offset >= table.decompressed_size || buf.is_empty() {
            return Ok(0);
        }
        let reusable = self.live.as_ref().is_some_and(|l| {
            l.position <= offset && offset - l.position <= SKIP_AHEAD
                || table
                    .frame_for(offset)
                    .is_some_and(|f| f.decompressed <= l.position && l.position <= offset)
        });
        if !reusable {
            let frame = table.frame_for(offset).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, "zstd frame table has no frames")
            })?;
            // A restart keeps the decoder's memory (its window can be large): only the frame
            // it was in is dropped.
            let (dctx, input) = match self.live.take() {
                Some(mut old) => {
                    old.dctx
                        .reset(zstd::zstd_safe::ResetDirective::SessionOnly)
                        .map_err(|code| {
                            io::Error::other(format!(
                                "zstd: {}",
                                zstd::zstd_safe::get_error_name(code)
                            ))
                        })?;
                    (old.dctx, old.input)
                }
                None => (new_dctx(), vec![0u8; INPUT_CHUNK]),
            };
            self.live = Some(Live {
                dctx,
                compressed: frame.compressed,
                position: frame.decompressed,
                input,
                input_start: 0,
                input_end: 0,
            });
            self.restarts += 1;
        }
        let live = self.live.as_mut().expect("set above");
        // Decode forward, discarding, to `offset`.
        let mut scratch = [0u8; 16 << 10];
        while live.position < offset {
            let want = (offset - live.position).min(scratch.len() as u64) as usize;
            let n = live.decode(file, &mut scratch[..want])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let want = buf.len().min((table.decompressed_size - offset) as usize);
        let mut filled = 0;
        while filled < want {
            let n = live.decode(file, &mut buf[filled..want])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        Ok(filled)
    }
}

impl Live {
    /// Decodes at least one byte into `out` (unless the stream ends), reading more compressed
    /// input as needed; continues across frame ends.
    fn decode(&mut self, file: &File, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.input_start == self.input_end {
                let n = file.read_at(&mut self.input, self.compressed)?;
                if n == 0 {
                    return Ok(0);
                }
                self.compressed += n as u64;
                self.input_start = 0;
                self.input_end = n;
            }
            let mut src = InBuffer::around(&self.input[self.input_start..self.input_end]);
            let mut dst = OutBuffer::around(&mut out[..]);
            self.dctx
                .decompress_stream(&mut dst, &mut src)
                .map_err(|code| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("zstd: {}", zstd::zstd_safe::get_error_name(code)),
                    )
                })?;
            self.input_start += src.pos;
            let produced = dst.pos();
            self.position += produced as u64;
            if produced > 0 {
                return Ok(produced);
            }
        }
    }
}

#[cfg(test)]
mod tests;
