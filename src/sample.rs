//! Synthetic multi-platform images, written straight into a store: the quick start's sample image,
//! the fixtures of the test suite, and the large images of the benchmarks.
//!
//! Every image is real: each platform has a config, a manifest and gzip (or zstd, or plain) tar
//! layers whose files hold pseudo-random, incompressible bytes; the index lists the platforms
//! and, optionally, a BuildKit-style attestation manifest per platform. Content is a pure
//! function of the spec, so the same spec always gives the same digests.

use std::io::{self, Write};

use crate::digest::Digest;
use crate::gojson::ObjectWriter;
use crate::oci::{
    ANNOTATION_REFERENCE_DIGEST, ANNOTATION_REFERENCE_TYPE, Descriptor, MEDIA_TYPE_DOCKER_CONFIG,
    MEDIA_TYPE_DOCKER_LAYER, MEDIA_TYPE_DOCKER_LAYER_GZIP, MEDIA_TYPE_DOCKER_LAYER_ZSTD,
    MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_IN_TOTO, MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_LAYER, MEDIA_TYPE_OCI_LAYER_GZIP,
    MEDIA_TYPE_OCI_LAYER_ZSTD, MEDIA_TYPE_OCI_MANIFEST, encode_index, encode_manifest,
};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::store::{ImageRecord, Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerCompression {
    Gzip,
    /// gzip with stored (uncompressed) blocks: valid gzip, generated at memory speed, for
    /// benchmarks whose layers must be large and incompressible.
    GzipStored,
    Zstd,
    None,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct SampleSpec {
    /// Stored under this name; `None` stores the image by digest only.
    pub name: Option<Reference>,
    /// Platforms, in index order. One platform with `single_manifest` gives a manifest image.
    pub platforms: Vec<Platform>,
    /// Layers per platform (the first may be shared, see `shared_base`).
    pub layers: usize,
    /// Bytes of file content per layer.
    pub layer_size: usize,
    pub compression: LayerCompression,
    /// Docker schema 2 media types (manifest list, v2 manifests) instead of OCI.
    pub docker_media_types: bool,
    /// Add an attestation manifest per platform (platform `unknown/unknown`).
    pub attestations: bool,
    /// The first layer is the same for every platform (and every image with the same seed).
    pub shared_base: bool,
    /// Store the sole platform's manifest as the image target, with no index.
    pub single_manifest: bool,
    /// Varies the content; images with different seeds share nothing but a shared base.
    pub seed: u64,
}

impl SampleSpec {
    /// The quick start's sample: four platforms, small layers, attestations.
    pub fn demo(name: Reference) -> SampleSpec {
        SampleSpec {
            name: Some(name),
            platforms: [
                "linux/amd64",
                "linux/arm64/v8",
                "linux/arm/v7",
                "linux/riscv64",
            ]
            .iter()
            .map(|p| Platform::parse(p).expect("valid platform literal"))
            .collect(),
            layers: 2,
            layer_size: 64 << 10,
            compression: LayerCompression::Gzip,
            docker_media_types: false,
            attestations: true,
            shared_base: true,
            single_manifest: false,
            seed: 1,
        }
    }
}

/// Generates the image into `store` and records it; returns its top-level descriptor.
pub fn write_sample(store: &Store, spec: &SampleSpec) -> Result<Descriptor, StoreError> {
    let _ingest = store.lock_ingest()?;
    let (manifest_type, index_type, config_type) = if spec.docker_media_types {
        (
            MEDIA_TYPE_DOCKER_MANIFEST,
            MEDIA_TYPE_DOCKER_LIST,
            MEDIA_TYPE_DOCKER_CONFIG,
        )
    } else {
        (
            MEDIA_TYPE_OCI_MANIFEST,
            MEDIA_TYPE_OCI_INDEX,
            MEDIA_TYPE_OCI_CONFIG,
        )
    };
    let mut children = Vec::new();
    for (i, platform) in spec.platforms.iter().enumerate() {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for l in 0..spec.layers {
            let shared = spec.shared_base && l == 0;
            let stream = if shared {
                0
            } else {
                (spec.seed << 32) | ((i as u64) << 16) | l as u64
            };
            let label = if shared {
                "base".to_string()
            } else {
                format!("{}-{l}", platform.file_name())
            };
            let (desc, diff_id) = write_layer(store, spec, stream, &label)?;
            layers.push(desc);
            diff_ids.push(diff_id);
        }
        let config = encode_config(platform, &diff_ids, spec.seed);
        let config = Descriptor::new(config_type, store.write_blob(&config)?, config.len() as u64);
        let manifest = encode_manifest(manifest_type, &config, &layers);
        let mut desc = Descriptor::new(
            manifest_type,
            store.write_blob(&manifest)?,
            manifest.len() as u64,
        );
        desc.platform = Some(platform.clone());
        children.push(desc.clone());
        if spec.attestations {
            children.push(write_attestation(store, &desc)?);
        }
    }
    let target = if spec.single_manifest {
        let mut target = children
            .into_iter()
            .next()
            .expect("a single-manifest sample has one platform");
        target.platform = None;
        target
    } else {
        let index = encode_index(index_type, &children);
        Descriptor::new(index_type, store.write_blob(&index)?, index.len() as u64)
    };
    store.sync_blob_dir()?;
    let record = match &spec.name {
        Some(n) => ImageRecord::named(target.clone(), n),
        None => ImageRecord::unnamed(target.clone()),
    };
    store.update_images(|images| {
        if let Some(n) = &spec.name {
            images.retain(|r| r.name().as_ref() != Some(n));
        }
        images.push(record);
        Ok(())
    })?;
    Ok(target)
}

fn write_attestation(store: &Store, subject: &Descriptor) -> Result<Descriptor, StoreError> {
    let statement = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[{{"digest":{{"sha256":"{}"}}}}]}}"#,
        subject.digest.hex()
    );
    let layer = Descriptor::new(
        MEDIA_TYPE_IN_TOTO,
        store.write_blob(statement.as_bytes())?,
        statement.len() as u64,
    );
    let config =
        br#"{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config = Descriptor::new(
        MEDIA_TYPE_OCI_CONFIG,
        store.write_blob(config)?,
        config.len() as u64,
    );
    let manifest = encode_manifest(MEDIA_TYPE_OCI_MANIFEST, &config, &[layer]);
    let mut desc = Descriptor::new(
        MEDIA_TYPE_OCI_MANIFEST,
        store.write_blob(&manifest)?,
        manifest.len() as u64,
    );
    desc.platform = Some(Platform::new("unknown", "unknown", ""));
    desc.annotations.insert(
        ANNOTATION_REFERENCE_DIGEST.into(),
        subject.digest.to_string(),
    );
    desc.annotations.insert(
        ANNOTATION_REFERENCE_TYPE.into(),
        "attestation-manifest".into(),
    );
    Ok(desc)
}

fn encode_config(platform: &Platform, diff_ids: &[Digest], seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut o = ObjectWriter::begin(&mut out);
    o.string("architecture", &platform.architecture);
    o.string("created", &format!("2026-0{}-01T00:00:00Z", 1 + seed % 9));
    o.string("os", &platform.os);
    if !platform.variant.is_empty() {
        o.string("variant", &platform.variant);
    }
    let cfg = o.key("config");
    let mut c = ObjectWriter::begin(cfg);
    c.string_array("Cmd", Some(&["/bin/sh".to_string()]));
    c.end();
    let rootfs = o.key("rootfs");
    let mut r = ObjectWriter::begin(rootfs);
    r.string("type", "layers");
    let ids: Vec<String> = diff_ids.iter().map(Digest::to_string).collect();
    r.string_array("diff_ids", Some(&ids));
    r.end();
    o.end();
    out
}

/// Writes one layer: a tar holding one file of pseudo-random bytes, compressed as asked.
/// Returns its descriptor and its diff ID (digest of the uncompressed tar).
fn write_layer(
    store: &Store,
    spec: &SampleSpec,
    stream: u64,
    label: &str,
) -> Result<(Descriptor, Digest), StoreError> {
    let io_err = |e: io::Error| StoreError::Io {
        op: "generate layer in",
        path: store.root().to_path_buf(),
        source: e,
    };
    let mut blob = store.blob_writer()?;
    let diff_id;
    {
        let sink: Box<dyn Write + '_> = match spec.compression {
            LayerCompression::Gzip => Box::new(flate2::write::GzEncoder::new(
                &mut blob,
                flate2::Compression::fast(),
            )),
            LayerCompression::GzipStored => Box::new(flate2::write::GzEncoder::new(
                &mut blob,
                flate2::Compression::none(),
            )),
            LayerCompression::Zstd => Box::new(
                zstd::stream::write::Encoder::new(&mut blob, 1)
                    .map_err(io_err)?
                    .auto_finish(),
            ),
            LayerCompression::None => Box::new(&mut blob),
        };
        let mut hashing = HashingWriter {
            inner: sink,
            hasher: crate::digest::Hasher::new(),
        };
        {
            let mut tar = tar::Builder::new(&mut hashing);
            let mut header = tar::Header::new_ustar();
            header
                .set_path(format!("data/{label}.bin"))
                .map_err(io_err)?;
            header.set_size(spec.layer_size as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            tar.append(&header, PseudoRandom::new(stream, spec.layer_size))
                .map_err(io_err)?;
            tar.finish().map_err(io_err)?;
        }
        hashing.flush().map_err(io_err)?;
        diff_id = hashing.hasher.finish();
    }
    let media_type = match (spec.docker_media_types, spec.compression) {
        (true, LayerCompression::Gzip | LayerCompression::GzipStored) => {
            MEDIA_TYPE_DOCKER_LAYER_GZIP
        }
        (true, LayerCompression::Zstd) => MEDIA_TYPE_DOCKER_LAYER_ZSTD,
        (true, LayerCompression::None) => MEDIA_TYPE_DOCKER_LAYER,
        (false, LayerCompression::Gzip | LayerCompression::GzipStored) => MEDIA_TYPE_OCI_LAYER_GZIP,
        (false, LayerCompression::Zstd) => MEDIA_TYPE_OCI_LAYER_ZSTD,
        (false, LayerCompression::None) => MEDIA_TYPE_OCI_LAYER,
    };
    let size = blob.len();
    let digest = blob.commit(None)?;
    Ok((Descriptor::new(media_type, digest, size), diff_id))
}

struct HashingWriter<W> {
    inner: W,
    hasher: crate::digest::Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// xorshift64* bytes: incompressible, reproducible, fast.
struct PseudoRandom {
    state: u64,
    remaining: usize,
}

impl PseudoRandom {
    fn new(stream: u64, len: usize) -> PseudoRandom {
        PseudoRandom {
            state: stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            remaining: len,
        }
    }
}

impl io::Read for PseudoRandom {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.remaining);
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        self.remaining -= n;
        Ok(n)
    }
}
