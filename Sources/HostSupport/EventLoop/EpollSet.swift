import CHostSupport
import SystemPackage

/// An epoll instance: descriptors watched for events, each with a token of the caller's. The
/// set is itself a descriptor, readable while a member is ready — so a device that juggles many
/// descriptors of its own (a socket per connection) keeps them in a set and gives its event loop
/// just the set's descriptor, as Firecracker's vsock muxer nests its epoll in the VMM's.
/// ``EventLoop`` is built on one. Level-triggered; the descriptor is closed once, with the set.
public final class EpollSet: Sendable {
    private let owned: OwnedDescriptor

    /// The epoll descriptor (readable while a member is ready; owned by the set).
    public var descriptor: FileDescriptor { owned.raw }

    /// The most ready descriptors one ``wait(timeoutMilliseconds:_:)`` reports.
    public static let batch = 64

    /// An empty set.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_create1` (out of descriptors).
    public init() throws(SystemCallError) {
        let fd = chost_epoll_create()
        guard fd >= 0 else { throw SystemCallError(operation: "epoll_create1", errno: Errno(rawValue: -fd)) }
        owned = OwnedDescriptor(rawValue: fd)
    }

    /// Watches `member` for `events` (an error or a hang-up is always reported), reported with
    /// `token`.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl`: `EEXIST` for a member already in the
    ///   set, `EPERM` for a descriptor epoll cannot watch (a regular file), `EBADF`.
    public func add(_ member: FileDescriptor, events: EventLoop.Events, token: UInt64) throws(SystemCallError) {
        try control(1, member, events.rawValue, token)
    }

    /// Changes what `member` is watched for, and its token.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl` (`ENOENT` for a descriptor not in the set).
    public func modify(_ member: FileDescriptor, events: EventLoop.Events, token: UInt64) throws(SystemCallError) {
        try control(2, member, events.rawValue, token)
    }

    /// Stops watching `member` (before closing it).
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl` (`ENOENT` for a descriptor not in the set).
    public func remove(_ member: FileDescriptor) throws(SystemCallError) {
        try control(3, member, 0, 0)
    }

    /// Waits up to `timeoutMilliseconds` (0: only looks; −1: as long as it takes) for members to
    /// be ready and calls `body` with the token and events of each (at most ``batch``); returns
    /// how many.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_wait`, `EINTR` included (a signal arrived: the
    ///   caller decides whether to wait again).
    @discardableResult
    public func wait(timeoutMilliseconds: Int32, _ body: (UInt64, EventLoop.Events) -> Void) throws(SystemCallError)
        -> Int
    {
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.batch) {
            (tokens) throws(SystemCallError) -> Int in
            try withUnsafeTemporaryAllocation(of: UInt32.self, capacity: Self.batch) {
                (events) throws(SystemCallError) -> Int in
                let count = chost_epoll_wait(
                    owned.raw.rawValue, tokens.baseAddress, events.baseAddress, Int32(Self.batch), timeoutMilliseconds)
                guard count >= 0 else {
                    throw SystemCallError(operation: "epoll_wait", errno: Errno(rawValue: -count))
                }
                for i in 0..<Int(count) { body(tokens[i], EventLoop.Events(rawValue: events[i])) }
                return Int(count)
            }
        }
    }

    private func control(_ op: Int32, _ member: FileDescriptor, _ events: UInt32, _ token: UInt64)
        throws(SystemCallError)
    {
        let result = chost_epoll_ctl(owned.raw.rawValue, op, member.rawValue, events, token)
        if result < 0 { throw SystemCallError(operation: "epoll_ctl", errno: Errno(rawValue: -result)) }
    }
}
