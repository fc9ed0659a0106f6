//! Unit tests of the gc lease that open archive files hold.

use std::time::Duration;

use super::*;
use crate::fs::fixtures::temp_store;

// --- the gc lease ---------------------------------------------------------------------------

fn gc_can_start(store: &Store) -> bool {
    store
        .lock_gc_waiting(Some(Duration::from_millis(20)), |_| {})
        .is_ok()
}

#[test]
fn gc_waits_until_the_last_open_archive_file_closes() {
    let (_dir, store) = temp_store();
    let table = Arc::new(LeaseTable::default());
    assert!(gc_can_start(&store));
    let first = table.acquire(&store).unwrap();
    let second = table.acquire(&store).unwrap();
    assert!(!gc_can_start(&store));
    drop(first);
    assert!(!gc_can_start(&store), "released with a file still open");
    drop(second);
    assert!(gc_can_start(&store));
    // And taken again by the next open.
    let _third = table.acquire(&store).unwrap();
    assert!(!gc_can_start(&store));
}
