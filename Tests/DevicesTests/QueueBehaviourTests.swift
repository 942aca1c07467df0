import BlockStorage
import Devices
import GuestMemory
import HostSupport
import KVM
import ResourceAllocator
import TestSupport
import Testing
import VHD

/// Ring mechanics: batches, wrap-around of ring slots and of the 16-bit indices, configuration
/// space access widths, placement from the layout.
///
/// Creates eventfds (the device's notify and interrupt), which the descriptor-leak tests count:
/// it takes the `.usesKVM` gate in shared mode so those run apart from it.
@Suite(.usesKVM) struct QueueBehaviourTests {
    @Test func aBatchOfChainsIsServedInOrderWithOneNotify() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        try driver.start()
        // Three reads (sectors 10, 20, 30) in descriptors 0–2, 3–5, 6–8, published together.
        for (i, sector) in [UInt64(10), 20, 30].enumerated() {
            let header = TestDriver.buffers + UInt64(i) * 0x2000
            try driver.memory.write(UInt32(0), at: GuestAddress(header))
            try driver.memory.write(sector, at: GuestAddress(header + 8))
            let first = UInt16(i * 3)
            let next = SplitVirtqueue.descriptorNext, write = SplitVirtqueue.descriptorWrite
            try driver.writeDescriptor(first, .init(address: header, length: 16, flags: next, next: first + 1))
            try driver.writeDescriptor(
                first + 1, .init(address: header + 0x1000, length: 512, flags: next | write, next: first + 2))
            try driver.writeDescriptor(first + 2, .init(address: header + 0x100, length: 1, flags: write, next: 0))
            try driver.memory.write(first, at: GuestAddress(TestDriver.availableRing + 4 + 2 * UInt64(i)))
        }
        try driver.memory.atomicStore(UInt16(3), at: GuestAddress(TestDriver.availableRing + 2))
        driver.writeRegister(VirtioMMIORegister.queueNotify, 0)
        while driver.usedIndex < 3 { _ = try driver.waitForInterrupt() }
        #expect(try (0..<3).map { try driver.usedElement($0).id } == [0, 3, 6])
        for (i, sector) in [UInt64(10), 20, 30].enumerated() {
            let header = TestDriver.buffers + UInt64(i) * 0x2000
            #expect(
                try driver.memory.readBytes(count: 512, at: GuestAddress(header + 0x1000))
                    == pattern(offset: sector * 512, count: 512))
            #expect(try driver.memory.read(UInt8.self, at: GuestAddress(header + 0x100)) == 0)
        }
    }

    @Test func ringSlotsWrapAroundTheQueueSize() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.dynamic, in: directory), queueSize: 4)
        try driver.start()
        for i in 0..<11 {
            let (read, bytes) = try driver.request(type: 0, sector: UInt64(i), dataLength: 512, dataWritable: true)
            #expect(read.status == 0 && bytes == pattern(offset: UInt64(i) * 512, count: 512))
        }
        #expect(driver.usedIndex == 11)
    }

    @Test func sixteenBitIndicesWrapAround() throws {
        // Continue a queue from positions just below 2^16 (through a restored state).
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.raw, in: directory)
        let driver = try TestDriver(disk: disk)
        try driver.start()
        driver.stopService()
        var state = driver.transport.saveState()
        state.queues[0].nextAvailable = 65534
        state.queues[0].nextUsed = 65534
        let interrupt = try EventFD(nonBlocking: true)
        let transport = try VirtioMMIOTransport(
            backend: try VirtioBlockDevice(disk: disk, queueSize: 16), memory: driver.memory, interrupt: interrupt)
        try transport.restoreState(state)
        driver.availableIndex = 65534
        // The used index where that ring would be.
        try driver.memory.atomicStore(UInt16(65534), at: GuestAddress(TestDriver.usedRing + 2))
        try driver.memory.write(UInt64(0), at: GuestAddress(TestDriver.buffers))
        try driver.writeChain([
            (TestDriver.buffers, 16, false), (TestDriver.buffers + 0x100, 512, true),
            (TestDriver.buffers + 0x800, 1, true),
        ])
        for expected in [UInt16(65535), 0, 1] {
            try driver.makeAvailable(head: 0)
            transport.processQueues()
            #expect(driver.usedIndex == expected)
            #expect(try interrupt.read() == 1)
        }
        #expect(transport.lastError == nil)
        #expect(try driver.usedElement(0).length == 513)  // the slot of index 0 (= 65536)
    }

    @Test func configSpaceReadsOfAnyWidth() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory, size: 0x12_3400))
        let capacity: UInt64 = 0x12_3400 / 512
        #expect(driver.readConfig(UInt64.self, at: 0) == capacity)
        #expect(driver.readConfig(UInt8.self, at: 1) == UInt8(truncatingIfNeeded: capacity >> 8))
        #expect(driver.readConfig(UInt16.self, at: 2) == UInt16(truncatingIfNeeded: capacity >> 16))
        #expect(driver.readConfig(UInt32.self, at: VirtioBlock.ConfigOffset.size) == 0, "past the end reads as zero")
        #expect(driver.readConfig(UInt32.self, at: 0xe00) == 0)
        // Registers other than 32-bit wide read as zero and ignore writes.
        var narrow: UInt16 = 0xffff
        withUnsafeMutableBytes(of: &narrow) {
            driver.transport.read(address: 0, offset: VirtioMMIORegister.magicValue, into: $0)
        }
        #expect(narrow == 0)
    }

    @Test func placementComesFromTheLayout() throws {
        var layout = try X86_64Layout(memorySize: 64 << 20)
        DevicePlacement.reservePlatformIRQs(in: &layout)
        let first = try DevicePlacement.allocate(in: &layout)
        let second = try DevicePlacement.allocate(in: &layout)
        #expect(first.gsi == 5 && second.gsi == 6)
        #expect(first.mmioBase == layout.configuration.mmio32Start)
        #expect(second.mmioBase == first.mmioBase + 0x1000)
        #expect(layout.mmio32.isAllocated(AddressRange(start: first.mmioBase, size: 0x1000)!))
        #expect(first.linuxCommandLineParameter == "virtio_mmio.device=4K@0xc0000000:5")
        // Once the legacy lines are gone, placement fails and gives the MMIO page back.
        while (try? layout.legacyIRQs.allocate()) != nil {}
        let freeBefore = layout.mmio32.freeRanges
        #expect(throws: DevicePlacementError.irq(.exhausted)) { try DevicePlacement.allocate(in: &layout) }
        #expect(layout.mmio32.freeRanges == freeBefore)
    }

    @Test func eventIndicesSuppressInterruptsAndPublishAvailEvent() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        try driver.start()
        #expect(driver.transport.negotiatedFeatures & VirtioFeature.eventIndex != 0)
        driver.stopService()  // serve inline, so each step is observed exactly
        let usedEvent = GuestAddress(TestDriver.availableRing + 4 + 2 * UInt64(driver.queueSize))
        let availEvent = GuestAddress(TestDriver.usedRing + 4 + 8 * UInt64(driver.queueSize))
        try driver.memory.write(UInt64(0), at: GuestAddress(TestDriver.buffers))
        try driver.writeChain([
            (TestDriver.buffers, 16, false), (TestDriver.buffers + 0x100, 512, true),
            (TestDriver.buffers + 0x800, 1, true),
        ])
        func submit(usedEventValue: UInt16) throws -> Bool {
            try driver.memory.write(
                driver.availableIndex,
                at: GuestAddress(TestDriver.availableRing + 4 + 2 * UInt64(driver.availableIndex % driver.queueSize)))
            driver.availableIndex &+= 1
            try driver.memory.atomicStore(driver.availableIndex, at: GuestAddress(TestDriver.availableRing + 2))
            try driver.memory.write(usedEventValue, at: usedEvent)
            driver.transport.processQueues()
            return try driver.interrupt.read() != nil
        }
        // used_event 0: the first completion (used 0 → 1) crosses it.
        #expect(try submit(usedEventValue: 0))
        #expect(try driver.memory.read(UInt16.self, at: availEvent) == 1)
        // used_event 5: completions 1 → 2 … 4 → 5 stay quiet, 5 → 6 interrupts.
        for _ in 1..<5 { #expect(try submit(usedEventValue: 5) == false) }
        #expect(try submit(usedEventValue: 5))
        #expect(driver.usedIndex == 6)
        #expect(try driver.memory.read(UInt16.self, at: availEvent) == 6)
        #expect(driver.transport.lastError == nil)
    }
}
