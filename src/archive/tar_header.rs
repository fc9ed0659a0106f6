//! Tar headers byte-for-byte as Go's `archive/tar` writes them for `docker save` (USTAR, octal
//! fields zero-padded with a NUL terminator, checksum as six digits, NUL, space), with the PAX
//! `size` record Go adds for entries of 8 GiB or more.
//!
//! tar-rs headers differ in the checksum and device fields, which would change every archive's
//! digest relative to Docker's, so we lay the 512 bytes out ourselves.

pub(super) const BLOCK: u64 = 512;

/// Largest size the 11-digit octal field holds; beyond it Go switches to a PAX header.
const MAX_OCTAL_SIZE: u64 = 0o77777777777;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EntryKind {
    Regular,
    Directory,
}

/// The header block(s) for one entry: 512 bytes, or 1536 when a PAX size record is needed.
pub(super) fn header(name: &str, size: u64, mode: u32, kind: EntryKind) -> Vec<u8> {
    assert!(
        name.len() <= 100,
        "archive entry names are generated and at most 100 bytes"
    );
    let typeflag = match kind {
        EntryKind::Regular => b'0',
        EntryKind::Directory => b'5',
    };
    if size <= MAX_OCTAL_SIZE {
        return ustar_block(name, size, mode, typeflag).to_vec();
    }
    // Go: writePAXHeader with the record "size=N" in "<dir>/PaxHeaders.0/<file>", then the main
    // header whose size field no longer fits and is written as zero.
    let record = pax_record("size", &size.to_string());
    let (dir, file) = name.rsplit_once('/').map_or(("", name), |(d, f)| (d, f));
    let pax_name = if dir.is_empty() {
        format!("PaxHeaders.0/{file}")
    } else {
        format!("{dir}/PaxHeaders.0/{file}")
    };
    let mut out = raw_pax_block(&pax_name, record.len() as u64).to_vec();
    out.extend_from_slice(record.as_bytes());
    out.resize(out.len().next_multiple_of(BLOCK as usize), 0);
    out.extend_from_slice(&ustar_block(name, 0, mode, typeflag));
    out
}

/// Length on disk of an entry whose header is `header_len` bytes and body `size` bytes.
pub(super) fn entry_len(header_len: u64, size: u64) -> u64 {
    header_len + size.next_multiple_of(BLOCK)
}

fn ustar_block(name: &str, size: u64, mode: u32, typeflag: u8) -> [u8; 512] {
    let mut b = [0u8; 512];
    put_str(&mut b[0..100], name);
    put_octal(&mut b[100..108], u64::from(mode));
    put_octal(&mut b[108..116], 0); // uid
    put_octal(&mut b[116..124], 0); // gid
    put_octal(&mut b[124..136], size);
    put_octal(&mut b[136..148], 0); // mtime: the Unix epoch, as docker save writes
    b[156] = typeflag;
    // uname and gname stay empty; Go still formats the device numbers.
    put_octal(&mut b[329..337], 0);
    put_octal(&mut b[337..345], 0);
    finish(&mut b);
    b
}

/// Go's `writeRawFile` header for a PAX extension: only name, mode, ids, size and mtime set.
fn raw_pax_block(name: &str, size: u64) -> [u8; 512] {
    let mut b = [0u8; 512];
    put_str(&mut b[0..100], name);
    put_octal(&mut b[100..108], 0);
    put_octal(&mut b[108..116], 0);
    put_octal(&mut b[116..124], 0);
    put_octal(&mut b[124..136], size);
    put_octal(&mut b[136..148], 0);
    b[156] = b'x';
    finish(&mut b);
    b
}

/// Magic, version and checksum (Go `setFormat(FormatUSTAR)`).
fn finish(b: &mut [u8; 512]) {
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    let sum: u64 = b
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(c)
            }
        })
        .sum();
    put_octal(&mut b[148..155], sum);
    b[155] = b' ';
}

/// Go `formatOctal`: zero-padded to the field width minus one, then NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let digits = format!("{value:o}");
    let width = field.len() - 1;
    let padded = format!("{digits:0>width$}");
    put_str(field, &padded);
}

/// Go `formatString`: copy, then a NUL if there is room.
fn put_str(field: &mut [u8], s: &str) {
    let bytes = s.as_bytes();
    field[..bytes.len()].copy_from_slice(bytes);
    if bytes.len() < field.len() {
        field[bytes.len()] = 0;
    }
}

/// Go `formatPAXRecord`: "<len> <key>=<value>\n" where len counts itself.
fn pax_record(key: &str, value: &str) -> String {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    let mut record = format!("{size} {key}={value}\n");
    if record.len() != size {
        size = record.len();
        record = format!("{size} {key}={value}\n");
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_go_archive_tar_byte_layout() {
        let h = header("index.json", 1234, 0o644, EntryKind::Regular);
        assert_eq!(h.len(), 512);
        assert_eq!(&h[0..11], b"index.json\0");
        assert_eq!(&h[100..108], b"0000644\0");
        assert_eq!(&h[108..116], b"0000000\0");
        assert_eq!(&h[124..136], b"00000002322\0");
        assert_eq!(&h[136..148], b"00000000000\0");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar\x0000");
        assert_eq!(&h[329..345], b"0000000\x000000000\x00");
        assert_eq!(h[154], 0);
        assert_eq!(h[155], b' ');
        // The checksum is what tar readers recompute.
        let parsed = tar::Header::from_byte_slice(&h);
        assert_eq!(
            parsed.cksum().unwrap(),
            u32::try_from(sum_with_spaces(&h)).unwrap()
        );
        assert_eq!(parsed.size().unwrap(), 1234);
        assert_eq!(parsed.path().unwrap().to_str(), Some("index.json"));
    }

    fn sum_with_spaces(h: &[u8]) -> u64 {
        h.iter()
            .enumerate()
            .map(|(i, &c)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(c)
                }
            })
            .sum()
    }

    #[test]
    fn directory_header_has_type_5() {
        let h = header("blobs/", 0, 0o755, EntryKind::Directory);
        assert_eq!(h[156], b'5');
        assert_eq!(&h[100..108], b"0000755\0");
    }

    #[test]
    fn sizes_over_8_gib_get_a_pax_size_record() {
        let size = 9 << 30;
        let h = header("blobs/sha256/abc", size, 0o444, EntryKind::Regular);
        assert_eq!(h.len(), 1536);
        assert_eq!(&h[0..32], b"blobs/sha256/PaxHeaders.0/abc\0\0\0");
        assert_eq!(h[156], b'x');
        let record = format!("19 size={size}\n");
        assert_eq!(&h[512..512 + record.len()], record.as_bytes());
        assert_eq!(&h[1024 + 124..1024 + 136], b"00000000000\0");
        // tar-rs applies the PAX size to the entry, as every reader must.
        let mut data = h.clone();
        data.extend(std::iter::repeat_n(0u8, 1024));
        let mut archive = tar::Archive::new(&data[..]);
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.size(), size);
    }

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record("size", "1"), "9 size=1\n");
        // Adding the length field pushes this record from 2 to 3 length digits.
        let long = pax_record("path", &"a".repeat(92));
        assert_eq!(long, format!("102 path={}\n", "a".repeat(92)));
        assert_eq!(long.len(), 102);
    }
}
