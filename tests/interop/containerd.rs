//! containerd 1.6 (`ctr`): it loads what we write (from `imagefs export` and from the mount,
//! blob for blob), what it exports imports into imagefs with its names and digests, and for
//! each platform our by-platform tar holds the blobs ctr selects.

use super::*;

/// containerd with its own root, state, sockets and opt dir; no CRI, no TCP.
pub(crate) struct Containerd {
    pub(crate) daemon: Daemon,
    pub(crate) sock: PathBuf,
    pub(crate) dir: TempDir,
}

impl Containerd {
    pub(crate) fn start() -> Containerd {
        let dir = private_dir("containerd");
        let d = dir.path();
        let sock = d.join("containerd.sock");
        let config = d.join("config.toml");
        fs::write(
            &config,
            format!(
                r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
"#,
                root = p(&d.join("root")),
                state = p(&d.join("state")),
                sock = p(&sock),
                opt = p(&d.join("opt")),
            ),
        )
        .expect("write config");
        let mut c = Command::new(tool("containerd"));
        c.arg("--config").arg(&config);
        let mut daemon = Daemon::spawn("containerd", c, d.join("containerd.log"));
        let ctr = tool("ctr");
        daemon.wait_ready(|| {
            sock.exists()
                && Command::new(&ctr)
                    .arg("-a")
                    .arg(&sock)
                    .arg("version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
        });
        Containerd { daemon, sock, dir }
    }

    pub(crate) fn ctr(&self, ns: &str) -> Command {
        let mut c = Command::new(tool("ctr"));
        c.arg("-a").arg(&self.sock).args(["-n", ns]);
        c
    }

    /// `ctr images ls`: name → target digest.
    pub(crate) fn images(&self, ns: &str) -> BTreeMap<String, String> {
        let mut c = self.ctr(ns);
        c.args(["images", "ls"]);
        run_stdout(&mut c)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                (cols.len() >= 3).then(|| (cols[0].to_string(), cols[2].to_string()))
            })
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.daemon.stop();
        detach_under(self.dir.path());
    }
}

/// `ctr images import --no-unpack --all-platforms ARCHIVE` into namespace `ns`.
pub(crate) fn ctr_import_all(ctd: &Containerd, ns: &str, archive: &Path) -> Command {
    let mut c = ctd.ctr(ns);
    c.args(["images", "import", "--no-unpack", "--all-platforms"])
        .arg(archive);
    c
}

/// `ctr_import_all` of an archive into a fresh namespace: name → digest. For docker-archives
/// this is the manifest containerd synthesizes.
pub(crate) fn ctr_import_digests(
    ctd: &Containerd,
    ns: &str,
    archive: &Path,
) -> BTreeMap<String, String> {
    run_stdout(&mut ctr_import_all(ctd, ns, archive));
    ctd.images(ns)
}

/// Imports `image.tar` of every image (from `imagefs export`) into namespace `ns`.
fn ctr_import_every_image(ctd: &Containerd, src: &Source, ns: &str) {
    for image in IMAGES {
        let archive = src.export(&Case {
            image,
            platforms: vec![],
        });
        run_stdout(&mut ctr_import_all(ctd, ns, &archive));
    }
}

pub(crate) fn ctr_versions() -> Vec<String> {
    versions_of(&[
        imagefs_version(),
        ("containerd", cmd(tool("containerd"), &["--version"])),
        ("ctr", cmd(tool("ctr"), &["--version"])),
    ])
}

/// `ctr images import` of each archive (from export and from the mount), then `ctr images
/// export` of the same platforms: the same blob set, the same target.
#[test]
fn ctr_imports_our_archives() {
    needs!("fuse", "root", "containerd");
    let mut m = Matrix::new("ctr_imports_our_archives", ctr_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    for (n, case) in cases().iter().enumerate() {
        for (i, (source, archive)) in src.archives(case).into_iter().enumerate() {
            let ns = format!("load{n}-{i}");
            // A two-platform tar of an image with more platforms keeps the original index,
            // sparse (as `docker save --platform` does). ctr 1.6 import takes one --platform,
            // and --all-platforms needs every child: it can keep only one platform of it.
            let sparse = case.platforms.len() > 1
                && image_platforms(case.image).len() > case.platforms.len();
            if sparse {
                let all = output(&mut ctr_import_all(&ctd, &format!("{ns}-all"), &archive));
                m.known_limitation(
                    "ctr",
                    "imagefs → ctr import/export",
                    &format!("{source}: {} (import --all-platforms)", case.label()),
                    short(case.image),
                    ": not found",
                    &all,
                );
            }
            let platforms: Vec<&str> = if sparse {
                vec!["linux/arm64"]
            } else {
                case.platforms.clone()
            };
            let flags: Vec<&str> = match platforms.as_slice() {
                [one] => vec!["--platform", one],
                _ => vec!["--all-platforms"],
            };
            let format = format!("{source}: {} (import {})", case.label(), flags.join(" "));
            m.leg(
                "ctr",
                "imagefs → ctr import/export",
                &format,
                short(case.image),
                || {
                    let mut c = ctd.ctr(&ns);
                    c.args(["images", "import", "--no-unpack"])
                        .args(&flags)
                        .arg(&archive);
                    run_stdout(&mut c);
                    let target = top_descriptor(&archive);
                    let images = ctd.images(&ns);
                    assert_eq!(
                        images.get(case.image).map(String::as_str),
                        target["digest"].as_str(),
                        "ctr images ls: {images:?}"
                    );
                    let out = src.f.path(&format!("ctr-{ns}.tar"));
                    let mut c = ctd.ctr(&ns);
                    c.args(["images", "export"]);
                    if platforms.is_empty() {
                        c.arg("--all-platforms");
                    }
                    for p in &platforms {
                        c.args(["--platform", p]);
                    }
                    c.arg(&out).arg(case.image);
                    run_stdout(&mut c);
                    let ours = tar_blobs(&archive);
                    let theirs = tar_blobs(&out);
                    let top = top_descriptor(&out);
                    assert_eq!(top["digest"], target["digest"], "ctr export target");
                    if sparse {
                        // ctr's one platform: a subset of ours holding that platform's closure.
                        let (manifest, children) =
                            platform_closure(&src.f.store, case.image, "linux/arm64");
                        assert!(
                            theirs.is_subset(&ours),
                            "ctr's blobs beyond ours: {}",
                            hexes(&theirs.difference(&ours).cloned().collect())
                        );
                        for d in std::iter::once(manifest).chain(children) {
                            assert!(
                                theirs.contains(&d.to_string()),
                                "{d} missing from ctr's export"
                            );
                        }
                        return format!(
                            "{} of our {} blobs: linux/arm64 only",
                            theirs.len(),
                            ours.len()
                        );
                    }
                    assert_eq!(
                        ours,
                        theirs,
                        "blob sets differ: only ours {}; only ctr's {}",
                        hexes(&ours.difference(&theirs).cloned().collect()),
                        hexes(&theirs.difference(&ours).cloned().collect())
                    );
                    format!("{} blobs, same set", ours.len())
                },
            );
        }
    }
    drop(ctd);
    m.finish();
}

/// `ctr images export` (one platform, several, --all-platforms, two images) imports through
/// `imagefs import` and `cp` into the mount, with ctr's names and digests.
#[test]
fn ctr_exports_import_into_imagefs() {
    needs!("fuse", "root", "containerd");
    let mut m = Matrix::new("ctr_exports_import_into_imagefs", ctr_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    ctr_import_every_image(&ctd, &src, "src");
    let reported = ctd.images("src");
    let exports: Vec<(&str, Vec<&str>, &[&str])> = vec![
        (
            "--platform linux/arm64",
            vec!["--platform", "linux/arm64"],
            &[MULTI],
        ),
        (
            "--platform linux/amd64 --platform linux/arm/v7",
            vec!["--platform", "linux/amd64", "--platform", "linux/arm/v7"],
            &[MULTI],
        ),
        ("--all-platforms", vec!["--all-platforms"], &[MULTI]),
        ("--all-platforms", vec!["--all-platforms"], &[DOCKERTYPES]),
        ("--all-platforms", vec!["--all-platforms"], &[ZSTD]),
        (
            "--platform linux/amd64",
            vec!["--platform", "linux/amd64"],
            &[SINGLE],
        ),
        (
            "--all-platforms, two images sharing a layer",
            vec!["--all-platforms"],
            &[MULTI, DOCKERTYPES],
        ),
    ];
    for (n, (label, flags, images)) in exports.iter().enumerate() {
        let out = src.f.path(&format!("ctr-export-{n}.tar"));
        let mut c = ctd.ctr("src");
        c.args(["images", "export"])
            .args(flags)
            .arg(&out)
            .args(*images);
        let format = format!("ctr images export {label}");
        // An export the peer cannot make is a failed leg, recorded, not a skipped one.
        let made = output(&mut c);
        if !made.status.success() {
            m.leg(
                "ctr",
                "peer → imagefs import",
                &format,
                &images.join(" + "),
                || panic!("ctr images export failed: {}", text(&made.stderr)),
            );
            continue;
        }
        let want: Vec<Loaded> = images
            .iter()
            .map(|image| {
                let platforms: Vec<&str> = if flags.contains(&"--all-platforms") {
                    image_platforms(image).to_vec()
                } else {
                    image_platforms(image)
                        .iter()
                        .copied()
                        .filter(|p| flags.contains(p))
                        .collect()
                };
                loaded(image, &reported[*image], &platforms)
            })
            .collect();
        let store = src.f.root().to_path_buf();
        import_legs(&mut m, "ctr", &format, &out, &want, &|dst| {
            for l in &want {
                for p in &l.platforms {
                    assert_eq!(
                        inspect_config(dst, &l.name, p),
                        inspect_config(&store, &l.name, p),
                        "{} {p}: config",
                        l.name
                    );
                }
            }
        });
    }
    drop(ctd);
    m.finish();
}

/// The attestation closure (manifest, its config and layers) of the selected manifests.
pub(crate) fn attestation_blobs(
    store: &imagefs::store::Store,
    image: &str,
    selected: &[Digest],
) -> BTreeSet<String> {
    let record = find(store, image).remove(0);
    let read = |d: &str| {
        fs::read(store.root().join(blob_name(&d.parse().expect("a digest")))).expect("stored blob")
    };
    let index = json(&read(&record.target.digest.to_string()));
    let mut out = BTreeSet::new();
    for d in index["manifests"].as_array().into_iter().flatten() {
        let subject = d["annotations"]["vnd.docker.reference.digest"].as_str();
        if subject.is_some_and(|s| selected.iter().any(|x| x.to_string() == s)) {
            let digest = d["digest"].as_str().expect("digest").to_string();
            let manifest = json(&read(&digest));
            out.insert(digest);
            out.insert(
                manifest["config"]["digest"]
                    .as_str()
                    .expect("config")
                    .to_string(),
            );
            for l in manifest["layers"].as_array().into_iter().flatten() {
                out.insert(l["digest"].as_str().expect("layer").to_string());
            }
        }
    }
    out
}

/// Same store content in ctr and imagefs; for each platform (and a pair, and an alias) our
/// by-platform tar holds ctr's blobs, plus-or-minus the index blob and the attestations Docker
/// 29.1+ carries along; absent platforms are errors in imagefs at least wherever ctr errs.
#[test]
fn ctr_and_imagefs_agree_per_platform() {
    needs!("fuse", "root", "containerd");
    let mut m = Matrix::new("ctr_and_imagefs_agree_per_platform", ctr_versions());
    let src = Source::new();
    let ctd = Containerd::start();
    ctr_import_every_image(&ctd, &src, "same");
    for image in IMAGES {
        let mut requests: Vec<Vec<&str>> =
            image_platforms(image).iter().map(|p| vec![*p]).collect();
        if image_platforms(image).len() > 1 {
            requests.push(vec!["linux/amd64", "linux/arm64"]);
        }
        if image == MULTI {
            requests.push(vec!["linux/arm"]);
            requests.push(vec!["linux/aarch64"]);
        }
        for req in requests {
            let format = format!("--platform {}", req.join(","));
            m.leg(
                "ctr",
                "ctr export vs imagefs by-platform tar",
                &format,
                short(image),
                || {
                    let out = src.f.path(&format!(
                        "same-{}-{}.tar",
                        stem(image),
                        req.join("+").replace('/', "-")
                    ));
                    let mut c = ctd.ctr("same");
                    c.args(["images", "export"]);
                    for p in &req {
                        c.args(["--platform", p]);
                    }
                    c.arg(&out).arg(image);
                    run_stdout(&mut c);
                    let case = Case {
                        image,
                        platforms: req.clone(),
                    };
                    let ours_path = src.export(&case);
                    let mounted = src.mounted(&case);
                    assert_eq!(
                        fs::read(&mounted).expect("mount read"),
                        fs::read(&ours_path).expect("export")
                    );
                    let ours = tar_blobs(&ours_path);
                    let theirs = tar_blobs(&out);
                    let selected: Vec<Digest> = req
                        .iter()
                        .map(|p| platform_closure(&src.f.store, image, p).0)
                        .collect();
                    let attest = attestation_blobs(&src.f.store, image, &selected);
                    let index = find(&src.f.store, image)
                        .remove(0)
                        .target
                        .digest
                        .to_string();
                    let only_ours: BTreeSet<String> = ours.difference(&theirs).cloned().collect();
                    let only_theirs: BTreeSet<String> = theirs.difference(&ours).cloned().collect();
                    assert!(
                        only_ours.is_subset(&attest),
                        "blobs only in ours that are not attestations: {}",
                        hexes(&only_ours.difference(&attest).cloned().collect())
                    );
                    assert!(
                        only_theirs.iter().all(|d| *d == index),
                        "blobs only in ctr's beyond the index: {}",
                        hexes(&only_theirs)
                    );
                    let mut notes = Vec::new();
                    if only_theirs.contains(&index) {
                        notes.push("ctr adds the (sparse) index blob".to_string());
                    }
                    if !only_ours.is_empty() {
                        notes.push(format!("we add {} attestation blobs", only_ours.len()));
                    }
                    let ctr_top = top_descriptor(&out)["mediaType"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let our_top = top_descriptor(&ours_path)["mediaType"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    if ctr_top != our_top {
                        notes.push(format!("index.json target: ctr {ctr_top}, ours {our_top}"));
                    }
                    notes.join("; ")
                },
            );
        }
        // Absent platforms: one absent, and one present + one absent.
        for req in [vec!["linux/s390x"], vec!["linux/amd64", "linux/s390x"]] {
            let format = format!("absent: --platform {}", req.join(","));
            m.leg(
                "ctr",
                "ctr export vs imagefs by-platform tar",
                &format,
                short(image),
                || {
                    let out = src.f.path("absent.tar");
                    let mut c = ctd.ctr("same");
                    c.args(["images", "export"]);
                    for p in &req {
                        c.args(["--platform", p]);
                    }
                    c.arg(&out).arg(image);
                    let theirs = output(&mut c);
                    let mut c = imagefs(src.f.root());
                    c.arg("export")
                        .arg(image)
                        .arg("-o")
                        .arg(src.f.path("absent-ours.tar"));
                    for p in &req {
                        c.args(["--platform", p]);
                    }
                    let ours = run_fails(&mut c);
                    assert!(
                        ours.contains("linux/s390x") && ours.contains("it has"),
                        "{ours}"
                    );
                    let mounted = src
                        .mount
                        .mnt
                        .join("images")
                        .join(image)
                        .join("by-platform")
                        .join(format!(
                            "{}.tar",
                            req.iter()
                                .map(|p| p.replace('/', "-"))
                                .collect::<Vec<_>>()
                                .join("+")
                        ));
                    let err = fs::metadata(&mounted)
                        .expect_err("absent platform tar exists in the mount");
                    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err}");
                    if theirs.status.success() {
                        format!(
                            "ctr exported {} blobs without error; imagefs refuses",
                            tar_blobs(&out).len()
                        )
                    } else {
                        format!(
                            "both refuse; ctr: `{}`",
                            text(&theirs.stderr).trim().replace('|', "\\|")
                        )
                    }
                },
            );
        }
    }
    drop(ctd);
    m.finish();
}
