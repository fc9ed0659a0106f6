use std::sync::Arc;

use tar::EntryType;

use super::*;
use crate::rootfs::test_layers::{Layer, Spec, data_at};

fn merge(layers: &mut [Layer]) -> (MergedTree, Vec<MergeNote>) {
    let tocs: Vec<Arc<LayerToc>> = layers.iter_mut().map(|l| l.arc()).collect();
    MergedTree::build(&tocs).unwrap()
}

fn tree(layers: &mut [Layer]) -> MergedTree {
    let (tree, notes) = merge(layers);
    assert!(notes.is_empty(), "{notes:?}");
    tree
}

fn names(tree: &MergedTree, dir: &str) -> Vec<String> {
    let id = tree
        .lookup_path(dir.as_bytes())
        .unwrap_or_else(|| panic!("no {dir}"));
    tree.children(id)
        .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
        .collect()
}

fn view<'t>(tree: &'t MergedTree, path: &str) -> NodeView<'t> {
    tree.node(
        tree.lookup_path(path.as_bytes())
            .unwrap_or_else(|| panic!("no {path}")),
    )
}

/// The bytes of a regular file, read from its layer at the entry's offset.
fn content(tree: &MergedTree, layers: &[Vec<u8>], path: &str) -> Vec<u8> {
    let (l, e) = view(tree, path).content.expect("a regular file");
    let entry = tree.layers()[l].entry(e).unwrap();
    data_at(&layers[l], entry.data_offset(), entry.size())
}

#[test]
fn a_whiteout_hides_a_lower_file_and_is_not_shown() {
    let mut layers = [Layer::new(), Layer::new()];
    layers[0].file("etc/a", b"").file("etc/b", b"");
    layers[1].whiteout("etc/a");
    let tree = tree(&mut layers);
    assert_eq!(names(&tree, "etc"), ["b"]);
}

#[test]
fn a_directory_whited_out_and_recreated_in_one_layer_keeps_only_the_new_children_in_either_order() {
    for whiteout_first in [true, false] {
        let mut layers = [Layer::new(), Layer::new()];
        layers[0].dir("d", 0o755).file("d/old", b"");
        if whiteout_first {
            layers[1].whiteout("d").dir("d", 0o700).file("d/new", b"");
        } else {
            layers[1].dir("d", 0o700).file("d/new", b"").whiteout("d");
        }
        let tree = tree(&mut layers);
        assert_eq!(
            names(&tree, "d"),
            ["new"],
            "whiteout first: {whiteout_first}"
        );
        assert_eq!(view(&tree, "d").mode, 0o700);
    }
}

#[test]
fn an_opaque_directory_hides_lower_children_but_not_its_own_layers() {
    for marker_first in [true, false] {
        let mut layers = [Layer::new(), Layer::new()];
        layers[0]
            .file("etc/a", b"")
            .dir("etc/sub", 0o755)
            .file("etc/sub/x", b"");
        if marker_first {
            layers[1].opaque("etc").file("etc/c", b"");
        } else {
            layers[1].file("etc/c", b"").opaque("etc");
        }
        let tree = tree(&mut layers);
        assert_eq!(names(&tree, "etc"), ["c"], "marker first: {marker_first}");
    }
}

#[test]
fn a_hard_link_to_a_lower_file_is_one_node_with_nlink_counted() {
    let mut layers = [Layer::new(), Layer::new(), Layer::new()];
    layers[0].file("a", b"first");
    layers[1].hardlink("b", "a").hardlink("c", "./a");
    let bytes: Vec<Vec<u8>> = layers.iter_mut().map(|l| l.bytes()).collect();
    let tocs: Vec<Arc<LayerToc>> = bytes
        .iter()
        .map(|b| Arc::new(LayerToc::read(&b[..], &Default::default()).unwrap().0))
        .collect();
    let (tree, notes) = MergedTree::build(&tocs[..2]).unwrap();
    assert!(notes.is_empty());
    let (a, b) = (
        tree.lookup_path(b"a").unwrap(),
        tree.lookup_path(b"b").unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(view(&tree, "c").nlink, 3);
    assert_eq!(view(&tree, "b").content, Some((0, 0)));
    assert_eq!(content(&tree, &bytes, "c"), b"first");

    // A later layer replaces `a`: the links keep the old file, as on disk.
    let mut upper = Layer::new();
    upper.file("a", b"second");
    let upper_bytes = upper.bytes();
    let mut all = tocs[..2].to_vec();
    all.push(Arc::new(
        LayerToc::read(&upper_bytes[..], &Default::default())
            .unwrap()
            .0,
    ));
    let (tree, _) = MergedTree::build(&all).unwrap();
    assert_eq!((view(&tree, "a").nlink, view(&tree, "b").nlink), (1, 2));
    assert_eq!(view(&tree, "a").content, Some((2, 0)));
    assert_eq!(view(&tree, "b").content, Some((0, 0)));
}

#[test]
fn hard_links_to_missing_targets_or_directories_are_noted_and_skipped() {
    let mut layers = [Layer::new()];
    layers[0]
        .hardlink("early", "late")
        .file("late", b"")
        .dir("d", 0o755)
        .hardlink("to-dir", "d")
        .hardlink("nowhere", "no/such/file");
    let (tree, notes) = merge(&mut layers);
    let problems: Vec<(&[u8], MergeProblem)> = notes
        .iter()
        .map(|n| (&n.path[..], n.problem.clone()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (&b"early"[..], MergeProblem::LinkTargetMissing),
            (b"to-dir", MergeProblem::LinkTargetDirectory),
            (b"nowhere", MergeProblem::LinkTargetMissing),
        ]
    );
    assert_eq!(names(&tree, ""), ["d", "late"]);
    assert_eq!(tree.notes_total(), 3);
}

#[test]
fn anything_but_directory_over_directory_replaces() {
    let mut layers = [Layer::new(), Layer::new()];
    layers[0]
        .symlink("s", "target")
        .file("f", b"")
        .dir("d", 0o755)
        .file("d/child", b"")
        .dir("keep", 0o755)
        .file("keep/child", b"");
    layers[1]
        .file_mode("s", 0o600, b"now a file")
        .dir("f", 0o750)
        .file("d", b"now a file")
        .dir("keep", 0o711);
    let tree = tree(&mut layers);
    let s = view(&tree, "s");
    assert_eq!(
        (s.kind, s.mode, s.link_target),
        (NodeKind::Regular, 0o600, &b""[..])
    );
    assert_eq!(view(&tree, "f").kind, NodeKind::Directory);
    assert_eq!(view(&tree, "d").kind, NodeKind::Regular);
    assert!(tree.lookup_path(b"d/child").is_none());
    // Directory over directory: the newer attributes, the lower children.
    assert_eq!(view(&tree, "keep").mode, 0o711);
    assert_eq!(names(&tree, "keep"), ["child"]);
}

#[test]
fn parents_no_entry_names_are_implicit_root_owned_0755_directories_at_mtime_0() {
    let mut layers = [Layer::new()];
    let spec = Spec {
        uid: 5,
        mtime: 99,
        ..Spec::new(EntryType::Regular)
    };
    layers[0].add(b"a/b/c", &spec, b"");
    let tree = tree(&mut layers);
    for dir in ["a", "a/b"] {
        let v = view(&tree, dir);
        assert_eq!(
            (v.kind, v.mode, v.uid, v.gid, v.mtime),
            (NodeKind::Directory, 0o755, 0, 0, (0, 0))
        );
    }
    let root = tree.node(tree.root());
    assert_eq!((root.mode, root.nlink), (0o755, 3));
    assert_eq!(
        tree.parent(tree.lookup_path(b"a/b").unwrap()),
        tree.lookup_path(b"a").unwrap()
    );
}

#[test]
fn the_roots_own_entry_is_ignored_as_containerd_does() {
    let mut layers = [Layer::new()];
    layers[0].dir("./", 0o700).file("x", b"");
    let tree = tree(&mut layers);
    assert_eq!(tree.node(tree.root()).mode, 0o755);
}

#[test]
fn duplicates_last_wins() {
    let mut layers = [Layer::new()];
    layers[0]
        .file("f", b"one")
        .file("./f", b"two")
        .dir("d", 0o700)
        .dir("d/", 0o750);
    let bytes = layers[0].bytes();
    let toc = Arc::new(LayerToc::read(&bytes[..], &Default::default()).unwrap().0);
    let (tree, _) = MergedTree::build(&[toc]).unwrap();
    assert_eq!(content(&tree, &[bytes], "f"), b"two");
    assert_eq!(view(&tree, "d").mode, 0o750);
    assert_eq!(names(&tree, ""), ["d", "f"]);
}

#[test]
fn parents_resolve_through_symlinks_inside_the_root() {
    let mut layers = [Layer::new(), Layer::new()];
    layers[0]
        .dir("usr", 0o755)
        .dir("usr/bin", 0o755)
        .dir("usr/lib", 0o755)
        .symlink("bin", "usr/bin")
        .symlink("lib", "/usr/lib")
        .symlink("up", "../../..")
        .symlink("sbin", "usr/sbin");
    layers[1]
        .file("bin/x", b"")
        .file("lib/y", b"")
        .file("up/z", b"")
        .file("sbin/w", b"")
        .whiteout("bin/gone");
    let tree = tree(&mut layers);
    assert_eq!(view(&tree, "bin").kind, NodeKind::Symlink);
    assert_eq!(names(&tree, "usr/bin"), ["x"]);
    assert_eq!(names(&tree, "usr/lib"), ["y"]);
    // `..` stops at the root (containerd fs.RootPath).
    assert!(tree.lookup_path(b"z").is_some());
    // A dangling symlink's target is created as implicit directories (containerd mkparent).
    assert_eq!(names(&tree, "usr/sbin"), ["w"]);
    assert_eq!(view(&tree, "usr/sbin").mode, 0o755);
}

#[test]
fn a_non_directory_parent_and_symlink_loops_are_noted() {
    let mut layers = [Layer::new()];
    layers[0]
        .file("f", b"")
        .file("f/under-file", b"")
        .symlink("loop", "loop")
        .file("loop/x", b"")
        .file("fine", b"");
    let (tree, notes) = merge(&mut layers);
    let problems: Vec<MergeProblem> = notes.into_iter().map(|n| n.problem).collect();
    assert_eq!(
        problems,
        vec![
            MergeProblem::ParentNotDirectory,
            MergeProblem::TooManySymlinks
        ]
    );
    assert_eq!(names(&tree, ""), ["f", "fine", "loop"]);
}

#[test]
fn children_are_sorted_bytewise_and_found_by_binary_search() {
    let mut layers = [Layer::new(), Layer::new()];
    for name in ["zeta", "Alpha", "beta", "a-b", "a.b", "émile"] {
        layers[0].file(&format!("d/{name}"), b"");
    }
    layers[1].file("d/mid", b"");
    let tree = tree(&mut layers);
    assert_eq!(
        names(&tree, "d"),
        ["Alpha", "a-b", "a.b", "beta", "mid", "zeta", "émile"]
    );
    let d = tree.lookup_path(b"d").unwrap();
    for (name, id) in tree.children(d) {
        assert_eq!(tree.lookup(d, name), Some(id));
    }
    assert_eq!(tree.lookup(d, b"nope"), None);
    assert_eq!(tree.lookup(tree.lookup_path(b"d/mid").unwrap(), b"x"), None);
}

#[test]
fn attributes_come_from_the_entry_setuid_sticky_owner_xattrs_devices_mtime() {
    let mut layers = [Layer::new()];
    let xattr = Spec {
        pax: vec![("SCHILY.xattr.user.k", b"v"), ("mtime", b"12.000000500")],
        uid: 1000,
        gid: 100,
        ..Spec::new(EntryType::Regular)
    };
    layers[0]
        .dir("tmp", 0o1777)
        .dir("root", 0o700)
        .file_mode("su", 0o4755, b"")
        .add(b"x", &xattr, b"abc")
        .add(
            b"null",
            &Spec {
                device: (1, 3),
                ..Spec::new(EntryType::Char)
            },
            b"",
        )
        .add(b"fifo", &Spec::new(EntryType::Fifo), b"");
    let tree = tree(&mut layers);
    assert_eq!(view(&tree, "tmp").mode, 0o1777);
    assert_eq!(view(&tree, "root").mode, 0o700);
    assert_eq!(view(&tree, "su").mode, 0o4755);
    let x = view(&tree, "x");
    assert_eq!((x.uid, x.gid, x.size, x.mtime), (1000, 100, 3, (12, 500)));
    assert_eq!(
        x.xattrs.unwrap().collect::<Vec<_>>(),
        vec![(&b"user.k"[..], &b"v"[..])]
    );
    let null = view(&tree, "null");
    assert_eq!(
        (null.kind, null.device, null.content),
        (NodeKind::CharDevice, (1, 3), None)
    );
    assert_eq!(view(&tree, "fifo").kind, NodeKind::Fifo);
}

#[test]
fn an_empty_stack_and_empty_layers_give_an_empty_root() {
    let (tree, notes) = MergedTree::build(&[]).unwrap();
    assert!(notes.is_empty());
    assert_eq!((tree.len(), tree.children(tree.root()).len()), (1, 0));
    let tree = tree_of_empty();
    assert_eq!(tree.children(tree.root()).len(), 0);
}

fn tree_of_empty() -> MergedTree {
    let mut layers = [Layer::new(), Layer::new()];
    tree(&mut layers)
}

#[test]
fn removed_subtrees_are_dropped_from_the_layout() {
    let mut layers = [Layer::new(), Layer::new()];
    for i in 0..50 {
        layers[0].file(&format!("big/{i}"), b"");
    }
    layers[1].whiteout("big").file("small", b"");
    let tree = tree(&mut layers);
    assert_eq!(tree.len(), 2);
}

#[test]
fn a_hard_link_to_a_symlink_shares_the_symlink() {
    let mut layers = [Layer::new()];
    layers[0].symlink("s", "target").hardlink("h", "s");
    let tree = tree(&mut layers);
    let h = view(&tree, "h");
    assert_eq!(
        (h.kind, h.link_target, h.nlink),
        (NodeKind::Symlink, &b"target"[..], 2)
    );
}

#[test]
fn implicit_directories_past_the_node_bound_fail_the_build() {
    // 40 entries, each 2,000 directories deep: 80,000 implicit directories, over
    // 2 × entries + 65,536.
    let mut layers = [Layer::new()];
    for i in 0..40 {
        let path = format!("{i}/{}f", "d/".repeat(1999));
        layers[0].file(&path, b"");
    }
    let tocs = [layers[0].arc()];
    assert!(matches!(
        MergedTree::build(&tocs),
        Err(MergeError::TooManyNodes { limit }) if limit == 40 * 2 + 65_536
    ));
}

#[test]
fn symlinks_that_make_resolution_expensive_fail_the_build() {
    // Each expansion of `s` adds 2,000 components; 255 of them per entry.
    let mut layers = [Layer::new()];
    let target = format!("{}s", "./".repeat(2000));
    layers[0].symlink("s", &target);
    for name in ["a", "b", "c"] {
        layers[0].file(&format!("s/{name}"), b"");
    }
    let tocs = [layers[0].arc()];
    assert!(matches!(
        MergedTree::build(&tocs),
        Err(MergeError::TooMuchWork { limit }) if limit == 4 * 64 + (1 << 20)
    ));
}

#[test]
fn a_missing_component_cancelled_by_dotdot_is_never_made_and_self_loops_are_noted() {
    let mut layers = [Layer::new()];
    layers[0]
        .dir("b", 0o755)
        // `gone` does not exist: `gone/..` is the root, and `gone` is not made.
        .symlink("s", "/gone/../b")
        // `a/..` walks `a` first, which leads back to `a`: a loop.
        .symlink("a", "/a/../b")
        .file("s/x", b"")
        .file("a/y", b"");
    let (tree, notes) = merge(&mut layers);
    assert_eq!(names(&tree, "b"), ["x"]);
    assert_eq!(names(&tree, ""), ["a", "b", "s"]);
    let problems: Vec<(&[u8], MergeProblem)> = notes
        .iter()
        .map(|n| (&n.path[..], n.problem.clone()))
        .collect();
    assert_eq!(problems, vec![(&b"a/y"[..], MergeProblem::TooManySymlinks)]);
}
