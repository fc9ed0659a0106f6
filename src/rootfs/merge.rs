//! The merged root filesystem of an image: layer tables applied bottom to top by the OCI
//! image-spec's layer.md rules, as containerd applies them (core/archive/tar.go `applyNaive`,
//! `createTarFile`, `mkparent`), computed in memory and never unpacked.
//!
//! - A layer's whiteouts (`.wh.<name>`) and opaque markers hide what the *lower* layers hold,
//!   wherever they stand in the layer (image-spec layer.md: "Whiteout files MUST only apply to
//!   resources in lower/parent layers"), so each layer's whiteouts are applied before its
//!   entries, and an entry of the same layer survives in either order.
//! - A directory over a directory takes the newer attributes and keeps its children; anything
//!   else replaces what was there (containerd `createTarFile`: `RemoveAll` unless both are dirs).
//!   The newer attributes are all of them, xattrs included: a lower directory's xattr the upper
//!   entry lacks is gone, as umoci unpacks it (containerd only ever adds xattrs, so there it
//!   would survive).
//! - Parents resolve through symlinks inside the root (containerd `fs.RootPath`: absolute
//!   targets start at the root, `..` stops at the root), so on a usr-merged base `bin/x` lands
//!   in `usr/bin`. Parents no entry names become implicit directories, 0755 and owned by root
//!   (containerd `mkparent`); their mtime is 0 here, where containerd leaves the time of
//!   extraction (`mkdir` without `chtimes`), which no two unpacks share.
//! - A hard link names the target's node (also one of a lower layer): one node, `nlink`
//!   counted from the names that reach it in the end. A link whose target is missing or a
//!   directory is skipped and noted.
//! - The root's own entry (`./`) is ignored, as containerd does ("resolved to root"): the root
//!   stays 0755, root-owned, mtime 0.
//!
//! Known differences from the tools, each deliberate: an entry that stands *before* a marker of
//! its own layer and reaches its place through a path that marker hides lands where the lower
//! layers put that path (markers first); umoci and containerd, applying the tar in order, go
//! through what the layer made of it. containerd removes a same-layer entry that stands before
//! a whiteout of its name or inside a directory an opaque marker clears (its walk spares only
//! the entries themselves); layer.md, umoci and we keep it. Layer writers put a directory's
//! markers right after the directory's own entry, before its children, so real layers seldom
//! meet this.
//!
//! The result is compact: a node is 24 bytes and refers to the layer entry holding its
//! attributes (and, for a regular file, its bytes); children are one sorted array per directory
//! in a shared vector, found by binary search.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::toc::{EntryKind, LayerToc, TocEntry, Xattrs};

/// A node of a [`MergedTree`]. The layout is breadth-first with each directory's children in
/// name order, so the same layers always give the same ids: the mount derives inode numbers
/// from them, stable across remounts (a change of this layout changes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(u32);

impl NodeId {
    /// The node's place in the layout (the root is 0).
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Symlinks followed while resolving one parent path (continuity `fs.RootPath` allows 255).
const MAX_SYMLINKS: u32 = 255;
/// Notes kept in detail; the rest are counted ([`MergedTree::notes_total`]).
const MAX_NOTES_KEPT: usize = 1000;
/// `layer` of an implicit directory (no entry names it).
const IMPLICIT: u16 = u16::MAX;
const NO_DIR: u32 = u32::MAX;

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    CharDevice,
    BlockDevice,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    /// The layer and entry holding the attributes (`IMPLICIT`: none).
    layer: u16,
    entry: u32,
    parent: u32,
    nlink: u32,
    children_start: u32,
    children_len: u32,
}

#[derive(Clone, Copy, Debug)]
struct Child {
    name_off: u32,
    name_len: u16,
    node: u32,
}

/// The merged tree of a stack of layers.
#[derive(Debug)]
pub struct MergedTree {
    layers: Vec<Arc<LayerToc>>,
    nodes: Vec<Node>,
    children: Vec<Child>,
    names: Vec<u8>,
    notes_total: u64,
}

/// What a reader needs of a node.
#[derive(Clone, Debug)]
pub struct NodeView<'t> {
    pub kind: NodeKind,
    /// Permission bits with setuid, setgid, sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Bytes of a regular file; 0 for the rest.
    pub size: u64,
    /// Seconds and nanoseconds.
    pub mtime: (i64, u32),
    /// Names reaching a non-directory; 2 + subdirectories for a directory.
    pub nlink: u32,
    /// Major and minor of a device node.
    pub device: (u32, u32),
    /// For a regular file: the layer (index into the layers given to `build`) and the entry of
    /// that layer's table whose data are the file's bytes.
    pub content: Option<(usize, usize)>,
    /// A symlink's target, verbatim; empty for the rest.
    pub link_target: &'t [u8],
    pub xattrs: Option<Xattrs<'t>>,
    /// The layer and entry the attributes come from; `None` for an implicit directory.
    pub source: Option<(usize, usize)>,
}

/// An entry the merge could not apply; the rest of the tree is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeNote {
    pub layer: usize,
    pub entry: usize,
    pub path: Vec<u8>,
    pub problem: MergeProblem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeProblem {
    /// A parent component is an existing non-directory (containerd `mkparent`: ENOTDIR).
    ParentNotDirectory,
    /// Resolving the parent followed more than 255 symlinks.
    TooManySymlinks,
    /// A hard link's target does not exist (yet).
    LinkTargetMissing,
    /// A hard link's target is a directory (link(2) refuses it).
    LinkTargetDirectory,
    /// Resolution work for this layer stack ran out ([`MergeError::TooMuchWork`] stops the rest).
    Budget,
}

impl fmt::Display for MergeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MergeProblem::ParentNotDirectory => "a parent is not a directory",
            MergeProblem::TooManySymlinks => "more than 255 symlinks in its parent path",
            MergeProblem::LinkTargetMissing => "hard link target does not exist",
            MergeProblem::LinkTargetDirectory => "hard link target is a directory",
            MergeProblem::Budget => "path resolution budget exhausted",
        })
    }
}

/// Why no tree was built.
#[derive(Debug, PartialEq, Eq)]
pub enum MergeError {
    /// More than 65,534 layers (a layer index is 16 bits; images have at most a few hundred).
    TooManyLayers { layers: usize },
    /// The tree would hold more nodes than `limit` (implicit directories included).
    TooManyNodes { limit: usize },
    /// Symlinks in parent paths made resolution cost more than `limit` steps: a hostile stack.
    TooMuchWork { limit: u64 },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::TooManyLayers { layers } => {
                write!(
                    f,
                    "{layers} layers are more than a merged tree holds (65,534)"
                )
            }
            MergeError::TooManyNodes { limit } => {
                write!(f, "the merged tree would hold more than {limit} nodes")
            }
            MergeError::TooMuchWork { limit } => write!(
                f,
                "resolving parent paths through symlinks took more than {limit} steps"
            ),
        }
    }
}

impl std::error::Error for MergeError {}

/// The tree while layers are applied: one map of (directory key, name) → node for the whole
/// tree. An opaque directory gets a fresh key, which hides every child it had in one step;
/// a removed directory's subtree is simply no longer reachable.
struct Builder<'a> {
    layers: &'a [Arc<LayerToc>],
    nodes: Vec<BuildNode>,
    /// Names borrow the layer tables (entry paths, symlink targets): no allocation per name.
    map: HashMap<(u32, &'a [u8]), u32>,
    next_dir_key: u32,
    notes: Vec<MergeNote>,
    notes_total: u64,
    steps_left: u64,
    steps_limit: u64,
    max_nodes: usize,
    /// Counts the changes that can change where a path resolves (a name replaced or removed,
    /// a directory emptied): adding a name never does.
    generation: u64,
    /// The last parent path resolved for an entry, at which generation, to which directory:
    /// entries of a tar come directory by directory, so most resolve like the one before.
    last_parent: Option<(&'a [u8], u64, u32)>,
}

#[derive(Clone, Copy)]
struct BuildNode {
    layer: u16,
    entry: u32,
    parent: u32,
    /// The key its children are filed under (`NO_DIR` for non-directories).
    dir_key: u32,
}

const ROOT: u32 = 0;

impl MergedTree {
    /// Applies `layers` bottom (index 0) to top. Entries that cannot be applied are noted (the
    /// first 1000; [`MergedTree::notes_total`] counts all) and left out.
    pub fn build(layers: &[Arc<LayerToc>]) -> Result<(MergedTree, Vec<MergeNote>), MergeError> {
        if layers.len() >= IMPLICIT as usize {
            return Err(MergeError::TooManyLayers {
                layers: layers.len(),
            });
        }
        let entries: usize = layers.iter().map(|l| l.len()).sum();
        // Every entry creates at most one node, plus implicit parents; real trees need a few
        // implicit ones per layer, a hostile one could ask for one per path component.
        let max_nodes = entries
            .saturating_mul(2)
            .saturating_add(1 << 16)
            .min(u32::MAX as usize - 1);
        // About 64 components per entry on average: real paths have ten or so, and a symlink in
        // a parent adds its target's few.
        let steps_limit = (entries as u64).saturating_mul(64).saturating_add(1 << 20);
        let mut b = Builder {
            layers,
            nodes: vec![BuildNode {
                layer: IMPLICIT,
                entry: 0,
                parent: ROOT,
                dir_key: 0,
            }],
            map: HashMap::new(),
            next_dir_key: 1,
            notes: Vec::new(),
            notes_total: 0,
            steps_left: steps_limit,
            steps_limit,
            max_nodes,
            generation: 0,
            last_parent: None,
        };
        for (l, toc) in layers.iter().enumerate() {
            let l = l as u16;
            for (i, e) in toc.entries().enumerate() {
                if matches!(e.kind(), EntryKind::Whiteout | EntryKind::Opaque) {
                    b.apply_whiteout(l, i as u32, e)?;
                }
            }
            for (i, e) in toc.entries().enumerate() {
                if !matches!(e.kind(), EntryKind::Whiteout | EntryKind::Opaque) {
                    b.apply_entry(l, i as u32, e)?;
                }
            }
        }
        Ok(b.finish())
    }

    pub fn root(&self) -> NodeId {
        NodeId(ROOT)
    }

    /// Nodes in the tree (hard-linked names count once).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never: the root is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The layer tables the tree refers to, bottom first.
    pub fn layers(&self) -> &[Arc<LayerToc>] {
        &self.layers
    }

    /// Entries noted as not applied, all of them (the list `build` returned keeps the first).
    pub fn notes_total(&self) -> u64 {
        self.notes_total
    }

    /// The node at layout place `index`, if the tree has one.
    pub fn node_at(&self, index: u32) -> Option<NodeId> {
        ((index as usize) < self.nodes.len()).then_some(NodeId(index))
    }

    /// The child `name` of directory `dir`, by binary search; `None` when absent or `dir` is no
    /// directory.
    pub fn lookup(&self, dir: NodeId, name: &[u8]) -> Option<NodeId> {
        let kids = self.kids(dir)?;
        kids.binary_search_by(|c| self.child_name(c).cmp(name))
            .ok()
            .map(|i| NodeId(kids[i].node))
    }

    /// A relative path looked up component by component, following no symlink.
    pub fn lookup_path(&self, path: &[u8]) -> Option<NodeId> {
        let mut node = self.root();
        for c in path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
        {
            node = self.lookup(node, c)?;
        }
        Some(node)
    }

    /// The children of `dir` (names sorted bytewise); empty for a non-directory.
    pub fn children(&self, dir: NodeId) -> impl ExactSizeIterator<Item = (&[u8], NodeId)> + '_ {
        self.kids(dir)
            .unwrap_or(&[])
            .iter()
            .map(|c| (self.child_name(c), NodeId(c.node)))
    }

    /// The children of `dir` from the `skip`th on (a listing resumed where it stopped).
    pub fn children_from(
        &self,
        dir: NodeId,
        skip: usize,
    ) -> impl ExactSizeIterator<Item = (&[u8], NodeId)> + '_ {
        let kids = self.kids(dir).unwrap_or(&[]);
        kids[skip.min(kids.len())..]
            .iter()
            .map(|c| (self.child_name(c), NodeId(c.node)))
    }

    /// The parent directory (the root's is the root).
    pub fn parent(&self, node: NodeId) -> NodeId {
        NodeId(self.nodes[node.0 as usize].parent)
    }

    /// The node's attributes and where its bytes are.
    pub fn node(&self, id: NodeId) -> NodeView<'_> {
        let node = &self.nodes[id.0 as usize];
        let Some(entry) = self.entry_of(node) else {
            return NodeView {
                kind: NodeKind::Directory,
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 0,
                mtime: (0, 0),
                nlink: node.nlink,
                device: (0, 0),
                content: None,
                link_target: &[],
                xattrs: None,
                source: None,
            };
        };
        let kind = match entry.kind() {
            EntryKind::Regular => NodeKind::Regular,
            EntryKind::Directory => NodeKind::Directory,
            EntryKind::Symlink => NodeKind::Symlink,
            EntryKind::Fifo => NodeKind::Fifo,
            EntryKind::CharDevice => NodeKind::CharDevice,
            EntryKind::BlockDevice => NodeKind::BlockDevice,
            // Nodes are made only from the kinds above (`Builder::apply_entry`).
            EntryKind::HardLink | EntryKind::Whiteout | EntryKind::Opaque => {
                unreachable!("a node from a {:?} entry", entry.kind())
            }
        };
        NodeView {
            kind,
            mode: entry.mode(),
            uid: entry.uid(),
            gid: entry.gid(),
            size: entry.size(),
            mtime: entry.mtime(),
            nlink: node.nlink,
            device: entry.device(),
            content: (kind == NodeKind::Regular)
                .then_some((node.layer as usize, node.entry as usize)),
            link_target: if kind == NodeKind::Symlink {
                entry.link()
            } else {
                &[]
            },
            xattrs: Some(entry.xattrs()),
            source: Some((node.layer as usize, node.entry as usize)),
        }
    }

    fn entry_of(&self, node: &Node) -> Option<TocEntry<'_>> {
        if node.layer == IMPLICIT {
            return None;
        }
        self.layers[node.layer as usize].entry(node.entry as usize)
    }

    fn kids(&self, dir: NodeId) -> Option<&[Child]> {
        let node = self.nodes.get(dir.0 as usize)?;
        let start = node.children_start as usize;
        Some(&self.children[start..start + node.children_len as usize])
    }

    fn child_name(&self, c: &Child) -> &[u8] {
        &self.names[c.name_off as usize..c.name_off as usize + c.name_len as usize]
    }
}

impl<'a> Builder<'a> {
    fn entry(&self, layer: u16, entry: u32) -> TocEntry<'a> {
        self.layers[layer as usize]
            .entry(entry as usize)
            .expect("build nodes name entries of their layers")
    }

    fn kind_of(&self, node: u32) -> EntryKind {
        let n = &self.nodes[node as usize];
        if n.dir_key != NO_DIR {
            return EntryKind::Directory;
        }
        self.entry(n.layer, n.entry).kind()
    }

    fn note(&mut self, layer: u16, entry: u32, problem: MergeProblem) {
        self.notes_total += 1;
        if self.notes.len() < MAX_NOTES_KEPT {
            let path = self.entry(layer, entry).path().to_vec();
            self.notes.push(MergeNote {
                layer: layer as usize,
                entry: entry as usize,
                path,
                problem,
            });
        }
    }

    fn get(&self, dir: u32, name: &'a [u8]) -> Option<u32> {
        let key = (self.nodes[dir as usize].dir_key, name);
        self.map.get(&key).copied()
    }

    fn put(&mut self, dir: u32, name: &'a [u8], node: u32) {
        let old = self
            .map
            .insert((self.nodes[dir as usize].dir_key, name), node);
        if old.is_some_and(|old| old != node) {
            self.generation += 1;
        }
    }

    fn remove(&mut self, dir: u32, name: &'a [u8]) {
        let key = (self.nodes[dir as usize].dir_key, name);
        if self.map.remove(&key).is_some() {
            self.generation += 1;
        }
    }

    fn new_node(
        &mut self,
        layer: u16,
        entry: u32,
        parent: u32,
        dir: bool,
    ) -> Result<u32, MergeError> {
        if self.nodes.len() >= self.max_nodes {
            return Err(MergeError::TooManyNodes {
                limit: self.max_nodes,
            });
        }
        let dir_key = if dir {
            self.next_dir_key += 1;
            self.next_dir_key - 1
        } else {
            NO_DIR
        };
        self.nodes.push(BuildNode {
            layer,
            entry,
            parent,
            dir_key,
        });
        Ok(self.nodes.len() as u32 - 1)
    }

    /// Resolves `components` as a directory path from the root, following symlinks as
    /// containerd's `fs.RootPath` does; missing directories are created (implicit) when
    /// `create`, else the result is `Ok(Err(LinkTargetMissing))`. `..` after a symlink is
    /// physical (the parent of where it leads), as the kernel and umoci's securejoin take it;
    /// continuity cleans a relative target lexically first, which differs only for targets
    /// like `s/../x` with `s` itself a symlink.
    fn resolve_dir(
        &mut self,
        components: impl DoubleEndedIterator<Item = &'a [u8]>,
        create: bool,
    ) -> Result<Result<u32, MergeProblem>, MergeError> {
        let mut pending: Vec<&'a [u8]> = components.rev().collect();
        let mut dir = ROOT;
        let mut links = 0;
        // Components past `dir` that do not exist (yet): a later `..` cancels one without it
        // ever being made (continuity `walkLink` treats a missing component as a plain name,
        // and `filepath.Join` cleans it away); the rest are made at the end (`mkparent`).
        let mut missing: Vec<&'a [u8]> = Vec::new();
        while let Some(c) = pending.pop() {
            if self.steps_left == 0 {
                return Err(MergeError::TooMuchWork {
                    limit: self.steps_limit,
                });
            }
            self.steps_left -= 1;
            match c {
                b"" | b"." => continue,
                b".." => {
                    if missing.pop().is_none() {
                        dir = self.nodes[dir as usize].parent;
                    }
                    continue;
                }
                _ => {}
            }
            let next = match missing.is_empty() {
                true => self.get(dir, c),
                false => None,
            };
            let Some(next) = next else {
                missing.push(c);
                continue;
            };
            match self.kind_of(next) {
                EntryKind::Directory => dir = next,
                EntryKind::Symlink => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Ok(Err(MergeProblem::TooManySymlinks));
                    }
                    let n = self.nodes[next as usize];
                    let target: &'a [u8] = self.entry(n.layer, n.entry).link();
                    if target.starts_with(b"/") {
                        dir = ROOT;
                    }
                    // Walked component by component like the rest: `..` after a symlink in
                    // the target goes to the parent of where that symlink leads (as the kernel
                    // and umoci's securejoin resolve it).
                    pending.extend(target.split(|&b| b == b'/').rev());
                }
                _ => return Ok(Err(MergeProblem::ParentNotDirectory)),
            }
        }
        if !missing.is_empty() && !create {
            return Ok(Err(MergeProblem::LinkTargetMissing));
        }
        for c in missing {
            let made = self.new_node(IMPLICIT, 0, dir, true)?;
            self.put(dir, c, made);
            dir = made;
        }
        Ok(Ok(dir))
    }

    fn apply_whiteout(
        &mut self,
        layer: u16,
        index: u32,
        e: TocEntry<'a>,
    ) -> Result<(), MergeError> {
        let path = e.path();
        if e.kind() == EntryKind::Opaque {
            // The marker's directory resolves like any parent (containerd resolves the marker's
            // parent path, creating it when missing), then loses its lower children.
            let dir = match self.resolve_dir(path.split(|&b| b == b'/'), true)? {
                Ok(dir) => dir,
                Err(problem) => {
                    self.note(layer, index, problem);
                    return Ok(());
                }
            };
            self.next_dir_key += 1;
            self.nodes[dir as usize].dir_key = self.next_dir_key - 1;
            self.generation += 1;
            return Ok(());
        }
        let (parent, name) = split_last(path);
        match self.resolve_dir(parent.split(|&b| b == b'/'), true)? {
            Ok(dir) => self.remove(dir, name),
            Err(problem) => self.note(layer, index, problem),
        }
        Ok(())
    }

    fn apply_entry(&mut self, layer: u16, index: u32, e: TocEntry<'a>) -> Result<(), MergeError> {
        let path = e.path();
        if path.is_empty() {
            // containerd: "file %q ignored: resolved to root".
            return Ok(());
        }
        let (parent, name) = split_last(path);
        let dir = match self.last_parent {
            Some((p, generation, dir)) if p == parent && generation == self.generation => dir,
            _ => match self.resolve_dir(parent.split(|&b| b == b'/'), true)? {
                Ok(dir) => {
                    self.last_parent = Some((parent, self.generation, dir));
                    dir
                }
                Err(problem) => {
                    self.note(layer, index, problem);
                    return Ok(());
                }
            },
        };
        let existing = self.get(dir, name);
        match e.kind() {
            EntryKind::Directory => {
                if let Some(old) = existing
                    && self.nodes[old as usize].dir_key != NO_DIR
                {
                    let node = &mut self.nodes[old as usize];
                    (node.layer, node.entry) = (layer, index);
                } else {
                    let made = self.new_node(layer, index, dir, true)?;
                    self.put(dir, name, made);
                }
            }
            EntryKind::HardLink => {
                // containerd `hardlinkRootPath`: the target's parent resolves in the root, its
                // last component does not (a link to a symlink links the symlink).
                let (tparent, tname) = split_last(e.link());
                let target = match self.resolve_dir(tparent.split(|&b| b == b'/'), false)? {
                    Ok(tdir) => self.get(tdir, tname),
                    Err(MergeProblem::LinkTargetMissing) => None,
                    Err(problem) => {
                        self.note(layer, index, problem);
                        return Ok(());
                    }
                };
                match target {
                    None => self.note(layer, index, MergeProblem::LinkTargetMissing),
                    Some(t) if self.nodes[t as usize].dir_key != NO_DIR => {
                        self.note(layer, index, MergeProblem::LinkTargetDirectory)
                    }
                    Some(t) => self.put(dir, name, t),
                }
            }
            EntryKind::Whiteout | EntryKind::Opaque => unreachable!("applied first"),
            _ => {
                let made = self.new_node(layer, index, dir, false)?;
                self.put(dir, name, made);
            }
        }
        Ok(())
    }

    /// Lays the reachable tree out: nodes in breadth-first order, each directory's children
    /// contiguous and sorted by name; unreachable nodes (removed, hidden) are dropped.
    fn finish(self) -> (MergedTree, Vec<MergeNote>) {
        let mut by_key: Vec<(u32, &[u8], u32)> = self
            .map
            .iter()
            .map(|(&(dir_key, name), &node)| (dir_key, name, node))
            .collect();
        by_key.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        // dir key → its run in `by_key`.
        let mut runs: Vec<(u32, u32)> = vec![(0, 0); self.next_dir_key as usize];
        let mut i = 0;
        while i < by_key.len() {
            let key = by_key[i].0;
            let start = i;
            while i < by_key.len() && by_key[i].0 == key {
                i += 1;
            }
            runs[key as usize] = (start as u32, (i - start) as u32);
        }

        let mut new_id = vec![u32::MAX; self.nodes.len()];
        let mut nodes: Vec<Node> = Vec::new();
        let mut children: Vec<Child> = Vec::new();
        let mut names: Vec<u8> = Vec::new();
        // The old id of each laid-out node, in layout order: the breadth-first queue.
        let mut order: Vec<u32> = vec![ROOT];
        new_id[ROOT as usize] = 0;
        nodes.push(self.final_node(ROOT, 0));
        let mut next = 0;
        while next < order.len() {
            let old = order[next];
            let b = self.nodes[old as usize];
            next += 1;
            if b.dir_key == NO_DIR {
                continue;
            }
            let (start, len) = runs[b.dir_key as usize];
            let me = new_id[old as usize];
            nodes[me as usize].children_start = children.len() as u32;
            nodes[me as usize].children_len = len;
            let mut subdirs = 0;
            for &(_, name, child) in &by_key[start as usize..(start + len) as usize] {
                if new_id[child as usize] == u32::MAX {
                    new_id[child as usize] = nodes.len() as u32;
                    nodes.push(self.final_node(child, me));
                    order.push(child);
                }
                let id = new_id[child as usize];
                if self.nodes[child as usize].dir_key == NO_DIR {
                    nodes[id as usize].nlink += 1;
                } else {
                    subdirs += 1;
                }
                children.push(Child {
                    name_off: names.len() as u32,
                    name_len: name.len() as u16,
                    node: id,
                });
                names.extend_from_slice(name);
            }
            nodes[me as usize].nlink = 2 + subdirs;
        }
        let tree = MergedTree {
            layers: self.layers.to_vec(),
            nodes,
            children,
            names,
            notes_total: self.notes_total,
        };
        (tree, self.notes)
    }

    fn final_node(&self, old: u32, parent: u32) -> Node {
        let b = &self.nodes[old as usize];
        Node {
            layer: b.layer,
            entry: b.entry,
            parent,
            nlink: 0,
            children_start: 0,
            children_len: 0,
        }
    }
}

fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

#[cfg(test)]
mod tests;
