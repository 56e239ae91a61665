#!/usr/bin/env bash
# build/release.sh VERSION OUTDIR: builds a Ferry release into OUTDIR (new or empty):
#   ferry-VERSION-linux-x64.tar.gz, ferry-VERSION-linux-arm64.tar.gz   the NativeAOT ferry, README.md, LICENSE, NOTICE,
#                                                                      completions/ (bash, zsh, fish, pwsh), samples/
#   ferry-VERSION-linux-x64.cdx.json, ferry-VERSION-linux-arm64.cdx.json   CycloneDX SBOM of each binary (build/sbom.sh)
#   Ferry.Core.VERSION.nupkg/.snupkg, Ferry.Cli.VERSION.nupkg/.snupkg      the library and the dotnet tool, Apache-2.0
#   SHA256SUMS                                                             of every file above (sha256sum -c SHA256SUMS)
#
# Each binary is linked against Debian 11's C library (build/sysroot.sh, pinned by build/sysroot.lock) with lld, and
# exp/exp2/log/log2/pow bound to their old glibc versions (build/glibc-compat.c via build/Release.targets), so it needs
# at most GLIBC_2.28 (RHEL 8): `objdump -T` checks it here, and the script fails otherwise.
#
# Needs: an x86_64 Debian/Ubuntu machine with the .NET 10 SDK (10.0.4xx or later for deterministic packages), clang,
# lld, binutils, jq, unzip, apt-get and dpkg-deb, and the package registries (NuGet; the Debian mirror for the sysroot once).
# Deterministic where the toolchain allows: every time stamp is SOURCE_DATE_EPOCH (default: the commit's time); the
# same commit and toolchain give the same bytes (the README's "Build and release" says what was measured).
#
# Knobs: FERRY_RELEASE_CACHE (sysroots; default ~/.cache/ferry-release), FERRY_RELEASE_KEEP=1 keeps the work folder.
set -euo pipefail

usage() { echo "usage: build/release.sh VERSION OUTDIR   (VERSION like 1.2.3 or 1.2.3-rc.1)" >&2; exit 2; }
[ "$#" -eq 2 ] || usage
version="$1"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "release: '$version' is not a version like 1.2.3 or 1.2.3-rc.1" >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
mkdir -p "$2"
out=$(cd "$2" && pwd -P)
[ -z "$(ls -A "$out")" ] || { echo "release: $out is not empty (a release is written into a new or empty folder)" >&2; exit 2; }

say() { printf 'release: %s\n' "$*" >&2; }
die() { printf 'release: %s\n' "$*" >&2; exit 1; }

[ "$(uname -sm)" = "Linux x86_64" ] || die "builds on x86_64 Linux only (it runs the x64 binary to write the completion scripts)"
for c in dotnet clang ld.lld objdump readelf jq apt-get dpkg-deb sha256sum tar gzip unzip flock; do
  command -v "$c" >/dev/null 2>&1 || die "needs $c (Debian: apt-get install clang lld binutils jq unzip)"
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null) || die "not a git checkout: set SOURCE_DATE_EPOCH"
fi
export SOURCE_DATE_EPOCH # NuGet pack's DeterministicTimestamp, the SBOM's timestamp, the tar entries' mtime

# One fixed work folder, whoever builds where: its path ends up in the output (lld names the binary's version
# definition after the file it links, the assemblies name their PDB's path), so the same path gives the same bytes.
# A second release on the machine waits for the first.
work=/tmp/ferry-release
exec 8>"$work.lock"
flock -n 8 || { say "waiting for the release already building in $work"; flock 8; }
rm -rf "$work"
mkdir -p "$work"
trap '[ "${FERRY_RELEASE_KEEP:-0}" = 1 ] && say "kept $work" || rm -rf "$work"' EXIT
start=$(date +%s)
say "Ferry $version, commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'), SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH, work folder $work"

# The common flags of every dotnet call: one artifacts folder of our own (the checkout's bin/obj are not touched), the
# version, CI paths (/_/ in the PDBs and the binary), no build servers left running.
common=(-c Release --artifacts-path "$work/artifacts" --disable-build-servers "-p:Version=$version" -p:ContinuousIntegrationBuild=true)

# glibc_ceiling FILE: the highest GLIBC_x.y the dynamic symbols of FILE need.
glibc_ceiling() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1
}

for rid in linux-x64 linux-arm64; do
  case "$rid" in
    linux-x64) arch=amd64 triple=x86_64-linux-gnu machine="Advanced Micro Devices X86-64" ;;
    linux-arm64) arch=arm64 triple=aarch64-linux-gnu machine="AArch64" ;;
  esac
  t0=$(date +%s)
  sysroot=$("$repo/build/sysroot.sh" "$arch")
  (cd "$repo/build" && clang --target="$triple" --sysroot="$sysroot" -O2 -fPIC -c glibc-compat.c -o "$work/glibc-compat-$rid.o")
  say "$rid: NativeAOT publish against Debian 11's glibc ($sysroot)"
  dotnet publish "$repo/src/Ferry.Cli" "${common[@]}" -r "$rid" -p:PublishAot=true -o "$work/publish-$rid" \
    "-p:SysRoot=$sysroot" -p:LinkerFlavor=lld \
    "-p:CustomAfterMicrosoftCommonTargets=$repo/build/Release.targets" "-p:FerryGlibcCompat=$work/glibc-compat-$rid.o" \
    >"$work/publish-$rid.log" 2>&1 || { tail -n 40 "$work/publish-$rid.log" >&2; die "$rid: dotnet publish failed"; }
  bin="$work/publish-$rid/ferry"
  [ "$(ls -A "$work/publish-$rid")" = ferry ] || die "$rid: the publish folder holds more than ferry: $(ls -A "$work/publish-$rid" | tr '\n' ' ')"
  readelf -h "$bin" | grep -q "Machine: *$machine" || die "$rid: $bin is not a $machine executable"
  ceiling=$(glibc_ceiling "$bin")
  if [ "$(printf '%s\n2.28\n' "$ceiling" | sort -V | tail -n 1)" != 2.28 ]; then
    objdump -T "$bin" | grep -E 'GLIBC_(2\.(29|[3-9][0-9])|[3-9])' >&2 || true
    die "$rid: ferry needs GLIBC_$ceiling; a release needs at most GLIBC_2.28 (the symbols above)"
  fi
  echo "$ceiling" >"$work/glibc-$rid"
  cp "$work/artifacts/obj/Ferry.Cli/project.assets.json" "$work/assets-$rid.json"
  "$repo/build/sbom.sh" "$work/assets-$rid.json" "$rid" >"$out/ferry-$version-$rid.cdx.json"
  say "$rid: ferry $(stat -c %s "$bin") bytes, needs GLIBC_$ceiling at most; $(jq '.components | length' "$out/ferry-$version-$rid.cdx.json") components in the SBOM ($(($(date +%s) - t0)) s)"
done

# NOTICE is made from the SBOMs: the committed one must be what build/notice.sh says now.
"$repo/build/notice.sh" "$out"/ferry-"$version"-linux-*.cdx.json >"$work/NOTICE"
diff -u "$repo/NOTICE" "$work/NOTICE" >&2 || die "NOTICE is not what the SBOMs say: build/notice.sh OUTDIR/*.cdx.json > NOTICE, and commit it"

# The completion scripts (the same for both architectures), written by the x64 binary.
mkdir -p "$work/completions"
"$work/publish-linux-x64/ferry" completion bash >"$work/completions/ferry.bash"
"$work/publish-linux-x64/ferry" completion zsh >"$work/completions/_ferry"
"$work/publish-linux-x64/ferry" completion fish >"$work/completions/ferry.fish"
"$work/publish-linux-x64/ferry" completion pwsh >"$work/completions/ferry.ps1"
got=$("$work/publish-linux-x64/ferry" --version)
[[ "$got" == "$version+"* ]] || die "ferry --version says '$got', not $version+COMMIT"

for rid in linux-x64 linux-arm64; do
  name="ferry-$version-$rid"
  d="$work/stage/$name"
  mkdir -p "$d/completions" "$d/samples"
  cp "$work/publish-$rid/ferry" "$d/ferry"
  cp "$repo/README.md" "$repo/LICENSE" "$repo/NOTICE" "$d/"
  cp "$work"/completions/* "$d/completions/"
  cp "$repo/samples/ferry-sample.tar" "$repo/samples/README.md" "$d/samples/"
  chmod 755 "$d/ferry"
  tar -C "$work/stage" --sort=name --owner=0 --group=0 --numeric-owner --mode='u+rwX,go+rX,go-w' \
    --mtime="@$SOURCE_DATE_EPOCH" --format=gnu -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
done

say "NuGet packages"
for p in Ferry.Core Ferry.Cli; do
  dotnet pack "$repo/src/$p" "${common[@]}" -o "$out" >"$work/pack-$p.log" 2>&1 || { tail -n 40 "$work/pack-$p.log" >&2; die "dotnet pack $p failed"; }
  for f in "$p.$version.nupkg" "$p.$version.snupkg"; do
    [ -f "$out/$f" ] || die "dotnet pack $p wrote no $f"
  done
  unzip -p "$out/$p.$version.nupkg" "$p.nuspec" | grep -q '<license type="expression">Apache-2.0</license>' ||
    die "$p.$version.nupkg: its nuspec names no Apache-2.0 licence"
done

(cd "$out" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
say "done in $(($(date +%s) - start)) s: $out (x64 needs GLIBC_$(cat "$work/glibc-linux-x64"), arm64 GLIBC_$(cat "$work/glibc-linux-arm64"))"
(cd "$out" && ls -l) >&2
