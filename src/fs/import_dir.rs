//! The import directory: uploads (create, open for writing, write, flush and the commit at
//! close), the ops that change the namespace under `import/` (mkdir, unlink, rmdir, rename,
//! setattr) and the refusal of special files. Everywhere else they are EROFS; inside `import/`
//! the caller needs write and search permission on the directory, as the kernel would ask
//! (see `access.rs`).

use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use super::access::{Caller, Need, check};
use super::handles::Handle;
use super::tree::{self, Node};
use super::upload::{Upload, UploadStatus};
use super::{Attr, FsError, ImageFs, Opened, flag, name_str, writable};
use crate::platform::Platform;

/// A name being created: one that is not UTF-8 is refused (EINVAL), not "missing".
fn new_name_str(name: &OsStr) -> Result<&str, FsError> {
    name.to_str().ok_or_else(|| FsError::NameNotUtf8 {
        name: name.to_string_lossy().into_owned(),
    })
}

impl ImageFs {
    /// The platforms an upload into import directory `dir` is filtered to (none: all).
    fn import_platforms(dir: &str) -> Vec<Platform> {
        tree::parse_platform_list(dir).unwrap_or_default()
    }

    /// Imports into a read-only store fail when the file is created, naming the store.
    pub(super) fn check_store_writable(&self) -> Result<(), FsError> {
        if self.store.is_read_only() {
            return Err(FsError::Store(crate::store::StoreError::ReadOnly {
                root: self.store.root().to_path_buf(),
                op: "import",
            }));
        }
        Ok(())
    }

    /// A directory node `caller` may change entries of: EROFS outside `import/`, else write
    /// and search permission on it.
    fn writable_dir(&self, ino: u64, caller: &Caller, op: &'static str) -> Result<Node, FsError> {
        let node = self.node(ino)?;
        if !writable(&node) {
            return Err(FsError::ReadOnly);
        }
        check(&self.attr(&node)?, caller, Need::WRITE_SEARCH, op)?;
        Ok(node)
    }

    /// Where `parent` lets files be created: `Ok(dir)` inside `import/`, EROFS elsewhere.
    fn import_dir_of(&self, parent: &Node) -> Result<String, FsError> {
        match parent {
            Node::ImportDir(d) => Ok(d.clone()),
            _ => Err(FsError::ReadOnly),
        }
    }

    pub fn create(
        &self,
        parent: u64,
        name: &OsStr,
        flags: i32,
        caller: &Caller,
    ) -> Result<(Attr, Opened), FsError> {
        // As the kernel does for a read-only filesystem: EROFS before any permission check.
        self.check_store_writable()?;
        let parent = self.writable_dir(parent, caller, "create")?;
        let dir = self.import_dir_of(&parent)?;
        let name = new_name_str(name)?;
        if name == tree::STATUS_DIR {
            return Err(FsError::Exists);
        }
        let (upload, existed) = {
            let mut imports = self.imports.lock().expect("imports lock poisoned");
            let files = imports.entry(dir.clone()).or_default();
            match files.get(name) {
                Some(_) if flag(flags, libc::O_EXCL) => return Err(FsError::Exists),
                Some(u) => (u.clone(), true),
                None => {
                    let seq = self.upload_seq.fetch_add(1, Ordering::Relaxed);
                    let ino = tree::hash_ino(&format!("upload\0{dir}\0{name}\0{seq}")) & !1;
                    let u = Arc::new(Upload::new(
                        ino.max(2),
                        name.to_string(),
                        Self::import_platforms(&dir),
                    ));
                    files.insert(name.to_string(), u.clone());
                    (u, false)
                }
            }
        };
        let node = Node::ImportFile(upload);
        if existed {
            // Opening an existing file: its mode decides, as for open(2).
            check(&self.attr(&node)?, caller, Need::WRITE, "create")?;
        }
        self.remember(node.clone());
        let opened = self.open_node(node.clone(), flags | libc::O_WRONLY, caller.pid)?;
        Ok((self.attr(&node)?, opened))
    }

    pub fn mkdir(&self, parent: u64, name: &OsStr, caller: &Caller) -> Result<Attr, FsError> {
        let parent = self.writable_dir(parent, caller, "mkdir")?;
        let dir = self.import_dir_of(&parent)?;
        let name = new_name_str(name)?;
        if name == tree::STATUS_DIR {
            return Err(FsError::Exists);
        }
        if !dir.is_empty() || !tree::is_import_platform_dir(name) {
            return Err(FsError::NotPlatformDirectory {
                name: name.to_string(),
            });
        }
        self.imports
            .lock()
            .expect("imports lock poisoned")
            .entry(name.to_string())
            .or_default();
        let node = Node::ImportDir(name.to_string());
        self.remember(node.clone());
        self.attr(&node)
    }

    pub fn unlink(&self, parent: u64, name: &OsStr, caller: &Caller) -> Result<(), FsError> {
        let parent = self.writable_dir(parent, caller, "unlink")?;
        let name = name_str(name)?;
        // `rm .status/x.tar.json` forgets the upload `x.tar`, as `rm x.tar` does.
        let (dir, upload) = match &parent {
            Node::StatusDir(d) => (d.clone(), tree::status_upload(name)),
            other => (self.import_dir_of(other)?, Some(name)),
        };
        let mut imports = self.imports.lock().expect("imports lock poisoned");
        let removed = upload.and_then(|u| imports.get_mut(&dir).and_then(|files| files.remove(u)));
        match removed {
            Some(_) => Ok(()),
            None => Err(FsError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr, caller: &Caller) -> Result<(), FsError> {
        let parent = self.writable_dir(parent, caller, "rmdir")?;
        let dir = self.import_dir_of(&parent)?;
        let name = name_str(name)?;
        if !dir.is_empty() || name == tree::STATUS_DIR {
            return Err(FsError::NotPlatformDirectory {
                name: name.to_string(),
            });
        }
        let mut imports = self.imports.lock().expect("imports lock poisoned");
        match imports.get(name) {
            Some(files) if !files.is_empty() => Err(FsError::NotEmpty),
            Some(_) => {
                imports.remove(name);
                Ok(())
            }
            None if tree::is_import_platform_dir(name) => Ok(()),
            None => Err(FsError::NotFound {
                name: name.to_string(),
            }),
        }
    }

    /// Renames inside `import/` (rsync's temp file, a file manager's `.part`). The upload keeps
    /// the platform filter of the directory it was created in.
    pub fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        caller: &Caller,
    ) -> Result<(), FsError> {
        let from = self.import_dir_of(&self.writable_dir(parent, caller, "rename")?)?;
        let to = self.import_dir_of(&self.writable_dir(new_parent, caller, "rename")?)?;
        let (name, new_name) = (name_str(name)?, new_name_str(new_name)?);
        if new_name == tree::STATUS_DIR {
            return Err(FsError::Exists);
        }
        let mut imports = self.imports.lock().expect("imports lock poisoned");
        let upload = imports
            .get_mut(&from)
            .and_then(|files| files.remove(name))
            .ok_or_else(|| FsError::NotFound {
                name: name.to_string(),
            })?;
        upload.rename(new_name);
        imports
            .entry(to)
            .or_default()
            .insert(new_name.to_string(), upload);
        Ok(())
    }

    /// chmod/utimens/truncate. Under `import/` times are kept and modes ignored (rsync sets
    /// both); anywhere else any change is EROFS. As in the kernel, truncation needs write
    /// permission, and times and modes need the owner (or root).
    pub fn setattr(
        &self,
        ino: u64,
        size: Option<u64>,
        mtime: Option<SystemTime>,
        changes_other: bool,
        caller: &Caller,
    ) -> Result<Attr, FsError> {
        let node = self.node(ino)?;
        if writable(&node) {
            let attr = self.attr(&node)?;
            if size.is_some() {
                check(&attr, caller, Need::WRITE, "truncate")?;
            }
            if (mtime.is_some() || changes_other) && caller.uid != 0 && caller.uid != attr.uid {
                return Err(FsError::NotOwner {
                    op: "setattr",
                    uid: caller.uid,
                    owner: attr.uid,
                });
            }
        }
        match &node {
            Node::ImportFile(u) => {
                if let Some(size) = size {
                    u.truncate(size)?;
                }
                if let Some(t) = mtime {
                    u.set_mtime(t);
                }
            }
            Node::ImportDir(_) | Node::StatusDir(_) => {}
            _ if size.is_some() || mtime.is_some() || changes_other => {
                return Err(FsError::ReadOnly);
            }
            _ => {}
        }
        self.attr(&node)
    }

    /// mknod, symlink and link: refused, with EROFS outside `import/`.
    pub fn refuse_special(&self, parent: u64) -> FsError {
        match self.node(parent) {
            Ok(Node::ImportDir(_)) => FsError::NotRegularFile,
            Ok(_) => FsError::ReadOnly,
            Err(e) => e,
        }
    }

    /// Opens an upload for writing: a finished one starts over (`cp` onto the same name).
    pub(super) fn open_upload(&self, upload: &Arc<Upload>, pid: u32) -> Opened {
        upload.reset();
        Opened {
            fh: self.add_handle(Handle::Upload {
                upload: upload.clone(),
                opener_pid: pid,
                wrote: AtomicBool::new(false),
            }),
            direct_io: true,
            keep_cache: false,
        }
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32, FsError> {
        match &*self.handle(fh)? {
            Handle::Upload { upload, wrote, .. } => {
                // Only a handle whose data was accepted may commit: a second writer whose
                // write is refused must not end someone else's import at its close.
                let n = upload.write(&self.store, offset, data)?;
                wrote.store(true, Ordering::Relaxed);
                Ok(n)
            }
            Handle::Archive { .. } | Handle::Bytes(_) | Handle::InTree(_) | Handle::Blob(_) => {
                Err(FsError::ReadOnly)
            }
        }
    }

    /// close(2): commits an upload when its opener closes it after writing, so the import's
    /// outcome is what close returns. Flushes of dup'd descriptors and of other processes, and
    /// flushes before any data, only pass.
    pub fn flush(&self, fh: u64, pid: u32) -> Result<(), FsError> {
        if let Handle::Upload {
            upload,
            opener_pid,
            wrote,
        } = &*self.handle(fh)?
            && *opener_pid == pid
            && wrote.load(Ordering::Relaxed)
            && upload.meta().size > 0
        {
            match upload.commit(&self.store) {
                Some(Err(e)) => return Err(FsError::Import(e)),
                // What close(2) returned for is visible under images/ when it returns.
                Some(Ok(_)) => self.catalog_changed(),
                None => {}
            }
        }
        Ok(())
    }

    /// At the last close of `handle`: commits an upload nobody flushed (a writer that forked,
    /// or was killed, in which case the truncated archive is rejected). Its status file keeps
    /// the outcome.
    pub(super) fn release_upload(&self, handle: &Handle) {
        if let Handle::Upload { upload, wrote, .. } = handle
            && wrote.load(Ordering::Relaxed)
            && upload.meta().size > 0
            && let Some(Ok(_)) = upload.commit(&self.store)
        {
            self.catalog_changed();
        }
    }

    /// Every upload's status, for tests and the CLI.
    pub fn upload_statuses(&self) -> Vec<UploadStatus> {
        let imports = self.imports.lock().expect("imports lock poisoned");
        imports
            .values()
            .flat_map(|f| f.values())
            .map(|u| u.status())
            .collect()
    }
}
