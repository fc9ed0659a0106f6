//! Unit tests of uploads into `import/`: the states an upload goes through, streamed and
//! spooled, and what its status says.

use fuser::Errno;

use super::*;
use crate::fs::fixtures::{archive_bytes, platform, store_with_image, temp_store};

/// The upload's state as its status file shows it.
fn state(upload: &Upload) -> UploadState {
    upload.status().state
}

// --- uploads --------------------------------------------------------------------------------

#[test]
fn an_upload_nobody_wrote_commits_nothing() {
    let (_dir, store) = temp_store();
    let upload = Upload::new(10, "x.tar".into(), Vec::new());
    assert_eq!(state(&upload), UploadState::Empty);
    assert!(upload.commit(&store).is_none());
    assert_eq!(state(&upload), UploadState::Empty);
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
    assert_eq!(state(&upload), UploadState::Receiving);
    assert_eq!(upload.meta().size, bytes.len() as u64);
    let loaded = upload.commit(&store).unwrap().unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].platforms, vec![platform("linux/arm64")]);
    assert_eq!(state(&upload), UploadState::Loaded);
    let status = upload.status();
    assert_eq!(status.images[0].outcome, LoadedOutcome::Added);
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
    assert_eq!(state(&upload), UploadState::Receiving);
    assert_eq!(upload.meta().size, bytes.len() as u64);
    upload.write(&store, 0, &bytes[..half]).unwrap();
    assert!(store.images().unwrap().is_empty(), "imported before close");
    let loaded = upload.commit(&store).unwrap().unwrap();
    assert_eq!(loaded[0].digest, record.target.digest);
    assert_eq!(state(&upload), UploadState::Loaded);
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
    assert_eq!(state(&upload), UploadState::Failed);
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
        UploadState::Receiving,
        "reset must not abandon an import in flight"
    );
    upload.write(&store, 512, &bytes[512..]).unwrap();
    upload.commit(&store).unwrap().unwrap();
    upload.reset();
    assert_eq!(state(&upload), UploadState::Empty);
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

#[test]
fn outcomes_keep_the_status_file_spelling() {
    let spelled = [
        (LoadedOutcome::Added, "added"),
        (LoadedOutcome::Unchanged, "unchanged"),
        (LoadedOutcome::AlreadyPart, "already-part"),
        (LoadedOutcome::Moved, "moved"),
    ];
    for (outcome, text) in spelled {
        assert_eq!(serde_json::to_value(outcome).unwrap(), text);
    }
}
