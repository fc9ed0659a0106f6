use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::{DeflateEncoder, GzEncoder};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::*;

const SPAN: u64 = 64 * 1024;

/// Text-like bytes: words from a small vocabulary, so deflate finds matches near and far.
fn compressible(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "usr",
        "lib",
        "bin/",
        "etc",
        "share ",
        "locale\n",
        "python3",
        "x86_64",
        "-linux-gnu",
    ];
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        v.extend_from_slice(words[rng.random_range(0..words.len())].as_bytes());
        if rng.random_range(0..8) == 0 {
            v.push(rng.random());
        }
    }
    v.truncate(len);
    v
}

fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill(&mut v[..]);
    v
}

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn reference(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(gz).read_to_end(&mut out).unwrap();
    out
}

fn temp_file(bytes: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f
}

/// Index `gz`, then check reads at 0, the last byte, the end, past it, at `boundaries` (and one
/// byte either side), and `random` random (offset, length) pairs against `expected`.
fn check_reads(
    gz: &[u8],
    expected: &[u8],
    boundaries: &[u64],
    random: usize,
    seed: u64,
) -> GzipIndex {
    let index = GzipIndex::build(gz, SPAN).unwrap();
    assert_eq!(index.uncompressed_size(), expected.len() as u64);
    assert_eq!(index.compressed_size(), gz.len() as u64);
    let file = temp_file(gz);
    let mut reader = GzipReader::new(&index, &file).unwrap();
    let size = expected.len() as u64;
    let mut cases: Vec<(u64, usize)> = vec![
        (0, 1),
        (0, 4096),
        (size.saturating_sub(1), 1),
        (size.saturating_sub(1), 100),
        (size, 10),
        (size + 1000, 10),
    ];
    for &b in boundaries {
        for o in [b.saturating_sub(1), b, b + 1] {
            cases.push((o, 3));
            cases.push((o.saturating_sub(2000), 5000));
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..random {
        cases.push((
            rng.random_range(0..size.max(1)),
            rng.random_range(1..200_000),
        ));
    }
    for (offset, len) in cases {
        let mut buf = vec![0u8; len];
        let n = reader.read_at(offset, &mut buf).unwrap();
        let lo = (offset as usize).min(expected.len());
        let hi = (lo + len).min(expected.len());
        assert_eq!(n, hi - lo, "length of the read at {offset}+{len}");
        assert!(
            buf[..n] == expected[lo..hi],
            "bytes of the read at {offset}+{len}"
        );
    }
    index
}

#[test]
fn reads_match_for_levels_1_6_and_9_of_compressible_and_incompressible_data() {
    for (name, data) in [
        ("text", compressible(3 << 20, 1)),
        ("random", incompressible(2 << 20, 2)),
    ] {
        for level in [1, 6, 9] {
            let gz = gzip(&data, level);
            let index = check_reads(&gz, &data, &[], 60, level as u64);
            // Checkpoints sit at block boundaries. zlib-rs's level 1 (zlib-ng's deflate_quick)
            // writes fixed-Huffman blocks that end only when its buffer fills (here one or two for
            // the whole stream, even for random data), which zran cannot split. At levels 6 and 9
            // random data goes in stored blocks of at most 64 KiB, and this text gets a block
            // every ~170 KiB.
            let least = match (name, level) {
                (_, 1) => 1,
                ("random", _) => 25,
                _ => 10,
            };
            assert!(
                index.checkpoint_count() >= least,
                "{name} -{level}: {index:?}"
            );
            // Some checkpoints start inside a byte, so inflatePrime is exercised (stored blocks
            // are byte-aligned).
            if name == "text" && level != 1 {
                assert!(
                    index.checkpoints.iter().any(|c| c.bits != 0),
                    "{name} -{level}"
                );
            }
        }
    }
}

#[test]
fn reads_match_for_a_stored_level_0_stream() {
    let data = compressible(1 << 20, 3);
    let gz = gzip(&data, 0);
    let index = check_reads(&gz, &data, &[], 40, 3);
    assert!(index.checkpoint_count() > 10);
}

#[test]
fn reads_cross_the_members_of_a_concatenated_stream() {
    let parts = [
        compressible(700_000, 4),
        incompressible(300_000, 5),
        compressible(5, 6),
        compressible(900_000, 7),
    ];
    let mut gz = Vec::new();
    let mut expected = Vec::new();
    let mut boundaries = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        gz.extend(gzip(p, [6, 1, 9, 6][i]));
        expected.extend_from_slice(p);
        boundaries.push(expected.len() as u64);
    }
    assert_eq!(reference(&gz), expected);
    check_reads(&gz, &expected, &boundaries, 60, 4);
}

#[test]
fn empty_members_at_the_start_middle_and_end_are_crossed() {
    let a = compressible(400_000, 8);
    let b = compressible(300_000, 9);
    let mut gz = gzip(b"", 6);
    gz.extend(gzip(&a, 6));
    gz.extend(gzip(b"", 6));
    gz.extend(gzip(b"", 1));
    gz.extend(gzip(&b, 6));
    gz.extend(gzip(b"", 6));
    let expected = [a.clone(), b].concat();
    check_reads(&gz, &expected, &[a.len() as u64], 30, 8);
}

#[test]
fn a_stream_of_only_empty_members_has_size_0() {
    let gz = [gzip(b"", 6), gzip(b"", 9)].concat();
    let index = GzipIndex::build(&gz[..], SPAN).unwrap();
    assert_eq!(index.uncompressed_size(), 0);
    let file = temp_file(&gz);
    let mut reader = GzipReader::new(&index, &file).unwrap();
    assert_eq!(reader.read_at(0, &mut [0u8; 10]).unwrap(), 0);
}

/// A member with every optional header field, the header CRC included (flate2's `GzBuilder`
/// writes no FHCRC), built by hand from RFC 1952 §2.3.
fn member_with_all_header_fields(data: &[u8]) -> Vec<u8> {
    let mut h = vec![0x1f, 0x8b, 8, 2 | 4 | 8 | 16, 0, 0, 0, 0, 0, 3];
    h.extend_from_slice(&5u16.to_le_bytes());
    h.extend_from_slice(b"xtra!");
    h.extend_from_slice(b"name.tar\0");
    h.extend_from_slice(b"a comment\0");
    let mut crc = flate2::Crc::new();
    crc.update(&h);
    h.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
    let mut e = DeflateEncoder::new(h, Compression::new(6));
    e.write_all(data).unwrap();
    let mut m = e.finish().unwrap();
    let mut crc = flate2::Crc::new();
    crc.update(data);
    m.extend_from_slice(&crc.sum().to_le_bytes());
    m.extend_from_slice(&(data.len() as u32).to_le_bytes());
    m
}

#[test]
fn headers_with_extra_name_comment_and_header_crc_are_skipped() {
    let a = compressible(200_000, 10);
    let b = compressible(200_000, 11);
    let gz = [
        member_with_all_header_fields(&a),
        member_with_all_header_fields(&b),
    ]
    .concat();
    let expected = [a.clone(), b].concat();
    assert_eq!(reference(&gz), expected);
    check_reads(&gz, &expected, &[a.len() as u64], 20, 10);

    let mut bad = member_with_all_header_fields(&a);
    let hcrc_at = 10 + 2 + 5 + 9 + 10;
    bad[hcrc_at] ^= 1;
    let e = GzipIndex::build(&bad[..], SPAN).unwrap_err();
    assert!(
        matches!(e, ZranError::BadHeader { member_offset: 0, reason } if reason.contains("CRC16")),
        "{e}"
    );
}

#[test]
fn sequential_reads_continue_one_inflater_and_seeks_back_restart() {
    let data = compressible(2 << 20, 12);
    let gz = gzip(&data, 6);
    let index = GzipIndex::build(&gz[..], SPAN).unwrap();
    assert!(index.checkpoint_count() > 5, "{index:?}");
    let file = temp_file(&gz);
    let mut reader = GzipReader::new(&index, &file).unwrap();
    let mut whole = Vec::new();
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        whole.extend_from_slice(&buf[..n]);
    }
    assert!(whole == data);
    assert_eq!(
        reader.restarts(),
        1,
        "one restart for the first read, none after"
    );

    // A short hop forward (less than a span) continues too.
    reader.read_at(1000, &mut buf[..10]).unwrap();
    assert_eq!(reader.restarts(), 2, "backwards restarts");
    reader.read_at(1010 + 5000, &mut buf[..10]).unwrap();
    assert_eq!(reader.restarts(), 2, "a hop within a span continues");
    reader.read_at(1 << 20, &mut buf[..10]).unwrap();
    assert_eq!(reader.restarts(), 3, "far forward restarts at a checkpoint");
    assert!(buf[..10] == data[1 << 20..(1 << 20) + 10]);
}

#[test]
fn readers_on_several_threads_share_one_index_and_file() {
    let data = compressible(2 << 20, 13);
    let gz = gzip(&data, 6);
    let index = GzipIndex::build(&gz[..], SPAN).unwrap();
    let file = temp_file(&gz);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (index, file, data) = (&index, &file, &data);
            s.spawn(move || {
                let mut reader = GzipReader::new(index, file).unwrap();
                let mut rng = StdRng::seed_from_u64(t);
                for _ in 0..30 {
                    let offset = rng.random_range(0..data.len());
                    let mut buf = vec![0u8; rng.random_range(1..100_000)];
                    let n = reader.read_at(offset as u64, &mut buf).unwrap();
                    assert!(buf[..n] == data[offset..offset + n]);
                    assert_eq!(n, buf.len().min(data.len() - offset));
                }
            });
        }
    });
    // And through Arc, as an open-file handle would hold them.
    let (index, file) = (std::sync::Arc::new(index), std::sync::Arc::new(file));
    let mut reader = GzipReader::new(index.clone(), file.clone()).unwrap();
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        reader.read_at(12345, &mut buf).unwrap();
        buf
    });
    assert!(handle.join().unwrap()[..] == data[12345..12345 + 64]);
}

#[test]
fn indexing_reader_yields_the_decompressed_stream_and_the_same_index() {
    let gz = [
        gzip(&compressible(500_000, 14), 6),
        gzip(&incompressible(100_000, 15), 6),
    ]
    .concat();
    let mut indexing = IndexingReader::new(&gz[..], SPAN);
    let mut out = Vec::new();
    indexing.read_to_end(&mut out).unwrap();
    assert!(out == reference(&gz));
    let index = indexing.finish().unwrap();
    assert!(index == GzipIndex::build(&gz[..], SPAN).unwrap());
}

#[test]
fn index_round_trips_through_bytes() {
    let data = compressible(1 << 20, 16);
    let gz = gzip(&data, 6);
    let index = GzipIndex::build(&gz[..], SPAN).unwrap();
    let bytes = index.to_bytes();
    let loaded = GzipIndex::from_bytes(&bytes).unwrap();
    assert!(loaded == index);
    // Windows are stored deflated: well under 32 KiB each for text.
    assert!(
        bytes.len() < index.checkpoint_count() * 16 * 1024,
        "{} bytes",
        bytes.len()
    );
    let file = temp_file(&gz);
    let mut reader = GzipReader::new(&loaded, &file).unwrap();
    let mut buf = vec![0u8; 1000];
    reader.read_at(777_777, &mut buf).unwrap();
    assert!(buf[..] == data[777_777..778_777]);
}

/// Replace the checksum so that a crafted change passes it and reaches the field checks.
fn reseal(bytes: &mut [u8]) {
    let body = bytes.len() - 32;
    let digest = Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&digest);
}

#[test]
fn damaged_or_hostile_index_bytes_give_errors() {
    let gz = gzip(&compressible(300_000, 17), 6);
    let bytes = GzipIndex::build(&gz[..], SPAN).unwrap().to_bytes();
    for len in 0..bytes.len() {
        let e = GzipIndex::from_bytes(&bytes[..len]).unwrap_err();
        assert!(matches!(e, ZranError::BadIndex { .. }), "prefix {len}: {e}");
    }
    for at in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[at] ^= 0x40;
        assert!(
            matches!(GzipIndex::from_bytes(&b), Err(ZranError::BadIndex { .. })),
            "flip at {at}"
        );
    }
    let with = |at: usize, field: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + field.len()].copy_from_slice(field);
        reseal(&mut b);
        GzipIndex::from_bytes(&b).unwrap_err().to_string()
    };
    // Header: magic 8, version 4, span 8 @12, sizes 8+8 @20/@28, count 8 @36; entries @44.
    assert!(with(8, &2u32.to_le_bytes()).contains("version 2"));
    assert!(with(36, &u64::MAX.to_le_bytes()).contains("cannot fit"));
    assert!(with(36, &0u64.to_le_bytes()).contains("cannot fit"));
    assert!(with(12, &0u64.to_le_bytes()).contains("span 0"));
    assert!(with(44, &5u64.to_le_bytes()).contains("not at offset 0"));
    assert!(with(20, &5u64.to_le_bytes()).contains("past the stream's end"));
    assert!(with(44 + 16, &[9]).contains("bad bit offset"));
    assert!(with(44 + 17, &u32::MAX.to_le_bytes()).contains("window longer"));
    assert!(with(44 + 21, &u32::MAX.to_le_bytes()).contains("truncated"));

    // A window that does not inflate to its length fails the read that needs it, not a panic.
    let mut b = bytes.clone();
    let packed_len = u32::from_le_bytes(b[44 + 21..44 + 25].try_into().unwrap()) as usize;
    let second = 44 + 25 + packed_len;
    b[second + 25] ^= 0xff;
    reseal(&mut b);
    let index = GzipIndex::from_bytes(&b).unwrap();
    let file = temp_file(&gz);
    let mut reader = GzipReader::new(&index, &file).unwrap();
    let at = index.checkpoints[1].uncompressed;
    let e = reader.read_at(at, &mut [0u8; 10]).unwrap_err();
    assert!(matches!(e, ZranError::BadIndex { .. }), "{e}");
}

#[test]
fn a_reader_refuses_a_file_of_another_size() {
    let gz = gzip(b"hello", 6);
    let index = GzipIndex::build(&gz[..], SPAN).unwrap();
    let file = temp_file(&[gz.clone(), vec![0]].concat());
    let e = GzipReader::new(&index, &file).err().unwrap();
    assert!(
        matches!(e, ZranError::SizeMismatch { expected, found } if expected == gz.len() as u64 && found == expected + 1)
    );
}

#[test]
fn truncated_corrupt_or_trailing_garbage_streams_fail_to_build() {
    let data = compressible(300_000, 18);
    let gz = gzip(&data, 6);
    let err = |bytes: &[u8]| GzipIndex::build(bytes, SPAN).unwrap_err();

    assert!(matches!(
        err(b""),
        ZranError::Truncated {
            compressed_offset: 0
        }
    ));
    for cut in [
        5,
        10,
        11,
        gz.len() / 2,
        gz.len() - 8,
        gz.len() - 3,
        gz.len() - 1,
    ] {
        let e = err(&gz[..cut]);
        assert!(
            matches!(e, ZranError::Truncated { .. }),
            "cut at {cut}: {e}"
        );
    }
    // A second member cut short is truncation too, not the end of the stream.
    let e = err(&[gz.clone(), gz[..20].to_vec()].concat());
    assert!(matches!(e, ZranError::Truncated { .. }), "{e}");

    let mut flipped = gz.clone();
    flipped[gz.len() - 6] ^= 1; // the CRC-32
    assert!(matches!(
        err(&flipped),
        ZranError::TrailerMismatch {
            field: "CRC-32",
            ..
        }
    ));
    let mut flipped = gz.clone();
    flipped[gz.len() - 2] ^= 1; // ISIZE
    assert!(matches!(
        err(&flipped),
        ZranError::TrailerMismatch { field: "ISIZE", .. }
    ));
    let mut flipped = gz.clone();
    flipped[gz.len() / 2] ^= 0x55;
    let e = err(&flipped);
    assert!(
        matches!(
            e,
            ZranError::Corrupt { .. } | ZranError::TrailerMismatch { .. }
        ),
        "{e}"
    );

    let e = err(&[gz.clone(), vec![0; 10]].concat());
    assert!(
        matches!(e, ZranError::BadHeader { member_offset, .. } if member_offset == gz.len() as u64),
        "{e}"
    );
    let e = err(b"PK\x03\x04 not gzip at all");
    assert!(
        matches!(
            e,
            ZranError::BadHeader {
                member_offset: 0,
                ..
            }
        ),
        "{e}"
    );

    // Through `Read`, the error travels as text and `finish` returns it typed.
    let mut indexing = IndexingReader::new(&gz[..gz.len() - 1], SPAN);
    let io_err = std::io::copy(&mut indexing, &mut std::io::sink()).unwrap_err();
    assert_eq!(io_err.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(matches!(
        indexing.finish(),
        Err(ZranError::Truncated { .. })
    ));
}

#[test]
fn a_reader_on_a_file_changed_since_indexing_errs_or_differs_never_panics() {
    // The reader does not re-check CRCs (it starts mid-member); the store's digest vouches for
    // the blob. Here the file is damaged after indexing: each read returns, whatever it returns.
    let data = compressible(600_000, 19);
    let gz = [gzip(&data, 6), gzip(&data, 9)].concat();
    let index = GzipIndex::build(&gz[..], SPAN).unwrap();
    let mut errors = 0;
    for at in (20..gz.len()).step_by(gz.len() / 25) {
        let mut damaged = gz.clone();
        damaged[at] ^= 0xa5;
        let file = temp_file(&damaged);
        let mut reader = GzipReader::new(&index, &file).unwrap();
        let mut buf = vec![0u8; 100_000];
        for offset in (0..index.uncompressed_size()).step_by(100_000) {
            match reader.read_at(offset, &mut buf) {
                Ok(_) => {}
                Err(
                    ZranError::Corrupt { .. }
                    | ZranError::Truncated { .. }
                    | ZranError::BadHeader { .. },
                ) => errors += 1,
                Err(e) => panic!("unexpected error kind: {e}"),
            }
        }
    }
    assert!(errors > 0, "some damage is detected by inflate itself");
}
