#!/usr/bin/env bash
# Documentation check: builds the DocC documentation of every library product's target (swift-docc-plugin) and
# fails on any warning (an unresolved symbol link, a malformed catalog, a documented parameter that does not
# exist). Dependencies' own documentation warnings are not ours and are not built here.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch="${DOCS_SCRATCH:-.build-docs}"
mapfile -t targets < <(swift package --scratch-path "$scratch" dump-package | python3 -c '
import json, sys
for product in json.load(sys.stdin)["products"]:
    if "library" in product["type"]:
        for target in product["targets"]:
            print(target)
')
args=()
for target in "${targets[@]}"; do args+=(--target "$target"); done
echo "check-docs: ${#targets[@]} targets: ${targets[*]}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
swift package --scratch-path "$scratch" generate-documentation "${args[@]}" >"$log" 2>&1 || {
    cat "$log"
    echo "check-docs: documentation generation failed" >&2
    exit 1
}
if grep -q "warning:" "$log"; then
    grep -A6 "warning:" "$log"
    echo "check-docs: documentation warnings (see above)" >&2
    exit 1
fi
echo "check-docs: clean ($(grep -c "Finished building documentation" "$log") archives)"
