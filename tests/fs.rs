//! The kernel-free tier: proves the mount's behaviour by driving `imagefs::fs::ImageFs` directly,
//! without /dev/fuse, root or any external tool. The tree (lookup, readdir, attributes, inode
//! numbers), the bytes of every file against the library's export, the upload lifecycle in
//! `import/`, rename/unlink/mkdir/setattr there, permission checks per `Caller`, and the errno of
//! every `FsError` variant. `tests/mount.rs` then only has to prove the kernel path.
//!
//! The split follows mountpoint-s3, whose `fs` tests drive its `S3Filesystem` without FUSE and
//! leave only the kernel's part to its `fuse_tests`.

// FsError carries diagnosis by value, as in the library (see src/lib.rs).
#![allow(clippy::result_large_err)]

mod common;

#[path = "fs/errno.rs"]
mod errno;
#[path = "fs/live.rs"]
mod live;
#[path = "fs/namespace.rs"]
mod namespace;
#[path = "fs/options.rs"]
mod options;
#[path = "fs/read.rs"]
mod read;
#[path = "fs/tree.rs"]
mod tree;
#[path = "fs/upload.rs"]
mod upload;

use std::ffi::OsStr;
use std::fmt::Debug;

use imagefs::fs::{Attr, Caller, FsError, FsOptions, ImageFs};
use imagefs::sample::{LayerCompression, SampleSpec};
use imagefs::store::Store;

use common::{Fixture, add, small_spec};

/// The mounting user. Not root, so that the modes decide for it as they do for a user's mount.
pub(crate) const OWNER: Caller = Caller {
    uid: 1000,
    gid: 1000,
    pid: 4242,
};
/// Another user of an `--allow-other` mount.
pub(crate) const OTHER: Caller = Caller {
    uid: 2000,
    gid: 2000,
    pid: 4343,
};
pub(crate) const ROOT: Caller = Caller {
    uid: 0,
    gid: 0,
    pid: 4444,
};

pub(crate) const ROOT_INO: u64 = 1;

/// The images every test mounts: a three-platform OCI image, a Docker-typed image with
/// attestations (which `by-platform/` must leave out), a name one level shallower (so that
/// `example.com/` holds both a prefix and an image), and an image known only by digest whose
/// target is a single manifest.
pub(crate) const THREE: &str = "example.com/fs/three:1";
pub(crate) const ATTESTED: &str = "example.com/fs/attested:1";
pub(crate) const SHALLOW: &str = "example.com/shallow:2";

/// Platform -> the file name the mount gives it, written out here rather than taken from
/// `Platform::file_name`, so that the expected tree does not come from the code under test.
pub(crate) const FILE_NAMES: [(&str, &str); 4] = [
    ("linux/amd64", "linux-amd64"),
    ("linux/arm64/v8", "linux-arm64"),
    ("linux/riscv64", "linux-riscv64"),
    ("linux/arm/v7", "linux-arm-v7"),
];

/// What `import/` lists when nothing was made there with mkdir: `.status` and one directory per
/// common platform (doc/SEMANTICS.md), which include every platform of the fixture's images.
pub(crate) const IMPORT_LISTING: [&str; 9] = [
    ".status",
    "linux-386",
    "linux-amd64",
    "linux-arm-v6",
    "linux-arm-v7",
    "linux-arm64",
    "linux-ppc64le",
    "linux-riscv64",
    "linux-s390x",
];

pub(crate) fn file_name(platform: &str) -> &'static str {
    FILE_NAMES
        .iter()
        .find(|(p, _)| *p == platform)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no file name for {platform}"))
}

/// One image of the fixture: where the mount shows it and which platforms it has.
pub(crate) struct Shown {
    /// `example.com/fs/three:1`, or `sha256:<hex>` for the image known only by digest.
    pub reference: String,
    pub path: String,
    pub platforms: Vec<&'static str>,
}

/// A store with the fixture images and an `ImageFs` over it.
pub(crate) struct Mount {
    pub fx: Fixture,
    pub fs: ImageFs,
    pub images: Vec<Shown>,
}

pub(crate) fn options() -> FsOptions {
    FsOptions {
        uid: OWNER.uid,
        gid: OWNER.gid,
        direct_io: false,
        read_only: false,
        dir_mode: None,
        file_mode: None,
    }
}

impl Mount {
    pub(crate) fn start() -> Mount {
        let fx = Fixture::new();
        let mut images = Vec::new();
        let mut named = |spec: SampleSpec, list: &[&'static str]| {
            add(&fx.store, &spec);
            let reference = spec.name.as_ref().expect("named").to_string();
            images.push(Shown {
                path: format!("images/{reference}"),
                reference,
                platforms: list.to_vec(),
            });
        };
        named(small_spec(THREE, &common::THREE), &common::THREE);
        let two = ["linux/amd64", "linux/arm/v7"];
        named(
            SampleSpec {
                docker_media_types: true,
                attestations: true,
                seed: 2,
                ..small_spec(ATTESTED, &two)
            },
            &two,
        );
        named(
            SampleSpec {
                compression: LayerCompression::Zstd,
                seed: 3,
                ..small_spec(SHALLOW, &["linux/riscv64"])
            },
            &["linux/riscv64"],
        );
        let by_digest = add(
            &fx.store,
            &SampleSpec {
                name: None,
                single_manifest: true,
                compression: LayerCompression::None,
                seed: 4,
                ..small_spec("unused", &["linux/arm64/v8"])
            },
        );
        images.push(Shown {
            reference: by_digest.digest.to_string(),
            path: format!("images/{}", by_digest.digest),
            platforms: vec!["linux/arm64/v8"],
        });
        let fs = ImageFs::new(fx.store.clone(), options());
        Mount { fx, fs, images }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.fx.store
    }

    /// A second `ImageFs` over the same store: what a remount (a new daemon) would serve.
    pub(crate) fn remount(&self) -> ImageFs {
        ImageFs::new(self.fx.store.clone(), options())
    }

    pub(crate) fn image(&self, reference: &str) -> &Shown {
        self.images
            .iter()
            .find(|i| i.reference == reference)
            .unwrap_or_else(|| panic!("no fixture image {reference}"))
    }
}

/// Looks `path` up from the root, component by component, as `caller`.
pub(crate) fn lookup_as(fs: &ImageFs, path: &str, caller: &Caller) -> Result<Attr, FsError> {
    let mut attr = fs.getattr(ROOT_INO)?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        attr = fs.lookup(attr.ino, OsStr::new(part), caller)?;
    }
    Ok(attr)
}

#[track_caller]
pub(crate) fn lookup(fs: &ImageFs, path: &str) -> Attr {
    lookup_as(fs, path, &OWNER).unwrap_or_else(|e| panic!("lookup {path}: {e:?}"))
}

#[track_caller]
pub(crate) fn ino(fs: &ImageFs, path: &str) -> u64 {
    lookup(fs, path).ino
}

/// The whole file, read through one open handle in requests of `chunk` bytes, as the kernel
/// would issue them; the handle is released afterwards.
#[track_caller]
pub(crate) fn read_with(fs: &ImageFs, path: &str, chunk: u32) -> Vec<u8> {
    let ino = ino(fs, path);
    let fh = fs
        .open(ino, libc::O_RDONLY, &OWNER)
        .unwrap_or_else(|e| panic!("open {path}: {e:?}"))
        .fh;
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        let n = fs
            .read(fh, out.len() as u64, chunk, &mut buf)
            .unwrap_or_else(|e| panic!("read {path} @{}: {e:?}", out.len()));
        if n == 0 {
            break;
        }
        assert!(n <= chunk as usize, "read returned more than asked");
        out.extend_from_slice(&buf[..n]);
    }
    fs.release(fh).expect("release");
    out
}

#[track_caller]
pub(crate) fn read_all(fs: &ImageFs, path: &str) -> Vec<u8> {
    read_with(fs, path, 1 << 20)
}

/// The errno an operation failed with (its `FsError::errno`), or a panic naming what it
/// returned instead.
#[track_caller]
pub(crate) fn errno_of<T: Debug>(r: Result<T, FsError>) -> i32 {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.errno().code(),
    }
}

/// Names in a directory, without `.` and `..`, sorted.
pub(crate) fn names(fs: &ImageFs, path: &str, caller: &Caller) -> Vec<String> {
    let dir = lookup_as(fs, path, caller).expect("lookup dir").ino;
    let mut names: Vec<String> = fs
        .readdir(dir, caller)
        .expect("readdir")
        .into_iter()
        .map(|e| e.name.to_string_lossy().into_owned())
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    names
}
