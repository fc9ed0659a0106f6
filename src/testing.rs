//! Helpers the unit tests of every layer share: a store in a temp dir, platform and name
//! literals, and the small sample image most tests start from.

use crate::platform::Platform;
use crate::reference::Reference;
use crate::sample::{LayerCompression, SampleSpec};
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

/// A name literal, normalised and tagged as stored (`a` is `docker.io/library/a:latest`).
pub(crate) fn reference(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap().with_default_tag()
}

/// A small uncompressed sample: two layers of 600 bytes per platform (the first shared),
/// attestations on. Tests change what they care about with `..small_spec(…)`.
pub(crate) fn small_spec(name: Option<&str>, platforms: &[&str], seed: u64) -> SampleSpec {
    SampleSpec {
        name: name.map(reference),
        platforms: platforms.iter().map(|p| platform(p)).collect(),
        layers: 2,
        layer_size: 600,
        compression: LayerCompression::None,
        docker_media_types: false,
        attestations: true,
        shared_base: true,
        single_manifest: false,
        seed,
    }
}
