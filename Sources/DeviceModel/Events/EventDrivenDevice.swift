import HostSupport
import Synchronization
import SystemPackage

/// One thing a device waits for — a queue's ioeventfd, a timer, a socket, a TAP device — and
/// how it is served: the handler the loop calls when the descriptor is ready, and optionally a
/// poller the loop busy-polls while its window is open (`EventLoop.Poller`).
public struct DeviceEventSource: Sendable {
    /// A name for diagnostics (`queue notify`, `rate-limit timer`).
    public var name: String
    /// The descriptor (owned by the device, which keeps it open while it is registered).
    public var descriptor: FileDescriptor
    /// What the loop waits for.
    public var events: EventLoop.Events
    /// What the loop calls when they arrive.
    public var handler: EventLoop.Handler
    /// How the loop polls the source instead of sleeping, if it can be polled.
    public var poller: EventLoop.Poller?
    /// The device's handle for changing what the loop waits for while the source is registered
    /// (its events then replace ``events``); `nil` for a source whose events never change.
    public var interest: DeviceEventInterest?

    /// A source.
    public init(
        name: String, descriptor: FileDescriptor, events: EventLoop.Events = .readable,
        poller: EventLoop.Poller? = nil, handler: @escaping EventLoop.Handler
    ) {
        self.name = name
        self.descriptor = descriptor
        self.events = events
        self.poller = poller
        self.handler = handler
    }

    /// A source whose events the device changes through `interest` (for back-pressure: an
    /// input it stops reading while it has no room, an output it watches only while bytes wait).
    public init(
        name: String, descriptor: FileDescriptor, interest: DeviceEventInterest,
        handler: @escaping EventLoop.Handler
    ) {
        self.init(name: name, descriptor: descriptor, events: interest.events, handler: handler)
        self.interest = interest
    }
}

/// What a device wants the loop to wait for on one of its sources, changeable at any time from
/// any thread: applied at once while the source is on a loop (`EventLoop.setEvents`), and at
/// registration otherwise. An empty set pauses the source.
public final class DeviceEventInterest: Sendable {
    private struct Binding {
        var events: EventLoop.Events
        var loop: EventLoop?
        var token: EventLoop.Token?
        var descriptor: FileDescriptor?
    }

    private let binding: Mutex<Binding>

    /// An interest in `events` (empty: paused).
    public init(_ events: EventLoop.Events) {
        binding = Mutex(Binding(events: events))
    }

    /// The events the device wants now.
    public var events: EventLoop.Events { binding.withLock { $0.events } }

    /// Sets the events the loop waits for (empty: none — the source is paused).
    ///
    /// - Throws: `SystemCallError` from `epoll_ctl` (the descriptor was closed while
    ///   registered); the loop keeps the previous events, the interest records the new ones.
    public func set(_ events: EventLoop.Events) throws(SystemCallError) {
        try binding.withLock { (b) throws(SystemCallError) in
            guard b.events != events else { return }
            b.events = events
            if let loop = b.loop, let token = b.token, let descriptor = b.descriptor {
                try loop.setEvents(events, for: token, descriptor: descriptor)
            }
        }
    }

    /// Called by `EventLoop.serve(_:)` once the source is registered: applies the current
    /// events (a paused source is registered, then paused).
    func bind(loop: EventLoop, token: EventLoop.Token, descriptor: FileDescriptor, registeredWith: EventLoop.Events)
        throws(SystemCallError)
    {
        try binding.withLock { (b) throws(SystemCallError) in
            b.loop = loop
            b.token = token
            b.descriptor = descriptor
            if b.events != registeredWith { try loop.setEvents(b.events, for: token, descriptor: descriptor) }
        }
    }

    /// Called when the source is deregistered.
    func unbind() {
        binding.withLock { b in
            b.loop = nil
            b.token = nil
            b.descriptor = nil
        }
    }
}

/// A device served on an `EventLoop` the embedder chooses (one per VM, one per device, or one
/// shared by many VMs): it declares its event sources, and `EventLoop.serve(_:)` registers
/// them.
public protocol EventDrivenDevice: AnyObject, Sendable {
    /// The sources the device is served from.
    var eventSources: [DeviceEventSource] { get }
}

/// A device's sources on a loop; ``cancel()`` takes them off (also done when the registration
/// goes away).
public final class DeviceEventRegistration: Sendable {
    /// The loop serving the device.
    public let loop: EventLoop
    typealias Entry = (token: EventLoop.Token, descriptor: FileDescriptor, interest: DeviceEventInterest?)
    private let entries: Mutex<[Entry]>

    init(loop: EventLoop, entries: [Entry]) {
        self.loop = loop
        self.entries = Mutex(entries)
    }

    deinit { cancel() }

    /// Deregisters every source: when this returns none of the device's handlers or pollers runs
    /// (unless called from one of them), and none will again. Safe to call more than once.
    public func cancel() {
        let entries = self.entries.withLock { entries in
            defer { entries = [] }
            return entries
        }
        // The descriptors are still open (the device is alive: the handlers hold it), so epoll
        // only refuses a descriptor it never had — nothing to undo then.
        for entry in entries {
            entry.interest?.unbind()
            try? loop.deregister(entry.token, descriptor: entry.descriptor)
        }
    }
}

extension EventLoop {
    /// Registers every source of `device`; all or nothing.
    ///
    /// - Throws: `SystemCallError` from `epoll_ctl` (the sources registered before it are
    ///   taken off again).
    public func serve(_ device: some EventDrivenDevice) throws(SystemCallError) -> DeviceEventRegistration {
        var entries: [DeviceEventRegistration.Entry] = []
        do {
            for source in device.eventSources {
                // A paused interest registers for its events later: epoll needs some to add.
                let events = source.interest.map { $0.events.isEmpty ? .readable : $0.events } ?? source.events
                let token = try register(source.descriptor, for: events, poller: source.poller, handler: source.handler)
                entries.append((token, source.descriptor, source.interest))
                try source.interest?.bind(
                    loop: self, token: token, descriptor: source.descriptor, registeredWith: events)
            }
        } catch {
            DeviceEventRegistration(loop: self, entries: entries).cancel()
            throw error
        }
        return DeviceEventRegistration(loop: self, entries: entries)
    }
}
