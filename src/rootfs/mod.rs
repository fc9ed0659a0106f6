//! The root filesystem of an image platform, browsed without unpacking: a table of contents
//! per layer (`toc`), the layers merged into one tree by the OCI image-spec's rules (`merge`),
//! random access into compressed layers (`zran` for gzip, `zstd_frames` for zstd, tied
//! together with the store's layer indexes by `layer`, decoded bytes shared through
//! `decoded_cache`), and a platform's layers opened and merged (`platform`). The CLI
//! (`ls-files`, `cat`) and the mount (`fs/inside.rs`) read through `platform`.

pub mod decoded_cache;
pub mod layer;
pub mod merge;
pub mod platform;
pub mod toc;
pub mod zran;
pub mod zstd_frames;

pub use merge::{MergeError, MergeNote, MergeProblem, MergedTree, NodeId, NodeKind, NodeView};
pub use toc::{EntryKind, LayerToc, SkipReason, Skipped, TocEntry, TocError, TocLimits, Xattrs};

#[cfg(test)]
mod test_layers;
