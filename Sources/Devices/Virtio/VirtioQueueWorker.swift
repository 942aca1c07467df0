import HostSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A host thread that serves a transport's queues: it waits on the transport's
/// ``VirtioMMIOTransport/queueNotify`` eventfd (an ioeventfd under KVM) and calls
/// ``VirtioMMIOTransport/processQueues()`` after every notification.
///
/// ``stop()`` (also run by `deinit`) wakes the thread through a second eventfd and joins it.
public final class VirtioQueueWorker: Sendable {
    /// The transport whose queues the thread serves.
    public let transport: VirtioMMIOTransport
    private let stopSignal: EventFD
    private let thread = Mutex<HostThread?>(nil)
    private let wakeups = Atomic<UInt64>(0)

    /// A worker for `transport`; the thread starts with ``start()``.
    ///
    /// - Throws: `SystemCallError` when the stop eventfd cannot be created.
    public init(transport: VirtioMMIOTransport) throws(SystemCallError) {
        self.transport = transport
        stopSignal = try EventFD(nonBlocking: true)
    }

    deinit { stop() }

    /// Notifications taken from the eventfd so far (several guest notifies may merge into one).
    public var notificationCount: UInt64 { wakeups.load(ordering: .relaxed) }

    /// Starts the thread (once; later calls do nothing).
    ///
    /// - Throws: `SystemCallError` when the thread cannot be created.
    public func start() throws(SystemCallError) {
        try thread.withLock { (current) throws(SystemCallError) in
            guard current == nil else { return }
            // The thread holds the worker until it returns.
            let handle = try HostThread.spawn { self.run() }
            current = handle
        }
    }

    /// Stops and joins the thread; safe to call more than once.
    public func stop() {
        guard
            let handle = thread.withLock({ current -> HostThread? in
                defer { current = nil }
                return current
            })
        else { return }
        stopSignal.trigger()
        handle.join()
    }

    private func run() {
        var fds = [
            pollfd(fd: transport.queueNotify.fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopSignal.fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            guard (try? SystemCall.retrying("poll") { poll(&fds, 2, -1) }) != nil else { return }
            if fds[1].revents != 0 {
                _ = try? stopSignal.read()
                return
            }
            if fds[0].revents != 0 {
                if let count = try? transport.queueNotify.read(), count > 0 {
                    wakeups.add(1, ordering: .relaxed)
                    transport.processQueues()
                }
            }
        }
    }
}
