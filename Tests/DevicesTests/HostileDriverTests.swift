import BlockStorage
import Devices
import Foundation
import GuestMemory
import HostSupport
import TestSupport
import Testing

/// The faults a randomized hostile driver found, each pinned: a driver that keeps its queue
/// busy forever gets a queue's worth of chains per notification and never keeps reset, stop or
/// a snapshot out; a buffer that ends at the top of the address space is served, not a trap;
/// a queue too small for a request is refused when the device is made; chains completed
/// before a broken one raise the used-buffer interrupt; a `QueueNum` wider than 16 bits is
/// refused, not cut.
///
/// Creates eventfds (the device's notify and interrupt), which the descriptor-leak tests count:
/// it takes the `.usesKVM` gate in shared mode so those run apart from it.
@Suite(.usesKVM) struct HostileDriverTests {
    /// The page holding the available ring (at +0) and the request header (at +16), which
    /// every request also reads a sector into.
    static let page: UInt64 = 0x20000
    static let sectors = 65536

    /// A raw disk whose sector k, read into ``page``, sets `avail.idx` to k + 2 and the header's
    /// sector to k + 1 (mod 65536, so the cycle never ends): each IN request makes the next one
    /// available. The queue has two entries; both ring slots name descriptor 0.
    static func selfFeedingDriver(in directory: TemporaryDirectory) throws -> TestDriver {
        var bytes = [UInt8](repeating: 0, count: sectors * 512)
        for k in 0..<sectors {
            let base = k * 512
            let next = UInt16(truncatingIfNeeded: k + 2), sector = UInt64((k + 1) % sectors)
            withUnsafeBytes(of: next.littleEndian) { for (i, b) in $0.enumerated() { bytes[base + 2 + i] = b } }
            withUnsafeBytes(of: sector.littleEndian) { for (i, b) in $0.enumerated() { bytes[base + 24 + i] = b } }
        }
        let path = directory.file("self-feeding.raw")
        do {
            let disk = try RawImage(creating: path, size: UInt64(bytes.count))
            try disk.write(bytes, at: 0)
        }
        let driver = try TestDriver(disk: try RawImage(path: path), queueSize: 2)
        try #require(driver.negotiate())
        try #require(driver.setUpQueue(available: page))
        // Descriptor 0: the header at page + 16 (readable); descriptor 1: the sector's data over
        // the page itself plus the status byte (writable).
        try driver.writeChain([(page + 16, 16, false), (page, 513, true)])
        try driver.memory.write(UInt32(0), at: GuestAddress(page + 16))  // IN
        try driver.memory.write(UInt64(0), at: GuestAddress(page + 24))  // sector 0
        try driver.memory.write(UInt16(0), at: GuestAddress(page + 4))  // ring[0] = descriptor 0
        try driver.memory.atomicStore(UInt16(1), at: GuestAddress(page + 2))
        driver.driverOK()
        return driver
    }

    @Test func oneCallServesAtMostAQueueOfChainsAndComesBack() throws {
        let directory = try TemporaryDirectory()
        let driver = try Self.selfFeedingDriver(in: directory)
        driver.stopService()  // the test calls the service itself
        let transport = driver.transport
        _ = try transport.queueNotify.read()
        for round in 1...3 {
            transport.processQueue(0)
            #expect(transport.chainsServed == UInt64(2 * round), "round \(round)")
            #expect(driver.usedIndex == UInt16(2 * round))
            // Chains were left behind: the notification is raised again for the next call.
            #expect(try transport.queueNotify.read() == 1, "round \(round)")
        }
        #expect(!transport.status.contains(.needsReset), "a busy driver is not an error")
    }

    /// Runs `body` on another thread and waits up to 30 s for it (a hang guard, not a timing
    /// check: each of these calls takes microseconds once it gets the lock).
    static func returns(_ what: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            body()
            done.signal()
        }
        let returned = done.wait(timeout: .now() + 30) == .success
        if !returned { Issue.record("\(what) did not return within 30 s: the guest's loop holds the device") }
        return returned
    }

    @Test func anInlineNotifyReturnsToItsVCPUWhenTheDriverNeverStops() throws {
        let directory = try TemporaryDirectory()
        let driver = try Self.selfFeedingDriver(in: directory)
        driver.stopService()
        driver.transport.service = .inline
        let transport = driver.transport
        let register = UnsafeSendable(driver)
        for round in 1...3 {
            // Each request makes the next one available: without a bound the notifying vCPU
            // would serve forever (and never reach a pause or a stop).
            guard Self.returns("an inline notify", { register.value.writeRegister(VirtioMMIORegister.queueNotify, 0) })
            else { return }
            // One pass: a queue's worth (two) per notification.
            #expect(transport.chainsServed == UInt64(2 * round), "round \(round)")
        }
        #expect(!transport.status.contains(.needsReset), "a busy driver is not an error")
    }

    @Test func resetSnapshotAndStopWinOverADriverThatNeverStops() throws {
        let directory = try TemporaryDirectory()
        let driver = try Self.selfFeedingDriver(in: directory)
        let transport = driver.transport
        driver.writeRegister(VirtioMMIORegister.queueNotify, 0)
        // The worker is serving the endless cycle.
        let deadline = Date().addingTimeInterval(30)
        while transport.chainsServed < 1000, Date() < deadline { usleep(1000) }
        try #require(transport.chainsServed >= 1000, "the self-feeding cycle never got going")
        guard Self.returns("saveState", { _ = transport.saveState() }) else { return }
        let register = UnsafeSendable(driver)
        guard Self.returns("a status-0 write (reset)", { register.value.writeRegister(VirtioMMIORegister.status, 0) })
        else { return }
        #expect(transport.status == [])
        // Reset: nothing is served any more, however often the driver notifies.
        let afterReset = transport.chainsServed
        driver.writeRegister(VirtioMMIORegister.queueNotify, 0)
        transport.processQueues()
        #expect(transport.chainsServed == afterReset)
        let served = UnsafeSendable(driver)
        _ = Self.returns("stopping the service") { served.value.stopService() }
    }

    @Test func aStatusBufferEndingAtTheTopOfTheAddressSpaceIsServed() throws {
        let directory = try TemporaryDirectory()
        let top = try MmapRegion(guestBase: GuestAddress(UInt64.max - 0xFFFF), size: 0x10000)
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory), extraRegions: [top])
        try driver.start()
        let header = TestDriver.buffers, status = UInt64.max  // one byte: [2^64 - 1, 2^64)
        try driver.memory.write(VirtioBlock.RequestType.flush.rawValue, at: GuestAddress(header))
        try driver.memory.write(UInt64(0), at: GuestAddress(header + 8))
        try driver.memory.write(UInt8(0xEE), at: GuestAddress(status))
        try driver.writeChain([(header, 16, false), (status, 1, true)])
        try driver.makeAvailable(head: 0)
        _ = try driver.waitForInterrupt()
        #expect(driver.usedIndex == 1)
        #expect(try driver.usedElement(0).length == 1)
        #expect(try driver.memory.read(UInt8.self, at: GuestAddress(status)) == VirtioBlock.Status.ok.rawValue)
        // And data that ends there too (a GET_ID whose status byte is the last byte of memory).
        let id = UInt64.max - 20
        try driver.memory.write(VirtioBlock.RequestType.getID.rawValue, at: GuestAddress(header))
        try driver.writeChain([(header, 16, false), (id, 21, true)])
        try driver.makeAvailable(head: 0)
        _ = try driver.waitForInterrupt()
        #expect(try driver.memory.readBytes(count: 16, at: GuestAddress(id)) == Array("test-serial-0001".utf8))
        #expect(try driver.memory.read(UInt8.self, at: GuestAddress(status)) == VirtioBlock.Status.ok.rawValue)
    }

    @Test func aQueueTooSmallForARequestIsRefused() throws {
        let directory = try TemporaryDirectory()
        let disk = try makeDisk(.raw, in: directory)
        for size: UInt16 in [0, 1, 3, 6, 65535, 0x8000 + 1] {
            #expect(throws: VirtqueueError.invalidSize(UInt32(size)), "queue size \(size)") {
                _ = try VirtioBlockDevice(disk: disk, queueSize: size)
            }
        }
        for size: UInt16 in [2, 256, 32768] {
            let driver = try TestDriver(disk: disk, queueSize: size)
            // seg_max = size - 2: a request needs a header and a status descriptor.
            #expect(driver.readConfig(UInt32.self, at: VirtioBlock.ConfigOffset.segmentMax) == UInt32(size) - 2)
        }
    }

    @Test func chainsCompletedBeforeABrokenOneRaiseTheUsedBufferInterrupt() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        try driver.start()
        let header = TestDriver.buffers, status = TestDriver.buffers + 0x1000
        try driver.memory.write(VirtioBlock.RequestType.flush.rawValue, at: GuestAddress(header))
        try driver.writeChain([(header, 16, false), (status, 1, true)])
        // Two heads at once: descriptor 0 (a good flush), then descriptor 99 (past the table).
        driver.stopService()
        try driver.makeAvailable(head: 0)
        try driver.makeAvailable(head: 99)
        driver.transport.processQueues()
        #expect(driver.usedIndex == 1, "the good chain completed")
        let interrupts = driver.transport.interruptStatus
        #expect(interrupts & VirtioInterrupt.usedBuffer != 0, "its completion is signalled")
        #expect(interrupts & VirtioInterrupt.configurationChange != 0)
        #expect(driver.transport.lastError == .descriptorIndexOutOfRange(99, queueSize: 16))
    }

    /// `ConfigGeneration` changes whenever the device changes what the driver reads from it
    /// outside the rings (here: entering the error state), and a reset starts it again.
    @Test func configGenerationCountsEveryChange() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        try #require(driver.negotiate())
        #expect(driver.readRegister(VirtioMMIORegister.configGeneration) == 0)
        driver.writeRegister(VirtioMMIORegister.queueSelect, 0)
        driver.writeRegister(VirtioMMIORegister.queueSize, 0x10004)
        #expect(driver.readRegister(VirtioMMIORegister.configGeneration) == 1)
        driver.writeRegister(VirtioMMIORegister.queueSize, 0x10008)
        #expect(driver.readRegister(VirtioMMIORegister.configGeneration) == 2)
        driver.writeRegister(VirtioMMIORegister.status, 0)
        #expect(driver.readRegister(VirtioMMIORegister.configGeneration) == 0)
        #expect(driver.transport.status == [] && driver.transport.lastError == nil)
    }

    @Test func aQueueNumWiderThan16BitsIsRefused() throws {
        let directory = try TemporaryDirectory()
        let driver = try TestDriver(disk: makeDisk(.raw, in: directory))
        try #require(driver.negotiate())
        driver.writeRegister(VirtioMMIORegister.queueSelect, 0)
        driver.writeRegister(VirtioMMIORegister.queueSize, 0x10004)
        #expect(driver.transport.status.contains(.needsReset))
        #expect(driver.transport.lastError == .invalidSize(0x10004))
        #expect(driver.readRegister(VirtioMMIORegister.queueReady) == 0)
    }
}

/// Hands a non-`Sendable` reference to a closure that runs on another thread while this one
/// waits for it (the tests above touch it from one thread at a time).
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
