import ArgumentParser
import Devices
import HostSupport
import Machine

/// `--device-service`: how the disk's virtio queue is served.
enum DeviceServiceChoice: String, CaseIterable, ExpressibleByArgument {
    /// One event loop per VM polling adaptively before it sleeps (the library's default).
    case polling
    /// One event loop per VM that sleeps in `epoll_wait` until the ioeventfd fires.
    case loop
    /// No loop and no ioeventfd: the vCPU serves the queue in its MMIO exit.
    case inline

    /// The VM configuration's device service.
    var configuration: DeviceServiceConfiguration {
        switch self {
        case .polling: DeviceServiceConfiguration(queues: .eventLoop, polling: .adaptive)
        case .loop: DeviceServiceConfiguration(queues: .eventLoop, polling: .off)
        case .inline: DeviceServiceConfiguration(queues: .inline)
        }
    }
}
