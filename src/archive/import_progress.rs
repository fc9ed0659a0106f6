//! What an import reports as it goes: how much of the input it has read, then how many bytes of
//! the selected content it has verified and stored, so a progress display can show real work
//! rather than how fast the input was consumed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Told, from the importing thread, how far an import has got. Every figure is cumulative and
/// never goes down; the phases come in order: `read` (scanning the input), `planned` once, then
/// `verified`, then `stored`.
///
/// What takes the time differs with the input. From a pipe or a compressed file, reading is the
/// work: each file is decompressed, hashed and spooled into the store as it is read, and
/// verifying then compares digests. From an uncompressed file, reading passes over content by
/// seeking, and verifying copies and hashes each selected blob. Storing makes each blob durable
/// (fsync) and visible, so `stored` reaches `planned`'s total only when every blob is in place.
pub trait ImportProgress {
    /// Bytes of the input consumed so far, as given: compressed bytes for a compressed input,
    /// bytes seeked past for an uncompressed file.
    fn read(&self, _consumed: u64) {}
    /// The selected blobs are known: `bytes` of content to verify and store (blobs the store
    /// already holds included; they count as verified and stored at once).
    fn planned(&self, _bytes: u64) {}
    /// Bytes of selected content hashed into the store's ingest directory; each file is compared
    /// with its digest and size as soon as it is complete, and a mismatch ends the import.
    fn verified(&self, _done: u64) {}
    /// Bytes of selected content published in the store.
    fn stored(&self, _done: u64) {}
}

/// Reports nothing.
impl ImportProgress for () {}

/// A counter of input bytes consumed (the mount's `bytes_processed` status).
impl ImportProgress for Arc<AtomicU64> {
    fn read(&self, consumed: u64) {
        self.store(consumed, Ordering::Relaxed);
    }
}

/// The running totals of verified and stored bytes, each file counted once however often the
/// plan names it (a layer shared by platforms).
#[derive(Debug, Default)]
pub(super) struct Tally {
    verified: u64,
    stored: u64,
    /// Verified bytes of blobs the store already held: stored before this import began.
    held: u64,
}

impl Tally {
    /// `n` more bytes verified; `held` when the store already has them.
    pub(super) fn verify(&mut self, n: u64, held: bool, progress: &dyn ImportProgress) {
        self.verified += n;
        if held {
            self.held += n;
        }
        progress.verified(self.verified);
    }

    /// Storing begins: what the store already held counts as stored.
    pub(super) fn begin_storing(&mut self, progress: &dyn ImportProgress) {
        self.stored += std::mem::take(&mut self.held);
        progress.stored(self.stored);
    }

    /// `n` more bytes stored.
    pub(super) fn store(&mut self, n: u64, progress: &dyn ImportProgress) {
        self.stored += n;
        progress.stored(self.stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Log(RefCell<Vec<(&'static str, u64)>>);

    impl ImportProgress for Log {
        fn verified(&self, done: u64) {
            self.0.borrow_mut().push(("verified", done));
        }
        fn stored(&self, done: u64) {
            self.0.borrow_mut().push(("stored", done));
        }
    }

    #[test]
    fn tally_is_cumulative_and_counts_held_blobs_as_stored_when_storing_begins() {
        let log = Log::default();
        let mut tally = Tally::default();
        tally.verify(10, false, &log);
        tally.verify(5, true, &log);
        tally.begin_storing(&log);
        tally.store(10, &log);
        assert_eq!(
            log.0.into_inner(),
            [
                ("verified", 10),
                ("verified", 15),
                ("stored", 5),
                ("stored", 15)
            ]
        );
    }

    #[test]
    fn a_counter_records_input_consumed_only() {
        let counter = Arc::new(AtomicU64::new(0));
        counter.read(42);
        counter.planned(100);
        counter.verified(7);
        counter.stored(7);
        assert_eq!(counter.load(Ordering::Relaxed), 42);
    }
}
