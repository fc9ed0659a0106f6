//! Browsing inside images: each platform's merged root filesystem, read with random access
//! into its compressed layers (issue 10; in progress).

pub mod layer;
pub mod zran;
pub mod zstd_frames;
