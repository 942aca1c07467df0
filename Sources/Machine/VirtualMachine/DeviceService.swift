import DeviceModel
import Devices
import HostSupport
import Synchronization

/// The event loops serving a VM's virtio transports (per its ``DeviceServiceConfiguration``, or
/// a loop the embedder shares), and the transports' registrations on them.
///
/// Loops the VM created start with it and stop with it; a shared loop is the embedder's to start
/// and stop, and the VM only puts its devices on it and takes them off. Nothing is registered for
/// inline service.
final class DeviceService: Sendable {
    let configuration: DeviceServiceConfiguration
    /// The loops this VM created.
    let ownLoops: [EventLoop]
    /// The loop of each transport (empty for inline service).
    let assignments: [(transport: VirtioMMIOTransport, loop: EventLoop)]
    private let registrations = Mutex<[DeviceEventRegistration]>([])
    private let started = Atomic<Bool>(false)

    /// Loops for `transports` of the VM `name`, or `shared`.
    init(
        _ configuration: DeviceServiceConfiguration, transports: [VirtioMMIOTransport], shared: EventLoop?,
        name: String
    ) throws(SystemCallError) {
        self.configuration = configuration
        var own: [EventLoop] = []
        var assignments: [(VirtioMMIOTransport, EventLoop)] = []
        if configuration.queues == .eventLoop && !transports.isEmpty {
            if let shared {
                assignments = transports.map { ($0, shared) }
            } else if configuration.loop == .perVM {
                let loop = try EventLoop(name: "\(name)-io", polling: configuration.polling)
                own = [loop]
                assignments = transports.map { ($0, loop) }
            } else {
                for (index, transport) in transports.enumerated() {
                    let loop = try EventLoop(name: "\(name)-io\(index)", polling: configuration.polling)
                    own.append(loop)
                    assignments.append((transport, loop))
                }
            }
        }
        ownLoops = own
        self.assignments = assignments
    }

    /// Puts every transport on its loop and starts the VM's own loops (once).
    func start() throws(SystemCallError) {
        try resume()
        if !started.exchange(true, ordering: .relaxed) {
            for loop in ownLoops { try loop.start() }
        }
    }

    /// Takes every transport off its loop: when this returns none is being served by one.
    func suspend() {
        let registrations = self.registrations.withLock { current in
            defer { current = [] }
            return current
        }
        for registration in registrations { registration.cancel() }
    }

    /// Puts every transport back on its loop (after ``suspend()``).
    func resume() throws(SystemCallError) {
        try registrations.withLock { (current) throws(SystemCallError) in
            guard current.isEmpty else { return }
            for (transport, loop) in assignments { current.append(try loop.serve(transport)) }
        }
    }

    /// Takes the transports off and stops the VM's own loops.
    func stop() {
        suspend()
        for loop in ownLoops { loop.stop() }
    }

    /// The statistics of every loop serving the VM (own or shared), once each.
    var loopStatistics: [EventLoop.Statistics] {
        var seen: [ObjectIdentifier] = []
        var statistics: [EventLoop.Statistics] = []
        for (_, loop) in assignments where !seen.contains(ObjectIdentifier(loop)) {
            seen.append(ObjectIdentifier(loop))
            statistics.append(loop.statistics)
        }
        return statistics
    }
}
