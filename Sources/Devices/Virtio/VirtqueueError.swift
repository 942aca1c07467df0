import GuestMemory

/// Why a virtqueue could not be used: the driver broke the split-virtqueue rules.
///
/// The transport reacts to any of these by setting `DEVICE_NEEDS_RESET` and raising a
/// configuration-change interrupt; the queue is not touched again until the driver resets the
/// device. None of them is ever a host crash or an access outside guest memory.
public enum VirtqueueError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The queue size is zero, not a power of two or above the device's maximum, or a `QueueNum`
    /// write wider than 16 bits.
    case invalidSize(UInt32)
    /// A ring address is misaligned or its area is not entirely in guest memory.
    case invalidRingAddress(area: String, address: UInt64)
    /// `avail.idx` moved by more than the queue size since the device last looked.
    case availableIndexJump(last: UInt16, now: UInt16)
    /// A ring entry or a `next` field names a descriptor past the end of the table.
    case descriptorIndexOutOfRange(UInt16, queueSize: UInt16)
    /// The chain is longer than the queue (which includes every descriptor loop).
    case chainTooLong(queueSize: UInt16)
    /// A descriptor's buffer wraps past 2^64 or is not entirely in guest memory.
    case bufferOutsideGuestMemory(address: UInt64, length: UInt32)
    /// A device-readable descriptor follows a device-writable one.
    case readableAfterWritable(index: UInt16)
    /// `VIRTQ_DESC_F_INDIRECT` without the feature negotiated.
    case indirectNotNegotiated(index: UInt16)
    /// An indirect descriptor that also has `NEXT`, or whose table length is zero, not a
    /// multiple of 16 or more entries than the queue size.
    case invalidIndirectTable(index: UInt16, length: UInt32)
    /// A descriptor inside an indirect table is itself indirect.
    case nestedIndirect(index: UInt16)
    /// Guest memory refused an access to a ring.
    case memory(GuestMemoryError)

    /// A one-line English description naming the offending index, address or length.
    public var description: String {
        switch self {
        case .invalidSize(let size): "invalid queue size \(size)"
        case .invalidRingAddress(let area, let address):
            "\(area) ring at 0x\(String(address, radix: 16)) is misaligned or outside guest memory"
        case .availableIndexJump(let last, let now): "avail.idx jumped from \(last) to \(now)"
        case .descriptorIndexOutOfRange(let index, let size): "descriptor index \(index) outside a queue of \(size)"
        case .chainTooLong(let size): "descriptor chain longer than the queue size \(size) (loop?)"
        case .bufferOutsideGuestMemory(let address, let length):
            "buffer of \(length) bytes at 0x\(String(address, radix: 16)) is outside guest memory"
        case .readableAfterWritable(let index): "device-readable descriptor \(index) after a device-writable one"
        case .indirectNotNegotiated(let index):
            "descriptor \(index) is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated"
        case .invalidIndirectTable(let index, let length):
            "indirect descriptor \(index) has an invalid table (\(length) bytes, or NEXT set)"
        case .nestedIndirect(let index): "descriptor \(index) of an indirect table is itself indirect"
        case .memory(let error): "guest memory: \(error)"
        }
    }
}
