//! The benchmark's FUSE ceiling (scripts/bench-mount.sh, step 2): mounts a store exactly as
//! `imagefs mount` does — same tree, same sizes, same handles, caching and threads — except that
//! reads of archive files return zeros instead of archive bytes. What `cat` of an archive costs
//! here is what the FUSE transport costs; the real mount's extra is the archive work.
//!
//! Usage: `stub_mount STORE MOUNTPOINT [--direct-io] [--threads N]`. Serves in the foreground
//! until the mount is unmounted (`imagefs unmount MOUNTPOINT`).

use std::path::PathBuf;
use std::sync::Arc;

use imagefs::archive::ArchivePlan;
use imagefs::fs::{ArchiveReader, FsError, FsOptions, ImageFs};
use imagefs::fuse::{self, MountConfig};
use imagefs::store::Store;

/// Zeros, as many as the real reader would return at that offset.
#[derive(Debug)]
struct Zeros;

impl ArchiveReader for Zeros {
    fn read_at(
        &self,
        plan: &ArchivePlan,
        offset: u64,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> Result<usize, FsError> {
        let want = plan.bytes_at(offset, len);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        buf[..want].fill(0);
        Ok(want)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let usage = "usage: stub_mount STORE MOUNTPOINT [--direct-io] [--threads N]";
    let store = PathBuf::from(args.next().ok_or(usage)?);
    let mountpoint = PathBuf::from(args.next().ok_or(usage)?);
    let (mut direct_io, mut threads) = (false, 4);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--direct-io") => direct_io = true,
            Some("--threads") => {
                threads = args
                    .next()
                    .and_then(|n| n.to_str()?.parse().ok())
                    .ok_or(usage)?;
            }
            _ => return Err(usage.into()),
        }
    }
    // SAFETY: getuid/getgid cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let fs = ImageFs::new(
        Store::open(&store)?,
        FsOptions {
            uid,
            gid,
            direct_io,
            read_only: false,
            dir_mode: None,
            file_mode: None,
        },
    )
    .with_archive_reader(Arc::new(Zeros));
    let config = MountConfig {
        allow_other: false,
        threads,
    };
    let session = fuse::session(fs, &mountpoint, &config)?;
    eprintln!("stub_mount: serving zeros on {}", mountpoint.display());
    session.run()?;
    Ok(())
}
