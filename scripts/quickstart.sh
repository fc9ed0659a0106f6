#!/usr/bin/env bash
# Quick start: installs fuse3 if it is missing, builds imagefs, and mounts the default store
# (~/.local/share/imagefs, or $IMAGEFS_STORE), seeded with a small 4-platform sample image on
# first use, at MOUNTPOINT (default ./mnt). Then prints what to try.
#
#   scripts/quickstart.sh [MOUNTPOINT]
set -euo pipefail
cd "$(dirname "$0")/.."
MNT=${1:-$PWD/mnt}

if ! command -v fusermount3 >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fuse3 >/dev/null
    else
        sudo apt-get install -y fuse3
    fi
fi
cargo build --release --quiet
BIN=$PWD/target/release/imagefs
mkdir -p "$MNT"
if mountpoint -q "$MNT"; then
    "$BIN" unmount "$MNT"
fi
# The daemon's log goes beside the mountpoint (without --log-file it goes to the system log,
# which containers often lack).
LOG="$(dirname "$MNT")/imagefs-mount.log"
"$BIN" mount "$MNT" --log-file "$LOG"

SAMPLE="$MNT/images/example.com/imagefs/sample:latest"
cat <<MSG
imagefs is serving the store at $MNT  (binary: $BIN, log: $LOG)

Try:
  ls $MNT/images/example.com/imagefs/
  ls -l "$SAMPLE/by-platform/"
  cp "$SAMPLE/by-platform/linux-arm64.tar" .            # = docker save --platform linux/arm64
  tar -tvf linux-arm64.tar
  cp linux-arm64.tar $MNT/import/linux-arm64/             # load an archive (only linux/arm64)
  cat $MNT/import/linux-arm64/.status/linux-arm64.tar.json  # what the import did
  $BIN ls                                                  # the same store from the CLI
  $BIN unmount $MNT
MSG
