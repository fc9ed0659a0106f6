#!/usr/bin/env bash
# Build a real multi-layer OCI image layout from Debian 12 packages, reproducibly: real binaries,
# modes, symlinks and hard links, as a Dockerfile of `apt-get install` steps would leave them,
# plus the layer-spec features a merged root filesystem must honour (whiteouts, an opaque
# directory, a file replaced by a newer version).
#
# usage: scripts/deb-image.sh OUTDIR [small|large]     (default: small)
#   small: 3 layers, about 10 MiB of gzip layers (a test image)
#   large: 7 layers, over 400 MiB of gzip layers (a benchmark image); its first 3 layers are
#          the small image's
# Once the .debs are cached: small about 10 s, large about 2 min on 2 cores (1 min with pigz).
# Writes the OCI layout OUTDIR/ (tag "1", io.containerd.image.name example.com/deb/SIZE:1) and
# OUTDIR.tar (the layout as a tar, for `imagefs import`).
# Env: DEB_IMAGE_CACHE   where the .debs are kept between runs
#                        (default ${XDG_CACHE_HOME:-~/.cache}/imagefs-deb-image)
#      DEB_IMAGE_PIGZ=1  compress with pigz -n (faster; other bytes, so other digests, than gzip)
#      SOURCE_DATE_EPOCH newer mtimes are clamped to it, and it dates the config and the files
#                        this script makes (default 1795000000, 2026-11-18)
#      TZDATA_OLD, TZDATA_NEW  the two tzdata versions (the upgrade layer replaces files of the old)
# Needs: apt-get, dpkg-deb, GNU tar, gzip, jq, sha256sum; root (to keep the packages' owners).
set -euo pipefail

out=${1:?usage: deb-image.sh OUTDIR [small|large]}
size=${2:-small}
[[ $size == small || $size == large ]] || { echo "deb-image: size must be small or large" >&2; exit 2; }
[[ $(dpkg --print-architecture) == amd64 ]] || { echo "deb-image: needs an amd64 Debian (the config says amd64)" >&2; exit 1; }
out=$(realpath -m "$out")
cache=${DEB_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/imagefs-deb-image}
epoch=${SOURCE_DATE_EPOCH:-1795000000}
# Pinned because the upgrade layer needs two versions of one package. Debian's mirror keeps a
# few versions of tzdata and drops old ones as updates come: when a pinned one is neither
# cached nor listed by `apt-cache madison tzdata` (and none was set), the oldest and newest
# listed are used instead, so that an update does not break the build (the digests change).
tz_old=${TZDATA_OLD:-2025b-0+deb12u1}
tz_new=${TZDATA_NEW:-2026f-0+deb12u1}
if [[ -z ${TZDATA_OLD:-}${TZDATA_NEW:-} ]]; then
    mapfile -t tz_listed < <(apt-cache madison tzdata 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -uV)
    tz_available() {
        compgen -G "$cache/tzdata_${1//:/%3a}_*.deb" >/dev/null ||
            printf '%s\n' "${tz_listed[@]}" | grep -qxF -- "$1"
    }
    if { ! tz_available "$tz_old" || ! tz_available "$tz_new"; } && ((${#tz_listed[@]} >= 2)); then
        tz_old=${tz_listed[0]} tz_new=${tz_listed[-1]}
        echo "deb-image: tzdata $tz_old and $tz_new (the pinned versions are gone)" >&2
    fi
fi

# Layers: "description|package ...". The packages are unpinned (the candidate version) except
# tzdata; the .deb cache keeps a re-run byte-identical, and the config's history names each
# package's exact version.
layers=(
    "base|base-files libc6 busybox-static perl-base mount passwd tzdata=$tz_old"
    "python|python3.11-minimal libpython3.11-stdlib libpython3.11-minimal libexpat1 zlib1g libssl3 media-types"
    "upgrade|tzdata=$tz_new"
)
if [[ $size == large ]]; then
    layers+=(
        "toolchain|gcc-12 cpp-12 g++-12 libgcc-12-dev libstdc++-12-dev binutils-x86-64-linux-gnu libisl23 libmpfr6 libmpc3 libicu72"
        "llvm|libllvm14 libllvm15 llvm-14 llvm-14-dev libclang-cpp14 libclang-common-14-dev libz3-4 libclang1-14"
        "java|openjdk-17-jre-headless ca-certificates-java"
        "fonts-tex|fonts-noto-cjk texlive-base texlive-latex-base"
    )
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/deb-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

deb_file() { # SPEC (pkg or pkg=version) -> path of its .deb in the cache, downloading it once
    local pkg=${1%%=*} ver="" f
    [[ $1 == *=* ]] && ver=${1#*=}
    # apt-get download names files pkg_version_arch.deb with the epoch's colon as %3a.
    if [[ -n $ver ]]; then
        f=$(compgen -G "$cache/${pkg}_${ver//:/%3a}_*.deb" | head -1 || true)
    else
        f=$(compgen -G "$cache/${pkg}_*.deb" | sort -V | tail -1 || true)
    fi
    if [[ -z $f ]]; then
        (cd "$cache" && { apt-get download -q "$1" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null && apt-get download -q "$1" >/dev/null; }; }) ||
            { echo "deb-image: cannot download $1" >&2; return 1; }
        deb_file "$1"
        return
    fi
    echo "$f"
}

# A deterministic tar of a staged tree: names sorted, numeric owners, mtimes clamped, no "./"
# prefix (what docker and buildkit write). Owners, modes, symlinks and hard links are the
# packages'.
det_tar() { # STAGE_DIR OUTPUT_TAR
    (cd "$1" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
        tar --sort=name --format=posix \
            --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
            --mtime=@"$epoch" --clamp-mtime --numeric-owner -cf "$2" -T -)
}
compress() { # IN OUT
    if [[ ${DEB_IMAGE_PIGZ:-} == 1 ]]; then pigz -n -6 -c "$1" >"$2"; else gzip -n -6 -c "$1" >"$2"; fi
}

rm -rf "$out" "$out.tar"
mkdir -p "$out/blobs/sha256"
blob() { # FILE MEDIATYPE -> descriptor JSON on stdout; the file moves into the blobs
    local d s
    d=$(sha256sum "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$out/blobs/sha256/$d"
    jq -cn --arg m "$2" --arg d "sha256:$d" --argjson s "$s" '{mediaType: $m, digest: $d, size: $s}'
}

diff_ids=() descs=() history=()
n=0
for spec in "${layers[@]}"; do
    n=$((n + 1))
    what=${spec%%|*}
    stage=$work/stage
    rm -rf "$stage" && mkdir -p "$stage"
    versions=()
    for p in ${spec#*|}; do
        deb=$(deb_file "$p")
        # The package's numeric owners (passwd's setgid tools are group shadow, 42), modes
        # (setuid mount) and hard links (perl-base) come through to the layer.
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$stage" --same-owner --same-permissions --numeric-owner
        versions+=("$(dpkg-deb -f "$deb" Package)=$(dpkg-deb -f "$deb" Version)")
    done
    if [[ $what == upgrade ]]; then
        # As `RUN apt-get install tzdata && rm -rf …/right …/leap-seconds.list && rm -rf
        # /usr/share/doc/tzdata && cp -r …` would leave it: the new tzdata replaces the old
        # files, one directory and one file of the base layer are whited out, and the doc
        # directory is recreated opaque (the old changelogs hidden, a new file inside).
        z=$stage/usr/share/zoneinfo
        [[ -d $z/right && -f $z/leap-seconds.list ]] || { echo "deb-image: tzdata $tz_new lacks right/ or leap-seconds.list" >&2; exit 1; }
        rm -rf "$z/right" "$z/leap-seconds.list"
        : >"$z/.wh.right"
        : >"$z/.wh.leap-seconds.list"
        d=$stage/usr/share/doc/tzdata
        rm -rf "$d" && mkdir -p "$d"
        printf 'tzdata %s replaced %s in this layer\n' "$tz_new" "$tz_old" >"$d/UPGRADED"
        : >"$d/.wh..wh..opq"
        chmod 0644 "$z/.wh.right" "$z/.wh.leap-seconds.list" "$d/UPGRADED" "$d/.wh..wh..opq"
        touch -d @"$epoch" "$z/.wh.right" "$z/.wh.leap-seconds.list" "$d/UPGRADED" "$d/.wh..wh..opq" "$d"
    fi
    det_tar "$stage" "$work/layer.tar"
    diff_ids+=("sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)")
    compress "$work/layer.tar" "$work/layer.tar.gz"
    rm -f "$work/layer.tar"
    descs+=("$(blob "$work/layer.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)")
    history+=("$(jq -cn --arg c "apt-get install ${versions[*]} # layer $n: $what" \
        --arg t "$(date -u -d @"$epoch" +%Y-%m-%dT%H:%M:%SZ)" '{created: $t, created_by: $c}')")
    printf 'layer %d (%s): %s bytes gzip\n' "$n" "$what" "$(jq -r .size <<<"${descs[-1]}")"
done
rm -rf "$work/stage"

created=$(date -u -d @"$epoch" +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' "${diff_ids[@]}" | jq -R . | jq -sc --arg t "$created" --slurpfile h <(printf '%s\n' "${history[@]}") '{
    created: $t, architecture: "amd64", os: "linux",
    config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
             Cmd: ["/bin/busybox", "sh"]},
    rootfs: {type: "layers", diff_ids: .},
    history: $h}' >"$work/config.json"
config=$(blob "$work/config.json" application/vnd.oci.image.config.v1+json)
printf '%s\n' "${descs[@]}" | jq -sc --argjson c "$config" '{schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json", config: $c, layers: .}' >"$work/manifest.json"
manifest=$(blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
jq -c --arg n "example.com/deb/$size:1" '. + {platform: {architecture: "amd64", os: "linux"},
    annotations: {"io.containerd.image.name": $n, "org.opencontainers.image.ref.name": "1"}}' \
    <<<"$manifest" | jq -c '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: [.]}' >"$out/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"

# The layout as one tar (what `imagefs import` and `skopeo copy oci-archive:` read).
tar -C "$out" --sort=name --mtime=@"$epoch" --owner=0 --group=0 --numeric-owner \
    -cf "$out.tar" oci-layout index.json blobs
total=$(printf '%s\n' "${descs[@]}" | jq -s 'map(.size) | add')
echo "$out: example.com/deb/$size:1 (tag 1), ${#descs[@]} layers, $((total >> 20)) MiB gzip; $out.tar"
