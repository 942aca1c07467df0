import Foundation
import TestSupport
import Testing

@testable import VHD

/// Blocks under 4 KiB have fewer than eight sectors: their bitmap is still one whole sector
/// in front of the block, as the specification says (found by the fuzz target: it was computed
/// as zero bytes, as QEMU does, and `check` crashed on such an image).
@Suite struct SmallBlockTests {
    @Test(arguments: [UInt32(512), 1024, 2048, 4096])
    func smallBlocksHaveAOneSectorBitmap(blockSize: UInt32) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("s.vhd")
        var options = VHDCreateOptions(type: .dynamic, size: 64 << 10)
        options.blockSize = blockSize
        var model = [UInt8](repeating: 0, count: 64 << 10)
        do {
            let image = try VHDImage.create(path: path, options: options)
            #expect(image.header?.bitmapSize == 512)
            for (offset, length, seed) in [
                (0, 4096, 1), (8192 + 512, 1024, 2), ((64 << 10) - 512, 512, 3), (20_000, 3000, 4),
            ] {
                let data = pattern(length, seed: UInt64(seed))
                try image.write(data, at: UInt64(offset))
                model.replaceSubrange(offset..<offset + length, with: data)
            }
            try image.flush()
        }
        let reopened = try VHDImage.open(path: path, readOnly: true)
        #expect(try difference(contents(of: reopened), model) == nil)
        // Each allocated block spans its one-sector bitmap and its data, and blocks never overlap.
        let starts = reopened.blockAllocationTable.filter { $0 != unallocatedBlock }.map { UInt64($0) * 512 }.sorted()
        for (a, b) in zip(starts, starts.dropFirst()) { #expect(b >= a + 512 + UInt64(blockSize)) }
        let report = try VHDImage.check(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")

        // A differencing child over it, written at sector granularity.
        do {
            let child = try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: path)
            for (offset, seed) in [(512, 5), (9216, 6), (30_720, 7)] {
                try child.write(pattern(512, seed: UInt64(seed)), at: UInt64(offset))
                model.replaceSubrange(offset..<offset + 512, with: pattern(512, seed: UInt64(seed)))
            }
            try child.flush()
        }
        #expect(try difference(contents(of: VHDImage.open(path: dir.file("c.vhd"), readOnly: true)), model) == nil)
        #expect(try VHDImage.check(path: dir.file("c.vhd")).problems.isEmpty)
        // No third-party oracle: QEMU reads blocks under 4 KiB as if they had no bitmap, libvhdi
        // refuses them, and both mishandle the sub-byte bits of sector-granular writes.
    }
}
