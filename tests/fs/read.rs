//! Reading: every archive file equals the library's export of the same request byte for byte,
//! whatever the request sizes and offsets (odd ones, past the end); the JSON files are the stored
//! documents; `image.tar` equals what the `imagefs export` command writes.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use imagefs::fs::{FsOptions, ImageFs};

use super::{Mount, OWNER, errno_of, file_name, ino, lookup, read_all, read_with};
use crate::common::{self, blob_name, export, json};

/// Each archive file of each image with the platform list that exports the same bytes.
fn archives(m: &Mount) -> Vec<(String, String, Vec<&'static str>)> {
    let mut out = Vec::new();
    for image in &m.images {
        out.push((
            format!("{}/image.tar", image.path),
            image.reference.clone(),
            Vec::new(),
        ));
        for p in &image.platforms {
            out.push((
                format!("{}/by-platform/{}.tar", image.path, file_name(p)),
                image.reference.clone(),
                vec![*p],
            ));
        }
    }
    // A joined name, in the order asked (not the index's).
    out.push((
        "images/example.com/fs/three:1/by-platform/linux-riscv64+linux-amd64.tar".into(),
        super::THREE.into(),
        vec!["linux/riscv64", "linux/amd64"],
    ));
    out
}

#[test]
fn every_archive_file_reads_as_the_export_of_the_same_platforms() {
    let m = Mount::start();
    for (path, reference, platforms) in archives(&m) {
        let want = export(m.store(), &[&reference], &platforms);
        assert_eq!(lookup(&m.fs, &path).size, want.len() as u64, "{path}: size");
        // 1 MiB requests (cp, cat), 4 KiB (dd bs=4k) and an odd size that never lines up
        // with a tar block or a blob boundary.
        for chunk in [1 << 20, 4096, 4093] {
            let got = read_with(&m.fs, &path, chunk);
            assert!(
                got == want,
                "{path}: bytes differ when read {chunk} at a time"
            );
        }
    }
}

#[test]
fn reads_at_random_offsets_and_lengths_return_exactly_the_export_slice() {
    let m = Mount::start();
    let mut rng = StdRng::seed_from_u64(8);
    for (path, reference, platforms) in archives(&m) {
        let want = export(m.store(), &[&reference], &platforms);
        let size = want.len() as u64;
        let fh =
            m.fs.open(ino(&m.fs, &path), libc::O_RDONLY, &OWNER)
                .expect("open")
                .fh;
        let mut buf = Vec::new();
        let mut check = |offset: u64, len: u32| {
            let n = m.fs.read(fh, offset, len, &mut buf).expect("read");
            let start = offset.min(size) as usize;
            let end = (offset.saturating_add(len as u64)).min(size) as usize;
            assert_eq!(n, end - start, "{path} @{offset}+{len}: count");
            assert!(
                buf[..n] == want[start..end],
                "{path} @{offset}+{len}: bytes differ"
            );
        };
        for _ in 0..150 {
            let offset = rng.random_range(0..size);
            let len = rng.random_range(0..20_000);
            check(offset, len);
        }
        // Around each 512-byte block boundary near the start, where headers and bodies meet.
        for offset in [0, 1, 511, 512, 513, 1023, 1024, 1025] {
            check(offset, 1);
            check(offset, 513);
        }
        // At and past the end: the remainder, then nothing; never an error, never padding.
        for (offset, len) in [
            (size - 1, 1),
            (size - 1, 100),
            (size - 7, 7),
            (size - 7, 8),
            (size, 1),
            (size, 0),
            (size + 1, 4096),
            (size + (1 << 40), 4096),
            (u64::MAX - 10, 4096),
            (0, 0),
        ] {
            check(offset, len);
        }
        m.fs.release(fh).expect("release");
    }
}

#[test]
fn json_files_are_the_stored_documents() {
    let m = Mount::start();
    let stored = |d: &imagefs::digest::Digest| {
        std::fs::read(m.fx.root().join(blob_name(d))).expect("read blob")
    };
    // Every image: OCI and Docker media types, an index and a single manifest as the target.
    for image in &m.images {
        let record = common::find(m.store(), &image.reference).remove(0);
        assert_eq!(
            read_all(&m.fs, &format!("{}/index.json", image.path)),
            stored(&record.target.digest),
            "{}",
            image.reference
        );
        for p in &image.platforms {
            let (manifest, children) = common::platform_closure(m.store(), &image.reference, p);
            let dir = format!("{}/by-platform/{}", image.path, file_name(p));
            let got = read_with(&m.fs, &format!("{dir}/manifest.json"), 97);
            assert_eq!(got, stored(&manifest), "{dir}");
            assert_eq!(
                read_with(&m.fs, &format!("{dir}/config.json"), 97),
                stored(&children[0]),
                "{dir}"
            );
            assert_eq!(json(&got)["config"]["digest"], children[0].to_string());
        }
    }
    let three = m.image(super::THREE);
    let record = common::find(m.store(), &three.reference).remove(0);
    // Reads of a document past its end and at odd offsets.
    let path = format!("{}/index.json", three.path);
    let doc = stored(&record.target.digest);
    let fh =
        m.fs.open(ino(&m.fs, &path), libc::O_RDONLY, &OWNER)
            .expect("open")
            .fh;
    let mut buf = Vec::new();
    for (offset, len) in [(1u64, 3u32), (17, 1000), (doc.len() as u64 - 1, 9)] {
        let n = m.fs.read(fh, offset, len, &mut buf).expect("read");
        let end = (offset as usize + len as usize).min(doc.len());
        assert_eq!(&buf[..n], &doc[offset as usize..end]);
    }
    for offset in [doc.len() as u64, doc.len() as u64 + 1, u64::MAX] {
        assert_eq!(m.fs.read(fh, offset, 10, &mut buf).expect("read"), 0);
    }
    m.fs.release(fh).expect("release");
}

#[test]
fn image_tar_equals_what_the_export_command_writes() {
    let m = Mount::start();
    let three = m.image(super::THREE);
    for (file, args) in [
        ("image.tar", vec![]),
        (
            "by-platform/linux-arm64.tar",
            vec!["--platform", "linux/arm64"],
        ),
    ] {
        let out = m.fx.path("export.tar");
        common::ok(
            common::imagefs(m.fx.root())
                .arg("export")
                .arg(&three.reference)
                .args(&args)
                .arg("-o")
                .arg(&out)
                .output()
                .expect("run imagefs export"),
        );
        let cli = std::fs::read(&out).expect("read export");
        assert!(
            read_all(&m.fs, &format!("{}/{file}", three.path)) == cli,
            "{file} differs from `imagefs export {}`",
            args.join(" ")
        );
    }
}

#[test]
fn open_flags_choose_the_caching_mode() {
    let m = Mount::start();
    let tar = ino(&m.fs, "images/example.com/fs/three:1/image.tar");
    let o = m.fs.open(tar, libc::O_RDONLY, &OWNER).expect("open");
    assert!(o.keep_cache && !o.direct_io, "{o:?}");
    m.fs.release(o.fh).expect("release");
    let o =
        m.fs.open(tar, libc::O_RDONLY | libc::O_DIRECT, &OWNER)
            .expect("open");
    assert!(o.direct_io, "O_DIRECT asks for direct I/O: {o:?}");
    m.fs.release(o.fh).expect("release");
    let direct = ImageFs::new(
        m.store().clone(),
        FsOptions {
            direct_io: true,
            ..super::options()
        },
    );
    let o = direct
        .open(
            ino(&direct, "images/example.com/fs/three:1/image.tar"),
            libc::O_RDONLY,
            &OWNER,
        )
        .expect("open");
    assert!(o.direct_io && o.keep_cache, "--direct-io: {o:?}");
    direct.release(o.fh).expect("release");
    // Writing anything under images/ is EROFS, whatever the mode would say.
    for flags in [libc::O_WRONLY, libc::O_RDWR, libc::O_RDONLY | libc::O_TRUNC] {
        assert_eq!(errno_of(m.fs.open(tar, flags, &OWNER)), libc::EROFS);
    }
}

#[test]
fn a_missing_or_shortened_blob_fails_the_read_with_eio_never_zeros() {
    let m = Mount::start();
    let three = m.image(super::THREE);
    let (_, children) = common::platform_closure(m.store(), &three.reference, "linux/riscv64");
    let layer = children.last().expect("a layer");
    let path = format!("{}/by-platform/linux-riscv64.tar", three.path);
    let want = export(m.store(), &[&three.reference], &["linux/riscv64"]);
    // Looked up once, before the blob goes: a later lookup may already see the platform gone
    // (the live view re-reads the store), but an inode handed out stays openable.
    let file = ino(&m.fs, &path);
    // Where the layer's body starts in the archive: its bytes are unique, find them.
    let blob = m.fx.root().join(blob_name(layer));
    let body = std::fs::read(&blob).expect("read layer");
    let at = want
        .windows(body.len())
        .position(|w| w == body)
        .expect("layer in the archive") as u64;
    let fh = m.fs.open(file, libc::O_RDONLY, &OWNER).expect("open").fh;
    let mut buf = Vec::new();
    // Shorter than its descriptor: EIO at the read that reaches the missing part.
    std::fs::write(&blob, &body[..body.len() / 2]).expect("shorten blob");
    assert_eq!(
        errno_of(m.fs.read(fh, at, body.len() as u32, &mut buf)),
        libc::EIO
    );
    m.fs.release(fh).expect("release");
    // Gone: EIO too, from a handle opened before or after.
    std::fs::remove_file(&blob).expect("remove blob");
    let fh = m.fs.open(file, libc::O_RDONLY, &OWNER).expect("open").fh;
    assert_eq!(errno_of(m.fs.read(fh, at, 10, &mut buf)), libc::EIO);
    // Bytes before the blob are still served.
    assert_eq!(m.fs.read(fh, 0, 512, &mut buf).expect("read"), 512);
    m.fs.release(fh).expect("release");
}
