/// Constants of the virtio socket device (virtio 1.2, section 5.10).
public enum VirtioVsock {
    /// The device id: 19, a socket device.
    public static let deviceID: UInt32 = 19
    /// The context id of the host.
    public static let hostCID: UInt64 = 2
    /// The size of a packet header (`struct virtio_vsock_hdr`).
    public static let headerSize = 44

    /// Queue indices.
    public enum Queue {
        /// `rx`: buffers the device fills with packets for the guest.
        public static let receive = 0
        /// `tx`: the guest's packets.
        public static let transmit = 1
        /// `event`: buffers the device fills with events (a transport reset after a restore).
        public static let event = 2
    }

    /// Socket types (`type`).
    public enum SocketType: UInt16, Sendable, Hashable {
        /// `VIRTIO_VSOCK_TYPE_STREAM`.
        case stream = 1
        /// `VIRTIO_VSOCK_TYPE_SEQPACKET` (not offered).
        case seqpacket = 2
    }

    /// Operations (`op`).
    public enum Operation: UInt16, Sendable, Hashable, CaseIterable {
        /// `VIRTIO_VSOCK_OP_REQUEST`: connect.
        case request = 1
        /// `VIRTIO_VSOCK_OP_RESPONSE`: connection accepted.
        case response = 2
        /// `VIRTIO_VSOCK_OP_RST`: connection refused or reset.
        case reset = 3
        /// `VIRTIO_VSOCK_OP_SHUTDOWN`: no more receiving and/or sending (``ShutdownFlags``).
        case shutdown = 4
        /// `VIRTIO_VSOCK_OP_RW`: payload.
        case readWrite = 5
        /// `VIRTIO_VSOCK_OP_CREDIT_UPDATE`: the sender's buffer space.
        case creditUpdate = 6
        /// `VIRTIO_VSOCK_OP_CREDIT_REQUEST`: asks for a credit update.
        case creditRequest = 7
    }

    /// `flags` of a shutdown.
    public struct ShutdownFlags: OptionSet, Sendable, Hashable {
        /// The flag bits.
        public let rawValue: UInt32
        /// Creates flags from their bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `VIRTIO_VSOCK_SHUTDOWN_RCV`: the sender will receive nothing more.
        public static let receive = ShutdownFlags(rawValue: 1)
        /// `VIRTIO_VSOCK_SHUTDOWN_SEND`: the sender will send nothing more.
        public static let send = ShutdownFlags(rawValue: 2)
    }

    /// `VIRTIO_VSOCK_EVENT_TRANSPORT_RESET`: every connection is gone (after a restore).
    public static let transportResetEvent: UInt32 = 0
}

/// A virtio socket packet header (`struct virtio_vsock_hdr`, 44 bytes, little-endian), as the
/// guest wrote it or as the device writes it.
public struct VsockPacketHeader: Sendable, Hashable {
    /// Source context id.
    public var sourceCID: UInt64
    /// Destination context id.
    public var destinationCID: UInt64
    /// Source port.
    public var sourcePort: UInt32
    /// Destination port.
    public var destinationPort: UInt32
    /// Payload length in bytes (after the header).
    public var length: UInt32
    /// The socket type, raw (`VirtioVsock.SocketType`).
    public var type: UInt16
    /// The operation, raw (`VirtioVsock.Operation`).
    public var operation: UInt16
    /// Operation-specific flags (a shutdown's ``VirtioVsock/ShutdownFlags``).
    public var flags: UInt32
    /// The sender's receive buffer size for this connection.
    public var bufferAllocation: UInt32
    /// Bytes the sender has consumed of what it received on this connection (mod 2^32).
    public var forwardCount: UInt32

    /// A header with the given fields.
    public init(
        sourceCID: UInt64, destinationCID: UInt64, sourcePort: UInt32, destinationPort: UInt32, length: UInt32 = 0,
        type: UInt16 = VirtioVsock.SocketType.stream.rawValue, operation: UInt16, flags: UInt32 = 0,
        bufferAllocation: UInt32 = 0, forwardCount: UInt32 = 0
    ) {
        self.sourceCID = sourceCID
        self.destinationCID = destinationCID
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.length = length
        self.type = type
        self.operation = operation
        self.flags = flags
        self.bufferAllocation = bufferAllocation
        self.forwardCount = forwardCount
    }

    /// Reads a header from its 44 little-endian bytes (any values: check them with
    /// ``validate(guestCID:maxPayload:)``).
    ///
    /// - Throws: ``VsockPacketError/shortHeader(_:)`` when `bytes` holds fewer than 44 bytes.
    public init(_ bytes: some Collection<UInt8>) throws(VsockPacketError) {
        guard bytes.count >= VirtioVsock.headerSize else { throw .shortHeader(bytes.count) }
        let header = bytes.withContiguousStorageIfAvailable { Self(loading: UnsafeRawBufferPointer($0)) }
        self = header ?? [UInt8](bytes.prefix(VirtioVsock.headerSize)).withUnsafeBytes { Self(loading: $0) }
    }

    /// Reads the fields from the first 44 bytes of `raw` (at least that many).
    init(loading raw: UnsafeRawBufferPointer) {
        func field<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
            T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        self.init(
            sourceCID: field(UInt64.self, at: 0), destinationCID: field(UInt64.self, at: 8),
            sourcePort: field(UInt32.self, at: 16), destinationPort: field(UInt32.self, at: 20),
            length: field(UInt32.self, at: 24), type: field(UInt16.self, at: 28), operation: field(UInt16.self, at: 30),
            flags: field(UInt32.self, at: 32), bufferAllocation: field(UInt32.self, at: 36),
            forwardCount: field(UInt32.self, at: 40))
    }

    /// Writes the header's 44 little-endian bytes at the start of `raw` (at least that many).
    public func store(into raw: UnsafeMutableRawBufferPointer) {
        precondition(raw.count >= VirtioVsock.headerSize, "a vsock header takes 44 bytes")
        raw.storeBytes(of: sourceCID.littleEndian, toByteOffset: 0, as: UInt64.self)
        raw.storeBytes(of: destinationCID.littleEndian, toByteOffset: 8, as: UInt64.self)
        raw.storeBytes(of: sourcePort.littleEndian, toByteOffset: 16, as: UInt32.self)
        raw.storeBytes(of: destinationPort.littleEndian, toByteOffset: 20, as: UInt32.self)
        raw.storeBytes(of: length.littleEndian, toByteOffset: 24, as: UInt32.self)
        raw.storeBytes(of: type.littleEndian, toByteOffset: 28, as: UInt16.self)
        raw.storeBytes(of: operation.littleEndian, toByteOffset: 30, as: UInt16.self)
        raw.storeBytes(of: flags.littleEndian, toByteOffset: 32, as: UInt32.self)
        raw.storeBytes(of: bufferAllocation.littleEndian, toByteOffset: 36, as: UInt32.self)
        raw.storeBytes(of: forwardCount.littleEndian, toByteOffset: 40, as: UInt32.self)
    }

    /// The header's 44 little-endian bytes.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: VirtioVsock.headerSize) { buffer, count in
            store(into: UnsafeMutableRawBufferPointer(buffer))
            count = VirtioVsock.headerSize
        }
    }

    /// The operation, when it is one the specification defines.
    public var knownOperation: VirtioVsock.Operation? { VirtioVsock.Operation(rawValue: operation) }

    /// Checks a packet the guest sent: from `guestCID` to the host, a stream, a known
    /// operation, a payload only on `RW` and at most `maxPayload` bytes, shutdown flags only
    /// on a shutdown and only the two defined. Returns the operation.
    ///
    /// - Throws: the first ``VsockPacketError`` that applies, in the order above.
    public func validate(guestCID: UInt64, maxPayload: UInt32) throws(VsockPacketError) -> VirtioVsock.Operation {
        guard sourceCID == guestCID else { throw .wrongSource(sourceCID) }
        guard destinationCID == VirtioVsock.hostCID else { throw .wrongDestination(destinationCID) }
        guard type == VirtioVsock.SocketType.stream.rawValue else { throw .unsupportedType(type) }
        guard let op = knownOperation else { throw .unknownOperation(operation) }
        if op == .readWrite {
            guard length <= maxPayload else { throw .payloadTooLarge(length, limit: maxPayload) }
        } else if length != 0 {
            throw .unexpectedPayload(length, op)
        }
        if op == .shutdown {
            guard flags & ~(VirtioVsock.ShutdownFlags.receive.rawValue | VirtioVsock.ShutdownFlags.send.rawValue) == 0
            else { throw .invalidFlags(flags) }
        }
        return op
    }
}

/// Why a packet the guest sent is refused (its connection, if any, is reset; no other is touched).
public enum VsockPacketError: Error, Hashable, Sendable {
    /// The chain holds fewer bytes than a header.
    case shortHeader(Int)
    /// The source is not the guest's context id.
    case wrongSource(UInt64)
    /// The destination is not the host (2).
    case wrongDestination(UInt64)
    /// Not a stream (seqpacket is not offered).
    case unsupportedType(UInt16)
    /// An operation the specification does not define.
    case unknownOperation(UInt16)
    /// An `RW` payload larger than the device accepts per packet.
    case payloadTooLarge(UInt32, limit: UInt32)
    /// A payload on an operation that carries none.
    case unexpectedPayload(UInt32, VirtioVsock.Operation)
    /// Shutdown flags other than `RCV` and `SEND`.
    case invalidFlags(UInt32)
    /// A header whose `len` is more than the chain's bytes after it.
    case payloadMissing(UInt32, present: UInt64)
}
