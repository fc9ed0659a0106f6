//! Reading: the handle table, and open, read and release of what the mount serves — archives
//! (through an [`ArchiveReader`]), the stored JSON documents and status files. Opening an
//! upload for writing is `import_dir.rs`'s; release hands uploads back to it.

use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use super::access::{Caller, Need};
use super::handles::Handle;
use super::tree::Node;
use super::{FsError, ImageFs, Opened, flag, is_write_open, writable};
use crate::archive::ArchivePlan;
use crate::rootfs::layer::fill_at;

/// Where the bytes of an open archive file come from. The mount reads them from the file's
/// [`ArchivePlan`]; a benchmark can mount with a reader that does no archive work, to measure
/// what the FUSE transport alone costs (examples/stub_mount.rs), through the same daemon code.
pub trait ArchiveReader: Send + Sync + std::fmt::Debug {
    /// Puts the archive's bytes at `offset` into the first bytes of `buf` (grown as needed,
    /// never shrunk) and returns how many: exactly `len` unless the archive ends first.
    fn read_at(
        &self,
        plan: &ArchivePlan,
        offset: u64,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> Result<usize, FsError>;
}

/// The production reader: the plan's bytes.
#[derive(Debug)]
pub(super) struct PlanReader;

impl ArchiveReader for PlanReader {
    fn read_at(
        &self,
        plan: &ArchivePlan,
        offset: u64,
        len: usize,
        buf: &mut Vec<u8>,
    ) -> Result<usize, FsError> {
        let want = plan.bytes_at(offset, len);
        plan.read_at(offset, reserve(buf, want))
            .map_err(FsError::Read)
    }
}

/// A small document's bytes at `offset`, copied into `buf`; returns the count.
fn read_bytes(bytes: &[u8], offset: u64, len: usize, buf: &mut Vec<u8>) -> usize {
    let start = (offset as usize).min(bytes.len());
    let end = start.saturating_add(len).min(bytes.len());
    reserve(buf, end - start).copy_from_slice(&bytes[start..end]);
    end - start
}

/// The first `len` bytes of `buf`, growing it if it is shorter.
fn reserve(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    &mut buf[..len]
}

impl ImageFs {
    /// Serves archive bytes through `reader` instead of from the plans (benchmarks only: see
    /// [`ArchiveReader`]). Everything else — tree, sizes, handles, leases — stays as it is.
    pub fn with_archive_reader(mut self, reader: Arc<dyn ArchiveReader>) -> ImageFs {
        self.reader = reader;
        self
    }

    pub(super) fn add_handle(&self, handle: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles
            .lock()
            .expect("handle table lock poisoned")
            .insert(fh, Arc::new(handle));
        fh
    }

    pub(super) fn handle(&self, fh: u64) -> Result<Arc<Handle>, FsError> {
        self.handles
            .lock()
            .expect("handle table lock poisoned")
            .get(&fh)
            .cloned()
            .ok_or(FsError::BadHandle(fh))
    }

    pub fn open(&self, ino: u64, flags: i32, caller: &Caller) -> Result<Opened, FsError> {
        let node = self.node(ino)?;
        let writing = is_write_open(flags);
        if writing && !writable(&node) {
            return Err(FsError::ReadOnly);
        }
        let need = match flags & libc::O_ACCMODE {
            libc::O_RDONLY if writing => Need::WRITE, // O_TRUNC
            libc::O_RDONLY => Need::READ,
            libc::O_WRONLY => Need::WRITE,
            _ => Need(Need::READ.0 | Need::WRITE.0),
        };
        if !node.is_dir() {
            self.check_node(&node, &self.attr(&node)?, caller, need, "open")?;
        }
        self.open_node(node, flags, caller.pid)
    }

    /// Opens `node` without a permission check (done by `open`; `create` needs none).
    pub(super) fn open_node(&self, node: Node, flags: i32, pid: u32) -> Result<Opened, FsError> {
        let writing = is_write_open(flags);
        let document = |bytes: Vec<u8>| {
            Ok(Opened {
                fh: self.add_handle(Handle::Bytes(bytes.into())),
                direct_io: false,
                keep_cache: true,
            })
        };
        match &node {
            Node::Archive(e, ps) => {
                if writing {
                    return Err(FsError::ReadOnly);
                }
                // Each open file reads through its own copy of the cached plan: the blob files
                // it opens close with it (see `ArchivePlan::reopened`).
                let plan = Arc::new(e.plan(&self.store, ps)?.reopened());
                let lease = self.leases.acquire(&self.store)?;
                let fh = self.add_handle(Handle::Archive {
                    plan,
                    _lease: lease,
                });
                Ok(Opened {
                    fh,
                    direct_io: self.options.direct_io || flag(flags, libc::O_DIRECT),
                    keep_cache: true,
                })
            }
            Node::IndexJson(e) if !writing => document(
                self.store
                    .read_document(&e.record.bare_target())
                    .map_err(FsError::Store)?,
            ),
            Node::ManifestJson(e, p) if !writing => document(
                self.store
                    .read_document(&e.manifest(p)?.descriptor)
                    .map_err(FsError::Store)?,
            ),
            Node::ConfigJson(e, p) if !writing => {
                let m = e.manifest(p)?;
                let config = m
                    .children
                    .first()
                    .ok_or_else(|| e.absent(vec![p.clone()]))?;
                document(self.store.read_document(config).map_err(FsError::Store)?)
            }
            Node::StatusFile(u) if !writing => Ok(Opened {
                fh: self.add_handle(Handle::Bytes(u.status_bytes().into())),
                // Its size changes as the import proceeds: never serve stale cached pages.
                direct_io: true,
                keep_cache: false,
            }),
            Node::InTree(slot, place) if !writing => {
                let reader = self.tree_file(slot, *place)?;
                Ok(Opened {
                    fh: self.add_handle(Handle::InTree(Mutex::new(reader))),
                    direct_io: false,
                    // The bytes of a tree node's number never change.
                    keep_cache: true,
                })
            }
            Node::LayerBlob(e, p, n) if !writing => {
                let blob = self.layer_blob(e, p, *n)?;
                let file = self.store.open_blob(&blob).map_err(FsError::Store)?;
                Ok(Opened {
                    fh: self.add_handle(Handle::Blob(file)),
                    direct_io: self.options.direct_io || flag(flags, libc::O_DIRECT),
                    keep_cache: true,
                })
            }
            Node::Whiteouts(e, p, n) if !writing => Ok(Opened {
                fh: self.add_handle(Handle::Bytes(self.whiteouts(e, p, *n)?)),
                direct_io: false,
                keep_cache: true,
            }),
            Node::RootfsStatus(e, p) if !writing => Ok(Opened {
                fh: self.add_handle(Handle::Bytes(self.rootfs_status_bytes(e, p)?.into())),
                // It changes while a build runs: never serve stale cached pages.
                direct_io: true,
                keep_cache: false,
            }),
            Node::ImportFile(u) if writing => Ok(self.open_upload(u, pid)),
            Node::ImportFile(_) => Err(FsError::WriteOnly),
            Node::IndexJson(_)
            | Node::ManifestJson(..)
            | Node::ConfigJson(..)
            | Node::InTree(..)
            | Node::LayerBlob(..)
            | Node::Whiteouts(..)
            | Node::RootfsStatus(..)
            | Node::StatusFile(_) => Err(FsError::ReadOnly),
            Node::Root
            | Node::ImagesDir
            | Node::NamePrefix(_)
            | Node::Image(_)
            | Node::ByPlatformDir(_)
            | Node::PlatformDir(..)
            | Node::LayersDir(..)
            | Node::ImportDir(_)
            | Node::StatusDir(_) => Err(FsError::IsADirectory),
        }
    }

    /// Bytes at `offset`: exactly `size` of them unless the file ends first.
    /// Reads into `buf` (the caller's reusable buffer, so a read allocates nothing) and
    /// returns how many of its first bytes are the answer.
    pub fn read(
        &self,
        fh: u64,
        offset: u64,
        size: u32,
        buf: &mut Vec<u8>,
    ) -> Result<usize, FsError> {
        match &*self.handle(fh)? {
            Handle::Archive { plan, .. } => {
                let want = plan.bytes_at(offset, size as usize);
                let got = self.reader.read_at(plan, offset, size as usize, buf)?;
                if got != want {
                    // A short reply in cached mode would be zero-filled by the kernel: fail.
                    return Err(FsError::ShortRead { got, want });
                }
                Ok(got)
            }
            Handle::Bytes(b) => Ok(read_bytes(b, offset, size as usize, buf)),
            Handle::InTree(reader) => {
                let mut reader = reader.lock().expect("file reader lock poisoned");
                let want = (size as u64).min(reader.size().saturating_sub(offset)) as usize;
                let got = reader
                    .read_at(offset, reserve(buf, want))
                    .map_err(|source| FsError::RootfsRead {
                        path: format!("inode's bytes at {offset}"),
                        source,
                    })?;
                Ok(got)
            }
            Handle::Blob(file) => fill_at(reserve(buf, size as usize), offset, |b, at| {
                file.read_at(b, at)
            })
            .map_err(|source| FsError::Io {
                op: "read a layer blob",
                source,
            }),
            Handle::Upload { .. } => Err(FsError::WriteOnly),
        }
    }

    /// Last close: the handle goes; an upload nobody flushed commits now (see
    /// `release_upload`). Errors here reach no application.
    pub fn release(&self, fh: u64) -> Result<(), FsError> {
        let handle = self
            .handles
            .lock()
            .expect("handle table lock poisoned")
            .remove(&fh)
            .ok_or(FsError::BadHandle(fh))?;
        self.release_upload(&handle);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
