//! The `os-arch[-variant]` file-name form: what it writes, round trips, aliases, rejections.

use super::*;

#[test]
fn file_name_of_normalised_platform() {
    let windows = |version: &str, features: &[&str]| {
        with_features(with_version(p("windows", "amd64", ""), version), features)
    };
    let linux = |features: &[&str]| with_features(p("linux", "amd64", ""), features);
    let cases = [
        (p("linux", "amd64", ""), "linux-amd64"),
        (p("linux", "arm64", ""), "linux-arm64"),
        (p("linux", "arm64", "v8"), "linux-arm64"),
        (p("linux", "arm", ""), "linux-arm-v7"),
        (p("linux", "arm", "v7"), "linux-arm-v7"),
        (p("linux", "arm", "v6"), "linux-arm-v6"),
        (p("linux", "amd64", "v3"), "linux-amd64-v3"),
        (p("linux", "amd64", "v1"), "linux-amd64"),
        (p("linux", "arm64", "v9"), "linux-arm64-v9"),
        (p("linux", "arm64", "v8.2"), "linux-arm64-v8.2"),
        (p("windows", "amd64", ""), "windows-amd64"),
        (p("linux", "386", ""), "linux-386"),
        (p("linux", "ppc64le", ""), "linux-ppc64le"),
        (p("linux", "riscv64", ""), "linux-riscv64"),
        (p("unknown", "unknown", ""), "unknown-unknown"),
        (p("Linux", "x86_64", ""), "linux-amd64"),
        (windows("10.0.17763.1", &[]), "windows(10.0.17763.1)-amd64"),
        (
            windows("10.0.20348", &["win32k"]),
            "windows(10.0.20348+win32k)-amd64",
        ),
        (linux(&["b", "a", "a"]), "linux(+a+b)-amd64"),
        (
            windows("1.0(beta)+x/y%", &[]),
            "windows(1.0%28beta%29%2Bx%2Fy%25)-amd64",
        ),
        (linux(&["feat+v2"]), "linux(+feat%2Bv2)-amd64"),
        // Beyond containerd's set: bytes the grammar cannot carry are encoded too.
        (windows("a b:c", &[]), "windows(a%20b%3Ac)-amd64"),
    ];
    for (platform, name) in cases {
        assert_eq!(platform.file_name(), name, "{platform:?}");
    }
}

#[test]
fn file_name_is_always_one_safe_path_segment() {
    let hostile = [
        p("..", "", ""),
        p(".", "", ""),
        p("linux", "a/b", "c/d"),
        p("linux", "", "v7"),
        p("lin\0ux", "amd64", ""),
        p("a/b", "amd64", ""),
        with_version(p("windows", "amd64", ""), "../../etc"),
    ];
    for platform in hostile {
        let name = platform.file_name();
        assert!(!name.is_empty() && name != "." && name != "..", "{name:?}");
        assert!(!name.contains('/') && !name.contains('\0'), "{name:?}");
    }
}

#[test]
fn from_file_name_round_trips_normalised_platforms() {
    let windows = |version: &str, features: &[&str]| {
        with_features(with_version(p("windows", "amd64", ""), version), features)
    };
    let mut cases = platforms(
        "linux/amd64 linux/amd64/v2 linux/amd64/v3 linux/amd64/v4 linux/arm64 \
         linux/arm64/v8.2 linux/arm64/v9 linux/arm/v5 linux/arm/v6 linux/arm/v7 linux/arm/v8 \
         linux/386 linux/ppc64le linux/s390x linux/riscv64 linux/mips64le linux/loong64 \
         windows/amd64 windows/arm64 darwin/arm64 freebsd/amd64 wasip1/wasm unknown/unknown",
    )
    .iter()
    .map(Platform::normalize)
    .collect::<Vec<_>>();
    cases.extend([
        windows("10.0.17763.1", &[]),
        windows("10.0.20348", &["win32k"]),
        with_features(p("linux", "amd64", ""), &["a", "b"]),
        windows("1.0(beta)+x/y%", &["feat+1", "z"]),
        windows("a b:c-d", &[]),
        windows("10.0-beta", &[]),
        Platform::host(),
    ]);
    for platform in cases {
        assert_eq!(
            platform.normalize(),
            platform,
            "fixture {platform:?} is normal"
        );
        let name = platform.file_name();
        assert_eq!(Platform::from_file_name(&name), Ok(platform), "{name}");
    }
}

#[test]
fn from_file_name_accepts_aliases() {
    let cases = [
        ("linux-aarch64", "linux-arm64"),
        ("linux-arm64-v8", "linux-arm64"),
        ("linux-arm64-8", "linux-arm64"),
        ("linux-arm64-v8.0", "linux-arm64"),
        ("linux-arm64-v9.0", "linux-arm64-v9"),
        ("linux-x86_64", "linux-amd64"),
        ("linux-x86-64", "linux-amd64"),
        ("linux-x86-64-v3", "linux-amd64-v3"),
        ("linux-armhf", "linux-arm-v7"),
        ("linux-arm", "linux-arm-v7"),
        ("linux-arm-7", "linux-arm-v7"),
        ("linux-armel", "linux-arm-v6"),
        ("linux-amd64-v1", "linux-amd64"),
        ("linux-i386", "linux-386"),
        ("Linux-AMD64", "linux-amd64"),
        ("macos-arm64", "darwin-arm64"),
        ("windows()-amd64", "windows-amd64"),
        (
            "windows(10.0.20348+win32k+win32k)-amd64",
            "windows(10.0.20348+win32k)-amd64",
        ),
        ("linux(+b+a)-amd64", "linux(+a+b)-amd64"),
    ];
    for (alias, canonical) in cases {
        let platform = Platform::from_file_name(alias).unwrap_or_else(|e| panic!("{alias}: {e}"));
        assert_eq!(platform.file_name(), canonical, "{alias}");
        assert_eq!(
            platform,
            platform.normalize(),
            "{alias} gives the normal form"
        );
    }
}

#[test]
fn from_file_name_rejects_malformed_names() {
    let shape = "expected <os>-<arch>[-<variant>]";
    let structural = [
        ("", "empty"),
        ("linux", shape),
        ("amd64", shape),
        ("foo", shape),
        ("windows(10.0.17763)", shape),
        ("windows(10.0.17763)amd64", shape),
        ("windows(10.0-amd64", "unbalanced parenthesis in os part"),
        ("linux/amd64", "contains '/'"),
        ("linux-arm/v7", "contains '/'"),
        ("*", "wildcards not yet supported"),
        ("linux-*", "wildcards not yet supported"),
        ("linux-arm64-v8-v9", "more than one variant"),
        ("linux-arm-v7-extra-x", "more than one variant"),
        ("linux--amd64", "empty architecture or variant"),
        ("linux-amd64-", "empty architecture or variant"),
    ];
    for (name, reason) in structural {
        let err = ParsePlatformError::InvalidFileName {
            name: name.to_string(),
            reason,
        };
        assert_eq!(Platform::from_file_name(name), Err(err), "{name:?}");
    }
    let bad_components = [
        "linux-",
        "-amd64",
        "linux-arm 64",
        "linux-a&b",
        "lin ux-amd64",
        "linux-amd64-v%33",
    ];
    for name in bad_components
        .into_iter()
        .chain(["windows(%zz)-amd64", "linux(+)-amd64"])
    {
        let err = Platform::from_file_name(name).expect_err(name);
        assert!(
            matches!(err, ParsePlatformError::FileNameComponent { .. }),
            "{name:?}: {err:?}"
        );
    }
    let err = Platform::from_file_name("linux-arm 64").expect_err("space");
    assert_eq!(
        err.to_string(),
        "invalid platform file name \"linux-arm 64\""
    );
    let source = std::error::Error::source(&err).expect("wraps the component error");
    assert!(source.to_string().contains("\"arm 64\""), "{source}");
}
