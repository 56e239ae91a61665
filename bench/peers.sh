#!/usr/bin/env bash
# Ferry's peers for the transfer rows of bench/run.sh (issue 27): crane (go-containerregistry) and skopeo 1.18, both
# from Debian 13 (trixie), beside the host's skopeo. Nothing here builds anything: the workplace's shared tool
# build-peers.sh does (crane built in GOPATH mode with trixie's Go from trixie's golang-*-dev source packages; skopeo
# 1.18 unpacked with trixie's glibc), into a cached folder that is reused while its binaries run.
#
#   bench/peers.sh              # find or build the peers, print their paths and versions
#   . bench/peers.sh; bench_peers   # (from bench/run.sh) sets CRANE and SKOPEO118, empty for a peer that is missing
#
#   BENCH_PEERS_DIR=DIR         # the cached folder (default /var/cache/ferry-bench-peers); DIR/bin/{crane,skopeo118}
#   BENCH_BUILD_PEERS=PATH      # the shared build-peers.sh (default: shared/tools/build-peers.sh beside the checkout,
#                               # or /work/shared/tools/build-peers.sh)
#   BENCH_PEERS_REBUILD=1       # run build-peers.sh even when the cached binaries work
#   BENCH_PEERS=0               # no peers: the transfer rows then compare with the host's skopeo only
# A peer that cannot be had is skipped with the reason printed; the bench goes on without its columns.

bench_peers() {
  CRANE= SKOPEO118= PEERS_NOTE=
  if [ "${BENCH_PEERS:-1}" = 0 ]; then PEERS_NOTE="off (BENCH_PEERS=0)"; echo "bench: peers $PEERS_NOTE" >&2; return 0; fi
  local dir=${BENCH_PEERS_DIR:-/var/cache/ferry-bench-peers} here tool=${BENCH_BUILD_PEERS:-}
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
  if [ -z "$tool" ]; then
    for tool in "$here/../shared/tools/build-peers.sh" /work/shared/tools/build-peers.sh ""; do [ -f "$tool" ] && break; done
  fi
  peers_ok() { "$dir/bin/crane" version >/dev/null 2>&1 && "$dir/bin/skopeo118" --version >/dev/null 2>&1; }
  if [ "${BENCH_PEERS_REBUILD:-0}" = 1 ] || ! peers_ok; then
    if [ -z "$tool" ]; then
      PEERS_NOTE="build-peers.sh not found (set BENCH_BUILD_PEERS)"
    elif ! mkdir -p "$dir" 2>/dev/null; then
      PEERS_NOTE="cannot create $dir (set BENCH_PEERS_DIR)"
    else
      echo "bench: building the peers into $dir with $tool (log: $dir/build.log; minutes the first time)" >&2
      bash "$tool" "$dir" >"$dir/build.log" 2>&1 || PEERS_NOTE="$tool failed (exit $?), last lines of $dir/build.log: $(tail -3 "$dir/build.log" | tr '\n' ' ')"
    fi
  fi
  if "$dir/bin/crane" version >/dev/null 2>&1; then CRANE=$dir/bin/crane; else PEERS_NOTE="${PEERS_NOTE:+$PEERS_NOTE; }no working crane in $dir/bin"; fi
  if "$dir/bin/skopeo118" --version >/dev/null 2>&1; then SKOPEO118=$dir/bin/skopeo118; else PEERS_NOTE="${PEERS_NOTE:+$PEERS_NOTE; }no working skopeo118 in $dir/bin"; fi
  [ -z "$PEERS_NOTE" ] || echo "bench: peers: $PEERS_NOTE; going on without the missing ones" >&2
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  bench_peers
  echo "crane:     ${CRANE:-(missing)}${CRANE:+ ($("$CRANE" version))}"
  echo "skopeo118: ${SKOPEO118:-(missing)}${SKOPEO118:+ ($("$SKOPEO118" --version))}"
  [ -n "$CRANE" ] && [ -n "$SKOPEO118" ]
fi
