//! The exact matcher (with its OS-version and OS-feature rules) and `Only`: its vector, what it
//! matches and its order.

use super::*;

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
