#!/usr/bin/env bash
# The test command: installs what the tests use when it is missing (fuse3, skopeo, umoci, rsync;
# needs root, as on CI), then runs format and lint checks and the whole test suite, including the
# tests that mount the real filesystem through /dev/fuse and drive real peers.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in fuse3 skopeo umoci rsync zstd xz-utils bzip2 time; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing packages: ${need[*]} (install them, or run as root)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
