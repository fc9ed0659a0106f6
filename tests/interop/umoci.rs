//! umoci 0.4: it unpacks the rootfs of a one-platform tar we wrote.

use super::*;

/// umoci unpacks the rootfs of a one-platform tar (extracted: umoci reads layouts, not tars).
#[test]
fn umoci_unpacks_our_one_platform_tars() {
    needs!("fuse", "umoci");
    let mut m = Matrix::new(
        "umoci_unpacks_our_one_platform_tars",
        versions_of(&[
            imagefs_version(),
            ("umoci", cmd(tool("umoci"), &["--version"])),
        ]),
    );
    let src = Source::new();
    for (n, case) in cases()
        .iter()
        .filter(|c| c.platforms.len() == 1)
        .enumerate()
    {
        for (i, (source, archive)) in src.archives(case).into_iter().enumerate() {
            let format = format!("{source}: {} (tar -x; umoci unpack)", case.label());
            let layout = src.f.path(&format!("umoci-{n}-{i}"));
            fs::create_dir_all(&layout).expect("layout dir");
            run_stdout(&mut cmd("tar", &["-xf", p(&archive), "-C", p(&layout)]));
            let bundle = src.f.path(&format!("bundle-{n}-{i}"));
            let mut c = Command::new(tool("umoci"));
            c.args([
                "unpack",
                "--image",
                &format!("{}:{}", p(&layout), tag(case.image)),
                p(&bundle),
            ]);
            let out = output(&mut c);
            // umoci 0.4.7 reads OCI media types only: no zstd layers, no docker manifests.
            let known = match case.image {
                ZSTD => Some(
                    "blob is not correct mediatype: application/vnd.oci.image.layer.v1.tar+zstd",
                ),
                DOCKERTYPES => {
                    Some("not implemented: application/vnd.docker.distribution.manifest.v2+json")
                }
                _ => None,
            };
            if let Some(known) = known {
                m.known_limitation(
                    "umoci",
                    "imagefs → umoci unpack",
                    &format,
                    short(case.image),
                    known,
                    &out,
                );
                continue;
            }
            m.leg(
                "umoci",
                "imagefs → umoci unpack",
                &format,
                short(case.image),
                || {
                    assert!(out.status.success(), "umoci unpack: {}", text(&out.stderr));
                    let rootfs = bundle.join("rootfs");
                    let plat = imagefs::platform::Platform::parse(case.expected())
                        .expect("platform")
                        .normalize();
                    let mut files = vec!["data/base.bin".to_string()];
                    files.push(format!("data/{}-1.bin", plat.file_name()));
                    for file in files {
                        let meta = fs::metadata(rootfs.join(&file))
                            .unwrap_or_else(|e| panic!("{file} not unpacked: {e}"));
                        assert_eq!(meta.len(), 2048, "{file}");
                    }
                    String::new()
                },
            );
        }
    }
    m.finish();
}

/// umoci reads our store as a layout by each image's full name (`--image STORE:quay.io/…:1`),
/// though its images share the tag `1`; the bare tag names none of them.
#[test]
fn umoci_unpacks_from_the_store_by_full_name() {
    needs!("umoci");
    let mut m = Matrix::new(
        "umoci_unpacks_from_the_store_by_full_name",
        versions_of(&[
            imagefs_version(),
            ("umoci", cmd(tool("umoci"), &["--version"])),
        ]),
    );
    let (f, named) = tagged_1_store();
    let store = p(f.root()).to_string();
    let before = fs::read(f.root().join("index.json")).expect("index.json");
    let direction = "imagefs store → umoci unpack";
    for (n, (name, digest)) in named.iter().enumerate() {
        let what = name.rsplit_once('@').map_or(name.as_str(), |(n, _)| n);
        let what = format!(
            "{}{}",
            what,
            if name.contains('@') { "@digest" } else { "" }
        );
        let format = "umoci unpack --image STORE:FULL-NAME";
        let bundle = f.path(&format!("bundle-{n}"));
        let mut c = Command::new(tool("umoci"));
        c.args(["unpack", "--image", &format!("{store}:{name}"), p(&bundle)]);
        let out = output(&mut c);
        let record = find(&f.store, name).remove(0);
        let graph = imagefs::image::ImageGraph::of_record(&f.store, &record).expect("graph");
        if graph.manifests.len() > 1 {
            // umoci 0.4.7 picks no platform: an index of several manifests is "ambiguous"
            // (it says the name it was given, so the full name did resolve).
            m.known_limitation(
                "umoci",
                direction,
                format,
                &what,
                &format!("tag is ambiguous: {name}"),
                &out,
            );
            continue;
        }
        m.leg("umoci", direction, format, &what, || {
            assert!(out.status.success(), "umoci unpack: {}", text(&out.stderr));
            // umoci names the manifest it unpacked in the bundle (sha256_<hex>.mtree).
            let manifest = graph.manifests[0].descriptor.digest;
            let mtree = bundle.join(format!("sha256_{}.mtree", manifest.hex()));
            assert!(mtree.is_file(), "{} missing", mtree.display());
            assert!(*digest == record.target.digest);
            String::new()
        });
    }
    m.leg(
        "umoci",
        direction,
        "umoci unpack --image STORE:1 (bare tag)",
        "the 5 names tagged 1",
        || {
            let bundle = f.path("bundle-bare");
            let mut c = Command::new(tool("umoci"));
            c.args(["unpack", "--image", &format!("{store}:1"), p(&bundle)]);
            let err = run_fails(&mut c);
            assert!(
                err.contains("tag is not found: 1"),
                "STORE:1 named an image: {err}"
            );
            "refused: tag is not found: 1".to_string()
        },
    );
    // Reading wrote nothing into the store.
    assert_eq!(
        fs::read(f.root().join("index.json")).expect("index.json"),
        before
    );

    // A name outside the OCI ref.name grammar (see skopeo.rs): umoci refuses to look it up.
    let odd = odd_name_store();
    let mut c = Command::new(tool("umoci"));
    c.args([
        "unpack",
        "--image",
        &format!("{}:{ODD_NAME}", p(odd.root())),
        p(&odd.path("bundle")),
    ]);
    m.known_limitation(
        "umoci",
        direction,
        "umoci unpack --image STORE:FULL-NAME, a name outside the OCI ref.name grammar",
        ODD_NAME,
        &format!("tag contains invalid characters: '{ODD_NAME}'"),
        &output(&mut c),
    );
    m.finish();
}
