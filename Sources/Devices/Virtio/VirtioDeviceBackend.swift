import GuestMemory
import HostSupport

/// A virtio device type (block, network, …) behind a transport: what it offers and how it
/// serves one descriptor chain. The transport owns the queues, validates chains and writes the
/// used ring; the backend only moves request data.
public protocol VirtioDeviceBackend: AnyObject, Sendable {
    /// The virtio device id (2 = block).
    var deviceID: UInt32 { get }
    /// The feature bits offered (``VirtioFeature/version1`` must be among them).
    var deviceFeatures: UInt64 { get }
    /// The maximum size of each queue; the count is the number of queues.
    var queueSizeMax: [UInt16] { get }
    /// Reads `data.count` bytes of the configuration space at `offset`; bytes past its end read as zero.
    func readConfig(offset: UInt64, into data: UnsafeMutableRawBufferPointer)
    /// Serves one chain from queue `queue` and returns the number of bytes written into its
    /// writable buffers (the used element's `len`).
    ///
    /// Generic over the memory: the transport passes its guest memory as the concrete type when
    /// it knows it (a `GuestMemoryMap`, or an `AtomicGuestMemory`'s current map, taken once per
    /// pass), so a backend that checks `Memory.self` against those types can serve the chain
    /// through code specialized for them, without a runtime cast.
    func serve(_ chain: DescriptorChain, queue: Int, memory: some GuestMemoryAccess) -> UInt32
}
