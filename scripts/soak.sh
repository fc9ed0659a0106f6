#!/usr/bin/env bash
# Soak test of the mount. For MINUTES (default 2), against one mounted store, runs
# concurrently:
#   - SOAK_READERS readers (default 8): cp, cat or dd (4 KiB and 1 MiB blocks) of image.tar and
#     by-platform/*.tar of two images nothing removes, each read checked against the sha256 of
#     `imagefs export` of the same image and platforms (made before mounting); a mismatch is
#     counted in bytes with cmp;
#   - two importers: `imagefs import FILE` (the CLI) and `cp FILE MOUNT/import[/linux-arm64]/`
#     (the mount, checked through import/.status), of three other images, with and without a
#     platform filter;
#   - an rm + gc loop on those imported images (never on the ones being read);
# and samples the mount daemon's VmRSS every second. Then runs fsck and prints a summary: reads,
# bytes verified, wrong bytes, imports, failures by kind, RSS. Exits 1 on any wrong byte, any
# failure, a dead daemon or an unclean fsck; 0 otherwise.
#
# Usage: scripts/soak.sh [MINUTES]
# Env: IMAGEFS_BIN (a built binary; default: cargo build --release), SOAK_READERS, SOAK_SEED,
#      SOAK_GC_LIMIT (seconds one gc may wait for open archive files before it counts as a
#      failure; default 120).
# Needs /dev/fuse and root (or fusermount3). Unmounts and removes its temp dir on exit and Ctrl-C.
set -euo pipefail

minutes=${1:-2}
if [[ ! $minutes =~ ^[0-9]+$ ]] || ((minutes < 1)); then
    echo "usage: $0 [MINUTES]   (a whole number, at least 1)" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
if [[ -z ${IMAGEFS_BIN:-} ]]; then
    (cd "$here" && cargo build --release --quiet)
    bin=${CARGO_TARGET_DIR:-$here/target}/release/imagefs
else
    bin=$IMAGEFS_BIN
fi
readers=${SOAK_READERS:-8}
seed=${SOAK_SEED:-$$}
gc_limit=${SOAK_GC_LIMIT:-120}

work=$(mktemp -d "${TMPDIR:-/tmp}/imagefs-soak.XXXXXX")
store=$work/store mnt=$work/mnt logs=$work/logs
mkdir -p "$mnt" "$logs" "$work/tmp" "$work/ref"
workers=()
daemon=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # Each worker runs in its own process group (set -m below): stop it with its children.
    for p in "${workers[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
    for p in "${workers[@]}"; do wait "$p" 2>/dev/null || true; done
    # /proc/self/mounts, not mountpoint(1): a mount whose daemon died fails stat with ENOTCONN.
    if grep -qs " $mnt fuse" /proc/self/mounts; then
        "$bin" unmount "$mnt" 2>/dev/null || "$bin" unmount --lazy "$mnt" 2>/dev/null || true
    fi
    # The daemon exits once the kernel drops the mount; give it a moment before removing its store.
    for _ in $(seq 50); do
        daemon_alive || break
        sleep 0.1
    done
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "soak: interrupted" >&2; exit 130' INT TERM

imagefs() { "$bin" --store "$store" -q "$@"; }
# Whether the daemon runs (a zombie, left unreaped by a container's init, does not).
daemon_alive() {
    [[ -n $daemon ]] && [[ $(awk '/^State:/ {print $2}' "/proc/$daemon/status" 2>/dev/null) =~ ^[RSD]$ ]]
}

# --- the store: two images to read, three to import, remove and collect ----------------------
read1=example.com/soak/read1:1   # 4 platforms, 3 x 2 MiB layers each (one shared)
read2=example.com/soak/read2:1   # 2 platforms
imagefs sample --name "$read1" --layers 3 --layer-size $((2 << 20)) --stored --seed 11 >/dev/null
imagefs sample --name "$read2" --platform linux/amd64,linux/arm64 --layers 2 \
    --layer-size $((1 << 20)) --stored --seed 12 >/dev/null
src=$work/src
for k in 1 2 3; do
    "$bin" --store "$src" -q sample --name "example.com/soak/imp$k:1" --platform \
        linux/amd64,linux/arm64 --layers 2 --layer-size $((1 << 20)) --stored --seed $((20 + k)) >/dev/null
    "$bin" --store "$src" -q export "example.com/soak/imp$k:1" -o "$work/imp$k.tar"
done
gzip -1 "$work/imp3.tar"   # one compressed source: the stream path
sources=("$work/imp1.tar" "$work/imp2.tar" "$work/imp3.tar.gz")

# Reference bytes: FILE-UNDER-IMAGE-DIR IMAGE PLATFORMS...
refs=()
add_ref() {
    local rel=$1 image=$2 id=${#refs[@]} args=()
    shift 2
    for p in "$@"; do args+=(--platform "$p"); done
    imagefs export "$image" "${args[@]}" -o "$work/ref/$id.tar"
    refs+=("images/${image}/$rel|$work/ref/$id.tar|$(sha256sum <"$work/ref/$id.tar" | cut -d' ' -f1)")
}
add_ref image.tar "$read1"
add_ref by-platform/linux-amd64.tar "$read1" linux/amd64
add_ref by-platform/linux-arm64.tar "$read1" linux/arm64
add_ref by-platform/linux-arm-v7.tar "$read1" linux/arm/v7
add_ref by-platform/linux-riscv64.tar "$read1" linux/riscv64
add_ref by-platform/linux-amd64+linux-arm64.tar "$read1" linux/amd64 linux/arm64
add_ref image.tar "$read2"
add_ref by-platform/linux-arm64.tar "$read2" linux/arm64

out=$(imagefs mount "$mnt" --no-sample --log-file "$work/mount.log")
daemon=$(sed -n 's/.*(pid \([0-9]*\)).*/\1/p' <<<"$out")
[[ -n $daemon ]] || { echo "soak: cannot find the daemon's pid in: $out" >&2; exit 1; }

end=$(($(date +%s) + minutes * 60))
# Workers stop at the deadline, or at once when the daemon dies (the sampler says so).
running() { (($(date +%s) < end)) && [[ ! -e $work/stop ]]; }
# Log lines: "read METHOD BYTES", "wrong REL BYTES", "import cli|cp", "rm", "gc SECONDS",
# "fail KIND DETAIL".
fail() { printf 'fail %s %.250s\n' "$1" "${*:2}"; }

reader() {
    set +e   # every failure is checked and logged; none may end the worker silently
    RANDOM=$((seed + $1))
    local tmp=$work/tmp/reader-$1 entry rel ref sum method want got n
    while running; do
        entry=${refs[RANDOM % ${#refs[@]}]}
        IFS='|' read -r rel ref want <<<"$entry"
        case $((RANDOM % 4)) in
            0) method=cp; cp "$mnt/$rel" "$tmp" 2>"$tmp.err" ;;
            1) method=cat; cat "$mnt/$rel" >"$tmp" 2>"$tmp.err" ;;
            2) method=dd4k; dd if="$mnt/$rel" of="$tmp" bs=4k status=none 2>"$tmp.err" ;;
            *) method=dd1m; dd if="$mnt/$rel" of="$tmp" bs=1M status=none 2>"$tmp.err" ;;
        esac || { fail "read-$method" "$rel: $(head -c 200 "$tmp.err")"; continue; }
        n=$(stat -c %s "$tmp")
        got=$(sha256sum <"$tmp" | cut -d' ' -f1)
        if [[ $got == "$want" ]]; then
            echo "read $method $n"
        else
            # Differing bytes, plus the length difference.
            local diff len
            diff=$(cmp -l "$tmp" "$ref" 2>/dev/null | wc -l || true)
            len=$(($(stat -c %s "$ref") - n))
            echo "wrong $rel $((diff + ${len#-}))"
        fi
        rm -f "$tmp"
    done
}

importer_cli() {
    set +e   # every failure is checked and logged; none may end the worker silently
    RANDOM=$((seed + 100))
    local k args
    while running; do
        k=$((RANDOM % 3))
        args=()
        ((RANDOM % 2)) && args=(--platform linux/arm64)
        if imagefs import "${sources[k]}" "${args[@]}" >/dev/null 2>"$work/tmp/cli.err"; then
            echo "import cli"
        else
            fail import-cli "$(head -c 200 "$work/tmp/cli.err")"
        fi
    done
}

importer_cp() {
    set +e   # every failure is checked and logged; none may end the worker silently
    RANDOM=$((seed + 200))
    local k dir name n=0 state
    mkdir -p "$mnt/import/linux-arm64"
    while running; do
        k=$((RANDOM % 3)) n=$((n + 1))
        dir=$mnt/import
        ((RANDOM % 2)) && dir=$mnt/import/linux-arm64
        name=soak-$n-$(basename "${sources[k]}")
        if ! cp "${sources[k]}" "$dir/$name" 2>"$work/tmp/cp.err"; then
            fail import-cp "$(head -c 200 "$work/tmp/cp.err")"
            continue
        fi
        state=$(sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' "$dir/.status/$name.json")
        if [[ $state == loaded ]]; then
            echo "import cp"
        else
            fail import-cp-status "$name: $(head -c 200 "$dir/.status/$name.json")"
        fi
        rm -f "$dir/$name"
    done
}

remover() {
    set +e   # every failure is checked and logged; none may end the worker silently
    RANDOM=$((seed + 300))
    local name t0 rc
    while running; do
        sleep $((2 + RANDOM % 3))
        running || break
        name=example.com/soak/imp$((1 + RANDOM % 3)):1
        if imagefs ls | grep -q "^$name "; then
            # This is the only remover: the name cannot go between ls and rm.
            if imagefs rm "$name" >/dev/null 2>"$work/tmp/rm.err"; then
                echo "rm"
            else
                fail rm "$(head -c 200 "$work/tmp/rm.err")"
            fi
        fi
        t0=$(date +%s.%N)
        rc=0
        timeout "$gc_limit" "$bin" --store "$store" -q gc >/dev/null 2>"$work/tmp/gc.err" || rc=$?
        if ((rc == 0)); then
            echo "gc $(echo "$(date +%s.%N) - $t0" | bc)"
        elif ((rc == 124)); then
            fail gc-timeout "gc still waiting after ${gc_limit}s"
        else
            fail gc "$(head -c 200 "$work/tmp/gc.err")"
        fi
    done
}

rss_sampler() {
    set +e   # every failure is checked and logged; none may end the worker silently
    while running; do
        if ! daemon_alive; then
            fail daemon-died "pid $daemon"
            touch "$work/stop"
            return
        fi
        awk '/^VmRSS/ {print "rss", $2}' "/proc/$daemon/status" 2>/dev/null || true
        sleep 1
    done
    awk '/^VmHWM/ {print "hwm", $2}' "/proc/$daemon/status" 2>/dev/null || true
}

echo "soak: $minutes min, $readers readers, 2 importers, rm+gc; seed $seed; store $store; daemon pid $daemon" >&2
set -m   # each worker in its own process group, so cleanup can stop it with its children
for i in $(seq "$readers"); do
    reader "$i" >"$logs/reader-$i" 2>&1 &
    workers+=($!)
done
importer_cli >"$logs/importer-cli" 2>&1 &
workers+=($!)
importer_cp >"$logs/importer-cp" 2>&1 &
workers+=($!)
remover >"$logs/remover" 2>&1 &
workers+=($!)
rss_sampler >"$logs/rss" 2>&1 &
workers+=($!)
set +m
for p in "${workers[@]}"; do wait "$p" || true; done
workers=()

# --- after the run -----------------------------------------------------------------------------
fsck_ok=yes
if ! imagefs fsck >"$work/fsck.out" 2>&1; then
    fsck_ok=no
    echo "fail fsck $(head -c 300 "$work/fsck.out")" >>"$logs/final"
fi
daemon_alive || echo "fail daemon-died pid $daemon" >>"$logs/final"

cat "$logs"/* | awk -v minutes="$minutes" -v readers="$readers" -v fsck="$fsck_ok" \
    -v machine="$(nproc) CPUs, $(awk '/MemTotal/ {printf "%d GiB RAM", $2/1048576}' /proc/meminfo), Linux $(uname -r)" '
    $1 == "read"  { reads++; bytes += $3; method[$2]++ }
    $1 == "wrong" { wrong_reads++; wrong += $3; fails["wrong-bytes " $2]++ }
    $1 == "import" { imports[$2]++ }
    $1 == "rm"    { rms++ }
    $1 == "gc"    { gcs++; if ($2 > gcmax) gcmax = $2; gcsum += $2 }
    $1 == "fail"  { fails[$2]++; if (!($2 in example)) example[$2] = $0 }
    $1 == "rss"   { rss[n++] = $2; if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2 }
    $1 == "hwm"   { hwm = $2 }
    END {
        printf "soak: %d min, %d readers, 2 importers (CLI, cp), rm+gc; %s\n", minutes, readers, machine
        printf "reads: %d (cp %d, cat %d, dd 4k %d, dd 1M %d), %.1f MiB verified, %d wrong reads, wrong bytes: %d\n",
            reads, method["cp"], method["cat"], method["dd4k"], method["dd1m"], bytes / 1048576, wrong_reads, wrong
        printf "imports: %d (CLI %d, cp into the mount %d); rm: %d; gc: %d (mean %.2f s, max %.2f s)\n",
            imports["cli"] + imports["cp"], imports["cli"], imports["cp"], rms, gcs,
            gcs ? gcsum / gcs : 0, gcmax
        # Growth shows as a higher maximum in the last quarter of the run than in the first.
        q = int(n / 4)
        for (i = 0; i < q; i++) { if (rss[i] > first) first = rss[i]; if (rss[n - 1 - i] > last) last = rss[n - 1 - i] }
        printf "daemon RSS: min %.1f MiB, max %.1f MiB over %d samples (max in the first quarter %.1f MiB, in the last %.1f MiB); peak (VmHWM) %.1f MiB\n",
            min / 1024, max / 1024, n, first / 1024, last / 1024, hwm / 1024
        printf "fsck after the run: %s\n", fsck == "yes" ? "clean" : "PROBLEMS"
        total = 0
        for (k in fails) { total += fails[k] }
        printf "failures: %d\n", total
        for (k in fails) { printf "  %s: %d  (e.g. %s)\n", k, fails[k], example[k] }
        exit (wrong > 0 || wrong_reads > 0 || total > 0 || fsck != "yes" || reads == 0) ? 1 : 0
    }'
