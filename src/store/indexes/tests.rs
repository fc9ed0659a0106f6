//! Unit tests of layer indexes: round trips, each kind of damage read as "rebuild" with its
//! reason, concurrent writers, limits, read-only stores, listing, orphans and temp files.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use super::*;
use crate::testing::temp_store;

const TOC: IndexKind = IndexKind::new("toc", 1);
const ZRAN: IndexKind = IndexKind::new("gzip-zran", 3);

fn layer(store: &Store, seed: u8) -> Digest {
    store.write_blob(&[seed; 1000]).unwrap()
}

fn path_of(store: &Store, layer: &Digest, kind: IndexKind) -> PathBuf {
    store
        .root()
        .join(INDEX_DIR)
        .join(format!("{}.{}", layer.hex(), kind.name()))
}

/// Rewrites an index file's bytes through `change` (indexes are stored read-only).
fn tamper(path: &std::path::Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).unwrap();
    change(&mut bytes);
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(path, bytes).unwrap();
}

fn damage_of(store: &Store, layer: &Digest, kind: IndexKind) -> IndexDamage {
    let read = store.read_index(layer, kind).unwrap_err();
    let opened = store.open_index(layer, kind).unwrap_err();
    // Both readers judge alike.
    assert_eq!(read.to_string(), opened.to_string());
    assert_eq!(read.layer, *layer);
    assert!(
        read.to_string()
            .contains(&format!("{}.{}", layer.hex(), kind.name())),
        "the reason names the file: {read}"
    );
    read.damage
}

#[test]
fn an_index_round_trips_by_layer_and_kind() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    let b = layer(&store, 2);
    assert!(store.read_index(&a, TOC).unwrap().is_none());
    assert!(store.open_index(&a, TOC).unwrap().is_none());
    let size = store.write_index(&a, TOC, b"table of a").unwrap();
    store.write_index(&a, ZRAN, b"checkpoints of a").unwrap();
    store.write_index(&b, TOC, b"").unwrap();
    assert_eq!(size, HEADER_LEN as u64 + 10);
    assert_eq!(fs::metadata(path_of(&store, &a, TOC)).unwrap().len(), size);
    assert_eq!(store.read_index(&a, TOC).unwrap().unwrap(), b"table of a");
    assert_eq!(
        store.read_index(&a, ZRAN).unwrap().unwrap(),
        b"checkpoints of a"
    );
    assert_eq!(store.read_index(&b, TOC).unwrap().unwrap(), b"");
    assert!(store.read_index(&b, ZRAN).unwrap().is_none());
    // Indexes are read-only files outside blobs/: no blob listing sees them.
    let mode = fs::metadata(path_of(&store, &a, TOC))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o444);
    let mut blobs = vec![a, b];
    blobs.sort();
    assert_eq!(store.list_blobs().unwrap(), blobs);
    let listed: Vec<(Digest, String)> = store
        .list_indexes()
        .unwrap()
        .into_iter()
        .map(|i| (i.layer, i.kind))
        .collect();
    let mut expected = vec![
        (a, "toc".to_string()),
        (a, "gzip-zran".to_string()),
        (b, "toc".to_string()),
    ];
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn a_streamed_index_reads_back_by_offset_and_as_a_stream() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut w = store.index_writer(&a, ZRAN).unwrap();
    for chunk in payload.chunks(1000) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.len(), payload.len() as u64);
    w.commit().unwrap();
    let index = store.open_index(&a, ZRAN).unwrap().unwrap();
    assert_eq!(index.len(), payload.len() as u64);
    let mut buf = [0u8; 100];
    index.read_exact_at(&mut buf, 123_456).unwrap();
    assert_eq!(&buf[..], &payload[123_456..123_556]);
    // At the end: a short read, then nothing, and exact reads past it fail.
    assert_eq!(
        index.read_at(&mut buf, payload.len() as u64 - 10).unwrap(),
        10
    );
    assert_eq!(index.read_at(&mut buf, payload.len() as u64).unwrap(), 0);
    assert_eq!(index.read_at(&mut buf, u64::MAX).unwrap(), 0);
    assert!(
        index
            .read_exact_at(&mut buf, payload.len() as u64 - 10)
            .is_err()
    );
    assert!(index.read_exact_at(&mut buf, u64::MAX - 5).is_err());
    let mut all = Vec::new();
    index.reader().read_to_end(&mut all).unwrap();
    assert_eq!(all, payload);
    assert_eq!(store.read_index(&a, ZRAN).unwrap().unwrap(), payload);
}

#[test]
fn a_rewrite_replaces_the_index_and_a_dropped_writer_leaves_nothing() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    store.write_index(&a, TOC, b"old").unwrap();
    store.write_index(&a, TOC, b"new").unwrap();
    assert_eq!(store.read_index(&a, TOC).unwrap().unwrap(), b"new");
    let mut w = store.index_writer(&a, TOC).unwrap();
    w.write_all(b"never committed").unwrap();
    drop(w);
    assert_eq!(store.read_index(&a, TOC).unwrap().unwrap(), b"new");
    let names: Vec<_> = fs::read_dir(store.root().join(INDEX_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn each_kind_of_damage_reads_as_rebuild_with_its_reason() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    let b = layer(&store, 2);
    let path = path_of(&store, &a, TOC);
    let fresh = |store: &Store| {
        let _ = fs::remove_file(path_of(store, &a, TOC));
        store.write_index(&a, TOC, b"0123456789").unwrap();
    };
    type Case = (&'static str, fn(&mut Vec<u8>), fn(&IndexDamage) -> bool);
    let cases: [Case; 9] = [
        (
            "bad magic",
            |b| b[0] ^= 1,
            |d| matches!(d, IndexDamage::BadMagic),
        ),
        (
            "other format",
            |b| b[AT_FORMAT] = 2,
            |d| matches!(d, IndexDamage::UnsupportedFormat { version: 2 }),
        ),
        (
            "header bit flip",
            |b| b[AT_LENGTH] ^= 1,
            |d| matches!(d, IndexDamage::HeaderChecksum),
        ),
        (
            "payload bit flip",
            |b| *b.last_mut().unwrap() ^= 0x40,
            |d| matches!(d, IndexDamage::PayloadChecksum),
        ),
        (
            "payload truncated",
            |b| {
                b.pop();
            },
            |d| {
                matches!(
                    d,
                    IndexDamage::LengthMismatch {
                        recorded: 10,
                        found: 9
                    }
                )
            },
        ),
        (
            "payload extended",
            |b| b.push(0),
            |d| {
                matches!(
                    d,
                    IndexDamage::LengthMismatch {
                        recorded: 10,
                        found: 11
                    }
                )
            },
        ),
        (
            "header truncated",
            |b| b.truncate(100),
            |d| matches!(d, IndexDamage::Truncated { size: 100 }),
        ),
        (
            "empty file",
            |b| b.clear(),
            |d| matches!(d, IndexDamage::Truncated { size: 0 }),
        ),
        (
            "garbage",
            |b| *b = vec![0xff; 4096],
            |d| matches!(d, IndexDamage::BadMagic),
        ),
    ];
    for (what, change, expected) in cases {
        fresh(&store);
        tamper(&path, change);
        let damage = damage_of(&store, &a, TOC);
        assert!(expected(&damage), "{what}: {damage:?}");
        let listed = store.list_indexes().unwrap();
        assert!(
            store.verify_index(&listed[0]).is_err(),
            "{what}: fsck sees it"
        );
    }

    // Another layer's index under this layer's name, and another kind's.
    store.write_index(&b, TOC, b"of b").unwrap();
    let _ = fs::remove_file(&path);
    fs::copy(path_of(&store, &b, TOC), &path).unwrap();
    let damage = damage_of(&store, &a, TOC);
    assert!(
        matches!(&damage, IndexDamage::WrongLayer { found } if *found == b.to_string()),
        "{damage:?}"
    );
    store.write_index(&a, ZRAN, b"zran of a").unwrap();
    let _ = fs::remove_file(&path);
    fs::copy(path_of(&store, &a, ZRAN), &path).unwrap();
    let damage = damage_of(&store, &a, TOC);
    assert!(
        matches!(&damage, IndexDamage::WrongKind { found } if found == "gzip-zran"),
        "{damage:?}"
    );

    // A producer's older (or newer) payload version is not used, though sound: fsck, which
    // knows no producer, accepts it.
    fresh(&store);
    let damage = damage_of(&store, &a, IndexKind::new("toc", 2));
    assert!(
        matches!(
            damage,
            IndexDamage::OtherVersion {
                found: 1,
                expected: 2
            }
        ),
        "{damage:?}"
    );
    let listed = store.list_indexes().unwrap();
    let toc = listed
        .iter()
        .find(|i| i.layer == a && i.kind == "toc")
        .unwrap();
    store.verify_index(toc).unwrap();

    // A rewrite repairs any of these.
    tamper(&path, |b| b.truncate(3));
    store.write_index(&a, TOC, b"rebuilt").unwrap();
    assert_eq!(store.read_index(&a, TOC).unwrap().unwrap(), b"rebuilt");
}

#[test]
fn what_is_not_a_regular_file_is_damage_never_followed_or_waited_on() {
    let (dir, store) = temp_store();
    let a = layer(&store, 1);
    let path = path_of(&store, &a, TOC);
    // A symlink to a valid index elsewhere is not followed.
    store.write_index(&a, ZRAN, b"x").unwrap();
    std::os::unix::fs::symlink(path_of(&store, &a, ZRAN), &path).unwrap();
    assert!(matches!(damage_of(&store, &a, TOC), IndexDamage::NotAFile));
    fs::remove_file(&path).unwrap();
    // A FIFO would block an open for reading forever.
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    assert!(matches!(damage_of(&store, &a, TOC), IndexDamage::NotAFile));
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    assert!(matches!(damage_of(&store, &a, TOC), IndexDamage::NotAFile));
    drop(dir);
}

#[test]
fn an_oversized_index_is_refused_on_write_and_on_read_without_reading_it() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    let limit = index_size_limit(1000);
    assert_eq!(limit, (64 << 20) + 2000);
    let mut w = store.index_writer(&a, TOC).unwrap();
    let err = w.write_all(&vec![0u8; limit as usize + 1]).unwrap_err();
    let inner = err.into_inner().unwrap().downcast::<StoreError>().unwrap();
    assert!(
        matches!(*inner, StoreError::LayerIndexTooLarge { size, .. } if size == limit + 1),
        "{inner}"
    );
    let err = store
        .write_index(&a, TOC, &vec![0u8; limit as usize + 1])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::LayerIndexTooLarge { .. }),
        "{err}"
    );
    // A file over the limit (sparse: nothing is allocated) is refused by its size alone.
    store.write_index(&a, TOC, b"small").unwrap();
    let path = path_of(&store, &a, TOC);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(1 << 40).unwrap();
    let damage = damage_of(&store, &a, TOC);
    assert!(
        matches!(damage, IndexDamage::TooLarge { size, .. } if size == 1 << 40),
        "{damage:?}"
    );
}

#[test]
fn an_index_needs_its_layer_stored() {
    let (_dir, store) = temp_store();
    let absent = Digest::of(b"not stored");
    let err = store.write_index(&absent, TOC, b"x").unwrap_err();
    assert!(matches!(err, StoreError::BlobMissing { .. }), "{err}");
    // The layer goes while its index is being written (`gc`): the commit fails, nothing stays.
    let a = layer(&store, 1);
    let mut w = store.index_writer(&a, TOC).unwrap();
    w.write_all(b"x").unwrap();
    store.remove_blob(&a).unwrap();
    assert!(matches!(w.commit(), Err(StoreError::BlobMissing { .. })));
    assert_eq!(
        fs::read_dir(store.root().join(INDEX_DIR)).unwrap().count(),
        0
    );
}

#[test]
fn concurrent_writers_of_one_index_leave_one_whole_index() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    let payloads: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; 200_000 + i as usize]).collect();
    std::thread::scope(|s| {
        for p in &payloads {
            let (store, payloads) = (&store, &payloads);
            s.spawn(move || {
                for _ in 0..5 {
                    let mut w = store.index_writer(&a, TOC).unwrap();
                    for chunk in p.chunks(7000) {
                        w.write_all(chunk).unwrap();
                    }
                    w.commit().unwrap();
                    // Readers meanwhile see a whole index of one writer, or none yet.
                    if let Some(got) = store.read_index(&a, TOC).unwrap() {
                        assert!(payloads.contains(&got));
                    }
                }
            });
        }
    });
    let got = store.read_index(&a, TOC).unwrap().unwrap();
    assert!(payloads.contains(&got));
    let names: Vec<_> = fs::read_dir(store.root().join(INDEX_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp file left: {names:?}");
}

#[test]
fn a_read_only_store_reads_indexes_and_refuses_to_write_them() {
    let (_dir, store) = temp_store();
    let root = store.root().to_path_buf();
    let a = layer(&store, 1);
    store.write_index(&a, TOC, b"toc").unwrap();
    let ro = Store::pin(root.clone(), true).unwrap();
    assert_eq!(ro.read_index(&a, TOC).unwrap().unwrap(), b"toc");
    let err = ro.write_index(&a, ZRAN, b"z").unwrap_err();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err}");
    assert!(matches!(
        ro.remove_orphan_indexes(),
        Err(StoreError::ReadOnly { .. })
    ));
    // One laid out by an earlier build, without an index directory: nothing to read.
    fs::set_permissions(path_of(&store, &a, TOC), fs::Permissions::from_mode(0o644)).unwrap();
    fs::remove_dir_all(root.join(INDEX_PARENT)).unwrap();
    let ro = Store::pin(root, true).unwrap();
    assert!(ro.read_index(&a, TOC).unwrap().is_none());
    assert!(ro.list_indexes().unwrap().is_empty());
    assert_eq!(
        ro.find_abandoned_index_files().unwrap(),
        AbandonedFiles::default()
    );
}

#[test]
fn a_store_opened_writable_gets_an_index_directory() {
    let (_dir, store) = temp_store();
    let root = store.root().to_path_buf();
    assert!(root.join(INDEX_DIR).is_dir());
    fs::remove_dir_all(root.join(INDEX_PARENT)).unwrap();
    drop(store);
    let store = Store::open(&root).unwrap();
    let a = layer(&store, 1);
    store.write_index(&a, TOC, b"x").unwrap();
    assert!(path_of(&store, &a, TOC).is_file());
}

#[test]
fn a_symlinked_index_directory_is_refused_at_open() {
    let (_dir, store) = temp_store();
    let root = store.root().to_path_buf();
    drop(store);
    let elsewhere = tempfile::tempdir().unwrap();
    fs::remove_dir(root.join(INDEX_DIR)).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), root.join(INDEX_DIR)).unwrap();
    let err = Store::open(&root).unwrap_err();
    assert!(matches!(err, StoreError::Symlink { .. }), "{err}");
}

#[test]
fn orphans_are_removed_and_indexes_of_stored_layers_kept() {
    let (_dir, store) = temp_store();
    let kept = layer(&store, 1);
    let gone = layer(&store, 2);
    store.write_index(&kept, TOC, b"kept").unwrap();
    let size = store.write_index(&gone, TOC, b"gone").unwrap();
    let zran = store.write_index(&gone, ZRAN, b"gone too").unwrap();
    store.remove_blob(&gone).unwrap();
    // An orphan is verified on its checksums alone, whatever its size.
    let listed = store.list_indexes().unwrap();
    let gone_toc = listed
        .iter()
        .find(|i| i.layer == gone && i.kind == "toc")
        .unwrap();
    store.verify_index(gone_toc).unwrap();
    let removed = store.remove_orphan_indexes().unwrap();
    assert_eq!(
        removed,
        RemovedIndexes {
            count: 2,
            bytes: size + zran
        }
    );
    assert_eq!(store.read_index(&kept, TOC).unwrap().unwrap(), b"kept");
    assert_eq!(store.list_indexes().unwrap().len(), 1);
    // Names that are not indexes are nobody's to remove.
    let stranger = store.root().join(INDEX_DIR).join("README");
    fs::write(&stranger, b"x").unwrap();
    assert_eq!(store.remove_orphan_indexes().unwrap().count, 0);
    assert!(stranger.exists());
}

/// Makes a file look older than the lock grace period.
fn age(path: &std::path::Path) {
    let old = SystemTime::now() - TMP_LOCK_GRACE - Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

#[test]
fn temp_files_of_dead_writers_are_found_and_removed_and_live_ones_kept() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    let dead = store.root().join(INDEX_DIR).join("tmp-dead-writer");
    fs::write(&dead, [0u8; 42]).unwrap();
    let young = store.root().join(INDEX_DIR).join("tmp-just-created");
    fs::write(&young, [0u8; 7]).unwrap();
    // A live writer, its temp file aged: its lock keeps it.
    let mut live = store.index_writer(&a, TOC).unwrap();
    live.write_all(b"in progress").unwrap();
    live.flush().unwrap();
    age(&live.path);
    age(&dead);
    let expected = AbandonedFiles {
        count: 1,
        bytes: 42,
    };
    assert_eq!(store.find_abandoned_index_files().unwrap(), expected);
    assert!(dead.exists(), "finding removes nothing");
    assert_eq!(store.remove_abandoned_index_files().unwrap(), expected);
    assert!(!dead.exists());
    assert!(young.exists(), "too young to be sure its writer is gone");
    live.commit().unwrap();
    assert_eq!(store.read_index(&a, TOC).unwrap().unwrap(), b"in progress");
}

#[test]
fn a_damaged_index_is_removed_unless_it_was_replaced_meanwhile() {
    let (_dir, store) = temp_store();
    let a = layer(&store, 1);
    store.write_index(&a, TOC, b"toc").unwrap();
    tamper(&path_of(&store, &a, TOC), |b| b.truncate(10));
    let damaged = store.read_index(&a, TOC).unwrap_err();
    // A writer rebuilt it after the damage was seen: the new one stays.
    store.write_index(&a, TOC, b"rebuilt").unwrap();
    assert_eq!(store.remove_damaged_index(&damaged).unwrap(), None);
    assert_eq!(store.read_index(&a, TOC).unwrap().unwrap(), b"rebuilt");
    tamper(&path_of(&store, &a, TOC), |b| b.truncate(10));
    let damaged = store.read_index(&a, TOC).unwrap_err();
    assert_eq!(store.remove_damaged_index(&damaged).unwrap(), Some(10));
    assert!(store.read_index(&a, TOC).unwrap().is_none());
}

#[test]
fn kind_names_follow_the_file_name_grammar() {
    assert!(valid_kind_name(b"toc"));
    assert!(valid_kind_name(b"zstd-frames-2"));
    for bad in [
        &b""[..],
        b"TOC",
        b"a.b",
        b"../x",
        b"a/b",
        b"seventeen-chars-x",
        b"t c",
    ] {
        assert!(!valid_kind_name(bad), "{:?}", String::from_utf8_lossy(bad));
    }
    let built = std::panic::catch_unwind(|| IndexKind::new(String::leak("a/b".into()), 1));
    assert!(built.is_err());
}
