import HostSupport
import SystemPackage

/// A connection's identity on the device: the host-side port and the guest's port (both
/// contexts are fixed: the host, 2, and the device's guest CID).
struct VsockConnectionKey: Hashable {
    var hostPort: UInt32
    var guestPort: UInt32
}

/// A host socket of the device's (a connection's, or one still sending its `CONNECT` line),
/// closed exactly once: when the last reference goes.
final class VsockHostStream: Sendable {
    private let owned: OwnedDescriptor
    var descriptor: FileDescriptor { owned.raw }

    init(_ owned: consuming OwnedDescriptor) {
        self.owned = owned
    }
}

/// Packets a connection owes the guest, other than data.
struct VsockOwedPackets: OptionSet {
    let rawValue: UInt8
    /// A `REQUEST` (a host process connected).
    static let request = VsockOwedPackets(rawValue: 1 << 0)
    /// A `RESPONSE` (the guest's request was accepted).
    static let response = VsockOwedPackets(rawValue: 1 << 1)
    /// A `CREDIT_UPDATE` (asked for, or room was made).
    static let creditUpdate = VsockOwedPackets(rawValue: 1 << 2)
    /// A `SHUTDOWN` with ``VsockConnection/shutdownFlags``.
    static let shutdown = VsockOwedPackets(rawValue: 1 << 3)
    /// An `RST`: the connection ends when it is sent.
    static let reset = VsockOwedPackets(rawValue: 1 << 4)
}

/// One stream connection between a guest port and a host socket, as the device keeps it
/// (touched only with the device's state locked).
///
/// Its phases: `awaitingResponse` (a host process connected and sent `CONNECT`; the guest has
/// been sent a `REQUEST`), `established` (data flows both ways, each direction until shut down),
/// `closing` (the guest shut down both directions, or the host side is gone: the rest of the
/// guest's data is written out, or the guest's `RST` awaited), `resetting` (the host socket is
/// closed and an `RST` is owed: the connection is forgotten once it is sent).
final class VsockConnection {
    enum Phase: Equatable {
        case awaitingResponse
        case established
        case closing
        case resetting
    }

    /// The token of its socket in the device's epoll set, also its id.
    let id: UInt64
    let key: VsockConnectionKey
    var phase: Phase
    /// `nil` once closed.
    var stream: VsockHostStream?
    var credit: VsockCredit
    /// The guest's bytes the host socket has not taken yet (at most the credit's buffer).
    var outbox = ByteFIFO()
    /// Bytes for the host process ahead of the guest's (the `OK <port>` line).
    var preamble: [UInt8] = []
    var owed: VsockOwedPackets = []
    /// What the next owed `SHUTDOWN` says.
    var shutdownFlags: VirtioVsock.ShutdownFlags = []
    /// What the guest has shut down.
    var guestShutdown: VirtioVsock.ShutdownFlags = []
    /// What the device told the guest it shut down.
    var hostShutdown: VirtioVsock.ShutdownFlags = []
    /// The host socket may have bytes to read (an edge was reported and `EAGAIN` not yet seen).
    var hostReadable = false
    /// The host process wrote its last byte (end-of-file read).
    var hostEnded = false
    /// The host process is gone (hang-up, `EPIPE`): nothing more can be written to it.
    var hostGone = false
    /// The host socket's writing side was shut down after the guest's `SHUTDOWN SEND`.
    var hostWritingShut = false
    /// In the device's queue of connections with packets for the guest.
    var queued = false
    /// Given guest bytes in the current transmit pass (written out after it).
    var flushAfterPass = false
    /// When the current phase gives up (monotonic nanoseconds), if it can time out.
    var deadline: UInt64?

    init(id: UInt64, key: VsockConnectionKey, phase: Phase, stream: VsockHostStream, bufferAllocation: UInt32) {
        self.id = id
        self.key = key
        self.phase = phase
        self.stream = stream
        credit = VsockCredit(bufferAllocation: bufferAllocation)
    }

    /// Whether host bytes may go to the guest now: the connection is up, the guest still
    /// receives, the host side has not ended, and the guest has room.
    var canSendData: Bool {
        phase == .established && !guestShutdown.contains(.receive) && !hostEnded && hostReadable
            && credit.peerFree > 0
    }

    /// Whether the connection has a packet for the guest now.
    var hasPacketForGuest: Bool { !owed.isEmpty || canSendData }
}

/// The line a host process sends after connecting to the device's socket: `CONNECT <port>\n`
/// (Firecracker's host protocol), the port in decimal.
enum VsockHostHandshake {
    /// The longest line accepted, newline included.
    static let maximumLength = 32

    /// The port a complete line (without its newline) asks for, or `nil` when it is not
    /// `CONNECT` and a decimal port below 2^32.
    static func port(in line: some Collection<UInt8>) -> UInt32? {
        let prefix = Array("CONNECT ".utf8)
        guard line.count > prefix.count, line.starts(with: prefix) else { return nil }
        var port: UInt64 = 0
        for byte in line.dropFirst(prefix.count) {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            port = port * 10 + UInt64(byte - UInt8(ascii: "0"))
            guard port <= UInt64(UInt32.max) else { return nil }
        }
        return UInt32(port)
    }
}
