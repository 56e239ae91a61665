#!/usr/bin/env bash
# build/sysroot.sh ARCH: prints the directory that holds Debian 11's C library for ARCH (amd64 or arm64), unpacked
# from exactly the packages build/sysroot.lock pins. The release links against it (so the binary needs no newer glibc
# than 2.31, and with build/glibc-compat.c no newer than 2.17), and the release test runs the binary on it.
#
# * The .debs come from the machine's Debian mirror (else archive.debian.org) through apt under a private state: the
#   system's apt state and sources are not touched, nothing is installed. Each .deb's sha256 is checked against the lock.
# * Cached in ${FERRY_RELEASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-release} (debs/ and sysroot-ARCH-KEY/,
#   KEY from the lock's lines for ARCH): a second call downloads nothing and prints the directory at once.
# * Unpacked with dpkg-deb -x; absolute symlinks are made relative, so the tree is a sysroot and a chroot alike.
set -euo pipefail

arch="${1:?usage: build/sysroot.sh amd64|arm64}"
case "$arch" in amd64 | arm64) ;; *) echo "sysroot: unknown architecture '$arch' (amd64 or arm64)" >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
lock="$here/sysroot.lock"
cache="${FERRY_RELEASE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry-release}"
mkdir -p "$cache/debs"
cache=$(cd "$cache" && pwd -P)

# suite arch package version sha256, for ARCH only.
lines=$(awk -v a="$arch" '!/^#/ && NF == 5 && $2 == a' "$lock")
[ -n "$lines" ] || { echo "sysroot: $lock pins no package for $arch" >&2; exit 1; }
key=$(printf '%s\n' "$lines" | sha256sum | cut -c1-16)
root="$cache/sysroot-$arch-$key"

if [ -e "$root/.complete" ]; then
  echo "$root"
  exit 0
fi

exec 9>"$cache/.lock"
flock 9
if [ -e "$root/.complete" ]; then
  echo "$root"
  exit 0
fi

deb_of() { # package version arch -> the file name apt-get download writes
  echo "${1}_${2//:/%3a}_${3}.deb"
}

sha_ok() { # file sha256
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

mirror() {
  local m=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# Downloads every missing or wrong .deb the lock names for ARCH; returns 1 if some are still missing afterwards.
fetch() {
  local m="$1" suite apt opts want=() s a p v h
  while read -r s a p v h; do
    sha_ok "$cache/debs/$(deb_of "$p" "$v" "$a")" "$h" || want+=("$p:$a=$v")
    suite="$s"
  done <<<"$lines"
  [ "${#want[@]}" -gt 0 ] || return 0
  apt="$cache/apt-$suite"
  rm -rf "$apt"
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/preferences.d"
  touch "$apt/status"
  echo "deb [arch=amd64,arm64 lang=none target=Packages signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $m $suite main" >"$apt/sources.list"
  opts=(-q -o "Dir::State=$apt" -o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
        -o "Dir::Cache=$apt/cache" -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=$apt/preferences.d" -o "Debug::NoLocking=1"
        -o "APT::Sandbox::User=root" -o "APT::Architecture=amd64" -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64")
  echo "sysroot: downloading ${want[*]} from $m ($suite)" >&2
  apt-get "${opts[@]}" update >"$apt/apt.log" 2>&1 &&
    (cd "$cache/debs" && apt-get "${opts[@]}" download "${want[@]}" >>"$apt/apt.log" 2>&1) || {
    echo "sysroot: apt-get against $m failed:" >&2
    tail -n 5 "$apt/apt.log" >&2
    return 1
  }
}

missing() {
  local s a p v h n=0
  while read -r s a p v h; do
    local f="$cache/debs/$(deb_of "$p" "$v" "$a")"
    if ! sha_ok "$f" "$h"; then
      [ -f "$f" ] && echo "sysroot: $f: sha256 $(sha256sum "$f" | cut -d' ' -f1), the lock says $h" >&2
      n=$((n + 1))
    fi
  done <<<"$lines"
  [ "$n" -gt 0 ]
}

if missing 2>/dev/null; then
  for m in "$(mirror)" http://archive.debian.org/debian; do
    for attempt in 1 2; do
      fetch "$m" && ! missing 2>/dev/null && break 2
      sleep 3
    done
  done
fi
if missing; then
  echo "sysroot: could not get every package build/sysroot.lock pins for $arch with its sha256" >&2
  exit 1
fi

rm -rf "$root.tmp"
mkdir -p "$root.tmp"
while read -r s a p v h; do
  dpkg-deb -x "$cache/debs/$(deb_of "$p" "$v" "$a")" "$root.tmp"
done <<<"$lines"
# Absolute symlinks (lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-2.31.so, …) point into the tree instead.
find "$root.tmp" -type l | while read -r l; do
  t=$(readlink "$l")
  case "$t" in /*) ln -sfn "$(realpath -ms --relative-to="$(dirname "$l")" "$root.tmp$t")" "$l" ;; esac
done
printf '%s\n' "$lines" >"$root.tmp/.complete"
rm -rf "$root"
mv "$root.tmp" "$root"
echo "$root"
