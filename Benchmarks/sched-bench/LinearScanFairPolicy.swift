import VCPUScheduler

/// The baseline: a weighted fair-share policy (stride scheduling: run the runnable vCPU with
/// the smallest virtual runtime) that keeps its vCPUs in an array and scans all of them on
/// every pick — O(n) per decision, the naive implementation.
struct LinearScanFairPolicy: SchedulingPolicy {
    struct Entry {
        var id: VCPUID
        var weight: UInt64
        var vruntime: UInt64 = 0
        var state: VCPURunState = .blocked
    }

    let slice: Nanoseconds
    var entries: [Entry] = []

    init(slice: Nanoseconds) { self.slice = slice }

    var name: String { "linear-scan fair (baseline)" }

    private func index(_ id: VCPUID) throws(SchedulerError) -> Int {
        guard let i = entries.firstIndex(where: { $0.id == id }) else { throw .unknownVCPU(id) }
        return i
    }

    private mutating func move(_ id: VCPUID, _ op: String, from: VCPURunState, to: VCPURunState)
        throws(SchedulerError) -> Int
    {
        let i = try index(id)
        guard entries[i].state == from else { throw .invalidTransition(id, operation: op, state: entries[i].state) }
        entries[i].state = to
        return i
    }

    mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds) throws(SchedulerError) {
        guard entries.allSatisfy({ $0.id != vcpu }) else { throw .duplicateVCPU(vcpu) }
        let floor = entries.filter { $0.state != .blocked }.map(\.vruntime).min() ?? 0
        entries.append(Entry(id: vcpu, weight: UInt64(parameters.weight.value), vruntime: floor))
    }

    mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        entries.remove(at: try index(vcpu))
    }

    mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        _ = try move(vcpu, "wake", from: .blocked, to: .runnable)
    }

    mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        _ = try move(vcpu, "block", from: .runnable, to: .blocked)
    }

    mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? {
        var best = -1
        for i in entries.indices where entries[i].state == .runnable {
            if best < 0 || entries[i].vruntime < entries[best].vruntime { best = i }
        }
        guard best >= 0 else { return nil }
        entries[best].state = .running
        return SchedulingDecision(vcpu: entries[best].id, slice: slice)
    }

    mutating func account(_ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome)
        throws(SchedulerError)
    {
        // The scan to find the vCPU is part of the naive design too.
        let i = try move(vcpu, "account", from: .running, to: outcome == .preempted ? .runnable : .blocked)
        entries[i].vruntime &+= ran * 1024 / entries[i].weight
    }

    mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool { false }

    func nextEventTime(after now: Nanoseconds) -> Nanoseconds? { nil }

    func entitlement(of vcpu: VCPUID) -> Entitlement? {
        entries.first { $0.id == vcpu }.map { Entitlement(weight: Double($0.weight)) }
    }

    func state(of vcpu: VCPUID) -> VCPURunState? { entries.first { $0.id == vcpu }?.state }
}
