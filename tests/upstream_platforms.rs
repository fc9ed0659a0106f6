//! containerd/platforms' own test tables, run against `imagefs::platform`.
//!
//! Source: github.com/containerd/platforms at commit 09756f59cb1d6b3fb368f371043d36e634789537
//! (tag v1.0.0-rc.4, the newest with its tests in our snapshot), files compare_test.go,
//! platforms_test.go, defaults_test.go, defaults_unix_test.go, platform_windows_compat_test.go,
//! cpuinfo_linux_test.go, defaults_windows_test.go and platforms_windows_test.go. The tables
//! are tests/data/upstream/containerd-platforms.json, written from those files by
//! `scripts/upstream_tables.py` (one JSON value per Go literal, symbols left for us to evaluate).
//! We follow v1.0.0-rc.5, the version Docker vendors (moby vendor/modules.txt); its sources
//! differ from rc.4 only in platform_windows_compat.go, whose rc.4 table still holds for it.
//!
//! Each test below re-states what the Go test of the same name checks, case by case. Every case
//! runs; the ones where we deliberately differ are listed with the reason, and a test fails both
//! when an unlisted case disagrees and when a listed one starts to agree.

mod upstream;

use imagefs::platform::{self, Only, OnlyOs, Platform};
use serde_json::Value;
use std::collections::BTreeSet;

use upstream::{Tally, go_sort_slice, str_list, string};

const TABLES: &str = include_str!("data/upstream/containerd-platforms.json");

/// Windows build numbers of platform_windows_compat.go (rc.4 and rc.5 alike).
const WINDOWS_BUILDS: [(&str, u32); 8] = [
    ("rs5", 17763),
    ("ltsc2019", 17763),
    ("v21H2Server", 20348),
    ("ltsc2022", 20348),
    ("v22H2Win11", 22621),
    ("v23H2", 25398),
    ("v25H1Server", 26100),
    ("ltsc2025", 26100),
];

/// The Windows host the Windows-only tests (`//go:build windows`) assume, simulated here:
/// Windows Server 2022. Upstream reads the build from the running system.
const SIMULATED_WINDOWS_BUILD: &str = "10.0.20348";

fn tables() -> upstream::Tables {
    upstream::Tables::parse(TABLES)
}

fn parse(s: &str) -> Platform {
    Platform::parse(s).unwrap_or_else(|e| panic!("upstream table entry {s:?} must parse: {e}"))
}

/// Symbols of the Go tests, as this process would see them on Linux (or on the simulated
/// Windows host, for the Windows-only files).
fn eval(v: &Value, windows_host: bool) -> Value {
    let host = Platform::host();
    let default_variant = if host.architecture == "arm" && host.variant != "v7" {
        host.variant.clone()
    } else {
        String::new()
    };
    let default_spec = || {
        if windows_host {
            serde_json::json!({"OS": "windows", "Architecture": "amd64",
                               "OSVersion": SIMULATED_WINDOWS_BUILD})
        } else {
            serde_json::json!({"OS": host.os, "Architecture": host.architecture,
                               "Variant": host.variant})
        }
    };
    match v {
        Value::Object(o) if o.contains_key("$ident") => {
            let name = o["$ident"].as_str().expect("ident");
            let s = match name {
                "defaultOS" | "runtime.GOOS" if windows_host => "windows".to_string(),
                "defaultArch" | "runtime.GOARCH" if windows_host => "amd64".to_string(),
                "defaultOS" | "runtime.GOOS" => host.os.clone(),
                "defaultArch" | "runtime.GOARCH" => host.architecture.clone(),
                "defaultVariant" => default_variant,
                "buildStr" => SIMULATED_WINDOWS_BUILD.to_string(),
                _ => match WINDOWS_BUILDS.iter().find(|(n, _)| *n == name) {
                    Some((_, build)) => return Value::from(*build),
                    None => panic!("no value for upstream symbol {name}"),
                },
            };
            Value::String(s)
        }
        Value::Object(o) if o.contains_key("$call") => {
            let args: Vec<Value> = o["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| eval(a, windows_host))
                .collect();
            match o["$call"].as_str().expect("call") {
                // Go's path.Join, on the clean inputs the tables hold.
                "path.Join" => Value::String(
                    args.iter()
                        .map(|a| a.as_str().expect("path.Join of strings"))
                        .filter(|a| !a.is_empty())
                        .collect::<Vec<_>>()
                        .join("/"),
                ),
                "DefaultSpec" => default_spec(),
                "cpuVariant" => Value::String(host.variant.clone()),
                other => panic!("no evaluation for upstream call {other}"),
            }
        }
        Value::Object(o) if o.contains_key("$concat") => Value::String(
            o["$concat"]
                .as_array()
                .expect("concat")
                .iter()
                .map(|p| string(&eval(p, windows_host)))
                .collect(),
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), eval(v, windows_host)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| eval(v, windows_host)).collect()),
        other => other.clone(),
    }
}

/// A `specs.Platform` literal (already evaluated).
fn spec(v: &Value) -> Platform {
    let field = |k: &str| v.get(k).map(string).unwrap_or_default();
    Platform {
        architecture: field("Architecture"),
        os: field("OS"),
        os_version: field("OSVersion"),
        os_features: v
            .get("OSFeatures")
            .filter(|f| !f.is_null())
            .map(str_list)
            .unwrap_or_default(),
        variant: field("Variant"),
    }
}

/// `TestOnly`, `TestOnlyStrict`, `TestOnlyOS`: `{platform, matches: {true: […], false: […]}}`.
fn match_table(tally: &mut Tally, rows: &Value, matcher: &str) {
    for tc in rows.as_array().expect("rows") {
        let requested = parse(&string(&tc["platform"]));
        for (key, should) in [("true", true), ("false", false)] {
            for candidate in tc["matches"][key].as_array().into_iter().flatten() {
                let candidate = string(candidate);
                let c = parse(&candidate);
                let got = match matcher {
                    "Only" => Only::new(&requested).matches(&c),
                    "OnlyStrict" => Only::strict(&requested).matches(&c),
                    "OnlyOS" => OnlyOs::new(&requested).matches(&c),
                    other => unreachable!("{other}"),
                };
                tally.case(
                    format!("{matcher}({}).Match({candidate})", string(&tc["platform"])),
                    got == should,
                );
            }
        }
    }
}

/// `FormatAll` of each platform after Go's `sort.Slice` with `less`.
fn sorted(list: &Value, less: impl Fn(&Platform, &Platform) -> bool) -> Vec<String> {
    let mut platforms: Vec<Platform> = str_list(list).iter().map(|s| parse(s)).collect();
    go_sort_slice(&mut platforms, less);
    platforms.iter().map(Platform::format_all).collect()
}

#[test]
fn upstream_compare_test_go() {
    let t = tables();
    let f = "compare_test.go";
    let mut tally = Tally::new(f, &[]);
    match_table(&mut tally, t.literal(f, "TestOnly", "range"), "Only");
    match_table(
        &mut tally,
        t.literal(f, "TestOnlyStrict", "range"),
        "OnlyStrict",
    );
    match_table(&mut tally, t.literal(f, "TestOnlyOS", "range"), "OnlyOS");

    for tc in t
        .literal(f, "TestOnlyOSLess", "range")
        .as_array()
        .expect("rows")
    {
        let only = OnlyOs::new(&parse(&string(&tc["platform"])));
        let got = sorted(&tc["platforms"], |a, b| only.less(a, b));
        tally.case(
            format!("OnlyOS({}).Less order", string(&tc["platform"])),
            got == str_list(&tc["expected"]),
        );
    }

    // Unkeyed rows: [platform, platforms, expected], checked with Only, OnlyStrict, Ordered
    // and Any. With one platform, Ordered(p) and Any(p) order exactly as OnlyStrict(p)
    // (compare.go: one matcher, same match-first and feature rules), so all three use
    // Only::strict.
    for tc in t
        .literal(f, "TestCompareOSFeatures", "range")
        .as_array()
        .expect("rows")
    {
        let p = parse(&string(&tc[0]));
        for name in ["only", "only strict", "ordered", "any"] {
            let comparer = if name == "only" {
                Only::new(&p)
            } else {
                Only::strict(&p)
            };
            let got = sorted(&tc[1], |a, b| comparer.less(a, b));
            tally.case(
                format!("TestCompareOSFeatures/{}/{name}", string(&tc[0])),
                got == str_list(&tc[2]),
            );
        }
    }
    tally.finish();
}

#[test]
fn upstream_platforms_test_go() {
    let t = tables();
    let f = "platforms_test.go";
    // Upstream skips its three wildcard rows ("not yet supported"); its Parse rejects `*`,
    // and so does ours: that is what these rows check here.
    let mut tally = Tally::new(f, &[]);
    for tc in t
        .literal(f, "TestParseSelector", "range")
        .as_array()
        .expect("rows")
    {
        let tc = eval(tc, false);
        let input = string(&tc["input"]);
        if tc.get("skip") == Some(&Value::Bool(true)) {
            tally.case(
                format!("Parse({input}) is an error (skipped upstream)"),
                Platform::parse(&input).is_err(),
            );
            continue;
        }
        let Ok(p) = Platform::parse(&input) else {
            tally.case(format!("Parse({input})"), false);
            continue;
        };
        tally.case(
            format!("Parse({input}) == expected"),
            p == spec(&tc["expected"]),
        );
        tally.case(
            format!("NewMatcher(Parse({input})).Match(expected)"),
            platform::matches_exact(&p, &spec(&tc["expected"])),
        );
        for m in tc["matches"].as_array().into_iter().flatten() {
            tally.case(
                format!("NewMatcher(Parse({input})).Match({m})"),
                platform::matches_exact(&p, &spec(m)),
            );
        }
        let v2 = tc["useV2Format"] == Value::Bool(true);
        let format = |p: &Platform| if v2 { p.format_all() } else { p.format() };
        let formatted = format(&p);
        tally.case(
            format!("Format(Parse({input}))"),
            formatted == string(&tc["formatted"]),
        );
        tally.case(
            format!("Parse(Format(Parse({input}))) is stable"),
            Platform::parse(&formatted).is_ok_and(|r| format(&r) == formatted),
        );
    }

    for tc in t
        .literal(f, "TestFormatAllEncoding", "range")
        .as_array()
        .expect("rows")
    {
        let p = spec(&tc["platform"]);
        let formatted = p.format_all();
        tally.case(
            format!("FormatAll -> {}", string(&tc["expected"])),
            formatted == string(&tc["expected"]),
        );
        let reparsed = Platform::parse(&formatted);
        tally.case(
            format!("Parse({formatted}) keeps OSVersion and OSFeatures"),
            reparsed.is_ok_and(|r| r.os_version == p.os_version && r.os_features == p.os_features),
        );
    }

    for tc in t
        .literal(f, "TestParseSelectorInvalid", "range")
        .as_array()
        .expect("rows")
    {
        let input = string(&tc["input"]);
        tally.case(
            format!("Parse({input:?}) is an error"),
            Platform::parse(&input).is_err(),
        );
    }

    // TestFormatAllSkipsEmptyOSFeatures: its expected string is a plain Go string, not a table
    // literal, so it is copied here: "linux(+gpu+simd)/amd64".
    let p = spec(t.literal(f, "TestFormatAllSkipsEmptyOSFeatures", "p"));
    tally.case(
        "FormatAll skips empty OSFeatures".into(),
        p.format_all() == "linux(+gpu+simd)/amd64",
    );
    // FuzzPlatformsParse's seed corpus.
    tally.case(
        "Parse(linux/amd64) (fuzz seed)".into(),
        Platform::parse("linux/amd64").is_ok(),
    );
    tally.finish();
}

#[test]
fn upstream_defaults_and_windows_compat_tests_go() {
    let t = tables();
    let f = "defaults_test.go";
    let mut tally = Tally::new(f, &[]);
    let abi = "TestMatchComparerMatch_ABICheckWCOW";
    let vars = |name: &str| spec(t.literal(f, abi, name));
    for tc in t.literal(f, abi, "range").as_array().expect("rows") {
        let host = match tc["hostPlatform"]["$ident"].as_str() {
            Some(name) => vars(name),
            None => spec(&tc["hostPlatform"]),
        };
        let test = match tc["testPlatform"]["$ident"].as_str() {
            Some(name) => vars(name),
            None => spec(&tc["testPlatform"]),
        };
        tally.case(
            format!(
                "NewMatcher({}).Match({})",
                host.format_all(),
                test.format_all()
            ),
            platform::matches_exact(&host, &test) == (tc["match"] == Value::Bool(true)),
        );
    }
    tally.finish();

    let f = "platform_windows_compat_test.go";
    let mut tally = Tally::new(f, &[]);
    for tc in t
        .literal(f, "Test_PlatformCompat", "range")
        .as_array()
        .expect("rows")
    {
        let tc = eval(tc, false);
        let (host, ctr) = (
            tc["hostOS"].as_u64().expect("build"),
            tc["ctrOS"].as_u64().expect("build"),
        );
        // checkWindowsHostAndContainerCompat, reached through the matcher: the requested
        // platform's version plays the host.
        let requested = parse(&format!("windows(10.0.{host})/amd64"));
        let container = parse(&format!("windows(10.0.{ctr})/amd64"));
        tally.case(
            format!("Host_{host}_Ctr_{ctr}"),
            platform::matches_exact(&requested, &container)
                == (tc["shouldRun"] == Value::Bool(true)),
        );
    }
    tally.finish();
}

#[test]
fn upstream_defaults_unix_and_cpuinfo_tests_go() {
    let t = tables();
    let f = "defaults_unix_test.go";
    let mut tally = Tally::new(f, &[]);
    // TestDefault: DefaultSpec() is GOOS/GOARCH with cpuVariant(), which is empty except on
    // arm and arm64 (cpuinfo.go), and DefaultString() is its FormatAll.
    let expected = spec(&eval(t.literal(f, "TestDefault", "expected"), false));
    let host = Platform::host();
    tally.case(
        "DefaultSpec() os/arch".into(),
        host.os == expected.os && host.architecture == expected.architecture,
    );
    tally.case(
        "cpuVariant() is empty off arm".into(),
        matches!(host.architecture.as_str(), "arm" | "arm64") || host.variant.is_empty(),
    );
    tally.finish();

    let f = "cpuinfo_linux_test.go";
    let mut tally = Tally::new(f, &[]);
    for tc in t
        .literal(f, "TestGetCPUVariantFromArch", "range")
        .as_array()
        .expect("rows")
    {
        let input = string(&tc["input"]);
        let got = platform::cpu_variant_from_machine(&input);
        let agrees = if tc["expectedErr"].is_null() {
            got == Some(string(&tc["output"]).as_str())
        } else {
            got.is_none()
        };
        tally.case(format!("getCPUVariantFromArch({input})"), agrees);
    }
    // TestCPUVariant runs only on arm hosts (it skips elsewhere, as here).
    if matches!(host.architecture.as_str(), "arm" | "arm64") {
        let variants = str_list(t.literal(f, "TestCPUVariant", "variants"));
        tally.case(
            "cpuVariant() is v3..v8".into(),
            variants.contains(&host.variant),
        );
    }
    tally.finish();
}

/// The `//go:build windows` files, on a simulated Windows Server 2022 host: DefaultSpec() is
/// `windows(10.0.20348)/amd64` and Default() is Only of it.
#[test]
fn upstream_windows_tests_go() {
    let t = tables();
    let f = "defaults_windows_test.go";
    let mut tally = Tally::new(f, &[]);
    let default_spec = spec(&eval(
        &serde_json::json!({"$call": "DefaultSpec", "args": []}),
        true,
    ));
    let checks = [
        ("TestDefaultMatchComparer", Only::new(&default_spec)),
        ("TestMatchComparerMatch_WCOW", Only::strict(&default_spec)),
        (
            "TestMatchComparerMatch_LCOW",
            Only::strict(&spec(t.literal(f, "TestMatchComparerMatch_LCOW", "pLinux"))),
        ),
    ];
    for (name, matcher) in checks {
        for tc in t.literal(f, name, "range").as_array().expect("rows") {
            let tc = eval(tc, true);
            let candidate = spec(&tc["platform"]);
            tally.case(
                format!("{name}: {}", candidate.format_all()),
                matcher.matches(&candidate) == (tc["match"] == Value::Bool(true)),
            );
        }
    }
    tally.finish();

    let f = "platforms_windows_test.go";
    let mut tally = Tally::new(f, &[]);
    let p = spec(t.literal(f, "TestFallbackOnOSVersion", "p"));
    let other = Platform {
        os_version: String::new(),
        ..p.clone()
    };
    tally.case(
        "TestFallbackOnOSVersion".into(),
        platform::matches_exact(&p, &other),
    );
    // TestNormalize: Normalize(DefaultSpec()) == DefaultSpec().
    tally.case(
        "TestNormalize".into(),
        default_spec.normalize() == default_spec,
    );
    tally.finish();
}

/// Upstream tests with tables that are not run here, and why.
const NOT_PORTED: [(&str, &str, &str); 3] = [
    (
        "defaults_windows_test.go",
        "TestDefault",
        "reads the running Windows build (RtlGetNtVersionNumbers); imagefs runs on Linux",
    ),
    (
        "defaults_test.go",
        "TestWindowsMatchComparerLess",
        "windowsMatchComparer is what NewMatcher returns on Windows hosts only, and its Less \
         is masked inside Ordered (platforms.go says so); imagefs has no Windows host matcher",
    ),
    (
        "platform_windows_compat_test.go",
        "Test_PlatformOrder",
        "windowsMatchComparer.Less again (see above)",
    ),
];

/// Every upstream test function with a table is either run by a test above or listed in
/// NOT_PORTED, so a table added upstream cannot be skipped without a decision.
#[test]
fn upstream_platform_tables_are_all_run_or_listed() {
    let run: BTreeSet<(String, String)> = [
        ("compare_test.go", "TestOnly"),
        ("compare_test.go", "TestOnlyStrict"),
        ("compare_test.go", "TestOnlyOS"),
        ("compare_test.go", "TestOnlyOSLess"),
        ("compare_test.go", "TestCompareOSFeatures"),
        ("platforms_test.go", "TestParseSelector"),
        ("platforms_test.go", "TestFormatAllEncoding"),
        ("platforms_test.go", "TestParseSelectorInvalid"),
        ("platforms_test.go", "TestFormatAllSkipsEmptyOSFeatures"),
        ("defaults_test.go", "TestMatchComparerMatch_ABICheckWCOW"),
        ("platform_windows_compat_test.go", "Test_PlatformCompat"),
        ("defaults_unix_test.go", "TestDefault"),
        ("cpuinfo_linux_test.go", "TestGetCPUVariantFromArch"),
        ("cpuinfo_linux_test.go", "TestCPUVariant"),
        ("defaults_windows_test.go", "TestDefaultMatchComparer"),
        ("defaults_windows_test.go", "TestMatchComparerMatch_WCOW"),
        ("defaults_windows_test.go", "TestMatchComparerMatch_LCOW"),
        ("platforms_windows_test.go", "TestFallbackOnOSVersion"),
    ]
    .into_iter()
    .chain(NOT_PORTED.iter().map(|(f, t, _)| (*f, *t)))
    .map(|(f, t)| (f.to_string(), t.to_string()))
    .collect();
    let t = tables();
    assert_eq!(t.commit(), "09756f59cb1d6b3fb368f371043d36e634789537");
    assert_eq!(t.functions(), run);
}

/// `manifest.json` describes the manifest `Only(host)`'s Less puts first (containerd sorts the
/// candidates with it): an exact match first, and when nothing matches, candidates compared
/// again without OS features, so `linux(+gpu)/amd64` on a linux/amd64 host beats `plan9/386`
/// (by rank alone both would be unmatched, and the first listed would win).
#[test]
fn manifest_json_preference_uses_only_host_less() {
    use imagefs::digest::Digest;
    use imagefs::image::{Availability, ImageGraph, PlatformManifest};
    use imagefs::oci::Descriptor;

    let manifest = |p: &Platform| PlatformManifest {
        descriptor: Descriptor::new(
            "application/vnd.oci.image.manifest.v1+json",
            Digest::of(p.format_all().as_bytes()),
            1,
        ),
        platform: Some(p.clone()),
        availability: Availability::Complete,
        children: Vec::new(),
        created: None,
    };
    let host = Platform::host().normalize();
    let with_feature = Platform {
        os_features: vec!["gpu".to_string()],
        ..host.clone()
    };
    let other = parse("plan9/386");
    let preferred = |list: &[&Platform]| {
        let candidates: Vec<PlatformManifest> = list.iter().map(|p| manifest(p)).collect();
        let refs: Vec<&PlatformManifest> = candidates.iter().collect();
        let chosen = ImageGraph::preferred(&refs).expect("a preferred manifest");
        chosen.platform.clone().expect("a platform")
    };
    assert_eq!(preferred(&[&other, &with_feature, &host]), host);
    assert_eq!(preferred(&[&other, &with_feature]), with_feature);
}
