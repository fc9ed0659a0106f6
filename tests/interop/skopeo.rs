//! skopeo 1.9: it copies (and so verifies) every archive we write, it reads our store as a
//! layout by each image's full name, and the oci-archive and docker-archive it writes from our
//! store read as a layout import with its names and digests.

use super::*;

pub(crate) fn skopeo(args: &[&str]) -> Command {
    let mut c = Command::new(tool("skopeo"));
    c.arg("--insecure-policy").args(args);
    c
}

/// skopeo as if on `platform` (it picks one instance of an index for single-image targets).
pub(crate) fn skopeo_as(platform: &str, args: &[&str]) -> Command {
    let parts: Vec<&str> = platform.split('/').collect();
    let mut c = Command::new(tool("skopeo"));
    c.args([
        "--insecure-policy",
        "--override-os",
        parts[0],
        "--override-arch",
        parts[1],
    ]);
    if let Some(v) = parts.get(2) {
        c.args(["--override-variant", v]);
    }
    c.args(args);
    c
}

pub(crate) fn skopeo_versions() -> Vec<String> {
    versions_of(&[
        imagefs_version(),
        ("skopeo", cmd(tool("skopeo"), &["--version"])),
        (
            "containerd (docker-archive digest cross-check)",
            cmd(tool("containerd"), &["--version"]),
        ),
    ])
}

/// `skopeo copy oci-archive:|docker-archive: … dir:` of each archive verifies every digest.
#[test]
fn skopeo_reads_our_archives() {
    needs!("fuse", "skopeo");
    let mut m = Matrix::new("skopeo_reads_our_archives", skopeo_versions());
    let src = Source::new();
    for (n, case) in cases().iter().enumerate() {
        for (i, (source, archive)) in src.archives(case).into_iter().enumerate() {
            for transport in ["oci-archive", "docker-archive"] {
                let format = format!("{source}: {} (skopeo copy {transport}: dir:)", case.label());
                m.leg(
                    "skopeo",
                    "imagefs → skopeo",
                    &format,
                    short(case.image),
                    || {
                        let dir = src.f.path(&format!("skopeo-{n}-{i}-{transport}"));
                        let (cwd, file) = split(&archive);
                        let mut c = skopeo_as(
                            case.expected(),
                            &[
                                "copy",
                                &format!("{transport}:{file}"),
                                &format!("dir:{}", p(&dir)),
                            ],
                        );
                        c.current_dir(cwd);
                        run_stdout(&mut c);
                        let (manifest, children) =
                            platform_closure(&src.f.store, case.image, case.expected());
                        let copied = fs::read(dir.join("manifest.json")).expect("manifest");
                        if transport == "oci-archive" {
                            // The manifest, config and layers as stored, every digest verified.
                            assert_eq!(Digest::of(&copied), manifest, "the manifest skopeo copied");
                            for d in &children {
                                assert!(dir.join(d.hex()).is_file(), "{d} not copied");
                            }
                            return String::new();
                        }
                        // docker-archive (manifest.json): skopeo synthesizes a schema2 manifest
                        // and serves layers uncompressed, named by diff ID.
                        assert_eq!(manifest_json_config(&archive), children[0].to_string());
                        let config =
                            json(&fs::read(dir.join(children[0].hex())).expect("config copied"));
                        let diff_ids = config["rootfs"]["diff_ids"]
                            .as_array()
                            .expect("diff_ids")
                            .clone();
                        for d in &diff_ids {
                            let d = d.as_str().expect("diff id");
                            assert!(dir.join(&d[7..]).is_file(), "layer {d} not copied");
                        }
                        format!("{} layers, by diff ID", diff_ids.len())
                    },
                );
            }
        }
    }
    m.finish();
}

/// Images of one store that share the tag `1`: what `oci:STORE:REF` must tell apart.
pub(crate) fn tagged_1_store() -> (Fixture, Vec<(String, Digest)>) {
    let f = Fixture::new();
    let mut named = Vec::new();
    for (i, (name, platforms, single)) in [
        ("docker.io/library/refs:1", &MULTI_P[..], false),
        ("example.com/interop/refs:1", &MULTI_P[..2], false),
        ("quay.io/interop/refs:1", &SINGLE_P[..], true),
        ("localhost:5000/refs:1", &SINGLE_P[..], true),
    ]
    .into_iter()
    .enumerate()
    {
        let mut spec = small_spec(name, platforms);
        spec.seed = 10 + i as u64;
        spec.single_manifest = single;
        named.push((name.to_string(), add(&f.store, &spec).digest));
    }
    // A name that pins its digest too, as an import of `name:tag@digest` stores it.
    let (_, digest) = named[2].clone();
    let pinned = format!("example.com/interop/pinned:1@{digest}");
    let reference = imagefs::reference::Reference::parse_normalized(&pinned).expect("name");
    let target = f
        .store
        .images()
        .expect("images")
        .into_iter()
        .find(|r| r.target.digest == digest)
        .expect("stored")
        .bare_target();
    f.store
        .update_images(|images| {
            images.push(imagefs::store::ImageRecord::named(target, &reference));
            Ok(())
        })
        .expect("name with digest");
    named.push((pinned, digest));
    // Layer indexes beside the blobs (and a writer's temp file among them): skopeo and umoci
    // must read the layout as if they were not there.
    let kinds = [("toc", 1), ("zran", 1)].map(|(k, v)| imagefs::store::IndexKind::new(k, v));
    for (i, kind) in kinds.into_iter().enumerate() {
        for blob in f.store.list_blobs().expect("blobs") {
            f.store
                .write_index(&blob, kind, &[i as u8; 100])
                .expect("index");
        }
    }
    fs::write(
        f.root().join(imagefs::store::INDEX_DIR).join("tmp-writer"),
        b"partial",
    )
    .expect("temp file");
    (f, named)
}

/// Each image of the store by its full name (`oci:STORE:docker.io/library/refs:1`), though
/// they share a tag; the bare tag names none of them. Also for a store an earlier build wrote
/// (the tag alone as `ref.name`) once `imagefs fsck --repair` has run.
#[test]
fn skopeo_reads_the_store_by_full_name() {
    needs!("skopeo");
    let mut m = Matrix::new(
        "skopeo_reads_the_store_by_full_name",
        versions_of(&[
            imagefs_version(),
            ("skopeo", cmd(tool("skopeo"), &["--version"])),
        ]),
    );
    let (f, named) = tagged_1_store();
    let store = p(f.root()).to_string();
    let direction = "imagefs store → skopeo";
    let check_all = |m: &mut Matrix, format: &str| {
        for (n, (name, digest)) in named.iter().enumerate() {
            let what = name.rsplit_once('@').map_or(name.as_str(), |(n, _)| n);
            let what = format!(
                "{}{}",
                what,
                if name.contains('@') { "@digest" } else { "" }
            );
            m.leg("skopeo", direction, format, &what, || {
                let from = format!("oci:{store}:{name}");
                let raw = run_stdout(&mut skopeo(&["inspect", "--raw", &from]));
                assert_eq!(
                    Digest::of(raw.as_bytes()),
                    *digest,
                    "skopeo inspect --raw {from}"
                );
                // Copied whole into an archive (every blob verified), the same image.
                let out = f.path(&format!("refs-{n}.tar"));
                let _ = fs::remove_file(&out);
                run_stdout(&mut skopeo(&[
                    "copy",
                    "--all",
                    &from,
                    &format!("oci-archive:{}", p(&out)),
                ]));
                let copied = run_stdout(&mut skopeo(&[
                    "inspect",
                    "--raw",
                    &format!("oci-archive:{}", p(&out)),
                ]));
                assert_eq!(
                    Digest::of(copied.as_bytes()),
                    *digest,
                    "skopeo copy --all {from}"
                );
                String::new()
            });
        }
    };
    let bare_tag = |m: &mut Matrix, format: &str| {
        m.leg("skopeo", direction, format, "the 5 names tagged 1", || {
            let err = run_fails(&mut skopeo(&[
                "inspect",
                "--raw",
                &format!("oci:{store}:1"),
            ]));
            assert!(
                err.contains(r#"no descriptor found for reference \"1\""#),
                "oci:STORE:1 named an image: {err}"
            );
            "refused: no descriptor found for reference \"1\"".to_string()
        });
    };
    check_all(
        &mut m,
        "skopeo inspect --raw, copy --all oci:STORE:FULL-NAME",
    );
    bare_tag(&mut m, "skopeo inspect --raw oci:STORE:1 (bare tag)");

    // A store as an earlier build wrote it: `ref.name` the tag alone, which containers/image
    // matches first come, first served. `imagefs fsck --repair` writes the full names.
    let index_path = f.root().join("index.json");
    let mut index = json(&fs::read(&index_path).expect("index.json"));
    for d in index["manifests"].as_array_mut().expect("manifests") {
        d["annotations"]["org.opencontainers.image.ref.name"] = "1".into();
    }
    fs::write(&index_path, serde_json::to_vec(&index).expect("json")).expect("write");
    m.leg(
        "skopeo",
        direction,
        "a store with tag-only ref.name: skopeo inspect --raw oci:STORE:1",
        "the 5 names tagged 1",
        || {
            let raw = run_stdout(&mut skopeo(&[
                "inspect",
                "--raw",
                &format!("oci:{store}:1"),
            ]));
            // index.json is sorted by name: docker.io/library/refs:1 comes first.
            assert_eq!(Digest::of(raw.as_bytes()), named[0].1);
            "takes the first in index.json, silently: why ref.name is the full name".to_string()
        },
    );
    run_stdout(imagefs(f.root()).args(["fsck", "--repair"]));
    check_all(
        &mut m,
        "after imagefs fsck --repair of that store: oci:STORE:FULL-NAME",
    );
    bare_tag(
        &mut m,
        "after imagefs fsck --repair of that store: oci:STORE:1",
    );

    // A name Docker's grammar allows and the OCI ref.name grammar does not: stored under its
    // full name all the same, and refused by skopeo's reference parser. Run relative to the
    // fixture dir, so the recorded error is the same on every run.
    let odd = odd_name_store();
    let mut c = skopeo(&["inspect", "--raw", &format!("oci:store:{ODD_NAME}")]);
    c.current_dir(odd.root().parent().expect("fixture dir"));
    m.known_limitation(
        "skopeo",
        direction,
        "skopeo inspect --raw oci:STORE:FULL-NAME, a name outside the OCI ref.name grammar",
        ODD_NAME,
        &format!("Invalid image {ODD_NAME}"),
        &output(&mut c),
    );
    m.finish();
}

/// Allowed by distribution/reference (`__` joins path components), not by the OCI `ref.name`
/// grammar, which containers/image and umoci check references against.
pub(crate) const ODD_NAME: &str = "docker.io/library/refs__odd:1";

/// A store holding one image named [`ODD_NAME`], whose `ref.name` is that name.
pub(crate) fn odd_name_store() -> Fixture {
    let f = Fixture::new();
    add(&f.store, &small_spec(ODD_NAME, &SINGLE_P));
    let index = json(&fs::read(f.root().join("index.json")).expect("index.json"));
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        ODD_NAME
    );
    assert_eq!(f.root().file_name().and_then(|n| n.to_str()), Some("store"));
    f
}

/// skopeo writes oci-archive (index kept; layers as stored, gzip, zstd) and docker-archive
/// from our store read as an OCI layout; each imports with skopeo's names and digests.
#[test]
fn skopeo_archives_import_into_imagefs() {
    needs!("fuse", "root", "skopeo", "containerd");
    let mut m = Matrix::new("skopeo_archives_import_into_imagefs", skopeo_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    let root = src.f.root().to_path_buf();
    let mut n = 0;
    for image in IMAGES {
        let mut from = format!("oci:{}:{image}", p(&root));
        let mut cwd = root.clone();
        if image == DOCKERTYPES {
            // skopeo 1.9 looks a name up in index.json among OCI media types only; a docker
            // manifest list named there is "not found". Asserted, then read from our export.
            // Relative to the fixture dir, so the recorded error is the same on every run.
            let mut c = skopeo(&["inspect", "--raw", &format!("oci:store:{image}")]);
            c.current_dir(root.parent().expect("fixture dir"));
            let out = output(&mut c);
            m.known_limitation(
                "skopeo",
                "peer → imagefs import",
                "skopeo copy oci:STORE:FULL-NAME (our store as a layout)",
                short(image),
                "no descriptor found for reference",
                &out,
            );
            let archive = src.export(&Case {
                image,
                platforms: vec![],
            });
            let (dir, file) = split(&archive);
            from = format!("oci-archive:{file}");
            cwd = dir;
        }
        for (label, extra, transport) in [
            (
                "skopeo copy --all oci-archive: (as stored)",
                vec!["--all"],
                "oci-archive",
            ),
            (
                "skopeo copy --all --dest-compress-format gzip oci-archive:",
                vec!["--all", "--dest-compress", "--dest-compress-format", "gzip"],
                "oci-archive",
            ),
            (
                "skopeo copy --all --dest-compress-format zstd oci-archive:",
                vec!["--all", "--dest-compress", "--dest-compress-format", "zstd"],
                "oci-archive",
            ),
            (
                "skopeo copy docker-archive: (linux/amd64)",
                vec![],
                "docker-archive",
            ),
        ] {
            n += 1;
            let out = src.f.path(&format!("skopeo-{n}.tar"));
            let dest = format!("{transport}:{}:{image}", p(&out));
            let mut args = vec!["copy"];
            args.extend(extra.iter().copied());
            args.push(&from);
            args.push(&dest);
            let mut c = skopeo_as("linux/amd64", &args);
            c.current_dir(&cwd);
            let made = output(&mut c);
            if image == ZSTD && transport == "docker-archive" {
                m.known_limitation(
                    "skopeo",
                    "peer → imagefs import",
                    label,
                    short(image),
                    "zstd compression is not supported for docker images",
                    &made,
                );
                continue;
            }
            if !made.status.success() {
                m.leg(
                    "skopeo",
                    "peer → imagefs import",
                    label,
                    short(image),
                    || panic!("skopeo copy failed: {}", text(&made.stderr)),
                );
                continue;
            }
            let docker_archive = transport == "docker-archive";
            let raw = run_stdout(&mut skopeo(&[
                "inspect",
                "--raw",
                &format!("{transport}:{}", p(&out)),
            ]));
            let reported = if docker_archive {
                // No manifest in the archive: match the one containerd builds on import.
                ctr_import_digests(&ctd, &format!("skopeo-{n}"), &out)
                    .remove(image)
                    .unwrap_or_default()
            } else {
                Digest::of(raw.as_bytes()).to_string()
            };
            let platforms: Vec<&str> = if docker_archive {
                vec!["linux/amd64"]
            } else {
                image_platforms(image).to_vec()
            };
            let want = vec![loaded(image, &reported, &platforms)];
            let store = root.clone();
            let plats = platforms.clone();
            // Into oci-archive, skopeo converts docker manifests to OCI and re-marshals the
            // config (as podman does); the manifest digest then pins the new config.
            let converted = image == DOCKERTYPES && !docker_archive;
            import_legs(&mut m, "skopeo", label, &out, &want, &|dst| {
                for p in plats.iter().filter(|_| !converted) {
                    // Configs survive every copy (compression changes layers only).
                    assert_eq!(
                        inspect_config(dst, image, p),
                        inspect_config(&store, image, p),
                        "{image} {p} config"
                    );
                }
                if docker_archive {
                    assert_layers_are_diff_ids(dst, image, "linux/amd64");
                }
            });
        }
    }
    m.finish();
}
