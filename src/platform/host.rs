//! The running machine's platform as containerd's `DefaultSpec()` sees it: Go's names for the
//! OS and architecture, and the CPU variant on arm and arm64 from `/proc/cpuinfo` (upstream
//! cpuinfo.go, cpuinfo_linux.go, cpuinfo_other.go). Nothing here matches or formats platforms.

/// `runtime.GOOS` for this process.
pub(super) fn host_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "wasi" => "wasip1",
        other => other,
    }
}

/// `runtime.GOARCH` for this process.
pub(super) fn host_arch() -> &'static str {
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
pub(super) fn cpu_variant() -> &'static str {
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
pub(super) fn variant_from_cpuinfo(
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
