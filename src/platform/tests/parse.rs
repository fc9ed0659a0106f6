//! Parsing specifiers and lists, and writing them back: `Format`, `FormatAll`, `Display`, and
//! the OCI JSON form.

use super::*;

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
