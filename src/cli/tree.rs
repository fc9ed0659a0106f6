//! `imagefs ls --tree`: each image with its platforms beneath it, in the shape of
//! `docker image ls --tree` (docker/cli cli/command/image/tree.go: IMAGE, ID, DISK USAGE,
//! CONTENT SIZE columns three spaces apart, sizes in decimal units to three digits, `├─`/`└─`
//! before each platform, a blank line between images).
//!
//! Docker's USED column (containers) means nothing here; STORED says instead how much of each
//! platform the store holds (`complete`, `partial`, `absent`), which Docker shows only by
//! dimming the row. DISK USAGE is what the store holds of the image or platform (each blob
//! once); CONTENT SIZE is what its documents declare, whether stored or not (`-` when the
//! manifest saying it is absent). Attestation manifests are not rows, as in Docker, but their
//! blobs count in the image's sizes.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};

use super::CliResult;
use crate::digest::Digest;
use crate::image::{Availability, ImageGraph, PlatformManifest};
use crate::oci::Descriptor;
use crate::store::Store;

/// Spaces between columns (docker's `columnSpacing`).
const SPACING: usize = 3;
const BRANCH: &str = "├─ ";
const LAST: &str = "└─ ";

/// One row's figures.
#[derive(Debug, PartialEq, Eq)]
struct Details {
    id: Digest,
    disk: u64,
    content: Option<u64>,
    stored: &'static str,
}

/// An image: its names (or none), figures, and a row per platform.
#[derive(Debug)]
struct Node {
    names: Vec<String>,
    details: Details,
    platforms: Vec<(String, Details)>,
}

pub(super) fn ls_tree(store: &Store) -> CliResult {
    // Names sharing an image are one node, in the order the store lists them.
    let mut nodes: Vec<Node> = Vec::new();
    let mut node_of: HashMap<Digest, usize> = HashMap::new();
    for record in store.images()? {
        let digest = record.target.digest;
        let at = match node_of.get(&digest) {
            Some(&at) => at,
            None => {
                let node = match ImageGraph::load(store, &record.label(), &record.bare_target()) {
                    Ok(graph) => node(store, &graph),
                    Err(e) => {
                        log::warn!(target: "store", "{}: {}", record.label(), crate::error::chain(&e));
                        unreadable(store, &record.target)
                    }
                };
                nodes.push(node);
                node_of.insert(digest, nodes.len() - 1);
                nodes.len() - 1
            }
        };
        if let Some(name) = record.name() {
            nodes[at].names.push(name.to_string());
        }
    }
    let mut out = io::stdout().lock();
    out.write_all(render(&nodes).as_bytes())?;
    Ok(())
}

/// The figures of an image and of each of its (non-attestation) platforms.
fn node(store: &Store, graph: &ImageGraph) -> Node {
    let mut held = BTreeSet::new();
    let mut declared: BTreeSet<(Digest, u64)> = BTreeSet::new();
    let mut content_known = true;
    for index in &graph.indexes {
        held.insert(index.digest);
        declared.insert((index.digest, index.size));
    }
    let mut platforms = Vec::new();
    for m in &graph.manifests {
        let (disk_blobs, content) = closure(store, m);
        held.extend(disk_blobs.iter().copied());
        declared.insert((m.descriptor.digest, m.descriptor.size));
        declared.extend(m.children.iter().map(|c| (c.digest, c.size)));
        if m.is_attestation() {
            continue;
        }
        content_known &= content.is_some();
        let platform = m.platform.as_ref().map_or_else(
            || "unknown/unknown".to_string(),
            |p| p.normalize().format_all(),
        );
        platforms.push((
            platform,
            Details {
                id: m.descriptor.digest,
                disk: disk_usage(store, &disk_blobs),
                content,
                stored: stored_word(&m.availability),
            },
        ));
    }
    let complete = platforms.iter().all(|(_, d)| d.stored == "complete");
    Node {
        names: Vec::new(),
        details: Details {
            id: graph.target.digest,
            disk: disk_usage(store, &held),
            content: content_known.then(|| declared.iter().map(|(_, size)| size).sum()),
            stored: if complete { "complete" } else { "partial" },
        },
        platforms,
    }
}

/// An image whose graph cannot be read: what the store holds of its target, no platforms.
fn unreadable(store: &Store, target: &Descriptor) -> Node {
    Node {
        names: Vec::new(),
        details: Details {
            id: target.digest,
            disk: store.blob_size(&target.digest).unwrap_or(0),
            content: None,
            stored: "unreadable",
        },
        platforms: Vec::new(),
    }
}

/// The blobs of a platform manifest's closure the store holds, and the closure's declared size
/// (unknown while the manifest is absent).
fn closure(store: &Store, m: &PlatformManifest) -> (BTreeSet<Digest>, Option<u64>) {
    let all = std::iter::once(&m.descriptor).chain(&m.children);
    let held = all
        .clone()
        .filter(|d| store.has_blob(&d.digest))
        .map(|d| d.digest)
        .collect();
    let content = match m.availability {
        Availability::Absent | Availability::NotExamined => None,
        Availability::Complete | Availability::Partial { .. } => {
            let unique: BTreeSet<(Digest, u64)> = all.map(|d| (d.digest, d.size)).collect();
            Some(unique.iter().map(|(_, size)| size).sum())
        }
    };
    (held, content)
}

fn disk_usage(store: &Store, blobs: &BTreeSet<Digest>) -> u64 {
    blobs.iter().filter_map(|d| store.blob_size(d)).sum()
}

fn stored_word(a: &Availability) -> &'static str {
    match a {
        Availability::Complete => "complete",
        Availability::Partial { .. } => "partial",
        Availability::Absent => "absent",
        Availability::NotExamined => "unexamined",
    }
}

/// The whole listing.
fn render(nodes: &[Node]) -> String {
    const HEADERS: [&str; 5] = ["IMAGE", "ID", "DISK USAGE", "CONTENT SIZE", "STORED"];
    let first = nodes
        .iter()
        .flat_map(|n| {
            n.names
                .iter()
                .map(|s| s.chars().count())
                .chain(std::iter::once(NONE.len()))
                .chain(n.platforms.iter().map(|(p, _)| p.chars().count() + 3))
        })
        .chain(std::iter::once(HEADERS[0].len()))
        .max()
        .unwrap_or(0);
    let gap = " ".repeat(SPACING);
    let mut out = format!(
        "{:first$}{gap}{:12}{gap}{:>10}{gap}{:>12}{gap}{}\n",
        HEADERS[0], HEADERS[1], HEADERS[2], HEADERS[3], HEADERS[4]
    );
    let row = |label: &str, d: &Details| {
        let pad = first - label.chars().count();
        let id = &d.id.hex()[..12];
        let content = d.content.map_or_else(|| "-".to_string(), size);
        format!(
            "{label}{:pad$}{gap}{id}{gap}{:>10}{gap}{:>12}{gap}{}\n",
            "",
            size(d.disk),
            content,
            d.stored
        )
    };
    for (i, n) in nodes.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Every name on its own line, the figures on the last (as Docker prints RepoTags).
        let names: Vec<&str> = match n.names.is_empty() {
            true => vec![NONE],
            false => n.names.iter().map(String::as_str).collect(),
        };
        for name in &names[..names.len() - 1] {
            out += &format!("{name}\n");
        }
        out += &row(names[names.len() - 1], &n.details);
        for (j, (platform, d)) in n.platforms.iter().enumerate() {
            let glyph = if j + 1 == n.platforms.len() {
                LAST
            } else {
                BRANCH
            };
            out += &row(&format!("{glyph}{platform}"), d);
        }
    }
    out
}

/// How an unnamed image is shown (as `imagefs ls` does).
const NONE: &str = "<none>";

/// Decimal units, three significant digits, as docker's `units.HumanSizeWithPrecision(n, 3)`
/// (docker/go-units size.go): 512B, 3.42MB, 10.4MB, 118MB.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let decimals = match value {
        v if v >= 99.95 => 0,
        v if v >= 9.995 => 1,
        _ => 2,
    };
    let mut digits = format!("{value:.decimals$}");
    // `%g` drops trailing zeros: 3.00 → 3, 10.0 → 10.
    if digits.contains('.') {
        digits = digits
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string();
    }
    format!("{digits}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(512), "512B");
        assert_eq!(size(1000), "1kB");
        assert_eq!(size(3_420_000), "3.42MB");
        assert_eq!(size(10_400_000), "10.4MB");
        assert_eq!(size(118_000_000), "118MB");
        assert_eq!(size(3_000_000), "3MB");
        assert_eq!(size(1_500_000_000), "1.5GB");
    }

    #[test]
    fn platforms_hang_under_the_image_with_tree_glyphs_in_aligned_columns() {
        let d = |n: u8, disk, content, stored| Details {
            id: Digest::of(&[n]),
            disk,
            content,
            stored,
        };
        let nodes = [
            Node {
                names: vec!["a:1".into(), "a:latest".into()],
                details: d(0, 2_000, Some(3_000), "partial"),
                platforms: vec![
                    ("linux/amd64".into(), d(1, 2_000, Some(2_000), "complete")),
                    ("linux/arm64".into(), d(2, 0, None, "absent")),
                ],
            },
            Node {
                names: vec![],
                details: d(3, 10, Some(10), "complete"),
                platforms: vec![],
            },
        ];
        let id = |n: u8| Digest::of(&[n]).hex()[..12].to_string();
        let expected = format!(
            "\
IMAGE            ID             DISK USAGE   CONTENT SIZE   STORED
a:1
a:latest         {}          2kB            3kB   partial
├─ linux/amd64   {}          2kB            2kB   complete
└─ linux/arm64   {}           0B              -   absent

<none>           {}          10B            10B   complete
",
            id(0),
            id(1),
            id(2),
            id(3)
        );
        assert_eq!(render(&nodes), expected);
    }
}
