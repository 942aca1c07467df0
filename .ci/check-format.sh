#!/usr/bin/env bash
# Format check: lint the package's Swift files with the toolchain's swift-format and the repository's
# .swift-format configuration. Never rewrites files; fails if there is any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

fix_hint="run: swift format --in-place --recursive --configuration .swift-format Package.swift Sources Tests Examples Benchmarks"

# Swift files only, skipping any .build* directory (scratch paths) inside the linted folders.
files=()
[[ -f Package.swift ]] && files+=(Package.swift)
for dir in Sources Tests Examples Benchmarks; do
    [[ -d "$dir" ]] || continue
    while IFS= read -r -d '' f; do
        files+=("$f")
    done < <(find "$dir" -name '.build*' -prune -o -type f -name '*.swift' -print0 | sort -z)
done

if ((${#files[@]} == 0)); then
    echo "check-format: no Swift files found" >&2
    exit 1
fi

echo "check-format: linting ${#files[@]} Swift files"
status=0
swift format lint --strict --recursive --configuration .swift-format "${files[@]}" || status=$?
if ((status != 0)); then
    echo "check-format: swift-format reported findings (see above)." >&2
    echo "$fix_hint" >&2
    exit 1
fi
echo "check-format: clean"
