//! Fixtures for the fs unit tests: a temp store holding one small two-platform image, its export
//! plan and its streamed archive bytes.

use crate::archive::{ArchivePlan, ExportRequest, write_archive};
use crate::reference::Reference;
use crate::sample::{LayerCompression, SampleSpec, write_sample};
use crate::store::{ImageRecord, Store};
pub(super) use crate::testing::{platform, temp_store};

/// A store holding one small two-platform image, and that image's record.
pub(super) fn store_with_image() -> (tempfile::TempDir, Store, ImageRecord) {
    let (dir, store) = temp_store();
    let name = Reference::parse_normalized("example.com/up:1").unwrap();
    let spec = SampleSpec {
        name: Some(name.clone()),
        platforms: vec![platform("linux/amd64"), platform("linux/arm64")],
        layers: 1,
        layer_size: 900,
        compression: LayerCompression::None,
        docker_media_types: false,
        attestations: false,
        shared_base: false,
        single_manifest: false,
        seed: 1,
    };
    let target = write_sample(&store, &spec).unwrap();
    (dir, store, ImageRecord::named(target, &name))
}

pub(super) fn plan_of(store: &Store, record: &ImageRecord) -> ArchivePlan {
    let request = ExportRequest {
        images: vec![record.clone()],
        platforms: Vec::new(),
    };
    ArchivePlan::build(store, &request).unwrap()
}

pub(super) fn archive_bytes(store: &Store, record: &ImageRecord) -> Vec<u8> {
    let mut out = Vec::new();
    write_archive(&plan_of(store, record), &mut out, &mut |_| {}).unwrap();
    out
}
