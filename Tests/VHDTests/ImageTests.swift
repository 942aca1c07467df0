import Foundation
import TestSupport
import Testing

@testable import BlockStorage
@testable import VHD

@Suite struct ImageTests {
    @Test(arguments: [VHDDiskType.fixed, .dynamic])
    func createWriteReopenRead(type: VHDDiskType) throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("a.vhd")
        let data = pattern(3 << 20, seed: 1)
        do {
            var options = VHDCreateOptions(type: type, size: 8 << 20)
            options.blockSize = 1 << 20
            let image = try VHDImage.create(path: path, options: options)
            try image.write(data, at: 1234)
            try image.flush()
        }
        let image = try VHDImage.open(path: path, readOnly: true)
        #expect(image.capacity == 8 << 20)
        #expect(image.openProblems.isEmpty)
        var expected = [UInt8](repeating: 0, count: 8 << 20)
        expected.replaceSubrange(1234..<1234 + data.count, with: data)
        #expect(try difference(contents(of: image), expected) == nil)
        let report = try VHDImage.check(path: path)
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    /// Empty requests anywhere up to the very end do nothing (the end names no block: a read
    /// there once tripped the block table's bounds check; found by the fuzz target); one byte
    /// past the end is out of range.
    @Test(arguments: [VHDDiskType.fixed, .dynamic, .differencing])
    func emptyRequestsUpToTheEnd(type: VHDDiskType) throws {
        let dir = try TemporaryDirectory()
        var options = VHDCreateOptions(type: .dynamic, size: 4 << 20)
        options.blockSize = 1 << 20
        if type == .fixed { options.type = .fixed }
        do {
            let base = try VHDImage.create(path: dir.file("a.vhd"), options: options)
            try base.write(pattern(2 << 20, seed: 2), at: 0)  // blocks 0 and 1 full
            try base.flush()
        }
        let image =
            type == .differencing
            ? try VHDImage.createDifferencing(path: dir.file("c.vhd"), parentPath: dir.file("a.vhd"))
            : try VHDImage.open(path: dir.file("a.vhd"))
        let empty = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        let offsets: [UInt64] = [0, 1 << 20, (4 << 20) - 512, 4 << 20]
        for offset in offsets {
            try image.read(into: empty, at: offset)
            try image.write(UnsafeRawBufferPointer(empty), at: offset)
            try image.discard(offset: offset, length: 0)
            #expect(try image.read(at: offset, length: 0).isEmpty)
        }
        let pastTheEnd = BlockDeviceError.outOfRange(offset: (4 << 20) + 1, length: 0, capacity: 4 << 20)
        #expect(throws: pastTheEnd) { try image.read(into: empty, at: (4 << 20) + 1) }
        #expect(throws: pastTheEnd) { try image.write(UnsafeRawBufferPointer(empty), at: (4 << 20) + 1) }
        try image.flush()
        #expect(try image.read(at: 0, length: 2 << 20) == pattern(2 << 20, seed: 2))
    }
}
