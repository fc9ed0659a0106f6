//! Windows build compatibility (the LTSC rules) and the edge cases of OS-version matching.

use super::*;

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
        // Past the newest LTSC the floor is still the LTSC before it (containerd/platforms
        // platform_windows_compat.go).
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
