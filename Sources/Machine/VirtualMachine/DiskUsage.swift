import BlockStorage
import Devices

/// One disk of a VM as built: the opened image, its virtio-blk device, the transport and the
/// queue worker serving it.
struct MachineDisk: Sendable {
    let path: String
    let device: any BlockDevice
    let block: VirtioBlockDevice
    let transport: VirtioMMIOTransport
    let worker: VirtioQueueWorker
}

/// What one disk of a VM has served so far.
public struct DiskUsage: Sendable, Equatable {
    /// The image file.
    public var path: String
    /// Requests completed by type, bytes moved and failures (virtio-blk's own counts).
    public var requests: VirtioBlockStatistics
    /// Descriptor chains the transport took from the guest's queue.
    public var chainsServed: UInt64
    /// Queue notifications the worker woke up for (ioeventfd signals).
    public var notifications: UInt64

    init(_ disk: MachineDisk) {
        path = disk.path
        requests = disk.block.statistics
        chainsServed = disk.transport.chainsServed
        notifications = disk.worker.notificationCount
    }
}
