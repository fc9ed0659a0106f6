#!/usr/bin/env bash
# Browsing inside an image through the mount's by-platform/<os>-<arch>/rootfs/, on a real
# Debian image of 7 gzip layers (scripts/deb-image.sh large, over 400 MiB of gzip), against
# what reading the same layers costs anyway:
#  (1) tar -cf - of rootfs/ on a fresh mount (indexes built ahead, and built lazily) vs gzip -dc
#      of the layers (the baseline) vs umoci raw unpack vs ratarmount of the layers
#  (2) cold tail -c 4096 of the last file of the biggest layer (page cache dropped, fresh mount)
#  (3) imagefs index (store without layer indexes) vs gzip -dc
#  (4) find | wc -l and ls -lR of rootfs/ on a fresh mount
#  (5) daemon peak RSS (VmHWM) with 8 parallel readers of every file
# usage: scripts/bench-rootfs.sh [WORKDIR [PART...]]   (default /tmp/bench-rootfs, every part)
#   PARTs: baseline umoci ratarmount index mount tail find rss (baseline is run when a ratio
#   needs it; mount, tail, find and rss need the mount's rootfs/)
# Env: IMAGEFS_BIN (release binary; default: cargo build --release), RUNS (best of, default 3)
# Needs root (drop_caches, FUSE), GNU tar, umoci, python3 (a venv for ratarmount, from PyPI).
# shellcheck disable=SC2317 # the helpers are called through best()
set -euo pipefail
shopt -s inherit_errexit # a failing command inside a timed run stops the script

here=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/bench-rootfs}
shift || true
parts=" ${*:-baseline umoci ratarmount index mount tail find rss} "
runs=${RUNS:-3}
want() { [[ $parts == *" $1 "* ]]; }
mkdir -p "$work"
work=$(cd "$work" && pwd)

if [[ -z ${IMAGEFS_BIN:-} ]]; then
    (cd "$here" && cargo build --release --bin imagefs -q)
    cp "${CARGO_TARGET_DIR:-$here/target}/release/imagefs" "$work/imagefs-rel"
fi
bin=${IMAGEFS_BIN:-$work/imagefs-rel}

image=$work/image ref=example.com/deb/large:1
store=$work/store mnt=$work/mnt rmnt=$work/ratarmount-mnt
[[ -s $image.tar ]] || "$here/scripts/deb-image.sh" "$image" large
mkdir -p "$mnt" "$rmnt"
if [[ ! -e $store/index.json ]]; then "$bin" --store "$store" -q import "$image.tar" >/dev/null; fi
rootfs=$mnt/images/example.com/deb/large@1/by-platform/linux-amd64/rootfs

# The layers, in order, as blob files of the layout.
manifest=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$image/index.json")
mapfile -t layers < <(jq -r '.layers[].digest | sub("sha256:"; "")' "$image/blobs/sha256/$manifest" |
    sed "s|^|$image/blobs/sha256/|")
gz_bytes=$(stat -c %s "${layers[@]}" | paste -sd+ | bc)
tar_bytes=$(gzip -lq "${layers[@]}" | awk '{s += $2} END {print s}') # from the gzip trailers

umount_all() {
    "$bin" unmount "$mnt" 2>/dev/null || true
    if mountpoint -q "$rmnt"; then fusermount3 -u "$rmnt" 2>/dev/null || umount "$rmnt" || true; fi
}
trap umount_all EXIT
umount_all
fresh_mount() { # a new daemon: nothing of a previous run in its memory or the kernel's caches
    "$bin" unmount "$mnt" 2>/dev/null || true
    # It prints "mounted on M (pid N); …": the daemon's pid, for (5).
    "$bin" --store "$store" -q mount "$mnt" --no-sample | sed -n 's/.*(pid \([0-9]*\)).*/\1/p' >"$work/daemon.pid"
    if [[ ! -d $rootfs ]]; then
        echo "bench-rootfs: $rootfs is missing: this imagefs mount has no by-platform/…/rootfs/" \
            "(run only the parts without the mount: baseline umoci ratarmount index)" >&2
        exit 1
    fi
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

secs() { local t0=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $t0" | bc; }
# best BEFORE CMD...: best wall time of $runs runs of CMD (output discarded); BEFORE (a command,
# or :) runs untimed before each, to reset what the run must not find ready.
best() {
    local before=$1 b="" t
    shift
    for _ in $(seq "$runs"); do
        $before
        t=$(secs "$@")
        if [[ -z $b ]] || (($(echo "$t < $b" | bc))); then b=$t; fi
    done
    printf '%.3f\n' "$b"
}
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
warm() { cat "${layers[@]}" >/dev/null; } # every variant reads page-cached blobs
declare -A t=()
mount_parts=false
for p in mount tail find rss; do want $p && mount_parts=true; done
if $mount_parts; then fresh_mount; fi # fail now, not after minutes of the other parts

warm
if want baseline || want umoci || want ratarmount || want index || want mount; then
    t[gz]=$(best : sh -c 'gzip -dc "$@" >/dev/null' gzip "${layers[@]}")
fi
if want umoci; then
    rm_umoci() { rm -rf "$work/umoci-rootfs"; sync; }
    t[umoci]=$(best rm_umoci umoci --log error raw unpack --image "$image:1" "$work/umoci-rootfs")
    entries_ref=$(find "$work/umoci-rootfs" | wc -l)
    t[find_ref]=$(best : sh -c "find '$work/umoci-rootfs' | wc -l >/dev/null")
fi
if want ratarmount; then
    # ratarmount (PyPI) mounts the layers as one union (later layers win, whiteouts are not
    # applied); its index is a SQLite file per layer, built on the first mount.
    ratar=$work/venv/bin/ratarmount
    if [[ ! -x $ratar ]]; then
        python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q ratarmount >"$work/pip.log" 2>&1 ||
            echo "bench-rootfs: ratarmount did not install from PyPI (see $work/pip.log): skipped"
    fi
    if [[ -x $ratar ]]; then
        ratar_mount() { "$ratar" --index-folders "$work/ratarmount-index" "${layers[@]}" "$rmnt" >/dev/null; }
        ratar_unmount() { fusermount3 -u "$rmnt" 2>/dev/null || umount "$rmnt"; }
        ratar_fresh() { if mountpoint -q "$rmnt"; then ratar_unmount; fi; rm -rf "$work/ratarmount-index"; }
        t[ratar_index]=$(best ratar_fresh ratar_mount)
        ratar_remount() { ratar_unmount; ratar_mount; }
        t[ratar_tar]=$(best ratar_remount sh -c "tar -C '$rmnt' -cf - . | cat >/dev/null")
        ratar_unmount
    fi
fi
if want index; then
    no_indexes() { rm -rf "$store/indexes"; sync; }
    t[index]=$(best no_indexes "$bin" --store "$store" -q index "$ref")
fi
# The mount parts read indexes built ahead.
if $mount_parts; then "$bin" --store "$store" -q index "$ref" >/dev/null; fi
if want mount; then
    tar_rootfs() { tar -C "$rootfs" -cf - . | cat >/dev/null; }
    t[mount]=$(best fresh_mount tar_rootfs)
    lazy_mount() { rm -rf "$store/indexes"; sync; fresh_mount; }
    t[mount_lazy]=$(best lazy_mount tar_rootfs)
    "$bin" --store "$store" -q index "$ref" >/dev/null
fi
if want tail; then
    # The biggest layer's last regular file in tar order: the highest data offset, so a cold
    # read must start from the layer's last checkpoint. (tar -tv: mode owner size date time NAME)
    big=$(stat -c '%s %n' "${layers[@]}" | sort -n | tail -1 | cut -d' ' -f2)
    last=$(tar -tvzf "$big" | awk '/^-/' | tail -1 | sed -E 's/^([^ ]+ +){5}//')
    tail_ms() { # ms of a cold tail; $1=warm: the tree already looked up, only the data cold
        fresh_mount
        [[ $1 == warm ]] && stat "$rootfs/$last" >/dev/null
        drop_caches
        echo "($(secs tail -c 4096 "$rootfs/$last") * 1000)" | bc
    }
    cold=() data=()
    for _ in $(seq 5); do cold+=("$(tail_ms cold)") data+=("$(tail_ms warm)"); done
    med() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
    t[tail]=$(printf '%.1f' "$(med "${cold[@]}")") t[tail_data]=$(printf '%.1f' "$(med "${data[@]}")")
    warm
fi
if want find; then
    fresh_mount
    entries=$(find "$rootfs" | wc -l)
    t[find]=$(best fresh_mount sh -c "find '$rootfs' | wc -l >/dev/null")
    t[lsr]=$(best fresh_mount sh -c "ls -lR '$rootfs' >/dev/null")
fi
if want rss; then
    fresh_mount
    pid=$(cat "$work/daemon.pid")
    [[ -n $pid && -e /proc/$pid/status ]] || { echo "bench-rootfs: no daemon pid for (5)" >&2; exit 1; }
    find "$rootfs" -type f -print0 >"$work/files"
    split -t '\0' -n r/8 "$work/files" "$work/files."
    t0=$EPOCHREALTIME
    for f in "$work"/files.*; do xargs -0 -a "$f" cat >/dev/null & done
    wait
    t[rss_walk]=$(printf '%.3f' "$(echo "$EPOCHREALTIME - $t0" | bc)")
    rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    rm -f "$work"/files*
fi

row() { # LABEL KEY [RATIO-TEXT]: a table row, or nothing when that part did not run
    [[ -n ${t[$2]:-} ]] && printf '| %s | %s | %s |\n' "$1" "${t[$2]}" "${3:-}"
    return 0
}
vs() { [[ -n ${t[$1]:-} && -n ${t[gz]:-} ]] && echo "$(ratio "${t[$1]}" "${t[gz]}")× gzip -dc"; }
cat <<HEAD
command: scripts/bench-rootfs.sh $work $*
machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); best of $runs
image: $ref, ${#layers[@]} gzip layers, $((gz_bytes >> 20)) MiB compressed, $((tar_bytes >> 20)) MiB of layer tars
| measurement | seconds | ratio |
|---|---|---|
HEAD
row "(1) gzip -dc of the layers to /dev/null (baseline)" gz 1
row "(1) tar -cf - rootfs/ \\| cat, fresh mount, indexes built ahead (target ≤ 1.0×)" mount "$(vs mount)"
row "(1) same, indexes built lazily by the first access" mount_lazy "$(vs mount_lazy)"
row "(1) umoci raw unpack of the layout (writes the tree)" umoci "$(vs umoci)"
row "(1) ratarmount of the layers: first mount (builds its index)" ratar_index "$(vs ratar_index)"
row "(1) ratarmount: tar -cf - of its mount \\| cat (fresh mount, index kept)" ratar_tar "$(vs ratar_tar)"
row "(3) imagefs index, store without layer indexes (target ≤ 1.2×)" index "$(vs index)"
[[ -n ${t[tail]:-} ]] && printf '| (2) cold tail -c 4096 %s, median of 5 (target ≤ 10 ms) | %s ms | data only: %s ms |\n' \
    "$last" "${t[tail]}" "${t[tail_data]}"
row "(4) find rootfs/ \\| wc -l, fresh mount" find "${entries:-?} entries"
row "(4) ls -lR rootfs/, fresh mount" lsr
row "(4) find \\| wc -l of umoci's unpacked tree (page-cached)" find_ref "${entries_ref:-?} entries"
[[ -n ${rss_kib:-} ]] && echo "| (5) daemon peak RSS (VmHWM), 8 parallel cat of every file (target < 128 MiB) | ${t[rss_walk]} | $((rss_kib / 1024)) MiB |"
exit 0
