import Foundation
import TestSupport
import Testing

@testable import BlockStorage
@testable import VHD

/// The lock-free lookup of fully stored blocks (``FullBlockTable``) must follow every change
/// of a block on the same image object, and write-behind must start writeback once per window.
@Suite struct FastPathTests {
    static let blockSize = 64 << 10

    /// A dynamic image whose blocks 0..<6 are written in full (so they are in the table).
    static func fullImage(_ path: String, model: inout [UInt8]) throws -> VHDImage {
        var options = VHDCreateOptions(type: .dynamic, size: UInt64(8 * blockSize))
        options.blockSize = UInt32(blockSize)
        let image = try VHDImage.create(path: path, options: options)
        for block in 0..<6 {
            let data = pattern(blockSize, seed: UInt64(block))
            try image.write(data, at: UInt64(block * blockSize))
            model.replaceSubrange(block * blockSize..<(block + 1) * blockSize, with: data)
        }
        return image
    }

    @Test func fullBlocksAreTheOnesWhoseEverySectorIsStored() throws {
        let dir = try TemporaryDirectory()
        var model = [UInt8](repeating: 0, count: 8 * Self.blockSize)
        let bat: [UInt32]
        do {
            let image = try Self.fullImage(dir.file("a.vhd"), model: &model)
            try image.write(pattern(512, seed: 9), at: UInt64(6 * Self.blockSize))
            model.replaceSubrange(6 * Self.blockSize..<6 * Self.blockSize + 512, with: pattern(512, seed: 9))
            bat = image.blockAllocationTable
            for block in 0..<8 {
                let expected: UInt64? = block < 6 ? UInt64(bat[block]) * 512 + 512 : nil
                #expect(image.fullBlocks.dataOffset(block) == expected, "block \(block)")
            }
            #expect(try contents(of: image) == model)
            try image.flush()
        }
        // Reopened: the table starts empty and fills as bitmaps are read.
        let reopened = try VHDImage.open(path: dir.file("a.vhd"), readOnly: true)
        #expect(reopened.fullBlocks.dataOffset(2) == nil)
        #expect(
            try reopened.read(at: UInt64(2 * Self.blockSize), length: 4096)
                == Array(model[2 * Self.blockSize..<2 * Self.blockSize + 4096]))
        #expect(reopened.fullBlocks.dataOffset(2) == UInt64(bat[2]) * 512 + 512)
    }

    @Test func discardTakesABlockOutBeforeItsDataGoes() throws {
        let dir = try TemporaryDirectory()
        var model = [UInt8](repeating: 0, count: 8 * Self.blockSize)
        let image = try Self.fullImage(dir.file("d.vhd"), model: &model)
        // Part of block 1 (the rest stays stored, but the block is no longer full) and all of block 3.
        try image.discard(offset: UInt64(Self.blockSize + 4096), length: 8192)
        model.replaceSubrange(Self.blockSize + 4096..<Self.blockSize + 12288, with: [UInt8](repeating: 0, count: 8192))
        try image.discard(offset: UInt64(3 * Self.blockSize), length: UInt64(Self.blockSize))
        model.replaceSubrange(
            3 * Self.blockSize..<4 * Self.blockSize, with: [UInt8](repeating: 0, count: Self.blockSize))
        #expect(image.fullBlocks.dataOffset(1) == nil)
        #expect(image.fullBlocks.dataOffset(3) == nil)
        #expect(try contents(of: image) == model)
        // Writing the hole again makes block 1 full again.
        try image.write(pattern(8192, seed: 77), at: UInt64(Self.blockSize + 4096))
        model.replaceSubrange(Self.blockSize + 4096..<Self.blockSize + 12288, with: pattern(8192, seed: 77))
        #expect(image.fullBlocks.dataOffset(1) != nil)
        #expect(try contents(of: image) == model)
    }

    @Test func compactMovesBlocksAndTheSameObjectReadsThemAtTheirNewPlace() throws {
        let dir = try TemporaryDirectory()
        var model = [UInt8](repeating: 0, count: 8 * Self.blockSize)
        let image = try Self.fullImage(dir.file("c.vhd"), model: &model)
        #expect(try contents(of: image) == model)  // every block is now served by the fast path
        try image.discard(offset: 0, length: UInt64(2 * Self.blockSize))
        model.replaceSubrange(0..<2 * Self.blockSize, with: [UInt8](repeating: 0, count: 2 * Self.blockSize))
        let before = image.blockAllocationTable
        let result = try image.compactOpened { _ in }
        #expect(result.blocksMoved > 0)
        let after = image.blockAllocationTable
        #expect(after != before)
        #expect(try contents(of: image) == model)
        for block in 2..<6 where after[block] != unallocatedBlock {
            let offset = image.fullBlocks.dataOffset(block)
            #expect(offset == nil || offset == UInt64(after[block]) * 512 + 512, "block \(block)")
        }
    }

    @Test func writeBehindStartsWritebackOncePerWindow() throws {
        let dir = try TemporaryDirectory()
        let window: UInt64 = 256 << 10
        let chunk = pattern(100 << 10, seed: 1)
        do {
            let io = try FileImageIO(path: dir.file("w.raw"), readOnly: false, create: true, writeBehind: window)
            for i in 0..<10 { try io.writeBytes(chunk, at: UInt64(i * chunk.count)) }
            #expect(io.writebacksStarted == 3)  // 1000 KiB written: windows end at 256, 512, 768 KiB
            try chunk.withUnsafeBytes { b in
                try io.write(
                    [UnsafeRawBufferPointer(rebasing: b[0..<50_000]), UnsafeRawBufferPointer(rebasing: b[50_000...])],
                    at: 0)
            }
            #expect(io.writebacksStarted == 4)  // 1100 KiB: the vectored write ends the window at 1024 KiB
            try io.writeBytes(chunk, at: 0)
            #expect(io.writebacksStarted == 4)  // 1200 KiB: the next window ends at 1280 KiB
            try io.writeBytes(chunk, at: 0)
            #expect(io.writebacksStarted == 5)
            try io.sync()
            #expect(try io.size() == UInt64(10 * chunk.count))
        }
        do {
            let off = try FileImageIO(path: dir.file("w.raw"), readOnly: false, writeBehind: nil)
            for i in 0..<10 { try off.writeBytes(chunk, at: UInt64(i * chunk.count)) }
            #expect(off.writeBehind == nil && off.writebacksStarted == 0)
        }
        #expect(try FileImageIO(path: dir.file("w.raw"), readOnly: true).writeBehind == nil)
        #expect(try FileImageIO(path: dir.file("w.raw"), readOnly: false, writeBehind: 0).writeBehind == nil)
        #expect(try FileImageIO(path: dir.file("w.raw"), readOnly: false).writeBehind == FileImageIO.defaultWriteBehind)
    }
}
