//! Import naming: what each name of an imported image becomes in the store's list. A name is
//! added, kept (what the archive brings is already part of the image it names: an import never
//! narrows an image), or moved (the previous target goes into the name history). One map of
//! names per import keeps an import of n names linear under the index lock.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::NameOutcome;
use super::import::Planned;
use crate::digest::Digest;
use crate::image::ImageGraph;
use crate::oci::Descriptor;
use crate::platform::Platform;
use crate::reference::Reference;
use crate::store::{HistoryChange, HistoryEntry, ImageRecord, Store, StoreError};

/// The image list during one import's update: names found by a map (a per-name scan of the
/// list would make adding n names quadratic, under the index lock that every writer waits
/// for), what each current target contains (walked once per target), and the history entries
/// of moved names, merged into the history once at the end for the same reason.
pub(super) struct NameTable<'s> {
    store: &'s Store,
    by_name: HashMap<String, usize>,
    /// How many records point to each target, named or not.
    pub(super) targets: HashMap<Digest, usize>,
    pub(super) contents: HashMap<Digest, (Contents, Vec<Platform>)>,
    /// Entries for the names this import moved, and the (name, new target) pairs they moved
    /// to, which leave the history (a name moved back to a previous target).
    pub(super) moved: Vec<HistoryEntry>,
    moved_to: HashSet<(String, Digest)>,
}

impl<'s> NameTable<'s> {
    /// Indexes the list. A name listed twice (a hand edit, another tool) keeps its first record:
    /// the others would be left pointing at the old target when the name moves.
    pub(super) fn new(store: &'s Store, images: &mut Vec<ImageRecord>) -> NameTable<'s> {
        let mut seen = HashSet::new();
        images.retain(|r| r.name().is_none_or(|n| seen.insert(n.to_string())));
        let mut by_name = HashMap::new();
        let mut targets = HashMap::new();
        for (i, r) in images.iter().enumerate() {
            *targets.entry(r.target.digest).or_insert(0) += 1;
            if let Some(n) = r.name() {
                by_name.insert(n.to_string(), i);
            }
        }
        NameTable {
            store,
            by_name,
            targets,
            contents: HashMap::new(),
            moved: Vec::new(),
            moved_to: HashSet::new(),
        }
    }

    /// Adds, keeps or moves one name; returns what it points to now and what happened.
    pub(super) fn record(
        &mut self,
        images: &mut Vec<ImageRecord>,
        p: &Planned,
        name: Option<&Reference>,
        now: u64,
    ) -> (Descriptor, NameOutcome) {
        let Some(name) = name else {
            // An image already listed (named or not) needs no unnamed entry of its own.
            let count = self.targets.entry(p.target.digest).or_insert(0);
            if *count > 0 {
                return (p.target.clone(), NameOutcome::Unchanged);
            }
            *count += 1;
            images.push(ImageRecord::unnamed(p.target.clone()));
            return (p.target.clone(), NameOutcome::Added);
        };
        let key = name.to_string();
        let Some(&i) = self.by_name.get(&key) else {
            self.by_name.insert(key, images.len());
            *self.targets.entry(p.target.digest).or_insert(0) += 1;
            images.push(ImageRecord::named(p.target.clone(), name));
            return (p.target.clone(), NameOutcome::Added);
        };
        let current = images[i].bare_target();
        if current.digest == p.target.digest {
            return (current, NameOutcome::Unchanged);
        }
        let store = self.store;
        let (contained, previous_platforms) = self
            .contents
            .entry(current.digest)
            .or_insert_with(|| contents_of(store, &current));
        // Part of the image: the archive's top-level document is listed by the current one (a
        // platform's archive of it), or a manifest generated for a docker-archive has the
        // config (the image ID) of one of its manifests. An index the current image does not list
        // brings at least itself (and its attestations): the name moves, reported and kept.
        let already_part = contained.documents.contains(&p.target.digest)
            || p.generated_config
                .is_some_and(|c| contained.configs.contains(&c));
        if already_part {
            return (
                current,
                NameOutcome::AlreadyPart {
                    brought: p.target.digest,
                },
            );
        }
        let previous_platforms = previous_platforms.clone();
        self.moved_to.insert((key.clone(), p.target.digest));
        self.moved.push(HistoryEntry {
            name: key,
            target: current.clone(),
            replaced_at: now,
            replaced_by: p.target.digest,
        });
        if let Some(count) = self.targets.get_mut(&current.digest) {
            *count = count.saturating_sub(1);
        }
        *self.targets.entry(p.target.digest).or_insert(0) += 1;
        images[i] = ImageRecord::named(p.target.clone(), name);
        (
            p.target.clone(),
            NameOutcome::Moved {
                previous: current.digest,
                previous_platforms,
            },
        )
    }

    /// Merges the moves into the history: a name moved back to a previous target takes that
    /// entry out; every move adds the target it left.
    pub(super) fn finish(self, history: &mut HistoryChange) -> Result<(), StoreError> {
        if self.moved.is_empty() {
            return Ok(());
        }
        let history = history.entries()?;
        history.retain(|e| !self.moved_to.contains(&(e.name.clone(), e.target.digest)));
        history.extend(self.moved);
        Ok(())
    }
}

/// What a stored image is made of, for deciding whether an archive brings anything new.
#[derive(Default)]
pub(super) struct Contents {
    /// Its target, nested indexes and platform manifests, whether the store holds them or not.
    documents: BTreeSet<Digest>,
    /// Each present manifest's config digest.
    configs: HashSet<Digest>,
}

/// The contents of an image and the platforms it holds completely. An unreadable image
/// contains only itself.
fn contents_of(store: &Store, target: &Descriptor) -> (Contents, Vec<Platform>) {
    let mut contents = Contents {
        documents: BTreeSet::from([target.digest]),
        configs: HashSet::new(),
    };
    match ImageGraph::load(store, &target.digest.to_string(), target) {
        Ok(graph) => {
            contents
                .documents
                .extend(graph.indexes.iter().map(|d| d.digest));
            for m in &graph.manifests {
                contents.documents.insert(m.descriptor.digest);
                if let Some(config) = m.children.first() {
                    contents.configs.insert(config.digest);
                }
            }
            let mut platforms = graph.available_platforms();
            platforms.sort();
            (contents, platforms)
        }
        Err(_) => (contents, Vec::new()),
    }
}
