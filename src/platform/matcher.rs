//! The matchers: the exact match behind `OnlyStrict`/`Any`/`Ordered` ([`matches_exact`]), the
//! fallback matcher [`Only`] with its platform vector and `Less` order, and [`OnlyOs`].

use super::Platform;
use super::windows::windows_version_matches;

/// Numbered variants above this generate no fallback chain in [`Only`]. Upstream would build one
/// entry per number (`amd64/v1000000` means a million matchers); nothing real comes close.
const MAX_FALLBACK_VARIANT: i64 = 64;

/// containerd's `NewMatcher(requested).Match(candidate)`, the exact matcher behind `OnlyStrict`,
/// `Any` and `Ordered`.
///
/// Both sides are normalised; OS, architecture and variant must be equal, and the candidate's
/// OS features must be a subset of the requested ones. The OS version is ignored except on
/// Windows, where an empty (or unparsable) requested version or an empty candidate version
/// matches anything; otherwise major.minor must be equal and the build must satisfy the
/// stable-ABI rules (a host before build 20348 needs its own build; a newer host runs builds from
/// the LTSC before the newest LTSC it has reached, 20348 or 26100, up to its own; a 20348 host
/// runs 20348 and up to itself). On Windows the `win32k` feature is
/// ignored, as rc.5 does for images published before features were matched.
///
/// Upstream keys the Windows rules on the requested OS *as given*; we key them on the
/// normalised OS, which is what `OnlyStrict` and `Only` pass in. The two differ only for a
/// requested OS spelled other than `windows` (e.g. `Windows`), which `parse` never produces.
pub fn matches_exact(requested: &Platform, candidate: &Platform) -> bool {
    let want = requested.normalize();
    let have = candidate.normalize();
    if want.os != have.os || want.architecture != have.architecture || want.variant != have.variant
    {
        return false;
    }
    let windows = want.os == "windows";
    if windows && !windows_version_matches(&requested.os_version, &candidate.os_version) {
        return false;
    }
    // Both lists are sorted and deduplicated by normalize().
    have.os_features
        .iter()
        .filter(|f| !(windows && f.as_str() == "win32k"))
        .all(|f| want.os_features.binary_search(f).is_ok())
}

/// containerd's `Only(p)`: `p` and the platforms it can also run, most preferred first
/// (upstream `platformVector`), each matched exactly.
///
/// - `amd64/vN`: vN, vN-1, …, v1 (= `amd64`), then `386`;
/// - `arm/vN`: vN down to v5;
/// - `arm64[/v8.x]`: v8.x down to v8 (= `arm64`), then `arm/v8` down to `arm/v5`;
/// - `arm64/v9.x`: v9.x down to v9, then v8.(x+5, at most 9) down to v8, then `arm/v8`…`arm/v5`;
/// - an arm64 variant outside v8…v8.9, v9…v9.7: nothing at all, as upstream.
///
/// [`Only::strict`] is the one-platform vector of `OnlyStrict`, `Ordered(p)` and `Any(p)`.
#[derive(Clone, Debug)]
pub struct Only {
    /// Normalised, most preferred first; index 0 is the requested platform itself.
    platforms: Vec<Platform>,
}

impl Only {
    /// The preference vector for `p`, normalised first as upstream's `Only` does.
    pub fn new(p: &Platform) -> Only {
        let platforms = platform_vector(&p.normalize())
            .iter()
            .map(Platform::normalize)
            .collect();
        Only { platforms }
    }

    /// containerd's `OnlyStrict(p)`, which is also `Ordered(p)` and `Any(p)`: `p` alone.
    pub fn strict(p: &Platform) -> Only {
        Only {
            platforms: vec![p.normalize()],
        }
    }

    /// `Only` for [`Platform::host`], containerd's `platforms.Default()` on Unix.
    pub fn host() -> Only {
        Only::new(&Platform::host())
    }

    /// Whether `candidate` matches any platform of the vector exactly.
    pub fn matches(&self, candidate: &Platform) -> bool {
        self.rank(candidate).is_some()
    }

    /// The index of the first platform in the preference vector that `candidate` matches
    /// exactly; lower is better. [`Only::less`] orders by this, then by OS features.
    pub fn rank(&self, candidate: &Platform) -> Option<usize> {
        self.platforms
            .iter()
            .position(|p| matches_exact(p, candidate))
    }

    /// Upstream `orderedPlatformComparer.Less`: whether `a` is preferred to `b`. The first
    /// platform of the vector that either matches decides: the one it matches comes first, and
    /// when it matches both, the one declaring more OS features (counted as written). When no
    /// platform of the vector matches either, both are compared again without OS features, so a
    /// `linux(+gpu)/amd64` candidate still sorts as `linux/amd64` would.
    pub fn less(&self, a: &Platform, b: &Platform) -> bool {
        for p in &self.platforms {
            let (a_matches, b_matches) = (matches_exact(p, a), matches_exact(p, b));
            if a_matches && !b_matches {
                return true;
            }
            if a_matches || b_matches {
                return a_matches && b_matches && a.os_features.len() > b.os_features.len();
            }
        }
        if a.os_features.is_empty() && b.os_features.is_empty() {
            return false;
        }
        let strip = |p: &Platform| Platform {
            os_features: Vec::new(),
            ..p.clone()
        };
        self.less(&strip(a), &strip(b))
    }

    /// The preference vector, normalised, most preferred first.
    pub fn platforms(&self) -> &[Platform] {
        &self.platforms
    }
}

/// containerd's `OnlyOS(p)`: platforms with `p`'s OS, OS version (the Windows rules of
/// [`matches_exact`]) and a subset of its OS features, whatever their architecture; among those,
/// `p`'s exact architecture and variant first. Unlike [`matches_exact`], `win32k` is not ignored.
#[derive(Clone, Debug)]
pub struct OnlyOs {
    platform: Platform,
}

impl OnlyOs {
    pub fn new(p: &Platform) -> OnlyOs {
        OnlyOs {
            platform: p.normalize(),
        }
    }

    /// Upstream `onlyOSComparer.matchOS`.
    pub fn matches(&self, candidate: &Platform) -> bool {
        let have = candidate.normalize();
        if have.os != self.platform.os {
            return false;
        }
        if self.platform.os == "windows"
            && !windows_version_matches(&self.platform.os_version, &candidate.os_version)
        {
            return false;
        }
        have.os_features
            .iter()
            .all(|f| self.platform.os_features.binary_search(f).is_ok())
    }

    /// Upstream `onlyOSComparer.Less`: OS matches first; among them, `OnlyStrict(p)`'s order.
    pub fn less(&self, a: &Platform, b: &Platform) -> bool {
        match (self.matches(a), self.matches(b)) {
            (true, false) => true,
            (false, _) => false,
            (true, true) => Only::strict(&self.platform).less(a, b),
        }
    }
}

/// Upstream `platformVector` (compare.go, platforms rc.5) over an already normalised platform.
fn platform_vector(p: &Platform) -> Vec<Platform> {
    let sibling = |architecture: &str, variant: String| Platform {
        architecture: architecture.to_string(),
        variant,
        ..p.clone()
    };
    let mut vector = vec![p.clone()];
    match p.architecture.as_str() {
        "amd64" => {
            if let Some(level) = numbered_variant(&p.variant)
                && level > 1
            {
                for lower in (1..level).rev() {
                    vector.push(sibling("amd64", format!("v{lower}")));
                }
            }
            vector.push(sibling("386", String::new()));
        }
        "arm" => {
            if let Some(version) = numbered_variant(&p.variant)
                && version > 5
            {
                for lower in (5..version).rev() {
                    vector.push(sibling("arm", format!("v{lower}")));
                }
            }
        }
        "arm64" => {
            let variant = if p.variant.is_empty() {
                "v8"
            } else {
                p.variant.as_str()
            };
            // Upstream resets the vector: the table's first entry is the platform itself. A
            // variant missing from the table (`v10`, `v8.10`) leaves the vector empty, so such an
            // `Only` matches nothing, not even its own platform; we do the same.
            let Some(versions) = arm64_fallbacks(variant) else {
                return Vec::new();
            };
            vector.clear();
            for &(major, top_minor) in versions {
                for minor in (0..=top_minor).rev() {
                    vector.push(sibling("arm64", arm64_variant(major, minor)));
                }
            }
            // Every arm64 v8.x and v9.x CPU runs 32-bit arm up to v8.
            vector.extend(platform_vector(&sibling("arm", "v8".to_string())));
        }
        _ => {}
    }
    vector
}

/// Upstream `arm64variantToVersion` (compare.go, platforms v1.0.0-rc.1 and later): for each
/// arm64 variant, the (major, highest minor) pairs it runs, best first. v9.0 branched from
/// v8.5, so v9.x also runs v8.0 up to v8.(x+5), at most v8.9; it never falls back to `arm/v9`.
fn arm64_fallbacks(variant: &str) -> Option<&'static [(u8, u8)]> {
    Some(match variant {
        "v8" | "v8.0" => &[(8, 0)],
        "v8.1" => &[(8, 1)],
        "v8.2" => &[(8, 2)],
        "v8.3" => &[(8, 3)],
        "v8.4" => &[(8, 4)],
        "v8.5" => &[(8, 5)],
        "v8.6" => &[(8, 6)],
        "v8.7" => &[(8, 7)],
        "v8.8" => &[(8, 8)],
        "v8.9" => &[(8, 9)],
        "v9" | "v9.0" => &[(9, 0), (8, 5)],
        "v9.1" => &[(9, 1), (8, 6)],
        "v9.2" => &[(9, 2), (8, 7)],
        "v9.3" => &[(9, 3), (8, 8)],
        "v9.4" => &[(9, 4), (8, 9)],
        "v9.5" => &[(9, 5), (8, 9)],
        "v9.6" => &[(9, 6), (8, 9)],
        "v9.7" => &[(9, 7), (8, 9)],
        _ => return None,
    })
}

fn arm64_variant(major: u8, minor: u8) -> String {
    if minor == 0 {
        format!("v{major}")
    } else {
        format!("v{major}.{minor}")
    }
}

/// `strconv.Atoi(strings.TrimPrefix(variant, "v"))`, refusing numbers too large to expand.
fn numbered_variant(variant: &str) -> Option<i64> {
    go_atoi(variant.strip_prefix('v').unwrap_or(variant)).filter(|n| *n <= MAX_FALLBACK_VARIANT)
}

/// Go's `strconv.Atoi`: optional sign, decimal digits, 64-bit range. Rust's `i64` parser
/// accepts exactly that.
fn go_atoi(s: &str) -> Option<i64> {
    s.parse().ok()
}
