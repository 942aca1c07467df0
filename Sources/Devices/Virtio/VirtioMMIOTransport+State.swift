/// The saved state of a ``VirtioMMIOTransport``: its registers and, for every queue, the ring
/// positions the device had reached. The rings themselves live in guest memory, saved with it.
public struct VirtioMMIOTransportState: Codable, Hashable, Sendable {
    /// One queue's registers and ring positions.
    public struct Queue: Codable, Hashable, Sendable {
        /// The queue size the driver chose.
        public var size: UInt16
        /// Whether the queue was started (`QueueReady`).
        public var ready: Bool
        /// Guest address of the descriptor table.
        public var descriptorTable: UInt64
        /// Guest address of the available ring.
        public var availableRing: UInt64
        /// Guest address of the used ring.
        public var usedRing: UInt64
        /// The next available-ring index the device would read (0 for a queue not running).
        public var nextAvailable: UInt16
        /// The next used-ring index the device would write (0 for a queue not running).
        public var nextUsed: UInt16
    }

    /// The `DeviceFeaturesSel` register.
    public var deviceFeaturesSelect: UInt32
    /// The `DriverFeaturesSel` register.
    public var driverFeaturesSelect: UInt32
    /// The features the driver accepted (both halves).
    public var driverFeatures: UInt64
    /// The `QueueSel` register.
    public var queueSelect: UInt32
    /// The device status register.
    public var status: UInt32
    /// The interrupt status register.
    public var interruptStatus: UInt32
    /// The `ConfigGeneration` register.
    public var configGeneration: UInt32
    /// Every queue of the device, in queue order.
    public var queues: [Queue]
}

extension VirtioMMIOTransport {
    /// Captures the registers and queue positions. Take it with the vCPUs paused and the queue
    /// worker stopped, so that no request is in flight.
    public func saveState() -> VirtioMMIOTransportState {
        withState { queues, r in
            VirtioMMIOTransportState(
                deviceFeaturesSelect: r.deviceFeaturesSelect, driverFeaturesSelect: r.driverFeaturesSelect,
                driverFeatures: r.driverFeatures, queueSelect: r.queueSelect, status: r.status,
                interruptStatus: r.interruptStatus, configGeneration: r.configGeneration,
                queues: r.queues.indices.map { i in
                    let q = r.queues[i]
                    return VirtioMMIOTransportState.Queue(
                        size: q.size, ready: q.ready, descriptorTable: q.descriptor, availableRing: q.driver,
                        usedRing: q.device, nextAvailable: queues[i]?.nextAvailable ?? 0,
                        nextUsed: queues[i]?.nextUsed ?? 0)
                })
        }
    }

    /// Restores a saved state into this (new) transport over the restored guest memory. Every
    /// ready queue is validated again exactly as when a driver sets `QueueReady`, so a damaged
    /// or forged state cannot point the device outside guest memory.
    ///
    /// - Throws: ``VirtqueueError/invalidSize(_:)`` (carrying the saved queue count) when the state
    ///   has another number of queues than the backend, or the error of a ready queue that fails
    ///   validation; nothing is changed then.
    public func restoreState(_ state: VirtioMMIOTransportState) throws(VirtqueueError) {
        let maxSizes = backend.queueSizeMax
        guard state.queues.count == maxSizes.count else {
            throw .invalidSize(UInt32(truncatingIfNeeded: state.queues.count))
        }
        var restored: [SplitVirtqueue?] = []
        for (i, q) in state.queues.enumerated() {
            guard q.ready else {
                restored.append(nil)
                continue
            }
            var queue = try SplitVirtqueue(
                size: q.size, maxSize: maxSizes[i], descriptorTable: q.descriptorTable, availableRing: q.availableRing,
                usedRing: q.usedRing, negotiatedFeatures: state.driverFeatures, memory: memory)
            queue.resume(nextAvailable: q.nextAvailable, nextUsed: q.nextUsed)
            restored.append(queue)
        }
        withState { queues, r in
            queues = restored
            // Notifications as this transport wants them now (a snapshot taken while a loop
            // polled must not leave the driver silent).
            for (index, queue) in restored.enumerated() {
                try? queue?.setNotifications(wantsNotifications(index), memory: memory)
            }
            r.deviceFeaturesSelect = state.deviceFeaturesSelect
            r.driverFeaturesSelect = state.driverFeaturesSelect
            r.driverFeatures = state.driverFeatures
            r.queueSelect = state.queueSelect
            r.status = state.status
            r.interruptStatus = state.interruptStatus
            r.configGeneration = state.configGeneration
            r.lastError = nil
            r.queues = state.queues.map {
                QueueRegisters(
                    size: $0.size, ready: $0.ready, descriptor: $0.descriptorTable, driver: $0.availableRing,
                    device: $0.usedRing)
            }
        }
    }
}
