import Foundation
import TestSupport
import Testing

@testable import BlockStorage
@testable import VHD

/// Random write/read/flush/reopen sequences against a plain byte-array model.
@Suite struct ModelTests {
    enum Kind: String, CaseIterable, Sendable { case raw, fixed, dynamic, differencing }

    static let size = 3 << 20 + 512 * 5

    /// Opens (or creates, when `create`) the device under test.
    static func device(_ kind: Kind, _ dir: TemporaryDirectory, create: Bool, model: inout [UInt8]) throws
        -> any BlockDevice
    {
        let path = dir.file("disk")
        switch kind {
        case .raw:
            return create ? try RawImage(creating: path, size: UInt64(size)) : try RawImage(path: path)
        case .fixed, .dynamic:
            guard create else { return try VHDImage.open(path: path) }
            var options = VHDCreateOptions(type: kind == .fixed ? .fixed : .dynamic, size: UInt64(size))
            options.blockSize = 64 << 10
            return try VHDImage.create(path: path, options: options)
        case .differencing:
            guard create else { return try VHDImage.open(path: path) }
            // A parent with content in some blocks, so that partial writes must merge it.
            var options = VHDCreateOptions(type: .dynamic, size: UInt64(size))
            options.blockSize = 64 << 10
            do {
                let parent = try VHDImage.create(path: dir.file("parent.vhd"), options: options)
                var generator = SeededGenerator(seed: 99)
                for i in 0..<30 {
                    let offset = Int.random(in: 0..<(size - 100_000), using: &generator)
                    let data = pattern(Int.random(in: 1...100_000, using: &generator), seed: 1000 + UInt64(i))
                    try parent.write(data, at: UInt64(offset))
                    model.replaceSubrange(offset..<offset + data.count, with: data)
                }
                try parent.flush()
            }
            return try VHDImage.createDifferencing(path: path, parentPath: dir.file("parent.vhd"))
        }
    }

    @Test(arguments: Kind.allCases)
    func randomOperationsMatchModel(kind: Kind) throws {
        let dir = try TemporaryDirectory()
        var model = [UInt8](repeating: 0, count: Self.size)
        // Optional only so that a reopen can close the old open first (it holds the image's lock).
        var device: (any BlockDevice)! = try Self.device(kind, dir, create: true, model: &model)
        var generator = SeededGenerator(seed: 0x5EED + UInt64(kind.rawValue.count))
        for step in 0..<400 {
            let offset = Int.random(in: 0..<Self.size, using: &generator)
            let maximum = min(Self.size - offset, [1, 600, 5000, 150_000].randomElement(using: &generator)!)
            let length = Int.random(in: 1...maximum, using: &generator)
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<50:
                let data = pattern(length, seed: UInt64(step))
                if length > 3, Bool.random(using: &generator) {
                    // Vectored form, split in three.
                    let a = length / 3, b = 2 * length / 3
                    try data.withUnsafeBytes { all in
                        try device.write(
                            [
                                UnsafeRawBufferPointer(rebasing: all[0..<a]),
                                UnsafeRawBufferPointer(rebasing: all[a..<b]),
                                UnsafeRawBufferPointer(rebasing: all[b...]),
                            ], at: UInt64(offset))
                    }
                } else {
                    try device.write(data, at: UInt64(offset))
                }
                model.replaceSubrange(offset..<offset + length, with: data)
            case 50..<85:
                let read = try device.read(at: UInt64(offset), length: length)
                #expect(
                    difference(read, Array(model[offset..<offset + length])) == nil,
                    "step \(step): read \(length) at \(offset)")
            case 85..<92:
                try device.flush()
            case 92..<96 where kind != .differencing:
                try device.discard(offset: UInt64(offset), length: UInt64(length))
                // Whole sectors of a discarded range read as zeros (fixed, dynamic, raw).
                let start = (offset + 511) / 512 * 512, end = (offset + length) / 512 * 512
                if end > start { model.replaceSubrange(start..<end, with: [UInt8](repeating: 0, count: end - start)) }
            default:
                try device.flush()
                device = nil
                device = try Self.device(kind, dir, create: false, model: &model)
            }
        }
        do {
            let last: any BlockDevice = device
            device = nil
            #expect(try difference(contents(of: last), model) == nil)
            try last.flush()
        }
        if kind != .raw {
            let report = try VHDImage.check(path: dir.file("disk"))
            #expect(report.isClean, "\(report.problems)")
        }
    }

    @Test func concurrentReadersAndWriters() throws {
        let dir = try TemporaryDirectory()
        var options = VHDCreateOptions(type: .dynamic, size: 8 << 20)
        options.blockSize = 64 << 10
        // Four threads, each owning an interleaved set of 4 KiB slots (so blocks fill up from
        // several threads at once and move to the lock-free path), flushing now and then.
        let threads = 4, slots = (8 << 20) / 4096
        do {
            let image = try VHDImage.create(path: dir.file("c.vhd"), options: options)
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                for slot in stride(from: t, to: slots, by: threads) {
                    do {
                        try image.write(pattern(4096, seed: UInt64(slot)), at: UInt64(slot * 4096))
                        if try image.read(at: UInt64(slot * 4096), length: 4096) != pattern(4096, seed: UInt64(slot)) {
                            Issue.record("slot \(slot) read back wrong")
                        }
                        if slot % 97 == 0 { try image.flush() }
                    } catch {
                        Issue.record("slot \(slot): \(error)")
                    }
                }
            }
            try image.flush()
        }
        let reopened = try VHDImage.open(path: dir.file("c.vhd"), readOnly: true)
        for slot in 0..<slots {
            #expect(try reopened.read(at: UInt64(slot * 4096), length: 4096) == pattern(4096, seed: UInt64(slot)))
        }
    }
}
