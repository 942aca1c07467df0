import BlockStorage
import Devices

/// One disk of a VM as built: the opened image, its virtio-blk device and the transport.
struct MachineDisk: Sendable {
    let path: String
    let device: any BlockDevice
    let block: VirtioBlockDevice
    let transport: VirtioMMIOTransport
}

/// What one disk of a VM has served so far.
public struct DiskUsage: Sendable, Equatable {
    /// The image file.
    public var path: String
    /// Requests completed by type, bytes moved and failures (virtio-blk's own counts).
    public var requests: VirtioBlockStatistics
    /// Descriptor chains the transport took from the guest's queue.
    public var chainsServed: UInt64
    /// Queue notifications taken (ioeventfd signals read by the loop, or notifies served
    /// inline); a polling loop takes few.
    public var notifications: UInt64
    /// Passes that completed chains: each published its used elements at once and raised at
    /// most one interrupt.
    public var batches: UInt64
    /// Used-buffer interrupts raised.
    public var interrupts: UInt64

    init(_ disk: MachineDisk) {
        path = disk.path
        requests = disk.block.statistics
        chainsServed = disk.transport.chainsServed
        let statistics = disk.transport.statistics
        notifications = statistics.notifications
        batches = statistics.batches
        interrupts = statistics.interrupts
    }
}
