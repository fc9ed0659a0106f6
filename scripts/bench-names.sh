#!/usr/bin/env bash
# How import time grows with the number of names one archive adds (it must stay linear: the
# name table is updated under the index lock). Builds two docker-archives of N RepoTags each
# (two different tiny images), imports the first into a fresh store (adds N names), then the
# second (moves every name, each into the name history), with the release binary; prints seconds
# for each and the ratio of each time to the smallest N's: linear growth gives a ratio close to
# N / N_smallest.
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
    for variant, cfg in (("add", config), ("move", config.replace(b'"os"', b'"author":"b","os"'))):
        with tarfile.open(f"{work}/{variant}-{n}.tar", "w", format=tarfile.USTAR_FORMAT) as t:
            add(t, "config.json", cfg)
            add(t, "layer.tar", layer.getvalue())
            add(t, "manifest.json", manifest.encode())
PY
first_add= first_move=
timed() { local start end; start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N); echo "$end - $start" | bc -l; }
printf '%8s  %9s  %7s  %9s  %7s  %s\n' names add ratio move ratio "index.json / history.json"
for n in "${counts[@]}"; do
    store=$work/store-$n
    add=$(timed "$bin" -q --store "$store" import "$work/add-$n.tar")
    move=$(timed "$bin" -q --store "$store" import "$work/move-$n.tar")
    first_add=${first_add:-$add} first_move=${first_move:-$move}
    printf '%8d  %9.2f  %7.1f  %9.2f  %7.1f  %s / %s\n' "$n" "$add" "$(echo "$add / $first_add" | bc -l)" \
        "$move" "$(echo "$move / $first_move" | bc -l)" \
        "$(du -h "$store/index.json" | cut -f1)" "$(du -h "$store/history.json" | cut -f1)"
    rm -rf "$store"
done
