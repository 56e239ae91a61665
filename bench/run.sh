#!/usr/bin/env bash
# Ferry benchmark: Ferry (NativeAOT build) against skopeo on the same generated inputs, in one run.
#
#   bench/run.sh                      # all sizes, 3 runs per row and tool
#   BENCH_SIZES="small medium" BENCH_RUNS=5 bench/run.sh
#   BENCH_ROWS=main bench/run.sh      # only the archive rows (copy, convert, inspect, verify) of each size
#   BENCH_ROWS=registry bench/run.sh  # only the push/pull rows against a local docker-registry (issue 6)
#   BENCH_ROWS=serve bench/run.sh     # only the `ferry serve` rows (issue 12), see "ferry serve rows" below
#   BENCH_ROWS=serve-load bench/run.sh  # ferry serve under load (issue 21): six parallel pulls of 1 GiB, 1,000 idle
#                                     # connections, 300 slow readers: its peak RSS and a normal request's latency
#   BENCH_ROWS=incremental bench/run.sh  # only the incremental-archive rows (issue 12), see "incremental rows" below
#   BENCH_ROWS=scale bench/run.sh     # only the scale rows (issue 13): a 10 GiB, 100-layer image; 100 and 1,000 images
#   BENCH_ROWS=transfer bench/run.sh  # only the transfer rows (issue 27): pull, push, registry → registry copy and
#                                     # --compress none against crane and skopeo 1.9/1.18 (peers from bench/peers.sh)
#   BENCH_FERRY=/path/to/ferry ...    # measure this Ferry binary instead of publishing one
#
# Inputs are built from files on this machine plus deterministic pseudo-random data (no network):
#   small  ~2 MB, 1 layer       medium ~200 MB, 1 layer
#   big    ~1.8 GB, 7 layers, one of them ~300 MB incompressible        many   50 small layers
# each as a docker-archive and as a gzip oci-archive (made by skopeo). Ferry and skopeo alternate, each row is
# timed with /usr/bin/time -v, and the table (median wall time, user+sys CPU, peak RSS, output size, ratio
# Ferry/skopeo) is printed and written to bench/RESULTS.md. Needs: skopeo, GNU time, clang (for NativeAOT), jq; the
# registry and serve rows also docker-registry (Debian's distribution 2.8) and curl.
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
FERRY=${BENCH_FERRY:-$WORK/ferry-aot/ferry}
if [ -n "${BENCH_FERRY:-}" ]; then
  [ -x "$FERRY" ] || { echo "bench: BENCH_FERRY=$FERRY is not executable" >&2; exit 1; }
elif [ ! -x "$FERRY" ] || [ -n "$(find src -newer "$FERRY" -name '*.cs' | head -1)" ]; then
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
case ${BENCH_ROWS:-all} in serve|incremental|scale|transfer) ;; *) echo "$HEADER" ;; esac
O=$WORK/out
for s in $SIZES; do
  case ${BENCH_ROWS:-all} in registry|serve|incremental|scale|transfer) break ;; esac
  D=$WORK/in/$s.docker.tar; OCI=$WORK/in/$s.oci.tar
  row "docker-archive → portable (layers kept)" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" -- copy -q --dest-oci-accept-uncompressed-layers "docker-archive:$D" "oci-archive:$O/s.tar"
  row "docker-archive → oci-archive (layers kept)" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" --format oci-archive -- copy -q --dest-oci-accept-uncompressed-layers "docker-archive:$D" "oci-archive:$O/s.tar"
  row "docker-archive → oci-archive gzip" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" --format oci-archive --compress gzip -- copy -q "docker-archive:$D" "oci-archive:$O/s.tar"
  # The row above uses --gzip-codec auto: ISA-L when libisal.so.2 is installed. These say what the other codecs give.
  row "docker-archive → oci-archive gzip, --gzip-codec zlib-ng (in-box)" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" --format oci-archive --compress gzip --gzip-codec zlib-ng -- copy -q "docker-archive:$D" "oci-archive:$O/s.tar"
  if ldconfig -p | grep -q 'libisal\.so\.2'; then
    row "docker-archive → oci-archive gzip, --gzip-codec isal --compress-level 3" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" --format oci-archive --compress gzip --gzip-codec isal --compress-level 3 -- copy -q "docker-archive:$D" "oci-archive:$O/s.tar"
  fi
  if ldconfig -p | grep -q 'libdeflate\.so\.0'; then
    row "docker-archive → oci-archive gzip, --gzip-codec libdeflate" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$D" "$O/f.tar" --format oci-archive --compress gzip --gzip-codec libdeflate -- copy -q "docker-archive:$D" "oci-archive:$O/s.tar"
  fi
  row "oci-archive gzip → docker-archive" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$OCI" "$O/f.tar" --format docker-archive -- copy -q "oci-archive:$OCI" "docker-archive:$O/s.tar"
  row "oci-archive gzip → docker-archive, uncompressed (--compress none)" "$s" "$O/f.tar" "$O/s.tar" -- copy -q "$OCI" "$O/f.tar" --format docker-archive --compress none -- copy -q "oci-archive:$OCI" "docker-archive:$O/s.tar"
  row "inspect docker-archive" "$s" "$O/none" "$O/none" -- inspect --json "$D" -- inspect "docker-archive:$D"
  row "inspect oci-archive" "$s" "$O/none" "$O/none" -- inspect --json "$OCI" -- inspect "oci-archive:$OCI"
  row "verify docker-archive (skopeo: copy to dir:)" "$s" "$O/none" "$O/s.dir" -- verify "$D" -- copy -q "docker-archive:$D" "dir:$O/s.dir"
done

# ------------------------------------------------------------------ registry rows (issue 6)
if command -v docker-registry >/dev/null && [ "${BENCH_REGISTRY:-1}" = 1 ] && { [ "${BENCH_ROWS:-all}" = all ] || [ "${BENCH_ROWS:-all}" = registry ]; }; then
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
    "$FERRY" push -q "$OCI" "$R/pull" >/dev/null
    row "pull from a local registry → oci-archive" "$s" "$O/f.tar" "$O/s.tar" -- pull "$R/pull/bench/$s:1" -o "$O/f.tar" --format oci-archive --progress none -- copy -q --src-tls-verify=false "docker://$R/pull/bench/$s:1" "oci-archive:$O/s.tar"
  done
fi

# A row of Ferry alone (no skopeo equivalent): prints it and leaves it in LAST_ROW.
ferry_row() { # label input out -- ferry args
  local label=$1 input=$2 out=$3; shift 4
  local w=() c=() r=() i m a b cc
  for i in $(seq 1 "$RUNS"); do
    rm -rf "$out"
    m=$(measure "$FERRY" "$@"); read -r a b cc <<<"$m"; w+=("$a"); c+=("$b"); r+=("$cc")
  done
  local W C R
  W=$(printf '%s\n' "${w[@]}" | median); C=$(printf '%s\n' "${c[@]}" | median); R=$(printf '%s\n' "${r[@]}" | median)
  LAST_ROW=$(awk -v l="$label" -v s="$input" -v w="$W" -v c="$C" -v r="$R" -v o="$(size_of "$out")" 'BEGIN {
    printf "| %s | %s | %.2f | - | - | %.2f | - | %.1f | - | %s | - |", l, s, w, c, r / 1024, (o > 0 ? sprintf("%.2f", o / 1048576) : "-") }')
  echo "$LAST_ROW"
}

# ------------------------------------------------------------------ incremental rows (issue 12)
# A weekly delta: week 1 is the big image; week 2 is the same image with one 5 MiB layer added on top (a python
# rewrite of the docker-archive: the layer tar appended, the config's diff_ids and history extended, as `docker build`
# with one COPY makes it). Rows: week 1 full with --record, week 2 full, week 2 --since the record (layers kept, as a
# pull keeps them), and the far side's --base reconstitution, checked byte for byte against week 2 full. No skopeo
# equivalent exists (skopeo has no deltas): the skopeo columns are empty. With BENCH_ROWS=incremental only these run.
IROWS=()
if [ "${BENCH_ROWS:-all}" = all ] || [ "${BENCH_ROWS:-all}" = incremental ]; then
  IT=$WORK/inc; rm -rf "$IT"; mkdir -p "$IT"
  V1=$WORK/in/big.docker.tar
  [ -f "$V1" ] || build_input big
  head -c $((5 * 1024 * 1024)) /dev/urandom > "$IT/app.bin"
  python3 - "$V1" "$IT/v2.docker.tar" "$IT/app.bin" <<'PY'
import hashlib, io, json, sys, tarfile
src, dst, payload = sys.argv[1:4]
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.USTAR_FORMAT) as t:
    info = t.gettarinfo(payload, arcname="opt/app.bin"); info.mtime = 0; info.uid = info.gid = 0; info.uname = info.gname = ""
    with open(payload, "rb") as f: t.addfile(info, f)
layer_bytes = layer.getvalue(); layer_id = hashlib.sha256(layer_bytes).hexdigest()
with tarfile.open(src) as s, tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as d:
    byname = {m.name[2:] if m.name.startswith("./") else m.name: m for m in s.getmembers()}
    manifest = json.load(s.extractfile(byname["manifest.json"]))
    cfg_name = manifest[0]["Config"]; cfg = json.load(s.extractfile(byname[cfg_name]))
    cfg["rootfs"]["diff_ids"].append("sha256:" + layer_id)
    cfg.setdefault("history", []).append({"created": "2026-12-01T00:00:00Z", "created_by": "COPY app.bin /opt/app.bin"})
    cfg_bytes = json.dumps(cfg, separators=(",", ":")).encode(); cfg_id = hashlib.sha256(cfg_bytes).hexdigest()
    for m in s.getmembers():
        if (m.name[2:] if m.name.startswith("./") else m.name) in ("manifest.json", "repositories", cfg_name): continue
        d.addfile(m, s.extractfile(m) if m.isfile() else None)
    def add(name, data):
        i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 0; d.addfile(i, io.BytesIO(data))
    add(layer_id + "/layer.tar", layer_bytes); add(cfg_id + ".json", cfg_bytes)
    manifest = [{"Config": cfg_id + ".json", "RepoTags": ["bench/big:2"], "Layers": manifest[0]["Layers"] + [layer_id + "/layer.tar"]}]
    add("manifest.json", json.dumps(manifest).encode())
PY
  inc_row() { ferry_row "$1" big "$2" -- "${@:4}"; IROWS+=("$LAST_ROW"); } # label out -- ferry args
  inc_row "week 1: docker-archive → portable, --record" "$IT/w1.tar" -- copy -q "$V1" "$IT/w1.tar" --record "$IT/w1.rec"
  inc_row "week 2 full: docker-archive (+1 layer of 5 MiB) → portable" "$IT/full2.tar" -- copy -q "$IT/v2.docker.tar" "$IT/full2.tar"
  inc_row "week 2 incremental: --since week1.rec" "$IT/w2.tar" -- copy -q "$IT/v2.docker.tar" "$IT/w2.tar" --since "$IT/w1.rec"
  inc_row "far side: week 2 --base week 1 → full archive" "$IT/recon.tar" -- copy -q "$IT/w2.tar" "$IT/recon.tar" --base "$IT/w1.tar"
  if cmp -s "$IT/recon.tar" "$IT/full2.tar"; then SAME="byte-identical to week 2 full"; else SAME="DIFFERS from week 2 full"; fi
  {
    echo "## Incremental archives (issue 12)"
    echo
    echo "The new layer is $(size_of "$IT/app.bin") bytes of file data ($(( $(size_of "$IT/v2.docker.tar") - $(size_of "$V1") )) bytes more in the docker-archive); week 2 incremental is"
    echo "$(size_of "$IT/w2.tar") bytes, week 2 full $(size_of "$IT/full2.tar"); the record of week 1 is $(size_of "$IT/w1.rec") bytes; the reconstituted archive is $SAME."
    echo
    echo "| row | input | Ferry s | - | - | Ferry CPU s | - | Ferry RSS MiB | - | out MiB | - |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${IROWS[@]}"
  } > "$WORK/incremental.md"
  echo "bench: wrote $WORK/incremental.md ($SAME)"
  rm -rf "$IT"
  [ "${BENCH_ROWS:-all}" = incremental ] && exit 0
fi

# ------------------------------------------------------------------ scale rows (issue 13)
# Time should grow linearly with bytes and with images, and peak RSS stay flat. Inputs (under $WORK/scale, deleted at
# the end): "10g", a docker-archive of one image of 100 layers of 100 MiB of pseudo-random bytes (10 GiB;
# BENCH_SCALE_GB scales it down, 0 leaves it out), and "100img"/"1000img", docker-archives of 100 and 1,000 images
# that share a 10 MiB base layer, each with its own 4 KiB layer, config and tag. Rows: copy to portable (layers kept;
# skopeo copies the 10 GiB image to an oci-archive alike; it reads one image of a docker-archive per call, so the
# many-images rows have no skopeo column), verify, inspect. With BENCH_ROWS=scale the table goes to $WORK/scale.md.
CROWS=()
if [ "${BENCH_ROWS:-all}" = all ] || [ "${BENCH_ROWS:-all}" = scale ]; then
  SC=$WORK/scale; rm -rf "$SC"; mkdir -p "$SC"
  GB=${BENCH_SCALE_GB:-10}
  if [ "$GB" -gt 0 ]; then
    echo "bench: building a $GB GiB image of 100 layers"
    mkdir -p "$SC/layers"
    for i in $(seq 1 100); do random_tar "$SC/layers/$i.tar" $((GB * 1024 * 1024 * 1024 / 100)) "scale-$i"; done
    # shellcheck disable=SC2046
    docker_archive "$SC/10g.docker.tar" "bench/scale:1" $(ls "$SC"/layers/*.tar | LC_ALL=C sort -V)
    rm -rf "$SC/layers"
    SAVED=("${ROWS[@]}"); ROWS=()
    row "docker-archive → portable (layers kept), 100 layers" "${GB}GiB" "$O/f.tar" "$O/s.tar" -- copy -q "$SC/10g.docker.tar" "$O/f.tar" -- copy -q --dest-oci-accept-uncompressed-layers "docker-archive:$SC/10g.docker.tar" "oci-archive:$O/s.tar"
    CROWS+=("${ROWS[@]}"); ROWS=("${SAVED[@]}")
    ferry_row "verify docker-archive, 100 layers" "${GB}GiB" "$O/none" -- verify "$SC/10g.docker.tar"; CROWS+=("$LAST_ROW"); rm -rf "$O/f.tar"
    ferry_row "inspect docker-archive, 100 layers" "${GB}GiB" "$O/none" -- inspect --json "$SC/10g.docker.tar"; CROWS+=("$LAST_ROW"); rm -rf "$O/f.tar"
    rm -f "$SC/10g.docker.tar"
  fi
  for n in 100 1000; do
    echo "bench: building a docker-archive of $n images"
    python3 - "$SC/${n}img.docker.tar" "$n" <<'PY'
import hashlib, io, json, random, sys, tarfile
out, n = sys.argv[1], int(sys.argv[2])
def layer(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 0; t.addfile(i, io.BytesIO(data))
    return b.getvalue()
rng = random.Random(13)
base = layer([("base/%d.bin" % k, rng.randbytes(1024 * 1024)) for k in range(10)])
base_id = hashlib.sha256(base).hexdigest()
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as d:
    def add(name, data):
        i = tarfile.TarInfo(name); i.size = len(data); i.mtime = 0; d.addfile(i, io.BytesIO(data))
    add(base_id + "/layer.tar", base)
    manifest = []
    for k in range(n):
        own = layer([("app/%d.bin" % k, rng.randbytes(4096))]); own_id = hashlib.sha256(own).hexdigest()
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["N=%d" % k]}, "created": "2026-01-01T00:00:00Z",
                          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + base_id, "sha256:" + own_id]}}, separators=(",", ":")).encode()
        cfg_id = hashlib.sha256(cfg).hexdigest()
        add(own_id + "/layer.tar", own); add(cfg_id + ".json", cfg)
        manifest.append({"Config": cfg_id + ".json", "RepoTags": ["bench/many%d:1" % k], "Layers": [base_id + "/layer.tar", own_id + "/layer.tar"]})
    add("manifest.json", json.dumps(manifest).encode())
PY
    ferry_row "docker-archive → portable, $n images (shared base)" "${n}img" "$O/f.tar" -- copy -q "$SC/${n}img.docker.tar" "$O/f.tar"; CROWS+=("$LAST_ROW"); rm -rf "$O/f.tar"
    ferry_row "verify docker-archive, $n images" "${n}img" "$O/none" -- verify "$SC/${n}img.docker.tar"; CROWS+=("$LAST_ROW"); rm -rf "$O/f.tar"
    ferry_row "inspect docker-archive, $n images" "${n}img" "$O/none" -- inspect --json "$SC/${n}img.docker.tar"; CROWS+=("$LAST_ROW"); rm -rf "$O/f.tar"
    rm -f "$SC/${n}img.docker.tar"
  done
  {
    echo "## Scale (issue 13)"
    echo
    echo "$HEADER"
    printf '%s\n' "${CROWS[@]}"
  } > "$WORK/scale.md"
  echo "bench: wrote $WORK/scale.md"
  rm -rf "$SC"
  [ "${BENCH_ROWS:-all}" = scale ] && exit 0
fi

# ------------------------------------------------------------------ ferry serve rows (issue 12)
# `ferry serve` (the Ferry columns) against docker-registry serving the same images from its own storage (the skopeo
# columns); both sides run the same client, so the ratio is the servers'. Wall seconds are the client's (GNU time);
# CPU seconds are the server process's during the client command (utime+stime from /proc/PID/stat, all threads); RSS
# is the server's peak (VmHWM) after the last run. Every row gets freshly started servers. Rows:
#   skopeo copy → dir: from each server (medium, big), curl of the biggest blob (MB/s from curl's speed_download),
#   32 parallel skopeo copy → dir: (every blob then checked against its name with sha256sum), and ferry serve alone on
#   two archives built alike, 10 layers of 10 MiB and 10 layers of ~1 GiB (BENCH_SERVE_HUGE_GB, default 10, scaled
#   down to the free disk; 0 leaves that archive out), pulled whole, for the peak RSS of ferry serve.
# Scratch (the registry's storage, the generated archives, the pulled dirs) is under BENCH_SERVE_TMP (/tmp/bench-serve)
# and deleted at the end. With BENCH_ROWS=serve the table goes to $WORK/serve.md, not bench/RESULTS.md.
SROWS=()
SHEADER="| row | input | ferry serve s | docker-registry s | ferry serve / docker-registry | ferry serve CPU s | docker-registry CPU s | ferry serve RSS MiB | docker-registry RSS MiB | out MiB (ferry serve) | out MiB (docker-registry) |
|---|---|---|---|---|---|---|---|---|---|---|"

proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"; }
proc_hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts `ferry serve ARCHIVE...` on a free port: SV_PID, and SV_ADDR (127.0.0.1:PORT) from its "serving ... on" line.
start_serve() {
  "$FERRY" serve "$@" --listen 127.0.0.1:0 -q 2>"$ST/serve.log" &
  SV_PID=$!
  local i port=
  for i in $(seq 1 600); do
    port=$(sed -n 's/^ferry: serving .* on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$ST/serve.log")
    [ -n "$port" ] && break
    kill -0 "$SV_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "bench: ferry serve did not start:" >&2; cat "$ST/serve.log" >&2; exit 1; }
  SV_ADDR=127.0.0.1:$port
  echo "bench: $(head -1 "$ST/serve.log")"
}
# SIGTERM; ferry serve must exit 0.
stop_serve() {
  local rc=0
  kill -TERM "$SV_PID"; wait "$SV_PID" || rc=$?
  SV_PID=
  [ "$rc" = 0 ] || { echo "bench: FAILED: ferry serve exited $rc on SIGTERM:" >&2; cat "$ST/serve.log" >&2; exit 1; }
}
# docker-registry on a free port with its storage in $ST/registry and no access log (ferry serve runs with -q): RG_PID, RG_ADDR.
start_registry() {
  RG_ADDR=127.0.0.1:$(free_port)
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/registry\nhttp:\n  addr: %s\n' "$ST" "$RG_ADDR" > "$ST/registry.yml"
  docker-registry serve "$ST/registry.yml" >"$ST/registry.log" 2>&1 &
  RG_PID=$!
  local i
  for i in $(seq 1 100); do curl -sf -o /dev/null "http://$RG_ADDR/v2/" && return; sleep 0.1; done
  echo "bench: docker-registry did not start:" >&2; cat "$ST/registry.log" >&2; exit 1
}
stop_registry() { kill "$RG_PID"; wait "$RG_PID" 2>/dev/null || true; RG_PID=; }

# Every dir: output below DIR: PULLS of them (default 1), each blob's sha256 the name it has.
check_dirs() {
  local d=$1 n bad
  n=$(find "$d" -name manifest.json | wc -l)
  [ "$n" = "${PULLS:-1}" ] || { echo "bench: FAILED: $n of ${PULLS:-1} pulls into $d have a manifest.json" >&2; exit 1; }
  bad=$(find "$d" -type f -regextype egrep -regex '.*/[0-9a-f]{64}' -print0 | xargs -0 -r sha256sum | awk '{ n = split($2, p, "/"); if (p[n] != $1) print $2 }')
  [ -z "$bad" ] || { echo "bench: FAILED: blobs whose content is not their digest: $bad" >&2; exit 1; }
}

# serve_row <label> <input> <ferry out> <registry out> -- <client command against ferry serve...> -- <client command against docker-registry...>
# Like row, for the servers SV_PID and RG_PID; a registry command of "-" leaves its cells empty. A ferry/registry out of
# "-" means the command writes nothing; otherwise it is checked with check_dirs, measured and deleted after each run.
# "{MBS}" in the label becomes the median MB/s the commands appended to $ST/speed.f and $ST/speed.r.
serve_row() {
  local label=$1 s=$2 fout=$3 sout=$4; shift 4
  [ "$1" = -- ] && shift
  local fcmd=() scmd=()
  while [ "$1" != -- ]; do fcmd+=("$1"); shift; done; shift
  scmd=("$@")
  local fw=() fc=() fk=() sw=() sc=() sk=() i m c0 fsize=0 ssize=0 FR= SR=
  rm -f "$ST/speed.f" "$ST/speed.r"
  for i in $(seq 1 "$RUNS"); do
    [ "$fout" = - ] || rm -rf "$fout"
    c0=$(proc_cpu "$SV_PID")
    m=$(measure "${fcmd[@]}") || exit 1; read -r a b c <<<"$m"
    fw+=("$a"); fk+=("$b"); fc+=("$(awk -v a="$c0" -v b="$(proc_cpu "$SV_PID")" 'BEGIN { print b - a }')")
    FR=$(proc_hwm "$SV_PID")
    [ "$fout" = - ] || { fsize=$(size_of "$fout"); check_dirs "$fout"; rm -rf "$fout"; }
    [ "${scmd[*]}" = - ] && continue
    [ "$sout" = - ] || rm -rf "$sout"
    c0=$(proc_cpu "$RG_PID")
    m=$(measure "${scmd[@]}") || exit 1; read -r a b c <<<"$m"
    sw+=("$a"); sk+=("$b"); sc+=("$(awk -v a="$c0" -v b="$(proc_cpu "$RG_PID")" 'BEGIN { print b - a }')")
    SR=$(proc_hwm "$RG_PID")
    [ "$sout" = - ] || { ssize=$(size_of "$sout"); check_dirs "$sout"; rm -rf "$sout"; }
  done
  local FW FC FK SW= SC= SK=
  FW=$(printf '%s\n' "${fw[@]}" | median); FC=$(printf '%s\n' "${fc[@]}" | median); FK=$(printf '%s\n' "${fk[@]}" | median)
  if [ "${#sw[@]}" -gt 0 ]; then
    SW=$(printf '%s\n' "${sw[@]}" | median); SC=$(printf '%s\n' "${sc[@]}" | median); SK=$(printf '%s\n' "${sk[@]}" | median)
  fi
  if [[ $label == *"{MBS}"* ]]; then
    local mbs; mbs="$(median <"$ST/speed.f" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s from ferry serve"
    [ -s "$ST/speed.r" ] && mbs="$mbs, $(median <"$ST/speed.r" | awk '{ printf "%.0f", $1 / 1e6 }') MB/s from docker-registry"
    label=${label//\{MBS\}/$mbs}
  fi
  echo "bench:   client CPU s (median): $FK against ferry serve${SK:+, $SK against docker-registry}"
  local line
  line=$(awk -v l="$label" -v s="$s" -v fw="$FW" -v fc="$FC" -v fr="$FR" -v sw="$SW" -v sc="$SC" -v sr="$SR" -v fo="$fsize" -v so="$ssize" '
    function n(v, f) { return v == "" ? "-" : sprintf(f, v) }
    BEGIN {
    printf "| %s | %s | %.2f | %s | **%s** | %.2f | %s | %.1f | %s | %s | %s |", l, s, fw, n(sw, "%.2f"), (sw > 0 ? sprintf("%.2f", fw / sw) : "-"), fc, n(sc, "%.2f"), fr / 1024, (sr == "" ? "-" : sprintf("%.1f", sr / 1024)),
      (fo > 0 ? sprintf("%.1f", fo / 1048576) : "-"), (so > 0 ? sprintf("%.1f", so / 1048576) : "-") }')
  echo "$line"
  SROWS+=("$line")
}

# A portable archive NAME.tar in $ST of LAYERS layers of MB MiB of pseudo-random bytes each: a docker-archive of
# random_tar layers, converted by `ferry copy` (layers kept, untimed).
serve_archive() { # name layers mb
  local name=$1 n=$2 mb=$3 L=$ST/layers-$1 i
  echo "bench: building $ST/$name.tar ($n layers of $mb MiB)"
  mkdir -p "$L"
  for i in $(seq 1 "$n"); do random_tar "$L/$i.tar" $((mb * 1024 * 1024)) "serve-$name-$i"; done
  # shellcheck disable=SC2046
  docker_archive "$ST/$name.docker.tar" "bench/$name:1" $(ls "$L"/*.tar | LC_ALL=C sort -V)
  rm -rf "$L"
  "$FERRY" copy -q "$ST/$name.docker.tar" "$ST/$name.tar"
  rm -f "$ST/$name.docker.tar"
}

# "DIGEST SIZE" of the biggest layer of REPO:1 on a registry.
biggest_layer() { # addr repo
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$1/v2/$2/manifests/1" | jq -er '.layers | max_by(.size) | "\(.digest) \(.size)"'
}
# curl of one blob into /dev/null, appending curl's speed_download (bytes/s) to a file.
CURL_BLOB='curl -sf -o /dev/null -w "%{speed_download}\n" "$1" >>"$2"'
# N parallel skopeo copy docker://SRC → dir:OUT/1..N; fails unless every one succeeds.
PAR_PULL='n=$1 src=$2 out=$3 p=() f=0; mkdir -p "$out"
  for i in $(seq 1 "$n"); do skopeo copy -q --src-tls-verify=false "docker://$src" "dir:$out/$i" & p+=($!); done
  for j in "${p[@]}"; do wait "$j" || f=$((f + 1)); done
  [ "$f" = 0 ] || { echo "$f of $n parallel pulls failed" >&2; exit 1; }'

# ------------------------------------------------------------------ ferry serve under load (issue 21)
# One server, three loads one after another, each with a normal request (GET of the manifest, by curl) timed during it:
# six parallel `skopeo copy` of a 1 GiB image (8 layers of 128 MiB), 1,000 idle connections, 300 clients reading a
# blob at 1 KiB/s (they must be dropped: --min-rate). The table is ferry serve's peak RSS after each load.
if [ "${BENCH_ROWS:-all}" = serve-load ] || { [ "${BENCH_ROWS:-all}" = all ] && [ "${BENCH_SERVE:-1}" = 1 ]; }; then
  for c in curl python3; do
    command -v "$c" >/dev/null || { echo "bench: $c is required for the serve-load rows" >&2; exit 1; }
  done
  mkdir -p "${BENCH_SERVE_TMP:-/tmp/bench-serve}"
  SL=$(mktemp -d "${BENCH_SERVE_TMP:-/tmp/bench-serve}/load.XXXXXX")
  LD_PID=
  trap '[ -n "${LD_PID:-}" ] && kill "$LD_PID" 2>/dev/null; rm -rf "$SL"' EXIT
  L=$SL/layers; mkdir -p "$L"
  for i in $(seq 1 8); do random_tar "$L/$i.tar" $((128 * 1024 * 1024)) "serve-load-$i"; done
  # shellcheck disable=SC2046
  docker_archive "$SL/big.docker.tar" "bench/load:1" $(ls "$L"/*.tar | LC_ALL=C sort -V)
  rm -rf "$L"
  "$FERRY" copy -q "$SL/big.docker.tar" "$SL/big.tar"; rm -f "$SL/big.docker.tar"
  "$FERRY" serve "$SL/big.tar" --listen 127.0.0.1:0 -q 2>"$SL/serve.log" &
  LD_PID=$!
  port=
  for i in $(seq 1 600); do port=$(sed -n 's/^ferry: serving .* on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$SL/serve.log"); [ -n "$port" ] && break; sleep 0.1; done
  [ -n "$port" ] || { echo "bench: ferry serve did not start:" >&2; cat "$SL/serve.log" >&2; exit 1; }
  A=127.0.0.1:$port
  lat() { curl -sf -o /dev/null -w '%{time_total}' "http://$A/v2/bench/load/manifests/1"; }
  hwm() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$LD_PID/status"; }
  LROWS=("| load | ferry serve peak RSS MiB | a normal request during it, ms | what happened |" "|---|---|---|---|")
  start=$(hwm)
  t0=$(date +%s.%N)
  bash -c "$PAR_PULL" bash 6 "$A/bench/load:1" "$SL/out" & pp=$!
  sleep 3; l=$(lat); wait "$pp"
  LROWS+=("| six parallel skopeo copy → dir: of a 1 GiB image (8 × 128 MiB) | $(hwm) | $(awk -v l="$l" 'BEGIN { printf "%.1f", l * 1000 }') | all six complete in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s (started at $start MiB) |")
  rm -rf "$SL/out"
  python3 - "$port" 1000 12 <<'PY' & ip=$!
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
time.sleep(hold)
PY
  sleep 5; l=$(lat); wait "$ip"
  LROWS+=("| 1,000 idle connections (then a normal client) | $(hwm) | $(awk -v l="$l" 'BEGIN { printf "%.1f", l * 1000 }') | the normal client is answered (idle ones are closed to make room beyond 1,024) |")
  dig=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$A/v2/bench/load/manifests/1" | jq -r '.layers[0].digest')
  python3 - "$port" "$dig" 300 30 > "$SL/slow.out" <<'PY' & sp=$!
import socket, sys, time
port, dig, n, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
open_ = []
for _ in range(n):
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096); c.connect(("127.0.0.1", port))
    c.sendall(f"GET /v2/bench/load/blobs/{dig} HTTP/1.1\r\nHost: x\r\n\r\n".encode()); c.setblocking(False); open_.append(c)
for _ in range(secs):
    for c in list(open_):
        try:
            if c.recv(1024) == b"": open_.remove(c)
        except BlockingIOError: pass
        except OSError: open_.remove(c)
    time.sleep(1)
print(len(open_))
PY
  sleep 5; l=$(lat); wait "$sp"
  LROWS+=("| 300 clients reading a 128 MiB blob at 1 KiB/s | $(hwm) | $(awk -v l="$l" 'BEGIN { printf "%.1f", l * 1000 }') | $(cat "$SL/slow.out") of 300 still open after 30 s (--min-rate 16K, 10 s grace) |")
  kill -TERM "$LD_PID"; wait "$LD_PID" || true; LD_PID=
  {
    echo "## ferry serve under load (issue 21)"
    echo
    printf '%s\n' "${LROWS[@]}"
  } > "$WORK/serve-load.md"
  cat "$WORK/serve-load.md"
  rm -rf "$SL"; trap - EXIT
  [ "${BENCH_ROWS:-all}" = serve-load ] && exit 0
fi

if [ "${BENCH_ROWS:-all}" = serve ] || { [ "${BENCH_ROWS:-all}" = all ] && [ "${BENCH_SERVE:-1}" = 1 ] && command -v docker-registry >/dev/null; }; then
  for c in docker-registry curl python3; do
    command -v "$c" >/dev/null || { echo "bench: $c is required for the serve rows (apt-get install docker-registry curl python3)" >&2; exit 1; }
  done
  SERVE_SIZES=${BENCH_SERVE_SIZES:-medium big}
  for s in $(printf '%s\n' $SERVE_SIZES medium | awk '!seen[$0]++'); do build_input "$s"; done
  mkdir -p "${BENCH_SERVE_TMP:-/tmp/bench-serve}"
  ST=$(mktemp -d "${BENCH_SERVE_TMP:-/tmp/bench-serve}/run.XXXXXX")
  SV_PID= RG_PID=
  serve_cleanup() {
    [ -n "${SV_PID:-}" ] && kill "$SV_PID" 2>/dev/null
    [ -n "${RG_PID:-}" ] && kill "$RG_PID" 2>/dev/null
    [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null
    [ -n "${REG_DIR:-}" ] && rm -rf "$REG_DIR"
    rm -rf "$ST"
  }
  trap serve_cleanup EXIT
  echo "$SHEADER"
  # docker-registry gets the images into its own storage first (untimed).
  start_registry
  for s in $(printf '%s\n' $SERVE_SIZES medium | awk '!seen[$0]++'); do
    skopeo copy -q --dest-tls-verify=false "oci-archive:$WORK/in/$s.oci.tar" "docker://$RG_ADDR/bench/$s:1"
  done
  stop_registry
  for s in $SERVE_SIZES; do
    start_registry; start_serve "$WORK/in/$s.oci.tar"
    serve_row "skopeo copy → dir: from ferry serve vs from docker-registry" "$s" "$O/f.dir" "$O/s.dir" \
      -- skopeo copy -q --src-tls-verify=false "docker://$SV_ADDR/bench/$s:1" "dir:$O/f.dir" \
      -- skopeo copy -q --src-tls-verify=false "docker://$RG_ADDR/bench/$s:1" "dir:$O/s.dir"
    read -r blob bytes <<<"$(biggest_layer "$SV_ADDR" "bench/$s")"
    [ -n "$blob" ] || { echo "bench: FAILED: no layer in the manifest of bench/$s:1 on ferry serve" >&2; exit 1; }
    serve_row "curl GET of the biggest blob ($((bytes / 1048576)) MiB) → /dev/null: {MBS}" "$s" - - \
      -- sh -c "$CURL_BLOB" sh "http://$SV_ADDR/v2/bench/$s/blobs/$blob" "$ST/speed.f" \
      -- sh -c "$CURL_BLOB" sh "http://$RG_ADDR/v2/bench/$s/blobs/$blob" "$ST/speed.r"
    stop_serve; stop_registry
  done
  start_registry; start_serve "$WORK/in/medium.oci.tar"
  PULLS=32 serve_row "32 parallel skopeo copy → dir: from one server (all 32 checked)" medium "$O/f.par" "$O/s.par" \
    -- bash -c "$PAR_PULL" bash 32 "$SV_ADDR/bench/medium:1" "$O/f.par" \
    -- bash -c "$PAR_PULL" bash 32 "$RG_ADDR/bench/medium:1" "$O/s.par"
  stop_serve; stop_registry
  # Peak RSS of ferry serve against archive size: ~100 MiB and ~10 GiB, both 10 layers (ferry serve alone).
  huge=${BENCH_SERVE_HUGE_GB:-10}
  avail=$(df -Pk "$ST" | awk 'NR == 2 { print int($4 / 1048576) }')   # GiB free
  # Peak use: the layers and the docker-archive (2×), then the docker-archive and the portable archive (2×), then the
  # archive and the pulled dir (2×), plus 2 GiB for random_tar's staging.
  while [ "$huge" -gt 0 ] && [ $((huge * 2 + 4)) -gt "$avail" ]; do huge=$((huge - 1)); done
  [ "$huge" = "${BENCH_SERVE_HUGE_GB:-10}" ] || echo "bench: only $avail GiB free under $ST: the big serve archive is scaled down to $huge GiB"
  specs=("100m 10"); [ "$huge" -gt 0 ] && specs+=("${huge}g $((huge * 1024 / 10))")
  for spec in "${specs[@]}"; do
    read -r name mb <<<"$spec"
    serve_archive "serve-$name" 10 "$mb"
    start_serve "$ST/serve-$name.tar"
    serve_row "peak RSS of ferry serve: skopeo copy → dir: of the whole archive (ferry serve alone)" "$(( $(size_of "$ST/serve-$name.tar") / 1048576 )) MiB, 10 layers" "$O/f.dir" - \
      -- skopeo copy -q --src-tls-verify=false "docker://$SV_ADDR/bench/serve-$name:1" "dir:$O/f.dir" -- -
    read -r blob bytes <<<"$(biggest_layer "$SV_ADDR" "bench/serve-$name")"
    [ -n "$blob" ] || { echo "bench: FAILED: no layer in the manifest of bench/serve-$name:1 on ferry serve" >&2; exit 1; }
    serve_row "curl GET of one $mb MiB layer blob → /dev/null: {MBS}" "$(( $(size_of "$ST/serve-$name.tar") / 1048576 )) MiB, 10 layers" - - \
      -- sh -c "$CURL_BLOB" sh "http://$SV_ADDR/v2/bench/serve-$name/blobs/$blob" "$ST/speed.f" -- -
    stop_serve
    rm -f "$ST/serve-$name.tar"
  done
  {
    echo "## ferry serve (issue 12)"
    echo
    echo "$SHEADER"
    printf '%s\n' "${SROWS[@]}"
  } > "$WORK/serve.md"
  echo "bench: wrote $WORK/serve.md"
  [ "${BENCH_ROWS:-all}" = serve ] && exit 0
fi

# ------------------------------------------------------------------ transfers against crane and skopeo (issue 27)
# Ferry beside crane and skopeo 1.18 (Debian 13's, found or built by bench/peers.sh into BENCH_PEERS_DIR) and the host's
# skopeo, against docker-registry on 127.0.0.1, on BENCH_TRANSFER_SIZES (default: medium big). The source registry gets
# each image once (untimed, skopeo copy of the gzip oci-archive). Rows:
#   pull → archive     ferry pull REF -o X.tar; crane pull REF X.tar (its tarball); skopeo copy docker:// oci-archive:
#                      (every tool keeps the layers as the registry has them, gzip)
#   push               ferry push and crane push of crane's own tarball (crane pull, untimed); skopeo copy of the gzip
#                      oci-archive (the same gzip blobs: skopeo would decompress and recompress a tarball's layers)
#   registry → registry copy between two registries: ferry copy docker:// docker://; crane copy; skopeo copy
#   --compress none    gzip oci-archive → docker-archive, uncompressed: ferry copy --format docker-archive --compress
#                      none; skopeo copy oci-archive: docker-archive: (its docker-archive is always uncompressed; its
#                      --dest-decompress applies to dir: only); crane has no such command
# Ferry runs three ways on each row: cache cold (FERRY_CACHE_DIR a fresh empty dir each run), cache warm (one dir,
# primed by an untimed run of the same command before the timed runs) and --no-verify-diff-ids (cache off:
# FERRY_CACHE_DIR set empty). Every run starts from the same state: a registry that is written (push, copy's
# destination) is started with empty storage before each run and stopped and deleted after it; the output is deleted;
# skopeo's blob-info caches are wiped. Tools alternate within each run. Columns: median of BENCH_RUNS of wall s, the
# client's CPU s (user+sys) and peak RSS (GNU time), the registries' CPU s during the run (utime+stime from
# /proc/PID/stat, source + destination), MB written (the client's file system outputs + the registries' write_bytes),
# the 1-minute load average before the run, and each Ferry line's ratio to crane and both skopeos and the targets of
# issue 27. Scratch is under BENCH_TRANSFER_TMP (/tmp/bench-transfer) and deleted at the end; with BENCH_ROWS=transfer
# the table goes to $WORK/transfer.md, not bench/RESULTS.md.
TROWS=()
if [ "${BENCH_ROWS:-all}" = transfer ] || { [ "${BENCH_ROWS:-all}" = all ] && [ "${BENCH_TRANSFER:-1}" = 1 ] && command -v docker-registry >/dev/null; }; then
  for c in docker-registry curl python3; do
    command -v "$c" >/dev/null || { echo "bench: $c is required for the transfer rows (apt-get install docker-registry curl python3)" >&2; exit 1; }
  done
  # shellcheck source=bench/peers.sh
  . "$REPO/bench/peers.sh"
  bench_peers
  TLOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
  TSIZES=${BENCH_TRANSFER_SIZES:-medium big}
  for s in $TSIZES; do build_input "$s"; done
  mkdir -p "${BENCH_TRANSFER_TMP:-/tmp/bench-transfer}"
  TT=$(mktemp -d "${BENCH_TRANSFER_TMP:-/tmp/bench-transfer}/run.XXXXXX")
  declare -A TR_PID=() TR_ADDR=()
  transfer_cleanup() {
    local n
    for n in "${!TR_PID[@]}"; do [ -n "${TR_PID[$n]}" ] && kill "${TR_PID[$n]}" 2>/dev/null; done
    rm -rf "$TT"
  }
  trap transfer_cleanup EXIT

  # treg_start NAME: docker-registry on a free port, storage in $TT/reg-NAME (emptied first): TR_PID[NAME], TR_ADDR[NAME].
  treg_start() {
    local n=$1 i
    rm -rf "$TT/reg-$n"; mkdir -p "$TT/reg-$n"
    TR_ADDR[$n]=127.0.0.1:$(free_port)
    printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n' "$TT/reg-$n" "${TR_ADDR[$n]}" > "$TT/reg-$n/config.yml"
    docker-registry serve "$TT/reg-$n/config.yml" >"$TT/reg-$n/log" 2>&1 &
    TR_PID[$n]=$!
    for i in $(seq 1 100); do curl -sf -o /dev/null "http://${TR_ADDR[$n]}/v2/" && return; sleep 0.1; done
    echo "bench: docker-registry did not start:" >&2; cat "$TT/reg-$n/log" >&2; exit 1
  }
  # treg_stop NAME: stops it and deletes its storage.
  treg_stop() { kill "${TR_PID[$1]}"; wait "${TR_PID[$1]}" 2>/dev/null || true; TR_PID[$1]=; rm -rf "$TT/reg-$1"; }
  reg_io() { awk '/^write_bytes:/ { print $2 }' "/proc/$1/io"; }

  # Runs a command under GNU time; prints "wall cpu rss_kib bytes_written".
  t_measure() {
    local log; log=$(mktemp)
    sync
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { echo "bench: FAILED: $*" >&2; tail -5 "$log" >&2; rm -f "$log"; return 1; }
    awk -F': ' '
      /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
      /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 } /File system outputs/ { o = $2 }
      END { printf "%.3f %.3f %d %d\n", w, u + s, r, o * 512 }' "$log"
    rm -f "$log"
  }

  # The tools of each kind of row, in the order they run.
  t_tools() { # kind
    echo "ferry-cold ferry-warm ferry-noverify"
    [ "$1" = decompress ] || [ -z "$CRANE" ] || echo crane
    echo skopeo
    [ -z "$SKOPEO118" ] || echo skopeo118
  }
  # t_cmd KIND TOOL SIZE CACHE: sets CMD (the command to time) and WRITES (registry names the run writes to: started
  # fresh before it, stopped after). Sources: registry "src" (bench/SIZE:1), $TPUSH[SIZE], the oci-archive.
  t_cmd() {
    local kind=$1 tool=$2 s=$3 cache=$4 ref out=$TT/out.tar ferry=() nv=()
    WRITES=()
    case $tool in
      ferry-cold|ferry-warm) ferry=(env "FERRY_CACHE_DIR=$cache" "$FERRY") ;;
      ferry-noverify) ferry=(env FERRY_CACHE_DIR= "$FERRY"); nv=(--no-verify-diff-ids) ;;
    esac
    local sk=(skopeo --insecure-policy)
    # skopeo 1.9 keeps its blob-info cache (where blobs were pushed before) in one of these; 1.18's wrapper keeps it in
    # SKOPEO118_CACHE_DIR, a fresh dir each run.
    [ "$tool" = skopeo ] && sk=(sh -c 'rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb "$HOME/.local/share/containers/cache/blob-info-cache-v1.boltdb"; exec skopeo --insecure-policy "$@"' sh)
    [ "$tool" = skopeo118 ] && { rm -rf "$TT/sk118"; sk=(env "SKOPEO118_CACHE_DIR=$TT/sk118" "$SKOPEO118" --insecure-policy); }
    ref=bench/$s:1
    case $kind/$tool in
      pull/ferry-*) CMD=("${ferry[@]}" pull -q --progress none "${nv[@]}" "${TR_ADDR[src]}/$ref" -o "$out") ;;
      pull/crane) CMD=("$CRANE" pull --insecure "${TR_ADDR[src]}/$ref" "$out") ;;
      pull/skopeo*) CMD=("${sk[@]}" copy -q --src-tls-verify=false "docker://${TR_ADDR[src]}/$ref" "oci-archive:$out") ;;
      push/ferry-*) WRITES=(dst); CMD=("${ferry[@]}" push -q --progress none "${nv[@]}" "${TPUSH[$s]}" "docker://@dst@/$ref") ;;
      push/crane) WRITES=(dst); CMD=("$CRANE" push --insecure "${TPUSH[$s]}" "@dst@/$ref") ;;
      push/skopeo*) WRITES=(dst); CMD=("${sk[@]}" copy -q --dest-tls-verify=false "oci-archive:$WORK/in/$s.oci.tar" "docker://@dst@/$ref") ;;
      copy/ferry-*) WRITES=(dst); CMD=("${ferry[@]}" copy -q --progress none "${nv[@]}" "docker://${TR_ADDR[src]}/$ref" "docker://@dst@/$ref") ;;
      copy/crane) WRITES=(dst); CMD=("$CRANE" copy --insecure "${TR_ADDR[src]}/$ref" "@dst@/$ref") ;;
      copy/skopeo*) WRITES=(dst); CMD=("${sk[@]}" copy -q --src-tls-verify=false --dest-tls-verify=false "docker://${TR_ADDR[src]}/$ref" "docker://@dst@/$ref") ;;
      decompress/ferry-*) CMD=("${ferry[@]}" copy -q --progress none "${nv[@]}" "$WORK/in/$s.oci.tar" "$out" --format docker-archive --compress none) ;;
      decompress/skopeo*) CMD=("${sk[@]}" copy -q "oci-archive:$WORK/in/$s.oci.tar" "docker-archive:$out:$ref") ;;
      *) echo "bench: no command for $kind/$tool" >&2; exit 1 ;;
    esac
  }
  # t_once KIND TOOL SIZE CACHE [timed]: one run from the starting state; timed, prints "wall cpu rss written regcpu load".
  t_once() {
    local kind=$1 tool=$2 s=$3 cache=$4 timed=${5:-} n m c0=0 c1=0 w0=0 w1=0 load pids=()
    rm -rf "$TT/out.tar"
    t_cmd "$kind" "$tool" "$s" "$cache"
    for n in "${WRITES[@]}"; do treg_start "$n"; done
    [ "$kind" = decompress ] || pids+=("${TR_PID[src]}")
    for n in "${WRITES[@]}"; do pids+=("${TR_PID[$n]}"); done
    [ "${#WRITES[@]}" = 0 ] || CMD=("${CMD[@]//@dst@/${TR_ADDR[dst]}}")
    if [ -z "$timed" ]; then
      "${CMD[@]}" >/dev/null 2>"$TT/prime.log" || { echo "bench: FAILED (priming): ${CMD[*]}" >&2; tail -5 "$TT/prime.log" >&2; exit 1; }
    else
      load=$(cut -d' ' -f1 /proc/loadavg)
      for n in "${pids[@]}"; do c0=$(awk -v a="$c0" -v b="$(proc_cpu "$n")" 'BEGIN { print a + b }'); w0=$((w0 + $(reg_io "$n"))); done
      m=$(t_measure "${CMD[@]}") || exit 1
      for n in "${pids[@]}"; do c1=$(awk -v a="$c1" -v b="$(proc_cpu "$n")" 'BEGIN { print a + b }'); w1=$((w1 + $(reg_io "$n"))); done
      read -r a b c d <<<"$m"
      echo "$a $b $c $((d + w1 - w0)) $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }') $load"
    fi
    for n in "${WRITES[@]}"; do treg_stop "$n"; done
    rm -rf "$TT/out.tar"
  }
  # t_row KIND LABEL SIZE: every tool, BENCH_RUNS times each (alternating), then one line per tool with the medians.
  t_row() {
    local kind=$1 label=$2 s=$3 t i f tools
    read -ra tools <<<"$(t_tools "$kind" | tr '\n' ' ')"
    declare -A R=()
    rm -rf "$TT/cache-warm"; mkdir -p "$TT/cache-warm"
    t_once "$kind" ferry-warm "$s" "$TT/cache-warm"
    for i in $(seq 1 "$RUNS"); do
      for t in "${tools[@]}"; do
        if [ "$t" = ferry-warm ]; then f=$TT/cache-warm; else f=$TT/cache-cold; rm -rf "$f"; mkdir -p "$f"; fi
        R[$t]+="$(t_once "$kind" "$t" "$s" "$f" timed)"$'\n'
      done
    done
    rm -rf "$TT/cache-cold" "$TT/cache-warm"
    declare -A M=()   # tool -> "wall cpu rss written regcpu load" medians
    for t in "${tools[@]}"; do
      M[$t]=$(for f in 1 2 3 4 5 6; do printf '%s' "${R[$t]}" | awk -v f="$f" 'NF { print $f }' | median; done | tr '\n' ' ')
    done
    local cw= sw= s8w= target
    [ -n "${M[crane]:-}" ] && cw=$(cut -d' ' -f1 <<<"${M[crane]}")
    sw=$(cut -d' ' -f1 <<<"${M[skopeo]}")
    [ -n "${M[skopeo118]:-}" ] && s8w=$(cut -d' ' -f1 <<<"${M[skopeo118]}")
    for t in "${tools[@]}"; do
      target=
      case $kind/$t in
        pull/ferry-cold) target="crane 1.3" ;; pull/ferry-warm) target="crane 0.8" ;;
        push/ferry-cold|copy/ferry-cold) target="crane 1.2" ;; push/ferry-warm|copy/ferry-warm) target="crane 1.0" ;;
        decompress/ferry-cold|decompress/ferry-warm) target="skopeo 0.30" ;;
      esac
      local line
      line=$(awk -v l="$label" -v s="$s" -v t="$t" -v m="${M[$t]}" -v cw="$cw" -v sw="$sw" -v s8w="$s8w" -v tg="$target" -v k="$kind" '
        function r(x) { return (x == "" || x == 0) ? "-" : sprintf("%.2f", w / x) }
        BEGIN {
          split(m, v, " "); w = v[1]
          name["ferry-cold"] = "Ferry, cache cold"; name["ferry-warm"] = "Ferry, cache warm"; name["ferry-noverify"] = "Ferry, --no-verify-diff-ids"
          name["crane"] = "crane"; name["skopeo"] = "skopeo 1.9"; name["skopeo118"] = "skopeo 1.18"
          ferry = (t ~ /^ferry/)
          goal = "-"
          if (ferry) {
            ok = ""
            if (tg != "") {
              split(tg, g, " "); base = (g[1] == "crane") ? cw : sw
              if (base != "") ok = sprintf("≤ %s× %s: %s", g[2], g[1], (w / base <= g[2] + 0.005) ? "met" : "**missed**")
            }
            ok = ok (ok == "" ? "" : "; ") "≤ 64 MiB: " (v[3] / 1024 <= 64 ? "met" : "**missed**")
            ahead = (w < sw && (s8w == "" || w < s8w))
            goal = ok "; ahead of skopeo: " (ahead ? "met" : "**missed**")
          }
          printf "| %s | %s | %s | %.2f | %.2f | %s | %.1f | %.0f | %s | %s | %s | %s | %.1f |", l, s, name[t], w, v[2], (k == "decompress" ? "-" : sprintf("%.2f", v[5])),
            v[3] / 1024, v[4] / 1e6, (ferry && cw != "") ? "**" r(cw) "**" : "-", ferry ? r(sw) : "-", ferry ? r(s8w) : "-", goal, v[6] }')
      echo "$line"
      TROWS+=("$line")
    done
  }

  THEADER="| row | input | tool | s | client CPU s | registry CPU s | client RSS MiB | MB written | Ferry/crane | Ferry/skopeo 1.9 | Ferry/skopeo 1.18 | targets (issue 27) | load 1m |
|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  # The disk's write speed with a flush, for "what bounds each row".
  TDISK=$(dd if=/dev/zero of="$TT/dd" bs=1M count=1024 conv=fsync 2>&1 | awk -F', ' '/copied/ { print $NF }'); rm -f "$TT/dd"
  echo "bench: this disk writes 1 GiB with a flush at $TDISK"
  echo "$THEADER"
  declare -A TPUSH=()
  for s in $TSIZES; do
    treg_start src
    skopeo --insecure-policy copy -q --dest-tls-verify=false "oci-archive:$WORK/in/$s.oci.tar" "docker://${TR_ADDR[src]}/bench/$s:1"
    if [ -n "$CRANE" ]; then
      TPUSH[$s]=$TT/crane-$s.tar
      "$CRANE" pull --insecure "${TR_ADDR[src]}/bench/$s:1" "${TPUSH[$s]}"
    else
      TPUSH[$s]=$WORK/in/$s.oci.tar
    fi
    t_row pull "pull → archive" "$s"
    if [ -n "$CRANE" ]; then t_row push "push of crane's tarball (skopeo: the gzip oci-archive)" "$s"; else t_row push "push of the gzip oci-archive" "$s"; fi
    t_row copy "registry → registry copy" "$s"
    treg_stop src
    t_row decompress "gzip oci-archive → docker-archive, --compress none" "$s"
    rm -f "$TT/crane-$s.tar"
  done
  {
    echo "## Transfers against crane and skopeo (issue 27)"
    echo
    echo "Made by \`BENCH_ROWS=transfer bench/run.sh\` on $(date -u +%Y-%m-%d): $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB RAM,"
    echo "$(. /etc/os-release; echo "$PRETTY_NAME"); $(docker-registry --version 2>/dev/null | awk '{ print $1, $3 }'); $(skopeo --version);"
    echo "${CRANE:+crane $("$CRANE" version) and }${SKOPEO118:+$("$SKOPEO118" --version) (Debian 13)}${PEERS_NOTE:+ (peers: $PEERS_NOTE)};"
    echo "Ferry NativeAOT $("$FERRY" --version). The disk under ${BENCH_TRANSFER_TMP:-/tmp/bench-transfer} writes 1 GiB with a flush (dd conv=fsync) at $TDISK."
    echo "Median of $RUNS runs; load average"
    echo "$TLOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo
    echo "$THEADER"
    printf '%s\n' "${TROWS[@]}"
  } > "$WORK/transfer.md"
  echo "bench: wrote $WORK/transfer.md"
  transfer_cleanup; trap - EXIT
  [ "${BENCH_ROWS:-all}" = transfer ] && exit 0
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
  [ -f "$WORK/serve.md" ] && [ "${#SROWS[@]}" -gt 0 ] && { echo; cat "$WORK/serve.md"; }
  [ -f "$WORK/incremental.md" ] && [ "${#IROWS[@]}" -gt 0 ] && { echo; cat "$WORK/incremental.md"; }
  [ -f "$WORK/scale.md" ] && [ "${#CROWS[@]}" -gt 0 ] && { echo; cat "$WORK/scale.md"; }
  [ -f "$WORK/transfer.md" ] && [ "${#TROWS[@]}" -gt 0 ] && { echo; cat "$WORK/transfer.md"; }
} > "$REPO/bench/RESULTS.md.new"
mv "$REPO/bench/RESULTS.md.new" "$REPO/bench/RESULTS.md"
echo "bench: wrote bench/RESULTS.md"
