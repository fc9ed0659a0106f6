#!/usr/bin/env bash
# How import time grows with the number of names one archive adds (issue 7: "quadratic names
# under the lock"). Builds docker-archives of one tiny image with N RepoTags each, imports each
# into a fresh store with the release binary, and prints seconds per import and the ratio of
# each time to the smallest one's: linear growth gives a ratio close to N / N_smallest.
#   scripts/bench-names.sh [N...]        (default: 10000 30000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
bin=$PWD/target/release/imagefs
counts=("${@:-10000 30000 100000}")
read -r -a counts <<<"${counts[*]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "${counts[@]}" <<'PY'
import io, json, sys, tarfile
work, counts = sys.argv[1], [int(c) for c in sys.argv[2:]]
def add(t, name, data):
    info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as t:
    add(t, "hello", b"hello\n")
config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
for n in counts:
    tags = [f"example.com/many/n{i % 97}:t{i}" for i in range(n)]
    manifest = json.dumps([{"Config": "config.json", "RepoTags": tags, "Layers": ["layer.tar"]}])
    with tarfile.open(f"{work}/names-{n}.tar", "w", format=tarfile.USTAR_FORMAT) as t:
        add(t, "config.json", config)
        add(t, "layer.tar", layer.getvalue())
        add(t, "manifest.json", manifest.encode())
PY
first=
printf '%8s  %9s  %7s  %s\n' names seconds ratio "index.json"
for n in "${counts[@]}"; do
    store=$work/store-$n
    start=$(date +%s.%N)
    "$bin" -q --store "$store" import "$work/names-$n.tar" >/dev/null
    end=$(date +%s.%N)
    secs=$(echo "$end - $start" | bc -l)
    first=${first:-$secs}
    printf '%8d  %9.2f  %7.1f  %s\n' "$n" "$secs" "$(echo "$secs / $first" | bc -l)" \
        "$(du -h "$store/index.json" | cut -f1)"
    rm -rf "$store"
done
