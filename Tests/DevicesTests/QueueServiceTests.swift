import BlockStorage
import Devices
import GuestMemory
import HostSupport
import TestSupport
import Testing

/// How the queues are served: every chain made available before one notification is completed
/// in one pass, in order, published together and announced by one interrupt; interrupts follow
/// `used_event` exactly across the wrap of the 16-bit indices; while an event loop polls the
/// rings the driver's notifications are off (`VIRTQ_USED_F_NO_NOTIFY`, or a stale `avail_event`
/// with event indices) and the work is still served, and they are back on once it stops; inline
/// service completes a request before the notifying write returns. Through a `GuestMemoryMap` or
/// an `AtomicGuestMemory` alike.
@Suite(.usesKVM) struct QueueServiceTests {
    /// GET_ID chains (header, 20-byte id buffer, status) in slots 0..<`count`: slot i uses
    /// descriptors 3i…3i+2 (no disk I/O, status OK).
    static func writeGetIDChains(_ driver: TestDriver, count: Int) throws {
        for slot in 0..<count {
            let header = TestDriver.buffers + 0x100 * UInt64(slot)
            try driver.memory.write(VirtioBlock.RequestType.getID.rawValue, at: GuestAddress(header))
            try driver.memory.write(UInt64(0), at: GuestAddress(header + 8))
            let base = UInt16(3 * slot)
            try driver.writeDescriptor(
                base, .init(address: header, length: 16, flags: SplitVirtqueue.descriptorNext, next: base + 1))
            try driver.writeDescriptor(
                base + 1,
                .init(
                    address: header + 0x20, length: 20,
                    flags: SplitVirtqueue.descriptorWrite | SplitVirtqueue.descriptorNext, next: base + 2))
            try driver.writeDescriptor(
                base + 2, .init(address: header + 0x40, length: 1, flags: SplitVirtqueue.descriptorWrite, next: 0))
        }
    }

    /// Makes the chains of `slots` available with one store of `avail.idx`, after setting
    /// `used_event` to `usedEvent` (when given); notifies only if `notify`.
    static func publish(_ driver: TestDriver, slots: [Int], usedEvent: UInt16? = nil, notify: Bool = true) throws {
        let size = UInt64(driver.queueSize)
        if let usedEvent {
            try driver.memory.write(usedEvent, at: GuestAddress(TestDriver.availableRing + 4 + 2 * size))
        }
        for slot in slots {
            let entry = GuestAddress(
                TestDriver.availableRing + 4 + 2 * UInt64(driver.availableIndex % driver.queueSize))
            try driver.memory.write(UInt16(3 * slot), at: entry)
            driver.availableIndex &+= 1
        }
        try driver.memory.atomicStore(driver.availableIndex, at: GuestAddress(TestDriver.availableRing + 2))
        if notify { driver.writeRegister(VirtioMMIORegister.queueNotify, 0) }
    }

    var usedFlags: (TestDriver) -> UInt16 = { driver in
        (try? driver.memory.atomicLoad(UInt16.self, at: GuestAddress(TestDriver.usedRing))) ?? 0xFFFF
    }

    @Test(arguments: [VirtioQueueService.eventLoop, .inline], [false, true])
    func manyChainsPerNotificationCompleteInOrderWithOneInterrupt(service: VirtioQueueService, atomicMemory: Bool)
        throws
    {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(
            disk: makeDisk(.raw, in: directory), queueSize: 32, service: service, atomicMemory: atomicMemory)
        try driver.start(features: VirtioFeature.version1)
        try Self.writeGetIDChains(driver, count: 10)
        // Out of slot order, so the used ring's order is the available ring's, not the table's.
        let order = [3, 0, 9, 1, 8, 2, 7, 4, 6, 5]
        try Self.publish(driver, slots: order)
        _ = try driver.waitForInterrupt()
        try waitUntil("all ten used") { driver.usedIndex == 10 }
        for (i, slot) in order.enumerated() {
            let used = try driver.usedElement(UInt16(i))
            #expect(used.id == UInt32(3 * slot) && used.length == 21, "used element \(i)")
            let status = try driver.memory.read(
                UInt8.self, at: GuestAddress(TestDriver.buffers + 0x100 * UInt64(slot) + 0x40))
            #expect(status == 0)
        }
        let statistics = driver.transport.statistics
        #expect(statistics.chainsServed == 10 && statistics.batches == 1 && statistics.interrupts == 1)
        #expect(statistics.notifications == 1)
        #expect(try driver.interrupt.read() == nil, "no second interrupt")
    }

    @Test func interruptsFollowUsedEventAcrossTheWrapOfTheIndices() throws {
        let directory = try TemporaryDirectory()
        // Inline: each notify is served before the write returns, so every step is observed.
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory), queueSize: 16, service: .inline)
        try driver.start(features: VirtioFeature.version1 | VirtioFeature.eventIndex)
        try Self.writeGetIDChains(driver, count: 5)
        // Up to 65 520 used entries, five per notification, with used_event far behind (no
        // interrupt wanted).
        while driver.usedIndex < 65_520 {
            try Self.publish(driver, slots: [0, 1, 2, 3, 4], usedEvent: driver.usedIndex &- 100)
        }
        _ = try driver.interrupt.read()
        // Across the wrap: batches of 1 to 5, each with used_event at every position from two
        // before the batch to two after it. An interrupt is due exactly when used_event is one
        // of the indices the batch used (old ... new - 1, modulo 2^16).
        var checked = 0, wrapped = false
        for batch in 1...5 {
            for offset in -2...(batch + 1) {
                let old = driver.usedIndex
                let event = old &+ UInt16(bitPattern: Int16(offset))
                let used = Set((0..<batch).map { old &+ UInt16($0) })
                try Self.publish(driver, slots: Array(0..<batch), usedEvent: event)
                #expect(driver.usedIndex == old &+ UInt16(batch))
                let interrupted = try driver.interrupt.read() != nil
                #expect(
                    interrupted == used.contains(event),
                    "batch \(batch) from \(old), used_event \(event): interrupt \(interrupted)")
                if driver.usedIndex < old { wrapped = true }
                checked += 1
            }
        }
        #expect(wrapped, "the indices wrapped during the checks")
        #expect(checked == (1...5).reduce(0) { $0 + $1 + 4 })
        // The device kept avail_event at its next available index, through the wrap.
        let availableEvent = try driver.memory.atomicLoad(
            UInt16.self, at: GuestAddress(TestDriver.usedRing + 4 + 8 * UInt64(driver.queueSize)))
        #expect(availableEvent == driver.availableIndex)
    }

    @Test(arguments: [false, true], [false, true])
    func whileALoopPollsNotificationsAreOffAndWorkIsStillServed(eventIndex: Bool, atomicMemory: Bool) throws {
        let directory = try TemporaryDirectory()
        // A window longer than the test: the loop polls from the first request on.
        let driver = try TestDriver(
            disk: makeDisk(.raw, in: directory), queueSize: 32, polling: .fixed(nanoseconds: 60_000_000_000),
            atomicMemory: atomicMemory)
        try driver.start(features: VirtioFeature.version1 | (eventIndex ? VirtioFeature.eventIndex : 0))
        try Self.writeGetIDChains(driver, count: 8)
        let availableEvent = GuestAddress(TestDriver.usedRing + 4 + 8 * UInt64(driver.queueSize))
        // The first request is notified; the loop's next turn polls.
        try Self.publish(driver, slots: [0], usedEvent: 0)
        try waitUntil("the first request") { driver.usedIndex == 1 }
        if !eventIndex {
            try waitUntil("VIRTQ_USED_F_NO_NOTIFY") { usedFlags(driver) == SplitVirtqueue.usedNoNotify }
        }
        let eventWhilePolling = try driver.memory.atomicLoad(UInt16.self, at: availableEvent)
        // A driver honouring the hint does not notify: polling finds the work anyway.
        for round in 1...20 {
            try Self.publish(driver, slots: Array(0..<8), usedEvent: driver.usedIndex, notify: false)
            try waitUntil("round \(round)") { driver.usedIndex == UInt16(1 + 8 * round) }
        }
        let statistics = driver.transport.statistics
        #expect(statistics.chainsServed == 161)
        #expect(statistics.notifications <= 1, "only the first request's notification, if any, was taken")
        #expect(driver.loop.statistics.pollHits >= 1)
        if eventIndex {
            #expect(
                try driver.memory.atomicLoad(UInt16.self, at: availableEvent) == eventWhilePolling,
                "avail_event left behind while polling")
            #expect(usedFlags(driver) == 0, "with event indices the flag is not used")
        }
        // Off the loop: notifications back on before the deregistration returns.
        driver.stopService()
        if eventIndex {
            #expect(try driver.memory.atomicLoad(UInt16.self, at: availableEvent) == driver.availableIndex)
        } else {
            #expect(usedFlags(driver) == 0)
        }
    }

    @Test func inlineServiceCompletesBeforeTheNotifyReturns() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory), queueSize: 16, service: .inline)
        #expect(driver.transport.service == .inline)
        try driver.start(features: VirtioFeature.version1)
        try Self.writeGetIDChains(driver, count: 2)
        for round in 1...50 {
            try Self.publish(driver, slots: [round % 2])
            #expect(driver.usedIndex == UInt16(round), "round \(round) done when the write returned")
            #expect(try driver.interrupt.read() == 1)
        }
        let statistics = driver.transport.statistics
        #expect(statistics.notifications == 50 && statistics.batches == 50 && statistics.interrupts == 50)
        #expect(try driver.transport.queueNotify.read() == nil, "the eventfd is not used")
    }
}
