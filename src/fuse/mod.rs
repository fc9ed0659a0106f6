//! `FuseAdapter`: the `fuser::Filesystem` face of [`ImageFs`]. Each op logs, calls one
//! `ImageFs` method and replies; errors become errnos only through `FsError::errno`. The only
//! errnos chosen here are ENOSYS, for ops the mount does not offer (so the kernel stops
//! asking), and the xattr protocol's ERANGE for a caller's buffer that is too small. It also
//! runs the live-view thread, which forwards what `ImageFs::refresh` finds stale. Making the
//! mount itself is [`mount`]'s.

mod mount;

pub use mount::{Audience, DEV_FUSE, MountConfig, Mounted, SUBTYPE, Unmounter, session, umount};

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use fuser::{
    AccessFlags, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, IoctlFlags, KernelConfig, LockOwner, Notifier, OpenFlags,
    RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry,
    ReplyIoctl, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow,
    WriteFlags,
};

use crate::fs::{Attr, Caller, FileKind, FsError, ImageFs, Invalidation, Opened};

/// Attribute and entry cache time: short, because tags move and imports land.
/// 1 MiB requests: the kernel's `max_pages` limit (256 pages).
const MAX_WRITE: u32 = 1 << 20;
/// Background requests in flight (async readahead): mountpoint-s3 measured the curve
/// flattening at 64 (mountpoint-s3 PR #1137).
const MAX_BACKGROUND: u16 = 64;

thread_local! {
    /// One read buffer per FUSE worker thread, grown to the largest request (1 MiB) and reused:
    /// a fresh 1 MiB allocation per request costs page faults on every read.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

pub struct FuseAdapter {
    fs: Arc<ImageFs>,
}

/// Starts the thread that forwards what `ImageFs::refresh` finds stale to the kernel each time
/// the store changes. Without it (no inotify, say) changes still show, after the cache times.
fn keep_live(fs: Arc<ImageFs>, notifier: Notifier) {
    let watch = match fs.watch_store() {
        Ok(w) => w,
        Err(e) => {
            log::warn!(target: "fuse", "cannot watch the store ({e}): changes made outside this \
                mount show after the kernel's 1 s cache instead of at once");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("live-view".into())
        .spawn(move || {
            loop {
                if let Err(e) = watch.wait() {
                    log::warn!(target: "fuse", "store watch failed ({e}); live view stops");
                    return;
                }
                for stale in fs.refresh(&watch) {
                    let sent = match &stale {
                        Invalidation::Entry { parent, name } => {
                            notifier.inval_entry(INodeNo(*parent), OsStr::new(name))
                        }
                        Invalidation::Inode(ino) => notifier.inval_inode(INodeNo(*ino), 0, 0),
                    };
                    // ENOENT: the kernel had nothing cached for it.
                    if let Err(e) = sent
                        && e.raw_os_error() != Some(libc::ENOENT)
                    {
                        log::debug!(target: "fuse", "{stale:?}: {e}");
                    }
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!(target: "fuse", "cannot start the live-view thread ({e})");
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.mtime,
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev,
        blksize: a.blksize,
        flags: 0,
    }
}

fn file_type(kind: FileKind) -> FileType {
    match kind {
        FileKind::Directory => FileType::Directory,
        FileKind::RegularFile => FileType::RegularFile,
        FileKind::Symlink => FileType::Symlink,
        FileKind::NamedPipe => FileType::NamedPipe,
        FileKind::CharDevice => FileType::CharDevice,
        FileKind::BlockDevice => FileType::BlockDevice,
    }
}

fn fopen_flags(o: &Opened) -> FopenFlags {
    let mut f = FopenFlags::empty();
    if o.direct_io {
        f |= FopenFlags::FOPEN_DIRECT_IO;
    }
    if o.keep_cache {
        f |= FopenFlags::FOPEN_KEEP_CACHE;
    }
    f
}

fn caller(req: &Request) -> Caller {
    Caller {
        uid: req.uid(),
        gid: req.gid(),
        pid: req.pid(),
    }
}

fn time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

/// Logs a failed op once, at the level the error asks for, and returns its errno.
fn fail(op: &str, detail: std::fmt::Arguments<'_>, e: &FsError) -> Errno {
    let errno = e.errno();
    log::log!(target: "fuse", e.log_level(), "{op} {detail}: {} ({errno:?})",
        crate::error::chain(e));
    errno
}

/// The xattr protocol: a request of size 0 asks for the length; a buffer too small is ERANGE.
fn reply_xattr(reply: ReplyXattr, value: &[u8], size: u32) {
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    if size == 0 {
        reply.size(len);
    } else if len > size {
        reply.error(Errno::ERANGE);
    } else {
        reply.data(value);
    }
}

macro_rules! unsupported {
    ($reply:expr) => {
        $reply.error(Errno::ENOSYS)
    };
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let _ = config.set_max_write(MAX_WRITE);
        let _ = config.set_max_background(MAX_BACKGROUND);
        let _ = config.set_congestion_threshold(MAX_BACKGROUND * 3 / 4);
        // mmap of a direct-I/O file works only with this (Linux ≥ 6.6); without it mmap fails
        // cleanly with ENODEV.
        let _ = config.add_capabilities(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
        let _ = config.add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS);
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        log::debug!(target: "fuse", "lookup parent={parent} name={name:?}");
        match self.fs.lookup(parent.0, name, &caller(req)) {
            Ok(a) => reply.entry(&a.ttl, &file_attr(&a), Generation(0)),
            Err(e) => reply.error(fail("lookup", format_args!("{parent} {name:?}"), &e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        log::debug!(target: "fuse", "getattr ino={ino}");
        match self.fs.getattr(ino.0) {
            Ok(a) => reply.attr(&a.ttl, &file_attr(&a)),
            Err(e) => reply.error(fail("getattr", format_args!("{ino}"), &e)),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        log::debug!(target: "fuse", "setattr ino={ino} size={size:?}");
        let other = mode.is_some() || uid.is_some() || gid.is_some();
        match self
            .fs
            .setattr(ino.0, size, mtime.map(time), other, &caller(req))
        {
            Ok(a) => reply.attr(&a.ttl, &file_attr(&a)),
            Err(e) => reply.error(fail("setattr", format_args!("{ino}"), &e)),
        }
    }

    fn readdir(
        &self,
        req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        log::debug!(target: "fuse", "readdir ino={ino} offset={offset}");
        match self.fs.readdir_from(ino.0, offset as usize, &caller(req)) {
            Ok(entries) => {
                for (i, e) in entries.iter().enumerate() {
                    let i = i + offset as usize;
                    let kind = file_type(e.kind);
                    if reply.add(INodeNo(e.ino), i as u64 + 1, kind, &e.name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(fail("readdir", format_args!("{ino}"), &e)),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        log::debug!(target: "fuse", "open ino={ino} flags={:#x}", flags.0);
        match self.fs.open(ino.0, flags.0, &caller(req)) {
            Ok(o) => reply.opened(FileHandle(o.fh), fopen_flags(&o)),
            Err(e) => reply.error(fail("open", format_args!("{ino}"), &e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        log::trace!(target: "fuse", "read ino={ino} offset={offset} size={size}");
        READ_BUFFER.with_borrow_mut(|buf| match self.fs.read(fh.0, offset, size, buf) {
            Ok(n) => reply.data(&buf[..n]),
            Err(e) => reply.error(fail("read", format_args!("{ino} @{offset}+{size}"), &e)),
        });
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        log::trace!(target: "fuse", "write ino={ino} offset={offset} len={}", data.len());
        match self.fs.write(fh.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(fail("write", format_args!("{ino} @{offset}"), &e)),
        }
    }

    fn flush(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        log::debug!(target: "fuse", "flush ino={ino} pid={}", req.pid());
        match self.fs.flush(fh.0, req.pid()) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("flush", format_args!("{ino}"), &e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        log::debug!(target: "fuse", "release ino={ino}");
        match self.fs.release(fh.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("release", format_args!("{ino}"), &e)),
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        // Durability comes at commit (close), when the store fsyncs what it publishes.
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        log::debug!(target: "fuse", "create parent={parent} name={name:?}");
        match self.fs.create(parent.0, name, flags, &caller(req)) {
            Ok((a, o)) => reply.created(
                &a.ttl,
                &file_attr(&a),
                Generation(0),
                FileHandle(o.fh),
                fopen_flags(&o),
            ),
            Err(e) => reply.error(fail("create", format_args!("{parent} {name:?}"), &e)),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        log::debug!(target: "fuse", "mkdir parent={parent} name={name:?}");
        match self.fs.mkdir(parent.0, name, &caller(req)) {
            Ok(a) => reply.entry(&a.ttl, &file_attr(&a), Generation(0)),
            Err(e) => reply.error(fail("mkdir", format_args!("{parent} {name:?}"), &e)),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        reply.error(fail(
            "mknod",
            format_args!("{parent} {name:?}"),
            &self.fs.refuse_special(parent.0),
        ));
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        reply.error(fail(
            "symlink",
            format_args!("{parent} {name:?}"),
            &self.fs.refuse_special(parent.0),
        ));
    }

    fn link(
        &self,
        _req: &Request,
        _ino: INodeNo,
        parent: INodeNo,
        name: &OsStr,
        reply: ReplyEntry,
    ) {
        reply.error(fail(
            "link",
            format_args!("{parent} {name:?}"),
            &self.fs.refuse_special(parent.0),
        ));
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        log::debug!(target: "fuse", "unlink parent={parent} name={name:?}");
        match self.fs.unlink(parent.0, name, &caller(req)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("unlink", format_args!("{parent} {name:?}"), &e)),
        }
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        log::debug!(target: "fuse", "rmdir parent={parent} name={name:?}");
        match self.fs.rmdir(parent.0, name, &caller(req)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("rmdir", format_args!("{parent} {name:?}"), &e)),
        }
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        log::debug!(target: "fuse", "rename {parent} {name:?} -> {newparent} {newname:?}");
        match self
            .fs
            .rename(parent.0, name, newparent.0, newname, &caller(req))
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("rename", format_args!("{parent} {name:?}"), &e)),
        }
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        log::debug!(target: "fuse", "access ino={ino} mask={mask}");
        match self.fs.access(ino.0, mask.bits(), &caller(req)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("access", format_args!("{ino} mask={mask}"), &e)),
        }
    }

    /// FS_IOC_GETFLAGS and the like (`lsattr`, borg on every file): fuser's default answers
    /// ENOSYS with a three-line warning each time. Same answer, logged at debug.
    fn ioctl(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        log::debug!(target: "fuse", "ioctl ino={ino} cmd={cmd:#x}: not supported");
        unsupported!(reply);
    }

    /// poll(2) on an archive (event loops, `tail -f`): fuser's default warns on every call.
    /// ENOSYS makes the kernel treat every file as always ready, which ours are.
    fn poll(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        log::debug!(target: "fuse", "poll ino={ino}: not supported");
        unsupported!(reply);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.fs.statfs() {
            Ok(s) => reply.statfs(
                s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize,
            ),
            Err(e) => reply.error(fail("statfs", format_args!(""), &e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        log::debug!(target: "fuse", "readlink ino={ino}");
        match self.fs.readlink(ino.0) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(fail("readlink", format_args!("{ino}"), &e)),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self.fs.getxattr(ino.0, name) {
            Ok(value) => reply_xattr(reply, &value, size),
            Err(e) => reply.error(fail("getxattr", format_args!("ino={ino} {name:?}"), &e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.fs.listxattr(ino.0) {
            Ok(names) => reply_xattr(reply, &names, size),
            Err(e) => reply.error(fail("listxattr", format_args!("ino={ino}"), &e)),
        }
    }

    // The ops below are fuser's defaults answered quietly: the same ENOSYS, without the
    // "[Not Implemented]" warning fuser logs on every call (`cp` within the mount asks for
    // copy_file_range, `cp -a` and `rsync -X` for setxattr; the kernel treats ENOSYS from
    // fsyncdir as success and stops sending it). ioctl, above, is the same.

    fn setxattr(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _name: &OsStr,
        _value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        unsupported!(reply);
    }

    fn removexattr(&self, _req: &Request, _ino: INodeNo, _name: &OsStr, reply: ReplyEmpty) {
        unsupported!(reply);
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        unsupported!(reply);
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        unsupported!(reply);
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: i64,
        _whence: i32,
        reply: ReplyLseek,
    ) {
        unsupported!(reply);
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        _fh_in: FileHandle,
        _offset_in: u64,
        _ino_out: INodeNo,
        _fh_out: FileHandle,
        _offset_out: u64,
        _len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        unsupported!(reply);
    }
}
