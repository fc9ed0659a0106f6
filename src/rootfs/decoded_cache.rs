//! Decoded layer bytes kept for reuse: fixed-size chunks of a layer's decompressed stream, keyed
//! by layer digest and chunk number, shared by every reader of a mount, least recently used
//! evicted first, within a byte budget. Without it, each open of a small file in a compressed
//! layer inflates from the checkpoint before it (up to a span, 4 MiB); `tar` of a tree of small
//! files would inflate each span once per file instead of once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::digest::Digest;

/// Bytes per chunk: a multiple of the kernel's largest read (1 MiB would waste memory on small
/// files; 256 KiB keeps a small file's chunk small while a sequential read takes few chunks).
pub const CHUNK: u64 = 256 << 10;

/// The default budget: two spans (4 MiB each) for each of four concurrent readers walking
/// through layers, well under the mount's memory target (BENCHMARKS.md "rootfs": 8 readers).
pub const DEFAULT_BUDGET: usize = 32 << 20;

/// See the module docs. All methods take `&self`; one lock guards the maps (a lookup is a hash
/// probe and a tree update, far cheaper than the inflate it saves).
#[derive(Debug)]
pub struct DecodedCache {
    budget: usize,
    state: Mutex<State>,
}

type ChunkKey = (Digest, u64);

#[derive(Debug, Default)]
struct State {
    /// (layer, chunk number) -> (bytes, use tick).
    chunks: HashMap<ChunkKey, (Arc<[u8]>, u64)>,
    /// Use tick -> key: the first entry is the least recently used.
    by_use: BTreeMap<u64, ChunkKey>,
    tick: u64,
    bytes: usize,
    hits: u64,
    misses: u64,
}

impl DecodedCache {
    pub fn new(budget: usize) -> DecodedCache {
        DecodedCache {
            budget,
            state: Mutex::new(State::default()),
        }
    }

    /// Chunk `chunk` of layer `layer`, if kept (and marked as just used).
    pub fn get(&self, layer: &Digest, chunk: u64) -> Option<Arc<[u8]>> {
        let mut s = self.state.lock().expect("decoded cache lock poisoned");
        s.tick += 1;
        let tick = s.tick;
        let Some((bytes, used)) = s.chunks.get_mut(&(*layer, chunk)) else {
            s.misses += 1;
            return None;
        };
        let (bytes, old) = (bytes.clone(), std::mem::replace(used, tick));
        s.by_use.remove(&old);
        s.by_use.insert(tick, (*layer, chunk));
        s.hits += 1;
        Some(bytes)
    }

    /// Whether the chunk is kept (not marked as used: a reader skipping over it only needs to
    /// know that decoding it again is not needed).
    pub fn contains(&self, layer: &Digest, chunk: u64) -> bool {
        let s = self.state.lock().expect("decoded cache lock poisoned");
        s.chunks.contains_key(&(*layer, chunk))
    }

    /// Keeps a decoded chunk, evicting the least recently used ones past the budget. A chunk
    /// larger than the whole budget is not kept.
    pub fn insert(&self, layer: &Digest, chunk: u64, bytes: Arc<[u8]>) {
        if bytes.len() > self.budget {
            return;
        }
        let mut s = self.state.lock().expect("decoded cache lock poisoned");
        s.tick += 1;
        let tick = s.tick;
        let len = bytes.len();
        if let Some((old, used)) = s.chunks.insert((*layer, chunk), (bytes, tick)) {
            s.bytes -= old.len();
            s.by_use.remove(&used);
        }
        s.by_use.insert(tick, (*layer, chunk));
        s.bytes += len;
        while s.bytes > self.budget {
            let Some((_, key)) = s.by_use.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = s.chunks.remove(&key) {
                s.bytes -= evicted.len();
            }
        }
    }

    /// Bytes kept now.
    pub fn bytes(&self) -> usize {
        self.state
            .lock()
            .expect("decoded cache lock poisoned")
            .bytes
    }

    /// Lookups that found their chunk, and those that did not.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        let s = self.state.lock().expect("decoded cache lock poisoned");
        (s.hits, s.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(byte: u8, len: usize) -> Arc<[u8]> {
        vec![byte; len].into()
    }

    #[test]
    fn evicts_the_least_recently_used_past_the_budget() {
        let cache = DecodedCache::new(300);
        let layer = Digest::of(b"layer");
        cache.insert(&layer, 0, chunk(0, 100));
        cache.insert(&layer, 1, chunk(1, 100));
        cache.insert(&layer, 2, chunk(2, 100));
        // Chunk 0 used again: chunk 1 is now the oldest.
        assert_eq!(cache.get(&layer, 0).unwrap()[0], 0);
        cache.insert(&layer, 3, chunk(3, 100));
        assert!(cache.contains(&layer, 0));
        assert!(!cache.contains(&layer, 1));
        assert!(cache.contains(&layer, 2) && cache.contains(&layer, 3));
        assert_eq!(cache.bytes(), 300);
        assert_eq!(cache.hits_and_misses(), (1, 0));
        assert!(cache.get(&layer, 1).is_none());
        assert_eq!(cache.hits_and_misses(), (1, 1));
    }

    #[test]
    fn layers_are_kept_apart_and_oversized_chunks_are_not_kept() {
        let cache = DecodedCache::new(150);
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        cache.insert(&a, 0, chunk(1, 50));
        cache.insert(&b, 0, chunk(2, 50));
        assert_eq!(cache.get(&a, 0).unwrap()[0], 1);
        assert_eq!(cache.get(&b, 0).unwrap()[0], 2);
        cache.insert(&a, 1, chunk(3, 151));
        assert!(!cache.contains(&a, 1));
        // Replacing a chunk counts its bytes once.
        cache.insert(&a, 0, chunk(4, 50));
        assert_eq!(cache.bytes(), 100);
    }
}
