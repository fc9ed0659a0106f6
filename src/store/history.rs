//! The name history: what each name pointed to before an import moved it, so that nothing a name
//! pointed to is lost silently (moby#48591: `docker load` overwrites names and the old image is
//! gone with the next prune). Kept in `history.json` beside `index.json`, written under the same
//! index lock and before it, so a crash between the two leaves at worst one entry too many.
//!
//! `gc` keeps every blob an entry's target reaches until the entry expires (`gc --keep-history`)
//! or is dropped; `imagefs restore NAME` puts a previous target back. The file is ours, not part
//! of the OCI layout: peers reading the store as `oci:DIR` never see it.

use std::fs;
use std::io;
use std::path::Path;

use serde::Deserialize;

use super::StoreError;
use crate::digest::Digest;
use crate::gojson::ObjectWriter;
use crate::oci::{self, Descriptor};
use crate::reference::Reference;

pub(super) const HISTORY_FILE: &str = "history.json";
/// Where `fsck --repair` moves a history it cannot read (with the time appended, so a second
/// repair never overwrites the first's).
pub(super) const HISTORY_SET_ASIDE: &str = "history.json.unreadable";
/// Previous targets kept per name; older ones are dropped first. A name moved by every nightly
/// import would otherwise grow the file without bound.
pub const MAX_ENTRIES_PER_NAME: usize = 10;
/// An entry whose target descriptor encodes larger than this keeps only what identifies the
/// image (media type, digest, size, platform): its annotations could be 64 KiB each.
const MAX_ENTRY_TARGET_SIZE: usize = 4 << 10;
/// Largest history written: the oldest entries are dropped past it, so no sequence of imports
/// can grow the file to where it can no longer be read (and `gc`, which expires entries, with it).
pub(super) const MAX_HISTORY_WRITE: usize = 64 << 20;
/// Largest history file read: well above anything written.
const MAX_HISTORY_SIZE: u64 = 256 << 20;

/// One previous target of a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The full normalised name that pointed to `target`.
    pub name: String,
    /// The top-level descriptor the name pointed to, without the store's name annotations.
    pub target: Descriptor,
    /// When the name was moved away from `target` (seconds since the epoch).
    pub replaced_at: u64,
    /// What the name was moved to.
    pub replaced_by: Digest,
}

impl HistoryEntry {
    pub fn reference(&self) -> Option<Reference> {
        Reference::parse_normalized(&self.name).ok()
    }
}

#[derive(Deserialize)]
struct HistoryFile {
    #[serde(rename = "imagefsHistoryVersion")]
    version: u32,
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    name: String,
    target: Descriptor,
    replaced_at: u64,
    replaced_by: Digest,
}

pub(super) fn read_history(path: &Path) -> Result<Vec<HistoryEntry>, StoreError> {
    // Never through a symlink; and only a regular file (a FIFO would block every writer).
    let bytes = match fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => {
            return Err(StoreError::CorruptDocument {
                path: path.to_path_buf(),
                source: oci::DocumentError::Unsupported("not a regular file".into()),
            });
        }
        Ok(m) if m.len() > MAX_HISTORY_SIZE => {
            return Err(StoreError::CorruptDocument {
                path: path.to_path_buf(),
                source: oci::DocumentError::TooLarge {
                    size: m.len(),
                    limit: MAX_HISTORY_SIZE,
                },
            });
        }
        Ok(_) => {
            let mut bytes = Vec::new();
            super::lock::open_no_follow(path)
                .and_then(|mut f| std::io::Read::read_to_end(&mut f, &mut bytes))
                .map_err(|e| StoreError::io("read", path, e))?;
            bytes
        }
        // A store that never moved a name has no history file.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io("stat", path, e)),
    };
    let file: HistoryFile =
        serde_json::from_slice(&bytes).map_err(|e| StoreError::CorruptDocument {
            path: path.to_path_buf(),
            source: oci::DocumentError::Invalid(e),
        })?;
    if file.version != 1 {
        return Err(StoreError::CorruptDocument {
            path: path.to_path_buf(),
            source: oci::DocumentError::Unsupported(format!(
                "name history version {} (this build reads version 1)",
                file.version
            )),
        });
    }
    Ok(file
        .entries
        .into_iter()
        .map(|e| HistoryEntry {
            name: e.name,
            target: e.target,
            replaced_at: e.replaced_at,
            replaced_by: e.replaced_by,
        })
        .collect())
}

pub(super) fn encode_history(entries: &[HistoryEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut o = ObjectWriter::begin(&mut out);
    o.number("imagefsHistoryVersion", 1);
    let list = o.key("entries");
    list.push(b'[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            list.push(b',');
        }
        let mut w = ObjectWriter::begin(list);
        w.string("name", &e.name);
        e.target.write_json(w.key("target"));
        w.number("replacedAt", e.replaced_at);
        w.string("replacedBy", &e.replaced_by.to_string());
        w.end();
    }
    list.push(b']');
    o.end();
    out.push(b'\n');
    out
}

/// Newest first per name, names in order; at most [`MAX_ENTRIES_PER_NAME`] per name; oversized
/// targets shrunk; and the oldest entries dropped while the file would exceed
/// [`MAX_HISTORY_WRITE`]. Returns how many entries that last rule dropped.
pub(super) fn normalize(entries: &mut Vec<HistoryEntry>) -> usize {
    normalize_within(entries, MAX_HISTORY_WRITE)
}

fn normalize_within(entries: &mut Vec<HistoryEntry>, max_size: usize) -> usize {
    for e in entries.iter_mut() {
        let mut encoded = Vec::new();
        e.target.write_json(&mut encoded);
        if encoded.len() > MAX_ENTRY_TARGET_SIZE {
            e.target.annotations.clear();
            e.target.urls.clear();
            e.target.data = None;
            e.target.artifact_type = None;
        }
    }
    entries.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(b.replaced_at.cmp(&a.replaced_at))
            .then(a.target.digest.cmp(&b.target.digest))
    });
    // The same (name, target) twice says nothing more than the newest of them.
    entries.dedup_by(|later, earlier| {
        later.name == earlier.name && later.target.digest == earlier.target.digest
    });
    let mut kept = 0;
    let mut current: Option<String> = None;
    entries.retain(|e| {
        if current.as_deref() != Some(e.name.as_str()) {
            current = Some(e.name.clone());
            kept = 0;
        }
        kept += 1;
        if kept > MAX_ENTRIES_PER_NAME {
            log::warn!(target: "store", "{}: the name history keeps {MAX_ENTRIES_PER_NAME} \
                previous images per name; dropped {} (replaced {}), which goes with the next gc",
                e.name, e.target.digest, format_time(e.replaced_at));
        }
        kept <= MAX_ENTRIES_PER_NAME
    });
    let size = encode_history(entries).len();
    if size <= max_size {
        return 0;
    }
    // Drop the oldest entries until the rest fit, measuring each entry as encoded (with the
    // comma that separates it from the next).
    let wrapper = encode_history(&[]).len();
    let mut by_age: Vec<(u64, usize, usize)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let len = encode_history(std::slice::from_ref(e)).len() - wrapper + 1;
            (e.replaced_at, i, len)
        })
        .collect();
    by_age.sort();
    let mut excess = size - max_size;
    let mut doomed = std::collections::HashSet::new();
    for (_, i, len) in by_age {
        if excess == 0 {
            break;
        }
        doomed.insert(i);
        excess = excess.saturating_sub(len);
    }
    let mut index = 0;
    entries.retain(|_| {
        index += 1;
        !doomed.contains(&(index - 1))
    });
    doomed.len()
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-11-28T08:00:00Z` for seconds since the epoch (Howard Hinnant's civil_from_days).
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, seed: &[u8], at: u64) -> HistoryEntry {
        HistoryEntry {
            name: name.to_string(),
            target: Descriptor::new(oci::MEDIA_TYPE_OCI_INDEX, Digest::of(seed), 10),
            replaced_at: at,
            replaced_by: Digest::of(b"new"),
        }
    }

    #[test]
    fn history_round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY_FILE);
        let entries = vec![entry("docker.io/library/a:1", b"x", 5)];
        fs::write(&path, encode_history(&entries)).unwrap();
        assert_eq!(read_history(&path).unwrap(), entries);
        assert!(read_history(&dir.path().join("absent")).unwrap().is_empty());
    }

    #[test]
    fn normalize_keeps_the_newest_entries_per_name() {
        let mut entries: Vec<HistoryEntry> = (0..MAX_ENTRIES_PER_NAME as u64 + 3)
            .map(|i| entry("n:1", &i.to_le_bytes(), i))
            .collect();
        entries.push(entry("m:1", b"m", 1));
        entries.push(entry("m:1", b"m", 7));
        assert_eq!(normalize(&mut entries), 0);
        let m: Vec<u64> = entries
            .iter()
            .filter(|e| e.name == "m:1")
            .map(|e| e.replaced_at)
            .collect();
        assert_eq!(m, vec![7], "a repeated target keeps its newest entry");
        let n: Vec<u64> = entries
            .iter()
            .filter(|e| e.name == "n:1")
            .map(|e| e.replaced_at)
            .collect();
        assert_eq!(n.len(), MAX_ENTRIES_PER_NAME);
        assert_eq!(n[0], MAX_ENTRIES_PER_NAME as u64 + 2, "newest first");
    }

    #[test]
    fn normalize_shrinks_big_targets_and_keeps_the_file_within_its_cap() {
        let mut big = entry("big:1", b"big", 1);
        big.target
            .annotations
            .insert("x".into(), "<".repeat(MAX_ENTRY_TARGET_SIZE));
        let mut entries = vec![big];
        assert_eq!(normalize(&mut entries), 0);
        assert!(
            entries[0].target.annotations.is_empty(),
            "oversized target shrunk"
        );

        let mut entries: Vec<HistoryEntry> = (0..100u64)
            .map(|i| entry(&format!("n{i}:1"), &i.to_le_bytes(), i))
            .collect();
        let one = encode_history(&entries[..1]).len();
        let cap = encode_history(&entries).len() - 10 * (one / 2);
        let dropped = normalize_within(&mut entries, cap);
        assert!(dropped >= 5, "{dropped}");
        assert!(encode_history(&entries).len() <= cap);
        assert!(
            entries.iter().all(|e| e.replaced_at >= dropped as u64),
            "the oldest entries go first"
        );
    }

    #[test]
    fn times_format_as_rfc3339_utc() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(format_time(1_764_316_861), "2025-11-28T08:01:01Z");
    }
}
