import Devices
import HostSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The baseline the event loop replaced: version 0.1.0's `VirtioQueueWorker`, one thread per
/// transport waiting in `poll` on its notify eventfd and serving the queues after every
/// notification. Kept here only to be measured against.
final class ThreadPerQueueWorker: Sendable {
    let transport: VirtioMMIOTransport
    private let stopSignal: EventFD
    private let thread = Mutex<HostThread?>(nil)

    init(transport: VirtioMMIOTransport) throws {
        self.transport = transport
        stopSignal = try EventFD(nonBlocking: true)
    }

    deinit { stop() }

    func start() throws {
        try thread.withLock { current in
            guard current == nil else { return }
            current = try HostThread.spawn { self.run() }
        }
    }

    func stop() {
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
            if fds[0].revents != 0, let count = try? transport.queueNotify.read(), count > 0 {
                transport.processQueues()
            }
        }
    }
}
