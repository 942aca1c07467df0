import Foundation
import TestSupport
import Testing

@testable import VHD

/// Growing a dynamic or differencing disk whose file stores data past the disk's end (a
/// footer that says less than the blocks hold, as another tool or an old shrink may leave):
/// the grown part shows zeros (or the parent's data), never what was stored there. Found by the
/// fuzz target's maintenance invariant.
@Suite struct ResizeGrowTests {
    /// A `type` image of 64 KiB in 4 KiB blocks, every byte written (a differencing one over a
    /// parent filled with `pattern(_, seed: 1)`), whose footers then claim only `shortSize`.
    static func shortened(_ dir: TemporaryDirectory, differencing: Bool, shortSize: UInt64) throws -> String {
        let path = dir.file("s.vhd")
        var options = VHDCreateOptions(type: .dynamic, size: 64 << 10)
        options.blockSize = 4096
        let image: VHDImage
        if differencing {
            options.size = 256 << 10
            do {
                let parent = try VHDImage.create(path: dir.file("p.vhd"), options: options)
                try parent.write(pattern(256 << 10, seed: 1), at: 0)
                try parent.flush()
            }
            image = try VHDImage.createDifferencing(path: path, parentPath: dir.file("p.vhd"))
        } else {
            image = try VHDImage.create(path: path, options: options)
        }
        try image.write(pattern(64 << 10, seed: 2), at: 0)
        try image.flush()
        try BadInputTests.edit(path) { e in
            e.footers { e, at in
                e.be64(shortSize, at: at + 40)  // original size
                e.be64(shortSize, at: at + 48)  // current size
            }
        }
        return path
    }

    @Test(arguments: [false, true])
    func growingShowsZerosOrTheParentNeverStaleData(differencing: Bool) throws {
        let dir = try TemporaryDirectory()
        let shortSize: UInt64 = (32 << 10) + 1024  // block 8 straddles the end, 9… lie past it
        let path = try Self.shortened(dir, differencing: differencing, shortSize: shortSize)
        let before = try VHDImage.check(path: path)
        #expect(before.isClean, "\(before.problems)")
        #expect(
            before.problems.contains { "\($0.error)".contains("past the end of the disk") },
            "the stale data is there: \(before.problems)")

        let grown: UInt64 = differencing ? 256 << 10 : 128 << 10
        try VHDImage.resize(path: path, to: grown)
        var model = Array(pattern(64 << 10, seed: 2)[..<Int(shortSize)])
        let beneath =
            differencing
            ? Array(pattern(256 << 10, seed: 1)[Int(shortSize)...])
            : [UInt8](repeating: 0, count: Int(grown - shortSize))
        model += beneath
        let image = try VHDImage.open(path: path, readOnly: true)
        #expect(image.capacity == grown)
        #expect(try difference(contents(of: image), model) == nil)
        let after = try VHDImage.check(path: path)
        #expect(after.problems.isEmpty, "\(after.problems)")
        // No third-party oracle here: the straddling block now has sub-byte bitmap bits, which
        // libvhdi mishandles, and QEMU does not read dynamic bitmaps at all.
    }

    /// The same grow under fault injection: a crash at any write leaves the old disk (its
    /// bytes as before) or the grown one (zeros past the old end), never stale data.
    @Test func growingSurvivesACrashAtEveryWrite() throws {
        let dir = try TemporaryDirectory()
        let shortSize: UInt64 = (32 << 10) + 1024
        let initial = try readFile(Self.shortened(dir, differencing: false, shortSize: shortSize))
        let old = Array(pattern(64 << 10, seed: 2)[..<Int(shortSize)])
        try MaintenanceCrashTests.crashEverywhere(
            initial: initial, dir: dir,
            operation: { (image: VHDImage) throws in
                try VHDImage.resize(image: image, to: 128 << 10)
            },
            verify: { (image: VHDImage, label: String) throws in
                #expect(image.capacity == shortSize || image.capacity == 128 << 10, "\(label)")
                #expect(try difference(image.read(at: 0, length: Int(shortSize)), old) == nil, "\(label)")
                if image.capacity > shortSize {
                    #expect(
                        try image.read(at: shortSize, length: Int(image.capacity - shortSize)).allSatisfy { $0 == 0 },
                        "\(label)")
                }
            })
    }
}
