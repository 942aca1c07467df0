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
    private let entries: Mutex<[(token: EventLoop.Token, descriptor: FileDescriptor)]>

    init(loop: EventLoop, entries: [(token: EventLoop.Token, descriptor: FileDescriptor)]) {
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
        for entry in entries { try? loop.deregister(entry.token, descriptor: entry.descriptor) }
    }
}

extension EventLoop {
    /// Registers every source of `device`; all or nothing.
    ///
    /// - Throws: `SystemCallError` from `epoll_ctl` (the sources registered before it are
    ///   taken off again).
    public func serve(_ device: some EventDrivenDevice) throws(SystemCallError) -> DeviceEventRegistration {
        var entries: [(token: EventLoop.Token, descriptor: FileDescriptor)] = []
        do {
            for source in device.eventSources {
                let token = try register(
                    source.descriptor, for: source.events, poller: source.poller, handler: source.handler)
                entries.append((token, source.descriptor))
            }
        } catch {
            DeviceEventRegistration(loop: self, entries: entries).cancel()
            throw error
        }
        return DeviceEventRegistration(loop: self, entries: entries)
    }
}
