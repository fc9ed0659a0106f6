//! Unit tests of importing: what `NameTable` does with each name (added, unchanged, already
//! part, moved, moved back) and that it stays linear in the number of names; the platform
//! filter; that a failure anywhere before the refs are written leaves the store as it was; and
//! what the import reports to its progress observer.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use super::*;
use crate::archive::{ArchivePlan, ExportRequest, write_archive};
use crate::sample::{SampleSpec, write_sample};
use crate::store::HistoryEntry;
use crate::testing::{platform, reference, small_spec, temp_store};

fn platforms(ps: &[&str]) -> Vec<Platform> {
    ps.iter().map(|p| platform(p)).collect()
}

const PLATFORMS: [&str; 3] = ["linux/amd64", "linux/arm64", "linux/s390x"];

/// Uncompressed layers, so a byte flipped in the archive is a byte flipped in a blob.
fn spec(name: &str, ps: &[&str], seed: u64) -> SampleSpec {
    small_spec(Some(name), ps, seed)
}

fn add(store: &Store, spec: &SampleSpec) -> ImageRecord {
    let target = write_sample(store, spec).unwrap();
    ImageRecord::named(target, spec.name.as_ref().unwrap())
}

/// The archive `imagefs export` writes for `record` and `ps` (all platforms when empty).
fn export(store: &Store, record: &ImageRecord, ps: &[&str]) -> Vec<u8> {
    let request = ExportRequest {
        images: vec![record.clone()],
        platforms: platforms(ps),
    };
    let plan = ArchivePlan::build(store, &request).unwrap();
    let mut out = Vec::new();
    write_archive(&plan, &mut out, &mut |_| {}).unwrap();
    out
}

fn options(ps: &[&str]) -> ImportOptions {
    ImportOptions {
        platforms: platforms(ps),
    }
}

fn import_bytes(store: &Store, bytes: &[u8], ps: &[&str]) -> Result<Vec<LoadedImage>, ImportError> {
    import_stream(store, bytes, &options(ps), &Arc::new(AtomicU64::new(0)))
}

/// The same archive imported from a file: read by seeking, staged by copying ranges.
fn import_from_file(
    store: &Store,
    bytes: &[u8],
    ps: &[&str],
) -> Result<Vec<LoadedImage>, ImportError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.tar");
    std::fs::write(&path, bytes).unwrap();
    import_file(store, &path, &options(ps), &Arc::new(AtomicU64::new(0)))
}

fn graph(store: &Store, record: &ImageRecord) -> ImageGraph {
    ImageGraph::of_record(store, record).unwrap()
}

/// The manifest of `p` (not an attestation) in `graph`.
fn manifest_of<'g>(graph: &'g ImageGraph, p: &str) -> &'g crate::image::PlatformManifest {
    graph.select_one(&platform(p)).unwrap()
}

/// The digests of `m`, its config and layers.
fn closure(m: &crate::image::PlatformManifest) -> Vec<Digest> {
    std::iter::once(m.descriptor.digest)
        .chain(m.children.iter().map(|c| c.digest))
        .collect()
}

/// Flips one byte in the middle of the body of the archive entry of `blob`.
fn corrupt(bytes: &mut [u8], blob: &Digest) {
    let name = format!("blobs/sha256/{}", blob.hex());
    let mut archive = tar::Archive::new(&bytes[..]);
    let (position, size) = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().to_str() == Some(name.as_str()))
        .map(|e| (e.raw_file_position(), e.size()))
        .unwrap();
    bytes[(position + size / 2) as usize] ^= 0xff;
}

/// The archive without the entry of `blob`: rebuilt entry by entry.
fn without(bytes: &[u8], blob: &Digest) -> Vec<u8> {
    let name = format!("blobs/sha256/{}", blob.hex());
    let mut out = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(bytes);
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().to_str() != Some(name.as_str()) {
            let header = e.header().clone();
            out.append(&header, e).unwrap();
        }
    }
    out.into_inner().unwrap()
}

/// What a failed import must not have changed: the image list, the blobs, the ingest directory.
struct Snapshot {
    images: Vec<ImageRecord>,
    blobs: Vec<Digest>,
    ingest: usize,
}

fn snapshot(store: &Store) -> Snapshot {
    Snapshot {
        images: store.images().unwrap(),
        blobs: store.list_blobs().unwrap(),
        ingest: std::fs::read_dir(store.root().join("ingest"))
            .unwrap()
            .count(),
    }
}

fn assert_unchanged(store: &Store, before: &Snapshot) {
    let after = snapshot(store);
    assert_eq!(after.images, before.images, "the image list changed");
    assert_eq!(after.blobs, before.blobs, "blobs were published");
    assert_eq!(after.ingest, before.ingest, "temp files were left behind");
}

// --- NameTable ------------------------------------------------------------------------------

fn planned(target: &Descriptor) -> Planned {
    Planned {
        target: target.clone(),
        names: Vec::new(),
        generated_config: None,
        skipped: Vec::new(),
        generated: None,
    }
}

/// Records `name` for `p` in one change of the store's list, as `load` does.
fn record_name(store: &Store, p: &Planned, name: Option<&str>) -> (Descriptor, NameOutcome) {
    let name = name.map(reference);
    store
        .update_images_and_history(|images, history| {
            let mut table = NameTable::new(store, images);
            let outcome = table.record(images, p, name.as_ref(), 1_000);
            table.finish(history)?;
            Ok(outcome)
        })
        .unwrap()
}

fn target_of(store: &Store, name: &str) -> Option<Digest> {
    let name = reference(name);
    store
        .images()
        .unwrap()
        .iter()
        .find(|r| r.name().as_ref() == Some(&name))
        .map(|r| r.target.digest)
}

#[test]
fn a_new_name_is_added() {
    let (_dir, store) = temp_store();
    let target = Descriptor::new(MEDIA_TYPE_OCI_INDEX, Digest::of(b"image"), 10);
    let (now, outcome) = record_name(&store, &planned(&target), Some("a:1"));
    assert_eq!(outcome, NameOutcome::Added);
    assert_eq!(now.digest, target.digest);
    assert_eq!(target_of(&store, "a:1"), Some(target.digest));
}

#[test]
fn a_name_already_pointing_at_the_image_is_unchanged() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec("a:1", &PLATFORMS, 1));
    let (_, outcome) = record_name(&store, &planned(&image.bare_target()), Some("a:1"));
    assert_eq!(outcome, NameOutcome::Unchanged);
    assert!(store.history().unwrap().is_empty());
}

#[test]
fn a_name_whose_image_lists_the_brought_manifest_stays() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec("a:1", &PLATFORMS, 1));
    let arm = manifest_of(&graph(&store, &image), "linux/arm64")
        .descriptor
        .clone();
    let (now, outcome) = record_name(&store, &planned(&arm), Some("a:1"));
    assert_eq!(
        outcome,
        NameOutcome::AlreadyPart {
            brought: arm.digest
        }
    );
    assert_eq!(now.digest, image.target.digest);
    assert_eq!(target_of(&store, "a:1"), Some(image.target.digest));
    assert!(store.history().unwrap().is_empty());
}

#[test]
fn a_docker_archive_image_with_the_config_of_one_of_the_manifests_stays() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec("a:1", &PLATFORMS, 1));
    let config = manifest_of(&graph(&store, &image), "linux/s390x").children[0].digest;
    // A manifest generated from manifest.json has a digest of its own; its config is the
    // image ID, and layers compressed otherwise are the same content.
    let generated = Descriptor::new(MEDIA_TYPE_DOCKER_MANIFEST, Digest::of(b"generated"), 9);
    let mut p = planned(&generated);
    p.generated_config = Some(config);
    let (_, outcome) = record_name(&store, &p, Some("a:1"));
    assert_eq!(
        outcome,
        NameOutcome::AlreadyPart {
            brought: generated.digest
        }
    );
    // Another config is another image: the name moves.
    p.generated_config = Some(Digest::of(b"another config"));
    let (_, outcome) = record_name(&store, &p, Some("a:1"));
    assert!(matches!(outcome, NameOutcome::Moved { .. }), "{outcome:?}");
}

#[test]
fn a_moved_name_keeps_its_previous_target_in_the_history() {
    let (_dir, store) = temp_store();
    let old = add(&store, &spec("a:1", &["linux/arm64", "linux/amd64"], 1));
    let new = write_sample(&store, &spec("b:1", &["linux/amd64"], 2)).unwrap();
    let (now, outcome) = record_name(&store, &planned(&new), Some("a:1"));
    assert_eq!(
        outcome,
        NameOutcome::Moved {
            previous: old.target.digest,
            previous_platforms: platforms(&["linux/amd64", "linux/arm64"]),
        }
    );
    assert_eq!(now.digest, new.digest);
    assert_eq!(target_of(&store, "a:1"), Some(new.digest));
    assert_eq!(
        store.history().unwrap(),
        vec![HistoryEntry {
            name: reference("a:1").to_string(),
            target: old.bare_target(),
            replaced_at: 1_000,
            replaced_by: new.digest,
        }]
    );
}

#[test]
fn a_name_moved_back_takes_its_history_entry_out() {
    let (_dir, store) = temp_store();
    let old = add(&store, &spec("a:1", &["linux/amd64"], 1)).bare_target();
    let new = write_sample(&store, &spec("b:1", &["linux/amd64"], 2)).unwrap();
    record_name(&store, &planned(&new), Some("a:1"));
    let (_, outcome) = record_name(&store, &planned(&old), Some("a:1"));
    assert!(matches!(outcome, NameOutcome::Moved { previous, .. } if previous == new.digest));
    let history: Vec<(Digest, Digest)> = store
        .history()
        .unwrap()
        .iter()
        .map(|e| (e.target.digest, e.replaced_by))
        .collect();
    assert_eq!(history, vec![(new.digest, old.digest)]);
}

#[test]
fn an_unnamed_image_is_listed_once() {
    let (_dir, store) = temp_store();
    let named = add(&store, &spec("a:1", &["linux/amd64"], 1));
    let other = Descriptor::new(MEDIA_TYPE_OCI_INDEX, Digest::of(b"other"), 10);
    let outcomes = store
        .update_images_and_history(|images, history| {
            let mut table = NameTable::new(&store, images);
            let outcomes = [
                table.record(images, &planned(&other), None, 0).1,
                table.record(images, &planned(&other), None, 0).1,
                // Already listed under a name: no unnamed record of its own.
                table
                    .record(images, &planned(&named.bare_target()), None, 0)
                    .1,
            ];
            table.finish(history)?;
            Ok(outcomes)
        })
        .unwrap();
    assert_eq!(
        outcomes,
        [
            NameOutcome::Added,
            NameOutcome::Unchanged,
            NameOutcome::Unchanged
        ]
    );
    assert_eq!(store.images().unwrap().len(), 2);
}

#[test]
fn a_name_listed_twice_keeps_its_first_record() {
    let (_dir, store) = temp_store();
    let first = Descriptor::new(MEDIA_TYPE_OCI_INDEX, Digest::of(b"first"), 10);
    let second = Descriptor::new(MEDIA_TYPE_OCI_INDEX, Digest::of(b"second"), 10);
    let name = reference("a:1");
    let mut images = vec![
        ImageRecord::named(first.clone(), &name),
        ImageRecord::named(second, &name),
        ImageRecord::unnamed(first.clone()),
    ];
    let table = NameTable::new(&store, &mut images);
    assert_eq!(
        images,
        vec![
            ImageRecord::named(first.clone(), &name),
            ImageRecord::unnamed(first.clone())
        ]
    );
    assert_eq!(table.targets.get(&first.digest), Some(&2));
}

#[test]
fn many_names_are_added_and_moved_in_linear_time() {
    const N: usize = 20_000;
    // Linear work takes about a second here even unoptimised; a scan of the list per name
    // (N² = 4·10⁸ record visits, each parsing a name) takes hours. Checked as it goes, so
    // such a regression fails in seconds instead of hanging the suite.
    const BOUND: Duration = Duration::from_secs(30);
    let (_dir, store) = temp_store();
    let old = Descriptor::new(MEDIA_TYPE_OCI_INDEX, Digest::of(b"old"), 10);
    let new = Descriptor::new(MEDIA_TYPE_OCI_INDEX, Digest::of(b"new"), 10);
    let names: Vec<Reference> = (0..N)
        .map(|i| reference(&format!("example.com/n{i}:1")))
        .collect();
    let added: Vec<Reference> = (0..N)
        .map(|i| reference(&format!("example.com/m{i}:1")))
        .collect();
    let mut images: Vec<ImageRecord> = names
        .iter()
        .map(|n| ImageRecord::named(old.clone(), n))
        .collect();
    let start = Instant::now();
    let in_time = |i: usize| {
        let elapsed = start.elapsed();
        assert!(elapsed < BOUND, "{i} names took {elapsed:?}");
    };
    let mut table = NameTable::new(&store, &mut images);
    for (i, n) in names.iter().enumerate() {
        let (_, outcome) = table.record(&mut images, &planned(&new), Some(n), 0);
        assert!(matches!(outcome, NameOutcome::Moved { .. }));
        in_time(i);
    }
    for (i, n) in added.iter().enumerate() {
        let (_, outcome) = table.record(&mut images, &planned(&new), Some(n), 0);
        assert_eq!(outcome, NameOutcome::Added);
        in_time(N + i);
    }
    // The image the names left is walked once, not once per name.
    assert_eq!(table.contents.len(), 1);
    assert_eq!(table.moved.len(), N);
    assert_eq!(images.len(), 2 * N);
    assert!(images.iter().all(|r| r.target.digest == new.digest));
}

// --- the platform filter --------------------------------------------------------------------

#[test]
fn a_platform_filter_publishes_only_the_selected_closure_and_its_attestation() {
    let (_dir, source) = temp_store();
    let image = add(&source, &spec("a:1", &PLATFORMS, 1));
    let bytes = export(&source, &image, &[]);
    let source_graph = graph(&source, &image);
    let arm = manifest_of(&source_graph, "linux/arm64");
    let attestation = source_graph
        .manifests
        .iter()
        .find(|m| m.attests() == Some(arm.descriptor.digest))
        .unwrap();
    let mut expected: BTreeSet<Digest> = BTreeSet::from([image.target.digest]);
    expected.extend(closure(arm));
    expected.extend(closure(attestation));

    for import in [import_bytes, import_from_file] {
        let (_dir, store) = temp_store();
        let loaded = import(&store, &bytes, &["linux/arm64/v8"]).unwrap();
        assert_eq!(
            loaded,
            vec![LoadedImage {
                name: Some(reference("a:1")),
                digest: image.target.digest,
                platforms: platforms(&["linux/arm64"]),
                outcome: NameOutcome::Added,
                skipped: Vec::new(),
            }]
        );
        let stored: BTreeSet<Digest> = store.list_blobs().unwrap().into_iter().collect();
        assert_eq!(stored, expected);
    }
}

#[test]
fn a_missing_platform_fails_the_import_and_changes_nothing() {
    let (_dir, source) = temp_store();
    let image = add(&source, &spec("a:1", &PLATFORMS, 1));
    let bytes = export(&source, &image, &[]);
    let (_dir, store) = temp_store();
    add(&store, &spec("kept:1", &["linux/amd64"], 7));
    let before = snapshot(&store);
    for import in [import_bytes, import_from_file] {
        let err = import(&store, &bytes, &["linux/arm64", "linux/ppc64le"]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("linux/ppc64le"), "{message}");
        assert!(
            message.contains("linux/s390x"),
            "should list what is there: {message}"
        );
        assert_unchanged(&store, &before);
    }
}

#[test]
fn a_corrupt_selected_blob_fails_the_whole_import_and_publishes_nothing() {
    let (_dir, source) = temp_store();
    let image = add(&source, &spec("a:1", &PLATFORMS, 1));
    let mut bytes = export(&source, &image, &[]);
    // The last platform's own layer: staged after the index, the other manifests and layers.
    let layer = manifest_of(&graph(&source, &image), "linux/s390x").children[2].digest;
    corrupt(&mut bytes, &layer);
    let (_dir, store) = temp_store();
    add(&store, &spec("kept:1", &["linux/amd64"], 7));
    let before = snapshot(&store);
    for import in [import_bytes, import_from_file] {
        let err = import(&store, &bytes, &[]).unwrap_err();
        assert!(err.to_string().contains(&layer.to_string()), "{err}");
        assert_unchanged(&store, &before);
    }
    // Filtered out, the same broken blob does not matter.
    for import in [import_bytes, import_from_file] {
        let (_dir, store) = temp_store();
        let loaded = import(&store, &bytes, &["linux/amd64"]).unwrap();
        assert_eq!(loaded[0].platforms, platforms(&["linux/amd64"]));
        assert!(!store.has_blob(&layer));
    }
}

#[test]
fn a_sparse_archive_loads_its_complete_platforms_and_names_the_others() {
    let (_dir, source) = temp_store();
    let image = add(&source, &spec("a:1", &PLATFORMS, 1));
    let g = graph(&source, &image);
    let s390x = manifest_of(&g, "linux/s390x");
    let layer = s390x.children[2].digest;
    let bytes = without(&export(&source, &image, &[]), &layer);

    let (_dir, store) = temp_store();
    let loaded = import_bytes(&store, &bytes, &[]).unwrap();
    assert_eq!(
        loaded[0].platforms,
        platforms(&["linux/amd64", "linux/arm64"])
    );
    assert_eq!(
        loaded[0].skipped,
        vec![SkippedPlatform {
            platform: Some(platform("linux/s390x")),
            manifest: s390x.descriptor.digest,
            missing: layer,
        }]
    );
    assert!(!store.has_blob(&s390x.descriptor.digest));

    // Asked for by name, the incomplete platform fails the import.
    let (_dir, store) = temp_store();
    let before = snapshot(&store);
    assert!(import_bytes(&store, &bytes, &["linux/s390x"]).is_err());
    assert_unchanged(&store, &before);
}

#[test]
fn importing_one_platform_of_a_stored_image_keeps_its_name() {
    let (_dir, source) = temp_store();
    let image = add(&source, &spec("a:1", &PLATFORMS, 1));
    let (_dir, store) = temp_store();
    import_bytes(&store, &export(&source, &image, &[]), &[]).unwrap();
    // `by-platform/linux-arm64.tar` of the image, loaded back: moby#48591 would move the name.
    let loaded = import_bytes(&store, &export(&source, &image, &["linux/arm64"]), &[]).unwrap();
    let arm = manifest_of(&graph(&source, &image), "linux/arm64")
        .descriptor
        .digest;
    assert_eq!(loaded[0].outcome, NameOutcome::AlreadyPart { brought: arm });
    assert_eq!(loaded[0].digest, image.target.digest);
    assert_eq!(loaded[0].platforms.len(), 3);
    assert_eq!(target_of(&store, "a:1"), Some(image.target.digest));
    assert!(store.history().unwrap().is_empty());
}

// --- progress ---------------------------------------------------------------------------------

/// Every report an import makes, in order.
#[derive(Default)]
struct Reports(RefCell<Vec<(&'static str, u64)>>);

impl ImportProgress for Reports {
    fn read(&self, consumed: u64) {
        self.0.borrow_mut().push(("read", consumed));
    }
    fn planned(&self, bytes: u64) {
        self.0.borrow_mut().push(("planned", bytes));
    }
    fn verified(&self, done: u64) {
        self.0.borrow_mut().push(("verified", done));
    }
    fn stored(&self, done: u64) {
        self.0.borrow_mut().push(("stored", done));
    }
}

/// The reports come in phase order, each figure cumulative, and `stored` reaches the planned
/// total (every published blob's size, each counted once) only with the last report.
fn check_reports(reports: Vec<(&'static str, u64)>, input: u64, published: u64) {
    let order = ["read", "planned", "verified", "stored"];
    let rank = |k: &str| order.iter().position(|o| *o == k).unwrap();
    for pair in reports.windows(2) {
        let ((k1, v1), (k2, v2)) = (pair[0], pair[1]);
        assert!(rank(k1) <= rank(k2), "{k1} after {k2}: {reports:?}");
        if k1 == k2 {
            assert!(v1 <= v2, "{k1} went down: {reports:?}");
        }
    }
    let last = |kind: &str| reports.iter().rev().find(|(k, _)| *k == kind).unwrap().1;
    assert_eq!(last("read"), input);
    assert_eq!(
        reports.iter().filter(|(k, _)| *k == "planned").count(),
        1,
        "{reports:?}"
    );
    assert_eq!(last("planned"), published);
    assert_eq!(last("verified"), published);
    assert_eq!(*reports.last().unwrap(), ("stored", published));
    let reached = reports
        .iter()
        .position(|r| *r == ("stored", published))
        .unwrap();
    assert_eq!(
        reached,
        reports.len() - 1,
        "stored the total early: {reports:?}"
    );
    assert!(reports[reached - 1].1 < published || reports[reached - 1].0 != "stored");
}

#[test]
fn an_import_reports_reading_then_verifying_then_storing_the_selected_bytes() {
    let (_dir, source) = temp_store();
    let image = add(&source, &spec("a:1", &PLATFORMS, 1));
    let bytes = export(&source, &image, &[]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.tar");
    std::fs::write(&path, &bytes).unwrap();
    for from_file in [false, true] {
        let (_dir, store) = temp_store();
        let reports = Reports::default();
        let ps = options(&["linux/arm64"]);
        match from_file {
            true => import_file(&store, &path, &ps, &reports).unwrap(),
            false => import_stream(&store, &bytes[..], &ps, &reports).unwrap(),
        };
        let published: u64 = store
            .list_blobs()
            .unwrap()
            .iter()
            .map(|d| store.blob_size(d).unwrap())
            .sum();
        // Verifying and storing count what the platform filter selected, not the archive.
        assert!(published < bytes.len() as u64 / 2, "{published}");
        check_reports(reports.0.into_inner(), bytes.len() as u64, published);
    }
}

#[test]
fn blobs_the_store_already_holds_count_as_verified_and_stored() {
    let (_dir, source) = temp_store();
    let image = add(&source, &spec("a:1", &PLATFORMS, 1));
    let bytes = export(&source, &image, &[]);
    let (_dir, store) = temp_store();
    import_bytes(&store, &bytes, &[]).unwrap();
    let reports = Reports::default();
    import_stream(&store, &bytes[..], &options(&[]), &reports).unwrap();
    let all: u64 = store
        .list_blobs()
        .unwrap()
        .iter()
        .map(|d| store.blob_size(d).unwrap())
        .sum();
    check_reports(reports.0.into_inner(), bytes.len() as u64, all);
}

#[test]
fn a_docker_archive_reports_each_config_and_layer_once() {
    // Two images sharing a layer, one of them listed under two entries' paths.
    let layer = |n: u8| vec![n; 3000];
    let config = |n: u8| {
        serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "n": n,
            "rootfs": {"type": "layers", "diff_ids": []},
        }))
        .unwrap()
    };
    let mut builder = tar::Builder::new(Vec::new());
    let mut add_file = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, data).unwrap();
    };
    add_file("c1.json", &config(1));
    add_file("c2.json", &config(2));
    add_file("shared/layer.tar", &layer(1));
    add_file("own/layer.tar", &layer(2));
    let manifest = serde_json::json!([
        {"Config": "c1.json", "RepoTags": ["a:1"], "Layers": ["shared/layer.tar"]},
        {"Config": "c2.json", "RepoTags": ["b:1"], "Layers": ["shared/layer.tar", "own/layer.tar"]},
    ]);
    add_file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let bytes = builder.into_inner().unwrap();
    let content = (config(1).len() + config(2).len() + 2 * layer(1).len()) as u64;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.tar");
    std::fs::write(&path, &bytes).unwrap();
    for from_file in [false, true] {
        let (_dir, store) = temp_store();
        let reports = Reports::default();
        match from_file {
            true => import_file(&store, &path, &options(&[]), &reports).unwrap(),
            false => import_stream(&store, &bytes[..], &options(&[]), &reports).unwrap(),
        };
        check_reports(reports.0.into_inner(), bytes.len() as u64, content);
    }
}
