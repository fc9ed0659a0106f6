//! `Platform`: the OCI platform of an image manifest, parsed, normalised and matched exactly as
//! containerd/platforms v1.0.0-rc.5 does it (the version Docker vendors), plus the
//! `os-arch[-variant]` file-name form the mount uses for per-platform archives.
//!
//! This module owns the specifier grammar (`linux/arm64/v8`, `windows(10.0.17763+win32k)/amd64`),
//! normalisation (`aarch64` -> `arm64`, `arm64/v8` -> `arm64`, `armhf` -> `arm/v7`), the exact
//! matcher (`NewMatcher`, used by `OnlyStrict`/`Any`/`Ordered`) and the fallback matcher `Only`.
//! It knows nothing about manifests, descriptors or the store: callers hand it platforms and get
//! back yes/no and preference ranks.
//!
//! Where containerd's behaviour depends on the machine (`runtime.GOOS`, `runtime.GOARCH`, the CPU
//! variant) we use [`Platform::host`], the running process's platform in Go's vocabulary.

use std::fmt;
use std::str::FromStr;

/// Windows Server LTSC builds with a stable container ABI, ascending (rc.5: ltsc2022, ltsc2025).
const WINDOWS_LTSC_BUILDS: [u16; 2] = [20348, 26100];

/// Below this host build (Windows Server 2022) a container needs exactly the host's build.
const WINDOWS_STABLE_ABI_BUILD: u16 = 20348;

/// Numbered variants above this generate no fallback chain in [`Only`]. Upstream would build one
/// entry per number (`amd64/v1000000` means a million matchers); nothing real comes close.
const MAX_FALLBACK_VARIANT: i64 = 64;

/// An OCI image-spec platform (`architecture`, `os`, `os.version`, `os.features`, `variant`).
///
/// Values are kept as given; [`Platform::normalize`] gives the canonical form that matching uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, rename = "os.version")]
    pub os_version: String,
    #[serde(default, rename = "os.features")]
    pub os_features: Vec<String>,
    #[serde(default)]
    pub variant: String,
}

/// Why a platform specifier, list or file name was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsePlatformError {
    /// The specifier is the empty string.
    Empty,
    /// The specifier contains `*`; containerd does not support wildcards.
    Wildcard { spec: String },
    /// The first component does not match `<os>[(<version>[+<feature>]*)]`.
    InvalidOsComponent { spec: String, component: String },
    /// An architecture or variant component has characters outside `[A-Za-z0-9_.-]` or is empty.
    InvalidComponent { spec: String, component: String },
    /// The OS version has a bad `%` escape or does not decode to UTF-8.
    InvalidOsVersion { spec: String, version: String },
    /// An OS feature has a bad `%` escape or does not decode to UTF-8.
    InvalidOsFeature { spec: String, feature: String },
    /// A single component that is neither a known OS nor a known architecture.
    UnknownOsOrArch { spec: String },
    /// More than three `/`-separated components.
    TooManyComponents { spec: String },
    /// A comma-separated list with an empty element (`linux/amd64,`).
    EmptyListElement { list: String },
    /// A file name that is not `<os>-<arch>[-<variant>]`.
    InvalidFileName { name: String, reason: &'static str },
    /// A file name whose components are not a valid platform; `source` says which.
    FileNameComponent {
        name: String,
        source: Box<ParsePlatformError>,
    },
}

impl fmt::Display for ParsePlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty platform specifier"),
            Self::Wildcard { spec } => write!(f, "{spec:?}: wildcards not yet supported"),
            Self::InvalidOsComponent { spec, component } => write!(
                f,
                "{component:?} is an invalid os component of {spec:?}: \
                 expected <os>[(<version>[+<feature>]*)]"
            ),
            Self::InvalidComponent { spec, component } => write!(
                f,
                "{component:?} is an invalid component of {spec:?}: \
                 expected characters from [A-Za-z0-9_.-]"
            ),
            Self::InvalidOsVersion { spec, version } => {
                write!(f, "{spec:?} has an invalid os version {version:?}")
            }
            Self::InvalidOsFeature { spec, feature } => {
                write!(f, "{spec:?} has an invalid os feature {feature:?}")
            }
            Self::UnknownOsOrArch { spec } => {
                write!(f, "{spec:?}: unknown operating system or architecture")
            }
            Self::TooManyComponents { spec } => {
                write!(
                    f,
                    "{spec:?}: cannot parse platform specifier: too many components"
                )
            }
            Self::EmptyListElement { list } => {
                write!(f, "empty platform in list {list:?}")
            }
            Self::InvalidFileName { name, reason } => {
                write!(f, "invalid platform file name {name:?}: {reason}")
            }
            Self::FileNameComponent { name, .. } => {
                write!(f, "invalid platform file name {name:?}")
            }
        }
    }
}

impl std::error::Error for ParsePlatformError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::FileNameComponent { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl Platform {
    /// A platform with exactly these values (not normalised), no OS version and no OS features.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform {
        Platform {
            architecture: architecture.to_string(),
            os: os.to_string(),
            variant: variant.to_string(),
            ..Platform::default()
        }
    }

    /// Parses a specifier exactly as containerd's `platforms.Parse`:
    /// `<os>[(<version>[+<feature>]*)] | <arch> | <os>[(…)]/<arch>[/<variant>]`.
    ///
    /// The result is only partly normalised, as upstream's is: the OS is lowercased (`macos` ->
    /// `darwin`) and the architecture goes through the alias table, but `arm/v7` written with
    /// two components parses to `arm` with an empty variant, `arm64` with a third component
    /// parses to `arm64/v8`, and OS features keep their order. A lone OS is completed with the
    /// host architecture, a lone architecture with the host OS.
    pub fn parse(spec: &str) -> Result<Platform, ParsePlatformError> {
        if spec.is_empty() {
            return Err(ParsePlatformError::Empty);
        }
        if spec.contains('*') {
            return Err(ParsePlatformError::Wildcard {
                spec: spec.to_string(),
            });
        }

        // Upstream splits into at most four parts, so "a/b/c/d/e" fails on the component
        // "d/e" rather than on the count.
        let parts: Vec<&str> = spec.splitn(4, '/').collect();

        let mut p = Platform::default();
        let (os, version, features) =
            split_os_component(parts[0]).ok_or_else(|| ParsePlatformError::InvalidOsComponent {
                spec: spec.to_string(),
                component: parts[0].to_string(),
            })?;
        p.os = normalize_os(os);
        p.os_version =
            decode_os_option(version).ok_or_else(|| ParsePlatformError::InvalidOsVersion {
                spec: spec.to_string(),
                version: version.to_string(),
            })?;
        if let Some(features) = features.strip_prefix('+') {
            for raw in features.split('+') {
                let feature =
                    decode_os_option(raw).ok_or_else(|| ParsePlatformError::InvalidOsFeature {
                        spec: spec.to_string(),
                        feature: raw.to_string(),
                    })?;
                p.os_features.push(feature);
            }
        }
        for part in &parts[1..] {
            if !is_specifier_component(part) {
                return Err(ParsePlatformError::InvalidComponent {
                    spec: spec.to_string(),
                    component: part.to_string(),
                });
            }
        }

        match parts.len() {
            1 => {
                // A known OS takes the host's architecture; otherwise the one component must be
                // a known architecture, which takes the host's OS.
                if is_known_os(&p.os) {
                    p.architecture = host_arch().to_string();
                    if p.architecture == "arm" && cpu_variant() != "v7" {
                        p.variant = cpu_variant().to_string();
                    }
                    return Ok(p);
                }
                let (arch, variant) = normalize_arch(parts[0], "");
                p.architecture = arch;
                p.variant = variant;
                if p.architecture == "arm" && p.variant == "v7" {
                    p.variant.clear();
                }
                if is_known_arch(&p.architecture) {
                    p.os = host_os().to_string();
                    return Ok(p);
                }
                Err(ParsePlatformError::UnknownOsOrArch {
                    spec: spec.to_string(),
                })
            }
            2 => {
                let (arch, variant) = normalize_arch(parts[1], "");
                p.architecture = arch;
                p.variant = variant;
                // v7 is the arm default, so the two-component form leaves it implicit.
                if p.architecture == "arm" && p.variant == "v7" {
                    p.variant.clear();
                }
                Ok(p)
            }
            3 => {
                let (arch, variant) = normalize_arch(parts[1], parts[2]);
                p.architecture = arch;
                p.variant = variant;
                // An explicit but default arm64 variant stays visible as v8.
                if p.architecture == "arm64" && p.variant.is_empty() {
                    p.variant = "v8".to_string();
                }
                Ok(p)
            }
            _ => Err(ParsePlatformError::TooManyComponents {
                spec: spec.to_string(),
            }),
        }
    }

    /// Parses a list of specifiers for a `--platform` style option.
    ///
    /// Each element may hold several comma-separated specifiers; spaces around them are
    /// trimmed and an empty one is an error. Specifiers that normalise to the same platform are
    /// kept once, as first written (the parsed value, not its normal form).
    pub fn parse_list(specs: &[String]) -> Result<Vec<Platform>, ParsePlatformError> {
        let mut parsed = Vec::new();
        let mut seen = Vec::new();
        for list in specs {
            for spec in list.split(',') {
                let spec = spec.trim();
                if spec.is_empty() {
                    return Err(ParsePlatformError::EmptyListElement { list: list.clone() });
                }
                let p = Platform::parse(spec)?;
                let normal = p.normalize();
                if !seen.contains(&normal) {
                    seen.push(normal);
                    parsed.push(p);
                }
            }
        }
        Ok(parsed)
    }

    /// containerd's `Normalize`: lowercase OS (`macos` -> `darwin`, empty -> host OS), the
    /// architecture alias table, and OS features sorted with duplicates removed.
    pub fn normalize(&self) -> Platform {
        let (architecture, variant) = normalize_arch(&self.architecture, &self.variant);
        let mut os_features = self.os_features.clone();
        os_features.sort();
        os_features.dedup();
        Platform {
            architecture,
            os: normalize_os(&self.os),
            os_version: self.os_version.clone(),
            os_features,
            variant,
        }
    }

    /// containerd's `Format`: `os/arch/variant` with empty parts left out, `unknown` without OS.
    pub fn format(&self) -> String {
        if self.os.is_empty() {
            return "unknown".to_string();
        }
        path_join(&[&self.os, &self.architecture, &self.variant])
    }

    /// containerd's `FormatAll`: like [`Platform::format`], with `(version+features)` after the
    /// OS when either is present; features sorted, empty and repeated ones dropped, and
    /// `% + ( ) /` percent-encoded so the result parses back.
    pub fn format_all(&self) -> String {
        if self.os.is_empty() {
            return "unknown".to_string();
        }
        let os = os_with_options(&self.os, self, encode_os_option);
        path_join(&[&os, &self.architecture, &self.variant])
    }

    /// The normal form as a specifier: `linux/arm64`, `linux/arm/v7`, `linux/amd64/v3`.
    pub fn display_normalized(&self) -> String {
        self.normalize().format()
    }

    /// The file-name form of the normal form: `linux-arm64`, `linux-arm-v7`,
    /// `windows(10.0.20348+win32k)-amd64`.
    ///
    /// The OS part uses [`Platform::format_all`]'s `(version+features)` syntax; every byte of the
    /// version, the features and the other components outside `[A-Za-z0-9_.-]` is
    /// percent-encoded (a superset of containerd's `% + ( ) /`), so the result is always one safe
    /// path segment: never empty, `.` or `..`, never a `/` or NUL. The architecture slot is
    /// always written, even when empty, for the same reason.
    ///
    /// [`Platform::from_file_name`] inverts this for every normalised platform whose
    /// architecture and variant are non-empty, contain no `-`, and match containerd's component
    /// grammar, and whose OS features are non-empty strings. Normalised known architectures
    /// always qualify (`x86-64` normalises to `amd64`).
    pub fn file_name(&self) -> String {
        let p = self.normalize();
        let mut name = os_with_options(&encode_file_option(&p.os), &p, encode_file_option);
        name.push('-');
        name.push_str(&encode_file_option(&p.architecture));
        if !p.variant.is_empty() {
            name.push('-');
            name.push_str(&encode_file_option(&p.variant));
        }
        name
    }

    /// Reads a file name written by [`Platform::file_name`], or any alias of it
    /// (`linux-aarch64`, `linux-arm64-v8`, `linux-x86_64`, `linux-x86-64`, `linux-armhf`,
    /// `linux-arm-7`, `linux-amd64-v1`, `linux-i386`), and returns the normalised platform.
    ///
    /// The OS part runs to the first `-`, or to the closing `)` of its options: we assume OS
    /// names contain no `-`, which holds for every OS containerd knows (linux, windows, darwin,
    /// freebsd, netbsd, openbsd, solaris, illumos, aix, android, ios, js, wasip1, plan9,
    /// dragonfly, zos, unknown). The rest is read as one architecture if it is a known one
    /// after normalisation (so `x86-64` stays whole), else split at its last `-` into
    /// architecture and variant; an architecture that still holds a `-` and is not a known
    /// alias means more than one variant. The pieces then go through [`Platform::parse`] as
    /// `os/arch[/variant]`, so its component grammar applies.
    pub fn from_file_name(name: &str) -> Result<Platform, ParsePlatformError> {
        let invalid = |reason| ParsePlatformError::InvalidFileName {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("empty"));
        }
        if name.contains('/') {
            return Err(invalid("contains '/'"));
        }
        if name.contains('*') {
            return Err(invalid("wildcards not yet supported"));
        }

        let os_end = match name.find(['-', '(']) {
            Some(open) if name.as_bytes()[open] == b'(' => match name[open..].find(')') {
                Some(close) => open + close + 1,
                None => return Err(invalid("unbalanced parenthesis in os part")),
            },
            Some(dash) => dash,
            None => return Err(invalid("expected <os>-<arch>[-<variant>]")),
        };
        let (os, rest) = name.split_at(os_end);
        let Some(rest) = rest.strip_prefix('-') else {
            return Err(invalid("expected <os>-<arch>[-<variant>]"));
        };

        let spec = if is_known_arch_alias(rest) {
            format!("{os}/{rest}")
        } else if let Some((arch, variant)) = rest.rsplit_once('-') {
            if arch.is_empty() || variant.is_empty() {
                return Err(invalid("empty architecture or variant"));
            }
            if arch.contains('-') && !is_known_arch_alias(arch) {
                return Err(invalid("more than one variant"));
            }
            format!("{os}/{arch}/{variant}")
        } else {
            format!("{os}/{rest}")
        };

        let p = Platform::parse(&spec).map_err(|e| ParsePlatformError::FileNameComponent {
            name: name.to_string(),
            source: Box::new(e),
        })?;
        Ok(p.normalize())
    }

    /// containerd's `DefaultSpec()`: the running process's `GOOS`/`GOARCH`, and a CPU variant
    /// only on arm and arm64 (read from `/proc/cpuinfo`, e.g. `v8`, `v7`), as given, not
    /// normalised. Like containerd, no variant is detected on amd64: an x86-64-v3 or v4 host is
    /// `linux/amd64`, so [`Only::host`] does not prefer `amd64/v2`…`v4` images over `amd64`.
    pub fn host() -> Platform {
        Platform {
            architecture: host_arch().to_string(),
            os: host_os().to_string(),
            variant: cpu_variant().to_string(),
            ..Platform::default()
        }
    }

    /// `unknown/unknown`, the pseudo-platform of attestation manifests.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" && self.architecture == "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format_all())
    }
}

impl FromStr for Platform {
    type Err = ParsePlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

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

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct WindowsVersion {
    major: u8,
    minor: u8,
    build: u16,
}

/// Upstream `getWindowsOSVersion`: `major.minor.build[.anything]`; anything else, including a
/// field out of range for the Windows API's u8/u8/u16, reads as the zero version.
fn windows_version(v: &str) -> WindowsVersion {
    fn field<T: FromStr>(s: &str) -> Option<T> {
        // Go's ParseUint takes digits only: no sign, no spaces.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
    let parsed = || {
        if v.matches('.').count() < 2 {
            return None;
        }
        let (major, rest) = v.split_once('.')?;
        let (minor, rest) = rest.split_once('.')?;
        let build = rest.split_once('.').map_or(rest, |(build, _)| build);
        Some(WindowsVersion {
            major: field(major)?,
            minor: field(minor)?,
            build: field(build)?,
        })
    };
    parsed().unwrap_or_default()
}

/// Upstream `windowsVersionMatcher.Match`: the requested version plays the host.
fn windows_version_matches(requested: &str, candidate: &str) -> bool {
    let host = windows_version(requested);
    if host == WindowsVersion::default() || candidate.is_empty() {
        return true;
    }
    windows_build_compatible(host, windows_version(candidate))
}

/// Upstream `checkWindowsHostAndContainerCompat` with rc.5's LTSC list: same major.minor; a host
/// older than Windows Server 2022 needs the exact build; a newer host runs builds from the LTSC
/// before the newest LTSC it has reached (ltsc2022 while that is the newest) up to its own.
/// So a 26100 or 26200 host runs 20348..=host, and a 22621 host runs 20348..=22621.
fn windows_build_compatible(host: WindowsVersion, ctr: WindowsVersion) -> bool {
    if host.major != ctr.major || host.minor != ctr.minor {
        return false;
    }
    if host.build < WINDOWS_STABLE_ABI_BUILD {
        return host.build == ctr.build;
    }
    let reached = WINDOWS_LTSC_BUILDS
        .iter()
        .rposition(|ltsc| host.build >= *ltsc)
        .unwrap_or(0);
    let floor = WINDOWS_LTSC_BUILDS[reached.saturating_sub(1)];
    floor <= ctr.build && ctr.build <= host.build
}

/// Splits an OS component by upstream's
/// `^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$`
/// into (os, raw version, raw `+feature…` suffix).
fn split_os_component(component: &str) -> Option<(&str, &str, &str)> {
    let name_len = component
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        .unwrap_or(component.len());
    if name_len == 0 {
        return None;
    }
    let (os, options) = component.split_at(name_len);
    if options.is_empty() {
        return Some((os, "", ""));
    }
    let inner = options.strip_prefix('(')?.strip_suffix(')')?;
    let version_len = inner
        .bytes()
        .position(|b| !is_os_option_byte(b))
        .unwrap_or(inner.len());
    let (version, features) = inner.split_at(version_len);
    if !features.is_empty() {
        let listed = features.strip_prefix('+')?;
        if !listed
            .split('+')
            .all(|f| !f.is_empty() && f.bytes().all(is_os_option_byte))
        {
            return None;
        }
    }
    Some((os, version, features))
}

fn is_os_option_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%' | b'-')
}

/// Upstream `specifierRe`, `^[A-Za-z0-9_.-]+$`, for the architecture and variant.
fn is_specifier_component(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Upstream `decodeOSOption`: `url.PathUnescape` when a `%` is present. Go would keep bytes
/// that are not UTF-8; a Rust `String` cannot, so those are an error here.
fn decode_os_option(v: &str) -> Option<String> {
    if !v.contains('%') {
        return Some(v.to_string());
    }
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| char::from(*b).to_digit(16))?;
            let lo = bytes.get(i + 2).and_then(|b| char::from(*b).to_digit(16))?;
            out.push(u8::try_from(hi * 16 + lo).expect("two hex digits fit in a byte"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Upstream `osOptionReplacer`: only the characters of the syntax itself.
fn encode_os_option(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '%' => out.push_str("%25"),
            '+' => out.push_str("%2B"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '/' => out.push_str("%2F"),
            _ => out.push(c),
        }
    }
    out
}

/// File names encode everything outside `[A-Za-z0-9_.-]`, which agrees with
/// [`encode_os_option`] on every value containerd's grammar can express and keeps `/`, NUL and
/// spaces out of the name.
fn encode_file_option(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `os` or `os(version+feature+…)` as upstream `FormatAll` writes it, with `encode` applied to
/// the version and to each feature of `p` (features sorted, empty and repeated ones skipped).
/// `os` is written as given, so the caller decides whether it needs encoding.
fn os_with_options(os: &str, p: &Platform, encode: fn(&str) -> String) -> String {
    let mut features: Vec<&str> = p.os_features.iter().map(String::as_str).collect();
    features.sort_unstable();
    features.dedup();
    features.retain(|f| !f.is_empty());
    let features: Vec<String> = features.into_iter().map(encode).collect();
    let version = encode(&p.os_version);
    if version.is_empty() && features.is_empty() {
        return os.to_string();
    }
    let mut os = format!("{os}({version}");
    if !features.is_empty() {
        os.push('+');
        os.push_str(&features.join("+"));
    }
    os.push(')');
    os
}

/// Go's `path.Join`: non-empty elements joined by `/`, then `path.Clean`.
fn path_join(elements: &[&str]) -> String {
    let joined = elements
        .iter()
        .filter(|e| !e.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return joined;
    }
    let rooted = joined.starts_with('/');
    let mut kept: Vec<&str> = Vec::new();
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                if kept.last().is_some_and(|last| *last != "..") {
                    kept.pop();
                } else if !rooted {
                    kept.push("..");
                }
            }
            _ => kept.push(segment),
        }
    }
    let cleaned = kept.join("/");
    match (rooted, cleaned.is_empty()) {
        (true, _) => format!("/{cleaned}"),
        (false, true) => ".".to_string(),
        (false, false) => cleaned,
    }
}

fn normalize_os(os: &str) -> String {
    if os.is_empty() {
        return host_os().to_string();
    }
    let os = os.to_lowercase();
    if os == "macos" {
        "darwin".to_string()
    } else {
        os
    }
}

/// Upstream `normalizeArch` (database.go, rc.5).
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_lowercase();
    let variant = variant.to_lowercase();
    match arch.as_str() {
        "i386" => ("386".to_string(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let variant = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".to_string(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".to_string(),
                _ => variant,
            };
            ("arm64".to_string(), variant)
        }
        "armhf" => ("arm".to_string(), "v7".to_string()),
        "armel" => ("arm".to_string(), "v6".to_string()),
        "arm" => {
            let variant = match variant.as_str() {
                "" | "7" => "v7".to_string(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".to_string(), variant)
        }
        _ => (arch, variant),
    }
}

/// Upstream `isKnownOS` (Go's syslist as of rc.5; note it lacks `wasip1`).
fn is_known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "hurd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "nacl"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "windows"
            | "zos"
    )
}

/// Upstream `isKnownArch`, on a normalised architecture.
fn is_known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "386"
            | "amd64"
            | "amd64p32"
            | "arm"
            | "armbe"
            | "arm64"
            | "arm64be"
            | "ppc64"
            | "ppc64le"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "mips64p32"
            | "mips64p32le"
            | "ppc"
            | "riscv"
            | "riscv64"
            | "s390"
            | "s390x"
            | "sparc"
            | "sparc64"
            | "wasm"
    )
}

/// Whether `arch` names a known architecture once normalised (`x86-64`, `aarch64`, `armhf`).
fn is_known_arch_alias(arch: &str) -> bool {
    is_known_arch(&normalize_arch(arch, "").0)
}

/// `runtime.GOOS` for this process.
fn host_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "wasi" => "wasip1",
        other => other,
    }
}

/// `runtime.GOARCH` for this process.
fn host_arch() -> &'static str {
    let big_endian = cfg!(target_endian = "big");
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" if big_endian => "arm64be",
        "aarch64" => "arm64",
        "arm" if big_endian => "armbe",
        "arm" => "arm",
        "loongarch64" => "loong64",
        "mips" if big_endian => "mips",
        "mips" => "mipsle",
        "mips64" if big_endian => "mips64",
        "mips64" => "mips64le",
        "powerpc" => "ppc",
        "powerpc64" if big_endian => "ppc64",
        "powerpc64" => "ppc64le",
        "riscv32" => "riscv",
        "wasm32" => "wasm",
        other => other,
    }
}

/// containerd's `cpuVariant()`: detected once per process, and only on arm and arm64 (upstream
/// `isArmArch`); empty elsewhere, and empty when detection fails (upstream logs and goes on).
fn cpu_variant() -> &'static str {
    static VARIANT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VARIANT.get_or_init(|| match host_arch() {
        "arm" | "arm64" => arm_cpu_variant(host_os(), host_arch()).unwrap_or_default(),
        _ => String::new(),
    })
}

/// Upstream `getCPUVariant` (cpuinfo_linux.go, cpuinfo_other.go) for an arm or arm64 `goarch`.
fn arm_cpu_variant(goos: &str, goarch: &str) -> Option<String> {
    match goos {
        // Only arm32 v7 and arm64 v8 exist there, so GOARCH decides.
        "windows" | "darwin" => Some(
            match goarch {
                "arm64" => "v8",
                "arm" => "v7",
                _ => "unknown",
            }
            .to_string(),
        ),
        "freebsd" => Some(if goarch == "arm64" { "v8" } else { "unknown" }.to_string()),
        "linux" | "android" => {
            let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
            variant_from_cpuinfo(&cpuinfo, goarch, machine_arch)
        }
        _ => None,
    }
}

/// The Linux half of upstream `getCPUVariant`: the first core's `Cpu architecture`, else the
/// kernel's machine name (emulated arm on x86 lacks the field), with the Raspberry Pi ARMv6
/// quirk (it reports architecture 7), mapped to `v3`…`v8` or `unknown`.
fn variant_from_cpuinfo(
    cpuinfo: &str,
    goarch: &str,
    machine: fn() -> Option<String>,
) -> Option<String> {
    let mut variant = match cpuinfo_field(cpuinfo, "Cpu architecture") {
        Some(v) => v.to_string(),
        None => cpu_variant_from_machine(&machine()?)?.to_string(),
    };
    if goarch == "arm"
        && variant == "7"
        && cpuinfo_field(cpuinfo, "model name")
            .is_some_and(|m| m.to_lowercase().starts_with("armv6-compatible"))
    {
        variant = "6".to_string();
    }
    let normal = match variant.to_lowercase().as_str() {
        "8" | "aarch64" => "v8",
        "7" | "7m" | "?(12)" | "?(13)" | "?(14)" | "?(15)" | "?(16)" | "?(17)" => "v7",
        "6" | "6tej" => "v6",
        "5" | "5t" | "5te" | "5tej" => "v5",
        "4" | "4t" => "v4",
        "3" => "v3",
        _ => "unknown",
    };
    Some(normal.to_string())
}

/// Upstream `getCPUInfo`: the value after the first `:` of the first line whose key is
/// `pattern` (ASCII case-insensitive, both trimmed).
fn cpuinfo_field<'a>(cpuinfo: &'a str, pattern: &str) -> Option<&'a str> {
    cpuinfo.lines().find_map(|line| {
        let mut fields = line.split(':');
        let key = fields.next()?;
        let value = fields.next()?;
        key.trim()
            .eq_ignore_ascii_case(pattern)
            .then(|| value.trim())
    })
}

/// Upstream `getCPUVariantFromArch`: the arm version in a kernel machine name (`uname -m`):
/// `aarch64` is `8`, `armv7l` is `7`, `armv3`…`armv8` likewise, another `armvN…` is `unknown`;
/// `None` for a name that is not `aarch64` or `armv<digit>…` (upstream's errInvalidArgument; it
/// panics on names shorter than four bytes, which here are `None` too).
pub fn cpu_variant_from_machine(machine: &str) -> Option<&'static str> {
    let arch = machine.to_lowercase();
    if arch == "aarch64" {
        return Some("8");
    }
    if arch.len() < 5 || !arch.starts_with("armv") {
        return None;
    }
    Some(match arch.get(3..5) {
        Some("v8") => "8",
        Some("v7") => "7",
        Some("v6") => "6",
        Some("v5") => "5",
        Some("v4") => "4",
        Some("v3") => "3",
        _ => "unknown",
    })
}

/// The kernel's machine name, as upstream `getMachineArch` reads it through uname(2).
fn machine_arch() -> Option<String> {
    // SAFETY: utsname is plain bytes, valid when zeroed; uname fills it and returns 0 on success.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname for the duration of the call.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return None;
    }
    let bytes: Vec<u8> = uts
        .machine
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
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

    /// `os` followed by the host completion's architecture and variant, as upstream's
    /// `path.Join(os, defaultArch, defaultVariant)`.
    fn host_path(os: &str) -> String {
        let host = host_completion("linux");
        path_join(&[os, &host.architecture, &host.variant])
    }

    // Ported from platforms_test.go TestParseSelector: the parsed value, its Format (or
    // FormatAll for the os-options rows), a stable re-parse, and platforms it must match.
    #[test]
    fn parse_matches_upstream_selector_table() {
        let host_os = Platform::host().os;
        let linux = host_completion("linux");
        let windows = host_completion("windows");
        let cases: Vec<(&str, Platform, String, &str)> = vec![
            (
                "linux/arm64",
                p("linux", "arm64", ""),
                "linux/arm64".into(),
                "",
            ),
            (
                "linux/arm64/v8",
                p("linux", "arm64", "v8"),
                "linux/arm64/v8".into(),
                "",
            ),
            ("linux/arm", p("linux", "arm", ""), "linux/arm".into(), ""),
            (
                "linux/arm/v6",
                p("linux", "arm", "v6"),
                "linux/arm/v6".into(),
                "",
            ),
            (
                "linux/arm/v7",
                p("linux", "arm", "v7"),
                "linux/arm/v7".into(),
                "",
            ),
            ("arm", p(&host_os, "arm", ""), format!("{host_os}/arm"), ""),
            (
                "armel",
                p(&host_os, "arm", "v6"),
                format!("{host_os}/arm/v6"),
                "",
            ),
            (
                "armhf",
                p(&host_os, "arm", ""),
                format!("{host_os}/arm"),
                "",
            ),
            (
                "Aarch64",
                p(&host_os, "arm64", ""),
                format!("{host_os}/arm64"),
                "",
            ),
            (
                "x86_64",
                p(&host_os, "amd64", ""),
                format!("{host_os}/amd64"),
                "",
            ),
            (
                "Linux/x86_64",
                p("linux", "amd64", ""),
                "linux/amd64".into(),
                "",
            ),
            ("i386", p(&host_os, "386", ""), format!("{host_os}/386"), ""),
            ("linux", linux.clone(), host_path("linux"), ""),
            (
                "s390x",
                p(&host_os, "s390x", ""),
                format!("{host_os}/s390x"),
                "",
            ),
            (
                "linux/s390x",
                p("linux", "s390x", ""),
                "linux/s390x".into(),
                "",
            ),
            ("macOS", host_completion("darwin"), host_path("darwin"), ""),
            ("windows", windows.clone(), host_path("windows"), ""),
            ("windows()", windows.clone(), host_path("windows"), "all"),
            (
                "windows(10.0.17763)",
                with_version(windows.clone(), "10.0.17763"),
                host_path("windows(10.0.17763)"),
                "all",
            ),
            (
                "windows(10.0.17763+win32k)",
                with_features(with_version(windows.clone(), "10.0.17763"), &["win32k"]),
                host_path("windows(10.0.17763+win32k)"),
                "all",
            ),
            (
                "linux(+gpu)",
                with_features(linux.clone(), &["gpu"]),
                host_path("linux(+gpu)"),
                "all",
            ),
            (
                "linux(+gpu+simd)",
                with_features(linux.clone(), &["gpu", "simd"]),
                host_path("linux(+gpu+simd)"),
                "all",
            ),
            // Parse keeps the written order; FormatAll sorts.
            (
                "linux(+unsorted+erofs)",
                with_features(linux.clone(), &["unsorted", "erofs"]),
                host_path("linux(+erofs+unsorted)"),
                "all",
            ),
            (
                "windows(10.0.17763%2Bbuild.42)",
                with_version(windows.clone(), "10.0.17763+build.42"),
                host_path("windows(10.0.17763%2Bbuild.42)"),
                "all",
            ),
            (
                "windows(10.0.17763%2Bbuild.42+win32k)",
                with_features(
                    with_version(windows.clone(), "10.0.17763+build.42"),
                    &["win32k"],
                ),
                host_path("windows(10.0.17763%2Bbuild.42+win32k)"),
                "all",
            ),
            (
                "windows(50%25done)",
                with_version(windows.clone(), "50%done"),
                host_path("windows(50%25done)"),
                "all",
            ),
        ];
        for (input, expected, formatted, format) in cases {
            let parsed = parse(input);
            assert_eq!(parsed, expected, "parse {input:?}");
            assert!(
                matches_exact(&parsed, &expected),
                "{input:?} matches itself"
            );
            let format = |p: &Platform| {
                if format == "all" {
                    p.format_all()
                } else {
                    p.format()
                }
            };
            assert_eq!(format(&parsed), formatted, "format {input:?}");
            assert_eq!(
                format(&parse(&formatted)),
                formatted,
                "round trip of {input:?}"
            );
        }

        // The `matches` column of the same table.
        let matches = [
            (
                "linux/arm64",
                vec![p("linux", "aarch64", ""), p("linux", "aarch64", "v8")],
            ),
            ("linux/arm64", vec![p("linux", "arm64", "v8")]),
            (
                "linux/arm64/v8",
                vec![p("linux", "aarch64", ""), p("linux", "arm64", "")],
            ),
            (
                "linux/arm",
                vec![p("linux", "arm", "v7"), p("linux", "armhf", "")],
            ),
            ("linux/arm", vec![p("linux", "arm", "7")]),
            ("linux/arm/v6", vec![p("linux", "armel", "")]),
            (
                "linux/arm/v7",
                vec![p("linux", "arm", ""), p("linux", "armhf", "")],
            ),
        ];
        for (input, candidates) in matches {
            for candidate in candidates {
                assert!(
                    matches_exact(&parse(input), &candidate),
                    "{input} ~ {candidate:?}"
                );
            }
        }
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

    // docker-semantics.md §4.2 and upstream normalizeArch.
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

    // docker-semantics.md §4.5 exact column, and compare_test.go TestOnlyStrict.
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

    // docker-semantics.md §4.5 Only() column: the preference vector, in order.
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
            let platform =
                Platform::from_file_name(alias).unwrap_or_else(|e| panic!("{alias}: {e}"));
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
}
