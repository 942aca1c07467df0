/// A guest write that KVM buffered instead of exiting (`struct kvm_coalesced_mmio`).
public struct CoalescedMMIOWrite: Hashable, Sendable {
    /// The guest physical address (or port, for a PIO zone) written.
    public let address: UInt64
    /// Whether the zone is in the port I/O space.
    public let isPIO: Bool
    /// The written bytes (1–8).
    public let data: [UInt8]
}

/// The VM-wide coalesced MMIO ring, mapped at page `KVM_COALESCED_MMIO_PAGE_OFFSET` of every
/// vCPU's mapping.
struct CoalescedMMIORing {
    let ring: UnsafeMutablePointer<kvm_coalesced_mmio_ring>
    let capacity: UInt32

    /// `nil` when the vCPU mapping does not include the ring page.
    init?(mapping: borrowing MemoryMapping) {
        let offset = Int(CKVM_COALESCED_MMIO_PAGE_OFFSET) * hostPageSize
        guard mapping.size >= offset + hostPageSize else { return nil }
        ring = (mapping.base + offset).assumingMemoryBound(to: kvm_coalesced_mmio_ring.self)
        capacity = UInt32((hostPageSize - Int(CKVM_COALESCED_MMIO_HEADER_SIZE)) / Int(CKVM_COALESCED_MMIO_ENTRY_SIZE))
    }

    func drain() -> [CoalescedMMIOWrite] {
        var writes: [CoalescedMMIOWrite] = []
        var first = ckvm_coalesced_ring_first(ring)
        let last = ckvm_coalesced_ring_last(ring)
        // Indices come from shared memory: never trust them beyond the ring's capacity.
        while first != last, first < capacity, last < capacity {
            let entry = ckvm_coalesced_ring_entry(ring, first)!.pointee
            let length = Int(min(entry.len, 8))
            let bytes = withUnsafeBytes(of: entry.data) { Array($0.prefix(length)) }
            writes.append(CoalescedMMIOWrite(address: entry.phys_addr, isPIO: entry.pio != 0, data: bytes))
            first = (first + 1) % capacity
            ckvm_coalesced_ring_set_first(ring, first)
        }
        return writes
    }
}

extension KVMVirtualMachine {
    /// Buffers guest writes to `[address, address + size)` in the coalesced ring instead of
    /// exiting on each (`KVM_REGISTER_COALESCED_MMIO`); `pio` selects the port space
    /// (`KVM_CAP_COALESCED_PIO`). Reads still exit. Drain with
    /// ``KVMVirtualCPU/drainCoalescedMMIO()``.
    public func registerCoalescedMMIO(address: UInt64, size: UInt32, pio: Bool = false) throws(KVMError) {
        try kvmIoctl(
            fileDescriptor, CKVM_REGISTER_COALESCED_MMIO, input: coalescedZone(address, size, pio),
            "KVM_REGISTER_COALESCED_MMIO")
    }

    /// Removes a zone registered with the same arguments (`KVM_UNREGISTER_COALESCED_MMIO`).
    public func unregisterCoalescedMMIO(address: UInt64, size: UInt32, pio: Bool = false) throws(KVMError) {
        try kvmIoctl(
            fileDescriptor, CKVM_UNREGISTER_COALESCED_MMIO, input: coalescedZone(address, size, pio),
            "KVM_UNREGISTER_COALESCED_MMIO")
    }
}

private func coalescedZone(_ address: UInt64, _ size: UInt32, _ pio: Bool) -> kvm_coalesced_mmio_zone {
    var zone = kvm_coalesced_mmio_zone()
    zone.addr = address
    zone.size = size
    zone.pio = pio ? 1 : 0
    return zone
}
