//! The host platform (`DefaultSpec()`) and the CPU variant read from `/proc/cpuinfo`.

use super::*;
use crate::platform::host::variant_from_cpuinfo;

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
