import Foundation
import TestSupport
import Testing

@testable import BlockStorage
@testable import VHD

/// A parent locator's reserved space (room for a longer path, which tools may rewrite in place)
/// is metadata up to the next block, structure or the trailing footer: new blocks never go
/// there, and the layout reads the same after the file grows past it.
@Suite struct LocatorSpaceTests {
    /// parent.vhd (dynamic, 4 MiB in 64 KiB blocks) ← child.vhd, nothing stored in the child;
    /// the child's last locator then reserves `reserve` bytes, and with `padded` the file is
    /// extended (footer moved) so that the reserve lies inside it.
    static func chain(_ dir: TemporaryDirectory, reserve: UInt32, padded: Bool) throws -> (
        child: String, locator: ParentLocatorEntry
    ) {
        var options = VHDCreateOptions(type: .dynamic, size: 4 << 20)
        options.blockSize = 64 << 10
        do {
            let parent = try VHDImage.create(path: dir.file("parent.vhd"), options: options)
            try parent.write(pattern(4 << 20, seed: 1), at: 0)
            try parent.flush()
        }
        let child = dir.file("child.vhd")
        let header = try #require(
            try VHDImage.createDifferencing(path: child, parentPath: dir.file("parent.vhd")).header)
        let last = try #require(header.locators.lastIndex { $0.isUsed })
        let reserveEnd = Int(header.locators[last].dataOffset) + Int(reserve)
        try BadInputTests.edit(child) { e in
            #expect(e.bytes.count < reserveEnd, "the reserve reaches past the file")
            e.be32(reserve, at: 512 + 576 + last * ParentLocatorEntry.size + 4)
            e.sealHeader()
            if padded {
                let footer = Array(e.bytes[e.footerAt...])
                e.bytes = Array(e.bytes[..<e.footerAt]) + [UInt8](repeating: 0, count: reserveEnd - e.footerAt) + footer
            }
        }
        var locator = header.locators[last]
        locator.dataSpace = reserve
        return (child, locator)
    }

    /// Writes 4 KiB in three blocks of `child`, flushes, and checks that the image reopens,
    /// reads right (ours and libvhdi), passes check and placed no block before `notBefore`.
    static func writeAndVerify(_ dir: TemporaryDirectory, _ child: String, notBefore: UInt64) throws {
        var model = pattern(4 << 20, seed: 1)
        do {
            let image = try VHDImage.open(path: child)
            for (offset, seed) in [(0, 2), (1 << 20, 3), ((4 << 20) - 4096, 4)] {
                try image.write(pattern(4096, seed: UInt64(seed)), at: UInt64(offset))
                model.replaceSubrange(offset..<offset + 4096, with: pattern(4096, seed: UInt64(seed)))
            }
            try image.flush()
        }
        let reopened = try VHDImage.open(path: child, readOnly: true)
        #expect(try difference(contents(of: reopened), model) == nil)
        for entry in reopened.blockAllocationTable where entry != unallocatedBlock {
            #expect(UInt64(entry) * 512 >= notBefore, "block at \(UInt64(entry) * 512), before \(notBefore)")
        }
        let report = try VHDImage.check(path: child)
        #expect(report.problems.isEmpty, "\(report.problems)")
        try withOracle(ToolCheck.pyvhdi, "libvhdi (pyvhdi)") { () throws in
            #expect(try InteropTests.libvhdiRead([child, dir.file("parent.vhd")], into: dir) == model)
        }
    }

    @Test func newBlocksGoAfterAReserveInsideTheFile() throws {
        let dir = try TemporaryDirectory()
        let (child, locator) = try Self.chain(dir, reserve: 16 << 10, padded: true)
        try Self.writeAndVerify(dir, child, notBefore: locator.dataOffset + locator.reservedBytes)
    }

    /// Found by the fuzz target: a reserve reaching past the end of the file counted only once
    /// the file had grown past it, so the block placed right after the locator's data then
    /// overlapped it and the image no longer opened after a flushed write. Such a reserve now
    /// stops at the first block, before and after the file grows.
    @Test func aReservePastTheEndOfTheFileStopsAtTheFirstBlock() throws {
        let dir = try TemporaryDirectory()
        let (child, locator) = try Self.chain(dir, reserve: 256 << 10, padded: false)
        try Self.writeAndVerify(dir, child, notBefore: locator.dataOffset + alignUp(UInt64(locator.dataLength), 512))
    }

    /// A block that another tool put inside a locator's reserve (after its data) is data, not
    /// an overlap: the reserve ends where the block starts.
    @Test func aBlockInsideTheReserveIsNotAnOverlap() throws {
        let dir = try TemporaryDirectory()
        let (child, locator) = try Self.chain(dir, reserve: 256 << 10, padded: true)
        // Place block 0 right after the locator's data, as a tool ignoring the reserve would.
        do {
            let image = try VHDImage.open(path: child)
            try image.setDataAlignment(512)
            try image.write(pattern(4096, seed: 5), at: 0)
            try image.flush()
        }
        let dataEnd = locator.dataOffset + alignUp(UInt64(locator.dataLength), 512)
        try BadInputTests.edit(child) { e in
            let table = Int(e.bytes.be64(512 + 16))
            let entry = UInt64(e.bytes.be32(table)) * 512
            // Move the block (bitmap and data) down to the end of the locator's data.
            let span = 512 + (64 << 10)
            let moved = Array(e.bytes[Int(entry)..<Int(entry) + span])
            e.bytes.replaceSubrange(Int(dataEnd)..<Int(dataEnd) + span, with: moved)
            e.be32(UInt32(dataEnd / 512), at: table)
        }
        let report = try VHDImage.check(path: child)
        #expect(report.problems.isEmpty, "\(report.problems)")
        var model = pattern(4 << 20, seed: 1)
        model.replaceSubrange(0..<4096, with: pattern(4096, seed: 5))
        #expect(try difference(contents(of: VHDImage.open(path: child, readOnly: true)), model) == nil)
    }
}
