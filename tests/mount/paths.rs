//! Colon-free paths (doc/SEMANTICS.md "Colon-free paths"): tools that split their argument at
//! the first colon — skopeo's `oci-archive:` transport, GNU tar's `host:file`, rsync — take an
//! absolute path into the mount through an image's `@` form.

use std::fs;
use std::process::Command;

use super::{IMAGE_DIR, Mounted};
use crate::common::{needs, run, tool};

/// `images/example.com/test/app@1`, the colon-free path of `IMAGE_DIR`.
fn colon_free(m: &Mounted, rel: &str) -> std::path::PathBuf {
    m.path(&format!("{}/{rel}", IMAGE_DIR.replace(':', "@")))
}

/// skopeo copies from an absolute colon-free path (with the colon form it would read the tag
/// as the archive's reference and fail), and gets the same manifest.
#[test]
fn skopeo_reads_a_by_platform_tar_through_its_colon_free_absolute_path() {
    needs!("fuse", "skopeo");
    let m = Mounted::new();
    let tar = colon_free(&m, "by-platform/linux-arm64.tar");
    let out = m.tmp("skopeo-abs");
    run(Command::new(tool("skopeo")).args([
        "copy",
        "--quiet",
        &format!("oci-archive:{}", tar.display()),
        &format!("dir:{}", out.display()),
    ]));
    assert_eq!(
        fs::read(out.join("manifest.json")).unwrap(),
        fs::read(m.image("by-platform/linux-arm64/manifest.json")).unwrap()
    );
}

/// GNU tar lists `…/app@1/image.tar` (a colon would make it contact a host), the bytes equal
/// the colon form's, and neither `ls` of the repository nor a recursive listing shows the
/// alias: a backup of the mount copies each image once.
#[test]
fn the_colon_free_path_serves_the_same_bytes_and_is_never_listed() {
    needs!("fuse");
    let m = Mounted::new();
    let tar = colon_free(&m, "image.tar");
    let listed = run(Command::new("tar").arg("-tf").arg(&tar));
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("index.json"),
        "tar -tf listed: {}",
        String::from_utf8_lossy(&listed.stdout)
    );
    assert_eq!(
        fs::read(&tar).unwrap(),
        fs::read(m.image("image.tar")).unwrap()
    );
    let repo = m.path("images/example.com/test");
    let names: Vec<String> = fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["app:1"]);
    let all = run(Command::new("find").arg(m.path("images")));
    assert!(
        !String::from_utf8_lossy(&all.stdout).contains('@'),
        "find lists an alias: {}",
        String::from_utf8_lossy(&all.stdout)
    );
}
