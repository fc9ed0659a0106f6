//! The root filesystem of an image platform, browsed without unpacking: a table of contents per
//! layer (`toc`) and the layers merged into one tree by the OCI image-spec's rules (`merge`).

pub mod merge;
pub mod toc;

pub use merge::{MergeError, MergeNote, MergeProblem, MergedTree, NodeId, NodeKind, NodeView};
pub use toc::{EntryKind, LayerToc, SkipReason, Skipped, TocEntry, TocError, TocLimits, Xattrs};

#[cfg(test)]
mod test_layers;
