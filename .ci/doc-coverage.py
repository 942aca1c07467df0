#!/usr/bin/env python3
"""Documentation coverage of the package's public API.

For every module asked for (default: the targets of all library products), extracts the module's
symbol graph at public access level, counts the public and open symbols declared in the module's own
sources, and reports how many of them have no doc comment (`///` or `/** */`) of their own.

Not counted: symbols the compiler synthesizes (Equatable's `!=`, OptionSet's and SetAlgebra's
default implementations, a synthesized `hash(into:)` or `init(from:)` …: they have no source
location or a `::SYNTHESIZED::` identifier), symbols declared outside the module's source folder
(e.g. re-exported through `@_exported import`), and extension blocks themselves. A doc comment
inherited from a protocol requirement or an overridden member does not count as the symbol's own.

Symbol graphs come from one of two extractors:
  build (default)  `swift build --target M` for each module, then `swift-symbolgraph-extract` with the
                   module's compiler flags (from the build's description.json); builds only what the
                   modules need, so unrelated targets that do not compile do not stop it.
  dump             `swift package dump-symbol-graph` (builds the whole package), then reads the JSON
                   under the scratch path's `symbolgraph` folder.

Usage: .ci/doc-coverage.py [PACKAGE_ROOT] [--scratch-path PATH] [--modules A,B] [--list]
                           [--extractor build|dump] [--no-build]
Exit status: 0 when every listed module is fully documented, 1 when some public symbol lacks a doc
comment, 2 when the symbol graphs could not be produced.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import unquote, urlparse


def run(command, cwd, quiet=True):
    """Runs `command`; returns (exit status, combined output)."""
    result = subprocess.run(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0 and not quiet:
        sys.stderr.write(result.stdout)
    return result.returncode, result.stdout


def describe_package(root, scratch):
    """The package description (`swift package describe --type json`)."""
    status, output = run(["swift", "package", "--scratch-path", scratch, "describe", "--type", "json"], root)
    if status != 0:
        sys.stderr.write(output)
        raise SystemExit("doc-coverage: `swift package describe` failed")
    # Warnings may precede the JSON document.
    return json.loads(output[output.index("{"):])


def library_modules(description):
    """The targets of every library product, in product order, without duplicates."""
    modules = []
    for product in description.get("products", []):
        if "library" in product.get("type", {}):
            for target in product.get("targets", []):
                if target not in modules:
                    modules.append(target)
    return modules


def source_folders(description, root):
    """Target name -> absolute source folder."""
    folders = {}
    for target in description.get("targets", []):
        path = target.get("path", "")
        folders[target["name"]] = os.path.normpath(os.path.join(root, path))
    return folders


def bin_path(root, scratch):
    status, output = run(["swift", "build", "--scratch-path", scratch, "--show-bin-path"], root)
    if status != 0:
        sys.stderr.write(output)
        raise SystemExit("doc-coverage: `swift build --show-bin-path` failed")
    return output.strip().splitlines()[-1]


def extractor_flags(description_json, module):
    """The flags swift-symbolgraph-extract needs to load `module` as the build compiled it."""
    with open(description_json) as f:
        commands = json.load(f).get("swiftCommands", {})
    command = next((c for c in commands.values() if c.get("moduleName") == module and c.get("isLibrary", True)
                    and not c.get("prepareForIndexing", False)), None)
    if command is None:
        command = next((c for c in commands.values() if c.get("moduleName") == module), None)
    if command is None:
        raise SystemExit(f"doc-coverage: no compile command for {module} in {description_json}")
    flags = ["-I", command["importPath"]]
    arguments = command.get("otherArguments", [])
    i = 0
    while i < len(arguments):
        argument = arguments[i]
        if argument in ("-Xcc", "-target", "-module-cache-path", "-sdk", "-resource-dir") and i + 1 < len(arguments):
            flags += arguments[i:i + 2]
            i += 2
        elif argument in ("-I", "-F") and i + 1 < len(arguments):
            flags += arguments[i:i + 2]
            i += 2
        elif argument.startswith("-I") or argument.startswith("-F"):
            flags.append(argument)
            i += 1
        else:
            i += 1
    return flags


def extract_with_build(root, scratch, modules, output_dir, build):
    """Builds each module and runs swift-symbolgraph-extract on it; returns module -> JSON files."""
    files = {}
    description_json = os.path.join(bin_path(root, scratch), "description.json")
    for module in modules:
        if build:
            status, output = run(["swift", "build", "--scratch-path", scratch, "--target", module], root)
            if status != 0:
                sys.stderr.write(output[-6000:])
                raise SystemExit(f"doc-coverage: building {module} failed")
        if not os.path.exists(description_json):
            raise SystemExit(f"doc-coverage: {description_json} is missing (build first, or drop --no-build)")
        module_dir = os.path.join(output_dir, module)
        os.makedirs(module_dir, exist_ok=True)
        command = ["swift-symbolgraph-extract", "-module-name", module, "-minimum-access-level", "public",
                   "-skip-inherited-docs", "-output-dir", module_dir] + extractor_flags(description_json, module)
        status, output = run(command, root)
        if status != 0:
            sys.stderr.write(output[-6000:])
            raise SystemExit(f"doc-coverage: swift-symbolgraph-extract failed for {module}")
        files[module] = sorted(glob.glob(os.path.join(module_dir, f"{module}.symbols.json"))
                               + glob.glob(os.path.join(module_dir, f"{module}@*.symbols.json")))
    return files


def extract_with_dump(root, scratch, modules, build):
    """Runs `swift package dump-symbol-graph`; returns module -> JSON files."""
    def module_files(paths, module):
        return sorted(path for path in paths
                      if os.path.basename(path) == f"{module}.symbols.json"
                      or os.path.basename(path).startswith(f"{module}@"))

    pattern = os.path.join(scratch, "**", "symbolgraph", "*.symbols.json")
    if build:
        # Drop the graphs of earlier runs so that a module that fails now is not read stale.
        for module in modules:
            for path in module_files(glob.glob(pattern, recursive=True), module):
                os.remove(path)
        status, output = run(["swift", "package", "--scratch-path", scratch, "dump-symbol-graph",
                              "--minimum-access-level", "public", "--skip-inherited-docs"], root)
        if status != 0:
            # It also tries the test modules and may fail on them after writing every library's
            # graph; only a missing graph of a module asked for is an error (below).
            sys.stderr.write("doc-coverage: `swift package dump-symbol-graph` reported a failure; "
                             "using the graphs it wrote\n")
    files = {}
    candidates = glob.glob(pattern, recursive=True)
    for module in modules:
        files[module] = module_files(candidates, module)
        if not files[module]:
            raise SystemExit(f"doc-coverage: no symbol graph for {module} under {scratch}")
    return files


def path_of(uri):
    return unquote(urlparse(uri).path)


def has_own_doc_comment(symbol, module, location_lines):
    """Whether the symbol carries a doc comment written on its own declaration."""
    doc = symbol.get("docComment")
    if not doc or not any(line.get("text", "").strip() for line in doc.get("lines", [])):
        return False
    if doc.get("module", module) != module:
        return False  # inherited from another module
    location = symbol["location"]
    if doc.get("uri", location["uri"]) != location["uri"]:
        return False  # inherited from a declaration in another file
    ranges = [line["range"] for line in doc.get("lines", []) if "range" in line]
    if not ranges:
        return True
    last = max(r["end"]["line"] for r in ranges)
    line = location["position"]["line"]
    if last >= line:
        return False
    # A doc comment of some other declaration between the comment and this one: inherited.
    return not any(last < other < line for other in location_lines.get(location["uri"], ()))


def coverage(module, files, folder):
    """(public symbols, undocumented [(path, line, name)]) of one module."""
    symbols = {}
    for path in files:
        with open(path) as f:
            graph = json.load(f)
        for symbol in graph.get("symbols", []):
            symbols.setdefault(symbol["identifier"]["precise"], symbol)
    declared = []
    for precise, symbol in symbols.items():
        if "::SYNTHESIZED::" in precise or "location" not in symbol:
            continue
        if symbol.get("kind", {}).get("identifier") == "swift.extension":
            continue
        if symbol.get("accessLevel") not in ("public", "open"):
            continue
        source = path_of(symbol["location"]["uri"])
        if not os.path.normpath(source).startswith(folder + os.sep):
            continue  # declared in another module's sources
        declared.append(symbol)
    location_lines = {}
    for symbol in declared:
        location = symbol["location"]
        location_lines.setdefault(location["uri"], set()).add(location["position"]["line"])
    undocumented = []
    for symbol in declared:
        if not has_own_doc_comment(symbol, module, location_lines):
            location = symbol["location"]
            name = ".".join(symbol.get("pathComponents", [symbol["names"]["title"]]))
            undocumented.append((path_of(location["uri"]), location["position"]["line"] + 1, name))
    undocumented.sort()
    return len(declared), undocumented


def main():
    parser = argparse.ArgumentParser(description="Report doc-comment coverage of public symbols per module.")
    parser.add_argument("root", nargs="?", default=".", help="package root (default: the current directory)")
    parser.add_argument("--scratch-path", default=".build-docs",
                        help="SwiftPM scratch path, relative to the package root unless absolute "
                             "(default: .build-docs)")
    parser.add_argument("--modules", help="comma-separated modules (default: the targets of all library products)")
    parser.add_argument("--list", action="store_true", help="list every undocumented symbol (file:line and name)")
    parser.add_argument("--extractor", choices=("build", "dump"), default="build",
                        help="build: swift build --target + swift-symbolgraph-extract per module (default); "
                             "dump: swift package dump-symbol-graph")
    parser.add_argument("--no-build", action="store_true",
                        help="use what the scratch path holds already instead of building first")
    args = parser.parse_args()

    root = os.path.abspath(args.root)
    scratch = args.scratch_path if os.path.isabs(args.scratch_path) else os.path.join(root, args.scratch_path)
    scratch = os.path.normpath(scratch)
    description = describe_package(root, scratch)
    folders = source_folders(description, root)
    modules = [m.strip() for m in args.modules.split(",") if m.strip()] if args.modules \
        else library_modules(description)
    unknown = [m for m in modules if m not in folders]
    if unknown:
        raise SystemExit(f"doc-coverage: no such target: {', '.join(unknown)}")

    output_dir = tempfile.mkdtemp(prefix="doc-coverage-")
    try:
        if args.extractor == "build":
            files = extract_with_build(root, scratch, modules, output_dir, not args.no_build)
        else:
            files = extract_with_dump(root, scratch, modules, not args.no_build)
        results = {m: coverage(m, files[m], folders[m]) for m in modules}
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)

    width = max([len(m) for m in modules] + [len("module")])
    print(f"{'module':<{width}}  {'public':>6}  {'undocumented':>12}  {'coverage':>8}")
    total_public = total_missing = 0
    for module in modules:
        count, missing = results[module]
        total_public += count
        total_missing += len(missing)
        percent = 100.0 * (count - len(missing)) / count if count else 100.0
        print(f"{module:<{width}}  {count:>6}  {len(missing):>12}  {percent:>7.1f}%")
    if len(modules) > 1:
        percent = 100.0 * (total_public - total_missing) / total_public if total_public else 100.0
        print(f"{'total':<{width}}  {total_public:>6}  {total_missing:>12}  {percent:>7.1f}%")
    if args.list:
        for module in modules:
            missing = results[module][1]
            if missing:
                print(f"\n{module}: {len(missing)} undocumented")
                for path, line, name in missing:
                    print(f"  {os.path.relpath(path, root)}:{line}  {name}")
    return 1 if total_missing else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit as exit:
        if isinstance(exit.code, str):
            sys.stderr.write(exit.code + "\n")
            sys.exit(2)
        raise
