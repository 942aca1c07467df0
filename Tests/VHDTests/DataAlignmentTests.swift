import Foundation
import TestSupport
import Testing

@testable import VHD

/// ``VHDImage/setDataAlignment(_:)``: where new blocks' data lands in the file, and that every
/// reader (ours, QEMU, libvhdi, `check`) still sees the same disk.
@Suite struct DataAlignmentTests {
    static let blockSize = 256 << 10

    /// A dynamic image with data alignment `alignment`, written in full blocks, partial blocks
    /// and single sectors; returns the model.
    static func makeImage(_ path: String, alignment: UInt64) throws -> (VHDImage, [UInt8]) {
        var options = VHDCreateOptions(type: .dynamic, size: UInt64(16 * blockSize))
        options.blockSize = UInt32(blockSize)
        let image = try VHDImage.create(path: path, options: options)
        try image.setDataAlignment(alignment)
        var model = [UInt8](repeating: 0, count: 16 * blockSize)
        for (offset, length, seed) in [
            (0, 2 * blockSize, 1), (5 * blockSize + 1000, 3000, 2), (9 * blockSize - 512, 1024, 3),
            (15 * blockSize + 7, 1, 4),
        ] {
            let data = pattern(length, seed: UInt64(seed))
            try image.write(data, at: UInt64(offset))
            model.replaceSubrange(offset..<offset + length, with: data)
        }
        try image.flush()
        return (image, model)
    }

    /// Ours (a read-only open), `check`, and QEMU and libvhdi where installed all see `model`.
    /// The caller has closed its writer: a reader needs the image not open for writing.
    static func expectEveryReaderSees(_ model: [UInt8], path: String, dir: TemporaryDirectory) throws {
        let image = try VHDImage.open(path: path, readOnly: true)
        #expect(try contents(of: image) == model)
        let report = try VHDImage.check(path: path)
        #expect(report.isClean, "\(report.problems)")
        try withOracle(ToolCheck.qemuImg, "qemu-img") {
            try InteropTests.qemuCompare(path, with: model, in: dir)
        }
        try withOracle(ToolCheck.pyvhdi, "libvhdi (pyvhdi)") { () throws in
            #expect(try InteropTests.libvhdiRead([path], into: dir) == model)
        }
    }

    static func dataOffsets(_ image: VHDImage) -> [UInt64] {
        image.blockAllocationTable.filter { $0 != unallocatedBlock }.map { UInt64($0) * 512 + 512 }
    }

    @Test(arguments: [UInt64(512), 4096, 64 << 10, 256 << 10])
    func newBlocksStartTheirDataOnTheAlignment(alignment: UInt64) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("a.vhd")
        let model: [UInt8]
        do {
            let (image, written) = try Self.makeImage(path, alignment: alignment)
            model = written
            #expect(image.dataAlignment == alignment)
            let offsets = Self.dataOffsets(image)
            #expect(offsets.count == 6)
            for offset in offsets { #expect(offset % alignment == 0, "data at \(offset)") }
            #expect(try contents(of: image) == model)
        }
        try Self.expectEveryReaderSees(model, path: path, dir: dir)
        let reopened = try VHDImage.open(path: path, readOnly: true)
        // The alignment is not stored in the file: a reopened image has the default again.
        #expect(reopened.dataAlignment == VHDImage.defaultDataAlignment(blockSize: UInt64(Self.blockSize)))
        #expect(try contents(of: reopened) == model)
    }

    @Test func compactKeepsTheAlignmentOfTheBlocksItMoves() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("c.vhd")
        let alignment: UInt64 = 64 << 10
        var model: [UInt8]
        do {
            let (image, written) = try Self.makeImage(path, alignment: alignment)
            model = written
            try image.discard(offset: 0, length: UInt64(Self.blockSize))
            model.replaceSubrange(0..<Self.blockSize, with: [UInt8](repeating: 0, count: Self.blockSize))
            try image.flush()
            let result = try image.compactOpened { _ in }
            #expect(result.blocksMoved > 0)
            for offset in Self.dataOffsets(image) {
                #expect(offset % alignment == 0, "data at \(offset) after compact")
            }
            #expect(try contents(of: image) == model)
        }
        let image = try VHDImage.open(path: path, readOnly: true)
        #expect(try contents(of: image) == model)
        let report = try VHDImage.check(path: path)
        #expect(report.isClean, "\(report.problems)")
    }

    @Test func theDefaultIsAnEighthOfTheBlockBetween4KiBAnd256KiB() throws {
        let expected: [(UInt64, UInt64)] = [
            (512, 4096), (16 << 10, 4096), (32 << 10, 4096), (64 << 10, 8192), (512 << 10, 64 << 10),
            (2 << 20, 256 << 10), (64 << 20, 256 << 10), (1 << 30, 256 << 10),
        ]
        for (blockSize, alignment) in expected {
            #expect(VHDImage.defaultDataAlignment(blockSize: blockSize) == alignment, "block size \(blockSize)")
        }
        // A fresh image with the usual 2 MiB blocks places its blocks' data 256 KiB-aligned
        // without being told, and every reader still sees the same disk.
        let dir = try TemporaryDirectory()
        let path = dir.file("d.vhd")
        var model = [UInt8](repeating: 0, count: 8 << 20)
        do {
            let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .dynamic, size: 8 << 20))
            #expect(image.dataAlignment == 256 << 10)
            for (offset, length, seed) in [(0, 1 << 20, 5), ((2 << 20) + 4096, 4096, 6), ((6 << 20) - 512, 1024, 7)] {
                let data = pattern(length, seed: UInt64(seed))
                try image.write(data, at: UInt64(offset))
                model.replaceSubrange(offset..<offset + length, with: data)
            }
            try image.flush()
            let offsets = Self.dataOffsets(image)
            #expect(offsets.count == 4)
            for offset in offsets { #expect(offset % (256 << 10) == 0, "data at \(offset)") }
        }
        // The padding is holes: apparent size grows by less than an eighth per block, and no
        // more space is allocated than for the blocks themselves and the metadata.
        var info = stat()
        #expect(stat(path, &info) == 0)
        let metadata: UInt64 = 64 << 10, block: UInt64 = 2 << 20
        let apparentLimit: UInt64 = 4 * (block + (256 << 10)) + metadata
        let allocatedLimit: UInt64 = 4 * (block + 4096) + metadata
        let apparent = UInt64(info.st_size), allocated = UInt64(info.st_blocks) * 512
        #expect(apparent <= apparentLimit)
        #expect(allocated <= allocatedLimit)
        try Self.expectEveryReaderSees(model, path: path, dir: dir)
    }

    @Test func badAlignmentsAreRejected() throws {
        let dir = try TemporaryDirectory()
        let (image, _) = try Self.makeImage(dir.file("b.vhd"), alignment: 4096)
        for bad: UInt64 in [0, 256, 3000, 4097, UInt64(2 * Self.blockSize)] {
            #expect(
                throws: VHDError.invalidRequest(
                    "data alignment must be a power of two from 512 bytes to the block size, not \(bad)")
            ) { try image.setDataAlignment(bad) }
        }
        #expect(image.dataAlignment == 4096)
    }
}
