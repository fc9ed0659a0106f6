//! Unit tests of reading open files: the offset arithmetic of `read_bytes` and of the plan
//! reader, which fails rather than return a short read.

use super::*;
use crate::fs::fixtures::{archive_bytes, plan_of, store_with_image};

fn read_plan(
    plan: &ArchivePlan,
    offset: u64,
    len: usize,
    buf: &mut Vec<u8>,
) -> Result<usize, FsError> {
    PlanReader.read_at(plan, offset, len, buf)
}

// --- read_bytes, reserve, the plan reader ---------------------------------------------------------

#[test]
fn read_bytes_clips_to_the_document_and_returns_the_count() {
    let doc = b"0123456789";
    let mut buf = Vec::new();
    assert_eq!(read_bytes(doc, 0, 4, &mut buf), 4);
    assert_eq!(&buf[..4], b"0123");
    assert_eq!(read_bytes(doc, 7, 100, &mut buf), 3);
    assert_eq!(&buf[..3], b"789");
    assert_eq!(read_bytes(doc, 9, 1, &mut buf), 1);
    assert_eq!(buf[0], b'9');
    for (offset, len) in [(10, 1), (11, 5), (u64::MAX, 1), (3, 0)] {
        assert_eq!(read_bytes(doc, offset, len, &mut buf), 0, "{offset} {len}");
    }
    // A length that would overflow an end offset is clipped, not wrapped.
    assert_eq!(read_bytes(doc, 2, usize::MAX, &mut buf), 8);
    assert_eq!(&buf[..8], b"23456789");
}

#[test]
fn reserve_grows_a_buffer_and_never_shrinks_it() {
    let mut buf = vec![7u8; 3];
    assert_eq!(reserve(&mut buf, 5).len(), 5);
    assert_eq!(buf.len(), 5);
    assert_eq!(reserve(&mut buf, 2).len(), 2);
    assert_eq!(buf.len(), 5, "a smaller read must keep the worker's buffer");
    assert_eq!(&buf[..3], &[7, 7, 7]);
}

#[test]
fn read_plan_serves_the_streamed_bytes_and_clips_at_the_end() {
    let (_dir, store, record) = store_with_image();
    let plan = plan_of(&store, &record);
    let bytes = archive_bytes(&store, &record);
    let size = plan.size();
    let mut buf = Vec::new();
    for (offset, len) in [(0, 512), (100, 2000), (size - 1, 1), (size - 5, 100)] {
        let n = read_plan(&plan, offset, len, &mut buf).unwrap();
        let end = (offset + len as u64).min(size) as usize;
        assert_eq!(n, end - offset as usize, "{offset} {len}");
        assert!(buf[..n] == bytes[offset as usize..end], "{offset} {len}");
    }
    assert_eq!(read_plan(&plan, size, 10, &mut buf).unwrap(), 0);
    assert_eq!(read_plan(&plan, size + 10, 10, &mut buf).unwrap(), 0);
}

#[test]
fn read_plan_fails_rather_than_return_a_short_read() {
    let (_dir, store, record) = store_with_image();
    let plan = plan_of(&store, &record);
    // A layer shrinks under the plan: the kernel would zero-fill a short reply.
    let layer = crate::image::ImageGraph::of_record(&store, &record)
        .unwrap()
        .manifests[0]
        .children[1]
        .digest;
    let path = store.blob_path(&layer);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, b"x").unwrap();
    let mut buf = Vec::new();
    let mut failed = false;
    let mut offset = 0;
    while offset < plan.size() {
        failed |= read_plan(&plan, offset, 4096, &mut buf).is_err();
        offset += 4096;
    }
    assert!(
        failed,
        "no read of the whole archive noticed the shrunk blob"
    );
}
