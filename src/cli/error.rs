//! `CliError`: why a command failed. `main` prints it with its sources on one line
//! (`imagefs: error: …`) and exits 1, except for a closed pipe ([`CliError::is_broken_pipe`]).

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::string::FromUtf8Error;

use super::mount::MountError;
use crate::archive::{ExportError, ImportError};
use crate::image::{ImageError, SelectError};
use crate::platform::ParsePlatformError;
use crate::reference::ParseReferenceError;
use crate::restore::RestoreError;
use crate::rootfs::platform::RootfsError;
use crate::store::StoreError;

#[derive(Debug)]
pub enum CliError {
    Store(StoreError),
    /// A REF that names no image, or an image or platform that cannot be read.
    Image(ImageError),
    /// Loading an archive failed; `input` is the file or "standard input".
    Import {
        input: String,
        source: ImportError,
    },
    Export(ExportError),
    Restore(RestoreError),
    Platform(ParsePlatformError),
    Reference(ParseReferenceError),
    /// Writing the command's output, or another I/O step of the command itself.
    Io(io::Error),
    /// A stored document `inspect` embeds is not UTF-8 ...
    NotUtf8(FromUtf8Error),
    /// ... or not JSON.
    NotJson(serde_json::Error),
    /// Neither `--store`, `IMAGEFS_STORE`, `XDG_DATA_HOME` nor `HOME` names a store.
    NoStoreDirectory,
    /// `gc` found images it cannot read (listed on stderr) and removed nothing.
    GcRemovedNothing,
    /// `fsck` found problems (listed on stdout).
    FsckProblems {
        problems: usize,
        blobs: usize,
    },
    /// `inspect` without `--platform` of an image no platform of which is complete.
    NoCompletePlatform {
        image: String,
    },
    /// `inspect` of a manifest that lists no config.
    NoConfig,
    /// `export` to standard output that is a terminal.
    TerminalOutput,
    /// The temp file beside an export's target cannot be created.
    ExportTemp {
        dir: PathBuf,
        source: io::Error,
    },
    /// The finished export cannot be renamed onto its target.
    ExportPersist {
        path: PathBuf,
        source: io::Error,
    },
    /// `mount` or `unmount` refused or failed.
    Mount(MountError),
    /// A platform's root filesystem cannot be opened or read.
    Rootfs(RootfsError),
    /// `ls-files`/`cat` of a path the image does not have.
    NotInImage {
        path: String,
        image: String,
    },
    /// `cat` of something that is not a regular file.
    NotAFile {
        path: String,
        kind: String,
    },
    /// A file the CLI generates (a man page) cannot be written.
    WriteFile {
        path: PathBuf,
        source: io::Error,
    },
}

impl CliError {
    /// True when the command failed only because its reader went away (`imagefs ls | head`):
    /// the reader's choice, not an error to report.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            CliError::Io(e) => e.kind() == io::ErrorKind::BrokenPipe,
            CliError::Export(e) => e.is_broken_pipe(),
            CliError::Store(_)
            | CliError::Image(_)
            | CliError::Import { .. }
            | CliError::Restore(_)
            | CliError::Platform(_)
            | CliError::Reference(_)
            | CliError::NotUtf8(_)
            | CliError::NotJson(_)
            | CliError::NoStoreDirectory
            | CliError::GcRemovedNothing
            | CliError::FsckProblems { .. }
            | CliError::NoCompletePlatform { .. }
            | CliError::NoConfig
            | CliError::TerminalOutput
            | CliError::ExportTemp { .. }
            | CliError::ExportPersist { .. }
            | CliError::WriteFile { .. }
            | CliError::Mount(_)
            | CliError::Rootfs(_)
            | CliError::NotInImage { .. }
            | CliError::NotAFile { .. } => false,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Wrapped errors speak for themselves; `source()` continues their chain.
            CliError::Store(e) => write!(f, "{e}"),
            CliError::Image(e) => write!(f, "{e}"),
            CliError::Export(e) => write!(f, "{e}"),
            CliError::Restore(e) => write!(f, "{e}"),
            CliError::Platform(e) => write!(f, "{e}"),
            CliError::Reference(e) => write!(f, "{e}"),
            CliError::Io(e) => write!(f, "{e}"),
            CliError::NotUtf8(e) => write!(f, "{e}"),
            CliError::NotJson(e) => write!(f, "{e}"),
            CliError::Import { input, .. } => write!(f, "cannot import {input}"),
            CliError::NoStoreDirectory => write!(
                f,
                "cannot choose a store directory: set --store, IMAGEFS_STORE or HOME"
            ),
            CliError::GcRemovedNothing => write!(
                f,
                "gc removed nothing: some images cannot be read (run `imagefs fsck`)"
            ),
            CliError::FsckProblems { problems, blobs } => {
                write!(f, "{problems} problems found in {blobs} blobs")
            }
            CliError::NoCompletePlatform { image } => {
                write!(f, "image {image} has no complete platform")
            }
            CliError::NoConfig => write!(f, "manifest has no config"),
            CliError::TerminalOutput => write!(
                f,
                "refusing to write an archive to a terminal; use -o FILE or redirect the output"
            ),
            CliError::ExportTemp { dir, .. } => {
                write!(f, "cannot create a file in {}", dir.display())
            }
            CliError::ExportPersist { path, .. } => write!(f, "cannot write {}", path.display()),
            CliError::Mount(e) => write!(f, "{e}"),
            CliError::Rootfs(e) => write!(f, "{e}"),
            CliError::NotInImage { path, image } => write!(f, "{image} has no {path}"),
            CliError::NotAFile { path, kind } => {
                write!(f, "{path} is a {kind}, not a regular file")
            }
            CliError::WriteFile { path, .. } => write!(f, "cannot write {}", path.display()),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Store(e) => e.source(),
            CliError::Image(e) => e.source(),
            CliError::Export(e) => e.source(),
            CliError::Restore(e) => e.source(),
            CliError::Platform(e) => e.source(),
            CliError::Reference(e) => e.source(),
            CliError::Io(e) => e.source(),
            CliError::NotUtf8(e) => e.source(),
            CliError::NotJson(e) => e.source(),
            CliError::Mount(e) => e.source(),
            CliError::Rootfs(e) => e.source(),
            CliError::Import { source, .. } => Some(source),
            CliError::ExportTemp { source, .. }
            | CliError::ExportPersist { source, .. }
            | CliError::WriteFile { source, .. } => Some(source),
            CliError::NoStoreDirectory
            | CliError::GcRemovedNothing
            | CliError::FsckProblems { .. }
            | CliError::NoCompletePlatform { .. }
            | CliError::NoConfig
            | CliError::TerminalOutput
            | CliError::NotInImage { .. }
            | CliError::NotAFile { .. } => None,
        }
    }
}

macro_rules! from {
    ($($variant:ident($ty:ty)),* $(,)?) => {$(
        impl From<$ty> for CliError {
            fn from(e: $ty) -> CliError {
                CliError::$variant(e)
            }
        }
    )*};
}

from!(
    Store(StoreError),
    Image(ImageError),
    Export(ExportError),
    Restore(RestoreError),
    Platform(ParsePlatformError),
    Reference(ParseReferenceError),
    Io(io::Error),
    NotUtf8(FromUtf8Error),
    NotJson(serde_json::Error),
    Mount(MountError),
    Rootfs(RootfsError),
);

impl From<SelectError> for CliError {
    fn from(e: SelectError) -> CliError {
        CliError::Image(ImageError::Select(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain as error_chain;

    #[test]
    fn only_a_closed_output_is_quiet() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(CliError::Io(pipe()).is_broken_pipe());
        assert!(CliError::Export(ExportError::Output(pipe())).is_broken_pipe());
        assert!(!CliError::Io(io::Error::from(io::ErrorKind::StorageFull)).is_broken_pipe());
        assert!(
            !CliError::Import {
                input: "standard input".into(),
                source: ImportError::Input(pipe()),
            }
            .is_broken_pipe()
        );
    }

    #[test]
    fn the_chain_reads_as_one_line() {
        let e = CliError::Import {
            input: "x.tar".into(),
            source: ImportError::Truncated { entry: None },
        };
        assert_eq!(
            error_chain(&e),
            "cannot import x.tar: truncated archive: input ended inside tar header"
        );
        let e = CliError::Mount(MountError::Unmount {
            mountpoint: "/m".into(),
            source: io::Error::from_raw_os_error(libc::EINVAL),
        });
        assert_eq!(
            error_chain(&e),
            "cannot unmount /m: Invalid argument (os error 22)"
        );
    }
}
