use std::io::Write;

use super::*;
use crate::oci::{Descriptor, MEDIA_TYPE_OCI_LAYER_GZIP};
use crate::testing::temp_store;

/// A tar-like payload: compressible text with some noise, several MiB.
fn payload() -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u32 = 7;
    while out.len() < 6 << 20 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        if x.is_multiple_of(7) {
            out.extend_from_slice(&x.to_le_bytes());
        } else {
            out.extend_from_slice(b"usr/share/doc/imagefs/copyright ");
        }
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd_frames(data: &[u8]) -> Vec<u8> {
    data.chunks(1 << 20)
        .flat_map(|c| zstd::encode_all(c, 3).unwrap())
        .collect()
}

fn stored(store: &Store, blob: &[u8]) -> Descriptor {
    let digest = store.write_blob(blob).unwrap();
    Descriptor::new(MEDIA_TYPE_OCI_LAYER_GZIP, digest, blob.len() as u64)
}

/// Every compression reads back the same bytes at scattered offsets, through a stored index
/// that the second call loads instead of building.
#[test]
fn each_compression_reads_back_at_any_offset_through_a_stored_index() {
    let (_dir, store) = temp_store();
    let plain = payload();
    for (blob, compression, kind) in [
        (gzip(&plain), Compression::Gzip, Some(GZIP_INDEX)),
        (zstd_frames(&plain), Compression::Zstd, Some(ZSTD_INDEX)),
        (plain.clone(), Compression::None, None),
    ] {
        let layer = stored(&store, &blob);
        let file = store.open_blob(&layer).unwrap();
        assert_eq!(Compression::of(&file).unwrap(), compression);
        let index = seek_index(&store, &layer).unwrap();
        assert_eq!(index.decompressed_size(), plain.len() as u64);
        if let Some(kind) = kind {
            assert!(
                store.read_index(&layer.digest, kind).unwrap().is_some(),
                "{compression:?} stored"
            );
            // Loaded, not rebuilt: the same decompressed size from the stored bytes.
            assert_eq!(
                seek_index(&store, &layer).unwrap().decompressed_size(),
                plain.len() as u64
            );
        }
        let mut reader = LayerReader::new(&index, Arc::new(file)).unwrap();
        for offset in [
            0u64,
            1,
            4095,
            1 << 20,
            (3 << 20) + 17,
            plain.len() as u64 - 10,
        ] {
            let mut buf = vec![0u8; 64 << 10];
            let n = reader.read_at(offset, &mut buf).unwrap();
            let start = offset as usize;
            let end = (start + buf.len()).min(plain.len());
            assert_eq!(&buf[..n], &plain[start..end], "{compression:?} at {offset}");
        }
        let mut whole = Vec::new();
        decompressed(store.open_blob(&layer).unwrap())
            .unwrap()
            .read_to_end(&mut whole)
            .unwrap();
        assert!(whole == plain, "{compression:?} whole stream");
    }
}

/// A stored index that does not parse is rebuilt (and replaced), not trusted.
#[test]
fn a_stored_index_that_does_not_parse_is_rebuilt() {
    let (_dir, store) = temp_store();
    let plain = payload();
    let layer = stored(&store, &gzip(&plain));
    store
        .write_index(&layer.digest, GZIP_INDEX, b"not an index")
        .unwrap();
    let index = seek_index(&store, &layer).unwrap();
    assert_eq!(index.decompressed_size(), plain.len() as u64);
    let again = store
        .read_index(&layer.digest, GZIP_INDEX)
        .unwrap()
        .unwrap();
    assert!(
        GzipIndex::from_bytes(&again).is_ok(),
        "the bad index was replaced"
    );
}

/// Building the seek index while reading the decompressed bytes gives both from one pass: the
/// bytes read are the layer's, the index serves any offset, and it is stored.
#[test]
fn the_seek_index_is_built_in_the_same_pass_that_reads_the_layer() {
    let (_dir, store) = temp_store();
    let plain = payload();
    for blob in [gzip(&plain), zstd_frames(&plain), plain.clone()] {
        let layer = stored(&store, &blob);
        let (index, read) = seek_index_reading(&store, &layer, |input| {
            let mut all = Vec::new();
            input.read_to_end(&mut all).map(|_| all)
        })
        .unwrap();
        assert!(read.unwrap() == plain);
        assert_eq!(index.decompressed_size(), plain.len() as u64);
        let file = store.open_blob(&layer).unwrap();
        let mut buf = vec![0u8; 1000];
        let n = LayerReader::new(&index, Arc::new(file))
            .unwrap()
            .read_at(5 << 20, &mut buf)
            .unwrap();
        assert_eq!(&buf[..n], &plain[5 << 20..(5 << 20) + 1000]);
    }
    // Read once more: the stored indexes now serve, and the bytes are the same.
    let layer = stored(&store, &gzip(&plain));
    assert!(
        store
            .read_index(&layer.digest, GZIP_INDEX)
            .unwrap()
            .is_some()
    );
    let (_, read) = seek_index_reading(&store, &layer, |input| {
        let mut all = Vec::new();
        input.read_to_end(&mut all).map(|_| all)
    })
    .unwrap();
    assert!(read.unwrap() == plain);
}

/// Readers sharing a cache of decoded chunks, on several threads, at random offsets and
/// lengths, give the layer's bytes; a chunk one reader decoded serves another without decoding.
#[test]
fn readers_sharing_decoded_chunks_read_the_same_bytes_from_several_threads() {
    let (_dir, store) = temp_store();
    let plain = Arc::new(payload());
    for blob in [gzip(&plain), zstd_frames(&plain), plain.to_vec()] {
        let layer = stored(&store, &blob);
        let index = seek_index(&store, &layer).unwrap();
        let shared = Arc::new(SharedDecoding::new(8 << 20));
        let cache = shared.chunks();
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let (store, layer, index, shared, plain) =
                    (&store, &layer, &index, &shared, &plain);
                scope.spawn(move || {
                    let file = Arc::new(store.open_blob(layer).unwrap());
                    let mut reader = LayerReader::new(index, file)
                        .unwrap()
                        .cached(shared.clone(), layer.digest);
                    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                    for _ in 0..60 {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        let offset = seed % plain.len() as u64;
                        let len = 1 + (seed >> 32) as usize % (300 << 10);
                        let mut buf = vec![0u8; len];
                        let n = reader.read_at(offset, &mut buf).unwrap();
                        let start = offset as usize;
                        let end = (start + len).min(plain.len());
                        assert_eq!(n, end - start);
                        assert!(
                            buf[..n] == plain[start..end],
                            "thread {t} at {offset}+{len}"
                        );
                    }
                });
            }
        });
        if matches!(index, SeekIndex::Plain { .. }) {
            assert_eq!(cache.bytes(), 0, "a plain layer is read directly");
            continue;
        }
        assert!(cache.bytes() > 0);
        // A chunk now kept serves a fresh reader: its decoder never starts.
        let file = Arc::new(store.open_blob(&layer).unwrap());
        let mut fresh = LayerReader::new(&index, file)
            .unwrap()
            .cached(shared.clone(), layer.digest);
        let (hits, _) = cache.hits_and_misses();
        let mut buf = vec![0u8; 100];
        let kept = (0..plain.len() as u64 / CHUNK)
            .find(|&c| cache.contains(&layer.digest, c))
            .unwrap();
        fresh.read_at(kept * CHUNK + 7, &mut buf).unwrap();
        assert!(buf[..] == plain[(kept * CHUNK + 7) as usize..][..100]);
        assert_eq!(cache.hits_and_misses().0, hits + 1);
        assert_eq!(
            fresh.position(),
            None,
            "served from the cache, nothing decoded"
        );
    }
}

/// A single-frame zstd layer gets a decompressed copy, checked against its diff_id: made once,
/// then loaded; a layer that is not what its diff_id says gets none (and readers decode as
/// before); a multi-frame one needs none. Copies past the budget go, oldest use first.
#[test]
fn a_single_frame_zstd_layer_gets_a_decompressed_copy_checked_against_its_diff_id() {
    let (_dir, store) = temp_store();
    let plain = payload();
    let diff_id = Digest::of(&plain);
    let one = stored(&store, &zstd::encode_all(&plain[..], 3).unwrap());
    let index = seek_index(&store, &one).unwrap();
    assert!(
        decompressed_copy(&store, &one, None, &index).is_none(),
        "no diff_id, no copy"
    );
    let wrong = Digest::of(b"another layer");
    assert!(decompressed_copy(&store, &one, Some(&wrong), &index).is_none());
    assert!(
        store
            .open_index(&one.digest, DECOMPRESSED_COPY)
            .unwrap()
            .is_none(),
        "nothing stored for a layer that is not its diff_id"
    );
    let copy = decompressed_copy(&store, &one, Some(&diff_id), &index).expect("a copy");
    assert_eq!(copy.payload_digest(), diff_id);
    let mut reader = LayerReader::from_copy(copy);
    let mut buf = vec![0u8; 1000];
    assert_eq!(reader.read_at(5 << 20, &mut buf).unwrap(), 1000);
    assert!(buf[..] == plain[5 << 20..(5 << 20) + 1000]);
    // Loaded the second time (the stored copy's digest is the diff_id).
    assert!(decompressed_copy(&store, &one, Some(&diff_id), &index).is_some());

    let frames = stored(&store, &zstd_frames(&plain));
    let index = seek_index(&store, &frames).unwrap();
    assert!(decompressed_copy(&store, &frames, Some(&diff_id), &index).is_none());

    // The budget: with room for one copy, the older one goes.
    let other = payload()[1..].to_vec();
    let two = stored(&store, &zstd::encode_all(&other[..], 3).unwrap());
    let two_index = seek_index(&store, &two).unwrap();
    assert!(decompressed_copy(&store, &two, Some(&Digest::of(&other)), &two_index).is_some());
    let copy_of = |d: &Descriptor| store.open_index(&d.digest, DECOMPRESSED_COPY).unwrap();
    assert!(copy_of(&one).is_some() && copy_of(&two).is_some());
    std::thread::sleep(std::time::Duration::from_millis(20));
    copy_of(&two).unwrap().touch();
    let removed = store
        .trim_indexes(DECOMPRESSED_COPY, plain.len() as u64 + 1000)
        .unwrap();
    assert_eq!(removed.count, 1);
    assert!(copy_of(&one).is_none(), "the least recently used went");
    assert!(copy_of(&two).is_some());
}

/// A reader's decoder is parked when the reader goes, and the next reader of the same layer
/// that misses at or past where it stopped takes it and continues (no restart), reading the
/// right bytes; a decoder past the offset, or of another layer, is left where it is.
#[test]
fn a_dropped_readers_decoder_is_taken_by_the_next_reader_further_on() {
    let (_dir, store) = temp_store();
    let plain = payload();
    let layer = stored(&store, &gzip(&plain));
    let index = seek_index(&store, &layer).unwrap();
    let shared = Arc::new(SharedDecoding::new(1 << 20));
    let reader = || {
        LayerReader::new(&index, Arc::new(store.open_blob(&layer).unwrap()))
            .unwrap()
            .cached(shared.clone(), layer.digest)
    };
    let mut buf = vec![0u8; 100];
    let mut first = reader();
    first.read_at(CHUNK + 5, &mut buf).unwrap();
    let stopped = first.position().unwrap();
    drop(first);
    assert_eq!(shared.parked.lock().unwrap().len(), 1);
    // Another layer's reader, or one that would need to go back, leaves it parked.
    assert!(shared.take(&Digest::of(b"other"), 0, u64::MAX).is_none());
    assert!(shared.take(&layer.digest, 0, stopped - 1).is_none());
    let mut second = reader();
    let at = stopped + 3 * CHUNK + 11;
    second.read_at(at, &mut buf).unwrap();
    assert!(buf[..] == plain[at as usize..at as usize + 100]);
    assert!(
        shared.parked.lock().unwrap().is_empty(),
        "taken by the second reader"
    );
    match &second.decoder {
        Decoder::Gzip(r) => assert_eq!(r.restarts(), 1, "continued: only its first start"),
        _ => unreachable!("a gzip layer"),
    }
}
