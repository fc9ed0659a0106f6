//! Building a [`GzipIndex`] in one pass, while handing the decompressed bytes to the caller
//! (zran.c `deflate_index_build`, with the gzip framing parsed here).

use std::io::{self, Read};

use flate2::Crc;

use super::inflate::{RawInflater, Stop, WINDOW_SIZE};
use super::input::{Input, Sequential};
use super::{Checkpoint, GzipIndex, ZranError, pack_window};

/// A gzip decoder that records checkpoints as it goes: read it to the end (through [`Read`] or
/// [`IndexingReader::read_decompressed`]), then [`IndexingReader::finish`] gives the index.
pub struct IndexingReader<R> {
    src: Sequential<R>,
    input: Input,
    inflater: Option<RawInflater>,
    span: u64,
    state: State,
    /// The last 32 KiB of output: inflate writes here, then it is copied out (zran.c does the
    /// same with its output buffer).
    ring: Box<[u8]>,
    ring_pos: usize,
    out: u64,
    member_offset: u64,
    member_out_start: u64,
    crc: Crc,
    checkpoints: Vec<Checkpoint>,
    /// Consecutive inflate calls that neither consumed nor produced anything.
    stalls: u32,
}

enum State {
    /// Before a member header; `first` for the stream's first member (whose absence is an error).
    Header {
        first: bool,
    },
    Deflate,
    Done,
    /// An error was returned; `finish` returns it (reads return a copy of its text).
    Failed(Option<ZranError>),
}

impl<R: Read> IndexingReader<R> {
    /// Decode the gzip stream `reader` yields, with a checkpoint at the first block boundary
    /// after every `span` bytes of output (0 counts as 1).
    pub fn new(reader: R, span: u64) -> Self {
        Self {
            src: Sequential(reader),
            input: Input::new(),
            inflater: None,
            span: span.max(1),
            state: State::Header { first: true },
            ring: vec![0; WINDOW_SIZE].into_boxed_slice(),
            ring_pos: 0,
            out: 0,
            member_offset: 0,
            member_out_start: 0,
            crc: Crc::new(),
            checkpoints: Vec::new(),
            stalls: 0,
        }
    }

    /// Decompressed bytes into `buf`; 0 at the end of the stream (or when `buf` is empty).
    pub fn read_decompressed(&mut self, buf: &mut [u8]) -> Result<usize, ZranError> {
        self.step(buf).inspect_err(|e| {
            self.state = State::Failed(Some(self.earlier_error(e.to_string())));
        })
    }

    fn earlier_error(&self, message: String) -> ZranError {
        ZranError::Corrupt {
            compressed_offset: self.input.offset(),
            uncompressed_offset: Some(self.out),
            message: format!("indexing stopped after an earlier error: {message}"),
        }
    }

    /// Read what is left, then return the index (or the error that stopped the reading).
    pub fn finish(mut self) -> Result<GzipIndex, ZranError> {
        let mut sink = vec![0u8; 64 * 1024];
        while self.read_decompressed(&mut sink)? > 0 {}
        Ok(GzipIndex {
            span: self.span,
            uncompressed_size: self.out,
            compressed_size: self.input.offset(),
            checkpoints: self.checkpoints,
        })
    }

    fn step(&mut self, buf: &mut [u8]) -> Result<usize, ZranError> {
        loop {
            match &mut self.state {
                State::Failed(e) => {
                    let e = e.take();
                    return Err(e.unwrap_or_else(|| self.earlier_error("already returned".into())));
                }
                State::Done => return Ok(0),
                _ if buf.is_empty() => return Ok(0),
                State::Header { first } => {
                    let first = *first;
                    self.member_offset = self.input.offset();
                    if !self.input.read_member_header(&mut self.src)? {
                        if first {
                            return Err(ZranError::Truncated {
                                compressed_offset: 0,
                            });
                        }
                        self.state = State::Done;
                        return Ok(0);
                    }
                    match &mut self.inflater {
                        Some(inflater) => inflater.reset(),
                        None => {
                            let inflater = RawInflater::new()
                                .map_err(|message| ZranError::Inflater { message })?;
                            self.inflater = Some(inflater);
                        }
                    }
                    self.crc.reset();
                    self.member_out_start = self.out;
                    self.state = State::Deflate;
                    // The deflate data starts byte-aligned with no history: a checkpoint.
                    self.maybe_checkpoint(0);
                }
                State::Deflate => {
                    let n = self.inflate_some(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
            }
        }
    }

    /// One inflate call; handles the block boundary or member end it may stop at.
    fn inflate_some(&mut self, buf: &mut [u8]) -> Result<usize, ZranError> {
        if !self.input.fill(&mut self.src)? {
            return Err(ZranError::Truncated {
                compressed_offset: self.input.offset(),
            });
        }
        let room = buf.len().min(WINDOW_SIZE - self.ring_pos);
        let out_slot = &mut self.ring[self.ring_pos..self.ring_pos + room];
        let inflater = self
            .inflater
            .as_mut()
            .expect("set when the header was read");
        let step = inflater
            .inflate(self.input.available(), out_slot, true)
            .map_err(|message| ZranError::Corrupt {
                compressed_offset: self.input.offset(),
                uncompressed_offset: Some(self.out),
                message,
            })?;
        self.input.consume(step.consumed);
        let produced = &self.ring[self.ring_pos..self.ring_pos + step.produced];
        buf[..step.produced].copy_from_slice(produced);
        self.crc.update(produced);
        self.ring_pos = (self.ring_pos + step.produced) % WINDOW_SIZE;
        self.out += step.produced as u64;
        if step.consumed == 0 && step.produced == 0 && !step.at_block_boundary {
            self.stalls += 1;
            if self.stalls > 2 {
                return Err(ZranError::Corrupt {
                    compressed_offset: self.input.offset(),
                    uncompressed_offset: Some(self.out),
                    message: "inflate makes no progress".into(),
                });
            }
        } else {
            self.stalls = 0;
        }
        match step.stop {
            Stop::StreamEnd => {
                // The trailer starts at the byte after the last bit used.
                self.input.unconsume((step.bits_held / 8) as usize)?;
                self.check_trailer()?;
                self.state = State::Header { first: false };
            }
            Stop::Running if step.at_block_boundary => self.maybe_checkpoint(step.bits_held),
            Stop::Running => {}
        }
        Ok(step.produced)
    }

    fn check_trailer(&mut self) -> Result<(), ZranError> {
        let (crc, isize) = self.input.read_trailer(&mut self.src)?;
        let member_offset = self.member_offset;
        if crc != self.crc.sum() {
            let found = self.crc.sum();
            return Err(ZranError::TrailerMismatch {
                member_offset,
                field: "CRC-32",
                expected: crc,
                found,
            });
        }
        // ISIZE is the size modulo 2^32 (RFC 1952).
        let size = (self.out - self.member_out_start) as u32;
        if isize != size {
            return Err(ZranError::TrailerMismatch {
                member_offset,
                field: "ISIZE",
                expected: isize,
                found: size,
            });
        }
        Ok(())
    }

    /// Record a checkpoint here if it is the first or `span` has passed since the last one.
    fn maybe_checkpoint(&mut self, bits_held: u32) {
        if let Some(last) = self.checkpoints.last()
            && self.out - last.uncompressed < self.span
        {
            return;
        }
        let bit_pos = self.input.offset() * 8 - u64::from(bits_held);
        let compressed = bit_pos.div_ceil(8);
        let bits = (compressed * 8 - bit_pos) as u8;
        let window_len = (self.out - self.member_out_start).min(WINDOW_SIZE as u64) as usize;
        // The window is the `window_len` bytes before `ring_pos`, wrapping around the ring.
        let mut window = Vec::with_capacity(window_len);
        let tail = window_len.saturating_sub(self.ring_pos);
        window.extend_from_slice(&self.ring[WINDOW_SIZE - tail..]);
        window.extend_from_slice(&self.ring[self.ring_pos - (window_len - tail)..self.ring_pos]);
        self.checkpoints.push(Checkpoint {
            uncompressed: self.out,
            compressed,
            bits,
            window_len: window_len as u32,
            packed_window: pack_window(&window),
        });
    }
}

impl<R: Read> Read for IndexingReader<R> {
    /// The error is returned as text; [`IndexingReader::finish`] returns it typed.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step(buf).map_err(|e| {
            let text = io::Error::new(e.io_kind(), e.to_string());
            self.state = State::Failed(Some(e));
            text
        })
    }
}
