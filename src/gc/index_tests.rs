//! Unit tests of `gc` and `fsck` with layer indexes: an index goes with its layer and stays
//! with a kept one, orphans and temp files of dead writers are swept, and `check` /
//! `repair_indexes` report and remove damaged and orphan indexes.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::SystemTime;

use super::*;
use crate::oci::Descriptor;
use crate::sample::{SampleSpec, write_sample};
use crate::store::{INDEX_DIR, IndexKind};
use crate::testing::{small_spec, temp_store};

const TOC: IndexKind = IndexKind::new("toc", 1);
const ZRAN: IndexKind = IndexKind::new("zran", 1);

fn spec(name: &str, seed: u64) -> SampleSpec {
    SampleSpec {
        layer_size: 300,
        ..small_spec(Some(name), &["linux/amd64", "linux/arm64"], seed)
    }
}

/// The layers (and configs: any blob a manifest names) of an image.
fn children(store: &Store, target: &Descriptor) -> BTreeSet<Digest> {
    let graph = ImageGraph::load(store, "test", target).unwrap();
    graph
        .manifests
        .iter()
        .flat_map(|m| m.children.iter().map(|c| c.digest))
        .collect()
}

fn gc(store: &Store) -> GcReport {
    let options = GcOptions {
        timeout: Some(Duration::from_secs(5)),
        ..GcOptions::default()
    };
    collect_garbage(store, &options, |_| {}).unwrap()
}

fn index_path(store: &Store, layer: &Digest, kind: IndexKind) -> std::path::PathBuf {
    store
        .root()
        .join(INDEX_DIR)
        .join(format!("{}.{}", layer.hex(), kind.name()))
}

fn indexed_layers(store: &Store) -> BTreeSet<Digest> {
    store
        .list_indexes()
        .unwrap()
        .into_iter()
        .map(|i| i.layer)
        .collect()
}

#[test]
fn gc_removes_an_index_with_its_layer_and_keeps_it_with_a_kept_layer() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let b = write_sample(&store, &spec("b", 2)).unwrap();
    let kept = children(&store, &a);
    let all: BTreeSet<Digest> = kept.union(&children(&store, &b)).copied().collect();
    let mut index_bytes = 0;
    for layer in &all {
        store
            .write_index(layer, TOC, layer.hex().as_bytes())
            .unwrap();
        let size = store.write_index(layer, ZRAN, b"checkpoints").unwrap();
        if !kept.contains(layer) {
            index_bytes += size + fs::metadata(index_path(&store, layer, TOC)).unwrap().len();
        }
    }
    let only_b = all.len() - kept.len();
    assert!(
        only_b > 0 && kept.len() > only_b,
        "the images share a layer"
    );
    store
        .update_images(|images| {
            images.retain(|r| r.target.digest != b.digest);
            Ok(())
        })
        .unwrap();
    let report = gc(&store);
    assert_eq!(report.removed_indexes.count, 2 * only_b);
    assert_eq!(report.removed_indexes.bytes, index_bytes);
    assert_eq!(indexed_layers(&store), kept);
    for layer in &kept {
        assert_eq!(
            store.read_index(layer, TOC).unwrap().unwrap(),
            layer.hex().as_bytes()
        );
    }
    // Nothing more to collect.
    assert_eq!(gc(&store).removed_indexes, RemovedIndexes::default());
}

#[test]
fn a_gc_that_removes_no_blob_keeps_every_index() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let layers = children(&store, &a);
    let stray = store.write_blob(b"written, never referenced").unwrap();
    for layer in layers.iter().chain([&stray]) {
        store.write_index(layer, TOC, b"x").unwrap();
    }
    // An unreadable image stops the sweep (its top-level index no longer matches its
    // digest): indexes stay with their blobs.
    let mut bytes = store.read_document(&a).unwrap();
    bytes[0] ^= 0xff;
    let path = store.blob_path(&a.digest);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&path, bytes).unwrap();
    let report = gc(&store);
    assert!(!report.unreadable.is_empty());
    assert_eq!(report.removed_indexes, RemovedIndexes::default());
    assert!(indexed_layers(&store).contains(&stray));
}

#[test]
fn gc_removes_orphan_indexes_and_temp_files_of_dead_index_writers() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec("a", 1)).unwrap();
    // A layer an earlier build's gc (or another tool's) removed without its index.
    let gone = store.write_blob(b"gone").unwrap();
    let orphan = store.write_index(&gone, TOC, b"orphan").unwrap();
    store.remove_blob(&gone).unwrap();
    let dead = store.root().join(INDEX_DIR).join("tmp-killed-writer");
    fs::write(&dead, [0u8; 42]).unwrap();
    let old = SystemTime::now() - Duration::from_secs(120);
    fs::File::options()
        .write(true)
        .open(&dead)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let report = gc(&store);
    assert_eq!(
        report.removed_indexes,
        RemovedIndexes {
            count: 1,
            bytes: orphan
        }
    );
    assert_eq!(report.removed_blobs, 0);
    assert_eq!(
        report.removed_temp_files,
        AbandonedFiles {
            count: 1,
            bytes: 42
        }
    );
    assert!(!dead.exists());
    assert!(store.list_indexes().unwrap().is_empty());
}

#[test]
fn check_reports_damaged_and_orphan_indexes_and_repair_removes_them() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let layers: Vec<Digest> = children(&store, &a).into_iter().collect();
    for layer in &layers {
        store.write_index(layer, TOC, b"sound").unwrap();
    }
    let report = check(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.indexes_checked, layers.len());

    // One damaged (a flipped payload byte), one orphan.
    let damaged = index_path(&store, &layers[0], TOC);
    let mut bytes = fs::read(&damaged).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    fs::set_permissions(&damaged, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&damaged, bytes).unwrap();
    let gone = store.write_blob(b"gone").unwrap();
    store.write_index(&gone, ZRAN, b"orphan").unwrap();
    store.remove_blob(&gone).unwrap();

    let report = check(&store).unwrap();
    assert_eq!(report.indexes_checked, layers.len() + 1);
    let lines: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(&format!(
            "{}.toc: payload checksum mismatch",
            layers[0].hex()
        )) && lines[0].contains("`imagefs fsck --repair` removes it"),
        "{lines:?}"
    );
    // An orphan is space to give back, not damage.
    assert_eq!(report.orphan_indexes.len(), 1);
    assert_eq!(report.orphan_indexes[0].layer, gone);

    let repair = repair_indexes(&store).unwrap();
    assert_eq!(repair.damaged.len(), 1);
    assert_eq!(repair.damaged[0].layer, layers[0]);
    assert_eq!(repair.orphans.count, 1);
    let report = check(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.orphan_indexes.is_empty());
    assert_eq!(report.indexes_checked, layers.len() - 1);
    // The removed index reads as missing, so it is rebuilt.
    assert!(store.read_index(&layers[0], TOC).unwrap().is_none());
}

#[test]
fn check_counts_temp_files_of_dead_index_writers() {
    let (_dir, store) = temp_store();
    let dead = store.root().join(INDEX_DIR).join("tmp-killed-writer");
    fs::write(&dead, [0u8; 9]).unwrap();
    let old = SystemTime::now() - Duration::from_secs(120);
    fs::File::options()
        .write(true)
        .open(&dead)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let report = check(&store).unwrap();
    assert_eq!(
        report.abandoned_index_files,
        AbandonedFiles { count: 1, bytes: 9 }
    );
    assert!(report.problems.is_empty());
    assert!(dead.exists(), "fsck removes nothing");
}
