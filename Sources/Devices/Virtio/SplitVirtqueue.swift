import GuestMemory

/// The device side of one split virtqueue (virtio 1.x, section 2.7): reads descriptor chains
/// from the available ring and publishes completions in the used ring, every access through
/// `GuestMemoryAccess` and every driver-controlled value bounded and validated.
///
/// Layout in guest memory:
/// - descriptor table: `size` × 16 bytes (`addr` u64, `len` u32, `flags` u16, `next` u16), 16-byte aligned;
/// - available ring: `flags` u16, `idx` u16, `ring[size]` u16, `used_event` u16, 2-byte aligned;
/// - used ring: `flags` u16, `idx` u16, `ring[size]` of (`id` u32, `len` u32), `avail_event` u16, 4-byte aligned.
///
/// Memory ordering: `avail.idx` is read with a sequentially consistent load before the ring
/// entries and descriptors it publishes; a used element is written before the sequentially
/// consistent store of `used.idx` that publishes it.
public struct SplitVirtqueue: Hashable, Sendable {
    /// Descriptor flag: the chain continues at `next`.
    public static let descriptorNext: UInt16 = 1
    /// Descriptor flag: the buffer is device-writable.
    public static let descriptorWrite: UInt16 = 2
    /// Descriptor flag: the buffer holds an indirect descriptor table.
    public static let descriptorIndirect: UInt16 = 4
    /// Available-ring flag: the driver does not want an interrupt.
    public static let availableNoInterrupt: UInt16 = 1
    /// Used-ring flag: the device does not want notifications (`VIRTQ_USED_F_NO_NOTIFY`).
    public static let usedNoNotify: UInt16 = 1

    /// Number of descriptors (a power of two).
    public let size: UInt16
    /// The guest address of the descriptor table (the descriptor area, `QueueDesc`).
    public let descriptorTable: GuestAddress
    /// The guest address of the available ring (the driver area, `QueueDriver`).
    public let availableRing: GuestAddress
    /// The guest address of the used ring (the device area, `QueueDevice`).
    public let usedRing: GuestAddress
    /// Whether `VIRTIO_F_INDIRECT_DESC` was negotiated (indirect descriptors are refused otherwise).
    public let indirectDescriptors: Bool
    /// Whether `VIRTIO_F_EVENT_IDX` was negotiated: interrupts follow `used_event`, and the
    /// device publishes `avail_event`.
    public let eventIndex: Bool

    /// The next available-ring index the device will read.
    public private(set) var nextAvailable: UInt16 = 0
    /// The next used-ring index the device will write.
    public private(set) var nextUsed: UInt16 = 0

    /// Validates the queue geometry (`negotiatedFeatures` decides indirect descriptors and event
    /// indices): `size` a power of two within `maxSize`, each area aligned
    /// and entirely in guest memory (the used ring writable).
    ///
    /// - Throws: ``VirtqueueError/invalidSize(_:)`` or ``VirtqueueError/invalidRingAddress(area:address:)``.
    public init(
        size: UInt16, maxSize: UInt16, descriptorTable: UInt64, availableRing: UInt64, usedRing: UInt64,
        negotiatedFeatures: UInt64 = 0, memory: some GuestMemoryAccess
    ) throws(VirtqueueError) {
        guard size > 0, size <= maxSize, size & (size - 1) == 0 else { throw .invalidSize(UInt32(size)) }
        let n = UInt64(size)
        let areas: [(String, UInt64, UInt64, UInt64, Bool)] = [
            ("descriptor", descriptorTable, 16, 16 * n, false),
            ("available", availableRing, 2, 6 + 2 * n, false),
            ("used", usedRing, 4, 6 + 8 * n, true),
        ]
        for (name, address, alignment, length, writable) in areas {
            guard address % alignment == 0,
                Self.isMapped(GuestAddress(address), length: length, writable: writable, memory: memory)
            else { throw .invalidRingAddress(area: name, address: address) }
        }
        self.size = size
        self.descriptorTable = GuestAddress(descriptorTable)
        self.availableRing = GuestAddress(availableRing)
        self.usedRing = GuestAddress(usedRing)
        indirectDescriptors = negotiatedFeatures & VirtioFeature.indirectDescriptors != 0
        eventIndex = negotiatedFeatures & VirtioFeature.eventIndex != 0
    }

    /// Whether `[address, address + length)` lies in guest memory (and is writable, if asked).
    static func isMapped(_ address: GuestAddress, length: UInt64, writable: Bool, memory: some GuestMemoryAccess)
        -> Bool
    {
        guard length <= UInt64(Int.max) else { return false }
        do {
            try memory.withHostSegments(at: address, count: Int(length), forWriting: writable) { _ in ((), 0) }
            return true
        } catch {
            return false
        }
    }

    /// Takes the next chain the driver made available, or `nil` when there is none.
    ///
    /// - Throws: a ``VirtqueueError`` when `avail.idx` jumps by more than the queue size or the
    ///   chain breaks a rule (index out of range, too long, buffer outside guest memory, a
    ///   readable buffer after a writable one, a bad or unnegotiated indirect table).
    public mutating func popAvailable(memory: some GuestMemoryAccess) throws(VirtqueueError) -> DescriptorChain? {
        let availableIndex: UInt16
        do {
            availableIndex = try memory.atomicLoad(UInt16.self, at: GuestAddress(availableRing.rawValue + 2))
        } catch { throw .memory(error) }
        let pending = availableIndex &- nextAvailable
        if pending == 0 { return nil }
        guard pending <= size else { throw .availableIndexJump(last: nextAvailable, now: availableIndex) }
        let slot = UInt64(nextAvailable % size)
        let head: UInt16
        do {
            head = try memory.read(UInt16.self, at: GuestAddress(availableRing.rawValue + 4 + 2 * slot))
        } catch { throw .memory(error) }
        let chain = try readChain(head: head, memory: memory)
        nextAvailable &+= 1
        return chain
    }

    /// Gives the chain ``popAvailable(memory:)`` returned last back to the ring, untouched: the
    /// next pop returns it again (a device that took a chain it cannot fill yet). Only valid
    /// right after that pop, before anything is added to the used ring for it.
    public mutating func undoPop() {
        nextAvailable &-= 1
    }

    /// Follows the chain starting at `head`, validating every descriptor; an indirect
    /// descriptor (only with ``indirectDescriptors``) is followed into its table.
    func readChain(head: UInt16, memory: some GuestMemoryAccess) throws(VirtqueueError) -> DescriptorChain {
        var buffers: [VirtqueueBuffer] = []
        buffers.reserveCapacity(4)
        try walk(table: descriptorTable, entries: size, start: head, indirect: false, into: &buffers, memory: memory)
        return DescriptorChain(head: head, buffers: buffers)
    }

    /// Walks one descriptor table (`entries` long) from `start`. Every chain, indirect tables
    /// included, holds at most ``size`` buffers, so loops end.
    private func walk(
        table: GuestAddress, entries: UInt16, start: UInt16, indirect: Bool, into buffers: inout [VirtqueueBuffer],
        memory: some GuestMemoryAccess
    ) throws(VirtqueueError) {
        var index = start
        while true {
            guard index < entries else { throw .descriptorIndexOutOfRange(index, queueSize: entries) }
            guard buffers.count < Int(size) else { throw .chainTooLong(queueSize: size) }
            let descriptor: RawDescriptor
            do {
                descriptor = try memory.readValue(
                    RawDescriptor.self, at: GuestAddress(table.rawValue + 16 * UInt64(index)))
            } catch { throw .memory(error) }
            let address = UInt64(littleEndian: descriptor.address)
            let length = UInt32(littleEndian: descriptor.length)
            let flags = UInt16(littleEndian: descriptor.flags)
            let next = UInt16(littleEndian: descriptor.next)
            if flags & Self.descriptorIndirect != 0 {
                if indirect { throw .nestedIndirect(index: index) }
                guard indirectDescriptors else { throw .indirectNotNegotiated(index: index) }
                guard flags & Self.descriptorNext == 0, length > 0, length % 16 == 0, length / 16 <= UInt32(size) else {
                    throw .invalidIndirectTable(index: index, length: length)
                }
                guard Self.isMapped(GuestAddress(address), length: UInt64(length), writable: false, memory: memory)
                else {
                    throw .bufferOutsideGuestMemory(address: address, length: length)
                }
                // The indirect descriptor ends the chain (it cannot have NEXT).
                try walk(
                    table: GuestAddress(address), entries: UInt16(length / 16), start: 0, indirect: true,
                    into: &buffers,
                    memory: memory)
                return
            }
            let writable = flags & Self.descriptorWrite != 0
            if !writable && buffers.last?.isWritable == true { throw .readableAfterWritable(index: index) }
            guard Self.isMapped(GuestAddress(address), length: UInt64(length), writable: writable, memory: memory)
            else {
                throw .bufferOutsideGuestMemory(address: address, length: length)
            }
            buffers.append(VirtqueueBuffer(address: GuestAddress(address), length: length, isWritable: writable))
            if flags & Self.descriptorNext == 0 { return }
            index = next
        }
    }

    /// Puts `head` in the used ring with `length` bytes written and publishes it.
    public mutating func pushUsed(head: UInt16, length: UInt32, memory: some GuestMemoryAccess) throws(VirtqueueError) {
        try addUsed(head: head, length: length, memory: memory)
        try publishUsed(memory: memory)
    }

    /// Writes a used element for `head` without publishing it: the driver sees it (with every
    /// other element added since) at the next ``publishUsed(memory:)``, so a batch costs one
    /// store of `used.idx`.
    public mutating func addUsed(head: UInt16, length: UInt32, memory: some GuestMemoryAccess) throws(VirtqueueError) {
        let element = GuestAddress(usedRing.rawValue + 4 + 8 * UInt64(nextUsed % size))
        do {
            try memory.write(UInt32(head), at: element)
            try memory.write(length, at: GuestAddress(element.rawValue + 4))
        } catch { throw .memory(error) }
        nextUsed &+= 1
    }

    /// Publishes the used elements added so far (a sequentially consistent store of `used.idx`
    /// after their writes).
    public func publishUsed(memory: some GuestMemoryAccess) throws(VirtqueueError) {
        do {
            try memory.atomicStore(nextUsed, at: GuestAddress(usedRing.rawValue + 2))
        } catch { throw .memory(error) }
    }

    /// Whether the driver has made chains available that the device has not taken.
    public func hasAvailable(memory: some GuestMemoryAccess) -> Bool {
        (try? memory.atomicLoad(UInt16.self, at: GuestAddress(availableRing.rawValue + 2))) != nextAvailable
    }

    /// Asks the driver to stop notifying (`on == false`, while the device polls the ring) or to
    /// notify again: without event indices through `VIRTQ_USED_F_NO_NOTIFY` in the used ring's
    /// flags; with them, by leaving `avail_event` behind (off) or setting it to ``nextAvailable``
    /// (on). Either is only a hint to the driver: after switching notifications on, look at the
    /// ring once more (``hasAvailable(memory:)``), since chains made available meanwhile came
    /// without one.
    public func setNotifications(_ on: Bool, memory: some GuestMemoryAccess) throws(VirtqueueError) {
        do {
            if eventIndex {
                if on {
                    try memory.atomicStore(nextAvailable, at: GuestAddress(usedRing.rawValue + 4 + 8 * UInt64(size)))
                }
            } else {
                try memory.atomicStore(on ? 0 : Self.usedNoNotify, at: usedRing)
            }
        } catch { throw .memory(error) }
    }

    /// Continues from ring positions saved with a snapshot (``nextAvailable``, ``nextUsed``).
    mutating func resume(nextAvailable: UInt16, nextUsed: UInt16) {
        self.nextAvailable = nextAvailable
        self.nextUsed = nextUsed
    }

    /// Whether the driver wants an interrupt now that the used index went from `oldUsed` to
    /// ``nextUsed``: with event indices, when `used_event` lies in that step
    /// (`vring_need_event`); otherwise unless `VIRTQ_AVAIL_F_NO_INTERRUPT` is set.
    public func needsInterrupt(oldUsed: UInt16, memory: some GuestMemoryAccess) -> Bool {
        guard eventIndex else {
            let flags = (try? memory.atomicLoad(UInt16.self, at: availableRing)) ?? 0
            return flags & Self.availableNoInterrupt == 0
        }
        let usedEvent = GuestAddress(availableRing.rawValue + 4 + 2 * UInt64(size))
        guard let event = try? memory.atomicLoad(UInt16.self, at: usedEvent) else { return true }
        return nextUsed &- event &- 1 < nextUsed &- oldUsed
    }

    /// With event indices, tells the driver to notify once it makes ``nextAvailable`` available
    /// (`avail_event`), then reports whether more chains arrived meanwhile — the caller serves
    /// them, so none is left without a notification.
    public func publishAvailableEvent(memory: some GuestMemoryAccess) throws(VirtqueueError) -> Bool {
        guard eventIndex else { return false }
        do {
            try memory.atomicStore(nextAvailable, at: GuestAddress(usedRing.rawValue + 4 + 8 * UInt64(size)))
            return try memory.atomicLoad(UInt16.self, at: GuestAddress(availableRing.rawValue + 2)) != nextAvailable
        } catch { throw .memory(error) }
    }
}

/// One entry of the descriptor table as it lies in guest memory (little-endian fields).
struct RawDescriptor: BitwiseCopyable {
    var address: UInt64
    var length: UInt32
    var flags: UInt16
    var next: UInt16
}
