import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A Linux eventfd: a 64-bit counter that one side adds to and the other reads and resets.
///
/// KVM uses eventfds to signal interrupts into a guest (irqfd) and to report guest writes to a
/// doorbell address without a round trip through user space (ioeventfd). The descriptor is
/// closed when the object is released.
public final class EventFD: Sendable {
    private let owned: OwnedDescriptor

    /// The eventfd descriptor (owned by this object; do not close it).
    public var fileDescriptor: FileDescriptor { owned.raw }

    /// Creates an eventfd with the given initial counter.
    ///
    /// - Parameter nonBlocking: reads fail with `EAGAIN` instead of blocking while the counter is
    ///   zero (`read()` then returns `nil`).
    public init(initialValue: UInt32 = 0, nonBlocking: Bool = true) throws(KVMError) {
        let flags = CKVM_EFD_CLOEXEC | (nonBlocking ? CKVM_EFD_NONBLOCK : 0)
        let fd = eventfd(initialValue, flags)
        guard fd >= 0 else { throw .systemCall(operation: "eventfd", errno: Errno(rawValue: Glibc.errno)) }
        owned = OwnedDescriptor(FileDescriptor(rawValue: fd))
    }

    /// Adds `value` to the counter, waking any reader.
    public func signal(_ value: UInt64 = 1) throws(KVMError) {
        var value = value
        try retryingSystemCall("eventfd write") { Int32(Glibc.write(fileDescriptor.rawValue, &value, 8)) }
    }

    /// Reads and resets the counter. Returns `nil` when it is zero and the eventfd is
    /// non-blocking.
    public func read() throws(KVMError) -> UInt64? {
        var value: UInt64 = 0
        do {
            try retryingSystemCall("eventfd read") { Int32(Glibc.read(fileDescriptor.rawValue, &value, 8)) }
            return value
        } catch let error where error.errno == .resourceTemporarilyUnavailable {
            return nil
        }
    }

    /// Waits up to `timeoutMilliseconds` (−1: forever) until the counter is non-zero.
    /// Returns whether it became readable.
    public func wait(timeoutMilliseconds: Int32) throws(KVMError) -> Bool {
        var pfd = pollfd(fd: fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0)
        return try retryingSystemCall("poll") { poll(&pfd, 1, timeoutMilliseconds) } > 0
    }
}
