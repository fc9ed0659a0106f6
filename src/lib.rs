//! imagefs: a store of OCI container images shown as a directory tree, with platform-filtered
//! image archives synthesized on read and archives loaded by writing them into `import/`.
//!
//! Layers, bottom to top, with no edges back: `digest`, `platform`, `reference` → `store` → `image`
//! → `archive` → `fs` → `fuse` → `cli`. See doc/ARCHITECTURE.md.

#![deny(clippy::undocumented_unsafe_blocks)]
// Our error values carry what diagnosis needs (platforms, paths, digests) by value; they travel
// only on failure paths, where a few hundred bytes of stack cost nothing measurable.
#![allow(clippy::result_large_err)]

pub mod archive;
pub mod cli;
pub mod digest;
pub mod error;
pub mod fs;
pub mod fuse;
pub mod gc;
pub mod gojson;
pub mod image;
pub mod logger;
pub mod oci;
pub mod platform;
pub mod reference;
pub mod restore;
pub mod rootfs;
pub mod sample;
pub mod store;
pub mod suggest;
#[cfg(test)]
mod testing;
