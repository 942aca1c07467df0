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

/// Plays a guest's vsock driver on a ``VirtioDriver``: receive buffers posted once and reposted
/// at the same addresses, transmit packets from a pool of slots reused once completed, received
/// packets parsed and kept until a test takes them.
final class VsockTestGuest {
    static let cid: UInt64 = 3
    let device: VirtioVsockDevice
    let driver: VirtioDriver
    let receiveLength: Int
    /// What the guest advertises as its receive buffer in every packet it sends.
    var bufferAllocation: UInt32 = 1 << 20
    /// What it advertises as consumed, per guest port (the test says when it consumed).
    var forwardCount: [UInt32: UInt32] = [:]
    private var receiveBuffers: [UInt16: (address: UInt64, length: Int)] = [:]
    private var transmitSlots: [UInt64]
    private var transmitInFlight: [UInt16: UInt64] = [:]
    private static let slotSize = VirtioVsock.headerSize + (64 << 10) + 64
    /// Packets received and not taken yet, in order.
    private(set) var inbox: [(header: VsockPacketHeader, payload: [UInt8])] = []

    /// A guest for `device` with `receiveBuffers` buffers of `receiveLength` bytes posted (0:
    /// none yet), queues of `queueSize`.
    init(
        device: VirtioVsockDevice, queueSize: UInt16 = 64, receiveBuffers: Int = 32,
        receiveLength: Int = VirtioVsock.headerSize + 4096
    ) throws {
        self.device = device
        self.receiveLength = receiveLength
        let driver = try VirtioDriver(backend: device, queueSize: queueSize)
        self.driver = driver
        transmitSlots = try (0..<min(Int(queueSize), 32)).map { _ in try driver.allocate(Self.slotSize) }
        try driver.start()
        try postReceiveBuffers(receiveBuffers)
    }

    /// Posts `count` receive buffers of `length` bytes (default: ``receiveLength``), each
    /// reposted with its length after every packet.
    func postReceiveBuffers(_ count: Int, length: Int? = nil) throws {
        let length = length ?? receiveLength
        for _ in 0..<count {
            let address = try driver.allocate(length)
            let head = try driver.post(VirtioVsock.Queue.receive, [(address, UInt32(length), true)])
            receiveBuffers[head] = (address, length)
        }
    }

    /// A header from the guest's `guestPort` to host port `hostPort`.
    func header(
        _ operation: VirtioVsock.Operation, from guestPort: UInt32, to hostPort: UInt32, flags: UInt32 = 0
    ) -> VsockPacketHeader {
        VsockPacketHeader(
            sourceCID: Self.cid, destinationCID: VirtioVsock.hostCID, sourcePort: guestPort, destinationPort: hostPort,
            operation: operation.rawValue, flags: flags, bufferAllocation: bufferAllocation,
            forwardCount: forwardCount[guestPort, default: 0])
    }

    /// Sends `header` followed by `payload` (its `len` set to the payload's size unless
    /// `keepLength`), the header and payload in two descriptors when `split`.
    func send(_ header: VsockPacketHeader, payload: [UInt8] = [], keepLength: Bool = false, split: Bool = false) throws
    {
        var header = header
        if !keepLength { header.length = UInt32(payload.count) }
        try reclaimTransmit()
        if transmitSlots.isEmpty {
            try driver.wait {
                try reclaimTransmit()
                return !transmitSlots.isEmpty
            }
        }
        let slot = transmitSlots.removeLast()
        let bytes = header.bytes + payload
        try driver.memory.write(contentsOf: bytes, at: GuestAddress(slot))
        let buffers: [(address: UInt64, length: UInt32, writable: Bool)] =
            split && !payload.isEmpty
            ? [(slot, UInt32(VirtioVsock.headerSize), false), (slot + 44, UInt32(payload.count), false)]
            : [(slot, UInt32(bytes.count), false)]
        let head = try driver.post(VirtioVsock.Queue.transmit, buffers)
        transmitInFlight[head] = slot
    }

    /// Sends raw bytes as one packet (a header that is not one).
    func sendRaw(_ bytes: [UInt8]) throws {
        try reclaimTransmit()
        let slot = transmitSlots.removeLast()
        try driver.memory.write(contentsOf: bytes, at: GuestAddress(slot))
        let head = try driver.post(VirtioVsock.Queue.transmit, [(slot, UInt32(bytes.count), false)])
        transmitInFlight[head] = slot
    }

    /// Sends `op` from `guestPort` to `hostPort`.
    func send(
        _ operation: VirtioVsock.Operation, from guestPort: UInt32, to hostPort: UInt32, flags: UInt32 = 0,
        payload: [UInt8] = []
    ) throws {
        try send(header(operation, from: guestPort, to: hostPort, flags: flags), payload: payload)
    }

    private func reclaimTransmit() throws {
        for completion in try driver.completions(VirtioVsock.Queue.transmit) {
            if let slot = transmitInFlight.removeValue(forKey: completion.head) { transmitSlots.append(slot) }
        }
    }

    /// Transmit chains the device has not completed.
    var transmitPending: Int { driver.inFlight(VirtioVsock.Queue.transmit) }

    /// Moves received packets into the inbox, reposting their buffers.
    func collect() throws {
        try reclaimTransmit()
        for completion in try driver.completions(VirtioVsock.Queue.receive) {
            let known = receiveBuffers.removeValue(forKey: completion.head)
            let buffer = try #require(known, "the device completed a receive buffer it was not given")
            try #require(completion.length >= UInt32(VirtioVsock.headerSize), "a packet shorter than its header")
            let header = try VsockPacketHeader(completion.bytes)
            try #require(
                Int(completion.length) == VirtioVsock.headerSize + Int(header.length),
                "the used length is the header and its payload")
            inbox.append((header, Array(completion.bytes[VirtioVsock.headerSize...])))
            let head = try driver.post(VirtioVsock.Queue.receive, [(buffer.address, UInt32(buffer.length), true)])
            receiveBuffers[head] = buffer
        }
    }

    /// Waits for the first packet (in order) that `matches`, takes it and returns it; the
    /// packets before it stay.
    @discardableResult
    func next(
        _ what: String = "a packet", where matches: (VsockPacketHeader) -> Bool
    ) throws -> (header: VsockPacketHeader, payload: [UInt8]) {
        var found: Int?
        do {
            try driver.wait {
                try collect()
                found = inbox.firstIndex { matches($0.header) }
                return found != nil
            }
        } catch is VirtioDriver.DriverTimeout {
            Issue.record("waited 10 s for \(what); inbox: \(inbox.map { describe($0.header) })")
            throw VirtioDriver.DriverTimeout()
        }
        return inbox.remove(at: found!)
    }

    /// Waits for the next packet on the connection of `guestPort` with `operation`.
    @discardableResult
    func next(
        _ operation: VirtioVsock.Operation, on guestPort: UInt32
    ) throws -> (header: VsockPacketHeader, payload: [UInt8]) {
        try next("\(operation) on guest port \(guestPort)") {
            $0.destinationPort == guestPort && $0.operation == operation.rawValue
        }
    }

    /// Takes every packet for `guestPort` received so far.
    func take(on guestPort: UInt32) throws -> [(header: VsockPacketHeader, payload: [UInt8])] {
        try collect()
        let mine = inbox.filter { $0.header.destinationPort == guestPort }
        inbox.removeAll { $0.header.destinationPort == guestPort }
        return mine
    }

    /// Receives `count` payload bytes on `guestPort` (`RW` packets), advertising them consumed.
    func receiveData(_ count: Int, on guestPort: UInt32) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let packet = try next("data on guest port \(guestPort) (\(bytes.count) of \(count) bytes)") {
                $0.destinationPort == guestPort && $0.operation == VirtioVsock.Operation.readWrite.rawValue
            }
            bytes += packet.payload
            forwardCount[guestPort, default: 0] &+= UInt32(packet.payload.count)
        }
        return bytes
    }

    /// A barrier: everything the device does for packets sent before it is done once this
    /// returns (the device serves the transmit queue in order, and answers a packet for no
    /// connection with an `RST`).
    func sync() throws {
        try send(.creditRequest, from: 0xfff0_0000, to: 0xfff0_0000)
        try next(.reset, on: 0xfff0_0000)
    }

    func describe(_ h: VsockPacketHeader) -> String {
        "\(h.knownOperation.map { "\($0)" } ?? "op \(h.operation)") \(h.sourcePort)→\(h.destinationPort) len \(h.length)"
    }
}

/// A host process's end of one connection (closed by ``close()`` or when it goes).
final class HostEnd {
    private var socket: OwnedDescriptor?
    let raw: FileDescriptor

    init(_ socket: consuming OwnedDescriptor) {
        raw = socket.raw
        self.socket = consume socket
    }

    /// Closes the socket now.
    func close() { socket = nil }
}

/// A host process's end of the device's Unix sockets.
enum VsockHost {
    /// Waits (up to 10 s, a hang guard) for a connection on `listener`.
    static func accept(_ listener: FileDescriptor) throws -> HostEnd {
        let deadline = Date().addingTimeInterval(10)
        while true {
            if let connection = try UnixSocket.accept(listener) { return HostEnd(connection) }
            guard Date() < deadline else { throw VirtioDriver.DriverTimeout() }
            usleep(200)
        }
    }

    /// Writes all of `bytes` (waiting while the socket is full).
    static func write(_ bytes: [UInt8], to socket: FileDescriptor) throws {
        var done = 0
        let deadline = Date().addingTimeInterval(10)
        while done < bytes.count {
            let n = try bytes[done...].withUnsafeBytes { try SystemCall.writeSome(socket, $0, "write") }
            if let n {
                done += n
            } else {
                guard Date() < deadline else { throw VirtioDriver.DriverTimeout() }
                usleep(200)
            }
        }
    }

    /// Reads until `count` bytes arrived or end-of-file; returns them and whether the end came.
    static func read(_ count: Int, from socket: FileDescriptor) throws -> (bytes: [UInt8], ended: Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(10)
        while bytes.count < count {
            let want = min(buffer.count, count - bytes.count)
            let n = try buffer.withUnsafeMutableBytes {
                try SystemCall.readSome(socket, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<want]), "read")
            }
            guard let n else {
                guard Date() < deadline else { throw VirtioDriver.DriverTimeout() }
                usleep(200)
                continue
            }
            if n == 0 { return (bytes, true) }
            bytes += buffer[..<n]
        }
        return (bytes, false)
    }

    /// Waits for end-of-file (or a reset) on `socket`, discarding what comes before it.
    static func waitForEnd(of socket: FileDescriptor) throws {
        while true {
            do {
                if try read(1 << 30, from: socket).ended { return }
            } catch let error as SystemCallError where error.errno == .connectionReset {
                return
            }
        }
    }

    /// Connects to the device's socket at `path` and asks for guest port `port`.
    static func connect(to path: String, port: UInt32) throws -> HostEnd {
        let socket = HostEnd(try UnixSocket.connect(to: path))
        try write(Array("CONNECT \(port)\n".utf8), to: socket.raw)
        return socket
    }

    /// Whether the other end of `socket` (the device's) is closed: a write to a socket whose
    /// peer is open succeeds even when the peer shut down its own writing, and fails with
    /// `EPIPE` (or `ECONNRESET`) only once the peer's descriptor is closed. (A count of the
    /// process's descriptors would not do: other suites open and close theirs meanwhile.)
    static func peerIsClosed(_ socket: FileDescriptor) -> Bool {
        do {
            _ = try [UInt8(0)].withUnsafeBytes { try SystemCall.writeSome(socket, $0, "write") }
            return false
        } catch let error as SystemCallError {
            return error.errno == .brokenPipe || error.errno == .connectionReset
        } catch {
            return false
        }
    }
}
