//! The imagefs side of every leg: what an import must give (`Loaded`), `imagefs ls`/`inspect`,
//! `cp` into the mount's `import/`, and the three import legs of a foreign archive.

use super::*;

/// `cp FILE MOUNT/import/[dir/]NAME`; returns cp's success and the status file.
pub(crate) fn cp_import(mount: &Mount, file: &Path, dir: &str, name: &str) -> (bool, Value) {
    let target = mount.mnt.join("import").join(dir);
    fs::create_dir_all(&target).expect("mkdir under import/");
    let out = output(&mut cmd("cp", &[p(file), p(&target.join(name))]));
    let status_path = target.join(".status").join(format!("{name}.json"));
    let status = fs::read(&status_path)
        .map(|b| json(&b))
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (cp: {}; mount log: {})",
                status_path.display(),
                text(&out.stderr),
                mount.log_text()
            )
        });
    (out.status.success(), status)
}

/// What an import must give: names (full form) with their digests and platforms.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) digest: String,
    pub(crate) platforms: Vec<String>,
}

/// Sorted, with each image's platforms sorted (`ls` lists them in index order, the status
/// file sorted).
pub(crate) fn sorted(mut v: Vec<Loaded>) -> Vec<Loaded> {
    for l in &mut v {
        l.platforms.sort();
    }
    v.sort();
    v
}

/// `imagefs ls --json` of a store, as `Loaded`s.
pub(crate) fn ls(store: &Path) -> Vec<Loaded> {
    let mut c = imagefs(store);
    c.args(["ls", "--json"]);
    let v = json(run_stdout(&mut c).as_bytes());
    sorted(
        v.as_array()
            .expect("array")
            .iter()
            .map(|i| Loaded {
                name: i["name"].as_str().unwrap_or_default().to_string(),
                digest: i["digest"].as_str().expect("digest").to_string(),
                platforms: i["platforms"]
                    .as_array()
                    .expect("platforms")
                    .iter()
                    .map(|p| p.as_str().expect("platform").to_string())
                    .collect(),
            })
            .collect(),
    )
}

/// A docker-archive's layers are uncompressed: their digests are the config's diff IDs.
pub(crate) fn assert_layers_are_diff_ids(store: &Path, name: &str, platform: &str) {
    let mut c = imagefs(store);
    c.args(["inspect", name, "--platform", platform]);
    let v = json(run_stdout(&mut c).as_bytes());
    let layers: Vec<&str> = v["manifest"]["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("digest"))
        .collect();
    let diff_ids: Vec<&str> = v["config"]["rootfs"]["diff_ids"]
        .as_array()
        .expect("diff_ids")
        .iter()
        .map(|d| d.as_str().expect("diff id"))
        .collect();
    assert_eq!(layers, diff_ids, "{name}: layers = diff IDs");
}

/// The config digest of NAME for a platform, from `imagefs inspect`.
pub(crate) fn inspect_config(store: &Path, name: &str, platform: &str) -> String {
    let mut c = imagefs(store);
    c.args(["inspect", name, "--platform", platform]);
    let v = json(run_stdout(&mut c).as_bytes());
    v["manifest"]["config"]["digest"]
        .as_str()
        .expect("config digest")
        .to_string()
}

/// The three import legs of a foreign archive: `imagefs import`, `cp` into `import/` and into
/// `import/linux-arm64/`. `want` are the images (all platforms); the arm64 leg expects the
/// same names and digests with only linux/arm64, or a refusal when an image lacks it. Each
/// gets a fresh store; `check` runs on the CLI store for tool-specific checks.
pub(crate) fn import_legs(
    m: &mut Matrix,
    peer: &str,
    format: &str,
    archive: &Path,
    want: &[Loaded],
    check: &dyn Fn(&Path),
) {
    let want = sorted(want.to_vec());
    // An empty digest: the format has no manifest (docker-archive), so each tool synthesizes
    // its own; names and platforms are compared here, config and layers by `check`.
    let blank = want.iter().all(|l| l.digest.is_empty());
    let norm = move |v: Vec<Loaded>| -> Vec<Loaded> {
        v.into_iter()
            .map(|mut l| {
                if blank {
                    l.digest.clear();
                }
                l
            })
            .collect()
    };
    let what = want
        .iter()
        .map(|l| l.name.clone())
        .collect::<Vec<_>>()
        .join(" + ");
    m.leg(peer, "peer → imagefs import", format, &what, || {
        let f = Fixture::new();
        let mut c = imagefs(f.root());
        c.arg("import").arg(archive);
        let said = run_stdout(&mut c);
        assert_eq!(
            norm(ls(f.root())),
            want,
            "imagefs ls after import; import said {said}"
        );
        check(f.root());
        run_fsck(f.root());
        String::new()
    });
    m.leg(peer, "peer → cp MOUNT/import/", format, &what, || {
        let f = Fixture::new();
        let mount = Mount::start(f.root(), &f.path("mnt"), &f.path("mount.log"));
        let (ok, status) = cp_import(&mount, archive, "", "in.tar");
        assert!(ok && status["state"] == "loaded", "cp failed: {status}");
        assert_eq!(norm(status_loaded(&status)), want, "{status}");
        assert_eq!(norm(ls(f.root())), want, "imagefs ls after cp");
        drop(mount);
        check(f.root());
        String::new()
    });
    m.leg(
        peer,
        "peer → cp MOUNT/import/linux-arm64/",
        format,
        &what,
        || {
            let f = Fixture::new();
            let mount = Mount::start(f.root(), &f.path("mnt"), &f.path("mount.log"));
            let (ok, status) = cp_import(&mount, archive, "linux-arm64", "in.tar");
            let lacking: Vec<&Loaded> = want
                .iter()
                .filter(|l| !l.platforms.iter().any(|p| p == "linux/arm64"))
                .collect();
            if lacking.is_empty() {
                assert!(ok && status["state"] == "loaded", "cp failed: {status}");
                let got = norm(status_loaded(&status));
                let names: Vec<(&str, &str)> = got
                    .iter()
                    .map(|l| (l.name.as_str(), l.digest.as_str()))
                    .collect();
                let want_names: Vec<(&str, &str)> = want
                    .iter()
                    .map(|l| (l.name.as_str(), l.digest.as_str()))
                    .collect();
                assert_eq!(names, want_names, "{status}");
                for l in ls(f.root()) {
                    assert_eq!(l.platforms, ["linux/arm64"], "{l:?}");
                }
                String::new()
            } else {
                assert!(
                    !ok,
                    "cp of an archive without linux/arm64 succeeded: {status}"
                );
                assert_eq!(status["state"], "failed", "{status}");
                let err = status["error"].as_str().unwrap_or_default().to_string();
                assert!(err.contains("linux/arm64"), "{err}");
                assert_eq!(ls(f.root()), vec![], "store changed by a refused import");
                // With several images, which one the error names first varies from run to run.
                if want.len() == 1 {
                    format!("refused, as it must: {err}")
                } else {
                    "refused, as it must".to_string()
                }
            }
        },
    );
}

pub(crate) fn status_loaded(status: &Value) -> Vec<Loaded> {
    sorted(
        status["images"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| Loaded {
                        name: i["name"].as_str().unwrap_or_default().to_string(),
                        digest: i["digest"].as_str().unwrap_or_default().to_string(),
                        platforms: i["platforms"]
                            .as_array()
                            .map(|p| {
                                p.iter()
                                    .map(|s| s.as_str().unwrap_or_default().to_string())
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

pub(crate) fn run_fsck(store: &Path) {
    let mut c = imagefs(store);
    c.arg("fsck");
    run_stdout(&mut c);
}

/// What our store says about an image, as a `Loaded` under another name.
pub(crate) fn loaded(name: &str, digest: &str, platforms: &[&str]) -> Loaded {
    Loaded {
        name: name.to_string(),
        digest: digest.to_string(),
        platforms: platforms.iter().map(|p| p.to_string()).collect(),
    }
}
