#!/usr/bin/env bash
# Runs the VHD parser fuzz target for a bounded time (default 60 s): ./Tests/VHDFuzz/run-fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# Seeds from the plain debug build (the one `swift test` uses too), then the libFuzzer build in
# its own build directory.
swift build --product vhd-fuzz >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
mkdir -p "$scratch/corpus" fuzz-artifacts
"$(swift build --show-bin-path)/vhd-fuzz" --make-corpus "$scratch/corpus"
swift build -c release --product vhd-fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING \
    >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
# New inputs go to the scratch corpus (first directory); the committed corpus (every finding and
# the inputs that reached new code, see Corpus/README) is read too, so each run continues the
# search instead of restarting it. A finding worth keeping goes into Tests/VHDFuzz/Corpus with a
# test: `swift test` replays every file there.
SWIFT_BACKTRACE=enable=no .build-fuzz/release/vhd-fuzz -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=256 \
    -artifact_prefix=fuzz-artifacts/ "$scratch/corpus" Tests/VHDFuzz/Corpus
