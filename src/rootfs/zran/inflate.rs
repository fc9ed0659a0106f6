//! The one place that calls zlib's C-shaped API (libz-rs-sys, zlib-rs underneath): a raw-deflate
//! inflater with the three things zran needs and flate2 does not offer — `Z_BLOCK` stops with
//! the bit position reported, `inflatePrime`, and `inflateSetDictionary`.

use libz_rs_sys as z;

/// Deflate's sliding window: a back-reference reaches at most this far (RFC 1951 §3.2.5).
pub(super) const WINDOW_SIZE: usize = 32 * 1024;

/// Where an inflate call stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// More input or output space is needed, or (with `Z_BLOCK`) a block ended.
    Running,
    /// The deflate stream's last block ended.
    StreamEnd,
}

/// What one inflate call did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub(super) stop: Stop,
    pub(super) consumed: usize,
    pub(super) produced: usize,
    /// Bits taken from the input but not yet used. zlib keeps fewer than 8 at a block boundary;
    /// zlib-rs may hold whole bytes too, so the callers place the next bit at
    /// `consumed_offset * 8 - bits_held` rather than assume less than a byte.
    pub(super) bits_held: u32,
    /// The call stopped at the end of a deflate block that is not the last one: a place to
    /// restart from (zlib.h: `data_type` 128 set, 64 clear).
    pub(super) at_block_boundary: bool,
}

/// A raw deflate inflater (windowBits -15: no zlib or gzip framing; the gzip members are framed
/// by the callers, so that member ends and headers are at byte offsets they know).
pub(super) struct RawInflater {
    // Boxed: zlib requires the stream not to move between calls (its state may point back to it).
    strm: Box<z::z_stream>,
}

// SAFETY: the z_stream and the state it points to are owned by this value alone; `inflate` sets
// the buffer pointers only for the duration of one call and clears them before returning, so no
// pointer into another thread's data outlives a call.
unsafe impl Send for RawInflater {}

impl RawInflater {
    pub(super) fn new() -> Result<Self, String> {
        // `Default` sets zlib-rs's Rust allocator (feature rust-allocator).
        let mut strm = Box::new(z::z_stream::default());
        // SAFETY: `strm` is a valid, exclusively borrowed z_stream whose zalloc/zfree/opaque were
        // set by `Default`; the version is zlib's own static C string and the size is that of the
        // struct passed, as inflateInit2_ requires.
        let ret = unsafe {
            z::inflateInit2_(
                &mut *strm,
                -15,
                z::zlibVersion(),
                std::mem::size_of::<z::z_stream>() as i32,
            )
        };
        if ret != z::Z_OK {
            return Err(format!("inflateInit2 failed (zlib code {ret})"));
        }
        Ok(Self { strm })
    }

    /// Forget the current stream (its window too), keep the raw-deflate setting.
    pub(super) fn reset(&mut self) {
        // SAFETY: the stream was initialized in `new` and is exclusively borrowed.
        let ret = unsafe { z::inflateReset(&mut *self.strm) };
        debug_assert_eq!(ret, z::Z_OK);
    }

    /// Feed the low `bits` bits of `value` before the next input byte (zran: a block that starts
    /// inside a byte).
    pub(super) fn prime(&mut self, bits: u8, value: u8) -> Result<(), String> {
        // SAFETY: the stream was initialized in `new` and is exclusively borrowed.
        let ret = unsafe { z::inflatePrime(&mut *self.strm, i32::from(bits), i32::from(value)) };
        match ret {
            z::Z_OK => Ok(()),
            _ => Err(format!(
                "inflatePrime refused {bits} bits (zlib code {ret})"
            )),
        }
    }

    /// The 32 KiB (at most) of output that preceded the restart point.
    pub(super) fn set_dictionary(&mut self, window: &[u8]) -> Result<(), String> {
        // SAFETY: the stream was initialized in `new` and is exclusively borrowed; the pointer and
        // length describe `window`, which outlives the call (zlib copies it into its window).
        let ret = unsafe {
            z::inflateSetDictionary(&mut *self.strm, window.as_ptr(), window.len() as u32)
        };
        match ret {
            z::Z_OK => Ok(()),
            _ => Err(format!("inflateSetDictionary failed (zlib code {ret})")),
        }
    }

    /// Inflate from `input` into `output`; `stop_at_blocks` is `Z_BLOCK` (stop after each block,
    /// for indexing), otherwise `Z_NO_FLUSH`. The error is zlib's message.
    pub(super) fn inflate(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        stop_at_blocks: bool,
    ) -> Result<Step, String> {
        let avail_in = input.len().min(u32::MAX as usize) as u32;
        let avail_out = output.len().min(u32::MAX as usize) as u32;
        self.strm.next_in = input.as_ptr();
        self.strm.avail_in = avail_in;
        self.strm.next_out = output.as_mut_ptr();
        self.strm.avail_out = avail_out;
        let flush = if stop_at_blocks {
            z::Z_BLOCK
        } else {
            z::Z_NO_FLUSH
        };
        // SAFETY: the stream was initialized in `new` and is exclusively borrowed; next_in and
        // avail_in describe `input`, next_out and avail_out describe `output`, both borrowed for
        // the whole call; the pointers are cleared right after it.
        let ret = unsafe { z::inflate(&mut *self.strm, flush) };
        let consumed = (avail_in - self.strm.avail_in) as usize;
        let produced = (avail_out - self.strm.avail_out) as usize;
        self.strm.next_in = std::ptr::null();
        self.strm.avail_in = 0;
        self.strm.next_out = std::ptr::null_mut();
        self.strm.avail_out = 0;
        let data_type = self.strm.data_type;
        let stop = match ret {
            z::Z_OK | z::Z_BUF_ERROR => Stop::Running,
            z::Z_STREAM_END => Stop::StreamEnd,
            z::Z_NEED_DICT => return Err("the stream asks for a preset dictionary".into()),
            z::Z_MEM_ERROR => return Err("out of memory".into()),
            _ => return Err(self.message().unwrap_or_else(|| format!("zlib code {ret}"))),
        };
        Ok(Step {
            stop,
            consumed,
            produced,
            bits_held: (data_type & 63) as u32,
            at_block_boundary: data_type & 0xc0 == 0x80,
        })
    }

    fn message(&self) -> Option<String> {
        if self.strm.msg.is_null() {
            return None;
        }
        // SAFETY: zlib-rs sets `msg` only to its static NUL-terminated messages (inflate.rs
        // asserts the NUL before storing the pointer); it is not null here.
        let msg = unsafe { std::ffi::CStr::from_ptr(self.strm.msg) };
        Some(msg.to_string_lossy().into_owned())
    }
}

impl Drop for RawInflater {
    fn drop(&mut self) {
        // SAFETY: the stream was initialized in `new`; it is not used after this.
        unsafe { z::inflateEnd(&mut *self.strm) };
    }
}
