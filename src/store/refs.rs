//! The store's image list: the entries of its `index.json`, each a top-level descriptor annotated
//! with the image's name (`io.containerd.image.name`, plus the tag as
//! `org.opencontainers.image.ref.name` so skopeo and umoci find it as `oci:STORE:TAG`).

use std::fs;
use std::path::Path;

use super::StoreError;
use crate::oci::{self, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Index};
use crate::reference::Reference;

pub(super) const INDEX_TMP_PREFIX: &str = "index-";

/// One image in the store: its original top-level descriptor, and its name if it has one.
/// Images without a name are known by digest only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRecord {
    pub target: Descriptor,
}

impl ImageRecord {
    /// A named image: the descriptor gets the two name annotations.
    pub fn named(mut target: Descriptor, name: &Reference) -> ImageRecord {
        target
            .annotations
            .insert(ANNOTATION_IMAGE_NAME.to_string(), name.to_string());
        match name.tag() {
            Some(tag) => target
                .annotations
                .insert(ANNOTATION_REF_NAME.to_string(), tag.into()),
            None => target
                .annotations
                .insert(ANNOTATION_REF_NAME.to_string(), name.to_string()),
        };
        ImageRecord { target }
    }

    /// An image known only by its digest.
    pub fn unnamed(mut target: Descriptor) -> ImageRecord {
        target.annotations.remove(ANNOTATION_IMAGE_NAME);
        target.annotations.remove(ANNOTATION_REF_NAME);
        ImageRecord { target }
    }

    /// The image's full normalised name, if it has one that parses.
    pub fn name(&self) -> Option<Reference> {
        let name = self.target.annotations.get(ANNOTATION_IMAGE_NAME)?;
        Reference::parse_normalized(name).ok()
    }

    /// The target descriptor without the store's own name annotations.
    pub fn bare_target(&self) -> Descriptor {
        ImageRecord::unnamed(self.target.clone()).target
    }
}

pub(super) fn read_index(path: &Path) -> Result<Vec<ImageRecord>, StoreError> {
    let bytes = fs::read(path).map_err(|e| StoreError::io("read", path, e))?;
    let index: Index =
        oci::parse_document(&bytes).map_err(|source| StoreError::CorruptDocument {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(index
        .manifests
        .into_iter()
        .map(|target| ImageRecord { target })
        .collect())
}

pub(super) fn encode_index(images: &[ImageRecord]) -> Vec<u8> {
    let descriptors: Vec<Descriptor> = images.iter().map(|r| r.target.clone()).collect();
    let mut out = Vec::new();
    oci::write_index_json(&mut out, &descriptors);
    out
}

/// Named images first, by name; then digest-only images, by digest. A stable order keeps
/// `index.json` diffable and `ls` predictable.
pub(super) fn sort(images: &mut [ImageRecord]) {
    images.sort_by_cached_key(|r| {
        (
            r.name().map(|n| n.to_string()).is_none(),
            r.name().map(|n| n.to_string()),
            r.target.digest,
        )
    });
}
