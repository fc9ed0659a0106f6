#!/usr/bin/env bash
# Benchmark of the core: export and import of one platform of a large 4-platform image,
# each compared in the same run with GNU tar doing the same I/O and with skopeo doing the same job.
#
#   scripts/bench.sh [LAYER_MIB] [RUNS]
#
# Generates a 4-platform image (5 layers per platform, the first shared, LAYER_MIB MiB each,
# incompressible; default 32 MiB -> 544 MiB of blobs) in a temporary store, then times (median
# of RUNS, default 3, page cache warm):
#   export: imagefs export --platform linux/arm64 -o F  |  tar -cf of the same blob files  |
#           skopeo copy --override-arch arm64 oci:STORE:REF oci-archive:F
#   import: imagefs import --platform linux/arm64 FULL.tar  |  tar -xf FULL.tar  |
#           skopeo copy --override-arch arm64 oci-archive:FULL.tar oci:DIR:x
# and each one's peak RSS (GNU time %M). Prints a Markdown table; with BENCH_UPDATE=1 it also
# replaces the "## Core" section of BENCHMARKS.md.
set -euo pipefail

LAYER_MIB=${1:-32}
RUNS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
BIN=$ROOT/target/release/imagefs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/imagefs-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STORE=$WORK/store
REF=example.com/bench/image:latest

"$BIN" --store "$STORE" sample --name "$REF" --stored --layers 5 \
    --layer-size $((LAYER_MIB << 20)) --platform linux/amd64,linux/arm64,linux/arm/v7,linux/riscv64 >/dev/null
"$BIN" --store "$STORE" export "$REF" -o "$WORK/full.tar"
"$BIN" --store "$STORE" export "$REF" --platform linux/arm64 -o "$WORK/arm64.tar"
# The blob files an arm64 export carries, for GNU tar to archive the same bytes.
mapfile -t ARM64_BLOBS < <(tar -tf "$WORK/arm64.tar" | sed -n 's|^blobs/sha256/\(.\+\)$|\1|p')
STORE_BYTES=$(du -sb "$STORE/blobs" | cut -f1)
FULL_BYTES=$(stat -c %s "$WORK/full.tar")
ARM64_BYTES=$(stat -c %s "$WORK/arm64.tar")

# run NAME SETUP COMMAND: median wall seconds and max RSS KiB over $RUNS runs.
declare -A WALL RSS
run() {
    local name=$1 setup=$2 cmd=$3 times=() rss=0 out
    for _ in $(seq "$RUNS"); do
        eval "$setup"
        sync
        /usr/bin/time -o "$WORK/time" -f '%e %M' bash -c "$cmd" >/dev/null 2>"$WORK/stderr" \
            || { echo "benchmark step failed: $cmd" >&2; cat "$WORK/stderr" >&2; exit 1; }
        out=$(tail -1 "$WORK/time")
        times+=("${out% *}")
        (( ${out#* } > rss )) && rss=${out#* }
    done
    WALL[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    RSS[$name]=$rss
}

run export_imagefs "rm -f $WORK/e1.tar" "$BIN --store $STORE export $REF --platform linux/arm64 -o $WORK/e1.tar"
run export_tar "rm -f $WORK/e2.tar" "cd $STORE/blobs/sha256 && tar -cf $WORK/e2.tar ${ARM64_BLOBS[*]}"
run export_skopeo "rm -f $WORK/e3.tar" "skopeo copy -q --override-arch arm64 oci:$STORE:$REF oci-archive:$WORK/e3.tar"
run import_imagefs "rm -rf $WORK/s2" "$BIN --store $WORK/s2 import --platform linux/arm64 $WORK/full.tar"
run import_imagefs_pipe "rm -rf $WORK/s2" "cat $WORK/full.tar | $BIN --store $WORK/s2 import --platform linux/arm64 -"
run import_tar "rm -rf $WORK/x && mkdir $WORK/x" "tar -xf $WORK/full.tar -C $WORK/x"
run import_skopeo "rm -rf $WORK/s3" "skopeo copy -q --override-arch arm64 oci-archive:$WORK/full.tar oci:$WORK/s3:x"
cmp -s "$WORK/e1.tar" "$WORK/arm64.tar" || { echo "export output differs between runs" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
TABLE=$(cat <<EOF
Image: 4 platforms x 5 layers of ${LAYER_MIB} MiB (first layer shared), $(mib "$STORE_BYTES") MiB of blobs;
full archive $(mib "$FULL_BYTES") MiB, linux/arm64 archive $(mib "$ARM64_BYTES") MiB. Median of ${RUNS} runs, page cache warm,
$(nproc) cores, $(uname -r). Ratio = time / GNU tar's time in the same run.

| job | imagefs | GNU tar | skopeo | imagefs / tar | target |
|---|---|---|---|---|---|
| export linux/arm64 (s) | ${WALL[export_imagefs]} | ${WALL[export_tar]} (tar -cf of the same blobs) | ${WALL[export_skopeo]} | $(ratio "${WALL[export_imagefs]}" "${WALL[export_tar]}") | <= 1.5 |
| import linux/arm64 of the full archive (s) | ${WALL[import_imagefs]} | ${WALL[import_tar]} (tar -xf of the full archive) | ${WALL[import_skopeo]} | $(ratio "${WALL[import_imagefs]}" "${WALL[import_tar]}") | <= 1.3 |
| same, archive piped through stdin (one pass, no seeking) (s) | ${WALL[import_imagefs_pipe]} | ${WALL[import_tar]} | | $(ratio "${WALL[import_imagefs_pipe]}" "${WALL[import_tar]}") | |
| export peak RSS (MiB) | $(mib $((RSS[export_imagefs] * 1024))) | $(mib $((RSS[export_tar] * 1024))) | $(mib $((RSS[export_skopeo] * 1024))) | | < 32 |
| import peak RSS (MiB) | $(mib $((RSS[import_imagefs] * 1024))) | $(mib $((RSS[import_tar] * 1024))) | $(mib $((RSS[import_skopeo] * 1024))) | | < 32 |
EOF
)
echo "$TABLE"
if [[ ${BENCH_UPDATE:-0} == 1 ]]; then
    python3 - "$ROOT/BENCHMARKS.md" "$TABLE" "scripts/bench.sh $LAYER_MIB $RUNS" <<'PY'
import re, sys
path, table, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    text = open(path).read()
except FileNotFoundError:
    text = "# Benchmarks\n"
section = f"## Core: export and import\n\nCommand: `{cmd}`\n\n{table}\n"
if "## Core: export and import" in text:
    text = re.sub(r"## Core: export and import\n.*?(?=\n## |\Z)", section, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
fi
