import CHostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A TAP network interface (`/dev/net/tun`, `IFF_TAP | IFF_NO_PI`): every `write` is one
/// Ethernet frame the host's network stack receives on the interface, every `read` one frame it
/// sent. With a virtio-net header size, each frame is preceded by that many bytes of
/// `struct virtio_net_hdr` (`IFF_VNET_HDR`, `TUNSETVNETHDRSZ`), as a virtio-net device passes
/// them. The descriptor is non-blocking and close-on-exec, closed with the object; the interface
/// goes with it unless it was made persistent elsewhere. Opening one needs `CAP_NET_ADMIN`.
public final class TapDevice: Sendable {
    private let owned: OwnedDescriptor
    /// The interface's name (`tap0`, or what was asked for).
    public let name: String
    /// The bytes of virtio-net header before each frame (0: none).
    public let virtioHeaderSize: Int

    /// The descriptor (owned by the device).
    public var descriptor: FileDescriptor { owned.raw }

    /// Opens (creating if needed) the TAP interface `name` (`""`: the kernel names it).
    ///
    /// - Throws: ``SystemCallError`` naming `/dev/net/tun` or the interface: `ENOENT` (no TUN
    ///   driver), `EPERM` (no `CAP_NET_ADMIN`), `EBUSY` (in use), `EINVAL` (a name too long or a
    ///   header size the kernel refuses).
    public init(name: String = "", virtioHeaderSize: Int = 12) throws(SystemCallError) {
        guard name.utf8.count < 16 else {
            throw SystemCallError(operation: "TUNSETIFF \(name): name too long", errno: .invalidArgument)
        }
        var actual = [CChar](repeating: 0, count: 16)
        let fd = chost_tap_open(name, &actual, Int32(virtioHeaderSize))
        guard fd >= 0 else {
            throw SystemCallError(
                operation: "open /dev/net/tun as TAP \(name.isEmpty ? "(any name)" : name)", errno: Errno(rawValue: -fd)
            )
        }
        owned = OwnedDescriptor(rawValue: fd)
        self.name = String(decoding: actual.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.virtioHeaderSize = virtioHeaderSize
    }

    /// Writes one frame, preceded by `header` (``virtioHeaderSize`` bytes; ignored when 0): `nil`
    /// when the interface takes nothing now (`EAGAIN`).
    ///
    /// - Throws: ``SystemCallError`` named `writev` (`EIO` when the interface is down, `EINVAL`
    ///   for a frame it refuses).
    public func write(header: UnsafeRawBufferPointer, frame: UnsafeRawBufferPointer) throws(SystemCallError) -> Bool {
        let vectors = [
            iovec(iov_base: UnsafeMutableRawPointer(mutating: header.baseAddress), iov_len: header.count),
            iovec(iov_base: UnsafeMutableRawPointer(mutating: frame.baseAddress), iov_len: frame.count),
        ]
        let skip = virtioHeaderSize == 0 ? 1 : 0
        do {
            _ = try vectors[skip...].withUnsafeBufferPointer { v throws(SystemCallError) in
                try SystemCall.retrying("writev \(name)") { writev(owned.raw.rawValue, v.baseAddress, Int32(v.count)) }
            }
        } catch  where error.errno == .resourceTemporarilyUnavailable {
            return false
        }
        return true
    }

    /// Reads one frame into `frame` and its header into `header` (``virtioHeaderSize``
    /// bytes): the frame's length, or `nil` when none waits (`EAGAIN`). A frame longer than
    /// `frame` is cut: compare the result with the buffer's size.
    ///
    /// - Throws: ``SystemCallError`` named `readv`.
    public func read(header: UnsafeMutableRawBufferPointer, frame: UnsafeMutableRawBufferPointer)
        throws(SystemCallError) -> Int?
    {
        var vectors = [
            iovec(iov_base: header.baseAddress, iov_len: virtioHeaderSize),
            iovec(iov_base: frame.baseAddress, iov_len: frame.count),
        ]
        let skip = virtioHeaderSize == 0 ? 1 : 0
        do {
            let n = try vectors[skip...].withUnsafeMutableBufferPointer { v throws(SystemCallError) in
                try SystemCall.retrying("readv \(name)") { readv(owned.raw.rawValue, v.baseAddress, Int32(v.count)) }
            }
            return max(0, n - virtioHeaderSize)
        } catch  where error.errno == .resourceTemporarilyUnavailable {
            return nil
        }
    }
}
