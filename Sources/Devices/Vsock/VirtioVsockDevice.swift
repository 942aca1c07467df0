import DeviceModel
import GuestMemory
import HostSupport
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A virtio socket device (virtio-vsock, device id 19) backed by Unix sockets, with
/// Firecracker's host-side protocol — no `/dev/vhost-vsock` needed:
///
/// - a guest connecting to host port `P` is connected to the Unix socket at `<path>_<P>`
///   (refused with `RST` when nothing listens there);
/// - a host process connects to the Unix socket at `<path>`, writes `CONNECT <P>\n`, and is
///   answered `OK <port>\n` (its host-side port) once the guest accepts on port `P`; the
///   connection is closed when the guest refuses, or does not answer within
///   ``connectTimeoutNanoseconds``.
///
/// Every stream connection runs the protocol's state machine (request, response, data both
/// ways, credit update and request, shutdown of either direction, reset), with credit-based
/// flow control both ways: the device never sends the guest more than the guest's advertised
/// buffer, and holds at most ``bufferAllocation`` bytes of a connection's guest data that its
/// host socket has not taken — a guest exceeding that credit is reset. Every guest packet is
/// validated (``VsockPacketHeader/validate(guestCID:maxPayload:)``); a malformed one resets its
/// own connection only, or is answered `RST` when it belongs to none.
///
/// All three queues are device-driven. The host side is one `EpollSet` (HostSupport) — the
/// listening socket, connections still sending their `CONNECT` line, every connection's socket
/// (edge-triggered), and a timer for timeouts — given to the transport's event loop as one
/// source (``eventSources``). Memory stays bounded whatever the guest or the host processes do:
/// packets owed to a connection are flags on it, `RST`s for packets that belong to no
/// connection wait in a queue of at most ``queueSize`` (while it is full the device takes no
/// more transmit chains), and at most ``maxConnections`` connections exist at once.
///
/// Connections are not saved in snapshots (their host sockets belong to the old process): a
/// restored device sends the guest `VIRTIO_VSOCK_EVENT_TRANSPORT_RESET`, as the specification
/// asks after a migration, and the guest's sockets see their connections reset.
public final class VirtioVsockDevice: VirtioDeviceBackend {
    /// The guest's context id (3 or more).
    public let guestCID: UInt64
    /// The host-side Unix socket path (`<path>` listens; guest connections go to `<path>_<port>`).
    public let hostSocketPath: String
    /// The size of each of the three queues.
    public let queueSize: UInt16
    /// The receive buffer the device advertises per connection (`buf_alloc`): the most guest
    /// bytes it holds for a host socket that does not take them.
    public let bufferAllocation: UInt32
    /// The largest payload accepted in one guest packet (Linux sends at most 64 KiB).
    public let maxPayload: UInt32
    /// The most connections (and host connections still sending their `CONNECT` line) at once.
    public let maxConnections: Int
    /// How long a host process's `CONNECT` waits for the guest's answer.
    public let connectTimeoutNanoseconds: UInt64
    /// How long a closing connection waits for its last guest bytes to be taken by the host
    /// socket, or for the guest's `RST` after the device shut down both directions.
    public let closeTimeoutNanoseconds: UInt64

    struct State {
        var connections: [UInt64: VsockConnection] = [:]
        var byKey: [VsockConnectionKey: UInt64] = [:]
        var handshakes: [UInt64: Handshake] = [:]
        /// Connections with packets for the guest, in turn (an id may be stale: skipped).
        var ready = FIFOQueue<UInt64>()
        /// `RST`s for guest packets that belong to no connection.
        var orphanResets = FIFOQueue<VsockPacketHeader>()
        var transmitPaused = false
        var eventPending = false
        var nextID: UInt64 = VirtioVsockDevice.firstConnectionToken
        var nextHostPort: UInt32 = VirtioVsockDevice.firstHostPort
        var timerArmed = false
        /// Connections given guest bytes in the current transmit pass, to write out after it.
        var flushes: [VsockConnection] = []
        /// The listener is out of the epoll set's watch after an `accept` failure.
        var listenerPaused = false
        var statistics = VirtioVsockStatistics()
    }

    /// A host connection still sending its `CONNECT` line.
    final class Handshake {
        let stream: VsockHostStream
        var line: [UInt8] = []
        /// When a host process that has not finished its line is closed.
        let deadline: UInt64
        init(_ stream: VsockHostStream, deadline: UInt64) {
            self.stream = stream
            self.deadline = deadline
        }
    }

    static let listenerToken: UInt64 = 0
    static let timerToken: UInt64 = 1
    static let firstConnectionToken: UInt64 = 2
    /// Host-side ports of connections host processes open are taken from 2^30 up, as Firecracker
    /// does, away from the ports host services listen on.
    static let firstHostPort: UInt32 = 1 << 30

    private let epoll: EpollSet
    private let listener: VsockHostStream
    /// The listening socket's file (the socket descriptor's own inode is another).
    private let socketFile: (device: UInt64, inode: UInt64)?
    private let timer: TimerFD
    private let scratch: ScratchBuffer
    private let state = Mutex(State())
    private let transport = TransportLink()

    /// The default ``bufferAllocation``: 1 MiB. The credit a guest streams into: with Linux's
    /// 256 KiB, a guest sending 64 KiB packets waits for credit about every packet and moves
    /// 0.45–0.5× what a Unix socket pair moves on the reference machine; with 1 MiB, 0.7×
    /// (devices-bench). Memory is taken only while a host socket is slower than its guest.
    public static let defaultBufferAllocation: UInt32 = 1 << 20
    /// The default ``maxConnections`` (Firecracker allows 1023): with the default buffer, at most
    /// 1 GiB held for host processes that stop reading.
    public static let defaultMaxConnections = 1024

    /// A device for the guest `guestCID`, listening for host processes at `hostSocketPath`
    /// (a stale socket file there is replaced; any other file is refused).
    ///
    /// - Throws: ``VirtioVsockError``: an invalid context id (below 3 or `0xffff_ffff` and above),
    ///   queue size (a power of two from 2 to 32768), buffer or payload size (from 4 KiB), or
    ///   connection limit; or the host socket, epoll set or timer that could not be made.
    public init(
        guestCID: UInt64, hostSocketPath: String, queueSize: UInt16 = 256,
        bufferAllocation: UInt32 = defaultBufferAllocation, maxPayload: UInt32 = 64 << 10,
        maxConnections: Int = defaultMaxConnections,
        connectTimeoutNanoseconds: UInt64 = 2_000_000_000, closeTimeoutNanoseconds: UInt64 = 2_000_000_000
    ) throws(VirtioVsockError) {
        guard guestCID >= 3, guestCID < 0xffff_ffff else { throw .invalidGuestCID(guestCID) }
        guard queueSize >= 2, queueSize <= 32768, queueSize & (queueSize - 1) == 0 else {
            throw .invalidQueueSize(queueSize)
        }
        guard bufferAllocation >= 4096 else { throw .invalidBufferAllocation(bufferAllocation) }
        guard maxPayload >= 4096 else { throw .invalidPayloadLimit(maxPayload) }
        guard maxConnections > 0 else { throw .invalidConnectionLimit(maxConnections) }
        self.guestCID = guestCID
        self.hostSocketPath = hostSocketPath
        self.queueSize = queueSize
        self.bufferAllocation = bufferAllocation
        self.maxPayload = maxPayload
        self.maxConnections = maxConnections
        self.connectTimeoutNanoseconds = connectTimeoutNanoseconds
        self.closeTimeoutNanoseconds = closeTimeoutNanoseconds
        do {
            epoll = try EpollSet()
            timer = try TimerFD()
            listener = VsockHostStream(try UnixSocket.listen(at: hostSocketPath))
            try epoll.add(listener.descriptor, events: .readable, token: Self.listenerToken)
            try epoll.add(timer.fileDescriptor, events: .readable, token: Self.timerToken)
        } catch {
            throw .hostSocket(error)
        }
        var made = stat()
        socketFile = lstat(hostSocketPath, &made) == 0 ? (UInt64(made.st_dev), UInt64(made.st_ino)) : nil
        scratch = ScratchBuffer(count: Int(maxPayload))
    }

    deinit {
        // Remove the listening socket's file if it is still this device's (not a newer one's).
        var there = stat()
        if let socketFile, lstat(hostSocketPath, &there) == 0, UInt64(there.st_ino) == socketFile.inode,
            UInt64(there.st_dev) == socketFile.device
        {
            unlink(hostSocketPath)
        }
    }

    /// 19, a socket device.
    public var deviceID: UInt32 { VirtioVsock.deviceID }
    /// `VERSION_1` (stream sockets only: no `VIRTIO_VSOCK_F_SEQPACKET`).
    public var deviceFeatures: UInt64 { VirtioFeature.version1 }
    /// `rx`, `tx` and `event`.
    public var queueSizeMax: [UInt16] { [queueSize, queueSize, queueSize] }
    /// All three: the device fills receive buffers when it has packets, takes transmit chains
    /// while it has room for their answers, and fills event buffers after a restore.
    public var deviceDrivenQueues: Set<Int> {
        [VirtioVsock.Queue.receive, VirtioVsock.Queue.transmit, VirtioVsock.Queue.event]
    }

    /// What the device has done so far, and its connections now.
    public var statistics: VirtioVsockStatistics {
        state.withLock { s in
            var statistics = s.statistics
            statistics.activeConnections = s.connections.count
            return statistics
        }
    }

    /// `struct virtio_vsock_config`: `guest_cid` (u64); bytes past it read as zero.
    public func readConfig(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        var config = VirtioConfigSpace(size: 8)
        config.put(guestCID, at: 0)
        config.read(offset: offset, into: data)
    }

    /// Never called: every queue is device-driven.
    public func serve(_ chain: DescriptorChain, queue: Int, memory: some GuestMemoryAccess) -> UInt32 { 0 }

    /// Keeps the transport (weakly) to take chains through.
    public func connect(to queues: any VirtioQueueAccess) {
        transport.connect(queues)
    }

    /// Transmit chains: take the guest's packets. Receive buffers: fill them with what waits
    /// (and take transmit chains again if their answers had no room). Event buffers: deliver a
    /// pending transport reset.
    public func queueNotified(_ queue: Int) {
        switch queue {
        case VirtioVsock.Queue.transmit: transmit()
        case VirtioVsock.Queue.receive:
            fillReceive()
            resumeTransmitIfPaused()
        case VirtioVsock.Queue.event: deliverEvents()
        default: break
        }
    }

    /// The driver reset the device: every connection ends (its host socket is closed; the
    /// guest that would hear of it is gone). Host processes still sending `CONNECT` stay.
    public func driverReset() {
        state.withLock { s in
            for connection in s.connections.values { closeStream(connection) }
            s.connections.removeAll()
            s.byKey.removeAll()
            s.ready.removeAll()
            s.orphanResets.removeAll()
            s.flushes.removeAll()
            s.transmitPaused = false
            s.eventPending = false
        }
    }

    /// The host side: one readable descriptor (the device's epoll set).
    public var eventSources: [DeviceEventSource] {
        [
            DeviceEventSource(name: "virtio-vsock host sockets", descriptor: epoll.descriptor, events: .readable) {
                [self] _ in serviceHost()
            }
        ]
    }

    // MARK: Guest packets

    /// Takes the guest's packets in passes of at most ``passBudget`` payload bytes: after each,
    /// what it brought is written to the host sockets and the packets it owes the guest (credit
    /// updates among them) go out, so a guest streaming data gets its credit back while it still
    /// has some, instead of once per ring.
    private func transmit() {
        guard let queues = transport.queues else { return }
        let capacity = Int(queueSize)
        while true {
            var budgetSpent = false
            var payload = 0
            queues.takeChains(queue: VirtioVsock.Queue.transmit) { chain, memory in
                state.withLock { s -> UInt32? in
                    guard s.orphanResets.count < capacity else {
                        s.transmitPaused = true
                        return nil
                    }
                    guard payload < passBudget else {
                        budgetSpent = true
                        return nil
                    }
                    let before = s.statistics.bytesFromGuest
                    handleGuestPacket(chain, memory, &s)
                    payload += Int(s.statistics.bytesFromGuest - before)
                    return 0
                }
            }
            state.withLock { flushAfterPass(&$0) }
            fillReceive()
            let again = state.withLock { s in
                guard s.transmitPaused, s.orphanResets.count < capacity else { return budgetSpent }
                s.transmitPaused = false
                return true
            }
            if !again { return }
        }
    }

    /// The most payload bytes one transmit pass takes before writing them out and answering.
    private var passBudget: Int { max(Int(maxPayload), Int(bufferAllocation / 4)) }

    /// A credit update goes to the guest once room was made and the room it knows of is at
    /// most three quarters of the buffer: a streaming guest hears of room every quarter buffer
    /// (every pass, ``passBudget``), long before it runs out.
    private var creditUpdateThreshold: UInt32 { bufferAllocation - bufferAllocation / 4 + 1 }

    private func resumeTransmitIfPaused() {
        if state.withLock({ $0.transmitPaused && $0.orphanResets.count < Int(queueSize) }) { transmit() }
    }

    private func handleGuestPacket(_ chain: DescriptorChain, _ memory: some GuestMemoryAccess, _ s: inout State) {
        var raw = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))  // 48 bytes
        let header: VsockPacketHeader
        do {
            let copied = try withUnsafeMutableBytes(of: &raw) { buffer throws(GuestMemoryError) in
                try chain.gather(from: memory, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<44]))
            }
            header = try withUnsafeBytes(of: raw) { buffer throws(VsockPacketError) in
                try VsockPacketHeader(buffer.prefix(copied))
            }
        } catch {
            s.statistics.malformedPackets += 1
            return
        }
        let key = VsockConnectionKey(hostPort: header.destinationPort, guestPort: header.sourcePort)
        let connection = header.sourceCID == guestCID ? s.byKey[key].flatMap { s.connections[$0] } : nil
        let operation: VirtioVsock.Operation
        do {
            operation = try header.validate(guestCID: guestCID, maxPayload: maxPayload)
            let present = chain.readableLength - UInt64(VirtioVsock.headerSize)
            guard UInt64(header.length) <= present else {
                throw VsockPacketError.payloadMissing(header.length, present: present)
            }
        } catch {
            s.statistics.malformedPackets += 1
            if let connection {
                reset(connection, &s)
            } else if header.sourceCID == guestCID, header.operation != VirtioVsock.Operation.reset.rawValue {
                // Answered only when it claims to be from the guest: an RST to a port of the
                // guest's for a packet from elsewhere would reset a connection it is not part of.
                owePacketlessReset(answering: header, &s)
            }
            return
        }
        if operation == .request {
            openFromGuest(header, key: key, existing: connection, &s)
            return
        }
        guard let connection else {
            if operation != .reset { owePacketlessReset(answering: header, &s) }
            return
        }
        guard connection.phase != .resetting else { return }  // its RST is on the way
        connection.credit.update(
            peerBufferAllocation: header.bufferAllocation, peerForwardCount: header.forwardCount)
        switch operation {
        case .request: return
        case .response:
            guard connection.phase == .awaitingResponse else { return reset(connection, &s) }
            connection.phase = .established
            connection.deadline = nil
            connection.preamble = Array("OK \(connection.key.hostPort)\n".utf8)
            flushToHost(connection, &s)
        case .reset:
            drop(connection, &s)
            return
        case .shutdown:
            let flags = VirtioVsock.ShutdownFlags(rawValue: header.flags)
            connection.guestShutdown.formUnion(flags)
            if connection.guestShutdown == [.send, .receive], connection.phase != .closing {
                connection.phase = .closing
                connection.deadline = monotonicNanoseconds() + closeTimeoutNanoseconds
                armTimer(&s)
            }
            flushToHost(connection, &s)
        case .readWrite:
            guard connection.phase == .established, !connection.guestShutdown.contains(.send) else {
                return reset(connection, &s)
            }
            guard connection.credit.accepts(header.length) else {
                s.statistics.creditViolations += 1
                return reset(connection, &s)
            }
            // Straight into the connection's outbox (at most its credit), written to the host
            // socket once per pass (``flushAfterPass(_:)``): one write for all the pass brought.
            let length = Int(header.length)
            let copied = connection.outbox.appendUninitialized(length) { buffer in
                (try? chain.gather(from: memory, skipping: UInt64(VirtioVsock.headerSize), into: buffer)) ?? 0
            }
            guard copied == length else { return reset(connection, &s) }
            connection.credit.received(header.length)
            s.statistics.bytesFromGuest += UInt64(length)
            if !connection.flushAfterPass {
                connection.flushAfterPass = true
                s.flushes.append(connection)
            }
        case .creditUpdate: break
        case .creditRequest: connection.owed.insert(.creditUpdate)
        }
        if s.connections[connection.id] != nil { settle(connection, &s) }
    }

    /// A guest `REQUEST` to host port `key.hostPort`: connect to `<path>_<port>`.
    private func openFromGuest(
        _ header: VsockPacketHeader, key: VsockConnectionKey, existing: VsockConnection?, _ s: inout State
    ) {
        if let existing {
            // A second request for a live connection: the guest lost track of it. End it; the
            // RST it is owed answers both.
            if existing.phase != .resetting { reset(existing, &s) }
            return
        }
        guard s.connections.count + s.handshakes.count < maxConnections else {
            s.statistics.refusedConnections += 1
            return owePacketlessReset(answering: header, &s)
        }
        let stream: VsockHostStream
        do {
            stream = VsockHostStream(try UnixSocket.connect(to: "\(hostSocketPath)_\(key.hostPort)"))
        } catch {
            s.statistics.refusedConnections += 1
            return owePacketlessReset(answering: header, &s)
        }
        let id = s.nextID
        guard (try? epoll.add(stream.descriptor, events: Self.streamEvents, token: id)) != nil else {
            s.statistics.refusedConnections += 1
            return owePacketlessReset(answering: header, &s)
        }
        s.nextID += 1
        let connection = VsockConnection(
            id: id, key: key, phase: .established, stream: stream, bufferAllocation: bufferAllocation)
        connection.credit.update(peerBufferAllocation: header.bufferAllocation, peerForwardCount: header.forwardCount)
        connection.owed = .response
        connection.hostReadable = true
        s.connections[id] = connection
        s.byKey[key] = id
        s.statistics.connectionsFromGuest += 1
        settle(connection, &s)
    }

    /// Writes out what a transmit pass gave each connection, then applies what that changes
    /// (room made: a credit update; a closing connection drained: its end).
    private func flushAfterPass(_ s: inout State) {
        let connections = s.flushes
        s.flushes.removeAll(keepingCapacity: true)
        for connection in connections {
            connection.flushAfterPass = false
            guard s.connections[connection.id] === connection else { continue }
            flushToHost(connection, &s)
            if s.connections[connection.id] != nil { settle(connection, &s) }
        }
    }

    /// Queues an `RST` answering a guest packet that has no connection (bounded: see
    /// ``transmit()``).
    private func owePacketlessReset(answering header: VsockPacketHeader, _ s: inout State) {
        s.orphanResets.append(
            packet(
                .reset, from: header.destinationPort, to: header.sourcePort, credit: VsockCredit(bufferAllocation: 0)))
    }

    // MARK: Host sockets

    /// Edge-triggered: a connection's socket is read and written until `EAGAIN`.
    static let streamEvents: EventLoop.Events = [.readable, .writable, .peerShutdownWriting, .edgeTriggered]

    private func serviceHost() {
        var ready: [(UInt64, EventLoop.Events)] = []
        repeat {
            ready.removeAll(keepingCapacity: true)
            _ = try? epoll.wait(timeoutMilliseconds: 0) { ready.append(($0, $1)) }
            state.withLock { s in
                for (token, events) in ready { handleHostEvent(token, events, &s) }
            }
            fillReceive()
            resumeTransmitIfPaused()
        } while ready.count == EpollSet.batch
    }

    private func handleHostEvent(_ token: UInt64, _ events: EventLoop.Events, _ s: inout State) {
        switch token {
        case Self.listenerToken: acceptHostConnections(&s)
        case Self.timerToken:
            _ = try? timer.read()
            expireDeadlines(&s)
        default:
            if s.handshakes[token] != nil {
                readHandshake(token, &s)
            } else if let connection = s.connections[token], connection.stream != nil {
                if events.contains(.error) { return reset(connection, &s) }
                if events.contains(.hangUp) { connection.hostGone = true }
                if !events.isDisjoint(with: [.readable, .peerShutdownWriting, .hangUp]) {
                    connection.hostReadable = true
                }
                flushToHost(connection, &s)
                if s.connections[connection.id] != nil { settle(connection, &s) }
            }
        }
    }

    private func acceptHostConnections(_ s: inout State) {
        while true {
            let accepted: OwnedDescriptor?
            do { accepted = try UnixSocket.accept(listener.descriptor) } catch {
                // Out of descriptors (EMFILE, ENFILE): the connection waits in the backlog. Stop
                // watching the listener — it stays readable, and the loop would spin — until
                // the timer's next tick.
                if (try? epoll.modify(listener.descriptor, events: [], token: Self.listenerToken)) != nil {
                    s.listenerPaused = true
                    armTimer(&s)
                }
                return
            }
            guard let accepted else { return }
            let stream = VsockHostStream(accepted)
            guard s.connections.count + s.handshakes.count < maxConnections else {
                s.statistics.refusedConnections += 1
                continue  // closed as `stream` goes
            }
            let id = s.nextID
            guard (try? epoll.add(stream.descriptor, events: Self.streamEvents, token: id)) != nil else { continue }
            s.nextID += 1
            s.handshakes[id] = Handshake(stream, deadline: monotonicNanoseconds() + connectTimeoutNanoseconds)
            armTimer(&s)
            readHandshake(id, &s)
        }
    }

    /// Reads a host connection's `CONNECT <port>\n` a byte at a time (what follows the line is
    /// the connection's data), then asks the guest to accept it.
    private func readHandshake(_ id: UInt64, _ s: inout State) {
        guard let handshake = s.handshakes[id] else { return }
        var byte: UInt8 = 0
        while true {
            let result: Int?
            do {
                result = try withUnsafeMutableBytes(of: &byte) { buffer throws(SystemCallError) in
                    try SystemCall.readSome(handshake.stream.descriptor, into: buffer, "read")
                }
            } catch {
                return abandon(handshake, id, &s)
            }
            guard let n = result else { return }  // EAGAIN: the rest later
            guard n == 1 else { return abandon(handshake, id, &s) }  // closed before the line ended
            if byte == UInt8(ascii: "\n") { break }
            handshake.line.append(byte)
            if handshake.line.count >= VsockHostHandshake.maximumLength { return abandon(handshake, id, &s) }
        }
        s.handshakes[id] = nil
        guard let guestPort = VsockHostHandshake.port(in: handshake.line) else {
            s.statistics.refusedConnections += 1
            return abandon(handshake, id, &s)
        }
        let key = VsockConnectionKey(hostPort: allocateHostPort(guestPort: guestPort, &s), guestPort: guestPort)
        let connection = VsockConnection(
            id: id, key: key, phase: .awaitingResponse, stream: handshake.stream, bufferAllocation: bufferAllocation)
        connection.owed = .request
        connection.hostReadable = true  // bytes may follow the line
        connection.deadline = monotonicNanoseconds() + connectTimeoutNanoseconds
        s.connections[id] = connection
        s.byKey[key] = id
        s.statistics.connectionsFromHost += 1
        armTimer(&s)
        settle(connection, &s)
    }

    private func abandon(_ handshake: Handshake, _ id: UInt64, _ s: inout State) {
        try? epoll.remove(handshake.stream.descriptor)
        s.handshakes[id] = nil
    }

    private func allocateHostPort(guestPort: UInt32, _ s: inout State) -> UInt32 {
        while true {
            let port = s.nextHostPort
            s.nextHostPort = port == .max ? Self.firstHostPort : port + 1
            if s.byKey[VsockConnectionKey(hostPort: port, guestPort: guestPort)] == nil { return port }
        }
    }

    /// Writes what waits for the host socket (the `OK` line, then the guest's bytes) until it
    /// takes no more; after the guest's `SHUTDOWN SEND`, shuts its writing side once all is out.
    private func flushToHost(_ connection: VsockConnection, _ s: inout State) {
        guard let stream = connection.stream else { return }
        do {
            while !connection.preamble.isEmpty {
                let written = try connection.preamble.withUnsafeBytes { bytes throws(SystemCallError) in
                    try UnixSocket.sendSome(stream.descriptor, bytes, "send")
                }
                guard let written else { return }
                connection.preamble.removeFirst(written)
            }
            while !connection.outbox.isEmpty {
                let written = try connection.outbox.withFirstBytes { bytes in
                    Result { () throws(SystemCallError) in try UnixSocket.sendSome(stream.descriptor, bytes, "send") }
                }.get()
                guard let written else { return }
                connection.outbox.removeFirst(written)
                connection.credit.forwarded(UInt32(written))
            }
        } catch {
            // The host process is gone with guest bytes undelivered: the guest must know.
            connection.hostGone = true
            return reset(connection, &s)
        }
        if connection.credit.creditUpdateDue(threshold: creditUpdateThreshold) { connection.owed.insert(.creditUpdate) }
        if connection.guestShutdown.contains(.send) && !connection.hostWritingShut {
            connection.hostWritingShut = true
            try? UnixSocket.shutdownWriting(stream.descriptor)
        }
    }

    /// Applies the rules that end a connection and queues it if it has packets for the guest.
    private func settle(_ connection: VsockConnection, _ s: inout State) {
        let drained = connection.outbox.isEmpty && connection.preamble.isEmpty
        switch connection.phase {
        case .resetting: break
        case .closing:
            // The guest shut down both directions: once its last bytes are out, reset.
            if drained || connection.hostGone { finish(connection, &s) }
        case .established:
            // Both sides have said all they will: the guest shut its sending side, the host
            // process's bytes were read to the end, the guest's were all written.
            if connection.hostEnded && connection.guestShutdown.contains(.send) && drained {
                finish(connection, &s)
            } else if connection.hostGone && connection.guestShutdown.contains(.receive) && !connection.hostEnded {
                // Nothing will be read for a guest that receives no more: the host side ended.
                hostEnded(connection, &s)
            } else if connection.hostGone && connection.hostEnded
                && !connection.hostShutdown.union(connection.shutdownFlags).contains(.receive)
            {
                // The host process closed after its last byte: it receives nothing either.
                oweShutdown([.send, .receive], connection, &s)
            }
        case .awaitingResponse:
            if connection.hostGone { finish(connection, &s) }
        }
        if connection.phase == .resetting || connection.hasPacketForGuest { enqueue(connection, &s) }
    }

    private func hostEnded(_ connection: VsockConnection, _ s: inout State) {
        connection.hostEnded = true
        connection.hostReadable = false
        if connection.guestShutdown.contains(.send) && connection.outbox.isEmpty {
            return finish(connection, &s)
        }
        oweShutdown(connection.hostGone ? [.send, .receive] : [.send], connection, &s)
    }

    private func oweShutdown(_ flags: VirtioVsock.ShutdownFlags, _ connection: VsockConnection, _ s: inout State) {
        connection.shutdownFlags.formUnion(flags)
        connection.owed.insert(.shutdown)
        if connection.shutdownFlags == [.send, .receive] {
            // The guest answers a full shutdown with RST; give up waiting after the timeout.
            connection.deadline = monotonicNanoseconds() + closeTimeoutNanoseconds
            armTimer(&s)
        }
    }

    /// Ends a connection from the device's side: its socket is closed now, an `RST` is owed.
    private func finish(_ connection: VsockConnection, _ s: inout State) {
        closeStream(connection)
        connection.outbox.removeAll()
        connection.preamble = []
        connection.phase = .resetting
        connection.owed = .reset
        connection.deadline = nil
        enqueue(connection, &s)
    }

    /// Resets a connection for a fault (a malformed or out-of-credit packet, a protocol
    /// violation, a host socket error).
    private func reset(_ connection: VsockConnection, _ s: inout State) {
        s.statistics.connectionsReset += 1
        finish(connection, &s)
    }

    /// Forgets a connection (the guest reset it, or its `RST` was sent).
    private func drop(_ connection: VsockConnection, _ s: inout State) {
        closeStream(connection)
        s.connections[connection.id] = nil
        if s.byKey[connection.key] == connection.id { s.byKey[connection.key] = nil }
    }

    private func closeStream(_ connection: VsockConnection) {
        guard let stream = connection.stream else { return }
        try? epoll.remove(stream.descriptor)
        connection.stream = nil
    }

    private func enqueue(_ connection: VsockConnection, _ s: inout State) {
        guard !connection.queued else { return }
        connection.queued = true
        s.ready.append(connection.id)
    }

    // MARK: Timeouts

    private func armTimer(_ s: inout State) {
        guard !s.timerArmed else { return }
        let period = max(10_000_000, min(connectTimeoutNanoseconds, closeTimeoutNanoseconds) / 4)
        s.timerArmed = (try? timer.arm(after: period, interval: period)) != nil
    }

    private func expireDeadlines(_ s: inout State) {
        let now = monotonicNanoseconds()
        var waiting = false
        if s.listenerPaused {
            s.listenerPaused =
                (try? epoll.modify(listener.descriptor, events: .readable, token: Self.listenerToken)) == nil
            waiting = s.listenerPaused
        }
        for (id, handshake) in s.handshakes where handshake.deadline <= now {
            s.statistics.timedOut += 1
            abandon(handshake, id, &s)
        }
        waiting = waiting || !s.handshakes.isEmpty
        for connection in s.connections.values {
            guard let deadline = connection.deadline else { continue }
            guard deadline <= now else {
                waiting = true
                continue
            }
            s.statistics.timedOut += 1
            finish(connection, &s)
        }
        if !waiting {
            try? timer.disarm()
            s.timerArmed = false
        }
    }

    // MARK: Packets for the guest

    private func fillReceive() {
        guard let queues = transport.queues else { return }
        while true {
            var exhausted = false
            let taken = queues.takeChains(queue: VirtioVsock.Queue.receive) { chain, memory in
                state.withLock { s -> UInt32? in
                    if let length = nextPacket(into: chain, memory, &s) { return length }
                    exhausted = true
                    return nil
                }
            }
            if taken == 0 || exhausted { return }
        }
    }

    /// Writes the next packet for the guest into `chain`; `nil` when there is none.
    private func nextPacket(into chain: DescriptorChain, _ memory: some GuestMemoryAccess, _ s: inout State)
        -> UInt32?
    {
        guard chain.writableLength >= UInt64(VirtioVsock.headerSize) else {
            s.statistics.malformedPackets += 1  // a receive buffer too small for any packet
            return 0
        }
        if let reset = s.orphanResets.popFirst() {
            s.statistics.resetsSent += 1
            return write(reset, payload: 0, into: chain, memory)
        }
        // Each connection is asked once per chain: one with nothing that fits this chain (data
        // for a buffer too small to hold any) waits, queued again, for the next.
        var waiting: [VsockConnection] = []
        defer { for connection in waiting { enqueue(connection, &s) } }
        while let id = s.ready.popFirst() {
            guard let connection = s.connections[id] else { continue }
            connection.queued = false
            let length = packet(for: connection, into: chain, memory, &s)
            if s.connections[id] != nil, connection.hasPacketForGuest {
                if length == nil { waiting.append(connection) } else { enqueue(connection, &s) }
            }
            if let length { return length }
        }
        return nil
    }

    /// The connection's next packet, in the order the protocol needs: an `RST` ends it; a
    /// `REQUEST` or `RESPONSE` opens it; data comes before the `SHUTDOWN` that follows it.
    private func packet(
        for connection: VsockConnection, into chain: DescriptorChain, _ memory: some GuestMemoryAccess,
        _ s: inout State
    ) -> UInt32? {
        if connection.owed.contains(.reset) { return sendReset(connection, chain, memory, &s) }
        for operation in [VsockOwedPackets.request, .response] where connection.owed.contains(operation) {
            connection.owed.remove(operation)
            return control(operation == .request ? .request : .response, connection, chain, memory)
        }
        if connection.canSendData, let length = data(connection, chain, memory, &s) { return length }
        if connection.owed.contains(.reset) { return sendReset(connection, chain, memory, &s) }
        if connection.owed.contains(.creditUpdate) { return control(.creditUpdate, connection, chain, memory) }
        if connection.owed.contains(.shutdown) {
            connection.owed.remove(.shutdown)
            connection.hostShutdown.formUnion(connection.shutdownFlags)
            return control(.shutdown, connection, chain, memory, flags: connection.shutdownFlags.rawValue)
        }
        return nil
    }

    private func sendReset(
        _ connection: VsockConnection, _ chain: DescriptorChain, _ memory: some GuestMemoryAccess, _ s: inout State
    ) -> UInt32 {
        drop(connection, &s)
        s.statistics.resetsSent += 1
        return control(.reset, connection, chain, memory)
    }

    /// Reads host bytes into a data packet, as many as the guest's credit, the buffer and the
    /// payload limit allow; `nil` when the socket had none (or ended, or failed: the
    /// connection's state says what it owes instead).
    private func data(
        _ connection: VsockConnection, _ chain: DescriptorChain, _ memory: some GuestMemoryAccess, _ s: inout State
    ) -> UInt32? {
        guard let stream = connection.stream else { return nil }
        let room = min(
            UInt64(connection.credit.peerFree), chain.writableLength - UInt64(VirtioVsock.headerSize),
            UInt64(maxPayload))
        guard room > 0 else { return nil }  // a receive buffer with room for the header only
        let buffer = UnsafeMutableRawBufferPointer(rebasing: scratch.bytes[..<Int(room)])
        let read: Int?
        do { read = try SystemCall.readSome(stream.descriptor, into: buffer, "read") } catch {
            connection.hostGone = true
            reset(connection, &s)
            return nil
        }
        guard let read else {
            connection.hostReadable = false
            return nil
        }
        guard read > 0 else {
            hostEnded(connection, &s)
            return nil
        }
        connection.owed.remove(.creditUpdate)  // the header carries the credit
        var header = packet(
            .readWrite, from: connection.key.hostPort, to: connection.key.guestPort, credit: connection.credit)
        header.length = UInt32(read)
        connection.credit.advertised()
        connection.credit.sent(UInt32(read))
        s.statistics.bytesToGuest += UInt64(read)
        _ = try? chain.scatter(
            UnsafeRawBufferPointer(rebasing: buffer[..<read]), into: memory, at: UInt64(VirtioVsock.headerSize))
        return write(header, payload: read, into: chain, memory)
    }

    private func control(
        _ operation: VirtioVsock.Operation, _ connection: VsockConnection, _ chain: DescriptorChain,
        _ memory: some GuestMemoryAccess, flags: UInt32 = 0
    ) -> UInt32 {
        connection.owed.remove(.creditUpdate)
        var header = packet(
            operation, from: connection.key.hostPort, to: connection.key.guestPort, credit: connection.credit)
        header.flags = flags
        connection.credit.advertised()
        return write(header, payload: 0, into: chain, memory)
    }

    private func packet(
        _ operation: VirtioVsock.Operation, from hostPort: UInt32, to guestPort: UInt32, credit: VsockCredit
    )
        -> VsockPacketHeader
    {
        VsockPacketHeader(
            sourceCID: VirtioVsock.hostCID, destinationCID: guestCID, sourcePort: hostPort, destinationPort: guestPort,
            operation: operation.rawValue, bufferAllocation: credit.bufferAllocation,
            forwardCount: credit.forwardCount)
    }

    private func write(
        _ header: VsockPacketHeader, payload: Int, into chain: DescriptorChain, _ memory: some GuestMemoryAccess
    ) -> UInt32 {
        var raw = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))  // 48 bytes
        withUnsafeMutableBytes(of: &raw) { buffer in
            header.store(into: buffer)
            _ = try? chain.scatter(UnsafeRawBufferPointer(rebasing: buffer[..<VirtioVsock.headerSize]), into: memory)
        }
        return UInt32(VirtioVsock.headerSize + payload)
    }

    // MARK: Events

    /// Owes the guest `VIRTIO_VSOCK_EVENT_TRANSPORT_RESET`, delivered at once if it posted an
    /// event buffer.
    func signalTransportReset() {
        state.withLock { $0.eventPending = true }
        deliverEvents()
    }

    private func deliverEvents() {
        guard let queues = transport.queues else { return }
        queues.takeChains(queue: VirtioVsock.Queue.event) { chain, memory in
            state.withLock { s -> UInt32? in
                guard s.eventPending else { return nil }
                s.eventPending = false
                guard chain.writableLength >= 4 else { return 0 }
                _ = withUnsafeBytes(of: VirtioVsock.transportResetEvent.littleEndian) {
                    try? chain.scatter($0, into: memory)
                }
                return 4
            }
        }
    }
}

/// What a ``VirtioVsockDevice`` has done, and its connections now.
public struct VirtioVsockStatistics: Sendable, Hashable {
    /// Connections the guest opened to host ports.
    public var connectionsFromGuest: UInt64 = 0
    /// Connections host processes opened to guest ports.
    public var connectionsFromHost: UInt64 = 0
    /// Connections refused: nothing listening at a guest's host port, a malformed `CONNECT`
    /// line, the connection limit reached.
    public var refusedConnections: UInt64 = 0
    /// Connections reset for a fault: a malformed or out-of-credit guest packet, a protocol
    /// violation, a host socket that failed with bytes undelivered.
    public var connectionsReset: UInt64 = 0
    /// Connections ended by a timeout (an unanswered `CONNECT`, a close that did not finish).
    public var timedOut: UInt64 = 0
    /// Guest packets refused as malformed (and receive buffers too small for a packet).
    public var malformedPackets: UInt64 = 0
    /// Guest packets that exceeded the device's credit.
    public var creditViolations: UInt64 = 0
    /// `RST` packets sent to the guest.
    public var resetsSent: UInt64 = 0
    /// Payload bytes sent to the guest.
    public var bytesToGuest: UInt64 = 0
    /// Payload bytes received from the guest.
    public var bytesFromGuest: UInt64 = 0
    /// Connections open now.
    public var activeConnections: Int = 0
}

/// Why a ``VirtioVsockDevice`` cannot be made.
public enum VirtioVsockError: Error, Hashable, Sendable {
    /// A guest context id below 3 (0–2 are reserved) or of `0xffff_ffff` and above.
    case invalidGuestCID(UInt64)
    /// A queue size that is not a power of two from 2 to 32768.
    case invalidQueueSize(UInt16)
    /// A per-connection buffer below 4 KiB.
    case invalidBufferAllocation(UInt32)
    /// A payload limit below 4 KiB.
    case invalidPayloadLimit(UInt32)
    /// A connection limit that is not positive.
    case invalidConnectionLimit(Int)
    /// The host socket (at the path, named in the error), epoll set or timer could not be made.
    case hostSocket(SystemCallError)
}
