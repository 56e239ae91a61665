#!/usr/bin/env bash
# build/notice.sh SBOM...: prints the NOTICE file from the release SBOMs (build/sbom.sh): Ferry's licence, then every
# component the binaries bundle that is not Ferry's own, with its licence, copyright line and web site. Versions are
# left to the SBOMs (they follow the SDK and Directory.Packages.props); a runtime pack's RID is left out, so x64 and
# arm64 give the same lines. build/release.sh fails when the committed NOTICE differs from this output.
set -euo pipefail
[ "$#" -ge 1 ] || { echo "usage: build/notice.sh SBOM..." >&2; exit 2; }

cat <<'EOF'
Ferry
Licensed under the Apache License, Version 2.0 (the file LICENSE).

The ferry binaries (ferry-VERSION-linux-x64 and -linux-arm64) contain the components below, and the Ferry.Core and
Ferry.Cli NuGet packages depend on those that are NuGet packages. Each is under its own licence, named here by its SPDX
identifier; the release's SBOMs (ferry-VERSION-linux-*.cdx.json) give each one's version and hash. This list is made
from them by build/notice.sh.

EOF
jq -r -s '
  [.[].components[] | select((.["bom-ref"] // "") | startswith("project:") | not)
   | {name: (.name | sub("\\.linux-(x64|arm64)$"; "")), type,
      licence: ([.licenses[] | .license.id // .expression // .license.name] | join(" AND ")),
      copyright: (.copyright // ""), url: ([.externalReferences[]? | select(.type == "website") | .url][0] // "")}]
  | unique_by(.name) | sort_by(.type != "framework", (.name | ascii_downcase))[]
  | "\(.name)\(if .type == "framework" then " (compiled in from the .NET SDK'"'"'s runtime pack)" else "" end)\n"
    + "  licence:   \(.licence)\n"
    + (if .copyright != "" then "  copyright: \(.copyright)\n" else "" end)
    + (if .url != "" then "  web:       \(.url)\n" else "" end)' "$@"
cat <<'EOF'
The .NET runtime compiled into the binaries itself bundles third-party code (for example zlib-ng and Brotli); its
notices are the file THIRD-PARTY-NOTICES.TXT in the Microsoft.NETCore.App.Runtime.NativeAOT.* package named above.
EOF
jq -e -s '[.[].components[].licenses[].license.id] | index("MIT")' "$@" >/dev/null || exit 0
cat <<'EOF'

The MIT licence, which the components marked MIT are under, reads (with each one's copyright line above):

  Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
  documentation files (the "Software"), to deal in the Software without restriction, including without limitation
  the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
  to permit persons to whom the Software is furnished to do so, subject to the following conditions:

  The above copyright notice and this permission notice shall be included in all copies or substantial portions of
  the Software.

  THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
  THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
  AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
  TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
  SOFTWARE.
EOF
