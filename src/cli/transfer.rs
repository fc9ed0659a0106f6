//! `imagefs import` and `imagefs export`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use super::progress::ProgressLine;
use super::{CliError, CliResult, ExportArgs, ImportArgs};
use crate::archive::{self, ArchivePlan, ExportRequest, ImportOptions};
use crate::image::ImageQuery;
use crate::store::{ImageRecord, Store};

pub(super) fn import(store: &Store, args: &ImportArgs, show_progress: bool) -> CliResult {
    let options = ImportOptions {
        platforms: args.platforms.parse()?,
    };
    let loaded = match args.input.as_deref().filter(|p| *p != Path::new("-")) {
        Some(path) => {
            // Only a regular file's size is a total (not a fifo's or `<(…)`'s 0).
            let total = std::fs::metadata(path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let progress = ProgressLine::start("importing", "reading", total, show_progress);
            archive::import_file(store, path, &options, &progress).map_err(|source| {
                CliError::Import {
                    input: path.display().to_string(),
                    source,
                }
            })?
        }
        None => {
            let stdin = io::stdin().lock();
            // `< archive.tar` makes standard input a file whose size is known.
            let total = std::os::fd::AsFd::as_fd(&stdin)
                .try_clone_to_owned()
                .ok()
                .and_then(|fd| std::fs::File::from(fd).metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len());
            let progress = ProgressLine::start("importing", "reading", total, show_progress);
            archive::import_stream(store, stdin, &options, &progress).map_err(|source| {
                CliError::Import {
                    input: "standard input".to_string(),
                    source,
                }
            })?
        }
    };
    let mut out = io::stdout().lock();
    for image in &loaded {
        writeln!(out, "{}", image.describe())?;
    }
    // A name that moved or stayed, and platforms left out, on stderr: stdout stays
    // `docker load`'s lines for scripts. `-q` keeps stderr to errors.
    if show_progress {
        for note in loaded.iter().flat_map(|l| l.notes()) {
            eprintln!("imagefs: {note}");
        }
    }
    Ok(())
}

pub(super) fn export(store: &Store, args: &ExportArgs, show_progress: bool) -> CliResult {
    let platforms = args.platforms.parse()?;
    let mut images: Vec<ImageRecord> = Vec::new();
    for r in &args.refs {
        for record in ImageQuery::parse(r, true)?.find(store, r)? {
            if !images.contains(&record) {
                images.push(record);
            }
        }
    }
    let plan = ArchivePlan::build(store, &ExportRequest { images, platforms })?;
    let to_stdout = args.output.as_deref().is_none_or(|p| p == Path::new("-"));
    let total = plan.size();
    let progress = ProgressLine::start(
        "exporting",
        "writing",
        Some(total),
        show_progress && !to_stdout,
    );
    let mut report = |n: u64| progress.update("writing", n, Some(total));
    // A device or fifo (`-o /dev/null`, a named pipe) is written in place: renaming over it
    // would replace the device node itself.
    let in_place: Option<Box<dyn Write>> = match args.output.as_deref() {
        _ if to_stdout => {
            let stdout = io::stdout();
            if stdout.is_terminal() {
                return Err(CliError::TerminalOutput);
            }
            Some(Box::new(stdout.lock()))
        }
        Some(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) => Some(Box::new(
            std::fs::OpenOptions::new().write(true).open(path)?,
        )),
        _ => None,
    };
    if let Some(target) = in_place {
        let mut out = BufWriter::with_capacity(1 << 20, target);
        return match archive::write_archive(&plan, &mut out, &mut report) {
            // The reader went away (`| head`): not our failure to report.
            Err(e) if e.is_broken_pipe() => Ok(()),
            other => Ok(other?),
        };
    }
    let path = args.output.as_deref().expect("not stdout, so a path");
    // Write beside the target and rename, so a failed export never leaves a partial archive.
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".imagefs-export-")
        .tempfile_in(dir)
        .map_err(|source| CliError::ExportTemp {
            dir: dir.to_path_buf(),
            source,
        })?;
    let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file());
    archive::write_archive(&plan, &mut out, &mut report)?;
    drop(out);
    tmp.as_file().sync_all()?;
    use std::os::unix::fs::PermissionsExt;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| CliError::ExportPersist {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}
