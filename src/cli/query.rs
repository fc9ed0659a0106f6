//! `imagefs ls` and `imagefs inspect`.

use std::collections::HashMap;
use std::io::{self, Write};

use serde_json::value::RawValue;

use super::{CliError, CliResult, InspectArgs, LsArgs};
use crate::digest::Digest;
use crate::image::{ImageGraph, ImageQuery, PlatformManifest};
use crate::oci::Descriptor;
use crate::platform::Platform;
use crate::store::{ImageRecord, Store, format_time};

pub(super) fn ls(store: &Store, args: &LsArgs) -> CliResult {
    if args.history {
        return ls_history(store, args.json);
    }
    if args.tree {
        return super::tree::ls_tree(store);
    }
    let mut rows = Vec::new();
    // Names sharing an image share its platforms: walk each image once.
    let mut platforms_of: HashMap<Digest, Vec<String>> = HashMap::new();
    for record in store.images()? {
        let name = record.name().map(|n| n.to_string());
        let platforms = complete_platforms(
            store,
            &mut platforms_of,
            &record.label(),
            &record.bare_target(),
        );
        rows.push((
            name,
            record.target.digest.to_string(),
            record.target.size,
            platforms,
        ));
    }
    let mut out = io::stdout().lock();
    if args.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, digest, size, platforms)| {
                serde_json::json!({ "name": name, "digest": digest, "size": size, "platforms": platforms })
            })
            .collect();
        // Through io::Error, so that a closed pipe is recognised (and kept quiet) by main.
        serde_json::to_writer_pretty(&mut out, &list).map_err(io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|r| r.0.as_deref().unwrap_or("<none>").len())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(out, "{:width$}  {:71}  PLATFORMS", "NAME", "DIGEST")?;
    for (name, digest, _, platforms) in &rows {
        let platforms = if platforms.is_empty() {
            "-".to_string()
        } else {
            platforms.join(",")
        };
        writeln!(
            out,
            "{:width$}  {digest:71}  {platforms}",
            name.as_deref().unwrap_or("<none>")
        )?;
    }
    Ok(())
}

/// The platforms the store holds completely for an image, formatted, each image walked once
/// (many names may share one); an unreadable image is logged and shows none.
fn complete_platforms(
    store: &Store,
    seen: &mut HashMap<Digest, Vec<String>>,
    label: &str,
    target: &Descriptor,
) -> Vec<String> {
    seen.entry(target.digest)
        .or_insert_with(|| match ImageGraph::load(store, label, target) {
            Ok(graph) => graph
                .available_platforms()
                .iter()
                .map(Platform::format_all)
                .collect(),
            Err(e) => {
                log::warn!(target: "store", "{label}: {}", crate::error::chain(&e));
                Vec::new()
            }
        })
        .clone()
}

/// `ls --history`: every previous target of a name, newest first per name, with the platforms
/// the store still holds for it (all of them, unless the entry is older than a `gc` retention).
fn ls_history(store: &Store, json: bool) -> CliResult {
    let mut rows = Vec::new();
    let mut platforms_of: HashMap<Digest, Vec<String>> = HashMap::new();
    for entry in store.history()? {
        let platforms = complete_platforms(store, &mut platforms_of, &entry.name, &entry.target);
        rows.push((entry, platforms));
    }
    let mut out = io::stdout().lock();
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(e, platforms)| {
                serde_json::json!({
                    "name": e.name,
                    "digest": e.target.digest.to_string(),
                    "platforms": platforms,
                    "replacedAt": format_time(e.replaced_at),
                    "replacedBy": e.replaced_by.to_string(),
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list).map_err(io::Error::from)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|r| r.0.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "{:width$}  {:71}  {:20}  PLATFORMS",
        "NAME", "PREVIOUS DIGEST", "REPLACED"
    )?;
    for (e, platforms) in &rows {
        let platforms = match platforms.is_empty() {
            true => "- (no longer complete)".to_string(),
            false => platforms.join(","),
        };
        writeln!(
            out,
            "{:width$}  {:71}  {:20}  {platforms}",
            e.name,
            e.target.digest.to_string(),
            format_time(e.replaced_at)
        )?;
    }
    Ok(())
}

/// The image `reference` names, and its platform manifest `platform` names (default: the best
/// match for this host among the complete ones), as `inspect`, `ls-files` and `cat` choose it.
pub(super) fn choose_platform(
    store: &Store,
    reference: &str,
    platform: Option<&str>,
) -> Result<(ImageRecord, PlatformManifest), CliError> {
    let records = ImageQuery::parse(reference, false)?.find(store, reference)?;
    let record = records[0].clone();
    let graph = ImageGraph::of_record(store, &record)?;
    let chosen = match platform {
        Some(p) => graph.select_one(&Platform::parse(p)?)?,
        None => {
            let complete: Vec<_> = graph.manifests.iter().filter(|m| m.is_complete()).collect();
            ImageGraph::preferred(&complete).ok_or_else(|| CliError::NoCompletePlatform {
                image: graph.label.clone(),
            })?
        }
    };
    let chosen = chosen.clone();
    Ok((record, chosen))
}

pub(super) fn inspect(store: &Store, args: &InspectArgs) -> CliResult {
    let (record, chosen) = choose_platform(store, &args.reference, args.platform.as_deref())?;
    let record = &record;
    let chosen = &chosen;
    let manifest = store.read_document(&chosen.descriptor)?;
    let config_desc = chosen.children.first().ok_or(CliError::NoConfig)?;
    let config = store.read_document(config_desc)?;
    // The documents are embedded as stored, not re-serialized: `json!` would turn a RawValue
    // into a Value (re-ordering its keys), so the output is a struct holding the raw values.
    let manifest = RawValue::from_string(String::from_utf8(manifest)?)?;
    let config = RawValue::from_string(String::from_utf8(config)?)?;
    let doc = Inspected {
        name: record.name().map(|n| n.to_string()),
        digest: record.target.digest.to_string(),
        platform: chosen.platform.as_ref().map(|p| p.normalize().format_all()),
        manifest_digest: chosen.descriptor.digest.to_string(),
        manifest: &manifest,
        config_digest: config_desc.digest.to_string(),
        config: &config,
    };
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc).map_err(io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// `inspect`'s output, in this field order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Inspected<'a> {
    name: Option<String>,
    digest: String,
    platform: Option<String>,
    manifest_digest: String,
    manifest: &'a RawValue,
    config_digest: String,
    config: &'a RawValue,
}
