//! Unit tests of open files: the offset arithmetic of `read_bytes` and `read_plan`, the gc lease
//! that open archive files hold, and the states an upload into `import/` goes through.

use std::time::Duration;

use fuser::Errno;

use super::*;
use crate::archive::{ExportRequest, write_archive};
use crate::reference::Reference;
use crate::sample::{LayerCompression, SampleSpec, write_sample};
use crate::store::ImageRecord;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

fn platform(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}

/// A store holding one small two-platform image, and that image's record.
fn store_with_image() -> (tempfile::TempDir, Store, ImageRecord) {
    let (dir, store) = temp_store();
    let name = Reference::parse_normalized("example.com/up:1").unwrap();
    let spec = SampleSpec {
        name: Some(name.clone()),
        platforms: vec![platform("linux/amd64"), platform("linux/arm64")],
        layers: 1,
        layer_size: 900,
        compression: LayerCompression::None,
        docker_media_types: false,
        attestations: false,
        shared_base: false,
        single_manifest: false,
        seed: 1,
    };
    let target = write_sample(&store, &spec).unwrap();
    (dir, store, ImageRecord::named(target, &name))
}

fn plan_of(store: &Store, record: &ImageRecord) -> ArchivePlan {
    let request = ExportRequest {
        images: vec![record.clone()],
        platforms: Vec::new(),
    };
    ArchivePlan::build(store, &request).unwrap()
}

fn archive_bytes(store: &Store, record: &ImageRecord) -> Vec<u8> {
    let mut out = Vec::new();
    write_archive(&plan_of(store, record), &mut out, &mut |_| {}).unwrap();
    out
}

/// The upload's state as its status file shows it. (The one place that names the strings.)
fn state(upload: &Upload) -> &'static str {
    upload.status().state
}

// --- read_bytes, reserve, read_plan ---------------------------------------------------------

#[test]
fn read_bytes_clips_to_the_document_and_returns_the_count() {
    let doc = b"0123456789";
    let mut buf = Vec::new();
    assert_eq!(read_bytes(doc, 0, 4, &mut buf), 4);
    assert_eq!(&buf[..4], b"0123");
    assert_eq!(read_bytes(doc, 7, 100, &mut buf), 3);
    assert_eq!(&buf[..3], b"789");
    assert_eq!(read_bytes(doc, 9, 1, &mut buf), 1);
    assert_eq!(buf[0], b'9');
    for (offset, len) in [(10, 1), (11, 5), (u64::MAX, 1), (3, 0)] {
        assert_eq!(read_bytes(doc, offset, len, &mut buf), 0, "{offset} {len}");
    }
    // A length that would overflow an end offset is clipped, not wrapped.
    assert_eq!(read_bytes(doc, 2, usize::MAX, &mut buf), 8);
    assert_eq!(&buf[..8], b"23456789");
}

#[test]
fn reserve_grows_a_buffer_and_never_shrinks_it() {
    let mut buf = vec![7u8; 3];
    assert_eq!(reserve(&mut buf, 5).len(), 5);
    assert_eq!(buf.len(), 5);
    assert_eq!(reserve(&mut buf, 2).len(), 2);
    assert_eq!(buf.len(), 5, "a smaller read must keep the worker's buffer");
    assert_eq!(&buf[..3], &[7, 7, 7]);
}

#[test]
fn read_plan_serves_the_streamed_bytes_and_clips_at_the_end() {
    let (_dir, store, record) = store_with_image();
    let plan = plan_of(&store, &record);
    let bytes = archive_bytes(&store, &record);
    let size = plan.size();
    let mut buf = Vec::new();
    for (offset, len) in [(0, 512), (100, 2000), (size - 1, 1), (size - 5, 100)] {
        let n = read_plan(&plan, offset, len, &mut buf).unwrap();
        let end = (offset + len as u64).min(size) as usize;
        assert_eq!(n, end - offset as usize, "{offset} {len}");
        assert!(buf[..n] == bytes[offset as usize..end], "{offset} {len}");
    }
    assert_eq!(read_plan(&plan, size, 10, &mut buf).unwrap(), 0);
    assert_eq!(read_plan(&plan, size + 10, 10, &mut buf).unwrap(), 0);
}

#[test]
fn read_plan_fails_rather_than_return_a_short_read() {
    let (_dir, store, record) = store_with_image();
    let plan = plan_of(&store, &record);
    // A layer shrinks under the plan: the kernel would zero-fill a short reply.
    let layer = crate::image::ImageGraph::of_record(&store, &record)
        .unwrap()
        .manifests[0]
        .children[1]
        .digest;
    let path = store.blob_path(&layer);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, b"x").unwrap();
    let mut buf = Vec::new();
    let mut failed = false;
    let mut offset = 0;
    while offset < plan.size() {
        failed |= read_plan(&plan, offset, 4096, &mut buf).is_err();
        offset += 4096;
    }
    assert!(
        failed,
        "no read of the whole archive noticed the shrunk blob"
    );
}

// --- the gc lease ---------------------------------------------------------------------------

fn gc_can_start(store: &Store) -> bool {
    store
        .lock_gc_waiting(Some(Duration::from_millis(20)), |_| {})
        .is_ok()
}

#[test]
fn gc_waits_until_the_last_open_archive_file_closes() {
    let (_dir, store) = temp_store();
    let table = Arc::new(LeaseTable::default());
    assert!(gc_can_start(&store));
    let first = table.acquire(&store).unwrap();
    let second = table.acquire(&store).unwrap();
    assert!(!gc_can_start(&store));
    drop(first);
    assert!(!gc_can_start(&store), "released with a file still open");
    drop(second);
    assert!(gc_can_start(&store));
    // And taken again by the next open.
    let _third = table.acquire(&store).unwrap();
    assert!(!gc_can_start(&store));
}

// --- uploads --------------------------------------------------------------------------------

#[test]
fn an_upload_nobody_wrote_commits_nothing() {
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), Vec::new());
    assert_eq!(state(&upload), "empty");
    assert!(upload.commit(&store).is_none());
    assert_eq!(state(&upload), "empty");
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn a_streamed_upload_loads_at_commit_and_commit_is_idempotent() {
    let (_dir, source, record) = store_with_image();
    let bytes = archive_bytes(&source, &record);
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), vec![platform("linux/arm64")]);
    let mut offset = 0;
    for chunk in bytes.chunks(1000) {
        assert_eq!(
            upload.write(&store, offset, chunk).unwrap() as usize,
            chunk.len()
        );
        offset += chunk.len() as u64;
    }
    assert_eq!(state(&upload), "receiving");
    assert_eq!(upload.meta().size, bytes.len() as u64);
    let loaded = upload.commit(&store).unwrap().unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].platforms, vec![platform("linux/arm64")]);
    assert_eq!(state(&upload), "loaded");
    let status = upload.status();
    assert_eq!(status.images[0].outcome, "added");
    assert_eq!(status.bytes_processed, bytes.len() as u64);
    // A second close (another flush) reports the same outcome and imports nothing again.
    assert_eq!(upload.commit(&store).unwrap().unwrap(), loaded);
    assert_eq!(store.images().unwrap().len(), 1);
}

#[test]
fn a_streamed_upload_refuses_writes_out_of_order() {
    let (_dir, source, record) = store_with_image();
    let bytes = archive_bytes(&source, &record);
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), Vec::new());
    upload.write(&store, 0, &bytes[..512]).unwrap();
    let err = upload.write(&store, 1024, &bytes[1024..1536]).unwrap_err();
    assert_eq!(err.errno(), Errno::ESPIPE, "{err}");
    // Streaming has begun: only the bytes in order can follow, and truncation is refused.
    assert!(upload.truncate(0).is_err());
    upload.write(&store, 512, &bytes[512..]).unwrap();
    assert!(upload.commit(&store).unwrap().is_ok());
}

#[test]
fn an_upload_written_out_of_order_is_spooled_and_imported_at_commit() {
    let (_dir, source, record) = store_with_image();
    let bytes = archive_bytes(&source, &record);
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), Vec::new());
    let half = bytes.len() / 2;
    // Second half first (a parallel copier): nothing can be streamed yet.
    upload.write(&store, half as u64, &bytes[half..]).unwrap();
    assert_eq!(state(&upload), "receiving");
    assert_eq!(upload.meta().size, bytes.len() as u64);
    upload.write(&store, 0, &bytes[..half]).unwrap();
    assert!(store.images().unwrap().is_empty(), "imported before close");
    let loaded = upload.commit(&store).unwrap().unwrap();
    assert_eq!(loaded[0].digest, record.target.digest);
    assert_eq!(state(&upload), "loaded");
}

#[test]
fn a_spooled_upload_may_be_truncated() {
    let (_dir, source, record) = store_with_image();
    let bytes = archive_bytes(&source, &record);
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), Vec::new());
    upload.write(&store, 10, b"junk").unwrap();
    upload.truncate(0).unwrap();
    assert_eq!(upload.meta().size, 0);
    upload.write(&store, 0, &bytes).unwrap();
    assert!(upload.commit(&store).unwrap().is_ok());
}

#[test]
fn a_failed_upload_says_why_and_refuses_more_data() {
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), Vec::new());
    upload.write(&store, 0, &[0x42; 2048]).unwrap_or(0);
    let outcome = upload.commit(&store).unwrap();
    assert!(outcome.is_err());
    assert_eq!(state(&upload), "failed");
    assert!(upload.status().error.is_some());
    let size = upload.meta().size;
    let err = upload.write(&store, size, b"more").unwrap_err();
    // The import's own refusal, not a complaint about the offset.
    assert_ne!(err.errno(), Errno::ESPIPE, "{err}");
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn reset_starts_a_finished_upload_over_and_leaves_others_alone() {
    let (_dir, source, record) = store_with_image();
    let bytes = archive_bytes(&source, &record);
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), Vec::new());
    upload.write(&store, 0, &bytes[..512]).unwrap();
    upload.reset();
    assert_eq!(
        state(&upload),
        "receiving",
        "reset must not abandon an import in flight"
    );
    upload.write(&store, 512, &bytes[512..]).unwrap();
    upload.commit(&store).unwrap().unwrap();
    upload.reset();
    assert_eq!(state(&upload), "empty");
    assert_eq!(upload.meta().size, 0);
    assert_eq!(upload.status().bytes_processed, 0);
    // `cp` onto the same name again: a new import, from offset 0.
    upload.write(&store, 0, &bytes).unwrap();
    assert!(upload.commit(&store).unwrap().is_ok());
}

#[test]
fn an_upload_keeps_its_name_and_platforms_in_its_status() {
    let upload = Upload::new(10, "a.tar".into(), vec![platform("linux/arm/v7")]);
    upload.rename("b.tar");
    let status = upload.status();
    assert_eq!(status.name, "b.tar");
    assert_eq!(status.platforms, vec!["linux/arm/v7".to_string()]);
    assert_eq!(status.bytes_written, 0);
}
