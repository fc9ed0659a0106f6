//! `imagefs rm`, `imagefs gc` and `imagefs fsck`.

use std::collections::HashSet;
use std::io::{self, Write};

use super::progress::human;
use super::{CliError, CliResult, FsckArgs, GcArgs, RestoreArgs, RmArgs, SampleArgs};
use crate::gc::{self, GcOptions};
use crate::image::{ImageError, ImageQuery};
use crate::reference::Reference;
use crate::store::{Store, describe_holders};

pub(super) fn rm(store: &Store, args: &RmArgs) -> CliResult {
    // Resolve every REF first: one unknown name removes nothing. The list is read once and tags
    // are looked up in a set, so removing n names is not n scans of n records.
    let images = store.images()?;
    let names: HashSet<String> = images
        .iter()
        .filter_map(|r| r.name())
        .map(|n| n.to_string())
        .collect();
    let mut tagged = HashSet::new();
    let mut others = Vec::new();
    for r in &args.refs {
        // Resolved first, so an ID prefix removes that image's names, not the prefix's name.
        let query = ImageQuery::parse(r, false)?.resolve_in(&images, r)?;
        let found = match &query {
            ImageQuery::Tagged(name) => names.contains(&name.to_string()),
            _ => images.iter().any(|record| query.matches(record)),
        };
        if !found {
            return Err(CliError::Image(ImageError::no_such_image(r, &images)));
        }
        match query {
            ImageQuery::Tagged(name) => {
                tagged.insert(name.to_string());
            }
            other => others.push(other),
        }
    }
    let removed = store.update_images(|images| {
        let mut removed = Vec::new();
        images.retain(|record| {
            let hit = record
                .name()
                .is_some_and(|n| tagged.contains(&n.to_string()))
                || others.iter().any(|q| q.matches(record));
            if hit {
                removed.push(record.clone());
            }
            !hit
        });
        Ok(removed)
    })?;
    let mut out = io::stdout().lock();
    for r in removed {
        match r.name() {
            Some(n) => writeln!(out, "Untagged: {}", n.familiar_string())?,
            None => writeln!(out, "Deleted: {}", r.target.digest)?,
        }
    }
    Ok(())
}

pub(super) fn restore(store: &Store, args: &RestoreArgs) -> CliResult {
    let name = Reference::parse_normalized(&args.name)?.with_default_tag();
    let restored = crate::restore::restore(store, &name, args.digest.as_deref())?;
    println!("{}", restored.describe());
    Ok(())
}

pub(super) fn gc(store: &Store, args: &GcArgs) -> CliResult {
    let options = GcOptions {
        timeout: args.timeout,
        keep_history: args.keep_history,
    };
    let report = gc::collect_garbage(store, &options, |holders| {
        // Imports in progress and open archive files of mounts hold the store; say whom we
        // wait for rather than hang silently.
        eprintln!(
            "imagefs: gc waits for the store to be released by {}{}",
            describe_holders(holders),
            match args.timeout {
                Some(t) => format!(" (giving up after {} s)", t.as_secs()),
                None => " (an import in progress or open archive files of a mount; \
                          --timeout bounds the wait)"
                    .to_string(),
            }
        );
    })?;
    if !report.unreadable.is_empty() {
        for u in &report.unreadable {
            eprintln!("imagefs: {u}");
        }
        return Err(CliError::GcRemovedNothing);
    }
    let mut line = format!(
        "removed {} blobs ({}), {} layer indexes ({}), {} temp files ({})",
        report.removed_blobs,
        human(report.freed_bytes),
        report.removed_indexes.count,
        human(report.removed_indexes.bytes),
        report.removed_temp_files.count,
        human(report.removed_temp_files.bytes)
    );
    if report.expired_history > 0 {
        line.push_str(&format!(
            ", {} expired name history entries",
            report.expired_history
        ));
    }
    println!("{line}");
    Ok(())
}

pub(super) fn fsck(store: &Store, args: &FsckArgs) -> CliResult {
    let mut out = io::stdout().lock();
    // Repair first: the blob check below then reads the repaired list. The history first of
    // all: every change to the list reads it.
    if args.repair
        && let Some(why) = store.repair_history()?
    {
        writeln!(
            out,
            "set the unreadable name history aside as history.json.unreadable ({why}); the \
             previous images only it kept go with the next gc"
        )?;
    }
    if args.repair {
        let repair = store.repair_index()?;
        for r in &repair.shrunk {
            writeln!(
                out,
                "repaired index.json record of {}: {} -> {} bytes, dropped {}",
                r.image,
                r.size_before,
                r.size_after,
                r.dropped.join(", ")
            )?;
        }
        if !repair.full_ref_names.is_empty() {
            writeln!(
                out,
                "wrote the full name as org.opencontainers.image.ref.name of {}",
                some_records(&repair.full_ref_names)
            )?;
        }
    }
    if args.repair {
        let repair = gc::repair_indexes(store)?;
        for damaged in &repair.damaged {
            writeln!(out, "removed {damaged} (rebuilt when next used)")?;
        }
        if repair.orphans.count > 0 {
            writeln!(
                out,
                "removed {} layer indexes ({}) whose layer is gone",
                repair.orphans.count,
                human(repair.orphans.bytes)
            )?;
        }
    }
    let report = gc::check(store)?;
    for p in &report.problems {
        writeln!(out, "{p}")?;
    }
    for (dir, abandoned) in [
        ("ingest", &report.abandoned),
        ("indexes", &report.abandoned_index_files),
    ] {
        if abandoned.count > 0 {
            writeln!(
                out,
                "{dir}: {} temp files ({}) left by writers that died; `imagefs gc` removes them",
                abandoned.count,
                human(abandoned.bytes)
            )?;
        }
    }
    if !report.orphan_indexes.is_empty() {
        writeln!(
            out,
            "indexes: {} layer indexes ({}) of layers no longer stored; `imagefs gc` or \
             `imagefs fsck --repair` removes them",
            report.orphan_indexes.len(),
            human(report.orphan_indexes.iter().map(|i| i.size).sum())
        )?;
    }
    if !report.outdated_ref_names.is_empty() {
        writeln!(
            out,
            "index.json: the org.opencontainers.image.ref.name of {} is not the full name (earlier \
             builds wrote the tag alone), so skopeo and umoci take `oci:STORE:TAG` as the first \
             image with that tag; `imagefs fsck --repair`, or any change to the image list, \
             writes the full names",
            some_records(&report.outdated_ref_names)
        )?;
    }
    if !report.problems.is_empty() {
        return Err(CliError::FsckProblems {
            problems: report.problems.len(),
            blobs: report.blobs_checked,
        });
    }
    match report.indexes_checked {
        0 => writeln!(out, "{} blobs verified, no problems", report.blobs_checked)?,
        n => writeln!(
            out,
            "{} blobs and {n} layer indexes verified, no problems",
            report.blobs_checked
        )?,
    }
    Ok(())
}

/// "1 record (a)", "5 records (a, b, c and 2 more)": a list that may hold every image of the
/// store, cut to a line.
fn some_records(names: &[String]) -> String {
    const SHOWN: usize = 3;
    let count = match names.len() {
        1 => "1 record".to_string(),
        n => format!("{n} records"),
    };
    let mut shown = names[..names.len().min(SHOWN)].join(", ");
    if names.len() > SHOWN {
        shown.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    format!("{count} ({shown})")
}

pub(super) fn sample(store: &Store, args: &SampleArgs) -> CliResult {
    let name = crate::reference::Reference::parse_normalized(&args.name)?.with_default_tag();
    let mut spec = crate::sample::SampleSpec::demo(name.clone());
    let platforms = args.platforms.parse()?;
    if !platforms.is_empty() {
        spec.platforms = platforms;
    }
    spec.layers = args.layers;
    spec.layer_size = args.layer_size;
    spec.seed = args.seed;
    if args.stored {
        spec.compression = crate::sample::LayerCompression::GzipStored;
    }
    let target = crate::sample::write_sample(store, &spec)?;
    println!("{}\t{}", name, target.digest);
    Ok(())
}
