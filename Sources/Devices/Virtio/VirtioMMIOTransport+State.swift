/// The saved state of a ``VirtioMMIOTransport``: its registers and, for every queue, the ring
/// positions the device had reached. The rings themselves live in guest memory, saved with it.
public struct VirtioMMIOTransportState: Codable, Hashable, Sendable {
    /// One queue's registers and ring positions.
    public struct Queue: Codable, Hashable, Sendable {
        public var size: UInt16
        public var ready: Bool
        public var descriptorTable: UInt64
        public var availableRing: UInt64
        public var usedRing: UInt64
        public var nextAvailable: UInt16
        public var nextUsed: UInt16
    }

    public var deviceFeaturesSelect: UInt32
    public var driverFeaturesSelect: UInt32
    public var driverFeatures: UInt64
    public var queueSelect: UInt32
    public var status: UInt32
    public var interruptStatus: UInt32
    public var configGeneration: UInt32
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
                        usedRing: q.device, nextAvailable: queues[i]?.nextAvailable ?? 0, nextUsed: queues[i]?.nextUsed ?? 0)
                })
        }
    }

    /// Restores a saved state into this (new) transport over the restored guest memory. Every
    /// ready queue is validated again exactly as when a driver sets `QueueReady`, so a damaged
    /// or forged state cannot point the device outside guest memory.
    public func restoreState(_ state: VirtioMMIOTransportState) throws(VirtqueueError) {
        let maxSizes = backend.queueSizeMax
        guard state.queues.count == maxSizes.count else { throw .invalidSize(UInt16(truncatingIfNeeded: state.queues.count)) }
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
            r.deviceFeaturesSelect = state.deviceFeaturesSelect
            r.driverFeaturesSelect = state.driverFeaturesSelect
            r.driverFeatures = state.driverFeatures
            r.queueSelect = state.queueSelect
            r.status = state.status
            r.interruptStatus = state.interruptStatus
            r.configGeneration = state.configGeneration
            r.lastError = nil
            r.queues = state.queues.map {
                QueueRegisters(size: $0.size, ready: $0.ready, descriptor: $0.descriptorTable, driver: $0.availableRing, device: $0.usedRing)
            }
        }
    }
}
