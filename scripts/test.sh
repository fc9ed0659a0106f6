#!/usr/bin/env bash
# The test command: installs what the tests use when it is missing (fuse3, the peers skopeo, umoci,
# containerd, podman and docker.io, the backup tools borgbackup, restic and rdiff-backup, rsync,
# the compressors, and python3, e2fsprogs and libglib2.0-bin for the mount's permission and
# ioctl tests; needs root, as on CI), then runs format and lint checks and the whole test
# suite, including the tests that mount the real filesystem through /dev/fuse and drive the
# real peers.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in fuse3 skopeo umoci rsync zstd xz-utils bzip2 time containerd podman docker.io \
    borgbackup restic rdiff-backup python3 e2fsprogs libglib2.0-bin; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing packages: ${need[*]} (install them, or run as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # --- policy-rc.d: keep apt from starting system daemons (containerd, docker) ---------
    # The interop tests (tests/interop.rs) start their own private containerd and dockerd;
    # a system-wide daemon must not be started by the package install. Exit code 101 means
    # "action forbidden" to invoke-rc.d. Only a policy we create is removed again.
    made_policy=
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
        # Removed however apt ends, so a failed install never leaves services unstartable.
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    if [[ -n $made_policy ]]; then
        rm -f /usr/sbin/policy-rc.d
        trap - EXIT
    fi
    # ----------------------------------------------------------------------------------
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
