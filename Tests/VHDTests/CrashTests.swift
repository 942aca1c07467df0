import Foundation
import TestSupport
import Testing

@testable import VHD

/// Crash consistency: the I/O stops at every write in turn; every file a crash could leave
/// must open, and each sector must read back as it was at the last successful flush or as
/// one of the writes or discards issued after it — never garbage, never hidden parent data.
/// QEMU, reading the same crash images, sees the same disk as this package.
@Suite struct CrashTests {
    enum Step {
        case write(offset: Int, length: Int, seed: UInt64)
        /// Whole sectors inside the range read as zeros afterwards (a differencing disk ignores
        /// discards: its sectors keep their content).
        case discard(offset: Int, length: Int)
        case flush
    }

    static let size = 1 << 20
    static let blockSize: UInt32 = 64 << 10

    /// A workload mixing first-touch allocations, overwrites, partial sectors and flushes.
    static let workload: [Step] = [
        .write(offset: 0, length: 4096, seed: 1),
        .write(offset: 70_000, length: 100, seed: 2),  // partial sectors, new block
        .flush,
        .write(offset: 200 << 10, length: 150 << 10, seed: 3),  // spans three blocks
        .write(offset: 1000, length: 2000, seed: 4),  // overwrite + partial sectors
        .write(offset: 70_050, length: 20, seed: 5),  // inside the partial sector
        .flush,
        .write(offset: 600 << 10, length: 512, seed: 6),
        .write(offset: 900_001, length: 3, seed: 7),
        .write(offset: 210 << 10, length: 8192, seed: 8),
        .discard(offset: 1000, length: 3000),  // partial sectors at both ends, inside block 0
        .flush,
        .write(offset: 800 << 10, length: 70_000, seed: 9),
        .discard(offset: 192 << 10, length: 64 << 10),  // a whole block: released
        .write(offset: 193 << 10, length: 1024, seed: 10),  // and allocated again
    ]

    /// The image before the workload: returns the bytes and the disk content.
    static func initialImage(_ type: VHDDiskType, dir: TemporaryDirectory) throws -> (bytes: [UInt8], disk: [UInt8]) {
        let io = FaultyIO()
        var disk = [UInt8](repeating: 0, count: size)
        switch type {
        case .fixed, .dynamic:
            var options = VHDCreateOptions(type: type, size: UInt64(size))
            options.blockSize = blockSize
            let image = try VHDImage.create(io: io, path: dir.file("child.vhd"), options: options)
            try image.write(pattern(3000, seed: 100), at: 65_000)
            disk.replaceSubrange(65_000..<68_000, with: pattern(3000, seed: 100))
            try image.flush()
        case .differencing:
            var options = VHDCreateOptions(type: .dynamic, size: UInt64(size))
            options.blockSize = blockSize
            disk = pattern(size, seed: 200)
            do {
                let parent = try VHDImage.create(path: dir.file("parent.vhd"), options: options)
                try parent.write(disk, at: 0)
                try parent.flush()
            }
            let child = try VHDImage.createDifferencing(
                io: io, path: dir.file("child.vhd"), parentPath: dir.file("parent.vhd"))
            try child.write(pattern(3000, seed: 100), at: 65_000)
            disk.replaceSubrange(65_000..<68_000, with: pattern(3000, seed: 100))
            try child.flush()
        }
        return (io.current, disk)
    }

    struct Outcome {
        /// Disk content at the last successful flush.
        var flushed: [UInt8]
        /// Per sector, the contents it may show after a crash.
        var allowed: [Set<[UInt8]>]
    }

    /// Runs the workload until the I/O fails; returns what each sector may read back as.
    static func run(_ workload: [Step], on image: VHDImage, disk: [UInt8]) -> Outcome {
        var model = disk
        var outcome = Outcome(flushed: disk, allowed: [])
        func resetAllowed() {
            outcome.flushed = model
            outcome.allowed = stride(from: 0, to: model.count, by: 512).map { [Array(model[$0..<$0 + 512])] }
        }
        resetAllowed()
        for step in workload {
            switch step {
            case .write(let offset, let length, let seed):
                let data = pattern(length, seed: seed)
                model.replaceSubrange(offset..<offset + length, with: data)
                for sector in (offset / 512)...((offset + length - 1) / 512) {
                    outcome.allowed[sector].insert(Array(model[sector * 512..<sector * 512 + 512]))
                }
                do { try image.write(data, at: UInt64(offset)) } catch { return outcome }
            case .discard(let offset, let length):
                guard image.diskType != .differencing else {
                    do { try image.discard(offset: UInt64(offset), length: UInt64(length)) } catch { return outcome }
                    continue
                }
                let first = (offset + 511) / 512, end = (offset + length) / 512
                for sector in first..<max(first, end) {
                    model.replaceSubrange(sector * 512..<sector * 512 + 512, with: [UInt8](repeating: 0, count: 512))
                    outcome.allowed[sector].insert([UInt8](repeating: 0, count: 512))
                }
                do { try image.discard(offset: UInt64(offset), length: UInt64(length)) } catch { return outcome }
            case .flush:
                do { try image.flush() } catch { return outcome }
                resetAllowed()
            }
        }
        return outcome
    }

    /// Checks one crash image; with `oracle`, also that a third-party reader sees the same disk
    /// in it when it is a consistent image: QEMU for a fixed disk, libvhdi for a dynamic one
    /// (QEMU's vpc driver ignores the sector bitmaps, so it reads the data of sectors a crash
    /// left unmarked, which are not the disk's; neither follows a differencing chain kept in
    /// memory, so those have none).
    static func verify(
        _ bytes: [UInt8], outcome: Outcome, dir: TemporaryDirectory, label: String, oracle: Bool = false
    ) {
        let io = FaultyIO(bytes: bytes)
        do {
            let image = try VHDImage.open(io: io, path: dir.file("child.vhd"), readOnly: true)
            let disk = try contents(of: image)
            for sector in 0..<outcome.allowed.count {
                let content = Array(disk[sector * 512..<sector * 512 + 512])
                if !outcome.allowed[sector].contains(content) {
                    Issue.record("\(label): sector \(sector) reads neither the flushed nor a later written value")
                    return
                }
            }
            let problems = try VHDImage.checkStructures(io: io, path: dir.file("child.vhd")).problems
            if problems.contains(where: { $0.severity == .fatal }) { Issue.record("\(label): check finds \(problems)") }
            // A crash image that is a consistent VHD by itself (nothing for check to report but
            // notices: no missing trailing footer, no stale tail) must read the same to another
            // reader. One that needs recovery is this package's to read: the other readers do
            // not fall back to the footer copy (libvhdi) or ignore the bitmaps (QEMU).
            guard oracle, problems.allSatisfy({ $0.severity == .notice }) else { return }
            if image.diskType == .fixed {
                try withOracle(ToolCheck.qemuImg, "qemu-img") {
                    try writeFile(dir.file("crash.vhd"), bytes)
                    try VHDTests.run(
                        "qemu-img", ["convert", "-f", "vpc", "-O", "raw", dir.file("crash.vhd"), dir.file("crash.raw")])
                    if let different = difference(try readFile(dir.file("crash.raw")), disk) {
                        Issue.record("\(label): QEMU reads another disk: \(different)")
                    }
                }
            } else if image.diskType == .dynamic {
                try withOracle(ToolCheck.pyvhdi, "libvhdi (pyvhdi)") {
                    try writeFile(dir.file("crash.vhd"), bytes)
                    if let different = difference(
                        try InteropTests.libvhdiRead([dir.file("crash.vhd")], into: dir), disk)
                    {
                        Issue.record("\(label): libvhdi reads another disk: \(different)")
                    }
                }
            }

        } catch {
            Issue.record("\(label): does not open: \(error)")
        }
    }

    @Test(arguments: [VHDDiskType.fixed, .dynamic, .differencing])
    func crashAtEveryWrite(type: VHDDiskType) throws {
        let dir = try TemporaryDirectory()
        let initial = try Self.initialImage(type, dir: dir)
        // Count the writes of an undisturbed run.
        let total: Int = try {
            let io = FaultyIO(bytes: initial.bytes)
            let image = try VHDImage.open(io: io, path: dir.file("child.vhd"))
            _ = Self.run(Self.workload, on: image, disk: initial.disk)
            try image.flush()
            return io.writeCount
        }()
        #expect(total >= 9, "the workload issues at least one write per step")
        var generator = SeededGenerator(seed: 77)
        for crashAt in 0...total {
            let io = FaultyIO(bytes: initial.bytes, writesAllowed: crashAt)
            let outcome: Outcome
            do {
                let image = try VHDImage.open(io: io, path: dir.file("child.vhd"))
                outcome = Self.run(Self.workload, on: image, disk: initial.disk)
            }
            let pending = io.pendingCount
            // Every unsynced write reached the disk; none did; each one alone was lost; only a
            // prefix arrived; random subsets did.
            Self.verify(
                io.crashImage { _ in true }, outcome: outcome, dir: dir,
                label: "\(type) crash at \(crashAt), all pending kept", oracle: true)
            Self.verify(
                io.crashImage { _ in false }, outcome: outcome, dir: dir,
                label: "\(type) crash at \(crashAt), all pending lost", oracle: true)
            for lost in 0..<pending where pending > 1 {
                Self.verify(
                    io.crashImage { $0 != lost }, outcome: outcome, dir: dir,
                    label: "\(type) crash at \(crashAt), pending write \(lost) lost")
                Self.verify(
                    io.crashImage { $0 == lost }, outcome: outcome, dir: dir,
                    label: "\(type) crash at \(crashAt), only pending write \(lost) kept")
            }
            for round in 0..<3 where pending > 1 {
                let keep = (0..<pending).map { _ in Bool.random(using: &generator) }
                Self.verify(
                    io.crashImage { keep[$0] }, outcome: outcome, dir: dir,
                    label: "\(type) crash at \(crashAt), subset \(round)")
            }
        }
    }

    @Test(arguments: [VHDDiskType.dynamic, .differencing])
    func recoveryAfterCrashKeepsWorking(type: VHDDiskType) throws {
        let dir = try TemporaryDirectory()
        let initial = try Self.initialImage(type, dir: dir)
        // Crash in the middle of the workload, keep every pending write (stale blocks past the
        // end of the data), then reopen for writing and go on.
        let io = FaultyIO(bytes: initial.bytes, writesAllowed: 9)
        let outcome: Outcome
        do {
            let image = try VHDImage.open(io: io, path: dir.file("child.vhd"))
            outcome = Self.run(Self.workload, on: image, disk: initial.disk)
        }
        let recovered = FaultyIO(bytes: io.crashImage { _ in true })
        var model = outcome.flushed
        do {
            let image = try VHDImage.open(io: recovered, path: dir.file("child.vhd"))
            let before = try contents(of: image)
            for sector in 0..<outcome.allowed.count {
                #expect(outcome.allowed[sector].contains(Array(before[sector * 512..<sector * 512 + 512])))
            }
            model = before
            for (i, offset) in [300_000, 512 << 10, 1000, 1_000_000].enumerated() {
                let data = pattern(5000, seed: 500 + UInt64(i))
                let length = min(5000, Self.size - offset)
                try image.write(Array(data[0..<length]), at: UInt64(offset))
                model.replaceSubrange(offset..<offset + length, with: data[0..<length])
            }
            try image.flush()
        }
        let reopened = try VHDImage.open(
            io: FaultyIO(bytes: recovered.crashImage { _ in false }), path: dir.file("child.vhd"), readOnly: true)
        #expect(try difference(contents(of: reopened), model) == nil)
        let problems = try VHDImage.checkStructures(io: FaultyIO(bytes: recovered.current), path: dir.file("child.vhd"))
            .problems
        #expect(problems.filter { $0.severity != .notice }.isEmpty, "\(problems)")
    }

    @Test func flushSyncsTwiceAndOnlyWhenDirty() throws {
        let dir = try TemporaryDirectory()
        let initial = try Self.initialImage(.dynamic, dir: dir)
        let io = FaultyIO(bytes: initial.bytes)
        let image = try VHDImage.open(io: io, path: dir.file("child.vhd"))
        let writesAtStart = io.writeCount
        for i in 0..<8 { try image.write(pattern(1 << 16, seed: UInt64(i)), at: UInt64(i) << 17) }
        // Blocks 0, 2, ..., 14 written in full: the data; block 0 was allocated before, so its
        // changed bitmap waits for the flush; the seven new ones have their bitmap written as
        // they became full.
        #expect(io.writeCount - writesAtStart == 8 + 7)
        // A new block written in part: its bitmap waits for the flush too.
        try image.write(pattern(512, seed: 8), at: 9 << 16)
        let writesBefore = io.writeCount
        try image.flush()
        // The flush adds the two waiting bitmaps, the trailing footer and one BAT sector — not
        // one sync per block.
        #expect(io.writeCount - writesBefore == 2 + 1 + 1)
        #expect(io.state.withLock { $0.syncCount } == 2)
        // Overwrites of stored sectors change no metadata.
        try image.write(pattern(4096, seed: 9), at: 0)
        try image.flush()
        #expect(io.writeCount - writesBefore == 2 + 1 + 1 + 1)
    }
}

/// Maintenance operations under the same fault injection: their own writes must never leave
/// an image that fails to open or reads differently.
@Suite struct MaintenanceCrashTests {
    /// A dynamic image (64 KiB blocks, 1 MiB) with data in some blocks and two emptied ones.
    static func fragmented(dir: TemporaryDirectory) throws -> (bytes: [UInt8], disk: [UInt8]) {
        let io = FaultyIO()
        var options = VHDCreateOptions(type: .dynamic, size: 1 << 20)
        options.blockSize = 64 << 10
        let image = try VHDImage.create(io: io, path: dir.file("m.vhd"), options: options)
        var disk = [UInt8](repeating: 0, count: 1 << 20)
        for block in [0, 3, 5, 9, 15] {
            let data = pattern(10_000, seed: UInt64(block))
            try image.write(data, at: UInt64(block) << 16)
            disk.replaceSubrange(block << 16..<(block << 16) + 10_000, with: data)
        }
        try image.discard(offset: 3 << 16, length: 64 << 10)
        try image.write([UInt8](repeating: 0, count: 64 << 10), at: 5 << 16)
        disk.replaceSubrange(3 << 16..<6 << 16, with: [UInt8](repeating: 0, count: 3 << 16))
        try image.flush()
        return (io.current, disk)
    }

    /// Every file a crash at each write of `operation` could leave, checked by `verify`.
    static func crashEverywhere(
        initial: [UInt8], dir: TemporaryDirectory, operation: (VHDImage) throws -> Void,
        verify: (VHDImage, String) throws -> Void
    ) throws {
        var total = 0
        do {
            let io = FaultyIO(bytes: initial)
            try operation(try VHDImage.open(io: io, path: dir.file("m.vhd")))
            total = io.writeCount
        }
        #expect(total > 3)
        for crashAt in 0...total {
            let io = FaultyIO(bytes: initial, writesAllowed: crashAt)
            do { try operation(try VHDImage.open(io: io, path: dir.file("m.vhd"))) } catch {}
            for (name, bytes) in io.crashVariants() {
                let label = "crash at \(crashAt), \(name)"
                do {
                    try verify(
                        try VHDImage.open(io: FaultyIO(bytes: bytes), path: dir.file("m.vhd"), readOnly: true), label)
                } catch {
                    Issue.record("\(label): \(error)")
                }
            }
        }
    }

    @Test func compactSurvivesACrashAtEveryWrite() throws {
        let dir = try TemporaryDirectory()
        let initial = try Self.fragmented(dir: dir)
        try Self.crashEverywhere(
            initial: initial.bytes, dir: dir,
            operation: { (image: VHDImage) throws in
                let result = try image.compactOpened { _ in }
                #expect(result.blocksReleased == 2)
            },
            verify: { (image: VHDImage, label: String) throws in
                #expect(try difference(contents(of: image), initial.disk) == nil, "\(label)")
            })
    }

    /// A 1 MiB dynamic image (4 KiB blocks, a 1 KiB BAT) with data in blocks 0…7, grown to
    /// 2 MiB (the BAT grows to 2 KiB and moves to the end of the file), then data in blocks
    /// 300 and 400 (after the BAT), and blocks 2 and 5 discarded and released at a flush: free
    /// space `compact` has to find by itself.
    static func resizedAndDiscarded(dir: TemporaryDirectory) throws -> (bytes: [UInt8], disk: [UInt8]) {
        let io = FaultyIO()
        var options = VHDCreateOptions(type: .dynamic, size: 1 << 20)
        options.blockSize = 4096
        var disk = [UInt8](repeating: 0, count: 2 << 20)
        do {
            let image = try VHDImage.create(io: io, path: dir.file("m.vhd"), options: options)
            for block in 0..<8 {
                let data = pattern(3000, seed: 50 + UInt64(block))
                try image.write(data, at: UInt64(block) << 12)
                disk.replaceSubrange(block << 12..<(block << 12) + 3000, with: data)
            }
            try image.flush()
            try VHDImage.resize(image: image, to: 2 << 20)
        }
        let image = try VHDImage.open(io: FaultyIO(bytes: io.current), path: dir.file("m.vhd"))
        let grownIO = try #require(image.io as? FaultyIO)
        for block in [300, 400] {
            let data = pattern(4096, seed: 60 + UInt64(block))
            try image.write(data, at: UInt64(block) << 12)
            disk.replaceSubrange(block << 12..<(block + 1) << 12, with: data)
        }
        try image.flush()
        for block in [2, 5] {
            try image.discard(offset: UInt64(block) << 12, length: 4096)
            disk.replaceSubrange(block << 12..<(block + 1) << 12, with: [UInt8](repeating: 0, count: 4096))
        }
        try image.flush()
        #expect(image.allocatedBlockCount == 8)
        return (grownIO.current, disk)
    }

    @Test func compactAfterResizeAndDiscardSurvivesACrashAtEveryWrite() throws {
        let dir = try TemporaryDirectory()
        let initial = try Self.resizedAndDiscarded(dir: dir)
        try Self.crashEverywhere(
            initial: initial.bytes, dir: dir,
            operation: { (image: VHDImage) throws in
                let result = try image.compactOpened { _ in }
                #expect(result.blocksMoved == 2 && result.tableMoved)
            },
            verify: { (image: VHDImage, label: String) throws in
                #expect(try difference(contents(of: image), initial.disk) == nil, "\(label)")
            })
    }

    @Test(arguments: [UInt64(2 << 20), 16 << 20])
    func resizeSurvivesACrashAtEveryWrite(newSize: UInt64) throws {
        let dir = try TemporaryDirectory()
        let initial = try Self.fragmented(dir: dir)
        try Self.crashEverywhere(
            initial: initial.bytes, dir: dir,
            operation: { (image: VHDImage) throws in
                try VHDImage.resize(image: image, to: newSize)
            },
            verify: { (image: VHDImage, label: String) throws in
                #expect(image.capacity == 1 << 20 || image.capacity == newSize, "\(label)")
                #expect(try difference(image.read(at: 0, length: 1 << 20), initial.disk) == nil, "\(label)")
                if image.capacity > 1 << 20 {
                    #expect(
                        try image.read(at: 1 << 20, length: Int(image.capacity) - (1 << 20)).allSatisfy { $0 == 0 },
                        "\(label)")
                }
            })
    }

    /// parent.vhd (dynamic, 64 KiB blocks, filled) ← child.vhd with writes in four blocks.
    static func commitChain(dir: TemporaryDirectory) throws -> (parent: [UInt8], child: [UInt8], disk: [UInt8]) {
        var options = VHDCreateOptions(type: .dynamic, size: 1 << 20)
        options.blockSize = 64 << 10
        let parentIO = FaultyIO()
        let parent = try VHDImage.create(io: parentIO, path: dir.file("p.vhd"), options: options)
        var disk = pattern(1 << 20, seed: 30)
        try parent.write(Array(disk[0..<(512 << 10)]), at: 0)  // the upper half stays unallocated
        disk.replaceSubrange(512 << 10..<1 << 20, with: [UInt8](repeating: 0, count: 512 << 10))
        try parent.flush()
        try writeFile(dir.file("p.vhd"), parentIO.current)
        let childIO = FaultyIO()
        let child = try VHDImage.createDifferencing(io: childIO, path: dir.file("c.vhd"), parentPath: dir.file("p.vhd"))
        for (i, (offset, length)) in [(100, 5000), (200_000, 70_000), (600_000, 4096), (1_000_000, 48_576)].enumerated()
        {
            let data = pattern(length, seed: 40 + UInt64(i))
            try child.write(data, at: UInt64(offset))
            disk.replaceSubrange(offset..<offset + length, with: data)
        }
        try child.flush()
        return (parentIO.current, childIO.current, disk)
    }

    /// The chain of a parent and a child (both as a crash left them) must read `disk`.
    static func verifyChain(parent: [UInt8], child: [UInt8], disk: [UInt8], dir: TemporaryDirectory, label: String) {
        do {
            try writeFile(dir.file("p.vhd"), parent)
            let image = try VHDImage.open(io: FaultyIO(bytes: child), path: dir.file("c.vhd"), readOnly: true)
            #expect(try difference(contents(of: image), disk) == nil, "\(label)")
            let problems = try VHDImage.checkStructures(io: FaultyIO(bytes: child), path: dir.file("c.vhd")).problems
            #expect(problems.filter { $0.severity != .notice }.isEmpty, "\(label): \(problems)")
        } catch {
            Issue.record("\(label): \(error)")
        }
    }

    /// Commit = writes to the parent, its flush, then the child emptied: a crash at any write of
    /// either file leaves a chain that reads as before.
    @Test func commitSurvivesACrashAtEveryWrite() throws {
        let dir = try TemporaryDirectory()
        let initial = try Self.commitChain(dir: dir)
        func attempt(parentWrites: Int?, childWrites: Int?) throws -> (
            parent: FaultyIO, child: FaultyIO, copied: UInt64?
        ) {
            try writeFile(dir.file("p.vhd"), initial.parent)
            let parentIO = FaultyIO(bytes: initial.parent, writesAllowed: parentWrites)
            let childIO = FaultyIO(bytes: initial.child, writesAllowed: childWrites)
            let child = try VHDImage.open(io: childIO, path: dir.file("c.vhd"))
            let parent = try VHDImage.open(io: parentIO, path: dir.file("p.vhd"))
            let copied = try? VHDImage.commit(child: child, into: parent) { _ in }
            return (parentIO, childIO, copied)
        }
        let full = try attempt(parentWrites: nil, childWrites: nil)
        // Whole sectors stored: 0..<10, 390..<528, 1171..<1180, 1953..<2048.
        #expect(full.copied == UInt64(10 + 138 + 9 + 95) * 512)
        let (parentTotal, childTotal) = (full.parent.writeCount, full.child.writeCount)
        #expect(parentTotal > 4 && childTotal >= 3)
        let emptied = try VHDImage.open(
            io: FaultyIO(bytes: full.child.current), path: dir.file("c.vhd"), readOnly: true)
        #expect(emptied.allocatedBlockCount == 0)
        #expect(UInt64(full.child.current.count) == emptied.metadataEnd + 512)
        Self.verifyChain(
            parent: full.parent.current, child: full.child.current, disk: initial.disk, dir: dir, label: "no crash")
        // A crash while the parent is written (the child untouched).
        for crashAt in 0..<parentTotal {
            let run = try attempt(parentWrites: crashAt, childWrites: nil)
            #expect(run.child.writeCount == 0)
            for (name, bytes) in run.parent.crashVariants() {
                Self.verifyChain(
                    parent: bytes, child: initial.child, disk: initial.disk, dir: dir,
                    label: "parent crash at \(crashAt), \(name)")
            }
        }
        // A crash while the child is emptied (the parent flushed).
        for crashAt in 0..<childTotal {
            let run = try attempt(parentWrites: nil, childWrites: crashAt)
            #expect(run.parent.pendingCount == 0)
            for (name, bytes) in run.child.crashVariants() {
                Self.verifyChain(
                    parent: run.parent.current, child: bytes, disk: initial.disk, dir: dir,
                    label: "child crash at \(crashAt), \(name)")
            }
        }
    }
}
