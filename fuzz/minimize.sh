#!/usr/bin/env bash
# Minimises one crashing input with afl-tmin and keeps the result only if it still fails the same way
# (same exception type and first Ferry.Core frame); otherwise keeps the original.
#   fuzz/minimize.sh TARGET CRASHFILE DEST
set -euo pipefail
target=${1:?usage: $0 TARGET CRASHFILE DEST}
input=${2:?}
dest=${3:?}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

signature() {
    local out
    out=$(TMPDIR="$scratch" timeout 60 "$here/out/Ferry.Fuzz" "$target" "$1" 2>&1 || true)
    printf '%s\n' "$out" | sed -n 2p | sed -E 's/:.*//'
    printf '%s\n' "$out" | grep -m1 -E '^   at Ferry\.' | grep -v -E 'Ferry\.(Tests|Fuzz)\.' | sed -E 's/\(.*//' || true
    # a FuzzInvariantException: its message names the broken invariant
    printf '%s\n' "$out" | sed -n 2p | grep -o 'FuzzInvariantException: [^:]*' || true
}

want=$(signature "$input")
TMPDIR="$scratch" AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 timeout 600 \
    afl-tmin -i "$input" -o "$scratch/min" -t 10000 -m none -- "$here/out/Ferry.Fuzz" "$target" >"$scratch/tmin.log" 2>&1 || true
if [[ -s "$scratch/min" && "$(signature "$scratch/min")" == "$want" ]]; then
    cp "$scratch/min" "$dest"
    echo "minimised $(stat -c %s "$input") -> $(stat -c %s "$dest") bytes: $dest"
else
    cp "$input" "$dest"
    echo "kept the original ($(stat -c %s "$input") bytes; the minimised input failed differently): $dest"
fi
printf '   %s\n' "$want"
