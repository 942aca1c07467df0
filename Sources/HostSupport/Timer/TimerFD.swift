import CHostSupport
import SystemPackage

/// A `timerfd` on `CLOCK_MONOTONIC`: a descriptor that becomes readable when the timer expires,
/// so an ``EventLoop`` serves timers like any other source (a throttled queue resumed later, a
/// periodic statistics flush). Closed exactly once, when the object goes away.
public final class TimerFD: Sendable {
    private let descriptor: OwnedDescriptor

    /// The descriptor, for an event loop (still owned by this object).
    public var fileDescriptor: FileDescriptor { descriptor.raw }

    /// A disarmed timer; `nonBlocking` (the default) makes ``read()`` return `nil` instead of
    /// waiting when the timer has not expired.
    ///
    /// - Throws: ``SystemCallError`` named `timerfd_create`.
    public init(nonBlocking: Bool = true) throws(SystemCallError) {
        let fd = chost_timerfd_create(nonBlocking ? 1 : 0)
        guard fd >= 0 else { throw SystemCallError(operation: "timerfd_create", errno: Errno(rawValue: -fd)) }
        descriptor = OwnedDescriptor(rawValue: fd)
    }

    /// Arms the timer to expire `after` nanoseconds from now (at least 1 ns: 0 would disarm it),
    /// then every `interval` nanoseconds (0: once). Replaces any earlier setting.
    ///
    /// - Throws: ``SystemCallError`` named `timerfd_settime`.
    public func arm(after: UInt64, interval: UInt64 = 0) throws(SystemCallError) {
        try set(max(1, after), interval)
    }

    /// Disarms the timer (a pending expiration count is kept until read).
    ///
    /// - Throws: ``SystemCallError`` named `timerfd_settime`.
    public func disarm() throws(SystemCallError) {
        try set(0, 0)
    }

    /// Takes the number of expirations since the last read; `nil` when there were none (a
    /// non-blocking timer).
    ///
    /// - Throws: ``SystemCallError`` named `timerfd read`.
    public func read() throws(SystemCallError) -> UInt64? {
        try SystemCall.readCounter(descriptor.raw, "timerfd read")
    }

    private func set(_ value: UInt64, _ interval: UInt64) throws(SystemCallError) {
        let result = chost_timerfd_settime(descriptor.raw.rawValue, value, interval)
        if result < 0 { throw SystemCallError(operation: "timerfd_settime", errno: Errno(rawValue: -result)) }
    }
}
