import Devices
import GuestMemory
import KVM
import TestSupport
import Testing
import VHD

/// A malicious driver: every broken virtqueue ends in DEVICE_NEEDS_RESET with a
/// configuration-change interrupt, nothing outside guest memory is touched, the disk is
/// unchanged, and a reset makes the device usable again.
///
/// Creates eventfds (the device's notify and interrupt), which the descriptor-leak tests count:
/// it takes the `.usesKVM` gate in shared mode so those run apart from it.
@Suite(.usesKVM) struct MalformedQueueTests {
    /// Runs `breakIt` on a started driver, expects the error state, then resets and checks the
    /// device works again.
    func expectNeedsReset(
        features: UInt64? = nil, _ check: (VirtqueueError) -> Bool, _ breakIt: (TestDriver) throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.raw, in: directory)
        let driver = try TestDriver(disk: disk)
        try driver.start(features: features)
        try breakIt(driver)
        let status = try driver.waitForInterrupt()
        #expect(status & VirtioInterrupt.configurationChange != 0, sourceLocation: sourceLocation)
        #expect(driver.transport.status.contains(.needsReset), sourceLocation: sourceLocation)
        let error = try #require(driver.transport.lastError, sourceLocation: sourceLocation)
        #expect(check(error), "unexpected \(error)", sourceLocation: sourceLocation)
        #expect(driver.usedIndex == 0, sourceLocation: sourceLocation)
        #expect(
            try disk.read(at: 0, length: 1 << 20) == pattern(offset: 0, count: 1 << 20), sourceLocation: sourceLocation)
        // Reset the same transport (status 0, as a driver recovering does), set the rings up
        // afresh and use it properly.
        driver.availableIndex = 0
        try driver.memory.write(UInt16(0), at: GuestAddress(TestDriver.availableRing + 2))
        try driver.memory.write(UInt16(0), at: GuestAddress(TestDriver.usedRing + 2))
        try driver.start()
        #expect(!driver.transport.status.contains(.needsReset), sourceLocation: sourceLocation)
        #expect(driver.transport.lastError == nil, sourceLocation: sourceLocation)
        let (read, bytes) = try driver.request(type: 0, sector: 2, dataLength: 512, dataWritable: true)
        #expect(read.status == 0 && bytes == pattern(offset: 1024, count: 512), sourceLocation: sourceLocation)
        #expect(driver.usedIndex == 1, sourceLocation: sourceLocation)
    }

    @Test func descriptorLoop() throws {
        try expectNeedsReset({ $0 == .chainTooLong(queueSize: 16) }) { driver in
            let next = SplitVirtqueue.descriptorNext
            try driver.writeDescriptor(0, .init(address: TestDriver.buffers, length: 16, flags: next, next: 1))
            try driver.writeDescriptor(1, .init(address: TestDriver.buffers + 0x100, length: 512, flags: next, next: 0))
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func selfLoop() throws {
        try expectNeedsReset({ $0 == .chainTooLong(queueSize: 16) }) { driver in
            try driver.writeDescriptor(
                3, .init(address: TestDriver.buffers, length: 16, flags: SplitVirtqueue.descriptorNext, next: 3))
            try driver.makeAvailable(head: 3)
        }
    }

    @Test func moreDescriptorsThanTheQueueSize() throws {
        // 16 distinct descriptors chained, the last one pointing past the table: the 17th link
        // is refused (the chain cannot be longer than the queue).
        try expectNeedsReset({
            if case .descriptorIndexOutOfRange(16, 16) = $0 { return true }
            return $0 == .chainTooLong(queueSize: 16)
        }) { driver in
            for i in UInt16(0)..<16 {
                try driver.writeDescriptor(
                    i, .init(address: TestDriver.buffers, length: 16, flags: SplitVirtqueue.descriptorNext, next: i + 1)
                )
            }
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func headIndexOutOfRange() throws {
        try expectNeedsReset({ $0 == .descriptorIndexOutOfRange(40, queueSize: 16) }) { driver in
            try driver.makeAvailable(head: 40)
        }
    }

    @Test func lengthPastGuestMemory() throws {
        try expectNeedsReset({ $0 == .bufferOutsideGuestMemory(address: TestDriver.memorySize - 100, length: 4096) }) {
            driver in
            try driver.writeChain([
                (TestDriver.buffers, 16, false), (TestDriver.memorySize - 100, 4096, true),
                (TestDriver.buffers + 0x800, 1, true),
            ])
            try driver.memory.write(UInt64(0), at: GuestAddress(TestDriver.buffers))
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func addressWrapsPast2To64() throws {
        try expectNeedsReset({ $0 == .bufferOutsideGuestMemory(address: UInt64.max - 10, length: 0x1000_0000) }) {
            driver in
            try driver.writeChain([(UInt64.max - 10, 0x1000_0000, false), (TestDriver.buffers, 1, true)])
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func readableAfterWritable() throws {
        try expectNeedsReset({ $0 == .readableAfterWritable(index: 2) }) { driver in
            try driver.writeChain([
                (TestDriver.buffers, 16, false), (TestDriver.buffers + 0x100, 512, true),
                (TestDriver.buffers + 0x400, 1, false),
            ])
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func indirectDescriptorWithoutTheFeature() throws {
        let features = VirtioFeature.version1 | VirtioBlock.Feature.flush
        try expectNeedsReset(features: features, { $0 == .indirectNotNegotiated(index: 0) }) { driver in
            try driver.writeDescriptor(
                0, .init(address: TestDriver.buffers, length: 32, flags: SplitVirtqueue.descriptorIndirect, next: 0))
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func availableIndexJumpsPastTheQueueSize() throws {
        try expectNeedsReset({ $0 == .availableIndexJump(last: 0, now: 17) }) { driver in
            try driver.makeAvailable(head: 0, count: 17)
        }
    }

    @Test func badQueueAddressesAreRefusedAtQueueReady() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        let cases: [(size: UInt16, d: UInt64, a: UInt64, u: UInt64, error: VirtqueueError)] = [
            (
                16, TestDriver.memorySize - 8, 0x2000, 0x3000,
                .invalidRingAddress(area: "descriptor", address: TestDriver.memorySize - 8)
            ),
            (16, 0x1008, 0x2000, 0x3000, .invalidRingAddress(area: "descriptor", address: 0x1008)),
            (16, 0x1000, 0x2001, 0x3000, .invalidRingAddress(area: "available", address: 0x2001)),
            (
                16, 0x1000, 0x2000, TestDriver.memorySize - 64,
                .invalidRingAddress(area: "used", address: TestDriver.memorySize - 64)
            ),
            (16, 0x1000, 0x2000, UInt64.max & ~3, .invalidRingAddress(area: "used", address: UInt64.max & ~3)),
            (12, 0x1000, 0x2000, 0x3000, .invalidSize(12)),
            (32, 0x1000, 0x2000, 0x3000, .invalidSize(32)),
            (0, 0x1000, 0x2000, 0x3000, .invalidSize(0)),
        ]
        for c in cases {
            try #require(driver.negotiate())
            #expect(!driver.setUpQueue(size: c.size, descriptors: c.d, available: c.a, used: c.u))
            #expect(driver.transport.status.contains(.needsReset))
            #expect(driver.transport.lastError == c.error)
            _ = try driver.waitForInterrupt()
        }
        // After a reset, good addresses work.
        try driver.start()
        #expect(try driver.request(type: 4).0.status == 0)
    }

    @Test func statusWithoutRoomForItIsDropped() throws {
        // A chain with no writable byte completes with length 0 and the device stays usable.
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        try driver.start()
        try driver.memory.write(UInt64(0), at: GuestAddress(TestDriver.buffers))
        try driver.writeChain([(TestDriver.buffers, 16, false)])
        try driver.makeAvailable(head: 0)
        _ = try driver.waitForInterrupt()
        #expect(try driver.usedElement(0).length == 0)
        #expect(!driver.transport.status.contains(.needsReset))
        #expect(driver.block.statistics.failed == 1)
    }

    // MARK: indirect tables

    /// Writes an indirect table at `table` (entries linked in order unless `next` is given) and
    /// points descriptor 0 at it.
    static func writeIndirect(
        _ driver: TestDriver, table: UInt64, entries: [(address: UInt64, length: UInt32, flags: UInt16, next: UInt16)],
        indirectLength: UInt32? = nil, indirectFlags: UInt16 = SplitVirtqueue.descriptorIndirect
    ) throws {
        for (i, e) in entries.enumerated() {
            let base = GuestAddress(table + 16 * UInt64(i))
            try driver.memory.write(e.address, at: base)
            try driver.memory.write(e.length, at: GuestAddress(base.rawValue + 8))
            try driver.memory.write(e.flags, at: GuestAddress(base.rawValue + 12))
            try driver.memory.write(e.next, at: GuestAddress(base.rawValue + 14))
        }
        try driver.writeDescriptor(
            0,
            .init(address: table, length: indirectLength ?? UInt32(16 * entries.count), flags: indirectFlags, next: 0))
    }

    static let table = TestDriver.buffers + 0x8000
    static let next = SplitVirtqueue.descriptorNext, write = SplitVirtqueue.descriptorWrite

    @Test func anIndirectRequestIsServed() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.dynamic, in: directory))
        try driver.start()
        let h = TestDriver.buffers
        try driver.memory.write(UInt64(0), at: GuestAddress(h))
        try driver.memory.write(UInt64(7), at: GuestAddress(h + 8))
        try Self.writeIndirect(
            driver, table: Self.table,
            entries: [
                (h, 16, Self.next, 1), (h + 0x1000, 1024, Self.next | Self.write, 2), (h + 0x800, 1, Self.write, 0),
            ])
        try driver.makeAvailable(head: 0)
        _ = try driver.waitForInterrupt()
        #expect(try driver.usedElement(0) == (0, 1025))
        #expect(try driver.memory.read(UInt8.self, at: GuestAddress(h + 0x800)) == 0)
        #expect(
            try driver.memory.readBytes(count: 1024, at: GuestAddress(h + 0x1000))
                == pattern(offset: 7 * 512, count: 1024))
    }

    @Test func nestedIndirectTable() throws {
        try expectNeedsReset({ $0 == .nestedIndirect(index: 1) }) { driver in
            try Self.writeIndirect(
                driver, table: Self.table,
                entries: [
                    (TestDriver.buffers, 16, Self.next, 1), (Self.table, 32, SplitVirtqueue.descriptorIndirect, 0),
                ])
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func indirectWithNextOrABadLength() throws {
        let entry = [(address: TestDriver.buffers, length: UInt32(16), flags: UInt16(0), next: UInt16(0))]
        try expectNeedsReset({ $0 == .invalidIndirectTable(index: 0, length: 16) }) { driver in
            try Self.writeIndirect(
                driver, table: Self.table, entries: entry, indirectFlags: SplitVirtqueue.descriptorIndirect | Self.next)
            try driver.makeAvailable(head: 0)
        }
        for length: UInt32 in [0, 24, 16 * 17] {
            try expectNeedsReset({ $0 == .invalidIndirectTable(index: 0, length: length) }) { driver in
                try Self.writeIndirect(driver, table: Self.table, entries: entry, indirectLength: length)
                try driver.makeAvailable(head: 0)
            }
        }
    }

    @Test func indirectTableOutsideGuestMemory() throws {
        try expectNeedsReset({ $0 == .bufferOutsideGuestMemory(address: TestDriver.memorySize - 32, length: 64) }) {
            driver in
            try driver.writeDescriptor(
                0,
                .init(
                    address: TestDriver.memorySize - 32, length: 64, flags: SplitVirtqueue.descriptorIndirect, next: 0))
            try driver.makeAvailable(head: 0)
        }
    }

    @Test func loopAndIndexOutOfRangeInsideAnIndirectTable() throws {
        try expectNeedsReset({ $0 == .chainTooLong(queueSize: 16) }) { driver in
            try Self.writeIndirect(
                driver, table: Self.table,
                entries: [
                    (TestDriver.buffers, 16, Self.next, 1), (TestDriver.buffers, 16, Self.next, 0),
                ])
            try driver.makeAvailable(head: 0)
        }
        try expectNeedsReset({ $0 == .descriptorIndexOutOfRange(2, queueSize: 2) }) { driver in
            try Self.writeIndirect(
                driver, table: Self.table,
                entries: [
                    (TestDriver.buffers, 16, Self.next, 1), (TestDriver.buffers, 16, Self.next, 2),
                ])
            try driver.makeAvailable(head: 0)
        }
    }
}
