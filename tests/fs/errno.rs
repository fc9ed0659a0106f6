//! The errno of every `FsError` variant, each produced through the `ImageFs` API by the situation
//! it stands for. `variant` matches exhaustively, so a new variant does not compile here until it
//! has a case.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use imagefs::archive::ArchivePlan;
use imagefs::fs::{ArchiveReader, FsError, ImageFs};

use super::{Mount, OTHER, OWNER, errno_of, ino, lookup_as};
use crate::common::{self, blob_name};

/// The variant's name; no `_` arm on purpose.
fn variant(e: &FsError) -> &'static str {
    match e {
        FsError::NotFound { .. } => "NotFound",
        FsError::UnknownInode(_) => "UnknownInode",
        FsError::BadHandle(_) => "BadHandle",
        FsError::PlatformAbsent { .. } => "PlatformAbsent",
        FsError::NotADirectory => "NotADirectory",
        FsError::IsADirectory => "IsADirectory",
        FsError::ReadOnly => "ReadOnly",
        FsError::NotPlatformDirectory { .. } => "NotPlatformDirectory",
        FsError::NotRegularFile => "NotRegularFile",
        FsError::NotEmpty => "NotEmpty",
        FsError::Exists => "Exists",
        FsError::NonSequentialWrite { .. } => "NonSequentialWrite",
        FsError::WriteOnly => "WriteOnly",
        FsError::PermissionDenied { .. } => "PermissionDenied",
        FsError::NotOwner { .. } => "NotOwner",
        FsError::AccessRefused(_) => "AccessRefused",
        FsError::NameNotUtf8 { .. } => "NameNotUtf8",
        FsError::NoAttribute { .. } => "NoAttribute",
        FsError::ImportRejected(_) => "ImportRejected",
        FsError::Import(_) => "Import",
        FsError::Archive(_) => "Archive",
        FsError::Store(_) => "Store",
        FsError::Read(_) => "Read",
        FsError::ShortRead { .. } => "ShortRead",
        FsError::Rootfs { .. } => "Rootfs",
        FsError::RootfsRead { .. } => "RootfsRead",
        FsError::NotASymlink => "NotASymlink",
        FsError::Io { .. } => "Io",
    }
}

/// Every variant `variant` names: kept beside it, so a new one is listed in both places.
const ALL: [&str; 28] = [
    "NotFound",
    "UnknownInode",
    "BadHandle",
    "PlatformAbsent",
    "NotADirectory",
    "IsADirectory",
    "ReadOnly",
    "NotPlatformDirectory",
    "NotRegularFile",
    "NotEmpty",
    "Exists",
    "NonSequentialWrite",
    "WriteOnly",
    "PermissionDenied",
    "NotOwner",
    "AccessRefused",
    "NameNotUtf8",
    "NoAttribute",
    "ImportRejected",
    "Import",
    "Archive",
    "Store",
    "Read",
    "ShortRead",
    "Rootfs",
    "RootfsRead",
    "NotASymlink",
    "Io",
];

/// Answers one byte less than asked for (a reader that breaks its contract).
#[derive(Debug)]
struct OneByteShort;

impl ArchiveReader for OneByteShort {
    fn read_at(
        &self,
        _plan: &ArchivePlan,
        _offset: u64,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> Result<usize, FsError> {
        buf.resize(len, 0);
        Ok(len.saturating_sub(1))
    }
}

struct Seen(BTreeSet<&'static str>);

impl Seen {
    /// Records that `r` failed with the variant `name` and the errno `code`.
    #[track_caller]
    fn check<T: std::fmt::Debug>(&mut self, name: &'static str, r: Result<T, FsError>, code: i32) {
        let e = r.expect_err(name);
        assert_eq!(variant(&e), name, "{e:?}");
        assert_eq!(
            e.errno().code(),
            code,
            "{name}: errno {:?}: {e:?}",
            e.errno()
        );
        // Every error reads as a sentence in the daemon log.
        assert!(!e.to_string().is_empty());
        self.0.insert(name);
    }
}

#[test]
fn every_fs_error_variant_has_its_errno() {
    let m = Mount::start();
    let fs = &m.fs;
    let mut seen = Seen(BTreeSet::new());
    let n = OsStr::new;
    let three = "images/example.com/fs/three:1";
    let import = ino(fs, "import");
    let mut buf = Vec::new();

    seen.check(
        "NotFound",
        lookup_as(fs, "images/none:1", &OWNER),
        libc::ENOENT,
    );
    seen.check("UnknownInode", fs.getattr(0x5eed_0000_0001), libc::ENOENT);
    seen.check("BadHandle", fs.read(u64::MAX, 0, 1, &mut buf), libc::EBADF);
    let absent = lookup_as(fs, &format!("{three}/by-platform/linux-s390x.tar"), &OWNER);
    if let Err(FsError::PlatformAbsent { available, .. }) = &absent {
        assert_eq!(available.len(), 3, "names the platforms the image has");
    }
    seen.check("PlatformAbsent", absent, libc::ENOENT);
    seen.check(
        "NotADirectory",
        fs.readdir(ino(fs, &format!("{three}/index.json")), &OWNER),
        libc::ENOTDIR,
    );
    seen.check(
        "IsADirectory",
        fs.open(ino(fs, three), libc::O_RDONLY, &OWNER),
        libc::EISDIR,
    );
    let tar = ino(fs, &format!("{three}/image.tar"));
    seen.check(
        "ReadOnly",
        fs.open(tar, libc::O_WRONLY, &OWNER),
        libc::EROFS,
    );
    seen.check(
        "NotPlatformDirectory",
        fs.mkdir(import, n("photos"), &OWNER),
        libc::EINVAL,
    );
    seen.check(
        "NotRegularFile",
        Err::<(), _>(fs.refuse_special(import)),
        libc::EPERM,
    );
    let (_, up) = fs
        .create(
            ino(fs, "import/linux-arm64"),
            n("u.tar"),
            libc::O_WRONLY,
            &OWNER,
        )
        .expect("create");
    seen.check(
        "NotEmpty",
        fs.rmdir(import, n("linux-arm64"), &OWNER),
        libc::ENOTEMPTY,
    );
    seen.check(
        "Exists",
        fs.create(
            ino(fs, "import/linux-arm64"),
            n("u.tar"),
            libc::O_EXCL,
            &OWNER,
        ),
        libc::EEXIST,
    );
    let archive = common::export(m.store(), &[super::THREE], &[]);
    fs.write(up.fh, 0, &archive[..1024]).expect("write");
    seen.check(
        "NonSequentialWrite",
        fs.write(up.fh, 4096, &archive[..1]),
        libc::ESPIPE,
    );
    seen.check("WriteOnly", fs.read(up.fh, 0, 10, &mut buf), libc::EACCES);
    seen.check(
        "PermissionDenied",
        fs.mkdir(import, n("linux-amd64"), &OTHER),
        libc::EACCES,
    );
    seen.check(
        "NotOwner",
        fs.setattr(
            import,
            None,
            Some(std::time::SystemTime::now()),
            false,
            &OTHER,
        ),
        libc::EPERM,
    );
    // The errno of a refusal is its cause's.
    seen.check(
        "AccessRefused",
        fs.access(tar, libc::W_OK, &OWNER),
        libc::EROFS,
    );
    seen.check(
        "NameNotUtf8",
        fs.mkdir(
            import,
            std::os::unix::ffi::OsStrExt::from_bytes(b"\xff"),
            &OWNER,
        ),
        libc::EINVAL,
    );
    fs.release(up.fh).expect("release");

    // A bad archive: close fails (Import), and so does any write after it (ImportRejected).
    let (_, bad) = fs
        .create(import, n("bad.tar"), libc::O_WRONLY, &OWNER)
        .expect("create");
    let _ = fs.write(bad.fh, 0, &[b'x'; 2048]);
    seen.check("Import", fs.flush(bad.fh, OWNER.pid), libc::EINVAL);
    seen.check(
        "ImportRejected",
        fs.write(bad.fh, 2048, &[b'x'; 10]),
        libc::EINVAL,
    );
    fs.release(bad.fh).expect("release");

    // Extended attributes: none, as on a filesystem without them (ENODATA, an empty list).
    let root = super::ROOT_INO;
    seen.check(
        "NoAttribute",
        fs.getxattr(root, n("user.comment")),
        libc::ENODATA,
    );
    assert_eq!(fs.listxattr(root).expect("listxattr"), Vec::<u8>::new());

    // A reader that answers fewer bytes than the archive has there: the kernel would fill the
    // rest of a cached page with zeros, so the read fails instead.
    let short = ImageFs::new(m.store().clone(), super::options())
        .with_archive_reader(Arc::new(OneByteShort));
    let tar = ino(&short, &format!("{three}/image.tar"));
    let fh = short.open(tar, libc::O_RDONLY, &OWNER).expect("open").fh;
    seen.check("ShortRead", short.read(fh, 0, 4096, &mut buf), libc::EIO);
    short.release(fh).expect("release");

    // Inside an image: readlink of a file; a file whose layer is cut short under it after it
    // was opened (its bytes come from the layer at each read: EIO, never zeros).
    let data = format!("{three}/by-platform/linux-arm64/rootfs/data");
    let data_dir = lookup_as(fs, &data, &OWNER).expect("rootfs/data");
    let file = fs.readdir(data_dir.ino, &OWNER).expect("readdir")[2].ino;
    seen.check("NotASymlink", fs.readlink(file), libc::EINVAL);
    let fh = fs.open(file, libc::O_RDONLY, &OWNER).expect("open").fh;
    // Closures first: they are read from the store, which the cuts below damage.
    let (_, arm64) = common::platform_closure(m.store(), super::THREE, "linux/arm64");
    let record = common::find(m.store(), super::THREE).remove(0);
    let (_, children) = common::platform_closure(m.store(), super::THREE, "linux/amd64");
    let by_platform = ino(fs, &format!("{three}/by-platform"));
    let index_json = ino(fs, &format!("{three}/index.json"));
    let amd64 = ino(fs, &format!("{three}/by-platform/linux-amd64.tar"));
    let archive_fh = fs.open(amd64, libc::O_RDONLY, &OWNER).expect("open").fh;
    let size = fs.getattr(amd64).expect("getattr").size;
    for d in &arm64[1..] {
        let layer = m.fx.root().join(blob_name(d));
        let mut perms = std::fs::metadata(&layer).expect("stat layer").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
        std::fs::set_permissions(&layer, perms).expect("chmod layer");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&layer)
            .and_then(|f| f.set_len(20))
            .expect("truncate layer");
    }
    seen.check("RootfsRead", fs.read(fh, 0, 4096, &mut buf), libc::EIO);
    fs.release(fh).expect("release");

    // The store loses blobs under the mount: EIO wherever they are needed.
    std::fs::remove_file(m.fx.root().join(blob_name(&record.target.digest))).expect("rm index");
    for d in &children[1..] {
        std::fs::remove_file(m.fx.root().join(blob_name(d))).expect("rm layer");
    }
    // The by-platform directory was looked up before: a joined archive not planned yet needs
    // the image's index, which is gone (ArchivePlan::build fails).
    seen.check(
        "Archive",
        fs.lookup(by_platform, n("linux-arm64+linux-riscv64.tar"), &OWNER),
        libc::EIO,
    );
    seen.check(
        "Store",
        fs.open(index_json, libc::O_RDONLY, &OWNER),
        libc::EIO,
    );
    // Reading the archive's layers (the file was opened before): EIO, never zeros.
    seen.check(
        "Read",
        fs.read(archive_fh, 0, size as u32, &mut buf),
        libc::EIO,
    );
    fs.release(archive_fh).expect("release");
    // The root filesystem of a platform whose layers are gone cannot be built.
    seen.check(
        "Rootfs",
        lookup_as(
            fs,
            &format!("{three}/by-platform/linux-amd64/rootfs/data"),
            &OWNER,
        ),
        libc::EIO,
    );

    // The daemon's own I/O failing: an upload written out of order is spooled to a file, and
    // a write there at an offset no file can have (past i64::MAX) is refused by the kernel. The
    // kernel never sends such a write; a full disk is the real case, which would need a small
    // filesystem (root) in this tier. statfs, which failed once the store was renamed away,
    // asks the pinned store directory and no longer fails that way.
    let (_, spooled) = fs
        .create(import, n("spooled.tar"), libc::O_WRONLY, &OWNER)
        .expect("create");
    seen.check(
        "Io",
        fs.write(spooled.fh, u64::MAX - 9, &[b'x'; 10]),
        libc::EINVAL,
    );
    fs.release(spooled.fh).expect("release");

    let missing: Vec<_> = ALL.iter().filter(|v| !seen.0.contains(*v)).collect();
    assert!(missing.is_empty(), "variants without a case: {missing:?}");
}

#[test]
fn routine_misses_are_logged_at_debug_and_refusals_at_info() {
    let m = Mount::start();
    let miss = lookup_as(&m.fs, "images/none:1", &OWNER).expect_err("miss");
    assert_eq!(miss.log_level(), log::Level::Debug);
    let probe =
        m.fs.access(ino(&m.fs, "images"), libc::W_OK, &OWNER)
            .expect_err("probe");
    assert_eq!(probe.log_level(), log::Level::Debug);
    let denied =
        m.fs.mkdir(ino(&m.fs, "import"), OsStr::new("linux-arm64"), &OTHER)
            .expect_err("denied");
    assert_eq!(denied.log_level(), log::Level::Info);
    // A failed import is worth a warning.
    let (_, bad) =
        m.fs.create(
            ino(&m.fs, "import"),
            OsStr::new("b.tar"),
            libc::O_WRONLY,
            &OWNER,
        )
        .expect("create");
    let _ = m.fs.write(bad.fh, 0, &[0xff; 600]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let failed = loop {
        match m.fs.flush(bad.fh, OWNER.pid) {
            Err(e) => break e,
            Ok(()) => assert!(Instant::now() < deadline, "never failed"),
        }
    };
    assert_eq!(failed.log_level(), log::Level::Warn);
    assert_eq!(errno_of(m.fs.flush(bad.fh, OWNER.pid)), libc::EINVAL);
    m.fs.release(bad.fh).expect("release");
}
