//! Hostile and odd layers through the mount's `rootfs/`: path escapes, symlink loops and long
//! chains, long and odd names, deep nesting, huge directories, whiteout edge cases against
//! umoci, damaged and bomb-like compression, concurrent readers with an unmount and a killed
//! daemon, many and large xattrs, and permissions for another user. Each test builds its
//! layers in code, imports them with `imagefs import` and looks through real syscalls.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use tar::EntryType;

use super::{Layer, Spec, import_layout, spec, walk_unpacked, write_layout_with};
use crate::common::*;

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A store of images (each one platform, linux/amd64) in a temp dir.
struct Images {
    dir: tempfile::TempDir,
    store: PathBuf,
}

impl Images {
    fn new() -> Images {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        Images { dir, store }
    }

    /// Imports `layers` as `example.com/adv/<short>:1`, each layer stored as `compress` makes it.
    fn add(
        &self,
        short: &str,
        layers: &[Vec<u8>],
        compress: impl Fn(usize, &[u8]) -> (Vec<u8>, &'static str),
    ) -> PathBuf {
        let layout = self.dir.path().join(format!("layout-{short}"));
        write_layout_with(
            &layout,
            layers,
            Some(&format!("example.com/adv/{short}:1")),
            compress,
        );
        import_layout(&self.store, &layout);
        layout
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

fn gz(_: usize, l: &[u8]) -> (Vec<u8>, &'static str) {
    (gzip(l), GZIP)
}

fn platform_rel(short: &str) -> String {
    format!("images/example.com/adv/{short}@1/by-platform/linux-amd64")
}

fn rootfs_rel(short: &str) -> String {
    format!("{}/rootfs", platform_rel(short))
}

fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> Option<i32> {
    r.expect_err("an error").raw_os_error()
}

fn status(m: &Mount, short: &str) -> serde_json::Value {
    let path = m.path(&format!("{}/rootfs-status.json", platform_rel(short)));
    json(&std::fs::read(path).unwrap())
}

/// The names in `dir`, sorted, as bytes.
fn listing(dir: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    names.sort();
    names
}

fn symlink(l: &mut Layer, path: &str, target: &str) {
    if target.len() > 100 {
        let s = Spec {
            pax: vec![("linkpath", target.as_bytes())],
            ..spec(EntryType::Symlink, 0o777)
        };
        l.add(path, &s, b"");
    } else {
        l.link(EntryType::Symlink, path, target);
    }
}

/// A raw ustar entry whose name is written as given (no cleaning by the tar crate).
fn raw(l: &mut Layer, name: &[u8], kind: EntryType, link: &[u8], data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_cksum();
    l.0.append(&h, data).unwrap();
}

/// Claims: entries that climb out with `..` (plain, after a real directory, after a symlink to
/// `/`), absolute names and hard links to `../outside` never show anything outside the image;
/// an absolute name lands inside the root (leading `/` dropped); a symlink parent that climbs
/// with `..` past the root stops at the root (containerd `RootPath`); the daemon stays up and
/// the rest of the layer is shown.
#[test]
fn path_escapes_stay_inside_the_image() {
    needs!("fuse", "root");
    let outside = tempfile::tempdir().unwrap();
    let mut l0 = Layer::new();
    l0.dir("etc", 0o755)
        .file("etc/keep", 0o644, b"kept")
        .dir("a", 0o755);
    symlink(&mut l0, "rootlink", "/");
    symlink(&mut l0, "up", "../../../..");
    raw(
        &mut l0,
        b"../../escaped-dotdot",
        EntryType::Regular,
        b"",
        b"x",
    );
    raw(&mut l0, b"/abs/path", EntryType::Regular, b"", b"abs");
    raw(&mut l0, b"a/../../b", EntryType::Regular, b"", b"b");
    raw(&mut l0, b"rootlink/../../x", EntryType::Regular, b"", b"x");
    raw(
        &mut l0,
        b"hl-out",
        EntryType::Link,
        b"../outside/secret",
        b"",
    );
    raw(&mut l0, b"hl-abs", EntryType::Link, b"/etc/keep", b"");
    // A parent reached through `up` (which climbs past the root) lands at the root.
    raw(&mut l0, b"up/through-up", EntryType::Regular, b"", b"up");
    // Through `rootlink` (absolute `/`): the root again.
    raw(
        &mut l0,
        b"rootlink/etc/through-root",
        EntryType::Regular,
        b"",
        b"r",
    );
    l0.file("last", 0o644, b"still here");
    let imgs = Images::new();
    imgs.add("escape", &[l0.finish()], gz);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("escape"));
    let names = listing(&root);
    let names_s: Vec<String> = names
        .iter()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    eprintln!("root lists: {names_s:?}");
    // Nothing with `..` made it in, anywhere a walk can see.
    let find = run(Command::new("find").arg(&root).args(["-printf", "%P\n"]));
    let all = text(&find.stdout);
    eprintln!("find:\n{all}");
    for bad in ["escaped-dotdot", "b", "x", "secret", "outside"] {
        assert!(
            !all.lines().any(|l| l.rsplit('/').next() == Some(bad)),
            "{bad} in {all}"
        );
    }
    assert!(!all.lines().any(|l| l == "hl-out"), "{all}");
    assert_eq!(std::fs::read(root.join("abs/path")).unwrap(), b"abs");
    assert_eq!(std::fs::read(root.join("through-up")).unwrap(), b"up");
    assert_eq!(std::fs::read(root.join("etc/through-root")).unwrap(), b"r");
    assert_eq!(std::fs::read(root.join("hl-abs")).unwrap(), b"kept");
    assert_eq!(
        std::fs::metadata(root.join("hl-abs")).unwrap().ino(),
        std::fs::metadata(root.join("etc/keep")).unwrap().ino()
    );
    assert_eq!(std::fs::read(root.join("last")).unwrap(), b"still here");
    // The symlinks are served verbatim; the kernel follows `rootlink` to the host's `/`, which
    // is the client's business, not the daemon's.
    assert_eq!(
        std::fs::read_link(root.join("up")).unwrap(),
        Path::new("../../../..")
    );
    assert!(!outside.path().join("secret").exists());
    // The layer alone (`layers/01-…/`) keeps inside too.
    let layers_dir = m.path(&format!("{}/layers", platform_rel("escape")));
    let one = listing(&layers_dir)
        .into_iter()
        .find(|n| !n.contains(&b'.'))
        .unwrap();
    let find = run(Command::new("find")
        .arg(layers_dir.join(OsStr::from_bytes(&one)))
        .args(["-printf", "%P\n"]));
    let alone = text(&find.stdout);
    eprintln!("layer alone:\n{alone}");
    for bad in ["escaped-dotdot", "b", "x", "hl-out"] {
        assert!(
            !alone.lines().any(|l| l.rsplit('/').next() == Some(bad)),
            "{bad} in {alone}"
        );
    }
    assert!(alone.lines().any(|l| l == "abs/path"), "{alone}");
    let st = status(&m, "escape");
    assert_eq!(st["state"], "ready", "{st}");
    assert!(m.path("images").is_dir(), "the daemon is alive");
}

/// Claims: a parent path that loops through symlinks (`a -> b`, `b -> a`, then `a/x`) or goes
/// through more than 255 symlinks is skipped (the rest shown); a chain of 40 symlinks is
/// followed; a 4000-byte symlink target is returned by `readlink` verbatim; the kernel's own
/// walk of the loop gives ELOOP.
#[test]
fn symlink_loops_chains_and_long_targets() {
    needs!("fuse", "root");
    let mut l0 = Layer::new();
    symlink(&mut l0, "a", "b");
    symlink(&mut l0, "b", "a");
    l0.file("a/x", 0o644, b"loop");
    l0.dir("real", 0o755).dir("far", 0o755);
    for i in 0..40 {
        let target = if i == 39 {
            "real".to_string()
        } else {
            format!("s{}", i + 1)
        };
        symlink(&mut l0, &format!("s{i}"), &target);
    }
    l0.file("s0/through-40", 0o644, b"40");
    for i in 0..300 {
        let target = if i == 299 {
            "far".to_string()
        } else {
            format!("t{}", i + 1)
        };
        symlink(&mut l0, &format!("t{i}"), &target);
    }
    l0.file("t0/through-300", 0o644, b"300");
    let long: String = (0..4000)
        .map(|i| if i % 50 == 49 { '/' } else { 'L' })
        .collect();
    symlink(&mut l0, "long-target", &long);
    l0.file("after", 0o644, b"after");
    let imgs = Images::new();
    imgs.add("links", &[l0.finish()], gz);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("links"));
    assert_eq!(std::fs::read_link(root.join("a")).unwrap(), Path::new("b"));
    assert_eq!(errno(std::fs::metadata(root.join("a"))), Some(libc::ELOOP));
    assert_eq!(errno(std::fs::read(root.join("a/x"))), Some(libc::ELOOP));
    assert_eq!(
        std::fs::read(root.join("real/through-40")).unwrap(),
        b"40",
        "a chain of 40 symlinks is followed"
    );
    assert!(
        listing(&root.join("far")).is_empty(),
        "more than 255 symlinks: skipped"
    );
    let got = std::fs::read_link(root.join("long-target")).unwrap();
    assert_eq!(got.as_os_str().as_bytes(), long.as_bytes());
    assert_eq!(
        std::fs::symlink_metadata(root.join("long-target"))
            .unwrap()
            .len(),
        4000
    );
    assert_eq!(std::fs::read(root.join("after")).unwrap(), b"after");
    assert!(m.path("images").is_dir());
}

/// Claims: a 255-byte name is listed, looked up and read; a name with a newline too; a name
/// of 256 bytes (over NAME_MAX) is listed and read as well (FUSE allows 1024); a file 1000
/// directories deep is reached (no stack overflow in the daemon), and `find` walks the chain;
/// a directory of 50 000 entries lists each once (`ls -f`).
#[test]
fn long_odd_names_deep_nesting_and_a_huge_directory() {
    needs!("fuse", "root");
    let mut l0 = Layer::new();
    let n255 = "N".repeat(255);
    let n256 = "M".repeat(256);
    l0.file(&n255, 0o644, b"255")
        .file("new\nline", 0o644, b"nl")
        .dir("over", 0o755)
        .file(&format!("over/{n256}"), 0o644, b"256")
        .file("over/ok", 0o644, b"ok");
    let deep = "d/".repeat(1000);
    l0.file(&format!("{deep}bottom"), 0o644, b"deep");
    l0.dir("many", 0o755);
    for i in 0..50_000 {
        l0.file(&format!("many/{i:06}"), 0o644, b"");
    }
    let imgs = Images::new();
    imgs.add("names", &[l0.finish()], gz);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("names"));
    assert_eq!(std::fs::read(root.join(&n255)).unwrap(), b"255");
    assert_eq!(std::fs::read(root.join("new\nline")).unwrap(), b"nl");
    let top = listing(&root);
    assert!(top.contains(&n255.as_bytes().to_vec()));
    assert!(top.contains(&b"new\nline".to_vec()));
    let over = listing(&root.join("over"));
    eprintln!(
        "over/ lists {:?}",
        over.iter().map(|n| n.len()).collect::<Vec<_>>()
    );
    assert!(over.contains(&b"ok".to_vec()));
    // FUSE accepts names up to 1024 bytes (FUSE_NAME_MAX), so the 256-byte name, which no
    // local filesystem could hold (umoci's unpack would fail on it), is listed and read.
    assert!(over.contains(&n256.as_bytes().to_vec()));
    assert_eq!(
        std::fs::read(root.join("over").join(&n256)).unwrap(),
        b"256"
    );
    let namemax = run(Command::new("stat").args(["-f", "-c", "%l"]).arg(&root));
    eprintln!("statfs namemax: {}", text(&namemax.stdout).trim());
    assert_eq!(
        std::fs::read(root.join(format!("{deep}bottom"))).unwrap(),
        b"deep"
    );
    let find = run(Command::new("find")
        .arg(root.join("d"))
        .args(["-name", "bottom"]));
    assert_eq!(text(&find.stdout).lines().count(), 1);
    let ls = run(Command::new("ls").arg("-f").arg(root.join("many")));
    let out = text(&ls.stdout);
    let lines: BTreeSet<&str> = out.lines().collect();
    assert_eq!(
        out.lines().count(),
        50_002,
        "every entry once, with . and .."
    );
    assert_eq!(lines.len(), 50_002);
    assert!(m.path("images").is_dir());
}

/// A comparable walk of `root`: the root entry and directory mtimes out (umoci's unpack
/// directory and its extraction times).
fn walk(root: &Path) -> BTreeMap<String, super::Seen> {
    let mut out = BTreeMap::new();
    walk_unpacked(root, "", &mut out, &mut BTreeMap::new(), &BTreeSet::new());
    out.remove("");
    for s in out.values_mut().filter(|s| s.kind == 'd') {
        s.mtime = None;
    }
    out
}

/// Claims (compared with `umoci raw unpack`): an opaque marker at the root hides every lower
/// entry; a whiteout of a name the same layer adds keeps the new entry (layer.md: whiteouts
/// apply to lower layers only). Then, where umoci gives up: whiteouts of `.` and `..`
/// (`.wh..`, `.wh...`) and an empty whiteout name (`dir/.wh.`) delete nothing.
#[test]
fn whiteout_edge_cases_match_umoci() {
    needs!("fuse", "root", "umoci");
    let mut l0 = Layer::new();
    l0.dir("d", 0o755)
        .file("d/f", 0o644, b"f")
        .dir("e", 0o755)
        .file("e/g", 0o644, b"g")
        .file("top", 0o644, b"top")
        .file("same", 0o644, b"lower");
    let mut l1 = Layer::new();
    l1.file(".wh..wh..opq", 0o644, b"")
        .dir("e", 0o755)
        .file("e/h", 0o644, b"h")
        .file("new", 0o644, b"new")
        .file(".wh.new", 0o644, b"")
        .file("same", 0o644, b"upper");
    let layers = vec![l0.finish(), l1.finish()];
    let imgs = Images::new();
    let layout = imgs.add("wh", &layers, gz);
    let bundle = imgs.dir.path().join("umoci");
    let u = super::umoci_raw_unpack(&layout, "tag", &bundle);
    assert!(
        u.status.success(),
        "umoci: {:?} {:?}",
        text(&u.stdout),
        text(&u.stderr)
    );
    let theirs = walk(&bundle);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("wh"));
    let ours = walk(&root);
    let keys = |m: &BTreeMap<String, super::Seen>| m.keys().cloned().collect::<Vec<_>>();
    eprintln!("ours {:?}\numoci {:?}", keys(&ours), keys(&theirs));
    assert_eq!(keys(&ours), keys(&theirs));
    assert_eq!(ours, theirs);
    assert_eq!(std::fs::read(root.join("same")).unwrap(), b"upper");
    assert_eq!(std::fs::read(root.join("new")).unwrap(), b"new");
    let wh_dir = m.path(&format!("{}/layers", platform_rel("wh")));
    let mut whiteouts = String::new();
    for n in listing(&wh_dir) {
        if n.ends_with(b".whiteouts") {
            whiteouts += &std::fs::read_to_string(wh_dir.join(OsStr::from_bytes(&n))).unwrap();
        }
    }
    eprintln!("whiteouts:\n{whiteouts}");

    // `.wh...` (a whiteout of `..`), `.wh..` (of `.`) and `.wh.` (of the empty name), which
    // umoci cannot apply (each deletes the directory `e` itself, then fails to restore its
    // metadata: "unpack entry: e/.wh..: … lchown …/e: no such file or directory"): the mount
    // deletes nothing, neither the directory nor its parent's other entries.
    let mut l0 = Layer::new();
    l0.dir("e", 0o755)
        .file("e/g", 0o644, b"g")
        .file("sibling", 0o644, b"s");
    let mut l1 = Layer::new();
    l1.file("e/.wh...", 0o644, b"")
        .file("e/.wh..", 0o644, b"")
        .file("e/.wh.", 0o644, b"")
        .file(".wh...", 0o644, b"")
        .file(".wh..", 0o644, b"");
    imgs.add("whdotdot", &[l0.finish(), l1.finish()], gz);
    drop(m);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("whdotdot"));
    assert_eq!(listing(&root), vec![b"e".to_vec(), b"sibling".to_vec()]);
    assert_eq!(std::fs::read(root.join("e/g")).unwrap(), b"g");
}

/// Claims (compared with `umoci raw unpack`): whiteouts and an opaque marker whose parent is
/// a symlink into another directory (`bin -> usr/bin`, then `bin/.wh.x`, `lib/.wh..wh..opq`
/// with `lib -> usr/lib`) act where the symlink leads; a whiteout of a symlink removes the
/// link, not its target; a whiteout with a newline in its name is written `\n` in
/// `.whiteouts`.
#[test]
fn whiteouts_through_symlinked_parents_match_umoci() {
    needs!("fuse", "root", "umoci");
    let mut l0 = Layer::new();
    l0.dir("usr", 0o755)
        .dir("usr/bin", 0o755)
        .file("usr/bin/x", 0o755, b"x")
        .file("usr/bin/y", 0o755, b"y")
        .dir("usr/lib", 0o755)
        .file("usr/lib/l1", 0o644, b"1")
        .file("usr/lib/l2", 0o644, b"2")
        .dir("target", 0o755)
        .file("target/t", 0o644, b"t")
        .file("new\nline", 0o644, b"nl");
    symlink(&mut l0, "bin", "usr/bin");
    symlink(&mut l0, "lib", "/usr/lib");
    symlink(&mut l0, "tl", "target");
    let mut l1 = Layer::new();
    l1.file("bin/.wh.x", 0o644, b"")
        .file("lib/.wh..wh..opq", 0o644, b"")
        .file("lib/l3", 0o644, b"3")
        .file(".wh.tl", 0o644, b"")
        .file(".wh.new\nline", 0o644, b"");
    let layers = vec![l0.finish(), l1.finish()];
    let imgs = Images::new();
    let layout = imgs.add("whsym", &layers, gz);
    let bundle = imgs.dir.path().join("umoci");
    let u = super::umoci_raw_unpack(&layout, "tag", &bundle);
    assert!(u.status.success(), "umoci: {:?}", text(&u.stderr));
    let theirs = walk(&bundle);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("whsym"));
    let ours = walk(&root);
    let keys = |m: &BTreeMap<String, super::Seen>| m.keys().cloned().collect::<Vec<_>>();
    eprintln!("ours  {:?}\numoci {:?}", keys(&ours), keys(&theirs));
    assert_eq!(keys(&ours), keys(&theirs));
    assert_eq!(ours, theirs);
    assert!(ours.contains_key("usr/bin/y") && !ours.contains_key("usr/bin/x"));
    let layers_dir = m.path(&format!("{}/layers", platform_rel("whsym")));
    let name = listing(&layers_dir)
        .into_iter()
        .find(|n| n.starts_with(b"02-") && n.ends_with(b".whiteouts"))
        .unwrap();
    let whiteouts = std::fs::read_to_string(layers_dir.join(OsStr::from_bytes(&name))).unwrap();
    eprintln!("whiteouts:\n{whiteouts}");
    assert!(whiteouts.contains("D /new\\nline\n"), "{whiteouts}");
}

/// A tar of one regular file `name` of `data`.
fn one_file(name: &str, data: &[u8]) -> Vec<u8> {
    let mut l = Layer::new();
    l.file(name, 0o644, data);
    l.finish()
}

/// Claims: a truncated gzip layer and a gzip layer whose CRC is wrong each make their
/// platform's `rootfs/` fail with EIO, quickly, with `rootfs-status.json` saying `failed` and
/// why; another image of the same store keeps working, and so does the daemon. An honest layer
/// that zstd compresses far past deflate's 1032:1 (one 80 MiB file of zeros) is served, as its
/// gzip form is: the bomb bound lets 16 GiB past that ratio through (a real bomb is refused
/// past it: unit test `rootfs::zstd_frames::tests::a_decompression_bomb_is_refused_early`).
#[test]
fn damaged_and_bomb_layers_fail_their_rootfs_with_eio_only() {
    needs!("fuse", "root", "pigz");
    let imgs = Images::new();
    let good = one_file("hello", b"hello");
    imgs.add("good", std::slice::from_ref(&good), gz);
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let body = one_file("data", &big);
    imgs.add("truncated", std::slice::from_ref(&body), |_, l| {
        let z = gzip(l);
        (z[..z.len() / 2].to_vec(), GZIP)
    });
    imgs.add("badcrc", std::slice::from_ref(&body), |_, l| {
        let mut z = gzip(l);
        let n = z.len();
        z[n - 8] ^= 0xff; // CRC32 of the trailer
        (z, GZIP)
    });
    // 80 MiB of zeros: zstd keeps it in a few KiB (far past 1032:1), gzip in 80 KiB.
    let zeros = one_file("zeros", &vec![0u8; 80 << 20]);
    imgs.add("zeros-zst", std::slice::from_ref(&zeros), |_, l| {
        (zstd::encode_all(l, 3).unwrap(), ZSTD)
    });
    imgs.add("zeros-gz", std::slice::from_ref(&zeros), |_, l| {
        (super::pigz(l, &[]), GZIP)
    });
    drop(zeros);
    let m = imgs.mount(&[]);
    for short in ["truncated", "badcrc"] {
        let started = std::time::Instant::now();
        let root = m.path(&rootfs_rel(short));
        let listed = std::fs::read_dir(&root).and_then(|d| {
            d.map(|e| e.map(|e| e.file_name()))
                .collect::<Result<Vec<_>, _>>()
        });
        let read = std::fs::read(root.join("data"));
        let st = status(&m, short);
        eprintln!(
            "{short}: readdir {listed:?}, read {:?}, status {st}, {:?}",
            read.as_ref().map(|d| d.len()),
            started.elapsed()
        );
        assert!(started.elapsed().as_secs() < 10, "{short} answered quickly");
        assert_eq!(
            listed.map(|_| ()).unwrap_err().raw_os_error(),
            Some(libc::EIO),
            "{short}"
        );
        assert_eq!(st["state"], "failed", "{short}: {st}");
        assert!(st["error"].is_string() || st["reason"].is_string(), "{st}");
    }
    assert_eq!(
        std::fs::read(m.path(&format!("{}/hello", rootfs_rel("good")))).unwrap(),
        b"hello"
    );
    assert_eq!(status(&m, "good")["state"], "ready");
    for zeros in ["zeros-gz", "zeros-zst"] {
        let f = std::fs::File::open(m.path(&format!("{}/zeros", rootfs_rel(zeros)))).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 80 << 20, "{zeros}");
        let mut buf = vec![1u8; 4096];
        assert_eq!(f.read_at(&mut buf, (80 << 20) - 4096).unwrap(), 4096);
        assert!(buf.iter().all(|&b| b == 0), "{zeros}");
    }
}

/// Claims: 8 threads opening, reading (at random offsets) and closing random files of one
/// `rootfs/` while another lists its directories get the layer's bytes; the unmount after
/// them does not hang; a daemon killed with SIGKILL while a reader is mid-file leaves ENOTCONN
/// to that reader, and after a remount every file reads right.
#[test]
fn concurrent_readers_unmount_and_a_killed_daemon() {
    needs!("fuse", "root");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut l0 = Layer::new();
    let mut x = 0x1234_5678_9abc_def1u64;
    for d in 0..8 {
        l0.dir(&format!("d{d}"), 0o755);
        for f in 0..16 {
            let len = if f == 0 { 1 << 20 } else { 1000 + f * 3000 };
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 56) as u8 & 0x3f
                })
                .collect();
            let path = format!("d{d}/f{f}");
            l0.file(&path, 0o644, &data);
            files.push((path, data));
        }
    }
    let imgs = Images::new();
    imgs.add("conc", &[l0.finish()], gz);
    let t0 = std::time::Instant::now();
    let mut m = imgs.mount(&[]);
    eprintln!("built and mounted: {:?}", t0.elapsed());
    let root = m.path(&rootfs_rel("conc"));
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let lister = scope.spawn(|| {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for d in 0..8 {
                    assert_eq!(listing(&root.join(format!("d{d}"))).len(), 16);
                }
                n += 1;
            }
            n
        });
        let workers: Vec<_> = (0..8u64)
            .map(|t| {
                let (root, files) = (&root, &files);
                scope.spawn(move || {
                    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                    for _ in 0..60 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let (path, want) = &files[(x % files.len() as u64) as usize];
                        let f = std::fs::File::open(root.join(path)).unwrap();
                        let offset = (x >> 8) as usize % want.len();
                        let len = 1 + (x >> 40) as usize % (200 << 10);
                        let mut buf = vec![0u8; len];
                        let n = f.read_at(&mut buf, offset as u64).unwrap();
                        let end = (offset + len).min(want.len());
                        assert!(buf[..n] == want[offset..end], "{path} {offset}+{len}");
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(lister.join().unwrap() > 0);
    });
    eprintln!("readers done: {:?}", t0.elapsed());
    let started = std::time::Instant::now();
    m.unmount();
    assert!(started.elapsed().as_secs() < 5, "unmount took long");
    m.mount();
    // A reader mid-file when the daemon dies.
    let big = root.join("d3/f0");
    let f = std::fs::File::open(&big).unwrap();
    let mut buf = vec![0u8; 256 << 10];
    assert_eq!(f.read_at(&mut buf, 0).unwrap(), 256 << 10);
    m.kill_daemon();
    let e = f.read_at(&mut buf, 512 << 10).unwrap_err();
    eprintln!("read after SIGKILL: {e}");
    assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN));
    drop(f);
    m.mount();
    eprintln!("remounted: {:?}", t0.elapsed());
    for (path, want) in &files {
        assert_eq!(&std::fs::read(root.join(path)).unwrap(), want, "{path}");
    }
}

fn llistxattr(path: &Path, buf: &mut [u8]) -> isize {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path and a buffer of the length passed.
    unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
}

fn lgetxattr(path: &Path, name: &str, buf: &mut [u8]) -> isize {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    // SAFETY: NUL-terminated strings and a buffer of the length passed.
    unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) }
}

/// Claims: a file with 200 xattrs and one with a 60 000-byte value show them all, as the
/// layer says (`getfattr -d -m -` and lgetxattr); `listxattr` and `getxattr` with a buffer
/// too small get ERANGE, with size 0 the size needed; a missing one is ENODATA. Past the
/// kernel's 64 KiB limits (a 70 000-byte value, a 124 000-byte name list) the caller gets
/// E2BIG and the daemon stays up.
#[test]
fn many_and_large_xattrs_and_erange() {
    needs!("fuse", "root", "getfattr");
    let names: Vec<String> = (0..200)
        .map(|i| format!("SCHILY.xattr.user.k{i:03}"))
        .collect();
    let values: Vec<Vec<u8>> = (0..200).map(|i| format!("v{i}").into_bytes()).collect();
    let many = Spec {
        pax: names
            .iter()
            .zip(&values)
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect(),
        ..spec(EntryType::Regular, 0o644)
    };
    let big_value: Vec<u8> = (0..60_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let large = Spec {
        pax: vec![("SCHILY.xattr.user.big", &big_value[..])],
        ..spec(EntryType::Regular, 0o644)
    };
    // Past the kernel's limits (XATTR_SIZE_MAX, XATTR_LIST_MAX: 64 KiB).
    let huge_value = vec![b'h'; 70_000];
    let huge = Spec {
        pax: vec![("SCHILY.xattr.user.huge", &huge_value[..])],
        ..spec(EntryType::Regular, 0o644)
    };
    let long_names: Vec<String> = (0..4000)
        .map(|i| format!("SCHILY.xattr.user.{i:05}-{}", "n".repeat(20)))
        .collect();
    let long_list = Spec {
        pax: long_names.iter().map(|n| (n.as_str(), &b"v"[..])).collect(),
        ..spec(EntryType::Regular, 0o644)
    };
    let mut l0 = Layer::new();
    l0.add("many", &many, b"m")
        .add("large", &large, b"l")
        .add("huge", &huge, b"h")
        .add("long-list", &long_list, b"ll");
    let imgs = Images::new();
    imgs.add("xattr", &[l0.finish()], gz);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("xattr"));
    let many_path = root.join("many");
    let need = llistxattr(&many_path, &mut []);
    let want_list: usize = (0..200).map(|i| format!("user.k{i:03}").len() + 1).sum();
    assert_eq!(need, want_list as isize);
    let mut small = vec![0u8; 10];
    assert_eq!(llistxattr(&many_path, &mut small), -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ERANGE)
    );
    let mut buf = vec![0u8; 65536];
    assert_eq!(lgetxattr(&root.join("large"), "user.big", &mut []), 60_000);
    assert_eq!(
        lgetxattr(&root.join("large"), "user.big", &mut buf[..100]),
        -1
    );
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ERANGE)
    );
    let n = lgetxattr(&root.join("large"), "user.big", &mut buf);
    assert_eq!(&buf[..n as usize], &big_value[..]);
    assert_eq!(lgetxattr(&root.join("large"), "user.none", &mut buf), -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ENODATA)
    );
    let g = run(Command::new("getfattr")
        .args(["-d", "-m", "-", "--absolute-names"])
        .arg(&many_path));
    let got: BTreeMap<String, String> = text(&g.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect();
    let want: BTreeMap<String, String> = (0..200)
        .map(|i| (format!("user.k{i:03}"), format!("v{i}")))
        .collect();
    assert_eq!(got, want);

    // A 70 000-byte value: the size is reported, but no buffer the kernel allows holds it.
    let huge_need = lgetxattr(&root.join("huge"), "user.huge", &mut []);
    let mut hbuf = vec![0u8; 80_000];
    let huge_got = lgetxattr(&root.join("huge"), "user.huge", &mut hbuf);
    let huge_err = std::io::Error::last_os_error();
    eprintln!("huge: size {huge_need}, get {huge_got} ({huge_err})");
    // The kernel caps the size FUSE reports at XATTR_SIZE_MAX, and turns the ERANGE of a
    // full-size buffer into E2BIG.
    assert_eq!((huge_need, huge_got), (65536, -1));
    assert_eq!(huge_err.raw_os_error(), Some(libc::E2BIG));
    // 4000 names of 31 bytes: a list of 124 000 bytes, past XATTR_LIST_MAX.
    let list_need = llistxattr(&root.join("long-list"), &mut []);
    let list_got = llistxattr(&root.join("long-list"), &mut hbuf);
    let list_err = std::io::Error::last_os_error();
    eprintln!("long list: size {list_need}, list {list_got} ({list_err})");
    assert_eq!((list_need, list_got), (65536, -1));
    assert_eq!(list_err.raw_os_error(), Some(libc::E2BIG));
    assert!(m.path("images").is_dir(), "the daemon is alive");
    assert_eq!(std::fs::read(root.join("huge")).unwrap(), b"h");
}

/// Claims: with `--allow-other --uid 65534 --gid 65534`, uid 65533 reads no 0600 root file,
/// lists no 0700 root directory, and writes nowhere (new file, mkdir, unlink, chmod: EROFS or
/// EACCES); nobody executes a file without an x bit (the mounting user included), while a
/// 0755 script runs.
#[test]
fn another_user_gets_the_stored_modes_and_nobody_executes_without_x() {
    needs!("fuse", "root", "setpriv");
    let mut l0 = Layer::new();
    l0.dir("root", 0o700)
        .file("root/secret", 0o600, b"s")
        .file("shadow", 0o600, b"sh")
        .dir("open", 0o755)
        .file("open/run", 0o755, b"#!/bin/sh\necho ran\n")
        .file("open/noexec", 0o644, b"#!/bin/sh\necho ran\n");
    let imgs = Images::new();
    imgs.add("perm", &[l0.finish()], gz);
    let m = imgs.mount(&["--allow-other", "--uid", "65534", "--gid", "65534"]);
    let root = m.path(&rootfs_rel("perm"));
    let as_user = |uid: &str, args: &[&str]| {
        output(
            Command::new("setpriv")
                .args([
                    &format!("--reuid={uid}"),
                    &format!("--regid={uid}"),
                    "--clear-groups",
                ])
                .args(args),
        )
    };
    let p = |rel: &str| root.join(rel).to_string_lossy().into_owned();
    let other = |args: &[&str]| as_user("65533", args);
    let denied = |out: std::process::Output, what: &str| {
        assert!(!out.status.success(), "{what} succeeded");
        let err = text(&out.stderr);
        eprintln!("{what}: {}", err.trim());
        err
    };
    let e = denied(other(&["cat", &p("shadow")]), "other cat 0600");
    assert!(e.contains("Permission denied"), "{e}");
    let e = denied(other(&["ls", &p("root")]), "other ls 0700");
    assert!(e.contains("Permission denied"), "{e}");
    denied(other(&["cat", &p("root/secret")]), "other cat in 0700");
    for (what, args) in [
        ("touch", vec!["touch", &*p("open/new")]),
        ("mkdir", vec!["mkdir", &*p("open/dir")]),
        ("rm", vec!["rm", "-f", &*p("open/run")]),
        ("chmod", vec!["chmod", "777", &*p("open/run")]),
    ] {
        let e = denied(other(&args), what);
        assert!(
            e.contains("Read-only file system") || e.contains("Permission denied"),
            "{what}: {e}"
        );
    }
    assert!(root.join("open/run").exists());
    for uid in ["65534", "65533"] {
        let ran = as_user(uid, &[&p("open/run")]);
        assert_eq!(text(&ran.stdout), "ran\n", "{uid}: {}", text(&ran.stderr));
        let e = denied(as_user(uid, &[&p("open/noexec")]), "exec without x");
        assert!(e.contains("Permission denied"), "{uid}: {e}");
    }
    // Root too gets EACCES for a file with no x bit at all (execve needs one x bit).
    let err = Command::new(root.join("open/noexec")).output().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EACCES));
}

/// A layer GNU tar wrote with `--sparse` (`format` "pax": PAX sparse 1.0, a regular entry
/// named `GNUSparseFile.N/holes` whose data starts with the sparse map; "gnu": type `S`) of a
/// 3 MiB file with holes and "middle" at offset 1 500 000.
fn sparse_layer(format: &str) -> Vec<u8> {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = std::fs::File::create(src.join("holes")).unwrap();
    f.set_len(3 << 20).unwrap();
    f.write_at(b"middle", 1_500_000).unwrap();
    std::fs::File::create(src.join("plain"))
        .unwrap()
        .write_all(b"plain\n")
        .unwrap();
    let out = dir.path().join("layer.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&src)
        .arg(format!("--format={format}"))
        .args([
            "--sparse",
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "-cf",
        ])
        .arg(&out)
        .args(["holes", "plain"]));
    std::fs::read(out).unwrap()
}

fn sparse_content() -> Vec<u8> {
    let mut want = vec![0u8; 3 << 20];
    want[1_500_000..1_500_006].copy_from_slice(b"middle");
    want
}

/// Claim (SEMANTICS "Inside images", a known difference): a file GNU tar stored sparse in PAX
/// format 1.0 (`tar --format=pax --sparse`; its data is a map and segments, its path the
/// placeholder `GNUSparseFile.<pid>/holes`) is left out and counted, never shown raw; umoci
/// (Go's archive/tar) expands it to `holes`. The rest of the layer is shown.
#[test]
fn a_pax_sparse_file_is_left_out_and_counted_never_shown_raw() {
    needs!("fuse", "root", "umoci");
    let imgs = Images::new();
    let layout = imgs.add("sparse-pax", &[sparse_layer("pax")], gz);
    let bundle = imgs.dir.path().join("umoci");
    let u = super::umoci_raw_unpack(&layout, "tag", &bundle);
    assert!(u.status.success(), "umoci: {:?}", text(&u.stderr));
    // What umoci makes of it, so that the layer is known to hold the sparse file.
    assert_eq!(
        std::fs::read(bundle.join("holes")).unwrap(),
        sparse_content()
    );
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("sparse-pax"));
    assert_eq!(listing(&root), vec![b"plain".to_vec()]);
    assert_eq!(std::fs::read(root.join("plain")).unwrap(), b"plain\n");
    let st = status(&m, "sparse-pax");
    assert_eq!(st["state"], "ready", "{st}");
    assert_eq!(st["entries_not_applied"], 1, "{st}");
}

/// The same file in GNU format (type `S`): umoci refuses the layer, the tables skip the entry
/// (a type with no file behind it here) and show the rest.
#[test]
fn a_gnu_sparse_file_is_skipped_and_the_rest_shown() {
    needs!("fuse", "root", "umoci");
    let imgs = Images::new();
    let layout = imgs.add("sparse-gnu", &[sparse_layer("gnu")], gz);
    let u = super::umoci_raw_unpack(&layout, "tag", &imgs.dir.path().join("umoci"));
    eprintln!("umoci: {} {}", u.status, text(&u.stderr));
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("sparse-gnu"));
    let names = listing(&root);
    eprintln!("ours {names:?}; status {}", status(&m, "sparse-gnu"));
    assert_eq!(names, vec![b"plain".to_vec()]);
    assert_eq!(std::fs::read(root.join("plain")).unwrap(), b"plain\n");
}

/// Claim: a daemon killed (SIGKILL) while it builds a platform's tables and seek indexes, or
/// while it makes a single-frame zstd layer's decompressed copy, leaves nothing that a later
/// mount serves wrong: after each kill (10 ms and 60 ms into the first look), a remount lists
/// and reads every file right, and so does the next mount, from what the store then holds.
#[test]
fn a_daemon_killed_mid_build_leaves_no_damaged_index() {
    needs!("fuse", "root", "pigz", "zstd");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut l0 = Layer::new();
    l0.dir("t", 0o755);
    for f in 0..120 {
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[((i * 7 + f * 13) % 27) as usize])
            .collect();
        let path = format!("t/f{f:03}");
        l0.file(&path, 0o644, &data);
        files.push((path, data));
    }
    let layer = l0.finish();
    let imgs = Images::new();
    imgs.add("killgz", std::slice::from_ref(&layer), |_, l| {
        (super::pigz(l, &[]), GZIP)
    });
    imgs.add("killzst", std::slice::from_ref(&layer), |_, l| {
        (zstd::encode_all(l, 3).unwrap(), ZSTD)
    });
    let mut m = imgs.mount(&[]);
    for (round, delay_ms) in [10u64, 60].into_iter().enumerate() {
        for short in ["killgz", "killzst"] {
            let root = m.path(&rootfs_rel(short));
            let last = root.join(&files[119].0);
            let reader = std::thread::spawn(move || {
                // Builds the tables, then the seek index (and for zstd the copy).
                let _ = std::fs::read(last);
            });
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            m.kill_daemon();
            let _ = reader.join();
            m.mount();
            for (path, want) in &files {
                let got = std::fs::read(root.join(path))
                    .unwrap_or_else(|e| panic!("round {round} {short} {path}: {e}"));
                assert!(&got == want, "round {round} {short} {path}: wrong bytes");
            }
            // Stored indexes may now exist: kill once more, then read again from them.
            m.kill_daemon();
            m.mount();
            let n = std::fs::read_dir(root.join("t")).unwrap().count();
            assert_eq!(n, 120, "round {round} {short}");
            assert_eq!(
                std::fs::read(root.join(&files[7].0)).unwrap(),
                files[7].1,
                "round {round} {short}"
            );
        }
        // Start each round from no stored index.
        m.unmount();
        let indexes = imgs.store.join("indexes");
        if indexes.exists() {
            std::fs::remove_dir_all(&indexes).unwrap();
        }
        m.mount();
    }
    let log = m.log_text();
    let warned: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("damaged") || l.contains("does not parse"))
        .collect();
    eprintln!("index warnings: {warned:?}");
}

/// Claims (compared with `umoci raw unpack`): hard links to a hard link, to a symlink (the
/// link itself, not its target), to a file a later layer whites out (the link keeps the
/// bytes), to a file later replaced, and a hard link whose target is a path through a
/// symlinked parent, each give what umoci gives: same paths, attributes, bytes and link groups.
#[test]
fn hard_link_edge_cases_match_umoci() {
    needs!("fuse", "root", "umoci");
    let mut l0 = Layer::new();
    l0.dir("usr", 0o755)
        .dir("usr/lib", 0o755)
        .file("usr/lib/real", 0o644, b"real")
        .file("gone", 0o644, b"gone's bytes")
        .file("replaced", 0o644, b"old bytes");
    symlink(&mut l0, "lib", "usr/lib");
    symlink(&mut l0, "sym", "usr/lib/real");
    l0.link(EntryType::Link, "h1", "usr/lib/real")
        .link(EntryType::Link, "h2", "h1")
        .link(EntryType::Link, "hsym", "sym")
        .link(EntryType::Link, "hgone", "gone")
        .link(EntryType::Link, "hrepl", "replaced");
    let mut l1 = Layer::new();
    l1.file(".wh.gone", 0o644, b"")
        .file("replaced", 0o600, b"new bytes")
        .link(EntryType::Link, "hthrough", "lib/real")
        .link(EntryType::Link, "h3", "h2");
    let layers = vec![l0.finish(), l1.finish()];
    let imgs = Images::new();
    let layout = imgs.add("hl", &layers, gz);
    let bundle = imgs.dir.path().join("umoci");
    let u = super::umoci_raw_unpack(&layout, "tag", &bundle);
    assert!(u.status.success(), "umoci: {:?}", text(&u.stderr));
    let (mut theirs, mut inodes) = (BTreeMap::new(), BTreeMap::new());
    walk_unpacked(&bundle, "", &mut theirs, &mut inodes, &BTreeSet::new());
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("hl"));
    let (mut ours, mut our_inodes) = (BTreeMap::new(), BTreeMap::new());
    walk_unpacked(&root, "", &mut ours, &mut our_inodes, &BTreeSet::new());
    for side in [&mut ours, &mut theirs] {
        side.remove("");
        for s in side.values_mut().filter(|s| s.kind == 'd') {
            s.mtime = None;
        }
    }
    super::assert_same(&ours, &theirs, our_inodes, inodes, "hard links");
    assert_eq!(std::fs::read(root.join("hgone")).unwrap(), b"gone's bytes");
    assert_eq!(std::fs::read(root.join("hrepl")).unwrap(), b"old bytes");
    assert_eq!(
        std::fs::read_link(root.join("hsym")).unwrap(),
        Path::new("usr/lib/real")
    );
    assert_eq!(std::fs::metadata(root.join("h3")).unwrap().nlink(), 5);
}

/// Claim: a PAX `path` holding a NUL byte (a name no syscall can spell; Go's archive/tar, so
/// umoci and containerd, refuse it: `validPAXRecord`) is not served: either the entry is
/// skipped (the directory lists its other entries, each once) or the layer fails as in Go
/// (EIO, status `failed`). Never a name cut at the NUL, listed twice.
#[test]
fn a_name_with_a_nul_byte_is_not_served() {
    needs!("fuse", "root");
    let mut l0 = Layer::new();
    l0.dir("d", 0o755).file("d/before", 0o644, b"1");
    let s = Spec {
        pax: vec![("path", &b"d/nul\0hidden"[..])],
        ..spec(EntryType::Regular, 0o644)
    };
    l0.add("d/placeholder", &s, b"nul");
    l0.file("d/nul", 0o644, b"plain nul");
    l0.file("d/z-after", 0o644, b"2");
    let imgs = Images::new();
    imgs.add("nul", &[l0.finish()], gz);
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("nul"));
    let listed = std::fs::read_dir(root.join("d")).and_then(|d| {
        d.map(|e| e.map(|e| e.file_name().as_bytes().to_vec()))
            .collect::<Result<Vec<_>, _>>()
    });
    eprintln!(
        "listed {:?}; status {}",
        listed.as_ref().map(|l| l
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect::<Vec<_>>()),
        status(&m, "nul")
    );
    if let Err(e) = &listed {
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        assert_eq!(status(&m, "nul")["state"], "failed");
        return;
    }
    let mut listed = listed.unwrap();
    listed.sort();
    for (name, want) in [
        ("before", &b"1"[..]),
        ("nul", b"plain nul"),
        ("z-after", b"2"),
    ] {
        assert!(listed.contains(&name.as_bytes().to_vec()), "{name}");
        assert_eq!(std::fs::read(root.join("d").join(name)).unwrap(), want);
    }
    assert_eq!(listed.len(), 3, "nothing else (no name cut at the NUL)");
}

/// Claims ("At most 8 platforms stay loaded; another is loaded from its stored indexes when
/// asked again"): a platform pushed out by looking inside 10 others keeps serving what was
/// opened before: a directory handle in the middle of a 3000-entry listing goes on with each
/// entry once, an open file reads its bytes, inodes the kernel holds still `stat`, and
/// `getxattr` and `readlink` on them still answer.
#[test]
fn a_platform_pushed_out_by_ten_others_keeps_serving_open_handles() {
    needs!("fuse", "root");
    let mut l0 = Layer::new();
    l0.dir("many", 0o755);
    for i in 0..3000 {
        l0.file(&format!("many/e{i:05}"), 0o644, format!("{i}").as_bytes());
    }
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let xattr = Spec {
        pax: vec![("SCHILY.xattr.user.k", &b"v"[..])],
        ..spec(EntryType::Regular, 0o644)
    };
    l0.file("big", 0o644, &data).add("x", &xattr, b"x");
    symlink(&mut l0, "sym", "big");
    let imgs = Images::new();
    imgs.add("first", &[l0.finish()], gz);
    for i in 0..10 {
        imgs.add(
            &format!("other{i}"),
            &[one_file(&format!("f{i}"), b"other")],
            gz,
        );
    }
    let m = imgs.mount(&[]);
    let root = m.path(&rootfs_rel("first"));
    let f = std::fs::File::open(root.join("big")).unwrap();
    let mut buf = vec![0u8; 4096];
    f.read_at(&mut buf, 0).unwrap();
    let meta_before = std::fs::metadata(root.join("x")).unwrap();
    let mut dir = std::fs::read_dir(root.join("many")).unwrap();
    let mut seen: Vec<Vec<u8>> = (&mut dir)
        .take(500)
        .map(|e| e.unwrap().file_name().as_bytes().to_vec())
        .collect();
    for i in 0..10 {
        let other = m.path(&rootfs_rel(&format!("other{i}")));
        assert_eq!(
            std::fs::read(other.join(format!("f{i}"))).unwrap(),
            b"other"
        );
    }
    seen.extend(dir.map(|e| e.unwrap().file_name().as_bytes().to_vec()));
    let unique: BTreeSet<&Vec<u8>> = seen.iter().collect();
    assert_eq!(
        (seen.len(), unique.len()),
        (3000, 3000),
        "each entry once across the push-out"
    );
    let offset = 1_234_567;
    assert_eq!(f.read_at(&mut buf, offset as u64).unwrap(), 4096);
    assert_eq!(&buf[..], &data[offset..offset + 4096]);
    let meta_after = std::fs::metadata(root.join("x")).unwrap();
    assert_eq!(meta_after.ino(), meta_before.ino());
    let mut v = [0u8; 16];
    assert_eq!(lgetxattr(&root.join("x"), "user.k", &mut v), 1);
    assert_eq!(
        std::fs::read_link(root.join("sym")).unwrap(),
        Path::new("big")
    );
    assert_eq!(std::fs::read(root.join("many/e02999")).unwrap(), b"2999");
}
