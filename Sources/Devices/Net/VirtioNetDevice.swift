import DeviceModel
import GuestMemory
import HostSupport
import Synchronization

/// Constants of the virtio network device (virtio 1.2, section 5.1).
public enum VirtioNet {
    /// The device id: 1, a network card.
    public static let deviceID: UInt32 = 1
    /// The size of `struct virtio_net_hdr` as a `VERSION_1` device uses it (with `num_buffers`).
    public static let headerSize = 12
    /// The largest frame the device moves: 64 KiB of packet plus an Ethernet header and VLAN tag
    /// (what a TAP device may deliver with offloads; without them, 1514 bytes).
    public static let maximumFrameSize = 65_562

    /// Feature bits.
    public enum Feature {
        /// `VIRTIO_NET_F_MAC`: the configuration space holds the MAC address.
        public static let mac: UInt64 = 1 << 5
        /// `VIRTIO_NET_F_MRG_RXBUF`: a received frame may span several receive buffers.
        public static let mergeableReceiveBuffers: UInt64 = 1 << 15
        /// `VIRTIO_NET_F_STATUS`: the configuration space holds the link status.
        public static let status: UInt64 = 1 << 16
    }

    /// `status` bits in the configuration space.
    public static let linkUp: UInt16 = 1

    /// Queue indices (one pair).
    public enum Queue {
        /// `receiveq1`: buffers the device fills with frames for the guest.
        public static let receive = 0
        /// `transmitq1`: the guest's frames.
        public static let transmit = 1
    }
}

/// A MAC address.
public struct MACAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Its six bytes, in transmission order.
    public var bytes: [UInt8]

    /// An address from six bytes.
    ///
    /// - Precondition: `bytes` has six elements.
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 6, "a MAC address has six bytes")
        self.bytes = bytes
    }

    /// A locally administered unicast address (`52:54:00:xx:xx:xx`, QEMU's prefix) made from
    /// `seed`.
    public static func local(_ seed: UInt32) -> MACAddress {
        MACAddress([
            0x52, 0x54, 0x00, UInt8(truncatingIfNeeded: seed >> 16), UInt8(truncatingIfNeeded: seed >> 8),
            UInt8(truncatingIfNeeded: seed),
        ])
    }

    /// `aa:bb:cc:dd:ee:ff`.
    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }
}

/// A virtio network card (virtio-net, device id 1) with one queue pair, whose frames go to and
/// come from a ``NetworkBackend`` — a TAP device, an in-memory link, a datagram socket.
///
/// Offered: `VIRTIO_NET_F_MAC` (``mac`` in the configuration space), `VIRTIO_NET_F_STATUS`
/// (``setLinkUp(_:)`` raises a configuration-change interrupt) and `VIRTIO_NET_F_MRG_RXBUF`: a
/// received frame is spread over as many receive buffers as it needs (the first one's header
/// saying how many), and one the buffers posted cannot hold yet waits for more — never cut,
/// never reordered. Without `MRG_RXBUF`, each frame goes into one buffer, and a frame larger
/// than the buffer at the head of the ring is dropped and counted
/// (``VirtioNetStatistics/receiveOversized``), never truncated. No checksum or segmentation
/// offload is offered.
///
/// Both queues are device-driven:
/// - transmit: a chain is the 12-byte header and the frame; the frame goes to the backend; a
///   full backend leaves the chains in the ring until it has room (its writable signal is
///   watched only then); a chain too short for the header, or a frame beyond
///   ``VirtioNet/maximumFrameSize``, is completed unsent and counted.
/// - receive: frames are read from the backend only while the driver has posted buffers — with
///   none posted, the backend's readable signal is not watched (no frame is read and lost, the
///   loop does not spin), and reading resumes, in order, when buffers come.
///
/// Each queue may have a `RateLimiter` (DeviceModel): a throttled queue waits, its chains in the
/// ring (or a received frame held by the device), until the limiter's timer — one of the
/// device's event sources — fires.
public final class VirtioNetDevice: VirtioDeviceBackend {
    /// The MAC address in the configuration space.
    public let mac: MACAddress
    /// Where frames go and come from.
    public let backend: any NetworkBackend
    /// The size of both queues.
    public let queueSize: UInt16
    /// The receive queue's limiter, if any (bytes delivered to the guest, frames).
    public let receiveLimiter: RateLimiter?
    /// The transmit queue's limiter, if any (bytes the guest sends, frames).
    public let transmitLimiter: RateLimiter?

    struct State {
        var linkUp = true
        /// A frame read from the backend and not yet delivered (its rate limit held it back, or
        /// the receive buffers posted so far cannot hold it all).
        var heldFrame: Int?
        /// The held frame already took its tokens from the receive limiter.
        var heldFrameAdmitted = false
        /// With `MRG_RXBUF`, the frame being spread over receive buffers: how much is placed,
        /// in how many buffers, and the first (whose header says how many).
        var spreading: (offset: Int, buffers: UInt16, first: DescriptorChain)?
        var waitingForRoom = false
        var watchingInput = true
        var statistics = VirtioNetStatistics()
    }

    private let state = Mutex(State())
    private let transport = TransportLink()
    /// A frame on its way out, and one on its way in (kept while the receive limiter holds it).
    private let outgoing: ScratchBuffer
    private let incoming: ScratchBuffer
    /// The backend's readable signal's source (and its writable signal's too when both are
    /// one descriptor, as for a TAP or a socket).
    private let inputInterest: DeviceEventInterest
    /// The writable signal's own source, when it has its own descriptor.
    private let roomInterest: DeviceEventInterest?
    private let sharedDescriptor: Bool

    /// A network card with address `mac` on `backend`.
    ///
    /// - Throws: ``VirtqueueError/invalidSize(_:)`` unless `queueSize` is a power of two from 2
    ///   to 32768.
    public init(
        mac: MACAddress, backend: any NetworkBackend, queueSize: UInt16 = 256, receiveLimiter: RateLimiter? = nil,
        transmitLimiter: RateLimiter? = nil
    ) throws(VirtqueueError) {
        guard queueSize >= 2, queueSize <= 32768, queueSize & (queueSize - 1) == 0 else {
            throw .invalidSize(UInt32(queueSize))
        }
        self.mac = mac
        self.backend = backend
        self.queueSize = queueSize
        self.receiveLimiter = receiveLimiter
        self.transmitLimiter = transmitLimiter
        outgoing = ScratchBuffer(count: VirtioNet.maximumFrameSize)
        incoming = ScratchBuffer(count: VirtioNet.maximumFrameSize)
        sharedDescriptor = backend.readableSignal.descriptor == backend.writableSignal.descriptor
        inputInterest = DeviceEventInterest(backend.readableSignal.events)
        roomInterest = sharedDescriptor ? nil : DeviceEventInterest([])
    }

    /// 1, a network card.
    public var deviceID: UInt32 { VirtioNet.deviceID }
    /// `VERSION_1`, `VIRTIO_NET_F_MAC`, `VIRTIO_NET_F_STATUS`, `VIRTIO_NET_F_MRG_RXBUF`.
    public var deviceFeatures: UInt64 {
        VirtioFeature.version1 | VirtioNet.Feature.mac | VirtioNet.Feature.status
            | VirtioNet.Feature.mergeableReceiveBuffers
    }
    /// `receiveq1` and `transmitq1`.
    public var queueSizeMax: [UInt16] { [queueSize, queueSize] }
    /// Both queues.
    public var deviceDrivenQueues: Set<Int> { [VirtioNet.Queue.receive, VirtioNet.Queue.transmit] }

    /// What the device moved, dropped and held back.
    public var statistics: VirtioNetStatistics { state.withLock { $0.statistics } }

    /// Whether the link is up, as the configuration space reports it.
    public var isLinkUp: Bool { state.withLock { $0.linkUp } }

    /// Sets the link status and, once the driver runs, tells it (a configuration-change
    /// interrupt).
    public func setLinkUp(_ up: Bool) {
        let changed = state.withLock { s in
            defer { s.linkUp = up }
            return s.linkUp != up
        }
        if changed, let queues = transport.queues, queues.isDriverReady { queues.signalConfigurationChange() }
    }

    /// `struct virtio_net_config`: `mac`, `status`; bytes past them read as zero.
    public func readConfig(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        var config = VirtioConfigSpace(size: 8)
        for (i, byte) in mac.bytes.enumerated() { config.put(byte, at: i) }
        config.put(isLinkUp ? VirtioNet.linkUp : 0, at: 6)
        config.read(offset: offset, into: data)
    }

    /// Never called: both queues are device-driven.
    public func serve(_ chain: DescriptorChain, queue: Int, memory: some GuestMemoryAccess) -> UInt32 { 0 }

    /// Keeps the transport (weakly) to take chains through.
    public func connect(to queues: any VirtioQueueAccess) {
        transport.connect(queues)
    }

    /// Transmit chains: send them. Receive buffers: fill them with what the backend holds.
    public func queueNotified(_ queue: Int) {
        switch queue {
        case VirtioNet.Queue.transmit: transmit()
        case VirtioNet.Queue.receive: receive()
        default: break
        }
    }

    /// The backend's readable and writable signals (each watched only while the device wants
    /// it) and the limiters' timers.
    public var eventSources: [DeviceEventSource] {
        let writable = backend.writableSignal.events
        var sources = [
            DeviceEventSource(
                name: "virtio-net backend", descriptor: backend.readableSignal.descriptor, interest: inputInterest
            ) { [self] events in
                if sharedDescriptor && !events.isDisjoint(with: writable) { transmit() }
                if !sharedDescriptor || !events.isDisjoint(with: [.readable, .hangUp, .error]) { receive() }
            }
        ]
        if let roomInterest {
            sources.append(
                DeviceEventSource(
                    name: "virtio-net transmit room", descriptor: backend.writableSignal.descriptor,
                    interest: roomInterest
                ) { [self] _ in transmit() })
        }
        if let receiveLimiter {
            sources.append(
                DeviceEventSource(name: "virtio-net receive limiter", descriptor: receiveLimiter.timer.fileDescriptor) {
                    [self] _ in
                    receiveLimiter.timerFired()
                    receive()
                })
        }
        if let transmitLimiter {
            sources.append(
                DeviceEventSource(name: "virtio-net transmit limiter", descriptor: transmitLimiter.timer.fileDescriptor)
                {
                    [self] _ in
                    transmitLimiter.timerFired()
                    transmit()
                })
        }
        return sources
    }

    // MARK: Transmit

    private func transmit() {
        guard let queues = transport.queues else { return }
        var full = false
        queues.takeChains(queue: VirtioNet.Queue.transmit) { chain, memory in
            state.withLock { s -> UInt32? in
                let total = chain.readableLength
                guard total >= UInt64(VirtioNet.headerSize),
                    total - UInt64(VirtioNet.headerSize) <= UInt64(VirtioNet.maximumFrameSize)
                else {
                    s.statistics.transmitMalformed += 1
                    return 0
                }
                let length = Int(total) - VirtioNet.headerSize
                if let transmitLimiter, !transmitLimiter.consume(bytes: UInt64(length)) { return nil }
                let frame = UnsafeMutableRawBufferPointer(rebasing: outgoing.bytes[..<length])
                guard (try? chain.gather(from: memory, skipping: UInt64(VirtioNet.headerSize), into: frame)) == length
                else {
                    transmitLimiter?.giveBack(bytes: UInt64(length))
                    s.statistics.transmitMalformed += 1
                    return 0
                }
                switch backend.send(UnsafeRawBufferPointer(frame)) {
                case .sent:
                    s.statistics.framesSent += 1
                    s.statistics.bytesSent += UInt64(length)
                case .full:
                    transmitLimiter?.giveBack(bytes: UInt64(length))
                    full = true
                    return nil
                case .dropped:
                    s.statistics.transmitDropped += 1
                }
                return 0
            }
        }
        state.withLock { s in
            guard full != s.waitingForRoom else { return }
            s.waitingForRoom = full
            applyInterests(s)
        }
    }

    // MARK: Receive

    /// Fills the receive buffers the driver posted with the backend's frames, each frame one
    /// group of buffers: with `MRG_RXBUF` as many as it needs (the first one's header saying how
    /// many) — a frame the buffers posted cannot hold yet waits whole for more (the group is
    /// undone) —; without, one buffer, and a frame larger than it is dropped and counted.
    private func receive() {
        guard let queues = transport.queues else { return }
        let merging = queues.negotiatedFeatures & VirtioNet.Feature.mergeableReceiveBuffers != 0
        var noBuffers = true
        var drained = false
        var throttled = false
        let outcome = queues.takeChainGroups(queue: VirtioNet.Queue.receive) { chain, memory in
            noBuffers = false
            return state.withLock { s -> ChainGroupStep in
                let length: Int
                if s.spreading != nil {
                    length = s.heldFrame ?? 0
                } else {
                    guard chain.writableLength >= UInt64(VirtioNet.headerSize) else {
                        // A buffer too small for the header: filled with nothing.
                        s.statistics.receiveOversized += 1
                        return .last(0)
                    }
                    var next: Int?
                    while next == nil {
                        switch nextFrame(&s) {
                        case .drained:
                            drained = true
                            return .giveBack
                        case .throttled:
                            throttled = true
                            return .giveBack
                        case .frame(let n):
                            if merging || UInt64(VirtioNet.headerSize + n) <= chain.writableLength {
                                next = n
                            } else {
                                // One buffer per frame, and this one does not fit: dropped whole.
                                s.heldFrame = nil
                                s.heldFrameAdmitted = false
                                s.statistics.receiveOversized += 1
                            }
                        }
                    }
                    length = next ?? 0
                    s.spreading = (0, 0, chain)
                }
                return place(length, in: chain, memory, &s)
            }
        }
        state.withLock { s in
            if outcome.undoneGroup {
                // Not enough buffers for the whole frame: it waits (held) for more.
                s.spreading = nil
                s.statistics.receiveWaitedForBuffers += 1
            }
            // Watch the backend only while buffers are posted and it may hold frames: with no
            // buffers, a readable backend would wake the loop for nothing, over and over.
            let want = drained || (!noBuffers && !throttled && !outcome.undoneGroup)
            guard want != s.watchingInput else { return }
            s.watchingInput = want
            applyInterests(s)
        }
    }

    /// Places the next part of the frame being received (`length` bytes in ``incoming``) in
    /// `chain`: the header first (its `num_buffers` written into the first buffer once the last
    /// is known), then as much of the frame as fits.
    private func place(
        _ length: Int, in chain: DescriptorChain, _ memory: some GuestMemoryAccess, _ s: inout State
    ) -> ChainGroupStep {
        guard var spread = s.spreading else { return .giveBack }
        var written = 0
        if spread.offset == 0 {
            var header = (UInt64(0), UInt32(0))  // 12 zero bytes; num_buffers comes last
            withUnsafeBytes(of: &header) {
                _ = try? chain.scatter(UnsafeRawBufferPointer(rebasing: $0[..<VirtioNet.headerSize]), into: memory)
            }
            written = VirtioNet.headerSize
        }
        let room = Int(min(chain.writableLength - UInt64(written), UInt64(length - spread.offset)))
        _ = try? chain.scatter(
            UnsafeRawBufferPointer(rebasing: incoming.bytes[spread.offset..<spread.offset + room]), into: memory,
            at: UInt64(written))
        written += room
        spread.offset += room
        spread.buffers += 1
        guard spread.offset == length else {
            s.spreading = spread
            return .more(UInt32(written))
        }
        withUnsafeBytes(of: spread.buffers.littleEndian) { _ = try? spread.first.scatter($0, into: memory, at: 10) }
        s.spreading = nil
        s.heldFrame = nil
        s.heldFrameAdmitted = false
        s.statistics.framesReceived += 1
        s.statistics.bytesReceived += UInt64(length)
        return .last(UInt32(written))
    }

    /// Takes the next frame (the held one, or one from the backend) into ``incoming``, past the
    /// receive limiter: its length, or why there is none.
    private enum NextFrame {
        case frame(Int)
        case drained
        case throttled
    }

    private func nextFrame(_ s: inout State) -> NextFrame {
        while true {
            let length: Int
            if let held = s.heldFrame {
                length = held
            } else {
                switch backend.receive(into: incoming.bytes) {
                case .empty: return .drained
                case .oversized:
                    s.statistics.receiveOversized += 1
                    continue
                case .frame(let n): length = n
                }
            }
            s.heldFrame = length
            if s.heldFrameAdmitted { return .frame(length) }
            if let receiveLimiter, !receiveLimiter.consume(bytes: UInt64(length)) {
                s.statistics.receiveThrottled += 1
                return .throttled
            }
            s.heldFrameAdmitted = true
            return .frame(length)
        }
    }

    private func applyInterests(_ s: State) {
        var input: EventLoop.Events = s.watchingInput ? backend.readableSignal.events : []
        let room: EventLoop.Events = s.waitingForRoom ? backend.writableSignal.events : []
        if sharedDescriptor { input.formUnion(room) } else { try? roomInterest?.set(room) }
        try? inputInterest.set(input)
    }
}

/// What a ``VirtioNetDevice`` moved, dropped and held back.
public struct VirtioNetStatistics: Sendable, Hashable {
    /// Frames sent to the backend.
    public var framesSent: UInt64 = 0
    /// Their bytes (without the virtio header).
    public var bytesSent: UInt64 = 0
    /// Frames given to the guest.
    public var framesReceived: UInt64 = 0
    /// Their bytes (without the virtio header).
    public var bytesReceived: UInt64 = 0
    /// Transmit chains completed unsent: shorter than the header, a frame beyond the maximum,
    /// or unreadable.
    public var transmitMalformed: UInt64 = 0
    /// Frames the backend refused.
    public var transmitDropped: UInt64 = 0
    /// Received frames dropped for being larger than the receive buffer posted (or than the
    /// device's maximum).
    public var receiveOversized: UInt64 = 0
    /// Times a received frame waited for the receive limiter.
    public var receiveThrottled: UInt64 = 0
    /// Times a received frame waited for more receive buffers (`MRG_RXBUF`: the buffers posted
    /// could not hold it all).
    public var receiveWaitedForBuffers: UInt64 = 0
}
