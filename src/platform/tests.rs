//! Unit tests of `platform`: parsing, normalisation, formatting, matching, the `Only` vector,
//! the file-name form and host detection. containerd/platforms' own tables run from
//! tests/upstream_platforms.rs.

use super::host::variant_from_cpuinfo;
use super::*;

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

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// What upstream's tests call defaultArch/defaultVariant: Parse("linux") completes with
/// GOARCH, and with a variant only on arm hosts that are not v7.
fn host_completion(os: &str) -> Platform {
    let host = Platform::host();
    let variant = match host.architecture.as_str() {
        "arm" if host.variant != "v7" => host.variant.clone(),
        _ => String::new(),
    };
    p(os, &host.architecture, &variant)
}

#[test]
fn parse_completes_single_arch_with_host_os() {
    let host_os = Platform::host().os;
    for arch in ["arm64", "amd64", "ppc64le", "riscv64", "loong64", "wasm"] {
        assert_eq!(parse(arch), p(&host_os, arch, ""), "{arch}");
    }
}

#[test]
fn parse_completes_single_os_with_host_arch() {
    for os in ["linux", "windows", "darwin", "freebsd", "LINUX"] {
        assert_eq!(parse(os), host_completion(&os.to_lowercase()), "{os}");
    }
}

#[test]
fn parse_component_count_rules() {
    let cases = [
        // Two components hide the arm default v7.
        ("linux/arm/v7", p("linux", "arm", "v7")),
        ("linux/armhf", p("linux", "arm", "")),
        ("linux/arm/7", p("linux", "arm", "v7")),
        ("linux/armel", p("linux", "arm", "v6")),
        // Three components make the arm64 default visible.
        ("linux/arm64/v8", p("linux", "arm64", "v8")),
        ("linux/arm64/8", p("linux", "arm64", "v8")),
        ("linux/arm64/v8.0", p("linux", "arm64", "v8")),
        ("linux/aarch64", p("linux", "arm64", "")),
        ("linux/arm64/v9.0", p("linux", "arm64", "v9")),
        ("linux/arm64/v8.2", p("linux", "arm64", "v8.2")),
        ("linux/amd64/v1", p("linux", "amd64", "")),
        ("linux/amd64/V3", p("linux", "amd64", "v3")),
        ("linux/x86-64", p("linux", "amd64", "")),
        ("linux/i386/whatever", p("linux", "386", "")),
        // Two components do not care whether the architecture is known.
        ("linux/foo", p("linux", "foo", "")),
        ("unknown/unknown", p("unknown", "unknown", "")),
        ("MacOS/arm64", p("darwin", "arm64", "")),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input), expected, "{input}");
    }
}

#[test]
fn parse_rejects_invalid_specifiers() {
    use ParsePlatformError as E;
    let os = |spec: &str, component: &str| E::InvalidOsComponent {
        spec: spec.into(),
        component: component.into(),
    };
    let comp = |spec: &str, component: &str| E::InvalidComponent {
        spec: spec.into(),
        component: component.into(),
    };
    let version = |spec: &str, version: &str| E::InvalidOsVersion {
        spec: spec.into(),
        version: version.into(),
    };
    let cases = [
        ("", E::Empty),
        ("*", E::Wildcard { spec: "*".into() }),
        (
            "linux/*",
            E::Wildcard {
                spec: "linux/*".into(),
            },
        ),
        ("linux/", comp("linux/", "")),
        ("/amd64", os("/amd64", "")),
        ("/linux/arm", os("/linux/arm", "")),
        ("linux/arm/", comp("linux/arm/", "")),
        ("linux /arm", os("linux /arm", "linux ")),
        ("linux/&arm", comp("linux/&arm", "&arm")),
        ("linux/arm 64", comp("linux/arm 64", "arm 64")),
        (
            "a/b/c/d",
            E::TooManyComponents {
                spec: "a/b/c/d".into(),
            },
        ),
        (
            "linux/arm/foo/bar",
            E::TooManyComponents {
                spec: "linux/arm/foo/bar".into(),
            },
        ),
        // Upstream splits into at most four parts, so the fourth keeps its '/'.
        ("a/b/c/d/e", comp("a/b/c/d/e", "d/e")),
        (
            "nope",
            E::UnknownOsOrArch {
                spec: "nope".into(),
            },
        ),
        // Not in upstream's isKnownOS list, and not an architecture.
        (
            "wasip1",
            E::UnknownOsOrArch {
                spec: "wasip1".into(),
            },
        ),
        // Options make a single component unusable as an architecture.
        (
            "amd64(1.0)",
            E::UnknownOsOrArch {
                spec: "amd64(1.0)".into(),
            },
        ),
        ("windows(10.0", os("windows(10.0", "windows(10.0")),
        ("linux(++a)/amd64", os("linux(++a)/amd64", "linux(++a)")),
        (
            "windows(10 0)/amd64",
            os("windows(10 0)/amd64", "windows(10 0)"),
        ),
        ("linux(a)(b)/amd64", os("linux(a)(b)/amd64", "linux(a)(b)")),
        ("windows(%zz)/amd64", version("windows(%zz)/amd64", "%zz")),
        ("windows(1%2)/amd64", version("windows(1%2)/amd64", "1%2")),
        // Decodes to a byte that is not UTF-8.
        ("windows(%FF)/amd64", version("windows(%FF)/amd64", "%FF")),
        (
            "linux(+ok+bad%)/amd64",
            E::InvalidOsFeature {
                spec: "linux(+ok+bad%)/amd64".into(),
                feature: "bad%".into(),
            },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Platform::parse(input).as_ref(), Err(&expected), "{input:?}");
        assert_eq!(
            input.parse::<Platform>(),
            Err(expected),
            "{input:?} via FromStr"
        );
    }
}

#[test]
fn parse_error_messages_name_the_input() {
    let cases = [
        (
            "linux/arm 64",
            "\"arm 64\" is an invalid component of \"linux/arm 64\": \
             expected characters from [A-Za-z0-9_.-]",
        ),
        ("nope", "\"nope\": unknown operating system or architecture"),
        ("linux/*", "\"linux/*\": wildcards not yet supported"),
        ("", "empty platform specifier"),
    ];
    for (input, message) in cases {
        let err = Platform::parse(input).expect_err(input);
        assert_eq!(err.to_string(), message);
    }
}

#[test]
fn parse_decodes_percent_escapes_in_os_options() {
    let parsed = parse("windows(1.0%28beta%29+feat%2B1+a%2Fb)/amd64");
    assert_eq!(parsed.os_version, "1.0(beta)");
    assert_eq!(parsed.os_features, ["feat+1", "a/b"]);
    assert_eq!(parse("linux(a%20b)/amd64").os_version, "a b");
    assert_eq!(parse("linux(%41%61)/amd64").os_version, "Aa");
}

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

#[test]
fn format_joins_like_go_path_join() {
    assert_eq!(p("linux", "arm64", "").format(), "linux/arm64");
    assert_eq!(p("linux", "arm", "v7").format(), "linux/arm/v7");
    assert_eq!(p("linux", "", "v7").format(), "linux/v7");
    assert_eq!(p("", "amd64", "").format(), "unknown");
    assert_eq!(p("", "amd64", "").format_all(), "unknown");
    // Format does not normalise.
    assert_eq!(p("Linux", "aarch64", "v8").format(), "Linux/aarch64/v8");
    // path.Clean applies to hostile values.
    assert_eq!(p("linux", "..", "").format(), ".");
    assert_eq!(p("linux", "a//b", "").format(), "linux/a/b");
    assert_eq!(p("/linux", "..", "..").format(), "/");
    assert_eq!(p("a", "..", "..").format(), "..");
}

// Ported from platforms_test.go TestFormatAllEncoding and TestFormatAllSkipsEmptyOSFeatures.
#[test]
fn format_all_percent_encodes_os_options() {
    let windows = |version: &str, features: &[&str]| {
        with_features(with_version(p("windows", "amd64", ""), version), features)
    };
    let linux = |features: &[&str]| with_features(p("linux", "amd64", ""), features);
    let cases = [
        (
            windows("10.0.17763+build.42", &[]),
            "windows(10.0.17763%2Bbuild.42)/amd64",
        ),
        (
            windows("10.0.17763+build.42", &["win32k"]),
            "windows(10.0.17763%2Bbuild.42+win32k)/amd64",
        ),
        (windows("50%done", &[]), "windows(50%25done)/amd64"),
        (windows("1.0(beta)", &[]), "windows(1.0%28beta%29)/amd64"),
        (windows("a/b", &[]), "windows(a%2Fb)/amd64"),
        (windows("10.0.17763", &[]), "windows(10.0.17763)/amd64"),
        (linux(&["feat+v2"]), "linux(+feat%2Bv2)/amd64"),
        (linux(&["100%gpu"]), "linux(+100%25gpu)/amd64"),
        (
            windows("10.0+build", &["feat+1"]),
            "windows(10.0%2Bbuild+feat%2B1)/amd64",
        ),
    ];
    for (platform, expected) in cases {
        assert_eq!(platform.format_all(), expected);
        assert_eq!(platform.to_string(), expected, "Display is format_all");
        let reparsed = parse(expected);
        assert_eq!(reparsed.os_version, platform.os_version);
        assert_eq!(reparsed.os_features, platform.os_features);
    }
    assert_eq!(
        linux(&["", "gpu", "", "simd", "gpu"]).format_all(),
        "linux(+gpu+simd)/amd64"
    );
    assert_eq!(linux(&[""]).format_all(), "linux/amd64");
    assert_eq!(p("linux", "arm", "v7").to_string(), "linux/arm/v7");
}

#[test]
fn display_normalized_shows_canonical_form() {
    let cases = [
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("linux/armel", "linux/arm/v6"),
    ];
    for (input, shown) in cases {
        assert_eq!(parse(input).display_normalized(), shown, "{input}");
    }
}

#[test]
fn deserializes_oci_platform_json() {
    let json = r#"{"architecture":"amd64","os":"windows","os.version":"10.0.20348.2113",
                   "os.features":["win32k"],"variant":"v2","features":["ignored"]}"#;
    let platform: Platform = serde_json::from_str(json).expect("valid platform json");
    let expected = with_features(
        with_version(p("windows", "amd64", "v2"), "10.0.20348.2113"),
        &["win32k"],
    );
    assert_eq!(platform, expected);
    let sparse: Platform = serde_json::from_str(r#"{"os":"linux"}"#).expect("fields default");
    assert_eq!(sparse, p("linux", "", ""));
}

#[test]
fn is_unknown_detects_attestation_platform() {
    assert!(parse("unknown/unknown").is_unknown());
    assert!(!p("linux", "unknown", "").is_unknown());
    assert!(!p("unknown", "amd64", "").is_unknown());
}

// containerd/platforms compare_test.go TestOnlyStrict (the exact matcher).
#[test]
fn matches_exact_after_normalisation() {
    let cases = [
        (
            "linux/arm64",
            "linux/arm64 linux/arm64/v8 linux/aarch64 linux/aarch64/8",
            "",
        ),
        (
            "linux/arm64",
            "",
            "linux/arm linux/arm/v5 linux/arm/v6 linux/arm/v7 linux/arm/v8 linux/amd64 \
             linux/arm/v4 linux/arm/v9 linux/arm64/v9 linux/arm64/v8.2 windows/amd64 \
             windows/arm",
        ),
        (
            "linux/arm64/v8",
            "linux/arm64 linux/arm64/v8",
            "linux/arm64/v8.1",
        ),
        ("linux/aarch64", "linux/arm64 linux/arm64/v8", "linux/arm"),
        (
            "linux/arm64/v8.2",
            "linux/arm64/v8.2",
            "linux/arm64 linux/arm64/v8.1",
        ),
        (
            "linux/arm64/v8.1",
            "linux/arm64/v8.1",
            "linux/arm linux/arm/v8 linux/arm64/v8 linux/arm64/v9 linux/amd64",
        ),
        (
            "linux/arm64/v9",
            "linux/arm64/v9 linux/arm64/v9.0",
            "linux/arm linux/arm/v8 linux/arm/v9 linux/arm64/v8 linux/arm64/v8.1",
        ),
        (
            "linux/arm",
            "linux/arm linux/arm/v7 linux/armhf",
            "linux/arm/v6 linux/arm/v5 linux/arm/v8 linux/arm64",
        ),
        ("linux/armhf", "linux/arm linux/arm/v7", "linux/arm/v6"),
        (
            "linux/arm/v7",
            "linux/arm linux/arm/v7",
            "linux/arm/v5 linux/arm/v6 linux/amd64 linux/arm/v4 linux/arm/v8 linux/arm64 \
             windows/amd64 windows/arm",
        ),
        (
            "linux/arm/v6",
            "linux/arm/v6 linux/armel",
            "linux/arm linux/arm/v5 linux/arm/v7",
        ),
        ("linux/armel", "linux/arm/v6", "linux/arm"),
        (
            "linux/arm/v8",
            "linux/arm/v8",
            "linux/arm linux/arm/v7 linux/arm64",
        ),
        ("linux/arm/v5", "linux/arm/v5", "linux/arm/v4 linux/arm/v6"),
        ("linux/arm/v4", "linux/arm/v4", "linux/arm/v5"),
        (
            "linux/amd64",
            "linux/amd64 linux/amd64/v1 linux/x86_64",
            "linux/386 linux/amd64/v2 linux/arm/v7 linux/arm64 windows/amd64",
        ),
        ("linux/x86_64", "linux/amd64 linux/amd64/v1", "linux/386"),
        (
            "linux/amd64/v3",
            "linux/amd64/v3",
            "linux/amd64 linux/amd64/v2 linux/amd64/v4",
        ),
        (
            "linux/386",
            "linux/386 linux/i386",
            "linux/amd64 linux/arm/v7",
        ),
        ("i386", "linux/386", "linux/amd64"),
        (
            "windows/amd64",
            "windows/amd64 windows(10.0.17763)/amd64 windows(10.0.20348)/amd64",
            "linux/amd64 linux/arm/v7 linux/arm64 windows/arm",
        ),
        (
            "windows(10.0.17763)/amd64",
            "windows/amd64 windows(10.0.17763)/amd64 windows(10.0.17763.1234)/amd64",
            "linux/amd64 windows/arm windows(10.0.20348)/amd64",
        ),
        (
            "windows(10.0.20348)/amd64",
            "windows/amd64 windows(10.0.20348)/amd64 windows(10.0.20348.2113)/amd64",
            "windows(10.0.17763)/amd64 windows(10.0.26100)/amd64",
        ),
        (
            "unknown/unknown",
            "unknown/unknown",
            "linux/amd64 unknown/amd64 linux/unknown",
        ),
    ];
    for (requested, yes, no) in cases {
        let requested = if requested == "i386" {
            p("linux", "i386", "")
        } else {
            parse(requested)
        };
        for candidate in platforms(yes) {
            assert!(
                matches_exact(&requested, &candidate),
                "{requested:?} ~ {candidate:?}"
            );
        }
        for candidate in platforms(no) {
            assert!(
                !matches_exact(&requested, &candidate),
                "{requested:?} !~ {candidate:?}"
            );
        }
    }
}

#[test]
fn matches_exact_ignores_os_version_off_windows() {
    let requested = with_version(p("linux", "amd64", ""), "5.10");
    assert!(matches_exact(
        &requested,
        &with_version(p("linux", "amd64", ""), "6.1")
    ));
    assert!(matches_exact(&requested, &p("linux", "amd64", "")));
}

#[test]
fn matches_exact_requires_candidate_features_subset() {
    let host = with_features(p("linux", "amd64", ""), &["gpu", "erofs"]);
    let cases: [(&[&str], bool); 6] = [
        (&[], true),
        (&["gpu"], true),
        (&["erofs", "gpu"], true),
        (&["gpu", "gpu"], true),
        (&["simd"], false),
        (&["gpu", "simd"], false),
    ];
    for (features, expected) in cases {
        let candidate = with_features(p("linux", "amd64", ""), features);
        assert_eq!(matches_exact(&host, &candidate), expected, "{features:?}");
    }
    // A matcher without features accepts only candidates without features.
    let plain = p("linux", "amd64", "");
    assert!(!matches_exact(
        &plain,
        &with_features(plain.clone(), &["gpu"])
    ));
    assert!(matches_exact(
        &with_features(plain.clone(), &["gpu"]),
        &plain
    ));
}

#[test]
fn matches_exact_ignores_win32k_on_windows_only() {
    let windows = p("windows", "amd64", "");
    assert!(matches_exact(
        &windows,
        &with_features(windows.clone(), &["win32k"])
    ));
    assert!(!matches_exact(
        &windows,
        &with_features(windows.clone(), &["win32k", "other"])
    ));
    let linux = p("linux", "amd64", "");
    assert!(!matches_exact(
        &linux,
        &with_features(linux.clone(), &["win32k"])
    ));
}

// platform_windows_compat_test.go Test_PlatformCompat, plus rc.5's second LTSC (26100).
#[test]
fn windows_build_compatibility_follows_ltsc_floor() {
    let cases = [
        (17763, 17763, true),
        (17763, 20348, false),
        (17763, 17764, false),
        (20348, 17763, false),
        (20348, 20348, true),
        (20348, 22621, false),
        (22621, 17763, false),
        (22621, 20348, true),
        (22621, 22621, true),
        (22621, 26100, false),
        (26100, 17763, false),
        (26100, 20348, true),
        (26100, 25398, true),
        (26100, 26100, true),
        (26100, 26200, false),
        // Past the newest LTSC the floor is still the LTSC before it (§4.3).
        (26200, 20348, true),
        (26200, 26100, true),
        (26200, 26200, true),
        (26200, 17763, false),
    ];
    for (host, ctr, expected) in cases {
        let requested = parse(&format!("windows(10.0.{host})/amd64"));
        let candidate = parse(&format!("windows(10.0.{ctr}.1)/amd64"));
        let got = matches_exact(&requested, &candidate);
        assert_eq!(got, expected, "host {host} container {ctr}");
    }
}

#[test]
fn windows_version_matching_edge_cases() {
    let cases = [
        // Either side empty: any version.
        ("", "10.0.17763", true),
        ("10.0.17763", "", true),
        // An unparsable requested version counts as empty (upstream isEmpty()).
        ("10.0", "10.0.20348", true),
        ("garbage", "10.0.20348", true),
        ("10.0.99999", "10.0.17763", true),
        ("0.0.0", "10.0.17763", true),
        // An unparsable candidate reads as 0.0.0 and fails major.minor.
        ("10.0.17763", "garbage", false),
        ("10.0.17763", "10.0", false),
        // Major.minor must agree.
        ("10.0.20348", "10.1.20348", false),
        ("6.3.20348", "10.0.20348", false),
        // Revisions are ignored.
        ("10.0.17763.100", "10.0.17763.2", true),
        ("10.0.17763", "10.0.17763.x.y", true),
        // Go's ParseUint takes digits only.
        ("10.0.17763", "+10.0.17763", false),
        ("10.0.17763", "10.0.017763", true),
    ];
    for (requested, candidate, expected) in cases {
        let want = with_version(p("windows", "amd64", ""), requested);
        let have = with_version(p("windows", "amd64", ""), candidate);
        assert_eq!(
            matches_exact(&want, &have),
            expected,
            "{requested:?} vs {candidate:?}"
        );
    }
}

fn only(requested: &str) -> Only {
    Only::new(&parse(requested))
}

// containerd/platforms compare.go Only(): the preference vector, in order.
#[test]
fn only_vector_lists_fallbacks_in_preference_order() {
    let arm32 = "linux/arm/v8 linux/arm/v7 linux/arm/v6 linux/arm/v5";
    let arm64 = format!("linux/arm64 {arm32}");
    let cases = [
        ("linux/arm64", arm64.clone()),
        ("linux/arm64/v8", arm64.clone()),
        ("linux/aarch64", arm64.clone()),
        (
            "linux/arm64/v8.2",
            format!("linux/arm64/v8.2 linux/arm64/v8.1 {arm64}"),
        ),
        (
            "linux/arm64/v9",
            "linux/arm64/v9 linux/arm64/v8.5 linux/arm64/v8.4 linux/arm64/v8.3 \
             linux/arm64/v8.2 linux/arm64/v8.1 {arm64}"
                .replace("{arm64}", &arm64),
        ),
        (
            "linux/arm64/v9.2",
            format!(
                "linux/arm64/v9.2 linux/arm64/v9.1 linux/arm64/v9 linux/arm64/v8.7 \
                 linux/arm64/v8.6 linux/arm64/v8.5 linux/arm64/v8.4 linux/arm64/v8.3 \
                 linux/arm64/v8.2 linux/arm64/v8.1 {arm64}"
            ),
        ),
        (
            "linux/arm64/v9.5",
            format!(
                "linux/arm64/v9.5 linux/arm64/v9.4 linux/arm64/v9.3 linux/arm64/v9.2 \
                 linux/arm64/v9.1 linux/arm64/v9 linux/arm64/v8.9 linux/arm64/v8.8 \
                 linux/arm64/v8.7 linux/arm64/v8.6 linux/arm64/v8.5 linux/arm64/v8.4 \
                 linux/arm64/v8.3 linux/arm64/v8.2 linux/arm64/v8.1 {arm64}"
            ),
        ),
        // Variants outside upstream's arm64 table give an empty vector (compare.go).
        ("linux/arm64/v8.10", String::new()),
        ("linux/arm64/v10", String::new()),
        ("linux/arm", "linux/arm/v7 linux/arm/v6 linux/arm/v5".into()),
        (
            "linux/armhf",
            "linux/arm/v7 linux/arm/v6 linux/arm/v5".into(),
        ),
        ("linux/arm/v6", "linux/arm/v6 linux/arm/v5".into()),
        ("linux/armel", "linux/arm/v6 linux/arm/v5".into()),
        ("linux/arm/v8", arm32.into()),
        ("linux/arm/v5", "linux/arm/v5".into()),
        ("linux/arm/v4", "linux/arm/v4".into()),
        ("linux/amd64", "linux/amd64 linux/386".into()),
        ("linux/x86_64", "linux/amd64 linux/386".into()),
        (
            "linux/amd64/v3",
            "linux/amd64/v3 linux/amd64/v2 linux/amd64 linux/386".into(),
        ),
        ("linux/386", "linux/386".into()),
        ("windows/amd64", "windows/amd64 windows/386".into()),
        ("unknown/unknown", "unknown/unknown".into()),
        ("linux/s390x", "linux/s390x".into()),
        ("linux/arm64/foo", String::new()),
        // Deliberate cap: absurd numbers generate no chain (upstream would allocate it).
        ("linux/amd64/v1000", "linux/amd64/v1000 linux/386".into()),
    ];
    for (requested, expected) in cases {
        let vector: Vec<String> = only(requested)
            .platforms()
            .iter()
            .map(Platform::format)
            .collect();
        assert_eq!(
            vector,
            expected.split_whitespace().collect::<Vec<_>>(),
            "Only({requested})"
        );
    }
}

#[test]
fn only_vector_keeps_os_version_and_features() {
    let only = only("windows(10.0.20348+win32k)/amd64");
    assert_eq!(only.platforms().len(), 2);
    for entry in only.platforms() {
        assert_eq!(entry.os_version, "10.0.20348");
        assert_eq!(entry.os_features, ["win32k"]);
    }
    assert_eq!(only.platforms()[1].architecture, "386");
}

// compare_test.go TestOnly.
#[test]
fn only_matches_compatible_platforms() {
    let cases = [
        (
            "linux/amd64",
            "linux/amd64 linux/386",
            "linux/amd64/v2 linux/arm/v7 linux/arm64 windows/amd64 windows/arm",
        ),
        (
            "linux/amd64/v2",
            "linux/amd64 linux/amd64/v1 linux/amd64/v2 linux/386",
            "linux/amd64/v3 linux/amd64/v4 linux/arm/v7 linux/arm64 windows/amd64",
        ),
        (
            "linux/386",
            "linux/386",
            "linux/amd64 linux/arm/v7 linux/arm64 windows/amd64",
        ),
        (
            "windows/amd64",
            "windows/amd64 windows(10.0.17763)/amd64",
            "linux/amd64 linux/arm/v7 linux/arm64 windows/arm",
        ),
        (
            "windows(10.0.20348)/amd64",
            "windows/amd64 windows(10.0.20348)/amd64 windows(10.0.20348)/386",
            "windows(10.0.17763)/amd64",
        ),
        (
            "linux/arm/v8",
            "linux/arm linux/arm/v5 linux/arm/v6 linux/arm/v7 linux/arm/v8",
            "linux/amd64 linux/arm/v4 linux/arm64 windows/amd64 windows/arm",
        ),
        (
            "linux/arm/v7",
            "linux/arm linux/arm/v5 linux/arm/v6 linux/arm/v7",
            "linux/amd64 linux/arm/v4 linux/arm/v8 linux/arm64 windows/amd64 windows/arm",
        ),
        (
            "linux/arm/v6",
            "linux/arm/v5 linux/arm/v6",
            "linux/amd64 linux/arm linux/arm/v4 linux/arm/v7 linux/arm/v8 linux/arm64",
        ),
        (
            "linux/arm/v5",
            "linux/arm/v5",
            "linux/arm linux/arm/v4 linux/arm/v6",
        ),
        ("linux/arm/v4", "linux/arm/v4", "linux/arm linux/arm/v5"),
        (
            "linux/arm64/v9",
            "linux/arm linux/arm/v5 linux/arm/v6 linux/arm/v7 linux/arm/v8 linux/arm64 \
             linux/arm64/v8 linux/arm64/v8.1 linux/arm64/v8.2 linux/arm64/v8.3 \
             linux/arm64/v8.4 linux/arm64/v8.5 linux/arm64/v9 linux/arm64/v9.0",
            "linux/amd64 linux/arm/v4 windows/amd64 windows/arm linux/arm64/v8.6",
        ),
        (
            "linux/arm64/v8.1",
            "linux/arm linux/arm/v5 linux/arm/v6 linux/arm/v7 linux/arm/v8 linux/arm64 \
             linux/arm64/v8 linux/arm64/v8.1",
            "linux/amd64 linux/arm/v4 linux/arm/v9 linux/arm64/v9 windows/amd64 windows/arm",
        ),
        (
            "linux/arm64",
            "linux/arm linux/arm/v5 linux/arm/v6 linux/arm/v7 linux/arm/v8 linux/arm64 \
             linux/arm64/v8",
            "linux/amd64 linux/arm/v4 linux/arm/v9 linux/arm64/v9 windows/amd64 windows/arm",
        ),
        (
            "unknown/unknown",
            "unknown/unknown",
            "linux/amd64 linux/arm64",
        ),
    ];
    for (requested, yes, no) in cases {
        let only = only(requested);
        for candidate in platforms(yes) {
            assert!(
                only.matches(&candidate),
                "Only({requested}) ~ {candidate:?}"
            );
        }
        for candidate in platforms(no) {
            assert!(
                !only.matches(&candidate),
                "Only({requested}) !~ {candidate:?}"
            );
            assert_eq!(only.rank(&candidate), None);
        }
    }
}

#[test]
fn only_rank_orders_by_preference() {
    let ranks = |only: &Only, list: &str| -> Vec<Option<usize>> {
        platforms(list).iter().map(|c| only.rank(c)).collect()
    };
    let arm64 = only("linux/arm64");
    let list = "linux/arm64/v8 linux/aarch64 linux/arm/v8 linux/arm linux/arm/v7 \
                linux/arm/v6 linux/arm/v5 linux/amd64";
    let expected = [
        Some(0),
        Some(0),
        Some(1),
        Some(2),
        Some(2),
        Some(3),
        Some(4),
        None,
    ];
    assert_eq!(ranks(&arm64, list), expected);

    let amd64_v3 = only("linux/amd64/v3");
    let list = "linux/amd64/v3 linux/amd64/v2 linux/amd64 linux/amd64/v1 linux/386 \
                linux/amd64/v4";
    let expected = [Some(0), Some(1), Some(2), Some(2), Some(3), None];
    assert_eq!(ranks(&amd64_v3, list), expected);

    // Sorting by rank puts the best candidate first, as Ordered.Less does.
    let mut candidates = platforms("linux/arm/v5 linux/amd64 linux/arm/v7 linux/arm64/v8");
    candidates.sort_by_key(|c| arm64.rank(c).unwrap_or(usize::MAX));
    assert_eq!(candidates[0], p("linux", "arm64", "v8"));
    assert_eq!(candidates[3], p("linux", "amd64", ""));
}

#[test]
fn only_host_matches_host_platform_first() {
    let host = Platform::host();
    let only = Only::host();
    assert_eq!(only.platforms()[0], host.normalize());
    assert_eq!(only.rank(&host), Some(0));
    assert_eq!(Only::new(&host).platforms(), only.platforms());
}

#[test]
fn host_uses_go_names() {
    let host = Platform::host();
    assert!(!host.os.is_empty());
    assert_ne!(host.os, "macos");
    assert!(is_known_arch(&host.architecture) || host.architecture == std::env::consts::ARCH);
    // containerd's DefaultSpec: a variant only on arm and arm64, never an x86-64 level.
    match host.architecture.as_str() {
        "arm" | "arm64" => assert!(host.variant.starts_with('v') || host.variant.is_empty()),
        _ => assert_eq!(host.variant, ""),
    }
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        assert_eq!(host.format(), "linux/amd64");
    }
}

#[test]
fn variant_from_cpuinfo_follows_upstream_get_cpu_variant() {
    let none = || None;
    let machine = || Some("armv7l".to_string());
    type Machine = fn() -> Option<String>;
    let cases: [(&str, &str, Machine, Option<&str>); 7] = [
        (
            "processor\t: 0\nCPU architecture: 8\n",
            "arm64",
            none,
            Some("v8"),
        ),
        (
            "CPU architecture: 7\nmodel name: ARMv6-compatible processor",
            "arm",
            none,
            Some("v6"),
        ),
        (
            "CPU architecture: 7\nmodel name: ARMv6-compatible processor",
            "arm64",
            none,
            Some("v7"),
        ),
        ("Cpu Architecture : 5TEJ\n", "arm", none, Some("v5")),
        ("CPU architecture: 9\n", "arm64", none, Some("unknown")),
        // Emulated arm on x86 has no such field: the machine name decides.
        ("processor: 0\n", "arm", machine, Some("v7")),
        ("processor: 0\n", "arm", none, None),
    ];
    for (cpuinfo, goarch, machine, want) in cases {
        assert_eq!(
            variant_from_cpuinfo(cpuinfo, goarch, machine).as_deref(),
            want,
            "{cpuinfo:?} on {goarch}"
        );
    }
}

#[test]
fn parse_list_splits_commas_and_dedups() {
    let list = ["linux/amd64,linux/arm64", " linux/arm/v7 , linux/x86_64"];
    let parsed = Platform::parse_list(&strings(&list)).expect("valid list");
    let expected = [
        p("linux", "amd64", ""),
        p("linux", "arm64", ""),
        p("linux", "arm", "v7"),
    ];
    assert_eq!(parsed, expected);

    // Dedup is by normal form and keeps the first spelling.
    let list = [
        "linux/arm64/v8",
        "linux/aarch64",
        "linux/arm",
        "linux/armhf,linux/arm/v7",
    ];
    let parsed = Platform::parse_list(&strings(&list)).expect("valid list");
    assert_eq!(parsed, [p("linux", "arm64", "v8"), p("linux", "arm", "")]);

    // Different Windows versions are different platforms.
    let list = ["windows(10.0.17763)/amd64,windows/amd64"];
    assert_eq!(
        Platform::parse_list(&strings(&list)).expect("valid").len(),
        2
    );

    assert_eq!(Platform::parse_list(&[]), Ok(vec![]));
    for bad in [
        "linux/amd64,",
        ",linux/amd64",
        "linux/amd64,,linux/arm64",
        "",
        " ",
    ] {
        let err = ParsePlatformError::EmptyListElement {
            list: bad.to_string(),
        };
        assert_eq!(
            Platform::parse_list(&strings(&["linux/arm64", bad])),
            Err(err),
            "{bad:?}"
        );
    }
    let err = ParsePlatformError::InvalidComponent {
        spec: "linux/arm 64".into(),
        component: "arm 64".into(),
    };
    assert_eq!(
        Platform::parse_list(&strings(&["linux/amd64,linux/arm 64"])),
        Err(err)
    );
}

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
