//! Browsing inside images: each platform's merged root filesystem, read from its layers.

pub mod zran;
