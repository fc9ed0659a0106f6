//! The stored form of a [`GzipIndex`]: versioned, checksummed, and checked on load so that
//! damaged or hostile bytes give [`ZranError::BadIndex`], never a panic or an allocation larger
//! than the input.
//!
//! Little-endian throughout:
//! ```text
//! magic "IFSZRAN\0" | version u32 | span u64 | uncompressed size u64 | compressed size u64
//! | checkpoint count u64 | per checkpoint: uncompressed u64, compressed u64, bits u8,
//!   window length u32, packed length u32, packed window | SHA-256 of all the bytes before it
//! ```

use sha2::{Digest, Sha256};

use super::inflate::WINDOW_SIZE;
use super::{Checkpoint, GzipIndex, ZranError};

const MAGIC: &[u8; 8] = b"IFSZRAN\0";
/// Bump when the layout or the meaning of a field changes; older indexes are then rebuilt.
pub(super) const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 8 + 8 + 8;
const ENTRY_MIN_LEN: usize = 8 + 8 + 1 + 4 + 4;
const DIGEST_LEN: usize = 32;

impl GzipIndex {
    /// The stored form (see the module doc).
    pub fn to_bytes(&self) -> Vec<u8> {
        let packed: usize = self.checkpoints.iter().map(|c| c.packed_window.len()).sum();
        let mut b = Vec::with_capacity(
            HEADER_LEN + self.checkpoints.len() * ENTRY_MIN_LEN + packed + DIGEST_LEN,
        );
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        for n in [self.span, self.uncompressed_size, self.compressed_size] {
            b.extend_from_slice(&n.to_le_bytes());
        }
        b.extend_from_slice(&(self.checkpoints.len() as u64).to_le_bytes());
        for c in &self.checkpoints {
            b.extend_from_slice(&c.uncompressed.to_le_bytes());
            b.extend_from_slice(&c.compressed.to_le_bytes());
            b.push(c.bits);
            b.extend_from_slice(&c.window_len.to_le_bytes());
            b.extend_from_slice(&(c.packed_window.len() as u32).to_le_bytes());
            b.extend_from_slice(&c.packed_window);
        }
        let digest = Sha256::digest(&b);
        b.extend_from_slice(&digest);
        b
    }

    /// Load what [`GzipIndex::to_bytes`] wrote. Checks the checksum first, then every field
    /// against the others (offsets in order and inside the stream, windows no longer than the
    /// output before them); the windows themselves are inflated when a read restarts there.
    pub fn from_bytes(bytes: &[u8]) -> Result<GzipIndex, ZranError> {
        let bad = |offset: usize, reason: String| ZranError::BadIndex {
            offset: Some(offset),
            reason,
        };
        if bytes.len() < HEADER_LEN + DIGEST_LEN {
            return Err(bad(
                bytes.len(),
                format!("truncated: {} bytes", bytes.len()),
            ));
        }
        if &bytes[..8] != MAGIC {
            return Err(bad(0, "not a gzip index (wrong magic)".into()));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(bad(
                8,
                format!("version {version}, this build reads {VERSION}"),
            ));
        }
        let (body, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
        if Sha256::digest(body).as_slice() != digest {
            return Err(bad(
                body.len(),
                "checksum mismatch (damaged or truncated)".into(),
            ));
        }
        let mut r = Fields {
            bytes: body,
            at: 12,
        };
        let span = r.u64()?;
        let uncompressed_size = r.u64()?;
        let compressed_size = r.u64()?;
        let count_at = r.at;
        let count = r.u64()?;
        if span == 0 {
            return Err(bad(12, "span 0".into()));
        }
        // Each entry takes at least ENTRY_MIN_LEN bytes, which bounds the allocation below.
        let room = (body.len() - r.at) / ENTRY_MIN_LEN;
        if count == 0 || count > room as u64 {
            return Err(bad(
                count_at,
                format!("{count} checkpoints cannot fit in the index"),
            ));
        }
        let mut checkpoints: Vec<Checkpoint> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let at = r.at;
            let c = Checkpoint {
                uncompressed: r.u64()?,
                compressed: r.u64()?,
                bits: r.u8()?,
                window_len: r.u32()?,
                packed_window: {
                    let len = r.u32()? as usize;
                    r.take(len)?.into()
                },
            };
            let reason = match checkpoints.last() {
                None if c.uncompressed != 0 => Some("the first checkpoint is not at offset 0"),
                Some(prev) if c.uncompressed <= prev.uncompressed => {
                    Some("uncompressed offsets are not increasing")
                }
                Some(prev) if c.compressed < prev.compressed => {
                    Some("compressed offsets are decreasing")
                }
                _ if c.uncompressed > uncompressed_size => Some("offset past the stream's end"),
                _ if c.compressed >= compressed_size => Some("offset past the compressed end"),
                _ if c.bits > 7 || (c.bits > 0 && c.compressed == 0) => Some("bad bit offset"),
                _ if c.window_len as usize > WINDOW_SIZE
                    || u64::from(c.window_len) > c.uncompressed =>
                {
                    Some("window longer than the output before it")
                }
                _ => None,
            };
            if let Some(reason) = reason {
                return Err(bad(at, reason.into()));
            }
            checkpoints.push(c);
        }
        if r.at != body.len() {
            return Err(bad(
                r.at,
                format!("{} bytes after the last checkpoint", body.len() - r.at),
            ));
        }
        Ok(GzipIndex {
            span,
            uncompressed_size,
            compressed_size,
            checkpoints,
        })
    }
}

/// A cursor over the index bytes; running out is an error naming where.
struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ZranError> {
        if self.bytes.len() - self.at < n {
            return Err(ZranError::BadIndex {
                offset: Some(self.at),
                reason: format!(
                    "truncated: {n} bytes wanted, {} left",
                    self.bytes.len() - self.at
                ),
            });
        }
        let s = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, ZranError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, ZranError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, ZranError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}
