import CHostSupport
import Synchronization
import SystemPackage

/// One host thread serving many descriptors through epoll: ioeventfds, sockets, timers, TAP
/// devices. A source is registered with the events it waits for and a handler the loop thread
/// calls when they arrive; sources come and go while the loop runs.
///
/// ```swift
/// let loop = try EventLoop(name: "vm0-devices")
/// let doorbell = try EventFD()
/// let token = try loop.register(doorbell.fileDescriptor, for: .readable) { _ in
///     _ = try? doorbell.read()
///     // serve the queue
/// }
/// try loop.start()
/// // …
/// try loop.deregister(token, descriptor: doorbell.fileDescriptor)  // not running, never again
/// loop.stop()                  // joins the thread
/// ```
///
/// Level-triggered: a handler that leaves its source readable is called again on the next turn.
/// Handlers run one at a time on the loop thread and should not block. ``deregister(_:descriptor:)`` from
/// another thread waits for a call of that handler in progress to return, so what the handler
/// uses may be released as soon as it returns.
public final class EventLoop: Sendable {
    /// What a source waits for, and what arrived.
    public struct Events: OptionSet, Sendable, Hashable {
        /// The epoll event bits.
        public let rawValue: UInt32
        /// Creates events from epoll's bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Data to read (`EPOLLIN`).
        public static let readable = Events(rawValue: 0x001)
        /// Room to write (`EPOLLOUT`).
        public static let writable = Events(rawValue: 0x004)
        /// An error on the descriptor (`EPOLLERR`; always reported).
        public static let error = Events(rawValue: 0x008)
        /// The peer hung up (`EPOLLHUP`; always reported).
        public static let hangUp = Events(rawValue: 0x010)
    }

    /// A registration, for ``EventLoop/deregister(_:descriptor:)``.
    public struct Token: Hashable, Sendable, CustomStringConvertible {
        let value: UInt64
        /// `source N`.
        public var description: String { "source \(value)" }
    }

    /// What a source's handler is given: the events that arrived.
    public typealias Handler = @Sendable (Events) -> Void

    struct State {
        var handlers: [UInt64: Handler] = [:]
        var nextToken: UInt64 = 1
        /// The token whose handler the loop thread is calling.
        var dispatching: UInt64?
        var thread: HostThread?
        var threadID: Int32?
        var stopping = false
        var dispatched: UInt64 = 0
        var wakeups: UInt64 = 0
        var failure: SystemCallError?
    }

    /// What the loop thread uses: it holds this, not the ``EventLoop``, so dropping the loop
    /// stops it.
    final class Core: Sendable {
        let epoll: OwnedDescriptor
        /// Wakes the loop for a stop (token 0).
        let wake: EventFD
        let state = ConditionLock(State())

        init(epoll: consuming OwnedDescriptor, wake: EventFD) {
            self.epoll = epoll
            self.wake = wake
        }
    }

    /// A name for diagnostics.
    public let name: String
    private let core: Core
    private var epoll: FileDescriptor { core.epoll.raw }
    private var wake: EventFD { core.wake }
    private var state: ConditionLock<State> { core.state }

    /// A loop (not running yet) with its epoll instance.
    ///
    /// - Throws: ``SystemCallError`` from `epoll_create1` or `eventfd` (out of descriptors).
    public init(name: String = "event-loop") throws(SystemCallError) {
        self.name = name
        let fd = chost_epoll_create()
        guard fd >= 0 else { throw SystemCallError(operation: "epoll_create1", errno: Errno(rawValue: -fd)) }
        let epoll = OwnedDescriptor(rawValue: fd)
        let wake = try EventFD()
        try Self.control(epoll.raw, 1, wake.fileDescriptor, Events.readable.rawValue, 0)
        core = Core(epoll: epoll, wake: wake)
    }

    deinit { stop() }

    /// Adds `descriptor` to the loop: `handler` runs on the loop thread whenever one of `events`
    /// (or an error or hang-up) is pending. The descriptor stays the caller's; deregister it
    /// before closing it.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl` (`EEXIST` for a descriptor already in
    ///   the loop, `EPERM` for one epoll cannot watch, such as a regular file).
    @discardableResult
    public func register(_ descriptor: FileDescriptor, for events: Events, handler: @escaping Handler)
        throws(SystemCallError) -> Token
    {
        let token = state.withLock { s in
            defer { s.nextToken += 1 }
            s.handlers[s.nextToken] = handler
            return s.nextToken
        }
        do {
            try Self.control(epoll, 1, descriptor, events.rawValue, token)
        } catch {
            state.withLock { _ = $0.handlers.removeValue(forKey: token) }
            throw error
        }
        return Token(value: token)
    }

    /// Removes a source: when this returns its handler is not running (unless this is called
    /// from that handler) and will not run again. Deregistering twice is harmless.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl` when the kernel refuses (`EBADF`: the
    ///   descriptor was closed before it was deregistered); the handler is removed anyway.
    public func deregister(_ token: Token, descriptor: FileDescriptor) throws(SystemCallError) {
        let onLoop = state.withLock { $0.threadID == HostThread.currentKernelID }
        let known = state.wait(until: { onLoop || $0.dispatching != token.value }) { s in
            s.handlers.removeValue(forKey: token.value) != nil
        }
        if known { try Self.control(epoll, 3, descriptor, 0, token.value) }
    }

    /// Starts the loop thread.
    ///
    /// - Throws: ``SystemCallError`` when the thread cannot be created or the loop already runs
    ///   or was stopped (`EBUSY`).
    public func start() throws(SystemCallError) {
        try state.withLock { (s) throws(SystemCallError) in
            guard s.thread == nil, !s.stopping else {
                throw SystemCallError(operation: "start \(name)", errno: .resourceBusy)
            }
            let core = self.core
            s.thread = try HostThread.spawn { core.run() }
        }
    }

    /// Stops the loop: the handler in progress returns, no other runs, and the thread is joined
    /// (from a handler, the loop ends after it returns). Safe to call more than once.
    public func stop() {
        let thread = state.withLock { s -> HostThread? in
            s.stopping = true
            defer { s.thread = nil }
            return s.thread
        }
        try? wake.signal()
        guard let thread else { return }
        if thread.isCurrent { thread.detach() } else { thread.join() }
    }

    /// Handler calls made so far.
    public var dispatched: UInt64 { state.withLock { $0.dispatched } }

    /// Times the loop woke from `epoll_wait` with something to do.
    public var wakeups: UInt64 { state.withLock { $0.wakeups } }

    /// Why the loop thread ended on its own (`epoll_wait` failing), if it did.
    public var failure: SystemCallError? { state.withLock { $0.failure } }

    /// The loop thread's kernel id while it runs.
    public var threadID: Int32? { state.withLock { $0.threadID } }

    private static func control(
        _ epoll: FileDescriptor, _ op: Int32, _ fd: FileDescriptor, _ events: UInt32, _ token: UInt64
    )
        throws(SystemCallError)
    {
        let result = chost_epoll_ctl(epoll.rawValue, op, fd.rawValue, events, token)
        if result < 0 { throw SystemCallError(operation: "epoll_ctl", errno: Errno(rawValue: -result)) }
    }
}

extension EventLoop.Core {
    /// The loop thread's body.
    func run() {
        state.withLock { $0.threadID = HostThread.currentKernelID }
        defer { state.withLock { $0.threadID = nil } }
        var tokens = [UInt64](repeating: 0, count: 64)
        var events = [UInt32](repeating: 0, count: 64)
        while !state.withLock({ $0.stopping }) {
            let count = chost_epoll_wait(epoll.raw.rawValue, &tokens, &events, 64, -1)
            if count < 0 {
                if -count == Errno.interrupted.rawValue { continue }
                // The epoll descriptor itself is unusable (EBADF, EINVAL): say why, and end.
                state.withLock { $0.failure = SystemCallError(operation: "epoll_wait", errno: Errno(rawValue: -count)) }
                return
            }
            state.withLock { $0.wakeups += 1 }
            for i in 0..<Int(count) where tokens[i] != 0 {
                let token = tokens[i]
                // Looked up now: a source deregistered earlier in this batch is skipped.
                guard
                    let handler = state.withLock({ s -> EventLoop.Handler? in
                        guard !s.stopping, let handler = s.handlers[token] else { return nil }
                        s.dispatching = token
                        return handler
                    })
                else { continue }
                handler(EventLoop.Events(rawValue: events[i]))
                state.withLock { s in
                    s.dispatching = nil
                    s.dispatched += 1
                }
            }
        }
    }
}
