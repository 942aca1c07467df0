#!/bin/sh
# Rebuilds the mini-vmm guest as a flat binary with the C preprocessor (cpp, for the // comments)
# and GNU binutils (as, objcopy), for inspection
# or for loading without SwiftPM. SwiftPM assembles guest.S itself when building mini-vmm.
# Usage: Examples/mini-vmm/Guest/build-guest.sh [output.bin]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-guest.bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cpp -P "$here/guest.S" > "$tmp/guest.s"
as --64 -o "$tmp/guest.o" "$tmp/guest.s"
objcopy -O binary --only-section=.rodata.mini_vmm_guest "$tmp/guest.o" "$out"
echo "$out: $(wc -c < "$out") bytes"
