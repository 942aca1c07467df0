import DeviceModel
import GuestMemory
import HostSupport
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The virtio MMIO transport, version 2 (virtio 1.x, section 4.2): the register window a
/// driver programs, feature negotiation, queue set-up and the split virtqueues of one
/// ``VirtioDeviceBackend``.
///
/// It is an `MMIODevice` (the `DeviceModel` target's): put it on the vCPUs' `MMIOBus` at its
/// window. How the queues are served is the ``service`` mode:
/// - ``VirtioQueueService/eventLoop`` (the default): a write to `QueueNotify` signals
///   ``queueNotify``; with KVM that register is an ioeventfd
///   (``attach(to:bus:placement:service:)``), so notifications never leave the kernel, and an
///   `EventLoop` serving the transport (it is an `EventDrivenDevice`: `loop.serve(transport)`)
///   serves the queues — and busy-polls them while its polling window is open, with the
///   driver's notifications switched off;
/// - ``VirtioQueueService/inline``: the vCPU that writes `QueueNotify` serves the queues in its
///   MMIO exit, with no thread in between.
///
/// Each pass serves every chain the driver made available (up to a queue's size), publishes
/// their used elements with one store of `used.idx`, and raises one interrupt for the batch
/// when the driver wants one (`VIRTQ_AVAIL_F_NO_INTERRUPT`, or `used_event` with
/// `VIRTIO_F_EVENT_IDX`). Completions set the used-buffer bit of the interrupt status and
/// trigger ``interrupt`` (an irqfd).
///
/// A driver that breaks the virtqueue rules (see ``VirtqueueError``) gets `DEVICE_NEEDS_RESET`
/// and a configuration-change interrupt; the broken queue is not used again until a reset.
///
/// Locking: `queues` (the running virtqueues, held while requests are served) is always taken
/// before `registers` (the register file, held only briefly), so vCPUs reading registers never
/// wait for disk I/O.
public final class VirtioMMIOTransport: MMIODevice {
    /// The device type behind the transport.
    public let backend: any VirtioDeviceBackend
    /// Guest memory, through which every ring and buffer is accessed.
    public let memory: any GuestMemoryAccess
    /// How the device interrupts the guest (an `EventFD` registered as an irqfd under KVM).
    public let interrupt: any InterruptSignal
    /// Signalled by every write to `QueueNotify` that reaches this object (an ioeventfd on
    /// the same register makes the kernel signal it instead).
    public let queueNotify: EventFD

    struct QueueRegisters {
        var size: UInt16 = 0
        var ready = false
        var descriptor: UInt64 = 0
        var driver: UInt64 = 0
        var device: UInt64 = 0
    }

    struct Registers {
        var deviceFeaturesSelect: UInt32 = 0
        var driverFeaturesSelect: UInt32 = 0
        var driverFeatures: UInt64 = 0
        var queueSelect: UInt32 = 0
        var queues: [QueueRegisters]
        var status: UInt32 = 0
        var interruptStatus: UInt32 = 0
        var configGeneration: UInt32 = 0
        var lastError: VirtqueueError?
    }

    private let queues: Mutex<[SplitVirtqueue?]>
    private let registers: Mutex<Registers>
    private let served = Atomic<UInt64>(0)
    private let batches = Atomic<UInt64>(0)
    private let notifications = Atomic<UInt64>(0)
    private let interrupts = Atomic<UInt64>(0)
    /// Whether the driver's notifications are switched off (an event loop is polling).
    private let polling = Atomic<Bool>(false)
    private let inline = Atomic<Bool>(false)
    /// Threads waiting to change the device's state (reset, queue ready, saving or restoring):
    /// queue service backs off while it is not zero, so a guest that keeps a queue busy can
    /// never keep them out.
    private let controlPending = Atomic<Int>(0)
    /// The backend's ``VirtioDeviceBackend/deviceDrivenQueues``, as a mask by queue index.
    private let deviceDriven: [Bool]

    /// Creates the transport for `backend` over `memory`, interrupting through `interrupt`.
    ///
    /// - Throws: `SystemCallError` when the ``queueNotify`` eventfd cannot be created.
    public init(backend: any VirtioDeviceBackend, memory: any GuestMemoryAccess, interrupt: any InterruptSignal)
        throws(SystemCallError)
    {
        self.backend = backend
        self.memory = memory
        self.interrupt = interrupt
        queueNotify = try EventFD(nonBlocking: true)
        let count = backend.queueSizeMax.count
        queues = Mutex([SplitVirtqueue?](repeating: nil, count: count))
        registers = Mutex(Registers(queues: [QueueRegisters](repeating: QueueRegisters(), count: count)))
        let driven = backend.deviceDrivenQueues
        deviceDriven = (0..<count).map { driven.contains($0) }
        backend.connect(to: self)
    }

    /// The features offered to the driver: the backend's plus the transport's own
    /// (``VirtioFeature/indirectDescriptors``, ``VirtioFeature/eventIndex``).
    public var offeredFeatures: UInt64 {
        backend.deviceFeatures | VirtioFeature.indirectDescriptors | VirtioFeature.eventIndex
    }

    // MARK: State seen by the VMM

    /// The device status register.
    public var status: VirtioDeviceStatus { VirtioDeviceStatus(rawValue: registers.withLock { $0.status }) }
    /// The interrupt status register (bits ``VirtioInterrupt``).
    public var interruptStatus: UInt32 { registers.withLock { $0.interruptStatus } }
    /// The features the driver accepted (valid once `FEATURES_OK` is set).
    public var negotiatedFeatures: UInt64 { registers.withLock { $0.driverFeatures } }
    /// The last virtqueue rule the driver broke, if any since the last reset.
    public var lastError: VirtqueueError? { registers.withLock { $0.lastError } }
    /// Descriptor chains served and returned in a used ring so far.
    public var chainsServed: UInt64 { served.load(ordering: .relaxed) }

    /// What the transport has done so far: chains, batches (passes that completed at least one
    /// chain), notifications taken, interrupts raised.
    public var statistics: VirtioTransportStatistics {
        VirtioTransportStatistics(
            chainsServed: served.load(ordering: .relaxed), batches: batches.load(ordering: .relaxed),
            notifications: notifications.load(ordering: .relaxed), interrupts: interrupts.load(ordering: .relaxed))
    }

    /// How the queues are served (set by ``attach(to:bus:placement:service:)``; the default is
    /// ``VirtioQueueService/eventLoop``).
    public var service: VirtioQueueService {
        get { inline.load(ordering: .relaxed) ? .inline : .eventLoop }
        set { inline.store(newValue == .inline, ordering: .relaxed) }
    }

    // MARK: Queue service

    /// Serves the chains the driver made available on every ready queue, then raises the
    /// used-buffer interrupt if any completed (unless the driver suppressed it). Called by the
    /// event loop (or the vCPU, inline); safe to call from any thread. Returns the chains served.
    ///
    /// One call serves at most a queue's size of chains per queue, and stops early when another
    /// thread is waiting to reset the device, change a queue or save its state; when it leaves
    /// chains behind it signals ``queueNotify`` again, so the loop comes back for them after
    /// that thread. A driver that keeps refilling its ring (or rewrites `avail.idx` from the
    /// device's own writes) therefore gets its share, never the device.
    @discardableResult
    public func processQueues() -> Int {
        var total = 0
        for index in 0..<backend.queueSizeMax.count { total += processQueue(index) }
        return total
    }

    /// Serves queue `index` (see ``processQueues()``); returns the chains served.
    @discardableResult
    public func processQueue(_ index: Int) -> Int {
        if isDeviceDriven(index) {
            // The device takes this queue's chains itself, when it has something for them.
            backend.queueNotified(index)
            return 0
        }
        let pass = serveQueue(index)
        if pass.leftBehind { queueNotify.trigger() }
        return pass.completed
    }

    /// Whether queue `index` is one of the backend's device-driven queues.
    func isDeviceDriven(_ index: Int) -> Bool {
        deviceDriven.indices.contains(index) && deviceDriven[index]
    }

    /// Whether queue `index` wants the driver's notifications now: unless a loop polls it (a
    /// device-driven queue is never polled).
    func wantsNotifications(_ index: Int) -> Bool {
        !isPolling || isDeviceDriven(index)
    }

    /// One pass over queue `index`: what it completed, whether it left chains behind, and
    /// whether that was because it used up its budget (rather than for a control operation).
    private func serveQueue(_ index: Int) -> (completed: Int, leftBehind: Bool, outOfBudget: Bool) {
        // Through the concrete map (a GuestMemoryMap, or an AtomicGuestMemory's current one, taken
        // once for the pass), the virtqueue's accesses are specialized rather than dispatched
        // through the existential, whose generic calls cost a runtime metadata lookup each.
        if let map = concreteMap(of: memory) {
            let pass = serveQueue(index, memory: map) { chain, map in
                .last(backend.serve(chain, queue: index, memory: map))
            }
            return (pass.completed, pass.leftBehind, pass.outOfBudget)
        }
        let pass = serveQueue(index, memory: memory) { chain, memory in
            .last(backend.serve(chain, queue: index, memory: memory))
        }
        return (pass.completed, pass.leftBehind, pass.outOfBudget)
    }

    /// One pass over queue `index` through `memory` (the transport's own guest memory, as its
    /// concrete type when known): `consume` uses each available chain and says how to complete
    /// it (``ChainGroupStep``): with a length, as the last chain of its group (a lone chain is a
    /// group of one) or with more to come; or not at all, given back to the ring, ending the pass.
    /// A group the pass cannot finish (the ring runs out, the budget or a control operation ends
    /// the pass, a chain is given back in its middle) is undone: its chains go back to the ring
    /// as if never taken, and the pass ends (`undoneGroup`).
    private func serveQueue<Memory: GuestMemoryAccess>(
        _ index: Int, memory: Memory, consume: (DescriptorChain, Memory) -> ChainGroupStep
    ) -> (completed: Int, leftBehind: Bool, outOfBudget: Bool, undoneGroup: Bool) {
        var completed = 0
        var failure: VirtqueueError?
        var interrupt = false
        var leftBehind = false, outOfBudget = false, undoneGroup = false
        if controlPending.load(ordering: .acquiring) > 0 {
            // Let the control operation take the locks first; come back after it.
            sched_yield()
            return (0, true, false, false)
        }
        queues.withLock { queues in
            guard queues.indices.contains(index), var queue = queues[index] else { return }
            let live = registers.withLock { r in
                let status = VirtioDeviceStatus(rawValue: r.status)
                return status.contains(.driverOK) && !status.contains(.needsReset)
            }
            guard live else { return }
            let oldUsed = queue.nextUsed
            let budget = Int(queue.size)
            // While a loop polls the ring, the driver's notifications stay off: do not re-arm
            // the available event.
            let polled = polling.load(ordering: .relaxed)
            do throws(VirtqueueError) {
                var again = false
                /// The queue as it was before the open group's first chain, and its chains.
                var groupStart: SplitVirtqueue?
                var groupCount = 0
                func undoGroup() {
                    guard let start = groupStart else { return }
                    queue = start
                    completed -= groupCount
                    groupStart = nil
                    undoneGroup = true
                }
                serving: repeat {
                    while true {
                        if completed == budget || controlPending.load(ordering: .acquiring) > 0 {
                            // Out of budget, or someone waits: stop without re-arming the
                            // available event (the notify signalled below brings us back).
                            leftBehind = true
                            outOfBudget = completed == budget
                            undoGroup()
                            break serving
                        }
                        let beforePop = queue
                        guard let chain = try queue.popAvailable(memory: memory) else {
                            if groupStart != nil {
                                // The ring ran out in a group's middle: undo it, and ask the
                                // driver to notify when it posts more.
                                undoGroup()
                                _ = try queue.publishAvailableEvent(memory: memory)
                                break serving
                            }
                            break
                        }
                        let step = consume(chain, memory)
                        let written: UInt32
                        switch step {
                        case .giveBack:
                            // The device has nothing for it: the chain waits in the ring, and
                            // the device comes back when it has (no need for a notification).
                            queue.undoPop()
                            undoGroup()
                            break serving
                        case .more(let length):
                            if groupStart == nil {
                                groupStart = beforePop
                                groupCount = 0
                            }
                            groupCount += 1
                            written = length
                        case .last(let length):
                            groupStart = nil
                            written = length
                        }
                        try queue.addUsed(head: chain.head, length: written, memory: memory)
                        completed += 1
                    }
                    // Device-driven queues keep their notifications while a loop polls.
                    again = polled && !isDeviceDriven(index) ? false : try queue.publishAvailableEvent(memory: memory)
                } while again
                if completed > 0 { try queue.publishUsed(memory: memory) }
                queues[index] = queue
                interrupt = completed > 0 && queue.needsInterrupt(oldUsed: oldUsed, memory: memory)
            } catch {
                failure = error
                // Chains completed before the broken one: publish them (best effort: the ring
                // may be what broke) and say so too.
                if completed > 0 { try? queue.publishUsed(memory: memory) }
                queues[index] = nil
                interrupt = completed > 0
            }
        }
        if completed > 0 {
            served.add(UInt64(completed), ordering: .relaxed)
            batches.add(1, ordering: .relaxed)
        }
        if let failure {
            fail(failure, usedBuffers: interrupt)
        } else if interrupt {
            registers.withLock { $0.interruptStatus |= VirtioInterrupt.usedBuffer }
            interrupts.add(1, ordering: .relaxed)
            self.interrupt.trigger()
        }
        return (completed, leftBehind, outOfBudget, undoneGroup)
    }

    /// Serves the queues on the calling vCPU (``VirtioQueueService/inline``): passes until none
    /// leaves chains behind for a control operation. A pass that used up its budget (a driver
    /// refilling the ring from another vCPU as fast as it is served) ends the service: the
    /// notifying vCPU must get back to its guest — and to a pause or a stop —, so the rest waits
    /// for the driver's next notification, which the available event, published again, asks for.
    private func serveInline() {
        notifications.add(1, ordering: .relaxed)
        for index in 0..<backend.queueSizeMax.count {
            if isDeviceDriven(index) {
                backend.queueNotified(index)
                continue
            }
            while true {
                let pass = serveQueue(index)
                if pass.outOfBudget {
                    queues.withLock { queues in
                        guard queues.indices.contains(index) else { return }
                        try? queues[index]?.setNotifications(true, memory: memory)
                    }
                }
                if !pass.leftBehind || pass.outOfBudget { break }
            }
        }
    }

    /// Switches the driver's notifications off (a loop starts polling the rings) or back on, on
    /// every running queue. After switching them on, poll once more: chains made available
    /// meanwhile came without a notification.
    public func setNotifications(_ on: Bool) {
        queues.withLock { queues in
            polling.store(!on, ordering: .relaxed)
            // Device-driven queues are not polled: they keep their notifications.
            for (index, queue) in queues.enumerated() where !isDeviceDriven(index) {
                // A ring the driver broke is found again (and reported) when it is next served.
                try? queue?.setNotifications(on, memory: memory)
            }
        }
    }

    /// Whether the driver's notifications are switched off because a loop polls the rings.
    var isPolling: Bool { polling.load(ordering: .relaxed) }

    /// Whether the driver made chains available on a running queue that are not served yet
    /// (an event loop's poller asks this; its handler then serves them). A comparison of ring
    /// indices per queue.
    public var hasPendingChains: Bool {
        if let map = concreteMap(of: memory) { return hasPendingChains(memory: map) }
        return hasPendingChains(memory: memory)
    }

    /// ``hasPendingChains`` over `memory` (as its concrete type when known).
    private func hasPendingChains<Memory: GuestMemoryAccess>(memory: Memory) -> Bool {
        queues.withLock { queues in
            queues.indices.contains { !isDeviceDriven($0) && queues[$0]?.hasAvailable(memory: memory) == true }
        }
    }

    /// Runs `body` (which takes the locks) ahead of queue service: service stops between two
    /// chains and does not start again until `body` returns.
    private func control<R>(_ body: () -> R) -> R {
        controlPending.add(1, ordering: .releasing)
        defer { controlPending.subtract(1, ordering: .releasing) }
        return body()
    }

    /// Enters the error state: `DEVICE_NEEDS_RESET` plus a configuration-change interrupt (and
    /// the used-buffer one when `usedBuffers`: chains completed before the error).
    private func fail(_ error: VirtqueueError, usedBuffers: Bool = false) {
        registers.withLock { r in
            r.lastError = error
            r.status |= VirtioDeviceStatus.needsReset.rawValue
            r.interruptStatus |= VirtioInterrupt.configurationChange
            if usedBuffers { r.interruptStatus |= VirtioInterrupt.usedBuffer }
            r.configGeneration &+= 1
        }
        interrupt.trigger()
    }

    /// Runs `body` with both locks held, in their order (for saving and restoring state),
    /// ahead of queue service.
    func withState<R>(_ body: (inout [SplitVirtqueue?], inout Registers) -> R) -> R {
        control { queues.withLock { queues in registers.withLock { r in body(&queues, &r) } } }
    }

    // MARK: MMIODevice

    /// Reads a register (4-byte accesses only; others read as zero) or, from offset 0x100, the
    /// backend's configuration space. Unknown and write-only registers read as zero.
    public func read(address: UInt64, offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        for i in data.indices { data[i] = 0 }
        if offset >= VirtioMMIORegister.config {
            backend.readConfig(offset: offset - VirtioMMIORegister.config, into: data)
            return
        }
        guard data.count == 4 else { return }  // registers are 32-bit only
        let value: UInt32 = registers.withLock { r in
            let selected = Int(r.queueSelect)
            let queue = r.queues.indices.contains(selected) ? r.queues[selected] : nil
            switch offset {
            case VirtioMMIORegister.magicValue: return VirtioMMIORegister.magic
            case VirtioMMIORegister.version: return 2
            case VirtioMMIORegister.deviceID: return backend.deviceID
            case VirtioMMIORegister.vendorID: return 0x554d_4551  // "QEMU", what Linux guests expect
            case VirtioMMIORegister.deviceFeatures:
                return r.deviceFeaturesSelect < 2
                    ? UInt32(truncatingIfNeeded: offeredFeatures >> (32 * UInt64(r.deviceFeaturesSelect))) : 0
            case VirtioMMIORegister.queueSizeMax:
                return r.queues.indices.contains(selected) ? UInt32(backend.queueSizeMax[selected]) : 0
            case VirtioMMIORegister.queueReady: return queue?.ready == true ? 1 : 0
            case VirtioMMIORegister.interruptStatus: return r.interruptStatus
            case VirtioMMIORegister.status: return r.status
            case VirtioMMIORegister.configGeneration: return r.configGeneration
            default: return 0
            }
        }
        data.storeBytes(of: value.littleEndian, as: UInt32.self)
    }

    /// Writes a register (4-byte accesses only; others, and writes to the configuration space, are
    /// ignored). Queue registers change only while the selected queue is not ready; driver features
    /// only until `FEATURES_OK`. `QueueReady` validates and starts the queue; `Status` 0 resets the
    /// device.
    public func write(address: UInt64, offset: UInt64, from data: UnsafeRawBufferPointer) {
        if offset >= VirtioMMIORegister.config {
            backend.writeConfig(offset: offset - VirtioMMIORegister.config, from: data)
            return
        }
        guard data.count == 4 else { return }  // registers are 32-bit only
        let value = UInt32(littleEndian: data.loadUnaligned(as: UInt32.self))
        switch offset {
        case VirtioMMIORegister.queueNotify:
            if inline.load(ordering: .relaxed) { serveInline() } else { queueNotify.trigger() }
        case VirtioMMIORegister.status:
            writeStatus(value)
        case VirtioMMIORegister.queueReady:
            setQueueReady(value == 1)
        case VirtioMMIORegister.queueSize where value > UInt32(UInt16.max):
            // Refused, not cut to 16 bits (0x10004 is not 4): a driver error.
            fail(.invalidSize(value))
        default:
            registers.withLock { r in Self.writeRegister(offset, value, &r) }
        }
    }

    /// Plain register writes (no queue state changes).
    private static func writeRegister(_ offset: UInt64, _ value: UInt32, _ r: inout Registers) {
        let selected = Int(r.queueSelect)
        let queueWritable = r.queues.indices.contains(selected) && !r.queues[selected].ready
        func setHalf(_ old: UInt64, high: Bool) -> UInt64 {
            high ? (old & 0xffff_ffff) | UInt64(value) << 32 : (old & ~0xffff_ffff) | UInt64(value)
        }
        switch offset {
        case VirtioMMIORegister.deviceFeaturesSelect: r.deviceFeaturesSelect = value
        case VirtioMMIORegister.driverFeaturesSelect: r.driverFeaturesSelect = value
        case VirtioMMIORegister.driverFeatures:
            // Features are frozen once FEATURES_OK is set.
            guard r.status & VirtioDeviceStatus.featuresOK.rawValue == 0, r.driverFeaturesSelect < 2 else { return }
            r.driverFeatures = setHalf(r.driverFeatures, high: r.driverFeaturesSelect == 1)
        case VirtioMMIORegister.queueSelect: r.queueSelect = value
        case VirtioMMIORegister.queueSize where queueWritable:
            r.queues[selected].size = UInt16(value)  // larger values are refused in write(address:offset:from:)
        case VirtioMMIORegister.queueDescriptorLow where queueWritable,
            VirtioMMIORegister.queueDescriptorHigh where queueWritable:
            r.queues[selected].descriptor = setHalf(
                r.queues[selected].descriptor, high: offset == VirtioMMIORegister.queueDescriptorHigh)
        case VirtioMMIORegister.queueDriverLow where queueWritable,
            VirtioMMIORegister.queueDriverHigh where queueWritable:
            r.queues[selected].driver = setHalf(
                r.queues[selected].driver, high: offset == VirtioMMIORegister.queueDriverHigh)
        case VirtioMMIORegister.queueDeviceLow where queueWritable,
            VirtioMMIORegister.queueDeviceHigh where queueWritable:
            r.queues[selected].device = setHalf(
                r.queues[selected].device, high: offset == VirtioMMIORegister.queueDeviceHigh)
        case VirtioMMIORegister.interruptAcknowledge: r.interruptStatus &= ~value
        default: break
        }
    }

    /// `Status` writes: 0 resets the device; setting `FEATURES_OK` succeeds only if the driver
    /// accepted a subset of the offered features including `VIRTIO_F_VERSION_1`.
    private func writeStatus(_ value: UInt32) {
        defer { if value == 0 { backend.driverReset() } }
        control {
            queues.withLock { queues in
                registers.withLock { r in
                    if value == 0 {
                        for i in queues.indices { queues[i] = nil }
                        r = Registers(queues: [QueueRegisters](repeating: QueueRegisters(), count: queues.count))
                        return
                    }
                    var new = value | (r.status & VirtioDeviceStatus.needsReset.rawValue)
                    let settingFeaturesOK =
                        new & VirtioDeviceStatus.featuresOK.rawValue != 0
                        && r.status & VirtioDeviceStatus.featuresOK.rawValue == 0
                    if settingFeaturesOK {
                        let offered = offeredFeatures
                        let accepted =
                            r.driverFeatures & ~offered == 0 && r.driverFeatures & VirtioFeature.version1 != 0
                        if !accepted { new &= ~VirtioDeviceStatus.featuresOK.rawValue }
                    }
                    r.status = new
                }
            }
        }
    }

    /// `QueueReady` writes: 1 validates the selected queue's size and ring addresses and
    /// starts it (or enters `DEVICE_NEEDS_RESET`); 0 stops it.
    private func setQueueReady(_ ready: Bool) {
        var failure: VirtqueueError?
        control {
            queues.withLock { queues in
                registers.withLock { r in
                    let selected = Int(r.queueSelect)
                    guard r.queues.indices.contains(selected) else { return }
                    guard ready else {
                        r.queues[selected].ready = false
                        queues[selected] = nil
                        return
                    }
                    let q = r.queues[selected]
                    do throws(VirtqueueError) {
                        queues[selected] = try SplitVirtqueue(
                            size: q.size, maxSize: backend.queueSizeMax[selected], descriptorTable: q.descriptor,
                            availableRing: q.driver, usedRing: q.device,
                            negotiatedFeatures: r.driverFeatures, memory: memory)
                        // A loop already polling: the new queue starts with notifications off.
                        if !wantsNotifications(selected) {
                            try queues[selected]?.setNotifications(false, memory: memory)
                        }
                        r.queues[selected].ready = true
                    } catch {
                        failure = error
                    }
                }
            }
        }
        if let failure { fail(failure) }
    }
}

/// How a transport's queues are served.
public enum VirtioQueueService: String, Sendable, Hashable, Codable, CaseIterable {
    /// On an `EventLoop` (`loop.serve(transport)`), woken by the ioeventfd or polling.
    case eventLoop
    /// On the vCPU thread, in the MMIO exit of the `QueueNotify` write (no ioeventfd).
    case inline
}

/// Counts of a transport's work.
public struct VirtioTransportStatistics: Sendable, Hashable {
    /// Descriptor chains served and returned in a used ring.
    public var chainsServed: UInt64
    /// Passes over a queue that completed at least one chain (each publishes its used elements
    /// with one store of `used.idx` and raises at most one interrupt).
    public var batches: UInt64
    /// Notifications taken: eventfd signals read by the loop's handler (several guest notifies
    /// may merge into one), or `QueueNotify` writes served inline.
    public var notifications: UInt64
    /// Used-buffer interrupts raised.
    public var interrupts: UInt64
}

extension VirtioMMIOTransport: EventDrivenDevice {
    /// ``queueNotify`` (the ioeventfd), served by ``processQueues()``, with a poller
    /// (``hasPendingChains``, notifications switched by ``setNotifications(_:)``); then the
    /// backend's own sources (``VirtioDeviceBackend/eventSources``).
    public var eventSources: [DeviceEventSource] {
        [
            DeviceEventSource(
                name: "virtio queue notify", descriptor: queueNotify.fileDescriptor,
                poller: EventLoop.Poller(
                    poll: { [self] in hasPendingChains }, setNotifications: { [self] on in setNotifications(on) })
            ) { [self] events in
                if !events.contains(.polled) {
                    guard let count = try? queueNotify.read(), count > 0 else { return }
                    notifications.add(1, ordering: .relaxed)
                }
                processQueues()
            }
        ] + backend.eventSources
    }
}

extension VirtioMMIOTransport: VirtioQueueAccess {
    /// Takes chains of a device-driven queue for the backend; see
    /// ``VirtioQueueAccess/takeChains(queue:_:)``. On a queue the transport serves itself, the
    /// backend's chains would race its passes: nothing is taken there.
    @discardableResult
    public func takeChains(queue index: Int, _ body: (DescriptorChain, any GuestMemoryAccess) -> UInt32?) -> Int {
        guard isDeviceDriven(index) else { return 0 }
        let pass = serveQueue(index, memory: memory) { chain, memory in
            body(chain, memory).map { .last($0) } ?? .giveBack
        }
        // Left behind (its budget used up, or a control operation waiting): come back for it.
        if pass.leftBehind { queueNotify.trigger() }
        return pass.completed
    }

    /// Takes chains in groups for the backend; see
    /// ``VirtioQueueAccess/takeChainGroups(queue:_:)``.
    @discardableResult
    public func takeChainGroups(
        queue index: Int, _ body: (DescriptorChain, any GuestMemoryAccess) -> ChainGroupStep
    ) -> ChainGroupOutcome {
        guard isDeviceDriven(index) else { return ChainGroupOutcome(completedChains: 0, undoneGroup: false) }
        let pass = serveQueue(index, memory: memory) { chain, memory in body(chain, memory) }
        if pass.leftBehind { queueNotify.trigger() }
        return ChainGroupOutcome(completedChains: pass.completed, undoneGroup: pass.undoneGroup)
    }

    /// Sets the configuration-change bit of the interrupt status, advances `ConfigGeneration`
    /// and interrupts the driver.
    public func signalConfigurationChange() {
        registers.withLock { r in
            r.interruptStatus |= VirtioInterrupt.configurationChange
            r.configGeneration &+= 1
        }
        interrupt.trigger()
    }

    /// Whether the driver set `DRIVER_OK` and the device does not need a reset.
    public var isDriverReady: Bool {
        let status = self.status
        return status.contains(.driverOK) && !status.contains(.needsReset)
    }
}
