#!/usr/bin/env bash
# Random access into gzip layers (src/rootfs/zran): index build time against `gzip -dc` of the
# same file (the ratio is what matters), the index's size, cold random 4 KiB reads, and a
# sequential read through one reader. Results go in BENCHMARKS.md.
#
# usage: scripts/bench-zran.sh [WORKDIR] [SPAN_BYTES…]   (default spans: 1 MiB and 4 MiB)
# The layer is a tar of /usr (real binaries and text) compressed with gzip -6, capped at 1 GiB.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/bench-zran}
shift || true
spans=("$@")
((${#spans[@]})) || spans=($((1 << 20)) $((4 << 20)))
mkdir -p "$work"

cargo build --release --example zran_bench -q
bench=target/release/examples/zran_bench

layer=$work/layer.tar.gz
if [[ ! -s $layer ]]; then
    # tar dies of SIGPIPE when head has its 1 GiB: expected, hence no pipefail here.
    (set +o pipefail; tar -C / -cf - usr 2>/dev/null | head -c $((1 << 30)) | gzip -6 >"$layer.tmp")
    mv "$layer.tmp" "$layer"
fi
echo "layer: $(stat -c %s "$layer") bytes compressed, $(gzip -dc "$layer" | wc -c) uncompressed"

best() { # best wall time of 3 runs of "$@", output discarded
    local best="" t
    for _ in 1 2 3; do
        /usr/bin/time -f %e -o "$work/time" "$@" >/dev/null
        t=$(tail -1 "$work/time")
        if [[ -z $best ]] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
    done
    echo "$best"
}
cat "$layer" >/dev/null # page-cache the layer for every run
gz=$(best gzip -dc "$layer")
echo "gzip -dc: ${gz} s (best of 3)"
for span in "${spans[@]}"; do
    echo "--- span $span (best build of 3 runs; reads from the last run)"
    build=""
    for _ in 1 2 3; do
        out=$("$bench" "$layer" "$span" 200)
        b=$(awk '/^build_seconds/{print $2}' <<<"$out")
        if [[ -z $build ]] || awk "BEGIN{exit !($b < $build)}"; then build=$b; fi
    done
    echo "$out" | grep -v '^build_seconds'
    echo "build_seconds $build"
    awk -v b="$build" -v g="$gz" 'BEGIN{printf "build / gzip -dc = %.2f\n", b / g}'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
