//! Store and naming claims of doc/SEMANTICS.md that the archive tests do not cover: repository
//! exports, naming on import, corrupt stored blobs, and the locks that keep concurrent writers
//! and `gc` from losing each other's work.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;
use imagefs::gc;
use imagefs::oci::{ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use imagefs::reference::Reference;
use imagefs::store::ImageRecord;

#[test]
fn export_of_a_repository_name_exports_every_tag() {
    let f = Fixture::new();
    let a = add(&f.store, &small_spec("alpine:3.19", &["linux/amd64"]));
    let mut newer = small_spec("alpine:3.20", &["linux/amd64"]);
    newer.seed = 2;
    let b = add(&f.store, &newer);
    let mut other = small_spec("busybox", &["linux/amd64"]);
    other.seed = 3;
    add(&f.store, &other);

    let entries = read_tar(&export(&f.store, &["alpine"], &[]));
    let index = json(&entry(&entries, "index.json").data);
    let names: Vec<(String, String)> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            let name = m["annotations"][ANNOTATION_IMAGE_NAME]
                .as_str()
                .expect("name");
            (
                name.to_string(),
                m["digest"].as_str().expect("digest").to_string(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (
                "docker.io/library/alpine:3.19".to_string(),
                a.digest.to_string()
            ),
            (
                "docker.io/library/alpine:3.20".to_string(),
                b.digest.to_string()
            ),
        ]
    );
}

#[test]
fn export_fails_on_a_corrupt_stored_blob_and_leaves_no_file() {
    let f = Fixture::new();
    add(&f.store, &small_spec("alpine", &["linux/amd64"]));
    let (_, closure) = platform_closure(&f.store, "alpine", "linux/amd64");
    // Same length, different bytes: only re-hashing while copying can notice.
    let layer = f.store.blob_path(closure.last().expect("a layer"));
    let mut bytes = std::fs::read(&layer).expect("read layer");
    bytes[0] ^= 0xff;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&layer, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(&layer, &bytes).expect("corrupt layer");

    let target = f.path("out.tar");
    let out = output(
        imagefs(f.root())
            .args(["export", "alpine", "-o"])
            .arg(&target),
    );
    fails_with(&out, "corrupt");
    assert!(
        !target.exists(),
        "a failed export left {}",
        target.display()
    );
    let leftovers: Vec<_> = std::fs::read_dir(f.dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".imagefs-export-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// Rewrites the single `index.json` entry's annotations of an exported archive.
fn with_annotations(archive: &[u8], annotations: &[(&str, &str)]) -> Vec<u8> {
    let mut entries = read_tar(archive);
    let index = entries
        .iter_mut()
        .find(|e| e.name == "index.json")
        .expect("index.json");
    let mut doc = json(&index.data);
    let map: serde_json::Map<String, serde_json::Value> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    doc["manifests"][0]["annotations"] = serde_json::Value::Object(map);
    index.data = serde_json::to_vec(&doc).expect("encode");
    write_tar(&entries)
}

#[test]
fn import_names_come_from_annotations_and_bare_tags_are_stored_by_digest() {
    let source = Fixture::new();
    let target = add(&source.store, &small_spec("alpine", &["linux/amd64"]));
    let archive = export(&source.store, &["alpine"], &[]);

    type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>);
    let cases: [Case<'_>; 4] = [
        (
            &[(ANNOTATION_IMAGE_NAME, "example.com/a/b:1")],
            Some("example.com/a/b:1"),
        ),
        (
            &[(ANNOTATION_REF_NAME, "alpine:3.20")],
            Some("docker.io/library/alpine:3.20"),
        ),
        (
            &[(ANNOTATION_REF_NAME, "quay.io/x/y")],
            Some("quay.io/x/y:latest"),
        ),
        (&[(ANNOTATION_REF_NAME, "latest")], None),
    ];
    for (annotations, expected) in cases {
        let f = Fixture::new();
        let loaded = import_bytes(&f.store, &with_annotations(&archive, annotations), &[])
            .unwrap_or_else(|e| panic!("{annotations:?}: {e}"));
        assert_eq!(loaded.len(), 1);
        assert_eq!(
            loaded[0].name.as_ref().map(Reference::to_string).as_deref(),
            expected
        );
        assert_eq!(loaded[0].digest, target.digest);
        let records = f.store.images().expect("images");
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].name().map(|n| n.to_string()).as_deref(),
            expected
        );
        assert_eq!(records[0].target.digest, target.digest);
    }
}

/// `org.opencontainers.image.ref.name` of every record of the store's own `index.json`, by digest.
fn stored_ref_names(f: &Fixture) -> Vec<(String, String)> {
    let index = json(&std::fs::read(f.root().join("index.json")).expect("index.json"));
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| {
            (
                m["annotations"][ANNOTATION_IMAGE_NAME]
                    .as_str()
                    .expect("name")
                    .to_string(),
                m["annotations"][ANNOTATION_REF_NAME]
                    .as_str()
                    .expect("ref.name")
                    .to_string(),
            )
        })
        .collect()
}

/// Five images tagged `1`, in five repositories: a name each is stored under, and the full name
/// `index.json` must give it.
const TAGGED_1: [(&str, &str); 5] = [
    ("a:1", "docker.io/library/a:1"),
    ("b/a:1", "docker.io/b/a:1"),
    ("example.com/a:1", "example.com/a:1"),
    ("quay.io/x/a:1", "quay.io/x/a:1"),
    ("localhost:5000/a:1", "localhost:5000/a:1"),
];

#[test]
fn five_images_tagged_1_have_five_ref_names_and_exports_keep_the_tag() {
    let f = Fixture::new();
    let source = Fixture::new();
    for (i, (name, _)) in TAGGED_1.iter().enumerate() {
        let mut spec = small_spec(name, &["linux/amd64"]);
        spec.seed = i as u64 + 1;
        if i % 2 == 0 {
            add(&f.store, &spec);
        } else {
            // Through an archive, whose entry has Docker's form (the tag alone).
            add(&source.store, &spec);
            let archive = export(&source.store, &[name], &[]);
            let index = json(&entry(&read_tar(&archive), "index.json").data);
            assert_eq!(
                index["manifests"][0]["annotations"][ANNOTATION_REF_NAME],
                "1"
            );
            import_bytes(&f.store, &archive, &[]).expect("import");
        }
    }
    let stored = stored_ref_names(&f);
    let mut want: Vec<(String, String)> = TAGGED_1
        .iter()
        .map(|(_, full)| (full.to_string(), full.to_string()))
        .collect();
    want.sort();
    assert_eq!(stored, want, "ref.name is the full name, one per image");
    // Every export of them still says `1`.
    for (name, full) in TAGGED_1 {
        for platforms in [&[][..], &["linux/amd64"][..]] {
            let index = json(
                &entry(
                    &read_tar(&export(&f.store, &[name], platforms)),
                    "index.json",
                )
                .data,
            );
            let a = &index["manifests"][0]["annotations"];
            assert_eq!(a[ANNOTATION_IMAGE_NAME], full, "{name} {platforms:?}");
            assert_eq!(a[ANNOTATION_REF_NAME], "1", "{name} {platforms:?}");
        }
    }
}

/// Rewrites the store's `index.json` as a build before full `ref.name`s wrote it: the tag alone.
fn write_old_form(f: &Fixture) {
    let path = f.root().join("index.json");
    let mut index = json(&std::fs::read(&path).expect("index.json"));
    for m in index["manifests"].as_array_mut().expect("manifests") {
        let name = m["annotations"][ANNOTATION_IMAGE_NAME]
            .as_str()
            .expect("name")
            .to_string();
        let tag = name.rsplit(':').next().expect("tag").to_string();
        m["annotations"][ANNOTATION_REF_NAME] = tag.into();
    }
    std::fs::write(&path, serde_json::to_vec(&index).expect("encode")).expect("write");
}

#[test]
fn a_store_with_tag_only_ref_names_reads_as_before_and_its_next_write_or_fsck_repair_upgrades_it() {
    let f = Fixture::new();
    for (i, (name, _)) in TAGGED_1.iter().enumerate() {
        let mut spec = small_spec(name, &["linux/amd64"]);
        spec.seed = i as u64 + 1;
        add(&f.store, &spec);
    }
    let full: Vec<(String, String)> = stored_ref_names(&f);
    let run = |args: &[&str]| cli(f.root(), args);
    let listed = text(&ok(run(&["ls"])));

    for upgrade in ["import", "fsck --repair"] {
        write_old_form(&f);
        let old = std::fs::read(f.root().join("index.json")).expect("index.json");
        assert!(stored_ref_names(&f).iter().all(|(_, r)| r == "1"));
        // Reading does not depend on it, and writes nothing.
        assert_eq!(text(&ok(run(&["ls"]))), listed);
        assert_eq!(find(&f.store, "quay.io/x/a:1").len(), 1);
        let report = text(&ok(run(&["fsck"])));
        assert!(
            report.contains("org.opencontainers.image.ref.name of 5 records (")
                && report.contains("and 2 more) is not the full name")
                && report.contains("`imagefs fsck --repair`")
                && report.contains("no problems"),
            "{report}"
        );
        assert_eq!(
            std::fs::read(f.root().join("index.json")).expect("index.json"),
            old
        );

        match upgrade {
            "import" => {
                // Any change to the list: here an import of one more image.
                let other = Fixture::new();
                add(&other.store, &small_spec("other:2", &["linux/amd64"]));
                import_bytes(&f.store, &export(&other.store, &["other:2"], &[]), &[])
                    .expect("import");
                let mut after = stored_ref_names(&f);
                after.retain(|(n, _)| n != "docker.io/library/other:2");
                assert_eq!(after, full, "after the import itself");
                f.store
                    .update_images(|images| {
                        images.retain(|r| {
                            r.name().map(|n| n.to_string()).as_deref()
                                != Some("docker.io/library/other:2")
                        });
                        Ok(())
                    })
                    .expect("rm other");
            }
            _ => {
                let repaired = text(&ok(run(&["fsck", "--repair"])));
                assert!(
                    repaired.contains(
                        "wrote the full name as org.opencontainers.image.ref.name of 5 records"
                    ) && repaired.contains("no problems"),
                    "{repaired}"
                );
            }
        }
        // Every name kept, every ref.name full, and fsck has nothing more to say.
        assert_eq!(stored_ref_names(&f), full, "after {upgrade}");
        assert_eq!(text(&ok(run(&["ls"]))), listed, "after {upgrade}");
        let report = text(&ok(run(&["fsck"])));
        assert!(!report.contains("ref.name"), "after {upgrade}: {report}");
    }
}

#[test]
fn import_rejects_an_invalid_name_and_changes_nothing() {
    let source = Fixture::new();
    add(&source.store, &small_spec("alpine", &["linux/amd64"]));
    let archive = export(&source.store, &["alpine"], &[]);
    let f = Fixture::new();
    add(&f.store, &small_spec("busybox", &["linux/amd64"]));
    let before = snapshot(f.root());
    let bad = with_annotations(&archive, &[(ANNOTATION_IMAGE_NAME, "UPPER/Case:tag")]);
    let err = import_bytes(&f.store, &bad, &[]).expect_err("invalid name accepted");
    assert!(err.to_string().contains("UPPER/Case:tag"), "{err}");
    assert_unchanged(&f.store, &before);
}

#[test]
fn gc_waits_for_an_import_in_progress() {
    let f = Fixture::new();
    add(&f.store, &small_spec("alpine", &["linux/amd64"]));
    // An import in flight: it holds the ingest lock and has published a blob not yet named.
    let ingest = f.store.lock_ingest().expect("ingest lock");
    let in_flight = f
        .store
        .write_blob(b"a layer of an import in progress")
        .expect("blob");
    let done = Arc::new(AtomicBool::new(false));
    let collector = {
        let (store, done) = (f.store.clone(), done.clone());
        std::thread::spawn(move || {
            let report =
                gc::collect_garbage(&store, &gc::GcOptions::default(), |_| {}).expect("gc");
            done.store(true, Ordering::SeqCst);
            report
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !done.load(Ordering::SeqCst),
        "gc ran while an import held the ingest lock"
    );
    assert!(f.store.has_blob(&in_flight));
    // The import finishes by naming its image... here it is abandoned instead, so gc may go.
    drop(ingest);
    let report = collector.join().expect("gc thread");
    assert_eq!(report.removed_blobs, 1);
    assert!(!f.store.has_blob(&in_flight));
    // Everything the named image needs survived.
    let (manifest, closure) = platform_closure(&f.store, "alpine", "linux/amd64");
    assert!(f.store.has_blob(&manifest));
    assert!(closure.iter().all(|d| f.store.has_blob(d)));
}

#[test]
fn concurrent_index_updates_are_never_lost() {
    let f = Fixture::new();
    let target = add(&f.store, &small_spec("base", &["linux/amd64"]));
    const WRITERS: usize = 8;
    let barrier = Arc::new(Barrier::new(WRITERS));
    let threads: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (store, barrier, target) = (f.store.clone(), barrier.clone(), target.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let name =
                    Reference::parse_normalized(&format!("example.com/w/{i}:t")).expect("name");
                store
                    .update_images(|images| {
                        images.push(ImageRecord::named(target.clone(), &name));
                        Ok(())
                    })
                    .expect("update");
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer");
    }
    let names: Vec<String> = f
        .store
        .images()
        .expect("images")
        .iter()
        .filter_map(|r| r.name())
        .map(|n| n.to_string())
        .collect();
    for i in 0..WRITERS {
        assert!(
            names.contains(&format!("example.com/w/{i}:t")),
            "update {i} lost: {names:?}"
        );
    }
    assert_eq!(names.len(), WRITERS + 1);
}

#[test]
fn import_of_many_blobs_does_not_hold_a_file_open_per_blob() {
    let source = Fixture::new();
    let mut spec = small_spec("many", &["linux/amd64", "linux/arm64"]);
    spec.layers = 150;
    spec.layer_size = 16;
    add(&source.store, &spec);
    let archive = source.path("many.tar");
    std::fs::write(&archive, export(&source.store, &["many"], &[])).expect("write archive");
    let f = Fixture::new();
    // 300 spooled layers under a 64-descriptor limit: only a constant number may be open.
    let script = format!(
        "ulimit -n 64 && exec {} --store {} import - < {}",
        bin(),
        f.root().display(),
        archive.display()
    );
    run(std::process::Command::new("sh").args(["-c", &script]));
    assert_eq!(
        manifest_digests(&f.store, "many"),
        manifest_digests(&source.store, "many")
    );
}

#[test]
fn rm_of_name_at_digest_removes_only_that_repository() {
    let f = Fixture::new();
    let target = add(&f.store, &small_spec("example.com/a:1", &["linux/amd64"]));
    add(&f.store, &small_spec("example.com/b:1", &["linux/amd64"]));
    let names = |store: &imagefs::store::Store| -> Vec<String> {
        store
            .images()
            .expect("images")
            .iter()
            .filter_map(|r| r.name())
            .map(|n| n.to_string())
            .collect()
    };
    assert_eq!(names(&f.store).len(), 2, "both names share one image");

    let missing = format!("example.com/nope@{}", target.digest);
    let out = output(imagefs(f.root()).args(["rm", &missing]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a repository without that image is an error"
    );
    assert_eq!(names(&f.store).len(), 2);

    let out = output(imagefs(f.root()).args(["rm", &format!("example.com/a@{}", target.digest)]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(names(&f.store), vec!["example.com/b:1".to_string()]);
}

#[test]
fn import_of_a_self_referencing_index_walks_each_document_once() {
    // An index that lists its one manifest 50,000 times, nested three levels deep: without
    // de-duplication that is 1.25e14 walks; with it, a handful.
    let source = Fixture::new();
    add(&source.store, &small_spec("fan", &["linux/amd64"]));
    let mut entries = read_tar(&export(&source.store, &["fan"], &[]));
    let index_entry = json(&entry(&entries, "index.json").data);
    let top: imagefs::digest::Digest = index_entry["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .parse()
        .expect("digest");
    let original = json(&entry(&entries, &blob_name(&top)).data);
    let child = original["manifests"][0].clone();
    let mut level = child;
    for _ in 0..3 {
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": vec![level.clone(); 50_000],
        });
        let bytes = serde_json::to_vec(&doc).expect("encode");
        let digest = imagefs::digest::Digest::of(&bytes);
        entries.push(Entry::file(&blob_name(&digest), &bytes));
        level = serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": digest.to_string(),
            "size": bytes.len(),
        });
    }
    let index = entries
        .iter_mut()
        .find(|e| e.name == "index.json")
        .expect("index.json");
    let mut doc = json(&index.data);
    doc["manifests"][0]["digest"] = level["digest"].clone();
    doc["manifests"][0]["size"] = level["size"].clone();
    doc["manifests"][0]["mediaType"] = level["mediaType"].clone();
    index.data = serde_json::to_vec(&doc).expect("encode");
    entries.sort_by(|a, b| a.name.cmp(&b.name));

    let f = Fixture::new();
    let started = std::time::Instant::now();
    let loaded = import_bytes(&f.store, &write_tar(&entries), &[]).expect("import");
    assert_eq!(loaded.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let out = run(imagefs(f.root()).args(["ls", "--json"]));
    assert!(text(&out.stdout).contains("linux/amd64"));
}

/// Claim: a layer index lives in `indexes/sha256/<layer-hex>.<kind>`, outside `blobs/`; `gc`
/// removes it with its layer (and those of layers already gone) and keeps it with a kept layer,
/// and says how many it removed; `fsck` verifies every index, reports a damaged one as a
/// problem (exit 1) and an orphan as space to give back (exit 0); `fsck --repair` removes both.
#[test]
fn layer_indexes_go_with_their_layer_and_fsck_reports_and_repairs_them() {
    use imagefs::store::{INDEX_DIR, IndexKind};
    const TOC: IndexKind = IndexKind::new("toc", 1);
    let f = Fixture::new();
    let run = |args: &[&str]| cli(f.root(), args);
    let kept = add(&f.store, &small_spec("kept:1", &["linux/amd64"]));
    let mut spec = small_spec("removed:1", &["linux/amd64"]);
    spec.seed = 2;
    let removed = add(&f.store, &spec);
    let (_, kept_blobs) = platform_closure(&f.store, "kept:1", "linux/amd64");
    let (_, removed_blobs) = platform_closure(&f.store, "removed:1", "linux/amd64");
    let kept_layer = *kept_blobs.last().expect("a layer");
    let removed_layer = *removed_blobs.last().expect("a layer");
    assert_ne!(kept_layer, removed_layer);
    f.store
        .write_index(&kept_layer, TOC, b"kept")
        .expect("index");
    f.store
        .write_index(&removed_layer, TOC, b"removed")
        .expect("index");
    let index_file = |layer: &imagefs::digest::Digest| {
        f.root()
            .join(INDEX_DIR)
            .join(format!("{}.toc", layer.hex()))
    };
    assert!(index_file(&kept_layer).is_file());
    assert!(
        !f.root()
            .join("blobs/sha256")
            .join(format!("{}.toc", kept_layer.hex()))
            .exists()
    );
    let report = text(&ok(run(&["fsck"])));
    assert!(
        report.contains("blobs and 2 layer indexes verified, no problems"),
        "{report}"
    );

    ok(run(&["rm", "removed:1"]));
    let said = text(&ok(run(&["gc"])));
    assert!(said.contains(", 1 layer indexes ("), "{said}");
    assert!(!index_file(&removed_layer).exists());
    assert_eq!(
        f.store.read_index(&kept_layer, TOC).expect("sound"),
        Some(b"kept".to_vec())
    );
    assert!(f.store.has_blob(&kept.digest) && !f.store.has_blob(&removed.digest));

    // Damage (a flipped payload byte) is a problem; an orphan (its layer removed by another
    // tool) is not.
    let path = index_file(&kept_layer);
    let mut bytes = std::fs::read(&path).expect("index");
    *bytes.last_mut().expect("payload") ^= 1;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    std::fs::write(&path, bytes).expect("damage");
    let stray = f
        .store
        .write_blob(b"a layer skopeo's gc will remove")
        .expect("blob");
    f.store.write_index(&stray, TOC, b"orphan").expect("index");
    std::fs::remove_file(f.store.blob_path(&stray)).expect("remove blob");
    let out = run(&["fsck"]);
    assert!(!out.status.success());
    let report = text(&out.stdout);
    assert!(
        report.contains(&format!(
            "layer index {}: payload checksum mismatch; it is rebuilt when next used",
            path.display()
        )) && report.contains("indexes: 1 layer indexes (")
            && report.contains("of layers no longer stored"),
        "{report}"
    );
    let repaired = text(&ok(run(&["fsck", "--repair"])));
    assert!(
        repaired.contains(&format!("removed layer index {}", path.display()))
            && repaired.contains("removed 1 layer indexes (")
            && repaired.contains("no problems"),
        "{repaired}"
    );
    assert!(f.store.list_indexes().expect("list").is_empty());
    assert_eq!(f.store.read_index(&kept_layer, TOC).expect("missing"), None);
}
