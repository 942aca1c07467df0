import HostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A ``NetworkBackend`` on a TAP interface (HostSupport's `TapDevice`): the guest's frames
/// appear on the host as received by the interface, and what the host sends through it
/// reaches the guest. The interface carries a zero virtio-net header before each frame when it
/// was opened with one (no offload is negotiated, so there is nothing to say in it).
public final class TapNetworkBackend: NetworkBackend {
    /// The interface.
    public let tap: TapDevice

    /// A backend on `tap`.
    public init(_ tap: TapDevice) {
        self.tap = tap
    }

    /// One `writev` of the header and the frame.
    public func send(_ frame: UnsafeRawBufferPointer) -> NetworkSendResult {
        withUnsafeTemporaryAllocation(byteCount: max(1, tap.virtioHeaderSize), alignment: 8) { header in
            header.initializeMemory(as: UInt8.self, repeating: 0)
            do {
                return try tap.write(
                    header: UnsafeRawBufferPointer(rebasing: header[..<tap.virtioHeaderSize]), frame: frame)
                    ? .sent : .full
            } catch {
                return .dropped
            }
        }
    }

    /// One `readv`: the header (dropped) and the frame.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> NetworkReceiveResult {
        withUnsafeTemporaryAllocation(byteCount: max(1, tap.virtioHeaderSize), alignment: 8) { header in
            do {
                guard let n = try tap.read(header: header, frame: buffer) else { return .empty }
                return .frame(n)
            } catch {
                return .empty
            }
        }
    }

    /// The interface's descriptor, readable.
    public var readableSignal: EndpointSignal { EndpointSignal(descriptor: tap.descriptor, events: .readable) }
    /// The interface's descriptor, writable.
    public var writableSignal: EndpointSignal { EndpointSignal(descriptor: tap.descriptor, events: .writable) }
}

/// A ``NetworkBackend`` on a connected Unix datagram socket (one datagram per frame): a cheap
/// link to another process, or to a `socketpair(AF_UNIX, SOCK_DGRAM)` end a test holds. The
/// backend owns a duplicate of the descriptor, non-blocking.
public final class DatagramNetworkBackend: NetworkBackend {
    private let owned: OwnedDescriptor

    /// The backend's own descriptor.
    public var descriptor: FileDescriptor { owned.raw }

    /// A backend on a duplicate of the connected datagram socket `socket`.
    ///
    /// - Throws: `SystemCallError` from `fcntl` (`EBADF`).
    public init(_ socket: FileDescriptor) throws(SystemCallError) {
        let copy = try SystemCall.retrying("fcntl(F_DUPFD_CLOEXEC)") { fcntl(socket.rawValue, F_DUPFD_CLOEXEC, 0) }
        owned = OwnedDescriptor(rawValue: copy)
        try SystemCall.setNonBlocking(owned.raw)
    }

    /// One `send` (`MSG_NOSIGNAL`): ``NetworkSendResult/full`` on `EAGAIN`, dropped on any other
    /// failure (a frame too large for the socket, its peer gone).
    public func send(_ frame: UnsafeRawBufferPointer) -> NetworkSendResult {
        do {
            return try UnixSocket.sendSome(owned.raw, frame, "send") == nil ? .full : .sent
        } catch {
            return .dropped
        }
    }

    /// One `recv` with `MSG_TRUNC`, which gives a datagram's real size: a frame larger than
    /// `buffer` is ``NetworkReceiveResult/oversized(_:)`` (and gone).
    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> NetworkReceiveResult {
        do {
            let n = try SystemCall.retrying("recv") {
                recv(owned.raw.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_TRUNC) | Int32(MSG_DONTWAIT))
            }
            return n > buffer.count ? .oversized(n) : .frame(n)
        } catch {
            return .empty
        }
    }

    /// The socket, readable.
    public var readableSignal: EndpointSignal { EndpointSignal(descriptor: owned.raw, events: .readable) }
    /// The socket, writable.
    public var writableSignal: EndpointSignal { EndpointSignal(descriptor: owned.raw, events: .writable) }
}
