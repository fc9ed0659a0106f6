//! One layer blob as a seekable decompressed stream: what compression it has (by its first
//! bytes, not its media type, which other tools get wrong), the seek index that compression
//! needs (a gzip checkpoint index, a zstd frame table, nothing for a plain tar), kept in the
//! store as a layer index so that it is built once, and a reader over it.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use super::decoded_cache::{CHUNK, DecodedCache};
use super::zran::{DEFAULT_SPAN, GzipIndex, GzipReader, IndexingReader, ZranError};
use super::zstd_frames::{FrameReader, FrameTable, IndexingDecoder, ZstdIndexError};
use crate::digest::Digest;
use crate::oci::Descriptor;
use crate::store::{IndexFile, IndexKind, Store, StoreError};

/// The stored gzip checkpoint index of a layer (`rootfs::zran`'s byte form).
pub const GZIP_INDEX: IndexKind = IndexKind::new("zran", 1);
/// The stored zstd frame table of a layer (`rootfs::zstd_frames`'s byte form).
pub const ZSTD_INDEX: IndexKind = IndexKind::new("zstd-frames", 1);

/// A single-frame zstd layer's decompressed bytes, kept whole: such a layer can be entered only
/// at its start, so each file opened in it would otherwise decode from there. Streamed (it is
/// as large as the layer's tar), verified against the config's `diff_id` before it is stored.
pub const DECOMPRESSED_COPY: IndexKind = IndexKind::streamed("tar", 1);

/// The store keeps decompressed copies up to this many bytes in all, the least recently used
/// removed first.
pub const DECOMPRESSED_COPIES_BUDGET: u64 = 4 << 30;

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
/// Shared (`Arc`) so that every reader of the layer, on any thread, reads through one copy.
#[derive(Clone, Debug)]
pub enum SeekIndex {
    Gzip(Arc<GzipIndex>),
    Zstd(Arc<FrameTable>),
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

    /// Where a reader that cannot continue starts decoding to reach `offset`: the checkpoint
    /// or frame start before it (the offset itself for a plain layer).
    pub fn entry_point(&self, offset: u64) -> u64 {
        match self {
            SeekIndex::Gzip(i) => i.entry_point(offset),
            SeekIndex::Zstd(t) => t.entry_point(offset),
            SeekIndex::Plain { .. } => offset,
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
/// pass over the stored blob (its digest verified at import, its size at open) and stored. A damaged stored index is
/// logged and rebuilt; a store that cannot be written (read-only media) keeps it in memory.
pub fn seek_index(store: &Store, layer: &Descriptor) -> Result<SeekIndex, LayerError> {
    let (file, compression) = open(store, layer)?;
    if let Some(index) = stored(store, layer, compression) {
        return Ok(index);
    }
    build(store, layer, file, compression)
}

/// `seek_index`, and `read` run over the layer's decompressed bytes (to build its table of
/// contents): when a gzip index or zstd frame table must be built too, both come from one
/// decompression of the layer.
pub fn seek_index_reading<T>(
    store: &Store,
    layer: &Descriptor,
    read: impl FnOnce(&mut dyn Read) -> T,
) -> Result<(SeekIndex, T), LayerError> {
    let (file, compression) = open(store, layer)?;
    let read_err = |e| LayerError::Store(StoreError::io("read", store.blob_path(&layer.digest), e));
    if let Some(index) = stored(store, layer, compression) {
        let mut input = decompressed(file).map_err(read_err)?;
        return Ok((index, read(&mut input)));
    }
    // One pass gives the seek index and the bytes `read` wants (plain layers were served above).
    if compression == Compression::Zstd {
        let mut decoding = IndexingDecoder::new(io::BufReader::with_capacity(1 << 20, file));
        let got = read(&mut decoding);
        let table = decoding.finish().map_err(LayerError::Zstd)?;
        keep(store, layer, ZSTD_INDEX, &table.to_bytes());
        return Ok((SeekIndex::Zstd(Arc::new(table)), got));
    }
    let mut inflating =
        IndexingReader::new(io::BufReader::with_capacity(1 << 20, file), DEFAULT_SPAN);
    let got = read(&mut inflating);
    // Reads what `read` left (the tar's end blocks, trailing members) before sealing the index.
    let index = inflating.finish().map_err(LayerError::Gzip)?;
    keep(store, layer, GZIP_INDEX, &index.to_bytes());
    Ok((SeekIndex::Gzip(Arc::new(index)), got))
}

fn open(store: &Store, layer: &Descriptor) -> Result<(File, Compression), LayerError> {
    let file = store.open_blob(layer).map_err(LayerError::Store)?;
    let compression = Compression::of(&file).map_err(|e| {
        LayerError::Store(StoreError::io("read", store.blob_path(&layer.digest), e))
    })?;
    Ok((file, compression))
}

fn kind_of(compression: Compression) -> Option<IndexKind> {
    match compression {
        Compression::None => None,
        Compression::Gzip => Some(GZIP_INDEX),
        Compression::Zstd => Some(ZSTD_INDEX),
    }
}

/// The stored seek index, if sound (a plain layer needs none).
fn stored(store: &Store, layer: &Descriptor, compression: Compression) -> Option<SeekIndex> {
    let Some(kind) = kind_of(compression) else {
        return Some(SeekIndex::Plain { size: layer.size });
    };
    load_index(store, layer, kind, |bytes| decode(compression, bytes))
}

/// A stored layer index of `kind`, parsed; `None` (after a log line saying why) when there is
/// none, or it is damaged or does not parse: the caller rebuilds it.
pub(super) fn load_index<T, E: fmt::Display>(
    store: &Store,
    layer: &Descriptor,
    kind: IndexKind,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Option<T> {
    match store.read_index(&layer.digest, kind) {
        Ok(Some(bytes)) => match parse(&bytes) {
            Ok(index) => return Some(index),
            Err(e) => log::warn!(target: "rootfs",
                "stored {} index of layer {} does not parse ({e}); rebuilding", kind.name(), layer.digest),
        },
        Ok(None) => {}
        Err(damaged) => log::warn!(target: "rootfs", "{damaged}; rebuilding"),
    }
    None
}

fn build(
    store: &Store,
    layer: &Descriptor,
    file: File,
    compression: Compression,
) -> Result<SeekIndex, LayerError> {
    let input = io::BufReader::with_capacity(1 << 20, file);
    let (index, kind, bytes) = match compression {
        Compression::Gzip => {
            let i = GzipIndex::build(input, DEFAULT_SPAN).map_err(LayerError::Gzip)?;
            let bytes = i.to_bytes();
            (SeekIndex::Gzip(Arc::new(i)), GZIP_INDEX, bytes)
        }
        Compression::Zstd => {
            let t = FrameTable::build(input).map_err(LayerError::Zstd)?;
            let bytes = t.to_bytes();
            (SeekIndex::Zstd(Arc::new(t)), ZSTD_INDEX, bytes)
        }
        Compression::None => return Ok(SeekIndex::Plain { size: layer.size }),
    };
    keep(store, layer, kind, &bytes);
    Ok(index)
}

/// Stores an index for next time; one that cannot be stored (read-only media) is only rebuilt
/// next time.
pub(super) fn keep(store: &Store, layer: &Descriptor, kind: IndexKind, bytes: &[u8]) {
    match store.write_index(&layer.digest, kind, bytes) {
        Ok(_) | Err(StoreError::ReadOnly { .. }) => {}
        Err(e) => log::warn!(target: "rootfs",
            "cannot store the {} index of layer {} ({}); it is rebuilt next time",
            kind.name(), layer.digest, crate::error::chain(&e)),
    }
}

fn decode(compression: Compression, bytes: &[u8]) -> Result<SeekIndex, LayerError> {
    match compression {
        Compression::Gzip => GzipIndex::from_bytes(bytes)
            .map(|i| SeekIndex::Gzip(Arc::new(i)))
            .map_err(LayerError::Gzip),
        Compression::Zstd => FrameTable::from_bytes(bytes)
            .map(|t| SeekIndex::Zstd(Arc::new(t)))
            .map_err(LayerError::Zstd),
        Compression::None => unreachable!("plain layers have no stored index"),
    }
}

/// Reads a layer's decompressed bytes at any offset; one per open file, so that sequential
/// reads keep their decoder. It owns what it reads through (the index and the blob file are
/// shared `Arc`s), so an open file of the mount can keep one.
pub struct LayerReader {
    decoder: Decoder,
    size: u64,
    /// What every reader of the mount shares, and this layer's key in it.
    cache: Option<(Arc<SharedDecoding>, Digest)>,
}

/// What the readers of a mount share: decoded chunks, and the decoders of closed files, parked
/// where they stopped, so that the next file of the same layer (`tar` of a tree walks a layer
/// roughly in its own order) continues from there instead of from a checkpoint.
pub struct SharedDecoding {
    chunks: DecodedCache,
    /// Most recently parked last.
    parked: Mutex<VecDeque<(Digest, Decoder)>>,
}

/// Decoders kept parked in all: a few per layer of the platforms being read.
const MAX_PARKED: usize = 16;

impl SharedDecoding {
    /// Sharing with a chunk cache of `chunk_budget` bytes.
    pub fn new(chunk_budget: usize) -> SharedDecoding {
        SharedDecoding {
            chunks: DecodedCache::new(chunk_budget),
            parked: Mutex::new(VecDeque::new()),
        }
    }

    pub fn chunks(&self) -> &DecodedCache {
        &self.chunks
    }

    fn park(&self, layer: Digest, decoder: Decoder) {
        let mut parked = self.parked.lock().expect("parked decoders lock poisoned");
        parked.push_back((layer, decoder));
        if parked.len() > MAX_PARKED {
            parked.pop_front();
        }
    }

    /// The parked decoder of `layer` that stands furthest into `from..=to` (it continues to
    /// `to` without restarting), taken out of the pool.
    fn take(&self, layer: &Digest, from: u64, to: u64) -> Option<Decoder> {
        let mut parked = self.parked.lock().expect("parked decoders lock poisoned");
        let (i, _) = parked
            .iter()
            .enumerate()
            .filter(|(_, (d, _))| d == layer)
            .filter_map(|(i, (_, dec))| dec.position().map(|p| (i, p)))
            .filter(|&(_, p)| from <= p && p <= to)
            .max_by_key(|&(_, p)| p)?;
        parked.remove(i).map(|(_, d)| d)
    }
}

impl std::fmt::Debug for SharedDecoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDecoding")
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

enum Decoder {
    Gzip(GzipReader<Arc<GzipIndex>, Arc<File>>),
    Zstd(FrameReader<Arc<FrameTable>, Arc<File>>),
    Plain(Arc<File>),
    /// A decompressed copy ([`DECOMPRESSED_COPY`]): read like a plain layer.
    Copy(Arc<IndexFile>),
    /// Handed to the pool when its reader was dropped.
    Parked,
}

impl Decoder {
    /// The decompressed offset a live decoder produces next.
    fn position(&self) -> Option<u64> {
        match self {
            Decoder::Gzip(r) => r.position(),
            Decoder::Zstd(r) => r.position(),
            Decoder::Plain(_) | Decoder::Copy(_) | Decoder::Parked => None,
        }
    }
}

impl Drop for LayerReader {
    /// A decoder that has decoded something goes to the pool for the next reader.
    fn drop(&mut self) {
        if let Some((shared, layer)) = &self.cache
            && self.decoder.position().is_some()
        {
            shared.park(
                *layer,
                std::mem::replace(&mut self.decoder, Decoder::Parked),
            );
        }
    }
}

impl LayerReader {
    pub fn new(index: &SeekIndex, file: Arc<File>) -> Result<LayerReader, LayerError> {
        let decoder = match index {
            SeekIndex::Gzip(i) => {
                Decoder::Gzip(GzipReader::new(i.clone(), file).map_err(LayerError::Gzip)?)
            }
            SeekIndex::Zstd(t) => Decoder::Zstd(FrameReader::new(t.clone(), file)),
            SeekIndex::Plain { .. } => Decoder::Plain(file),
        };
        Ok(LayerReader {
            decoder,
            size: index.decompressed_size(),
            cache: None,
        })
    }

    /// Reads a layer through its decompressed copy ([`decompressed_copy`]).
    pub fn from_copy(copy: Arc<IndexFile>) -> LayerReader {
        LayerReader {
            size: copy.len(),
            decoder: Decoder::Copy(copy),
            cache: None,
        }
    }

    /// Reads through `cache` (layer `digest`'s chunks and parked decoders): decoded bytes one
    /// reader produced serve the others, so opening many small files of one span decodes it
    /// once, not once per file.
    pub fn cached(mut self, cache: Arc<SharedDecoding>, digest: Digest) -> LayerReader {
        if !matches!(self.decoder, Decoder::Plain(_) | Decoder::Copy(_)) {
            self.cache = Some((cache, digest));
        }
        self
    }

    /// Fills `buf` from decompressed `offset`; short only at the end.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Some((cache, digest)) = self.cache.clone() else {
            return self.decode_at(offset, buf);
        };
        let want = buf.len().min(self.size.saturating_sub(offset) as usize);
        let mut filled = 0;
        while filled < want {
            let at = offset + filled as u64;
            let chunk_no = at / CHUNK;
            let chunk = match cache.chunks.get(&digest, chunk_no) {
                Some(c) => c,
                None => self.decode_chunks(&cache, &digest, chunk_no)?,
            };
            let from = (at - chunk_no * CHUNK) as usize;
            if from >= chunk.len() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let n = (chunk.len() - from).min(want - filled);
            buf[filled..filled + n].copy_from_slice(&chunk[from..from + n]);
            filled += n;
        }
        Ok(filled)
    }

    /// Decodes chunk `target`, caching it and every chunk decoded on the way to it: from where
    /// this reader's decoder stands when it can continue, else from the entry point before the
    /// chunk (the chunks between are decoded anyway; caching them makes a neighbour's read free).
    fn decode_chunks(
        &mut self,
        shared: &SharedDecoding,
        digest: &Digest,
        target: u64,
    ) -> io::Result<Arc<[u8]>> {
        let cache = &shared.chunks;
        let start = target * CHUNK;
        let entry = self.index_entry_point(start);
        // A parked decoder between the entry point and here saves restarting at the entry.
        if !self.position().is_some_and(|p| entry <= p && p <= start)
            && let Some(parked) = shared.take(digest, entry, start)
        {
            self.decoder = parked;
        }
        let mut first = entry.div_ceil(CHUNK).min(target);
        // Continue this reader's decoder where it stands, from the first whole chunk there
        // (reading a chunk behind it would restart it).
        if let Some(p) = self.position().filter(|&p| p >= entry && p <= start) {
            first = first.max(p.div_ceil(CHUNK));
        }
        let mut last = None;
        for n in first..=target {
            if n < target && cache.contains(digest, n) {
                continue;
            }
            let len = CHUNK.min(self.size - n * CHUNK) as usize;
            let mut chunk = vec![0u8; len];
            let got = self.decode_at(n * CHUNK, &mut chunk)?;
            if got != len {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let chunk: Arc<[u8]> = chunk.into();
            cache.insert(digest, n, chunk.clone());
            last = Some(chunk);
        }
        Ok(last.expect("the target chunk is decoded"))
    }

    fn index_entry_point(&self, offset: u64) -> u64 {
        match &self.decoder {
            Decoder::Gzip(r) => r.index().entry_point(offset),
            Decoder::Zstd(r) => r.table().entry_point(offset),
            Decoder::Plain(_) | Decoder::Copy(_) | Decoder::Parked => offset,
        }
    }

    fn position(&self) -> Option<u64> {
        self.decoder.position()
    }

    fn decode_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.decoder {
            Decoder::Parked => unreachable!("a reader is parked only when dropped"),
            Decoder::Gzip(r) => Ok(r.read_at(offset, buf)?),
            Decoder::Zstd(r) => r.read_at(offset, buf),
            Decoder::Copy(c) => fill_at(buf, offset, |b, at| c.read_at(b, at)),
            Decoder::Plain(f) => fill_at(buf, offset, |b, at| f.read_at(b, at)),
        }
    }
}

/// The decompressed copy of `layer` when it is a single-frame zstd layer whose uncompressed tar
/// has digest `diff_id` (its config's): from the store, else made in one pass over the blob,
/// checked against `diff_id` and stored (then the least recently used copies beyond
/// [`DECOMPRESSED_COPIES_BUDGET`] go). `None` for every other layer, and where no copy can be
/// kept (a read-only store, a full disk, a layer that does not match its `diff_id`): readers
/// then decode as before.
pub fn decompressed_copy(
    store: &Store,
    layer: &Descriptor,
    diff_id: Option<&Digest>,
    index: &SeekIndex,
) -> Option<Arc<IndexFile>> {
    let SeekIndex::Zstd(table) = index else {
        return None;
    };
    let diff_id = diff_id?;
    if table.frames().len() > 1 {
        return None;
    }
    let size = table.decompressed_size();
    // A layer that decompresses to more than all copies may take (a zstd bomb of a few bytes
    // can claim terabytes) gets none, nor one the store's free space could not hold with a
    // margin: readers decode it as before.
    let free = store
        .statvfs()
        .map(|st| st.f_bavail.saturating_mul(st.f_frsize))
        .unwrap_or(0);
    if size > DECOMPRESSED_COPIES_BUDGET || size.saturating_add(1 << 30) > free {
        log::info!(target: "rootfs",
            "no decompressed copy of layer {} ({size} bytes; {free} bytes free)", layer.digest);
        return None;
    }
    match store.open_index(&layer.digest, DECOMPRESSED_COPY) {
        Ok(Some(copy)) if copy.payload_digest() == *diff_id && copy.len() == size => {
            copy.touch();
            return Some(Arc::new(copy));
        }
        Ok(Some(_)) => log::warn!(target: "rootfs",
            "the decompressed copy of layer {} is not its diff_id {diff_id}; making it again", layer.digest),
        Ok(None) => {}
        Err(damaged) => log::warn!(target: "rootfs", "{damaged}; making it again"),
    }
    let made = (|| -> Result<bool, String> {
        let mut writer = match store.index_writer(&layer.digest, DECOMPRESSED_COPY) {
            Ok(w) => w,
            Err(StoreError::ReadOnly { .. }) => return Ok(false),
            Err(e) => return Err(crate::error::chain(&e)),
        };
        let blob = store
            .open_blob(layer)
            .map_err(|e| crate::error::chain(&e))?;
        let mut input = decompressed(blob).map_err(|e| e.to_string())?;
        io::copy(&mut input, &mut writer).map_err(|e| e.to_string())?;
        let got = writer.payload_digest();
        if got != *diff_id {
            return Err(format!(
                "it decompresses to {got}, its config says {diff_id}"
            ));
        }
        writer.commit().map_err(|e| crate::error::chain(&e))?;
        if let Err(e) = store.trim_indexes(DECOMPRESSED_COPY, DECOMPRESSED_COPIES_BUDGET) {
            log::warn!(target: "rootfs", "cannot trim decompressed layer copies: {}",
                crate::error::chain(&e));
        }
        Ok(true)
    })();
    match made {
        Ok(true) => store
            .open_index(&layer.digest, DECOMPRESSED_COPY)
            .ok()
            .flatten()
            .map(Arc::new),
        Ok(false) => None,
        Err(why) => {
            log::warn!(target: "rootfs", "no decompressed copy of layer {}: {why}", layer.digest);
            None
        }
    }
}

/// Fills `buf` from `offset` with positioned reads (`read_at(buf, offset)`, as `pread`), as
/// many as it takes; short only where the data ends.
pub fn fill_at(
    buf: &mut [u8],
    offset: u64,
    mut read_at: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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
