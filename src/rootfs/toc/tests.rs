use tar::EntryType;

use super::*;
use crate::rootfs::test_layers::{Layer, Spec, data_at};

fn entry_by_path<'t>(toc: &'t LayerToc, path: &[u8]) -> TocEntry<'t> {
    toc.entries()
        .find(|e| e.path() == path)
        .unwrap_or_else(|| panic!("no entry {:?}", String::from_utf8_lossy(path)))
}

#[test]
fn kinds_modes_owners_devices_and_data_offsets_are_recorded() {
    let mut layer = Layer::new();
    layer
        .dir("tmp", 0o1777)
        .dir("root", 0o700)
        .file_mode("usr/bin/su", 0o4755, b"setuid binary")
        .file_mode("usr/bin/wall", 0o2755, b"setgid")
        .symlink("bin", "usr/bin")
        .hardlink("usr/bin/su2", "usr/bin/su")
        .add(
            b"dev/null",
            &Spec {
                device: (1, 3),
                mode: 0o666,
                ..Spec::new(EntryType::Char)
            },
            b"",
        )
        .add(
            b"dev/sda",
            &Spec {
                device: (8, 1),
                mode: 0o660,
                ..Spec::new(EntryType::Block)
            },
            b"",
        )
        .add(b"run/fifo", &Spec::new(EntryType::Fifo), b"")
        .add(
            b"home/u/f",
            &Spec {
                uid: 1000,
                gid: 2000,
                ..Spec::new(EntryType::Regular)
            },
            b"mine",
        );
    let bytes = layer.bytes();
    let (toc, skipped) = LayerToc::read(&bytes[..], &TocLimits::default()).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(toc.len(), 10);

    let tmp = entry_by_path(&toc, b"tmp");
    assert_eq!((tmp.kind(), tmp.mode()), (EntryKind::Directory, 0o1777));
    assert_eq!(entry_by_path(&toc, b"root").mode(), 0o700);
    let su = entry_by_path(&toc, b"usr/bin/su");
    assert_eq!(
        (su.kind(), su.mode(), su.size()),
        (EntryKind::Regular, 0o4755, 13)
    );
    assert_eq!(
        data_at(&bytes, su.data_offset(), su.size()),
        b"setuid binary"
    );
    assert_eq!(entry_by_path(&toc, b"usr/bin/wall").mode(), 0o2755);
    let bin = entry_by_path(&toc, b"bin");
    assert_eq!(
        (bin.kind(), bin.link()),
        (EntryKind::Symlink, &b"usr/bin"[..])
    );
    let su2 = entry_by_path(&toc, b"usr/bin/su2");
    assert_eq!(
        (su2.kind(), su2.link(), su2.size()),
        (EntryKind::HardLink, &b"usr/bin/su"[..], 0)
    );
    let null = entry_by_path(&toc, b"dev/null");
    assert_eq!(
        (null.kind(), null.device(), null.mode()),
        (EntryKind::CharDevice, (1, 3), 0o666)
    );
    let sda = entry_by_path(&toc, b"dev/sda");
    assert_eq!((sda.kind(), sda.device()), (EntryKind::BlockDevice, (8, 1)));
    assert_eq!(entry_by_path(&toc, b"run/fifo").kind(), EntryKind::Fifo);
    let mine = entry_by_path(&toc, b"home/u/f");
    assert_eq!(
        (mine.uid(), mine.gid(), mine.name()),
        (1000, 2000, &b"f"[..])
    );
    assert_eq!(data_at(&bytes, mine.data_offset(), mine.size()), b"mine");
}

#[test]
fn pax_mtime_keeps_nanoseconds_and_schily_xattrs_are_kept() {
    let mut layer = Layer::new();
    let spec = Spec {
        pax: vec![
            ("mtime", b"1700000000.123456789"),
            ("SCHILY.xattr.user.comment", b"hello"),
            (
                "SCHILY.xattr.security.capability",
                b"\x01\x00\x00\x02\x00\x20",
            ),
        ],
        ..Spec::new(EntryType::Regular)
    };
    layer.add(b"ping", &spec, b"x");
    let before_epoch = Spec {
        pax: vec![("mtime", b"-1.25")],
        ..Spec::new(EntryType::Regular)
    };
    layer.add(b"old", &before_epoch, b"");
    layer.file("plain", b"");
    let (toc, _) = layer.toc();
    let ping = entry_by_path(&toc, b"ping");
    assert_eq!(ping.mtime(), (1_700_000_000, 123_456_789));
    let xattrs: Vec<_> = ping.xattrs().collect();
    assert_eq!(
        xattrs,
        vec![
            (&b"user.comment"[..], &b"hello"[..]),
            (
                &b"security.capability"[..],
                &b"\x01\x00\x00\x02\x00\x20"[..]
            ),
        ]
    );
    assert_eq!(entry_by_path(&toc, b"old").mtime(), (-2, 750_000_000));
    let plain = entry_by_path(&toc, b"plain");
    assert_eq!((plain.mtime(), plain.xattrs().count()), ((1, 0), 0));
}

#[test]
fn long_names_from_pax_and_gnu_records_work() {
    let long_dir = "d".repeat(120);
    let pax_path = format!("{long_dir}/pax-file");
    let mut layer = Layer::new();
    layer.file(&pax_path, b"pax");
    let mut bytes = layer.bytes();
    bytes.truncate(bytes.len() - 1024);
    // GNU `L` and `K` records, as the tar crate writes them for a GNU header.
    let mut gnu = tar::Builder::new(bytes);
    let gnu_path = format!("{long_dir}/gnu-file");
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    gnu.append_data(&mut h, &gnu_path, &b"gnu"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::Symlink);
    h.set_size(0);
    gnu.append_link(&mut h, "link", &gnu_path).unwrap();
    let bytes = gnu.into_inner().unwrap();
    let (toc, skipped) = LayerToc::read(&bytes[..], &TocLimits::default()).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let pax = entry_by_path(&toc, pax_path.as_bytes());
    assert_eq!(data_at(&bytes, pax.data_offset(), pax.size()), b"pax");
    let gnu_entry = entry_by_path(&toc, gnu_path.as_bytes());
    assert_eq!(
        data_at(&bytes, gnu_entry.data_offset(), gnu_entry.size()),
        b"gnu"
    );
    assert_eq!(entry_by_path(&toc, b"link").link(), gnu_path.as_bytes());
}

#[test]
fn paths_are_normalised_and_dotdot_and_empty_names_skipped() {
    let mut layer = Layer::new();
    layer
        .dir("./", 0o755)
        .file("./a", b"")
        .file("/b", b"")
        .file(".//c/./d/", b"")
        .file("../escape", b"")
        .file("x/../y", b"")
        .add(b"", &Spec::new(EntryType::Regular), b"")
        .hardlink("h", "../etc/shadow")
        .file(".wh.", b"");
    let (toc, skipped) = layer.toc();
    let paths: Vec<&[u8]> = toc.entries().map(|e| e.path()).collect();
    assert_eq!(paths, vec![&b""[..], b"a", b"b", b"c/d"]);
    assert_eq!(entry_by_path(&toc, b"").kind(), EntryKind::Directory);
    let reasons: Vec<(&[u8], SkipReason)> = skipped
        .iter()
        .map(|s| (&s.path[..], s.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (&b"../escape"[..], SkipReason::DotDot),
            (b"x/../y", SkipReason::DotDot),
            (b"", SkipReason::EmptyName),
            (b"h", SkipReason::BadLinkTarget),
            (b".wh.", SkipReason::EmptyName),
        ]
    );
    assert_eq!(toc.skipped(), 5);
}

#[test]
fn whiteouts_and_opaque_markers_are_entries_of_their_own() {
    let mut layer = Layer::new();
    layer
        .whiteout("etc/gone")
        .whiteout("top")
        .opaque("var/cache")
        .file(".wh..wh.plnk/1", b"")
        .file(".wh..wh.aufs", b"");
    let (toc, skipped) = layer.toc();
    let kinds: Vec<(&[u8], EntryKind)> = toc.entries().map(|e| (e.path(), e.kind())).collect();
    assert_eq!(
        kinds,
        vec![
            (&b"etc/gone"[..], EntryKind::Whiteout),
            (b"top", EntryKind::Whiteout),
            (b"var/cache", EntryKind::Opaque),
            (b".wh..wh.plnk/1", EntryKind::Regular),
        ]
    );
    // `.wh..wh.plnk/1` is a file inside AUFS's hard-link directory: its name is ordinary, it
    // stays; `.wh..wh.aufs` is AUFS metadata.
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].reason, SkipReason::AufsMetadata);
}

#[test]
fn an_empty_layer_has_no_entries() {
    for bytes in [vec![0u8; 1024], Vec::new()] {
        let (toc, skipped) = LayerToc::read(&bytes[..], &TocLimits::default()).unwrap();
        assert!(toc.is_empty() && skipped.is_empty());
    }
}

#[test]
fn limits_on_entries_names_and_xattrs_fail_the_layer() {
    let mut layer = Layer::new();
    for i in 0..5 {
        layer.file(&format!("file-{i}"), b"");
    }
    let bytes = layer.bytes();
    let tight = TocLimits {
        max_entries: 4,
        ..TocLimits::default()
    };
    match LayerToc::read(&bytes[..], &tight) {
        Err(TocError::TooLarge {
            what: "entries",
            limit: 4,
        }) => {}
        other => panic!("{other:?}"),
    }
    let tight = TocLimits {
        max_name_bytes: 20,
        ..TocLimits::default()
    };
    assert!(matches!(
        LayerToc::read(&bytes[..], &tight),
        Err(TocError::TooLarge { limit: 20, .. })
    ));
    let mut layer = Layer::new();
    let spec = Spec {
        pax: vec![("SCHILY.xattr.user.big", &[7u8; 100][..])],
        ..Spec::new(EntryType::Regular)
    };
    layer.add(b"a", &spec, b"").add(b"b", &spec, b"");
    let tight = TocLimits {
        max_xattr_bytes: 150,
        ..TocLimits::default()
    };
    assert!(matches!(
        LayerToc::read(&layer.bytes()[..], &tight),
        Err(TocError::TooLarge {
            what: "bytes of xattrs",
            ..
        })
    ));
}

#[test]
fn ids_over_32_bits_and_bad_fields_skip_the_entry() {
    let mut layer = Layer::new();
    layer
        .add(
            b"big-uid",
            &Spec {
                pax: vec![("uid", b"4294967296")],
                ..Spec::new(EntryType::Regular)
            },
            b"",
        )
        .add(
            b"bad-mtime",
            &Spec {
                pax: vec![("mtime", b"soon")],
                ..Spec::new(EntryType::Regular)
            },
            b"",
        )
        .add(b"sparse", &Spec::new(EntryType::GNUSparse), b"")
        .file("ok", b"");
    let (toc, skipped) = layer.toc();
    assert_eq!(toc.len(), 1);
    let reasons: Vec<SkipReason> = skipped.into_iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        vec![
            SkipReason::OutOfRange("uid or gid"),
            SkipReason::BadField("PAX mtime"),
            SkipReason::UnsupportedType(b'S'),
        ]
    );
}

#[test]
fn a_stream_that_is_not_a_tar_is_an_error_naming_the_entry_before() {
    let mut layer = Layer::new();
    layer.file("first", b"abc");
    let mut bytes = layer.bytes();
    bytes.truncate(1024);
    bytes.extend_from_slice(&[b'z'; 512]);
    match LayerToc::read(&bytes[..], &TocLimits::default()) {
        Err(TocError::Tar {
            after: Some(after),
            reason,
        }) => {
            assert_eq!(after, "first");
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn tables_round_trip_through_bytes_and_damage_is_refused() {
    let mut layer = Layer::new();
    let spec = Spec {
        pax: vec![("mtime", b"5.5"), ("SCHILY.xattr.user.a", b"1")],
        uid: 7,
        ..Spec::new(EntryType::Regular)
    };
    layer
        .add(b"a", &spec, b"data")
        .symlink("s", "/abs")
        .whiteout("w")
        .opaque("o");
    layer.file("../skip", b"");
    let (toc, _) = layer.toc();
    let bytes = toc.to_bytes();
    assert_eq!(LayerToc::from_bytes(&bytes).unwrap(), toc);
    assert_eq!(LayerToc::from_bytes(&bytes).unwrap().skipped(), 1);

    let mut flipped = bytes.clone();
    flipped[60] ^= 1;
    assert!(
        matches!(LayerToc::from_bytes(&flipped), Err(TocError::BadIndex { reason }) if reason.contains("checksum"))
    );
    let mut version = bytes.clone();
    version[MAGIC.len()] = 99;
    assert!(
        matches!(LayerToc::from_bytes(&version), Err(TocError::BadIndex { reason }) if reason.contains("version 99"))
    );
    for cut in [0, 10, bytes.len() - 1] {
        assert!(LayerToc::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}
