//! Reading a gzip stream at any uncompressed offset through its [`GzipIndex`] (zran.c
//! `deflate_index_extract`), with one live inflater per reader so that sequential reads continue
//! where the last one ended.

use std::borrow::Borrow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use super::inflate::{RawInflater, Stop, WINDOW_SIZE};
use super::input::{Input, Positional};
use super::{Checkpoint, GzipIndex, ZranError, unpack_window};

/// Random and sequential reads of one gzip file. Each reader has its own inflater and position;
/// several readers (on several threads) may share one index and one file, which is read with
/// pread. `I` is `&GzipIndex` or `Arc<GzipIndex>`, `F` is `&File` or `Arc<File>`.
pub struct GzipReader<I, F> {
    index: I,
    file: F,
    cursor: Option<Cursor>,
    /// For `Read`/`Seek`.
    pos: u64,
    restarts: u64,
}

/// A live inflater and where it stands.
struct Cursor {
    inflater: RawInflater,
    input: Input,
    /// Uncompressed offset of the next byte it produces.
    out: u64,
    in_member: bool,
    /// Discarded output while skipping forward, and the unpacked window at a restart.
    scratch: Vec<u8>,
}

impl<I: Borrow<GzipIndex>, F: Borrow<File>> GzipReader<I, F> {
    /// A reader of `file`, which must be the stream `index` was built from (its size is checked;
    /// its content is not: pair them by digest).
    pub fn new(index: I, file: F) -> Result<Self, ZranError> {
        let found = file
            .borrow()
            .metadata()
            .map_err(|source| ZranError::Io {
                op: "stat the gzip file",
                offset: 0,
                source,
            })?
            .len();
        let expected = index.borrow().compressed_size;
        if found != expected {
            return Err(ZranError::SizeMismatch { expected, found });
        }
        Ok(Self {
            index,
            file,
            cursor: None,
            pos: 0,
            restarts: 0,
        })
    }

    /// The index this reader reads through.
    pub fn index(&self) -> &GzipIndex {
        self.index.borrow()
    }

    /// The uncompressed offset its live inflater produces next, if it has one.
    pub fn position(&self) -> Option<u64> {
        self.cursor.as_ref().map(|c| c.out)
    }

    /// How many times this reader restarted from a checkpoint (the first read is one).
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Fill `buf` from uncompressed `offset`; fewer bytes only at the end of the stream.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, ZranError> {
        let index: &GzipIndex = self.index.borrow();
        let size = index.uncompressed_size;
        if buf.is_empty() || offset >= size {
            return Ok(0);
        }
        let want = buf
            .len()
            .min((size - offset).min(usize::MAX as u64) as usize);
        let checkpoint = index.checkpoint_for(offset);
        // Continue the live inflater when the offset is ahead of it and no checkpoint gets closer
        // (or it is within a span): restarting costs a window and up to a span of inflating.
        let keep = match &self.cursor {
            Some(c) => {
                c.out <= offset
                    && (offset - c.out <= index.span || checkpoint.uncompressed <= c.out)
            }
            None => false,
        };
        let mut src = Positional(self.file.borrow());
        if !keep {
            let cursor = match self.cursor.take() {
                Some(c) => c,
                None => Cursor {
                    inflater: RawInflater::new()
                        .map_err(|message| ZranError::Inflater { message })?,
                    input: Input::new(),
                    out: 0,
                    in_member: false,
                    scratch: Vec::with_capacity(WINDOW_SIZE),
                },
            };
            let cursor = self.cursor.insert(cursor);
            cursor.restart(checkpoint, &mut src)?;
            self.restarts += 1;
        }
        let cursor = self.cursor.as_mut().expect("set above");
        let result = cursor.read_exact_at(offset, &mut buf[..want], &mut src);
        if result.is_err() {
            // Its state is unknown after an error: the next read restarts.
            self.cursor = None;
        }
        result.map(|()| want)
    }
}

impl Cursor {
    fn restart(&mut self, c: &Checkpoint, src: &mut Positional<'_>) -> Result<(), ZranError> {
        let inflater_error = |message| ZranError::Corrupt {
            compressed_offset: c.compressed,
            uncompressed_offset: Some(c.uncompressed),
            message,
        };
        self.inflater.reset();
        if c.bits > 0 {
            self.input.seek(c.compressed - 1);
            let byte = self.input.byte(src)?.ok_or(ZranError::Truncated {
                compressed_offset: c.compressed - 1,
            })?;
            self.inflater
                .prime(c.bits, byte >> (8 - c.bits))
                .map_err(inflater_error)?;
        } else {
            self.input.seek(c.compressed);
        }
        unpack_window(c, &mut self.scratch)?;
        self.inflater
            .set_dictionary(&self.scratch)
            .map_err(inflater_error)?;
        self.out = c.uncompressed;
        self.in_member = true;
        Ok(())
    }

    /// Skip to `offset` (at or after `self.out`), then fill `buf`.
    fn read_exact_at(
        &mut self,
        offset: u64,
        buf: &mut [u8],
        src: &mut Positional<'_>,
    ) -> Result<(), ZranError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(WINDOW_SIZE, 0);
        let skipped = self.skip_to(offset, &mut scratch, src);
        self.scratch = scratch;
        skipped?;
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.produce(&mut buf[filled..], src)?;
            if n == 0 {
                return Err(self.ended_early());
            }
            filled += n;
        }
        Ok(())
    }

    fn skip_to(
        &mut self,
        offset: u64,
        scratch: &mut [u8],
        src: &mut Positional<'_>,
    ) -> Result<(), ZranError> {
        while self.out < offset {
            let n = (offset - self.out).min(scratch.len() as u64) as usize;
            if self.produce(&mut scratch[..n], src)? == 0 {
                return Err(self.ended_early());
            }
        }
        Ok(())
    }

    fn ended_early(&self) -> ZranError {
        ZranError::Corrupt {
            compressed_offset: self.input.offset(),
            uncompressed_offset: Some(self.out),
            message: "the stream ends before the size its index records".into(),
        }
    }

    /// Some output, crossing member boundaries; 0 only at the end of the stream.
    fn produce(&mut self, buf: &mut [u8], src: &mut Positional<'_>) -> Result<usize, ZranError> {
        loop {
            if !self.in_member {
                if !self.input.read_member_header(src)? {
                    return Ok(0);
                }
                self.inflater.reset();
                self.in_member = true;
            }
            if !self.input.fill(src)? {
                return Err(ZranError::Truncated {
                    compressed_offset: self.input.offset(),
                });
            }
            let step = self
                .inflater
                .inflate(self.input.available(), buf, false)
                .map_err(|message| ZranError::Corrupt {
                    compressed_offset: self.input.offset(),
                    uncompressed_offset: Some(self.out),
                    message,
                })?;
            self.input.consume(step.consumed);
            self.out += step.produced as u64;
            if step.stop == Stop::StreamEnd {
                // The trailer was checked when the index was built; skip it.
                self.input.unconsume((step.bits_held / 8) as usize)?;
                self.input.read_trailer(src)?;
                self.in_member = false;
            } else if step.consumed == 0 && step.produced == 0 {
                return Err(ZranError::Corrupt {
                    compressed_offset: self.input.offset(),
                    uncompressed_offset: Some(self.out),
                    message: "inflate makes no progress".into(),
                });
            }
            if step.produced > 0 {
                return Ok(step.produced);
            }
        }
    }
}

impl<I: Borrow<GzipIndex>, F: Borrow<File>> Read for GzipReader<I, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<I: Borrow<GzipIndex>, F: Borrow<File>> Seek for GzipReader<I, F> {
    /// Moves the position only; the inflater follows on the next read (restarting if needed).
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let size = self.index.borrow().uncompressed_size;
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let pos = pos.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the stream",
            )
        })?;
        self.pos = pos;
        Ok(pos)
    }
}
