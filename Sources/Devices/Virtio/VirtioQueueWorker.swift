import KVM
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
    public let transport: VirtioMMIOTransport
    private let stopSignal: EventFD
    private let thread = Mutex<pthread_t?>(nil)
    private let wakeups = Atomic<UInt64>(0)

    public init(transport: VirtioMMIOTransport) throws(KVMError) {
        self.transport = transport
        stopSignal = try EventFD(nonBlocking: true)
    }

    deinit { stop() }

    /// Notifications taken from the eventfd so far (several guest notifies may merge into one).
    public var notificationCount: UInt64 { wakeups.load(ordering: .relaxed) }

    /// Starts the thread (once).
    public func start() throws(KVMError) {
        try thread.withLock { (current) throws(KVMError) in
            guard current == nil else { return }
            let context = Unmanaged.passRetained(self).toOpaque()
            var handle = pthread_t()
            let result = pthread_create(&handle, nil, { raw in
                let worker = Unmanaged<VirtioQueueWorker>.fromOpaque(raw!).takeRetainedValue()
                worker.run()
                return nil
            }, context)
            guard result == 0 else {
                Unmanaged<VirtioQueueWorker>.fromOpaque(context).release()
                throw .systemCall(operation: "pthread_create", errno: .init(rawValue: result))
            }
            current = handle
        }
    }

    /// Stops and joins the thread; safe to call more than once.
    public func stop() {
        guard let handle = thread.withLock({ current -> pthread_t? in
            defer { current = nil }
            return current
        }) else { return }
        stopSignal.trigger()
        pthread_join(handle, nil)
    }

    private func run() {
        var fds = [
            pollfd(fd: transport.queueNotify.fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0),
            pollfd(fd: stopSignal.fileDescriptor.rawValue, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let result = poll(&fds, 2, -1)
            if result < 0 {
                if errno == EINTR { continue }
                return
            }
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
