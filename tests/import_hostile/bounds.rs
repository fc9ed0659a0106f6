//! Hostile input stays bounded: metadata bombs (GNU long names and links, PAX headers) are
//! refused with bounded memory by the CLI and by the mount daemon, documents and the store's
//! `index.json` stay under their caps (and a store index written over the cap by an older build
//! opens and is repaired), and entry paths stay under PATH_MAX and a total.

use super::*;

#[track_caller]
fn assert_bomb_bounded(kind: tar::EntryType, needles: &[&str]) {
    // The whole test: returning here skips it.
    needs!("/usr/bin/time");
    let (_src, entries) = base();
    let f = Fixture::new();
    let before = snapshot(f.root());
    let bomb = f.path("bomb.tar.gz");
    write_meta_bomb(&bomb, kind, &write_tar(&entries));
    eprintln!(
        "bomb: {} bytes of gzip",
        std::fs::metadata(&bomb).expect("stat").len()
    );
    let (stderr, rss_kib, imported) = cli_import_measured(&f, &bomb);
    assert!(rss_kib < 200 << 10, "max RSS {rss_kib} KiB: not bounded");
    assert!(!imported, "the bomb imported: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{stderr:?} lacks {n:?}");
    }
    assert_unchanged(&f.store, &before);
}

#[test]
fn import_refuses_gnu_long_name_bomb_with_bounded_memory() {
    assert_bomb_bounded(
        tar::EntryType::GNULongName,
        &[
            "GNU long name",
            "1073741824 bytes",
            "limit of 65536 bytes",
            "at the first header",
        ],
    );
}

#[test]
fn import_refuses_gnu_long_link_bomb_with_bounded_memory() {
    assert_bomb_bounded(
        tar::EntryType::GNULongLink,
        &["GNU long link", "limit of 65536 bytes"],
    );
}

#[test]
fn import_refuses_pax_header_bomb_with_bounded_memory() {
    assert_bomb_bounded(
        tar::EntryType::XHeader,
        &["PAX extended header", "limit of 1048576 bytes"],
    );
}

#[test]
fn import_rejects_docker_archive_whose_generated_manifest_exceeds_the_document_limit() {
    let src = Fixture::new();
    add(&src.store, &small_spec("alpine", &["linux/amd64"]));
    let mut entries = read_tar(&export(&src.store, &["alpine"], &["linux/amd64"]));
    // A docker-archive only: manifest.json and the blobs it names.
    entries.retain(|e| e.name != "index.json" && e.name != "oci-layout");
    let manifest = entries
        .iter_mut()
        .find(|e| e.name == "manifest.json")
        .expect("manifest.json");
    let mut doc = json(&manifest.data);
    let layer = doc[0]["Layers"][0].clone();
    // 200,000 mentions of one layer: 16 MB of manifest.json, a 30 MB generated manifest.
    doc[0]["Layers"] = serde_json::Value::Array(vec![layer; 200_000]);
    manifest.data = serde_json::to_vec(&doc).expect("encode");
    assert!(manifest.data.len() < 20 << 20);
    assert_rejected(
        &write_tar(&entries),
        &[],
        &[
            "manifest generated for image alpine:latest from manifest.json",
            "exceeds the 20971520-byte limit",
        ],
    );
}

/// The archive with `value` as an extra annotation of its (first) `index.json` entry.
fn with_index_annotation(mut entries: Vec<Entry>, value: &str) -> Vec<Entry> {
    let index = index_entry(&mut entries);
    let mut doc = json(&index.data);
    doc["manifests"][0]["annotations"]["org.example.note"] = value.into();
    index.data = serde_json::to_vec(&doc).expect("encode");
    entries
}

#[test]
fn import_rejects_annotations_over_the_per_image_record_limit() {
    let (_src, entries) = base();
    // 4 MiB of `<`, which the store's Go-style JSON writes as `\u003c`: 24 MiB, over the 20 MiB
    // every reader of index.json (ours before, containerd's) accepts.
    let entries = with_index_annotation(entries, &"<".repeat(4 << 20));
    assert_rejected(
        &write_tar(&entries),
        &[],
        &[
            "image docker.io/library/alpine:latest",
            "25166",
            "over the limit of 65536 bytes per image",
        ],
    );
    // Annotations within the limit are kept.
    let (_src, entries) = base();
    let f = Fixture::new();
    import_bytes(
        &f.store,
        &write_tar(&with_index_annotation(entries, &"<".repeat(4000))),
        &[],
    )
    .expect("import with a 4000-byte annotation");
    let record = find(&f.store, "alpine").remove(0);
    assert_eq!(record.target.annotations["org.example.note"].len(), 4000);
}

#[test]
fn import_rejects_growing_the_store_index_past_its_cap() {
    use imagefs::oci::Descriptor;
    use imagefs::store::{ImageRecord, MAX_INDEX_SIZE, StoreError};
    let (_src, entries) = base();
    let bytes = write_tar(&entries);
    let f = Fixture::new();
    // Fill index.json to 100 bytes under its cap with one digest-only record.
    let filler = |len: usize| {
        let mut d = Descriptor::new("application/octet-stream", Digest::of(b"filler"), 1);
        d.annotations.insert("pad".into(), "a".repeat(len));
        ImageRecord::unnamed(d)
    };
    f.store
        .update_images(|images| {
            images.push(filler(0));
            Ok(())
        })
        .expect("add filler");
    let base_len = std::fs::metadata(f.root().join("index.json"))
        .expect("stat")
        .len();
    let pad = (MAX_INDEX_SIZE - 100 - base_len) as usize;
    f.store
        .update_images(|images| {
            images[0] = filler(pad);
            Ok(())
        })
        .expect("grow filler to just under the cap");
    assert_eq!(
        std::fs::metadata(f.root().join("index.json"))
            .expect("stat")
            .len(),
        MAX_INDEX_SIZE - 100
    );
    let before = snapshot(f.root());
    for via_file in [false, true] {
        let result = if via_file {
            let path = f.dir.path().join("a.tar");
            std::fs::write(&path, &bytes).expect("write");
            import_path(&f.store, &path, &[])
        } else {
            import_bytes(&f.store, &bytes, &[])
        };
        let err = imagefs::error::chain(&result.expect_err("import past the cap"));
        assert!(
            err.contains("image docker.io/library/alpine:latest")
                && err.contains("index.json would grow to")
                && err.contains("limit of 50331648 bytes"),
            "{err}"
        );
        assert_unchanged(&f.store, &before);
    }
    // The store's own writer refuses too, whoever calls it.
    let grow = f.store.update_images(|images| {
        let mut d = Descriptor::new("application/octet-stream", Digest::of(b"x"), 1);
        d.annotations.insert("pad".into(), "b".repeat(200));
        images.push(ImageRecord::unnamed(d));
        Ok(())
    });
    assert!(
        matches!(grow, Err(StoreError::IndexTooLarge { .. })),
        "{grow:?}"
    );
    // Shrinking an over-full list is always allowed.
    f.store
        .update_images(|images| {
            images.clear();
            Ok(())
        })
        .expect("remove the filler");
}

#[test]
fn store_index_written_over_the_document_limit_opens_and_fsck_repair_shrinks_it() {
    let f = Fixture::new();
    add(
        &f.store,
        &small_spec("alpine", &["linux/amd64", "linux/arm64"]),
    );
    let index_path = f.root().join("index.json");
    // What an older build wrote for the 4 MiB-of-`<` archive: a 24 MiB index.json.
    let mut doc = json(&std::fs::read(&index_path).expect("read index.json"));
    let digest = doc["manifests"][0]["digest"].clone();
    doc["manifests"][0]["annotations"]["org.example.note"] = "<".repeat(4 << 20).into();
    let bricked = text(&serde_json::to_vec(&doc).expect("encode")).replace('<', "\\u003c");
    assert!(bricked.len() > 20 << 20);
    std::fs::write(&index_path, bricked).expect("write index.json");

    let run = |args: &[&str]| cli(f.root(), args);
    let listed = text(&ok(run(&["ls"])));
    assert!(listed.contains("alpine"), "{listed}");
    let fsck = run(&["fsck"]);
    assert!(!fsck.status.success());
    let report = text(&fsck.stdout);
    assert!(
        report.contains("index.json record of docker.io/library/alpine:latest is 25166")
            && report.contains("over the 65536-byte limit")
            && report.contains("fsck --repair"),
        "{report}"
    );
    let repaired = text(&ok(run(&["fsck", "--repair"])));
    assert!(
        repaired.contains("repaired index.json record of docker.io/library/alpine:latest")
            && repaired.contains("dropped 1 annotations")
            && repaired.contains("no problems"),
        "{repaired}"
    );
    let after = json(&std::fs::read(&index_path).expect("read index.json"));
    assert!(std::fs::metadata(&index_path).expect("stat").len() < 64 << 10);
    assert_eq!(after["manifests"][0]["digest"], digest);
    assert_eq!(
        after["manifests"][0]["annotations"]["io.containerd.image.name"],
        "docker.io/library/alpine:latest"
    );
    let listed = text(&ok(run(&["ls"])));
    assert!(
        listed.contains("linux/amd64") && listed.contains("linux/arm64"),
        "{listed}"
    );
    assert_eq!(ok(run(&["fsck", "--repair"])), ok(run(&["fsck"])));
}

#[test]
fn mount_daemon_refuses_gnu_long_name_bomb_with_bounded_memory() {
    needs!("fuse");
    let (_src, entries) = base();
    let f = Fixture::new();
    let before = snapshot(f.root());
    let bomb = f.path("bomb.tar.gz");
    write_meta_bomb(&bomb, tar::EntryType::GNULongName, &write_tar(&entries));
    let mut mount = Mount::start(f.root(), &f.path("mnt"), &f.path("mount.log"));
    let cp = output(
        std::process::Command::new("cp")
            .arg(&bomb)
            .arg(mount.path("import/")),
    );
    let status = std::fs::read_to_string(mount.path("import/.status/bomb.tar.gz.json"));
    let peak = peak_rss_kib(mount.pid.expect("daemon pid"));
    eprintln!("daemon peak RSS {peak} KiB");
    mount.unmount();
    assert!(peak < 200 << 10, "daemon peak RSS {peak} KiB: not bounded");
    assert!(!cp.status.success(), "cp of the bomb succeeded");
    let status = status.expect("import/.status/bomb.tar.gz.json");
    assert!(
        status.contains("GNU long name") && status.contains("limit of 65536 bytes"),
        "{status}"
    );
    // The mount's lock files aside, the store is as before.
    assert_unchanged(&f.store, &before);
}

#[test]
fn import_rejects_entry_path_over_path_max() {
    let (_src, entries) = base();
    let mut bytes = Vec::new();
    long_named_symlink(&mut bytes, &[b'a'; 5000]);
    bytes.extend(write_tar(&entries));
    assert_rejected(
        &bytes,
        &[],
        &["entry path of 5000 bytes exceeds the limit of 4096 bytes"],
    );
}

#[test]
fn import_rejects_entry_names_adding_up_past_the_limit() {
    let (_src, entries) = base();
    let mut bytes = Vec::new();
    // 4,200 distinct 4,000-byte paths: 16.8 MB of names, each one within PATH_MAX.
    for i in 0..4200 {
        let mut name = format!("{i:06}/").into_bytes();
        name.resize(4000, b'n');
        long_named_symlink(&mut bytes, &name);
    }
    bytes.extend(write_tar(&entries));
    assert_rejected(
        &bytes,
        &[],
        &["paths and link targets add up to more than 16777216 bytes"],
    );
}
