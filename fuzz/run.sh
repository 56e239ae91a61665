#!/usr/bin/env bash
# Fuzzes one target of Ferry.Core with AFL++ and SharpFuzz for a number of minutes.
#
#   fuzz/run.sh TARGET [MINUTES]      TARGET: archive | json | reference   (MINUTES: default 10)
#
# Environment:
#   FUZZ_NO_BUILD=1   reuse fuzz/out/ (skip publish + instrumentation)
#   FUZZ_FRESH=1      delete fuzz/findings/TARGET first (default: resume where the last run stopped)
#   FUZZ_TIMEOUT_MS   afl-fuzz -t (default 10000; a slower input is saved as a hang)
#   FUZZ_OUT=NAME     findings go to fuzz/findings/NAME instead of fuzz/findings/TARGET
#   FUZZ_SEEDS=DIR    start from DIR instead of fuzz/seeds/TARGET (e.g. an earlier run's queue, copied out)
#   FERRY_FUZZ_IGNORE substrings separated by '|': a crash whose exception text (type, message, stack) contains one
#                     is not reported, to look past bugs already found, e.g.
#                     FERRY_FUZZ_IGNORE='DecoderFallbackException|SharpCompress.Common' FUZZ_OUT=archive-2 fuzz/run.sh archive 20
#
# Findings go to fuzz/findings/TARGET/default/{crashes,hangs,queue}. Replay one with
#   fuzz/out/Ferry.Fuzz TARGET < FILE        or        fuzz/out/Ferry.Fuzz TARGET FILE...
set -euo pipefail

target=${1:-}
minutes=${2:-10}
case "$target" in
    archive | json | reference) ;;
    *)
        echo "usage: $0 {archive|json|reference} [MINUTES]" >&2
        exit 2
        ;;
esac
[[ "$minutes" =~ ^[0-9]+$ && "$minutes" -gt 0 ]] || { echo "$0: MINUTES must be a positive integer" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

# --- tools -------------------------------------------------------------------------------------------------------
if ! command -v afl-fuzz >/dev/null; then
    echo "== installing afl++"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null; then
    echo "== installing SharpFuzz.CommandLine"
    dotnet tool install -g SharpFuzz.CommandLine --version 2.3.0
fi

# --- build: publish the harness, then instrument Ferry.Core.dll in place -----------------------------------------
# --artifacts-path keeps every build output (Ferry.Core's too) under fuzz/artifacts, away from src/*/bin and obj.
if [[ "${FUZZ_NO_BUILD:-}" != 1 || ! -x out/Ferry.Fuzz ]]; then
    echo "== publishing the harness"
    rm -rf out # publish would not overwrite an instrumented (newer) Ferry.Core.dll
    dotnet publish Ferry.Fuzz.csproj -c Release --artifacts-path artifacts -o out -nologo -v quiet
    echo "== instrumenting out/Ferry.Core.dll"
    sharpfuzz out/Ferry.Core.dll
fi

# --- fuzz --------------------------------------------------------------------------------------------------------
findings="findings/${FUZZ_OUT:-$target}"
if [[ "${FUZZ_FRESH:-}" == 1 ]]; then
    rm -rf "$findings"
fi
mkdir -p findings
# The archive target writes its temp files under TMPDIR; tmpfs keeps that (and fsync) cheap.
scratch=/dev/shm/ferry-fuzz-${FUZZ_OUT:-$target}
[[ -d /dev/shm && -w /dev/shm ]] || scratch=${TMPDIR:-/tmp}/ferry-fuzz-${FUZZ_OUT:-$target}
rm -rf "$scratch"
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT

echo "== afl-fuzz $target for $minutes min (findings in fuzz/$findings, its output in fuzz/$findings.log)"
set +e
TMPDIR="$scratch" \
AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_AUTORESUME=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 \
AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_IGNORE_SEED_PROBLEMS=1 \
    afl-fuzz -i "${FUZZ_SEEDS:-seeds/$target}" -o "$findings" -x "dict/$target.dict" -t "${FUZZ_TIMEOUT_MS:-10000}" -m none \
    -V $((minutes * 60)) -- ./out/Ferry.Fuzz "$target" >"$findings.log" 2>&1
rc=$?
[[ $rc == 0 ]] || tail -n 30 "$findings.log" >&2
set -e

# --- report ------------------------------------------------------------------------------------------------------
stats="$findings/default/fuzzer_stats"
if [[ -f "$stats" ]]; then
    echo "== $target: $(grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|stability)' "$stats" | tr -s ' ' | tr '\n' ' ')"
fi
for kind in crashes hangs; do
    dir="$findings/default/$kind"
    n=$(find "$dir" -type f -name 'id:*' 2>/dev/null | wc -l)
    echo "== $kind: $n in fuzz/$dir"
    find "$dir" -type f -name 'id:*' 2>/dev/null | sort | sed 's/^/   fuzz\//'
done
echo "== replay: fuzz/out/Ferry.Fuzz $target < FILE   (or fuzz/out/Ferry.Fuzz $target FILE... to replay many)"
exit $rc
