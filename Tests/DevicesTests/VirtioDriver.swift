import DeviceModel
import Devices
import Foundation
import GuestMemory
import HostSupport
import Testing

/// Plays a virtio driver for any backend and any number of queues (the block-specific
/// ``TestDriver`` drives one): guest memory with each queue's rings at fixed addresses, the
/// transport served on an event loop, an eventfd standing in for the irqfd. Chains are posted
/// with descriptors from a free list and data buffers from a bump allocator, as a guest driver
/// keeps them.
final class VirtioDriver: TransportRegisters {
    static let memorySize: UInt64 = 16 << 20
    static let dataBase: UInt64 = 0x10_0000

    struct Queue {
        let size: UInt16
        let descriptors: UInt64
        let available: UInt64
        let used: UInt64
        var availableIndex: UInt16 = 0
        var usedSeen: UInt16 = 0
        var free: [UInt16]
        /// The descriptors of each chain in flight, by head.
        var chains: [UInt16: [UInt16]] = [:]
    }

    let memory: GuestMemoryMap
    let interrupt: EventFD
    private(set) var transport: VirtioMMIOTransport
    let loop: EventLoop
    private(set) var registration: DeviceEventRegistration?
    private(set) var queues: [Queue]
    private var nextData = dataBase

    /// A driver for `backend` with every queue `queueSize` long, served on a running loop.
    init(backend: any VirtioDeviceBackend, queueSize: UInt16 = 16) throws {
        memory = try GuestMemoryMap(regions: [MmapRegion(guestBase: GuestAddress(0), size: Self.memorySize)])
        interrupt = try EventFD(nonBlocking: true)
        transport = try VirtioMMIOTransport(backend: backend, memory: memory, interrupt: interrupt)
        loop = try EventLoop(name: "virtio-driver")
        queues = backend.queueSizeMax.indices.map { q in
            let base = 0x1_0000 + UInt64(q) * 0x1_0000
            return Queue(
                size: queueSize, descriptors: base, available: base + 0x4000, used: base + 0x8000,
                free: Array(0..<queueSize))
        }
        registration = try loop.serve(transport)
        try loop.start()
    }

    deinit {
        registration?.cancel()
        loop.stop()
    }

    /// Takes the transport off the loop (a paused VM's devices, about to be saved).
    func stopService() {
        registration?.cancel()
        registration = nil
    }

    /// Replaces the device, as a restore in a new VMM does: a new transport for `backend` over
    /// the same guest memory, `restore` applied to it, then served on the loop.
    func replaceTransport(backend: any VirtioDeviceBackend, restore: (VirtioMMIOTransport) throws -> Void) throws {
        stopService()
        let new = try VirtioMMIOTransport(backend: backend, memory: memory, interrupt: interrupt)
        try restore(new)
        transport = new
        registration = try loop.serve(new)
    }

    // MARK: Registers

    func writeConfig(_ bytes: [UInt8], at offset: Int) {
        bytes.withUnsafeBytes {
            transport.write(address: 0, offset: VirtioMMIORegister.config + UInt64(offset), from: $0)
        }
    }

    /// The whole initialisation: reset, features (default: every one offered), every queue,
    /// then `DRIVER_OK` unless `driverOK` is false.
    func start(features: UInt64? = nil, driverOK: Bool = true) throws {
        try #require(negotiate(features: features))
        for (q, queue) in queues.enumerated() {
            writeRegister(VirtioMMIORegister.queueSelect, UInt32(q))
            writeRegister(VirtioMMIORegister.queueSize, UInt32(queue.size))
            for (low, value) in [
                (VirtioMMIORegister.queueDescriptorLow, queue.descriptors),
                (VirtioMMIORegister.queueDriverLow, queue.available), (VirtioMMIORegister.queueDeviceLow, queue.used),
            ] {
                writeRegister(low, UInt32(truncatingIfNeeded: value))
                writeRegister(low + 4, UInt32(truncatingIfNeeded: value >> 32))
            }
            writeRegister(VirtioMMIORegister.queueReady, 1)
            try #require(readRegister(VirtioMMIORegister.queueReady) == 1)
        }
        if driverOK { setDriverOK() }
    }

    func setDriverOK() {
        let status = readRegister(VirtioMMIORegister.status)
        writeRegister(VirtioMMIORegister.status, status | VirtioDeviceStatus.driverOK.rawValue)
    }

    // MARK: Buffers and chains

    /// A fresh data buffer of `length` bytes (8-byte aligned), filled with `fill`.
    func allocate(_ length: Int, fill: UInt8 = 0) throws -> UInt64 {
        let address = nextData
        nextData = (nextData + UInt64(max(length, 1)) + 7) & ~7
        precondition(nextData <= Self.memorySize, "the test ran out of guest memory")
        try memory.write(contentsOf: [UInt8](repeating: fill, count: length), at: GuestAddress(address))
        return address
    }

    /// Posts a chain of `buffers` on `queue` and notifies (unless `notify` is false); returns
    /// its head. The available ring's `used_event` asks for an interrupt per completion.
    @discardableResult
    func post(
        _ queue: Int, _ buffers: [(address: UInt64, length: UInt32, writable: Bool)], notify: Bool = true
    ) throws -> UInt16 {
        var q = queues[queue]
        try #require(q.free.count >= buffers.count, "the test's queue has no free descriptors")
        let indices = Array(q.free.prefix(buffers.count))
        q.free.removeFirst(buffers.count)
        for (i, buffer) in buffers.enumerated() {
            let last = i == buffers.count - 1
            var flags: UInt16 = buffer.writable ? SplitVirtqueue.descriptorWrite : 0
            if !last { flags |= SplitVirtqueue.descriptorNext }
            let base = q.descriptors + 16 * UInt64(indices[i])
            try memory.write(buffer.address, at: GuestAddress(base))
            try memory.write(buffer.length, at: GuestAddress(base + 8))
            try memory.write(flags, at: GuestAddress(base + 12))
            try memory.write(last ? 0 : indices[i + 1], at: GuestAddress(base + 14))
        }
        let head = indices[0]
        q.chains[head] = indices
        try memory.write(q.usedSeen, at: GuestAddress(q.available + 4 + 2 * UInt64(q.size)))  // used_event
        try memory.write(head, at: GuestAddress(q.available + 4 + 2 * UInt64(q.availableIndex % q.size)))
        q.availableIndex &+= 1
        try memory.atomicStore(q.availableIndex, at: GuestAddress(q.available + 2))
        queues[queue] = q
        if notify { self.notify(queue) }
        return head
    }

    /// Writes `QueueNotify` (the loop serves it; a KVM ioeventfd would signal the same eventfd).
    func notify(_ queue: Int) {
        writeRegister(VirtioMMIORegister.queueNotify, UInt32(queue))
    }

    /// Posts `bytes` as one readable buffer on `queue`.
    @discardableResult
    func send(_ bytes: [UInt8], on queue: Int) throws -> UInt16 {
        let address = try allocate(bytes.count)
        try memory.write(contentsOf: bytes, at: GuestAddress(address))
        return try post(queue, [(address, UInt32(bytes.count), false)])
    }

    /// The completions published on `queue` since the last call, in order: head, used length
    /// and the chain's writable bytes (up to the used length). Their descriptors are freed.
    func completions(_ queue: Int) throws -> [(head: UInt16, length: UInt32, bytes: [UInt8])] {
        var q = queues[queue]
        let usedIndex = try memory.atomicLoad(UInt16.self, at: GuestAddress(q.used + 2))
        var result: [(head: UInt16, length: UInt32, bytes: [UInt8])] = []
        while q.usedSeen != usedIndex {
            let element = q.used + 4 + 8 * UInt64(q.usedSeen % q.size)
            let head = UInt16(truncatingIfNeeded: try memory.read(UInt32.self, at: GuestAddress(element)))
            let length = try memory.read(UInt32.self, at: GuestAddress(element + 4))
            let known = q.chains.removeValue(forKey: head)
            let indices = try #require(known, "the device completed an unknown head \(head)")
            var bytes: [UInt8] = []
            var remaining = Int(length)
            for index in indices where remaining > 0 {
                let base = q.descriptors + 16 * UInt64(index)
                let flags = try memory.read(UInt16.self, at: GuestAddress(base + 12))
                guard flags & SplitVirtqueue.descriptorWrite != 0 else { continue }
                let address = try memory.read(UInt64.self, at: GuestAddress(base))
                let n = min(remaining, Int(try memory.read(UInt32.self, at: GuestAddress(base + 8))))
                bytes += try memory.readBytes(count: n, at: GuestAddress(address))
                remaining -= n
            }
            q.free += indices
            result.append((head, length, bytes))
            q.usedSeen &+= 1
        }
        queues[queue] = q
        return result
    }

    /// Chains posted on `queue` and not completed yet.
    func inFlight(_ queue: Int) -> Int { queues[queue].chains.count }

    /// Waits (up to 10 s: a hang guard, not a timing check) until `condition` holds, checking
    /// it after every interrupt and every 10 ms.
    func wait(until condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while try !condition() {
            guard Date() < deadline else { throw DriverTimeout() }
            if try interrupt.wait(timeoutMilliseconds: 10) { _ = try interrupt.read() }
        }
    }

    struct DriverTimeout: Error {}
}

/// A test driver's access to its transport's registers and configuration space, as a vCPU's
/// 4-byte MMIO accesses make them.
protocol TransportRegisters {
    var transport: VirtioMMIOTransport { get }
}

extension TransportRegisters {
    func readRegister(_ offset: UInt64) -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { transport.read(address: offset, offset: offset, into: $0) }
        return UInt32(littleEndian: value)
    }

    func writeRegister(_ offset: UInt64, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { transport.write(address: offset, offset: offset, from: $0) }
    }

    func readConfig<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) {
            transport.read(address: 0, offset: VirtioMMIORegister.config + UInt64(offset), into: $0)
        }
        return T(littleEndian: value)
    }

    var deviceFeatures: UInt64 {
        writeRegister(VirtioMMIORegister.deviceFeaturesSelect, 0)
        let low = UInt64(readRegister(VirtioMMIORegister.deviceFeatures))
        writeRegister(VirtioMMIORegister.deviceFeaturesSelect, 1)
        return low | UInt64(readRegister(VirtioMMIORegister.deviceFeatures)) << 32
    }

    /// Negotiates `features` (default: all offered); returns whether FEATURES_OK stuck.
    @discardableResult
    func negotiate(features: UInt64? = nil) -> Bool {
        writeRegister(VirtioMMIORegister.status, 0)
        writeRegister(VirtioMMIORegister.status, VirtioDeviceStatus([.acknowledge, .driver]).rawValue)
        let accepted = features ?? deviceFeatures
        writeRegister(VirtioMMIORegister.driverFeaturesSelect, 0)
        writeRegister(VirtioMMIORegister.driverFeatures, UInt32(truncatingIfNeeded: accepted))
        writeRegister(VirtioMMIORegister.driverFeaturesSelect, 1)
        writeRegister(VirtioMMIORegister.driverFeatures, UInt32(truncatingIfNeeded: accepted >> 32))
        writeRegister(VirtioMMIORegister.status, VirtioDeviceStatus([.acknowledge, .driver, .featuresOK]).rawValue)
        return readRegister(VirtioMMIORegister.status) & VirtioDeviceStatus.featuresOK.rawValue != 0
    }
}
