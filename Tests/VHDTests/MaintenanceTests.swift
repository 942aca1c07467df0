import Foundation
import TestSupport
import Testing

@testable import VHD

@Suite struct MaintenanceTests {
    static func dynamic(_ path: String, size: UInt64 = 8 << 20, blockSize: UInt32 = 1 << 20) throws -> VHDImage {
        var options = VHDCreateOptions(type: .dynamic, size: size)
        options.blockSize = blockSize
        return try VHDImage.create(path: path, options: options)
    }

    /// A dynamic parent filled with `pattern(size, seed:)`.
    static func filledParent(_ path: String, size: Int, seed: UInt64) throws {
        let parent = try dynamic(path, size: UInt64(size))
        try parent.write(pattern(size, seed: seed), at: 0)
        try parent.flush()
    }

    static func expectClean(_ path: String) throws {
        let report = try VHDImage.check(path: path)
        #expect(report.isClean, "\(path): \(report.problems)")
    }

    @Test func compactReleasesAndMovesBlocks() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("c.vhd")
        var model = [UInt8](repeating: 0, count: 8 << 20)
        do {
            let image = try Self.dynamic(path)
            for block in 0..<8 {
                let data = pattern(300_000, seed: UInt64(block))
                try image.write(data, at: UInt64(block) << 20)
                model.replaceSubrange(block << 20..<(block << 20) + data.count, with: data)
            }
            // Block 1 discarded, block 2 overwritten with zeros: both can go.
            try image.discard(offset: 1 << 20, length: 1 << 20)
            model.replaceSubrange(1 << 20..<2 << 20, with: [UInt8](repeating: 0, count: 1 << 20))
            try image.write([UInt8](repeating: 0, count: 1 << 20), at: 2 << 20)
            model.replaceSubrange(2 << 20..<3 << 20, with: [UInt8](repeating: 0, count: 1 << 20))
            try image.flush()
        }
        let before = try readFile(path).count
        let result = try VHDImage.compact(path: path)
        #expect(result.blocksReleased == 2)
        #expect(result.blocksMoved == 2)
        let after = try readFile(path).count
        #expect(after <= before - 2 * (512 + (1 << 20)))
        let lastBlockEnd = try VHDImage.open(path: path, readOnly: true).blockAllocationTable.filter {
            $0 != 0xFFFF_FFFF
        }.map { Int($0) * 512 + 512 + (1 << 20) }.max()
        #expect(after == lastBlockEnd.map { $0 + 512 })
        #expect(try difference(contents(of: VHDImage.open(path: path, readOnly: true)), model) == nil)
        try Self.expectClean(path)
        try withOracle(ToolCheck.qemuImg, "qemu-img") {
            try InteropTests.qemuCompare(path, with: model, in: dir)
        }
    }

    /// Space left by `resize` (the BAT's old place) and by blocks `discard` released earlier is
    /// found and reused; the file shrinks; QEMU reads the same disk.
    @Test func compactReclaimsSpaceOfResizeAndDiscard() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("m.vhd")
        let initial = try MaintenanceCrashTests.resizedAndDiscarded(dir: dir)
        try writeFile(path, initial.bytes)
        let span = 512 + 4096
        let oldTable = try #require(try VHDImage.open(path: path, readOnly: true).header?.tableOffset)
        #expect(oldTable > 8 * UInt64(span), "resize moved the BAT behind the blocks")
        let result = try VHDImage.compact(path: path)
        #expect(result.blocksReleased == 0)
        #expect(result.blocksMoved == 2)
        #expect(result.tableMoved)
        let fileSize = try readFile(path).count
        do {
            let after = try VHDImage.open(path: path, readOnly: true)
            #expect(after.header?.tableOffset == 1536, "the BAT is back in its old place")
            #expect(result.fileSizeAfter == UInt64(fileSize))
            #expect(fileSize <= initial.bytes.count - 2 * span - 1024)
            let lastBlockEnd = after.blockAllocationTable.filter { $0 != 0xFFFF_FFFF }.map { Int($0) * 512 + span }
                .max()
            #expect(fileSize == lastBlockEnd.map { $0 + 512 })
            #expect(after.allocatedBlockCount == 8)
            #expect(try difference(contents(of: after), initial.disk) == nil)
            try Self.expectClean(path)
            try withOracle(ToolCheck.qemuImg, "qemu-img") {
                try InteropTests.qemuCompare(path, with: initial.disk, in: dir)
            }
        }
        // Compacting again finds nothing to do.
        let again = try VHDImage.compact(path: path)
        #expect(again.blocksMoved == 0 && !again.tableMoved && again.fileSizeAfter == UInt64(fileSize))
    }

    @Test func compactDifferencingKeepsZerosThatHideParentData() throws {
        let dir = try TemporaryDirectory()
        try Self.filledParent(dir.file("p.vhd"), size: 4 << 20, seed: 1)
        let childPath = dir.file("c.vhd")
        var model = pattern(4 << 20, seed: 1)
        do {
            let child = try VHDImage.createDifferencing(path: childPath, parentPath: dir.file("p.vhd"))
            try child.write([UInt8](repeating: 0, count: 4096), at: 1 << 20)
            model.replaceSubrange(1 << 20..<(1 << 20) + 4096, with: [UInt8](repeating: 0, count: 4096))
            try child.flush()
        }
        let result = try VHDImage.compact(path: childPath)
        #expect(result.blocksReleased == 0)
        #expect(try difference(contents(of: VHDImage.open(path: childPath, readOnly: true)), model) == nil)
    }

    @Test func resizeFixedGrowAndShrink() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("f.vhd")
        do {
            let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .fixed, size: 1 << 20))
            try image.write(pattern(1 << 20, seed: 4), at: 0)
        }
        try VHDImage.resize(path: path, to: 3 << 20)
        var model = pattern(1 << 20, seed: 4) + [UInt8](repeating: 0, count: 2 << 20)
        #expect(try difference(contents(of: VHDImage.open(path: path, readOnly: true)), model) == nil)
        #expect(throws: VHDError.invalidRequest("cannot shrink: the disk holds data past 524288 bytes")) {
            try VHDImage.resize(path: path, to: 512 << 10)
        }
        try VHDImage.resize(path: path, to: 1 << 20)
        model = pattern(1 << 20, seed: 4)
        #expect(try difference(contents(of: VHDImage.open(path: path, readOnly: true)), model) == nil)
        try Self.expectClean(path)
    }

    /// A fixed disk whose file holds more than the disk (bytes between its end and the footer,
    /// which check notes): growing turns those bytes into disk data, so they must read as zeros
    /// — by a little (the new footer lands among them) or by more than they hold. Found by the
    /// fuzz target's maintenance invariant.
    @Test(arguments: [UInt64(4096), 64 << 10])
    func resizeFixedGrowZeroesWhatTheFileHeldPastTheDisk(growth: UInt64) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("f.vhd")
        let size = 64 << 10
        do {
            let image = try VHDImage.create(path: path, options: VHDCreateOptions(type: .fixed, size: UInt64(size)))
            try image.write(pattern(size, seed: 5), at: 0)
        }
        var bytes = try readFile(path)
        let footer = Array(bytes[size...])
        bytes = Array(bytes[..<size]) + pattern(16 << 10, seed: 6) + footer  // 16 KiB past the disk
        try writeFile(path, bytes)
        #expect(try VHDImage.check(path: path).isClean)
        try VHDImage.resize(path: path, to: UInt64(size) + growth)
        let model = pattern(size, seed: 5) + [UInt8](repeating: 0, count: Int(growth))
        #expect(try difference(contents(of: VHDImage.open(path: path, readOnly: true)), model) == nil)
        #expect(try readFile(path).count == size + Int(growth) + 512)
        try Self.expectClean(path)
        try withOracle(ToolCheck.qemuImg, "qemu-img") {
            try InteropTests.qemuCompare(path, with: model, in: dir)
        }
    }

    @Test func resizeDynamicMovesTheTableWhenItMustGrow() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("d.vhd")
        do {
            let image = try Self.dynamic(path, size: 4 << 20, blockSize: 4096)  // 1024 entries: no padding
            try image.write(pattern(8192, seed: 5), at: (4 << 20) - 8192)
        }
        try VHDImage.resize(path: path, to: 6 << 20)
        do {
            let grown = try VHDImage.open(path: path)
            #expect(grown.capacity == 6 << 20)
            #expect(grown.header?.maxTableEntries == 1536)
            #expect(try grown.read(at: (4 << 20) - 8192, length: 8192) == pattern(8192, seed: 5))
            try grown.write(pattern(4096, seed: 6), at: (6 << 20) - 4096)
            try grown.flush()
        }
        #expect(
            try VHDImage.open(path: path, readOnly: true).read(at: (6 << 20) - 4096, length: 4096)
                == pattern(4096, seed: 6))
        try Self.expectClean(path)
        #expect(
            throws: VHDError.invalidRequest("cannot shrink: data is stored past 2097152 bytes (up to 6291456)")
        ) { try VHDImage.resize(path: path, to: 2 << 20) }
        try VHDImage.resize(path: dir.file("d.vhd"), to: 6 << 20)
        try withOracle(ToolCheck.qemuImg, "qemu-img") {
            try run("qemu-img", ["convert", "-f", "vpc", "-O", "raw", path, dir.file("q.raw")])
            #expect(
                try difference(readFile(dir.file("q.raw")), contents(of: VHDImage.open(path: path, readOnly: true)))
                    == nil)
        }
    }

    @Test func resizeDynamicGrowsInsideThePadding() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("d.vhd")
        _ = try Self.dynamic(path, size: 3 << 20)  // 3 entries in a 512-byte table
        try VHDImage.resize(path: path, to: 100 << 20)
        let grown = try VHDImage.open(path: path, readOnly: true)
        #expect(grown.header?.tableOffset == 1536)
        #expect(try grown.read(at: 99 << 20, length: 4096) == [UInt8](repeating: 0, count: 4096))
        try Self.expectClean(path)
    }

    @Test func commitMergesChildIntoParent() throws {
        let dir = try TemporaryDirectory()
        try Self.filledParent(dir.file("p.vhd"), size: 4 << 20, seed: 7)
        var model = pattern(4 << 20, seed: 7)
        do {
            let child = try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: dir.file("p.vhd"))
            for (i, offset) in [5, 700_000, 3_000_001].enumerated() {
                let data = pattern(10_000, seed: 70 + UInt64(i))
                try child.write(data, at: UInt64(offset))
                model.replaceSubrange(offset..<offset + 10_000, with: data)
            }
        }
        let result = try VHDImage.commit(path: dir.file("c.vhd"))
        #expect(result.parentPath == dir.file("p.vhd"))
        #expect(try difference(contents(of: VHDImage.open(path: dir.file("p.vhd"), readOnly: true)), model) == nil)
        do {
            let child = try VHDImage.open(path: dir.file("c.vhd"), readOnly: true)
            #expect(try difference(contents(of: child), model) == nil)
            // The child is left empty and small, as after qemu-img commit.
            #expect(child.allocatedBlockCount == 0)
            #expect(try child.storedExtents().isEmpty)
            #expect(try readFile(dir.file("c.vhd")).count == Int(child.metadataEnd) + 512)
            try Self.expectClean(dir.file("p.vhd"))
            try Self.expectClean(dir.file("c.vhd"))
        }
        // The chain keeps working: a new write lands in the child only.
        do {
            let reopened = try VHDImage.open(path: dir.file("c.vhd"))
            try reopened.write(pattern(600, seed: 77), at: 1000)
            try reopened.flush()
        }
        model.replaceSubrange(1000..<1600, with: pattern(600, seed: 77))
        #expect(try difference(contents(of: VHDImage.open(path: dir.file("c.vhd"), readOnly: true)), model) == nil)
        #expect(
            try VHDImage.open(path: dir.file("p.vhd"), readOnly: true).read(at: 1000, length: 600)
                != pattern(600, seed: 77))
    }

    @Test func commitRefusesDataPastASmallerParent() throws {
        let dir = try TemporaryDirectory()
        try Self.filledParent(dir.file("p.vhd"), size: 2 << 20, seed: 7)
        do {
            let child = try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: dir.file("p.vhd"))
            try child.flush()
        }
        try VHDImage.resize(path: dir.file("c.vhd"), to: 4 << 20)
        do {
            let child = try VHDImage.open(path: dir.file("c.vhd"))
            try child.write(pattern(4096, seed: 8), at: 3 << 20)
            try child.flush()
        }
        let before = try (readFile(dir.file("p.vhd")), readFile(dir.file("c.vhd")))
        #expect(
            throws: VHDError.invalidRequest(
                "\(dir.file("c.vhd")) stores data up to 3149824 bytes, past the end of its parent (2097152 bytes); "
                    + "resize the parent first")
        ) { try VHDImage.commit(path: dir.file("c.vhd")) }
        #expect(try readFile(dir.file("p.vhd")) == before.0)
        #expect(try readFile(dir.file("c.vhd")) == before.1)
    }

    @Test(arguments: ImageFormat.allCases)
    func convertFlattensDifferencingChain(format: ImageFormat) throws {
        let dir = try TemporaryDirectory()
        do {
            let base = try Self.dynamic(dir.file("b.vhd"), size: 3 << 20)
            try base.write(pattern(1 << 20, seed: 8), at: 1 << 20)
            try base.flush()
        }
        var model = [UInt8](repeating: 0, count: 3 << 20)
        model.replaceSubrange(1 << 20..<2 << 20, with: pattern(1 << 20, seed: 8))
        do {
            let child = try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: dir.file("b.vhd"))
            try child.write(pattern(5000, seed: 9), at: (1 << 20) + 100)
            try child.flush()
        }
        model.replaceSubrange((1 << 20) + 100..<(1 << 20) + 5100, with: pattern(5000, seed: 9))
        let out = dir.file("out")
        try convertImage(source: try openImage(path: dir.file("c.vhd")), destination: out, to: format)
        let converted = try openImage(path: out)
        #expect(try difference(contents(of: converted), model) == nil)
        if format != .raw {
            #expect((converted as? VHDImage)?.diskType == (format == .fixed ? .fixed : .dynamic))
            try Self.expectClean(out)
        }
        try withOracle(ToolCheck.qemuImg, "qemu-img") {
            try InteropTests.qemuCompare(out, format: format == .raw ? "raw" : "vpc", with: model, in: dir)
        }
    }

    @Test func storedExtentsOfDynamicImage() throws {
        let dir = try TemporaryDirectory()
        let image = try Self.dynamic(dir.file("m.vhd"), size: 4 << 20)
        try image.write(pattern(1024, seed: 1), at: 512)
        try image.write(pattern(512, seed: 1), at: 1536)
        try image.write(pattern(4096, seed: 1), at: 3 << 20)
        let extents = try image.storedExtents()
        #expect(extents.map(\.offset) == [512, 3 << 20])
        #expect(extents.map(\.length) == [1536, 4096])
    }
}
