//! The store's image list: the entries of its `index.json`, each a top-level descriptor annotated
//! with the image's name (`io.containerd.image.name`, plus the tag as
//! `org.opencontainers.image.ref.name` so skopeo and umoci find it as `oci:STORE:TAG`).

use std::io::Read;
use std::path::Path;

use super::StoreError;
use crate::oci::{self, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, Index};
use crate::reference::Reference;

pub(super) const INDEX_TMP_PREFIX: &str = "index-";

/// Largest record (one `index.json` entry, as encoded) an import may add. A record holds a
/// descriptor and two name annotations, a few hundred bytes; the cap leaves room for generous
/// annotations while keeping one hostile archive (4 MiB of `<`, which Go-style escaping writes
/// as `\u003c`, six times larger) from filling the store's list.
pub const MAX_RECORD_SIZE: u64 = 64 << 10;
/// Largest `index.json` the store writes: well above 100,000 ordinary records (~250 bytes each).
/// A write that would grow the list past it fails; one that shrinks it (`rm`, a repair) does not.
pub const MAX_INDEX_SIZE: u64 = 48 << 20;
/// Largest `index.json` the store reads. Above anything it writes, and above what an older build
/// (which capped nothing) could write in one import onto a readable list (a 20 MiB archive
/// index re-encoded at most 6x larger, plus 20 MiB), so such a store opens and can be repaired.
pub const MAX_INDEX_READ: u64 = 256 << 20;

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

    /// The record's size as `index.json` holds it.
    pub fn encoded_size(&self) -> u64 {
        let mut out = Vec::new();
        self.target.write_json(&mut out);
        out.len() as u64
    }

    /// Fails if the record is over [`MAX_RECORD_SIZE`]; imports check every record they would
    /// write before publishing anything.
    pub fn check_size(&self) -> Result<(), StoreError> {
        let size = self.encoded_size();
        if size > MAX_RECORD_SIZE {
            return Err(StoreError::RecordTooLarge {
                image: self.label(),
                size,
                limit: MAX_RECORD_SIZE,
            });
        }
        Ok(())
    }

    /// The name, or the digest of an unnamed image.
    pub fn label(&self) -> String {
        self.name()
            .map_or_else(|| self.target.digest.to_string(), |n| n.to_string())
    }

    /// Shrinks an oversized record to what names and locates the image: media type, digest,
    /// size, the name annotations and, if that still fits, the platform. Returns what it dropped.
    fn shrink(&mut self) -> Vec<String> {
        let mut dropped = Vec::new();
        let t = &mut self.target;
        let extra: Vec<String> = t
            .annotations
            .keys()
            .filter(|k| *k != ANNOTATION_IMAGE_NAME && *k != ANNOTATION_REF_NAME)
            .cloned()
            .collect();
        for k in &extra {
            t.annotations.remove(k);
        }
        if !extra.is_empty() {
            dropped.push(format!("{} annotations", extra.len()));
        }
        if !t.urls.is_empty() {
            t.urls.clear();
            dropped.push("urls".into());
        }
        if t.data.take().is_some() {
            dropped.push("data".into());
        }
        if t.artifact_type.take().is_some() {
            dropped.push("artifactType".into());
        }
        if self.encoded_size() > MAX_RECORD_SIZE && self.target.platform.take().is_some() {
            dropped.push("platform".into());
        }
        dropped
    }
}

/// One record `fsck --repair` rewrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairedRecord {
    pub image: String,
    pub size_before: u64,
    pub size_after: u64,
    /// What was dropped: "3 annotations", "data", "platform", ...
    pub dropped: Vec<String>,
}

impl super::Store {
    /// Rewrites `index.json` with every record over [`MAX_RECORD_SIZE`] shrunk to its names and
    /// target (as an older build, which capped nothing, may have written them). Other records
    /// keep their bytes' meaning; the list is rewritten only if a record changed.
    pub fn repair_index(&self) -> Result<Vec<RepairedRecord>, StoreError> {
        self.update_images(|images| {
            let mut repaired = Vec::new();
            for record in images.iter_mut() {
                let size_before = record.encoded_size();
                if size_before <= MAX_RECORD_SIZE {
                    continue;
                }
                let dropped = record.shrink();
                repaired.push(RepairedRecord {
                    image: record.label(),
                    size_before,
                    size_after: record.encoded_size(),
                    dropped,
                });
            }
            Ok(repaired)
        })
    }
}

/// Reads the store's own list, with its own (larger) limit: checked on the file's length before
/// any byte is read, then on the bytes.
pub(super) fn read_index(path: &Path) -> Result<Vec<ImageRecord>, StoreError> {
    let corrupt = |source| StoreError::CorruptDocument {
        path: path.to_path_buf(),
        source,
    };
    let mut file =
        super::lock::open_no_follow(path).map_err(|e| StoreError::io("read", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| StoreError::io("read", path, e))?
        .len();
    if len > MAX_INDEX_READ {
        return Err(corrupt(oci::DocumentError::TooLarge {
            size: len,
            limit: MAX_INDEX_READ,
        }));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // One byte past the limit is enough to know the file grew over it since the stat.
    (&mut file)
        .take(MAX_INDEX_READ + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::io("read", path, e))?;
    oci::check_document_shape_within(&bytes, MAX_INDEX_READ).map_err(corrupt)?;
    let index: Index =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(oci::DocumentError::Invalid(e)))?;
    Ok(index
        .manifests
        .into_iter()
        .map(|target| ImageRecord { target })
        .collect())
}

/// Encodes `images` for writing; fails if the list would grow past [`MAX_INDEX_SIZE`] (a list
/// already that large may still shrink).
pub(super) fn encode_for_write(
    images: &[ImageRecord],
    before: &[ImageRecord],
) -> Result<Vec<u8>, StoreError> {
    let encoded = encode_index(images);
    let size = encoded.len() as u64;
    if size > MAX_INDEX_SIZE && size > encode_index(before).len() as u64 {
        return Err(StoreError::IndexTooLarge {
            image: None,
            size,
            limit: MAX_INDEX_SIZE,
        });
    }
    Ok(encoded)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn record(pad: usize) -> ImageRecord {
        let mut d = Descriptor::new(
            "application/vnd.oci.image.index.v1+json",
            Digest::of(b"i"),
            9,
        );
        d.annotations
            .insert("org.example.note".into(), "<".repeat(pad));
        d.urls.push("https://example.com/blob".into());
        d.data = Some("e30=".into());
        d.platform = Some(crate::platform::Platform {
            os: "linux".into(),
            architecture: "arm64".into(),
            ..Default::default()
        });
        let name = Reference::parse_normalized("example.com/app:1").unwrap();
        ImageRecord::named(d, &name)
    }

    #[test]
    fn record_size_counts_go_escapes_and_shrink_keeps_names_and_target() {
        // `<` is written as `\u003c`: six bytes each.
        let big = record(20_000);
        assert!(big.encoded_size() > 6 * 20_000);
        assert!(big.check_size().is_err());
        assert!(record(100).check_size().is_ok());

        let mut shrunk = big.clone();
        let dropped = shrunk.shrink();
        assert_eq!(dropped, ["1 annotations", "urls", "data"]);
        assert_eq!(shrunk.name(), big.name());
        assert_eq!(shrunk.target.digest, big.target.digest);
        assert_eq!(shrunk.target.size, big.target.size);
        assert_eq!(shrunk.target.media_type, big.target.media_type);
        assert_eq!(shrunk.target.platform, big.target.platform);
        assert!(shrunk.encoded_size() < 400);
    }

    #[test]
    fn a_list_over_the_cap_may_shrink_but_not_grow() {
        let huge = |n: usize| -> Vec<ImageRecord> {
            let mut d = Descriptor::new("x", Digest::of(b"h"), 1);
            d.annotations.insert("pad".into(), "a".repeat(n));
            vec![ImageRecord::unnamed(d)]
        };
        let over = huge(MAX_INDEX_SIZE as usize + 10);
        let bigger = huge(MAX_INDEX_SIZE as usize + 20);
        assert!(matches!(
            encode_for_write(&bigger, &over),
            Err(StoreError::IndexTooLarge { .. })
        ));
        assert!(encode_for_write(&over, &bigger).is_ok());
        assert!(encode_for_write(&[], &over).is_ok());
    }
}
