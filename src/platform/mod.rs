//! `Platform`: the OCI platform of an image manifest, parsed, normalised and matched exactly as
//! containerd/platforms v1.0.0-rc.5 does it (the version Docker vendors), plus the
//! `os-arch[-variant]` file-name form the mount uses for per-platform archives.
//!
//! This module owns the specifier grammar (`linux/arm64/v8`, `windows(10.0.17763+win32k)/amd64`),
//! normalisation (`aarch64` -> `arm64`, `arm64/v8` -> `arm64`, `armhf` -> `arm/v7`), the exact
//! matcher (`NewMatcher`, used by `OnlyStrict`/`Any`/`Ordered`), the fallback matcher `Only` with
//! its `Less` order, and `OnlyOS`. It knows nothing about manifests, descriptors or the store:
//! callers hand it platforms and get back yes/no and preference order.
//!
//! Where containerd's behaviour depends on the machine (`runtime.GOOS`, `runtime.GOARCH`, the CPU
//! variant) we use [`Platform::host`], containerd's `DefaultSpec()` (submodule `host`). The
//! matchers are in submodule `matcher`, Windows build compatibility in submodule `windows`.
//! containerd/platforms' own test tables run against this module from
//! tests/upstream_platforms.rs.

mod host;
mod matcher;
mod windows;

use std::fmt;
use std::str::FromStr;

pub use host::cpu_variant_from_machine;
use host::{cpu_variant, host_arch, host_os};
pub use matcher::{Only, OnlyOs, matches_exact};

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
                // The mount's file-name form (`linux-arm64`) too, which containerd's grammar
                // refuses: what a user copied from a path is what they type.
                let p = Platform::parse(spec).or_else(|e| {
                    if spec.contains('/') {
                        return Err(e);
                    }
                    Platform::from_file_name(spec).map_err(|_| e)
                })?;
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

    /// The nearest of `available` to this platform when it looks like a typo of one
    /// (`linux/arm65` → `linux/arm64`), for "did you mean" in errors.
    pub fn nearest<'a>(&self, available: &'a [Platform]) -> Option<&'a Platform> {
        let wanted = self.format_all();
        let names: Vec<String> = available.iter().map(Platform::format_all).collect();
        let hit = crate::suggest::nearest(&wanted, names.iter().map(String::as_str))?;
        available.iter().find(|p| p.format_all() == hit)
    }

    /// `; did you mean linux/arm64?` after an error naming this platform, when one of
    /// `available` is a typo away; nothing otherwise.
    pub fn did_you_mean<'a>(&'a self, available: &'a [Platform]) -> impl fmt::Display + 'a {
        DidYouMean(self.nearest(available))
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

/// `linux/amd64, linux/arm64` or `none`, for messages.
pub fn format_platforms(platforms: &[Platform]) -> String {
    if platforms.is_empty() {
        return "none".to_string();
    }
    platforms
        .iter()
        .map(Platform::format_all)
        .collect::<Vec<_>>()
        .join(", ")
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

/// What [`Platform::did_you_mean`] shows: the suggestion, or nothing.
struct DidYouMean<'a>(Option<&'a Platform>);

impl fmt::Display for DidYouMean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, "; did you mean {}?", p.format_all()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
