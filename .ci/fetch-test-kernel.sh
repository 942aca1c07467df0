#!/usr/bin/env bash
# Fetches a real Linux kernel for the tests without installing it: Debian's cloud kernel package
# (apt-get download), unpacked with dpkg-deb -x; the bzImage becomes DIR/bzImage and its LZ4
# payload (the setup header's payload_offset and payload_length) DIR/vmlinux.
# Usage: .ci/fetch-test-kernel.sh [DIR]   (default .build/test-kernels; nothing to do if present)
set -euo pipefail
dir="${1:-.build/test-kernels}"
if [[ -s "$dir/bzImage" && -s "$dir/vmlinux" ]]; then
    echo "test kernel: $dir (present)"
    exit 0
fi
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
package="$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')"
[[ -n "$package" ]] || { echo "fetch-test-kernel: no linux-image-cloud-amd64 dependency in apt's lists" >&2; exit 1; }
(cd "$work" && apt-get download -q "$package" >/dev/null 2>&1)
dpkg-deb -x "$work"/*.deb "$work/root"
cp "$work"/root/boot/vmlinuz-* "$dir/bzImage.tmp"
# The payload sits after the setup code ((setup_sects + 1) * 512) at payload_offset.
python3 - "$dir/bzImage.tmp" "$work/payload.lz4" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
setup = ((b[0x1f1] or 4) + 1) * 512
offset, length = struct.unpack_from('<II', b, 0x248)
open(sys.argv[2], 'wb').write(b[setup + offset:setup + offset + length])
PY
lz4 -dc "$work/payload.lz4" > "$dir/vmlinux.tmp" 2>/dev/null || true
[[ -s "$dir/vmlinux.tmp" ]] || { echo "fetch-test-kernel: lz4 could not unpack the payload" >&2; exit 1; }
echo "$package" > "$dir/package"
mv "$dir/vmlinux.tmp" "$dir/vmlinux"
mv "$dir/bzImage.tmp" "$dir/bzImage"
echo "test kernel: $dir ($package)"
