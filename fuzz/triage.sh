#!/usr/bin/env bash
# Groups the saved crashes (and hangs) of a target by exception type and the first Ferry frame of the stack.
#   fuzz/triage.sh TARGET      (after fuzz/run.sh TARGET; prints one line per distinct crash with an example file)
set -euo pipefail
target=${1:?usage: $0 TARGET}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for kind in crashes hangs; do
    for f in findings/"$target"/default/"$kind"/id:*; do
        [[ -f "$f" ]] || continue
        out=$(TMPDIR="$scratch" timeout 60 "${FUZZ_REPLAY:-./out/Ferry.Fuzz}" "$target" "$f" 2>&1 || true)
        first=$(printf '%s\n' "$out" | sed -n 2p)
        type=${first%%:*}
        [[ -n "$type" ]] || type="(no exception: $(printf '%s\n' "$out" | head -1 | cut -c1-60))"
        frame=$(printf '%s\n' "$out" | grep -m1 -E '^   at Ferry\.(Archive|Compression|Copy|Digests|Inspect|Model|Transports|Verify|[A-Za-z]+Exception)' | sed -E 's/^   at //; s/\(.*\)//' || true)
        [[ -n "$frame" ]] || frame=$(printf '%s\n' "$out" | grep -m1 '^   at ' | sed -E 's/^   at //; s/\(.*\)//' || true)
        printf '%s\t%s\t%s\t%s\n' "$kind" "$type" "$frame" "$f"
    done
done | sort -t$'\t' -k1,3 | awk -F'\t' '{ key=$1 FS $2 FS $3; n[key]++; if (!(key in ex)) ex[key]=$4 } END { for (k in n) print n[k] "\t" k "\t" ex[k] }' | sort -t$'\t' -k2,4
