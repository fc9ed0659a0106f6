//! A bounded tar reader: yields each member's header (path, link, size, kind, data offset) and its
//! data as a stream, applying GNU long names and links (`L`, `K`) and PAX `path`, `linkpath` and
//! `size` records (`x`) itself, with every such meta entry capped *before* it is read.
//!
//! Why not the `tar` crate's `Entries`: it reads long names and PAX headers whole into memory
//! with no limit (tar 0.4.46 `EntriesFields::next_entry` → `read_all`), so a 1.2 MB gzip of a
//! 1 GiB long name costs 1 GiB and more of RAM. Its `raw(true)` mode hands those entries over
//! unread, but then positions the next header by the ustar `size` field and ignores a PAX `size`
//! record (`next_entry_raw` is called with no PAX data), which Go's `archive/tar` (hence Docker)
//! writes for members of 8 GiB and more, with a zero in the header field. Reading headers here
//! keeps the two in one place.
//!
//! The semantics follow Go's `archive/tar` reader (golang/go src/archive/tar/reader.go `next`,
//! `mergePAX`), which Docker uses: a GNU long name or link overrides a PAX `path`/`linkpath`,
//! which overrides the header's own (ustar prefix + name) field; a PAX `size` overrides the
//! header's; a `\0`-type member whose name ends in `/` is a directory. Go caps every such meta
//! entry at 1 MiB (`maxSpecialFileSize`); names get a tighter cap here.

use std::io::{self, Read};

/// Longest GNU long name or long link target accepted. Linux paths are at most 4 KiB; this
/// leaves room for any real archive and keeps a hostile one from allocating more. (Go allows
/// 1 MiB for any meta entry, reader.go `maxSpecialFileSize`.)
pub(crate) const MAX_LONG_NAME: u64 = 64 << 10;
/// Largest PAX extended header (`x` or `g`) accepted. Real ones hold a few records (path,
/// times, xattrs); 1 MiB, Go's `maxSpecialFileSize`, leaves room for large xattrs.
pub(crate) const MAX_PAX_HEADER: u64 = 1 << 20;

/// Longest entry path or link target, after long names and PAX records are applied: Linux's
/// `PATH_MAX`. Image archives use paths of under 100 bytes (`blobs/sha256/<hex>`).
pub(crate) const MAX_PATH: u64 = 4096;

const BLOCK: u64 = 512;

/// What a member is, from its type flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Regular,
    Directory,
    Symlink,
    HardLink,
    CharDevice,
    BlockDevice,
    Fifo,
    /// A PAX global header (`g`): describes the archive, not a file; its records are ignored.
    GlobalHeader,
    Other(u8),
}

/// One member of the archive, meta entries applied.
#[derive(Debug)]
pub(crate) struct Member {
    pub kind: Kind,
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    pub size: u64,
    /// Offset of the member's data in the (decompressed) stream.
    pub data_offset: u64,
    /// Ownership, permissions, time, device numbers and xattrs: what a file system built from
    /// the archive needs (`rootfs`); the importer ignores them.
    pub attrs: Attrs,
}

/// A member's attributes, PAX records applied (`uid`, `gid`, `mtime`, `SCHILY.xattr.*`, as Go's
/// `archive/tar` `mergePAX` does). Read leniently: a field that does not parse is named in
/// `bad_field` rather than failing the archive, so imports, which never look at these, read
/// every archive they read before.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Attrs {
    /// Permission bits with setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch and nanoseconds: PAX `mtime` when present, else the header's.
    pub mtime: (i64, u32),
    /// Major and minor device numbers (character and block devices).
    pub device: (u64, u64),
    /// Extended attributes from PAX `SCHILY.xattr.<name>` records, in record order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The first header field or PAX record that did not parse, if any.
    pub bad_field: Option<&'static str>,
    /// PAX `GNU.sparse.*` records: the member's data is a sparse map and its segments (GNU
    /// tar's PAX sparse formats), not the file's bytes, and its path a placeholder
    /// (`GNUSparseFile.<pid>/<name>`).
    pub sparse: bool,
}

/// Why a header could not be read.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// The input ended inside a header or inside an entry's data.
    Truncated,
    /// The input ended at a header boundary, without the end-of-archive zero block.
    NoEndOfArchive,
    /// Reading the input failed.
    Io(io::Error),
    /// A header that is not a tar header, or meta entries that make no sense.
    Malformed(String),
    /// A long name, long link or PAX header larger than its cap.
    TooLarge {
        kind: &'static str,
        size: u64,
        limit: u64,
    },
}

impl From<io::Error> for HeaderError {
    fn from(e: io::Error) -> HeaderError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            HeaderError::Truncated
        } else {
            HeaderError::Io(e)
        }
    }
}

/// An input that can pass over bytes; seekable inputs do so without reading them.
pub(crate) trait Skip: Read {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let skipped = io::copy(&mut self.take(n), &mut io::sink())?;
        if skipped != n {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// Reads members one after the other; [`TarReader::data`] reads the current member's data.
pub(crate) struct TarReader<R> {
    inner: R,
    /// Bytes consumed from `inner` (the stream offset).
    pos: u64,
    /// Offset of the next header.
    next: u64,
    /// Data left to read of the current member.
    remaining: u64,
}

impl<R: Skip> TarReader<R> {
    pub(crate) fn new(inner: R) -> TarReader<R> {
        TarReader {
            inner,
            pos: 0,
            next: 0,
            remaining: 0,
        }
    }

    /// The next member, or `None` at the end-of-archive zero block. `Err(NoEndOfArchive)` when
    /// the input ends at a header boundary without that block.
    pub(crate) fn next_member(&mut self) -> Result<Option<Member>, HeaderError> {
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Pax> = None;
        loop {
            let Some(header) = self.read_header()? else {
                if long_name.is_some() || long_link.is_some() || pax.is_some() {
                    return Err(malformed("meta entries at the end describe no member"));
                }
                return Ok(None);
            };
            let flag = header[156];
            let mut size = parse_size(&header[124..136])?;
            let meta_cap = match flag {
                b'L' => Some(("GNU long name", MAX_LONG_NAME)),
                b'K' => Some(("GNU long link", MAX_LONG_NAME)),
                b'x' => Some(("PAX extended header", MAX_PAX_HEADER)),
                b'g' => Some(("PAX global header", MAX_PAX_HEADER)),
                _ => None,
            };
            if let Some((kind, limit)) = meta_cap
                && size > limit
            {
                return Err(HeaderError::TooLarge { kind, size, limit });
            }
            match flag {
                b'L' | b'K' | b'x' => {
                    let data = self.read_meta(size)?;
                    let slot_taken = match flag {
                        b'L' => long_name.replace(cut_nul(&data)).is_some(),
                        b'K' => long_link.replace(cut_nul(&data)).is_some(),
                        _ => pax.replace(Pax::parse(&data)?).is_some(),
                    };
                    if slot_taken {
                        return Err(malformed(
                            "two meta entries of the same kind describe one member",
                        ));
                    }
                    continue;
                }
                _ => {}
            }
            let mut path = header_path(&header);
            let mut link = cut_nul(&header[157..257]);
            let mut attrs = header_attrs(&header);
            if let Some(pax) = pax {
                path = pax.path.unwrap_or(path);
                link = pax.linkpath.unwrap_or(link);
                size = pax.size.unwrap_or(size);
                pax.attrs.apply(&mut attrs);
            }
            path = long_name.unwrap_or(path);
            link = long_link.unwrap_or(link);
            for (kind, value) in [("entry path", &path), ("link target", &link)] {
                if value.len() as u64 > MAX_PATH {
                    return Err(HeaderError::TooLarge {
                        kind,
                        size: value.len() as u64,
                        limit: MAX_PATH,
                    });
                }
            }
            let kind = match flag {
                // Old archives mark directories with a trailing slash only.
                0 if path.ends_with(b"/") => Kind::Directory,
                b'0' | 0 | b'7' => Kind::Regular,
                b'1' => Kind::HardLink,
                b'2' => Kind::Symlink,
                b'3' => Kind::CharDevice,
                b'4' => Kind::BlockDevice,
                b'5' => Kind::Directory,
                b'6' => Kind::Fifo,
                b'g' => Kind::GlobalHeader,
                other => Kind::Other(other),
            };
            let mut member = self.start_data(kind, path, link, size)?;
            member.attrs = attrs;
            return Ok(Some(member));
        }
    }

    /// The current member's data; reads end at its last byte.
    pub(crate) fn data(&mut self) -> Data<'_, R> {
        Data { tar: self }
    }

    fn start_data(
        &mut self,
        kind: Kind,
        path: Vec<u8>,
        link: Vec<u8>,
        size: u64,
    ) -> Result<Member, HeaderError> {
        let data_offset = self.pos;
        self.remaining = size;
        self.next = size
            .checked_next_multiple_of(BLOCK)
            .and_then(|padded| data_offset.checked_add(padded))
            .ok_or_else(|| malformed("member size overflows"))?;
        Ok(Member {
            kind,
            path,
            link,
            size,
            data_offset,
            attrs: Attrs::default(),
        })
    }

    /// Skips to the next header and reads it; `None` at a zero block.
    fn read_header(&mut self) -> Result<Option<[u8; 512]>, HeaderError> {
        self.inner.skip(self.next - self.pos)?;
        self.pos = self.next;
        self.remaining = 0;
        let mut header = [0u8; 512];
        let mut filled = 0;
        while filled < header.len() {
            match self.inner.read(&mut header[filled..]) {
                Ok(0) if filled == 0 => return Err(HeaderError::NoEndOfArchive),
                Ok(0) => return Err(HeaderError::Truncated),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.pos += BLOCK;
        self.next = self.pos;
        if header.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        check_checksum(&header)?;
        Ok(Some(header))
    }

    /// Reads a (capped) meta entry's data whole.
    fn read_meta(&mut self, size: u64) -> Result<Vec<u8>, HeaderError> {
        self.start_data(Kind::Other(0), Vec::new(), Vec::new(), size)?;
        let mut data = Vec::with_capacity(size as usize);
        self.data().read_to_end(&mut data)?;
        if data.len() as u64 != size {
            return Err(HeaderError::Truncated);
        }
        Ok(data)
    }

    /// The underlying input (to drain it after the archive ends).
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}

/// The data of the current member.
pub(crate) struct Data<'a, R> {
    tar: &'a mut TarReader<R>,
}

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let tar = &mut *self.tar;
        let max = (buf.len() as u64).min(tar.remaining) as usize;
        if max == 0 {
            return Ok(0);
        }
        let n = tar.inner.read(&mut buf[..max])?;
        tar.pos += n as u64;
        tar.remaining -= n as u64;
        Ok(n)
    }
}

/// The records of a PAX extended header that change where and what a member is.
#[derive(Debug, Default, PartialEq)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    attrs: PaxAttrs,
}

/// PAX records that change a member's attributes, not where it is: kept apart so that a record
/// that does not parse marks the member (`Attrs::bad_field`) instead of failing the archive.
#[derive(Debug, Default, PartialEq)]
struct PaxAttrs {
    uid: Option<Option<u64>>,
    gid: Option<Option<u64>>,
    mtime: Option<Option<(i64, u32)>>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    sparse: bool,
}

impl PaxAttrs {
    fn apply(self, attrs: &mut Attrs) {
        let mut bad = |name| {
            attrs.bad_field.get_or_insert(name);
        };
        match self.uid {
            Some(Some(uid)) => attrs.uid = uid,
            Some(None) => bad("PAX uid"),
            None => {}
        }
        match self.gid {
            Some(Some(gid)) => attrs.gid = gid,
            Some(None) => bad("PAX gid"),
            None => {}
        }
        match self.mtime {
            Some(Some(mtime)) => attrs.mtime = mtime,
            Some(None) => bad("PAX mtime"),
            None => {}
        }
        attrs.xattrs = self.xattrs;
        attrs.sparse = self.sparse;
    }
}

impl Pax {
    /// Parses `"%d %s=%s\n"` records (POSIX pax "extended header" format); the length counts
    /// the whole record. A malformed record fails the archive, as in Go (`parsePAXRecord`).
    fn parse(mut data: &[u8]) -> Result<Pax, HeaderError> {
        let bad = || malformed("malformed PAX record");
        let mut pax = Pax::default();
        while !data.is_empty() {
            let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
            let len: usize = std::str::from_utf8(&data[..space])
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?;
            if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
                return Err(bad());
            }
            let record = &data[space + 1..len - 1];
            let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            match key {
                // Go refuses these with a NUL (`validPAXRecord`): a name the kernel would cut
                // short there could show as another.
                b"path" | b"linkpath" if value.contains(&0) => {
                    return Err(malformed("PAX path or linkpath record contains a NUL byte"));
                }
                b"path" => pax.path = Some(value.to_vec()),
                b"linkpath" => pax.linkpath = Some(value.to_vec()),
                b"size" => {
                    let size = std::str::from_utf8(value)
                        .ok()
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| malformed("PAX size record is not a number"))?;
                    pax.size = Some(size);
                }
                b"uid" => pax.attrs.uid = Some(parse_decimal(value)),
                b"gid" => pax.attrs.gid = Some(parse_decimal(value)),
                b"mtime" => pax.attrs.mtime = Some(parse_pax_time(value)),
                _ if key.starts_with(b"GNU.sparse.") => pax.attrs.sparse = true,
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        pax.attrs.xattrs.push((name.to_vec(), value.to_vec()));
                    }
                }
            }
            data = &data[len..];
        }
        // A later record for the same name replaces the earlier, which moves to the later's
        // place (Go keeps the last in its map too): one pass with a map, not a scan per record,
        // which a 1 MiB header of 50,000 records would make quadratic.
        let xattrs = std::mem::take(&mut pax.attrs.xattrs);
        let keep: Vec<bool> = {
            let mut last = std::collections::HashMap::with_capacity(xattrs.len());
            for (i, (name, _)) in xattrs.iter().enumerate() {
                last.insert(name.as_slice(), i);
            }
            (0..xattrs.len())
                .map(|i| last[xattrs[i].0.as_slice()] == i)
                .collect()
        };
        pax.attrs.xattrs = xattrs
            .into_iter()
            .zip(keep)
            .filter_map(|(x, keep)| keep.then_some(x))
            .collect();
        Ok(pax)
    }
}

fn parse_decimal(value: &[u8]) -> Option<u64> {
    std::str::from_utf8(value)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
}

/// A PAX time, `[-]seconds[.fraction]` (POSIX pax; Go `parsePAXTime`): fraction digits past
/// nanoseconds are truncated.
fn parse_pax_time(value: &[u8]) -> Option<(i64, u32)> {
    let text = std::str::from_utf8(value).ok()?;
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + digit;
    }
    if !negative {
        return Some((secs, nanos));
    }
    // -1.25 is 1.25 s before the epoch: seconds -2, nanoseconds 750,000,000.
    if nanos == 0 {
        Some((secs.checked_neg()?, 0))
    } else {
        Some((secs.checked_neg()?.checked_sub(1)?, 1_000_000_000 - nanos))
    }
}

/// Mode, ownership, time and device numbers from the header's own fields (POSIX ustar; GNU
/// base-256 for large values).
fn header_attrs(header: &[u8; 512]) -> Attrs {
    let mut attrs = Attrs::default();
    let mut field = |name: &'static str, range: std::ops::Range<usize>| -> u64 {
        match parse_size(&header[range]) {
            Ok(v) => v,
            Err(_) => {
                attrs.bad_field.get_or_insert(name);
                0
            }
        }
    };
    let mode = field("mode", 100..108);
    let uid = field("uid", 108..116);
    let gid = field("gid", 116..124);
    let mtime = field("mtime", 136..148);
    let major = field("devmajor", 329..337);
    let minor = field("devminor", 337..345);
    attrs.mode = (mode & 0o7777) as u32;
    attrs.uid = uid;
    attrs.gid = gid;
    attrs.mtime = (i64::try_from(mtime).unwrap_or(i64::MAX), 0);
    attrs.device = (major, minor);
    attrs
}

fn malformed(reason: &str) -> HeaderError {
    HeaderError::Malformed(reason.to_string())
}

/// Bytes up to the first NUL.
fn cut_nul(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// The path a header holds: ustar headers (magic `ustar\0`) prepend their 155-byte prefix; GNU
/// headers (magic `ustar  \0`) use that space for other fields.
fn header_path(header: &[u8; 512]) -> Vec<u8> {
    let name = cut_nul(&header[..100]);
    if &header[257..263] == b"ustar\0" {
        let prefix = cut_nul(&header[345..500]);
        if !prefix.is_empty() {
            let mut path = prefix;
            path.push(b'/');
            path.extend_from_slice(&name);
            return path;
        }
    }
    name
}

/// Octal (NUL/space padded) or, with the high bit of the first byte set, GNU base-256.
fn parse_size(field: &[u8]) -> Result<u64, HeaderError> {
    if field[0] & 0x80 != 0 {
        if field[0] & 0x40 != 0 {
            return Err(malformed("negative size field"));
        }
        let mut value: u64 = (field[0] & 0x3f) as u64;
        for &b in &field[1..] {
            value = value
                .checked_mul(256)
                .map(|v| v | b as u64)
                .ok_or_else(|| malformed("size field overflows"))?;
        }
        return Ok(value);
    }
    parse_octal(field).ok_or_else(|| malformed("size field is not an octal number"))
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// The checksum covers the header with its own field read as spaces; as in Go, both the
/// unsigned and the (historical) signed sum are accepted.
fn check_checksum(header: &[u8; 512]) -> Result<(), HeaderError> {
    let stored = parse_octal(&header[148..156])
        .ok_or_else(|| malformed("not a tar header (checksum field is not a number)"))?;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in header.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as u64;
        signed += b as i8 as i64;
    }
    if stored != unsigned && stored as i64 != signed {
        return Err(malformed("not a tar header (checksum mismatch)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Skip for &[u8] {}

    fn header(name: &[u8], flag: u8, size: u64) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name);
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[156] = flag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn member(out: &mut Vec<u8>, name: &[u8], flag: u8, data: &[u8], header_size: u64) {
        out.extend(header(name, flag, header_size));
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }

    fn pax_record(key: &str, value: &str) -> String {
        // The length counts its own digits: find the fixed point.
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}")
    }

    #[test]
    fn pax_size_path_and_gnu_long_names_apply_to_the_next_member() {
        let mut tar = Vec::new();
        let records = pax_record("size", "5") + &pax_record("path", "blobs/sha256/pax");
        // Go writes 0 in the header's size field when the size lives in a PAX record.
        member(
            &mut tar,
            b"PaxHeaders/x",
            b'x',
            records.as_bytes(),
            records.len() as u64,
        );
        member(&mut tar, b"x", b'0', b"hello", 0);
        let long = vec![b'n'; 300];
        member(
            &mut tar,
            b"././@LongLink",
            b'L',
            &[&long[..], b"\0"].concat(),
            301,
        );
        member(&mut tar, b"short", b'0', b"ab", 2);
        tar.extend([0u8; 1024]);

        let mut reader = TarReader::new(&tar[..]);
        let first = reader.next_member().unwrap().unwrap();
        assert_eq!(
            (first.path.as_slice(), first.size),
            (&b"blobs/sha256/pax"[..], 5)
        );
        let mut data = Vec::new();
        reader.data().read_to_end(&mut data).unwrap();
        assert_eq!(data, b"hello");
        let second = reader.next_member().unwrap().unwrap();
        assert_eq!((second.path, second.size), (long, 2));
        assert!(reader.next_member().unwrap().is_none());
    }

    #[test]
    fn gnu_long_name_overrides_pax_path_as_in_go() {
        let mut tar = Vec::new();
        let records = pax_record("path", "from-pax");
        member(
            &mut tar,
            b"PaxHeaders/x",
            b'x',
            records.as_bytes(),
            records.len() as u64,
        );
        member(&mut tar, b"././@LongLink", b'L', b"from-gnu\0", 9);
        member(&mut tar, b"header", b'0', b"", 0);
        member(&mut tar, b"olddir/", 0, b"", 0);
        tar.extend([0u8; 1024]);
        let mut reader = TarReader::new(&tar[..]);
        assert_eq!(reader.next_member().unwrap().unwrap().path, b"from-gnu");
        assert_eq!(reader.next_member().unwrap().unwrap().kind, Kind::Directory);
    }

    #[test]
    fn paths_and_link_targets_over_path_max_are_refused() {
        for (flag, kind) in [(b'L', "entry path"), (b'K', "link target")] {
            let mut tar = Vec::new();
            member(&mut tar, b"././@LongLink", flag, &[b'a'; 4097], 4097);
            member(&mut tar, b"x", b'2', b"", 0);
            match TarReader::new(&tar[..]).next_member() {
                Err(HeaderError::TooLarge { kind: k, size, .. }) => {
                    assert_eq!((k, size), (kind, 4097))
                }
                other => panic!("{kind}: {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_meta_entries_are_refused_before_reading() {
        for (flag, kind, limit) in [
            (b'L', "GNU long name", MAX_LONG_NAME),
            (b'K', "GNU long link", MAX_LONG_NAME),
            (b'x', "PAX extended header", MAX_PAX_HEADER),
            (b'g', "PAX global header", MAX_PAX_HEADER),
        ] {
            // Only the header is present: the data is never read.
            let tar = header(b"meta", flag, 1 << 30);
            match TarReader::new(&tar[..]).next_member() {
                Err(HeaderError::TooLarge {
                    kind: k,
                    size,
                    limit: l,
                }) => assert_eq!((k, size, l), (kind, 1 << 30, limit)),
                other => panic!("{kind}: {other:?}"),
            }
        }
    }

    #[test]
    fn malformed_pax_records_and_checksums_are_errors() {
        for bad in [&b"5 a=b"[..], b"x path=y\n", b"99 path=y\n", b"7 path\n"] {
            assert!(Pax::parse(bad).is_err(), "{bad:?}");
        }
        // A NUL in a name record, as Go refuses it (`validPAXRecord`); elsewhere it is data.
        for bad in [&b"12 path=a\0b\n"[..], b"16 linkpath=a\0b\n"] {
            assert!(Pax::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Pax::parse(b"25 SCHILY.xattr.user.k=\0\n").is_ok());
        // GNU tar's PAX sparse records mark the member, whatever their values.
        let sparse = Pax::parse(b"22 GNU.sparse.major=1\n").unwrap();
        assert!(sparse.attrs.sparse);
        let mut h = header(b"f", b'0', 0);
        h[0] ^= 1;
        assert!(matches!(
            TarReader::new(&h[..]).next_member(),
            Err(HeaderError::Malformed(_))
        ));
        assert!(matches!(
            TarReader::new(&h[..100]).next_member(),
            Err(HeaderError::Truncated)
        ));
        assert!(matches!(
            TarReader::new(&[][..]).next_member(),
            Err(HeaderError::NoEndOfArchive)
        ));
    }

    #[test]
    fn pax_times_keep_nanoseconds_and_negative_times_count_back() {
        assert_eq!(
            parse_pax_time(b"1700000000.123456789"),
            Some((1_700_000_000, 123_456_789))
        );
        assert_eq!(parse_pax_time(b"5.5"), Some((5, 500_000_000)));
        assert_eq!(parse_pax_time(b"5.1234567891"), Some((5, 123_456_789)));
        assert_eq!(parse_pax_time(b"7"), Some((7, 0)));
        assert_eq!(parse_pax_time(b"-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_pax_time(b"-3"), Some((-3, 0)));
        for bad in [&b""[..], b".5", b"1.x", b"x", b"--1"] {
            assert_eq!(parse_pax_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn attributes_come_from_the_header_and_pax_and_bad_ones_only_mark_the_member() {
        let mut tar = Vec::new();
        let records = pax_record("mtime", "12.5")
            + &pax_record("uid", "70000")
            + &pax_record("SCHILY.xattr.user.a", "1");
        member(
            &mut tar,
            b"PaxHeaders/x",
            b'x',
            records.as_bytes(),
            records.len() as u64,
        );
        let mut h = header(b"f", b'0', 0);
        h[100..108].copy_from_slice(b"0104755\0");
        h[116..124].copy_from_slice(b"0000012\0");
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend(h);
        let records = pax_record("mtime", "soon");
        member(
            &mut tar,
            b"PaxHeaders/y",
            b'x',
            records.as_bytes(),
            records.len() as u64,
        );
        member(&mut tar, b"g", b'0', b"", 0);
        tar.extend([0u8; 1024]);
        let mut reader = TarReader::new(&tar[..]);
        let f = reader.next_member().unwrap().unwrap();
        assert_eq!(
            (f.attrs.mode, f.attrs.uid, f.attrs.gid),
            (0o4755, 70000, 0o12)
        );
        assert_eq!(f.attrs.mtime, (12, 500_000_000));
        assert_eq!(f.attrs.xattrs, vec![(b"user.a".to_vec(), b"1".to_vec())]);
        assert_eq!(f.attrs.bad_field, None);
        // An mtime that does not parse fails neither the member nor the archive (imports
        // never look at it); it is named for the table of contents.
        let g = reader.next_member().unwrap().unwrap();
        assert_eq!(
            (g.path.as_slice(), g.attrs.bad_field),
            (&b"g"[..], Some("PAX mtime"))
        );
        assert!(reader.next_member().unwrap().is_none());
    }

    #[test]
    fn base256_sizes_parse() {
        let mut field = [0u8; 12];
        field[0] = 0x80;
        field[7..].copy_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(parse_size(&field).unwrap(), (2 << 32) + 1);
        assert_eq!(parse_size(b"00000000012\0").unwrap(), 10);
    }
}
