import Devices
import GuestMemory
import HostSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The guest's side of a virtio-vsock device, as the vsock table plays it (the block rows'
/// ``QueueDriver`` drives one queue of three-descriptor chains; this one drives `rx` and `tx`
/// with one-descriptor chains). It negotiates `VIRTIO_F_EVENT_IDX`, as a Linux guest does: it
/// notifies a queue only when the device asked (`avail_event`), and asks for an interrupt only
/// before it sleeps (`used_event`).
///
/// Every buffer has a fixed slot (descriptor `i` is slot `i`, never rewritten for `rx`): a page
/// whose last 44 bytes hold the packet header, then 64 KiB of payload, page-aligned as Linux's
/// separate header and payload buffers are. Receive buffers are reposted as soon as they are
/// consumed; a `RW` payload is checked against ``VsockPattern`` (the guest "reads" it) and
/// counted consumed at once, its credit returned with a `CREDIT_UPDATE` once half the advertised
/// buffer has been consumed since the last header the device was sent.
final class VsockGuestDriver {
    static let guestCID: UInt64 = 3
    static let queueSize: UInt16 = 256
    static let receiveBuffers = 128
    static let transmitSlots = 128
    static let maxPayload = 64 << 10
    static let ringsBase: UInt64 = 0x1_0000
    static let buffersBase: UInt64 = 0x10_0000
    /// A page (the header at its end) and the payload.
    static let slotStride = UInt64(4096 + maxPayload)
    static var memorySize: UInt64 {
        (buffersBase + UInt64(receiveBuffers + transmitSlots) * slotStride + 0xF_FFFF) & ~0xF_FFFF
    }
    /// The receive buffer the guest advertises (`buf_alloc`) on every connection.
    let bufferAllocation: UInt32 = 2 << 20

    struct Ring {
        let index: Int
        let size: UInt16
        let descriptors: UInt64, available: UInt64, used: UInt64
        /// The next `avail.idx` (stored when published).
        var next: UInt16 = 0
        /// `avail.idx` when the driver last decided whether to notify.
        var kicked: UInt16 = 0
        var usedSeen: UInt16 = 0
        var usedEvent: GuestAddress { GuestAddress(available + 4 + 2 * UInt64(size)) }
        var availableEvent: GuestAddress { GuestAddress(used + 4 + 8 * UInt64(size)) }

        init(index: Int, size: UInt16) {
            self.index = index
            self.size = size
            descriptors = VsockGuestDriver.ringsBase * UInt64(index + 1)
            available = descriptors + 0x1000
            used = descriptors + 0x2000
        }
    }

    /// The driver's view of one connection.
    final class Stream {
        let guestPort: UInt32
        let hostPort: UInt32
        var established = false
        /// The device sent `RST`.
        var reset = false
        /// Payload bytes received and consumed (the low 32 bits are `fwd_cnt`).
        var received: UInt64 = 0
        /// `fwd_cnt` in the last header sent.
        var advertised: UInt32 = 0
        var creditUpdateOwed = false
        /// Payload bytes sent (the low 32 bits are the credit's `tx_cnt`).
        var sent: UInt64 = 0
        var peerBufferAllocation: UInt32 = 0
        var peerForwardCount: UInt32 = 0
        /// Received payloads that did not match the pattern.
        var corrupt = 0

        init(guestPort: UInt32, hostPort: UInt32) {
            self.guestPort = guestPort
            self.hostPort = hostPort
        }

        var forwardCount: UInt32 { UInt32(truncatingIfNeeded: received) }

        /// What the device lets the guest send now: `buf_alloc − (tx_cnt − fwd_cnt)`.
        var credit: Int {
            let inFlight = UInt32(truncatingIfNeeded: sent) &- peerForwardCount
            return inFlight > peerBufferAllocation ? 0 : Int(peerBufferAllocation - inFlight)
        }
    }

    /// What the driver did: packets each way, `RW` payload received, notifications sent,
    /// sleeps on the interrupt, and sleeps that timed out (a lost notification or interrupt).
    struct Counters {
        var received = 0, dataReceived = 0, payloadReceived = 0, sent = 0, dataSent = 0, creditUpdates = 0
        var kicks = 0, sleeps = 0, stalls = 0
    }

    let transport: VirtioMMIOTransport
    let memory: GuestMemoryMap
    let interrupt: EventFD
    let pattern: VsockPattern
    private let base: UnsafeMutableRawPointer
    private var rx = Ring(index: VirtioVsock.Queue.receive, size: VsockGuestDriver.queueSize)
    private var tx = Ring(index: VirtioVsock.Queue.transmit, size: VsockGuestDriver.queueSize)
    private var freeSlots = Array((0..<VsockGuestDriver.transmitSlots).reversed())
    private var streams: [UInt32: Stream] = [:]
    /// Guest ports a host process may connect to (a `REQUEST` there is answered `RESPONSE`).
    var listening: Set<UInt32> = []
    private(set) var counters = Counters()

    init(transport: VirtioMMIOTransport, memory: GuestMemoryMap, interrupt: EventFD, pattern: VsockPattern) throws {
        Self.checkHeaderLayout()
        self.transport = transport
        self.memory = memory
        self.interrupt = interrupt
        self.pattern = pattern
        guard let base = memory.hostAddress(of: GuestAddress(0)),
            memory.hostAddress(of: GuestAddress(Self.memorySize - 1)) == base + Int(Self.memorySize - 1)
        else {
            throw BenchError("the vsock driver needs \(Self.memorySize) bytes of guest memory from 0")
        }
        self.base = base
        register(VirtioMMIORegister.status, 0)
        register(VirtioMMIORegister.status, 3)
        register(VirtioMMIORegister.driverFeaturesSelect, 0)
        register(VirtioMMIORegister.driverFeatures, UInt32(VirtioFeature.eventIndex))
        register(VirtioMMIORegister.driverFeaturesSelect, 1)
        register(VirtioMMIORegister.driverFeatures, UInt32(VirtioFeature.version1 >> 32))
        register(VirtioMMIORegister.status, 11)
        // The event queue is set up (a device may need it after a restore) but never used here.
        let event = Ring(index: VirtioVsock.Queue.event, size: Self.queueSize)
        for ring in [rx, tx, event] {
            register(VirtioMMIORegister.queueSelect, UInt32(ring.index))
            register(VirtioMMIORegister.queueSize, UInt32(ring.size))
            register(VirtioMMIORegister.queueDescriptorLow, UInt32(ring.descriptors))
            register(VirtioMMIORegister.queueDriverLow, UInt32(ring.available))
            register(VirtioMMIORegister.queueDeviceLow, UInt32(ring.used))
            register(VirtioMMIORegister.queueReady, 1)
        }
        register(VirtioMMIORegister.status, 15)
        guard transport.status.contains(.driverOK), !transport.status.contains(.needsReset),
            transport.negotiatedFeatures & VirtioFeature.eventIndex != 0
        else { throw BenchError("the vsock transport refused the driver's set-up") }
        // One descriptor per slot: receive buffers are device-writable, transmit ones get their
        // length per packet.
        for slot in 0..<Self.receiveBuffers {
            try describe(
                rx, slot, header: receiveHeader(slot), length: UInt32(VirtioVsock.headerSize + Self.maxPayload),
                writable: true)
            try memory.write(UInt16(slot), at: GuestAddress(rx.available + 4 + 2 * UInt64(rx.next % rx.size)))
            rx.next &+= 1
        }
        for slot in 0..<Self.transmitSlots {
            try describe(tx, slot, header: transmitHeader(slot), length: 0, writable: false)
        }
        try publish(&rx)
    }

    private func register(_ offset: UInt64, _ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { transport.write(address: offset, offset: offset, from: $0) }
    }

    private func describe(_ ring: Ring, _ slot: Int, header: UInt64, length: UInt32, writable: Bool) throws {
        let entry = GuestAddress(ring.descriptors + 16 * UInt64(slot))
        try memory.write(header, at: entry)
        try memory.write(length, at: GuestAddress(entry.rawValue + 8))
        try memory.write(writable ? SplitVirtqueue.descriptorWrite : 0, at: GuestAddress(entry.rawValue + 12))
    }

    /// Where slot `slot`'s header starts: 44 bytes before its page-aligned payload.
    private func receiveHeader(_ slot: Int) -> UInt64 {
        Self.buffersBase + UInt64(slot) * Self.slotStride + 4096 - UInt64(VirtioVsock.headerSize)
    }

    private func transmitHeader(_ slot: Int) -> UInt64 { receiveHeader(Self.receiveBuffers + slot) }

    // MARK: Rings

    /// Publishes `ring`'s new available chains and notifies the device if it asked
    /// (`vring_need_event(avail_event, new, old)`).
    private func publish(_ ring: inout Ring) throws {
        try memory.atomicStore(ring.next, at: GuestAddress(ring.available + 2))
        let event = try memory.atomicLoad(UInt16.self, at: ring.availableEvent)
        if ring.next &- event &- 1 < ring.next &- ring.kicked { notify(ring.index) }
        ring.kicked = ring.next
    }

    private func notify(_ queue: Int) {
        counters.kicks += 1
        register(VirtioMMIORegister.queueNotify, UInt32(queue))
    }

    /// Takes what the device completed: transmit slots back, received packets handled and their
    /// buffers reposted; then sends the credit updates owed. Returns whether anything was done.
    @discardableResult
    func pump() throws -> Bool {
        var progress = false
        let transmitted = try memory.atomicLoad(UInt16.self, at: GuestAddress(tx.used + 2))
        while tx.usedSeen != transmitted {
            let id = try memory.read(UInt32.self, at: GuestAddress(tx.used + 4 + 8 * UInt64(tx.usedSeen % tx.size)))
            freeSlots.append(Int(id))
            tx.usedSeen &+= 1
            progress = true
        }
        let received = try memory.atomicLoad(UInt16.self, at: GuestAddress(rx.used + 2))
        if rx.usedSeen != received {
            while rx.usedSeen != received {
                let element = GuestAddress(rx.used + 4 + 8 * UInt64(rx.usedSeen % rx.size))
                let id = try memory.read(UInt32.self, at: element)
                let length = try memory.read(UInt32.self, at: GuestAddress(element.rawValue + 4))
                try handle(slot: Int(id), length: Int(length))
                try memory.write(UInt16(id), at: GuestAddress(rx.available + 4 + 2 * UInt64(rx.next % rx.size)))
                rx.next &+= 1
                rx.usedSeen &+= 1
            }
            try publish(&rx)
            progress = true
        }
        var updated = false
        for stream in streams.values where stream.creditUpdateOwed && !stream.reset {
            guard try post(.creditUpdate, stream) else { break }
            counters.creditUpdates += 1
            updated = true
        }
        if updated { try publish(&tx) }
        return progress
    }

    /// Asks for an interrupt at the next used element of either queue and sleeps until it comes
    /// (unless one came meanwhile). A sleep of 200 ms with no interrupt counts as a stall and
    /// notifies both queues.
    func sleep() throws {
        try memory.atomicStore(rx.usedSeen, at: rx.usedEvent)
        try memory.atomicStore(tx.usedSeen, at: tx.usedEvent)
        if try memory.atomicLoad(UInt16.self, at: GuestAddress(rx.used + 2)) != rx.usedSeen
            || memory.atomicLoad(UInt16.self, at: GuestAddress(tx.used + 2)) != tx.usedSeen
        {
            return
        }
        counters.sleeps += 1
        if try interrupt.wait(timeoutMilliseconds: 200) {
            _ = try interrupt.read()
        } else {
            counters.stalls += 1
            notify(rx.index)
            notify(tx.index)
        }
    }

    /// Pumps and sleeps until `done` holds; fails after 10 s without progress (a hang guard).
    func run(until done: () throws -> Bool) throws {
        var last = monotonicNanoseconds()
        while try !done() {
            if try pump() {
                last = monotonicNanoseconds()
            } else {
                guard monotonicNanoseconds() - last < 10_000_000_000 else {
                    throw BenchError("the vsock driver waited 10 s for the device")
                }
                try sleep()
            }
        }
    }

    // MARK: Packets

    private func handle(slot: Int, length: Int) throws {
        guard slot < Self.receiveBuffers, length >= VirtioVsock.headerSize else {
            throw BenchError("vsock: the device completed receive buffer \(slot) with \(length) bytes")
        }
        let pointer = base + Int(receiveHeader(slot))
        let header = VsockPacketHeader(loadingFrom: pointer)
        counters.received += 1
        guard length == VirtioVsock.headerSize + Int(header.length), header.sourceCID == VirtioVsock.hostCID,
            header.destinationCID == Self.guestCID, let operation = header.knownOperation
        else { throw BenchError("vsock: a malformed packet from the device: \(header)") }
        if operation == .request {
            guard listening.contains(header.destinationPort), streams[header.destinationPort] == nil else {
                throw BenchError("vsock: an unexpected request for guest port \(header.destinationPort)")
            }
            let stream = Stream(guestPort: header.destinationPort, hostPort: header.sourcePort)
            stream.peerBufferAllocation = header.bufferAllocation
            stream.peerForwardCount = header.forwardCount
            streams[stream.guestPort] = stream
            guard try post(.response, stream) else { throw BenchError("vsock: no transmit slot for a response") }
            try publish(&tx)
            stream.established = true
            return
        }
        guard let stream = streams[header.destinationPort], stream.hostPort == header.sourcePort else {
            throw BenchError("vsock: a packet for no connection: \(header)")
        }
        stream.peerBufferAllocation = header.bufferAllocation
        stream.peerForwardCount = header.forwardCount
        switch operation {
        case .response: stream.established = true
        case .readWrite:
            let count = Int(header.length)
            if memcmp(pointer + VirtioVsock.headerSize, pattern.at(stream.received), count) != 0 { stream.corrupt += 1 }
            stream.received += UInt64(count)
            counters.dataReceived += 1
            counters.payloadReceived += count
            if stream.forwardCount &- stream.advertised >= bufferAllocation / 2 { stream.creditUpdateOwed = true }
        case .creditRequest: stream.creditUpdateOwed = true
        case .reset:
            stream.reset = true
            streams[stream.guestPort] = nil
        case .shutdown, .creditUpdate, .request: break
        }
    }

    /// Writes a packet for `stream` into a free transmit slot and makes it available (the caller
    /// publishes); `false` when no slot is free.
    private func post(
        _ operation: VirtioVsock.Operation, _ stream: Stream, flags: UInt32 = 0, payload: Int = 0
    ) throws -> Bool {
        guard let slot = freeSlots.popLast() else { return false }
        let header = transmitHeader(slot)
        VsockPacketHeader(
            sourceCID: Self.guestCID, destinationCID: VirtioVsock.hostCID, sourcePort: stream.guestPort,
            destinationPort: stream.hostPort, length: UInt32(payload), operation: operation.rawValue, flags: flags,
            bufferAllocation: bufferAllocation, forwardCount: stream.forwardCount
        ).store(to: base + Int(header))
        stream.advertised = stream.forwardCount
        stream.creditUpdateOwed = false
        if payload > 0 {
            // The guest's copy of the application's bytes into the packet.
            (base + Int(header) + VirtioVsock.headerSize).copyMemory(from: pattern.at(stream.sent), byteCount: payload)
            stream.sent += UInt64(payload)
            counters.dataSent += 1
        }
        try memory.write(
            UInt32(VirtioVsock.headerSize + payload), at: GuestAddress(tx.descriptors + 16 * UInt64(slot) + 8))
        try memory.write(UInt16(slot), at: GuestAddress(tx.available + 4 + 2 * UInt64(tx.next % tx.size)))
        tx.next &+= 1
        counters.sent += 1
        return true
    }

    /// Sends up to `count` bytes of the pattern on `stream` (its next bytes) in packets of at
    /// most `packet` bytes, within the device's credit and the free slots, published together;
    /// returns the bytes sent.
    func send(_ count: Int, packet: Int, on stream: Stream) throws -> Int {
        var done = 0
        while done < count {
            let n = min(count - done, packet, stream.credit)
            guard n > 0, try post(.readWrite, stream, payload: n) else { break }
            done += n
        }
        if done > 0 { try publish(&tx) }
        return done
    }

    /// Opens a connection from `guestPort` to the host's `hostPort` (the device connects to
    /// `<path>_<hostPort>`) and waits for its `RESPONSE`.
    func connect(from guestPort: UInt32, to hostPort: UInt32) throws -> Stream {
        let stream = Stream(guestPort: guestPort, hostPort: hostPort)
        streams[guestPort] = stream
        try run { try post(.request, stream) }
        try publish(&tx)
        try run { stream.established || stream.reset }
        guard stream.established else { throw BenchError("vsock: the device refused the connection to \(hostPort)") }
        return stream
    }

    /// The connection a host process opened to `guestPort`, once the guest has accepted it.
    func accepted(on guestPort: UInt32) throws -> Stream {
        try run { streams[guestPort]?.established == true }
        return streams[guestPort]!
    }

    /// Shuts down both directions of `stream` and waits for the device's `RST`.
    func close(_ stream: Stream) throws {
        try run { try post(.shutdown, stream, flags: 3) }
        try publish(&tx)
        try run { stream.reset }
    }

    /// The header load and store below against the device's own encoding and parse.
    private static func checkHeaderLayout() {
        let sample = VsockPacketHeader(
            sourceCID: 0x0102_0304_0506_0708, destinationCID: 0x1112_1314_1516_1718, sourcePort: 0x2122_2324,
            destinationPort: 0x3132_3334, length: 0x4142_4344, type: 0x5152, operation: 0x6162, flags: 0x7172_7374,
            bufferAllocation: 0x8182_8384, forwardCount: 0x9192_9394)
        var raw = [UInt8](repeating: 0, count: VirtioVsock.headerSize)
        raw.withUnsafeMutableBytes { sample.store(to: $0.baseAddress!) }
        let loaded = raw.withUnsafeBytes { VsockPacketHeader(loadingFrom: $0.baseAddress!) }
        precondition(raw == sample.bytes && (try? VsockPacketHeader(raw)) == sample && loaded == sample)
    }
}

extension VsockPacketHeader {
    /// The header in the 44 bytes at `pointer` (what ``init(_:)`` parses, without its array).
    init(loadingFrom pointer: UnsafeRawPointer) {
        func field<T: FixedWidthInteger>(_ offset: Int, _: T.Type = T.self) -> T {
            T(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        self.init(
            sourceCID: field(0), destinationCID: field(8), sourcePort: field(16), destinationPort: field(20),
            length: field(24), type: field(28), operation: field(30), flags: field(32), bufferAllocation: field(36),
            forwardCount: field(40))
    }

    /// Stores the header's 44 bytes at `pointer` (what ``bytes`` makes, without its array).
    func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: sourceCID.littleEndian, toByteOffset: 0, as: UInt64.self)
        pointer.storeBytes(of: destinationCID.littleEndian, toByteOffset: 8, as: UInt64.self)
        pointer.storeBytes(of: sourcePort.littleEndian, toByteOffset: 16, as: UInt32.self)
        pointer.storeBytes(of: destinationPort.littleEndian, toByteOffset: 20, as: UInt32.self)
        pointer.storeBytes(of: length.littleEndian, toByteOffset: 24, as: UInt32.self)
        pointer.storeBytes(of: type.littleEndian, toByteOffset: 28, as: UInt16.self)
        pointer.storeBytes(of: operation.littleEndian, toByteOffset: 30, as: UInt16.self)
        pointer.storeBytes(of: flags.littleEndian, toByteOffset: 32, as: UInt32.self)
        pointer.storeBytes(of: bufferAllocation.littleEndian, toByteOffset: 36, as: UInt32.self)
        pointer.storeBytes(of: forwardCount.littleEndian, toByteOffset: 40, as: UInt32.self)
    }
}

/// The bytes every vsock measurement moves: a stream whose byte at offset `o` is
/// `bytes[o % period]` (random bytes; the period a prime, so a lost, repeated or reordered
/// message of 4 or 64 KiB shifts the stream against it), checked with `memcmp` where it arrives.
final class VsockPattern: @unchecked Sendable {  // immutable once made
    static let period = 65_521
    private let bytes: UnsafeMutableRawPointer

    init() {
        let count = Self.period + VsockGuestDriver.maxPayload
        bytes = .allocate(byteCount: count, alignment: 4096)
        var random = SplitMix64(seed: 0x76_736f_636b)
        let view = bytes.bindMemory(to: UInt8.self, capacity: count)
        for i in 0..<Self.period { view[i] = UInt8(truncatingIfNeeded: random.next()) }
        for i in Self.period..<count { view[i] = view[i - Self.period] }
    }

    deinit { bytes.deallocate() }

    /// The stream from offset `offset` on (at least 64 KiB of it).
    func at(_ offset: UInt64) -> UnsafeMutableRawPointer { bytes + Int(offset % UInt64(Self.period)) }
}
