import Devices
import Foundation
import GuestMemory
import HostSupport
import SystemPackage
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// virtio-vsock connects guest ports and host processes through Unix sockets with the
/// protocol's whole state machine: a connection opens from either side or is refused with `RST`,
/// carries bytes both ways in order within each side's credit, closes from either side or both
/// at once, and ends with `RST` when one side vanishes or the guest breaks the protocol — each
/// fault ending only its own connection, and every host descriptor closed when its connection ends.
@Suite(.usesKVM) struct VsockDeviceTests {
    let hostPort: UInt32 = 5000

    /// A device for guest CID 3 whose host socket is in `dir`, and a listener at `<path>_5000`.
    func setUp(
        _ dir: TemporaryDirectory, listen: Bool = true, bufferAllocation: UInt32 = 256 << 10,
        queueSize: UInt16 = 64, receiveBuffers: Int = 32, connectTimeout: UInt64 = 2_000_000_000,
        closeTimeout: UInt64 = 2_000_000_000
    ) throws -> (VsockTestGuest, HostEnd?) {
        let path = dir.file("v.sock")
        let listener = listen ? HostEnd(try UnixSocket.listen(at: "\(path)_\(hostPort)")) : nil
        let device = try VirtioVsockDevice(
            guestCID: VsockTestGuest.cid, hostSocketPath: path, queueSize: queueSize,
            bufferAllocation: bufferAllocation, connectTimeoutNanoseconds: connectTimeout,
            closeTimeoutNanoseconds: closeTimeout)
        return (try VsockTestGuest(device: device, queueSize: queueSize, receiveBuffers: receiveBuffers), listener)
    }

    /// Opens a connection from guest port `guestPort` to the listener and accepts it.
    func open(_ guest: VsockTestGuest, _ guestPort: UInt32, _ listener: HostEnd) throws -> HostEnd {
        try guest.send(.request, from: guestPort, to: hostPort)
        let response = try guest.next(.response, on: guestPort)
        #expect(response.header.sourcePort == hostPort)
        #expect(response.header.sourceCID == VirtioVsock.hostCID)
        #expect(response.header.destinationCID == VsockTestGuest.cid)
        #expect(response.header.bufferAllocation == guest.device.bufferAllocation)
        return try VsockHost.accept(listener.raw)
    }

    // MARK: Opening

    @Test func theConfigurationSpaceHoldsTheGuestCID() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false)
        #expect(guest.driver.readConfig(UInt64.self, at: 0) == VsockTestGuest.cid)
        // Device-specific bits are 0–23: none is offered (stream only, no SEQPACKET).
        #expect(guest.driver.deviceFeatures & VirtioFeature.version1 != 0)
        #expect(guest.driver.deviceFeatures & 0xff_ffff == 0)
    }

    @Test func aGuestConnectionCarriesBytesBothWaysAndClosesWithReset() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        let host = try open(guest, 1024, try #require(listener))
        // Guest → host, in two descriptors (header and payload apart, as Linux posts them).
        let message = Array("hello from the guest".utf8)
        try guest.send(guest.header(.readWrite, from: 1024, to: hostPort), payload: message, split: true)
        #expect(try VsockHost.read(message.count, from: host.raw).bytes == message)
        // Host → guest: 100 KiB, more than one receive buffer, in order.
        let reply = (0..<(100 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try VsockHost.write(reply, to: host.raw)
        #expect(try guest.receiveData(reply.count, on: 1024) == reply)
        // The guest closes both directions: the device answers RST and the host reads the end.
        try guest.send(.shutdown, from: 1024, to: hostPort, flags: 3)
        try guest.next(.reset, on: 1024)
        try VsockHost.waitForEnd(of: host.raw)
        #expect(guest.device.statistics.activeConnections == 0)
        #expect(guest.device.statistics.bytesFromGuest == UInt64(message.count))
        #expect(guest.device.statistics.bytesToGuest == UInt64(reply.count))
    }

    @Test func aConnectionToAPortNobodyListensOnIsRefused() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false)
        try guest.send(.request, from: 1024, to: 7777)
        let reset = try guest.next(.reset, on: 1024)
        #expect(reset.header.sourcePort == 7777)
        #expect(guest.device.statistics.refusedConnections == 1)
        #expect(guest.device.statistics.activeConnections == 0)
    }

    @Test func aHostProcessConnectsToAGuestPort() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false)
        let host = try VsockHost.connect(to: dir.file("v.sock"), port: 52)
        let request = try guest.next(.request, on: 52)
        let local = request.header.sourcePort
        #expect(local >= 1 << 30, "host-side ports of host-opened connections come from 2^30 up")
        try guest.send(.response, from: 52, to: local)
        let ok = try VsockHost.read("OK \(local)\n".utf8.count, from: host.raw)
        #expect(String(decoding: ok.bytes, as: UTF8.self) == "OK \(local)\n")
        // Both ways.
        try VsockHost.write(Array("ping".utf8), to: host.raw)
        #expect(try guest.receiveData(4, on: 52) == Array("ping".utf8))
        try guest.send(.readWrite, from: 52, to: local, payload: Array("pong".utf8))
        #expect(try VsockHost.read(4, from: host.raw).bytes == Array("pong".utf8))
        // The host process closes: the guest hears SHUTDOWN of both directions, answers RST.
        host.close()
        let shutdown = try guest.next(.shutdown, on: 52)
        #expect(shutdown.header.flags == 3)
        try guest.send(.reset, from: 52, to: local)
        try guest.sync()
        #expect(guest.device.statistics.activeConnections == 0)
        #expect(guest.device.statistics.connectionsFromHost == 1)
    }

    @Test func bytesAHostProcessSendsRightAfterItsConnectLineAreKept() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false)
        let host = HostEnd(try UnixSocket.connect(to: dir.file("v.sock")))
        try VsockHost.write(Array("CONNECT 52\nearly bytes".utf8), to: host.raw)
        let request = try guest.next(.request, on: 52)
        try guest.send(.response, from: 52, to: request.header.sourcePort)
        #expect(try guest.receiveData(11, on: 52) == Array("early bytes".utf8))
    }

    @Test func aGuestThatRefusesAHostConnectionClosesIt() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false)
        let host = try VsockHost.connect(to: dir.file("v.sock"), port: 52)
        let request = try guest.next(.request, on: 52)
        try guest.send(.reset, from: 52, to: request.header.sourcePort)
        try VsockHost.waitForEnd(of: host.raw)
        #expect(guest.device.statistics.activeConnections == 0)
    }

    @Test func anUnansweredHostConnectionTimesOut() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false, connectTimeout: 100_000_000)
        let host = try VsockHost.connect(to: dir.file("v.sock"), port: 52)
        let request = try guest.next(.request, on: 52)
        // The guest never answers: the device gives up, tells the guest, closes the socket.
        try guest.next(.reset, on: 52)
        try VsockHost.waitForEnd(of: host.raw)
        #expect(guest.device.statistics.timedOut == 1)
        // A late answer meets no connection: answered RST, nothing else happens.
        try guest.send(.response, from: 52, to: request.header.sourcePort)
        try guest.next(.reset, on: 52)
    }

    @Test(arguments: [
        "CONNECT\n", "CONNECT x\n", "connect 52\n", "CONNECT 4294967296\n", "CONNECT 52 \n",
        "CONNECT 000000000000000000000000052\n", "",
    ])
    func aMalformedConnectLineClosesTheHostConnection(_ line: String) throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false)
        let host = HostEnd(try UnixSocket.connect(to: dir.file("v.sock")))
        // The empty case: the host closes its writing side before any line.
        if line.isEmpty {
            try UnixSocket.shutdownWriting(host.raw)
        } else {
            try VsockHost.write(Array(line.utf8), to: host.raw)
        }
        try VsockHost.waitForEnd(of: host.raw)
        try guest.sync()
        #expect(try guest.take(on: 52).isEmpty, "the guest hears nothing of it")
    }

    @Test func aHostProcessThatNeverFinishesItsConnectLineIsClosed() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false, connectTimeout: 100_000_000)
        let host = HostEnd(try UnixSocket.connect(to: dir.file("v.sock")))
        try VsockHost.write(Array("CONNECT 5".utf8), to: host.raw)
        // No newline ever: the device closes it after the connect timeout.
        try VsockHost.waitForEnd(of: host.raw)
        #expect(guest.device.statistics.timedOut == 1)
        #expect(try guest.take(on: 5).isEmpty)
    }

    // MARK: Closing

    @Test func eachDirectionShutsDownOnItsOwn() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        let host = try open(guest, 1024, try #require(listener))
        try guest.send(.readWrite, from: 1024, to: hostPort, payload: Array("last words".utf8))
        // The guest will send no more: the host reads its bytes, then the end…
        try guest.send(.shutdown, from: 1024, to: hostPort, flags: VirtioVsock.ShutdownFlags.send.rawValue)
        let got = try VsockHost.read(1 << 20, from: host.raw)
        #expect(got.bytes == Array("last words".utf8) && got.ended)
        // …and still writes to the guest, which still receives.
        try VsockHost.write(Array("reply".utf8), to: host.raw)
        #expect(try guest.receiveData(5, on: 1024) == Array("reply".utf8))
        // The host closes: both sides have said all: the connection ends with RST.
        host.close()
        try guest.next(.reset, on: 1024)
        #expect(guest.device.statistics.activeConnections == 0)
    }

    @Test func theHostShuttingItsWritingSideSendsShutdownSend() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        let host = try open(guest, 1024, try #require(listener))
        try VsockHost.write(Array("bye".utf8), to: host.raw)
        try UnixSocket.shutdownWriting(host.raw)
        #expect(try guest.receiveData(3, on: 1024) == Array("bye".utf8))
        let shutdown = try guest.next(.shutdown, on: 1024)
        #expect(shutdown.header.flags == VirtioVsock.ShutdownFlags.send.rawValue)
        // The guest can still send; the host still reads.
        try guest.send(.readWrite, from: 1024, to: hostPort, payload: Array("still here".utf8))
        #expect(try VsockHost.read(10, from: host.raw).bytes == Array("still here".utf8))
    }

    @Test func bothSidesClosingAtOnceEndTheConnectionOnce() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        for port in UInt32(2000)..<2050 {
            let host = try open(guest, port, try #require(listener))
            // The host closes and the guest shuts down both directions without waiting for the
            // other: whatever the order the device sees them in, exactly one RST ends it.
            host.close()
            try guest.send(.shutdown, from: port, to: hostPort, flags: 3)
        }
        try guest.driver.wait {
            try guest.collect()
            return guest.device.statistics.activeConnections == 0
        }
        try guest.sync()
        // A connection that saw the host's close first owes the guest a SHUTDOWN and waits for
        // the guest's RST; the guest's own full shutdown ends it with the device's RST.
        try guest.collect()
        let byPort = Dictionary(grouping: guest.inbox, by: { $0.header.destinationPort })
        for port in UInt32(2000)..<2050 {
            let packets = byPort[port] ?? []
            #expect(
                packets.filter { $0.header.operation == VirtioVsock.Operation.reset.rawValue }.count == 1,
                "port \(port): \(packets.map { guest.describe($0.header) })")
        }
        #expect(guest.device.statistics.activeConnections == 0)
    }

    @Test func aHostProcessThatVanishesWithGuestBytesPendingResetsTheConnection() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        let host = try open(guest, 1024, try #require(listener))
        host.close()
        let shutdown = try guest.next(.shutdown, on: 1024)
        #expect(shutdown.header.flags == 3, "the host process is gone: it neither sends nor receives")
        // A guest that writes anyway is reset (its bytes cannot be delivered).
        try guest.send(.readWrite, from: 1024, to: hostPort, payload: [1, 2, 3])
        try guest.next(.reset, on: 1024)
        #expect(guest.device.statistics.activeConnections == 0)
    }

    @Test func aGuestThatVanishesClosesEveryHostSocket() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        let hosts = try (UInt32(3000)..<3010).map { try open(guest, $0, try #require(listener)) }
        // The driver resets the device (a guest reboot): every host socket reads its end.
        guest.driver.writeRegister(VirtioMMIORegister.status, 0)
        for host in hosts { try VsockHost.waitForEnd(of: host.raw) }
        #expect(guest.device.statistics.activeConnections == 0)
    }

    @Test func aFullShutdownTheGuestNeverAnswersTimesOut() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir, closeTimeout: 100_000_000)
        let host = try open(guest, 1024, try #require(listener))
        host.close()
        try guest.next(.shutdown, on: 1024)
        // No RST from the guest: the device sends its own after the close timeout.
        try guest.next(.reset, on: 1024)
        #expect(guest.device.statistics.timedOut == 1)
        #expect(guest.device.statistics.activeConnections == 0)
    }

    // MARK: Credit

    @Test func theDeviceNeverSendsMoreThanTheGuestsCreditAndResumesOnAnUpdate() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        guest.bufferAllocation = 8192
        let host = try open(guest, 1024, try #require(listener))
        let data = (0..<(32 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try VsockHost.write(data, to: host.raw)
        // Exactly the guest's 8 KiB buffer arrives, then nothing while it consumes nothing.
        var received = try guest.receiveData(8192, on: 1024)
        #expect(received == Array(data[..<8192]))
        guest.forwardCount[1024] = 0
        try guest.sync()
        #expect(try guest.take(on: 1024).isEmpty, "no byte beyond the guest's credit")
        // The guest consumed it all and says so: the rest comes, within credit each time.
        while received.count < data.count {
            guest.forwardCount[1024] = UInt32(received.count)
            try guest.send(.creditUpdate, from: 1024, to: hostPort)
            let chunk = try guest.receiveData(min(8192, data.count - received.count), on: 1024)
            #expect(chunk.count <= 8192)
            received += chunk
        }
        #expect(received == data)
    }

    @Test func theDeviceTellsTheGuestOfRoomItMadeAndAGuestBeyondItsCreditIsReset() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir, bufferAllocation: 4096)
        let host = try open(guest, 1024, try #require(listener))
        // Filling the device's 4 KiB: once the host socket took it, the device says so.
        let first = [UInt8](repeating: 1, count: 4096)
        try guest.send(.readWrite, from: 1024, to: hostPort, payload: first)
        let update = try guest.next(.creditUpdate, on: 1024)
        #expect(update.header.forwardCount == 4096 && update.header.bufferAllocation == 4096)
        #expect(try VsockHost.read(4096, from: host.raw).bytes == first)
        // A credit request is answered with the current credit.
        try guest.send(.creditRequest, from: 1024, to: hostPort)
        #expect(try guest.next(.creditUpdate, on: 1024).header.forwardCount == 4096)
        // 8 KiB at once is more than the device's buffer: that connection is reset.
        try guest.send(.readWrite, from: 1024, to: hostPort, payload: [UInt8](repeating: 2, count: 8192))
        try guest.next(.reset, on: 1024)
        try VsockHost.waitForEnd(of: host.raw)
        #expect(guest.device.statistics.creditViolations == 1)
    }

    @Test func aHostSocketThatTakesNothingHoldsTheGuestAtItsCredit() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir, bufferAllocation: 64 << 10)
        let host = try open(guest, 1024, try #require(listener))
        // The host reads nothing. The guest sends within the device's credit as advertised by
        // credit updates: once the socket's buffer is full, updates stop, and the guest stops.
        var sent = 0
        var peerForward: UInt32 = 0
        let chunk = [UInt8](repeating: 9, count: 4096)
        while sent - Int(peerForward) + chunk.count <= 64 << 10 {
            try guest.send(.readWrite, from: 1024, to: hostPort, payload: chunk)
            sent += chunk.count
            try guest.sync()
            for packet in try guest.take(on: 1024)
            where packet.header.operation
                == VirtioVsock.Operation.creditUpdate.rawValue
            {
                peerForward = packet.header.forwardCount
            }
            if sent > 16 << 20 { break }
        }
        #expect(sent <= 16 << 20, "the host socket never filled")
        // Nothing was lost or reset: the host reads every byte, and the device tells the guest.
        let got = try VsockHost.read(sent, from: host.raw)
        #expect(got.bytes.count == sent)
        #expect(guest.device.statistics.connectionsReset == 0)
        // Earlier updates may still be on their way: the answer to this request is the latest.
        try guest.send(.creditRequest, from: 1024, to: hostPort)
        while try guest.next(.creditUpdate, on: 1024).header.forwardCount != UInt32(sent) {}
    }

    /// A driver whose receive buffers hold a header and nothing more (Linux posts 4 KiB ones)
    /// gets control packets in them, and the data waits for a buffer that can hold it: the
    /// device neither spins on it nor stops serving other connections.
    @Test func receiveBuffersTooSmallForDataCarryOnlyControlPackets() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir, receiveBuffers: 0)
        try guest.postReceiveBuffers(8, length: VirtioVsock.headerSize)
        let listening = try #require(listener)
        let a = try open(guest, 1024, listening)
        try VsockHost.write(Array("waits".utf8), to: a.raw)
        try guest.sync()
        let b = try open(guest, 1025, listening)
        try guest.send(.creditRequest, from: 1025, to: hostPort)
        try guest.next(.creditUpdate, on: 1025)
        try guest.sync()
        #expect(try guest.take(on: 1024).isEmpty, "no data squeezed into a buffer with no room for it")
        withExtendedLifetime(b) {}
    }

    // MARK: Malformed packets

    /// Each kind of malformed packet, sent on connection A: A is reset; B is untouched.
    @Test(arguments: Malformation.allCases)
    func aMalformedPacketResetsOnlyItsConnection(_ malformation: Malformation) throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        let listening = try #require(listener)
        let a = try open(guest, 1024, listening)
        let b = try open(guest, 1025, listening)
        var header = guest.header(.readWrite, from: 1024, to: hostPort)
        var payload: [UInt8] = [1, 2, 3]
        var keepLength = false
        switch malformation {
        case .seqpacketType: header.type = VirtioVsock.SocketType.seqpacket.rawValue
        case .unknownType: header.type = 9
        case .unknownOperation: header.operation = 0
        case .operationBeyondTheLast: header.operation = 8
        case .payloadOnAControlPacket: header.operation = VirtioVsock.Operation.creditUpdate.rawValue
        case .payloadLargerThanTheLimit:
            payload = [UInt8](repeating: 0, count: Int(guest.device.maxPayload) + 1)
        case .lengthBeyondTheChain:
            header.length = 1000
            keepLength = true
        case .shutdownFlagsUnknown:
            header.operation = VirtioVsock.Operation.shutdown.rawValue
            header.flags = 4
            payload = []
        case .wrongDestinationCID: header.destinationCID = 7
        case .responseToAnOpenConnection: header.operation = VirtioVsock.Operation.response.rawValue; payload = []
        }
        try guest.send(header, payload: payload, keepLength: keepLength)
        try guest.next(.reset, on: 1024)
        try VsockHost.waitForEnd(of: a.raw)
        // B still carries bytes both ways.
        try guest.send(.readWrite, from: 1025, to: hostPort, payload: Array("B".utf8))
        #expect(try VsockHost.read(1, from: b.raw).bytes == Array("B".utf8))
        try VsockHost.write(Array("b".utf8), to: b.raw)
        #expect(try guest.receiveData(1, on: 1025) == Array("b".utf8))
        #expect(guest.device.statistics.activeConnections == 1)
    }

    enum Malformation: CaseIterable, Sendable {
        case seqpacketType, unknownType, unknownOperation, operationBeyondTheLast, payloadOnAControlPacket
        case payloadLargerThanTheLimit, lengthBeyondTheChain, shutdownFlagsUnknown, wrongDestinationCID
        case responseToAnOpenConnection
    }

    @Test func packetsThatAreNotPacketsTouchNoConnection() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir)
        let a = try open(guest, 1024, try #require(listener))
        // Shorter than a header; from another context id; a reply to no connection.
        try guest.sendRaw([UInt8](repeating: 0xff, count: 20))
        var foreign = guest.header(.readWrite, from: 1024, to: hostPort)
        foreign.sourceCID = 4
        try guest.send(foreign, payload: [1])
        try guest.send(.readWrite, from: 999, to: hostPort, payload: [1])
        try guest.next(.reset, on: 999)
        try guest.sync()
        #expect(try guest.take(on: 1024).isEmpty, "connection A heard nothing")
        try guest.send(.readWrite, from: 1024, to: hostPort, payload: Array("A".utf8))
        #expect(try VsockHost.read(1, from: a.raw).bytes == Array("A".utf8))
        #expect(guest.device.statistics.malformedPackets == 2)
    }

    @Test func answersWaitingForReceiveBuffersHoldBackTheTransmitQueue() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false, queueSize: 16, receiveBuffers: 0)
        // 16 requests to a port nobody listens on fill the device's RST queue (16): the rest
        // stay in the transmit ring until the guest posts receive buffers.
        for port in UInt32(100)..<132 { try guest.send(.request, from: port, to: 9) }
        try guest.driver.wait { guest.transmitPending == 16 }
        try guest.postReceiveBuffers(16)
        var refused = Set<UInt32>()
        try guest.driver.wait {
            try guest.collect()
            for packet in guest.inbox where packet.header.operation == VirtioVsock.Operation.reset.rawValue {
                refused.insert(packet.header.destinationPort)
            }
            return refused.count == 32
        }
        #expect(refused == Set(100..<132))
    }

    // MARK: Scale

    /// Each connection's host descriptor is closed when it ends, checked from the host side
    /// through the kernel (``VsockHost/peerIsClosed(_:)``), 10,000 times, half opened by the
    /// guest and half by host processes.
    @Test func tenThousandConnectionsLeaveNoDescriptorBehind() throws {
        let dir = try TemporaryDirectory()
        let (guest, listener) = try setUp(dir, queueSize: 256, receiveBuffers: 200)
        let listening = try #require(listener)
        let batch = 100
        var port: UInt32 = 10_000
        var leaked = 0
        for round in 0..<(10_000 / batch) {
            let ports = (0..<UInt32(batch)).map { port + $0 }
            port += UInt32(batch)
            let hosts: [HostEnd]
            if round % 2 == 0 {
                // Opened by the guest, closed by the guest.
                for p in ports { try guest.send(.request, from: p, to: hostPort) }
                for p in ports { try guest.next(.response, on: p) }
                hosts = try ports.map { _ in try VsockHost.accept(listening.raw) }
                for p in ports { try guest.send(.shutdown, from: p, to: hostPort, flags: 3) }
                for p in ports { try guest.next(.reset, on: p) }
            } else {
                // Opened by host processes, which then stop writing; the guest closes.
                hosts = try ports.map { try VsockHost.connect(to: dir.file("v.sock"), port: $0) }
                var locals: [UInt32: UInt32] = [:]
                for p in ports { locals[p] = try guest.next(.request, on: p).header.sourcePort }
                for p in ports { try guest.send(.response, from: p, to: locals[p]!) }
                for (host, p) in zip(hosts, ports) {
                    _ = try VsockHost.read("OK \(locals[p]!)\n".utf8.count, from: host.raw)
                    try UnixSocket.shutdownWriting(host.raw)
                }
                for p in ports { try guest.next(.shutdown, on: p) }
                for p in ports { try guest.send(.shutdown, from: p, to: locals[p]!, flags: 3) }
                for p in ports { try guest.next(.reset, on: p) }
            }
            for host in hosts {
                try VsockHost.waitForEnd(of: host.raw)
                if !VsockHost.peerIsClosed(host.raw) { leaked += 1 }
            }
            try #require(guest.device.statistics.activeConnections == 0, "round \(round)")
        }
        #expect(leaked == 0, "host descriptors the device kept open")
        let statistics = guest.device.statistics
        #expect(statistics.connectionsFromGuest == 5_000)
        #expect(statistics.connectionsFromHost == 5_000)
        #expect(statistics.connectionsReset == 0)
    }

    // MARK: Snapshots

    @Test func aRestoredDeviceTellsTheGuestItsConnectionsAreGone() throws {
        let dir = try TemporaryDirectory()
        let (guest, _) = try setUp(dir, listen: false)
        // The guest posts event buffers; nothing comes before a restore.
        let eventBuffer = try guest.driver.allocate(8, fill: 0xee)
        try guest.driver.post(VirtioVsock.Queue.event, [(eventBuffer, 8, true)])
        try guest.sync()
        #expect(try guest.driver.completions(VirtioVsock.Queue.event).isEmpty)
        let saved = guest.device.saveState()
        #expect(saved.guestCID == VsockTestGuest.cid)
        let restored = try VirtioVsockDevice(guestCID: 3, hostSocketPath: dir.file("w.sock"))
        try guest.driver.replaceTransport(backend: restored) { transport in
            try transport.restoreState(guest.driver.transport.saveState())
            try restored.restoreState(saved)
        }
        var events: [(head: UInt16, length: UInt32, bytes: [UInt8])] = []
        try guest.driver.wait {
            events += try guest.driver.completions(VirtioVsock.Queue.event)
            return !events.isEmpty
        }
        #expect(events.count == 1 && events[0].length == 4)
        #expect(events[0].bytes == [0, 0, 0, 0], "VIRTIO_VSOCK_EVENT_TRANSPORT_RESET")
        // Another context id is refused.
        let other = try VirtioVsockDevice(guestCID: 9, hostSocketPath: dir.file("x.sock"))
        #expect(throws: VirtioVsockStateError.guestCIDMismatch(saved: 3, device: 9)) { try other.restoreState(saved) }
    }

    // MARK: Configuration

    @Test func invalidParametersAreRefusedByName() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("v.sock")
        #expect(throws: VirtioVsockError.invalidGuestCID(2)) {
            try VirtioVsockDevice(guestCID: 2, hostSocketPath: path)
        }
        #expect(throws: VirtioVsockError.invalidGuestCID(0xffff_ffff)) {
            try VirtioVsockDevice(guestCID: 0xffff_ffff, hostSocketPath: path)
        }
        #expect(throws: VirtioVsockError.invalidQueueSize(100)) {
            try VirtioVsockDevice(guestCID: 3, hostSocketPath: path, queueSize: 100)
        }
        #expect(throws: VirtioVsockError.invalidBufferAllocation(100)) {
            try VirtioVsockDevice(guestCID: 3, hostSocketPath: path, bufferAllocation: 100)
        }
        // A regular file at the path is refused and left as it was.
        let file = dir.file("file")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: file))
        #expect {
            try VirtioVsockDevice(guestCID: 3, hostSocketPath: file)
        } throws: { error in
            guard case .hostSocket(let cause) = error as? VirtioVsockError else { return false }
            return cause.errno == .fileExists && cause.operation.contains(file)
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep me")
    }

    @Test func theListeningSocketFileGoesWithTheDevice() throws {
        let dir = try TemporaryDirectory()
        let path = dir.file("v.sock")
        do {
            let device = try VirtioVsockDevice(guestCID: 3, hostSocketPath: path)
            #expect(FileManager.default.fileExists(atPath: path))
            withExtendedLifetime(device) {}
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
