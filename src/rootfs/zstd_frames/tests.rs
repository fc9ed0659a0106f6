use std::io::Write;

use rand::{Rng, RngCore, SeedableRng};

use super::*;

/// Compressible bytes: runs of a few words, with some noise.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let words: [&[u8]; 4] = [b"layer ", b"frame ", b"offset ", b"\x00\x01\x02"];
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        if rng.random_bool(0.1) {
            out.push(rng.random());
        } else {
            out.extend_from_slice(words[rng.random_range(0..4)]);
        }
    }
    out.truncate(len);
    out
}

/// Frames of `sizes` bytes each (zstd level 3), with a skippable frame after the first.
fn stream(sizes: &[usize], seed: u64) -> (Vec<u8>, Vec<u8>) {
    let (mut compressed, mut plain) = (Vec::new(), Vec::new());
    for (i, &n) in sizes.iter().enumerate() {
        let chunk = data(n, seed + i as u64);
        compressed.extend(zstd::encode_all(&chunk[..], 3).unwrap());
        plain.extend(chunk);
        if i == 0 {
            // A skippable frame (RFC 8878 section 3.1.2), as zstd:chunked writes its manifest.
            compressed.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
            compressed.extend_from_slice(&5u32.to_le_bytes());
            compressed.extend_from_slice(b"skip!");
        }
    }
    (compressed, plain)
}

fn file_of(bytes: &[u8]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f
}

#[test]
fn the_table_lists_each_frame_that_decodes_to_something() {
    let (compressed, plain) = stream(&[100_000, 1, 250_000, 0, 70_000], 1);
    let t = FrameTable::build(&compressed[..]).unwrap();
    assert_eq!(t.decompressed_size(), plain.len() as u64);
    assert_eq!(t.compressed_size(), compressed.len() as u64);
    let starts: Vec<u64> = t.frames().iter().map(|f| f.decompressed).collect();
    assert_eq!(starts, vec![0, 100_000, 100_001, 350_001]);
    assert_eq!(t.frames()[0].compressed, 0);
}

#[test]
fn reads_at_random_offsets_match_the_whole_decode() {
    let (compressed, plain) = stream(&[300_000, 20_000, 500_000, 128 << 10], 2);
    let t = FrameTable::build(&compressed[..]).unwrap();
    let file = file_of(&compressed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for _ in 0..200 {
        let mut r = FrameReader::new(&t, &file);
        let off = rng.random_range(0..plain.len() as u64 + 10);
        let len = rng.random_range(0..70_000usize);
        let mut buf = vec![0u8; len];
        let n = r.read_at(off, &mut buf).unwrap();
        let start = (off as usize).min(plain.len());
        let end = (start + len).min(plain.len());
        assert_eq!(&buf[..n], &plain[start..end], "offset {off} len {len}");
    }
}

#[test]
fn a_sequential_reader_keeps_its_decoder() {
    let (compressed, plain) = stream(&[400_000, 400_000, 400_000], 3);
    let t = FrameTable::build(&compressed[..]).unwrap();
    let file = file_of(&compressed);
    let mut r = FrameReader::new(&t, &file);
    let mut got = Vec::new();
    let mut buf = vec![0u8; 10 << 10];
    loop {
        let n = r.read_at(got.len() as u64, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, plain);
    assert_eq!(r.restarts(), 1, "one decoder for the whole sequential read");
    // Backwards restarts, at the frame holding the offset.
    r.read_at(5, &mut buf).unwrap();
    assert_eq!(r.restarts(), 2);
}

#[test]
fn a_single_frame_layer_has_one_entry_and_reads_anywhere() {
    let plain = data(1 << 20, 4);
    let compressed = zstd::encode_all(&plain[..], 19).unwrap();
    let t = FrameTable::build(&compressed[..]).unwrap();
    assert_eq!(t.frames().len(), 1);
    let file = file_of(&compressed);
    let mut buf = [0u8; 4096];
    let n = FrameReader::new(&t, &file)
        .read_at(plain.len() as u64 - 100, &mut buf)
        .unwrap();
    assert_eq!(&buf[..n], &plain[plain.len() - 100..]);
}

#[test]
fn truncated_and_corrupt_streams_are_errors_naming_the_offset() {
    let (compressed, _) = stream(&[200_000, 200_000], 5);
    let cut = compressed.len() - 10;
    assert!(matches!(
        FrameTable::build(&compressed[..cut]),
        Err(ZstdIndexError::Truncated { .. }) | Err(ZstdIndexError::Corrupt { .. })
    ));
    let mut bad = compressed.clone();
    bad[0] ^= 0xFF; // the magic number
    match FrameTable::build(&bad[..]) {
        Err(ZstdIndexError::Corrupt { offset, .. }) => assert_eq!(offset, 0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_table_round_trips_and_damage_is_refused() {
    let (compressed, _) = stream(&[10_000, 20_000, 30_000], 6);
    let t = FrameTable::build(&compressed[..]).unwrap();
    let bytes = t.to_bytes();
    assert_eq!(FrameTable::from_bytes(&bytes).unwrap(), t);
    for cut in [0, 7, 8, 20, bytes.len() - 1] {
        assert!(
            FrameTable::from_bytes(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut huge = bytes.clone();
    huge[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(FrameTable::from_bytes(&huge).is_err());
    // Offsets out of order.
    let mut swapped = bytes.clone();
    swapped.copy_within(48..64, 32);
    assert!(FrameTable::from_bytes(&swapped).is_err());
    let mut noise = vec![0u8; 4096];
    rand::rngs::StdRng::seed_from_u64(9).fill_bytes(&mut noise);
    assert!(FrameTable::from_bytes(&noise).is_err());
}

/// A zstd bomb (a few hundred bytes that would decode to gigabytes) is refused while the table
/// is built, once past deflate's ratio plus the slack, not decoded to its end (here with a
/// slack of 64 MiB instead of 16 GiB, to stay fast).
#[test]
fn a_decompression_bomb_is_refused_early() {
    let zeros = vec![0u8; 256 << 20];
    let bomb = zstd::encode_all(&zeros[..], 19).unwrap();
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    match IndexingDecoder::with_slack(&bomb[..], 64 << 20).finish() {
        Err(ZstdIndexError::TooExpansive { decompressed, .. }) => {
            assert!(decompressed < 256 << 20, "stopped early at {decompressed}")
        }
        other => panic!("{other:?}"),
    }
}

/// Reading through the indexing decoder gives the decompressed bytes and, at `finish`, the
/// same table a separate build gives (one pass for a layer's table of contents and its frames);
/// a truncated stream reads its bytes, then `finish` says where it ended.
#[test]
fn the_indexing_decoder_gives_the_bytes_and_the_same_table() {
    let plain: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let stream: Vec<u8> = plain
        .chunks(700_000)
        .flat_map(|c| zstd::encode_all(c, 3).unwrap())
        .collect();
    let mut decoding = IndexingDecoder::new(&stream[..]);
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut decoding, &mut got).unwrap();
    assert!(got == plain);
    let table = decoding.finish().unwrap();
    let built = FrameTable::build(&stream[..]).unwrap();
    assert_eq!(table.frames(), built.frames());
    assert_eq!(table.frames().len(), 5);
    assert_eq!(
        (table.compressed_size(), table.decompressed_size()),
        (stream.len() as u64, plain.len() as u64)
    );
    let cut = &stream[..stream.len() - 10];
    match IndexingDecoder::new(cut).finish() {
        Err(ZstdIndexError::Truncated { offset }) => assert_eq!(offset, cut.len() as u64),
        other => panic!("{other:?}"),
    }
}
