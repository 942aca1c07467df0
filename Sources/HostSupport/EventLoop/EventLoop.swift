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
        /// The peer of a stream socket shut down its writing side (`EPOLLRDHUP`): what is left
        /// to read ends in end-of-file.
        public static let peerShutdownWriting = Events(rawValue: 0x2000)
        /// Edge-triggered (`EPOLLET`), for an ``EpollSet`` member: reported once per change of
        /// readiness, not while it lasts, so the owner reads or writes until `EAGAIN` and
        /// remembers what it has not drained (an ``EventLoop`` source is level-triggered).
        public static let edgeTriggered = Events(rawValue: 1 << 31)
        /// Not from epoll: the source's ``Poller`` found work while the loop polled.
        public static let polled = Events(rawValue: 1 << 30)
    }

    /// A registration, for ``EventLoop/deregister(_:descriptor:)``.
    public struct Token: Hashable, Sendable, CustomStringConvertible {
        let value: UInt64
        /// `source N`.
        public var description: String { "source \(value)" }
    }

    /// What a source's handler is given: the events that arrived.
    public typealias Handler = @Sendable (Events) -> Void

    /// What a source can be busy-polled with (QEMU's `io_poll`): while the loop polls (see
    /// ``EventLoopPolling``), it calls ``poll`` over and over instead of sleeping — and the
    /// source's handler with ``Events/polled`` once it finds work —, and the source's
    /// notifications are switched off, so a producer that keeps it busy never pays a wake-up
    /// (nor makes its consumer pay one).
    public struct Poller: Sendable {
        /// Whether there is work; cheap and without side effects (a virtqueue compares two ring
        /// indices). The loop serves it by calling the source's handler.
        public var poll: @Sendable () -> Bool
        /// Switches the source's notifications off (`false`, when polling starts) or back on
        /// (`true`, when it stops; the loop then polls once more, so work that arrived in
        /// between is not left without a notification).
        public var setNotifications: @Sendable (Bool) -> Void

        /// A poller.
        public init(poll: @escaping @Sendable () -> Bool, setNotifications: @escaping @Sendable (Bool) -> Void) {
            self.poll = poll
            self.setNotifications = setNotifications
        }
    }

    /// What the loop has done so far.
    public struct Statistics: Sendable, Hashable {
        /// Handler calls.
        public var dispatched: UInt64 = 0
        /// Returns from `epoll_wait` with something to do.
        public var wakeups: UInt64 = 0
        /// Polling turns that found work, and those that ran out of window.
        public var pollHits: UInt64 = 0
        /// Polling turns that ran out of window (the loop then slept).
        public var pollMisses: UInt64 = 0
        /// CPU time spent polling, in nanoseconds (the window's cost: on a busy host, taken from
        /// someone else).
        public var pollingNanoseconds: UInt64 = 0
        /// The current polling window, in nanoseconds.
        public var pollWindow: UInt64 = 0

        /// All zero.
        public init() {}
    }

    struct State {
        var handlers: [UInt64: Handler] = [:]
        var pollers: [UInt64: Poller] = [:]
        /// Changes whenever ``pollers`` does, so the loop copies the list only then.
        var pollerGeneration: UInt64 = 0
        /// Pollers whose notifications the loop switched off.
        var suppressed: Set<UInt64> = []
        /// Sources taken out of epoll by ``EventLoop/setEvents(_:for:descriptor:)`` with no
        /// events (their handlers kept).
        var paused: Set<UInt64> = []
        var nextToken: UInt64 = 1
        /// The token whose handler or poller the loop thread is calling.
        var dispatching: UInt64?
        var thread: HostThread?
        var threadID: Int32?
        var stopping = false
        var polling: EventLoopPolling = .off
        var adaptive: AdaptivePolling?
        var statistics = Statistics()
        var failure: SystemCallError?

        /// The window for the next turn.
        var pollWindow: UInt64 {
            switch polling {
            case .off: 0
            case .fixed(let nanoseconds): nanoseconds
            case .adaptive: adaptive?.window ?? 0
            }
        }
    }

    /// What the loop thread uses: it holds this, not the ``EventLoop``, so dropping the loop
    /// stops it.
    final class Core: Sendable {
        let epoll: EpollSet
        /// Wakes the loop for a stop (token 0).
        let wake: EventFD
        let state = ConditionLock(State())
        /// Set by ``EventLoop/stop()``: a polling turn ends at once.
        let stopping = Atomic<Bool>(false)

        init(epoll: EpollSet, wake: EventFD) {
            self.epoll = epoll
            self.wake = wake
        }
    }

    /// A name for diagnostics.
    public let name: String
    private let core: Core
    private var epoll: EpollSet { core.epoll }
    private var wake: EventFD { core.wake }
    private var state: ConditionLock<State> { core.state }

    /// A loop (not running yet) with its epoll instance.
    ///
    /// - Throws: ``SystemCallError`` from `epoll_create1` or `eventfd` (out of descriptors).
    public init(name: String = "event-loop", polling: EventLoopPolling = .off) throws(SystemCallError) {
        self.name = name
        let epoll = try EpollSet()
        let wake = try EventFD()
        try epoll.add(wake.fileDescriptor, events: .readable, token: 0)
        core = Core(epoll: epoll, wake: wake)
        setPolling(polling)
    }

    /// Changes how the loop polls (from its next turn; an adaptive window starts again at 0).
    public func setPolling(_ polling: EventLoopPolling) {
        state.withLock { s in
            s.polling = polling
            if case .adaptive(let parameters) = polling {
                s.adaptive = AdaptivePolling(parameters)
            } else {
                s.adaptive = nil
            }
            s.statistics.pollWindow = s.pollWindow
        }
    }

    /// How the loop polls.
    public var polling: EventLoopPolling { state.withLock { $0.polling } }

    deinit { stop() }

    /// Adds `descriptor` to the loop: `handler` runs on the loop thread whenever one of `events`
    /// (or an error or hang-up) is pending. The descriptor stays the caller's; deregister it
    /// before closing it.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl` (`EEXIST` for a descriptor already in
    ///   the loop, `EPERM` for one epoll cannot watch, such as a regular file).
    ///
    /// With a `poller`, the loop also busy-polls the source while its ``polling`` window is open
    /// (see ``Poller``).
    @discardableResult
    public func register(
        _ descriptor: FileDescriptor, for events: Events, poller: Poller? = nil, handler: @escaping Handler
    ) throws(SystemCallError) -> Token {
        let token = state.withLock { s in
            defer { s.nextToken += 1 }
            s.handlers[s.nextToken] = handler
            return s.nextToken
        }
        do {
            try epoll.add(descriptor, events: events, token: token)
        } catch {
            state.withLock { _ = $0.handlers.removeValue(forKey: token) }
            throw error
        }
        if let poller {
            state.withLock { s in
                s.pollers[token] = poller
                s.pollerGeneration &+= 1
            }
        }
        return Token(value: token)
    }

    /// Removes a source: when this returns its handler is not running (unless this is called
    /// from that handler) and will not run again. Deregistering twice is harmless.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl` when the kernel refuses (`EBADF`: the
    ///   descriptor was closed before it was deregistered); the handler is removed anyway.
    ///
    /// A source whose notifications the loop had switched off for polling gets them back
    /// (``Poller/setNotifications``) before this returns.
    public func deregister(_ token: Token, descriptor: FileDescriptor) throws(SystemCallError) {
        let onLoop = state.withLock { $0.threadID == HostThread.currentKernelID }
        let (known, restore) = state.wait(until: { onLoop || $0.dispatching != token.value }) {
            s -> (Bool, Poller?) in
            let poller = s.pollers.removeValue(forKey: token.value)
            if poller != nil { s.pollerGeneration &+= 1 }
            let suppressed = s.suppressed.remove(token.value) != nil
            let paused = s.paused.remove(token.value) != nil  // already out of epoll
            return (s.handlers.removeValue(forKey: token.value) != nil && !paused, suppressed ? poller : nil)
        }
        restore?.setNotifications(true)
        if known { try epoll.remove(descriptor) }
    }

    /// Changes what the loop waits for on a registered source: `events` replaces the set it was
    /// registered for. An empty set pauses the source — it leaves epoll, so not even an error or
    /// a hang-up wakes the loop for it — until a later call with events; its handler stays
    /// registered. This is how a device applies back-pressure: it stops reading an input it has
    /// no room for, and waits for an output to become writable only while it has bytes queued.
    ///
    /// A handler may still be called once for events epoll reported before the change. Changing
    /// a source that was deregistered does nothing.
    ///
    /// - Throws: ``SystemCallError`` named `epoll_ctl` when the kernel refuses (`EBADF`: the
    ///   descriptor was closed); the source keeps its previous events then.
    public func setEvents(_ events: Events, for token: Token, descriptor: FileDescriptor) throws(SystemCallError) {
        let epoll = self.epoll
        try state.withLock { (s) throws(SystemCallError) in
            guard s.handlers[token.value] != nil else { return }
            let paused = s.paused.contains(token.value)
            if events.isEmpty {
                guard !paused else { return }
                try epoll.remove(descriptor)
                s.paused.insert(token.value)
            } else if paused {
                try epoll.add(descriptor, events: events, token: token.value)
                s.paused.remove(token.value)
            } else {
                try epoll.modify(descriptor, events: events, token: token.value)
            }
        }
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
        core.stopping.store(true, ordering: .releasing)
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
    public var dispatched: UInt64 { state.withLock { $0.statistics.dispatched } }

    /// Times the loop woke from `epoll_wait` with something to do.
    public var wakeups: UInt64 { state.withLock { $0.statistics.wakeups } }

    /// Handler calls, wake-ups, polling turns and the CPU time they took, the current window.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Why the loop thread ended on its own (`epoll_wait` failing), if it did.
    public var failure: SystemCallError? { state.withLock { $0.failure } }

    /// The loop thread's kernel id while it runs.
    public var threadID: Int32? { state.withLock { $0.threadID } }
}

extension EventLoop.Core {
    /// The loop thread's body. Each turn: poll (while a window is open and pollers exist) until
    /// one finds work or the window closes; then wait in `epoll_wait` — without sleeping when a
    /// poll found work —; adapt the window to how long the turn waited; then call the handlers
    /// of the sources with work (``EventLoop/Events/polled``) and of those epoll reported.
    func run() {
        state.withLock { $0.threadID = HostThread.currentKernelID }
        defer { state.withLock { $0.threadID = nil } }
        var reported: [(token: UInt64, events: EventLoop.Events)] = []
        reported.reserveCapacity(EpollSet.batch)
        var pollers: [(token: UInt64, poller: EventLoop.Poller)] = []
        var ready: [UInt64] = []
        var generation: UInt64 = .max
        while true {
            guard
                let window = state.withLock({ s -> UInt64? in
                    guard !s.stopping else { return nil }
                    if s.pollerGeneration != generation {
                        generation = s.pollerGeneration
                        pollers = s.pollers.map { ($0.key, $0.value) }.sorted { $0.token < $1.token }
                    }
                    return s.pollWindow
                })
            else { return }
            let turnStart = monotonicNanoseconds()
            ready.removeAll(keepingCapacity: true)
            if window > 0 && !pollers.isEmpty {
                setNotifications(false, pollers)
                repeat {
                    poll(pollers, into: &ready)
                } while ready.isEmpty && monotonicNanoseconds() &- turnStart < window
                    && !stopping.load(ordering: .acquiring)
                let spent = monotonicNanoseconds() &- turnStart
                state.withLock { s in
                    s.statistics.pollingNanoseconds &+= spent
                    if ready.isEmpty { s.statistics.pollMisses += 1 } else { s.statistics.pollHits += 1 }
                }
            }
            if ready.isEmpty && setNotifications(true, pollers) {
                // About to sleep: notifications back on, then one more look, so work that came
                // in between is served now rather than never.
                poll(pollers, into: &ready)
            }
            reported.removeAll(keepingCapacity: true)
            let count: Int
            do {
                count = try epoll.wait(timeoutMilliseconds: ready.isEmpty ? -1 : 0) { token, events in
                    reported.append((token, events))
                }
            } catch  where error.errno == .interrupted {
                continue
            } catch {
                // The epoll descriptor itself is unusable (EBADF, EINVAL): say why, and end.
                state.withLock { $0.failure = error }
                return
            }
            // How long the turn waited for work (QEMU's block_ns): serving it is not counted.
            let blocked = monotonicNanoseconds() &- turnStart
            state.withLock { s in
                if count > 0 { s.statistics.wakeups += 1 }
                if s.adaptive != nil {
                    s.adaptive?.record(blockedFor: blocked)
                    s.statistics.pollWindow = s.pollWindow
                }
            }
            for token in ready { dispatch(token, EventLoop.Events.polled) }
            for (token, events) in reported where token != 0 { dispatch(token, events) }
        }
    }

    /// Calls the handler of `token` with `events`, unless it was deregistered meanwhile (a
    /// source deregistered earlier in this batch is skipped) or the loop stops.
    private func dispatch(_ token: UInt64, _ events: EventLoop.Events) {
        guard let handler = claim(token, { $0.handlers[token] }) else { return }
        handler(events)
        release(dispatched: true)
    }

    /// Marks `token` as being called and returns what `pick` finds for it, unless the loop
    /// stops or the source is gone.
    private func claim<T>(_ token: UInt64, _ pick: (EventLoop.State) -> T?) -> T? {
        state.withLock { s -> T? in
            guard !s.stopping, let found = pick(s) else { return nil }
            s.dispatching = token
            return found
        }
    }

    private func release(dispatched: Bool) {
        state.withLock { s in
            s.dispatching = nil
            if dispatched { s.statistics.dispatched += 1 }
        }
    }

    /// One pass over the pollers that are still registered: the tokens of those with work are
    /// added to `ready`.
    private func poll(_ pollers: [(token: UInt64, poller: EventLoop.Poller)], into ready: inout [UInt64]) {
        for (token, poller) in pollers {
            guard claim(token, { $0.pollers[token] != nil ? true : nil }) != nil else { continue }
            if poller.poll() { ready.append(token) }
            release(dispatched: false)
        }
    }

    /// Switches the notifications of the registered pollers off or back on (each once);
    /// whether any changed.
    @discardableResult
    private func setNotifications(_ on: Bool, _ pollers: [(token: UInt64, poller: EventLoop.Poller)]) -> Bool {
        var changed = false
        for (token, poller) in pollers {
            let change = claim(token) { s -> Bool? in
                guard s.pollers[token] != nil, s.suppressed.contains(token) == on else { return nil }
                return true
            }
            guard change != nil else { continue }
            changed = true
            poller.setNotifications(on)
            state.withLock { s in
                if on { s.suppressed.remove(token) } else { s.suppressed.insert(token) }
                s.dispatching = nil
            }
        }
        return changed
    }
}
