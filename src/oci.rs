//! OCI and Docker image documents as imagefs reads them: descriptors, indexes, manifests, the
//! platform fields of configs, media types, and Go-exact emission of descriptors.
//!
//! Stored documents are never re-serialized (their digests are over the bytes that arrived); these
//! types are for reading them. We parse with our own small serde types rather than oci-spec's,
//! because oci-spec drops `platform.os.version`/`os.features` and unknown fields and emits
//! annotations in random order (oci-spec-rs 0.10 `image/descriptor.rs`, `Platform`); what we emit we write with
//! [`crate::gojson`] in Go's field order.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::digest::Digest;
use crate::gojson::ObjectWriter;
use crate::platform::Platform;

pub const MEDIA_TYPE_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const MEDIA_TYPE_DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const MEDIA_TYPE_DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const MEDIA_TYPE_DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
pub const MEDIA_TYPE_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_TYPE_OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_TYPE_OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// An in-toto statement: the layers of BuildKit's attestation manifests.
pub const MEDIA_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";

/// The files of an OCI image layout (image-spec image-layout.md), which the store is and which
/// archives carry: `oci-layout`, `index.json`, and the blobs under `blobs/sha256/<hex>`.
pub const OCI_LAYOUT_FILE: &str = "oci-layout";
pub const INDEX_FILE: &str = "index.json";
pub const BLOB_DIR: &str = "blobs/sha256";
/// The docker-archive manifest (`docker save`'s `manifest.json`, moby image/tarexport), which
/// archives carry beside an OCI layout.
pub const LEGACY_MANIFEST_FILE: &str = "manifest.json";
/// The one layout version there is.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";
/// `oci-layout` as every tool writes it.
pub const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// The path of a blob inside a layout: `blobs/sha256/<hex>`.
pub fn blob_path(digest: &Digest) -> String {
    format!("{BLOB_DIR}/{}", digest.hex())
}

/// The content of an `oci-layout` file.
#[derive(Clone, Debug, Deserialize)]
pub struct ImageLayout {
    #[serde(rename = "imageLayoutVersion")]
    pub version: String,
}

/// Annotation holding the full normalised image name (containerd, Docker).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// OCI annotation holding the tag (or, for digest-only refs, the whole ref).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// BuildKit marks attestation manifests with this annotation (`attestation-manifest`).
pub const ANNOTATION_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// The digest of the manifest an attestation describes.
pub const ANNOTATION_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";

/// Largest manifest, index or config we will parse. Docker and containerd cap `manifest.json` and
/// `oci-layout` at 20 MiB; a real manifest is a few KiB, so this bounds memory on hostile input.
pub const MAX_DOCUMENT_SIZE: u64 = 20 << 20;
/// Deepest JSON nesting accepted in a document we parse (serde_json itself stops at 128).
pub const MAX_DOCUMENT_DEPTH: usize = 64;

/// An OCI content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn new(media_type: &str, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            data: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// What kind of document the media type says this is.
    pub fn kind(&self) -> DocumentKind {
        DocumentKind::from_media_type(&self.media_type)
    }

    /// True for BuildKit attestation manifests (and anything else on the `unknown/unknown`
    /// pseudo-platform), which describe an image rather than being one.
    pub fn is_attestation(&self) -> bool {
        self.annotations
            .get(ANNOTATION_REFERENCE_TYPE)
            .map(String::as_str)
            == Some("attestation-manifest")
            || self.platform.as_ref().is_some_and(Platform::is_unknown)
    }

    /// Appends this descriptor as Go's `json.Marshal(ocispec.Descriptor)` writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut o = ObjectWriter::begin(out);
        o.string("mediaType", &self.media_type);
        o.string("digest", &self.digest.to_string());
        o.number("size", self.size);
        if !self.urls.is_empty() {
            o.string_array("urls", Some(&self.urls));
        }
        if !self.annotations.is_empty() {
            let out = o.key("annotations");
            let mut map = ObjectWriter::begin(out);
            for (k, v) in &self.annotations {
                map.string(k, v);
            }
            map.end();
        }
        if let Some(data) = &self.data {
            o.string("data", data);
        }
        if let Some(p) = &self.platform {
            write_platform(o.key("platform"), p);
        }
        if let Some(t) = &self.artifact_type {
            o.string("artifactType", t);
        }
        o.end();
    }
}

/// Go's `ocispec.Platform` field order: architecture, os, os.version, os.features, variant.
fn write_platform(out: &mut Vec<u8>, p: &Platform) {
    let mut o = ObjectWriter::begin(out);
    o.string("architecture", &p.architecture);
    o.string("os", &p.os);
    if !p.os_version.is_empty() {
        o.string("os.version", &p.os_version);
    }
    if !p.os_features.is_empty() {
        o.string_array("os.features", Some(&p.os_features));
    }
    if !p.variant.is_empty() {
        o.string("variant", &p.variant);
    }
    o.end();
}

/// Writes `{"schemaVersion":2,"mediaType":"…index…","manifests":[…]}` as `docker save` does.
pub fn write_index_json(out: &mut Vec<u8>, manifests: &[Descriptor]) {
    out.extend_from_slice(&encode_index(MEDIA_TYPE_OCI_INDEX, manifests));
}

/// An image index (or Docker manifest list) as Go's `json.Marshal(ocispec.Index)` writes it.
pub fn encode_index(media_type: &str, manifests: &[Descriptor]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut o = ObjectWriter::begin(&mut out);
    o.number("schemaVersion", 2);
    o.string("mediaType", media_type);
    write_descriptor_list(o.key("manifests"), manifests);
    o.end();
    out
}

/// An image manifest as Go's `json.Marshal(ocispec.Manifest)` writes it: the bytes containerd's
/// importer generates for a docker-archive image, so such an image gets the digest it would get
/// from `docker load`.
pub fn encode_manifest(media_type: &str, config: &Descriptor, layers: &[Descriptor]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut o = ObjectWriter::begin(&mut out);
    o.number("schemaVersion", 2);
    o.string("mediaType", media_type);
    config.write_json(o.key("config"));
    write_descriptor_list(o.key("layers"), layers);
    o.end();
    out
}

/// One entry of a docker-archive's `manifest.json`, the legacy view older Docker daemons load
/// from (moby image/tarexport `manifestItem`): paths inside the archive, not digests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct LegacyManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Option<Vec<String>>,
}

/// `manifest.json` as moby's `json.Marshal([]manifestItem)` writes it; a `None` list is `null`,
/// as Go marshals a nil slice.
pub fn encode_legacy_manifest<'a>(
    entries: impl IntoIterator<Item = &'a LegacyManifestEntry>,
) -> Vec<u8> {
    let mut out = vec![b'['];
    for (i, e) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut o = ObjectWriter::begin(&mut out);
        o.string("Config", &e.config);
        o.string_array("RepoTags", e.repo_tags.as_deref());
        o.string_array("Layers", e.layers.as_deref());
        o.end();
    }
    out.push(b']');
    out
}

fn write_descriptor_list(out: &mut Vec<u8>, descriptors: &[Descriptor]) {
    out.push(b'[');
    for (i, d) in descriptors.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        d.write_json(out);
    }
    out.push(b']');
}

/// The document kinds an image graph is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentKind {
    Index,
    Manifest,
    /// Configs, layers, and anything else that has no children.
    Leaf,
}

impl DocumentKind {
    fn from_media_type(media_type: &str) -> DocumentKind {
        match media_type {
            MEDIA_TYPE_OCI_INDEX | MEDIA_TYPE_DOCKER_LIST => DocumentKind::Index,
            MEDIA_TYPE_OCI_MANIFEST | MEDIA_TYPE_DOCKER_MANIFEST => DocumentKind::Manifest,
            _ => DocumentKind::Leaf,
        }
    }
}

/// Why a document could not be read as the kind its descriptor claims.
#[derive(Debug)]
pub enum DocumentError {
    TooLarge {
        size: u64,
        limit: u64,
    },
    TooDeep,
    Invalid(serde_json::Error),
    /// Docker schema 1 and other documents we cannot traverse.
    Unsupported(String),
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { size, limit } => {
                write!(f, "document of {size} bytes exceeds the {limit}-byte limit")
            }
            Self::TooDeep => write!(f, "JSON nested deeper than {MAX_DOCUMENT_DEPTH} levels"),
            Self::Invalid(_) => write!(f, "invalid JSON document"),
            Self::Unsupported(what) => write!(f, "unsupported document: {what}"),
        }
    }
}

impl std::error::Error for DocumentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            _ => None,
        }
    }
}

/// Rejects documents over the size limit or nested absurdly deep, before serde sees them.
pub fn check_document_shape(bytes: &[u8]) -> Result<(), DocumentError> {
    check_document_shape_within(bytes, MAX_DOCUMENT_SIZE)
}

/// [`check_document_shape`] with another size limit (the store's own `index.json`).
pub fn check_document_shape_within(bytes: &[u8], limit: u64) -> Result<(), DocumentError> {
    if bytes.len() as u64 > limit {
        return Err(DocumentError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DOCUMENT_DEPTH {
                    return Err(DocumentError::TooDeep);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses a bounded JSON document into `T`.
pub fn parse_document<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DocumentError> {
    check_document_shape(bytes)?;
    serde_json::from_slice(bytes).map_err(DocumentError::Invalid)
}

/// An image index or Docker manifest list, as far as traversal needs it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// An image manifest (OCI or Docker schema 2), as far as traversal needs it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub schema_version: Option<u32>,
    #[serde(default)]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

impl Manifest {
    /// The blobs this manifest needs: config first, then layers in order.
    pub fn children(&self) -> impl Iterator<Item = &Descriptor> {
        std::iter::once(&self.config).chain(self.layers.iter())
    }
}

/// The fields of an image config that say which platform it runs on, plus its creation time.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigPlatform {
    /// Configs carry the platform fields at top level, named as in a descriptor's `platform`.
    #[serde(flatten)]
    pub platform: Platform,
    #[serde(default)]
    pub created: Option<String>,
}

impl ConfigPlatform {
    pub fn platform(&self) -> Platform {
        self.platform.clone()
    }
}

/// An image config's `rootfs.diff_ids`: the digest of each layer's uncompressed tar, in order
/// (image-spec config.md). Entries that are no digest are `None`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigRootfs {
    #[serde(default)]
    rootfs: RootfsField,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct RootfsField {
    #[serde(default)]
    diff_ids: Vec<String>,
}

impl ConfigRootfs {
    pub fn diff_ids(&self) -> Vec<Option<Digest>> {
        self.rootfs
            .diff_ids
            .iter()
            .map(|d| d.parse().ok())
            .collect()
    }
}

/// Sniffs the kind of a document whose descriptor has no (or an unknown) media type, the way
/// containerd does for `index.json` entries written by older tools.
pub fn sniff_kind(bytes: &[u8]) -> DocumentKind {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, rename = "mediaType")]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        config: Option<serde::de::IgnoredAny>,
        #[serde(default)]
        layers: Option<serde::de::IgnoredAny>,
    }
    let Ok(probe) = parse_document::<Probe>(bytes) else {
        return DocumentKind::Leaf;
    };
    if let Some(kind) = probe
        .media_type
        .as_deref()
        .map(DocumentKind::from_media_type)
        && kind != DocumentKind::Leaf
    {
        return kind;
    }
    if probe.manifests.is_some() {
        DocumentKind::Index
    } else if probe.config.is_some() && probe.layers.is_some() {
        DocumentKind::Manifest
    } else {
        DocumentKind::Leaf
    }
}

/// Parses the RFC 3339 times image configs carry (`2024-05-01T12:34:56.123Z`, `…+02:00`).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        let mut n: u32 = frac[..digits.min(9)].parse().ok()?;
        for _ in digits.min(9)..9 {
            n *= 10;
        }
        nanos = n;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset;
    if secs < 0 {
        return Some(UNIX_EPOCH);
    }
    Some(UNIX_EPOCH + Duration::new(secs as u64, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn descriptor_json_uses_go_field_order_and_sorted_annotations() {
        let json = format!(
            r#"{{"platform":{{"variant":"v8","os":"linux","architecture":"arm64"}},"size":3,
            "annotations":{{"z":"1","a":"<2>"}},"digest":"{D}","mediaType":"m","unknown":1}}"#
        );
        let d: Descriptor = serde_json::from_str(&json).unwrap();
        let mut out = Vec::new();
        d.write_json(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                r#"{{"mediaType":"m","digest":"{D}","size":3,"annotations":{{"a":"\u003c2\u003e","z":"1"}},"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}}"#
            )
        );
    }

    #[test]
    fn descriptor_keeps_platform_os_version() {
        let json = format!(
            r#"{{"mediaType":"m","digest":"{D}","size":1,"platform":{{"architecture":"amd64","os":"windows","os.version":"10.0.17763.1"}}}}"#
        );
        let d: Descriptor = serde_json::from_str(&json).unwrap();
        assert_eq!(d.platform.as_ref().unwrap().os_version, "10.0.17763.1");
        let mut out = Vec::new();
        d.write_json(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), json);
    }

    #[test]
    fn descriptor_rejects_a_digest_that_could_name_a_path() {
        let json = r#"{"mediaType":"m","digest":"sha256:../../etc/passwd","size":1}"#;
        assert!(serde_json::from_str::<Descriptor>(json).is_err());
    }

    #[test]
    fn index_json_matches_docker_save_layout() {
        let d = Descriptor::new(MEDIA_TYPE_OCI_INDEX, D.parse().unwrap(), 9218);
        let mut out = Vec::new();
        write_index_json(&mut out, &[d]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{D}","size":9218}}]}}"#
            )
        );
    }

    #[test]
    fn document_shape_rejects_deep_nesting_but_not_brackets_in_strings() {
        let deep = "[".repeat(MAX_DOCUMENT_DEPTH + 1);
        assert!(matches!(
            check_document_shape(deep.as_bytes()),
            Err(DocumentError::TooDeep)
        ));
        let quoted = format!(r#"{{"a":"{}"}}"#, "[".repeat(500));
        assert!(check_document_shape(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn sniff_kind_recognises_documents_without_media_type() {
        assert_eq!(
            sniff_kind(br#"{"schemaVersion":2,"manifests":[]}"#),
            DocumentKind::Index
        );
        assert_eq!(
            sniff_kind(br#"{"schemaVersion":2,"config":{},"layers":[]}"#),
            DocumentKind::Manifest
        );
        assert_eq!(
            sniff_kind(br#"{"architecture":"amd64"}"#),
            DocumentKind::Leaf
        );
    }

    #[test]
    fn rfc3339_parses_utc_offsets_and_fractions() {
        let t = |s| parse_rfc3339(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap());
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(Duration::ZERO));
        assert_eq!(
            t("2000-03-01T00:00:00Z"),
            Some(Duration::from_secs(951_868_800))
        );
        assert_eq!(
            t("2000-03-01T02:00:00.5+02:00"),
            Some(Duration::new(951_868_800, 500_000_000))
        );
        assert_eq!(t("yesterday"), None);
    }
}
