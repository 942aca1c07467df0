#!/usr/bin/env bash
# Embedder check: every library product of this package must be usable alone by an outside package, and link.
# Generates one throwaway package that depends on this repository by path, with one executable per library
# product (each depending on exactly that product), and builds it. Catches, e.g., a product whose target
# needs a system library (libm, ...) that only some other product happened to pull in.
#
# Environment: EMBEDDER_SCRATCH  scratch path for the embedder build (default: inside the temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd -P)"

dir="$(mktemp -d "${TMPDIR:-/tmp}/swift-vmm-embedder.XXXXXX")"
trap 'rm -rf "$dir"' EXIT

# Library products, read from the manifest (dump-package gets its own scratch path so that the repository's
# .build is left alone).
products_json="$(swift package --package-path "$repo" --scratch-path "$dir/dump-scratch" dump-package)"
mapfile -t products < <(python3 -c '
import json, sys
for product in json.loads(sys.argv[1])["products"]:
    if "library" in product["type"]:
        print(product["name"])
' "$products_json")
if ((${#products[@]} == 0)); then
    echo "embedder: no library products found in the manifest" >&2
    exit 1
fi
echo "embedder: ${#products[@]} library products: ${products[*]}"

# The embedder package: executable target "Embed<Product>" depends on product <Product> only; the module
# name equals the product name for every product here.
pkg="$dir/embedder"
mkdir -p "$pkg/Sources"
{
    echo '// swift-tools-version:6.0'
    echo 'import PackageDescription'
    echo
    echo 'let package = Package('
    echo '    name: "swift-vmm-embedder",'
    echo "    dependencies: [.package(name: \"swift-vmm\", path: \"$repo\")],"
    echo '    targets: ['
    for product in "${products[@]}"; do
        echo "        .executableTarget("
        echo "            name: \"Embed$product\","
        echo "            dependencies: [.product(name: \"$product\", package: \"swift-vmm\")],"
        echo "            swiftSettings: [.swiftLanguageMode(.v6)]),"
    done
    echo '    ]'
    echo ')'
} >"$pkg/Package.swift"
for product in "${products[@]}"; do
    mkdir -p "$pkg/Sources/Embed$product"
    printf 'import %s\n\nprint("%s linked")\n' "$product" "$product" >"$pkg/Sources/Embed$product/main.swift"
done

scratch="${EMBEDDER_SCRATCH:-$pkg/.build}"
echo "embedder: resolving dependencies"
if ! swift package --package-path "$pkg" --scratch-path "$scratch" resolve; then
    echo "embedder: FAILED to resolve the embedder package's dependencies" >&2
    exit 1
fi

# Build every product's executable; on failure, report which products did not build/link.
failed=()
log="$dir/build.log"
start=$SECONDS
for product in "${products[@]}"; do
    if swift build --package-path "$pkg" --scratch-path "$scratch" --product "Embed$product" >"$log" 2>&1; then
        echo "embedder: $product links"
    else
        echo "embedder: FAILED: an executable depending only on the $product product does not build/link:" >&2
        grep -E 'error:|undefined reference|ld(\.lld|\.gold)?:' "$log" | sort -u | head -n 40 >&2 || tail -n 40 "$log" >&2
        failed+=("$product")
    fi
done
echo "embedder: built ${#products[@]} executables in $((SECONDS - start)) s"

if ((${#failed[@]})); then
    echo "embedder: FAILED products: ${failed[*]}" >&2
    exit 1
fi
