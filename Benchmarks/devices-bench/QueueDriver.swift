import Devices
import GuestMemory
import HostSupport

/// The driver side of one virtio-blk queue, as the benchmark plays it: `depth` prepared
/// three-descriptor chains (header, `requestBytes` of data, status), each in its own slot,
/// resubmitted with a new type and sector each time. It notifies the way a Linux driver does:
/// only when the device has not asked for no notifications (`VIRTQ_USED_F_NO_NOTIFY`, which a
/// polling event loop sets).
final class QueueDriver {
    let transport: VirtioMMIOTransport
    let memory: GuestMemoryMap
    let size: UInt16
    let depth: Int
    let requestBytes: Int
    private var availableIndex: UInt16 = 0
    private(set) var usedSeen: UInt16 = 0
    /// Notifications the device's flags let through, and those they saved.
    private(set) var notified = 0, suppressed = 0
    static let descriptors: UInt64 = 0x1000, available: UInt64 = 0x4000, used: UInt64 = 0x6000
    static let headers: UInt64 = 0x10000, statuses: UInt64 = 0x18000, data: UInt64 = 0x20000

    init(transport: VirtioMMIOTransport, memory: GuestMemoryMap, size: UInt16, depth: Int, requestBytes: Int) throws {
        precondition(depth * 3 <= Int(size) && depth <= 256)
        self.transport = transport
        self.memory = memory
        self.size = size
        self.depth = depth
        self.requestBytes = requestBytes
        func reg(_ offset: UInt64, _ value: UInt32) {
            withUnsafeBytes(of: value.littleEndian) { transport.write(address: offset, offset: offset, from: $0) }
        }
        reg(VirtioMMIORegister.status, 3)
        reg(VirtioMMIORegister.driverFeaturesSelect, 1)
        reg(VirtioMMIORegister.driverFeatures, 1)  // VERSION_1 only: no event indices
        reg(VirtioMMIORegister.status, 11)
        reg(VirtioMMIORegister.queueSize, UInt32(size))
        reg(VirtioMMIORegister.queueDescriptorLow, UInt32(Self.descriptors))
        reg(VirtioMMIORegister.queueDriverLow, UInt32(Self.available))
        reg(VirtioMMIORegister.queueDeviceLow, UInt32(Self.used))
        reg(VirtioMMIORegister.queueReady, 1)
        reg(VirtioMMIORegister.status, 15)
        guard transport.status.contains(.driverOK), !transport.status.contains(.needsReset) else {
            throw BenchError("the transport refused the queue set-up")
        }
        for slot in 0..<depth {
            let chain: [(UInt64, UInt32, UInt16)] = [
                (Self.headers + 16 * UInt64(slot), 16, 1),
                (Self.data + UInt64(slot * requestBytes), UInt32(requestBytes), 1),
                (Self.statuses + UInt64(slot), 1, 2),
            ]
            for (i, (address, length, flags)) in chain.enumerated() {
                let base = Self.descriptors + 16 * UInt64(3 * slot + i)
                try memory.write(address, at: GuestAddress(base))
                try memory.write(length, at: GuestAddress(base + 8))
                try memory.write(flags, at: GuestAddress(base + 12))
                try memory.write(UInt16(3 * slot + i + 1), at: GuestAddress(base + 14))
            }
        }
    }

    /// The memory size this driver needs.
    static func memorySize(depth: Int, requestBytes: Int) -> UInt64 {
        (data + UInt64(depth * requestBytes) + 0xFFFFF) & ~0xFFFFF
    }

    /// Makes requests available in `slots` (a read or a write of `requestBytes` at each
    /// sector), published with one store of `avail.idx`; the caller notifies.
    func submit(write: Bool, sectors: [(slot: Int, sector: UInt64)]) throws {
        for (slot, sector) in sectors {
            let header = GuestAddress(Self.headers + 16 * UInt64(slot))
            try memory.write(UInt32(write ? 1 : 0), at: header)
            try memory.write(sector, at: GuestAddress(header.rawValue + 8))
            // Data flags: device-writable for a read.
            try memory.write(
                UInt16(write ? 1 : 3), at: GuestAddress(Self.descriptors + 16 * UInt64(3 * slot + 1) + 12))
            try memory.write(UInt8(0xFF), at: GuestAddress(Self.statuses + UInt64(slot)))
            try memory.write(
                UInt16(3 * slot), at: GuestAddress(Self.available + 4 + 2 * UInt64(availableIndex % size)))
            availableIndex &+= 1
        }
        try memory.atomicStore(availableIndex, at: GuestAddress(Self.available + 2))
    }

    /// Notifies the device unless it asked for no notifications: through the notify eventfd
    /// (what KVM's ioeventfd does) or, for inline service, by writing `QueueNotify` as a vCPU's
    /// MMIO exit would.
    func notify() throws {
        let flags = try memory.atomicLoad(UInt16.self, at: GuestAddress(Self.used))
        if flags & SplitVirtqueue.usedNoNotify != 0 {
            suppressed += 1
            return
        }
        notified += 1
        if transport.service == .inline {
            withUnsafeBytes(of: UInt32(0).littleEndian) {
                transport.write(
                    address: VirtioMMIORegister.queueNotify, offset: VirtioMMIORegister.queueNotify, from: $0)
            }
        } else {
            transport.queueNotify.trigger()
        }
    }

    /// Makes `sectors` available as one batch, notifies, waits for every completion and takes
    /// the batch's interrupt from `interrupt`.
    func completeBatch(write: Bool, sectors: [(slot: Int, sector: UInt64)], interrupt: EventFD) throws {
        try submit(write: write, sectors: sectors)
        try notify()
        try waitForCompletions(slots: 0..<sectors.count)
        _ = try interrupt.read()
    }

    /// Spins until the device has completed everything submitted (`used.idx`), then checks the
    /// statuses of `slots`.
    func waitForCompletions(slots: Range<Int>) throws {
        while try memory.atomicLoad(UInt16.self, at: GuestAddress(Self.used + 2)) != availableIndex {}
        usedSeen = availableIndex
        for slot in slots where try memory.read(UInt8.self, at: GuestAddress(Self.statuses + UInt64(slot))) != 0 {
            throw BenchError("request in slot \(slot) failed")
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
