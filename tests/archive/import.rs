//! Import semantics through the library: the platform filter stores exactly the selected
//! closure (with its attestations) or fails naming what the archive has, sparse archives load
//! their complete platforms, importing twice changes nothing, several images load from one
//! archive, docker-archives with symlinked layers load, and compressed input (gzip, zstd, xz,
//! bzip2) imports from a file and from a pipe.

use super::*;

#[test]
fn import_platform_filter_stores_only_selected_closure() {
    let src = Fixture::new();
    let target = add(&src.store, &small_spec("alpine", &THREE));
    let bytes = export(&src.store, &["alpine"], &[]);

    let dst = Fixture::new();
    import_bytes(&dst.store, &bytes, &["linux/arm64"]).expect("import");
    let (m, children) = platform_closure(&src.store, "alpine", "linux/arm64");
    let mut expected = BTreeSet::from([target.digest, m]);
    expected.extend(children.iter().copied());
    assert_eq!(blob_set(&dst.store), expected);
    for p in ["linux/amd64", "linux/riscv64"] {
        let (other, other_children) = platform_closure(&src.store, "alpine", p);
        for d in std::iter::once(other).chain(other_children) {
            if !children.contains(&d) {
                assert!(!dst.store.blob_path(&d).exists(), "{p} blob {d} stored");
            }
        }
    }
    // The original index stays the target.
    assert_eq!(find(&dst.store, "alpine")[0].target.digest, target.digest);
}

#[test]
fn import_platform_filter_brings_attestations_of_selected_manifests() {
    let src = Fixture::new();
    let mut spec = small_spec("alpine", &THREE);
    spec.attestations = true;
    let target = add(&src.store, &spec);
    let bytes = export(&src.store, &["alpine"], &[]);
    let index = json(&std::fs::read(src.store.blob_path(&target.digest)).expect("index"));
    let (arm, _) = platform_closure(&src.store, "alpine", "linux/arm64");
    let attestation_of = |subject: &Digest| -> Digest {
        index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .find(|m| m["annotations"]["vnd.docker.reference.digest"] == subject.to_string())
            .map(|m| {
                m["digest"]
                    .as_str()
                    .expect("digest")
                    .parse()
                    .expect("digest")
            })
            .expect("attestation present")
    };

    let dst = Fixture::new();
    import_bytes(&dst.store, &bytes, &["linux/arm64"]).expect("import");
    let wanted = attestation_of(&arm);
    assert!(
        dst.store.has_blob(&wanted),
        "attestation of the selected manifest"
    );
    let graph = ImageGraph::of_record(&dst.store, &find(&dst.store, "alpine")[0]).expect("graph");
    let att = graph
        .manifests
        .iter()
        .find(|m| m.descriptor.digest == wanted)
        .expect("attestation in graph");
    assert!(
        att.is_complete(),
        "attestation's config and layer came along"
    );
    let (amd, _) = platform_closure(&src.store, "alpine", "linux/amd64");
    assert!(!dst.store.has_blob(&attestation_of(&amd)));
}

#[test]
fn import_missing_platform_errors_listing_available_and_changes_nothing() {
    let src = Fixture::new();
    add(&src.store, &small_spec("alpine", &THREE));
    let bytes = export(&src.store, &["alpine"], &[]);
    let dst = Fixture::new();
    let mut other = small_spec("busybox", &["linux/s390x"]);
    other.seed = 9;
    add(&dst.store, &other);
    let before = snapshot(dst.root());

    let err = import_bytes(&dst.store, &bytes, &["linux/arm64", "linux/ppc64le"])
        .expect_err("ppc64le is not in the archive");
    let msg = imagefs::error::chain(&err);
    assert!(msg.contains("linux/ppc64le"), "{msg}");
    for p in ["linux/amd64", "linux/arm64", "linux/riscv64"] {
        assert!(msg.contains(p), "{msg} lacks {p}");
    }
    assert_unchanged(&dst.store, &before);
}

/// The archive `docker save` writes for a partly pulled image: the index lists riscv64, but the
/// tar lacks its manifest, config and layers.
fn sparse_archive(src: &Fixture, also_keep_manifest: bool) -> Vec<u8> {
    add(&src.store, &small_spec("alpine", &THREE));
    let (m, children) = platform_closure(&src.store, "alpine", "linux/riscv64");
    let (_, kept_children) = platform_closure(&src.store, "alpine", "linux/amd64");
    let mut dropped: BTreeSet<String> = children
        .iter()
        .filter(|d| !kept_children.contains(d))
        .map(blob_name)
        .collect();
    if also_keep_manifest {
        // Keep the manifest and config, lose only the layers: incomplete, not absent.
        dropped.remove(&blob_name(&children[0]));
    } else {
        dropped.insert(blob_name(&m));
    }
    let entries: Vec<Entry> = read_tar(&export(&src.store, &["alpine"], &[]))
        .into_iter()
        .filter(|e| !dropped.contains(&e.name))
        .collect();
    write_tar(&entries)
}

fn ls_platforms(f: &Fixture) -> Vec<String> {
    let out = run(imagefs(f.root()).args(["ls", "--json"])).stdout;
    let list = json(&out);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let mut platforms: Vec<String> = list[0]["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .map(|p| p.as_str().expect("platform").to_string())
        .collect();
    platforms.sort();
    platforms
}

#[test]
fn import_sparse_archive_without_platform_loads_complete_platforms() {
    let src = Fixture::new();
    let bytes = sparse_archive(&src, false);
    let dst = Fixture::new();
    import_bytes(&dst.store, &bytes, &[]).expect("sparse import");
    assert_eq!(ls_platforms(&dst), ["linux/amd64", "linux/arm64"]);
    let exported = read_tar(&export(&dst.store, &["alpine"], &[]));
    let (riscv, _) = platform_closure(&src.store, "alpine", "linux/riscv64");
    assert!(!blob_entries(&exported).contains(&riscv));
}

#[test]
fn import_sparse_archive_with_incomplete_platform_shows_only_complete_ones() {
    let src = Fixture::new();
    let bytes = sparse_archive(&src, true);
    let dst = Fixture::new();
    import_bytes(&dst.store, &bytes, &[]).expect("sparse import");
    assert_eq!(ls_platforms(&dst), ["linux/amd64", "linux/arm64"]);
}

#[test]
fn import_twice_is_a_noop() {
    let src = Fixture::new();
    add(&src.store, &small_spec("alpine", &THREE));
    let bytes = export(&src.store, &["alpine"], &[]);
    let dst = Fixture::new();
    import_bytes(&dst.store, &bytes, &[]).expect("first import");
    let before = snapshot(dst.root());
    let index_before = std::fs::read(dst.root().join("index.json")).expect("index.json");
    let again = import_bytes(&dst.store, &bytes, &[]).expect("second import");
    assert_eq!(again.len(), 1);
    assert_eq!(
        std::fs::read(dst.root().join("index.json")).expect("index.json"),
        index_before
    );
    assert_unchanged(&dst.store, &before);
}

#[test]
fn import_loads_several_images_from_one_archive() {
    let src = Fixture::new();
    let a = add(&src.store, &small_spec("alpine", &THREE));
    let mut spec = small_spec("quay.io/org/busybox:2", &["linux/arm/v7"]);
    spec.seed = 3;
    let b = add(&src.store, &spec);
    let bytes = export(&src.store, &["alpine", "quay.io/org/busybox:2"], &[]);
    let dst = Fixture::new();
    let loaded = import_bytes(&dst.store, &bytes, &[]).expect("import");
    let mut names: Vec<String> = loaded.iter().map(|l| l.describe()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Loaded image: alpine:latest",
            "Loaded image: quay.io/org/busybox:2"
        ]
    );
    assert_eq!(find(&dst.store, "alpine:latest")[0].target.digest, a.digest);
    assert_eq!(
        find(&dst.store, "quay.io/org/busybox:2")[0].target.digest,
        b.digest
    );
}

/// A docker-archive as skopeo writes it: `<diffid>.tar` layer files, `<config>.json`, and
/// `<id>/layer.tar` relative symlinks that `manifest.json` names.
fn docker_archive(layers: &[Vec<u8>], tag: &str) -> (Vec<u8>, Digest, Vec<Digest>) {
    let diff_ids: Vec<Digest> = layers.iter().map(|l| Digest::of(l)).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
    }))
    .expect("config JSON");
    let config_digest = Digest::of(&config);
    let mut builder = tar::Builder::new(Vec::new());
    let add_file = |b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("append");
    };
    let mut layer_paths = Vec::new();
    for (i, (layer, id)) in layers.iter().zip(&diff_ids).enumerate() {
        add_file(&mut builder, &format!("{}.tar", id.hex()), layer);
        let dir = format!("{:064x}", i + 1);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        h.set_cksum();
        builder
            .append_link(
                &mut h,
                format!("{dir}/layer.tar"),
                format!("../{}.tar", id.hex()),
            )
            .expect("symlink");
        layer_paths.push(format!("{dir}/layer.tar"));
    }
    add_file(
        &mut builder,
        &format!("{}.json", config_digest.hex()),
        &config,
    );
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("{}.json", config_digest.hex()),
        "RepoTags": [tag],
        "Layers": layer_paths,
    }]))
    .expect("manifest JSON");
    add_file(&mut builder, "manifest.json", &manifest);
    (
        builder.into_inner().expect("finish tar"),
        config_digest,
        diff_ids,
    )
}

fn layer_tar(file: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, file, content).expect("append");
    b.into_inner().expect("finish")
}

#[test]
fn import_docker_archive_with_relative_symlink_layers() {
    let layers = vec![
        layer_tar("etc/hello", b"hello from layer one\n"),
        layer_tar("usr/bin/tool", b"#!/bin/sh\necho two\n"),
    ];
    let (bytes, config, diff_ids) = docker_archive(&layers, "myimg:1.0");
    let f = Fixture::new();
    let loaded = import_bytes(&f.store, &bytes, &[]).expect("import docker-archive");
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].describe(), "Loaded image: myimg:1.0");
    assert_eq!(
        loaded[0].name.as_ref().map(|n| n.to_string()).as_deref(),
        Some("docker.io/library/myimg:1.0")
    );
    let record = find(&f.store, "myimg:1.0").remove(0);
    let graph = ImageGraph::of_record(&f.store, &record).expect("graph");
    assert_eq!(graph.manifests.len(), 1);
    let m = &graph.manifests[0];
    assert!(m.is_complete());
    assert_eq!(
        m.platform
            .as_ref()
            .map(|p| p.normalize().format())
            .as_deref(),
        Some("linux/arm64")
    );
    let children: Vec<Digest> = m.children.iter().map(|d| d.digest).collect();
    let mut expected = vec![config];
    expected.extend(diff_ids.iter().copied());
    assert_eq!(children, expected);
    for (layer, id) in layers.iter().zip(&diff_ids) {
        assert_eq!(
            &std::fs::read(f.store.blob_path(id)).expect("layer blob"),
            layer
        );
    }
}

fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    match kind {
        "gzip" => gzip(data),
        "zstd" => zstd::encode_all(data, 3).expect("zstd"),
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).expect("xz");
            e.finish().expect("xz")
        }
        "bzip2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).expect("bzip2");
            e.finish().expect("bzip2")
        }
        _ => unreachable!("{kind}"),
    }
}

#[test]
fn import_compressed_input_from_file_and_stdin() {
    let src = Fixture::new();
    let target = add(
        &src.store,
        &small_spec("alpine", &["linux/amd64", "linux/arm64"]),
    );
    let plain = export(&src.store, &["alpine"], &[]);
    for kind in ["gzip", "zstd", "xz", "bzip2"] {
        let data = compress(kind, &plain);
        assert_ne!(data[..8], plain[..8]);
        // From a file.
        let dst = Fixture::new();
        let file = dst.path(&format!("image.tar.{kind}"));
        std::fs::write(&file, &data).expect("write archive");
        let mut c = imagefs(dst.root());
        c.arg("import").arg(&file);
        let out = run_stdout(&mut c);
        assert_eq!(out.trim(), "Loaded image: alpine:latest", "{kind} file");
        assert_eq!(
            find(&dst.store, "alpine")[0].target.digest,
            target.digest,
            "{kind}"
        );
        // From a pipe.
        let dst = Fixture::new();
        let mut c = imagefs(dst.root());
        c.args(["import", "-"]);
        let out = text(&ok(run_with_input(c, &data)));
        assert_eq!(out.trim(), "Loaded image: alpine:latest", "{kind} stdin");
        assert_eq!(
            find(&dst.store, "alpine")[0].target.digest,
            target.digest,
            "{kind}"
        );
        assert_eq!(blob_set(&dst.store), blob_set(&src.store), "{kind}");
    }
}
