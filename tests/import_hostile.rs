//! Hostile and broken archives: each is rejected with an error naming the problem, and the store
//! is left exactly as it was (same `index.json` bytes, same blobs, nothing in `ingest/`), through
//! both the streaming (pipe) and the seeking (regular file) import paths. Nothing is ever written
//! outside the store.

mod common;
mod hostile;

#[path = "import_hostile/bounds.rs"]
mod bounds;

use common::*;
use hostile::*;
use imagefs::archive::ImportError;
use imagefs::digest::Digest;
use imagefs::oci::{DocumentError, MAX_DOCUMENT_SIZE};

/// A valid two-platform archive, its entries, and the store it came from.
fn base() -> (Fixture, Vec<Entry>) {
    let src = Fixture::new();
    add(
        &src.store,
        &small_spec("alpine", &["linux/amd64", "linux/arm64"]),
    );
    let entries = read_tar(&export(&src.store, &["alpine"], &[]));
    (src, entries)
}

/// `entries` with `extra` inserted just before `index.json`, i.e. after every blob has been
/// read (and spooled), so a late rejection must clean up.
fn with_entry(mut entries: Vec<Entry>, extra: Entry) -> Vec<Entry> {
    let at = entries
        .iter()
        .position(|e| e.name == "index.json")
        .expect("index.json");
    entries.insert(at, extra);
    entries
}

/// `base()` with `extra` inserted before `index.json`: rejected as `assert_rejected` says, with
/// every one of `needles` in the message.
#[track_caller]
fn assert_extra_entry_rejected(extra: Entry, needles: &[&str]) {
    let (_src, entries) = base();
    assert_rejected(&write_tar(&with_entry(entries, extra)), &[], needles);
}

/// `base()` with its entry `name` a second time: rejected, naming it.
#[track_caller]
fn assert_duplicate_rejected(name: &str) {
    let (_src, entries) = base();
    let dup = entry(&entries, name).clone();
    let bytes = write_tar(&with_entry(entries, dup));
    assert_rejected(&bytes, &[], &[name, "more than once"]);
}

/// The (first) `index.json` entry.
fn index_entry(entries: &mut [Entry]) -> &mut Entry {
    entries
        .iter_mut()
        .find(|e| e.name == "index.json")
        .expect("index.json")
}

/// A layer unique to `platform` (not the shared base).
fn unique_layer(src: &Fixture, platform: &str, other: &str) -> Digest {
    let (_, children) = platform_closure(&src.store, "alpine", platform);
    let (_, others) = platform_closure(&src.store, "alpine", other);
    *children[1..]
        .iter()
        .find(|d| !others.contains(d))
        .expect("a unique layer")
}

/// Imports `bytes` (with `platforms`) into a store that already holds an image, through the
/// stream and the file paths; each must fail with a message containing every one of `needles`
/// and leave the store exactly as before. Returns the stream path's message.
#[track_caller]
fn assert_rejected(bytes: &[u8], platforms: &[&str], needles: &[&str]) -> String {
    imagefs::error::chain(&rejection(bytes, platforms, needles))
}

/// `assert_rejected`, returning the stream path's error itself.
#[track_caller]
fn rejection(bytes: &[u8], platforms: &[&str], needles: &[&str]) -> ImportError {
    let mut errors = Vec::new();
    for via_file in [false, true] {
        let f = Fixture::new();
        let mut existing = small_spec("example.com/keep/me:1", &["linux/s390x"]);
        existing.seed = 77;
        existing.shared_base = false;
        add(&f.store, &existing);
        let before = snapshot(f.root());
        let result = if via_file {
            let path = f.path("hostile.tar");
            std::fs::write(&path, bytes).expect("write archive");
            import_path(&f.store, &path, platforms)
        } else {
            import_bytes(&f.store, bytes, platforms)
        };
        let e = match result {
            Ok(loaded) => panic!("import succeeded (file: {via_file}): {loaded:?}"),
            Err(e) => e,
        };
        let err = imagefs::error::chain(&e);
        for n in needles {
            assert!(err.contains(n), "(file: {via_file}) {err:?} lacks {n:?}");
        }
        assert_unchanged(&f.store, &before);
        errors.push(e);
    }
    errors.swap_remove(0)
}

/// The cause of a rejected document: the `DocumentError` in an error's source chain.
fn document_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> &'a DocumentError {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(d) = err.downcast_ref::<DocumentError>() {
            return d;
        }
        cur = err.source();
    }
    panic!("no document error in the chain of {e}")
}

#[test]
fn import_rejects_dotdot_path() {
    assert_extra_entry_rejected(Entry::file("blobs/../../evil", b"x"), &["blobs/../../evil"]);
}

#[test]
fn import_rejects_absolute_path() {
    assert_extra_entry_rejected(
        Entry::file("/tmp/imagefs-evil", b"x"),
        &["/tmp/imagefs-evil"],
    );
}

#[test]
fn import_rejects_symlink_escaping_archive() {
    let link = Entry::link(
        "blobs/sha256/esc",
        tar::EntryType::Symlink,
        "../../../etc/passwd",
    );
    assert_extra_entry_rejected(link, &["blobs/sha256/esc", "../../../etc/passwd"]);
}

#[test]
fn import_rejects_hard_link_escaping_archive() {
    let link = Entry::link("blobs/sha256/hard", tar::EntryType::Link, "../etc/shadow");
    assert_extra_entry_rejected(link, &["blobs/sha256/hard", "../etc/shadow"]);
}

#[test]
fn import_rejects_absolute_symlink_and_writes_nothing_outside() {
    let outside = tempfile::tempdir().expect("outside dir");
    let target = outside.path().join("x");
    let target_str = target.to_str().expect("utf-8 path");
    let (_src, entries) = base();
    let entries = with_entry(
        entries,
        Entry::link("blobs/sha256/x", tar::EntryType::Symlink, target_str),
    );
    // A file written through the link, and a file with the link's own name.
    let entries = with_entry(entries, Entry::file("blobs/sha256/x/pwned", b"owned"));
    let entries = with_entry(entries, Entry::file("blobs/sha256/x", b"overwrite"));
    let bytes = write_tar(&entries);
    assert_rejected(&bytes, &[], &["blobs/sha256/x"]);
    let left: Vec<_> = std::fs::read_dir(outside.path())
        .expect("read outside")
        .collect();
    assert!(
        left.is_empty(),
        "files appeared outside the store: {left:?}"
    );
}

#[test]
fn import_rejects_character_device() {
    let special = Entry::special("blobs/sha256/null", tar::EntryType::Char);
    assert_extra_entry_rejected(special, &["blobs/sha256/null", "device"]);
}

#[test]
fn import_rejects_block_device() {
    let special = Entry::special("blobs/sha256/sda", tar::EntryType::Block);
    assert_extra_entry_rejected(special, &["blobs/sha256/sda", "device"]);
}

#[test]
fn import_rejects_fifo() {
    let special = Entry::special("blobs/sha256/pipe", tar::EntryType::Fifo);
    assert_extra_entry_rejected(special, &["blobs/sha256/pipe", "fifo"]);
}

#[test]
fn import_rejects_digest_mismatch_in_selected_blob() {
    let (src, mut entries) = base();
    let layer = unique_layer(&src, "linux/arm64", "linux/amd64");
    let e = entries
        .iter_mut()
        .find(|e| e.name == blob_name(&layer))
        .expect("layer entry");
    let last = e.data.len() - 1;
    e.data[last] ^= 0xff;
    let bytes = write_tar(&entries);
    assert_rejected(&bytes, &["linux/arm64"], &[&layer.hex()]);
    assert_rejected(&bytes, &[], &[&layer.hex()]);
}

/// Replaces blob `old` by `data` and rewrites every document that refers to it (recursively up
/// to `index.json`), so the archive stays consistent apart from what the caller broke.
fn rewrite_blob(entries: &mut Vec<Entry>, old: Digest, data: Vec<u8>) -> Digest {
    let old_size = entries
        .iter()
        .find(|e| e.name == blob_name(&old))
        .expect("blob entry")
        .data
        .len();
    let new = Digest::of(&data);
    let from = format!("\"{old}\",\"size\":{old_size}");
    let to = format!("\"{new}\",\"size\":{}", data.len());
    for e in entries.iter_mut() {
        if e.name == blob_name(&old) {
            e.name = blob_name(&new);
            e.data = data.clone();
        }
    }
    let parents: Vec<(Digest, Vec<u8>)> = entries
        .iter()
        .filter(|e| text(&e.data).contains(&from))
        .filter_map(|e| {
            let updated = text(&e.data).replace(&from, &to).into_bytes();
            e.name
                .strip_prefix("blobs/sha256/")
                .map(|hex| (Digest::from_hex(hex).expect("hex"), updated))
        })
        .collect();
    for e in entries.iter_mut() {
        if !e.name.starts_with("blobs/") && text(&e.data).contains(&from) {
            e.data = text(&e.data).replace(&from, &to).into_bytes();
        }
    }
    for (digest, updated) in parents {
        rewrite_blob(entries, digest, updated);
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    new
}

#[test]
fn import_rejects_size_mismatch() {
    let (src, mut entries) = base();
    let layer = unique_layer(&src, "linux/arm64", "linux/amd64");
    let (manifest, _) = platform_closure(&src.store, "alpine", "linux/arm64");
    let layer_len = entry(&entries, &blob_name(&layer)).data.len();
    let doc = text(&entry(&entries, &blob_name(&manifest)).data);
    let from = format!("\"{layer}\",\"size\":{layer_len}");
    assert!(doc.contains(&from), "{doc}");
    // The manifest claims one byte more than the layer has; the digest is right.
    let lying = doc.replace(&from, &format!("\"{layer}\",\"size\":{}", layer_len + 1));
    rewrite_blob(&mut entries, manifest, lying.into_bytes());
    let bytes = write_tar(&entries);
    let msg = assert_rejected(&bytes, &["linux/arm64"], &[&layer.hex()]);
    assert!(msg.contains(&(layer_len + 1).to_string()), "{msg}");
}

#[test]
fn import_rejects_missing_blob_of_selected_platform() {
    let (src, entries) = base();
    let layer = unique_layer(&src, "linux/arm64", "linux/amd64");
    let entries: Vec<Entry> = entries
        .into_iter()
        .filter(|e| e.name != blob_name(&layer))
        .collect();
    assert_rejected(&write_tar(&entries), &["linux/arm64"], &[&layer.hex()]);
}

#[test]
fn import_rejects_archive_truncated_mid_entry() {
    let (src, entries) = base();
    let layer = unique_layer(&src, "linux/arm64", "linux/amd64");
    let bytes = write_tar(&entries);
    // Cut in the middle of the layer's data.
    let mut offset = 0;
    for e in &entries {
        if e.name == blob_name(&layer) {
            break;
        }
        offset += 512 + e.data.len().next_multiple_of(512);
    }
    let cut = offset + 512 + entry(&entries, &blob_name(&layer)).data.len() / 2;
    assert_rejected(&bytes[..cut], &[], &["truncated"]);
}

#[test]
fn import_rejects_archive_cut_at_entry_boundary_without_trailer() {
    let (_src, entries) = base();
    let bytes = write_tar(&entries);
    // Every entry is there, the two zero blocks are not.
    assert_rejected(&bytes[..bytes.len() - 1024], &[], &["truncated"]);
}

#[test]
fn import_rejects_duplicate_index_json() {
    assert_duplicate_rejected("index.json");
}

#[test]
fn import_rejects_duplicate_manifest_json() {
    assert_duplicate_rejected("manifest.json");
}

#[test]
fn import_rejects_duplicate_oci_layout() {
    assert_duplicate_rejected("oci-layout");
}

#[test]
fn import_rejects_json_over_size_limit() {
    let (_src, mut entries) = base();
    let index = index_entry(&mut entries);
    // Valid JSON, 21 MiB: padding inside the object.
    let mut big = index.data.clone();
    big.pop();
    big.extend_from_slice(b",\"pad\":\"");
    big.resize(21 << 20, b'a');
    big.extend_from_slice(b"\"}");
    let size = big.len() as u64;
    index.data = big;
    let e = rejection(
        &write_tar(&entries),
        &[],
        &[
            "index.json",
            "document of 22020098 bytes exceeds the 20971520-byte limit",
        ],
    );
    // The cause is the size bound, with the document's size and the limit.
    match document_cause(&e) {
        DocumentError::TooLarge { size: s, limit } => {
            assert_eq!((*s, *limit), (size, MAX_DOCUMENT_SIZE), "{e}");
        }
        other => panic!("the size limit must be the cause, not {other:?}"),
    }
}

#[test]
fn import_rejects_absurdly_nested_json() {
    let (_src, mut entries) = base();
    let index = index_entry(&mut entries);
    let mut deep = index.data.clone();
    deep.pop();
    deep.extend_from_slice(b",\"x\":");
    deep.extend(std::iter::repeat_n(b'[', 100_000));
    deep.extend(std::iter::repeat_n(b']', 100_000));
    deep.push(b'}');
    index.data = deep;
    let e = rejection(
        &write_tar(&entries),
        &[],
        &["index.json", "JSON nested deeper than 64 levels"],
    );
    // The cause is the nesting bound (checked before serde sees the document), not a parse
    // error such as serde_json's own recursion limit.
    assert!(
        matches!(document_cause(&e), DocumentError::TooDeep),
        "the nesting bound must be the cause: {e:?}"
    );
}

#[test]
fn import_rejects_empty_input() {
    assert_rejected(b"", &[], &["empty"]);
    assert_rejected(&[0u8; 1024], &[], &["empty"]);
}

#[test]
fn import_rejects_non_tar_garbage() {
    // Deterministic junk that is not a tar header (bad checksum) and not a known magic.
    let mut junk = Vec::with_capacity(4096);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        junk.push((x >> 24) as u8);
    }
    junk[0] = b'G';
    assert_rejected(&junk, &[], &["tar"]);
}

#[test]
fn import_rejects_unsupported_oci_layout_version() {
    let (_src, mut entries) = base();
    let layout = entries
        .iter_mut()
        .find(|e| e.name == "oci-layout")
        .expect("oci-layout");
    layout.data = br#"{"imageLayoutVersion":"2.0.0"}"#.to_vec();
    assert_rejected(&write_tar(&entries), &[], &["2.0.0"]);
}

#[test]
fn import_ignores_broken_blob_of_filtered_out_platform() {
    let (src, mut entries) = base();
    let amd_layer = unique_layer(&src, "linux/amd64", "linux/arm64");
    let e = entries
        .iter_mut()
        .find(|e| e.name == blob_name(&amd_layer))
        .expect("layer entry");
    e.data[0] ^= 0xff;
    let bytes = write_tar(&entries);
    for via_file in [false, true] {
        let f = Fixture::new();
        let result = if via_file {
            let path = f.path("a.tar");
            std::fs::write(&path, &bytes).expect("write");
            import_path(&f.store, &path, &["linux/arm64"])
        } else {
            import_bytes(&f.store, &bytes, &["linux/arm64"])
        };
        result.unwrap_or_else(|e| panic!("(file: {via_file}) {}", imagefs::error::chain(&e)));
        let (m, children) = platform_closure(&src.store, "alpine", "linux/arm64");
        assert!(f.store.has_blob(&m));
        assert!(children.iter().all(|d| f.store.has_blob(d)));
        assert!(!f.store.blob_path(&amd_layer).exists());
        assert_eq!(ingest_leftovers(&f.store), Vec::<String>::new());
    }
}

/// The archive with `name`'s header replaced by a PAX header carrying its path and size and a
/// ustar header with a dummy name and size 0, as Go's `archive/tar` writes members of 8 GiB+.
fn with_pax_size_and_path(entries: &[Entry], name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        if e.name == name {
            let records = pax_record("size", &e.data.len().to_string()) + &pax_record("path", name);
            out.extend(header_bytes(
                "PaxHeaders/0",
                tar::EntryType::XHeader,
                records.len() as u64,
            ));
            out.extend_from_slice(records.as_bytes());
            out.resize(out.len().next_multiple_of(512), 0);
            out.extend(header_bytes("dummy", tar::EntryType::Regular, 0));
        } else {
            out.extend(write_tar(std::slice::from_ref(e)));
            out.truncate(out.len() - 1024);
            continue;
        }
        out.extend_from_slice(&e.data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn import_applies_pax_size_and_path_records() {
    let (src, entries) = base();
    let layer = unique_layer(&src, "linux/arm64", "linux/amd64");
    let bytes = with_pax_size_and_path(&entries, &blob_name(&layer));
    for via_file in [false, true] {
        let f = Fixture::new();
        let result = if via_file {
            let path = f.path("a.tar");
            std::fs::write(&path, &bytes).expect("write");
            import_path(&f.store, &path, &[])
        } else {
            import_bytes(&f.store, &bytes, &[])
        };
        result.unwrap_or_else(|e| panic!("(file: {via_file}) {}", imagefs::error::chain(&e)));
        assert!(f.store.has_blob(&layer), "(file: {via_file})");
    }
}

#[test]
fn import_names_the_entry_before_a_bad_header() {
    let (_src, entries) = base();
    let mut bytes = write_tar(&entries);
    // Corrupt the checksum of the second header; the first entry is the one before it.
    let second = 512 + entries[0].data.len().next_multiple_of(512);
    bytes[second + 148] = b'9';
    let first = entries[0].name.clone();
    let msg = assert_rejected(
        &bytes,
        &[],
        &["checksum", &format!("in the header after entry {first:?}")],
    );
    assert!(!msg.contains(" at "), "{msg}");
    bytes = write_tar(&entries);
    bytes[148] = b'9';
    assert_rejected(&bytes, &[], &["checksum", "at the first header"]);
}

/// A single-platform docker-archive of `alpine` (manifest.json and the blobs it names).
fn docker_archive() -> Vec<Entry> {
    let src = Fixture::new();
    add(&src.store, &small_spec("alpine", &["linux/arm64"]));
    let mut entries = read_tar(&export(&src.store, &["alpine"], &["linux/arm64"]));
    entries.retain(|e| e.name != "index.json" && e.name != "oci-layout");
    entries
}

#[test]
fn import_rejects_config_platform_variant_that_cannot_be_addressed() {
    let mut entries = docker_archive();
    let manifest = json(&entry(&entries, "manifest.json").data);
    let config_path = manifest[0]["Config"].as_str().expect("Config").to_string();
    let mut config = json(&entry(&entries, &config_path).data);
    config["variant"] = "v9/../x".into();
    let data = serde_json::to_vec(&config).expect("encode");
    let new_path = blob_name(&Digest::of(&data));
    for e in entries.iter_mut() {
        if e.name == config_path {
            e.name = new_path.clone();
            e.data = data.clone();
        } else if e.name == "manifest.json" {
            e.data = text(&e.data).replace(&config_path, &new_path).into_bytes();
        }
    }
    assert_rejected(
        &write_tar(&entries),
        &[],
        &[
            "image alpine:latest",
            "platform variant \"v9/../x\"",
            "[A-Za-z0-9_.-]",
        ],
    );
}

#[test]
fn import_rejects_a_platform_whose_mount_file_name_reads_back_as_another() {
    // `v7-x` is a valid containerd component, but `linux-arm-v7-x.tar` would read back as
    // another platform: listed under by-platform/ and never found, failing every backup.
    for (variant, says) in [
        ("v7-x", "cannot be named in the mount"),
        ("..", "is not a valid platform component"),
    ] {
        let mut entries = docker_archive();
        let manifest = json(&entry(&entries, "manifest.json").data);
        let config_path = manifest[0]["Config"].as_str().expect("Config").to_string();
        let mut config = json(&entry(&entries, &config_path).data);
        config["architecture"] = "arm".into();
        config["variant"] = variant.into();
        let data = serde_json::to_vec(&config).expect("encode");
        let new_path = blob_name(&Digest::of(&data));
        for e in entries.iter_mut() {
            if e.name == config_path {
                e.name = new_path.clone();
                e.data = data.clone();
            } else if e.name == "manifest.json" {
                e.data = text(&e.data).replace(&config_path, &new_path).into_bytes();
            }
        }
        assert_rejected(&write_tar(&entries), &[], &["image alpine:latest", says]);
    }
}

#[test]
fn import_rejects_index_platform_variant_that_cannot_be_addressed() {
    let (_src, mut entries) = base();
    let top = json(&entry(&entries, "index.json").data)["manifests"][0]["digest"]
        .as_str()
        .expect("digest")
        .parse::<Digest>()
        .expect("digest");
    let mut index = json(&entry(&entries, &blob_name(&top)).data);
    for m in index["manifests"].as_array_mut().expect("manifests") {
        if m["platform"]["architecture"] == "arm64" {
            m["platform"]["variant"] = "v9/../x".into();
        }
    }
    rewrite_blob(
        &mut entries,
        top,
        serde_json::to_vec(&index).expect("encode"),
    );
    assert_rejected(
        &write_tar(&entries),
        &[],
        &[
            "platform variant \"v9/../x\"",
            "is not a valid platform component",
        ],
    );
}

#[test]
fn import_rejects_repo_tag_with_a_digest_that_is_not_the_image() {
    let mut entries = docker_archive();
    let wrong = Digest::of(b"another image");
    for e in entries.iter_mut().filter(|e| e.name == "manifest.json") {
        let mut doc = json(&e.data);
        doc[0]["RepoTags"] = serde_json::json!([format!("example.com/app:1@{wrong}")]);
        e.data = serde_json::to_vec(&doc).expect("encode");
    }
    assert_rejected(
        &write_tar(&entries),
        &[],
        &["example.com/app:1@", &format!("it names digest {wrong}")],
    );
}

#[test]
fn import_rejects_index_name_with_a_digest_that_is_not_the_image() {
    let (_src, mut entries) = base();
    let wrong = Digest::of(b"another image");
    for e in entries.iter_mut().filter(|e| e.name == "index.json") {
        let mut doc = json(&e.data);
        doc["manifests"][0]["annotations"]["io.containerd.image.name"] =
            format!("example.com/app@{wrong}").into();
        e.data = serde_json::to_vec(&doc).expect("encode");
    }
    assert_rejected(
        &write_tar(&entries),
        &[],
        &["example.com/app@", &format!("it names digest {wrong}")],
    );
}
