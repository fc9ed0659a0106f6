//! Image archives: planning and writing `docker save`-exact exports, serving them at any offset,
//! and importing OCI-layout and docker-archive tars into the store.

mod error;
mod export;
mod import;
mod import_progress;
mod names;
mod plan;
mod scan;
mod tar_header;
pub(crate) mod tar_reader;

pub use error::{ExportError, ImportError};
pub use export::{Progress, write_archive};
pub use import::{
    ImportOptions, LoadedImage, NameOutcome, SkippedPlatform, import_file, import_stream,
};
pub use import_progress::ImportProgress;
pub use plan::{ArchivePlan, ExportRequest};
pub use scan::Compression;
