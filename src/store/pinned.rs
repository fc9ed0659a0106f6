//! The store's directories, pinned: opened once (each component without following a symlink)
//! and then reached through `/proc/self/fd/N/…`, a magic link the kernel resolves to the open
//! directory itself, not by its name.
//!
//! Why: a store another user controls (served by root with `--allow-other`, or collected by
//! root's `gc`) could otherwise swap `blobs/sha256` or `index.json` for a symlink after the
//! store was opened, and have us read, write or delete files outside it with our rights.
//! Through pinned directories, whatever is renamed or replaced later, every operation stays in
//! the directories opened at the start; file opens refuse symlinks (`lock::open_no_follow`),
//! and renames and unlinks never follow one.
//!
//! Paths built here are for the kernel; [`shown`] turns them back into the store's own paths
//! for messages.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const FD_DIR: &str = "/proc/self/fd";

/// Pinned directory fds and the paths they were opened as, for messages.
static SHOWN: Mutex<BTreeMap<i32, PathBuf>> = Mutex::new(BTreeMap::new());

#[derive(Debug)]
pub(super) struct Dirs {
    root: File,
    blobs: File,
    /// Absent in a read-only store laid out by another tool (skopeo, umoci write none).
    ingest: Option<File>,
    /// `indexes/sha256`: absent likewise, and in a read-only store an earlier build wrote.
    indexes: Option<File>,
}

fn open_dir(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// `path` (components separated by `/`) under `parent`, each component opened through the
/// previous one.
fn open_nested(parent: &File, path: &str) -> io::Result<File> {
    let mut dir: Option<File> = None;
    for component in path.split('/') {
        let next = open_dir(&fd_path(dir.as_ref().unwrap_or(parent)).join(component))?;
        dir = Some(next);
    }
    Ok(dir.expect("a directory path has components"))
}

fn fd_path(dir: &File) -> PathBuf {
    Path::new(FD_DIR).join(dir.as_raw_fd().to_string())
}

impl Dirs {
    /// Opens `root`, then `blobs`, `blobs/sha256`, `ingest`, `indexes` and `indexes/sha256`
    /// inside it, one component at a time through the previous one, none through a symlink.
    pub(super) fn open(
        root: &Path,
        blob_dir: &str,
        ingest_dir: &str,
        index_dir: &str,
    ) -> io::Result<Dirs> {
        let root_dir = open_dir(root)?;
        let blobs = open_nested(&root_dir, blob_dir)?;
        let optional = |path| match open_nested(&root_dir, path) {
            Ok(dir) => Ok(Some(dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        let ingest = optional(ingest_dir)?;
        let indexes = optional(index_dir)?;
        let mut shown = SHOWN.lock().expect("pinned names lock poisoned");
        shown.insert(root_dir.as_raw_fd(), root.to_path_buf());
        shown.insert(blobs.as_raw_fd(), root.join(blob_dir));
        if let Some(ingest) = &ingest {
            shown.insert(ingest.as_raw_fd(), root.join(ingest_dir));
        }
        if let Some(indexes) = &indexes {
            shown.insert(indexes.as_raw_fd(), root.join(index_dir));
        }
        drop(shown);
        Ok(Dirs {
            root: root_dir,
            blobs,
            ingest,
            indexes,
        })
    }

    /// `name` in the store's root directory.
    pub(super) fn root(&self, name: &str) -> PathBuf {
        fd_path(&self.root).join(name)
    }

    /// Statistics of the filesystem holding the root directory, asked of the open directory
    /// (fstatvfs), so neither a rename of the store nor a symlink in its place changes the answer.
    pub(super) fn statvfs(&self) -> io::Result<libc::statvfs> {
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: the fd is open for as long as `self.root` lives, and `st` points to writable
        // memory of the right type, which fstatvfs initialises fully when it returns 0.
        let rc = unsafe { libc::fstatvfs(self.root.as_raw_fd(), st.as_mut_ptr()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fstatvfs returned 0, so it filled `st`.
        Ok(unsafe { st.assume_init() })
    }

    pub(super) fn blobs(&self) -> PathBuf {
        fd_path(&self.blobs)
    }

    /// The index directory; where it is missing, a path that does not exist (see `ingest`).
    pub(super) fn indexes(&self, index_dir: &str) -> PathBuf {
        match &self.indexes {
            Some(dir) => fd_path(dir),
            None => self.root(index_dir),
        }
    }

    /// The ingest directory; where it is missing, a path that does not exist (so listing it
    /// finds nothing, and writing, which a store without one refuses anyway, fails).
    pub(super) fn ingest(&self, ingest_dir: &str) -> PathBuf {
        match &self.ingest {
            Some(dir) => fd_path(dir),
            None => self.root(ingest_dir),
        }
    }
}

impl Drop for Dirs {
    fn drop(&mut self) {
        let mut shown = SHOWN.lock().expect("pinned names lock poisoned");
        for f in [
            Some(&self.root),
            Some(&self.blobs),
            self.ingest.as_ref(),
            self.indexes.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            shown.remove(&f.as_raw_fd());
        }
    }
}

/// A path as the user knows it: `/proc/self/fd/N/x` of a pinned directory becomes `STORE/…/x`.
pub fn shown(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix(FD_DIR) else {
        return path.to_path_buf();
    };
    let mut components = rest.components();
    let Some(fd) = components
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .and_then(|s| s.parse::<i32>().ok())
    else {
        return path.to_path_buf();
    };
    match SHOWN.lock().expect("pinned names lock poisoned").get(&fd) {
        Some(dir) => dir.join(components.as_path()),
        None => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_directories_stay_put_when_their_names_are_swapped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::create_dir_all(root.join("ingest")).unwrap();
        let dirs = Dirs::open(&root, "blobs/sha256", "ingest", "indexes/sha256").unwrap();
        // Swap blobs/sha256 for a symlink to somewhere else, after opening.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::rename(root.join("blobs/sha256"), root.join("blobs/old")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join("blobs/sha256")).unwrap();
        std::fs::write(dirs.blobs().join("x"), b"x").unwrap();
        assert!(
            root.join("blobs/old/x").exists(),
            "written into the pinned directory"
        );
        assert!(
            !elsewhere.join("x").exists(),
            "not through the swapped-in symlink"
        );
        assert_eq!(shown(&dirs.blobs().join("x")), root.join("blobs/sha256/x"));
    }

    #[test]
    fn a_symlinked_component_is_refused_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        std::fs::create_dir_all(root.join("blobs")).unwrap();
        std::fs::create_dir_all(root.join("ingest")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("blobs/sha256")).unwrap();
        assert!(Dirs::open(&root, "blobs/sha256", "ingest", "indexes/sha256").is_err());
    }
}
