//! Running programs: the `imagefs` binary on a private store, any command with its command
//! line, status, stdout and stderr in the failure message, and waiting for a condition.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `imagefs` binary.
pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_imagefs")
}

/// The `imagefs` binary with `--store` set, in a clean environment (no store, progress or log
/// variables a developer's shell may have set).
pub(crate) fn imagefs(store_root: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--store").arg(store_root);
    for var in [
        "IMAGEFS_STORE",
        "XDG_DATA_HOME",
        "IMAGEFS_PROGRESS",
        "IMAGEFS_LOG",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c
}

/// `imagefs --store STORE ARGS…`, run to the end, its exit status not checked (see `ok`).
pub(crate) fn cli(store_root: &Path, args: &[&str]) -> Output {
    output(imagefs(store_root).args(args))
}

/// A command from a program and its arguments.
pub(crate) fn cmd(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args);
    c
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command to the end (stdin empty unless the caller set it); only a failure to start
/// it panics, with the command line.
#[track_caller]
pub(crate) fn output(c: &mut Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"))
}

/// What a failed command said, for a failure message.
fn failure(shown: &str, out: &Output) -> String {
    format!(
        "{shown} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// Runs a command; `Err` holds its command line, status, stdout and stderr when it failed.
pub(crate) fn check(c: &mut Command) -> Result<Output, String> {
    let out = output(c);
    if out.status.success() {
        Ok(out)
    } else {
        Err(failure(&format!("{c:?}"), &out))
    }
}

/// Runs a command that must succeed.
#[track_caller]
pub(crate) fn run(c: &mut Command) -> Output {
    check(c).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command that must succeed; its stdout as text.
#[track_caller]
pub(crate) fn run_stdout(c: &mut Command) -> String {
    text(&run(c).stdout)
}

/// Runs a command that must fail; returns stderr followed by stdout.
#[track_caller]
pub(crate) fn run_fails(c: &mut Command) -> String {
    let out = output(c);
    assert!(
        !out.status.success(),
        "{c:?} succeeded but should have failed: {}",
        text(&out.stdout)
    );
    format!("{}{}", text(&out.stderr), text(&out.stdout))
}

/// Asserts that an already collected output (e.g. `cli`) is a success; returns stdout.
#[track_caller]
pub(crate) fn ok(out: Output) -> Vec<u8> {
    assert!(out.status.success(), "{}", failure("command", &out));
    out.stdout
}

/// Asserts that a command failed as an error (exit status 1: not a usage error, not a crash)
/// that says `needle` on stderr; returns stderr.
#[track_caller]
pub(crate) fn fails_with(out: &Output, needle: &str) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", failure("command", out));
    assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
    stderr
}

/// Runs a command, feeding `stdin` from a thread, and returns its output.
pub(crate) fn run_with_input(mut c: Command, stdin: &[u8]) -> Output {
    use std::io::Write;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer thread");
    out
}

/// Waits (up to 10 s, polling) until `cond` holds; fails the test naming `what` otherwise.
#[track_caller]
pub(crate) fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The names in a directory, sorted.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}
