/// Round robin with a fixed time slice: runnable vCPUs run in FIFO order, each for at most
/// one slice, then go to the back of the queue. Priorities and weights are ignored; a woken
/// vCPU never preempts a running one.
///
/// It is ``PriorityAgingPolicy`` with every priority equal (the FIFO order of equal ranks),
/// so both share one run-queue implementation.
public struct RoundRobinPolicy: SchedulingPolicy {
    private var fifo: PriorityAgingPolicy

    /// Round robin with `timeSlice` (for example 30 ms as Xen credit, or a few ms).
    public init(timeSlice: Nanoseconds) throws(SchedulerError) {
        fifo = try PriorityAgingPolicy(
            timeSlice: timeSlice, agingInterval: 1, preemptsOnWake: false,
            name: "round-robin \(formatDuration(timeSlice))")
    }

    /// The slice every vCPU gets.
    public var timeSlice: Nanoseconds { fifo.timeSlice }
    public var name: String { fifo.name }
    /// Number of vCPUs waiting on the run queue.
    public var runnableCount: Int { fifo.runnableCount }

    public mutating func add(_ vcpu: VCPUID, parameters: SchedulingParameters, at now: Nanoseconds)
        throws(SchedulerError)
    {
        var equal = parameters
        equal.priority = 0
        try fifo.add(vcpu, parameters: equal, at: now)
    }

    public mutating func remove(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try fifo.remove(vcpu, at: now)
    }

    public mutating func wake(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try fifo.wake(vcpu, at: now)
    }

    public mutating func block(_ vcpu: VCPUID, at now: Nanoseconds) throws(SchedulerError) {
        try fifo.block(vcpu, at: now)
    }

    public mutating func pickNext(at now: Nanoseconds) -> SchedulingDecision? { fifo.pickNext(at: now) }

    public mutating func account(
        _ vcpu: VCPUID, ran: Nanoseconds, at now: Nanoseconds, outcome: SliceOutcome
    ) throws(SchedulerError) {
        try fifo.account(vcpu, ran: ran, at: now, outcome: outcome)
    }

    public mutating func shouldPreempt(_ vcpu: VCPUID, ranFor: Nanoseconds, at now: Nanoseconds) -> Bool {
        false
    }

    public func nextEventTime(after now: Nanoseconds) -> Nanoseconds? { nil }

    /// Every vCPU is entitled to an equal share.
    public func entitlement(of vcpu: VCPUID) -> Entitlement? { fifo.entitlement(of: vcpu) }

    public func state(of vcpu: VCPUID) -> VCPURunState? { fifo.state(of: vcpu) }
}
