//! A full disk under the CLI: imports onto a small tmpfs fail with ENOSPC and change nothing.

use std::fs;
use std::sync::Arc;

use super::common::{Tmpfs, needs};
use super::{
    BYSTANDER, Feed, Importer, Lab, Request, TARGET, dir_bytes, imagefs, ok, sample_bystander,
};

#[test]
fn cli_import_onto_a_full_disk_fails_with_enospc_and_changes_nothing() {
    needs!("root");
    let lab = Lab::new(0);
    let disk = Tmpfs::new("3m");
    let store = disk.path().join("store");
    sample_bystander(&store, "sample bystander on the small disk");
    let listed = |ctx: &str| ok(imagefs(&store).args(["ls", "--json"]), ctx);
    let before = listed("before");
    // The archive (about 5 MiB) does not fit in 3 MiB: a plain file fails while staging, a
    // gzip file and a pipe while spooling.
    let attempts = [
        ("plain file", Feed::File(lab.archive.clone())),
        ("gzip file", Feed::File(lab.archive_gz.clone())),
        (
            "pipe",
            Feed::Pipe(Arc::new(fs::read(&lab.archive).unwrap())),
        ),
    ];
    for (what, feed) in &attempts {
        let (status, err) = Importer::spawn(&store, Request::All, feed).finish();
        assert_eq!(status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains("No space left on device"),
            "{what}: the error must name the full disk: {err}"
        );
        assert_eq!(listed(what), before, "{what}: the image list changed");
        let fsck = ok(imagefs(&store).arg("fsck"), what);
        assert!(fsck.contains("no problems"), "{what}: {fsck}");
        let (bytes, temps) = dir_bytes(&store.join("ingest"));
        assert!(
            temps.is_empty(),
            "{what}: a failed import left {bytes} bytes of temp files: {temps:?}"
        );
    }
    // With room again, the same import succeeds.
    disk.resize("64m");
    ok(
        imagefs(&store).arg("import").arg(&lab.archive),
        "import with room",
    );
    let after: serde_json::Value = serde_json::from_str(&listed("after")).unwrap();
    let mut names: Vec<&str> = after
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, [TARGET, BYSTANDER]);
    let fsck = ok(imagefs(&store).arg("fsck"), "after");
    assert!(fsck.contains("no problems"), "{fsck}");
}
