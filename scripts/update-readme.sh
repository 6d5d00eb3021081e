#!/usr/bin/env bash
# Rewrites README.md's configuration reference from `riskwatch config --markdown`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="${RW_BIN:-$here/build/riskwatch}"
readme="$here/README.md"
ref=$(mktemp)
trap 'rm -f "$ref" "$readme.tmp"' EXIT
"$bin" config --markdown >"$ref"
awk -v ref="$ref" '
  /<!-- BEGIN CONFIG REFERENCE -->/ { print; while ((getline l < ref) > 0) print l; skip = 1; next }
  /<!-- END CONFIG REFERENCE -->/ { skip = 0 }
  !skip { print }
' "$readme" >"$readme.tmp"
mv "$readme.tmp" "$readme"
