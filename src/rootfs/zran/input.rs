//! Compressed input for zran: a buffer over a byte source that knows the absolute offset of
//! every byte, and the gzip member framing around the deflate data (RFC 1952 §2.3: header with
//! FEXTRA/FNAME/FCOMMENT/FHCRC, 8-byte trailer).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use flate2::Crc;

use super::ZranError;

const CHUNK: usize = 64 * 1024;
/// Bytes kept from the previous chunk on refill, so that input the inflater took into its bit
/// buffer but did not use (at most 63 bits) can be given back.
const KEEP: usize = 16;

/// Where compressed bytes come from.
pub(super) trait Source {
    /// Read at `offset`; 0 at the end.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// A stream read once, front to back (building an index); `Input` asks in order.
pub(super) struct Sequential<R>(pub(super) R);

impl<R: Read> Source for Sequential<R> {
    fn read_at(&mut self, _offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// A file read with pread, so that readers on several threads can share it.
pub(super) struct Positional<'a>(pub(super) &'a File);

impl Source for Positional<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.0.read_at(buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

/// A window of the compressed stream: `buf[start..end]` are the bytes at `base + start…`.
pub(super) struct Input {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    base: u64,
}

impl Input {
    pub(super) fn new() -> Self {
        Self {
            buf: vec![0; KEEP + CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            base: 0,
        }
    }

    /// The absolute offset of the next unread byte.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    pub(super) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.end - self.start);
        self.start += n;
    }

    /// Give back the last `n` bytes read (at most `KEEP` across a refill).
    pub(super) fn unconsume(&mut self, n: usize) -> Result<(), ZranError> {
        if n > self.start {
            // Cannot happen with zlib's bit buffer (< 64 bits); named rather than trusted.
            return Err(ZranError::Corrupt {
                compressed_offset: self.offset(),
                uncompressed_offset: None,
                message: format!("the inflater held {n} unused bytes, more than kept"),
            });
        }
        self.start -= n;
        Ok(())
    }

    /// Drop what is buffered and continue at `offset` (positional sources only).
    pub(super) fn seek(&mut self, offset: u64) {
        self.base = offset;
        self.start = 0;
        self.end = 0;
    }

    /// Make input available; `false` at the end of the source.
    pub(super) fn fill(&mut self, src: &mut impl Source) -> Result<bool, ZranError> {
        if self.start < self.end {
            return Ok(true);
        }
        let keep = self.end.min(KEEP);
        self.buf.copy_within(self.end - keep..self.end, 0);
        self.base += (self.end - keep) as u64;
        self.start = keep;
        self.end = keep;
        let at = self.base + keep as u64;
        let n = src
            .read_at(at, &mut self.buf[keep..])
            .map_err(|source| ZranError::Io {
                op: "read the compressed stream",
                offset: at,
                source,
            })?;
        self.end += n;
        Ok(n > 0)
    }

    /// The next byte, or `None` at the end of the source.
    pub(super) fn byte(&mut self, src: &mut impl Source) -> Result<Option<u8>, ZranError> {
        if !self.fill(src)? {
            return Ok(None);
        }
        let b = self.buf[self.start];
        self.start += 1;
        Ok(Some(b))
    }

    fn need_byte(&mut self, src: &mut impl Source) -> Result<u8, ZranError> {
        let offset = self.offset();
        self.byte(src)?.ok_or(ZranError::Truncated {
            compressed_offset: offset,
        })
    }

    /// Read a gzip member header. `Ok(false)` when the source ends before its first byte (no
    /// more members).
    pub(super) fn read_member_header(&mut self, src: &mut impl Source) -> Result<bool, ZranError> {
        let member = self.offset();
        let Some(id1) = self.byte(src)? else {
            return Ok(false);
        };
        let bad = |reason: &'static str| ZranError::BadHeader {
            member_offset: member,
            reason,
        };
        let mut crc = Crc::new();
        let mut fixed = [id1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for b in &mut fixed[1..] {
            *b = self.need_byte(src)?;
        }
        crc.update(&fixed);
        if fixed[0] != 0x1f || fixed[1] != 0x8b {
            return Err(bad("not a gzip member (no 1f 8b magic)"));
        }
        if fixed[2] != 8 {
            return Err(bad("compression method is not deflate"));
        }
        let flags = fixed[3];
        if flags & 0xe0 != 0 {
            // RFC 1952: "must give an error indication if any reserved bit is non-zero".
            return Err(bad("reserved flag bits set"));
        }
        const FHCRC: u8 = 2;
        const FEXTRA: u8 = 4;
        const FNAME: u8 = 8;
        const FCOMMENT: u8 = 16;
        if flags & FEXTRA != 0 {
            let lo = self.need_byte(src)?;
            let hi = self.need_byte(src)?;
            crc.update(&[lo, hi]);
            for _ in 0..u16::from_le_bytes([lo, hi]) {
                crc.update(&[self.need_byte(src)?]);
            }
        }
        for field in [FNAME, FCOMMENT] {
            if flags & field != 0 {
                // Zero-terminated, any length: scanned, never stored.
                loop {
                    let b = self.need_byte(src)?;
                    crc.update(&[b]);
                    if b == 0 {
                        break;
                    }
                }
            }
        }
        if flags & FHCRC != 0 {
            let found = u16::from_le_bytes([self.need_byte(src)?, self.need_byte(src)?]);
            if found != crc.sum() as u16 {
                return Err(bad("header CRC16 mismatch"));
            }
        }
        Ok(true)
    }

    /// The member trailer: (CRC-32, ISIZE).
    pub(super) fn read_trailer(&mut self, src: &mut impl Source) -> Result<(u32, u32), ZranError> {
        let mut t = [0u8; 8];
        for b in &mut t {
            *b = self.need_byte(src)?;
        }
        Ok((
            u32::from_le_bytes([t[0], t[1], t[2], t[3]]),
            u32::from_le_bytes([t[4], t[5], t[6], t[7]]),
        ))
    }
}
