//! The live view's decisions: a change another process makes to the store wakes the store
//! watch, and `refresh` names exactly the kernel entries it made stale (a removed name, a name
//! that now leads elsewhere, a directory left empty) and the directories whose listing changed.

use std::sync::mpsc;
use std::time::Duration;

use imagefs::fs::{ImageFs, Invalidation, StoreWatch};

use super::{ATTESTED, Mount, ROOT_INO, SHALLOW, THREE, ino};
use crate::common::{self, small_spec};

/// Runs `change` and waits (at most 10 s) for the watch to wake; fails if it does not.
fn woken_by(watch: StoreWatch, change: impl FnOnce()) -> StoreWatch {
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let r = watch.wait();
        tx.send(()).expect("send");
        r.map(|()| watch)
    });
    change();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the store watch did not wake for a change of index.json");
    waiter.join().expect("waiter").expect("wait")
}

fn rm(m: &Mount, name: &str) {
    m.store()
        .update_images(|images| {
            images.retain(|r| r.name().is_none_or(|n| n.to_string() != name));
            Ok(())
        })
        .expect("rm");
}

fn entry(fs: &ImageFs, parent: &str, name: &str) -> Invalidation {
    Invalidation::Entry {
        parent: ino(fs, parent),
        name: name.to_string(),
    }
}

#[test]
fn a_removed_name_and_its_emptied_directories_are_stale_entries() {
    let m = Mount::start();
    // The kernel has looked these up: their inode numbers are what it caches.
    let images = ino(&m.fs, "images");
    let shallow_parent = ino(&m.fs, "images/example.com");
    let watch = m.fs.watch_store().expect("watch");
    assert_eq!(m.fs.refresh(&watch), [], "nothing changed yet");

    let watch = woken_by(watch, || rm(&m, THREE));
    let stale = m.fs.refresh(&watch);
    // three:1 goes, and with it images/example.com/fs (attested:1 is still there).
    assert!(
        stale.contains(&entry(&m.fs, "images/example.com/fs", "three:1")),
        "{stale:?}"
    );
    assert!(
        stale.contains(&Invalidation::Inode(ino(&m.fs, "images/example.com/fs"))),
        "{stale:?}"
    );
    assert!(
        !stale
            .iter()
            .any(|s| matches!(s, Invalidation::Entry { name, .. } if name == "fs")),
        "{stale:?}"
    );
    // Reported once: the same change is not stale again.
    assert_eq!(m.fs.refresh(&watch), []);

    // Removing the last image under a directory makes the directory's own entry stale.
    let watch = woken_by(watch, || {
        rm(&m, ATTESTED);
        rm(&m, SHALLOW);
    });
    let stale = m.fs.refresh(&watch);
    for gone in [
        Invalidation::Entry {
            parent: shallow_parent,
            name: "fs".into(),
        },
        Invalidation::Entry {
            parent: shallow_parent,
            name: "shallow:2".into(),
        },
        Invalidation::Inode(images),
    ] {
        assert!(stale.contains(&gone), "{gone:?} not in {stale:?}");
    }
}

#[test]
fn a_name_moved_to_another_image_is_a_stale_entry_and_an_added_one_is_not() {
    let m = Mount::start();
    let watch = m.fs.watch_store().expect("watch");
    let prefix = "images/example.com/fs";
    let before = ino(&m.fs, &format!("{prefix}/three:1"));
    let watch = woken_by(watch, || {
        // Another build under the same name, and a new name.
        common::add(
            m.store(),
            &imagefs::sample::SampleSpec {
                seed: 42,
                ..small_spec(THREE, &["linux/amd64"])
            },
        );
        common::add(
            m.store(),
            &small_spec("example.com/fs/new:1", &["linux/amd64"]),
        );
    });
    let stale = m.fs.refresh(&watch);
    assert!(
        stale.contains(&entry(&m.fs, prefix, "three:1")),
        "{stale:?}"
    );
    assert_ne!(ino(&m.fs, &format!("{prefix}/three:1")), before);
    // A new name was never cached: only its directory's listing changed.
    assert!(
        !stale
            .iter()
            .any(|s| matches!(s, Invalidation::Entry { name, .. } if name == "new:1")),
        "{stale:?}"
    );
    assert!(
        stale.contains(&Invalidation::Inode(ino(&m.fs, prefix))),
        "{stale:?}"
    );
}

/// A change of the image list moves the time of every directory above the images (and of the
/// import directories without uploads), and `refresh` makes their cached attributes stale, so
/// a `stat` right after a CLI import or `rm` sees the new time.
#[test]
fn a_changed_image_list_makes_the_directory_times_stale_and_moves_them() {
    let m = Mount::start();
    let dirs = [
        "",
        "images",
        "images/example.com",
        "images/example.com/fs",
        "import",
        "import/.status",
        "import/linux-arm64",
        "import/linux-arm64/.status",
    ];
    let before: Vec<_> = dirs.iter().map(|d| super::lookup(&m.fs, d).mtime).collect();
    let watch = m.fs.watch_store().expect("watch");
    // A later mtime than the fixture's last write, whatever the filesystem's granularity.
    std::thread::sleep(Duration::from_millis(20));
    let watch = woken_by(watch, || rm(&m, SHALLOW));
    let stale = m.fs.refresh(&watch);
    let changed = std::fs::metadata(m.store().root().join("index.json"))
        .and_then(|md| md.modified())
        .expect("index.json mtime");
    for (dir, before) in dirs.iter().zip(before) {
        let ino = if dir.is_empty() {
            ROOT_INO
        } else {
            ino(&m.fs, dir)
        };
        assert!(
            stale.contains(&Invalidation::Inode(ino)),
            "{dir}/ not stale: {stale:?}"
        );
        let now = m.fs.getattr(ino).expect("getattr").mtime;
        assert_eq!(now, changed, "{dir}/");
        assert!(now > before, "{dir}/ kept its time");
    }
    // Nothing changed since: nothing is stale.
    assert_eq!(m.fs.refresh(&watch), []);
}
