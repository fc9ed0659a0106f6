//! Putting a name back: `imagefs restore NAME` points a name at one of its previous targets from
//! the name history (the newest by default), after checking the store still holds that image
//! completely. The target it leaves goes into the history in turn, so a restore can be undone
//! the same way.

use std::fmt;

use crate::digest::Digest;
use crate::image::{ImageError, ImageGraph};
use crate::platform::{Platform, format_platforms};
use crate::reference::Reference;
use crate::store::{HistoryEntry, ImageRecord, Store, StoreError};

#[derive(Debug)]
pub enum RestoreError {
    Store(StoreError),
    /// The name has no previous target (matching the digest, when one was given).
    NoHistory {
        name: String,
        digest: Option<String>,
    },
    /// A digest prefix that matches several previous targets.
    Ambiguous {
        name: String,
        prefix: String,
        matches: Vec<Digest>,
    },
    /// The previous target is no longer (completely) in the store.
    Unavailable {
        name: String,
        digest: Digest,
        source: Option<ImageError>,
    },
}

impl fmt::Display for RestoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(e) => write!(f, "{e}"),
            Self::NoHistory { name, digest: None } => {
                write!(
                    f,
                    "{name} has no previous image in the history (imagefs ls --history)"
                )
            }
            Self::NoHistory {
                name,
                digest: Some(d),
            } => write!(
                f,
                "{name} never pointed to {d} in the kept history (imagefs ls --history)"
            ),
            Self::Ambiguous {
                name,
                prefix,
                matches,
            } => write!(
                f,
                "{prefix} matches {} previous images of {name}: {}",
                matches.len(),
                matches
                    .iter()
                    .map(Digest::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::Unavailable { name, digest, .. } => write!(
                f,
                "the previous image {digest} of {name} is no longer complete in the store"
            ),
        }
    }
}

impl std::error::Error for RestoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Store(e) => e.source(),
            Self::Unavailable {
                source: Some(e), ..
            } => Some(e),
            Self::Unavailable { source: None, .. }
            | Self::NoHistory { .. }
            | Self::Ambiguous { .. } => None,
        }
    }
}

impl From<StoreError> for RestoreError {
    fn from(e: StoreError) -> RestoreError {
        RestoreError::Store(e)
    }
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub name: Reference,
    pub digest: Digest,
    pub platforms: Vec<Platform>,
    /// What the name pointed to before (now in the history), if anything.
    pub replaced: Option<Digest>,
}

impl Restored {
    pub fn describe(&self) -> String {
        let mut out = format!(
            "Restored {} to {} ({})",
            self.name.familiar_string(),
            self.digest,
            format_platforms(&self.platforms)
        );
        if let Some(r) = self.replaced {
            out.push_str(&format!("; {r} is kept in the history"));
        }
        out
    }
}

/// Points `name` at a previous target: the newest, or the one whose digest starts with
/// `digest` (`sha256:` optional).
pub fn restore(
    store: &Store,
    name: &Reference,
    digest: Option<&str>,
) -> Result<Restored, RestoreError> {
    let key = name.to_string();
    // Held until the name points at the image again: `gc` (which takes this lock exclusively)
    // can then neither expire the entry nor sweep the image between the check and the update.
    let _no_gc = store.lock_ingest()?;
    let entry = choose(&store.history()?, &key, digest)?;
    let graph =
        ImageGraph::load(store, &key, &entry.target).map_err(|e| RestoreError::Unavailable {
            name: key.clone(),
            digest: entry.target.digest,
            source: Some(e),
        })?;
    let mut platforms = graph.available_platforms();
    if platforms.is_empty() {
        return Err(RestoreError::Unavailable {
            name: key,
            digest: entry.target.digest,
            source: None,
        });
    }
    platforms.sort();
    let now = crate::store::now();
    let replaced = store
        .update_images_and_history(|images, history| {
            let history = history.entries()?;
            // Another restore may have taken the entry meanwhile; the name is then its business.
            if !history
                .iter()
                .any(|e| e.name == key && e.target.digest == entry.target.digest)
            {
                return Ok(None);
            }
            let position = images
                .iter()
                .position(|r| r.name().is_some_and(|n| n.to_string() == key));
            let replaced = position.map(|i| images[i].bare_target());
            history.retain(|e| !(e.name == key && e.target.digest == entry.target.digest));
            if let Some(current) = &replaced
                && current.digest != entry.target.digest
            {
                history.push(HistoryEntry {
                    name: key.clone(),
                    target: current.clone(),
                    replaced_at: now,
                    replaced_by: entry.target.digest,
                });
            }
            let record = ImageRecord::named(entry.target.clone(), name);
            match position {
                Some(i) => images[i] = record,
                None => images.push(record),
            }
            Ok(Some(
                replaced
                    .map(|r| r.digest)
                    .filter(|d| *d != entry.target.digest),
            ))
        })?
        .ok_or_else(|| RestoreError::NoHistory {
            name: key.clone(),
            digest: Some(entry.target.digest.to_string()),
        })?;
    Ok(Restored {
        name: name.clone(),
        digest: entry.target.digest,
        platforms,
        replaced,
    })
}

fn choose(
    history: &[HistoryEntry],
    key: &str,
    digest: Option<&str>,
) -> Result<HistoryEntry, RestoreError> {
    // Newest first per name (the store keeps the history in that order).
    let mut candidates: Vec<&HistoryEntry> = history.iter().filter(|e| e.name == key).collect();
    if let Some(d) = digest {
        let prefix = d.strip_prefix("sha256:").unwrap_or(d).to_ascii_lowercase();
        candidates.retain(|e| e.target.digest.hex().starts_with(&prefix));
        if candidates.len() > 1 {
            let mut matches: Vec<Digest> = candidates.iter().map(|e| e.target.digest).collect();
            matches.dedup();
            if matches.len() > 1 {
                return Err(RestoreError::Ambiguous {
                    name: key.to_string(),
                    prefix: d.to_string(),
                    matches,
                });
            }
        }
    }
    candidates
        .first()
        .map(|e| (*e).clone())
        .ok_or_else(|| RestoreError::NoHistory {
            name: key.to_string(),
            digest: digest.map(str::to_string),
        })
}
