/// Credit-based flow control of one vsock stream connection (virtio 1.2, section 5.10.6.3), from
/// the device's side, with every counter modulo 2^32 as on the wire.
///
/// Each side advertises `buf_alloc` (its receive buffer) and `fwd_cnt` (bytes it has consumed)
/// in every header it sends. The device may send the guest at most
/// `peer_buf_alloc − (tx_cnt − peer_fwd_cnt)` bytes ( ``peerFree``); the guest may send the
/// device at most what is free in the device's buffer (``accepts(_:)``), and a guest that sends
/// more is in breach — its connection is reset rather than the device buffering without bound.
public struct VsockCredit: Sendable, Hashable {
    /// The device's receive buffer for this connection (advertised as `buf_alloc`).
    public var bufferAllocation: UInt32
    /// Bytes received from the guest and forwarded to the host side (advertised as `fwd_cnt`).
    public private(set) var forwardCount: UInt32 = 0
    /// Bytes received from the guest.
    public private(set) var receiveCount: UInt32 = 0
    /// Bytes sent to the guest.
    public private(set) var transmitCount: UInt32 = 0
    /// The guest's receive buffer, from its latest header.
    public private(set) var peerBufferAllocation: UInt32 = 0
    /// Bytes the guest has consumed, from its latest header.
    public private(set) var peerForwardCount: UInt32 = 0
    /// The `fwd_cnt` last advertised to the guest (to decide when an update is due).
    public private(set) var advertisedForwardCount: UInt32 = 0

    /// Credit with the device's receive buffer of `bufferAllocation` bytes.
    public init(bufferAllocation: UInt32) {
        self.bufferAllocation = bufferAllocation
    }

    /// Takes the guest's `buf_alloc` and `fwd_cnt` from a header it sent.
    public mutating func update(peerBufferAllocation: UInt32, peerForwardCount: UInt32) {
        self.peerBufferAllocation = peerBufferAllocation
        self.peerForwardCount = peerForwardCount
    }

    /// How many more bytes the device may send the guest now. A guest `fwd_cnt` ahead of what
    /// was sent (a confused or hostile driver) counts as nothing in flight, never as more credit
    /// than the guest's buffer.
    public var peerFree: UInt32 {
        let inFlight = transmitCount &- peerForwardCount
        guard inFlight <= peerBufferAllocation else {
            // Wrapped: the guest claims to have consumed more than it was sent.
            return inFlight > UInt32.max / 2 ? peerBufferAllocation : 0
        }
        return peerBufferAllocation - inFlight
    }

    /// Bytes the device holds from the guest, not yet forwarded.
    public var pending: UInt32 { receiveCount &- forwardCount }

    /// Whether the device has room for `length` more bytes from the guest.
    public func accepts(_ length: UInt32) -> Bool {
        UInt64(pending) + UInt64(length) <= UInt64(bufferAllocation)
    }

    /// Records `length` bytes received from the guest (check ``accepts(_:)`` first).
    public mutating func received(_ length: UInt32) { receiveCount &+= length }

    /// Records `length` bytes forwarded to the host side.
    public mutating func forwarded(_ length: UInt32) { forwardCount &+= length }

    /// Records `length` bytes sent to the guest (at most ``peerFree``).
    public mutating func sent(_ length: UInt32) { transmitCount &+= length }

    /// Records that the current `fwd_cnt` went to the guest in a header.
    public mutating func advertised() { advertisedForwardCount = forwardCount }

    /// Whether the guest should hear of the room made since the last advertisement: when it
    /// may be waiting — the room it knows of is below `threshold` bytes — and more was freed.
    public func creditUpdateDue(threshold: UInt32) -> Bool {
        let knownFree = bufferAllocation &- (receiveCount &- advertisedForwardCount)
        return forwardCount != advertisedForwardCount && knownFree < threshold
    }
}
