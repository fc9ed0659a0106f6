//! Unit tests of `ArchivePlan`: record order and layout, that `size()` is the streamed length,
//! that `read_at` serves the streamed bytes at every record edge, the legacy `manifest.json`,
//! and which blobs an archive carries (once each, the non-distributable ones never).

use super::*;
use crate::archive::write_archive;
use crate::oci::{
    MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_MANIFEST, encode_manifest,
};
use crate::sample::{SampleSpec, write_sample};
use crate::testing::{platform, reference, small_spec, temp_store};

/// Small layers whose lengths are no multiple of 512, so every blob record has padding.
fn spec(name: Option<&str>, platforms: &[&str], seed: u64) -> SampleSpec {
    SampleSpec {
        layer_size: 700,
        ..small_spec(name, platforms, seed)
    }
}

/// Writes the sample and returns the record `index.json` holds for it.
fn add(store: &Store, spec: &SampleSpec) -> ImageRecord {
    let target = write_sample(store, spec).unwrap();
    match &spec.name {
        Some(n) => ImageRecord::named(target, n),
        None => ImageRecord::unnamed(target),
    }
}

fn plan(store: &Store, images: &[&ImageRecord], platforms: &[&str]) -> ArchivePlan {
    let request = ExportRequest {
        images: images.iter().map(|r| (*r).clone()).collect(),
        platforms: platforms.iter().map(|p| platform(p)).collect(),
    };
    ArchivePlan::build(store, &request).unwrap()
}

fn stream(plan: &ArchivePlan) -> Vec<u8> {
    let mut out = Vec::new();
    write_archive(plan, &mut out, &mut |_| {}).unwrap();
    out
}

/// The archive's entries as a tar reader sees them: (name, body).
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            (name, body)
        })
        .collect()
}

fn entry(bytes: &[u8], name: &str) -> Vec<u8> {
    entries(bytes)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
        .1
}

fn names(bytes: &[u8]) -> Vec<String> {
    entries(bytes).into_iter().map(|(n, _)| n).collect()
}

fn blob_name(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

fn graph(store: &Store, record: &ImageRecord) -> ImageGraph {
    ImageGraph::of_record(store, record).unwrap()
}

// --- layout ---------------------------------------------------------------------------------

#[test]
fn entries_come_in_docker_save_order_each_once() {
    let (_dir, store) = temp_store();
    let image = add(
        &store,
        &spec(Some("example.com/a"), &["linux/amd64", "linux/arm64"], 1),
    );
    let plan = plan(&store, &[&image], &[]);
    let names = names(&stream(&plan));
    // containerd core/images/archive/exporter.go: records sorted bytewise by name.
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
    let mut expected = vec!["blobs/".to_string(), "blobs/sha256/".to_string()];
    expected.extend(plan.blobs().iter().map(blob_name));
    expected.extend(["index.json", "manifest.json", "oci-layout"].map(String::from));
    assert_eq!(names, expected);
    // Every document and blob of the image, nothing else.
    let graph = graph(&store, &image);
    let mut all: Vec<Digest> = graph.indexes.iter().map(|d| d.digest).collect();
    for m in &graph.manifests {
        all.push(m.descriptor.digest);
        all.extend(m.children.iter().map(|c| c.digest));
    }
    all.sort();
    all.dedup();
    assert_eq!(plan.blobs(), &all[..]);
}

#[test]
fn records_are_contiguous_and_end_in_two_zero_blocks() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a"), &["linux/amd64"], 1));
    let plan = plan(&store, &[&image], &[]);
    assert_eq!(plan.records[0].offset, 0);
    for pair in plan.records.windows(2) {
        assert_eq!(pair[0].end(), pair[1].offset);
        assert_eq!(pair[1].offset % BLOCK, 0);
    }
    let last = plan.records.last().unwrap();
    assert_eq!(last.end() + 2 * BLOCK, plan.size());
    let bytes = stream(&plan);
    assert!(bytes[last.end() as usize..].iter().all(|&b| b == 0));
    assert_eq!(entry(&bytes, "oci-layout"), OCI_LAYOUT_CONTENT);
}

#[test]
fn size_is_the_streamed_length_for_every_kind_of_request() {
    let (_dir, store) = temp_store();
    let a = add(
        &store,
        &spec(
            Some("a"),
            &["linux/amd64", "linux/arm64", "linux/arm/v7"],
            1,
        ),
    );
    let b = add(&store, &spec(None, &["linux/amd64"], 2));
    let requests: [(&[&ImageRecord], &[&str]); 5] = [
        (&[&a], &[]),
        (&[&a], &["linux/arm64"]),
        (&[&a], &["linux/arm/v7", "linux/amd64"]),
        (&[&a, &b], &[]),
        (&[&a, &b], &["linux/amd64"]),
    ];
    for (images, platforms) in requests {
        let plan = plan(&store, images, platforms);
        assert_eq!(
            stream(&plan).len() as u64,
            plan.size(),
            "{platforms:?} of {} images",
            images.len()
        );
    }
}

// --- read_at --------------------------------------------------------------------------------

#[test]
fn read_at_returns_the_streamed_bytes_around_every_record_edge() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a"), &["linux/amd64", "linux/arm64"], 1));
    let plan = plan(&store, &[&image], &[]);
    let bytes = stream(&plan);
    let size = plan.size();
    let mut edges = Vec::new();
    for r in &plan.records {
        let body_end = r.data_start() + r.body_len();
        edges.extend([r.offset, r.data_start(), body_end, r.end()]);
    }
    edges.extend([size - 2 * BLOCK, size]);
    let mut checked = 0;
    for edge in edges {
        for offset in [edge.saturating_sub(1), edge, edge + 1] {
            for len in [1usize, 2, 511, 512, 513, 1500] {
                let mut buf = vec![0xAA; len];
                let n = plan.read_at(offset, &mut buf).unwrap();
                let start = offset.min(size) as usize;
                let end = (offset + len as u64).min(size) as usize;
                assert_eq!(n, end - start, "read of {len} at {offset}");
                assert!(
                    buf[..n] == bytes[start..end],
                    "read of {len} at {offset} differs from the stream"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100);
}

#[test]
fn read_at_serves_the_last_byte_and_nothing_past_the_end() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a"), &["linux/amd64"], 1));
    let plan = plan(&store, &[&image], &[]);
    let size = plan.size();
    let mut buf = [0xAAu8; 100];
    assert_eq!(plan.read_at(size - 1, &mut buf).unwrap(), 1);
    assert_eq!(buf[0], 0);
    assert_eq!(buf[1], 0xAA, "a short read wrote past what it returned");
    assert_eq!(plan.read_at(size - 10, &mut buf).unwrap(), 10);
    assert_eq!(plan.read_at(size, &mut buf).unwrap(), 0);
    assert_eq!(plan.read_at(size + 4096, &mut buf).unwrap(), 0);
    assert_eq!(plan.read_at(u64::MAX, &mut buf).unwrap(), 0);
}

#[test]
fn one_read_of_more_than_the_whole_archive_returns_the_stream() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a"), &["linux/amd64", "linux/arm64"], 1));
    let plan = plan(&store, &[&image], &["linux/arm64"]);
    let bytes = stream(&plan);
    let mut buf = vec![0xAA; bytes.len() + 100];
    assert_eq!(plan.read_at(0, &mut buf).unwrap(), bytes.len());
    assert!(buf[..bytes.len()] == bytes[..]);
    // A reopened plan (a new open file of the mount) reads the same bytes.
    let mut again = vec![0; bytes.len()];
    plan.reopened().read_at(0, &mut again).unwrap();
    assert!(again == bytes);
}

#[test]
fn a_blob_that_shrank_fails_the_read_instead_of_reading_zeros() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a"), &["linux/amd64"], 1));
    let plan = plan(&store, &[&image], &["linux/amd64"]);
    let layer = graph(&store, &image).manifests[0].children[1].clone();
    let record = plan
        .records
        .iter()
        .find(|r| matches!(&r.body, Body::Blob { descriptor, .. } if descriptor.digest == layer.digest))
        .unwrap();
    let mut buf = vec![0; 100];
    // The first read opens the blob; the plan keeps it open.
    assert_eq!(plan.read_at(record.data_start(), &mut buf).unwrap(), 100);
    let path = store.blob_path(&layer.digest);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, b"short").unwrap();
    // Shrunk while open: the read past its new end names the blob.
    let err = plan
        .read_at(record.data_start() + 50, &mut buf)
        .unwrap_err();
    assert!(
        matches!(&err, ExportError::BlobChanged { digest, found: None } if *digest == layer.digest),
        "{err:?}"
    );
    // Shrunk before it was opened: the store's size check at open names it.
    let fresh = plan.reopened();
    let err = fresh.read_at(record.data_start(), &mut buf).unwrap_err();
    assert!(
        matches!(
            &err,
            ExportError::Store(crate::store::StoreError::SizeMismatch { digest, found: 5, .. })
                if *digest == layer.digest
        ),
        "{err:?}"
    );
}

// --- manifest.json --------------------------------------------------------------------------

#[test]
fn manifest_json_describes_the_chosen_manifest_with_familiar_repo_tags() {
    let (_dir, store) = temp_store();
    let image = add(
        &store,
        &spec(Some("alpine:3"), &["linux/amd64", "linux/arm64"], 1),
    );
    let plan = plan(&store, &[&image], &["linux/arm64"]);
    let graph = graph(&store, &image);
    let chosen = graph.select_one(&platform("linux/arm64")).unwrap();
    let paths: Vec<String> = chosen
        .children
        .iter()
        .map(|c| blob_name(&c.digest))
        .collect();
    // moby image/tarexport: Config, RepoTags, Layers, in that order, compact.
    let expected = format!(
        r#"[{{"Config":"{}","RepoTags":["alpine:3"],"Layers":["{}","{}"]}}]"#,
        paths[0], paths[1], paths[2]
    );
    let bytes = stream(&plan);
    assert_eq!(
        String::from_utf8(entry(&bytes, "manifest.json")).unwrap(),
        expected
    );
}

#[test]
fn manifest_json_has_null_repo_tags_by_digest_and_null_layers_without_layers() {
    let config = Digest::of(b"config");
    let entries = [LegacyManifestEntry {
        config: blob_path(&config),
        layers: None,
        repo_tags: None,
    }];
    // Go marshals nil slices as null.
    assert_eq!(
        String::from_utf8(crate::oci::encode_legacy_manifest(&entries)).unwrap(),
        format!(
            r#"[{{"Config":"blobs/sha256/{}","RepoTags":null,"Layers":null}}]"#,
            config.hex()
        )
    );
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(None, &["linux/amd64"], 1));
    let bytes = stream(&plan(&store, &[&image], &[]));
    assert_eq!(
        json(&entry(&bytes, "manifest.json"))[0]["RepoTags"],
        serde_json::Value::Null
    );
}

#[test]
fn two_names_of_one_image_share_one_manifest_json_entry() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a:1"), &["linux/amd64"], 1));
    let other_name = ImageRecord::named(image.bare_target(), &reference("b:2"));
    let bytes = stream(&plan(&store, &[&image, &other_name], &[]));
    let manifest = json(&entry(&bytes, "manifest.json"));
    assert_eq!(manifest.as_array().unwrap().len(), 1);
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["a:1", "b:2"]));
    assert_eq!(
        json(&entry(&bytes, "index.json"))["manifests"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn manifest_json_never_describes_an_absent_manifest() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a"), &["linux/amd64"], 1));
    // The only platform loses a layer: nothing is complete, so nothing qualifies
    // (docker/cli#5476 describes a manifest the archive does not carry).
    let layer = graph(&store, &image).manifests[0].children[1].digest;
    store.remove_blob(&layer).unwrap();
    let plan = plan(&store, &[&image], &[]);
    let names = names(&stream(&plan));
    assert!(!names.contains(&"manifest.json".to_string()), "{names:?}");
    assert!(!plan.blobs().contains(&layer));
}

// --- what is carried ------------------------------------------------------------------------

#[test]
fn blobs_shared_by_two_images_are_carried_once() {
    let (_dir, store) = temp_store();
    let a = add(&store, &spec(Some("a"), &["linux/amd64"], 1));
    let b = add(&store, &spec(Some("b"), &["linux/amd64"], 2));
    let base = graph(&store, &a).manifests[0].children[1].digest;
    assert_eq!(graph(&store, &b).manifests[0].children[1].digest, base);
    let plan = plan(&store, &[&a, &b], &[]);
    let names = names(&stream(&plan));
    assert_eq!(names.iter().filter(|n| **n == blob_name(&base)).count(), 1);
    assert!(plan.blobs().windows(2).all(|w| w[0] < w[1]));
    assert!(plan.blobs().contains(&base));
}

#[test]
fn one_platform_points_index_json_at_its_manifest_without_index_or_attestation() {
    let (_dir, store) = temp_store();
    let image = add(
        &store,
        &spec(Some("a:1"), &["linux/amd64", "linux/arm64"], 1),
    );
    let graph = graph(&store, &image);
    let plan = plan(&store, &[&image], &["linux/arm64"]);
    let chosen = graph.select_one(&platform("linux/arm64")).unwrap();
    let mut expected: Vec<Digest> = vec![chosen.descriptor.digest];
    expected.extend(chosen.children.iter().map(|c| c.digest));
    expected.sort();
    assert_eq!(plan.blobs(), &expected[..]);
    let index = json(&entry(&stream(&plan), "index.json"));
    let listed = &index["manifests"][0];
    assert_eq!(listed["digest"], chosen.descriptor.digest.to_string());
    assert_eq!(listed["mediaType"], MEDIA_TYPE_OCI_MANIFEST);
    assert_eq!(listed["platform"]["architecture"], "arm64");
    assert_eq!(
        listed["annotations"][ANNOTATION_IMAGE_NAME],
        "docker.io/library/a:1"
    );
    // Docker's form, the tag alone, though the store's own record has the full name.
    assert_eq!(listed["annotations"][ANNOTATION_REF_NAME], "1");
    assert_eq!(
        image.target.annotations[ANNOTATION_REF_NAME],
        "docker.io/library/a:1"
    );
}

#[test]
fn several_platforms_carry_the_original_index_and_their_attestations_only() {
    let (_dir, store) = temp_store();
    let image = add(
        &store,
        &spec(Some("a"), &["linux/amd64", "linux/arm64", "linux/s390x"], 1),
    );
    let graph = graph(&store, &image);
    let plan = plan(&store, &[&image], &["linux/s390x", "linux/amd64"]);
    let bytes = stream(&plan);
    let index = image.bare_target();
    assert_eq!(
        entry(&bytes, &blob_name(&index.digest)),
        store.read_document(&index).unwrap()
    );
    for m in &graph.manifests {
        let wanted = match &m.attests() {
            Some(subject) => graph
                .manifests
                .iter()
                .find(|s| s.descriptor.digest == *subject)
                .unwrap(),
            None => m,
        };
        let arch = &wanted.platform.as_ref().unwrap().architecture;
        assert_eq!(
            plan.blobs().contains(&m.descriptor.digest),
            arch != "arm64",
            "{arch} manifest {}",
            m.descriptor.digest
        );
    }
}

#[test]
fn export_by_digest_strips_the_name_annotations() {
    let (_dir, store) = temp_store();
    let image = add(&store, &spec(Some("a"), &["linux/amd64"], 1));
    let unnamed = ImageRecord::unnamed(image.target.clone());
    let index = json(&entry(
        &stream(&plan(&store, &[&unnamed], &[])),
        "index.json",
    ));
    assert_eq!(
        index["manifests"][0]["digest"],
        image.target.digest.to_string()
    );
    assert_eq!(
        index["manifests"][0]["annotations"],
        serde_json::Value::Null
    );
}

#[test]
fn docker_and_oci_media_types_are_kept_as_stored() {
    for (docker, index_type, manifest_type) in [
        (true, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST),
        (false, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST),
    ] {
        let (_dir, store) = temp_store();
        let mut s = spec(Some("a"), &["linux/amd64", "linux/arm64"], 1);
        s.docker_media_types = docker;
        let image = add(&store, &s);
        let whole = json(&entry(&stream(&plan(&store, &[&image], &[])), "index.json"));
        assert_eq!(whole["manifests"][0]["mediaType"], index_type);
        let one = json(&entry(
            &stream(&plan(&store, &[&image], &["linux/amd64"])),
            "index.json",
        ));
        assert_eq!(one["manifests"][0]["mediaType"], manifest_type);
        // The outer index.json of the archive is OCI's either way (containerd exporter.go).
        assert_eq!(whole["mediaType"], MEDIA_TYPE_OCI_INDEX);
    }
}

#[test]
fn non_distributable_layers_are_listed_but_not_carried() {
    let (_dir, store) = temp_store();
    let put = |media_type: &str, bytes: &[u8]| {
        Descriptor::new(
            media_type,
            store.write_blob(bytes).unwrap(),
            bytes.len() as u64,
        )
    };
    let config = put(
        crate::oci::MEDIA_TYPE_DOCKER_CONFIG,
        br#"{"architecture":"amd64","os":"windows","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let foreign = put(
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        b"foreign base layer",
    );
    let layer = put(crate::oci::MEDIA_TYPE_DOCKER_LAYER, b"own layer");
    let manifest = encode_manifest(
        MEDIA_TYPE_DOCKER_MANIFEST,
        &config,
        &[foreign.clone(), layer.clone()],
    );
    let target = put(MEDIA_TYPE_DOCKER_MANIFEST, &manifest);
    let image = ImageRecord::named(target.clone(), &reference("win"));
    let plan = plan(&store, &[&image], &[]);
    let bytes = stream(&plan);
    assert_eq!(plan.size(), bytes.len() as u64);
    assert!(!plan.blobs().contains(&foreign.digest));
    assert!(plan.blobs().contains(&layer.digest));
    assert!(!names(&bytes).contains(&blob_name(&foreign.digest)));
    let legacy = json(&entry(&bytes, "manifest.json"));
    assert_eq!(
        legacy[0]["Layers"],
        serde_json::json!([blob_name(&foreign.digest), blob_name(&layer.digest)])
    );
}
