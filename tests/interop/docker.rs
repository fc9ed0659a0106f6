//! dockerd 20.10 (graphdriver store), on its own containerd: `docker load` of our archives, and
//! `docker save` (legacy `<id>/layer.tar` layout) imports.

use super::*;

/// One dockerd at a time: 20.10 writes its trust key to the fixed path /etc/docker/key.json.
pub(crate) static DOCKERD: Mutex<()> = Mutex::new(());
pub(crate) const DOCKER_KEY: &str = "/etc/docker/key.json";
/// dockerd 20.10 also creates the plugin discovery directory /run/docker/plugins (fixed path).
pub(crate) const DOCKER_RUN: &str = "/run/docker";

/// dockerd 20.10 on its own containerd, data root, exec root and socket; vfs, no networking.
pub(crate) struct Dockerd {
    pub(crate) daemon: Daemon,
    pub(crate) sock: PathBuf,
    pub(crate) dir: TempDir,
    pub(crate) key_created: bool,
    pub(crate) run_created: bool,
    pub(crate) containerd: Option<Containerd>,
    pub(crate) _one: MutexGuard<'static, ()>,
}

impl Dockerd {
    pub(crate) fn start() -> Dockerd {
        let one = DOCKERD.lock().unwrap_or_else(|e| e.into_inner());
        let key_existed = Path::new(DOCKER_KEY).exists();
        let run_existed = Path::new(DOCKER_RUN).exists();
        let containerd = Containerd::start();
        let dir = private_dir("dockerd");
        let d = dir.path();
        let sock = d.join("docker.sock");
        let mut c = Command::new(tool("dockerd"));
        c.arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("-H")
            .arg(format!("unix://{}", p(&sock)))
            .args([
                "--storage-driver",
                "vfs",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--ip-masq=false",
            ])
            .arg(format!("--containerd={}", p(&containerd.sock)));
        fs::write(d.join("daemon.json"), "{}").expect("daemon.json");
        // A proxy environment would make no difference (no pulls), but keep it out.
        c.env_remove("HTTP_PROXY").env_remove("HTTPS_PROXY");
        let daemon = Daemon::spawn("dockerd", c, d.join("dockerd.log"));
        let mut me = Dockerd {
            daemon,
            sock,
            dir,
            key_created: !key_existed,
            run_created: !run_existed,
            containerd: Some(containerd),
            _one: one,
        };
        let client = docker_client();
        let host = format!("unix://{}", p(&me.sock));
        me.daemon.wait_ready(|| {
            Command::new(&client)
                .args(["-H", &host, "version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        me
    }

    pub(crate) fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new(docker_client());
        c.arg("-H")
            .arg(format!("unix://{}", p(&self.sock)))
            .args(args);
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.daemon.stop();
        detach_under(self.dir.path());
        drop(self.containerd.take());
        if self.key_created {
            let _ = fs::remove_file(DOCKER_KEY);
        }
        if self.run_created {
            // Only empty directories: remove_dir fails on anything else.
            let _ = fs::remove_dir(Path::new(DOCKER_RUN).join("plugins"));
            let _ = fs::remove_dir(DOCKER_RUN);
        }
    }
}

/// Debian's docker.io client (20.10, API 1.41). A newer client elsewhere on PATH (e.g. a
/// /usr/local/bin/docker 28.x) negotiates down but is not what dockerd 20.10 shipped with.
pub(crate) fn docker_client() -> PathBuf {
    let debian = PathBuf::from("/usr/bin/docker");
    if debian.is_file() {
        debian
    } else {
        tool("docker")
    }
}

/// dockerd 20.10 (graphdriver store): `docker load` goes through manifest.json; `docker save`
/// writes the legacy `<id>/layer.tar` layout, which imports.
#[test]
fn dockerd_20_10_round_trips() {
    needs!("fuse", "root", "docker", "containerd");
    let client = docker_client();
    let mut m = Matrix::new(
        "dockerd_20_10_round_trips",
        versions_of(&[
            imagefs_version(),
            ("dockerd", cmd(tool("dockerd"), &["--version"])),
            (
                "docker client (Debian docker.io, /usr/bin/docker)",
                cmd(&client, &["--version"]),
            ),
            (
                "containerd (under dockerd)",
                cmd(tool("containerd"), &["--version"]),
            ),
        ]),
    );
    let src = Source::new();
    let dockerd = Dockerd::start();
    let docker = |args: &[&str]| dockerd.docker(args);
    for case in cases() {
        for (source, archive) in src.archives(&case) {
            let format = format!("{source}: {} (docker load)", case.label());
            if case.image == ZSTD {
                // dockerd 20.10 applies layers with gzip/plain detection only (no zstd).
                let out = output(&mut docker(&["load", "-i", p(&archive)]));
                m.known_limitation(
                    "docker 20.10",
                    "imagefs → docker load",
                    &format,
                    short(case.image),
                    "archive/tar: invalid tar header",
                    &out,
                );
                continue;
            }
            m.leg(
                "docker 20.10",
                "imagefs → docker load",
                &format,
                short(case.image),
                || {
                    let said = run_stdout(&mut docker(&["load", "-i", p(&archive)]));
                    assert!(
                        said.contains(&format!("Loaded image: {}", case.image)),
                        "{said}"
                    );
                    let info = run_stdout(&mut docker(&[
                        "image",
                        "inspect",
                        case.image,
                        "--format",
                        "{{.Id}} {{.Os}}/{{.Architecture}}",
                    ]));
                    let mut cols = info.split_whitespace();
                    let id = cols.next().unwrap_or_default().to_string();
                    assert_eq!(
                        id,
                        manifest_json_config(&archive),
                        "Id = manifest.json's Config"
                    );
                    let want = config_of(&src.f.store, case.image, case.expected());
                    assert_eq!(
                        id,
                        want.to_string(),
                        "docker loaded another platform: {info}"
                    );
                    let arch = case.expected().split('/').nth(1).unwrap_or_default();
                    assert_eq!(
                        cols.next(),
                        Some(format!("linux/{arch}").as_str()),
                        "{info}"
                    );
                    format!("got {}", case.expected())
                },
            );
        }
    }
    // docker save: one image per platform it holds; two images sharing a layer in one archive.
    let saves: Vec<(Case, Vec<&str>)> = vec![
        (
            Case {
                image: MULTI,
                platforms: vec!["linux/arm64"],
            },
            vec![MULTI],
        ),
        (
            Case {
                image: DOCKERTYPES,
                platforms: vec![],
            },
            vec![DOCKERTYPES],
        ),
        (
            Case {
                image: SINGLE,
                platforms: vec![],
            },
            vec![SINGLE],
        ),
        (
            Case {
                image: MULTI,
                platforms: vec![],
            },
            vec![MULTI, DOCKERTYPES],
        ),
    ];
    for (n, (case, names)) in saves.iter().enumerate() {
        let archive = src.export(case);
        let label = format!(
            "docker save {}",
            if names.len() > 1 {
                "of two images sharing a layer"
            } else {
                "(legacy <id>/layer.tar)"
            }
        );
        let out = src.f.path(&format!("docker-save-{n}.tar"));
        let prepared = output(&mut docker(&["load", "-i", p(&archive)]));
        let mut args = vec!["save", "-o", p(&out)];
        args.extend(names.iter().copied());
        let saved = output(&mut docker(&args));
        if !prepared.status.success() || !saved.status.success() {
            m.leg(
                "docker 20.10",
                "peer → imagefs import",
                &label,
                &names.join(" + "),
                || {
                    panic!(
                        "docker load/save failed: {}{}",
                        text(&prepared.stderr),
                        text(&saved.stderr)
                    )
                },
            );
            continue;
        }
        let mut want = Vec::new();
        let mut ids = Vec::new();
        for name in names {
            let info = run_stdout(&mut docker(&[
                "image",
                "inspect",
                name,
                "--format",
                "{{.Id}} {{.Os}}/{{.Architecture}}",
            ]));
            let mut cols = info.split_whitespace();
            let id = cols.next().unwrap_or_default().to_string();
            let platform = cols.next().unwrap_or_default().to_string();
            ids.push((name.to_string(), id, platform.clone()));
            // The digest of a docker-archive image is that of the manifest imagefs builds for
            // it (docker 20.10 has none to report); checked through the config below.
            want.push((name.to_string(), platform));
        }
        // A docker save holds no manifest: the digest to match is the one containerd gives
        // the manifest it builds on import (the same rule docker load follows on c8d).
        let reported = ctr_import_digests(
            dockerd.containerd.as_ref().expect("containerd"),
            &format!("xcheck{n}"),
            &out,
        );
        let want: Vec<Loaded> = want
            .iter()
            .map(|(name, platform)| {
                let digest = reported.get(name).cloned().unwrap_or_default();
                loaded(name, &digest, &[platform])
            })
            .collect();
        import_legs(&mut m, "docker 20.10", &label, &out, &want, &|dst| {
            for (name, id, platform) in &ids {
                assert_eq!(
                    &inspect_config(dst, name, platform),
                    id,
                    "{name}: config = docker's Id"
                );
            }
        });
    }
    drop(dockerd);
    m.finish();
}
