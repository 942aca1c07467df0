import Devices
import HostSupport

/// How a VM's virtio devices are served: on an event loop (whose, and how it polls) or inline on
/// the vCPU that notifies.
///
/// The default — one loop for the VM, polling adaptively — suits most VMs. Polling spends CPU
/// to save wake-ups, so it pays only where the loop has a CPU to itself: on a host with more
/// runnable threads than CPUs a polling loop and the vCPU it waits for take turns on one CPU,
/// and a request can cost more than with no polling (measured on a 2-CPU host with a build
/// running beside: 42 µs a request instead of 17 µs) — use `polling: .off` there. Inline service
/// skips the loop and the ioeventfd: a notification exits to the vCPU, which serves the request
/// before it returns to the guest; it is the cheapest path for one vCPU with one request in
/// flight, and the worst when requests are slow (the vCPU waits for the disk) or several vCPUs
/// share a device (see devices-bench for the figures on this host).
public struct DeviceServiceConfiguration: Codable, Sendable, Hashable {
    /// Which loop serves a device when ``queues`` is `VirtioQueueService.eventLoop`.
    public enum Loop: String, Codable, Sendable, Hashable, CaseIterable {
        /// One loop thread for all the VM's devices.
        case perVM
        /// One loop thread per device.
        case perDevice
    }

    /// Where the queues are served.
    public var queues: VirtioQueueService
    /// Which loop, when on a loop (a loop passed to the VM or the manager overrides it).
    public var loop: Loop
    /// How the VM's own loops poll before they sleep.
    public var polling: EventLoopPolling

    /// A service configuration; the default is one loop per VM, polling adaptively (QEMU's
    /// iothread defaults).
    public init(queues: VirtioQueueService = .eventLoop, loop: Loop = .perVM, polling: EventLoopPolling = .adaptive) {
        self.queues = queues
        self.loop = loop
        self.polling = polling
    }
}
