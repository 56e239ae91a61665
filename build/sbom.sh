#!/usr/bin/env bash
# build/sbom.sh ASSETS RID: writes (stdout) a CycloneDX 1.6 JSON SBOM of what the NativeAOT ferry for RID contains,
# read from the publish's NuGet assets file (obj/project.assets.json, restored for RID), not written by hand:
# * every package whose code is compiled in (the target's packages with runtime assets), with version, licence (the
#   package's own .nuspec in the NuGet cache), SHA-512 (the assets file's) and package URL;
# * Ferry's own projects (Ferry.Core), at the version built;
# * the .NET runtime and ASP.NET Core (Kestrel, for `ferry serve`) compiled in: the NativeAOT runtime packs the
#   restore downloaded, with their versions and licences;
# * the build tools (ILCompiler, the SDK) under metadata.tools.
# Build-only packages (ILLink, the ILCompiler) are not components: no code of theirs is in the binary.
# Deterministic: the timestamp is SOURCE_DATE_EPOCH's (else now); no serial number.
set -euo pipefail

assets="${1:?usage: build/sbom.sh ASSETS RID}"
rid="${2:?usage: build/sbom.sh ASSETS RID}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
target="net10.0/$rid"
jq -e --arg t "$target" '.targets[$t]' "$assets" >/dev/null || { echo "sbom: $assets has no target $target" >&2; exit 1; }

folders=$(jq -r '.packageFolders | keys[]' "$assets")

nuspec_of() { # id version -> path of the package's .nuspec in a package folder
  local id="${1,,}" v="${2,,}" f
  for f in $folders; do
    [ -f "$f/$id/$v/$id.nuspec" ] && { echo "$f/$id/$v/$id.nuspec"; return 0; }
  done
  echo "sbom: no .nuspec for $1 $2 in $folders" >&2
  return 1
}

tag() { # file element -> the element's text (first one)
  sed -n "s:.*<$2\(\s[^>]*\)\?>\([^<]*\)</$2>.*:\2:p" "$1" | head -n 1 | sed -e 's/&amp;/\&/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&apos;/'/g"
}

licence_json() { # nuspec -> CycloneDX licenses array
  local n="$1" expr url
  expr=$(sed -n 's:.*<license[^>]*type="expression"[^>]*>\([^<]*\)</license>.*:\1:p' "$n" | head -n 1)
  if [ -n "$expr" ]; then
    if [[ "$expr" =~ ^[A-Za-z0-9.+-]+$ ]]; then
      jq -cn --arg id "$expr" '[{license: {id: $id}}]'
    else
      jq -cn --arg e "$expr" '[{expression: $e}]'
    fi
    return
  fi
  url=$(tag "$n" licenseUrl)
  if [ -n "$url" ]; then
    jq -cn --arg u "$url" '[{license: {name: "see URL", url: $u}}]'
  else
    echo "sbom: $n names no licence" >&2
    return 1
  fi
}

hex_of_b64() { base64 -d | od -An -v -tx1 | tr -d ' \n'; }

component() { # type id version group-ref -> one component, from the package's .nuspec
  local type="$1" id="$2" v="$3" n lic sha url copy
  n=$(nuspec_of "$id" "$v")
  lic=$(licence_json "$n")
  sha=$(jq -r --arg k "$id/$v" '.libraries[$k].sha512 // empty' "$assets")
  if [ -z "$sha" ]; then
    local f="${n%/*}/${id,,}.${v,,}.nupkg.sha512"
    [ -f "$f" ] && sha=$(cat "$f")
  fi
  url=$(tag "$n" projectUrl)
  copy=$(tag "$n" copyright)
  jq -cn --arg type "$type" --arg id "$id" --arg v "$v" --argjson lic "$lic" --arg sha "$( [ -n "$sha" ] && printf '%s' "$sha" | hex_of_b64)" \
    --arg url "$url" --arg copy "$copy" --arg authors "$(tag "$n" authors)" '
    {type: $type, "bom-ref": "pkg:nuget/\($id)@\($v)", name: $id, version: $v, purl: "pkg:nuget/\($id)@\($v)", licenses: $lic}
    + (if $authors != "" then {author: $authors} else {} end)
    + (if $copy != "" then {copyright: $copy} else {} end)
    + (if $sha != "" then {hashes: [{alg: "SHA-512", content: $sha}]} else {} end)
    + (if $url != "" then {externalReferences: [{type: "website", url: $url}]} else {} end)'
}

comps=()
# Packages whose code is compiled in.
while IFS=$'\t' read -r id v; do
  comps+=("$(component library "$id" "$v")")
done < <(jq -r --arg t "$target" '.targets[$t] | to_entries[] | select(.value.type == "package" and (.value.runtime // {} | keys | map(select(endswith("/_._") | not)) | length > 0))
  | .key | split("/") | "\(.[0])\t\(.[1])"' "$assets")
# Ferry's own projects.
version=$(jq -r '.project.version' "$assets")
while IFS=$'\t' read -r id v; do
  lic=$(sed -n 's:.*<PackageLicenseExpression>\([^<]*\)<.*:\1:p' "$here/../src/$id/$id.csproj" | head -n 1)
  comps+=("$(jq -cn --arg id "$id" --arg v "$v" --arg lic "${lic:?sbom: src/$id/$id.csproj sets no PackageLicenseExpression}" \
    '{type: "library", "bom-ref": "project:\($id)@\($v)", name: $id, version: $v, licenses: [{license: {id: $lic}}]}')")
done < <(jq -r --arg t "$target" '.targets[$t] | to_entries[] | select(.value.type == "project") | .key | split("/") | "\(.[0])\t\(.[1])"' "$assets")
# The runtime packs compiled in: the .NET runtime (NativeAOT) and ASP.NET Core.
runtime=""
while IFS=$'\t' read -r id v; do
  comps+=("$(component framework "$id" "$v")")
  case "$id" in Microsoft.NETCore.App.Runtime.NativeAOT.*) runtime="$v" ;; esac
done < <(jq -r --arg rid "$rid" '.project.frameworks[].downloadDependencies[]
  | select(.name == "Microsoft.NETCore.App.Runtime.NativeAOT.\($rid)" or .name == "Microsoft.AspNetCore.App.Runtime.\($rid)")
  | "\(.name)\t\(.version | ltrimstr("[") | split(",")[0])"' "$assets")
[ -n "$runtime" ] || { echo "sbom: $assets downloaded no Microsoft.NETCore.App.Runtime.NativeAOT.$rid (not a NativeAOT publish?)" >&2; exit 1; }
tools=()
while IFS=$'\t' read -r id v; do
  tools+=("$(component application "$id" "$v")")
done < <(jq -r --arg t "$target" '.targets[$t] | keys[] | select(test("ILCompiler/")) | split("/") | "\(.[0])\t\(.[1])"' "$assets")

ts=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' "${comps[@]}" | jq -s --arg ts "$ts" --arg v "$version" --arg rid "$rid" --arg runtime "$runtime" \
  --arg sdk "$(dotnet --version 2>/dev/null || echo unknown)" --argjson tools "$(printf '%s\n' "${tools[@]}" | jq -s .)" \
  --argjson deps "$(jq -c --arg t "$target" '.targets[$t]' "$assets")" --argjson direct "$(jq -c '[.project.frameworks[].dependencies | keys[]]' "$assets")" '
  . as $c
  | ($c | map({key: .name, value: .["bom-ref"]}) | from_entries) as $ref
  | {
      bomFormat: "CycloneDX",
      specVersion: "1.6",
      version: 1,
      metadata: {
        timestamp: $ts,
        tools: {components: ($tools + [{type: "application", name: "build/sbom.sh", description: "Ferry: CycloneDX from the NuGet assets file and the packages .nuspec files"},
                                       {type: "application", name: ".NET SDK", version: $sdk}])},
        component: {type: "application", "bom-ref": "ferry", name: "ferry", version: $v, licenses: [{license: {id: "Apache-2.0"}}],
                    description: "ferry, NativeAOT, \($rid)"},
        properties: [{name: "ferry:rid", value: $rid}, {name: "ferry:dotnet-runtime", value: $runtime}]
      },
      components: ($c | sort_by(.type, .name)),
      dependencies: (
        [{ref: "ferry", dependsOn: ([$direct[], ($deps | to_entries[] | select(.value.type == "project") | .key | split("/")[0]),
                                     ($c[] | select(.type == "framework") | .name)] | map($ref[.] // empty) | unique)}]
        + [$deps | to_entries[] | (.key | split("/")[0]) as $n | select($ref[$n])
           | {ref: $ref[$n], dependsOn: ((.value.dependencies // {}) | keys | map($ref[.] // empty) | unique)}]
        | sort_by(.ref))
    }'
