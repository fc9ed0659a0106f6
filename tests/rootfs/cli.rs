//! `imagefs ls-files` and `imagefs cat` against `umoci raw unpack` of the same image: the CLI
//! path (the store's layer indexes, the gzip checkpoint reader, the merge) lists the same
//! paths, kinds, sizes and symlink targets, and prints the same bytes for every file.

use std::collections::BTreeMap;
use std::process::Command;

use super::{Seen, layers, sha256, walk_unpacked, write_layout};
use crate::common::*;

const NAME: &str = "example.com/rootfs/cli:1";

#[test]
fn ls_files_and_cat_show_what_umoci_unpacks() {
    needs!("umoci");
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    write_layout(&layout, &layers());
    // Name the image for the import (the layout tags it only as `tag`).
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    index["manifests"][0]["annotations"]["io.containerd.image.name"] = NAME.into();
    std::fs::write(&index_path, index.to_string()).unwrap();

    let bundle = dir.path().join("unpacked");
    run(Command::new(tool("umoci"))
        .args(["raw", "unpack", "--rootless", "--image"])
        .arg(format!("{}:tag", layout.display()))
        .arg(&bundle));
    let mut theirs = BTreeMap::new();
    walk_unpacked(
        &bundle,
        "",
        &mut theirs,
        &mut BTreeMap::new(),
        &Default::default(),
    );

    let store = dir.path().join("store");
    super::import_layout(&store, &layout);
    // Indexing ahead stores a table per layer, and the seek index of each gzip layer.
    let said = text(&ok(cli(&store, &["index", NAME])));
    assert!(
        said.starts_with(&format!("{NAME} linux/amd64: 4 layers indexed")),
        "{said}"
    );
    let stored: Vec<String> = std::fs::read_dir(store.join("indexes/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        stored.iter().filter(|n| n.ends_with(".toc")).count(),
        4,
        "{stored:?}"
    );
    assert_eq!(
        stored.iter().filter(|n| n.ends_with(".zran")).count(),
        2,
        "{stored:?}"
    );

    let listing = text(&ok(cli(&store, &["ls-files", NAME])));
    // `MODE UID GID SIZE /PATH[ -> TARGET]`; the root is "/".
    let mut ours = BTreeMap::new();
    for line in listing.lines() {
        let mut f = line.splitn(5, ' ');
        let (mode, _uid, _gid, size, rest) = (
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
            f.next().unwrap(),
        );
        let (path, link) = rest.split_once(" -> ").unwrap_or((rest, ""));
        let path = path.trim_start_matches('/').to_string();
        if path.is_empty() {
            continue;
        }
        let kind = mode.chars().next().unwrap();
        let kind = if kind == '-' { 'f' } else { kind };
        ours.insert(path, (kind, size.parse::<u64>().unwrap(), link.to_string()));
    }
    let expected: BTreeMap<String, (char, u64, String)> = theirs
        .iter()
        .map(|(p, s): (&String, &Seen)| {
            // umoci --rootless turns device nodes into empty files; ours stay devices.
            (p.clone(), (s.kind, s.size, s.link.clone()))
        })
        .filter(|(p, _)| !p.is_empty())
        .collect();
    // As `compare_with_umoci` pins: containerd's whiteout parents, which umoci does not make.
    for dir in ["ghost", "phantom"] {
        assert_eq!(ours.remove(dir).map(|o| o.0), Some('d'), "{dir}");
    }
    let ours_kinds: Vec<_> = ours.keys().collect();
    let their_kinds: Vec<_> = expected.keys().collect();
    assert_eq!(ours_kinds, their_kinds, "the same paths");
    for (path, (kind, size, link)) in &expected {
        let (our_kind, our_size, our_link) = &ours[path];
        if *kind == 'f' && matches!(our_kind, 'c' | 'b' | 'p') {
            continue; // rootless placeholders
        }
        assert_eq!((our_kind, our_size, our_link), (kind, size, link), "{path}");
        if *kind == 'f' {
            let bytes = ok(cli(&store, &["cat", NAME, &format!("/{path}")]));
            assert_eq!(sha256(&bytes), theirs[path].sha256, "cat /{path}");
        }
    }
    // `cat` follows symlinks inside the image: `bin -> usr/bin` (usr-merge), and
    // `lower-dir -> etc` then `..` back to the root; a directory or a missing path is refused.
    assert_eq!(
        ok(cli(&store, &["cat", NAME, "/bin/x"])),
        ok(cli(&store, &["cat", NAME, "/usr/bin/x"]))
    );
    assert_eq!(
        ok(cli(&store, &["cat", NAME, "lower-dir/../lower-dir/passwd"])),
        ok(cli(&store, &["cat", NAME, "/etc/passwd"]))
    );
    fails_with(
        &cli(&store, &["cat", NAME, "/usr"]),
        "/usr is a directory, not a regular file",
    );
    fails_with(
        &cli(&store, &["cat", NAME, "/bin/nope"]),
        "has no /bin/nope",
    );
    // The second run reads the stored indexes instead of building them.
    let indexes = std::fs::read_dir(store.join("indexes/sha256"))
        .unwrap()
        .count();
    assert!(indexes >= 4, "{indexes} layer indexes stored");
    let again = text(&ok(cli(&store, &["ls-files", NAME])));
    assert_eq!(again, listing);
}
