//! `imagefs rm`, `imagefs gc` and `imagefs fsck`.

use std::io::{self, Write};

use super::progress::human;
use super::{CliResult, FsckArgs, RmArgs, SampleArgs};
use crate::gc;
use crate::image::ImageQuery;
use crate::store::{MAX_RECORD_SIZE, Store};

pub fn rm(store: &Store, args: &RmArgs) -> CliResult {
    // Resolve every REF first: one unknown name removes nothing.
    let mut doomed = Vec::new();
    for r in &args.refs {
        doomed.push(ImageQuery::parse(r, false)?);
        doomed.last().expect("just pushed").find(store, r)?;
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

pub fn fsck(store: &Store, args: &FsckArgs) -> CliResult {
    let mut out = io::stdout().lock();
    // Repair first: the blob check below then reads the repaired list.
    if args.repair {
        for r in store.repair_index()? {
            writeln!(
                out,
                "repaired index.json record of {}: {} -> {} bytes, dropped {}",
                r.image,
                r.size_before,
                r.size_after,
                r.dropped.join(", ")
            )?;
        }
    }
    let (checked, mut problems) = gc::check(store)?;
    for record in store.images()? {
        let size = record.encoded_size();
        if size > MAX_RECORD_SIZE {
            problems.push(gc::Problem(format!(
                "index.json record of {} is {size} bytes, over the {MAX_RECORD_SIZE}-byte limit \
                 (`imagefs fsck --repair` shrinks it to its names and target)",
                record.label()
            )));
        }
    }
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
