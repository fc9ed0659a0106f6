//! `imagefs ls-files` and `imagefs cat`: a platform's merged root filesystem for scripts,
//! without a mount, through the same `rootfs` code the mount will use.

use std::io::{self, Write};

use clap::Args;

use super::query::choose_platform;
use super::{CliError, CliResult, PlatformArgs};
use crate::image::{ImageGraph, ImageQuery};
use crate::rootfs::platform::PlatformRoot;
use crate::rootfs::{MergedTree, NodeId, NodeKind, NodeView};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct LsFilesArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Platform (default: the best match for this host among those present)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// A directory or file inside the image (default: the root)
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    #[command(flatten)]
    pub platforms: PlatformArgs,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Platform (default: the best match for this host among those present)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// The file inside the image (`/etc/os-release`); symlinks are followed inside the image
    #[arg(value_name = "PATH")]
    pub path: String,
}

fn open(
    store: &Store,
    reference: &str,
    platform: Option<&str>,
) -> Result<(String, PlatformRoot), CliError> {
    let (record, chosen) = choose_platform(store, reference, platform)?;
    let root = PlatformRoot::open(store, &chosen.children)?;
    Ok((record.label(), root))
}

fn find(tree: &MergedTree, image: &str, path: &str) -> Result<NodeId, CliError> {
    tree.lookup_path(path.as_bytes())
        .ok_or_else(|| CliError::NotInImage {
            path: path.to_string(),
            image: image.to_string(),
        })
}

/// Symlinks followed while resolving one path, as the kernel allows (`MAXSYMLINKS`).
const MAX_SYMLINKS: usize = 40;

/// `path` resolved inside the image as a process chrooted there would: symlinks followed
/// (absolute targets from the image's root, `..` stopping at the root), at most 40 of them.
fn resolve(tree: &MergedTree, image: &str, path: &str) -> Result<NodeId, CliError> {
    let missing = || CliError::NotInImage {
        path: path.to_string(),
        image: image.to_string(),
    };
    let mut pending: Vec<Vec<u8>> = components(path.as_bytes());
    pending.reverse();
    let mut node = tree.root();
    let mut followed = 0;
    while let Some(c) = pending.pop() {
        match c.as_slice() {
            b"" | b"." => continue,
            b".." => {
                node = tree.parent(node);
                continue;
            }
            name => {
                let next = tree.lookup(node, name).ok_or_else(missing)?;
                let view = tree.node(next);
                if view.kind != NodeKind::Symlink {
                    node = next;
                    continue;
                }
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return Err(CliError::NotAFile {
                        path: path.to_string(),
                        kind: "chain of more than 40 symlinks".into(),
                    });
                }
                if view.link_target.starts_with(b"/") {
                    node = tree.root();
                }
                let mut target = components(view.link_target);
                target.reverse();
                pending.extend(target);
            }
        }
    }
    Ok(node)
}

fn components(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/').map(<[u8]>::to_vec).collect()
}

/// One line per node under PATH, depth first in name order:
/// `MODE UID GID SIZE /PATH[ -> TARGET]`, like `find -printf '%M %U %G %s %p'`.
pub(super) fn ls_files(store: &Store, args: &LsFilesArgs) -> CliResult {
    let (image, root) = open(store, &args.reference, args.platform.as_deref())?;
    let tree = root.tree();
    let start = args.path.as_deref().unwrap_or("/");
    let node = find(tree, &image, start)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut path = b"/".to_vec();
    path.extend_from_slice(start.trim_matches('/').as_bytes());
    let mut stack = vec![(path, node)];
    while let Some((path, node)) = stack.pop() {
        let view = tree.node(node);
        write_line(&mut out, &path, &view)?;
        let children: Vec<_> = tree.children(node).collect();
        for (name, child) in children.into_iter().rev() {
            let mut p = path.clone();
            if p.last() != Some(&b'/') {
                p.push(b'/');
            }
            p.extend_from_slice(name);
            stack.push((p, child));
        }
    }
    out.flush()?;
    Ok(())
}

fn write_line(out: &mut impl Write, path: &[u8], v: &NodeView<'_>) -> io::Result<()> {
    write!(out, "{} {} {} {} ", mode_string(v), v.uid, v.gid, v.size)?;
    out.write_all(path)?;
    if v.kind == NodeKind::Symlink {
        out.write_all(b" -> ")?;
        out.write_all(v.link_target)?;
    }
    out.write_all(b"\n")
}

/// `ls -l`'s mode column.
fn mode_string(v: &NodeView<'_>) -> String {
    let kind = match v.kind {
        NodeKind::Regular => '-',
        NodeKind::Directory => 'd',
        NodeKind::Symlink => 'l',
        NodeKind::Fifo => 'p',
        NodeKind::CharDevice => 'c',
        NodeKind::BlockDevice => 'b',
    };
    let m = v.mode;
    let bit = |mask: u32, c: char| if m & mask != 0 { c } else { '-' };
    let special = |exec: bool, set: bool, on: char, off: char| match (exec, set) {
        (true, true) => on,
        (false, true) => off,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        kind,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(m & 0o100 != 0, m & 0o4000 != 0, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(m & 0o010 != 0, m & 0o2000 != 0, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(m & 0o001 != 0, m & 0o1000 != 0, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// A regular file's bytes on standard output.
pub(super) fn cat(store: &Store, args: &CatArgs) -> CliResult {
    let (image, root) = open(store, &args.reference, args.platform.as_deref())?;
    let node = resolve(root.tree(), &image, &args.path)?;
    let kind = root.tree().node(node).kind;
    if kind != NodeKind::Regular {
        return Err(CliError::NotAFile {
            path: args.path.clone(),
            kind: format!("{kind:?}").to_lowercase(),
        });
    }
    let mut out = io::stdout().lock();
    root.copy_file(store, node, &args.path, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Builds (and stores) the tables of contents and seek indexes of the selected platforms'
/// layers ahead of their first use; layers already indexed are only checked.
pub(super) fn index(store: &Store, args: &IndexArgs) -> CliResult {
    // Indexes that cannot be stored would be built for nothing (reads build what they need).
    store.check_writable("store layer indexes")?;
    let records = ImageQuery::parse(&args.reference, false)?.find(store, &args.reference)?;
    let record = &records[0];
    let graph = ImageGraph::of_record(store, record)?;
    let requested = args.platforms.parse()?;
    let mut out = io::stdout().lock();
    for m in graph.select(&requested)? {
        if m.is_attestation() {
            continue;
        }
        let root = PlatformRoot::open(store, &m.children)?;
        root.prepare_reading(store)?;
        let platform = m.platform.as_ref().map_or_else(
            || m.descriptor.digest.to_string(),
            |p| p.normalize().format_all(),
        );
        writeln!(
            out,
            "{} {platform}: {} layers indexed, {} nodes",
            record.label(),
            root.layers().len(),
            root.tree().len()
        )?;
    }
    Ok(())
}
