//! The mount's `by-platform/<p>/rootfs/` and `layers/` through the kernel, against `umoci raw
//! unpack` of the same layers: one store holds the same layers (`layers()` plus a layer with an
//! 8 MiB compressible and a 6 MiB incompressible file) compressed five ways, and every tree the
//! mount shows must be umoci's, read with real syscalls (lstat, readlink, read, llistxattr);
//! random reads from several threads must give the layers' bytes; `layers/` shows each layer
//! alone, its blob and its whiteouts; the mounting user reads a root-only file, others do not.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use imagefs::rootfs::{LayerToc, MergedTree, TocLimits};
use tar::EntryType;

use super::{
    Layer, Seen, assert_same, import_layout, known_differences, layers, pigz, sha256, spec,
    umoci_raw_unpack, walk_tree, walk_unpacked, write_layout_with,
};
use crate::common::*;

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const PLAIN: &str = "application/vnd.oci.image.layer.v1.tar";

/// How the same layers are stored, one image each.
const VARIANTS: [&str; 5] = ["gzip", "pigz", "zstd-one-frame", "zstd-frames", "plain"];

fn name(variant: &str) -> String {
    format!("example.com/rootfs/{variant}:1")
}

/// The colon-free path of a variant's merged tree under the mount.
fn rootfs_rel(variant: &str) -> String {
    format!("images/example.com/rootfs/{variant}@1/by-platform/linux-amd64/rootfs")
}

/// 8 MiB of text (compresses well, spans several gzip checkpoints) and 6 MiB of noise.
fn big_files() -> (Vec<u8>, Vec<u8>) {
    let mut text = Vec::with_capacity(8 << 20);
    let mut line = 0u64;
    while text.len() < 8 << 20 {
        writeln!(
            text,
            "{line:08} the quick brown fox jumps over the lazy dog"
        )
        .unwrap();
        line += 1;
    }
    text.truncate(8 << 20);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..6 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    (text, noise)
}

/// `layers()` and a fifth layer with the big files.
fn all_layers() -> Vec<Vec<u8>> {
    let (text, noise) = big_files();
    let mut big = Layer::new();
    big.dir("big", 0o755)
        .file("big/compressible", 0o644, &text)
        .file("big/incompressible", 0o644, &noise)
        .add("big/empty", &spec(EntryType::Regular, 0o644), b"");
    let mut all = layers();
    all.push(big.finish());
    all
}

/// Layer `i` as `variant` stores it. "pigz" also makes every odd layer a multi-member gzip
/// (two members split mid-tar), which gzip readers must read as one stream.
fn compress(variant: &str, i: usize, layer: &[u8]) -> (Vec<u8>, &'static str) {
    match variant {
        "gzip" => (gzip(layer), GZIP),
        "pigz" if i % 2 == 1 => {
            let (a, b) = layer.split_at(layer.len() / 2 + 7);
            (
                [pigz(a, &["-b", "128"]), pigz(b, &["-b", "128"])].concat(),
                GZIP,
            )
        }
        "pigz" => (pigz(layer, &["-b", "128"]), GZIP),
        "zstd-one-frame" => (zstd::encode_all(layer, 3).unwrap(), ZSTD),
        "zstd-frames" => (
            layer
                .chunks(512 << 10)
                .flat_map(|c| zstd::encode_all(c, 3).unwrap())
                .collect(),
            ZSTD,
        ),
        "plain" => (layer.to_vec(), PLAIN),
        other => unreachable!("variant {other}"),
    }
}

/// A store with every variant imported, its directory, the layouts (by variant) and the layers.
struct Stored {
    dir: tempfile::TempDir,
    store: PathBuf,
    layers: Vec<Vec<u8>>,
}

impl Stored {
    fn layout(&self, variant: &str) -> PathBuf {
        self.dir.path().join(format!("layout-{variant}"))
    }

    fn mount(&self, extra: &[&str]) -> Mount {
        let dir = self.dir.path();
        Mount::start_with(
            &self.store,
            &dir.join("mnt"),
            &dir.join("daemon.log"),
            extra,
        )
    }
}

fn stored() -> Stored {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let layers = all_layers();
    let s = Stored { dir, store, layers };
    for variant in VARIANTS {
        let layout = s.layout(variant);
        write_layout_with(&layout, &s.layers, Some(&name(variant)), |i, l| {
            compress(variant, i, l)
        });
        import_layout(&s.store, &layout);
    }
    s
}

/// umoci's unpack of the gzip layout (as root: owners and device nodes kept), walked.
fn umoci_unpack(s: &Stored) -> (BTreeMap<String, Seen>, BTreeMap<u64, BTreeSet<String>>) {
    let bundle = s.dir.path().join("umoci");
    let u = umoci_raw_unpack(&s.layout("gzip"), "tag", &bundle);
    assert!(u.status.success(), "umoci: {}", text(&u.stderr));
    let (mut theirs, mut inodes) = (BTreeMap::new(), BTreeMap::new());
    walk_unpacked(&bundle, "", &mut theirs, &mut inodes, &implicit(&s.layers));
    (theirs, inodes)
}

/// The paths that are implicit directories in the merged tree (no entry describes them).
fn implicit(layers: &[Vec<u8>]) -> BTreeSet<String> {
    let tocs: Vec<Arc<LayerToc>> = layers
        .iter()
        .map(|l| Arc::new(LayerToc::read(&l[..], &TocLimits::default()).unwrap().0))
        .collect();
    let (tree, _) = MergedTree::build(&tocs).unwrap();
    let (mut out, mut groups, mut implicit) = (BTreeMap::new(), BTreeMap::new(), BTreeSet::new());
    walk_tree(
        &tree,
        layers,
        tree.root(),
        "",
        &mut out,
        &mut groups,
        &mut implicit,
    );
    implicit
}

/// Claims (doc/SEMANTICS.md "Inside images"): `rootfs/` is what `umoci raw unpack` makes of the
/// layers, for gzip, pigz (multi-block and multi-member), zstd (one frame, many) and plain
/// layers: paths, kinds, modes with setuid/setgid/sticky, owners, sizes, symlink targets
/// (readlink), mtimes with nanoseconds, device numbers, fifos, user xattrs, the bytes of every
/// file (read), and hard links as one inode.
#[test]
fn rootfs_is_what_umoci_unpacks_for_every_compression() {
    needs!("fuse", "root", "umoci", "pigz");
    let s = stored();
    let (theirs, inodes) = umoci_unpack(&s);
    let implicit = implicit(&s.layers);
    let m = s.mount(&[]);
    for variant in VARIANTS {
        let root = m.path(&rootfs_rel(variant));
        let (mut ours, mut our_inodes) = (BTreeMap::new(), BTreeMap::new());
        walk_unpacked(&root, "", &mut ours, &mut our_inodes, &implicit);
        let mut theirs = theirs.clone();
        known_differences(&mut ours, &mut theirs, &implicit);
        assert_same(&ours, &theirs, our_inodes, inodes.clone(), variant);
        assert_eq!(ours["big/compressible"].size, 8 << 20, "{variant}");
        assert_eq!(ours["usr/bin/su"].mode, 0o4755, "{variant}");
        assert_eq!(ours["tmp"].mode, 0o1777, "{variant}");
        assert_eq!(ours["dev/null"].device, (1, 3), "{variant}");
        assert_eq!(ours["subsecond"].mtime, Some((1_700_000_000, 500_000_000)));
        assert!(!ours["xattr-file"].xattrs.is_empty(), "{variant}");
    }
    // Single-frame zstd layers are read through a decompressed copy, kept beside the layer
    // indexes (`<layer>.tar`), made once and checked against the config's diff_id.
    for (i, layer) in s.layers.iter().enumerate() {
        let blob = sha256(&compress("zstd-one-frame", i, layer).0);
        let copy = s.store.join(format!("indexes/sha256/{blob}.tar"));
        let meta = std::fs::metadata(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
        assert!(
            meta.len() > layer.len() as u64,
            "the copy holds the layer's tar"
        );
    }
    // `find` and GNU tar walk it like any directory (tar reads every file's bytes).
    let root = m.path(&rootfs_rel("gzip"));
    let find = run(Command::new("find")
        .arg(&root)
        .args(["-printf", "%y %P %m %U %G %l\n"]));
    let lines = text(&find.stdout);
    assert!(lines.contains("l bin 777 0 0 usr/bin\n"), "{lines}");
    assert!(lines.contains("f usr/bin/su 4755 0 0 \n"), "{lines}");
    assert!(lines.contains("c dev/null 666 0 0 \n"), "{lines}");
    assert!(
        lines.contains("f home/user/notes 640 1000 1001 \n"),
        "{lines}"
    );
    let tar = run(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-cf", "-", "."])
        .stdout(Stdio::piped()));
    assert!(tar.stdout.len() > 14 << 20, "tar read the big files");
}

/// Claim: reads at any offset and length, from several threads at once, give the layer's
/// bytes, whatever the compression (checkpoints, frames, the shared decoded-chunk cache, one
/// decoder per open file).
#[test]
fn random_reads_from_several_threads_give_the_files_bytes() {
    needs!("fuse", "root", "pigz");
    let s = stored();
    let m = s.mount(&[]);
    let (text, noise) = big_files();
    let files: Vec<(&str, &[u8])> = vec![
        ("big/compressible", &text),
        ("big/incompressible", &noise),
        ("usr/lib/libc.so", &[7u8; 5000]),
        ("etc/b", b"b changed"),
    ];
    std::thread::scope(|scope| {
        for (t, variant) in VARIANTS.iter().enumerate() {
            for worker in 0..2u64 {
                let (m, files) = (&m, &files);
                scope.spawn(move || {
                    let root = m.path(&rootfs_rel(variant));
                    let opened: Vec<std::fs::File> = files
                        .iter()
                        .map(|(p, _)| std::fs::File::open(root.join(p)).unwrap())
                        .collect();
                    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64) << 8 ^ worker;
                    for _ in 0..150 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let i = (x % files.len() as u64) as usize;
                        let want = files[i].1;
                        let offset = (x >> 8) % (want.len() as u64 + 1);
                        let len = 1 + (x >> 40) as usize % (300 << 10);
                        let mut buf = vec![0u8; len];
                        let n = opened[i].read_at(&mut buf, offset).unwrap();
                        let end = (offset as usize + len).min(want.len());
                        assert!(
                            buf[..n] == want[offset as usize..end],
                            "{variant} {} at {offset}+{len}: {n} bytes",
                            files[i].0
                        );
                    }
                });
            }
        }
    });
}

/// Claims: `layers/` lists per layer `NN-sha256-<hex>/` (that layer alone, as `tar -x` of it
/// makes it, whiteout markers left out), `NN-sha256-<hex>.tar.gz|.tar.zst|.tar` (the blob as
/// stored, by its first bytes) and `NN-sha256-<hex>.whiteouts` (what it deletes below it).
#[test]
fn layers_shows_each_layer_alone_its_blob_and_its_whiteouts() {
    needs!("fuse", "root", "pigz");
    let s = stored();
    let m = s.mount(&[]);
    let dir = |variant: &str| {
        m.path(&format!(
            "images/example.com/rootfs/{variant}@1/by-platform/linux-amd64/layers"
        ))
    };
    let listed: Vec<String> = names_in(&dir("gzip"));
    let digests: Vec<String> = s
        .layers
        .iter()
        .map(|l| sha256(&compress("gzip", 0, l).0))
        .collect();
    let mut want = Vec::new();
    for (i, d) in digests.iter().enumerate() {
        let stem = format!("{:02}-sha256-{d}", i + 1);
        want.extend([
            stem.clone(),
            format!("{stem}.tar.gz"),
            format!("{stem}.whiteouts"),
        ]);
    }
    want.sort();
    assert_eq!(listed, want);
    // The blob is the stored blob: its sha256 is its digest.
    for (i, d) in digests.iter().enumerate() {
        let blob = std::fs::read(dir("gzip").join(format!("{:02}-sha256-{d}.tar.gz", i + 1)));
        assert_eq!(sha256(&blob.unwrap()), *d);
    }
    // Suffixes follow the bytes: zstd and plain layers.
    assert!(
        names_in(&dir("zstd-frames"))
            .iter()
            .any(|n| n.ends_with(".tar.zst"))
    );
    assert!(names_in(&dir("plain")).iter().all(|n| !n.ends_with(".gz")));

    // The second layer alone, against GNU tar's extraction of it (markers removed).
    let second = dir("gzip").join(format!("02-sha256-{}", digests[1]));
    let extracted = s.dir.path().join("layer-2");
    std::fs::create_dir(&extracted).unwrap();
    let mut tar = Command::new("tar");
    tar.arg("-C")
        .arg(&extracted)
        // Whiteout markers are not shown, and the hard link to a lower layer's file has no
        // target in the layer alone.
        .args([
            "--xattrs",
            "--xattrs-include=*",
            "--exclude=.wh.*",
            "--exclude=hl-lower",
        ])
        .args(["-xpf", "-"])
        .stdin(Stdio::piped());
    let mut child = tar.spawn().unwrap();
    child.stdin.take().unwrap().write_all(&s.layers[1]).unwrap();
    assert!(child.wait().unwrap().success());
    let (mut ours, mut theirs) = (BTreeMap::new(), BTreeMap::new());
    walk_unpacked(
        &second,
        "",
        &mut ours,
        &mut BTreeMap::new(),
        &BTreeSet::new(),
    );
    walk_unpacked(
        &extracted,
        "",
        &mut theirs,
        &mut BTreeMap::new(),
        &BTreeSet::new(),
    );
    // Directories no entry describes: the root, `old` and `old/dir` (parents of `old/dir/new`),
    // `bin` (a symlink in the layer below, so the layer alone has a directory there). tar
    // gives them the time of extraction and its umask's mode, the layer view 0755 at time 0.
    for implicit in ["", "old", "old/dir", "bin"] {
        let (o, t) = (
            ours.get_mut(implicit).unwrap(),
            theirs.get_mut(implicit).unwrap(),
        );
        assert_eq!(
            (o.kind, o.mode, o.mtime),
            ('d', 0o755, Some((0, 0))),
            "{implicit}"
        );
        (o.mtime, t.mtime, t.mode) = (None, None, o.mode);
    }
    assert_same(
        &ours,
        &theirs,
        BTreeMap::<u64, _>::new(),
        BTreeMap::new(),
        "layer 2",
    );

    let whiteouts =
        std::fs::read_to_string(dir("gzip").join(format!("02-sha256-{}.whiteouts", digests[1])))
            .unwrap();
    assert_eq!(whiteouts, "D /etc/a\nO /old/dir/\n");
    let first = std::fs::read(dir("gzip").join(format!("01-sha256-{}.whiteouts", digests[0])));
    assert_eq!(first.unwrap(), b"");
}

/// Claims: the mounting user (here `--uid 65534`, through `--allow-other`) reads files and
/// lists directories whatever mode and owner the layer gave them; another user gets the stored
/// modes: a 0600 root file and a 0700 root directory are closed to them. Owners and modes are
/// shown as stored either way.
#[test]
fn the_mounting_user_reads_everything_others_get_the_stored_modes() {
    needs!("fuse", "root", "pigz", "setpriv");
    let s = stored();
    let m = s.mount(&["--allow-other", "--uid", "65534", "--gid", "65534"]);
    let root = m.path(&rootfs_rel("gzip"));
    let as_user = |uid: &str, args: &[&str], path: &Path| {
        output(
            Command::new("setpriv")
                .args([
                    &format!("--reuid={uid}"),
                    &format!("--regid={uid}"),
                    "--clear-groups",
                ])
                .args(args)
                .arg(path),
        )
    };
    let secret = root.join("root/secret");
    let meta = std::fs::symlink_metadata(&secret).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o600, 0, 0)
    );
    let mine = as_user("65534", &["cat"], &secret);
    assert!(mine.status.success(), "{}", text(&mine.stderr));
    assert_eq!(mine.stdout, b"s");
    assert!(
        as_user("65534", &["ls"], &root.join("root"))
            .status
            .success()
    );
    let other = as_user("65533", &["cat"], &secret);
    assert!(
        !other.status.success(),
        "another user reads a 0600 root file"
    );
    assert!(
        text(&other.stderr).contains("Permission denied"),
        "{}",
        text(&other.stderr)
    );
    assert!(
        !as_user("65533", &["ls"], &root.join("root"))
            .status
            .success()
    );
    // What the stored modes allow, they allow (a 0755 file in 0755 directories), and deny
    // (`etc` is 0750 root:root in the second layer).
    let open = as_user("65533", &["cat"], &root.join("usr/lib/libc.so"));
    assert!(open.status.success(), "{}", text(&open.stderr));
    assert!(
        !as_user("65533", &["cat"], &root.join("etc/passwd"))
            .status
            .success()
    );
    // Writing is refused to everyone, root included.
    let err = std::fs::write(root.join("etc/passwd"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
}

/// Claims: inode numbers inside images are the same after a remount (derived from the image
/// and the path), hard links share one; `rootfs-status.json` says `not built` before the first
/// look inside and `ready` (with the node count) after; `imagefs index` ahead of time leaves the
/// mount nothing to build.
#[test]
fn inode_numbers_survive_a_remount_and_the_status_file_follows_the_build() {
    needs!("fuse", "root", "pigz");
    let s = stored();
    let mut m = s.mount(&[]);
    let status = |m: &Mount, variant: &str| -> serde_json::Value {
        let path = format!(
            "images/example.com/rootfs/{variant}@1/by-platform/linux-amd64/rootfs-status.json"
        );
        json(&std::fs::read(m.path(&path)).unwrap())
    };
    assert_eq!(status(&m, "gzip")["state"], "not built");
    assert_eq!(status(&m, "gzip")["layers"], 5);
    let inos = |m: &Mount| -> BTreeMap<String, u64> {
        let root = m.path(&rootfs_rel("gzip"));
        let out = run(Command::new("find").arg(&root).args(["-printf", "%i %P\n"]));
        text(&out.stdout)
            .lines()
            .map(|l| {
                let (ino, path) = l.split_once(' ').unwrap();
                (path.to_string(), ino.parse().unwrap())
            })
            .collect()
    };
    let first = inos(&m);
    let st = status(&m, "gzip");
    assert_eq!(st["state"], "ready", "{st}");
    assert_eq!(st["layers_ready"], 5, "{st}");
    assert!(st["nodes"].as_u64().unwrap() > 40, "{st}");
    assert_eq!(
        first["usr/lib/libc.so"], first["hl-lower"],
        "hard links share one inode"
    );
    let distinct: BTreeSet<u64> = first.values().copied().collect();
    assert_eq!(
        distinct.len(),
        first.len() - 1,
        "one shared number, the rest distinct"
    );
    m.unmount();
    m.mount();
    assert_eq!(inos(&m), first, "the same numbers after a remount");

    // Indexed ahead: the store holds every layer's table, and the mount only loads them.
    run(imagefs(&s.store).args(["index", &name("plain")]));
    m.unmount();
    m.mount();
    let _ = std::fs::read_dir(m.path(&rootfs_rel("plain")))
        .unwrap()
        .count();
    let st = status(&m, "plain");
    assert_eq!(st["state"], "ready", "{st}");
    assert!(st["seconds"].as_f64().unwrap() < 5.0, "{st}");
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Claims: names inside images are bytes (a Latin-1 name that is not UTF-8 is listed, found
/// and read as it is), and a directory of 3000 entries lists every one, once, through the
/// kernel's readdir in pieces.
#[test]
fn names_are_bytes_and_a_large_directory_lists_every_entry() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    needs!("fuse");
    let dir = tempfile::tempdir().unwrap();
    let mut layer = Layer::new();
    layer.dir("many", 0o755);
    let mut want: Vec<String> = (0..3000)
        .map(|i| format!("entry-{i:05}-{}", "x".repeat(i % 90)))
        .collect();
    for name in &want {
        layer.file(&format!("many/{name}"), 0o644, name.as_bytes());
    }
    let latin1: &[u8] = b"caf\xe9";
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(5);
    h.as_old_mut().name[..latin1.len()].copy_from_slice(latin1);
    h.set_cksum();
    layer.0.append(&h, &b"bytes"[..]).unwrap();
    let layout = dir.path().join("layout");
    write_layout_with(
        &layout,
        &[layer.finish()],
        Some("example.com/rootfs/names:1"),
        |_, l| (gzip(l), GZIP),
    );
    let store = dir.path().join("store");
    import_layout(&store, &layout);
    let m = Mount::start(
        &store,
        &dir.path().join("mnt"),
        &dir.path().join("daemon.log"),
    );
    let root = m.path("images/example.com/rootfs/names@1/by-platform/linux-amd64/rootfs");
    let listed = names_in(&root.join("many"));
    want.sort();
    assert_eq!(listed, want);
    let ls = run(Command::new("ls").arg("-f").arg(root.join("many")));
    assert_eq!(
        text(&ls.stdout).lines().count(),
        3002,
        "every entry once, with . and .."
    );
    let top: Vec<std::ffi::OsString> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(top.iter().any(|n| n.as_bytes() == latin1), "{top:?}");
    assert_eq!(
        std::fs::read(root.join(OsStr::from_bytes(latin1))).unwrap(),
        b"bytes"
    );
    let one = root.join("many").join(&want[1234]);
    assert_eq!(std::fs::read(&one).unwrap(), want[1234].as_bytes());
}

/// Claim: the same holds for a real image made from Debian 12 packages (`scripts/deb-image.sh
/// small`: three gzip layers of real binaries, modes, owners, symlinks and hard links, the third
/// replacing files of the first with whiteouts and an opaque directory): the mount's `rootfs/`
/// is `umoci raw unpack` of it, file for file and byte for byte.
#[test]
fn a_real_image_made_from_debian_packages_is_what_umoci_unpacks() {
    needs!("fuse", "root", "umoci", "apt-get", "dpkg-deb", "jq");
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deb-image.sh");
    run(Command::new("bash").arg(&script).arg(&image).arg("small"));
    let store = dir.path().join("store");
    run(imagefs(&store)
        .arg("import")
        .arg(image.with_extension("tar")));
    let bundle = dir.path().join("umoci");
    let u = umoci_raw_unpack(&image, "1", &bundle);
    assert!(u.status.success(), "umoci: {}", text(&u.stderr));
    let (mut theirs, mut inodes) = (BTreeMap::new(), BTreeMap::new());
    walk_unpacked(&bundle, "", &mut theirs, &mut inodes, &BTreeSet::new());
    let m = Mount::start(
        &store,
        &dir.path().join("mnt"),
        &dir.path().join("daemon.log"),
    );
    let root = m.path("images/example.com/deb/small@1/by-platform/linux-amd64/rootfs");
    let (mut ours, mut our_inodes) = (BTreeMap::new(), BTreeMap::new());
    walk_unpacked(&root, "", &mut ours, &mut our_inodes, &BTreeSet::new());
    // The root is the unpack directory itself. Directory times: umoci changes a directory's
    // time when it applies a later layer's whiteout in it (unlinking is a change, on disk);
    // the layers state the time, which the mount shows. Files and links are compared whole.
    for side in [&mut ours, &mut theirs] {
        side.remove("");
        for seen in side.values_mut().filter(|s| s.kind == 'd') {
            seen.mtime = None;
        }
    }
    assert_same(&ours, &theirs, our_inodes, inodes, "the Debian image");
    assert!(ours.len() > 1000, "{} paths", ours.len());
    // The upgrade layer's whiteouts and opaque directory took effect.
    assert!(!ours.contains_key("usr/share/zoneinfo/right"));
    assert!(
        ours.values().any(|s| s.mode & 0o4000 != 0),
        "a setuid binary"
    );
}
