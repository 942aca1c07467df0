import BlockStorage
import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import KVM
import TestSupport
import Testing
import VHD

/// Deterministic disk contents: byte i of the disk is a function of i.
func pattern(offset: UInt64, count: Int) -> [UInt8] {
    (0..<UInt64(count)).map { i in
        let x = offset + i
        return UInt8(truncatingIfNeeded: (x / 512) &* 31 &+ x &* 7 &+ 1)
    }
}

/// The disk backends the tests run against.
enum DiskKind: String, CaseIterable, CustomTestStringConvertible {
    case raw, fixed, dynamic, differencing
    var testDescription: String { rawValue }
}

/// Creates a 1 MiB disk of `kind` in `directory` filled with ``pattern(offset:count:)``.
func makeDisk(_ kind: DiskKind, in directory: TemporaryDirectory, size: UInt64 = 1 << 20, readOnly: Bool = false) throws
    -> any BlockDevice
{
    let path = directory.file("disk-\(kind.rawValue)")
    let contents = pattern(offset: 0, count: Int(size))
    // Each writer is closed before the image is opened again (a second open of a file open for
    // writing is refused: the images are locked as QEMU locks them).
    switch kind {
    case .raw:
        do {
            let disk = try RawImage(creating: path, size: size)
            try disk.write(contents, at: 0)
            try disk.flush()
        }
        return try RawImage(path: path, readOnly: readOnly)
    case .fixed, .dynamic:
        do {
            let disk = try VHDImage.create(
                path: path, options: VHDCreateOptions(type: kind == .fixed ? .fixed : .dynamic, size: size))
            try disk.write(contents, at: 0)
            try disk.flush()
        }
        return try VHDImage.open(path: path, readOnly: readOnly)
    case .differencing:
        let parentPath = directory.file("parent.vhd")
        do {
            let parent = try VHDImage.create(path: parentPath, options: VHDCreateOptions(type: .dynamic, size: size))
            try parent.write(contents, at: 0)
            try parent.flush()
        }
        try VHDImage.createDifferencing(path: path, parentPath: parentPath).flush()
        return try VHDImage.open(path: path, readOnly: readOnly)
    }
}

/// Plays the virtio driver: guest memory with the rings at fixed addresses, the transport and
/// the event loop serving it (or the transport served inline, on the driver's thread), and an
/// eventfd standing in for the irqfd.
final class TestDriver: TransportRegisters {
    static let descriptorTable: UInt64 = 0x1000
    static let availableRing: UInt64 = 0x2000
    static let usedRing: UInt64 = 0x3000
    static let buffers: UInt64 = 0x10000
    static let memorySize: UInt64 = 4 << 20

    let memory: GuestMemoryMap
    let interrupt: EventFD
    let transport: VirtioMMIOTransport
    let loop: EventLoop
    private(set) var registration: DeviceEventRegistration?
    let block: VirtioBlockDevice
    let queueSize: UInt16
    var availableIndex: UInt16 = 0

    /// A driver for `disk` with a queue of `queueSize`; `extraRegions` are mapped beside the
    /// usual 4 MiB at 0. The transport is served on an event loop polling as `polling` says, or
    /// inline; with `atomicMemory` it reaches guest memory through an `AtomicGuestMemory`.
    init(
        disk: any BlockDevice, queueSize: UInt16 = 16, extraRegions: [MmapRegion] = [],
        service: VirtioQueueService = .eventLoop, polling: EventLoopPolling = .off, atomicMemory: Bool = false,
        rateLimiter: RateLimiter? = nil
    ) throws {
        memory = try GuestMemoryMap(
            regions: [MmapRegion(guestBase: GuestAddress(0), size: Self.memorySize)] + extraRegions)
        interrupt = try EventFD(nonBlocking: true)
        block = try VirtioBlockDevice(
            disk: disk, serial: "test-serial-0001", queueSize: queueSize, rateLimiter: rateLimiter)
        // The transport may see the same regions through an AtomicGuestMemory (as a VMM with
        // hotplug has it); the test writes the rings through the map either way.
        transport = try VirtioMMIOTransport(
            backend: block, memory: atomicMemory ? AtomicGuestMemory(memory) as any GuestMemoryAccess : memory,
            interrupt: interrupt)
        loop = try EventLoop(name: "test-driver", polling: polling)
        transport.service = service
        if service == .eventLoop {
            registration = try loop.serve(transport)
            try loop.start()
        }
        self.queueSize = queueSize
    }

    deinit { stopService() }

    /// Takes the transport off its loop and stops the loop: from now on only the test serves it.
    func stopService() {
        registration?.cancel()
        registration = nil
        loop.stop()
    }

    // MARK: registers

    /// Sets up queue 0 at the given addresses and reports whether it became ready.
    @discardableResult
    func setUpQueue(
        size: UInt16? = nil, descriptors: UInt64 = descriptorTable, available: UInt64 = availableRing,
        used: UInt64 = usedRing
    ) -> Bool {
        writeRegister(VirtioMMIORegister.queueSelect, 0)
        writeRegister(VirtioMMIORegister.queueSize, UInt32(size ?? queueSize))
        for (low, value) in [
            (VirtioMMIORegister.queueDescriptorLow, descriptors), (VirtioMMIORegister.queueDriverLow, available),
            (VirtioMMIORegister.queueDeviceLow, used),
        ] {
            writeRegister(low, UInt32(truncatingIfNeeded: value))
            writeRegister(low + 4, UInt32(truncatingIfNeeded: value >> 32))
        }
        writeRegister(VirtioMMIORegister.queueReady, 1)
        return readRegister(VirtioMMIORegister.queueReady) == 1
    }

    func driverOK() {
        let status = readRegister(VirtioMMIORegister.status)
        writeRegister(VirtioMMIORegister.status, status | VirtioDeviceStatus.driverOK.rawValue)
    }

    /// Full initialisation: features (default: all offered), queue 0, DRIVER_OK.
    func start(features: UInt64? = nil) throws {
        try #require(negotiate(features: features))
        try #require(setUpQueue())
        driverOK()
    }

    // MARK: requests

    struct Descriptor {
        var address: UInt64
        var length: UInt32
        var flags: UInt16
        var next: UInt16
    }

    func writeDescriptor(_ index: UInt16, _ d: Descriptor) throws {
        let base = GuestAddress(Self.descriptorTable + 16 * UInt64(index))
        try memory.write(d.address, at: base)
        try memory.write(d.length, at: GuestAddress(base.rawValue + 8))
        try memory.write(d.flags, at: GuestAddress(base.rawValue + 12))
        try memory.write(d.next, at: GuestAddress(base.rawValue + 14))
    }

    /// Writes `descriptors` as a chain at indices 0…n-1 (each linked to the next).
    func writeChain(_ buffers: [(address: UInt64, length: UInt32, writable: Bool)]) throws {
        for (i, buffer) in buffers.enumerated() {
            let last = i == buffers.count - 1
            var flags: UInt16 = buffer.writable ? SplitVirtqueue.descriptorWrite : 0
            if !last { flags |= SplitVirtqueue.descriptorNext }
            try writeDescriptor(
                UInt16(i),
                Descriptor(address: buffer.address, length: buffer.length, flags: flags, next: last ? 0 : UInt16(i + 1))
            )
        }
    }

    /// Publishes `head` in the available ring and notifies through the QueueNotify register.
    /// Like a driver that wants every completion interrupt, it first sets `used_event` (read
    /// when VIRTIO_F_EVENT_IDX was negotiated) to the current used index.
    func makeAvailable(head: UInt16, count: UInt16 = 1) throws {
        try memory.write(usedIndex, at: GuestAddress(Self.availableRing + 4 + 2 * UInt64(queueSize)))
        try memory.write(head, at: GuestAddress(Self.availableRing + 4 + 2 * UInt64(availableIndex % queueSize)))
        availableIndex &+= count
        try memory.atomicStore(availableIndex, at: GuestAddress(Self.availableRing + 2))
        writeRegister(VirtioMMIORegister.queueNotify, 0)
    }

    /// Waits for the device's interrupt (up to 10 s, a hang guard, not a timing check) and
    /// acknowledges it; returns the interrupt status seen.
    func waitForInterrupt() throws -> UInt32 {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if try interrupt.wait(timeoutMilliseconds: 100), try interrupt.read() != nil {
                let status = readRegister(VirtioMMIORegister.interruptStatus)
                writeRegister(VirtioMMIORegister.interruptAcknowledge, status)
                return status
            }
        }
        throw DriverTimeout()
    }

    struct DriverTimeout: Error {}

    var usedIndex: UInt16 { (try? memory.atomicLoad(UInt16.self, at: GuestAddress(Self.usedRing + 2))) ?? 0 }

    func usedElement(_ index: UInt16) throws -> (id: UInt32, length: UInt32) {
        let base = Self.usedRing + 4 + 8 * UInt64(index % queueSize)
        return (
            try memory.read(UInt32.self, at: GuestAddress(base)),
            try memory.read(UInt32.self, at: GuestAddress(base + 4))
        )
    }

    struct Completion {
        let status: UInt8
        let usedLength: UInt32
    }

    /// Sends one block request laid out as a real driver does: header (readable), data
    /// (readable for writes, writable for reads), status (writable). Waits for completion.
    func request(
        type: UInt32, sector: UInt64 = 0, data: [UInt8] = [], dataLength: UInt32? = nil, dataWritable: Bool = false
    ) throws -> (Completion, [UInt8]) {
        let header = Self.buffers, dataAddress = Self.buffers + 0x100, statusAddress = Self.buffers + 0xF_0000
        try memory.write(type, at: GuestAddress(header))
        try memory.write(UInt32(0), at: GuestAddress(header + 4))
        try memory.write(sector, at: GuestAddress(header + 8))
        try memory.write(UInt8(0xff), at: GuestAddress(statusAddress))
        let length = dataLength ?? UInt32(data.count)
        if !data.isEmpty { try memory.write(contentsOf: data, at: GuestAddress(dataAddress)) }
        var chain: [(address: UInt64, length: UInt32, writable: Bool)] = [(header, 16, false)]
        if length > 0 { chain.append((dataAddress, length, dataWritable)) }
        chain.append((statusAddress, 1, true))
        try writeChain(chain)
        let before = usedIndex
        try makeAvailable(head: 0)
        _ = try waitForInterrupt()
        #expect(usedIndex == before &+ 1)
        let used = try usedElement(before)
        #expect(used.id == 0)
        let status = try memory.read(UInt8.self, at: GuestAddress(statusAddress))
        let bytes = dataWritable ? try memory.readBytes(count: Int(length), at: GuestAddress(dataAddress)) : []
        return (Completion(status: status, usedLength: used.length), bytes)
    }
}
