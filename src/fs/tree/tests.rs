//! Unit tests of the mount's namespace: inode numbers derived from what a node is, the catalog
//! drawn from a store (paths, prefixes, reuse of unchanged entries), and the platforms and plans
//! an image directory offers. (`tests` beside this module holds the older helper tests.)

use std::collections::HashSet;

use super::*;
use crate::sample::{SampleSpec, write_sample};
use crate::testing::{platform, small_spec, temp_store};

fn spec(name: Option<&str>, platforms: &[&str], seed: u64) -> SampleSpec {
    SampleSpec {
        layers: 1,
        layer_size: 100,
        shared_base: false,
        ..small_spec(name, platforms, seed)
    }
}

fn load(store: &Store) -> ImageCatalog {
    ImageCatalog::load(store, &ImageCatalog::default()).unwrap()
}

fn path(s: &str) -> Vec<String> {
    s.split('/').map(String::from).collect()
}

fn image(catalog: &ImageCatalog, p: &str) -> Arc<ImageEntry> {
    match catalog.find(&path(p)) {
        Some(Found::Image(e)) => e,
        Some(Found::Prefix(_)) => panic!("{p} is a prefix"),
        None => panic!("{p} is not in the catalog"),
    }
}

/// Every node an image directory shows for `p`, one of each kind.
fn nodes_of(e: &Arc<ImageEntry>, p: &Platform) -> Vec<Node> {
    vec![
        Node::Image(e.clone()),
        Node::IndexJson(e.clone()),
        Node::ByPlatformDir(e.clone()),
        Node::PlatformDir(e.clone(), p.clone()),
        Node::ManifestJson(e.clone(), p.clone()),
        Node::ConfigJson(e.clone(), p.clone()),
        Node::Archive(e.clone(), Vec::new()),
        Node::Archive(e.clone(), vec![p.clone()]),
    ]
}

// --- inode numbers --------------------------------------------------------------------------

#[test]
fn every_node_of_an_image_has_its_own_inode_and_none_is_the_root() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec(Some("a"), &["linux/amd64", "linux/arm64"], 1)).unwrap();
    let catalog = load(&store);
    let e = image(&catalog, "docker.io/library/a:latest");
    let mut nodes = nodes_of(&e, &platform("linux/amd64"));
    nodes.extend(nodes_of(&e, &platform("linux/arm64")));
    nodes.extend([
        Node::ImagesDir,
        Node::NamePrefix(path("docker.io")),
        Node::NamePrefix(path("docker.io/library")),
        Node::ImportDir(String::new()),
        Node::ImportDir("linux-arm64".into()),
        Node::StatusDir(String::new()),
    ]);
    let inos: HashSet<u64> = nodes.iter().map(Node::ino).collect();
    // The by-platform directories, image and index nodes appear twice in `nodes`.
    assert_eq!(inos.len(), nodes.len() - 4);
    assert!(inos.iter().all(|&i| i >= 2), "{inos:?}");
    assert_eq!(Node::Root.ino(), ROOT_INO);
}

#[test]
fn inodes_survive_a_reload_and_change_with_the_image_a_name_shows() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec(Some("a"), &["linux/amd64"], 1)).unwrap();
    let amd = platform("linux/amd64");
    let inos = |c: &ImageCatalog| -> Vec<u64> {
        nodes_of(&image(c, "docker.io/library/a:latest"), &amd)
            .iter()
            .map(Node::ino)
            .collect()
    };
    // A remount reads the store afresh: same content, same numbers (backup tools key on them).
    let first = inos(&load(&store));
    assert_eq!(inos(&load(&store)), first);
    // The tag moves to another image: every number under it changes.
    write_sample(&store, &spec(Some("a"), &["linux/amd64"], 2)).unwrap();
    let moved = inos(&load(&store));
    assert!(
        first.iter().all(|i| !moved.contains(i)),
        "{first:?} {moved:?}"
    );
}

#[test]
fn inodes_change_when_the_same_image_loses_a_platform() {
    let (_dir, store) = temp_store();
    let target =
        write_sample(&store, &spec(Some("a"), &["linux/amd64", "linux/arm64"], 1)).unwrap();
    let before = load(&store);
    let e = image(&before, "docker.io/library/a:latest");
    let arm = e.graph.select_one(&platform("linux/arm64")).unwrap();
    store.remove_blob(&arm.children[1].digest).unwrap();
    let after = load(&store);
    let e2 = image(&after, "docker.io/library/a:latest");
    assert_eq!(e2.digest, target.digest);
    // image.tar's bytes changed (arm64 is no longer carried), so it must not keep its number.
    let tar = |e: &Arc<ImageEntry>| Node::Archive(e.clone(), Vec::new()).ino();
    assert_ne!(tar(&e), tar(&e2));
    assert_ne!(e.content_key, e2.content_key);
}

#[test]
fn upload_nodes_take_the_uploads_number_and_its_status_another() {
    let upload = Arc::new(Upload::new(1234, "x.tar".into(), Vec::new()));
    assert_eq!(Node::ImportFile(upload.clone()).ino(), 1234);
    assert_ne!(Node::StatusFile(upload).ino(), 1234);
}

#[test]
fn directories_are_directories_and_files_are_not() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec(Some("a"), &["linux/amd64"], 1)).unwrap();
    let catalog = load(&store);
    let e = image(&catalog, "docker.io/library/a:latest");
    let amd = platform("linux/amd64");
    let dirs: Vec<bool> = nodes_of(&e, &amd).iter().map(Node::is_dir).collect();
    assert_eq!(
        dirs,
        [true, false, true, true, false, false, false, false],
        "image, index.json, by-platform, platform dir, manifest, config, image.tar, p.tar"
    );
    let upload = Arc::new(Upload::new(5, "x".into(), Vec::new()));
    assert!(!Node::ImportFile(upload.clone()).is_dir());
    assert!(!Node::StatusFile(upload).is_dir());
    assert!(Node::ImportDir(String::new()).is_dir());
    assert!(Node::StatusDir(String::new()).is_dir());
}

// --- the catalog ----------------------------------------------------------------------------

#[test]
fn names_become_paths_and_unnamed_images_their_digest() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec(Some("alpine:3.20"), &["linux/amd64"], 1)).unwrap();
    write_sample(
        &store,
        &spec(Some("example.com/team/app:1"), &["linux/amd64"], 2),
    )
    .unwrap();
    let unnamed = write_sample(&store, &spec(None, &["linux/amd64"], 3)).unwrap();
    let catalog = load(&store);
    image(&catalog, "docker.io/library/alpine:3.20");
    image(&catalog, "example.com/team/app:1");
    image(&catalog, &unnamed.digest.to_string());
    let top: Vec<String> = catalog
        .children(&[])
        .iter()
        .map(|f| match f {
            Found::Image(e) => e.path.join("/"),
            Found::Prefix(p) => p.join("/") + "/",
        })
        .collect();
    assert_eq!(
        top,
        vec![
            "docker.io/".to_string(),
            "example.com/".to_string(),
            unnamed.digest.to_string()
        ]
    );
}

#[test]
fn find_tells_images_from_prefixes_and_from_nothing() {
    let (_dir, store) = temp_store();
    write_sample(
        &store,
        &spec(Some("example.com/team/app:1"), &["linux/amd64"], 1),
    )
    .unwrap();
    let catalog = load(&store);
    assert!(matches!(
        catalog.find(&path("example.com/team")),
        Some(Found::Prefix(p)) if p == path("example.com/team")
    ));
    assert!(matches!(
        catalog.find(&path("example.com/team/app:1")),
        Some(Found::Image(_))
    ));
    for absent in [
        "example.com/tea",
        "example.com/team/app:2",
        "example.com/team/app:1/x",
    ] {
        assert!(catalog.find(&path(absent)).is_none(), "{absent}");
    }
}

#[test]
fn children_list_each_name_under_a_prefix_once() {
    let (_dir, store) = temp_store();
    for (i, name) in [
        "example.com/a/x:1",
        "example.com/a/x:2",
        "example.com/a/y/z:1",
        "example.com/b:1",
    ]
    .iter()
    .enumerate()
    {
        write_sample(&store, &spec(Some(name), &["linux/amd64"], i as u64)).unwrap();
    }
    let catalog = load(&store);
    let under = |p: &str| -> Vec<String> {
        catalog
            .children(&path(p))
            .iter()
            .map(|f| match f {
                Found::Image(e) => e.path.last().unwrap().clone(),
                Found::Prefix(p) => p.last().unwrap().clone() + "/",
            })
            .collect()
    };
    assert_eq!(under("example.com"), vec!["a/", "b:1"]);
    assert_eq!(under("example.com/a"), vec!["x:1", "x:2", "y/"]);
    assert_eq!(under("example.com/a/y"), vec!["z:1"]);
}

#[test]
fn a_reload_reuses_unchanged_entries_and_rebuilds_changed_ones() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec(Some("a"), &["linux/amd64"], 1)).unwrap();
    write_sample(&store, &spec(Some("b"), &["linux/amd64"], 2)).unwrap();
    let first = load(&store);
    let a = image(&first, "docker.io/library/a:latest");
    let plan = a.plan(&store, &[]).unwrap();
    write_sample(&store, &spec(Some("b"), &["linux/amd64"], 3)).unwrap();
    let second = ImageCatalog::load(&store, &first).unwrap();
    let a2 = image(&second, "docker.io/library/a:latest");
    // The same entry, with its cached plan.
    assert!(Arc::ptr_eq(&a, &a2));
    assert!(Arc::ptr_eq(&plan, &a2.plan(&store, &[]).unwrap()));
    let b = image(&first, "docker.io/library/b:latest");
    let b2 = image(&second, "docker.io/library/b:latest");
    assert!(!Arc::ptr_eq(&b, &b2));
    assert_ne!(b.digest, b2.digest);
}

#[test]
fn an_image_that_cannot_be_read_is_hidden_not_fatal() {
    let (_dir, store) = temp_store();
    let broken = write_sample(&store, &spec(Some("broken"), &["linux/amd64"], 1)).unwrap();
    write_sample(&store, &spec(Some("fine"), &["linux/amd64"], 2)).unwrap();
    store.remove_blob(&broken.digest).unwrap();
    let catalog = load(&store);
    assert!(
        catalog
            .find(&path("docker.io/library/broken:latest"))
            .is_none()
    );
    image(&catalog, "docker.io/library/fine:latest");
}

#[test]
fn an_image_s_time_is_its_newest_config_and_the_catalog_s_its_newest_image() {
    let (_dir, store) = temp_store();
    // The sample's configs say 2026-0{1 + seed % 9}-01.
    write_sample(&store, &spec(Some("a"), &["linux/amd64"], 1)).unwrap();
    write_sample(&store, &spec(Some("b"), &["linux/amd64"], 4)).unwrap();
    let catalog = load(&store);
    let a = image(&catalog, "docker.io/library/a:latest");
    let b = image(&catalog, "docker.io/library/b:latest");
    assert_eq!(
        Some(a.mtime),
        crate::oci::parse_rfc3339("2026-02-01T00:00:00Z")
    );
    assert_eq!(
        Some(b.mtime),
        crate::oci::parse_rfc3339("2026-05-01T00:00:00Z")
    );
    assert_eq!(catalog.newest(), b.mtime);
    assert_eq!(ImageCatalog::default().newest(), UNIX_EPOCH);
}

// --- what an image directory offers ---------------------------------------------------------

#[test]
fn an_image_offers_its_complete_platforms_without_attestations() {
    let (_dir, store) = temp_store();
    let s = spec(
        Some("a"),
        &["linux/amd64", "linux/arm/v7", "linux/s390x"],
        1,
    );
    write_sample(&store, &s).unwrap();
    let e = image(&load(&store), "docker.io/library/a:latest");
    let s390x = e.graph.select_one(&platform("linux/s390x")).unwrap();
    store.remove_blob(&s390x.children[1].digest).unwrap();
    let e = image(&load(&store), "docker.io/library/a:latest");
    assert_eq!(
        e.platforms(),
        vec![platform("linux/amd64"), platform("linux/arm/v7")]
    );
    assert!(e.manifest(&platform("linux/s390x")).is_err());
    assert!(e.manifest(&platform("unknown/unknown")).is_err());
    assert!(e.manifest(&platform("linux/arm/v7")).is_ok());
}

#[test]
fn a_plan_is_built_once_per_platform_list_and_never_for_an_absent_platform() {
    let (_dir, store) = temp_store();
    write_sample(&store, &spec(Some("a"), &["linux/amd64", "linux/arm64"], 1)).unwrap();
    let e = image(&load(&store), "docker.io/library/a:latest");
    let arm = vec![platform("linux/arm64")];
    let p1 = e.plan(&store, &arm).unwrap();
    assert!(Arc::ptr_eq(&p1, &e.plan(&store, &arm).unwrap()));
    let all = e.plan(&store, &[]).unwrap();
    assert!(all.size() > p1.size());
    assert!(e.plan(&store, &[platform("linux/ppc64le")]).is_err());
    assert!(e.plans.lock().unwrap().len() == 2);
}

#[test]
fn platform_list_names_round_trip_and_only_known_oses_make_import_directories() {
    let ps = vec![platform("linux/arm/v7"), platform("windows/amd64")];
    let name = platform_list_name(&ps);
    assert_eq!(name, "linux-arm-v7+windows-amd64");
    assert_eq!(parse_platform_list(&name), Some(ps));
    assert!(is_import_platform_dir("linux-arm-v7+windows-amd64"));
    // A file name with a dot, an OS nobody ships images for, or an empty part is not a platform
    // directory: `cp foo-1.tar import/` must create a file.
    for name in [
        "linux-amd64.tar",
        "foo-bar",
        "linux-amd64+",
        "+linux-amd64",
        "",
    ] {
        assert!(!is_import_platform_dir(name), "{name}");
    }
}

#[test]
fn inode_numbers_are_stable_and_never_root() {
    assert_eq!(hash_ino("images"), hash_ino("images"));
    assert_ne!(hash_ino("images"), hash_ino("import\0"));
    assert!(hash_ino("x") >= 2);
}

#[test]
fn platform_lists_resolve_aliases() {
    let ps = parse_platform_list("linux-aarch64+linux-amd64").unwrap();
    assert_eq!(platform_list_name(&ps), "linux-arm64+linux-amd64");
    assert!(parse_platform_list("image").is_none());
    assert!(parse_platform_list("").is_none());
    assert!(is_import_platform_dir("linux-arm64+linux-amd64"));
    assert!(!is_import_platform_dir("foreign-7.tar"));
    assert!(!is_import_platform_dir("my-image"));
}

#[test]
fn common_import_platforms_are_in_the_mounts_file_name_form() {
    for name in COMMON_IMPORT_PLATFORMS {
        let p = Platform::from_file_name(name).unwrap();
        assert_eq!(p.file_name(), name, "{p}");
        assert!(is_import_platform_dir(name), "{name}");
    }
}

#[test]
fn the_catalog_knows_its_platform_directories_and_time() {
    let (_dir, store) = temp_store();
    write_sample(
        &store,
        &spec(Some("example.com/a/x:1"), &["linux/amd64"], 1),
    )
    .unwrap();
    write_sample(
        &store,
        &spec(
            Some("example.com/b:1"),
            &["linux/s390x", "windows/amd64"],
            2,
        ),
    )
    .unwrap();
    let catalog = load(&store);
    let dirs: Vec<&str> = catalog.platform_dirs().iter().map(String::as_str).collect();
    assert_eq!(dirs, ["linux-amd64", "linux-s390x", "windows-amd64"]);
    // Unstamped, the time is the newest image's; stamped, when the image list changed.
    assert_eq!(catalog.time(), catalog.newest());
    let when = UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
    assert_eq!(load(&store).stamped(Some(when)).time(), when);
}
