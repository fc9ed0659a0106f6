#!/usr/bin/env bash
# The test command: installs what the tests use when it is missing (fuse3, the peers skopeo, umoci,
# containerd, podman and docker.io, the backup tools borgbackup, restic and rdiff-backup, rsync,
# the compressors, python3, e2fsprogs, libglib2.0-bin and attr for the mount's permission,
# ioctl and xattr tests, systemd for systemd-analyze, zsh, fish and man-db for the completions
# and man pages; needs root, as on CI), then runs format and lint checks and the test tiers,
# cheapest first: unit, upstream tables, kernel-free (ImageFs without /dev/fuse, the reference
# model), library, the real mount through /dev/fuse, faults (kill -9, full disk), the peers.
# A test whose need is missing fails; IMAGEFS_TEST_SKIP=fuse,peers,... skips it, loudly
# (doc/DEVELOPMENT.md).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in fuse3 skopeo umoci rsync zstd xz-utils bzip2 pigz time containerd podman docker.io \
    borgbackup restic rdiff-backup python3 e2fsprogs libglib2.0-bin attr systemd zsh fish man-db jq; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing packages: ${need[*]} (install them, or run as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # --- policy-rc.d: keep apt from starting system daemons (containerd, docker) ---------
    # The interop tests (tests/interop/) start their own private containerd and dockerd;
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

# --- the tiers, cheapest first: a broken build or a logic error fails in the first minutes, ---
# before the mount and the peers run. doc/DEVELOPMENT.md says what each tier proves.
tiers=(
    "unit|--lib --bins --examples"
    "tables|--test upstream_platforms --test upstream_reference"
    "kernel-free|--test fs --test model"
    "library|--test archive --test import_hostile --test names --test store_semantics --test store_access --test cli --test zran"
    "mount|--test mount"
    "faults|--test faults"
    "peers|--test peers --test interop --test rootfs"
)

# Every test binary belongs to a tier: a new one that is not listed fails here, not silently.
shopt -s nullglob
read -ra words <<<"${tiers[*]//|/ }"
for f in tests/*.rs tests/*/main.rs; do
    name=$(basename "${f%/main.rs}" .rs)
    found=
    for ((i = 1; i < ${#words[@]}; i++)); do
        [[ ${words[i - 1]} == --test && ${words[i]} == "$name" ]] && found=1
    done
    if [[ -z $found ]]; then
        echo "scripts/test.sh: test binary '$name' ($f) is in no tier" >&2
        exit 1
    fi
done

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets --no-run
for tier in "${tiers[@]}"; do
    label=${tier%%|*}
    start=$SECONDS
    echo "=== tier $label: cargo test ${tier#*|}"
    # shellcheck disable=SC2086 # the tier's arguments are meant to split
    cargo test ${tier#*|}
    echo "=== tier $label passed in $((SECONDS - start)) s"
done
