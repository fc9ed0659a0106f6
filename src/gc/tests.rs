//! Unit tests of `gc`: what is marked (images, unexpired name history), what is swept, that an
//! unreadable image stops the sweep, and what `check` (fsck) reports.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::oci::Descriptor;
use crate::reference::Reference;
use crate::sample::{SampleSpec, write_sample};
use crate::store::{HistoryEntry, now};
use crate::testing::{small_spec, temp_store};

fn spec(name: &str, seed: u64) -> SampleSpec {
    SampleSpec {
        layer_size: 300,
        ..small_spec(Some(name), &["linux/amd64", "linux/arm64"], seed)
    }
}

/// Every blob of the image `target` names, as a graph walk finds them.
fn blobs_of(store: &Store, target: &Descriptor) -> BTreeSet<Digest> {
    let graph = ImageGraph::load(store, "test", target).unwrap();
    let mut all: BTreeSet<Digest> = graph.indexes.iter().map(|d| d.digest).collect();
    for m in &graph.manifests {
        all.insert(m.descriptor.digest);
        all.extend(m.children.iter().map(|c| c.digest));
    }
    all
}

fn stored(store: &Store) -> BTreeSet<Digest> {
    store.list_blobs().unwrap().into_iter().collect()
}

fn gc(store: &Store, keep_history: Duration) -> GcReport {
    let options = GcOptions {
        timeout: Some(Duration::from_secs(5)),
        keep_history,
    };
    collect_garbage(store, &options, |_| {}).unwrap()
}

fn remove_name(store: &Store, target: &Descriptor) {
    store
        .update_images(|images| {
            images.retain(|r| r.target.digest != target.digest);
            Ok(())
        })
        .unwrap();
}

/// Records that a name left `target` `age` seconds ago, as an import that moved it would.
fn add_history(store: &Store, name: &str, target: &Descriptor, age: u64) {
    store
        .update_images_and_history(|_, history| {
            history.entries()?.push(HistoryEntry {
                name: name.to_string(),
                target: target.clone(),
                replaced_at: now() - age,
                replaced_by: Digest::of(b"whatever replaced it"),
            });
            Ok(())
        })
        .unwrap();
}

/// Replaces a blob's bytes (blobs are stored read-only).
fn overwrite(store: &Store, digest: &Digest, bytes: &[u8]) {
    let path = store.blob_path(digest);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&path, bytes).unwrap();
}

const DAY: u64 = 24 * 3600;

// --- mark and sweep -------------------------------------------------------------------------

#[test]
fn mark_reaches_every_blob_of_every_image() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let b = write_sample(&store, &spec("b", 2)).unwrap();
    let Marked { live, unreadable } = mark(&store).unwrap();
    assert!(unreadable.is_empty(), "{unreadable:?}");
    let mut expected = blobs_of(&store, &a);
    expected.extend(blobs_of(&store, &b));
    assert_eq!(live, expected);
    assert_eq!(live, stored(&store));
}

#[test]
fn gc_removes_unreferenced_blobs_and_only_those() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let b = write_sample(&store, &spec("b", 2)).unwrap();
    let stray = store.write_blob(b"written, never referenced").unwrap();
    let keep = blobs_of(&store, &a);
    let only_b: BTreeSet<Digest> = blobs_of(&store, &b).difference(&keep).copied().collect();
    // The two images share their base layer, which must survive b.
    assert!(blobs_of(&store, &b).intersection(&keep).next().is_some());
    remove_name(&store, &b);
    let report = gc(&store, DEFAULT_HISTORY_RETENTION);
    assert_eq!(report.removed_blobs, only_b.len() + 1);
    assert!(report.unreadable.is_empty());
    assert_eq!(stored(&store), keep);
    assert!(!store.has_blob(&stray));
    // Nothing left to collect.
    assert_eq!(gc(&store, DEFAULT_HISTORY_RETENTION).removed_blobs, 0);
}

#[test]
fn gc_reports_the_bytes_it_freed() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec("a", 1)).unwrap();
    store.write_blob(&[7u8; 1234]).unwrap();
    store.write_blob(&[8u8; 66]).unwrap();
    let report = gc(&store, DEFAULT_HISTORY_RETENTION);
    assert_eq!((report.removed_blobs, report.freed_bytes), (2, 1300));
}

#[test]
fn a_name_history_entry_keeps_its_image_until_it_expires() {
    let (_dir, store) = temp_store();
    let old = write_sample(&store, &spec("a", 1)).unwrap();
    let old_blobs = blobs_of(&store, &old);
    remove_name(&store, &old);
    add_history(&store, "docker.io/library/a:latest", &old, DAY);

    let report = gc(&store, DEFAULT_HISTORY_RETENTION);
    assert_eq!((report.removed_blobs, report.expired_history), (0, 0));
    assert_eq!(stored(&store), old_blobs);
    assert_eq!(store.history().unwrap().len(), 1);

    // Kept for less than the entry's age: the entry goes, and its image with it.
    let report = gc(&store, Duration::from_secs(DAY / 2));
    assert_eq!(report.expired_history, 1);
    assert_eq!(report.removed_blobs, old_blobs.len());
    assert!(stored(&store).is_empty());
    assert!(store.history().unwrap().is_empty());
}

#[test]
fn an_expired_entry_does_not_free_an_image_a_newer_entry_or_a_name_keeps() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let b = write_sample(&store, &spec("b", 2)).unwrap();
    remove_name(&store, &b);
    add_history(&store, "docker.io/library/a:latest", &a, 30 * DAY);
    add_history(&store, "docker.io/library/x:latest", &b, 30 * DAY);
    add_history(&store, "docker.io/library/y:latest", &b, DAY);
    let report = gc(&store, DEFAULT_HISTORY_RETENTION);
    assert_eq!(report.expired_history, 2);
    assert_eq!(report.removed_blobs, 0);
    let mut all = blobs_of(&store, &a);
    all.extend(blobs_of(&store, &b));
    assert_eq!(stored(&store), all);
}

#[test]
fn an_image_that_cannot_be_read_stops_the_sweep() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    write_sample(&store, &spec("b", 2)).unwrap();
    let stray = store.write_blob(b"garbage").unwrap();
    // Same size, other bytes: the index no longer matches its digest, so nobody can tell
    // what it references.
    let mut bytes = store.read_document(&a).unwrap();
    bytes[0] ^= 0xff;
    overwrite(&store, &a.digest, &bytes);
    let before = stored(&store);
    let report = gc(&store, DEFAULT_HISTORY_RETENTION);
    assert_eq!(report.unreadable.len(), 1, "{:?}", report.unreadable);
    assert_eq!(report.unreadable[0].digest, a.digest);
    assert_eq!(report.removed_blobs, 0);
    assert_eq!(stored(&store), before);
    assert!(store.has_blob(&stray));
}

#[test]
fn an_image_whose_target_is_gone_stops_the_sweep() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let stray = store.write_blob(b"garbage").unwrap();
    store.remove_blob(&a.digest).unwrap();
    let report = gc(&store, DEFAULT_HISTORY_RETENTION);
    assert_eq!(report.unreadable.len(), 1);
    assert_eq!(report.unreadable[0].digest, a.digest);
    assert_eq!(report.removed_blobs, 0);
    assert!(store.has_blob(&stray));
}

#[test]
fn gc_removes_temp_files_of_writers_that_died() {
    let (_dir, store) = temp_store();
    let ingest = store.root().join("ingest");
    fs::write(ingest.join("ingest-dead-writer"), [0u8; 100]).unwrap();
    // Not a temp file of ours: left alone.
    fs::write(ingest.join("something-else"), [0u8; 10]).unwrap();
    let report = gc(&store, DEFAULT_HISTORY_RETENTION);
    assert_eq!(report.removed_temp_files.count, 1);
    assert_eq!(report.removed_temp_files.bytes, 100);
    assert!(!ingest.join("ingest-dead-writer").exists());
    assert!(ingest.join("something-else").exists());
}

// --- check (fsck) ---------------------------------------------------------------------------

#[test]
fn check_of_a_healthy_store_finds_nothing() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec("a", 1)).unwrap();
    let report = check(&store).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.blobs_checked, store.list_blobs().unwrap().len());
    assert_eq!(report.abandoned, AbandonedFiles::default());
}

#[test]
fn check_reports_a_corrupted_blob_by_digest() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let graph = ImageGraph::load(&store, "a", &a).unwrap();
    // A layer: the image's graph still walks, only re-hashing finds it.
    let layer = graph.manifests[0].children[2].clone();
    let mut bytes = fs::read(store.blob_path(&layer.digest)).unwrap();
    bytes[10] ^= 1;
    overwrite(&store, &layer.digest, &bytes);
    let report = check(&store).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        matches!(&report.problems[0], Problem::Blob { digest, .. } if *digest == layer.digest),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems[0]
            .to_string()
            .starts_with(&format!("blob {}", layer.digest)),
        "{}",
        report.problems[0]
    );
}

/// Gives the image `target` a second name.
fn also_name(store: &Store, target: &Descriptor, name: &str) {
    let name = Reference::parse_normalized(name).unwrap();
    store
        .update_images(|images| {
            images.push(ImageRecord::named(target.clone(), &name));
            Ok(())
        })
        .unwrap();
}

/// The lines `fsck` prints for the store's problems.
fn problem_lines(store: &Store) -> Vec<String> {
    check(store)
        .unwrap()
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect()
}

/// `line` for the image of `also_name(…, "b:2")` under its first name, then its second.
fn under_both_names(line: impl Fn(&str) -> String) -> Vec<String> {
    vec![
        line("docker.io/library/a:latest"),
        line("docker.io/library/b:2"),
    ]
}

#[test]
fn check_reports_a_missing_layer_under_each_name_of_its_image() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    also_name(&store, &a, "b:2");
    let graph = ImageGraph::load(&store, "a", &a).unwrap();
    let manifest = &graph.manifests[0];
    let layer = manifest.children[2].digest;
    store.remove_blob(&layer).unwrap();
    let expected = under_both_names(|name| {
        format!(
            "image {name}: manifest {} lacks blob {layer}",
            manifest.descriptor.digest
        )
    });
    assert_eq!(problem_lines(&store), expected);
}

#[test]
fn check_reports_an_image_with_no_complete_platform() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    let graph = ImageGraph::load(&store, "a", &a).unwrap();
    for m in graph.manifests.iter().filter(|m| !m.is_attestation()) {
        store.remove_blob(&m.descriptor.digest).unwrap();
    }
    assert_eq!(
        problem_lines(&store),
        ["image docker.io/library/a:latest: no platform is complete"]
    );
}

#[test]
fn check_names_an_unreadable_image_once_under_each_of_its_names() {
    let (_dir, store) = temp_store();
    let a = write_sample(&store, &spec("a", 1)).unwrap();
    also_name(&store, &a, "b:2");
    store.remove_blob(&a.digest).unwrap();
    let expected = under_both_names(|name| {
        format!(
            "image {name}: its top-level document {} is not in the store",
            a.digest
        )
    });
    assert_eq!(problem_lines(&store), expected);
}

/// Leaves the temp file of an import that died, and checks that `check` counts it and leaves it
/// where it is.
fn counts_a_dead_writers_temp_file(store: &Store) -> CheckReport {
    let path = store.root().join("ingest").join("ingest-dead-writer");
    fs::write(&path, [0u8; 42]).unwrap();
    let report = check(store).unwrap();
    assert_eq!(
        report.abandoned,
        AbandonedFiles {
            count: 1,
            bytes: 42
        }
    );
    assert!(path.exists());
    report
}

#[test]
fn check_counts_abandoned_temp_files_without_removing_them() {
    let (_dir, store) = temp_store();
    // Left by an import that died: it had taken (and so created) the gc lock.
    drop(store.lock_ingest().unwrap());
    let report = counts_a_dead_writers_temp_file(&store);
    assert!(report.problems.is_empty());
}

#[test]
fn check_counts_abandoned_temp_files_in_a_store_without_a_gc_lock() {
    let (_dir, store) = temp_store();
    // As another tool lays a store out, or after the lock file was deleted: nobody holds a
    // lock that does not exist.
    let lock = store.root().join("gc.lock");
    assert!(
        !lock.exists(),
        "a new store has no gc lock until something takes it"
    );
    counts_a_dead_writers_temp_file(&store);
    assert!(!lock.exists(), "fsck creates no lock file");
}

#[test]
fn check_does_not_count_the_temp_files_of_an_import_in_flight() {
    let (_dir, store) = temp_store();
    fs::write(store.root().join("ingest").join("ingest-live"), [0u8; 42]).unwrap();
    // An import holds the gc lock shared for as long as its temp files live.
    let _import = store.lock_ingest().unwrap();
    assert_eq!(check(&store).unwrap().abandoned, AbandonedFiles::default());
}
