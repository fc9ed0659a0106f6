//! Unit tests of `image`: how a graph classifies manifests, how platform requests select among
//! them, that a selective walk leaves unrequested manifests unread, and how REFs resolve.
//! Graphs are built in memory (a `ContentSource` over a map); REF resolution uses a temp store.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;

use super::*;
use crate::oci::{
    ANNOTATION_REFERENCE_TYPE, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST, encode_index,
    encode_manifest,
};

const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// Blobs in memory, recording every document read so tests can say what a walk looked at.
#[derive(Default)]
struct Mem {
    blobs: HashMap<Digest, Vec<u8>>,
    reads: RefCell<Vec<Digest>>,
}

impl ContentSource for Mem {
    type Error = Infallible;

    fn has(&self, d: &Descriptor) -> Result<bool, Infallible> {
        Ok(self
            .blobs
            .get(&d.digest)
            .is_some_and(|b| b.len() as u64 == d.size))
    }

    fn read_document(&self, d: &Descriptor) -> Result<Option<Vec<u8>>, Infallible> {
        self.reads.borrow_mut().push(d.digest);
        if !self.has(d)? {
            return Ok(None);
        }
        Ok(self.blobs.get(&d.digest).cloned())
    }
}

/// One platform manifest as built: its descriptor (as an index lists it), config and layers.
struct Built {
    desc: Descriptor,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

impl Mem {
    fn put(&mut self, media_type: &str, bytes: Vec<u8>) -> Descriptor {
        let d = Descriptor::new(media_type, Digest::of(&bytes), bytes.len() as u64);
        self.blobs.insert(d.digest, bytes);
        d
    }

    fn remove(&mut self, d: &Descriptor) {
        self.blobs.remove(&d.digest).expect("blob was stored");
    }

    /// A manifest for `platform` (`None`: the descriptor names no platform; the config does)
    /// with `layers` distinct layers; `seed` keeps otherwise equal manifests apart.
    fn manifest(&mut self, platform: &str, layers: usize, seed: &str) -> Built {
        let p = Platform::parse(platform).unwrap();
        let mut config = format!(r#"{{"architecture":"{}","os":"{}""#, p.architecture, p.os);
        if !p.variant.is_empty() {
            config += &format!(r#","variant":"{}""#, p.variant);
        }
        config += &format!(r#","created":"2026-01-01T00:00:00Z","seed":"{seed}"}}"#);
        let config = self.put(CONFIG, config.into_bytes());
        let layers: Vec<Descriptor> = (0..layers)
            .map(|i| self.put(LAYER, format!("layer {platform} {seed} {i}").into_bytes()))
            .collect();
        let bytes = encode_manifest(MEDIA_TYPE_OCI_MANIFEST, &config, &layers);
        let mut desc = self.put(MEDIA_TYPE_OCI_MANIFEST, bytes);
        desc.platform = Some(p);
        Built {
            desc,
            config,
            layers,
        }
    }

    /// A BuildKit-style attestation manifest of `subject` (as moby's and BuildKit's
    /// `vnd.docker.reference.*` annotations mark it).
    fn attestation(&mut self, subject: &Descriptor) -> Built {
        let mut built = self.manifest("linux/amd64", 1, &format!("att {}", subject.digest));
        built.desc.platform = Some(Platform::new("unknown", "unknown", ""));
        built.desc.annotations.insert(
            ANNOTATION_REFERENCE_TYPE.into(),
            "attestation-manifest".into(),
        );
        built.desc.annotations.insert(
            ANNOTATION_REFERENCE_DIGEST.into(),
            subject.digest.to_string(),
        );
        built
    }

    fn index(&mut self, children: &[&Descriptor]) -> Descriptor {
        let children: Vec<Descriptor> = children.iter().map(|d| (*d).clone()).collect();
        self.put(
            MEDIA_TYPE_OCI_INDEX,
            encode_index(MEDIA_TYPE_OCI_INDEX, &children),
        )
    }

    fn read(&self, d: &Descriptor) -> bool {
        self.reads.borrow().contains(&d.digest)
    }
}

fn p(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}

fn load(mem: &Mem, target: &Descriptor) -> ImageGraph {
    ImageGraph::load(mem, "test", target).unwrap()
}

fn availability_of<'g>(graph: &'g ImageGraph, d: &Descriptor) -> &'g Availability {
    &graph
        .manifests
        .iter()
        .find(|m| m.descriptor.digest == d.digest)
        .unwrap_or_else(|| panic!("{} is not in the graph", d.digest))
        .availability
}

fn digests(ms: &[&PlatformManifest]) -> Vec<Digest> {
    ms.iter().map(|m| m.descriptor.digest).collect()
}

// --- classification -------------------------------------------------------------------------

#[test]
fn manifest_with_config_and_every_layer_present_is_complete() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 2, "a");
    let index = mem.index(&[&amd.desc]);
    let graph = load(&mem, &index);
    assert_eq!(graph.indexes, vec![index]);
    assert_eq!(availability_of(&graph, &amd.desc), &Availability::Complete);
    let m = &graph.manifests[0];
    let mut children = vec![amd.config.clone()];
    children.extend(amd.layers.iter().cloned());
    assert_eq!(m.children, children);
    assert_eq!(m.created.as_deref(), Some("2026-01-01T00:00:00Z"));
}

#[test]
fn manifest_lacking_a_layer_is_partial_and_names_each_missing_blob() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 3, "a");
    mem.remove(&amd.layers[0]);
    mem.remove(&amd.layers[2]);
    let index = mem.index(&[&amd.desc]);
    let graph = load(&mem, &index);
    assert_eq!(
        availability_of(&graph, &amd.desc),
        &Availability::Partial {
            missing: vec![amd.layers[0].digest, amd.layers[2].digest]
        }
    );
    assert!(graph.available_platforms().is_empty());
}

#[test]
fn manifest_whose_blob_is_absent_is_absent() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    mem.remove(&arm.desc);
    let index = mem.index(&[&amd.desc, &arm.desc]);
    let graph = load(&mem, &index);
    assert_eq!(availability_of(&graph, &arm.desc), &Availability::Absent);
    assert!(graph.manifests[1].children.is_empty());
    assert_eq!(graph.available_platforms(), vec![p("linux/amd64")]);
}

#[test]
fn manifest_stored_with_another_size_than_listed_is_absent() {
    let mut mem = Mem::default();
    let mut amd = mem.manifest("linux/amd64", 1, "a");
    amd.desc.size += 1;
    let index = mem.index(&[&amd.desc]);
    let graph = load(&mem, &index);
    assert_eq!(availability_of(&graph, &amd.desc), &Availability::Absent);
}

#[test]
fn nested_indexes_are_walked_and_each_recorded() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    let inner = mem.index(&[&arm.desc]);
    let outer = mem.index(&[&amd.desc, &inner]);
    let graph = load(&mem, &outer);
    assert_eq!(graph.indexes, vec![outer, inner]);
    assert_eq!(
        graph
            .manifests
            .iter()
            .map(|m| m.descriptor.digest)
            .collect::<Vec<_>>(),
        vec![amd.desc.digest, arm.desc.digest]
    );
    assert_eq!(
        graph.available_platforms(),
        vec![p("linux/amd64"), p("linux/arm64")]
    );
    assert!(!graph.is_single_manifest());
}

#[test]
fn an_absent_nested_index_contributes_nothing() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    let inner = mem.index(&[&arm.desc]);
    let outer = mem.index(&[&amd.desc, &inner]);
    mem.remove(&inner);
    let graph = load(&mem, &outer);
    assert_eq!(graph.indexes, vec![outer]);
    assert_eq!(graph.manifests.len(), 1);
}

#[test]
fn indexes_nested_past_the_limit_are_refused() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let mut top = mem.index(&[&amd.desc]);
    for _ in 0..MAX_INDEX_DEPTH - 1 {
        top = mem.index(&[&top]);
    }
    // MAX_INDEX_DEPTH indexes deep: still walked.
    assert_eq!(load(&mem, &top).manifests.len(), 1);
    let deeper = mem.index(&[&top]);
    let err = ImageGraph::load(&mem, "test", &deeper).unwrap_err();
    assert!(matches!(err, ImageError::TooDeep { .. }), "{err}");
}

#[test]
fn a_child_listed_twice_is_walked_once() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let inner = mem.index(&[&amd.desc]);
    let outer = mem.index(&[&amd.desc, &inner, &amd.desc]);
    let graph = load(&mem, &outer);
    assert_eq!(graph.manifests.len(), 1);
    assert_eq!(graph.indexes.len(), 2);
}

#[test]
fn platform_comes_from_the_config_when_the_descriptor_names_none() {
    let mut mem = Mem::default();
    let mut arm = mem.manifest("linux/arm/v7", 1, "a");
    arm.desc.platform = None;
    let graph = load(&mem, &arm.desc);
    assert!(graph.is_single_manifest());
    assert_eq!(graph.manifests[0].platform, Some(p("linux/arm/v7")));
    assert_eq!(graph.available_platforms(), vec![p("linux/arm/v7")]);
}

#[test]
fn a_descriptor_without_media_type_is_walked_as_what_its_document_is() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let mut index = mem.index(&[&amd.desc]);
    index.media_type.clear();
    let graph = load(&mem, &index);
    assert_eq!(graph.indexes.len(), 1);
    assert_eq!(availability_of(&graph, &amd.desc), &Availability::Complete);
}

#[test]
fn a_missing_target_is_an_error() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let index = mem.index(&[&amd.desc]);
    mem.remove(&index);
    let err = ImageGraph::load(&mem, "test", &index).unwrap_err();
    assert!(matches!(err, ImageError::TargetMissing { .. }), "{err}");
}

#[test]
fn available_platforms_leave_out_attestations_and_incomplete_ones_and_repeat_none() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let amd_again = mem.manifest("linux/amd64", 1, "b");
    let arm = mem.manifest("linux/arm64/v8", 1, "a");
    let s390 = mem.manifest("linux/s390x", 1, "a");
    mem.remove(&s390.layers[0]);
    let att = mem.attestation(&amd.desc);
    let index = mem.index(&[&amd.desc, &att.desc, &amd_again.desc, &arm.desc, &s390.desc]);
    let graph = load(&mem, &index);
    assert_eq!(
        graph.available_platforms(),
        vec![p("linux/amd64"), p("linux/arm64")]
    );
}

// --- selective loading ----------------------------------------------------------------------

#[test]
fn a_selective_walk_reads_no_document_of_an_unrequested_platform() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    let amd_att = mem.attestation(&amd.desc);
    let arm_att = mem.attestation(&arm.desc);
    let index = mem.index(&[&amd.desc, &amd_att.desc, &arm.desc, &arm_att.desc]);
    let graph = ImageGraph::load_selective(&mem, "test", &index, &[p("linux/arm64")]).unwrap();
    for unrequested in [&amd.desc, &amd.config, &amd_att.desc] {
        assert!(!mem.read(unrequested), "{} was read", unrequested.digest);
    }
    for requested in [&arm.desc, &arm.config, &arm_att.desc] {
        assert!(mem.read(requested), "{} was not read", requested.digest);
    }
    assert_eq!(
        availability_of(&graph, &amd.desc),
        &Availability::NotExamined
    );
    assert_eq!(
        availability_of(&graph, &amd_att.desc),
        &Availability::NotExamined
    );
    assert_eq!(availability_of(&graph, &arm.desc), &Availability::Complete);
    assert_eq!(
        availability_of(&graph, &arm_att.desc),
        &Availability::Complete
    );
}

#[test]
fn a_broken_manifest_of_an_unrequested_platform_does_not_fail_a_selective_walk() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    // Not JSON at all, under its own digest: reading it as a manifest would fail the walk.
    let mut broken = mem.put(MEDIA_TYPE_OCI_MANIFEST, b"not a manifest".to_vec());
    broken.platform = Some(p("linux/s390x"));
    let index = mem.index(&[&amd.desc, &broken, &arm.desc]);
    assert!(ImageGraph::load(&mem, "test", &index).is_err());
    let graph = ImageGraph::load_selective(&mem, "test", &index, &[p("linux/arm64")]).unwrap();
    assert_eq!(availability_of(&graph, &broken), &Availability::NotExamined);
    assert_eq!(graph.select(&[p("linux/arm64")]).unwrap().len(), 1);
}

#[test]
fn an_unrequested_manifest_that_is_absent_is_recorded_absent_not_unexamined() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    mem.remove(&amd.desc);
    let index = mem.index(&[&amd.desc, &arm.desc]);
    let graph = ImageGraph::load_selective(&mem, "test", &index, &[p("linux/arm64")]).unwrap();
    assert_eq!(availability_of(&graph, &amd.desc), &Availability::Absent);
    assert_eq!(graph.available_platforms(), vec![p("linux/arm64")]);
}

#[test]
fn a_selective_walk_reads_children_whose_platform_only_the_config_tells() {
    let mut mem = Mem::default();
    let mut amd = mem.manifest("linux/amd64", 1, "a");
    amd.desc.platform = None;
    let index = mem.index(&[&amd.desc]);
    let graph = ImageGraph::load_selective(&mem, "test", &index, &[p("linux/arm64")]).unwrap();
    assert!(mem.read(&amd.desc));
    assert_eq!(graph.manifests[0].platform, Some(p("linux/amd64")));
}

// --- select_one: `docker save --platform` with one platform ---------------------------------

/// amd64, arm64/v8, arm/v6, each with an attestation.
fn three_platforms(mem: &mut Mem) -> (Descriptor, Vec<Built>, Vec<Built>) {
    let ms: Vec<Built> = ["linux/amd64", "linux/arm64/v8", "linux/arm/v6"]
        .iter()
        .map(|s| mem.manifest(s, 1, "a"))
        .collect();
    let atts: Vec<Built> = ms.iter().map(|m| mem.attestation(&m.desc)).collect();
    let mut children = Vec::new();
    for (m, a) in ms.iter().zip(&atts) {
        children.push(&m.desc);
        children.push(&a.desc);
    }
    let index = mem.index(&children);
    (index, ms, atts)
}

#[test]
fn select_one_picks_the_manifest_of_exactly_that_platform() {
    let mut mem = Mem::default();
    let (index, ms, _) = three_platforms(&mut mem);
    let graph = load(&mem, &index);
    let chosen = graph.select_one(&p("linux/amd64")).unwrap();
    assert_eq!(chosen.descriptor.digest, ms[0].desc.digest);
}

#[test]
fn select_one_matches_variant_aliases_after_normalisation() {
    let mut mem = Mem::default();
    let (index, ms, _) = three_platforms(&mut mem);
    let graph = load(&mem, &index);
    // containerd/platforms Normalize: arm64 ≡ arm64/v8 ≡ aarch64; arm/6 ≡ arm/v6.
    for alias in ["linux/arm64", "linux/arm64/v8", "linux/aarch64"] {
        let chosen = graph.select_one(&p(alias)).unwrap();
        assert_eq!(chosen.descriptor.digest, ms[1].desc.digest, "{alias}");
    }
    let chosen = graph.select_one(&p("linux/arm/6")).unwrap();
    assert_eq!(chosen.descriptor.digest, ms[2].desc.digest);
}

#[test]
fn select_one_does_not_fall_back_to_a_variant_the_platform_could_also_run() {
    let mut mem = Mem::default();
    let (index, _, _) = three_platforms(&mut mem);
    let graph = load(&mem, &index);
    // `Only(linux/arm/v7)` would accept arm/v6 (containerd/platforms compare.go); a save for
    // one platform matches strictly (`OnlyStrict`), so arm/v7 is not there.
    let err = graph.select_one(&p("linux/arm/v7")).unwrap_err();
    let SelectError::PlatformNotFound { available, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        available,
        &vec![p("linux/amd64"), p("linux/arm64"), p("linux/arm/v6")]
    );
    // amd64 (v1) cannot stand in for amd64/v2 either.
    assert!(graph.select_one(&p("linux/amd64/v2")).is_err());
}

#[test]
fn select_one_never_picks_an_attestation() {
    let mut mem = Mem::default();
    let (index, _, _) = three_platforms(&mut mem);
    let graph = load(&mem, &index);
    let err = graph.select_one(&p("unknown/unknown")).unwrap_err();
    assert!(matches!(err, SelectError::PlatformNotFound { .. }), "{err}");
}

#[test]
fn select_one_reports_an_incomplete_platform_with_the_blob_it_lacks() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 2, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    mem.remove(&amd.layers[1]);
    let index = mem.index(&[&amd.desc, &arm.desc]);
    let graph = load(&mem, &index);
    let err = graph.select_one(&p("linux/amd64")).unwrap_err();
    let SelectError::PlatformIncomplete {
        missing, available, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*missing, amd.layers[1].digest);
    assert_eq!(available, &vec![p("linux/arm64")]);
}

#[test]
fn select_one_takes_the_complete_one_of_two_listings_of_a_platform() {
    let mut mem = Mem::default();
    let partial = mem.manifest("linux/amd64", 1, "a");
    let complete = mem.manifest("linux/amd64", 1, "b");
    mem.remove(&partial.layers[0]);
    let index = mem.index(&[&partial.desc, &complete.desc]);
    let graph = load(&mem, &index);
    let chosen = graph.select_one(&p("linux/amd64")).unwrap();
    assert_eq!(chosen.descriptor.digest, complete.desc.digest);
}

#[test]
fn select_one_refuses_two_complete_manifests_of_one_platform() {
    let mut mem = Mem::default();
    let a = mem.manifest("linux/amd64", 1, "a");
    let b = mem.manifest("linux/amd64", 1, "b");
    let index = mem.index(&[&a.desc, &b.desc]);
    let graph = load(&mem, &index);
    let err = graph.select_one(&p("linux/amd64")).unwrap_err();
    let SelectError::AmbiguousPlatform { digests, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(digests, &vec![a.desc.digest, b.desc.digest]);
}

// --- select: strict, several platforms ------------------------------------------------------

#[test]
fn select_without_platforms_is_every_complete_manifest_attestations_included() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let arm = mem.manifest("linux/arm64", 1, "a");
    let att = mem.attestation(&amd.desc);
    mem.remove(&arm.layers[0]);
    let index = mem.index(&[&amd.desc, &att.desc, &arm.desc]);
    let graph = load(&mem, &index);
    assert_eq!(
        digests(&graph.select(&[]).unwrap()),
        vec![amd.desc.digest, att.desc.digest]
    );
}

#[test]
fn select_brings_the_attestations_of_the_selected_manifests_only() {
    let mut mem = Mem::default();
    let (index, ms, atts) = three_platforms(&mut mem);
    let graph = load(&mem, &index);
    let selected = graph
        .select(&[p("linux/arm/v6"), p("linux/amd64")])
        .unwrap();
    // In walk order, whatever the order asked.
    assert_eq!(
        digests(&selected),
        vec![
            ms[0].desc.digest,
            atts[0].desc.digest,
            ms[2].desc.digest,
            atts[2].desc.digest
        ]
    );
}

#[test]
fn select_leaves_out_an_incomplete_attestation() {
    let mut mem = Mem::default();
    let amd = mem.manifest("linux/amd64", 1, "a");
    let att = mem.attestation(&amd.desc);
    mem.remove(&att.layers[0]);
    let index = mem.index(&[&amd.desc, &att.desc]);
    let graph = load(&mem, &index);
    assert_eq!(
        digests(&graph.select(&[p("linux/amd64")]).unwrap()),
        vec![amd.desc.digest]
    );
}

#[test]
fn select_fails_when_any_requested_platform_is_missing() {
    let mut mem = Mem::default();
    let (index, _, _) = three_platforms(&mut mem);
    let graph = load(&mem, &index);
    // moby#50166: Docker drops the missing platform and saves the rest; we refuse.
    let err = graph
        .select(&[p("linux/amd64"), p("linux/s390x")])
        .unwrap_err();
    let SelectError::PlatformNotFound {
        requested,
        available,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(requested, &p("linux/s390x"));
    assert_eq!(available.len(), 3);
}

#[test]
fn select_lists_a_manifest_asked_for_under_two_aliases_once() {
    let mut mem = Mem::default();
    let (index, ms, atts) = three_platforms(&mut mem);
    let graph = load(&mem, &index);
    let selected = graph
        .select(&[p("linux/arm64"), p("linux/aarch64/v8")])
        .unwrap();
    assert_eq!(
        digests(&selected),
        vec![ms[1].desc.digest, atts[1].desc.digest]
    );
}

#[test]
fn preferred_is_never_an_attestation_and_puts_unnamed_platforms_last() {
    let mut mem = Mem::default();
    let host = mem.manifest(&Platform::host().format(), 1, "a");
    let att = mem.attestation(&host.desc);
    let mut unnamed = mem.manifest("linux/amd64", 1, "b");
    unnamed.desc.platform = None;
    let index = mem.index(&[&att.desc, &unnamed.desc, &host.desc]);
    let mut graph = load(&mem, &index);
    // Lose the config-derived platform too: only the descriptor's counts for `preferred`.
    graph.manifests[1].platform = None;
    let all: Vec<&PlatformManifest> = graph.manifests.iter().collect();
    let best = ImageGraph::preferred(&all).unwrap();
    assert_eq!(best.descriptor.digest, host.desc.digest);
    assert!(ImageGraph::preferred(&all[..1]).is_none());
}

// --- REFs -----------------------------------------------------------------------------------

fn reference(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap()
}

const HEX: &str = "3f2a9c0000000000000000000000000000000000000000000000000000000001";

#[test]
fn parse_reads_each_form_of_ref() {
    let parse = |s: &str, whole| ImageQuery::parse(s, whole).unwrap();
    assert_eq!(
        parse("alpine", false),
        ImageQuery::Tagged(reference("docker.io/library/alpine:latest"))
    );
    assert_eq!(
        parse("alpine", true),
        ImageQuery::Repository(reference("docker.io/library/alpine"))
    );
    // A tag is a tag, even for commands that take every tag of a repository.
    assert_eq!(
        parse("example.com/a/b:1", true),
        ImageQuery::Tagged(reference("example.com/a/b:1"))
    );
    let digest: Digest = format!("sha256:{HEX}").parse().unwrap();
    assert_eq!(
        parse(&format!("sha256:{HEX}"), false),
        ImageQuery::Digest(digest)
    );
    // 64 hex digits alone are an image ID (distribution/reference ParseAnyReference).
    assert_eq!(parse(HEX, true), ImageQuery::Digest(digest));
    assert_eq!(
        parse(&format!("example.com/a:1@sha256:{HEX}"), false),
        ImageQuery::NamedDigest {
            repository: reference("example.com/a"),
            digest
        }
    );
}

#[test]
fn parse_takes_four_to_63_hex_digits_as_a_name_or_an_id_prefix() {
    let q = ImageQuery::parse("3f2a", false).unwrap();
    assert_eq!(
        q,
        ImageQuery::NameOrIdPrefix {
            name: Box::new(ImageQuery::Tagged(reference("3f2a:latest"))),
            prefix: "3f2a".into()
        }
    );
    let q = ImageQuery::parse("sha256:3f2a9c", true).unwrap();
    let ImageQuery::NameOrIdPrefix { prefix, .. } = q else {
        panic!("{q:?}");
    };
    assert_eq!(prefix, "3f2a9c");
    // moby checkTruncatedID: fewer than 4 digits, or a non-hex letter, is only a name.
    assert!(matches!(
        ImageQuery::parse("3f2", false).unwrap(),
        ImageQuery::Tagged(_)
    ));
    assert!(matches!(
        ImageQuery::parse("3f2g", false).unwrap(),
        ImageQuery::Tagged(_)
    ));
}

#[test]
fn parse_refuses_what_is_neither_a_reference_nor_a_digest() {
    for bad in ["Alpine", "a b", "sha256:xyz:1:2", ""] {
        let err = ImageQuery::parse(bad, false).unwrap_err();
        assert!(
            matches!(err, ImageError::BadReference { .. }),
            "{bad}: {err}"
        );
    }
}

/// A store listing images by hand: `find` reads only the list, not the images' blobs.
fn store_with(records: &[(&str, Option<&str>)]) -> (tempfile::TempDir, Store) {
    let (dir, store) = crate::testing::temp_store();
    let records: Vec<ImageRecord> = records
        .iter()
        .map(|(hex, name)| {
            let d = Descriptor::new(MEDIA_TYPE_OCI_INDEX, Digest::from_hex(hex).unwrap(), 100);
            match name {
                Some(n) => ImageRecord::named(d, &reference(n)),
                None => ImageRecord::unnamed(d),
            }
        })
        .collect();
    store
        .update_images(|images| {
            images.extend(records);
            Ok(())
        })
        .unwrap();
    (dir, store)
}

fn hex(prefix: &str) -> String {
    format!("{prefix:0<64}")
}

fn find(store: &Store, query: &str, whole: bool) -> Result<Vec<ImageRecord>, ImageError> {
    ImageQuery::parse(query, whole)?.find(store, query)
}

fn found(store: &Store, query: &str, whole: bool) -> Vec<(String, Option<String>)> {
    find(store, query, whole)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .iter()
        .map(|r| (r.target.digest.hex(), r.name().map(|n| n.to_string())))
        .collect()
}

#[test]
fn find_resolves_short_and_full_names_and_whole_repositories() {
    let (a, b, c) = (hex("aaaa1"), hex("aaaa2"), hex("bbbb"));
    let (_dir, store) = store_with(&[
        (&a, Some("alpine:latest")),
        (&b, Some("example.com/app:1")),
        (&c, Some("example.com/app:2")),
    ]);
    let named = |h: &str, n: &str| (h.to_string(), Some(reference(n).to_string()));
    assert_eq!(
        found(&store, "alpine", false),
        vec![named(&a, "alpine:latest")]
    );
    assert_eq!(
        found(&store, "docker.io/library/alpine:latest", false),
        vec![named(&a, "alpine:latest")]
    );
    assert_eq!(
        found(&store, "example.com/app:2", false),
        vec![named(&c, "example.com/app:2")]
    );
    assert_eq!(
        found(&store, "example.com/app", true),
        vec![
            named(&b, "example.com/app:1"),
            named(&c, "example.com/app:2")
        ]
    );
    // For a single-image command a bare name means `:latest`, which is not stored.
    let err = find(&store, "example.com/app", false).unwrap_err();
    assert!(matches!(err, ImageError::NoSuchImage { .. }), "{err}");
}

#[test]
fn find_by_digest_or_id_gives_the_one_image_unnamed() {
    let a = hex("aaaa1");
    let (_dir, store) = store_with(&[(&a, Some("x:1")), (&a, Some("x:2")), (&hex("c"), None)]);
    for query in [format!("sha256:{a}"), a.clone()] {
        assert_eq!(found(&store, &query, false), vec![(a.clone(), None)]);
    }
}

#[test]
fn find_by_name_at_digest_needs_that_repository() {
    let a = hex("aaaa1");
    let (_dir, store) = store_with(&[(&a, Some("example.com/x:1"))]);
    assert_eq!(
        found(&store, &format!("example.com/x@sha256:{a}"), false),
        vec![(a.clone(), None)]
    );
    let err = find(&store, &format!("example.com/y@sha256:{a}"), false).unwrap_err();
    assert!(matches!(err, ImageError::NoSuchImage { .. }), "{err}");
}

#[test]
fn find_by_unique_id_prefix_and_refuses_an_ambiguous_one() {
    let (a, b) = (hex("aaaa1"), hex("aaaa2"));
    let (_dir, store) = store_with(&[(&a, Some("x:1")), (&b, None)]);
    assert_eq!(found(&store, "aaaa1", false), vec![(a.clone(), None)]);
    assert_eq!(
        found(&store, "sha256:aaaa2", false),
        vec![(b.clone(), None)]
    );
    let err = find(&store, "aaaa", false).unwrap_err();
    let ImageError::AmbiguousImageId { digests, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        digests.iter().map(Digest::hex).collect::<Vec<_>>(),
        vec![a, b]
    );
    let err = find(&store, "bbbb", false).unwrap_err();
    assert!(matches!(err, ImageError::NoSuchImage { .. }), "{err}");
}

#[test]
fn find_prefers_a_stored_name_spelled_like_an_id_prefix() {
    let (a, b) = (hex("aaaa1"), hex("aaaa2"));
    let (_dir, store) = store_with(&[(&a, None), (&b, None), (&hex("c"), Some("aaaa:latest"))]);
    // moby resolveImage: the name is looked up before the truncated ID.
    assert_eq!(
        found(&store, "aaaa", false),
        vec![(hex("c"), Some("docker.io/library/aaaa:latest".into()))]
    );
}
