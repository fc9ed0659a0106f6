//! podman 4.3 (rootful, every path private): `podman load` of our archives picks the expected
//! platform, and `podman save` in both formats imports with podman's names and digests.

use super::*;

/// podman, rootful, with every path private; no daemon to stop, mounts detached on drop.
pub(crate) struct Podman {
    pub(crate) dir: TempDir,
}

impl Podman {
    pub(crate) fn new() -> Podman {
        let dir = private_dir("podman");
        fs::create_dir_all(dir.path().join("tmp")).expect("tmp");
        fs::write(
            dir.path().join("policy.json"),
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .expect("policy");
        fs::write(dir.path().join("registries.conf"), "").expect("registries.conf");
        fs::write(dir.path().join("containers.conf"), "").expect("containers.conf");
        Podman { dir }
    }

    pub(crate) fn podman(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new(tool("podman"));
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "file",
            ])
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args(args);
        c
    }

    /// Empties podman's store, then runs `podman ARGS` in `archive`'s directory with `{file}`
    /// in ARGS standing for its file name (podman splits `transport:PATH` at a colon); stdout.
    pub(crate) fn run_emptied(&self, archive: &Path, args: &[&str]) -> String {
        run_stdout(&mut self.podman(&["rmi", "--all", "--force"]));
        let (dir, file) = split(archive);
        let args: Vec<String> = args.iter().map(|a| a.replace("{file}", &file)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_stdout(self.podman(&args).current_dir(&dir))
    }

    pub(crate) fn policy(&self) -> String {
        format!(
            "--signature-policy={}",
            p(&self.dir.path().join("policy.json"))
        )
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = output(&mut self.podman(&["system", "reset", "--force"]));
        detach_under(self.dir.path());
    }
}

pub(crate) fn podman_versions() -> Vec<String> {
    versions_of(&[
        imagefs_version(),
        ("podman", cmd(tool("podman"), &["--version"])),
        (
            "containerd (docker-archive digest cross-check)",
            cmd(tool("containerd"), &["--version"]),
        ),
    ])
}

/// `podman load` of each archive finds the expected platform; `podman pull oci-archive:` with
/// `--platform` finds a non-host one.
#[test]
fn podman_loads_our_archives() {
    needs!("fuse", "root", "podman");
    let mut m = Matrix::new("podman_loads_our_archives", podman_versions());
    let src = Source::new();
    let pod = Podman::new();
    for case in cases() {
        for (source, archive) in src.archives(&case) {
            let format = format!("{source}: {} (podman load)", case.label());
            m.leg(
                "podman",
                "imagefs → podman",
                &format,
                short(case.image),
                || {
                    let said = pod.run_emptied(&archive, &["load", "-i", "{file}"]);
                    assert!(
                        said.contains(&format!("Loaded image: {}", case.image)),
                        "{said}"
                    );
                    let id = run_stdout(&mut pod.podman(&[
                        "image",
                        "inspect",
                        case.image,
                        "--format",
                        "{{.Id}} {{.Os}}/{{.Architecture}}",
                    ]));
                    let want = config_of(&src.f.store, case.image, case.expected());
                    assert_eq!(
                        id.split_whitespace().next(),
                        Some(want.hex().as_str()),
                        "podman picked another config: {id}"
                    );
                    format!("got {}", case.expected())
                },
            );
            // pull with a platform: the one asked for, else arm/v7 or arm64 (a non-host one).
            let want_platform = match case.platforms.as_slice() {
                [] if image_platforms(case.image).contains(&"linux/arm/v7") => "linux/arm/v7",
                [] if image_platforms(case.image).contains(&"linux/arm64") => "linux/arm64",
                [] => "linux/amd64",
                [one] => one,
                _ => "linux/arm64",
            };
            let format = format!(
                "{source}: {} (podman pull --platform {want_platform} oci-archive:)",
                case.label()
            );
            m.leg(
                "podman",
                "imagefs → podman",
                &format,
                short(case.image),
                || {
                    let policy = pod.policy();
                    let said = pod.run_emptied(
                        &archive,
                        &[
                            "pull",
                            "-q",
                            &policy,
                            "--platform",
                            want_platform,
                            "oci-archive:{file}",
                        ],
                    );
                    let want = config_of(&src.f.store, case.image, want_platform);
                    assert_eq!(
                        said.trim(),
                        want.hex(),
                        "podman pull printed another image ID"
                    );
                    String::new()
                },
            );
        }
    }
    m.finish();
}

/// `podman save --format oci-archive|docker-archive` imports with podman's names and digests.
#[test]
fn podman_saves_import_into_imagefs() {
    needs!("fuse", "root", "podman", "skopeo", "containerd");
    let mut m = Matrix::new("podman_saves_import_into_imagefs", podman_versions());
    let src = Source::new();
    let pod = Podman::new();
    let ctd = Containerd::start();
    // podman holds one platform per name: amd64 of MULTI and ZSTD, arm64 of DOCKERTYPES.
    let loads = [
        Case {
            image: MULTI,
            platforms: vec![],
        },
        Case {
            image: ZSTD,
            platforms: vec![],
        },
        Case {
            image: DOCKERTYPES,
            platforms: vec!["linux/arm64"],
        },
        Case {
            image: SINGLE,
            platforms: vec![],
        },
    ];
    for case in &loads {
        run_stdout(&mut pod.podman(&["load", "-i", p(&src.export(case))]));
    }
    for case in &loads {
        for format in ["oci-archive", "docker-archive"] {
            let out = src
                .f
                .path(&format!("podman-{}-{format}.tar", stem(case.image)));
            let label = format!("podman save --format {format}");
            let saved =
                output(&mut pod.podman(&["save", "--format", format, "-o", p(&out), case.image]));
            if case.image == ZSTD && format == "docker-archive" {
                m.known_limitation(
                    "podman",
                    "peer → imagefs import",
                    &label,
                    short(case.image),
                    "zstd compression is not supported for docker images",
                    &saved,
                );
                continue;
            }
            if !saved.status.success() {
                m.leg(
                    "podman",
                    "peer → imagefs import",
                    &label,
                    short(case.image),
                    || panic!("podman save failed: {}", text(&saved.stderr)),
                );
                continue;
            }
            let id = run_stdout(
                &mut pod.podman(&["image", "inspect", case.image, "--format", "{{.Id}}"]),
            );
            let id = format!("sha256:{}", id.trim());
            let platform = case.expected();
            // The digest podman reports for the saved archive is that of the manifest it wrote;
            // read it back with skopeo (podman has no command that prints it).
            let transport = format!("{format}:{}", p(&out));
            let raw = run_stdout(&mut skopeo(&["inspect", "--raw", &transport]));
            let manifest_digest = Digest::of(raw.as_bytes()).to_string();
            let docker_archive = format == "docker-archive";
            // docker-archive has no manifest: match the one containerd builds on import.
            let digest = if docker_archive {
                ctr_import_digests(&ctd, &format!("podman-{}", stem(case.image)), &out)
                    .remove(case.image)
                    .unwrap_or_default()
            } else {
                manifest_digest
            };
            let digest = digest.as_str();
            let want = vec![loaded(case.image, digest, &[platform])];
            let name = case.image.to_string();
            // podman converts a docker config to an OCI one for oci-archive (c/image
            // re-marshals it), so that config is not its image ID; the manifest digest pins it.
            let converted = case.image == DOCKERTYPES && !docker_archive;
            import_legs(&mut m, "podman", &label, &out, &want, &|dst| {
                if !converted {
                    assert_eq!(
                        inspect_config(dst, &name, platform),
                        id,
                        "config = podman's image ID"
                    );
                }
                if docker_archive {
                    assert_layers_are_diff_ids(dst, &name, platform);
                }
            });
        }
    }
    m.finish();
}

/// podman loads a by-platform tar through the absolute colon-free path of its image directory
/// (`podman load -i /…/multi@v1/by-platform/linux-arm64.tar`). podman splits
/// `transport:PATH[:REF]` at a colon, so with the familiar `multi:v1` path the other podman
/// legs must name the file relative to its directory (`split`).
#[test]
fn podman_loads_a_by_platform_tar_through_its_colon_free_absolute_path() {
    needs!("fuse", "root", "podman");
    let src = Source::new();
    let pod = Podman::new();
    let dir = src.mount.mnt.join("images").join(MULTI.replace(':', "@"));
    let tar = dir.join("by-platform/linux-arm64.tar");
    let said = run_stdout(&mut pod.podman(&["load", "-i", p(&tar)]));
    assert!(said.contains(&format!("Loaded image: {MULTI}")), "{said}");
    let inspected = run_stdout(&mut pod.podman(&[
        "image",
        "inspect",
        MULTI,
        "--format",
        "{{.Os}}/{{.Architecture}}",
    ]));
    assert_eq!(inspected.trim(), "linux/arm64");
}
