//! Normalisation: the architecture alias table, the host OS for an empty OS, OS features.

use super::*;

// containerd/platforms database.go normalizeArch.
#[test]
fn normalize_applies_alias_table() {
    let cases = [
        ("x86_64", "", "amd64", ""),
        ("x86-64", "", "amd64", ""),
        ("amd64", "", "amd64", ""),
        ("amd64", "v1", "amd64", ""),
        ("amd64", "v2", "amd64", "v2"),
        ("amd64", "v3", "amd64", "v3"),
        ("AMD64", "V4", "amd64", "v4"),
        ("i386", "whatever", "386", ""),
        ("aarch64", "", "arm64", ""),
        ("arm64", "8", "arm64", ""),
        ("arm64", "v8", "arm64", ""),
        ("arm64", "v8.0", "arm64", ""),
        ("arm64", "8.0", "arm64", "8.0"),
        ("arm64", "9", "arm64", "v9"),
        ("arm64", "9.0", "arm64", "v9"),
        ("arm64", "v9.0", "arm64", "v9"),
        ("arm64", "v8.2", "arm64", "v8.2"),
        ("armhf", "", "arm", "v7"),
        ("armhf", "v6", "arm", "v7"),
        ("armel", "", "arm", "v6"),
        ("arm", "", "arm", "v7"),
        ("arm", "7", "arm", "v7"),
        ("arm", "5", "arm", "v5"),
        ("arm", "6", "arm", "v6"),
        ("arm", "8", "arm", "v8"),
        ("arm", "v4", "arm", "v4"),
        ("ppc64le", "", "ppc64le", ""),
    ];
    for (arch, variant, want_arch, want_variant) in cases {
        let normal = p("linux", arch, variant).normalize();
        assert_eq!(
            normal,
            p("linux", want_arch, want_variant),
            "{arch}/{variant}"
        );
    }
    assert_eq!(p("macos", "arm64", "").normalize().os, "darwin");
    assert_eq!(p("MacOS", "arm64", "").normalize().os, "darwin");
    assert_eq!(p("Windows", "amd64", "").normalize().os, "windows");
}

#[test]
fn normalize_fills_empty_os_with_host_os() {
    assert_eq!(p("", "amd64", "").normalize().os, Platform::host().os);
}

#[test]
fn normalize_sorts_and_dedups_os_features_and_keeps_version() {
    let platform = with_version(p("Windows", "amd64", ""), "10.0");
    let normal = with_features(platform, &["b", "a", "b"]).normalize();
    assert_eq!(normal.os_features, ["a", "b"]);
    assert_eq!(normal.os_version, "10.0");
    assert_eq!(normal.os, "windows");
}
