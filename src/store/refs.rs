//! The store's image list: the entries of its `index.json`, each a top-level descriptor annotated
//! with the image's full name twice: `io.containerd.image.name` (what imagefs reads) and
//! `org.opencontainers.image.ref.name` (as podman writes it), so that skopeo and umoci find it
//! as `oci:STORE:docker.io/library/alpine:3.20`, one image per name. Earlier builds wrote the tag
//! alone there (`3.20`), which several images can share, and containers/image then takes the
//! first match; every rewrite of the list gives such records their full name, and `fsck` counts
//! the ones left.
//!
//! containers/image (`oci/internal/oci_util.go` `ValidateImageName`) and umoci
//! (`casext.IsValidReferenceName`) take as `oci:DIR:REF` only what the OCI `ref.name` grammar
//! allows: `component ("/" component)*`, each alphanumeric runs joined by one of `-._:@+` or by
//! `--`. A full name fits it unless it has what Docker's grammar allows and that one does not:
//! `__` or three `-` in a row in the name, an IPv6 registry (`[::1]:5000`), or a tag that starts
//! with `_`, ends with `_`, `.` or `-`, or has two of those in a row other than `--` (`x:1.-a`).
//! Such a name is written all the same: it is the image's own, and names no other image.

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
    /// A named image: the descriptor gets the two name annotations, both the full name
    /// (`docker.io/library/alpine:3.20`, `example.com/app:1@sha256:…`).
    pub fn named(mut target: Descriptor, name: &Reference) -> ImageRecord {
        target
            .annotations
            .insert(ANNOTATION_IMAGE_NAME.to_string(), name.to_string());
        target
            .annotations
            .insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
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

    /// A named record whose `org.opencontainers.image.ref.name` is not its full name (the tag
    /// alone, as earlier builds wrote it): what it holds there, `None` if nothing. Records
    /// without a name that parses are never outdated: there is nothing to write.
    pub fn outdated_ref_name(&self) -> Option<Option<&str>> {
        let name = self.name()?.to_string();
        let found = self.target.annotations.get(ANNOTATION_REF_NAME);
        match found {
            Some(r) if *r == name => None,
            _ => Some(found.map(String::as_str)),
        }
    }

    /// Gives a named record its full name as `org.opencontainers.image.ref.name`; returns
    /// whether that changed it. `io.containerd.image.name` is left as it is.
    fn upgrade_ref_name(&mut self) -> bool {
        if self.outdated_ref_name().is_none() {
            return false;
        }
        let name = self
            .name()
            .expect("an outdated record is named")
            .to_string();
        self.target
            .annotations
            .insert(ANNOTATION_REF_NAME.to_string(), name);
        true
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

/// What `fsck --repair` changed in `index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexRepair {
    /// Records over [`MAX_RECORD_SIZE`], shrunk.
    pub shrunk: Vec<RepairedRecord>,
    /// The names of records given their full name as `org.opencontainers.image.ref.name`.
    pub full_ref_names: Vec<String>,
}

impl super::Store {
    /// Rewrites `index.json` with every record over [`MAX_RECORD_SIZE`] shrunk to its names and
    /// target (as an older build, which capped nothing, may have written them), and every named
    /// record's `org.opencontainers.image.ref.name` its full name (earlier builds wrote the tag
    /// alone). Other records keep their bytes' meaning; the list is rewritten only if a record
    /// changed.
    pub fn repair_index(&self) -> Result<IndexRepair, StoreError> {
        self.update_images(|images| {
            let mut repair = IndexRepair::default();
            for record in images.iter_mut() {
                let size_before = record.encoded_size();
                if size_before <= MAX_RECORD_SIZE {
                    continue;
                }
                let dropped = record.shrink();
                repair.shrunk.push(RepairedRecord {
                    image: record.label(),
                    size_before,
                    size_after: record.encoded_size(),
                    dropped,
                });
            }
            repair.full_ref_names = upgrade_ref_names(images);
            Ok(repair)
        })
    }
}

/// Gives every named record its full name as `org.opencontainers.image.ref.name` (see the module
/// comment); returns the names of those it changed. Names themselves are never touched.
pub(super) fn upgrade_ref_names(images: &mut [ImageRecord]) -> Vec<String> {
    images
        .iter_mut()
        .filter_map(|r| r.upgrade_ref_name().then(|| r.label()))
        .collect()
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
    use crate::oci::INDEX_FILE;
    use crate::testing::temp_store;

    fn target(seed: &[u8]) -> Descriptor {
        Descriptor::new(
            "application/vnd.oci.image.index.v1+json",
            Digest::of(seed),
            9,
        )
    }

    fn annotation<'a>(r: &'a ImageRecord, key: &str) -> Option<&'a str> {
        r.target.annotations.get(key).map(String::as_str)
    }

    /// A record as builds before full `ref.name`s wrote it: the tag alone.
    fn old_form(seed: &[u8], name: &str) -> ImageRecord {
        let mut r = ImageRecord::named(target(seed), &Reference::parse_normalized(name).unwrap());
        let tag = r.name().unwrap().tag().unwrap().to_string();
        r.target
            .annotations
            .insert(ANNOTATION_REF_NAME.to_string(), tag);
        r
    }

    #[test]
    fn a_named_record_carries_its_full_name_in_both_annotations() {
        let digest = Digest::of(b"i");
        let with_digest = format!("example.com/app:1@{digest}");
        for (name, full) in [
            ("alpine:3.20", "docker.io/library/alpine:3.20"),
            ("localhost:5000/x/y:1", "localhost:5000/x/y:1"),
            ("quay.io/a/b:v1.2", "quay.io/a/b:v1.2"),
            (&with_digest, &with_digest),
        ] {
            let r = ImageRecord::named(target(b"i"), &Reference::parse_normalized(name).unwrap());
            assert_eq!(annotation(&r, ANNOTATION_IMAGE_NAME), Some(full), "{name}");
            assert_eq!(annotation(&r, ANNOTATION_REF_NAME), Some(full), "{name}");
            assert_eq!(r.outdated_ref_name(), None, "{name}");
        }
        // Five images tagged `1`: five ref.names.
        let names = [
            "a:1",
            "b/a:1",
            "example.com/a:1",
            "quay.io/a/a:1",
            "localhost/a:1",
        ];
        let refs: std::collections::BTreeSet<String> = names
            .iter()
            .map(|n| ImageRecord::named(target(b"i"), &Reference::parse_normalized(n).unwrap()))
            .map(|r| annotation(&r, ANNOTATION_REF_NAME).unwrap().to_string())
            .collect();
        assert_eq!(refs.len(), 5, "{refs:?}");
    }

    #[test]
    fn an_old_form_record_is_upgraded_keeping_its_name() {
        let mut images = vec![
            old_form(b"a", "alpine:3.20"),
            old_form(b"b", "example.com/app:3.20"),
            ImageRecord::named(target(b"c"), &Reference::parse_normalized("c:1").unwrap()),
            ImageRecord::unnamed(target(b"d")),
        ];
        // A name as another tool may spell it (not normalised) is kept as it is.
        images[0]
            .target
            .annotations
            .insert(ANNOTATION_IMAGE_NAME.to_string(), "alpine:3.20".into());
        // A name that does not parse is not imagefs's to rewrite: never outdated.
        let mut odd = ImageRecord::unnamed(target(b"e"));
        odd.target
            .annotations
            .insert(ANNOTATION_IMAGE_NAME.to_string(), "Not/A:name:".into());
        odd.target
            .annotations
            .insert(ANNOTATION_REF_NAME.to_string(), "x".into());
        images.push(odd.clone());

        assert_eq!(images[0].outdated_ref_name(), Some(Some("3.20")));
        assert_eq!(images[1].outdated_ref_name(), Some(Some("3.20")));
        let mut no_ref_name = images[2].clone();
        no_ref_name.target.annotations.remove(ANNOTATION_REF_NAME);
        assert_eq!(no_ref_name.outdated_ref_name(), Some(None));
        assert_eq!(images[2].outdated_ref_name(), None);
        assert_eq!(images[3].outdated_ref_name(), None);
        assert_eq!(images[4].outdated_ref_name(), None);

        let before = images.clone();
        assert_eq!(
            upgrade_ref_names(&mut images),
            ["docker.io/library/alpine:3.20", "example.com/app:3.20"]
        );
        assert_eq!(
            annotation(&images[0], ANNOTATION_REF_NAME),
            Some("docker.io/library/alpine:3.20")
        );
        assert_eq!(
            annotation(&images[0], ANNOTATION_IMAGE_NAME),
            Some("alpine:3.20")
        );
        assert_eq!(
            annotation(&images[1], ANNOTATION_REF_NAME),
            Some("example.com/app:3.20")
        );
        for (after, was) in images.iter().zip(&before) {
            assert_eq!(after.name(), was.name());
            assert_eq!(after.target.digest, was.target.digest);
        }
        assert_eq!(images[2..], before[2..]);
        assert!(upgrade_ref_names(&mut images).is_empty(), "idempotent");
    }

    /// Writes `images` as the store's `index.json`, as an earlier build would have.
    fn write_index(store: &super::super::Store, images: &[ImageRecord]) {
        std::fs::write(store.root().join(INDEX_FILE), encode_index(images)).unwrap();
    }

    #[test]
    fn every_rewrite_of_the_list_upgrades_old_records_and_a_no_op_writes_nothing() {
        let (_dir, store) = temp_store();
        write_index(
            &store,
            &[old_form(b"a", "a:1"), old_form(b"b", "example.com/b:1")],
        );
        let path = store.root().join(INDEX_FILE);
        let old = std::fs::read(&path).unwrap();
        // Reading, and a change that changes nothing, leave the file as it is.
        assert_eq!(store.images().unwrap().len(), 2);
        store.update_images(|_| Ok(())).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), old);
        // Any real change writes every record's full name.
        store
            .update_images(|images| {
                images.push(ImageRecord::unnamed(target(b"c")));
                Ok(())
            })
            .unwrap();
        let images = store.images().unwrap();
        let refs: Vec<_> = images
            .iter()
            .map(|r| annotation(r, ANNOTATION_REF_NAME))
            .collect();
        assert_eq!(
            refs,
            [Some("docker.io/library/a:1"), Some("example.com/b:1"), None]
        );
        assert!(images.iter().all(|r| r.outdated_ref_name().is_none()));
    }

    #[test]
    fn repair_index_upgrades_old_records_and_says_which() {
        let (_dir, store) = temp_store();
        let current =
            ImageRecord::named(target(b"c"), &Reference::parse_normalized("c:1").unwrap());
        write_index(&store, &[old_form(b"a", "a:1"), current.clone()]);
        let repair = store.repair_index().unwrap();
        assert!(repair.shrunk.is_empty());
        assert_eq!(repair.full_ref_names, ["docker.io/library/a:1"]);
        let images = store.images().unwrap();
        assert_eq!(
            annotation(&images[0], ANNOTATION_REF_NAME),
            Some("docker.io/library/a:1")
        );
        assert_eq!(images[1], current);
        assert_eq!(store.repair_index().unwrap(), IndexRepair::default());
    }

    #[test]
    fn upgrading_an_over_full_list_does_not_stop_it_from_shrinking() {
        // A list over the cap that an earlier build wrote: many old records, whose upgrade
        // grows the list by more than removing one of them shrinks it.
        let (_dir, store) = temp_store();
        let mut pad = ImageRecord::unnamed(target(b"pad"));
        pad.target
            .annotations
            .insert("pad".into(), "a".repeat(MAX_INDEX_SIZE as usize));
        let mut images = vec![pad];
        for i in 0..100 {
            images.push(old_form(format!("{i}").as_bytes(), &format!("image-{i}:1")));
        }
        write_index(&store, &images);
        let victim = images[1].name().unwrap();
        store
            .update_images(|images| {
                images.retain(|r| r.name().as_ref() != Some(&victim));
                Ok(())
            })
            .expect("removing a record from an over-full list");
        let after = store.images().unwrap();
        assert_eq!(after.len(), 100);
        assert!(after.iter().all(|r| r.outdated_ref_name().is_none()));
    }

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
