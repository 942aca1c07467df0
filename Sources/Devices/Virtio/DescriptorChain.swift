import GuestMemory

/// One buffer of a descriptor chain: guest memory the device reads (`isWritable == false`) or
/// writes. Its whole range was checked to lie in guest memory when the chain was read.
public struct VirtqueueBuffer: Hashable, Sendable {
    /// The guest physical address of the buffer.
    public let address: GuestAddress
    /// The length of the buffer in bytes.
    public let length: UInt32
    /// Whether the device writes the buffer (`VIRTQ_DESC_F_WRITE`); otherwise it reads it.
    public let isWritable: Bool
}

/// A validated descriptor chain taken from the available ring: readable buffers first, then
/// writable ones, at most the queue size of them, each inside guest memory.
public struct DescriptorChain: Hashable, Sendable {
    /// The index of the head descriptor (what goes back in the used ring).
    public let head: UInt16
    /// The buffers in chain order.
    public let buffers: [VirtqueueBuffer]

    /// The device-readable buffers (they come first).
    public var readable: ArraySlice<VirtqueueBuffer> { buffers.prefix { !$0.isWritable } }
    /// The device-writable buffers (they come last).
    public var writable: ArraySlice<VirtqueueBuffer> { buffers.drop { !$0.isWritable } }

    /// Total bytes of the readable buffers.
    public var readableLength: UInt64 { readable.reduce(0) { $0 + UInt64($1.length) } }
    /// Total bytes of the writable buffers.
    public var writableLength: UInt64 { writable.reduce(0) { $0 + UInt64($1.length) } }
}

/// A window `[offset, offset + count)` of a sequence of buffers viewed as one byte stream,
/// resolved into guest ranges.
struct BufferWindow: Sequence {
    let buffers: ArraySlice<VirtqueueBuffer>
    let offset: UInt64
    let count: UInt64

    struct Iterator: IteratorProtocol {
        let buffers: ArraySlice<VirtqueueBuffer>
        var index: Int
        var skip: UInt64
        var remaining: UInt64

        mutating func next() -> (address: GuestAddress, length: Int)? {
            while remaining > 0, index < buffers.endIndex {
                let buffer = buffers[index]
                index += 1
                let length = UInt64(buffer.length)
                if skip >= length {
                    skip -= length
                    continue
                }
                let take = Swift.min(length - skip, remaining)
                // Cannot overflow: the whole buffer was checked to lie in guest memory.
                let address = GuestAddress(buffer.address.rawValue + skip)
                skip = 0
                remaining -= take
                return (address, Int(take))
            }
            return nil
        }
    }

    func makeIterator() -> Iterator {
        Iterator(buffers: buffers, index: buffers.startIndex, skip: offset, remaining: count)
    }
}
