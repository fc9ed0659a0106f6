//! One platform's root filesystem, ready to browse: for each layer its seek index and table of
//! contents (from the store's layer indexes, else built in one pass each and stored, never as
//! part of an import), the layers merged, and a file's bytes read from the layer holding them.

use std::fmt;
use std::io::{self, Write};
use std::sync::Arc;

use super::layer::{self, LayerError, LayerReader, SeekIndex};
use super::merge::{MergeError, MergeNote, MergedTree, NodeId};
use super::toc::{LayerToc, TocError, TocLimits};
use crate::oci::Descriptor;
use crate::store::{IndexKind, Store};

/// The stored table of contents of a layer (`LayerToc`'s byte form).
pub const TOC_INDEX: IndexKind = IndexKind::new("toc", 1);

/// A platform's layers, merged.
pub struct PlatformRoot {
    layers: Vec<(Descriptor, SeekIndex)>,
    tree: MergedTree,
    notes: Vec<MergeNote>,
}

/// Why a platform's root filesystem cannot be shown or read.
#[derive(Debug)]
pub enum RootfsError {
    Layer(LayerError),
    Toc {
        layer: String,
        source: TocError,
    },
    Merge(MergeError),
    /// Reading a file's bytes (`path`) failed.
    Read {
        path: String,
        source: io::Error,
    },
    /// Writing a file's bytes to the caller's output failed.
    Output(io::Error),
}

impl fmt::Display for RootfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootfsError::Layer(e) => write!(f, "{e}"),
            RootfsError::Toc { layer, source } => write!(f, "layer {layer}: {source}"),
            RootfsError::Merge(e) => write!(f, "{e}"),
            RootfsError::Read { path, .. } => write!(f, "reading {path} from its layer"),
            RootfsError::Output(_) => write!(f, "writing the output"),
        }
    }
}

impl std::error::Error for RootfsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RootfsError::Layer(e) => e.source(),
            RootfsError::Toc { source, .. } => source.source(),
            RootfsError::Merge(e) => e.source(),
            RootfsError::Read { source, .. } | RootfsError::Output(source) => Some(source),
        }
    }
}

impl PlatformRoot {
    /// Opens the root filesystem of a manifest whose layers are `layers` (in order, bottom
    /// first), building what the store's layer indexes lack.
    pub fn open(store: &Store, layers: &[Descriptor]) -> Result<PlatformRoot, RootfsError> {
        let mut opened = Vec::with_capacity(layers.len());
        let mut tocs = Vec::with_capacity(layers.len());
        for d in layers {
            let toc_err = |source| RootfsError::Toc {
                layer: d.digest.to_string(),
                source,
            };
            let (seek, toc) = match layer::load_index(store, d, TOC_INDEX, LayerToc::from_bytes) {
                Some(toc) => (
                    layer::seek_index(store, d).map_err(RootfsError::Layer)?,
                    toc,
                ),
                // One pass builds the table and, for gzip, the seek index.
                None => {
                    let (seek, read) = layer::seek_index_reading(store, d, |input| {
                        LayerToc::read(input, &TocLimits::default())
                    })
                    .map_err(RootfsError::Layer)?;
                    let (toc, skipped) = read.map_err(toc_err)?;
                    for s in skipped.iter().take(20) {
                        log::info!(target: "rootfs", "layer {}: skipped {s:?}", d.digest);
                    }
                    layer::keep(store, d, TOC_INDEX, &toc.to_bytes());
                    (seek, toc)
                }
            };
            tocs.push(Arc::new(toc));
            opened.push((d.clone(), seek));
        }
        let (tree, notes) = MergedTree::build(&tocs).map_err(RootfsError::Merge)?;
        for n in notes.iter().take(20) {
            log::info!(target: "rootfs", "layer {}: {}: {:?}", n.layer, String::from_utf8_lossy(&n.path), n.problem);
        }
        Ok(PlatformRoot {
            layers: opened,
            tree,
            notes,
        })
    }

    pub fn tree(&self) -> &MergedTree {
        &self.tree
    }

    /// What the merge could not apply (kept in detail up to a bound; see `MergedTree`).
    pub fn notes(&self) -> &[MergeNote] {
        &self.notes
    }

    /// Copies a regular file's bytes to `out`, streaming from its layer; returns the count.
    pub fn copy_file(
        &self,
        store: &Store,
        node: NodeId,
        path: &str,
        out: &mut impl Write,
    ) -> Result<u64, RootfsError> {
        let view = self.tree.node(node);
        let Some((layer, entry)) = view.content else {
            return Ok(0);
        };
        let toc = &self.tree.layers()[layer];
        let entry = toc
            .entry(entry)
            .expect("the merge names entries of its own layers");
        let (descriptor, seek) = &self.layers[layer];
        let read_err = |source| RootfsError::Read {
            path: path.to_string(),
            source,
        };
        let file = store
            .open_blob(descriptor)
            .map_err(|e| read_err(io::Error::other(crate::error::chain(&e))))?;
        let mut reader =
            LayerReader::new(seek, &file).map_err(|e| read_err(io::Error::other(e.to_string())))?;
        let (start, size) = (entry.data_offset(), entry.size());
        let mut buf = vec![0u8; 256 << 10];
        let mut done = 0u64;
        while done < size {
            let want = buf.len().min((size - done) as usize);
            let n = reader
                .read_at(start + done, &mut buf[..want])
                .map_err(read_err)?;
            if n == 0 {
                return Err(read_err(io::ErrorKind::UnexpectedEof.into()));
            }
            out.write_all(&buf[..n]).map_err(RootfsError::Output)?;
            done += n as u64;
        }
        Ok(done)
    }
}
