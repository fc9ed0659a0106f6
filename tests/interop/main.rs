//! The interop matrix: round trips between imagefs and the real tools of the field —
//! containerd 1.6 (`ctr`), podman 4.3, dockerd 20.10, skopeo 1.9 and umoci 0.4 — in both
//! directions, through `imagefs export`/`import` and through the FUSE mount. One module per
//! peer; `images` holds the images and archives they all use, `imports` the imagefs side of a
//! leg, `service` the peer daemons, `matrix` the recorder.
//!
//! Every peer starts privately: its own root, state and unix socket under a temp dir, no TCP
//! listener, stopped (and its mounts detached) by a Drop guard even when the test fails. A peer
//! that is missing or cannot start fails the test with its exact error, unless
//! `IMAGEFS_TEST_SKIP` names it (see tests/common/needs.rs).
//!
//! Each test runs its legs one by one and records every leg (ok, peer limitation, or FAIL with
//! the message) in a matrix; a failing leg does not hide the others, and the test fails at the
//! end if any leg failed. The matrix is written to `target/compatibility.md` on every run;
//! `IMAGEFS_WRITE_COMPAT=1 cargo test --test interop` also rewrites the generated part of
//! `doc/COMPATIBILITY.md` (between its BEGIN/END markers). Run all tests when regenerating.

#[path = "../common/mod.rs"]
mod common;

mod containerd;
mod docker;
mod images;
mod imports;
mod matrix;
mod podman;
mod service;
mod skopeo;
mod umoci;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use common::*;
use containerd::*;
use imagefs::digest::Digest;
use imagefs::sample::LayerCompression;
use images::*;
use imports::*;
use matrix::*;
use serde_json::Value;
use service::*;
use skopeo::*;
use tempfile::TempDir;
