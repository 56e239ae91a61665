# shellcheck shell=bash
# Ferry CI helpers: private dockerd / containerd / podman store, all state
# under ONE directory (argument DIR, or $FERRY_CI_DIR when DIR is omitted).
#
#   source .ci/lib.sh
#   dir=$(mktemp -d /tmp/ferry-ci.XXXXXX)      # keep it short: unix socket paths max 107 bytes
#   trap 'ci_stop_all "$dir"' EXIT
#   ci_start_dockerd "$dir"      # exports DOCKER_HOST=unix://$dir/docker.sock
#   ci_start_containerd "$dir"   # exports CONTAINERD_ADDRESS=$dir/containerd.sock
#   ci_setup_podman "$dir"       # exports CONTAINERS_STORAGE_CONF, CONTAINERS_CONF, FERRY_PODMAN_ARGS
#   ...
#   ci_stop_all "$dir"
#
# Notes (checked on Debian 12: docker.io 20.10.24, containerd 1.6.20, podman 4.3.1):
# * dockerd needs no external containerd: without --containerd it starts its own
#   child containerd under DIR/docker-exec/containerd and stops it on SIGTERM.
# * Always call /usr/bin/docker (20.10 client); /usr/local/bin/docker may be a newer
#   CLI (it also works: it negotiates API 1.41 down from the daemon).
# * containerd's overlayfs snapshotter works here; `ctr images import` unpacks fine.
#   `--no-unpack` also works and is faster (content store only).
# * Rootful podman with an isolated vfs store, no daemon:
#     podman --root DIR/podman-root --runroot DIR/podman-run --storage-driver vfs \
#            --tmpdir DIR/podman-tmp --events-backend none --cgroup-manager cgroupfs ...
#   (= $FERRY_PODMAN_ARGS). Without --tmpdir/--events-backend podman writes
#   /run/libpod. Left outside DIR whatever the flags (harmless, small):
#   /var/lib/containers/cache/blob-info-cache-v1.boltdb and /run/containers/networks
#   (podman), /run/docker/plugins (dockerd; empty).
#   ci_setup_podman also writes storage.conf/containers.conf into DIR and exports
#   CONTAINERS_STORAGE_CONF/CONTAINERS_CONF so a plain `podman` uses the same store.

_ci_dir() {
  local d="${1:-${FERRY_CI_DIR:-}}"
  if [ -z "$d" ]; then
    echo "ci: need DIR argument or FERRY_CI_DIR" >&2
    return 2
  fi
  mkdir -p "$d" && (cd "$d" && pwd -P)
}

# _ci_alive PID: true if PID exists and is not a zombie.
_ci_alive() {
  local pid="$1" state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != "Z" ] && [ "$state" != "X" ]
}

# _ci_ours PID DIR: true if PID is alive and its command line mentions DIR
# (guards against killing a recycled PID).
_ci_ours() {
  local pid="$1" dir="$2"
  _ci_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"
}

# _ci_stop_pid PID DIR NAME: SIGTERM, wait up to 30 s, then SIGKILL; reap if our child.
_ci_stop_pid() {
  local pid="$1" dir="$2" name="$3" i
  if ! _ci_ours "$pid" "$dir"; then
    wait "$pid" 2>/dev/null || true
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do
    _ci_alive "$pid" || break
    sleep 0.2
  done
  if _ci_alive "$pid"; then
    echo "ci: $name (pid $pid) did not stop in 30 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      _ci_alive "$pid" || break
      sleep 0.2
    done
  fi
  wait "$pid" 2>/dev/null || true
}

# _ci_wait PID LOG WHAT CMD...: waits up to 60 s for CMD to succeed while PID lives; on failure prints LOG's tail.
_ci_wait() {
  local pid="$1" log="$2" what="$3" i
  shift 3
  for i in $(seq 1 120); do
    "$@" >/dev/null 2>&1 && return 0
    if ! _ci_alive "$pid"; then
      echo "ci: $what exited during startup; last log lines:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "ci: $what did not answer within 60 s; last log lines:" >&2
  tail -n 30 "$log" >&2
  return 1
}

ci_start_dockerd() {
  local dir pid i
  dir=$(_ci_dir "${1:-}") || return
  export FERRY_CI_DIR="$dir"
  if [ -s "$dir/dockerd.ci.pid" ] && _ci_ours "$(cat "$dir/dockerd.ci.pid")" "$dir"; then
    export DOCKER_HOST="unix://$dir/docker.sock"
    return 0
  fi
  if [ "${#dir}" -gt 70 ]; then
    echo "ci: warning: '$dir' is long; unix socket paths are limited to 107 bytes" >&2
  fi
  mkdir -p "$dir/docker-data" "$dir/docker-exec"
  # Own config file: ignores any /etc/docker/daemon.json, and its
  # "deprecated-key-path" keeps the libtrust key out of /etc/docker/key.json.
  # --ip-forward=false/--ip-masq=false: do not touch the host's sysctls.
  printf '{ "deprecated-key-path": "%s" }\n' "$dir/docker-key.json" >"$dir/daemon.json"
  dockerd --config-file "$dir/daemon.json" \
    --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
    --ip-forward=false --ip-masq=false \
    --data-root "$dir/docker-data" --exec-root "$dir/docker-exec" \
    --pidfile "$dir/dockerd.pid" \
    -H "unix://$dir/docker.sock" \
    </dev/null >>"$dir/dockerd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/dockerd.ci.pid"
  if _ci_wait "$pid" "$dir/dockerd.log" dockerd /usr/bin/docker -H "unix://$dir/docker.sock" version; then
    export DOCKER_HOST="unix://$dir/docker.sock"
    return 0
  fi
  _ci_stop_pid "$pid" "$dir" dockerd
  return 1
}

ci_start_containerd() {
  local dir pid i
  dir=$(_ci_dir "${1:-}") || return
  export FERRY_CI_DIR="$dir"
  if [ -s "$dir/containerd.ci.pid" ] && _ci_ours "$(cat "$dir/containerd.ci.pid")" "$dir"; then
    export CONTAINERD_ADDRESS="$dir/containerd.sock"
    return 0
  fi
  mkdir -p "$dir/containerd-root" "$dir/containerd-state" "$dir/containerd-opt"
  cat >"$dir/containerd.toml" <<EOF
version = 2
root = "$dir/containerd-root"
state = "$dir/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = ""

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/containerd-opt"
EOF
  containerd --config "$dir/containerd.toml" </dev/null >>"$dir/containerd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/containerd.ci.pid"
  if _ci_wait "$pid" "$dir/containerd.log" containerd ctr -a "$dir/containerd.sock" version; then
    export CONTAINERD_ADDRESS="$dir/containerd.sock"
    return 0
  fi
  _ci_stop_pid "$pid" "$dir" containerd
  return 1
}

# ---------------------------------------------------------------- docker 26
# Docker 26 (Debian 13 "trixie": docker.io 26.1.5, containerd 1.7.24, docker-cli) beside docker 20.10, in both image
# stores. The .debs come from the machine's own Debian mirror, suite trixie, through a private apt state (the system's
# apt state and sources are not touched), and are unpacked with dpkg-deb -x into a cache; dockerd, containerd, the
# shim and the CLI run natively here (glibc 2.34 is enough); runc and docker-init are the system's.
# Facts (checked by hand on Debian 12 + the trixie binaries):
# * the classic store takes --storage-driver=vfs; the containerd image store ({"features":{"containerd-snapshotter":
#   true}}) takes the containerd snapshotters native or overlayfs (vfs/overlay2 start, then every import fails).
# * /info tells the stores apart only by DriverStatus [["driver-type","io.containerd.snapshotter.v1"]].
# * dockerd without --containerd uses /run/containerd/containerd.sock when that exists: each instance here gets its
#   own containerd 1.7 and --containerd, so nothing depends on what else runs on the machine.

_ci_debian_mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# _ci_fetch_trixie NAME "FILE..." PACKAGE...: downloads Debian 13 (trixie) packages under a private apt state (the
# system's apt untouched, nothing installed) and unpacks them with dpkg-deb -x into CACHE/NAME/x; prints that
# directory. Cached: a second call with every FILE (relative to x) present prints it at once.
_ci_fetch_trixie() {
  local name="${1:?name}" files="${2:?files}" cache mirror attempt d f ok=1
  shift 2
  cache="${FERRY_CI_CACHE:-/var/cache/ferry-ci}/$name"
  local x="$cache/x"
  for f in $files; do [ -e "$x/$f" ] || ok=0; done
  if [ "$ok" = 1 ]; then
    echo "$x"
    return 0
  fi
  mirror=$(_ci_debian_mirror)
  rm -rf "$cache"
  mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$cache/apt/preferences.d" "$cache/debs" "$cache/x.tmp"
  touch "$cache/apt/status"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$cache/apt/sources.list"
  local opts=(-q -o "Dir::State=$cache/apt" -o "Dir::State::Lists=$cache/apt/lists" -o "Dir::State::status=$cache/apt/status"
              -o "Dir::Cache=$cache/apt/cache" -o "Dir::Etc::SourceList=$cache/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
              -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$cache/apt/preferences.d" -o "Debug::NoLocking=1"
              -o "APT::Sandbox::User=root")
  for attempt in 1 2 3; do
    if apt-get "${opts[@]}" update >"$cache/apt.log" 2>&1 &&
       (cd "$cache/debs" && apt-get "${opts[@]}" download "$@" >>"$cache/apt.log" 2>&1); then
      break
    fi
    echo "ci: fetching $* from $mirror (trixie), attempt $attempt failed; retrying" >&2
    sleep 5
  done
  for d in "$@"; do
    if ! ls "$cache/debs/${d}_"*.deb >/dev/null 2>&1; then
      echo "ci: could not download $d from $mirror trixie:" >&2
      tail -n 20 "$cache/apt.log" >&2
      return 1
    fi
  done
  for d in "$cache"/debs/*.deb; do
    dpkg-deb -x "$d" "$cache/x.tmp" || return 1
  done
  for f in $files; do
    [ -e "$cache/x.tmp/$f" ] || { echo "ci: $name: $f missing from the unpacked packages" >&2; return 1; }
  done
  mv "$cache/x.tmp" "$x"
  echo "$x"
}

# ci_fetch_docker26: prints the directory Debian 13's docker.io, containerd and docker-cli are unpacked in.
ci_fetch_docker26() {
  _ci_fetch_trixie docker26 "usr/sbin/dockerd usr/bin/containerd usr/bin/docker" docker.io containerd docker-cli
}

# ci_fetch_sigstore DIR: Debian 13's cosign 2.5 and skopeo 1.18 (Debian 12's skopeo, podman and buildah are built with
# sigstore disabled). cosign runs as it is; skopeo needs trixie's glibc, so DIR/bin/skopeo runs it through trixie's
# own dynamic loader. Exports FERRY_COSIGN and FERRY_SKOPEO_SIGSTORE.
ci_fetch_sigstore() {
  local dir x lib
  dir=$(_ci_dir "${1:-}") || return
  x=$(_ci_fetch_trixie sigstore "usr/bin/cosign usr/bin/skopeo usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
      cosign skopeo libc6 libgpgme11t64 libassuan9 libgpg-error0 libsqlite3-0) || return 1
  lib="$x/usr/lib/x86_64-linux-gnu"
  mkdir -p "$dir/bin"
  printf '#!/bin/sh\nexec "%s" --library-path "%s" "%s" "$@"\n' "$lib/ld-linux-x86-64.so.2" "$lib" "$x/usr/bin/skopeo" >"$dir/bin/skopeo"
  chmod 755 "$dir/bin/skopeo"
  "$x/usr/bin/cosign" version >/dev/null 2>&1 || { echo "ci: trixie's cosign does not run" >&2; return 1; }
  "$dir/bin/skopeo" --version >/dev/null 2>&1 || { echo "ci: trixie's skopeo does not run:" >&2; "$dir/bin/skopeo" --version >&2; return 1; }
  export FERRY_COSIGN="$x/usr/bin/cosign" FERRY_SKOPEO_SIGSTORE="$dir/bin/skopeo"
}

# ci_fetch_release_sysroots: the Debian 11 sysroots build/release.sh links against and ReleaseScriptTests runs the
# binaries in (build/sysroot.sh amd64 and arm64: the packages and SHA-256 build/sysroot.lock pins), fetched before the
# tests so a mirror problem shows here. Cached under FERRY_CI_CACHE (default /var/cache/ferry-ci)/release, exported as
# FERRY_RELEASE_CACHE for the release script.
ci_fetch_release_sysroots() {
  local repo a
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
  export FERRY_RELEASE_CACHE="${FERRY_RELEASE_CACHE:-${FERRY_CI_CACHE:-/var/cache/ferry-ci}/release}"
  for a in amd64 arm64; do
    "$repo/build/sysroot.sh" "$a" >/dev/null || { echo "ci: build/sysroot.sh $a failed" >&2; return 1; }
  done
}

# ci_start_dockerd26 DIR NAME classic|containerd: a private docker 26 under DIR/NAME with its own containerd 1.7.
# Exports FERRY_DOCKER26_CLI and FERRY_DOCKER26_HOST (classic) or FERRY_DOCKER26_CONTAINERD_HOST (containerd store).
ci_start_dockerd26() {
  local dir name="${2:?name}" store="${3:?classic or containerd}" x d pid driver snapshotter
  dir=$(_ci_dir "${1:-}") || return
  x=$(ci_fetch_docker26) || return 1
  d="$dir/$name"
  mkdir -p "$d/root" "$d/exec" "$d/cd-root" "$d/cd-state" "$d/cd-opt" "$d/cli"
  {
    echo 'version = 2'
    echo "root = \"$d/cd-root\""
    echo "state = \"$d/cd-state\""
    echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
    echo '[grpc]'
    echo "  address = \"$d/cd.sock\""
    echo '[ttrpc]'
    echo '  address = ""'
    echo '[debug]'
    echo '  address = ""'
    echo '[metrics]'
    echo '  address = ""'
    echo '[plugins."io.containerd.internal.v1.opt"]'
    echo "  path = \"$d/cd-opt\""
  } >"$d/containerd.toml"
  PATH="$x/usr/bin:$PATH" "$x/usr/bin/containerd" --config "$d/containerd.toml" </dev/null >>"$d/containerd.log" 2>&1 &
  echo $! >"$d/containerd.ci.pid"
  _ci_wait "$(cat "$d/containerd.ci.pid")" "$d/containerd.log" "$name: containerd 1.7" "$x/usr/bin/ctr" -a "$d/cd.sock" version || return 1
  if [ "$store" = containerd ]; then
    driver=native
    snapshotter=true
  else
    driver=vfs
    snapshotter=false
  fi
  printf '{ "features": { "containerd-snapshotter": %s } }\n' "$snapshotter" >"$d/daemon.json"
  PATH="$x/usr/sbin:$x/usr/bin:$PATH" "$x/usr/sbin/dockerd" --config-file "$d/daemon.json" \
    --containerd "$d/cd.sock" --storage-driver="$driver" \
    --iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
    --data-root "$d/root" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
    -H "unix://$d/docker.sock" </dev/null >>"$d/dockerd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$d/dockerd.ci.pid"
  _ci_wait "$pid" "$d/dockerd.log" "$name: dockerd 26" "$x/usr/bin/docker" --config "$d/cli" -H "unix://$d/docker.sock" version || return 1
  export FERRY_DOCKER26_CLI="$x/usr/bin/docker"
  if [ "$store" = containerd ]; then
    export FERRY_DOCKER26_CONTAINERD_HOST="unix://$d/docker.sock"
  else
    export FERRY_DOCKER26_HOST="unix://$d/docker.sock"
  fi
}

_ci_stop_dockerd26() {
  local dir="$1" name="$2" d
  d="$dir/$name"
  [ -d "$d" ] || return 0
  if [ -s "$d/dockerd.ci.pid" ]; then
    _ci_stop_pid "$(cat "$d/dockerd.ci.pid")" "$dir" "dockerd 26 ($name)"
    rm -f "$d/dockerd.ci.pid"
  fi
  if [ -s "$d/containerd.ci.pid" ]; then
    _ci_stop_pid "$(cat "$d/containerd.ci.pid")" "$dir" "containerd 1.7 ($name)"
    rm -f "$d/containerd.ci.pid"
  fi
}

# Podman needs no daemon: just an isolated store. Exports:
#   FERRY_PODMAN_ARGS        flags to put after `podman` (word-split it)
#   CONTAINERS_STORAGE_CONF  + CONTAINERS_CONF  so plain `podman`/`skopeo` use DIR too
ci_setup_podman() {
  local dir
  dir=$(_ci_dir "${1:-}") || return
  export FERRY_CI_DIR="$dir"
  mkdir -p "$dir/podman-root" "$dir/podman-run" "$dir/podman-tmp"
  cat >"$dir/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$dir/podman-root"
runroot = "$dir/podman-run"
EOF
  cat >"$dir/containers.conf" <<EOF
[engine]
events_logger = "none"
cgroup_manager = "cgroupfs"
tmp_dir = "$dir/podman-tmp"
EOF
  export CONTAINERS_STORAGE_CONF="$dir/storage.conf"
  export CONTAINERS_CONF="$dir/containers.conf"
  export FERRY_PODMAN_ARGS="--root $dir/podman-root --runroot $dir/podman-run --storage-driver vfs --tmpdir $dir/podman-tmp --events-backend none --cgroup-manager cgroupfs"
}

# ci_podman ARGS...: podman on the isolated store of $FERRY_CI_DIR.
ci_podman() {
  local dir
  dir=$(_ci_dir "") || return
  podman --root "$dir/podman-root" --runroot "$dir/podman-run" --storage-driver vfs \
    --tmpdir "$dir/podman-tmp" --events-backend none --cgroup-manager cgroupfs "$@"
}

ci_stop_all() {
  local dir pid
  dir=$(_ci_dir "${1:-}") || return
  _ci_stop_dockerd26 "$dir" d26
  _ci_stop_dockerd26 "$dir" d26c
  if [ -s "$dir/dockerd.ci.pid" ]; then
    pid=$(cat "$dir/dockerd.ci.pid")
    _ci_stop_pid "$pid" "$dir" dockerd
    rm -f "$dir/dockerd.ci.pid"
  fi
  # dockerd normally stops its own containerd; make sure it is gone.
  if [ -s "$dir/docker-exec/containerd/containerd.pid" ]; then
    pid=$(cat "$dir/docker-exec/containerd/containerd.pid")
    _ci_stop_pid "$pid" "$dir" "dockerd's containerd"
  fi
  if [ -s "$dir/containerd.ci.pid" ]; then
    pid=$(cat "$dir/containerd.ci.pid")
    _ci_stop_pid "$pid" "$dir" containerd
    rm -f "$dir/containerd.ci.pid"
  fi
  [ "${DOCKER_HOST:-}" = "unix://$dir/docker.sock" ] && unset DOCKER_HOST
  [ "${CONTAINERD_ADDRESS:-}" = "$dir/containerd.sock" ] && unset CONTAINERD_ADDRESS
  return 0
}

# ci_tally_dotnet_test LOG: print "N passed, N failed, N skipped" summed over the
# per-assembly summary lines of `dotnet test` (VSTest):
#   Passed!  - Failed:     0, Passed:     5, Skipped:     0, Total:     5, Duration: ...
#   Failed!  - Failed:     1, Passed:     4, Skipped:     0, Total:     5, Duration: ...
# If there are none, falls back to Microsoft.Testing.Platform's "Test run summary"
# block (total:/failed:/succeeded:/skipped: lines). Returns 1 when no test ran
# (passed + failed == 0).
ci_tally_dotnet_test() {
  local log="$1" out
  out=$(sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/\r$//' "$log" | awk '
    function num(s, key,   r) {
      r = s
      if (!match(r, key ":[ \t]*[0-9]+")) return 0
      r = substr(r, RSTART, RLENGTH); sub(/^[^0-9]*/, "", r); return r + 0
    }
    /(Passed|Failed)![ \t]+-[ \t]+Failed:[ \t]*[0-9]+,[ \t]*Passed:[ \t]*[0-9]+/ {
      vf += num($0, "Failed"); vp += num($0, "Passed"); vs += num($0, "Skipped")
      vt += num($0, "Total"); vn++; next
    }
    /^[ \t]*Test run summary:/ { insum = 1; mn++; next }
    insum && /^[ \t]*total:[ \t]*[0-9]+/     { mt += num($0, "total"); next }
    insum && /^[ \t]*failed:[ \t]*[0-9]+/    { mf += num($0, "failed"); next }
    insum && /^[ \t]*succeeded:[ \t]*[0-9]+/ { mp += num($0, "succeeded"); next }
    insum && /^[ \t]*skipped:[ \t]*[0-9]+/   { ms += num($0, "skipped"); next }
    insum && /^[ \t]*duration:/ { insum = 0; next }
    END {
      if (vn > 0)      printf "%d %d %d %d\n", vp, vf, vs, vt
      else if (mn > 0) printf "%d %d %d %d\n", mp, mf, ms, mt
      else             printf "0 0 0 0\n"
    }')
  local p f s t
  read -r p f s t <<<"$out"
  echo "$p passed, $f failed, $s skipped"
  [ "$((p + f))" -gt 0 ]
}
