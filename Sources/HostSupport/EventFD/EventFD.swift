import CHostSupport
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A Linux eventfd: a 64-bit counter that one side adds to and the other reads and resets.
///
/// KVM uses eventfds to signal interrupts into a guest (irqfd) and to report guest writes to a
/// doorbell address without a round trip through user space (ioeventfd); device threads use
/// them to wake each other. The descriptor is closed exactly once, when the object is released.
public final class EventFD: Sendable {
    private let owned: OwnedDescriptor

    /// The eventfd descriptor (owned by this object; do not close it).
    public var fileDescriptor: FileDescriptor { owned.raw }

    /// Creates an eventfd with the given initial counter (close-on-exec).
    ///
    /// - Parameters:
    ///   - initialValue: the counter's starting value.
    ///   - nonBlocking: reads fail with `EAGAIN` instead of blocking while the counter is
    ///     zero (``read()`` then returns `nil`).
    /// - Throws: ``SystemCallError`` named `eventfd` (for example `EMFILE` when the process is
    ///   out of descriptors).
    public init(initialValue: UInt32 = 0, nonBlocking: Bool = true) throws(SystemCallError) {
        let flags = CHOST_EFD_CLOEXEC | (nonBlocking ? CHOST_EFD_NONBLOCK : 0)
        let fd = try SystemCall.retrying("eventfd") { eventfd(initialValue, flags) }
        owned = OwnedDescriptor(rawValue: fd)
    }

    /// Adds `value` to the counter, waking any reader.
    public func signal(_ value: UInt64 = 1) throws(SystemCallError) {
        var value = value
        try SystemCall.retrying("eventfd write") { Glibc.write(fileDescriptor.rawValue, &value, 8) }
    }

    /// Reads and resets the counter. Returns `nil` when it is zero and the eventfd is
    /// non-blocking.
    public func read() throws(SystemCallError) -> UInt64? {
        try SystemCall.readCounter(fileDescriptor, "eventfd read")
    }

    /// Waits up to `timeoutMilliseconds` (−1: forever) until the counter is non-zero.
    /// Returns whether it became readable.
    public func wait(timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        var pfd = pollfd(fd: fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0)
        return try SystemCall.retrying("poll") { poll(&pfd, 1, timeoutMilliseconds) } > 0
    }
}
