//! Unit tests of `platform`, by subject: parsing and formatting, normalisation, matching and the
//! `Only` vector, Windows builds, host detection and the file-name form; this file holds the
//! helpers they share. containerd/platforms' own tables run from tests/upstream_platforms.rs.

use super::*;

mod file_name;
mod host;
mod matcher;
mod normalize;
mod parse;
mod windows;

fn p(os: &str, arch: &str, variant: &str) -> Platform {
    Platform::new(os, arch, variant)
}

fn parse(s: &str) -> Platform {
    Platform::parse(s).unwrap_or_else(|e| panic!("parse {s:?}: {e}"))
}

fn with_version(mut platform: Platform, version: &str) -> Platform {
    platform.os_version = version.to_string();
    platform
}

fn with_features(mut platform: Platform, features: &[&str]) -> Platform {
    platform.os_features = features.iter().map(|f| f.to_string()).collect();
    platform
}

/// Parses every whitespace-separated specifier in `list`.
fn platforms(list: &str) -> Vec<Platform> {
    list.split_whitespace().map(parse).collect()
}
