//! What a test needs from the machine, and the one policy for a need that is not met: the test
//! FAILS with the reason, unless `IMAGEFS_TEST_SKIP` names that need; then it prints
//! `SKIPPED <test>: …` to stderr (uncaptured, so it shows in `cargo test` output) and returns
//! (passes) without running.
//!
//! A test states its needs first thing, with `needs!("fuse", "skopeo")` (see `needs`). The
//! names:
//!
//! - `fuse`: the test mounts (`imagefs mount`); probed by opening `/dev/fuse` read-write, and,
//!   when not root, finding `fusermount3`.
//! - `root`: the test needs uid 0 (tmpfs and bind mounts, `setpriv`, rootful peers).
//! - any other name is a program looked up on `PATH` (`tool`): `skopeo`, `umoci`, `podman`,
//!   `rsync`, `restic`, `borg`, `rdiff-backup`, `setpriv`, …; `containerd` means `containerd`
//!   and `ctr`, `docker` means `dockerd` and `docker`; an absolute path (`/usr/bin/time`,
//!   `/usr/bin/python3`) is that file.
//!
//! `IMAGEFS_TEST_SKIP` is a comma-separated list of those names, plus two groups: `peers` (the
//! tools of the field and the backup tools a developer's machine may lack: see `PEERS`) and
//! `all`. A test is skipped when any of its
//! needs is in the list, whether or not this machine has it (the list says what was not
//! tested); a need not in the list is probed, and a missing one fails the test. Mounts, peers
//! and tools that are present but do not work always fail the test: the variable only says
//! what not to run. Unset or empty, nothing is skipped.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The opt-out variable (see the module documentation).
pub(crate) const SKIP_ENV: &str = "IMAGEFS_TEST_SKIP";

/// `needs!("fuse", …)`: returns from the calling test, after printing `SKIPPED`, when
/// `IMAGEFS_TEST_SKIP` names one of the needs; fails it when one is missing; else goes on.
macro_rules! needs {
    ($($need:expr),+ $(,)?) => {
        if !$crate::common::check_needs(&[$($need),+]) {
            return;
        }
    };
}
pub(crate) use needs;

/// The names in `IMAGEFS_TEST_SKIP`.
fn skip_list() -> Vec<String> {
    std::env::var(SKIP_ENV)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// What `peers` stands for: the image tools round trips go through and the backup tools the
/// mount is backed up with. Everyday programs (`setpriv`, `script`, `/usr/bin/time`, python)
/// are not in it: a test that needs one is skipped only when it is named.
const PEERS: [&str; 9] = [
    "skopeo",
    "umoci",
    "containerd",
    "podman",
    "docker",
    "rsync",
    "borg",
    "restic",
    "rdiff-backup",
];

fn is_skipped(list: &[String], need: &str) -> bool {
    list.iter()
        .any(|s| s == need || s == "all" || (s == "peers" && PEERS.contains(&need)))
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string()
}

/// Whether `need` is met here; `Err` says why not.
pub(crate) fn probe(need: &str) -> Result<(), String> {
    match need {
        "fuse" => {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/fuse")
                .map_err(|e| format!("/dev/fuse cannot be opened: {e}"))?;
            if !is_root() && find_tool("fusermount3").is_none() {
                return Err("fusermount3 is not installed (needed when not root)".into());
            }
            Ok(())
        }
        "root" if is_root() => Ok(()),
        "root" => Err(format!("not running as root (uid {})", euid())),
        "containerd" => probe_tools(&["containerd", "ctr"]),
        "docker" => probe_tools(&["dockerd", "docker"]),
        program => probe_tools(&[program]),
    }
}

fn probe_tools(programs: &[&str]) -> Result<(), String> {
    match programs.iter().find(|p| find_tool(p).is_none()) {
        Some(p) => Err(format!("{p} is not installed (not on PATH)")),
        None => Ok(()),
    }
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn is_root() -> bool {
    euid() == 0
}

/// The policy (use the `needs!` macro): `false` after printing `SKIPPED` when the skip list
/// names one of `needs`; a panic naming the first missing one; else `true`.
#[track_caller]
pub(crate) fn check_needs(needs: &[&str]) -> bool {
    let test = test_name();
    let list = skip_list();
    if let Some(need) = needs.iter().find(|n| is_skipped(&list, n)) {
        let here = match probe(need) {
            Ok(()) => "present here".to_string(),
            Err(why) => why,
        };
        // Straight to the stderr stream, not eprintln!: libtest captures that for passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: needs {need} ({here}); {SKIP_ENV}={}",
            list.join(",")
        );
        return false;
    }
    for need in needs {
        if let Err(why) = probe(need) {
            panic!(
                "{test} needs {need}: {why}. Provide it, or set {SKIP_ENV}={need} to skip the \
                 tests that need it (they then print SKIPPED)"
            );
        }
    }
    true
}

/// A program on `PATH` (or an absolute path that exists), if any.
pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A program the test cannot do without: its path, or a failure saying it is missing (state
/// it with `needs!` first to allow skipping it).
#[track_caller]
pub(crate) fn tool(name: &str) -> PathBuf {
    find_tool(name).unwrap_or_else(|| {
        panic!(
            "{name} is not installed (not on PATH) and {} needs it; scripts/test.sh lists \
             the packages",
            test_name()
        )
    })
}
