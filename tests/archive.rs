//! Export and import through the library: round trips, `docker save`-exact export semantics
//! (containerd's archive exporter, as `docker save` uses it), `read_at` against the streamed bytes,
//! and import semantics (platform filter, sparse archives, docker-archives, compressed input).

mod common;

#[path = "archive/import.rs"]
mod import;

use std::collections::BTreeSet;
use std::io::Write;

use common::*;
use imagefs::digest::Digest;
use imagefs::image::ImageGraph;
use rand::{Rng, SeedableRng};

/// (name, header offset, data offset, data length) of every entry of a plain tar.
fn spans(bytes: &[u8]) -> Vec<(String, u64, u64, u64)> {
    let mut archive = tar::Archive::new(bytes);
    archive
        .entries()
        .expect("entries")
        .map(|e| {
            let e = e.expect("entry");
            (
                String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                e.raw_header_position(),
                e.raw_file_position(),
                e.size(),
            )
        })
        .collect()
}

fn blob_entries(entries: &[Entry]) -> BTreeSet<Digest> {
    entries
        .iter()
        .filter_map(|e| e.name.strip_prefix("blobs/sha256/"))
        .filter(|hex| !hex.is_empty())
        .map(|hex| Digest::from_hex(hex).expect("hex digest"))
        .collect()
}

fn read_fully(plan: &imagefs::archive::ArchivePlan, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let mut got = 0;
    while got < len {
        let n = plan
            .read_at(offset + got as u64, &mut buf[got..])
            .expect("read_at");
        if n == 0 {
            break;
        }
        got += n;
    }
    buf.truncate(got);
    buf
}

#[test]
fn round_trip_keeps_top_level_and_platform_manifest_digests() {
    let src = Fixture::new();
    let mut spec = small_spec("docker.io/library/alpine:3.20", &THREE);
    spec.attestations = true;
    add(&src.store, &spec);
    add(
        &src.store,
        &small_spec("example.com/team/tool:1", &["linux/arm/v7"]),
    );
    let bytes = export(&src.store, &["alpine:3.20", "example.com/team/tool:1"], &[]);

    let dst = Fixture::new();
    let loaded = import_bytes(&dst.store, &bytes, &[]).expect("import");
    assert_eq!(loaded.len(), 2);
    let top = |s: &imagefs::store::Store| -> Vec<(Option<String>, Digest, u64)> {
        let mut v: Vec<_> = s
            .images()
            .expect("images")
            .into_iter()
            .map(|r| {
                (
                    r.name().map(|n| n.to_string()),
                    r.target.digest,
                    r.target.size,
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(top(&src.store), top(&dst.store));
    for name in ["alpine:3.20", "example.com/team/tool:1"] {
        assert_eq!(
            manifest_digests(&src.store, name),
            manifest_digests(&dst.store, name),
            "{name}"
        );
    }
    // And the second store exports the very same archive.
    assert_eq!(
        export(&dst.store, &["alpine:3.20", "example.com/team/tool:1"], &[]),
        bytes
    );
}

#[test]
fn export_bytes_are_identical_across_runs_and_stores() {
    let a = Fixture::new();
    let b = Fixture::new();
    let spec = small_spec("alpine", &THREE);
    add(&a.store, &spec);
    std::thread::sleep(std::time::Duration::from_millis(20));
    add(&b.store, &spec);
    for platforms in [
        &[][..],
        &["linux/arm64"][..],
        &["linux/amd64", "linux/riscv64"][..],
    ] {
        let first = export(&a.store, &["alpine"], platforms);
        assert_eq!(
            first,
            export(&a.store, &["alpine"], platforms),
            "{platforms:?}"
        );
        assert_eq!(
            first,
            export(&b.store, &["alpine"], platforms),
            "{platforms:?}"
        );
    }
}

#[test]
fn export_bytes_are_identical_across_processes() {
    let f = Fixture::new();
    add(&f.store, &small_spec("alpine", &THREE));
    let mut outputs = Vec::new();
    for i in 0..2 {
        let out = f.path(&format!("out{i}.tar"));
        let mut c = imagefs(f.root());
        c.args([
            "export",
            "alpine",
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
        ])
        .arg(&out);
        run(&mut c);
        outputs.push(std::fs::read(&out).expect("read export"));
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(
        outputs[0],
        export(&f.store, &["alpine"], &["linux/amd64", "linux/arm64"])
    );
}

#[test]
fn plan_size_equals_streamed_length() {
    let f = Fixture::new();
    add(&f.store, &small_spec("alpine", &THREE));
    add(&f.store, &small_spec("busybox", &["linux/amd64"]));
    for (refs, platforms) in [
        (&["alpine"][..], &[][..]),
        (&["alpine"][..], &["linux/arm64"][..]),
        (&["alpine", "busybox"][..], &["linux/amd64"][..]),
    ] {
        let plan = plan(&f.store, refs, platforms).expect("plan");
        assert_eq!(
            plan.size(),
            stream(&plan).len() as u64,
            "{refs:?} {platforms:?}"
        );
    }
}

#[test]
fn read_at_matches_streamed_bytes_at_random_and_boundary_ranges() {
    let f = Fixture::new();
    let mut spec = small_spec("alpine", &THREE);
    spec.attestations = true;
    // Sizes that are not multiples of 512, so blobs are followed by padding.
    spec.layer_size = 3001;
    add(&f.store, &spec);
    let plan = plan(&f.store, &["alpine"], &[]).expect("plan");
    let streamed = stream(&plan);
    let size = streamed.len() as u64;
    assert_eq!(plan.size(), size);

    let expect = |off: u64, len: usize| -> Vec<u8> {
        let start = off.min(size) as usize;
        let end = (off + len as u64).min(size) as usize;
        streamed[start..end].to_vec()
    };
    // Every boundary: header start, data start, data end, padded end, trailer, EOF.
    let mut boundaries = vec![0, size, size - 1024];
    for (_, header, data, len) in spans(&streamed) {
        boundaries.extend([header, data, data + len, (data + len).next_multiple_of(512)]);
    }
    let mut checked = 0;
    for &b in &boundaries {
        for delta in [-513i64, -512, -7, -1, 0, 1, 7, 511, 512] {
            let Some(off) = b.checked_add_signed(delta) else {
                continue;
            };
            for len in [1usize, 2, 100, 512, 513, 1500, 5000] {
                assert_eq!(
                    read_fully(&plan, off, len),
                    expect(off, len),
                    "({off}, {len})"
                );
                checked += 1;
            }
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1ea5);
    for _ in 0..4000 {
        let off = rng.random_range(0..size + 2048);
        let len = match rng.random_range(0..4) {
            0 => rng.random_range(0..16),
            1 => rng.random_range(0..1024),
            2 => rng.random_range(0..16384),
            _ => rng.random_range(0..size as usize + 1024),
        };
        assert_eq!(
            read_fully(&plan, off, len),
            expect(off, len),
            "({off}, {len})"
        );
        checked += 1;
    }
    // Past EOF reads nothing.
    let mut buf = [0u8; 10];
    assert_eq!(plan.read_at(size, &mut buf).expect("read at EOF"), 0);
    assert_eq!(
        plan.read_at(size + 12345, &mut buf).expect("read past EOF"),
        0
    );
    assert!(checked > 4000);
}

#[test]
fn export_without_platform_keeps_original_index_and_named_target() {
    let f = Fixture::new();
    let target = add(
        &f.store,
        &small_spec("docker.io/library/alpine:3.20", &THREE),
    );
    let entries = read_tar(&export(&f.store, &["alpine:3.20"], &[]));

    let stored_index = std::fs::read(f.store.blob_path(&target.digest)).expect("stored index");
    assert_eq!(
        entry(&entries, &blob_name(&target.digest)).data,
        stored_index
    );
    let index = json(&entry(&entries, "index.json").data);
    assert_eq!(index["manifests"].as_array().expect("manifests").len(), 1);
    let store_index = json(&std::fs::read(f.root().join("index.json")).expect("store index"));
    let annotations = &index["manifests"][0]["annotations"];
    assert_eq!(
        annotations["io.containerd.image.name"],
        "docker.io/library/alpine:3.20"
    );
    // The archive keeps Docker's form (the tag alone); the store's own list has the full name,
    // so that skopeo's `oci:STORE:REF` names one image. Otherwise the entries are the same.
    assert_eq!(annotations["org.opencontainers.image.ref.name"], "3.20");
    let mut stored = store_index["manifests"][0].clone();
    assert_eq!(
        stored["annotations"]["org.opencontainers.image.ref.name"],
        "docker.io/library/alpine:3.20"
    );
    stored["annotations"]["org.opencontainers.image.ref.name"] = "3.20".into();
    assert_eq!(index["manifests"][0], stored);
    assert_eq!(index["manifests"][0]["digest"], target.digest.to_string());
}

#[test]
fn export_one_platform_points_index_json_at_platform_manifest() {
    let f = Fixture::new();
    let target = add(
        &f.store,
        &small_spec("docker.io/library/alpine:3.20", &THREE),
    );
    let bytes = export(&f.store, &["alpine:3.20"], &["linux/arm64"]);
    let entries = read_tar(&bytes);
    let (manifest, children) = platform_closure(&f.store, "alpine:3.20", "linux/arm64");

    let index = json(&entry(&entries, "index.json").data);
    let top = &index["manifests"];
    assert_eq!(top.as_array().expect("manifests").len(), 1);
    let d = &top[0];
    assert_eq!(d["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(d["digest"], manifest.to_string());
    assert_eq!(
        d["size"],
        std::fs::metadata(f.store.blob_path(&manifest))
            .expect("stat")
            .len()
    );
    assert_eq!(
        d["platform"],
        serde_json::json!({"architecture": "arm64", "os": "linux", "variant": "v8"})
    );
    assert_eq!(
        d["annotations"]["io.containerd.image.name"],
        "docker.io/library/alpine:3.20"
    );
    assert_eq!(
        d["annotations"]["org.opencontainers.image.ref.name"],
        "3.20"
    );
    // Self-contained: no index blob; exactly the manifest and its children.
    let mut expected: BTreeSet<Digest> = children.into_iter().collect();
    expected.insert(manifest);
    assert_eq!(blob_entries(&entries), expected);
    assert!(!blob_entries(&entries).contains(&target.digest));
}

#[test]
fn export_several_platforms_keeps_original_index_and_only_selected_blobs() {
    let f = Fixture::new();
    let target = add(&f.store, &small_spec("alpine", &THREE));
    let entries = read_tar(&export(
        &f.store,
        &["alpine"],
        &["linux/amd64", "linux/riscv64"],
    ));
    let mut expected = BTreeSet::from([target.digest]);
    for p in ["linux/amd64", "linux/riscv64"] {
        let (m, children) = platform_closure(&f.store, "alpine", p);
        expected.insert(m);
        expected.extend(children);
    }
    assert_eq!(blob_entries(&entries), expected);
    let (arm, _) = platform_closure(&f.store, "alpine", "linux/arm64");
    assert!(!expected.contains(&arm));
    assert_eq!(
        entry(&entries, &blob_name(&target.digest)).data,
        std::fs::read(f.store.blob_path(&target.digest)).expect("stored index")
    );
    let index = json(&entry(&entries, "index.json").data);
    assert_eq!(index["manifests"][0]["digest"], target.digest.to_string());
}

#[test]
fn export_absent_platform_names_it_and_lists_available() {
    let f = Fixture::new();
    add(
        &f.store,
        &small_spec("alpine", &["linux/amd64", "linux/riscv64"]),
    );
    for request in [&["linux/s390x"][..], &["linux/amd64", "linux/s390x"][..]] {
        let err = plan(&f.store, &["alpine"], request).expect_err("absent platform");
        let msg = imagefs::error::chain(&err);
        assert!(msg.contains("linux/s390x"), "{msg}");
        assert!(
            msg.contains("linux/amd64") && msg.contains("linux/riscv64"),
            "{msg}"
        );
    }
}

#[test]
fn export_manifest_json_describes_a_present_manifest() {
    let f = Fixture::new();
    add(
        &f.store,
        &small_spec(
            "docker.io/library/alpine:3.20",
            &["linux/amd64", "linux/arm64"],
        ),
    );
    // Make the store sparse: the host platform's manifest (docker/cli#5476's case) is gone.
    let host = match imagefs::platform::Platform::host().architecture.as_str() {
        "arm64" => "linux/arm64",
        _ => "linux/amd64",
    };
    let (gone, _) = platform_closure(&f.store, "alpine:3.20", host);
    f.store.remove_blob(&gone).expect("remove manifest");

    let entries = read_tar(&export(&f.store, &["alpine:3.20"], &[]));
    let legacy = json(&entry(&entries, "manifest.json").data);
    let list = legacy.as_array().expect("manifest.json is a list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["RepoTags"], serde_json::json!(["alpine:3.20"]));
    let config = list[0]["Config"].as_str().expect("Config");
    assert!(
        entries.iter().any(|e| e.name == config),
        "{config} not in archive"
    );
    for layer in list[0]["Layers"].as_array().expect("Layers") {
        let layer = layer.as_str().expect("layer path");
        assert!(
            entries.iter().any(|e| e.name == layer),
            "{layer} not in archive"
        );
    }
    assert!(!blob_entries(&entries).contains(&gone));
}

#[test]
fn export_several_refs_writes_shared_blobs_once() {
    let f = Fixture::new();
    let a = add(&f.store, &small_spec("alpine", &THREE));
    let mut other = small_spec("busybox", &["linux/amd64"]);
    other.seed = 2;
    let b = add(&f.store, &other);
    let (_, alpine_amd64) = platform_closure(&f.store, "alpine", "linux/amd64");
    let (_, busybox_amd64) = platform_closure(&f.store, "busybox", "linux/amd64");
    let shared: Vec<_> = alpine_amd64
        .iter()
        .filter(|d| busybox_amd64.contains(d))
        .collect();
    assert!(!shared.is_empty(), "fixture images must share a base layer");

    let entries = read_tar(&export(&f.store, &["alpine", "busybox"], &[]));
    for d in shared {
        let n = entries.iter().filter(|e| e.name == blob_name(d)).count();
        assert_eq!(n, 1, "{d} written {n} times");
    }
    let names: Vec<_> = entries.iter().map(|e| &e.name).collect();
    let unique: BTreeSet<_> = names.iter().collect();
    assert_eq!(names.len(), unique.len(), "a name appears twice");
    let index = json(&entry(&entries, "index.json").data);
    let digests: Vec<_> = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .map(|m| m["digest"].as_str().expect("digest").to_string())
        .collect();
    assert_eq!(digests, vec![a.digest.to_string(), b.digest.to_string()]);
    assert_eq!(
        json(&entry(&entries, "manifest.json").data)
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn export_by_digest_strips_names_and_repo_tags_are_null() {
    let f = Fixture::new();
    let target = add(&f.store, &small_spec("alpine", &THREE));
    let digest = target.digest.to_string();
    for platforms in [&[][..], &["linux/arm64"][..]] {
        let entries = read_tar(&export(&f.store, &[&digest], platforms));
        let index = json(&entry(&entries, "index.json").data);
        let annotations = &index["manifests"][0]["annotations"];
        assert!(
            annotations.get("io.containerd.image.name").is_none(),
            "{index}"
        );
        assert!(
            annotations
                .get("org.opencontainers.image.ref.name")
                .is_none(),
            "{index}"
        );
        let legacy = json(&entry(&entries, "manifest.json").data);
        assert_eq!(legacy[0]["RepoTags"], serde_json::Value::Null);
    }
}

#[test]
fn export_tar_layout_matches_docker_save() {
    let f = Fixture::new();
    let mut spec = small_spec("alpine", &THREE);
    spec.attestations = true;
    add(&f.store, &spec);
    let bytes = export(&f.store, &["alpine"], &[]);
    let entries = read_tar(&bytes);

    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "entries are sorted bytewise");
    assert_eq!(&names[..2], ["blobs/", "blobs/sha256/"]);
    assert_eq!(
        &names[names.len() - 3..],
        ["index.json", "manifest.json", "oci-layout"]
    );
    for e in &entries {
        assert_eq!(&e.header[257..265], b"ustar\x0000", "{} is USTAR", e.name);
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, 0), "{}", e.name);
        assert!(
            e.header[265..265 + 64].iter().all(|&b| b == 0),
            "uname/gname empty"
        );
        let expected_mode = match e.name.as_str() {
            "blobs/" | "blobs/sha256/" => 0o755,
            "index.json" | "manifest.json" => 0o644,
            _ => 0o444,
        };
        assert_eq!(e.mode, expected_mode, "{}", e.name);
        let expected_kind = if e.name.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        };
        assert_eq!(e.kind, expected_kind, "{}", e.name);
    }
    assert_eq!(
        entry(&entries, "oci-layout").data,
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    assert!(!entry(&entries, "index.json").data.ends_with(b"\n"));
    // Exactly two zero blocks after the last entry, no padding to a 10 KiB record.
    let (_, _, data, len) = spans(&bytes).pop().expect("entries");
    assert_eq!(
        bytes.len() as u64,
        (data + len).next_multiple_of(512) + 1024
    );
    assert!(bytes[bytes.len() - 1024..].iter().all(|&b| b == 0));
}

#[test]
fn round_trip_keeps_docker_media_type_zstd_plain_and_single_manifest_images() {
    use imagefs::sample::LayerCompression;
    let src = Fixture::new();
    let mut docker = small_spec("docker-list", &["linux/amd64", "linux/arm/v7"]);
    docker.docker_media_types = true;
    docker.seed = 11;
    let mut zstd = small_spec("zstd-layers", &["linux/arm64"]);
    zstd.compression = LayerCompression::Zstd;
    zstd.seed = 12;
    let mut plain = small_spec("plain-layers", &["linux/riscv64", "linux/amd64"]);
    plain.compression = LayerCompression::None;
    plain.seed = 13;
    let mut single = small_spec("single", &["linux/s390x"]);
    single.single_manifest = true;
    single.seed = 14;
    let names = ["docker-list", "zstd-layers", "plain-layers", "single"];
    for spec in [&docker, &zstd, &plain, &single] {
        add(&src.store, spec);
    }
    let bytes = export(&src.store, &names, &[]);
    let dst = Fixture::new();
    import_bytes(&dst.store, &bytes, &[]).expect("import");
    for name in names {
        assert_eq!(
            find(&src.store, name)[0].target,
            find(&dst.store, name)[0].target,
            "{name}"
        );
        assert_eq!(
            manifest_digests(&src.store, name),
            manifest_digests(&dst.store, name),
            "{name}"
        );
    }
    assert_eq!(blob_set(&src.store), blob_set(&dst.store));
    // One platform of a docker manifest list: the entry keeps the docker manifest media type.
    let one = read_tar(&export(&src.store, &["docker-list"], &["linux/arm/v7"]));
    let index = json(&entry(&one, "index.json").data);
    assert_eq!(
        index["manifests"][0]["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let dst = Fixture::new();
    import_bytes(&dst.store, &write_tar(&one), &["linux/arm/v7"]).expect("import one platform");
    assert_eq!(
        manifest_digests(&dst.store, "docker-list").len(),
        1,
        "only arm/v7 stored"
    );
}
