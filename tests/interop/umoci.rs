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
