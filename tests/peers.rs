//! Real peers: skopeo reads what we export and our store, we import what skopeo writes, and umoci
//! unpacks an image that went through us. skopeo and umoci are required: a missing tool fails
//! the test, unless `IMAGEFS_TEST_SKIP` names it (see tests/common/needs.rs).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use imagefs::digest::Digest;

fn skopeo(args: &[&str]) -> Vec<u8> {
    let mut c = Command::new(tool("skopeo"));
    c.args([
        "--insecure-policy",
        "--override-os",
        "linux",
        "--override-arch",
        "amd64",
    ])
    .args(args);
    run(&mut c).stdout
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn skopeo_copies_every_archive_we_export() {
    needs!("skopeo");
    let f = Fixture::new();
    add(&f.store, &small_spec("alpine", &THREE));
    let cases: [(&str, &[&str]); 3] = [
        ("image.tar", &[]),
        ("one.tar", &["linux/arm64"]),
        ("two.tar", &["linux/amd64", "linux/arm64"]),
    ];
    for (file, platforms) in cases {
        let archive = f.path(file);
        std::fs::write(&archive, export(&f.store, &["alpine"], platforms)).expect("write");
        let dir = f.path(&format!("{file}.dir"));
        skopeo(&[
            "copy",
            &format!("oci-archive:{}", p(&archive)),
            &format!("dir:{}", p(&dir)),
        ]);
        // skopeo picked (and verified) one manifest: the requested one, or amd64 from the index.
        let want = platforms.first().copied().unwrap_or("linux/amd64");
        let (manifest, children) = platform_closure(&f.store, "alpine", want);
        let copied = std::fs::read(dir.join("manifest.json")).expect("copied manifest");
        assert_eq!(Digest::of(&copied), manifest, "{file}");
        for d in children {
            assert!(dir.join(d.hex()).is_file(), "{file}: {d} not copied");
        }
    }
}

#[test]
fn skopeo_reads_the_store_as_an_oci_layout() {
    needs!("skopeo");
    let f = Fixture::new();
    let target = add(
        &f.store,
        &small_spec("example.com/peer/readme:uniq-7f3a", &THREE),
    );
    add(&f.store, &small_spec("alpine", &["linux/amd64"]));
    let raw = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci:{}:example.com/peer/readme:uniq-7f3a", p(f.root())),
    ]);
    assert_eq!(Digest::of(&raw), target.digest);
    let info = json(&skopeo(&[
        "inspect",
        &format!("oci:{}:example.com/peer/readme:uniq-7f3a", p(f.root())),
    ]));
    // skopeo reports the top-level digest and describes the instance for the host platform.
    assert_eq!(info["Digest"], target.digest.to_string(), "{info}");
    assert_eq!(info["Architecture"], "amd64", "{info}");
    let (_, amd) = platform_closure(&f.store, "example.com/peer/readme:uniq-7f3a", "linux/amd64");
    let layers: Vec<String> = amd[1..].iter().map(|d| d.to_string()).collect();
    assert_eq!(info["Layers"], serde_json::json!(layers), "{info}");
}

#[test]
fn import_reads_skopeo_oci_archives_plain_and_gzipped() {
    needs!("skopeo");
    let src = Fixture::new();
    let target = add(&src.store, &small_spec("example.com/peer/src:tag1", &THREE));
    let archive = src.path("skopeo-oci.tar");
    skopeo(&[
        "copy",
        "--all",
        &format!("oci:{}:example.com/peer/src:tag1", p(src.root())),
        &format!("oci-archive:{}:docker.io/library/peer:1.0", p(&archive)),
    ]);
    let reported = Digest::of(&skopeo(&[
        "inspect",
        "--raw",
        &format!("oci-archive:{}", p(&archive)),
    ]));
    assert_eq!(reported, target.digest, "skopeo kept the index");
    let plain = std::fs::read(&archive).expect("archive");
    let gzipped = gzip(&plain);
    for bytes in [plain, gzipped] {
        let dst = Fixture::new();
        let loaded = import_bytes(&dst.store, &bytes, &[]).expect("import skopeo oci-archive");
        assert_eq!(loaded.len(), 1);
        assert_eq!(
            loaded[0].name.as_ref().map(|n| n.to_string()).as_deref(),
            Some("docker.io/library/peer:1.0")
        );
        assert_eq!(loaded[0].digest, reported);
        assert_eq!(
            manifest_digests(&dst.store, "peer:1.0"),
            manifest_digests(&src.store, "example.com/peer/src:tag1")
        );
    }
}

#[test]
fn import_reads_skopeo_docker_archives_plain_and_gzipped() {
    needs!("skopeo");
    let src = Fixture::new();
    add(&src.store, &small_spec("example.com/peer/src:tag2", &THREE));
    let archive = src.path("skopeo-docker.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:example.com/peer/src:tag2", p(src.root())),
        &format!("docker-archive:{}:peer:2.0", p(&archive)),
    ]);
    let source = format!("docker-archive:{}", p(&archive));
    let config = skopeo(&["inspect", "--config", "--raw", &source]);
    let info = json(&skopeo(&["inspect", &source]));
    let layers: Vec<String> = info["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .map(|l| l.as_str().expect("digest").to_string())
        .collect();
    let plain = std::fs::read(&archive).expect("archive");
    let gzipped = gzip(&plain);
    for bytes in [plain, gzipped] {
        let dst = Fixture::new();
        let loaded = import_bytes(&dst.store, &bytes, &[]).expect("import skopeo docker-archive");
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].describe(), "Loaded image: peer:2.0");
        let record = find(&dst.store, "peer:2.0").remove(0);
        let graph = imagefs::image::ImageGraph::of_record(&dst.store, &record).expect("graph");
        assert_eq!(graph.manifests.len(), 1);
        let children: Vec<String> = graph.manifests[0]
            .children
            .iter()
            .map(|d| d.digest.to_string())
            .collect();
        assert_eq!(
            children[0],
            Digest::of(&config).to_string(),
            "config digest"
        );
        assert_eq!(children[1..], layers[..], "layer digests");
        assert_eq!(
            graph.manifests[0]
                .platform
                .as_ref()
                .map(|p| p.normalize().format())
                .as_deref(),
            Some("linux/amd64")
        );
    }
}

#[test]
fn umoci_unpacks_an_image_exported_by_us() {
    needs!("skopeo", "umoci");
    let f = Fixture::new();
    add(&f.store, &small_spec("alpine", &THREE));
    let archive = f.path("one.tar");
    std::fs::write(&archive, export(&f.store, &["alpine"], &["linux/arm64"])).expect("write");
    let layout = f.path("layout");
    skopeo(&[
        "copy",
        &format!("oci-archive:{}", p(&archive)),
        &format!("oci:{}:tag", p(&layout)),
    ]);
    let bundle = f.path("bundle");
    let mut c = Command::new(tool("umoci"));
    c.args([
        "unpack",
        "--image",
        &format!("{}:tag", p(&layout)),
        p(&bundle),
    ]);
    run(&mut c);
    let rootfs = bundle.join("rootfs");
    // The sample's layers: a shared base file and one file per platform layer.
    for file in ["data/base.bin", "data/linux-arm64-1.bin"] {
        let meta = std::fs::metadata(rootfs.join(file))
            .unwrap_or_else(|e| panic!("{file} not unpacked: {e}"));
        assert_eq!(meta.len(), 2048, "{file}");
    }
}
