#!/usr/bin/env bash
# Runs the kernel image fuzz target for a bounded time (default 30 s): ./Tests/KernelFuzz/run-fuzz.sh [SECONDS]
# New inputs go to a scratch corpus; the committed one (Tests/KernelFuzz/Corpus) is read too.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-30}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/corpus" fuzz-artifacts
swift build -c release --product kernel-fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING \
    >"$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }
SWIFT_BACKTRACE=enable=no .build-fuzz/release/kernel-fuzz -max_total_time="$seconds" -max_len=16384 \
    -rss_limit_mb=1024 -malloc_limit_mb=256 -artifact_prefix=fuzz-artifacts/kernel- "$scratch/corpus" \
    Tests/KernelFuzz/Corpus
