import BlockStorage
import Devices
import GuestMemory
import HostSupport
import KVM
import TestSupport
import Testing
import VHD

/// Host-side tests: the test plays the virtio driver against the real transport, queue worker
/// and eventfds (no /dev/kvm needed).
///
/// Creates eventfds (the device's notify and interrupt), which the descriptor-leak tests count:
/// it takes the `.usesKVM` gate in shared mode so those run apart from it.
@Suite(.usesKVM) struct BlockRequestTests {
    @Test func registersAndConfigSpace() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        #expect(driver.readRegister(VirtioMMIORegister.magicValue) == 0x7472_6976)
        #expect(driver.readRegister(VirtioMMIORegister.version) == 2)
        #expect(driver.readRegister(VirtioMMIORegister.deviceID) == 2)
        let features = driver.deviceFeatures
        #expect(features & VirtioFeature.version1 != 0)
        #expect(features & VirtioBlock.Feature.flush != 0 && features & VirtioBlock.Feature.discard != 0)
        #expect(features & VirtioBlock.Feature.readOnly == 0)
        #expect(features & VirtioFeature.indirectDescriptors != 0)
        #expect(features & VirtioFeature.eventIndex != 0)
        #expect(driver.readConfig(UInt64.self, at: VirtioBlock.ConfigOffset.capacity) == (1 << 20) / 512)
        #expect(driver.readConfig(UInt32.self, at: VirtioBlock.ConfigOffset.blockSize) == 512)
        #expect(driver.readConfig(UInt32.self, at: VirtioBlock.ConfigOffset.maxDiscardSegments) == 16)
        #expect(driver.readConfig(UInt32.self, at: VirtioBlock.ConfigOffset.maxDiscardSectors) == 1 << 22)
        driver.writeRegister(VirtioMMIORegister.queueSelect, 0)
        #expect(driver.readRegister(VirtioMMIORegister.queueSizeMax) == 16)
        driver.writeRegister(VirtioMMIORegister.queueSelect, 1)
        #expect(driver.readRegister(VirtioMMIORegister.queueSizeMax) == 0)
    }

    @Test func featuresWithoutVersion1OrUnofferedAreRefused() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        #expect(!driver.negotiate(features: VirtioBlock.Feature.flush))
        #expect(!driver.negotiate(features: VirtioFeature.version1 | 1 << 40))
        #expect(driver.negotiate(features: VirtioFeature.version1))
        #expect(driver.transport.negotiatedFeatures == VirtioFeature.version1)
        driver.writeRegister(VirtioMMIORegister.status, 0)
        #expect(driver.readRegister(VirtioMMIORegister.status) == 0)
    }

    @Test(arguments: DiskKind.allCases) func readWriteFlushGetID(_ kind: DiskKind) throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(kind, in: directory)
        let driver = try TestDriver(disk: disk)
        try driver.start()

        let (read, readBytes) = try driver.request(type: 0, sector: 3, dataLength: 4096, dataWritable: true)
        #expect(read.status == 0)
        #expect(read.usedLength == 4097)
        #expect(readBytes == pattern(offset: 3 * 512, count: 4096))

        let newData = (0..<1024).map { UInt8(truncatingIfNeeded: $0 * 13 + 5) }
        let (write, _) = try driver.request(type: 1, sector: 100, data: newData)
        #expect(write.status == 0)
        #expect(write.usedLength == 1)
        #expect(try disk.read(at: 100 * 512, length: 1024) == newData)

        let (flush, _) = try driver.request(type: 4)
        #expect(flush.status == 0)

        let (again, againBytes) = try driver.request(type: 0, sector: 100, dataLength: 1024, dataWritable: true)
        #expect(again.status == 0 && againBytes == newData)

        let (getID, id) = try driver.request(type: 8, dataLength: 20, dataWritable: true)
        #expect(getID.status == 0)
        #expect(id == Array("test-serial-0001".utf8) + [0, 0, 0, 0])

        let stats = driver.block.statistics
        #expect(stats.byType[.read] == 2 && stats.byType[.write] == 1 && stats.byType[.flush] == 1)
        #expect(stats.byType[.getID] == 1 && stats.failed == 0)
        #expect(driver.transport.chainsServed == 5)
    }

    @Test(arguments: [DiskKind.raw, .fixed, .dynamic]) func discardReadsBackAsZeros(_ kind: DiskKind) throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(kind, in: directory, size: 4 << 20)
        let driver = try TestDriver(disk: disk)
        try driver.start()
        // One segment: 2 MiB (a whole dynamic block) at sector 4096, unmap flag.
        var segment: [UInt8] = []
        withUnsafeBytes(of: UInt64(4096).littleEndian) { segment += $0 }
        withUnsafeBytes(of: UInt32(4096).littleEndian) { segment += $0 }
        withUnsafeBytes(of: UInt32(1).littleEndian) { segment += $0 }
        let (discard, _) = try driver.request(type: 11, data: segment)
        #expect(discard.status == 0)
        let after = try disk.read(at: 4096 * 512, length: 4096)
        // The protocol allows either zeros or the old data; these backends punch holes.
        #expect(after == [UInt8](repeating: 0, count: 4096))
        #expect(try disk.read(at: 0, length: 512) == pattern(offset: 0, count: 512))
    }

    /// A differencing disk keeps what a discard names (its parent's data would show through a
    /// released sector): the request succeeds and the data reads as before, in the child and
    /// in the parent.
    @Test func discardOnADifferencingDiskSucceedsAndKeepsTheData() throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.differencing, in: directory, size: 4 << 20)
        let driver = try TestDriver(disk: disk)
        try driver.start()
        let written = [UInt8](repeating: 0x5A, count: 4096)
        #expect(try driver.request(type: 1, sector: 4096, data: written).0.status == 0)
        var segment: [UInt8] = []
        withUnsafeBytes(of: UInt64(0).littleEndian) { segment += $0 }
        withUnsafeBytes(of: UInt32(8192).littleEndian) { segment += $0 }
        withUnsafeBytes(of: UInt32(1).littleEndian) { segment += $0 }
        #expect(try driver.request(type: 11, data: segment).0.status == 0)
        #expect(try disk.read(at: 4096 * 512, length: 4096) == written, "the child's own data stays")
        #expect(try disk.read(at: 0, length: 4096) == pattern(offset: 0, count: 4096), "the parent's data stays")
        #expect(driver.block.statistics.byType[.discard] == 1 && driver.block.statistics.failed == 0)
    }

    @Test func discardLimitsAreEnforced() throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.raw, in: directory)
        let driver = try TestDriver(disk: disk)
        try driver.start()
        func segment(sector: UInt64, count: UInt32, flags: UInt32 = 0) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: sector.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: count.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: flags.littleEndian) { bytes += $0 }
            return bytes
        }
        // Past the end of the disk, more segments than max_discard_seg, unknown flags, ragged length.
        #expect(try driver.request(type: 11, data: segment(sector: 2040, count: 16)).0.status == 1)
        #expect(
            try driver.request(type: 11, data: (0..<17).flatMap { segment(sector: UInt64($0), count: 1) }).0.status == 1
        )
        #expect(try driver.request(type: 11, data: segment(sector: 0, count: 1, flags: 2)).0.status == 2)
        #expect(try driver.request(type: 11, data: Array(segment(sector: 0, count: 1).prefix(12))).0.status == 1)
        #expect(try disk.read(at: 0, length: 1 << 20) == pattern(offset: 0, count: 1 << 20))
    }

    @Test(arguments: [DiskKind.raw, .dynamic, .differencing]) func readOnlyImageRefusesWrites(_ kind: DiskKind) throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(kind, in: directory, readOnly: true)
        let driver = try TestDriver(disk: disk)
        #expect(driver.deviceFeatures & VirtioBlock.Feature.readOnly != 0)
        try driver.start()
        let (write, _) = try driver.request(type: 1, sector: 0, data: [UInt8](repeating: 0xee, count: 512))
        #expect(write.status == 1)
        var segment = [UInt8](repeating: 0, count: 16)
        segment[8] = 1
        #expect(try driver.request(type: 11, data: segment).0.status == 1)
        let (read, bytes) = try driver.request(type: 0, sector: 0, dataLength: 512, dataWritable: true)
        #expect(read.status == 0 && bytes == pattern(offset: 0, count: 512))
        #expect(driver.block.statistics.failed == 2)
    }

    @Test func badRequestsGetAnErrorStatus() throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.raw, in: directory)
        let driver = try TestDriver(disk: disk)
        try driver.start()
        // Read past the end, a length that is not whole sectors, an unknown type, a read whose
        // data buffer is device-readable (wrong direction).
        #expect(try driver.request(type: 0, sector: 2047, dataLength: 1024, dataWritable: true).0.status == 1)
        #expect(try driver.request(type: 0, sector: 0, dataLength: 100, dataWritable: true).0.status == 1)
        #expect(
            try driver.request(type: 0, sector: UInt64.max / 256, dataLength: 512, dataWritable: true).0.status == 1)
        #expect(try driver.request(type: 99).0.status == 2)
        #expect(try driver.request(type: 0, sector: 0, data: [UInt8](repeating: 1, count: 512)).0.status == 1)
        // A write whose data buffer is device-writable (wrong direction) changes nothing.
        #expect(try driver.request(type: 1, sector: 0, dataLength: 512, dataWritable: true).0.status == 1)
        #expect(try disk.read(at: 0, length: 1 << 20) == pattern(offset: 0, count: 1 << 20))
        // The device is still fine afterwards.
        #expect(driver.transport.status.contains(.needsReset) == false)
        #expect(
            try driver.request(type: 0, sector: 1, dataLength: 512, dataWritable: true).1
                == pattern(offset: 512, count: 512))
    }

    @Test func aRequestSplitAcrossManyDescriptors() throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.dynamic, in: directory)
        let driver = try TestDriver(disk: disk)
        try driver.start()
        // Header in two 8-byte pieces, 3 sectors of data in three odd-sized pieces, status alone.
        let h = TestDriver.buffers
        try driver.memory.write(UInt64(0), at: GuestAddress(h))  // type IN, reserved
        try driver.memory.write(UInt64(8), at: GuestAddress(h + 0x40))  // sector 8
        try driver.writeChain([
            (h, 8, false), (h + 0x40, 8, false),
            (h + 0x1000, 100, true), (h + 0x2000, 1000, true), (h + 0x3000, 436, true), (h + 0x4000, 1, true),
        ])
        try driver.makeAvailable(head: 0)
        _ = try driver.waitForInterrupt()
        #expect(try driver.memory.read(UInt8.self, at: GuestAddress(h + 0x4000)) == 0)
        #expect(try driver.usedElement(0).length == 1537)
        let data =
            try driver.memory.readBytes(count: 100, at: GuestAddress(h + 0x1000))
            + driver.memory.readBytes(count: 1000, at: GuestAddress(h + 0x2000))
            + driver.memory.readBytes(count: 436, at: GuestAddress(h + 0x3000))
        #expect(data == pattern(offset: 8 * 512, count: 1536))
    }

    @Test func stateSavedAndRestoredIntoANewTransport() throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.raw, in: directory)
        let driver = try TestDriver(disk: disk)
        try driver.start()
        #expect(try driver.request(type: 0, sector: 1, dataLength: 512, dataWritable: true).0.status == 0)
        driver.stopService()
        let state = driver.transport.saveState()
        #expect(state.queues[0].nextAvailable == 1 && state.queues[0].nextUsed == 1 && state.queues[0].ready)

        // A new transport over the same memory continues where the old one stopped.
        let interrupt = try EventFD(nonBlocking: true)
        let transport = try VirtioMMIOTransport(
            backend: try VirtioBlockDevice(disk: disk, queueSize: 16), memory: driver.memory, interrupt: interrupt)
        try transport.restoreState(state)
        #expect(transport.saveState() == state)
        #expect(transport.status.contains(.driverOK))
        // The same chain again (header, 512 bytes of data, status), now for sector 2, with the
        // data and status buffers scribbled over: the restored device must fill them.
        try driver.memory.write(UInt64(2), at: GuestAddress(TestDriver.buffers + 8))
        try driver.memory.write(
            contentsOf: [UInt8](repeating: 0xEE, count: 512), at: GuestAddress(TestDriver.buffers + 0x100))
        try driver.memory.write(UInt8(0xFF), at: GuestAddress(TestDriver.buffers + 0xF_0000))
        try driver.makeAvailable(head: 0)
        transport.processQueues()
        #expect(driver.usedIndex == 2)
        #expect(try driver.usedElement(1) == (id: 0, length: 513))
        #expect(try driver.memory.read(UInt8.self, at: GuestAddress(TestDriver.buffers + 0xF_0000)) == 0)
        #expect(
            try driver.memory.readBytes(count: 512, at: GuestAddress(TestDriver.buffers + 0x100))
                == pattern(offset: 2 * 512, count: 512), "sector 2, read by the restored device")
        #expect(try interrupt.read() == 1)

        // A state whose rings leave guest memory is refused.
        var forged = state
        forged.queues[0].descriptorTable = TestDriver.memorySize - 16
        let other = try VirtioMMIOTransport(
            backend: try VirtioBlockDevice(disk: disk, queueSize: 16), memory: driver.memory, interrupt: interrupt)
        #expect(throws: VirtqueueError.invalidRingAddress(area: "descriptor", address: TestDriver.memorySize - 16)) {
            try other.restoreState(forged)
        }
    }
}
