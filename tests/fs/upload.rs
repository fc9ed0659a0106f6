//! The upload lifecycle in `import/`: create, write, flush from the opener, release; the status
//! file through every state; platform directories filtering what is loaded; bad archives failing
//! at close with the store unchanged; out-of-order (spooled), rejected and abandoned writers.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use imagefs::fs::{FsError, ImageFs};
use imagefs::sample::SampleSpec;
use imagefs::store::Store;

use super::{Mount, OWNER, errno_of, ino, lookup, lookup_as, read_all};
use crate::common::{self, Fixture, add, assert_unchanged, export, small_spec, snapshot};

const NEW: &str = "example.com/up/new:1";

/// An archive of an image the mount's store does not hold: `THREE`'s platforms, another seed.
fn archive_of(name: &str, seed: u64) -> Vec<u8> {
    let src = Fixture::new();
    add(
        &src.store,
        &SampleSpec {
            seed,
            ..small_spec(name, &common::THREE)
        },
    );
    export(&src.store, &[name], &[])
}

/// Creates `dir/name` (dir "" is `import/` itself) and returns the new file's handle.
fn create(fs: &ImageFs, dir: &str, name: &str) -> u64 {
    let parent = ino(fs, &format!("import/{dir}"));
    let (attr, opened) = fs
        .create(
            parent,
            OsStr::new(name),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            &OWNER,
        )
        .expect("create");
    assert_eq!((attr.perm, attr.size), (0o200, 0));
    // Never cached: the file's bytes are consumed, not kept.
    assert!(opened.direct_io && !opened.keep_cache, "{opened:?}");
    opened.fh
}

/// Writes `bytes` from offset 0 in requests of `chunk` bytes.
fn write_all(fs: &ImageFs, fh: u64, bytes: &[u8], chunk: usize) -> Result<(), FsError> {
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        let n = fs.write(fh, (i * chunk) as u64, piece)?;
        assert_eq!(n as usize, piece.len());
    }
    Ok(())
}

/// `cp bytes import/dir/name`: create, write, close (flush from the opener, then release).
/// Returns what close(2) would: the flush's result.
fn upload(fs: &ImageFs, dir: &str, name: &str, bytes: &[u8]) -> Result<(), FsError> {
    let fh = create(fs, dir, name);
    let wrote = write_all(fs, fh, bytes, 128 << 10);
    let closed = fs.flush(fh, OWNER.pid);
    fs.release(fh).expect("release");
    wrote.and(closed)
}

fn status(fs: &ImageFs, dir: &str, name: &str) -> serde_json::Value {
    let path = format!("import/{dir}/.status/{name}.json");
    common::json(&read_all(fs, &path))
}

/// The platforms the store holds completely for `name` (read from the store, not the mount).
fn stored(store: &Store, name: &str) -> Vec<String> {
    common::manifest_digests(store, name).into_keys().collect()
}

/// `common::THREE` as the store reports it, normalised (arm64's default variant v8 dropped).
fn all_three() -> Vec<String> {
    vec![
        "linux/amd64".into(),
        "linux/arm64".into(),
        "linux/riscv64".into(),
    ]
}

#[test]
fn an_upload_goes_from_empty_to_receiving_to_loaded_and_commits_at_the_openers_flush() {
    let m = Mount::start();
    let bytes = archive_of(NEW, 7);
    let fh = create(&m.fs, "", "new.tar");
    let s = status(&m.fs, "", "new.tar");
    assert_eq!(
        (s["state"].as_str(), s["bytes_written"].as_u64()),
        (Some("empty"), Some(0))
    );
    // `dd of=` and shell `>` flush before any data: that only passes.
    m.fs.flush(fh, OWNER.pid).expect("early flush");
    assert_eq!(status(&m.fs, "", "new.tar")["state"], "empty");
    let half = bytes.len() / 2;
    write_all(&m.fs, fh, &bytes[..half], 1000).expect("first half");
    let s = status(&m.fs, "", "new.tar");
    assert_eq!(s["state"], "receiving");
    assert_eq!(s["bytes_written"].as_u64(), Some(half as u64));
    assert_eq!(lookup(&m.fs, "import/new.tar").size, half as u64);
    // A flush from another process (a dup'd descriptor in a child) does not commit.
    m.fs.flush(fh, OWNER.pid + 1).expect("foreign flush");
    assert_eq!(status(&m.fs, "", "new.tar")["state"], "receiving");
    for (i, piece) in bytes[half..].chunks(777).enumerate() {
        m.fs.write(fh, (half + i * 777) as u64, piece)
            .expect("write");
    }
    m.fs.flush(fh, OWNER.pid)
        .expect("the import commits at close");
    let s = status(&m.fs, "", "new.tar");
    assert_eq!(s["state"], "loaded", "{s}");
    assert_eq!(s["bytes_written"].as_u64(), Some(bytes.len() as u64));
    assert!(s["bytes_processed"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(s["images"][0]["name"], NEW);
    assert_eq!(s["images"][0]["outcome"], "added");
    assert_eq!(
        s["images"][0]["platforms"].as_array().unwrap().len(),
        3,
        "{s}"
    );
    assert!(s.get("error").is_none(), "{s}");
    // Committed before release: close(2) already told the writer.
    assert_eq!(stored(m.store(), NEW), all_three());
    m.fs.release(fh).expect("release");
    assert_eq!(errno_of(m.fs.release(fh)), libc::EBADF);
    let statuses = m.fs.upload_statuses();
    assert_eq!(statuses.len(), 1);
    // Compared as the status file shows it, whatever type holds the state.
    let listed = serde_json::to_value(&statuses[0]).expect("status serializes");
    assert_eq!(
        (&listed["name"], &listed["state"]),
        (&s["name"], &s["state"])
    );
    assert_eq!(listed["name"], "new.tar");
    // Importing the same archive again changes no name.
    upload(&m.fs, "", "again.tar", &bytes).expect("import again");
    assert_eq!(
        status(&m.fs, "", "again.tar")["images"][0]["outcome"],
        "unchanged"
    );
}

#[test]
fn platform_directories_load_only_their_platforms() {
    let m = Mount::start();
    upload(&m.fs, "linux-arm64", "a.tar", &archive_of(NEW, 7)).expect("import arm64");
    assert_eq!(stored(m.store(), NEW), ["linux/arm64"]);
    let s = status(&m.fs, "linux-arm64", "a.tar");
    assert_eq!(s["platforms"], serde_json::json!(["linux/arm64"]), "{s}");
    // Several joined by '+', and an alias spelling of one.
    let two = "example.com/up/two:1";
    upload(
        &m.fs,
        "linux-amd64+linux-riscv64",
        "b.tar",
        &archive_of(two, 8),
    )
    .expect("import 2");
    assert_eq!(stored(m.store(), two), ["linux/amd64", "linux/riscv64"]);
    let alias = "example.com/up/alias:1";
    upload(&m.fs, "linux-aarch64", "c.tar", &archive_of(alias, 9)).expect("import alias");
    assert_eq!(stored(m.store(), alias), ["linux/arm64"]);
    // A later import of another platform into the same image adds it (the name stays).
    upload(&m.fs, "linux-riscv64", "d.tar", &archive_of(NEW, 7)).expect("import riscv64");
    assert_eq!(stored(m.store(), NEW), ["linux/arm64", "linux/riscv64"]);
    // The status directory of each platform directory lists its own uploads only.
    assert_eq!(
        super::names(&m.fs, "import/linux-arm64/.status", &OWNER),
        ["a.tar.json"]
    );
}

#[test]
fn a_platform_the_archive_lacks_fails_close_with_einval_and_changes_nothing() {
    let m = Mount::start();
    let bytes = archive_of(NEW, 7);
    let before = snapshot(m.fx.root());
    let r = upload(&m.fs, "linux-s390x", "x.tar", &bytes);
    assert_eq!(errno_of(r), libc::EINVAL);
    let s = status(&m.fs, "linux-s390x", "x.tar");
    assert_eq!(s["state"], "failed");
    assert!(s["error"].as_str().unwrap().contains("s390x"), "{s}");
    // Every platform asked for must be there: one present and one absent also fails.
    let r = upload(&m.fs, "linux-amd64+linux-s390x", "y.tar", &bytes);
    assert_eq!(errno_of(r), libc::EINVAL);
    assert_unchanged(m.store(), &before);
}

#[test]
fn a_bad_or_truncated_archive_fails_close_with_einval_and_leaves_the_store_unchanged() {
    let m = Mount::start();
    let bytes = archive_of(NEW, 7);
    let before = snapshot(m.fx.root());
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    for (name, data) in [
        ("garbage.tar", &garbage[..]),
        ("truncated.tar", &bytes[..bytes.len() / 3]),
    ] {
        // The importer may reject garbage while it is still being written (the write fails,
        // with the same errno); otherwise close does.
        let fh = create(&m.fs, "", name);
        let wrote = write_all(&m.fs, fh, data, 4096);
        let closed = m.fs.flush(fh, OWNER.pid);
        m.fs.release(fh).expect("release");
        let err = wrote.err().or(closed.err()).expect("a bad archive fails");
        assert_eq!(err.errno().code(), libc::EINVAL, "{name}: {err:?}");
        let s = status(&m.fs, "", name);
        assert_eq!(s["state"], "failed", "{name}");
        assert!(!s["error"].as_str().unwrap().is_empty(), "{name}");
    }
    assert_unchanged(m.store(), &before);
}

#[test]
fn writes_after_the_importer_rejected_the_stream_fail_with_its_errno() {
    let m = Mount::start();
    let fh = create(&m.fs, "", "bad.tar");
    let block = vec![b'x'; 4096];
    // The importer thread reads the first block, rejects it and stops: a later write finds the
    // stream closed and reports the import's failure (ImportRejected, EINVAL).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut offset = 0u64;
    let rejected = loop {
        match m.fs.write(fh, offset, &block) {
            Ok(n) => offset += n as u64,
            Err(e) => break e,
        }
        assert!(
            Instant::now() < deadline,
            "the importer never rejected the stream"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        matches!(rejected, FsError::ImportRejected(_)),
        "{rejected:?}"
    );
    assert_eq!(rejected.errno().code(), libc::EINVAL);
    // So does close, and every write after it.
    assert_eq!(errno_of(m.fs.flush(fh, OWNER.pid)), libc::EINVAL);
    let again = m.fs.write(fh, offset, &block).expect_err("still rejected");
    assert!(matches!(again, FsError::ImportRejected(_)), "{again:?}");
    m.fs.release(fh).expect("release");
    assert_eq!(status(&m.fs, "", "bad.tar")["state"], "failed");
}

#[test]
fn a_stream_refuses_a_write_off_its_end_with_espipe_and_goes_on() {
    let m = Mount::start();
    let bytes = archive_of(NEW, 7);
    let fh = create(&m.fs, "", "s.tar");
    m.fs.write(fh, 0, &bytes[..1000]).expect("write");
    for off in [0, 999, 1001, 5000] {
        let e = m.fs.write(fh, off, &bytes[..10]).expect_err("off the end");
        assert!(
            matches!(e, FsError::NonSequentialWrite { expected: 1000, .. }),
            "{e:?}"
        );
        assert_eq!(e.errno().code(), libc::ESPIPE);
    }
    for (i, piece) in bytes[1000..].chunks(1000).enumerate() {
        m.fs.write(fh, 1000 + (i * 1000) as u64, piece)
            .expect("write");
    }
    m.fs.flush(fh, OWNER.pid).expect("flush");
    m.fs.release(fh).expect("release");
    assert_eq!(stored(m.store(), NEW), all_three());
}

#[test]
fn writes_out_of_order_are_spooled_and_imported_at_close() {
    let m = Mount::start();
    let bytes = archive_of(NEW, 7);
    let fh = create(&m.fs, "linux-amd64", "spooled.tar");
    let half = bytes.len() / 2;
    // The second half first, then the first: the file is collected, then imported.
    m.fs.write(fh, half as u64, &bytes[half..])
        .expect("second half");
    assert_eq!(
        status(&m.fs, "linux-amd64", "spooled.tar")["state"],
        "receiving"
    );
    m.fs.write(fh, 0, &bytes[..half]).expect("first half");
    m.fs.flush(fh, OWNER.pid).expect("flush");
    m.fs.release(fh).expect("release");
    assert_eq!(
        status(&m.fs, "linux-amd64", "spooled.tar")["state"],
        "loaded"
    );
    assert_eq!(stored(m.store(), NEW), ["linux/amd64"]);
    assert_eq!(common::ingest_leftovers(m.store()), Vec::<String>::new());
}

#[test]
fn a_second_writer_refused_at_its_first_write_neither_commits_nor_ends_the_import() {
    let m = Mount::start();
    let bytes = archive_of(NEW, 7);
    let first = create(&m.fs, "", "one.tar");
    m.fs.write(first, 0, &bytes[..2048]).expect("write");
    let file = ino(&m.fs, "import/one.tar");
    let second = m.fs.open(file, libc::O_WRONLY, &OWNER).expect("open").fh;
    assert_eq!(errno_of(m.fs.write(second, 0, &bytes[..10])), libc::ESPIPE);
    // Its close, from its own process, passes and commits nothing.
    m.fs.flush(second, OWNER.pid + 7).expect("flush");
    m.fs.flush(second, OWNER.pid).expect("flush");
    m.fs.release(second).expect("release");
    assert_eq!(status(&m.fs, "", "one.tar")["state"], "receiving");
    for (i, piece) in bytes[2048..].chunks(4096).enumerate() {
        m.fs.write(first, 2048 + (i * 4096) as u64, piece)
            .expect("write");
    }
    m.fs.flush(first, OWNER.pid).expect("flush");
    m.fs.release(first).expect("release");
    assert_eq!(status(&m.fs, "", "one.tar")["state"], "loaded");
}

#[test]
fn a_writer_that_never_flushes_is_committed_at_release() {
    let m = Mount::start();
    let bytes = archive_of(NEW, 7);
    // Whole archive, no flush (the writer forked and its child closed last): loaded.
    let fh = create(&m.fs, "", "whole.tar");
    write_all(&m.fs, fh, &bytes, 8192).expect("write");
    m.fs.release(fh).expect("release");
    assert_eq!(status(&m.fs, "", "whole.tar")["state"], "loaded");
    // Half of one (the writer was killed): the truncated stream is rejected at release.
    let other = "example.com/up/killed:1";
    let before = snapshot(m.fx.root());
    let killed = archive_of(other, 11);
    let fh = create(&m.fs, "", "killed.tar");
    write_all(&m.fs, fh, &killed[..killed.len() / 2], 8192).expect("write");
    m.fs.release(fh)
        .expect("release reports nothing: no one would read it");
    let s = status(&m.fs, "", "killed.tar");
    assert_eq!(s["state"], "failed", "{s}");
    assert_unchanged(m.store(), &before);
}

#[test]
fn opening_a_finished_upload_for_writing_starts_a_new_import() {
    let m = Mount::start();
    upload(&m.fs, "", "same.tar", &archive_of(NEW, 7)).expect("first");
    let file = ino(&m.fs, "import/same.tar");
    let fh =
        m.fs.open(file, libc::O_WRONLY | libc::O_TRUNC, &OWNER)
            .expect("reopen");
    let s = status(&m.fs, "", "same.tar");
    assert_eq!(
        (s["state"].as_str(), s["bytes_written"].as_u64()),
        (Some("empty"), Some(0))
    );
    let other = "example.com/up/second:1";
    write_all(&m.fs, fh.fh, &archive_of(other, 12), 65536).expect("write");
    m.fs.flush(fh.fh, OWNER.pid).expect("flush");
    m.fs.release(fh.fh).expect("release");
    let s = status(&m.fs, "", "same.tar");
    assert_eq!(s["images"][0]["name"], other, "{s}");
    // Reading it back is refused, even for root: the bytes went into the store.
    assert_eq!(
        errno_of(m.fs.open(file, libc::O_RDONLY, &super::ROOT)),
        libc::EACCES
    );
}

/// `cp x.tar import/ && ls images/…`: what close(2) loaded is there when close returns, even
/// right after a look that found it missing (the catalog the mount holds is then fresh).
#[test]
fn an_import_is_under_images_when_close_returns() {
    let m = Mount::start();
    let dir = "images/example.com/up/new:1";
    assert_eq!(errno_of(lookup_as(&m.fs, dir, &OWNER)), libc::ENOENT);
    upload(&m.fs, "", "n.tar", &archive_of(NEW, 7)).expect("import");
    lookup_as(&m.fs, dir, &OWNER).expect("the image right after close");
    assert!(super::names(&m.fs, "images/example.com/up", &OWNER).contains(&"new:1".to_string()));
    // Committed at release (a writer that never flushed): the same.
    let other = "images/example.com/up/late:1";
    assert_eq!(errno_of(lookup_as(&m.fs, other, &OWNER)), libc::ENOENT);
    let fh = create(&m.fs, "", "late.tar");
    write_all(&m.fs, fh, &archive_of("example.com/up/late:1", 9), 8192).expect("write");
    m.fs.release(fh).expect("release");
    lookup_as(&m.fs, other, &OWNER).expect("the image right after the last close");
}

#[test]
fn the_images_tree_follows_imports_and_removals_within_a_second() {
    let m = Mount::start();
    let dir = "images/example.com/up/new:1";
    // Looked at first, so the catalog the mount holds is one without the image.
    assert_eq!(errno_of(lookup_as(&m.fs, dir, &OWNER)), libc::ENOENT);
    upload(&m.fs, "linux-riscv64", "n.tar", &archive_of(NEW, 7)).expect("import");
    let until = |want_present: bool| {
        let deadline = Instant::now() + Duration::from_secs(3);
        while lookup_as(&m.fs, dir, &OWNER).is_ok() != want_present {
            assert!(
                Instant::now() < deadline,
                "{dir} present={want_present} never seen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until(true);
    assert_eq!(
        super::names(&m.fs, &format!("{dir}/by-platform"), &OWNER),
        ["linux-riscv64", "linux-riscv64.tar"]
    );
    // `imagefs rm` as the CLI does it: the name leaves index.json.
    m.store()
        .update_images(|images| {
            images.retain(|r| r.name().is_none_or(|n| n.to_string() != NEW));
            Ok(())
        })
        .expect("rm");
    until(false);
}
