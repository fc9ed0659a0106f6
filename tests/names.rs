//! Names across imports, and that a restore never loses platforms: restoring a backup of an
//! image directory in either order leaves the image whole; an import whose content is already
//! part of a name's image keeps the name and says so; a name that moves is reported, its previous
//! image survives `gc` and `imagefs restore` puts it back; skipped platforms are named; and
//! adding 100,000 names in one import finishes (linear, not quadratic, under the index lock).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use common::*;
use imagefs::digest::Digest;

fn cli_path(store: &Path, args: &[&str], path: &Path) -> Output {
    output(imagefs(store).args(args).arg(path))
}

/// `imagefs ls --json` as (name, digest, platforms).
fn listed(store: &Path) -> Vec<(Option<String>, String, Vec<String>)> {
    let v = json(&ok(cli(store, &["ls", "--json"])));
    v.as_array()
        .expect("ls --json is an array")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().map(str::to_string),
                e["digest"].as_str().expect("digest").to_string(),
                e["platforms"]
                    .as_array()
                    .expect("platforms")
                    .iter()
                    .map(|p| p.as_str().expect("platform").to_string())
                    .collect(),
            )
        })
        .collect()
}

const APP: &str = "docker.io/library/app:latest";
const THREE_NORMALIZED: [&str; 3] = ["linux/amd64", "linux/arm64", "linux/riscv64"];

/// The files a backup of `images/…/app:latest/` holds, as the mount serves them (the mount's
/// archives are byte-identical to these exports: `mount_archives_equal_export_with_cp_cat_dd_and_tar`).
fn backup_of_app(src: &Fixture) -> (PathBuf, Vec<PathBuf>) {
    let image_tar = src.path("image.tar");
    ok(cli_path(src.root(), &["export", "app", "-o"], &image_tar));
    let dir = src.path("by-platform");
    std::fs::create_dir_all(&dir).unwrap();
    let mut by_platform = Vec::new();
    for p in THREE_NORMALIZED {
        let file = dir.join(format!("{}.tar", p.replace('/', "-")));
        ok(cli_path(
            src.root(),
            &["export", "app", "--platform", p, "-o"],
            &file,
        ));
        by_platform.push(file);
    }
    (image_tar, by_platform)
}

fn assert_whole(store: &Path, digest: &Digest) {
    let images = listed(store);
    assert_eq!(
        images,
        vec![(
            Some(APP.to_string()),
            digest.to_string(),
            THREE_NORMALIZED.iter().map(|p| p.to_string()).collect()
        )],
        "the image must be whole, under its original digest"
    );
    let fsck = cli(store, &["fsck"]);
    assert!(fsck.status.success(), "fsck: {}", text(&fsck.stdout));
}

#[test]
fn restore_of_a_by_platform_backup_keeps_every_platform_in_either_order() {
    let src = Fixture::new();
    let target = add(&src.store, &small_spec("app", &THREE));
    let (image_tar, by_platform) = backup_of_app(&src);

    // Directory order (by-platform/ sorts before image.tar), then the other way round.
    let mut platform_first = by_platform.clone();
    platform_first.push(image_tar.clone());
    let mut image_first = vec![image_tar];
    image_first.extend(by_platform.iter().rev().cloned());
    for order in [platform_first, image_first] {
        let dst = Fixture::new();
        for file in &order {
            ok(cli_path(dst.root(), &["import"], file));
        }
        ok(cli(dst.root(), &["gc", "--keep-history", "0"]));
        assert_whole(dst.root(), &target.digest);
    }
}

#[test]
fn importing_one_platform_of_a_stored_image_keeps_the_name_and_says_so() {
    let f = Fixture::new();
    let target = add(&f.store, &small_spec("app", &THREE));
    let (_, by_platform) = backup_of_app(&f);
    for file in &by_platform {
        let out = cli_path(f.root(), &["import"], file);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(text(&out.stdout), "Loaded image: app:latest\n");
        assert!(
            stderr.contains(&format!("is already part of app:latest {}", target.digest))
                && stderr.contains("the name stays"),
            "the import must say the name stays: {stderr}"
        );
    }
    ok(cli(f.root(), &["gc", "--keep-history", "0"]));
    assert_whole(f.root(), &target.digest);
    assert!(
        f.store.history().unwrap().is_empty(),
        "no name moved, so nothing entered the history"
    );
}

/// A different build of app:latest (arm64 only), exported: its store (kept alive while the
/// archive is used), its digest and the archive.
fn other_build_of_app() -> (Fixture, imagefs::oci::Descriptor, PathBuf) {
    let other = Fixture::new();
    let mut spec = small_spec("app", &["linux/arm64"]);
    spec.seed = 2;
    let new = add(&other.store, &spec);
    let archive = other.path("new.tar");
    ok(cli_path(other.root(), &["export", "app", "-o"], &archive));
    (other, new, archive)
}

#[test]
fn a_moved_name_is_reported_kept_from_gc_and_restored() {
    let f = Fixture::new();
    let old = add(&f.store, &small_spec("app", &THREE));
    let (_other, new, archive) = other_build_of_app();

    let out = cli_path(f.root(), &["import"], &archive);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "app:latest moved from {} (linux/amd64, linux/arm64, linux/riscv64) to {} (linux/arm64)",
            old.digest, new.digest
        )) && stderr.contains("imagefs restore app:latest"),
        "a moved name must be reported with both digests and platforms: {stderr}"
    );

    // gc keeps the previous image; the history lists it with its platforms.
    let blobs_before = blob_set(&f.store);
    ok(cli(f.root(), &["gc"]));
    assert_eq!(
        blob_set(&f.store),
        blobs_before,
        "gc kept the previous image"
    );
    let history = json(&ok(cli(f.root(), &["ls", "--history", "--json"])));
    assert_eq!(history[0]["name"], APP);
    assert_eq!(history[0]["digest"], old.digest.to_string());
    assert_eq!(history[0]["replacedBy"], new.digest.to_string());
    assert_eq!(
        history[0]["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64", "linux/riscv64"])
    );
    let table = text(&ok(cli(f.root(), &["ls", "--history"])));
    assert!(table.contains(&old.digest.to_string()), "{table}");

    // One command puts it back; the image it replaces enters the history in turn.
    let restored = text(&ok(cli(f.root(), &["restore", "app"])));
    assert!(
        restored.contains(&format!("Restored app:latest to {}", old.digest))
            && restored.contains(&format!("{} is kept in the history", new.digest)),
        "{restored}"
    );
    assert_whole(f.root(), &old.digest);
    let history = f.store.history().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].target.digest, new.digest);

    // Pruning the history explicitly lets gc take the replaced build.
    let pruned = text(&ok(cli(f.root(), &["gc", "--keep-history", "0"])));
    assert!(
        pruned.contains("1 expired name history entries"),
        "{pruned}"
    );
    assert!(!f.store.has_blob(&new.digest), "pruned image collected");
    assert_whole(f.root(), &old.digest);
    let again = cli(f.root(), &["restore", "app"]);
    fails_with(&again, "has no previous image");
}

#[test]
fn restore_refuses_an_unknown_digest_and_names_it() {
    let f = Fixture::new();
    add(&f.store, &small_spec("app", &THREE));
    let out = cli(f.root(), &["restore", "app", "sha256:0123"]);
    fails_with(&out, "never pointed to sha256:0123");
}

#[test]
fn import_of_a_sparse_archive_says_which_platforms_it_skipped() {
    let src = Fixture::new();
    add(&src.store, &small_spec("app", &THREE));
    // An archive listing three platforms but holding two (as `docker save --platform` writes).
    let sparse = src.path("sparse.tar");
    ok(cli_path(
        src.root(),
        &[
            "export",
            "app",
            "--platform",
            "linux/amd64",
            "--platform",
            "linux/arm64",
            "-o",
        ],
        &sparse,
    ));
    let (riscv, riscv_children) = platform_closure(&src.store, "app", "linux/riscv64");
    let dst = Fixture::new();
    let out = cli_path(dst.root(), &["import"], &sparse);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "app:latest: skipped platform linux/riscv64: the archive lacks its manifest {riscv}"
        )),
        "{stderr}"
    );

    // A manifest present whose layer is missing: the layer is named.
    let full = export(&src.store, &["app"], &[]);
    let arm_children = platform_closure(&src.store, "app", "linux/arm64").1;
    let amd_children = platform_closure(&src.store, "app", "linux/amd64").1;
    let lost = *riscv_children
        .iter()
        .rev()
        .find(|d| !arm_children.contains(d) && !amd_children.contains(d))
        .expect("riscv64 has a layer of its own");
    let entries: Vec<Entry> = read_tar(&full)
        .into_iter()
        .filter(|e| e.name != blob_name(&lost))
        .collect();
    let dst = Fixture::new();
    let mut import = imagefs(dst.root());
    import.arg("import");
    let out = run_with_input(import, &write_tar(&entries));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "skipped platform linux/riscv64: the archive lacks blob {lost} of its manifest {riscv}"
        )),
        "{stderr}"
    );
}

/// A docker-archive of one tiny image named by `tags` RepoTags, its one layer holding `content`.
fn docker_archive_with_tags(tags: &[String], content: &[u8]) -> Vec<u8> {
    let layer = write_tar(&[Entry::file("hello", content)]);
    // The config names the layer's content (as `rootfs.diff_ids` does in a real image), so two
    // contents are two images.
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(&layer).to_string()]},
    })
    .to_string();
    let config = config.as_bytes();
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": tags,
        "Layers": ["layer.tar"],
    }]);
    write_tar(&[
        Entry::file("config.json", config),
        Entry::file("layer.tar", &layer),
        Entry::file("manifest.json", manifest.to_string().as_bytes()),
    ])
}

#[test]
fn import_of_100000_names_finishes_and_lists_them_all() {
    // Quadratic name handling took over 300 s for 100,000 names (each new name re-parsed every
    // record, under the exclusive index lock); so did moving names (each move scanned the whole
    // history). Times are printed, not asserted: scripts/bench-names.sh measures the scaling,
    // doc/RELIABILITY.md has the figures.
    const COUNT: usize = 100_000;
    let f = Fixture::new();
    let tags: Vec<String> = (0..COUNT)
        .map(|i| format!("example.com/many/n{}:t{i}", i % 97))
        .collect();
    let first = f.path("first.tar");
    std::fs::write(&first, docker_archive_with_tags(&tags, b"hello\n")).unwrap();
    let second = f.path("second.tar");
    std::fs::write(&second, docker_archive_with_tags(&tags, b"hello again\n")).unwrap();
    let import = |archive: &Path, what: &str| {
        let start = Instant::now();
        let out = cli_path(f.root(), &["-q", "import"], archive);
        assert!(out.status.success(), "{what}: {}", text(&out.stderr));
        eprintln!(
            "{what} of {COUNT} names: {:.2} s",
            start.elapsed().as_secs_f64()
        );
    };
    import(&first, "import");
    let images = f.store.images().unwrap();
    assert_eq!(images.len(), COUNT, "every name is listed once");
    // A re-import only rewrites what is there: never refused for room in index.json.
    import(&first, "re-import");
    // Another image under every name: every name moves, each into the history.
    import(&second, "moving import");
    let images = f.store.images().unwrap();
    assert_eq!(images.len(), COUNT);
    let moved_to = images[0].target.digest;
    assert!(images.iter().all(|r| r.target.digest == moved_to));
    assert_eq!(f.store.history().unwrap().len(), COUNT);
}

#[test]
fn gc_keeps_a_moved_name_s_previous_image_for_its_retention_period() {
    let f = Fixture::new();
    let old = add(&f.store, &small_spec("app", &THREE));
    let (_other, _, archive) = other_build_of_app();
    ok(cli_path(f.root(), &["import"], &archive));
    let history = f.root().join("history.json");
    let age = |days: u64| {
        let mut doc = json(&std::fs::read(&history).unwrap());
        doc["entries"][0]["replacedAt"] = (imagefs::store::now() - days * 86_400).into();
        std::fs::write(&history, doc.to_string()).unwrap();
    };
    // 13 days old: kept by the default 14-day retention.
    age(13);
    let kept = text(&ok(cli(f.root(), &["gc"])));
    assert!(!kept.contains("expired"), "{kept}");
    assert!(f.store.has_blob(&old.digest));
    // 15 days old: expired, and its image collected.
    age(15);
    let expired = text(&ok(cli(f.root(), &["gc"])));
    assert!(
        expired.contains("1 expired name history entries"),
        "{expired}"
    );
    assert!(
        !f.store.has_blob(&old.digest),
        "the expired previous image is collected"
    );
    assert!(f.store.history().unwrap().is_empty());
}

#[test]
fn mount_import_that_moves_a_name_reports_it_in_its_status() {
    needs!("fuse");
    let f = Fixture::new();
    let old = add(&f.store, &small_spec("app", &THREE));
    let (_other, new, archive) = other_build_of_app();

    let daemon = Mount::start(f.root(), &f.path("mnt"), &f.path("mount.log"));
    let status = |name: &str| {
        json(
            &std::fs::read(
                daemon
                    .mnt
                    .join("import/.status")
                    .join(format!("{name}.json")),
            )
            .expect("status file"),
        )
    };
    let cp = |from: &Path, to: &str| {
        run(std::process::Command::new("cp")
            .arg(from)
            .arg(daemon.mnt.join("import").join(to)));
    };
    // One platform of the image, copied out of the mount and back in: the name stays.
    let amd64 = f.path("amd64.tar");
    std::fs::copy(
        daemon
            .mnt
            .join("images/docker.io/library/app:latest/by-platform/linux-amd64.tar"),
        &amd64,
    )
    .unwrap();
    cp(&amd64, "amd64.tar");
    let s = status("amd64.tar");
    assert_eq!(s["images"][0]["outcome"], "already-part", "{s}");
    assert_eq!(s["images"][0]["digest"], old.digest.to_string(), "{s}");

    // Another build under the same name: moved, with what it was.
    cp(&archive, "new.tar");
    let s = status("new.tar");
    let image = &s["images"][0];
    assert_eq!(image["outcome"], "moved", "{s}");
    assert_eq!(image["digest"], new.digest.to_string());
    assert_eq!(image["previous"]["digest"], old.digest.to_string());
    assert_eq!(
        image["previous"]["platforms"],
        serde_json::json!(["linux/amd64", "linux/arm64", "linux/riscv64"])
    );
    let log = daemon.log_text();
    assert!(
        log.contains(&format!("moved from {}", old.digest)),
        "the daemon log reports the move: {log}"
    );
}

#[test]
fn restore_of_a_single_platform_image_ends_on_its_index_in_either_order() {
    // A one-platform image is an index (with an attestation); its by-platform tar is the bare
    // manifest. Restored platform first, the name must still end on the index, which is more
    // than the manifest, not stay on the manifest and lose the index to gc.
    let src = Fixture::new();
    let mut spec = small_spec("app", &["linux/amd64"]);
    spec.attestations = true;
    let target = add(&src.store, &spec);
    let image_tar = src.path("image.tar");
    ok(cli_path(src.root(), &["export", "app", "-o"], &image_tar));
    let amd64 = src.path("linux-amd64.tar");
    ok(cli_path(
        src.root(),
        &["export", "app", "--platform", "linux/amd64", "-o"],
        &amd64,
    ));
    let blobs = blob_set(&src.store);
    for order in [[&amd64, &image_tar], [&image_tar, &amd64]] {
        let dst = Fixture::new();
        for file in order {
            ok(cli_path(dst.root(), &["import"], file));
        }
        ok(cli(dst.root(), &["gc", "--keep-history", "0"]));
        let images = listed(dst.root());
        assert_eq!(images.len(), 1, "{images:?}");
        assert_eq!(images[0].1, target.digest.to_string(), "ends on the index");
        assert_eq!(
            blob_set(&dst.store),
            blobs,
            "the index and its attestation are kept"
        );
    }
}

#[test]
fn importing_a_docker_archive_of_one_platform_keeps_the_name() {
    // The same config and layers as one of the image's manifests, under a manifest generated
    // for the docker-archive: nothing new, so the name stays on the whole image.
    let f = Fixture::new();
    let target = add(&f.store, &small_spec("app", &THREE));
    let oci = export(&f.store, &["app"], &["linux/amd64"]);
    let docker_archive: Vec<Entry> = read_tar(&oci)
        .into_iter()
        .filter(|e| e.name != "index.json" && e.name != "oci-layout")
        .collect();
    let mut import = imagefs(f.root());
    import.arg("import");
    let out = run_with_input(import, &write_tar(&docker_archive));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the name stays"), "{stderr}");
    assert_whole(f.root(), &target.digest);
}

#[test]
fn fsck_repair_sets_an_unreadable_name_history_aside() {
    let f = Fixture::new();
    add(&f.store, &small_spec("app", &THREE));
    std::fs::write(f.root().join("history.json"), b"{not json").unwrap();
    // gc expires history entries, so it must read the history (rm and most imports need not).
    let stuck = cli(f.root(), &["gc"]);
    assert_eq!(
        stuck.status.code(),
        Some(1),
        "writes that use the history read it"
    );
    let fsck = cli(f.root(), &["fsck"]);
    assert_eq!(fsck.status.code(), Some(1));
    assert!(
        text(&fsck.stdout).contains("`imagefs fsck --repair` sets it aside"),
        "{}",
        text(&fsck.stdout)
    );
    let repaired = text(&ok(cli(f.root(), &["fsck", "--repair"])));
    assert!(
        repaired.contains("set the unreadable name history aside"),
        "{repaired}"
    );
    let set_aside = std::fs::read_dir(f.root())
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_str()
                .unwrap()
                .starts_with("history.json.unreadable-")
        })
        .count();
    assert_eq!(set_aside, 1, "the unreadable history is kept aside");
    ok(cli(f.root(), &["rm", "app"]));
}
