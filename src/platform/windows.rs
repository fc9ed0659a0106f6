//! Windows OS version matching as containerd/platforms v1.0.0-rc.5 does it
//! (platform_windows_compat.go): which container builds a Windows host build can run.

use std::str::FromStr;

/// Windows Server LTSC builds with a stable container ABI, ascending (rc.5: ltsc2022, ltsc2025).
const WINDOWS_LTSC_BUILDS: [u16; 2] = [20348, 26100];

/// Below this host build (Windows Server 2022) a container needs exactly the host's build.
const WINDOWS_STABLE_ABI_BUILD: u16 = 20348;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct WindowsVersion {
    major: u8,
    minor: u8,
    build: u16,
}

/// Upstream `getWindowsOSVersion`: `major.minor.build[.anything]`; anything else, including a
/// field out of range for the Windows API's u8/u8/u16, reads as the zero version.
pub(super) fn windows_version(v: &str) -> WindowsVersion {
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
pub(super) fn windows_version_matches(requested: &str, candidate: &str) -> bool {
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
pub(super) fn windows_build_compatible(host: WindowsVersion, ctr: WindowsVersion) -> bool {
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
