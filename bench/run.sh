#!/usr/bin/env bash
# Ferry benchmark: Ferry (NativeAOT build) against skopeo on the same generated inputs, in one run.
#
#   bench/run.sh                      # all sizes, 3 runs per row and tool
#   BENCH_SIZES="small medium" BENCH_RUNS=5 bench/run.sh
#
# Inputs are built from files on this machine plus deterministic pseudo-random data (no network):
#   small  ~2 MB, 1 layer       medium ~200 MB, 1 layer
#   big    ~1.8 GB, 7 layers, one of them ~300 MB incompressible        many   50 small layers
# each as a docker-archive and as a gzip oci-archive (made by skopeo). Ferry and skopeo alternate, each row is
# timed with /usr/bin/time -v, and the table (median wall time, user+sys CPU, peak RSS, output size, ratio
# Ferry/skopeo) is printed and written to bench/RESULTS.md. Needs: skopeo, GNU time, clang (for NativeAOT), jq.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$(pwd -P)
WORK=${BENCH_WORK:-$REPO/bench/work}
RUNS=${BENCH_RUNS:-3}
SIZES=${BENCH_SIZES:-small medium big many}
mkdir -p "$WORK/in" "$WORK/out"

for c in skopeo jq sha256sum /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "bench: $c is required (apt-get install skopeo jq time)" >&2; exit 1; }
done

# ------------------------------------------------------------------ Ferry, published as NativeAOT
FERRY=$WORK/ferry-aot/ferry
if [ ! -x "$FERRY" ] || [ -n "$(find src -newer "$FERRY" -name '*.cs' | head -1)" ]; then
  echo "bench: publishing Ferry (NativeAOT)"
  linker=()
  command -v clang >/dev/null || linker=(-p:CppCompilerAndLinker=gcc)
  dotnet publish src/Ferry.Cli -c Release -r linux-x64 -p:PublishAot=true "${linker[@]}" -o "$WORK/ferry-aot" >/dev/null
fi

# ------------------------------------------------------------------ inputs
# A deterministic tar of system files under DIR, about MB megabytes (files sorted by name).
files_tar() { # out dir mb
  local out=$1 dir=$2 mb=$3
  { find "$dir" -xdev -type f -size -64M -readable -printf '%p\t%s\n' 2>/dev/null || true; } | LC_ALL=C sort \
    | awk -F'\t' -v max=$((mb * 1024 * 1024)) '{ t += $2; if (t > max) exit; print $1 }' > "$out.list" || true
  tar --create --file "$out" --files-from "$out.list" --hard-dereference --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner 2>/dev/null || true
  rm -f "$out.list"
}

# A tar holding one file of MB megabytes of deterministic pseudo-random (incompressible) bytes.
random_tar() { # out bytes seed
  local out=$1 bytes=$2 seed=$3 d
  d=$(mktemp -d)
  { openssl enc -aes-128-ctr -nosalt -pass "pass:$seed" -pbkdf2 -in /dev/zero 2>/dev/null || true; } | head -c "$bytes" > "$d/random.bin"
  tar --create --file "$out" -C "$d" random.bin --mtime=@0 --owner=0 --group=0 --numeric-owner
  rm -rf "$d"
}

# Assembles a docker-archive (docker 20.10 layout) from layer tars.
docker_archive() { # out name:tag layer...
  local out=$1 name=$2; shift 2
  local d diffs=() paths=() l h
  d=$(mktemp -d)
  for l in "$@"; do
    h=$(sha256sum "$l" | cut -d' ' -f1)
    mkdir -p "$d/$h"; ln "$l" "$d/$h/layer.tar" 2>/dev/null || cp "$l" "$d/$h/layer.tar"
    diffs+=("\"sha256:$h\""); paths+=("\"$h/layer.tar\"")
  done
  local IFS=,
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"]},"created":"2024-01-01T00:00:00Z","rootfs":{"type":"layers","diff_ids":[%s]}}' "${diffs[*]}" > "$d/config.json"
  local c; c=$(sha256sum "$d/config.json" | cut -d' ' -f1); mv "$d/config.json" "$d/$c.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$c" "$name" "${paths[*]}" > "$d/manifest.json"
  (cd "$d" && tar --create --file "$out" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner .)
  rm -rf "$d"
}

build_input() { # size
  local s=$1 in=$WORK/in
  [ -f "$in/$s.docker.tar" ] && [ -f "$in/$s.oci.tar" ] && return
  echo "bench: building input '$s'"
  local L=$WORK/in/layers-$s; rm -rf "$L"; mkdir -p "$L"
  case $s in
    small)  files_tar "$L/1.tar" /usr/share/doc 2 ;;
    medium) files_tar "$L/1.tar" /usr/lib/x86_64-linux-gnu 200 ;;
    big)    files_tar "$L/1.tar" /usr/lib/x86_64-linux-gnu 300
            files_tar "$L/2.tar" /usr/share 300
            random_tar "$L/3.tar" $((300 * 1024 * 1024)) ferry-bench
            files_tar "$L/4.tar" /usr/bin 250
            files_tar "$L/5.tar" /usr/lib/python3 200
            files_tar "$L/6.tar" /usr/libexec 200
            files_tar "$L/7.tar" /opt 250 ;;
    many)   for i in $(seq 1 50); do random_tar "$L/$i.tar" $((32768 + i * 1024)) "many-$i"; done ;;
  esac
  # shellcheck disable=SC2046
  docker_archive "$in/$s.docker.tar" "bench/$s:1" $(ls "$L"/*.tar | LC_ALL=C sort -V)
  rm -f "$in/$s.oci.tar"
  skopeo copy -q "docker-archive:$in/$s.docker.tar" "oci-archive:$in/$s.oci.tar:bench/$s:1"
  rm -rf "$L"
}

# ------------------------------------------------------------------ timing
# Runs a command under GNU time; prints "wall cpu rss_kib".
measure() {
  local log; log=$(mktemp)
  sync
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || { echo "bench: FAILED: $*" >&2; tail -5 "$log" >&2; rm -f "$log"; return 1; }
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
    /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
    END { printf "%.3f %.3f %d\n", w, u + s, r }' "$log"
  rm -f "$log"
}

median() { LC_ALL=C sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

size_of() { if [ -d "$1" ]; then du -sb "$1" | cut -f1; elif [ -e "$1" ]; then stat -c %s "$1"; else echo 0; fi; }

ROWS=()
# row <label> <size> <ferry out> <skopeo out> -- <ferry args...> -- <skopeo args...>
row() {
  local label=$1 s=$2 fout=$3 sout=$4; shift 4
  [ "$1" = -- ] && shift
  local fargs=() sargs=()
  while [ "$1" != -- ]; do fargs+=("$1"); shift; done; shift
  sargs=("$@")
  local fw=() fc=() fr=() sw=() sc=() sr=() i m
  for i in $(seq 1 "$RUNS"); do
    rm -rf "$fout" "$sout"
    local fa=("${fargs[@]//\{N\}/$i}") sa=("${sargs[@]//\{N\}/$i}")
    m=$(measure "$FERRY" "${fa[@]}"); read -r a b c <<<"$m"; fw+=("$a"); fc+=("$b"); fr+=("$c")
    local fsize; fsize=$(size_of "$fout")
    rm -rf "$fout"
    if [ "${sa[0]}" = --fresh-cache ]; then
      # skopeo remembers in a persistent blob-info cache where blobs were pushed before and mounts them from there;
      # without it a repeated push would measure mounts, not uploads. Ferry keeps no such cache.
      m=$(measure sh -c 'rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb "$HOME/.local/share/containers/cache/blob-info-cache-v1.boltdb"; exec skopeo "$@"' sh "${sa[@]:1}")
    else
      m=$(measure skopeo "${sa[@]}")
    fi
    read -r a b c <<<"$m"; sw+=("$a"); sc+=("$b"); sr+=("$c")
    local ssize; ssize=$(size_of "$sout")
    rm -rf "$sout"
  done
  local FW FC FR SW SC SR
  FW=$(printf '%s\n' "${fw[@]}" | median); FC=$(printf '%s\n' "${fc[@]}" | median); FR=$(printf '%s\n' "${fr[@]}" | median)
  SW=$(printf '%s\n' "${sw[@]}" | median); SC=$(printf '%s\n' "${sc[@]}" | median); SR=$(printf '%s\n' "${sr[@]}" | median)
  local line
  line=$(awk -v l="$label" -v s="$s" -v fw="$FW" -v fc="$FC" -v fr="$FR" -v sw="$SW" -v sc="$SC" -v sr="$SR" -v fo="$fsize" -v so="$ssize" 'BEGIN {
    printf "| %s | %s | %.2f | %.2f | **%.2f** | %.2f | %.2f | %.1f | %.1f | %s | %s |", l, s, fw, sw, (sw > 0 ? fw / sw : 0), fc, sc, fr / 1024, sr / 1024,
      (fo > 0 ? sprintf("%.1f", fo / 1048576) : "-"), (so > 0 ? sprintf("%.1f", so / 1048576) : "-") }')
  echo "$line"
  ROWS+=("$line")
}

for s in $SIZES; do build_input "$s"; done
[ "${BENCH_BUILD_ONLY:-0}" = 1 ] && { echo "bench: inputs built in $WORK/in"; exit 0; }

HEADER="| row | input | Ferry s | skopeo s | Ferry/skopeo | Ferry CPU s | skopeo CPU s | Ferry RSS MiB | skopeo RSS MiB | Ferry out MiB | skopeo out MiB |
|---|---|---|---|---|---|---|---|---|---|---|"
echo "$HEADER"
O=$WORK/out
for s in $SIZES; do
  [ "${BENCH_ROWS:-all}" = registry ] && break
  D=$WORK/in/$s.docker.tar; OCI=$WORK/in/$s.oci.tar
  row "docker-archive → portable (layers kept)" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" -- copy -q --dest-oci-accept-uncompressed-layers "docker-archive:$D" "oci-archive:$O/s.tar"
  row "docker-archive → oci-archive (layers kept)" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" --format oci-archive -- copy -q --dest-oci-accept-uncompressed-layers "docker-archive:$D" "oci-archive:$O/s.tar"
  row "docker-archive → oci-archive gzip" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" --format oci-archive --compress gzip -- copy -q "docker-archive:$D" "oci-archive:$O/s.tar"
  row "oci-archive gzip → docker-archive" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$OCI" "$O/f.tar" --format docker-archive -- copy -q "oci-archive:$OCI" "docker-archive:$O/s.tar"
  row "oci-archive gzip → docker-archive, uncompressed (--compress none)" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$OCI" "$O/f.tar" --format docker-archive --compress none -- copy -q "oci-archive:$OCI" "docker-archive:$O/s.tar"
  row "inspect docker-archive" "$s" "$O/none" "$O/none" -- inspect --json "$D" -- inspect "docker-archive:$D"
  row "inspect oci-archive" "$s" "$O/none" "$O/none" -- inspect --json "$OCI" -- inspect "oci-archive:$OCI"
  row "verify docker-archive (skopeo: copy to dir:)" "$s" "$O/none" "$O/s.dir" -- verify "$D" -- copy -q "docker-archive:$D" "dir:$O/s.dir"
done

# ------------------------------------------------------------------ registry rows (issue 6)
if command -v docker-registry >/dev/null && [ "${BENCH_REGISTRY:-1}" = 1 ]; then
  REG_DIR=$(mktemp -d)
  REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 5123)
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' "$REG_DIR" "$REG_PORT" > "$REG_DIR/config.yml"
  docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 &
  REG_PID=$!
  trap 'kill $REG_PID 2>/dev/null; rm -rf "$REG_DIR"' EXIT
  sleep 1
  R=127.0.0.1:$REG_PORT
  for s in $SIZES; do
    OCI=$WORK/in/$s.oci.tar
    # Each run pushes to a fresh repository ({N} is the run number), so every blob is really uploaded.
    row "push oci-archive gzip to a local registry" "$s" "$O/none" "$O/none" -- push "$OCI" "$R/ferry-$s-{N}" -- --fresh-cache copy -q --dest-tls-verify=false "oci-archive:$OCI" "docker://$R/skopeo-$s-{N}/bench:1"
    "$FERRY" push "$OCI" "$R/pull" >/dev/null
    row "pull from a local registry → oci-archive" "$s" "$O/f.tar" "$O/s.tar" -- pull "$R/pull/bench/$s:1" -o "$O/f.tar" --format oci-archive --progress none -- copy -q --src-tls-verify=false "docker://$R/pull/bench/$s:1" "oci-archive:$O/s.tar"
  done
fi

{
  echo "# Benchmark results"
  echo
  echo "Made by \`bench/run.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM,"
  echo "$(. /etc/os-release; echo "$PRETTY_NAME"), $(skopeo --version), Ferry NativeAOT ($(dotnet --version) SDK)."
  echo "Median of $RUNS runs per cell, Ferry and skopeo alternating; wall and CPU (user+sys) seconds and peak RSS from"
  echo "\`/usr/bin/time -v\`. Inputs: see the top of bench/run.sh. Ratios below 1 mean Ferry is faster."
  echo
  echo "$HEADER"
  printf '%s\n' "${ROWS[@]}"
} > "$REPO/bench/RESULTS.md.new"
mv "$REPO/bench/RESULTS.md.new" "$REPO/bench/RESULTS.md"
echo "bench: wrote bench/RESULTS.md"
