//! imagefs: a store of OCI container images shown as a directory tree, with platform-filtered
//! image archives synthesized on read and archives loaded by writing them into `import/`.
//!
//! Layers, bottom to top, with no edges back: `digest`, `platform`, `reference` → `store` → `image`
//! → `archive` → `fs` → `fuse` → `cli`. See doc/ARCHITECTURE.md.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod digest;
pub mod platform;
pub mod reference;
pub mod gojson;
pub mod oci;
pub mod store;
pub mod image;
pub mod archive;
pub mod gc;
pub mod cli;
pub mod logger;
