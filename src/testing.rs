//! Helpers the unit tests of every layer share: a store in a temp dir, platform literals.

use crate::platform::Platform;
use crate::store::Store;

/// A new store in its own temp dir (removed when the `TempDir` drops).
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

pub(crate) fn platform(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}
