import DeviceModel
import GuestMemory
import HostSupport
import Synchronization

/// A virtio device type (block, console, entropy, …) behind a transport: what it offers and how
/// it serves its queues. The transport owns the queues, validates chains and writes the used
/// ring; the backend only moves request data.
///
/// A queue is served in one of two ways:
/// - by the transport (the default): every chain the driver makes available is handed to
///   ``serve(_:queue:memory:)`` at once and completed with the length it returns — requests the
///   device can always answer (a disk, an entropy source, a transmit queue without back-pressure);
/// - by the device (``deviceDrivenQueues``): the transport only tells the backend that the driver
///   notified (``queueNotified(_:)``), and the backend takes chains through
///   ``VirtioQueueAccess/takeChains(queue:_:)`` when it has something for them — receive queues,
///   filled when input arrives, and transmit queues that stop while their output is full. A
///   chain the device cannot use yet stays in the ring, so nothing is held outside it.
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
    /// writable buffers (the used element's `len`). Called for the queues the transport serves
    /// (not for ``deviceDrivenQueues``).
    ///
    /// Generic over the memory: the transport passes its guest memory as the concrete type when
    /// it knows it (a `GuestMemoryMap`, or an `AtomicGuestMemory`'s current map, taken once per
    /// pass), so a backend that checks `Memory.self` against those types can serve the chain
    /// through code specialized for them, without a runtime cast.
    func serve(_ chain: DescriptorChain, queue: Int, memory: some GuestMemoryAccess) -> UInt32

    /// The queues the device takes chains from itself (see the type's discussion). Default: none.
    var deviceDrivenQueues: Set<Int> { get }
    /// Called once by the transport's initializer: the queues the backend takes chains from and
    /// signals configuration changes through. Keep it weakly (the transport holds the backend).
    /// Default: nothing.
    func connect(to queues: any VirtioQueueAccess)
    /// The driver notified a device-driven queue (or the transport came back to one it left
    /// chains on): take chains now if there is something for them. Called on the thread that
    /// serves the transport (its event loop, or the notifying vCPU). Default: nothing.
    func queueNotified(_ queue: Int)
    /// The driver reset the device (`Status` 0): the queues are gone; drop what belonged to the
    /// driver's session. Default: nothing.
    func driverReset()
    /// Writes `data` at `offset` of the configuration space (most fields are read-only:
    /// ignored). Default: ignored.
    func writeConfig(offset: UInt64, from data: UnsafeRawBufferPointer)
    /// Sources the device itself is served from on the transport's event loop (an input
    /// descriptor, a socket), registered with the transport's own. Default: none.
    var eventSources: [DeviceEventSource] { get }
}

extension VirtioDeviceBackend {
    /// None: the transport serves every queue.
    public var deviceDrivenQueues: Set<Int> { [] }
    /// Nothing to keep.
    public func connect(to queues: any VirtioQueueAccess) {}
    /// Nothing to do.
    public func queueNotified(_ queue: Int) {}
    /// Nothing to drop.
    public func driverReset() {}
    /// Read-only configuration space.
    public func writeConfig(offset: UInt64, from data: UnsafeRawBufferPointer) {}
    /// No sources of its own.
    public var eventSources: [DeviceEventSource] { [] }
}

/// What a backend reaches of its transport: the chains of its device-driven queues, and the
/// configuration-change interrupt. ``VirtioMMIOTransport`` is one.
public protocol VirtioQueueAccess: AnyObject, Sendable {
    /// Takes the chains the driver made available on `queue`, in order, while `body` uses them:
    /// `body` returns the bytes it wrote into the chain's writable buffers (the chain is
    /// completed with that length) or `nil` (the chain goes back to the ring untouched, and
    /// taking stops). The completed chains are published together, with one interrupt if the
    /// driver wants one. Returns the number completed: 0 when the queue is not running (not set
    /// up, the driver not ready, the device needing a reset) or has nothing available.
    ///
    /// At most the queue's size is taken per call; if chains remain, the transport calls
    /// ``VirtioDeviceBackend/queueNotified(_:)`` again later. A broken chain puts the device in
    /// `DEVICE_NEEDS_RESET`, as for served queues. Safe from any thread; `body` runs with the
    /// queue locked, so it must not call back into the transport.
    @discardableResult
    func takeChains(queue: Int, _ body: (DescriptorChain, any GuestMemoryAccess) -> UInt32?) -> Int
    /// Takes chains like ``takeChains(queue:_:)``, in groups that complete together or not at
    /// all — a frame spread over several receive buffers (virtio-net's `MRG_RXBUF`): `body` says
    /// for each chain whether it is the last of its group (``ChainGroupStep/last(_:)``), has more
    /// to come (``ChainGroupStep/more(_:)``), or goes back (``ChainGroupStep/giveBack``). A group
    /// left unfinished — the ring ran out, the pass ended, a chain went back in its middle — is
    /// undone: its chains return to the ring untouched as far as the driver can tell (what
    /// `body` wrote into them is never published), and the outcome says so, so the device
    /// starts that group again later. Same threading rules as ``takeChains(queue:_:)``.
    @discardableResult
    func takeChainGroups(
        queue: Int, _ body: (DescriptorChain, any GuestMemoryAccess) -> ChainGroupStep
    ) -> ChainGroupOutcome
    /// Raises the configuration-change interrupt (the configuration space changed: a console's
    /// size, a link's status) and advances `ConfigGeneration`.
    func signalConfigurationChange()
    /// Whether the driver has set `DRIVER_OK` (and the device does not need a reset).
    var isDriverReady: Bool { get }
    /// The features the driver accepted.
    var negotiatedFeatures: UInt64 { get }
}

/// A device-driven backend's hold on its transport: set once by
/// ``VirtioDeviceBackend/connect(to:)``, weak (the transport holds the backend), read from any
/// thread.
final class TransportLink: Sendable {
    private struct Weak {
        weak var value: (any VirtioQueueAccess)?
    }
    private let link = Mutex(Weak())

    /// Keeps `queues` (weakly).
    func connect(_ queues: any VirtioQueueAccess) { link.withLock { $0.value = queues } }

    /// The transport, while it exists.
    var queues: (any VirtioQueueAccess)? { link.withLock { $0.value } }
}

/// How ``VirtioQueueAccess/takeChainGroups(queue:_:)`` completes one chain.
public enum ChainGroupStep: Sendable, Hashable {
    /// Complete it with this many bytes written; the group goes on in the next chain.
    case more(UInt32)
    /// Complete it with this many bytes written; it ends its group (a lone chain is a group).
    case last(UInt32)
    /// Give it back to the ring and end the pass (undoing an unfinished group).
    case giveBack
}

/// What ``VirtioQueueAccess/takeChainGroups(queue:_:)`` did.
public struct ChainGroupOutcome: Sendable, Hashable {
    /// The chains completed, in whole groups.
    public var completedChains: Int
    /// Whether a group was left unfinished and undone (the device starts it again later).
    public var undoneGroup: Bool

    /// An outcome.
    public init(completedChains: Int, undoneGroup: Bool) {
        self.completedChains = completedChains
        self.undoneGroup = undoneGroup
    }
}
