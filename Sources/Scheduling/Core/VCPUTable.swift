/// The vCPUs a policy knows: a dense slot per vCPU (handles for ``IndexedHeap``), its state,
/// its parameters and the policy's own per-vCPU data. Slots of removed vCPUs are reused
/// lowest-first, so the layout depends only on the sequence of operations.
struct VCPUTable<Payload: Sendable>: Sendable {
    private var slotOf: [VCPUID: Int] = [:]
    private(set) var ids: [VCPUID] = []
    private(set) var states: [VCPURunState] = []
    private(set) var parameters: [SchedulingParameters] = []
    var payloads: [Payload] = []
    private var freeSlots = IndexedHeap<Int>()

    /// Number of live vCPUs.
    var count: Int { slotOf.count }

    /// Adds a vCPU in the blocked state and returns its slot.
    mutating func insert(
        _ id: VCPUID, parameters: SchedulingParameters, payload: Payload
    ) throws(SchedulerError) -> Int {
        guard slotOf[id] == nil else { throw .duplicateVCPU(id) }
        let slot: Int
        if let free = freeSlots.popMin() {
            slot = free.handle
            ids[slot] = id
            states[slot] = .blocked
            self.parameters[slot] = parameters
            payloads[slot] = payload
        } else {
            slot = ids.count
            ids.append(id)
            states.append(.blocked)
            self.parameters.append(parameters)
            payloads.append(payload)
        }
        slotOf[id] = slot
        return slot
    }

    /// Removes a vCPU that is not running and returns its former slot.
    mutating func remove(_ id: VCPUID) throws(SchedulerError) -> Int {
        let slot = try self.slot(of: id)
        guard states[slot] != .running else {
            throw .invalidTransition(id, operation: "remove", state: .running)
        }
        slotOf[id] = nil
        states[slot] = .blocked
        freeSlots.set(slot, key: slot)
        return slot
    }

    func slot(of id: VCPUID) throws(SchedulerError) -> Int {
        guard let slot = slotOf[id] else { throw .unknownVCPU(id) }
        return slot
    }

    func lookup(_ id: VCPUID) -> Int? { slotOf[id] }

    func state(of id: VCPUID) -> VCPURunState? { slotOf[id].map { states[$0] } }

    /// Checks that `id` is in state `from`, moves it to `to` and returns its slot.
    @discardableResult
    mutating func transition(
        _ id: VCPUID, _ operation: String, from: VCPURunState, to: VCPURunState
    ) throws(SchedulerError) -> Int {
        let slot = try self.slot(of: id)
        guard states[slot] == from else {
            throw .invalidTransition(id, operation: operation, state: states[slot])
        }
        states[slot] = to
        return slot
    }

    /// Marks a picked slot running and returns the decision for it.
    mutating func startRunning(_ slot: Int, slice: Nanoseconds) -> SchedulingDecision {
        states[slot] = .running
        return SchedulingDecision(vcpu: ids[slot], slice: slice)
    }

    /// Checks that `id` is running and moves it to runnable (`.preempted`) or blocked; returns
    /// its slot.
    mutating func stopRunning(_ id: VCPUID, outcome: SliceOutcome) throws(SchedulerError) -> Int {
        try transition(id, "account", from: .running, to: outcome == .preempted ? .runnable : .blocked)
    }
}
