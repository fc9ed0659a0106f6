//! `imagefs rm`, `imagefs gc` and `imagefs fsck`.

use std::io::{self, Write};

use super::progress::human;
use super::{CliResult, RmArgs, SampleArgs};
use crate::gc;
use crate::image::ImageQuery;
use crate::store::Store;

pub fn rm(store: &Store, args: &RmArgs) -> CliResult {
    // Resolve every REF first: one unknown name removes nothing.
    let mut doomed = Vec::new();
    for r in &args.refs {
        // Resolved first, so an ID prefix removes that image's names, not the prefix's name.
        let query = ImageQuery::parse(r, false)?.resolve(store, r)?;
        query.find(store, r)?;
        doomed.push(query);
    }
    let removed = store.update_images(|images| {
        let mut removed = Vec::new();
        images.retain(|record| {
            let hit = doomed.iter().any(|q| q.matches(record));
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

pub fn gc(store: &Store) -> CliResult {
    let report = gc::collect_garbage(store)?;
    if !report.warnings.is_empty() {
        for w in &report.warnings {
            eprintln!("imagefs: {w}");
        }
        return Err("gc removed nothing: some images cannot be read (run `imagefs fsck`)".into());
    }
    println!(
        "removed {} blobs ({}), {} temp files",
        report.removed_blobs,
        human(report.freed_bytes),
        report.removed_temp_files
    );
    Ok(())
}

pub fn fsck(store: &Store) -> CliResult {
    let (checked, problems) = gc::check(store)?;
    let mut out = io::stdout().lock();
    for p in &problems {
        writeln!(out, "{}", p.0)?;
    }
    if !problems.is_empty() {
        return Err(format!("{} problems found in {checked} blobs", problems.len()).into());
    }
    writeln!(out, "{checked} blobs verified, no problems")?;
    Ok(())
}

pub fn sample(store: &Store, args: &SampleArgs) -> CliResult {
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
