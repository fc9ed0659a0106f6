//! The command line: clap types, and one function per subcommand that turns validated arguments
//! into calls on the library. The only module that knows clap.

mod error;
mod maintenance;
mod mount;
mod progress;
mod query;
mod rootfs;
mod shell;
mod transfer;
mod tree;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::platform::{ParsePlatformError, Platform};
use crate::store::Store;

pub use error::CliError;
pub use mount::{MountError, OptionError};

pub type CliResult = Result<(), CliError>;

#[derive(Debug, Parser)]
#[command(
    name = "imagefs",
    version,
    about = "A store of OCI container images: import, export and browse them, filtered by platform"
)]
pub struct Cli {
    /// The store directory (default: $IMAGEFS_STORE, else $XDG_DATA_HOME/imagefs, else ~/.local/share/imagefs)
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,

    /// More log output on stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load an image archive (OCI layout or docker-archive; plain, gzip, zstd, xz or bzip2)
    Import(ImportArgs),
    /// Write images as a `docker save`-style archive
    Export(ExportArgs),
    /// List images: name, digest, platforms present
    Ls(LsArgs),
    /// Print an image's manifest and config for one platform, as JSON
    Inspect(InspectArgs),
    /// List the files of an image's platform, its layers merged (`find`-like lines)
    LsFiles(rootfs::LsFilesArgs),
    /// Print a file of an image's platform, its layers merged
    Cat(rootfs::CatArgs),
    /// Build the indexes `ls-files`, `cat` (and the mount's rootfs/) read, ahead of first use
    Index(rootfs::IndexArgs),
    /// Remove image names (their blobs go with the next `gc`)
    Rm(RmArgs),
    /// Point a name back at an image it pointed to before an import moved it
    Restore(RestoreArgs),
    /// Delete blobs no image references (nor a recent name history entry)
    Gc(GcArgs),
    /// Verify every blob's digest and every image's completeness
    Fsck(FsckArgs),
    /// Mount the store: browse images, read platform archives, import by writing into import/
    Mount(mount::MountArgs),
    /// Unmount a mount made by `imagefs mount`
    Unmount(mount::UnmountArgs),
    /// Generate a synthetic multi-platform image into the store (for demos and benchmarks)
    #[command(hide = true)]
    Sample(SampleArgs),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions(shell::CompletionsArgs),
    /// Write man pages (imagefs.1, imagefs-COMMAND.1) into a directory (for installers)
    #[command(hide = true)]
    Man(shell::ManArgs),
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Name to store the image under
    #[arg(long, default_value = "example.com/imagefs/sample:latest")]
    pub name: String,
    #[command(flatten)]
    pub platforms: PlatformArgs,
    /// Layers per platform
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Bytes of content per layer
    #[arg(long, default_value_t = 64 << 10)]
    pub layer_size: usize,
    /// Incompressible layers in stored-gzip form (fast to generate; for benchmarks)
    #[arg(long)]
    pub stored: bool,
    /// Seed for the content
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct PlatformArgs {
    /// Platform (docker syntax: linux/arm64, linux/arm/v7); repeat or comma-separate for several
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platform: Vec<String>,
}

impl PlatformArgs {
    pub fn parse(&self) -> Result<Vec<Platform>, ParsePlatformError> {
        Platform::parse_list(&self.platform)
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The archive to load; `-` or nothing reads standard input
    #[arg(value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub platforms: PlatformArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Images: names (alpine, docker.io/library/alpine:3.20) or digests (sha256:…); a name
    /// without tag exports every tag of that repository
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
    #[command(flatten)]
    pub platforms: PlatformArgs,
    /// Write to FILE instead of standard output (`-` is standard output)
    #[arg(short, long, value_name = "FILE|-")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// List the images names pointed to before imports moved them (see `imagefs restore`)
    #[arg(long)]
    pub history: bool,
    /// Show each image's platforms beneath it, with their manifest digests and sizes
    #[arg(long, conflicts_with_all = ["json", "history"])]
    pub tree: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The name to point back (`alpine` = docker.io/library/alpine:latest)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Which previous image (a digest or a unique prefix of one); default: the newest
    #[arg(value_name = "DIGEST")]
    pub digest: Option<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Give up after this long if imports or open archive files hold the store (30s, 5m, 1h)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Keep the images names pointed to before an import moved them this long (0 drops them)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "14d")]
    pub keep_history: std::time::Duration,
}

/// `90`, `90s`, `15m`, `12h`, `14d`.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s, 15m, 12h or 14d"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use s, m, h or d)")),
    };
    n.checked_mul(scale)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too long"))
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Platform to describe (default: the best match for this host among those present)
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[arg(required = true, value_name = "REF")]
    pub refs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct FsckArgs {
    /// Shrink index.json records over the per-image limit (64 KiB) to their names and targets,
    /// dropping their other annotations, and write the full name as the
    /// org.opencontainers.image.ref.name of records that give the tag alone; reports what changed
    #[arg(long)]
    pub repair: bool,
}

/// `mount.fuse3` runs `imagefs STORE MOUNTPOINT -o OPTIONS` for fstab and `mount -t
/// fuse.imagefs` (as it runs `sshfs` or `mount-s3`); that form means `imagefs --store STORE
/// mount MOUNTPOINT -o OPTIONS`. It is recognised when the first argument is no subcommand or
/// flag and looks like a path (has a `/`, or is an existing directory), so that a store not
/// created yet or a stale mountpoint still reach the mount's own checks and messages, while a
/// mistyped subcommand (`imagefs lss x`) still gets clap's "unrecognized subcommand".
pub fn args_from_mount_helper(args: Vec<OsString>) -> Vec<OsString> {
    let is_operand =
        |a: Option<&OsString>| a.is_some_and(|a| !a.as_encoded_bytes().starts_with(b"-"));
    let looks_like_path =
        |a: &OsString| a.as_encoded_bytes().contains(&b'/') || std::path::Path::new(a).is_dir();
    let command = Cli::command();
    let names_subcommand = args.get(1).is_some_and(|a| {
        command
            .get_subcommands()
            .any(|c| a == c.get_name() || c.get_all_aliases().any(|al| a == al))
            || a == "help"
    });
    if names_subcommand
        || !is_operand(args.get(1))
        || !is_operand(args.get(2))
        || !args.get(1).is_some_and(looks_like_path)
    {
        return args;
    }
    let mut out = Vec::with_capacity(args.len() + 2);
    let mut it = args.into_iter();
    out.extend(it.next());
    out.push("--store".into());
    out.extend(it.next());
    out.push("mount".into());
    out.extend(it);
    out
}

/// Runs one command.
pub fn run(cli: Cli) -> CliResult {
    // These describe the command line and need no store.
    match &cli.command {
        Command::Completions(args) => return shell::completions(args),
        Command::Man(args) => return shell::man(args),
        // Unmounting concerns the mount table only: no store is opened (or created).
        Command::Unmount(args) => return mount::unmount(args),
        _ => {}
    }
    let root = Store::default_location(cli.store.as_deref()).ok_or(CliError::NoStoreDirectory)?;
    // Absolute and without `..`, so that a mount serving in the background can leave the
    // caller's directory, and the mount table shows the store's real path.
    let root = std::fs::canonicalize(&root).or_else(|_| std::path::absolute(&root))?;
    // A store on read-only media is served as it is; say so once, up front.
    let store = Store::open(&root)?;
    if store.is_read_only() {
        log::info!(target: "store", "{} is read-only: reading works, writes are refused", root.display());
    }
    let show_progress = !cli.quiet;
    match cli.command {
        Command::Import(args) => transfer::import(&store, &args, show_progress),
        Command::Export(args) => transfer::export(&store, &args, show_progress),
        Command::Ls(args) => query::ls(&store, &args),
        Command::Inspect(args) => query::inspect(&store, &args),
        Command::LsFiles(args) => rootfs::ls_files(&store, &args),
        Command::Cat(args) => rootfs::cat(&store, &args),
        Command::Index(args) => rootfs::index(&store, &args),
        Command::Rm(args) => maintenance::rm(&store, &args),
        Command::Restore(args) => maintenance::restore(&store, &args),
        Command::Gc(args) => maintenance::gc(&store, &args),
        Command::Fsck(args) => maintenance::fsck(&store, &args),
        Command::Sample(args) => maintenance::sample(&store, &args),
        Command::Mount(args) => mount::mount(&store, &args),
        Command::Completions(_) | Command::Man(_) | Command::Unmount(_) => {
            unreachable!("answered before the store")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{args_from_mount_helper, parse_duration};
    use std::ffi::OsString;
    use std::time::Duration;

    #[test]
    fn the_mount_helper_form_becomes_a_mount_command() {
        let dir = tempfile::tempdir().unwrap();
        let (store, mnt) = (dir.path().join("store"), dir.path().join("mnt"));
        std::fs::create_dir(&store).unwrap();
        std::fs::create_dir(&mnt).unwrap();
        let args = |v: &[&std::ffi::OsStr]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let helper = args(&[
            "imagefs".as_ref(),
            store.as_ref(),
            mnt.as_ref(),
            "-o".as_ref(),
            "ro".as_ref(),
        ]);
        assert_eq!(
            args_from_mount_helper(helper),
            args(&[
                "imagefs".as_ref(),
                "--store".as_ref(),
                store.as_ref(),
                "mount".as_ref(),
                mnt.as_ref(),
                "-o".as_ref(),
                "ro".as_ref()
            ])
        );
        // A store not made yet, or a mountpoint that is missing (or a stale mount), still
        // reach the mount's own checks.
        let missing = dir.path().join("missing");
        let helper = args(&["imagefs".as_ref(), missing.as_ref(), missing.as_ref()]);
        let mount = args(&["--store".as_ref(), missing.as_ref(), "mount".as_ref()]);
        assert_eq!(args_from_mount_helper(helper)[1..4], mount[..]);
        // A subcommand, a flag, or a word that is no path leaves the arguments alone.
        for unchanged in [
            args(&["imagefs".as_ref(), "ls".as_ref()]),
            args(&[
                "imagefs".as_ref(),
                "--store".as_ref(),
                store.as_ref(),
                "ls".as_ref(),
            ]),
            args(&["imagefs".as_ref(), "lss".as_ref(), mnt.as_ref()]),
            args(&["imagefs".as_ref(), store.as_ref()]),
            args(&[
                "imagefs".as_ref(),
                store.as_ref(),
                "-o".as_ref(),
                "ro".as_ref(),
            ]),
        ] {
            assert_eq!(args_from_mount_helper(unchanged.clone()), unchanged);
        }
    }

    #[test]
    fn durations_take_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("h").is_err());
    }
}
