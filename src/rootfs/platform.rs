//! One platform's root filesystem, ready to browse: for each layer its table of contents and
//! seek index (from the store's layer indexes, else built in one pass each and stored, never as
//! part of an import; a stored seek index is loaded on the layer's first read), the layers
//! merged, and a file's bytes read from the layer holding them.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use super::layer::{self, LayerError, LayerReader, SeekIndex, SharedDecoding};
use super::merge::{MergeError, MergeNote, MergedTree, NodeId};
use super::toc::{LayerToc, TocError, TocLimits};
use crate::digest::Digest;
use crate::oci::{ConfigRootfs, Descriptor};
use crate::store::{IndexFile, IndexKind, Store};

/// The stored table of contents of a layer (`LayerToc`'s byte form).
pub const TOC_INDEX: IndexKind = IndexKind::new("toc", 1);

/// A platform's layers, merged.
pub struct PlatformRoot {
    layers: Vec<Arc<OpenedLayer>>,
    tree: MergedTree,
    notes: Vec<MergeNote>,
}

impl fmt::Debug for PlatformRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformRoot")
            .field("layers", &self.layers.len())
            .field("nodes", &self.tree.len())
            .finish_non_exhaustive()
    }
}

/// One layer: its blob's descriptor and its table of contents, and what reading its bytes
/// takes, loaded on the first read (a tree is browsed far more often than its files are read,
/// and the seek indexes are most of what a platform's indexes weigh).
#[derive(Debug)]
pub struct OpenedLayer {
    pub descriptor: Descriptor,
    pub toc: Arc<LayerToc>,
    diff_id: Option<Digest>,
    reading: Mutex<Option<Arc<LayerReading>>>,
}

/// A layer's seek index and, for a single-frame zstd layer, its decompressed copy (read
/// instead of decoding from its start).
#[derive(Debug)]
struct LayerReading {
    seek: SeekIndex,
    copy: Option<Arc<IndexFile>>,
}

impl OpenedLayer {
    /// The seek index (from the store, else built and stored) and decompressed copy, once.
    fn reading(&self, store: &Store) -> Result<Arc<LayerReading>, LayerError> {
        let mut reading = self.reading.lock().expect("layer reading lock poisoned");
        if let Some(r) = &*reading {
            return Ok(r.clone());
        }
        let seek = layer::seek_index(store, &self.descriptor)?;
        let made = Arc::new(LayerReading {
            copy: layer::decompressed_copy(store, &self.descriptor, self.diff_id.as_ref(), &seek),
            seek,
        });
        *reading = Some(made.clone());
        Ok(made)
    }
}

/// One regular file's bytes, read at any offset through its own decoder (one per open file,
/// so that a sequential reader never restarts).
pub struct FileReader {
    reader: LayerReader,
    start: u64,
    size: u64,
}

impl fmt::Debug for FileReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileReader")
            .field("start", &self.start)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl FileReader {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Fills `buf` from the file's `offset`; short only at the end of the file.
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let want = buf.len().min((self.size - offset) as usize);
        let mut filled = 0;
        while filled < want {
            let n = self
                .reader
                .read_at(self.start + offset + filled as u64, &mut buf[filled..want])?;
            if n == 0 {
                // The table says the layer holds these bytes: a shorter layer is damaged.
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
        }
        Ok(filled)
    }
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
    /// Opens the root filesystem of a manifest whose children are `children` (the config,
    /// then the layers bottom first), building what the store's layer indexes lack.
    pub fn open(store: &Store, children: &[Descriptor]) -> Result<PlatformRoot, RootfsError> {
        Self::open_with_progress(store, children, &mut |_| {})
    }

    /// `open`, telling `progress` how many layers are ready after each one.
    pub fn open_with_progress(
        store: &Store,
        children: &[Descriptor],
        progress: &mut dyn FnMut(usize),
    ) -> Result<PlatformRoot, RootfsError> {
        let (config, layers) = match children {
            [config, layers @ ..] => (Some(config), layers),
            [] => (None, children),
        };
        // The config's diff_ids check decompressed copies; a config that cannot be read only
        // means none are made.
        let diff_ids = config
            .and_then(|c| store.read_document(c).ok())
            .and_then(|b| crate::oci::parse_document::<ConfigRootfs>(&b).ok())
            .map(|c| c.diff_ids())
            .unwrap_or_default();
        let mut opened = Vec::with_capacity(layers.len());
        for (i, d) in layers.iter().enumerate() {
            let diff_id = diff_ids.get(i).copied().flatten();
            opened.push(Arc::new(open_layer(store, d, diff_id.as_ref())?));
            progress(opened.len());
        }
        Self::merge(opened)
    }

    fn merge(layers: Vec<Arc<OpenedLayer>>) -> Result<PlatformRoot, RootfsError> {
        let tocs: Vec<Arc<LayerToc>> = layers.iter().map(|l| l.toc.clone()).collect();
        let (tree, notes) = MergedTree::build(&tocs).map_err(RootfsError::Merge)?;
        for n in notes.iter().take(20) {
            log::info!(target: "rootfs", "layer {}: {}: {:?}", n.layer, String::from_utf8_lossy(&n.path), n.problem);
        }
        Ok(PlatformRoot {
            layers,
            tree,
            notes,
        })
    }

    /// Layer `index` alone, as its tar records it: whiteouts and opaque markers hide nothing
    /// (there is nothing below) and are not shown; a hard link to a file of a lower layer has
    /// no target here and is left out (noted).
    pub fn layer_alone(&self, index: usize) -> Option<Result<PlatformRoot, RootfsError>> {
        let layer = self.layers.get(index)?.clone();
        Some(Self::merge(vec![layer]))
    }

    pub fn tree(&self) -> &MergedTree {
        &self.tree
    }

    /// The layers, bottom first.
    pub fn layers(&self) -> &[Arc<OpenedLayer>] {
        &self.layers
    }

    /// What the merge could not apply (kept in detail up to a bound; see `MergedTree`).
    pub fn notes(&self) -> &[MergeNote] {
        &self.notes
    }

    /// A reader of regular file `node`'s bytes (`path` names it in errors), reading through
    /// `cache` when given; `None` for a node that has no bytes.
    pub fn file_reader(
        &self,
        store: &Store,
        node: NodeId,
        path: &str,
        cache: Option<&Arc<SharedDecoding>>,
    ) -> Result<Option<FileReader>, RootfsError> {
        let view = self.tree.node(node);
        let Some((layer, entry)) = view.content else {
            return Ok(None);
        };
        let opened = &self.layers[layer];
        let entry = opened
            .toc
            .entry(entry)
            .expect("the merge names entries of its own layers");
        let read_err = |source| RootfsError::Read {
            path: path.to_string(),
            source,
        };
        let reading = opened.reading(store).map_err(RootfsError::Layer)?;
        let reader = match &reading.copy {
            Some(copy) => LayerReader::from_copy(copy.clone()),
            None => {
                let file = store
                    .open_blob(&opened.descriptor)
                    .map_err(|e| read_err(io::Error::other(crate::error::chain(&e))))?;
                let reader = LayerReader::new(&reading.seek, Arc::new(file))
                    .map_err(|e| read_err(io::Error::other(e.to_string())))?;
                match cache {
                    Some(cache) => reader.cached(cache.clone(), opened.descriptor.digest),
                    None => reader,
                }
            }
        };
        Ok(Some(FileReader {
            reader,
            start: entry.data_offset(),
            size: entry.size(),
        }))
    }

    /// Loads (or builds and stores) what reading every layer takes, which reads otherwise load
    /// on first use: `imagefs index` builds everything ahead.
    pub fn prepare_reading(&self, store: &Store) -> Result<(), RootfsError> {
        for layer in &self.layers {
            layer.reading(store).map_err(RootfsError::Layer)?;
        }
        Ok(())
    }

    /// Copies a regular file's bytes to `out`, streaming from its layer; returns the count.
    pub fn copy_file(
        &self,
        store: &Store,
        node: NodeId,
        path: &str,
        out: &mut impl Write,
    ) -> Result<u64, RootfsError> {
        let Some(mut reader) = self.file_reader(store, node, path, None)? else {
            return Ok(0);
        };
        let read_err = |source| RootfsError::Read {
            path: path.to_string(),
            source,
        };
        let mut buf = vec![0u8; 256 << 10];
        let mut done = 0u64;
        while done < reader.size() {
            let want = buf.len().min((reader.size() - done) as usize);
            let n = reader.read_at(done, &mut buf[..want]).map_err(read_err)?;
            out.write_all(&buf[..n]).map_err(RootfsError::Output)?;
            done += n as u64;
        }
        Ok(done)
    }
}

/// One layer's seek index and table of contents: from the store's layer indexes, else built
/// (one pass for both when the layer is gzip) and stored; and a single-frame zstd layer's
/// decompressed copy, checked against `diff_id`.
fn open_layer(
    store: &Store,
    d: &Descriptor,
    diff_id: Option<&Digest>,
) -> Result<OpenedLayer, RootfsError> {
    let toc_err = |source| RootfsError::Toc {
        layer: d.digest.to_string(),
        source,
    };
    let (seek, toc) = match layer::load_index(store, d, TOC_INDEX, LayerToc::from_bytes) {
        Some(toc) => (None, toc),
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
            (Some(seek), toc)
        }
    };
    // A seek index built with the table is kept; one in the store is loaded on first read.
    let reading = seek.map(|seek| {
        Arc::new(LayerReading {
            copy: layer::decompressed_copy(store, d, diff_id, &seek),
            seek,
        })
    });
    Ok(OpenedLayer {
        descriptor: d.clone(),
        toc: Arc::new(toc),
        diff_id: diff_id.copied(),
        reading: Mutex::new(reading),
    })
}
